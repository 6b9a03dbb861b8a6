//! The messages between the page and the worker. Both cross `postMessage` as plain JS objects
//! made by serde-wasm-bindgen; trace arrays travel as `Uint8Array`s. Loading a model is not a
//! [`Request`]: the page posts `{kind: "load", config, tokenizer, model}` with the three files
//! as `Uint8Array`s (the model's buffer transferred, not copied) and the worker reads the
//! weights tensor by tensor from JS memory ([`Session::load`]).
use serde::{Deserialize, Serialize};

use candle_core::{Device, Module, Tensor};

use crate::engine::{
    positional_encodings, rotary_view, sample_token, surviving_count, AttentionInternals,
    ByteSource, Candidate, EngineError, LayerTrace, Linear, LogitLens, Model, ModelConfig,
    PageTrace, PositionalEncodings, PredictionLogits, Predictions, RotaryView, Saliency,
    SamplingSettings, TokenizedText,
};

/// What the page asks of the worker. `id` ties a response to its request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Request {
    /// Tokenize a text (cheap: lets the page show tokens before the trace is done).
    Tokenize { id: u32, text: String },
    /// Tokenize and trace a text (truncated to the model's positions); the answer carries
    /// `layer`'s attention internals (clamped to the last layer).
    Trace {
        id: u32,
        text: String,
        #[serde(default)]
        layer: usize,
    },
    /// Another layer's attention internals from the trace answered to request `trace`.
    Layer { id: u32, trace: u32, layer: usize },
    /// Top-k predictions for a text (from the last trace's logits when it is the same text),
    /// and for decoders how many candidates survive top-k/top-p and, with a seed, a drawn token.
    Predict {
        id: u32,
        text: String,
        k: usize,
        settings: SamplingSettings,
        seed: Option<u64>,
    },
    /// The logit lens at a position (default: where the model predicts).
    LogitLens {
        id: u32,
        text: String,
        position: Option<usize>,
        k: usize,
    },
    /// The sinusoidal encoding for `positions` × `d_model` beside the model's learned
    /// position embeddings, with cosine similarities.
    PositionalEncodings {
        id: u32,
        positions: usize,
        d_model: usize,
    },
    /// The RoPE view of a rotary model: its rotation frequencies and one real query and key of
    /// the trace (head width each) placed at every position 0..`positions`.
    Rotary {
        id: u32,
        positions: usize,
        query: Vec<f32>,
        query_position: usize,
        key: Vec<f32>,
        key_position: usize,
    },
    /// Gradient×input saliency for a text.
    Saliency {
        id: u32,
        text: String,
        position: Option<usize>,
        target: Option<u32>,
    },
    /// The benchmark's floor: times candle f32 matmuls `[m, k] × [k, n]` (the shapes of a
    /// model's forward pass) with the weight stored both ways, `[k, n]` and `[n, k]` (as
    /// `Linear` keeps it), and `[n, k]` multiplied weight-first, (W·xᵀ)ᵀ, as `Linear` computes
    /// it; median of `runs` after one warm-up. Needs no model.
    MatmulBenchmark {
        id: u32,
        shapes: Vec<(usize, usize, usize)>,
        runs: usize,
        /// 0: each product reuses one weight, which then sits in cache (the floor). Otherwise
        /// each product takes the next of enough distinct weights to fill this many bytes, so
        /// that, as in a forward pass, the weight comes from memory ("cold").
        #[serde(default)]
        cold_bytes: usize,
    },
    /// A test hook: the worker panics while handling it, as a bug in the engine would, so the
    /// tests can check that the page recovers. The page itself never sends it.
    CrashForTest,
}

/// What the worker answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Response {
    /// The worker's wasm is running and listening; sent once at start.
    Ready,
    /// A model was built.
    Loaded {
        card: ModelCard,
        /// The worker's wasm memory after loading, in bytes (wasm memory never shrinks, so
        /// this is the peak so far).
        wasm_memory_bytes: usize,
        /// Milliseconds from the files arriving in the worker to the model being ready.
        load_ms: f64,
    },
    /// The tokens of a text.
    Tokens {
        id: u32,
        tokens: TokenizedText,
        /// Token count before truncation, when the text was longer than the model reads.
        truncated_from: Option<usize>,
    },
    /// The trace of a text.
    Trace {
        id: u32,
        tokens: TokenizedText,
        /// Token count before truncation, when the text was longer than the model reads.
        truncated_from: Option<usize>,
        trace: Box<PageTrace>,
        /// The asked-for layer's attention internals.
        layer_trace: Box<LayerTrace>,
        /// Milliseconds the worker spent tokenizing and tracing.
        compute_ms: f64,
        /// The worker's wasm memory once this trace was made, in bytes: the peak so far (wasm
        /// memory never shrinks), which includes encoding earlier responses.
        wasm_memory_bytes: usize,
    },
    /// One layer's attention internals from the trace answered to request `trace`.
    Layer {
        id: u32,
        trace: u32,
        layer_trace: Box<LayerTrace>,
    },
    /// Predictions for a text.
    Predictions {
        id: u32,
        predictions: Predictions,
        /// Decoders: how many of the most probable tokens top-k and top-p leave drawable.
        survivors: Option<usize>,
        /// Decoders, when a seed was given: the drawn token.
        sampled: Option<Candidate>,
        /// Whether the cached logits of the last trace were re-scored (the model did not run).
        reused_logits: bool,
    },
    /// The logit lens for a text.
    LogitLens { id: u32, lens: LogitLens },
    /// Saliency for a text.
    Saliency { id: u32, saliency: Saliency },
    /// Positional encodings and their similarities.
    PositionalEncodings {
        id: u32,
        encodings: PositionalEncodings,
    },
    /// The RoPE view.
    Rotary { id: u32, view: RotaryView },
    /// Median milliseconds per shape of a `MatmulBenchmark`: x·W with W `[k, n]`, x·Wᵀ with
    /// W `[n, k]`, the same weight-first, (W·xᵀ)ᵀ, and x·Wᵀ as the engine's linear layers
    /// compute it (weight-first over strided rows for up to 64 rows, see `engine::Linear`).
    MatmulTimes {
        id: u32,
        stored_k_n_ms: Vec<f64>,
        stored_n_k_ms: Vec<f64>,
        weight_first_ms: Vec<f64>,
        engine_ms: Vec<f64>,
    },
    /// A request failed; `message` is for the user.
    Error { id: Option<u32>, message: String },
    /// The worker panicked and must be restarted.
    Panic { message: String },
}

/// What the model card shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// "GPT-2", "DistilBERT", "BERT" or "Llama".
    pub architecture: String,
    /// Decoder (causal) or encoder.
    pub causal: bool,
    /// Transformer blocks.
    pub n_layer: usize,
    /// Heads per block.
    pub n_head: usize,
    /// Key/value heads per block (fewer than `n_head` with grouped-query attention).
    #[serde(default)]
    pub n_kv_head: usize,
    /// The rotary embedding's base θ for rotary models (Llama).
    #[serde(default)]
    pub rope_theta: Option<f64>,
    /// Residual width.
    pub d_model: usize,
    /// Head width.
    pub d_head: usize,
    /// Number of weights.
    pub parameters: usize,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Longest input in tokens.
    pub max_positions: usize,
    /// Whether predictions and saliency are available.
    pub has_prediction_head: bool,
    /// The mask token, for masked language models.
    pub mask_token: Option<String>,
    /// Problems in the files that did not stop the model from loading (e.g. NaN weights).
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl ModelCard {
    /// The card of a loaded model.
    pub fn of(model: &Model) -> Self {
        let config = &model.config;
        ModelCard {
            architecture: config.architecture.name().to_string(),
            causal: config.architecture.is_causal(),
            n_layer: config.n_layer,
            n_head: config.n_head,
            n_kv_head: config.n_kv_head,
            rope_theta: config.rope_theta,
            d_model: config.d_model,
            d_head: config.d_head(),
            parameters: model.parameter_count,
            vocab_size: config.vocab_size,
            max_positions: config.max_positions,
            has_prediction_head: model.has_prediction_head(),
            warnings: model.warnings().to_vec(),
            mask_token: model
                .tokenizer
                .mask_token()
                .map(|(text, _)| text.to_string()),
        }
    }
}

/// Tokenizes `text` for `model`, cutting it to the model's positions; returns the tokens and
/// the original length when it was cut.
pub fn tokenize_within_limit(
    model: &Model,
    text: &str,
) -> crate::engine::Result<(TokenizedText, Option<usize>)> {
    let mut tokens = model.tokenize(text)?;
    let limit = model.config.max_positions;
    if tokens.ids.len() <= limit {
        return Ok((tokens, None));
    }
    let original = tokens.ids.len();
    tokens.ids.truncate(limit);
    tokens.tokens.truncate(limit);
    tokens.offsets.truncate(limit);
    tokens.special.truncate(limit);
    Ok((tokens, Some(original)))
}

/// Memory a browser gives the worker's wasm: wasm32 addresses 4 GiB.
const WASM_MEMORY_BYTES: f64 = 4.0 * (1u64 << 30) as f64;
/// Kept free of the estimate below: the allocator's slack and the response's encoding.
const MEMORY_HEADROOM_BYTES: f64 = 384.0 * (1u64 << 20) as f64;
/// A trace's memory beyond the weights, in attention-sized arrays (layers × heads × tokens² f32):
/// the scores and weights it records, the weights copied for the page, and the softmax's
/// temporaries. Measured in Chromium on GPT-2 small (2026-12-04): 2.34 GB at 1024 tokens,
/// 0.68 GB at 512, i.e. 3.9 and 4.5 of them (rounded up).
const TRACE_ATTENTION_COPIES: f64 = 5.0;
/// The same for saliency, whose backward pass keeps every op's input (the composed softmax
/// alone makes several arrays of that size per layer), with the last trace's layers the worker
/// holds: GPT-2 small at 512 tokens took the worker to 3.63 GB, 20.3 of them beyond the
/// weights; at 768 tokens the page crashed.
const SALIENCY_ATTENTION_COPIES: f64 = 21.0;

/// Refuses work whose attention arrays would not fit in the worker's wasm memory (a browser
/// ends the page when it runs out), with the longest text that would.
fn check_memory(
    config: &ModelConfig,
    weight_bytes: usize,
    tokens: usize,
    copies: f64,
    what: &str,
) -> crate::engine::Result<()> {
    let per_token_squared = (config.n_layer * config.n_head * 4) as f64 * copies;
    let available = WASM_MEMORY_BYTES - MEMORY_HEADROOM_BYTES - weight_bytes as f64;
    let needed = per_token_squared * (tokens * tokens) as f64;
    if needed <= available {
        return Ok(());
    }
    let longest = (available.max(0.0) / per_token_squared).sqrt().floor() as usize;
    Err(EngineError::Input(format!(
        "{what} over {tokens} tokens would need about {:.1} GB of memory for the attention \
         alone, more than the 4 GB a browser gives this page's model. Shorten the text to at \
         most {longest} tokens.",
        needed / 1e9
    )))
}

/// Most positions the positional-encoding views compute (the similarity matrix is its square).
pub const MAX_ENCODING_POSITIONS: usize = 512;
/// Widest sinusoidal encoding the panel may ask for.
pub const MAX_ENCODING_WIDTH: usize = 2048;

/// What the worker keeps between requests: the model, and the logits and attention internals
/// of the last trace.
#[derive(Default)]
pub struct Session {
    model: Option<Model>,
    /// Token ids and the predicted positions' logits of the last trace: new sampling settings
    /// re-score them without running the model again.
    last_logits: Option<(Vec<u32>, PredictionLogits)>,
    /// The last trace's request id and every layer's attention internals, for `Layer`.
    last_layers: Option<(u32, Vec<AttentionInternals<Tensor>>)>,
}

impl Session {
    /// The loaded model, if any.
    pub fn model(&self) -> Option<&Model> {
        self.model.as_ref()
    }

    /// Builds a model from its three files, replacing the loaded one (which is dropped first, so
    /// two never share memory); answers `Loaded` or the error for the user.
    pub fn load<S: ByteSource + ?Sized>(
        &mut self,
        config_json: &[u8],
        tokenizer_json: &[u8],
        weights: &S,
    ) -> Response {
        *self = Session::default();
        // A .gguf file carries its own numbers and tokenizer; the other two files are unused.
        let loaded = if crate::engine::is_gguf(weights) {
            Model::from_gguf(weights)
        } else {
            Model::from_source(config_json, tokenizer_json, weights)
        };
        match loaded {
            Ok(loaded) => {
                let card = ModelCard::of(&loaded);
                self.model = Some(loaded);
                Response::Loaded {
                    card,
                    wasm_memory_bytes: 0,
                    load_ms: 0.0,
                }
            }
            Err(e) => Response::Error {
                id: None,
                message: e.to_string(),
            },
        }
    }
}

/// Milliseconds on a monotonic clock (the worker's `performance.now()` in the browser; std's
/// clock natively and in wasm32-wasip1, where `scripts/bench-wasi.sh` runs the engine).
fn now_ms() -> f64 {
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    {
        use wasm_bindgen::JsCast;
        js_sys::global()
            .unchecked_into::<web_sys::WorkerGlobalScope>()
            .performance()
            .map_or_else(js_sys::Date::now, |p| p.now())
    }
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_secs_f64()
            * 1e3
    }
}

/// The largest matmul a benchmark request may ask for, in multiply-adds (GPT-2's LM head at 512
/// tokens is 2·10¹⁰).
const MAX_BENCHMARK_MACS: u64 = 40_000_000_000;

/// The most memory a cold matmul benchmark may fill with copies of one weight, in bytes (wasm32
/// has 4 GiB; one layout's copies are held at a time).
const MAX_COLD_BYTES: usize = 1 << 30;

fn time_matmuls(
    shapes: &[(usize, usize, usize)],
    runs: usize,
    cold_bytes: usize,
) -> crate::engine::Result<[Vec<f64>; 4]> {
    let runs = runs.clamp(1, 50);
    if cold_bytes > MAX_COLD_BYTES {
        return Err(EngineError::Input(format!(
            "cold_bytes {cold_bytes} is more than the {MAX_COLD_BYTES} bytes a cold matmul benchmark may fill"
        )));
    }
    // The floor runs under the engine's own matmul settings, whether or not a model is loaded.
    crate::engine::tune_matmul();
    // One sample is one product on each weight in turn. Browsers round `performance.now()` to
    // 0.1 ms without cross-origin isolation, so a short sample is repeated until it lasts
    // ~10 ms, and divided.
    let ms_per_product = |weights: &[Tensor],
                          product: &dyn Fn(&Tensor) -> candle_core::Result<Tensor>|
     -> crate::engine::Result<f64> {
        let sample = || -> candle_core::Result<()> {
            for weight in weights {
                product(weight)?;
            }
            Ok(())
        };
        let start = now_ms();
        sample()?;
        let once = (now_ms() - start).max(0.01);
        let repeats = (10.0 / once).ceil().clamp(1.0, 1000.0) as usize;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = now_ms();
            for _ in 0..repeats {
                sample()?;
            }
            times.push((now_ms() - start) / (repeats * weights.len().max(1)) as f64);
        }
        times.sort_by(f64::total_cmp);
        Ok(times[runs / 2])
    };
    let (mut k_n, mut n_k, mut weight_first, mut engine) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for &(m, k, n) in shapes {
        if m == 0 || k == 0 || n == 0 || (m as u64) * (k as u64) * (n as u64) > MAX_BENCHMARK_MACS {
            return Err(EngineError::Input(format!(
                "matmul {m}×{k}×{n} is empty or too large to time"
            )));
        }
        // Cold: enough distinct copies to fill `cold_bytes`, and at least two, so that each
        // product reads a weight the previous one did not.
        let weight_bytes = k * n * std::mem::size_of::<f32>();
        let copies = match cold_bytes {
            0 => 1,
            bytes => bytes.div_ceil(weight_bytes).clamp(2, 10_000),
        };
        if cold_bytes > 0 && copies * weight_bytes > MAX_COLD_BYTES {
            return Err(EngineError::Input(format!(
                "timing {m}×{k}×{n} cold needs {copies} copies of its {:.0} MB weight, more than \
                 the {MAX_COLD_BYTES} bytes a cold matmul benchmark may fill: time it warm \
                 (cold_bytes 0)",
                weight_bytes as f64 / 1e6
            )));
        }
        // Constant operands: a matmul's time does not depend on the values, and drawing 77M
        // normal samples for GPT-2's head would take seconds in wasm (the benchmark times
        // these shapes beside every measured run).
        let weights = |dims: (usize, usize)| -> candle_core::Result<Vec<Tensor>> {
            (0..copies)
                .map(|_| Tensor::full(0.25f32, dims, &Device::Cpu))
                .collect()
        };
        let x = Tensor::full(0.5f32, (m, k), &Device::Cpu)?;
        // One layout's copies at a time: cold copies of GPT-2's head fill ~0.6 GB.
        k_n.push(ms_per_product(&weights((k, n))?, &|w| x.matmul(w))?);
        let stored_n_k = weights((n, k))?;
        n_k.push(ms_per_product(&stored_n_k, &|w| x.matmul(&w.t()?))?);
        weight_first.push(ms_per_product(&stored_n_k, &|w| w.matmul(&x.t()?)?.t())?);
        engine.push(ms_per_product(&stored_n_k, &|w| {
            Linear::new(w.clone(), None).forward(&x)
        })?);
    }
    Ok([k_n, n_k, weight_first, engine])
}

/// Runs one request against the loaded model.
pub fn handle(session: &mut Session, request: Request) -> Response {
    let id = match &request {
        Request::CrashForTest => panic!("the test hook asked the worker to crash mid-request"),
        Request::MatmulBenchmark {
            id,
            shapes,
            runs,
            cold_bytes,
        } => {
            return time_matmuls(shapes, *runs, *cold_bytes).map_or_else(
                |e| Response::Error {
                    id: Some(*id),
                    message: e.to_string(),
                },
                |[stored_k_n_ms, stored_n_k_ms, weight_first_ms, engine_ms]| {
                    Response::MatmulTimes {
                        id: *id,
                        stored_k_n_ms,
                        stored_n_k_ms,
                        weight_first_ms,
                        engine_ms,
                    }
                },
            )
        }
        Request::Tokenize { id, .. }
        | Request::Trace { id, .. }
        | Request::Layer { id, .. }
        | Request::Predict { id, .. }
        | Request::LogitLens { id, .. }
        | Request::PositionalEncodings { id, .. }
        | Request::Rotary { id, .. }
        | Request::Saliency { id, .. } => Some(*id),
    };
    let Session {
        model,
        last_logits,
        last_layers,
    } = session;
    let result = (|| -> crate::engine::Result<Response> {
        let model = model
            .as_ref()
            .ok_or_else(|| EngineError::Input("No model is loaded yet: pick one first.".into()))?;
        Ok(match request {
            Request::CrashForTest | Request::MatmulBenchmark { .. } => {
                return Err(crate::engine::EngineError::Compute("handled above".into()))
            }
            Request::Tokenize { id, text } => {
                let (tokens, truncated_from) = tokenize_within_limit(model, &text)?;
                Response::Tokens {
                    id,
                    tokens,
                    truncated_from,
                }
            }
            Request::Trace { id, text, layer } => {
                let (tokens, truncated_from) = tokenize_within_limit(model, &text)?;
                check_memory(
                    &model.config,
                    model.parameter_count * 4,
                    tokens.ids.len(),
                    TRACE_ATTENTION_COPIES,
                    "A trace",
                )?;
                // The last trace's tensors go before this one's are made.
                *last_layers = None;
                let parts = model.page_trace(&tokens.ids)?;
                *last_logits = parts.predicted.map(|logits| (tokens.ids.clone(), logits));
                let layer = layer.min(parts.layers.len().saturating_sub(1));
                let layer_trace = parts
                    .layers
                    .get(layer)
                    .ok_or_else(|| EngineError::Compute("the model has no layers".into()))?
                    .to_layer_trace(layer)?;
                *last_layers = Some((id, parts.layers));
                Response::Trace {
                    id,
                    tokens,
                    truncated_from,
                    trace: Box::new(parts.trace),
                    layer_trace: Box::new(layer_trace),
                    compute_ms: 0.0,
                    wasm_memory_bytes: 0,
                }
            }
            Request::Layer { id, trace, layer } => {
                let layers = match last_layers {
                    Some((traced, layers)) if *traced == trace => layers,
                    _ => {
                        return Err(EngineError::Input(
                            "that trace is no longer in the worker: trace the text again".into(),
                        ))
                    }
                };
                let tensors = layers.get(layer).ok_or_else(|| {
                    EngineError::Input(format!(
                        "layer {} does not exist: the model has {} layers",
                        layer + 1,
                        layers.len()
                    ))
                })?;
                Response::Layer {
                    id,
                    trace,
                    layer_trace: Box::new(tensors.to_layer_trace(layer)?),
                }
            }
            Request::Predict {
                id,
                text,
                k,
                settings,
                seed,
            } => {
                let (tokens, _) = tokenize_within_limit(model, &text)?;
                let cached = last_logits.as_ref().filter(|(ids, _)| *ids == tokens.ids);
                let reused_logits = cached.is_some();
                let logits = match cached {
                    Some((_, logits)) => logits.clone(),
                    None => model.prediction_logits(&tokens.ids)?,
                };
                let predictions = model.predictions_from_rows(&logits, k, settings.temperature)?;
                let (survivors, sampled) = match &predictions {
                    Predictions::NextToken(_) => {
                        let row = logits.rows.get(0)?;
                        let sampled = match seed {
                            Some(seed) => {
                                let token = sample_token(&row, settings, seed)?;
                                Some(model.candidate(&row, token, settings.temperature)?)
                            }
                            None => None,
                        };
                        (Some(surviving_count(&row, settings)?), sampled)
                    }
                    Predictions::MaskFill(_) => (None, None),
                };
                Response::Predictions {
                    id,
                    predictions,
                    survivors,
                    sampled,
                    reused_logits,
                }
            }
            Request::LogitLens {
                id,
                text,
                position,
                k,
            } => {
                let (tokens, _) = tokenize_within_limit(model, &text)?;
                Response::LogitLens {
                    id,
                    lens: model.logit_lens(&tokens.ids, position, k)?,
                }
            }
            Request::PositionalEncodings {
                id,
                positions,
                d_model,
            } => {
                if !(1..=MAX_ENCODING_POSITIONS).contains(&positions)
                    || !(2..=MAX_ENCODING_WIDTH).contains(&d_model)
                {
                    return Err(EngineError::Input(format!(
                        "positions must be 1–{MAX_ENCODING_POSITIONS} and d_model 2–{MAX_ENCODING_WIDTH}, not {positions} and {d_model}"
                    )));
                }
                Response::PositionalEncodings {
                    id,
                    encodings: positional_encodings(
                        positions,
                        d_model,
                        model.position_table()?.as_ref(),
                    )?,
                }
            }
            Request::Rotary {
                id,
                positions,
                query,
                query_position,
                key,
                key_position,
            } => {
                let theta = model.config.rope_theta.ok_or_else(|| {
                    EngineError::Input(
                        "this model adds position embeddings; it has no rotary view".into(),
                    )
                })?;
                if !(1..=MAX_ENCODING_POSITIONS).contains(&positions) {
                    return Err(EngineError::Input(format!(
                        "positions must be 1–{MAX_ENCODING_POSITIONS}, not {positions}"
                    )));
                }
                Response::Rotary {
                    id,
                    view: rotary_view(
                        theta,
                        positions,
                        &query,
                        query_position,
                        &key,
                        key_position,
                    )?,
                }
            }
            Request::Saliency {
                id,
                text,
                position,
                target,
            } => {
                let (tokens, _) = tokenize_within_limit(model, &text)?;
                check_memory(
                    &model.config,
                    model.parameter_count * 4,
                    tokens.ids.len(),
                    SALIENCY_ATTENTION_COPIES,
                    "Saliency",
                )?;
                Response::Saliency {
                    id,
                    saliency: model.saliency(&tokens.ids, position, target)?,
                }
            }
        })
    })();
    result.unwrap_or_else(|e| Response::Error {
        id,
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GPT-2 small's limits in the worker: a trace fits at its longest context, saliency at
    /// 512 tokens (measured to fit) but not at 768 (measured to crash the page).
    #[test]
    fn memory_check_allows_what_fits_in_wasm32_and_names_the_longest_text() {
        let config = ModelConfig::from_json(
            br#"{"model_type":"gpt2","n_embd":768,"n_layer":12,"n_head":12,"n_positions":1024,"vocab_size":50257}"#,
        )
        .unwrap();
        let weight_bytes = 124_439_808 * 4;
        let check =
            |tokens, copies| check_memory(&config, weight_bytes, tokens, copies, "Saliency");
        assert!(check(1024, TRACE_ATTENTION_COPIES).is_ok());
        assert!(check(512, SALIENCY_ATTENTION_COPIES).is_ok());
        let Err(EngineError::Input(message)) = check(768, SALIENCY_ATTENTION_COPIES) else {
            panic!("saliency over 768 tokens should be refused");
        };
        assert!(
            message.contains("Saliency over 768 tokens") && message.contains("at most 529 tokens"),
            "{message}"
        );
    }
}
