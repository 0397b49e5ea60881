//! Trying a prompt on any text: each topic's probability, the softmax over the label tokens' scores —
//! the same scores evaluation takes its argmax of ([`eval::label_scores`]), so that a sentence's
//! predicted topic is the one evaluation counts.
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::model::CausalLm;
use crate::model::tokenizer::TextTokenizer;
use crate::tuning::eval::{self, EvalError, EvalSetup, argmax};

/// One text's prediction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The predicted class (a topic for SIB-200).
    pub label: String,
    /// Every class with its probability, in class order; they sum to 1.
    pub probabilities: Vec<TopicProbability>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicProbability {
    pub topic: String,
    pub probability: f32,
}

impl Prediction {
    /// From the label tokens' scores (logits in the order of `classes`).
    pub fn from_scores(classes: &[String], scores: &[f32]) -> Prediction {
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exp: Vec<f32> = scores.iter().map(|&s| (s - max).exp()).collect();
        let sum: f32 = exp.iter().sum();
        let probabilities = classes
            .iter()
            .zip(exp)
            .map(|(topic, e)| TopicProbability { topic: topic.clone(), probability: e / sum })
            .collect();
        Prediction { label: classes[argmax(scores)].clone(), probabilities }
    }
}

/// The prediction for each of `texts`, batched as evaluation batches them.
pub async fn predict_texts(
    model: &CausalLm,
    tokenizer: &TextTokenizer,
    prompt: &Tensor<2>,
    setup: &EvalSetup,
    texts: &[&str],
) -> Result<Vec<Prediction>, EvalError> {
    let scores = eval::label_scores(model, tokenizer, prompt, setup, texts, |_, _| {}).await?;
    Ok(scores.iter().map(|s| Prediction::from_scores(&setup.classes, s)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::labels::sib200_classes as topics;
    use crate::task::sib200::CATEGORIES;

    #[test]
    fn probabilities_are_a_softmax_and_the_label_is_the_argmax() {
        let prediction = Prediction::from_scores(&topics(), &[0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(prediction.label, CATEGORIES[1]);
        let p: Vec<f32> = prediction.probabilities.iter().map(|t| t.probability).collect();
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let denominator = 5.0 + 2f32.exp() + 1f32.exp();
        assert!((p[1] - 2f32.exp() / denominator).abs() < 1e-6, "{p:?}");
        assert!((p[6] - 1f32.exp() / denominator).abs() < 1e-6, "{p:?}");
        assert_eq!(prediction.probabilities[6].topic, CATEGORIES[6]);
    }

    #[test]
    fn huge_scores_do_not_overflow() {
        let prediction = Prediction::from_scores(&topics(), &[1e30, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(prediction.probabilities[0].probability, 1.0);
        assert_eq!(prediction.label, CATEGORIES[0]);
    }
}
