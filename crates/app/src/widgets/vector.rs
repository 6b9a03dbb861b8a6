//! A vector as a strip of coloured cells (blue negative, red positive), exact values on hover.
use leptos::prelude::*;

/// A vector as coloured cells (blue negative, red positive), exact values on hover.
pub fn vector(values: &[f32], kind: &'static str) -> impl IntoView {
    let scale = values.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    let cells = values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let alpha = (v.abs() / scale).min(1.0);
            let colour = if v >= 0.0 {
                format!("rgba(214, 39, 40, {alpha:.3})")
            } else {
                format!("rgba(31, 119, 180, {alpha:.3})")
            };
            view! {
                <span
                    class="cell"
                    style:background=colour
                    data-value=v.to_string()
                    title=format!("[{i}] = {v}")
                ></span>
            }
        })
        .collect_view();
    view! {
        <span class="vector" data-kind=kind>
            {cells}
        </span>
    }
}
