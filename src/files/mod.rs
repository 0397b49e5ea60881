//! The files people exchange: trained prompts (`prompt_file`, in PEFT's layout via `peft`), share links and
//! QR codes (`share`), every saved run in one zip (`run_archive`), and the Hugging Face hub's model ids and
//! presets (`hub`).
//!
//! May use: `model`, `task`, `tuning` (a prompt file records a run's settings and results), `backend`.
pub mod hub;
pub mod peft;
pub mod prompt_file;
pub mod run_archive;
pub mod share;
