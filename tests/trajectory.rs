//! Trajectory parity: 20 optimizer steps of our trainer against PyTorch's, recorded by
//! `tools/make_fixtures.py` (`trajectory.safetensors`): the paper's suffix prompt, the same with the
//! reparameterization MLP, and PEFT's prefix prompt tuning, for XGLM and BLOOM. Same data order, initial
//! prompt and optimizer; the loss must match within 1e-3 at every step. `cargo test --release trajectory`.
use burn::tensor::{Device, Tensor, TensorData};
use polyprompt::model::CausalLm;
use polyprompt::model::tokenizer::TextTokenizer;
use polyprompt::model::{self, LoadOptions};
use polyprompt::task::batch::{Placement, TaskFormat, build_batch};
use polyprompt::task::labels::{Task, label_tokens};
use polyprompt::tuning::prompt::{Reparam, SoftPrompt};
use polyprompt::tuning::train::{Backprop, LinearSchedule, LossKind, PromptTrainer};

mod common;
use common::{TensorFile, fixture_dir};

const LOSS_TOLERANCE: f32 = 1e-3;
const STEPS: usize = 20;

/// The recorded run and the model folder it was recorded on.
struct Fixture {
    dir: std::path::PathBuf,
    tensors: TensorFile,
}

impl Fixture {
    fn open(family: &str) -> Fixture {
        let dir = fixture_dir(family);
        let tensors = TensorFile::open(&dir.join("trajectory.safetensors"));
        Fixture { dir, tensors }
    }

    fn f32(&self, name: &str) -> (Vec<usize>, Vec<f32>) {
        self.tensors.f32(name)
    }

    fn i64(&self, name: &str) -> (Vec<usize>, Vec<i64>) {
        self.tensors.i64(name)
    }

    fn matrix(&self, name: &str, device: &Device) -> Tensor<2> {
        let (shape, values) = self.f32(name);
        Tensor::from_data(TensorData::new(values, [shape[0], shape[1]]), device)
    }

    /// A torch Linear weight (`[out, in]`) in our `x · W` layout.
    fn linear_weight(&self, name: &str, device: &Device) -> Tensor<2> {
        self.matrix(name, device).transpose()
    }

    /// A bias as the `[1, n]` row our prompt keeps.
    fn bias(&self, name: &str, device: &Device) -> Tensor<2> {
        let (shape, values) = self.f32(name);
        Tensor::from_data(TensorData::new(values, [1, shape[0]]), device)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Run {
    Paper,
    Reparam,
    Peft,
}

impl Run {
    fn key(self) -> &'static str {
        match self {
            Run::Paper => "paper",
            Run::Reparam => "reparam",
            Run::Peft => "peft",
        }
    }
}

/// Our numbers for one run: per-step loss, learning rate and gradient norm, and the final prompt.
struct Trajectory {
    losses: Vec<f32>,
    lrs: Vec<f64>,
    grad_norms: Vec<f32>,
    final_prompt: Vec<f32>,
}

fn train(family: &str, run: Run, backprop: Backprop) -> (Fixture, Trajectory) {
    let fixture = Fixture::open(family);
    let device = Device::flex();
    let model: CausalLm = model::load_dir(&fixture.dir, &device, &LoadOptions::default()).unwrap();
    let tokenizer = TextTokenizer::from_bytes(&std::fs::read(fixture.dir.join("tokenizer.json")).unwrap()).unwrap();
    let labels = label_tokens(&tokenizer, &Task::Sib200.labels(model.config().family)).unwrap();

    let input = fixture.matrix("init_prompt", &device);
    let prompt_len = input.dims()[0];
    let mlp = (run == Run::Reparam).then(|| Reparam {
        w1: fixture.linear_weight("reparam_init_w1", &device),
        b1: fixture.bias("reparam_init_b1", &device),
        w2: fixture.linear_weight("reparam_init_w2", &device),
        b2: fixture.bias("reparam_init_b2", &device),
    });
    let prompt = SoftPrompt { input, mlp };
    let schedule = LinearSchedule::new(5e-3, 0.1, STEPS);
    let mut trainer = PromptTrainer::new(prompt, schedule, 1.0, LossKind::FullVocabulary, &labels);
    trainer.set_backprop(backprop);

    let placement = if run == Run::Peft { Placement::Prefix } else { Placement::Suffix };
    let format = TaskFormat { placement, prompt_len, max_len: 40 };
    let (shape, ids) = fixture.i64("batch_input_ids");
    let (batch_size, seq) = (shape[1], shape[2]);
    let (_, starts) = fixture.i64("batch_slot_starts");
    let (_, class_ids) = fixture.i64("batch_class_ids");
    let (_, label_ids) = fixture.i64("batch_labels");
    let pred_key = if run == Run::Peft { "batch_peft_pred_positions" } else { "batch_pred_positions" };
    let (_, pred_positions) = fixture.i64(pred_key);

    let mut outputs = Vec::new();
    for step in 0..STEPS {
        let rows = step * batch_size..(step + 1) * batch_size;
        // The sentence of each row is what precedes its slots (already truncated to fit 40).
        let sentences: Vec<Vec<u32>> = rows
            .clone()
            .map(|r| ids[r * seq..r * seq + starts[r] as usize].iter().map(|&i| i as u32).collect())
            .collect();
        let sentences: Vec<&[u32]> = sentences.iter().map(Vec::as_slice).collect();
        let batch = build_batch(&sentences, &format, model.config());
        let expected: Vec<usize> = pred_positions[rows.clone()].iter().map(|&p| p as usize).collect();
        assert_eq!(batch.predict_at, expected, "{family} {run:?} step {step}: prediction positions");
        let classes: Vec<usize> = class_ids[rows.clone()].iter().map(|&c| c as usize).collect();
        for (&class, &label) in classes.iter().zip(&label_ids[rows]) {
            assert_eq!(labels[class].train_id() as i64, label, "{family}: label token of class {class}");
        }
        outputs.push(trainer.step(&model, &batch, &classes));
    }
    let read = |t: Tensor<1>| t.into_data().try_into_vec::<f32>().unwrap()[0];
    let trajectory = Trajectory {
        losses: outputs.iter().map(|o| read(o.loss.clone())).collect(),
        lrs: outputs.iter().map(|o| o.learning_rate).collect(),
        grad_norms: outputs.iter().map(|o| read(o.grad_norm.clone())).collect(),
        final_prompt: trainer.prompt().effective().into_data().try_into_vec().unwrap(),
    };
    (fixture, trajectory)
}

fn check(family: &str, run: Run) {
    check_with(family, run, Backprop::WholeGraph);
}

fn check_with(family: &str, run: Run, backprop: Backprop) {
    let (fixture, ours) = train(family, run, backprop);
    let key = run.key();
    let (_, losses) = fixture.f32(&format!("{key}_losses"));
    let (_, lrs) = fixture.f32(&format!("{key}_lrs"));
    let (_, grad_norms) = fixture.f32(&format!("{key}_grad_norms"));
    let (_, final_prompt) = fixture.f32(&format!("{key}_final_prompt"));
    let worst_loss = ours.losses.iter().zip(&losses).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    for step in 0..STEPS {
        let (a, b) = (ours.losses[step], losses[step]);
        assert!((a - b).abs() <= LOSS_TOLERANCE, "{family} {key} step {step}: loss {a} vs reference {b}");
        assert!((ours.lrs[step] as f32 - lrs[step]).abs() <= 1e-9, "{family} {key} step {step}: lr");
        let (a, b) = (ours.grad_norms[step], grad_norms[step]);
        assert!((a - b).abs() <= 1e-3 * b.max(1.0), "{family} {key} step {step}: grad norm {a} vs {b}");
    }
    // The final prompt must be where the reference's is, not merely near the start.
    // Step 0 updates with learning rate 0, so the prompt after it is the initial effective prompt.
    let (_, after_step_0) = fixture.f32(&format!("{key}_prompts"));
    let moved = final_prompt.iter().zip(&after_step_0).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(moved > 0.01, "{family} {key}: the reference prompt barely moved ({moved})");
    let worst = ours.final_prompt.iter().zip(&final_prompt).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst <= 1e-3, "{family} {key}: final prompt differs by up to {worst}");
    // The figures quoted in the README (`-- --nocapture`).
    eprintln!("{family} {key} {backprop:?}: loss max abs diff {worst_loss:.1e}, final prompt max abs diff {worst:.1e}");
}

// One named test per family and run (deliberately repetitive), so `cargo test trajectory_bloom` picks cases.
#[test]
fn trajectory_xglm_paper() {
    check("xglm", Run::Paper);
}

#[test]
fn trajectory_xglm_reparam() {
    check("xglm", Run::Reparam);
}

#[test]
fn trajectory_xglm_peft() {
    check("xglm", Run::Peft);
}

#[test]
fn trajectory_bloom_paper() {
    check("bloom", Run::Paper);
}

#[test]
fn trajectory_bloom_reparam() {
    check("bloom", Run::Reparam);
}

#[test]
fn trajectory_bloom_peft() {
    check("bloom", Run::Peft);
}

// Layer-by-layer gradients (what f16 and int8 weights use) follow the same reference trajectory.
#[test]
fn trajectory_xglm_reparam_layer_by_layer() {
    check_with("xglm", Run::Reparam, Backprop::LayerByLayer);
}

#[test]
fn trajectory_bloom_peft_layer_by_layer() {
    check_with("bloom", Run::Peft, Backprop::LayerByLayer);
}

#[test]
fn trajectory_bloom_paper_layer_by_layer() {
    check_with("bloom", Run::Paper, Backprop::LayerByLayer);
}
