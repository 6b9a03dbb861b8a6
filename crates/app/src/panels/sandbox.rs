//! The toy sandbox: q, k and v of a few tokens a student types, and every intermediate of
//! softmax(QKᵀ/√dₖ + M)·V computed by the engine's own attention functions in the worker.
//! Presets are the course's worked examples; a second part draws random q and k of a growing
//! dₖ to show why the scores are divided by √dₖ.
mod scale_demo;

use leptos::prelude::*;

use super::step_through::number;
use crate::client::owned_request;
use crate::i18n::{tr, trf};
use crate::state::use_state;
use crate::widgets::Checkbox;
use ae_messages::{
    Request, Response, ToyAttention, ToyMatrices, ToyRequest, TOY_TOKENS, TOY_WIDTHS,
};

/// The typed cells of q, k and v, [matrix][token][column], as the student typed them.
type Cells = [Vec<Vec<String>>; 3];

/// The names of the three matrices, in the order of [`Cells`].
const MATRICES: [&str; 3] = ["q", "k", "v"];

/// A worked example: its name (for tests and links), label key, q, k, v and toggles.
struct Preset {
    name: &'static str,
    label: &'static str,
    q: &'static [&'static [f32]],
    k: &'static [&'static [f32]],
    v: &'static [&'static [f32]],
    scaled: bool,
    masked: bool,
}

/// The course's worked examples: two tokens under a look-ahead mask, whose weights are
/// [[1, 0], [0.15, 0.85]]; and three tokens with dₖ = 2 and no mask.
const PRESETS: [Preset; 2] = [
    Preset {
        name: "look-ahead",
        label: "sandbox.preset_look_ahead",
        q: &[&[1.0, 0.0], &[1.0, 2.0]],
        k: &[&[1.0, 0.0], &[0.0, 1.7]],
        v: &[&[1.0, 0.0], &[0.0, 1.0]],
        scaled: true,
        masked: true,
    },
    Preset {
        name: "three-tokens",
        label: "sandbox.preset_three_tokens",
        q: &[&[1.0, 0.0], &[0.0, 1.0], &[1.0, 1.0]],
        k: &[&[1.0, 0.0], &[1.0, 1.0], &[0.0, 1.0]],
        v: &[&[1.0, 0.0], &[0.0, 1.0], &[1.0, 1.0]],
        scaled: true,
        masked: false,
    },
];

impl Preset {
    fn request(&self) -> ToyRequest {
        let rows = |m: &[&[f32]]| m.iter().map(|row| row.to_vec()).collect();
        ToyRequest {
            matrices: ToyMatrices::Given {
                q: rows(self.q),
                k: rows(self.k),
                v: rows(self.v),
            },
            scaled: self.scaled,
            masked: self.masked,
        }
    }
}

/// Matrices as typed cells.
fn cells_of(matrices: &ToyMatrices) -> Cells {
    let typed = |m: &Vec<Vec<f32>>| {
        m.iter()
            .map(|row| row.iter().map(f32::to_string).collect())
            .collect()
    };
    match matrices {
        ToyMatrices::Given { q, k, v } => [typed(q), typed(k), typed(v)],
        ToyMatrices::Random { .. } => Default::default(),
    }
}

/// A typed cell's number, if it holds a finite one.
fn cell_number(cell: &str) -> Option<f32> {
    cell.trim().parse::<f32>().ok().filter(|x| x.is_finite())
}

/// The typed cells as matrices, if every cell holds a finite number.
fn parse(cells: &Cells) -> Option<ToyMatrices> {
    let matrix = |m: &Vec<Vec<String>>| -> Option<Vec<Vec<f32>>> {
        m.iter()
            .map(|row| row.iter().map(|cell| cell_number(cell)).collect())
            .collect()
    };
    let [q, k, v] = cells;
    Some(ToyMatrices::Given {
        q: matrix(q)?,
        k: matrix(k)?,
        v: matrix(v)?,
    })
}

/// `cells` with `tokens` rows of `width` columns: what fits is kept, new cells are 0.
fn resized(cells: &Cells, tokens: usize, width: usize) -> Cells {
    cells.clone().map(|matrix| {
        (0..tokens)
            .map(|i| {
                (0..width)
                    .map(|j| {
                        matrix
                            .get(i)
                            .and_then(|row| row.get(j))
                            .cloned()
                            .unwrap_or_else(|| "0".to_string())
                    })
                    .collect()
            })
            .collect()
    })
}

/// The panel: presets, sizes and toggles, the typed matrices, every intermediate, and the
/// √dₖ demonstration.
#[component]
pub fn Sandbox() -> impl IntoView {
    let state = use_state();
    let first = PRESETS[0].request();
    // The link's (or a lesson step's) sandbox, else the first example.
    let shown = state
        .settings
        .toy
        .get_untracked()
        .unwrap_or_else(|| first.clone());
    let cells = RwSignal::new(cells_of(&shown.matrices));
    let scaled = RwSignal::new(shown.scaled);
    let masked = RwSignal::new(shown.masked);
    let size = Memo::new(move |_| cells.with(|c| (c[0].len(), c[0].first().map_or(0, Vec::len))));
    let matrices = Memo::new(move |_| cells.with(parse));
    // While a cell is not a number, the last complete matrices stay computed and shown.
    let complete = Memo::new(move |last: Option<&Option<ToyMatrices>>| {
        matrices.get().or_else(|| last.cloned().flatten())
    });
    let request = Memo::new(move |_| {
        Some(ToyRequest {
            matrices: complete.get()?,
            scaled: scaled.get(),
            masked: masked.get(),
        })
    });
    let show = move |toy: &ToyRequest| {
        cells.set(cells_of(&toy.matrices));
        scaled.set(toy.scaled);
        masked.set(toy.masked);
    };
    // The address carries what is computed once it is not the untouched first example;
    // a lesson step that names a sandbox shows it.
    Effect::new(move |_| {
        let computed = request.get();
        let named = state.settings.toy.get_untracked();
        let untouched = named.is_none() && computed.as_ref() == Some(&first);
        if !untouched && named != computed {
            state.settings.toy.set(computed);
        }
    });
    Effect::new(move |_| {
        let asked = state.settings.toy.get();
        if let Some(toy) = asked.filter(|toy| Some(toy) != request.get_untracked().as_ref()) {
            show(&toy);
        }
    });
    let answer = owned_request(
        move || request.get(),
        |toy: &ToyRequest| Request::ToyAttention { toy: toy.clone() },
        |answer| match answer.response {
            Response::ToyAttention { toy } => Some(*toy),
            _ => None,
        },
    );
    Effect::new(move |_| {
        if let Some(Err(failure)) = answer.current() {
            state.view.report(failure);
        }
    });
    let choose = move |preset: &Preset| show(&preset.request());
    let resize = move |tokens: usize, width: usize| {
        cells.update(|c| *c = resized(c, tokens, width));
    };
    view! {
        <h2>{move || tr("panel.sandbox")}</h2>
        <p>{move || tr("sandbox.explain")}</p>
        <math display="block" data-testid="sandbox-formula">
            <mi>"softmax"</mi>
            <mo>"("</mo>
            <mfrac>
                <mrow>
                    <mi>"Q"</mi>
                    <msup>
                        <mi>"K"</mi>
                        <mi>"T"</mi>
                    </msup>
                </mrow>
                <msqrt>
                    <msub>
                        <mi>"d"</mi>
                        <mi>"k"</mi>
                    </msub>
                </msqrt>
            </mfrac>
            <mo>"+"</mo>
            <mi>"M"</mi>
            <mo>")"</mo>
            <mi>"V"</mi>
        </math>
        <div class="sandbox-controls">
            {PRESETS
                .iter()
                .map(|preset| {
                    view! {
                        <button
                            data-testid=format!("sandbox-preset-{}", preset.name)
                            on:click=move |_| choose(preset)
                        >
                            {move || tr(preset.label)}
                        </button>
                    }
                })
                .collect_view()}
            <SizePicker
                label="sandbox.tokens"
                testid="sandbox-tokens"
                range=TOY_TOKENS
                value=Signal::derive(move || size.get().0)
                set=Callback::new(move |tokens| resize(tokens, size.get_untracked().1))
            />
            <SizePicker
                label="sandbox.width"
                testid="sandbox-width"
                range=TOY_WIDTHS
                value=Signal::derive(move || size.get().1)
                set=Callback::new(move |width| resize(size.get_untracked().0, width))
            />
            <Checkbox
                testid="sandbox-scaled"
                checked=scaled
                set=Callback::new(move |on| scaled.set(on))
                label=Signal::derive(move || tr("sandbox.scaled"))
            />
            <Checkbox
                testid="sandbox-masked"
                checked=masked
                set=Callback::new(move |on| masked.set(on))
                label=Signal::derive(move || tr("sandbox.masked"))
            />
        </div>
        <div class="sandbox-inputs">
            {(0..3).map(|m| view! { <MatrixInput cells matrix=m size /> }).collect_view()}
        </div>
        {move || {
            matrices
                .with(Option::is_none)
                .then(|| {
                    view! {
                        <p class="notice" role="alert" data-testid="sandbox-invalid">
                            {tr("sandbox.invalid")}
                        </p>
                    }
                })
        }}
        {move || answer.with_latest(|toy| toy.cloned()).map(|toy| view! { <Intermediates toy /> })}
        <scale_demo::ScaleDemo />
    }
}

/// A select of a size in `range`.
#[component]
fn SizePicker(
    label: &'static str,
    testid: &'static str,
    range: std::ops::RangeInclusive<usize>,
    value: Signal<usize>,
    set: Callback<usize>,
) -> impl IntoView {
    let options = range
        .map(|n| view! { <option value=n.to_string()>{n}</option> })
        .collect_view();
    view! {
        <label>
            {move || format!("{} ", tr(label))}
            <select
                data-testid=testid
                prop:value=move || value.get().to_string()
                on:change=move |ev| {
                    if let Ok(n) = event_target_value(&ev).parse() {
                        set.run(n)
                    }
                }
            >
                {options}
            </select>
        </label>
    }
}

/// One typed matrix, a text box per number. Rebuilt only when the size changes, so typing
/// keeps the focus.
#[component]
fn MatrixInput(cells: RwSignal<Cells>, matrix: usize, size: Memo<(usize, usize)>) -> impl IntoView {
    let name = MATRICES[matrix];
    let cell = move |i: usize, j: usize| {
        let typed = move || cells.with(|c| c[matrix][i].get(j).cloned().unwrap_or_default());
        let invalid = move || cell_number(&typed()).is_none();
        view! {
            <td>
                <input
                    type="text"
                    inputmode="decimal"
                    size="5"
                    data-testid=format!("sandbox-{name}-{i}-{j}")
                    aria-label=format!("{name}{} [{}]", i + 1, j + 1)
                    aria-invalid=move || invalid().to_string()
                    class:invalid=invalid
                    prop:value=typed
                    on:input=move |ev| {
                        let text = event_target_value(&ev);
                        cells.update(|c| c[matrix][i][j] = text)
                    }
                />
            </td>
        }
    };
    view! {
        <table class="sandbox-matrix" data-testid=format!("sandbox-{name}")>
            <caption>{name.to_uppercase()}</caption>
            <tbody>
                {move || {
                    let (tokens, width) = size.get();
                    (0..tokens)
                        .map(|i| {
                            view! {
                                <tr>
                                    <th scope="row">{format!("{name}{}", i + 1)}</th>
                                    {(0..width).map(|j| cell(i, j)).collect_view()}
                                </tr>
                            }
                        })
                        .collect_view()
                }}
            </tbody>
        </table>
    }
}

/// QKᵀ, the scaled scores, the mask, the weights and the output, each a table of the engine's
/// numbers (rows: queries; columns: keys, or the output's columns).
#[component]
fn Intermediates(toy: ToyAttention) -> impl IntoView {
    let width = toy.q.first().map_or(0, Vec::len);
    let scale = (width as f32).sqrt();
    // Component bodies run once: the explanations follow the page's language as closures.
    let scaled = toy.scaled;
    let scale_text = Signal::derive(move || match scaled {
        true => trf(
            "sandbox.scaled_explain",
            &[("d_k", &width), ("scale", &format!("{scale:.4}"))],
        ),
        false => tr("sandbox.unscaled_explain"),
    });
    let mask_key = match toy.masked {
        true => "sandbox.masked_explain",
        false => "sandbox.unmasked_explain",
    };
    let explained = |key: &'static str| Some(Signal::derive(move || tr(key)));
    // Each stage: what leads to it, its title, its numbers, its test id and their kind.
    let stages = [
        (
            None,
            "sandbox.dot_title",
            toy.dot_products,
            "sandbox-dot",
            "dot",
        ),
        (
            Some(scale_text),
            "sandbox.scores_title",
            toy.scores,
            "sandbox-scores",
            "score",
        ),
        (
            explained(mask_key),
            "sandbox.masked_title",
            toy.masked_scores,
            "sandbox-masked-scores",
            "masked",
        ),
        (
            explained("sandbox.softmax_explain"),
            "sandbox.weights_title",
            toy.weights,
            "sandbox-weights",
            "prob",
        ),
        (
            explained("sandbox.output_explain"),
            "sandbox.output_title",
            toy.output,
            "sandbox-output",
            "output",
        ),
    ];
    let stages = stages
        .into_iter()
        .map(|(explain, title, rows, testid, kind)| {
            view! {
                {explain.map(|text| view! { <p>{text}</p> })}
                <ResultTable title rows testid kind />
            }
        })
        .collect_view();
    view! { <div class="sandbox-results">{stages}</div> }
}

/// A matrix of numbers under its title; row i is query i.
#[component]
fn ResultTable(
    title: &'static str,
    rows: Vec<Vec<f32>>,
    testid: &'static str,
    kind: &'static str,
) -> impl IntoView {
    // Every table but the output's has a column per key.
    let column = |j: usize| match kind {
        "output" => format!("{}", j + 1),
        _ => format!("k{}", j + 1),
    };
    let header = (0..rows.first().map_or(0, Vec::len))
        .map(|j| view! { <th scope="col">{column(j)}</th> })
        .collect_view();
    let body = rows
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            view! {
                <tr>
                    <th scope="row">{format!("q{}", i + 1)}</th>
                    {row
                        .into_iter()
                        .map(|x| {
                            view! {
                                <td class:masked=x == f32::NEG_INFINITY>{number(x, kind)}</td>
                            }
                        })
                        .collect_view()}
                </tr>
            }
        })
        .collect_view();
    view! {
        <h4 class="sandbox-result-title">{move || tr(title)}</h4>
        <div class="sandbox-scroll">
        <table class="scores sandbox-result" data-testid=testid>
            <thead>
                <tr>
                    <td></td>
                    {header}
                </tr>
            </thead>
            <tbody>{body}</tbody>
        </table>
        </div>
    }
}
