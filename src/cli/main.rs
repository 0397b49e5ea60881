//! The native command line over polyprompt's core, one file per command: train, eval, predict, sweep,
//! inspect, convert, random-model, bench. Each parses its options (clap) and calls the library; nothing
//! here trains or evaluates.
//! A front: may use every layer of the library.
mod args;
mod bench;
mod convert;
mod dataset;
mod eval;
mod inspect;
mod model_folder;
mod output;
mod predict;
mod progress;
mod random_model;
mod sweep;
mod sweep_plan;
mod train;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use polyprompt::tuning::bench::CountingAlloc;

/// Counts live heap bytes for `bench`'s peak-memory figures (two relaxed atomics per allocation).
#[global_allocator]
static ALLOC: CountingAlloc<std::alloc::System> = CountingAlloc::new(std::alloc::System);

#[derive(Parser)]
#[command(name = "polyprompt", version, about = "Soft prompt tuning for cross-lingual transfer (XGLM, BLOOM)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a soft prompt on English SIB-200 with the model frozen (the paper's recipe by default).
    Train(train::TrainArgs),
    /// Evaluate a prompt zero-shot on SIB-200 test sets (default: the paper's 52 languages).
    Eval(eval::EvalArgs),
    /// Classify sentences with a prompt: each one's topic and the 7 topics' probabilities.
    Predict(predict::PredictArgs),
    /// The paper's study: train and evaluate every prompt length × reparameterization on/off (× seeds),
    /// here one after another, or as a plan of independent cells for Slurm or any scheduler.
    Sweep(Box<sweep::SweepArgs>),
    /// Describe a model directory in the hub's layout: architecture, parameters, memory per dtype.
    Inspect {
        /// Folder with config.json (and tokenizer.json, weights) as on the Hugging Face hub.
        model: PathBuf,
    },
    /// Rewrite a model's weights as f16 or int8 (a self-describing model.safetensors, with config.json and
    /// tokenizer.json copied) that `train`, `eval` and the browser app load directly.
    Convert(convert::ConvertArgs),
    /// Write a model folder with random weights at any size, shaped like a given one (config.json resized,
    /// tokenizer.json copied): for benchmarks and tests where real weights cannot be downloaded.
    RandomModel(random_model::RandomModelArgs),
    /// Time training steps and evaluation at fixed shapes, or one epoch of the paper's recipe; prints JSON.
    Bench(bench::BenchArgs),
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Sweep(args) => sweep::run(*args),
        Command::Inspect { model } => inspect::run(&model),
        Command::Convert(args) => convert::run(args),
        Command::RandomModel(args) => random_model::run(args),
        Command::Bench(args) => bench::run(args),
    }
}
