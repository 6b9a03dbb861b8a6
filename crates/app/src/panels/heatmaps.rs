//! Attention heatmaps: one head (or the layer's average) as a query × key matrix with exact
//! values on hover and an accessible table, every layer × head as clickable thumbnails
//! (BertViz's model view), and the line view (BertViz's head view). Charts: `ae_charts`.
use std::sync::Arc;

use leptos::html::Canvas;
use leptos::prelude::*;

use crate::canvas::{canvas_point, chart_width, draw_on};
use crate::export::{ExportButtons, Exports};
use crate::i18n::{tr, trf};
use crate::state::{use_state, AppState, Lock, Problem};
use ae_charts::{
    attention_grid, css_colour, draw_head_lines, draw_heatmap, draw_thumbnail, grid_table,
    head_colour, svg_document, AttentionGrid, Cell, DataRow, DataTable, GridOptions, HeadLines,
    HeatmapWords, PlotArea,
};
use ae_messages::PageTrace;

/// The current trace with the special-token flags of its tokens.
fn traced(state: &AppState) -> Option<(Arc<PageTrace>, Vec<bool>)> {
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
        <Show when=move || state.text.is_traced()
            fallback=|| view! { <p class="muted">{move || tr("heatmaps.empty")}</p> }>
            <HeatmapOptions/>
            <super::KeyValueGroup/>
            <div class="chart-row">
                <HeadHeatmap/>
                <LineView/>
            </div>
            <Overview/>
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
            <label><input type="checkbox" data-testid="average-heads"
                prop:checked=move || options.get().average_heads
                on:change=move |ev| { let on = event_target_checked(&ev); options.update(|o| o.average_heads = on) }/>
                {move || format!(" {}", tr("heatmaps.average"))}</label>
            <label><input type="checkbox" data-testid="hide-special"
                prop:checked=move || options.get().hide_special
                on:change=move |ev| { let on = event_target_checked(&ev); options.update(|o| o.hide_special = on) }/>
                {move || format!(" {}", if causal() { tr("heatmaps.hide_special_causal") } else { tr("heatmaps.hide_special") })}</label>
            <label>{move || format!("{} ", tr("heatmaps.top"))}
                <input type="range" min="5" max="100" step="5" data-testid="top-share"
                    aria-label=move || tr("heatmaps.top_label")
                    prop:value=move || percent().to_string()
                    on:input=move |ev| {
                        let value: f32 = event_target_value(&ev).parse().unwrap_or(100.0);
                        options.update(|o| o.top_share = (value / 100.0).clamp(0.05, 1.0))
                    }/>
                {move || format!(" {}", trf("heatmaps.top_value", &[("percent", &percent())]))}</label>
            <Show when=move || options.get().hide_special>
                <p class="notice" data-testid="renormalised">{move || tr("heatmaps.renormalised")}</p>
            </Show>
            <Show when=move || { options.get().top_share < 1.0 }>
                <p class="muted">{move || tr("heatmaps.top_explain")}</p>
            </Show>
        </fieldset>
    }
}

/// The hovered cell of the heatmap, in grid rows/columns and CSS pixels for the tooltip.
#[derive(Clone, Copy, PartialEq)]
struct HoveredCell {
    row: usize,
    column: usize,
    x: f64,
    y: f64,
}

/// One head's (or the average's) query × key heatmap with tooltip and table.
#[component]
fn HeadHeatmap() -> impl IntoView {
    let state = use_state();
    let canvas_ref = NodeRef::<Canvas>::new();
    let drawn = RwSignal::new(None::<(PlotArea, AttentionGrid)>);
    let error = RwSignal::new(None::<String>);
    let hovered = RwSignal::new(None::<HoveredCell>);
    let show_table = RwSignal::new(false);

    Effect::new(move |_| {
        let Some(canvas) = canvas_ref.get() else {
            return;
        };
        let Some((trace, special)) = traced(&state) else {
            return;
        };
        let options = state.settings.heatmap.get();
        let (layer, head) = (state.selection.layer.get(), state.selection.head.get());
        let highlight = state.selection.highlighted_token();
        let theme = state.view.chart_theme();
        let width = chart_width(state.view.viewport_width.get(), 540);
        let result = attention_grid(&trace, &special, layer, head, options)
            .map_err(|e| e.to_string())
            .and_then(|grid| {
                draw_on(&canvas, width, width.saturating_sub(40), |root| {
                    let (weight, masked) = (tr("chart.weight"), tr("chart.masked"));
                    let words = HeatmapWords {
                        weight: &weight,
                        masked: &masked,
                    };
                    draw_heatmap(root, &grid, highlight, theme, &words)
                })
                .map(|area| (area, grid))
                .map_err(|e| e.to_string())
            });
        match result {
            Ok(done) => {
                drawn.set(Some(done));
                error.set(None);
            }
            Err(message) => error.set(Some(message)),
        }
    });

    let on_pointer = move |ev: web_sys::MouseEvent| {
        let Some(canvas) = canvas_ref.get_untracked() else {
            return;
        };
        let (x, y) = canvas_point(&canvas, &ev);
        let cell = drawn.with_untracked(|d| {
            d.as_ref()
                .and_then(|(area, grid)| area.cell_at(x, y, grid.size(), grid.size()))
        });
        hovered.set(cell.map(|(row, column)| HoveredCell {
            row,
            column,
            x: ev.offset_x() as f64,
            y: ev.offset_y() as f64,
        }));
    };
    let on_click = move |_| {
        if let Some(cell) = hovered.get_untracked() {
            let position = drawn.with_untracked(|d| d.as_ref().map(|(_, g)| g.positions[cell.row]));
            state.selection.pinned.set(position);
        }
    };
    let title = move || {
        let options = state.settings.heatmap.get();
        let layer = state.selection.layer.get() + 1;
        if options.average_heads {
            trf("heatmaps.title_average", &[("layer", &layer)])
        } else {
            trf(
                "heatmaps.title_head",
                &[
                    ("layer", &layer),
                    ("head", &(state.selection.head.get() + 1)),
                ],
            )
        }
    };
    let file_name = move || {
        let layer = state.selection.layer.get() + 1;
        if state.settings.heatmap.get().average_heads {
            format!("attention-layer{layer}-average")
        } else {
            format!(
                "attention-layer{layer}-head{}",
                state.selection.head.get() + 1
            )
        }
    };
    let exports = Exports {
        canvas: canvas_ref,
        svg: Callback::new(move |(width, height)| {
            let highlight = state
                .selection
                .hovered
                .get_untracked()
                .or(state.selection.pinned.get_untracked());
            let theme = state.view.chart_theme();
            let (weight, masked) = (tr("chart.weight"), tr("chart.masked"));
            drawn.with_untracked(|d| {
                d.as_ref().map(|(_, grid)| {
                    svg_document(width, height, |root| {
                        let words = HeatmapWords {
                            weight: &weight,
                            masked: &masked,
                        };
                        draw_heatmap(root, grid, highlight, theme, &words)
                    })
                })
            })
        }),
        table: Callback::new(move |()| {
            drawn.with_untracked(|d| {
                d.as_ref()
                    .map(|(_, grid)| grid_table(grid, untrack(title), tr("heatmaps.corner")))
            })
        }),
    };
    let attribute = move |pick: fn(&PlotArea, &AttentionGrid) -> String| {
        move || {
            drawn.with(|d| {
                d.as_ref()
                    .map(|(area, grid)| pick(area, grid))
                    .unwrap_or_default()
            })
        }
    };
    view! {
        <figure class="heatmap">
            <figcaption data-testid="heatmap-title">{title}{move || format!(" — {}", tr("heatmaps.axes"))}</figcaption>
            <div class="canvas-wrap">
                <canvas node_ref=canvas_ref data-testid="heatmap" role="img"
                    aria-label=move || trf("heatmaps.canvas_label", &[("title", &title())])
                    data-layer=move || state.selection.layer.get().to_string()
                    data-head=move || state.selection.head.get().to_string()
                    data-average=move || state.settings.heatmap.get().average_heads.to_string()
                    data-highlight=move || state.selection.highlighted_token().map(|t| t.to_string()).unwrap_or_default()
                    data-plot=attribute(|a, _| format!("{} {} {} {}", a.left, a.top, a.right, a.bottom))
                    data-positions=attribute(|_, g| g.positions.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(","))
                    on:pointermove=move |ev| on_pointer(ev.into())
                    on:pointerdown=move |ev| on_pointer(ev.into())
                    on:pointerleave=move |_| hovered.set(None)
                    on:click=on_click></canvas>
                {move || hovered.get().and_then(|cell| drawn.with(|d| d.as_ref().map(|(_, grid)| tooltip(grid, cell, state))))}
            </div>
            <ExportButtons exports=exports name=Signal::derive(file_name) testid="heatmap-export"/>
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            {move || drawn.with(|d| d.as_ref().is_some_and(|(_, g)| g.size() == 0)).then(|| view! {
                <p class="muted">{move || tr("heatmaps.all_hidden")}</p>
            })}
            <details on:toggle=move |ev| show_table.set(event_target::<web_sys::HtmlDetailsElement>(&ev).open())>
                <summary>{move || tr("heatmaps.values_table")}</summary>
                {move || show_table.get().then(|| drawn.with(|d| d.as_ref().map(|(_, grid)| value_table(grid))))}
            </details>
        </figure>
    }
}

/// The tooltip over the hovered cell: both tokens and the exact weight.
fn tooltip(grid: &AttentionGrid, cell: HoveredCell, state: AppState) -> impl IntoView {
    let (query, key) = (grid.positions[cell.row], grid.positions[cell.column]);
    let (kind, value, note) = match grid.cell(cell.row, cell.column) {
        Cell::Weight(v) => ("weight", v, String::new()),
        Cell::BelowShare(v) => (
            "below-share",
            v,
            format!(
                " {}",
                trf(
                    "heatmaps.below_share",
                    &[(
                        "percent",
                        &format!(
                            "{:.0}",
                            state.settings.heatmap.get_untracked().top_share * 100.0
                        )
                    )]
                )
            ),
        ),
        Cell::Masked => ("masked", 0.0, format!(" {}", tr("heatmaps.masked_future"))),
    };
    view! {
        <div class="tooltip" role="status" data-testid="heatmap-tooltip"
            style:left=format!("{:.0}px", cell.x + 14.0) style:top=format!("{:.0}px", cell.y + 14.0)
            data-query=query.to_string() data-key=key.to_string() data-kind=kind data-value=value.to_string()>
            <span>{format!("“{}” ({query}) → “{}” ({key})", grid.labels[cell.row], grid.labels[cell.column])}</span>
            <strong>{format!("{value:.4}")}</strong>{note}
        </div>
    }
}

/// The heatmap's numbers as a table (rows: queries, columns: keys).
fn value_table(grid: &AttentionGrid) -> impl IntoView {
    let header = grid
        .labels
        .iter()
        .map(|l| view! { <th scope="col">{l.clone()}</th> })
        .collect_view();
    let rows = (0..grid.size())
        .map(|row| {
            let cells = (0..grid.size())
                .map(|column| match grid.cell(row, column) {
                    Cell::Masked => {
                        view! { <td class="masked" data-value="masked">{move || tr("chart.masked")}</td> }
                            .into_any()
                    }
                    cell => {
                        let value = cell.value().unwrap_or(0.0);
                        view! { <td data-value=value.to_string()>{format!("{value:.3}")}</td> }
                            .into_any()
                    }
                })
                .collect_view();
            view! { <tr><th scope="row">{grid.labels[row].clone()}</th>{cells}</tr> }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="values-table" data-testid="heatmap-table">
                <thead><tr><th>{move || tr("heatmaps.corner")}</th>{header}</tr></thead>
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
    let size = move || {
        let heads = shape().1.max(1) as u32;
        ((chart_width(state.view.viewport_width.get(), 1200) - 80) / heads)
            .saturating_sub(6)
            .clamp(16, 64)
    };
    view! {
        <section class="overview" aria-label=move || tr("heatmaps.overview_label")>
            <h3>{move || tr("heatmaps.overview")}</h3>
            <p class="muted">{move || tr("heatmaps.overview_explain")}</p>
            <div class="overview-grid" data-testid="overview">
                {move || {
                    let (layers, heads) = shape();
                    let size = size();
                    (0..layers).map(|layer| view! {
                        <div class="overview-row">
                            <span class="overview-label">{format!("L{}", layer + 1)}</span>
                            {(0..heads).map(|head| view! { <Thumbnail layer=layer head=head size=size/> }).collect_view()}
                        </div>
                    }).collect_view()
                }}
            </div>
        </section>
    }
}

/// One head's thumbnail button.
#[component]
fn Thumbnail(layer: usize, head: usize, size: u32) -> impl IntoView {
    let state = use_state();
    let canvas_ref = NodeRef::<Canvas>::new();
    let selected =
        move || state.selection.layer.get() == layer && state.selection.head.get() == head;
    Effect::new(move |_| {
        let Some(canvas) = canvas_ref.get() else {
            return;
        };
        let Some((trace, special)) = traced(&state) else {
            return;
        };
        let options = GridOptions {
            average_heads: false,
            ..state.settings.heatmap.get()
        };
        let selected = selected();
        let theme = state.view.chart_theme();
        let drawn = attention_grid(&trace, &special, layer, head, options)
            .map_err(|e| e.to_string())
            .and_then(|grid| {
                draw_on(&canvas, size, size, |root| {
                    draw_thumbnail(root, &grid, selected, theme)
                })
                .map_err(|e| e.to_string())
            });
        if let Err(message) = drawn {
            state.view.report(Problem::Chart(message));
        }
    });
    view! {
        <button class="thumbnail" class:selected=selected data-testid=format!("thumb-{layer}-{head}")
            aria-label=move || trf("heatmaps.title_head", &[("layer", &(layer + 1)), ("head", &(head + 1))])
            aria-pressed=move || selected().to_string()
            title=move || trf("heatmaps.title_head", &[("layer", &(layer + 1)), ("head", &(head + 1))])
            prop:disabled=move || state.view.locked(Lock::Layer) || state.view.locked(Lock::Head)
            on:click=move |_| { state.selection.layer.set(layer); state.selection.head.set(head); state.settings.heatmap.update(|o| o.average_heads = false) }>
            <canvas node_ref=canvas_ref width=size height=size></canvas>
        </button>
    }
}

/// BertViz's head view: tokens in two columns, a line per head and token pair, heads toggled.
#[component]
fn LineView() -> impl IntoView {
    let state = use_state();
    let canvas_ref = NodeRef::<Canvas>::new();
    let n_heads = Memo::new(move |_| state.text.page_trace().map_or(0, |t| t.attentions.shape[1]));
    let shown = RwSignal::new(Vec::<bool>::new());
    Effect::new(move |_| shown.set(vec![true; n_heads.get()]));
    let lines_drawn = RwSignal::new(0usize);
    let line_data = RwSignal::new(None::<LineData>);
    let error = RwSignal::new(None::<String>);

    Effect::new(move |_| {
        let Some(canvas) = canvas_ref.get() else {
            return;
        };
        let Some((trace, special)) = traced(&state) else {
            return;
        };
        let options = GridOptions {
            average_heads: false,
            ..state.settings.heatmap.get()
        };
        let layer = state.selection.layer.get();
        let focus = state
            .selection
            .hovered
            .get()
            .or(state.selection.pinned.get());
        let shown = shown.get();
        let theme = state.view.chart_theme();
        let width = chart_width(state.view.viewport_width.get(), 400);
        let result = (|| {
            let mut heads = Vec::new();
            let mut reference = None;
            for head in (0..shown.len()).filter(|&h| shown[h]) {
                let grid = attention_grid(&trace, &special, layer, head, options)
                    .map_err(|e| e.to_string())?;
                let weights = grid
                    .cells
                    .iter()
                    .map(|c| if let Cell::Weight(v) = c { *v } else { 0.0 })
                    .collect();
                heads.push((head, weights));
                reference.get_or_insert(grid);
            }
            let reference = match reference {
                Some(grid) => grid,
                None => attention_grid(&trace, &special, layer, 0, options)
                    .map_err(|e| e.to_string())?,
            };
            let data = LineData {
                focus: focus.and_then(|p| reference.row_of(p)),
                labels: reference.labels,
                positions: reference.positions,
                heads,
            };
            let height = (data.labels.len() as u32 * 22).max(120);
            let drawn = draw_on(&canvas, width, height, |root| {
                draw_head_lines(root, &data.lines(), theme)
            })
            .map_err(|e| e.to_string())?;
            Ok::<_, String>((drawn, data))
        })();
        match result {
            Ok((drawn, data)) => {
                lines_drawn.set(drawn);
                line_data.set(Some(data));
                error.set(None);
            }
            Err(message) => error.set(Some(message)),
        }
    });
    let exports = Exports {
        canvas: canvas_ref,
        svg: Callback::new(move |(width, height)| {
            let theme = state.view.chart_theme();
            line_data.with_untracked(|d| {
                d.as_ref().map(|data| {
                    svg_document(width, height, |root| {
                        draw_head_lines(root, &data.lines(), theme)
                    })
                })
            })
        }),
        table: Callback::new(move |()| {
            let title = trf(
                "heatmaps.lines_title",
                &[("layer", &(state.selection.layer.get_untracked() + 1))],
            );
            line_data.with_untracked(|d| d.as_ref().map(|data| data.table(title)))
        }),
    };

    let on_pointer = move |ev: web_sys::MouseEvent| {
        let Some(canvas) = canvas_ref.get_untracked() else {
            return;
        };
        let (_, y) = canvas_point(&canvas, &ev);
        let positions = line_data
            .with_untracked(|d| d.as_ref().map(|d| d.positions.clone()).unwrap_or_default());
        let row = (y / canvas.height().max(1) as f64 * positions.len() as f64).floor();
        if row >= 0.0 {
            if let Some(&position) = positions.get(row as usize) {
                if state.selection.hovered.get_untracked() != Some(position) {
                    state.selection.hovered.set(Some(position));
                }
            }
        }
    };
    view! {
        <figure class="line-view">
            <figcaption>{move || trf("heatmaps.lines_title", &[("layer", &(state.selection.layer.get() + 1))])}</figcaption>
            <div class="head-toggles" role="group" aria-label=move || tr("heatmaps.lines_heads")>
                {move || (0..n_heads.get()).map(|head| view! {
                    <label class="head-toggle" style:--head-colour=css_colour(head_colour(head))>
                        <input type="checkbox" data-testid=format!("line-head-{head}")
                            prop:checked=move || shown.with(|s| s.get(head).copied().unwrap_or(false))
                            on:change=move |ev| { let on = event_target_checked(&ev); shown.update(|s| if let Some(x) = s.get_mut(head) { *x = on }) }/>
                        <span class="swatch"></span>{move || format!("{}", head + 1)}<span class="visually-hidden">{move || format!(" {}", tr("heatmaps.head_word"))}</span>
                    </label>
                }).collect_view()}
                <button on:click=move |_| shown.update(|s| s.iter_mut().for_each(|x| *x = true))>{move || tr("heatmaps.all_heads")}</button>
                <button data-testid="line-only-selected" on:click=move |_| {
                    let selected = state.selection.head.get_untracked();
                    shown.update(|s| s.iter_mut().enumerate().for_each(|(h, x)| *x = h == selected))
                }>{move || tr("heatmaps.only_selected")}</button>
            </div>
            <canvas node_ref=canvas_ref data-testid="line-view" role="img"
                aria-label=move || tr("heatmaps.lines_label")
                data-lines=move || lines_drawn.get().to_string()
                data-focus=move || state.selection.hovered.get().or(state.selection.pinned.get()).map(|t| t.to_string()).unwrap_or_default()
                on:pointermove=move |ev| on_pointer(ev.into())
                on:pointerdown=move |ev| on_pointer(ev.into())
                on:pointerleave=move |_| state.selection.hovered.set(None)></canvas>
            <ExportButtons exports=exports name=Signal::derive(move || format!("lines-layer{}", state.selection.layer.get() + 1)) testid="lines-export"/>
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
        </figure>
    }
}

/// What the line view draws: the shown tokens and each shown head's weights over them.
#[derive(Clone, PartialEq)]
struct LineData {
    labels: Vec<String>,
    positions: Vec<usize>,
    /// (head, row-major query × key weights; hidden or masked cells 0).
    heads: Vec<(usize, Vec<f32>)>,
    /// The grid row whose lines alone are drawn.
    focus: Option<usize>,
}

impl LineData {
    fn lines(&self) -> HeadLines<'_> {
        HeadLines {
            labels: &self.labels,
            heads: self.heads.iter().map(|(h, w)| (*h, w.as_slice())).collect(),
            focus: self.focus,
            min_weight: 0.01,
        }
    }

    /// One row per shown head and query: its weights over the keys.
    fn table(&self, title: String) -> DataTable {
        let size = self.labels.len();
        let head_word = tr("heatmaps.head_word");
        DataTable {
            title,
            row_header: tr("heatmaps.lines_corner"),
            columns: self.labels.clone(),
            rows: self
                .heads
                .iter()
                .flat_map(|(head, weights)| {
                    weights
                        .chunks(size.max(1))
                        .enumerate()
                        .map(move |(row, values)| (head, row, values))
                })
                .map(|(head, row, values)| DataRow {
                    label: format!("{head_word} {} · {}", head + 1, self.labels[row]),
                    values: values.iter().map(|&v| Some(v)).collect(),
                })
                .collect(),
        }
    }
}
