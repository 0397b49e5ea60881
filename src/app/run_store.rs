//! Where saved runs live: the browser's IndexedDB (database `polyprompt`, store `runs`, one record per run
//! keyed by its id), which holds far more than LocalStorage's ~5 MB and is written off the main thread.
//! Runs that earlier versions kept in LocalStorage move here the first time the page opens.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gloo::storage::{LocalStorage, Storage};
use rexie::{ObjectStore, Rexie, TransactionMode};
use serde::{Deserialize, Serialize};

use crate::files::prompt_file::PromptFile;
use crate::tuning::eval::LanguageResult;

/// One saved prompt with its results, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedRun {
    /// The prompt's fingerprint: one entry per prompt.
    pub id: String,
    pub label: String,
    /// Milliseconds since the epoch.
    pub saved_at: f64,
    /// The prompt file (f32, with its metadata), base64.
    pub prompt: String,
    pub results: Vec<LanguageResult>,
}

impl SavedRun {
    /// A run of `prompt`, keyed by its fingerprint.
    pub fn of(prompt: &PromptFile, label: String, saved_at: f64, results: Vec<LanguageResult>) -> SavedRun {
        SavedRun {
            id: prompt.fingerprint(),
            label,
            saved_at,
            prompt: STANDARD.encode(prompt.to_safetensors()),
            results,
        }
    }

    pub fn prompt_file(&self) -> Result<PromptFile, String> {
        let bytes = STANDARD.decode(&self.prompt).map_err(|e| e.to_string())?;
        PromptFile::from_safetensors(&bytes).map_err(|e| e.to_string())
    }
}

const DATABASE: &str = "polyprompt";
const STORE: &str = "runs";
/// Where versions before IndexedDB kept the runs (a JSON array).
const LEGACY_KEY: &str = "polyprompt-runs-v1";

/// Every saved run, newest first. A record that no longer reads as a run is skipped (and said in the
/// console) rather than hiding the others.
pub async fn load_all() -> Result<Vec<SavedRun>, String> {
    let db = open().await?;
    move_legacy_runs(&db).await?;
    let transaction = db.transaction(&[STORE], TransactionMode::ReadOnly).map_err(describe)?;
    let values = transaction.store(STORE).map_err(describe)?.get_all(None, None).await.map_err(describe)?;
    let mut runs: Vec<SavedRun> = values
        .into_iter()
        .filter_map(|value| {
            serde_wasm_bindgen::from_value(value)
                .map_err(|e| {
                    web_sys::console::warn_1(&format!("a saved run is unreadable and was skipped: {e}").into())
                })
                .ok()
        })
        .collect();
    runs.sort_by(|a, b| b.saved_at.total_cmp(&a.saved_at));
    Ok(runs)
}

/// Stores `run`, replacing the record with its id; fails if the browser refuses (e.g. storage full).
pub async fn put(run: &SavedRun) -> Result<(), String> {
    let db = open().await?;
    write(&db, std::slice::from_ref(run)).await
}

pub async fn delete(id: &str) -> Result<(), String> {
    let db = open().await?;
    let transaction = db.transaction(&[STORE], TransactionMode::ReadWrite).map_err(describe)?;
    transaction.store(STORE).map_err(describe)?.delete(id.into()).await.map_err(describe)?;
    finish(transaction).await
}

async fn open() -> Result<Rexie, String> {
    Rexie::builder(DATABASE)
        .version(1)
        .add_object_store(ObjectStore::new(STORE).key_path("id"))
        .build()
        .await
        .map_err(describe)
}

async fn write(db: &Rexie, runs: &[SavedRun]) -> Result<(), String> {
    let transaction = db.transaction(&[STORE], TransactionMode::ReadWrite).map_err(describe)?;
    let store = transaction.store(STORE).map_err(describe)?;
    for run in runs {
        let value = serde_wasm_bindgen::to_value(run).map_err(|e| e.to_string())?;
        store.put(&value, None).await.map_err(describe)?;
    }
    finish(transaction).await
}

/// A write counts once its transaction commits: a full quota aborts it only then.
async fn finish(transaction: rexie::Transaction) -> Result<(), String> {
    if transaction.done().await.map_err(describe)?.is_committed() {
        Ok(())
    } else {
        Err("the browser aborted the write (its storage for this site may be full)".into())
    }
}

/// Copies the LocalStorage runs of earlier versions into IndexedDB, then removes them there.
async fn move_legacy_runs(db: &Rexie) -> Result<(), String> {
    let legacy = match LocalStorage::get::<Vec<SavedRun>>(LEGACY_KEY) {
        Ok(runs) => runs,
        Err(gloo::storage::errors::StorageError::KeyNotFound(_)) => return Ok(()),
        Err(error) => {
            web_sys::console::warn_1(
                &format!("runs kept by an earlier version are unreadable, left in place: {error}").into(),
            );
            return Ok(());
        }
    };
    write(db, &legacy).await?;
    LocalStorage::delete(LEGACY_KEY);
    Ok(())
}

/// rexie's own message is only "idb error": the underlying one names the DOM exception.
fn describe(error: rexie::Error) -> String {
    match error {
        rexie::Error::IdbError(inner) => inner.to_string(),
        other => other.to_string(),
    }
}
