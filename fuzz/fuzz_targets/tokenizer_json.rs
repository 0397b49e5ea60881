//! tokenizer.json: loading, the check against the model, then encoding the label words and a sentence
//! (a loaded tokenizer's normalizer, regexes and merges run on real text). The first byte picks the
//! config. A tokenizer that passes the check must never give an id past the model's embedding table.
#![no_main]
use libfuzzer_sys::fuzz_target;
use polyprompt::model::tokenizer::TextTokenizer;
use polyprompt::task::labels::{Task, label_tokens};
use polyprompt_fuzz::fixture_config;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, file)) = data.split_first() else { return };
    let config = fixture_config(selector);
    let Ok(tokenizer) = TextTokenizer::from_bytes(file) else { return };
    if tokenizer.check_against(&config).is_err() {
        return;
    }
    let mut ids: Vec<u32> = label_tokens(&tokenizer, &Task::Sib200.labels(config.family))
        .map(|labels| labels.into_iter().flat_map(|l| l.ids).collect())
        .unwrap_or_default();
    ids.extend(tokenizer.encode_with_special_tokens("Le « modèle » 3,5 km — 東京 ok.").unwrap_or_default());
    assert!(ids.iter().all(|&id| (id as usize) < config.vocab_size), "{ids:?} past vocab {}", config.vocab_size);
});
