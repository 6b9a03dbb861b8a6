//! A step's text on the page: the Markdown tree (`lesson::markdown`) turned into elements one
//! by one, and its live numbers read from what the page shows (`lesson::values`).
use leptos::prelude::*;

use crate::i18n::trf;
use crate::lesson::markdown::{Block, Inline, Placeholder};
use crate::lesson::values::{value, Live, Value};
use crate::state::{use_state, AppState};
use ae_messages::Candidate;

/// A placeholder's value now (tracked).
fn live_value(
    state: AppState,
    placeholder: &Placeholder,
    candidates: Memo<Option<Vec<Candidate>>>,
) -> Value {
    let trace = state.text.page_trace();
    let (layer, head) = (state.selection.layer.get(), state.selection.head.get());
    let pinned = state.selection.pinned.get();
    candidates.with(|candidates| {
        state.model.read(Value::Pending, |card| {
            let live = Live {
                architecture: &card.architecture,
                layers: card.n_layer,
                heads: card.n_head,
                d_model: card.d_model,
                d_head: card.d_head,
                layer,
                head,
                tokens: trace.as_ref().map(|t| t.tokens.as_slice()),
                pinned,
                attentions: trace.as_ref().map(|t| &t.attentions),
                predicts: card.has_prediction_head,
                candidates: candidates.as_deref(),
            };
            value(placeholder, &live)
        })
    })
}

/// The reasons, worded, why some of `placeholders` have no value (tracked).
pub(super) fn missing_values(
    state: AppState,
    placeholders: &[Placeholder],
    candidates: Memo<Option<Vec<Candidate>>>,
) -> Vec<String> {
    let mut reasons: Vec<String> = Vec::new();
    for placeholder in placeholders {
        if let Value::Missing(key, arguments) = live_value(state, placeholder, candidates) {
            let arguments: Vec<(&str, &dyn std::fmt::Display)> = arguments
                .iter()
                .map(|(name, value)| (*name, value as &dyn std::fmt::Display))
                .collect();
            let reason = trf(key, &arguments);
            if !reasons.contains(&reason) {
                reasons.push(reason);
            }
        }
    }
    reasons
}

pub(super) fn blocks_view(blocks: Vec<Block>, candidates: Memo<Option<Vec<Candidate>>>) -> AnyView {
    blocks
        .into_iter()
        .map(|block| block_view(block, candidates))
        .collect_view()
        .into_any()
}

fn block_view(block: Block, candidates: Memo<Option<Vec<Candidate>>>) -> AnyView {
    match block {
        Block::Paragraph(inlines) => {
            view! { <p>{inlines_view(inlines, candidates)}</p> }.into_any()
        }
        Block::Heading(inlines) => {
            view! { <h3>{inlines_view(inlines, candidates)}</h3> }.into_any()
        }
        Block::List { ordered, items } => {
            let items = items
                .into_iter()
                .map(|item| view! { <li>{blocks_view(item, candidates)}</li> })
                .collect_view();
            match ordered {
                true => view! { <ol>{items}</ol> }.into_any(),
                false => view! { <ul>{items}</ul> }.into_any(),
            }
        }
        Block::Quote(inner) => {
            view! { <blockquote>{blocks_view(inner, candidates)}</blockquote> }.into_any()
        }
        Block::Code(code) => view! { <pre><code>{code}</code></pre> }.into_any(),
        Block::Rule => view! { <hr /> }.into_any(),
    }
}

fn inlines_view(inlines: Vec<Inline>, candidates: Memo<Option<Vec<Candidate>>>) -> AnyView {
    inlines
        .into_iter()
        .map(|inline| inline_view(inline, candidates))
        .collect_view()
        .into_any()
}

fn inline_view(inline: Inline, candidates: Memo<Option<Vec<Candidate>>>) -> AnyView {
    match inline {
        Inline::Text(text) => text.into_any(),
        Inline::Placeholder(placeholder) => {
            view! { <LiveNumber placeholder candidates /> }.into_any()
        }
        Inline::Emphasis(c) => view! { <em>{inlines_view(c, candidates)}</em> }.into_any(),
        Inline::Strong(c) => view! { <strong>{inlines_view(c, candidates)}</strong> }.into_any(),
        Inline::Code(code) => view! { <code>{code}</code> }.into_any(),
        Inline::Link { href, children } => {
            // Links to this page's views open here; others in a new tab.
            let here = href.starts_with('?') || href.starts_with('#');
            view! {
                <a
                    href=href
                    target=(!here).then_some("_blank")
                    rel=(!here).then_some("noreferrer")
                >
                    {inlines_view(children, candidates)}
                </a>
            }
            .into_any()
        }
        Inline::Break => view! { <br /> }.into_any(),
    }
}

/// One live number: "…" while it is on its way, "—" (with the reason on hover) when it cannot
/// be given.
#[component]
fn LiveNumber(placeholder: Placeholder, candidates: Memo<Option<Vec<Candidate>>>) -> impl IntoView {
    let state = use_state();
    let name = placeholder.name.clone();
    let shown = Memo::new(move |_| live_value(state, &placeholder, candidates));
    let text = move || match shown.get() {
        Value::Shown { text, .. } => text,
        Value::Pending => "…".to_string(),
        Value::Missing(..) => "—".to_string(),
    };
    let exact = move || match shown.get() {
        Value::Shown { exact, .. } => exact.map(|e| e.to_string()),
        _ => None,
    };
    let state_name = move || match shown.get() {
        Value::Shown { .. } => "shown",
        Value::Pending => "pending",
        Value::Missing(..) => "missing",
    };
    view! {
        <span
            class="live-number"
            data-testid="lesson-value"
            data-name=name
            data-value=exact
            data-state=state_name
        >
            {text}
        </span>
    }
}
