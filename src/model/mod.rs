//! The frozen language models (XGLM, BLOOM) and what they are configured by.
pub mod config;

pub use config::{ConfigError, Family, ModelConfig, SizeEstimate, WeightDtype};
