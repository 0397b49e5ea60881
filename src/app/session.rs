//! The model in use: the downloaded files loaded onto the app's compute device, frozen.
use std::rc::Rc;

use burn::tensor::Device;

use super::model_picker::ModelFiles;
use crate::hub::HubRepo;
use crate::model::{CausalLm, ModelConfig};
use crate::tokenize::TextTokenizer;
use crate::weights::{self, LoadOptions, WeightsFile};

/// A loaded model and its tokenizer; cheap to clone (shared).
#[derive(Clone)]
pub struct Session {
    pub repo: HubRepo,
    pub model: Rc<CausalLm>,
    pub tokenizer: Rc<TextTokenizer>,
}

impl Session {
    /// Parses and uploads the model; every failure says which file is at fault.
    pub fn load(files: &ModelFiles, device: &Device) -> Result<Session, String> {
        let config = std::str::from_utf8(&files.config)
            .map_err(|e| e.to_string())
            .and_then(|text| ModelConfig::from_json(text).map_err(|e| e.to_string()))
            .map_err(|e| format!("config.json: {e}"))?;
        let tokenizer = TextTokenizer::from_bytes(&files.tokenizer).map_err(|e| format!("tokenizer.json: {e}"))?;
        tokenizer.check_against(&config).map_err(|e| format!("tokenizer.json does not fit the model: {e}"))?;
        let file = match files.weights_name.as_str() {
            "pytorch_model.bin" => WeightsFile::PytorchBin(&files.weights),
            _ => WeightsFile::Safetensors(&files.weights),
        };
        let model = weights::load(&config, file, device, &LoadOptions::default())
            .map_err(|e| format!("{}: {e}", files.weights_name))?;
        Ok(Session { repo: files.repo.clone(), model: Rc::new(model), tokenizer: Rc::new(tokenizer) })
    }

    /// The hub id recorded in prompt files as their base model (PEFT's `base_model_name_or_path`).
    pub fn name(&self) -> String {
        self.repo.id.clone()
    }
}
