//! Either family behind one type: what training and evaluation call (embed, layers, final norm, the tied
//! head at chosen positions).
use burn::tensor::{Device, Tensor};

use super::attention::LayerContext;
use super::bloom::Bloom;
use super::config::ModelConfig;
use super::embedding::TokenEmbedding;
use super::head::{self, TiedHead};
use super::input::InputBatch;
#[cfg(test)]
use super::input::PromptPlacement;
use super::quant::WeightDtype;
use super::xglm::Xglm;

/// A frozen causal LM of either family. Its weights live on a device without autodiff, so ops mixing them
/// with the prompt treat them as constants: a backward pass computes gradients for the prompt only.
#[derive(Debug)]
pub enum CausalLm {
    Xglm(Xglm),
    Bloom(Bloom),
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

    fn embedding(&self) -> &TokenEmbedding {
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
        self.embedding().dtype()
    }

    /// Bytes of the token table kept on the host beside the device's copy (0 where they are one, see
    /// `model::embedding`).
    pub fn host_table_bytes(&self) -> usize {
        self.embedding().host_bytes()
    }

    /// The tied LM head at `positions[b]` of each row: `[B, V]`, or `[B, K]` scores for `tokens` only (the
    /// K label words), in the order given.
    pub fn logits_at(&self, hidden: Tensor<3>, positions: &[usize], tokens: Option<&[u32]>) -> Tensor<2> {
        let rows = head::at_positions(hidden, positions);
        match tokens {
            // Scores for those K rows of the table only.
            Some(tokens) => rows.matmul(self.embedding().rows(tokens, self.device()).transpose()),
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
    use burn::tensor::TensorData;

    use crate::model::{LoadOptions, load_dir};

    fn fixture(family: &str, options: &LoadOptions) -> CausalLm {
        let dir = format!("{}/tests/fixtures/tiny-{family}", env!("CARGO_MANIFEST_DIR"));
        load_dir(dir.as_ref(), &Device::flex(), options).unwrap()
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
            let batch =
                InputBatch { placement: PromptPlacement::Prefix { len: 3 }, ..plain(vec![5, 6, 2], vec![1; 3], 1) };
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
        // Token ids from several chunks, out of order and repeated: the embedding gathers them from the
        // chunks (an f32 table on the CPU is held once, by the head) and puts them back in order.
        let batch = plain(vec![905, 6, 217, 6, 1023, 100, 99, 450], vec![1; 8], 2);
        let (a, b) = (whole.hidden_states(&batch, None), chunked.hidden_states(&batch, None));
        assert!(max_abs_diff(&values(a.clone()), &values(b.clone())) < 1e-6);
        let (a, b) = (whole.logits_at(a, &[1, 0], None), chunked.logits_at(b, &[1, 0], None));
        assert_eq!(a.dims(), [2, 1024]);
        assert!(max_abs_diff(&values(a), &values(b)) < 1e-5);
    }

    #[test]
    fn an_f32_table_on_the_cpu_is_held_once_and_a_quantized_one_on_the_host() {
        let f32 = fixture("xglm", &LoadOptions { max_chunk_bytes: 100 * 64 * 4, dtype: None });
        assert_eq!((f32.weight_dtype(), f32.host_table_bytes()), (WeightDtype::F32, 0));
        let table = f32.embedding_rows(&(0..f32.config().vocab_size as u32).collect::<Vec<_>>(), f32.device());
        let int8 = fixture("xglm", &LoadOptions { max_chunk_bytes: 100 * 64 * 4, dtype: Some(WeightDtype::Int8) });
        assert_eq!(int8.weight_dtype(), WeightDtype::Int8);
        assert_eq!(int8.host_table_bytes(), table.dims()[0] * 64 * 9 / 8, "a byte and an eighth of a scale per value");
        // Both read the same rows (int8 within its rounding), in the order asked for.
        let ids = [7u32, 999, 3, 512];
        let rows = |model: &CausalLm| values(model.embedding_rows(&ids, model.device()));
        let expected: Vec<f32> = ids.iter().flat_map(|&id| values(table.clone().narrow(0, id as usize, 1))).collect();
        assert_eq!(rows(&f32), expected);
        assert!(max_abs_diff(&rows(&int8), &expected) < 0.02);
    }
}
