//! The sinusoidal positional encoding of "Attention Is All You Need":
//! PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)).
use candle_core::{DType, Device, Tensor};

use super::error::{EngineError, Result};
use super::trace::to_array;
use ae_messages::{Array, PositionalEncodings, RotaryView};

/// The encoding for positions 0..`positions` and `d_model` dimensions, as [positions, d_model].
pub fn sinusoidal_position_encoding(positions: usize, d_model: usize) -> Result<Array> {
    if positions == 0 || d_model == 0 {
        return Err(EngineError::bad_request(
            "positions and d_model must both be at least 1",
        ));
    }
    to_array(&sinusoidal_table(positions, d_model)?)
}

/// Marian's table: the paper's sines and cosines with the columns reordered — every sine
/// (columns 0, 2, 4 … of the paper's) first, then every cosine (columns 1, 3, 5 …), as
/// transformers' `MarianSinusoidalPositionalEmbedding` lays them out [positions, d_model].
pub(crate) fn sines_then_cosines(positions: usize, d_model: usize) -> candle_core::Result<Tensor> {
    let paper = sinusoidal_table(positions, d_model)?;
    let order: Vec<u32> = (0..d_model as u32)
        .step_by(2)
        .chain((1..d_model as u32).step_by(2))
        .collect();
    paper.index_select(&Tensor::new(order, &Device::Cpu)?, 1)
}

/// The paper's table [positions, d_model] in f32, computed in f64.
fn sinusoidal_table(positions: usize, d_model: usize) -> candle_core::Result<Tensor> {
    let device = Device::Cpu;
    let pairs = d_model.div_ceil(2);
    // 10000^(-2i/d) for each pair i, and the angle pos·10000^(-2i/d) for every position.
    let pair_index = Tensor::arange(0u32, pairs as u32, &device)?.to_dtype(DType::F64)?;
    let inverse_frequency = (pair_index * (-2.0 * 10000f64.ln() / d_model as f64))?.exp()?;
    let position = Tensor::arange(0u32, positions as u32, &device)?.to_dtype(DType::F64)?;
    let angle = position
        .unsqueeze(1)?
        .broadcast_mul(&inverse_frequency.unsqueeze(0)?)?;
    let interleaved =
        Tensor::stack(&[angle.sin()?, angle.cos()?], 2)?.reshape((positions, 2 * pairs))?;
    interleaved.narrow(1, 0, d_model)?.to_dtype(DType::F32)
}

/// Cosine similarity between every pair of rows of a [rows, d] table, as [rows, rows].
pub fn cosine_similarity(table: &Array) -> Result<Array> {
    let [rows, width] = table.shape[..] else {
        return Err(EngineError::bad_request(format!(
            "cosine similarity needs a [rows, d] table, not {:?}",
            table.shape
        )));
    };
    let vectors = Tensor::from_slice(&table.data, (rows, width), &Device::Cpu)?;
    let norms = vectors
        .sqr()?
        .sum_keepdim(1)?
        .sqrt()?
        .clamp(f32::MIN_POSITIVE, f32::MAX)?;
    let unit = vectors.broadcast_div(&norms)?;
    to_array(&unit.matmul(&unit.t()?)?)
}

/// The sinusoidal encoding for `positions` × `d_model`, the first `positions` rows of the
/// model's learned `table` (if it has one), and each one's cosine similarity.
pub fn positional_encodings(
    positions: usize,
    d_model: usize,
    table: Option<&Array>,
) -> Result<PositionalEncodings> {
    let sinusoidal = sinusoidal_position_encoding(positions, d_model)?;
    let learned = table.map(|table| {
        let rows = positions.min(table.shape[0]);
        let width = table.shape[1];
        Array {
            shape: vec![rows, width],
            data: table.data[..rows * width].to_vec(),
        }
    });
    Ok(PositionalEncodings {
        sinusoidal_similarity: cosine_similarity(&sinusoidal)?,
        learned_similarity: learned.as_ref().map(cosine_similarity).transpose()?,
        sinusoidal,
        learned,
    })
}

/// The RoPE view for a head of width `d_head` with base `theta`, from the trace's rotated
/// query (at `query_position`) and key (at `key_position`): both are rotated back to position 0
/// and then placed at every position 0..`positions`.
pub fn rotary_view(
    theta: f64,
    positions: usize,
    query: &[f32],
    query_position: usize,
    key: &[f32],
    key_position: usize,
) -> Result<RotaryView> {
    let d_head = query.len();
    if d_head < 2 || !d_head.is_multiple_of(2) || key.len() != d_head || positions == 0 {
        return Err(EngineError::bad_request(format!(
            "a rotary view needs a query and key of the same even width and ≥ 1 position, not \
             {} / {} and {positions}",
            query.len(),
            key.len()
        )));
    }
    let rotary = crate::Rotary { theta, d_head };
    let device = Device::Cpu;
    // Rotating by −angle undoes the rotation: rope with sin negated.
    let unrotate = |vector: &[f32], position: usize| -> Result<Tensor> {
        let (cos, sin) = rotary.cos_sin(position..position + 1)?;
        let sin = sin.neg()?;
        let vector = Tensor::from_slice(vector, (1, 1, 1, d_head), &device)?;
        Ok(candle_nn::rotary_emb::rope_slow(&vector, &cos, &sin)?.reshape((1, d_head))?)
    };
    let at_every_position = |vector: &Tensor| -> Result<Tensor> {
        let repeated = vector.broadcast_as((positions, d_head))?.contiguous()?;
        Ok(rotary.rotate(&repeated.unsqueeze(0)?, 0)?.squeeze(0)?)
    };
    let queries = at_every_position(&unrotate(query, query_position)?)?;
    let keys = at_every_position(&unrotate(key, key_position)?)?;
    let relative_scores = (queries.matmul(&keys.t()?)? / (d_head as f64).sqrt())?;
    let half = d_head / 2;
    let pair_rotation = Tensor::cat(
        &[
            queries.narrow(1, 0, 1)?,
            queries.narrow(1, half, 1)?,
            queries.narrow(1, half - 1, 1)?,
            queries.narrow(1, d_head - 1, 1)?,
        ],
        1,
    )?;
    Ok(RotaryView {
        inverse_frequencies: (0..half)
            .map(|i| (1.0 / theta.powf(2.0 * i as f64 / d_head as f64)) as f32)
            .collect(),
        pair_rotation: to_array(&pair_rotation)?,
        relative_scores: to_array(&relative_scores)?,
    })
}
