//! `polyprompt sweep`: the paper's study, every prompt length × reparameterization setting trained and
//! evaluated, with a comparison table and a chart.
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Args;
use polyprompt::files::prompt_file::PromptFile;
use polyprompt::task::languages;
use polyprompt::task::sib200::{self, Split};
use polyprompt::tuning::study::{self, PAPER_LENGTHS, StudyResult};
use polyprompt::tuning::train::{RunOutcome, Trainer};

use crate::args::{ModelArgs, RecipeArgs, ReparamArg, recipe_config};
use crate::eval::evaluate_prompt;
use crate::model_folder::load;
use crate::output::write_prompt;
use crate::progress::run_with_progress;

#[derive(Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Folder for every run's prompt, results.json, results.md and chart.svg.
    #[arg(long)]
    pub out: PathBuf,
    /// Prompt lengths to try.
    #[arg(long, value_delimiter = ',', default_values_t = PAPER_LENGTHS)]
    pub lengths: Vec<usize>,
    /// Reparameterization settings to try: off, on, or both.
    #[arg(long, value_delimiter = ',', default_values = ["off", "on"])]
    pub reparam: Vec<ReparamArg>,
    #[command(flatten)]
    pub recipe: RecipeArgs,
    /// Languages to evaluate each prompt on ("all" = the 52).
    #[arg(long, value_delimiter = ',', default_value = "all")]
    pub languages: Vec<String>,
    #[arg(long)]
    pub base_model: Option<String>,
}

pub fn run(args: SweepArgs) -> Result<()> {
    let loaded = load(&args.model.folder, args.base_model.clone())?;
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
        let mut file = pollster::block_on(PromptFile::of_run(&mut trainer, &loaded.base_model))?;
        let dir = args.out.join(cell.slug());
        std::fs::create_dir_all(&dir)?;
        if outcome != RunOutcome::Finished {
            write_prompt(&dir, &file, loaded.model.config())?;
            bail!(
                "stopped during {}: finished runs and this run's prompt so far are in {}",
                cell.label(),
                args.out.display()
            );
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
