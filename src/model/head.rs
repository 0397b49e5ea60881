//! The LM head, tied to the token embedding (`lm_head.weight` is `embed_tokens.weight` / `word_embeddings.weight`).
//!
//! It is only ever evaluated at the positions asked for (one prediction per example), never at every
//! position. Its device copy is split into row chunks of at most `max_chunk_bytes` in f32: a WebGPU
//! storage binding is often limited to 128 MiB, and a 256k × 1024 f32 table is 1 GiB. Chunks stay in the
//! table's storage dtype on the device; each is widened to f32 (a buffer of at most `max_chunk_bytes`)
//! only for its product.
use burn::tensor::activation::log_softmax;
use burn::tensor::{DType, Device, IndexingUpdateOp, Int, Tensor, TensorData};

use crate::model::quant::{self, Matrix, WeightDtype};

/// The default chunk size: WebGPU's default `maxStorageBufferBindingSize`.
pub const DEFAULT_MAX_CHUNK_BYTES: usize = 128 << 20;

#[derive(Clone, Debug)]
pub struct TiedHead {
    /// `[rows, hidden]` slices of the embedding table, in vocabulary order, all of `rows_per_chunk` rows
    /// but the last.
    chunks: Vec<Tensor<2>>,
    rows_per_chunk: usize,
}

/// Rows of `hidden` values in a chunk of at most `max_chunk_bytes` in f32.
pub fn rows_per_chunk(hidden: usize, max_chunk_bytes: usize) -> usize {
    (max_chunk_bytes / (hidden * size_of::<f32>())).max(1)
}

/// Device chunks of `rows_per_chunk` rows of `table` (rows of `hidden` values), in its storage dtype.
pub fn chunks_of(table: &Matrix, hidden: usize, rows_per_chunk: usize, device: &Device) -> Vec<Tensor<2>> {
    let rows = table.len() / hidden;
    (0..rows)
        .step_by(rows_per_chunk)
        .map(|start| table.tensor(start..(start + rows_per_chunk).min(rows), hidden, device))
        .collect()
}

impl TiedHead {
    /// A head of `chunks` made by [`chunks_of`]: all of `rows_per_chunk` rows but the last.
    pub fn from_chunks(chunks: Vec<Tensor<2>>, rows_per_chunk: usize) -> Self {
        assert!(!chunks.is_empty(), "a head has chunks");
        let short = chunks.iter().rev().skip(1).find(|chunk| chunk.dims()[0] != rows_per_chunk);
        assert!(short.is_none(), "only the last chunk of a head may be short");
        Self { chunks, rows_per_chunk }
    }

    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// How the table is stored on the device.
    pub fn dtype(&self) -> WeightDtype {
        match self.chunks[0].dtype() {
            DType::F32 => WeightDtype::F32,
            DType::F16 => WeightDtype::F16,
            _ => WeightDtype::Int8,
        }
    }

    /// Rows `ids` of the table in f32, `[ids.len(), hidden]`, gathered on the device: each chunk's rows
    /// are selected, then put back in the order asked for.
    pub fn rows(&self, ids: &[u32]) -> Tensor<2> {
        assert!(!ids.is_empty(), "rows of no token were asked for");
        let device = self.chunks[0].device();
        let mut parts = Vec::new();
        // `gathered_at[k]`: where the k-th gathered row goes.
        let mut gathered_at = Vec::with_capacity(ids.len());
        for (index, chunk) in self.chunks.iter().enumerate() {
            let first = index * self.rows_per_chunk;
            let local: Vec<i64> = ids
                .iter()
                .enumerate()
                .filter(|&(_, &id)| id as usize / self.rows_per_chunk == index)
                .map(|(position, &id)| {
                    gathered_at.push(position);
                    (id as usize - first) as i64
                })
                .collect();
            if !local.is_empty() {
                parts.push(quant::to_f32(chunk).select(0, index_tensor(local, &device)));
            }
        }
        let mut order = vec![0i64; ids.len()];
        for (k, &position) in gathered_at.iter().enumerate() {
            order[position] = k as i64;
        }
        Tensor::cat(parts, 0).select(0, index_tensor(order, &device))
    }

    /// Scores over the whole vocabulary for each row of `hidden` `[N, H]`: `[N, V]`, one matmul per chunk.
    pub fn full(&self, hidden: Tensor<2>) -> Tensor<2> {
        let parts = self.chunks.iter().map(|chunk| hidden.clone().matmul(quant::to_f32(chunk).transpose())).collect();
        Tensor::cat(parts, 1)
    }
}

impl TiedHead {
    /// Mean cross-entropy of the scores of `rows` `[N, H]` against `targets`, and its gradient with respect
    /// to `rows`: `(softmax(z) − onehot(target)) · W / N`. Computed directly rather than by autodiff,
    /// whose graph would keep an f32 copy of the whole table (every chunk's product operand) until the
    /// backward pass; here each chunk is widened only while it is used.
    pub fn cross_entropy(&self, rows: Tensor<2>, targets: &[u32]) -> (Tensor<1>, Tensor<2>) {
        let [n, _] = rows.dims();
        assert_eq!(targets.len(), n, "one target per row");
        let device = rows.device();
        let logits = self.full(rows.without_autodiff());
        let vocab = logits.dims()[1];
        let target_index = Tensor::<2, Int>::from_data(
            TensorData::new(targets.iter().map(|&t| t as i64).collect::<Vec<_>>(), [n, 1]),
            &device,
        );
        let log_probs = log_softmax(logits, 1);
        let loss = log_probs.clone().gather(1, target_index.clone()).neg().mean();
        let onehot = Tensor::<2>::zeros([n, vocab], &device).scatter(
            1,
            target_index,
            Tensor::ones([n, 1], &device),
            IndexingUpdateOp::Add,
        );
        let scores_grad = (log_probs.exp() - onehot) / n as f64;
        let mut start = 0;
        let rows_grad = self
            .chunks
            .iter()
            .map(|chunk| {
                let rows = chunk.dims()[0];
                let part = scores_grad.clone().narrow(1, start, rows).matmul(quant::to_f32(chunk));
                start += rows;
                part
            })
            .reduce(|a, b| a + b)
            .expect("a head has chunks");
        (loss, rows_grad)
    }
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
    let index = index_tensor(flat, &hidden.device());
    hidden.reshape([b * t, h]).select(0, index)
}

/// `index` as an index tensor on `device`.
fn index_tensor(index: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let len = index.len();
    Tensor::from_data(TensorData::new(index, [len]), device)
}
