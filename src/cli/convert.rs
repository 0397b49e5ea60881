//! `polyprompt convert`: a model folder rewritten with its weight matrices stored as f16 or int8.
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use polyprompt::model::{self, ByteSource, FileSource, ModelConfig, PYTORCH_FILE, SAFETENSORS_FILE, WeightDtype};

use crate::args::DtypeArg;

#[derive(Args)]
pub struct ConvertArgs {
    /// Model folder in the hub's layout (or give it as --model).
    #[arg(value_name = "MODEL", required_unless_present = "model")]
    pub dir: Option<PathBuf>,
    #[arg(long, conflicts_with = "dir")]
    pub model: Option<PathBuf>,
    #[arg(long, value_enum)]
    pub dtype: DtypeArg,
    /// Folder to write (created if missing).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: ConvertArgs) -> Result<()> {
    let dir = args.dir.or(args.model).expect("clap requires one");
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))
    };
    let config_bytes = read("config.json")?;
    let config = ModelConfig::from_json(&String::from_utf8_lossy(&config_bytes))
        .with_context(|| format!("in {}", dir.join("config.json").display()))?;
    let name = if dir.join(SAFETENSORS_FILE).exists() { SAFETENSORS_FILE } else { PYTORCH_FILE };
    let path = dir.join(name);
    // Read a tensor at a time: the f32 checkpoint is never held whole beside what it becomes.
    let source = FileSource::open(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let file = model::WeightsFile::named(name, &source);
    let dtype = WeightDtype::from(args.dtype);
    let converted =
        model::convert(&config, file, dtype).with_context(|| format!("cannot convert {}", dir.join(name).display()))?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let write = |name: &str, data: &[u8]| {
        let path = args.out.join(name);
        std::fs::write(&path, data).with_context(|| format!("cannot write {}", path.display()))
    };
    write(SAFETENSORS_FILE, &converted)?;
    write("config.json", &config_bytes)?;
    write("tokenizer.json", &read("tokenizer.json")?)?;
    println!(
        "{} ({} MiB) → {} as {} ({} MiB)",
        dir.join(name).display(),
        source.size() >> 20,
        args.out.join(SAFETENSORS_FILE).display(),
        dtype.name(),
        converted.len() >> 20
    );
    Ok(())
}
