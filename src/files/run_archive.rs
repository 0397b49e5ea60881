//! Every saved run in one zip, to keep them safe outside the browser (its storage can be cleared or
//! evicted) and to bring them back: each run's prompt as its own self-describing `.safetensors` (usable on
//! its own, like any downloaded prompt), and `runs.json` with each run's label, date and results. A zip
//! without `runs.json` (prompt files zipped by hand) imports each `.safetensors` as a run without results.
use std::io::{Cursor, Read, Write};

use serde::{Deserialize, Serialize};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::prompt_file::PromptFile;
use crate::tuning::eval::LanguageResult;

/// The index of an archive.
pub const INDEX_FILE: &str = "runs.json";
/// Limits on what an archive may claim, checked before reading it (a prompt file is at most a few MB).
const MAX_ENTRIES: usize = 10_000;
const MAX_ENTRY_BYTES: u64 = 64 << 20;

/// One saved run as archived.
#[derive(Clone, Debug, PartialEq)]
pub struct ArchivedRun {
    pub label: String,
    /// Milliseconds since the epoch.
    pub saved_at: f64,
    pub prompt: PromptFile,
    pub results: Vec<LanguageResult>,
}

/// An entry of `runs.json`: the run's prompt is the archive's file `file`.
#[derive(Serialize, Deserialize)]
struct IndexEntry {
    file: String,
    label: String,
    saved_at: f64,
    #[serde(default)]
    results: Vec<LanguageResult>,
}

/// What an archive held: its runs, and each entry that could not be read (with why), so that one damaged
/// prompt does not keep the others out.
#[derive(Debug, Default)]
pub struct ArchiveContents {
    pub runs: Vec<ArchivedRun>,
    pub problems: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("not a zip of saved runs ({0}): pick the polyprompt-runs.zip that “Download all runs” made")]
    NotZip(String),
    #[error("the zip holds {0} files, more than the {MAX_ENTRIES} a zip of runs may")]
    TooManyEntries(usize),
    #[error(
        "{INDEX_FILE} in the zip is unreadable ({0}): the zip was altered; its prompts can still be unzipped and imported one by one"
    )]
    BadIndex(String),
}

/// The zip of `runs`: a prompt file per run, named by its fingerprint, and `runs.json`.
pub fn to_zip(runs: &[ArchivedRun]) -> Vec<u8> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut index = Vec::with_capacity(runs.len());
    for run in runs {
        let file = format!("{}.safetensors", run.prompt.fingerprint());
        if index.iter().any(|e: &IndexEntry| e.file == file) {
            continue; // the same prompt twice: one copy
        }
        zip.start_file(file.as_str(), options).expect("writing to memory");
        zip.write_all(&run.prompt.to_safetensors()).expect("writing to memory");
        index.push(IndexEntry { file, label: run.label.clone(), saved_at: run.saved_at, results: run.results.clone() });
    }
    zip.start_file(INDEX_FILE, options).expect("writing to memory");
    zip.write_all(&serde_json::to_vec_pretty(&index).expect("the index serialises")).expect("writing to memory");
    zip.finish().expect("writing to memory").into_inner()
}

/// The runs in a zip made by [`to_zip`] (or prompt files zipped by hand).
pub fn from_zip(bytes: &[u8]) -> Result<ArchiveContents, ArchiveError> {
    let mut zip = ZipArchive::new(Cursor::new(bytes)).map_err(|e| ArchiveError::NotZip(e.to_string()))?;
    if zip.len() > MAX_ENTRIES {
        return Err(ArchiveError::TooManyEntries(zip.len()));
    }
    let index: Option<Vec<IndexEntry>> = match read_entry(&mut zip, INDEX_FILE) {
        Ok(json) => Some(serde_json::from_slice(&json).map_err(|e| ArchiveError::BadIndex(e.to_string()))?),
        Err(_) if zip.index_for_name(INDEX_FILE).is_none() => None,
        Err(why) => return Err(ArchiveError::BadIndex(why)),
    };
    let index = index.unwrap_or_else(|| {
        let names: Vec<String> = zip.file_names().filter_map(Result::ok).map(String::from).collect();
        names
            .into_iter()
            .filter(|name| name.ends_with(".safetensors"))
            .map(|file| {
                let label = file.rsplit('/').next().unwrap_or(&file).trim_end_matches(".safetensors").to_string();
                IndexEntry { file, label, saved_at: 0.0, results: Vec::new() }
            })
            .collect()
    });
    let mut contents = ArchiveContents::default();
    for IndexEntry { file, label, saved_at, results } in index {
        let prompt = read_entry(&mut zip, &file)
            .and_then(|bytes| PromptFile::from_safetensors(&bytes).map_err(|e| e.to_string()));
        match prompt {
            Ok(prompt) => contents.runs.push(ArchivedRun { label, saved_at, prompt, results }),
            Err(why) => contents.problems.push(format!("{file}: {why}")),
        }
    }
    Ok(contents)
}

/// The bytes of entry `name`, refusing one that claims more than a prompt file could be.
fn read_entry(zip: &mut ZipArchive<Cursor<&[u8]>>, name: &str) -> Result<Vec<u8>, String> {
    let entry = zip.by_name(name).map_err(|e| format!("missing from the zip ({e})"))?;
    if entry.size() > MAX_ENTRY_BYTES {
        return Err(format!("{} bytes, more than a prompt file can be", entry.size()));
    }
    let mut bytes = Vec::with_capacity(entry.size() as usize);
    entry.take(MAX_ENTRY_BYTES + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::prompt_file::{PromptMetadata, SCHEMA_VERSION};
    use crate::model::Family;
    use crate::task::batch::Placement;
    use crate::task::languages::LANGUAGES;

    fn prompt(seed: f32) -> PromptFile {
        PromptFile {
            length: 4,
            hidden: 16,
            embeddings: (0..64).map(|i| (i as f32 * seed).sin()).collect(),
            metadata: PromptMetadata {
                schema_version: SCHEMA_VERSION,
                family: Family::Bloom,
                base_model: "tiny-bloom".into(),
                placement: Placement::Suffix,
                task: Default::default(),
                label_words: vec!["science".into()],
                training: serde_json::json!({"seed": 0}),
                results: serde_json::Value::Null,
            },
        }
    }

    fn run(seed: f32, label: &str) -> ArchivedRun {
        let result =
            LanguageResult::score(&LANGUAGES[0], &crate::task::labels::sib200_classes(), &[0, 1, 2, 3], &[0, 1, 1, 3]);
        ArchivedRun { label: label.into(), saved_at: 1.7e12 + seed as f64, prompt: prompt(seed), results: vec![result] }
    }

    #[test]
    fn runs_survive_the_zip_and_the_same_prompt_is_kept_once() {
        let runs = vec![run(0.1, "L4 · tiny-bloom · uniform"), run(0.2, "L8 · tiny-bloom · vocab"), run(0.1, "again")];
        let back = from_zip(&to_zip(&runs)).unwrap();
        assert!(back.problems.is_empty(), "{:?}", back.problems);
        assert_eq!(back.runs, runs[..2]);
    }

    #[test]
    fn prompt_files_zipped_by_hand_import_without_results() {
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("mine/first.safetensors", SimpleFileOptions::default()).unwrap();
        zip.write_all(&prompt(0.3).to_safetensors()).unwrap();
        zip.start_file("notes.txt", SimpleFileOptions::default()).unwrap();
        zip.start_file("broken.safetensors", SimpleFileOptions::default()).unwrap();
        zip.write_all(b"not a prompt").unwrap();
        let back = from_zip(&zip.finish().unwrap().into_inner()).unwrap();
        assert_eq!(back.runs.len(), 1);
        assert_eq!(
            (back.runs[0].label.as_str(), back.runs[0].prompt.fingerprint()),
            ("first", prompt(0.3).fingerprint())
        );
        assert!(back.runs[0].results.is_empty());
        assert_eq!(back.problems.len(), 1);
        assert!(back.problems[0].starts_with("broken.safetensors: not a prompt file"), "{}", back.problems[0]);
    }

    #[test]
    fn what_is_not_a_zip_of_runs_says_so() {
        assert!(matches!(from_zip(b"PK\x03\x04 cut off"), Err(ArchiveError::NotZip(_))));
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file(INDEX_FILE, SimpleFileOptions::default()).unwrap();
        zip.write_all(b"[{\"file\": 3}]").unwrap();
        let err = from_zip(&zip.finish().unwrap().into_inner()).unwrap_err();
        assert!(matches!(err, ArchiveError::BadIndex(_)), "{err}");
        // An index naming a file the zip lacks: that run is a problem, not a failure of the whole import.
        let index = r#"[{"file": "gone.safetensors", "label": "x", "saved_at": 0}]"#;
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file(INDEX_FILE, SimpleFileOptions::default()).unwrap();
        zip.write_all(index.as_bytes()).unwrap();
        let back = from_zip(&zip.finish().unwrap().into_inner()).unwrap();
        assert!(back.runs.is_empty());
        assert!(back.problems[0].starts_with("gone.safetensors: missing from the zip"), "{}", back.problems[0]);
    }
}
