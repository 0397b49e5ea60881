//! Downloads with progress, kept in the browser's Cache Storage so a reload does not fetch again. Each
//! stored file has a record of its length and SHA-256 beside it; a cached copy that no longer matches (a
//! write cut off, a file changed on disk) is dropped and downloaded again, and the progress row says so.
//! A file is fetched under a Web Lock named for its URL: another tab of the app that wants the same file at
//! the same time waits, then reads the copy this one stored, rather than downloading it twice.
use futures::FutureExt;
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, ReadableStreamDefaultReader, Response};

use super::{inventory, offline};

/// One Cache Storage bucket for every model and data file, so "clear cache" has one thing to delete.
pub const CACHE_NAME: &str = "polyprompt-v1";

/// Where a download stands, for a progress bar.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    pub received: u64,
    /// From `Content-Length`; unknown for compressed or chunked responses.
    pub total: Option<u64>,
    pub bytes_per_second: f64,
    pub from_cache: bool,
    /// Why the file is being downloaded again: its cached copy was damaged.
    pub note: Option<String>,
}

impl Progress {
    pub fn fraction(&self) -> Option<f64> {
        self.total.filter(|&t| t > 0).map(|t| self.received as f64 / t as f64)
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DownloadError {
    #[error("could not reach {url} ({detail}): check the address and your connection, then try again")]
    Network { url: String, detail: String },
    #[error("{url} answered {status}{hint}")]
    Status { url: String, status: u16, hint: &'static str },
    #[error("the download of {url} broke off after {received} bytes ({detail}): try again")]
    Interrupted { url: String, received: u64, detail: String },
}

/// Fetches `url`, from Cache Storage when it is there and intact, reporting progress; stores what it
/// fetched with its length and SHA-256. A cache that cannot be opened or written (private mode, quota
/// full) only costs the caching. The bytes stay in JavaScript memory (see [`FileBytes`]); small files are
/// copied out with `to_vec`.
pub async fn fetch_cached(url: &str, on_progress: &dyn Fn(Progress)) -> Result<FileBytes, DownloadError> {
    let cache = open_cache().await;
    let lock = lock_download(url, on_progress).await;
    let mut damaged = None;
    if let Some(cache) = &cache
        && let Some(hit) = cached_response(cache, url).await
    {
        let header_length = content_length(&hit);
        let read = read_body(url, hit, &|mut p| {
            p.from_cache = true;
            on_progress(p)
        })
        .await;
        match read {
            Ok(bytes) => match check_cached(cache, url, &bytes, header_length).await {
                Ok(()) => return Ok(bytes),
                Err(reason) => damaged = Some(reason),
            },
            Err(error) => damaged = Some(error.to_string()),
        }
        web_sys::console::warn_1(&format!("dropped a damaged cached copy of {url}: {damaged:?}").into());
        let _ = JsFuture::from(cache.delete_with_str(url)).await;
        let _ = JsFuture::from(cache.delete_with_str(&record_key(url))).await;
    }
    let gone = cache.is_some() && damaged.is_none() && inventory::cached().iter().any(|u| u == url);
    let note = match damaged {
        Some(reason) => Some(format!("its cached copy was damaged ({reason}), so it is downloaded again")),
        None if gone => Some(GONE_NOTE.to_string()),
        None => None,
    };
    inventory::forget_cached(url);
    let on_progress = |mut p: Progress| {
        p.note = note.clone();
        on_progress(p)
    };
    let network = |detail: JsValue| DownloadError::Network { url: url.into(), detail: js_message(&detail) };
    let window = web_sys::window().expect("a browser window");
    let response: Response = JsFuture::from(window.fetch_with_str(url)).await.map_err(network)?.unchecked_into();
    if !response.ok() {
        let hint = match response.status() {
            404 => ": no such file — check the model id, revision and file name",
            401 | 403 => {
                ": access denied — the repository may be private or gated; download it and pick the files locally"
            }
            _ => ": the server failed — try again later",
        };
        return Err(DownloadError::Status { url: url.into(), status: response.status(), hint });
    }
    // Cache a tee of the stream while reading the other half: one network read, no second copy here.
    let put = cache.as_ref().zip(response.clone().ok()).map(|(cache, copy)| cache.put_with_str(url, &copy));
    let bytes = read_body(url, response, &on_progress).await?;
    if let (Some(cache), Some(put)) = (cache, put) {
        // Hashed now: the caller may transfer the buffer away.
        let record =
            StoredRecord { length: bytes.len(), piece_bytes: PIECE_BYTES, sha256_of_pieces: sha256s(&bytes).await };
        let url = url.to_string();
        // The lock is held until the file and its record are stored, so a waiting tab finds both.
        wasm_bindgen_futures::spawn_local(async move {
            match JsFuture::from(put).await {
                // The record only once the file itself is stored.
                Ok(_) => match store_record(&cache, &url, &record).await {
                    Ok(()) => {
                        inventory::remember_cached(&url);
                        offline::ask_to_persist().await;
                    }
                    Err(e) => {
                        web_sys::console::warn_1(&format!("no integrity record for {url}: {}", js_message(&e)).into())
                    }
                },
                Err(e) => web_sys::console::warn_1(&format!("not cached (storage full?): {}", js_message(&e)).into()),
            }
            drop(lock);
        });
    }
    Ok(bytes)
}

/// Why a file the app had cached is downloaded again, when its copy has vanished.
const GONE_NOTE: &str =
    "its cached copy is gone (the browser's storage for this site was cleared or evicted), so it is downloaded again";

/// The files the app had stored in Cache Storage that are no longer there (the site's data was cleared, or
/// the browser evicted it); they are forgotten from here on.
pub async fn gone_from_cache() -> Vec<String> {
    let Some(cache) = open_cache().await else {
        return Vec::new();
    };
    let mut gone = Vec::new();
    for url in inventory::cached() {
        if cached_response(&cache, &url).await.is_none() {
            inventory::forget_cached(&url);
            gone.push(url);
        }
    }
    gone
}

/// Held while this tab fetches a file; released when dropped.
struct DownloadLock {
    release: Option<js_sys::Function>,
}

impl Drop for DownloadLock {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            let _ = release.call0(&JsValue::NULL);
        }
    }
}

/// The Web Lock for fetching `url`, shared by every tab of the app; the progress row says so when another
/// tab holds it. `None` where the browser has no Web Locks (the fetch goes ahead unlocked).
async fn lock_download(url: &str, on_progress: &dyn Fn(Progress)) -> Option<DownloadLock> {
    let navigator = web_sys::window()?.navigator();
    let locks = Reflect::get(&navigator, &"locks".into()).ok().filter(|l| l.is_object())?;
    let request: js_sys::Function = Reflect::get(&locks, &"request".into()).ok()?.dyn_into().ok()?;
    let (granted, release) = futures::channel::oneshot::channel::<js_sys::Function>();
    // The lock is held until the promise the callback returns settles: its `resolve` is the release.
    let on_grant = wasm_bindgen::closure::Closure::once_into_js(move |_lock: JsValue| {
        let mut resolve = None;
        let held = js_sys::Promise::new(&mut |r, _| resolve = Some(r));
        if let Some(resolve) = resolve {
            let _ = granted.send(resolve);
        }
        held
    });
    request.call2(&locks, &format!("polyprompt-download {url}").into(), &on_grant).ok()?;
    let mut release = release.fuse();
    let mut waited = gloo::timers::future::TimeoutFuture::new(300).fuse();
    futures::select! {
        release = release => return release.ok().map(|r| DownloadLock { release: Some(r) }),
        () = waited => {}
    }
    on_progress(Progress {
        received: 0,
        total: None,
        bytes_per_second: 0.0,
        from_cache: false,
        note: Some("another tab of polyprompt is fetching this file: waiting for it, to read its copy".into()),
    });
    release.await.ok().map(|r| DownloadLock { release: Some(r) })
}

/// What was known of a cached file when it was stored. A record written before files came in pieces has
/// neither `piece_bytes` nor `sha256_of_pieces`: only its length is checked.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct StoredRecord {
    length: u64,
    #[serde(default)]
    piece_bytes: u32,
    /// The SHA-256 of each piece of `piece_bytes` (Web Crypto hashes one buffer at a time); empty where the
    /// page could not hash (Web Crypto needs a secure context).
    #[serde(default)]
    sha256_of_pieces: Vec<String>,
}

/// Where a file's record lives in the cache: a URL of its own (a fragment would not do: Cache Storage
/// ignores fragments when it matches).
fn record_key(url: &str) -> String {
    format!("https://polyprompt.invalid/stored?url={}", js_sys::encode_uri_component(url))
}

async fn store_record(cache: &Cache, url: &str, record: &StoredRecord) -> Result<(), JsValue> {
    let text = serde_json::to_string(record).map_err(|e| JsValue::from_str(&e.to_string()))?;
    let response = Response::new_with_opt_str(Some(&text))?;
    JsFuture::from(cache.put_with_str(&record_key(url), &response)).await.map(|_| ())
}

/// Whether a cached copy is the file that was stored: its record's length and SHA-256, or, for an entry
/// with no record (stored by an earlier version, or the page closed before the record was written), the
/// `Content-Length` it was served with.
async fn check_cached(cache: &Cache, url: &str, bytes: &FileBytes, header_length: Option<u64>) -> Result<(), String> {
    let length = bytes.len();
    let record = match cached_response(cache, &record_key(url)).await {
        Some(response) => match response.text().map(JsFuture::from) {
            Ok(text) => {
                text.await.ok().and_then(|t| t.as_string()).and_then(|t| serde_json::from_str::<StoredRecord>(&t).ok())
            }
            Err(_) => None,
        },
        None => None,
    };
    let expected = record.as_ref().map(|r| r.length).or(header_length);
    if let Some(expected) = expected.filter(|&e| e != length) {
        return Err(format!("{length} of {expected} bytes"));
    }
    if let Some(StoredRecord { piece_bytes: PIECE_BYTES, sha256_of_pieces: stored, .. }) = &record
        && !stored.is_empty()
        && &sha256s(bytes).await != stored
    {
        return Err("its SHA-256 does not match what was stored".into());
    }
    Ok(())
}

/// The SHA-256 of each piece in hex, by the browser's Web Crypto (native speed); empty where it is missing.
async fn sha256s(bytes: &FileBytes) -> Vec<String> {
    let mut digests = Vec::with_capacity(bytes.pieces.len());
    for piece in &bytes.pieces {
        match sha256_hex(piece).await {
            Some(digest) => digests.push(digest),
            None => return Vec::new(),
        }
    }
    digests
}

async fn sha256_hex(bytes: &Uint8Array) -> Option<String> {
    let subtle = web_sys::window()?.crypto().ok()?.subtle();
    let digest = JsFuture::from(subtle.digest_with_str_and_buffer_source("SHA-256", bytes).ok()?).await.ok()?;
    Some(Uint8Array::new(&digest).to_vec().iter().map(|b| format!("{b:02x}")).collect())
}

fn content_length(response: &Response) -> Option<u64> {
    response.headers().get("content-length").ok().flatten().and_then(|v| v.parse().ok())
}

/// Reads a file the user picked, through the same stream reader as downloads (progress, no second copy).
pub async fn read_file(file: &web_sys::File, on_progress: &dyn Fn(Progress)) -> Result<FileBytes, DownloadError> {
    let name = file.name();
    let failed = |e: JsValue| DownloadError::Interrupted { url: name.clone(), received: 0, detail: js_message(&e) };
    // A Response over the file streams it; its length header gives the progress bar its total.
    let init = web_sys::ResponseInit::new();
    let headers = web_sys::Headers::new().map_err(failed)?;
    headers.set("content-length", &file.size().to_string()).map_err(failed)?;
    init.set_headers(&headers);
    let blob: &web_sys::Blob = file;
    let response = Response::new_with_opt_blob_and_init(Some(blob), &init).map_err(failed)?;
    read_body(&name, response, on_progress).await
}

async fn open_cache() -> Option<Cache> {
    let caches = web_sys::window()?.caches().ok()?;
    JsFuture::from(caches.open(CACHE_NAME)).await.ok().map(JsCast::unchecked_into)
}

async fn cached_response(cache: &Cache, url: &str) -> Option<Response> {
    let hit = JsFuture::from(cache.match_with_str(url)).await.ok()?;
    hit.dyn_into::<Response>().ok()
}

/// The most bytes kept in one buffer. Chromium will not post an `ArrayBuffer` of over about 2 GiB to a
/// worker, so a 2.2 GB f32 checkpoint travels as pieces; smaller pieces also keep the copy made while a
/// piece is gathered small.
pub const PIECE_BYTES: u32 = 256 << 20;

/// A file's bytes in JavaScript memory (not wasm memory, which never shrinks once grown), as pieces of
/// [`PIECE_BYTES`] each (the last one shorter), every piece in its own buffer so each can be transferred.
#[derive(Debug)]
pub struct FileBytes {
    pieces: Vec<Uint8Array>,
}

impl FileBytes {
    pub fn len(&self) -> u64 {
        self.pieces.iter().map(|p| u64::from(p.length())).sum()
    }

    /// A copy in wasm memory: for small files (configs, tokenizers, data, prompts).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.len() as usize);
        for piece in &self.pieces {
            bytes.extend(piece.to_vec());
        }
        bytes
    }

    /// The pieces, to be transferred to the worker.
    pub fn into_pieces(self) -> Vec<Uint8Array> {
        self.pieces
    }
}

/// Gathers a stream's chunks into [`FileBytes`]' pieces, cutting at every [`PIECE_BYTES`].
#[derive(Default)]
struct PieceGatherer {
    sealed: Vec<Uint8Array>,
    pending: Vec<Uint8Array>,
    pending_len: u32,
}

impl PieceGatherer {
    fn push(&mut self, mut chunk: Uint8Array) {
        while chunk.length() > 0 {
            let take = (PIECE_BYTES - self.pending_len).min(chunk.length());
            self.pending.push(chunk.subarray(0, take));
            self.pending_len += take;
            chunk = chunk.subarray(take, chunk.length());
            if self.pending_len == PIECE_BYTES {
                self.seal();
            }
        }
    }

    /// Copies the pending chunks into a buffer of the piece's own (a chunk's buffer may be shared with the
    /// next piece, and two pieces sharing one buffer could not both be transferred).
    fn seal(&mut self) {
        let piece = Uint8Array::new_with_length(self.pending_len);
        let mut offset = 0;
        for chunk in self.pending.drain(..) {
            piece.set(&chunk, offset);
            offset += chunk.length();
        }
        self.sealed.push(piece);
        self.pending_len = 0;
    }

    fn finish(mut self) -> FileBytes {
        if self.pending_len > 0 {
            self.seal();
        }
        FileBytes { pieces: self.sealed }
    }
}

/// Reads a response's body with progress into [`FileBytes`].
async fn read_body(url: &str, response: Response, on_progress: &dyn Fn(Progress)) -> Result<FileBytes, DownloadError> {
    let total = content_length(&response);
    let started = now_ms();
    let mut last_report = f64::NEG_INFINITY;
    let broke = |received: u64, detail: String| DownloadError::Interrupted { url: url.into(), received, detail };
    let mut gathered = PieceGatherer::default();
    let mut received: u64 = 0;
    let Some(body) = response.body() else {
        return Ok(gathered.finish());
    };
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(|e| broke(received, js_message(&e)))?;
        let done = Reflect::get(&chunk, &"done".into()).map(|d| d.is_truthy()).unwrap_or(true);
        if done {
            break;
        }
        let value: Uint8Array =
            Reflect::get(&chunk, &"value".into()).map_err(|e| broke(received, js_message(&e)))?.unchecked_into();
        received += u64::from(value.length());
        gathered.push(value);
        // A gigabyte arrives in ~16k chunks: redraw progress a few times a second, not per chunk.
        if now_ms() - last_report >= 100.0 {
            last_report = now_ms();
            report(received, total, started, on_progress);
        }
    }
    report(received, total, started, on_progress);
    Ok(gathered.finish())
}

fn report(received: u64, total: Option<u64>, started: f64, on_progress: &dyn Fn(Progress)) {
    let seconds = ((now_ms() - started) / 1000.0).max(1e-3);
    on_progress(Progress {
        received,
        total,
        bytes_per_second: received as f64 / seconds,
        from_cache: false,
        note: None,
    });
}

fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

/// The message of a JS error value, or its debug form.
pub fn js_message(value: &JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}
