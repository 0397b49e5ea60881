//! XGLM (`XGLMForCausalLM`), following transformers' `models/xglm/modeling_xglm.py`.
//!
//! Token embeddings × sqrt(d_model) (`scale_embedding`), plus sinusoidal positions with fairseq's padding
//! offset; pre-LayerNorm decoder layers (self-attention, then fc1 → exact GELU → fc2); a final LayerNorm;
//! the LM head tied to `model.embed_tokens`.
//!
//! Deliberately parallel to `bloom.rs` (one self-contained file per architecture, as candle's `models/`):
//! the tensor lists and `load` have the same shape with each family's own names, read beside transformers.
use burn::module::Module;
use burn::nn::LayerNorm;
use burn::tensor::activation::gelu;
use burn::tensor::{Bool, Device, Tensor, TensorData};

use super::attention::{LayerContext, attention, blocked_keys};
use super::checkpoint::{Checkpoint, LoadOptions, WeightsError};
use super::config::ModelConfig;
use super::embedding::{TokenEmbedding, prefix_rows};
use super::head::TiedHead;
use super::input::{InputBatch, PromptPlacement};
use super::linear::FrozenLinear;

/// fairseq's position offset: position id `p` uses sinusoid row `p + 2`; row `padding_idx` (1) is zero.
const POSITION_OFFSET: usize = 2;

#[derive(Module, Debug)]
pub struct XglmAttention {
    pub q_proj: FrozenLinear,
    pub k_proj: FrozenLinear,
    pub v_proj: FrozenLinear,
    pub out_proj: FrozenLinear,
    #[module(skip)]
    heads: usize,
}

impl XglmAttention {
    fn forward(&self, hidden: Tensor<3>, blocked: Tensor<4, Bool>) -> Tensor<3> {
        let [b, t, d] = hidden.dims();
        let split = |x: Tensor<3>| x.reshape([b, t, self.heads, d / self.heads]).swap_dims(1, 2);
        let query = split(self.q_proj.forward(hidden.clone()));
        let key = split(self.k_proj.forward(hidden.clone()));
        let value = split(self.v_proj.forward(hidden));
        self.out_proj.forward(attention(query, key, value, None, blocked))
    }
}

#[derive(Module, Debug)]
pub struct XglmDecoderLayer {
    pub self_attn: XglmAttention,
    pub self_attn_layer_norm: LayerNorm,
    pub fc1: FrozenLinear,
    pub fc2: FrozenLinear,
    pub final_layer_norm: LayerNorm,
}

impl XglmDecoderLayer {
    pub(super) fn forward(&self, hidden: Tensor<3>, blocked: Tensor<4, Bool>) -> Tensor<3> {
        let residual = hidden.clone();
        let hidden = residual + self.self_attn.forward(self.self_attn_layer_norm.forward(hidden), blocked);
        let residual = hidden.clone();
        // `activation_function` "gelu" is the exact (erf) GELU.
        residual + self.fc2.forward(gelu(self.fc1.forward(self.final_layer_norm.forward(hidden))))
    }
}

#[derive(Debug)]
pub struct Xglm {
    pub config: ModelConfig,
    pub embed_tokens: TokenEmbedding,
    pub layers: Vec<XglmDecoderLayer>,
    /// `model.layer_norm`, after the last layer.
    pub layer_norm: LayerNorm,
    pub lm_head: TiedHead,
    pub device: Device,
}

impl Xglm {
    /// Checkpoint tensors and their shapes, named as in the hub's `model.safetensors` / `pytorch_model.bin`.
    pub fn checkpoint_tensors(c: &ModelConfig) -> Vec<(String, Vec<usize>)> {
        let (h, f) = (c.hidden, c.ffn);
        let mut names = vec![("model.embed_tokens.weight".to_string(), vec![c.vocab_size, h])];
        for i in 0..c.layers {
            let p = format!("model.layers.{i}");
            for proj in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                names.push((format!("{p}.self_attn.{proj}.weight"), vec![h, h]));
                names.push((format!("{p}.self_attn.{proj}.bias"), vec![h]));
            }
            for norm in ["self_attn_layer_norm", "final_layer_norm"] {
                names.push((format!("{p}.{norm}.weight"), vec![h]));
                names.push((format!("{p}.{norm}.bias"), vec![h]));
            }
            names.extend([
                (format!("{p}.fc1.weight"), vec![f, h]),
                (format!("{p}.fc1.bias"), vec![f]),
                (format!("{p}.fc2.weight"), vec![h, f]),
                (format!("{p}.fc2.bias"), vec![h]),
            ]);
        }
        names.push(("model.layer_norm.weight".into(), vec![h]));
        names.push(("model.layer_norm.bias".into(), vec![h]));
        names
    }

    /// Builds the model from a checkpoint whose names and shapes were checked against `checkpoint_tensors`.
    /// (Its opening and the tensor list's close repeat bloom.rs's on purpose: one self-contained file per
    /// architecture, as in candle's `models/`, rather than a shared loader with per-family hooks.)
    pub(crate) fn load(
        config: &ModelConfig,
        ckpt: &mut Checkpoint,
        device: &Device,
        options: &LoadOptions,
    ) -> Result<Self, WeightsError> {
        let eps = config.layer_norm_eps;
        let mut layers = Vec::with_capacity(config.layers);
        for i in 0..config.layers {
            let p = format!("model.layers.{i}");
            layers.push(
                XglmDecoderLayer {
                    self_attn: XglmAttention {
                        q_proj: ckpt.linear(&format!("{p}.self_attn.q_proj"), device, options)?,
                        k_proj: ckpt.linear(&format!("{p}.self_attn.k_proj"), device, options)?,
                        v_proj: ckpt.linear(&format!("{p}.self_attn.v_proj"), device, options)?,
                        out_proj: ckpt.linear(&format!("{p}.self_attn.out_proj"), device, options)?,
                        heads: config.heads,
                    },
                    self_attn_layer_norm: ckpt.layer_norm(&format!("{p}.self_attn_layer_norm"), eps, device)?,
                    fc1: ckpt.linear(&format!("{p}.fc1"), device, options)?,
                    fc2: ckpt.linear(&format!("{p}.fc2"), device, options)?,
                    final_layer_norm: ckpt.layer_norm(&format!("{p}.final_layer_norm"), eps, device)?,
                }
                .no_grad(),
            );
        }
        let layer_norm = ckpt.layer_norm("model.layer_norm", eps, device)?.no_grad();
        let (embed_tokens, lm_head) = ckpt.token_table("model.embed_tokens.weight", device, options)?;
        Ok(Self { config: config.clone(), embed_tokens, layers, layer_norm, lm_head, device: device.clone() })
    }

    /// The first layer's input `[B, T', H]` (scaled token embeddings with the prompt, plus positions) and
    /// what every layer needs.
    pub fn embed(&self, batch: &InputBatch, prompt: Option<Tensor<2>>) -> (Tensor<3>, LayerContext) {
        let scale = if self.config.scale_embedding { (self.config.hidden as f64).sqrt() } else { 1.0 };
        let inputs_embeds = match &batch.placement {
            // The paper: slots hold the prompt before the scale, like any looked-up token row.
            PromptPlacement::None | PromptPlacement::Slots { .. } => {
                self.embed_tokens.lookup(batch, prompt, &self.device) * scale
            }
            // PEFT: `inputs_embeds` = [prompt, scaled token embeddings]; the prompt is not scaled.
            PromptPlacement::Prefix { .. } => {
                let prompt = prompt.expect("PromptPlacement::Prefix needs a prompt");
                let tokens = self.embed_tokens.lookup(batch, None, &self.device) * scale;
                Tensor::cat(vec![prefix_rows(prompt, batch.batch), tokens], 1)
            }
        };
        let (attention, seq) = batch.model_attention();
        let hidden = inputs_embeds + self.positions(&attention, batch.batch, seq);
        let blocked = blocked_keys(&attention, batch.batch, seq, &self.device);
        (hidden, LayerContext { blocked, alibi: None })
    }

    /// `XGLMSinusoidalPositionalEmbedding` rows `[B, T, H]` for padding-aware position ids: the j-th
    /// attended token of a row gets row j + 2, padding row 1 (zeros). With a prefix this equals PEFT's
    /// `arange(L + T)` + 2 at every attended position (padded positions are don't-care).
    fn positions(&self, attention: &[u8], batch: usize, seq: usize) -> Tensor<3> {
        let d = self.config.hidden;
        let half = d / 2;
        // Computed in f32 like transformers' `get_embedding`: sin half, then cos half; odd d gets a zero column.
        let step = (10000f32).ln() / (half as f32 - 1.0);
        let freqs: Vec<f32> = (0..half).map(|i| (i as f32 * -step).exp()).collect();
        let mut data = vec![0f32; batch * seq * d];
        for (row, mask) in attention.chunks(seq).enumerate() {
            let mut attended = 0;
            for (t, &m) in mask.iter().enumerate() {
                if m == 0 {
                    continue; // padding_idx's row is all zeros
                }
                let p = (attended + POSITION_OFFSET) as f32;
                attended += 1;
                let out = &mut data[(row * seq + t) * d..][..d];
                for (i, f) in freqs.iter().enumerate() {
                    out[i] = (p * f).sin();
                    out[half + i] = (p * f).cos();
                }
            }
        }
        Tensor::from_data(TensorData::new(data, [batch, seq, d]), &self.device)
    }
}
