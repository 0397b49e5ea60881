//! SIB-200 splits for the app: the copy the dev server exposes at `data/sib200/` when there is one,
//! else the public source (the dataset's GitHub repository, pinned to a commit), kept in Cache Storage.
use super::download::fetch_cached;
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

/// English train and dev: what every run trains and validates on.
pub async fn fetch_english_training() -> Result<(Vec<Example>, Vec<Example>), String> {
    Ok((fetch_split("eng_Latn", Split::Train).await?, fetch_split("eng_Latn", Split::Dev).await?))
}

/// A SIB-200 split starts with its header; an HTML fallback page does not.
fn looks_like_tsv(bytes: &[u8]) -> bool {
    bytes.starts_with(b"index_id\t")
}
