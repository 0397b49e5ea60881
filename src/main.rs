//! The browser app's entry: mount the Leptos app (Trunk builds this for wasm32).
#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(polyprompt::app::App);
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("polyprompt-web is the browser app: serve it with `scripts/serve`. The native CLI is `polyprompt`.");
    std::process::exit(2);
}
