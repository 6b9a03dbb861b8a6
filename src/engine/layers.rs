//! Small building blocks shared by the architectures. The same forward serves traces and
//! saliency: on a gradient path (`track_op`) every op has a backward pass, and only where no
//! gradient flows does a layer take candle-nn's fused one-pass ops, which have none.
use candle_core::{CpuStorage, CustomOp1, Device, Layout, Module, Shape, Tensor};
use candle_nn::VarBuilder;

/// LayerNorm over the last dimension, differentiable.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl LayerNorm {
    /// Loads `weight` and `bias` (or `gamma` and `beta`) of size `size`.
    pub fn load(vb: VarBuilder, size: usize, eps: f64) -> candle_core::Result<Self> {
        Ok(LayerNorm {
            weight: vb.get(size, "weight")?,
            bias: vb.get(size, "bias")?,
            eps: eps as f32,
        })
    }

    /// Normalises each row to zero mean and unit variance, then scales and shifts: on a gradient
    /// path as composed ops (they have a backward pass), otherwise as candle-nn's one-pass op.
    pub fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        if xs.track_op() {
            candle_nn::ops::layer_norm_slow(xs, &self.weight, &self.bias, self.eps)
        } else {
            candle_nn::ops::layer_norm(&xs.contiguous()?, &self.weight, &self.bias, self.eps)
        }
    }
}

/// How a [`Linear`] layer's weight is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WeightLayout {
    /// [out, in], like PyTorch's `nn.Linear`: y = x·Wᵀ.
    OutIn,
    /// [in, out]: y = x·W (the LM heads, whose vocabulary matrix the checkpoint stores so).
    InOut,
}

/// A linear layer y = x·Wᵀ + b with W stored [out, in], like PyTorch's `nn.Linear` (or y = x·W
/// with W stored [in, out], see [`Linear::in_out`]).
///
/// Unlike `candle_nn::Linear`, its backward pass computes only the input's gradient: candle's
/// matmul backward also computes and keeps a weight-sized gradient for the frozen weight, which
/// saliency never reads (for GPT-2 small that is 124M floats and most of the backward's time).
#[derive(Debug, Clone)]
pub struct Linear {
    weight: Tensor,
    layout: WeightLayout,
    bias: Option<Tensor>,
}

impl Linear {
    /// A layer from its weight [out, in] and optional bias [out].
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> Self {
        Linear {
            weight,
            layout: WeightLayout::OutIn,
            bias,
        }
    }

    /// A layer from its weight stored [in, out] and optional bias [out].
    pub fn in_out(weight: Tensor, bias: Option<Tensor>) -> Self {
        Linear {
            weight,
            layout: WeightLayout::InOut,
            bias,
        }
    }

    /// Output `index` alone for rows x [rows, in]: [rows, 1], differentiable in x. Saliency
    /// differentiates one logit, and this is one column of the head instead of all of them
    /// (and of the whole head's backward).
    pub fn forward_one_output(&self, xs: &Tensor, index: usize) -> candle_core::Result<Tensor> {
        let weights = match self.layout {
            WeightLayout::OutIn => self.weight.narrow(0, index, 1)?.t()?.contiguous()?,
            WeightLayout::InOut => self.weight.narrow(1, index, 1)?.contiguous()?,
        };
        let product = xs.matmul(&weights)?;
        match &self.bias {
            Some(bias) => product.broadcast_add(&bias.narrow(0, index, 1)?),
            None => Ok(product),
        }
    }

    /// The layer on columns: given xᵀ [in, rows], returns yᵀ = W·xᵀ + b [out, rows], contiguous
    /// — the weight-first product without transposing it back to rows (see [`takes_columns`]).
    pub fn forward_columns(&self, xs_t: &Tensor) -> candle_core::Result<Tensor> {
        if xs_t.track_op() || self.layout != WeightLayout::OutIn {
            // Not used so (see [`takes_columns`]), but correct: the row product, transposed.
            return self.forward(&xs_t.t()?)?.t()?.contiguous();
        }
        weight_first_product(&self.weight, xs_t, self.bias.as_ref(), WEIGHT_ROW_STRIDE)
    }
}

/// Whether layers should pass `xs` [rows, d] between them as columns ([`Linear::forward_columns`]):
/// off the gradient path and for as many rows as [`rows_times_transposed`] multiplies
/// weight-first. Each weight-first product would otherwise be copied back to rows, a strided
/// copy as large as its output (GPT-2 small, 32 tokens, Node: ~2.5 % of a trace).
pub fn takes_columns(xs: &Tensor) -> bool {
    let rows = xs.dims().iter().rev().skip(1).product::<usize>();
    !xs.track_op() && (2..=MAX_WEIGHT_FIRST_ROWS).contains(&rows)
}

/// The MLP `mlp_out(activation(mlp_in(x)))` for rows x [tokens, d_model]: its output [tokens,
/// d_model] and the hidden activations [tokens, d_ff] (views of columns when
/// [`takes_columns`]: the d_ff-wide hidden layer then never goes back to rows).
pub fn mlp(
    xs: &Tensor,
    mlp_in: &Linear,
    mlp_out: &Linear,
    activation: impl Fn(&Tensor) -> candle_core::Result<Tensor>,
) -> candle_core::Result<(Tensor, Tensor)> {
    if takes_columns(xs) {
        let activations = activation(&mlp_in.forward_columns(&xs.t()?)?)?;
        let output = mlp_out.forward_columns(&activations)?;
        return Ok((output.t()?, activations.t()?));
    }
    let activations = activation(&mlp_in.forward(xs)?)?;
    Ok((mlp_out.forward(&activations)?, activations))
}

impl Module for Linear {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let product = frozen_weight_product(xs, &self.weight, self.layout)?;
        match &self.bias {
            Some(bias) => product.broadcast_add(bias),
            None => Ok(product),
        }
    }
}

/// x·Wᵀ (W [out, in]) or x·W (W [in, out]) for x [.., in] and a frozen weight W. When x is part
/// of a gradient graph the product is a custom op whose backward returns x's gradient (grad·W
/// or grad·Wᵀ) and nothing for W.
fn frozen_weight_product(
    xs: &Tensor,
    weight: &Tensor,
    layout: WeightLayout,
) -> candle_core::Result<Tensor> {
    if xs.track_op() {
        xs.contiguous()?.apply_op1(FrozenWeightMatmul {
            weight: weight.clone(),
            layout,
        })
    } else {
        plain_product(xs, weight, layout)
    }
}

/// The product without a gradient, with the leading dimensions of x flattened into rows.
fn plain_product(
    xs: &Tensor,
    weight: &Tensor,
    layout: WeightLayout,
) -> candle_core::Result<Tensor> {
    let mut dims = xs.dims().to_vec();
    let in_dim = dims.pop().unwrap_or(0);
    let rows_of_x = xs.reshape((dims.iter().product::<usize>(), in_dim))?;
    let (product, out_dim) = match layout {
        WeightLayout::OutIn => (rows_times_transposed(&rows_of_x, weight)?, weight.dim(0)?),
        WeightLayout::InOut => (rows_of_x.matmul(weight)?, weight.dim(1)?),
    };
    dims.push(out_dim);
    product.reshape(dims)
}

/// Sets up candle's matmul (gemm) for this engine; cheap, and every model load calls it.
///
/// In wasm, gemm is told to pack its left operand (into MR-row panels) even when that operand is
/// already column-major, as soon as the product has more than 4 columns (gemm's default: more than
/// 32). gemm sees every row-major product transposed, so this operand is the weight in the
/// backward pass's grad·W (W [out, in]): unpacked, each step of the kernel reads 8 floats, half
/// a cache line, from a row 3–12 KB away. In Node's V8, 32 × 768 × 3072 in that order took 5.3
/// instead of 13.3 ms and GPT-2 small's 32-token saliency 456 instead of 607 ms, with the trace
/// unchanged (2026-12-03). Natively gemm's own choice is kept.
pub fn tune_matmul() {
    #[cfg(target_arch = "wasm32")]
    gemm::set_lhs_packing_threshold_single_thread(1);
}

/// Up to this many rows [`rows_times_transposed`] multiplies weight-first: measured faster at 8
/// and 32 rows, mixed at 128, slower at 512; 64 is a guess between the measured 32 and 128.
const MAX_WEIGHT_FIRST_ROWS: usize = 64;

/// x·Wᵀ for rows x [rows, in] and W [out, in], without a gradient.
///
/// For a few rows it is computed weight-first, (W·xᵀ)ᵀ: gemm works column-major, and handed
/// x·Wᵀ it re-packs the whole weight on every call, while W·xᵀ lets it read W in place and pack
/// only the small x. With many rows packing pays for itself and x·Wᵀ is faster (BENCHMARKS.md's
/// floor table times both orders per shape: weight-first wins at 8 and 32 rows, loses at 512).
fn rows_times_transposed(rows_of_x: &Tensor, weight: &Tensor) -> candle_core::Result<Tensor> {
    let (rows, in_dim) = rows_of_x.dims2()?;
    if rows == 1 && cfg!(target_arch = "wasm32") {
        // gemm gives a one-row product to its matrix-vector routine, which in wasm is scalar
        // code; with zero rows added it runs on the SIMD microkernel and still reads W once.
        // Measured on GPT-2's 1 × 768 × 50257 LM head when it was stored [vocab, d_model], W
        // cold, in Node's V8: 38.0 → 22.1 ms (4 rows; 2 rows 22.6), 2026-12-03. It now serves
        // one-row products such as DistilBERT's MLM transform and Llama's head (the checkpoint
        // stores the other heads [d_model, vocab]: x·E runs 14.4 ms).
        let padding = Tensor::zeros((3, in_dim), rows_of_x.dtype(), rows_of_x.device())?;
        let padded = Tensor::cat(&[rows_of_x, &padding], 0)?;
        weight_first_product(weight, &padded.t()?, None, WEIGHT_ROW_STRIDE)?
            .t()?
            .narrow(0, 0, 1)
    } else if rows <= MAX_WEIGHT_FIRST_ROWS {
        weight_first_product(weight, &rows_of_x.t()?, None, WEIGHT_ROW_STRIDE)?.t()
    } else {
        rows_of_x.matmul(&weight.t()?)
    }
}

/// How many products [`weight_first_product`] splits W·xᵀ into in wasm: product s takes W's rows
/// s, s + 4, s + 8, …, so the four rows gemm's kernel reads side by side lie four rows apart.
/// Natively (multi-threaded gemm, AVX kernels) the split measured slower and is not made.
const WEIGHT_ROW_STRIDE: usize = if cfg!(target_arch = "wasm32") { 4 } else { 1 };

/// W·xᵀ + b [out, rows], contiguous, for W [out, in] (contiguous), xᵀ [in, rows] and an optional
/// bias [out], split into `stride` products when `stride` divides `out` (and is less).
///
/// gemm's kernel (8 × 4 in wasm, vendor/README.md) reads four of W's rows side by side, four
/// ascending streams. Handed W whole, those are four adjacent rows, 3 KB apart for d_model 768,
/// so two streams often share a 4 KB page, and a forward pass, which reads each weight from
/// memory once, waits on it more than it does with the rows 12 KB apart. So W is multiplied as
/// [`WEIGHT_ROW_STRIDE`] products over strided views of it (no copy), whose rows come back
/// interleaved; adding the bias puts them back in order. Measured on GPT-2 small's 32-token page
/// trace in Node's V8 (wasi build, three alternations of the builds, median of 25 each): 159.7 →
/// 151.8 ms (2026-12-04).
fn weight_first_product(
    weight: &Tensor,
    xs_t: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
) -> candle_core::Result<Tensor> {
    let (out_dim, in_dim) = weight.dims2()?;
    let rows = xs_t.dim(1)?;
    // With one row per product candle would fold the products into one matmul that reads W as
    // if its rows were adjacent (its fold for a batch-invariant right operand).
    if stride < 2 || out_dim % stride != 0 || out_dim == stride {
        let product = weight.matmul(xs_t)?;
        return match bias {
            Some(bias) => product.broadcast_add(&bias.unsqueeze(1)?),
            None => Ok(product),
        };
    }
    // [stride, out / stride, in]: product s multiplies rows s, s + stride, s + 2·stride, …
    let strided_weight = weight
        .reshape((out_dim / stride, stride, in_dim))?
        .transpose(0, 1)?;
    // x's columns copied out once (each product packs them from there: a plain copy).
    let xs_t = xs_t
        .contiguous()?
        .unsqueeze(0)?
        .broadcast_as((stride, in_dim, rows))?;
    let interleaved = strided_weight.matmul(&xs_t)?;
    // Output row j is row (j % stride, j / stride) of `interleaved`.
    let product = interleaved.transpose(0, 1)?;
    let product = match bias {
        Some(bias) => product.broadcast_add(&bias.reshape((out_dim / stride, stride, 1))?)?,
        None => product.contiguous()?,
    };
    product.reshape((out_dim, rows))
}

/// The custom op behind [`frozen_weight_product`] on the gradient path.
struct FrozenWeightMatmul {
    weight: Tensor,
    layout: WeightLayout,
}

impl CustomOp1 for FrozenWeightMatmul {
    fn name(&self) -> &'static str {
        "frozen-weight-matmul"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        // Rebuilds x as an untracked tensor (a copy of an activation, small next to the weight)
        // so the forward is exactly the plain product.
        let (CpuStorage::F32(data), Some((start, end))) = (storage, layout.contiguous_offsets())
        else {
            candle_core::bail!("frozen-weight-matmul expects contiguous f32 activations")
        };
        let values = data[start..end].to_vec();
        let xs = Tensor::from_vec(values, layout.shape(), &Device::Cpu)?;
        let product = plain_product(&xs, &self.weight, self.layout)?;
        let shape = product.shape().clone();
        Ok((
            CpuStorage::F32(product.flatten_all()?.to_vec1::<f32>()?),
            shape,
        ))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let mut dims = grad_res.dims().to_vec();
        let out_dim = dims.pop().unwrap_or(0);
        let rows: usize = dims.iter().product();
        let grad_rows = grad_res.contiguous()?.reshape((rows, out_dim))?;
        // d(x·Wᵀ)/dx = grad·W; d(x·W)/dx = grad·Wᵀ, which is the product `rows_times_transposed`
        // makes fast (the head's one-row gradient would otherwise take gemm's scalar
        // matrix-vector path in wasm).
        let (grad, in_dim) = match self.layout {
            WeightLayout::OutIn => (grad_rows.matmul(&self.weight)?, self.weight.dim(1)?),
            WeightLayout::InOut => (
                rows_times_transposed(&grad_rows, &self.weight)?,
                self.weight.dim(0)?,
            ),
        };
        dims.push(in_dim);
        Ok(Some(grad.reshape(dims)?))
    }
}

/// A token embedding kept as its transposed table [d_model, vocab] (how the checkpoint stores
/// vocabulary matrices, see [`super::checkpoint::is_vocabulary_matrix`]).
#[derive(Debug, Clone)]
pub struct TokenEmbedding {
    transposed: Tensor,
}

impl TokenEmbedding {
    /// The embedding from its table stored [d_model, vocab].
    pub fn from_transposed(transposed: Tensor) -> Self {
        TokenEmbedding { transposed }
    }

    /// The rows of `ids` [tokens, d_model] (a gather of the table's columns).
    pub fn forward(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        self.transposed
            .index_select(&ids.flatten_all()?, 1)?
            .t()?
            .contiguous()
    }
}

/// A PyTorch `nn.Linear` stored as [out, in] (BERT, DistilBERT).
pub fn linear(vb: VarBuilder, in_dim: usize, out_dim: usize) -> candle_core::Result<Linear> {
    Ok(Linear::new(
        vb.get((out_dim, in_dim), "weight")?,
        Some(vb.get(out_dim, "bias")?),
    ))
}

/// GPT-2's `Conv1D` stored as [in, out], as an ordinary linear layer.
pub fn conv1d(vb: VarBuilder, in_dim: usize, out_dim: usize) -> candle_core::Result<Linear> {
    let weight = vb.get((in_dim, out_dim), "weight")?;
    Ok(Linear::new(
        weight.t()?.contiguous()?,
        Some(vb.get(out_dim, "bias")?),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Var};

    #[test]
    fn both_multiplication_orders_equal_candles_linear() -> candle_core::Result<()> {
        // Output sizes the wasm build splits into strided products (24), does not split (10),
        // and must not split (4: candle would misread it).
        for out_dim in [24, 10, 4] {
            check_both_orders(out_dim)?;
        }
        Ok(())
    }

    #[test]
    fn strided_weight_first_products_equal_the_plain_product() -> candle_core::Result<()> {
        let device = Device::Cpu;
        for (out_dim, stride) in [(24, 4), (24, 2), (24, 3), (10, 4), (4, 4), (8, 4)] {
            let weight = Tensor::randn(0f32, 1.0, (out_dim, 16), &device)?;
            let bias = Tensor::randn(0f32, 1.0, out_dim, &device)?;
            // x's columns as a transposed view, as the layers pass them.
            let xs_t = Tensor::randn(0f32, 1.0, (5, 16), &device)?.t()?;
            let plain = weight.matmul(&xs_t)?;
            for (bias, expected) in [
                (None, plain.clone()),
                (Some(&bias), plain.broadcast_add(&bias.unsqueeze(1)?)?),
            ] {
                let split = weight_first_product(&weight, &xs_t, bias, stride)?;
                assert!(split.is_contiguous());
                let gap = (split - expected)?.abs()?.max_all()?.to_scalar::<f32>()?;
                assert!(
                    gap < 1e-5,
                    "{out_dim} rows, stride {stride}: differs by {gap}"
                );
            }
        }
        Ok(())
    }

    /// Both weight layouts of a random layer [out_dim, 16] equal candle's `Linear` on either side
    /// of the switch between weight-first and x·Wᵀ.
    fn check_both_orders(out_dim: usize) -> candle_core::Result<()> {
        let device = Device::Cpu;
        let weight = Tensor::randn(0f32, 1.0, (out_dim, 16), &device)?;
        let bias = Tensor::randn(0f32, 1.0, out_dim, &device)?;
        // The same layer with its weight stored [in, out].
        let layers = [
            Linear::new(weight.clone(), Some(bias.clone())),
            Linear::in_out(weight.t()?.contiguous()?, Some(bias.clone())),
        ];
        let reference = candle_nn::Linear::new(weight, Some(bias));
        // Rows on either side of the switch between weight-first and x·Wᵀ, batched and not.
        for (shape, layer) in [
            vec![1, 16],
            vec![3, 16],
            vec![MAX_WEIGHT_FIRST_ROWS, 16],
            vec![MAX_WEIGHT_FIRST_ROWS + 1, 16],
            vec![2, 50, 16],
        ]
        .into_iter()
        .flat_map(|shape| layers.iter().map(move |layer| (shape.clone(), layer)))
        {
            let xs = Tensor::randn(0f32, 1.0, shape.as_slice(), &device)?;
            let ours = layer.forward(&xs)?;
            assert_eq!(ours.dims()[..shape.len() - 1], shape[..shape.len() - 1]);
            let gap = (&ours - reference.forward(&xs)?)?
                .abs()?
                .max_all()?
                .to_scalar::<f32>()?;
            assert!(
                gap < 1e-5,
                "{shape:?} × {out_dim}: differs from candle by {gap}"
            );
            if shape.len() == 2 {
                // The same layer on columns: (W·xᵀ + b) [out, rows].
                let columns = layer.forward_columns(&xs.t()?)?;
                let gap = (columns - reference.forward(&xs)?.t()?)?
                    .abs()?
                    .max_all()?
                    .to_scalar::<f32>()?;
                assert!(
                    gap < 1e-5,
                    "{shape:?} × {out_dim} on columns: differs by {gap}"
                );
            }
        }
        Ok(())
    }

    #[test]
    fn linear_gradient_equals_candles_and_keeps_no_weight_gradient() -> candle_core::Result<()> {
        let device = Device::Cpu;
        let weight = Tensor::randn(0f32, 1.0, (6, 4), &device)?;
        let bias = Tensor::randn(0f32, 1.0, 6, &device)?;
        for layer in [
            Linear::new(weight.clone(), Some(bias.clone())),
            Linear::in_out(weight.t()?.contiguous()?, Some(bias.clone())),
        ] {
            check_linear_gradient(&layer, &weight, &bias)?;
        }
        Ok(())
    }

    /// `layer`'s forward and input gradient equal candle's `Linear` of `weight` [6, 4] and
    /// `bias`, and it keeps no gradient for the weight.
    fn check_linear_gradient(
        layer: &Linear,
        weight: &Tensor,
        bias: &Tensor,
    ) -> candle_core::Result<()> {
        let device = Device::Cpu;
        let xs = Var::from_tensor(&Tensor::randn(0f32, 1.0, (3, 4), &device)?)?;
        let upstream = Tensor::randn(0f32, 1.0, (3, 6), &device)?;

        let ours = layer.forward(xs.as_tensor())?;
        let reference =
            candle_nn::Linear::new(weight.clone(), Some(bias.clone())).forward(xs.as_tensor())?;
        let forward_gap = (&ours - &reference)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(forward_gap < 1e-6, "forward differs by {forward_gap}");

        let our_grads = (ours * &upstream)?.sum_all()?.backward()?;
        let reference_grads = (reference * &upstream)?.sum_all()?.backward()?;
        let (Some(our_grad), Some(reference_grad)) = (
            our_grads.get(xs.as_tensor()),
            reference_grads.get(xs.as_tensor()),
        ) else {
            panic!("no gradient for the input");
        };
        let grad_gap = (our_grad - reference_grad)?
            .abs()?
            .max_all()?
            .to_scalar::<f32>()?;
        assert!(grad_gap < 1e-5, "input gradient differs by {grad_gap}");

        let weight_shaped = |grads: &candle_core::backprop::GradStore| {
            grads
                .get_ids()
                .filter_map(|id| grads.get_id(*id))
                .filter(|grad| matches!(grad.dims(), [6, 4] | [4, 6]) && grad.dtype() == DType::F32)
                .count()
        };
        // The check can fail: candle's own layer keeps a gradient for its weight.
        assert_eq!(weight_shaped(&reference_grads), 1);
        assert_eq!(weight_shaped(&our_grads), 0);
        Ok(())
    }
}
