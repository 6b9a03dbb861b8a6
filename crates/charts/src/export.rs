//! A chart's numbers as a table (CSV and JSON downloads) and a chart as an SVG document (the same
//! drawing function on plotters' SVG backend).
use plotters::coord::Shift;
use plotters::prelude::*;
use serde::Serialize;

use super::positions::axis_label;
use super::{AttentionGrid, Bar, ChartError, Matrix};

/// The numbers behind a chart: one labelled row per query, position or candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataTable {
    /// What the chart shows, e.g. "attention, layer 1, head 2".
    pub title: String,
    /// Header of the label column (e.g. "query ↓ key →", "position").
    pub row_header: String,
    /// Column headers.
    pub columns: Vec<String>,
    /// Rows of values; a missing value (masked, not computed) is `None`.
    pub rows: Vec<DataRow>,
}

/// One labelled row of a [`DataTable`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataRow {
    /// The row's label (a token, a position …).
    pub label: String,
    /// The row's values, one per column.
    pub values: Vec<Option<f32>>,
}

impl DataTable {
    /// Comma-separated values (RFC 4180 quoting); the first row is the header, missing values are
    /// empty fields.
    pub fn to_csv(&self) -> String {
        let mut csv = String::new();
        let header = std::iter::once(&self.row_header).chain(&self.columns);
        push_record(&mut csv, header.map(|h| csv_field(h)));
        for row in &self.rows {
            let values = row.values.iter().map(|v| {
                v.filter(|v| v.is_finite())
                    .map_or(String::new(), |v| v.to_string())
            });
            push_record(
                &mut csv,
                std::iter::once(csv_field(&row.label)).chain(values),
            );
        }
        csv
    }

    /// The table as pretty JSON (`title`, `row_header`, `columns`, `rows: [{label, values}]`);
    /// missing or non-finite values are `null`.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

fn push_record(csv: &mut String, fields: impl Iterator<Item = String>) {
    csv.push_str(&fields.collect::<Vec<_>>().join(","));
    csv.push_str("\r\n");
}

/// A field quoted when it holds a comma, quote, line break or leading/trailing space.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) || text.trim() != text {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Draws a chart on an SVG canvas of `width` × `height` and returns the SVG document.
pub fn svg_document<T>(
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<T, ChartError>,
) -> Result<String, ChartError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        draw(&root)?;
        root.present()?;
    }
    Ok(svg)
}

/// An attention grid as a table: rows are queries, columns keys; masked cells are missing.
pub fn grid_table(grid: &AttentionGrid, title: String, row_header: String) -> DataTable {
    DataTable {
        title,
        row_header,
        columns: grid.key_labels.clone(),
        rows: (0..grid.size())
            .map(|row| DataRow {
                label: grid.labels[row].clone(),
                values: (0..grid.columns())
                    .map(|c| grid.cell(row, c).value())
                    .collect(),
            })
            .collect(),
    }
}

/// A row-major `rows` × `columns` matrix as a table, its rows and columns named by their labels
/// or numbered from 0.
pub fn matrix_table(matrix: &Matrix, title: String) -> DataTable {
    DataTable {
        title,
        row_header: format!("{} \\ {}", matrix.row_name, matrix.column_name),
        columns: (0..matrix.columns)
            .map(|c| axis_label(matrix.column_labels, c))
            .collect(),
        rows: matrix
            .values
            .chunks(matrix.columns.max(1))
            .take(matrix.rows)
            .enumerate()
            .map(|(row, values)| DataRow {
                label: axis_label(matrix.row_labels, row),
                values: values.iter().map(|&v| Some(v)).collect(),
            })
            .collect(),
    }
}

/// Named series over a shared x (0, 1, 2 …) as a table: one row per x, one column per series.
pub fn series_table(
    series: &[(String, Vec<f32>)],
    x_from: i64,
    x_name: String,
    title: String,
) -> DataTable {
    let length = series.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
    DataTable {
        title,
        row_header: x_name,
        columns: series.iter().map(|(name, _)| name.clone()).collect(),
        rows: (0..length)
            .map(|x| DataRow {
                label: (x_from + x as i64).to_string(),
                values: series.iter().map(|(_, v)| v.get(x).copied()).collect(),
            })
            .collect(),
    }
}

/// Bars as a table: one row per bar with its value.
pub fn bars_table(
    bars: &[Bar],
    title: String,
    label_header: String,
    value_header: String,
) -> DataTable {
    DataTable {
        title,
        row_header: label_header,
        columns: vec![value_header],
        rows: bars
            .iter()
            .map(|bar| DataRow {
                label: bar.label.clone(),
                values: vec![Some(bar.value)],
            })
            .collect(),
    }
}
