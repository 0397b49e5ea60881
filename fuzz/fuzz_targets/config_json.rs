//! config.json: whatever parses must give a config whose size arithmetic cannot overflow.
#![no_main]
use libfuzzer_sys::fuzz_target;
use polyprompt::model::{ModelConfig, WeightDtype};

fuzz_target!(|data: &[u8]| {
    if let Ok(config) = ModelConfig::from_json(&String::from_utf8_lossy(data)) {
        for dtype in WeightDtype::ALL {
            let size = config.size_estimate(dtype);
            for on_gpu in [false, true] {
                config.browser_memory_bytes(dtype, on_gpu, size.download_bytes);
            }
        }
        config.total_params();
        config.largest_layer_buffer();
    }
});
