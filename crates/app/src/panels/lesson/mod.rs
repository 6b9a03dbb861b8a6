//! The lesson card: the open lesson's step (the guided tour, or a teacher's lesson file), its
//! text with the model's live numbers, and Back / Next / Leave. Showing a step sets its view
//! (`crate::url::apply_step_view`) and outlines the part of the page it talks about (the
//! `data-highlight` attribute on `<html>`, styled in `style/`). What a lesson is: `crate::lesson`.
mod print;
mod question;
mod text;
mod tools;

use leptos::prelude::*;

use super::analyses::{first_candidates, for_this_trace, predictions_while};
use crate::i18n::{current, tr, trf};
use crate::lesson::markdown::{blocks, placeholders};
use crate::lesson::{tour, Highlight, Lesson, LessonError, LessonLink, LessonStep, MAX_STEPS};
use crate::loading::{fetch_text, use_loader};
use crate::sources::{FetchError, ModelSource};
use crate::state::{use_state, AppState, Message};
use question::QuestionCard;
pub use question::{QuizButton, QuizCard};
use text::{blocks_view, missing_values};
pub use tools::{LessonMenu, LessonRecorder, TourButton};

/// A lesson as the card has it: read, still on its way, or not readable (the reason, worded).
#[derive(Debug, Clone, PartialEq)]
enum Opened {
    Ready(Lesson),
    Loading,
    Failed(String),
}

/// The card, while a lesson is open.
#[component]
pub fn LessonCard() -> impl IntoView {
    let state = use_state();
    let open = state.view.lesson;
    let file = lesson_file(state);
    let lesson = Memo::new(move |_| match open.get()? {
        LessonLink::Tour { .. } => Some(Opened::Ready(tour(current()))),
        LessonLink::File { .. } => Some(file.get()),
    });
    let steps = Memo::new(move |_| match lesson.get() {
        Some(Opened::Ready(lesson)) => steps_for_model(state, &lesson),
        _ => Vec::new(),
    });
    let index = Memo::new(move |_| {
        let count = steps.with(Vec::len);
        open.with(|o| o.as_ref().map(LessonLink::step))
            .map(|step| step.min(count.saturating_sub(1)))
    });
    let step = Memo::new(move |_| steps.with(|s| s.get(index.get()?).cloned()));
    let title = Signal::derive(move || match lesson.get() {
        Some(Opened::Ready(lesson)) => lesson.title,
        _ => String::new(),
    });
    show_steps_view(state, step, index);
    outline(step);
    move || {
        let opened = lesson.get()?;
        Some(view! {
            <aside
                class="lesson-card"
                data-testid="lesson-card"
                data-step=move || index.get().map(|i| i + 1)
                aria-live="polite"
            >
                {match opened {
                    Opened::Loading => view! { <p class="muted">{tr("lesson.loading")}</p> }.into_any(),
                    Opened::Failed(reason) => {
                        view! {
                            <p class="error" data-testid="lesson-error">
                                {trf("lesson.cannot_open", &[("reason", &reason)])}
                            </p>
                        }
                            .into_any()
                    }
                    Opened::Ready(lesson) => view! { <StepView lesson step index steps /> }.into_any(),
                }}
                <LessonNavigation steps index title />
            </aside>
        })
    }
}

/// The lesson's steps that fit the loaded model.
fn steps_for_model(state: AppState, lesson: &Lesson) -> Vec<LessonStep> {
    let (causal, encoder_decoder) = state
        .model
        .read((true, false), |card| (card.causal, card.decoder.is_some()));
    lesson
        .steps
        .iter()
        .filter(|step| step.fits(causal, encoder_decoder))
        .cloned()
        .collect()
}

/// A lesson file, fetched when the link names one; its front matter's language, model and text
/// are opened once it is read (but a language or text the same link gives is kept: it is what
/// the student had).
fn lesson_file(state: AppState) -> RwSignal<Opened> {
    let file = RwSignal::new(Opened::Loading);
    let from_link = (
        state.view.lang_from_link.get_untracked(),
        state.text.from_link.get_untracked(),
    );
    let keep_linked = StoredValue::new(from_link);
    let path = Memo::new(move |_| match state.view.lesson.get()? {
        LessonLink::File { path, .. } => Some(path),
        LessonLink::Tour { .. } => None,
    });
    let loader = use_loader();
    Effect::new(move |_| {
        let Some(path) = path.get() else {
            return;
        };
        file.set(Opened::Loading);
        leptos::task::spawn_local(async move {
            let read = match fetch_text(&path).await {
                Err(FetchError::NotFound { .. }) => {
                    Opened::Failed(trf("lesson.not_found", &[("path", &path)]))
                }
                Err(error) => Opened::Failed(error.describe()),
                Ok(text) => match Lesson::parse(&text) {
                    Err(error) => Opened::Failed(lesson_error(&error)),
                    Ok(lesson) => {
                        let keep = keep_linked.get_value();
                        keep_linked.set_value((false, false));
                        open_front_matter(state, loader, &lesson, keep);
                        Opened::Ready(lesson)
                    }
                },
            };
            let _ = file.try_set(read);
        });
    });
    file
}

/// Why a lesson file cannot be read, in the page's language.
fn lesson_error(error: &LessonError) -> String {
    match error {
        LessonError::TooLarge { bytes } => trf(
            "lesson.too_large",
            &[
                ("bytes", bytes),
                ("max", &crate::lesson::format::MAX_LESSON_BYTES),
            ],
        ),
        LessonError::NoSteps => tr("lesson.no_steps"),
        LessonError::TooManySteps { steps } => trf(
            "lesson.too_many_steps",
            &[("steps", steps), ("max", &MAX_STEPS)],
        ),
    }
}

/// Shows the page in the lesson's language and opens its model (when it names another) and
/// text, except the language and the text `keep` says the link gave.
fn open_front_matter(
    state: AppState,
    loader: crate::loading::Loader,
    lesson: &Lesson,
    (keep_lang, keep_text): (bool, bool),
) {
    if let Some(lang) = lesson.language.filter(|_| !keep_lang) {
        state.view.lang.set(lang);
    }
    if let Some(text) = lesson.text.as_ref().filter(|_| !keep_text) {
        state.text.text.set(text.clone());
        // Like a linked text, it stays when the model loads, even if it is one of the
        // examples (which a new model replaces with its own).
        state.text.from_link.set(true);
    }
    let Some(model) = &lesson.model else {
        return;
    };
    match ModelSource::from_link(model) {
        Some(source) if state.model.source.get_untracked().as_ref() != Some(&source) => {
            loader.spawn(loader.open(source));
        }
        Some(_) => {}
        None => state
            .view
            .add_notice(Message::new("app.bad_model", &[("model", model)])),
    }
}

/// Applies a step's view when the step or the model changes (not when the language does).
fn show_steps_view(state: AppState, step: Memo<Option<LessonStep>>, index: Memo<Option<usize>>) {
    let shown = Memo::new(move |_| {
        (
            index.get(),
            state.model.loaded(),
            step.with(Option::is_some),
        )
    });
    Effect::new(move |_| {
        let (Some(_), Some(_), true) = shown.get() else {
            return;
        };
        let Some(step) = step.get_untracked() else {
            return;
        };
        crate::url::apply_step_view(state, &step.view.view);
        if let Some(part) = step.highlight {
            scroll_to(part);
        }
        if !step.view.ignored.is_empty() {
            let ignored = step.view.ignored.join(", ");
            let notice = Message::new("lesson.view_ignored", &[("parameters", &ignored)]);
            state.view.add_notice(notice);
        }
    });
}

/// Scrolls the part a step outlines into view once the step's panel is drawn (the card stays
/// above it: the outlined elements have a top scroll margin).
fn scroll_to(part: Highlight) {
    set_timeout(
        move || {
            let element = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.query_selector(part.selector()).ok().flatten());
            if let Some(element) = element {
                let options = web_sys::ScrollIntoViewOptions::new();
                options.set_block(web_sys::ScrollLogicalPosition::Nearest);
                element.scroll_into_view_with_scroll_into_view_options(&options);
            }
        },
        std::time::Duration::from_millis(150),
    );
}

/// Keeps `<html data-highlight>` naming the part the step outlines.
fn outline(step: Memo<Option<LessonStep>>) {
    Effect::new(move |_| {
        let highlight = step.with(|s| s.as_ref().and_then(|s| s.highlight));
        let Some(root) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
        else {
            return;
        };
        let _ = match highlight {
            Some(part) => root.set_attribute("data-highlight", part.name()),
            None => root.remove_attribute("data-highlight"),
        };
    });
}

/// The lesson's title, its introduction (on the first step), the step's title and text, and
/// what could not be filled in.
#[component]
fn StepView(
    lesson: Lesson,
    step: Memo<Option<LessonStep>>,
    index: Memo<Option<usize>>,
    steps: Memo<Vec<LessonStep>>,
) -> impl IntoView {
    let state = use_state();
    // The step's text, read once per step: its live numbers re-render, it is not re-read.
    let read = Memo::new(move |_| step.with(|s| s.as_ref().map(|s| blocks(&s.body))));
    let wanted =
        Memo::new(move |_| read.with(|r| r.as_deref().map(placeholders).unwrap_or_default()));
    let wants_predictions = Signal::derive(move || {
        wanted.with(|p| p.iter().any(|p| p.name == "top1" || p.name == "prob"))
    });
    let predicted = predictions_while(state, wants_predictions);
    let candidates = Memo::new(move |_| {
        for_this_trace(state, predicted).map(|result| first_candidates(&result))
    });
    let counter = move || {
        let count = steps.with(Vec::len);
        index
            .get()
            .map(|i| trf("lesson.step_of", &[("step", &(i + 1)), ("steps", &count)]))
    };
    let body = move || {
        let title = step.with(|s| s.as_ref().map(|s| s.title.clone()))?;
        let read = read.get()?;
        let missing = move || wanted.with(|p| missing_values(state, p, candidates));
        let question = step.with(|s| s.as_ref().and_then(|s| s.question.clone()));
        Some(view! {
            <h2 data-testid="lesson-step-title">{title}</h2>
            <div class="lesson-body" data-testid="lesson-body">
                {blocks_view(read, candidates)}
            </div>
            {move || {
                let missing = missing();
                (!missing.is_empty())
                    .then(|| {
                        view! {
                            <p class="notice" data-testid="lesson-missing">
                                {trf("lesson.missing", &[("reasons", &missing.join(&tr("list.separator")))])}
                            </p>
                        }
                    })
            }}
            {question.map(|ask| view! { <QuestionCard ask=Signal::stored(ask) /> })}
        })
    };
    let introduction = blocks(&lesson.introduction);
    let has_introduction = !introduction.is_empty();
    let introduction = move || {
        (has_introduction && index.get() == Some(0)).then(|| {
            view! {
                <div class="lesson-body" data-testid="lesson-introduction">
                    {blocks_view(introduction.clone(), candidates)}
                </div>
            }
        })
    };
    view! {
        <p class="lesson-title">
            <strong>{lesson.title.clone()}</strong>
            " · "
            <span data-testid="lesson-counter">{counter}</span>
        </p>
        {move || match steps.with(Vec::is_empty) {
            true => Some(view! { <p class="muted">{tr("lesson.no_steps_for_model")}</p> }),
            false => None,
        }}
        {introduction}
        {body}
    }
}

/// Back, Next and Leave.
#[component]
fn LessonNavigation(
    steps: Memo<Vec<LessonStep>>,
    index: Memo<Option<usize>>,
    title: Signal<String>,
) -> impl IntoView {
    let open = use_state().view.lesson;
    let count = move || steps.with(Vec::len);
    let go = move |delta: isize| {
        let Some(at) = index.get_untracked() else {
            return;
        };
        let next = at
            .saturating_add_signed(delta)
            .min(count().saturating_sub(1));
        open.update(|o| *o = o.as_ref().map(|link| link.at(next)));
    };
    // With no step, `outline` drops the page's outline.
    let leave = move |_| open.set(None);
    let first = move || index.get().is_none_or(|i| i == 0);
    let last = move || index.get().is_none_or(|i| i + 1 >= count());
    view! {
        <div class="lesson-navigation">
            <button data-testid="lesson-back" prop:disabled=first on:click=move |_| go(-1)>
                {move || tr("lesson.back")}
            </button>
            <button data-testid="lesson-next" prop:disabled=last on:click=move |_| go(1)>
                {move || tr("lesson.next")}
            </button>
            <button data-testid="lesson-leave" on:click=leave>
                {move || tr("lesson.leave")}
            </button>
            <print::PrintButton count=Signal::derive(count) title />
        </div>
    }
}
