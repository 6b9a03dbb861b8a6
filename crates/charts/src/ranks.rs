//! Ecco's rankings grid: a token's rank (1 = the model's top choice) in every residual stream
//! (rows) at every position or for every watched word (columns), coloured on a log scale so
//! that 1, 10, 100 and 1000 are equally far apart, with the number in each cell that has room.
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{sequential, ChartError, PlotArea, Theme};
use crate::attention::labelled_cells;

/// Width of the colour legend.
const LEGEND_WIDTH: u32 = 78;
/// Narrowest cell that shows its number.
const NUMBER_CELL_PX: f64 = 26.0;

/// Ranks over labelled rows and columns.
pub struct RankGrid<'a> {
    /// Row-major ranks, rows × columns (1 = top).
    pub ranks: &'a [u32],
    pub row_labels: &'a [String],
    pub column_labels: &'a [String],
    /// The vocabulary size: the worst possible rank, the scale's far end.
    pub vocabulary: usize,
    /// The legend's caption ("rank").
    pub rank_word: &'a str,
}

/// Where `rank` sits on the colour scale: 1 at the top (bright), the vocabulary's size at 0.
pub fn rank_shade(rank: u32, vocabulary: usize) -> f32 {
    let worst = (vocabulary.max(2) as f32).ln();
    1.0 - (rank.max(1) as f32).ln() / worst
}

/// Draws the grid with its labels and legend; returns where the cells landed.
pub fn draw_rank_grid<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    grid: &RankGrid,
    theme: &Theme,
) -> Result<PlotArea, ChartError>
where
    DB::ErrorType: 'static,
{
    root.fill(&theme.background)?;
    let (rows, columns) = (grid.row_labels.len(), grid.column_labels.len());
    if rows == 0 || columns == 0 || grid.ranks.len() != rows * columns {
        return Ok(PlotArea::default());
    }
    let (width, _) = root.dim_in_pixel();
    let (chart_area, legend_area) = root.split_horizontally(width.saturating_sub(LEGEND_WIDTH));
    let labels = (grid.row_labels, grid.column_labels);
    let cells = labelled_cells(&chart_area, labels, theme)?;
    let (mut chart, font, (plot_width, plot_height)) = (cells.chart, cells.font, cells.plot);
    let cell = |index: usize| {
        let (row, column) = (index / columns, index % columns);
        let top = (rows - row) as f64;
        (
            [(column as f64, top), (column as f64 + 1.0, top - 1.0)],
            grid.ranks[index],
        )
    };
    chart.draw_series((0..rows * columns).map(|index| {
        let (corners, rank) = cell(index);
        Rectangle::new(
            corners,
            sequential(rank_shade(rank, grid.vocabulary)).filled(),
        )
    }))?;
    let cell_px = plot_width as f64 / columns as f64;
    if cell_px >= NUMBER_CELL_PX && (plot_height as f64 / rows as f64) >= font as f64 {
        chart.draw_series((0..rows * columns).map(|index| {
            let (corners, rank) = cell(index);
            let shade = rank_shade(rank, grid.vocabulary);
            // Dark numbers on viridis' bright end, light ones on its dark end.
            let ink = if shade > 0.6 { BLACK } else { WHITE };
            let centre = (corners[0].0 + 0.5, corners[0].1 - 0.5);
            Text::new(
                rank.to_string(),
                centre,
                ("sans-serif", font)
                    .into_font()
                    .color(&ink)
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            )
        }))?;
    }
    let area = PlotArea::of(chart.plotting_area());
    draw_rank_legend(&legend_area, grid, theme)?;
    Ok(area)
}

/// The colour bar from rank 1 to the vocabulary's size, labelled at powers of ten.
fn draw_rank_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    grid: &RankGrid,
    theme: &Theme,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let worst = (grid.vocabulary.max(2) as f64).log10();
    let mut legend = ChartBuilder::on(area)
        .margin_top(12)
        .margin_bottom(40)
        .margin_right(8)
        .y_label_area_size(40)
        .caption(
            grid.rank_word,
            ("sans-serif", 12).into_font().color(&theme.text),
        )
        .build_cartesian_2d(0f64..1.0, 0f64..worst)?;
    legend
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(0)
        .draw()?;
    let steps = 64;
    legend.draw_series((0..steps).map(|i| {
        let (low, high) = (i as f64 / steps as f64, (i + 1) as f64 / steps as f64);
        // Height h on the bar is rank 10^(worst − h), whose shade is h / worst.
        let shade = low as f32;
        Rectangle::new(
            [(0.0, low * worst), (1.0, high * worst)],
            sequential(shade).filled(),
        )
    }))?;
    // Ticks at ranks 1, 10, 100, …: rank r sits at height worst − log10 r.
    let font = ("sans-serif", 11).into_font().color(&theme.text);
    let base = area.get_base_pixel();
    for power in 0..=worst.floor() as u32 {
        let (x, y) = legend.backend_coord(&(0.0, worst - power as f64));
        area.draw(&Text::new(
            10u64.pow(power).to_string(),
            (x - base.0 - 4, y - base.1),
            font.clone().pos(Pos::new(HPos::Right, VPos::Center)),
        ))?;
    }
    Ok(())
}
