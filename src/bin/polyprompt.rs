//! The native command line over polyprompt's core: train, evaluate, sweep, inspect, bench.
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use polyprompt::backend::{self, BackendInfo, Preference};
use polyprompt::bench::{self, BenchShape, CountingAlloc};
use polyprompt::eval::{self, EvalSetup, LanguageResult};
use polyprompt::languages::{self, Language};
use polyprompt::model::{CausalLm, ModelConfig, WeightDtype, recorded_name};
use polyprompt::prompt::PromptInit;
use polyprompt::prompt_file::PromptFile;
use polyprompt::sib200::{self, Shots, Split};
use polyprompt::study::{self, PAPER_LENGTHS, PAPER_REPARAM_HIDDEN, StudyResult};
use polyprompt::task::Placement;
use polyprompt::tokenize::TextTokenizer;
use polyprompt::train::{LossKind, READBACK_EVERY, RunOutcome, TrainConfig, TrainControl, TrainEvent, Trainer};
use polyprompt::weights::{self, LoadOptions, PYTORCH_FILE, SAFETENSORS_FILE};

/// PEFT's file names, which `--out` folders and `--prompt` folders use.
const ADAPTER_WEIGHTS: &str = "adapter_model.safetensors";
const ADAPTER_CONFIG: &str = "adapter_config.json";
/// The run's full state, for `train --resume`.
const CHECKPOINT: &str = "checkpoint.safetensors";

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
    Train(TrainArgs),
    /// Evaluate a prompt zero-shot on SIB-200 test sets (default: the paper's 52 languages).
    Eval(EvalArgs),
    /// The paper's study: train and evaluate every prompt length × reparameterization on/off.
    Sweep(SweepArgs),
    /// Describe a model directory in the hub's layout: architecture, parameters, memory per dtype.
    Inspect {
        /// Folder with config.json (and tokenizer.json, weights) as on the Hugging Face hub.
        model: PathBuf,
    },
    /// Rewrite a model's weights as f16 or int8 (a self-describing model.safetensors, with config.json and
    /// tokenizer.json copied) that `train`, `eval` and the browser app load directly.
    Convert(ConvertArgs),
    /// Time training steps and evaluation at fixed shapes, or one epoch of the paper's recipe; prints JSON.
    Bench(BenchArgs),
}

#[derive(Args)]
struct ConvertArgs {
    /// Model folder in the hub's layout (or give it as --model).
    #[arg(value_name = "MODEL", required_unless_present = "model")]
    dir: Option<PathBuf>,
    #[arg(long, conflicts_with = "dir")]
    model: Option<PathBuf>,
    #[arg(long, value_enum)]
    dtype: DtypeArg,
    /// Folder to write (created if missing).
    #[arg(long)]
    out: PathBuf,
}

/// How to store the frozen weight matrices.
#[derive(Clone, Copy, ValueEnum)]
enum DtypeArg {
    F32,
    F16,
    Int8,
}

impl From<DtypeArg> for WeightDtype {
    fn from(arg: DtypeArg) -> WeightDtype {
        match arg {
            DtypeArg::F32 => WeightDtype::F32,
            DtypeArg::F16 => WeightDtype::F16,
            DtypeArg::Int8 => WeightDtype::Int8,
        }
    }
}

#[derive(Args)]
struct BenchArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// What to time, comma-separated: step, eval (fixed shapes), epoch (the paper's recipe on SIB-200).
    #[arg(long, value_delimiter = ',', default_values = ["step", "eval"])]
    what: Vec<BenchWhat>,
    #[arg(long, default_value_t = BenchShape::ISSUE.batch)]
    batch: usize,
    /// Tokens per row, prompt slots and EOS included.
    #[arg(long, default_value_t = BenchShape::ISSUE.seq)]
    seq: usize,
    #[arg(long, default_value_t = BenchShape::ISSUE.prompt_len)]
    prompt_len: usize,
    /// Untimed runs before the timed ones.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Timed runs (the median is reported).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Language whose test split the epoch workload evaluates.
    #[arg(long, default_value = "swh_Latn")]
    language: String,
    /// Sentences per forward pass in the epoch workload's evaluation (the CLI's default).
    #[arg(long, default_value_t = 32)]
    eval_batch: usize,
    /// Write the JSON here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum BenchWhat {
    Step,
    Eval,
    Epoch,
}

#[derive(Args)]
struct ModelArgs {
    /// Model folder in the hub's layout: config.json, tokenizer.json, model.safetensors or pytorch_model.bin.
    #[arg(long)]
    model: PathBuf,
    /// SIB-200 folder: <language>/{train,dev,test}.tsv.
    #[arg(long)]
    data: PathBuf,
    /// Run on the GPU through wgpu when an adapter is available (default: the CPU).
    #[arg(long)]
    gpu: bool,
    /// Store the weight matrices as this (default: as the checkpoint stores them; f32 for bf16).
    #[arg(long, value_enum)]
    dtype: Option<DtypeArg>,
}

#[derive(Clone, Copy, ValueEnum)]
enum InitArg {
    /// uniform(-0.5, 0.5), the paper's.
    Uniform,
    /// Embeddings of common vocabulary tokens.
    Vocabulary,
    /// Embeddings of the tokens of --init-text.
    Text,
}

#[derive(Clone, Copy, ValueEnum)]
enum LossArg {
    /// Cross-entropy over the whole vocabulary (the paper's).
    Full,
    /// Cross-entropy over the 7 label tokens only (faster).
    Labels,
}

/// The training recipe, shared by `train` and `sweep`; defaults are the paper's.
#[derive(Args)]
struct RecipeArgs {
    /// How the prompt starts.
    #[arg(long, value_enum, default_value = "uniform")]
    init: InitArg,
    /// Text whose token embeddings start the prompt (with --init text).
    #[arg(long)]
    init_text: Option<String>,
    /// Hidden size of the reparameterization MLP when one is used.
    #[arg(long, default_value_t = PAPER_REPARAM_HIDDEN)]
    reparam_hidden: usize,
    /// Peak learning rate of AdamW.
    #[arg(long, default_value_t = 5e-3)]
    lr: f64,
    /// Fraction of steps warming the learning rate up.
    #[arg(long, default_value_t = 0.1)]
    warmup: f64,
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    #[arg(long, default_value_t = 8)]
    batch: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Training examples per class, or "all".
    #[arg(long, default_value = "8", value_parser = parse_shots)]
    shots: Shots,
    /// Where the prompt goes: suffix slots before EOS (the paper) or prepended (PEFT).
    #[arg(long, value_enum, default_value = "suffix")]
    placement: PlacementArg,
    #[arg(long, value_enum, default_value = "full")]
    loss: LossArg,
    /// Longest input in tokens (the sentence is truncated to fit).
    #[arg(long, default_value_t = 128)]
    max_len: usize,
    /// Stop after this many steps (the learning-rate schedule spans them).
    #[arg(long)]
    max_steps: Option<usize>,
}

#[derive(Clone, Copy, ValueEnum)]
enum PlacementArg {
    Suffix,
    Prefix,
}

#[derive(Args)]
struct TrainArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Folder for the prompt (adapter_model.safetensors + adapter_config.json) and the run's checkpoint.
    #[arg(long)]
    out: PathBuf,
    /// Number of prompt vectors.
    #[arg(long, default_value_t = 10)]
    prompt_length: usize,
    /// Produce the prompt with the reparameterization MLP.
    #[arg(long)]
    reparam: bool,
    #[command(flatten)]
    recipe: RecipeArgs,
    /// Evaluate the trained prompt on these languages afterwards ("all" = the 52; default: none).
    #[arg(long, value_delimiter = ',')]
    languages: Vec<String>,
    /// Continue the run saved in this checkpoint (or the folder holding checkpoint.safetensors).
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Hub id recorded as the base model (default: config.json's `_name_or_path`, else the folder name).
    #[arg(long)]
    base_model: Option<String>,
}

#[derive(Args)]
struct EvalArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// A prompt file, or a folder with adapter_model.safetensors (+ adapter_config.json).
    #[arg(long)]
    prompt: PathBuf,
    /// JSON results: one entry per language; a markdown table is written beside it (.md).
    #[arg(long)]
    out: PathBuf,
    /// FLORES-200 codes, comma-separated, or "all" (the paper's 52).
    #[arg(long, value_delimiter = ',', default_value = "all")]
    languages: Vec<String>,
    /// Sentences per forward pass.
    #[arg(long, default_value_t = 32)]
    batch: usize,
}

#[derive(Args)]
struct SweepArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Folder for every run's prompt, results.json, results.md and chart.svg.
    #[arg(long)]
    out: PathBuf,
    /// Prompt lengths to try.
    #[arg(long, value_delimiter = ',', default_values_t = PAPER_LENGTHS)]
    lengths: Vec<usize>,
    /// Reparameterization settings to try: off, on, or both.
    #[arg(long, value_delimiter = ',', default_values = ["off", "on"])]
    reparam: Vec<ReparamArg>,
    #[command(flatten)]
    recipe: RecipeArgs,
    /// Languages to evaluate each prompt on ("all" = the 52).
    #[arg(long, value_delimiter = ',', default_value = "all")]
    languages: Vec<String>,
    #[arg(long)]
    base_model: Option<String>,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum ReparamArg {
    Off,
    On,
}

fn parse_shots(text: &str) -> Result<Shots, String> {
    match text {
        "all" => Ok(Shots::All),
        k => k.parse().map(Shots::PerClass).map_err(|_| format!("expected a number of examples or \"all\", not {k:?}")),
    }
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Train(args) => train(args),
        Command::Eval(args) => evaluate(args),
        Command::Sweep(args) => sweep(args),
        Command::Inspect { model } => inspect(&model),
        Command::Convert(args) => convert(args),
        Command::Bench(args) => run_bench(args),
    }
}

/// The model, its tokenizer and its hub id, loaded from a folder in the hub's layout.
struct Loaded {
    model: CausalLm,
    tokenizer: TextTokenizer,
    base_model: String,
    backend: BackendInfo,
}

fn load(args: &ModelArgs, base_model: Option<String>) -> Result<Loaded> {
    let (device, info) =
        pollster::block_on(backend::init(if args.gpu { Preference::Auto } else { Preference::Cpu }));
    eprintln!("device: {}", info.label());
    let options = LoadOptions { dtype: args.dtype.map(Into::into), ..LoadOptions::default() };
    let model = weights::load_dir(&args.model, &device, &options)
        .with_context(|| format!("cannot load the model in {}", args.model.display()))?;
    let path = args.model.join("tokenizer.json");
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let tokenizer = TextTokenizer::from_bytes(&bytes).with_context(|| format!("in {}", path.display()))?;
    tokenizer.check_against(model.config()).with_context(|| format!("{} does not fit the model", path.display()))?;
    let base_model = base_model.unwrap_or_else(|| hub_id(&args.model));
    Ok(Loaded { model, tokenizer, base_model, backend: info })
}

/// config.json's `_name_or_path` (what transformers records), else the folder's name.
fn hub_id(dir: &Path) -> String {
    let recorded = std::fs::read_to_string(dir.join("config.json")).ok().and_then(|text| recorded_name(&text));
    recorded.unwrap_or_else(|| {
        let name = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        name.file_name().map_or_else(|| "local-model".into(), |n| n.to_string_lossy().into_owned())
    })
}

fn recipe_config(recipe: &RecipeArgs, length: usize, reparam: bool) -> Result<TrainConfig> {
    let init = match (recipe.init, &recipe.init_text) {
        (InitArg::Uniform, _) => PromptInit::Uniform,
        (InitArg::Vocabulary, _) => PromptInit::Vocabulary,
        (InitArg::Text, Some(text)) => PromptInit::Text(text.clone()),
        (InitArg::Text, None) => bail!("--init text needs --init-text \"some words\""),
    };
    let mut config = TrainConfig::paper(length);
    config.prompt.init = init;
    config.prompt.reparam_hidden = reparam.then_some(recipe.reparam_hidden);
    config.placement = match recipe.placement {
        PlacementArg::Suffix => Placement::Suffix,
        PlacementArg::Prefix => Placement::Prefix,
    };
    config.loss = match recipe.loss {
        LossArg::Full => LossKind::FullVocabulary,
        LossArg::Labels => LossKind::LabelTokens,
    };
    config.learning_rate = recipe.lr;
    config.warmup_ratio = recipe.warmup;
    config.epochs = recipe.epochs;
    config.batch_size = recipe.batch;
    config.seed = recipe.seed;
    config.shots = recipe.shots;
    config.max_len = recipe.max_len;
    config.max_steps = recipe.max_steps;
    Ok(config)
}

fn bar(total: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(ProgressStyle::with_template(template).expect("valid template").progress_chars("=> "));
    bar
}

fn train(args: TrainArgs) -> Result<()> {
    let loaded = load(&args.model, args.base_model.clone())?;
    let train_split = sib200::read_split(&args.model.data, "eng_Latn", Split::Train)?;
    let dev_split = sib200::read_split(&args.model.data, "eng_Latn", Split::Dev)?;
    let evaluate_on = languages::select(&args.languages)?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;

    let mut trainer = match &args.resume {
        Some(path) => {
            let path = if path.is_dir() { path.join(CHECKPOINT) } else { path.clone() };
            let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let trainer = Trainer::resume(&loaded.model, &loaded.tokenizer, &bytes, &train_split, &dev_split)?;
            eprintln!("resuming at step {} of {}", trainer.steps_done(), trainer.total_steps());
            trainer
        }
        None => {
            let config = recipe_config(&args.recipe, args.prompt_length, args.reparam)?;
            Trainer::new(&loaded.model, &loaded.tokenizer, config, &train_split, &dev_split)?
        }
    };
    let outcome = run_with_progress(&mut trainer, &loaded.model)?;
    let mut file = pollster::block_on(trainer.prompt_file(&loaded.base_model))?;
    // Saved whatever the outcome: an interrupted run keeps its prompt and can be resumed.
    std::fs::write(args.out.join(CHECKPOINT), pollster::block_on(trainer.save())?)?;
    write_prompt(&args.out, &file, loaded.model.config())?;
    match outcome {
        RunOutcome::Finished => eprintln!("trained {} steps; prompt in {}", trainer.steps_done(), args.out.display()),
        RunOutcome::Cancelled | RunOutcome::Paused => {
            eprintln!(
                "stopped at step {} of {}: the prompt so far is in {}; continue with --resume {}",
                trainer.steps_done(),
                trainer.total_steps(),
                args.out.display(),
                args.out.join(CHECKPOINT).display()
            );
            std::process::exit(130);
        }
    }
    if !evaluate_on.is_empty() {
        let results = evaluate_prompt(&loaded, &file, &args.model.data, &evaluate_on, 32)?;
        file.metadata.results = serde_json::to_value(&results)?;
        write_prompt(&args.out, &file, loaded.model.config())?;
        write_results(&args.out.join("results.json"), &results)?;
    }
    Ok(())
}

/// Cancelled by Ctrl-C; one for the whole process (a sweep's later runs stop too).
fn interrupt_control() -> Result<TrainControl> {
    static CONTROL: OnceLock<TrainControl> = OnceLock::new();
    if let Some(control) = CONTROL.get() {
        return Ok(control.clone());
    }
    let control = TrainControl::default();
    let on_interrupt = control.clone();
    ctrlc::set_handler(move || on_interrupt.cancel()).context("cannot watch for Ctrl-C")?;
    Ok(CONTROL.get_or_init(|| control).clone())
}

/// Runs to the end with a progress bar; Ctrl-C stops after the current step.
fn run_with_progress(trainer: &mut Trainer, model: &CausalLm) -> Result<RunOutcome> {
    let control = interrupt_control()?;
    let progress = bar(
        trainer.total_steps() as u64,
        "{spinner} train [{bar:30}] {pos}/{len} steps · {msg} · ETA {eta}",
    );
    progress.set_position(trainer.steps_done() as u64);
    let outcome = pollster::block_on(trainer.run(model, &control, READBACK_EVERY, |event, _| match event {
        TrainEvent::Steps { records, progress: p } => {
            progress.set_position(p.step as u64);
            if let Some(last) = records.last() {
                progress.set_message(format!(
                    "epoch {}/{} · loss {:.4} · {:.1} ex/s",
                    p.epoch, p.epochs, last.loss, p.examples_per_second
                ));
            }
        }
        TrainEvent::Validation { record, improved } => progress.println(format!(
            "epoch {:>3}: validation loss {:.4}, accuracy {:.3}{}",
            record.epoch,
            record.loss,
            record.accuracy,
            if improved { " (best so far)" } else { "" }
        )),
    }));
    progress.finish_and_clear();
    Ok(outcome?)
}

/// Writes the PEFT pair; our metadata rides in the safetensors header.
fn write_prompt(dir: &Path, file: &PromptFile, config: &ModelConfig) -> Result<()> {
    std::fs::write(dir.join(ADAPTER_WEIGHTS), file.to_safetensors())?;
    std::fs::write(dir.join(ADAPTER_CONFIG), file.peft_config_json(config))?;
    Ok(())
}

/// A prompt file, or a folder holding PEFT's pair.
fn read_prompt(path: &Path) -> Result<PromptFile> {
    let (weights, folder) = if path.is_dir() { (path.join(ADAPTER_WEIGHTS), path) } else { (path.to_path_buf(), path.parent().unwrap_or(Path::new("."))) };
    let bytes = std::fs::read(&weights).with_context(|| format!("cannot read the prompt {}", weights.display()))?;
    let config = std::fs::read_to_string(folder.join(ADAPTER_CONFIG)).ok();
    PromptFile::from_files(&bytes, config.as_deref()).with_context(|| format!("in {}", weights.display()))
}

fn evaluate_prompt(
    loaded: &Loaded,
    file: &PromptFile,
    data: &Path,
    languages: &[Language],
    batch: usize,
) -> Result<Vec<LanguageResult>> {
    file.check_compatible(loaded.model.config())?;
    let prompt = file.tensor(loaded.model.device());
    let setup = EvalSetup::for_prompt(file, &loaded.tokenizer, batch)?;
    let splits = languages
        .iter()
        .map(|l| sib200::read_split(data, l.code, Split::Test))
        .collect::<Result<Vec<_>, _>>()?;
    let progress = bar(
        splits.iter().map(Vec::len).sum::<usize>() as u64,
        "{spinner} eval  [{bar:30}] {pos}/{len} sentences · {msg} · ETA {eta}",
    );
    let mut results = Vec::new();
    for (language, examples) in languages.iter().zip(&splits) {
        progress.set_message(language.name);
        let start = progress.position();
        let result = pollster::block_on(eval::evaluate(
            &loaded.model,
            &loaded.tokenizer,
            &prompt,
            &setup,
            language,
            examples,
            |done, _| progress.set_position(start + done as u64),
        ))?;
        results.push(result);
    }
    progress.finish_and_clear();
    Ok(results)
}

/// The JSON entries, and the markdown table beside them (same name, `.md`), also printed.
fn write_results(path: &Path, results: &[LanguageResult]) -> Result<()> {
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

fn evaluate(args: EvalArgs) -> Result<()> {
    let file = read_prompt(&args.prompt)?;
    let loaded = load(&args.model, None)?;
    let languages = languages::select(&args.languages)?;
    let results = evaluate_prompt(&loaded, &file, &args.model.data, &languages, args.batch)?;
    write_results(&args.out, &results)
}

fn sweep(args: SweepArgs) -> Result<()> {
    let loaded = load(&args.model, args.base_model.clone())?;
    let train_split = sib200::read_split(&args.model.data, "eng_Latn", Split::Train)?;
    let dev_split = sib200::read_split(&args.model.data, "eng_Latn", Split::Dev)?;
    let languages = languages::select(&args.languages)?;
    let reparam: Vec<Option<usize>> = [ReparamArg::Off, ReparamArg::On]
        .into_iter()
        .filter(|r| args.reparam.contains(r))
        .map(|r| (r == ReparamArg::On).then_some(args.recipe.reparam_hidden))
        .collect();
    let cells = study::grid(&args.lengths, &reparam);
    let base = recipe_config(&args.recipe, 1, false)?;
    std::fs::create_dir_all(&args.out)?;
    let mut study = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        eprintln!("[{}/{}] {}", i + 1, cells.len(), cell.label());
        let mut trainer = Trainer::new(&loaded.model, &loaded.tokenizer, cell.config(&base), &train_split, &dev_split)?;
        let outcome = run_with_progress(&mut trainer, &loaded.model)?;
        let mut file = pollster::block_on(trainer.prompt_file(&loaded.base_model))?;
        let dir = args.out.join(cell.slug());
        std::fs::create_dir_all(&dir)?;
        if outcome != RunOutcome::Finished {
            write_prompt(&dir, &file, loaded.model.config())?;
            bail!("stopped during {}: finished runs and this run's prompt so far are in {}", cell.label(), args.out.display());
        }
        let results = evaluate_prompt(&loaded, &file, &args.model.data, &languages, 32)?;
        file.metadata.results = serde_json::to_value(&results)?;
        write_prompt(&dir, &file, loaded.model.config())?;
        study.push(StudyResult { cell: *cell, results });
        // Rewritten after every cell, so an interrupted sweep keeps what it finished.
        write_study(&args.out, &study, &loaded.base_model)?;
    }
    println!("{}", study::comparison_table(&study));
    eprintln!("results.json, results.md and chart.svg in {}", args.out.display());
    Ok(())
}

fn write_study(dir: &Path, study: &[StudyResult], base_model: &str) -> Result<()> {
    std::fs::write(dir.join("results.json"), serde_json::to_string_pretty(study)?)?;
    std::fs::write(dir.join("results.md"), study::comparison_table(study))?;
    let title = format!("Soft prompt tuning on {base_model}: zero-shot SIB-200 accuracy");
    std::fs::write(dir.join("chart.svg"), study::chart_svg(study, &title))?;
    Ok(())
}

fn inspect(dir: &Path) -> Result<()> {
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

fn convert(args: ConvertArgs) -> Result<()> {
    let dir = args.dir.or(args.model).expect("clap requires one");
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))
    };
    let config_bytes = read("config.json")?;
    let config = ModelConfig::from_json(&String::from_utf8_lossy(&config_bytes))
        .with_context(|| format!("in {}", dir.join("config.json").display()))?;
    let name = if dir.join(SAFETENSORS_FILE).exists() { SAFETENSORS_FILE } else { PYTORCH_FILE };
    let bytes = read(name)?;
    let file = weights::WeightsFile::named(name, &bytes);
    let dtype = WeightDtype::from(args.dtype);
    let converted = weights::convert(&config, file, dtype).with_context(|| format!("cannot convert {}", dir.join(name).display()))?;
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
        bytes.len() >> 20,
        args.out.join(SAFETENSORS_FILE).display(),
        dtype.name(),
        converted.len() >> 20
    );
    Ok(())
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn run_bench(args: BenchArgs) -> Result<()> {
    let loaded = load(&args.model, None)?;
    let (model, tokenizer) = (&loaded.model, &loaded.tokenizer);
    let model_heap_bytes = ALLOC.live();
    let load_peak_heap_bytes = ALLOC.peak();
    // From here the peak is the workload's own (the model stays live, loading transients are gone).
    ALLOC.reset_peak();
    let shape = BenchShape { batch: args.batch, seq: args.seq, prompt_len: args.prompt_len };
    let mut report = serde_json::json!({
        "model": args.model.model.display().to_string(),
        "family": model.config().family.name(),
        "device": loaded.backend.label(),
        "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "shape": shape,
    });
    if args.what.contains(&BenchWhat::Step) {
        eprintln!("timing training steps ({} + {} runs)", args.warmup, args.reps);
        report["step"] = serde_json::to_value(pollster::block_on(bench::time_steps(model, tokenizer, shape, args.warmup, args.reps))?)?;
    }
    if args.what.contains(&BenchWhat::Eval) {
        eprintln!("timing evaluation passes ({} + {} runs)", args.warmup, args.reps);
        report["eval"] = serde_json::to_value(pollster::block_on(bench::time_eval(model, tokenizer, shape, args.warmup, args.reps))?)?;
    }
    if args.what.contains(&BenchWhat::Epoch) {
        let language = languages::select(std::slice::from_ref(&args.language))?[0];
        let data = &args.model.data;
        let train = sib200::read_split(data, "eng_Latn", Split::Train)?;
        let dev = sib200::read_split(data, "eng_Latn", Split::Dev)?;
        let test = sib200::read_split(data, language.code, Split::Test)?;
        eprintln!("one epoch of the paper's recipe, then {} ({} sentences)", language.name, test.len());
        let epoch = bench::epoch(model, tokenizer, &train, &dev, &language, &test, args.eval_batch);
        report["epoch"] = serde_json::to_value(pollster::block_on(epoch)?)?;
    }
    report["memory"] = serde_json::json!({
        // Whole process, what the kernel counts (ru_maxrss on the PyTorch side): used for mem_ratio.
        "peak_rss_bytes": peak_rss_bytes(),
        // Heap bytes counted by the allocator: after loading, the loading peak, the workload's peak.
        "model_heap_bytes": model_heap_bytes,
        "load_peak_heap_bytes": load_peak_heap_bytes,
        "workload_peak_heap_bytes": ALLOC.peak(),
        // On the CPU backend the device is this same heap: the workload's peak less the host-side token
        // table is what a training step needs of the device, at most.
        "device_peak_bytes_at_most": matches!(loaded.backend, BackendInfo::Cpu { .. })
            .then(|| ALLOC.peak() as u64 - model.config().size_estimate(model.weight_dtype()).host_bytes),
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
