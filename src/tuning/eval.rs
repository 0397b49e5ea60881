//! Zero-shot evaluation of a prompt: per language, the argmax over the label tokens (the paper's rule),
//! accuracy, macro-F1 and per-class counts.
//!
//! Sentences are sorted by length before batching so a batch pads little; every read back from the
//! device is asynchronous (a browser cannot block on WebGPU) and only `[batch, classes]` scores come back.
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::backend::{ReadbackError, read_f32};
use crate::model::CausalLm;
use crate::model::tokenizer::{TextTokenizer, TokenizeError};
use crate::task::batch::{TaskFormat, build_batch};
use crate::task::labels::LabelToken;
use crate::task::languages::Language;
use crate::task::sib200::Example;

/// How predictions are made: the task format and the label tokens scored (the first token of each
/// label word, in class order).
#[derive(Clone, Debug, PartialEq)]
pub struct EvalSetup {
    pub format: TaskFormat,
    pub label_ids: Vec<u32>,
    /// The class each label token stands for.
    pub classes: Vec<String>,
    /// Sentences per forward pass.
    pub batch_size: usize,
}

impl EvalSetup {
    pub fn new(format: TaskFormat, labels: &[LabelToken], batch_size: usize) -> EvalSetup {
        EvalSetup {
            format,
            label_ids: labels.iter().map(LabelToken::eval_id).collect(),
            classes: labels.iter().map(|l| l.class.clone()).collect(),
            batch_size: batch_size.max(1),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CategoryScore {
    pub category: String,
    /// Test sentences of this category, and how many were predicted as it.
    pub n: usize,
    pub correct: usize,
    pub predicted: usize,
}

/// One language's result: the CLI's JSON entry and a row of the app's table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LanguageResult {
    pub code: String,
    pub name: String,
    pub family: String,
    pub script: String,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub n: usize,
    pub per_category: Vec<CategoryScore>,
}

impl LanguageResult {
    /// The accuracy of guessing: one over the number of classes (SIB-200's 7 for a result recorded without
    /// per-class counts).
    pub fn chance(&self) -> f64 {
        let classes =
            if self.per_category.is_empty() { crate::task::sib200::CATEGORIES.len() } else { self.per_category.len() };
        1.0 / classes as f64
    }

    /// The top level of the family ("Indo-European" for "Indo-European, Germanic").
    pub fn family_root(&self) -> &str {
        crate::task::languages::family_root(&self.family)
    }

    /// Scores `predictions` against `labels` (both indices into `classes`).
    pub fn score(language: &Language, classes: &[String], labels: &[usize], predictions: &[usize]) -> LanguageResult {
        assert_eq!(labels.len(), predictions.len());
        let per_category: Vec<CategoryScore> = classes
            .iter()
            .enumerate()
            .map(|(class, name)| CategoryScore {
                category: name.to_string(),
                n: labels.iter().filter(|&&l| l == class).count(),
                correct: labels.iter().zip(predictions).filter(|&(&l, &p)| l == class && p == class).count(),
                predicted: predictions.iter().filter(|&&p| p == class).count(),
            })
            .collect();
        let n = labels.len();
        let correct: usize = per_category.iter().map(|c| c.correct).sum();
        LanguageResult {
            code: language.code.into(),
            name: language.name.into(),
            family: language.family.into(),
            script: language.script.into(),
            accuracy: if n == 0 { 0.0 } else { correct as f64 / n as f64 },
            macro_f1: macro_f1(&per_category),
            n,
            per_category,
        }
    }
}

/// scikit-learn's `f1_score(average="macro")`: the mean F1 over the classes that occur in the labels or
/// the predictions; a class with no true positive scores 0.
fn macro_f1(per_category: &[CategoryScore]) -> f64 {
    let present: Vec<&CategoryScore> = per_category.iter().filter(|c| c.n > 0 || c.predicted > 0).collect();
    if present.is_empty() {
        return 0.0;
    }
    let f1 = |c: &CategoryScore| {
        let denominator = (c.n + c.predicted) as f64;
        if c.correct == 0 { 0.0 } else { 2.0 * c.correct as f64 / denominator }
    };
    present.iter().map(|c| f1(c)).sum::<f64>() / present.len() as f64
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Tokenize(#[from] TokenizeError),
    #[error(transparent)]
    Device(#[from] ReadbackError),
}

/// The predicted class of each example (index into `setup.classes`); `prompt` is the effective
/// prompt `[L, H]` on the model's device. `on_batch(done, total)` reports progress.
pub async fn predict(
    model: &CausalLm,
    tokenizer: &TextTokenizer,
    prompt: &Tensor<2>,
    setup: &EvalSetup,
    examples: &[Example],
    on_batch: impl FnMut(usize, usize),
) -> Result<Vec<usize>, EvalError> {
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let scores = label_scores(model, tokenizer, prompt, setup, &texts, on_batch).await?;
    Ok(scores.iter().map(|s| argmax(s)).collect())
}

/// The label tokens' scores (logits, in class order) for each of `texts`: what evaluation takes
/// the argmax of and prediction the softmax of. Texts are sorted by length and batched `setup.batch_size`
/// at a time, so the same texts always meet the same batches.
pub async fn label_scores(
    model: &CausalLm,
    tokenizer: &TextTokenizer,
    prompt: &Tensor<2>,
    setup: &EvalSetup,
    texts: &[&str],
    mut on_batch: impl FnMut(usize, usize),
) -> Result<Vec<Vec<f32>>, EvalError> {
    let ids: Vec<Vec<u32>> = texts.iter().map(|text| tokenizer.encode(text)).collect::<Result<_, _>>()?;
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| ids[i].len());
    let mut scores = vec![Vec::new(); texts.len()];
    let mut done = 0;
    for chunk in order.chunks(setup.batch_size) {
        let sentences: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
        for (&text, text_scores) in chunk.iter().zip(label_scores_batch(model, prompt, setup, &sentences).await?) {
            scores[text] = text_scores;
        }
        done += chunk.len();
        on_batch(done, texts.len());
    }
    Ok(scores)
}

/// The label tokens' scores of each of `sentences` (token ids), in one forward pass; only
/// `[batch, labels]` scores are read back.
pub async fn label_scores_batch(
    model: &CausalLm,
    prompt: &Tensor<2>,
    setup: &EvalSetup,
    sentences: &[&[u32]],
) -> Result<Vec<Vec<f32>>, EvalError> {
    let batch = build_batch(sentences, &setup.format, model.config());
    let hidden = model.hidden_states(&batch.input, Some(prompt.clone()));
    let scores = read_f32(model.logits_at(hidden, &batch.predict_at, Some(&setup.label_ids))).await?;
    Ok(scores.chunks(setup.label_ids.len()).map(<[f32]>::to_vec).collect())
}

/// Evaluates one language's test examples.
pub async fn evaluate(
    model: &CausalLm,
    tokenizer: &TextTokenizer,
    prompt: &Tensor<2>,
    setup: &EvalSetup,
    language: &Language,
    examples: &[Example],
    on_batch: impl FnMut(usize, usize),
) -> Result<LanguageResult, EvalError> {
    let predictions = predict(model, tokenizer, prompt, setup, examples, on_batch).await?;
    let labels: Vec<usize> = examples.iter().map(|e| e.label).collect();
    Ok(LanguageResult::score(language, &setup.classes, &labels, &predictions))
}

/// The chance level of a set of results (SIB-200's 1/7 for none).
pub fn chance_level(results: &[LanguageResult]) -> f64 {
    results.first().map_or(1.0 / crate::task::sib200::CATEGORIES.len() as f64, LanguageResult::chance)
}

/// Mean accuracy over results (0 for none).
pub fn mean_accuracy<'a>(results: impl IntoIterator<Item = &'a LanguageResult>) -> f64 {
    let (sum, n) = results.into_iter().fold((0.0, 0usize), |(s, n), r| (s + r.accuracy, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// A markdown table of results, one row per language.
pub fn markdown_table(results: &[LanguageResult]) -> String {
    let mut table = String::from(
        "| code | language | family | script | accuracy | macro-F1 | n |\n|---|---|---|---|---:|---:|---:|\n",
    );
    for r in results {
        table.push_str(&format!(
            "| {} | {} | {} | {} | {:.3} | {:.3} | {} |\n",
            r.code, r.name, r.family, r.script, r.accuracy, r.macro_f1, r.n
        ));
    }
    table.push_str(&format!("| | **mean** | | | **{:.3}** | | |\n", mean_accuracy(results)));
    table
}

/// The results as CSV, one row per language (the app's "Export CSV").
pub fn results_csv(results: &[LanguageResult]) -> String {
    let mut out = String::from("code,name,family,script,accuracy,macro_f1,n\n");
    for r in results {
        let (name, family, script) = (csv_field(&r.name), csv_field(&r.family), csv_field(&r.script));
        out.push_str(&format!("{},{name},{family},{script},{:.4},{:.4},{}\n", r.code, r.accuracy, r.macro_f1, r.n));
    }
    out
}

/// Runs side by side as CSV: one row per language (in the order they first appear), one accuracy column
/// per run headed by its label, empty where a run has no result for the language; a last row of means.
pub fn comparison_csv(runs: &[(String, Vec<LanguageResult>)]) -> String {
    let mut languages: Vec<&LanguageResult> = Vec::new();
    for r in runs.iter().flat_map(|(_, results)| results) {
        if !languages.iter().any(|l| l.code == r.code) {
            languages.push(r);
        }
    }
    let labels: Vec<String> = runs.iter().map(|(label, _)| csv_field(label)).collect();
    let mut out = format!("code,name,family,script,{}\n", labels.join(","));
    for language in languages {
        let accuracies: Vec<String> = runs
            .iter()
            .map(|(_, results)| {
                results.iter().find(|r| r.code == language.code).map_or(String::new(), |r| format!("{:.4}", r.accuracy))
            })
            .collect();
        let (name, family, script) =
            (csv_field(&language.name), csv_field(&language.family), csv_field(&language.script));
        out.push_str(&format!("{},{name},{family},{script},{}\n", language.code, accuracies.join(",")));
    }
    let means: Vec<String> = runs.iter().map(|(_, results)| format!("{:.4}", mean_accuracy(results))).collect();
    out.push_str(&format!("mean,,,,{}\n", means.join(",")));
    out
}

/// A CSV field, quoted (RFC 4180: quotes doubled), so commas in names and labels stay inside it.
fn csv_field(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// Index of the first maximum, like torch.argmax; NaN never wins.
pub(crate) fn argmax(scores: &[f32]) -> usize {
    let beats = |s: f32, best: f32| s > best || (best.is_nan() && !s.is_nan());
    scores.iter().enumerate().fold(0, |best, (i, &s)| if beats(s, scores[best]) { i } else { best })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::labels::sib200_classes as topics;
    use crate::task::languages::by_code;

    #[test]
    fn macro_f1_matches_scikit_learn() {
        // sklearn.metrics.f1_score([0,0,1,1,2,2], [0,1,1,1,0,3], average="macro") = 0.325:
        // F1 = 0.5, 0.8, 0, 0 over classes {0,1,2,3} (class 3 only predicted), mean = 1.3 / 4 = 0.325.
        let result =
            LanguageResult::score(by_code("eng_Latn").unwrap(), &topics(), &[0, 0, 1, 1, 2, 2], &[0, 1, 1, 1, 0, 3]);
        assert!((result.macro_f1 - 0.325).abs() < 1e-12, "{}", result.macro_f1);
        assert!((result.accuracy - 0.5).abs() < 1e-12);
        assert_eq!(result.per_category[1], CategoryScore { category: "travel".into(), n: 2, correct: 2, predicted: 3 });
        assert_eq!(result.n, 6);
    }

    #[test]
    fn chance_is_one_over_the_classes() {
        let english = by_code("eng_Latn").unwrap();
        let two = LanguageResult::score(english, &["yes".into(), "no".into()], &[0, 1], &[0, 0]);
        assert_eq!((two.chance(), chance_level(std::slice::from_ref(&two))), (0.5, 0.5));
        let sib200 = LanguageResult::score(english, &topics(), &[0], &[0]);
        assert_eq!(sib200.chance(), 1.0 / 7.0);
        // Results saved without per-class counts, and no results, are SIB-200's.
        assert_eq!(LanguageResult { per_category: vec![], ..two }.chance(), 1.0 / 7.0);
        assert_eq!(chance_level(&[]), 1.0 / 7.0);
    }

    #[test]
    fn perfect_and_empty_scores() {
        let english = by_code("eng_Latn").unwrap();
        let perfect = LanguageResult::score(english, &topics(), &[0, 1, 2, 3, 4, 5, 6], &[0, 1, 2, 3, 4, 5, 6]);
        assert_eq!((perfect.accuracy, perfect.macro_f1), (1.0, 1.0));
        let empty = LanguageResult::score(english, &topics(), &[], &[]);
        assert_eq!((empty.accuracy, empty.macro_f1, empty.n), (0.0, 0.0, 0));
    }

    #[test]
    fn runs_compare_side_by_side_as_csv() {
        let score = |code: &str, correct: usize| {
            let predictions: Vec<usize> = (0..4).map(|i| if i < correct { 0 } else { 1 }).collect();
            LanguageResult::score(by_code(code).unwrap(), &topics(), &[0; 4], &predictions)
        };
        let runs = vec![
            ("L1 · \"short\", uniform".to_string(), vec![score("eng_Latn", 4), score("swh_Latn", 1)]),
            ("L50".to_string(), vec![score("tel_Telu", 2), score("eng_Latn", 3)]),
        ];
        let csv = comparison_csv(&runs);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], r#"code,name,family,script,"L1 · ""short"", uniform","L50""#);
        assert!(lines[1].starts_with(r#"eng_Latn,"English","#) && lines[1].ends_with(",1.0000,0.7500"), "{}", lines[1]);
        assert!(lines[2].starts_with("swh_Latn,") && lines[2].ends_with(",0.2500,"), "{}", lines[2]);
        assert!(lines[3].starts_with("tel_Telu,") && lines[3].ends_with(",,0.5000"), "{}", lines[3]);
        assert_eq!(lines[4], "mean,,,,0.6250,0.6250");
        assert_eq!(lines.len(), 5);

        let single = results_csv(&runs[0].1);
        assert_eq!(single.lines().next(), Some("code,name,family,script,accuracy,macro_f1,n"));
        assert!(single.lines().nth(2).unwrap().starts_with(r#"swh_Latn,"Swahili","#), "{single}");
    }

    #[test]
    fn argmax_takes_the_first_maximum() {
        assert_eq!(argmax(&[0.1, 0.5, 0.5, -1.0]), 1);
        assert_eq!(argmax(&[f32::NAN, 0.2]), 1);
    }
}
