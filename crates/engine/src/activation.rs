//! The MLP's activation functions, each with a backward pass for saliency, and the one-pass
//! kernels of GELU and ReLU used where no gradient flows.
use super::error::{ConfigDamage, EngineError, Result};
use super::parallel::{by_value_blocks, by_value_pair_blocks};
use super::values::with_values_of_two;

/// The activation function inside the MLP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// GELU with the tanh approximation (`gelu_new`, GPT-2's).
    GeluTanh,
    /// Exact GELU with erf (`gelu`, BERT's and DistilBERT's).
    GeluErf,
    /// ReLU.
    Relu,
    /// SiLU (x·σ(x)), Llama's gate in its SwiGLU MLP.
    Silu,
}

impl From<Activation> for ae_messages::ActivationKind {
    fn from(activation: Activation) -> Self {
        match activation {
            Activation::GeluTanh => ae_messages::ActivationKind::GeluTanh,
            Activation::GeluErf => ae_messages::ActivationKind::GeluErf,
            Activation::Relu => ae_messages::ActivationKind::Relu,
            Activation::Silu => ae_messages::ActivationKind::Silu,
        }
    }
}

impl Activation {
    pub(crate) fn parse(name: &str) -> Result<Self> {
        match name {
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" | "gelu_python_tanh" => {
                Ok(Activation::GeluTanh)
            }
            "gelu" | "gelu_python" => Ok(Activation::GeluErf),
            "relu" => Ok(Activation::Relu),
            "silu" | "swish" => Ok(Activation::Silu),
            other => Err(EngineError::config(ConfigDamage::UnsupportedActivation {
                name: other.to_string(),
            })),
        }
    }

    /// Applies the activation; every branch has a backward pass for saliency. On f32 a GELU is
    /// one pass ([`OnePass`]), and so is its backward; so is a ReLU without a gradient.
    pub fn forward(self, xs: &candle_core::Tensor) -> candle_core::Result<candle_core::Tensor> {
        let one_pass = match self {
            Activation::GeluTanh => Some(OnePass::GeluTanh),
            Activation::GeluErf => Some(OnePass::GeluErf),
            Activation::Relu => Some(OnePass::Relu),
            Activation::Silu => None,
        };
        if let Some(op) = one_pass.filter(|_| xs.dtype() == candle_core::DType::F32) {
            match (xs.track_op(), op.has_backward()) {
                (false, _) => return xs.contiguous()?.apply_op1_no_bwd(&op),
                (true, true) => return xs.contiguous()?.apply_op1(op),
                (true, false) => {}
            }
        }
        match self {
            Activation::GeluTanh => gelu_tanh(xs),
            // candle's computes erf in f64, scalar (slow in wasm, docs/MEASUREMENTS.md), but it
            // has a backward pass.
            Activation::GeluErf => xs.gelu_erf(),
            Activation::Relu => xs.relu(),
            Activation::Silu => xs.silu(),
        }
    }
}

/// GELU with the tanh approximation, 0.5·x·(1 + tanh(u)) with u = √(2/π)·x·(1 + 0.044715·x²),
/// computed as x·σ(2u) — the same function, since 0.5·(1 + tanh(u)) = σ(2u). Not candle's own
/// `gelu`: it calls libm's tanhf per element (~27 ns in wasm, ~10 % of a GPT-2 trace), and its
/// backward calls `powf` twice per element (~20 % of a GPT-2 saliency at 8 tokens). On f32 it
/// is a single pass, [`OnePass`], with a backward of its own; this form, from candle ops (one
/// `exp` per element, in `sigmoid`, which stays finite for any input and whose backward uses
/// its own result), serves other dtypes.
fn gelu_tanh(xs: &candle_core::Tensor) -> candle_core::Result<candle_core::Tensor> {
    let two_scale = xs
        .sqr()?
        .affine(2.0 * GELU_CUBIC * SQRT_TWO_OVER_PI, 2.0 * SQRT_TWO_OVER_PI)?;
    xs * candle_nn::ops::sigmoid(&(xs * two_scale)?)?
}

/// √(2/π), the tanh GELU's scale.
const SQRT_TWO_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// The tanh GELU's cubic coefficient.
const GELU_CUBIC: f64 = 0.044715;

/// A GELU in one pass over contiguous f32, four lanes at a time with `wide`'s vectorised exp,
/// and its backward in one pass too (cut into blocks of values like the forward). The op-by-op
/// forms make several passes (each with its output allocated) and call scalar libm per
/// element; candle's backward walks them on one thread. ReLU has no backward here: its
/// gradient path takes candle's op.
enum OnePass {
    /// x·σ(2u), see [`gelu_tanh`].
    GeluTanh,
    /// 0.5·x·(1 + erf(x/√2)) with erf from Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5·10⁻⁷),
    /// the approximation PyTorch's vectorised CPU erf uses.
    GeluErf,
    /// max(x, 0), as candle's `relu` (NaN gives 0) but four lanes at a time: candle's calls
    /// libm's `fmaxf` per value in wasm (~4 % of a t5-small trace).
    Relu,
}

impl OnePass {
    /// The activation of four values.
    fn lanes(&self, x: wide::f32x4) -> wide::f32x4 {
        use wide::f32x4;
        match self {
            OnePass::GeluTanh => {
                let two_scale = f32x4::splat((2.0 * SQRT_TWO_OVER_PI) as f32);
                let two_cubic = f32x4::splat((2.0 * GELU_CUBIC * SQRT_TWO_OVER_PI) as f32);
                // x / (1 + exp(-2u)): exp overflowing to infinity gives 0, GELU's limit at -∞.
                x / (f32x4::ONE + (-(x * (two_scale + two_cubic * x * x))).exp())
            }
            OnePass::GeluErf => x * Self::normal_cdf_lanes(x),
            OnePass::Relu => x.simd_gt(f32x4::ZERO).select(x, f32x4::ZERO),
        }
    }

    /// Φ(x) = 0.5·(1 + erf(x/√2)) of four values, with erf from Abramowitz & Stegun 7.1.26.
    fn normal_cdf_lanes(x: wide::f32x4) -> wide::f32x4 {
        use wide::f32x4;
        let z = (x * f32x4::splat(std::f32::consts::FRAC_1_SQRT_2)).abs();
        let t = f32x4::ONE / (f32x4::ONE + f32x4::splat(0.327_591_1) * z);
        let polynomial = [
            1.061_405_4,
            -1.453_152,
            1.421_413_8,
            -0.284_496_72,
            0.254_829_6,
        ]
        .iter()
        .fold(f32x4::ZERO, |sum, &c| (sum + f32x4::splat(c)) * t);
        // erfc(|x/√2|); 1 + erf(x/√2) is that for x < 0 (no cancellation) and 2 − it.
        let erfc = polynomial * (-(z * z)).exp();
        let one_plus_erf = x
            .simd_lt(f32x4::ZERO)
            .select(erfc, f32x4::splat(2.0) - erfc);
        f32x4::splat(0.5) * one_plus_erf
    }

    /// The derivative of the activation at four values, if it has a backward here.
    fn derivative_lanes(&self, x: wide::f32x4) -> Option<wide::f32x4> {
        use wide::f32x4;
        match self {
            OnePass::GeluTanh => {
                // d/dx x·σ(a) with a = 2u = x·(s + c·x²): σ(a) + x·σ(a)·(1 − σ(a))·(s + 3c·x²).
                let two_scale = f32x4::splat((2.0 * SQRT_TWO_OVER_PI) as f32);
                let two_cubic = f32x4::splat((2.0 * GELU_CUBIC * SQRT_TWO_OVER_PI) as f32);
                let sigmoid =
                    f32x4::ONE / (f32x4::ONE + (-(x * (two_scale + two_cubic * x * x))).exp());
                let slope = two_scale + f32x4::splat(3.0) * two_cubic * x * x;
                Some(sigmoid + x * sigmoid * (f32x4::ONE - sigmoid) * slope)
            }
            OnePass::GeluErf => {
                // d/dx x·Φ(x) = Φ(x) + x·φ(x), φ the standard normal density.
                let one_over_sqrt_two_pi = f32x4::splat(0.398_942_3);
                let density = (-(x * x) * f32x4::splat(0.5)).exp() * one_over_sqrt_two_pi;
                Some(Self::normal_cdf_lanes(x) + x * density)
            }
            OnePass::Relu => None,
        }
    }

    /// Whether [`Self::derivative_lanes`] gives a derivative (the op then has a backward).
    fn has_backward(&self) -> bool {
        self.derivative_lanes(wide::f32x4::ZERO).is_some()
    }

    /// The activation of every value, four at a time.
    fn pass(&self, values: &[f32]) -> Vec<f32> {
        in_lanes(values, values, |x, _| self.lanes(x))
    }

    /// The gradient of every input from the output's gradient, four values at a time.
    fn backward_pass(&self, values: &[f32], grad: &[f32]) -> Vec<f32> {
        in_lanes(values, grad, |x, g| {
            self.derivative_lanes(x).unwrap_or(wide::f32x4::ZERO) * g
        })
    }
}

/// `lanes(a, b)` over the values of a and b (as long as a) four at a time; the last 0–3
/// through the same lanes, so every element gets the same formula.
fn in_lanes(
    a: &[f32],
    b: &[f32],
    lanes: impl Fn(wide::f32x4, wide::f32x4) -> wide::f32x4,
) -> Vec<f32> {
    use wide::f32x4;
    let mut output = Vec::with_capacity(a.len());
    let (mut a_quads, mut b_quads) = (a.chunks_exact(4), b.chunks_exact(4));
    for (x, y) in (&mut a_quads).zip(&mut b_quads) {
        let (mut x4, mut y4) = ([0f32; 4], [0f32; 4]);
        x4.copy_from_slice(x);
        y4.copy_from_slice(y);
        output.extend_from_slice(&lanes(f32x4::new(x4), f32x4::new(y4)).to_array());
    }
    let (x, y) = (a_quads.remainder(), b_quads.remainder());
    let (mut x4, mut y4) = ([0f32; 4], [0f32; 4]);
    x4[..x.len()].copy_from_slice(x);
    y4[..x.len()].copy_from_slice(&y[..x.len()]);
    output.extend_from_slice(&lanes(f32x4::new(x4), f32x4::new(y4)).to_array()[..x.len()]);
    output
}

impl candle_core::CustomOp1 for OnePass {
    fn name(&self) -> &'static str {
        match self {
            OnePass::Relu => "relu-forward",
            OnePass::GeluTanh => "gelu-tanh-forward",
            OnePass::GeluErf => "gelu-erf-forward",
        }
    }

    fn cpu_fwd(
        &self,
        storage: &candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
        let (candle_core::CpuStorage::F32(data), Some((start, end))) =
            (storage, layout.contiguous_offsets())
        else {
            candle_core::bail!("{} expects contiguous f32 values", self.name())
        };
        let output = by_value_blocks(&data[start..end], |values| self.pass(values));
        Ok((candle_core::CpuStorage::F32(output), layout.shape().clone()))
    }

    /// The input's gradient in one pass over the input (contiguous: [`Activation::forward`]
    /// hands it so) and the output's gradient.
    fn bwd(
        &self,
        xs: &candle_core::Tensor,
        _output: &candle_core::Tensor,
        grad: &candle_core::Tensor,
    ) -> candle_core::Result<Option<candle_core::Tensor>> {
        let input_grad = with_values_of_two(self.name(), xs, &grad.contiguous()?, |x, g| {
            Ok(by_value_pair_blocks(x, g, |x, g| self.backward_pass(x, g)))
        })?;
        candle_core::Tensor::from_vec(input_grad, xs.shape(), xs.device()).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor, Var};

    /// ReLU in one pass gives candle's `relu` values exactly (NaN and -0 too, and the 3-value
    /// tail), and keeps candle's op, with its backward, on a gradient path.
    #[test]
    fn relu_equals_candles() -> candle_core::Result<()> {
        let device = Device::Cpu;
        let values = [
            -2.5f32,
            -0.0,
            0.0,
            1e-30,
            3.0,
            f32::NAN,
            -f32::INFINITY,
            7.5,
            -1.0,
        ];
        let untracked = Tensor::new(&values[..], &device)?;
        let ours = Activation::Relu.forward(&untracked)?.to_vec1::<f32>()?;
        let candles = untracked.relu()?.to_vec1::<f32>()?;
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&ours), bits(&candles));
        let xs = Var::from_tensor(&untracked)?;
        let grads = Activation::Relu
            .forward(xs.as_tensor())?
            .sum_all()?
            .backward()?;
        assert!(grads.get(&xs).is_some(), "no gradient reached the input");
        Ok(())
    }

    /// The exact GELU equals candle's `gelu_erf` (erf in f64) in one pass (the 3-value tail
    /// too), and so does its gradient, also computed in one pass.
    #[test]
    fn erf_gelu_equals_candles() -> candle_core::Result<()> {
        let device = Device::Cpu;
        let mut values: Vec<f32> = (-60..=60).map(|i| i as f32 * 0.125).collect();
        values.extend([-1000.0, -30.0, -12.0, 12.0, 30.0, 1000.0]);
        let untracked = Tensor::new(values.as_slice(), &device)?;
        let ours = Activation::GeluErf.forward(&untracked)?.to_vec1::<f32>()?;
        let candles = untracked.gelu_erf()?.to_vec1::<f32>()?;
        for ((x, ours), candles) in values.iter().zip(&ours).zip(&candles) {
            // erf's error (≤ 1.5e-7) times 0.5·|x| ≤ 3.75 here; 1000 and beyond are exact.
            assert!(
                (ours - candles).abs() <= 1e-6,
                "x = {x}: {ours} vs candle's {candles}"
            );
        }
        let xs = Var::from_tensor(&untracked)?;
        let gradient = |output: Tensor| -> candle_core::Result<Vec<f32>> {
            let grads = output.sum_all()?.backward()?;
            match grads.get(&xs) {
                Some(gradient) => gradient.to_vec1::<f32>(),
                None => candle_core::bail!("no gradient reached the input"),
            }
        };
        let ours = gradient(Activation::GeluErf.forward(xs.as_tensor())?)?;
        let candles = gradient(xs.as_tensor().gelu_erf()?)?;
        for ((x, ours), candles) in values.iter().zip(&ours).zip(&candles) {
            assert!(
                (ours - candles).abs() <= 1e-6,
                "x = {x}: gradient {ours} vs candle's {candles}"
            );
        }
        Ok(())
    }

    /// Our GELU equals candle's `gelu`, with and without gradients, and its gradient is the
    /// exact derivative of the tanh formula (candle's own backward, with 6-digit constants,
    /// agrees to ~1e-5) — also far out, where exp overflows and a careless form gives NaN.
    #[test]
    fn gelu_equals_candles_value_and_derivative() -> candle_core::Result<()> {
        let device = Device::Cpu;
        let mut values: Vec<f32> = (-40..=40).map(|i| i as f32 * 0.15).collect();
        values.extend([-1000.0, -30.0, -12.0, 12.0, 30.0, 1000.0]);
        let gap = |ours: &Tensor, candles: &Tensor| -> candle_core::Result<f32> {
            (ours - candles)?.abs()?.max_all()?.to_scalar::<f32>()
        };
        let untracked = Tensor::new(values.as_slice(), &device)?;
        let untracked_gap = gap(
            &Activation::GeluTanh.forward(&untracked)?,
            &untracked.gelu()?,
        )?;
        assert!(
            untracked_gap < 1e-6,
            "untracked value differs by {untracked_gap}"
        );
        let xs = Var::from_tensor(&untracked)?;
        let ours = Activation::GeluTanh.forward(xs.as_tensor())?;
        let candles = xs.as_tensor().gelu()?;
        let value_gap = gap(&ours, &candles)?;
        assert!(
            value_gap < 1e-6,
            "value differs from candle's gelu by {value_gap}"
        );

        let our_grad = ours.sum_all()?.backward()?;
        let candle_grad = candles.sum_all()?.backward()?;
        let our_grad = our_grad.get(&xs).map(|g| g.to_vec1::<f32>());
        let candle_grad = candle_grad.get(&xs).map(|g| g.to_vec1::<f32>());
        let (Some(our_grad), Some(candle_grad)) = (our_grad, candle_grad) else {
            panic!("no gradient reached the input");
        };
        let (our_grad, candle_grad) = (our_grad?, candle_grad?);
        let c = (2.0 / std::f64::consts::PI).sqrt();
        for ((x, ours), candles) in values.iter().zip(&our_grad).zip(&candle_grad) {
            let x = *x as f64;
            let tanh = (c * (x + 0.044715 * x.powi(3))).tanh();
            let exact = 0.5 * (1.0 + tanh)
                + 0.5 * x * (1.0 - tanh * tanh) * c * (1.0 + 3.0 * 0.044715 * x * x);
            assert!(
                (*ours as f64 - exact).abs() < 1e-5,
                "x = {x}: {ours} vs {exact}"
            );
            assert!(
                (ours - candles).abs() < 1e-4,
                "x = {x}: {ours} vs candle's {candles}"
            );
        }
        Ok(())
    }
}
