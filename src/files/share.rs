//! Share links: the prompt carried in the link itself (`#pp1.…`: deflated metadata and f16 vectors,
//! base64url, with a checksum), a link that points at a hosted prompt file (`#url=…`) for prompts too long
//! for a URL, and share links as QR codes, for projectors. Pure string logic, so the rules (what a link may
//! carry and fetch, from where) are tested natively.
use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use qrcode::bits::Bits;
use qrcode::{Color, EcLevel, QrCode, Version};

use super::prompt_file::{
    MAX_HIDDEN, MAX_PROMPT_LEN, MAX_SHARE_CHARS, PromptFile, PromptFileError, check_shape, crc32, parse_metadata,
};

/// Share links start with this, so other fragments are told apart and the version is visible.
const SHARE_PREFIX: &str = "pp1.";

/// A hosted link's fragment: `url=` then the prompt file's URL, percent-encoded.
const HOSTED_PREFIX: &str = "url=";

/// Hosts that may serve hosted prompt files besides the page's own site: the Hugging Face hub (its
/// `resolve/` links redirect to its CDNs) and GitHub's raw files. index.html's Content-Security-Policy
/// (`connect-src`) allows the same hosts; checking here says so in words before the browser refuses.
pub const HOSTED_HOSTS: [&str; 2] = ["huggingface.co", "raw.githubusercontent.com"];

impl PromptFile {
    /// The prompt and its metadata for a URL fragment: deflated JSON + f16 vectors, base64url.
    pub fn to_share_fragment(&self) -> String {
        let metadata = serde_json::to_vec(&self.metadata).expect("metadata serialises");
        let mut raw = Vec::with_capacity(12 + metadata.len() + 2 * self.embeddings.len());
        raw.extend((self.length as u32).to_le_bytes());
        raw.extend((self.hidden as u32).to_le_bytes());
        raw.extend((metadata.len() as u32).to_le_bytes());
        raw.extend(&metadata);
        raw.extend(self.embeddings.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()));
        // A checksum, so a link altered in transit fails loudly instead of loading other numbers.
        raw.extend(crc32(&raw).to_le_bytes());
        let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        deflate.write_all(&raw).expect("writing to memory");
        format!("{SHARE_PREFIX}{}", URL_SAFE_NO_PAD.encode(deflate.finish().expect("writing to memory")))
    }

    pub fn from_share_fragment(fragment: &str) -> Result<PromptFile, PromptFileError> {
        let fragment = fragment.trim().trim_start_matches('#');
        if fragment.len() > MAX_SHARE_CHARS {
            return Err(PromptFileError::ShareLinkTooLong(fragment.len()));
        }
        let bad = |why: &str| PromptFileError::BadShareLink(why.to_string());
        let body = fragment.strip_prefix(SHARE_PREFIX).ok_or_else(|| bad("unknown prefix"))?;
        let deflated = URL_SAFE_NO_PAD.decode(body).map_err(|_| bad("not base64url"))?;
        // The largest legitimate payload bounds the inflated size: a zip bomb stops there.
        let limit = 12 + (1 << 20) + 2 * MAX_PROMPT_LEN * MAX_HIDDEN;
        let mut raw = Vec::new();
        flate2::read::DeflateDecoder::new(deflated.as_slice())
            .take(limit as u64 + 1)
            .read_to_end(&mut raw)
            .map_err(|_| bad("corrupt compressed data"))?;
        if raw.len() > limit {
            return Err(bad("oversized content"));
        }
        let checked = raw.len().checked_sub(4).ok_or_else(|| bad("truncated"))?;
        let (raw, checksum) = raw.split_at(checked);
        if crc32(raw).to_le_bytes() != checksum {
            return Err(bad("checksum mismatch"));
        }
        let word = |at: usize| -> Result<usize, PromptFileError> {
            let bytes = raw.get(at..at + 4).ok_or_else(|| bad("truncated"))?;
            Ok(u32::from_le_bytes(bytes.try_into().expect("4 bytes")) as usize)
        };
        let (length, hidden, metadata_len) = (word(0)?, word(4)?, word(8)?);
        check_shape(length, hidden)?;
        let metadata_end = 12usize.checked_add(metadata_len).ok_or_else(|| bad("truncated"))?;
        let metadata = raw.get(12..metadata_end).ok_or_else(|| bad("truncated"))?;
        let metadata = parse_metadata(std::str::from_utf8(metadata).map_err(|_| bad("metadata not UTF-8"))?)?;
        let values = &raw[metadata_end..];
        if values.len() != 2 * length * hidden {
            return Err(bad("the vector data does not match the prompt's size"));
        }
        let embeddings = values.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect();
        Ok(PromptFile { length, hidden, embeddings, metadata })
    }
}

/// What a page's link fragment asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum SharedLink {
    /// The prompt itself (`#pp1.…`): nothing to fetch.
    Prompt(PromptFile),
    /// A prompt file to fetch, once the user agrees.
    Hosted(HostedPrompt),
}

/// A checked address of a hosted prompt file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostedPrompt {
    pub url: String,
    /// `scheme://host[:port]`, shown before anything is fetched.
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShareError {
    #[error(transparent)]
    Prompt(#[from] PromptFileError),
    #[error("\"{0}\" is not a web address of a prompt file: give an https:// URL")]
    BadUrl(String),
    #[error(
        "prompt files can be fetched from this page's site, huggingface.co or raw.githubusercontent.com, not \
         from {0}: host the file there, or share the file itself"
    )]
    HostNotAllowed(String),
}

/// Reads a link's fragment (with or without its `#`): a prompt, or a hosted prompt's checked address.
/// `page_origin` is the page's own `scheme://host[:port]`, whose files are always allowed.
pub fn parse_fragment(fragment: &str, page_origin: &str) -> Result<SharedLink, ShareError> {
    let fragment = fragment.trim().trim_start_matches('#');
    match fragment.strip_prefix(HOSTED_PREFIX) {
        Some(encoded) => {
            let url = percent_decode(encoded).ok_or_else(|| ShareError::BadUrl(encoded.to_string()))?;
            Ok(SharedLink::Hosted(HostedPrompt::check(&url, page_origin)?))
        }
        None => Ok(SharedLink::Prompt(PromptFile::from_share_fragment(fragment)?)),
    }
}

impl HostedPrompt {
    /// Accepts `http(s)://host[:port]/path` on the page's own origin, or https on [`HOSTED_HOSTS`].
    pub fn check(url: &str, page_origin: &str) -> Result<HostedPrompt, ShareError> {
        let url = url.trim();
        let bad = || ShareError::BadUrl(url.to_string());
        let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
        let scheme = scheme.to_ascii_lowercase();
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default().to_ascii_lowercase();
        // No `user@host`: `https://huggingface.co@elsewhere/` would point elsewhere than it reads.
        let valid_host = |c: char| c.is_ascii_alphanumeric() || "-.:[]".contains(c);
        if !matches!(scheme.as_str(), "http" | "https") || authority.is_empty() || !authority.chars().all(valid_host) {
            return Err(bad());
        }
        let origin = format!("{scheme}://{authority}");
        let allowed = origin == page_origin.trim_end_matches('/').to_ascii_lowercase()
            || (scheme == "https" && HOSTED_HOSTS.contains(&authority.as_str()));
        if !allowed {
            return Err(ShareError::HostNotAllowed(origin));
        }
        Ok(HostedPrompt { url: url.to_string(), origin })
    }

    /// The fragment of a link to this prompt file (without `#`).
    pub fn fragment(&self) -> String {
        format!("{HOSTED_PREFIX}{}", percent_encode(&self.url))
    }
}

/// `encodeURIComponent`: everything but RFC 3986's unreserved characters as `%XX`.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut input = text.bytes();
    while let Some(b) = input.next() {
        if b == b'%' {
            let hex = [input.next()?, input.next()?];
            bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8(bytes).ok()
}

/// A QR code ready to draw as SVG: `width` modules a side (plus a 4-module quiet zone the viewBox leaves),
/// its dark modules as one path of unit squares, merged along rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QrSvg {
    pub width: usize,
    pub path: String,
}

impl QrSvg {
    /// The smallest version holding `text` in byte mode at error correction level L (screens are clean, and
    /// L fits the longest links: up to 2,953 bytes, version 40). Byte mode throughout, so the size follows from
    /// the length alone; `None` when `text` is longer than any QR code holds.
    pub fn encode(text: &str) -> Option<QrSvg> {
        let code = (1..=40).find_map(|version| {
            let mut bits = Bits::new(Version::Normal(version));
            bits.push_byte_data(text.as_bytes()).ok()?;
            bits.push_terminator(EcLevel::L).ok()?;
            QrCode::with_bits(bits, EcLevel::L).ok()
        })?;
        let width = code.width();
        let colors = code.to_colors();
        let mut path = String::new();
        for (y, row) in colors.chunks(width).enumerate() {
            let mut x = 0;
            while x < width {
                let run = row[x..].iter().take_while(|&&c| c == Color::Dark).count();
                if run > 0 {
                    path.push_str(&format!("M{x} {y}h{run}v1h-{run}z"));
                }
                x += run.max(1);
            }
        }
        Some(QrSvg { width, path })
    }

    /// The SVG `viewBox`, with the quiet zone the standard asks for around the code.
    pub fn view_box(&self) -> String {
        format!("-4 -4 {0} {0}", self.width + 8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "http://127.0.0.1:8080";

    #[test]
    fn hosted_links_round_trip_and_show_their_origin() {
        let url = "https://huggingface.co/someone/prompts/resolve/main/l50 #1.safetensors?download=true";
        let hosted = HostedPrompt::check(url, PAGE).unwrap();
        assert_eq!(hosted.origin, "https://huggingface.co");
        let fragment = hosted.fragment();
        assert!(fragment.starts_with("url=https%3A%2F%2Fhuggingface.co%2F"), "{fragment}");
        assert!(!fragment.contains(['#', ' ', '?']), "{fragment}");
        assert_eq!(parse_fragment(&format!("#{fragment}"), PAGE).unwrap(), SharedLink::Hosted(hosted));
        let own = HostedPrompt::check("http://127.0.0.1:8080/prompts/p.safetensors", PAGE).unwrap();
        assert_eq!(own.origin, PAGE);
    }

    #[test]
    fn hosted_links_are_refused_elsewhere() {
        for url in [
            "https://evil.example/p.safetensors",
            "http://huggingface.co/x",
            "https://huggingface.co@evil.example/x",
            "http://127.0.0.1:9999/p.safetensors",
        ] {
            assert!(
                matches!(HostedPrompt::check(url, PAGE), Err(ShareError::HostNotAllowed(_) | ShareError::BadUrl(_))),
                "{url}"
            );
        }
        for url in ["javascript:alert(1)", "data:text/plain,x", "huggingface.co/x", "https:///x"] {
            assert!(matches!(HostedPrompt::check(url, PAGE), Err(ShareError::BadUrl(_))), "{url}");
        }
        assert!(matches!(parse_fragment("#url=%ZZ", PAGE), Err(ShareError::BadUrl(_))));
        assert!(matches!(parse_fragment("#pp1.tampered", PAGE), Err(ShareError::Prompt(_))));
    }

    #[test]
    fn qr_codes_grow_with_the_link_and_stop_at_version_40() {
        let short = QrSvg::encode("https://example.org/#pp1.abc").unwrap();
        assert_eq!(short.width, 25, "version 2 (21 + 4 modules) for 28 bytes at level L");
        assert!(short.path.starts_with("M0 0h7v1h-7z"), "finder pattern first: {}", &short.path[..40]);
        assert_eq!(short.view_box(), "-4 -4 33 33");
        let long = QrSvg::encode(&"x".repeat(2953)).unwrap();
        assert_eq!(long.width, 177);
        assert_eq!(QrSvg::encode(&"x".repeat(2954)), None);
    }
}
