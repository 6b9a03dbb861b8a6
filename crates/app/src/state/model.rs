//! The model and its loading. Only the loading module writes it (it holds the [`ModelWriter`]);
//! everything else reads.
use leptos::prelude::*;

use crate::sources::ModelSource;
pub use crate::sources::Progress;
use ae_messages::ModelCard;

/// Where model loading stands.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadStatus {
    /// Nothing requested yet.
    Idle,
    /// Fetching a file (or reading it from the cache).
    Downloading(Progress),
    /// All files are here; the worker is building the model.
    Building,
    /// The model is ready.
    Ready,
    /// Loading failed or was cancelled; the problem says why.
    Failed(crate::state::Problem),
}

/// The loaded model, as the page reads it.
#[derive(Clone, Copy)]
pub struct ModelState {
    /// The loaded model's card.
    pub card: ReadSignal<Option<ModelCard>>,
    /// Where the loaded (or loading) model comes from; `None` for local files.
    pub source: ReadSignal<Option<ModelSource>>,
    /// Local files' names, when the model comes from them.
    pub local_files: ReadSignal<Option<String>>,
    /// Size of the loaded weights file in bytes.
    pub bytes: ReadSignal<Option<usize>>,
    /// The worker's wasm memory after the model loaded, in bytes.
    pub worker_memory: ReadSignal<Option<usize>>,
    /// Loading progress.
    pub load: ReadSignal<LoadStatus>,
    /// Counts the models loaded: what was computed for one model is not reused for the next.
    pub generation: ReadSignal<u32>,
}

/// The write side of [`ModelState`], held by the loading module.
#[derive(Clone, Copy)]
pub struct ModelWriter {
    pub card: WriteSignal<Option<ModelCard>>,
    pub source: WriteSignal<Option<ModelSource>>,
    pub local_files: WriteSignal<Option<String>>,
    pub bytes: WriteSignal<Option<usize>>,
    pub worker_memory: WriteSignal<Option<usize>>,
    pub load: WriteSignal<LoadStatus>,
    pub generation: WriteSignal<u32>,
}

impl ModelState {
    /// No model yet, and the handle that changes that.
    pub fn new() -> (Self, ModelWriter) {
        let (card, set_card) = signal(None);
        let (source, set_source) = signal(None);
        let (local_files, set_local_files) = signal(None);
        let (bytes, set_bytes) = signal(None);
        let (worker_memory, set_worker_memory) = signal(None);
        let (load, set_load) = signal(LoadStatus::Idle);
        let (generation, set_generation) = signal(0);
        let state = ModelState {
            card,
            source,
            local_files,
            bytes,
            worker_memory,
            load,
            generation,
        };
        let writer = ModelWriter {
            card: set_card,
            source: set_source,
            local_files: set_local_files,
            bytes: set_bytes,
            worker_memory: set_worker_memory,
            load: set_load,
            generation: set_generation,
        };
        (state, writer)
    }

    /// Which model is loaded (tracked): `None` while none is.
    pub fn loaded(&self) -> Option<u32> {
        self.is_loaded().then(|| self.generation.get())
    }

    /// Whether a model is loaded (tracked).
    pub fn is_loaded(&self) -> bool {
        self.card.with(Option::is_some)
    }

    /// Whether the loaded model is an encoder–decoder (tracked).
    pub fn is_encoder_decoder(&self) -> bool {
        self.read(false, |card| card.decoder.is_some())
    }

    /// A number from the card (tracked), or `default` without a model.
    pub fn read<T>(&self, default: T, pick: impl FnOnce(&ModelCard) -> T) -> T {
        self.card.with(|card| card.as_ref().map_or(default, pick))
    }
}
