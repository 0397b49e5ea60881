//! PEFT's pair: `adapter_model.safetensors` (one tensor `prompt_embeddings`) with `adapter_config.json`, as
//! `save_pretrained` writes it and `PeftModel.from_pretrained` reads it.
use super::prompt_file::{PromptFile, PromptFileError, PromptMetadata, SCHEMA_VERSION, read_header, read_tensor};
use crate::model::{Family, ModelConfig};
use crate::task::batch::Placement;

impl PromptFile {
    /// Reads an imported prompt: our single file, or a PEFT pair (its safetensors and `adapter_config.json`).
    /// Our metadata wins when a file has it.
    pub fn from_files(safetensors: &[u8], adapter_config: Option<&str>) -> Result<PromptFile, PromptFileError> {
        match (PromptFile::from_safetensors(safetensors), adapter_config) {
            (Err(PromptFileError::NoMetadata), Some(config)) => PromptFile::from_peft(safetensors, config),
            (result, _) => result,
        }
    }

    /// Reads a PEFT pair (as `save_pretrained` writes it). PEFT prepends its prompt, so the placement
    /// is `Prefix`; the family comes from the config's base model name.
    pub fn from_peft(safetensors: &[u8], adapter_config: &str) -> Result<PromptFile, PromptFileError> {
        let config: serde_json::Value =
            serde_json::from_str(adapter_config).map_err(|e| PromptFileError::PeftConfig(e.to_string()))?;
        if config["peft_type"] != "PROMPT_TUNING" {
            return Err(PromptFileError::PeftConfig(format!("peft_type is {}", config["peft_type"])));
        }
        let base_model = config["base_model_name_or_path"].as_str().unwrap_or_default().to_string();
        let family = if base_model.to_lowercase().contains("xglm") { Family::Xglm } else { Family::Bloom };
        let (length, hidden, embeddings) = read_tensor(safetensors, &read_header(safetensors)?)?;
        let metadata = PromptMetadata {
            schema_version: SCHEMA_VERSION,
            family,
            base_model,
            placement: Placement::Prefix,
            task: crate::task::labels::Task::Sib200,
            label_words: Vec::new(),
            training: serde_json::Value::Null,
            results: serde_json::Value::Null,
        };
        Ok(PromptFile { length, hidden, embeddings, metadata })
    }

    /// PEFT's `adapter_config.json` for this prompt (PEFT itself will prepend it, whatever our placement).
    pub fn peft_config_json(&self, config: &ModelConfig) -> String {
        let json = serde_json::json!({
            "peft_type": "PROMPT_TUNING",
            "task_type": "CAUSAL_LM",
            "num_virtual_tokens": self.length,
            "token_dim": self.hidden,
            "num_transformer_submodules": 1,
            "num_attention_heads": config.heads,
            "num_layers": config.layers,
            "prompt_tuning_init": "RANDOM",
            "prompt_tuning_init_text": null,
            "tokenizer_name_or_path": self.metadata.base_model,
            "base_model_name_or_path": self.metadata.base_model,
            "inference_mode": true,
            "revision": null,
            "auto_mapping": null,
            "tokenizer_kwargs": null,
            "modules_to_save": null,
        });
        serde_json::to_string_pretty(&json).expect("json serialises")
    }
}
