//! A drop zone with a file button: where the page takes files from this computer (model files, an own
//! task's CSV files), by drag and drop or by picker.
use leptos::prelude::*;

/// `text` is followed by the "pick them…" button; `on_files` gets what was dropped or picked.
#[component]
pub fn FileDrop(
    /// The zone's `data-testid`; the file input's is `input_testid`.
    testid: &'static str,
    input_testid: &'static str,
    /// The file input's `accept` list, e.g. `.csv,.tsv`.
    accept: &'static str,
    text: String,
    #[prop(into)] disabled: Signal<bool>,
    on_files: Callback<Option<web_sys::FileList>>,
) -> impl IntoView {
    let dragging = RwSignal::new(false);
    view! {
        <div class="drop-zone" class:dragging=move || dragging.get() data-testid=testid
            on:dragover=move |ev| { ev.prevent_default(); dragging.set(true); }
            on:dragleave=move |_| dragging.set(false)
            on:drop=move |ev| {
                ev.prevent_default();
                dragging.set(false);
                on_files.run(ev.data_transfer().and_then(|t| t.files()));
            }>
            <span>{text}</span>
            <label class="file-button">
                "pick them…"
                <input type="file" data-testid=input_testid multiple accept=accept disabled=move || disabled.get()
                    on:change=move |ev| {
                        let input: web_sys::HtmlInputElement = event_target(&ev);
                        on_files.run(input.files());
                        // The same file picked again after a fix must fire `change` again.
                        input.set_value("");
                    } />
            </label>
        </div>
    }
}
