//! The self-attention step-through. For now: where the query token looks at the selected
//! layer and head, with the model's real attention probabilities.
use leptos::prelude::*;

use crate::ui::state::use_state;

/// Keys the query token attends to, most attended first.
#[component]
pub fn StepThrough() -> impl IntoView {
    let state = use_state();
    let rows = move || {
        let trace = state.trace.get()?;
        let query = state.query_token()?;
        let (layer, head) = (state.layer.get(), state.head.get());
        let [layers, heads, queries, keys] = trace.attentions.shape[..] else {
            return None;
        };
        if layer >= layers || head >= heads || query >= queries {
            return None;
        }
        let start = ((layer * heads + head) * queries + query) * keys;
        let mut row: Vec<(usize, f32)> = trace.attentions.data[start..start + keys]
            .iter()
            .copied()
            .enumerate()
            .collect();
        row.sort_by(|a, b| b.1.total_cmp(&a.1));
        Some((query, trace.tokens.clone(), row, trace.causal))
    };
    view! {
        <h2>"Attention step by step"</h2>
        <p class="explain">"Each token builds a query and compares it with every token's key; softmax turns the scores into weights that sum to 1. Hover or click a token above to choose the query."</p>
        {move || rows().map(|(query, tokens, row, causal)| view! {
            <p>{format!("Layer {}, head {}: where “{}” looks", state.layer.get() + 1, state.head.get() + 1, tokens[query])}
                {causal.then_some(" (GPT-2 cannot look at later tokens, so they get exactly 0)")}</p>
            <ol class="attention-list" data-testid="attention-list">
                {row.into_iter().map(|(key, p)| view! {
                    <li>
                        <span class="bar" style=format!("width: {:.1}%", 100.0 * p)></span>
                        <span class="label">{tokens[key].clone()}</span>
                        <span class="value">{format!("{p:.4}")}</span>
                    </li>
                }).collect_view()}
            </ol>
        })}
        <p class="muted">"Coming next in this panel: Q, K and V vectors, the scores q·k/√dₖ, the mask, softmax and the weighted sum of V, one step at a time."</p>
    }
}
