//! Options several commands share: the model folder, the data (SIB-200 or an own task), and the training
//! recipe.
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use polyprompt::model::WeightDtype;
use polyprompt::task::batch::Placement;
use polyprompt::task::sib200::Shots;
use polyprompt::tuning::prompt::PromptInit;
use polyprompt::tuning::study::PAPER_REPARAM_HIDDEN;
use polyprompt::tuning::train::{LossKind, TrainConfig};

/// The model and the data: what training and evaluation need.
#[derive(Args)]
pub struct ModelArgs {
    #[command(flatten)]
    pub folder: ModelFolderArgs,
    #[command(flatten)]
    pub data: DataArgs,
}

/// The examples: SIB-200 (the paper's task) or a task of one's own.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct DataArgs {
    /// SIB-200 folder: <language>/{train,dev,test}.tsv.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// An own task's folder: train.csv (English text,label rows), optionally dev.csv and <language>.csv
    /// test files such as swh_Latn.csv (.tsv works too).
    #[arg(long)]
    pub task: Option<PathBuf>,
}

/// How an own task's classes are scored.
#[derive(Args)]
pub struct LabelWordArgs {
    /// The word the model scores for a class of --task, as CLASS=WORD (repeatable; default: the class's
    /// label itself).
    #[arg(long, value_name = "CLASS=WORD", requires = "task")]
    pub label_word: Vec<String>,
}

/// A model folder and how to run it.
#[derive(Args)]
pub struct ModelFolderArgs {
    /// Model folder in the hub's layout: config.json, tokenizer.json, model.safetensors or pytorch_model.bin.
    #[arg(long)]
    pub model: PathBuf,
    /// Run on the GPU through wgpu when an adapter is available (default: the CPU).
    #[arg(long)]
    pub gpu: bool,
    /// Store the weight matrices as this (default: as the checkpoint stores them; f32 for bf16).
    #[arg(long, value_enum)]
    pub dtype: Option<DtypeArg>,
}

/// How to store the frozen weight matrices.
#[derive(Clone, Copy, ValueEnum)]
pub enum DtypeArg {
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

/// How a training step takes its gradient: time against memory.
#[derive(Args)]
pub struct MemoryArgs {
    /// fast: one graph over the whole forward pass, keeping every layer's activations; lean: one layer's
    /// graph at a time, about a third more compute for a fraction of the memory; auto: fast where its
    /// activations fit in the memory free now, else lean (always lean for f16 and int8 weights, whose
    /// one graph would widen every weight to f32).
    #[arg(long, value_enum, default_value = "auto")]
    pub memory: MemoryArg,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MemoryArg {
    Auto,
    Fast,
    Lean,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum InitArg {
    /// uniform(-0.5, 0.5), the paper's.
    Uniform,
    /// Embeddings of common vocabulary tokens.
    Vocabulary,
    /// Embeddings of the tokens of --init-text.
    Text,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LossArg {
    /// Cross-entropy over the whole vocabulary (the paper's).
    Full,
    /// Cross-entropy over the label tokens only (faster).
    Labels,
}

/// The training recipe, shared by `train` and `sweep`; defaults are the paper's.
#[derive(Args)]
pub struct RecipeArgs {
    /// How the prompt starts.
    #[arg(long, value_enum, default_value = "uniform")]
    pub init: InitArg,
    /// Text whose token embeddings start the prompt (with --init text).
    #[arg(long)]
    pub init_text: Option<String>,
    /// Hidden size of the reparameterization MLP when one is used.
    #[arg(long, default_value_t = PAPER_REPARAM_HIDDEN)]
    pub reparam_hidden: usize,
    /// Peak learning rate of AdamW.
    #[arg(long, default_value_t = 5e-3)]
    pub lr: f64,
    /// Fraction of steps warming the learning rate up.
    #[arg(long, default_value_t = 0.1)]
    pub warmup: f64,
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Training examples per class, or "all".
    #[arg(long, default_value = "8", value_parser = parse_shots)]
    pub shots: Shots,
    /// Where the prompt goes: suffix slots before EOS (the paper) or prepended (PEFT).
    #[arg(long, value_enum, default_value = "suffix")]
    pub placement: PlacementArg,
    #[arg(long, value_enum, default_value = "full")]
    pub loss: LossArg,
    /// Longest input in tokens (the sentence is truncated to fit).
    #[arg(long, default_value_t = 128)]
    pub max_len: usize,
    /// Stop after this many steps (the learning-rate schedule spans them).
    #[arg(long)]
    pub max_steps: Option<usize>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum PlacementArg {
    Suffix,
    Prefix,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
pub enum ReparamArg {
    Off,
    On,
}

pub fn parse_shots(text: &str) -> Result<Shots, String> {
    match text {
        "all" => Ok(Shots::All),
        k => k.parse().map(Shots::PerClass).map_err(|_| format!("expected a number of examples or \"all\", not {k:?}")),
    }
}

pub fn recipe_config(recipe: &RecipeArgs, length: usize, reparam: bool) -> Result<TrainConfig> {
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
