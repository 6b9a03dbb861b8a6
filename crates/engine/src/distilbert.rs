//! DistilBERT (distilbert-base-uncased): BERT's post-LayerNorm encoder without segment
//! embeddings, under its own tensor names, with `vocab_transform` / `vocab_layer_norm` /
//! `vocab_projector` as the masked-LM head. It runs on the `Bert` structs.
use super::bert::{Bert, EncoderLayer, EncoderNames};
use super::checkpoint::Checkpoint;
use super::config::ModelConfig;
use super::layers::{linear, LayerNorm, Linear, LmHead, TokenEmbedding};

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
    let (d, eps) = (cfg.d_model, cfg.layer_norm_eps);

    let embeddings = vb.pp("embeddings");
    // Vocabulary matrices come transposed from the checkpoint, [d_model, vocab].
    let word_embeddings = embeddings.get((d, cfg.vocab_size), "word_embeddings.weight")?;
    let layers = (0..cfg.n_layer)
        .map(|i| {
            let layer = vb.pp(format!("transformer.layer.{i}"));
            EncoderLayer::load(layer, &DISTILBERT_NAMES, cfg)
        })
        .collect::<candle_core::Result<Vec<_>>>()?;
    let head = if has_head {
        let projector_weight = if has_projector_weight {
            root.get((d, cfg.vocab_size), "vocab_projector.weight")?
        } else {
            word_embeddings.clone()
        };
        Some(LmHead {
            transform: Some((
                linear(root.pp("vocab_transform"), d, d)?,
                cfg.activation,
                LayerNorm::load(root.pp("vocab_layer_norm"), d, eps)?,
            )),
            decoder: Linear::in_out(
                projector_weight,
                Some(root.get(cfg.vocab_size, "vocab_projector.bias")?),
            ),
        })
    } else {
        None
    };
    Ok(Bert {
        word_embeddings: TokenEmbedding::from_transposed(word_embeddings),
        position_embeddings: embeddings
            .get((cfg.max_positions, d), "position_embeddings.weight")?,
        token_type_embedding: None,
        embeddings_norm: LayerNorm::load(embeddings.pp("LayerNorm"), d, eps)?,
        layers,
        head,
    })
}
