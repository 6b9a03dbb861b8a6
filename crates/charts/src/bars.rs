//! Horizontal bar charts: prediction probabilities and saliency shares.
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{sequential, ChartError, Theme};

/// One bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Shown left of the bar.
    pub label: String,
    /// Length of the bar (the axis runs from 0 to the largest value, or 1 if larger).
    pub value: f32,
    /// Coloured when true, grey when false (e.g. filtered out by top-k/top-p).
    pub active: bool,
}

/// Height of one bar row in pixels.
pub const BAR_ROW: u32 = 24;

/// Draws `bars` top to bottom with their labels and values; the chart is `BAR_ROW` pixels per bar.
pub fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    bars: &[Bar],
    theme: &Theme,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    root.fill(&theme.background)?;
    if bars.is_empty() {
        return Ok(());
    }
    let longest = bars
        .iter()
        .map(|b| b.label.chars().count())
        .max()
        .unwrap_or(1) as u32;
    let label_width = (longest * 8 + 12).clamp(40, 160);
    let largest = bars.iter().fold(0f32, |m, b| m.max(b.value)).max(1e-6) as f64;
    let count = bars.len() as f64;
    let mut chart = ChartBuilder::on(root)
        .margin(4)
        .margin_right(64)
        .y_label_area_size(label_width)
        .build_cartesian_2d(0f64..largest, 0f64..count)?;
    chart.draw_series(bars.iter().enumerate().map(|(index, bar)| {
        let top = count - index as f64;
        let colour = if bar.active {
            sequential(0.35)
        } else {
            theme.masked
        };
        Rectangle::new(
            [(0.0, top - 0.15), (bar.value as f64, top - 0.85)],
            colour.filled(),
        )
    }))?;
    let font = ("sans-serif", 13).into_font().color(&theme.text);
    for (index, bar) in bars.iter().enumerate() {
        let centre = count - index as f64 - 0.5;
        let (left, y) = chart.backend_coord(&(0.0, centre));
        let (right, _) = chart.backend_coord(&(bar.value as f64, centre));
        root.draw(&Text::new(
            bar.label.clone(),
            (left - 6, y),
            font.clone().pos(Pos::new(HPos::Right, VPos::Center)),
        ))?;
        root.draw(&Text::new(
            format!("{:.3}", bar.value),
            (right + 4, y),
            font.clone().pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(())
}
