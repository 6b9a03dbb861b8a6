//! Small controls the panels share: a slider over whole numbers, a picker of an index shown
//! from 1 (layer, head), and a table of switches for every head.
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
