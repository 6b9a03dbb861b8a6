//! Getting a model's files into memory: downloads with progress (reported through a callback,
//! so this module writes no state), cancellation, Cache Storage, and files the user picks.
//! It knows nothing of the page beyond the string tables.
use std::cell::RefCell;

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Cache, File, ReadableStreamDefaultReader, Response};

use crate::client::ModelFiles;
use crate::clock::now_ms;
use crate::i18n::tr;
use crate::integrity::{
    hex, lfs_pointer_digest, parse_hosted_index, sha256_of_etags, FileDigest, HostedIndex,
};
use crate::sources::{
    gguf_file_named_in, ships_sentencepiece, FetchError, ModelSource, Progress, MODEL_FILES,
};
use ae_messages::TARGET_TOKENIZER_FILE;

/// The name of the Cache Storage bucket that keeps downloaded model files.
const CACHE_NAME: &str = "attention-explorer-models-v1";

thread_local! {
    static DOWNLOAD: RefCell<Option<AbortController>> = const { RefCell::new(None) };
}

fn js_message(value: &JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}

fn browser(value: JsValue) -> FetchError {
    FetchError::Browser(js_message(&value))
}

async fn open_cache() -> Option<Cache> {
    let caches = web_sys::window()?.caches().ok()?;
    JsFuture::from(caches.open(CACHE_NAME))
        .await
        .ok()?
        .dyn_into()
        .ok()
}

async fn response_bytes(response: &Response) -> Result<Uint8Array, FetchError> {
    let buffer = JsFuture::from(response.array_buffer().map_err(browser)?)
        .await
        .map_err(browser)?;
    Ok(Uint8Array::new(&buffer))
}

/// The file from Cache Storage, if it is there.
async fn cached_file(cache: &Cache, url: &str) -> Option<Response> {
    let hit = JsFuture::from(cache.match_with_str(url)).await.ok()?;
    hit.dyn_into::<Response>().ok()
}

/// Starts the download of `url`, checking the answer's status.
async fn start_download(url: &str, signal: &web_sys::AbortSignal) -> Result<Response, FetchError> {
    let window = web_sys::window().ok_or_else(|| FetchError::Browser(tr("loader.no_window")))?;
    let init = web_sys::RequestInit::new();
    init.set_signal(Some(signal));
    let response: Response = match JsFuture::from(window.fetch_with_str_and_init(url, &init)).await
    {
        Ok(response) => response
            .dyn_into()
            .map_err(|_| FetchError::Browser(tr("loader.no_response")))?,
        Err(_) if signal.aborted() => return Err(FetchError::Cancelled),
        Err(_) => return Err(FetchError::Unreachable(url.to_string())),
    };
    match response.status() {
        _ if response.ok() => Ok(response),
        404 => Err(FetchError::NotFound { url: url.into() }),
        status => Err(FetchError::Http {
            url: url.into(),
            status: format!("{status} {}", response.status_text()),
        }),
    }
}

/// A small text file of this site (a lesson), not cached: a teacher's edit shows on reload.
pub async fn fetch_text(url: &str) -> Result<String, FetchError> {
    let controller = AbortController::new().map_err(browser)?;
    let response = start_download(url, &controller.signal()).await?;
    let bytes = response_bytes(&response).await?;
    Ok(String::from_utf8_lossy(&bytes.to_vec()).into_owned())
}

/// Reads a download's body chunk by chunk, reporting progress at most every 0.1 s, into one
/// buffer in JS memory.
async fn read_body(
    response: &Response,
    url: &str,
    file: &str,
    signal: &web_sys::AbortSignal,
    progress: &dyn Fn(Progress),
) -> Result<Uint8Array, FetchError> {
    let headers = response.headers();
    let encoded = headers.get("content-encoding").ok().flatten().is_some();
    let total = headers
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|_| !encoded);
    let body = response
        .body()
        .ok_or_else(|| FetchError::NoBody { url: url.into() })?;
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let started_ms = now_ms();
    let report = |loaded: u32| {
        progress(Progress {
            file: file.to_string(),
            from_cache: false,
            loaded: f64::from(loaded),
            total,
            elapsed: (now_ms() - started_ms) / 1000.0,
        })
    };
    let mut chunks: Vec<Uint8Array> = Vec::new();
    let (mut loaded, mut last_report_ms) = (0u32, 0.0);
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(|e| {
            if signal.aborted() {
                FetchError::Cancelled
            } else {
                FetchError::BrokeOff {
                    file: file.into(),
                    message: js_message(&e),
                }
            }
        })?;
        let done = Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|d| d.as_bool());
        if done.unwrap_or(true) {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into())
            .map_err(browser)?
            .unchecked_into();
        loaded = loaded.saturating_add(value.length());
        chunks.push(value);
        if now_ms() - last_report_ms > 100.0 {
            last_report_ms = now_ms();
            report(loaded);
        }
    }
    if let Some(total) = total.filter(|&total| f64::from(loaded) != total) {
        return Err(FetchError::Incomplete {
            file: file.into(),
            loaded,
            total,
        });
    }
    let bytes = Uint8Array::new_with_length(loaded);
    let mut offset = 0;
    for chunk in chunks {
        bytes.set(&chunk, offset);
        offset += chunk.length();
    }
    report(loaded);
    Ok(bytes)
}

/// Where the SHA-256 a file must have is published, if anywhere.
enum Published<'a> {
    /// This site's `models/index.json` (no digest: an index without them, or none at all).
    Listed(Option<&'a FileDigest>),
    /// The Hub: the resolve answer's ETags, else the Git LFS pointer at this URL.
    Hub { pointer_url: String },
}

/// The lowercase hex SHA-256 of `bytes`, by the browser's own crypto; `None` where it has none
/// (a page served over plain http from another computer is not a secure context).
async fn sha256(bytes: &Uint8Array) -> Option<String> {
    let subtle = web_sys::window()?.crypto().ok()?.subtle();
    if subtle.is_undefined() {
        return None;
    }
    let promise = subtle
        .digest_with_str_and_js_u8_array("SHA-256", bytes)
        .ok()?;
    let digest = JsFuture::from(promise).await.ok()?;
    Some(hex(&Uint8Array::new(&digest).to_vec()))
}

/// Refuses `bytes` unless their SHA-256 is `expected` (not checked where the browser cannot).
async fn check(file: &str, bytes: &Uint8Array, expected: &str) -> Result<(), FetchError> {
    match sha256(bytes).await {
        Some(found) if found != expected => Err(FetchError::Mismatch {
            file: file.into(),
            expected: expected.into(),
            found,
        }),
        Some(_) => Ok(()),
        None => {
            // For developers: where the page is not a secure context, downloads go unchecked.
            web_sys::console::warn_1(
                &format!("{file}: crypto.subtle missing, SHA-256 unchecked").into(),
            );
            Ok(())
        }
    }
}

/// The header a cached copy keeps the SHA-256 it was checked against in.
const VERIFIED_SHA256: &str = "x-verified-sha256";

/// A response to cache holding `bytes`, with the SHA-256 they were checked against, if any.
fn cacheable(bytes: &Uint8Array, verified: Option<&str>) -> Result<Response, JsValue> {
    let init = web_sys::ResponseInit::new();
    let headers = web_sys::Headers::new()?;
    if let Some(digest) = verified {
        headers.set(VERIFIED_SHA256, digest)?;
    }
    init.set_headers(&headers);
    Response::new_with_opt_buffer_source_and_init(Some(bytes), &init)
}

/// The digest of a Hub file's Git LFS pointer, if it is an LFS file and the pointer comes.
async fn hub_pointer_digest(pointer_url: &str, signal: &web_sys::AbortSignal) -> Option<String> {
    let response = start_download(pointer_url, signal).await.ok()?;
    let text = response_bytes(&response).await.ok()?.to_vec();
    lfs_pointer_digest(std::str::from_utf8(&text).ok()?).map(|d| d.sha256)
}

/// The cached copy of `url`, if there is one and it is the file `published` lists: a copy the
/// index no longer lists (an older deployment's) is dropped.
async fn cached_copy(cache: &Cache, url: &str, published: &Published<'_>) -> Option<Uint8Array> {
    let response = cached_file(cache, url).await?;
    let verified = response.headers().get(VERIFIED_SHA256).ok().flatten();
    let bytes = response_bytes(&response).await.ok()?;
    if let Published::Listed(Some(digest)) = published {
        // A copy cached with the digest it was checked against, when that is still the listed
        // one, is not hashed again (a 500 MB model takes most of a second).
        if verified.as_deref() == Some(digest.sha256.as_str()) {
            return Some(bytes);
        }
        if check(url, &bytes, &digest.sha256).await.is_err() {
            let _ = JsFuture::from(cache.delete_with_str(url)).await;
            return None;
        }
    }
    Some(bytes)
}

/// Downloads one file with progress, or reads it from Cache Storage. Only a complete download
/// whose SHA-256 is the published one (where one is) is kept and cached.
async fn fetch_file(
    url: &str,
    file: &str,
    published: Published<'_>,
    signal: &web_sys::AbortSignal,
    progress: &dyn Fn(Progress),
) -> Result<Uint8Array, FetchError> {
    let cache = open_cache().await;
    if let Some(cache) = &cache {
        if let Some(bytes) = cached_copy(cache, url, &published).await {
            progress(Progress {
                file: file.to_string(),
                from_cache: true,
                loaded: 0.0,
                total: None,
                elapsed: 0.0,
            });
            return Ok(bytes);
        }
    }
    let response = start_download(url, signal).await?;
    let header = |name: &str| response.headers().get(name).ok().flatten();
    let in_headers = sha256_of_etags(
        header("x-linked-etag").as_deref(),
        header("etag").as_deref(),
    );
    let bytes = read_body(&response, url, file, signal, progress).await?;
    let expected = match published {
        Published::Listed(digest) => digest.map(|d| d.sha256.clone()),
        Published::Hub { .. } if in_headers.is_some() => in_headers,
        Published::Hub { pointer_url } => hub_pointer_digest(&pointer_url, signal).await,
    };
    if let Some(expected) = &expected {
        check(file, &bytes, expected).await?;
    }
    if let Some(cache) = &cache {
        if let Ok(copy) = cacheable(&bytes, expected.as_deref()) {
            // Caching is an optimisation: a full disk must not fail the load.
            let _ = JsFuture::from(cache.put_with_str(url, &copy)).await;
        }
    }
    Ok(bytes)
}

/// Fetches a model's files: config.json, then tokenizer.json (and a Marian translator's
/// target_tokenizer.json, if there is one) and model.safetensors — or the .gguf file
/// config.json names. A new call cancels a download still running.
pub async fn fetch_model(
    source: &ModelSource,
    progress: &dyn Fn(Progress),
) -> Result<ModelFiles, FetchError> {
    cancel_download();
    let controller = AbortController::new().map_err(browser)?;
    let signal = controller.signal();
    DOWNLOAD.with(|d| *d.borrow_mut() = Some(controller));
    let index = match source {
        ModelSource::Folder(_) => hosted_index().await,
        ModelSource::Hub { .. } => HostedIndex::new(),
    };
    let listed = match source {
        ModelSource::Folder(name) => index.get(name),
        ModelSource::Hub { .. } => None,
    };
    let published = |file: &str| match source.lfs_pointer_url(file) {
        Some(pointer_url) => Published::Hub { pointer_url },
        None => Published::Listed(listed.and_then(|files| files.get(file))),
    };
    let fetch = |file: String| {
        let signal = signal.clone();
        let published = published(&file);
        async move { fetch_file(&source.url(&file), &file, published, &signal, progress).await }
    };
    let [config_name, tokenizer_name, weights_name] = MODEL_FILES;
    let config = fetch(config_name.into()).await?.to_vec();
    let (tokenizer, target_tokenizer, model) = match gguf_file_named_in(&config) {
        Some(gguf) => (Vec::new(), None, fetch(gguf).await?),
        None => {
            let tokenizer = match fetch(tokenizer_name.into()).await {
                Err(FetchError::NotFound { url }) if ships_sentencepiece(&config) => {
                    return Err(FetchError::SentencePieceOnly { url })
                }
                fetched => fetched?.to_vec(),
            };
            // Only a Marian translator has a target side of its own (scripts/host-model.sh
            // writes it); a folder without one cuts targets with tokenizer.json.
            let target_tokenizer = match ships_sentencepiece(&config) {
                true => match fetch(TARGET_TOKENIZER_FILE.into()).await {
                    Err(FetchError::NotFound { .. }) => None,
                    fetched => Some(fetched?.to_vec()),
                },
                false => None,
            };
            (
                tokenizer,
                target_tokenizer,
                fetch(weights_name.into()).await?,
            )
        }
    };
    DOWNLOAD.with(|d| *d.borrow_mut() = None);
    Ok(ModelFiles {
        config,
        tokenizer,
        target_tokenizer,
        model,
    })
}

/// Cancels the download in progress, if any.
pub fn cancel_download() {
    if let Some(controller) = DOWNLOAD.with(|d| d.borrow_mut().take()) {
        controller.abort();
    }
}

/// Reads the files picked or dropped by the user: one .gguf file, or config.json,
/// tokenizer.json and a .safetensors file (and a translator's target_tokenizer.json, if
/// picked).
pub async fn read_local_files(files: Vec<File>) -> Result<ModelFiles, FetchError> {
    let find = |wanted: &dyn Fn(&str) -> bool| files.iter().find(|f| wanted(&f.name())).cloned();
    let missing = |name: &str| FetchError::MissingFile { file: name.into() };
    let read = |file: File| async move {
        let buffer =
            JsFuture::from(file.array_buffer())
                .await
                .map_err(|e| FetchError::CannotRead {
                    file: file.name(),
                    message: js_message(&e),
                })?;
        Ok::<Uint8Array, FetchError>(Uint8Array::new(&buffer))
    };
    if let Some(gguf) = find(&|n| n.ends_with(".gguf")) {
        return Ok(ModelFiles {
            config: Vec::new(),
            tokenizer: Vec::new(),
            target_tokenizer: None,
            model: read(gguf).await?,
        });
    }
    let config = find(&|n| n == "config.json").ok_or_else(|| missing("config.json"))?;
    let tokenizer = find(&|n| n == "tokenizer.json").ok_or_else(|| missing("tokenizer.json"))?;
    let model = find(&|n| n.ends_with(".safetensors")).ok_or_else(|| missing(".safetensors"))?;
    let target_tokenizer = match find(&|n| n == TARGET_TOKENIZER_FILE) {
        Some(file) => Some(read(file).await?.to_vec()),
        None => None,
    };
    Ok(ModelFiles {
        config: read(config).await?.to_vec(),
        tokenizer: read(tokenizer).await?.to_vec(),
        target_tokenizer,
        model: read(model).await?,
    })
}

/// The URLs held in the model cache.
pub async fn cached_urls() -> Vec<String> {
    let Some(cache) = open_cache().await else {
        return Vec::new();
    };
    let Ok(keys) = JsFuture::from(cache.keys()).await else {
        return Vec::new();
    };
    js_sys::Array::from(&keys)
        .iter()
        .filter_map(|request| request.dyn_into::<web_sys::Request>().ok().map(|r| r.url()))
        .collect()
}

/// Drops a source's files from the cache, so that a model that failed to load from them is
/// downloaded afresh next time instead of failing again from a damaged copy.
pub async fn forget_source(source: &ModelSource) {
    let Some(cache) = open_cache().await else {
        return;
    };
    let mut files: Vec<String> = MODEL_FILES.iter().map(|f| f.to_string()).collect();
    files.push(TARGET_TOKENIZER_FILE.to_string());
    // A folder's .gguf file is named in its config.json, which is still in the cache.
    if let Some(config) = cached_file(&cache, &source.url(MODEL_FILES[0])).await {
        if let Ok(bytes) = response_bytes(&config).await {
            files.extend(gguf_file_named_in(&bytes.to_vec()));
        }
    }
    for file in files {
        let _ = JsFuture::from(cache.delete_with_str(&source.url(&file))).await;
    }
}

/// Deletes every cached model file.
pub async fn clear_cache() {
    if let Some(caches) = web_sys::window().and_then(|w| w.caches().ok()) {
        let _ = JsFuture::from(caches.delete(CACHE_NAME)).await;
    }
}

/// The folder models this site hosts, from `models/index.json` (written by the set-up scripts).
pub async fn hosted_models() -> Vec<String> {
    hosted_index().await.into_keys().collect()
}

/// `models/index.json`: the folder models and their files' digests; empty if it cannot be read.
async fn hosted_index() -> HostedIndex {
    let Some(window) = web_sys::window() else {
        return HostedIndex::new();
    };
    let Ok(response) = JsFuture::from(window.fetch_with_str("models/index.json")).await else {
        return HostedIndex::new();
    };
    let Ok(response) = response.dyn_into::<Response>() else {
        return HostedIndex::new();
    };
    if !response.ok() {
        return HostedIndex::new();
    }
    match response_bytes(&response).await {
        Ok(bytes) => parse_hosted_index(&bytes.to_vec()),
        Err(_) => HostedIndex::new(),
    }
}
