//! The paper's input format for SIB-200 topic classification, and PEFT's as an option.
//!
//! Paper (default): sentence tokens (no special tokens) + L prompt slots + EOS, right-padded; the
//! prediction is read at the last slot, just before EOS. PEFT: sentence + EOS, with the prompt prepended
//! by the model; the prediction is read at EOS. Batches are padded to their longest row, not to 128 as
//! the paper's code does: with causal attention and masked padding the results are the same.
use crate::model::{InputBatch, ModelConfig, PromptPlacement};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    /// The paper's: a suffix of slots before EOS.
    Suffix,
    /// PEFT's prompt tuning: prepended to the input.
    Prefix,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskFormat {
    pub placement: Placement,
    pub prompt_len: usize,
    /// Longest input in tokens, prompt and EOS included; only the sentence is truncated (the paper: 128).
    pub max_len: usize,
}

impl TaskFormat {
    pub fn paper(prompt_len: usize) -> TaskFormat {
        TaskFormat { placement: Placement::Suffix, prompt_len, max_len: 128 }
    }

    /// Room left for the sentence.
    fn sentence_room(&self) -> usize {
        self.max_len.saturating_sub(self.prompt_len + 1).max(1)
    }
}

/// A batch for the model, with where to read each row's prediction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskBatch {
    pub input: InputBatch,
    /// Position of each row's prediction in the model's output (which for a prefix includes the prompt).
    pub predict_at: Vec<usize>,
}

/// Lays out already-tokenized sentences in `format` for a model configured by `config`.
pub fn build_batch(sentences: &[&[u32]], format: &TaskFormat, config: &ModelConfig) -> TaskBatch {
    let room = format.sentence_room();
    let sentences: Vec<&[u32]> = sentences.iter().map(|s| &s[..s.len().min(room)]).collect();
    let slots = match format.placement {
        Placement::Suffix => format.prompt_len,
        Placement::Prefix => 0,
    };
    let seq = sentences.iter().map(|s| s.len() + slots + 1).max().unwrap_or(1);
    let mut ids = Vec::with_capacity(sentences.len() * seq);
    let mut attention = Vec::with_capacity(sentences.len() * seq);
    let mut predict_at = Vec::with_capacity(sentences.len());
    for sentence in &sentences {
        let real = sentence.len() + slots + 1;
        ids.extend_from_slice(sentence);
        // Slot ids are never looked up: their embeddings are replaced by the prompt.
        ids.extend(std::iter::repeat_n(config.pad_token_id, slots));
        ids.push(config.eos_token_id);
        ids.extend(std::iter::repeat_n(config.pad_token_id, seq - real));
        attention.extend(std::iter::repeat_n(1, real));
        attention.extend(std::iter::repeat_n(0, seq - real));
        predict_at.push(match format.placement {
            Placement::Suffix => sentence.len() + slots - 1,
            Placement::Prefix => format.prompt_len + sentence.len(),
        });
    }
    let placement = match format.placement {
        Placement::Suffix => {
            PromptPlacement::Slots { starts: sentences.iter().map(|s| s.len()).collect(), len: format.prompt_len }
        }
        Placement::Prefix => PromptPlacement::Prefix { len: format.prompt_len },
    };
    TaskBatch { input: InputBatch { ids, attention, batch: sentences.len(), seq, placement }, predict_at }
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::SafeTensors;

    fn i64s(tensors: &SafeTensors, name: &str) -> Vec<i64> {
        let view = tensors.tensor(name).unwrap();
        view.data().chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect()
    }

    #[test]
    fn batches_match_the_reference_layout_for_both_placements() {
        for name in ["tiny-xglm", "tiny-bloom"] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
            let config = ModelConfig::from_json(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
            let json: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join("parity.json")).unwrap()).unwrap();
            let bytes = std::fs::read(dir.join("parity.safetensors")).unwrap();
            let tensors = SafeTensors::deserialize(&bytes).unwrap();
            let sentences: Vec<Vec<u32>> = json["sentences"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["sentence_ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect())
                .collect();
            let refs: Vec<&[u32]> = sentences.iter().map(Vec::as_slice).collect();
            let as_i64 = |v: &[u32]| v.iter().map(|&x| x as i64).collect::<Vec<_>>();

            let paper = build_batch(&refs, &TaskFormat::paper(4), &config);
            assert_eq!(as_i64(&paper.input.ids), i64s(&tensors, "input_ids"), "{name}");
            let mask: Vec<i64> = paper.input.attention.iter().map(|&a| a as i64).collect();
            assert_eq!(mask, i64s(&tensors, "attention_mask"), "{name}");
            assert_eq!(
                paper.predict_at.iter().map(|&p| p as i64).collect::<Vec<_>>(),
                i64s(&tensors, "pred_positions")
            );
            let PromptPlacement::Slots { starts, len: 4 } = &paper.input.placement else { panic!() };
            let prompt_mask = i64s(&tensors, "prompt_mask");
            for (row, &start) in starts.iter().enumerate() {
                let marked: Vec<usize> =
                    (0..paper.input.seq).filter(|&t| prompt_mask[row * paper.input.seq + t] == 1).collect();
                assert_eq!(marked, (start..start + 4).collect::<Vec<_>>(), "{name} row {row}");
            }

            let peft =
                build_batch(&refs, &TaskFormat { placement: Placement::Prefix, ..TaskFormat::paper(4) }, &config);
            assert_eq!(as_i64(&peft.input.ids), i64s(&tensors, "peft_input_ids"), "{name}");
            assert_eq!(
                peft.predict_at.iter().map(|&p| p as i64).collect::<Vec<_>>(),
                i64s(&tensors, "peft_pred_positions")
            );
            assert_eq!(peft.input.placement, PromptPlacement::Prefix { len: 4 });
        }
    }

    #[test]
    fn only_the_sentence_is_truncated() {
        let config = ModelConfig::from_json(
            &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny-bloom/config.json"))
                .unwrap(),
        )
        .unwrap();
        let long: Vec<u32> = (10..210).collect();
        let format = TaskFormat { max_len: 16, ..TaskFormat::paper(5) };
        let batch = build_batch(&[&long, &[10, 11]], &format, &config);
        assert_eq!(batch.input.seq, 16);
        // 10 sentence tokens, 5 slots, EOS.
        assert_eq!(&batch.input.ids[..10], &long[..10]);
        assert_eq!(batch.input.ids[15], config.eos_token_id);
        assert_eq!(batch.predict_at, vec![14, 6]);
        assert_eq!(batch.input.attention[16..].iter().filter(|&&a| a == 1).count(), 2 + 5 + 1);
    }
}
