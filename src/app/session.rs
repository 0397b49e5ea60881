//! The model in use: its files (downloaded or picked) loaded onto the app's compute device, frozen.
use std::rc::Rc;

use burn::tensor::Device;

use super::model_picker::{ModelFiles, parse_config};
use crate::backend::BackendInfo;
use crate::model::CausalLm;
use crate::tokenize::TextTokenizer;
use crate::weights::{self, LoadOptions, WeightsFile};

/// A loaded model and its tokenizer; cheap to clone (shared).
#[derive(Clone)]
pub struct Session {
    /// The hub id recorded in prompt files as their base model (PEFT's `base_model_name_or_path`).
    pub name: String,
    pub model: Rc<CausalLm>,
    pub tokenizer: Rc<TextTokenizer>,
}

impl Session {
    /// Parses and uploads the model as `files.dtype`; every failure says which file is at fault, and a
    /// model the page or the GPU cannot hold is refused before anything is allocated
    /// ([`BackendInfo::check_fits`]).
    pub fn load(files: &ModelFiles, device: &Device, backend: &BackendInfo) -> Result<Session, String> {
        let config = parse_config(&files.config).map_err(|e| format!("config.json: {e}"))?;
        let tokenizer = TextTokenizer::from_bytes(&files.tokenizer).map_err(|e| format!("tokenizer.json: {e}"))?;
        tokenizer.check_against(&config).map_err(|e| format!("tokenizer.json does not fit the model: {e}"))?;
        let file = match files.weights_name.as_str() {
            "pytorch_model.bin" => WeightsFile::PytorchBin(&files.weights),
            _ => WeightsFile::Safetensors(&files.weights),
        };
        let max_chunk_bytes = backend.check_fits(&files.source, &config, files.dtype, files.weights.len() as u64)?;
        let options = LoadOptions { max_chunk_bytes, dtype: Some(files.dtype) };
        let model = weights::load(&config, file, device, &options).map_err(|e| format!("{}: {e}", files.weights_name))?;
        Ok(Session { name: files.name.clone(), model: Rc::new(model), tokenizer: Rc::new(tokenizer) })
    }
}
