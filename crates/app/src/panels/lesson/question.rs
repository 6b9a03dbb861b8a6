//! A predict-then-reveal question on the page: the question, a button per choice, and after a
//! click the model's answer with its number and the student's score. "Test yourself" asks one
//! about the current view; a lesson step asks its own.
use leptos::prelude::*;

use crate::i18n::{tr, trf};
use crate::lesson::question::{choice_label, Ask, Choices, Score};
use crate::lesson::values::{find_token, plain_token};
use crate::panels::analyses::{self, first_candidates, for_this_trace, predictions_while};
use crate::panels::step_through::number;
use crate::state::{use_state, AppState};

/// Where the score is kept (this browser only).
const SCORE_KEY: &str = "attention-explorer.questions";

/// What a question can offer now.
#[derive(Debug, Clone, PartialEq)]
enum Offer {
    /// The numbers it needs are on their way.
    Waiting,
    /// It cannot be asked of this text and model: why, in the page's language.
    Cannot(String),
    Ready(Choices),
}

/// The browser's local storage; `None` where it keeps nothing (private mode, storage off),
/// and the score is then just forgotten.
fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn stored_score() -> Score {
    let stored = local_storage().and_then(|s| s.get_item(SCORE_KEY).ok().flatten());
    Score::from_stored(&stored.unwrap_or_default())
}

fn store_score(score: Score) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(SCORE_KEY, &score.to_stored());
    }
}

/// The query token a question about attention asks of: `from`, else the page's query token.
fn asked_query(state: AppState, from: &Option<String>) -> Result<usize, String> {
    let tokens = state.text.traced_tokens();
    match from {
        Some(word) => find_token(&tokens, word)
            .ok_or_else(|| trf("lesson.token_not_in_text", &[("token", word)])),
        None => state.query_token().ok_or_else(|| tr("lesson.no_tokens")),
    }
}

/// The choices for "which token does the query attend to most".
fn attended_offer(state: AppState, from: &Option<String>) -> Offer {
    let Some(trace) = state.text.page_trace() else {
        return Offer::Waiting;
    };
    let query = match asked_query(state, from) {
        Ok(query) => query,
        Err(why) => return Offer::Cannot(why),
    };
    let (layer, head) = (state.selection.layer.get(), state.selection.head.get());
    let Some(row) = trace.attentions.row(&[layer, head, query]) else {
        return Offer::Cannot(tr("lesson.no_such_head"));
    };
    let visible = (0..row.len())
        .filter(|&key| !trace.is_masked(query, key))
        .count();
    match Choices::attended(&trace.tokens, row, visible) {
        Some(choices) => Offer::Ready(choices),
        None => Offer::Cannot(tr("question.first_token")),
    }
}

/// The question, its choices, the answer once chosen, and the score.
#[component]
pub fn QuestionCard(#[prop(into)] ask: Signal<Ask>) -> impl IntoView {
    let state = use_state();
    let predicts = move || state.model.read(false, |c| c.has_prediction_head);
    let wants = move |kind: &'static str| Signal::derive(move || ask.with(|a| a.kind() == kind));
    let predicted = predictions_while(state, wants("next"));
    let saliency = analyses::saliency(state, wants("salient"));
    let offer = Memo::new(move |_| match ask.get() {
        Ask::Attended { from } => attended_offer(state, &from),
        _ if !predicts() => Offer::Cannot(tr("lesson.no_predictions")),
        Ask::Next => match for_this_trace(state, predicted) {
            None => Offer::Waiting,
            Some(result) => Choices::next(&first_candidates(&result))
                .map_or_else(|| Offer::Cannot(tr("lesson.no_predictions")), Offer::Ready),
        },
        Ask::Salient => match for_this_trace(state, saliency) {
            None => Offer::Waiting,
            Some(found) => Choices::salient(&state.text.traced_tokens(), &found.scores)
                .map_or_else(|| Offer::Cannot(tr("lesson.no_tokens")), Offer::Ready),
        },
    });
    let prompt = move || match ask.get() {
        Ask::Attended { from } => {
            let token = match asked_query(state, &from) {
                Ok(query) => state
                    .text
                    .traced_tokens()
                    .get(query)
                    .cloned()
                    .unwrap_or_default(),
                Err(_) => from.unwrap_or_default(),
            };
            trf(
                "question.attended",
                &[
                    ("token", &plain_token(&token)),
                    ("layer", &(state.selection.layer.get() + 1)),
                    ("head", &(state.selection.head.get() + 1)),
                ],
            )
        }
        Ask::Next if state.model.read(true, |c| c.causal) => tr("question.next"),
        Ask::Next => tr("question.fill"),
        Ask::Salient => match for_this_trace(state, saliency) {
            Some(found) => trf(
                "question.salient",
                &[("token", &plain_token(&found.target_token))],
            ),
            None => tr("question.salient_waiting"),
        },
    };
    let score = RwSignal::new(stored_score());
    let keep = move |next: Score| {
        score.set(next);
        store_score(next);
    };
    let answered = move |right: bool| keep(score.get_untracked().answered(right));
    let reset = move |_| keep(Score::default());
    view! {
        <section
            class="question-card"
            data-testid="question"
            data-ask=move || ask.with(|a| a.kind())
            aria-live="polite"
        >
            <p class="question-prompt" data-testid="question-prompt">
                <strong>{move || tr("question.label")}</strong>
                " "
                {prompt}
            </p>
            {move || match offer.get() {
                Offer::Waiting => view! { <p class="muted">"…"</p> }.into_any(),
                Offer::Cannot(why) => {
                    view! {
                        <p class="notice" data-testid="question-cannot">
                            {why}
                        </p>
                    }
                        .into_any()
                }
                Offer::Ready(choices) => view! { <ChoiceButtons choices answered /> }.into_any(),
            }}
            <p class="muted" data-testid="question-score">
                {move || {
                    let Score { right, asked } = score.get();
                    trf("question.score", &[("right", &right), ("asked", &asked)])
                }}
                " "
                <button class="link-button" data-testid="question-reset" on:click=reset>
                    {move || tr("question.reset")}
                </button>
            </p>
        </section>
    }
}

/// A button per choice; once one is chosen, every choice's number and the model's answer.
/// New numbers build new buttons, so a choice belongs to the choices it was made among;
/// `answered(right)` counts it.
#[component]
fn ChoiceButtons(
    choices: Choices,
    answered: impl Fn(bool) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let answer = choices.answer;
    let chosen = RwSignal::new(None::<usize>);
    let choose = move |index: usize| {
        if chosen.get_untracked().is_none() {
            chosen.set(Some(index));
            answered(index == answer);
        }
    };
    let buttons = choices
        .labels
        .iter()
        .zip(&choices.values)
        .enumerate()
        .map(|(index, (label, &value))| {
            let label = choice_label(label).to_string();
            let revealed = move || chosen.get().is_some();
            view! {
                <button
                    class="question-choice"
                    data-testid="question-choice"
                    data-index=index
                    class:chosen=move || chosen.get() == Some(index)
                    class:model-answer=move || revealed() && index == answer
                    aria-pressed=move || (chosen.get() == Some(index)).to_string()
                    prop:disabled=revealed
                    on:click=move |_| choose(index)
                >
                    {label}
                    {move || revealed().then(|| view! { " " {number(value, "choice")} })}
                </button>
            }
        })
        .collect_view();
    let Choices { labels, values, .. } = choices;
    let label = move |index: usize| choice_label(&labels[index]).to_string();
    let (model_label, model_value) = (label(answer), values[answer]);
    let reveal = move || {
        let picked = chosen.get()?;
        let right = picked == answer;
        let said = match right {
            true => trf(
                "question.right",
                &[
                    ("token", &model_label),
                    ("value", &format!("{model_value:.4}")),
                ],
            ),
            false => trf(
                "question.wrong",
                &[
                    ("token", &model_label),
                    ("value", &format!("{model_value:.4}")),
                    ("chosen", &label(picked)),
                    ("chosen_value", &format!("{:.4}", values[picked])),
                ],
            ),
        };
        Some(view! {
            <p
                class="question-reveal"
                data-testid="question-reveal"
                data-right=right.to_string()
                data-answer=answer
                data-value=model_value.to_string()
            >
                {said}
            </p>
        })
    };
    view! {
        <div class="question-choices" role="group">
            {buttons}
        </div>
        {reveal}
    }
}

/// "Test yourself": opens a question about the current view (one-text models).
#[component]
pub fn QuizButton(quiz: RwSignal<Option<usize>>) -> impl IntoView {
    let state = use_state();
    view! {
        <Show when=move || !state.model.is_encoder_decoder()>
            <button
                class="copy-link embed-button"
                data-testid="quiz-start"
                aria-expanded=move || quiz.get().is_some().to_string()
                on:click=move |_| quiz.update(|q| *q = q.is_none().then_some(0))
            >
                {move || tr("question.start")}
            </button>
        </Show>
    }
}

/// The question "Test yourself" asks, with "another question" (the next kind this model can
/// answer) and "close".
#[component]
pub fn QuizCard(quiz: RwSignal<Option<usize>>) -> impl IntoView {
    let state = use_state();
    let predicts = move || state.model.read(false, |c| c.has_prediction_head);
    let ask = Signal::derive(move || match quiz.get().unwrap_or(0) % Ask::KINDS.len() {
        0 => Ask::Attended { from: None },
        1 => Ask::Next,
        _ => Ask::Salient,
    });
    let another = move |_| {
        let kinds = match predicts() {
            true => Ask::KINDS.len(),
            false => 1,
        };
        let next_kind = quiz.get_untracked().map_or(0, |k| (k + 1) % kinds);
        // The attention question comes back about the next token (not the first: in a
        // decoder it sees only itself).
        if next_kind == 0 {
            let count = state.text.token_count();
            let next = state
                .query_token()
                .map_or(1, |q| (q + 1) % count.max(1))
                .max(1);
            state
                .selection
                .pinned
                .set(Some(next.min(count.saturating_sub(1))));
        }
        quiz.set(Some(next_kind));
    };
    view! {
        <Show when=move || quiz.get().is_some() && !state.model.is_encoder_decoder()>
            <div class="quiz-card" data-testid="quiz">
                <QuestionCard ask />
                <div class="lesson-navigation">
                    <button data-testid="quiz-another" on:click=another>
                        {move || tr("question.another")}
                    </button>
                    <button data-testid="quiz-close" on:click=move |_| quiz.set(None)>
                        {move || tr("question.close")}
                    </button>
                </div>
            </div>
        </Show>
    }
}
