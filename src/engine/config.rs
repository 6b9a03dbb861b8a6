//! Reads a Hugging Face config.json into the few numbers the engine needs.
use serde_json::Value;

use super::error::{EngineError, Result};

/// The model families the engine implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Architecture {
    /// GPT-2 family decoders (gpt2, distilgpt2, gpt2-medium …): causal attention.
    Gpt2,
    /// DistilBERT encoders with a masked-LM head.
    DistilBert,
    /// BERT encoders, with or without a masked-LM head.
    Bert,
    /// Llama-family decoders (SmolLM2, TinyLlama …) read from GGUF: RMSNorm, rotary position
    /// embeddings, grouped-query attention, SwiGLU MLP.
    Llama,
}

impl Architecture {
    /// Human-readable name, as the model card shows it.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Gpt2 => "GPT-2",
            Architecture::DistilBert => "DistilBERT",
            Architecture::Bert => "BERT",
            Architecture::Llama => "Llama",
        }
    }

    /// Decoders mask future tokens; encoders attend both ways.
    pub fn is_causal(self) -> bool {
        matches!(self, Architecture::Gpt2 | Architecture::Llama)
    }
}

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

impl Activation {
    fn parse(name: &str) -> Result<Self> {
        match name {
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" | "gelu_python_tanh" => {
                Ok(Activation::GeluTanh)
            }
            "gelu" | "gelu_python" => Ok(Activation::GeluErf),
            "relu" => Ok(Activation::Relu),
            "silu" | "swish" => Ok(Activation::Silu),
            other => Err(EngineError::Config(format!(
                "the activation function `{other}` is not supported (use gelu, gelu_new or relu)"
            ))),
        }
    }

    /// Applies the activation; every branch has a backward pass for saliency. Without a gradient
    /// a GELU on f32 is one pass ([`GeluForward`]).
    pub fn forward(self, xs: &candle_core::Tensor) -> candle_core::Result<candle_core::Tensor> {
        let one_pass = match self {
            Activation::GeluTanh => Some(GeluForward::Tanh),
            Activation::GeluErf => Some(GeluForward::Erf),
            Activation::Relu | Activation::Silu => None,
        };
        if let Some(op) =
            one_pass.filter(|_| !xs.track_op() && xs.dtype() == candle_core::DType::F32)
        {
            return xs.contiguous()?.apply_op1_no_bwd(&op);
        }
        match self {
            Activation::GeluTanh => gelu_tanh(xs),
            // candle's computes erf in f64, scalar: ~14 ns per element in wasm (Node's V8,
            // 2026-12-04), ~8 ms of DistilBERT's 32-token trace; it has a backward pass.
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
/// pass, [`GeluForward`].
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
enum GeluForward {
    /// x·σ(2u), see [`gelu_tanh`] (op by op: ~3 % of GPT-2 small's 32-token trace in Node's
    /// CPU profile, 2.3 % in one pass, 2026-12-04).
    Tanh,
    /// 0.5·x·(1 + erf(x/√2)) with erf from Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5·10⁻⁷),
    /// the approximation PyTorch's vectorised CPU erf uses.
    Erf,
}

impl GeluForward {
    /// The activation of four values.
    fn lanes(&self, x: wide::f32x4) -> wide::f32x4 {
        use wide::f32x4;
        match self {
            GeluForward::Tanh => {
                let two_scale = f32x4::splat((2.0 * SQRT_TWO_OVER_PI) as f32);
                let two_cubic = f32x4::splat((2.0 * GELU_CUBIC * SQRT_TWO_OVER_PI) as f32);
                // x / (1 + exp(-2u)): exp overflowing to infinity gives 0, GELU's limit at -∞.
                x / (f32x4::ONE + (-(x * (two_scale + two_cubic * x * x))).exp())
            }
            GeluForward::Erf => {
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
        }
    }
}

impl candle_core::CustomOp1 for GeluForward {
    fn name(&self) -> &'static str {
        match self {
            GeluForward::Tanh => "gelu-tanh-forward",
            GeluForward::Erf => "gelu-erf-forward",
        }
    }

    fn cpu_fwd(
        &self,
        storage: &candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
        use wide::f32x4;
        let (candle_core::CpuStorage::F32(data), Some((start, end))) =
            (storage, layout.contiguous_offsets())
        else {
            candle_core::bail!("{} expects contiguous f32 values", self.name())
        };
        let values = &data[start..end];
        let mut output = Vec::with_capacity(values.len());
        let mut quads = values.chunks_exact(4);
        for quad in &mut quads {
            let x: [f32; 4] = quad.try_into().map_err(candle_core::Error::wrap)?;
            output.extend_from_slice(&self.lanes(f32x4::new(x)).to_array());
        }
        // The last 0–3 values through the same lanes, so every element gets the same formula.
        let rest = quads.remainder();
        let mut last = [0f32; 4];
        last[..rest.len()].copy_from_slice(rest);
        output.extend_from_slice(&self.lanes(f32x4::new(last)).to_array()[..rest.len()]);
        Ok((candle_core::CpuStorage::F32(output), layout.shape().clone()))
    }
}

/// Everything the engine reads from config.json, with the family's field names unified.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// Which forward pass to run.
    pub architecture: Architecture,
    /// Number of transformer blocks.
    pub n_layer: usize,
    /// Attention (query) heads per block.
    pub n_head: usize,
    /// Key/value heads per block: fewer than `n_head` with grouped-query attention, where query
    /// head h reads key/value head h / (n_head / n_kv_head).
    pub n_kv_head: usize,
    /// Width of the residual stream.
    pub d_model: usize,
    /// Width of the MLP's hidden layer.
    pub d_ff: usize,
    /// Number of token ids.
    pub vocab_size: usize,
    /// Longest input, in tokens (the size of the position table).
    pub max_positions: usize,
    /// Token types (BERT's segment embeddings); 0 when the model has none.
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
    /// MLP activation.
    pub activation: Activation,
    /// The rotary embedding's base θ (`rope_theta`) for models that rotate q and k by position
    /// instead of adding a position embedding.
    pub rope_theta: Option<f64>,
}

impl ModelConfig {
    /// Parses config.json, choosing the architecture from `model_type` or `architectures`.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let json: Value = serde_json::from_slice(bytes).map_err(|e| {
            EngineError::Config(format!(
                "not valid JSON ({e}); is this the model's config.json?"
            ))
        })?;
        let architecture = detect_architecture(&json)?;
        let field = Fields(&json);
        let config = match architecture {
            Architecture::Gpt2 => {
                let d_model = field.usize(&["n_embd"])?;
                ModelConfig {
                    architecture,
                    n_layer: field.usize(&["n_layer"])?,
                    n_head: field.usize(&["n_head"])?,
                    n_kv_head: field.usize(&["n_head"])?,
                    d_model,
                    d_ff: field.optional_usize("n_inner")?.unwrap_or(4 * d_model),
                    vocab_size: field.usize(&["vocab_size"])?,
                    max_positions: field.usize(&["n_positions", "n_ctx"])?,
                    type_vocab_size: 0,
                    layer_norm_eps: field.f64_or("layer_norm_epsilon", 1e-5)?,
                    activation: Activation::parse(
                        &field.string_or("activation_function", "gelu_new")?,
                    )?,
                    rope_theta: None,
                }
            }
            Architecture::DistilBert => ModelConfig {
                architecture,
                n_layer: field.usize(&["n_layers"])?,
                n_head: field.usize(&["n_heads"])?,
                n_kv_head: field.usize(&["n_heads"])?,
                d_model: field.usize(&["dim"])?,
                d_ff: field.usize(&["hidden_dim"])?,
                vocab_size: field.usize(&["vocab_size"])?,
                max_positions: field.usize(&["max_position_embeddings"])?,
                type_vocab_size: 0,
                // DistilBERT's LayerNorm epsilon is fixed in its code, not in config.json.
                layer_norm_eps: 1e-12,
                activation: Activation::parse(&field.string_or("activation", "gelu")?)?,
                rope_theta: None,
            },
            Architecture::Bert => ModelConfig {
                architecture,
                n_layer: field.usize(&["num_hidden_layers"])?,
                n_head: field.usize(&["num_attention_heads"])?,
                n_kv_head: field.usize(&["num_attention_heads"])?,
                d_model: field.usize(&["hidden_size"])?,
                d_ff: field.usize(&["intermediate_size"])?,
                vocab_size: field.usize(&["vocab_size"])?,
                max_positions: field.usize(&["max_position_embeddings"])?,
                type_vocab_size: field.optional_usize("type_vocab_size")?.unwrap_or(2),
                layer_norm_eps: field.f64_or("layer_norm_eps", 1e-12)?,
                activation: Activation::parse(&field.string_or("hidden_act", "gelu")?)?,
                rope_theta: None,
            },
            Architecture::Llama => {
                return Err(EngineError::Config(
                    "Llama models are read from a single .gguf file, not config.json + \
                     model.safetensors; choose the .gguf file"
                        .into(),
                ))
            }
        };
        config.validate()
    }

    /// Width of one attention head.
    pub fn d_head(&self) -> usize {
        self.d_model / self.n_head
    }

    /// Checks the numbers are usable: nothing zero, heads divide the width and the key/value
    /// heads divide the query heads.
    pub(crate) fn validate(self) -> Result<Self> {
        for (name, value) in [
            ("number of layers", self.n_layer),
            ("number of heads", self.n_head),
            ("number of key/value heads", self.n_kv_head),
            ("model width", self.d_model),
            ("MLP width", self.d_ff),
            ("vocabulary size", self.vocab_size),
            ("number of positions", self.max_positions),
        ] {
            if value == 0 {
                return Err(EngineError::Config(format!("the {name} is 0")));
            }
        }
        if !self.d_model.is_multiple_of(self.n_head) {
            return Err(EngineError::Config(format!(
                "the model width {} is not divisible by the {} heads",
                self.d_model, self.n_head
            )));
        }
        if !self.n_head.is_multiple_of(self.n_kv_head) {
            return Err(EngineError::Config(format!(
                "the {} query heads cannot share the {} key/value heads evenly",
                self.n_head, self.n_kv_head
            )));
        }
        Ok(self)
    }
}

fn detect_architecture(json: &Value) -> Result<Architecture> {
    let model_type = json.get("model_type").and_then(Value::as_str).unwrap_or("");
    let first_architecture = json
        .get("architectures")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .unwrap_or("");
    let by_type = match model_type {
        "gpt2" => Some(Architecture::Gpt2),
        "distilbert" => Some(Architecture::DistilBert),
        "bert" => Some(Architecture::Bert),
        "llama" => Some(Architecture::Llama),
        _ => None,
    };
    let by_class = if first_architecture.starts_with("GPT2") {
        Some(Architecture::Gpt2)
    } else if first_architecture.starts_with("DistilBert") {
        Some(Architecture::DistilBert)
    } else if first_architecture.starts_with("Bert") {
        Some(Architecture::Bert)
    } else {
        None
    };
    by_type.or(by_class).ok_or_else(|| {
        EngineError::Config(format!(
            "the model type `{model_type}` ({first_architecture}) is not supported; \
             Attention Explorer runs GPT-2, DistilBERT and BERT checkpoints"
        ))
    })
}

/// Typed access to config.json fields with messages that name the field.
struct Fields<'a>(&'a Value);

impl Fields<'_> {
    fn usize(&self, names: &[&str]) -> Result<usize> {
        for name in names {
            if let Some(value) = self.optional_usize(name)? {
                return Ok(value);
            }
        }
        Err(EngineError::Config(format!(
            "the field `{}` is missing",
            names.join("` or `")
        )))
    }

    fn optional_usize(&self, name: &str) -> Result<Option<usize>> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .as_u64()
                .and_then(|v| usize::try_from(v).ok())
                .map(Some)
                .ok_or_else(|| {
                    EngineError::Config(format!("`{name}` should be a whole number, not {value}"))
                }),
        }
    }

    fn f64_or(&self, name: &str, default: f64) -> Result<f64> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(value) => value.as_f64().ok_or_else(|| {
                EngineError::Config(format!("`{name}` should be a number, not {value}"))
            }),
        }
    }

    fn string_or(&self, name: &str, default: &str) -> Result<String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(default.to_string()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(value) => Err(EngineError::Config(format!(
                "`{name}` should be a string, not {value}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor, Var};

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
