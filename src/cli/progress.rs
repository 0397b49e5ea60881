//! Progress bars for training and evaluation, and Ctrl-C as a request to stop after the current step.
use std::sync::OnceLock;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use polyprompt::model::CausalLm;
use polyprompt::tuning::train::{READBACK_EVERY, RunOutcome, TrainControl, TrainEvent, Trainer};

pub fn bar(total: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(ProgressStyle::with_template(template).expect("valid template").progress_chars("=> "));
    bar
}

/// Cancelled by Ctrl-C; one for the whole process (a sweep's later runs stop too).
pub fn interrupt_control() -> Result<TrainControl> {
    static CONTROL: OnceLock<TrainControl> = OnceLock::new();
    if let Some(control) = CONTROL.get() {
        return Ok(control.clone());
    }
    let control = TrainControl::default();
    let on_interrupt = control.clone();
    ctrlc::set_handler(move || on_interrupt.cancel()).context("cannot watch for Ctrl-C")?;
    Ok(CONTROL.get_or_init(|| control).clone())
}

/// Runs to the end with a progress bar; Ctrl-C stops after the current step.
pub fn run_with_progress(trainer: &mut Trainer, model: &CausalLm) -> Result<RunOutcome> {
    let control = interrupt_control()?;
    let progress =
        bar(trainer.total_steps() as u64, "{spinner} train [{bar:30}] {pos}/{len} steps · {msg} · ETA {eta}");
    progress.set_position(trainer.steps_done() as u64);
    let outcome = pollster::block_on(trainer.run(model, &control, READBACK_EVERY, |event, _| match event {
        TrainEvent::Steps { records, progress: p } => {
            progress.set_position(p.step as u64);
            if let Some(last) = records.last() {
                progress.set_message(format!(
                    "epoch {}/{} · loss {:.4} · {:.1} ex/s",
                    p.epoch, p.epochs, last.loss, p.examples_per_second
                ));
            }
        }
        TrainEvent::Validation { record, improved } => progress.println(format!(
            "epoch {:>3}: validation loss {:.4}, accuracy {:.3}{}",
            record.epoch,
            record.loss,
            record.accuracy,
            if improved { " (best so far)" } else { "" }
        )),
    }));
    progress.finish_and_clear();
    Ok(outcome?)
}
