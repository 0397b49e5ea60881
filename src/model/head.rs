//! The LM head, tied to the token embedding (`lm_head.weight` is `embed_tokens.weight` / `word_embeddings.weight`).
//!
//! It is only ever evaluated at the positions asked for (one prediction per example), never at every
//! position. Its device copy is split into row chunks of at most `max_chunk_bytes`: a WebGPU storage
//! binding is often limited to 128 MiB, and a 256k × 1024 f32 table is 1 GiB.
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::embedding::HostEmbedding;

/// The default chunk size: WebGPU's default `maxStorageBufferBindingSize`.
pub const DEFAULT_MAX_CHUNK_BYTES: usize = 128 << 20;

#[derive(Clone, Debug)]
pub struct TiedHead {
    /// `[rows, hidden]` slices of the embedding table, in vocabulary order.
    chunks: Vec<Tensor<2>>,
}

impl TiedHead {
    pub fn new(embedding: &HostEmbedding, max_chunk_bytes: usize, device: &Device) -> Self {
        let hidden = embedding.hidden();
        let row_bytes = hidden * size_of::<f32>();
        let rows_per_chunk = (max_chunk_bytes / row_bytes).max(1);
        let chunks = embedding
            .table()
            .chunks(rows_per_chunk * hidden)
            .map(|rows| Tensor::from_data(TensorData::new(rows.to_vec(), [rows.len() / hidden, hidden]), device))
            .collect();
        Self { chunks }
    }

    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// Scores over the whole vocabulary for each row of `hidden` `[N, H]`: `[N, V]`, one matmul per chunk.
    pub fn full(&self, hidden: Tensor<2>) -> Tensor<2> {
        let parts = self.chunks.iter().map(|chunk| hidden.clone().matmul(chunk.clone().transpose())).collect();
        Tensor::cat(parts, 1)
    }
}

/// Scores for the given token ids only: `[N, K]`, from just those K rows of the table.
pub fn restricted(hidden: Tensor<2>, embedding: &HostEmbedding, tokens: &[u32], device: &Device) -> Tensor<2> {
    hidden.matmul(embedding.rows(tokens, device).transpose())
}

/// The hidden state at `positions[b]` of each row of `hidden` `[B, T, H]`: `[B, H]`.
pub fn at_positions(hidden: Tensor<3>, positions: &[usize]) -> Tensor<2> {
    let [b, t, h] = hidden.dims();
    assert_eq!(positions.len(), b, "one position per row");
    let flat: Vec<i64> = positions
        .iter()
        .enumerate()
        .map(|(row, &p)| {
            assert!(p < t, "position {p} is outside the sequence of length {t}");
            (row * t + p) as i64
        })
        .collect();
    let index: Tensor<1, Int> = Tensor::from_data(TensorData::new(flat, [b]), &hidden.device());
    hidden.reshape([b * t, h]).select(0, index)
}
