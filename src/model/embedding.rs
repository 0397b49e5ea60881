//! The token embedding table, kept on the host.
//!
//! XGLM-564M's table is 256008 × 1024 (1 GiB in f32), BLOOM-560m's 250880 × 1024: larger than the buffers a
//! browser's WebGPU adapter usually grants. A batch only needs the rows of its own tokens, so those are
//! gathered here (dequantized when stored as int8 or f16) and uploaded; the soft prompt is placed among
//! them (see [`PromptPlacement`]).
use burn::tensor::{Device, Tensor, TensorData};

use super::{InputBatch, PromptPlacement};
use crate::model::quant::Matrix;

/// `[vocab, hidden]` rows, row-major, as the checkpoint's `embed_tokens` / `word_embeddings`.
#[derive(Clone, Debug)]
pub struct HostEmbedding {
    table: Matrix,
    vocab: usize,
    hidden: usize,
}

impl HostEmbedding {
    pub fn new(table: Matrix, vocab: usize, hidden: usize) -> Self {
        assert_eq!(table.len(), vocab * hidden, "embedding table is not {vocab} × {hidden}");
        Self { table, vocab, hidden }
    }

    pub fn vocab(&self) -> usize {
        self.vocab
    }

    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// The whole table, for the tied LM head.
    pub fn table(&self) -> &Matrix {
        &self.table
    }

    /// Appends row `id` in f32.
    fn push_row(&self, id: u32, out: &mut Vec<f32>) {
        let id = id as usize;
        assert!(id < self.vocab, "token id {id} is outside the vocabulary of {} tokens", self.vocab);
        self.table.extend_f32(id * self.hidden..(id + 1) * self.hidden, out);
    }

    /// Rows for `ids`, uploaded as `[ids.len(), hidden]` (unscaled, as stored in the checkpoint).
    pub fn rows(&self, ids: &[u32], device: &Device) -> Tensor<2> {
        let mut data = Vec::with_capacity(ids.len() * self.hidden);
        for &id in ids {
            self.push_row(id, &mut data);
        }
        Tensor::from_data(TensorData::new(data, [ids.len(), self.hidden]), device)
    }

    /// The batch's token embeddings `[B, T, hidden]` with, for [`PromptPlacement::Slots`], the prompt rows in
    /// place of the slot rows. A prefix is not added here: each family prepends it at its own point.
    ///
    /// Slot rows are zeroed on the host and the prompt is added through a one-hot placement matrix, so the
    /// result is differentiable with respect to `prompt` (which may live on an autodiff device) and nothing
    /// is read back.
    pub fn lookup(&self, batch: &InputBatch, prompt: Option<Tensor<2>>, device: &Device) -> Tensor<3> {
        let (b, t, h) = (batch.batch, batch.seq, self.hidden);
        assert_eq!(batch.ids.len(), b * t, "InputBatch ids are not batch × seq");
        let mut data = Vec::with_capacity(b * t * h);
        for &id in &batch.ids {
            self.push_row(id, &mut data);
        }
        let PromptPlacement::Slots { starts, len } = &batch.placement else {
            assert!(prompt.is_none(), "a prompt was given for a batch without prompt slots");
            return Tensor::from_data(TensorData::new(data, [b, t, h]), device);
        };
        let prompt = prompt.expect("PromptPlacement::Slots needs a prompt");
        assert_eq!(prompt.dims(), [*len, h], "prompt must be [slots, hidden]");
        assert_eq!(starts.len(), b, "one slot start per row");
        let mut placement = vec![0f32; b * t * len];
        for (row, &start) in starts.iter().enumerate() {
            assert!(start + len <= t, "prompt slots {start}..{} exceed the sequence length {t}", start + len);
            for k in 0..*len {
                let position = row * t + start + k;
                data[position * h..(position + 1) * h].fill(0.0);
                placement[position * len + k] = 1.0;
            }
        }
        let tokens: Tensor<2> = Tensor::from_data(TensorData::new(data, [b * t, h]), device);
        let placement: Tensor<2> = Tensor::from_data(TensorData::new(placement, [b * t, *len]), device);
        (tokens + placement.matmul(prompt)).reshape([b, t, h])
    }
}

/// The prompt repeated for every row, `[B, L, H]`, to be prepended (PEFT's format).
pub fn prefix_rows(prompt: Tensor<2>, batch: usize) -> Tensor<3> {
    prompt.unsqueeze_dim::<3>(0).repeat_dim(0, batch)
}
