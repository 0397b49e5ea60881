//! Sharing beyond the prompt carried in the link itself (`prompt_file`'s `#pp1.…`): a link that points at a
//! hosted prompt file (`#url=…`), for prompts too long for a URL, and share links as QR codes, for projectors.
//! Pure string logic, so the rules (what a link may fetch, from where) are tested natively.
use qrcode::bits::Bits;
use qrcode::{Color, EcLevel, QrCode, Version};

use crate::prompt_file::{PromptFile, PromptFileError};

/// A hosted link's fragment: `url=` then the prompt file's URL, percent-encoded.
const HOSTED_PREFIX: &str = "url=";

/// Hosts that may serve hosted prompt files besides the page's own site: the Hugging Face hub (its
/// `resolve/` links redirect to its CDNs) and GitHub's raw files. index.html's Content-Security-Policy
/// (`connect-src`) allows the same hosts; checking here says so in words before the browser refuses.
pub const HOSTED_HOSTS: [&str; 2] = ["huggingface.co", "raw.githubusercontent.com"];

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
        for url in ["https://evil.example/p.safetensors", "http://huggingface.co/x", "https://huggingface.co@evil.example/x",
            "http://127.0.0.1:9999/p.safetensors"]
        {
            assert!(matches!(HostedPrompt::check(url, PAGE), Err(ShareError::HostNotAllowed(_) | ShareError::BadUrl(_))), "{url}");
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
