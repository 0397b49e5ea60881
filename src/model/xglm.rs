//! XGLM (facebook/xglm-564M and larger), as transformers' `modeling_xglm.py` computes it: token
//! embeddings scaled by sqrt(d_model), sinusoidal positions offset by 2 (padding gets the zero row),
//! pre-LayerNorm blocks with exact (erf) GELU, a final LayerNorm, head tied to the embedding.
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::{Device, Tensor, TensorData};

use super::embedding::HostEmbedding;
use super::layers::{LayerNorm, Linear};
use super::{InputBatch, ModelConfig, PromptPlacement};
use crate::weights::{Checkpoint, WeightsError};

/// Attention scores of masked positions: finite, so fully masked (padding) rows stay finite too.
const MASKED: f32 = -1e9;
/// fairseq's position offset: position ids start at padding_idx + 1 = 2.
const POSITION_OFFSET: usize = 2;

struct Layer {
    self_attn_layer_norm: LayerNorm,
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    final_layer_norm: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

pub struct Xglm {
    config: ModelConfig,
    embedding: HostEmbedding,
    layers: Vec<Layer>,
    layer_norm: LayerNorm,
    device: Device,
}

impl Xglm {
    pub fn load(config: &ModelConfig, ckpt: &mut Checkpoint, device: &Device) -> Result<Xglm, WeightsError> {
        let (h, f, eps) = (config.hidden, config.ffn, config.layer_norm_eps);
        let embedding = HostEmbedding::new(ckpt.take("model.embed_tokens.weight", &[config.vocab_size, h])?, config.vocab_size, h);
        let layers = (0..config.layers)
            .map(|i| {
                let p = format!("model.layers.{i}");
                Ok(Layer {
                    self_attn_layer_norm: LayerNorm::load(ckpt, &format!("{p}.self_attn_layer_norm"), h, eps, device)?,
                    q_proj: Linear::load(ckpt, &format!("{p}.self_attn.q_proj"), h, h, device)?,
                    k_proj: Linear::load(ckpt, &format!("{p}.self_attn.k_proj"), h, h, device)?,
                    v_proj: Linear::load(ckpt, &format!("{p}.self_attn.v_proj"), h, h, device)?,
                    out_proj: Linear::load(ckpt, &format!("{p}.self_attn.out_proj"), h, h, device)?,
                    final_layer_norm: LayerNorm::load(ckpt, &format!("{p}.final_layer_norm"), h, eps, device)?,
                    fc1: Linear::load(ckpt, &format!("{p}.fc1"), h, f, device)?,
                    fc2: Linear::load(ckpt, &format!("{p}.fc2"), f, h, device)?,
                })
            })
            .collect::<Result<Vec<_>, WeightsError>>()?;
        let layer_norm = LayerNorm::load(ckpt, "model.layer_norm", h, eps, device)?;
        Ok(Xglm { config: config.clone(), embedding, layers, layer_norm, device: device.clone() })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn embedding(&self) -> &HostEmbedding {
        &self.embedding
    }

    /// Final hidden states [B, T', H] (T' = T + L for a prefix prompt).
    pub fn hidden_states(&self, batch: &InputBatch, prompt: Option<Tensor<2>>) -> Tensor<3> {
        let (b, h) = (batch.batch, self.config.hidden);
        let scale = if self.config.scale_embedding { (h as f64).sqrt() } else { 1.0 };
        // Slots are filled before the scale, so the prompt is scaled like the tokens it replaces.
        let mut embeds = self.embedding.embed(batch, prompt.clone(), &self.device) * scale;
        let (attention, seq, positions) = match (&batch.placement, prompt) {
            (PromptPlacement::Prefix { len }, Some(prompt)) => {
                // PEFT prepends the prompt as input embeddings, unscaled, and numbers every position
                // 0..L+T whatever the padding.
                embeds = Tensor::cat(vec![prompt.unsqueeze::<3>().expand([b, *len, h]), embeds], 1);
                let seq = batch.seq + len;
                let attention: Vec<u8> = (0..b)
                    .flat_map(|row| std::iter::repeat_n(1, *len).chain(batch.attention[row * batch.seq..(row + 1) * batch.seq].iter().copied()))
                    .collect();
                let positions: Vec<Option<usize>> = (0..b).flat_map(|_| (0..seq).map(Some)).collect();
                (attention, seq, positions)
            }
            _ => {
                // transformers 4.26 numbers tokens from the ids: padding gets no position (the zero row).
                let positions: Vec<Option<usize>> = (0..b)
                    .flat_map(|row| {
                        let mut count = 0;
                        batch.attention[row * batch.seq..(row + 1) * batch.seq]
                            .iter()
                            .map(move |&m| (m == 1).then(|| { count += 1; count - 1 }))
                            .collect::<Vec<_>>()
                    })
                    .collect();
                (batch.attention.clone(), batch.seq, positions)
            }
        };
        let mut hidden = embeds + self.sinusoids(&positions, b, seq);
        let bias = attention_mask(&attention, b, seq, &self.device);
        for layer in &self.layers {
            hidden = self.layer(layer, hidden, bias.clone());
        }
        self.layer_norm.forward(hidden)
    }

    /// fairseq's sinusoidal table rows for each position ([sin | cos] halves; `None` → the zero row).
    fn sinusoids(&self, positions: &[Option<usize>], batch: usize, seq: usize) -> Tensor<3> {
        let h = self.config.hidden;
        let half = h / 2;
        let step = (10000f64).ln() / (half as f64 - 1.0);
        let mut table = vec![0f32; positions.len() * h];
        for (i, position) in positions.iter().enumerate() {
            let Some(p) = position else { continue };
            let p = (p + POSITION_OFFSET) as f64;
            for j in 0..half {
                let angle = p * (-(j as f64) * step).exp();
                table[i * h + j] = angle.sin() as f32;
                table[i * h + half + j] = angle.cos() as f32;
            }
        }
        Tensor::from_data(TensorData::new(table, [batch, seq, h]), &self.device)
    }

    fn layer(&self, layer: &Layer, hidden: Tensor<3>, bias: Tensor<4>) -> Tensor<3> {
        let [b, t, h] = hidden.dims();
        let (heads, head_dim) = (self.config.heads, self.config.head_dim());
        let normed = layer.self_attn_layer_norm.forward(hidden.clone());
        let split = |x: Tensor<3>| x.reshape([b, t, heads, head_dim]).swap_dims(1, 2);
        let q = split(layer.q_proj.forward(normed.clone()) * (1.0 / (head_dim as f64).sqrt()));
        let k = split(layer.k_proj.forward(normed.clone()));
        let v = split(layer.v_proj.forward(normed));
        let context = softmax(q.matmul(k.swap_dims(2, 3)) + bias, 3).matmul(v).swap_dims(1, 2).reshape([b, t, h]);
        let hidden = hidden + layer.out_proj.forward(context);
        let normed = layer.final_layer_norm.forward(hidden.clone());
        hidden + layer.fc2.forward(gelu(layer.fc1.forward(normed)))
    }
}

/// Causal and padding masks as an additive bias, [B, 1, T, T].
fn attention_mask(attention: &[u8], batch: usize, seq: usize, device: &Device) -> Tensor<4> {
    let mut bias = vec![0f32; batch * seq * seq];
    for b in 0..batch {
        for q in 0..seq {
            for k in 0..seq {
                if k > q || attention[b * seq + k] == 0 {
                    bias[(b * seq + q) * seq + k] = MASKED;
                }
            }
        }
    }
    Tensor::from_data(TensorData::new(bias, [batch, 1, seq, seq]), device)
}
