//! The frozen language models (XGLM, BLOOM), what configures them, and what they take as input.
pub mod bloom;
pub mod config;
pub mod embedding;
pub mod head;
pub mod xglm;

use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Device, Tensor, TensorData};

pub use config::{ConfigError, Family, ModelConfig, SizeEstimate, WeightDtype};
use embedding::HostEmbedding;
pub use head::{DEFAULT_MAX_CHUNK_BYTES, TiedHead};

/// Where the soft prompt goes among the input embeddings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PromptPlacement {
    None,
    /// The paper: prompt vectors replace the embeddings of `len` slots starting at `starts[row]`, then go
    /// through what token embeddings go through (XGLM's × sqrt(d) scale, BLOOM's embedding LayerNorm).
    Slots { starts: Vec<usize>, len: usize },
    /// PEFT: the prompt is prepended as input embeddings (no XGLM scale; BLOOM's embedding LayerNorm
    /// applies) and the attention mask is extended by `len` ones; outputs have `len` more positions.
    Prefix { len: usize },
}

/// A right-padded batch of token ids for the model, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputBatch {
    pub ids: Vec<u32>,
    /// 1 for tokens and prompt slots, 0 for padding.
    pub attention: Vec<u8>,
    pub batch: usize,
    pub seq: usize,
    pub placement: PromptPlacement,
}

impl InputBatch {
    /// Number of prompt rows prepended (PEFT's format), else 0.
    fn prefix_len(&self) -> usize {
        match self.placement {
            PromptPlacement::Prefix { len } => len,
            _ => 0,
        }
    }

    /// The attention mask the layers see, `[B, T']` row-major: for a prefix, `len` ones in front of each
    /// row (what PEFT does to `attention_mask`).
    fn model_attention(&self) -> (Vec<u8>, usize) {
        let prefix = self.prefix_len();
        let seq = prefix + self.seq;
        let mut mask = Vec::with_capacity(self.batch * seq);
        for row in self.attention.chunks(self.seq) {
            mask.extend(std::iter::repeat_n(1, prefix));
            mask.extend_from_slice(row);
        }
        (mask, seq)
    }
}

/// `[B, 1, T, T]`, true where query `i` must not see key `j`: later keys (causal) and padded keys — the
/// 4-D mask transformers builds from `attention_mask`, broadcast over heads.
fn blocked_keys(attention: &[u8], batch: usize, seq: usize, device: &Device) -> Tensor<4, Bool> {
    let mut blocked = Vec::with_capacity(batch * seq * seq);
    for row in attention.chunks(seq) {
        for i in 0..seq {
            blocked.extend((0..seq).map(|j| j > i || row[j] == 0));
        }
    }
    Tensor::from_data(TensorData::new(blocked, [batch, 1, seq, seq]), device)
}

/// Scaled dot-product attention over `[B, heads, T, head_dim]` inputs with an additive `bias` (BLOOM's ALiBi)
/// and the causal/padding mask; returns `[B, T, heads × head_dim]` with heads merged.
fn attention(
    query: Tensor<4>,
    key: Tensor<4>,
    value: Tensor<4>,
    bias: Option<Tensor<4>>,
    blocked: Tensor<4, Bool>,
) -> Tensor<3> {
    let [b, heads, t, head_dim] = query.dims();
    let mut scores = query.matmul(key.swap_dims(2, 3)) / (head_dim as f64).sqrt();
    if let Some(bias) = bias {
        scores = scores + bias;
    }
    // transformers fills with the dtype's minimum; any row keeps at least its own (or an earlier) key.
    let probs = softmax(scores.mask_fill(blocked, f32::MIN), 3);
    probs.matmul(value).swap_dims(1, 2).reshape([b, t, heads * head_dim])
}

/// A frozen causal LM of either family. Its weights live on a device without autodiff and are marked
/// `no_grad`, so a backward pass from a loss computes (and stores) gradients for the prompt only.
#[derive(Debug)]
pub enum CausalLm {
    Xglm(xglm::Xglm),
    Bloom(bloom::Bloom),
}

impl CausalLm {
    pub fn config(&self) -> &ModelConfig {
        match self {
            CausalLm::Xglm(m) => &m.config,
            CausalLm::Bloom(m) => &m.config,
        }
    }

    /// The device the frozen weights live on (never an autodiff device).
    pub fn device(&self) -> &Device {
        match self {
            CausalLm::Xglm(m) => &m.device,
            CausalLm::Bloom(m) => &m.device,
        }
    }

    fn embedding(&self) -> &HostEmbedding {
        match self {
            CausalLm::Xglm(m) => &m.embed_tokens,
            CausalLm::Bloom(m) => &m.word_embeddings,
        }
    }

    fn head(&self) -> &TiedHead {
        match self {
            CausalLm::Xglm(m) => &m.lm_head,
            CausalLm::Bloom(m) => &m.lm_head,
        }
    }

    /// Final hidden states `[B, T', H]` (T' = T + len for a prefix). `prompt` `[L, H]` is required by
    /// `Slots`/`Prefix` placements and may live on an autodiff device: gradients flow to it only.
    pub fn hidden_states(&self, batch: &InputBatch, prompt: Option<Tensor<2>>) -> Tensor<3> {
        match self {
            CausalLm::Xglm(m) => m.forward(batch, prompt),
            CausalLm::Bloom(m) => m.forward(batch, prompt),
        }
    }

    /// The tied LM head at `positions[b]` of each row: `[B, V]`, or `[B, K]` scores for `tokens` only (the
    /// K label words), in the order given.
    pub fn logits_at(&self, hidden: Tensor<3>, positions: &[usize], tokens: Option<&[u32]>) -> Tensor<2> {
        let rows = head::at_positions(hidden, positions);
        match tokens {
            Some(tokens) => head::restricted(rows, self.embedding(), tokens, self.device()),
            None => self.head().full(rows),
        }
    }

    /// Full-vocabulary logits at every position, `[B, T', V]`: for tests against references only.
    pub fn logits_full(&self, hidden: Tensor<3>) -> Tensor<3> {
        let [b, t, h] = hidden.dims();
        self.head().full(hidden.reshape([b * t, h])).reshape([b, t, self.config().vocab_size])
    }

    /// Raw (unscaled) embedding rows `[n, H]` for `ids`, e.g. to initialise a prompt from words.
    pub fn embedding_rows(&self, ids: &[u32], device: &Device) -> Tensor<2> {
        self.embedding().rows(ids, device)
    }
}
