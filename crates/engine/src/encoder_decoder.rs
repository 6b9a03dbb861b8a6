//! What an encoder–decoder (T5, BART, Marian) is to the rest of the engine: an encoder
//! [`Stack`] that reads the source, a decoder [`Stack`] whose blocks also attend to the
//! encoder's output (cross-attention: queries from the target, keys and values from the source),
//! and a head over the decoder's output. A family's file (`t5.rs`, `bart.rs`) builds the stacks
//! from its blocks; [`Stack::forward`] is the one loop that runs them.
use candle_core::{DType, Device, Tensor};

use super::attention::{KeyValues, ScoreTerms, SelfAttention};
use super::layers::{LayerNorm, LmHead, RmsNorm, TokenEmbedding};
use super::network::{Embedded, ForwardPass};
use super::recorder::Recorder;
use ae_messages::Interventions;

/// What a block reads besides its input.
#[derive(Debug, Clone, Copy)]
pub struct BlockContext<'a> {
    /// Where its self-attention's keys and values come from: the input, or the input after
    /// the earlier positions' (a decoder writing one token at a time).
    pub self_kv: KeyValues<'a>,
    /// Added to the block's self-attention scores: T5's relative position bias, the source's
    /// padding in the encoder.
    pub self_terms: ScoreTerms<'a>,
    /// The decoder's view of the source: where its cross-attention's keys and values come from
    /// (the encoder's output, or its projections) and which source tokens are not padding.
    /// `None` in the encoder.
    pub source: Option<(KeyValues<'a>, Option<&'a Tensor>)>,
}

/// What a decoder reads of the source.
#[derive(Debug, Clone, Copy)]
pub enum SourceView<'a> {
    /// The encoder's output [source, d_model]; each block projects its keys and values.
    Rows(&'a Tensor, Option<&'a Tensor>),
    /// Each block's projected keys and values of it, made once per source
    /// ([`Stack::project_source`]).
    Projected(&'a [(Tensor, Tensor)], Option<&'a Tensor>),
}

/// Every block's self-attention keys and values [heads, positions, d_head] so far: what a
/// decoder writing one token at a time does not compute again.
pub type PastKeyValues = Vec<(Tensor, Tensor)>;

/// One block of a stack: reads the residual stream [tokens, d_model], returns the next one,
/// and reports to the recorder's hook points (a decoder block also to its cross-attention hook).
pub trait StackBlock: Send + Sync {
    /// The block's output for input `x`.
    fn forward(
        &self,
        x: &Tensor,
        context: &BlockContext,
        rec: &mut Recorder,
    ) -> candle_core::Result<Tensor>;

    /// A decoder block's cross-attention (`None` in the encoder).
    fn cross_attention(&self) -> Option<&SelfAttention>;
}

/// How a stack knows where each token is.
#[derive(Debug, Clone)]
pub enum Positions {
    /// A learned table added to the input; position p reads row p + `offset` (BART: 2).
    Learned { table: Tensor, offset: usize },
    /// A fixed sinusoidal table added to the input (Marian), computed, not read.
    Sinusoidal(Tensor),
    /// Nothing added to the input: a learned bias per head on every score, by the bucket of
    /// the distance between query and key (T5).
    Relative(RelativeBias),
}

/// T5's relative position bias: the score of query i for key j gains the learned value of
/// bucket(j − i) for each head.
#[derive(Debug, Clone)]
pub struct RelativeBias {
    /// The learned values [buckets, heads].
    pub table: Tensor,
    /// Whether later keys count (the encoder) or share bucket 0 with the query (the decoder).
    pub bidirectional: bool,
    /// Number of buckets.
    pub buckets: usize,
    /// Distances from here on share the last bucket.
    pub max_distance: usize,
}

impl RelativeBias {
    /// The bucket of distance `relative` = key − query, as transformers' T5 computes it
    /// (`_relative_position_bucket`): exact buckets for small distances, logarithmic ones up to
    /// `max_distance`; bidirectionally, later keys take the upper half of the buckets.
    pub fn bucket(&self, relative: i64) -> usize {
        let (mut buckets, mut bucket) = (self.buckets as i64, 0);
        let distance = if self.bidirectional {
            buckets /= 2;
            if relative > 0 {
                bucket += buckets;
            }
            relative.abs()
        } else {
            (-relative).max(0)
        };
        let max_exact = buckets / 2;
        let in_bucket = if distance < max_exact {
            distance
        } else {
            // f32 as in transformers, truncated toward zero like its `.to(torch.long)`.
            let ratio = (distance as f32 / max_exact as f32).ln()
                / (self.max_distance as f64 / max_exact as f64).ln() as f32;
            let large = max_exact + (ratio * (buckets - max_exact) as f32) as i64;
            large.min(buckets - 1)
        };
        (bucket + in_bucket) as usize
    }

    /// Every distance up to `max_distance` (none later than the query in the decoder), its
    /// bucket and each head's bias [head, distance].
    pub fn by_distance(&self) -> candle_core::Result<(Vec<i64>, Vec<u32>, Tensor)> {
        let reach = self.max_distance as i64;
        let last = if self.bidirectional { reach } else { 0 };
        let distances: Vec<i64> = (-reach..=last).collect();
        let buckets: Vec<u32> = distances.iter().map(|&d| self.bucket(d) as u32).collect();
        let index = Tensor::new(buckets.as_slice(), &Device::Cpu)?;
        let bias = self.table.index_select(&index, 0)?.t()?.contiguous()?;
        Ok((distances, buckets, bias))
    }

    /// The bias for queries at positions `earlier`..`earlier + queries` and keys at 0..`keys`
    /// [heads, query, key].
    pub fn bias(&self, earlier: usize, queries: usize, keys: usize) -> candle_core::Result<Tensor> {
        let first = earlier as i64;
        let buckets: Vec<u32> = (first..first + queries as i64)
            .flat_map(|query| (0..keys as i64).map(move |key| (key, query)))
            .map(|(key, query)| self.bucket(key - query) as u32)
            .collect();
        let buckets = Tensor::from_vec(buckets, queries * keys, &Device::Cpu)?;
        let heads = self.table.dim(1)?;
        self.table
            .index_select(&buckets, 0)?
            .reshape((queries, keys, heads))?
            .permute((2, 0, 1))?
            .contiguous()
    }
}

/// One side of an encoder–decoder: embeddings, blocks and a final norm.
pub struct Stack {
    /// What the token embedding rows are multiplied by (√d_model for Marian).
    pub embedding_scale: f64,
    /// Where positions enter.
    pub positions: Positions,
    /// BART's `layernorm_embedding`, between the embeddings and the first block.
    pub embedding_norm: Option<LayerNorm>,
    /// The blocks, in order.
    pub blocks: Vec<Box<dyn StackBlock>>,
    /// The norm after the last block (T5's `final_layer_norm`); none for BART and Marian.
    pub final_norm: Option<RmsNorm>,
}

/// A stack's pass: the usual forward pass and the position bias its self-attention added.
pub struct StackPass {
    /// Embeddings, residual streams, final hidden states and the blocks' records.
    pub pass: ForwardPass,
    /// T5's relative position bias [heads, query, key], shared by the stack's layers.
    pub position_bias: Option<Tensor>,
}

impl Stack {
    /// Token embeddings × scale, + the positions from `earlier` on, through BART's embedding
    /// norm.
    fn embed(&self, token_embeddings: &Tensor, earlier: usize) -> candle_core::Result<Embedded> {
        let n_tokens = token_embeddings.dim(0)?;
        let scaled = (token_embeddings * self.embedding_scale)?;
        let position_embeddings = match &self.positions {
            Positions::Learned { table, offset } => {
                Some(table.narrow(0, offset + earlier, n_tokens)?)
            }
            Positions::Sinusoidal(table) => Some(table.narrow(0, earlier, n_tokens)?),
            Positions::Relative(_) => None,
        };
        let embedding_sum = match &position_embeddings {
            Some(positions) => (&scaled + positions)?,
            None => scaled,
        };
        let block_input = match &self.embedding_norm {
            Some(norm) => norm.forward(&embedding_sum)?,
            None => embedding_sum.clone(),
        };
        Ok(Embedded {
            position_embeddings,
            embedding_sum,
            block_input,
        })
    }

    /// Runs the stack over token embeddings [tokens, d_model]. `visible` [tokens] (u8) hides
    /// padding tokens from self-attention; `source` is the decoder's view of the encoder.
    pub fn forward(
        &self,
        token_embeddings: &Tensor,
        visible: Option<&Tensor>,
        source: Option<SourceView>,
        rec: Recorder,
    ) -> candle_core::Result<StackPass> {
        self.run(token_embeddings, None, visible, source, rec)
    }

    /// The decoder's next rows: token embeddings [new, d_model] at the positions after
    /// `past`'s, attending to them and to the source. Returns the final hidden rows
    /// [new, d_model] and the keys and values of every position so far.
    pub fn step(
        &self,
        token_embeddings: &Tensor,
        past: &PastKeyValues,
        source: SourceView,
        lab: &Interventions,
    ) -> candle_core::Result<(Tensor, PastKeyValues)> {
        let pass = self.run(
            token_embeddings,
            Some(past),
            None,
            Some(source),
            recorder(true, lab.decoder_side()),
        )?;
        let keys_values = pass
            .pass
            .layers
            .iter()
            .map(|layer| (layer.attention.k.clone(), layer.attention.v.clone()))
            .collect();
        Ok((pass.pass.final_hidden, keys_values))
    }

    /// Each block's cross-attention keys and values of the encoder's output: what a writing
    /// decoder reads at every step, projected once.
    pub fn project_source(&self, memory: &Tensor) -> candle_core::Result<PastKeyValues> {
        self.blocks
            .iter()
            .filter_map(|block| block.cross_attention())
            .map(|cross| cross.project_keys_values(memory))
            .collect()
    }

    /// The one loop: embeddings at the positions after `past`'s (none: from 0), then every
    /// block with its context.
    fn run(
        &self,
        token_embeddings: &Tensor,
        past: Option<&PastKeyValues>,
        visible: Option<&Tensor>,
        source: Option<SourceView>,
        mut rec: Recorder,
    ) -> candle_core::Result<StackPass> {
        let earlier = match past.and_then(|p| p.first()) {
            Some((k, _)) => k.dim(1)?,
            None => 0,
        };
        let embedded = self.embed(token_embeddings, earlier)?;
        let n_tokens = token_embeddings.dim(0)?;
        let position_bias = match &self.positions {
            Positions::Relative(relative) => {
                Some(relative.bias(earlier, n_tokens, earlier + n_tokens)?)
            }
            _ => None,
        };
        let self_terms = ScoreTerms {
            bias: position_bias.as_ref(),
            visible_keys: visible,
        };
        let mut x = embedded.block_input.clone();
        rec.residual_stream(&x)?;
        for (i, block) in self.blocks.iter().enumerate() {
            let self_kv = match past.and_then(|p| p.get(i)) {
                Some((k, v)) => KeyValues::AfterPast(k, v),
                None => KeyValues::Own,
            };
            let source = match source {
                None => None,
                Some(SourceView::Rows(memory, visible)) => Some((KeyValues::Of(memory), visible)),
                Some(SourceView::Projected(projected, visible)) => projected
                    .get(i)
                    .map(|(k, v)| (KeyValues::Projected(k, v), visible)),
            };
            let context = BlockContext {
                self_kv,
                self_terms,
                source,
            };
            x = block.forward(&x, &context, &mut rec)?;
            rec.residual_stream(&x)?;
        }
        let final_hidden = match &self.final_norm {
            Some(norm) => norm.forward(&x)?,
            None => x,
        };
        let (residual_streams, layers) = rec.finish();
        Ok(StackPass {
            pass: ForwardPass {
                embedded,
                residual_streams,
                final_hidden,
                layers,
            },
            position_bias,
        })
    }

    /// The learned or sinusoidal table, as the model adds it [positions, d_model]; `None` for
    /// relative positions.
    pub fn position_table(&self) -> Option<&Tensor> {
        match &self.positions {
            Positions::Learned { table, .. } | Positions::Sinusoidal(table) => Some(table),
            Positions::Relative(_) => None,
        }
    }
}

/// An encoder–decoder network.
pub struct EncoderDecoder {
    /// The token embedding both stacks read (the checkpoint's `shared`).
    pub embedding: TokenEmbedding,
    /// Reads the source.
    pub encoder: Stack,
    /// Writes the target, attending to the encoder's output.
    pub decoder: Stack,
    /// The decoder's output → vocabulary logits (BART's and Marian's `final_logits_bias` is
    /// its bias).
    pub head: LmHead,
    /// What the decoder's output is multiplied by before the head (T5 with a tied head:
    /// 1/√d_model).
    pub head_input_scale: f64,
}

/// Both stacks' passes over one (source, target) pair.
pub struct EncoderDecoderPass {
    /// The source's token embeddings [source, d_model].
    pub source_embeddings: Tensor,
    /// The encoder's pass.
    pub encoder: StackPass,
    /// The target's token embeddings [target, d_model].
    pub target_embeddings: Tensor,
    /// The decoder's pass; its blocks' records hold the cross-attention.
    pub decoder: StackPass,
}

impl EncoderDecoder {
    /// Runs the encoder over the source and the decoder over the target, with the lab's heads
    /// switched off. `source_visible` [source] (u8) marks the source tokens that are not
    /// padding.
    pub fn forward(
        &self,
        source_ids: &Tensor,
        source_visible: Option<&Tensor>,
        target_ids: &Tensor,
        keep_layers: bool,
        lab: &Interventions,
    ) -> candle_core::Result<EncoderDecoderPass> {
        let source_embeddings = self.embedding.forward(source_ids)?;
        let target_embeddings = self.embedding.forward(target_ids)?;
        self.forward_embeddings(
            source_embeddings,
            source_visible,
            target_embeddings,
            keep_layers,
            lab,
        )
    }

    /// [`EncoderDecoder::forward`] from the token embeddings of both sides (saliency
    /// differentiates with respect to them).
    pub fn forward_embeddings(
        &self,
        source_embeddings: Tensor,
        source_visible: Option<&Tensor>,
        target_embeddings: Tensor,
        keep_layers: bool,
        lab: &Interventions,
    ) -> candle_core::Result<EncoderDecoderPass> {
        let encoder = self.encoder.forward(
            &source_embeddings,
            source_visible,
            None,
            recorder(keep_layers, lab.encoder_side()),
        )?;
        let decoder = self.decode(
            &target_embeddings,
            &encoder.pass.final_hidden,
            source_visible,
            keep_layers,
            lab,
        )?;
        Ok(EncoderDecoderPass {
            source_embeddings,
            encoder,
            target_embeddings,
            decoder,
        })
    }

    /// The encoder's output [source, d_model] for the source, keeping nothing else.
    pub fn encode(
        &self,
        source_ids: &Tensor,
        source_visible: Option<&Tensor>,
        lab: &Interventions,
    ) -> candle_core::Result<Tensor> {
        let source_embeddings = self.embedding.forward(source_ids)?;
        let rec = recorder(false, lab.encoder_side());
        let pass = self
            .encoder
            .forward(&source_embeddings, source_visible, None, rec)?;
        Ok(pass.pass.final_hidden)
    }

    /// The decoder over target embeddings, attending to the encoder's output `memory`.
    pub fn decode(
        &self,
        target_embeddings: &Tensor,
        memory: &Tensor,
        source_visible: Option<&Tensor>,
        keep_layers: bool,
        lab: &Interventions,
    ) -> candle_core::Result<StackPass> {
        self.decoder.forward(
            target_embeddings,
            None,
            Some(SourceView::Rows(memory, source_visible)),
            recorder(keep_layers, lab.decoder_side()),
        )
    }

    /// Vocabulary logits from the decoder's final hidden rows [rows, d_model] → [rows, vocab].
    pub fn logits(&self, decoder_hidden: &Tensor) -> candle_core::Result<Tensor> {
        self.head.logits(&(decoder_hidden * self.head_input_scale)?)
    }
}

/// A recorder that keeps every block's intermediates, or the residual streams only, for a
/// stack that runs with `side` (the lab's heads of that stack).
fn recorder(keep_layers: bool, side: Interventions) -> Recorder {
    let rec = if keep_layers {
        Recorder::everything()
    } else {
        Recorder::streams_only()
    };
    rec.with_interventions(side, None)
}

/// Which source tokens are not padding, as u8 [source] (1 = visible); `None` when none is.
pub fn visible_tokens(ids: &[u32], pad_token_id: u32) -> candle_core::Result<Option<Tensor>> {
    if !ids.contains(&pad_token_id) {
        return Ok(None);
    }
    let visible: Vec<u8> = ids.iter().map(|&id| u8::from(id != pad_token_id)).collect();
    Tensor::from_vec(visible, ids.len(), &Device::Cpu)?
        .to_dtype(DType::U8)
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every bucket of distances −200..200 equals transformers' `_relative_position_bucket`
    /// (tests/fixtures/t5_buckets.json, tools/make_t5_bucket_fixture.py) for the T5 fixture's
    /// configuration and t5-small's, both ways and causal.
    #[test]
    fn buckets_are_transformers_buckets() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/t5_buckets.json"
        );
        let text = std::fs::read_to_string(path).expect("tests/fixtures/t5_buckets.json");
        let reference: serde_json::Value = serde_json::from_str(&text).expect("json");
        let cases = reference["cases"].as_array().expect("cases");
        assert_eq!(cases.len(), 4);
        for case in cases {
            let number = |key: &str| case[key].as_u64().expect(key) as usize;
            let relative = RelativeBias {
                table: Tensor::zeros((number("num_buckets"), 1), DType::F32, &Device::Cpu)
                    .expect("table"),
                bidirectional: case["bidirectional"].as_bool().expect("bidirectional"),
                buckets: number("num_buckets"),
                max_distance: number("max_distance"),
            };
            let pairs = case["distances"].as_array().zip(case["buckets"].as_array());
            let (distances, buckets) = pairs.expect("distances and buckets");
            for (distance, bucket) in distances.iter().zip(buckets) {
                let distance = distance.as_i64().expect("distance");
                assert_eq!(
                    Some(relative.bucket(distance) as u64),
                    bucket.as_u64(),
                    "{} both ways {}: distance {distance}",
                    case["config"],
                    case["bidirectional"]
                );
            }
        }
    }
}
