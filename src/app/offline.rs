//! Working without a network after one visit: the service worker (`service-worker.js`, beside this file,
//! copied to the site's root by Trunk) keeps the app's own files; models and SIB-200 are in Cache Storage
//! already (`download`). The browser is asked to keep the site's storage under pressure once a model is
//! cached or a run saved, and the page shows how much storage it uses and how much is left.
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::format;

/// Registers the service worker; a browser without one (or a page not served over HTTPS or localhost)
/// simply works online only.
pub fn register() {
    let Some(window) = web_sys::window() else { return };
    let container = window.navigator().service_worker();
    spawn_local(async move {
        if let Err(error) = JsFuture::from(container.register("./service-worker.js")).await {
            web_sys::console::warn_2(&"offline use is unavailable (no service worker):".into(), &error);
        }
    });
}

/// Asks the browser to keep this site's storage under pressure (Chromium grants it to sites in use, without
/// a prompt); runs are still lost to "clear site data", so the page offers the zip of them all.
pub async fn ask_to_persist() {
    if let Some(Ok(promise)) = web_sys::window().map(|w| w.navigator().storage().persist()) {
        let _ = JsFuture::from(promise).await;
    }
}

/// How often the storage line is refreshed (a download or a saved run changes it).
const STORAGE_EVERY_MS: u64 = 5_000;

/// Storage used by this site and what is left of its quota, and whether the browser keeps it under pressure.
#[component]
pub fn StorageUse() -> impl IntoView {
    let known = RwSignal::new(None::<(f64, f64, bool)>);
    let ask = move || {
        spawn_local(async move {
            let Some(storage) = web_sys::window().map(|w| w.navigator().storage()) else { return };
            let (Ok(estimate), Ok(persisted)) = (storage.estimate(), storage.persisted()) else { return };
            let (Ok(estimate), Ok(persisted)) = (JsFuture::from(estimate).await, JsFuture::from(persisted).await)
            else {
                return;
            };
            let estimate: web_sys::StorageEstimate = estimate.unchecked_into();
            let (used, quota) = (estimate.get_usage().unwrap_or(0.0), estimate.get_quota().unwrap_or(0.0));
            known.set(Some((used, quota, persisted.is_truthy())));
        });
    };
    ask();
    if let Ok(interval) = set_interval_with_handle(ask, std::time::Duration::from_millis(STORAGE_EVERY_MS)) {
        on_cleanup(move || interval.clear());
    }
    move || {
        known.get().map(|(used, quota, kept)| {
            let kept = if kept {
                "the browser keeps it under storage pressure"
            } else {
                "the browser may evict it when the disk fills: download your runs to keep them"
            };
            view! {
                <p data-testid="storage-use" data-used-bytes=used data-quota-bytes=quota>
                    {format!(
                        "This site stores {} (models, data, saved runs, the app for offline use); {} more may be \
                         stored; {kept}.",
                        format::bytes(used as u64),
                        format::bytes((quota - used).max(0.0) as u64),
                    )}
                </p>
            }
        })
    }
}
