//! Attention's heads on saliency's gradient path. The forward is the trace's own (blocks of
//! heads side by side, `attention.rs`); this op puts its head outputs on the gradient graph of
//! q, k and v, with a backward cut into the same blocks of heads. Handed the composed ops,
//! candle's backward would run every head's softmax and products on one thread.
//!
//! With P = softmax(S), S = QKᵀ·s + B + M and O = P·V, for one head and the gradient dO:
//!   dV = Pᵀ·dO,  dP = dO·Vᵀ,  dS = P ⊙ (dP − rowsum(dP ⊙ P)),  dQ = dS·K·s,  dK = dSᵀ·Q·s.
//! Masked scores have P = 0, so their dS is 0: no gradient reaches a key a query does not see.
use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor, D};

use super::parallel::by_head_blocks;
use super::values::computed_output;

/// `head_outputs` [heads, query, d_head], computed off the gradient path as `weights`
/// [heads, query, key] · v, with q [heads, query, d_head] and k, v [heads, key, d_head] as the
/// inputs of its gradient. `scale` is the factor of QKᵀ (1/√d_head; 1 when not scaled). A bias
/// B must not depend on the input: its gradient is not computed.
pub(crate) fn on_gradient_path(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    weights: &Tensor,
    head_outputs: &Tensor,
    scale: f64,
) -> candle_core::Result<Tensor> {
    q.apply_op3(
        k,
        v,
        AttentionHeads {
            weights: weights.clone(),
            head_outputs: head_outputs.clone(),
            scale,
        },
    )
}

/// The op behind [`on_gradient_path`]: it keeps the forward's weights P for the backward.
struct AttentionHeads {
    weights: Tensor,
    head_outputs: Tensor,
    scale: f64,
}

impl CustomOp3 for AttentionHeads {
    fn name(&self) -> &'static str {
        "attention-heads"
    }

    /// The head outputs already computed: the op only adds the backward.
    fn cpu_fwd(
        &self,
        _q: &CpuStorage,
        _q_layout: &Layout,
        _k: &CpuStorage,
        _k_layout: &Layout,
        _v: &CpuStorage,
        _v_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        computed_output(&self.head_outputs)
    }

    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        _head_outputs: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let [dq, dk, dv] =
            by_head_blocks(q.dim(0)?, [q.dims(), k.dims(), v.dims()], |first, n| {
                let head = |t: &Tensor| t.narrow(0, first, n);
                self.head_gradients(&head(q)?, &head(k)?, &head(v)?, &head(&grad)?, first, n)
            })?;
        Ok((Some(dq), Some(dk), Some(dv)))
    }
}

impl AttentionHeads {
    /// [dQ, dK, dV] of heads first..first + n, from their q, k, v and output gradient dO.
    fn head_gradients(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        grad: &Tensor,
        first: usize,
        n: usize,
    ) -> candle_core::Result<[Tensor; 3]> {
        let p = self.weights.narrow(0, first, n)?;
        let dv = p.t()?.matmul(grad)?;
        let dp = grad.matmul(&v.t()?)?;
        let row_sums = (&dp * &p)?.sum_keepdim(D::Minus1)?;
        let ds = ((dp.broadcast_sub(&row_sums))? * &p)?;
        let d_dot = (ds * self.scale)?;
        let dq = d_dot.matmul(k)?;
        let dk = d_dot.t()?.matmul(q)?;
        Ok([dq, dk, dv])
    }
}
