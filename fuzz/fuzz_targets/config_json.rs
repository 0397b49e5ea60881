//! config.json: whatever parses must give a config whose size arithmetic cannot overflow.
#![no_main]
use libfuzzer_sys::fuzz_target;
use polyprompt::model::{ModelConfig, WeightDtype};

fuzz_target!(|data: &[u8]| {
    if let Ok(config) = ModelConfig::from_json(&String::from_utf8_lossy(data)) {
        for dtype in WeightDtype::ALL {
            let size = config.size_estimate(dtype);
            config.browser_memory_bytes(dtype, size.download_bytes, false);
        }
        config.total_params();
        config.largest_layer_buffer();
    }
});
