//! Inputs the fuzz targets (fuzz/, tests/FUZZING.md) found crashing, reduced to what triggers them.
use polyprompt::model::tokenizer::{TextTokenizer, TokenizeError};

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

fn xglm_tokenizer_with_charsmap(charsmap: serde_json::Value) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny-xglm/tokenizer.json");
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let precompiled = &mut json["normalizer"]["normalizers"][0];
    assert_eq!(precompiled["type"], "Precompiled");
    precompiled["precompiled_charsmap"] = charsmap;
    serde_json::to_vec(&json).unwrap()
}

fn fixture_charsmap() -> Vec<u8> {
    use base64::Engine;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny-xglm/tokenizer.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let text = json["normalizer"]["normalizers"][0]["precompiled_charsmap"].as_str().unwrap();
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

fn base64(bytes: &[u8]) -> serde_json::Value {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes).into()
}

/// tokenizer_json, crash-3ffe559b…: tokenizers panics (`expect("Precompiled")`) on a Precompiled
/// normalizer it cannot parse, and spm_precompiled allocates whatever trie length the charsmap claims and
/// later indexes the trie unchecked. Each of these is now a load error naming the charsmap.
#[test]
fn a_malformed_precompiled_normalizer_is_an_error_not_a_panic() {
    let real = fixture_charsmap();
    let mut huge_claim = real.clone();
    huge_claim[..4].copy_from_slice(&u32::MAX.to_le_bytes());
    // The first half of its 256 trie units, then its normalized strings: children lie past the end.
    let trie_bytes = u32::from_le_bytes(real[..4].try_into().unwrap()) as usize;
    let short_trie =
        [&((trie_bytes / 2) as u32).to_le_bytes()[..], &real[4..4 + trie_bytes / 2], &real[4 + trie_bytes..]].concat();
    let mut bad_root = real.clone();
    bad_root[4..8].copy_from_slice(&u32::MAX.to_le_bytes()); // the root's offset points far outside
    let cases = [
        (serde_json::json!([1, 2, 3]), "no precompiled_charsmap string"),
        (serde_json::json!("not base64!"), "is not base64"),
        (base64(&real[..3]), "shorter than its 4-byte header"),
        (base64(&huge_claim), "claims a"),
        (base64(&short_trie), "outside its trie"),
        (base64(&bad_root), "outside its trie"),
    ];
    for (charsmap, expected) in cases {
        match TextTokenizer::from_bytes(&xglm_tokenizer_with_charsmap(charsmap)) {
            Err(TokenizeError::Load(message)) => assert!(message.contains(expected), "{expected}: {message}"),
            Err(other) => panic!("{expected}: {other}"),
            Ok(_) => panic!("{expected}: loaded"),
        }
    }
    // tokenizers takes an object with an unknown "type" by its fields: the charsmap is checked all the same.
    let mut json: serde_json::Value = serde_json::from_slice(&xglm_tokenizer_with_charsmap(base64(&bad_root))).unwrap();
    json["normalizer"]["normalizers"][0]["type"] = "Precompiled~".into();
    let message = TextTokenizer::from_bytes(&serde_json::to_vec(&json).unwrap()).err().map(|e| e.to_string());
    assert!(message.as_deref().is_some_and(|m| m.contains("outside its trie")), "{message:?}");
    let unchanged = TextTokenizer::from_bytes(&xglm_tokenizer_with_charsmap(base64(&real))).unwrap();
    assert!(!unchanged.encode("Ｆｕｌｌｗｉｄｔｈ text").unwrap().is_empty());
}

/// tokenizer_json, crash-76873bf5…: tokenizers builds a TemplateProcessing post-processor from JSON without
/// its builder's checks, then panics encoding with special tokens ("no entry found for key") when the
/// template names a special token the processor does not define. Likewise a single-sentence template
/// asking for a second sentence, or a special token with more ids than tokens.
#[test]
fn a_template_post_processor_that_does_not_add_up_is_an_error_not_a_panic() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny-xglm/tokenizer.json");
    let original: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(original["post_processor"]["type"], "TemplateProcessing");
    let altered = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut json = original.clone();
        change(&mut json["post_processor"]);
        serde_json::to_vec(&json).unwrap()
    };
    type Change<'a> = &'a dyn Fn(&mut serde_json::Value);
    let cases: [(Change, &str); 4] = [
        (
            &|p| p["single"][0]["SpecialToken"]["id"] = "<t>".into(),
            "uses special token \"<t>\", which it does not define",
        ),
        // The crash's own input: tokenizers still takes an unknown "type" with these fields as a template.
        (
            &|p| {
                p["type"] = "TemplateProcessi~g".into();
                p["single"][0]["SpecialToken"]["id"] = "<s>>".into();
            },
            "uses special token \"<s>>\"",
        ),
        (&|p| p["single"][1]["Sequence"]["id"] = "B".into(), "single-sentence template asks for a second sentence"),
        (&|p| p["special_tokens"]["</s>"]["ids"] = serde_json::json!([2, 3]), "different number of ids and tokens"),
    ];
    for (change, expected) in cases {
        match TextTokenizer::from_bytes(&altered(change)) {
            Err(TokenizeError::Load(message)) => assert!(message.contains(expected), "{expected}: {message}"),
            Err(other) => panic!("{expected}: {other}"),
            Ok(_) => panic!("{expected}: loaded"),
        }
    }
    let unchanged = TextTokenizer::from_bytes(&altered(&|_| {})).unwrap();
    assert_eq!(unchanged.encode_with_special_tokens("hello").unwrap()[0], 2, "XGLM prepends </s>");
}
