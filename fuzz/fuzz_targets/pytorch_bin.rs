//! pytorch_model.bin (torch.save's zip) through our native loader: the first byte picks the config, the
//! rest is the file.
#![no_main]
use burn::tensor::Device;
use libfuzzer_sys::fuzz_target;
use polyprompt::model::{self, LoadOptions, WeightsFile};
use polyprompt_fuzz::fixture_config;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, file)) = data.split_first() else { return };
    let config = fixture_config(selector);
    let _ = model::load(&config, WeightsFile::PytorchBin(&file), &Device::flex(), &LoadOptions::default());
});
