//! Charts drawn with plotters on any backend: the page draws them on a canvas
//! (plotters-canvas), the same code writes SVG (plotters' SVG backend) for export and tests.
//! No UI types here, so it compiles and is tested natively.
mod attention;
mod bars;
mod chart;
mod export;
mod grid;
mod heads;
mod positions;
mod ranks;

pub use attention::{
    draw_head_lines, draw_heatmap, draw_thumbnail, HeadLines, HeatmapWords, Highlight, PlotArea,
    TITLE_BAND,
};
pub use bars::{draw_bars, Bar, BAR_ROW};
pub use chart::{
    BarsChart, CellLayout, Chart, Drawn, HeadLinesChart, HeatmapChart, MatrixChart, RankChart,
    SeriesChart, ThumbnailChart,
};
pub use export::{
    bars_table, grid_table, matrix_table, series_table, svg_document, DataRow, DataTable,
};
pub use grid::{attention_grid, hidden_positions, AttentionGrid, Cell, GridOptions};
pub use heads::{
    attention_from_to, attention_rollout, head_statistic, ranked_heads, separator_positions,
    summed_rows, HeadStatistic,
};
pub use positions::{axis_label, diverging, draw_matrix, draw_series_lines, Matrix};
pub use ranks::{draw_rank_grid, rank_shade, RankGrid};

use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;

/// A drawing failed; the message is plotters' own.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartError(pub String);

impl std::fmt::Display for ChartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "could not draw the chart: {}", self.0)
    }
}

impl std::error::Error for ChartError {}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for ChartError {
    fn from(err: DrawingAreaErrorKind<E>) -> Self {
        ChartError(err.to_string())
    }
}

/// Colours that change with light and dark mode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Theme {
    /// Page background behind the chart.
    pub background: RGBColor,
    /// Labels and axes.
    pub text: RGBColor,
    /// Cells under the causal mask.
    pub masked: RGBColor,
    /// Outline of the highlighted token's row and column.
    pub highlight: RGBColor,
}

impl Theme {
    /// Dark text on white.
    pub const LIGHT: Theme = Theme {
        background: RGBColor(255, 255, 255),
        text: RGBColor(34, 34, 34),
        masked: RGBColor(222, 222, 222),
        highlight: RGBColor(230, 85, 13),
    };
    /// Light text on near-black.
    pub const DARK: Theme = Theme {
        background: RGBColor(24, 26, 27),
        text: RGBColor(225, 225, 225),
        masked: RGBColor(62, 64, 66),
        highlight: RGBColor(253, 141, 60),
    };
}

/// Sequential scale for weights in [0, 1]: viridis, perceptually uniform and readable with the
/// common colour-vision deficiencies.
pub fn sequential(value: f32) -> RGBColor {
    if !value.is_finite() {
        return RGBColor(128, 128, 128);
    }
    ViridisRGB::get_color(value.clamp(0.0, 1.0))
}

/// Head colours for the line view: Paul Tol's colour-blind-safe "muted" palette (nine colours;
/// heads past the ninth reuse them, and the toggles name each head).
pub fn head_colour(head: usize) -> RGBColor {
    const MUTED: [RGBColor; 9] = [
        RGBColor(51, 34, 136),
        RGBColor(136, 204, 238),
        RGBColor(68, 170, 153),
        RGBColor(17, 119, 51),
        RGBColor(153, 153, 51),
        RGBColor(221, 204, 119),
        RGBColor(204, 102, 119),
        RGBColor(136, 34, 85),
        RGBColor(170, 68, 153),
    ];
    MUTED[head % MUTED.len()]
}

/// A colour as CSS `#rrggbb`, for swatches drawn by the page.
pub fn css_colour(colour: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", colour.0, colour.1, colour.2)
}
