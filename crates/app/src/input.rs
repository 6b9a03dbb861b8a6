//! The text box, example sentences and the token chips that set the shared hovered/pinned token.
use leptos::prelude::*;

use super::i18n::{tr, trf};
use super::state::{use_state, Lock};

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

fn examples_for(causal: bool, masked: bool) -> [&'static str; 3] {
    match (causal, masked) {
        (true, _) => DECODER_EXAMPLES,
        (false, true) => MASKED_EXAMPLES,
        (false, false) => ENCODER_EXAMPLES,
    }
}

/// The text input with its tokens.
#[component]
pub fn TextInput() -> impl IntoView {
    let state = use_state();
    let examples = move || {
        state.model.with(|m| {
            m.as_ref().map(|card| {
                examples_for(
                    card.causal,
                    card.has_prediction_head && card.mask_token.is_some(),
                )
            })
        })
    };
    // A new model starts from its first example unless the user typed their own text.
    Effect::new(move |_| {
        if let Some(list) = examples() {
            let current = state.text.get_untracked();
            let is_example = [DECODER_EXAMPLES, MASKED_EXAMPLES, ENCODER_EXAMPLES]
                .iter()
                .flatten()
                .any(|e| *e == current);
            if state.text_from_link.get_untracked() {
                state.text_from_link.set(false);
            } else if current.trim().is_empty() || is_example {
                state.text.set(list[0].to_string());
            }
        }
    });
    view! {
        <section class="text-input" aria-label=tr("input.label")>
            <label for="text">{tr("input.sentence")}</label>
            <textarea id="text" data-testid="text" rows="2" prop:readOnly=move || state.locked(Lock::Text)
                prop:value=move || state.text.get()
                on:input=move |ev| { state.pinned.set(None); state.hovered.set(None); state.generated.set(Vec::new()); state.text.set(event_target_value(&ev)) }></textarea>
            <div class="examples" class:hidden=move || state.locked(Lock::Text)>
                {move || examples().map(|list| list.iter().map(|example| {
                    let example = example.to_string();
                    let label = example.clone();
                    view! { <button class="example" on:click=move |_| { state.generated.set(Vec::new()); state.text.set(example.clone()) }>{label}</button> }
                }).collect_view())}
            </div>
            <Show when=move || state.model.with(|m| m.is_some()) && state.text.with(|t| t.trim().is_empty())>
                <p class="hint" data-testid="empty-hint">{tr("input.empty")}</p>
            </Show>
            <Show when=move || state.truncated_from.with(|t| t.is_some())>
                <p class="notice" data-testid="truncated">
                    {move || trf(
                        "input.truncated",
                        &[
                            ("count", &state.truncated_from.get().unwrap_or(0)),
                            ("max", &state.model.with(|m| m.as_ref().map_or(0, |c| c.max_positions))),
                        ],
                    )}
                </p>
            </Show>
            <TokenChips/>
            <Selection/>
        </section>
    }
}

/// One chip per token; hover or focus sets the shared hovered token, click pins it.
#[component]
fn TokenChips() -> impl IntoView {
    let state = use_state();
    view! {
        <div class="tokens" data-testid="tokens" role="group" aria-label=tr("input.tokens")>
            {move || state.tokens.get().map(|tokens| {
                tokens.tokens.iter().enumerate().map(|(index, token)| {
                    let special = tokens.special[index];
                    let id = tokens.ids[index];
                    view! {
                        <span class="token" class:special=special tabindex="0" role="button"
                            data-testid="token" data-index=index
                            title=trf("input.token_title", &[("position", &index), ("id", &id)])
                            aria-label=trf("input.token_label", &[("token", &token), ("position", &index), ("id", &id)])
                            class:hovered=move || state.hovered.get() == Some(index)
                            class:pinned=move || state.pinned.get() == Some(index)
                            aria-pressed=move || (state.pinned.get() == Some(index)).to_string()
                            on:mouseenter=move |_| state.hovered.set(Some(index))
                            on:focus=move |_| state.hovered.set(Some(index))
                            on:mouseleave=move |_| state.hovered.set(None)
                            on:click=move |_| state.pinned.update(|p| *p = if *p == Some(index) { None } else { Some(index) })
                            on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                                if ev.key() == "Enter" || ev.key() == " " {
                                    ev.prevent_default();
                                    state.pinned.update(|p| *p = if *p == Some(index) { None } else { Some(index) });
                                }
                            }>
                            {token.clone()}
                        </span>
                    }
                }).collect_view()
            })}
            <Show when=move || state.busy.get()>
                <span class="busy" aria-live="polite">{tr("input.computing")}</span>
            </Show>
            <span class="muted trace-time" data-testid="trace-time" data-ms=move || state.trace_ms.get().unwrap_or(-1.0).to_string()
                data-read-ms=move || state.trace_read_ms.get().unwrap_or(-1.0).to_string()>
                {move || state.trace_ms.get().filter(|_| state.tokens.with(|t| t.is_some())).map(|ms| trf("input.traced", &[("ms", &format!("{ms:.0}"))]))}
            </span>
        </div>
    }
}

/// Layer and head pickers and the current query token.
#[component]
fn Selection() -> impl IntoView {
    let state = use_state();
    let layers = move || state.model.with(|m| m.as_ref().map_or(0, |c| c.n_layer));
    let heads = move || state.model.with(|m| m.as_ref().map_or(0, |c| c.n_head));
    view! {
        <div class="selection">
            <label>{format!("{} ", tr("input.layer"))}
                <select data-testid="layer" prop:disabled=move || state.locked(Lock::Layer) on:change=move |ev| state.layer.set(event_target_value(&ev).parse().unwrap_or(0))
                    prop:value=move || state.layer.get().to_string()>
                    {move || (0..layers()).map(|l| view! { <option value=l.to_string()>{l + 1}</option> }).collect_view()}
                </select>
            </label>
            <label>{format!("{} ", tr("input.head"))}
                <select data-testid="head" prop:disabled=move || state.locked(Lock::Head) on:change=move |ev| state.head.set(event_target_value(&ev).parse().unwrap_or(0))
                    prop:value=move || state.head.get().to_string()>
                    {move || (0..heads()).map(|h| view! { <option value=h.to_string()>{h + 1}</option> }).collect_view()}
                </select>
            </label>
            <span class="query" data-testid="query-token">
                {move || match (state.query_token(), state.tokens.get()) {
                    (Some(index), Some(tokens)) => trf(
                        if state.pinned.get().is_some() { "input.query_pinned" } else { "input.query" },
                        &[("token", &tokens.tokens[index]), ("position", &index)],
                    ),
                    _ => String::new(),
                }}
            </span>
        </div>
    }
}
