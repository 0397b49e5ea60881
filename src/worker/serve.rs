//! The worker's side: it owns the compute device, the loaded model and the run in progress, and answers
//! the page's requests. Handlers run as tasks on the worker's event loop; a run yields between steps, so
//! pause and cancel requests land between two steps.
use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

use burn::tensor::{Device, Tensor};
use js_sys::{Array, Reflect, Uint8Array};
use serde_bytes::ByteBuf;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use super::protocol::{Envelope, LoadModel, PAYLOAD, READY_ID, Reply, Request, WorkerMemory};
use crate::backend::{self, BackendInfo};
use crate::files::prompt_file::PromptFile;
use crate::model::fit::check_fits;
use crate::model::source::past_the_end;
use crate::model::tokenizer::TextTokenizer;
use crate::model::{self, ByteSource, CausalLm, LoadOptions, ModelConfig, Pieces, WeightsFile};
use crate::task::languages;
use crate::task::sib200::Example;
use crate::tuning::estimate::{self, StepShape};
use crate::tuning::eval::{self, EvalSetup, LanguageResult};
use crate::tuning::predict::{Prediction, predict_texts};
use crate::tuning::train::{Backprop, READBACK_EVERY, RunOutcome, TrainControl, TrainEvent, Trainer};

/// Sentences per evaluation forward pass.
const EVAL_BATCH: usize = 32;
const NO_MODEL: &str = "no model is loaded: load one first (step 1)";

/// A loaded model; cheap to clone, so a run keeps its model even if another is loaded meanwhile.
#[derive(Clone)]
struct Loaded {
    /// The hub id recorded in prompt files as their base model.
    name: String,
    model: Rc<CausalLm>,
    tokenizer: Rc<TextTokenizer>,
}

#[derive(Default)]
struct State {
    device: Option<(Device, BackendInfo)>,
    /// The most the GPU device's allocator has reserved, as last seen.
    gpu_peak_bytes: u64,
    loaded: Option<Loaded>,
    /// The current run's pause and cancel switches.
    control: TrainControl,
    paused: Option<Trainer>,
}

type Shared = Rc<RefCell<State>>;

/// The worker's entry: listen for requests. The first, [`Request::Start`], starts the device; the page
/// sends nothing else before [`Reply::Ready`], so no request finds the device missing.
pub fn run() {
    console_error_panic_hook::set_once();
    let state = Shared::default();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
        let state = state.clone();
        move |event: MessageEvent| receive(&state, event.data())
    });
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    post(READY_ID, Reply::Listening);
}

/// What the worker holds now; notes the GPU allocator's peak as seen so far.
fn memory(state: &Shared) -> WorkerMemory {
    let mut s = state.borrow_mut();
    let wasm_bytes = super::wasm_memory_bytes();
    let gpu_bytes = match &s.device {
        Some((device, info)) if info.is_gpu() => device.memory_pool_usage().map(|usage| usage.bytes_reserved),
        _ => None,
    };
    s.gpu_peak_bytes = s.gpu_peak_bytes.max(gpu_bytes.unwrap_or(0));
    WorkerMemory { wasm_bytes, gpu_bytes, gpu_peak_bytes: gpu_bytes.map(|_| s.gpu_peak_bytes) }
}

/// The name of the performance mark the worker sets at each report of training steps: they show in the
/// browser's performance tools on the worker's track, and `responsive.test.mjs` counts them while the page's
/// thread is frozen to show that the steps do not need it.
const STEPS_MARK: &str = "polyprompt-steps";

fn mark_steps() {
    if let Some(performance) = scope().performance() {
        let _ = performance.mark(STEPS_MARK);
    }
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn post(id: u32, body: Reply) {
    match serde_wasm_bindgen::to_value(&Envelope { id, body }) {
        Ok(message) => {
            if let Err(error) = scope().post_message(&message) {
                web_sys::console::error_2(&"the worker could not post a reply:".into(), &error);
            }
        }
        Err(error) => web_sys::console::error_1(&format!("the worker could not encode a reply: {error}").into()),
    }
}

fn receive(state: &Shared, data: JsValue) {
    let Envelope { id, body } = match serde_wasm_bindgen::from_value::<Envelope<Request>>(data.clone()) {
        Ok(envelope) => envelope,
        Err(error) => {
            return web_sys::console::error_1(&format!("the worker got a request it cannot read: {error}").into());
        }
    };
    match body {
        Request::Start { compute } => {
            let state = state.clone();
            spawn_local(async move {
                let (device, backend, speed) = backend::init(compute).await;
                let check = backend::engine_check(&device).await;
                state.borrow_mut().device = Some((device, backend.clone()));
                post(id, Reply::Ready { backend, check, speed });
            });
        }
        Request::Memory => post(id, Reply::Memory(memory(state))),
        Request::Load(files) => {
            // The page posts the weights as an array of pieces (see `app::download::FileBytes`).
            let pieces = Reflect::get(&data, &PAYLOAD.into()).ok().filter(Array::is_array).map(|p| Array::from(&p));
            let weights =
                Pieces::new(pieces.iter().flat_map(Array::iter).map(|p| TransferredPiece(p.unchecked_into())));
            post(id, Reply::Loaded(load(state, files, weights)));
            memory(state);
        }
        Request::Train { config, train, dev } => {
            let mut s = state.borrow_mut();
            s.paused = None;
            s.control.cancel();
            s.control = TrainControl::default();
            let Some(loaded) = s.loaded.clone() else {
                return post(id, Reply::Stopped { outcome: Err(NO_MODEL.into()), prompt: None });
            };
            let control = s.control.clone();
            drop(s);
            let state = state.clone();
            spawn_local(async move {
                match Trainer::new(&loaded.model, &loaded.tokenizer, config, &train, &dev) {
                    Ok(trainer) => drive(id, &state, loaded, trainer, control).await,
                    Err(error) => post(id, Reply::Stopped { outcome: Err(error.to_string()), prompt: None }),
                }
            });
        }
        Request::Resume => {
            let mut s = state.borrow_mut();
            let (Some(trainer), Some(loaded)) = (s.paused.take(), s.loaded.clone()) else {
                let outcome = Err("there is no paused run to resume".to_string());
                return post(id, Reply::Stopped { outcome, prompt: None });
            };
            s.control.set_paused(false);
            let control = s.control.clone();
            drop(s);
            let state = state.clone();
            spawn_local(async move { drive(id, &state, loaded, trainer, control).await });
        }
        Request::Pause => state.borrow().control.set_paused(true),
        Request::Cancel => {
            let mut s = state.borrow_mut();
            s.control.cancel();
            s.paused = None;
        }
        Request::Evaluate { prompt, language, examples } => {
            let Some(loaded) = state.borrow().loaded.clone() else {
                return post(id, Reply::Evaluated(Err(NO_MODEL.into())));
            };
            let state = state.clone();
            spawn_local(async move {
                let result = evaluate(&loaded, &prompt, &language, &examples).await;
                memory(&state);
                post(id, Reply::Evaluated(result));
            });
        }
        Request::Predict { prompt, texts } => {
            let Some(loaded) = state.borrow().loaded.clone() else {
                return post(id, Reply::Predicted(Err(NO_MODEL.into())));
            };
            spawn_local(async move { post(id, Reply::Predicted(predict(&loaded, &prompt, &texts).await)) });
        }
    }
}

/// A piece of the weights file as the page transferred it (an `ArrayBuffer`, moved, not copied): it stays
/// in the worker's JavaScript heap, and each tensor is copied into wasm memory only while it is converted
/// and uploaded. wasm memory never shrinks, so a whole f32 checkpoint copied in would stay taken for good.
struct TransferredPiece(Uint8Array);

impl ByteSource for TransferredPiece {
    fn size(&self) -> u64 {
        self.0.length() as u64
    }

    fn read_at(&self, range: std::ops::Range<u64>) -> std::io::Result<Cow<'_, [u8]>> {
        if range.start > range.end || range.end > self.size() {
            return Err(past_the_end(&range, self.size()));
        }
        Ok(Cow::Owned(self.0.subarray(range.start as u32, range.end as u32).to_vec()))
    }
}

/// Parses and uploads the model as `files.dtype`; every failure says which file is at fault, and a model
/// the worker or the GPU cannot hold is refused before anything is allocated ([`check_fits`]).
/// Any run on the model loaded before is cancelled.
fn load(state: &Shared, files: LoadModel, weights: Pieces<TransferredPiece>) -> Result<(), String> {
    let mut s = state.borrow_mut();
    let Some((device, backend)) = s.device.clone() else {
        return Err("the compute device is still starting: wait for the engine check".into());
    };
    s.control.cancel();
    s.paused = None;
    s.loaded = None;
    drop(s);
    let config = std::str::from_utf8(&files.config)
        .map_err(|e| e.to_string())
        .and_then(|text| ModelConfig::from_json(text).map_err(|e| e.to_string()))
        .map_err(|e| format!("config.json: {e}"))?;
    let tokenizer = TextTokenizer::from_bytes(&files.tokenizer).map_err(|e| format!("tokenizer.json: {e}"))?;
    tokenizer.check_against(&config).map_err(|e| format!("tokenizer.json does not fit the model: {e}"))?;
    let file = WeightsFile::named(&files.weights_name, &weights);
    // Checked for a step of the paper's batch; the page checked the same before downloading.
    let step = estimate::step_activation_bytes(&config, Backprop::for_dtype(files.dtype), StepShape::typical(8));
    let max_chunk_bytes = check_fits(&backend, &files.source, &config, files.dtype, step)?;
    let options = LoadOptions { max_chunk_bytes, dtype: Some(files.dtype) };
    let model = model::load(&config, file, &device, &options).map_err(|e| format!("{}: {e}", files.weights_name))?;
    state.borrow_mut().loaded = Some(Loaded { name: files.name, model: Rc::new(model), tokenizer: Rc::new(tokenizer) });
    Ok(())
}

/// Runs `trainer` until it stops, posting its events; posts the best prompt at each improvement and the
/// kept prompt when it stops, and keeps a paused trainer for resuming.
async fn drive(id: u32, state: &Shared, loaded: Loaded, mut trainer: Trainer, control: TrainControl) {
    let bytes = |file: PromptFile| ByteBuf::from(file.to_safetensors());
    // Where a step has got to, at most four times a second: a tiny model takes thousands of steps a minute.
    let mut last_report = web_time::Instant::now();
    trainer.report_step_progress(move |progress| {
        if last_report.elapsed().as_millis() >= 250 {
            last_report = web_time::Instant::now();
            post(id, Reply::InStep(progress));
        }
    });
    let outcome = trainer
        .run(&loaded.model, &control, READBACK_EVERY, |event, now| match event {
            TrainEvent::Steps { records, progress } => {
                memory(state);
                mark_steps();
                post(id, Reply::Steps { records, progress })
            }
            TrainEvent::Validation { record, improved } => {
                let best = improved.then(|| PromptFile::best_of_run(now, &loaded.name)).flatten().map(bytes);
                post(id, Reply::Validation { record, best });
            }
        })
        .await;
    // A lost device cannot read the current prompt back; the best one so far is already on the host.
    let kept = match PromptFile::of_run(&mut trainer, &loaded.name).await {
        Ok(file) => Some(file),
        Err(error) => {
            web_sys::console::error_1(&format!("the prompt could not be read back: {error}").into());
            PromptFile::best_of_run(&trainer, &loaded.name)
        }
    };
    // Kept only if no other run or model replaced this one meanwhile (that cancelled it).
    if outcome == Ok(RunOutcome::Paused) && !control.is_cancelled() {
        state.borrow_mut().paused = Some(trainer);
    }
    post(id, Reply::Stopped { outcome: outcome.map_err(|e| e.to_string()), prompt: kept.map(bytes) });
}

async fn evaluate(loaded: &Loaded, prompt: &[u8], code: &str, examples: &[Example]) -> Result<LanguageResult, String> {
    let language = languages::select(&[code]).map_err(|e| e.to_string())?.remove(0);
    let (tensor, setup) = prompt_on(loaded, prompt)?;
    eval::evaluate(&loaded.model, &loaded.tokenizer, &tensor, &setup, &language, examples, |_, _| {})
        .await
        .map_err(|e| format!("{}: {e}", language.name))
}

async fn predict(loaded: &Loaded, prompt: &[u8], texts: &[String]) -> Result<Vec<Prediction>, String> {
    let (tensor, setup) = prompt_on(loaded, prompt)?;
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    predict_texts(&loaded.model, &loaded.tokenizer, &tensor, &setup, &texts).await.map_err(|e| e.to_string())
}

/// A prompt file's vectors on the model's device, and how it scores, once it is known to fit the model.
fn prompt_on(loaded: &Loaded, prompt: &[u8]) -> Result<(Tensor<2>, EvalSetup), String> {
    let file = PromptFile::from_safetensors(prompt).map_err(|e| e.to_string())?;
    file.check_compatible(loaded.model.config()).map_err(|e| e.to_string())?;
    let setup = file.eval_setup(&loaded.tokenizer, EVAL_BATCH).map_err(|e| e.to_string())?;
    Ok((file.tensor(loaded.model.device()), setup))
}
