//! The paper's study as a preset of the training panel: one prompt per prompt length, without and with the
//! reparameterization MLP (`study::grid`), each trained with the panel's settings and evaluated on the
//! chosen languages, one after another; the runs are listed side by side as they finish.
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::data::{TestData, english_training};
use super::engine::RunEvent;
use super::evaluation_panel::{QUICK_PER_TOPIC, evaluate_languages};
use super::save::save_file;
use super::session::Session;
use crate::files::prompt_file::PromptFile;
use crate::task::languages::{self, Language};
use crate::task::sib200::Shots;
use crate::tuning::eval::mean_accuracy;
use crate::tuning::study::{self, PAPER_LENGTHS, PAPER_REPARAM_HIDDEN, StudyCell, StudyResult};
use crate::tuning::train::{RunOutcome, TrainConfig, TrainControl};

/// English and two languages far from it in script and pre-training data: a study that fits a lesson.
const DEFAULT_LANGUAGES: &str = "eng_Latn,swh_Latn,tel_Telu";

#[component]
pub fn PaperStudy(
    session: RwSignal<Option<Session>, LocalStorage>,
    /// The training panel's settings: every run uses them, with its own length and reparameterization.
    settings: Callback<(), TrainConfig>,
    /// Set while the study runs (the panel's own training waits), and whether the panel is training.
    running: RwSignal<bool>,
    panel_busy: Signal<bool>,
    /// Receives each run's prompt, so it is saved like any other.
    on_prompt: Callback<PromptFile>,
) -> impl IntoView {
    let lengths = RwSignal::new(PAPER_LENGTHS.map(|l| l.to_string()).join(","));
    let codes = RwSignal::new(DEFAULT_LANGUAGES.to_string());
    let quick = RwSignal::new(true);
    let status = RwSignal::new(String::new());
    let finished = RwSignal::new(Vec::<StudyResult>::new());
    // Stop is remembered here too: pressed while a run is being evaluated, it must still end the study.
    let control = StoredValue::new(TrainControl::default());
    let cells = move || {
        let lengths =
            lengths.with(|text| text.split(',').map(|l| l.trim().parse::<usize>()).collect::<Result<Vec<_>, _>>());
        lengths
            .ok()
            .filter(|l| !l.is_empty() && l.iter().all(|&l| l >= 1))
            .map(|l| study::grid(&l, &[None, Some(PAPER_REPARAM_HIDDEN)]))
    };
    let start = move |_| {
        let Some(session) = session.get_untracked() else { return };
        let Some(cells) = cells() else {
            return status.set("Prompt lengths: whole numbers from 1, separated by commas (e.g. 1,2,5,10).".into());
        };
        let chosen: Vec<String> = codes.with_untracked(|c| c.split(',').map(|s| s.trim().to_string()).collect());
        let languages = match languages::select(&chosen) {
            Ok(languages) => languages,
            Err(error) => return status.set(error.to_string()),
        };
        let sample = if quick.get_untracked() { Shots::PerClass(QUICK_PER_TOPIC) } else { Shots::All };
        let base = settings.run(());
        control.set_value(TrainControl::default());
        finished.set(Vec::new());
        running.set(true);
        spawn_local(async move {
            let outcome = run_study(
                &session,
                &cells,
                &base,
                &languages,
                sample,
                &control.get_value(),
                status,
                finished,
                on_prompt,
            )
            .await;
            status.set(match outcome {
                Ok(true) => format!("Done: {} runs.", cells.len()),
                Ok(false) => format!("Stopped after {} of {} runs.", finished.with(Vec::len), cells.len()),
                Err(error) => format!("{error}. The finished runs are kept."),
            });
            running.set(false);
        });
    };
    let download = move |_| {
        let table = finished.with_untracked(|study| study::comparison_table(study));
        save_file("paper-study.md", table.as_bytes(), "text/markdown");
    };

    view! {
        <section class="paper-study" aria-labelledby="study-title">
            <h3 id="study-title">"Paper study"</h3>
            <p class="muted">
                "The paper's experiment in one click: a prompt for every length, without and with the "
                "reparameterization MLP (hidden 200), each trained with the settings above and evaluated on the "
                "languages below. Short prompts often transfer best."
            </p>
            <label class="field">
                <span>"Prompt lengths"</span>
                <input type="text" data-testid="study-lengths" prop:value=move || lengths.get()
                    on:change=move |ev| lengths.set(event_target_value(&ev)) />
            </label>
            <label class="field">
                <span>"Languages (FLORES-200 codes, or all)"</span>
                <input type="text" data-testid="study-languages" spellcheck="false" prop:value=move || codes.get()
                    on:change=move |ev| codes.set(event_target_value(&ev)) />
            </label>
            <label class="field checkbox">
                <input type="checkbox" data-testid="study-quick" prop:checked=move || quick.get()
                    on:change=move |ev| quick.set(event_target_checked(&ev)) />
                <span>{format!("Quick evaluation: {} test sentences per language", 7 * QUICK_PER_TOPIC)}</span>
            </label>
            <div class="actions">
                <button type="button" class="primary" data-testid="study-start" on:click=start
                    disabled=move || running.get() || panel_busy.get() || session.with(Option::is_none)>
                    {move || match cells() {
                        Some(cells) => format!("Run the study ({} runs)", cells.len()),
                        None => "Run the study".to_string(),
                    }}
                </button>
                <button type="button" data-testid="study-stop" disabled=move || !running.get()
                    on:click=move |_| {
                        control.with_value(TrainControl::cancel);
                        session.with_untracked(|s| s.as_ref().map(|s| s.engine.cancel()));
                    }>"Stop"</button>
                <button type="button" data-testid="study-download" disabled=move || finished.with(Vec::is_empty)
                    on:click=download>"Download table"</button>
            </div>
            <p data-testid="study-status" role="status">{move || status.get()}</p>
            <StudyTable finished />
        </section>
    }
}

/// Trains and evaluates every cell in turn; `Ok(false)` when stopped.
#[allow(clippy::too_many_arguments)]
async fn run_study(
    session: &Session,
    cells: &[StudyCell],
    base: &TrainConfig,
    languages: &[Language],
    sample: Shots,
    control: &TrainControl,
    status: RwSignal<String>,
    finished: RwSignal<Vec<StudyResult>>,
    on_prompt: Callback<PromptFile>,
) -> Result<bool, String> {
    status.set("Fetching English SIB-200…".into());
    let (train, dev) = english_training(None).await?;
    for (i, cell) in cells.iter().enumerate() {
        if control.is_cancelled() {
            return Ok(false);
        }
        let run = format!("Run {} of {}: {}", i + 1, cells.len(), cell.label());
        status.set(format!("{run} — training…"));
        let mut events = session.engine.train(cell.config(base), train.clone(), dev.clone());
        let file = loop {
            match events.next().await {
                RunEvent::Steps { progress, .. } => {
                    status.set(format!("{run} — training: step {} of {}", progress.step, progress.total_steps))
                }
                RunEvent::InStep(_) | RunEvent::Validation { .. } => {}
                RunEvent::Stopped { outcome: Ok(RunOutcome::Finished), prompt: Some(file) } => break file,
                RunEvent::Stopped { outcome: Ok(RunOutcome::Finished), prompt: None } => {
                    return Err("the run finished, but its prompt could not be read back".into());
                }
                RunEvent::Stopped { outcome: Ok(_), .. } => return Ok(false),
                RunEvent::Stopped { outcome: Err(error), .. } => return Err(error),
            }
        };
        let mut results = Vec::new();
        evaluate_languages(
            session,
            &file,
            &TestData::Sib200,
            languages,
            sample,
            |s| status.set(format!("{run} — {s}")),
            |r| results.push(r),
        )
        .await?;
        on_prompt.run(file);
        finished.update(|f| f.push(StudyResult { cell: *cell, results }));
    }
    Ok(true)
}

/// The finished runs side by side: accuracy per language and the mean, and the core's chart of mean
/// accuracy against prompt length.
#[component]
fn StudyTable(finished: RwSignal<Vec<StudyResult>>) -> impl IntoView {
    move || {
        finished.with(|study| {
            let first = study.first()?;
            let percent = |accuracy: f64| format!("{:.1}%", 100.0 * accuracy);
            Some(view! {
                <table class="comparison" data-testid="study-table">
                    <thead><tr>
                        <th>"Language"</th>
                        {study.iter().map(|s| view! { <th data-testid="study-run">{s.cell.label()}</th> }).collect_view()}
                    </tr></thead>
                    <tbody>
                        <tr data-testid="study-mean">
                            <th>"Mean"</th>
                            {study.iter().map(|s| view! { <td>{percent(mean_accuracy(&s.results))}</td> }).collect_view()}
                        </tr>
                        {first.results.iter().enumerate().map(|(row, language)| view! {
                            <tr data-testid="study-language">
                                <th>{language.name.clone()}</th>
                                {study.iter().map(|s| view! {
                                    <td>{s.results.get(row).map_or("–".to_string(), |r| percent(r.accuracy))}</td>
                                }).collect_view()}
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                <div class="study-chart" data-testid="study-chart"
                    inner_html=study::chart_svg(study, "Mean accuracy by prompt length")></div>
            })
        })
    }
}
