//! `polyprompt eval`: a prompt evaluated zero-shot on SIB-200 test sets (or an own task's), per language.
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use polyprompt::files::prompt_file::PromptFile;
use polyprompt::task::languages::Language;
use polyprompt::tuning::eval::{self, LanguageResult};

use crate::args::ModelArgs;
use crate::dataset::Dataset;
use crate::model_folder::{Loaded, load};
use crate::output::{read_prompt, write_results};
use crate::progress::bar;

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// A prompt file, or a folder with adapter_model.safetensors (+ adapter_config.json).
    #[arg(long)]
    pub prompt: PathBuf,
    /// JSON results: one entry per language; a markdown table is written beside it (.md).
    #[arg(long)]
    pub out: PathBuf,
    /// FLORES-200 codes, comma-separated, or "all" (the paper's 52, or an own task's test languages).
    #[arg(long, value_delimiter = ',', default_value = "all")]
    pub languages: Vec<String>,
    /// Sentences per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
}

pub fn run(args: EvalArgs) -> Result<()> {
    let file = read_prompt(&args.prompt)?;
    let loaded = load(&args.model.folder, None)?;
    // An own task's label words are the prompt's own (recorded when it was trained).
    let data = Dataset::open(&args.model.data, &[])?;
    let languages = data.languages(&args.languages)?;
    let results = evaluate_prompt(&loaded, &file, &data, &languages, args.batch)?;
    write_results(&args.out, &results)
}

pub fn evaluate_prompt(
    loaded: &Loaded,
    file: &PromptFile,
    data: &Dataset,
    languages: &[Language],
    batch: usize,
) -> Result<Vec<LanguageResult>> {
    file.check_compatible(loaded.model.config())?;
    file.check_task(&data.labels(loaded.model.config().family))?;
    let prompt = file.tensor(loaded.model.device());
    let setup = file.eval_setup(&loaded.tokenizer, batch)?;
    let splits = languages.iter().map(|l| data.test(l)).collect::<Result<Vec<_>>>()?;
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
