//! One SIB-200 split's TSV.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = polyprompt::task::sib200::parse_tsv(data, "fuzz.tsv");
});
