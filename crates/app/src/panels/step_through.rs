//! The self-attention step-through for one layer, head and query token, with the model's real
//! numbers from the trace: Q/K/V → scores → ÷√dₖ → mask → softmax → weighted sum → output.
//! Every shown number carries its exact value in `data-value` (and a tooltip).
use std::sync::Arc;

use leptos::prelude::*;

use crate::i18n::{tr, trf};
use crate::state::{use_state, AppState, Step};
use crate::widgets::{vector, KeyValueGroup};
use ae_messages::{Array, LayerTrace, PageTrace};

/// One head's numbers for one query token, cut out of the trace and its layer's internals.
struct HeadView {
    trace: Arc<PageTrace>,
    detail: Arc<LayerTrace>,
    layer: usize,
    head: usize,
    query: usize,
    heads: usize,
    n_tokens: usize,
    d_head: usize,
}

impl HeadView {
    fn new(state: &AppState) -> Option<Self> {
        let trace = state.text.page_trace()?;
        let detail = state.selected_layer_trace()?;
        let query = state.query_token()?;
        let [heads, n_tokens, d_head] = detail.internals.q.dims()?;
        let (layer, head) = (detail.layer, state.selection.head.get());
        (head < heads && query < n_tokens).then_some(HeadView {
            trace,
            detail,
            layer,
            head,
            query,
            heads,
            n_tokens,
            d_head,
        })
    }

    /// Row `token` of one of the layer's [head, token, d] arrays at this head.
    fn head_row<'a>(&self, array: &'a Array, token: usize) -> &'a [f32] {
        array.row(&[self.head, token]).unwrap_or_default()
    }

    /// Row `token` of one of the layer's [token, d] arrays.
    fn token_row<'a>(&self, array: &'a Array, token: usize) -> &'a [f32] {
        array.row(&[token]).unwrap_or_default()
    }

    /// The query's attention weights at this layer and head (from the trace's [layer, head,
    /// query, key] weights).
    fn attention_row(&self) -> Vec<f32> {
        let index = [self.layer, self.head, self.query];
        self.trace
            .attentions
            .row(&index)
            .unwrap_or_default()
            .to_vec()
    }

    /// The residual stream entering this layer at `token` (the trace's hidden states).
    fn residual_row(&self, token: usize) -> &[f32] {
        let index = [self.layer, token];
        self.trace.hidden_states.row(&index).unwrap_or_default()
    }

    fn token(&self, index: usize) -> String {
        self.trace.tokens[index].clone()
    }
}

/// A number with its exact value in `data-value` and a tooltip.
fn number(value: f32, kind: &'static str) -> impl IntoView {
    let shown = if value == f32::NEG_INFINITY {
        "−∞".to_string()
    } else {
        format!("{value:.4}")
    };
    view! {
        <span class="num" data-kind=kind data-value=value.to_string() title=value.to_string()>
            {shown}
        </span>
    }
}

/// Step controls, the current step and its content.
#[component]
pub fn StepThrough() -> impl IntoView {
    let state = use_state();
    let step = state.selection.step;
    let playing = RwSignal::new(false);
    // The key whose arithmetic the formulas show: the hovered row, else the most attended key.
    let focus_key = RwSignal::new(None::<usize>);
    let go = move |delta: isize| step.update(|s| *s = s.moved(delta));
    // Play advances one step a second until the last. The loop outlives a sleep, so it reads
    // `playing` with `try_`: when the panel closes (another tab, a new model) the signal is
    // disposed and playing simply stops.
    Effect::new(move |_| {
        if playing.get() {
            leptos::task::spawn_local(async move {
                let still_playing = || playing.try_get_untracked() == Some(true);
                while still_playing() && !step.get_untracked().is_last() {
                    crate::clock::sleep_ms(1000).await;
                    if still_playing() {
                        go(1);
                    }
                }
                playing.try_set(false);
            });
        }
    });
    let on_key = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "ArrowRight" => {
            ev.prevent_default();
            go(1)
        }
        "ArrowLeft" => {
            ev.prevent_default();
            go(-1)
        }
        " " => {
            ev.prevent_default();
            playing.update(|p| *p = !*p)
        }
        _ => {}
    };
    view! {
        <h2>{move || tr("panel.step")}</h2>
        <div
            class="stepper"
            tabindex="0"
            role="group"
            data-testid="stepper"
            on:keydown=on_key
            aria-label=move || tr("step.stepper_label")
        >
            <button
                data-testid="step-prev"
                on:click=move |_| go(-1)
                prop:disabled=move || step.get() == Step::Vectors
            >
                {move || tr("step.prev")}
            </button>
            <button data-testid="step-play" on:click=move |_| playing.update(|p| *p = !*p)>
                {move || if playing.get() { tr("step.pause") } else { tr("step.play") }}
            </button>
            <button
                data-testid="step-next"
                on:click=move |_| go(1)
                prop:disabled=move || step.get().is_last()
            >
                {move || tr("step.next")}
            </button>
            <ol class="step-list">
                {Step::ALL
                    .map(|s| {
                        view! {
                            <li class:current=move || step.get() == s>
                                <button
                                    on:click=move |_| step.set(s)
                                    aria-current=move || (step.get() == s).then_some("step")
                                >
                                    {move || format!("{}. {}", s.number(), tr(s.name_key()))}
                                </button>
                            </li>
                        }
                    })
                    .collect_view()}
            </ol>
        </div>
        <div
            class="step-body"
            data-testid=move || format!("step-{}", step.get().number())
            aria-live="polite"
        >
            {move || match HeadView::new(&state) {
                None if state.text.is_traced() => {
                    view! {
                        <p class="muted">
                            {move || trf(
                                "step.loading_layer",
                                &[("layer", &(state.selection.layer.get() + 1))],
                            )}
                        </p>
                    }
                        .into_any()
                }
                None => view! { <p class="muted">{move || tr("step.empty")}</p> }.into_any(),
                Some(view) => step_content(view, step.get(), focus_key).into_any(),
            }}
        </div>
    }
}

/// One step's numbers: the head, the query's attention row, and the key whose arithmetic the
/// formulas show (the hovered row, else the most attended key).
struct StepPage {
    v: HeadView,
    probs: Vec<f32>,
    key: usize,
    focus_key: RwSignal<Option<usize>>,
}

impl StepPage {
    /// Hovering row `j` makes it the focused key.
    fn hover(&self, j: usize) -> impl Fn(leptos::ev::MouseEvent) + 'static {
        let focus_key = self.focus_key;
        move |_| focus_key.set(Some(j))
    }

    /// The token's vector x and every token's q, k and v.
    fn vectors(&self) -> AnyView {
        let v = &self.v;

        let input = v
            .token_row(&v.detail.internals.attention_input, v.query)
            .to_vec();
        let rows = (0..v.n_tokens)
            .map(|j| {
                view! {
                    <tr class:query-row=j == v.query>
                        <th>{v.token(j)}</th>
                        <td>{vector(v.head_row(&v.detail.internals.q, j), "q")}</td>
                        <td>{vector(v.head_row(&v.detail.internals.k, j), "k")}</td>
                        <td>{vector(v.head_row(&v.detail.internals.v, j), "v")}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <p>
                {trf(
                    if v.trace.causal { "step.qkv_explain_causal" } else { "step.qkv_explain" },
                    &[("width", &input.len()), ("d_head", &v.d_head)],
                )}
            </p>
            <KeyValueGroup />
            <p>"x: " {vector(&input, "x")}</p>
            <table class="qkv" data-testid="qkv">
                <thead>
                    <tr>
                        <th scope="col">{tr("step.token")}</th>
                        <th scope="col">"q"</th>
                        <th scope="col">"k"</th>
                        <th scope="col">"v"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    }

    /// Every key's q·k (and, when `step` is `Scale`, divided by √dₖ), with the arithmetic for the focused key.
    fn scores(&self, step: Step) -> AnyView {
        let (v, key) = (&self.v, self.key);
        let hover = |j: usize| self.hover(j);
        let scale = (v.d_head as f32).sqrt();

        let q = v.head_row(&v.detail.internals.q, v.query).to_vec();
        let scores = row_of(v, &v.detail.internals.scores);
        let rows = (0..v.n_tokens)
            .map(|j| {
                let k = v.head_row(&v.detail.internals.k, j);
                // The trace holds q·k/√dₖ; the unscaled dot product is that times √dₖ.
                let dot = scores[j] * scale;
                let terms: Vec<String> = q
                    .iter()
                    .zip(k)
                    .take(3)
                    .map(|(a, b)| format!("({a:.3})·({b:.3})"))
                    .collect();
                view! {
                    <tr class:focused=j == key on:mouseenter=hover(j)>
                        <th>{v.token(j)}</th>
                        {(step == Step::Scores)
                            .then(|| {
                                view! {
                                    <td class="arith">
                                        {format!("{} + … =", terms.join(" + "))}
                                    </td>
                                }
                            })}
                        <td>{number(dot, "dot")}</td>
                        {(step == Step::Scale)
                            .then(|| {
                                view! {
                                    <td>"÷ " {format!("{scale:.4}")} " ="</td>
                                    <td>{number(scores[j], "score")}</td>
                                }
                            })}
                    </tr>
                }
            })
            .collect_view();
        let explain = if step == Step::Scores {
            trf("step.dot_explain", &[("d_head", &v.d_head)])
        } else {
            trf(
                "step.scale_explain",
                &[("d_head", &v.d_head), ("scale", &format!("{scale:.4}"))],
            )
        };
        let k = v.head_row(&v.detail.internals.k, key);
        let dot = scores[key] * scale;
        let formula = if step == Step::Scores {
            let terms = q
                .iter()
                .zip(k)
                .take(2)
                .map(|(a, b)| {
                    view! {
                        <mn>{format!("{a:.3}")}</mn>
                        <mo>"×"</mo>
                        <mn>{format!("{b:.3}")}</mn>
                        <mo>"+"</mo>
                    }
                })
                .collect_view();
            view! {
                <math display="block" data-testid="formula">
                    <mi>"q"</mi>
                    <mo>"·"</mo>
                    <msub>
                        <mi>"k"</mi>
                        <mtext>{v.token(key)}</mtext>
                    </msub>
                    <mo>"="</mo>
                    <munderover>
                        <mo>"∑"</mo>
                        <mrow>
                            <mi>"i"</mi>
                            <mo>"="</mo>
                            <mn>"1"</mn>
                        </mrow>
                        <mn>{v.d_head}</mn>
                    </munderover>
                    <msub>
                        <mi>"q"</mi>
                        <mi>"i"</mi>
                    </msub>
                    <msub>
                        <mi>"k"</mi>
                        <mi>"i"</mi>
                    </msub>
                    <mo>"="</mo>
                    {terms}
                    <mo>"…"</mo>
                    <mo>"="</mo>
                    <mn>{format!("{dot:.4}")}</mn>
                </math>
            }
            .into_any()
        } else {
            view! {
                <math display="block" data-testid="formula">
                    <msub>
                        <mi>"s"</mi>
                        <mtext>{v.token(key)}</mtext>
                    </msub>
                    <mo>"="</mo>
                    <mfrac>
                        <mrow>
                            <mi>"q"</mi>
                            <mo>"·"</mo>
                            <mi>"k"</mi>
                        </mrow>
                        <msqrt>
                            <msub>
                                <mi>"d"</mi>
                                <mi>"k"</mi>
                            </msub>
                        </msqrt>
                    </mfrac>
                    <mo>"="</mo>
                    <mfrac>
                        <mn>{format!("{dot:.4}")}</mn>
                        <msqrt>
                            <mn>{v.d_head}</mn>
                        </msqrt>
                    </mfrac>
                    <mo>"="</mo>
                    <mn>{format!("{:.4}", scores[key])}</mn>
                </math>
            }
            .into_any()
        };
        view! {
            <p>{explain}</p>
            {formula}
            <table class="scores" data-testid="scores-table">
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    }

    /// The scores as the softmax reads them: −∞ where the causal mask hides a key.
    fn mask(&self) -> AnyView {
        let (v, key) = (&self.v, self.key);
        let hover = |j: usize| self.hover(j);

        let masked = masked_row(v);
        let later = v.n_tokens - 1 - v.query;
        let explain = if v.trace.causal {
            trf("step.mask_causal", &[("count", &later)])
        } else {
            tr("step.mask_none")
        };
        let rows = masked.iter().enumerate().map(|(j, &s)| view! {
            <tr class:masked=s == f32::NEG_INFINITY class:focused=j == key on:mouseenter=hover(j)>
                <th>{v.token(j)}</th>
                <td>{number(s, "masked")}</td>
            </tr>
        }).collect_view();
        view! {
            <p>{explain}</p>
            <table class="scores" data-testid="masked-table">
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    }

    /// The softmax of the masked scores.
    fn softmax(&self) -> AnyView {
        let (v, key, probs_row) = (&self.v, self.key, &self.probs);
        let hover = |j: usize| self.hover(j);

        let masked = masked_row(v);
        let probs = &probs_row;
        let max = masked.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
        let exps: Vec<f64> = masked.iter().map(|&s| ((s - max) as f64).exp()).collect();
        let total: f64 = exps.iter().sum();
        let sum_probs: f32 = probs.iter().sum();
        let rows = (0..v.n_tokens).map(|j| view! {
            <tr class:focused=j == key on:mouseenter=hover(j)>
                <th>{v.token(j)}</th>
                <td>
                    {if masked[j] == f32::NEG_INFINITY {
                        "e^(−∞) = 0".to_string()
                    } else {
                        format!("e^({:.3}) = {:.4}", masked[j] - max, exps[j])
                    }}
                </td>
                <td>"÷ " {format!("{total:.4}")} " ="</td>
                <td>{number(probs[j], "prob")}</td>
                <td>
                    <span class="bar" style:width=format!("{:.1}px", 120.0 * probs[j])></span>
                </td>
            </tr>
        }).collect_view();
        let formula = view! {
            <math display="block" data-testid="formula">
                <msub>
                    <mi>"p"</mi>
                    <mtext>{v.token(key)}</mtext>
                </msub>
                <mo>"="</mo>
                <mfrac>
                    <msup>
                        <mi>"e"</mi>
                        <mrow>
                            <msub>
                                <mi>"s"</mi>
                                <mtext>{v.token(key)}</mtext>
                            </msub>
                            <mo>"−"</mo>
                            <mi>"m"</mi>
                        </mrow>
                    </msup>
                    <mrow>
                        <msub>
                            <mo>"∑"</mo>
                            <mi>"l"</mi>
                        </msub>
                        <msup>
                            <mi>"e"</mi>
                            <mrow>
                                <msub>
                                    <mi>"s"</mi>
                                    <mi>"l"</mi>
                                </msub>
                                <mo>"−"</mo>
                                <mi>"m"</mi>
                            </mrow>
                        </msup>
                    </mrow>
                </mfrac>
                <mo>"="</mo>
                <mfrac>
                    <mn>{format!("{:.4}", exps[key])}</mn>
                    <mn>{format!("{total:.4}")}</mn>
                </mfrac>
                <mo>"="</mo>
                <mn>{format!("{:.4}", probs[key])}</mn>
            </math>
        };
        view! {
            {formula}
            <p>
                {trf(
                    "step.softmax_explain",
                    &[("max", &format!("{max:.4}")), ("sum", &format!("{sum_probs:.6}"))],
                )}
            </p>
            <table class="scores" data-testid="softmax-table">
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    }

    /// The head's output: the values weighted by the attention.
    fn weighted_sum(&self) -> AnyView {
        let (v, probs_row) = (&self.v, &self.probs);

        let probs = &probs_row;
        let output = v
            .head_row(&v.detail.internals.head_outputs, v.query)
            .to_vec();
        let rows = (0..v.n_tokens)
            .map(|j| {
                let scaled: Vec<f32> = v
                    .head_row(&v.detail.internals.v, j)
                    .iter()
                    .map(|x| x * probs[j])
                    .collect();
                view! {
                    <tr>
                        <th>{v.token(j)}</th>
                        <td>{number(probs[j], "prob")} " × v"</td>
                        <td>{vector(&scaled, "scaled-v")}</td>
                    </tr>
                }
            })
            .collect_view();
        let formula = view! {
            <math display="block" data-testid="formula">
                <msub>
                    <mi>"o"</mi>
                    <mn>"1"</mn>
                </msub>
                <mo>"="</mo>
                <munder>
                    <mo>"∑"</mo>
                    <mi>"j"</mi>
                </munder>
                <msub>
                    <mi>"p"</mi>
                    <mi>"j"</mi>
                </msub>
                <msub>
                    <mi>"v"</mi>
                    <mrow>
                        <mi>"j"</mi>
                        <mo>","</mo>
                        <mn>"1"</mn>
                    </mrow>
                </msub>
                <mo>"="</mo>
                {(0..v.n_tokens.min(2))
                    .map(|j| {
                        view! {
                            <mn>{format!("{:.3}", probs[j])}</mn>
                            <mo>"×"</mo>
                            <mn>{format!("{:.3}", v.head_row(&v.detail.internals.v, j)[0])}</mn>
                            <mo>"+"</mo>
                        }
                    })
                    .collect_view()}
                <mo>"…"</mo>
                <mo>"="</mo>
                <mn>{format!("{:.4}", output[0])}</mn>
            </math>
        };
        view! {
            {formula}
            <p>{trf("step.sum_explain", &[("d_head", &v.d_head)])}</p>
            <table class="qkv">
                <tbody>
                    {rows}<tr class="total">
                        <th>{tr("step.output")}</th>
                        <td></td>
                        <td>{vector(&output, "head-output")}</td>
                    </tr>
                </tbody>
            </table>
            <p class="values" data-testid="head-output">
                {output.iter().map(|&x| number(x, "head-output")).collect_view()}
            </p>
        }
        .into_any()
    }

    /// All heads side by side, the output projection and the residual.
    fn output(&self) -> AnyView {
        let v = &self.v;

        let attention_output = v
            .token_row(&v.detail.internals.attention_output, v.query)
            .to_vec();
        let residual = v.residual_row(v.query).to_vec();
        let sum: Vec<f32> = residual
            .iter()
            .zip(&attention_output)
            .map(|(a, b)| a + b)
            .collect();
        view! {
            <p>
                {trf(
                    if v.trace.causal {
                        "step.output_explain_causal"
                    } else {
                        "step.output_explain"
                    },
                    &[("heads", &v.heads), ("width", &(v.heads * v.d_head))],
                )}
            </p>
            <p class="concat" data-testid="concatenated-heads">
                {format!("{} ", tr("step.side_by_side"))}
                {(0..v.heads)
                    .map(|h| {
                        let values = v
                            .detail
                            .internals
                            .head_outputs
                            .row(&[h, v.query])
                            .unwrap_or_default();
                        view! {
                            <span
                                class="head-block"
                                class:selected=h == v.head
                                title=trf("step.head_n", &[("head", &(h + 1))])
                            >
                                {vector(values, "concatenated")}
                            </span>
                        }
                    })
                    .collect_view()}
            </p>
            <p>
                {format!("× W_O + b_O = {} ", tr("step.attention_output"))}
                {vector(&attention_output, "attention-output")}
            </p>
            <p>{format!("{} ", tr("step.residual_in"))} {vector(&residual, "residual")}</p>
            <p>{format!("{} ", tr("step.residual_sum"))} {vector(&sum, "residual-sum")}</p>
        }
        .into_any()
    }
}

fn step_content(v: HeadView, step: Step, focus_key: RwSignal<Option<usize>>) -> impl IntoView {
    let probs = v.attention_row();
    let most_attended = probs
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(j, _)| j);
    let key = focus_key
        .get()
        .filter(|&j| j < v.n_tokens)
        .unwrap_or(most_attended);
    let header = trf(
        "step.header",
        &[
            ("layer", &(v.layer + 1)),
            ("head", &(v.head + 1)),
            ("token", &v.token(v.query)),
            ("position", &v.query),
            ("d_head", &v.d_head),
        ],
    );
    let page = StepPage {
        v,
        probs,
        key,
        focus_key,
    };
    let body = match step {
        Step::Vectors => page.vectors(),
        Step::Scores | Step::Scale => page.scores(step),
        Step::Mask => page.mask(),
        Step::Softmax => page.softmax(),
        Step::WeightedSum => page.weighted_sum(),
        Step::Output => page.output(),
    };
    view! {
        <p class="step-header" data-testid="step-header">
            {header}
        </p>
        {body}
    }
}

/// The query's row of one of the layer's [head, query, key] arrays.
fn row_of(v: &HeadView, array: &Array) -> Vec<f32> {
    v.head_row(array, v.query).to_vec()
}

/// The query's scores as the softmax read them: −∞ for the keys the causal mask hides.
fn masked_row(v: &HeadView) -> Vec<f32> {
    row_of(v, &v.detail.internals.scores)
        .into_iter()
        .enumerate()
        .map(|(key, score)| {
            if v.trace.is_masked(v.query, key) {
                f32::NEG_INFINITY
            } else {
                score
            }
        })
        .collect()
}
