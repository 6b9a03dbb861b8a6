//! What the worker keeps between requests and how it answers each: one method per request, and
//! [`handle`], the dispatcher that picks it.

use ae_engine::{
    layer_trace, neuron_factors, positional_encodings, rotary_view, sample_token, surviving_count,
    toy_attention, ByteSource, EngineError, LayerRecord, Model, PredictionLogits, Result,
    TracedText,
};
use ae_messages::{
    DecoderCard, Decoding, Interventions, ModelCard, Predictions, Request, Response,
    SamplingSettings, Work,
};

use crate::benchmark;
use crate::limits::{
    check_memory, text_tokens, view_out_of_range, MAX_ENCODING_POSITIONS, MAX_ENCODING_WIDTH,
};

/// What the worker keeps between requests: the model, and the logits and attention internals
/// of the last trace.
#[derive(Default)]
pub struct Session {
    model: Option<Model>,
    /// Token ids and the predicted positions' logits of the last trace: new sampling settings
    /// re-score them without running the model again.
    last_logits: Option<(Vec<u32>, PredictionLogits)>,
    /// The last trace's request id and its recorded pass: every layer's internals, for
    /// `Layer`, and what the next trace extends when it only appends tokens.
    last_trace: Option<(u32, TracedText)>,
    /// Where a long request reports how far it is.
    progress: Option<Box<ProgressReport>>,
}

/// Reports (request id, steps done, steps in all).
type ProgressReport = dyn Fn(u32, usize, usize);

/// Answers request `id`. A `Load` comes with its weights beside it: the browser's event loop
/// calls [`Session::load`] with them, and natively so do the tests.
pub fn handle(session: &mut Session, id: u32, request: Request) -> Response {
    let answer = match request {
        Request::CrashForTest => panic!("the test hook asked the worker to crash mid-request"),
        Request::Load { .. } => Err(EngineError::bad_request(
            "a Load request carries its weights beside it: the worker's event loop loads it",
        )),
        Request::MatmulBenchmark {
            shapes,
            runs,
            cold_bytes,
        } => benchmark::matmul_times(&shapes, runs, cold_bytes),
        Request::ToyAttention { toy } => {
            toy_attention(&toy).map(|toy| Response::ToyAttention { toy: Box::new(toy) })
        }
        Request::Tokenize { text, lab } => session.tokenize(&text, &lab),
        Request::Trace { text, layer, lab } => session.trace(id, &text, layer, &lab),
        Request::Layer { trace, layer } => session.layer(trace, layer),
        Request::Predict {
            text,
            k,
            settings,
            seed,
            as_trained,
        } => match as_trained {
            true => session.with_other_lab(&Interventions::default(), |s| {
                s.predict(&text, k, settings, seed)
            }),
            false => session.predict(&text, k, settings, seed),
        },
        Request::LogitLens { text, position, k } => session.logit_lens(&text, position, k),
        Request::Rankings { text, watch } => session.rankings(&text, &watch),
        Request::Anatomy => session.anatomy(),
        Request::Factors {
            trace,
            layers,
            factors,
        } => session.factors(trace, layers, factors),
        Request::PositionalEncodings { positions, d_model } => {
            session.positional_encodings(positions, d_model)
        }
        Request::Rotary {
            positions,
            query,
            query_position,
            key,
            key_position,
        } => session.rotary(positions, (&query, query_position), (&key, key_position)),
        Request::Saliency {
            text,
            position,
            target,
        } => session.saliency(&text, position, target),
        Request::HeadImportance {
            text,
            position,
            target,
        } => session.head_importance(id, &text, position, target),
        Request::InductionScores { period, seed } => session.induction_scores(period, seed),
        Request::CompareTrace { text, lab } => match lab {
            Some(lab) => session.with_other_lab(&lab, |s| s.compare_trace(&text)),
            None => session.compare_trace(&text),
        },
        Request::TranslationTrace {
            source,
            target,
            lab,
        } => session.translation_trace(&source, &target, &lab),
        Request::Generate {
            source,
            max_tokens,
            decoding,
            lab,
        } => session.generate(&source, max_tokens, decoding, &lab),
        Request::PairSaliency {
            source,
            target,
            position,
            target_id,
            lab,
        } => session.pair_saliency(&source, &target, (position, target_id), &lab),
    };
    answer.unwrap_or_else(|error| Response::Error { error })
}

impl Session {
    /// A session that reports long requests' progress to `progress(id, done, total)`.
    pub fn reporting(progress: impl Fn(u32, usize, usize) + 'static) -> Self {
        Session {
            progress: Some(Box::new(progress)),
            ..Session::default()
        }
    }
}

/// The loaded model, or the error that asks for one.
fn loaded(model: &Option<Model>) -> Result<&Model> {
    model.as_ref().ok_or(EngineError::NoModel)
}

/// The card of a loaded model.
fn model_card(model: &Model) -> ModelCard {
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
        activation: Some(config.activation.into()),
        gated_mlp: config.gated_mlp(),
        norm_eps: config.layer_norm_eps,
        decoder: config.encoder_decoder.as_ref().map(|seq2seq| DecoderCard {
            n_layer: seq2seq.decoder_layers,
            n_head: seq2seq.decoder_heads,
        }),
        threads: ae_engine::pieces(),
    }
}

/// A source's and a target's ids for an encoder–decoder, after checking they fit the memory a
/// trace or saliency (`work`) of the longer side needs.
fn pair_ids(model: &Model, source: &str, target: &str, work: Work) -> Result<(Vec<u32>, Vec<u32>)> {
    let source = model.tokenize(source)?.ids;
    let target = model.target_ids(target)?;
    let longest = source.len().max(target.len());
    check_memory(&model.config, model.parameter_count * 4, longest, work)?;
    Ok((source, target))
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
        target_tokenizer_json: Option<&[u8]>,
        weights: &S,
    ) -> Response {
        // The old model and everything kept of it go first; where progress goes stays.
        *self = Session {
            progress: self.progress.take(),
            ..Session::default()
        };
        // A .gguf file carries its own numbers and tokenizer; the other two files are unused.
        let loaded = if ae_engine::is_gguf(weights) {
            Model::from_gguf(weights)
        } else {
            Model::from_source(config_json, tokenizer_json, weights).and_then(|model| {
                match target_tokenizer_json {
                    Some(json) => model.with_target_tokenizer(json),
                    None => Ok(model),
                }
            })
        };
        match loaded {
            Ok(loaded) => {
                let card = model_card(&loaded);
                self.model = Some(loaded);
                Response::Loaded { card }
            }
            Err(error) => Response::LoadFailed { error },
        }
    }

    /// Makes the model run with `lab` from now on (a no-op when it already does); the kept
    /// logits belong to the old interventions and go.
    fn use_lab(&mut self, lab: &Interventions) -> Result<&Model> {
        let model = self.model.as_mut().ok_or(EngineError::NoModel)?;
        if model.interventions() != lab {
            model.set_interventions(lab.clone())?;
            self.last_logits = None;
        }
        Ok(model)
    }

    /// `work` on the model with `other` interventions (none: the model as trained), the lab's
    /// set aside and then restored with the trace's kept logits (they are the restored
    /// model's).
    fn with_other_lab(
        &mut self,
        other: &Interventions,
        work: impl FnOnce(&Self) -> Result<Response>,
    ) -> Result<Response> {
        let lab = loaded(&self.model)?.interventions().clone();
        let kept_logits = self.last_logits.take();
        let answer = match self.use_lab(other) {
            Ok(_) => work(self),
            Err(error) => Err(error),
        };
        self.use_lab(&lab)?;
        self.last_logits = kept_logits;
        answer
    }

    fn tokenize(&mut self, text: &str, lab: &Interventions) -> Result<Response> {
        let (tokens, truncated_from) = text_tokens(self.use_lab(lab)?, text)?;
        Ok(Response::Tokens {
            tokens,
            truncated_from,
        })
    }

    /// The page trace, with `layer`'s internals (clamped to the last layer); every layer's are
    /// kept for `Layer` requests, and the predicted logits for `Predict`.
    fn trace(
        &mut self,
        id: u32,
        text: &str,
        layer: usize,
        lab: &Interventions,
    ) -> Result<Response> {
        self.use_lab(lab)?;
        let model = loaded(&self.model)?;
        let (tokens, truncated_from) = text_tokens(model, text)?;
        let weight_bytes = model.parameter_count * 4;
        let n_tokens = tokens.ids.len();
        check_memory(&model.config, weight_bytes, n_tokens, Work::Trace)?;
        // The last trace is extended when this text appends tokens to it; else its tensors
        // go before this one's are made.
        let last_trace = self.last_trace.take().map(|(_, traced)| traced);
        let parts = model.page_trace_after(last_trace, &tokens.ids)?;
        self.last_logits = parts.predicted.map(|logits| (tokens.ids.clone(), logits));
        let layers = parts.traced.layers();
        let layer = layer.min(layers.len().saturating_sub(1));
        let record = layers
            .get(layer)
            .ok_or_else(|| EngineError::compute("the model has no layers"))?;
        let layer_trace = layer_trace(layer, record)?;
        self.last_trace = Some((id, parts.traced));
        Ok(Response::Trace {
            tokens,
            truncated_from,
            trace: Box::new(parts.trace),
            layer_trace: Box::new(layer_trace),
            kept_tokens: parts.kept_tokens,
        })
    }

    /// The layers kept from the trace answered to request `trace`.
    fn traced_layers(&self, trace: u32) -> Result<&[LayerRecord]> {
        loaded(&self.model)?;
        match &self.last_trace {
            Some((traced, text)) if *traced == trace => Ok(text.layers()),
            _ => Err(EngineError::TraceGone),
        }
    }

    /// Another layer's internals from the trace answered to request `trace`.
    fn layer(&self, trace: u32, layer: usize) -> Result<Response> {
        let layers = self.traced_layers(trace)?;
        let internals = layers.get(layer).ok_or(EngineError::LayerOutOfRange {
            layer,
            layers: layers.len(),
        })?;
        Ok(Response::Layer {
            trace,
            layer_trace: Box::new(layer_trace(layer, internals)?),
        })
    }

    /// Top-k predictions (from the last trace's logits when it is the same text); for decoders
    /// the number of candidates top-k/top-p leave and, with a seed, a drawn token.
    fn predict(
        &self,
        text: &str,
        k: usize,
        settings: SamplingSettings,
        seed: Option<u64>,
    ) -> Result<Response> {
        let model = loaded(&self.model)?;
        let (tokens, _) = text_tokens(model, text)?;
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
            predictions,
            survivors,
            sampled,
            reused_logits,
        })
    }

    fn logit_lens(&self, text: &str, position: Option<usize>, k: usize) -> Result<Response> {
        let model = loaded(&self.model)?;
        let (tokens, _) = text_tokens(model, text)?;
        Ok(Response::LogitLens {
            lens: model.logit_lens(&tokens.ids, position, k)?,
        })
    }

    fn rankings(&self, text: &str, watch: &[String]) -> Result<Response> {
        let model = loaded(&self.model)?;
        let (tokens, _) = text_tokens(model, text)?;
        Ok(Response::Rankings {
            rankings: model.rankings(&tokens.ids, watch)?,
        })
    }

    fn anatomy(&self) -> Result<Response> {
        Ok(Response::Anatomy {
            anatomy: loaded(&self.model)?.anatomy.clone(),
        })
    }

    /// The NMF of a range of layers' neuron activations from the trace answered to `trace`.
    fn factors(&self, trace: u32, layers: (usize, usize), factors: usize) -> Result<Response> {
        Ok(Response::Factors {
            factors: neuron_factors(self.traced_layers(trace)?, layers, factors)?,
        })
    }

    fn positional_encodings(&self, positions: usize, d_model: usize) -> Result<Response> {
        let model = loaded(&self.model)?;
        if !(1..=MAX_ENCODING_POSITIONS).contains(&positions)
            || !(2..=MAX_ENCODING_WIDTH).contains(&d_model)
        {
            return Err(view_out_of_range(positions, Some(d_model)));
        }
        let table = model.position_table()?;
        Ok(Response::PositionalEncodings {
            encodings: positional_encodings(positions, d_model, table.as_ref())?,
        })
    }

    /// The RoPE view of a (query, its position) and a (key, its position) of the trace.
    fn rotary(
        &self,
        positions: usize,
        (query, query_position): (&[f32], usize),
        (key, key_position): (&[f32], usize),
    ) -> Result<Response> {
        let model = loaded(&self.model)?;
        let theta = model.config.rope_theta.ok_or(EngineError::NoRotaryView)?;
        if !(1..=MAX_ENCODING_POSITIONS).contains(&positions) {
            return Err(view_out_of_range(positions, None));
        }
        Ok(Response::Rotary {
            view: rotary_view(theta, positions, query, query_position, key, key_position)?,
        })
    }

    fn saliency(
        &self,
        text: &str,
        position: Option<usize>,
        target: Option<u32>,
    ) -> Result<Response> {
        let model = loaded(&self.model)?;
        let (tokens, _) = text_tokens(model, text)?;
        let weight_bytes = model.parameter_count * 4;
        let n_tokens = tokens.ids.len();
        check_memory(&model.config, weight_bytes, n_tokens, Work::Saliency)?;
        Ok(Response::Saliency {
            saliency: model.saliency(&tokens.ids, position, target)?,
        })
    }

    /// The drop in the target's log-probability with each head alone switched off, reporting
    /// each pass to request `id`'s asker.
    fn head_importance(
        &self,
        id: u32,
        text: &str,
        position: Option<usize>,
        target: Option<u32>,
    ) -> Result<Response> {
        let model = loaded(&self.model)?;
        let (tokens, _) = text_tokens(model, text)?;
        let mut report = |done, total| {
            if let Some(progress) = &self.progress {
                progress(id, done, total);
            }
        };
        Ok(Response::HeadImportance {
            importance: model.head_importance_reporting(
                &tokens.ids,
                position,
                target,
                &mut report,
            )?,
        })
    }

    /// A second text's page trace; nothing of it is kept.
    fn compare_trace(&self, text: &str) -> Result<Response> {
        let model = loaded(&self.model)?;
        let (tokens, truncated_from) = text_tokens(model, text)?;
        if let Some(tokens) = truncated_from {
            let max = model.config.max_positions;
            return Err(EngineError::SecondTextTooLong { tokens, max });
        }
        let weight_bytes = model.parameter_count * 4;
        check_memory(&model.config, weight_bytes, tokens.ids.len(), Work::Trace)?;
        let trace = model.page_trace(&tokens.ids)?.trace;
        Ok(Response::CompareTrace {
            tokens,
            trace: Box::new(trace),
        })
    }

    /// The induction-head detector's scores.
    fn induction_scores(&self, period: usize, seed: u64) -> Result<Response> {
        Ok(Response::InductionScores {
            induction: loaded(&self.model)?.induction_scores(period, seed)?,
        })
    }
}

/// An encoder–decoder's requests.
impl Session {
    /// The full trace of (source, target so far), with `lab`'s heads switched off.
    fn translation_trace(
        &mut self,
        source: &str,
        target: &str,
        lab: &Interventions,
    ) -> Result<Response> {
        let model = self.use_lab(lab)?;
        let (source, target) = pair_ids(model, source, target, Work::Trace)?;
        Ok(Response::TranslationTrace {
            trace: Box::new(model.encoder_decoder_trace(&source, &target)?),
        })
    }

    /// A target written for the source, with `lab`'s heads switched off.
    fn generate(
        &mut self,
        source: &str,
        max_tokens: usize,
        decoding: Decoding,
        lab: &Interventions,
    ) -> Result<Response> {
        let model = self.use_lab(lab)?;
        let (source, _) = pair_ids(model, source, "", Work::Trace)?;
        Ok(Response::Generation {
            generation: model.generate(&source, max_tokens, decoding)?,
        })
    }

    /// Saliency of one target logit (at a position, of a token) over the source and the
    /// target so far, with `lab`'s heads switched off.
    fn pair_saliency(
        &mut self,
        source: &str,
        target: &str,
        (position, target_id): (Option<usize>, Option<u32>),
        lab: &Interventions,
    ) -> Result<Response> {
        let model = self.use_lab(lab)?;
        let (source, target) = pair_ids(model, source, target, Work::Saliency)?;
        Ok(Response::PairSaliency {
            saliency: model.pair_saliency(&source, &target, position, target_id)?,
        })
    }
}
