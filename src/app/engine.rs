//! The page's handle on the training worker (`crate::worker`): it sends requests and routes each reply to
//! whoever awaits the request it answers. If the worker dies (a crash in its wasm), every waiting request
//! and every later one gets an error that says so, and the page itself keeps working: saved runs and the
//! prompts already handed on are untouched. A message the browser refuses to post (too large, say) is that
//! request's error, not the worker's death.
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
    waiting: RefCell<HashMap<u32, UnboundedSender<Answer>>>,
    /// Why the worker is gone, once it is.
    dead: RefCell<Option<String>>,
    /// Told once, when the worker dies.
    on_death: RefCell<Option<OnDeath>>,
    /// Whether the worker got its device up (a worker that never did is not worth restarting).
    started: Cell<bool>,
    /// Messages posted before the worker said it listens; `None` once it has.
    held: RefCell<Option<Vec<Outgoing>>>,
}

/// A message for the worker, with its id and the buffers it transfers.
struct Outgoing {
    id: u32,
    message: JsValue,
    payload: Vec<Uint8Array>,
}
/// A reply, or why the browser refused to post the request (the worker never saw it).
type Answer = Result<Reply, String>;
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
    replies: UnboundedReceiver<Answer>,
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
        let mut ready = engine.send(Request::Start { compute }, Vec::new());
        let handle = engine.clone();
        wasm_bindgen_futures::spawn_local(async move {
            match ready.next().await {
                Some(Ok(Reply::Ready { backend, check, speed })) => {
                    handle.inner.started.set(true);
                    on_ready(Ok(Ready { backend, check, speed }))
                }
                other => on_ready(Err(handle.unexpected(other))),
            }
        });
        Ok(engine)
    }

    /// Uploads a model, replacing the one loaded (and ending any run on it). The weights' pieces are
    /// transferred to the worker, not copied: the page keeps nothing of them.
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
        match self.send(request, weights.into_pieces()).next().await {
            Some(Ok(Reply::Loaded(result))) => result,
            other => Err(self.unexpected(other)),
        }
    }

    /// Starts a run on the loaded model.
    pub fn train(&self, config: TrainConfig, train: Vec<Example>, dev: Vec<Example>) -> Run {
        Run { replies: self.send(Request::Train { config, train, dev }, Vec::new()), engine: self.clone() }
    }

    /// Continues the paused run.
    pub fn resume(&self) -> Run {
        Run { replies: self.send(Request::Resume, Vec::new()), engine: self.clone() }
    }

    /// Pauses the running run at its next step; its [`Run`] then ends with `Stopped`.
    pub fn pause(&self) {
        self.send(Request::Pause, Vec::new());
    }

    /// Cancels the running run, or discards the paused one.
    pub fn cancel(&self) {
        self.send(Request::Cancel, Vec::new());
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
        match self.send(request, Vec::new()).next().await {
            Some(Ok(Reply::Evaluated(result))) => result,
            other => Err(self.unexpected(other)),
        }
    }

    /// Classifies `texts` with `prompt`: each one's topic probabilities.
    pub async fn predict(&self, prompt: &PromptFile, texts: Vec<String>) -> Result<Vec<Prediction>, String> {
        let request = Request::Predict { prompt: ByteBuf::from(prompt.to_safetensors()), texts };
        match self.send(request, Vec::new()).next().await {
            Some(Ok(Reply::Predicted(result))) => result,
            other => Err(self.unexpected(other)),
        }
    }

    /// What the worker holds in memory now (and its GPU peak).
    pub async fn memory(&self) -> Result<WorkerMemory, String> {
        match self.send(Request::Memory, Vec::new()).next().await {
            Some(Ok(Reply::Memory(memory))) => Ok(memory),
            other => Err(self.unexpected(other)),
        }
    }

    /// Posts `body` (with `payload`'s buffers transferred beside it); the receiver gets the replies to it,
    /// or why the browser would not post it.
    fn send(&self, body: Request, payload: Vec<Uint8Array>) -> UnboundedReceiver<Answer> {
        let (sender, receiver) = unbounded();
        if self.death().is_some() {
            return receiver; // dropping `sender` closes it: the caller reports the death
        }
        let id = self.inner.next_id.get();
        self.inner.next_id.set(id + 1);
        if body.expects_reply() {
            self.inner.waiting.borrow_mut().insert(id, sender);
        }
        let message = match serde_wasm_bindgen::to_value(&Envelope { id, body }) {
            Ok(message) => message,
            Err(error) => {
                self.inner.refuse(id, &error.to_string());
                return receiver;
            }
        };
        let outgoing = Outgoing { id, message, payload };
        if let Some(held) = self.inner.held.borrow_mut().as_mut() {
            held.push(outgoing);
            return receiver;
        }
        self.inner.post(outgoing);
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

    /// The error for a reply stream that ended, was refused, or answered out of turn.
    fn unexpected(&self, reply: Option<Answer>) -> String {
        match reply {
            None => self.death().unwrap_or_else(|| "the training worker stopped answering: reload the page".into()),
            Some(Err(refused)) => refused,
            Some(Ok(other)) => format!("the training worker answered out of turn ({other:?})"),
        }
    }
}

impl Inner {
    /// Posts a message, its payload's buffers transferred beside it; a refusal is its request's answer.
    fn post(&self, Outgoing { id, message, payload }: Outgoing) {
        let posted = if payload.is_empty() {
            self.worker.post_message(&message)
        } else {
            let buffers: Array = payload.iter().map(|piece| piece.buffer()).collect();
            let pieces: Array = payload.into_iter().collect();
            Reflect::set(&message, &PAYLOAD.into(), &pieces)
                .and_then(|_| self.worker.post_message_with_transfer(&message, &buffers))
        };
        if let Err(error) = posted {
            self.refuse(id, &js_message(&error));
        }
    }

    /// Answers request `id` with the browser's refusal to post it: the worker never saw it and is fine.
    fn refuse(&self, id: u32, detail: &str) {
        let why = format!(
            "the browser would not hand this to the training worker ({detail}); nothing was lost and the page \
             still works — for a model, try its int8 or f16 file"
        );
        web_sys::console::error_1(&why.clone().into());
        if let Some(sender) = self.waiting.borrow_mut().remove(&id) {
            let _ = sender.unbounded_send(Err(why));
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
            for outgoing in held {
                self.post(outgoing);
            }
            return;
        }
        let last = body.ends_stream();
        let mut waiting = self.waiting.borrow_mut();
        if let Some(sender) = waiting.get(&id) {
            let _ = sender.unbounded_send(Ok(body));
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
            Some(Ok(Reply::InStep(progress))) => RunEvent::InStep(progress),
            Some(Ok(Reply::Steps { records, progress })) => RunEvent::Steps { records, progress },
            Some(Ok(Reply::Validation { record, best })) => {
                RunEvent::Validation { record, best: best.and_then(prompt) }
            }
            Some(Ok(Reply::Stopped { outcome, prompt: kept })) => {
                RunEvent::Stopped { outcome, prompt: kept.and_then(prompt) }
            }
            other => RunEvent::Stopped { outcome: Err(self.engine.unexpected(other)), prompt: None },
        }
    }
}
