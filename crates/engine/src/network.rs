//! What every model family is to the rest of the engine: a [`Network`] of [`Block`]s between an
//! embedding and an optional LM head, run by one shared loop ([`forward`]). A new family is one
//! file implementing these traits and one line in [`load`].
use candle_core::Tensor;

use super::checkpoint::Checkpoint;
use super::config::ModelConfig;
use super::encoder_decoder::EncoderDecoder;
use super::error::{tensor_damage, weights_error, Damage, EngineError, Result};
use super::layers::LmHead;
use super::recorder::{LayerRecord, Recorder};
use super::{bart, bert, distilbert, gpt2, llama, t5};
use ae_messages::Architecture;

/// One transformer block: reads the residual stream [tokens, d_model], returns the next one,
/// and reports its intermediates to the recorder's hook points.
pub trait Block {
    /// The block's output for input `x`.
    fn forward(&self, x: &Tensor, rec: &mut Recorder) -> candle_core::Result<Tensor>;
}

/// The input embeddings of one text, as the first block receives them.
#[derive(Debug, Clone)]
pub struct Embedded {
    /// The position table's rows for positions 0..tokens [tokens, d_model]; `None` for rotary
    /// models, which add no position to the input.
    pub position_embeddings: Option<Tensor>,
    /// Token + position (+ segment) embedding, before any normalisation [tokens, d_model]
    /// (the token embedding alone for rotary models).
    pub embedding_sum: Tensor,
    /// What the first block reads (BERT: after the embeddings' LayerNorm).
    pub block_input: Tensor,
}

/// A model family's network.
pub trait Network: Send + Sync {
    /// The token embedding rows for `ids` [tokens, d_model].
    fn embed_tokens(&self, ids: &Tensor) -> candle_core::Result<Tensor>;
    /// Adds what the family adds to the token embeddings (positions from `first_position` on,
    /// segment, a norm); taking the token embeddings as given lets saliency differentiate with
    /// respect to them.
    fn embed(
        &self,
        token_embeddings: &Tensor,
        first_position: usize,
    ) -> candle_core::Result<Embedded>;
    /// The blocks, in order.
    fn blocks(&self) -> Vec<&dyn Block>;
    /// The norm between the last block and the head (GPT-2's ln_f); none for post-norm encoders.
    fn final_norm(&self, residual: &Tensor) -> candle_core::Result<Tensor>;
    /// The LM head, if the checkpoint has one.
    fn head(&self) -> Option<&LmHead>;
    /// The learned position table [max_positions, d_model]; `None` for rotary models.
    fn position_table(&self) -> Option<&Tensor>;
}

/// The result of running a network over one text.
#[derive(Debug, Clone)]
pub struct ForwardPass {
    /// The input embeddings.
    pub embedded: Embedded,
    /// The residual stream entering block 0 and leaving every block: n_layer + 1 × [tokens, d_model].
    pub residual_streams: Vec<Tensor>,
    /// The last residual stream after the final norm.
    pub final_hidden: Tensor,
    /// Per-block intermediates; empty unless the recorder kept them.
    pub layers: Vec<LayerRecord>,
}

impl ForwardPass {
    /// = HF `output_hidden_states`: the residual streams with the last one after the final norm.
    pub fn hidden_states(&self) -> Vec<Tensor> {
        let mut hidden_states = self.residual_streams.clone();
        if let Some(last) = hidden_states.last_mut() {
            *last = self.final_hidden.clone();
        }
        hidden_states
    }
}

/// Runs `network`'s blocks over token embeddings [tokens, d_model], recording into `rec`; the
/// tokens' positions follow the earlier ones the recorder holds, if any.
pub fn forward(
    network: &dyn Network,
    token_embeddings: &Tensor,
    mut rec: Recorder,
) -> candle_core::Result<ForwardPass> {
    let embedded = network.embed(token_embeddings, rec.earlier_positions()?)?;
    let mut x = embedded.block_input.clone();
    rec.residual_stream(&x)?;
    for block in network.blocks() {
        x = block.forward(&x, &mut rec)?;
        rec.residual_stream(&x)?;
    }
    let final_hidden = network.final_norm(&x)?;
    let (residual_streams, layers) = rec.finish();
    Ok(ForwardPass {
        embedded,
        residual_streams,
        final_hidden,
        layers,
    })
}

/// Runs `network`'s blocks from block `first` on, over the residual streams an earlier pass
/// of the same text left entering blocks 0 to `first`; returns the last stream after the final
/// norm. An intervention in block `first` changes nothing before it, so the lab's head
/// importance reruns only the blocks it can change.
pub fn forward_from(
    network: &dyn Network,
    streams: &[Tensor],
    first: usize,
    mut rec: Recorder,
) -> candle_core::Result<Tensor> {
    let Some(entering) = streams.get(..=first) else {
        candle_core::bail!("no residual stream enters block {first}")
    };
    // The recorder counts blocks by the streams it holds: seeded, it edits block `first` next.
    for stream in entering {
        rec.residual_stream(stream)?;
    }
    let mut x = entering[first].clone();
    for block in network.blocks().into_iter().skip(first) {
        x = block.forward(&x, &mut rec)?;
        rec.residual_stream(&x)?;
    }
    network.final_norm(&x)
}

/// A loaded family's network: one stack that reads one text, or an encoder–decoder that reads
/// a source and writes a target.
pub enum Loaded {
    /// GPT-2, BERT, DistilBERT, Llama.
    OneStack(Box<dyn Network>),
    /// T5, BART, Marian.
    EncoderDecoder(Box<EncoderDecoder>),
}

/// Builds the family's network from a checkpoint.
pub fn load(config: &ModelConfig, checkpoint: Checkpoint) -> Result<Loaded> {
    let one_stack = |network: Box<dyn Network>| Ok(Loaded::OneStack(network));
    let encoder_decoder = |network: EncoderDecoder| Ok(Loaded::EncoderDecoder(Box::new(network)));
    match config.architecture {
        Architecture::Gpt2 => one_stack(Box::new(
            gpt2::Gpt2::load(checkpoint, config).map_err(weights_error)?,
        )),
        Architecture::Bert => one_stack(Box::new(
            bert::Bert::load(checkpoint, config).map_err(weights_error)?,
        )),
        Architecture::DistilBert => one_stack(Box::new(
            distilbert::load(checkpoint, config).map_err(weights_error)?,
        )),
        Architecture::Llama => one_stack(Box::new(
            llama::Llama::load(checkpoint, config)
                .map_err(|e| EngineError::gguf(Damage::Weights(tensor_damage(&e))))?,
        )),
        Architecture::T5 => encoder_decoder(t5::load(checkpoint, config).map_err(weights_error)?),
        Architecture::Bart | Architecture::Marian => {
            encoder_decoder(bart::load(checkpoint, config).map_err(weights_error)?)
        }
    }
}
