//! The sinusoidal positional encoding of "Attention Is All You Need":
//! PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)).
use candle_core::{DType, Device, Tensor};

use super::error::{EngineError, Result};
use super::trace::Array;

/// The encoding for positions 0..`positions` and `d_model` dimensions, as [positions, d_model].
pub fn sinusoidal_position_encoding(positions: usize, d_model: usize) -> Result<Array> {
    if positions == 0 || d_model == 0 {
        return Err(EngineError::Input(
            "positions and d_model must both be at least 1".into(),
        ));
    }
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
    Array::from_tensor(&interleaved.narrow(1, 0, d_model)?.to_dtype(DType::F32)?)
}
