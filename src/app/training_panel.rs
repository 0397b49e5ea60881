//! Step 3: the prompt's settings (the paper's defaults), start / pause / resume / cancel, progress with ETA
//! and the live loss chart. The run itself happens in the training worker (`app::engine`), so the page
//! stays responsive while WebGPU compiles kernels and steps run; losses come back every few steps. Each
//! better prompt found by validation is handed on as the run goes (the app saves it at once, so a reload,
//! a crash or a lost GPU keeps it), and whatever ends a run (finish, pause, cancel, an error) hands on its
//! prompt so far.
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::DeviceState;
use super::cost::{self, RunSize};
use super::data::english_training;
use super::engine::{Run, RunEvent};
use super::loss_chart::LossChart;
use super::paper_study::PaperStudy;
use super::session::Session;
use super::task_picker::TaskPicker;
use crate::files::prompt_file::PromptFile;
use crate::format;
use crate::task::own_task::OwnTask;
use crate::task::sib200::{CATEGORIES, Shots};
use crate::tuning::prompt::PromptInit;
use crate::tuning::train::{Progress, RunOutcome, StepPhase, StepProgress, TrainConfig, ValidationRecord};

#[derive(Clone, Debug, PartialEq)]
enum Phase {
    Idle,
    Preparing,
    Running,
    Paused,
    Finished,
    Cancelled,
    Failed(String),
}

impl Phase {
    fn name(&self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Preparing => "preparing",
            Phase::Running => "running",
            Phase::Paused => "paused",
            Phase::Finished => "finished",
            Phase::Cancelled => "cancelled",
            Phase::Failed(_) => "failed",
        }
    }
}

/// The run's settings as the form holds them.
#[derive(Clone, Copy)]
struct Settings {
    length: RwSignal<usize>,
    init: RwSignal<&'static str>,
    reparam: RwSignal<bool>,
    reparam_hidden: RwSignal<usize>,
    learning_rate: RwSignal<f64>,
    epochs: RwSignal<usize>,
    batch: RwSignal<usize>,
    shots: RwSignal<usize>,
    seed: RwSignal<u64>,
}

impl Settings {
    fn paper() -> Settings {
        let paper = TrainConfig::paper(10);
        Settings {
            length: RwSignal::new(paper.prompt.length),
            init: RwSignal::new("uniform"),
            reparam: RwSignal::new(false),
            reparam_hidden: RwSignal::new(crate::tuning::study::PAPER_REPARAM_HIDDEN),
            learning_rate: RwSignal::new(paper.learning_rate),
            epochs: RwSignal::new(paper.epochs),
            batch: RwSignal::new(paper.batch_size),
            shots: RwSignal::new(8),
            seed: RwSignal::new(paper.seed),
        }
    }

    /// Steps a run with these settings takes on a task of `classes` classes: epochs × batches of k
    /// examples per class (fewer where a class has fewer).
    fn steps(&self, classes: usize) -> usize {
        self.epochs.get() * (classes * self.shots.get()).div_ceil(self.batch.get().max(1))
    }

    fn config(&self) -> TrainConfig {
        let mut config = TrainConfig::paper(self.length.get_untracked());
        config.prompt.init = match self.init.get_untracked() {
            "vocabulary" => PromptInit::Vocabulary,
            _ => PromptInit::Uniform,
        };
        config.prompt.reparam_hidden = self.reparam.get_untracked().then(|| self.reparam_hidden.get_untracked());
        config.learning_rate = self.learning_rate.get_untracked();
        config.epochs = self.epochs.get_untracked();
        config.batch_size = self.batch.get_untracked();
        config.shots = Shots::PerClass(self.shots.get_untracked());
        config.seed = self.seed.get_untracked();
        config
    }

    /// Puts a recorded run's settings in the form (an init the form does not offer shows as uniform).
    fn apply(&self, config: &TrainConfig) {
        self.length.set(config.prompt.length);
        self.init.set(if config.prompt.init == PromptInit::Vocabulary { "vocabulary" } else { "uniform" });
        self.reparam.set(config.prompt.reparam_hidden.is_some());
        if let Some(hidden) = config.prompt.reparam_hidden {
            self.reparam_hidden.set(hidden);
        }
        self.learning_rate.set(config.learning_rate);
        self.epochs.set(config.epochs);
        self.batch.set(config.batch_size);
        if let Shots::PerClass(shots) = config.shots {
            self.shots.set(shots);
        }
        self.seed.set(config.seed);
    }
}

/// What the panel shows of a run.
#[derive(Clone, Copy)]
struct RunView {
    phase: RwSignal<Phase>,
    losses: RwSignal<Vec<(usize, f32)>>,
    validations: RwSignal<Vec<ValidationRecord>>,
    progress: RwSignal<Option<Progress>>,
    /// Where the step under way has got to, until its loss is read back.
    in_step: RwSignal<Option<StepProgress>>,
}

#[component]
pub fn TrainingPanel(
    session: RwSignal<Option<Session>, LocalStorage>,
    /// The compute device, for the estimate of a run's time before it starts.
    device: RwSignal<DeviceState>,
    /// The recorded settings of a prompt opened from a link, a saved run or a file: put in the form.
    opened_settings: RwSignal<Option<TrainConfig>>,
    /// The own task chosen (`None`: SIB-200).
    own_task: RwSignal<Option<OwnTask>>,
    /// Receives the run's best prompt at each improvement, and its prompt whenever it stops (finished,
    /// paused, cancelled or failed).
    on_prompt: Callback<PromptFile>,
    /// Receives the fingerprint of a prompt this run handed on earlier and has since bettered, so that the
    /// saved runs keep one entry per run.
    on_superseded: Callback<String>,
) -> impl IntoView {
    let settings = Settings::paper();
    let run = RunView {
        phase: RwSignal::new(Phase::Idle),
        losses: RwSignal::new(Vec::new()),
        validations: RwSignal::new(Vec::new()),
        progress: RwSignal::new(None),
        in_step: RwSignal::new(None),
    };
    let handed_on = StoredValue::new(None::<String>);
    let hand_on = Callback::new(move |file: PromptFile| {
        let fingerprint = file.fingerprint();
        on_prompt.run(file);
        if let Some(earlier) = handed_on.try_update_value(|h| h.replace(fingerprint.clone())).flatten()
            && earlier != fingerprint
        {
            on_superseded.run(earlier);
        }
    });
    let start = move |_| {
        let Some(session) = session.get_untracked() else { return };
        let own = own_task.get_untracked();
        let mut config = settings.config();
        config.task = own.as_ref().map(OwnTask::task).unwrap_or_default();
        run.losses.set(Vec::new());
        run.validations.set(Vec::new());
        run.progress.set(None);
        handed_on.set_value(None);
        run.phase.set(Phase::Preparing);
        spawn_local(async move {
            match english_training(own.as_ref()).await {
                Ok((train, dev)) => follow(session.engine.train(config, train, dev), run, hand_on).await,
                Err(error) => run.phase.set(Phase::Failed(error)),
            }
        });
    };
    let engine = move || session.with_untracked(|s| s.as_ref().map(|s| s.engine.clone()));
    let pause = move |_| {
        if let Some(engine) = engine() {
            engine.pause();
        }
    };
    let resume = move |_| {
        if let Some(engine) = engine() {
            spawn_local(follow(engine.resume(), run, hand_on));
        }
    };
    let cancel = move |_| {
        if let Some(engine) = engine() {
            engine.cancel();
        }
        // A paused run has no loop to notice: it ends here (its prompt was handed on when it paused).
        if run.phase.get_untracked() == Phase::Paused {
            run.phase.set(Phase::Cancelled);
        }
    };

    let running = move || matches!(run.phase.get(), Phase::Preparing | Phase::Running);
    let study_running = RwSignal::new(false);
    // Not into a locked form: a run under way keeps the settings it started with.
    Effect::new(move |_| {
        let Some(config) = opened_settings.get() else { return };
        let busy = matches!(run.phase.get_untracked(), Phase::Preparing | Phase::Running | Phase::Paused);
        if !busy && !study_running.get_untracked() {
            settings.apply(&config);
        }
    });
    view! {
        <section class="card training" aria-labelledby="training-title">
            <h2 id="training-title">"2 · Prompt & training"</h2>
            <p class="muted">
                "The model stays frozen. Only the prompt — a few vectors placed after each sentence — is "
                "trained on an English classification task (SIB-200's topics, or your own), then tested on "
                "other languages."
            </p>
            <TaskPicker task=own_task disabled=Signal::derive(move || !matches!(run.phase.get(), Phase::Idle | Phase::Finished | Phase::Cancelled | Phase::Failed(_))) />
            <SettingsForm settings disabled=Signal::derive(move || !matches!(run.phase.get(), Phase::Idle | Phase::Finished | Phase::Cancelled | Phase::Failed(_))) />
            <div class="actions">
                <button type="button" class="primary" data-testid="train-start"
                    disabled=move || session.with(Option::is_none) || running() || run.phase.get() == Phase::Paused
                        || study_running.get()
                    on:click=start>"Start training"</button>
                <button type="button" data-testid="train-pause" disabled=move || run.phase.get() != Phase::Running
                    on:click=pause>"Pause"</button>
                <button type="button" data-testid="train-resume" disabled=move || run.phase.get() != Phase::Paused
                    on:click=resume>"Resume"</button>
                <button type="button" data-testid="train-cancel"
                    disabled=move || !matches!(run.phase.get(), Phase::Running | Phase::Paused)
                    on:click=cancel>"Cancel"</button>
            </div>
            {move || session.with(Option::is_none).then(|| view! {
                <p class="muted">"Load a model (step 1) to train."</p>
            })}
            // Before a run: its cost with these settings on this device.
            {move || {
                let session = session.get()?;
                if !matches!(run.phase.get(), Phase::Idle | Phase::Finished | Phase::Cancelled | Phase::Failed(_)) {
                    return None;
                }
                let classes = own_task.with(|t| t.as_ref().map_or(CATEGORIES.len(), |t| t.labels.classes.len()));
                let size = RunSize { steps: settings.steps(classes), batch: settings.batch.get() };
                let text = device.with(|d| cost::summary(&session.name, &session.config, session.dtype, size, d))?;
                Some(view! { <p class="muted" data-testid="train-estimate">{text.unwrap_or_else(|refusal| refusal)}</p> })
            }}
            <RunStatus run own_task />
            <LossChart losses=run.losses validations=run.validations />
            <PaperStudy session settings=Callback::new(move |()| settings.config()) running=study_running
                panel_busy=Signal::derive(move || running() || run.phase.get() == Phase::Paused) on_prompt />
        </section>
    }
}

/// Mirrors a run's events into `run` until it stops; hands the prompt on at each improvement and at the
/// stop.
async fn follow(mut events: Run, run: RunView, on_prompt: Callback<PromptFile>) {
    run.phase.set(Phase::Running);
    // Whether a validation handed on a best prompt (a worker that crashed sends none at the stop, but that
    // one is kept).
    let mut kept_before = false;
    loop {
        match events.next().await {
            RunEvent::InStep(progress) => run.in_step.set(Some(progress)),
            RunEvent::Steps { records, progress } => {
                run.in_step.set(None);
                run.losses.update(|l| l.extend(records.iter().map(|r| (r.step, r.loss))));
                run.progress.set(Some(progress));
            }
            RunEvent::Validation { record, best } => {
                run.validations.update(|v| v.push(record));
                if let Some(best) = best {
                    kept_before = true;
                    on_prompt.run(best);
                }
            }
            RunEvent::Stopped { outcome, prompt } => {
                let kept_note = if prompt.is_some() {
                    "The best prompt so far is kept below and in Saved runs."
                } else if kept_before {
                    "The best prompt of its last validation is kept below and in Saved runs."
                } else {
                    "No validation had finished, so no prompt was kept."
                };
                if let Some(file) = prompt {
                    on_prompt.run(file);
                }
                return run.phase.set(match outcome {
                    Ok(RunOutcome::Finished) => Phase::Finished,
                    Ok(RunOutcome::Paused) => Phase::Paused,
                    Ok(RunOutcome::Cancelled) => Phase::Cancelled,
                    Err(error) => Phase::Failed(format!("{error}. {kept_note}")),
                });
            }
        }
    }
}

#[component]
fn RunStatus(run: RunView, own_task: RwSignal<Option<OwnTask>>) -> impl IntoView {
    let text = move || {
        let phase = run.phase.get();
        let progress = run.progress.get();
        let steps = progress.as_ref().map(|p| {
            let eta = if p.eta_seconds.is_finite() {
                format!(" · about {} left", format::duration(p.eta_seconds))
            } else {
                String::new()
            };
            format!(
                "step {} of {} · epoch {}/{} · {:.1} examples/s{eta}",
                p.step, p.total_steps, p.epoch, p.epochs, p.examples_per_second
            )
        });
        let last = run.losses.with(|l| l.last().map(|(_, loss)| format!(" · loss {loss:.4}")));
        match phase {
            Phase::Idle => "Not started.".to_string(),
            Phase::Preparing => match own_task.with(|t| t.as_ref().map(|t| t.labels.name.clone())) {
                Some(name) => format!("Preparing {name} and the prompt…"),
                None => "Fetching English SIB-200 and preparing the prompt…".to_string(),
            },
            Phase::Failed(error) => error,
            phase => format!(
                "{}{}{}",
                match phase {
                    Phase::Running => "Training",
                    Phase::Paused => "Paused",
                    Phase::Finished => "Finished — the prompt with the lowest validation loss is kept",
                    _ => "Cancelled — the prompt so far is kept",
                },
                steps.map(|s| format!(": {s}")).unwrap_or_default(),
                last.unwrap_or_default()
            ),
        }
    };
    let fraction = move || run.progress.get().map_or(0.0, |p| p.step as f64 / p.total_steps.max(1) as f64);
    // Inside a long step: its layers (on a GPU, as they are queued), or, before any, that the first step of
    // a run also compiles the GPU's kernels.
    let in_step = move || {
        let next = run.progress.get().map_or(1, |p| p.step + 1);
        match (run.phase.get(), run.in_step.get()) {
            (Phase::Running, Some(p)) => {
                let phase = match p.phase {
                    StepPhase::Forward => "forward",
                    StepPhase::Backward => "backward",
                };
                let layer = if p.layer == 0 { String::new() } else { format!(", layer {} of {}", p.layer, p.layers) };
                Some(view! {
                    <p class="muted" data-testid="step-progress" data-step=next data-phase=phase data-layer=p.layer>
                        {format!("Step {next}: {phase} pass{layer}…")}
                    </p>
                }
                .into_any())
            }
            (Phase::Running, None) if run.progress.with(Option::is_none) => Some(view! {
                <p class="muted" data-testid="step-progress" data-step=1 data-phase="starting" data-layer=0>
                    "Step 1 under way: a GPU compiles its kernels during the first step, which can take minutes                      on a software adapter."
                </p>
            }
            .into_any()),
            _ => None,
        }
    };
    view! {
        <div class="run-status">
            <progress max="1" value=fraction aria-label="training progress"></progress>
            <p data-testid="train-status" data-phase=move || run.phase.get().name() role="status"
                class:error=move || matches!(run.phase.get(), Phase::Failed(_))>{text}</p>
            {in_step}
        </div>
    }
}

#[component]
fn SettingsForm(settings: Settings, disabled: Signal<bool>) -> impl IntoView {
    view! {
        <fieldset class="settings" disabled=move || disabled.get()>
            <NumberField label="Prompt length (vectors)" testid="setting-length" value=settings.length min=1.0 max=100.0 step=1.0
                help="How many vectors are trained. The paper finds short prompts often transfer best." />
            <label class="field">
                <span>"Initialisation"</span>
                <select data-testid="setting-init" on:change=move |ev| settings.init.set(
                    if event_target_value(&ev) == "vocabulary" { "vocabulary" } else { "uniform" })>
                    <option value="uniform" selected=move || settings.init.get() == "uniform">"uniform(−0.5, 0.5) (paper)"</option>
                    <option value="vocabulary" selected=move || settings.init.get() == "vocabulary">"embeddings of common words"</option>
                </select>
            </label>
            <label class="field checkbox">
                <input type="checkbox" data-testid="setting-reparam" prop:checked=move || settings.reparam.get()
                    on:change=move |ev| settings.reparam.set(event_target_checked(&ev)) />
                <span>"Reparameterization: produce the prompt with a small MLP (helps some languages, hurts others)"</span>
            </label>
            <NumberField label="MLP hidden size" testid="setting-reparam-hidden" value=settings.reparam_hidden min=1.0 max=4096.0 step=1.0
                help="Width of the MLP's hidden layer (the authors' example: 200)." />
            <NumberField label="Learning rate" testid="setting-lr" value=settings.learning_rate min=0.00001 max=1.0 step=0.0001
                help="Peak AdamW learning rate, reached after 10% warmup, then decayed linearly (paper: 0.005)." />
            <NumberField label="Epochs" testid="setting-epochs" value=settings.epochs min=1.0 max=200.0 step=1.0
                help="Passes over the few-shot training set; the prompt with the lowest validation loss is kept." />
            <NumberField label="Batch size" testid="setting-batch" value=settings.batch min=1.0 max=64.0 step=1.0
                help="Sentences per step (paper: 8)." />
            <NumberField label="Examples per class" testid="setting-shots" value=settings.shots min=1.0 max=1000.0 step=1.0
                help="k-shot training: k English sentences per topic or label (paper: 8); validation uses k/4 from dev." />
            <NumberField label="Seed" testid="setting-seed" value=settings.seed min=0.0 max=1e9 step=1.0
                help="The same seed gives the same examples, order and initial prompt." />
        </fieldset>
    }
}

/// A labelled number input bound to a signal, with a one-line explanation for the classroom.
#[component]
fn NumberField<T>(
    label: &'static str,
    testid: &'static str,
    value: RwSignal<T>,
    min: f64,
    max: f64,
    step: f64,
    help: &'static str,
) -> impl IntoView
where
    T: std::str::FromStr + std::fmt::Display + Clone + Send + Sync + 'static,
{
    view! {
        <label class="field">
            <span>{label}</span>
            <input type="number" data-testid=testid min=min max=max step=step prop:value=move || value.get().to_string()
                on:change=move |ev| {
                    if let Ok(v) = event_target_value(&ev).parse::<T>() {
                        value.set(v);
                    }
                } />
            <small class="muted">{help}</small>
        </label>
    }
}
