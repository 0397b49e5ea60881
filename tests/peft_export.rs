//! PEFT loads our prompt files. This test exports the parity fixture's prompt as a PEFT prefix prompt to
//! `target/peft-export/tiny-<family>/`; `tools/make_fixtures peft-import` loads that folder with
//! `PeftModel.from_pretrained`, runs the parity batch and records in `peft_import.json` the files' hashes
//! and the largest logit difference to the reference. The test checks that record against what we export
//! now, so any change to the export needs the proof redone.
use std::path::Path;

use polyprompt::files::prompt_file::{PromptFile, PromptMetadata, SCHEMA_VERSION};
use polyprompt::model::{Family, ModelConfig};
use polyprompt::task::batch::Placement;
use polyprompt::task::labels::Task;
use sha2::{Digest, Sha256};

mod common;
use common::TensorFile;

fn export(family: Family, name: &str) -> (Vec<u8>, String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let config = ModelConfig::from_json(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let (shape, embeddings) = TensorFile::open(&dir.join("parity.safetensors")).f32("prompt");
    let file = PromptFile {
        length: shape[0],
        hidden: shape[1],
        embeddings,
        metadata: PromptMetadata {
            schema_version: SCHEMA_VERSION,
            family,
            base_model: format!("polyprompt-test/{name}"),
            placement: Placement::Prefix,
            task: Task::Sib200,
            label_words: Task::Sib200.labels(family).words,
            training: serde_json::Value::Null,
            results: serde_json::Value::Null,
        },
    };
    (file.to_safetensors(), file.peft_config_json(&config))
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn peft_loads_our_prefix_prompt_and_gets_the_reference_logits() {
    for (family, name) in [(Family::Xglm, "tiny-xglm"), (Family::Bloom, "tiny-bloom")] {
        let (weights, config) = export(family, name);
        let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/peft-export").join(name);
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("adapter_model.safetensors"), &weights).unwrap();
        std::fs::write(out.join("adapter_config.json"), &config).unwrap();

        let record = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name).join("peft_import.json");
        let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
        let stale = "our export changed since PEFT loaded it: run `tools/make_fixtures peft-import`";
        assert_eq!(record["adapter_model_sha256"], sha256(&weights), "{name}: {stale}");
        assert_eq!(record["adapter_config_sha256"], sha256(config.as_bytes()), "{name}: {stale}");
        assert_eq!(record["loaded_prompt_equals_file"], true, "{name}");
        let diff = record["max_abs_diff_vs_reference_peft_logits"].as_f64().unwrap();
        assert!(diff <= 1e-5, "{name}: PEFT with our file differs from the reference by {diff}");
    }
}
