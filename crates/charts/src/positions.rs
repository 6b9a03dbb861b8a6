//! Matrices of real numbers (positional encodings, similarities) on a diverging scale, and line
//! plots of chosen dimensions against position.
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{ChartError, PlotArea, Theme};
use crate::attention::{labelled_cells, UnitCells};

/// ColorBrewer RdBu from −1 (blue) through white to +1 (red): diverging and colour-blind safe.
const RED_BLUE: [RGBColor; 11] = [
    RGBColor(5, 48, 97),
    RGBColor(33, 102, 172),
    RGBColor(67, 147, 195),
    RGBColor(146, 197, 222),
    RGBColor(209, 229, 240),
    RGBColor(247, 247, 247),
    RGBColor(253, 219, 199),
    RGBColor(244, 165, 130),
    RGBColor(214, 96, 77),
    RGBColor(178, 24, 43),
    RGBColor(103, 0, 31),
];

/// Diverging colour of `value` on a scale from −`limit` to +`limit` (non-finite values: grey).
pub fn diverging(value: f32, limit: f32) -> RGBColor {
    if !value.is_finite() || !limit.is_finite() || limit <= 0.0 {
        return RGBColor(128, 128, 128);
    }
    DerivedColorMap::new(&RED_BLUE).get_color_normalized(value.clamp(-limit, limit), -limit, limit)
}

/// A rows × columns matrix of real numbers.
pub struct Matrix<'a> {
    /// Row-major values.
    pub values: &'a [f32],
    /// Number of rows (drawn top to bottom).
    pub rows: usize,
    /// Number of columns.
    pub columns: usize,
    /// What the rows are ("position").
    pub row_name: &'a str,
    /// What the columns are ("dimension").
    pub column_name: &'a str,
    /// Each row's and column's label (tokens, neurons); empty: the axes are numbered.
    pub row_labels: &'a [String],
    pub column_labels: &'a [String],
    /// The colour scale runs from −limit to +limit.
    pub limit: f32,
    /// Every value is at least 0: the legend shows the scale's upper half, 0 to +limit.
    pub from_zero: bool,
}

/// Row or column `index`'s name: its label, or its number where the axis has no labels.
pub fn axis_label(labels: &[String], index: usize) -> String {
    labels.get(index).cloned().unwrap_or(index.to_string())
}

/// Draws `matrix` with labelled (else numbered) axes and a colour legend; returns where the cells landed.
pub fn draw_matrix<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    matrix: &Matrix,
    theme: &Theme,
) -> Result<PlotArea, ChartError>
where
    DB::ErrorType: 'static,
{
    root.fill(&theme.background)?;
    if matrix.rows == 0 || matrix.columns == 0 {
        return Ok(PlotArea::default());
    }
    let (width, _) = root.dim_in_pixel();
    let (chart_area, legend_area) = root.split_horizontally(width.saturating_sub(70));
    let rows = matrix.rows as f64;
    let mut chart = match labelled(matrix) {
        Some(labels) => labelled_cells(&chart_area, labels, theme)?.chart,
        None => numbered_axes(&chart_area, matrix, theme)?,
    };
    chart.draw_series((0..matrix.rows * matrix.columns).map(|index| {
        let (row, column) = (index / matrix.columns, index % matrix.columns);
        let top = rows - row as f64;
        Rectangle::new(
            [(column as f64, top), (column as f64 + 1.0, top - 1.0)],
            diverging(matrix.values[index], matrix.limit).filled(),
        )
    }))?;
    let area = PlotArea::of(chart.plotting_area());
    draw_diverging_legend(&legend_area, matrix.limit, matrix.from_zero, theme)?;
    Ok(area)
}

/// The matrix's row and column labels, when it has one for every row and column.
fn labelled<'a>(matrix: &Matrix<'a>) -> Option<(&'a [String], &'a [String])> {
    (matrix.row_labels.len() == matrix.rows && matrix.column_labels.len() == matrix.columns)
        .then_some((matrix.row_labels, matrix.column_labels))
}

/// Axes numbered 0, 1, 2 … with the axes' names.
fn numbered_axes<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    matrix: &Matrix,
    theme: &Theme,
) -> Result<UnitCells<'a, DB>, ChartError>
where
    DB::ErrorType: 'static,
{
    let (rows, columns) = (matrix.rows as f64, matrix.columns as f64);
    let font = ("sans-serif", 12).into_font().color(&theme.text);
    let mut chart = ChartBuilder::on(area)
        .margin(8)
        .x_label_area_size(34)
        .y_label_area_size(44)
        .build_cartesian_2d(0f64..columns, 0f64..rows)?;
    // y runs from `rows` at the top to 0 at the bottom, so row r is drawn at rows − r.
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(matrix.column_name)
        .y_desc(matrix.row_name)
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&|v| format!("{:.0}", v.floor()))
        .y_label_formatter(&|v| format!("{:.0}", (rows - v).floor().max(0.0)))
        .label_style(font.clone())
        .axis_desc_style(font)
        .axis_style(theme.text)
        .draw()?;
    Ok(chart)
}

fn draw_diverging_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    limit: f32,
    from_zero: bool,
    theme: &Theme,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let limit = limit as f64;
    let bottom = if from_zero { 0.0 } else { -limit };
    let mut legend = ChartBuilder::on(area)
        .margin_top(12)
        .margin_bottom(40)
        .margin_right(8)
        .y_label_area_size(36)
        .build_cartesian_2d(0f64..1.0, bottom..limit)?;
    legend
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(5)
        .y_label_formatter(&|v| format!("{v:.1}"))
        .y_label_style(("sans-serif", 11).into_font().color(&theme.text))
        .axis_style(theme.text)
        .draw()?;
    const STEPS: usize = 64;
    legend.draw_series((0..STEPS).map(|step| {
        let low = bottom + (limit - bottom) * step as f64 / STEPS as f64;
        let high = low + (limit - bottom) / STEPS as f64;
        Rectangle::new(
            [(0.0, low), (1.0, high)],
            diverging(((low + high) / 2.0) as f32, limit as f32).filled(),
        )
    }))?;
    Ok(())
}

/// Line plot of named series against their index (e.g. chosen dimensions against position).
pub fn draw_series_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    series: &[(String, Vec<f32>)],
    x_name: &str,
    x_from: i64,
    theme: &Theme,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    root.fill(&theme.background)?;
    let length = series
        .iter()
        .map(|(_, values)| values.len())
        .max()
        .unwrap_or(0);
    if length == 0 {
        return Ok(());
    }
    let finite = || {
        series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .filter(|v| v.is_finite())
    };
    let low = finite().fold(f32::INFINITY, f32::min).min(-1.0) as f64;
    let high = finite().fold(f32::NEG_INFINITY, f32::max).max(1.0) as f64;
    let font = ("sans-serif", 12).into_font().color(&theme.text);
    let mut chart = ChartBuilder::on(root)
        .margin(8)
        .x_label_area_size(34)
        .y_label_area_size(40)
        .build_cartesian_2d(
            x_from as f64..(x_from + (length as i64 - 1).max(1)) as f64,
            low..high,
        )?;
    chart
        .configure_mesh()
        .light_line_style(theme.masked)
        .x_desc(x_name)
        // No more ticks than values, so a short series (a few blocks) has whole-number ticks.
        .x_labels(length.clamp(2, 10))
        // x is a position, a distance or an index: whole numbers unless the ticks fall between.
        .x_label_formatter(&|x| match x.fract() == 0.0 {
            true => format!("{x:.0}"),
            false => format!("{x:.1}"),
        })
        .label_style(font.clone())
        .axis_desc_style(font.clone())
        .axis_style(theme.text)
        .draw()?;
    for (index, (name, values)) in series.iter().enumerate() {
        let colour = super::head_colour(index);
        chart
            .draw_series(LineSeries::new(
                values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(x, &y)| ((x_from + x as i64) as f64, y as f64)),
                colour.stroke_width(2),
            ))?
            .label(name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(theme.background.mix(0.85))
        .border_style(theme.text)
        .label_font(font)
        .draw()?;
    Ok(())
}
