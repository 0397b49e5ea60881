//! The training worker's entry (Trunk builds it as a Web Worker beside the app; see `polyprompt::worker`).
#[cfg(target_arch = "wasm32")]
fn main() {
    polyprompt::worker::run();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("polyprompt-worker is the browser app's training worker: serve the app with `scripts/serve`.");
    std::process::exit(2);
}
