//! The answers of the analyses beyond the trace: predictions, the logit lens, saliency, and the
//! sampling settings a prediction is drawn with.
use serde::{Deserialize, Serialize};

/// One candidate token with its probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Token id.
    pub token_id: u32,
    /// Display string.
    pub token: String,
    /// The text it adds to a sentence.
    pub text: String,
    /// softmax(logits / temperature) for this token.
    pub probability: f32,
    /// The raw logit.
    pub logit: f32,
}

/// Top-k candidates at one position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionPredictions {
    /// Token position the prediction is for.
    pub position: usize,
    /// Most probable first.
    pub candidates: Vec<Candidate>,
}

/// What the model predicts: the next token (decoders) or each [MASK] (masked LMs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Predictions {
    /// Next-token candidates after the last position.
    NextToken(PositionPredictions),
    /// Fills for every mask position, in order.
    MaskFill(Vec<PositionPredictions>),
}

/// One layer of the logit lens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LensLayer {
    /// 0 = embeddings, i = after block i.
    pub layer: usize,
    /// Top-k tokens if the model stopped here.
    pub top: Vec<Candidate>,
    /// Rank (1 = top) of the final prediction at this layer.
    pub final_token_rank: usize,
}

/// The final norm and LM head applied to every layer's residual stream at one position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogitLens {
    /// The position read.
    pub position: usize,
    /// The model's final top-1 token at that position.
    pub final_token_id: u32,
    /// One entry per residual stream: n_layer + 1.
    pub layers: Vec<LensLayer>,
}

/// Gradient×input saliency of one target logit over the input tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saliency {
    /// Position whose logit was differentiated.
    pub position: usize,
    /// Token whose (pre-softmax) logit was differentiated.
    pub target_id: u32,
    /// Its display string.
    pub target_token: String,
    /// ‖∂logit/∂eᵢ ⊙ eᵢ‖₂ per input token, divided by their sum (shares sum to 1).
    pub scores: Vec<f32>,
}

/// Gradient×input saliency of one target logit of an encoder–decoder over the source and the
/// target so far: ‖∂logit/∂eᵢ ⊙ eᵢ‖₂ per token, divided by the sum over both sides, so the two
/// rows together sum to 1 (Ecco's normalisation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairSaliency {
    /// Target position whose logit was differentiated.
    pub position: usize,
    /// Token whose (pre-softmax) logit was differentiated.
    pub target_id: u32,
    /// Its display string.
    pub target_token: String,
    /// Shares of the source tokens.
    pub source: Vec<f32>,
    /// Shares of the target tokens (0 after `position`: the decoder does not see them).
    pub target: Vec<f32>,
}

/// How the next token is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SamplingSettings {
    /// Logits are divided by this before softmax.
    pub temperature: f32,
    /// Only the k most probable tokens may be drawn.
    pub top_k: usize,
    /// Of those, only the most probable that together first reach this probability.
    pub top_p: f32,
}

/// The widest beam search the engine runs and the page offers.
pub const MAX_BEAM_WIDTH: usize = 5;

/// How an encoder–decoder chooses each next target token.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Decoding {
    /// The most probable token.
    Greedy,
    /// Beam search keeping `width` (1 to [`MAX_BEAM_WIDTH`]) partial targets, as transformers' `generate` with
    /// `num_beams`, length penalty 1 and no early stopping.
    Beam { width: usize },
    /// A token drawn as GPT-2's continuation draws it, from a seed.
    Sample {
        settings: SamplingSettings,
        seed: u64,
    },
}

/// A target an encoder–decoder wrote for a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    /// The decoder's input ids: the start token, then every written token (with the end token
    /// when it was written).
    pub ids: Vec<u32>,
    /// Display strings of `ids`.
    pub tokens: Vec<String>,
    /// The written tokens decoded to text (without special tokens).
    pub text: String,
    /// Natural-log probability of each written token as it was chosen (beam search: along the
    /// kept beam), so their sum is the target's log probability.
    pub log_probabilities: Vec<f32>,
    /// Whether the model wrote its end token (else it stopped at the token limit).
    pub finished: bool,
}

/// The most words one rankings request may watch.
pub const MAX_WATCHED_TOKENS: usize = 8;

/// Fewest and most NMF factors a request may ask for.
pub const FACTOR_RANGE: std::ops::RangeInclusive<usize> = 2..=18;

/// Ecco's rankings: the logit lens over the whole text. Each grid is [residual stream][position],
/// stream 0 the embeddings and the last the model's output; a rank is 1 for the top token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rankings {
    /// The token the model finally predicts at each position (its output's top-1).
    pub predicted: Vec<RankedToken>,
    /// At each stream and position, the rank of that position's final prediction.
    pub prediction_ranks: Vec<Vec<u32>>,
    /// A causal model's next tokens: at each stream and position but the last, the rank of the
    /// token that actually follows; `None` for a masked language model.
    pub next_token_ranks: Option<Vec<Vec<u32>>>,
    /// The words a student watches (e.g. "is" and "are"), each with its ranks everywhere.
    pub watched: Vec<WatchedToken>,
    /// A causal model's surprisal of each next token, −ln p (nats), position t scoring token
    /// t + 1 under the final logits; `None` for a masked language model.
    pub surprisal: Option<Vec<f32>>,
}

impl Rankings {
    /// The text's mean loss (mean surprisal, nats) and perplexity e^loss, what training
    /// minimises; `None` without next tokens.
    pub fn loss_and_perplexity(&self) -> Option<(f32, f32)> {
        let surprisal = self.surprisal.as_ref().filter(|s| !s.is_empty())?;
        let loss = surprisal.iter().sum::<f32>() / surprisal.len() as f32;
        Some((loss, loss.exp()))
    }
}

/// A token id with its display string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedToken {
    pub token_id: u32,
    pub token: String,
}

/// A watched token and its rank at every stream and position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchedToken {
    /// What the student typed.
    pub word: String,
    /// The token watched: the word's first token inside a sentence (after a space).
    pub token: RankedToken,
    /// [stream][position].
    pub ranks: Vec<Vec<u32>>,
}

/// Ecco's factorisation of the neuron activations of a range of layers over a text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeuronFactors {
    /// The first and last layer factorised (their neurons side by side).
    pub layers: (usize, usize),
    /// Each factor's strength at each token [factor][token] (the columns of W).
    pub token_strengths: Vec<Vec<f32>>,
    /// Each factor's strongest neurons, strongest first.
    pub top_neurons: Vec<Vec<NeuronLoading>>,
    /// ‖A − W·H‖ / ‖A‖: how much of the activations the factors leave out.
    pub relative_error: f32,
    /// Iterations the fit ran.
    pub iterations: usize,
}

/// One neuron's weight in a factor (a row of H).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeuronLoading {
    pub layer: usize,
    pub neuron: usize,
    pub loading: f32,
}

/// The size of the residual stream and of what each sublayer adds to it, per layer and token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResidualNorms {
    /// ‖stream‖ entering each block and leaving the last [layer + 1][token] (before any final
    /// norm).
    pub stream: Vec<Vec<f32>>,
    /// ‖attention output‖ each block adds [layer][token].
    pub attention: Vec<Vec<f32>>,
    /// ‖feed-forward output‖ each block adds [layer][token].
    pub feed_forward: Vec<Vec<f32>>,
}
