//! The seven steps' pages, each from one head's [`HeadNumbers`].
use leptos::prelude::*;

use super::numbers::{Attending, HeadNumbers, Masking};
use crate::i18n::{tr, trf};
use crate::state::Step;
use crate::widgets::{vector, KeyValueGroup};

/// A number with its exact value in `data-value` and a tooltip.
pub(crate) fn number(value: f32, kind: &'static str) -> impl IntoView {
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

/// A table of one row per key.
fn scores_table(rows: impl IntoView, testid: &'static str) -> impl IntoView {
    view! {
        <table class="scores" data-testid=testid>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// The header and the page of `step`.
pub fn step_content(
    n: HeadNumbers,
    step: Step,
    focus_key: RwSignal<Option<usize>>,
) -> impl IntoView {
    let key = focus_key
        .get()
        .filter(|&j| j < n.key_tokens.len())
        .unwrap_or_else(|| n.most_attended());
    let header = trf(
        "step.header",
        &[
            ("layer", &(n.layer + 1)),
            ("head", &(n.head + 1)),
            ("token", &n.query_token()),
            ("position", &n.query),
            ("d_head", &n.d_head),
        ],
    );
    let block = n.block.clone();
    let token = n.query_token().to_string();
    let page = StepPage { n, key, focus_key };
    let body = match (step, block) {
        (Step::FeedForwardNorm, Some(b)) => super::block_pages::norm(&b, &token),
        (Step::FirstMatrix, Some(b)) => super::block_pages::first_matrix(&b),
        (Step::Activation, Some(b)) => super::block_pages::activation(&b),
        (Step::SecondMatrix, Some(b)) => super::block_pages::second_matrix(&b),
        (Step::PredictionHead, Some(b)) if b.head_input.is_some() => {
            view! { <super::block_pages::PredictionHead block=b /> }.into_any()
        }
        (Step::PredictionHead, Some(b)) => super::block_pages::second_matrix(&b),
        (step, _) => page.attention_step(step),
    };
    view! {
        <p class="step-header" data-testid="step-header">
            {header}
        </p>
        {body}
    }
}

impl StepPage {
    /// One of attention's seven pages (a block step without its numbers shows the last).
    fn attention_step(&self, step: Step) -> AnyView {
        match step {
            Step::Vectors => self.vectors(),
            Step::Scores => self.scores(),
            Step::Scale => self.scale(),
            Step::Mask => self.mask(),
            Step::Softmax => self.softmax(),
            Step::WeightedSum => self.weighted_sum(),
            _ => self.output(),
        }
    }
}

/// One step's numbers and the key whose arithmetic the formulas show (the hovered row, else
/// the most attended key).
struct StepPage {
    n: HeadNumbers,
    key: usize,
    focus_key: RwSignal<Option<usize>>,
}

impl StepPage {
    /// Hovering row `j` makes it the focused key.
    fn hover(&self, j: usize) -> impl Fn(leptos::ev::MouseEvent) + 'static {
        let focus_key = self.focus_key;
        move |_| focus_key.set(Some(j))
    }

    fn keys(&self) -> std::ops::Range<usize> {
        0..self.n.key_tokens.len()
    }

    /// One table row per key: its token, then `cells(j)`; hovering a row focuses its key.
    fn key_rows<V: IntoView>(&self, cells: impl Fn(usize) -> V) -> impl IntoView {
        self.keys()
            .map(|j| {
                view! {
                    <tr class:focused=j == self.key on:mouseenter=self.hover(j)>
                        <th>{self.n.key_token(j).to_string()}</th>
                        {cells(j)}
                    </tr>
                }
            })
            .collect_view()
    }

    /// q·k of key `j`, undoing the division by √dₖ the traced scores hold.
    fn dot(&self, j: usize) -> f32 {
        self.n.scores[j] * self.n.scale().unwrap_or(1.0)
    }

    /// The token's vector x and the q, k and v of every token (self-attention), or the query's
    /// q and every source token's k and v (cross-attention).
    fn vectors(&self) -> AnyView {
        let n = &self.n;
        let explain = match n.attending {
            Attending::Pair(ae_messages::AttentionKind::Cross) => "step.qkv_explain_cross",
            _ if n.architecture.normalises_first() => "step.qkv_explain_norm_first",
            _ => "step.qkv_explain",
        };
        let cross = n.is_cross();
        let rows = self
            .keys()
            .map(|j| {
                view! {
                    <tr class:query-row=!cross && j == n.query>
                        <th>{n.key_token(j).to_string()}</th>
                        {(!cross).then(|| view! { <td>{vector(&n.q[j], "q")}</td> })}
                        <td>{vector(&n.k[j], "k")}</td>
                        <td>{vector(&n.v[j], "v")}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <p>{trf(explain, &[("width", &n.x.len()), ("d_head", &n.d_head)])}</p>
            {(n.attending == Attending::OneText).then(|| view! { <KeyValueGroup /> })}
            <p>"x: " {vector(&n.x, "x")}</p>
            {cross
                .then(|| {
                    view! { <p data-testid="cross-query">"q: " {vector(n.query_q(), "q")}</p> }
                })}
            <table class="qkv" data-testid="qkv">
                <thead>
                    <tr>
                        <th scope="col">{tr("step.token")}</th>
                        {(!cross).then(|| view! { <th scope="col">"q"</th> })}
                        <th scope="col">"k"</th>
                        <th scope="col">"v"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    }

    /// Every key's q·k, with the arithmetic for the focused key.
    fn scores(&self) -> AnyView {
        let (n, key) = (&self.n, self.key);
        let q = n.query_q();
        let rows = self.key_rows(|j| {
            let terms: Vec<String> = q
                .iter()
                .zip(&n.k[j])
                .take(3)
                .map(|(a, b)| format!("({a:.3})·({b:.3})"))
                .collect();
            view! {
                <td class="arith">{format!("{} + … =", terms.join(" + "))}</td>
                <td>{number(self.dot(j), "dot")}</td>
            }
        });
        let terms = q
            .iter()
            .zip(&n.k[key])
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
            <p>{trf("step.dot_explain", &[("d_head", &n.d_head)])}</p>
            <math display="block" data-testid="formula">
                <mi>"q"</mi>
                <mo>"·"</mo>
                <msub>
                    <mi>"k"</mi>
                    <mtext>{n.key_token(key).to_string()}</mtext>
                </msub>
                <mo>"="</mo>
                <munderover>
                    <mo>"∑"</mo>
                    <mrow>
                        <mi>"i"</mi>
                        <mo>"="</mo>
                        <mn>"1"</mn>
                    </mrow>
                    <mn>{n.d_head}</mn>
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
                <mn>{format!("{:.4}", self.dot(key))}</mn>
            </math>
            {scores_table(rows, "scores-table")}
        }
        .into_any()
    }

    /// Step 3: the scores divided by √dₖ, or (T5, which does not divide) the position bias
    /// added, or the scores as they are.
    fn scale(&self) -> AnyView {
        match (self.n.scale(), &self.n.bias) {
            (Some(scale), _) => self.divided(scale),
            (None, Some(bias)) => self.biased(bias),
            (None, None) => self.unscaled(),
        }
    }

    /// q·k ÷ √dₖ for every key.
    fn divided(&self, scale: f32) -> AnyView {
        let (n, key) = (&self.n, self.key);
        let rows = self.key_rows(|j| {
            view! {
                <td>{number(self.dot(j), "dot")}</td>
                <td>"÷ " {format!("{scale:.4}")} " ="</td>
                <td>{number(n.scores[j], "score")}</td>
            }
        });
        view! {
            <p>
                {trf(
                    "step.scale_explain",
                    &[("d_head", &n.d_head), ("scale", &format!("{scale:.4}"))],
                )}
            </p>
            <math display="block" data-testid="formula">
                <msub>
                    <mi>"s"</mi>
                    <mtext>{n.key_token(key).to_string()}</mtext>
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
                    <mn>{format!("{:.4}", self.dot(key))}</mn>
                    <msqrt>
                        <mn>{n.d_head}</mn>
                    </msqrt>
                </mfrac>
                <mo>"="</mo>
                <mn>{format!("{:.4}", n.scores[key])}</mn>
            </math>
            {scores_table(rows, "scores-table")}
        }
        .into_any()
    }

    /// T5: q·k + the learned bias of the key's distance from the query.
    fn biased(&self, bias: &[f32]) -> AnyView {
        let (n, key) = (&self.n, self.key);
        let rows = self.key_rows(|j| {
            view! {
                <td>{number(n.scores[j], "score")}</td>
                <td>"+"</td>
                <td>{number(bias[j], "bias")}</td>
                <td>"="</td>
                <td>{number(n.scores[j] + bias[j], "biased")}</td>
            }
        });
        view! {
            <p>{tr("step.bias_explain")}</p>
            <math display="block" data-testid="formula">
                <msub>
                    <mi>"s"</mi>
                    <mtext>{n.key_token(key).to_string()}</mtext>
                </msub>
                <mo>"="</mo>
                <mi>"q"</mi>
                <mo>"·"</mo>
                <mi>"k"</mi>
                <mo>"+"</mo>
                <msub>
                    <mi>"b"</mi>
                    <mrow>
                        <mi>"j"</mi>
                        <mo>"−"</mo>
                        <mi>"i"</mi>
                    </mrow>
                </msub>
                <mo>"="</mo>
                <mn>{format!("{:.4}", n.scores[key])}</mn>
                <mo>"+"</mo>
                <mn>{format!("{:.4}", bias[key])}</mn>
                <mo>"="</mo>
                <mn>{format!("{:.4}", n.scores[key] + bias[key])}</mn>
            </math>
            {scores_table(rows, "scores-table")}
        }
        .into_any()
    }

    /// T5's cross-attention: neither divided nor biased.
    fn unscaled(&self) -> AnyView {
        let n = &self.n;
        let rows = self.key_rows(|j| view! { <td>{number(n.scores[j], "score")}</td> });
        view! {
            <p>{tr("step.unscaled_explain")}</p>
            {scores_table(rows, "scores-table")}
        }
        .into_any()
    }

    /// The scores as the softmax reads them: −∞ where the mask hides a key.
    fn mask(&self) -> AnyView {
        let (n, key) = (&self.n, self.key);
        let explain = match n.masking {
            Masking::LaterTokens => trf(
                "step.mask_causal",
                &[("count", &(n.key_tokens.len() - 1 - n.query))],
            ),
            Masking::Padding { count } => trf("step.mask_padding", &[("count", &count)]),
            Masking::Nothing if n.is_cross() => tr("step.mask_none_cross"),
            Masking::Nothing => tr("step.mask_none"),
        };
        let rows = n
            .masked
            .iter()
            .enumerate()
            .map(|(j, &s)| {
                view! {
                    <tr
                        class:masked=s == f32::NEG_INFINITY
                        class:focused=j == key
                        on:mouseenter=self.hover(j)
                    >
                        <th>{n.key_token(j).to_string()}</th>
                        <td>{number(s, "masked")}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <p>{explain}</p>
            {n.bias.is_some().then(|| view! { <p>{tr("step.mask_with_bias")}</p> })}
            {scores_table(rows, "masked-table")}
        }
        .into_any()
    }

    /// The softmax of the masked scores.
    fn softmax(&self) -> AnyView {
        let (n, key) = (&self.n, self.key);
        let (masked, probs) = (&n.masked, &n.probs);
        let max = masked.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
        let exps: Vec<f64> = masked.iter().map(|&s| ((s - max) as f64).exp()).collect();
        let total: f64 = exps.iter().sum();
        let sum_probs: f32 = probs.iter().sum();
        let rows = self.key_rows(|j| {
            let power = if masked[j] == f32::NEG_INFINITY {
                "e^(−∞) = 0".to_string()
            } else {
                format!("e^({:.3}) = {:.4}", masked[j] - max, exps[j])
            };
            view! {
                <td>{power}</td>
                <td>"÷ " {format!("{total:.4}")} " ="</td>
                <td>{number(probs[j], "prob")}</td>
                <td>
                    <span class="bar" style:width=format!("{:.1}px", 120.0 * probs[j])></span>
                </td>
            }
        });
        let token = n.key_token(key).to_string();
        let formula = view! {
            <math display="block" data-testid="formula">
                <msub>
                    <mi>"p"</mi>
                    <mtext>{token.clone()}</mtext>
                </msub>
                <mo>"="</mo>
                <mfrac>
                    <msup>
                        <mi>"e"</mi>
                        <mrow>
                            <msub>
                                <mi>"s"</mi>
                                <mtext>{token}</mtext>
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
            {scores_table(rows, "softmax-table")}
        }
        .into_any()
    }

    /// The head's output: the values weighted by the attention.
    fn weighted_sum(&self) -> AnyView {
        let n = &self.n;
        let (probs, output) = (&n.probs, n.output());
        let rows = self
            .keys()
            .map(|j| {
                let scaled: Vec<f32> = n.v[j].iter().map(|x| x * probs[j]).collect();
                view! {
                    <tr>
                        <th>{n.key_token(j).to_string()}</th>
                        <td>{number(probs[j], "prob")} " × v"</td>
                        <td>{vector(&scaled, "scaled-v")}</td>
                    </tr>
                }
            })
            .collect_view();
        let first = |values: &[f32]| values.first().copied().unwrap_or_default();
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
                {self
                    .keys()
                    .take(2)
                    .map(|j| {
                        view! {
                            <mn>{format!("{:.3}", probs[j])}</mn>
                            <mo>"×"</mo>
                            <mn>{format!("{:.3}", first(&n.v[j]))}</mn>
                            <mo>"+"</mo>
                        }
                    })
                    .collect_view()}
                <mo>"…"</mo>
                <mo>"="</mo>
                <mn>{format!("{:.4}", first(output))}</mn>
            </math>
        };
        view! {
            {formula}
            <p>{trf("step.sum_explain", &[("d_head", &n.d_head)])}</p>
            <table class="qkv">
                <tbody>
                    {rows}<tr class="total">
                        <th>{tr("step.output")}</th>
                        <td></td>
                        <td>{vector(output, "head-output")}</td>
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
        let n = &self.n;
        let explain = match n.attending {
            Attending::Pair(ae_messages::AttentionKind::Cross) => "step.output_explain_cross",
            _ if n.architecture.normalises_first() => "step.output_explain_norm_first",
            _ => "step.output_explain",
        };
        let residual = n.residual.as_ref().map(|residual| {
            let sum: Vec<f32> = residual
                .iter()
                .zip(&n.attention_output)
                .map(|(a, b)| a + b)
                .collect();
            view! {
                <p>{format!("{} ", tr("step.residual_in"))} {vector(residual, "residual")}</p>
                <p>{format!("{} ", tr("step.residual_sum"))} {vector(&sum, "residual-sum")}</p>
            }
        });
        view! {
            <p>{trf(explain, &[("heads", &n.heads), ("width", &(n.heads * n.d_head))])}</p>
            <p class="concat" data-testid="concatenated-heads">
                {format!("{} ", tr("step.side_by_side"))}
                {n
                    .head_outputs
                    .iter()
                    .enumerate()
                    .map(|(h, values)| {
                        view! {
                            <span
                                class="head-block"
                                class:selected=h == n.head
                                title=trf("step.head_n", &[("head", &(h + 1))])
                            >
                                {vector(values, "concatenated")}
                            </span>
                        }
                    })
                    .collect_view()}
            </p>
            <p>
                {format!("× W_O (+ b_O) = {} ", tr("step.attention_output"))}
                {vector(&n.attention_output, "attention-output")}
            </p>
            {residual}
        }
        .into_any()
    }
}
