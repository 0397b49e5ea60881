//! `polyprompt inspect`: a model folder's architecture, parameter count and memory per weight dtype.
use std::path::Path;

use anyhow::{Context, Result};
use polyprompt::model::{ModelConfig, WeightDtype};

pub fn run(dir: &Path) -> Result<()> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let config = ModelConfig::from_json(&text).with_context(|| format!("in {}", path.display()))?;
    println!("{} · {}", dir.display(), config.family.name());
    println!(
        "hidden {} · {} layers · {} heads · ffn {} · vocabulary {}",
        config.hidden, config.layers, config.heads, config.ffn, config.vocab_size
    );
    println!(
        "parameters: {} ({} in the token embedding / tied head)",
        config.total_params(),
        config.embedding_params()
    );
    println!("{:<6} {:>14} {:>14} {:>14}", "dtype", "download", "host", "device");
    for dtype in WeightDtype::ALL {
        let size = config.size_estimate(dtype);
        println!(
            "{:<6} {:>14} {:>14} {:>14}",
            dtype.name(),
            mib(size.download_bytes),
            mib(size.host_bytes),
            mib(size.device_bytes)
        );
    }
    Ok(())
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
