//! The Rust models against transformers' (and PEFT's) outputs recorded by `tools/make_fixtures.py`:
//! logits at attended positions, the loss, and the prompt's gradient, for both families and both prompt
//! placements, on the CPU (flex) and, where an adapter exists, on wgpu. `cargo test --release parity`.
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use polyprompt::model::{self, LoadOptions};
use polyprompt::model::{CausalLm, InputBatch, PromptPlacement};

mod common;
use common::{TensorFile, fixture_dir};

const LOGITS_TOLERANCE: f32 = 1e-4;
const GRAD_TOLERANCE: f32 = 1e-3;

/// One of the two recorded variants.
#[derive(Clone, Copy, Debug)]
enum Variant {
    /// The paper: prompt in the slots marked by `prompt_mask`.
    Slots,
    /// PEFT: prompt prepended.
    Prefix,
}

impl Variant {
    fn key(self, name: &str) -> String {
        match self {
            Variant::Slots => name.to_string(),
            Variant::Prefix => format!("peft_{name}"),
        }
    }
}

struct Case {
    batch: InputBatch,
    /// Attention of the model's output positions (prefix included), `[B, T']`.
    attended: Vec<i64>,
    prompt: Vec<f32>,
    prompt_len: usize,
    hidden: usize,
    pred_positions: Vec<usize>,
    labels: Vec<i64>,
    logits: (Vec<usize>, Vec<f32>),
    loss: f32,
    prompt_grad: Vec<f32>,
}

fn case(family: &str, variant: Variant) -> Case {
    let r = TensorFile::open(&fixture_dir(family).join("parity.safetensors"));
    let (shape, ids) = r.i64(&variant.key("input_ids"));
    let (batch, seq) = (shape[0], shape[1]);
    let (_, attention) = r.i64(&variant.key("attention_mask"));
    let (prompt_shape, prompt) = r.f32("prompt");
    let prompt_len = prompt_shape[0];
    let placement = match variant {
        Variant::Slots => {
            let (_, slots) = r.i64("prompt_mask");
            let starts = slots.chunks(seq).map(|row| row.iter().position(|&m| m == 1).unwrap()).collect();
            PromptPlacement::Slots { starts, len: prompt_len }
        }
        Variant::Prefix => PromptPlacement::Prefix { len: prompt_len },
    };
    let attended = match variant {
        Variant::Slots => attention.clone(),
        Variant::Prefix => attention
            .chunks(seq)
            .flat_map(|row| std::iter::repeat_n(1, prompt_len).chain(row.iter().copied()))
            .collect(),
    };
    Case {
        batch: InputBatch {
            ids: ids.iter().map(|&i| i as u32).collect(),
            attention: attention.iter().map(|&m| m as u8).collect(),
            batch,
            seq,
            placement,
        },
        attended,
        prompt,
        prompt_len,
        hidden: prompt_shape[1],
        pred_positions: r.i64(&variant.key("pred_positions")).1.iter().map(|&p| p as usize).collect(),
        labels: r.i64("labels").1,
        logits: r.f32(&variant.key("logits")),
        loss: r.f32(&variant.key("loss")).1[0],
        prompt_grad: r.f32(&variant.key("prompt_grad")).1,
    }
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec().unwrap()
}

/// Mean cross-entropy over the full vocabulary at the prediction positions (the paper's loss).
fn loss(model: &CausalLm, hidden: Tensor<3>, positions: &[usize], labels: &[i64]) -> Tensor<1> {
    let logits = model.logits_at(hidden, positions, None);
    let device = logits.device();
    let labels: Tensor<2, Int> = Tensor::from_data(TensorData::new(labels.to_vec(), [labels.len(), 1]), &device);
    -log_softmax(logits, 1).gather(1, labels).mean()
}

struct Outcome {
    logits_max_abs: f32,
    loss_abs: f32,
    grad_rel: f32,
}

fn run(family: &str, variant: Variant, device: &Device) -> Outcome {
    let model = model::load_dir(&fixture_dir(family), device, &LoadOptions::default()).unwrap();
    let c = case(family, variant);
    let autodiff = device.clone().autodiff();
    let prompt: Tensor<2> =
        Tensor::from_data(TensorData::new(c.prompt.clone(), [c.prompt_len, c.hidden]), &autodiff).require_grad();

    let hidden = model.hidden_states(&c.batch, Some(prompt.clone()));
    let logits = to_vec(model.logits_full(hidden.clone().without_autodiff()));
    let (shape, expected) = &c.logits;
    assert_eq!(logits.len(), expected.len(), "logits shape {shape:?}");
    let v = shape[2];
    let logits_max_abs = logits
        .chunks(v)
        .zip(expected.chunks(v))
        .zip(&c.attended)
        .filter(|(_, attended)| **attended == 1)
        .flat_map(|((a, b), _)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
        .fold(0f32, f32::max);

    let loss = loss(&model, hidden, &c.pred_positions, &c.labels);
    let grads = loss.backward();
    let loss_abs = (to_vec(loss)[0] - c.loss).abs();
    let grad = to_vec(prompt.grad(&grads).expect("the prompt has a gradient"));
    let scale = c.prompt_grad.iter().fold(0f32, |m, g| m.max(g.abs()));
    let grad_rel = grad.iter().zip(&c.prompt_grad).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max) / scale;
    println!(
        "{family} {variant:?}: logits max abs diff {logits_max_abs:.2e}, loss diff {loss_abs:.2e}, prompt grad rel err {grad_rel:.2e}"
    );
    Outcome { logits_max_abs, loss_abs, grad_rel }
}

fn assert_parity(family: &str, variant: Variant, device: &Device) {
    let o = run(family, variant, device);
    assert!(o.logits_max_abs <= LOGITS_TOLERANCE, "{family} {variant:?} logits differ by {}", o.logits_max_abs);
    assert!(o.loss_abs <= LOGITS_TOLERANCE, "{family} {variant:?} loss differs by {}", o.loss_abs);
    assert!(o.grad_rel <= GRAD_TOLERANCE, "{family} {variant:?} prompt gradient relative error {}", o.grad_rel);
}

// One named test per family, placement and backend (deliberately repetitive), so `cargo test parity_bloom`
// or `cargo test _wgpu` picks cases.
#[test]
fn parity_xglm_slots_cpu() {
    assert_parity("xglm", Variant::Slots, &Device::flex());
}

#[test]
fn parity_xglm_prefix_cpu() {
    assert_parity("xglm", Variant::Prefix, &Device::flex());
}

#[test]
fn parity_bloom_slots_cpu() {
    assert_parity("bloom", Variant::Slots, &Device::flex());
}

#[test]
fn parity_bloom_prefix_cpu() {
    assert_parity("bloom", Variant::Prefix, &Device::flex());
}

/// Mesa's lavapipe (software Vulkan) gives wgpu an adapter on machines without a GPU.
fn wgpu_device() -> Option<Device> {
    match pollster::block_on(Device::wgpu_options().init_with_setup_async()) {
        Ok((device, setup)) => {
            println!("wgpu adapter: {:?}", setup.adapter.get_info());
            Some(device)
        }
        Err(err) => {
            eprintln!("SKIPPED: no wgpu adapter here ({err}); the wgpu parity tests did not run");
            None
        }
    }
}

#[test]
fn parity_all_variants_wgpu() {
    let Some(device) = wgpu_device() else { return };
    for family in ["xglm", "bloom"] {
        for variant in [Variant::Slots, Variant::Prefix] {
            assert_parity(family, variant, &device);
        }
    }
}

#[test]
fn parity_restricted_head_equals_full_head_columns() {
    for family in ["xglm", "bloom"] {
        let device = Device::flex();
        // Small chunks so the full head is several matmuls and a concat.
        let options = LoadOptions { max_chunk_bytes: 64 * 4 * 100, dtype: None };
        let model = model::load_dir(&fixture_dir(family), &device, &options).unwrap();
        let c = case(family, Variant::Slots);
        let prompt = Tensor::from_data(TensorData::new(c.prompt.clone(), [c.prompt_len, c.hidden]), &device);
        let hidden = model.hidden_states(&c.batch, Some(prompt));
        let full = to_vec(model.logits_at(hidden.clone(), &c.pred_positions, None));
        let tokens = [7u32, 3, 500, 96, 999];
        let restricted = to_vec(model.logits_at(hidden, &c.pred_positions, Some(&tokens)));
        let vocab = model.config().vocab_size;
        for (row, scores) in restricted.chunks(tokens.len()).enumerate() {
            for (k, &token) in tokens.iter().enumerate() {
                let expected = full[row * vocab + token as usize];
                assert!((scores[k] - expected).abs() < 1e-5, "{family} row {row} token {token}");
            }
        }
        // And the full head agrees with the reference at the prediction positions.
        let (shape, reference) = &c.logits;
        for (row, &p) in c.pred_positions.iter().enumerate() {
            let start = (row * shape[1] + p) * vocab;
            let diff = full[row * vocab..(row + 1) * vocab]
                .iter()
                .zip(&reference[start..start + vocab])
                .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(diff <= LOGITS_TOLERANCE, "{family} row {row}: {diff}");
        }
    }
}

/// Counts the parameters of a module that received a gradient.
struct GradientCount<'a> {
    grads: &'a burn::tensor::Gradients,
    with_grad: usize,
    params: usize,
}

impl ModuleVisitor for GradientCount<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.params += 1;
        if param.val().grad(self.grads).is_some() {
            self.with_grad += 1;
        }
        assert!(!param.is_require_grad(), "a frozen weight requires a gradient");
    }
}

#[test]
fn parity_only_the_prompt_gets_a_gradient() {
    for family in ["xglm", "bloom"] {
        let device = Device::flex();
        let model = model::load_dir(&fixture_dir(family), &device, &LoadOptions::default()).unwrap();
        assert!(!model.device().is_autodiff());
        let c = case(family, Variant::Slots);
        let autodiff = device.autodiff();
        let prompt: Tensor<2> =
            Tensor::from_data(TensorData::new(c.prompt.clone(), [c.prompt_len, c.hidden]), &autodiff).require_grad();
        let hidden = model.hidden_states(&c.batch, Some(prompt.clone()));
        let grads = loss(&model, hidden, &c.pred_positions, &c.labels).backward();
        assert!(prompt.grad(&grads).is_some());
        let mut count = GradientCount { grads: &grads, with_grad: 0, params: 0 };
        match &model {
            CausalLm::Xglm(m) => {
                m.layers.iter().for_each(|l| l.visit(&mut count));
                m.layer_norm.visit(&mut count);
            }
            CausalLm::Bloom(m) => {
                m.h.iter().for_each(|b| b.visit(&mut count));
                m.word_embeddings_layernorm.visit(&mut count);
                m.ln_f.visit(&mut count);
            }
        }
        let expected_params = match family {
            "xglm" => 2 * 16 + 2,
            _ => 2 * 12 + 4,
        };
        assert_eq!(count.params, expected_params, "{family}: every weight was visited");
        assert_eq!(count.with_grad, 0, "{family}: frozen weights got gradients");
    }
}
