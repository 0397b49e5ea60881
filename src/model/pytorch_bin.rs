//! `pytorch_model.bin` read from any [`ByteSource`]: bytes in memory, a file, or a browser's buffer.
//!
//! `torch.save` writes a zip: `<archive>/data.pkl` pickles the state dict, and each tensor storage is an
//! uncompressed entry `<archive>/data/<key>`, located here by its byte range in the file (read later, one
//! tensor at a time). Of the pickle machine only
//! what a state dict uses runs: containers, ints, strings, `collections.OrderedDict`, tensors rebuilt by
//! `torch._utils._rebuild_tensor_v2` / `_rebuild_parameter` from storages named by persistent ids. No other
//! callable is ever invoked, so a hostile file cannot run anything; whatever else it holds is an error.
use std::collections::HashMap;
use std::io::Read;
use std::ops::Range;

use super::source::{ByteSource, SourceReader};

/// One tensor of the state dict: its element type ("f32", "f16", "bf16", or the storage's own name for
/// another), its shape, and where its bytes are in the file.
#[derive(Debug)]
pub struct BinTensor {
    pub dtype: String,
    pub shape: Vec<usize>,
    pub range: Range<u64>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BinError {
    /// The zip's directory (at its end) is missing: the file was cut off.
    #[error("{0}")]
    Truncated(String),
    #[error("{0}")]
    Corrupt(String),
}

fn corrupt(detail: impl Into<String>) -> BinError {
    BinError::Corrupt(detail.into())
}

/// The state dict's tensors by name, in file order.
pub fn read(source: &dyn ByteSource) -> Result<Vec<(String, BinTensor)>, BinError> {
    let magic = source.read_at(0..source.size().min(4)).map_err(|e| corrupt(e.to_string()))?;
    if *magic != *b"PK\x03\x04" {
        return Err(corrupt(if magic.first() == Some(&0x80) {
            "it is in the legacy format of PyTorch before 1.6, which polyprompt does not read: use the \
             repository's model.safetensors, or re-save the weights with a recent PyTorch"
        } else {
            "it is not a zip archive, as torch.save writes"
        }));
    }
    let mut zip = zip::ZipArchive::new(SourceReader::new(source))
        .map_err(|e| BinError::Truncated(format!("its zip directory is unreadable: {e}")))?;
    let pickle_name =
        zip.file_names().filter_map(Result::ok).find(|n| n.ends_with("/data.pkl") && n.matches('/').count() == 1);
    let pickle_name =
        pickle_name.ok_or_else(|| corrupt("it has no data.pkl: not a torch.save checkpoint"))?.into_owned();
    let prefix = pickle_name.trim_end_matches("data.pkl").to_string();
    let mut pickle = Vec::new();
    zip.by_name(&pickle_name)
        .map_err(|e| corrupt(e.to_string()))?
        .read_to_end(&mut pickle)
        .map_err(|e| corrupt(format!("data.pkl: {e}")))?;

    let mut tensors = Vec::new();
    for (name, value) in unpickle(&pickle)? {
        let Value::Tensor(t) = value else { continue };
        let data = storage(&mut zip, source.size(), &format!("{prefix}data/{}", t.storage))?;
        let numel = t
            .shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or_else(|| corrupt(format!("{name}: its shape overflows")))?;
        let data = match element_bytes(&t.dtype) {
            Some(size) => {
                if numel > 1 && t.stride != contiguous_strides(&t.shape) {
                    return Err(corrupt(format!("{name} is not stored contiguously (strides {:?})", t.stride)));
                }
                let range = (t.offset as u64).checked_mul(size).and_then(|from| {
                    let to = from.checked_add((numel as u64).checked_mul(size)?)?;
                    (to <= data.end - data.start).then_some(data.start + from..data.start + to)
                });
                range.ok_or_else(|| corrupt(format!("{name} lies outside its storage")))?
            }
            None => data.start..data.start,
        };
        tensors.push((name, BinTensor { dtype: t.dtype, shape: t.shape, range: data }));
    }
    Ok(tensors)
}

/// Where the bytes of the storage entry `name` are in a file of `file_len` bytes.
fn storage(zip: &mut zip::ZipArchive<SourceReader>, file_len: u64, name: &str) -> Result<Range<u64>, BinError> {
    let index = zip.index_for_name(name).ok_or_else(|| corrupt(format!("storage {name} is missing")))?;
    let entry = zip.by_index_raw(index).map_err(|e| corrupt(e.to_string()))?;
    if entry.compression() != zip::CompressionMethod::Stored {
        return Err(corrupt(format!("storage {name} is compressed; torch.save stores storages uncompressed")));
    }
    let start = entry.data_start().ok_or_else(|| corrupt(format!("storage {name} has no data offset")))?;
    let end = start.checked_add(entry.compressed_size()).filter(|&end| end <= file_len);
    end.map(|end| start..end)
        .ok_or_else(|| BinError::Truncated(format!("storage {name} lies past the end of the file")))
}

/// Bytes per element of the storage types whose data is read (others are named, not read).
fn element_bytes(dtype: &str) -> Option<u64> {
    match dtype {
        "f32" => Some(4),
        "f16" | "bf16" => Some(2),
        _ => None,
    }
}

fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    strides
}

#[derive(Clone, Debug)]
struct TensorRef {
    storage: String,
    dtype: String,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

#[derive(Clone, Debug)]
enum Value {
    /// None, a bool or a float: carried (requires_grad, say) but never needed.
    Scalar,
    Int(i64),
    Str(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// A class or function named by GLOBAL: only ever compared against the few allowed, never called.
    Global(String),
    Storage {
        key: String,
        dtype: String,
    },
    Tensor(TensorRef),
    Mark,
}

/// Runs `pickle` and returns the top-level dict's entries with string keys.
fn unpickle(pickle: &[u8]) -> Result<Vec<(String, Value)>, BinError> {
    let mut input = pickle;
    let mut stack: Vec<Value> = Vec::new();
    let mut memo: HashMap<u32, Value> = HashMap::new();
    let bad = |what: &str| corrupt(format!("data.pkl: {what}"));
    let take = |input: &mut &[u8], n: usize| -> Result<Vec<u8>, BinError> {
        if input.len() < n {
            return Err(corrupt("data.pkl ends early"));
        }
        let (head, rest) = input.split_at(n);
        *input = rest;
        Ok(head.to_vec())
    };
    let le = |b: &[u8]| b.iter().rev().fold(0u64, |n, &x| (n << 8) | x as u64);
    let line = |input: &mut &[u8]| -> Result<String, BinError> {
        let end = input.iter().position(|&b| b == b'\n').ok_or_else(|| corrupt("data.pkl ends early"))?;
        let text = String::from_utf8(input[..end].to_vec()).map_err(|_| corrupt("data.pkl: a name is not UTF-8"))?;
        *input = &input[end + 1..];
        Ok(text)
    };
    fn pop(stack: &mut Vec<Value>) -> Result<Value, BinError> {
        stack.pop().ok_or_else(|| corrupt("data.pkl: its stack runs empty"))
    }
    fn since_mark(stack: &mut Vec<Value>) -> Result<Vec<Value>, BinError> {
        let mark = stack.iter().rposition(|v| matches!(v, Value::Mark)).ok_or_else(|| corrupt("data.pkl: no mark"))?;
        let items = stack.split_off(mark + 1);
        stack.pop();
        Ok(items)
    }
    fn top(stack: &mut [Value]) -> Result<&mut Value, BinError> {
        stack.last_mut().ok_or_else(|| corrupt("data.pkl: its stack runs empty"))
    }
    loop {
        let op = take(&mut input, 1)?[0];
        match op {
            0x80 => drop(take(&mut input, 1)?),                               // PROTO
            0x95 => drop(take(&mut input, 8)?),                               // FRAME
            b'.' => break,                                                    // STOP
            b'}' => stack.push(Value::Dict(Vec::new())),                      // EMPTY_DICT
            b']' => stack.push(Value::List(Vec::new())),                      // EMPTY_LIST
            b')' => stack.push(Value::Tuple(Vec::new())),                     // EMPTY_TUPLE
            b'(' => stack.push(Value::Mark),                                  // MARK
            b'N' => stack.push(Value::Scalar),                                // NONE
            0x88 | 0x89 => stack.push(Value::Scalar),                         // NEWTRUE, NEWFALSE
            b'K' => stack.push(Value::Int(take(&mut input, 1)?[0] as i64)),   // BININT1
            b'M' => stack.push(Value::Int(le(&take(&mut input, 2)?) as i64)), // BININT2
            b'J' => stack.push(Value::Int(le(&take(&mut input, 4)?) as u32 as i32 as i64)), // BININT
            0x8a => {
                // LONG1: a little-endian two's-complement integer of n bytes.
                let n = take(&mut input, 1)?[0] as usize;
                if n > 8 {
                    return Err(bad("an integer wider than 64 bits"));
                }
                let raw = take(&mut input, n)?;
                let value = if n == 0 { 0 } else { ((le(&raw) << (64 - 8 * n)) as i64) >> (64 - 8 * n) };
                stack.push(Value::Int(value));
            }
            b'G' => {
                // BINFLOAT
                take(&mut input, 8)?;
                stack.push(Value::Scalar);
            }
            b'X' | 0x8c => {
                // BINUNICODE, SHORT_BINUNICODE
                let n = if op == b'X' { le(&take(&mut input, 4)?) as usize } else { take(&mut input, 1)?[0] as usize };
                let text = String::from_utf8(take(&mut input, n)?).map_err(|_| bad("a string is not UTF-8"))?;
                stack.push(Value::Str(text));
            }
            b'c' => {
                let module = line(&mut input)?;
                let name = line(&mut input)?;
                stack.push(Value::Global(format!("{module} {name}")));
            }
            0x93 => {
                // STACK_GLOBAL
                let (Value::Str(name), Value::Str(module)) = (pop(&mut stack)?, pop(&mut stack)?) else {
                    return Err(bad("STACK_GLOBAL without two names"));
                };
                stack.push(Value::Global(format!("{module} {name}")));
            }
            b'q' | b'r' | 0x94 => {
                // BINPUT, LONG_BINPUT, MEMOIZE
                let key = match op {
                    b'q' => take(&mut input, 1)?[0] as u32,
                    b'r' => le(&take(&mut input, 4)?) as u32,
                    _ => memo.len() as u32,
                };
                memo.insert(key, top(&mut stack)?.clone());
            }
            b'h' | b'j' => {
                // BINGET, LONG_BINGET
                let key = if op == b'h' { take(&mut input, 1)?[0] as u32 } else { le(&take(&mut input, 4)?) as u32 };
                stack.push(memo.get(&key).cloned().ok_or_else(|| bad("a memo entry is read before it is written"))?);
            }
            b't' => {
                let items = since_mark(&mut stack)?;
                stack.push(Value::Tuple(items));
            }
            0x85..=0x87 => {
                // TUPLE1..3
                let n = (op - 0x84) as usize;
                if stack.len() < n {
                    return Err(bad("its stack runs empty"));
                }
                let items = stack.split_off(stack.len() - n);
                stack.push(Value::Tuple(items));
            }
            b'a' => {
                let item = pop(&mut stack)?;
                let Value::List(list) = top(&mut stack)? else { return Err(bad("APPEND to a non-list")) };
                list.push(item);
            }
            b'e' => {
                let items = since_mark(&mut stack)?;
                let Value::List(list) = top(&mut stack)? else { return Err(bad("APPENDS to a non-list")) };
                list.extend(items);
            }
            b's' | b'u' => {
                // SETITEM, SETITEMS
                let items = if op == b's' {
                    let value = pop(&mut stack)?;
                    vec![pop(&mut stack)?, value]
                } else {
                    since_mark(&mut stack)?
                };
                if items.len() % 2 != 0 {
                    return Err(bad("a dict entry without its value"));
                }
                let Value::Dict(dict) = top(&mut stack)? else { return Err(bad("SETITEM on a non-dict")) };
                let mut items = items.into_iter();
                while let (Some(key), Some(value)) = (items.next(), items.next()) {
                    dict.push((key, value));
                }
            }
            b'b' => drop(pop(&mut stack)?), // BUILD: an OrderedDict's `_metadata` state, not needed
            b'Q' => {
                // BINPERSID: ('storage', <storage type>, key, location, numel)
                let Value::Tuple(id) = pop(&mut stack)? else { return Err(bad("a persistent id that is not a tuple")) };
                let storage = match &id[..] {
                    [Value::Str(kind), Value::Global(class), Value::Str(key), ..] if kind == "storage" => {
                        Value::Storage { key: key.clone(), dtype: storage_dtype(class) }
                    }
                    _ => return Err(bad("a persistent id that is not a storage")),
                };
                stack.push(storage);
            }
            b'R' => {
                let args = pop(&mut stack)?;
                let Value::Global(callable) = pop(&mut stack)? else {
                    return Err(bad("REDUCE of something not named by GLOBAL"));
                };
                stack.push(reduce(&callable, args)?);
            }
            other => return Err(bad(&format!("opcode 0x{other:02x}, which a state dict does not use"))),
        }
    }
    let Some(Value::Dict(dict)) = stack.pop() else { return Err(bad("its result is not a dict of tensors")) };
    Ok(dict
        .into_iter()
        .filter_map(|(key, value)| if let Value::Str(key) = key { Some((key, value)) } else { None })
        .collect())
}

/// The only callables a state dict needs; any other is refused, never invoked.
fn reduce(callable: &str, args: Value) -> Result<Value, BinError> {
    let Value::Tuple(args) = args else { return Err(corrupt("data.pkl: REDUCE arguments that are not a tuple")) };
    let ints = |value: &Value| -> Option<Vec<usize>> {
        let Value::Tuple(items) = value else { return None };
        items.iter().map(|v| if let Value::Int(n) = v { usize::try_from(*n).ok() } else { None }).collect()
    };
    match callable {
        "collections OrderedDict" => Ok(Value::Dict(Vec::new())),
        "torch._utils _rebuild_tensor_v2" => match &args[..] {
            [Value::Storage { key, dtype }, Value::Int(offset), size, stride, ..] => {
                let (Some(shape), Some(stride), Ok(offset)) = (ints(size), ints(stride), usize::try_from(*offset))
                else {
                    return Err(corrupt("data.pkl: a tensor with a negative or malformed size, stride or offset"));
                };
                if shape.len() != stride.len() {
                    return Err(corrupt("data.pkl: a tensor whose size and stride differ in length"));
                }
                Ok(Value::Tensor(TensorRef { storage: key.clone(), dtype: dtype.clone(), offset, shape, stride }))
            }
            _ => Err(corrupt("data.pkl: _rebuild_tensor_v2 with unexpected arguments")),
        },
        "torch._utils _rebuild_parameter" => match args.into_iter().next() {
            Some(tensor @ Value::Tensor(_)) => Ok(tensor),
            _ => Err(corrupt("data.pkl: _rebuild_parameter without a tensor")),
        },
        other => Err(corrupt(format!("data.pkl calls {other}, which a state dict does not: not a plain checkpoint"))),
    }
}

/// `torch FloatStorage` → "f32"; a storage type without a loader here keeps its own name.
fn storage_dtype(class: &str) -> String {
    match class {
        "torch FloatStorage" => "f32".into(),
        "torch HalfStorage" => "f16".into(),
        "torch BFloat16Storage" => "bf16".into(),
        other => other.trim_start_matches("torch ").into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(family: &str) -> Vec<u8> {
        std::fs::read(format!("{}/tests/fixtures/tiny-{family}/pytorch_model.bin", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// Every tensor of the fixtures' .bin files equals its copy in their model.safetensors.
    #[test]
    fn the_fixtures_read_as_their_safetensors_twins() {
        for family in ["xglm", "bloom"] {
            let bin = fixture(family);
            let twin =
                std::fs::read(format!("{}/tests/fixtures/tiny-{family}/model.safetensors", env!("CARGO_MANIFEST_DIR")))
                    .unwrap();
            let twin = safetensors::SafeTensors::deserialize(&twin).unwrap();
            let tensors = read(&bin).unwrap();
            let mut compared = 0;
            for (name, tensor) in &tensors {
                let Ok(expected) = twin.tensor(name.trim_start_matches("transformer.")) else { continue };
                assert_eq!(tensor.shape, expected.shape(), "{family} {name}");
                assert_eq!(tensor.dtype, "f32");
                assert_eq!(
                    &bin[tensor.range.start as usize..tensor.range.end as usize],
                    expected.data(),
                    "{family} {name}"
                );
                compared += 1;
            }
            assert_eq!(compared, twin.len(), "{family}: every tensor compared");
        }
    }

    #[test]
    fn damaged_files_are_errors() {
        let bin = fixture("bloom");
        assert!(matches!(read(&&bin[..bin.len() - 100]), Err(BinError::Truncated(_))));
        assert!(matches!(read(b"\x80\x02\x8a\x0alegacy"), Err(BinError::Corrupt(m)) if m.contains("legacy format")));
        assert!(matches!(read(b"{\"not\": \"a zip\"}"), Err(BinError::Corrupt(m)) if m.contains("not a zip")));
    }

    #[test]
    fn a_pickle_calling_anything_else_is_refused() {
        // GLOBAL os.system, REDUCE ("echo",): what a malicious pickle does.
        let pickle = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03.";
        let error = unpickle(pickle).unwrap_err();
        assert!(error.to_string().contains("calls os system"), "{error}");
    }
}
