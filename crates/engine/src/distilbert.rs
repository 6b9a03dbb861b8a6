//! DistilBERT (distilbert-base-uncased): BERT's post-LayerNorm encoder without segment
//! embeddings, under its own tensor names, with `vocab_transform` / `vocab_layer_norm` /
//! `vocab_projector` as the masked-LM head. It runs on the `Bert` structs.
use candle_core::Tensor;

use super::bert::{masked_lm_head, Bert, EncoderLayout, EncoderNames};
use super::checkpoint::Checkpoint;
use super::config::ModelConfig;
use super::layers::LmHead;

const DISTILBERT_NAMES: EncoderNames = EncoderNames {
    query: "attention.q_lin",
    key: "attention.k_lin",
    value: "attention.v_lin",
    output: "attention.out_lin",
    attention_norm: "sa_layer_norm",
    mlp_in: "ffn.lin1",
    mlp_out: "ffn.lin2",
    output_norm: "output_layer_norm",
};

/// Loads `DistilBertForMaskedLM` (`distilbert.` prefix) or a headless `DistilBertModel`.
/// `vocab_projector.weight` may be absent: it is tied to the word embeddings.
pub fn load(checkpoint: Checkpoint, cfg: &ModelConfig) -> candle_core::Result<Bert> {
    let has_head = checkpoint.contains("vocab_transform.weight");
    let has_projector_weight = checkpoint.contains("vocab_projector.weight");
    let (root, vb) = checkpoint.var_builders(&["distilbert"], "embeddings.word_embeddings.weight");
    let head = |word_embeddings: &Tensor| -> candle_core::Result<Option<LmHead>> {
        if !has_head {
            return Ok(None);
        }
        let projector_weight = if has_projector_weight {
            root.get((cfg.vocab_size, cfg.d_model), "vocab_projector.weight")?
        } else {
            word_embeddings.clone()
        };
        let bias = root.get(cfg.vocab_size, "vocab_projector.bias")?;
        let transform = (root.pp("vocab_transform"), root.pp("vocab_layer_norm"));
        masked_lm_head(transform, projector_weight, bias, cfg).map(Some)
    };
    let layout = EncoderLayout {
        layers: "transformer.layer",
        names: &DISTILBERT_NAMES,
        segments: false,
    };
    Bert::assemble(&vb, cfg, &layout, head)
}
