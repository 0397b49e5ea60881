//! Trained prompts as small files: PEFT's layout (`adapter_model.safetensors` with one tensor
//! `prompt_embeddings` [L, hidden] + `adapter_config.json`), our metadata in the safetensors header (so the
//! one file describes itself). PEFT's pair is read and written in `peft`, the share-link encoding is in `share`.
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use crate::backend::read_f32;
use crate::model::safetensors_header::SafetensorsHeader;
use crate::model::tokenizer::{TextTokenizer, TokenizeError};
use crate::model::{Family, ModelConfig};
use crate::task::batch::{Placement, TaskFormat};
use crate::task::labels::{Task, TaskLabels, label_tokens};
use crate::tuning::eval::EvalSetup;
use crate::tuning::train::{TrainConfig, TrainError, Trainer};

/// Bumped when the metadata or the share encoding changes incompatibly; old links keep decoding.
pub const SCHEMA_VERSION: u32 = 1;
/// PEFT's tensor name.
pub const TENSOR_NAME: &str = "prompt_embeddings";
/// Key of our metadata in the safetensors header's `__metadata__`.
const METADATA_KEY: &str = "polyprompt";

/// Sanity limits checked before allocating anything from outside input (a prompt's hidden size is a
/// model's, bounded where config.json is read).
pub use crate::model::MAX_HIDDEN;
pub use crate::tuning::prompt::MAX_PROMPT_LEN;
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
    /// The task the prompt was trained for (files from before own tasks: SIB-200), so that it evaluates
    /// and predicts on the right classes wherever it is opened.
    #[serde(default, skip_serializing_if = "Task::is_sib200")]
    pub task: Task,
    /// The word scored for each class.
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
    #[error(
        "this prompt was trained for the task {prompt} (classes: {prompt_classes}), not for {data}: evaluate it \
         on its own task's examples"
    )]
    WrongTask { prompt: String, prompt_classes: String, data: String },
    #[error("the share link is not a polyprompt link, or it was cut off or altered ({0}): ask for the link again")]
    BadShareLink(String),
    #[error(
        "the share link is {0} characters, over the {MAX_SHARE_CHARS} this app accepts: share the prompt file instead"
    )]
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
        let json = header.metadata.get(METADATA_KEY).ok_or(PromptFileError::NoMetadata)?;
        let metadata = parse_metadata(json)?;
        let (length, hidden, embeddings) = read_tensor(bytes, &header)?;
        Ok(PromptFile { length, hidden, embeddings, metadata })
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

    /// Whether this prompt scores the classes that `data` labels its examples with: a prompt trained on one
    /// task evaluated on another's examples would count against the wrong classes.
    pub fn check_task(&self, data: &TaskLabels) -> Result<(), PromptFileError> {
        let trained = self.metadata.task.labels(self.metadata.family);
        let same = trained.classes == data.classes;
        let (prompt, prompt_classes, data) = (trained.name, trained.classes.join(", "), data.name.clone());
        same.then_some(()).ok_or(PromptFileError::WrongTask { prompt, prompt_classes, data })
    }

    /// The settings the prompt was trained with, where polyprompt's trainer recorded them (a prompt
    /// imported from PEFT has none): what opening a shared or saved prompt puts back in the training form.
    pub fn training_config(&self) -> Option<TrainConfig> {
        serde_json::from_value(self.metadata.training.get("config")?.clone()).ok()
    }

    /// The vectors as a `[length, hidden]` tensor on `device`, ready to be placed among the embeddings.
    pub fn tensor(&self, device: &burn::tensor::Device) -> burn::tensor::Tensor<2> {
        burn::tensor::Tensor::from_data(
            burn::tensor::TensorData::new(self.embeddings.clone(), [self.length, self.hidden]),
            device,
        )
    }

    /// The run's result as a prompt file: the best prompt by validation loss (the current one if none
    /// was validated yet), with the settings and history in its metadata.
    pub async fn of_run(trainer: &mut Trainer, base_model: &str) -> Result<PromptFile, TrainError> {
        trainer.flush().await?;
        match PromptFile::best_of_run(trainer, base_model) {
            Some(file) => Ok(file),
            None => {
                let vectors = read_f32(trainer.prompt().effective()).await?;
                Ok(PromptFile::of_vectors(
                    trainer,
                    vectors,
                    serde_json::json!({"step": trainer.steps_done()}),
                    base_model,
                ))
            }
        }
    }

    /// The best prompt so far as a prompt file, without touching the device (its vectors were read back
    /// when it was validated): what a running app saves at each improvement, so that a reload, a crash or
    /// a lost GPU keeps it. `None` before the first validation.
    pub fn best_of_run(trainer: &Trainer, base_model: &str) -> Option<PromptFile> {
        let best = trainer.best()?;
        let kept = serde_json::json!({"epoch": best.epoch, "step": best.step, "validation_loss": best.validation_loss});
        Some(PromptFile::of_vectors(trainer, best.vectors.clone(), kept, base_model))
    }

    fn of_vectors(trainer: &Trainer, vectors: Vec<f32>, kept: serde_json::Value, base_model: &str) -> PromptFile {
        PromptFile {
            length: trainer.config().prompt.length,
            hidden: vectors.len() / trainer.config().prompt.length,
            embeddings: vectors,
            metadata: PromptMetadata {
                schema_version: SCHEMA_VERSION,
                family: trainer.family(),
                base_model: base_model.to_string(),
                placement: trainer.config().placement,
                task: trainer.config().task.clone(),
                label_words: trainer.config().task.labels(trainer.family()).words,
                training: serde_json::json!({
                    "config": trainer.config(),
                    "kept": kept,
                    "steps_done": trainer.steps_done(),
                    "total_steps": trainer.total_steps(),
                    "train_examples": trainer.train_examples(),
                    "validation_examples": trainer.validation_examples(),
                    "validations": trainer.validations(),
                }),
                results: serde_json::Value::Null,
            },
        }
    }

    /// How this prompt was trained to be used: its placement and length, sentences truncated to the length
    /// it was trained with (128, the paper's, when the file does not say), its task's label words.
    pub fn eval_setup(&self, tokenizer: &TextTokenizer, batch_size: usize) -> Result<EvalSetup, TokenizeError> {
        let max_len = self.metadata.training["config"]["max_len"].as_u64().map_or(128, |n| n as usize);
        let format = TaskFormat { placement: self.metadata.placement, prompt_len: self.length, max_len };
        let labels = self.metadata.task.labels(self.metadata.family);
        Ok(EvalSetup::new(format, &label_tokens(tokenizer, &labels)?, batch_size))
    }

    /// Eight hex digits identifying the prompt's vectors at share-link precision (f16): a prompt and the
    /// one restored from its link show the same fingerprint.
    pub fn fingerprint(&self) -> String {
        let halves: Vec<u8> = self.embeddings.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect();
        format!("{:08x}", crc32(&halves))
    }
}

pub(super) fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

pub(super) fn parse_metadata(json: &str) -> Result<PromptMetadata, PromptFileError> {
    let metadata: PromptMetadata = serde_json::from_str(json).map_err(|e| PromptFileError::Metadata(e.to_string()))?;
    if metadata.schema_version > SCHEMA_VERSION {
        return Err(PromptFileError::NewerSchema(metadata.schema_version));
    }
    Ok(metadata)
}

pub(super) fn check_shape(length: usize, hidden: usize) -> Result<(), PromptFileError> {
    if !(1..=MAX_PROMPT_LEN).contains(&length) {
        return Err(PromptFileError::BadLength(length));
    }
    if !(1..=MAX_HIDDEN).contains(&hidden) {
        return Err(PromptFileError::BadHidden(hidden));
    }
    Ok(())
}

pub(super) fn read_header(bytes: &[u8]) -> Result<SafetensorsHeader, PromptFileError> {
    SafetensorsHeader::read(bytes).map_err(|e| PromptFileError::NotSafetensors(e.to_string()))
}

/// The prompt tensor, its shape checked from the header before the file's size is.
pub(super) fn read_tensor(
    bytes: &[u8],
    header: &SafetensorsHeader,
) -> Result<(usize, usize, Vec<f32>), PromptFileError> {
    let info = header.tensors.get(TENSOR_NAME).ok_or(PromptFileError::MissingTensor)?;
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
    use std::io::Write;

    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

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
                task: Default::default(),
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
        assert!(matches!(
            wide.check_compatible(&fixture_config("tiny-bloom")),
            Err(PromptFileError::WrongHidden { prompt: 128, model: 64, .. })
        ));
    }

    #[test]
    fn malformed_files_and_links_get_clear_errors() {
        let bytes = sample(4, 64).to_safetensors();
        assert!(matches!(
            PromptFile::from_safetensors(&bytes[..bytes.len() / 2]),
            Err(PromptFileError::NotSafetensors(_))
        ));
        assert!(matches!(PromptFile::from_safetensors(b"garbage"), Err(PromptFileError::NotSafetensors(_))));
        let newer = sample(4, 64);
        let newer = PromptFile { metadata: PromptMetadata { schema_version: 99, ..newer.metadata.clone() }, ..newer };
        assert_eq!(PromptFile::from_safetensors(&newer.to_safetensors()), Err(PromptFileError::NewerSchema(99)));

        let link = sample(4, 64).to_share_fragment();
        for broken in [&link[..link.len() / 2], "pp1.!!!", "https://example.com", "pp1."] {
            assert!(
                matches!(PromptFile::from_share_fragment(broken), Err(PromptFileError::BadShareLink(_))),
                "{broken}"
            );
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
        assert_eq!(
            PromptFile::from_safetensors(&claiming([1_000_000_000, 64])),
            Err(PromptFileError::BadLength(1_000_000_000))
        );
        assert_eq!(PromptFile::from_safetensors(&claiming([4, 1 << 20])), Err(PromptFileError::BadHidden(1 << 20)));
        // A sane shape whose data is missing is a cut-off file.
        let err = PromptFile::from_safetensors(&claiming([4, 64])).unwrap_err();
        assert!(err.to_string().contains("describes 1024 bytes of tensors but 16 follow"), "{err}");
        // A header length of 1 TB is refused before anything is read.
        let err = PromptFile::from_safetensors(&[&(1u64 << 40).to_le_bytes()[..], b"{}"].concat()).unwrap_err();
        assert!(
            matches!(&err, PromptFileError::NotSafetensors(why) if why.contains("header of 1099511627776 bytes")),
            "{err}"
        );
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
