//! The MLP's activation functions, each with a backward pass for saliency, and the one-pass
//! kernels of GELU and ReLU used where no gradient flows.
use super::error::{ConfigDamage, EngineError, Result};
use super::parallel::by_value_blocks;

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

    /// Applies the activation; every branch has a backward pass for saliency. Without a gradient
    /// a GELU or ReLU on f32 is one pass ([`OnePass`]).
    pub fn forward(self, xs: &candle_core::Tensor) -> candle_core::Result<candle_core::Tensor> {
        let one_pass = match self {
            Activation::GeluTanh => Some(OnePass::GeluTanh),
            Activation::GeluErf => Some(OnePass::GeluErf),
            Activation::Relu => Some(OnePass::Relu),
            Activation::Silu => None,
        };
        if let Some(op) =
            one_pass.filter(|_| !xs.track_op() && xs.dtype() == candle_core::DType::F32)
        {
            return xs.contiguous()?.apply_op1_no_bwd(&op);
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
/// backward calls `powf` twice per element (~20 % of a GPT-2 saliency at 8 tokens). On a
/// gradient path it is built from candle ops (one `exp` per element, in `sigmoid`, which stays
/// finite for any input and whose backward uses its own result); without one it is a single
/// pass, [`OnePass`].
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

/// A GELU in one pass over contiguous f32, four lanes at a time with `wide`'s vectorised exp.
/// The op-by-op forms make several passes (each with its output allocated) and call scalar
/// libm per element. No backward: gradient paths take the op-by-op forms.
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
            OnePass::GeluErf => {
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
                f32x4::splat(0.5) * x * one_plus_erf
            }
            OnePass::Relu => x.simd_gt(f32x4::ZERO).select(x, f32x4::ZERO),
        }
    }

    /// The activation of every value, four at a time.
    fn pass(&self, values: &[f32]) -> Vec<f32> {
        use wide::f32x4;
        let mut output = Vec::with_capacity(values.len());
        let mut quads = values.chunks_exact(4);
        for quad in &mut quads {
            let mut x = [0f32; 4];
            x.copy_from_slice(quad);
            output.extend_from_slice(&self.lanes(f32x4::new(x)).to_array());
        }
        // The last 0–3 values through the same lanes, so every element gets the same formula.
        let rest = quads.remainder();
        let mut last = [0f32; 4];
        last[..rest.len()].copy_from_slice(rest);
        output.extend_from_slice(&self.lanes(f32x4::new(last)).to_array()[..rest.len()]);
        output
    }
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

    /// The exact GELU equals candle's `gelu_erf` (erf in f64) without a gradient, in one pass
    /// (the 3-value tail too), and keeps candle's op, with its backward, on a gradient path.
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
        let xs = Var::from_tensor(&untracked.narrow(0, 0, 121)?)?;
        let grads = Activation::GeluErf
            .forward(xs.as_tensor())?
            .sum_all()?
            .backward()?;
        assert!(grads.get(&xs).is_some(), "no gradient reached the input");
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
