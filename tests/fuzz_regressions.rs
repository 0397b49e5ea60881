//! Inputs the fuzz targets (fuzz/, tests/FUZZING.md) found crashing, reduced to what triggers them.
use polyprompt::tokenize::{TextTokenizer, TokenizeError};

fn bloom_tokenizer() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny-bloom/tokenizer.json")).unwrap()
}

/// tokenizer_json, crash-f5842600…: one byte of the decoder's `add_prefix_space` key changed to 0xFF made
/// tokenizers panic ("Helper: invalid unicode code point"); so did a file cut off inside the decoder.
#[test]
fn a_tokenizer_json_broken_inside_its_decoder_is_an_error_not_a_panic() {
    let json = bloom_tokenizer();
    let decoder = json.find("\"decoder\"").unwrap();
    let key = decoder + json[decoder..].find("add_prefix_space").unwrap();
    let mut invalid_utf8 = json.clone().into_bytes();
    invalid_utf8[key + 3] = 0xFF;
    let cut_in_decoder = &json.as_bytes()[..key];
    for bytes in [&invalid_utf8[..], cut_in_decoder] {
        assert!(matches!(TextTokenizer::from_bytes(bytes), Err(TokenizeError::Load(_))));
    }
}
