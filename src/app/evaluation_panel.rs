//! Step 3: evaluate the current prompt zero-shot on the 52 languages' SIB-200 test sets (or its own task's
//! test files), language by language, with progress; the results table and chart fill in as languages
//! finish.
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::data::TestData;
use super::presenter::{self, PresenterButtons};
use super::results::{AccuracyChart, ResultsTable, ShareScatter};
use super::session::Session;
use super::transfer_map::TransferMap;
use crate::files::prompt_file::PromptFile;
use crate::task::languages::Language;
use crate::task::own_task::OwnTask;
use crate::task::sib200::{CATEGORIES, Shots, balanced_sample};
use crate::tuning::eval::{self, LanguageResult};

/// The quick preview's test sentences per class (SIB-200 has at least 17 per topic): 28 of a language's
/// 204, balanced (the test files are sorted by topic, so their first lines would all be one topic). For
/// classroom demos on slow devices.
pub const QUICK_PER_TOPIC: usize = 4;
/// A first look at transfer in three languages: English (trained on), Swahili and Telugu (far from it).
const THREE: [&str; 3] = ["eng_Latn", "swh_Latn", "tel_Telu"];

#[component]
pub fn EvaluationPanel(
    session: RwSignal<Option<Session>, LocalStorage>,
    prompt: RwSignal<Option<PromptFile>>,
    results: RwSignal<Vec<LanguageResult>>,
    /// The own task given in step 2, whose test files evaluate a prompt trained for it.
    own_task: RwSignal<Option<OwnTask>>,
    /// Each change starts an evaluation, as the panel's own button does (the shared-link notice's offer).
    requests: RwSignal<u32>,
) -> impl IntoView {
    let quick = RwSignal::new(false);
    let only_three = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let status = RwSignal::new(String::new());
    let presenting = presenter::presenting();
    let has_results = Signal::derive(move || results.with(|r| !r.is_empty()));
    let chance = Signal::derive(move || results.with(|r| eval::chance_level(r)));
    let start = move || {
        let (Some(session), Some(file)) = (session.get_untracked(), prompt.get_untracked()) else { return };
        if busy.get_untracked() {
            return;
        }
        if let Err(error) = file.check_compatible(&session.config) {
            status.set(error.to_string());
            return;
        }
        let data = match own_task.with_untracked(|own| TestData::for_prompt(&file, own.as_ref())) {
            Ok(data) => data,
            Err(error) => return status.set(error),
        };
        let mut languages = data.languages();
        if only_three.get_untracked() {
            languages.retain(|l| THREE.contains(&l.code));
        }
        if languages.is_empty() {
            return status
                .set("The task has no test files for these languages: add <language>.csv files in step 2.".into());
        }
        busy.set(true);
        results.set(Vec::new());
        let sample = if quick.get_untracked() { Shots::PerClass(QUICK_PER_TOPIC) } else { Shots::All };
        spawn_local(async move {
            if let Err(error) = evaluate_all(&session, &file, &data, &languages, sample, results, status).await {
                status.set(format!("{error}. Results so far are kept."));
            }
            busy.set(false);
        });
    };
    // What the prompt is evaluated on, for the panel's words: its task's classes and languages.
    let classes = move || {
        prompt
            .with(|p| p.as_ref().map_or(CATEGORIES.len(), |p| p.metadata.task.labels(p.metadata.family).classes.len()))
    };
    let language_count = move || {
        own_task.with(|own| {
            prompt.with(|p| {
                p.as_ref().and_then(|p| TestData::for_prompt(p, own.as_ref()).ok()).map_or(52, |d| d.languages().len())
            })
        })
    };
    Effect::new(move |seen: Option<u32>| {
        let count = requests.get();
        if seen.is_some_and(|seen| seen != count) {
            start();
        }
        count
    });
    view! {
        <section class="card results" aria-labelledby="results-title">
            <h2 id="results-title">"3 · Zero-shot transfer to other languages"</h2>
            <p class="muted">
                "The prompt was trained on English only. Each language's test sentences (SIB-200: 204, in 52 "
                "languages) are classified by the frozen model with the prompt: the class whose label word scores "
                "highest wins. "{move || format!("Chance is 1/{}.", classes())}
            </p>
            <label class="field checkbox">
                <input type="checkbox" data-testid="eval-quick" prop:checked=move || quick.get()
                    on:change=move |ev| quick.set(event_target_checked(&ev)) />
                <span>{move || format!(
                    "Quick preview: {} test sentences per language ({QUICK_PER_TOPIC} per class) instead of all",
                    classes() * QUICK_PER_TOPIC
                )}</span>
            </label>
            <label class="field checkbox">
                <input type="checkbox" data-testid="eval-three" prop:checked=move || only_three.get()
                    on:change=move |ev| only_three.set(event_target_checked(&ev)) />
                <span>"Only three languages: English, Swahili and Telugu (a first look on a slow device)"</span>
            </label>
            <button type="button" class="primary" data-testid="eval-start"
                disabled=move || busy.get() || session.with(Option::is_none) || prompt.with(Option::is_none)
                on:click=move |_| start()>
                {move || if only_three.get() { "Evaluate on 3 languages".to_string() } else { format!("Evaluate on {} languages", language_count()) }}
            </button>
            <p data-testid="eval-status" role="status">{move || status.get()}</p>
            <div class="presenter-bar">
                <PresenterButtons presenting has_results />
            </div>
            <div class="charts">
                <AccuracyChart results />
                <TransferMap results chance />
            </div>
            <ShareScatter results family=Signal::derive(move || prompt.with(|p| p.as_ref().map(|f| f.metadata.family))) />
            <ResultsTable results />
        </section>
    }
}

async fn evaluate_all(
    session: &Session,
    file: &PromptFile,
    data: &TestData,
    languages: &[Language],
    sample: Shots,
    results: RwSignal<Vec<LanguageResult>>,
    status: RwSignal<String>,
) -> Result<(), String> {
    evaluate_languages(
        session,
        file,
        data,
        languages,
        sample,
        |s| status.set(s),
        |r| results.update(|all| all.push(r)),
    )
    .await?;
    let (mean, chance) = results.with(|r| (eval::mean_accuracy(r), eval::chance_level(r)));
    status.set(format!(
        "Done: mean accuracy {:.1}% over {} languages (chance {:.1}%).",
        100.0 * mean,
        languages.len(),
        100.0 * chance
    ));
    Ok(())
}

/// Evaluates `file` on `languages` one by one (`sample`: all test sentences, or a balanced few per class),
/// saying which language is under way and handing each result on as it comes. The page fetches each test
/// set (or takes it from the own task); the training worker evaluates it.
pub async fn evaluate_languages(
    session: &Session,
    file: &PromptFile,
    data: &TestData,
    languages: &[Language],
    sample: Shots,
    status: impl Fn(String),
    mut on_result: impl FnMut(LanguageResult),
) -> Result<(), String> {
    for (i, language) in languages.iter().enumerate() {
        status(format!("Evaluating {} ({} of {})…", language.name, i + 1, languages.len()));
        let mut examples = data.test(language.code).await?;
        if sample != Shots::All {
            examples = balanced_sample(&examples, sample, 0);
        }
        on_result(session.engine.evaluate(file, language, examples).await?);
    }
    Ok(())
}
