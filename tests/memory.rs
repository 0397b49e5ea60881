//! What the frozen weights cost in memory on the CPU backend, counted by the allocator. One test in this
//! binary: the counter is process-wide, so nothing else may allocate while it measures.
use std::alloc::System;

use burn::tensor::Device;
use polyprompt::model::WeightDtype;
use polyprompt::model::quant::Matrix;
use polyprompt::tuning::bench::CountingAlloc;

#[global_allocator]
static ALLOC: CountingAlloc<System> = CountingAlloc::new(System);

#[test]
fn stored_weights_cost_their_dtype_s_bytes_on_the_cpu_device() {
    let (rows, cols) = (1024, 4096);
    let values: Vec<f32> = (0..rows * cols).map(|i| ((i * 7919) % 255) as f32 / 127.0 - 1.0).collect();
    let device = Device::flex();
    // int8: one byte a value, plus one f32 scale per 32 values kept twice (in the buffer burn receives,
    // and decoded beside it) = 1.25 bytes a weight.
    for (dtype, bytes_per_weight) in [(WeightDtype::F32, 4.0), (WeightDtype::F16, 2.0), (WeightDtype::Int8, 1.25)] {
        let matrix = Matrix::quantize(values.clone(), cols, dtype);
        let before = ALLOC.live();
        let tensor = matrix.tensor(0..rows, cols, &device);
        let held = ALLOC.live() - before;
        let expected = bytes_per_weight * (rows * cols) as f64;
        assert!(
            (held as f64) < 1.02 * expected,
            "a {rows}×{cols} {dtype:?} weight holds {held} bytes on the device, expected {expected}"
        );
        drop(tensor);
    }
}
