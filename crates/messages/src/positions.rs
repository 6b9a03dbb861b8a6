//! The positional-encoding panel's views.
use serde::{Deserialize, Serialize};

use crate::Array;

/// The position views the positional-encoding panel draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionalEncodings {
    /// Sinusoidal encoding [positions, d_model].
    pub sinusoidal: Array,
    /// Cosine similarity between its positions [positions, positions].
    pub sinusoidal_similarity: Array,
    /// The model's learned position embeddings for the first positions [rows, model d_model]
    /// (rows = positions, at most the model's maximum); `None` for rotary models, which have
    /// no position table.
    pub learned: Option<Array>,
    /// Cosine similarity between the learned rows.
    pub learned_similarity: Option<Array>,
}

/// What the positional-encoding panel shows for a rotary (RoPE) model, from the model's θ and one
/// real query and key of the trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RotaryView {
    /// θ^(−2i/d_head) for each pair i: the angle in radians pair i turns per position.
    pub inverse_frequencies: Vec<f32>,
    /// The query's fastest pair (i = 0) and slowest pair (i = d_head/2 − 1) as the query would
    /// be rotated at positions 0..positions: [positions, 4] = (x₀, y₀, x_slow, y_slow).
    pub pair_rotation: Array,
    /// The score q·k/√d_head with the query placed at position m (rows) and the key at n
    /// (columns), [positions, positions]: constant along every diagonal, because it depends only
    /// on m − n.
    pub relative_scores: Array,
}
