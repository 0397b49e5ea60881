//! The current prompt (trained here, imported, or opened from a link): what it is, download as our single
//! file or PEFT's pair, import, and share by URL (the prompt in the link, or a link to its hosted file) and
//! as a QR code.
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::save::save_file;
use super::session::Session;
use super::shared_link::{page_base, page_origin};
use crate::files::prompt_file::PromptFile;
use crate::files::share::{HostedPrompt, QrSvg};

/// Fragments longer than this are not offered as links (chat apps truncate them): such prompts are shared
/// as a link to their hosted file.
const MAX_LINK_CHARS: usize = 32_000;

/// The current prompt's share link, or why there is none.
#[derive(Clone, Debug, PartialEq)]
enum ShareLink {
    Ready(String),
    /// No prompt; or one too long for a link, with no usable hosted-file address yet (and why, if refused).
    Unavailable(Option<String>),
}

#[component]
pub fn PromptActions(
    prompt: RwSignal<Option<PromptFile>>,
    session: RwSignal<Option<Session>, LocalStorage>,
    /// Receives an imported prompt (it replaces the page's prompt and its results).
    on_import: Callback<PromptFile>,
) -> impl IntoView {
    let message = RwSignal::new(String::new());
    let hosted_url = RwSignal::new(String::new());
    // The QR code takes half a screen: drawn when asked for, then kept for later prompts until hidden.
    let show_qr = RwSignal::new(false);
    let fragment = Memo::new(move |_| prompt.with(|p| p.as_ref().map(PromptFile::to_share_fragment)));
    let too_long = Memo::new(move |_| fragment.with(|f| f.as_ref().is_some_and(|f| f.len() > MAX_LINK_CHARS)));
    let link = Memo::new(move |_| match fragment.get() {
        None => ShareLink::Unavailable(None),
        Some(fragment) if fragment.len() <= MAX_LINK_CHARS => ShareLink::Ready(format!("{}#{fragment}", page_base())),
        Some(_) => match hosted_url.get().trim() {
            "" => ShareLink::Unavailable(None),
            url => match HostedPrompt::check(url, &page_origin()) {
                Ok(hosted) => ShareLink::Ready(format!("{}#{}", page_base(), hosted.fragment())),
                Err(error) => ShareLink::Unavailable(Some(error.to_string())),
            },
        },
    });
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
        save_file("adapter_config.json", file.peft_config_json(&session.config).as_bytes(), "application/json");
    };
    let import = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let Some(list) = input.files() else { return };
        let files: Vec<gloo::file::File> = (0..list.length()).filter_map(|i| list.get(i)).map(Into::into).collect();
        spawn_local(async move {
            match read_import(files).await {
                Ok(file) => {
                    message.set(format!("Imported a {}-vector prompt for {}.", file.length, file.metadata.base_model));
                    on_import.run(file);
                }
                Err(error) => message.set(error),
            }
        });
    };
    let copy = move |_| {
        if let (ShareLink::Ready(url), Some(window)) = (link.get_untracked(), web_sys::window()) {
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
                                crate::task::batch::Placement::Suffix => "suffix (paper)",
                                crate::task::batch::Placement::Prefix => "prefix (PEFT)",
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
            {move || too_long.get().then(|| view! {
                <p class="muted" data-testid="share-link-too-long">
                    "This prompt is too long to travel in a link. Put its file (download it above) on the Hugging \
                     Face hub or GitHub and give the file's address: the link will point there, and whoever opens \
                     it is asked before anything is fetched."
                </p>
                <label class="field">
                    <span>"Address of the hosted prompt file"</span>
                    <input type="url" data-testid="hosted-url" spellcheck="false"
                        placeholder="https://huggingface.co/you/prompts/resolve/main/prompt.safetensors"
                        prop:value=move || hosted_url.get() on:change=move |ev| hosted_url.set(event_target_value(&ev)) />
                </label>
            })}
            {move || match link.get() {
                ShareLink::Ready(url) => view! {
                    <label class="field">
                        <span>{if too_long.get_untracked() {
                            "Share link (it fetches the hosted file, after asking)"
                        } else {
                            "Share link (the prompt travels in the link itself)"
                        }}</span>
                        <input type="text" readonly data-testid="share-link" prop:value=url.clone() />
                    </label>
                    <button type="button" data-testid="share-copy" on:click=copy>"Copy link"</button>
                    {move || if show_qr.get() {
                        view! {
                            <button type="button" data-testid="share-qr-hide" on:click=move |_| show_qr.set(false)>"Hide QR code"</button>
                            <ShareQr link=url.clone() />
                        }.into_any()
                    } else {
                        view! {
                            <button type="button" data-testid="share-qr-show" on:click=move |_| show_qr.set(true)>"Show QR code"</button>
                        }.into_any()
                    }}
                }.into_any(),
                ShareLink::Unavailable(Some(why)) => view! { <p class="error" data-testid="hosted-url-error">{why}</p> }.into_any(),
                ShareLink::Unavailable(None) => ().into_any(),
            }}
            <p data-testid="prompt-message" role="status">{move || message.get()}</p>
        </section>
    }
}

/// The share link as a QR code, for a class to scan off a projector; a link longer than any QR code holds
/// says so.
#[component]
fn ShareQr(link: String) -> impl IntoView {
    match QrSvg::encode(&link) {
        Some(qr) => {
            let (side, view_box) = (qr.width + 8, qr.view_box());
            view! {
                <svg class="share-qr" data-testid="share-qr" data-modules=qr.width viewBox=view_box
                    shape-rendering="crispEdges" role="img" aria-label="QR code of the share link">
                    <rect x="-4" y="-4" width=side height=side fill="#fff" />
                    <path d=qr.path fill="#000" />
                </svg>
            }
            .into_any()
        }
        None => view! {
            <p class="muted" data-testid="share-qr-too-long">
                "This link is too long for a QR code (at most 2,953 characters): share the link itself."
            </p>
        }
        .into_any(),
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
