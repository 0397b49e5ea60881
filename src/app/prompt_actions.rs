//! The current prompt (trained here, imported, or opened from a link): what it is, download as our single
//! file or PEFT's pair, import, and share by URL.
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::save::save_file;
use super::session::Session;
use crate::prompt_file::PromptFile;

/// Fragments longer than this are not offered as links (chat apps and QR codes truncate them).
const MAX_LINK_CHARS: usize = 32_000;

#[component]
pub fn PromptActions(
    prompt: RwSignal<Option<PromptFile>>,
    session: RwSignal<Option<Session>, LocalStorage>,
) -> impl IntoView {
    let message = RwSignal::new(String::new());
    let link = move || {
        prompt.with(|p| {
            p.as_ref().map(|file| {
                let fragment = file.to_share_fragment();
                let location = web_sys::window().map(|w| w.location());
                let base = location
                    .map(|l| format!("{}{}", l.origin().unwrap_or_default(), l.pathname().unwrap_or_default()))
                    .unwrap_or_default();
                (fragment.len() <= MAX_LINK_CHARS).then(|| format!("{base}#{fragment}"))
            })
        })
    };
    let file_stem = move || {
        prompt.with_untracked(|p| {
            p.as_ref().map_or_else(String::new, |f| {
                format!("polyprompt-{}-L{}", f.metadata.base_model.replace('/', "_"), f.length)
            })
        })
    };
    let download_single = move |_| {
        if let Some(file) = prompt.get_untracked() {
            save_file(&format!("{}.safetensors", file_stem()), &file.to_safetensors(), "application/octet-stream");
        }
    };
    let download_peft = move |_| {
        let (Some(file), Some(session)) = (prompt.get_untracked(), session.get_untracked()) else {
            message.set("Load the prompt's model first: adapter_config.json records its layer and head counts.".into());
            return;
        };
        save_file("adapter_model.safetensors", &file.to_safetensors(), "application/octet-stream");
        save_file("adapter_config.json", file.peft_config_json(session.model.config()).as_bytes(), "application/json");
    };
    let import = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let Some(list) = input.files() else { return };
        let files: Vec<gloo::file::File> = (0..list.length()).filter_map(|i| list.get(i)).map(Into::into).collect();
        spawn_local(async move {
            match read_import(files).await {
                Ok(file) => {
                    message.set(format!("Imported a {}-vector prompt for {}.", file.length, file.metadata.base_model));
                    prompt.set(Some(file));
                }
                Err(error) => message.set(error),
            }
        });
    };
    let copy = move |_| {
        if let (Some(Some(url)), Some(window)) = (link(), web_sys::window()) {
            let _ = window.navigator().clipboard().write_text(&url);
            message.set("Link copied.".into());
        }
    };

    view! {
        <section class="card prompt-actions" aria-labelledby="prompt-title">
            <h2 id="prompt-title">"Prompt file"</h2>
            {move || match prompt.get() {
                None => view! { <p class="muted" data-testid="prompt-summary" data-fingerprint="">"No prompt yet: train one, or import a file."</p> }.into_any(),
                Some(file) => view! {
                    <p data-testid="prompt-summary" data-fingerprint=file.fingerprint() data-length=file.length>
                        {format!(
                            "{} vectors × {} · {} placement · for {} · fingerprint {}",
                            file.length, file.hidden, match file.metadata.placement {
                                crate::task::Placement::Suffix => "suffix (paper)",
                                crate::task::Placement::Prefix => "prefix (PEFT)",
                            },
                            file.metadata.base_model, file.fingerprint()
                        )}
                    </p>
                }.into_any(),
            }}
            <div class="actions">
                <button type="button" data-testid="prompt-download" disabled=move || prompt.with(Option::is_none)
                    on:click=download_single>"Download prompt file"</button>
                <button type="button" data-testid="prompt-download-peft" disabled=move || prompt.with(Option::is_none)
                    on:click=download_peft>"Download PEFT pair"</button>
                <label class="file-button">
                    "Import…"
                    <input type="file" data-testid="prompt-import" accept=".safetensors,.json" multiple on:change=import />
                </label>
            </div>
            {move || link().map(|url| match url {
                Some(url) => view! {
                    <label class="field">
                        <span>"Share link (the prompt travels in the link itself)"</span>
                        <input type="text" readonly data-testid="share-link" prop:value=url.clone() />
                    </label>
                    <button type="button" data-testid="share-copy" on:click=copy>"Copy link"</button>
                }.into_any(),
                None => view! {
                    <p class="muted" data-testid="share-link-too-long">
                        "This prompt is too long for a link: share the prompt file instead."
                    </p>
                }.into_any(),
            })}
            <p data-testid="prompt-message" role="status">{move || message.get()}</p>
        </section>
    }
}

/// Our single file, or PEFT's pair (the safetensors and adapter_config.json picked together).
async fn read_import(files: Vec<gloo::file::File>) -> Result<PromptFile, String> {
    let mut weights = None;
    let mut config = None;
    for file in files {
        let bytes = gloo::file::futures::read_as_bytes(&file).await.map_err(|e| format!("{}: {e}", file.name()))?;
        if file.name().ends_with(".json") {
            config = Some(String::from_utf8(bytes).map_err(|_| format!("{} is not text", file.name()))?);
        } else {
            weights = Some(bytes);
        }
    }
    let weights = weights.ok_or("Pick the prompt's .safetensors file (with adapter_config.json for a PEFT pair).")?;
    PromptFile::from_files(&weights, config.as_deref()).map_err(|e| e.to_string())
}
