//! The hub's `tokenizer.json`, loaded with Hugging Face's `tokenizers` (natively and in wasm), with the
//! conventions transformers applies per family.
use serde::Deserialize;
use tokenizers::Tokenizer;

#[cfg(test)]
use super::config::Family;
use super::config::ModelConfig;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TokenizeError {
    #[error("tokenizer.json could not be read ({0}): re-download it, or pick the tokenizer.json of the model")]
    Load(String),
    #[error("encoding failed: {0}")]
    Encode(String),
    #[error(
        "this tokenizer has token ids up to {largest_id} but the model's vocabulary has {model} tokens: the \
         tokenizer belongs to another model — use the tokenizer.json from the same repository as the weights"
    )]
    VocabularyTooLarge { largest_id: usize, model: usize },
    #[error(
        "the tokenizer's {token} is id {tokenizer:?} but the model's config says {model}: the tokenizer \
         belongs to another model — use the tokenizer.json from the same repository as the weights"
    )]
    SpecialTokenMismatch { token: &'static str, tokenizer: Option<u32>, model: u32 },
    #[error("label word \"{0}\" encodes to no token: give the class a word of at least one letter")]
    EmptyLabel(String),
}

pub struct TextTokenizer {
    inner: Tokenizer,
}

impl TextTokenizer {
    pub fn from_bytes(bytes: &[u8]) -> Result<TextTokenizer, TokenizeError> {
        // tokenizers 0.22 panics (`expect("Helper")`) on any error inside the `decoder` section, invalid
        // UTF-8 or broken JSON included: check both first, without building anything.
        let text = std::str::from_utf8(bytes).map_err(|e| TokenizeError::Load(format!("not UTF-8 text: {e}")))?;
        let json: serde_json::Value = serde_json::from_str(text).map_err(|e| TokenizeError::Load(e.to_string()))?;
        if let Some(normalizer) = json.get("normalizer") {
            check_precompiled_normalizers(normalizer).map_err(TokenizeError::Load)?;
        }
        if let Some(post_processor) = json.get("post_processor") {
            check_template_processors(post_processor).map_err(TokenizeError::Load)?;
        }
        let inner = Tokenizer::from_bytes(bytes).map_err(|e| TokenizeError::Load(e.to_string()))?;
        Ok(TextTokenizer { inner })
    }

    /// Ids of `text` without special tokens: how the paper's code encodes sentences and label words.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizeError> {
        self.encode_with(text, false)
    }

    /// Ids as transformers' tokenizer gives them by default (XGLM prepends `</s>`; BLOOM adds nothing).
    pub fn encode_with_special_tokens(&self, text: &str) -> Result<Vec<u32>, TokenizeError> {
        self.encode_with(text, true)
    }

    fn encode_with(&self, text: &str, special: bool) -> Result<Vec<u32>, TokenizeError> {
        let encoding = self.inner.encode(text, special).map_err(|e| TokenizeError::Encode(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizeError> {
        self.inner.decode(ids, true).map_err(|e| TokenizeError::Encode(e.to_string()))
    }

    /// Tokens including added ones (specials).
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The largest id the tokenizer can produce. Not [`Self::vocab_size`] − 1: an added token may carry
    /// any id, so a token count can fit the model while an id lies past its embedding table.
    fn largest_id(&self) -> Option<usize> {
        self.inner.get_vocab(true).into_values().max().map(|id| id as usize)
    }

    /// The model's embedding can be larger than the tokenizer (BLOOM pads 250680 to 250880) but never
    /// smaller, and the special ids must agree: otherwise this tokenizer belongs to another model.
    pub fn check_against(&self, config: &ModelConfig) -> Result<(), TokenizeError> {
        if let Some(largest_id) = self.largest_id().filter(|&id| id >= config.vocab_size) {
            return Err(TokenizeError::VocabularyTooLarge { largest_id, model: config.vocab_size });
        }
        for (token, model) in [("</s>", config.eos_token_id), ("<pad>", config.pad_token_id)] {
            let tokenizer = self.inner.token_to_id(token);
            if tokenizer != Some(model) {
                return Err(TokenizeError::SpecialTokenMismatch { token, tokenizer, model });
            }
        }
        Ok(())
    }
}

type JsonObject = serde_json::Map<String, serde_json::Value>;

/// Every JSON object within `section` that `keep` picks, however nested. tokenizers falls back to
/// matching a component by its fields when its `"type"` is unknown, so callers pick by fields too.
fn objects_where(section: &serde_json::Value, keep: impl Fn(&JsonObject) -> bool) -> Vec<&JsonObject> {
    use serde_json::Value;
    let mut found = Vec::new();
    let mut stack = vec![section];
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(fields) => {
                if keep(fields) {
                    found.push(fields);
                }
                stack.extend(fields.values());
            }
            _ => {}
        }
    }
    found
}

/// tokenizers 0.22 panics (`expect("Precompiled")`) on a `Precompiled` normalizer it cannot parse, and
/// spm_precompiled 0.1 trusts the charsmap it parses: its length claim is allocated up front, and its trie
/// is indexed unchecked when text is normalized. So every such normalizer (XGLM's tokenizer has one) is
/// parsed and walked here first.
fn check_precompiled_normalizers(normalizer: &serde_json::Value) -> Result<(), String> {
    let is_precompiled = |fields: &JsonObject| {
        fields.get("type").and_then(serde_json::Value::as_str) == Some("Precompiled")
            || fields.contains_key("precompiled_charsmap")
    };
    for fields in objects_where(normalizer, is_precompiled) {
        let charsmap = fields.get("precompiled_charsmap").and_then(serde_json::Value::as_str);
        check_charsmap(charsmap.ok_or("its Precompiled normalizer has no precompiled_charsmap string")?)
            .map_err(|e| format!("its Precompiled normalizer's charsmap {e}"))?;
        tokenizers::normalizers::Precompiled::deserialize(&serde_json::Value::Object(fields.clone()))
            .map_err(|e| format!("its Precompiled normalizer is invalid: {e}"))?;
    }
    Ok(())
}

/// tokenizers 0.22 builds a `TemplateProcessing` post-processor from JSON without the checks its builder
/// makes, then indexes by them when it encodes with special tokens (as XGLM's tokenizer does): a template
/// naming a special token the processor does not list, a single-sentence template with a second
/// sentence, or a special token with more ids than tokens panic there.
fn check_template_processors(post_processor: &serde_json::Value) -> Result<(), String> {
    let is_template =
        |fields: &JsonObject| ["single", "pair", "special_tokens"].iter().any(|key| fields.contains_key(*key));
    for fields in objects_where(post_processor, is_template) {
        let specials = fields.get("special_tokens").and_then(serde_json::Value::as_object);
        for (name, token) in specials.into_iter().flatten() {
            let count = |key: &str| token.get(key).and_then(serde_json::Value::as_array).map(Vec::len);
            if count("ids") != count("tokens") {
                return Err(format!(
                    "its post-processor's special token {name:?} has a different number of ids and tokens"
                ));
            }
        }
        for template in ["single", "pair"] {
            let pieces = fields.get(template).and_then(serde_json::Value::as_array);
            for piece in pieces.into_iter().flatten() {
                if let Some(id) = piece.pointer("/SpecialToken/id").and_then(serde_json::Value::as_str)
                    && !specials.is_some_and(|s| s.contains_key(id))
                {
                    return Err(format!(
                        "its post-processor's {template} template uses special token {id:?}, which it does not define"
                    ));
                }
                if template == "single"
                    && piece.pointer("/Sequence/id").and_then(serde_json::Value::as_str) == Some("B")
                {
                    return Err("its post-processor's single-sentence template asks for a second sentence".into());
                }
            }
        }
    }
    Ok(())
}

/// spm_precompiled's layout: a little-endian u32 byte length of the trie, the trie (a darts-clone double
/// array of u32 units), then the normalized strings. Walks every path text can take through the trie
/// (UTF-8 bytes, keys of at most 5 bytes: the library looks up graphemes shorter than 6 bytes, else single
/// characters) and checks each unit and each normalized-string offset the lookup would read.
fn check_charsmap(base64_text: &str) -> Result<(), String> {
    use base64::Engine;
    const MAX_KEY_BYTES: u8 = 5;
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(base64_text).map_err(|e| format!("is not base64: {e}"))?;
    let (length, rest) = bytes.split_first_chunk::<4>().ok_or("is shorter than its 4-byte header")?;
    let units = u32::from_le_bytes(*length) as usize / 4;
    if units == 0 || units * 4 > rest.len() {
        return Err(format!("claims a {}-byte trie in {} bytes", units * 4, rest.len()));
    }
    let (trie, normalized) = rest.split_at(units * 4);
    let normalized = std::str::from_utf8(normalized).map_err(|_| "has normalized strings that are not UTF-8")?;
    let unit = |i: usize| trie.get(i * 4..i * 4 + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap()) as usize);
    let offset = |u: usize| (u >> 10) << ((u & (1 << 9)) >> 6);
    let in_trie = |i: usize| unit(i).ok_or(format!("points outside its trie of {units} units"));
    let utf8_bytes = (0x01..=0xBFusize).chain(0xC2..=0xF4);

    // (unit index, bytes read to reach it); a unit already walked with as many bytes left is skipped.
    let mut fewest_bytes_read = std::collections::HashMap::new();
    let mut pending = vec![(offset(in_trie(0)?), 0u8)];
    while let Some((node, read)) = pending.pop() {
        if fewest_bytes_read.get(&node).is_some_and(|&seen| seen <= read) {
            continue;
        }
        fewest_bytes_read.insert(node, read);
        for byte in utf8_bytes.clone() {
            let child = node ^ byte;
            let child_unit = in_trie(child)?;
            if child_unit & ((1 << 31) | 0xFF) != byte {
                continue;
            }
            let next = child ^ offset(child_unit);
            if (child_unit >> 8) & 1 == 1 {
                let start = in_trie(next)? & ((1 << 31) - 1);
                if !normalized.is_char_boundary(start) {
                    return Err(format!("points at byte {start} of its {}-byte normalized strings", normalized.len()));
                }
            }
            if read + 1 < MAX_KEY_BYTES {
                pending.push((next, read + 1));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixture {
        family: Family,
        tokenizer: TextTokenizer,
        config: ModelConfig,
        reference: serde_json::Value,
    }

    fn fixture(name: &str) -> Fixture {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
        let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
        let config = ModelConfig::from_json(std::str::from_utf8(&read("config.json")).unwrap()).unwrap();
        Fixture {
            family: config.family,
            tokenizer: TextTokenizer::from_bytes(&read("tokenizer.json")).unwrap(),
            config,
            reference: serde_json::from_slice(&read("tokenize.json")).unwrap(),
        }
    }

    fn ids(value: &serde_json::Value) -> Vec<u32> {
        value.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect()
    }

    #[test]
    fn ids_match_transformers_for_both_families() {
        for name in ["tiny-xglm", "tiny-bloom"] {
            let f = fixture(name);
            for sentence in f.reference["sentences"].as_array().unwrap() {
                let text = sentence["text"].as_str().unwrap();
                let kind = sentence["kind"].as_str().unwrap();
                assert_eq!(
                    f.tokenizer.encode(text).unwrap(),
                    ids(&sentence["ids_without_special_tokens"]),
                    "{name} {kind}"
                );
                assert_eq!(
                    f.tokenizer.encode_with_special_tokens(text).unwrap(),
                    ids(&sentence["ids_with_special_tokens"]),
                    "{name} {kind}"
                );
            }
        }
    }

    #[test]
    fn xglm_prepends_eos_and_bloom_adds_nothing() {
        let xglm = fixture("tiny-xglm");
        let with = xglm.tokenizer.encode_with_special_tokens("health").unwrap();
        assert_eq!(with[0], xglm.config.eos_token_id);
        assert_eq!(&with[1..], xglm.tokenizer.encode("health").unwrap());
        let bloom = fixture("tiny-bloom");
        assert_eq!(
            bloom.tokenizer.encode_with_special_tokens("health").unwrap(),
            bloom.tokenizer.encode("health").unwrap()
        );
    }

    #[test]
    fn label_words_match_the_reference() {
        for name in ["tiny-xglm", "tiny-bloom"] {
            let f = fixture(name);
            let labels =
                crate::task::labels::label_tokens(&f.tokenizer, &crate::task::labels::Task::Sib200.labels(f.family))
                    .unwrap();
            for (label, reference) in labels.iter().zip(f.reference["label_words"].as_array().unwrap()) {
                assert_eq!(label.word, reference["word"].as_str().unwrap());
                assert_eq!(label.ids, ids(&reference["ids"]), "{name} {}", label.word);
                assert_eq!(label.train_id() as u64, reference["train_id"].as_u64().unwrap());
                assert_eq!(label.eval_id() as u64, reference["eval_id"].as_u64().unwrap());
            }
        }
    }

    #[test]
    fn a_tokenizer_from_another_model_is_refused() {
        let xglm = fixture("tiny-xglm");
        let bloom = fixture("tiny-bloom");
        xglm.tokenizer.check_against(&xglm.config).unwrap();
        bloom.tokenizer.check_against(&bloom.config).unwrap();
        // BLOOM's `<pad>` is 3, XGLM's is 1.
        let err = bloom.tokenizer.check_against(&xglm.config).unwrap_err();
        assert!(matches!(err, TokenizeError::SpecialTokenMismatch { token: "<pad>", .. }), "{err}");
        let small = ModelConfig { vocab_size: 500, ..xglm.config.clone() };
        assert_eq!(
            xglm.tokenizer.check_against(&small),
            Err(TokenizeError::VocabularyTooLarge { largest_id: 999, model: 500 })
        );
        assert!(matches!(TextTokenizer::from_bytes(b"{\"model\": 1}"), Err(TokenizeError::Load(_))));
    }

    #[test]
    fn an_id_past_the_embedding_table_is_refused_even_when_the_token_count_fits() {
        // Four tokens, so a count fits a 1000-token model, but "science" is id 5000.
        let sparse = br#"{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
            "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null, "decoder": null,
            "model": {"type": "WordLevel", "vocab": {"<s>": 0, "<pad>": 1, "</s>": 2, "science": 5000},
            "unk_token": "<pad>"}}"#;
        let tokenizer = TextTokenizer::from_bytes(sparse).unwrap();
        let config = fixture("tiny-xglm").config;
        assert_eq!(
            tokenizer.check_against(&config),
            Err(TokenizeError::VocabularyTooLarge { largest_id: 5000, model: config.vocab_size })
        );
    }
}
