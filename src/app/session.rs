//! The model in use, as the page knows it: loaded and frozen in the training worker, which `engine`
//! reaches; `config` is what the page itself needs (checking a prompt fits, writing PEFT's config).
use super::engine::Engine;
use crate::model::{ModelConfig, WeightDtype};

#[derive(Clone)]
pub struct Session {
    /// The hub id recorded in prompt files as their base model (PEFT's `base_model_name_or_path`).
    pub name: String,
    pub config: ModelConfig,
    /// How the frozen weight matrices are stored.
    pub dtype: WeightDtype,
    pub engine: Engine,
}
