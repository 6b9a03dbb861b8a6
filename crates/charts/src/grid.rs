//! One attention matrix made ready to draw: one head or the average of a layer's heads, with
//! special tokens optionally hidden (and the rows renormalised), and optionally only the keys
//! that carry the top share of each query's attention.
//!
//! These are display transforms of at most a few hundred thousand numbers, done in plain Rust so
//! the page's wasm does not carry candle (the worker computes everything the model computes).

use crate::ChartError;
use ae_messages::PageTrace;

/// What the viewer asked to see.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridOptions {
    /// Average the layer's heads instead of showing one head.
    pub average_heads: bool,
    /// Show the attention rollout through the layer instead of its heads (an approximation:
    /// see [`crate::attention_rollout`]).
    pub rollout: bool,
    /// Drop the special tokens (and, for decoders, the first token, the usual attention sink)
    /// from rows and columns, and renormalise every remaining row to sum to 1.
    pub hide_special: bool,
    /// Per query row, keep the strongest keys that together hold at least this share of the
    /// row's attention (1.0 keeps everything).
    pub top_share: f32,
}

impl Default for GridOptions {
    fn default() -> Self {
        GridOptions {
            average_heads: false,
            rollout: false,
            hide_special: false,
            top_share: 1.0,
        }
    }
}

/// One cell of the grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    /// An attention weight that is shown.
    Weight(f32),
    /// A weight left out by the top-share filter (its value, for the tooltip).
    BelowShare(f32),
    /// A future key under the causal mask: the score was −∞, the weight exactly 0.
    Masked,
}

impl Cell {
    /// The weight, whether shown or filtered out; `None` for a masked key.
    pub fn value(self) -> Option<f32> {
        match self {
            Cell::Weight(value) | Cell::BelowShare(value) => Some(value),
            Cell::Masked => None,
        }
    }
}

/// A query × key matrix over the shown token positions: square for self-attention, target ×
/// source for cross-attention.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionGrid {
    /// The query positions shown (rows).
    pub positions: Vec<usize>,
    /// The token text at each shown query position.
    pub labels: Vec<String>,
    /// The key positions shown (columns); the query positions in self-attention.
    pub key_positions: Vec<usize>,
    /// The token text at each shown key position.
    pub key_labels: Vec<String>,
    /// Row-major cells, rows × columns.
    pub cells: Vec<Cell>,
    /// Whether rows were renormalised after hiding tokens.
    pub renormalised: bool,
}

impl AttentionGrid {
    /// Number of rows (queries).
    pub fn size(&self) -> usize {
        self.positions.len()
    }

    /// Number of columns (keys).
    pub fn columns(&self) -> usize {
        self.key_positions.len()
    }

    /// The cell at a row and column of the grid (not token positions).
    pub fn cell(&self, row: usize, column: usize) -> Cell {
        self.cells[row * self.columns() + column]
    }

    /// A grid of every weight of a rows × columns matrix (cross-attention: target × source);
    /// `masked(row, column)` marks the cells the softmax gave no weight by a mask.
    pub fn of_matrix(
        weights: &[f32],
        labels: Vec<String>,
        key_labels: Vec<String>,
        masked: impl Fn(usize, usize) -> bool,
    ) -> Result<Self, ChartError> {
        let (rows, columns) = (labels.len(), key_labels.len());
        if weights.len() != rows * columns {
            return Err(ChartError(format!(
                "{} weights for a {rows} × {columns} grid",
                weights.len()
            )));
        }
        let cells = weights
            .iter()
            .enumerate()
            .map(|(i, &weight)| {
                if masked(i / columns.max(1), i % columns.max(1)) {
                    Cell::Masked
                } else {
                    Cell::Weight(weight)
                }
            })
            .collect();
        Ok(AttentionGrid {
            positions: (0..rows).collect(),
            labels,
            key_positions: (0..columns).collect(),
            key_labels,
            cells,
            renormalised: false,
        })
    }

    /// The weights a line view draws, row-major: 0 for a filtered-out or masked cell.
    pub fn line_weights(&self) -> Vec<f32> {
        let weight = |cell: &Cell| match cell {
            Cell::Weight(value) => *value,
            _ => 0.0,
        };
        self.cells.iter().map(weight).collect()
    }

    /// The grid row showing a token position, if it is shown.
    pub fn row_of(&self, position: usize) -> Option<usize> {
        self.positions.iter().position(|&p| p == position)
    }
}

/// The token positions the "hide special tokens" option removes.
pub fn hidden_positions(trace: &PageTrace, special: &[bool]) -> Vec<usize> {
    (0..trace.tokens.len())
        .filter(|&i| special.get(i).copied().unwrap_or(false) || (trace.causal && i == 0))
        .collect()
}

/// The attention grid of one head (or the layer's head average) as the options ask.
pub fn attention_grid(
    trace: &PageTrace,
    special: &[bool],
    layer: usize,
    head: usize,
    options: GridOptions,
) -> Result<AttentionGrid, ChartError> {
    let Some([layers, heads, tokens, _]) = trace.attentions.dims() else {
        return Err(ChartError("the trace has no attention matrix".into()));
    };
    if layer >= layers || head >= heads {
        return Err(ChartError(format!(
            "layer {} head {} does not exist: the model has {layers} layers of {heads} heads",
            layer + 1,
            head + 1
        )));
    }
    let head_size = tokens * tokens;
    let head_matrix = |h: usize| trace.attentions.block(&[layer, h]).unwrap_or_default();
    let mut matrix: Vec<f32> = if options.rollout {
        crate::attention_rollout(&trace.attentions, layer)
    } else if options.average_heads {
        (0..head_size)
            .map(|cell| (0..heads).map(|h| head_matrix(h)[cell]).sum::<f32>() / heads as f32)
            .collect()
    } else {
        head_matrix(head).to_vec()
    };
    // Which keys the causal mask removed (the same for every head).
    let masked: Vec<bool> = (0..head_size)
        .map(|cell| trace.is_masked(cell / tokens, cell % tokens))
        .collect();

    let mut positions: Vec<usize> = (0..tokens).collect();
    if options.hide_special {
        let hidden = hidden_positions(trace, special);
        positions.retain(|p| !hidden.contains(p));
        matrix = positions
            .iter()
            .flat_map(|&query| {
                let row: Vec<f32> = positions
                    .iter()
                    .map(|&key| matrix[query * tokens + key])
                    .collect();
                let kept_mass = row.iter().sum::<f32>().max(f32::MIN_POSITIVE);
                row.into_iter().map(move |weight| weight / kept_mass)
            })
            .collect();
    }
    let size = positions.len();
    let cells = matrix
        .chunks(size.max(1))
        .enumerate()
        .flat_map(|(row, weights)| {
            let weakest_kept = weakest_in_top_share(weights, options.top_share);
            let query = positions[row];
            let masked = &masked;
            let positions = &positions;
            weights.iter().enumerate().map(move |(column, &weight)| {
                if masked[query * tokens + positions[column]] {
                    Cell::Masked
                } else if weight >= weakest_kept {
                    Cell::Weight(weight)
                } else {
                    Cell::BelowShare(weight)
                }
            })
        })
        .collect();
    let labels: Vec<String> = positions.iter().map(|&p| trace.tokens[p].clone()).collect();
    Ok(AttentionGrid {
        key_positions: positions.clone(),
        key_labels: labels.clone(),
        labels,
        positions,
        cells,
        renormalised: options.hide_special,
    })
}

/// The weakest weight among the strongest of `row` that together reach `share` of the row's
/// sum (every weight at least this strong is kept, ties included); 0 keeps everything.
fn weakest_in_top_share(row: &[f32], share: f32) -> f32 {
    if share >= 1.0 {
        return f32::NEG_INFINITY;
    }
    let mut sorted = row.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let needed = sorted.iter().sum::<f32>() * share;
    let mut mass_before = 0.0;
    let mut weakest = f32::NEG_INFINITY;
    for weight in sorted {
        if mass_before >= needed {
            break;
        }
        weakest = weight;
        mass_before += weight;
    }
    weakest
}
