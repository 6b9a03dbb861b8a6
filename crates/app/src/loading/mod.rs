//! Opening a model, in one place: a source (`crate::sources`: the Hub, this site's folder; or
//! the user's files) is fetched (`fetch`, which reports progress through a callback), handed to
//! the worker, and the answer written into the [`ModelState`] — which only this module writes.
//! With the Hub unreachable the best offline model opens instead; after a worker crash the same
//! model is opened again from the cache.
mod fetch;

use leptos::prelude::*;
use leptos::task::spawn_local;
use web_sys::File;

pub use fetch::{cached_urls, cancel_download, clear_cache, fetch_text, hosted_models};

use crate::sources::{self, best_offline_model, FetchError, ModelSource, Progress, OFFLINE_MODELS};

use crate::client::{self, Failure, ModelFiles};
use crate::i18n::trf;
use crate::state::{AppState, LoadStatus, Message, ModelState, ModelWriter, Problem};
use ae_messages::Response;

/// What opens models: the model state's writer and the slices a new model resets.
#[derive(Clone, Copy)]
pub struct Loader {
    writer: ModelWriter,
    state: AppState,
    /// The number of the latest open. Loads overlap (the default model and a lesson's,
    /// a click during a download), and fetches from the cache and the network end in any
    /// order: only the latest open may reach the worker or write the model state.
    latest: StoredValue<u64>,
}

/// One open's number, from [`Loader::take_ticket`].
#[derive(Clone, Copy, PartialEq)]
struct Ticket(u64);

impl Loader {
    /// The loader of `state`, whose model slice `writer` writes; reloads the model after a
    /// worker crash.
    pub fn new(state: AppState, writer: ModelWriter) -> Self {
        let loader = Loader {
            writer,
            state,
            latest: StoredValue::new(0),
        };
        loader.reopen_after_crashes();
        loader
    }

    /// Opens a source: fetch (or cache) → worker. A later open supersedes this one: then it
    /// ends with `Ok` and changes nothing.
    pub async fn open(self, source: ModelSource) -> Result<(), Problem> {
        let ticket = self.take_ticket();
        self.open_as(ticket, source).await
    }

    async fn open_as(self, ticket: Ticket, source: ModelSource) -> Result<(), Problem> {
        self.begin(Some(source.clone()), None);
        let progress = move |p: Progress| {
            if self.is_latest(ticket) {
                self.writer.load.set(LoadStatus::Downloading(p));
            }
        };
        let files = fetch::fetch_model(&source, &progress).await;
        if !self.is_latest(ticket) {
            return Ok(());
        }
        self.build(ticket, files?, Some(source)).await
    }

    /// Opens a source; when it is the Hub and the Hub cannot be reached, opens the best
    /// offline model with a notice — unless another open has begun meanwhile.
    pub async fn open_with_offline_fallback(self, source: ModelSource) -> Result<(), Problem> {
        let ticket = self.take_ticket();
        let result = self.open_as(ticket, source.clone()).await;
        let hub_unreachable = matches!(result, Err(Problem::Fetch(FetchError::Unreachable(_))));
        if !(hub_unreachable && matches!(source, ModelSource::Hub { .. })) {
            return result;
        }
        let offline = best_offline_model(&hosted_models().await);
        if !self.is_latest(ticket) {
            return Ok(());
        }
        let key = if offline == OFFLINE_MODELS[0] {
            "app.offline_decoder"
        } else {
            "app.offline"
        };
        self.state
            .view
            .add_notice(Message::new(key, &[("model", &offline)]));
        self.open_as(ticket, ModelSource::Folder(offline.into()))
            .await
    }

    /// Opens the files the user picked or dropped.
    pub fn open_files(self, files: Vec<File>) {
        if files.is_empty() {
            return;
        }
        cancel_download();
        let ticket = self.take_ticket();
        let names = files.iter().map(|f| f.name()).collect::<Vec<_>>();
        self.begin(None, Some(names.join(", ")));
        self.writer.load.set(LoadStatus::Building);
        spawn_local(async move {
            let files = fetch::read_local_files(files).await;
            if !self.is_latest(ticket) {
                return;
            }
            let result = match files {
                Ok(files) => self.build(ticket, files, None).await,
                Err(error) => Err(error.into()),
            };
            self.report(result);
        });
    }

    /// Runs `open` in the background and shows how it ended.
    pub fn spawn(self, open: impl std::future::Future<Output = Result<(), Problem>> + 'static) {
        spawn_local(async move { self.report(open.await) });
    }

    /// Shows a failed load in the page (a cancelled download only in the progress line).
    pub fn report(self, result: Result<(), Problem>) {
        if let Err(problem) = result {
            if problem != Problem::Fetch(FetchError::Cancelled) {
                self.state.view.report(problem.clone());
            }
            self.writer.load.set(LoadStatus::Failed(problem));
        }
    }

    /// Numbers a new open, which supersedes every earlier one.
    fn take_ticket(self) -> Ticket {
        self.latest.update_value(|n| *n += 1);
        Ticket(self.latest.get_value())
    }

    /// Whether no open has begun since the one numbered `ticket`.
    fn is_latest(self, ticket: Ticket) -> bool {
        Ticket(self.latest.get_value()) == ticket
    }

    /// Clears what belonged to the previous model and names the one now loading.
    fn begin(self, source: Option<ModelSource>, local_files: Option<String>) {
        self.writer.source.set(source);
        self.writer.local_files.set(local_files);
        self.writer.card.set(None);
    }

    /// Hands a model's files to the worker to build, and takes its card. The worker builds in
    /// the order it is asked, so when a later open's build follows, that one is the worker's
    /// model and this card is dropped.
    async fn build(
        self,
        ticket: Ticket,
        files: ModelFiles,
        source: Option<ModelSource>,
    ) -> Result<(), Problem> {
        self.writer.load.set(LoadStatus::Building);
        self.writer.bytes.set(Some(files.model.length() as usize));
        let answer = client::load(files).await;
        if !self.is_latest(ticket) {
            return Ok(());
        }
        match answer {
            Ok(answer) => match answer.response {
                Response::Loaded { card } => {
                    self.writer
                        .worker_memory
                        .set(Some(answer.wasm_memory_bytes));
                    let selection = self.state.selection;
                    selection.saliency_target.set(None);
                    selection.layer.update(|l| *l = (*l).min(card.n_layer - 1));
                    selection.head.update(|h| *h = (*h).min(card.n_head - 1));
                    self.state.text.generated.set(Vec::new());
                    self.writer.generation.update(|g| *g += 1);
                    self.writer.card.set(Some(card));
                    self.writer.load.set(LoadStatus::Ready);
                    self.state.view.error.set(None);
                    Ok(())
                }
                _ => Err(Failure::unexpected().into()),
            },
            Err(failure) => {
                // Files that did not make a model are downloaded afresh next time.
                if let (Failure::LoadFailed(_), Some(source)) = (&failure, &source) {
                    fetch::forget_source(source).await;
                }
                Err(failure.into())
            }
        }
    }

    /// After a worker crash, loads the same model again (from the cache).
    fn reopen_after_crashes(self) {
        let restarts = self.state.client.restarts;
        Effect::new(move |previous: Option<u32>| {
            let count = restarts.get();
            if previous.is_some() {
                self.writer.card.set(None);
                self.writer.load.set(LoadStatus::Idle);
                if let Some(source) = self.state.model.source.get_untracked() {
                    self.spawn(self.open(source));
                }
            }
            count
        });
    }
}

/// How the loaded (or loading) model's origin is shown (tracked).
pub fn origin_label(model: &ModelState) -> String {
    match (model.source.get(), model.local_files.get()) {
        (Some(ModelSource::Hub { repo, revision }), _) => {
            format!(
                "Hugging Face Hub: {}",
                sources::hub_model_name(&repo, &revision)
            )
        }
        (Some(ModelSource::Folder(name)), _) => trf("loader.folder", &[("name", &name)]),
        (None, Some(names)) => trf("picker.your_files", &[("names", &names)]),
        (None, None) => String::new(),
    }
}

/// The loader, from any component.
pub fn use_loader() -> Loader {
    expect_context::<Loader>()
}
