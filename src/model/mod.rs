//! The frozen language models (XGLM, BLOOM), what configures them, and what they take as input.
pub mod bloom;
pub mod config;
pub mod embedding;
pub mod head;
pub mod linear;
pub mod xglm;

use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Device, Tensor, TensorData};

pub use config::{
    ConfigError, Family, MAX_FFN, MAX_HIDDEN, MAX_LAYERS, MAX_VOCAB, ModelConfig, SizeEstimate, WASM_MEMORY_BYTES,
    WeightDtype, recorded_name,
};
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
        assert_eq!(self.attention.len(), self.batch * self.seq, "InputBatch attention is not batch × seq");
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

/// What each layer needs besides the hidden states: the causal/padding mask, and BLOOM's ALiBi biases.
#[derive(Clone, Debug)]
pub struct LayerContext {
    blocked: Tensor<4, Bool>,
    alibi: Option<Tensor<4>>,
}

/// A frozen causal LM of either family. Its weights live on a device without autodiff, so ops mixing them
/// with the prompt treat them as constants: a backward pass computes gradients for the prompt only.
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
        let (hidden, context) = self.embed(batch, prompt);
        let hidden = (0..self.layer_count()).fold(hidden, |hidden, i| self.layer(i, hidden, &context));
        self.final_norm(hidden)
    }

    /// The first layer's input `[B, T', H]` for `batch` with `prompt` placed, and what every layer needs.
    /// `hidden_states` is `embed`, then each `layer`, then `final_norm`; they are separate so a training
    /// step can keep one layer's autodiff graph at a time (see `train::PromptTrainer`).
    pub fn embed(&self, batch: &InputBatch, prompt: Option<Tensor<2>>) -> (Tensor<3>, LayerContext) {
        match self {
            CausalLm::Xglm(m) => m.embed(batch, prompt),
            CausalLm::Bloom(m) => m.embed(batch, prompt),
        }
    }

    pub fn layer_count(&self) -> usize {
        self.config().layers
    }

    /// Layer `index` applied to `hidden` `[B, T', H]`.
    pub fn layer(&self, index: usize, hidden: Tensor<3>, context: &LayerContext) -> Tensor<3> {
        match self {
            CausalLm::Xglm(m) => m.layers[index].forward(hidden, context.blocked.clone()),
            CausalLm::Bloom(m) => {
                let alibi = context.alibi.clone().expect("BLOOM's context carries ALiBi");
                m.h[index].forward(hidden, alibi, context.blocked.clone())
            }
        }
    }

    /// The LayerNorm after the last layer.
    pub fn final_norm(&self, hidden: Tensor<3>) -> Tensor<3> {
        match self {
            CausalLm::Xglm(m) => m.layer_norm.forward(hidden),
            CausalLm::Bloom(m) => m.ln_f.forward(hidden),
        }
    }

    /// How the frozen weight matrices are stored (the token table's dtype; layers share it).
    pub fn weight_dtype(&self) -> WeightDtype {
        self.embedding().table().dtype()
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

    /// Mean cross-entropy over the whole vocabulary of `rows` `[B, H]` (final hidden states at the
    /// prediction positions) against `targets`, and its gradient with respect to `rows`, computed
    /// without autodiff (see `TiedHead::cross_entropy`).
    pub fn cross_entropy(&self, rows: Tensor<2>, targets: &[u32]) -> (Tensor<1>, Tensor<2>) {
        self.head().cross_entropy(rows, targets)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::{self, LoadOptions};

    fn fixture(family: &str, options: &LoadOptions) -> CausalLm {
        let dir = format!("{}/tests/fixtures/tiny-{family}", env!("CARGO_MANIFEST_DIR"));
        weights::load_dir(dir.as_ref(), &Device::flex(), options).unwrap()
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()))
    }

    fn plain(ids: Vec<u32>, attention: Vec<u8>, batch: usize) -> InputBatch {
        let seq = ids.len() / batch;
        InputBatch { ids, attention, batch, seq, placement: PromptPlacement::None }
    }

    #[test]
    fn later_tokens_do_not_change_earlier_positions() {
        for family in ["xglm", "bloom"] {
            let model = fixture(family, &LoadOptions::default());
            let a = values(model.hidden_states(&plain(vec![5, 6, 7, 8, 9], vec![1; 5], 1), None));
            let b = values(model.hidden_states(&plain(vec![5, 6, 7, 40, 41], vec![1; 5], 1), None));
            let h = model.config().hidden;
            assert!(max_abs_diff(&a[..3 * h], &b[..3 * h]) < 1e-6, "{family}: causal mask leaks");
            assert!(max_abs_diff(&a[3 * h..], &b[3 * h..]) > 1e-3, "{family}: later positions ignore their tokens");
        }
    }

    #[test]
    fn right_padding_changes_nothing_at_attended_positions() {
        for family in ["xglm", "bloom"] {
            let model = fixture(family, &LoadOptions::default());
            let pad = model.config().pad_token_id;
            let alone = values(model.hidden_states(&plain(vec![5, 6, 7], vec![1; 3], 1), None));
            let batch = plain(vec![9, 10, 11, 12, 13, 5, 6, 7, pad, pad], vec![1, 1, 1, 1, 1, 1, 1, 1, 0, 0], 2);
            let padded = values(model.hidden_states(&batch, None));
            let h = model.config().hidden;
            assert!(max_abs_diff(&alone, &padded[5 * h..8 * h]) < 1e-5, "{family}");
        }
    }

    #[test]
    fn a_prompt_of_embedding_rows_equals_those_tokens() {
        // The paper's slots go through what token embeddings go through (XGLM's scale, BLOOM's LayerNorm).
        for family in ["xglm", "bloom"] {
            let model = fixture(family, &LoadOptions::default());
            let pad = model.config().pad_token_id;
            let tokens = plain(vec![5, 6, 30, 31, 2], vec![1; 5], 1);
            let prompt = model.embedding_rows(&[30, 31], model.device());
            let slots = InputBatch {
                ids: vec![5, 6, pad, pad, 2],
                placement: PromptPlacement::Slots { starts: vec![2], len: 2 },
                ..tokens.clone()
            };
            let a = values(model.hidden_states(&tokens, None));
            let b = values(model.hidden_states(&slots, Some(prompt)));
            assert!(max_abs_diff(&a, &b) < 1e-6, "{family}");
        }
    }

    #[test]
    fn a_prefix_adds_its_rows_in_front() {
        for family in ["xglm", "bloom"] {
            let model = fixture(family, &LoadOptions::default());
            let h = model.config().hidden;
            let batch = InputBatch { placement: PromptPlacement::Prefix { len: 3 }, ..plain(vec![5, 6, 2], vec![1; 3], 1) };
            let prompt = Tensor::from_data(TensorData::new(vec![0.1f32; 3 * h], [3, h]), model.device());
            assert_eq!(model.hidden_states(&batch, Some(prompt)).dims(), [1, 6, h]);
        }
    }

    #[test]
    fn the_head_is_split_into_chunks_and_gives_the_same_scores() {
        let whole = fixture("bloom", &LoadOptions::default());
        // 1024 rows × 64 × 4 bytes: 100 rows per chunk gives 11 chunks, the last one partial.
        let chunked = fixture("bloom", &LoadOptions { max_chunk_bytes: 100 * 64 * 4, dtype: None });
        assert_eq!((whole.head().chunk_count(), chunked.head().chunk_count()), (1, 11));
        let batch = plain(vec![5, 6, 7, 8], vec![1; 4], 2);
        let a = whole.logits_at(whole.hidden_states(&batch, None), &[1, 0], None);
        let b = chunked.logits_at(chunked.hidden_states(&batch, None), &[1, 0], None);
        assert_eq!(a.dims(), [2, 1024]);
        assert!(max_abs_diff(&values(a), &values(b)) < 1e-5);
    }
}
