//! `polyprompt random-model`: a model folder with random weights at any size, shaped like a real one (its
//! `config.json` resized, its tokenizer copied), for benchmarks and tests where real weights cannot be
//! downloaded.
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use polyprompt::model::{self, ModelConfig, Resize, SAFETENSORS_FILE, WeightDtype};

use crate::args::DtypeArg;

#[derive(Args)]
pub struct RandomModelArgs {
    /// Model folder whose config.json and tokenizer.json to start from (e.g. tests/fixtures/tiny-bloom).
    #[arg(long)]
    pub like: PathBuf,
    #[arg(long)]
    pub vocab: Option<usize>,
    #[arg(long)]
    pub hidden: Option<usize>,
    #[arg(long)]
    pub layers: Option<usize>,
    #[arg(long)]
    pub heads: Option<usize>,
    /// Feed-forward width (XGLM only; BLOOM's is 4 × hidden).
    #[arg(long)]
    pub ffn: Option<usize>,
    /// How to store the weight matrices.
    #[arg(long, value_enum, default_value = "f32")]
    pub dtype: DtypeArg,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Folder to write (created if missing).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: RandomModelArgs) -> Result<()> {
    let read = |name: &str| {
        let path = args.like.join(name);
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
    };
    let resize =
        Resize { vocab_size: args.vocab, hidden: args.hidden, layers: args.layers, heads: args.heads, ffn: args.ffn };
    let config_json = ModelConfig::resized_json(&read("config.json")?, resize)
        .with_context(|| format!("cannot resize {}", args.like.join("config.json").display()))?;
    let config = ModelConfig::from_json(&config_json)?;
    let dtype = WeightDtype::from(args.dtype);
    let weights = model::random_checkpoint(&config, dtype, args.seed);
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let write = |name: &str, data: &[u8]| {
        let path = args.out.join(name);
        std::fs::write(&path, data).with_context(|| format!("cannot write {}", path.display()))
    };
    write("config.json", config_json.as_bytes())?;
    write("tokenizer.json", read("tokenizer.json")?.as_bytes())?;
    write(SAFETENSORS_FILE, &weights)?;
    println!(
        "{}: {} with {} parameters ({} vocabulary, hidden {}, {} layers), weights as {} ({} MiB)",
        args.out.display(),
        config.family.name(),
        config.total_params(),
        config.vocab_size,
        config.hidden,
        config.layers,
        dtype.name(),
        weights.len() >> 20
    );
    Ok(())
}
