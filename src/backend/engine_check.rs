//! A tiny end-to-end check that a device trains: forward, backward, an optimizer step and an asynchronous
//! readback, before a model is loaded on it.
use burn::module::{Module, Param};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};

use super::readback::read_f32;

/// The outcome of [`engine_check`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EngineCheck {
    pub loss_before: f32,
    pub loss_after: f32,
}

impl EngineCheck {
    pub fn passed(&self) -> bool {
        self.loss_after.is_finite() && self.loss_after < self.loss_before
    }
}

#[derive(Module, Debug)]
struct Probe {
    weight: Param<Tensor<2>>,
}

/// Fits a 4-weight linear map for a few AdamW steps with autodiff, reading the loss back
/// asynchronously: forward, backward, optimizer step and readback all work on `device`.
pub async fn engine_check(device: &Device) -> Result<EngineCheck, String> {
    let device = device.clone().autodiff();
    let inputs = Tensor::<2>::from_data(
        TensorData::new((0..32).map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0).collect::<Vec<_>>(), [8, 4]),
        &device,
    );
    let truth = Tensor::<2>::from_data(TensorData::new(vec![0.5f32, -1.0, 2.0, 0.25], [4, 1]), &device);
    let targets = inputs.clone().matmul(truth).detach();
    let mut probe = Probe { weight: Param::from_tensor(Tensor::zeros([4, 1], &device)) };
    let mut optimizer = AdamWConfig::new().with_weight_decay(0.0).init();
    let loss_of = |probe: &Probe| (inputs.clone().matmul(probe.weight.val()) - targets.clone()).square().mean();

    let mut first = None;
    for _ in 0..5 {
        let loss = loss_of(&probe);
        if first.is_none() {
            first = Some(read_scalar(loss.clone()).await?);
        }
        let grads = GradientsParams::from_grads(loss.backward(), &probe);
        probe = optimizer.step(0.1, probe, grads);
    }
    let loss_after = read_scalar(loss_of(&probe)).await?;
    Ok(EngineCheck { loss_before: first.unwrap_or(f32::NAN), loss_after })
}

/// Through the shared readback, so that a lost device gets its message here too.
async fn read_scalar(tensor: Tensor<1>) -> Result<f32, String> {
    read_f32(tensor).await.map(|v| v[0]).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Preference, init};

    #[test]
    fn engine_check_learns_on_the_cpu() {
        let (device, info, _) = pollster::block_on(init(Preference::Cpu));
        assert!(!info.is_gpu());
        let check = pollster::block_on(engine_check(&device)).unwrap();
        assert!(check.passed(), "{check:?}");
        assert!(check.loss_after < 0.8 * check.loss_before, "{check:?}");
    }

    #[test]
    fn engine_check_learns_on_wgpu_where_an_adapter_exists() {
        let (device, info, _) = pollster::block_on(init(Preference::Gpu));
        if !info.is_gpu() {
            eprintln!("skipped on wgpu: {}", info.label());
            return;
        }
        let check = pollster::block_on(engine_check(&device)).unwrap();
        assert!(check.passed(), "{} {check:?}", info.label());
        eprintln!("ran on {}", info.label());
    }
}
