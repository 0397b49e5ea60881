//! polyprompt: soft prompt tuning for cross-lingual transfer (Philippy et al., 2024, "When Less is More").
//!
//! A frozen multilingual causal LM (XGLM or BLOOM) and a few trainable prompt vectors placed among its
//! input embeddings. This library is the backend-agnostic core shared by the browser app (`app` and
//! `worker`, wasm only) and the native CLI (`src/cli/`): the same code runs on WebGPU, wasm CPU and native.
pub mod backend;
pub mod files;
pub mod format;
pub mod model;
pub mod task;
pub mod tuning;
pub mod worker;

#[cfg(target_arch = "wasm32")]
pub mod app;
