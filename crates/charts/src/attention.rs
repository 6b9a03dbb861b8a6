//! Attention charts: the query × key heatmap with its legend, the small thumbnail of the
//! layers × heads overview, and the line view (tokens in two columns joined by weighted lines).
use plotters::coord::{CoordTranslate, Shift};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{head_colour, sequential, AttentionGrid, Cell, ChartError, Theme};

/// Width of the colour legend beside the heatmap, in pixels.
const LEGEND_WIDTH: u32 = 78;

/// Where the cells of a heatmap landed, in backend pixels, so a pointer can be mapped to a cell.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PlotArea {
    /// Left edge of the first column.
    pub left: i32,
    /// Top edge of the first row.
    pub top: i32,
    /// Right edge of the last column.
    pub right: i32,
    /// Bottom edge of the last row.
    pub bottom: i32,
}

impl PlotArea {
    /// Where a chart's plotting area landed on its backend.
    pub fn of<DB: DrawingBackend, CT: CoordTranslate>(area: &DrawingArea<DB, CT>) -> Self {
        let (x, y) = area.get_pixel_range();
        PlotArea {
            left: x.start,
            top: y.start,
            right: x.end,
            bottom: y.end,
        }
    }

    /// The (row, column) of the cell under a point of a `rows` × `columns` matrix.
    pub fn cell_at(&self, x: f64, y: f64, rows: usize, columns: usize) -> Option<(usize, usize)> {
        let width = (self.right - self.left) as f64;
        let height = (self.bottom - self.top) as f64;
        if rows == 0 || columns == 0 || width <= 0.0 || height <= 0.0 {
            return None;
        }
        let column = ((x - self.left as f64) / width * columns as f64).floor();
        let row = ((y - self.top as f64) / height * rows as f64).floor();
        let inside = (0.0..columns as f64).contains(&column) && (0.0..rows as f64).contains(&row);
        inside.then_some((row as usize, column as usize))
    }
}

pub(crate) fn font_size(count: usize) -> u32 {
    match count {
        0..=16 => 13,
        17..=32 => 11,
        _ => 9,
    }
}

/// Centres of every `stride`-th of `count` unit cells, for axis labels that do not overlap.
pub(crate) fn label_centres(count: usize, pixels: u32, font: u32) -> Vec<f64> {
    let stride = ((count as f64 * (font as f64 + 2.0)) / pixels.max(1) as f64)
        .ceil()
        .max(1.0) as usize;
    (0..count).step_by(stride).map(|i| i as f64 + 0.5).collect()
}

/// Space for the longest token label, in pixels.
pub(crate) fn label_space(labels: &[String], font: u32) -> u32 {
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1) as u32;
    (longest * font * 6 / 10 + 12).clamp(24, 120)
}

/// The words drawn inside a heatmap (in the page's language).
#[derive(Debug, Clone, Copy)]
pub struct HeatmapWords<'a> {
    /// The colour legend's caption ("weight").
    pub weight: &'a str,
    /// The masked-cell swatch's label ("masked").
    pub masked: &'a str,
}

impl HeatmapWords<'static> {
    /// English words.
    pub const ENGLISH: HeatmapWords<'static> = HeatmapWords {
        weight: "weight",
        masked: "masked",
    };
}

/// What a heatmap outlines: a query token's row and a key token's column (token positions; in
/// self-attention usually the same token).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Highlight {
    pub query: Option<usize>,
    pub key: Option<usize>,
}

impl Highlight {
    /// One token's row and column (self-attention).
    pub fn token(position: Option<usize>) -> Self {
        Highlight {
            query: position,
            key: position,
        }
    }
}

/// The query × key heatmap of `grid` with token labels on both axes and a colour legend
/// (0 to 1), outlining `highlight`'s row and column.
pub fn draw_heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    grid: &AttentionGrid,
    highlight: Highlight,
    theme: &Theme,
    words: &HeatmapWords,
) -> Result<PlotArea, ChartError>
where
    DB::ErrorType: 'static,
{
    root.fill(&theme.background)?;
    let (rows, columns) = (grid.size(), grid.columns());
    if rows == 0 || columns == 0 {
        return Ok(PlotArea::default());
    }
    let (width, _) = root.dim_in_pixel();
    let (chart_area, legend_area) = root.split_horizontally(width.saturating_sub(LEGEND_WIDTH));
    let labels = (grid.labels.as_slice(), grid.key_labels.as_slice());
    let mut chart = labelled_cells(&chart_area, labels, theme)?.chart;
    let cell_rect = |row: usize, column: usize| {
        let top = (rows - row) as f64;
        [(column as f64, top), (column as f64 + 1.0, top - 1.0)]
    };
    chart.draw_series((0..rows * columns).map(|index| {
        let (row, column) = (index / columns, index % columns);
        let fill = match grid.cell(row, column) {
            Cell::Weight(value) => sequential(value).filled(),
            Cell::BelowShare(_) => theme.background.filled(),
            Cell::Masked => theme.masked.filled(),
        };
        Rectangle::new(cell_rect(row, column), fill)
    }))?;
    let outline = theme.highlight.stroke_width(2);
    let mut outlines = Vec::new();
    if let Some(row) = highlight.query.and_then(|position| grid.row_of(position)) {
        let top = (rows - row) as f64;
        outlines.push(Rectangle::new(
            [(0.0, top), (columns as f64, top - 1.0)],
            outline,
        ));
    }
    let column = highlight
        .key
        .and_then(|position| grid.key_positions.iter().position(|&p| p == position));
    if let Some(column) = column {
        let left = column as f64;
        outlines.push(Rectangle::new(
            [(left, 0.0), (left + 1.0, rows as f64)],
            outline,
        ));
    }
    chart.draw_series(outlines)?;
    let area = PlotArea::of(chart.plotting_area());
    draw_legend(
        &legend_area,
        grid.cells.contains(&Cell::Masked),
        theme,
        words,
    )?;
    Ok(area)
}

/// A chart of unit cells: column c spans x ∈ [c, c + 1], row r (from the top) y ∈ [rows − r − 1,
/// rows − r].
pub(crate) type UnitCells<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A grid of unit cells with its labels drawn, the labels' font size and the cells' area in
/// pixels.
pub(crate) struct LabelledCells<'a, DB: DrawingBackend> {
    pub chart: UnitCells<'a, DB>,
    pub font: u32,
    pub plot: (u32, u32),
}

/// A grid of unit cells with every row's and column's label beside it (every n-th where the
/// cells are narrow).
pub(crate) fn labelled_cells<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    (row_labels, column_labels): (&[String], &[String]),
    theme: &Theme,
) -> Result<LabelledCells<'a, DB>, ChartError>
where
    DB::ErrorType: 'static,
{
    let (rows, columns) = (row_labels.len(), column_labels.len());
    let font = font_size(rows.max(columns));
    let row_px = label_space(row_labels, font);
    let column_px = label_space(column_labels, font);
    let (width, height) = area.dim_in_pixel();
    let chart = ChartBuilder::on(area)
        .margin(8)
        .x_label_area_size(column_px)
        .y_label_area_size(row_px)
        .build_cartesian_2d(0f64..columns as f64, 0f64..rows as f64)?;
    let plot = (
        width.saturating_sub(row_px + 16),
        height.saturating_sub(column_px + 16),
    );
    draw_cell_labels(area, &chart, (row_labels, column_labels), plot, font, theme)?;
    Ok(LabelledCells { chart, font, plot })
}

/// Labels of a grid of unit cells (rows counted from the top): each row's left of it, each
/// column's rotated under it; every `stride`-th when the cells are smaller than the font.
/// `plot` is the plotting area's size in pixels.
pub(crate) fn draw_cell_labels<DB: DrawingBackend, X, Y>(
    area: &DrawingArea<DB, Shift>,
    chart: &ChartContext<DB, Cartesian2d<X, Y>>,
    (row_labels, column_labels): (&[String], &[String]),
    (plot_width, plot_height): (u32, u32),
    font: u32,
    theme: &Theme,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let rows = row_labels.len();
    let label_font = ("sans-serif", font).into_font().color(&theme.text);
    let base = area.get_base_pixel();
    let to_area = |(x, y): (i32, i32)| (x - base.0, y - base.1);
    for centre in label_centres(column_labels.len(), plot_width, font) {
        let (x, bottom) = to_area(chart.backend_coord(&(centre, 0.0)));
        area.draw(&Text::new(
            column_labels[centre.floor() as usize].clone(),
            (x, bottom + 4),
            label_font
                .clone()
                .transform(FontTransform::Rotate90)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    for centre in label_centres(rows, plot_height, font) {
        let (left, y) = to_area(chart.backend_coord(&(0.0, rows as f64 - centre)));
        area.draw(&Text::new(
            row_labels[centre.floor() as usize].clone(),
            (left - 4, y),
            label_font.clone().pos(Pos::new(HPos::Right, VPos::Center)),
        ))?;
    }
    Ok(())
}

/// The colour bar from 0 to 1, and the masked swatch when the chart has masked cells.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    has_masked: bool,
    theme: &Theme,
    words: &HeatmapWords,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let mut legend = ChartBuilder::on(area)
        .margin_top(12)
        .margin_bottom(if has_masked { 56 } else { 40 })
        .margin_right(8)
        .y_label_area_size(34)
        .caption(
            words.weight,
            ("sans-serif", 12).into_font().color(&theme.text),
        )
        .build_cartesian_2d(0f64..1.0, 0f64..1.0)?;
    legend
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(6)
        .y_label_formatter(&|v| format!("{v:.1}"))
        .y_label_style(("sans-serif", 11).into_font().color(&theme.text))
        .axis_style(theme.text)
        .draw()?;
    const STEPS: usize = 64;
    legend.draw_series((0..STEPS).map(|step| {
        let (low, high) = (step as f64 / STEPS as f64, (step + 1) as f64 / STEPS as f64);
        Rectangle::new(
            [(0.0, low), (1.0, high)],
            sequential(((low + high) / 2.0) as f32).filled(),
        )
    }))?;
    if has_masked {
        let (_, height) = area.dim_in_pixel();
        let y = height as i32 - 40;
        area.draw(&Rectangle::new(
            [(34, y), (48, y + 14)],
            theme.masked.filled(),
        ))?;
        area.draw(&Text::new(
            words.masked,
            (22, y + 18),
            ("sans-serif", 11).into_font().color(&theme.text),
        ))?;
    }
    Ok(())
}

/// A small heatmap without labels for the layers × heads overview; `selected` frames it.
pub fn draw_thumbnail<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    grid: &AttentionGrid,
    selected: bool,
    theme: &Theme,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    root.fill(&theme.background)?;
    let (rows, columns) = (grid.size(), grid.columns());
    if rows == 0 || columns == 0 {
        return Ok(());
    }
    let (width, height) = root.dim_in_pixel();
    let cell_w = width as f64 / columns as f64;
    let cell_h = height as f64 / rows as f64;
    for index in 0..rows * columns {
        let (row, column) = (index / columns, index % columns);
        let fill = match grid.cell(row, column) {
            Cell::Weight(value) => sequential(value),
            Cell::BelowShare(_) => theme.background,
            Cell::Masked => theme.masked,
        };
        let (x0, y0) = (
            (column as f64 * cell_w) as i32,
            (row as f64 * cell_h) as i32,
        );
        let (x1, y1) = (
            ((column + 1) as f64 * cell_w) as i32,
            ((row + 1) as f64 * cell_h) as i32,
        );
        root.draw(&Rectangle::new([(x0, y0), (x1, y1)], fill.filled()))?;
    }
    if selected {
        root.draw(&Rectangle::new(
            [(1, 1), (width as i32 - 2, height as i32 - 2)],
            theme.highlight.stroke_width(3),
        ))?;
    }
    Ok(())
}

/// The line view of one layer: token labels in two columns and one line per head and (query,
/// key) pair, as opaque as the weight. Queries are on the left and keys on the right, except in
/// cross-attention, where the keys (the source) are on the left and the queries (the target)
/// on the right.
pub struct HeadLines<'a> {
    /// Query token labels, in order.
    pub queries: &'a [String],
    /// Key token labels (the same as the queries in self-attention).
    pub keys: &'a [String],
    /// Whether the keys' column is the left one.
    pub keys_left: bool,
    /// Titles over the left and the right column, if any.
    pub titles: Option<[&'a str; 2]>,
    /// The shown heads: head index and its row-major queries × keys weights.
    pub heads: Vec<(usize, &'a [f32])>,
    /// Only draw the lines of this query token.
    pub focus: Option<usize>,
    /// Weights below this are not drawn (they would be invisible).
    pub min_weight: f32,
}

/// Height of the band a line view's column titles take.
pub const TITLE_BAND: u32 = 22;

/// The two column titles, bold, over the token columns at `x` (left, right); returns the
/// height they take.
fn draw_column_titles<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    titles: [&str; 2],
    x: (i32, i32),
    theme: &Theme,
) -> Result<u32, ChartError>
where
    DB::ErrorType: 'static,
{
    let font = ("sans-serif", 13, FontStyle::Bold)
        .into_font()
        .color(&theme.text);
    let middle = (TITLE_BAND / 2) as i32;
    root.draw(&Text::new(
        titles[0].to_string(),
        (x.0 - 6, middle),
        font.pos(Pos::new(HPos::Right, VPos::Center)),
    ))?;
    root.draw(&Text::new(
        titles[1].to_string(),
        (x.1 + 6, middle),
        font.pos(Pos::new(HPos::Left, VPos::Center)),
    ))?;
    Ok(TITLE_BAND)
}

/// Draws the line view; returns the number of lines drawn.
pub fn draw_head_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    lines: &HeadLines,
    theme: &Theme,
) -> Result<usize, ChartError>
where
    DB::ErrorType: 'static,
{
    root.fill(&theme.background)?;
    let (n_queries, n_keys) = (lines.queries.len(), lines.keys.len());
    if n_queries == 0 || n_keys == 0 {
        return Ok(0);
    }
    let (width, height) = root.dim_in_pixel();
    let (left, right) = ((width as f64 * 0.3) as i32, (width as f64 * 0.7) as i32);
    let top = match lines.titles {
        Some(titles) => draw_column_titles(root, titles, (left, right), theme)?,
        None => 0,
    };
    // Each column spreads its own tokens over the height below the titles.
    let rows_height = height.saturating_sub(top) as f64;
    let y = |index: usize, count: usize| {
        top as i32 + (rows_height * (index as f64 + 0.5) / count as f64) as i32
    };
    let (query_x, key_x) = if lines.keys_left {
        (right, left)
    } else {
        (left, right)
    };
    let font = ("sans-serif", font_size(n_queries.max(n_keys)) + 1).into_font();
    let column = |labels: &[String], x: i32, focus: Option<usize>| {
        let (anchor, gap) = if x == left {
            (HPos::Right, -6)
        } else {
            (HPos::Left, 6)
        };
        labels.iter().enumerate().try_for_each(|(index, label)| {
            let colour = if focus == Some(index) {
                theme.highlight
            } else {
                theme.text
            };
            let style = font.clone().color(&colour);
            root.draw(&Text::new(
                label.clone(),
                (x + gap, y(index, labels.len())),
                style.pos(Pos::new(anchor, VPos::Center)),
            ))
        })
    };
    column(lines.queries, query_x, lines.focus)?;
    column(lines.keys, key_x, None)?;
    let mut drawn = 0;
    for &(head, weights) in &lines.heads {
        let colour = head_colour(head);
        for query in 0..n_queries {
            if lines.focus.is_some_and(|focus| focus != query) {
                continue;
            }
            for key in 0..n_keys {
                let weight = weights[query * n_keys + key];
                if weight < lines.min_weight {
                    continue;
                }
                root.draw(&PathElement::new(
                    vec![(query_x, y(query, n_queries)), (key_x, y(key, n_keys))],
                    colour.mix(weight as f64).stroke_width(2),
                ))?;
                drawn += 1;
            }
        }
    }
    Ok(drawn)
}
