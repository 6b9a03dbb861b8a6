//! Small controls the panels share: a slider over whole numbers, a picker of an index shown
//! from 1 (layer, head), and a table of switches for every head with its shortcuts.
use leptos::prelude::*;

use crate::i18n::{tr, trf};
use ae_messages::HeadId;

/// A labelled range slider for a whole number in `min..=max`, its value shown beside it.
#[component]
pub fn WholeSlider(
    /// The label: a string key, or text shown as is (`d_model`).
    label: &'static str,
    value: RwSignal<usize>,
    min: usize,
    max: usize,
    step: usize,
    testid: &'static str,
    /// Whether the value follows the thumb while it is dragged (else when it is released).
    #[prop(optional)]
    live: bool,
) -> impl IntoView {
    let change = move |ev| {
        if let Ok(v) = event_target_value(&ev).parse::<usize>() {
            value.set(v.clamp(min, max))
        }
    };
    let dragged = move |ev| {
        if live {
            change(ev)
        }
    };
    view! {
        <label>
            {move || format!("{} ", tr(label))}
            <input
                type="range"
                min=min
                max=max
                step=step
                data-testid=testid
                prop:value=move || value.get().to_string()
                on:change=change
                on:input=dragged
            /> {move || format!(" {}", value.get())}
        </label>
    }
}

/// A select of `0..count()` shown as 1, 2, 3 … (layers, heads); disabled while `locked()`.
#[component]
pub fn IndexSelect(
    /// String key of the label.
    label: &'static str,
    value: RwSignal<usize>,
    #[prop(into)] count: Signal<usize>,
    #[prop(into)] locked: Signal<bool>,
    testid: &'static str,
) -> impl IntoView {
    let options = move || {
        (0..count.get())
            .map(|i| view! { <option value=i.to_string()>{i + 1}</option> })
            .collect_view()
    };
    view! {
        <label>
            {move || format!("{} ", tr(label))}
            <select
                data-testid=testid
                prop:disabled=move || locked.get()
                on:change=move |ev| value.set(event_target_value(&ev).parse().unwrap_or(0))
                prop:value=move || value.get().to_string()
            >
                {options}
            </select>
        </label>
    }
}

/// A layers × heads table of toggle buttons, one per head (counted from 1 on screen), pressed
/// where `is_off` says the head is switched off; a click calls `toggle`.
#[component]
pub fn HeadSwitchTable(
    layers: usize,
    heads: usize,
    /// Whether a head is switched off (tracked).
    is_off: Callback<HeadId, bool>,
    toggle: Callback<HeadId>,
    /// The buttons' test id.
    testid: &'static str,
) -> impl IntoView {
    let rows = (0..layers)
        .map(|layer| {
            let cells = (0..heads)
                .map(|head| {
                    let id = HeadId { layer, head };
                    view! {
                        <td>
                            <button
                                class="head-switch"
                                data-testid=testid
                                data-layer=layer
                                data-head=head
                                aria-pressed=move || is_off.run(id).to_string()
                                class:off=move || is_off.run(id)
                                title=move || trf(
                                    "lab.head_title",
                                    &[("layer", &(layer + 1)), ("head", &(head + 1))],
                                )
                                on:click=move |_| toggle.run(id)
                            >
                                {head + 1}
                            </button>
                        </td>
                    }
                })
                .collect_view();
            view! {
                <tr>
                    <th>{move || trf("lab.layer", &[("layer", &(layer + 1))])}</th>
                    {cells}
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="head-switches">
            <tbody>{rows}</tbody>
        </table>
    }
}

/// The head table's shortcuts: every head of the selected layer off, every head but the
/// selected one off, every head back on. `set_off` receives the heads to switch off.
#[component]
pub fn HeadShortcuts(
    layers: usize,
    heads: usize,
    /// The selected layer and head (from 0).
    layer: Signal<usize>,
    head: Signal<usize>,
    set_off: Callback<Vec<HeadId>>,
    /// Prefix of the buttons' test ids (`lab` → `lab-layer-off`, `lab-all-but`, `lab-all-on`).
    testid: &'static str,
) -> impl IntoView {
    let all_but = move |keep: &dyn Fn(HeadId) -> bool| -> Vec<HeadId> {
        (0..layers)
            .flat_map(|layer| (0..heads).map(move |head| HeadId { layer, head }))
            .filter(|&h| !keep(h))
            .collect()
    };
    let layer_off = move |_| {
        let chosen = layer.get_untracked();
        set_off.run(all_but(&|h: HeadId| h.layer != chosen))
    };
    let head_kept = move |_| {
        let kept = HeadId {
            layer: layer.get_untracked(),
            head: head.get_untracked(),
        };
        set_off.run(all_but(&|h: HeadId| h == kept))
    };
    view! {
        <button data-testid=format!("{testid}-layer-off") on:click=layer_off>
            {move || trf("lab.layer_off", &[("layer", &(layer.get() + 1))])}
        </button>
        <button data-testid=format!("{testid}-all-but") on:click=head_kept>
            {move || {
                trf("lab.all_but", &[("layer", &(layer.get() + 1)), ("head", &(head.get() + 1))])
            }}
        </button>
        <button data-testid=format!("{testid}-all-on") on:click=move |_| set_off.run(Vec::new())>
            {move || tr("lab.all_on")}
        </button>
    }
}

/// A labelled checkbox: shows `checked`, reports a click to `set`.
#[component]
pub fn Checkbox(
    testid: &'static str,
    #[prop(into)] checked: Signal<bool>,
    set: Callback<bool>,
    /// The label, in the page's language (tracked).
    label: Signal<String>,
) -> impl IntoView {
    view! {
        <label>
            <input
                type="checkbox"
                data-testid=testid
                prop:checked=checked
                on:change=move |ev| set.run(event_target_checked(&ev))
            />
            {move || format!(" {}", label.get())}
        </label>
    }
}
