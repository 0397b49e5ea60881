//! Shared by the integration tests that read the reference tensors `tools/make_fixtures.py` recorded.
// Each test crate compiles this module and uses only part of it.
#![allow(dead_code)]
use std::path::{Path, PathBuf};

use safetensors::SafeTensors;

/// `tests/fixtures/tiny-<family>`.
pub fn fixture_dir(family: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(format!("tiny-{family}"))
}

/// A recorded safetensors file, read tensor by tensor into flat vectors.
pub struct TensorFile {
    bytes: Vec<u8>,
}

impl TensorFile {
    pub fn open(path: &Path) -> TensorFile {
        TensorFile { bytes: std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())) }
    }

    fn view(&self, name: &str) -> (Vec<usize>, Vec<u8>) {
        let tensors = SafeTensors::deserialize(&self.bytes).unwrap();
        let view = tensors.tensor(name).unwrap_or_else(|_| panic!("fixture lacks {name}"));
        (view.shape().to_vec(), view.data().to_vec())
    }

    pub fn f32(&self, name: &str) -> (Vec<usize>, Vec<f32>) {
        let (shape, data) = self.view(name);
        (shape, data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect())
    }

    pub fn i64(&self, name: &str) -> (Vec<usize>, Vec<i64>) {
        let (shape, data) = self.view(name);
        (shape, data.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect())
    }
}
