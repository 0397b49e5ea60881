//! The Leptos (client-side rendered) app: one component per thing the user sees, plus the page's storage
//! (`run_store`: IndexedDB, `download`: Cache Storage) and its handle on the training worker (`engine`).
//!
//! A front: may use the core's layers and `worker::protocol`; holds no model, data or training logic.
mod backend_badge;
mod cost;
mod data;
mod diagnostics;
mod download;
mod engine;
mod evaluation_panel;
mod file_drop;
mod inventory;
mod loss_chart;
mod map_scale;
mod model_picker;
mod offline;
mod paper_study;
mod presenter;
mod prompt_actions;
mod results;
mod run_store;
mod save;
mod saved_runs;
mod session;
mod shared_link;
mod task_picker;
mod training_panel;
mod transfer_map;
mod transfer_map_data;
mod try_it;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::backend::{BackendInfo, EngineCheck, Speed};
use crate::files::hub::HubRepo;
use crate::files::prompt_file::PromptFile;
use crate::files::share::SharedLink;
use crate::model::WeightDtype;
use crate::tuning::eval::LanguageResult;
use backend_badge::BackendBadge;
use diagnostics::Diagnostics;
use engine::Engine;
use evaluation_panel::EvaluationPanel;
use model_picker::{ModelFacts, ModelFiles, ModelPicker, ModelSummary, parse_config};
use prompt_actions::PromptActions;
use run_store::SavedRun;
use saved_runs::SavedRuns;
use session::Session;
use shared_link::SharedLinkNotice;
use training_panel::TrainingPanel;
use try_it::TryIt;

/// Where the app's compute device stands.
#[derive(Clone, Debug, PartialEq)]
pub enum DeviceState {
    Starting,
    Ready {
        info: BackendInfo,
        check: Result<EngineCheck, String>,
        speed: Speed,
    },
    /// The training worker could not start: nothing can be loaded or trained.
    Failed(String),
}

/// What the page needs to start the training worker, and to start another when it dies.
#[derive(Clone, Copy)]
struct WorkerHandles {
    engine: StoredValue<Option<Engine>, LocalStorage>,
    device_state: RwSignal<DeviceState>,
    session: RwSignal<Option<Session>, LocalStorage>,
    /// When the current worker, if it replaced one that died, got its device up: a replacement that dies
    /// within [`RESTART_WINDOW_MS`] of that is not replaced again.
    replaced_at: StoredValue<Option<f64>>,
    /// What happened to the last worker, and what was kept.
    notice: RwSignal<Option<String>>,
    /// Where the loaded model came from, to load it again in a new worker (`None`: picked local files).
    model_origin: StoredValue<Option<(HubRepo, WeightDtype)>>,
    on_files: StoredValue<Option<Callback<ModelFiles>>>,
    prompt: RwSignal<Option<PromptFile>>,
}

/// A replacement worker that dies within this long of starting is not replaced (no restart loop).
const RESTART_WINDOW_MS: f64 = 60_000.0;

impl WorkerHandles {
    /// Starts a worker; `replacement` when it replaces one that died.
    fn start(self, replacement: bool) {
        let state = self.device_state;
        let engine = Engine::spawn(
            diagnostics::stored_compute(),
            move |ready| {
                if replacement && ready.is_ok() {
                    self.replaced_at.set_value(Some(js_sys::Date::now()));
                }
                state.set(match ready {
                    Ok(ready) => DeviceState::Ready { info: ready.backend, check: ready.check, speed: ready.speed },
                    Err(error) => DeviceState::Failed(error),
                })
            },
            move |why| self.restart(why),
        );
        let engine = engine.inspect_err(|error| state.set(DeviceState::Failed(error.clone()))).ok();
        self.engine.set_value(engine);
    }

    /// Starts a new worker after one died, loads the model again if it came from the cache, and says what
    /// was kept; the run that was going is not restarted.
    fn restart(self, why: String) {
        let now = js_sys::Date::now();
        let again = self.replaced_at.get_value().is_some_and(|started| now - started < RESTART_WINDOW_MS);
        self.session.set(None);
        if again {
            let message = format!(
                "The training worker stopped again within a minute of being restarted ({why}), so it was not \
                 restarted again: reload the page. Saved runs and prompts are kept."
            );
            self.device_state.set(DeviceState::Failed(message.clone()));
            self.notice.set(Some(message));
            return;
        }
        self.device_state.set(DeviceState::Starting);
        self.replaced_at.set_value(None);
        self.start(true);
        let kept = self.prompt.with_untracked(|p| {
            p.as_ref().map_or("No prompt had been saved yet.".to_string(), |file| {
                format!(
                    "Its last saved prompt ({} vectors, {}) is open and in Saved runs.",
                    file.length,
                    file.fingerprint()
                )
            })
        });
        let model = match self.model_origin.get_value() {
            Some((repo, dtype)) => {
                spawn_local(async move {
                    match model_picker::download_again(repo, dtype, self.device_state).await {
                        Ok(files) => {
                            if let Some(on_files) = self.on_files.get_value() {
                                on_files.run(files);
                            }
                        }
                        Err(error) => self.notice.update(|notice| {
                            if let Some(notice) = notice {
                                notice.push_str(&format!(" The model could not be loaded again: {error}"));
                            }
                        }),
                    }
                });
                "the model is being loaded again from this browser's cache"
            }
            None => "the model's files were picked from this computer: pick them again to go on",
        };
        self.notice.set(Some(format!(
            "The training worker stopped ({why}). A new one was started, and {model}. The run that was going was \
             not restarted. {kept}"
        )));
    }
}

#[component]
pub fn App() -> impl IntoView {
    offline::register();
    let device_state = RwSignal::new(DeviceState::Starting);
    let session = RwSignal::new_local(None::<Session>);
    let link = shared_link::read_page_link();
    let prompt = match &link {
        Some(Ok(SharedLink::Prompt(file))) => Some(file.clone()),
        _ => None,
    };
    let shared_model = prompt.as_ref().map(|p| p.metadata.base_model.clone());
    // The settings of a prompt opened from outside (a link, a saved run, a file), for the training form.
    let opened_settings = RwSignal::new(prompt.as_ref().and_then(PromptFile::training_config));
    let prompt = RwSignal::new(prompt);
    let workers = WorkerHandles {
        engine: StoredValue::new_local(None),
        device_state,
        session,
        replaced_at: StoredValue::new(None),
        notice: RwSignal::new(None),
        model_origin: StoredValue::new(None),
        on_files: StoredValue::new(None),
        prompt,
    };
    workers.start(false);
    let engine = workers.engine;
    let model_facts = RwSignal::new(None::<ModelFacts>);
    // Files waiting for the device, and a count of picks, so that a load a later pick overtook is ignored.
    let pending_files = StoredValue::new_local(None::<ModelFiles>);
    let picks = RwSignal::new(0u32);
    let loading = RwSignal::new(None::<String>);
    let load_error = RwSignal::new(None::<String>);
    // Counts the shared-link notice's "Evaluate" clicks, which start the evaluation panel's run.
    let evaluation_requests = RwSignal::new(0u32);
    let results = RwSignal::new(Vec::<LanguageResult>::new());
    // The own task the user gave (`None`: SIB-200), shared by training, evaluation and Try it.
    let own_task = RwSignal::new(None::<crate::task::own_task::OwnTask>);
    let on_files = Callback::new(move |files: ModelFiles| {
        workers.model_origin.set_value(files.repo.clone().map(|repo| (repo, files.dtype)));
        model_facts.set(Some(ModelFacts::of(&files)));
        pending_files.set_value(Some(files));
        picks.update(|n| *n += 1);
    });
    workers.on_files.set_value(Some(on_files));
    // Load the model in the worker once both its files and the device are there.
    Effect::new(move |_| {
        let pick = picks.get();
        match device_state.get() {
            DeviceState::Starting => return,
            DeviceState::Failed(error) => {
                if pending_files.with_value(Option::is_some) {
                    load_error.set(Some(error));
                }
                return;
            }
            DeviceState::Ready { .. } => {}
        }
        let (Some(files), Some(engine)) = (pending_files.try_update_value(Option::take).flatten(), engine.get_value())
        else {
            return;
        };
        session.set(None);
        load_error.set(None);
        loading.set(Some(files.source.clone()));
        spawn_local(async move {
            let (name, dtype, config) = (files.name.clone(), files.dtype, parse_config(&files.config));
            let loaded = engine.load(files).await.and(config);
            if picks.get_untracked() != pick {
                return;
            }
            loading.set(None);
            match loaded {
                Ok(config) => session.set(Some(Session { name, config, dtype, engine })),
                Err(error) => load_error.set(Some(error)),
            }
        });
    });
    let on_prompt = Callback::new(move |file: PromptFile| {
        results.set(Vec::new());
        prompt.set(Some(file));
    });
    let on_opened = Callback::new(move |file: PromptFile| {
        opened_settings.set(file.training_config());
        on_prompt.run(file);
    });
    let runs = RwSignal::new(Vec::<SavedRun>::new());
    let runs_loaded = RwSignal::new(false);
    let save_error = RwSignal::new(None::<String>);
    let storage_cleared = RwSignal::new(None::<String>);
    spawn_local(async move {
        let stored = run_store::load_all().await;
        // What earlier visits stored and is gone now (told before anything is stored again).
        let gone_runs = match &stored {
            Ok(stored) => {
                inventory::runs_gone(&stored.iter().map(|r| (r.id.clone(), r.label.clone())).collect::<Vec<_>>())
            }
            Err(_) => Vec::new(),
        };
        storage_cleared.set(inventory::notice(&gone_runs, &download::gone_from_cache().await));
        match stored {
            Ok(stored) => {
                // A prompt the page opened with (a share link) that is already saved shows its results.
                let id = prompt.with_untracked(|p| p.as_ref().map(PromptFile::fingerprint));
                if let Some(run) = stored.iter().find(|r| Some(&r.id) == id.as_ref()) {
                    results.set(run.results.clone());
                }
                runs.set(stored);
                saved_runs::follow_other_tabs(runs);
            }
            Err(error) => save_error.set(Some(format!(
                "Saved runs could not be read from this browser's storage ({error}): download prompt files to keep them."
            ))),
        }
        runs_loaded.set(true);
    });
    // Every prompt the page holds is saved at once, and again as its results come in (once the stored runs
    // are read, so that saving never replaces one unseen).
    Effect::new(move |_| {
        if let (true, Some(file)) = (runs_loaded.get(), prompt.get()) {
            saved_runs::save(runs, &file, &results.get(), save_error);
        }
    });
    let on_open = Callback::new(move |run: SavedRun| match run.prompt_file() {
        Ok(file) => {
            opened_settings.set(file.training_config());
            prompt.set(Some(file));
            results.set(run.results);
        }
        Err(error) => save_error.set(Some(format!("That saved run is damaged ({error}); delete it."))),
    });

    view! {
        <header class="app-header">
            <div class="brand">
                <h1>"polyprompt"</h1>
                <p class="tagline">
                    "Train a soft prompt for a frozen multilingual language model in your browser, "
                    "then see how it transfers to 52 languages."
                </p>
            </div>
            <BackendBadge state=device_state />
        </header>
        {move || workers.notice.get().map(|notice| view! {
            <p class="notice worker-notice" role="alert" data-testid="worker-restarted">{notice}</p>
        })}
        {move || storage_cleared.get().map(|notice| view! {
            <p class="notice" role="alert" data-testid="storage-cleared">{notice}</p>
        })}
        <SharedLinkNotice link runs session on_prompt=on_opened on_open on_evaluate=Callback::new(move |()| evaluation_requests.update(|n| *n += 1)) />
        <main data-testid="app-main">
            <div class="column">
                <ModelPicker initial=shared_model device=device_state on_ready=on_files />
                <ModelSummary facts=model_facts />
                <p data-testid="model-loaded" data-loaded=move || session.with(Option::is_some).to_string()
                    class:error=move || load_error.with(Option::is_some) role="status">
                    {move || match (session.get(), load_error.get()) {
                        (Some(s), _) => format!("{} is loaded and frozen.", s.name),
                        (None, Some(error)) => format!("The model could not be loaded: {error}"),
                        (None, None) => loading.get().map_or_else(String::new, |source| format!("Loading {source} onto the device…")),
                    }}
                </p>
                <Diagnostics state=device_state engine />
            </div>
            <div class="column">
                <TrainingPanel session device=device_state opened_settings own_task on_prompt on_superseded=Callback::new(move |id: String| saved_runs::forget_superseded(runs, &id)) />
                <PromptActions prompt session on_import=on_opened />
                {move || save_error.get().map(|error| view! { <p class="error" role="alert" data-testid="save-error">{error}</p> })}
                <SavedRuns runs on_open error=save_error />
            </div>
            <div class="column wide">
                <EvaluationPanel session prompt results own_task requests=evaluation_requests />
                <TryIt session prompt own_task />
            </div>
        </main>
    }
}
