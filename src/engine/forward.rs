//! What one forward pass produces, shared by every architecture.
use candle_core::Tensor;

use super::attention::AttentionRecord;

/// One transformer block's recorded intermediates.
#[derive(Debug, Clone)]
pub struct LayerRecord {
    /// The rows attention reads: after ln_1 for GPT-2, the block input for BERT/DistilBERT.
    pub attention_input: Tensor,
    /// Q, K, V, scores, probabilities and head outputs.
    pub attention: AttentionRecord,
    /// The attention output after the output projection, before the residual add [tokens, d_model].
    pub attention_output: Tensor,
    /// The MLP's hidden layer after the activation [tokens, d_ff].
    pub mlp_activations: Tensor,
}

/// The result of running a model over one sequence.
#[derive(Debug, Clone)]
pub struct ForwardPass {
    /// The position table's rows for positions 0..tokens [tokens, d_model]; `None` for rotary
    /// models, which add no position to the input.
    pub position_embeddings: Option<Tensor>,
    /// Token + position (+ segment) embedding, before any normalisation [tokens, d_model]
    /// (the token embedding alone for rotary models).
    pub embedding_sum: Tensor,
    /// The residual stream entering block 0 and leaving every block: n_layer + 1 × [tokens, d_model].
    pub residual_streams: Vec<Tensor>,
    /// The last residual stream after the final norm (GPT-2's ln_f; the same tensor for encoders).
    pub final_hidden: Tensor,
    /// Per-block intermediates; empty unless recording was asked for.
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
