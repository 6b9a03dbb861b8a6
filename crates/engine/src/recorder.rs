//! What a forward pass keeps besides its result, and what the lab changes in it. Every family's
//! blocks call the same hook points (attention, MLP, block output); the recorder alone decides
//! what is kept and which edits each block's attention makes, as TransformerLens does with its
//! hook points.
use candle_core::Tensor;

use super::attention::AttentionEdit;
use ae_messages::{AttentionInternals, FeedForwardInternals, Interventions};

/// One block's recorded intermediates.
#[derive(Debug, Clone)]
pub struct LayerRecord {
    /// Attention's input, Q, K, V, scores, head outputs and output.
    pub attention: AttentionInternals<Tensor>,
    /// Softmax of the masked scores; every row sums to 1 [heads, query, key].
    pub attention_weights: Tensor,
    /// The feed-forward network's input, pre-activations, activations and output.
    pub feed_forward: FeedForwardInternals<Tensor>,
    /// An encoder–decoder's decoder block: its cross-attention over the source, with its
    /// weights [heads, target, source].
    pub cross_attention: Option<(AttentionInternals<Tensor>, Tensor)>,
    /// In a pass over appended tokens, the earlier queries' scores for the appended keys
    /// [heads, earlier, appended]: the rest of the full text's scores.
    pub earlier_scores: Option<Tensor>,
}

/// What a pass over tokens appended to a traced text reads of one block's attention at the
/// earlier positions, each [heads, earlier, d_head] (keys and values one per query head).
#[derive(Debug, Clone)]
pub struct EarlierPositions {
    pub queries: Tensor,
    pub keys: Tensor,
    pub values: Tensor,
}

impl From<&LayerRecord> for EarlierPositions {
    fn from(record: &LayerRecord) -> Self {
        EarlierPositions {
            queries: record.attention.q.clone(),
            keys: record.attention.k.clone(),
            values: record.attention.v.clone(),
        }
    }
}

/// The hook points' sink for one forward pass.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Whether blocks' intermediates are kept (the residual streams always are: they are the
    /// blocks' outputs, which the logit lens and the hidden states read).
    keep_layers: bool,
    residual_streams: Vec<Tensor>,
    layers: Vec<LayerRecord>,
    attention: Option<(AttentionInternals<Tensor>, Tensor)>,
    cross_attention: Option<(AttentionInternals<Tensor>, Tensor)>,
    feed_forward: Option<FeedForwardInternals<Tensor>>,
    /// The lab's changes to this pass.
    interventions: Interventions,
    /// The keys attention may read [key] (u8 1 or 0): the key padding mask; `None`: all.
    visible_keys: Option<Tensor>,
    /// Per block, the earlier positions when this pass runs over appended tokens; else empty.
    earlier: Vec<EarlierPositions>,
    earlier_scores: Option<Tensor>,
}

impl Recorder {
    /// Keeps the residual streams only.
    pub fn streams_only() -> Self {
        Recorder::default()
    }

    /// Keeps every block's intermediates too.
    pub fn everything() -> Self {
        Recorder {
            keep_layers: true,
            ..Recorder::default()
        }
    }

    /// Runs the pass with the lab's `interventions`, hiding the keys `visible_keys` marks 0.
    pub fn with_interventions(
        mut self,
        interventions: Interventions,
        visible_keys: Option<Tensor>,
    ) -> Self {
        self.interventions = interventions;
        self.visible_keys = visible_keys;
        self
    }

    /// Runs the pass over tokens appended after the positions `earlier` holds (one entry per
    /// block): the blocks read their rows only, and their attention reads the earlier keys.
    pub fn after(mut self, earlier: Vec<EarlierPositions>) -> Self {
        self.earlier = earlier;
        self
    }

    /// The block now running's earlier positions, in a pass over appended tokens.
    pub fn earlier(&self) -> Option<&EarlierPositions> {
        self.earlier.get(self.running_block())
    }

    /// How many positions come before the pass's tokens (0 unless they are appended).
    pub fn earlier_positions(&self) -> candle_core::Result<usize> {
        self.earlier.first().map_or(Ok(0), |e| e.keys.dim(1))
    }

    /// The block now running (once the stream entering it is recorded).
    fn running_block(&self) -> usize {
        self.residual_streams.len().saturating_sub(1)
    }

    /// What the block now running changes in its attention.
    pub fn attention_edit(&self) -> AttentionEdit {
        let layer = self.running_block();
        AttentionEdit {
            ablated: self.interventions.ablated_in(layer),
            ablation: self.interventions.ablation,
            causal_mask_off: self.interventions.causal_mask_off,
        }
    }

    /// What the block now running changes in its cross-attention.
    pub fn cross_attention_edit(&self) -> AttentionEdit {
        let layer = self.running_block();
        AttentionEdit {
            ablated: self.interventions.ablated_cross_in(layer),
            ablation: self.interventions.ablation,
            causal_mask_off: false,
        }
    }

    /// The keys every block's attention may read (the padding mask), if some are hidden.
    pub fn visible_keys(&self) -> Option<&Tensor> {
        self.visible_keys.as_ref()
    }

    /// Hook: a block's attention, with its weights (the probabilities).
    pub fn attention(&mut self, internals: AttentionInternals<Tensor>, weights: Tensor) {
        if self.keep_layers {
            self.attention = Some((internals, weights));
        }
    }

    /// Hook: in a pass over appended tokens, the earlier queries' scores for them.
    pub fn earlier_scores(&mut self, scores: Tensor) {
        if self.keep_layers {
            self.earlier_scores = Some(scores);
        }
    }

    /// Hook: a decoder block's cross-attention over the encoder's output, with its weights.
    pub fn cross_attention(&mut self, internals: AttentionInternals<Tensor>, weights: Tensor) {
        if self.keep_layers {
            self.cross_attention = Some((internals, weights));
        }
    }

    /// Hook: a block's feed-forward network (MLP).
    pub fn feed_forward(&mut self, internals: FeedForwardInternals<Tensor>) {
        if self.keep_layers {
            self.feed_forward = Some(internals);
        }
    }

    /// Hook: the residual stream entering the first block or leaving a block; a block's output
    /// closes its record.
    pub fn residual_stream(&mut self, stream: &Tensor) -> candle_core::Result<()> {
        let first = self.residual_streams.is_empty();
        self.residual_streams.push(stream.clone());
        if first || !self.keep_layers {
            return Ok(());
        }
        match (self.attention.take(), self.feed_forward.take()) {
            (Some((attention, attention_weights)), Some(feed_forward)) => {
                self.layers.push(LayerRecord {
                    attention,
                    attention_weights,
                    feed_forward,
                    cross_attention: self.cross_attention.take(),
                    earlier_scores: self.earlier_scores.take(),
                });
                Ok(())
            }
            _ => candle_core::bail!(
                "block {} did not record its attention and MLP",
                self.residual_streams.len() - 1
            ),
        }
    }

    /// The residual streams (n_layer + 1) and, when kept, the blocks' records.
    pub fn finish(self) -> (Vec<Tensor>, Vec<LayerRecord>) {
        (self.residual_streams, self.layers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn keeps_what_it_is_asked_to_and_names_a_block_that_recorded_nothing() -> candle_core::Result<()>
    {
        let x = Tensor::zeros((2, 3), candle_core::DType::F32, &Device::Cpu)?;
        let internals = AttentionInternals {
            attention_input: x.clone(),
            q: x.clone(),
            k: x.clone(),
            v: x.clone(),
            scores: x.clone(),
            head_outputs: x.clone(),
            attention_output: x.clone(),
        };
        for (mut rec, kept) in [(Recorder::streams_only(), 0), (Recorder::everything(), 1)] {
            rec.residual_stream(&x)?;
            rec.attention(internals.clone(), x.clone());
            rec.feed_forward(FeedForwardInternals {
                norm_input: x.clone(),
                norm_scale: x.clone(),
                norm_shift: None,
                input: x.clone(),
                pre_activations: x.clone(),
                up: None,
                activations: x.clone(),
                output: x.clone(),
            });
            rec.residual_stream(&x)?;
            let (streams, layers) = rec.finish();
            assert_eq!((streams.len(), layers.len()), (2, kept));
        }
        let mut rec = Recorder::everything();
        rec.residual_stream(&x)?;
        rec.attention(internals, x.clone());
        let error = rec
            .residual_stream(&x)
            .expect_err("the MLP was not recorded");
        assert!(
            error.to_string().contains("block 1 did not record"),
            "{error}"
        );
        Ok(())
    }
}
