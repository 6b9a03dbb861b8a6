//! Tokenization with the `tokenizers` crate from tokenizer.json, with display strings that show
//! what a token really is: GPT-2's leading space as `␣`, WordPiece continuations as `##…`.
use std::collections::HashMap;

use ae_messages::TokenizedText;
use tokenizers::decoders::byte_level::ByteLevel;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::{AddedToken, DecoderWrapper, Tokenizer};

use super::error::{EngineError, Result, TokenizerDamage};

/// Mask tokens the engine recognises, in the order it looks for them.
const MASK_TOKENS: [&str; 2] = ["[MASK]", "<mask>"];
/// Padding tokens, likewise.
const PAD_TOKENS: [&str; 2] = ["[PAD]", "<pad>"];
/// Tokens a decoder's training texts start with (or are separated by), likewise.
const START_TOKENS: [&str; 3] = ["<|endoftext|>", "<s>", "<|begin_of_text|>"];

/// The tokenizer of one model.
pub struct TextTokenizer {
    inner: Tokenizer,
    byte_level: bool,
    mask_token: Option<(String, u32)>,
}

impl TextTokenizer {
    /// Reads tokenizer.json; padding and truncation are switched off (MiniLM's file pads to 128).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        check_tokenizer_json(bytes)?;
        let inner = Tokenizer::from_bytes(bytes).map_err(|e| {
            EngineError::tokenizer(TokenizerDamage::Unreadable {
                detail: e.to_string(),
            })
        })?;
        Self::new(inner)
    }

    /// Builds GPT-2's byte-level BPE from OpenAI's original `encoder.json` and `vocab.bpe`.
    pub fn from_gpt2_vocab(encoder_json: &[u8], vocab_bpe: &[u8]) -> Result<Self> {
        let vocab: HashMap<String, u32> = serde_json::from_slice(encoder_json).map_err(|e| {
            EngineError::tokenizer(TokenizerDamage::EncoderNotMap {
                detail: e.to_string(),
            })
        })?;
        let merges_text = std::str::from_utf8(vocab_bpe)
            .map_err(|_| EngineError::tokenizer(TokenizerDamage::MergesNotText))?;
        let merges = merges_text
            .lines()
            .filter(|line| !line.starts_with("#version") && !line.trim().is_empty())
            .map(|line| {
                line.split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .ok_or_else(|| {
                        EngineError::tokenizer(TokenizerDamage::BadMergeLine {
                            line: line.to_string(),
                        })
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let bpe = BPE::builder()
            .vocab_and_merges(vocab.into_iter().collect::<Vocab>(), merges)
            .build()
            .map_err(|e| {
                EngineError::tokenizer(TokenizerDamage::BpeNotBuilt {
                    detail: e.to_string(),
                })
            })?;
        let mut inner = Tokenizer::new(bpe);
        inner
            .with_pre_tokenizer(Some(ByteLevel::new(false, true, true)))
            .with_post_processor(Some(ByteLevel::new(false, false, true)))
            .with_decoder(Some(ByteLevel::default()));
        inner.add_special_tokens(&[AddedToken::from("<|endoftext|>", true)]);
        Self::new(inner)
    }

    fn new(mut inner: Tokenizer) -> Result<Self> {
        inner.with_padding(None);
        inner.with_truncation(None).map_err(|e| {
            EngineError::tokenizer(TokenizerDamage::TruncationStuck {
                detail: e.to_string(),
            })
        })?;
        let byte_level = matches!(inner.get_decoder(), Some(DecoderWrapper::ByteLevel(_)));
        let mask_token = MASK_TOKENS
            .iter()
            .find_map(|token| inner.token_to_id(token).map(|id| (token.to_string(), id)));
        Ok(TextTokenizer {
            inner,
            byte_level,
            mask_token,
        })
    }

    /// Tokenizes `text`, adding the model's special tokens ([CLS] … [SEP] for BERT).
    pub fn encode(&self, text: &str) -> Result<TokenizedText> {
        self.encode_with(text, true)
    }

    /// Tokenizes `text` without adding special tokens (a decoder's target so far).
    pub fn encode_plain(&self, text: &str) -> Result<TokenizedText> {
        self.encode_with(text, false)
    }

    fn encode_with(&self, text: &str, add_special_tokens: bool) -> Result<TokenizedText> {
        let encoding = self.inner.encode(text, add_special_tokens).map_err(|e| {
            EngineError::tokenizer(TokenizerDamage::CannotTokenize {
                detail: e.to_string(),
            })
        })?;
        let ids = encoding.get_ids().to_vec();
        Ok(TokenizedText {
            tokens: ids.iter().map(|&id| self.display_token(id)).collect(),
            offsets: encoding.get_offsets().to_vec(),
            special: encoding
                .get_special_tokens_mask()
                .iter()
                .map(|&m| m == 1)
                .collect(),
            ids,
        })
    }

    /// The text of `ids` (special tokens included), as the tokenizer's decoder writes it.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.decode_with(ids, false)
    }

    /// The text of `ids` without special tokens (a written target without its end token).
    pub fn decode_plain(&self, ids: &[u32]) -> Result<String> {
        self.decode_with(ids, true)
    }

    fn decode_with(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        self.inner.decode(ids, skip_special_tokens).map_err(|e| {
            EngineError::tokenizer(TokenizerDamage::CannotDecode {
                detail: e.to_string(),
            })
        })
    }

    /// How a token is shown: the text it stands for, with spaces and newlines made visible.
    pub fn display_token(&self, id: u32) -> String {
        if self.byte_level {
            match self.inner.decode(&[id], false) {
                Ok(text) if !text.is_empty() => {
                    text.replace(' ', "␣").replace('\n', "↵").replace('\t', "⇥")
                }
                _ => format!("<{id}>"),
            }
        } else {
            self.inner
                .id_to_token(id)
                .unwrap_or_else(|| format!("<{id}>"))
        }
    }

    /// The text a token adds when appended to a sentence (" cat" for GPT-2's "␣cat", "cat" for a
    /// WordPiece "cat", "ing" for "##ing").
    pub fn token_text(&self, id: u32) -> String {
        if self.byte_level {
            return self.inner.decode(&[id], false).unwrap_or_default();
        }
        match self.inner.id_to_token(id) {
            Some(token) => match token.strip_prefix("##") {
                Some(piece) => piece.to_string(),
                None => token,
            },
            None => String::new(),
        }
    }

    /// The padding token's id ([PAD] for BERT-family vocabularies), if the vocabulary has one.
    pub fn pad_token_id(&self) -> Option<u32> {
        PAD_TOKENS
            .iter()
            .find_map(|token| self.inner.token_to_id(token))
    }

    /// The id of the token a decoder's texts start with (GPT-2's <|endoftext|>), if any.
    pub fn start_token_id(&self) -> Option<u32> {
        START_TOKENS
            .iter()
            .find_map(|token| self.inner.token_to_id(token))
    }

    /// Whether `id` is one of the tokenizer's special tokens.
    pub fn is_special(&self, id: u32) -> bool {
        self.inner
            .get_added_tokens_decoder()
            .get(&id)
            .is_some_and(|token| token.special)
    }

    /// The mask token and its id ([MASK] for BERT-family vocabularies), if the vocabulary has one.
    pub fn mask_token(&self) -> Option<(&str, u32)> {
        self.mask_token
            .as_ref()
            .map(|(text, id)| (text.as_str(), *id))
    }

    /// Number of ids, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}

/// Checks what the `tokenizers` crate would panic on instead of reporting (a panic cannot be
/// caught in wasm, where it would kill the worker): JSON syntax errors inside the decoder (its
/// reader `expect`s them away), and a template post-processor naming a special token it does
/// not define (`encode` indexes a map with it).
fn check_tokenizer_json(bytes: &[u8]) -> Result<()> {
    let json: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        EngineError::tokenizer(TokenizerDamage::NotJson {
            detail: e.to_string(),
        })
    })?;
    check_post_processor(json.get("post_processor"))
}

fn check_post_processor(processor: Option<&serde_json::Value>) -> Result<()> {
    let Some(processor) = processor.filter(|p| !p.is_null()) else {
        return Ok(());
    };
    match processor.get("type").and_then(|t| t.as_str()) {
        Some("Sequence") => {
            for inner in processor
                .get("processors")
                .and_then(|p| p.as_array())
                .into_iter()
                .flatten()
            {
                check_post_processor(Some(inner))?;
            }
            Ok(())
        }
        Some("TemplateProcessing") => {
            let defined = processor.get("special_tokens").and_then(|s| s.as_object());
            for template in ["single", "pair"] {
                for piece in processor
                    .get(template)
                    .and_then(|t| t.as_array())
                    .into_iter()
                    .flatten()
                {
                    let Some(id) = piece.pointer("/SpecialToken/id").and_then(|i| i.as_str())
                    else {
                        continue;
                    };
                    let entry = defined.and_then(|d| d.get(id));
                    let ids = entry.and_then(|e| e.get("ids")).and_then(|i| i.as_array());
                    let tokens = entry
                        .and_then(|e| e.get("tokens"))
                        .and_then(|t| t.as_array());
                    match (ids, tokens) {
                        (Some(ids), Some(tokens)) if ids.len() == tokens.len() => {}
                        _ => {
                            return Err(EngineError::tokenizer(
                                TokenizerDamage::UndefinedSpecialToken {
                                    token: id.to_string(),
                                },
                            ))
                        }
                    }
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
