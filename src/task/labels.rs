//! The paper's verbalizer: each SIB-200 topic as an English label word, and that word's tokens, which the
//! model's head scores at the prediction position.
use crate::model::Family;
use crate::model::tokenizer::{TextTokenizer, TokenizeError};
use crate::task::sib200::CATEGORIES;

/// English label words per SIB-200 category (in [`CATEGORIES`] order), as the paper's code chose them.
pub fn label_words(family: Family) -> [&'static str; 7] {
    match family {
        Family::Xglm => ["science", "travel", "politics", "sports", "health", "entertainment", "earth"],
        Family::Bloom => ["science", "travel", "government", "play", "health", "fun", "earth"],
    }
}

/// A label word's token ids. The paper trains on the word's *last* token and evaluates on its *first*
/// (identical for one-token words, which all 14 are for the real tokenizers and the test fixtures).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelToken {
    pub word: &'static str,
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

/// The label words' ids, in [`CATEGORIES`] order.
pub fn label_tokens(tokenizer: &TextTokenizer, family: Family) -> Result<Vec<LabelToken>, TokenizeError> {
    debug_assert_eq!(label_words(family).len(), CATEGORIES.len());
    label_words(family)
        .into_iter()
        .map(|word| {
            let ids = tokenizer.encode(word)?;
            if ids.is_empty() {
                return Err(TokenizeError::EmptyLabel(word));
            }
            Ok(LabelToken { word, ids })
        })
        .collect()
}
