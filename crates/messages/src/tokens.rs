//! A tokenized text.
use serde::{Deserialize, Serialize};

/// A text cut into tokens, with everything the UI shows per token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenizedText {
    /// Token ids, special tokens ([CLS], [SEP]) included.
    pub ids: Vec<u32>,
    /// Display strings, one per id.
    pub tokens: Vec<String>,
    /// Byte ranges of each token in the original text ((0, 0) for added special tokens).
    pub offsets: Vec<(usize, usize)>,
    /// Whether each token is a special token such as [CLS] or [SEP].
    pub special: Vec<bool>,
}
