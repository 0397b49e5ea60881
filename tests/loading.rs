//! Checkpoint loading: both file formats give the same model, half-precision files convert, and each
//! kind of bad input gets its own typed error. Bad inputs are crafted here from the tiny fixtures.
use burn::tensor::{Device, Tensor, TensorData};
use polyprompt::model::{self, LoadOptions, Pieces, WeightsError, WeightsFile};
use polyprompt::model::{CausalLm, Family, InputBatch, ModelConfig, PromptPlacement};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

/// A checkpoint tensor: name, dtype, shape, little-endian bytes.
type Stored = (String, Dtype, Vec<usize>, Vec<u8>);
/// A 2-byte float format: its dtype, encoder, decoder and how far outputs may drift from f32.
type HalfFormat = (Dtype, fn(f32) -> [u8; 2], fn([u8; 2]) -> f32, f32);

fn fixture(family: &str, file: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/tiny-{family}/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn config(family: &str) -> ModelConfig {
    ModelConfig::from_json(&String::from_utf8(fixture(family, "config.json")).unwrap()).unwrap()
}

fn load(family: &str, file: WeightsFile) -> Result<CausalLm, WeightsError> {
    model::load(&config(family), file, &Device::flex(), &LoadOptions::default())
}

/// The fixture's safetensors tensors as (name, dtype, shape, bytes), for rewriting.
fn tensors(family: &str) -> Vec<Stored> {
    let bytes = fixture(family, "model.safetensors");
    let st = SafeTensors::deserialize(&bytes).unwrap();
    st.iter().map(|(n, v)| (n.to_string(), v.dtype(), v.shape().to_vec(), v.data().to_vec())).collect()
}

fn serialize(tensors: &[Stored]) -> Vec<u8> {
    let views = tensors.iter().map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()));
    safetensors::serialize(views, None).unwrap()
}

/// f32 bytes re-encoded through `encode` (f32 → 2-byte float).
fn halved(tensors: &[Stored], dtype: Dtype, encode: fn(f32) -> [u8; 2]) -> Vec<Stored> {
    tensors
        .iter()
        .map(|(n, _, s, b)| {
            let data = b.chunks_exact(4).flat_map(|x| encode(f32::from_le_bytes(x.try_into().unwrap()))).collect();
            (n.clone(), dtype, s.clone(), data)
        })
        .collect()
}

/// Hidden states of a small padded batch with a prompt in slots.
fn outputs(model: &CausalLm) -> Vec<f32> {
    let h = model.config().hidden;
    let batch = InputBatch {
        ids: vec![10, 11, 12, 1, 1, 2, 20, 21, 1, 1, 2, 1],
        attention: vec![1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0],
        batch: 2,
        seq: 6,
        placement: PromptPlacement::Slots { starts: vec![3, 2], len: 2 },
    };
    let prompt: Vec<f32> = (0..2 * h).map(|i| (i as f32 * 0.37).sin() * 0.5).collect();
    let prompt = Tensor::from_data(TensorData::new(prompt, [2, h]), model.device());
    let hidden = model.hidden_states(&batch, Some(prompt));
    hidden.into_data().try_to_vec::<f32>().unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}

#[test]
fn pytorch_bin_and_safetensors_give_identical_outputs() {
    for family in ["xglm", "bloom"] {
        let from_safetensors = load(family, WeightsFile::Safetensors(&fixture(family, "model.safetensors"))).unwrap();
        let from_bin = load(family, WeightsFile::PytorchBin(&fixture(family, "pytorch_model.bin"))).unwrap();
        assert_eq!(outputs(&from_safetensors), outputs(&from_bin), "{family}");
        let dir = format!("{}/tests/fixtures/tiny-{family}", env!("CARGO_MANIFEST_DIR"));
        let from_dir = model::load_dir(dir.as_ref(), &Device::flex(), &LoadOptions::default()).unwrap();
        assert_eq!(outputs(&from_safetensors), outputs(&from_dir), "{family}");
    }
}

/// A file handed over in pieces (as the browser's page posts a large download to its worker) loads the
/// same model as the whole file, with pieces cut inside tensors, headers and the `.bin`'s zip directory.
#[test]
fn a_file_in_pieces_loads_as_the_whole_file() {
    for (family, file) in [("xglm", "model.safetensors"), ("bloom", "pytorch_model.bin")] {
        let whole = fixture(family, file);
        let reference = outputs(&load(family, WeightsFile::named(file, &whole)).unwrap());
        for piece_len in [7, 4096, whole.len() / 3 + 1] {
            let pieces = Pieces::new(whole.chunks(piece_len).map(<[u8]>::to_vec));
            assert!(pieces.count() > 1);
            let model = load(family, WeightsFile::named(file, &pieces)).unwrap();
            assert_eq!(outputs(&model), reference, "{family} {file} in pieces of {piece_len}");
        }
    }
}

#[test]
fn f16_and_bf16_checkpoints_load_as_the_values_they_store() {
    let original = tensors("bloom");
    let reference = outputs(&load("bloom", WeightsFile::Safetensors(&serialize(&original))).unwrap());
    let cases: [HalfFormat; 2] = [
        (Dtype::F16, |x| half::f16::from_f32(x).to_le_bytes(), |b| half::f16::from_le_bytes(b).to_f32(), 0.05),
        (Dtype::BF16, |x| half::bf16::from_f32(x).to_le_bytes(), |b| half::bf16::from_le_bytes(b).to_f32(), 0.3),
    ];
    for (dtype, encode, decode, tolerance) in cases {
        let model = load("bloom", WeightsFile::Safetensors(&serialize(&halved(&original, dtype, encode)))).unwrap();
        // Rows come back exactly as the 2-byte values decode.
        let (_, _, _, embedding) = original.iter().find(|(n, ..)| n == "word_embeddings.weight").unwrap();
        let h = model.config().hidden;
        let row5: Vec<f32> = embedding[5 * h * 4..6 * h * 4]
            .chunks_exact(4)
            .map(|x| decode(encode(f32::from_le_bytes(x.try_into().unwrap()))))
            .collect();
        let loaded = model.embedding_rows(&[5], model.device()).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(loaded, row5, "{dtype:?}");
        let diff = max_abs_diff(&outputs(&model), &reference);
        assert!(diff > 0.0 && diff < tolerance, "{dtype:?} outputs differ from f32 by {diff}");
    }
}

#[test]
fn a_truncated_file_says_so() {
    for (file, kind) in [("model.safetensors", 0), ("pytorch_model.bin", 1)] {
        let bytes = fixture("xglm", file);
        for cut in [4, bytes.len() / 2, bytes.len() - 1] {
            let part = &bytes[..cut];
            let file_arg = if kind == 0 { WeightsFile::Safetensors(&part) } else { WeightsFile::PytorchBin(&part) };
            let err = load("xglm", file_arg).unwrap_err();
            assert!(matches!(err, WeightsError::Truncated { file: f, .. } if f == file), "{file} cut at {cut}: {err}");
        }
    }
}

#[test]
fn a_renamed_tensor_is_missing_and_an_extra_one_unexpected() {
    let mut renamed = tensors("xglm");
    let entry = renamed.iter_mut().find(|(n, ..)| n == "model.layers.1.fc2.bias").unwrap();
    entry.0 = "model.layers.1.fc2.b".into();
    let err = load("xglm", WeightsFile::Safetensors(&serialize(&renamed))).unwrap_err();
    assert!(matches!(&err, WeightsError::MissingTensors(m) if m == &["model.layers.1.fc2.bias"]), "{err}");
    assert!(err.to_string().contains("model.layers.1.fc2.bias"));

    let mut extra = tensors("xglm");
    extra.push(("model.layers.2.fc1.bias".into(), Dtype::F32, vec![1], vec![0; 4]));
    let err = load("xglm", WeightsFile::Safetensors(&serialize(&extra))).unwrap_err();
    assert!(matches!(&err, WeightsError::UnexpectedTensors(u) if u == &["model.layers.2.fc1.bias"]), "{err}");
}

#[test]
fn a_wrong_shape_names_tensor_expected_and_got() {
    // The weights have ffn 256; a config claiming 128 disagrees at the first fc1.
    let mut config = config("xglm");
    config.ffn = 128;
    let bytes = fixture("xglm", "model.safetensors");
    let err =
        model::load(&config, WeightsFile::Safetensors(&bytes), &Device::flex(), &LoadOptions::default()).unwrap_err();
    match err {
        WeightsError::ShapeMismatch { tensor, expected, got } => {
            assert_eq!((tensor.as_str(), expected, got), ("model.layers.0.fc1.weight", vec![128, 64], vec![256, 64]));
        }
        other => panic!("{other}"),
    }
}

#[test]
fn an_unsupported_dtype_is_named() {
    let mut doubled = tensors("bloom");
    let entry = doubled.iter_mut().find(|(n, ..)| n == "ln_f.bias").unwrap();
    entry.1 = Dtype::F64;
    entry.3 = entry
        .3
        .chunks_exact(4)
        .flat_map(|x| (f32::from_le_bytes(x.try_into().unwrap()) as f64).to_le_bytes())
        .collect();
    let err = load("bloom", WeightsFile::Safetensors(&serialize(&doubled))).unwrap_err();
    assert!(
        matches!(&err, WeightsError::UnsupportedDtype { tensor, dtype } if tensor == "ln_f.bias" && dtype == "F64"),
        "{err}"
    );
}

#[test]
fn weights_of_the_other_architecture_are_refused() {
    let xglm_weights = fixture("xglm", "model.safetensors");
    let err = load("bloom", WeightsFile::Safetensors(&xglm_weights)).unwrap_err();
    assert!(
        matches!(err, WeightsError::WrongArchitecture { config: Family::Bloom, checkpoint: Family::Xglm }),
        "{err}"
    );
    let bloom_weights = fixture("bloom", "pytorch_model.bin");
    let err = load("xglm", WeightsFile::PytorchBin(&bloom_weights)).unwrap_err();
    assert!(matches!(err, WeightsError::WrongArchitecture { config: Family::Xglm, checkpoint: Family::Bloom }));
}

#[test]
fn a_config_of_another_model_type_is_refused() {
    let dir = std::env::temp_dir().join(format!("polyprompt-loading-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = String::from_utf8(fixture("xglm", "config.json")).unwrap().replace("\"xglm\"", "\"llama\"");
    std::fs::write(dir.join("config.json"), config).unwrap();
    std::fs::write(dir.join("model.safetensors"), fixture("xglm", "model.safetensors")).unwrap();
    let err = model::load_dir(&dir, &Device::flex(), &LoadOptions::default()).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(&err, WeightsError::Config(e) if e.to_string().contains("`llama`")), "{err}");
}

#[test]
fn a_transformer_prefixed_bloom_checkpoint_loads() {
    // `save_pretrained` of BloomForCausalLM writes `transformer.` names and may keep `lm_head.weight`.
    let plain = tensors("bloom");
    let mut prefixed: Vec<_> =
        plain.iter().map(|(n, d, s, b)| (format!("transformer.{n}"), *d, s.clone(), b.clone())).collect();
    let embedding = plain.iter().find(|(n, ..)| n == "word_embeddings.weight").unwrap();
    prefixed.push(("lm_head.weight".into(), embedding.1, embedding.2.clone(), embedding.3.clone()));
    let a = load("bloom", WeightsFile::Safetensors(&serialize(&plain))).unwrap();
    let b = load("bloom", WeightsFile::Safetensors(&serialize(&prefixed))).unwrap();
    assert_eq!(outputs(&a), outputs(&b));
}

/// A model.safetensors made of a header (JSON) and the bytes after it.
fn with_header(header: &serde_json::Value, data: &[u8]) -> Vec<u8> {
    let header = header.to_string();
    [&(header.len() as u64).to_le_bytes()[..], header.as_bytes(), data].concat()
}

#[test]
fn absurd_sizes_in_a_safetensors_header_are_refused_before_reading_tensors() {
    let claiming = |bytes: u64| {
        let header = serde_json::json!({
            "model.embed_tokens.weight": {"dtype": "F32", "shape": [bytes / 4], "data_offsets": [0, bytes]},
        });
        with_header(&header, &[0; 64])
    };
    let err = load("xglm", WeightsFile::Safetensors(&claiming(100_000_000_000))).unwrap_err();
    assert!(matches!(&err, WeightsError::Oversized { what, .. } if what.starts_with("100.0 GB of tensors")), "{err}");
    assert!(err.to_string().contains("download the model's own file again"), "{err}");
    // Within the limit but not in the file: cut off.
    let err = load("xglm", WeightsFile::Safetensors(&claiming(1_000_000))).unwrap_err();
    assert!(
        matches!(&err, WeightsError::Truncated { detail, .. } if detail.contains("describes 1000000 bytes of tensors but only 64 follow")),
        "{err}"
    );
    // A header length of 1 TB.
    let huge_header = [&(1u64 << 40).to_le_bytes()[..], b"{}"].concat();
    let err = load("xglm", WeightsFile::Safetensors(&huge_header)).unwrap_err();
    assert!(
        matches!(&err, WeightsError::Oversized { what, .. } if what.starts_with("a header of 1099511627776 bytes")),
        "{err}"
    );
}
