//! Loading a hub checkpoint (`model.safetensors` or `pytorch_model.bin`) into a frozen [`CausalLm`].
//!
//! Tensor names are the checkpoint's own (see `Xglm::checkpoint_tensors` / `Bloom::checkpoint_tensors`).
//! Weight matrices (the linear layers and the token table) are stored as [`LoadOptions::dtype`] says: f32,
//! f16 or int8 (see `quant`); vectors (biases, LayerNorms) as f32. A checkpoint may hold f32, f16, bf16, or
//! int8 written by [`convert`]: an `i8` matrix `name` plus its f32 block scales `name.scales`
//! `[rows, cols / 32]`, which makes such a file self-describing. Why not burn-store's `SafetensorsStore`/`PytorchStore`: they
//! apply a file to a burn `Module`, but the token embedding is not a module parameter here (it stays on the
//! host, see `model::embedding`), and their apply result reports problems per store, not as the typed
//! missing/unexpected/shape/dtype errors below. So safetensors bytes are read with the `safetensors` crate
//! (works from bytes, also in wasm); a `.bin` file's bytes with [`crate::pytorch_bin`], and a `.bin` file on
//! disk ([`load_dir`]) with burn-store's PyTorch reader (`pytorch_reader`), which reads tensors lazily.
use std::borrow::Cow;
use std::collections::BTreeMap;

use burn::module::Param;
use burn::nn::{LayerNorm, LayerNormConfig};
#[cfg(not(target_arch = "wasm32"))]
use burn::store::pytorch_reader;
use burn::tensor::{DType, Device, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors};

use crate::model::bloom::Bloom;
use crate::model::embedding::HostEmbedding;
use crate::model::linear::FrozenLinear;
use crate::model::xglm::Xglm;
use crate::pytorch_bin::{self, BinError};
use crate::model::{CausalLm, ConfigError, DEFAULT_MAX_CHUNK_BYTES, Family, ModelConfig, WeightDtype};
use crate::quant::{BLOCK, Matrix};

/// Suffix of an int8 matrix's block scales.
const SCALES: &str = ".scales";

/// Largest safetensors header read: a checkpoint's lists its few hundred tensors in tens of kB (the
/// safetensors crate itself would read and parse up to 100 MB).
pub const MAX_HEADER_BYTES: u64 = 16 << 20;
/// Largest checkpoint accepted: far above the models a prompt is tuned for here (bloom-7b1 in f32 is 28 GB).
pub const MAX_CHECKPOINT_BYTES: u64 = 64 << 30;

/// What a safetensors file's header claims, read and checked before any tensor is.
pub(crate) struct SafetensorsHeader {
    pub(crate) metadata: safetensors::tensor::Metadata,
    /// Bytes of tensor data the header describes.
    pub(crate) data_bytes: u64,
    /// Bytes that follow the header in the file.
    pub(crate) held_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum HeaderError {
    #[error("{0} bytes are too few for a safetensors header")]
    TooShort(usize),
    #[error("it declares a header of {0} bytes, over the {MAX_HEADER_BYTES}-byte limit")]
    TooLong(u64),
    #[error("its header is {header} bytes but only {held} follow")]
    HeaderCut { header: u64, held: u64 },
    #[error("its header is unreadable ({0})")]
    Invalid(String),
}

impl SafetensorsHeader {
    /// The header of `bytes`, its length checked against [`MAX_HEADER_BYTES`] before it is parsed; the
    /// tensors' offsets and sizes are checked for consistency with each other, not yet with the file.
    pub(crate) fn read(bytes: &[u8]) -> Result<SafetensorsHeader, HeaderError> {
        let length = bytes.first_chunk::<8>().ok_or(HeaderError::TooShort(bytes.len()))?;
        let header_bytes = u64::from_le_bytes(*length);
        if header_bytes > MAX_HEADER_BYTES {
            return Err(HeaderError::TooLong(header_bytes));
        }
        let rest = &bytes[8..];
        let header = rest
            .get(..header_bytes as usize)
            .ok_or(HeaderError::HeaderCut { header: header_bytes, held: rest.len() as u64 })?;
        let metadata: safetensors::tensor::Metadata =
            serde_json::from_slice(header).map_err(|e| HeaderError::Invalid(e.to_string()))?;
        // Offsets are contiguous from 0 (checked by the parse above), so the last end is the data size.
        let data_bytes = metadata.tensors().values().map(|info| info.data_offsets.1 as u64).max().unwrap_or(0);
        Ok(SafetensorsHeader { metadata, data_bytes, held_bytes: (rest.len() - header.len()) as u64 })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("{file} is truncated ({detail}): the download was probably interrupted; download it again")]
    Truncated { file: &'static str, detail: String },
    #[error("{file} is not a readable checkpoint ({detail}): is it the right file?")]
    Corrupt { file: &'static str, detail: String },
    #[error(
        "{file} declares {what}, more than polyprompt accepts: the file is damaged or not a model checkpoint; \
         download the model's own file again"
    )]
    Oversized { file: &'static str, what: String },
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
    #[error("tensor {tensor} is stored as {dtype}; only f32, f16, bf16 (and int8 matrices with scales) can be loaded")]
    UnsupportedDtype { tensor: String, dtype: String },
    #[error(
        "int8 matrix {tensor} has no valid block scales ({detail}): the file is damaged or was not written by \
         `polyprompt convert`; convert the original checkpoint again"
    )]
    BadScales { tensor: String, detail: String },
    #[error(
        "tensor {tensor} has rows of {cols} values, not a multiple of {BLOCK}: it cannot be stored as int8; \
         load the model as f16 or f32"
    )]
    NotQuantizable { tensor: String, cols: usize },
    #[error("this device cannot store {0} weights (a GPU without f16 shader support, say): choose another dtype")]
    DtypeUnsupported(&'static str),
    #[error("config.json: {0}")]
    Config(#[from] ConfigError),
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("neither model.safetensors nor pytorch_model.bin is in {0}")]
    NoWeights(String),
}

/// The checkpoint file names of the hub's layout.
pub const SAFETENSORS_FILE: &str = "model.safetensors";
pub const PYTORCH_FILE: &str = "pytorch_model.bin";

/// A checkpoint file's bytes, as fetched or read.
#[derive(Clone, Copy, Debug)]
pub enum WeightsFile<'a> {
    Safetensors(&'a [u8]),
    /// `torch.save`'s zip format (what `save_pretrained` wrote before safetensors).
    PytorchBin(&'a [u8]),
}

impl<'a> WeightsFile<'a> {
    /// The bytes of the checkpoint file called `name`: [`PYTORCH_FILE`] is torch.save's format, any other
    /// name is read as safetensors (whose reader says so if it is not).
    pub fn named(name: &str, bytes: &'a [u8]) -> WeightsFile<'a> {
        if name == PYTORCH_FILE { WeightsFile::PytorchBin(bytes) } else { WeightsFile::Safetensors(bytes) }
    }
}

#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Largest device buffer for a slice of the tied LM head, in f32 (see `model::head`).
    pub max_chunk_bytes: usize,
    /// How to store the weight matrices; `None` keeps the checkpoint's (f16 and int8 files stay as they
    /// are, f32 and bf16 ones load as f32).
    pub dtype: Option<WeightDtype>,
}

impl LoadOptions {
    /// The dtype once `load` has resolved it from the checkpoint.
    fn dtype(&self) -> WeightDtype {
        self.dtype.expect("load resolves the dtype before building")
    }
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { max_chunk_bytes: DEFAULT_MAX_CHUNK_BYTES, dtype: None }
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
    build(config, &mut Checkpoint::open(file)?, device, options)
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
    let safetensors = dir.join(SAFETENSORS_FILE);
    let bin = dir.join(PYTORCH_FILE);
    if safetensors.exists() {
        load(&config, WeightsFile::Safetensors(&read(SAFETENSORS_FILE)?), device, options)
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
    let stored = ckpt.check(config)?;
    let options = LoadOptions { dtype: Some(options.dtype.unwrap_or(stored)), ..options.clone() };
    let dtype = options.dtype();
    if dtype == WeightDtype::Int8 {
        ckpt.check_quantizable()?;
    }
    // int8 is stored as packed u32 on WebGPU, which every adapter has; f16 needs shader support.
    if dtype == WeightDtype::F16 && !device.supports_dtype(DType::F16) {
        return Err(WeightsError::DtypeUnsupported(dtype.name()));
    }
    Ok(match config.family {
        Family::Xglm => CausalLm::Xglm(Xglm::load(config, ckpt, &device, &options)?),
        Family::Bloom => CausalLm::Bloom(Bloom::load(config, ckpt, &device, &options)?),
    })
}

/// The checkpoint `file` rewritten as a self-describing safetensors file whose weight matrices are stored
/// as `dtype` (vectors stay f32), named as `config`'s family expects. [`load`] reads it back to exactly the
/// tensors that loading `file` with `LoadOptions::dtype` = `dtype` gives.
pub fn convert(config: &ModelConfig, file: WeightsFile, dtype: WeightDtype) -> Result<Vec<u8>, WeightsError> {
    let mut ckpt = Checkpoint::open(file)?;
    ckpt.check(config)?;
    if dtype == WeightDtype::Int8 {
        ckpt.check_quantizable()?;
    }
    // An int8 matrix's scales are taken with it.
    let names: Vec<(String, Vec<usize>)> = ckpt
        .entries
        .iter()
        .filter(|(name, _)| !name.ends_with(SCALES))
        .map(|(n, e)| (n.clone(), e.shape.clone()))
        .collect();
    let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, shape) in names {
        if let [rows, cols] = shape[..] {
            match ckpt.matrix(&name, cols, dtype)? {
                Matrix::F32(v) => tensors.push((name, Dtype::F32, shape, v.iter().flat_map(|x| x.to_le_bytes()).collect())),
                Matrix::F16(v) => tensors.push((name, Dtype::F16, shape, v.iter().flat_map(|x| x.to_le_bytes()).collect())),
                Matrix::Int8 { values, scales } => {
                    let scales_bytes = scales.iter().flat_map(|x| x.to_le_bytes()).collect();
                    tensors.push((format!("{name}{SCALES}"), Dtype::F32, vec![rows, cols / BLOCK], scales_bytes));
                    tensors.push((name, Dtype::I8, shape, values.iter().map(|&q| q as u8).collect()));
                }
            }
        } else {
            let values = ckpt.take(&name)?;
            tensors.push((name, Dtype::F32, shape, values.iter().flat_map(|x| x.to_le_bytes()).collect()));
        }
    }
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            (name.clone(), safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes).expect("sizes match"))
        })
        .collect();
    let metadata = std::collections::HashMap::from([
        ("format".to_string(), "pt".to_string()),
        ("polyprompt_dtype".to_string(), dtype.name().to_string()),
    ]);
    Ok(safetensors::serialize(views, Some(metadata)).expect("in-memory serialization"))
}

enum Stored<'a> {
    Bytes(&'a [u8]),
    #[cfg(not(target_arch = "wasm32"))]
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
    entries: BTreeMap<String, Entry<'a>>,
}

impl<'a> Checkpoint<'a> {
    /// The tensors of `file`, read in place from its bytes.
    fn open(file: WeightsFile<'a>) -> Result<Self, WeightsError> {
        match file {
            WeightsFile::Safetensors(bytes) => Checkpoint::safetensors(bytes),
            WeightsFile::PytorchBin(bytes) => Checkpoint::pytorch_bytes(bytes),
        }
    }

    fn pytorch_bytes(bytes: &'a [u8]) -> Result<Self, WeightsError> {
        let tensors = pytorch_bin::read(bytes).map_err(|e| match e {
            BinError::Truncated(detail) => WeightsError::Truncated { file: PYTORCH_FILE, detail },
            BinError::Corrupt(detail) => WeightsError::Corrupt { file: PYTORCH_FILE, detail },
        })?;
        let entries = tensors
            .into_iter()
            .map(|(name, t)| (name, Entry { dtype: t.dtype, shape: t.shape, data: Stored::Bytes(t.data) }))
            .collect();
        Ok(Self { entries })
    }

    fn safetensors(bytes: &'a [u8]) -> Result<Self, WeightsError> {
        let header = SafetensorsHeader::read(bytes).map_err(|e| match e {
            HeaderError::TooShort(_) | HeaderError::HeaderCut { .. } => WeightsError::Truncated { file: SAFETENSORS_FILE, detail: e.to_string() },
            HeaderError::TooLong(n) => {
                WeightsError::Oversized { file: SAFETENSORS_FILE, what: format!("a header of {n} bytes (the limit is {} MiB)", MAX_HEADER_BYTES >> 20) }
            }
            HeaderError::Invalid(_) => WeightsError::Corrupt { file: SAFETENSORS_FILE, detail: e.to_string() },
        })?;
        if header.data_bytes > MAX_CHECKPOINT_BYTES {
            let what = format!("{:.1} GB of tensors (the limit is {} GiB)", header.data_bytes as f64 / 1e9, MAX_CHECKPOINT_BYTES >> 30);
            return Err(WeightsError::Oversized { file: SAFETENSORS_FILE, what });
        }
        if header.data_bytes > header.held_bytes {
            let detail = format!("its header describes {} bytes of tensors but only {} follow", header.data_bytes, header.held_bytes);
            return Err(WeightsError::Truncated { file: SAFETENSORS_FILE, detail });
        }
        let parsed = SafeTensors::deserialize(bytes).map_err(|e| WeightsError::Corrupt { file: SAFETENSORS_FILE, detail: e.to_string() })?;
        let entries = parsed
            .iter()
            .map(|(name, view)| {
                let dtype = match view.dtype() {
                    Dtype::F32 => "f32".to_string(),
                    Dtype::F16 => "f16".to_string(),
                    Dtype::BF16 => "bf16".to_string(),
                    Dtype::I8 => "i8".to_string(),
                    other => format!("{other:?}"),
                };
                (name.to_string(), Entry { dtype, shape: view.shape().to_vec(), data: Stored::Bytes(view.data()) })
            })
            .collect();
        Ok(Self { entries })
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn pytorch(path: &std::path::Path) -> Result<Self, WeightsError> {
        // A file that starts as a zip but whose archive does not parse has lost its end (the central directory).
        let reader = pytorch_reader::PytorchReader::new(path).map_err(|e| match &e {
            pytorch_reader::PytorchError::Zip(_) => WeightsError::Truncated { file: PYTORCH_FILE, detail: e.to_string() },
            _ => WeightsError::Corrupt { file: PYTORCH_FILE, detail: e.to_string() },
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
        Ok(Self { entries })
    }

    /// Checks names, shapes and dtypes against what `config` needs before anything is uploaded; returns how
    /// the token table is stored (what loading keeps unless told otherwise).
    fn check(&mut self, config: &ModelConfig) -> Result<WeightDtype, WeightsError> {
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
        let is_known = |name: &str| {
            known.contains(name) || name.strip_suffix(SCALES).is_some_and(|matrix| known.contains(matrix))
        };
        let unexpected: Vec<String> = self.entries.keys().filter(|n| !is_known(n)).cloned().collect();
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
            match (entry.dtype.as_str(), &shape[..]) {
                ("f32" | "f16" | "bf16", _) => {}
                ("i8", [rows, cols]) => self.check_scales(name, *rows, *cols)?,
                _ => return Err(WeightsError::UnsupportedDtype { tensor: name.clone(), dtype: entry.dtype.clone() }),
            }
        }
        Ok(match self.entries[own_key].dtype.as_str() {
            "i8" => WeightDtype::Int8,
            "f16" => WeightDtype::F16,
            _ => WeightDtype::F32,
        })
    }

    /// An i8 matrix needs f32 scales, one per block of each row.
    fn check_scales(&self, name: &str, rows: usize, cols: usize) -> Result<(), WeightsError> {
        let bad = |detail: String| WeightsError::BadScales { tensor: name.to_string(), detail };
        let Some(scales) = self.entries.get(&format!("{name}{SCALES}")) else {
            return Err(bad(format!("{name}{SCALES} is missing")));
        };
        if !cols.is_multiple_of(BLOCK) || scales.shape != [rows, cols / BLOCK] || scales.dtype != "f32" {
            return Err(bad(format!(
                "expected f32 [{rows}, {}], found {} {:?}",
                cols / BLOCK,
                scales.dtype,
                scales.shape
            )));
        }
        Ok(())
    }

    /// Every matrix row must be a whole number of int8 blocks.
    fn check_quantizable(&self) -> Result<(), WeightsError> {
        let unfit = |(name, e): &(&String, &Entry)| {
            e.shape.len() == 2 && !e.shape[1].is_multiple_of(BLOCK) && e.dtype != "i8" && !name.ends_with(SCALES)
        };
        match self.entries.iter().find(unfit) {
            Some((name, e)) => Err(WeightsError::NotQuantizable { tensor: name.clone(), cols: e.shape[1] }),
            None => Ok(()),
        }
    }

    /// A checked matrix with rows of `cols` values, stored as `dtype`. An int8 matrix asked for as int8 is
    /// taken as it is (so a converted file loads bit-identically); anything else goes through f32.
    fn matrix(&mut self, name: &str, cols: usize, dtype: WeightDtype) -> Result<Matrix, WeightsError> {
        if self.entries[name].dtype == "i8" {
            let scales = self.take(&format!("{name}{SCALES}"))?;
            let entry = self.entries.remove(name).expect("checked");
            let values = match entry.data {
                Stored::Bytes(bytes) => bytes.iter().map(|&b| b as i8).collect(),
                #[cfg(not(target_arch = "wasm32"))]
                Stored::Pytorch(_) => unreachable!("i8 matrices come from safetensors files"),
            };
            let stored = Matrix::Int8 { values, scales };
            return Ok(match dtype {
                WeightDtype::Int8 => stored,
                _ => Matrix::quantize(stored.to_f32(), cols, dtype),
            });
        }
        Ok(Matrix::quantize(self.take(name)?, cols, dtype))
    }

    /// A checked tensor's values in f32, row-major; its storage is released from the checkpoint.
    pub(crate) fn take(&mut self, name: &str) -> Result<Vec<f32>, WeightsError> {
        let entry = self.entries.remove(name).unwrap_or_else(|| panic!("{name} was not checked"));
        let bytes: Cow<[u8]> = match entry.data {
            Stored::Bytes(bytes) => Cow::Borrowed(bytes),
            // A .bin tensor is read from its file only now.
            #[cfg(not(target_arch = "wasm32"))]
            Stored::Pytorch(tensor) => Cow::Owned(tensor.read().map_err(|e| {
                let (file, detail) = (PYTORCH_FILE, e.to_string());
                match e.kind() {
                    std::io::ErrorKind::UnexpectedEof => WeightsError::Truncated { file, detail },
                    _ => WeightsError::Corrupt { file, detail },
                }
            })?),
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

    /// `{prefix}.weight` `[out, in]`, stored as `options.dtype`, and `{prefix}.bias` in f32.
    pub(crate) fn linear(&mut self, prefix: &str, device: &Device, options: &LoadOptions) -> Result<FrozenLinear, WeightsError> {
        let weight_name = format!("{prefix}.weight");
        let [out, inp] = self.entries[&weight_name].shape[..] else { unreachable!("checked as a matrix") };
        let weight = self.matrix(&weight_name, inp, options.dtype())?.tensor(0..out, inp, device);
        let bias = self.tensor(&format!("{prefix}.bias"), [out], device)?;
        Ok(FrozenLinear::new(weight, bias))
    }

    /// The token table `name` `[vocab, hidden]`, kept on the host as `options.dtype`.
    pub(crate) fn embedding(&mut self, name: &str, options: &LoadOptions) -> Result<HostEmbedding, WeightsError> {
        let [vocab, hidden] = self.entries[name].shape[..] else { unreachable!("checked as a matrix") };
        Ok(HostEmbedding::new(self.matrix(name, hidden, options.dtype())?, vocab, hidden))
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
