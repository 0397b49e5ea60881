//! Step 4: the prompt tried on any sentence. The user types or pastes one, in any language and script, or
//! takes an example from a language's test set (SIB-200's, or the prompt's own task's), and sees each
//! class's probability once they pause typing. The worker scores the sentence as evaluation does
//! (`tuning::predict`).
use gloo::timers::callback::Timeout;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::data::TestData;
use super::session::Session;
use crate::files::prompt_file::PromptFile;
use crate::task::languages::{LANGUAGES, by_code};
use crate::task::own_task::OwnTask;
use crate::tuning::predict::Prediction;

/// How long typing must pause before the sentence is classified.
const PAUSE_MS: u32 = 400;
/// Steps between successive examples of a language: the test files are sorted by topic, and a stride
/// prime to their length visits every sentence, changing topic from one example to the next.
const EXAMPLE_STRIDE: usize = 29;

#[component]
pub fn TryIt(
    session: RwSignal<Option<Session>, LocalStorage>,
    prompt: RwSignal<Option<PromptFile>>,
    /// The own task given in step 2: where a prompt trained for it takes its example sentences.
    own_task: RwSignal<Option<OwnTask>>,
) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let prediction = RwSignal::new(None::<Prediction>);
    let status = RwSignal::new(String::new());
    let language = RwSignal::new("swh_Latn".to_string());
    let example_index = RwSignal::new(0usize);
    // The test set's class of the example on show, and the task's name (cleared when the user edits it).
    let example_topic = RwSignal::new(None::<(String, String)>);
    // Each request gets a number; only the latest one's answer is shown.
    let asked = StoredValue::new(0u32);
    let classify = move || {
        let sentence = text.get_untracked();
        let n = asked.get_value() + 1;
        asked.set_value(n);
        if sentence.trim().is_empty() {
            prediction.set(None);
            status.set(String::new());
            return;
        }
        let (Some(session), Some(file)) = (session.get_untracked(), prompt.get_untracked()) else {
            status.set("Load a model and train, import or open a prompt first (steps 1 and 3).".into());
            return;
        };
        if let Err(error) = file.check_compatible(&session.config) {
            status.set(error.to_string());
            return;
        }
        status.set("Classifying…".into());
        spawn_local(async move {
            let result = session.engine.predict(&file, vec![sentence]).await;
            if asked.get_value() != n {
                return;
            }
            match result.map(|mut all| all.pop()) {
                Ok(Some(p)) => {
                    status.set(String::new());
                    prediction.set(Some(p));
                }
                Ok(None) => status.set("The worker returned no prediction.".into()),
                Err(error) => status.set(format!("Could not classify the sentence: {error}")),
            }
        });
    };
    // A new prompt or model classifies the sentence again.
    Effect::new(move |_| {
        prompt.track();
        session.track();
        classify();
    });
    let on_input = move |ev| {
        text.set(event_target_value(&ev));
        example_topic.set(None);
        let n = asked.get_value();
        // Classify once typing pauses, unless another request came meanwhile.
        Timeout::new(PAUSE_MS, move || {
            if asked.get_value() == n {
                classify();
            }
        })
        .forget();
    };
    let take_example = move |_| {
        let code = language.get_untracked();
        let Some(file) = prompt.get_untracked() else {
            return status.set("Train, import or open a prompt first (steps 2 and 3).".into());
        };
        let data = match own_task.with_untracked(|own| TestData::for_prompt(&file, own.as_ref())) {
            Ok(data) => data,
            Err(error) => return status.set(error),
        };
        let labels = file.metadata.task.labels(file.metadata.family);
        spawn_local(async move {
            match data.test(&code).await {
                Ok(examples) if !examples.is_empty() => {
                    let i = example_index.get_untracked() % examples.len();
                    example_index.set(i + EXAMPLE_STRIDE);
                    text.set(examples[i].text.clone());
                    let class = labels.classes.get(examples[i].label).cloned().unwrap_or_default();
                    example_topic.set(Some((class, labels.name.clone())));
                    classify();
                }
                Ok(_) => status.set(format!("{} has no test sentences for {code}.", labels.name)),
                Err(error) => status.set(format!("Could not fetch an example: {error}")),
            }
        });
    };
    view! {
        <section class="card try-it" aria-labelledby="try-title">
            <h2 id="try-title">"4 · Try it on any sentence"</h2>
            <p class="muted">
                "Type or paste a sentence in any language: the frozen model with the prompt gives each class (SIB-200's "
                "7 topics, or your task's labels) a probability, scored exactly as in evaluation."
            </p>
            <textarea data-testid="try-input" rows="3" placeholder="Habari za michezo: timu ya taifa imeshinda…"
                prop:value=move || text.get() on:input=on_input></textarea>
            <div class="try-examples">
                <label class="field">
                    <span>"Example from"</span>
                    <select data-testid="try-language" on:change=move |ev| {
                        language.set(event_target_value(&ev));
                        example_index.set(0);
                    }>
                        {LANGUAGES.iter().map(|l| view! {
                            <option value=l.code selected=move || language.get() == l.code>{l.name}</option>
                        }).collect_view()}
                    </select>
                </label>
                <button type="button" data-testid="try-example" on:click=take_example>"Example sentence"</button>
            </div>
            <p data-testid="try-status" role="status">{move || status.get()}</p>
            {move || prediction.get().map(|p| view! { <TopicBars prediction=p truth=example_topic.get() language=language.get() /> })}
        </section>
    }
}

/// Each class's probability as a bar, the predicted one marked, and the test set's own class when the
/// sentence is one of its examples.
#[component]
fn TopicBars(prediction: Prediction, truth: Option<(String, String)>, language: String) -> impl IntoView {
    let truth_line = truth.map(|(topic, task)| {
        let name = by_code(&language).map_or(language.clone(), |l| l.name.to_string());
        let verdict = if topic == prediction.label { "right" } else { "wrong" };
        format!("{task} labels this {name} sentence \u{201c}{topic}\u{201d}: the prompt is {verdict}.")
    });
    view! {
        <div class="try-result" data-testid="try-result" data-label=prediction.label.clone()>
            {prediction.probabilities.iter().map(|t| {
                let best = t.topic == prediction.label;
                view! {
                    <div class="topic-row" class:best=best data-testid="try-topic" data-topic=t.topic.clone()
                        data-probability=t.probability.to_string()>
                        <span class="topic-name">{t.topic.clone()}</span>
                        <svg class="topic-bar" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">
                            <rect width=format!("{:.2}", 100.0 * t.probability) height="10" />
                        </svg>
                        <span class="topic-probability">{format!("{:.1}%", 100.0 * t.probability)}</span>
                    </div>
                }
            }).collect_view()}
            {truth_line.map(|line| view! { <p class="muted" data-testid="try-truth">{line}</p> })}
        </div>
    }
}
