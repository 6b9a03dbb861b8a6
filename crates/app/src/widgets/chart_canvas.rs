//! The one component that shows a chart: it owns the canvas, redraws it when the chart, the
//! theme or the page width change, offers the PNG/SVG/CSV/JSON downloads, maps the pointer to
//! a cell (hover, tooltip, click), and shows what went wrong. A chart is any
//! `ae_charts::Chart` value; what a panel adds is the value and what a cell means.
use leptos::html::{Canvas, Div};
use leptos::prelude::*;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use web_sys::HtmlCanvasElement;

use super::export::{ExportButtons, Exports};
use crate::i18n::tr;
use crate::state::use_state;
use ae_charts::{Chart, ChartError, Drawn};

/// The cell under the pointer, and where the pointer is in CSS pixels (for the tooltip).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pointed {
    pub row: usize,
    pub column: usize,
    pub x: f64,
    pub y: f64,
}

/// A tooltip's content: a description, the exact value (bold), a note, and `data-*`
/// attributes with the exact numbers for tests.
pub struct Tooltip {
    pub text: String,
    pub value: String,
    pub note: String,
    pub data: DataAttributes,
}

/// `data-*` attributes with their values.
pub type DataAttributes = Vec<(&'static str, String)>;

/// Resizes `canvas` to `width` × `height` pixels and draws on it.
fn draw_on<T>(
    canvas: &HtmlCanvasElement,
    (width, height): (u32, u32),
    draw: impl FnOnce(&DrawingArea<CanvasBackend, Shift>) -> Result<T, ChartError>,
) -> Result<T, ChartError> {
    canvas.set_width(width);
    canvas.set_height(height);
    let backend = CanvasBackend::with_canvas_object(canvas.clone())
        .ok_or_else(|| ChartError(tr("canvas.no_context")))?;
    let root = backend.into_drawing_area();
    let result = draw(&root)?;
    root.present()?;
    Ok(result)
}

/// A pointer event's position in the canvas's pixels (the canvas may be scaled by CSS).
fn canvas_point(canvas: &HtmlCanvasElement, event: &web_sys::MouseEvent) -> (f64, f64) {
    let rect = canvas.get_bounding_client_rect();
    let scale_x = canvas.width() as f64 / rect.width().max(1.0);
    let scale_y = canvas.height() as f64 / rect.height().max(1.0);
    (
        (event.client_x() as f64 - rect.left()) * scale_x,
        (event.client_y() as f64 - rect.top()) * scale_y,
    )
}

/// The width a chart may take: the page width less the page's and the panel's margins, at most
/// `max`.
pub fn chart_width(viewport: f64, max: u32) -> u32 {
    ((viewport - 96.0).max(220.0) as u32).min(max)
}

/// Sets `data-*` attributes on an element (names with their `data-` prefix).
fn set_data(element: &web_sys::Element, data: &DataAttributes) {
    for (name, value) in data {
        let _ = element.set_attribute(name, value);
    }
}

/// A chart on a canvas, with downloads, hover and tooltip.
#[component]
pub fn ChartCanvas<C>(
    /// The chart (tracked); nothing is drawn while `None`.
    chart: Memo<Option<C>>,
    /// The widest it may be, in CSS pixels.
    max_width: u32,
    testid: &'static str,
    /// What the chart shows, for screen readers.
    #[prop(into)]
    label: Signal<String>,
    /// The downloads' file name; no downloads without one.
    #[prop(optional, into)]
    file_name: Option<Signal<String>>,
    /// The download buttons' test id prefix (default: `testid`).
    #[prop(optional)]
    export_testid: Option<&'static str>,
    /// `data-*` attributes for the canvas from the chart and its drawing (tracked).
    #[prop(optional)]
    data: Option<Callback<(C, Drawn), DataAttributes>>,
    /// The pointer moved onto a cell (`None`: off the cells).
    #[prop(optional)]
    on_point: Option<Callback<Option<Pointed>>>,
    /// What the tooltip says about a cell.
    #[prop(optional)]
    tooltip: Option<Callback<(C, Pointed), Option<Tooltip>>>,
    /// A click on a cell.
    #[prop(optional)]
    on_click: Option<Callback<Pointed>>,
) -> impl IntoView
where
    C: Chart + Clone + PartialEq + Send + Sync + 'static,
{
    let state = use_state();
    let canvas_ref = NodeRef::<Canvas>::new();
    let drawn = RwSignal::new(None::<Drawn>);
    let error = RwSignal::new(None::<String>);
    let pointed = RwSignal::new(None::<Pointed>);

    Effect::new(move |_| {
        let Some(canvas) = canvas_ref.get() else {
            return;
        };
        let Some(chart) = chart.get() else {
            return;
        };
        let theme = state.view.chart_theme();
        let size = chart.size(chart_width(state.view.viewport_width.get(), max_width));
        match draw_on(&canvas, size, |root| chart.draw(root, theme)) {
            Ok(done) => {
                drawn.set(Some(done));
                error.set(None);
            }
            Err(e) => error.set(Some(e.to_string())),
        }
    });
    Effect::new(move |_| {
        let (Some(canvas), Some(done)) = (canvas_ref.get(), drawn.get()) else {
            return;
        };
        if let Some(cells) = done.cells {
            let plot = cells.plot;
            let area = format!("{} {} {} {}", plot.left, plot.top, plot.right, plot.bottom);
            let _ = canvas.set_attribute("data-plot", &area);
        }
        if let (Some(data), Some(chart)) = (data, chart.get()) {
            set_data(&canvas, &data.run((chart, done)));
        }
    });

    let point = move |ev: web_sys::MouseEvent| {
        let Some(canvas) = canvas_ref.get_untracked() else {
            return;
        };
        let (x, y) = canvas_point(&canvas, &ev);
        let cell = drawn.with_untracked(|d| d.and_then(|d| d.cells?.cell_at(x, y)));
        let now = cell.map(|(row, column)| Pointed {
            row,
            column,
            x: ev.offset_x() as f64,
            y: ev.offset_y() as f64,
        });
        pointed.set(now);
        if let Some(on_point) = on_point {
            on_point.run(now);
        }
    };
    let leave = move || {
        pointed.set(None);
        if let Some(on_point) = on_point {
            on_point.run(None);
        }
    };
    let click = move || {
        if let (Some(on_click), Some(cell)) = (on_click, pointed.get_untracked()) {
            on_click.run(cell);
        }
    };
    let exports = Exports {
        canvas: canvas_ref,
        svg: Callback::new(move |(width, height)| {
            let theme = state.view.chart_theme();
            chart.with_untracked(|c| c.as_ref().map(|c| c.svg(width, height, theme)))
        }),
        table: Callback::new(move |()| chart.with_untracked(|c| c.as_ref().map(Chart::table))),
    };
    view! {
        <div class="canvas-wrap">
            <canvas
                node_ref=canvas_ref
                data-testid=testid
                role="img"
                aria-label=move || label.get()
                on:pointermove=move |ev| point(ev.into())
                on:pointerdown=move |ev| point(ev.into())
                on:pointerleave=move |_| leave()
                on:click=move |_| click()
            ></canvas>
            {move || {
                let tooltip = tooltip?;
                let cell = pointed.get()?;
                let said = tooltip.run((chart.get()?, cell))?;
                Some(view! { <TooltipBox cell=cell said=said testid=testid /> })
            }}
        </div>
        {file_name
            .map(|name| {
                let testid = export_testid.unwrap_or(testid);
                view! { <ExportButtons exports=exports name=name testid=testid /> }
            })}
        {move || {
            error
                .get()
                .map(|message| {
                    view! {
                        <p class="error" role="alert">
                            {message}
                        </p>
                    }
                })
        }}
    }
}

/// The tooltip over a cell, with its numbers in `data-*` attributes.
#[component]
fn TooltipBox(cell: Pointed, said: Tooltip, testid: &'static str) -> impl IntoView {
    let node = NodeRef::<Div>::new();
    let data = said.data;
    Effect::new(move |_| {
        if let Some(element) = node.get() {
            set_data(&element, &data);
        }
    });
    view! {
        <div
            node_ref=node
            class="tooltip"
            role="status"
            data-testid=format!("{testid}-tooltip")
            style:left=format!("{:.0}px", cell.x + 14.0)
            style:top=format!("{:.0}px", cell.y + 14.0)
        >
            <span>{said.text}</span>
            <strong>{said.value}</strong>
            {said.note}
        </div>
    }
}
