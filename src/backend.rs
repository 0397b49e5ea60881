//! Which compute device the app and the CLI run on, and a tiny end-to-end check that it trains.
//!
//! WebGPU (through burn's wgpu runtime) when the platform offers an adapter, otherwise burn's pure-Rust
//! CPU backend (`flex`), which also runs inside wasm. The device must be initialised asynchronously in
//! a browser, and every read back from it is asynchronous there too.
use burn::module::{Module, Param};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};

use crate::format;
use crate::model::{DEFAULT_MAX_CHUNK_BYTES, ModelConfig, WASM_MEMORY_BYTES, WeightDtype};

/// What the user asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preference {
    /// WebGPU if an adapter is available, else the CPU.
    Auto,
    /// The CPU even if a GPU is there (reproducible numbers, or a GPU that misbehaves).
    Cpu,
}

/// The device in use, described for people.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum BackendInfo {
    Gpu { adapter: String, max_binding_bytes: u64, max_buffer_bytes: u64 },
    /// CPU fallback, with the reason the GPU was not used.
    Cpu { reason: String },
}

impl BackendInfo {
    pub fn is_gpu(&self) -> bool {
        matches!(self, BackendInfo::Gpu { .. })
    }

    /// One line for a header badge or a log: "WebGPU · <adapter>" or "CPU (flex) — <why>".
    pub fn label(&self) -> String {
        match self {
            // Natively wgpu runs on Vulkan/Metal/DX12 rather than the browser's WebGPU.
            BackendInfo::Gpu { adapter, .. } if cfg!(target_arch = "wasm32") => format!("WebGPU · {adapter}"),
            BackendInfo::Gpu { adapter, .. } => format!("GPU (wgpu) · {adapter}"),
            BackendInfo::Cpu { reason } => format!("CPU (flex) — {reason}"),
        }
    }

    /// Whether a model loaded as `dtype` from a `file_bytes` checkpoint fits a browser page on this backend
    /// (wasm addresses 4 GiB; on the CPU fallback the model lives in that memory too) and whether its
    /// largest layer fits one buffer of this GPU; checked before anything is allocated, so running out of
    /// memory is a message rather than a crashed tab. Gives the largest buffer loading may make.
    pub fn check_fits(&self, name: &str, config: &ModelConfig, dtype: WeightDtype, file_bytes: u64) -> Result<usize, String> {
        let needed = config.browser_memory_bytes(dtype, file_bytes, self.is_gpu());
        if needed > WASM_MEMORY_BYTES {
            return Err(format!(
                "{name} as {} needs about {} of this page's memory, more than the {} a browser page can use{}: \
                 choose int8",
                dtype.name(),
                format::bytes(needed),
                format::bytes(WASM_MEMORY_BYTES),
                if self.is_gpu() { "" } else { " (on the CPU fallback the model lives in page memory too)" },
            ));
        }
        match self {
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
                Ok(limit as usize)
            }
            BackendInfo::Cpu { .. } => Ok(DEFAULT_MAX_CHUNK_BYTES),
        }
    }
}

/// Initialise the best device allowed by `preference`; never fails, falls back to the CPU instead.
pub async fn init(preference: Preference) -> (Device, BackendInfo) {
    if preference == Preference::Cpu {
        return (Device::flex(), BackendInfo::Cpu { reason: "CPU chosen by the user".into() });
    }
    // In a browser, ask first: wgpu's own error for a missing adapter is a wall of native-API names.
    #[cfg(target_arch = "wasm32")]
    let browser_name = match browser::adapter_name().await {
        Ok(name) => name,
        Err(reason) => return (Device::flex(), BackendInfo::Cpu { reason }),
    };
    #[cfg(not(target_arch = "wasm32"))]
    let browser_name = String::new();

    match Device::wgpu_options().init_with_setup_async().await {
        Ok((device, setup)) => {
            let info = setup.adapter.get_info();
            let limits = setup.adapter.limits();
            let adapter = [info.name.as_str(), browser_name.as_str(), info.driver.as_str()]
                .into_iter()
                .find(|s| !s.is_empty())
                .unwrap_or("unnamed adapter")
                .to_string();
            let info = BackendInfo::Gpu {
                adapter,
                max_binding_bytes: limits.max_storage_buffer_binding_size,
                max_buffer_bytes: limits.max_buffer_size,
            };
            (device, info)
        }
        Err(err) => (Device::flex(), BackendInfo::Cpu { reason: format!("WebGPU could not start ({err})") }),
    }
}

#[cfg(target_arch = "wasm32")]
mod browser {
    use js_sys::Reflect;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    /// The browser's description of its WebGPU adapter ("google swiftshader"), or why there is none.
    /// Browsers hide the adapter's name from wgpu but give vendor and architecture here. Works on a page
    /// and in a Web Worker (the app trains in one), whose navigators are different types.
    pub async fn adapter_name() -> Result<String, String> {
        let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).unwrap_or(JsValue::UNDEFINED);
        let gpu = Reflect::get(&navigator, &"gpu".into()).unwrap_or(JsValue::UNDEFINED);
        if gpu.is_undefined() || gpu.is_null() {
            return Err("this browser does not offer WebGPU".into());
        }
        let promise: js_sys::Promise = gpu.unchecked_into::<web_sys::Gpu>().request_adapter().unchecked_into();
        let adapter = JsFuture::from(promise).await.map_err(|e| format!("WebGPU adapter request failed: {e:?}"))?;
        if adapter.is_null() || adapter.is_undefined() {
            return Err("the browser offers no WebGPU adapter (WebGPU switched off, or no supported GPU)".into());
        }
        let info = adapter.unchecked_into::<web_sys::GpuAdapter>().info();
        let parts = [info.vendor(), info.architecture(), info.device(), info.description()];
        Ok(parts.iter().filter(|p| !p.is_empty()).cloned().collect::<Vec<_>>().join(" "))
    }
}

/// The outcome of [`engine_check`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EngineCheck {
    pub loss_before: f32,
    pub loss_after: f32,
}

impl EngineCheck {
    pub fn passed(&self) -> bool {
        self.loss_after.is_finite() && self.loss_after < self.loss_before
    }
}

#[derive(Module, Debug)]
struct Probe {
    weight: Param<Tensor<2>>,
}

/// Fits a 4-weight linear map for a few AdamW steps with autodiff, reading the loss back
/// asynchronously: forward, backward, optimizer step and readback all work on `device`.
pub async fn engine_check(device: &Device) -> Result<EngineCheck, String> {
    let device = device.clone().autodiff();
    let inputs = Tensor::<2>::from_data(
        TensorData::new((0..32).map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0).collect::<Vec<_>>(), [8, 4]),
        &device,
    );
    let truth = Tensor::<2>::from_data(TensorData::new(vec![0.5f32, -1.0, 2.0, 0.25], [4, 1]), &device);
    let targets = inputs.clone().matmul(truth).detach();
    let mut probe = Probe { weight: Param::from_tensor(Tensor::zeros([4, 1], &device)) };
    let mut optimizer = AdamWConfig::new().with_weight_decay(0.0).init();
    let loss_of = |probe: &Probe| (inputs.clone().matmul(probe.weight.val()) - targets.clone()).square().mean();

    let mut first = None;
    for _ in 0..5 {
        let loss = loss_of(&probe);
        if first.is_none() {
            first = Some(read_scalar(loss.clone()).await?);
        }
        let grads = GradientsParams::from_grads(loss.backward(), &probe);
        probe = optimizer.step(0.1, probe, grads);
    }
    let loss_after = read_scalar(loss_of(&probe)).await?;
    Ok(EngineCheck { loss_before: first.unwrap_or(f32::NAN), loss_after })
}

/// Through the evaluator's readback, so that a lost device gets its message here too.
async fn read_scalar(tensor: Tensor<1>) -> Result<f32, String> {
    crate::eval::read_f32(tensor).await.map(|v| v[0]).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_too_large_for_the_page_or_the_gpu_is_refused_before_loading() {
        let bloom = ModelConfig::from_json(crate::hub::PRESETS[0].config_json).unwrap();
        let f16_file = 2 * bloom.total_params();
        let name = "bigscience/bloom-560m";
        let cpu = BackendInfo::Cpu { reason: "no WebGPU adapter".into() };
        let refused = cpu.check_fits(name, &bloom, WeightDtype::F32, f16_file).unwrap_err();
        assert!(refused.starts_with("bigscience/bloom-560m as f32 needs about "), "{refused}");
        assert!(refused.ends_with("more than the 4.29 GB a browser page can use (on the CPU fallback the model lives in page memory too): choose int8"), "{refused}");
        assert_eq!(cpu.check_fits(name, &bloom, WeightDtype::Int8, f16_file), Ok(DEFAULT_MAX_CHUNK_BYTES));

        let gpu = |binding: u64| BackendInfo::Gpu { adapter: "test".into(), max_binding_bytes: binding, max_buffer_bytes: 256 << 20 };
        assert_eq!(gpu(128 << 20).check_fits(name, &bloom, WeightDtype::F32, f16_file), Ok(128 << 20));
        let refused = gpu(8 << 20).check_fits(name, &bloom, WeightDtype::Int8, f16_file).unwrap_err();
        assert_eq!(
            refused,
            "a layer of bigscience/bloom-560m needs a 16.78 MB GPU buffer, but this WebGPU adapter allows 8.39 MB: use \
             the CPU fallback or a smaller model"
        );
    }

    #[test]
    fn engine_check_learns_on_the_cpu() {
        let (device, info) = pollster::block_on(init(Preference::Cpu));
        assert!(!info.is_gpu());
        let check = pollster::block_on(engine_check(&device)).unwrap();
        assert!(check.passed(), "{check:?}");
        assert!(check.loss_after < 0.8 * check.loss_before, "{check:?}");
    }

    #[test]
    fn engine_check_learns_on_wgpu_where_an_adapter_exists() {
        let (device, info) = pollster::block_on(init(Preference::Auto));
        if !info.is_gpu() {
            eprintln!("skipped on wgpu: {}", info.label());
            return;
        }
        let check = pollster::block_on(engine_check(&device)).unwrap();
        assert!(check.passed(), "{} {check:?}", info.label());
        eprintln!("ran on {}", info.label());
    }
}
