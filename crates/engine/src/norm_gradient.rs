//! LayerNorm and RMSNorm on saliency's gradient path. The forward is the trace's one-pass op;
//! this op puts its output on the gradient graph of x, with a backward of one pass per row,
//! rows cut into blocks side by side. Handed the composed ops, candle's backward would make a
//! dozen passes over x on one thread.
//!
//! With x̂ = (x − μ)/σ (LayerNorm; RMSNorm: μ = 0 and σ the root mean square), y = γ·x̂ + β and
//! g' = γ ⊙ dy, per row of d values:
//!   LayerNorm: dx = (g' − mean(g') − x̂·mean(g' ⊙ x̂)) / σ
//!   RMSNorm:   dx = (g' − x̂·mean(g' ⊙ x̂)) / σ
use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};

use super::parallel::by_blocks;
use super::values::{computed_output, with_values_of_two};

/// How a row is normalised.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Centring {
    /// (x − mean)/σ: LayerNorm.
    Mean,
    /// x/rms: RMSNorm.
    None,
}

/// `output`, the norm of `xs` [.., d] with scale `weight` [d] computed off the gradient path,
/// with `xs` as the input of its gradient. `weight` and any shift are frozen: no gradient.
pub(crate) fn on_gradient_path(
    xs: &Tensor,
    output: &Tensor,
    weight: &Tensor,
    centring: Centring,
    eps: f32,
) -> candle_core::Result<Tensor> {
    xs.contiguous()?.apply_op1(NormGradient {
        output: output.clone(),
        weight: weight.to_vec1::<f32>()?,
        centring,
        eps,
    })
}

/// The op behind [`on_gradient_path`].
struct NormGradient {
    output: Tensor,
    weight: Vec<f32>,
    centring: Centring,
    eps: f32,
}

impl CustomOp1 for NormGradient {
    fn name(&self) -> &'static str {
        "norm-gradient"
    }

    /// The output already computed: the op only adds the backward.
    fn cpu_fwd(
        &self,
        _xs: &CpuStorage,
        _layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        computed_output(&self.output)
    }

    fn bwd(
        &self,
        xs: &Tensor,
        _output: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let d = self.weight.len();
        let blocks = with_values_of_two(self.name(), xs, &grad.contiguous()?, |x, g| {
            if d == 0 || x.len() % d != 0 {
                candle_core::bail!("norm-gradient: {} values in rows of {d}", x.len())
            }
            by_blocks(x.len() / d, 1, |first, n| {
                let (x, g) = (&x[first * d..][..n * d], &g[first * d..][..n * d]);
                let mut dx = Vec::with_capacity(n * d);
                for (x, g) in x.chunks_exact(d).zip(g.chunks_exact(d)) {
                    self.row_gradient(x, g, &mut dx);
                }
                Ok(dx)
            })
        })?;
        Tensor::from_vec(blocks.concat(), xs.shape(), xs.device()).map(Some)
    }
}

impl NormGradient {
    /// Appends dx of one row x from its output gradient g.
    fn row_gradient(&self, x: &[f32], g: &[f32], dx: &mut Vec<f32>) {
        let d = x.len() as f32;
        let mean = match self.centring {
            Centring::Mean => x.iter().sum::<f32>() / d,
            Centring::None => 0.0,
        };
        let variance = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / d;
        let inverse_sigma = 1.0 / (variance + self.eps).sqrt();
        let normalised = |i: usize| (x[i] - mean) * inverse_sigma;
        let scaled = |i: usize| g[i] * self.weight[i];
        let (mut sum_scaled, mut sum_scaled_normalised) = (0.0f32, 0.0f32);
        for i in 0..x.len() {
            sum_scaled += scaled(i);
            sum_scaled_normalised += scaled(i) * normalised(i);
        }
        let mean_scaled = match self.centring {
            Centring::Mean => sum_scaled / d,
            Centring::None => 0.0,
        };
        let mean_scaled_normalised = sum_scaled_normalised / d;
        dx.extend((0..x.len()).map(|i| {
            (scaled(i) - mean_scaled - normalised(i) * mean_scaled_normalised) * inverse_sigma
        }));
    }
}
