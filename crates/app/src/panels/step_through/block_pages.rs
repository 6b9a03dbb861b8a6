//! The four steps past attention, from one token's [`BlockNumbers`]: the norm before the
//! feed-forward network, its first matrix, the non-linearity, and the second matrix with the
//! residual. MathML with the model's numbers; every number in `data-value`.
use leptos::prelude::*;

use super::numbers::BlockNumbers;
use super::pages::number;
use crate::i18n::{tr, trf};
use crate::widgets::vector;
use ae_messages::ActivationKind;

/// How many neurons the activation step lists.
const LISTED_NEURONS: usize = 8;

fn first(values: &[f32]) -> f32 {
    values.first().copied().unwrap_or_default()
}

/// Step 8: the residual sum, normed: (r − μ)/√(σ² + ε)·γ + β, or r/√(mean r² + ε)·γ.
pub fn norm(b: &BlockNumbers, token: &str) -> AnyView {
    let (mean, spread) = b.norm_statistics();
    let rms = b.beta.is_none();
    let explain = match (b.normalises_first, rms) {
        (_, true) => "step.norm_explain_rms",
        (true, false) => "step.norm_explain_first",
        (false, false) => "step.norm_explain_after",
    };
    let denominator = (spread + b.eps).sqrt();
    let example = (first(&b.norm_input) as f64 - mean) / denominator;
    let formula = view! {
        <math display="block" data-testid="formula">
            <msub>
                <mi>"y"</mi>
                <mn>"1"</mn>
            </msub>
            <mo>"="</mo>
            <mfrac>
                <mrow>
                    <msub>
                        <mi>"r"</mi>
                        <mn>"1"</mn>
                    </msub>
                    {(!rms)
                        .then(|| {
                            view! {
                                <mo>"−"</mo>
                                <mi>"μ"</mi>
                            }
                        })}
                </mrow>
                <msqrt>
                    {if rms {
                        view! {
                            <mover>
                                <msup>
                                    <mi>"r"</mi>
                                    <mn>"2"</mn>
                                </msup>
                                <mo>"‾"</mo>
                            </mover>
                        }
                            .into_any()
                    } else {
                        view! {
                            <msup>
                                <mi>"σ"</mi>
                                <mn>"2"</mn>
                            </msup>
                        }
                            .into_any()
                    }} <mo>"+"</mo><mi>"ε"</mi>
                </msqrt>
            </mfrac>
            <mo>"·"</mo>
            <msub>
                <mi>"γ"</mi>
                <mn>"1"</mn>
            </msub>
            {(!rms)
                .then(|| {
                    view! {
                        <mo>"+"</mo>
                        <msub>
                            <mi>"β"</mi>
                            <mn>"1"</mn>
                        </msub>
                    }
                })}
            <mo>"="</mo>
            <mn>{format!("{example:.4}")}</mn>
            <mo>"·"</mo>
            <mn>{format!("{:.4}", first(&b.gamma))}</mn>
            {b
                .beta
                .as_ref()
                .map(|beta| {
                    view! {
                        <mo>"+"</mo>
                        <mn>{format!("{:.4}", first(beta))}</mn>
                    }
                })}
            <mo>"="</mo>
            <mn>{format!("{:.4}", first(&b.normed))}</mn>
        </math>
    };
    view! {
        {formula}
        <p>{trf(explain, &[("token", &token), ("width", &b.norm_input.len())])}</p>
        {b
            .after_cross_attention
            .then(|| view! { <p data-testid="after-cross">{tr("step.norm_after_cross")}</p> })}
        <p>"r: " {vector(&b.norm_input, "norm-input")}</p>
        <p class="values" data-testid="norm-statistics">
            {if rms { "mean r² = ".to_string() } else { "μ = ".to_string() }}
            {if rms {
                number(spread as f32, "mean-square").into_any()
            } else {
                view! {
                    {number(mean as f32, "mean")}
                    ", σ² = "
                    {number(spread as f32, "variance")}
                }
                    .into_any()
            }}
            {format!(", ε = {:e}", b.eps)}
        </p>
        <p>"γ: " {vector(&b.gamma, "gamma")}</p>
        {b.beta.as_ref().map(|beta| view! { <p>"β: " {vector(beta, "beta")}</p> })}
        <p>{format!("{} ", tr("step.normed"))} {vector(&b.normed, "normed")}</p>
        <p class="values" data-testid="normed-values">
            {b.normed.iter().map(|&x| number(x, "normed")).collect_view()}
        </p>
    }
    .into_any()
}

/// Step 9: the first matrix widens the row to d_ff (4 × d_model for GPT-2 and BERT).
pub fn first_matrix(b: &BlockNumbers) -> AnyView {
    let gated = b.up.is_some();
    let explain = if gated {
        "step.first_explain_gated"
    } else {
        "step.first_explain"
    };
    view! {
        <math display="block" data-testid="formula">
            <mi>"h"</mi>
            <mo>"="</mo>
            <mi>"y"</mi>
            <msub>
                <mi>"W"</mi>
                <mn>"1"</mn>
            </msub>
            {(!gated)
                .then(|| {
                    view! {
                        <mo>"+"</mo>
                        <msub>
                            <mi>"b"</mi>
                            <mn>"1"</mn>
                        </msub>
                    }
                })}
            <mo>"∈"</mo>
            <msup>
                <mi>"ℝ"</mi>
                <mn>{b.pre_activations.len()}</mn>
            </msup>
        </math>
        <p>{trf(explain, &[("d_model", &b.normed.len()), ("d_ff", &b.pre_activations.len())])}</p>
        <p>
            {format!("{} ", tr(if gated { "step.gate" } else { "step.pre_activations" }))}
            {vector(&b.pre_activations, "pre-activations")}
        </p>
        {b
            .up
            .as_ref()
            .map(|up| view! { <p>{format!("{} ", tr("step.up"))} {vector(up, "up")}</p> })}
        <p class="values" data-testid="pre-activation-values">
            {b.pre_activations.iter().map(|&x| number(x, "pre-activation")).collect_view()}
        </p>
    }
    .into_any()
}

/// The non-linearity's name and formula, in words.
fn activation_key(activation: Option<ActivationKind>, gated: bool) -> &'static str {
    match (activation, gated) {
        (Some(ActivationKind::Silu), true) => "step.activation_swiglu",
        (Some(ActivationKind::GeluTanh | ActivationKind::GeluErf), true) => "step.activation_geglu",
        (_, true) => "step.activation_gated_other",
        (Some(ActivationKind::GeluTanh), _) => "step.activation_gelu_tanh",
        (Some(ActivationKind::GeluErf), _) => "step.activation_gelu",
        (Some(ActivationKind::Relu), _) => "step.activation_relu",
        (Some(ActivationKind::Silu), _) => "step.activation_silu",
        (None, _) => "step.activation_other",
    }
}

/// Step 10: each neuron's activation, with the strongest listed.
pub fn activation(b: &BlockNumbers) -> AnyView {
    let gated = b.up.is_some();
    let strongest = b.strongest_neurons(LISTED_NEURONS);
    let rows = strongest
        .iter()
        .map(|&j| {
            view! {
                <tr data-testid="neuron-row" data-neuron=j.to_string()>
                    <th>{format!("#{j}")}</th>
                    <td>{number(b.pre_activations[j], "pre-activation")}</td>
                    {b.up.as_ref().map(|up| view! { <td>{number(up[j], "up")}</td> })}
                    <td>{number(b.activations[j], "activation")}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p>{tr(activation_key(b.activation, gated))}</p>
        <table class="scores" data-testid="activation-table">
            <thead>
                <tr>
                    <th>{tr("step.neuron")}</th>
                    <th>{tr(if gated { "step.gate" } else { "step.pre_activations" })}</th>
                    {gated.then(|| view! { <th>{tr("step.up")}</th> })}
                    <th>{tr("step.activations")}</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        <p>{format!("{} ", tr("step.activations"))} {vector(&b.activations, "activations")}</p>
        <p class="values" data-testid="activation-values">
            {b.activations.iter().map(|&x| number(x, "activation")).collect_view()}
        </p>
    }
    .into_any()
}

/// Step 11: back to d_model, and into the residual stream.
pub fn second_matrix(b: &BlockNumbers) -> AnyView {
    let sum: Vec<f32> = if b.normalises_first {
        &b.norm_input
    } else {
        &b.normed
    }
    .iter()
    .zip(&b.output)
    .map(|(a, o)| a + o)
    .collect();
    let explain = if b.normalises_first {
        "step.second_explain_first"
    } else {
        "step.second_explain_after"
    };
    view! {
        <math display="block" data-testid="formula">
            <mi>"f"</mi>
            <mo>"="</mo>
            <mi>"a"</mi>
            <msub>
                <mi>"W"</mi>
                <mn>"2"</mn>
            </msub>
            <mo>"+"</mo>
            <msub>
                <mi>"b"</mi>
                <mn>"2"</mn>
            </msub>
            <mo>"∈"</mo>
            <msup>
                <mi>"ℝ"</mi>
                <mn>{b.output.len()}</mn>
            </msup>
        </math>
        <p>{trf(explain, &[("d_ff", &b.activations.len()), ("d_model", &b.output.len())])}</p>
        <p>{format!("{} ", tr("step.ffn_output"))} {vector(&b.output, "ffn-output")}</p>
        <p class="values" data-testid="ffn-output-values">
            {b.output.iter().map(|&x| number(x, "ffn-output")).collect_view()}
        </p>
        <p>
            {format!(
                "{} ",
                tr(if b.normalises_first { "step.block_sum_first" } else { "step.block_sum_after" }),
            )} {vector(&sum, "block-sum")}
        </p>
        {b
            .next_stream
            .as_ref()
            .map(|next| {
                view! {
                    <p>{format!("{} ", tr("step.next_stream"))} {vector(next, "next-stream")}</p>
                    <p class="values" data-testid="next-stream-values">
                        {next.iter().map(|&x| number(x, "next-stream")).collect_view()}
                    </p>
                }
            })}
    }
    .into_any()
}

/// Step 12, after the last block: the row the head reads, and the logits it makes there — the
/// logit lens's last row at the query (the predictions panel's numbers at the last position).
#[component]
pub fn PredictionHead(block: BlockNumbers) -> impl IntoView {
    let state = crate::state::use_state();
    let lens = crate::panels::analyses::logit_lens(state);
    let head_input = block.head_input.clone().unwrap_or_default();
    let stream: Vec<f32> = block
        .norm_input
        .iter()
        .zip(&block.output)
        .map(|(a, b)| a + b)
        .collect();
    let explain = if block.normalises_first {
        "step.head_explain_first"
    } else {
        "step.head_explain_after"
    };
    view! {
        <p>{tr(explain)}</p>
        {block.normalises_first.then(|| view! { <p>"x: " {vector(&stream, "last-stream")}</p> })}
        <p>{format!("{} ", tr("step.head_input"))} {vector(&head_input, "head-input")}</p>
        <p class="values" data-testid="head-input-values">
            {head_input.iter().map(|&x| number(x, "head-input")).collect_view()}
        </p>
        {move || {
            let query = state.query_token();
            match lens.value().filter(|l| Some(l.position) == query) {
                None => view! { <p class="muted">{move || tr("step.head_waiting")}</p> }.into_any(),
                Some(lens) => {
                    let last = lens.layers.last().cloned();
                    view! {
                        <table class="scores" data-testid="head-candidates">
                            <thead>
                                <tr>
                                    <th>{tr("step.token")}</th>
                                    <th>"logit"</th>
                                    <th>"p"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {last
                                    .map(|l| {
                                        l.top
                                            .into_iter()
                                            .map(|c| {
                                                view! {
                                                    <tr data-token-id=c.token_id.to_string()>
                                                        <th>{c.token.clone()}</th>
                                                        <td>{number(c.logit, "logit")}</td>
                                                        <td>{number(c.probability, "probability")}</td>
                                                    </tr>
                                                }
                                            })
                                            .collect_view()
                                    })}
                            </tbody>
                        </table>
                    }
                        .into_any()
                }
            }
        }}
    }
}
