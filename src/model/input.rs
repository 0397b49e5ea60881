//! What the model takes: a right-padded batch of token ids and where the soft prompt goes among them.

/// Where the soft prompt goes among the input embeddings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PromptPlacement {
    None,
    /// The paper: prompt vectors replace the embeddings of `len` slots starting at `starts[row]`, then go
    /// through what token embeddings go through (XGLM's × sqrt(d) scale, BLOOM's embedding LayerNorm).
    Slots {
        starts: Vec<usize>,
        len: usize,
    },
    /// PEFT: the prompt is prepended as input embeddings (no XGLM scale; BLOOM's embedding LayerNorm
    /// applies) and the attention mask is extended by `len` ones; outputs have `len` more positions.
    Prefix {
        len: usize,
    },
}

/// A right-padded batch of token ids for the model, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputBatch {
    pub ids: Vec<u32>,
    /// 1 for tokens and prompt slots, 0 for padding.
    pub attention: Vec<u8>,
    pub batch: usize,
    pub seq: usize,
    pub placement: PromptPlacement,
}

impl InputBatch {
    /// Number of prompt rows prepended (PEFT's format), else 0.
    pub(super) fn prefix_len(&self) -> usize {
        match self.placement {
            PromptPlacement::Prefix { len } => len,
            _ => 0,
        }
    }

    /// The attention mask the layers see, `[B, T']` row-major: for a prefix, `len` ones in front of each
    /// row (what PEFT does to `attention_mask`).
    pub(super) fn model_attention(&self) -> (Vec<u8>, usize) {
        assert_eq!(self.attention.len(), self.batch * self.seq, "InputBatch attention is not batch × seq");
        let prefix = self.prefix_len();
        let seq = prefix + self.seq;
        let mut mask = Vec::with_capacity(self.batch * seq);
        for row in self.attention.chunks(self.seq) {
            mask.extend(std::iter::repeat_n(1, prefix));
            mask.extend_from_slice(row);
        }
        (mask, seq)
    }
}
