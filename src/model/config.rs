//! A checkpoint's `config.json` (as the Hugging Face hub ships it) read into one config for both
//! families, plus what the model will cost in memory before anything is downloaded.
use serde::Deserialize;

use super::quant::WeightDtype;

/// The two architectures of the paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Xglm,
    Bloom,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Xglm => "XGLM",
            Family::Bloom => "BLOOM",
        }
    }
}

/// What the model code needs from `config.json`, whichever family wrote it.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    pub family: Family,
    pub vocab_size: usize,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    /// Feed-forward width (XGLM's `ffn_dim`; BLOOM uses 4 × hidden).
    pub ffn: usize,
    pub layer_norm_eps: f64,
    /// XGLM only: sinusoidal table size and whether embeddings are scaled by sqrt(hidden).
    pub max_positions: usize,
    pub scale_embedding: bool,
    pub pad_token_id: u32,
    pub bos_token_id: u32,
    pub eos_token_id: u32,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("config.json is not valid JSON ({0}): re-download it, or pick the config.json that belongs to the model")]
    Json(String),
    #[error(
        "config.json describes a `{0}` model; polyprompt runs XGLM (e.g. facebook/xglm-564M) and BLOOM \
         (e.g. bigscience/bloom-560m) checkpoints only"
    )]
    UnsupportedArchitecture(String),
    #[error("config.json has no usable `{field}` ({why}): is this file complete?")]
    Field { field: &'static str, why: String },
    #[error(
        "config.json's `{field}` is {value}, {why}: this is not the config of a model polyprompt can load — \
         use the config.json from the model's own repository"
    )]
    OutOfRange { field: &'static str, value: String, why: String },
}

/// Sanity limits on config.json, checked before anything is sized from it: well above the models
/// polyprompt targets (vocabularies of 250k, hidden size 1024, 24 layers) and any XGLM or BLOOM
/// checkpoint, yet small enough that every size computed from them fits in a u64 and a 32-bit usize
/// holds the hidden and vocabulary sizes.
pub const MAX_VOCAB: usize = 1 << 22;
pub const MAX_HIDDEN: usize = 1 << 14;
pub const MAX_LAYERS: usize = 1024;
pub const MAX_FFN: usize = 8 * MAX_HIDDEN;

#[derive(Deserialize)]
struct ModelType {
    model_type: Option<String>,
}

/// XGLM's fields, named as in transformers' `XGLMConfig`.
#[derive(Deserialize)]
struct XglmJson {
    vocab_size: usize,
    d_model: usize,
    num_layers: usize,
    attention_heads: usize,
    ffn_dim: usize,
    max_position_embeddings: usize,
    #[serde(default = "yes")]
    scale_embedding: bool,
    #[serde(default = "one")]
    pad_token_id: u32,
    #[serde(default)]
    bos_token_id: u32,
    #[serde(default = "two")]
    eos_token_id: u32,
}

/// BLOOM's fields, named as in transformers' `BloomConfig` (`n_embed` is the older name of `hidden_size`).
#[derive(Deserialize)]
struct BloomJson {
    vocab_size: usize,
    #[serde(alias = "n_embed")]
    hidden_size: usize,
    n_layer: usize,
    n_head: usize,
    #[serde(default = "bloom_eps")]
    layer_norm_epsilon: f64,
    #[serde(default = "three")]
    pad_token_id: u32,
    #[serde(default = "one")]
    bos_token_id: u32,
    #[serde(default = "two")]
    eos_token_id: u32,
}

fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn two() -> u32 {
    2
}
fn three() -> u32 {
    3
}
fn bloom_eps() -> f64 {
    1e-5
}

impl ModelConfig {
    pub fn from_json(text: &str) -> Result<ModelConfig, ConfigError> {
        let json = |e: serde_json::Error| ConfigError::Json(e.to_string());
        let kind: ModelType = serde_json::from_str(text).map_err(json)?;
        let field_error = |e: serde_json::Error| {
            let message = e.to_string();
            let field = [
                "vocab_size",
                "d_model",
                "num_layers",
                "attention_heads",
                "ffn_dim",
                "max_position_embeddings",
                "hidden_size",
                "n_layer",
                "n_head",
            ]
            .into_iter()
            .find(|f| message.contains(f))
            .unwrap_or("a size field");
            ConfigError::Field { field, why: message }
        };
        let config = match kind.model_type.as_deref() {
            Some("xglm") => {
                let c: XglmJson = serde_json::from_str(text).map_err(field_error)?;
                ModelConfig {
                    family: Family::Xglm,
                    vocab_size: c.vocab_size,
                    hidden: c.d_model,
                    layers: c.num_layers,
                    heads: c.attention_heads,
                    ffn: c.ffn_dim,
                    // transformers' XGLM hard-codes its LayerNorm epsilon.
                    layer_norm_eps: 1e-5,
                    max_positions: c.max_position_embeddings,
                    scale_embedding: c.scale_embedding,
                    pad_token_id: c.pad_token_id,
                    bos_token_id: c.bos_token_id,
                    eos_token_id: c.eos_token_id,
                }
            }
            Some("bloom") => {
                let c: BloomJson = serde_json::from_str(text).map_err(field_error)?;
                ModelConfig {
                    family: Family::Bloom,
                    vocab_size: c.vocab_size,
                    hidden: c.hidden_size,
                    layers: c.n_layer,
                    heads: c.n_head,
                    // Saturating: an absurd hidden_size is reported by `validate`, not an overflow here.
                    ffn: c.hidden_size.saturating_mul(4),
                    layer_norm_eps: c.layer_norm_epsilon,
                    // ALiBi needs no position table.
                    max_positions: 0,
                    scale_embedding: false,
                    pad_token_id: c.pad_token_id,
                    bos_token_id: c.bos_token_id,
                    eos_token_id: c.eos_token_id,
                }
            }
            other => return Err(ConfigError::UnsupportedArchitecture(other.unwrap_or("unnamed").to_string())),
        };
        config.validate()
    }

    fn validate(self) -> Result<ModelConfig, ConfigError> {
        let xglm = self.family == Family::Xglm;
        let out_of_range =
            |field: &'static str, value: String, why: String| Err(ConfigError::OutOfRange { field, value, why });
        let bounded = [
            ("vocab_size", self.vocab_size, MAX_VOCAB),
            (if xglm { "d_model" } else { "hidden_size" }, self.hidden, MAX_HIDDEN),
            (if xglm { "num_layers" } else { "n_layer" }, self.layers, MAX_LAYERS),
            // BLOOM's feed-forward width is 4 × hidden_size, within bounds once hidden_size is.
            ("ffn_dim", self.ffn, MAX_FFN),
        ];
        for (field, value, max) in bounded {
            if !(1..=max).contains(&value) {
                return out_of_range(field, value.to_string(), format!("outside 1..={max}"));
            }
        }
        let heads = if xglm { "attention_heads" } else { "n_head" };
        if self.heads == 0 || !self.hidden.is_multiple_of(self.heads) {
            let why = format!("but hidden size {} is not divisible into {} heads", self.hidden, self.heads);
            return out_of_range(heads, self.heads.to_string(), why);
        }
        for (field, id) in [
            ("pad_token_id", self.pad_token_id),
            ("bos_token_id", self.bos_token_id),
            ("eos_token_id", self.eos_token_id),
        ] {
            if id as usize >= self.vocab_size {
                return out_of_range(field, id.to_string(), format!("not below vocab_size {}", self.vocab_size));
            }
        }
        if !(self.layer_norm_eps > 0.0 && self.layer_norm_eps < 1.0) {
            return out_of_range("layer_norm_epsilon", self.layer_norm_eps.to_string(), "outside (0, 1)".into());
        }
        Ok(self)
    }

    pub fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }

    /// Parameters of the token embedding (also the tied LM head).
    pub fn embedding_params(&self) -> u64 {
        self.vocab_size as u64 * self.hidden as u64
    }

    /// Parameters of everything else: the layers, and the LayerNorms outside them.
    pub fn layer_params(&self) -> u64 {
        let (h, f) = (self.hidden as u64, self.ffn as u64);
        // Attention: q, k, v and output projections with biases (BLOOM's fused qkv has the same count);
        // two LayerNorms; the feed-forward pair with biases.
        let per_layer = 4 * (h * h + h) + 2 * 2 * h + (h * f + f) + (f * h + h);
        let outside = match self.family {
            Family::Xglm => 2 * h,      // final layer norm
            Family::Bloom => 2 * 2 * h, // embedding layer norm + final layer norm
        };
        self.layers as u64 * per_layer + outside
    }

    pub fn total_params(&self) -> u64 {
        self.embedding_params() + self.layer_params()
    }

    /// Parameters in weight matrices (the linear layers and the token table): what `dtype` applies to;
    /// biases and LayerNorms stay f32.
    fn matrix_params(&self) -> u64 {
        let (h, f) = (self.hidden as u64, self.ffn as u64);
        self.embedding_params() + self.layers as u64 * (4 * h * h + 2 * h * f)
    }

    /// Memory the frozen model needs with its weight matrices stored as `dtype`.
    pub fn size_estimate(&self, dtype: WeightDtype) -> SizeEstimate {
        let embedding = dtype.bytes_for(self.embedding_params());
        let layer_matrices = self.matrix_params() - self.embedding_params();
        let layers = dtype.bytes_for(layer_matrices) + 4 * (self.layer_params() - layer_matrices);
        SizeEstimate {
            // The token table stays on the host; only the rows a batch uses are uploaded.
            host_bytes: embedding,
            // Layers, plus the tied head (the same table) for full-vocabulary scores.
            device_bytes: layers + embedding,
            download_bytes: layers + embedding,
        }
    }
}

/// New sizes for a model, any of them left as they were (`polyprompt random-model`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resize {
    pub vocab_size: Option<usize>,
    pub hidden: Option<usize>,
    pub layers: Option<usize>,
    pub heads: Option<usize>,
    /// XGLM only: BLOOM's feed-forward width is always 4 × hidden.
    pub ffn: Option<usize>,
}

impl ModelConfig {
    /// `config.json`'s text with the sizes in `resize` written under the family's own field names, everything
    /// else kept; checked by reading it back.
    pub fn resized_json(text: &str, resize: Resize) -> Result<String, ConfigError> {
        let config = ModelConfig::from_json(text)?;
        let mut json: serde_json::Value = serde_json::from_str(text).map_err(|e| ConfigError::Json(e.to_string()))?;
        let fields = match (config.family, resize.ffn) {
            (Family::Xglm, _) => ["vocab_size", "d_model", "num_layers", "attention_heads", "ffn_dim"],
            (Family::Bloom, None) => ["vocab_size", "hidden_size", "n_layer", "n_head", "n_inner"],
            (Family::Bloom, Some(ffn)) => {
                let why = "BLOOM's feed-forward width is always 4 × hidden".to_string();
                return Err(ConfigError::OutOfRange { field: "ffn", value: ffn.to_string(), why });
            }
        };
        let sizes = [resize.vocab_size, resize.hidden, resize.layers, resize.heads, resize.ffn];
        for (field, size) in fields.into_iter().zip(sizes) {
            if let Some(size) = size {
                json[field] = size.into();
            }
        }
        let text = serde_json::to_string_pretty(&json).expect("JSON values serialise");
        ModelConfig::from_json(&text)?;
        Ok(text)
    }
}

/// The most memory a wasm32 page can address.
pub const WASM_MEMORY_BYTES: u64 = 4 << 30;

impl ModelConfig {
    /// Bytes of the training worker's wasm memory the model needs: the host token table, what loading
    /// holds while it converts (a layer's matrix read, widened and uploaded; the checkpoint itself stays in
    /// JavaScript's heap and is read a tensor at a time), and — on the CPU backend, whose "device" is that
    /// same memory — the device part and a training step's activations (`step_bytes`).
    pub fn browser_memory_bytes(&self, dtype: WeightDtype, on_gpu: bool, step_bytes: u64) -> u64 {
        let size = self.size_estimate(dtype);
        let loading = 3 * self.largest_layer_buffer();
        size.host_bytes + loading + if on_gpu { 0 } else { size.device_bytes + step_bytes }
    }

    /// The largest single device buffer the layers need, in bytes: one weight matrix widened to f32 for
    /// its product. (The tied head is split to fit; see `model::head`.)
    pub fn largest_layer_buffer(&self) -> u64 {
        4 * self.hidden as u64 * (3 * self.hidden).max(self.ffn) as u64
    }
}

/// Bytes a model needs, by where they live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeEstimate {
    pub host_bytes: u64,
    pub device_bytes: u64,
    pub download_bytes: u64,
}

/// The hub id a checkpoint's `config.json` records (`_name_or_path`, which transformers writes), if any:
/// what prompt files name as their base model when the files came from a folder rather than the hub.
pub fn recorded_name(config_json: &str) -> Option<String> {
    let json: serde_json::Value = serde_json::from_str(config_json).ok()?;
    json["_name_or_path"].as_str().filter(|name| !name.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    #[test]
    fn recorded_name_is_the_configs_name_or_path() {
        assert_eq!(
            recorded_name(r#"{"_name_or_path": "bigscience/bloom-560m"}"#).as_deref(),
            Some("bigscience/bloom-560m")
        );
        assert_eq!(recorded_name(r#"{"_name_or_path": ""}"#), None);
        assert_eq!(recorded_name(r#"{"model_type": "bloom"}"#), None);
        assert_eq!(recorded_name("not json"), None);
    }

    use super::*;

    const BLOOM_560M: &str = crate::files::hub::PRESETS[0].config_json;
    const XGLM_564M: &str = crate::files::hub::PRESETS[1].config_json;

    #[test]
    fn parameter_counts_match_the_published_checkpoints() {
        // bigscience/bloom-560m and facebook/xglm-564M as transformers counts them.
        assert_eq!(ModelConfig::from_json(BLOOM_560M).unwrap().total_params(), 559_214_592);
        assert_eq!(ModelConfig::from_json(XGLM_564M).unwrap().total_params(), 564_463_616);
    }

    #[test]
    fn family_specific_fields_are_read() {
        let xglm = ModelConfig::from_json(XGLM_564M).unwrap();
        assert_eq!((xglm.family, xglm.hidden, xglm.ffn, xglm.head_dim()), (Family::Xglm, 1024, 4096, 64));
        assert!(xglm.scale_embedding);
        assert_eq!((xglm.bos_token_id, xglm.pad_token_id, xglm.eos_token_id), (0, 1, 2));
        let bloom = ModelConfig::from_json(BLOOM_560M).unwrap();
        assert_eq!((bloom.family, bloom.ffn, bloom.pad_token_id), (Family::Bloom, 4096, 3));
        let old_bloom = BLOOM_560M.replace("hidden_size", "n_embed");
        assert_eq!(ModelConfig::from_json(&old_bloom).unwrap().hidden, 1024);
    }

    #[test]
    fn the_fixture_configs_load() {
        for family in ["xglm", "bloom"] {
            let path = format!("{}/tests/fixtures/tiny-{family}/config.json", env!("CARGO_MANIFEST_DIR"));
            let config = ModelConfig::from_json(&std::fs::read_to_string(path).unwrap()).unwrap();
            assert_eq!((config.hidden, config.layers, config.heads), (64, 2, 4));
        }
    }

    #[test]
    fn int8_fits_a_quarter_of_f32() {
        let bloom = ModelConfig::from_json(BLOOM_560M).unwrap();
        let f32 = bloom.size_estimate(WeightDtype::F32);
        let int8 = bloom.size_estimate(WeightDtype::Int8);
        assert_eq!(f32.host_bytes, 4 * 250_880 * 1024);
        // 1.125 bytes per matrix weight (a 4-byte scale per 32), 4 per bias and LayerNorm weight.
        assert!(int8.device_bytes * 4 > f32.device_bytes && int8.device_bytes * 35 < f32.device_bytes * 10);
        let f16 = bloom.size_estimate(WeightDtype::F16).device_bytes;
        assert!(f16 * 2 > f32.device_bytes && f16 * 2 - f32.device_bytes < 2_000_000, "vectors stay f32");
    }

    #[test]
    fn a_560m_model_fits_a_browser_page_on_the_cpu_only_when_quantized() {
        // A training step's activations at batch 8 (tuning::estimate): about 0.2 GB layer by layer (f16,
        // int8), 2.4 GB through one graph (f32).
        let (lean, whole) = (200 << 20, 2400 << 20);
        for json in [BLOOM_560M, XGLM_564M] {
            let config = ModelConfig::from_json(json).unwrap();
            assert!(config.browser_memory_bytes(WeightDtype::Int8, false, lean) < WASM_MEMORY_BYTES / 2);
            assert!(config.browser_memory_bytes(WeightDtype::F32, false, whole) > WASM_MEMORY_BYTES);
            assert!(config.browser_memory_bytes(WeightDtype::F32, true, whole) < WASM_MEMORY_BYTES);
            assert_eq!(config.largest_layer_buffer(), 16 << 20);
        }
    }

    #[test]
    fn wrong_or_broken_configs_say_what_is_wrong() {
        let llama = r#"{"model_type": "llama", "vocab_size": 32000}"#;
        assert!(matches!(ModelConfig::from_json(llama), Err(ConfigError::UnsupportedArchitecture(t)) if t == "llama"));
        assert!(matches!(ModelConfig::from_json("{\"model_type\": \"bloom\""), Err(ConfigError::Json(_))));
        let missing = BLOOM_560M.replace("\"n_layer\": 24,", "");
        let err = ModelConfig::from_json(&missing).unwrap_err();
        assert!(matches!(err, ConfigError::Field { field: "n_layer", .. }), "{err}");
        let odd_heads = BLOOM_560M.replace("\"n_head\": 16", "\"n_head\": 15");
        assert!(ModelConfig::from_json(&odd_heads).unwrap_err().to_string().contains("15 heads"));
    }

    #[test]
    fn absurd_sizes_are_refused_with_the_field_named() {
        let refused = |json: String, field: &str| match ModelConfig::from_json(&json) {
            Err(ConfigError::OutOfRange { field: f, .. }) if f == field => {}
            other => panic!("{field}: {other:?}"),
        };
        refused(BLOOM_560M.replace("\"vocab_size\": 250880", "\"vocab_size\": 1000000000000"), "vocab_size");
        refused(XGLM_564M.replace("\"d_model\": 1024", "\"d_model\": 18446744073709551615"), "d_model");
        // BLOOM's feed-forward width is derived from hidden_size: no overflow on the way to the check.
        refused(BLOOM_560M.replace("\"hidden_size\": 1024", "\"hidden_size\": 18446744073709551615"), "hidden_size");
        refused(BLOOM_560M.replace("\"n_layer\": 24", "\"n_layer\": 0"), "n_layer");
        refused(XGLM_564M.replace("\"ffn_dim\": 4096", "\"ffn_dim\": 0"), "ffn_dim");
        refused(XGLM_564M.replace("\"attention_heads\": 16", "\"attention_heads\": 0"), "attention_heads");
        refused(XGLM_564M.replace("\"attention_heads\": 16", "\"attention_heads\": 3"), "attention_heads");
        refused(BLOOM_560M.replace("\"eos_token_id\": 2", "\"eos_token_id\": 250880"), "eos_token_id");
        refused(
            BLOOM_560M.replace("\"layer_norm_epsilon\": 1e-05", "\"layer_norm_epsilon\": -1"),
            "layer_norm_epsilon",
        );
        let message =
            ModelConfig::from_json(&BLOOM_560M.replace("\"n_layer\": 24", "\"n_layer\": 0")).unwrap_err().to_string();
        assert!(
            message.contains("`n_layer` is 0, outside 1..=1024") && message.contains("own repository"),
            "{message}"
        );
    }
}
