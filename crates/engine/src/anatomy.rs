//! Which part of the Transformer each checkpoint weight belongs to, read from its name, for
//! every family's naming (Hugging Face's and GGUF's).
use std::cmp::Ordering;

use ae_messages::{Anatomy, ModelPart, Weight};

/// The anatomy of a checkpoint's weights, given as (name, shape as stored in the file):
/// embeddings first, then the blocks in order (an encoder's before a decoder's), then the
/// rest (final norms, a head).
pub fn anatomy(weights: Vec<(String, Vec<usize>)>) -> Anatomy {
    let mut weights: Vec<Weight> = weights
        .into_iter()
        .map(|(name, shape)| Weight {
            layer: layer_of(&name),
            part: part_of(&name),
            name,
            shape,
        })
        .collect();
    weights.sort_by(|a, b| {
        (phase(a), a.layer)
            .cmp(&(phase(b), b.layer))
            .then_with(|| natural_order(&a.name, &b.name))
    });
    Anatomy { weights }
}

/// What a weight does, by the words in its name. The head is tested first (BERT's
/// `cls.predictions.transform.LayerNorm` is the head's), then norms (`attention.output.LayerNorm`
/// is a norm), then embeddings, attention and the feed-forward network.
fn part_of(name: &str) -> ModelPart {
    let lower = name.to_lowercase();
    let segments: Vec<&str> = lower.split('.').collect();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    let segment = |words: &[&str]| segments.iter().any(|s| words.contains(s));
    if has(&["lm_head", "cls.", "vocab_", "final_logits_bias"]) || lower == "output.weight" {
        ModelPart::Head
    } else if has(&["norm"]) || segments.iter().any(|s| s.starts_with("ln_")) {
        ModelPart::Norms
    } else if has(&["embed", "token_embd"]) || segment(&["wte", "wpe", "shared"]) {
        ModelPart::Embeddings
    } else if has(&["attn", "attention"]) {
        ModelPart::Attention
    } else if has(&[
        "mlp",
        "ffn",
        "intermediate",
        "densereludense",
        "output.dense",
    ]) || segment(&["fc1", "fc2"])
    {
        ModelPart::FeedForward
    } else {
        ModelPart::Other
    }
}

/// The block a weight belongs to: the first number in its name (`h.3.`, `layer.3.`, `blk.3.`,
/// `block.3.layer.1.` → 3).
fn layer_of(name: &str) -> Option<usize> {
    name.split('.').find_map(|segment| segment.parse().ok())
}

/// Embeddings, then encoder (or only) blocks, then decoder blocks, then everything else.
fn phase(weight: &Weight) -> u8 {
    let decoder = weight.name.split('.').any(|s| s == "decoder");
    match (weight.part, weight.layer, decoder) {
        (ModelPart::Embeddings, None, _) => 0,
        (_, Some(_), false) => 1,
        (_, Some(_), true) => 2,
        _ => 3,
    }
}

/// Names compared segment by segment, numbers as numbers (`h.2` before `h.10`).
fn natural_order(a: &str, b: &str) -> Ordering {
    let key = |name: &str| -> Vec<(u8, usize, String)> {
        name.split('.')
            .map(|s| match s.parse::<usize>() {
                Ok(n) => (0, n, String::new()),
                Err(_) => (1, 0, s.to_string()),
            })
            .collect()
    };
    key(a).cmp(&key(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GPT-2 small as transformers names and shapes it: 124,439,808 parameters, the tied head
    /// counted once in the token embeddings.
    #[test]
    fn gpt2_small_sums_to_its_model_card_and_splits_into_parts() {
        let (d, vocab, positions, layers) = (768, 50257, 1024, 12);
        let mut weights = vec![
            ("wte.weight".to_string(), vec![vocab, d]),
            ("wpe.weight".to_string(), vec![positions, d]),
            ("ln_f.weight".to_string(), vec![d]),
            ("ln_f.bias".to_string(), vec![d]),
        ];
        for i in 0..layers {
            for (name, shape) in [
                ("ln_1.weight", vec![d]),
                ("ln_1.bias", vec![d]),
                ("attn.c_attn.weight", vec![d, 3 * d]),
                ("attn.c_attn.bias", vec![3 * d]),
                ("attn.c_proj.weight", vec![d, d]),
                ("attn.c_proj.bias", vec![d]),
                ("ln_2.weight", vec![d]),
                ("ln_2.bias", vec![d]),
                ("mlp.c_fc.weight", vec![d, 4 * d]),
                ("mlp.c_fc.bias", vec![4 * d]),
                ("mlp.c_proj.weight", vec![4 * d, d]),
                ("mlp.c_proj.bias", vec![d]),
            ] {
                weights.push((format!("h.{i}.{name}"), shape));
            }
        }
        let anatomy = anatomy(weights);
        assert_eq!(anatomy.total(), 124_439_808);
        let parts: Vec<usize> = ModelPart::ALL
            .iter()
            .map(|&p| anatomy.part_total(p))
            .collect();
        assert_eq!(
            parts,
            [
                vocab * d + positions * d,
                layers * (4 * d * d + 4 * d),
                layers * (8 * d * d + 5 * d),
                layers * 4 * d + 2 * d,
                0,
                0
            ]
        );
        let names: Vec<&str> = anatomy.weights.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(
            names[..3],
            ["wpe.weight", "wte.weight", "h.0.attn.c_attn.bias"]
        );
        assert_eq!(anatomy.weights[14].name, "h.1.attn.c_attn.bias");
        assert_eq!(names[names.len() - 2..], ["ln_f.bias", "ln_f.weight"]);
    }

    #[test]
    fn every_family_s_names_find_their_part() {
        let cases = [
            (
                "encoder.layer.0.attention.output.dense.weight",
                ModelPart::Attention,
            ),
            (
                "encoder.layer.0.attention.output.LayerNorm.gamma",
                ModelPart::Norms,
            ),
            (
                "encoder.layer.0.intermediate.dense.weight",
                ModelPart::FeedForward,
            ),
            (
                "encoder.layer.0.output.dense.weight",
                ModelPart::FeedForward,
            ),
            (
                "embeddings.token_type_embeddings.weight",
                ModelPart::Embeddings,
            ),
            ("embeddings.LayerNorm.weight", ModelPart::Norms),
            (
                "cls.predictions.transform.LayerNorm.weight",
                ModelPart::Head,
            ),
            ("pooler.dense.weight", ModelPart::Other),
            (
                "distilbert.transformer.layer.1.ffn.lin1.weight",
                ModelPart::FeedForward,
            ),
            (
                "distilbert.transformer.layer.1.attention.q_lin.weight",
                ModelPart::Attention,
            ),
            ("vocab_projector.bias", ModelPart::Head),
            ("blk.0.attn_norm.weight", ModelPart::Norms),
            ("blk.0.ffn_gate.weight", ModelPart::FeedForward),
            ("token_embd.weight", ModelPart::Embeddings),
            ("output.weight", ModelPart::Head),
            (
                "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                ModelPart::Attention,
            ),
            (
                "decoder.block.1.layer.2.DenseReluDense.wo.weight",
                ModelPart::FeedForward,
            ),
            (
                "model.decoder.layers.0.encoder_attn.k_proj.weight",
                ModelPart::Attention,
            ),
            ("model.decoder.layers.0.fc2.bias", ModelPart::FeedForward),
            (
                "model.encoder.embed_positions.weight",
                ModelPart::Embeddings,
            ),
            ("model.shared.weight", ModelPart::Embeddings),
            ("final_logits_bias", ModelPart::Head),
        ];
        for (name, part) in cases {
            assert_eq!(part_of(name), part, "{name}");
        }
        assert_eq!(
            layer_of("decoder.block.3.layer.1.EncDecAttention.q.weight"),
            Some(3)
        );
    }
}
