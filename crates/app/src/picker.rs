//! Choosing a model (Hub, this site's folder, local files), the download progress bar, the
//! model card and the cache control.
use leptos::prelude::*;
use leptos::task::spawn_local;
use web_sys::{File, FileList};

use crate::i18n::{self, tr, trf};
use crate::loading::{self, use_loader};
use crate::sources::{
    best_offline_model, hub_suggestions, offline_models, ModelSource, OFFLINE_MODELS,
};
use crate::state::{small_screen, use_state, LoadStatus, Lock, Progress};

fn files_of(list: Option<FileList>) -> Vec<File> {
    let Some(list) = list else { return Vec::new() };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

/// The model chooser with its progress bar and card.
#[component]
pub fn ModelPicker() -> impl IntoView {
    let state = use_state();
    let loader = use_loader();
    let suggestions = hub_suggestions(small_screen());
    let repo = RwSignal::new(suggestions[0].to_string());
    let revision = RwSignal::new("main".to_string());
    let hosted = RwSignal::new(Vec::<String>::new());
    let folder = RwSignal::new(OFFLINE_MODELS[0].to_string());
    let dragging = RwSignal::new(false);
    // `try_set` after an await: the picker may be gone by the time the answer comes.
    spawn_local(async move {
        let names = loading::hosted_models().await;
        if let Some(first) = names.first() {
            let best = best_offline_model(&names);
            folder.try_set(if names.iter().any(|n| n == best) {
                best.to_string()
            } else {
                first.clone()
            });
        }
        hosted.try_set(names);
    });

    let load_hub = move |_| {
        let source = ModelSource::Hub {
            repo: repo.get_untracked().trim().to_string(),
            revision: revision.get_untracked().trim().to_string(),
        };
        state.view.notices.set(Vec::new());
        loader.spawn(loader.open_with_offline_fallback(source));
    };
    let load_folder = move |_| {
        let source = ModelSource::Folder(folder.get_untracked());
        state.view.notices.set(Vec::new());
        loader.spawn(loader.open(source));
    };
    let on_files = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        loader.open_files(files_of(input.files()));
    };
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        loader.open_files(files_of(ev.data_transfer().and_then(|d| d.files())));
    };

    view! {
        <section class="model-picker" aria-label=move || tr("picker.label")>
            <ModelCard />
            <LoadProgress />
            <Show when=move || !state.view.locked(Lock::Model)>
                <details class="sources">
                    <summary>{move || tr("picker.choose")}</summary>
                    <div class="source-row">
                        <label>
                            {move || format!("{} ", tr("picker.hub_repo"))}
                            <input
                                type="text"
                                list="hub-suggestions"
                                data-testid="hub-repo"
                                prop:value=move || repo.get()
                                on:input=move |ev| repo.set(event_target_value(&ev))
                            />
                        </label>
                        <datalist id="hub-suggestions">
                            {suggestions
                                .iter()
                                .map(|name| view! { <option value=*name /> })
                                .collect_view()}
                        </datalist>
                        <label>
                            {move || format!("{} ", tr("picker.revision"))}
                            <input
                                type="text"
                                size="8"
                                prop:value=move || revision.get()
                                on:input=move |ev| revision.set(event_target_value(&ev))
                            />
                        </label>
                        <button on:click=load_hub data-testid="load-hub">
                            {move || tr("picker.load_hub")}
                        </button>
                    </div>
                    <div class="source-row">
                        <label>
                            {move || format!("{} ", tr("picker.folder"))}
                            <select
                                data-testid="folder-select"
                                on:change=move |ev| folder.set(event_target_value(&ev))
                                prop:value=move || folder.get()
                            >
                                {move || {
                                    hosted
                                        .get()
                                        .into_iter()
                                        .map(|name| {
                                            view! { <option value=name.clone()>{name.clone()}</option> }
                                        })
                                        .collect_view()
                                }}
                            </select>
                        </label>
                        <button on:click=load_folder data-testid="load-folder">
                            {move || tr("picker.load")}
                        </button>
                    </div>
                    <div
                        class="source-row drop-zone"
                        class:dragging=move || dragging.get()
                        data-testid="drop-zone"
                        on:dragover=move |ev: leptos::ev::DragEvent| {
                            ev.prevent_default();
                            dragging.set(true);
                        }
                        on:dragleave=move |_| dragging.set(false)
                        on:drop=on_drop
                    >
                        <label>
                            {move || format!("{} ", tr("picker.own_files"))}
                            <input
                                type="file"
                                multiple
                                accept=".json,.safetensors,.gguf"
                                data-testid="file-input"
                                on:change=on_files
                            />
                        </label>
                        <span class="hint">{move || format!(" {}", tr("picker.drop"))}</span>
                    </div>
                    <CacheControl />
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
            {move || match state.model.card.get() {
                Some(card) => {
                    view! {
                        <strong data-testid="model-ready">{card.architecture.clone()}</strong>
                        {move || {
                            format!(
                                " · {}",
                                trf(
                                    "picker.shape",
                                    &[
                                        ("layers", &card.n_layer),
                                        ("heads", &card.n_head),
                                        ("d_model", &card.d_model),
                                    ],
                                ),
                            )
                        }}
                        {(card.n_kv_head > 0 && card.n_kv_head < card.n_head)
                            .then(|| {
                                format!(
                                    " · {}",
                                    trf(
                                        "picker.kv_heads",
                                        &[
                                            ("kv", &card.n_kv_head),
                                            ("group", &(card.n_head / card.n_kv_head)),
                                        ],
                                    ),
                                )
                            })}
                        {card
                            .rope_theta
                            .map(|theta| {
                                format!(" · {}", trf("picker.rope", &[("theta", &theta)]))
                            })}
                        {move || {
                            format!(
                                " · {}",
                                trf(
                                    "picker.parameters",
                                    &[("count", &describe_count(card.parameters))],
                                ),
                            )
                        }}
                        {move || {
                            state
                                .model
                                .bytes
                                .get()
                                .map(|bytes| {
                                    format!(
                                        " · {}",
                                        trf(
                                            "picker.weights_mb",
                                            &[("mb", &format!("{:.1}", bytes as f64 / 1e6))],
                                        ),
                                    )
                                })
                        }}
                        {move || {
                            let kind = match (&card.decoder, card.causal) {
                                (Some(decoder), _) => {
                                    trf(
                                        "picker.encoder_decoder",
                                        &[("layers", &decoder.n_layer), ("heads", &decoder.n_head)],
                                    )
                                }
                                (None, true) => tr("picker.decoder"),
                                (None, false) => tr("picker.encoder"),
                            };
                            format!(" · {kind}")
                        }}
                        <div class="source">
                            {move || trf(
                                "picker.from",
                                &[("source", &loading::origin_label(&state.model))],
                            )}
                            <span
                                data-testid="worker-memory"
                                data-bytes=move || {
                                    state.model.worker_memory.get().unwrap_or(0).to_string()
                                }
                            >
                                {move || {
                                    state
                                        .model
                                        .worker_memory
                                        .get()
                                        .map(|bytes| {
                                            format!(
                                                " · {}",
                                                trf(
                                                    "picker.worker_mb",
                                                    &[("mb", &format!("{:.0}", bytes as f64 / 1e6))],
                                                ),
                                            )
                                        })
                                }}
                            </span>
                            <span
                                data-testid="worker-threads"
                                data-threads=move || state.model.read(1, |c| c.threads).to_string()
                            >
                                {move || {
                                    let threads = state.model.read(1, |c| c.threads);
                                    (threads > 1)
                                        .then(|| {
                                            format!(
                                                " · {}",
                                                trf("picker.threads", &[("threads", &threads)]),
                                            )
                                        })
                                }}
                            </span>
                        </div>
                        {card
                            .warnings
                            .iter()
                            .map(|warning| {
                                view! {
                                    <div class="notice" role="status" data-testid="model-warning">
                                        {warning.words(i18n::current())}
                                    </div>
                                }
                            })
                            .collect_view()}
                        {(!card.has_prediction_head)
                            .then(|| {
                                view! { <div class="hint">{move || tr("picker.no_head")}</div> }
                            })}
                    }
                        .into_any()
                }
                None => view! { <span class="muted">{move || tr("picker.none")}</span> }.into_any(),
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
    let file = if progress.from_cache {
        trf("loader.from_cache", &[("file", &progress.file)])
    } else {
        progress.file.clone()
    };
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
            trf(
                "picker.progress",
                &[
                    ("file", &file),
                    ("mb", &format!("{mb:.1}")),
                    ("total", &format!("{:.1}", total / 1e6)),
                    (
                        "percent",
                        &format!("{:.0}", 100.0 * progress.loaded / total),
                    ),
                    ("speed", &format!("{speed:.1}")),
                    ("left", &format!("{left:.0}")),
                ],
            )
        }
        _ if progress.loaded > 0.0 => trf(
            "picker.progress_unknown",
            &[
                ("file", &file),
                ("mb", &format!("{mb:.1}")),
                ("speed", &format!("{speed:.1}")),
            ],
        ),
        _ => file,
    }
}

/// The download progress bar with its cancel button.
#[component]
fn LoadProgress() -> impl IntoView {
    let state = use_state();
    let loader = use_loader();
    let retry = move |source: ModelSource| {
        state.view.error.set(None);
        loader.spawn(loader.open_with_offline_fallback(source));
    };
    view! {
        {move || match state.model.load.get() {
            LoadStatus::Downloading(progress) => {
                let percent = progress
                    .total
                    .filter(|t| *t > 0.0)
                    .map(|t| 100.0 * progress.loaded / t);
                view! {
                    <div class="progress" data-testid="progress">
                        <progress
                            max="100"
                            value=percent.map(|p| p.to_string())
                            aria-label=move || tr("picker.download_progress")
                        ></progress>
                        <span>{describe_progress(&progress)}</span>
                        <button
                            on:click=move |_| loading::cancel_download()
                            data-testid="cancel-download"
                        >
                            {move || tr("picker.cancel")}
                        </button>
                    </div>
                }
                    .into_any()
            }
            LoadStatus::Building => {
                view! {
                    <div class="progress" data-testid="progress">
                        <progress aria-label=move || tr("picker.building")></progress>
                        {move || format!(" {}", tr("picker.building"))}
                    </div>
                }
                    .into_any()
            }
            LoadStatus::Failed(problem) => {
                view! {
                    <div class="load-failed" data-testid="load-failed">
                        {move || trf("picker.failed", &[("message", &problem.describe())])}
                        {move || {
                            state
                                .model
                                .source
                                .get()
                                .map(|source| {
                                    view! {
                                        " "
                                        <button
                                            data-testid="retry-load"
                                            on:click=move |_| retry(source.clone())
                                        >
                                            {move || tr("picker.retry")}
                                        </button>
                                    }
                                })
                        }}
                    </div>
                }
                    .into_any()
            }
            LoadStatus::Idle | LoadStatus::Ready => ().into_any(),
        }}
    }
}

/// What the browser cache holds, and a button to clear it.
#[component]
fn CacheControl() -> impl IntoView {
    let cached = RwSignal::new(Vec::<String>::new());
    // `try_set` after an await: the list may have closed (a new model) while the cache answered.
    let refresh = move || {
        spawn_local(async move {
            cached.try_set(loading::cached_urls().await);
        })
    };
    // A model that loaded has just put its files in the cache.
    let card = use_state().model.card;
    Effect::new(move |_| {
        card.track();
        refresh();
    });
    view! {
        <div class="source-row cache">
            <span data-testid="cache-count">
                {move || trf("picker.cached", &[("count", &cached.with(|c| c.len()))])}
            </span>
            <button on:click=move |_| refresh()>{move || tr("picker.refresh")}</button>
            <button
                data-testid="clear-cache"
                on:click=move |_| spawn_local(async move {
                    loading::clear_cache().await;
                    cached.try_set(loading::cached_urls().await);
                })
            >
                {move || tr("picker.clear_cache")}
            </button>
            <p data-testid="offline-models">
                {move || {
                    let names = cached.with(|urls| offline_models(urls));
                    match names.is_empty() {
                        true => tr("picker.no_offline_models"),
                        false => trf("picker.offline_models", &[("names", &names.join(", "))]),
                    }
                }}
            </p>
            <ul class="cached">
                <For each=move || cached.get() key=|url| url.clone() let:url>
                    <li>{url}</li>
                </For>
            </ul>
        </div>
    }
}
