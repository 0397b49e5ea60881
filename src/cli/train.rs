//! `polyprompt train`: a prompt trained on English SIB-200 (or an own task's training file), written as
//! PEFT's pair with a checkpoint to resume from, then optionally evaluated.
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use polyprompt::files::prompt_file::PromptFile;
use polyprompt::tuning::estimate::StepShape;
use polyprompt::tuning::train::{RunOutcome, Trainer};

use crate::args::{LabelWordArgs, MemoryArgs, ModelArgs, RecipeArgs, recipe_config};
use crate::dataset::Dataset;
use crate::eval::evaluate_prompt;
use crate::model_folder::load;
use crate::output::{CHECKPOINT, write_prompt, write_results};
use crate::progress::run_with_progress;

#[derive(Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Folder for the prompt (adapter_model.safetensors + adapter_config.json) and the run's checkpoint.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of prompt vectors.
    #[arg(long, default_value_t = 10)]
    pub prompt_length: usize,
    /// Produce the prompt with the reparameterization MLP.
    #[arg(long)]
    pub reparam: bool,
    #[command(flatten)]
    pub recipe: RecipeArgs,
    #[command(flatten)]
    pub label_words: LabelWordArgs,
    #[command(flatten)]
    pub memory: MemoryArgs,
    /// Evaluate the trained prompt on these languages afterwards ("all" = the 52, or an own task's test
    /// languages; default: none).
    #[arg(long, value_delimiter = ',')]
    pub languages: Vec<String>,
    /// Continue the run saved in this checkpoint (or the folder holding checkpoint.safetensors).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Hub id recorded as the base model (default: config.json's `_name_or_path`, else the folder name).
    #[arg(long)]
    pub base_model: Option<String>,
}

pub fn run(args: TrainArgs) -> Result<()> {
    let loaded = load(&args.model.folder, args.base_model.clone())?;
    let data = Dataset::open(&args.model.data, &args.label_words.label_word)?;
    let (train_split, dev_split) = data.english()?;
    let evaluate_on = data.languages(&args.languages)?;
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
            let mut config = recipe_config(&args.recipe, args.prompt_length, args.reparam)?;
            config.task = data.task();
            Trainer::new(&loaded.model, &loaded.tokenizer, config, &train_split, &dev_split)?
        }
    };
    // Rows are padded to the longest of their batch: `max_len` is the most a step can meet.
    let shape = StepShape { batch: trainer.config().batch_size, tokens: trainer.config().max_len };
    trainer.set_backprop(loaded.backprop(args.memory.memory, shape));
    let outcome = run_with_progress(&mut trainer, &loaded.model)?;
    let mut file = pollster::block_on(PromptFile::of_run(&mut trainer, &loaded.base_model))?;
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
        let results = evaluate_prompt(&loaded, &file, &data, &evaluate_on, 32)?;
        file.metadata.results = serde_json::to_value(&results)?;
        write_prompt(&args.out, &file, loaded.model.config())?;
        write_results(&args.out.join("results.json"), &results)?;
    }
    Ok(())
}
