//! What the fuzz targets share: the tiny fixtures' configs, which a weights or tokenizer file is checked against.
use polyprompt::model::ModelConfig;

const CONFIGS: [&str; 2] = [
    include_str!("../../tests/fixtures/tiny-xglm/config.json"),
    include_str!("../../tests/fixtures/tiny-bloom/config.json"),
];

/// The tiny XGLM's config for an even `selector`, the tiny BLOOM's for an odd one.
pub fn fixture_config(selector: u8) -> ModelConfig {
    ModelConfig::from_json(CONFIGS[usize::from(selector % 2)]).expect("the fixture configs parse")
}
