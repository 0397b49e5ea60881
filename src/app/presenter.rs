//! The presenter view, for a projector: the results chart and the transfer map full width in large type,
//! every other panel hidden (by `style/main.css`, under `html[data-presenting]`). It is part of the page's
//! address (`?present`, beside any share link in the fragment), so a reload keeps it; Back or Escape leaves.
use leptos::ev;
use leptos::prelude::*;

/// The address's query that asks for the presenter view.
const QUERY: &str = "?present";

fn asked_for() -> bool {
    web_sys::window().and_then(|w| w.location().search().ok()).is_some_and(|search| search == QUERY)
}

/// Shows the page as `on` says: the root element's `data-presenting`, and the address (replaced, so that the
/// browser's history does not fill with views).
fn show(on: bool) {
    let Some(window) = web_sys::window() else { return };
    if let Some(root) = window.document().and_then(|d| d.document_element()) {
        let _ = if on { root.set_attribute("data-presenting", "") } else { root.remove_attribute("data-presenting") };
    }
    let location = window.location();
    let (path, hash) = (location.pathname().unwrap_or_default(), location.hash().unwrap_or_default());
    let url = format!("{path}{}{hash}", if on { QUERY } else { "" });
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}

/// Whether the page is in the presenter view: read from the address, kept in step with it, and left on
/// Escape.
pub fn presenting() -> RwSignal<bool> {
    let on = RwSignal::new(asked_for());
    // Where the page was scrolled to before presenting, to come back to it.
    let scrolled = StoredValue::new(0.0);
    Effect::new(move |before: Option<bool>| {
        let now = on.get();
        let Some(window) = web_sys::window() else { return now };
        if now && before != Some(true) {
            scrolled.set_value(window.scroll_y().unwrap_or_default());
            show(true);
            window.scroll_to_with_x_and_y(0.0, 0.0);
        } else if !now {
            show(false);
            if before == Some(true) {
                let y = scrolled.get_value();
                request_animation_frame(move || {
                    if let Some(window) = web_sys::window() {
                        window.scroll_to_with_x_and_y(0.0, y);
                    }
                });
            }
        }
        now
    });
    let escape = window_event_listener(ev::keydown, move |event| {
        if event.key() == "Escape" && on.get_untracked() {
            on.set(false);
        }
    });
    on_cleanup(move || escape.remove());
    on
}

/// The button that opens the presenter view (shown once there are results), the one that leaves it (which
/// takes the focus), and what to do when there is nothing to present (after a reload, say).
#[component]
pub fn PresenterButtons(presenting: RwSignal<bool>, has_results: Signal<bool>) -> impl IntoView {
    let back = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if presenting.get() {
            // Once the button is shown.
            request_animation_frame(move || {
                if let Some(button) = back.get_untracked() {
                    let _ = button.focus();
                }
                if let Some(window) = web_sys::window() {
                    window.scroll_to_with_x_and_y(0.0, 0.0);
                }
            });
        }
    });
    view! {
        <p class="presenter-empty" data-testid="presenter-empty" hidden=move || !presenting.get() || has_results.get()>
            "Nothing to present yet: go back, then evaluate a prompt or open a saved run."
        </p>
        <button type="button" class="presenter-open" data-testid="presenter-open"
            hidden=move || presenting.get() || !has_results.get()
            title="Results and the map full width, in large type, for a projector (Escape leaves)"
            on:click=move |_| presenting.set(true)>"Present"</button>
        <button type="button" class="presenter-close primary" data-testid="presenter-close" node_ref=back
            hidden=move || !presenting.get() on:click=move |_| presenting.set(false)>"← Back"</button>
    }
}
