//! Every chart as a value that draws itself on any backend, gives its numbers as a table and
//! says where its cells are — so one canvas component in the page can redraw, export and point
//! into any of them, and the same value writes the SVG export and the native tests' SVG.
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    bars_table, draw_bars, draw_head_lines, draw_heatmap, draw_matrix, draw_rank_grid,
    draw_series_lines, draw_thumbnail, grid_table, matrix_table, series_table, svg_document,
    AttentionGrid, Bar, ChartError, DataRow, DataTable, HeadLines, HeatmapWords, Highlight, Matrix,
    PlotArea, RankGrid, Theme, BAR_ROW, TITLE_BAND,
};

/// Where a drawn chart's cells are: a plot area split into rows and columns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellLayout {
    pub plot: PlotArea,
    pub rows: usize,
    pub columns: usize,
}

impl CellLayout {
    /// The (row, column) under a point in the canvas's pixels.
    pub fn cell_at(&self, x: f64, y: f64) -> Option<(usize, usize)> {
        self.plot.cell_at(x, y, self.rows, self.columns)
    }
}

/// What a drawing produced.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Drawn {
    /// Where the cells are, when a pointer can pick one.
    pub cells: Option<CellLayout>,
    /// How many marks were drawn (the line view's lines; 0 where it means nothing).
    pub marks: usize,
}

impl Drawn {
    /// A grid of `rows` × `columns` cells in `plot`, every cell a mark.
    fn grid(plot: PlotArea, rows: usize, columns: usize) -> Self {
        Drawn {
            cells: Some(CellLayout {
                plot,
                rows,
                columns,
            }),
            marks: rows * columns,
        }
    }
}

/// A chart as a value.
pub trait Chart {
    /// Its size in pixels when `width` is available.
    fn size(&self, width: u32) -> (u32, u32);

    /// Draws it on `root`.
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        theme: &Theme,
    ) -> Result<Drawn, ChartError>
    where
        DB::ErrorType: 'static;

    /// Its numbers, for CSV and JSON.
    fn table(&self) -> DataTable;

    /// The chart as an SVG document of `width` × `height`.
    fn svg(&self, width: u32, height: u32, theme: &Theme) -> Result<String, ChartError> {
        svg_document(width, height, |root| self.draw(root, theme))
    }
}

/// One head's (or the average's) query × key weights.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatmapChart {
    pub grid: AttentionGrid,
    /// The token whose row and column are outlined.
    pub highlight: Highlight,
    /// The legend's words, in the page's language.
    pub weight: String,
    pub masked: String,
    /// The table's title and its corner cell.
    pub title: String,
    pub corner: String,
}

impl Chart for HeatmapChart {
    fn size(&self, width: u32) -> (u32, u32) {
        (width, width.saturating_sub(40))
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        theme: &Theme,
    ) -> Result<Drawn, ChartError>
    where
        DB::ErrorType: 'static,
    {
        let words = HeatmapWords {
            weight: &self.weight,
            masked: &self.masked,
        };
        let plot = draw_heatmap(root, &self.grid, self.highlight, theme, &words)?;
        let (rows, columns) = (self.grid.size(), self.grid.columns());
        Ok(Drawn::grid(plot, rows, columns))
    }

    fn table(&self) -> DataTable {
        grid_table(&self.grid, self.title.clone(), self.corner.clone())
    }
}

/// A head's thumbnail in the layers × heads overview.
#[derive(Debug, Clone, PartialEq)]
pub struct ThumbnailChart {
    pub grid: AttentionGrid,
    pub selected: bool,
    /// Its side in pixels.
    pub side: u32,
}

impl Chart for ThumbnailChart {
    fn size(&self, _: u32) -> (u32, u32) {
        (self.side, self.side)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        theme: &Theme,
    ) -> Result<Drawn, ChartError>
    where
        DB::ErrorType: 'static,
    {
        draw_thumbnail(root, &self.grid, self.selected, theme)?;
        Ok(Drawn::default())
    }

    fn table(&self) -> DataTable {
        grid_table(&self.grid, String::new(), String::new())
    }
}

/// BertViz's head view: the shown heads' weights as lines between two columns of tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadLinesChart {
    /// The query tokens' labels.
    pub labels: Vec<String>,
    /// The key tokens' labels: the same as `labels` in self-attention, the source's in
    /// cross-attention, whose keys are drawn on the left.
    pub key_labels: Vec<String>,
    pub keys_left: bool,
    /// Titles over the left and the right column (cross-attention: source, target).
    pub column_titles: Option<(String, String)>,
    /// The tokens' positions in the text (hidden special tokens leave gaps).
    pub positions: Vec<usize>,
    /// (head, row-major query × key weights; hidden or masked cells 0).
    pub heads: Vec<(usize, Vec<f32>)>,
    /// The grid row whose lines alone are drawn.
    pub focus: Option<usize>,
    /// The table's title, corner and the word "head", in the page's language.
    pub title: String,
    pub corner: String,
    pub head_word: String,
}

impl Chart for HeadLinesChart {
    fn size(&self, width: u32) -> (u32, u32) {
        let rows = self.labels.len().max(self.key_labels.len());
        let titles = if self.column_titles.is_some() {
            TITLE_BAND
        } else {
            0
        };
        (width, (rows as u32 * 22).max(120) + titles)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        theme: &Theme,
    ) -> Result<Drawn, ChartError>
    where
        DB::ErrorType: 'static,
    {
        let lines = HeadLines {
            queries: &self.labels,
            keys: &self.key_labels,
            keys_left: self.keys_left,
            titles: self
                .column_titles
                .as_ref()
                .map(|(left, right)| [left.as_str(), right.as_str()]),
            heads: self.heads.iter().map(|(h, w)| (*h, w.as_slice())).collect(),
            focus: self.focus,
            min_weight: 0.01,
        };
        let marks = draw_head_lines(root, &lines, theme)?;
        // A pointer picks a token row: the rows span the whole canvas.
        let (width, height) = root.dim_in_pixel();
        let plot = PlotArea {
            left: 0,
            top: if self.column_titles.is_some() {
                TITLE_BAND as i32
            } else {
                0
            },
            right: width as i32,
            bottom: height as i32,
        };
        let rows = self.labels.len();
        Ok(Drawn {
            cells: Some(CellLayout {
                plot,
                rows,
                columns: 1,
            }),
            marks,
        })
    }

    /// One row per shown head and query: its weights over the keys.
    fn table(&self) -> DataTable {
        let size = self.key_labels.len();
        DataTable {
            title: self.title.clone(),
            row_header: self.corner.clone(),
            columns: self.key_labels.clone(),
            rows: self
                .heads
                .iter()
                .flat_map(|(head, weights)| {
                    weights
                        .chunks(size.max(1))
                        .enumerate()
                        .map(move |(row, values)| (head, row, values))
                })
                .map(|(head, row, values)| DataRow {
                    label: format!("{} {} · {}", self.head_word, head + 1, self.labels[row]),
                    values: values.iter().map(|&v| Some(v)).collect(),
                })
                .collect(),
        }
    }
}

/// Horizontal bars with their labels and values.
#[derive(Debug, Clone, PartialEq)]
pub struct BarsChart {
    pub bars: Vec<Bar>,
    /// The values' name (table title and column) and the labels' name.
    pub value_name: String,
    pub label_name: String,
}

impl Chart for BarsChart {
    fn size(&self, width: u32) -> (u32, u32) {
        (width, BAR_ROW * self.bars.len().max(1) as u32 + 8)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        theme: &Theme,
    ) -> Result<Drawn, ChartError>
    where
        DB::ErrorType: 'static,
    {
        draw_bars(root, &self.bars, theme)?;
        Ok(Drawn {
            cells: None,
            marks: self.bars.len(),
        })
    }

    fn table(&self) -> DataTable {
        bars_table(
            &self.bars,
            self.value_name.clone(),
            self.label_name.clone(),
            self.value_name.clone(),
        )
    }
}

/// A rows × columns matrix of real numbers on a diverging scale.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixChart {
    /// Row-major values.
    pub values: Vec<f32>,
    pub rows: usize,
    pub columns: usize,
    /// The axes' names and the table's title, in the page's language.
    pub row_name: String,
    pub column_name: String,
    /// Each row's and column's label; empty: numbered.
    pub row_labels: Vec<String>,
    pub column_labels: Vec<String>,
    pub title: String,
    /// The colour scale runs from −limit to +limit.
    pub limit: f32,
    /// Every value is at least 0: the legend runs from 0.
    pub from_zero: bool,
}

impl MatrixChart {
    fn matrix(&self) -> Matrix<'_> {
        Matrix {
            values: &self.values,
            rows: self.rows,
            columns: self.columns,
            row_name: &self.row_name,
            column_name: &self.column_name,
            row_labels: &self.row_labels,
            column_labels: &self.column_labels,
            limit: self.limit,
            from_zero: self.from_zero,
        }
    }

    /// The value at (row, column).
    pub fn value(&self, row: usize, column: usize) -> Option<f32> {
        (column < self.columns)
            .then(|| self.values.get(row * self.columns + column).copied())
            .flatten()
    }
}

impl Chart for MatrixChart {
    fn size(&self, width: u32) -> (u32, u32) {
        (width, (width * 4 / 5).max(200))
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        theme: &Theme,
    ) -> Result<Drawn, ChartError>
    where
        DB::ErrorType: 'static,
    {
        let plot = draw_matrix(root, &self.matrix(), theme)?;
        Ok(Drawn::grid(plot, self.rows, self.columns))
    }

    fn table(&self) -> DataTable {
        matrix_table(&self.matrix(), self.title.clone())
    }
}

/// Named series against their index.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesChart {
    pub series: Vec<(String, Vec<f32>)>,
    /// The x of every series' first value (then one apart).
    pub x_from: i64,
    /// The x axis's name and the table's title, in the page's language.
    pub x_name: String,
    pub title: String,
}

impl Chart for SeriesChart {
    fn size(&self, width: u32) -> (u32, u32) {
        (width, 260)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        theme: &Theme,
    ) -> Result<Drawn, ChartError>
    where
        DB::ErrorType: 'static,
    {
        draw_series_lines(root, &self.series, &self.x_name, self.x_from, theme)?;
        Ok(Drawn {
            cells: None,
            marks: self.series.len(),
        })
    }

    fn table(&self) -> DataTable {
        series_table(
            &self.series,
            self.x_from,
            self.x_name.clone(),
            self.title.clone(),
        )
    }
}

/// Ecco's rankings: a token's rank in every residual stream (rows) at every position or for
/// every watched word (columns).
#[derive(Debug, Clone, PartialEq)]
pub struct RankChart {
    /// Row-major ranks, rows × columns.
    pub ranks: Vec<u32>,
    pub row_labels: Vec<String>,
    pub column_labels: Vec<String>,
    /// The vocabulary size (the worst rank).
    pub vocabulary: usize,
    /// The legend's caption, the table's title and its corner cell.
    pub rank_word: String,
    pub title: String,
    pub corner: String,
}

impl RankChart {
    /// The rank in a cell.
    pub fn rank(&self, row: usize, column: usize) -> Option<u32> {
        (column < self.column_labels.len())
            .then(|| {
                self.ranks
                    .get(row * self.column_labels.len() + column)
                    .copied()
            })
            .flatten()
    }
}

impl Chart for RankChart {
    fn size(&self, width: u32) -> (u32, u32) {
        let rows = self.row_labels.len() as u32;
        (width, (rows * 26 + 120).clamp(160, 640))
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        theme: &Theme,
    ) -> Result<Drawn, ChartError>
    where
        DB::ErrorType: 'static,
    {
        let grid = RankGrid {
            ranks: &self.ranks,
            row_labels: &self.row_labels,
            column_labels: &self.column_labels,
            vocabulary: self.vocabulary,
            rank_word: &self.rank_word,
        };
        let plot = draw_rank_grid(root, &grid, theme)?;
        let (rows, columns) = (self.row_labels.len(), self.column_labels.len());
        Ok(Drawn::grid(plot, rows, columns))
    }

    fn table(&self) -> DataTable {
        let columns = self.column_labels.len().max(1);
        DataTable {
            title: self.title.clone(),
            row_header: self.corner.clone(),
            columns: self.column_labels.clone(),
            rows: self
                .row_labels
                .iter()
                .zip(self.ranks.chunks(columns))
                .map(|(label, ranks)| DataRow {
                    label: label.clone(),
                    values: ranks.iter().map(|&r| Some(r as f32)).collect(),
                })
                .collect(),
        }
    }
}
