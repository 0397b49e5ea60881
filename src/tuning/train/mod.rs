//! Training a soft prompt on a frozen model: the paper's recipe (AdamW, linear schedule with warmup,
//! global gradient-norm clipping, balanced k-shot data, best-by-validation-loss prompt).
//!
//! Two layers: [`PromptTrainer`] makes one optimizer step on a given batch (what the trajectory parity
//! test drives), and [`Trainer`] runs the whole recipe step by step so a browser can drive it without
//! blocking: [`Trainer::step`] only queues device work, losses are read back asynchronously every few
//! steps, and [`Trainer::run`] yields between steps and stops on pause or cancel. Its state (prompt,
//! optimizer moments, history, best prompt) can be saved after any step and resumed bit-exactly.
//!
//! In pieces: the settings ([`recipe`]), the learning rate per step ([`schedule`]), one optimizer step
//! ([`step`]), the run's state and its steps and validations ([`trainer`]), the non-blocking loop
//! ([`run`]), and saving/resuming ([`resume`]).
pub mod recipe;
pub mod resume;
pub mod run;
pub mod schedule;
pub mod step;
pub mod trainer;

pub use recipe::{LossKind, TrainConfig};
pub use run::{READBACK_EVERY, RunOutcome, TrainControl, TrainEvent};
pub use schedule::LinearSchedule;
pub use step::{Backprop, PromptTrainer, StepOutput, StepPhase, StepProgress};
pub use trainer::{BestPrompt, Progress, StepRecord, TrainError, Trainer, ValidationRecord};
