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

/// A query × key matrix over the shown token positions.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionGrid {
    /// The token positions shown, for rows (queries) and columns (keys) alike.
    pub positions: Vec<usize>,
    /// The token text at each shown position.
    pub labels: Vec<String>,
    /// Row-major cells, `positions.len()` squared.
    pub cells: Vec<Cell>,
    /// Whether rows were renormalised after hiding tokens.
    pub renormalised: bool,
}

impl AttentionGrid {
    /// Number of rows (and columns).
    pub fn size(&self) -> usize {
        self.positions.len()
    }

    /// The cell at a row and column of the grid (not token positions).
    pub fn cell(&self, row: usize, column: usize) -> Cell {
        self.cells[row * self.size() + column]
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
    let mut matrix: Vec<f32> = if options.average_heads {
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
    Ok(AttentionGrid {
        labels: positions.iter().map(|&p| trace.tokens[p].clone()).collect(),
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
