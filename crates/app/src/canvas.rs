//! Drawing `charts` on a `<canvas>` with plotters-canvas, and mapping pointer positions back to
//! the canvas's own pixels.
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use web_sys::HtmlCanvasElement;

use ae_charts::ChartError;

/// Resizes `canvas` to `width` × `height` pixels and draws on it.
pub fn draw_on<T>(
    canvas: &HtmlCanvasElement,
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<CanvasBackend, Shift>) -> Result<T, ChartError>,
) -> Result<T, ChartError> {
    canvas.set_width(width);
    canvas.set_height(height);
    let backend = CanvasBackend::with_canvas_object(canvas.clone())
        .ok_or_else(|| ChartError(super::i18n::tr("canvas.no_context")))?;
    let root = backend.into_drawing_area();
    let result = draw(&root)?;
    root.present()?;
    Ok(result)
}

/// A pointer event's position in the canvas's pixels (the canvas may be scaled by CSS).
pub fn canvas_point(canvas: &HtmlCanvasElement, event: &web_sys::MouseEvent) -> (f64, f64) {
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
