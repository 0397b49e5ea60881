//! A share link's fragment (`#pp1.…`: base64url of deflated sizes + metadata + f16 vectors + CRC32).
//! An odd first byte feeds the rest as the fragment; an even one as the payload inside, which the harness
//! checksums, deflates and encodes first, so that mutations reach the size and metadata checks behind
//! the checksum.
#![no_main]
use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use polyprompt::files::prompt_file::PromptFile;

fn wrap(payload: &[u8]) -> String {
    let mut crc = flate2::Crc::new();
    crc.update(payload);
    let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    deflate.write_all(payload).unwrap();
    deflate.write_all(&crc.sum().to_le_bytes()).unwrap();
    format!("pp1.{}", URL_SAFE_NO_PAD.encode(deflate.finish().unwrap()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let fragment = if mode % 2 == 1 { String::from_utf8_lossy(rest).into_owned() } else { wrap(rest) };
    if let Ok(prompt) = PromptFile::from_share_fragment(&fragment) {
        assert_eq!(prompt.embeddings.len(), prompt.length * prompt.hidden);
    }
});
