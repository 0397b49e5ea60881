//! The Leptos (client-side rendered) app: one component per thing the user sees.
mod backend_badge;
mod download;
mod engine_check;
mod format;
mod model_picker;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::backend::{self, BackendInfo, EngineCheck, Preference};
use backend_badge::BackendBadge;
use engine_check::EngineCheckPanel;
use model_picker::{ModelFiles, ModelPicker, ModelSummary};

/// Where the app's compute device stands.
#[derive(Clone, Debug, PartialEq)]
pub enum DeviceState {
    Starting,
    Ready { info: BackendInfo, check: Result<EngineCheck, String> },
}

#[component]
pub fn App() -> impl IntoView {
    let device_state = RwSignal::new(DeviceState::Starting);
    let model_files = RwSignal::new(None::<ModelFiles>);
    spawn_local(async move {
        let (device, info) = backend::init(Preference::Auto).await;
        let check = backend::engine_check(&device).await;
        device_state.set(DeviceState::Ready { info, check });
    });

    view! {
        <header class="app-header">
            <div class="brand">
                <h1>"polyprompt"</h1>
                <p class="tagline">
                    "Train a soft prompt for a frozen multilingual language model in your browser, "
                    "then see how it transfers to 52 languages."
                </p>
            </div>
            <BackendBadge state=device_state />
        </header>
        <main data-testid="app-main">
            <ModelPicker on_ready=Callback::new(move |files| model_files.set(Some(files))) />
            <ModelSummary files=model_files />
            <EngineCheckPanel state=device_state />
        </main>
    }
}
