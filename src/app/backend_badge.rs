//! The header badge naming the compute backend, with the CPU fallback's reason and what it means.
use leptos::prelude::*;

use super::DeviceState;
use crate::backend::BackendInfo;

#[component]
pub fn BackendBadge(state: RwSignal<DeviceState>) -> impl IntoView {
    move || match state.get() {
        DeviceState::Starting => view! {
            <div class="badge badge-pending" data-testid="backend-badge" data-backend="pending">
                "Starting compute…"
            </div>
        }
        .into_any(),
        DeviceState::Ready { info: info @ BackendInfo::Gpu { .. }, .. } => view! {
            <div class="badge badge-gpu" data-testid="backend-badge" data-backend="webgpu">
                {info.label()}
            </div>
        }
        .into_any(),
        DeviceState::Ready { info: BackendInfo::Cpu { reason }, .. } => view! {
            <div class="badge badge-cpu" data-testid="backend-badge" data-backend="cpu" role="status">
                <strong>"CPU (wasm)"</strong>
                <span class="badge-detail">
                    {format!("{reason}. ")}
                    "Training runs on the CPU: fine for tiny models and short demos; a 560M-parameter model "
                    "takes about a minute a step (the estimate comes before training). A browser with a "
                    "hardware WebGPU adapter (recent Chrome or Edge) is far faster."
                </span>
            </div>
        }
        .into_any(),
        DeviceState::Failed(_) => view! {
            <div class="badge badge-cpu" data-testid="backend-badge" data-backend="none" role="status">
                <strong>"No compute engine"</strong>
                <span class="badge-detail">"The training worker did not start: see the engine check."</span>
            </div>
        }
        .into_any(),
    }
}
