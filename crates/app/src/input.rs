//! The text box, example sentences and the token chips that set the shared hovered/pinned token.
use leptos::prelude::*;

use super::i18n::{tr, trf};
use super::state::{use_state, Lock, TraceTiming};
use super::widgets::IndexSelect;
use ae_messages::ModelCard;

/// Example sentences for decoders (next-token prediction).
const DECODER_EXAMPLES: [&str; 3] = [
    "The cat sat on the mat because it was tired.",
    "Paris is the capital of France, and Berlin is the capital of",
    "After the long meeting, the students finally went",
];
/// Example sentences for masked language models.
const MASKED_EXAMPLES: [&str; 3] = [
    "The capital of France is [MASK].",
    "The cat sat on the [MASK] because it was tired.",
    "She opened the door and [MASK] into the room.",
];
/// Example sentences for encoders without a prediction head.
const ENCODER_EXAMPLES: [&str; 3] = [
    "The animal didn't cross the street because it was too tired.",
    "The cat sat on the mat.",
    "Attention lets every word look at every other word.",
];

/// Example sources for encoder–decoders: dates the offline translator knows, and a sentence
/// for the Hub's translators.
const TRANSLATION_EXAMPLES: [&str; 3] = [
    "the twenty first of march nineteen ninety nine",
    "march the fourth two thousand and eight",
    "The house is wonderful.",
];

fn examples_for(card: &ModelCard) -> [&'static str; 3] {
    let masked = card.has_prediction_head && card.mask_token.is_some();
    match (card.decoder.is_some(), card.causal, masked) {
        (true, _, _) => TRANSLATION_EXAMPLES,
        (false, true, _) => DECODER_EXAMPLES,
        (false, false, true) => MASKED_EXAMPLES,
        (false, false, false) => ENCODER_EXAMPLES,
    }
}

/// The text input with its tokens.
#[component]
pub fn TextInput() -> impl IntoView {
    let state = use_state();
    let text = state.text;
    let examples = move || state.model.read(None, |card| Some(examples_for(card)));
    // A new model starts from its first example unless the user typed their own text.
    Effect::new(move |_| {
        if let Some(list) = examples() {
            let current = text.text.get_untracked();
            let is_example = [
                DECODER_EXAMPLES,
                MASKED_EXAMPLES,
                ENCODER_EXAMPLES,
                TRANSLATION_EXAMPLES,
            ]
            .iter()
            .flatten()
            .any(|e| *e == current);
            if text.from_link.get_untracked() {
                text.from_link.set(false);
            } else if current.trim().is_empty() || is_example {
                text.text.set(list[0].to_string());
            }
        }
    });
    let locked = move || state.view.locked(Lock::Text);
    let typed = move |ev| {
        state.selection.forget_tokens();
        text.generated.set(Vec::new());
        text.text.set(event_target_value(&ev))
    };
    let example_button = move |example: &'static str| {
        let choose = move |_| {
            text.generated.set(Vec::new());
            text.text.set(example.to_string())
        };
        view! {
            <button class="example" on:click=choose>
                {example}
            </button>
        }
    };
    let truncated = move || {
        let max = state.model.read(0, |c| c.max_positions);
        text.truncated_from()
            .map(|count| trf("input.truncated", &[("count", &count), ("max", &max)]))
    };
    view! {
        <section class="text-input" aria-label=move || tr("input.label")>
            <label for="text">
                {move || {
                    tr(
                        if state.model.is_encoder_decoder() {
                            "input.source"
                        } else {
                            "input.sentence"
                        },
                    )
                }}
            </label>
            <textarea
                id="text"
                data-testid="text"
                rows="2"
                prop:readOnly=locked
                prop:value=move || text.text.get()
                on:input=typed
            ></textarea>
            <div class="examples" class:hidden=locked>
                {move || examples().map(|list| list.into_iter().map(example_button).collect_view())}
            </div>
            <Show when=move || state.model.is_loaded() && text.text.with(|t| t.trim().is_empty())>
                <p class="hint" data-testid="empty-hint">
                    {move || tr("input.empty")}
                </p>
            </Show>
            {move || {
                truncated()
                    .map(|notice| {
                        view! {
                            <p class="notice" data-testid="truncated">
                                {notice}
                            </p>
                        }
                    })
            }}
            <TokenChips />
            // An encoder–decoder's layers and heads are chosen per attention in its panel.
            <Show when=move || !state.model.is_encoder_decoder()>
                <Selection />
            </Show>
        </section>
    }
}

/// What one chip shows: position, id, text, and whether it is a special token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Chip {
    index: usize,
    id: u32,
    token: String,
    special: bool,
}

/// One token; hover or focus sets the shared hovered token, click or Enter pins it.
#[component]
fn TokenChip(chip: Chip) -> impl IntoView {
    let selection = use_state().selection;
    let Chip {
        index,
        id,
        token,
        special,
    } = chip;
    let toggle_pin = move || {
        selection
            .pinned
            .update(|p| *p = if *p == Some(index) { None } else { Some(index) })
    };
    let title = move || trf("input.token_title", &[("position", &index), ("id", &id)]);
    let label = {
        let token = token.clone();
        move || {
            trf(
                "input.token_label",
                &[("token", &token), ("position", &index), ("id", &id)],
            )
        }
    };
    view! {
        <span
            class="token"
            class:special=special
            tabindex="0"
            role="button"
            data-testid="token"
            data-index=index
            title=title
            aria-label=label
            class:hovered=move || selection.hovered.get() == Some(index)
            class:pinned=move || selection.pinned.get() == Some(index)
            aria-pressed=move || (selection.pinned.get() == Some(index)).to_string()
            on:mouseenter=move |_| selection.hovered.set(Some(index))
            on:focus=move |_| selection.hovered.set(Some(index))
            on:mouseleave=move |_| selection.hovered.set(None)
            on:click=move |_| toggle_pin()
            on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                if ev.key() == "Enter" || ev.key() == " " {
                    ev.prevent_default();
                    toggle_pin();
                }
            }
        >
            {token}
        </span>
    }
}

/// The text's tokens as chips, keyed: typing redraws only the chips that changed.
#[component]
fn TokenChips() -> impl IntoView {
    let state = use_state();
    let chips = move || {
        state.text.with_tokens(|tokens| {
            let Some(tokens) = tokens else {
                return Vec::new();
            };
            let chip = |(index, token): (usize, &String)| Chip {
                index,
                id: tokens.ids[index],
                token: token.clone(),
                special: tokens.special[index],
            };
            tokens.tokens.iter().enumerate().map(chip).collect()
        })
    };
    let timing = move || state.text.timing().filter(|_| state.text.token_count() > 0);
    view! {
        <div class="tokens" data-testid="tokens" role="group" aria-label=move || tr("input.tokens")>
            <For each=chips key=|chip| chip.clone() let:chip>
                <TokenChip chip=chip />
            </For>
            <Show when=move || state.client.busy.get()>
                <span class="busy" aria-live="polite">
                    {move || tr("input.computing")}
                </span>
            </Show>
            <span
                class="muted trace-time"
                data-testid="trace-time"
                data-ms=move || timing().map_or(-1.0, |t| t.compute_ms).to_string()
                data-read-ms=move || timing().map_or(-1.0, |t| t.read_ms).to_string()
                data-kept=move || timing().map_or(0, |t| t.kept_tokens).to_string()
            >
                {move || timing().map(trace_time)}
            </span>
        </div>
    }
}

/// "traced in 40 ms", and when the trace extended the one before, what it kept.
fn trace_time(timing: TraceTiming) -> String {
    let ms = format!("{:.0}", timing.compute_ms);
    match timing.kept_tokens {
        0 => trf("input.traced", &[("ms", &ms)]),
        kept => {
            let new = timing.tokens.saturating_sub(kept);
            trf(
                "input.traced_extended",
                &[("ms", &ms), ("new", &new), ("kept", &kept)],
            )
        }
    }
}

/// Layer and head pickers and the current query token.
#[component]
fn Selection() -> impl IntoView {
    let state = use_state();
    let selection = state.selection;
    let layers = move || state.model.read(0, |c| c.n_layer);
    let heads = move || state.model.read(0, |c| c.n_head);
    view! {
        <div class="selection">
            <IndexSelect
                label="input.layer"
                value=selection.layer
                count=Signal::derive(layers)
                locked=Signal::derive(move || state.view.locked(Lock::Layer))
                testid="layer"
            />
            <IndexSelect
                label="input.head"
                value=selection.head
                count=Signal::derive(heads)
                locked=Signal::derive(move || state.view.locked(Lock::Head))
                testid="head"
            />
            <span class="query" data-testid="query-token">
                {move || {
                    let index = state.query_token()?;
                    let token = state.text.with_tokens(|t| t?.tokens.get(index).cloned())?;
                    let key = if selection.pinned.get().is_some() {
                        "input.query_pinned"
                    } else {
                        "input.query"
                    };
                    Some(trf(key, &[("token", &token), ("position", &index)]))
                }}
            </span>
        </div>
    }
}
