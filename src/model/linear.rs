//! A frozen linear layer whose weight is stored as f32, f16 or int8 (see `quant`).
//!
//! Not burn's `nn::Linear`: that multiplies by its weight as stored, which only works for f32 here (a
//! matmul needs both sides in one float dtype), and it keeps the weight transposed to `[in, out]`, while
//! the int8 blocks run along the input dimension of the checkpoint's `[out, in]`.
use burn::module::{Module, Param};
use burn::tensor::Tensor;

use crate::model::quant;

#[derive(Module, Debug)]
pub struct FrozenLinear {
    /// `[out, in]` as in the checkpoint, in its storage dtype.
    pub weight: Param<Tensor<2>>,
    pub bias: Param<Tensor<1>>,
}

impl FrozenLinear {
    pub fn new(weight: Tensor<2>, bias: Tensor<1>) -> FrozenLinear {
        FrozenLinear { weight: Param::from_tensor(weight), bias: Param::from_tensor(bias) }
    }

    /// `x · Wᵀ + b` for `x` `[B, T, in]`. The weight is widened to f32 for this product only.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let weight = quant::to_f32(&self.weight.val()).transpose().unsqueeze::<3>();
        x.matmul(weight) + self.bias.val().unsqueeze::<3>()
    }
}
