//! Loading a hub checkpoint (`model.safetensors` or `pytorch_model.bin`) into a frozen [`CausalLm`].
//!
//! Tensor names are the checkpoint's own (see `Xglm::checkpoint_tensors` / `Bloom::checkpoint_tensors`);
//! f32, f16 and bf16 are converted to f32. Why not burn-store's `SafetensorsStore`/`PytorchStore`: they
//! apply a file to a burn `Module`, but the token embedding is not a module parameter here (it stays on the
//! host, see `model::embedding`), and their apply result reports problems per store, not as the typed
//! missing/unexpected/shape/dtype errors below. So safetensors bytes are read with the `safetensors` crate
//! (works from bytes, also in wasm) and `.bin` files with burn-store's PyTorch reader (`pytorch_reader`),
//! which reads tensors lazily from a file.
use std::collections::BTreeMap;

use burn::module::Param;
use burn::nn::{LayerNorm, LayerNormConfig, Linear};
use burn::store::pytorch_reader;
use burn::tensor::{Device, Tensor, TensorData};
use safetensors::{Dtype, SafeTensorError, SafeTensors};

use crate::model::bloom::Bloom;
use crate::model::xglm::Xglm;
use crate::model::{CausalLm, ConfigError, DEFAULT_MAX_CHUNK_BYTES, Family, ModelConfig};

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("{file} is truncated ({detail}): the download was probably interrupted; download it again")]
    Truncated { file: &'static str, detail: String },
    #[error("{file} is not a readable checkpoint ({detail}): is it the right file?")]
    Corrupt { file: &'static str, detail: String },
    #[error(
        "the weights are {checkpoint:?} weights but config.json describes a {config:?} model: \
         use the config.json from the same checkpoint"
    )]
    WrongArchitecture { config: Family, checkpoint: Family },
    #[error("the checkpoint lacks {} tensors the config needs: {}", .0.len(), .0.join(", "))]
    MissingTensors(Vec<String>),
    #[error("the checkpoint has {} tensors this architecture does not use: {}", .0.len(), .0.join(", "))]
    UnexpectedTensors(Vec<String>),
    #[error("tensor {tensor} has shape {got:?} but config.json implies {expected:?}: config and weights disagree")]
    ShapeMismatch { tensor: String, expected: Vec<usize>, got: Vec<usize> },
    #[error("tensor {tensor} is stored as {dtype}; only f32, f16 and bf16 weights can be loaded")]
    UnsupportedDtype { tensor: String, dtype: String },
    #[error(
        "pytorch_model.bin can only be read natively (burn's PyTorch reader reads from a file); in the \
         browser, use the checkpoint's model.safetensors"
    )]
    PytorchNeedsFile,
    #[error("config.json: {0}")]
    Config(#[from] ConfigError),
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("neither model.safetensors nor pytorch_model.bin is in {0}")]
    NoWeights(String),
}

/// A checkpoint file's bytes, as fetched or read.
#[derive(Clone, Copy, Debug)]
pub enum WeightsFile<'a> {
    Safetensors(&'a [u8]),
    /// `torch.save`'s zip format (what `save_pretrained` wrote before safetensors).
    PytorchBin(&'a [u8]),
}

#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Largest device buffer for a slice of the tied LM head (see `model::head`).
    pub max_chunk_bytes: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { max_chunk_bytes: DEFAULT_MAX_CHUNK_BYTES }
    }
}

/// Loads the model `config` describes from a checkpoint file. The weights go to `device` without autodiff
/// (if an autodiff device is given, its inner device), frozen.
pub fn load(
    config: &ModelConfig,
    file: WeightsFile,
    device: &Device,
    options: &LoadOptions,
) -> Result<CausalLm, WeightsError> {
    match file {
        WeightsFile::Safetensors(bytes) => build(config, &mut Checkpoint::safetensors(bytes)?, device, options),
        WeightsFile::PytorchBin(bytes) => load_pytorch_bytes(config, bytes, device, options),
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn load_pytorch_bytes(
    config: &ModelConfig,
    bytes: &[u8],
    device: &Device,
    options: &LoadOptions,
) -> Result<CausalLm, WeightsError> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // The reader takes a path; a private temporary copy is removed when this returns.
    struct Removed(std::path::PathBuf);
    impl Drop for Removed {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let name = format!("polyprompt-{}-{}.bin", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    let path = Removed(std::env::temp_dir().join(name));
    std::fs::write(&path.0, bytes).map_err(|source| io_error(&path.0, source))?;
    build(config, &mut Checkpoint::pytorch(&path.0)?, device, options)
}

#[cfg(target_arch = "wasm32")]
fn load_pytorch_bytes(_: &ModelConfig, _: &[u8], _: &Device, _: &LoadOptions) -> Result<CausalLm, WeightsError> {
    Err(WeightsError::PytorchNeedsFile)
}

/// Loads a model directory in the hub's layout: `config.json` plus `model.safetensors` (preferred) or
/// `pytorch_model.bin`.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_dir(dir: &std::path::Path, device: &Device, options: &LoadOptions) -> Result<CausalLm, WeightsError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|source| io_error(&path, source))
    };
    let config = ModelConfig::from_json(&String::from_utf8_lossy(&read("config.json")?))?;
    let safetensors = dir.join("model.safetensors");
    let bin = dir.join("pytorch_model.bin");
    if safetensors.exists() {
        load(&config, WeightsFile::Safetensors(&read("model.safetensors")?), device, options)
    } else if bin.exists() {
        build(&config, &mut Checkpoint::pytorch(&bin)?, device, options)
    } else {
        Err(WeightsError::NoWeights(dir.display().to_string()))
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn io_error(path: &std::path::Path, source: std::io::Error) -> WeightsError {
    WeightsError::Io { path: path.display().to_string(), source }
}

fn build(
    config: &ModelConfig,
    ckpt: &mut Checkpoint,
    device: &Device,
    options: &LoadOptions,
) -> Result<CausalLm, WeightsError> {
    // Frozen weights never join an autodiff graph: ops mixing them with the prompt treat them as constants.
    let device = device.clone().without_autodiff();
    ckpt.check(config)?;
    Ok(match config.family {
        Family::Xglm => CausalLm::Xglm(Xglm::load(config, ckpt, &device, options.max_chunk_bytes)?),
        Family::Bloom => CausalLm::Bloom(Bloom::load(config, ckpt, &device, options.max_chunk_bytes)?),
    })
}

enum Stored<'a> {
    Bytes(&'a [u8]),
    Pytorch(pytorch_reader::Tensor),
}

struct Entry<'a> {
    /// Element type: "f32", "f16", "bf16", or the file's name for another one.
    dtype: String,
    shape: Vec<usize>,
    data: Stored<'a>,
}

/// The tensors of one checkpoint file, by name, read and converted to f32 one at a time.
pub(crate) struct Checkpoint<'a> {
    file: &'static str,
    entries: BTreeMap<String, Entry<'a>>,
}

impl<'a> Checkpoint<'a> {
    fn safetensors(bytes: &'a [u8]) -> Result<Self, WeightsError> {
        const FILE: &str = "model.safetensors";
        let parsed = SafeTensors::deserialize(bytes).map_err(|e| match e {
            SafeTensorError::HeaderTooSmall
            | SafeTensorError::InvalidHeaderLength
            | SafeTensorError::MetadataIncompleteBuffer => {
                WeightsError::Truncated { file: FILE, detail: format!("{e} in {} bytes", bytes.len()) }
            }
            other => WeightsError::Corrupt { file: FILE, detail: other.to_string() },
        })?;
        let entries = parsed
            .iter()
            .map(|(name, view)| {
                let dtype = match view.dtype() {
                    Dtype::F32 => "f32".to_string(),
                    Dtype::F16 => "f16".to_string(),
                    Dtype::BF16 => "bf16".to_string(),
                    other => format!("{other:?}"),
                };
                (name.to_string(), Entry { dtype, shape: view.shape().to_vec(), data: Stored::Bytes(view.data()) })
            })
            .collect();
        Ok(Self { file: FILE, entries })
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn pytorch(path: &std::path::Path) -> Result<Self, WeightsError> {
        const FILE: &str = "pytorch_model.bin";
        let reader = pytorch_reader::PytorchReader::new(path).map_err(|e| match &e {
            pytorch_reader::PytorchError::Zip(_) => WeightsError::Truncated { file: FILE, detail: e.to_string() },
            _ => WeightsError::Corrupt { file: FILE, detail: e.to_string() },
        })?;
        let entries = reader
            .into_tensors()
            .into_iter()
            .map(|(name, tensor)| {
                let dtype = match tensor.dtype() {
                    pytorch_reader::DType::F32 => "f32".to_string(),
                    pytorch_reader::DType::F16 => "f16".to_string(),
                    pytorch_reader::DType::BF16 => "bf16".to_string(),
                    other => format!("{other:?}"),
                };
                (name, Entry { dtype, shape: tensor.shape().to_vec(), data: Stored::Pytorch(tensor) })
            })
            .collect();
        Ok(Self { file: FILE, entries })
    }

    /// Checks names, shapes and dtypes against what `config` needs before anything is uploaded.
    fn check(&mut self, config: &ModelConfig) -> Result<(), WeightsError> {
        let (expected, own_key, other) = match config.family {
            Family::Xglm => (Xglm::checkpoint_tensors(config), "model.embed_tokens.weight", Family::Bloom),
            Family::Bloom => (Bloom::checkpoint_tensors(config), "word_embeddings.weight", Family::Xglm),
        };
        if config.family == Family::Bloom {
            // `BloomForCausalLM.save_pretrained` writes `transformer.h.0…`; the hub's bloom-560m has no prefix.
            self.entries = std::mem::take(&mut self.entries)
                .into_iter()
                .map(|(name, e)| (name.strip_prefix("transformer.").map(str::to_string).unwrap_or(name), e))
                .collect();
        }
        // The tied head's copy (old .bin files keep it) and fairseq's sinusoid buffer are recomputed, not read.
        self.entries.retain(|name, _| name != "lm_head.weight" && !name.starts_with("model.embed_positions."));
        let other_key = match other {
            Family::Xglm => "model.embed_tokens.weight",
            Family::Bloom => "word_embeddings.weight",
        };
        if !self.entries.contains_key(own_key) && self.entries.contains_key(other_key) {
            return Err(WeightsError::WrongArchitecture { config: config.family, checkpoint: other });
        }
        let missing: Vec<String> =
            expected.iter().filter(|(name, _)| !self.entries.contains_key(name)).map(|(n, _)| n.clone()).collect();
        if !missing.is_empty() {
            return Err(WeightsError::MissingTensors(missing));
        }
        let known: std::collections::BTreeSet<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
        let unexpected: Vec<String> = self.entries.keys().filter(|n| !known.contains(n.as_str())).cloned().collect();
        if !unexpected.is_empty() {
            return Err(WeightsError::UnexpectedTensors(unexpected));
        }
        for (name, shape) in &expected {
            let entry = &self.entries[name];
            if &entry.shape != shape {
                return Err(WeightsError::ShapeMismatch {
                    tensor: name.clone(),
                    expected: shape.clone(),
                    got: entry.shape.clone(),
                });
            }
            if !matches!(entry.dtype.as_str(), "f32" | "f16" | "bf16") {
                return Err(WeightsError::UnsupportedDtype { tensor: name.clone(), dtype: entry.dtype.clone() });
            }
        }
        Ok(())
    }

    /// A checked tensor's values in f32, row-major; its storage is released from the checkpoint.
    pub(crate) fn take(&mut self, name: &str) -> Result<Vec<f32>, WeightsError> {
        let entry = self.entries.remove(name).unwrap_or_else(|| panic!("{name} was not checked"));
        let owned;
        let bytes = match &entry.data {
            Stored::Bytes(bytes) => *bytes,
            Stored::Pytorch(tensor) => {
                owned = tensor.read().map_err(|e| match e.kind() {
                    std::io::ErrorKind::UnexpectedEof => WeightsError::Truncated { file: self.file, detail: e.to_string() },
                    _ => WeightsError::Corrupt { file: self.file, detail: e.to_string() },
                })?;
                &owned
            }
        };
        let pairs = bytes.chunks_exact(2).map(|b| [b[0], b[1]]);
        Ok(match entry.dtype.as_str() {
            "f32" => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            "f16" => pairs.map(|b| half::f16::from_le_bytes(b).to_f32()).collect(),
            "bf16" => pairs.map(|b| half::bf16::from_le_bytes(b).to_f32()).collect(),
            other => unreachable!("dtype {other} passed the check"),
        })
    }

    fn tensor<const D: usize>(&mut self, name: &str, shape: [usize; D], device: &Device) -> Result<Tensor<D>, WeightsError> {
        Ok(Tensor::from_data(TensorData::new(self.take(name)?, shape), device))
    }

    /// `{prefix}.weight` `[out, in]` and `{prefix}.bias` as a burn `Linear` (which stores `[in, out]`).
    pub(crate) fn linear(&mut self, prefix: &str, device: &Device) -> Result<Linear, WeightsError> {
        let weight_name = format!("{prefix}.weight");
        let [out, inp] = self.entries[&weight_name].shape[..] else { unreachable!("checked as a matrix") };
        let weight = self.tensor(&weight_name, [out, inp], device)?.transpose();
        let bias = self.tensor(&format!("{prefix}.bias"), [out], device)?;
        Ok(Linear { weight: Param::from_tensor(weight), bias: Some(Param::from_tensor(bias)) })
    }

    /// `{prefix}.weight` and `{prefix}.bias` as a burn `LayerNorm`.
    pub(crate) fn layer_norm(&mut self, prefix: &str, eps: f64, device: &Device) -> Result<LayerNorm, WeightsError> {
        let weight_name = format!("{prefix}.weight");
        let [d] = self.entries[&weight_name].shape[..] else { unreachable!("checked as a vector") };
        let mut norm = LayerNormConfig::new(d).with_epsilon(eps).init(device);
        norm.gamma = Param::from_tensor(self.tensor(&weight_name, [d], device)?);
        norm.beta = Some(Param::from_tensor(self.tensor(&format!("{prefix}.bias"), [d], device)?));
        Ok(norm)
    }
}
