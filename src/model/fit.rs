//! Whether a model fits the device before anything is allocated, so running out of memory is a message
//! rather than a crashed tab.
use super::config::{ModelConfig, WASM_MEMORY_BYTES};
use super::head::DEFAULT_MAX_CHUNK_BYTES;
use super::quant::WeightDtype;
use crate::backend::BackendInfo;
use crate::format;

/// Whether a model loaded as `dtype` fits a browser's training worker on this backend (wasm addresses
/// 4 GiB; on the CPU fallback the model and a training step's activations, `step_bytes`, live in that
/// memory too) and whether its largest layer fits one buffer of this GPU; checked before anything is
/// downloaded or allocated, so running out of memory is a message rather than a crashed tab. Gives the
/// largest chunk of the tied head loading may make: the adapter's limit, but never over
/// [`DEFAULT_MAX_CHUNK_BYTES`] — each chunk is widened to f32 while it is used, so an adapter that allowed
/// 2 GiB bindings (SwiftShader's) had the whole 1 GB f32 table widened at once, twice in a training step,
/// and the GPU held 2.5 GB for a model whose int8 weights are 0.3 GB.
pub fn check_fits(
    backend: &BackendInfo,
    name: &str,
    config: &ModelConfig,
    dtype: WeightDtype,
    step_bytes: u64,
) -> Result<usize, String> {
    let needed = config.browser_memory_bytes(dtype, backend.is_gpu(), step_bytes);
    if needed > WASM_MEMORY_BYTES {
        return Err(format!(
            "{name} as {} needs about {} of memory to train, more than the {} a browser's worker can use{}: \
             choose int8{}",
            dtype.name(),
            format::bytes(needed),
            format::bytes(WASM_MEMORY_BYTES),
            if backend.is_gpu() { "" } else { " (on the CPU the model and its training live in that memory too)" },
            if backend.is_gpu() { ", or a smaller model" } else { ", a browser with WebGPU, or a smaller model" },
        ));
    }
    match backend {
        BackendInfo::Gpu { max_binding_bytes, max_buffer_bytes, .. } => {
            let limit = (*max_binding_bytes).min(*max_buffer_bytes);
            if config.largest_layer_buffer() > limit {
                return Err(format!(
                    "a layer of {name} needs a {} GPU buffer, but this WebGPU adapter allows {}: use the CPU \
                     fallback or a smaller model",
                    format::bytes(config.largest_layer_buffer()),
                    format::bytes(limit)
                ));
            }
            Ok(limit.min(DEFAULT_MAX_CHUNK_BYTES as u64) as usize)
        }
        BackendInfo::Cpu { .. } => Ok(DEFAULT_MAX_CHUNK_BYTES),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_too_large_for_the_page_or_the_gpu_is_refused_before_loading() {
        let bloom = ModelConfig::from_json(crate::files::hub::PRESETS[0].config_json).unwrap();
        // A training step's activations (tuning::estimate at batch 8): one graph in f32, layer by layer in int8.
        let (whole, lean) = (2400 << 20, 200 << 20);
        let name = "bigscience/bloom-560m";
        let cpu = BackendInfo::Cpu { reason: "no WebGPU adapter".into() };
        let refused = check_fits(&cpu, name, &bloom, WeightDtype::F32, whole).unwrap_err();
        assert!(refused.starts_with("bigscience/bloom-560m as f32 needs about "), "{refused}");
        assert!(
            refused.ends_with(
                "more than the 4.29 GB a browser's worker can use (on the CPU the model and its training live in \
                 that memory too): choose int8, a browser with WebGPU, or a smaller model"
            ),
            "{refused}"
        );
        assert_eq!(check_fits(&cpu, name, &bloom, WeightDtype::Int8, lean), Ok(DEFAULT_MAX_CHUNK_BYTES));

        let gpu = |binding: u64| BackendInfo::Gpu {
            adapter: "test".into(),
            max_binding_bytes: binding,
            max_buffer_bytes: 256 << 20,
            f16: false,
        };
        assert_eq!(check_fits(&gpu(64 << 20), name, &bloom, WeightDtype::F32, whole), Ok(64 << 20));
        // An adapter that allows larger buffers does not get larger head chunks: each is widened to f32 in use.
        let roomy = BackendInfo::Gpu {
            adapter: "roomy".into(),
            max_binding_bytes: 2 << 30,
            max_buffer_bytes: 4 << 30,
            f16: true,
        };
        assert_eq!(check_fits(&roomy, name, &bloom, WeightDtype::Int8, lean), Ok(DEFAULT_MAX_CHUNK_BYTES));
        let refused = check_fits(&gpu(8 << 20), name, &bloom, WeightDtype::Int8, lean).unwrap_err();
        assert_eq!(
            refused,
            "a layer of bigscience/bloom-560m needs a 16.78 MB GPU buffer, but this WebGPU adapter allows 8.39 MB: use \
             the CPU fallback or a smaller model"
        );
    }
}
