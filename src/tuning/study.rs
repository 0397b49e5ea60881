//! The paper's study: the same training recipe over a grid of prompt lengths × reparameterization on/off,
//! compared language by language (`polyprompt sweep`, and the app's "paper study" preset).
use serde::{Deserialize, Serialize};

use crate::tuning::eval::{LanguageResult, mean_accuracy};
use crate::tuning::train::TrainConfig;

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

/// One line of a study chart: mean accuracy against prompt length, with its spread over seeds if any.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    /// (prompt length, mean accuracy, standard deviation over seeds), by length.
    pub points: Vec<(usize, f64, f64)>,
}

/// The study as an SVG line chart: mean accuracy over the evaluated languages against prompt length, one
/// line per reparameterization setting, chance level (1/7) dashed.
pub fn chart_svg(study: &[StudyResult], title: &str) -> String {
    let mut settings: Vec<Option<usize>> = Vec::new();
    for s in study {
        if !settings.contains(&s.cell.reparam_hidden) {
            settings.push(s.cell.reparam_hidden);
        }
    }
    let series: Vec<Series> = settings
        .iter()
        .map(|setting| Series {
            name: setting_name(*setting),
            points: study
                .iter()
                .filter(|s| s.cell.reparam_hidden == *setting)
                .map(|s| (s.cell.length, mean_accuracy(&s.results), 0.0))
                .collect(),
        })
        .collect();
    line_chart_svg(&series, title)
}

/// "prompt" or "prompt + MLP 200": a legend entry.
pub fn setting_name(reparam_hidden: Option<usize>) -> String {
    match reparam_hidden {
        None => "prompt".to_string(),
        Some(h) => format!("prompt + MLP {h}"),
    }
}

/// Lines of mean accuracy against prompt length (lengths evenly spaced, as the paper's plots), with error
/// bars of ± one standard deviation where it is above zero, and chance (1/7) dashed. (Its margin constants
/// look like the app's loss chart's; each chart has its own geometry, so they are not shared.)
pub fn line_chart_svg(series: &[Series], title: &str) -> String {
    const WIDTH: f64 = 640.0;
    const HEIGHT: f64 = 360.0;
    // Margins: axis labels on the left and bottom, the legend on the right.
    const LEFT: f64 = 56.0;
    const RIGHT: f64 = 190.0;
    const TOP: f64 = 40.0;
    const BOTTOM: f64 = 48.0;
    const COLOURS: [&str; 6] = ["#1f6feb", "#d1242f", "#1a7f37", "#8250df", "#b45309", "#0e7490"];
    let mut lengths: Vec<usize> = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).collect();
    lengths.sort_unstable();
    lengths.dedup();
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |length: usize| {
        let i = lengths.iter().position(|&l| l == length).unwrap_or(0) as f64;
        LEFT + if lengths.len() > 1 { i * plot_w / (lengths.len() - 1) as f64 } else { plot_w / 2.0 }
    };
    let y = |accuracy: f64| TOP + (1.0 - accuracy.clamp(0.0, 1.0)) * plot_h;

    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{LEFT}\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{}</text>\n",
        escape(title)
    );
    for tick in [0.0, 0.25, 0.5, 0.75, 1.0] {
        svg.push_str(&format!(
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y0:.1}\" y2=\"{y0:.1}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{tick:.2}</text>\n",
            LEFT + plot_w,
            LEFT - 6.0,
            y(tick) + 4.0,
            y0 = y(tick),
        ));
    }
    let chance = y(1.0 / 7.0);
    svg.push_str(&format!(
        "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{chance:.1}\" y2=\"{chance:.1}\" stroke=\"#888\" stroke-dasharray=\"4 4\"/>\
         <text x=\"{}\" y=\"{:.1}\" fill=\"#666\">chance (1/7)</text>\n",
        LEFT + plot_w,
        LEFT + plot_w + 6.0,
        chance + 4.0
    ));
    for &length in &lengths {
        svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{length}</text>\n",
            x(length),
            TOP + plot_h + 18.0
        ));
    }
    svg.push_str(&format!(
        "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">prompt length L</text>\n\
         <text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">mean accuracy</text>\n",
        LEFT + plot_w / 2.0,
        HEIGHT - 8.0,
        TOP + plot_h / 2.0
    ));
    for (i, line) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let mut points = line.points.clone();
        points.sort_by_key(|p| p.0);
        let path: Vec<String> = points.iter().map(|&(l, a, _)| format!("{:.1},{:.1}", x(l), y(a))).collect();
        svg.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>\n",
            path.join(" ")
        ));
        for &(l, a, sd) in &points {
            if sd > 0.0 {
                let (cx, low, high) = (x(l), y(a - sd), y(a + sd));
                svg.push_str(&format!(
                    "<path class=\"error-bar\" d=\"M{cx:.1},{low:.1}V{high:.1}M{:.1},{low:.1}H{:.1}M{:.1},{high:.1}H{:.1}\" stroke=\"{colour}\"/>\n",
                    cx - 4.0,
                    cx + 4.0,
                    cx - 4.0,
                    cx + 4.0
                ));
            }
            let spread = if sd > 0.0 { format!(" ± {sd:.3}") } else { String::new() };
            svg.push_str(&format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{colour}\"><title>L{l}: {a:.3}{spread}</title></circle>\n",
                x(l),
                y(a)
            ));
        }
        let ly = TOP + 20.0 * i as f64 + 10.0;
        svg.push_str(&format!(
            "<rect x=\"{}\" y=\"{:.1}\" width=\"14\" height=\"4\" fill=\"{colour}\"/><text x=\"{}\" y=\"{:.1}\">{}</text>\n",
            LEFT + plot_w + 10.0,
            ly - 4.0,
            LEFT + plot_w + 30.0,
            ly + 1.0,
            escape(&line.name)
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
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

    #[test]
    fn table_and_chart_show_each_cell_mean_accuracy() {
        let english = crate::task::languages::by_code("eng_Latn").unwrap();
        // Four sentences of class 0; `correct` of them predicted right.
        let result = |correct: usize| {
            let predictions: Vec<usize> = (0..4).map(|i| if i < correct { 0 } else { 1 }).collect();
            LanguageResult::score(english, &crate::task::labels::sib200_classes(), &[0; 4], &predictions)
        };
        let study: Vec<StudyResult> = grid(&[1, 5], &[None, Some(8)])
            .into_iter()
            .zip([2, 1, 4, 3])
            .map(|(cell, correct)| StudyResult { cell, results: vec![result(correct)] })
            .collect();
        let table = comparison_table(&study);
        assert!(table.contains("| English (eng_Latn) | 0.500 | 0.250 | 1.000 | 0.750 |"), "{table}");
        let svg = chart_svg(&study, "tiny <study>");
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("tiny &lt;study&gt;"));
        // Accuracy 1 sits on the plot's top edge, 0.5 halfway down.
        assert!(svg.contains("cy=\"40.0\" r=\"3.5\" fill=\"#1f6feb\"><title>L5: 1.000</title>"), "{svg}");
        assert!(svg.contains("<title>L1: 0.500</title>") && svg.contains("<title>L5: 0.750</title>"));
    }
}
