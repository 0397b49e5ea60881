//! Reduced-precision storage of the frozen weights: f16, and symmetric int8 in blocks of [`BLOCK`].
//!
//! The scheme (GGML's Q8_0 with an f32 scale): each run of 32 consecutive values of a row (a weight
//! matrix `[out, in]` as the checkpoint stores it, or an embedding row) shares one scale
//! `s = max|x| / 127`, and stores `q = round(x / s)` in −127..=127. Dequantizing gives `q·s`, within `s/2`
//! of `x`. Why blocks along the input dimension and not one scale per output channel: a single large
//! weight then only coarsens the 31 weights beside it, and burn's block size is a byte (≤ 255), so one
//! scale per 1024-wide row is not expressible. Scales cost 4 bytes per 32 values (1.125 bytes a weight).
//!
//! The values are quantized here, on the host, and handed to burn as a quantized tensor with the same
//! scheme (`TensorData::quantized`): the token table never leaves the host, an f32 copy of a layer never
//! has to exist on the device, and a pre-quantized file and quantizing at load give bit-identical
//! tensors. burn stores, uploads and dequantizes them (on WebGPU as packed u32, on the CPU as i8).
use burn::tensor::quantization::{QuantScheme, QuantValue, ScaleDtype};
use burn::tensor::{DType, Device, FloatDType, Tensor, TensorData};
use half::f16;

/// Values sharing one int8 scale.
pub const BLOCK: usize = 32;

/// How the frozen weights are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub enum WeightDtype {
    F32,
    F16,
    /// Symmetric int8 with one f32 scale per 32 values of a row (see `quant`).
    Int8,
}

impl WeightDtype {
    pub const ALL: [WeightDtype; 3] = [WeightDtype::F32, WeightDtype::F16, WeightDtype::Int8];

    pub fn name(self) -> &'static str {
        match self {
            WeightDtype::F32 => "f32",
            WeightDtype::F16 => "f16",
            WeightDtype::Int8 => "int8",
        }
    }

    pub fn parse(name: &str) -> Option<WeightDtype> {
        WeightDtype::ALL.into_iter().find(|d| d.name() == name)
    }

    pub(super) fn bytes_for(self, params: u64) -> u64 {
        match self {
            WeightDtype::F32 => 4 * params,
            WeightDtype::F16 => 2 * params,
            WeightDtype::Int8 => params + 4 * params.div_ceil(BLOCK as u64),
        }
    }
}

/// burn's description of the int8 layout below.
pub fn int8_scheme() -> QuantScheme {
    QuantScheme::default().with_value(QuantValue::Q8S).per_block([BLOCK as u8], ScaleDtype::F32)
}

/// A row-major matrix in one of the storage dtypes.
#[derive(Clone, Debug, PartialEq)]
pub enum Matrix {
    F32(Vec<f32>),
    F16(Vec<f16>),
    /// `values[i]·scales[i / BLOCK]`; rows are a whole number of blocks.
    Int8 {
        values: Vec<i8>,
        scales: Vec<f32>,
    },
}

impl Matrix {
    /// Stores `values` (rows of `cols`) as `dtype`.
    pub fn quantize(values: Vec<f32>, cols: usize, dtype: WeightDtype) -> Matrix {
        if dtype == WeightDtype::F32 {
            return Matrix::F32(values);
        }
        let mut matrix = Matrix::with_capacity(dtype, values.len());
        matrix.push_rows(&values, cols);
        matrix
    }

    /// An empty matrix of `dtype` with room for `values` values, to fill with [`Self::push_rows`].
    pub fn with_capacity(dtype: WeightDtype, values: usize) -> Matrix {
        match dtype {
            WeightDtype::F32 => Matrix::F32(Vec::with_capacity(values)),
            WeightDtype::F16 => Matrix::F16(Vec::with_capacity(values)),
            WeightDtype::Int8 => {
                Matrix::Int8 { values: Vec::with_capacity(values), scales: Vec::with_capacity(values / BLOCK) }
            }
        }
    }

    /// Appends whole rows of `cols` values, stored in this matrix's dtype; a large matrix can so be
    /// converted a block of rows at a time.
    pub fn push_rows(&mut self, rows: &[f32], cols: usize) {
        match self {
            Matrix::F32(v) => v.extend_from_slice(rows),
            Matrix::F16(v) => v.extend(rows.iter().map(|&x| f16::from_f32(x))),
            Matrix::Int8 { values, scales } => {
                assert!(cols.is_multiple_of(BLOCK), "int8 rows must be a whole number of {BLOCK}-value blocks");
                for block in rows.chunks(BLOCK) {
                    let peak = block.iter().fold(0f32, |m, x| m.max(x.abs()));
                    // burn replaces a zero scale by the smallest normal one; an all-zero block stays zero.
                    let scale = if peak > 0.0 { peak / 127.0 } else { f32::MIN_POSITIVE };
                    scales.push(scale);
                    values.extend(block.iter().map(|&x| (x / scale).round().clamp(-127.0, 127.0) as i8));
                }
            }
        }
    }

    pub fn dtype(&self) -> WeightDtype {
        match self {
            Matrix::F32(_) => WeightDtype::F32,
            Matrix::F16(_) => WeightDtype::F16,
            Matrix::Int8 { .. } => WeightDtype::Int8,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Matrix::F32(v) => v.len(),
            Matrix::F16(v) => v.len(),
            Matrix::Int8 { values, .. } => values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes this storage takes (values and scales).
    pub fn bytes(&self) -> usize {
        match self {
            Matrix::F32(v) => 4 * v.len(),
            Matrix::F16(v) => 2 * v.len(),
            Matrix::Int8 { values, scales } => values.len() + 4 * scales.len(),
        }
    }

    /// Appends the f32 values of `range` (element indices; int8 ranges start and end on block bounds).
    pub fn extend_f32(&self, range: std::ops::Range<usize>, out: &mut Vec<f32>) {
        match self {
            Matrix::F32(v) => out.extend_from_slice(&v[range]),
            Matrix::F16(v) => out.extend(v[range].iter().map(|x| x.to_f32())),
            Matrix::Int8 { values, scales } => {
                debug_assert!(range.start.is_multiple_of(BLOCK) && range.end.is_multiple_of(BLOCK));
                let first = range.start / BLOCK;
                for (k, block) in values[range].chunks(BLOCK).enumerate() {
                    let scale = scales[first + k];
                    out.extend(block.iter().map(|&q| q as f32 * scale));
                }
            }
        }
    }

    /// All values in f32.
    pub fn to_f32(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.len());
        self.extend_f32(0..self.len(), &mut out);
        out
    }

    /// Rows `rows` (of `cols` values) as a device tensor `[rows.len(), cols]` in this dtype (int8 as a
    /// burn quantized tensor).
    pub fn tensor(&self, rows: std::ops::Range<usize>, cols: usize, device: &Device) -> Tensor<2> {
        let shape = [rows.len(), cols];
        let range = rows.start * cols..rows.end * cols;
        let data = match self {
            Matrix::F32(v) => TensorData::new(v[range].to_vec(), shape),
            Matrix::F16(v) => TensorData::new(v[range].to_vec(), shape),
            Matrix::Int8 { values, scales } => {
                let scales = &scales[range.start / BLOCK..range.end / BLOCK];
                // burn's layout (`TensorData::quantized`): the values, then the scales' bytes. Written here
                // into a buffer of the exact size because `quantized` appends the scales to the values'
                // Vec, doubling its capacity, and burn-flex keeps that buffer as the tensor's storage:
                // 2.1 instead of 1.25 bytes per weight on the CPU.
                let mut bytes = Vec::with_capacity(range.len() + 4 * scales.len());
                bytes.extend(values[range].iter().map(|&v| v as u8));
                bytes.extend(scales.iter().flat_map(|s| s.to_ne_bytes()));
                TensorData::from_bytes_vec(bytes, shape, DType::QFloat(int8_scheme()))
            }
        };
        // In the data's own dtype: by default burn converts to the device's float dtype (f32).
        let dtype = data.dtype();
        Tensor::from_data(data, (device, dtype))
    }
}

/// A stored weight as f32 for computing with it: dequantized (int8) or widened (f16) on the device.
/// The copy is temporary: it lives as long as the op using it (or, under autodiff, its graph).
pub fn to_f32(weight: &Tensor<2>) -> Tensor<2> {
    match weight.dtype() {
        DType::QFloat(_) => weight.clone().dequantize(),
        DType::F32 => weight.clone(),
        _ => weight.clone().cast(FloatDType::F32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    fn random(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    #[test]
    fn int8_values_are_within_half_a_step_of_the_original() {
        let values = random(64 * 96, 1);
        let stored = Matrix::quantize(values.clone(), 96, WeightDtype::Int8);
        let Matrix::Int8 { scales, .. } = &stored else { panic!("int8 expected") };
        assert_eq!(scales.len(), values.len() / BLOCK);
        for (i, (x, y)) in values.iter().zip(stored.to_f32()).enumerate() {
            assert!((x - y).abs() <= scales[i / BLOCK] / 2.0 * (1.0 + 1e-6), "value {i}: {x} → {y}");
        }
        // The block's largest magnitude is exact (±127 steps).
        assert_eq!(stored.bytes(), values.len() + 4 * values.len() / BLOCK);
    }

    #[test]
    fn zero_blocks_stay_zero_and_f16_rounds_to_nearest() {
        let stored = Matrix::quantize(vec![0.0; 64], 64, WeightDtype::Int8);
        assert!(stored.to_f32().iter().all(|&x| x == 0.0));
        let f16 = Matrix::quantize(vec![1.0 + 1.0 / 4096.0, -3.0], 2, WeightDtype::F16);
        assert_eq!(f16.to_f32(), vec![1.0, -3.0]);
    }

    #[test]
    fn device_tensors_keep_the_storage_dtype() {
        let device = Device::flex();
        for dtype in [WeightDtype::F16, WeightDtype::Int8] {
            let rows = Matrix::quantize(random(4 * 64, 3), 64, dtype).tensor(0..4, 64, &device);
            match (dtype, rows.dtype()) {
                (WeightDtype::F16, DType::F16) => {}
                // The backend picks how it packs the values (flex: one i8 each).
                (WeightDtype::Int8, DType::QFloat(scheme)) => {
                    assert_eq!(scheme.block_size(), int8_scheme().block_size())
                }
                (_, other) => panic!("{dtype:?} stored as {other:?}"),
            }
        }
    }

    #[test]
    fn burn_dequantizes_our_int8_layout_to_the_same_values() {
        let device = Device::flex();
        let values = random(8 * 64, 2);
        for dtype in [WeightDtype::Int8, WeightDtype::F16] {
            let stored = Matrix::quantize(values.clone(), 64, dtype);
            let rows = stored.tensor(2..6, 64, &device);
            let on_device = to_f32(&rows).into_data().try_to_vec::<f32>().unwrap();
            assert_eq!(on_device, stored.to_f32()[2 * 64..6 * 64], "{dtype:?}");
        }
    }
}
