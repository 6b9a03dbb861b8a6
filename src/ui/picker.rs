//! Choosing a model (Hub, this site's folder, local files), the download progress bar, the
//! model card and the cache control.
use leptos::prelude::*;
use leptos::task::spawn_local;
use web_sys::{File, FileList};

use super::loader::{self, ModelSource, OFFLINE_MODEL};
use super::state::{use_state, AppState, LoadStatus, Lock, Progress};
use super::{begin_load, build_model, open_with_offline_fallback, report, DEFAULT_HUB_MODEL};

/// The suggested Hub models.
const HUB_SUGGESTIONS: [&str; 3] = [
    DEFAULT_HUB_MODEL,
    "distilbert/distilbert-base-uncased",
    "distilbert/distilgpt2",
];

fn files_of(list: Option<FileList>) -> Vec<File> {
    let Some(list) = list else { return Vec::new() };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

fn load_local(files: Vec<File>, state: AppState) {
    if files.is_empty() {
        return;
    }
    loader::cancel_download();
    let names = files
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ");
    begin_load(state, None, format!("your files: {names}"));
    state.load.set(LoadStatus::Building);
    spawn_local(async move {
        match loader::read_local_files(files).await {
            Ok(files) => build_model(files, state),
            Err(message) => {
                state.load.set(LoadStatus::Failed(message.clone()));
                state.error.set(Some(message));
            }
        }
    });
}

/// The model chooser with its progress bar and card.
#[component]
pub fn ModelPicker() -> impl IntoView {
    let state = use_state();
    let repo = RwSignal::new(DEFAULT_HUB_MODEL.to_string());
    let revision = RwSignal::new("main".to_string());
    let hosted = RwSignal::new(Vec::<String>::new());
    let folder = RwSignal::new(OFFLINE_MODEL.to_string());
    let dragging = RwSignal::new(false);
    spawn_local(async move {
        let names = loader::hosted_models().await;
        if let Some(first) = names.first() {
            if !names.iter().any(|n| n == OFFLINE_MODEL) {
                folder.set(first.clone());
            }
        }
        hosted.set(names);
    });

    let load_hub = move |_| {
        let source = ModelSource::Hub {
            repo: repo.get_untracked().trim().to_string(),
            revision: revision.get_untracked().trim().to_string(),
        };
        state.notice.set(None);
        spawn_local(async move { report(open_with_offline_fallback(source, state).await, state) });
    };
    let load_folder = move |_| {
        let source = ModelSource::Folder(folder.get_untracked());
        state.notice.set(None);
        spawn_local(async move { report(super::open_source(source, state).await, state) });
    };
    let on_files = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        load_local(files_of(input.files()), state);
    };
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        load_local(files_of(ev.data_transfer().and_then(|d| d.files())), state);
    };

    view! {
        <section class="model-picker" aria-label="Model">
            <ModelCard/>
            <LoadProgress/>
            <Show when=move || !state.locked(Lock::Model)>
            <details class="sources">
                <summary>"Choose another model"</summary>
                <div class="source-row">
                    <label>"Hugging Face Hub repository "
                        <input type="text" list="hub-suggestions" data-testid="hub-repo" prop:value=move || repo.get()
                            on:input=move |ev| repo.set(event_target_value(&ev))/>
                    </label>
                    <datalist id="hub-suggestions">
                        {HUB_SUGGESTIONS.iter().map(|name| view! { <option value=*name/> }).collect_view()}
                    </datalist>
                    <label>"revision "
                        <input type="text" size="8" prop:value=move || revision.get() on:input=move |ev| revision.set(event_target_value(&ev))/>
                    </label>
                    <button on:click=load_hub data-testid="load-hub">"Load from the Hub"</button>
                </div>
                <div class="source-row">
                    <label>"This site's models/ folder "
                        <select data-testid="folder-select" on:change=move |ev| folder.set(event_target_value(&ev)) prop:value=move || folder.get()>
                            {move || hosted.get().into_iter().map(|name| view! { <option value=name.clone()>{name.clone()}</option> }).collect_view()}
                        </select>
                    </label>
                    <button on:click=load_folder data-testid="load-folder">"Load"</button>
                </div>
                <div class="source-row drop-zone" class:dragging=move || dragging.get() data-testid="drop-zone"
                    on:dragover=move |ev: leptos::ev::DragEvent| { ev.prevent_default(); dragging.set(true); }
                    on:dragleave=move |_| dragging.set(false)
                    on:drop=on_drop>
                    <label>"Your own files (config.json, tokenizer.json, model.safetensors): "
                        <input type="file" multiple accept=".json,.safetensors" data-testid="file-input" on:change=on_files/>
                    </label>
                    <span class="hint">" or drop them here"</span>
                </div>
                <CacheControl/>
            </details>
            </Show>
        </section>
    }
}

/// Architecture, size and origin of the loaded model.
#[component]
fn ModelCard() -> impl IntoView {
    let state = use_state();
    view! {
        <div class="model-card" data-testid="model-card">
            {move || match state.model.get() {
                Some(card) => view! {
                    <strong data-testid="model-ready">{card.architecture.clone()}</strong>
                    " · " {card.n_layer} " layers × " {card.n_head} " heads · d_model " {card.d_model}
                    " · " {describe_count(card.parameters)} " parameters"
                    {move || state.model_bytes.get().map(|bytes| format!(" · {:.1} MB of weights", bytes as f64 / 1e6))}
                    " · " {if card.causal { "decoder (sees only earlier tokens)" } else { "encoder (sees both directions)" }}
                    <div class="source">"from " {move || state.model_source.get()}
                        <span data-testid="worker-memory" data-bytes=move || state.worker_memory.get().unwrap_or(0).to_string()>
                            {move || state.worker_memory.get().map(|bytes| format!(" · the model worker uses {:.0} MB", bytes as f64 / 1e6))}
                        </span>
                    </div>
                    {(!card.has_prediction_head).then(|| view! {
                        <div class="hint">"This checkpoint has no prediction head: attention and hidden states work; predictions and saliency need GPT-2 or DistilBERT."</div>
                    })}
                }.into_any(),
                None => view! { <span class="muted">"No model loaded yet."</span> }.into_any(),
            }}
        </div>
    }
}

/// 124.4M, 22.7M, or the exact number for small models.
fn describe_count(count: usize) -> String {
    if count >= 1_000_000 {
        format!("{:.1}M", count as f64 / 1e6)
    } else {
        count.to_string()
    }
}

fn describe_progress(progress: &Progress) -> String {
    let mb = progress.loaded / 1e6;
    let speed = if progress.elapsed > 0.0 {
        mb / progress.elapsed
    } else {
        0.0
    };
    match progress.total {
        Some(total) if total > 0.0 => {
            let left = if speed > 0.0 {
                (total / 1e6 - mb) / speed
            } else {
                0.0
            };
            format!(
                "{}: {:.1} of {:.1} MB ({:.0}%) · {:.1} MB/s · {:.0} s left",
                progress.file,
                mb,
                total / 1e6,
                100.0 * progress.loaded / total,
                speed,
                left
            )
        }
        _ if progress.loaded > 0.0 => {
            format!("{}: {:.1} MB · {:.1} MB/s", progress.file, mb, speed)
        }
        _ => progress.file.clone(),
    }
}

/// The download progress bar with its cancel button.
#[component]
fn LoadProgress() -> impl IntoView {
    let state = use_state();
    view! {
        {move || match state.load.get() {
            LoadStatus::Downloading(progress) => {
                let percent = progress.total.filter(|t| *t > 0.0).map(|t| 100.0 * progress.loaded / t);
                view! {
                    <div class="progress" data-testid="progress">
                        <progress max="100" value=percent.map(|p| p.to_string()) aria-label="Download progress"></progress>
                        <span>{describe_progress(&progress)}</span>
                        <button on:click=move |_| loader::cancel_download() data-testid="cancel-download">"Cancel"</button>
                    </div>
                }.into_any()
            }
            LoadStatus::Building => view! { <div class="progress" data-testid="progress"><progress aria-label="Building the model"></progress>" Building the model…"</div> }.into_any(),
            LoadStatus::Failed(message) => view! { <div class="load-failed" data-testid="load-failed">"Loading failed: " {message}</div> }.into_any(),
            LoadStatus::Idle | LoadStatus::Ready => ().into_any(),
        }}
    }
}

/// What the browser cache holds, and a button to clear it.
#[component]
fn CacheControl() -> impl IntoView {
    let cached = RwSignal::new(Vec::<String>::new());
    let refresh = move || spawn_local(async move { cached.set(loader::cached_urls().await) });
    refresh();
    view! {
        <div class="source-row cache">
            <span data-testid="cache-count">{move || format!("{} model files kept in this browser", cached.with(|c| c.len()))}</span>
            <button on:click=move |_| refresh()>"Refresh"</button>
            <button data-testid="clear-cache" on:click=move |_| spawn_local(async move { loader::clear_cache().await; cached.set(loader::cached_urls().await) })>"Clear cache"</button>
            <ul class="cached">{move || cached.get().into_iter().map(|url| view! { <li>{url}</li> }).collect_view()}</ul>
        </div>
    }
}
