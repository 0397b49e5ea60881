//! BLOOM (bigscience/bloom-560m and larger), as transformers' `modeling_bloom.py` computes it: embedding
//! LayerNorm, ALiBi position biases, fused `query_key_value` laid out per head as [q, k, v], tanh-GELU,
//! residuals before the LayerNorms, final `ln_f`, head tied to the embedding. Checkpoint names are the
//! hub's, without the `transformer.` prefix.
use burn::tensor::activation::{gelu_approximate, softmax};
use burn::tensor::{Device, Tensor, TensorData};

use super::embedding::HostEmbedding;
use super::layers::{LayerNorm, Linear};
use super::{InputBatch, ModelConfig, PromptPlacement};
use crate::weights::{Checkpoint, WeightsError};

/// Attention scores of masked positions: finite, so fully masked (padding) rows stay finite too.
const MASKED: f32 = -1e9;

struct Block {
    input_layernorm: LayerNorm,
    query_key_value: Linear,
    dense: Linear,
    post_attention_layernorm: LayerNorm,
    dense_h_to_4h: Linear,
    dense_4h_to_h: Linear,
}

pub struct Bloom {
    config: ModelConfig,
    embedding: HostEmbedding,
    word_embeddings_layernorm: LayerNorm,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    device: Device,
}

impl Bloom {
    pub fn load(config: &ModelConfig, ckpt: &mut Checkpoint, device: &Device) -> Result<Bloom, WeightsError> {
        let (h, eps) = (config.hidden, config.layer_norm_eps);
        let embedding = HostEmbedding::new(ckpt.take("word_embeddings.weight", &[config.vocab_size, h])?, config.vocab_size, h);
        let word_embeddings_layernorm = LayerNorm::load(ckpt, "word_embeddings_layernorm", h, eps, device)?;
        let blocks = (0..config.layers)
            .map(|i| {
                let p = format!("h.{i}");
                Ok(Block {
                    input_layernorm: LayerNorm::load(ckpt, &format!("{p}.input_layernorm"), h, eps, device)?,
                    query_key_value: Linear::load(ckpt, &format!("{p}.self_attention.query_key_value"), h, 3 * h, device)?,
                    dense: Linear::load(ckpt, &format!("{p}.self_attention.dense"), h, h, device)?,
                    post_attention_layernorm: LayerNorm::load(ckpt, &format!("{p}.post_attention_layernorm"), h, eps, device)?,
                    dense_h_to_4h: Linear::load(ckpt, &format!("{p}.mlp.dense_h_to_4h"), h, config.ffn, device)?,
                    dense_4h_to_h: Linear::load(ckpt, &format!("{p}.mlp.dense_4h_to_h"), config.ffn, h, device)?,
                })
            })
            .collect::<Result<Vec<_>, WeightsError>>()?;
        let ln_f = LayerNorm::load(ckpt, "ln_f", h, eps, device)?;
        Ok(Bloom { config: config.clone(), embedding, word_embeddings_layernorm, blocks, ln_f, device: device.clone() })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn embedding(&self) -> &HostEmbedding {
        &self.embedding
    }

    /// Final hidden states [B, T', H] (T' = T + L for a prefix prompt).
    pub fn hidden_states(&self, batch: &InputBatch, prompt: Option<Tensor<2>>) -> Tensor<3> {
        let device = &self.device;
        let mut embeds = self.embedding.embed(batch, prompt.clone(), device);
        let mut attention = batch.attention.clone();
        let mut seq = batch.seq;
        if let (PromptPlacement::Prefix { len }, Some(prompt)) = (&batch.placement, prompt) {
            // PEFT prepends the prompt as input embeddings; the embedding LayerNorm then applies to it too.
            let prefix = prompt.unsqueeze::<3>().expand([batch.batch, *len, self.config.hidden]);
            embeds = Tensor::cat(vec![prefix, embeds], 1);
            attention = (0..batch.batch)
                .flat_map(|row| std::iter::repeat_n(1, *len).chain(batch.attention[row * batch.seq..(row + 1) * batch.seq].iter().copied()))
                .collect();
            seq += len;
        }
        let bias = self.attention_bias(&attention, batch.batch, seq);
        let mut hidden = self.word_embeddings_layernorm.forward(embeds);
        for block in &self.blocks {
            hidden = self.block(block, hidden, bias.clone());
        }
        self.ln_f.forward(hidden)
    }

    /// ALiBi plus the causal and padding masks, [B, heads, T, T], built on the host from the mask.
    fn attention_bias(&self, attention: &[u8], batch: usize, seq: usize) -> Tensor<4> {
        let heads = self.config.heads;
        let slopes = alibi_slopes(heads);
        let mut bias = vec![0f32; batch * heads * seq * seq];
        for b in 0..batch {
            let mask = &attention[b * seq..(b + 1) * seq];
            // transformers: key position = (cumsum(mask) - 1) * mask.
            let mut count = 0;
            let positions: Vec<f32> = mask
                .iter()
                .map(|&m| {
                    count += m as usize;
                    if m == 1 { (count - 1) as f32 } else { 0.0 }
                })
                .collect();
            for (head, slope) in slopes.iter().enumerate() {
                for q in 0..seq {
                    let row = ((b * heads + head) * seq + q) * seq;
                    for k in 0..seq {
                        bias[row + k] = if k > q || mask[k] == 0 { MASKED } else { slope * positions[k] };
                    }
                }
            }
        }
        Tensor::from_data(TensorData::new(bias, [batch, heads, seq, seq]), &self.device)
    }

    fn block(&self, block: &Block, hidden: Tensor<3>, bias: Tensor<4>) -> Tensor<3> {
        let [b, t, h] = hidden.dims();
        let (heads, head_dim) = (self.config.heads, self.config.head_dim());
        let normed = block.input_layernorm.forward(hidden.clone());
        // Fused projection, per head [q | k | v]: view as [B, T, heads, 3, head_dim].
        let qkv = block.query_key_value.forward(normed).reshape([b, t, heads, 3, head_dim]);
        let part = |i: usize| qkv.clone().narrow(3, i, 1).reshape([b, t, heads, head_dim]).swap_dims(1, 2);
        let (q, k, v) = (part(0), part(1), part(2));
        let scores = q.matmul(k.swap_dims(2, 3)) * (1.0 / (head_dim as f64).sqrt()) + bias;
        let context = softmax(scores, 3).matmul(v).swap_dims(1, 2).reshape([b, t, h]);
        let attention_output = block.dense.forward(context) + hidden;
        let normed = block.post_attention_layernorm.forward(attention_output.clone());
        block.dense_4h_to_h.forward(gelu_approximate(block.dense_h_to_4h.forward(normed))) + attention_output
    }
}

/// ALiBi slopes as transformers computes them (closest power of two, then interleaved extras).
fn alibi_slopes(heads: usize) -> Vec<f32> {
    let closest = 1usize << (usize::BITS - 1 - heads.leading_zeros());
    let base = 2f64.powf(-(2f64.powf(-((closest as f64).log2() - 3.0))));
    let mut slopes: Vec<f32> = (1..=closest).map(|i| base.powi(i as i32) as f32).collect();
    if closest != heads {
        let extra_base = 2f64.powf(-(2f64.powf(-((2.0 * closest as f64).log2() - 3.0))));
        let extra = heads - closest;
        slopes.extend((0..extra).map(|i| extra_base.powi((1 + 2 * i) as i32) as f32));
    }
    slopes
}
