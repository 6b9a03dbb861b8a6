//! What the worker keeps between requests and how it answers each: one method per request, and
//! [`handle`], the dispatcher that picks it.
use candle_core::Tensor;

use ae_engine::{
    layer_trace, positional_encodings, rotary_view, sample_token, surviving_count, ByteSource,
    EngineError, Model, PredictionLogits, Result,
};
use ae_messages::{
    AttentionInternals, ModelCard, Predictions, Request, Response, SamplingSettings,
};

use crate::benchmark;
use crate::limits::{
    check_memory, tokenize_within_limit, MAX_ENCODING_POSITIONS, MAX_ENCODING_WIDTH,
    SALIENCY_ATTENTION_COPIES, TRACE_ATTENTION_COPIES,
};

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

/// Runs one request against the session.
pub fn handle(session: &mut Session, request: Request) -> Response {
    let id = request_id(&request);
    let answer = match request {
        Request::CrashForTest => panic!("the test hook asked the worker to crash mid-request"),
        Request::MatmulBenchmark {
            id,
            shapes,
            runs,
            cold_bytes,
        } => benchmark::matmul_times(id, &shapes, runs, cold_bytes),
        Request::Tokenize { id, text } => session.tokenize(id, &text),
        Request::Trace { id, text, layer } => session.trace(id, &text, layer),
        Request::Layer { id, trace, layer } => session.layer(id, trace, layer),
        Request::Predict {
            id,
            text,
            k,
            settings,
            seed,
        } => session.predict(id, &text, k, settings, seed),
        Request::LogitLens {
            id,
            text,
            position,
            k,
        } => session.logit_lens(id, &text, position, k),
        Request::PositionalEncodings {
            id,
            positions,
            d_model,
        } => session.positional_encodings(id, positions, d_model),
        Request::Rotary {
            id,
            positions,
            query,
            query_position,
            key,
            key_position,
        } => session.rotary(
            id,
            positions,
            (&query, query_position),
            (&key, key_position),
        ),
        Request::Saliency {
            id,
            text,
            position,
            target,
        } => session.saliency(id, &text, position, target),
    };
    answer.unwrap_or_else(|e| Response::Error {
        id,
        message: e.to_string(),
    })
}

/// The id a request carries.
fn request_id(request: &Request) -> Option<u32> {
    match request {
        Request::CrashForTest => None,
        Request::MatmulBenchmark { id, .. }
        | Request::Tokenize { id, .. }
        | Request::Trace { id, .. }
        | Request::Layer { id, .. }
        | Request::Predict { id, .. }
        | Request::LogitLens { id, .. }
        | Request::PositionalEncodings { id, .. }
        | Request::Rotary { id, .. }
        | Request::Saliency { id, .. } => Some(*id),
    }
}

/// The loaded model, or the error that asks for one.
fn loaded(model: &Option<Model>) -> Result<&Model> {
    model
        .as_ref()
        .ok_or_else(|| EngineError::Input("No model is loaded yet: pick one first.".into()))
}

/// The card of a loaded model.
pub fn model_card(model: &Model) -> ModelCard {
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
        let loaded = if ae_engine::is_gguf(weights) {
            Model::from_gguf(weights)
        } else {
            Model::from_source(config_json, tokenizer_json, weights)
        };
        match loaded {
            Ok(loaded) => {
                let card = model_card(&loaded);
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

    fn tokenize(&self, id: u32, text: &str) -> Result<Response> {
        let (tokens, truncated_from) = tokenize_within_limit(loaded(&self.model)?, text)?;
        Ok(Response::Tokens {
            id,
            tokens,
            truncated_from,
        })
    }

    /// The page trace, with `layer`'s internals (clamped to the last layer); every layer's are
    /// kept for `Layer` requests, and the predicted logits for `Predict`.
    fn trace(&mut self, id: u32, text: &str, layer: usize) -> Result<Response> {
        let model = loaded(&self.model)?;
        let (tokens, truncated_from) = tokenize_within_limit(model, text)?;
        let weight_bytes = model.parameter_count * 4;
        let n_tokens = tokens.ids.len();
        check_memory(
            &model.config,
            weight_bytes,
            n_tokens,
            TRACE_ATTENTION_COPIES,
            "A trace",
        )?;
        // The last trace's tensors go before this one's are made.
        self.last_layers = None;
        let parts = model.page_trace(&tokens.ids)?;
        self.last_logits = parts.predicted.map(|logits| (tokens.ids.clone(), logits));
        let layer = layer.min(parts.layers.len().saturating_sub(1));
        let internals = parts
            .layers
            .get(layer)
            .ok_or_else(|| EngineError::Compute("the model has no layers".into()))?;
        let layer_trace = layer_trace(layer, internals)?;
        self.last_layers = Some((id, parts.layers));
        Ok(Response::Trace {
            id,
            tokens,
            truncated_from,
            trace: Box::new(parts.trace),
            layer_trace: Box::new(layer_trace),
            compute_ms: 0.0,
            wasm_memory_bytes: 0,
        })
    }

    /// Another layer's internals from the trace answered to request `trace`.
    fn layer(&self, id: u32, trace: u32, layer: usize) -> Result<Response> {
        loaded(&self.model)?;
        let layers = match &self.last_layers {
            Some((traced, layers)) if *traced == trace => layers,
            _ => {
                return Err(EngineError::Input(
                    "that trace is no longer in the worker: trace the text again".into(),
                ))
            }
        };
        let internals = layers.get(layer).ok_or_else(|| {
            EngineError::Input(format!(
                "layer {} does not exist: the model has {} layers",
                layer + 1,
                layers.len()
            ))
        })?;
        Ok(Response::Layer {
            id,
            trace,
            layer_trace: Box::new(layer_trace(layer, internals)?),
        })
    }

    /// Top-k predictions (from the last trace's logits when it is the same text); for decoders
    /// the number of candidates top-k/top-p leave and, with a seed, a drawn token.
    fn predict(
        &self,
        id: u32,
        text: &str,
        k: usize,
        settings: SamplingSettings,
        seed: Option<u64>,
    ) -> Result<Response> {
        let model = loaded(&self.model)?;
        let (tokens, _) = tokenize_within_limit(model, text)?;
        let cached = self
            .last_logits
            .as_ref()
            .filter(|(ids, _)| *ids == tokens.ids);
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
        Ok(Response::Predictions {
            id,
            predictions,
            survivors,
            sampled,
            reused_logits,
        })
    }

    fn logit_lens(
        &self,
        id: u32,
        text: &str,
        position: Option<usize>,
        k: usize,
    ) -> Result<Response> {
        let model = loaded(&self.model)?;
        let (tokens, _) = tokenize_within_limit(model, text)?;
        Ok(Response::LogitLens {
            id,
            lens: model.logit_lens(&tokens.ids, position, k)?,
        })
    }

    fn positional_encodings(&self, id: u32, positions: usize, d_model: usize) -> Result<Response> {
        let model = loaded(&self.model)?;
        if !(1..=MAX_ENCODING_POSITIONS).contains(&positions)
            || !(2..=MAX_ENCODING_WIDTH).contains(&d_model)
        {
            return Err(EngineError::Input(format!(
                "positions must be 1–{MAX_ENCODING_POSITIONS} and d_model 2–{MAX_ENCODING_WIDTH}, not {positions} and {d_model}"
            )));
        }
        let table = model.position_table()?;
        Ok(Response::PositionalEncodings {
            id,
            encodings: positional_encodings(positions, d_model, table.as_ref())?,
        })
    }

    /// The RoPE view of a (query, its position) and a (key, its position) of the trace.
    fn rotary(
        &self,
        id: u32,
        positions: usize,
        (query, query_position): (&[f32], usize),
        (key, key_position): (&[f32], usize),
    ) -> Result<Response> {
        let model = loaded(&self.model)?;
        let theta = model.config.rope_theta.ok_or_else(|| {
            EngineError::Input("this model adds position embeddings; it has no rotary view".into())
        })?;
        if !(1..=MAX_ENCODING_POSITIONS).contains(&positions) {
            return Err(EngineError::Input(format!(
                "positions must be 1–{MAX_ENCODING_POSITIONS}, not {positions}"
            )));
        }
        Ok(Response::Rotary {
            id,
            view: rotary_view(theta, positions, query, query_position, key, key_position)?,
        })
    }

    fn saliency(
        &self,
        id: u32,
        text: &str,
        position: Option<usize>,
        target: Option<u32>,
    ) -> Result<Response> {
        let model = loaded(&self.model)?;
        let (tokens, _) = tokenize_within_limit(model, text)?;
        let weight_bytes = model.parameter_count * 4;
        let n_tokens = tokens.ids.len();
        check_memory(
            &model.config,
            weight_bytes,
            n_tokens,
            SALIENCY_ATTENTION_COPIES,
            "Saliency",
        )?;
        Ok(Response::Saliency {
            id,
            saliency: model.saliency(&tokens.ids, position, target)?,
        })
    }
}
