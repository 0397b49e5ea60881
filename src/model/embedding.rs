//! The token embedding table, kept in host memory: 250k rows are ~1 GB in f32, more than a WebGPU
//! binding holds, and a batch needs only a few hundred of them.
use burn::tensor::{Device, Tensor, TensorData};

use super::{InputBatch, PromptPlacement};

pub struct HostEmbedding {
    rows: Vec<f32>,
    pub vocab: usize,
    pub dim: usize,
}

impl HostEmbedding {
    pub fn new(rows: Vec<f32>, vocab: usize, dim: usize) -> HostEmbedding {
        assert_eq!(rows.len(), vocab * dim, "embedding table size");
        HostEmbedding { rows, vocab, dim }
    }

    /// The whole table on `device`, as [vocab, dim] (for the tied head).
    pub fn to_device(&self, device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(self.rows.clone(), [self.vocab, self.dim]), device)
    }

    /// Raw rows for `ids`, [n, dim] (ids past the vocabulary are the caller's bug: the tokenizer is
    /// checked against the model on load).
    pub fn rows(&self, ids: &[u32], device: &Device) -> Tensor<2> {
        let mut data = Vec::with_capacity(ids.len() * self.dim);
        for &id in ids {
            let start = id as usize * self.dim;
            data.extend_from_slice(&self.rows[start..start + self.dim]);
        }
        Tensor::from_data(TensorData::new(data, [ids.len(), self.dim]), device)
    }

    /// The batch's input embeddings [B, T, dim] with the prompt in its place: written into the slots
    /// (zeroed on the host, then filled by a one-hot matmul that carries the prompt's gradient), or, for
    /// a prefix, nothing here — the model prepends it after its own embedding transform.
    pub fn embed(&self, batch: &InputBatch, prompt: Option<Tensor<2>>, device: &Device) -> Tensor<3> {
        let (b, t, h) = (batch.batch, batch.seq, self.dim);
        let tokens = self.rows(&batch.ids, device).reshape([b, t, h]);
        match (&batch.placement, prompt) {
            (PromptPlacement::Slots { starts, len }, Some(prompt)) => {
                let mut keep = vec![1f32; b * t];
                let mut one_hot = vec![0f32; b * t * len];
                for (row, &start) in starts.iter().enumerate() {
                    for k in 0..*len {
                        keep[row * t + start + k] = 0.0;
                        one_hot[(row * t + start + k) * len + k] = 1.0;
                    }
                }
                let keep = Tensor::<3>::from_data(TensorData::new(keep, [b, t, 1]), device);
                let one_hot = Tensor::<2>::from_data(TensorData::new(one_hot, [b * t, *len]), device);
                tokens * keep + one_hot.matmul(prompt).reshape([b, t, h])
            }
            _ => tokens,
        }
    }
}
