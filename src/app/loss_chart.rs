//! The live training loss (per step) and validation loss (per epoch, best marked), as SVG.
use leptos::prelude::*;

use crate::tuning::train::ValidationRecord;

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 28.0;
const TOP: f64 = 12.0;
const RIGHT: f64 = 12.0;

#[component]
pub fn LossChart(losses: RwSignal<Vec<(usize, f32)>>, validations: RwSignal<Vec<ValidationRecord>>) -> impl IntoView {
    let chart = move || {
        let points = losses.get();
        let checks = validations.get();
        let values = points.iter().map(|&(_, l)| l as f64).chain(checks.iter().map(|v| v.loss));
        let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let (low, high) = if low.is_finite() && high > low { (low, high) } else { (0.0, low.max(1.0) + 1.0) };
        let last_step =
            points.iter().map(|p| p.0).chain(checks.iter().map(|v| v.step)).max().unwrap_or(1).max(1) as f64;
        let x = move |step: f64| LEFT + step / last_step * (WIDTH - LEFT - RIGHT);
        let y = move |loss: f64| TOP + (high - loss) / (high - low) * (HEIGHT - TOP - BOTTOM);
        let train_line: String =
            points.iter().map(|&(s, l)| format!("{:.1},{:.1} ", x(s as f64 + 1.0), y(l as f64))).collect();
        let best = checks.iter().map(|v| v.loss).fold(f64::INFINITY, f64::min);
        let validation_line: String =
            checks.iter().map(|v| format!("{:.1},{:.1} ", x(v.step as f64), y(v.loss))).collect();
        let dots = checks
            .iter()
            .map(|v| {
                let is_best = v.loss == best;
                view! {
                    <circle cx=x(v.step as f64) cy=y(v.loss) r=if is_best { 6 } else { 4 }
                        class=if is_best { "validation best" } else { "validation" }>
                        <title>{format!("epoch {}: validation loss {:.4}, accuracy {:.2}{}", v.epoch, v.loss, v.accuracy,
                            if is_best { " (best: kept)" } else { "" })}</title>
                    </circle>
                }
            })
            .collect_view();
        view! {
            <line x1=LEFT x2=WIDTH - RIGHT y1=HEIGHT - BOTTOM y2=HEIGHT - BOTTOM class="axis" />
            <line x1=LEFT x2=LEFT y1=TOP y2=HEIGHT - BOTTOM class="axis" />
            <text x=LEFT - 6.0 y=TOP + 10.0 text-anchor="end">{format!("{high:.2}")}</text>
            <text x=LEFT - 6.0 y=HEIGHT - BOTTOM text-anchor="end">{format!("{low:.2}")}</text>
            <text x=WIDTH - RIGHT y=HEIGHT - 8.0 text-anchor="end">{format!("step {}", last_step as usize)}</text>
            <polyline points=train_line class="train-loss" />
            <polyline points=validation_line class="validation-loss" />
            {dots}
        }
    };
    view! {
        <figure class="loss-chart" hidden=move || losses.with(Vec::is_empty)>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" data-testid="loss-chart"
                data-points=move || losses.with(Vec::len) data-validations=move || validations.with(Vec::len) aria-label="Training loss per step and validation loss per epoch">
                {chart}
            </svg>
            <figcaption class="muted">
                <span class="key train-key">"training loss (per step)"</span>
                <span class="key validation-key">"validation loss (per epoch; the larger dot is the kept prompt)"</span>
            </figcaption>
        </figure>
    }
}
