//! Attention shared by both architectures: the causal/padding mask, scaled dot-product attention with an
//! optional additive bias (BLOOM's ALiBi), and what every layer needs besides the hidden states.
use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Device, Tensor, TensorData};

/// `[B, 1, T, T]`, true where query `i` must not see key `j`: later keys (causal) and padded keys — the
/// 4-D mask transformers builds from `attention_mask`, broadcast over heads.
pub(super) fn blocked_keys(attention: &[u8], batch: usize, seq: usize, device: &Device) -> Tensor<4, Bool> {
    let mut blocked = Vec::with_capacity(batch * seq * seq);
    for row in attention.chunks(seq) {
        for i in 0..seq {
            blocked.extend((0..seq).map(|j| j > i || row[j] == 0));
        }
    }
    Tensor::from_data(TensorData::new(blocked, [batch, 1, seq, seq]), device)
}

/// Scaled dot-product attention over `[B, heads, T, head_dim]` inputs with an additive `bias` (BLOOM's ALiBi)
/// and the causal/padding mask; returns `[B, T, heads × head_dim]` with heads merged.
pub(super) fn attention(
    query: Tensor<4>,
    key: Tensor<4>,
    value: Tensor<4>,
    bias: Option<Tensor<4>>,
    blocked: Tensor<4, Bool>,
) -> Tensor<3> {
    let [b, heads, t, head_dim] = query.dims();
    let mut scores = query.matmul(key.swap_dims(2, 3)) / (head_dim as f64).sqrt();
    if let Some(bias) = bias {
        scores = scores + bias;
    }
    // transformers fills with the dtype's minimum; any row keeps at least its own (or an earlier) key.
    let probs = softmax(scores.mask_fill(blocked, f32::MIN), 3);
    probs.matmul(value).swap_dims(1, 2).reshape([b, t, heads * head_dim])
}

/// What each layer needs besides the hidden states: the causal/padding mask, and BLOOM's ALiBi biases.
#[derive(Clone, Debug)]
pub struct LayerContext {
    pub(super) blocked: Tensor<4, Bool>,
    pub(super) alibi: Option<Tensor<4>>,
}
