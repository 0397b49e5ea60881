//! The paper's training run over English SIB-200, driven one step at a time: the k-shot sample, the epoch
//! order, steps queued on the device, losses read back in bulk, validation and the best prompt so far.
use burn::tensor::Tensor;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use web_time::Instant;

use super::recipe::TrainConfig;
use super::schedule::LinearSchedule;
use super::step::{Backprop, PromptTrainer, StepOutput, StepProgress};
use crate::backend::{ReadbackError, read_f32};
use crate::model::tokenizer::{TextTokenizer, TokenizeError};
use crate::model::{CausalLm, Family};
use crate::task::batch::build_batch;
use crate::task::labels::{LabelToken, label_tokens};
use crate::task::sib200::{Example, balanced_sample, validation_shots};
use crate::tuning::eval::{EvalError, argmax};
use crate::tuning::prompt::{PromptError, SoftPrompt};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Prompt(#[from] PromptError),
    #[error(transparent)]
    Tokenize(#[from] TokenizeError),
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error(transparent)]
    Device(#[from] ReadbackError),
    #[error("{0}")]
    Settings(String),
    #[error(
        "the training split has no examples, so no balanced sample can be drawn: check that the training \
         file is the complete English train split"
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

/// Every example's class must be one the task scores a label word for.
fn check_labels<'a>(labels: &[LabelToken], mut examples: impl Iterator<Item = &'a Example>) -> Result<(), TrainError> {
    match examples.find(|e| e.label >= labels.len()) {
        Some(e) => Err(TrainError::Settings(format!(
            "example {} has class {} but the task has {} classes: the examples belong to another task",
            e.index_id,
            e.label,
            labels.len()
        ))),
        None => Ok(()),
    }
}

/// A sentence ready for the model, with its class.
#[derive(Clone, Debug)]
pub(super) struct Tokenized {
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

/// The paper's training run over English SIB-200, driven one step at a time.
pub struct Trainer {
    pub(super) config: TrainConfig,
    pub(super) family: Family,
    pub(super) labels: Vec<LabelToken>,
    pub(super) train: Vec<Tokenized>,
    pub(super) validation: Vec<Tokenized>,
    /// SIB-200 ids of the sampled examples, so a resumed run can check it sees the same data.
    pub(super) sample_ids: Vec<u32>,
    pub(super) steps_per_epoch: usize,
    pub(super) inner: PromptTrainer,
    pub(super) pending: Vec<(usize, StepOutput)>,
    pub(super) history: Vec<StepRecord>,
    pub(super) validations: Vec<ValidationRecord>,
    pub(super) best: Option<BestPrompt>,
    /// Throughput is measured from here (the start, or the resume).
    pub(super) clock: (Instant, usize),
    /// Told as each layer of a step is done (see [`Self::report_step_progress`]).
    pub(super) step_progress: Option<Box<dyn FnMut(StepProgress)>>,
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

    pub(super) fn with_prompt(
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
            return Err(TrainError::Settings(format!(
                "the learning rate must be positive, not {}",
                config.learning_rate
            )));
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
        let labels = label_tokens(tokenizer, &config.task.labels(family))?;
        check_labels(&labels, train_split.iter().chain(dev_split))?;
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
            step_progress: None,
        })
    }

    /// Has `report` told, during each step, as each layer is done: a step of a 560M model on a CPU takes
    /// a minute, and the page shows where it has got to.
    pub fn report_step_progress(&mut self, report: impl FnMut(StepProgress) + 'static) {
        self.step_progress = Some(Box::new(report));
    }

    /// Takes each step's gradient this way (see [`Backprop`]) instead of by the weights' dtype.
    pub fn set_backprop(&mut self, backprop: Backprop) {
        self.inner.set_backprop(backprop);
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }
    pub fn family(&self) -> Family {
        self.family
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
        let output = match &mut self.step_progress {
            Some(report) => self.inner.step_reporting(model, &batch, &labels, report.as_mut()),
            None => self.inner.step(model, &batch, &labels),
        };
        self.pending.push((step, output));
        (step + 1).is_multiple_of(self.steps_per_epoch) || step + 1 == self.total_steps()
    }

    /// Reads back the queued steps' losses in one transfer and records them.
    pub async fn flush(&mut self) -> Result<Vec<StepRecord>, TrainError> {
        if self.pending.is_empty() {
            return Ok(Vec::new());
        }
        let pending = std::mem::take(&mut self.pending);
        let values = Tensor::cat(pending.iter().flat_map(|(_, o)| [o.loss.clone(), o.grad_norm.clone()]).collect(), 0);
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
        let correct =
            self.validation.iter().zip(scores.chunks(eval_ids.len())).filter(|(t, s)| argmax(s) == t.label).count();
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
}
