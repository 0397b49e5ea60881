//! The building blocks both architectures share: frozen linear layers and LayerNorm.
use burn::tensor::{Device, Tensor, TensorData};

use crate::weights::{Checkpoint, WeightsError};

/// A frozen `nn.Linear`: weight stored transposed ([in, out]) so the forward pass is one matmul.
#[derive(Clone, Debug)]
pub struct Linear {
    weight_t: Tensor<2>,
    bias: Tensor<1>,
}

impl Linear {
    /// Loads `<name>.weight` ([out, in], PyTorch's layout) and `<name>.bias`.
    pub fn load(ckpt: &mut Checkpoint, name: &str, inputs: usize, outputs: usize, device: &Device) -> Result<Linear, WeightsError> {
        let weight = ckpt.take(&format!("{name}.weight"), &[outputs, inputs])?;
        let bias = ckpt.take(&format!("{name}.bias"), &[outputs])?;
        let weight = Tensor::<2>::from_data(TensorData::new(weight, [outputs, inputs]), device);
        Ok(Linear { weight_t: weight.transpose(), bias: Tensor::from_data(TensorData::new(bias, [outputs]), device) })
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, t, _] = x.dims();
        let out = self.weight_t.dims()[1];
        x.matmul(self.weight_t.clone().unsqueeze::<3>()) + self.bias.clone().reshape([1, 1, out]).expand([b, t, out])
    }
}

/// A frozen `nn.LayerNorm` over the last dimension.
#[derive(Clone, Debug)]
pub struct LayerNorm {
    weight: Tensor<1>,
    bias: Tensor<1>,
    eps: f64,
}

impl LayerNorm {
    pub fn load(ckpt: &mut Checkpoint, name: &str, dim: usize, eps: f64, device: &Device) -> Result<LayerNorm, WeightsError> {
        let weight = ckpt.take(&format!("{name}.weight"), &[dim])?;
        let bias = ckpt.take(&format!("{name}.bias"), &[dim])?;
        Ok(LayerNorm {
            weight: Tensor::from_data(TensorData::new(weight, [dim]), device),
            bias: Tensor::from_data(TensorData::new(bias, [dim]), device),
            eps,
        })
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let dim = self.weight.dims()[0];
        let (var, mean) = x.clone().var_mean_bias(2);
        let normalized = (x - mean) / (var + self.eps).sqrt();
        normalized * self.weight.clone().reshape([1, 1, dim]) + self.bias.clone().reshape([1, 1, dim])
    }
}
