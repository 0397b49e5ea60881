//! The soft prompt: L trainable vectors of the model's hidden size, optionally produced by a small MLP
//! (the paper's *reparameterization*: Linear → ReLU → Linear → LayerNorm, no residual).
//!
//! The trainable tensors are plain tensors on the model's device; the trainer wraps them as autodiff
//! leaves for each step. Biases are kept as `[1, n]` rows so every trainable tensor has rank 2 and one
//! optimizer state type serves them all.
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::model::CausalLm;
use crate::model::tokenizer::{TextTokenizer, TokenizeError};
use crate::task::batch::Placement;

/// The paper's reparameterization LayerNorm epsilon (torch's default).
const LAYER_NORM_EPS: f64 = 1e-5;
/// Vocabulary initialisation samples among the first ids after the specials: both tokenizer kinds list
/// pieces roughly by frequency (unigram score, BPE merge order), so these are common tokens (as Lester
/// et al. sample from the 5,000 most common).
const VOCAB_INIT_POOL: u32 = 5000;
/// Longest prompt accepted (the paper uses at most 50; PEFT files may carry more).
pub const MAX_PROMPT_LEN: usize = 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "text")]
pub enum PromptInit {
    /// Uniform(-0.5, 0.5), the paper's.
    Uniform,
    /// Embeddings of L tokens sampled from common vocabulary entries.
    Vocabulary,
    /// Embeddings of the tokens of a text, repeated or cut to L (PEFT's `TEXT` init).
    Text(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptConfig {
    pub length: usize,
    pub init: PromptInit,
    /// Hidden size of the reparameterization MLP; `None` trains the vectors directly.
    pub reparam_hidden: Option<usize>,
}

impl PromptConfig {
    /// The paper's defaults for a prompt of `length` vectors (the authors' README uses an MLP of 200).
    pub fn paper(length: usize) -> PromptConfig {
        PromptConfig { length, init: PromptInit::Uniform, reparam_hidden: None }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromptError {
    #[error("a prompt needs between 1 and {MAX_PROMPT_LEN} vectors, not {0}")]
    Length(usize),
    #[error("the reparameterization MLP needs a hidden size between 1 and 65536, not {0}")]
    ReparamHidden(usize),
    #[error("the init text encodes to no token: give a few words, e.g. \"Classify the topic\"")]
    EmptyText,
    #[error(transparent)]
    Tokenize(#[from] TokenizeError),
    #[error("trainable tensors do not fit this prompt: {0}")]
    Shape(String),
}

/// The reparameterization MLP, weights in `x · W` layout (`[in, out]`, the transpose of torch's).
#[derive(Clone, Debug)]
pub struct Reparam {
    pub w1: Tensor<2>,
    pub b1: Tensor<2>,
    pub w2: Tensor<2>,
    pub b2: Tensor<2>,
}

impl Reparam {
    /// Linear → ReLU → Linear → LayerNorm. The LayerNorm's affine stays at identity and untrained, as
    /// in the authors' code (their parameter selection leaves it out), so it is not stored at all.
    fn apply(&self, input: Tensor<2>) -> Tensor<2> {
        let hidden = relu(input.matmul(self.w1.clone()) + self.b1.clone());
        let out = hidden.matmul(self.w2.clone()) + self.b2.clone();
        let (var, mean) = out.clone().var_mean_bias(1);
        (out - mean) / (var + LAYER_NORM_EPS).sqrt()
    }
}

/// A soft prompt: `input` `[L, H]` used directly, or fed through `mlp`.
#[derive(Clone, Debug)]
pub struct SoftPrompt {
    pub input: Tensor<2>,
    pub mlp: Option<Reparam>,
}

impl SoftPrompt {
    /// A fresh prompt for `model`, initialised as `config` says; the same seed gives the same prompt.
    pub fn init(
        config: &PromptConfig,
        model: &CausalLm,
        tokenizer: &TextTokenizer,
        placement: Placement,
        seed: u64,
    ) -> Result<SoftPrompt, PromptError> {
        if config.length == 0 || config.length > MAX_PROMPT_LEN {
            return Err(PromptError::Length(config.length));
        }
        let hidden = model.config().hidden;
        let device = model.device();
        let mut rng = StdRng::seed_from_u64(seed);
        let input = match &config.init {
            PromptInit::Uniform => uniform(&mut rng, [config.length, hidden], 0.5, device),
            PromptInit::Vocabulary => {
                let first = first_ordinary_id(model);
                let pool_end = (tokenizer.vocab_size() as u32).min(first + VOCAB_INIT_POOL).max(first + 1);
                let ids: Vec<u32> = (0..config.length).map(|_| rng.random_range(first..pool_end)).collect();
                token_rows(model, &ids, placement)
            }
            PromptInit::Text(text) => {
                let ids = tokenizer.encode(text)?;
                if ids.is_empty() {
                    return Err(PromptError::EmptyText);
                }
                let ids: Vec<u32> = ids.iter().cycle().take(config.length).copied().collect();
                token_rows(model, &ids, placement)
            }
        };
        let mlp = match config.reparam_hidden {
            None => None,
            Some(h) if h == 0 || h > 65536 => return Err(PromptError::ReparamHidden(h)),
            // torch.nn.Linear's default init: weights and biases uniform(±1/sqrt(fan_in)).
            Some(h) => Some(Reparam {
                w1: uniform(&mut rng, [hidden, h], 1.0 / (hidden as f64).sqrt(), device),
                b1: uniform(&mut rng, [1, h], 1.0 / (hidden as f64).sqrt(), device),
                w2: uniform(&mut rng, [h, hidden], 1.0 / (h as f64).sqrt(), device),
                b2: uniform(&mut rng, [1, hidden], 1.0 / (h as f64).sqrt(), device),
            }),
        };
        Ok(SoftPrompt { input, mlp })
    }

    /// A prompt used directly, from stored vectors `[length, hidden]` (e.g. an imported file).
    pub fn from_vectors(vectors: Vec<f32>, length: usize, hidden: usize, device: &Device) -> SoftPrompt {
        SoftPrompt { input: Tensor::from_data(TensorData::new(vectors, [length, hidden]), device), mlp: None }
    }

    pub fn length(&self) -> usize {
        self.input.dims()[0]
    }

    /// The vectors placed among the input embeddings, `[L, H]`: what is exported and evaluated.
    pub fn effective(&self) -> Tensor<2> {
        match &self.mlp {
            None => self.input.clone(),
            Some(mlp) => mlp.apply(self.input.clone()),
        }
    }

    /// The trainable tensors, in a fixed order: input, then w1, b1, w2, b2 with an MLP.
    pub fn params(&self) -> Vec<Tensor<2>> {
        let mut params = vec![self.input.clone()];
        if let Some(mlp) = &self.mlp {
            params.extend([mlp.w1.clone(), mlp.b1.clone(), mlp.w2.clone(), mlp.b2.clone()]);
        }
        params
    }

    /// Names of [`params`](Self::params), for files and errors.
    pub fn param_names(&self) -> &'static [&'static str] {
        if self.mlp.is_some() { &["input", "w1", "b1", "w2", "b2"] } else { &["input"] }
    }

    /// The same prompt with other values for its trainable tensors (same order and shapes as `params`).
    pub fn with_params(&self, params: Vec<Tensor<2>>) -> Result<SoftPrompt, PromptError> {
        let old = self.params();
        if params.len() != old.len() {
            return Err(PromptError::Shape(format!("{} tensors given, {} expected", params.len(), old.len())));
        }
        for ((new, old), name) in params.iter().zip(&old).zip(self.param_names()) {
            if new.dims() != old.dims() {
                return Err(PromptError::Shape(format!("{name} is {:?}, expected {:?}", new.dims(), old.dims())));
            }
        }
        let mut params = params.into_iter();
        let input = params.next().expect("checked length");
        let mlp = self.mlp.as_ref().map(|_| Reparam {
            w1: params.next().expect("checked length"),
            b1: params.next().expect("checked length"),
            w2: params.next().expect("checked length"),
            b2: params.next().expect("checked length"),
        });
        Ok(SoftPrompt { input, mlp })
    }
}

fn uniform(rng: &mut StdRng, shape: [usize; 2], bound: f64, device: &Device) -> Tensor<2> {
    let bound = bound as f32;
    let values: Vec<f32> = (0..shape[0] * shape[1]).map(|_| rng.random_range(-bound..bound)).collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// The first id that is not one of the model's special tokens (they all come first in both families).
fn first_ordinary_id(model: &CausalLm) -> u32 {
    let c = model.config();
    [c.pad_token_id, c.bos_token_id, c.eos_token_id].into_iter().max().unwrap_or(0) + 2
}

/// Embedding rows of `ids` as prompt vectors that stand for those tokens. In the paper's slots they go
/// through the embedding scale like tokens do; a PEFT prefix is not scaled, so XGLM's sqrt(d) is
/// applied here (as PEFT's own text init gets it from transformers' scaled embedding module).
fn token_rows(model: &CausalLm, ids: &[u32], placement: Placement) -> Tensor<2> {
    let rows = model.embedding_rows(ids, model.device());
    let config = model.config();
    match placement {
        Placement::Prefix if config.scale_embedding => rows * (config.hidden as f64).sqrt(),
        _ => rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{InputBatch, PromptPlacement};
    use crate::model::{LoadOptions, load_dir};

    fn fixture(family: &str) -> (CausalLm, TextTokenizer) {
        let dir = std::path::PathBuf::from(format!("{}/tests/fixtures/tiny-{family}", env!("CARGO_MANIFEST_DIR")));
        let model = load_dir(&dir, &Device::flex(), &LoadOptions::default()).unwrap();
        let tokenizer = TextTokenizer::from_bytes(&std::fs::read(dir.join("tokenizer.json")).unwrap()).unwrap();
        (model, tokenizer)
    }

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_into_vec().unwrap()
    }

    #[test]
    fn uniform_init_is_seeded_and_in_range() {
        let (model, tokenizer) = fixture("bloom");
        let config = PromptConfig::paper(100);
        let a = values(SoftPrompt::init(&config, &model, &tokenizer, Placement::Suffix, 3).unwrap().effective());
        let b = values(SoftPrompt::init(&config, &model, &tokenizer, Placement::Suffix, 3).unwrap().effective());
        let c = values(SoftPrompt::init(&config, &model, &tokenizer, Placement::Suffix, 4).unwrap().effective());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 100 * 64);
        assert!(a.iter().all(|v| (-0.5..0.5).contains(v)));
        let mean = a.iter().sum::<f32>() / a.len() as f32;
        assert!(mean.abs() < 0.02, "mean {mean}");
    }

    #[test]
    fn text_init_repeats_the_tokens_and_acts_like_them() {
        let (model, tokenizer) = fixture("xglm");
        let ids = tokenizer.encode("travel").unwrap();
        let config =
            PromptConfig { length: 2 * ids.len(), init: PromptInit::Text("travel".into()), reparam_hidden: None };
        let prompt = SoftPrompt::init(&config, &model, &tokenizer, Placement::Suffix, 0).unwrap().effective();
        // In the paper's slots the rows are scaled like tokens: slots filled with them equal the tokens.
        let tokens: Vec<u32> = ids.iter().chain(&ids).copied().chain([2]).collect();
        let n = tokens.len();
        let as_tokens =
            InputBatch { ids: tokens, attention: vec![1; n], batch: 1, seq: n, placement: PromptPlacement::None };
        let as_slots = InputBatch {
            ids: vec![1; n - 1].into_iter().chain([2]).collect(),
            placement: PromptPlacement::Slots { starts: vec![0], len: n - 1 },
            ..as_tokens.clone()
        };
        let a = model.hidden_states(&as_tokens, None).into_data().try_into_vec::<f32>().unwrap();
        let b = model.hidden_states(&as_slots, Some(prompt)).into_data().try_into_vec::<f32>().unwrap();
        assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-5));

        let empty = PromptConfig { init: PromptInit::Text("".into()), ..config };
        assert_eq!(
            SoftPrompt::init(&empty, &model, &tokenizer, Placement::Suffix, 0).unwrap_err(),
            PromptError::EmptyText
        );
    }

    #[test]
    fn prefix_rows_of_xglm_carry_the_embedding_scale() {
        let (model, tokenizer) = fixture("xglm");
        let config = PromptConfig { length: 3, init: PromptInit::Vocabulary, reparam_hidden: None };
        let suffix = values(SoftPrompt::init(&config, &model, &tokenizer, Placement::Suffix, 1).unwrap().effective());
        let prefix = values(SoftPrompt::init(&config, &model, &tokenizer, Placement::Prefix, 1).unwrap().effective());
        assert!(suffix.iter().zip(&prefix).all(|(s, p)| (s * 8.0 - p).abs() < 1e-5));
    }

    #[test]
    fn reparameterized_prompts_are_layer_normalised_rows() {
        let (model, tokenizer) = fixture("bloom");
        let config = PromptConfig { reparam_hidden: Some(200), ..PromptConfig::paper(5) };
        let prompt = SoftPrompt::init(&config, &model, &tokenizer, Placement::Suffix, 0).unwrap();
        assert_eq!(prompt.params().len(), 5);
        assert_eq!(prompt.params()[1].dims(), [64, 200]);
        let rows = values(prompt.effective());
        for row in rows.chunks(64) {
            let mean = row.iter().sum::<f32>() / 64.0;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 64.0;
            // Variance v / (v + eps) just under 1: the MLP's raw outputs are small, so eps shows.
            assert!(mean.abs() < 1e-5 && (0.99..1.0001).contains(&var), "mean {mean} var {var}");
        }
    }

    #[test]
    fn bad_settings_are_refused_with_their_reason() {
        let (model, tokenizer) = fixture("bloom");
        let init =
            |config: PromptConfig| SoftPrompt::init(&config, &model, &tokenizer, Placement::Suffix, 0).unwrap_err();
        assert_eq!(init(PromptConfig::paper(0)), PromptError::Length(0));
        assert_eq!(init(PromptConfig::paper(1_000_000_000)), PromptError::Length(1_000_000_000));
        assert_eq!(
            init(PromptConfig { reparam_hidden: Some(0), ..PromptConfig::paper(2) }),
            PromptError::ReparamHidden(0)
        );
        let prompt = SoftPrompt::init(&PromptConfig::paper(2), &model, &tokenizer, Placement::Suffix, 0).unwrap();
        let wrong = vec![Tensor::zeros([3, 64], model.device())];
        assert!(matches!(prompt.with_params(wrong), Err(PromptError::Shape(_))));
    }
}
