//! How fast a device multiplies matrices, measured: what the app trains on when it has a choice (WebGPU or
//! the CPU: a software WebGPU adapter is often slower than the CPU itself), and what time estimates start
//! from before the first training step.
use burn::tensor::{Device, Distribution, Tensor};
use web_time::Instant;

use super::readback::{ReadbackError, read_f32};

/// A product of the size training multiplies most: 256 token positions through a 1024-wide layer.
const SHAPE: [usize; 3] = [256, 1024, 1024];
/// Timed products, after one untimed (which compiles a GPU's kernels).
const REPS: usize = 3;

/// Billions of floating-point operations per second `device` sustains on matrix products, read back so
/// that the work is done, not only queued.
pub async fn gflops(device: &Device) -> Result<f64, ReadbackError> {
    let [m, k, n] = SHAPE;
    let a = Tensor::<2>::random([m, k], Distribution::Uniform(-1.0, 1.0), device);
    let b = Tensor::<2>::random([k, n], Distribution::Uniform(-1.0, 1.0), device);
    read_f32(a.clone().matmul(b.clone()).sum()).await?;
    let start = Instant::now();
    for _ in 0..REPS {
        read_f32(a.clone().matmul(b.clone()).sum()).await?;
    }
    let seconds = start.elapsed().as_secs_f64().max(1e-9);
    Ok((REPS * 2 * m * k * n) as f64 / seconds / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_measures_a_plausible_speed() {
        let speed = pollster::block_on(gflops(&Device::flex())).unwrap();
        // From a slow emulated core to a many-core server.
        assert!((0.1..10_000.0).contains(&speed), "{speed} GFLOP/s");
    }
}
