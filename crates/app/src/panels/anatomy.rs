//! The model's anatomy: every weight matrix with its shape and parameter count, grouped by
//! block, summing to the model card's total, with each part's share.
use leptos::prelude::*;

use crate::client::owned_request;
use crate::i18n::{tr, trf};
use crate::state::use_state;
use ae_messages::{Anatomy as ModelAnatomy, ModelPart, Request, Response, Weight};

/// The string key naming a part.
fn part_key(part: ModelPart) -> &'static str {
    match part {
        ModelPart::Embeddings => "anatomy.embeddings",
        ModelPart::Attention => "anatomy.attention",
        ModelPart::FeedForward => "anatomy.feed_forward",
        ModelPart::Norms => "anatomy.norms",
        ModelPart::Head => "anatomy.head",
        ModelPart::Other => "anatomy.other",
    }
}

/// A count with thousands separators: 124,439,808.
fn grouped(count: usize) -> String {
    let digits = count.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The panel.
#[component]
pub fn Anatomy() -> impl IntoView {
    let state = use_state();
    let anatomy = owned_request(
        move || state.model.loaded(),
        |_| Request::Anatomy,
        |answer| match answer.response {
            Response::Anatomy { anatomy } => Some(anatomy),
            _ => None,
        },
    );
    view! {
        <h2>{move || tr("panel.anatomy")}</h2>
        <p class="muted">{move || tr("anatomy.intro")}</p>
        {move || match anatomy.value() {
            None => view! { <p class="muted">{move || tr("anatomy.loading")}</p> }.into_any(),
            Some(anatomy) => view! { <AnatomyTables anatomy /> }.into_any(),
        }}
    }
}

/// The parts' shares, then every block's matrices.
#[component]
fn AnatomyTables(anatomy: ModelAnatomy) -> impl IntoView {
    let total = anatomy.total();
    let parts: Vec<(ModelPart, usize)> = ModelPart::ALL
        .iter()
        .map(|&part| (part, anatomy.part_total(part)))
        .filter(|&(_, count)| count > 0)
        .collect();
    let mut groups: Vec<(Option<usize>, Vec<Weight>)> = Vec::new();
    for weight in anatomy.weights {
        match groups.last_mut() {
            Some((layer, weights)) if *layer == weight.layer => weights.push(weight),
            _ => groups.push((weight.layer, vec![weight])),
        }
    }
    view! {
        <table class="anatomy-parts" data-testid="anatomy-parts" data-total=total.to_string()>
            <thead>
                <tr>
                    <th>{move || tr("anatomy.part")}</th>
                    <th>{move || tr("anatomy.parameters")}</th>
                    <th>{move || tr("anatomy.share")}</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>
                {parts
                    .into_iter()
                    .map(|(part, count)| {
                        let share = 100.0 * count as f64 / total.max(1) as f64;
                        view! {
                            <tr data-part=format!("{part:?}") data-value=count.to_string()>
                                <td>{move || tr(part_key(part))}</td>
                                <td class="number">{grouped(count)}</td>
                                <td class="number">{format!("{share:.1} %")}</td>
                                <td>
                                    <span class="share-bar" style:--share=format!("{:.3}", share / 100.0)></span>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
            <tfoot>
                <tr>
                    <th>{move || tr("anatomy.total")}</th>
                    <th class="number" data-testid="anatomy-total">
                        {grouped(total)}
                    </th>
                    <th class="number">"100 %"</th>
                    <th></th>
                </tr>
            </tfoot>
        </table>
        <div class="anatomy-blocks" data-testid="anatomy-blocks">
            {groups
                .into_iter()
                .enumerate()
                .map(|(index, (layer, weights))| {
                    let before = index == 0 && layer.is_none();
                    view! { <WeightGroup layer before weights /> }
                })
                .collect_view()}
        </div>
    }
}

/// One block's weights (or those before or after the blocks), folded.
#[component]
fn WeightGroup(layer: Option<usize>, before: bool, weights: Vec<Weight>) -> impl IntoView {
    let sum: usize = weights.iter().map(Weight::parameters).sum();
    let title = move || match layer {
        Some(layer) => trf("anatomy.block", &[("layer", &(layer + 1))]),
        None if before => tr("anatomy.before"),
        None => tr("anatomy.after"),
    };
    view! {
        <details data-testid="anatomy-group" data-value=sum.to_string()>
            <summary>{title} {format!(" — {}", grouped(sum))}</summary>
            <table class="anatomy-weights">
                <tbody>
                    {weights
                        .into_iter()
                        .map(|w| {
                            let shape = w
                                .shape
                                .iter()
                                .map(usize::to_string)
                                .collect::<Vec<_>>()
                                .join(" × ");
                            let part = w.part;
                            view! {
                                <tr
                                    data-testid="anatomy-weight"
                                    data-name=w.name.clone()
                                    data-value=w.parameters().to_string()
                                >
                                    <td>
                                        <code>{w.name.clone()}</code>
                                    </td>
                                    <td>{shape}</td>
                                    <td class="number">{grouped(w.parameters())}</td>
                                    <td>{move || tr(part_key(part))}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </details>
    }
}

#[cfg(test)]
mod tests {
    use super::grouped;

    #[test]
    fn counts_are_grouped_in_thousands() {
        assert_eq!(grouped(124_439_808), "124,439,808");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(0), "0");
    }
}
