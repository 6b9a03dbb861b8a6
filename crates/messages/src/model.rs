//! The model families, as the page and the engine name them.
use serde::{Deserialize, Serialize};

/// The model families the engine implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Architecture {
    /// GPT-2 family decoders (gpt2, distilgpt2, gpt2-medium …): causal attention.
    Gpt2,
    /// DistilBERT encoders with a masked-LM head.
    DistilBert,
    /// BERT encoders, with or without a masked-LM head.
    Bert,
    /// Llama-family decoders (SmolLM2, TinyLlama …) read from GGUF: RMSNorm, rotary position
    /// embeddings, grouped-query attention, SwiGLU MLP.
    Llama,
    /// T5 encoder–decoders (t5-small, flan-t5-small): relative position buckets, RMS norms.
    T5,
    /// BART encoder–decoders (bart-base): learned positions offset by 2, post-norm blocks.
    Bart,
    /// Marian translators (opus-mt-*): sinusoidal positions, scaled embeddings, post-norm.
    Marian,
}

impl Architecture {
    /// Human-readable name, as the model card shows it.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Gpt2 => "GPT-2",
            Architecture::DistilBert => "DistilBERT",
            Architecture::Bert => "BERT",
            Architecture::Llama => "Llama",
            Architecture::T5 => "T5",
            Architecture::Bart => "BART",
            Architecture::Marian => "Marian",
        }
    }

    /// Decoders mask future tokens; encoders attend both ways.
    pub fn is_causal(self) -> bool {
        matches!(self, Architecture::Gpt2 | Architecture::Llama)
    }

    /// Pre-norm blocks normalise a block's input before attention (x + attn(ln(x))); post-norm
    /// blocks attend to the block's input and normalise after the residual add.
    pub fn normalises_first(self) -> bool {
        matches!(
            self,
            Architecture::Gpt2 | Architecture::Llama | Architecture::T5
        )
    }

    /// Whether attention divides q·k by √d_head; T5's does not (its initialisation absorbs it).
    pub fn scales_scores(self) -> bool {
        self != Architecture::T5
    }

    /// An encoder reads the source and a decoder writes the target, attending to it.
    pub fn is_encoder_decoder(self) -> bool {
        matches!(
            self,
            Architecture::T5 | Architecture::Bart | Architecture::Marian
        )
    }
}

/// The feed-forward network's non-linearity (in a gated network, the gate's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActivationKind {
    /// GELU with the tanh approximation (GPT-2's `gelu_new`).
    GeluTanh,
    /// Exact GELU, x·Φ(x) (BERT's and DistilBERT's `gelu`).
    GeluErf,
    /// ReLU, max(0, x).
    Relu,
    /// SiLU, x·σ(x) (Llama's gate).
    Silu,
}
