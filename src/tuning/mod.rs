//! Tuning a prompt on a frozen model: the soft prompt and its reparameterization (`prompt`), the training
//! run (`train`), zero-shot evaluation per language (`eval`), the prompt tried on any text (`predict`), the
//! paper's length × reparameterization study (`study`) and its plan for running it across many machines
//! (`study_plan`), what a run will cost before it starts (`estimate`), and the workloads `polyprompt bench`
//! times (`bench`).
//!
//! May use: `model`, `task`, `backend`. Knows nothing of files, links or fronts.
pub mod bench;
pub mod estimate;
pub mod eval;
pub mod predict;
pub mod prompt;
pub mod study;
pub mod study_plan;
pub mod train;
