//! `polyprompt sweep`: the paper's study, every prompt length × reparameterization setting trained and
//! evaluated, with a comparison table and a chart — on this machine one run after another (`--out`), or
//! as a plan of independent cells for a scheduler (`--plan`, `--cell`, `--merge`: sweep_plan.rs).
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use polyprompt::files::prompt_file::PromptFile;
use polyprompt::task::languages;
use polyprompt::tuning::study::{self, PAPER_LENGTHS, StudyResult};
use polyprompt::tuning::train::{RunOutcome, Trainer};

use crate::args::{DtypeArg, RecipeArgs, ReparamArg, recipe_config};
use crate::dataset::Dataset;
use crate::eval::evaluate_prompt;
use crate::model_folder::load_folder;
use crate::output::write_prompt;
use crate::progress::run_with_progress;
use crate::sweep_plan::{self, PlanRequest, SlurmArgs};

#[derive(Args)]
pub struct SweepArgs {
    /// Model folder in the hub's layout; with --plan, several (comma-separated).
    #[arg(long = "model", visible_alias = "models", value_delimiter = ',')]
    pub models: Vec<PathBuf>,
    /// SIB-200 folder: <language>/{train,dev,test}.tsv.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Run on the GPU through wgpu when an adapter is available (default: the CPU).
    #[arg(long)]
    pub gpu: bool,
    /// Store the weight matrices as this (default: as the checkpoint stores them).
    #[arg(long, value_enum)]
    pub dtype: Option<DtypeArg>,
    /// Run the grid here, one cell after another: every run's prompt, results.json, results.md and
    /// chart.svg go in this folder.
    #[arg(long, conflicts_with_all = ["plan", "cell", "merge"])]
    pub out: Option<PathBuf>,
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
    /// With --plan: seeds, each cell trained once per seed (default: --seed).
    #[arg(long, value_delimiter = ',')]
    pub seeds: Vec<u64>,
    /// Write DIR/plan.json (every cell numbered once) and Slurm scripts that run each cell as an array
    /// task, then merge.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["cell", "merge"])]
    pub plan: Option<PathBuf>,
    /// Run cell N of the plan in DIR (what an array task runs: --cell $SLURM_ARRAY_TASK_ID DIR).
    #[arg(long, value_name = "N", requires = "dir", conflicts_with = "merge")]
    pub cell: Option<usize>,
    /// The plan's folder, with --cell.
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Merge the finished cells of the plan in DIR: results.json, results.md and chart.svg, mean ± sd over
    /// seeds, with the cells missing or failed.
    #[arg(long, value_name = "DIR")]
    pub merge: Option<PathBuf>,
    #[command(flatten)]
    pub slurm: SlurmArgs,
}

impl SweepArgs {
    /// The reparameterization settings asked for, off before on.
    pub fn reparam_settings(&self) -> Vec<Option<usize>> {
        [ReparamArg::Off, ReparamArg::On]
            .into_iter()
            .filter(|r| self.reparam.contains(r))
            .map(|r| (r == ReparamArg::On).then_some(self.recipe.reparam_hidden))
            .collect()
    }

    pub fn data(&self) -> Result<&Path> {
        self.data.as_deref().context("--data is required: the SIB-200 folder (<language>/{train,dev,test}.tsv)")
    }
}

pub fn run(args: SweepArgs) -> Result<()> {
    match (&args.plan, args.cell, &args.dir, &args.merge, &args.out) {
        (Some(dir), ..) => {
            let request = PlanRequest {
                models: &args.models,
                data: args.data()?,
                lengths: &args.lengths,
                reparam: args.reparam_settings(),
                seeds: if args.seeds.is_empty() { vec![args.recipe.seed] } else { args.seeds.clone() },
                languages: &args.languages,
                recipe: recipe_config(&args.recipe, 1, false)?,
                gpu: args.gpu,
                dtype: args.dtype.map(Into::into),
                slurm: &args.slurm,
            };
            sweep_plan::write_plan(&request, dir)
        }
        (_, Some(index), Some(dir), ..) => sweep_plan::run_cell(dir, index),
        (.., Some(dir), _) => sweep_plan::merge(dir),
        (.., Some(out)) => run_here(&args, out),
        _ => bail!("say where: --out DIR (run the grid here), --plan DIR, --cell N DIR or --merge DIR"),
    }
}

/// Every cell on this machine, one after another.
fn run_here(args: &SweepArgs, out: &Path) -> Result<()> {
    let [model] = args.models.as_slice() else { bail!("--out runs one model: give one --model (or use --plan)") };
    // The paper's study: SIB-200 only.
    let data = Dataset::Sib200(args.data()?.to_path_buf());
    let loaded = load_folder(model, args.gpu, args.dtype.map(Into::into), args.base_model.clone())?;
    let (train_split, dev_split) = data.english()?;
    let languages = languages::select(&args.languages)?;
    let cells = study::grid(&args.lengths, &args.reparam_settings());
    let base = recipe_config(&args.recipe, 1, false)?;
    std::fs::create_dir_all(out)?;
    let mut study = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        eprintln!("[{}/{}] {}", i + 1, cells.len(), cell.label());
        let mut trainer = Trainer::new(&loaded.model, &loaded.tokenizer, cell.config(&base), &train_split, &dev_split)?;
        let outcome = run_with_progress(&mut trainer, &loaded.model)?;
        let mut file = pollster::block_on(PromptFile::of_run(&mut trainer, &loaded.base_model))?;
        let dir = out.join(cell.slug());
        std::fs::create_dir_all(&dir)?;
        if outcome != RunOutcome::Finished {
            write_prompt(&dir, &file, loaded.model.config())?;
            bail!(
                "stopped during {}: finished runs and this run's prompt so far are in {}",
                cell.label(),
                out.display()
            );
        }
        let results = evaluate_prompt(&loaded, &file, &data, &languages, 32)?;
        file.metadata.results = serde_json::to_value(&results)?;
        write_prompt(&dir, &file, loaded.model.config())?;
        study.push(StudyResult { cell: *cell, results });
        // Rewritten after every cell, so an interrupted sweep keeps what it finished.
        write_study(out, &study, &loaded.base_model)?;
    }
    println!("{}", study::comparison_table(&study));
    eprintln!("results.json, results.md and chart.svg in {}", out.display());
    Ok(())
}

fn write_study(dir: &Path, study: &[StudyResult], base_model: &str) -> Result<()> {
    std::fs::write(dir.join("results.json"), serde_json::to_string_pretty(study)?)?;
    std::fs::write(dir.join("results.md"), study::comparison_table(study))?;
    let title = format!("Soft prompt tuning on {base_model}: zero-shot SIB-200 accuracy");
    std::fs::write(dir.join("chart.svg"), study::chart_svg(study, &title))?;
    Ok(())
}
