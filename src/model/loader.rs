//! A model folder or checkpoint file → a frozen [`CausalLm`]: reads `config.json`'s architecture, checks the
//! checkpoint against it (see [`Checkpoint`]), and builds XGLM or BLOOM on a device.
use burn::tensor::{DType, Device};

use super::bloom::Bloom;
use super::causal_lm::CausalLm;
use super::checkpoint::{Checkpoint, LoadOptions, WeightsError, WeightsFile};
#[cfg(not(target_arch = "wasm32"))]
use super::checkpoint::{PYTORCH_FILE, SAFETENSORS_FILE};
use super::config::{Family, ModelConfig};
use super::quant::WeightDtype;
#[cfg(not(target_arch = "wasm32"))]
use super::source::FileSource;
use super::xglm::Xglm;

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
/// `pytorch_model.bin`, whose tensors are read from the file one at a time (seek and read).
#[cfg(not(target_arch = "wasm32"))]
pub fn load_dir(dir: &std::path::Path, device: &Device, options: &LoadOptions) -> Result<CausalLm, WeightsError> {
    let path = dir.join("config.json");
    let config = std::fs::read(&path).map_err(|source| io_error(&path, source))?;
    let config = ModelConfig::from_json(&String::from_utf8_lossy(&config))?;
    let name = [SAFETENSORS_FILE, PYTORCH_FILE]
        .into_iter()
        .find(|name| dir.join(name).exists())
        .ok_or_else(|| WeightsError::NoWeights(dir.display().to_string()))?;
    let path = dir.join(name);
    let source = FileSource::open(&path).map_err(|source| io_error(&path, source))?;
    load(&config, WeightsFile::named(name, &source), device, options)
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
    let stored = ckpt.check(config, &expected_tensors(config))?;
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

/// The tensors `config`'s architecture reads from a checkpoint, with their shapes.
pub(super) fn expected_tensors(config: &ModelConfig) -> Vec<(String, Vec<usize>)> {
    match config.family {
        Family::Xglm => Xglm::checkpoint_tensors(config),
        Family::Bloom => Bloom::checkpoint_tensors(config),
    }
}
