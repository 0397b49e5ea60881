//! Per-language results: a bar chart grouped by family or script (group means, English marked, chance
//! drawn) and a sortable table with CSV export.
use leptos::prelude::*;

use super::save::save_file;
use crate::model::Family;
use crate::task::languages;
use crate::tuning::eval::{self, LanguageResult, mean_accuracy};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Grouping {
    Family,
    Script,
}

/// The root family ("Indo-European" of "Indo-European, Germanic") or the script.
fn group_of(result: &LanguageResult, grouping: Grouping) -> String {
    match grouping {
        Grouping::Family => result.family_root().to_string(),
        Grouping::Script => result.script.clone(),
    }
}

/// Groups in order of their best language, languages by accuracy within each.
fn grouped(results: &[LanguageResult], grouping: Grouping) -> Vec<(String, Vec<LanguageResult>)> {
    let mut groups: Vec<(String, Vec<LanguageResult>)> = Vec::new();
    for result in results {
        let key = group_of(result, grouping);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(result.clone()),
            None => groups.push((key, vec![result.clone()])),
        }
    }
    for (_, members) in &mut groups {
        members.sort_by(|a, b| b.accuracy.total_cmp(&a.accuracy));
    }
    groups.sort_by(|a, b| mean_accuracy(&b.1).total_cmp(&mean_accuracy(&a.1)));
    groups
}

#[component]
pub fn AccuracyChart(results: RwSignal<Vec<LanguageResult>>) -> impl IntoView {
    let grouping = RwSignal::new(Grouping::Family);
    const ROW: f64 = 18.0;
    const HEADER: f64 = 22.0;
    const LABEL: f64 = 150.0;
    const BAR: f64 = 380.0;
    let chart = move || {
        let groups = grouped(&results.get(), grouping.get());
        let chance = results.with(|r| eval::chance_level(r));
        let rows: usize = groups.iter().map(|(_, m)| m.len()).sum();
        let height = rows as f64 * ROW + groups.len() as f64 * HEADER + 24.0;
        let x = |accuracy: f64| LABEL + accuracy.clamp(0.0, 1.0) * BAR;
        let mut y = 0.0;
        let mut items = Vec::new();
        for (name, members) in groups {
            let mean = mean_accuracy(&members);
            items.push(
                view! {
                    <text x=0 y=y + 16.0 class="group-name">{format!("{name} · mean {:.0}%", 100.0 * mean)}</text>
                }
                .into_any(),
            );
            y += HEADER;
            for r in members {
                let english = r.code == "eng_Latn";
                items.push(view! {
                    <g class:english=english>
                        <text x=LABEL - 6.0 y=y + 13.0 text-anchor="end">{if english { format!("★ {}", r.name) } else { r.name.clone() }}</text>
                        <rect x=LABEL y=y + 3.0 width=x(r.accuracy) - LABEL height=ROW - 5.0 class="bar">
                            <title>{format!("{} ({}): accuracy {:.1}%, macro-F1 {:.2}", r.name, r.code, 100.0 * r.accuracy, r.macro_f1)}</title>
                        </rect>
                        <text x=x(r.accuracy) + 4.0 y=y + 13.0 class="value">{format!("{:.0}%", 100.0 * r.accuracy)}</text>
                    </g>
                }.into_any());
                y += ROW;
            }
        }
        view! {
            <svg viewBox=format!("0 0 {} {height}", LABEL + BAR + 50.0) role="img" data-testid="accuracy-chart"
                aria-label="Accuracy per language, grouped; the dashed line is chance level">
                {items}
                <line x1=x(chance) x2=x(chance) y1=0 y2=height - 18.0 class="chance" />
                <text x=x(chance) y=height - 4.0 text-anchor="middle" class="chance-label">{format!("chance {:.0}%", 100.0 * chance)}</text>
            </svg>
        }
    };
    view! {
        <figure class="accuracy-chart" hidden=move || results.with(Vec::is_empty)>
            <div class="segmented" role="group" aria-label="Group languages by">
                <button type="button" aria-pressed=move || (grouping.get() == Grouping::Family).to_string()
                    on:click=move |_| grouping.set(Grouping::Family)>"By family"</button>
                <button type="button" aria-pressed=move || (grouping.get() == Grouping::Script).to_string()
                    on:click=move |_| grouping.set(Grouping::Script)>"By script"</button>
            </div>
            {chart}
        </figure>
    }
}

/// Accuracy against the language's share of the model's pre-training data (log scale), the paper's story
/// at a glance; languages the model never saw are listed beside the plot.
#[component]
pub fn ShareScatter(results: RwSignal<Vec<LanguageResult>>, family: Signal<Option<Family>>) -> impl IntoView {
    const WIDTH: f64 = 560.0;
    const HEIGHT: f64 = 260.0;
    const LEFT: f64 = 44.0;
    const BOTTOM: f64 = 30.0;
    // Shares run from ~0.0001 (0.01%) to ~0.5 of the data: 4 decades.
    const DECADES: f64 = 4.0;
    let plot = move || {
        let family = family.get()?;
        let results = results.get();
        let (seen, unseen): (Vec<_>, Vec<_>) = results
            .iter()
            .map(|r| (r, languages::by_code(&r.code).and_then(|l| l.share(family))))
            .partition(|(_, share)| share.is_some());
        let x = |share: f64| LEFT + (share.log10() + DECADES).clamp(0.0, DECADES) / DECADES * (WIDTH - LEFT - 10.0);
        let y = |accuracy: f64| 10.0 + (1.0 - accuracy) * (HEIGHT - 10.0 - BOTTOM);
        let dots = seen
            .iter()
            .map(|(r, share)| {
                let share = share.unwrap_or_default();
                view! {
                    <circle cx=x(share) cy=y(r.accuracy) r=4 class:english=r.code == "eng_Latn">
                        <title>{format!("{}: {:.1}% of pre-training data, accuracy {:.1}%", r.name, 100.0 * share, 100.0 * r.accuracy)}</title>
                    </circle>
                }
            })
            .collect_view();
        let ticks = [0.0001, 0.001, 0.01, 0.1]
            .map(|t| view! { <text x=x(t) y=HEIGHT - 10.0 text-anchor="middle">{format!("{}%", 100.0 * t)}</text> });
        let unseen_mean = mean_accuracy(unseen.iter().map(|(r, _)| *r));
        let chance = eval::chance_level(&results);
        Some(view! {
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" data-testid="share-scatter"
                aria-label="Accuracy against the language's share of pre-training data">
                <line x1=LEFT x2=WIDTH - 10.0 y1=y(chance) y2=y(chance) class="chance" />
                <text x=4 y=y(1.0) + 4.0>"100%"</text>
                <text x=4 y=y(0.0) + 4.0>"0%"</text>
                {ticks}
                {dots}
            </svg>
            <p class="muted">{format!(
                "Each dot is a language the model was pre-trained on (x: its share of the data, log scale). \
                 {} languages it never saw average {:.1}%.", unseen.len(), 100.0 * unseen_mean
            )}</p>
        })
    };
    view! { <figure class="share-scatter" hidden=move || results.with(Vec::is_empty)>{plot}</figure> }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Name,
    Family,
    Script,
    Accuracy,
    MacroF1,
}

#[component]
pub fn ResultsTable(results: RwSignal<Vec<LanguageResult>>) -> impl IntoView {
    let sort = RwSignal::new((SortKey::Accuracy, true));
    let sorted = move || {
        let mut rows = results.get();
        let (key, descending) = sort.get();
        rows.sort_by(|a, b| {
            let order = match key {
                SortKey::Name => a.name.cmp(&b.name),
                SortKey::Family => a.family.cmp(&b.family),
                SortKey::Script => a.script.cmp(&b.script),
                SortKey::Accuracy => a.accuracy.total_cmp(&b.accuracy),
                SortKey::MacroF1 => a.macro_f1.total_cmp(&b.macro_f1),
            };
            if descending { order.reverse() } else { order }
        });
        rows
    };
    let header = move |label: &'static str, key: SortKey| {
        let state = move || match sort.get() {
            (k, true) if k == key => "descending",
            (k, false) if k == key => "ascending",
            _ => "none",
        };
        view! {
            <th aria-sort=state>
                <button type="button" on:click=move |_| sort.update(|(k, d)| {
                    *d = if *k == key { !*d } else { matches!(key, SortKey::Accuracy | SortKey::MacroF1) };
                    *k = key;
                })>{label}</button>
            </th>
        }
    };
    let english = move || results.with(|r| r.iter().find(|r| r.code == "eng_Latn").map(|r| r.accuracy));
    let export = move |_| {
        save_file("polyprompt-results.csv", eval::results_csv(&results.get_untracked()).as_bytes(), "text/csv")
    };
    view! {
        <div class="results-table" hidden=move || results.with(Vec::is_empty)>
            <button type="button" data-testid="results-csv" on:click=export>"Export CSV"</button>
            <table data-testid="results-table">
                <thead><tr>
                    {header("Language", SortKey::Name)}
                    <th>"Code"</th>
                    {header("Family", SortKey::Family)}
                    {header("Script", SortKey::Script)}
                    {header("Accuracy", SortKey::Accuracy)}
                    {header("Macro-F1", SortKey::MacroF1)}
                    <th>"Δ English"</th>
                    <th>"n"</th>
                </tr></thead>
                <tbody>
                    {move || sorted().into_iter().map(|r| {
                        let delta = english().map(|e| format!("{:+.1}", 100.0 * (r.accuracy - e))).unwrap_or_default();
                        view! {
                            <tr data-testid="result-row" data-code=r.code.clone() data-accuracy=r.accuracy
                                class:english=r.code == "eng_Latn">
                                <td>{r.name.clone()}</td>
                                <td><code>{r.code.clone()}</code></td>
                                <td>{r.family.clone()}</td>
                                <td>{r.script.clone()}</td>
                                <td class="number">{format!("{:.1}%", 100.0 * r.accuracy)}</td>
                                <td class="number">{format!("{:.3}", r.macro_f1)}</td>
                                <td class="number">{delta}</td>
                                <td class="number">{r.n}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
