//! One attention matrix made ready to draw: one head or the average of a layer's heads, with
//! special tokens optionally hidden (and the rows renormalised), and optionally only the keys
//! that carry the top share of each query's attention.
use candle_core::{DType, Device, Tensor};

use crate::engine::{Result, Trace};

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
pub fn hidden_positions(trace: &Trace, special: &[bool]) -> Vec<usize> {
    (0..trace.tokens.len())
        .filter(|&i| special.get(i).copied().unwrap_or(false) || (trace.causal && i == 0))
        .collect()
}

/// The attention grid of one head (or the layer's head average) as the options ask.
pub fn attention_grid(
    trace: &Trace,
    special: &[bool],
    layer: usize,
    head: usize,
    options: GridOptions,
) -> Result<AttentionGrid> {
    let [_, heads, tokens, _] = trace.attentions.shape[..] else {
        return Err(crate::engine::EngineError::Input(
            "the trace has no attention matrix".into(),
        ));
    };
    let layers = trace.attentions.shape[0];
    if layer >= layers || head >= heads {
        return Err(crate::engine::EngineError::Input(format!(
            "layer {} head {} does not exist: the model has {layers} layers of {heads} heads",
            layer + 1,
            head + 1
        )));
    }
    let device = Device::Cpu;
    let head_size = tokens * tokens;
    let layer_start = layer * heads * head_size;
    let mut matrix = if options.average_heads {
        let layer_data = &trace.attentions.data[layer_start..layer_start + heads * head_size];
        Tensor::from_slice(layer_data, (heads, tokens, tokens), &device)?.mean(0)?
    } else {
        let start = layer_start + head * head_size;
        Tensor::from_slice(
            &trace.attentions.data[start..start + head_size],
            (tokens, tokens),
            &device,
        )?
    };
    // Which keys the causal mask removed (the same for every head).
    let mask_start = layer_start
        + if options.average_heads {
            0
        } else {
            head * head_size
        };
    let masked: Vec<bool> = trace.masked_scores.data[mask_start..mask_start + head_size]
        .iter()
        .map(|&score| score == f32::NEG_INFINITY)
        .collect();

    let mut positions: Vec<usize> = (0..tokens).collect();
    let renormalised = options.hide_special;
    if options.hide_special {
        let hidden = hidden_positions(trace, special);
        positions.retain(|p| !hidden.contains(p));
        if positions.is_empty() {
            return Ok(AttentionGrid {
                positions,
                labels: Vec::new(),
                cells: Vec::new(),
                renormalised,
            });
        }
        let index = Tensor::new(
            positions.iter().map(|&p| p as u32).collect::<Vec<_>>(),
            &device,
        )?;
        matrix = matrix.index_select(&index, 0)?.index_select(&index, 1)?;
        let row_sums = matrix.sum_keepdim(1)?.clamp(f32::MIN_POSITIVE, f32::MAX)?;
        matrix = matrix.broadcast_div(&row_sums)?;
    }
    let keep = if options.top_share < 1.0 {
        Some(top_share_mask(&matrix, options.top_share)?)
    } else {
        None
    };

    let size = positions.len();
    let values = matrix.flatten_all()?.to_vec1::<f32>()?;
    let keep = match keep {
        Some(mask) => mask.flatten_all()?.to_vec1::<u8>()?,
        None => vec![1; size * size],
    };
    let cells = (0..size * size)
        .map(|cell| {
            let (row, column) = (positions[cell / size], positions[cell % size]);
            if masked[row * tokens + column] {
                Cell::Masked
            } else if keep[cell] == 1 {
                Cell::Weight(values[cell])
            } else {
                Cell::BelowShare(values[cell])
            }
        })
        .collect();
    Ok(AttentionGrid {
        labels: positions.iter().map(|&p| trace.tokens[p].clone()).collect(),
        positions,
        cells,
        renormalised,
    })
}

/// 1 where a weight is among the strongest of its row that together reach `share` of the row's
/// sum, else 0 (ties with the weakest kept weight are kept too).
fn top_share_mask(matrix: &Tensor, share: f32) -> Result<Tensor> {
    let order = matrix.arg_sort_last_dim(false)?;
    let sorted = matrix.gather(&order, 1)?;
    let row_sums = sorted.sum_keepdim(1)?;
    // The mass of the stronger weights before each one; a weight is kept while that is short of
    // the share.
    let mass_before = (sorted.cumsum(1)? - &sorted)?;
    let needed = (row_sums * share as f64)?;
    let kept_sorted = mass_before.broadcast_lt(&needed)?;
    let infinity = Tensor::full(f32::INFINITY, sorted.shape(), sorted.device())?;
    let weakest_kept = kept_sorted.where_cond(&sorted, &infinity)?.min_keepdim(1)?;
    Ok(matrix.broadcast_ge(&weakest_kept)?.to_dtype(DType::U8)?)
}
