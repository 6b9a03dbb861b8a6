//! The teacher's and student's ways into lessons: the tour button, the site's lessons menu,
//! and "Record a lesson" (in the embed dialog).
use leptos::prelude::*;

use crate::i18n::{current, tr, trf};
use crate::lesson::draft::{draft, DraftWords};
use crate::lesson::LessonLink;
use crate::link::LinkView;
use crate::loading::fetch_text;
use crate::state::{use_state, Message};
use crate::url::current_view;
use crate::widgets::save_text;

/// The button that starts the guided tour.
#[component]
pub fn TourButton() -> impl IntoView {
    let lesson = use_state().view.lesson;
    view! {
        <button
            class="copy-link embed-button"
            data-testid="tour-start"
            on:click=move |_| lesson.set(Some(LessonLink::Tour { step: 0 }))
        >
            {move || tr("lesson.tour")}
        </button>
    }
}

/// A lesson the site lists in `lessons/index.json` (written by `scripts/lesson-index.mjs`).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
struct ListedLesson {
    file: String,
    title: String,
    #[serde(default)]
    language: String,
}

/// The site's lessons, the page's language first; empty when the site lists none.
#[component]
pub fn LessonMenu() -> impl IntoView {
    let state = use_state();
    let listed: RwSignal<Vec<ListedLesson>> = RwSignal::new(Vec::new());
    leptos::task::spawn_local(async move {
        // A site without lessons has no index: the menu stays hidden.
        if let Ok(text) = fetch_text("lessons/index.json").await {
            let _ = listed.try_set(serde_json::from_str(&text).unwrap_or_default());
        }
    });
    let ordered = move || {
        let lang = crate::link::link_code(current());
        let mut lessons = listed.get();
        lessons.sort_by_key(|l| l.language != lang);
        lessons
    };
    let open = move |ev| {
        let file = event_target_value(&ev);
        if !file.is_empty() {
            let path = format!("lessons/{file}");
            state
                .view
                .lesson
                .set(Some(LessonLink::File { path, step: 0 }));
        }
    };
    move || {
        (!listed.with(Vec::is_empty)).then(|| {
            view! {
                <select
                    class="copy-link embed-button"
                    data-testid="lesson-menu"
                    aria-label=move || tr("lesson.menu")
                    prop:value=""
                    on:change=open
                >
                    <option value="">{move || tr("lesson.menu")}</option>
                    {ordered()
                        .into_iter()
                        .map(|lesson| {
                            let label = match lesson.language.is_empty() {
                                true => lesson.title.clone(),
                                false => format!("{} ({})", lesson.title, lesson.language),
                            };
                            view! { <option value=lesson.file.clone()>{label}</option> }
                        })
                        .collect_view()}
                </select>
            }
        })
    }
}

/// "Record a lesson": adds the view on screen as the next step of a draft lesson file, and
/// downloads the draft (`lesson::draft`). `recorded` is owned by the page's navigation, so the
/// draft outlives the dialog.
#[component]
pub fn LessonRecorder(recorded: RwSignal<Vec<LinkView>>) -> impl IntoView {
    let state = use_state();
    let count = move || recorded.with(Vec::len);
    let record = move |_| recorded.update(|views| views.push(current_view(state)));
    let download = move |_| {
        let words = DraftWords {
            title: tr("lesson.draft_title"),
            step: tr("lesson.draft_step"),
            body: tr("lesson.draft_body"),
        };
        let file = recorded.with(|views| draft(current(), views, &words));
        if let Err(problem) = save_text("my-lesson.md", "text/markdown", &file) {
            state
                .view
                .add_notice(Message::new("lesson.no_download", &[("problem", &problem)]));
        }
    };
    view! {
        <section class="lesson-recorder" data-testid="lesson-recorder">
            <h3>{move || tr("lesson.record_title")}</h3>
            <p class="muted">{move || tr("lesson.record_explain")}</p>
            <button data-testid="record-step" on:click=record>
                {move || trf("lesson.record_step", &[("n", &(count() + 1))])}
            </button>
            " "
            <button data-testid="download-lesson" prop:disabled=move || count() == 0 on:click=download>
                {move || trf("lesson.download", &[("steps", &count())])}
            </button>
            " "
            <button
                data-testid="clear-draft"
                prop:disabled=move || count() == 0
                on:click=move |_| recorded.set(Vec::new())
            >
                {move || tr("lesson.clear_draft")}
            </button>
        </section>
    }
}
