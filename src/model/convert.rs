//! `polyprompt convert`: a checkpoint rewritten with its weight matrices stored as f16 or int8.
use safetensors::Dtype;

use super::checkpoint::{Checkpoint, SCALES, WeightsError, WeightsFile};
use super::config::ModelConfig;
use super::loader::expected_tensors;
use super::quant::{BLOCK, Matrix, WeightDtype};

/// The checkpoint `file` rewritten as a self-describing safetensors file whose weight matrices are stored
/// as `dtype` (vectors stay f32), named as `config`'s family expects. [`load`](super::load) reads it back to exactly the
/// tensors that loading `file` with `LoadOptions::dtype` = `dtype` gives.
pub fn convert(config: &ModelConfig, file: WeightsFile, dtype: WeightDtype) -> Result<Vec<u8>, WeightsError> {
    let mut ckpt = Checkpoint::open(file)?;
    ckpt.check(config, &expected_tensors(config))?;
    if dtype == WeightDtype::Int8 {
        ckpt.check_quantizable()?;
    }
    // An int8 matrix's scales are taken with it.
    let names: Vec<(String, Vec<usize>)> = ckpt
        .entries
        .iter()
        .filter(|(name, _)| !name.ends_with(SCALES))
        .map(|(n, e)| (n.clone(), e.shape.clone()))
        .collect();
    let mut tensors = Vec::new();
    for (name, shape) in names {
        let stored = match shape[..] {
            [_, cols] => Stored::Matrix(ckpt.matrix(&name, cols, dtype)?),
            _ => Stored::Vector(ckpt.take(&name)?),
        };
        tensors.push((name, shape, stored));
    }
    Ok(safetensors_file(tensors, dtype))
}

/// A tensor of a file being written: a matrix in its storage dtype, or a vector in f32.
pub(super) enum Stored {
    Matrix(Matrix),
    Vector(Vec<f32>),
}

/// A self-describing safetensors file of `tensors` (an int8 matrix followed by its block scales
/// `<name>.scales`), its header marking the weights' `dtype`: what [`load`](super::load) reads back as is.
pub(super) fn safetensors_file(tensors: Vec<(String, Vec<usize>, Stored)>, dtype: WeightDtype) -> Vec<u8> {
    let le = |values: &[f32]| values.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let mut raw: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, shape, stored) in tensors {
        match stored {
            Stored::Vector(v) | Stored::Matrix(Matrix::F32(v)) => raw.push((name, Dtype::F32, shape, le(&v))),
            Stored::Matrix(Matrix::F16(v)) => {
                raw.push((name, Dtype::F16, shape, v.iter().flat_map(|x| x.to_le_bytes()).collect()))
            }
            Stored::Matrix(Matrix::Int8 { values, scales }) => {
                raw.push((format!("{name}{SCALES}"), Dtype::F32, vec![shape[0], shape[1] / BLOCK], le(&scales)));
                raw.push((name, Dtype::I8, shape, values.iter().map(|&q| q as u8).collect()));
            }
        }
    }
    let views: Vec<(String, safetensors::tensor::TensorView)> = raw
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            (name.clone(), safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes).expect("sizes match"))
        })
        .collect();
    let metadata = std::collections::HashMap::from([
        ("format".to_string(), "pt".to_string()),
        ("polyprompt_dtype".to_string(), dtype.name().to_string()),
    ]);
    safetensors::serialize(views, Some(metadata)).expect("in-memory serialization")
}
