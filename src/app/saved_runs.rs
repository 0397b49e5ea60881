//! Runs kept in the browser: every prompt the page holds (trained, paused, cancelled, imported or opened
//! from a link) is saved at once with its results, so a reload or a crash loses nothing; saved runs can
//! be reopened and compared side by side. They stay until the user deletes them: none is dropped to make
//! room (when the browser's quota is reached, saving says so). Storage: `run_store` (IndexedDB), shared by
//! every tab of the app and keyed by prompt, so no tab overwrites another's run; each tab tells the others
//! of what it saved or deleted (a BroadcastChannel), and their lists follow without a reload. Because the
//! browser may clear or evict that storage, every run can be downloaded as one zip (`files::run_archive`)
//! and imported back.
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;
use web_sys::{BroadcastChannel, MessageEvent};

use super::run_store::{self, SavedRun};
use super::save::save_file;
use super::{inventory, offline};
use crate::files::prompt_file::PromptFile;
use crate::files::run_archive::{self, ArchivedRun};
use crate::tuning::eval::{self, LanguageResult, mean_accuracy};

/// A short description of a prompt for lists: "L4 · tiny-bloom · uniform · MLP 200", and where a run that
/// did not finish (still going, interrupted, cancelled) had got to: "· saved at step 14 of 140".
fn label(file: &PromptFile) -> String {
    let training = &file.metadata.training;
    let config = &training["config"]["prompt"];
    let init = config["init"]["kind"].as_str().unwrap_or("imported");
    let mlp = config["reparam_hidden"].as_u64().map(|h| format!(" · MLP {h}")).unwrap_or_default();
    let unfinished = match (training["steps_done"].as_u64(), training["total_steps"].as_u64()) {
        (Some(done), Some(total)) if done < total => format!(" · saved at step {done} of {total}"),
        _ => String::new(),
    };
    format!("L{} · {} · {init}{mlp}{unfinished}", file.length, file.metadata.base_model)
}

/// Saves `file` (and its results) as the newest run, replacing its earlier entry; a prompt saved again
/// without results keeps the results it was saved with (the same vectors score the same). The list
/// updates at once; if the browser then refuses the write (storage full or disabled), `error` says so.
pub fn save(
    runs: RwSignal<Vec<SavedRun>>,
    file: &PromptFile,
    results: &[LanguageResult],
    error: RwSignal<Option<String>>,
) {
    let id = file.fingerprint();
    let mut list = runs.get_untracked();
    let kept_results = match list.iter().find(|r| r.id == id) {
        Some(earlier) if results.is_empty() => earlier.results.clone(),
        _ => results.to_vec(),
    };
    let run = SavedRun::of(file, label(file), js_sys::Date::now(), kept_results);
    list.retain(|r| r.id != run.id);
    list.insert(0, run.clone());
    runs.set(list);
    store(vec![run], error);
}

/// Writes `stored` to IndexedDB, then tells the other tabs and the inventory; `error` says if it failed.
fn store(stored: Vec<SavedRun>, error: RwSignal<Option<String>>) {
    spawn_local(async move {
        let mut failed = None;
        for run in &stored {
            match run_store::put(run).await {
                Ok(()) => inventory::remember_run(&run.id, &run.label),
                Err(e) => failed = Some(e),
            }
        }
        if failed.is_none() {
            tell_other_tabs(SAVED);
            offline::ask_to_persist().await;
        }
        error.set(failed.map(|e| {
            format!("The run could not be saved in this browser ({e}): download the prompt file to keep it, or delete saved runs to make room.")
        }));
    });
}

/// The channel the app's tabs in this browser share; a message is [`SAVED`] or [`DELETED`] + the run's id.
const CHANNEL: &str = "polyprompt-runs";
const SAVED: &str = "saved";
const DELETED: &str = "deleted:";

thread_local! {
    /// This tab's end of [`CHANNEL`], open for the page's life (a channel never hears its own messages).
    static TABS: Option<BroadcastChannel> = BroadcastChannel::new(CHANNEL).ok();
}

fn tell_other_tabs(message: &str) {
    TABS.with(|channel| {
        if let Some(Err(error)) = channel.as_ref().map(|c| c.post_message(&JsValue::from_str(message))) {
            web_sys::console::warn_2(&"other tabs could not be told of a saved run:".into(), &error);
        }
    });
}

/// Keeps `runs` in step with what the app's other tabs save and delete: a deleted run leaves the list; after
/// a save the list gains every stored run it lacks (the newer entry winning), and keeps its own runs still
/// being written.
pub fn follow_other_tabs(runs: RwSignal<Vec<SavedRun>>) {
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let message = event.data().as_string().unwrap_or_default();
        if let Some(id) = message.strip_prefix(DELETED) {
            runs.update(|list| list.retain(|r| r.id != id));
        } else if message == SAVED {
            spawn_local(async move {
                match run_store::load_all().await {
                    Ok(stored) => runs.update(|list| merge_runs(list, stored)),
                    Err(error) => {
                        web_sys::console::warn_1(&format!("another tab's run could not be read: {error}").into())
                    }
                }
            });
        }
    });
    TABS.with(|channel| {
        if let Some(channel) = channel {
            channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        }
    });
    on_message.forget();
}

/// `list` with every run of `stored` it lacks or holds an older copy of, newest first.
fn merge_runs(list: &mut Vec<SavedRun>, stored: Vec<SavedRun>) {
    for run in stored {
        match list.iter_mut().find(|r| r.id == run.id) {
            Some(mine) if mine.saved_at >= run.saved_at => {}
            Some(mine) => *mine = run,
            None => list.push(run),
        }
    }
    list.sort_by(|a, b| b.saved_at.total_cmp(&a.saved_at));
}

/// Deletes the run `id` if it has no results: a prompt a training run saved on its way and has since
/// bettered (one the user evaluated stays).
pub fn forget_superseded(runs: RwSignal<Vec<SavedRun>>, id: &str) {
    if runs.with_untracked(|all| all.iter().any(|r| r.id == id && r.results.is_empty())) {
        delete(runs, id);
    }
}

fn delete(runs: RwSignal<Vec<SavedRun>>, id: &str) {
    runs.update(|list| list.retain(|r| r.id != id));
    let id = id.to_string();
    spawn_local(async move {
        match run_store::delete(&id).await {
            Ok(()) => {
                inventory::forget_run(&id);
                tell_other_tabs(&format!("{DELETED}{id}"))
            }
            Err(error) => web_sys::console::error_1(&format!("deleting saved run {id} failed: {error}").into()),
        }
    });
}

/// Every saved run as one zip ("Download all runs").
fn download_all(runs: &[SavedRun]) {
    let archived: Vec<ArchivedRun> = runs
        .iter()
        .filter_map(|run| {
            let prompt = run.prompt_file().ok()?;
            Some(ArchivedRun { label: run.label.clone(), saved_at: run.saved_at, prompt, results: run.results.clone() })
        })
        .collect();
    save_file("polyprompt-runs.zip", &run_archive::to_zip(&archived), "application/zip");
}

/// The runs of a zip made by "Download all runs" join the saved runs (a run already saved keeps the newer
/// copy); `message` says how many came in and which entries could not be read.
async fn import_zip(
    file: gloo::file::File,
    runs: RwSignal<Vec<SavedRun>>,
    message: RwSignal<String>,
    error: RwSignal<Option<String>>,
) {
    let contents = match gloo::file::futures::read_as_bytes(&file).await {
        Ok(bytes) => run_archive::from_zip(&bytes).map_err(|e| e.to_string()),
        Err(e) => Err(format!("{} could not be read ({e})", file.name())),
    };
    let contents = match contents {
        Ok(contents) => contents,
        Err(why) => return message.set(format!("Nothing imported: {why}")),
    };
    let imported: Vec<SavedRun> =
        contents.runs.into_iter().map(|run| SavedRun::of(&run.prompt, run.label, run.saved_at, run.results)).collect();
    let mut said =
        format!("Imported {} run{} from {}.", imported.len(), if imported.len() == 1 { "" } else { "s" }, file.name());
    if !contents.problems.is_empty() {
        said.push_str(&format!(" Not imported: {}.", contents.problems.join("; ")));
    }
    message.set(said);
    runs.update(|list| merge_runs(list, imported.clone()));
    store(imported, error);
}

/// Saved runs: open one, delete one, compare the chosen ones' accuracies side by side, download them all as
/// one zip and import such a zip.
#[component]
pub fn SavedRuns(
    runs: RwSignal<Vec<SavedRun>>,
    on_open: Callback<SavedRun>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let compared = RwSignal::new(Vec::<String>::new());
    let message = RwSignal::new(String::new());
    let import = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        if let Some(file) = input.files().and_then(|files| files.get(0)) {
            spawn_local(import_zip(gloo::file::File::from(file), runs, message, error));
        }
        input.set_value("");
    };
    view! {
        <section class="card saved-runs" aria-labelledby="runs-title">
            <h2 id="runs-title">"Saved runs"</h2>
            <p class="muted">
                "Kept in this browser, which may clear them (clearing site data, or evicting it when the disk is \
                 full): download them to keep them. Tick runs to compare them."
            </p>
            <div class="actions">
                <button type="button" data-testid="runs-download-all" disabled=move || runs.with(Vec::is_empty)
                    on:click=move |_| runs.with_untracked(|all| download_all(all))>"Download all runs (.zip)"</button>
                <label class="file-button">
                    "Import runs (.zip)…"
                    <input type="file" data-testid="runs-import" accept=".zip" on:change=import />
                </label>
            </div>
            <p data-testid="runs-message" role="status">{move || message.get()}</p>
            <ul data-testid="saved-runs">
                {move || runs.get().into_iter().map(|run| {
                    let id = run.id.clone();
                    let ticked = {
                        let id = id.clone();
                        move || compared.with(|c| c.contains(&id))
                    };
                    let toggle = {
                        let id = id.clone();
                        move |_| compared.update(|c| if let Some(i) = c.iter().position(|x| *x == id) { c.remove(i); } else { c.push(id.clone()); })
                    };
                    let mean = (!run.results.is_empty()).then(|| format!(" · mean {:.1}%", 100.0 * mean_accuracy(&run.results)));
                    let open = {
                        let run = run.clone();
                        move |_| on_open.run(run.clone())
                    };
                    let remove = {
                        let id = id.clone();
                        move |_| delete(runs, &id)
                    };
                    view! {
                        <li data-testid="saved-run" data-id=id.clone()>
                            <label class="checkbox">
                                <input type="checkbox" prop:checked=ticked on:change=toggle />
                                <span>{run.label.clone()}{mean}</span>
                            </label>
                            <button type="button" data-testid="saved-run-open" on:click=open>"Open"</button>
                            <button type="button" on:click=remove aria-label=format!("Delete {}", run.label)>"Delete"</button>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <RunComparison runs compared />
        </section>
    }
}

/// Mean accuracy per language family for each compared run, one column per run; every language's
/// accuracy per run as CSV.
#[component]
fn RunComparison(runs: RwSignal<Vec<SavedRun>>, compared: RwSignal<Vec<String>>) -> impl IntoView {
    move || {
        let chosen: Vec<SavedRun> = runs.with(|all| {
            compared.with(|ids| {
                ids.iter().filter_map(|id| all.iter().find(|r| &r.id == id && !r.results.is_empty()).cloned()).collect()
            })
        });
        (chosen.len() >= 2).then(|| {
            let mut families: Vec<String> = Vec::new();
            for run in &chosen {
                for r in &run.results {
                    let family = r.family_root().to_string();
                    if !families.contains(&family) {
                        families.push(family);
                    }
                }
            }
            let cell = |run: &SavedRun, family: Option<&str>| {
                let members: Vec<LanguageResult> = run
                    .results
                    .iter()
                    .filter(|r| family.is_none_or(|f| r.family_root() == f))
                    .cloned()
                    .collect();
                if members.is_empty() { "–".to_string() } else { format!("{:.1}%", 100.0 * mean_accuracy(&members)) }
            };
            let table: Vec<(String, Vec<LanguageResult>)> = chosen.iter().map(|r| (r.label.clone(), r.results.clone())).collect();
            let export = move |_| save_file("polyprompt-comparison.csv", eval::comparison_csv(&table).as_bytes(), "text/csv");
            view! {
                <button type="button" data-testid="comparison-csv" on:click=export>"Export comparison CSV"</button>
                <table class="comparison" data-testid="run-comparison">
                    <thead><tr><th>"Languages"</th>{chosen.iter().map(|r| view! { <th>{r.label.clone()}</th> }).collect_view()}</tr></thead>
                    <tbody>
                        <tr><th>"All"</th>{chosen.iter().map(|r| view! { <td>{cell(r, None)}</td> }).collect_view()}</tr>
                        {families.iter().map(|f| view! {
                            <tr><th>{f.clone()}</th>{chosen.iter().map(|r| view! { <td>{cell(r, Some(f))}</td> }).collect_view()}</tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }
        })
    }
}
