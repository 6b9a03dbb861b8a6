//! What the worker refuses before it runs out of memory or time: texts longer than the model
//! reads (cut), attention arrays that would not fit in wasm32's 4 GB, and position views larger
//! than the panel draws.
use ae_engine::{EngineError, Model, ModelConfig, Result};
use ae_messages::{TokenizedText, Work};

/// Tokenizes `text` for `model`, cutting it to the model's positions; returns the tokens and
/// the original length when it was cut.
pub(crate) fn tokenize_within_limit(
    model: &Model,
    text: &str,
) -> Result<(TokenizedText, Option<usize>)> {
    let mut tokens = model.tokenize(text)?;
    let limit = model.config.max_positions;
    if tokens.ids.len() <= limit {
        return Ok((tokens, None));
    }
    let original = tokens.ids.len();
    tokens.ids.truncate(limit);
    tokens.tokens.truncate(limit);
    tokens.offsets.truncate(limit);
    tokens.special.truncate(limit);
    Ok((tokens, Some(original)))
}

/// [`tokenize_within_limit`], then padded as the model's interventions ask (the lab's padding
/// demo): the padding tokens are special tokens at the end of the text.
pub(crate) fn text_tokens(model: &Model, text: &str) -> Result<(TokenizedText, Option<usize>)> {
    let (mut tokens, truncated_from) = tokenize_within_limit(model, text)?;
    let padded = model.padded(&tokens.ids)?;
    let end = text.len();
    for &id in &padded[tokens.ids.len()..] {
        tokens.tokens.push(model.tokenizer.display_token(id));
        tokens.offsets.push((end, end));
        tokens.special.push(true);
    }
    tokens.ids = padded;
    Ok((tokens, truncated_from))
}

/// Memory a browser gives the worker's wasm: wasm32 addresses 4 GiB.
const WASM_MEMORY_BYTES: f64 = 4.0 * (1u64 << 30) as f64;
/// Kept free of the estimate below: the allocator's slack and the response's encoding.
const MEMORY_HEADROOM_BYTES: f64 = 384.0 * (1u64 << 20) as f64;
/// A trace's memory beyond the weights, in attention-sized arrays (layers × heads × tokens² f32):
/// the scores and weights it records, the weights copied for the page, and the softmax's
/// temporaries: 3.9 to 4.5 of them measured on GPT-2 small (docs/MEASUREMENTS.md), rounded up.
const TRACE_ATTENTION_COPIES: f64 = 5.0;
/// The same for saliency, whose backward keeps attention's weights and head outputs per layer
/// (`attention_gradient.rs`), with the last trace's layers the worker holds (their scores and
/// weights): 12.1 of them measured on GPT-2 small after a trace and a saliency of 512 tokens
/// (docs/MEASUREMENTS.md), rounded up.
const SALIENCY_ATTENTION_COPIES: f64 = 13.0;

/// The floats per token that a trace keeps of each layer's feed-forward internals beyond the
/// activations, which the measured copies above already held: the norm's input, the
/// network's input and output (d_model wide), the first matrix's output, and a gated
/// network's up projection (d_ff wide).
fn feed_forward_floats_per_token(config: &ModelConfig) -> usize {
    let d_ff_rows = if config.gated_mlp() { 2 } else { 1 };
    config.n_layer * (3 * config.d_model + d_ff_rows * config.d_ff)
}

/// Refuses work whose arrays would not fit in the worker's wasm memory (a browser ends the
/// page when it runs out), with the longest text that would: attention's arrays grow with the
/// square of the tokens, the feed-forward network's linearly.
pub(crate) fn check_memory(
    config: &ModelConfig,
    weight_bytes: usize,
    tokens: usize,
    work: Work,
) -> Result<()> {
    let copies = match work {
        Work::Trace => TRACE_ATTENTION_COPIES,
        Work::Saliency => SALIENCY_ATTENTION_COPIES,
    };
    let per_token_squared = (config.n_layer * config.n_head * 4) as f64 * copies;
    let per_token = (feed_forward_floats_per_token(config) * 4) as f64;
    let available = WASM_MEMORY_BYTES - MEMORY_HEADROOM_BYTES - weight_bytes as f64;
    let needed = per_token_squared * (tokens * tokens) as f64 + per_token * tokens as f64;
    if needed <= available {
        return Ok(());
    }
    // The positive root of per_token_squared·n² + per_token·n = available.
    let root = (per_token * per_token + 4.0 * per_token_squared * available.max(0.0)).sqrt();
    let longest = ((root - per_token) / (2.0 * per_token_squared)).floor() as usize;
    Err(EngineError::OutOfMemory {
        work,
        tokens,
        gigabytes: needed / 1e9,
        longest,
    })
}

/// Most positions the positional-encoding views compute (the similarity matrix is its square).
pub(crate) const MAX_ENCODING_POSITIONS: usize = 512;
/// Widest sinusoidal encoding the panel may ask for.
pub(crate) const MAX_ENCODING_WIDTH: usize = 2048;

/// The error for a positional view outside these limits (`d_model` `None` for the rotary view).
pub(crate) fn view_out_of_range(positions: usize, d_model: Option<usize>) -> EngineError {
    EngineError::ViewOutOfRange {
        positions,
        d_model,
        max_positions: MAX_ENCODING_POSITIONS,
        max_width: MAX_ENCODING_WIDTH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GPT-2 small's limits in the worker: a trace fits at its longest context, saliency at
    /// 512 tokens (measured: 2.33 GB) but not at 768 (4.4 GB by the measured copies).
    #[test]
    fn memory_check_allows_what_fits_in_wasm32_and_names_the_longest_text() {
        let config = ModelConfig::from_json(
            br#"{"model_type":"gpt2","n_embd":768,"n_layer":12,"n_head":12,"n_positions":1024,"vocab_size":50257}"#,
        )
        .unwrap();
        let weight_bytes = 124_439_808 * 4;
        let check = |tokens, work| check_memory(&config, weight_bytes, tokens, work);
        assert!(check(1024, Work::Trace).is_ok());
        assert!(check(512, Work::Saliency).is_ok());
        let Err(EngineError::OutOfMemory {
            work: Work::Saliency,
            tokens: 768,
            longest: 656,
            ..
        }) = check(768, Work::Saliency)
        else {
            panic!("saliency over 768 tokens should be refused, naming 656 tokens as the longest");
        };
    }
}
