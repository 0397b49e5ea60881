//! A model of any size with random weights, written as a checkpoint the loader reads like a hub file: what
//! benchmarks and the browser tests use where real weights cannot be downloaded (`polyprompt random-model`).
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::config::ModelConfig;
use super::convert::{Stored, safetensors_file};
use super::loader::expected_tensors;
use super::quant::{Matrix, WeightDtype};

/// Weights are drawn uniformly with this standard deviation (transformers' `initializer_range`).
const STD: f32 = 0.02;

/// A safetensors checkpoint for `config` with its matrices drawn at random (seeded) and stored as `dtype`;
/// LayerNorms are the identity and biases zero, as a freshly initialised model's. Matrices are generated a
/// block of rows at a time, so a 250k-token table in int8 never exists in f32.
pub fn random_checkpoint(config: &ModelConfig, dtype: WeightDtype, seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    let bound = STD * 3f32.sqrt();
    let tensors = expected_tensors(config)
        .into_iter()
        .map(|(name, shape)| {
            let stored = match shape[..] {
                [rows, cols] => {
                    let mut matrix = Matrix::with_capacity(dtype, rows * cols);
                    let mut block = Vec::with_capacity(1024 * cols);
                    for first in (0..rows).step_by(1024) {
                        block.clear();
                        block.extend((0..(rows - first).min(1024) * cols).map(|_| rng.random_range(-bound..bound)));
                        matrix.push_rows(&block, cols);
                    }
                    Stored::Matrix(matrix)
                }
                _ => Stored::Vector(vec![if name.ends_with(".weight") { 1.0 } else { 0.0 }; shape.iter().product()]),
            };
            (name, shape, stored)
        })
        .collect();
    safetensors_file(tensors, dtype)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LoadOptions, WeightsFile, load};

    #[test]
    fn a_random_checkpoint_loads_in_its_dtype_and_computes() {
        let text =
            std::fs::read_to_string(format!("{}/tests/fixtures/tiny-bloom/config.json", env!("CARGO_MANIFEST_DIR")));
        let config = ModelConfig { vocab_size: 4096, layers: 1, ..ModelConfig::from_json(&text.unwrap()).unwrap() };
        for dtype in [WeightDtype::Int8, WeightDtype::F32] {
            let file = random_checkpoint(&config, dtype, 7);
            let device = burn::tensor::Device::flex();
            let model = load(&config, WeightsFile::Safetensors(&file), &device, &LoadOptions::default()).unwrap();
            assert_eq!((model.weight_dtype(), model.config().vocab_size), (dtype, 4096));
            // Seeded: the same tensors every time (the header's metadata order is a HashMap's).
            let again = random_checkpoint(&config, dtype, 7);
            let (a, b) = (
                safetensors::SafeTensors::deserialize(&file).unwrap(),
                safetensors::SafeTensors::deserialize(&again).unwrap(),
            );
            assert!(a.iter().all(|(name, view)| b.tensor(name).is_ok_and(|other| other.data() == view.data())));
        }
    }
}
