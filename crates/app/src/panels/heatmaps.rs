//! Attention heatmaps: one head (or the layer's average) as a query × key matrix with exact
//! values on hover and an accessible table, every layer × head as clickable thumbnails
//! (BertViz's model view), and the line view (BertViz's head view). Charts: `ae_charts`.
use std::sync::Arc;

use leptos::prelude::*;

use crate::i18n::{tr, trf};
use crate::state::{use_state, AppState, Lock};
use crate::widgets::{chart_width, ChartCanvas, Checkbox, KeyValueGroup, Pointed, Tooltip};
use ae_charts::{
    attention_grid, css_colour, head_colour, AttentionGrid, Cell, GridOptions, HeadLinesChart,
    HeatmapChart, Highlight, ThumbnailChart,
};
use ae_messages::PageTrace;

/// The current trace with the special-token flags of its tokens.
pub(crate) fn traced(state: &AppState) -> Option<(Arc<PageTrace>, Vec<bool>)> {
    let trace = state.text.page_trace()?;
    let special = state.text.with_tokens(|tokens| {
        tokens
            .filter(|t| t.special.len() == trace.tokens.len())
            .map_or_else(|| vec![false; trace.tokens.len()], |t| t.special.clone())
    });
    Some((trace, special))
}

/// The panel: options, the heatmap, the line view and the overview.
#[component]
pub fn Heatmaps() -> impl IntoView {
    let state = use_state();
    view! {
        <h2>{move || tr("heatmaps.title")}</h2>
        <p class="explain">{move || tr("heatmaps.explain")}</p>
        <Show
            when=move || state.text.is_traced()
            fallback=|| view! { <p class="muted">{move || tr("heatmaps.empty")}</p> }
        >
            <HeatmapOptions />
            <KeyValueGroup />
            <div class="chart-row">
                <HeadHeatmap />
                <LineView />
            </div>
            <Overview />
        </Show>
    }
}

/// Head average, hiding special tokens, and the top-share filter.
#[component]
fn HeatmapOptions() -> impl IntoView {
    let state = use_state();
    let options = state.settings.heatmap;
    let causal = move || state.text.page_trace().is_some_and(|t| t.causal);
    let percent = move || (options.get().top_share * 100.0).round() as u32;
    view! {
        <fieldset class="chart-options" data-testid="heatmap-options">
            <legend>{move || tr("heatmaps.show")}</legend>
            <Checkbox
                testid="average-heads"
                checked=Signal::derive(move || options.get().average_heads)
                set=Callback::new(move |on| options.update(|o| o.average_heads = on))
                label=Signal::derive(move || tr("heatmaps.average"))
            />
            <Checkbox
                testid="rollout"
                checked=Signal::derive(move || options.get().rollout)
                set=Callback::new(move |on| options.update(|o| o.rollout = on))
                label=Signal::derive(move || tr("heatmaps.rollout"))
            />
            <Checkbox
                testid="hide-special"
                checked=Signal::derive(move || options.get().hide_special)
                set=Callback::new(move |on| options.update(|o| o.hide_special = on))
                label=Signal::derive(move || {
                    if causal() {
                        tr("heatmaps.hide_special_causal")
                    } else {
                        tr("heatmaps.hide_special")
                    }
                })
            />
            <label>
                {move || format!("{} ", tr("heatmaps.top"))}
                <input
                    type="range"
                    min="5"
                    max="100"
                    step="5"
                    data-testid="top-share"
                    aria-label=move || tr("heatmaps.top_label")
                    prop:value=move || percent().to_string()
                    on:input=move |ev| {
                        let value: f32 = event_target_value(&ev).parse().unwrap_or(100.0);
                        options.update(|o| o.top_share = (value / 100.0).clamp(0.05, 1.0))
                    }
                /> {move || format!(" {}", trf("heatmaps.top_value", &[("percent", &percent())]))}
            </label>
            <Show when=move || options.get().rollout>
                <p class="notice" data-testid="rollout-note">
                    {move || tr("heatmaps.rollout_explain")}
                </p>
            </Show>
            <Show when=move || options.get().hide_special>
                <p class="notice" data-testid="renormalised">
                    {move || tr("heatmaps.renormalised")}
                </p>
            </Show>
            <Show when=move || { options.get().top_share < 1.0 }>
                <p class="muted">{move || tr("heatmaps.top_explain")}</p>
            </Show>
        </fieldset>
    }
}

/// The heatmap's title: the layer and head, or the layer's average (tracked).
fn heatmap_title(state: AppState) -> String {
    let layer = state.selection.layer.get() + 1;
    let options = state.settings.heatmap.get();
    if options.rollout {
        trf("heatmaps.title_rollout", &[("layer", &layer)])
    } else if options.average_heads {
        trf("heatmaps.title_average", &[("layer", &layer)])
    } else {
        let head = state.selection.head.get() + 1;
        trf("heatmaps.title_head", &[("layer", &layer), ("head", &head)])
    }
}

/// One head's (or the average's) query × key heatmap with tooltip and table.
#[component]
fn HeadHeatmap() -> impl IntoView {
    let state = use_state();
    let selection = state.selection;
    let chart = Memo::new(move |_| {
        let (trace, special) = traced(&state)?;
        let options = state.settings.heatmap.get();
        let (layer, head) = (selection.layer.get(), selection.head.get());
        let grid = attention_grid(&trace, &special, layer, head, options).ok()?;
        Some(HeatmapChart {
            grid,
            highlight: Highlight::token(selection.highlighted_token()),
            weight: tr("chart.weight"),
            masked: tr("chart.masked"),
            title: heatmap_title(state),
            corner: tr("heatmaps.corner"),
        })
    });
    let file_name = move || {
        let layer = selection.layer.get() + 1;
        let options = state.settings.heatmap.get();
        if options.rollout {
            format!("attention-rollout-layer{layer}")
        } else if options.average_heads {
            format!("attention-layer{layer}-average")
        } else {
            format!("attention-layer{layer}-head{}", selection.head.get() + 1)
        }
    };
    let data = Callback::new(move |(chart, _): (HeatmapChart, _)| {
        let positions = chart.grid.positions.iter().map(|p| p.to_string());
        vec![
            ("data-layer", selection.layer.get().to_string()),
            ("data-head", selection.head.get().to_string()),
            (
                "data-average",
                state.settings.heatmap.get().average_heads.to_string(),
            ),
            (
                "data-highlight",
                selection
                    .highlighted_token()
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
            ),
            ("data-positions", positions.collect::<Vec<_>>().join(",")),
        ]
    });
    let pin = Callback::new(move |cell: Pointed| {
        let position = chart.with_untracked(|c| c.as_ref().map(|c| c.grid.positions[cell.row]));
        selection.pinned.set(position);
    });
    let label = move || trf("heatmaps.canvas_label", &[("title", &heatmap_title(state))]);
    let grid = move || chart.with(|c| c.as_ref().map(|c| c.grid.clone()));
    view! {
        <figure class="heatmap">
            <figcaption data-testid="heatmap-title">
                {move || format!("{} — {}", heatmap_title(state), tr("heatmaps.axes"))}
            </figcaption>
            <ChartCanvas
                chart=chart
                max_width=540
                testid="heatmap"
                label=Signal::derive(label)
                file_name=Signal::derive(file_name)
                export_testid="heatmap-export"
                data=data
                tooltip=Callback::new(move |(chart, cell): (HeatmapChart, Pointed)| heatmap_tooltip(
                    &chart.grid,
                    cell,
                    state,
                    "heatmaps.masked_future",
                ))
                on_click=pin
            />
            {move || {
                grid()
                    .is_some_and(|g| g.size() == 0)
                    .then(|| view! { <p class="muted">{tr("heatmaps.all_hidden")}</p> })
            }}
            <ValuesTable grid=Signal::derive(grid) />
        </figure>
    }
}

/// What the tooltip says about a cell: both tokens and the exact weight; `masked_note` (a
/// string key) says why a masked cell has none.
pub(crate) fn heatmap_tooltip(
    grid: &AttentionGrid,
    cell: Pointed,
    state: AppState,
    masked_note: &str,
) -> Option<Tooltip> {
    let (query, key) = (
        *grid.positions.get(cell.row)?,
        *grid.key_positions.get(cell.column)?,
    );
    let (kind, value, note) = match grid.cell(cell.row, cell.column) {
        Cell::Weight(v) => ("weight", v, String::new()),
        Cell::BelowShare(v) => {
            let percent = format!(
                "{:.0}",
                state.settings.heatmap.get_untracked().top_share * 100.0
            );
            let note = trf("heatmaps.below_share", &[("percent", &percent)]);
            ("below-share", v, format!(" {note}"))
        }
        Cell::Masked => ("masked", 0.0, format!(" {}", tr(masked_note))),
    };
    let (query_label, key_label) = (&grid.labels[cell.row], &grid.key_labels[cell.column]);
    Some(Tooltip {
        text: format!("“{query_label}” ({query}) → “{key_label}” ({key})"),
        value: format!("{value:.4}"),
        note,
        data: vec![
            ("data-query", query.to_string()),
            ("data-key", key.to_string()),
            ("data-kind", kind.to_string()),
            ("data-value", value.to_string()),
        ],
    })
}

/// The heatmap's numbers as a table, built when it is opened.
#[component]
pub(crate) fn ValuesTable(grid: Signal<Option<AttentionGrid>>) -> impl IntoView {
    let open = RwSignal::new(false);
    view! {
        <details on:toggle=move |ev| {
            open.set(event_target::<web_sys::HtmlDetailsElement>(&ev).open())
        }>
            <summary>{move || tr("heatmaps.values_table")}</summary>
            {move || open.get().then(|| grid.get().map(|grid| value_table(&grid)))}
        </details>
    }
}

/// The heatmap's numbers as a table (rows: queries, columns: keys).
fn value_table(grid: &AttentionGrid) -> impl IntoView {
    let header = grid
        .key_labels
        .iter()
        .map(|l| view! { <th scope="col">{l.clone()}</th> })
        .collect_view();
    let rows = (0..grid.size())
        .map(|row| {
            let cells = (0..grid.columns())
                .map(|column| match grid.cell(row, column) {
                    Cell::Masked => view! {
                        <td class="masked" data-value="masked">
                            {move || tr("chart.masked")}
                        </td>
                    }
                    .into_any(),
                    cell => {
                        let value = cell.value().unwrap_or(0.0);
                        view! { <td data-value=value.to_string()>{format!("{value:.3}")}</td> }
                            .into_any()
                    }
                })
                .collect_view();
            view! {
                <tr>
                    <th scope="row">{grid.labels[row].clone()}</th>
                    {cells}
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="values-table" data-testid="heatmap-table">
                <thead>
                    <tr>
                        <th>{move || tr("heatmaps.corner")}</th>
                        {header}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

/// Every layer × head as a thumbnail; a click selects that layer and head everywhere.
#[component]
fn Overview() -> impl IntoView {
    let state = use_state();
    let shape = move || {
        state
            .text
            .page_trace()
            .map_or((0, 0), |t| (t.attentions.shape[0], t.attentions.shape[1]))
    };
    view! {
        <OverviewGrid
            shape=Signal::derive(shape)
            explain=Some("heatmaps.overview_explain")
            testid="overview"
            thumbnail=Callback::new(|(layer, head, size): (usize, usize, u32)| {
                view! { <Thumbnail layer=layer head=head size=size /> }.into_any()
            })
        />
    }
}

/// Layers × heads of thumbnails (BertViz's model view), sized so a row of heads fits the page;
/// `thumbnail(layer, head, side)` draws one (both overviews).
#[component]
pub(crate) fn OverviewGrid(
    /// (layers, heads), tracked.
    shape: Signal<(usize, usize)>,
    /// String key of a line under the heading.
    explain: Option<&'static str>,
    testid: &'static str,
    thumbnail: Callback<(usize, usize, u32), AnyView>,
) -> impl IntoView {
    let state = use_state();
    view! {
        <section class="overview" aria-label=move || tr("heatmaps.overview_label")>
            <h3>{move || tr("heatmaps.overview")}</h3>
            {explain.map(|key| view! { <p class="muted">{move || tr(key)}</p> })}
            <div class="overview-grid" data-testid=testid>
                {move || {
                    let (layers, heads) = shape.get();
                    let size = thumbnail_side(state, heads);
                    (0..layers)
                        .map(|layer| {
                            view! {
                                <div class="overview-row">
                                    <span class="overview-label">{format!("L{}", layer + 1)}</span>
                                    {(0..heads)
                                        .map(|head| thumbnail.run((layer, head, size)))
                                        .collect_view()}
                                </div>
                            }
                        })
                        .collect_view()
                }}
            </div>
        </section>
    }
}

/// A thumbnail's side in pixels: a row of `heads` fits the page (tracked).
fn thumbnail_side(state: AppState, heads: usize) -> u32 {
    ((chart_width(state.view.viewport_width.get(), 1200) - 80) / heads.max(1) as u32)
        .saturating_sub(6)
        .clamp(16, 64)
}

/// One head's thumbnail button.
#[component]
fn Thumbnail(layer: usize, head: usize, size: u32) -> impl IntoView {
    let state = use_state();
    let selection = state.selection;
    let selected =
        Signal::derive(move || selection.layer.get() == layer && selection.head.get() == head);
    let chart = Memo::new(move |_| {
        let (trace, special) = traced(&state)?;
        let options = GridOptions {
            average_heads: false,
            rollout: false,
            ..state.settings.heatmap.get()
        };
        let grid = attention_grid(&trace, &special, layer, head, options).ok()?;
        Some(ThumbnailChart {
            grid,
            selected: selected.get(),
            side: size,
        })
    });
    let choose = Callback::new(move |_| {
        selection.layer.set(layer);
        selection.head.set(head);
        state.settings.heatmap.update(|o| {
            o.average_heads = false;
            o.rollout = false;
        })
    });
    view! {
        <ThumbnailButton
            chart=chart
            layer=layer
            head=head
            size=size
            selected=selected
            locked=Signal::derive(move || {
                state.view.locked(Lock::Layer) || state.view.locked(Lock::Head)
            })
            testid=format!("thumb-{layer}-{head}")
            on_choose=choose
        />
    }
}

/// A head's thumbnail as a button that shows that head (both overviews).
#[component]
pub(crate) fn ThumbnailButton(
    chart: Memo<Option<ThumbnailChart>>,
    layer: usize,
    head: usize,
    size: u32,
    selected: Signal<bool>,
    locked: Signal<bool>,
    testid: String,
    on_choose: Callback<()>,
) -> impl IntoView {
    let name = move || {
        trf(
            "heatmaps.title_head",
            &[("layer", &(layer + 1)), ("head", &(head + 1))],
        )
    };
    view! {
        <button
            class="thumbnail"
            class:selected=move || selected.get()
            data-testid=testid
            aria-label=name
            aria-pressed=move || selected.get().to_string()
            title=name
            prop:disabled=move || locked.get()
            on:click=move |_| on_choose.run(())
        >
            <ChartCanvas chart=chart max_width=size testid="thumbnail" label=Signal::derive(name) />
        </button>
    }
}

/// BertViz's head view of the selected layer: tokens in two columns, a line per head and token
/// pair, heads toggled; pointing at a token's row hovers that token everywhere.
#[component]
fn LineView() -> impl IntoView {
    let state = use_state();
    let selection = state.selection;
    let n_heads =
        Signal::derive(move || state.text.page_trace().map_or(0, |t| t.attentions.shape[1]));
    let title = Signal::derive(move || {
        trf(
            "heatmaps.lines_title",
            &[("layer", &(selection.layer.get() + 1))],
        )
    });
    let chart = Callback::new(move |shown: Vec<bool>| {
        let (trace, special) = traced(&state)?;
        let options = GridOptions {
            average_heads: false,
            rollout: false,
            ..state.settings.heatmap.get()
        };
        let layer = selection.layer.get();
        let grid = |head| attention_grid(&trace, &special, layer, head, options).ok();
        head_lines_chart(&shown, grid, selection.highlighted_token(), title.get())
    });
    let point = Callback::new(move |(chart, cell): (HeadLinesChart, Option<Pointed>)| {
        let position = cell.and_then(|cell| chart.positions.get(cell.row).copied());
        if selection.hovered.get_untracked() != position {
            selection.hovered.set(position);
        }
    });
    view! {
        <HeadLinesFigure
            n_heads
            selected_head=selection.head.into()
            chart
            title
            label=Signal::derive(move || tr("heatmaps.lines_label"))
            file_name=Signal::derive(move || format!("lines-layer{}", selection.layer.get() + 1))
            on_point=point
        />
    }
}

/// The line view of the shown heads (`shown[h]`, each head's grid from `grid`), queries left,
/// its lines narrowed to the query at token position `focus`.
pub(crate) fn head_lines_chart(
    shown: &[bool],
    grid: impl Fn(usize) -> Option<AttentionGrid>,
    focus: Option<usize>,
    title: String,
) -> Option<HeadLinesChart> {
    let heads: Vec<(usize, AttentionGrid)> = (0..shown.len())
        .filter(|&h| shown[h])
        .map(|head| Some((head, grid(head)?)))
        .collect::<Option<_>>()?;
    // Labels and positions are the same for every head: the first shown head's give them.
    let reference = match heads.first() {
        Some((_, grid)) => grid.clone(),
        None => grid(0)?,
    };
    Some(HeadLinesChart {
        focus: focus.and_then(|p| reference.row_of(p)),
        heads: heads
            .iter()
            .map(|(head, g)| (*head, g.line_weights()))
            .collect(),
        key_labels: reference.key_labels,
        keys_left: false,
        column_titles: None,
        labels: reference.labels,
        positions: reference.positions,
        title,
        corner: tr("heatmaps.lines_corner"),
        head_word: tr("heatmaps.head_word"),
    })
}

/// A line view with its head toggles: `chart` draws the shown heads (`shown[h]`).
#[component]
pub(crate) fn HeadLinesFigure(
    n_heads: Signal<usize>,
    selected_head: Signal<usize>,
    chart: Callback<Vec<bool>, Option<HeadLinesChart>>,
    title: Signal<String>,
    label: Signal<String>,
    file_name: Signal<String>,
    #[prop(optional)] on_point: Option<Callback<(HeadLinesChart, Option<Pointed>)>>,
) -> impl IntoView {
    let shown = RwSignal::new(Vec::<bool>::new());
    Effect::new(move |_| shown.set(vec![true; n_heads.get()]));
    let chart = Memo::new(move |_| chart.run(shown.get()));
    let data = Callback::new(move |(chart, drawn): (HeadLinesChart, ae_charts::Drawn)| {
        let focus = chart
            .focus
            .and_then(|row| chart.positions.get(row).copied());
        vec![
            ("data-lines", drawn.marks.to_string()),
            (
                "data-focus",
                focus.map(|f| f.to_string()).unwrap_or_default(),
            ),
        ]
    });
    let point = Callback::new(move |cell: Option<Pointed>| {
        if let (Some(on_point), Some(chart)) = (on_point, chart.get_untracked()) {
            on_point.run((chart, cell));
        }
    });
    let toggle = move |head: usize| {
        view! {
            <label class="head-toggle" style:--head-colour=css_colour(head_colour(head))>
                <input
                    type="checkbox"
                    data-testid=format!("line-head-{head}")
                    prop:checked=move || shown.with(|s| s.get(head).copied().unwrap_or(false))
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        shown.update(|s| if let Some(x) = s.get_mut(head) { *x = on })
                    }
                />
                <span class="swatch"></span>
                {head + 1}
                <span class="visually-hidden">{move || format!(" {}", tr("heatmaps.head_word"))}</span>
            </label>
        }
    };
    let only_selected = move |_| {
        let selected = selected_head.get_untracked();
        shown.update(|s| {
            s.iter_mut()
                .enumerate()
                .for_each(|(h, x)| *x = h == selected)
        })
    };
    view! {
        <figure class="line-view">
            <figcaption>{title}</figcaption>
            <div class="head-toggles" role="group" aria-label=move || tr("heatmaps.lines_heads")>
                <For each=move || 0..n_heads.get() key=|head| *head children=toggle />
                <button on:click=move |_| {
                    shown.update(|s| s.iter_mut().for_each(|x| *x = true))
                }>{move || tr("heatmaps.all_heads")}</button>
                <button data-testid="line-only-selected" on:click=only_selected>
                    {move || tr("heatmaps.only_selected")}
                </button>
            </div>
            <ChartCanvas
                chart=chart
                max_width=400
                testid="line-view"
                label=label
                file_name=file_name
                export_testid="lines-export"
                data=data
                on_point=point
            />
        </figure>
    }
}
