//! Attention heatmaps: one head (or the layer's average) as a query × key matrix with exact
//! values on hover and an accessible table, every layer × head as clickable thumbnails
//! (BertViz's model view), and the line view (BertViz's head view). Charts: `crate::charts`.
use std::sync::Arc;

use leptos::html::Canvas;
use leptos::prelude::*;

use crate::charts::{
    attention_grid, css_colour, draw_head_lines, draw_heatmap, draw_thumbnail, head_colour,
    AttentionGrid, Cell, GridOptions, HeadLines, PlotArea, Theme,
};
use crate::engine::Trace;
use crate::ui::canvas::{canvas_point, chart_width, draw_on};
use crate::ui::state::{use_state, AppState, Lock};

/// The current trace with the special-token flags of its tokens.
fn traced(state: &AppState) -> Option<(Arc<Trace>, Vec<bool>)> {
    let trace = state.trace.get()?;
    let special = state.tokens.with(|tokens| {
        tokens
            .as_ref()
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
        <h2>"Heatmaps"</h2>
        <p class="explain">"Each row is a query token, each column a key token; a cell's colour is how much the query attends to the key (the row sums to 1). Hover a cell for its exact weight, hover a token anywhere to outline its row and column."</p>
        <Show when=move || state.trace.with(|t| t.is_some())
            fallback=|| view! { <p class="muted">"Type a sentence to see its attention."</p> }>
            <HeatmapOptions/>
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
    let options = state.heatmap_options;
    let causal = move || state.trace.with(|t| t.as_ref().is_some_and(|t| t.causal));
    let percent = move || (options.get().top_share * 100.0).round() as u32;
    view! {
        <fieldset class="chart-options" data-testid="heatmap-options">
            <legend>"Show"</legend>
            <label><input type="checkbox" data-testid="average-heads"
                prop:checked=move || options.get().average_heads
                on:change=move |ev| { let on = event_target_checked(&ev); options.update(|o| o.average_heads = on) }/>
                " average of all heads in the layer"</label>
            <label><input type="checkbox" data-testid="hide-special"
                prop:checked=move || options.get().hide_special
                on:change=move |ev| { let on = event_target_checked(&ev); options.update(|o| o.hide_special = on) }/>
                {move || if causal() { " hide special tokens and the first token (the usual attention sink)" } else { " hide special tokens ([CLS], [SEP] …)" }}</label>
            <label>" top "
                <input type="range" min="5" max="100" step="5" data-testid="top-share"
                    aria-label="Share of each row's attention to show, in percent"
                    prop:value=move || percent().to_string()
                    on:input=move |ev| {
                        let value: f32 = event_target_value(&ev).parse().unwrap_or(100.0);
                        options.update(|o| o.top_share = (value / 100.0).clamp(0.05, 1.0))
                    }/>
                {move || format!(" {} % of each row's attention", percent())}</label>
            <Show when=move || options.get().hide_special>
                <p class="notice" data-testid="renormalised">"Hidden tokens are left out and every row is renormalised to sum to 1 over the tokens still shown — these are not the model's raw weights."</p>
            </Show>
            <Show when=move || { options.get().top_share < 1.0 }>
                <p class="muted">"Per query row, only the strongest keys that together hold this share are coloured; the rest are blank (hover still shows them)."</p>
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
        let options = state.heatmap_options.get();
        let (layer, head) = (state.layer.get(), state.head.get());
        let highlight = state.highlighted_token();
        let width = chart_width(state.viewport_width.get(), 540);
        let result = attention_grid(&trace, &special, layer, head, options)
            .map_err(|e| e.to_string())
            .and_then(|grid| {
                draw_on(&canvas, width, width.saturating_sub(40), |root| {
                    draw_heatmap(root, &grid, highlight, &Theme::LIGHT)
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
            state.pinned.set(position);
        }
    };
    let title = move || {
        let options = state.heatmap_options.get();
        let layer = state.layer.get() + 1;
        if options.average_heads {
            format!("Layer {layer}, average of all heads")
        } else {
            format!("Layer {layer}, head {}", state.head.get() + 1)
        }
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
            <figcaption data-testid="heatmap-title">{title}" — rows: queries, columns: keys"</figcaption>
            <div class="canvas-wrap">
                <canvas node_ref=canvas_ref data-testid="heatmap" role="img"
                    aria-label=move || format!("Attention heatmap, {}. The table below lists the values.", title())
                    data-layer=move || state.layer.get().to_string()
                    data-head=move || state.head.get().to_string()
                    data-average=move || state.heatmap_options.get().average_heads.to_string()
                    data-highlight=move || state.highlighted_token().map(|t| t.to_string()).unwrap_or_default()
                    data-plot=attribute(|a, _| format!("{} {} {} {}", a.left, a.top, a.right, a.bottom))
                    data-positions=attribute(|_, g| g.positions.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(","))
                    on:pointermove=move |ev| on_pointer(ev.into())
                    on:pointerdown=move |ev| on_pointer(ev.into())
                    on:pointerleave=move |_| hovered.set(None)
                    on:click=on_click></canvas>
                {move || hovered.get().and_then(|cell| drawn.with(|d| d.as_ref().map(|(_, grid)| tooltip(grid, cell, state))))}
            </div>
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            {move || drawn.with(|d| d.as_ref().is_some_and(|(_, g)| g.size() == 0)).then(|| view! {
                <p class="muted">"Every token is hidden; untick “hide special tokens” to see the matrix."</p>
            })}
            <details on:toggle=move |ev| show_table.set(event_target::<web_sys::HtmlDetailsElement>(&ev).open())>
                <summary>"Values as a table"</summary>
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
                " (below the top {:.0} %)",
                state.heatmap_options.get_untracked().top_share * 100.0
            ),
        ),
        Cell::Masked => ("masked", 0.0, " (masked: a future token)".to_string()),
    };
    view! {
        <div class="tooltip" role="status" data-testid="heatmap-tooltip"
            style=format!("left: {:.0}px; top: {:.0}px", cell.x + 14.0, cell.y + 14.0)
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
                        view! { <td class="masked" data-value="masked">"masked"</td> }.into_any()
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
                <thead><tr><th>"query ↓ key →"</th>{header}</tr></thead>
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
        state.trace.with(|t| {
            t.as_ref()
                .map_or((0, 0), |t| (t.attentions.shape[0], t.attentions.shape[1]))
        })
    };
    let size = move || {
        let heads = shape().1.max(1) as u32;
        ((chart_width(state.viewport_width.get(), 1200) - 80) / heads)
            .saturating_sub(6)
            .clamp(16, 64)
    };
    view! {
        <section class="overview" aria-label="All layers and heads">
            <h3>"All layers × heads"</h3>
            <p class="muted">"Each small map is one head (rows: layers, columns: heads). Click one to select it in every panel."</p>
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
    let selected = move || state.layer.get() == layer && state.head.get() == head;
    Effect::new(move |_| {
        let Some(canvas) = canvas_ref.get() else {
            return;
        };
        let Some((trace, special)) = traced(&state) else {
            return;
        };
        let options = GridOptions {
            average_heads: false,
            ..state.heatmap_options.get()
        };
        let selected = selected();
        let drawn = attention_grid(&trace, &special, layer, head, options)
            .map_err(|e| e.to_string())
            .and_then(|grid| {
                draw_on(&canvas, size, size, |root| {
                    draw_thumbnail(root, &grid, selected, &Theme::LIGHT)
                })
                .map_err(|e| e.to_string())
            });
        if let Err(message) = drawn {
            state.error.set(Some(message));
        }
    });
    view! {
        <button class="thumbnail" class:selected=selected data-testid=format!("thumb-{layer}-{head}")
            aria-label=format!("Layer {}, head {}", layer + 1, head + 1)
            aria-pressed=move || selected().to_string()
            title=format!("Layer {}, head {}", layer + 1, head + 1)
            prop:disabled=move || state.locked(Lock::Layer) || state.locked(Lock::Head)
            on:click=move |_| { state.layer.set(layer); state.head.set(head); state.heatmap_options.update(|o| o.average_heads = false) }>
            <canvas node_ref=canvas_ref width=size height=size></canvas>
        </button>
    }
}

/// BertViz's head view: tokens in two columns, a line per head and token pair, heads toggled.
#[component]
fn LineView() -> impl IntoView {
    let state = use_state();
    let canvas_ref = NodeRef::<Canvas>::new();
    let n_heads = Memo::new(move |_| {
        state
            .trace
            .with(|t| t.as_ref().map_or(0, |t| t.attentions.shape[1]))
    });
    let shown = RwSignal::new(Vec::<bool>::new());
    Effect::new(move |_| shown.set(vec![true; n_heads.get()]));
    let lines_drawn = RwSignal::new(0usize);
    let rows = RwSignal::new(Vec::<usize>::new());
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
            ..state.heatmap_options.get()
        };
        let layer = state.layer.get();
        let focus = state.hovered.get().or(state.pinned.get());
        let shown = shown.get();
        let width = chart_width(state.viewport_width.get(), 400);
        let result = (|| {
            let mut grids = Vec::new();
            for head in (0..shown.len()).filter(|&h| shown[h]) {
                grids.push((
                    head,
                    attention_grid(&trace, &special, layer, head, options)
                        .map_err(|e| e.to_string())?,
                ));
            }
            let reference = match grids.first() {
                Some((_, grid)) => grid.clone(),
                None => attention_grid(&trace, &special, layer, 0, options)
                    .map_err(|e| e.to_string())?,
            };
            let weights: Vec<(usize, Vec<f32>)> = grids
                .iter()
                .map(|(head, grid)| {
                    (
                        *head,
                        grid.cells
                            .iter()
                            .map(|c| if let Cell::Weight(v) = c { *v } else { 0.0 })
                            .collect(),
                    )
                })
                .collect();
            let lines = HeadLines {
                labels: &reference.labels,
                heads: weights.iter().map(|(h, w)| (*h, w.as_slice())).collect(),
                focus: focus.and_then(|p| reference.row_of(p)),
                min_weight: 0.01,
            };
            let height = (reference.size() as u32 * 22).max(120);
            let drawn = draw_on(&canvas, width, height, |root| {
                draw_head_lines(root, &lines, &Theme::LIGHT)
            })
            .map_err(|e| e.to_string())?;
            Ok::<_, String>((drawn, reference.positions))
        })();
        match result {
            Ok((drawn, positions)) => {
                lines_drawn.set(drawn);
                rows.set(positions);
                error.set(None);
            }
            Err(message) => error.set(Some(message)),
        }
    });

    let on_pointer = move |ev: web_sys::MouseEvent| {
        let Some(canvas) = canvas_ref.get_untracked() else {
            return;
        };
        let (_, y) = canvas_point(&canvas, &ev);
        let positions = rows.get_untracked();
        let row = (y / canvas.height().max(1) as f64 * positions.len() as f64).floor();
        if row >= 0.0 {
            if let Some(&position) = positions.get(row as usize) {
                if state.hovered.get_untracked() != Some(position) {
                    state.hovered.set(Some(position));
                }
            }
        }
    };
    view! {
        <figure class="line-view">
            <figcaption>{move || format!("Layer {}, every head — hover a token to see only its lines", state.layer.get() + 1)}</figcaption>
            <div class="head-toggles" role="group" aria-label="Heads shown in the line view">
                {move || (0..n_heads.get()).map(|head| view! {
                    <label class="head-toggle" style=format!("--head-colour: {}", css_colour(head_colour(head)))>
                        <input type="checkbox" data-testid=format!("line-head-{head}")
                            prop:checked=move || shown.with(|s| s.get(head).copied().unwrap_or(false))
                            on:change=move |ev| { let on = event_target_checked(&ev); shown.update(|s| if let Some(x) = s.get_mut(head) { *x = on }) }/>
                        <span class="swatch"></span>{format!("{}", head + 1)}
                    </label>
                }).collect_view()}
                <button on:click=move |_| shown.update(|s| s.iter_mut().for_each(|x| *x = true))>"all"</button>
                <button data-testid="line-only-selected" on:click=move |_| {
                    let selected = state.head.get_untracked();
                    shown.update(|s| s.iter_mut().enumerate().for_each(|(h, x)| *x = h == selected))
                }>"only the selected head"</button>
            </div>
            <canvas node_ref=canvas_ref data-testid="line-view" role="img"
                aria-label="Line view: tokens on the left attend to tokens on the right; line opacity is the weight"
                data-lines=move || lines_drawn.get().to_string()
                data-focus=move || state.hovered.get().or(state.pinned.get()).map(|t| t.to_string()).unwrap_or_default()
                on:pointermove=move |ev| on_pointer(ev.into())
                on:pointerdown=move |ev| on_pointer(ev.into())
                on:pointerleave=move |_| state.hovered.set(None)></canvas>
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
        </figure>
    }
}
