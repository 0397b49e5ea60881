//! One optimizer step on a given batch: forward, the prompt's gradient (through one autodiff graph, or
//! layer by layer), global-norm clipping and AdamW, all queued on the device with nothing read back.
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamW, AdamWConfig, AdamWState, Optimizer};
use burn::tensor::{Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::recipe::LossKind;
use super::schedule::LinearSchedule;
use crate::model::{CausalLm, WeightDtype, head};
use crate::task::batch::TaskBatch;
use crate::task::labels::LabelToken;
use crate::tuning::prompt::SoftPrompt;

/// The device-side outputs of one step, read back later in bulk.
#[derive(Clone, Debug)]
pub struct StepOutput {
    /// Loss before the update, `[1]`.
    pub loss: Tensor<1>,
    /// Global gradient norm before clipping, `[1]`.
    pub grad_norm: Tensor<1>,
    pub learning_rate: f64,
}

/// Where a step has got to: a step of a 560M model on a CPU takes a minute, and its layers are what the
/// page shows meanwhile. On a GPU the layers are reported as they are queued, not as they finish.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepProgress {
    pub phase: StepPhase,
    /// Layers the phase has done, of `layers`.
    pub layer: usize,
    pub layers: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepPhase {
    Forward,
    /// With one autodiff graph the backward pass is one call: reported once, at its start.
    Backward,
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

impl Backprop {
    /// The way for weights stored as `dtype` when memory is no concern: one graph for f32; layer by layer
    /// for f16 and int8, whose one graph would keep an f32 copy of every weight matrix (each product's
    /// operand) until the backward pass, more memory than f32 weights themselves.
    pub fn for_dtype(dtype: WeightDtype) -> Backprop {
        if dtype == WeightDtype::F32 { Backprop::WholeGraph } else { Backprop::LayerByLayer }
    }

    /// "fast" (one graph) or "lean" (layer by layer), as the command line and reports call them.
    pub fn name(self) -> &'static str {
        match self {
            Backprop::WholeGraph => "fast",
            Backprop::LayerByLayer => "lean",
        }
    }
}

/// One optimizer step at a time on given batches: the prompt, AdamW's state and the schedule.
pub struct PromptTrainer {
    pub(super) prompt: SoftPrompt,
    pub(super) optimizer: AdamW,
    pub(super) moments: Vec<Option<AdamWState<2>>>,
    pub(super) schedule: LinearSchedule,
    pub(super) max_grad_norm: f64,
    pub(super) loss: LossKind,
    /// Each class's training target: its label word's last token (full vocabulary) or its index.
    pub(super) label_ids: Vec<u32>,
    pub(super) step: usize,
    /// `None`: [`Backprop::for_dtype`] of the model's weights.
    pub(super) backprop: Option<Backprop>,
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
    pub(super) fn loss(&self, model: &CausalLm, batch: &TaskBatch, labels: &[usize], hidden: Tensor<3>) -> Tensor<1> {
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
    /// Unless set otherwise ([`Self::set_backprop`]), the gradient is taken as [`Backprop::for_dtype`] says
    /// for the model's weights.
    pub fn step(&mut self, model: &CausalLm, batch: &TaskBatch, labels: &[usize]) -> StepOutput {
        self.step_reporting(model, batch, labels, &mut |_| {})
    }

    /// [`Self::step`], telling `on_progress` as each layer is done.
    pub fn step_reporting(
        &mut self,
        model: &CausalLm,
        batch: &TaskBatch,
        labels: &[usize],
        on_progress: &mut dyn FnMut(StepProgress),
    ) -> StepOutput {
        let leaves: Vec<Tensor<2>> = self.prompt.params().into_iter().map(|p| p.autodiff().require_grad()).collect();
        let effective = self.prompt.with_params(leaves.clone()).expect("same shapes").effective();
        let (loss, grads) = match self.backprop.unwrap_or(Backprop::for_dtype(model.weight_dtype())) {
            Backprop::WholeGraph => {
                let layers = model.layer_count();
                let (first, context) = model.embed(&batch.input, Some(effective));
                let hidden = (0..layers).fold(first, |hidden, index| {
                    let output = model.layer(index, hidden, &context);
                    on_progress(StepProgress { phase: StepPhase::Forward, layer: index + 1, layers });
                    output
                });
                let loss = self.loss(model, batch, labels, model.final_norm(hidden));
                on_progress(StepProgress { phase: StepPhase::Backward, layer: 0, layers });
                (loss.clone(), loss.backward())
            }
            Backprop::LayerByLayer => self.layer_by_layer(model, batch, labels, effective, on_progress),
        };
        let grads: Vec<Tensor<2>> =
            leaves.iter().map(|leaf| leaf.grad(&grads).expect("every trainable tensor reaches the loss")).collect();

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
        on_progress: &mut dyn FnMut(StepProgress),
    ) -> (Tensor<1>, burn::tensor::Gradients) {
        let layers = model.layer_count();
        let (first, context) = model.embed(&batch.input, Some(prompt));
        let mut inputs = vec![first.clone().inner()];
        for index in 0..layers {
            let output = model.layer(index, inputs[index].clone(), &context);
            inputs.push(output);
            on_progress(StepProgress { phase: StepPhase::Forward, layer: index + 1, layers });
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
        for index in (0..layers).rev() {
            let input = inputs.pop().expect("one input per layer").autodiff().require_grad();
            let grads = (model.layer(index, input.clone(), &context) * output_grad).sum().backward();
            output_grad = input.grad(&grads).expect("a layer's output depends on its input");
            on_progress(StepProgress { phase: StepPhase::Backward, layer: layers - index, layers });
        }
        (loss, (first * output_grad).sum().backward())
    }
}
