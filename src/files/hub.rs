//! Where model files come from: a Hugging Face hub repository (resolved to its file URLs), or any base
//! URL laid out like one. Pure string logic, shared by the app's downloader and tests.
use std::fmt;

use crate::model::ModelConfig;
use crate::model::checkpoint::{PYTORCH_FILE, SAFETENSORS_FILE};

/// The public hub. Tests and mirrors substitute a local server with the same URL layout.
pub const HUGGING_FACE: &str = "https://huggingface.co";

/// A model repository on a hub, at a revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubRepo {
    /// Base URL of the hub, without a trailing slash.
    pub hub: String,
    /// `owner/name`, e.g. `bigscience/bloom-560m`.
    pub id: String,
    /// Branch, tag or commit; `main` unless given.
    pub revision: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    #[error(
        "\"{0}\" is not a model id or URL: type a hub id like `bigscience/bloom-560m` \
         (optionally `@revision`) or a URL like `https://huggingface.co/facebook/xglm-564M`"
    )]
    Unrecognised(String),
}

impl HubRepo {
    /// Parses what a user types: `owner/name`, `owner/name@revision`, a hub page URL
    /// (`https://huggingface.co/owner/name`, `…/tree/<rev>`), or a file-base URL (`…/resolve/<rev>/`).
    pub fn parse(input: &str) -> Result<HubRepo, HubError> {
        let input = input.trim();
        let bad = || HubError::Unrecognised(input.to_string());
        if let Some(rest) = input.strip_prefix("https://").or_else(|| input.strip_prefix("http://")) {
            let scheme = &input[..input.len() - rest.len()];
            let (host, path) = rest.split_once('/').ok_or_else(bad)?;
            let parts: Vec<&str> = path.trim_end_matches('/').split('/').filter(|p| !p.is_empty()).collect();
            let (id, revision) = match parts.as_slice() {
                [owner, name] => (format!("{owner}/{name}"), "main".to_string()),
                [owner, name, "tree" | "resolve" | "blob", revision, ..] => {
                    (format!("{owner}/{name}"), revision.to_string())
                }
                _ => return Err(bad()),
            };
            return Self::checked(format!("{scheme}{host}"), id, revision).ok_or_else(bad);
        }
        let (id, revision) = input.split_once('@').unwrap_or((input, "main"));
        Self::checked(HUGGING_FACE.to_string(), id.to_string(), revision.to_string()).ok_or_else(bad)
    }

    /// The same repository on another hub (a mirror, or a local test server).
    pub fn on_hub(mut self, hub: &str) -> HubRepo {
        self.hub = hub.trim_end_matches('/').to_string();
        self
    }

    fn checked(hub: String, id: String, revision: String) -> Option<HubRepo> {
        let name_ok = |s: &str| {
            !s.is_empty() && s.len() <= 96 && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        let (owner, name) = id.split_once('/')?;
        let ok = name_ok(owner) && name_ok(name) && !owner.starts_with('.') && !name.starts_with('.');
        let revision_ok = name_ok(&revision.replace('/', "-"));
        (ok && revision_ok).then_some(HubRepo { hub, id, revision })
    }

    /// The download URL of one file, as the hub serves it (`<hub>/<id>/resolve/<revision>/<file>`).
    pub fn file_url(&self, file: &str) -> String {
        format!("{}/{}/resolve/{}/{}", self.hub, self.id, self.revision, file)
    }
}

impl fmt::Display for HubRepo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.id)?;
        if self.revision != "main" {
            write!(f, "@{}", self.revision)?;
        }
        if self.hub != HUGGING_FACE {
            write!(f, " on {}", self.hub)?;
        }
        Ok(())
    }
}

/// The files a model needs, in the order they are fetched. Weights come last: they are the big one,
/// and a wrong config or tokenizer should fail before gigabytes are downloaded.
pub const CONFIG_FILE: &str = "config.json";
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// The checkpoints the app offers with one click.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preset {
    pub id: &'static str,
    pub label: &'static str,
    /// The weights file the repository ships (facebook/xglm-564M has no `model.safetensors` on main).
    pub weights_file: &'static str,
    /// Size of that file in bytes, as the hub lists it, shown before downloading.
    pub weights_bytes: u64,
    pub tokenizer_bytes: u64,
    /// The repository's `config.json` (the fields read), so sizes per dtype show before any download.
    pub config_json: &'static str,
}

impl Preset {
    pub fn config(&self) -> ModelConfig {
        ModelConfig::from_json(self.config_json).expect("a preset's config parses")
    }
}

pub const PRESETS: [Preset; 2] = [
    Preset {
        id: "bigscience/bloom-560m",
        label: "BLOOM-560m",
        weights_file: SAFETENSORS_FILE,
        weights_bytes: 1_118_459_512,
        tokenizer_bytes: 14_500_000,
        config_json: r#"{"model_type": "bloom", "vocab_size": 250880, "hidden_size": 1024, "n_layer": 24,
            "n_head": 16, "layer_norm_epsilon": 1e-05, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 3,
            "apply_residual_connection_post_layernorm": false}"#,
    },
    Preset {
        id: "facebook/xglm-564M",
        label: "XGLM-564M",
        weights_file: PYTORCH_FILE,
        weights_bytes: 1_134_000_000,
        tokenizer_bytes: 9_030_000,
        config_json: r#"{"model_type": "xglm", "vocab_size": 256008, "d_model": 1024, "num_layers": 24,
            "attention_heads": 16, "ffn_dim": 4096, "max_position_embeddings": 2048, "scale_embedding": true,
            "activation_function": "gelu", "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2}"#,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_urls_and_revisions_resolve_to_hub_file_urls() {
        let bloom = HubRepo::parse("bigscience/bloom-560m").unwrap();
        assert_eq!(
            bloom.file_url("config.json"),
            "https://huggingface.co/bigscience/bloom-560m/resolve/main/config.json"
        );
        let pinned = HubRepo::parse("facebook/xglm-564M@a1b2c3").unwrap();
        assert_eq!(pinned.revision, "a1b2c3");
        assert_eq!(pinned.to_string(), "facebook/xglm-564M@a1b2c3");
        let page = HubRepo::parse("https://huggingface.co/facebook/xglm-564M/tree/v1.0").unwrap();
        assert_eq!((page.id.as_str(), page.revision.as_str()), ("facebook/xglm-564M", "v1.0"));
        let local = HubRepo::parse("http://127.0.0.1:9000/org/tiny/resolve/main/").unwrap();
        assert_eq!(local.file_url("tokenizer.json"), "http://127.0.0.1:9000/org/tiny/resolve/main/tokenizer.json");
        assert_eq!(local.to_string(), "org/tiny on http://127.0.0.1:9000");
    }

    #[test]
    fn a_mirror_keeps_the_layout() {
        let repo = HubRepo::parse("bigscience/bloom-560m").unwrap().on_hub("http://localhost:8000/hub/");
        assert_eq!(
            repo.file_url("model.safetensors"),
            "http://localhost:8000/hub/bigscience/bloom-560m/resolve/main/model.safetensors"
        );
    }

    #[test]
    fn junk_is_rejected_with_what_to_type() {
        for input in ["", "bloom", "a/b/c", "../etc/passwd", "owner/na me", "https://huggingface.co/", "x/.hidden"] {
            let err = HubRepo::parse(input).unwrap_err();
            assert!(err.to_string().contains("bigscience/bloom-560m"), "{input}: {err}");
        }
    }
}
