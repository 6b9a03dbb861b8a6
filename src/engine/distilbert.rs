//! DistilBERT (distilbert-base-uncased): BERT's post-LayerNorm encoder without segment
//! embeddings, under its own tensor names, with `vocab_transform` / `vocab_layer_norm` /
//! `vocab_projector` as the masked-LM head. It runs on the `Bert` structs.

use super::attention::SelfAttention;
use super::bert::{Bert, EncoderLayer, MlmHead};
use super::checkpoint::Checkpoint;
use super::config::ModelConfig;
use super::layers::{linear, LayerNorm, Linear, TokenEmbedding};

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
            Ok(EncoderLayer {
                attention: SelfAttention {
                    query: linear(layer.pp("attention.q_lin"), d, d)?,
                    key: linear(layer.pp("attention.k_lin"), d, d)?,
                    value: linear(layer.pp("attention.v_lin"), d, d)?,
                    output: linear(layer.pp("attention.out_lin"), d, d)?,
                    n_head: cfg.n_head,
                    n_kv_head: cfg.n_kv_head,
                    rotary: None,
                    causal: false,
                },
                attention_norm: LayerNorm::load(layer.pp("sa_layer_norm"), d, eps)?,
                mlp_in: linear(layer.pp("ffn.lin1"), d, cfg.d_ff)?,
                mlp_out: linear(layer.pp("ffn.lin2"), cfg.d_ff, d)?,
                output_norm: LayerNorm::load(layer.pp("output_layer_norm"), d, eps)?,
            })
        })
        .collect::<candle_core::Result<Vec<_>>>()?;
    let head = if has_head {
        let projector_weight = if has_projector_weight {
            root.get((d, cfg.vocab_size), "vocab_projector.weight")?
        } else {
            word_embeddings.clone()
        };
        Some(MlmHead {
            transform: linear(root.pp("vocab_transform"), d, d)?,
            norm: LayerNorm::load(root.pp("vocab_layer_norm"), d, eps)?,
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
        activation: cfg.activation,
    })
}
