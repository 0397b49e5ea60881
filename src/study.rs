//! The paper's study: the same training recipe over a grid of prompt lengths × reparameterization on/off,
//! compared language by language (`polyprompt sweep`, and the app's "paper study" preset).
use serde::{Deserialize, Serialize};

use crate::eval::{LanguageResult, mean_accuracy};
use crate::train::TrainConfig;

/// Prompt lengths of the study by default: the authors' code (10, 20, 50), their README (2, 5), and 1.
pub const PAPER_LENGTHS: [usize; 6] = [1, 2, 5, 10, 20, 50];
/// Hidden size of the reparameterization MLP in the authors' README example.
pub const PAPER_REPARAM_HIDDEN: usize = 200;

/// One cell of the grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudyCell {
    pub length: usize,
    /// Hidden size of the reparameterization MLP, or `None` for a prompt trained directly.
    pub reparam_hidden: Option<usize>,
}

impl StudyCell {
    /// "L10" or "L10 + MLP200": a column header or a file name part.
    pub fn label(&self) -> String {
        match self.reparam_hidden {
            None => format!("L{}", self.length),
            Some(h) => format!("L{} + MLP{h}", self.length),
        }
    }

    /// A name safe for folders: "l10" or "l10-mlp200".
    pub fn slug(&self) -> String {
        match self.reparam_hidden {
            None => format!("l{}", self.length),
            Some(h) => format!("l{}-mlp{h}", self.length),
        }
    }

    /// `base` with this cell's prompt length and reparameterization.
    pub fn config(&self, base: &TrainConfig) -> TrainConfig {
        let mut config = base.clone();
        config.prompt.length = self.length;
        config.prompt.reparam_hidden = self.reparam_hidden;
        config
    }
}

/// Every length, first without then with the MLP (as `reparam` asks), in that order.
pub fn grid(lengths: &[usize], reparam: &[Option<usize>]) -> Vec<StudyCell> {
    lengths
        .iter()
        .flat_map(|&length| reparam.iter().map(move |&reparam_hidden| StudyCell { length, reparam_hidden }))
        .collect()
}

/// One finished cell: its per-language results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudyResult {
    pub cell: StudyCell,
    pub results: Vec<LanguageResult>,
}

/// A markdown table with a row per language and a column per cell (accuracy), plus a mean row.
pub fn comparison_table(study: &[StudyResult]) -> String {
    let mut table = String::from("| language |");
    for s in study {
        table.push_str(&format!(" {} |", s.cell.label()));
    }
    table.push_str("\n|---|");
    table.push_str(&"---:|".repeat(study.len()));
    table.push('\n');
    let Some(first) = study.first() else { return table };
    for (row, language) in first.results.iter().enumerate() {
        table.push_str(&format!("| {} ({}) |", language.name, language.code));
        for s in study {
            match s.results.get(row) {
                Some(r) => table.push_str(&format!(" {:.3} |", r.accuracy)),
                None => table.push_str(" – |"),
            }
        }
        table.push('\n');
    }
    table.push_str("| **mean** |");
    for s in study {
        table.push_str(&format!(" **{:.3}** |", mean_accuracy(&s.results)));
    }
    table.push('\n');
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_crosses_lengths_with_reparam_and_configs_follow() {
        let cells = grid(&[1, 10], &[None, Some(200)]);
        let labels: Vec<String> = cells.iter().map(StudyCell::label).collect();
        assert_eq!(labels, ["L1", "L1 + MLP200", "L10", "L10 + MLP200"]);
        let config = cells[3].config(&TrainConfig::paper(5));
        assert_eq!((config.prompt.length, config.prompt.reparam_hidden), (10, Some(200)));
        assert_eq!(cells[3].slug(), "l10-mlp200");
    }
}
