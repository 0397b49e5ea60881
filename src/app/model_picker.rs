//! Step 1: choose a model (a preset, a hub id or URL) and download its files with progress, or pick its
//! files on this computer.
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::DeviceState;
use super::cost::{self, RunSize};
use super::download::{self, DownloadError, FileBytes, Progress};
use super::file_drop::FileDrop;
use crate::files::hub::{CONFIG_FILE, HubRepo, PRESETS, TOKENIZER_FILE};
use crate::format;
use crate::model::checkpoint::{PYTORCH_FILE, SAFETENSORS_FILE};
use crate::model::{ModelConfig, WeightDtype, recorded_name};

/// One file's download, for its progress row.
#[derive(Clone, Debug, PartialEq)]
struct FileRow {
    name: String,
    progress: Option<Progress>,
    done: bool,
}

/// A model's files, downloaded or picked, ready to be loaded; moved (never cloned: the weights can be
/// gigabytes) on to the training worker.
#[derive(Debug)]
pub struct ModelFiles {
    /// The hub id prompt files record as their base model.
    pub name: String,
    /// Where the files came from, for headings and messages.
    pub source: String,
    pub config: Vec<u8>,
    pub tokenizer: Vec<u8>,
    pub weights_name: String,
    /// In JavaScript memory, handed to the worker without a copy (`download::FileBytes` says why).
    pub weights: FileBytes,
    /// How to store the weight matrices once loaded.
    pub dtype: WeightDtype,
    /// The repository they were downloaded from (and are cached for), or `None` for picked local files.
    pub repo: Option<HubRepo>,
}

/// What the summary shows of a model's files; the weights themselves go to the training worker.
#[derive(Clone, Debug)]
pub struct ModelFacts {
    source: String,
    config: Result<ModelConfig, String>,
    weights_name: String,
    weights_bytes: u64,
    dtype: WeightDtype,
}

impl ModelFacts {
    pub fn of(files: &ModelFiles) -> ModelFacts {
        ModelFacts {
            source: files.source.clone(),
            config: parse_config(&files.config),
            weights_name: files.weights_name.clone(),
            weights_bytes: files.weights.len(),
            dtype: files.dtype,
        }
    }
}

#[component]
pub fn ModelPicker(
    /// The model to offer first (a shared prompt's base model), else the first preset.
    initial: Option<String>,
    /// The compute device: what a model will cost is said, and a model that cannot fit is refused, before
    /// its weights are downloaded.
    device: RwSignal<DeviceState>,
    on_ready: Callback<ModelFiles>,
) -> impl IntoView {
    let input = RwSignal::new(initial.unwrap_or_else(|| PRESETS[0].id.to_string()));
    let rows = RwSignal::new(Vec::<FileRow>::new());
    let status = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    // int8 by default: a quarter of f32's memory, and every WebGPU adapter can store it.
    let dtype = RwSignal::new(WeightDtype::Int8);
    // What the chosen model will cost here, once its config.json is in.
    let cost = Cost::new(device).follow_device();

    let start = move || {
        let repo = match HubRepo::parse(&input.get_untracked()) {
            Ok(repo) => repo,
            Err(e) => return status.set(e.to_string()),
        };
        busy.set(true);
        status.set(format!("Downloading {repo}…"));
        spawn_local(async move {
            match download_model(repo, rows, dtype.get_untracked(), cost).await {
                Ok(files) => {
                    let total = (files.config.len() + files.tokenizer.len()) as u64 + files.weights.len();
                    status.set(format!("Ready: {} ({})", files.source, format::bytes(total)));
                    on_ready.run(files);
                }
                Err(error) => status.set(error),
            }
            busy.set(false);
        });
    };

    view! {
        <section class="card" aria-labelledby="model-title">
            <h2 id="model-title">"1 · Model"</h2>
            <div class="presets" role="group" aria-label="Presets">
                {PRESETS.iter().map(|preset| {
                    let id = preset.id;
                    view! {
                        <button type="button" class="preset" on:click=move |_| input.set(id.to_string())
                            aria-pressed=move || (input.get() == id).to_string()>
                            <strong>{preset.label}</strong>
                            <span class="muted">{format!(
                                "{} · download {}", preset.id, format::bytes(preset.weights_bytes)
                            )}</span>
                            <span class="muted" data-testid="preset-sizes">{sizes_per_dtype(&preset.config())}</span>
                        </button>
                    }
                }).collect_view()}
            </div>
            <label class="field">
                <span>"Hub id or URL"</span>
                <input data-testid="model-id" type="text" spellcheck="false" prop:value=move || input.get()
                    on:input=move |ev| input.set(event_target_value(&ev))
                    on:keydown=move |ev| if ev.key() == "Enter" { start() } />
            </label>
            <fieldset class="field dtype" data-testid="model-dtype">
                <legend>"Store the frozen weights as"</legend>
                {WeightDtype::ALL.into_iter().rev().map(|choice| view! {
                    <label>
                        <input type="radio" name="dtype" value=choice.name()
                            prop:checked=move || dtype.get() == choice
                            on:change=move |_| dtype.set(choice) />
                        {choice.name()}
                    </label>
                }).collect_view()}
                <span class="muted">
                    "int8 keeps a scale per 32 weights (about 1% error per weight); f16 needs a GPU with f16 \
                     shaders or the CPU; f32 is exact but four times larger."
                </span>
            </fieldset>
            <button type="button" data-testid="model-download" disabled=move || busy.get()
                on:click=move |_| start()>"Download"</button>
            <LocalModelFiles rows status busy dtype cost on_ready />
            {move || cost.said.get().map(|cost| {
                let (text, refused) = match cost { Ok(text) => (text, false), Err(text) => (text, true) };
                view! { <p data-testid="model-cost" data-refused=refused.to_string() class:error=refused>{text}</p> }
            })}
            <ul class="downloads">
                {move || rows.get().into_iter().map(|row| view! { <DownloadRow row /> }).collect_view()}
            </ul>
            <p data-testid="model-status" role="status">{move || status.get()}</p>
        </section>
    }
}

/// What was downloaded: the architecture and sizes its `config.json` declares, or why it is unusable.
#[component]
pub fn ModelSummary(facts: RwSignal<Option<ModelFacts>>) -> impl IntoView {
    move || {
        facts.get().map(|files| {
            let description = match &files.config {
                Ok(config) => format!(
                    "{} · hidden {} · {} layers · vocabulary {} · weights {} ({}) · stored as {} · {}",
                    config.family.name(),
                    config.hidden,
                    config.layers,
                    config.vocab_size,
                    files.weights_name,
                    format::bytes(files.weights_bytes),
                    files.dtype.name(),
                    sizes_per_dtype(config),
                ),
                Err(error) => error.clone(),
            };
            view! {
                <section class="card" data-testid="model-summary">
                    <h2>{files.source.clone()}</h2>
                    <p>{description}</p>
                </section>
            }
        })
    }
}

/// A `config.json`'s bytes as a model configuration, or why not.
pub fn parse_config(bytes: &[u8]) -> Result<ModelConfig, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    ModelConfig::from_json(text).map_err(|e| e.to_string())
}

/// "weights in memory: int8 632 MB · f16 1.12 GB · f32 2.24 GB": the model on the compute device
/// (layers and tied head); the page also keeps the token table in the same dtype.
fn sizes_per_dtype(config: &ModelConfig) -> String {
    let sizes: Vec<String> = WeightDtype::ALL
        .into_iter()
        .rev()
        .map(|dtype| format!("{} {}", dtype.name(), format::bytes(config.size_estimate(dtype).device_bytes)))
        .collect();
    format!("weights in memory: {}", sizes.join(" · "))
}

#[component]
fn DownloadRow(row: FileRow) -> impl IntoView {
    let (received, total, speed, cached) = match &row.progress {
        Some(p) => (p.received, p.total, p.bytes_per_second, p.from_cache),
        None => (0, None, 0.0, false),
    };
    let note = row.progress.as_ref().and_then(|p| p.note.clone());
    let detail = match (cached, total) {
        (true, _) => format!("{} · cached ✓", format::bytes(received)),
        (false, Some(total)) => {
            format!("{} of {} · {}/s", format::bytes(received), format::bytes(total), format::bytes(speed as u64))
        }
        (false, None) => format!("{} · {}/s", format::bytes(received), format::bytes(speed as u64)),
    };
    view! {
        <li data-testid="download-row" data-file=row.name.clone() data-done=row.done.to_string()
            data-cached=cached.to_string()>
            <span class="file-name">{row.name.clone()}</span>
            <span class="muted">{detail}</span>
            <progress max="1" aria-label=format!("{} downloaded", row.name)
                value=row.progress.as_ref().and_then(Progress::fraction)
                .unwrap_or(if row.done { 1.0 } else { 0.0 })></progress>
            {note.map(|note| view! { <span class="download-note" data-testid="download-note">{note}</span> })}
        </li>
    }
}

/// What a model will cost on this device (`cost::summary`), said as soon as its `config.json` is in, and
/// again when the device reports (its engine check may end after the config arrived).
#[derive(Clone, Copy)]
struct Cost {
    device: RwSignal<DeviceState>,
    /// The model asked about: its name, configuration and dtype.
    asked: RwSignal<Option<(String, ModelConfig, WeightDtype)>>,
    said: RwSignal<Option<Result<String, String>>>,
}

impl Cost {
    fn new(device: RwSignal<DeviceState>) -> Cost {
        Cost { device, asked: RwSignal::new(None), said: RwSignal::new(None) }
    }

    /// Says the cost again whenever the device reports (for the picker on show; a download done for a
    /// restarted worker has no one to tell).
    fn follow_device(self) -> Cost {
        Effect::new(move |_| {
            let said = self.asked.with(|asked| {
                asked.as_ref().and_then(|(name, config, dtype)| {
                    self.device.with(|d| cost::summary(name, config, *dtype, RunSize::PAPER, d))
                })
            });
            self.said.set(said);
        });
        self
    }

    /// Says what `config` as `dtype` costs here; `None` while the device is still starting.
    fn ask(self, name: &str, config: ModelConfig, dtype: WeightDtype) -> Option<Result<String, String>> {
        let said = self.device.with_untracked(|d| cost::summary(name, &config, dtype, RunSize::PAPER, d));
        self.asked.set(Some((name.to_string(), config, dtype)));
        said
    }

    fn clear(self) {
        self.asked.set(None);
    }
}

/// Config and tokenizer first (small; a wrong repository fails before the big download, and a model that
/// cannot fit this device is refused there), then the weights: `model.safetensors`, or
/// `pytorch_model.bin` where a repository ships only that.
async fn download_model(
    repo: HubRepo,
    rows: RwSignal<Vec<FileRow>>,
    dtype: WeightDtype,
    cost: Cost,
) -> Result<ModelFiles, String> {
    rows.set(Vec::new());
    cost.clear();
    let config = fetch_row(&repo, CONFIG_FILE, rows).await.map_err(|e| e.to_string())?.to_vec();
    if let Ok(parsed) = parse_config(&config)
        && let Some(Err(refusal)) = cost.ask(&repo.id, parsed, dtype)
    {
        return Err(format!("Not downloaded: {refusal}."));
    }
    let tokenizer = fetch_row(&repo, TOKENIZER_FILE, rows).await.map_err(|e| e.to_string())?.to_vec();
    let (weights_name, weights) = match fetch_row(&repo, SAFETENSORS_FILE, rows).await {
        Err(DownloadError::Status { status: 404, .. }) => {
            rows.update(|r| {
                r.pop();
            });
            (PYTORCH_FILE, fetch_row(&repo, PYTORCH_FILE, rows).await.map_err(|e| e.to_string())?)
        }
        other => (SAFETENSORS_FILE, other.map_err(|e| e.to_string())?),
    };
    let (name, source) = (repo.id.clone(), repo.to_string());
    let repo = repo.clone();
    Ok(ModelFiles {
        name,
        source,
        config,
        tokenizer,
        weights_name: weights_name.into(),
        weights,
        dtype,
        repo: Some(repo),
    })
}

/// The files of `repo` again (from Cache Storage where they are intact), for a worker that was restarted.
pub async fn download_again(
    repo: HubRepo,
    dtype: WeightDtype,
    device: RwSignal<DeviceState>,
) -> Result<ModelFiles, String> {
    download_model(repo, RwSignal::new(Vec::new()), dtype, Cost::new(device)).await
}

async fn fetch_row(repo: &HubRepo, name: &str, rows: RwSignal<Vec<FileRow>>) -> Result<FileBytes, DownloadError> {
    let index = rows.with_untracked(Vec::len);
    rows.update(|r| r.push(FileRow { name: name.into(), progress: None, done: false }));
    let bytes = download::fetch_cached(&repo.file_url(name), &|p| {
        rows.update(|r| r[index].progress = Some(p));
    })
    .await?;
    rows.update(|r| r[index].done = true);
    Ok(bytes)
}

/// The roles of a model's files, by the names the hub gives them.
#[derive(Clone, Copy, Debug, PartialEq)]
enum FileRole {
    Config,
    Tokenizer,
    Weights,
}

impl FileRole {
    fn of(name: &str) -> Option<FileRole> {
        match name {
            CONFIG_FILE => Some(FileRole::Config),
            TOKENIZER_FILE => Some(FileRole::Tokenizer),
            _ if name.ends_with(".safetensors") || name.ends_with(".bin") => Some(FileRole::Weights),
            _ => None,
        }
    }
}

/// Files picked so far: they may come in one pick or several.
#[derive(Default)]
struct PickedFiles {
    config: Option<Vec<u8>>,
    tokenizer: Option<Vec<u8>>,
    /// The file's name and bytes; a `.bin` is taken as `pytorch_model.bin` (the loader says what to do).
    weights: Option<(String, FileBytes)>,
}

impl PickedFiles {
    fn missing(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.config.is_none() {
            missing.push(CONFIG_FILE);
        }
        if self.tokenizer.is_none() {
            missing.push(TOKENIZER_FILE);
        }
        if self.weights.is_none() {
            missing.push(SAFETENSORS_FILE);
        }
        missing
    }
}

/// The same model files from this computer (a `huggingface-cli download` folder, or files the hub
/// refuses to serve): picked with a file input or dropped, read with progress, loaded like downloads.
#[component]
fn LocalModelFiles(
    rows: RwSignal<Vec<FileRow>>,
    status: RwSignal<String>,
    busy: RwSignal<bool>,
    dtype: RwSignal<WeightDtype>,
    cost: Cost,
    on_ready: Callback<ModelFiles>,
) -> impl IntoView {
    let picked = StoredValue::new_local(PickedFiles::default());
    let take = move |list: Option<web_sys::FileList>| {
        let Some(list) = list else { return };
        let files: Vec<web_sys::File> = (0..list.length()).filter_map(|i| list.get(i)).collect();
        if files.is_empty() {
            return;
        }
        busy.set(true);
        spawn_local(async move {
            match read_picked(files, picked, rows).await {
                Ok(()) => {
                    let config = picked.with_value(|p| p.config.as_deref().map(parse_config));
                    if let Some(Ok(config)) = config {
                        cost.ask(config.family.name(), config, dtype.get_untracked());
                    }
                    status.set(complete_pick(picked, dtype.get_untracked(), on_ready))
                }
                Err(error) => status.set(error),
            }
            busy.set(false);
        });
    };
    view! {
        <FileDrop testid="model-drop" input_testid="model-files" accept=".json,.safetensors,.bin" disabled=busy
            text="Or use files on this computer: drop config.json, tokenizer.json and model.safetensors here, or ".into()
            on_files=Callback::new(take) />
    }
}

/// Reads the picked files into their slots, each with a progress row; a file that is none of the three
/// is refused by name.
async fn read_picked(
    files: Vec<web_sys::File>,
    picked: StoredValue<PickedFiles, LocalStorage>,
    rows: RwSignal<Vec<FileRow>>,
) -> Result<(), String> {
    let roles = files
        .iter()
        .map(|file| {
            FileRole::of(&file.name()).ok_or_else(|| {
                format!(
                    "{} is not a model file: pick {CONFIG_FILE}, {TOKENIZER_FILE} and model.safetensors",
                    file.name()
                )
            })
        })
        .collect::<Result<Vec<FileRole>, String>>()?;
    rows.set(Vec::new());
    for (file, role) in files.iter().zip(roles) {
        let index = rows.with_untracked(Vec::len);
        rows.update(|r| r.push(FileRow { name: file.name(), progress: None, done: false }));
        let bytes = download::read_file(file, &|p| rows.update(|r| r[index].progress = Some(p)))
            .await
            .map_err(|e| e.to_string())?;
        rows.update(|r| r[index].done = true);
        picked.update_value(|p| match role {
            FileRole::Config => p.config = Some(bytes.to_vec()),
            FileRole::Tokenizer => p.tokenizer = Some(bytes.to_vec()),
            FileRole::Weights => {
                let name = if file.name().ends_with(".bin") { PYTORCH_FILE } else { SAFETENSORS_FILE };
                p.weights = Some((name.to_string(), bytes));
            }
        });
    }
    Ok(())
}

/// Hands the files on once all three are there; says what is still missing otherwise, with the memory
/// estimate as soon as config.json is in.
fn complete_pick(
    picked: StoredValue<PickedFiles, LocalStorage>,
    dtype: WeightDtype,
    on_ready: Callback<ModelFiles>,
) -> String {
    let missing = picked.with_value(PickedFiles::missing);
    if !missing.is_empty() {
        let estimate = picked.with_value(|p| {
            p.config.as_deref().map(|bytes| match parse_config(bytes) {
                Ok(config) => format!(" {}: {}.", config.family.name(), sizes_per_dtype(&config)),
                Err(error) => format!(" {CONFIG_FILE} is unusable: {error}."),
            })
        });
        return format!("Still missing: {}.{}", missing.join(", "), estimate.unwrap_or_default());
    }
    // Taken out, so a later pick starts afresh and the page holds one copy of the weights.
    let Some(PickedFiles { config: Some(config), tokenizer: Some(tokenizer), weights: Some((weights_name, weights)) }) =
        picked.try_update_value(std::mem::take)
    else {
        return "The picked files were lost: pick them again.".into();
    };
    let name = std::str::from_utf8(&config).ok().and_then(recorded_name).unwrap_or_else(|| "local-model".into());
    let source = format!("{name} (files on this computer)");
    let total = (config.len() + tokenizer.len()) as u64 + weights.len();
    let status = format!("Ready: {source} ({})", format::bytes(total));
    on_ready.run(ModelFiles { name, source, config, tokenizer, weights_name, weights, dtype, repo: None });
    status
}
