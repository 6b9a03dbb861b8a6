//! The attention step-through for one layer, head and query token, with the model's real
//! numbers from the trace: Q/K/V → scores → ÷√dₖ → mask → softmax → weighted sum → output.
//! The same steps show a one-text model's self-attention and each of an encoder–decoder's
//! three attentions ([`HeadNumbers`]). Every shown number carries its exact value in
//! `data-value` (and a tooltip).
mod block_pages;
mod numbers;
mod pages;

use leptos::prelude::*;

pub use numbers::{BlockNumbers, HeadNumbers};
pub(crate) use pages::number;

use crate::i18n::{tr, trf};
use crate::state::{use_state, Step};

/// The one-text step-through: the selected layer and head, the query token of the selection.
#[component]
pub fn StepThrough() -> impl IntoView {
    let state = use_state();
    let numbers = Memo::new(move |_| {
        let trace = state.text.page_trace()?;
        let detail = state.selected_layer_trace()?;
        let query = state.query_token()?;
        let mut numbers = HeadNumbers::of_text(&trace, &detail, state.selection.head.get(), query)?;
        let (card, has_head) = state.model.read(((None, 0.0), false), |c| {
            ((c.activation, c.norm_eps), c.has_prediction_head)
        });
        numbers.block = BlockNumbers::of_layer(&trace, &detail, query, card, has_head);
        Some(numbers)
    });
    let waiting = Signal::derive(move || {
        if state.text.is_traced() {
            trf(
                "step.loading_layer",
                &[("layer", &(state.selection.layer.get() + 1))],
            )
        } else {
            tr("step.empty")
        }
    });
    view! {
        <h2>{move || tr("panel.step")}</h2>
        <Stepper numbers=numbers.into() waiting />
    }
}

/// Step controls, the current step and its content; `waiting` is shown while there are no
/// numbers.
#[component]
pub fn Stepper(numbers: Signal<Option<HeadNumbers>>, waiting: Signal<String>) -> impl IntoView {
    let step = use_state().selection.step;
    let playing = RwSignal::new(false);
    // The key whose arithmetic the formulas show: the hovered row, else the most attended key.
    let focus_key = RwSignal::new(None::<usize>);
    // Attention's seven steps, the block's four more where the numbers have them, and the
    // prediction head after the last block.
    let count = move || {
        numbers.with(|n| match n.as_ref().and_then(|n| n.block.as_ref()) {
            Some(block) if block.head_input.is_some() => Step::ALL.len(),
            Some(_) => Step::BLOCK,
            None => Step::ATTENTION,
        })
    };
    let go = move |delta: isize| step.update(|s| *s = s.moved(delta, count()));
    // Play advances one step a second until the last. The loop outlives a sleep, so it reads
    // `playing` with `try_`: when the panel closes (another tab, a new model) the signal is
    // disposed and playing simply stops.
    Effect::new(move |_| {
        if playing.get() {
            leptos::task::spawn_local(async move {
                let still_playing = || playing.try_get_untracked() == Some(true);
                while still_playing() && !step.get_untracked().is_last(untrack(count)) {
                    crate::clock::sleep_ms(1000).await;
                    if still_playing() {
                        go(1);
                    }
                }
                playing.try_set(false);
            });
        }
    });
    let on_key = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "ArrowRight" => {
            ev.prevent_default();
            go(1)
        }
        "ArrowLeft" => {
            ev.prevent_default();
            go(-1)
        }
        " " => {
            ev.prevent_default();
            playing.update(|p| *p = !*p)
        }
        _ => {}
    };
    view! {
        <div
            class="stepper"
            tabindex="0"
            role="group"
            data-testid="stepper"
            on:keydown=on_key
            aria-label=move || tr("step.stepper_label")
        >
            <button
                data-testid="step-prev"
                on:click=move |_| go(-1)
                prop:disabled=move || step.get() == Step::Vectors
            >
                {move || tr("step.prev")}
            </button>
            <button data-testid="step-play" on:click=move |_| playing.update(|p| *p = !*p)>
                {move || if playing.get() { tr("step.pause") } else { tr("step.play") }}
            </button>
            <button
                data-testid="step-next"
                on:click=move |_| go(1)
                prop:disabled=move || step.get().is_last(count())
            >
                {move || tr("step.next")}
            </button>
            <ol class="step-list" data-testid="step-list">
                {move || {
                    Step::ALL[..count()]
                        .iter()
                        .map(|&s| {
                            view! {
                                <li class:current=move || step.get() == s>
                                    <button
                                        on:click=move |_| step.set(s)
                                        aria-current=move || (step.get() == s).then_some("step")
                                    >
                                        {move || {
                                            format!("{}. {}", s.number(), step_name(s, numbers))
                                        }}
                                    </button>
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ol>
        </div>
        <div
            class="step-body"
            data-testid=move || format!("step-{}", step.get().number())
            aria-live="polite"
        >
            {move || match numbers.get() {
                None => view! { <p class="muted">{waiting}</p> }.into_any(),
                Some(numbers) => pages::step_content(numbers, step.get(), focus_key).into_any(),
            }}
        </div>
    }
}

/// A step's name; the third says what the model does instead of dividing by √dₖ (T5).
fn step_name(step: Step, numbers: Signal<Option<HeadNumbers>>) -> String {
    let unscaled = numbers.with(|n| {
        n.as_ref()
            .filter(|n| n.scale().is_none())
            .map(|n| n.bias.is_some())
    });
    match (step, unscaled) {
        (Step::Scale, Some(true)) => tr("step.name3_bias"),
        (Step::Scale, Some(false)) => tr("step.name3_unscaled"),
        _ => tr(step.name_key()),
    }
}
