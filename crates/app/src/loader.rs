//! Getting a model's files (three, or one .gguf) into memory: from the Hugging Face Hub, a same-origin
//! `models/{name}/` folder or local files, with progress, cancellation and Cache Storage.
use std::cell::RefCell;

use js_sys::{Reflect, Uint8Array};
use leptos::prelude::Set;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Cache, File, ReadableStreamDefaultReader, Response};

use super::i18n::{tr, trf};
use super::state::{AppState, LoadStatus, Progress};

/// The name of the Cache Storage bucket that keeps downloaded model files.
const CACHE_NAME: &str = "attention-explorer-models-v1";
/// The three files every model needs.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];
/// The offline models the set-up places in `models/`, best first: SmolLM2 (a decoder that
/// predicts, samples and explains), then all-MiniLM-L6-v2 (attention only).
pub const OFFLINE_MODELS: [&str; 2] = ["SmolLM2-135M-Instruct", "all-MiniLM-L6-v2"];

/// The best offline model among `hosted` (the folder names in models/index.json); the first of
/// [`OFFLINE_MODELS`] when none is listed.
pub fn best_offline_model(hosted: &[String]) -> &'static str {
    OFFLINE_MODELS
        .into_iter()
        .find(|name| hosted.iter().any(|h| h == name))
        .unwrap_or(OFFLINE_MODELS[0])
}

thread_local! {
    static DOWNLOAD: RefCell<Option<AbortController>> = const { RefCell::new(None) };
}

/// Where a model comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSource {
    /// A Hugging Face Hub repository at a revision.
    Hub { repo: String, revision: String },
    /// A same-origin folder `models/{name}/`.
    Folder(String),
}

impl ModelSource {
    /// The URL of one of the model's files (relative URLs keep the site working from any sub-path).
    pub fn url(&self, file: &str) -> String {
        match self {
            ModelSource::Hub { repo, revision } => {
                format!("https://huggingface.co/{repo}/resolve/{revision}/{file}")
            }
            ModelSource::Folder(name) => format!("models/{name}/{file}"),
        }
    }

    /// How the source is shown.
    pub fn label(&self) -> String {
        match self {
            ModelSource::Hub { repo, revision } if revision == "main" => {
                format!("Hugging Face Hub: {repo}")
            }
            ModelSource::Hub { repo, revision } => format!("Hugging Face Hub: {repo} @ {revision}"),
            ModelSource::Folder(name) => trf("loader.folder", &[("name", name)]),
        }
    }
}

/// A model's files. The weights stay in JS memory (the page's wasm never holds them); the
/// worker copies them tensor by tensor into its own.
pub struct ModelFiles {
    pub config: Vec<u8>,
    pub tokenizer: Vec<u8>,
    pub model: Uint8Array,
}

/// Why a download failed.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchError {
    /// The server could not be reached at all (offline, blocked, DNS).
    Unreachable(String),
    /// The user cancelled.
    Cancelled,
    /// Anything else, with a message for the user.
    Failed(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Unreachable(url) => {
                write!(f, "{}", trf("loader.unreachable", &[("url", url)]))
            }
            FetchError::Cancelled => write!(f, "{}", tr("loader.cancelled")),
            FetchError::Failed(message) => write!(f, "{message}"),
        }
    }
}

fn js_message(value: &JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}

/// Seconds on the page's monotonic clock (`performance.now()`).
pub(crate) fn now_seconds() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now() / 1000.0)
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
    let buffer = JsFuture::from(
        response
            .array_buffer()
            .map_err(|e| FetchError::Failed(js_message(&e)))?,
    )
    .await
    .map_err(|e| FetchError::Failed(js_message(&e)))?;
    Ok(Uint8Array::new(&buffer))
}

/// Downloads one file with progress, or reads it from Cache Storage. Only a complete download
/// is cached.
async fn fetch_file(
    url: &str,
    file: &str,
    state: AppState,
    signal: &web_sys::AbortSignal,
) -> Result<Uint8Array, FetchError> {
    let cache = open_cache().await;
    if let Some(cache) = &cache {
        if let Ok(hit) = JsFuture::from(cache.match_with_str(url)).await {
            if let Ok(response) = hit.dyn_into::<Response>() {
                state.load.set(LoadStatus::Downloading(Progress {
                    file: trf("loader.from_cache", &[("file", &file)]),
                    loaded: 0.0,
                    total: None,
                    elapsed: 0.0,
                }));
                return response_bytes(&response).await;
            }
        }
    }
    let window = web_sys::window().ok_or_else(|| FetchError::Failed(tr("loader.no_window")))?;
    let init = web_sys::RequestInit::new();
    init.set_signal(Some(signal));
    let response: Response = match JsFuture::from(window.fetch_with_str_and_init(url, &init)).await
    {
        Ok(response) => response
            .dyn_into()
            .map_err(|_| FetchError::Failed(tr("loader.no_response")))?,
        Err(_) if signal.aborted() => return Err(FetchError::Cancelled),
        Err(_) => return Err(FetchError::Unreachable(url.to_string())),
    };
    if !response.ok() {
        if response.status() == 404 {
            return Err(FetchError::Failed(trf("loader.http_404", &[("url", &url)])));
        }
        return Err(FetchError::Failed(trf(
            "loader.http",
            &[
                ("url", &url),
                (
                    "status",
                    &format!("{} {}", response.status(), response.status_text()),
                ),
            ],
        )));
    }
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
        .ok_or_else(|| FetchError::Failed(trf("loader.no_body", &[("url", &url)])))?;
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let started = now_seconds();
    let mut chunks: Vec<Uint8Array> = Vec::new();
    let mut loaded = 0u32;
    let mut last_report = 0.0;
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(|e| {
            if signal.aborted() {
                FetchError::Cancelled
            } else {
                FetchError::Failed(trf(
                    "loader.broke_off",
                    &[("file", &file), ("message", &js_message(&e))],
                ))
            }
        })?;
        if Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true)
        {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into())
            .map_err(|e| FetchError::Failed(js_message(&e)))?
            .unchecked_into();
        loaded = loaded.saturating_add(value.length());
        chunks.push(value);
        let now = now_seconds();
        if now - last_report > 0.1 {
            last_report = now;
            state.load.set(LoadStatus::Downloading(Progress {
                file: file.to_string(),
                loaded: f64::from(loaded),
                total,
                elapsed: now - started,
            }));
        }
    }
    if let Some(total) = total {
        if f64::from(loaded) != total {
            return Err(FetchError::Failed(trf(
                "loader.incomplete",
                &[("file", &file), ("loaded", &loaded), ("total", &total)],
            )));
        }
    }
    // One buffer in JS memory, filled chunk by chunk.
    let bytes = Uint8Array::new_with_length(loaded);
    let mut offset = 0;
    for chunk in chunks {
        bytes.set(&chunk, offset);
        offset += chunk.length();
    }
    state.load.set(LoadStatus::Downloading(Progress {
        file: file.to_string(),
        loaded: f64::from(loaded),
        total,
        elapsed: now_seconds() - started,
    }));
    if let Some(cache) = &cache {
        if let Ok(copy) = Response::new_with_opt_buffer_source(Some(&bytes)) {
            // Caching is an optimisation: a full disk must not fail the load.
            let _ = JsFuture::from(cache.put_with_str(url, &copy)).await;
        }
    }
    Ok(bytes)
}

/// The GGUF file a hosted folder's config.json points to (`"gguf_file": "model.gguf"`), if any:
/// such a folder holds one .gguf file with its own numbers and tokenizer instead of the usual
/// tokenizer.json and model.safetensors.
pub fn gguf_file_named_in(config_json: &[u8]) -> Option<String> {
    let config: serde_json::Value = serde_json::from_slice(config_json).ok()?;
    let name = config.get("gguf_file")?.as_str()?;
    (name.ends_with(".gguf") && !name.contains('/') && !name.contains(".."))
        .then(|| name.to_string())
}

/// Fetches a model's files: config.json, then tokenizer.json and model.safetensors — or the
/// .gguf file config.json names. A new call cancels a download still running.
pub async fn fetch_model(source: &ModelSource, state: AppState) -> Result<ModelFiles, FetchError> {
    cancel_download();
    let controller = AbortController::new().map_err(|e| FetchError::Failed(js_message(&e)))?;
    let signal = controller.signal();
    DOWNLOAD.with(|d| *d.borrow_mut() = Some(controller));
    let [config_name, tokenizer_name, weights_name] = MODEL_FILES;
    let config = fetch_file(&source.url(config_name), config_name, state, &signal)
        .await?
        .to_vec();
    let (tokenizer, model) = match gguf_file_named_in(&config) {
        Some(gguf) => (
            Vec::new(),
            fetch_file(&source.url(&gguf), &gguf, state, &signal).await?,
        ),
        None => (
            fetch_file(&source.url(tokenizer_name), tokenizer_name, state, &signal)
                .await?
                .to_vec(),
            fetch_file(&source.url(weights_name), weights_name, state, &signal).await?,
        ),
    };
    DOWNLOAD.with(|d| *d.borrow_mut() = None);
    Ok(ModelFiles {
        config,
        tokenizer,
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
/// tokenizer.json and a .safetensors file.
pub async fn read_local_files(files: Vec<File>) -> Result<ModelFiles, String> {
    let find = |wanted: &dyn Fn(&str) -> bool| files.iter().find(|f| wanted(&f.name())).cloned();
    let missing = |name: &str| trf("loader.missing_file", &[("file", &name)]);
    let read = |file: File| async move {
        let buffer = JsFuture::from(file.array_buffer()).await.map_err(|e| {
            trf(
                "loader.cannot_read",
                &[("file", &file.name()), ("message", &js_message(&e))],
            )
        })?;
        Ok::<Uint8Array, String>(Uint8Array::new(&buffer))
    };
    if let Some(gguf) = find(&|n| n.ends_with(".gguf")) {
        return Ok(ModelFiles {
            config: Vec::new(),
            tokenizer: Vec::new(),
            model: read(gguf).await?,
        });
    }
    let config = find(&|n| n == "config.json").ok_or_else(|| missing("config.json"))?;
    let tokenizer = find(&|n| n == "tokenizer.json").ok_or_else(|| missing("tokenizer.json"))?;
    let model = find(&|n| n.ends_with(".safetensors")).ok_or_else(|| missing(".safetensors"))?;
    Ok(ModelFiles {
        config: read(config).await?.to_vec(),
        tokenizer: read(tokenizer).await?.to_vec(),
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
    for file in MODEL_FILES.iter().chain(&["model.gguf"]) {
        let _ = JsFuture::from(cache.delete_with_str(&source.url(file))).await;
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
    let Some(window) = web_sys::window() else {
        return Vec::new();
    };
    let Ok(response) = JsFuture::from(window.fetch_with_str("models/index.json")).await else {
        return Vec::new();
    };
    let Ok(response) = response.dyn_into::<Response>() else {
        return Vec::new();
    };
    if !response.ok() {
        return Vec::new();
    }
    let Ok(bytes) = response_bytes(&response).await else {
        return Vec::new();
    };
    serde_json::from_slice(&bytes.to_vec()).unwrap_or_default()
}
