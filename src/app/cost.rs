//! What a model will cost on this device, said before anything is downloaded and again before training:
//! whether it fits (refused with the figure and the way out if not), the memory a step needs, and the time
//! of a step, of a run and of an evaluation from the device's measured speed (`tuning::estimate`).
use super::DeviceState;
use crate::format;
use crate::model::fit::check_fits;
use crate::model::{ModelConfig, WeightDtype};
use crate::task::languages::LANGUAGES;
use crate::tuning::estimate::{self, StepShape};
use crate::tuning::train::Backprop;

/// Sentences in a language's SIB-200 test split, and in the quick preview's sample of it.
const TEST_SENTENCES: usize = 204;
const QUICK_SENTENCES: usize = 28;
/// A run longer than this on the CPU is worth a warning before it starts.
const LONG_RUN_SECONDS: f64 = 3600.0;

/// A run's size: steps at a batch size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunSize {
    pub steps: usize,
    pub batch: usize,
}

impl RunSize {
    /// The paper's recipe: 8 examples per topic, batch 8, 20 epochs.
    pub const PAPER: RunSize = RunSize { steps: 140, batch: 8 };
}

/// "about 0.9 GB to train; about 70 s a step on this CPU, 2 h 45 min for 140 steps; …", or why `config`
/// as `dtype` cannot be trained here. `None` until the device is up.
pub fn summary(
    name: &str,
    config: &ModelConfig,
    dtype: WeightDtype,
    run: RunSize,
    device: &DeviceState,
) -> Option<Result<String, String>> {
    let DeviceState::Ready { info, speed, .. } = device else { return None };
    let shape = StepShape::typical(run.batch);
    let backprop = Backprop::for_dtype(dtype);
    let activations = estimate::step_activation_bytes(config, backprop, shape);
    if let Err(refusal) = check_fits(info, name, config, dtype, activations) {
        return Some(Err(refusal));
    }
    let memory = config.size_estimate(dtype).device_bytes + activations;
    let step = estimate::step_seconds(config, backprop, shape, speed.gflops);
    let total = step * run.steps as f64;
    let languages = LANGUAGES.len();
    let full = estimate::evaluation_seconds(config, languages * TEST_SENTENCES, speed.gflops);
    let quick = estimate::evaluation_seconds(config, languages * QUICK_SENTENCES, speed.gflops);
    let device_name = if info.is_gpu() { "this GPU" } else { "this CPU" };
    let mut text = format!(
        "About {} to train; about {} a step on {device_name}, {} for {} steps; evaluating {languages} languages \
         about {} (the quick preview {}).",
        format::bytes(memory),
        format::duration(step),
        format::duration(total),
        run.steps,
        format::duration(full),
        format::duration(quick),
    );
    if !info.is_gpu() && total > LONG_RUN_SECONDS {
        text.push_str(
            " That is long on the CPU: a browser with a hardware WebGPU adapter is far faster; fewer epochs, or \
             the quick preview for evaluation, shorten it.",
        );
    }
    Some(Ok(text))
}
