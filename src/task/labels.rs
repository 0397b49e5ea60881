//! What a run classifies into: the task's classes and, for each, the label word whose token the model's
//! head scores at the prediction position (the paper's verbalizer). SIB-200's words are the paper's, per
//! model family; an own task's come from its labels and can be edited.
use serde::{Deserialize, Serialize};

use crate::model::Family;
use crate::model::tokenizer::{TextTokenizer, TokenizeError};
use crate::task::sib200::CATEGORIES;

/// English label words per SIB-200 category (in [`CATEGORIES`] order), as the paper's code chose them.
pub fn sib200_label_words(family: Family) -> [&'static str; 7] {
    match family {
        Family::Xglm => ["science", "travel", "politics", "sports", "health", "entertainment", "earth"],
        Family::Bloom => ["science", "travel", "government", "play", "health", "fun", "earth"],
    }
}

/// SIB-200's classes: its topics, in [`CATEGORIES`] order.
pub fn sib200_classes() -> Vec<String> {
    CATEGORIES.iter().map(|c| c.to_string()).collect()
}

/// Which task a run is for; recorded in its settings and in its prompt file, so that a shared prompt
/// evaluates on the labels it was trained for. Files written before own tasks existed say nothing: SIB-200.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Task {
    /// The paper's: SIB-200 topics, label words chosen per model family.
    #[default]
    Sib200,
    /// The user's own classes and label words (see [`crate::task::own_task`]).
    Own(TaskLabels),
}

/// A task's classes (label indices are positions here) and the word scored for each.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskLabels {
    /// Shown to people, e.g. "SIB-200" or the name given to an own task.
    pub name: String,
    pub classes: Vec<String>,
    /// One per class.
    pub words: Vec<String>,
}

impl Task {
    /// SIB-200 is left out of the files it would be recorded in, so that they read as before own tasks.
    pub fn is_sib200(&self) -> bool {
        *self == Task::Sib200
    }

    pub fn labels(&self, family: Family) -> TaskLabels {
        match self {
            Task::Sib200 => TaskLabels {
                name: "SIB-200".into(),
                classes: sib200_classes(),
                words: sib200_label_words(family).iter().map(|w| w.to_string()).collect(),
            },
            Task::Own(labels) => labels.clone(),
        }
    }
}

/// A label word's token ids. The paper trains on the word's *last* token and evaluates on its *first*
/// (identical for one-token words, which all 14 SIB-200 words are for the real tokenizers and the fixtures).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelToken {
    pub class: String,
    pub word: String,
    pub ids: Vec<u32>,
}

impl LabelToken {
    pub fn train_id(&self) -> u32 {
        *self.ids.last().expect("label tokens are never empty")
    }
    pub fn eval_id(&self) -> u32 {
        self.ids[0]
    }
}

/// The label words' ids, in class order.
pub fn label_tokens(tokenizer: &TextTokenizer, labels: &TaskLabels) -> Result<Vec<LabelToken>, TokenizeError> {
    debug_assert_eq!(labels.classes.len(), labels.words.len());
    labels
        .classes
        .iter()
        .zip(&labels.words)
        .map(|(class, word)| {
            let ids = tokenizer.encode(word)?;
            if ids.is_empty() {
                return Err(TokenizeError::EmptyLabel(word.clone()));
            }
            Ok(LabelToken { class: class.clone(), word: word.clone(), ids })
        })
        .collect()
}
