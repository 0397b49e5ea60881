//! Our single prompt file (PEFT's safetensors with our metadata in the header).
#![no_main]
use libfuzzer_sys::fuzz_target;
use polyprompt::files::prompt_file::PromptFile;

fuzz_target!(|data: &[u8]| {
    if let Ok(prompt) = PromptFile::from_safetensors(data) {
        assert_eq!(prompt.embeddings.len(), prompt.length * prompt.hidden);
    }
});
