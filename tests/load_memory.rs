//! Loading reads a checkpoint one tensor at a time, and converts the token table a block of rows at a time:
//! what a browser tab depends on to load a 2.2 GB f32 checkpoint of a 560M model as int8 within its memory.
//! One test in this binary: the allocation counter is process-wide.
use std::alloc::System;

use burn::tensor::Device;
use polyprompt::model::{self, LoadOptions, ModelConfig, Resize, WeightDtype};
use polyprompt::tuning::bench::CountingAlloc;

#[global_allocator]
static ALLOC: CountingAlloc<System> = CountingAlloc::new(System);

#[test]
fn an_f32_checkpoint_loads_as_int8_without_ever_holding_its_table_in_f32() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny-bloom/config.json");
    // A 128 MiB f32 token table (524288 × 64) and one small layer.
    let resize = Resize { vocab_size: Some(1 << 19), layers: Some(1), ..Resize::default() };
    let config_json = ModelConfig::resized_json(&std::fs::read_to_string(fixture).unwrap(), resize).unwrap();
    let config = ModelConfig::from_json(&config_json).unwrap();
    let dir = std::env::temp_dir().join(format!("polyprompt-load-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.json"), &config_json).unwrap();
    std::fs::write(dir.join("model.safetensors"), model::random_checkpoint(&config, WeightDtype::F32, 1)).unwrap();
    let table_f32 = 4 * config.embedding_params() as usize;

    let before = ALLOC.live();
    ALLOC.reset_peak();
    let options = LoadOptions { dtype: Some(WeightDtype::Int8), ..LoadOptions::default() };
    let model = model::load_dir(&dir, &Device::flex(), &options).unwrap();
    let (held, transient) = (ALLOC.live() - before, ALLOC.peak() - ALLOC.live());
    eprintln!("f32 table {table_f32} bytes; the int8 model holds {held}, loading peaked {transient} above it");
    assert!(held < table_f32, "the int8 model holds {held} bytes, the f32 table is {table_f32}");
    // Besides the model, loading holds a 4 MiB block of the file and its f32 values, and the head's upload
    // buffer (one chunk of the int8 table); reading the table whole would take two f32 tables more.
    assert!(transient < table_f32 / 2, "loading held {transient} bytes beyond the model: the table was read whole");
    drop(model);
    std::fs::remove_dir_all(dir).unwrap();
}
