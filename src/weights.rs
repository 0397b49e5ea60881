//! Checkpoint tensors by their hub names, from `model.safetensors` bytes (f32, f16 or bf16 → f32).
//!
//! The safetensors crate reads the file in place (bytes the browser fetched, or a file read natively);
//! each model takes its tensors by name and shape, and whatever it leaves over is reported, so a
//! checkpoint of another architecture or size fails with the names that do not fit.
use std::collections::BTreeMap;

use safetensors::SafeTensors;
use safetensors::tensor::Dtype;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeightsError {
    #[error("the weights file is truncated or not safetensors ({0}): download it again")]
    Unreadable(String),
    #[error("tensor {name} has dtype {dtype}; supported: f32, f16, bf16")]
    UnsupportedDtype { name: String, dtype: String },
    #[error("the checkpoint lacks {} tensor(s): {} — these weights belong to another architecture, or the file is incomplete", .0.len(), .0.join(", "))]
    Missing(Vec<String>),
    #[error("tensor {name} has shape {got:?} but config.json implies {expected:?}: the weights and config.json belong to different models")]
    Shape { name: String, expected: Vec<usize>, got: Vec<usize> },
    #[error("the checkpoint has {} tensor(s) this model does not use: {} — these weights belong to another architecture", .0.len(), .0.join(", "))]
    Unexpected(Vec<String>),
}

/// A checkpoint's tensors as f32, taken one by one by the model that loads them.
pub struct Checkpoint {
    tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    missing: Vec<String>,
}

impl Checkpoint {
    pub fn from_safetensors(bytes: &[u8]) -> Result<Checkpoint, WeightsError> {
        let file = SafeTensors::deserialize(bytes).map_err(|e| WeightsError::Unreadable(e.to_string()))?;
        let mut tensors = BTreeMap::new();
        for (name, view) in file.tensors() {
            let data = view.data();
            let values: Vec<f32> = match view.dtype() {
                Dtype::F32 => data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
                Dtype::F16 => data.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
                Dtype::BF16 => data.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
                other => return Err(WeightsError::UnsupportedDtype { name, dtype: format!("{other:?}") }),
            };
            tensors.insert(name, (view.shape().to_vec(), values));
        }
        Ok(Checkpoint { tensors, missing: Vec::new() })
    }

    /// Takes tensor `name`, which must have `shape`. A missing one is remembered and reported by
    /// [`Self::finish`] with every other missing name, so one error lists them all.
    pub fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, WeightsError> {
        match self.tensors.remove(name) {
            Some((got, values)) if got == shape => Ok(values),
            Some((got, _)) => Err(WeightsError::Shape { name: name.into(), expected: shape.to_vec(), got }),
            None => {
                self.missing.push(name.into());
                Ok(vec![0.0; shape.iter().product()])
            }
        }
    }

    /// Ends loading: an error if anything was missing, or if tensors were left over (other than those
    /// in `ignored`, such as a tied `lm_head.weight` that old `.bin` files still carry).
    pub fn finish(self, ignored: &[&str]) -> Result<(), WeightsError> {
        if !self.missing.is_empty() {
            return Err(WeightsError::Missing(self.missing));
        }
        let unexpected: Vec<String> = self.tensors.into_keys().filter(|k| !ignored.contains(&k.as_str())).collect();
        if !unexpected.is_empty() {
            return Err(WeightsError::Unexpected(unexpected));
        }
        Ok(())
    }
}
