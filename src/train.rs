//! Training a soft prompt on a frozen model: the paper's recipe (AdamW, linear schedule with warmup,
//! global gradient-norm clipping, balanced k-shot data, best-by-validation-loss prompt).
//!
//! Two layers: [`PromptTrainer`] makes one optimizer step on a given batch (what the trajectory parity
//! test drives), and [`Trainer`] runs the whole recipe step by step so a browser can drive it without
//! blocking: [`Trainer::step`] only queues device work, losses are read back asynchronously every few
//! steps, and [`Trainer::run`] yields between steps and stops on pause or cancel. Its state (prompt,
//! optimizer moments, history, best prompt) can be saved after any step and resumed bit-exactly.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdaptiveMomentumState, AdamW, AdamWConfig, AdamWState, Optimizer};
use burn::tensor::{Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use web_time::Instant;

use crate::eval::{EvalError, argmax, read_f32};
use crate::model::{CausalLm, Family, WeightDtype, head};
use crate::prompt::{PromptConfig, PromptError, SoftPrompt};
use crate::prompt_file::{PromptFile, PromptMetadata, SCHEMA_VERSION};
use crate::sib200::{Example, Shots, balanced_sample, validation_shots};
use crate::task::{Placement, TaskBatch, TaskFormat, build_batch};
use crate::tokenize::{LabelToken, TextTokenizer, TokenizeError, label_words};

/// What the loss is computed over at the prediction position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// The paper's: cross-entropy over the whole vocabulary, target = the label word's (last) token.
    FullVocabulary,
    /// Faster option: cross-entropy over the 7 label tokens only (a 7-way softmax).
    LabelTokens,
}

/// Every setting of a run; stored in checkpoints and prompt files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub prompt: PromptConfig,
    pub placement: Placement,
    pub loss: LossKind,
    pub learning_rate: f64,
    /// Fraction of the steps spent warming the learning rate up linearly from 0.
    pub warmup_ratio: f64,
    /// Gradients are rescaled when their global L2 norm exceeds this (the HF Trainer's 1.0).
    pub max_grad_norm: f64,
    pub epochs: usize,
    pub batch_size: usize,
    /// Training examples per class (validation takes a quarter of it per class from dev).
    pub shots: Shots,
    pub seed: u64,
    /// Longest input in tokens (only the sentence is truncated).
    pub max_len: usize,
    /// Stop after this many steps (the schedule then spans them, like the HF Trainer's `max_steps`).
    pub max_steps: Option<usize>,
}

impl TrainConfig {
    /// The paper's recipe: a suffix prompt of `length`, AdamW 5e-3, 10% warmup, clip 1.0, batch 8,
    /// 8 shots per class, 20 epochs, full-vocabulary loss, inputs up to 128 tokens.
    pub fn paper(length: usize) -> TrainConfig {
        TrainConfig {
            prompt: PromptConfig::paper(length),
            placement: Placement::Suffix,
            loss: LossKind::FullVocabulary,
            learning_rate: 5e-3,
            warmup_ratio: 0.1,
            max_grad_norm: 1.0,
            epochs: 20,
            batch_size: 8,
            shots: Shots::PerClass(8),
            seed: 0,
            max_len: 128,
            max_steps: None,
        }
    }

    pub fn format(&self) -> TaskFormat {
        TaskFormat { placement: self.placement, prompt_len: self.prompt.length, max_len: self.max_len }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Prompt(#[from] PromptError),
    #[error(transparent)]
    Tokenize(#[from] TokenizeError),
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error("{0}")]
    Settings(String),
    #[error(
        "the training split has no examples of some topic, so no balanced sample can be drawn: check that \
         train.tsv is the complete English SIB-200 train split"
    )]
    NoTrainingData,
    #[error(
        "the loss became {loss} at step {step}: training diverged — lower the learning rate; the best prompt \
         so far is kept"
    )]
    Diverged { step: usize, loss: f32 },
    #[error("not a polyprompt checkpoint ({0}): resume from a file saved by polyprompt")]
    Checkpoint(String),
    #[error(
        "the checkpoint was trained on other examples than these (different data or seed): resume with the \
         same SIB-200 files it was started with"
    )]
    DataChanged,
}

/// HF's `get_linear_schedule_with_warmup`: lr · s/w during the `w = ceil(ratio · total)` warmup steps,
/// then linear decay to 0 at `total`. Step 0 therefore updates with lr 0 (the moments still advance).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearSchedule {
    pub peak: f64,
    pub warmup: usize,
    pub total: usize,
}

impl LinearSchedule {
    pub fn new(peak: f64, warmup_ratio: f64, total: usize) -> LinearSchedule {
        LinearSchedule { peak, warmup: (warmup_ratio * total as f64).ceil() as usize, total }
    }

    /// The learning rate of 0-based step `step`.
    pub fn at(&self, step: usize) -> f64 {
        if step < self.warmup {
            self.peak * step as f64 / self.warmup.max(1) as f64
        } else {
            self.peak * (self.total.saturating_sub(step) as f64 / self.total.saturating_sub(self.warmup).max(1) as f64)
        }
    }
}

/// The device-side outputs of one step, read back later in bulk.
#[derive(Clone, Debug)]
pub struct StepOutput {
    /// Loss before the update, `[1]`.
    pub loss: Tensor<1>,
    /// Global gradient norm before clipping, `[1]`.
    pub grad_norm: Tensor<1>,
    pub learning_rate: f64,
}

/// How a step takes the prompt's gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backprop {
    /// One autodiff graph over the whole forward pass: fastest; keeps every layer's activations (and,
    /// with f16/int8 weights, an f32 copy of each weight matrix) until the backward pass.
    WholeGraph,
    /// One layer's graph at a time, recomputing each layer's forward pass once (see
    /// `PromptTrainer::layer_by_layer`): about a third more compute, a fraction of the memory.
    LayerByLayer,
}

/// One optimizer step at a time on given batches: the prompt, AdamW's state and the schedule.
pub struct PromptTrainer {
    prompt: SoftPrompt,
    optimizer: AdamW,
    moments: Vec<Option<AdamWState<2>>>,
    schedule: LinearSchedule,
    max_grad_norm: f64,
    loss: LossKind,
    /// Each class's training target: its label word's last token (full vocabulary) or its index.
    label_ids: Vec<u32>,
    step: usize,
    /// `None`: whole graph for f32 weights, layer by layer for f16 and int8.
    backprop: Option<Backprop>,
}

impl PromptTrainer {
    pub fn new(
        prompt: SoftPrompt,
        schedule: LinearSchedule,
        max_grad_norm: f64,
        loss: LossKind,
        labels: &[LabelToken],
    ) -> PromptTrainer {
        // torch's AdamW with the paper's settings (burn's defaults differ: eps 1e-5, weight decay 1e-4).
        let optimizer = AdamWConfig::new().with_epsilon(1e-8).with_weight_decay(0.0).build();
        let moments = vec![None; prompt.params().len()];
        let label_ids = labels.iter().map(LabelToken::train_id).collect();
        PromptTrainer { prompt, optimizer, moments, schedule, max_grad_norm, loss, label_ids, step: 0, backprop: None }
    }

    /// Takes gradients this way instead of by the weights' dtype.
    pub fn set_backprop(&mut self, backprop: Backprop) {
        self.backprop = Some(backprop);
    }

    pub fn prompt(&self) -> &SoftPrompt {
        &self.prompt
    }

    /// Steps taken so far.
    pub fn steps(&self) -> usize {
        self.step
    }

    /// The loss of `batch` (rows labelled with class indices `labels`) from the model's hidden states for
    /// it; when those came from autodiff leaves, the graph reaches them.
    fn loss(&self, model: &CausalLm, batch: &TaskBatch, labels: &[usize], hidden: Tensor<3>) -> Tensor<1> {
        let (logits, targets): (Tensor<2>, Vec<i64>) = match self.loss {
            LossKind::FullVocabulary => (
                model.logits_at(hidden, &batch.predict_at, None),
                labels.iter().map(|&c| self.label_ids[c] as i64).collect(),
            ),
            LossKind::LabelTokens => (
                model.logits_at(hidden, &batch.predict_at, Some(&self.label_ids)),
                labels.iter().map(|&c| c as i64).collect(),
            ),
        };
        let device = logits.device();
        let targets = Tensor::<1, Int>::from_data(TensorData::new(targets, [labels.len()]), &device);
        CrossEntropyLossConfig::new().init(&device).forward(logits, targets)
    }

    /// Forward, backward, clip, AdamW update — all queued on the device, nothing read back.
    ///
    /// Unless set otherwise, with f32 weights the whole forward pass is one autodiff graph. With f16 or
    /// int8 weights that graph would keep an f32 copy of every weight matrix (each product's operand)
    /// until the backward pass — more memory than f32 weights themselves — so the gradient is taken layer
    /// by layer instead (see [`Backprop`]).
    pub fn step(&mut self, model: &CausalLm, batch: &TaskBatch, labels: &[usize]) -> StepOutput {
        let leaves: Vec<Tensor<2>> = self.prompt.params().into_iter().map(|p| p.autodiff().require_grad()).collect();
        let effective = self.prompt.with_params(leaves.clone()).expect("same shapes").effective();
        let auto = if model.weight_dtype() == WeightDtype::F32 { Backprop::WholeGraph } else { Backprop::LayerByLayer };
        let (loss, grads) = match self.backprop.unwrap_or(auto) {
            Backprop::WholeGraph => {
                let loss = self.loss(model, batch, labels, model.hidden_states(&batch.input, Some(effective)));
                (loss.clone(), loss.backward())
            }
            Backprop::LayerByLayer => self.layer_by_layer(model, batch, labels, effective),
        };
        let grads: Vec<Tensor<2>> = leaves
            .iter()
            .map(|leaf| leaf.grad(&grads).expect("every trainable tensor reaches the loss"))
            .collect();

        // torch's clip_grad_norm_: one norm over all tensors, scale by min(1, max / (norm + 1e-6)).
        let squares = grads.iter().map(|g| g.clone().square().sum()).reduce(|a, b| a + b).expect("one tensor at least");
        let grad_norm = squares.sqrt();
        let scale = (grad_norm.clone().add_scalar(1e-6).recip() * self.max_grad_norm).clamp_max(1.0);
        let learning_rate = self.schedule.at(self.step);
        let params = self
            .prompt
            .params()
            .into_iter()
            .zip(grads)
            .zip(&mut self.moments)
            .map(|((param, grad), moment)| {
                let grad = grad * scale.clone().unsqueeze::<2>();
                let (param, state) = self.optimizer.step(learning_rate, param, grad, moment.take());
                *moment = state;
                param
            })
            .collect();
        self.prompt = self.prompt.with_params(params).expect("same shapes");
        self.step += 1;
        StepOutput { loss: loss.detach().inner(), grad_norm, learning_rate }
    }
}

impl PromptTrainer {
    /// The loss and the prompt's gradients with only one layer's autodiff graph alive at a time: the
    /// forward pass runs without a graph and keeps each layer's input (`[B, T, H]`, small); then, from the
    /// last layer down, each layer is run again with a graph and its input's gradient is taken from
    /// `sum(output · ∂loss/∂output)`. Costs one more forward pass; the gradients equal the whole graph's.
    /// The full-vocabulary head's gradient is computed directly (`TiedHead::cross_entropy`), so the table
    /// is never part of a graph either.
    fn layer_by_layer(
        &self,
        model: &CausalLm,
        batch: &TaskBatch,
        labels: &[usize],
        prompt: Tensor<2>,
    ) -> (Tensor<1>, burn::tensor::Gradients) {
        let (first, context) = model.embed(&batch.input, Some(prompt));
        let mut inputs = vec![first.clone().inner()];
        for index in 0..model.layer_count() {
            let output = model.layer(index, inputs[index].clone(), &context);
            inputs.push(output);
        }
        let last = inputs.pop().expect("the last layer's output").autodiff().require_grad();
        let normed = model.final_norm(last.clone());
        let (loss, grads) = match self.loss {
            LossKind::FullVocabulary => {
                let rows = head::at_positions(normed, &batch.predict_at);
                let targets: Vec<u32> = labels.iter().map(|&c| self.label_ids[c]).collect();
                let (loss, rows_grad) = model.cross_entropy(rows.clone().inner(), &targets);
                (loss, (rows * rows_grad).sum().backward())
            }
            LossKind::LabelTokens => {
                let loss = self.loss(model, batch, labels, normed);
                (loss.clone().inner(), loss.backward())
            }
        };
        let mut output_grad = last.grad(&grads).expect("the loss depends on the last layer");
        for index in (0..model.layer_count()).rev() {
            let input = inputs.pop().expect("one input per layer").autodiff().require_grad();
            let grads = (model.layer(index, input.clone(), &context) * output_grad).sum().backward();
            output_grad = input.grad(&grads).expect("a layer's output depends on its input");
        }
        (loss, (first * output_grad).sum().backward())
    }
}

/// A sentence ready for the model, with its class.
#[derive(Clone, Debug)]
struct Tokenized {
    ids: Vec<u32>,
    label: usize,
}

fn tokenize(tokenizer: &TextTokenizer, examples: &[Example]) -> Result<Vec<Tokenized>, TokenizeError> {
    examples.iter().map(|e| Ok(Tokenized { ids: tokenizer.encode(&e.text)?, label: e.label })).collect()
}

/// One step's numbers, once read back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: usize,
    pub epoch: usize,
    pub loss: f32,
    pub grad_norm: f32,
    pub learning_rate: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValidationRecord {
    pub epoch: usize,
    /// Steps done when validated.
    pub step: usize,
    pub loss: f64,
    pub accuracy: f64,
}

/// The prompt with the lowest validation loss so far (the one a finished run keeps).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestPrompt {
    pub epoch: usize,
    pub step: usize,
    pub validation_loss: f64,
    /// Effective prompt, row-major `[L, H]`.
    #[serde(skip)]
    pub vectors: Vec<f32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Steps done, of `total_steps`.
    pub step: usize,
    pub total_steps: usize,
    /// 1-based epoch of the last step done.
    pub epoch: usize,
    pub epochs: usize,
    pub examples_per_second: f64,
    pub eta_seconds: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TrainEvent {
    /// Losses read back since the last report.
    Steps { records: Vec<StepRecord>, progress: Progress },
    Validation { record: ValidationRecord, improved: bool },
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

/// The paper's training run over English SIB-200, driven one step at a time.
pub struct Trainer {
    config: TrainConfig,
    family: Family,
    labels: Vec<LabelToken>,
    train: Vec<Tokenized>,
    validation: Vec<Tokenized>,
    /// SIB-200 ids of the sampled examples, so a resumed run can check it sees the same data.
    sample_ids: Vec<u32>,
    steps_per_epoch: usize,
    inner: PromptTrainer,
    pending: Vec<(usize, StepOutput)>,
    history: Vec<StepRecord>,
    validations: Vec<ValidationRecord>,
    best: Option<BestPrompt>,
    /// Throughput is measured from here (the start, or the resume).
    clock: (Instant, usize),
}

impl Trainer {
    /// A fresh run: samples the k-shot training set from `train_split` and the validation set from
    /// `dev_split` (English), initialises the prompt.
    pub fn new(
        model: &CausalLm,
        tokenizer: &TextTokenizer,
        config: TrainConfig,
        train_split: &[Example],
        dev_split: &[Example],
    ) -> Result<Trainer, TrainError> {
        let prompt = SoftPrompt::init(&config.prompt, model, tokenizer, config.placement, config.seed)?;
        Trainer::with_prompt(model, tokenizer, config, train_split, dev_split, prompt)
    }

    fn with_prompt(
        model: &CausalLm,
        tokenizer: &TextTokenizer,
        config: TrainConfig,
        train_split: &[Example],
        dev_split: &[Example],
        prompt: SoftPrompt,
    ) -> Result<Trainer, TrainError> {
        if config.batch_size == 0 || config.epochs == 0 || config.max_steps == Some(0) {
            return Err(TrainError::Settings("batch size, epochs and max steps must be at least 1".into()));
        }
        if !(config.learning_rate.is_finite() && config.learning_rate > 0.0) {
            return Err(TrainError::Settings(format!("the learning rate must be positive, not {}", config.learning_rate)));
        }
        if config.max_len < config.prompt.length + 2 {
            return Err(TrainError::Settings(format!(
                "inputs of {} tokens leave no room for a sentence beside {} prompt vectors and EOS",
                config.max_len, config.prompt.length
            )));
        }
        let train = balanced_sample(train_split, config.shots, config.seed);
        let validation = balanced_sample(dev_split, validation_shots(config.shots), config.seed);
        if train.is_empty() {
            return Err(TrainError::NoTrainingData);
        }
        let family = model.config().family;
        let labels = tokenizer.label_tokens(family)?;
        let steps_per_epoch = train.len().div_ceil(config.batch_size);
        let total = config.max_steps.unwrap_or(config.epochs * steps_per_epoch);
        let schedule = LinearSchedule::new(config.learning_rate, config.warmup_ratio, total);
        let inner = PromptTrainer::new(prompt, schedule, config.max_grad_norm, config.loss, &labels);
        Ok(Trainer {
            sample_ids: train.iter().chain(&validation).map(|e| e.index_id).collect(),
            train: tokenize(tokenizer, &train)?,
            validation: tokenize(tokenizer, &validation)?,
            config,
            family,
            labels,
            steps_per_epoch,
            inner,
            pending: Vec::new(),
            history: Vec::new(),
            validations: Vec::new(),
            best: None,
            clock: (Instant::now(), 0),
        })
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }
    pub fn steps_done(&self) -> usize {
        self.inner.steps()
    }
    pub fn total_steps(&self) -> usize {
        self.inner.schedule.total
    }
    pub fn is_finished(&self) -> bool {
        self.steps_done() >= self.total_steps()
    }
    /// Losses read back so far (a step appears once [`flush`](Self::flush) has read it).
    pub fn history(&self) -> &[StepRecord] {
        &self.history
    }
    pub fn validations(&self) -> &[ValidationRecord] {
        &self.validations
    }
    pub fn best(&self) -> Option<&BestPrompt> {
        self.best.as_ref()
    }
    pub fn prompt(&self) -> &SoftPrompt {
        self.inner.prompt()
    }
    pub fn train_examples(&self) -> usize {
        self.train.len()
    }
    pub fn validation_examples(&self) -> usize {
        self.validation.len()
    }

    fn epochs(&self) -> usize {
        self.total_steps().div_ceil(self.steps_per_epoch)
    }

    /// Example indices of 0-based `epoch`, in a fresh order per epoch that depends on the seed only.
    fn epoch_order(&self, epoch: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.train.len()).collect();
        let mut rng = StdRng::seed_from_u64(self.config.seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        order.shuffle(&mut rng);
        order
    }

    /// Queues the next step on the device; returns whether it ended an epoch (validation is due).
    pub fn step(&mut self, model: &CausalLm) -> bool {
        let step = self.steps_done();
        assert!(step < self.total_steps(), "the run is finished");
        let (epoch, index) = (step / self.steps_per_epoch, step % self.steps_per_epoch);
        let order = self.epoch_order(epoch);
        let rows = &order[index * self.config.batch_size..((index + 1) * self.config.batch_size).min(order.len())];
        let sentences: Vec<&[u32]> = rows.iter().map(|&i| self.train[i].ids.as_slice()).collect();
        let labels: Vec<usize> = rows.iter().map(|&i| self.train[i].label).collect();
        let batch = build_batch(&sentences, &self.config.format(), model.config());
        let output = self.inner.step(model, &batch, &labels);
        self.pending.push((step, output));
        (step + 1).is_multiple_of(self.steps_per_epoch) || step + 1 == self.total_steps()
    }

    /// Reads back the queued steps' losses in one transfer and records them.
    pub async fn flush(&mut self) -> Result<Vec<StepRecord>, TrainError> {
        if self.pending.is_empty() {
            return Ok(Vec::new());
        }
        let pending = std::mem::take(&mut self.pending);
        let values = Tensor::cat(
            pending.iter().flat_map(|(_, o)| [o.loss.clone(), o.grad_norm.clone()]).collect(),
            0,
        );
        let values = read_f32(values).await?;
        let records: Vec<StepRecord> = pending
            .iter()
            .zip(values.chunks(2))
            .map(|((step, output), v)| StepRecord {
                step: *step,
                epoch: step / self.steps_per_epoch + 1,
                loss: v[0],
                grad_norm: v[1],
                learning_rate: output.learning_rate,
            })
            .collect();
        self.history.extend(records.iter().cloned());
        if let Some(bad) = records.iter().find(|r| !r.loss.is_finite()) {
            return Err(TrainError::Diverged { step: bad.step, loss: bad.loss });
        }
        Ok(records)
    }

    pub fn progress(&self) -> Progress {
        let (since, steps_then) = self.clock;
        let steps = self.steps_done() - steps_then;
        let seconds = since.elapsed().as_secs_f64();
        let steps_per_second = if seconds > 0.0 { steps as f64 / seconds } else { 0.0 };
        let left = self.total_steps() - self.steps_done();
        Progress {
            step: self.steps_done(),
            total_steps: self.total_steps(),
            epoch: self.steps_done().div_ceil(self.steps_per_epoch).max(1),
            epochs: self.epochs(),
            examples_per_second: steps_per_second * self.config.batch_size as f64,
            eta_seconds: if steps_per_second > 0.0 { left as f64 / steps_per_second } else { f64::NAN },
        }
    }

    /// Validation loss and accuracy of the current prompt on the dev sample; keeps the prompt if it is the
    /// best so far (lowest loss; ties keep the earlier one).
    pub async fn validate(&mut self, model: &CausalLm) -> Result<(ValidationRecord, bool), TrainError> {
        let prompt = self.prompt().effective();
        let eval_ids: Vec<u32> = self.labels.iter().map(LabelToken::eval_id).collect();
        let mut losses = Vec::new();
        let mut scores = Vec::new();
        for chunk in self.validation.chunks(self.config.batch_size) {
            let sentences: Vec<&[u32]> = chunk.iter().map(|t| t.ids.as_slice()).collect();
            let labels: Vec<usize> = chunk.iter().map(|t| t.label).collect();
            let batch = build_batch(&sentences, &self.config.format(), model.config());
            // The batch mean weighted by its size: the mean over all examples, as the HF Trainer reports.
            // One forward pass serves both the loss and the label scores.
            let hidden = model.hidden_states(&batch.input, Some(prompt.clone()));
            losses.push(self.inner.loss(model, &batch, &labels, hidden.clone()) * chunk.len() as f64);
            scores.push(model.logits_at(hidden, &batch.predict_at, Some(&eval_ids)).reshape([-1]));
        }
        let losses = read_f32(Tensor::cat(losses, 0)).await?;
        let scores = read_f32(Tensor::cat(scores, 0)).await?;
        let loss = losses.iter().map(|&l| l as f64).sum::<f64>() / self.validation.len() as f64;
        let correct = self
            .validation
            .iter()
            .zip(scores.chunks(eval_ids.len()))
            .filter(|(t, s)| argmax(s) == t.label)
            .count();
        let record = ValidationRecord {
            epoch: self.steps_done().div_ceil(self.steps_per_epoch),
            step: self.steps_done(),
            loss,
            accuracy: correct as f64 / self.validation.len() as f64,
        };
        let improved = loss.is_finite() && self.best.as_ref().is_none_or(|b| loss < b.validation_loss);
        if improved {
            self.best = Some(BestPrompt {
                epoch: record.epoch,
                step: record.step,
                validation_loss: loss,
                vectors: read_f32(prompt).await?,
            });
        }
        self.validations.push(record.clone());
        Ok((record, improved))
    }

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

    /// The run's result as a prompt file: the best prompt by validation loss (the current one if none
    /// was validated yet), with the settings and history in its metadata.
    pub async fn prompt_file(&mut self, base_model: &str) -> Result<PromptFile, TrainError> {
        self.flush().await?;
        match self.best_prompt_file(base_model) {
            Some(file) => Ok(file),
            None => {
                let vectors = read_f32(self.prompt().effective()).await?;
                Ok(self.file_of(vectors, serde_json::json!({"step": self.steps_done()}), base_model))
            }
        }
    }

    /// The best prompt so far as a prompt file, without touching the device (its vectors were read back
    /// when it was validated): what a running app saves at each improvement, so that a reload, a crash or
    /// a lost GPU keeps it. `None` before the first validation.
    pub fn best_prompt_file(&self, base_model: &str) -> Option<PromptFile> {
        let best = self.best.as_ref()?;
        let kept = serde_json::json!({"epoch": best.epoch, "step": best.step, "validation_loss": best.validation_loss});
        Some(self.file_of(best.vectors.clone(), kept, base_model))
    }

    fn file_of(&self, vectors: Vec<f32>, kept: serde_json::Value, base_model: &str) -> PromptFile {
        PromptFile {
            length: self.config.prompt.length,
            hidden: vectors.len() / self.config.prompt.length,
            embeddings: vectors,
            metadata: PromptMetadata {
                schema_version: SCHEMA_VERSION,
                family: self.family,
                base_model: base_model.to_string(),
                placement: self.config.placement,
                label_words: label_words(self.family).iter().map(|w| w.to_string()).collect(),
                training: serde_json::json!({
                    "config": self.config,
                    "kept": kept,
                    "steps_done": self.steps_done(),
                    "total_steps": self.total_steps(),
                    "train_examples": self.train.len(),
                    "validation_examples": self.validation.len(),
                    "validations": self.validations,
                }),
                results: serde_json::Value::Null,
            },
        }
    }

    /// Everything needed to continue the run later, as one safetensors file: the trainable tensors, AdamW's
    /// moments, the best prompt, and (in the header) settings, history and the sampled examples' ids.
    pub async fn save(&mut self) -> Result<Vec<u8>, TrainError> {
        self.flush().await?;
        let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
        let names = self.prompt().param_names();
        let mut adam_times = Vec::new();
        for ((param, moment), name) in self.prompt().params().into_iter().zip(&self.inner.moments).zip(names) {
            let shape = param.dims().to_vec();
            tensors.push((format!("param.{name}"), shape.clone(), read_f32(param).await?));
            if let Some(state) = moment {
                let m = &state.momentum;
                tensors.push((format!("adam_m.{name}"), shape.clone(), read_f32(m.moment_1.clone()).await?));
                tensors.push((format!("adam_v.{name}"), shape, read_f32(m.moment_2.clone()).await?));
                adam_times.push(m.time);
            }
        }
        if let Some(best) = &self.best {
            tensors.push(("best".into(), vec![self.config.prompt.length, best.vectors.len() / self.config.prompt.length], best.vectors.clone()));
        }
        let state = CheckpointState {
            format: CHECKPOINT_FORMAT.into(),
            config: self.config.clone(),
            family: self.family,
            steps_done: self.steps_done(),
            adam_times,
            sample_ids: self.sample_ids.clone(),
            history: self.history.clone(),
            validations: self.validations.clone(),
            best: self.best.clone(),
        };
        let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
            .into_iter()
            .map(|(name, shape, values)| (name, values.iter().flat_map(|v| v.to_le_bytes()).collect(), shape))
            .collect();
        let views: Vec<(String, TensorView)> = bytes
            .iter()
            .map(|(name, data, shape)| (name.clone(), TensorView::new(Dtype::F32, shape.clone(), data).expect("sizes match")))
            .collect();
        let metadata = BTreeMap::from([(CHECKPOINT_KEY.to_string(), serde_json::to_string(&state).expect("serialises"))]);
        safetensors::serialize(views, Some(metadata.into_iter().collect()))
            .map_err(|e| TrainError::Checkpoint(e.to_string()))
    }

    /// Continues a run saved by [`save`](Self::save), with the same splits it was started from.
    pub fn resume(
        model: &CausalLm,
        tokenizer: &TextTokenizer,
        checkpoint: &[u8],
        train_split: &[Example],
        dev_split: &[Example],
    ) -> Result<Trainer, TrainError> {
        let bad = |why: String| TrainError::Checkpoint(why);
        let (_, header) = SafeTensors::read_metadata(checkpoint).map_err(|e| bad(e.to_string()))?;
        let tensors = SafeTensors::deserialize(checkpoint).map_err(|e| bad(e.to_string()))?;
        let state: CheckpointState = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get(CHECKPOINT_KEY))
            .ok_or_else(|| bad("no polyprompt state in its header".into()))
            .and_then(|json| serde_json::from_str(json).map_err(|e| bad(e.to_string())))?;
        if state.family != model.config().family {
            return Err(bad(format!("it was trained on a {} model, this is {}", state.family.name(), model.config().family.name())));
        }
        let device = model.device();
        let read = |name: &str| -> Result<Tensor<2>, TrainError> {
            let view = tensors.tensor(name).map_err(|_| bad(format!("tensor `{name}` is missing")))?;
            if view.dtype() != Dtype::F32 || view.shape().len() != 2 {
                return Err(bad(format!("tensor `{name}` is not a 2-D f32 tensor")));
            }
            let values: Vec<f32> = view.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
            Ok(Tensor::from_data(TensorData::new(values, [view.shape()[0], view.shape()[1]]), device))
        };
        let fresh = SoftPrompt::init(&state.config.prompt, model, tokenizer, state.config.placement, state.config.seed)?;
        let names = fresh.param_names();
        let params = names.iter().map(|n| read(&format!("param.{n}"))).collect::<Result<Vec<_>, _>>()?;
        let prompt = fresh.with_params(params)?;
        let mut trainer = Trainer::with_prompt(model, tokenizer, state.config, train_split, dev_split, prompt)?;
        if trainer.sample_ids != state.sample_ids {
            return Err(TrainError::DataChanged);
        }
        if state.steps_done > trainer.total_steps() || !(state.adam_times.is_empty() || state.adam_times.len() == names.len()) {
            return Err(bad("its step counts do not fit its settings".into()));
        }
        for ((moment, name), &time) in trainer.inner.moments.iter_mut().zip(names).zip(&state.adam_times) {
            let momentum = AdaptiveMomentumState::new(time, read(&format!("adam_m.{name}"))?, read(&format!("adam_v.{name}"))?);
            *moment = Some(AdamWState::new(momentum));
        }
        trainer.inner.step = state.steps_done;
        trainer.history = state.history;
        trainer.validations = state.validations;
        trainer.best = match state.best {
            Some(best) => {
                let vectors = read("best")?.into_data().try_into_vec::<f32>().map_err(|e| bad(format!("{e:?}")))?;
                Some(BestPrompt { vectors, ..best })
            }
            None => None,
        };
        Ok(trainer)
    }
}

const CHECKPOINT_KEY: &str = "polyprompt_checkpoint";
const CHECKPOINT_FORMAT: &str = "polyprompt-checkpoint-1";

#[derive(Serialize, Deserialize)]
struct CheckpointState {
    format: String,
    config: TrainConfig,
    family: Family,
    steps_done: usize,
    /// AdamW's step count per trainable tensor (empty before the first step).
    adam_times: Vec<usize>,
    sample_ids: Vec<u32>,
    history: Vec<StepRecord>,
    validations: Vec<ValidationRecord>,
    best: Option<BestPrompt>,
}

/// Lets the browser's event loop run (messages, rendering) between steps; nothing to do natively.
async fn yield_now() {
    #[cfg(target_arch = "wasm32")]
    gloo::timers::future::TimeoutFuture::new(0).await;
}
