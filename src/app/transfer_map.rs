//! Transfer on a map: each evaluated language as a point where it is spoken (Glottolog's coordinates), on
//! Natural Earth's land outline, coloured by accuracy from chance to the best language. All drawn as SVG from
//! data generated at build time (`transfer_map_data`), so nothing is fetched and the page's CSP holds.
use leptos::prelude::*;

use super::map_scale::{colour, scale_position};
use super::transfer_map_data::{HEIGHT, OUTLINE, POINTS, RADIUS, WIDTH};
use crate::tuning::eval::LanguageResult;

/// What a point says about its language, on hover, on focus and to a screen reader.
fn describe(result: &LanguageResult) -> String {
    format!(
        "{} ({}): {} · {} script · accuracy {:.1}%",
        result.name,
        result.code,
        result.family,
        result.script,
        100.0 * result.accuracy
    )
}

#[component]
pub fn TransferMap(
    results: RwSignal<Vec<LanguageResult>>,
    /// Accuracy by guessing: the bottom of the colour scale.
    chance: Signal<f64>,
) -> impl IntoView {
    // The point last hovered, focused or tapped: its description.
    let details = RwSignal::new(None::<String>);
    let best = move || results.with(|r| r.iter().map(|r| r.accuracy).fold(f64::NAN, f64::max));
    let points = move || {
        let (chance, best) = (chance.get(), best());
        results.with(|results| {
            let mut shown: Vec<_> = results
                .iter()
                .filter_map(|r| POINTS.iter().find(|p| p.code == r.code).map(|p| (p, r.clone())))
                .collect();
            // The best drawn last, on top of any neighbour.
            shown.sort_by(|a, b| a.1.accuracy.total_cmp(&b.1.accuracy));
            // Lines to moved points' places first, under every point.
            let leaders = shown
                .iter()
                .filter(|(p, _)| (p.x - p.home_x).hypot(p.y - p.home_y) > 0.5)
                .map(|(p, _)| view! { <line class="map-leader" x1=p.home_x y1=p.home_y x2=p.x y2=p.y /> })
                .collect_view();
            let circles = shown
                .into_iter()
                .map(|(point, result)| {
                    let label = describe(&result);
                    let (aria, on_focus, on_enter) = (label.clone(), label.clone(), label.clone());
                    view! {
                        <circle cx=point.x cy=point.y r=RADIUS fill=colour(scale_position(result.accuracy, chance, best))
                            class="map-point" class:english=result.code == "eng_Latn" tabindex="0" role="img"
                            aria-label=aria data-testid="map-point" data-code=result.code.clone()
                            data-accuracy=result.accuracy
                            on:focus=move |_| details.set(Some(on_focus.clone()))
                            on:mouseenter=move |_| details.set(Some(on_enter.clone()))>
                            <title>{label}</title>
                        </circle>
                    }
                })
                .collect_view();
            (leaders, circles)
        })
    };
    let best_language =
        move || results.with(|r| r.iter().max_by(|a, b| a.accuracy.total_cmp(&b.accuracy)).map(|r| r.name.clone()));
    view! {
        <figure class="transfer-map" data-testid="transfer-map" hidden=move || results.with(Vec::is_empty)>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="group"
                aria-label="Accuracy per language on a world map, each language where it is spoken">
                <rect class="map-sea" width=WIDTH height=HEIGHT rx="6" />
                <path class="map-land" d=OUTLINE />
                {points}
            </svg>
            <figcaption>
                <div class="map-legend" data-testid="map-legend">
                    <span data-testid="map-legend-low">{move || format!("chance {:.0}%", 100.0 * chance.get())}</span>
                    <span class="map-scale" aria-hidden="true"></span>
                    <span data-testid="map-legend-high">{move || format!(
                        "best {:.0}%{}", 100.0 * best(), best_language().map(|n| format!(" ({n})")).unwrap_or_default()
                    )}</span>
                </div>
                <p class="map-details" data-testid="map-details" aria-live="polite">
                    {move || details.get().unwrap_or_else(|| {
                        "Point at a language, tap it or move to it with Tab for its family, script and accuracy."
                            .to_string()
                    })}
                </p>
                <p class="muted">
                    "Where each language is spoken: Glottolog's point for it (nearby points are moved apart, with a "
                    "line to their place). Outline: Natural Earth."
                </p>
            </figcaption>
        </figure>
    }
}
