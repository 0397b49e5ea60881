//! `polyprompt predict`: a prompt tried on any text — each sentence's class (a topic for SIB-200) and
//! every class's probability, scored as evaluation scores them.
use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use polyprompt::tuning::predict::{Prediction, predict_texts};

use crate::args::ModelFolderArgs;
use crate::model_folder::load;
use crate::output::read_prompt;

#[derive(Args)]
pub struct PredictArgs {
    #[command(flatten)]
    pub model: ModelFolderArgs,
    /// A prompt file, or a folder with adapter_model.safetensors (+ adapter_config.json).
    #[arg(long)]
    pub prompt: PathBuf,
    /// A sentence to classify (repeatable); without it, one sentence per line is read from stdin.
    #[arg(long)]
    pub text: Vec<String>,
    /// One JSON array of {text, label, probabilities} instead of a line per sentence.
    #[arg(long)]
    pub json: bool,
    /// Sentences per forward pass (as `eval --batch`: the same batches give the same scores).
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
}

#[derive(serde::Serialize)]
struct Row<'a> {
    text: &'a str,
    #[serde(flatten)]
    prediction: &'a Prediction,
}

pub fn run(args: PredictArgs) -> Result<()> {
    let texts = if args.text.is_empty() { stdin_lines()? } else { args.text };
    if texts.is_empty() {
        bail!("nothing to classify: give --text \"a sentence\" or one sentence per line on stdin");
    }
    let file = read_prompt(&args.prompt)?;
    let loaded = load(&args.model, None)?;
    file.check_compatible(loaded.model.config())?;
    let prompt = file.tensor(loaded.model.device());
    let setup = file.eval_setup(&loaded.tokenizer, args.batch)?;
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let predictions = pollster::block_on(predict_texts(&loaded.model, &loaded.tokenizer, &prompt, &setup, &texts))?;
    if args.json {
        let rows: Vec<Row> =
            texts.iter().zip(&predictions).map(|(&text, prediction)| Row { text, prediction }).collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for prediction in &predictions {
            let probabilities: Vec<String> =
                prediction.probabilities.iter().map(|p| format!("{}={:.3}", p.topic, p.probability)).collect();
            println!("{}\t{}", prediction.label, probabilities.join(" "));
        }
    }
    Ok(())
}

/// The non-empty lines of stdin.
fn stdin_lines() -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.context("cannot read the sentences from stdin")?;
        if !line.trim().is_empty() {
            lines.push(line);
        }
    }
    Ok(lines)
}
