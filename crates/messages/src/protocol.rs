//! The messages between the page and the worker. Both cross `postMessage` as plain JS objects
//! made by serde-wasm-bindgen; arrays travel as `Uint8Array`s.
//!
//! The page posts an [`Envelope`]: a request and the id its answer will carry. The worker posts
//! [`WorkerMessage`]s: `Ready` once, then one `Answer` per envelope, with the worker's time and
//! memory beside the [`Response`]. A `Load` envelope carries the weights file beside it, in the
//! JS object's `weights` field (a `Uint8Array` whose buffer is transferred, not copied), which the
//! worker reads tensor by tensor from JS memory.
use serde::{Deserialize, Serialize};

use crate::{
    ActivationKind, Anatomy, Candidate, Decoding, EncoderDecoderTrace, EngineError, Generation,
    HeadImportance, InductionScores, Interventions, LayerTrace, LogitLens, NeuronFactors,
    PageTrace, PairSaliency, PositionalEncodings, Predictions, Rankings, RotaryView, Saliency,
    SamplingSettings, TokenizedText, ToyAttention, ToyRequest,
};

/// A request and the id its answer will carry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    /// Chosen by the page; the answer carries it back.
    pub id: u32,
    /// What is asked.
    pub request: Request,
}

/// The name of the JS field beside a `Load` envelope that holds the weights file.
pub const WEIGHTS_FIELD: &str = "weights";

/// What the page asks of the worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Request {
    /// Build a model from its files, replacing the loaded one: config.json and tokenizer.json
    /// here, the weights (model.safetensors or a .gguf, which needs neither) beside the
    /// envelope ([`WEIGHTS_FIELD`]).
    Load {
        #[serde(with = "serde_bytes")]
        config: Vec<u8>,
        #[serde(with = "serde_bytes")]
        tokenizer: Vec<u8>,
        /// A translator's target_tokenizer.json, when its folder has one.
        #[serde(default, with = "serde_bytes")]
        target_tokenizer: Option<Vec<u8>>,
    },
    /// Tokenize a text (cheap: lets the page show tokens before the trace is done), padded as
    /// `lab` asks.
    Tokenize {
        text: String,
        #[serde(default)]
        lab: Interventions,
    },
    /// Tokenize and trace a text (truncated to the model's positions); the answer carries
    /// `layer`'s attention internals (clamped to the last layer). The model keeps `lab`'s
    /// interventions for every later one-text request, until a trace asks for others.
    Trace {
        text: String,
        #[serde(default)]
        layer: usize,
        #[serde(default)]
        lab: Interventions,
    },
    /// Another layer's attention internals from the trace answered to request `trace`.
    Layer { trace: u32, layer: usize },
    /// Top-k predictions for a text (from the last trace's logits when it is the same text),
    /// and for decoders how many candidates survive top-k/top-p and, with a seed, a drawn token.
    Predict {
        text: String,
        k: usize,
        settings: SamplingSettings,
        seed: Option<u64>,
        /// The model as trained, without the lab's interventions (the "before" of the lab's
        /// before/after).
        #[serde(default)]
        as_trained: bool,
    },
    /// The logit lens at a position (default: where the model predicts).
    LogitLens {
        text: String,
        position: Option<usize>,
        k: usize,
    },
    /// Ecco's rankings over a text, with watched words (see `Rankings`).
    Rankings { text: String, watch: Vec<String> },
    /// Every weight of the loaded model (its anatomy).
    Anatomy,
    /// The NMF of the neuron activations of layers `layers.0..=layers.1` of the trace answered
    /// to request `trace`, into `factors` factors.
    Factors {
        trace: u32,
        layers: (usize, usize),
        factors: usize,
    },
    /// The sinusoidal encoding for `positions` × `d_model` beside the model's learned
    /// position embeddings, with cosine similarities.
    PositionalEncodings { positions: usize, d_model: usize },
    /// The RoPE view of a rotary model: its rotation frequencies and one real query and key of
    /// the trace (head width each) placed at every position 0..`positions`.
    Rotary {
        positions: usize,
        query: Vec<f32>,
        query_position: usize,
        key: Vec<f32>,
        key_position: usize,
    },
    /// Gradient×input saliency for a text.
    Saliency {
        text: String,
        position: Option<usize>,
        target: Option<u32>,
    },
    /// Which heads matter for a prediction: one pass per head switched off (see
    /// `HeadImportance`), at `position` (default: where the model predicts) for `target`
    /// (default: the top token there).
    HeadImportance {
        text: String,
        position: Option<usize>,
        target: Option<u32>,
    },
    /// A second text's trace, for the lab's comparisons: the same model, with the current
    /// interventions or `lab` instead (the padding demo's other mask); the worker keeps
    /// nothing of it (the first text's trace stays the one `Layer` reads).
    CompareTrace {
        text: String,
        #[serde(default)]
        lab: Option<Interventions>,
    },
    /// The induction-head detector on `period` random tokens (drawn with `seed`) repeated once.
    InductionScores { period: usize, seed: u64 },
    /// The trace of a source and the target so far through an encoder–decoder (the target's
    /// ids: the decoder start token, then the text's tokens), with the lab's heads switched off.
    TranslationTrace {
        source: String,
        target: String,
        #[serde(default)]
        lab: Interventions,
    },
    /// An encoder–decoder writes up to `max_tokens` target tokens for a source.
    Generate {
        source: String,
        max_tokens: usize,
        decoding: Decoding,
        #[serde(default)]
        lab: Interventions,
    },
    /// Saliency of a target logit (at `position`, default the last; token default the top one)
    /// over the source and the target so far.
    PairSaliency {
        source: String,
        target: String,
        position: Option<usize>,
        target_id: Option<u32>,
        #[serde(default)]
        lab: Interventions,
    },
    /// The benchmark's floor (`scripts/bench.mjs`; the page never asks it): times candle f32
    /// matmuls `[m, k] × [k, n]` (the shapes of a model's forward pass) with the weight stored
    /// both ways, `[k, n]` and `[n, k]` (as `Linear` keeps it), and `[n, k]` multiplied
    /// weight-first, (W·xᵀ)ᵀ, as `Linear` computes it; median of `runs` after one warm-up.
    /// Needs no model.
    MatmulBenchmark {
        shapes: Vec<(usize, usize, usize)>,
        runs: usize,
        /// 0: each product reuses one weight, which then sits in cache (the floor). Otherwise
        /// each product takes the next of enough distinct weights to fill this many bytes, so
        /// that, as in a forward pass, the weight comes from memory ("cold").
        #[serde(default)]
        cold_bytes: usize,
    },
    /// Attention over the toy sandbox's vectors. Needs no model.
    ToyAttention { toy: ToyRequest },
    /// A test hook: the worker panics while handling it, as a bug in the engine would, so the
    /// tests can check that the page recovers. The page itself never sends it.
    CrashForTest,
}

/// What the worker posts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkerMessage {
    /// The worker's wasm is running and listening; sent once at start.
    Ready,
    /// The answer to envelope `id`.
    Answer {
        id: u32,
        /// Milliseconds the worker spent on it, from reading the envelope to the answer.
        compute_ms: f64,
        /// The worker's wasm memory afterwards, in bytes: the peak so far (wasm memory never
        /// shrinks), which includes encoding earlier answers.
        wasm_memory_bytes: usize,
        /// How many fork-joins the request's products were cut into (0 on one thread).
        #[serde(default)]
        parallel_regions: usize,
        /// Milliseconds in the work the engine cuts among threads (products, attention's
        /// heads, activations), as the worker's thread saw them, cut or not: the rest of
        /// `compute_ms` ran on one thread.
        #[serde(default)]
        cut_ms: f64,
        /// Milliseconds of that work's blocks, summed over the threads that computed them
        /// (`cut_ms` on one thread; more than half of it on two: contention).
        #[serde(default)]
        block_ms: f64,
        response: Response,
    },
    /// How far the running request `id` is: `done` of `total` steps (head importance: one
    /// pass per head). Sent while it runs; its answer follows.
    Progress { id: u32, done: usize, total: usize },
    /// The page posted something that is not an envelope (a bug in the page; nothing failed
    /// to load).
    Unreadable { error: EngineError },
    /// The worker panicked and must be restarted.
    Panic { message: String },
}

/// The answer to one request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Response {
    /// A model was built.
    Loaded {
        card: ModelCard,
    },
    /// The files did not make a model (the page forgets its cached copy of them).
    LoadFailed {
        error: EngineError,
    },
    /// The tokens of a text.
    Tokens {
        tokens: TokenizedText,
        /// Token count before truncation, when the text was longer than the model reads.
        truncated_from: Option<usize>,
    },
    /// The trace of a text.
    Trace {
        tokens: TokenizedText,
        /// Token count before truncation, when the text was longer than the model reads.
        truncated_from: Option<usize>,
        trace: Box<PageTrace>,
        /// The asked-for layer's attention internals.
        layer_trace: Box<LayerTrace>,
        /// How many tokens' numbers were kept from the last trace, which this text extends by
        /// appended tokens (a decoder's earlier tokens cannot see them); 0: traced from scratch.
        #[serde(default)]
        kept_tokens: usize,
    },
    /// One layer's attention internals from the trace answered to request `trace`.
    Layer {
        trace: u32,
        layer_trace: Box<LayerTrace>,
    },
    /// Predictions for a text.
    Predictions {
        predictions: Predictions,
        /// Decoders: how many of the most probable tokens top-k and top-p leave drawable.
        survivors: Option<usize>,
        /// Decoders, when a seed was given: the drawn token.
        sampled: Option<Candidate>,
        /// Whether the cached logits of the last trace were re-scored (the model did not run).
        reused_logits: bool,
    },
    /// The logit lens for a text.
    LogitLens {
        lens: LogitLens,
    },
    /// Rankings for a text.
    Rankings {
        rankings: Rankings,
    },
    /// The loaded model's weights.
    Anatomy {
        anatomy: Anatomy,
    },
    /// Neuron factors of a trace.
    Factors {
        factors: NeuronFactors,
    },

    /// Saliency for a text.
    Saliency {
        saliency: Saliency,
    },
    HeadImportance {
        importance: HeadImportance,
    },
    InductionScores {
        induction: InductionScores,
    },
    /// The second text's tokens and trace.
    CompareTrace {
        tokens: TokenizedText,
        trace: Box<PageTrace>,
    },
    /// Positional encodings and their similarities.
    PositionalEncodings {
        encodings: PositionalEncodings,
    },
    /// The RoPE view.
    Rotary {
        view: RotaryView,
    },
    /// An encoder–decoder's trace of a (source, target) pair.
    TranslationTrace {
        trace: Box<EncoderDecoderTrace>,
    },
    /// A written target.
    Generation {
        generation: Generation,
    },
    /// Saliency over a source and a target.
    PairSaliency {
        saliency: PairSaliency,
    },
    /// The toy sandbox's attention.
    ToyAttention {
        toy: Box<ToyAttention>,
    },
    /// Median milliseconds per shape of a `MatmulBenchmark`: x·W with W `[k, n]`, x·Wᵀ with
    /// W `[n, k]`, the same weight-first, (W·xᵀ)ᵀ, and x·Wᵀ as the engine's linear layers
    /// compute it (weight-first over strided rows for up to 64 rows, see `engine::Linear`).
    MatmulTimes {
        stored_k_n_ms: Vec<f64>,
        stored_n_k_ms: Vec<f64>,
        weight_first_ms: Vec<f64>,
        engine_ms: Vec<f64>,
    },
    /// The request failed; the page words `error` in its language.
    Error {
        error: EngineError,
    },
}

/// What the model card shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// "GPT-2", "DistilBERT", "BERT" or "Llama".
    pub architecture: String,
    /// Decoder (causal) or encoder.
    pub causal: bool,
    /// Transformer blocks.
    pub n_layer: usize,
    /// Heads per block.
    pub n_head: usize,
    /// Key/value heads per block (fewer than `n_head` with grouped-query attention).
    #[serde(default)]
    pub n_kv_head: usize,
    /// The rotary embedding's base θ for rotary models (Llama).
    #[serde(default)]
    pub rope_theta: Option<f64>,
    /// Residual width.
    pub d_model: usize,
    /// Head width.
    pub d_head: usize,
    /// Number of weights.
    pub parameters: usize,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Longest input in tokens.
    pub max_positions: usize,
    /// Whether predictions and saliency are available.
    pub has_prediction_head: bool,
    /// The mask token, for masked language models.
    pub mask_token: Option<String>,
    /// The feed-forward network's non-linearity.
    #[serde(default)]
    pub activation: Option<ActivationKind>,
    /// Whether the feed-forward network is gated (SwiGLU: activation(gate) × up).
    #[serde(default)]
    pub gated_mlp: bool,
    /// The ε the norms add to the variance (or mean square).
    #[serde(default)]
    pub norm_eps: f64,
    /// Problems in the files that did not stop the model from loading (e.g. NaN weights).
    #[serde(default)]
    pub warnings: Vec<crate::ModelWarning>,
    /// An encoder–decoder's decoder (the fields above describe its encoder).
    #[serde(default)]
    pub decoder: Option<DecoderCard>,
    /// Threads the worker computes on (its pool's size; 1 without one).
    #[serde(default = "one_thread")]
    pub threads: usize,
}

fn one_thread() -> usize {
    1
}

/// The decoder of an encoder–decoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecoderCard {
    /// Decoder blocks.
    pub n_layer: usize,
    /// Heads per decoder block (self- and cross-attention).
    pub n_head: usize,
}
