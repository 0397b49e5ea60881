//! A run's full state as one safetensors file (trainable tensors, AdamW's moments, the best prompt; settings,
//! history and the sampled examples' ids in the header), and continuing from it bit-exactly.
use std::collections::BTreeMap;

use burn::optim::{AdamWState, AdaptiveMomentumState};
use burn::tensor::{Tensor, TensorData};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use super::recipe::TrainConfig;
use super::trainer::{BestPrompt, StepRecord, TrainError, Trainer, ValidationRecord};
use crate::backend::read_f32;
use crate::model::tokenizer::TextTokenizer;
use crate::model::{CausalLm, Family};
use crate::task::sib200::Example;
use crate::tuning::prompt::SoftPrompt;

impl Trainer {
    /// Everything needed to continue the run later, as one safetensors file: the trainable tensors, AdamW's
    /// moments, the best prompt, and (in the header) settings, history and the sampled examples' ids.
    pub async fn save(&mut self) -> Result<Vec<u8>, TrainError> {
        self.flush().await?;
        let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
        let names = self.prompt().param_names();
        let mut adam_times = Vec::new();
        for ((param, moment), name) in self.prompt().params().into_iter().zip(&self.inner.moments).zip(names) {
            let shape = param.dims().to_vec();
            tensors.push((format!("param.{name}"), shape.clone(), read_f32(param).await?));
            if let Some(state) = moment {
                let m = &state.momentum;
                tensors.push((format!("adam_m.{name}"), shape.clone(), read_f32(m.moment_1.clone()).await?));
                tensors.push((format!("adam_v.{name}"), shape, read_f32(m.moment_2.clone()).await?));
                adam_times.push(m.time);
            }
        }
        if let Some(best) = &self.best {
            tensors.push((
                "best".into(),
                vec![self.config.prompt.length, best.vectors.len() / self.config.prompt.length],
                best.vectors.clone(),
            ));
        }
        let state = CheckpointState {
            format: CHECKPOINT_FORMAT.into(),
            config: self.config.clone(),
            family: self.family,
            steps_done: self.steps_done(),
            adam_times,
            sample_ids: self.sample_ids.clone(),
            history: self.history.clone(),
            validations: self.validations.clone(),
            best: self.best.clone(),
        };
        let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
            .into_iter()
            .map(|(name, shape, values)| (name, values.iter().flat_map(|v| v.to_le_bytes()).collect(), shape))
            .collect();
        let views: Vec<(String, TensorView)> = bytes
            .iter()
            .map(|(name, data, shape)| {
                (name.clone(), TensorView::new(Dtype::F32, shape.clone(), data).expect("sizes match"))
            })
            .collect();
        let metadata =
            BTreeMap::from([(CHECKPOINT_KEY.to_string(), serde_json::to_string(&state).expect("serialises"))]);
        safetensors::serialize(views, Some(metadata.into_iter().collect()))
            .map_err(|e| TrainError::Checkpoint(e.to_string()))
    }

    /// Continues a run saved by [`save`](Self::save), with the same splits it was started from.
    pub fn resume(
        model: &CausalLm,
        tokenizer: &TextTokenizer,
        checkpoint: &[u8],
        train_split: &[Example],
        dev_split: &[Example],
    ) -> Result<Trainer, TrainError> {
        let bad = |why: String| TrainError::Checkpoint(why);
        let (_, header) = SafeTensors::read_metadata(checkpoint).map_err(|e| bad(e.to_string()))?;
        let tensors = SafeTensors::deserialize(checkpoint).map_err(|e| bad(e.to_string()))?;
        let state: CheckpointState = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get(CHECKPOINT_KEY))
            .ok_or_else(|| bad("no polyprompt state in its header".into()))
            .and_then(|json| serde_json::from_str(json).map_err(|e| bad(e.to_string())))?;
        if state.family != model.config().family {
            return Err(bad(format!(
                "it was trained on a {} model, this is {}",
                state.family.name(),
                model.config().family.name()
            )));
        }
        let device = model.device();
        let read = |name: &str| -> Result<Tensor<2>, TrainError> {
            let view = tensors.tensor(name).map_err(|_| bad(format!("tensor `{name}` is missing")))?;
            if view.dtype() != Dtype::F32 || view.shape().len() != 2 {
                return Err(bad(format!("tensor `{name}` is not a 2-D f32 tensor")));
            }
            let values: Vec<f32> =
                view.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
            Ok(Tensor::from_data(TensorData::new(values, [view.shape()[0], view.shape()[1]]), device))
        };
        let fresh =
            SoftPrompt::init(&state.config.prompt, model, tokenizer, state.config.placement, state.config.seed)?;
        let names = fresh.param_names();
        let params = names.iter().map(|n| read(&format!("param.{n}"))).collect::<Result<Vec<_>, _>>()?;
        let prompt = fresh.with_params(params)?;
        let mut trainer = Trainer::with_prompt(model, tokenizer, state.config, train_split, dev_split, prompt)?;
        if trainer.sample_ids != state.sample_ids {
            return Err(TrainError::DataChanged);
        }
        if state.steps_done > trainer.total_steps()
            || !(state.adam_times.is_empty() || state.adam_times.len() == names.len())
        {
            return Err(bad("its step counts do not fit its settings".into()));
        }
        for ((moment, name), &time) in trainer.inner.moments.iter_mut().zip(names).zip(&state.adam_times) {
            let momentum =
                AdaptiveMomentumState::new(time, read(&format!("adam_m.{name}"))?, read(&format!("adam_v.{name}"))?);
            *moment = Some(AdamWState::new(momentum));
        }
        trainer.inner.step = state.steps_done;
        trainer.history = state.history;
        trainer.validations = state.validations;
        trainer.best = match state.best {
            Some(best) => {
                let vectors = read("best")?.into_data().try_into_vec::<f32>().map_err(|e| bad(format!("{e:?}")))?;
                Some(BestPrompt { vectors, ..best })
            }
            None => None,
        };
        Ok(trainer)
    }
}

const CHECKPOINT_KEY: &str = "polyprompt_checkpoint";
const CHECKPOINT_FORMAT: &str = "polyprompt-checkpoint-1";

#[derive(Serialize, Deserialize)]
struct CheckpointState {
    format: String,
    config: TrainConfig,
    family: Family,
    steps_done: usize,
    /// AdamW's step count per trainable tensor (empty before the first step).
    adam_times: Vec<usize>,
    sample_ids: Vec<u32>,
    history: Vec<StepRecord>,
    validations: Vec<ValidationRecord>,
    best: Option<BestPrompt>,
}
