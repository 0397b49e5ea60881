//! A model folder in the hub's layout, loaded with its tokenizer on the chosen device.
use std::path::Path;

use anyhow::{Context, Result};
use polyprompt::backend::{self, BackendInfo, Preference};
use polyprompt::model::tokenizer::TextTokenizer;
use polyprompt::model::{self, CausalLm, LoadOptions, WeightDtype, recorded_name};
use polyprompt::tuning::estimate::{self, StepShape};
use polyprompt::tuning::train::Backprop;

use crate::args::{MemoryArg, ModelFolderArgs};

/// The model, its tokenizer and its hub id, loaded from a folder in the hub's layout.
pub struct Loaded {
    pub model: CausalLm,
    pub tokenizer: TextTokenizer,
    pub base_model: String,
    pub backend: BackendInfo,
}

pub fn load(args: &ModelFolderArgs, base_model: Option<String>) -> Result<Loaded> {
    load_folder(&args.model, args.gpu, args.dtype.map(Into::into), base_model)
}

/// The model in `dir` on the CPU (or the GPU), its weights stored as `dtype` (default: as the file has them).
pub fn load_folder(dir: &Path, gpu: bool, dtype: Option<WeightDtype>, base_model: Option<String>) -> Result<Loaded> {
    let (device, info, _) = pollster::block_on(backend::init(if gpu { Preference::Gpu } else { Preference::Cpu }));
    eprintln!("device: {}", info.label());
    let options = LoadOptions { dtype, ..LoadOptions::default() };
    let model = model::load_dir(dir, &device, &options)
        .with_context(|| format!("cannot load the model in {}", dir.display()))?;
    let path = dir.join("tokenizer.json");
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let tokenizer = TextTokenizer::from_bytes(&bytes).with_context(|| format!("in {}", path.display()))?;
    tokenizer.check_against(model.config()).with_context(|| format!("{} does not fit the model", path.display()))?;
    let base_model = base_model.unwrap_or_else(|| hub_id(dir));
    Ok(Loaded { model, tokenizer, base_model, backend: info })
}

impl Loaded {
    /// How training steps of `shape` take their gradient: as `memory` says, or for `auto`, as fits the
    /// memory free now on the CPU (`tuning::estimate::backprop_that_fits`). Says which, and why, on stderr.
    pub fn backprop(&self, memory: MemoryArg, shape: StepShape) -> Backprop {
        let (config, dtype) = (self.model.config(), self.model.weight_dtype());
        let backprop = match memory {
            MemoryArg::Fast => Backprop::WholeGraph,
            MemoryArg::Lean => Backprop::LayerByLayer,
            MemoryArg::Auto => {
                let free = if self.backend.is_gpu() { None } else { available_memory_bytes() };
                estimate::backprop_that_fits(config, dtype, shape, free)
            }
        };
        let activations = estimate::step_activation_bytes(config, backprop, shape);
        eprintln!(
            "memory: {} (a step of {} × {} tokens keeps about {} of activations{})",
            backprop.name(),
            shape.batch,
            shape.tokens,
            polyprompt::format::bytes(activations),
            if memory == MemoryArg::Auto { "; --memory fast|lean to choose" } else { "" }
        );
        backprop
    }
}

/// MemAvailable from /proc/meminfo: what the kernel could give without swapping (None off Linux).
fn available_memory_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kib| kib * 1024)
}

/// config.json's `_name_or_path` (what transformers records), else the folder's name.
pub fn hub_id(dir: &Path) -> String {
    let recorded = std::fs::read_to_string(dir.join("config.json")).ok().and_then(|text| recorded_name(&text));
    recorded.unwrap_or_else(|| {
        let name = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        name.file_name().map_or_else(|| "local-model".into(), |n| n.to_string_lossy().into_owned())
    })
}
