//! The task: SIB-200 topic classification (`sib200`: the TSV splits and k-shot sampling), a task of the
//! user's own (`own_task`: CSV/TSV files of text and label), the paper's 52 languages (`languages`), the
//! classes, label words and their tokens (`labels`), and how a sentence, the prompt slots and EOS become
//! the model's input batch (`batch`).
//!
//! May use: `model`. Knows nothing of prompts or training.
pub mod batch;
pub mod labels;
pub mod languages;
pub mod own_task;
pub mod sib200;
