//! Download buttons for a chart: PNG (the canvas as drawn), SVG (the same chart drawn again on
//! plotters' SVG backend), and its numbers as CSV and JSON.
use leptos::html::Canvas;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::i18n::{tr, trf};
use crate::state::{use_state, Message};
use ae_charts::{ChartError, DataTable};

/// What a chart offers for download; each is computed only when its button is pressed.
#[derive(Clone, Copy)]
pub struct Exports {
    /// The canvas the chart is drawn on (PNG).
    pub canvas: NodeRef<Canvas>,
    /// The chart as an SVG document, at the canvas's size (`None` while nothing is drawn).
    pub svg: Callback<(u32, u32), Option<Result<String, ChartError>>>,
    /// The chart's numbers (`None` while nothing is drawn).
    pub table: Callback<(), Option<DataTable>>,
}

/// Saves `href` under `filename` through a temporary link.
fn save(filename: &str, href: &str) -> Result<(), String> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| tr("export.no_link"))?;
    let link: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(|_| tr("export.no_link"))?
        .dyn_into()
        .map_err(|_| tr("export.no_link"))?;
    link.set_href(href);
    link.set_download(filename);
    // Attached while clicked: some browsers ignore clicks on links outside the document.
    let body = document.body().ok_or_else(|| tr("export.no_link"))?;
    let _ = body.append_child(&link);
    link.click();
    link.remove();
    Ok(())
}

/// Saves `text` as a file of type `mime`.
pub fn save_text(filename: &str, mime: &str, text: &str) -> Result<(), String> {
    let parts = js_sys::Array::of1(&text.into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)
        .map_err(|_| tr("export.no_file"))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|_| tr("export.no_file"))?;
    save(filename, &url)?;
    // The download has started from the URL; free it a little later.
    if let Some(window) = web_sys::window() {
        let revoke = wasm_bindgen::closure::Closure::once_into_js(move || {
            let _ = web_sys::Url::revoke_object_url(&url);
        });
        let _ = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 10_000);
    }
    Ok(())
}

/// PNG, SVG, CSV and JSON buttons for one chart; files are named `{name}.png` etc.
#[component]
pub fn ExportButtons(
    exports: Exports,
    #[prop(into)] name: Signal<String>,
    testid: &'static str,
) -> impl IntoView {
    let view_state = use_state().view;
    let fail = move |format: &str, message: String| {
        let failed = Message::new(
            "export.failed",
            &[("format", &format), ("message", &message)],
        );
        view_state.report(failed)
    };
    let png = move |_| {
        let Some(canvas) = exports.canvas.get_untracked() else {
            return;
        };
        let result = canvas
            .to_data_url_with_type("image/png")
            .map_err(|_| tr("export.canvas_refused"))
            .and_then(|url| save(&format!("{}.png", name.get_untracked()), &url));
        if let Err(message) = result {
            fail("PNG", message);
        }
    };
    let svg = move |_| {
        let size = exports
            .canvas
            .get_untracked()
            .map_or((600, 400), |c| (c.width().max(1), c.height().max(1)));
        let result = match exports.svg.run(size) {
            None => Err(tr("export.nothing")),
            Some(Err(e)) => Err(e.to_string()),
            Some(Ok(document)) => save_text(
                &format!("{}.svg", name.get_untracked()),
                "image/svg+xml",
                &document,
            ),
        };
        if let Err(message) = result {
            fail("SVG", message);
        }
    };
    let data = move |csv: bool| {
        let result = match exports.table.run(()) {
            None => Err(tr("export.nothing")),
            Some(table) if csv => save_text(
                &format!("{}.csv", name.get_untracked()),
                "text/csv",
                &table.to_csv(),
            ),
            Some(table) => save_text(
                &format!("{}.json", name.get_untracked()),
                "application/json",
                &table.to_json(),
            ),
        };
        if let Err(message) = result {
            fail(if csv { "CSV" } else { "JSON" }, message);
        }
    };
    view! {
        <div class="export" role="group" aria-label=move || tr("export.group")>
            <span class="muted">{move || tr("export.label")}</span>
            <button
                data-testid=format!("{testid}-png")
                aria-label=move || trf("export.as", &[("format", &"PNG")])
                on:click=png
            >
                "PNG"
            </button>
            <button
                data-testid=format!("{testid}-svg")
                aria-label=move || trf("export.as", &[("format", &"SVG")])
                on:click=svg
            >
                "SVG"
            </button>
            <button
                data-testid=format!("{testid}-csv")
                aria-label=move || trf("export.data_as", &[("format", &"CSV")])
                on:click=move |_| data(true)
            >
                "CSV"
            </button>
            <button
                data-testid=format!("{testid}-json")
                aria-label=move || trf("export.data_as", &[("format", &"JSON")])
                on:click=move |_| data(false)
            >
                "JSON"
            </button>
        </div>
    }
}
