//! The models against the PyTorch reference (tests/fixtures, written by tools/make_fixtures):
//! logits at attended positions within 1e-4, the prompt's gradient within 1e-3 relative error.
use burn::tensor::{Device, Int, Tensor, TensorData};
use polyprompt::model::bloom::Bloom;
use polyprompt::model::xglm::Xglm;
use polyprompt::model::head::TiedHead;
use polyprompt::model::{InputBatch, ModelConfig, PromptPlacement};
use polyprompt::weights::Checkpoint;
use safetensors::SafeTensors;

struct Reference {
    bytes: Vec<u8>,
}

impl Reference {
    fn tensors(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).unwrap()
    }
    fn f32s(&self, name: &str) -> (Vec<usize>, Vec<f32>) {
        let t = self.tensors();
        let view = t.tensor(name).unwrap();
        (view.shape().to_vec(), view.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect())
    }
    fn i64s(&self, name: &str) -> (Vec<usize>, Vec<i64>) {
        let t = self.tensors();
        let view = t.tensor(name).unwrap();
        (view.shape().to_vec(), view.data().chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect())
    }
}

fn fixture(name: &str) -> (ModelConfig, Vec<u8>, Reference) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let config = ModelConfig::from_json(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let weights = std::fs::read(dir.join("model.safetensors")).unwrap();
    (config, weights, Reference { bytes: std::fs::read(dir.join("parity.safetensors")).unwrap() })
}

/// The reference batch in our input form, for the paper's slots or PEFT's prefix.
fn batch(reference: &Reference, prefix: bool) -> (InputBatch, Vec<usize>, Vec<i64>) {
    let key = |n: &str| if prefix { format!("peft_{n}") } else { n.to_string() };
    let (shape, ids) = reference.i64s(&key("input_ids"));
    let (_, mask) = reference.i64s(&key("attention_mask"));
    let (_, predict) = reference.i64s(&key("pred_positions"));
    let (b, t) = (shape[0], shape[1]);
    let placement = if prefix {
        PromptPlacement::Prefix { len: 4 }
    } else {
        let (_, prompt_mask) = reference.i64s("prompt_mask");
        let starts = (0..b).map(|row| (0..t).find(|&i| prompt_mask[row * t + i] == 1).unwrap()).collect();
        PromptPlacement::Slots { starts, len: 4 }
    };
    let input = InputBatch {
        ids: ids.iter().map(|&i| i as u32).collect(),
        attention: mask.iter().map(|&m| m as u8).collect(),
        batch: b,
        seq: t,
        placement,
    };
    let attended: Vec<i64> = if prefix { (0..b).flat_map(|row| std::iter::repeat_n(1, 4).chain(mask[row * t..(row + 1) * t].iter().copied())).collect() } else { mask };
    (input, predict.iter().map(|&p| p as usize).collect(), attended)
}

fn max_abs_diff_where(ours: &[f32], reference: &[f32], positions: usize, vocab: usize, attended: &[i64]) -> f32 {
    let mut worst = 0f32;
    for p in 0..positions {
        if attended[p] == 1 {
            for v in 0..vocab {
                worst = worst.max((ours[p * vocab + v] - reference[p * vocab + v]).abs());
            }
        }
    }
    worst
}

fn check(family: &str, device: &Device, prefix: bool) {
    let (config, weights, reference) = fixture(&format!("tiny-{family}"));
    let device = device.clone().autodiff();
    let mut checkpoint = Checkpoint::from_safetensors(&weights).unwrap();
    let (input, predict_at, attended) = batch(&reference, prefix);
    let (prompt_shape, prompt) = reference.f32s("prompt");
    let prompt = Tensor::<2>::from_data(TensorData::new(prompt, [prompt_shape[0], prompt_shape[1]]), &device).require_grad();
    let (hidden, head) = if family == "bloom" {
        let model = Bloom::load(&config, &mut checkpoint, &device).unwrap();
        (model.hidden_states(&input, Some(prompt.clone())), TiedHead::new(model.embedding(), &device))
    } else {
        let model = Xglm::load(&config, &mut checkpoint, &device).unwrap();
        (model.hidden_states(&input, Some(prompt.clone())), TiedHead::new(model.embedding(), &device))
    };
    checkpoint.finish(&[]).unwrap();

    let key = |n: &str| if prefix { format!("peft_{n}") } else { n.to_string() };
    let (logit_shape, expected) = reference.f32s(&key("logits"));
    let logits = head.logits_full(hidden.clone()).into_data().try_to_vec::<f32>().unwrap();
    let diff = max_abs_diff_where(&logits, &expected, logit_shape[0] * logit_shape[1], config.vocab_size, &attended);
    assert!(diff <= 1e-4, "logits differ by {diff}");

    // Mean cross-entropy over the full vocabulary at the prediction positions, as the reference.
    let (_, labels) = reference.i64s("labels");
    let scores = head.logits_at(hidden, &predict_at, None);
    let log_probs = burn::tensor::activation::log_softmax(scores, 1);
    let labels = Tensor::<2, Int>::from_data(TensorData::new(labels.clone(), [labels.len(), 1]), &device);
    let loss = log_probs.gather(1, labels).mean().neg();
    let (_, expected_loss) = reference.f32s(&key("loss"));
    let loss_value = loss.clone().into_data().try_to_vec::<f32>().unwrap()[0];
    assert!((loss_value - expected_loss[0]).abs() < 1e-4, "loss {loss_value} vs {}", expected_loss[0]);

    let grads = loss.backward();
    let grad = prompt.grad(&grads).expect("the prompt gets a gradient").into_data().try_to_vec::<f32>().unwrap();
    let (_, expected_grad) = reference.f32s(&key("prompt_grad"));
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let error: Vec<f32> = grad.iter().zip(&expected_grad).map(|(a, b)| a - b).collect();
    let relative = norm(&error) / norm(&expected_grad);
    assert!(relative <= 1e-3, "prompt gradient relative error {relative}");
}

#[test]
fn parity_bloom_slots_logits_and_prompt_gradient_on_flex() {
    check("bloom", &Device::flex(), false);
}

#[test]
fn parity_bloom_prefix_logits_and_prompt_gradient_on_flex() {
    check("bloom", &Device::flex(), true);
}

#[test]
fn parity_xglm_slots_logits_and_prompt_gradient_on_flex() {
    check("xglm", &Device::flex(), false);
}

#[test]
fn parity_xglm_prefix_logits_and_prompt_gradient_on_flex() {
    check("xglm", &Device::flex(), true);
}

/// The wgpu device (Vulkan natively: Mesa's lavapipe on CI), once per test process; `None` without one.
fn wgpu() -> Option<Device> {
    static DEVICE: std::sync::OnceLock<Option<Device>> = std::sync::OnceLock::new();
    DEVICE
        .get_or_init(|| {
            let (device, info) = pollster::block_on(polyprompt::backend::init(polyprompt::backend::Preference::Auto));
            eprintln!("parity on {}", info.label());
            info.is_gpu().then_some(device)
        })
        .clone()
}

#[test]
fn parity_bloom_slots_on_wgpu() {
    match wgpu() {
        Some(device) => check("bloom", &device, false),
        None => eprintln!("skipped: no wgpu adapter on this machine"),
    }
}

#[test]
fn parity_xglm_prefix_on_wgpu() {
    match wgpu() {
        Some(device) => check("xglm", &device, true),
        None => eprintln!("skipped: no wgpu adapter on this machine"),
    }
}
