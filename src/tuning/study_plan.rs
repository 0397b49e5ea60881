//! The paper's study spread over many processes: a plan numbers every run (model × prompt length ×
//! reparameterization × seed) once and for all, each run ("cell") is trained and evaluated on its own by
//! whichever process is handed its number (a Slurm array task, GNU parallel, a Kubernetes Job), and the
//! merge gathers whatever finished into mean ± standard deviation over seeds. Nothing here touches files
//! or processes: `polyprompt sweep --plan / --cell / --merge` does (src/cli/sweep_plan.rs).
use serde::{Deserialize, Serialize};

use crate::model::WeightDtype;
use crate::tuning::eval::{LanguageResult, mean_accuracy};
use crate::tuning::study::{Series, StudyCell, grid, line_chart_svg, setting_name};
use crate::tuning::train::TrainConfig;

/// The plan's file format version.
pub const PLAN_VERSION: u32 = 1;

/// Every run of a study with what it needs: written once by `--plan`, read by every cell and the merge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub version: u32,
    /// SIB-200's folder.
    pub data: String,
    /// FLORES-200 codes each prompt is evaluated on.
    pub languages: Vec<String>,
    /// The recipe every cell starts from (its length, reparameterization and seed replaced).
    pub recipe: TrainConfig,
    pub gpu: bool,
    pub dtype: Option<WeightDtype>,
    pub cells: Vec<PlannedCell>,
}

/// One run of the plan. Its number is its place in the plan, so a number always means the same run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedCell {
    pub index: usize,
    /// The model folder.
    pub model: String,
    /// A short name for tables and folder names: the folder's last part.
    pub model_name: String,
    pub cell: StudyCell,
    pub seed: u64,
    /// Where its outputs go, relative to the plan's folder.
    pub dir: String,
}

impl Plan {
    /// Models × lengths × reparameterization settings × seeds, in that order of nesting.
    pub fn new(
        models: &[(String, String)],
        lengths: &[usize],
        reparam: &[Option<usize>],
        seeds: &[u64],
        recipe: TrainConfig,
        data: String,
        languages: Vec<String>,
    ) -> Plan {
        let mut cells = Vec::new();
        for (model, model_name) in models {
            for cell in grid(lengths, reparam) {
                for &seed in seeds {
                    let index = cells.len();
                    let dir = format!("cells/{index:04}-{}-{}-s{seed}", slug(model_name), cell.slug());
                    cells.push(PlannedCell {
                        index,
                        model: model.clone(),
                        model_name: model_name.clone(),
                        cell,
                        seed,
                        dir,
                    });
                }
            }
        }
        Plan { version: PLAN_VERSION, data, languages, recipe, gpu: false, dtype: None, cells }
    }

    /// The recipe of one cell.
    pub fn config(&self, planned: &PlannedCell) -> TrainConfig {
        let mut config = planned.cell.config(&self.recipe);
        config.seed = planned.seed;
        config
    }
}

/// A name safe for folders: letters, digits, '-', '.', '_' kept, the rest '-'.
fn slug(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || "-._".contains(c) { c } else { '-' }).collect()
}

/// What a finished cell records (its `result.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    pub index: usize,
    pub model_name: String,
    pub cell: StudyCell,
    pub seed: u64,
    pub results: Vec<LanguageResult>,
}

/// Where one cell stands, as the merge finds it.
#[derive(Clone, Debug, PartialEq)]
pub enum CellState {
    Complete(CellResult),
    /// It ran and failed; the message it recorded.
    Failed(String),
    /// Never ran, still running, or killed before it could record anything.
    Missing,
}

/// The cells that share a model, length and reparameterization, over their seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MergedRun {
    pub model_name: String,
    pub cell: StudyCell,
    pub seeds: Vec<u64>,
    /// Mean over seeds of the mean accuracy over languages, and its standard deviation over seeds.
    pub mean_accuracy: f64,
    pub sd: f64,
    pub languages: Vec<LanguageSpread>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LanguageSpread {
    pub code: String,
    pub name: String,
    pub mean_accuracy: f64,
    pub sd: f64,
}

/// A cell the merge could not use, with its log file (where the scheduler wrote one).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnfinishedCell {
    pub index: usize,
    pub dir: String,
    /// The failure it recorded; `None` for a missing cell.
    pub error: Option<String>,
    pub log: Option<String>,
}

/// The merged study: one entry per model × length × reparameterization, and what did not finish.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MergedStudy {
    pub runs: Vec<MergedRun>,
    pub failed: Vec<UnfinishedCell>,
    pub missing: Vec<UnfinishedCell>,
}

/// Gathers `states` (one per planned cell, in plan order) over seeds; `log_of(index)` is a cell's log file.
pub fn merge(plan: &Plan, states: &[CellState], log_of: impl Fn(usize) -> Option<String>) -> MergedStudy {
    let mut merged = MergedStudy { runs: Vec::new(), failed: Vec::new(), missing: Vec::new() };
    let mut groups: Vec<(String, StudyCell, Vec<&CellResult>)> = Vec::new();
    for (planned, state) in plan.cells.iter().zip(states) {
        let unfinished = |error| UnfinishedCell {
            index: planned.index,
            dir: planned.dir.clone(),
            error,
            log: log_of(planned.index),
        };
        match state {
            CellState::Complete(result) => {
                match groups.iter_mut().find(|(m, c, _)| *m == planned.model_name && *c == planned.cell) {
                    Some((_, _, results)) => results.push(result),
                    None => groups.push((planned.model_name.clone(), planned.cell, vec![result])),
                }
            }
            CellState::Failed(message) => merged.failed.push(unfinished(Some(message.clone()))),
            CellState::Missing => merged.missing.push(unfinished(None)),
        }
    }
    for (model_name, cell, results) in groups {
        let (mean, sd) = mean_and_sd(results.iter().map(|r| mean_accuracy(&r.results)));
        let languages = results[0]
            .results
            .iter()
            .map(|language| {
                let accuracies = results
                    .iter()
                    .filter_map(|r| r.results.iter().find(|l| l.code == language.code).map(|l| l.accuracy));
                let (mean_accuracy, sd) = mean_and_sd(accuracies);
                LanguageSpread { code: language.code.clone(), name: language.name.clone(), mean_accuracy, sd }
            })
            .collect();
        let seeds = results.iter().map(|r| r.seed).collect();
        merged.runs.push(MergedRun { model_name, cell, seeds, mean_accuracy: mean, sd, languages });
    }
    merged
}

/// The mean and the sample standard deviation (n − 1; 0 for fewer than two values).
pub fn mean_and_sd(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let values: Vec<f64> = values.into_iter().collect();
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, variance.sqrt())
}

impl MergedStudy {
    /// A markdown table (a row per language, a column per run: mean ± sd over seeds), a mean row, and the
    /// cells that failed or are missing.
    pub fn markdown(&self) -> String {
        let mut table = String::from("| language |");
        for run in &self.runs {
            table.push_str(&format!(" {} {} (n={}) |", run.model_name, run.cell.label(), run.seeds.len()));
        }
        table.push_str("\n|---|");
        table.push_str(&"---:|".repeat(self.runs.len()));
        table.push('\n');
        if let Some(first) = self.runs.first() {
            for language in &first.languages {
                table.push_str(&format!("| {} ({}) |", language.name, language.code));
                for run in &self.runs {
                    match run.languages.iter().find(|l| l.code == language.code) {
                        Some(l) => table.push_str(&format!(" {:.3} ± {:.3} |", l.mean_accuracy, l.sd)),
                        None => table.push_str(" – |"),
                    }
                }
                table.push('\n');
            }
            table.push_str("| **mean** |");
            for run in &self.runs {
                table.push_str(&format!(" **{:.3} ± {:.3}** |", run.mean_accuracy, run.sd));
            }
            table.push('\n');
        }
        for (heading, cells) in
            [("Failed", &self.failed), ("Missing (not run, still running, or killed)", &self.missing)]
        {
            if !cells.is_empty() {
                table.push_str(&format!("\n{heading}:\n"));
                for cell in cells {
                    let error = cell.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
                    let log = cell.log.as_deref().map(|l| format!(" · log {l}")).unwrap_or_default();
                    table.push_str(&format!("- cell {} ({}){error}{log}\n", cell.index, cell.dir));
                }
            }
        }
        table
    }

    /// Mean accuracy against prompt length, a line per model and reparameterization setting, with error
    /// bars of ± one standard deviation over seeds.
    pub fn chart_svg(&self, title: &str) -> String {
        let mut series: Vec<Series> = Vec::new();
        for run in &self.runs {
            let name = format!("{} · {}", run.model_name, setting_name(run.cell.reparam_hidden));
            let point = (run.cell.length, run.mean_accuracy, run.sd);
            match series.iter_mut().find(|s| s.name == name) {
                Some(line) => line.points.push(point),
                None => series.push(Series { name, points: vec![point] }),
            }
        }
        line_chart_svg(&series, title)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::languages::by_code;

    fn plan() -> Plan {
        let models = [("/m/tiny-xglm".to_string(), "tiny-xglm".to_string())];
        Plan::new(
            &models,
            &[1, 4],
            &[None, Some(8)],
            &[0, 1],
            TrainConfig::paper(10),
            "/d".into(),
            vec!["eng_Latn".into()],
        )
    }

    /// `correct` of four English sentences right.
    fn english(correct: usize) -> LanguageResult {
        let predictions: Vec<usize> = (0..4).map(|i| if i < correct { 0 } else { 1 }).collect();
        LanguageResult::score(
            by_code("eng_Latn").unwrap(),
            &crate::task::labels::sib200_classes(),
            &[0; 4],
            &predictions,
        )
    }

    #[test]
    fn the_plan_numbers_every_run_once_in_a_stable_order() {
        let plan = plan();
        assert_eq!(plan.cells.len(), 8);
        assert_eq!(plan, self::plan(), "the same options give the same plan");
        let described: Vec<String> =
            plan.cells.iter().map(|c| format!("{} {} s{}", c.index, c.cell.label(), c.seed)).collect();
        assert_eq!(described[..3], ["0 L1 s0", "1 L1 s1", "2 L1 + MLP8 s0"]);
        assert_eq!(plan.cells[7].dir, "cells/0007-tiny-xglm-l4-mlp8-s1");
        let config = plan.config(&plan.cells[7]);
        assert_eq!((config.prompt.length, config.prompt.reparam_hidden, config.seed), (4, Some(8), 1));
        let mut dirs: Vec<&str> = plan.cells.iter().map(|c| c.dir.as_str()).collect();
        dirs.sort_unstable();
        dirs.dedup();
        assert_eq!(dirs.len(), 8, "no two cells share a folder");
    }

    #[test]
    fn the_merge_gives_mean_and_sd_over_seeds_and_lists_what_did_not_finish() {
        let plan = plan();
        let complete = |i: usize, correct: usize| {
            let c = &plan.cells[i];
            CellState::Complete(CellResult {
                index: i,
                model_name: c.model_name.clone(),
                cell: c.cell,
                seed: c.seed,
                results: vec![english(correct)],
            })
        };
        let states = vec![
            complete(0, 1),
            complete(1, 3),
            complete(2, 2),
            CellState::Failed("out of memory".into()),
            complete(4, 4),
            complete(5, 4),
            CellState::Missing,
            complete(7, 0),
        ];
        let merged = merge(&plan, &states, |i| (i == 6).then(|| "logs/cell-6.out".to_string()));
        assert_eq!(merged.runs.len(), 4);
        let l1 = &merged.runs[0];
        assert_eq!((l1.cell.label(), l1.seeds.clone()), ("L1".to_string(), vec![0, 1]));
        // Accuracies 0.25 and 0.75: mean 0.5, sample sd sqrt(0.125).
        assert!((l1.mean_accuracy - 0.5).abs() < 1e-12 && (l1.sd - 0.125f64.sqrt()).abs() < 1e-12, "{l1:?}");
        assert_eq!(merged.runs[1].seeds, [0], "the failed seed is left out");
        assert_eq!(merged.runs[1].sd, 0.0);
        assert_eq!((merged.runs[2].mean_accuracy, merged.runs[2].sd), (1.0, 0.0));
        let failed =
            UnfinishedCell { index: 3, dir: plan.cells[3].dir.clone(), error: Some("out of memory".into()), log: None };
        assert_eq!(merged.failed, [failed]);
        assert_eq!(merged.missing.iter().map(|c| c.index).collect::<Vec<_>>(), [6]);

        let table = merged.markdown();
        assert!(
            table.contains("| English (eng_Latn) | 0.500 ± 0.354 | 0.500 ± 0.000 | 1.000 ± 0.000 | 0.000 ± 0.000 |"),
            "{table}"
        );
        assert!(table.contains("- cell 3 (cells/0003-tiny-xglm-l1-mlp8-s1): out of memory"), "{table}");
        assert!(table.contains("- cell 6 (cells/0006-tiny-xglm-l4-mlp8-s0) · log logs/cell-6.out"), "{table}");
        let svg = merged.chart_svg("study");
        assert_eq!(svg.matches("<polyline").count(), 2, "a line per reparameterization setting");
        assert_eq!(svg.matches("class=\"error-bar\"").count(), 1, "only L1 has a spread");
        assert!(svg.contains("<title>L1: 0.500 ± 0.354</title>"), "{svg}");
    }

    #[test]
    fn sd_is_the_sample_standard_deviation() {
        assert_eq!(mean_and_sd([]), (0.0, 0.0));
        assert_eq!(mean_and_sd([0.4]), (0.4, 0.0));
        let (mean, sd) = mean_and_sd([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(mean, 5.0);
        assert!((sd - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
    }
}
