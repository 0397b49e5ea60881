//! The files commands write and read: PEFT's pair for a prompt, the run's checkpoint, results as JSON and
//! a markdown table.
use std::path::Path;

use anyhow::{Context, Result};
use polyprompt::files::prompt_file::PromptFile;
use polyprompt::model::ModelConfig;
use polyprompt::tuning::eval::{self, LanguageResult};

/// PEFT's file names, which `--out` folders and `--prompt` folders use.
pub const ADAPTER_WEIGHTS: &str = "adapter_model.safetensors";
pub const ADAPTER_CONFIG: &str = "adapter_config.json";
/// The run's full state, for `train --resume`.
pub const CHECKPOINT: &str = "checkpoint.safetensors";

/// Writes the PEFT pair; our metadata rides in the safetensors header.
pub fn write_prompt(dir: &Path, file: &PromptFile, config: &ModelConfig) -> Result<()> {
    std::fs::write(dir.join(ADAPTER_WEIGHTS), file.to_safetensors())?;
    std::fs::write(dir.join(ADAPTER_CONFIG), file.peft_config_json(config))?;
    Ok(())
}

/// A prompt file, or a folder holding PEFT's pair.
pub fn read_prompt(path: &Path) -> Result<PromptFile> {
    let (weights, folder) = if path.is_dir() {
        (path.join(ADAPTER_WEIGHTS), path)
    } else {
        (path.to_path_buf(), path.parent().unwrap_or(Path::new(".")))
    };
    let bytes = std::fs::read(&weights).with_context(|| format!("cannot read the prompt {}", weights.display()))?;
    let config = std::fs::read_to_string(folder.join(ADAPTER_CONFIG)).ok();
    PromptFile::from_files(&bytes, config.as_deref()).with_context(|| format!("in {}", weights.display()))
}

/// The JSON entries, and the markdown table beside them (same name, `.md`), also printed.
pub fn write_results(path: &Path, results: &[LanguageResult]) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(results)?)?;
    let table = format!(
        "{}\nmean accuracy over {} languages: {:.3}\n",
        eval::markdown_table(results),
        results.len(),
        eval::mean_accuracy(results)
    );
    std::fs::write(path.with_extension("md"), &table)?;
    println!("{table}");
    Ok(())
}
