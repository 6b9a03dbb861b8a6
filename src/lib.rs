//! Attention Explorer: real language models, instrumented to explain self-attention.
pub mod engine;
