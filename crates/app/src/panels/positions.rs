//! Positional encoding: the sinusoidal encoding of "Attention Is All You Need" (heatmap with
//! d_model and position sliders, chosen dimensions as lines), the model's own learned position
//! embeddings, the cosine similarity between positions for both, and token + position = input
//! for the query token — all computed by the worker.
use std::sync::Arc;

use leptos::prelude::*;

use crate::client::owned_request;
use crate::i18n::{tr, trf};
use crate::state::use_state;
use crate::widgets::{vector, ChartCanvas, Pointed, Tooltip, WholeSlider};
use ae_charts::{axis_label, MatrixChart, SeriesChart};
use ae_messages::{Array, PositionalEncodings, Request, Response};

/// The panel.
#[component]
pub fn Positions() -> impl IntoView {
    let state = use_state();
    // The sinusoidal plot starts at the model's width, and again when another model loads.
    let model_width = move || state.model.read(64, |c| c.d_model).clamp(4, 1024);
    let d_model = RwSignal::new(untrack(model_width));
    Effect::new(move |_| d_model.set(model_width()));
    let positions = RwSignal::new(64usize);
    let dimensions = RwSignal::new("4, 5, 6, 7".to_string());
    let encodings = owned_request(
        move || Some((state.model.loaded()?, positions.get(), d_model.get())),
        |&(_, positions, d_model)| Request::PositionalEncodings { positions, d_model },
        |answer| match answer.response {
            Response::PositionalEncodings { encodings } => Some(Arc::new(encodings)),
            _ => None,
        },
    );
    let part = move |pick: fn(&PositionalEncodings) -> Option<Array>| {
        Signal::derive(move || encodings.with_latest(|e| e.and_then(|e| pick(e))))
    };
    let sinusoidal = part(|e| Some(e.sinusoidal.clone()));
    let learned = part(|e| e.learned.clone());
    let sinusoidal_similarity = part(|e| Some(e.sinusoidal_similarity.clone()));
    let learned_similarity = part(|e| e.learned_similarity.clone());
    let rotary = move || state.model.read(None, |c| c.rope_theta);
    let lines = Signal::derive(move || {
        let chosen = dimensions.get();
        encodings
            .with_latest(|e| {
                e.map(|e| {
                    let Some([rows, width]) = e.sinusoidal.dims() else {
                        return Vec::new();
                    };
                    chosen
                        .split(|c: char| c == ',' || c.is_whitespace())
                        .filter_map(|d| d.parse::<usize>().ok())
                        .filter(|&d| d < width)
                        .take(6)
                        .map(|d| {
                            (
                                trf("positions.dim", &[("d", &d)]),
                                (0..rows)
                                    .filter_map(|p| e.sinusoidal.value(&[p, d]))
                                    .collect(),
                            )
                        })
                        .collect()
                })
            })
            .unwrap_or_default()
    });
    let table_name = move || {
        state
            .model
            .read("position_embeddings", |c| match c.architecture.as_str() {
                "GPT-2" => "wpe",
                _ => "position_embeddings",
            })
    };
    view! {
        <h2>{move || tr("panel.positions")}</h2>
        <p class="explain">{move || tr("positions.explain")}</p>
        <math display="block" data-testid="pe-formula">
            <mrow>
                <mi>"PE"</mi>
                <mo>"("</mo>
                <mi>"pos"</mi>
                <mo>","</mo>
                <mn>"2"</mn>
                <mi>"i"</mi>
                <mo>")"</mo>
                <mo>"="</mo>
                <mi>"sin"</mi>
                <mo>"("</mo>
                <mfrac>
                    <mi>"pos"</mi>
                    <msup>
                        <mn>"10000"</mn>
                        <mrow>
                            <mn>"2"</mn>
                            <mi>"i"</mi>
                            <mo>"/"</mo>
                            <msub>
                                <mi>"d"</mi>
                                <mtext>"model"</mtext>
                            </msub>
                        </mrow>
                    </msup>
                </mfrac>
                <mo>")"</mo>
            </mrow>
        </math>
        <math display="block">
            <mrow>
                <mi>"PE"</mi>
                <mo>"("</mo>
                <mi>"pos"</mi>
                <mo>","</mo>
                <mn>"2"</mn>
                <mi>"i"</mi>
                <mo>"+"</mo>
                <mn>"1"</mn>
                <mo>")"</mo>
                <mo>"="</mo>
                <mi>"cos"</mi>
                <mo>"("</mo>
                <mo>"…"</mo>
                <mo>")"</mo>
            </mrow>
        </math>
        <fieldset class="chart-options">
            <legend>{move || tr("positions.sinusoidal_encoding")}</legend>
            <WholeSlider label="d_model" value=d_model min=4 max=1024 step=2 testid="pe-d-model" />
            <WholeSlider
                label="positions.positions"
                value=positions
                min=8
                max=512
                step=8
                testid="pe-positions"
            />
            <label>
                {move || format!("{} ", tr("positions.dimensions"))}
                <input
                    type="text"
                    size="12"
                    data-testid="pe-dimensions"
                    prop:value=move || dimensions.get()
                    on:change=move |ev| dimensions.set(event_target_value(&ev))
                />
            </label>
        </fieldset>
        <div class="chart-row">
            <MatrixCanvas
                values=sinusoidal
                testid="pe-sinusoidal"
                caption=Signal::derive(move || tr("positions.sinusoidal_caption"))
                row_name="positions.position"
                column_name="positions.dimension"
                fixed_limit=Some(1.0)
            />
            <LinesCanvas series=lines />
        </div>
        {move || {
            rotary()
                .map(|theta| {
                    view! {
                        <p class="explain" data-testid="pe-rotary-note">
                            {move || trf("positions.rotary_note", &[("theta", &theta)])}
                        </p>
                        <RotarySection positions=positions />
                    }
                })
        }}
        <div class="chart-row" class:hidden=move || rotary().is_some()>
            <MatrixCanvas
                values=learned
                testid="pe-learned"
                caption=Signal::derive(move || trf(
                    "positions.learned_caption",
                    &[("table", &table_name())],
                ))
                row_name="positions.position"
                column_name="positions.dimension"
                fixed_limit=None
            />
        </div>
        <h3>{move || tr("positions.similarity")}</h3>
        <p class="explain">{move || tr("positions.similarity_explain")}</p>
        <div class="chart-row">
            <MatrixCanvas
                values=sinusoidal_similarity
                testid="pe-sinusoidal-similarity"
                caption=Signal::derive(move || tr("positions.sinusoidal"))
                row_name="positions.position"
                column_name="positions.position"
                fixed_limit=Some(1.0)
            />
            <Show when=move || rotary().is_none()>
                <MatrixCanvas
                    values=learned_similarity
                    testid="pe-learned-similarity"
                    caption=Signal::derive(move || tr("positions.learned"))
                    row_name="positions.position"
                    column_name="positions.position"
                    fixed_limit=Some(1.0)
                />
            </Show>
        </div>
        <TokenPlusPosition />
    }
}

/// A [rows, columns] array as a diverging heatmap with the exact value on hover.
#[component]
pub(crate) fn MatrixCanvas(
    values: Signal<Option<Array>>,
    testid: &'static str,
    #[prop(into)] caption: Signal<String>,
    /// String keys of the axes' names.
    row_name: &'static str,
    column_name: &'static str,
    /// The colour scale's ±limit; `None`: the largest |value|.
    fixed_limit: Option<f32>,
    /// The rows' and columns' labels (tracked); without them the axes are numbered.
    #[prop(optional)]
    labels: Option<Signal<(Vec<String>, Vec<String>)>>,
    /// A click on a cell.
    #[prop(optional)]
    on_click: Option<Callback<Pointed>>,
    /// Every value is at least 0: the legend runs from 0.
    #[prop(optional)]
    from_zero: bool,
) -> impl IntoView {
    let chart = Memo::new(move |_| {
        let (row_labels, column_labels) = labels.map(|l| l.get()).unwrap_or_default();
        values.with(|array| {
            let array = array.as_ref()?;
            let [rows, columns] = array.shape[..] else {
                return None;
            };
            let largest = array
                .data
                .iter()
                .filter(|v| v.is_finite())
                .fold(1e-6f32, |m, v| m.max(v.abs()));
            Some(MatrixChart {
                values: array.data.clone(),
                rows,
                columns,
                row_name: tr(row_name),
                column_name: tr(column_name),
                row_labels,
                column_labels,
                title: caption.get(),
                limit: fixed_limit.unwrap_or(largest),
                from_zero,
            })
        })
    });
    let label = move || {
        let (rows, columns) = (tr(row_name), tr(column_name));
        trf(
            "positions.matrix_label",
            &[
                ("caption", &caption.get()),
                ("rows", &rows),
                ("columns", &columns),
            ],
        )
    };
    let data = Callback::new(|(chart, _): (MatrixChart, _)| {
        vec![("data-shape", format!("{} {}", chart.rows, chart.columns))]
    });
    let tooltip = Callback::new(|(chart, cell): (MatrixChart, Pointed)| {
        let value = chart.value(cell.row, cell.column)?;
        Some(Tooltip {
            text: format!(
                "{} {}, {} {}: ",
                chart.row_name,
                axis_label(&chart.row_labels, cell.row),
                chart.column_name,
                axis_label(&chart.column_labels, cell.column)
            ),
            value: format!("{value:.4}"),
            note: String::new(),
            data: vec![
                ("data-row", cell.row.to_string()),
                ("data-column", cell.column.to_string()),
                ("data-value", value.to_string()),
            ],
        })
    });
    view! {
        <figure class="matrix">
            <figcaption>{move || caption.get()}</figcaption>
            <ChartCanvas
                chart=chart
                max_width=500
                testid=testid
                label=Signal::derive(label)
                file_name=Signal::stored(testid.to_string())
                data=data
                tooltip=tooltip
                on_click=on_click.unwrap_or(Callback::new(|_| ()))
            />
        </figure>
    }
}

/// Named series against position (or another index, from `x_from` on).
#[component]
pub(crate) fn LinesCanvas(
    series: Signal<Vec<(String, Vec<f32>)>>,
    #[prop(default = "pe-lines")] testid: &'static str,
    /// String key of the caption.
    #[prop(default = "positions.lines_caption")]
    caption: &'static str,
    /// String key of the x axis's name.
    #[prop(default = "positions.position")]
    x_name: &'static str,
    /// The x of the series' first values.
    #[prop(default = Signal::stored(0))]
    x_from: Signal<i64>,
) -> impl IntoView {
    let chart = Memo::new(move |_| {
        Some(SeriesChart {
            series: series.get(),
            x_from: x_from.get(),
            x_name: tr(x_name),
            title: tr(caption),
        })
    });
    let data = Callback::new(|(chart, _): (SeriesChart, _)| {
        let names: Vec<&str> = chart.series.iter().map(|(name, _)| name.as_str()).collect();
        vec![("data-series", names.join(","))]
    });
    view! {
        <figure>
            <figcaption>{move || tr(caption)}</figcaption>
            <ChartCanvas
                chart=chart
                max_width=460
                testid=testid
                label=Signal::derive(move || tr(caption))
                file_name=Signal::stored(testid.to_string())
                data=data
            />
        </figure>
    }
}

/// RoPE as this model does it: the rotation frequencies from its θ, one real query pair turning
/// with position, and the score of a real query and key at every pair of positions.
#[component]
fn RotarySection(positions: RwSignal<usize>) -> impl IntoView {
    let state = use_state();
    // The trace's query of the query token and key of the first token, this layer and head.
    let chosen = Memo::new(move |_| {
        let trace = state.text.page_trace()?;
        let detail = state.selected_layer_trace()?;
        let query = state.query_token()?;
        let head = state.selection.head.get();
        let vector = |array: &Array, token: usize| array.row(&[head, token]).map(<[f32]>::to_vec);
        Some((
            vector(&detail.internals.q, query)?,
            query,
            vector(&detail.internals.k, 0)?,
            trace.tokens.get(query)?.clone(),
            trace.tokens.first()?.clone(),
        ))
    });
    let view_of = owned_request(
        move || {
            let (query, query_position, key, _, _) = chosen.get()?;
            Some((positions.get().min(128), query, query_position, key))
        },
        |(positions, query, query_position, key)| Request::Rotary {
            positions: *positions,
            query: query.clone(),
            query_position: *query_position,
            key: key.clone(),
            key_position: 0,
        },
        |answer| match answer.response {
            Response::Rotary { view } => Some(Arc::new(view)),
            _ => None,
        },
    );
    let frequencies = Signal::derive(move || {
        view_of.with_latest(|v| {
            v.map(|v| vec![(tr("positions.rope_theta_i"), v.inverse_frequencies.clone())])
                .unwrap_or_default()
        })
    });
    let rotation = Signal::derive(move || {
        view_of.with_latest(|v| {
            v.map(|v| {
                let column = |c: usize| {
                    v.pair_rotation
                        .data
                        .iter()
                        .skip(c)
                        .step_by(4)
                        .copied()
                        .collect::<Vec<f32>>()
                };
                let slowest = v.inverse_frequencies.len().saturating_sub(1);
                vec![
                    (trf("positions.rope_pair_x", &[("i", &0)]), column(0)),
                    (trf("positions.rope_pair_y", &[("i", &0)]), column(1)),
                    (trf("positions.rope_pair_x", &[("i", &slowest)]), column(2)),
                    (trf("positions.rope_pair_y", &[("i", &slowest)]), column(3)),
                ]
            })
            .unwrap_or_default()
        })
    });
    let relative =
        Signal::derive(move || view_of.with_latest(|v| v.map(|v| v.relative_scores.clone())));
    let explain = move || {
        chosen.get().map(|(_, position, _, query, key)| {
            trf(
                "positions.rope_explain",
                &[
                    ("query", &query),
                    ("position", &position),
                    ("key", &key),
                    ("layer", &(state.selection.layer.get() + 1)),
                    ("head", &(state.selection.head.get() + 1)),
                ],
            )
        })
    };
    view! {
        <section data-testid="rope-section">
            <h3>{move || tr("positions.rope_heading")}</h3>
            <p class="explain">{explain}</p>
            <div class="chart-row">
                <LinesCanvas
                    series=frequencies
                    testid="rope-frequencies"
                    caption="positions.rope_frequencies_caption"
                    x_name="positions.rope_pair"
                />
                <LinesCanvas
                    series=rotation
                    testid="rope-rotation"
                    caption="positions.rope_rotation_caption"
                />
            </div>
            <div class="chart-row">
                <MatrixCanvas
                    values=relative
                    testid="rope-relative"
                    caption=Signal::derive(move || tr("positions.rope_relative_caption"))
                    row_name="positions.rope_query_position"
                    column_name="positions.rope_key_position"
                    fixed_limit=None
                />
            </div>
        </section>
    }
}

/// Token embedding + position embedding = the first layer's input, for the query token.
#[component]
fn TokenPlusPosition() -> impl IntoView {
    let state = use_state();
    view! {
        {move || {
            let trace = state.text.page_trace()?;
            let query = state.query_token()?;
            let width = trace.token_embeddings.shape.get(1).copied()?;
            let row = |array: &Array| {
                array.data.get(query * width..(query + 1) * width).map(<[f32]>::to_vec)
            };
            let (token, position, sum) = (
                row(&trace.token_embeddings)?,
                row(trace.position_embeddings.as_ref()?)?,
                row(&trace.embedding_sum)?,
            );
            let segment = sum
                .iter()
                .zip(&token)
                .zip(&position)
                .any(|((s, t), p)| (s - t - p).abs() > 1e-5 * (1.0 + s.abs()));
            let first = |values: &[f32]| {
                values.iter().take(4).map(|v| format!("{v:.3}")).collect::<Vec<_>>().join(", ")
            };
            Some(
                // What the model adds besides token and position, read from its own numbers: BERT
                // adds a segment embedding, DistilBERT and GPT-2 add nothing.
                view! {
                    <section
                        class="token-plus-position"
                        data-testid="token-plus-position"
                        data-token=query.to_string()
                    >
                        <h3>
                            {trf(
                                "positions.token_plus",
                                &[("token", &trace.tokens[query]), ("position", &query)],
                            )}
                        </h3>
                        <table class="qkv">
                            <tbody>
                                <tr>
                                    <th>{tr("positions.token_embedding")}</th>
                                    <td>{vector(&token, "token-embedding")}</td>
                                    <td class="muted">{format!("[{}, …]", first(&token))}</td>
                                </tr>
                                <tr>
                                    <th>{format!("+ {}", tr("positions.position_embedding"))}</th>
                                    <td>{vector(&position, "position-embedding")}</td>
                                    <td class="muted">{format!("[{}, …]", first(&position))}</td>
                                </tr>
                                <tr>
                                    <th>
                                        {if segment {
                                            tr("positions.input_segment")
                                        } else {
                                            tr("positions.input")
                                        }}
                                    </th>
                                    <td>{vector(&sum, "embedding-sum")}</td>
                                    <td class="muted">{format!("[{}, …]", first(&sum))}</td>
                                </tr>
                            </tbody>
                        </table>
                        <p class="muted">
                            {tr(
                                match (trace.causal, segment) {
                                    (true, _) => "positions.gpt2_note",
                                    (false, true) => "positions.segment_note",
                                    (false, false) => "positions.norm_note",
                                },
                            )}
                        </p>
                    </section>
                },
            )
        }}
    }
}
