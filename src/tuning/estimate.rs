//! What a run will cost before it starts: the memory a training step needs beside the frozen weights, and
//! the time of a step and of an evaluation from the device's measured speed (`backend::gflops`). Estimates
//! to say "about a minute a step" or "this will not fit" before anything is downloaded; once a run is
//! under way, the measured throughput (`train::Progress`) takes over.
use crate::model::{ModelConfig, WeightDtype};
use crate::tuning::train::Backprop;

/// Tokens in a typical SIB-200 row: an English sentence (about 40 tokens in either tokenizer), the prompt
/// and EOS. Rows are padded to the longest of their batch, not to `max_len`.
pub const TYPICAL_TOKENS: usize = 64;

/// What fraction of the measured matrix-product speed a training step reaches: the step also runs
/// softmax, GELU, LayerNorm and, with int8 weights, dequantization, and its products are smaller.
const EFFICIENCY: f64 = 0.7;

/// The shape of a training step: sentences per batch and tokens per row (prompt and EOS included).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepShape {
    pub batch: usize,
    pub tokens: usize,
}

impl StepShape {
    /// The paper's batch of 8 at [`TYPICAL_TOKENS`].
    pub fn typical(batch: usize) -> StepShape {
        StepShape { batch, tokens: TYPICAL_TOKENS }
    }
}

/// Floating-point operations of one forward pass over `rows` rows of `tokens` tokens, scoring the whole
/// vocabulary at one position per row (the paper's loss).
fn forward_flops(config: &ModelConfig, rows: usize, tokens: usize, full_vocabulary: bool) -> f64 {
    let (h, f, l) = (config.hidden as f64, config.ffn as f64, config.layers as f64);
    let positions = (rows * tokens) as f64;
    // Per token and layer: q, k, v, output (4·h²) and the feed-forward pair (2·h·f), 2 flops a weight; the
    // attention products QKᵀ and AV against `tokens` keys.
    let layers = positions * l * (2.0 * (4.0 * h * h + 2.0 * h * f) + 4.0 * tokens as f64 * h);
    let head = if full_vocabulary { rows as f64 * 2.0 * config.vocab_size as f64 * h } else { 0.0 };
    layers + head
}

/// Seconds one training step takes on a device measured at `gflops`.
pub fn step_seconds(config: &ModelConfig, backprop: Backprop, shape: StepShape, gflops: f64) -> f64 {
    // Frozen weights need no gradient of their own: the backward pass costs about one more forward pass,
    // and layer by layer recomputes each layer's forward once more.
    let passes = match backprop {
        Backprop::WholeGraph => 2.0,
        Backprop::LayerByLayer => 3.0,
    };
    passes * forward_flops(config, shape.batch, shape.tokens, true) / (gflops.max(1e-3) * 1e9 * EFFICIENCY)
}

/// Seconds to classify `sentences` (forward passes only, seven label scores read at each).
pub fn evaluation_seconds(config: &ModelConfig, sentences: usize, gflops: f64) -> f64 {
    forward_flops(config, sentences, TYPICAL_TOKENS, false) / (gflops.max(1e-3) * 1e9 * EFFICIENCY)
}

/// Bytes a training step holds on the device beside the frozen weights: the activations autodiff keeps and
/// the full-vocabulary scores. Through one graph every layer's activations live until the backward pass;
/// layer by layer, only each layer's input and one layer's graph.
pub fn step_activation_bytes(config: &ModelConfig, backprop: Backprop, shape: StepShape) -> u64 {
    let (h, f, heads) = (config.hidden as u64, config.ffn as u64, config.heads as u64);
    let (rows, tokens) = (shape.batch as u64, shape.tokens as u64);
    // f32 values one layer's graph keeps: its inputs, q/k/v, the attention output, the LayerNorm outputs
    // and the feed-forward activations per position, and the attention scores and probabilities.
    let per_layer = 4 * (rows * tokens * (10 * h + 2 * f) + 3 * rows * heads * tokens * tokens);
    let scores = 2 * 4 * rows * config.vocab_size as u64;
    let layers = match backprop {
        Backprop::WholeGraph => config.layers as u64 * per_layer,
        Backprop::LayerByLayer => config.layers as u64 * 4 * rows * tokens * h + per_layer,
    };
    layers + scores
}

/// How a step should take its gradient when none was asked for: [`Backprop::for_dtype`], but layer by
/// layer where one graph's activations (with a quarter's margin for what the estimate leaves out) would
/// not fit in `free_bytes`, the memory the step may still take (`None`: unknown, e.g. on a GPU).
pub fn backprop_that_fits(
    config: &ModelConfig,
    dtype: WeightDtype,
    shape: StepShape,
    free_bytes: Option<u64>,
) -> Backprop {
    let preferred = Backprop::for_dtype(dtype);
    let whole_graph = step_activation_bytes(config, Backprop::WholeGraph, shape);
    match free_bytes {
        Some(free) if preferred == Backprop::WholeGraph && whole_graph + whole_graph / 4 > free => {
            Backprop::LayerByLayer
        }
        _ => preferred,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::hub::PRESETS;

    /// BENCHMARKS.md run 3 measured a training step of bloom-560m at batch 8 × 128 tokens: 10.6 s natively
    /// (PyTorch's matmuls peaked at ~140 GFLOP/s here) and at most 0.93 GiB of device memory in int8, of
    /// which the weights are 0.63 GB; in f32 the step held 5.4 GiB with 2.24 GB of weights.
    #[test]
    fn estimates_land_near_what_was_measured() {
        let bloom = PRESETS[0].config();
        let shape = StepShape { batch: 8, tokens: 128 };
        let seconds = step_seconds(&bloom, Backprop::WholeGraph, shape, 140.0);
        assert!((5.0..20.0).contains(&seconds), "f32 step {seconds} s, measured 10.6 s");
        let int8 = step_activation_bytes(&bloom, Backprop::LayerByLayer, shape)
            + bloom.size_estimate(WeightDtype::Int8).device_bytes;
        assert!((0.6e9..1.5e9).contains(&(int8 as f64)), "int8 step {int8} bytes, measured 1.0e9");
        let f32 = step_activation_bytes(&bloom, Backprop::WholeGraph, shape)
            + bloom.size_estimate(WeightDtype::F32).device_bytes;
        assert!((4.0e9..8.0e9).contains(&(f32 as f64)), "f32 step {f32} bytes, measured 5.8e9");
        // Layer by layer costs about half again as much time, for a fraction of the memory.
        assert!(step_seconds(&bloom, Backprop::LayerByLayer, shape, 140.0) > 1.4 * seconds);
    }

    #[test]
    fn f32_trains_lean_only_where_one_graph_would_not_fit() {
        let bloom = PRESETS[0].config();
        let shape = StepShape { batch: 8, tokens: 128 };
        let graph = step_activation_bytes(&bloom, Backprop::WholeGraph, shape);
        assert!((2e9..5e9).contains(&(graph as f64)), "one graph's activations: {graph} bytes");
        let choose = |dtype, free| backprop_that_fits(&bloom, dtype, shape, free);
        assert_eq!(choose(WeightDtype::F32, None), Backprop::WholeGraph);
        assert_eq!(choose(WeightDtype::F32, Some(16 << 30)), Backprop::WholeGraph);
        assert_eq!(choose(WeightDtype::F32, Some(graph)), Backprop::LayerByLayer, "no margin left");
        assert_eq!(choose(WeightDtype::F32, Some(2 << 30)), Backprop::LayerByLayer);
        // Quantized weights go layer by layer however much is free.
        assert_eq!(choose(WeightDtype::Int8, Some(64 << 30)), Backprop::LayerByLayer);
        assert_eq!(choose(WeightDtype::F16, None), Backprop::LayerByLayer);
    }
}
