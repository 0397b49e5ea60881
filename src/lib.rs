//! polyprompt: soft prompt tuning for cross-lingual transfer (Philippy et al., 2024, "When Less is More").
//!
//! A frozen multilingual causal LM (XGLM or BLOOM) and a few trainable prompt vectors placed among its
//! input embeddings. This library is the backend-agnostic core shared by the browser app (`app`, wasm
//! only) and the native CLI (`src/bin/polyprompt.rs`): the same code runs on WebGPU, wasm CPU and native.
pub mod backend;
pub mod bench;
pub mod eval;
pub mod format;
pub mod hub;
pub mod languages;
pub mod model;
pub mod prompt;
pub mod prompt_file;
pub mod pytorch_bin;
pub mod quant;
pub mod sib200;
pub mod share;
pub mod study;
pub mod task;
pub mod tokenize;
pub mod train;
pub mod weights;
pub mod worker;

#[cfg(target_arch = "wasm32")]
pub mod app;
