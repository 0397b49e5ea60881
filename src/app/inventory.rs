//! What this browser should still hold from earlier visits, so the page can tell when Cache Storage or
//! IndexedDB was cleared behind its back (site data cleared, or evicted by the browser under storage
//! pressure) and say what is gone. Kept in LocalStorage, which is small and written at once; a "clear all
//! site data" that takes LocalStorage too leaves nothing to compare with, and the page then has nothing to
//! report either.
use std::collections::{BTreeMap, BTreeSet};

use gloo::storage::{LocalStorage, Storage};
use serde::{Deserialize, Serialize};

const KEY: &str = "polyprompt.inventory";

#[derive(Default, Serialize, Deserialize)]
struct Inventory {
    /// Saved runs in IndexedDB: id → label.
    #[serde(default)]
    runs: BTreeMap<String, String>,
    /// Files stored in Cache Storage, by URL.
    #[serde(default)]
    cached: BTreeSet<String>,
}

fn read() -> Inventory {
    LocalStorage::get::<Inventory>(KEY).unwrap_or_default()
}

/// Read, changed and written back in one go (no await between: another tab's change is not lost to a
/// write from a stale copy).
fn update<T>(change: impl FnOnce(&mut Inventory) -> T) -> T {
    let mut inventory = read();
    let answer = change(&mut inventory);
    if let Err(error) = LocalStorage::set(KEY, &inventory) {
        web_sys::console::warn_1(&format!("the storage inventory could not be written: {error}").into());
    }
    answer
}

pub fn remember_run(id: &str, label: &str) {
    update(|i| i.runs.insert(id.into(), label.into()));
}

pub fn forget_run(id: &str) {
    update(|i| i.runs.remove(id));
}

pub fn remember_cached(url: &str) {
    update(|i| i.cached.insert(url.into()));
}

pub fn forget_cached(url: &str) {
    update(|i| i.cached.remove(url));
}

/// The labels of the runs remembered but not in `stored` (the ids IndexedDB holds now); from here on the
/// inventory holds what is stored.
pub fn runs_gone(stored: &[(String, String)]) -> Vec<String> {
    update(|i| {
        let gone =
            i.runs.iter().filter(|(id, _)| !stored.iter().any(|(s, _)| s == *id)).map(|(_, l)| l.clone()).collect();
        i.runs = stored.iter().cloned().collect();
        gone
    })
}

/// Every URL remembered as cached.
pub fn cached() -> Vec<String> {
    read().cached.into_iter().collect()
}

/// "bigscience/bloom-560m" for a hub file's URL (`…/<owner>/<name>/resolve/<revision>/<file>`), else the
/// URL's last two segments ("eng_Latn/train.tsv"): how the notice names what is gone.
fn what_of(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    match path.split_once("/resolve/") {
        Some((repo, _)) => last_segments(repo, 2),
        None => last_segments(path, 2),
    }
}

/// What the page says when storage it had filled is gone: which runs (lost, unless downloaded) and which
/// cached models and files (fetched again when needed); `None` when nothing is gone.
pub fn notice(runs: &[String], files: &[String]) -> Option<String> {
    if runs.is_empty() && files.is_empty() {
        return None;
    }
    let mut gone = Vec::new();
    if !runs.is_empty() {
        let plural = if runs.len() == 1 { "" } else { "s" };
        gone.push(format!(
            "{} saved run{plural} ({}), lost unless you downloaded {}",
            runs.len(),
            runs.join("; "),
            if runs.len() == 1 { "it" } else { "them" }
        ));
    }
    if !files.is_empty() {
        let mut what: Vec<String> = files.iter().map(|url| what_of(url)).collect();
        what.dedup();
        gone.push(format!("the cached copies of {}, downloaded again when needed", what.join(", ")));
    }
    Some(format!(
        "This browser's storage for polyprompt was cleared since it was last used (site data cleared, or \
         evicted by the browser to free space). Gone: {}. To keep runs safe outside the browser, use \
         “Download all runs (.zip)”.",
        gone.join("; and ")
    ))
}

fn last_segments(path: &str, n: usize) -> String {
    let mut segments: Vec<&str> = path.rsplit('/').take(n).collect();
    segments.reverse();
    segments.join("/")
}
