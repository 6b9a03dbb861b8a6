//! Grouped-query attention in one sentence: which key/value head the selected query head reads.
use leptos::prelude::*;

use crate::i18n::trf;
use crate::state::use_state;

/// With grouped-query attention: which key/value head the selected query head reads and which
/// query heads share it. Nothing when every head has its own keys and values.
#[component]
pub fn KeyValueGroup() -> impl IntoView {
    let state = use_state();
    move || {
        let trace = state.text.page_trace()?;
        let (_, heads) = trace.layers_and_heads();
        let kv_heads = trace.n_kv_head;
        if kv_heads == 0 || kv_heads >= heads || !heads.is_multiple_of(kv_heads) {
            return None;
        }
        let group = heads / kv_heads;
        let head = state.selection.head.get().min(heads - 1);
        let kv_head = head / group;
        let text = trf(
            "panels.kv_group",
            &[
                ("head", &(head + 1)),
                ("kv_head", &(kv_head + 1)),
                ("first", &(kv_head * group + 1)),
                ("last", &((kv_head + 1) * group)),
                ("kv_heads", &kv_heads),
                ("heads", &heads),
            ],
        );
        Some(view! {
            <p class="explain" data-testid="kv-group" data-kv-head=kv_head.to_string()>
                {text}
            </p>
        })
    }
}
