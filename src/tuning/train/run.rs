//! Driving a [`Trainer`] to the end without blocking a browser: steps queued, losses read back every few
//! steps, validation at each epoch's end, pause and cancel between steps, events for the caller.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use web_time::Instant;

use super::trainer::{Progress, StepRecord, TrainError, Trainer, ValidationRecord};
use crate::model::CausalLm;

#[derive(Clone, Debug, PartialEq)]
pub enum TrainEvent {
    /// Losses read back since the last report.
    Steps {
        records: Vec<StepRecord>,
        progress: Progress,
    },
    Validation {
        record: ValidationRecord,
        improved: bool,
    },
}

/// How [`Trainer::run`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunOutcome {
    Finished,
    Paused,
    Cancelled,
}

/// How often [`Trainer::run`]'s callers read losses back from the device, in steps: each readback stalls
/// the GPU queue, so not every step.
pub const READBACK_EVERY: usize = 4;

/// Pause and cancel requests, shared with whoever drives the run (a button, Ctrl-C).
#[derive(Clone, Debug, Default)]
pub struct TrainControl {
    cancel: Arc<AtomicBool>,
    pause: Arc<AtomicBool>,
}

impl TrainControl {
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }
    pub fn set_paused(&self, paused: bool) {
        self.pause.store(paused, Ordering::SeqCst);
    }
    pub fn is_paused(&self) -> bool {
        self.pause.load(Ordering::SeqCst)
    }
}

impl Trainer {
    /// Runs until finished, paused or cancelled, reading losses back every `readback_every` steps and
    /// validating at each epoch's end; yields to the event loop between steps. Each event comes with the
    /// trainer as it stands (e.g. for [`Self::best_prompt_file`] when a validation improved).
    pub async fn run(
        &mut self,
        model: &CausalLm,
        control: &TrainControl,
        readback_every: usize,
        mut on_event: impl FnMut(TrainEvent, &Trainer),
    ) -> Result<RunOutcome, TrainError> {
        self.clock = (Instant::now(), self.steps_done());
        while !self.is_finished() {
            if control.is_cancelled() || control.is_paused() {
                let records = self.flush().await?;
                if !records.is_empty() {
                    on_event(TrainEvent::Steps { records, progress: self.progress() }, self);
                }
                return Ok(if control.is_cancelled() { RunOutcome::Cancelled } else { RunOutcome::Paused });
            }
            let epoch_end = self.step(model);
            if epoch_end || self.pending.len() >= readback_every.max(1) {
                let records = self.flush().await?;
                on_event(TrainEvent::Steps { records, progress: self.progress() }, self);
            }
            if epoch_end {
                let (record, improved) = self.validate(model).await?;
                on_event(TrainEvent::Validation { record, improved }, self);
            }
            yield_now().await;
        }
        Ok(RunOutcome::Finished)
    }
}

/// Lets the browser's event loop run (messages, rendering) between steps; nothing to do natively.
async fn yield_now() {
    #[cfg(target_arch = "wasm32")]
    gloo::timers::future::TimeoutFuture::new(0).await;
}
