//! The token embedding table.
//!
//! XGLM-564M's table is 256008 × 1024 (1 GiB in f32), BLOOM-560m's 250880 × 1024: larger than the buffers a
//! browser's WebGPU adapter usually grants. A batch only needs the rows of its own tokens, so those are
//! gathered (dequantized when stored as int8 or f16) and uploaded; the soft prompt is placed among them (see
//! [`PromptPlacement`]).
//!
//! The tied LM head keeps the same table on the device in chunks (`model::head`). Where the device's memory
//! is the host's (the CPU backend) and the table is f32, the rows are gathered from those chunks instead of
//! from a host copy: one copy of the table, not two (1 GiB less for a 560M model).
use burn::tensor::{Device, Tensor, TensorData};

use super::head::TiedHead;
use super::{InputBatch, PromptPlacement};
use crate::model::quant::{Matrix, WeightDtype};

/// `[vocab, hidden]` rows, as the checkpoint's `embed_tokens` / `word_embeddings`.
#[derive(Clone, Debug)]
pub struct TokenEmbedding {
    rows: TableRows,
    vocab: usize,
    hidden: usize,
}

/// Where the embedding reads its rows from.
#[derive(Clone, Debug)]
enum TableRows {
    /// Row-major on the host, in the storage dtype.
    Host(Matrix),
    /// The tied head's device chunks (f32 on the CPU backend).
    Head(TiedHead),
}

/// Whether the table is kept once, in the tied head's chunks on `device`, rather than also on the host:
/// where the device is the CPU (its memory is the host's) and rows need no dequantizing (f32).
pub fn shares_head(dtype: WeightDtype, device: &Device) -> bool {
    dtype == WeightDtype::F32 && device.clone().without_autodiff() == Device::flex()
}

impl TokenEmbedding {
    /// A table kept on the host.
    pub fn on_host(table: Matrix, vocab: usize, hidden: usize) -> Self {
        assert_eq!(table.len(), vocab * hidden, "embedding table is not {vocab} × {hidden}");
        Self { rows: TableRows::Host(table), vocab, hidden }
    }

    /// A table read from the tied head's chunks (see [`shares_head`]).
    pub fn on_head(head: TiedHead, vocab: usize, hidden: usize) -> Self {
        Self { rows: TableRows::Head(head), vocab, hidden }
    }

    pub fn vocab(&self) -> usize {
        self.vocab
    }

    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// How the table is stored.
    pub fn dtype(&self) -> WeightDtype {
        match &self.rows {
            TableRows::Host(table) => table.dtype(),
            TableRows::Head(head) => head.dtype(),
        }
    }

    /// Bytes of the table held on the host beside the head's device copy (0 when shared).
    pub fn host_bytes(&self) -> usize {
        match &self.rows {
            TableRows::Host(table) => table.bytes(),
            TableRows::Head(_) => 0,
        }
    }

    /// Rows for `ids`, `[ids.len(), hidden]` in f32 on `device` (unscaled, as stored in the checkpoint).
    pub fn rows(&self, ids: &[u32], device: &Device) -> Tensor<2> {
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= self.vocab) {
            panic!("token id {id} is outside the vocabulary of {} tokens", self.vocab);
        }
        match &self.rows {
            TableRows::Host(table) => {
                let mut data = Vec::with_capacity(ids.len() * self.hidden);
                for &id in ids {
                    let id = id as usize;
                    table.extend_f32(id * self.hidden..(id + 1) * self.hidden, &mut data);
                }
                Tensor::from_data(TensorData::new(data, [ids.len(), self.hidden]), device)
            }
            TableRows::Head(head) => head.rows(ids),
        }
    }

    /// The batch's token embeddings `[B, T, hidden]` with, for [`PromptPlacement::Slots`], the prompt rows in
    /// place of the slot rows. A prefix is not added here: each family prepends it at its own point.
    ///
    /// Slot rows are zeroed by a mask and the prompt is added through a one-hot placement matrix, so the
    /// result is differentiable with respect to `prompt` (which may live on an autodiff device) and nothing
    /// is read back.
    pub fn lookup(&self, batch: &InputBatch, prompt: Option<Tensor<2>>, device: &Device) -> Tensor<3> {
        let (b, t, h) = (batch.batch, batch.seq, self.hidden);
        assert_eq!(batch.ids.len(), b * t, "InputBatch ids are not batch × seq");
        let tokens = self.rows(&batch.ids, device);
        let PromptPlacement::Slots { starts, len } = &batch.placement else {
            assert!(prompt.is_none(), "a prompt was given for a batch without prompt slots");
            return tokens.reshape([b, t, h]);
        };
        let prompt = prompt.expect("PromptPlacement::Slots needs a prompt");
        assert_eq!(prompt.dims(), [*len, h], "prompt must be [slots, hidden]");
        assert_eq!(starts.len(), b, "one slot start per row");
        let mut keep = vec![1f32; b * t];
        let mut placement = vec![0f32; b * t * len];
        for (row, &start) in starts.iter().enumerate() {
            assert!(start + len <= t, "prompt slots {start}..{} exceed the sequence length {t}", start + len);
            for k in 0..*len {
                let position = row * t + start + k;
                keep[position] = 0.0;
                placement[position * len + k] = 1.0;
            }
        }
        let keep: Tensor<2> = Tensor::from_data(TensorData::new(keep, [b * t, 1]), device);
        let placement: Tensor<2> = Tensor::from_data(TensorData::new(placement, [b * t, *len]), device);
        (tokens * keep + placement.matmul(prompt)).reshape([b, t, h])
    }
}

/// The prompt repeated for every row, `[B, L, H]`, to be prepended (PEFT's format).
pub fn prefix_rows(prompt: Tensor<2>, batch: usize) -> Tensor<3> {
    prompt.unsqueeze_dim::<3>(0).repeat_dim(0, batch)
}
