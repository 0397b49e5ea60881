//! The recipe: every setting of a run ([`TrainConfig`]), with the paper's as the default.
use serde::{Deserialize, Serialize};

use crate::task::batch::{Placement, TaskFormat};
use crate::task::labels::Task;
use crate::task::sib200::Shots;
use crate::tuning::prompt::PromptConfig;

/// What the loss is computed over at the prediction position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// The paper's: cross-entropy over the whole vocabulary, target = the label word's (last) token.
    FullVocabulary,
    /// Faster option: cross-entropy over the label tokens only (a softmax over the classes).
    LabelTokens,
}

/// Every setting of a run; stored in checkpoints and prompt files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// SIB-200 (the paper's) or an own task's classes and label words.
    #[serde(default, skip_serializing_if = "Task::is_sib200")]
    pub task: Task,
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
            task: Task::Sib200,
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
