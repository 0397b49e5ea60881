//! The frozen language models and their files: the bottom layer of the core.
//!
//! XGLM and BLOOM as transformers defines them (`xglm`, `bloom`, one file per architecture, weight names as
//! on the hub), the pieces they share (`attention`, `embedding`, `head`, `linear`), `config.json`
//! (`config`), the checkpoint files (`checkpoint`, `safetensors_header`, `pytorch_bin`, read by range from a
//! `source`) and how a model is built from them
//! (`loader`), the stored weight formats (`quant`, `convert`), and the tokenizer (`tokenizer`).
//!
//! May use: `backend`, `format`. Knows nothing of SIB-200, prompts or training.
pub mod attention;
pub mod bloom;
pub mod causal_lm;
pub mod checkpoint;
pub mod config;
pub mod convert;
pub mod embedding;
pub mod fit;
pub mod head;
pub mod input;
pub mod linear;
pub mod loader;
pub mod pytorch_bin;
pub mod quant;
pub mod random;
pub mod safetensors_header;
pub mod source;
pub mod tokenizer;
pub mod xglm;

pub use causal_lm::CausalLm;
pub use checkpoint::{LoadOptions, PYTORCH_FILE, SAFETENSORS_FILE, WeightsError, WeightsFile};
pub use config::{
    ConfigError, Family, MAX_FFN, MAX_HIDDEN, MAX_LAYERS, MAX_VOCAB, ModelConfig, Resize, SizeEstimate,
    WASM_MEMORY_BYTES, recorded_name,
};
pub use convert::convert;
pub use head::{DEFAULT_MAX_CHUNK_BYTES, TiedHead};
pub use input::{InputBatch, PromptPlacement};
pub use loader::load;
#[cfg(not(target_arch = "wasm32"))]
pub use loader::load_dir;
pub use quant::WeightDtype;
pub use random::random_checkpoint;
#[cfg(not(target_arch = "wasm32"))]
pub use source::FileSource;
pub use source::{ByteSource, Pieces};
