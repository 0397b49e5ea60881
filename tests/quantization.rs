//! f16 and int8 weights: the error they add is within what the storage scheme allows, a tiny model still
//! picks the same labels, and a converted file loads to exactly the tensors quantizing at load gives.
mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::fixture_dir;
use polyprompt::files::prompt_file::PromptFile;
use polyprompt::model::linear::FrozenLinear;
use polyprompt::model::quant::{BLOCK, Matrix};
use polyprompt::model::tokenizer::TextTokenizer;
use polyprompt::model::{self, LoadOptions, WeightsError, WeightsFile};
use polyprompt::model::{CausalLm, InputBatch, PromptPlacement, WeightDtype};
use polyprompt::task::batch::{TaskFormat, build_batch};
use polyprompt::task::labels::{Task, label_tokens};
use polyprompt::task::sib200::{self, Split};
use polyprompt::tuning::train::{TrainConfig, TrainControl, Trainer};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn load(family: &str, dtype: Option<WeightDtype>) -> CausalLm {
    model::load_dir(&fixture_dir(family), &Device::flex(), &LoadOptions { dtype, ..LoadOptions::default() }).unwrap()
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}

/// Normal samples (Box–Muller).
fn normal(n: usize, std: f32, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let (u, v): (f32, f32) = (rng.random_range(f32::EPSILON..1.0), rng.random());
            std * (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
        })
        .collect()
}

/// A full-size layer (XGLM-564M's fc1: 1024 → 4096, weights N(0, 0.02) as transformers initialises them)
/// applied to 8 unit-normal rows, in f32 and stored as `dtype`: (inputs, weights, exact, stored outputs).
fn full_size_layer(dtype: WeightDtype) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, Matrix) {
    let (inp, out, rows) = (1024, 4096, 8);
    let device = Device::flex();
    let x = normal(rows * inp, 1.0, 1);
    let w = normal(out * inp, 0.02, 2);
    let input: Tensor<3> = Tensor::from_data(TensorData::new(x.clone(), [1, rows, inp]), &device);
    let bias = Tensor::zeros([out], &device);
    let layer = |matrix: &Matrix| FrozenLinear::new(matrix.tensor(0..out, inp, &device), bias.clone());
    let exact = values(layer(&Matrix::F32(w.clone())).forward(input.clone()));
    let stored = Matrix::quantize(w.clone(), inp, dtype);
    let approx = values(layer(&stored).forward(input));
    (x, w, exact, approx, stored)
}

/// Two rows of three tokens, no prompt: a plain forward pass to compare weight dtypes on.
fn two_rows() -> InputBatch {
    InputBatch {
        ids: vec![5, 6, 7, 8, 9, 10],
        attention: vec![1; 6],
        batch: 2,
        seq: 3,
        placement: PromptPlacement::None,
    }
}

#[test]
fn int8_layer_error_is_within_the_scheme_bound() {
    let (x, _, exact, approx, stored) = full_size_layer(WeightDtype::Int8);
    let Matrix::Int8 { scales, .. } = &stored else { unreachable!() };
    let (inp, out) = (1024, 4096);
    let (mut worst_ratio, mut err_sq, mut predicted_sq) = (0f64, 0f64, 0f64);
    for (r, row) in x.chunks(inp).enumerate() {
        for j in 0..out {
            // Each weight is within s/2 of the original (round to nearest), so the output is within
            // Σ |x_i| s(j, i)/2; rounding errors spread uniformly over ±s/2 have variance s²/12.
            let (mut bound, mut variance) = (0f64, 0f64);
            for (i, &xi) in row.iter().enumerate() {
                let s = scales[(j * inp + i) / BLOCK] as f64;
                bound += xi.abs() as f64 * s / 2.0;
                variance += (xi as f64 * s).powi(2) / 12.0;
            }
            let err = (approx[r * out + j] - exact[r * out + j]) as f64;
            // f32 accumulation of 1024 products adds ~1e-6 on top.
            assert!(err.abs() <= bound + 1e-5, "row {r} output {j}: error {err} > bound {bound}");
            worst_ratio = worst_ratio.max(err.abs() / bound);
            err_sq += err * err;
            predicted_sq += variance;
        }
    }
    let rms_ratio = (err_sq / predicted_sq).sqrt();
    println!("int8 1024→4096: worst error / bound {worst_ratio:.3}, RMS error / predicted {rms_ratio:.3}");
    assert!((0.8..1.25).contains(&rms_ratio), "RMS error is {rms_ratio} × the uniform-rounding prediction");
}

#[test]
fn f16_layer_error_is_within_half_an_ulp_per_weight() {
    let (x, w, exact, approx, _) = full_size_layer(WeightDtype::F16);
    let (inp, out) = (1024, 4096);
    for (r, row) in x.chunks(inp).enumerate() {
        for j in 0..out {
            // Round to nearest f16: relative error ≤ 2⁻¹¹ for normal values, absolute ≤ 2⁻²⁵ for subnormal.
            let bound: f64 = row
                .iter()
                .zip(&w[j * inp..(j + 1) * inp])
                .map(|(&xi, &wij)| xi.abs() as f64 * (wij.abs() as f64 * 2f64.powi(-11)).max(2f64.powi(-25)))
                .sum();
            let err = (approx[r * out + j] - exact[r * out + j]).abs() as f64;
            assert!(err <= bound + 1e-5, "row {r} output {j}: error {err} > bound {bound}");
        }
    }
}

/// English dev sentences through a tiny model with a prompt from its vocabulary: label scores and
/// full-vocabulary logits at the prediction position.
fn dev_scores(model: &CausalLm, tokenizer: &TextTokenizer, prompt: &Tensor<2>) -> (Vec<f32>, Vec<f32>) {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/sib200");
    let dev = sib200::read_split(&data, "eng_Latn", Split::Dev).unwrap();
    let labels: Vec<u32> = label_tokens(tokenizer, &Task::Sib200.labels(model.config().family))
        .unwrap()
        .iter()
        .map(|l| l.eval_id())
        .collect();
    let format = TaskFormat::paper(prompt.dims()[0]);
    let (mut scores, mut logits) = (Vec::new(), Vec::new());
    for chunk in dev.chunks(16) {
        let ids: Vec<Vec<u32>> = chunk.iter().map(|e| tokenizer.encode(&e.text).unwrap()).collect();
        let sentences: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
        let batch = build_batch(&sentences, &format, model.config());
        let hidden = model.hidden_states(&batch.input, Some(prompt.clone()));
        scores.extend(values(model.logits_at(hidden.clone(), &batch.predict_at, Some(&labels))));
        logits.extend(values(model.logits_at(hidden, &batch.predict_at, None)));
    }
    (scores, logits)
}

/// A prompt trained in f32 for 5 epochs of the paper's recipe (L = 4): label scores of an untrained prompt
/// on a random model are near ties (margins of 1e-3, below int8's error), which no prompt a user
/// evaluates has.
fn trained_prompt(model: &CausalLm, tokenizer: &TextTokenizer) -> Tensor<2> {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/sib200");
    let train = sib200::read_split(&data, "eng_Latn", Split::Train).unwrap();
    let dev = sib200::read_split(&data, "eng_Latn", Split::Dev).unwrap();
    let config = TrainConfig { epochs: 5, ..TrainConfig::paper(4) };
    let mut trainer = Trainer::new(model, tokenizer, config, &train, &dev).unwrap();
    pollster::block_on(trainer.run(model, &TrainControl::default(), 8, |_, _| {})).unwrap();
    pollster::block_on(PromptFile::of_run(&mut trainer, "tiny")).unwrap().tensor(model.device())
}

#[test]
fn tiny_models_pick_the_same_labels_in_f16_and_int8() {
    for family in ["xglm", "bloom"] {
        let exact = load(family, None);
        let tokenizer =
            TextTokenizer::from_bytes(&std::fs::read(fixture_dir(family).join("tokenizer.json")).unwrap()).unwrap();
        let prompt = trained_prompt(&exact, &tokenizer);
        let (scores, logits) = dev_scores(&exact, &tokenizer, &prompt);
        for dtype in [WeightDtype::F16, WeightDtype::Int8] {
            let model = load(family, Some(dtype));
            assert_eq!(model.weight_dtype(), dtype);
            let (q_scores, q_logits) = dev_scores(&model, &tokenizer, &prompt);
            let argmax = |s: &[f32]| s.iter().enumerate().fold(0, |best, (i, v)| if *v > s[best] { i } else { best });
            let total = scores.len() / 7;
            let (score_diff, logit_diff) = (max_abs_diff(&scores, &q_scores), max_abs_diff(&logits, &q_logits));
            // Where the labels differ, the f32 scores must have been a near tie: a top-2 margin that the
            // perturbation can flip (at most twice the largest score change).
            let mut flipped_margins = Vec::new();
            for (a, b) in scores.chunks(7).zip(q_scores.chunks(7)) {
                if argmax(a) != argmax(b) {
                    let mut sorted = a.to_vec();
                    sorted.sort_by(|x, y| y.total_cmp(x));
                    flipped_margins.push(sorted[0] - sorted[1]);
                }
            }
            let agree = total - flipped_margins.len();
            let spread = logits.iter().fold(0f32, |m, x| m.max(x.abs()));
            let margins: Vec<String> = flipped_margins.iter().map(|m| format!("{m:.1e}")).collect();
            println!(
                "{family} {}: labels agree on {agree}/{total} dev sentences (f32 margins where not: \
                 {margins:?}); max |Δ label score| {score_diff:.2e}, max |Δ logit| {logit_diff:.2e} \
                 (largest |logit| {spread:.2})",
                dtype.name()
            );
            assert!(
                flipped_margins.iter().all(|&m| m <= 2.0 * score_diff),
                "{family} {dtype:?}: a clear label flipped"
            );
            // The figure is 99%; the tiny BLOOM's near ties leave it at 97/99 in int8 (see README).
            assert!(agree * 100 >= total * 97, "{family} {dtype:?}: only {agree}/{total} labels agree with f32");
        }
    }
}

#[test]
fn a_converted_file_loads_to_the_tensors_quantizing_at_load_gives() {
    for family in ["xglm", "bloom"] {
        let dir = fixture_dir(family);
        let config =
            polyprompt::model::ModelConfig::from_json(&std::fs::read_to_string(dir.join("config.json")).unwrap())
                .unwrap();
        let original = std::fs::read(dir.join("model.safetensors")).unwrap();
        let batch = two_rows();
        for dtype in [WeightDtype::F16, WeightDtype::Int8] {
            let converted = model::convert(&config, WeightsFile::Safetensors(&original), dtype).unwrap();
            // The file is what the model picker announces (its estimate, plus the safetensors header).
            let estimate = config.size_estimate(dtype).download_bytes as usize;
            assert!(
                converted.len() >= estimate && converted.len() < estimate + 16_384,
                "{family} {dtype:?}: {} bytes",
                converted.len()
            );
            // No dtype asked for: the file says what it holds.
            let from_file =
                model::load(&config, WeightsFile::Safetensors(&converted), &Device::flex(), &LoadOptions::default())
                    .unwrap();
            assert_eq!(from_file.weight_dtype(), dtype);
            let at_load = load(family, Some(dtype));
            let a = values(from_file.hidden_states(&batch, None));
            let b = values(at_load.hidden_states(&batch, None));
            assert_eq!(a, b, "{family} {dtype:?}");
            assert_eq!(
                values(from_file.embedding_rows(&[3, 700], from_file.device())),
                values(at_load.embedding_rows(&[3, 700], at_load.device()))
            );
            // Converting a converted file changes no tensor.
            let again = model::convert(&config, WeightsFile::Safetensors(&converted), dtype).unwrap();
            let (a, b) = (
                safetensors::SafeTensors::deserialize(&converted).unwrap(),
                safetensors::SafeTensors::deserialize(&again).unwrap(),
            );
            assert_eq!(a.names().len(), b.names().len());
            for (name, view) in a.tensors() {
                assert_eq!(view, b.tensor(&name).unwrap(), "{name}");
            }
        }
    }
}

#[test]
fn damaged_int8_files_say_what_is_wrong() {
    let dir = fixture_dir("bloom");
    let config =
        polyprompt::model::ModelConfig::from_json(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let converted = model::convert(
        &config,
        WeightsFile::Safetensors(&std::fs::read(dir.join("model.safetensors")).unwrap()),
        WeightDtype::Int8,
    )
    .unwrap();
    // Drop one matrix's scales.
    let parsed = safetensors::SafeTensors::deserialize(&converted).unwrap();
    let kept: Vec<(String, safetensors::tensor::TensorView)> =
        parsed.tensors().into_iter().filter(|(name, _)| name != "h.0.mlp.dense_h_to_4h.weight.scales").collect();
    let damaged = safetensors::serialize(kept, None).unwrap();
    let err =
        model::load(&config, WeightsFile::Safetensors(&damaged), &Device::flex(), &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&err, WeightsError::BadScales { tensor, .. } if tensor == "h.0.mlp.dense_h_to_4h.weight"),
        "{err}"
    );
    assert!(err.to_string().contains("convert the original checkpoint again"), "{err}");
}

/// Mesa's lavapipe (software Vulkan) gives wgpu an adapter on machines without a GPU.
fn wgpu_device() -> Option<Device> {
    match pollster::block_on(Device::wgpu_options().init_with_setup_async()) {
        Ok((device, _)) => Some(device),
        Err(err) => {
            eprintln!("SKIPPED: no wgpu adapter here ({err}); the wgpu quantization test did not run");
            None
        }
    }
}

#[test]
fn quantized_weights_compute_the_same_on_wgpu() {
    let Some(gpu) = wgpu_device() else { return };
    let batch = two_rows();
    for family in ["xglm", "bloom"] {
        for dtype in [WeightDtype::Int8, WeightDtype::F16] {
            let options = LoadOptions { dtype: Some(dtype), ..LoadOptions::default() };
            let on_gpu = match model::load_dir(&fixture_dir(family), &gpu, &options) {
                Ok(model) => model,
                // An adapter without f16 shaders must say so rather than fail later.
                Err(WeightsError::DtypeUnsupported(name)) if dtype == WeightDtype::F16 => {
                    eprintln!("{family}: this adapter cannot store {name}");
                    continue;
                }
                Err(err) => panic!("{family} {dtype:?}: {err}"),
            };
            let on_cpu = load(family, Some(dtype));
            let hidden = |m: &CausalLm| values(m.logits_at(m.hidden_states(&batch, None), &[2, 1], None));
            let diff = max_abs_diff(&hidden(&on_gpu), &hidden(&on_cpu));
            println!("{family} {}: wgpu vs CPU logits max abs diff {diff:.1e}", dtype.name());
            assert!(diff < 1e-3, "{family} {dtype:?}: {diff}");
        }
    }
}
