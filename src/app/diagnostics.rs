//! What a developer (or a curious user) wants to know about the compute engine: the check that it trains,
//! which device it chose and how fast each measured, the choice to override, and what the training worker
//! holds in memory.
use gloo::storage::{LocalStorage, Storage};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::DeviceState;
use super::engine::Engine;
use super::offline::StorageUse;
use crate::backend::Preference;
use crate::format;
use crate::worker::protocol::WorkerMemory;
use crate::worker::wasm_memory_bytes;

/// Where the page keeps the user's choice of compute device.
const COMPUTE_KEY: &str = "polyprompt.compute";
/// How often the worker's memory is asked for.
const MEMORY_EVERY_MS: u64 = 2_000;

/// The compute device the user chose (auto, the default: the faster measured).
pub fn stored_compute() -> Preference {
    // A plain string ("webgpu"), so that a person (or a test) can set it by hand in the console; the JSON
    // string gloo once wrote ("\"webgpu\"") reads too.
    let stored = LocalStorage::raw().get_item(COMPUTE_KEY).ok().flatten();
    stored.and_then(|name| Preference::parse(name.trim_matches('"'))).unwrap_or(Preference::Auto)
}

#[component]
pub fn Diagnostics(
    state: RwSignal<DeviceState>,
    engine: StoredValue<Option<Engine>, leptos::prelude::LocalStorage>,
) -> impl IntoView {
    // A developer's detail, behind a disclosure; opened by itself when the engine cannot work, since then it
    // is the page's most important news.
    let panel = NodeRef::<leptos::html::Details>::new();
    Effect::new(move |_| {
        let broken = state.with(|s| match s {
            DeviceState::Starting => false,
            DeviceState::Ready { check, .. } => !check.as_ref().is_ok_and(|c| c.passed()),
            DeviceState::Failed(_) => true,
        });
        if let (true, Some(panel)) = (broken, panel.get()) {
            panel.set_open(true);
        }
    });
    view! {
        <details class="card diagnostics" data-testid="diagnostics" node_ref=panel>
            <summary><h2 id="diagnostics-title">"Diagnostics: compute engine, memory, storage"</h2></summary>
            <EngineCheck state />
            <Speeds state />
            <ComputeChoice />
            <MemoryUse engine />
            <StorageUse />
        </details>
    }
}

/// A few autodiff + AdamW steps on the device, run when the page opens.
#[component]
fn EngineCheck(state: RwSignal<DeviceState>) -> impl IntoView {
    move || {
        match state.get() {
        DeviceState::Starting => view! {
            <p data-testid="engine-check" data-status="running">"Measuring the devices and running a tiny training step…"</p>
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
    }
    }
}

/// The measured speed of the device in use, and of the other where there was a choice.
#[component]
fn Speeds(state: RwSignal<DeviceState>) -> impl IntoView {
    move || match state.get() {
        DeviceState::Ready { info, speed, .. } => {
            let other = speed.alternative.as_ref().map_or(String::new(), |(label, gflops)| {
                format!(" The other choice, {label}, measured {gflops:.1} GFLOP/s.")
            });
            let chosen = if info.is_gpu() { "WebGPU" } else { "the CPU" };
            view! {
                <p data-testid="compute-speed" data-gflops=speed.gflops
                    data-alternative-gflops=speed.alternative.as_ref().map(|(_, g)| *g)>
                    {format!("Matrix products on {chosen}: {:.1} GFLOP/s measured.{other}", speed.gflops)}
                </p>
            }
            .into_any()
        }
        _ => ().into_any(),
    }
}

/// Auto (the faster measured), WebGPU or the CPU; a change restarts the page, whose saved runs are kept.
#[component]
fn ComputeChoice() -> impl IntoView {
    let current = stored_compute();
    let choose = move |ev: leptos::ev::Event| {
        let Some(choice) = Preference::parse(&event_target_value(&ev)) else { return };
        if LocalStorage::raw().set_item(COMPUTE_KEY, choice.name()).is_ok() {
            let _ = window().location().reload();
        }
    };
    view! {
        <label class="field">
            <span>"Compute on"</span>
            <select data-testid="compute-choice" on:change=choose>
                {[(Preference::Auto, "whichever measures faster"), (Preference::Gpu, "WebGPU"), (Preference::Cpu, "the CPU")]
                    .into_iter()
                    .map(|(choice, label)| view! {
                        <option value=choice.name() selected=choice == current>{label}</option>
                    })
                    .collect_view()}
            </select>
            <span class="muted">"Changing it reloads the page; saved runs are kept, the model is loaded again."</span>
        </label>
    }
}

/// What the training worker holds: its wasm memory (which never shrinks) and the GPU memory its device
/// reserved, now and at most; and the page's own wasm memory, which holds none of the model.
#[component]
fn MemoryUse(engine: StoredValue<Option<Engine>, leptos::prelude::LocalStorage>) -> impl IntoView {
    let memory = RwSignal::new(None::<WorkerMemory>);
    // Asks whichever worker is current (a crashed one is replaced).
    let ask = move || {
        let Some(engine) = engine.get_value() else { return };
        spawn_local(async move {
            if let Ok(now) = engine.memory().await {
                memory.set(Some(now));
            }
        });
    };
    if let Ok(interval) = set_interval_with_handle(ask, std::time::Duration::from_millis(MEMORY_EVERY_MS)) {
        on_cleanup(move || interval.clear());
    }
    move || {
        memory.get().map(|m| {
            let gpu = m.gpu_bytes.map_or(String::new(), |now| {
                format!(" · GPU {} (at most {})", format::bytes(now), format::bytes(m.gpu_peak_bytes.unwrap_or(now)))
            });
            let page = wasm_memory_bytes();
            view! {
                <p data-testid="worker-memory" data-wasm-bytes=m.wasm_bytes data-gpu-bytes=m.gpu_bytes
                    data-gpu-peak-bytes=m.gpu_peak_bytes data-page-wasm-bytes=page>
                    {format!(
                        "The training worker holds {} of wasm memory{gpu}; the page {}.",
                        format::bytes(m.wasm_bytes),
                        format::bytes(page)
                    )}
                </p>
            }
        })
    }
}
