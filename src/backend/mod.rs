//! Which compute device the app and the CLI run on, and a tiny end-to-end check that it trains.
//!
//! WebGPU (through burn's wgpu runtime) when the platform offers an adapter, otherwise burn's pure-Rust
//! CPU backend (`flex`), which also runs inside wasm. The device must be initialised asynchronously in
//! a browser, and every read back from it is asynchronous there too (`readback`).
//!
//! The lowest layer besides `format`: knows nothing of models (see docs/architecture.md).
use burn::tensor::Device;

mod engine_check;
mod probe;
mod readback;

pub use engine_check::{EngineCheck, engine_check};
pub use probe::gflops;
pub use readback::{ReadbackError, read_f32};

/// Which device to compute on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Preference {
    /// The faster of WebGPU and the CPU, measured ([`gflops`]); the CPU where there is no adapter.
    Auto,
    /// WebGPU (natively: Vulkan, Metal or DX12) whenever an adapter exists, however fast.
    Gpu,
    /// The CPU even if a GPU is there (reproducible numbers, or a GPU that misbehaves).
    Cpu,
}

impl Preference {
    pub fn name(self) -> &'static str {
        match self {
            Preference::Auto => "auto",
            Preference::Gpu => "webgpu",
            Preference::Cpu => "cpu",
        }
    }

    pub fn parse(name: &str) -> Option<Preference> {
        [Preference::Auto, Preference::Gpu, Preference::Cpu].into_iter().find(|p| p.name() == name)
    }
}

/// How fast the chosen device measured, and the other one where there was a choice.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Speed {
    /// GFLOP/s on matrix products ([`gflops`]); 0 where the measurement failed.
    pub gflops: f64,
    /// The device not chosen: its label and GFLOP/s.
    pub alternative: Option<(String, f64)>,
}

/// The device in use, described for people.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum BackendInfo {
    Gpu {
        adapter: String,
        max_binding_bytes: u64,
        max_buffer_bytes: u64,
        /// Whether the adapter has `shader-f16`, so weights can be stored and multiplied as f16.
        f16: bool,
    },
    /// CPU fallback, with the reason the GPU was not used.
    Cpu { reason: String },
}

impl BackendInfo {
    pub fn is_gpu(&self) -> bool {
        matches!(self, BackendInfo::Gpu { .. })
    }

    fn adapter_name(&self) -> &str {
        match self {
            BackendInfo::Gpu { adapter, .. } => adapter,
            BackendInfo::Cpu { .. } => "",
        }
    }

    /// A GPU emulated on the CPU (Chrome's SwiftShader, Mesa's llvmpipe/lavapipe, Windows' WARP).
    pub fn is_software(&self) -> bool {
        let name = self.adapter_name().to_lowercase();
        ["swiftshader", "llvmpipe", "lavapipe", "warp", "basic render"].iter().any(|s| name.contains(s))
    }

    /// One line for a header badge or a log: "WebGPU · <adapter>" or "CPU (flex) — <why>".
    pub fn label(&self) -> String {
        match self {
            // Natively wgpu runs on Vulkan/Metal/DX12 rather than the browser's WebGPU.
            BackendInfo::Gpu { adapter, f16, .. } => format!(
                "{} · {adapter}{}",
                if cfg!(target_arch = "wasm32") { "WebGPU" } else { "GPU (wgpu)" },
                if *f16 { " · shader-f16" } else { "" }
            ),
            BackendInfo::Cpu { reason } => format!("CPU (flex) — {reason}"),
        }
    }
}

/// Initialise the device `preference` asks for, measured; never fails, falls back to the CPU instead.
pub async fn init(preference: Preference) -> (Device, BackendInfo, Speed) {
    let cpu = Device::flex();
    let measure = |device: Device| async move { gflops(&device).await.unwrap_or(0.0) };
    if preference == Preference::Cpu {
        let speed = Speed { gflops: measure(cpu.clone()).await, alternative: None };
        return (cpu, BackendInfo::Cpu { reason: "the CPU was chosen in the settings".into() }, speed);
    }
    let (gpu, info) = match start_gpu().await {
        Ok(started) => started,
        Err(reason) => {
            let speed = Speed { gflops: measure(cpu.clone()).await, alternative: None };
            return (cpu, BackendInfo::Cpu { reason: format!("WebGPU unavailable: {reason}") }, speed);
        }
    };
    let gpu_speed = measure(gpu.clone()).await;
    if preference == Preference::Gpu {
        return (gpu, info, Speed { gflops: gpu_speed, alternative: None });
    }
    let cpu_speed = measure(cpu.clone()).await;
    if cpu_speed > gpu_speed {
        let reason = format!(
            "chosen by measurement: {cpu_speed:.1} GFLOP/s here against {gpu_speed:.1} on WebGPU ({}{})",
            info.adapter_name(),
            if info.is_software() { ", a software adapter" } else { "" }
        );
        let alternative = Some((info.label(), gpu_speed));
        return (cpu, BackendInfo::Cpu { reason }, Speed { gflops: cpu_speed, alternative });
    }
    (gpu, info, Speed { gflops: gpu_speed, alternative: Some(("CPU (wasm)".into(), cpu_speed)) })
}

/// A WebGPU (natively: wgpu) device and what it offers, or why there is none.
async fn start_gpu() -> Result<(Device, BackendInfo), String> {
    // In a browser, ask first: wgpu's own error for a missing adapter is a wall of native-API names.
    #[cfg(target_arch = "wasm32")]
    let browser_name = browser::adapter_name().await?;
    #[cfg(not(target_arch = "wasm32"))]
    let browser_name = String::new();

    let (device, setup) =
        Device::wgpu_options().init_with_setup_async().await.map_err(|e| format!("WebGPU could not start ({e})"))?;
    let info = setup.adapter.get_info();
    let limits = setup.adapter.limits();
    let adapter = [info.name.as_str(), browser_name.as_str(), info.driver.as_str()]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("unnamed adapter")
        .to_string();
    let f16 = device.supports_dtype(burn::tensor::DType::F16);
    let info = BackendInfo::Gpu {
        adapter,
        max_binding_bytes: limits.max_storage_buffer_binding_size,
        max_buffer_bytes: limits.max_buffer_size,
        f16,
    };
    Ok((device, info))
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
