//! A hub checkpoint (`model.safetensors` or `pytorch_model.bin`) read one tensor at a time from wherever
//! its bytes are ([`ByteSource`]: memory, a file, a browser's buffer), checked against what the
//! architecture needs before anything is uploaded.
//!
//! Tensor names are the checkpoint's own; each architecture lists the ones it reads (`checkpoint_tensors`).
//! Weight matrices (the linear layers and the token table) are stored as [`LoadOptions::dtype`] says: f32,
//! f16 or int8 (see `quant`); vectors (biases, LayerNorms) as f32. A checkpoint may hold f32, f16, bf16, or
//! int8 written by `convert`: an `i8` matrix `name` plus its f32 block scales `name.scales`
//! `[rows, cols / 32]`, which makes such a file self-describing. Why not burn-store's
//! `SafetensorsStore`/`PytorchStore`: they apply a whole file to a burn `Module`, but the token embedding is
//! not a module parameter here (it stays on the host, see `model::embedding`), a browser has no file path
//! for them, and their apply result reports problems per store, not as the typed
//! missing/unexpected/shape/dtype errors below. So the safetensors header is parsed by
//! `model::safetensors_header` and a `.bin` file's zip and pickle by `model::pytorch_bin`; each tensor's
//! bytes are then read by range.
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use burn::module::Param;
use burn::nn::{LayerNorm, LayerNormConfig};
use burn::tensor::{Device, Tensor, TensorData};
use safetensors::Dtype;

use super::config::{ConfigError, Family, ModelConfig};
use super::embedding::{self, TokenEmbedding};
use super::head::{self, DEFAULT_MAX_CHUNK_BYTES, TiedHead};
use super::linear::FrozenLinear;
use super::pytorch_bin::{self, BinError};
use super::quant::{BLOCK, Matrix, WeightDtype};
pub use super::safetensors_header::MAX_HEADER_BYTES;
use super::safetensors_header::{HeaderError, SafetensorsHeader};
use super::source::ByteSource;

/// Suffix of an int8 matrix's block scales.
pub(super) const SCALES: &str = ".scales";

/// Largest checkpoint accepted: far above the models a prompt is tuned for here (bloom-7b1 in f32 is 28 GB).
pub const MAX_CHECKPOINT_BYTES: u64 = 64 << 30;

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

/// A checkpoint file, as fetched or read: its format and where its bytes are (read tensor by tensor).
#[derive(Clone, Copy)]
pub enum WeightsFile<'a> {
    Safetensors(&'a dyn ByteSource),
    /// `torch.save`'s zip format (what `save_pretrained` wrote before safetensors).
    PytorchBin(&'a dyn ByteSource),
}

impl<'a> WeightsFile<'a> {
    /// The checkpoint file called `name`: [`PYTORCH_FILE`] is torch.save's format, any other name is read
    /// as safetensors (whose reader says so if it is not).
    pub fn named(name: &str, source: &'a dyn ByteSource) -> WeightsFile<'a> {
        if name == PYTORCH_FILE { WeightsFile::PytorchBin(source) } else { WeightsFile::Safetensors(source) }
    }

    pub fn source(&self) -> &'a dyn ByteSource {
        match self {
            WeightsFile::Safetensors(source) | WeightsFile::PytorchBin(source) => *source,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            WeightsFile::Safetensors(_) => SAFETENSORS_FILE,
            WeightsFile::PytorchBin(_) => PYTORCH_FILE,
        }
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
    pub(super) fn dtype(&self) -> WeightDtype {
        self.dtype.expect("load resolves the dtype before building")
    }
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { max_chunk_bytes: DEFAULT_MAX_CHUNK_BYTES, dtype: None }
    }
}

pub(super) struct Entry {
    /// Element type: "f32", "f16", "bf16", "i8", or the file's name for another one.
    dtype: String,
    pub(super) shape: Vec<usize>,
    /// Where its bytes are in the file.
    range: Range<u64>,
}

/// The tensors of one checkpoint file, by name, read and converted to f32 one at a time (the token table a
/// block of rows at a time), so the file is never held whole.
pub(crate) struct Checkpoint<'a> {
    pub(super) entries: BTreeMap<String, Entry>,
    file: WeightsFile<'a>,
}

impl<'a> Checkpoint<'a> {
    /// The tensors of `file`, located from its header (safetensors) or zip directory (`.bin`).
    pub(super) fn open(file: WeightsFile<'a>) -> Result<Self, WeightsError> {
        let entries = match file {
            WeightsFile::Safetensors(source) => Checkpoint::safetensors(source)?,
            WeightsFile::PytorchBin(source) => Checkpoint::pytorch(source)?,
        };
        Ok(Self { entries, file })
    }

    fn pytorch(source: &dyn ByteSource) -> Result<BTreeMap<String, Entry>, WeightsError> {
        let tensors = pytorch_bin::read(source).map_err(|e| match e {
            BinError::Truncated(detail) => WeightsError::Truncated { file: PYTORCH_FILE, detail },
            BinError::Corrupt(detail) => WeightsError::Corrupt { file: PYTORCH_FILE, detail },
        })?;
        Ok(tensors
            .into_iter()
            .map(|(name, t)| (name, Entry { dtype: t.dtype, shape: t.shape, range: t.range }))
            .collect())
    }

    fn safetensors(source: &dyn ByteSource) -> Result<BTreeMap<String, Entry>, WeightsError> {
        let header = SafetensorsHeader::read_from(source).map_err(|e| match e {
            HeaderError::TooShort(_) | HeaderError::HeaderCut { .. } => {
                WeightsError::Truncated { file: SAFETENSORS_FILE, detail: e.to_string() }
            }
            HeaderError::TooLong(n) => WeightsError::Oversized {
                file: SAFETENSORS_FILE,
                what: format!("a header of {n} bytes (the limit is {} MiB)", MAX_HEADER_BYTES >> 20),
            },
            HeaderError::Invalid(_) => WeightsError::Corrupt { file: SAFETENSORS_FILE, detail: e.to_string() },
        })?;
        if header.data_bytes > MAX_CHECKPOINT_BYTES {
            let what = format!(
                "{:.1} GB of tensors (the limit is {} GiB)",
                header.data_bytes as f64 / 1e9,
                MAX_CHECKPOINT_BYTES >> 30
            );
            return Err(WeightsError::Oversized { file: SAFETENSORS_FILE, what });
        }
        if header.data_bytes > header.held_bytes {
            let detail = format!(
                "its header describes {} bytes of tensors but only {} follow",
                header.data_bytes, header.held_bytes
            );
            return Err(WeightsError::Truncated { file: SAFETENSORS_FILE, detail });
        }
        let start = header.data_start(source);
        let entries = header
            .tensors
            .into_iter()
            .map(|(name, info)| {
                let dtype = match info.dtype {
                    Dtype::F32 => "f32".to_string(),
                    Dtype::F16 => "f16".to_string(),
                    Dtype::BF16 => "bf16".to_string(),
                    Dtype::I8 => "i8".to_string(),
                    other => format!("{other:?}"),
                };
                let range = start + info.offsets.start..start + info.offsets.end;
                (name, Entry { dtype, shape: info.shape, range })
            })
            .collect();
        Ok(entries)
    }

    /// Checks names, shapes and dtypes against `expected`, the tensors `config`'s architecture reads, before
    /// anything is uploaded; returns how the token table is stored (what loading keeps unless told otherwise).
    pub(super) fn check(
        &mut self,
        config: &ModelConfig,
        expected: &[(String, Vec<usize>)],
    ) -> Result<WeightDtype, WeightsError> {
        let (own_key, other) = match config.family {
            Family::Xglm => ("model.embed_tokens.weight", Family::Bloom),
            Family::Bloom => ("word_embeddings.weight", Family::Xglm),
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
        let is_known =
            |name: &str| known.contains(name) || name.strip_suffix(SCALES).is_some_and(|matrix| known.contains(matrix));
        let unexpected: Vec<String> = self.entries.keys().filter(|n| !is_known(n)).cloned().collect();
        if !unexpected.is_empty() {
            return Err(WeightsError::UnexpectedTensors(unexpected));
        }
        for (name, shape) in expected {
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
    pub(super) fn check_scales(&self, name: &str, rows: usize, cols: usize) -> Result<(), WeightsError> {
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
    pub(super) fn check_quantizable(&self) -> Result<(), WeightsError> {
        let unfit = |(name, e): &(&String, &Entry)| {
            e.shape.len() == 2 && !e.shape[1].is_multiple_of(BLOCK) && e.dtype != "i8" && !name.ends_with(SCALES)
        };
        match self.entries.iter().find(unfit) {
            Some((name, e)) => Err(WeightsError::NotQuantizable { tensor: name.clone(), cols: e.shape[1] }),
            None => Ok(()),
        }
    }

    /// The bytes of `range` of the file; a range the file does not hold means it was cut off.
    fn bytes(&self, range: Range<u64>) -> Result<Cow<'a, [u8]>, WeightsError> {
        let file = self.file.name();
        self.file.source().read_at(range).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => WeightsError::Truncated { file, detail: e.to_string() },
            _ => WeightsError::Corrupt { file, detail: e.to_string() },
        })
    }

    /// A checked matrix with rows of `cols` values, stored as `dtype`. An int8 matrix asked for as int8 is
    /// taken as it is (so a converted file loads bit-identically); anything else goes through f32, a block
    /// of rows at a time, so that the f32 token table (1 GiB for a 250k vocabulary) is never held whole
    /// beside what it becomes.
    pub(super) fn matrix(&mut self, name: &str, cols: usize, dtype: WeightDtype) -> Result<Matrix, WeightsError> {
        let mut whole = None;
        self.matrix_parts(name, cols, dtype, usize::MAX, |part| whole = Some(part))?;
        Ok(whole.expect("a matrix has one part at least"))
    }

    /// [`Self::matrix`] handed to `each` in consecutive parts of `rows_per_part` rows (the last may be
    /// shorter; a stored int8 matrix comes whole), so that a caller that uploads each part never holds the
    /// whole matrix on the host.
    pub(super) fn matrix_parts(
        &mut self,
        name: &str,
        cols: usize,
        dtype: WeightDtype,
        rows_per_part: usize,
        mut each: impl FnMut(Matrix),
    ) -> Result<(), WeightsError> {
        if self.entries[name].dtype == "i8" {
            let scales = self.take(&format!("{name}{SCALES}"))?;
            let entry = self.entries.remove(name).expect("checked");
            let values = self.bytes(entry.range)?.iter().map(|&b| b as i8).collect();
            let stored = Matrix::Int8 { values, scales };
            each(match dtype {
                WeightDtype::Int8 => stored,
                _ => Matrix::quantize(stored.to_f32(), cols, dtype),
            });
            return Ok(());
        }
        let entry = self.entries.remove(name).expect("checked");
        let row_bytes = cols as u64 * element_bytes(&entry.dtype);
        let rows = (entry.range.end - entry.range.start) / row_bytes.max(1);
        let rows_per_part = (rows_per_part as u64).min(rows).max(1);
        let rows_per_read = (CONVERT_BLOCK_BYTES / row_bytes.max(1)).clamp(1, rows_per_part);
        for part_start in (0..rows).step_by(rows_per_part as usize) {
            let part_end = (part_start + rows_per_part).min(rows);
            let mut part = Matrix::with_capacity(dtype, ((part_end - part_start) * cols as u64) as usize);
            for first in (part_start..part_end).step_by(rows_per_read as usize) {
                let last = (first + rows_per_read).min(part_end);
                let bytes = self.bytes(entry.range.start + first * row_bytes..entry.range.start + last * row_bytes)?;
                part.push_rows(&to_f32(&bytes, &entry.dtype), cols);
            }
            each(part);
        }
        Ok(())
    }

    /// A checked tensor's values in f32, row-major; its entry is released from the checkpoint.
    pub(crate) fn take(&mut self, name: &str) -> Result<Vec<f32>, WeightsError> {
        let entry = self.entries.remove(name).unwrap_or_else(|| panic!("{name} was not checked"));
        Ok(to_f32(&self.bytes(entry.range)?, &entry.dtype))
    }

    pub(super) fn tensor<const D: usize>(
        &mut self,
        name: &str,
        shape: [usize; D],
        device: &Device,
    ) -> Result<Tensor<D>, WeightsError> {
        Ok(Tensor::from_data(TensorData::new(self.take(name)?, shape), device))
    }

    /// `{prefix}.weight` `[out, in]`, stored as `options.dtype`, and `{prefix}.bias` in f32.
    pub(crate) fn linear(
        &mut self,
        prefix: &str,
        device: &Device,
        options: &LoadOptions,
    ) -> Result<FrozenLinear, WeightsError> {
        let weight_name = format!("{prefix}.weight");
        let [out, inp] = self.entries[&weight_name].shape[..] else { unreachable!("checked as a matrix") };
        let weight = self.matrix(&weight_name, inp, options.dtype())?.tensor(0..out, inp, device);
        let bias = self.tensor(&format!("{prefix}.bias"), [out], device)?;
        Ok(FrozenLinear::new(weight, bias))
    }

    /// The token table `name` `[vocab, hidden]` as `options.dtype`, and the LM head tied to it. Where the
    /// embedding reads its rows from the head ([`embedding::shares_head`]), the table is read and uploaded
    /// a head chunk at a time, so that it is never held twice, not even while loading; elsewhere it is
    /// kept on the host and the head's chunks are uploaded from there.
    pub(crate) fn token_table(
        &mut self,
        name: &str,
        device: &Device,
        options: &LoadOptions,
    ) -> Result<(TokenEmbedding, TiedHead), WeightsError> {
        let [vocab, hidden] = self.entries[name].shape[..] else { unreachable!("checked as a matrix") };
        let dtype = options.dtype();
        let rows_per_chunk = head::rows_per_chunk(hidden, options.max_chunk_bytes);
        if embedding::shares_head(dtype, device) {
            let mut chunks = Vec::new();
            self.matrix_parts(name, hidden, dtype, rows_per_chunk, |part| {
                chunks.extend(head::chunks_of(&part, hidden, rows_per_chunk, device));
            })?;
            let head = TiedHead::from_chunks(chunks, rows_per_chunk);
            return Ok((TokenEmbedding::on_head(head.clone(), vocab, hidden), head));
        }
        let table = self.matrix(name, hidden, dtype)?;
        let head = TiedHead::from_chunks(head::chunks_of(&table, hidden, rows_per_chunk, device), rows_per_chunk);
        let embedding = TokenEmbedding::on_host(table, vocab, hidden);
        Ok((embedding, head))
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

/// Bytes of a checkpoint read at once when a matrix is converted a block of rows at a time.
const CONVERT_BLOCK_BYTES: u64 = 4 << 20;

/// Bytes per value of the float dtypes a checkpoint may store.
fn element_bytes(dtype: &str) -> u64 {
    match dtype {
        "f32" => 4,
        "f16" | "bf16" => 2,
        other => unreachable!("dtype {other} passed the check"),
    }
}

/// Little-endian values of `dtype` ("f32", "f16", "bf16") as f32.
fn to_f32(bytes: &[u8], dtype: &str) -> Vec<f32> {
    let pairs = bytes.chunks_exact(2).map(|b| [b[0], b[1]]);
    match dtype {
        "f32" => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        "f16" => pairs.map(|b| half::f16::from_le_bytes(b).to_f32()).collect(),
        "bf16" => pairs.map(|b| half::bf16::from_le_bytes(b).to_f32()).collect(),
        other => unreachable!("dtype {other} passed the check"),
    }
}
