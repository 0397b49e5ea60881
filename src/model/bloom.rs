//! BLOOM (`BloomForCausalLM`), following transformers' `models/bloom/modeling_bloom.py`.
//!
//! Token embeddings go through `word_embeddings_layernorm`; no position embeddings, ALiBi biases the
//! attention scores instead; each block is pre-LayerNorm with the fused `query_key_value` projection and a
//! tanh-GELU MLP (`apply_residual_connection_post_layernorm` false, as in every released BLOOM); `ln_f`
//! at the end; the LM head tied to `word_embeddings`.
//!
//! Deliberately parallel to `xglm.rs` (one self-contained file per architecture, as candle's `models/`):
//! the tensor lists and `load` have the same shape with each family's own names, read beside transformers.
use burn::module::Module;
use burn::nn::LayerNorm;
use burn::tensor::{Bool, Device, Tensor, TensorData};

use super::attention::{LayerContext, attention, blocked_keys};
use super::checkpoint::{Checkpoint, LoadOptions, WeightsError};
use super::config::ModelConfig;
use super::embedding::{TokenEmbedding, prefix_rows};
use super::head::TiedHead;
use super::input::{InputBatch, PromptPlacement};
use super::linear::FrozenLinear;

#[derive(Module, Debug)]
pub struct BloomAttention {
    /// Rows laid out per head as [q, k, v] (`view(batch, seq, n_head, 3, head_dim)`), not as [Q; K; V].
    pub query_key_value: FrozenLinear,
    pub dense: FrozenLinear,
    #[module(skip)]
    heads: usize,
}

impl BloomAttention {
    fn forward(&self, hidden: Tensor<3>, alibi: Tensor<4>, blocked: Tensor<4, Bool>) -> Tensor<3> {
        let [b, t, d] = hidden.dims();
        let head_dim = d / self.heads;
        let fused = self.query_key_value.forward(hidden).reshape([b, t, self.heads, 3, head_dim]);
        // `_split_heads`: the k-th of the 3 per head, as [B, heads, T, head_dim].
        let part = |k: usize| fused.clone().narrow(3, k, 1).reshape([b, t, self.heads, head_dim]).swap_dims(1, 2);
        // `baddbmm(alibi, q, kᵀ, beta=1, alpha=1/sqrt(head_dim))`: the 1/sqrt scale is inside `attention`.
        self.dense.forward(attention(part(0), part(1), part(2), Some(alibi), blocked))
    }
}

#[derive(Module, Debug)]
pub struct BloomMlp {
    pub dense_h_to_4h: FrozenLinear,
    pub dense_4h_to_h: FrozenLinear,
}

#[derive(Module, Debug)]
pub struct BloomBlock {
    pub input_layernorm: LayerNorm,
    pub self_attention: BloomAttention,
    pub post_attention_layernorm: LayerNorm,
    pub mlp: BloomMlp,
}

/// `BloomGelu`, the tanh approximation: x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³))). burn's
/// `gelu_approximate` computes the same but takes the cube through `powf`, a scalar libm call per element
/// (and again in its gradient) on the CPU backend; products are vectorised.
fn bloom_gelu(x: Tensor<3>) -> Tensor<3> {
    const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
    let cube = x.clone() * x.clone() * x.clone();
    let inner = (x.clone() + cube * 0.044715) * SQRT_2_OVER_PI;
    x * (inner.tanh() + 1.0) * 0.5
}

impl BloomBlock {
    pub(super) fn forward(&self, hidden: Tensor<3>, alibi: Tensor<4>, blocked: Tensor<4, Bool>) -> Tensor<3> {
        // The residual is the block input, not the LayerNorm output.
        let residual = hidden.clone();
        let attn_output = residual + self.self_attention.forward(self.input_layernorm.forward(hidden), alibi, blocked);
        let residual = attn_output.clone();
        let up = bloom_gelu(self.mlp.dense_h_to_4h.forward(self.post_attention_layernorm.forward(attn_output)));
        residual + self.mlp.dense_4h_to_h.forward(up)
    }
}

#[derive(Debug)]
pub struct Bloom {
    pub config: ModelConfig,
    pub word_embeddings: TokenEmbedding,
    pub word_embeddings_layernorm: LayerNorm,
    pub h: Vec<BloomBlock>,
    pub ln_f: LayerNorm,
    pub lm_head: TiedHead,
    pub device: Device,
}

impl Bloom {
    /// Checkpoint tensors and their shapes, named as in bigscience/bloom-560m's files (no `transformer.`
    /// prefix; a loader strips it where a checkpoint has one).
    pub fn checkpoint_tensors(c: &ModelConfig) -> Vec<(String, Vec<usize>)> {
        let (h, f) = (c.hidden, c.ffn);
        let mut names = vec![
            ("word_embeddings.weight".to_string(), vec![c.vocab_size, h]),
            ("word_embeddings_layernorm.weight".into(), vec![h]),
            ("word_embeddings_layernorm.bias".into(), vec![h]),
        ];
        for i in 0..c.layers {
            let p = format!("h.{i}");
            for norm in ["input_layernorm", "post_attention_layernorm"] {
                names.push((format!("{p}.{norm}.weight"), vec![h]));
                names.push((format!("{p}.{norm}.bias"), vec![h]));
            }
            names.extend([
                (format!("{p}.self_attention.query_key_value.weight"), vec![3 * h, h]),
                (format!("{p}.self_attention.query_key_value.bias"), vec![3 * h]),
                (format!("{p}.self_attention.dense.weight"), vec![h, h]),
                (format!("{p}.self_attention.dense.bias"), vec![h]),
                (format!("{p}.mlp.dense_h_to_4h.weight"), vec![f, h]),
                (format!("{p}.mlp.dense_h_to_4h.bias"), vec![f]),
                (format!("{p}.mlp.dense_4h_to_h.weight"), vec![h, f]),
                (format!("{p}.mlp.dense_4h_to_h.bias"), vec![h]),
            ]);
        }
        names.push(("ln_f.weight".into(), vec![h]));
        names.push(("ln_f.bias".into(), vec![h]));
        names
    }

    /// Builds the model from a checkpoint whose names and shapes were checked against `checkpoint_tensors`.
    /// (Its opening and the tensor list's close repeat xglm.rs's on purpose: one self-contained file per
    /// architecture, as in candle's `models/`, rather than a shared loader with per-family hooks.)
    pub(crate) fn load(
        config: &ModelConfig,
        ckpt: &mut Checkpoint,
        device: &Device,
        options: &LoadOptions,
    ) -> Result<Self, WeightsError> {
        let eps = config.layer_norm_eps;
        let mut h = Vec::with_capacity(config.layers);
        for i in 0..config.layers {
            let p = format!("h.{i}");
            h.push(
                BloomBlock {
                    input_layernorm: ckpt.layer_norm(&format!("{p}.input_layernorm"), eps, device)?,
                    self_attention: BloomAttention {
                        query_key_value: ckpt.linear(
                            &format!("{p}.self_attention.query_key_value"),
                            device,
                            options,
                        )?,
                        dense: ckpt.linear(&format!("{p}.self_attention.dense"), device, options)?,
                        heads: config.heads,
                    },
                    post_attention_layernorm: ckpt.layer_norm(&format!("{p}.post_attention_layernorm"), eps, device)?,
                    mlp: BloomMlp {
                        dense_h_to_4h: ckpt.linear(&format!("{p}.mlp.dense_h_to_4h"), device, options)?,
                        dense_4h_to_h: ckpt.linear(&format!("{p}.mlp.dense_4h_to_h"), device, options)?,
                    },
                }
                .no_grad(),
            );
        }
        let word_embeddings_layernorm = ckpt.layer_norm("word_embeddings_layernorm", eps, device)?.no_grad();
        let ln_f = ckpt.layer_norm("ln_f", eps, device)?.no_grad();
        let (word_embeddings, lm_head) = ckpt.token_table("word_embeddings.weight", device, options)?;
        Ok(Self {
            config: config.clone(),
            word_embeddings,
            word_embeddings_layernorm,
            h,
            ln_f,
            lm_head,
            device: device.clone(),
        })
    }

    /// The first block's input `[B, T', H]` (token embeddings with the prompt, through the embedding
    /// LayerNorm) and what every block needs (the mask and ALiBi).
    pub fn embed(&self, batch: &InputBatch, prompt: Option<Tensor<2>>) -> (Tensor<3>, LayerContext) {
        let inputs_embeds = match &batch.placement {
            PromptPlacement::None | PromptPlacement::Slots { .. } => {
                self.word_embeddings.lookup(batch, prompt, &self.device)
            }
            // PEFT passes [prompt, token embeddings] as `inputs_embeds`; the LayerNorm below sees both.
            PromptPlacement::Prefix { .. } => {
                let prompt = prompt.expect("PromptPlacement::Prefix needs a prompt");
                let tokens = self.word_embeddings.lookup(batch, None, &self.device);
                Tensor::cat(vec![prefix_rows(prompt, batch.batch), tokens], 1)
            }
        };
        let hidden = self.word_embeddings_layernorm.forward(inputs_embeds);
        let (attention, seq) = batch.model_attention();
        let alibi = self.alibi(&attention, batch.batch, seq);
        let blocked = blocked_keys(&attention, batch.batch, seq, &self.device);
        (hidden, LayerContext { blocked, alibi: Some(alibi) })
    }

    /// `build_alibi_tensor` as `[B, heads, 1, T]`: slope(head) × key position, where a key's position counts
    /// the attended tokens before it (`(cumsum(mask) - 1) * mask`).
    fn alibi(&self, attention: &[u8], batch: usize, seq: usize) -> Tensor<4> {
        let slopes = alibi_slopes(self.config.heads);
        let mut data = Vec::with_capacity(batch * slopes.len() * seq);
        for mask in attention.chunks(seq) {
            let mut count = 0i64;
            let positions: Vec<f32> = mask
                .iter()
                .map(|&m| {
                    count += m as i64;
                    ((count - 1) * m as i64) as f32
                })
                .collect();
            for slope in &slopes {
                data.extend(positions.iter().map(|p| slope * p));
            }
        }
        Tensor::from_data(TensorData::new(data, [batch, slopes.len(), 1, seq]), &self.device)
    }
}

/// ALiBi slopes: 2^(-8k/n) for k = 1..n when n is a power of two; otherwise those of the closest smaller
/// power of two followed by every other slope of the next one (transformers' formula, in f32 like it).
fn alibi_slopes(heads: usize) -> Vec<f32> {
    let closest = 1usize << heads.ilog2();
    let base = |n: usize| 2f32.powf(-(2f32.powf(-((n as f32).log2() - 3.0))));
    let mut slopes: Vec<f32> = (1..=closest).map(|p| base(closest).powi(p as i32)).collect();
    if closest != heads {
        let remaining = closest.min(heads - closest);
        slopes.extend((0..remaining).map(|k| base(2 * closest).powi(2 * k as i32 + 1)));
    }
    slopes
}

#[cfg(test)]
mod tests {
    use super::alibi_slopes;

    #[test]
    fn alibi_slopes_match_the_published_values() {
        // 8 heads: 1/2, 1/4, ..., 1/256 (Press et al.); 12 heads add the odd powers of 2^(-1/2).
        let eight = alibi_slopes(8);
        assert_eq!(eight.len(), 8);
        for (k, s) in eight.iter().enumerate() {
            assert!((s - 0.5f32.powi(k as i32 + 1)).abs() < 1e-7);
        }
        let twelve = alibi_slopes(12);
        assert_eq!(&twelve[..8], &eight[..]);
        let expected = [0.5f32.powf(0.5), 0.5f32.powf(1.5), 0.5f32.powf(2.5), 0.5f32.powf(3.5)];
        for (s, e) in twelve[8..].iter().zip(expected) {
            assert!((s - e).abs() < 1e-6, "{s} vs {e}");
        }
    }
}
