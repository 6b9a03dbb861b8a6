//! Loops where candle's are slow in wasm (docs/MEASUREMENTS.md):
//!
//! - x·Wᵀ for one to four rows x and a weight W [out, in], reading W once, front to back: each
//!   of W's rows is multiplied with every row of x while it is in cache. gemm, given so few
//!   rows, runs its scalar matrix-vector code (wasm) or reads W in several streams; for an LM
//!   head (GPT-2's vocabulary matrix is 154 MB) reading W once, in order, decides the time.
//!   Natively gemm's threads are faster; the tests check one against the other.
//! - A matrix transposed into a new contiguous one, a band of rows at a time: candle's strided
//!   copy computes every element's index through a general iterator, and reading a column at a
//!   time takes each value from another cache line.
//! - Attention's softmax over the keys: exp four values at a time (wide's, within an ulp of
//!   libm's; wasm's scalar `expf` is a call per value), and a causal mask applied in the same
//!   pass (masking first writes a tensor of −∞, a mask and the masked copy of the scores).
use candle_core::cpu::kernels::VecOps;
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

/// Softmax over the keys of scores [.., query, key], each row summing to 1. With `causal`,
/// every key after its query is hidden (weight exactly 0, as for a score of −∞); with more keys
/// than queries the queries are the last positions.
pub fn softmax_over_keys(scores: &Tensor, causal: bool) -> candle_core::Result<Tensor> {
    scores
        .contiguous()?
        .apply_op1_no_bwd(&SoftmaxOverKeys { causal })
}

struct SoftmaxOverKeys {
    causal: bool,
}

impl CustomOp1 for SoftmaxOverKeys {
    fn name(&self) -> &'static str {
        "softmax-over-keys"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let dims = layout.shape().dims();
        let (CpuStorage::F32(values), Some((start, end)), [.., n_queries, n_keys]) =
            (storage, layout.contiguous_offsets(), dims)
        else {
            candle_core::bail!(
                "{} expects contiguous f32 scores [.., query, key]",
                self.name()
            )
        };
        let (n_queries, n_keys) = (*n_queries, *n_keys);
        if self.causal && n_queries > n_keys {
            candle_core::bail!("{}: {n_queries} queries, {n_keys} keys", self.name())
        }
        let mut weights = vec![0f32; end - start];
        if n_keys > 0 {
            let rows = values[start..end].chunks_exact(n_keys);
            for (row, (scores, weights)) in rows.zip(weights.chunks_exact_mut(n_keys)).enumerate() {
                // Query i is position earlier + i, with n_keys − n_queries earlier positions.
                let visible = match self.causal {
                    true => n_keys - n_queries + row % n_queries + 1,
                    false => n_keys,
                };
                softmax_row(scores, visible, weights);
            }
        }
        Ok((CpuStorage::F32(weights), layout.shape().clone()))
    }
}

/// One row of [`softmax_over_keys`]: `weights` (zeros) gets the softmax of the first `visible`
/// scores, the rest left 0.
fn softmax_row(scores: &[f32], visible: usize, weights: &mut [f32]) {
    let seen = &scores[..visible];
    let max = seen[1..].iter().fold(seen[0], |max, &s| max.max(s));
    exp_minus(seen, max, &mut weights[..visible]);
    let mut sum = 0f32;
    // SAFETY: `weights` holds `weights.len()` values and `sum` is a valid f32.
    unsafe { <f32 as VecOps>::vec_reduce_sum(weights.as_ptr(), &mut sum, weights.len()) };
    for weight in weights.iter_mut() {
        *weight /= sum;
    }
}

/// e^(score − max) of each score into `out`, four at a time, the last 1–3 too (padded): every
/// value goes through the same exp, wherever it stands in the row.
fn exp_minus(scores: &[f32], max: f32, out: &mut [f32]) {
    let max = f32x4::splat(max);
    let mut quads = scores.chunks_exact(4);
    let mut outs = out.chunks_exact_mut(4);
    for (scores, out) in (&mut quads).zip(&mut outs) {
        out.copy_from_slice(&(quad(scores) - max).exp().to_array());
    }
    let (rest, out) = (quads.remainder(), outs.into_remainder());
    if !rest.is_empty() {
        let mut padded = [0f32; 4];
        padded[..rest.len()].copy_from_slice(rest);
        out.copy_from_slice(&(f32x4::from(padded) - max).exp().to_array()[..rest.len()]);
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

    /// Scores [heads, queries, keys] from a normal distribution with standard deviation 4 (so
    /// weights range from near 1 to near 0), as a view.
    fn spread_scores(heads: usize, queries: usize, keys: usize) -> candle_core::Result<Tensor> {
        Tensor::randn(0f32, 4.0, (heads, keys, queries), &Device::Cpu)?.t()
    }

    /// Shapes with one query per key, queries after earlier keys, one query, one key, and rows
    /// of 1–3 values past a multiple of four.
    const SHAPES: [(usize, usize, usize); 6] = [
        (1, 1, 1),
        (3, 7, 7),
        (2, 5, 40),
        (2, 1, 37),
        (4, 33, 33),
        (1, 6, 2),
    ];

    /// Within a millionth of the softmax computed in f64, hidden keys exactly 0.
    #[test]
    fn softmax_over_keys_is_the_softmax() -> candle_core::Result<()> {
        for (heads, queries, keys) in SHAPES {
            for causal in [false, true].into_iter().filter(|&c| !c || queries <= keys) {
                let scores = spread_scores(heads, queries, keys)?;
                let ours = softmax_over_keys(&scores, causal)?.to_vec3::<f32>()?;
                let rows = scores.to_vec3::<f32>()?.into_iter().flatten();
                for (row, (scores, ours)) in rows.zip(ours.into_iter().flatten()).enumerate() {
                    let visible = match causal {
                        true => keys - queries + row % queries + 1,
                        false => keys,
                    };
                    let seen = &scores[..visible];
                    let max = seen.iter().fold(f64::MIN, |m, &s| m.max(s as f64));
                    let sum: f64 = seen.iter().map(|&s| (s as f64 - max).exp()).sum();
                    for (key, &weight) in ours.iter().enumerate() {
                        let exact = match key < visible {
                            true => (scores[key] as f64 - max).exp() / sum,
                            false => 0.0,
                        };
                        let gap = (weight as f64 - exact).abs();
                        assert!(
                            gap <= 1e-6 && (key < visible || weight == 0.0),
                            "{heads}×{queries}×{keys} causal {causal}: row {row} key {key} \
                             is {weight}, not {exact}"
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// The causal softmax of the scores is bitwise the softmax of the scores masked with −∞
    /// (what the toy sandbox and a model with padding compute).
    #[test]
    fn causal_softmax_is_the_softmax_of_the_masked_scores() -> candle_core::Result<()> {
        for (heads, queries, keys) in SHAPES.into_iter().filter(|&(_, q, k)| q <= k) {
            let scores = spread_scores(heads, queries, keys)?;
            let masked = crate::attention::causal_mask(&scores)?;
            let bits = |t: Tensor| -> candle_core::Result<Vec<u32>> {
                Ok(t.flatten_all()?
                    .to_vec1::<f32>()?
                    .iter()
                    .map(|w| w.to_bits())
                    .collect())
            };
            let causal = bits(softmax_over_keys(&scores, true)?)?;
            let of_masked = bits(softmax_over_keys(&masked, false)?)?;
            let differs = causal.iter().zip(&of_masked).position(|(a, b)| a != b);
            assert_eq!(
                differs, None,
                "{heads}×{queries}×{keys}: first differing weight"
            );
        }
        Ok(())
    }

    #[test]
    fn causal_softmax_refuses_more_queries_than_keys() -> candle_core::Result<()> {
        let scores = Tensor::zeros((2, 3, 2), candle_core::DType::F32, &Device::Cpu)?;
        assert!(softmax_over_keys(&scores, true).is_err());
        assert!(softmax_over_keys(&scores, false).is_ok());
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
