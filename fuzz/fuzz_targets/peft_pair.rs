//! An imported PEFT pair: `adapter_config.json` (up to the first NUL byte) and `adapter_model.safetensors`
//! (the rest), through the import path the app and CLI use.
#![no_main]
use libfuzzer_sys::fuzz_target;
use polyprompt::files::prompt_file::PromptFile;

fuzz_target!(|data: &[u8]| {
    let (config, safetensors) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (&data[..nul], &data[nul + 1..]),
        None => (data, &[][..]),
    };
    let config = String::from_utf8_lossy(config);
    if let Ok(prompt) = PromptFile::from_files(safetensors, Some(&config)) {
        assert_eq!(prompt.embeddings.len(), prompt.length * prompt.hidden);
    }
});
