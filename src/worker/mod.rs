//! Training off the page's thread: a Web Worker (its own wasm instance, `src/bin/worker.rs`) holds the
//! compute device and the model, so WebGPU kernel compilation, training steps and evaluation never freeze
//! the page. `protocol` is the messages both sides speak (plain Rust, tested natively); `serve` is the
//! worker's side; the page's side is `app::engine`.
//!
//! A front: may use every layer of the core (`files`, `tuning`, `task`, `model`, `backend`).
pub mod protocol;

#[cfg(target_arch = "wasm32")]
mod serve;
#[cfg(target_arch = "wasm32")]
pub use serve::run;

/// Bytes of this wasm instance's memory (the page's or the worker's: each has its own), which grows and
/// never shrinks: its size now is also its peak.
#[cfg(target_arch = "wasm32")]
pub fn wasm_memory_bytes() -> u64 {
    use wasm_bindgen::JsCast;
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    memory.buffer().unchecked_into::<js_sys::ArrayBuffer>().byte_length() as u64
}
