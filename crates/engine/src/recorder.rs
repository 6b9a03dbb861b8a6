//! What a forward pass keeps besides its result. Every family's blocks call the same hook
//! points (attention, MLP, block output); the recorder alone decides what is kept, as
//! TransformerLens does with its hook points.
use candle_core::Tensor;

use ae_messages::{AttentionInternals, FeedForwardInternals};

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

    /// Hook: a block's attention, with its weights (the probabilities).
    pub fn attention(&mut self, internals: AttentionInternals<Tensor>, weights: Tensor) {
        if self.keep_layers {
            self.attention = Some((internals, weights));
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
