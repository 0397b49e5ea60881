//! The zip of all saved runs ("Download all runs" / "Import runs").
#![no_main]
use libfuzzer_sys::fuzz_target;
use polyprompt::files::run_archive;

fuzz_target!(|data: &[u8]| {
    if let Ok(contents) = run_archive::from_zip(data) {
        for run in &contents.runs {
            assert_eq!(run.prompt.embeddings.len(), run.prompt.length * run.prompt.hidden);
        }
    }
});
