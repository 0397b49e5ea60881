//! The page's handle on the training worker (`crate::worker`): it sends requests and routes each reply to
//! whoever awaits the request it answers. If the worker dies (a crash in its wasm), every waiting request
//! and every later one gets an error that says so, and the page itself keeps working: saved runs and the
//! prompts already handed on are untouched.
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use futures::StreamExt;
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use js_sys::{Array, Reflect, Uint8Array};
use serde_bytes::ByteBuf;
use wasm_bindgen::prelude::*;
use web_sys::{Event, MessageEvent, Worker};

use super::download::js_message;
use super::model_picker::ModelFiles;
use crate::backend::{BackendInfo, EngineCheck, Preference, Speed};
use crate::files::prompt_file::PromptFile;
use crate::task::languages::Language;
use crate::task::sib200::Example;
use crate::tuning::eval::LanguageResult;
use crate::tuning::predict::Prediction;
use crate::tuning::train::{Progress, RunOutcome, StepProgress, StepRecord, TrainConfig, ValidationRecord};
use crate::worker::protocol::{Envelope, LoadModel, PAYLOAD, READY_ID, Reply, Request, WorkerMemory};

/// The loader Trunk writes for the worker binary (index.html's `data-loader-shim`).
const WORKER_SCRIPT: &str = "./polyprompt-worker_loader.js";

/// Cheap to clone; every clone talks to the same worker.
#[derive(Clone)]
pub struct Engine {
    inner: Rc<Inner>,
}

struct Inner {
    worker: Worker,
    next_id: Cell<u32>,
    waiting: RefCell<HashMap<u32, UnboundedSender<Reply>>>,
    /// Why the worker is gone, once it is.
    dead: RefCell<Option<String>>,
    /// Told once, when the worker dies.
    on_death: RefCell<Option<OnDeath>>,
    /// Whether the worker got its device up (a worker that never did is not worth restarting).
    started: Cell<bool>,
    /// Messages posted before the worker said it listens; `None` once it has.
    held: RefCell<Option<Vec<Outgoing>>>,
}

/// A message for the worker, and the buffer it transfers.
type Outgoing = (JsValue, Option<Uint8Array>);
/// What the page does when its worker dies (start another).
type OnDeath = Box<dyn FnOnce(String)>;

/// The worker's device, once started.
#[derive(Clone, Debug, PartialEq)]
pub struct Ready {
    pub backend: BackendInfo,
    pub check: Result<EngineCheck, String>,
    pub speed: Speed,
}

/// What a run reports, with its prompt files decoded. It mirrors the run's variants of `protocol::Reply` on
/// purpose: the protocol carries bytes across the worker boundary, this carries the decoded `PromptFile`s.
pub enum RunEvent {
    /// Where the step under way has got to.
    InStep(StepProgress),
    Steps {
        records: Vec<StepRecord>,
        progress: Progress,
    },
    /// A validation, with the run's new best prompt when it improved.
    Validation {
        record: ValidationRecord,
        best: Option<PromptFile>,
    },
    /// The run stopped, keeping `prompt` (if any); the last event of a run.
    Stopped {
        outcome: Result<RunOutcome, String>,
        prompt: Option<PromptFile>,
    },
}

/// The events of one run (started or resumed), in order.
pub struct Run {
    replies: UnboundedReceiver<Reply>,
    engine: Engine,
}

impl Engine {
    /// Starts the worker on the device `compute` asks for; `on_ready` gets its backend, engine check and
    /// measured speed once the device is up, or why the worker could not start; `on_death` gets why a
    /// worker that had started stopped, after every request waiting on it has been told.
    pub fn spawn(
        compute: Preference,
        on_ready: impl FnOnce(Result<Ready, String>) + 'static,
        on_death: impl FnOnce(String) + 'static,
    ) -> Result<Engine, String> {
        let worker = Worker::new(WORKER_SCRIPT)
            .map_err(|e| format!("the training worker could not start ({})", js_message(&e)))?;
        let engine = Engine {
            inner: Rc::new(Inner {
                worker,
                next_id: Cell::new(READY_ID),
                waiting: RefCell::default(),
                dead: RefCell::default(),
                on_death: RefCell::new(Some(Box::new(on_death))),
                started: Cell::new(false),
                held: RefCell::new(Some(Vec::new())),
            }),
        };

        // The closures hold the state weakly: the worker's handlers must not keep the page's handle alive.
        let weak = Rc::downgrade(&engine.inner);
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(inner) = weak.upgrade() {
                inner.route(event.data());
            }
        });
        let weak = Rc::downgrade(&engine.inner);
        // An uncaught error in the worker comes as an ErrorEvent with a message; a worker script that
        // failed to load, as a bare Event.
        let on_error = Closure::<dyn FnMut(Event)>::new(move |event: Event| {
            if let Some(inner) = weak.upgrade() {
                let message = Reflect::get(&event, &"message".into()).ok().and_then(|m| m.as_string());
                inner.die(message.unwrap_or_else(|| format!("its script {WORKER_SCRIPT} could not be loaded")));
            }
        });
        engine.inner.worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        engine.inner.worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        on_message.forget();
        on_error.forget();
        let mut ready = engine.send(Request::Start { compute }, None);
        let handle = engine.clone();
        wasm_bindgen_futures::spawn_local(async move {
            match ready.next().await {
                Some(Reply::Ready { backend, check, speed }) => {
                    handle.inner.started.set(true);
                    on_ready(Ok(Ready { backend, check, speed }))
                }
                other => on_ready(Err(handle.unexpected(other))),
            }
        });
        Ok(engine)
    }

    /// Uploads a model, replacing the one loaded (and ending any run on it). The weights' buffer is
    /// transferred to the worker, not copied: the page keeps nothing of it.
    pub async fn load(&self, files: ModelFiles) -> Result<(), String> {
        let ModelFiles { name, source, config, tokenizer, weights_name, weights, dtype, .. } = files;
        let request = Request::Load(LoadModel {
            name,
            source,
            config: ByteBuf::from(config),
            tokenizer: ByteBuf::from(tokenizer),
            weights_name,
            dtype,
        });
        match self.send(request, Some(weights)).next().await {
            Some(Reply::Loaded(result)) => result,
            other => Err(self.unexpected(other)),
        }
    }

    /// Starts a run on the loaded model.
    pub fn train(&self, config: TrainConfig, train: Vec<Example>, dev: Vec<Example>) -> Run {
        Run { replies: self.send(Request::Train { config, train, dev }, None), engine: self.clone() }
    }

    /// Continues the paused run.
    pub fn resume(&self) -> Run {
        Run { replies: self.send(Request::Resume, None), engine: self.clone() }
    }

    /// Pauses the running run at its next step; its [`Run`] then ends with `Stopped`.
    pub fn pause(&self) {
        self.send(Request::Pause, None);
    }

    /// Cancels the running run, or discards the paused one.
    pub fn cancel(&self) {
        self.send(Request::Cancel, None);
    }

    /// Evaluates `prompt` on one language's examples.
    pub async fn evaluate(
        &self,
        prompt: &PromptFile,
        language: &Language,
        examples: Vec<Example>,
    ) -> Result<LanguageResult, String> {
        let request = Request::Evaluate {
            prompt: ByteBuf::from(prompt.to_safetensors()),
            language: language.code.to_string(),
            examples,
        };
        match self.send(request, None).next().await {
            Some(Reply::Evaluated(result)) => result,
            other => Err(self.unexpected(other)),
        }
    }

    /// Classifies `texts` with `prompt`: each one's topic probabilities.
    pub async fn predict(&self, prompt: &PromptFile, texts: Vec<String>) -> Result<Vec<Prediction>, String> {
        let request = Request::Predict { prompt: ByteBuf::from(prompt.to_safetensors()), texts };
        match self.send(request, None).next().await {
            Some(Reply::Predicted(result)) => result,
            other => Err(self.unexpected(other)),
        }
    }

    /// What the worker holds in memory now (and its GPU peak).
    pub async fn memory(&self) -> Result<WorkerMemory, String> {
        match self.send(Request::Memory, None).next().await {
            Some(Reply::Memory(memory)) => Ok(memory),
            other => Err(self.unexpected(other)),
        }
    }

    /// Posts `body` (with `payload` transferred beside it); the receiver gets the replies to it.
    fn send(&self, body: Request, payload: Option<Uint8Array>) -> UnboundedReceiver<Reply> {
        let (sender, receiver) = unbounded();
        if self.death().is_some() {
            return receiver; // dropping `sender` closes it: the caller reports the death
        }
        let id = self.inner.next_id.get();
        self.inner.next_id.set(id + 1);
        let expects_reply = body.expects_reply();
        let posted = serde_wasm_bindgen::to_value(&Envelope { id, body })
            .map_err(|e| JsValue::from_str(&e.to_string()))
            .and_then(|message| match self.inner.held.borrow_mut().as_mut() {
                Some(held) => {
                    held.push((message, payload));
                    Ok(())
                }
                None => self.inner.post(&message, payload),
            });
        match posted {
            Ok(()) if expects_reply => {
                self.inner.waiting.borrow_mut().insert(id, sender);
            }
            Ok(()) => {}
            Err(error) => self.inner.die(format!("a message could not be sent to it ({})", js_message(&error))),
        }
        receiver
    }

    fn death(&self) -> Option<String> {
        self.inner.dead.borrow().as_ref().map(|why| {
            if self.inner.started.get() {
                format!(
                    "the training worker stopped ({why}); the page starts a new one — saved runs and prompts are kept"
                )
            } else {
                format!("the training worker stopped ({why}): reload the page — saved runs and prompts are kept")
            }
        })
    }

    /// The error for a reply stream that ended or answered out of turn.
    fn unexpected(&self, reply: Option<Reply>) -> String {
        match reply {
            None => self.death().unwrap_or_else(|| "the training worker stopped answering: reload the page".into()),
            Some(other) => format!("the training worker answered out of turn ({other:?})"),
        }
    }
}

impl Inner {
    /// Posts `message`, with `payload`'s buffer transferred beside it.
    fn post(&self, message: &JsValue, payload: Option<Uint8Array>) -> Result<(), JsValue> {
        match payload {
            Some(payload) => {
                Reflect::set(message, &PAYLOAD.into(), &payload)?;
                self.worker.post_message_with_transfer(message, &Array::of1(&payload.buffer()))
            }
            None => self.worker.post_message(message),
        }
    }

    fn route(&self, data: JsValue) {
        let Envelope { id, body } = match serde_wasm_bindgen::from_value::<Envelope<Reply>>(data) {
            Ok(envelope) => envelope,
            Err(error) => return self.die(format!("it sent a message the page cannot read: {error}")),
        };
        if body == Reply::Listening {
            // Now what was held can go, in order.
            let held = self.held.borrow_mut().take().unwrap_or_default();
            for (message, payload) in held {
                if let Err(error) = self.post(&message, payload) {
                    return self.die(format!("a message could not be sent to it ({})", js_message(&error)));
                }
            }
            return;
        }
        let last = body.ends_stream();
        let mut waiting = self.waiting.borrow_mut();
        if let Some(sender) = waiting.get(&id) {
            let _ = sender.unbounded_send(body);
        }
        if last {
            waiting.remove(&id);
        }
    }

    /// Records why the worker is gone, closes every waiting stream, then tells `on_death` (once).
    fn die(&self, why: String) {
        web_sys::console::error_1(&format!("training worker: {why}").into());
        self.dead.borrow_mut().get_or_insert(why.clone());
        self.waiting.borrow_mut().clear();
        self.worker.terminate();
        let on_death = self.on_death.borrow_mut().take();
        if let Some(on_death) = on_death.filter(|_| self.started.get()) {
            // After the streams' receivers have seen them close.
            wasm_bindgen_futures::spawn_local(async move { on_death(why) });
        }
    }
}

impl Run {
    /// The next event; a stream that ends without `Stopped` (the worker died) ends as a failed run.
    pub async fn next(&mut self) -> RunEvent {
        let prompt = |bytes: ByteBuf| match PromptFile::from_safetensors(&bytes) {
            Ok(file) => Some(file),
            Err(error) => {
                web_sys::console::error_1(&format!("the worker sent an unreadable prompt: {error}").into());
                None
            }
        };
        match self.replies.next().await {
            Some(Reply::InStep(progress)) => RunEvent::InStep(progress),
            Some(Reply::Steps { records, progress }) => RunEvent::Steps { records, progress },
            Some(Reply::Validation { record, best }) => RunEvent::Validation { record, best: best.and_then(prompt) },
            Some(Reply::Stopped { outcome, prompt: kept }) => {
                RunEvent::Stopped { outcome, prompt: kept.and_then(prompt) }
            }
            other => RunEvent::Stopped { outcome: Err(self.engine.unexpected(other)), prompt: None },
        }
    }
}
