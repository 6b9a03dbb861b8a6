//! How the engine's products are computed, so the model code need not know: the order of each
//! product (x·Wᵀ or weight-first, (W·xᵀ)ᵀ), activations kept as columns between weight-first
//! products, strided products in wasm, and the backward pass that skips the frozen weights'
//! gradients and has gemm pack W. The model code calls [`LayerInput::heads`],
//! [`merge_heads`], [`through_hidden_layer`] and `Linear::forward`; every result equals the
//! plain product (the tests below check each order against candle's own layer).
use candle_core::{CpuStorage, CustomOp1, Device, Layout, Module, Shape, Tensor};

use super::kernels;
use super::layers::Linear;
use super::parallel::by_output_blocks;

/// Runs the backward pass's grad·W (W [out, in]) with gemm told to pack W into MR-row panels.
///
/// gemm sees every row-major product transposed, so W is its left operand, already
/// column-major, and gemm packs it only for products over 32 columns. In wasm, unpacked, each
/// step of the kernel reads 8 floats, half a cache line, from a row 3–12 KB away; packed from
/// 5 columns on, GPT-2 small's saliency is a quarter faster (docs/MEASUREMENTS.md). Forward
/// products keep gemm's own choice: forced there, each weight-first product re-packs its
/// weight (a 32-row LM head, the whole vocabulary matrix). The worker is single-threaded, so the setting is restored before
/// anything else multiplies; natively gemm's own choice is always kept.
fn with_weight_packed<T>(product: impl FnOnce() -> T) -> T {
    #[cfg(target_arch = "wasm32")]
    {
        let default = gemm::get_lhs_packing_threshold_single_thread();
        gemm::set_lhs_packing_threshold_single_thread(1);
        let result = product();
        gemm::set_lhs_packing_threshold_single_thread(default);
        result
    }
    #[cfg(not(target_arch = "wasm32"))]
    product()
}

/// Up to this many rows [`rows_times_transposed`] multiplies weight-first: measured faster at 8
/// and 32 rows, mixed at 128, slower at 512; 64 is a guess between the measured 32 and 128.
const MAX_WEIGHT_FIRST_ROWS: usize = 64;

/// How many products [`weight_first_product`] splits W·xᵀ into in wasm: product s takes W's rows
/// s, s + 4, s + 8, …, so the four rows gemm's kernel reads side by side lie four rows apart.
/// Natively (multi-threaded gemm, AVX kernels) the split measured slower and is not made.
const WEIGHT_ROW_STRIDE: usize = if cfg!(target_arch = "wasm32") { 4 } else { 1 };

/// The input of one or more linear layers [tokens, d_model], held in the order their products
/// read it fastest: off the gradient path and for up to [`MAX_WEIGHT_FIRST_ROWS`] rows, as x's
/// columns copied out once (each projection would otherwise make the same strided copy), so
/// that each product is weight-first and its result [out, tokens] is split into heads by views.
pub struct LayerInput {
    rows: Tensor,
    columns: Option<Tensor>,
}

impl LayerInput {
    /// Prepares x [tokens, d_model] for the layers that read it.
    pub fn new(xs: &Tensor) -> candle_core::Result<Self> {
        let columns = takes_columns(xs.dim(0)?, xs.track_op())
            .then(|| xs.t()?.contiguous())
            .transpose()?;
        Ok(LayerInput {
            rows: xs.clone(),
            columns,
        })
    }

    /// `layer`(x) split into `heads` heads: [heads, tokens, d_head].
    pub fn heads(&self, layer: &Linear, heads: usize) -> candle_core::Result<Tensor> {
        let n_tokens = self.rows.dim(0)?;
        match &self.columns {
            // [heads·d_head, tokens]: each head's rows are a transposed view, no copy.
            Some(columns) => {
                let projected = forward_columns(layer, columns)?;
                let d_head = projected.dim(0)? / heads;
                projected
                    .reshape((heads, d_head, n_tokens))?
                    .transpose(1, 2)
            }
            None => {
                let projected = layer.forward(&self.rows)?;
                let d_head = projected.dim(1)? / heads;
                projected
                    .reshape((n_tokens, heads, d_head))?
                    .transpose(0, 1)?
                    .contiguous()
            }
        }
    }
}

/// The heads side by side [tokens, heads·d_head] through `layer`: attention's output projection
/// of its head outputs [heads, tokens, d_head].
pub fn merge_heads(layer: &Linear, head_outputs: &Tensor) -> candle_core::Result<Tensor> {
    let (heads, n_tokens, d_head) = head_outputs.dims3()?;
    if takes_columns(n_tokens, head_outputs.track_op()) {
        let concatenated_t = head_outputs
            .transpose(1, 2)?
            .contiguous()?
            .reshape((heads * d_head, n_tokens))?;
        return forward_columns(layer, &concatenated_t)?.t();
    }
    let concatenated = head_outputs
        .transpose(0, 1)?
        .contiguous()?
        .reshape((n_tokens, heads * d_head))?;
    layer.forward(&concatenated)
}

/// `second(activation(first(x)))` for rows x [tokens, d_model]: the output [tokens, d_model],
/// and the hidden layer before and after the activation [tokens, d_ff] (views of columns when
/// the layers take columns: the d_ff-wide hidden layer then never goes back to rows).
pub fn through_hidden_layer(
    xs: &Tensor,
    first: &Linear,
    activation: impl Fn(&Tensor) -> candle_core::Result<Tensor>,
    second: &Linear,
) -> candle_core::Result<HiddenLayer> {
    if takes_columns(xs.dim(0)?, xs.track_op()) {
        let pre_activations = forward_columns(first, &xs.t()?)?;
        let activations = activation(&pre_activations)?;
        let output = forward_columns(second, &activations)?;
        return Ok(HiddenLayer {
            pre_activations: pre_activations.t()?,
            activations: activations.t()?,
            output: output.t()?,
        });
    }
    let pre_activations = first.forward(xs)?;
    let activations = activation(&pre_activations)?;
    Ok(HiddenLayer {
        output: second.forward(&activations)?,
        pre_activations,
        activations,
    })
}

/// What [`through_hidden_layer`] computes, each [tokens, …].
pub struct HiddenLayer {
    pub pre_activations: Tensor,
    pub activations: Tensor,
    pub output: Tensor,
}

/// Whether layers should pass `rows` rows between them as columns ([`forward_columns`]): off
/// the gradient path (`tracked` false) and for as many rows as [`rows_times_transposed`]
/// multiplies weight-first. Each weight-first product would otherwise be copied back to rows, a
/// strided copy as large as its output (docs/MEASUREMENTS.md).
fn takes_columns(rows: usize, tracked: bool) -> bool {
    !tracked && (2..=MAX_WEIGHT_FIRST_ROWS).contains(&rows)
}

/// The layer on columns: given xᵀ [in, rows], returns yᵀ = W·xᵀ + b [out, rows], contiguous
/// — the weight-first product without transposing it back to rows.
fn forward_columns(layer: &Linear, xs_t: &Tensor) -> candle_core::Result<Tensor> {
    if xs_t.track_op() {
        // Not used so (see [`takes_columns`]), but correct: the row product, transposed.
        return layer.forward(&xs_t.t()?)?.t()?.contiguous();
    }
    weight_first_product(&layer.weight, xs_t, layer.bias.as_ref(), WEIGHT_ROW_STRIDE)
}

/// x·Wᵀ + b for x [.., in], a frozen weight W [out, in] and an optional bias [out]. When x is
/// part of a gradient graph the product is a custom op whose backward returns x's gradient
/// (grad·W) and nothing for W: candle's matmul backward would also compute and keep a
/// weight-sized gradient that saliency never reads (for GPT-2 small 124M floats, and most of
/// the backward's time).
pub(crate) fn times_weight(
    xs: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
) -> candle_core::Result<Tensor> {
    if !xs.track_op() {
        return plain_product(xs, weight, bias);
    }
    let product = xs.contiguous()?.apply_op1(FrozenWeightMatmul {
        weight: weight.clone(),
    })?;
    match bias {
        Some(bias) => product.broadcast_add(bias),
        None => Ok(product),
    }
}

/// The product (plus the bias) without a gradient, with the leading dimensions of x flattened
/// into rows.
fn plain_product(
    xs: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
) -> candle_core::Result<Tensor> {
    let mut dims = xs.dims().to_vec();
    let in_dim = dims.pop().unwrap_or(0);
    let rows_of_x = xs.reshape((dims.iter().product::<usize>(), in_dim))?;
    let product = rows_times_transposed(&rows_of_x, weight, bias)?;
    dims.push(weight.dim(0)?);
    product.reshape(dims)
}

/// x·Wᵀ + b for rows x [rows, in], W [out, in] and an optional bias [out], without a gradient;
/// each block of output features adds its part of the bias on the thread that computed it.
///
/// In wasm, up to [`kernels::MAX_ROWS`] rows (a generation step, an LM head at one position) go
/// to [`kernels::few_rows_times_transposed`], which reads W once, in order. For more rows, up
/// to [`MAX_WEIGHT_FIRST_ROWS`], it is computed weight-first, (W·xᵀ)ᵀ: gemm works column-major,
/// and handed x·Wᵀ it re-packs the whole weight on every call, while W·xᵀ lets it read W in
/// place and pack only the small x. With many rows packing pays for itself and x·Wᵀ is faster
/// (BENCHMARKS.md's floor table times both orders per shape: weight-first wins at 8 and 32
/// rows, loses at 512). The product is not split into strided views (stride 1): its result is
/// transposed anyway, and putting interleaved rows back in order first would copy it twice
/// (docs/MEASUREMENTS.md, "LM head").
fn rows_times_transposed(
    rows_of_x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
) -> candle_core::Result<Tensor> {
    let rows = rows_of_x.dim(0)?;
    let shape = (rows, weight.dim(0)?);
    let plus_bias = |product: Tensor, first: usize, n: usize| match bias {
        Some(bias) => product.broadcast_add(&bias.narrow(0, first, n)?),
        None => Ok(product),
    };
    if cfg!(target_arch = "wasm32") && (1..=kernels::MAX_ROWS).contains(&rows) {
        by_output_blocks(shape, 1, |first, n| {
            let product =
                kernels::few_rows_times_transposed(rows_of_x, &weight.narrow(0, first, n)?)?;
            plus_bias(product, first, n)
        })
    } else if rows == 1 {
        // Not cut (only natively: in wasm one row takes the branch above). gemm's one-column
        // product sums some outputs in another order when W has fewer rows.
        kernels::transposed(&weight_first_block(weight, &rows_of_x.t()?, bias, 1)?)
    } else if rows <= MAX_WEIGHT_FIRST_ROWS {
        kernels::transposed(&weight_first_product(weight, &rows_of_x.t()?, bias, 1)?)
    } else {
        by_output_blocks(shape, 1, |first, n| {
            plus_bias(
                rows_of_x.matmul(&weight.narrow(0, first, n)?.t()?)?,
                first,
                n,
            )
        })
    }
}

/// W·xᵀ + b [out, rows], contiguous, for W [out, in] (contiguous), xᵀ [in, rows] and an optional
/// bias [out], split into `stride` products when `stride` divides `out` (and is less).
///
/// gemm's kernel (8 × 4 in wasm, vendor/README.md) reads four of W's rows side by side, four
/// ascending streams. Handed W whole, those are four adjacent rows, 3 KB apart for d_model 768,
/// so two streams often share a 4 KB page, and a forward pass, which reads each weight from
/// memory once, waits on it more than it does with the rows 12 KB apart. So W is multiplied as
/// [`WEIGHT_ROW_STRIDE`] products over strided views of it (no copy), whose rows come back
/// interleaved; adding the bias puts them back in order (docs/MEASUREMENTS.md).
fn weight_first_product(
    weight: &Tensor,
    xs_t: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
) -> candle_core::Result<Tensor> {
    by_output_blocks((weight.dim(0)?, xs_t.dim(1)?), 0, |first, rows| {
        let bias = bias.map(|b| b.narrow(0, first, rows)).transpose()?;
        weight_first_block(&weight.narrow(0, first, rows)?, xs_t, bias.as_ref(), stride)
    })
}

/// [`weight_first_product`] of one block of W's rows.
fn weight_first_block(
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

/// The custom op behind [`times_weight`] on the gradient path.
struct FrozenWeightMatmul {
    weight: Tensor,
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
        let product = plain_product(&xs, &self.weight, None)?;
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
        // d(x·Wᵀ)/dx = grad·W, cut by W's columns (natively not for one row: see
        // `rows_times_transposed`).
        let in_dim = self.weight.dim(1)?;
        let grad = with_weight_packed(|| match rows {
            1 => grad_rows.matmul(&self.weight),
            _ => by_output_blocks((rows, in_dim), 1, |first, n| {
                grad_rows.matmul(&self.weight.narrow(1, first, n)?)
            }),
        })?;
        dims.push(self.weight.dim(1)?);
        Ok(Some(grad.reshape(dims)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::Linear;
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

    /// A random layer [out_dim, 16] equals candle's `Linear` on either side of the switch
    /// between weight-first and x·Wᵀ.
    fn check_both_orders(out_dim: usize) -> candle_core::Result<()> {
        let device = Device::Cpu;
        let weight = Tensor::randn(0f32, 1.0, (out_dim, 16), &device)?;
        let bias = Tensor::randn(0f32, 1.0, out_dim, &device)?;
        let layer = Linear::new(weight.clone(), Some(bias.clone()));
        let reference = candle_nn::Linear::new(weight, Some(bias));
        // Rows on either side of the switch between weight-first and x·Wᵀ, batched and not.
        for shape in [
            vec![1, 16],
            vec![3, 16],
            vec![MAX_WEIGHT_FIRST_ROWS, 16],
            vec![MAX_WEIGHT_FIRST_ROWS + 1, 16],
            vec![2, 50, 16],
        ] {
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
                let columns = forward_columns(&layer, &xs.t()?)?;
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
        let layer = Linear::new(weight.clone(), Some(bias.clone()));
        check_linear_gradient(&layer, &weight, &bias)
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
