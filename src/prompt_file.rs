//! Trained prompts as small files: PEFT's layout (`adapter_model.safetensors` with one tensor
//! `prompt_embeddings` [L, hidden] + `adapter_config.json`), our metadata in the safetensors header (so the
//! one file describes itself), and a compact encoding for share links.
use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use crate::model::{Family, ModelConfig};
use crate::task::Placement;
use crate::train::TrainConfig;
use crate::weights::SafetensorsHeader;

/// Bumped when the metadata or the share encoding changes incompatibly; old links keep decoding.
pub const SCHEMA_VERSION: u32 = 1;
/// PEFT's tensor name.
pub const TENSOR_NAME: &str = "prompt_embeddings";
/// Key of our metadata in the safetensors header's `__metadata__`.
const METADATA_KEY: &str = "polyprompt";
/// Share links start with this, so other fragments are told apart and the version is visible.
const SHARE_PREFIX: &str = "pp1.";

/// Sanity limits checked before allocating anything from outside input (a prompt's hidden size is a
/// model's, bounded where config.json is read).
pub const MAX_PROMPT_LEN: usize = 1024;
pub use crate::model::MAX_HIDDEN;
pub const MAX_SHARE_CHARS: usize = 2 << 20;

/// What a prompt was trained for and how, stored beside its vectors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PromptMetadata {
    pub schema_version: u32,
    pub family: Family,
    /// Hub id of the base model, e.g. `bigscience/bloom-560m`.
    pub base_model: String,
    /// Suffix slots before EOS (the paper; vectors scaled like token embeddings by XGLM) or PEFT's prefix
    /// (vectors used as input embeddings directly).
    pub placement: Placement,
    pub label_words: Vec<String>,
    /// Training settings as the trainer recorded them.
    #[serde(default)]
    pub training: serde_json::Value,
    /// Per-language results, if evaluated.
    #[serde(default)]
    pub results: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PromptFile {
    pub length: usize,
    pub hidden: usize,
    /// Row-major [length, hidden]; a reparameterized prompt is stored as the MLP's output.
    pub embeddings: Vec<f32>,
    pub metadata: PromptMetadata,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromptFileError {
    #[error("not a prompt file ({0}): expected an adapter_model.safetensors or a polyprompt prompt file")]
    NotSafetensors(String),
    #[error("the file has no `prompt_embeddings` tensor: it is not a PEFT prompt-tuning adapter")]
    MissingTensor,
    #[error("`prompt_embeddings` must be a 2-D f32 tensor [length, hidden], found {0}")]
    BadTensor(String),
    #[error("prompt length {0} is outside 1..={MAX_PROMPT_LEN}")]
    BadLength(usize),
    #[error("hidden size {0} is outside 1..={MAX_HIDDEN}")]
    BadHidden(usize),
    #[error(
        "this adapter_model.safetensors carries no polyprompt metadata: import it together with its \
         adapter_config.json"
    )]
    NoMetadata,
    #[error("the prompt's metadata is unreadable ({0})")]
    Metadata(String),
    #[error(
        "this prompt was made with schema version {0}, newer than this app understands ({SCHEMA_VERSION}): \
         update polyprompt"
    )]
    NewerSchema(u32),
    #[error("adapter_config.json is unreadable or not a PROMPT_TUNING config ({0})")]
    PeftConfig(String),
    #[error(
        "this prompt is for {prompt} but the loaded model is {model}: load {prompt_model}, or a prompt \
         trained on the loaded model"
    )]
    WrongFamily { prompt: &'static str, model: &'static str, prompt_model: String },
    #[error(
        "this prompt has hidden size {prompt} but the loaded model has {model}: it was trained on another \
         model size ({prompt_model}) — load that model"
    )]
    WrongHidden { prompt: usize, model: usize, prompt_model: String },
    #[error("the share link is not a polyprompt link, or it was cut off or altered ({0}): ask for the link again")]
    BadShareLink(String),
    #[error("the share link is {0} characters, over the {MAX_SHARE_CHARS} this app accepts: share the prompt file instead")]
    ShareLinkTooLong(usize),
}

impl PromptFile {
    /// Our single self-describing file: PEFT's safetensors with our metadata in its header.
    pub fn to_safetensors(&self) -> Vec<u8> {
        let bytes: Vec<u8> = self.embeddings.iter().flat_map(|v| v.to_le_bytes()).collect();
        let view = TensorView::new(Dtype::F32, vec![self.length, self.hidden], &bytes).expect("shape matches data");
        let metadata = serde_json::to_string(&self.metadata).expect("metadata serialises");
        let header = std::collections::HashMap::from([(METADATA_KEY.to_string(), metadata)]);
        safetensors::serialize([(TENSOR_NAME, view)], Some(header)).expect("in-memory serialisation")
    }

    /// Reads our file. A plain PEFT `adapter_model.safetensors` has no metadata: use [`Self::from_peft`].
    pub fn from_safetensors(bytes: &[u8]) -> Result<PromptFile, PromptFileError> {
        let header = read_header(bytes)?;
        let json = header
            .metadata
            .metadata()
            .as_ref()
            .and_then(|m| m.get(METADATA_KEY))
            .ok_or(PromptFileError::NoMetadata)?;
        let metadata = parse_metadata(json)?;
        let (length, hidden, embeddings) = read_tensor(bytes, &header)?;
        Ok(PromptFile { length, hidden, embeddings, metadata })
    }

    /// Reads an imported prompt: our single file, or a PEFT pair (its safetensors and `adapter_config.json`).
    /// Our metadata wins when a file has it.
    pub fn from_files(safetensors: &[u8], adapter_config: Option<&str>) -> Result<PromptFile, PromptFileError> {
        match (PromptFile::from_safetensors(safetensors), adapter_config) {
            (Err(PromptFileError::NoMetadata), Some(config)) => PromptFile::from_peft(safetensors, config),
            (result, _) => result,
        }
    }

    /// Reads a PEFT pair (as `save_pretrained` writes it). PEFT prepends its prompt, so the placement
    /// is `Prefix`; the family comes from the config's base model name.
    pub fn from_peft(safetensors: &[u8], adapter_config: &str) -> Result<PromptFile, PromptFileError> {
        let config: serde_json::Value =
            serde_json::from_str(adapter_config).map_err(|e| PromptFileError::PeftConfig(e.to_string()))?;
        if config["peft_type"] != "PROMPT_TUNING" {
            return Err(PromptFileError::PeftConfig(format!("peft_type is {}", config["peft_type"])));
        }
        let base_model = config["base_model_name_or_path"].as_str().unwrap_or_default().to_string();
        let family = if base_model.to_lowercase().contains("xglm") { Family::Xglm } else { Family::Bloom };
        let (length, hidden, embeddings) = read_tensor(safetensors, &read_header(safetensors)?)?;
        let metadata = PromptMetadata {
            schema_version: SCHEMA_VERSION,
            family,
            base_model,
            placement: Placement::Prefix,
            label_words: Vec::new(),
            training: serde_json::Value::Null,
            results: serde_json::Value::Null,
        };
        Ok(PromptFile { length, hidden, embeddings, metadata })
    }

    /// PEFT's `adapter_config.json` for this prompt (PEFT itself will prepend it, whatever our placement).
    pub fn peft_config_json(&self, config: &ModelConfig) -> String {
        let json = serde_json::json!({
            "peft_type": "PROMPT_TUNING",
            "task_type": "CAUSAL_LM",
            "num_virtual_tokens": self.length,
            "token_dim": self.hidden,
            "num_transformer_submodules": 1,
            "num_attention_heads": config.heads,
            "num_layers": config.layers,
            "prompt_tuning_init": "RANDOM",
            "prompt_tuning_init_text": null,
            "tokenizer_name_or_path": self.metadata.base_model,
            "base_model_name_or_path": self.metadata.base_model,
            "inference_mode": true,
            "revision": null,
            "auto_mapping": null,
            "tokenizer_kwargs": null,
            "modules_to_save": null,
        });
        serde_json::to_string_pretty(&json).expect("json serialises")
    }

    /// Whether this prompt can run on the loaded model; says what to load otherwise.
    pub fn check_compatible(&self, config: &ModelConfig) -> Result<(), PromptFileError> {
        if self.metadata.family != config.family {
            return Err(PromptFileError::WrongFamily {
                prompt: self.metadata.family.name(),
                model: config.family.name(),
                prompt_model: self.metadata.base_model.clone(),
            });
        }
        if self.hidden != config.hidden {
            return Err(PromptFileError::WrongHidden {
                prompt: self.hidden,
                model: config.hidden,
                prompt_model: self.metadata.base_model.clone(),
            });
        }
        Ok(())
    }

    /// The settings the prompt was trained with, where polyprompt's trainer recorded them (a prompt
    /// imported from PEFT has none): what opening a shared or saved prompt puts back in the training form.
    pub fn training_config(&self) -> Option<TrainConfig> {
        serde_json::from_value(self.metadata.training.get("config")?.clone()).ok()
    }

    /// The vectors as a `[length, hidden]` tensor on `device`, ready to be placed among the embeddings.
    pub fn tensor(&self, device: &burn::tensor::Device) -> burn::tensor::Tensor<2> {
        burn::tensor::Tensor::from_data(burn::tensor::TensorData::new(self.embeddings.clone(), [self.length, self.hidden]), device)
    }

    /// Eight hex digits identifying the prompt's vectors at share-link precision (f16): a prompt and the
    /// one restored from its link show the same fingerprint.
    pub fn fingerprint(&self) -> String {
        let halves: Vec<u8> = self.embeddings.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect();
        format!("{:08x}", crc32(&halves))
    }

    /// The prompt and its metadata for a URL fragment: deflated JSON + f16 vectors, base64url.
    pub fn to_share_fragment(&self) -> String {
        let metadata = serde_json::to_vec(&self.metadata).expect("metadata serialises");
        let mut raw = Vec::with_capacity(12 + metadata.len() + 2 * self.embeddings.len());
        raw.extend((self.length as u32).to_le_bytes());
        raw.extend((self.hidden as u32).to_le_bytes());
        raw.extend((metadata.len() as u32).to_le_bytes());
        raw.extend(&metadata);
        raw.extend(self.embeddings.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()));
        // A checksum, so a link altered in transit fails loudly instead of loading other numbers.
        raw.extend(crc32(&raw).to_le_bytes());
        let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        deflate.write_all(&raw).expect("writing to memory");
        format!("{SHARE_PREFIX}{}", URL_SAFE_NO_PAD.encode(deflate.finish().expect("writing to memory")))
    }

    pub fn from_share_fragment(fragment: &str) -> Result<PromptFile, PromptFileError> {
        let fragment = fragment.trim().trim_start_matches('#');
        if fragment.len() > MAX_SHARE_CHARS {
            return Err(PromptFileError::ShareLinkTooLong(fragment.len()));
        }
        let bad = |why: &str| PromptFileError::BadShareLink(why.to_string());
        let body = fragment.strip_prefix(SHARE_PREFIX).ok_or_else(|| bad("unknown prefix"))?;
        let deflated = URL_SAFE_NO_PAD.decode(body).map_err(|_| bad("not base64url"))?;
        // The largest legitimate payload bounds the inflated size: a zip bomb stops there.
        let limit = 12 + (1 << 20) + 2 * MAX_PROMPT_LEN * MAX_HIDDEN;
        let mut raw = Vec::new();
        flate2::read::DeflateDecoder::new(deflated.as_slice())
            .take(limit as u64 + 1)
            .read_to_end(&mut raw)
            .map_err(|_| bad("corrupt compressed data"))?;
        if raw.len() > limit {
            return Err(bad("oversized content"));
        }
        let checked = raw.len().checked_sub(4).ok_or_else(|| bad("truncated"))?;
        let (raw, checksum) = raw.split_at(checked);
        if crc32(raw).to_le_bytes() != checksum {
            return Err(bad("checksum mismatch"));
        }
        let word = |at: usize| -> Result<usize, PromptFileError> {
            let bytes = raw.get(at..at + 4).ok_or_else(|| bad("truncated"))?;
            Ok(u32::from_le_bytes(bytes.try_into().expect("4 bytes")) as usize)
        };
        let (length, hidden, metadata_len) = (word(0)?, word(4)?, word(8)?);
        check_shape(length, hidden)?;
        let metadata_end = 12usize.checked_add(metadata_len).ok_or_else(|| bad("truncated"))?;
        let metadata = raw.get(12..metadata_end).ok_or_else(|| bad("truncated"))?;
        let metadata = parse_metadata(std::str::from_utf8(metadata).map_err(|_| bad("metadata not UTF-8"))?)?;
        let values = &raw[metadata_end..];
        if values.len() != 2 * length * hidden {
            return Err(bad("the vector data does not match the prompt's size"));
        }
        let embeddings = values
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect();
        Ok(PromptFile { length, hidden, embeddings, metadata })
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

fn parse_metadata(json: &str) -> Result<PromptMetadata, PromptFileError> {
    let metadata: PromptMetadata = serde_json::from_str(json).map_err(|e| PromptFileError::Metadata(e.to_string()))?;
    if metadata.schema_version > SCHEMA_VERSION {
        return Err(PromptFileError::NewerSchema(metadata.schema_version));
    }
    Ok(metadata)
}

fn check_shape(length: usize, hidden: usize) -> Result<(), PromptFileError> {
    if !(1..=MAX_PROMPT_LEN).contains(&length) {
        return Err(PromptFileError::BadLength(length));
    }
    if !(1..=MAX_HIDDEN).contains(&hidden) {
        return Err(PromptFileError::BadHidden(hidden));
    }
    Ok(())
}

fn read_header(bytes: &[u8]) -> Result<SafetensorsHeader, PromptFileError> {
    SafetensorsHeader::read(bytes).map_err(|e| PromptFileError::NotSafetensors(e.to_string()))
}

/// The prompt tensor, its shape checked from the header before the file's size is.
fn read_tensor(bytes: &[u8], header: &SafetensorsHeader) -> Result<(usize, usize, Vec<f32>), PromptFileError> {
    let info = header.metadata.info(TENSOR_NAME).ok_or(PromptFileError::MissingTensor)?;
    let [length, hidden] = info.shape[..] else {
        return Err(PromptFileError::BadTensor(format!("shape {:?}", info.shape)));
    };
    if info.dtype != Dtype::F32 {
        return Err(PromptFileError::BadTensor(format!("dtype {:?}", info.dtype)));
    }
    check_shape(length, hidden)?;
    if header.data_bytes != header.held_bytes {
        return Err(PromptFileError::NotSafetensors(format!(
            "its header describes {} bytes of tensors but {} follow: the file was cut off or altered",
            header.data_bytes, header.held_bytes
        )));
    }
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| PromptFileError::NotSafetensors(e.to_string()))?;
    let view = tensors.tensor(TENSOR_NAME).map_err(|_| PromptFileError::MissingTensor)?;
    let values = view.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect();
    Ok((length, hidden, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(length: usize, hidden: usize) -> PromptFile {
        PromptFile {
            length,
            hidden,
            // Trained prompts look like noise to a compressor; so must the test's, for honest sizes.
            embeddings: (0..length * hidden)
                .scan(0x9E37_79B9_7F4A_7C15u64, |state, _| {
                    *state ^= *state << 13;
                    *state ^= *state >> 7;
                    *state ^= *state << 17;
                    Some((*state >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
                })
                .collect(),
            metadata: PromptMetadata {
                schema_version: SCHEMA_VERSION,
                family: Family::Bloom,
                base_model: "bigscience/bloom-560m".into(),
                placement: Placement::Suffix,
                label_words: vec!["science".into(), "travel".into()],
                training: serde_json::json!({"lr": 5e-3, "seed": 0}),
                results: serde_json::json!([{"code": "swh_Latn", "accuracy": 0.5}]),
            },
        }
    }

    fn fixture_config(name: &str) -> ModelConfig {
        let path = format!("{}/tests/fixtures/{name}/config.json", env!("CARGO_MANIFEST_DIR"));
        ModelConfig::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn a_trained_prompt_gives_back_its_settings_and_others_none() {
        let mut config = TrainConfig::paper(7);
        config.prompt.reparam_hidden = Some(200);
        config.epochs = 3;
        config.seed = 42;
        let mut prompt = sample(7, 64);
        prompt.metadata.training = serde_json::json!({"config": config, "steps_done": 12});
        let shared = PromptFile::from_share_fragment(&prompt.to_share_fragment()).unwrap();
        assert_eq!(shared.training_config(), Some(config));
        assert_eq!(sample(7, 64).training_config(), None, "no recorded config");
        prompt.metadata.training = serde_json::json!({"config": {"epochs": "many"}});
        assert_eq!(prompt.training_config(), None, "a config that does not parse");
    }

    #[test]
    fn the_file_round_trips_bit_exactly() {
        let prompt = sample(10, 64);
        let restored = PromptFile::from_safetensors(&prompt.to_safetensors()).unwrap();
        assert_eq!(restored, prompt);
    }

    #[test]
    fn peft_reads_the_same_tensor_and_a_peft_pair_imports() {
        let prompt = sample(4, 64);
        let bytes = prompt.to_safetensors();
        let config = prompt.peft_config_json(&fixture_config("tiny-bloom"));
        let peft = PromptFile::from_peft(&bytes, &config).unwrap();
        assert_eq!((peft.length, peft.hidden, &peft.embeddings), (4, 64, &prompt.embeddings));
        assert_eq!(peft.metadata.placement, Placement::Prefix);
        let json: serde_json::Value = serde_json::from_str(&config).unwrap();
        assert_eq!((json["num_virtual_tokens"].as_u64(), json["token_dim"].as_u64()), (Some(4), Some(64)));
        let lora = config.replace("PROMPT_TUNING", "LORA");
        assert!(matches!(PromptFile::from_peft(&bytes, &lora), Err(PromptFileError::PeftConfig(_))));

        // A file PEFT itself wrote has no metadata: it needs its config, and then imports as a prefix.
        let raw: Vec<u8> = prompt.embeddings.iter().flat_map(|v| v.to_le_bytes()).collect();
        let view = TensorView::new(Dtype::F32, vec![4, 64], &raw).unwrap();
        let plain = safetensors::serialize([(TENSOR_NAME, view)], None).unwrap();
        assert_eq!(PromptFile::from_files(&plain, None), Err(PromptFileError::NoMetadata));
        let imported = PromptFile::from_files(&plain, Some(&config)).unwrap();
        assert_eq!((imported.metadata.placement, &imported.embeddings), (Placement::Prefix, &prompt.embeddings));
        // Our own file keeps its own metadata even with a config beside it.
        assert_eq!(PromptFile::from_files(&bytes, Some(&config)).unwrap(), prompt);
    }

    #[test]
    fn share_links_round_trip_within_f16_precision() {
        let prompt = sample(20, 1024);
        let link = prompt.to_share_fragment();
        let restored = PromptFile::from_share_fragment(&link).unwrap();
        assert_eq!(restored.fingerprint(), prompt.fingerprint());
        assert_ne!(sample(20, 1023).fingerprint(), prompt.fingerprint());
        assert!(link.starts_with("pp1.") && link.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
        let restored = PromptFile::from_share_fragment(&format!("#{link}")).unwrap();
        assert_eq!(restored.metadata, prompt.metadata);
        for (a, b) in restored.embeddings.iter().zip(&prompt.embeddings) {
            assert!((a - b).abs() <= b.abs() * 2f32.powi(-11) + 1e-7, "{a} vs {b}");
        }
    }

    #[test]
    fn a_prompt_for_another_model_is_refused_with_what_to_load() {
        let prompt = sample(4, 64);
        prompt.check_compatible(&fixture_config("tiny-bloom")).unwrap();
        let err = prompt.check_compatible(&fixture_config("tiny-xglm")).unwrap_err();
        assert!(err.to_string().contains("load bigscience/bloom-560m"), "{err}");
        let wide = sample(4, 128);
        assert!(matches!(wide.check_compatible(&fixture_config("tiny-bloom")), Err(PromptFileError::WrongHidden { prompt: 128, model: 64, .. })));
    }

    #[test]
    fn malformed_files_and_links_get_clear_errors() {
        let bytes = sample(4, 64).to_safetensors();
        assert!(matches!(PromptFile::from_safetensors(&bytes[..bytes.len() / 2]), Err(PromptFileError::NotSafetensors(_))));
        assert!(matches!(PromptFile::from_safetensors(b"garbage"), Err(PromptFileError::NotSafetensors(_))));
        let newer = sample(4, 64);
        let newer = PromptFile { metadata: PromptMetadata { schema_version: 99, ..newer.metadata.clone() }, ..newer };
        assert_eq!(PromptFile::from_safetensors(&newer.to_safetensors()), Err(PromptFileError::NewerSchema(99)));

        let link = sample(4, 64).to_share_fragment();
        for broken in [&link[..link.len() / 2], "pp1.!!!", "https://example.com", "pp1."] {
            assert!(matches!(PromptFile::from_share_fragment(broken), Err(PromptFileError::BadShareLink(_))), "{broken}");
        }
        let mut tampered = link.clone().into_bytes();
        let middle = tampered.len() / 2;
        tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
        assert!(matches!(
            PromptFile::from_share_fragment(std::str::from_utf8(&tampered).unwrap()),
            Err(PromptFileError::BadShareLink(_))
        ));
        let huge = format!("pp1.{}", "A".repeat(MAX_SHARE_CHARS));
        assert!(matches!(PromptFile::from_share_fragment(&huge), Err(PromptFileError::ShareLinkTooLong(_))));
    }

    #[test]
    fn absurd_sizes_are_rejected_before_allocation() {
        // A link claiming a 10^9-long prompt.
        let mut raw = Vec::new();
        raw.extend(1_000_000_000u32.to_le_bytes());
        raw.extend(64u32.to_le_bytes());
        raw.extend(0u32.to_le_bytes());
        raw.extend(crc32(&raw).to_le_bytes());
        let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        deflate.write_all(&raw).unwrap();
        let link = format!("pp1.{}", URL_SAFE_NO_PAD.encode(deflate.finish().unwrap()));
        assert_eq!(PromptFile::from_share_fragment(&link), Err(PromptFileError::BadLength(1_000_000_000)));
    }

    /// A safetensors file from a header (JSON) and the bytes after it.
    fn safetensors_with_header(header: &serde_json::Value, data: &[u8]) -> Vec<u8> {
        let header = header.to_string();
        [&(header.len() as u64).to_le_bytes()[..], header.as_bytes(), data].concat()
    }

    #[test]
    fn a_prompt_file_claiming_absurd_sizes_is_refused_from_its_header() {
        let metadata = serde_json::to_string(&sample(1, 64).metadata).unwrap();
        let claiming = |shape: [u64; 2]| {
            let bytes = shape[0] * shape[1] * 4;
            let header = serde_json::json!({
                "__metadata__": {METADATA_KEY: metadata},
                TENSOR_NAME: {"dtype": "F32", "shape": shape, "data_offsets": [0, bytes]},
            });
            safetensors_with_header(&header, &[0; 16])
        };
        assert_eq!(PromptFile::from_safetensors(&claiming([1_000_000_000, 64])), Err(PromptFileError::BadLength(1_000_000_000)));
        assert_eq!(PromptFile::from_safetensors(&claiming([4, 1 << 20])), Err(PromptFileError::BadHidden(1 << 20)));
        // A sane shape whose data is missing is a cut-off file.
        let err = PromptFile::from_safetensors(&claiming([4, 64])).unwrap_err();
        assert!(err.to_string().contains("describes 1024 bytes of tensors but 16 follow"), "{err}");
        // A header length of 1 TB is refused before anything is read.
        let err = PromptFile::from_safetensors(&[&(1u64 << 40).to_le_bytes()[..], b"{}"].concat()).unwrap_err();
        assert!(matches!(&err, PromptFileError::NotSafetensors(why) if why.contains("header of 1099511627776 bytes")), "{err}");
    }

    #[test]
    fn share_link_sizes() {
        // Printed for the README's table (cargo test share_link_sizes -- --nocapture).
        for length in [1, 5, 10, 20, 50, 100] {
            let prompt = sample(length, 1024);
            let file = prompt.to_safetensors().len();
            let link = prompt.to_share_fragment().len();
            println!("| {length} | {file} | {link} |");
            assert!(link < file, "a link is smaller than the f32 file");
        }
    }
}
