//! Reading a tensor back to the host, asynchronously (a browser cannot block on WebGPU), with a lost device
//! told apart from other failures.
use burn::tensor::Tensor;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadbackError {
    #[error("reading back from the device failed: {0}")]
    Failed(String),
    #[error(
        "the GPU device was lost ({0}): the browser or its driver reset the GPU (out of GPU memory, a driver \
         crash or update). Reload the page to start it again; saved runs and prompts are kept"
    )]
    DeviceLost(String),
}

/// Reads a float tensor back to the host without blocking (required for WebGPU in a browser).
pub async fn read_f32<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, ReadbackError> {
    let data = tensor.into_data_async().await.map_err(readback_error)?;
    data.try_into_vec::<f32>().map_err(readback_error)
}

/// A lost device reaches us as burn's `ExecutionError::DevicePoisoned`, or, when the data is read lazily,
/// as a storage read error quoting it; burn re-exports neither type, so its text is what is matched.
fn readback_error(error: impl std::fmt::Display) -> ReadbackError {
    const POISONED: &str = "The device is poisoned";
    let text = error.to_string();
    match text.find(POISONED) {
        Some(at) => {
            let reason = text[at..].lines().nth(2).unwrap_or("").trim().trim_end_matches(':');
            ReadbackError::DeviceLost(if reason.is_empty() { POISONED.to_lowercase() } else { reason.to_string() })
        }
        None => ReadbackError::Failed(text),
    }
}
