//! `polyprompt bench`: training steps and evaluation timed at fixed shapes, or one epoch of the paper's
//! recipe plus one language's evaluation, with peak memory; prints JSON.
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use polyprompt::backend::BackendInfo;
use polyprompt::task::languages;
use polyprompt::task::sib200::{self, Split};
use polyprompt::tuning::bench::{self, BenchShape, EpochData};
use polyprompt::tuning::estimate::StepShape;

use crate::ALLOC;
use crate::args::{MemoryArgs, ModelArgs};
use crate::model_folder::load;

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// What to time, comma-separated: step, eval (fixed shapes), epoch (the paper's recipe on SIB-200).
    #[arg(long, value_delimiter = ',', default_values = ["step", "eval"])]
    pub what: Vec<BenchWhat>,
    #[arg(long, default_value_t = BenchShape::ISSUE.batch)]
    pub batch: usize,
    /// Tokens per row, prompt slots and EOS included.
    #[arg(long, default_value_t = BenchShape::ISSUE.seq)]
    pub seq: usize,
    #[arg(long, default_value_t = BenchShape::ISSUE.prompt_len)]
    pub prompt_len: usize,
    /// Untimed runs before the timed ones.
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    /// Timed runs (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
    /// Language whose test split the epoch workload evaluates.
    #[arg(long, default_value = "swh_Latn")]
    pub language: String,
    /// Sentences per forward pass in the epoch workload's evaluation (the CLI's default).
    #[arg(long, default_value_t = 32)]
    pub eval_batch: usize,
    #[command(flatten)]
    pub memory: MemoryArgs,
    /// Write the JSON here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
pub enum BenchWhat {
    Step,
    Eval,
    Epoch,
}

pub fn run(args: BenchArgs) -> Result<()> {
    let loaded = load(&args.model.folder, None)?;
    let (model, tokenizer) = (&loaded.model, &loaded.tokenizer);
    let model_heap_bytes = ALLOC.live();
    let load_peak_heap_bytes = ALLOC.peak();
    // From here the peak is the workload's own (the model stays live, loading transients are gone).
    ALLOC.reset_peak();
    // What the GPU's memory pool has reserved (None on the CPU): once loaded, and after the workload.
    let gpu_reserved = || model.device().memory_pool_usage().map(|usage| usage.bytes_reserved);
    let gpu_after_load = gpu_reserved();
    let shape = BenchShape { batch: args.batch, seq: args.seq, prompt_len: args.prompt_len };
    let mut report = serde_json::json!({
        "model": args.model.folder.model.display().to_string(),
        "family": model.config().family.name(),
        "device": loaded.backend.label(),
        "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "cpu": cpu_description(),
        "shape": shape,
    });
    let backprop = loaded.backprop(args.memory.memory, StepShape { batch: args.batch, tokens: args.seq });
    report["memory_mode"] = backprop.name().into();
    let (warmup, reps) = (args.warmup, args.reps);
    if args.what.contains(&BenchWhat::Step) {
        eprintln!("timing training steps ({warmup} + {reps} runs)");
        let timings = pollster::block_on(bench::time_steps(model, tokenizer, shape, backprop, warmup, reps))?;
        report["step"] = serde_json::to_value(timings)?;
    }
    if args.what.contains(&BenchWhat::Eval) {
        eprintln!("timing evaluation passes ({warmup} + {reps} runs)");
        let timings = pollster::block_on(bench::time_eval(model, tokenizer, shape, warmup, reps))?;
        report["eval"] = serde_json::to_value(timings)?;
    }
    if args.what.contains(&BenchWhat::Epoch) {
        let language = languages::select(std::slice::from_ref(&args.language))?[0];
        let data = args
            .model
            .data
            .data
            .as_deref()
            .context("the epoch workload runs the paper's recipe: give --data (SIB-200)")?;
        let train = sib200::read_split(data, "eng_Latn", Split::Train)?;
        let dev = sib200::read_split(data, "eng_Latn", Split::Dev)?;
        let test = sib200::read_split(data, language.code, Split::Test)?;
        eprintln!("one epoch of the paper's recipe, then {} ({} sentences)", language.name, test.len());
        let data = EpochData { train: &train, dev: &dev, language: &language, test: &test };
        let epoch = bench::epoch(model, tokenizer, data, backprop, args.eval_batch);
        report["epoch"] = serde_json::to_value(pollster::block_on(epoch)?)?;
    }
    report["memory"] = serde_json::json!({
        // Whole process, what the kernel counts (ru_maxrss on the PyTorch side): used for mem_ratio.
        "peak_rss_bytes": peak_rss_bytes(),
        // Heap bytes counted by the allocator: after loading, the loading peak, the workload's peak.
        "model_heap_bytes": model_heap_bytes,
        "load_peak_heap_bytes": load_peak_heap_bytes,
        // The token table's host copy beside the device's (none for f32 on the CPU: one copy serves both).
        "host_table_bytes": model.host_table_bytes(),
        "workload_peak_heap_bytes": ALLOC.peak(),
        // On the CPU backend the device is this same heap: the workload's peak less the host-side token
        // table (none for f32, whose rows come from the head's copy) is what a step needs of the device, at most.
        "device_peak_bytes_at_most": matches!(loaded.backend, BackendInfo::Cpu { .. })
            .then(|| ALLOC.peak() - model.host_table_bytes()),
        // The GPU's memory pool, reserved (not only in use): after loading, and after the workload.
        "gpu_reserved_bytes_after_load": gpu_after_load,
        "gpu_reserved_bytes_end": gpu_reserved(),
    });
    let text = serde_json::to_string_pretty(&report)?;
    match &args.out {
        Some(path) => std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?,
        None => println!("{text}"),
    }
    Ok(())
}

/// VmHWM from /proc/self/status: the process's peak resident set, in bytes (None off Linux).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kib| kib * 1024)
}

/// The CPU's model and the vector extensions the matrix kernels can pick from: speed differs by which of
/// them a machine has (BENCHMARKS.md), so every report says it.
fn cpu_description() -> serde_json::Value {
    let model = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|info| {
        info.lines().find_map(|line| {
            line.strip_prefix("model name").map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string())
        })
    });
    #[cfg(target_arch = "x86_64")]
    let features: Vec<&str> = [
        ("avx2", std::arch::is_x86_feature_detected!("avx2")),
        ("fma", std::arch::is_x86_feature_detected!("fma")),
        ("avx512f", std::arch::is_x86_feature_detected!("avx512f")),
    ]
    .into_iter()
    .filter_map(|(name, present)| present.then_some(name))
    .collect();
    #[cfg(not(target_arch = "x86_64"))]
    let features: Vec<&str> = Vec::new();
    serde_json::json!({ "model": model, "features": features, "arch": std::env::consts::ARCH })
}
