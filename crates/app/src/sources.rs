//! Where models come from, as plain values: the Hub, this site's `models/` folder, the default
//! and the offline choices, how a source is written in a link, and how fetching its files goes
//! (progress, errors). A leaf: the state and the loader both read it. Tested natively.
use crate::i18n::{tr, trf};

/// The three files every safetensors model needs.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];
/// The offline models the set-up places in `models/`, best first: SmolLM2 (a decoder that
/// predicts, samples and explains), then all-MiniLM-L6-v2 (attention only).
pub const OFFLINE_MODELS: [&str; 2] = ["SmolLM2-135M-Instruct", "all-MiniLM-L6-v2"];
/// The default model when the Hub is reachable.
pub const DEFAULT_HUB_MODEL: &str = "openai-community/gpt2";
/// The default model on small screens: distilled GPT-2 (82M parameters instead of 124M).
pub const SMALL_SCREEN_HUB_MODEL: &str = "distilbert/distilgpt2";

/// The Hugging Face Hub.
const HUB: &str = "https://huggingface.co";

/// Where a model comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSource {
    /// A Hugging Face Hub repository at a revision.
    Hub { repo: String, revision: String },
    /// A same-origin folder `models/{name}/`.
    Folder(String),
}

impl ModelSource {
    /// The URL of one of the model's files (relative URLs keep the site working from any
    /// sub-path).
    pub fn url(&self, file: &str) -> String {
        match self {
            ModelSource::Hub { repo, revision } => {
                format!("{HUB}/{repo}/resolve/{revision}/{file}")
            }
            ModelSource::Folder(name) => format!("models/{name}/{file}"),
        }
    }

    /// Where the Hub serves a file's Git LFS pointer (its size and SHA-256) rather than the
    /// file; `None` for a folder.
    pub fn lfs_pointer_url(&self, file: &str) -> Option<String> {
        match self {
            ModelSource::Hub { repo, revision } => {
                Some(format!("{HUB}/{repo}/raw/{revision}/{file}"))
            }
            ModelSource::Folder(_) => None,
        }
    }

    /// The source as the link's `model` parameter.
    pub fn to_link(&self) -> String {
        match self {
            ModelSource::Hub { repo, revision } if revision == "main" => format!("hub:{repo}"),
            ModelSource::Hub { repo, revision } => format!("hub:{repo}@{revision}"),
            ModelSource::Folder(name) => format!("folder:{name}"),
        }
    }

    /// Reads the link's `model` parameter (`hub:owner/name[@revision]` or `folder:name`);
    /// `None` for anything else, including names that could leave the intended path.
    pub fn from_link(value: &str) -> Option<ModelSource> {
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
                && !s.contains("..")
        };
        if let Some(hub) = value.strip_prefix("hub:") {
            let (repo, revision) = hub.split_once('@').unwrap_or((hub, "main"));
            return (valid(repo) && valid(revision)).then(|| ModelSource::Hub {
                repo: repo.into(),
                revision: revision.into(),
            });
        }
        let name = value.strip_prefix("folder:")?;
        (valid(name) && !name.contains('/')).then(|| ModelSource::Folder(name.into()))
    }

    /// The Hub model a page opens with: GPT-2, or distilled GPT-2 on a small screen.
    pub fn default_hub(small_screen: bool) -> ModelSource {
        ModelSource::Hub {
            repo: hub_suggestions(small_screen)[0].into(),
            revision: "main".into(),
        }
    }
}

/// The suggested Hub models, smallest first on small screens (phones have less memory and
/// slower downloads).
pub fn hub_suggestions(small_screen: bool) -> [&'static str; 3] {
    let distilbert = "distilbert/distilbert-base-uncased";
    if small_screen {
        [SMALL_SCREEN_HUB_MODEL, distilbert, DEFAULT_HUB_MODEL]
    } else {
        [DEFAULT_HUB_MODEL, distilbert, SMALL_SCREEN_HUB_MODEL]
    }
}

/// The best offline model among `hosted` (the folder names in models/index.json); the first of
/// [`OFFLINE_MODELS`] when none is listed.
pub fn best_offline_model(hosted: &[String]) -> &'static str {
    OFFLINE_MODELS
        .into_iter()
        .find(|name| hosted.iter().any(|h| h == name))
        .unwrap_or(OFFLINE_MODELS[0])
}

/// The models whose files are all in the model cache (`cached`: its URLs), so they load with no
/// network: a folder's name or a Hub repository (with its revision unless `main`), in the order
/// first cached. A model counts once config.json and its weights (model.safetensors or a .gguf
/// file) are there.
pub fn offline_models(cached: &[String]) -> Vec<String> {
    let mut folders: Vec<(&str, Vec<&str>)> = Vec::new();
    for url in cached {
        let Some((folder, file)) = url.rsplit_once('/') else {
            continue;
        };
        match folders.iter_mut().find(|(f, _)| *f == folder) {
            Some((_, files)) => files.push(file),
            None => folders.push((folder, vec![file])),
        }
    }
    let complete = |files: &[&str]| {
        files.contains(&MODEL_FILES[0])
            && files
                .iter()
                .any(|f| *f == MODEL_FILES[2] || f.ends_with(".gguf"))
    };
    folders
        .into_iter()
        .filter(|(_, files)| complete(files))
        .filter_map(|(folder, _)| model_name_of(folder))
        .collect()
}

/// A Hub model as the page names it: its repository, and the revision where it is not main.
pub fn hub_model_name(repo: &str, revision: &str) -> String {
    match revision {
        "main" => repo.to_string(),
        _ => format!("{repo} @ {revision}"),
    }
}

/// How the picker names the model whose files a cache folder URL holds.
fn model_name_of(folder: &str) -> Option<String> {
    if let Some(hub) = folder.strip_prefix(&format!("{HUB}/")) {
        let (repo, revision) = hub.split_once("/resolve/")?;
        return Some(hub_model_name(repo, revision));
    }
    let (_, name) = folder.rsplit_once("/models/")?;
    (!name.contains('/')).then(|| name.to_string())
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

/// Whether a model whose config.json this is ships SentencePiece files rather than
/// tokenizer.json on the Hub (Marian's opus-mt-* repositories).
pub fn ships_sentencepiece(config_json: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(config_json)
        .ok()
        .and_then(|config| config.get("model_type")?.as_str().map(|t| t == "marian"))
        .unwrap_or(false)
}

/// Download progress of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// The file being fetched.
    pub file: String,
    /// It is read from Cache Storage, not downloaded.
    pub from_cache: bool,
    /// Bytes received so far.
    pub loaded: f64,
    /// Content-Length, when the server sent one.
    pub total: Option<f64>,
    /// Seconds since the download started.
    pub elapsed: f64,
}

/// Why a model's files could not be had.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchError {
    /// The server could not be reached at all (offline, blocked, DNS).
    Unreachable(String),
    /// The user cancelled.
    Cancelled,
    /// The server answered 404.
    NotFound { url: String },
    /// The server answered another error status.
    Http { url: String, status: String },
    /// The response had no body.
    NoBody { url: String },
    /// The connection broke during the download.
    BrokeOff { file: String, message: String },
    /// Fewer bytes than Content-Length.
    Incomplete {
        file: String,
        loaded: u32,
        total: f64,
    },
    /// A picked file could not be read.
    CannotRead { file: String, message: String },
    /// A file of the set is missing from the picked files.
    MissingFile { file: String },
    /// A complete download whose SHA-256 is not the one published for it (models/index.json,
    /// the Hub): damaged on the way, or an old copy. It is not kept.
    Mismatch {
        file: String,
        expected: String,
        found: String,
    },
    /// A repository (Marian's opus-mt-*) without tokenizer.json: it ships SentencePiece files.
    SentencePieceOnly { url: String },
    /// The browser refused (no window, a fetch without a response, a JS error).
    Browser(String),
}

impl FetchError {
    /// The problem in the page's language.
    pub fn describe(&self) -> String {
        match self {
            FetchError::Unreachable(url) => trf("loader.unreachable", &[("url", url)]),
            FetchError::Cancelled => tr("loader.cancelled"),
            FetchError::NotFound { url } => trf("loader.http_404", &[("url", url)]),
            FetchError::SentencePieceOnly { url } => {
                trf("loader.sentencepiece_only", &[("url", url)])
            }
            FetchError::Http { url, status } => {
                trf("loader.http", &[("url", url), ("status", status)])
            }
            FetchError::NoBody { url } => trf("loader.no_body", &[("url", url)]),
            FetchError::BrokeOff { file, message } => {
                trf("loader.broke_off", &[("file", file), ("message", message)])
            }
            FetchError::Incomplete {
                file,
                loaded,
                total,
            } => trf(
                "loader.incomplete",
                &[("file", file), ("loaded", loaded), ("total", total)],
            ),
            FetchError::Mismatch {
                file,
                expected,
                found,
            } => trf(
                "loader.mismatch",
                &[
                    ("file", file),
                    ("expected", &short(expected)),
                    ("found", &short(found)),
                ],
            ),
            FetchError::CannotRead { file, message } => trf(
                "loader.cannot_read",
                &[("file", file), ("message", message)],
            ),
            FetchError::MissingFile { file } => trf("loader.missing_file", &[("file", file)]),
            FetchError::Browser(message) => message.clone(),
        }
    }
}

/// A digest's first 12 hex digits: enough to tell two apart on screen.
fn short(sha256: &str) -> String {
    sha256.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marian_configs_ship_sentencepiece() {
        assert!(ships_sentencepiece(
            br#"{"model_type": "marian", "d_model": 512}"#
        ));
        assert!(!ships_sentencepiece(br#"{"model_type": "t5"}"#));
        assert!(!ships_sentencepiece(b"not json"));
    }

    #[test]
    fn link_parameters_round_trip_and_unsafe_names_are_refused() {
        for link in [
            "hub:openai-community/gpt2",
            "hub:owner/name@v1.0",
            "folder:fixture-gpt2",
        ] {
            let source = ModelSource::from_link(link).expect(link);
            assert_eq!(source.to_link(), link);
        }
        assert_eq!(
            ModelSource::from_link("hub:owner/name@main").map(|s| s.to_link()),
            Some("hub:owner/name".into())
        );
        for bad in [
            "folder:../secret",
            "folder:a/b",
            "hub:",
            "hub:owner/../x",
            "gpt5:secret",
            "folder:<script>",
            "hub:owner/name@",
        ] {
            assert_eq!(ModelSource::from_link(bad), None, "{bad}");
        }
        assert_eq!(
            ModelSource::from_link("folder:x").map(|s| s.url("config.json")),
            Some("models/x/config.json".into())
        );
        let hub = ModelSource::from_link("hub:o/n@v1").expect("a Hub link");
        assert_eq!(
            hub.lfs_pointer_url("model.safetensors").as_deref(),
            Some("https://huggingface.co/o/n/raw/v1/model.safetensors")
        );
        assert_eq!(ModelSource::Folder("x".into()).lfs_pointer_url("a"), None);
    }

    #[test]
    fn the_offline_choice_prefers_the_decoder_that_is_hosted() {
        let hosted = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(
            best_offline_model(&hosted(&["all-MiniLM-L6-v2", "SmolLM2-135M-Instruct"])),
            "SmolLM2-135M-Instruct"
        );
        assert_eq!(
            best_offline_model(&hosted(&["fixture-gpt2", "all-MiniLM-L6-v2"])),
            "all-MiniLM-L6-v2"
        );
        assert_eq!(best_offline_model(&[]), OFFLINE_MODELS[0]);
        assert_eq!(
            ModelSource::default_hub(true),
            ModelSource::Hub {
                repo: SMALL_SCREEN_HUB_MODEL.into(),
                revision: "main".into()
            }
        );
    }

    #[test]
    fn a_model_is_offline_once_its_config_and_weights_are_cached() {
        let site = "http://127.0.0.1:8080/course/models";
        let cached = [
            format!("{site}/fixture-gpt2/config.json"),
            format!("{site}/fixture-gpt2/tokenizer.json"),
            format!("{HUB}/openai-community/gpt2/resolve/main/config.json"),
            format!("{site}/fixture-gpt2/model.safetensors"),
            format!("{HUB}/openai-community/gpt2/resolve/main/tokenizer.json"),
            format!("{site}/SmolLM2-135M-Instruct/config.json"),
            format!("{site}/SmolLM2-135M-Instruct/model.gguf"),
            format!("{HUB}/o/n/resolve/v1/config.json"),
            format!("{HUB}/o/n/resolve/v1/model.safetensors"),
        ];
        assert_eq!(
            offline_models(&cached),
            ["fixture-gpt2", "SmolLM2-135M-Instruct", "o/n @ v1"],
            "GPT-2 from the Hub has no weights cached"
        );
        assert!(offline_models(&[]).is_empty());
    }

    #[test]
    fn a_folder_may_name_one_gguf_file_beside_it() {
        assert_eq!(
            gguf_file_named_in(br#"{"gguf_file": "model.gguf"}"#),
            Some("model.gguf".into())
        );
        for refused in [
            &br#"{"gguf_file": "../x.gguf"}"#[..],
            br#"{"gguf_file": "a/b.gguf"}"#,
            br#"{"gguf_file": "model.bin"}"#,
            br#"{"model_type": "gpt2"}"#,
            b"not json",
        ] {
            assert_eq!(gguf_file_named_in(refused), None);
        }
    }
}
