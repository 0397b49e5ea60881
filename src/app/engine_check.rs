//! A visible check that the training engine works on this device: a few autodiff + AdamW steps.
use leptos::prelude::*;

use super::DeviceState;

#[component]
pub fn EngineCheckPanel(state: RwSignal<DeviceState>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="engine-check-title">
            <h2 id="engine-check-title">"Engine check"</h2>
            {move || match state.get() {
                DeviceState::Starting => view! {
                    <p data-testid="engine-check" data-status="running">"Running a tiny training step…"</p>
                }
                .into_any(),
                DeviceState::Ready { check: Ok(check), .. } => {
                    let status = if check.passed() { "passed" } else { "failed" };
                    view! {
                        <p data-testid="engine-check" data-status=status
                            data-loss-before=check.loss_before data-loss-after=check.loss_after>
                            {format!(
                                "Gradient step {status}: loss {:.4} → {:.4} after 5 AdamW steps.",
                                check.loss_before, check.loss_after
                            )}
                        </p>
                    }
                    .into_any()
                }
                DeviceState::Failed(error) => view! {
                    <p data-testid="engine-check" data-status="error" role="alert">{error}</p>
                }
                .into_any(),
                DeviceState::Ready { check: Err(error), .. } => view! {
                    <p data-testid="engine-check" data-status="error" role="alert">
                        {format!("The compute engine failed: {error}. Reload the page; if it persists, \
                                  your browser's WebGPU may be unstable — try another browser.")}
                    </p>
                }
                .into_any(),
            }}
        </section>
    }
}
