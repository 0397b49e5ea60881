//! The LM head, tied to the token embedding, evaluated only where a prediction is read.
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::embedding::HostEmbedding;

pub struct TiedHead {
    /// The embedding table transposed, [hidden, vocab].
    weight_t: Tensor<2>,
    device: Device,
}

impl TiedHead {
    pub fn new(embedding: &HostEmbedding, device: &Device) -> TiedHead {
        TiedHead { weight_t: embedding.to_device(device).transpose(), device: device.clone() }
    }

    /// Scores at one position per row, [B, V] — or [B, K] over `tokens` (e.g. the label words).
    pub fn logits_at(&self, hidden: Tensor<3>, positions: &[usize], tokens: Option<&[u32]>) -> Tensor<2> {
        let [b, t, h] = hidden.dims();
        let rows: Vec<i64> = positions.iter().enumerate().map(|(row, &p)| (row * t + p) as i64).collect();
        let picked = hidden.reshape([b * t, h]).select(0, self.indices(&rows));
        let weight = match tokens {
            Some(tokens) => {
                let ids: Vec<i64> = tokens.iter().map(|&id| id as i64).collect();
                self.weight_t.clone().select(1, self.indices(&ids))
            }
            None => self.weight_t.clone(),
        };
        picked.matmul(weight)
    }

    /// Scores at every position, [B, T, V]: for tests against the reference only.
    pub fn logits_full(&self, hidden: Tensor<3>) -> Tensor<3> {
        hidden.matmul(self.weight_t.clone().unsqueeze::<3>())
    }

    fn indices(&self, values: &[i64]) -> Tensor<1, Int> {
        Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), &self.device)
    }
}
