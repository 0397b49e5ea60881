//! The messages between the page and the training worker. The page holds the interface and the files;
//! the worker holds the compute device, the loaded model and any run, so that kernel compilation, training
//! steps and evaluation never block the page. Every request carries an id and every reply names the
//! request it answers; a training request is answered by a stream of replies that ends with `Stopped`.
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::backend::{BackendInfo, EngineCheck, Preference, Speed};
use crate::model::WeightDtype;
use crate::task::sib200::Example;
use crate::tuning::eval::LanguageResult;
use crate::tuning::predict::Prediction;
use crate::tuning::train::{Progress, RunOutcome, StepProgress, StepRecord, TrainConfig, ValidationRecord};

/// The id of [`Request::Start`], the page's first message, and of its answer [`Reply::Ready`].
pub const READY_ID: u32 = 0;
/// The property of a posted request that carries its transferred bytes: an array of `Uint8Array` pieces.
pub const PAYLOAD: &str = "payload";

/// A message with the id of the request it belongs to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub id: u32,
    pub body: T,
}

/// Page → worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// Start the compute device `compute` asks for (measuring WebGPU against the CPU when it may choose)
    /// and run the engine check: answered by [`Reply::Ready`]. Sent once, first.
    Start { compute: Preference },
    /// What the worker holds in memory (answered by [`Reply::Memory`]).
    Memory,
    /// Parse and upload a model, replacing the one loaded. Its weights travel beside the message as
    /// transferred buffers, in pieces (not copied, and not through serde: they can be gigabytes, and the
    /// browser posts no single buffer of over about 2 GiB).
    Load(LoadModel),
    /// Start a run on the loaded model (a paused one is discarded).
    Train { config: TrainConfig, train: Vec<Example>, dev: Vec<Example> },
    /// Continue the paused run; answered like `Train`.
    Resume,
    /// Pause the running run at its next step (no reply of its own: the run's stream ends with `Stopped`).
    Pause,
    /// Cancel the running run, or discard the paused one.
    Cancel,
    /// Evaluate a prompt file on one language's examples.
    Evaluate { prompt: ByteBuf, language: String, examples: Vec<Example> },
    /// Classify texts with a prompt file: each one's topic probabilities ("Try it").
    Predict { prompt: ByteBuf, texts: Vec<String> },
}

impl Request {
    /// Whether the worker answers this request (pause and cancel act on a run, whose own stream reports).
    pub fn expects_reply(&self) -> bool {
        !matches!(self, Request::Pause | Request::Cancel)
    }
}

/// A model's files as the worker needs them (weights apart, see [`Request::Load`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadModel {
    pub name: String,
    pub source: String,
    pub config: ByteBuf,
    pub tokenizer: ByteBuf,
    pub weights_name: String,
    pub dtype: WeightDtype,
}

/// Worker → page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Reply {
    /// Sent once, unprompted (id [`READY_ID`]), as soon as the worker listens: a message posted to a worker
    /// before its wasm has started and set its handler is lost, so the page holds its requests until this.
    Listening,
    /// The device is up and the engine check ran (id [`READY_ID`]).
    Ready {
        backend: BackendInfo,
        check: Result<EngineCheck, String>,
        speed: Speed,
    },
    Memory(WorkerMemory),
    Loaded(Result<(), String>),
    /// Where the step under way has got to (at most a few times a second).
    InStep(StepProgress),
    /// Losses read back since the last report.
    Steps {
        records: Vec<StepRecord>,
        progress: Progress,
    },
    /// A validation, with the run's new best prompt file when it improved.
    Validation {
        record: ValidationRecord,
        best: Option<ByteBuf>,
    },
    /// The run stopped; `prompt` is the file it keeps (its prompt so far, or its best one when the
    /// current one cannot be read back), if any.
    Stopped {
        outcome: Result<RunOutcome, String>,
        prompt: Option<ByteBuf>,
    },
    Evaluated(Result<LanguageResult, String>),
    Predicted(Result<Vec<Prediction>, String>),
}

impl Reply {
    /// Whether this is the last reply to its request: a run's stream stays open until `Stopped`, every
    /// other request has one reply.
    pub fn ends_stream(&self) -> bool {
        !matches!(self, Reply::InStep(_) | Reply::Steps { .. } | Reply::Validation { .. })
    }
}

/// What the worker holds: its wasm memory (which never shrinks, so also its peak) and what the GPU device's
/// allocator holds now and at most since the worker started (reserved, not only in use; `None` on the CPU).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerMemory {
    pub wasm_bytes: u64,
    pub gpu_bytes: Option<u64>,
    pub gpu_peak_bytes: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::languages::LANGUAGES;
    use crate::tuning::train::StepPhase;

    /// The page and the worker decode what the other encodes (serde_json stands in for the
    /// structured-clone encoding of serde-wasm-bindgen, which shares the same derive).
    #[test]
    fn requests_and_replies_survive_encoding() {
        let example = Example { index_id: 7, label: 3, text: "Ein Satz.".into() };
        let requests = [
            Request::Start { compute: Preference::Gpu },
            Request::Memory,
            Request::Load(LoadModel {
                name: "facebook/xglm-564M".into(),
                source: "local files".into(),
                config: ByteBuf::from(b"{}".to_vec()),
                tokenizer: ByteBuf::from(vec![0u8, 255]),
                weights_name: "model.safetensors".into(),
                dtype: WeightDtype::Int8,
            }),
            Request::Train { config: TrainConfig::paper(4), train: vec![example.clone()], dev: vec![] },
            Request::Resume,
            Request::Evaluate {
                prompt: ByteBuf::from(vec![1, 2, 3]),
                language: "swh_Latn".into(),
                examples: vec![example],
            },
            Request::Predict { prompt: ByteBuf::from(vec![4]), texts: vec!["Habari za asubuhi".into()] },
        ];
        for (id, body) in requests.into_iter().enumerate() {
            let envelope = Envelope { id: id as u32, body };
            let back: Envelope<Request> = serde_json::from_str(&serde_json::to_string(&envelope).unwrap()).unwrap();
            assert_eq!(back, envelope);
        }
        let result = crate::tuning::eval::LanguageResult::score(
            &LANGUAGES[0],
            &crate::task::labels::sib200_classes(),
            &[0, 1, 2],
            &[0, 1, 1],
        );
        let replies = [
            Reply::Listening,
            Reply::Ready {
                backend: BackendInfo::Cpu { reason: "no WebGPU".into() },
                check: Err("lost".into()),
                speed: Speed { gflops: 8.5, alternative: Some(("WebGPU · swiftshader".into(), 1.5)) },
            },
            Reply::Memory(WorkerMemory { wasm_bytes: 3 << 30, gpu_bytes: Some(1 << 30), gpu_peak_bytes: None }),
            Reply::InStep(StepProgress { phase: StepPhase::Backward, layer: 3, layers: 24 }),
            Reply::Stopped { outcome: Ok(RunOutcome::Paused), prompt: Some(ByteBuf::from(vec![9])) },
            Reply::Evaluated(Ok(result)),
            Reply::Predicted(Ok(vec![crate::tuning::predict::Prediction::from_scores(
                &["yes".into(), "no".into()],
                &[0.5; 2],
            )])),
        ];
        for body in replies {
            let envelope = Envelope { id: READY_ID, body };
            let back: Envelope<Reply> = serde_json::from_str(&serde_json::to_string(&envelope).unwrap()).unwrap();
            assert_eq!(back, envelope);
        }
    }
}
