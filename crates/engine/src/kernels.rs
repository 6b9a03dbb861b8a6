//! Two loops `matmul` needs where candle's are slow in wasm (docs/MEASUREMENTS.md):
//!
//! - x·Wᵀ for one to four rows x and a weight W [out, in], reading W once, front to back: each
//!   of W's rows is multiplied with every row of x while it is in cache. gemm, given so few
//!   rows, runs its scalar matrix-vector code (wasm) or reads W in several streams; for an LM
//!   head (GPT-2's vocabulary matrix is 154 MB) reading W once, in order, decides the time.
//!   Natively gemm's threads are faster; the tests check one against the other.
//! - A matrix transposed into a new contiguous one, a band of rows at a time: candle's strided
//!   copy computes every element's index through a general iterator, and reading a column at a
//!   time takes each value from another cache line.
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};
use wide::f32x4;

/// Most rows [`few_rows_times_transposed`] takes.
pub const MAX_ROWS: usize = 4;

/// x·Wᵀ [rows, out] for x [rows, in] (1 ≤ rows ≤ [`MAX_ROWS`]) and W [out, in], without a
/// gradient.
pub fn few_rows_times_transposed(xs: &Tensor, weight: &Tensor) -> candle_core::Result<Tensor> {
    xs.contiguous()?
        .apply_op2_no_bwd(&weight.contiguous()?, &FewRowsTimesTransposed)
}

struct FewRowsTimesTransposed;

impl CustomOp2 for FewRowsTimesTransposed {
    fn name(&self) -> &'static str {
        "few-rows-times-transposed"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xs_layout: &Layout,
        weight: &CpuStorage,
        weight_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (rows, in_dim) = xs_layout.shape().dims2()?;
        let (out_dim, weight_in) = weight_layout.shape().dims2()?;
        let (
            CpuStorage::F32(xs),
            CpuStorage::F32(weight),
            Some((x_start, x_end)),
            Some((w_start, w_end)),
        ) = (
            xs,
            weight,
            xs_layout.contiguous_offsets(),
            weight_layout.contiguous_offsets(),
        )
        else {
            candle_core::bail!("{} expects contiguous f32 tensors", self.name())
        };
        if weight_in != in_dim || !(1..=MAX_ROWS).contains(&rows) || in_dim == 0 {
            candle_core::bail!(
                "{}: [{rows}, {in_dim}] by [{out_dim}, {weight_in}]ᵀ",
                self.name()
            )
        }
        let (xs, weight) = (&xs[x_start..x_end], &weight[w_start..w_end]);
        let product = match rows {
            1 => product::<1>(xs, weight, in_dim),
            2 => product::<2>(xs, weight, in_dim),
            3 => product::<3>(xs, weight, in_dim),
            _ => product::<4>(xs, weight, in_dim),
        };
        Ok((CpuStorage::F32(product), Shape::from((rows, out_dim))))
    }
}

/// `matrix` [rows, cols] (f32) as a new contiguous [cols, rows].
pub fn transposed(matrix: &Tensor) -> candle_core::Result<Tensor> {
    matrix.contiguous()?.apply_op1_no_bwd(&Transposed)
}

struct Transposed;

/// Rows of the input read together: each output row then gets this many adjacent values
/// (a cache line) per pass, from input rows that stay in cache.
const TRANSPOSE_BAND: usize = 16;

impl CustomOp1 for Transposed {
    fn name(&self) -> &'static str {
        "transposed"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (rows, cols) = layout.shape().dims2()?;
        let (CpuStorage::F32(values), Some((start, end))) = (storage, layout.contiguous_offsets())
        else {
            candle_core::bail!("{} expects a contiguous f32 matrix", self.name())
        };
        let mut out = Vec::with_capacity(rows * cols);
        append_transposed(&values[start..end], rows, cols, &mut out);
        Ok((CpuStorage::F32(out), Shape::from((cols, rows))))
    }
}

/// Appends `matrix` [rows, cols] (row-major) transposed, [cols, rows], to `out`.
pub fn append_transposed(matrix: &[f32], rows: usize, cols: usize, out: &mut Vec<f32>) {
    let base = out.len();
    out.resize(base + rows * cols, 0.0);
    let out = &mut out[base..];
    for band in (0..rows).step_by(TRANSPOSE_BAND) {
        let band_rows = band..(band + TRANSPOSE_BAND).min(rows);
        for col in 0..cols {
            for row in band_rows.clone() {
                out[col * rows + row] = matrix[row * cols + col];
            }
        }
    }
}

/// x·Wᵀ for exactly `R` rows of x, all slices row-major.
fn product<const R: usize>(xs: &[f32], weight: &[f32], in_dim: usize) -> Vec<f32> {
    let out_dim = weight.len() / in_dim;
    let mut out = vec![0f32; R * out_dim];
    // Eight values of each row at a time, in two sums, so consecutive adds do not wait on
    // each other; the 0–7 values left over are added one by one.
    let lanes = in_dim / 8 * 8;
    let x_rows: [&[f32]; R] = std::array::from_fn(|r| &xs[r * in_dim..(r + 1) * in_dim]);
    for (j, w) in weight.chunks_exact(in_dim).enumerate() {
        let mut low = [f32x4::ZERO; R];
        let mut high = [f32x4::ZERO; R];
        for k in (0..lanes).step_by(8) {
            let (w_low, w_high) = (quad(&w[k..]), quad(&w[k + 4..]));
            for r in 0..R {
                low[r] = quad(&x_rows[r][k..]).mul_add(w_low, low[r]);
                high[r] = quad(&x_rows[r][k + 4..]).mul_add(w_high, high[r]);
            }
        }
        for r in 0..R {
            let rest: f32 = (lanes..in_dim).map(|k| x_rows[r][k] * w[k]).sum();
            out[r * out_dim + j] = (low[r] + high[r]).reduce_add() + rest;
        }
    }
    out
}

/// The four values from `values[0]` on.
fn quad(values: &[f32]) -> f32x4 {
    bytemuck::pod_read_unaligned(bytemuck::cast_slice(&values[..4]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// Every row count, input widths with and without a remainder after the eight-value steps,
    /// and a weight that is a view (made contiguous), against candle's matmul.
    #[test]
    fn equals_candles_product() -> candle_core::Result<()> {
        let device = Device::Cpu;
        for rows in 1..=MAX_ROWS {
            for in_dim in [3, 8, 16, 29] {
                let xs = Tensor::randn(0f32, 1.0, (rows, in_dim), &device)?;
                let weight = Tensor::randn(0f32, 1.0, (in_dim, 37), &device)?.t()?;
                let expected = xs.matmul(&weight.t()?)?;
                let ours = few_rows_times_transposed(&xs, &weight)?;
                assert_eq!(ours.dims(), [rows, 37]);
                let gap = (ours - expected)?.abs()?.max_all()?.to_scalar::<f32>()?;
                assert!(gap < 1e-5, "{rows} × {in_dim}: differs by {gap}");
            }
        }
        Ok(())
    }

    #[test]
    fn transposes_like_candle() -> candle_core::Result<()> {
        // Row counts below, at and past a band, and not a multiple of it.
        for (rows, cols) in [(1, 5), (16, 3), (37, 4), (2, 1)] {
            let matrix = Tensor::randn(0f32, 1.0, (rows, cols), &Device::Cpu)?;
            let ours = transposed(&matrix)?;
            assert!(ours.is_contiguous());
            assert_eq!(
                ours.to_vec2::<f32>()?,
                matrix.t()?.contiguous()?.to_vec2::<f32>()?
            );
        }
        Ok(())
    }

    #[test]
    fn refuses_more_rows_than_it_takes() -> candle_core::Result<()> {
        let xs = Tensor::zeros((MAX_ROWS + 1, 8), candle_core::DType::F32, &Device::Cpu)?;
        let weight = Tensor::zeros((5, 8), candle_core::DType::F32, &Device::Cpu)?;
        assert!(few_rows_times_transposed(&xs, &weight).is_err());
        Ok(())
    }
}
