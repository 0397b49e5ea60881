//! What the page's own link asks for, shown above the steps: a shared prompt (in the link itself), or a
//! hosted prompt file, which is fetched only once the user agrees, after seeing where from.
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::download::fetch_cached;
use super::run_store::SavedRun;
use super::session::Session;
use crate::files::prompt_file::PromptFile;
use crate::files::share::{self, HostedPrompt, ShareError, SharedLink};

/// The page's `scheme://host[:port]`.
pub fn page_origin() -> String {
    web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default()
}

/// The page's address without its fragment: what share links are built on.
pub fn page_base() -> String {
    let path = web_sys::window().and_then(|w| w.location().pathname().ok()).unwrap_or_default();
    format!("{}{path}", page_origin())
}

/// The link's fragment, read; `None` when the page was opened without one.
pub fn read_page_link() -> Option<Result<SharedLink, ShareError>> {
    let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
    (hash.len() > 1).then(|| share::parse_fragment(&hash, &page_origin()))
}

fn opened_message(file: &PromptFile) -> String {
    format!(
        "Opened a shared prompt: {} vectors for {}, with the settings it was trained with. Load that model \
         (step 1), then evaluate it here or in step 4.",
        file.length, file.metadata.base_model
    )
}

#[component]
pub fn SharedLinkNotice(
    link: Option<Result<SharedLink, ShareError>>,
    runs: RwSignal<Vec<SavedRun>>,
    session: RwSignal<Option<Session>, LocalStorage>,
    on_prompt: Callback<PromptFile>,
    on_open: Callback<SavedRun>,
    /// Starts the 52-language evaluation of the page's prompt.
    on_evaluate: Callback<()>,
) -> impl IntoView {
    let notice = |text: String| view! { <p class="notice" data-testid="shared-notice" role="status">{text}</p> };
    match link {
        None => ().into_any(),
        Some(Ok(SharedLink::Prompt(file))) => view! {
            <div class="notice" data-testid="shared-notice" role="status">
                <p>{opened_message(&file)}</p>
                <EvaluateOffer session on_evaluate />
            </div>
        }
        .into_any(),
        Some(Ok(SharedLink::Hosted(hosted))) => {
            view! { <HostedPromptNotice hosted runs session on_prompt on_open on_evaluate /> }.into_any()
        }
        Some(Err(error)) => notice(format!("This page's link does not hold a usable prompt: {error}")).into_any(),
    }
}

#[derive(Clone, Debug, PartialEq)]
enum HostedState {
    Asking,
    Fetching,
    Declined,
    Done(String),
    Failed(String),
}

impl HostedState {
    fn name(&self) -> &'static str {
        match self {
            HostedState::Asking => "asking",
            HostedState::Fetching => "fetching",
            HostedState::Declined => "declined",
            HostedState::Done(_) => "done",
            HostedState::Failed(_) => "failed",
        }
    }
}

/// A link to a hosted prompt file: where it is, and nothing fetched until "Fetch". A prompt already among
/// the saved runs is opened from there, with its results, rather than replacing the saved run.
#[component]
fn HostedPromptNotice(
    hosted: HostedPrompt,
    runs: RwSignal<Vec<SavedRun>>,
    session: RwSignal<Option<Session>, LocalStorage>,
    on_prompt: Callback<PromptFile>,
    on_open: Callback<SavedRun>,
    on_evaluate: Callback<()>,
) -> impl IntoView {
    let state = RwSignal::new(HostedState::Asking);
    let url = hosted.url.clone();
    let fetch = move |_: leptos::ev::MouseEvent| {
        let url = url.clone();
        state.set(HostedState::Fetching);
        spawn_local(async move {
            let fetched = fetch_cached(&url, &|_| {}).await.map_err(|e| e.to_string()).and_then(|bytes| {
                PromptFile::from_safetensors(&bytes.to_vec())
                    .map_err(|e| format!("{url} is not a polyprompt prompt file: {e}"))
            });
            state.set(match fetched {
                Ok(file) => {
                    let id = file.fingerprint();
                    match runs.with_untracked(|all| all.iter().find(|run| run.id == id).cloned()) {
                        Some(run) => {
                            on_open.run(run);
                            HostedState::Done(
                                "This prompt is already among your saved runs: opened it from there, with its results \
                                 (nothing was replaced)."
                                    .into(),
                            )
                        }
                        None => {
                            let message = opened_message(&file);
                            on_prompt.run(file);
                            HostedState::Done(message)
                        }
                    }
                }
                Err(error) => HostedState::Failed(error),
            });
        });
    };
    view! {
        <div class="notice" data-testid="hosted-notice" data-state=move || state.with(HostedState::name) role="status">
            {move || match state.get() {
                HostedState::Asking | HostedState::Fetching => view! {
                    <p>
                        "This link points at a prompt file on "
                        <strong data-testid="hosted-origin">{hosted.origin.clone()}</strong>
                        ": " <code class="file-name">{hosted.url.clone()}</code>
                        ". Nothing has been fetched. Fetch it only if you trust that site."
                    </p>
                    <div class="actions">
                        <button type="button" class="primary" data-testid="hosted-fetch"
                            disabled=move || state.get() == HostedState::Fetching on:click=fetch.clone()>
                            "Fetch the prompt"
                        </button>
                        <button type="button" data-testid="hosted-decline"
                            on:click=move |_| state.set(HostedState::Declined)>"Ignore"</button>
                    </div>
                }.into_any(),
                HostedState::Declined => view! { <p>"Nothing was fetched."</p> }.into_any(),
                HostedState::Done(message) => view! { <p>{message}</p> <EvaluateOffer session on_evaluate /> }.into_any(),
                HostedState::Failed(error) => view! { <p class="error">{error}</p> }.into_any(),
            }}
        </div>
    }
}

/// The offer a shared prompt comes with: evaluate it on the 52 languages, once a model is loaded.
#[component]
fn EvaluateOffer(session: RwSignal<Option<Session>, LocalStorage>, on_evaluate: Callback<()>) -> impl IntoView {
    view! {
        <div class="actions shared-offer">
            <button type="button" class="primary" data-testid="shared-evaluate"
                disabled=move || session.with(Option::is_none) on:click=move |_| on_evaluate.run(())>
                "Evaluate it on 52 languages"
            </button>
            {move || session.with(Option::is_none).then(|| view! { <span class="muted">"Load its model first (step 1)."</span> })}
        </div>
    }
}
