//! The task a run trains on: SIB-200's topics (the paper's, the default) or the user's own, given as CSV
//! or TSV files (`train.csv`, optionally `dev.csv` and `<language>.csv` test files) by picker or drop. The
//! own task's classes, label words (editable) and files are shown; a bad file is refused with its name and
//! line, and the task in use stays as it was.
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::file_drop::FileDrop;
use crate::task::languages::by_code;
use crate::task::own_task::{MAX_CLASSES, OwnTask, TaskFile};

#[component]
pub fn TaskPicker(
    /// The own task in use; `None`: SIB-200.
    task: RwSignal<Option<OwnTask>>,
    disabled: Signal<bool>,
) -> impl IntoView {
    let message = RwSignal::new(String::new());
    // The last own task read, kept while SIB-200 is chosen so that switching back needs no new pick.
    let kept = RwSignal::new(None::<OwnTask>);
    let take = move |list: Option<web_sys::FileList>| {
        let Some(list) = list else { return };
        let files: Vec<gloo::file::File> = (0..list.length()).filter_map(|i| list.get(i)).map(Into::into).collect();
        if files.is_empty() {
            return;
        }
        message.set("Reading the task's files…".into());
        spawn_local(async move {
            match read_task(files).await {
                Ok(own) => {
                    message.set(String::new());
                    task.set(Some(own));
                }
                Err(error) => message.set(format!("{error}. The task in use is unchanged.")),
            }
        });
    };
    // A renamed task or an edited word is what switching back restores.
    Effect::new(move |_| {
        if let Some(own) = task.get() {
            kept.set(Some(own));
        }
    });
    let own_chosen = move || task.with(Option::is_some);
    view! {
        <fieldset class="task-picker" data-testid="task-picker" disabled=move || disabled.get()>
            <legend>"Task"</legend>
            <label class="field checkbox">
                <input type="radio" name="task" data-testid="task-sib200" prop:checked=move || !own_chosen()
                    on:change=move |_| task.set(None) />
                <span>"SIB-200: 7 topics of news-like sentences (the paper's)"</span>
            </label>
            <label class="field checkbox">
                <input type="radio" name="task" data-testid="task-own" prop:checked=own_chosen
                    disabled=move || kept.with(Option::is_none)
                    on:change=move |_| task.set(kept.get_untracked()) />
                <span>{move || kept.with(|k| match k {
                    Some(own) => format!("Your own task: {}", own.labels.name),
                    None => "Your own task (give its files below)".to_string(),
                })}</span>
            </label>
            <FileDrop testid="task-drop" input_testid="task-files" accept=".csv,.tsv" disabled=disabled
                text=format!(
                    "Drop train.csv (English rows of text,label; 2 to {MAX_CLASSES} labels), and if you have them \
                     dev.csv and test files named by language such as swh_Latn.csv, or "
                )
                on_files=Callback::new(take) />
            <p data-testid="task-message" role="status" class:error=move || message.with(|m| m.contains("unchanged"))>
                {move || message.get()}
            </p>
            {move || task.get().map(|own| view! { <OwnTaskSummary own task /> })}
        </fieldset>
    }
}

/// The own task at a glance: its name, classes with their label words (editable) and example counts, its
/// validation and test sets.
#[component]
fn OwnTaskSummary(own: OwnTask, task: RwSignal<Option<OwnTask>>) -> impl IntoView {
    let counts =
        |examples: &[crate::task::sib200::Example], class: usize| examples.iter().filter(|e| e.label == class).count();
    let validation = if own.dev_from_train {
        format!("{} validation examples held out of train (no dev file)", own.dev.len())
    } else {
        format!("{} validation examples from the dev file", own.dev.len())
    };
    let tests = if own.tests.is_empty() {
        "no test files: evaluation needs <language>.csv files".to_string()
    } else {
        let names: Vec<String> = own
            .tests
            .iter()
            .map(|(code, examples)| format!("{} ({})", by_code(code).map_or(code.as_str(), |l| l.name), examples.len()))
            .collect();
        format!("test sets: {}", names.join(", "))
    };
    let rename = move |ev| {
        let name = event_target_value(&ev);
        if !name.trim().is_empty() {
            task.update(|t| {
                if let Some(t) = t {
                    t.labels.name = name.trim().to_string();
                }
            });
        }
    };
    view! {
        <div class="own-task" data-testid="own-task" data-classes=own.labels.classes.len()>
            <label class="field">
                <span>"Task name (recorded in the prompt file)"</span>
                <input type="text" data-testid="task-name" prop:value=own.labels.name.clone() on:change=rename />
            </label>
            <table class="label-words">
                <thead><tr><th>"Label"</th><th>"Word the model scores"</th><th>"Training examples"</th></tr></thead>
                <tbody>
                    {own.labels.classes.iter().enumerate().map(|(i, class)| {
                        let class_name = class.clone();
                        let set_word = move |ev| {
                            let word = event_target_value(&ev);
                            task.update(|t| {
                                if let Some(t) = t {
                                    // An empty word is refused; the field shows the word kept.
                                    let _ = t.set_word(&class_name, &word);
                                }
                            });
                        };
                        view! {
                            <tr data-testid="task-class" data-class=class.clone()>
                                <td>{class.clone()}</td>
                                <td><input type="text" data-testid="task-word" aria-label=format!("label word for {class}")
                                    prop:value=own.labels.words[i].clone() on:change=set_word /></td>
                                <td>{counts(&own.train, i)}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <p class="muted" data-testid="task-sets">{format!("{} training examples · {validation} · {tests}.", own.train.len())}</p>
        </div>
    }
}

/// The picked files as an own task, called "My task" until the user names it.
async fn read_task(files: Vec<gloo::file::File>) -> Result<OwnTask, String> {
    let mut task_files = Vec::with_capacity(files.len());
    for file in files {
        if file.size() as usize > crate::task::own_task::MAX_FILE_BYTES {
            return Err(format!("{} is {} bytes, too large for a task file", file.name(), file.size()));
        }
        let bytes = gloo::file::futures::read_as_bytes(&file).await.map_err(|e| format!("{}: {e}", file.name()))?;
        task_files.push(TaskFile { name: file.name(), bytes });
    }
    OwnTask::from_files("My task", &task_files).map_err(|e| e.to_string())
}
