//! The frozen language models (XGLM, BLOOM), what configures them, and what they take as input.
pub mod bloom;
pub mod config;
pub mod embedding;
pub mod head;
pub mod layers;
pub mod xglm;

pub use config::{ConfigError, Family, ModelConfig, SizeEstimate, WeightDtype};

/// Where the soft prompt goes among the input embeddings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PromptPlacement {
    None,
    /// The paper: prompt vectors replace the embeddings of `len` slots starting at `starts[row]`, then go
    /// through what token embeddings go through (XGLM's × sqrt(d) scale, BLOOM's embedding LayerNorm).
    Slots { starts: Vec<usize>, len: usize },
    /// PEFT: the prompt is prepended as input embeddings (no XGLM scale; BLOOM's embedding LayerNorm
    /// applies) and the attention mask is extended by `len` ones; outputs have `len` more positions.
    Prefix { len: usize },
}

/// A right-padded batch of token ids for the model, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputBatch {
    pub ids: Vec<u32>,
    /// 1 for tokens and prompt slots, 0 for padding.
    pub attention: Vec<u8>,
    pub batch: usize,
    pub seq: usize,
    pub placement: PromptPlacement,
}
