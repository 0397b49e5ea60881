//! `sweep --plan / --cell / --merge`: the study as independent cells that any scheduler can run. The plan's
//! folder is the only state the cells share: `plan.json`, the Slurm scripts, `cells/<cell>/` (a finished
//! cell's prompt and `result.json`, or the `failed.json` of one that failed), `logs/` and the merged
//! `results.json`, `results.md` and `chart.svg`. A cell writes into `<cell>.partial-<pid>` and renames it
//! when complete, so a killed task leaves no half-written cell and two tasks never write the same file.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use polyprompt::files::prompt_file::PromptFile;
use polyprompt::model::WeightDtype;
use polyprompt::task::languages;
use polyprompt::task::sib200::{self, Split};
use polyprompt::tuning::study_plan::{self, CellResult, CellState, PLAN_VERSION, Plan, PlannedCell};
use polyprompt::tuning::train::{RunOutcome, TrainConfig, Trainer};

use crate::dataset::Dataset;
use crate::eval::evaluate_prompt;
use crate::model_folder::load_folder;
use crate::output::write_prompt;
use crate::progress::run_with_progress;

const PLAN: &str = "plan.json";
const RESULT: &str = "result.json";
const FAILED: &str = "failed.json";

/// How each Slurm array task asks for resources (written into `sweep.sbatch`).
#[derive(Args)]
pub struct SlurmArgs {
    /// With --plan: array tasks running at once (Slurm's `%` throttle); default no limit.
    #[arg(long)]
    pub slurm_throttle: Option<usize>,
    /// With --plan: CPU cores per task.
    #[arg(long, default_value_t = 2)]
    pub slurm_cpus: usize,
    /// With --plan: GPUs per task (`--gres=gpu:N`); the cells then run with --gpu.
    #[arg(long, default_value_t = 0)]
    pub slurm_gpus: usize,
    /// With --plan: memory per task (Slurm's --mem, e.g. 8G).
    #[arg(long)]
    pub slurm_mem: Option<String>,
    /// With --plan: time limit per task.
    #[arg(long, default_value = "04:00:00")]
    pub slurm_time: String,
    /// With --plan: the partition to run in.
    #[arg(long)]
    pub slurm_partition: Option<String>,
}

/// What `--plan` was asked for (sweep.rs gathers it from the command line).
pub struct PlanRequest<'a> {
    pub models: &'a [PathBuf],
    pub data: &'a Path,
    pub lengths: &'a [usize],
    pub reparam: Vec<Option<usize>>,
    pub seeds: Vec<u64>,
    pub languages: &'a [String],
    /// The recipe every cell starts from.
    pub recipe: TrainConfig,
    pub gpu: bool,
    pub dtype: Option<WeightDtype>,
    pub slurm: &'a SlurmArgs,
}

/// `--plan DIR`: `plan.json`, `sweep.sbatch` (the array), `merge.sbatch` and `submit.sh` (both, the merge
/// after the array with `afterany`).
pub fn write_plan(request: &PlanRequest, dir: &Path) -> Result<()> {
    if request.models.is_empty() {
        bail!("--plan needs --model (one or more model folders, comma-separated)");
    }
    let data = absolute(request.data)?;
    sib200::read_split(&data, "eng_Latn", Split::Train)?;
    let languages: Vec<String> = languages::select(request.languages)?.iter().map(|l| l.code.to_string()).collect();
    let models = request
        .models
        .iter()
        .map(|m| {
            let path = absolute(m)?;
            let name = path.file_name().map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned());
            Ok((path.display().to_string(), name))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut plan = Plan::new(
        &models,
        request.lengths,
        &request.reparam,
        &request.seeds,
        request.recipe.clone(),
        data.display().to_string(),
        languages,
    );
    plan.gpu = request.gpu || request.slurm.slurm_gpus > 0;
    plan.dtype = request.dtype;
    let dir = absolute(dir)?;
    // A cell's number must keep meaning the same run: a folder keeps the plan it was made with.
    if let Ok(earlier) = read_plan(&dir)
        && earlier != plan
    {
        bail!("{} already holds another plan: choose a new folder (or delete that one)", dir.display());
    }
    std::fs::create_dir_all(dir.join("logs"))?;
    write_atomically(&dir.join(PLAN), serde_json::to_string_pretty(&plan)?.as_bytes())?;
    let program = std::env::current_exe().context("cannot tell where this polyprompt is")?;
    let scripts = SlurmScripts { dir: &dir, program: &program, cells: plan.cells.len(), slurm: request.slurm };
    write_script(&dir.join("sweep.sbatch"), &scripts.array())?;
    write_script(&dir.join("merge.sbatch"), &scripts.merge())?;
    write_script(&dir.join("submit.sh"), &scripts.submit())?;
    println!(
        "{} cells in {}: submit with `bash {}/submit.sh` (Slurm), or run `polyprompt sweep --cell N {}` for \
         N in 0..{} anywhere, then `polyprompt sweep --merge {}`",
        plan.cells.len(),
        dir.join(PLAN).display(),
        dir.display(),
        dir.display(),
        plan.cells.len(),
        dir.display()
    );
    Ok(())
}

struct SlurmScripts<'a> {
    dir: &'a Path,
    program: &'a Path,
    cells: usize,
    slurm: &'a SlurmArgs,
}

impl SlurmScripts<'_> {
    fn array(&self) -> String {
        let throttle = self.slurm.slurm_throttle.map(|n| format!("%{n}")).unwrap_or_default();
        let mut script = format!(
            "#!/bin/bash\n\
             # Written by `polyprompt sweep --plan`: one array task per cell of plan.json (submit.sh submits it\n\
             # and then the merge). Submitting it again runs only the cells that are not complete.\n\
             #SBATCH --job-name=polyprompt-sweep\n\
             #SBATCH --array=0-{}{throttle}\n\
             #SBATCH --output={}/logs/cell-%a.out\n\
             #SBATCH --cpus-per-task={}\n\
             #SBATCH --time={}\n",
            self.cells - 1,
            self.dir.display(),
            self.slurm.slurm_cpus,
            self.slurm.slurm_time
        );
        self.resources(&mut script);
        let _ = writeln!(
            script,
            "exec '{}' sweep --cell \"$SLURM_ARRAY_TASK_ID\" '{}'",
            self.program.display(),
            self.dir.display()
        );
        script
    }

    fn resources(&self, script: &mut String) {
        if self.slurm.slurm_gpus > 0 {
            let _ = writeln!(script, "#SBATCH --gres=gpu:{}", self.slurm.slurm_gpus);
        }
        if let Some(memory) = &self.slurm.slurm_mem {
            let _ = writeln!(script, "#SBATCH --mem={memory}");
        }
        if let Some(partition) = &self.slurm.slurm_partition {
            let _ = writeln!(script, "#SBATCH --partition={partition}");
        }
    }

    fn merge(&self) -> String {
        let mut script = format!(
            "#!/bin/bash\n\
             # Written by `polyprompt sweep --plan`: merges whatever cells finished (submit.sh runs it after the array).\n\
             #SBATCH --job-name=polyprompt-merge\n\
             #SBATCH --output={}/logs/merge.out\n\
             #SBATCH --cpus-per-task=1\n\
             #SBATCH --time=00:15:00\n",
            self.dir.display()
        );
        if let Some(partition) = &self.slurm.slurm_partition {
            let _ = writeln!(script, "#SBATCH --partition={partition}");
        }
        let _ = writeln!(script, "exec '{}' sweep --merge '{}'", self.program.display(), self.dir.display());
        script
    }

    fn submit(&self) -> String {
        format!(
            "#!/bin/bash\n\
             # Submits the cells (sweep.sbatch) and the merge once they are all over, finished or not (afterany).\n\
             set -euo pipefail\n\
             cd '{}'\n\
             array=$(sbatch --parsable sweep.sbatch)\n\
             merge=$(sbatch --parsable --dependency=afterany:\"${{array%%;*}}\" merge.sbatch)\n\
             echo \"array job $array, merge job $merge\"\n",
            self.dir.display()
        )
    }
}

/// `--cell N DIR`: trains and evaluates cell N unless it is complete; a failure is recorded in the cell's
/// folder (`failed.json`) for the merge, and the exit status is non-zero.
pub fn run_cell(dir: &Path, index: usize) -> Result<()> {
    let plan = read_plan(dir)?;
    let Some(planned) = plan.cells.get(index) else {
        bail!("the plan in {} has cells 0 to {}, not {index}", dir.display(), plan.cells.len().saturating_sub(1));
    };
    let out = dir.join(&planned.dir);
    if out.join(RESULT).exists() {
        eprintln!("cell {index} ({}) is complete: skipped", planned.dir);
        return Ok(());
    }
    eprintln!("cell {index}: {} {} seed {}", planned.model_name, planned.cell.label(), planned.seed);
    let partial = dir.join(format!("{}.partial-{}", planned.dir, std::process::id()));
    let result = train_and_evaluate(&plan, planned, &partial);
    match result {
        Ok(true) => finish(&partial, &out),
        Ok(false) => {
            let _ = std::fs::remove_dir_all(&partial);
            bail!("cell {index} was interrupted: run it again to redo it")
        }
        Err(error) => {
            let _ = std::fs::remove_dir_all(&partial);
            std::fs::create_dir_all(&out)?;
            let record = serde_json::json!({ "index": index, "error": format!("{error:#}") });
            write_atomically(&out.join(FAILED), serde_json::to_string_pretty(&record)?.as_bytes())?;
            Err(error.context(format!("cell {index} failed (recorded in {})", out.join(FAILED).display())))
        }
    }
}

/// Trains and evaluates one cell into `partial`; false if it was interrupted.
fn train_and_evaluate(plan: &Plan, planned: &PlannedCell, partial: &Path) -> Result<bool> {
    std::fs::create_dir_all(partial)?;
    let data = Dataset::Sib200(PathBuf::from(&plan.data));
    let loaded = load_folder(Path::new(&planned.model), plan.gpu, plan.dtype, None)?;
    let (train, dev) = data.english()?;
    let languages = languages::select(&plan.languages)?;
    let mut trainer = Trainer::new(&loaded.model, &loaded.tokenizer, plan.config(planned), &train, &dev)?;
    if run_with_progress(&mut trainer, &loaded.model)? != RunOutcome::Finished {
        return Ok(false);
    }
    let mut file = pollster::block_on(PromptFile::of_run(&mut trainer, &loaded.base_model))?;
    let results = evaluate_prompt(&loaded, &file, &data, &languages, 32)?;
    file.metadata.results = serde_json::to_value(&results)?;
    write_prompt(partial, &file, loaded.model.config())?;
    let record = CellResult {
        index: planned.index,
        model_name: planned.model_name.clone(),
        cell: planned.cell,
        seed: planned.seed,
        results,
    };
    std::fs::write(partial.join(RESULT), serde_json::to_string_pretty(&record)?)?;
    Ok(true)
}

/// Moves a complete cell into place: over an earlier failure's record, never over a complete cell (a
/// second task that finished the same cell first wins, and this one's copy is dropped).
fn finish(partial: &Path, out: &Path) -> Result<()> {
    if out.join(RESULT).exists() {
        std::fs::remove_dir_all(partial)?;
        return Ok(());
    }
    if out.exists() {
        std::fs::remove_dir_all(out)?;
    }
    std::fs::rename(partial, out).with_context(|| format!("cannot move {} to {}", partial.display(), out.display()))?;
    eprintln!("cell complete: {}", out.display());
    Ok(())
}

/// `--merge DIR`: results.json, results.md and chart.svg from the cells that finished.
pub fn merge(dir: &Path) -> Result<()> {
    let plan = read_plan(dir)?;
    let states = plan.cells.iter().map(|planned| cell_state(&dir.join(&planned.dir))).collect::<Result<Vec<_>>>()?;
    let log_of = |index: usize| {
        let log = dir.join("logs").join(format!("cell-{index}.out"));
        log.exists().then(|| log.display().to_string())
    };
    let merged = study_plan::merge(&plan, &states, log_of);
    let table = merged.markdown();
    write_atomically(&dir.join("results.json"), serde_json::to_string_pretty(&merged)?.as_bytes())?;
    write_atomically(&dir.join("results.md"), table.as_bytes())?;
    let title = "Soft prompt tuning: zero-shot SIB-200 accuracy, mean ± sd over seeds";
    write_atomically(&dir.join("chart.svg"), merged.chart_svg(title).as_bytes())?;
    println!("{table}");
    let complete = plan.cells.len() - merged.failed.len() - merged.missing.len();
    eprintln!(
        "{complete} of {} cells complete, {} failed, {} missing: results.json, results.md and chart.svg in {}",
        plan.cells.len(),
        merged.failed.len(),
        merged.missing.len(),
        dir.display()
    );
    Ok(())
}

fn cell_state(out: &Path) -> Result<CellState> {
    let result = out.join(RESULT);
    if result.exists() {
        let text = std::fs::read_to_string(&result)?;
        return Ok(CellState::Complete(
            serde_json::from_str(&text).with_context(|| format!("{} is damaged", result.display()))?,
        ));
    }
    match std::fs::read_to_string(out.join(FAILED)) {
        Ok(text) => {
            let record: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            Ok(CellState::Failed(record["error"].as_str().unwrap_or("failed (its record is unreadable)").to_string()))
        }
        Err(_) => Ok(CellState::Missing),
    }
}

fn read_plan(dir: &Path) -> Result<Plan> {
    let path = dir.join(PLAN);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!("cannot read {}: make one with `polyprompt sweep --plan {}`", path.display(), dir.display())
    })?;
    let plan: Plan = serde_json::from_str(&text).with_context(|| format!("{} is not a sweep plan", path.display()))?;
    if plan.version != PLAN_VERSION {
        bail!("{} is a version {} plan; this polyprompt reads version {PLAN_VERSION}", path.display(), plan.version);
    }
    Ok(plan)
}

/// Writes `bytes` to a temporary name beside `path`, then renames it: readers never see half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&temporary, bytes).with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("cannot write {}", path.display()))
}

fn write_script(path: &Path, text: &str) -> Result<()> {
    write_atomically(path, text.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))
}
