//! A safetensors file's header, read and checked before any tensor is: its tensors' dtypes, shapes and
//! offsets (which must tile the data, sizes counted in u64) and its `__metadata__`. Checkpoints
//! (`checkpoint`) and prompt files (`files::prompt_file`) both start here. The `safetensors` crate's own
//! check is not used: it counts a tensor's bits in `usize`, which on wasm32 overflows for any tensor over
//! 512 MiB — a 560M model's f32 token table is 1 GB — so the browser could not open the real f32 checkpoints.
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use safetensors::Dtype;

use super::source::ByteSource;

/// Largest safetensors header read: a checkpoint's lists its few hundred tensors in tens of kB (the
/// safetensors crate itself would read and parse up to 100 MB).
pub const MAX_HEADER_BYTES: u64 = 16 << 20;

/// What a safetensors file's header claims, read and checked before any tensor is.
pub(crate) struct SafetensorsHeader {
    pub(crate) tensors: BTreeMap<String, HeaderTensor>,
    /// The header's `__metadata__` strings.
    pub(crate) metadata: HashMap<String, String>,
    /// Bytes of tensor data the header describes.
    pub(crate) data_bytes: u64,
    /// Bytes that follow the header in the file.
    pub(crate) held_bytes: u64,
}

/// One tensor as a safetensors header lists it.
pub(crate) struct HeaderTensor {
    pub(crate) dtype: Dtype,
    pub(crate) shape: Vec<usize>,
    /// Where its bytes are, from the start of the tensor data.
    pub(crate) offsets: Range<u64>,
}

/// A header's tensor entry as written.
#[derive(serde::Deserialize)]
struct RawTensor {
    dtype: Dtype,
    shape: Vec<u64>,
    data_offsets: (u64, u64),
}

/// A header's JSON, `held_bytes` following it: its tensors (which must tile the data from 0 with no gap or
/// overlap, each exactly as long as its shape and dtype make it, all sizes counted in u64), its
/// `__metadata__`, and the data's length.
fn parse_header(json: &[u8], held_bytes: u64) -> Result<SafetensorsHeader, String> {
    let mut entries: BTreeMap<String, serde_json::Value> = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    let metadata = match entries.remove("__metadata__") {
        Some(value) => serde_json::from_value(value).map_err(|e| format!("__metadata__: {e}"))?,
        None => HashMap::new(),
    };
    let mut raw = entries
        .into_iter()
        .map(|(name, value)| match serde_json::from_value::<RawTensor>(value) {
            Ok(tensor) => Ok((name, tensor)),
            Err(e) => Err(format!("tensor `{name}`: {e}")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    raw.sort_by_key(|(_, t)| t.data_offsets);
    let mut end = 0u64;
    let mut tensors = BTreeMap::new();
    for (name, RawTensor { dtype, shape, data_offsets: (from, to) }) in raw {
        if from != end || to < from {
            return Err(format!("tensor `{name}`'s offsets {from}..{to} leave a gap or overlap another's"));
        }
        let overflow = || format!("tensor `{name}`'s shape {shape:?} is too large to be real");
        let elements = shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d)).ok_or_else(overflow)?;
        let bits = elements.checked_mul(dtype.bitsize() as u64).ok_or_else(overflow)?;
        if bits % 8 != 0 || bits / 8 != to - from {
            return Err(format!(
                "tensor `{name}` ({dtype:?} {shape:?}) takes {bits} bits but its offsets span {} bytes",
                to - from
            ));
        }
        let shape = shape.iter().map(|&d| usize::try_from(d).map_err(|_| overflow())).collect::<Result<_, _>>()?;
        tensors.insert(name, HeaderTensor { dtype, shape, offsets: from..to });
        end = to;
    }
    Ok(SafetensorsHeader { tensors, metadata, data_bytes: end, held_bytes })
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum HeaderError {
    #[error("{0} bytes are too few for a safetensors header")]
    TooShort(usize),
    #[error("it declares a header of {0} bytes, over the {MAX_HEADER_BYTES}-byte limit")]
    TooLong(u64),
    #[error("its header is {header} bytes but only {held} follow")]
    HeaderCut { header: u64, held: u64 },
    #[error("its header is unreadable ({0})")]
    Invalid(String),
}

impl SafetensorsHeader {
    /// The header of `bytes` (see [`Self::read_from`]).
    pub(crate) fn read(bytes: &[u8]) -> Result<SafetensorsHeader, HeaderError> {
        SafetensorsHeader::read_from(&bytes)
    }

    /// The header at the start of `source`, its length checked against [`MAX_HEADER_BYTES`] before it is
    /// read and parsed; the tensors' offsets and sizes are checked for consistency with each other, not yet
    /// with the file.
    pub(crate) fn read_from(source: &dyn ByteSource) -> Result<SafetensorsHeader, HeaderError> {
        let invalid = |e: std::io::Error| HeaderError::Invalid(e.to_string());
        let held = source.size();
        if held < 8 {
            return Err(HeaderError::TooShort(held as usize));
        }
        let length = source.read_at(0..8).map_err(invalid)?;
        let header_bytes = u64::from_le_bytes(length[..8].try_into().expect("8 bytes"));
        if header_bytes > MAX_HEADER_BYTES {
            return Err(HeaderError::TooLong(header_bytes));
        }
        if header_bytes > held - 8 {
            return Err(HeaderError::HeaderCut { header: header_bytes, held: held - 8 });
        }
        let header = source.read_at(8..8 + header_bytes).map_err(invalid)?;
        parse_header(&header, held - 8 - header_bytes).map_err(HeaderError::Invalid)
    }

    /// Where the tensors' data starts in the file.
    pub(crate) fn data_start(&self, source: &dyn ByteSource) -> u64 {
        source.size() - self.held_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(json: serde_json::Value) -> Result<SafetensorsHeader, HeaderError> {
        let json = json.to_string();
        SafetensorsHeader::read(&[&(json.len() as u64).to_le_bytes()[..], json.as_bytes()].concat())
    }

    /// A 560M model's f32 token table is 8 Gbit: counted in u64, as it must be on wasm32 too (the
    /// `safetensors` crate's usize count overflowed there and refused the real f32 checkpoints).
    #[test]
    fn a_tensor_over_four_gigabits_is_read_with_its_size() {
        let bytes = 250_880u64 * 1024 * 4;
        let parsed = header(serde_json::json!({
            "__metadata__": {"format": "pt"},
            "word_embeddings.weight": {"dtype": "F32", "shape": [250_880, 1024], "data_offsets": [0, bytes]},
            "word_embeddings_layernorm.bias": {"dtype": "F16", "shape": [1024], "data_offsets": [bytes, bytes + 2048]},
        }))
        .unwrap();
        assert_eq!(parsed.data_bytes, bytes + 2048);
        assert_eq!(parsed.held_bytes, 0, "the header alone: the loader then says the file is cut off");
        assert_eq!(parsed.tensors["word_embeddings.weight"].shape, [250_880, 1024]);
        assert_eq!(parsed.tensors["word_embeddings_layernorm.bias"].offsets, bytes..bytes + 2048);
        assert_eq!(parsed.metadata["format"], "pt");
    }

    #[test]
    fn offsets_that_leave_gaps_overlap_or_disagree_with_the_shape_are_refused() {
        let refused = |json: serde_json::Value, why: &str| match header(json) {
            Err(HeaderError::Invalid(detail)) => assert!(detail.contains(why), "{detail}"),
            other => panic!("expected a refusal naming {why}, got {:?}", other.map(|h| h.data_bytes)),
        };
        let t = |shape: serde_json::Value, from: u64, to: u64| serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [from, to]});
        refused(serde_json::json!({"a": t([2].into(), 8, 16)}), "leave a gap");
        refused(serde_json::json!({"a": t([2].into(), 0, 8), "b": t([2].into(), 4, 12)}), "leave a gap or overlap");
        refused(serde_json::json!({"a": t([3].into(), 0, 8)}), "takes 96 bits but its offsets span 8 bytes");
        refused(serde_json::json!({"a": t([u64::MAX, 2].into(), 0, 8)}), "too large to be real");
        refused(serde_json::json!({"a": {"dtype": "F32", "shape": [2]}}), "tensor `a`");
    }
}
