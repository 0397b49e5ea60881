//! The app's examples: SIB-200 splits — the copy the dev server exposes at `data/sib200/` when there is
//! one, else the public source (the dataset's GitHub repository, pinned to a commit), kept in Cache
//! Storage — or the own task the user gave (`task_picker`).
use super::download::fetch_cached;
use crate::files::prompt_file::PromptFile;
use crate::task::labels::Task;
use crate::task::languages::{LANGUAGES, Language};
use crate::task::own_task::OwnTask;
use crate::task::sib200::{self, Example, Split};

/// The dataset's repository at the commit our copy was checked against (see the data's NOTICE.md).
const PUBLIC_BASE: &str =
    "https://raw.githubusercontent.com/dadelani/sib-200/593cea88519930f776c1a4a1980b6a35b39dca57/data/annotated";
/// Where `scripts/serve` and the browser tests expose `../shared/data/sib200`, relative to the page.
const DEV_BASE: &str = "data/sib200";

/// One language's split, parsed; errors name the file and what to do.
pub async fn fetch_split(language: &str, split: Split) -> Result<Vec<Example>, String> {
    let path = format!("{language}/{}", split.file_name());
    let bytes = match fetch_cached(&format!("{DEV_BASE}/{path}"), &|_| {}).await.map(|b| b.to_vec()) {
        Ok(bytes) if looks_like_tsv(&bytes) => bytes,
        // No dev copy (a deployed app serves its index page or a 404 there): the public source.
        _ => fetch_cached(&format!("{PUBLIC_BASE}/{path}"), &|_| {})
            .await
            .map_err(|e| format!("SIB-200 {path}: {e}"))?
            .to_vec(),
    };
    sib200::parse_tsv(&bytes, &path).map_err(|e| e.to_string())
}

/// English train and dev of the task in use (`None`: SIB-200): what a run trains and validates on.
pub async fn english_training(own: Option<&OwnTask>) -> Result<(Vec<Example>, Vec<Example>), String> {
    match own {
        Some(own) => Ok((own.train.clone(), own.dev.clone())),
        None => Ok((fetch_split("eng_Latn", Split::Train).await?, fetch_split("eng_Latn", Split::Dev).await?)),
    }
}

/// Where a prompt's test examples come from: SIB-200's, or those of the own task it was trained for.
#[derive(Clone)]
pub enum TestData {
    Sib200,
    Own(OwnTask),
}

impl TestData {
    /// The test data for `prompt`: an own task's prompt needs that task's files given (step 2), with the
    /// same classes.
    pub fn for_prompt(prompt: &PromptFile, own: Option<&OwnTask>) -> Result<TestData, String> {
        match (&prompt.metadata.task, own) {
            (Task::Sib200, _) => Ok(TestData::Sib200),
            (Task::Own(_), Some(own)) if prompt.check_task(&own.labels).is_ok() => Ok(TestData::Own(own.clone())),
            (Task::Own(labels), _) => Err(format!(
                "This prompt was trained for the task {} (classes: {}): give that task's files in step 2 to \
                 evaluate it. Try it (step 4) works without them.",
                labels.name,
                labels.classes.join(", ")
            )),
        }
    }

    /// The languages it has test examples for.
    pub fn languages(&self) -> Vec<Language> {
        match self {
            TestData::Sib200 => LANGUAGES.to_vec(),
            TestData::Own(own) => own.languages(),
        }
    }

    pub async fn test(&self, code: &str) -> Result<Vec<Example>, String> {
        match self {
            TestData::Sib200 => fetch_split(code, Split::Test).await,
            TestData::Own(own) => {
                own.test(code).map(<[Example]>::to_vec).ok_or_else(|| format!("{} has no {code}.csv", own.labels.name))
            }
        }
    }
}

/// A SIB-200 split starts with its header; an HTML fallback page does not.
fn looks_like_tsv(bytes: &[u8]) -> bool {
    bytes.starts_with(b"index_id\t")
}
