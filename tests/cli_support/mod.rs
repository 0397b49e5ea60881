//! Running the `polyprompt` binary as users run it, for the command-line tests (`cli.rs`, `own_task.rs`).
// Each test crate compiles this module and uses only part of it.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const CLI: &str = env!("CARGO_BIN_EXE_polyprompt");

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The SIB-200 folder beside the checkout.
pub fn data() -> PathBuf {
    root().join("../shared/data/sib200")
}

pub fn model(family: &str) -> PathBuf {
    root().join(format!("tests/fixtures/tiny-{family}"))
}

/// A fresh scratch folder under target/ (kept after the run for inspection).
pub fn scratch(name: &str) -> PathBuf {
    let dir = root().join("target/cli-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn run(args: &[&str]) -> Output {
    Command::new(CLI).args(args).current_dir(root()).output().unwrap()
}

pub fn succeed(args: &[&str]) -> Output {
    let output = run(args);
    assert!(output.status.success(), "polyprompt {args:?} failed:\n{}", String::from_utf8_lossy(&output.stderr));
    output
}

pub fn fail(args: &[&str]) -> String {
    let output = run(args);
    assert!(!output.status.success(), "polyprompt {args:?} should have failed");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}
