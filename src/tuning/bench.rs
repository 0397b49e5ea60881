//! Timing the training step and evaluation, for `polyprompt bench` and the browser benchmark
//! (`src/bin/bench_web.rs`), compared with PyTorch by `scripts/bench-vs-peft` (see BENCHMARKS.md).
//!
//! Two workloads, both through the code that trains and evaluates for real (no second copy):
//! - fixed shapes: [`time_steps`] runs [`PromptTrainer::step`] and [`time_eval`] runs
//!   [`eval::label_scores_batch`] on a synthetic batch of exactly `batch × seq` tokens (prompt slots and EOS
//!   included), so every row is as long as the paper's code pads it;
//! - [`epoch`]: one epoch of the paper's recipe on English SIB-200 with [`Trainer`] (k = 8 per class,
//!   L = 10, validation at the epoch's end), then [`eval::evaluate`] on one language's test split.
//!
//! Every timed unit ends with a read back from the device, so queued work is inside the measurement.
//! [`CountingAlloc`] measures peak live heap bytes in whichever binary installs it.
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};
use web_time::Instant;

use crate::backend::read_f32;
use crate::model::CausalLm;
use crate::model::tokenizer::TextTokenizer;
use crate::task::batch::{Placement, TaskFormat};
use crate::task::labels::{Task, label_tokens};
use crate::task::languages::Language;
use crate::task::sib200::Example;
use crate::tuning::eval::{self, EvalSetup, label_scores_batch};
use crate::tuning::prompt::{PromptConfig, SoftPrompt};
use crate::tuning::train::{
    Backprop, LinearSchedule, LossKind, PromptTrainer, RunOutcome, TrainConfig, TrainControl, TrainError, TrainEvent,
    Trainer,
};

/// The fixed shape of the timed batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenchShape {
    pub batch: usize,
    /// Tokens per row, prompt slots and EOS included (the paper pads every row to 128).
    pub seq: usize,
    pub prompt_len: usize,
}

impl BenchShape {
    /// Issue #8's shape: batch 8, sequence 128, prompt 16.
    pub const ISSUE: BenchShape = BenchShape { batch: 8, seq: 128, prompt_len: 16 };

    fn format(&self) -> TaskFormat {
        TaskFormat { placement: Placement::Suffix, prompt_len: self.prompt_len, max_len: self.seq }
    }

    /// `batch` rows of `seq - prompt_len - 1` sentence tokens: full rows, no padding. Ids are spread
    /// deterministically over the ordinary tokens (above the 4 specials); their values do not change the
    /// amount of work.
    fn sentences(&self, vocab: usize) -> Vec<Vec<u32>> {
        let len = self.seq.saturating_sub(self.prompt_len + 1).max(1);
        let ordinary = (vocab.max(5) - 4) as u64;
        (0..self.batch as u64)
            .map(|row| (0..len as u64).map(|t| 4 + ((row * 7919 + t * 104_729 + 13) % ordinary) as u32).collect())
            .collect()
    }
}

/// Wall-clock times of repeated runs of one unit of work.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    pub median_ms: f64,
    /// Every timed run in order (warm-up runs excluded).
    pub samples_ms: Vec<f64>,
    pub warmup: usize,
}

impl Timings {
    fn new(samples_ms: Vec<f64>, warmup: usize) -> Timings {
        Timings { median_ms: median(&samples_ms), samples_ms, warmup }
    }
}

/// The median (mean of the middle two for an even count); NaN for none.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Runs `work` `warmup + reps` times and keeps the times of the last `reps`.
async fn repeat<F, Fut>(warmup: usize, reps: usize, mut work: F) -> Result<Timings, TrainError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), TrainError>>,
{
    let mut samples = Vec::with_capacity(reps);
    for run in 0..warmup + reps.max(1) {
        let start = Instant::now();
        work().await?;
        if run >= warmup {
            samples.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok(Timings::new(samples, warmup))
}

/// Median time of one training step of the paper's recipe (suffix prompt of `shape.prompt_len`, uniform
/// init, full-vocabulary loss, AdamW, clipping) on a full `shape` batch, its gradient taken as `backprop`:
/// forward, backward, update, and the loss read back.
pub async fn time_steps(
    model: &CausalLm,
    tokenizer: &TextTokenizer,
    shape: BenchShape,
    backprop: Backprop,
    warmup: usize,
    reps: usize,
) -> Result<Timings, TrainError> {
    let family = model.config().family;
    let prompt = SoftPrompt::init(&PromptConfig::paper(shape.prompt_len), model, tokenizer, Placement::Suffix, 0)?;
    let schedule = LinearSchedule::new(5e-3, 0.1, warmup + reps.max(1));
    let labels = label_tokens(tokenizer, &Task::Sib200.labels(family))?;
    let mut trainer = PromptTrainer::new(prompt, schedule, 1.0, LossKind::FullVocabulary, &labels);
    trainer.set_backprop(backprop);
    let sentences = shape.sentences(model.config().vocab_size);
    let rows: Vec<&[u32]> = sentences.iter().map(Vec::as_slice).collect();
    let batch = crate::task::batch::build_batch(&rows, &shape.format(), model.config());
    debug_assert_eq!(batch.input.seq, shape.seq);
    let classes: Vec<usize> = (0..shape.batch).map(|row| row % labels.len()).collect();
    repeat(warmup, reps, || {
        let output = trainer.step(model, &batch, &classes);
        async move {
            read_f32(output.loss).await?;
            Ok(())
        }
    })
    .await
}

/// Evaluation throughput on full `shape` batches: forward pass, the 7 label scores, argmax.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalTimings {
    /// Per batch of `shape.batch` sentences.
    pub batch: Timings,
    pub sentences_per_second: f64,
}

pub async fn time_eval(
    model: &CausalLm,
    tokenizer: &TextTokenizer,
    shape: BenchShape,
    warmup: usize,
    reps: usize,
) -> Result<EvalTimings, TrainError> {
    let family = model.config().family;
    let prompt = SoftPrompt::init(&PromptConfig::paper(shape.prompt_len), model, tokenizer, Placement::Suffix, 0)?;
    let prompt: Tensor<2> = prompt.effective();
    let setup = EvalSetup::new(shape.format(), &label_tokens(tokenizer, &Task::Sib200.labels(family))?, shape.batch);
    let sentences = shape.sentences(model.config().vocab_size);
    let rows: Vec<&[u32]> = sentences.iter().map(Vec::as_slice).collect();
    let (prompt, setup, rows) = (&prompt, &setup, &rows);
    let timings = repeat(warmup, reps, move || async move {
        label_scores_batch(model, prompt, setup, rows).await?;
        Ok(())
    })
    .await?;
    let sentences_per_second = shape.batch as f64 / (timings.median_ms / 1e3);
    Ok(EvalTimings { batch: timings, sentences_per_second })
}

/// The real workload: one epoch of the paper's default training, then one language's evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    pub prompt_len: usize,
    pub shots_per_class: usize,
    pub train_examples: usize,
    pub steps: usize,
    pub validation_examples: usize,
    /// The steps and the end-of-epoch validation.
    pub train_seconds: f64,
    pub language: String,
    pub test_sentences: usize,
    pub eval_batch: usize,
    pub eval_seconds: f64,
    pub total_seconds: f64,
    /// Of the evaluated language (meaningless for random weights; shows the evaluation ran).
    pub accuracy: f64,
}

/// The SIB-200 splits the epoch workload reads: English to train and validate, one language to test.
pub struct EpochData<'a> {
    pub train: &'a [Example],
    pub dev: &'a [Example],
    pub language: &'a Language,
    pub test: &'a [Example],
}

/// One epoch of [`TrainConfig::paper`]`(10)` (k = 8 per class, batch 8, validation included) through
/// [`Trainer::run`] with gradients taken as `backprop`, then [`eval::evaluate`] of the epoch's prompt on
/// the test split with batches of `eval_batch`.
pub async fn epoch(
    model: &CausalLm,
    tokenizer: &TextTokenizer,
    data: EpochData<'_>,
    backprop: Backprop,
    eval_batch: usize,
) -> Result<EpochReport, TrainError> {
    let config = TrainConfig::paper(10);
    let start = Instant::now();
    let EpochData { train, dev, language, test } = data;
    let mut trainer = Trainer::new(model, tokenizer, config.clone(), train, dev)?;
    trainer.set_backprop(backprop);
    let control = TrainControl::default();
    // Pausing at the first validation stops the run after exactly one epoch, as the CLI runs it.
    let outcome = trainer
        .run(model, &control, 4, |event, _| {
            if let TrainEvent::Validation { .. } = event {
                control.set_paused(true);
            }
        })
        .await?;
    let train_seconds = start.elapsed().as_secs_f64();
    if outcome == RunOutcome::Finished && trainer.validations().is_empty() {
        return Err(TrainError::Settings("the run ended before its first validation".into()));
    }
    let eval_start = Instant::now();
    let prompt = trainer.prompt().effective();
    let setup = EvalSetup::new(
        config.format(),
        &label_tokens(tokenizer, &Task::Sib200.labels(model.config().family))?,
        eval_batch,
    );
    let result = eval::evaluate(model, tokenizer, &prompt, &setup, language, test, |_, _| {}).await?;
    let eval_seconds = eval_start.elapsed().as_secs_f64();
    Ok(EpochReport {
        prompt_len: config.prompt.length,
        shots_per_class: 8,
        train_examples: trainer.train_examples(),
        steps: trainer.steps_done(),
        validation_examples: trainer.validation_examples(),
        train_seconds,
        language: language.code.to_string(),
        test_sentences: test.len(),
        eval_batch,
        eval_seconds,
        total_seconds: start.elapsed().as_secs_f64(),
        accuracy: result.accuracy,
    })
}

/// A global allocator that counts live heap bytes and their peak, around another allocator. Install it
/// with `#[global_allocator] static ALLOC: CountingAlloc<std::alloc::System> = CountingAlloc::new(System);`.
pub struct CountingAlloc<A> {
    inner: A,
    live: AtomicUsize,
    peak: AtomicUsize,
}

impl<A> CountingAlloc<A> {
    pub const fn new(inner: A) -> Self {
        Self { inner, live: AtomicUsize::new(0), peak: AtomicUsize::new(0) }
    }

    /// Bytes allocated and not yet freed.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// The most bytes live at once since the start or the last [`reset_peak`](Self::reset_peak).
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Starts a new peak from what is live now (e.g. after loading, to see the workload's own peak).
    pub fn reset_peak(&self) {
        self.peak.store(self.live(), Ordering::Relaxed);
    }

    fn grew(&self, bytes: usize) {
        let live = self.live.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak.fetch_max(live, Ordering::Relaxed);
    }

    fn shrank(&self, bytes: usize) {
        self.live.fetch_sub(bytes, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded to `inner` unchanged; only counters are updated around it.
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAlloc<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { self.inner.alloc(layout) };
        if !ptr.is_null() {
            self.grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { self.inner.alloc_zeroed(layout) };
        if !ptr.is_null() {
            self.grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { self.inner.dealloc(ptr, layout) };
        self.shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            if new_size >= layout.size() {
                self.grew(new_size - layout.size());
            } else {
                self.shrank(layout.size() - new_size);
            }
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn fixed_batches_fill_every_row() {
        let shape = BenchShape::ISSUE;
        let rows = shape.sentences(1000);
        assert_eq!(rows.len(), 8);
        assert!(rows.iter().all(|r| r.len() == 128 - 16 - 1 && r.iter().all(|&id| (4..1000).contains(&id))));
    }
}
