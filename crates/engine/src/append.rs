//! Tokens appended to a decoder's traced text (a clicked candidate, a sampled token, a
//! generated one). In a causal model a token reads only itself and the tokens before it, so
//! the earlier positions' numbers stay as they were: only the appended positions are computed,
//! their attention reading the earlier keys and values (a KV cache), and every recorded array
//! is extended. The result is the trace of the whole text.
use candle_core::{DType, Tensor};

use super::error::Result;
use super::model::{Model, PageTraceParts};
use super::network::{self, Embedded, ForwardPass};
use super::recorder::{EarlierPositions, LayerRecord, Recorder};
use super::Device;
use ae_messages::{Ablation, AttentionInternals, FeedForwardInternals, Interventions};

/// A traced text as the engine recorded it, kept so that the next trace may extend it.
#[derive(Debug, Clone)]
pub struct TracedText {
    pub(crate) ids: Vec<u32>,
    /// The lab's changes the pass ran with.
    pub(crate) interventions: Interventions,
    /// [tokens, d_model]
    pub(crate) token_embeddings: Tensor,
    pub(crate) pass: ForwardPass,
}

impl TracedText {
    /// Every block's recorded intermediates.
    pub fn layers(&self) -> &[LayerRecord] {
        &self.pass.layers
    }
}

impl Model {
    /// Whether the trace of `ids` may extend `traced`: `ids` are its ids with tokens appended,
    /// the model is a causal one-text model, and nothing in the lab lets a position read a
    /// later one (the causal mask off, a mean over the tokens replacing a head, padding).
    pub fn extends(&self, traced: &TracedText, ids: &[u32]) -> bool {
        let lab = &self.interventions;
        let mixes_positions = lab.causal_mask_off
            || lab.pad_to.is_some()
            || (lab.ablation == Ablation::Mean && !lab.ablated.is_empty());
        self.config.architecture.is_causal()
            && !self.is_encoder_decoder()
            && !mixes_positions
            && traced.interventions == *lab
            && ids.len() > traced.ids.len()
            && ids.starts_with(&traced.ids)
    }

    /// The page trace of `ids`: `traced`'s, extended by the appended tokens when
    /// [`Model::extends`] allows it, else a trace from scratch.
    pub fn page_trace_after(
        &self,
        traced: Option<TracedText>,
        ids: &[u32],
    ) -> Result<PageTraceParts> {
        match traced {
            Some(traced) if self.extends(&traced, ids) => self.extended_page_trace(traced, ids),
            other => {
                // The old pass's tensors go before the new one's are made.
                drop(other);
                self.page_trace(ids)
            }
        }
    }

    /// Runs the blocks over the tokens `ids` appends to `traced`, then extends its pass.
    fn extended_page_trace(&self, traced: TracedText, ids: &[u32]) -> Result<PageTraceParts> {
        self.check_ids(ids)?;
        let appended = Tensor::new(&ids[traced.ids.len()..], &Device::Cpu)?;
        let appended_embeddings = self.network()?.embed_tokens(&appended)?;
        let earlier = traced.layers().iter().map(EarlierPositions::from).collect();
        let rec = self
            .with_interventions(Recorder::everything(), ids)?
            .after(earlier);
        let appended_pass = network::forward(self.network()?, &appended_embeddings, rec)?;
        let token_embeddings = rows(&traced.token_embeddings, &appended_embeddings)?;
        let kept_tokens = traced.ids.len();
        let pass = extended(traced.pass, appended_pass)?;
        let parts = self.page_trace_parts(ids, token_embeddings, pass)?;
        Ok(PageTraceParts {
            kept_tokens,
            ..parts
        })
    }
}

/// `earlier` [tokens, …] with the rows of `appended` after them.
fn rows(earlier: &Tensor, appended: &Tensor) -> candle_core::Result<Tensor> {
    Tensor::cat(&[earlier, appended], 0)
}

/// [`rows`] of two optional parts (learned positions, a gated network's up projection),
/// which a model has in both passes or in neither.
fn optional_rows(
    earlier: &Option<Tensor>,
    appended: &Option<Tensor>,
) -> candle_core::Result<Option<Tensor>> {
    match (earlier, appended) {
        (Some(earlier), Some(appended)) => Ok(Some(rows(earlier, appended)?)),
        _ => Ok(None),
    }
}

/// [`rows`] for tensors [heads, tokens, …].
fn head_rows(earlier: &Tensor, appended: &Tensor) -> candle_core::Result<Tensor> {
    Tensor::cat(&[earlier, appended], 1)
}

/// The pass over the whole text, from the pass over its earlier tokens and the pass over the
/// appended ones.
fn extended(earlier: ForwardPass, appended: ForwardPass) -> candle_core::Result<ForwardPass> {
    let embedded = Embedded {
        position_embeddings: optional_rows(
            &earlier.embedded.position_embeddings,
            &appended.embedded.position_embeddings,
        )?,
        embedding_sum: rows(
            &earlier.embedded.embedding_sum,
            &appended.embedded.embedding_sum,
        )?,
        block_input: rows(
            &earlier.embedded.block_input,
            &appended.embedded.block_input,
        )?,
    };
    let residual_streams = earlier
        .residual_streams
        .iter()
        .zip(&appended.residual_streams)
        .map(|(earlier, appended)| rows(earlier, appended))
        .collect::<candle_core::Result<_>>()?;
    let layers = earlier
        .layers
        .into_iter()
        .zip(appended.layers)
        .map(|(earlier, appended)| extended_layer(earlier, appended))
        .collect::<candle_core::Result<_>>()?;
    Ok(ForwardPass {
        embedded,
        residual_streams,
        final_hidden: rows(&earlier.final_hidden, &appended.final_hidden)?,
        layers,
    })
}

/// One block's record over the whole text. The earlier queries' weights for the appended
/// keys are exactly 0, as the causal mask makes them in a full trace.
fn extended_layer(earlier: LayerRecord, appended: LayerRecord) -> candle_core::Result<LayerRecord> {
    let Some(earlier_scores) = &appended.earlier_scores else {
        candle_core::bail!("a block over appended tokens did not record the earlier scores")
    };
    let (e, a) = (&earlier.attention, &appended.attention);
    let attention = AttentionInternals {
        attention_input: rows(&e.attention_input, &a.attention_input)?,
        q: head_rows(&e.q, &a.q)?,
        k: a.k.clone(),
        v: a.v.clone(),
        scores: head_rows(&Tensor::cat(&[&e.scores, earlier_scores], 2)?, &a.scores)?,
        head_outputs: head_rows(&e.head_outputs, &a.head_outputs)?,
        attention_output: rows(&e.attention_output, &a.attention_output)?,
    };
    let hidden = Tensor::zeros(earlier_scores.shape(), DType::F32, earlier_scores.device())?;
    let earlier_weights = Tensor::cat(&[&earlier.attention_weights, &hidden], 2)?;
    let (e, a) = (&earlier.feed_forward, &appended.feed_forward);
    let feed_forward = FeedForwardInternals {
        norm_input: rows(&e.norm_input, &a.norm_input)?,
        norm_scale: e.norm_scale.clone(),
        norm_shift: e.norm_shift.clone(),
        input: rows(&e.input, &a.input)?,
        pre_activations: rows(&e.pre_activations, &a.pre_activations)?,
        up: optional_rows(&e.up, &a.up)?,
        activations: rows(&e.activations, &a.activations)?,
        output: rows(&e.output, &a.output)?,
    };
    Ok(LayerRecord {
        attention,
        attention_weights: head_rows(&earlier_weights, &appended.attention_weights)?,
        feed_forward,
        cross_attention: None,
        earlier_scores: None,
    })
}
