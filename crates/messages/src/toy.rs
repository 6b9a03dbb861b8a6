//! The toy sandbox: attention over a few small vectors a student types (or draws at random),
//! computed by the engine with the same functions as a model's attention.
use serde::{Deserialize, Serialize};

/// Tokens a student can give the sandbox.
pub const TOY_TOKENS: std::ops::RangeInclusive<usize> = 2..=5;
/// Widths dₖ of q, k and v a student can type.
pub const TOY_WIDTHS: std::ops::RangeInclusive<usize> = 2..=8;
/// Widths of the random q and k that show why the scores are divided by √dₖ.
pub const TOY_RANDOM_WIDTHS: std::ops::RangeInclusive<usize> = 1..=1024;

/// Where the sandbox's q, k and v come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum ToyMatrices {
    /// Typed: one row per token, every row of q and k dₖ wide (v may be as wide or not).
    Given {
        q: Vec<Vec<f32>>,
        k: Vec<Vec<f32>>,
        v: Vec<Vec<f32>>,
    },
    /// Drawn from a standard normal distribution with `seed`: `tokens` rows, `width` wide.
    Random {
        tokens: usize,
        width: usize,
        seed: u64,
    },
}

/// What the sandbox computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToyRequest {
    pub matrices: ToyMatrices,
    /// Divide the scores by √dₖ.
    pub scaled: bool,
    /// Hide every key after its query (−∞ before the softmax).
    pub masked: bool,
}

/// Every intermediate of softmax(QKᵀ/√dₖ + M)·V, each [query][key] or [token][column].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToyAttention {
    /// The q, k and v used (the drawn ones for a random request).
    pub q: Vec<Vec<f32>>,
    pub k: Vec<Vec<f32>>,
    pub v: Vec<Vec<f32>>,
    /// The toggles asked for: whether the scores were divided by √dₖ, and masked.
    pub scaled: bool,
    pub masked: bool,
    /// QKᵀ.
    pub dot_products: Vec<Vec<f32>>,
    /// QKᵀ/√dₖ, or QKᵀ again when the request does not scale.
    pub scores: Vec<Vec<f32>>,
    /// The scores with the mask added: −∞ after the query when masked.
    pub masked_scores: Vec<Vec<f32>>,
    /// softmax over the keys.
    pub weights: Vec<Vec<f32>>,
    /// weights · V.
    pub output: Vec<Vec<f32>>,
}

impl ToyMatrices {
    /// What is wrong with the matrices asked for, if anything: as many rows as the sandbox
    /// allows tokens, as wide as it allows (typed or drawn); typed ones with one row per token
    /// in each, v as wide as q, every number finite.
    pub fn problem(&self) -> Option<String> {
        let (tokens, width, widths) = match self {
            ToyMatrices::Given { q, .. } => (q.len(), q.first().map_or(0, Vec::len), TOY_WIDTHS),
            ToyMatrices::Random { tokens, width, .. } => (*tokens, *width, TOY_RANDOM_WIDTHS),
        };
        if !TOY_TOKENS.contains(&tokens) || !widths.contains(&width) {
            return Some(format!(
                "the sandbox takes {}–{} tokens of width {}–{}, not {tokens} of width {width}",
                TOY_TOKENS.start(),
                TOY_TOKENS.end(),
                widths.start(),
                widths.end()
            ));
        }
        let ToyMatrices::Given { q, k, v } = self else {
            return None;
        };
        let shaped = |m: &[Vec<f32>]| m.len() == tokens && m.iter().all(|row| row.len() == width);
        if !(shaped(q) && shaped(k) && shaped(v)) {
            return Some(
                "the sandbox's q, k and v must have one row per token, all of the same width"
                    .into(),
            );
        }
        let mut numbers = [q, k, v].into_iter().flat_map(|m| m.iter().flatten());
        if numbers.any(|x| !x.is_finite()) {
            return Some("the sandbox's q, k and v must be finite numbers".into());
        }
        None
    }
}
