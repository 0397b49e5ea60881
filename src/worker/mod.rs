//! Training off the page's thread: a Web Worker (its own wasm instance, `src/bin/worker.rs`) holds the
//! compute device and the model, so WebGPU kernel compilation, training steps and evaluation never freeze
//! the page. `protocol` is the messages both sides speak (plain Rust, tested natively); `serve` is the
//! worker's side; the page's side is `app::engine`.
pub mod protocol;

#[cfg(target_arch = "wasm32")]
mod serve;
#[cfg(target_arch = "wasm32")]
pub use serve::run;
