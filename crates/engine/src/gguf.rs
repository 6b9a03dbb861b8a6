//! GGUF files (llama.cpp's single-file format): the model's numbers, its tokenizer and its
//! tensors, read with candle's GGUF reader. Quantised tensors are dequantised to f32 once, so the
//! instrumented forward pass and saliency's gradients run on ordinary tensors.
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};

use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::Tensor;
use serde_json::json;

use super::activation::Activation;
use super::checkpoint::{ByteSource, Checkpoint};
use super::config::ModelConfig;
use super::error::{
    describe_candle_error, ConfigDamage, EngineError, GgufDamage, Result, TokenizerDamage,
};
use super::tokenizer::TextTokenizer;
use super::Device;
use ae_messages::Architecture;
use ae_messages::ModelFile;

/// The first four bytes of every GGUF file.
pub const GGUF_MAGIC: &[u8; 4] = b"GGUF";

/// Whether `bytes` start like a GGUF file.
pub fn is_gguf<S: ByteSource + ?Sized>(source: &S) -> bool {
    let mut magic = [0u8; 4];
    source.byte_len() >= 4 && source.read_into(0, &mut magic).is_some() && &magic == GGUF_MAGIC
}

/// Everything a GGUF file holds that the engine uses.
pub struct GgufModel {
    /// The numbers of the architecture, from the `llama.*` metadata.
    pub config: ModelConfig,
    /// The tokenizer rebuilt from the `tokenizer.ggml.*` metadata.
    pub tokenizer: TextTokenizer,
    /// Every tensor, dequantised to f32, under its GGUF name (`blk.0.attn_q.weight` …).
    pub checkpoint: Checkpoint,
}

/// Reads a GGUF file: metadata, tokenizer and every tensor.
pub fn read<S: ByteSource + ?Sized>(source: &S) -> Result<GgufModel> {
    let mut reader = SourceReader {
        source,
        position: 0,
    };
    let content = Content::read(&mut reader).map_err(|e| {
        EngineError::gguf_structure(GgufDamage::Unreadable {
            detail: e.to_string(),
        })
    })?;
    let config = config_from_metadata(&content.metadata).map_err(in_gguf)?;
    let tokenizer = tokenizer_from_metadata(&content.metadata).map_err(in_gguf)?;
    let mut tensors = HashMap::new();
    for (name, info) in &content.tensor_infos {
        let elements = info
            .shape
            .dims()
            .iter()
            .try_fold(1usize, |product, &dim| product.checked_mul(dim));
        // No elements: candle would view an empty buffer (dangling, 1-aligned) as quantised
        // blocks, which debug builds abort on; no real tensor is empty.
        if elements
            .is_none_or(|count| count == 0 || count as u64 > source.byte_len().saturating_mul(4))
        {
            return Err(EngineError::gguf_structure(GgufDamage::ImpossibleShape {
                tensor: name.clone(),
                shape: info.shape.dims().to_vec(),
            }));
        }
        let unreadable = |e: candle_core::Error| {
            EngineError::gguf_structure(GgufDamage::TensorUnreadable {
                tensor: name.clone(),
                detail: describe_candle_error(&e),
            })
        };
        let quantized = content
            .tensor(&mut reader, name, &Device::Cpu)
            .map_err(unreadable)?;
        let tensor = quantized.dequantize(&Device::Cpu).map_err(unreadable)?;
        tensors.insert(name.clone(), tensor);
    }
    Ok(GgufModel {
        config,
        tokenizer,
        checkpoint: Checkpoint::from_tensors(tensors)?,
    })
}

/// Re-labels an error from the config or tokenizer code, which names config.json or
/// tokenizer.json, as one about the .gguf file's metadata.
fn in_gguf(error: EngineError) -> EngineError {
    match error {
        EngineError::DamagedFile {
            file: ModelFile::Config | ModelFile::Tokenizer,
            damage,
        } => EngineError::gguf(damage),
        other => other,
    }
}

/// `Read + Seek` over a [`ByteSource`], as candle's GGUF reader wants.
struct SourceReader<'a, S: ?Sized> {
    source: &'a S,
    position: u64,
}

impl<S: ByteSource + ?Sized> Read for SourceReader<'_, S> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let remaining = self.source.byte_len().saturating_sub(self.position);
        let count = (buffer.len() as u64).min(remaining) as usize;
        if count == 0 {
            return Ok(0);
        }
        self.source
            .read_into(self.position, &mut buffer[..count])
            .ok_or_else(|| std::io::Error::other("read past the end of the file"))?;
        self.position += count as u64;
        Ok(count)
    }
}

impl<S: ByteSource + ?Sized> Seek for SourceReader<'_, S> {
    fn seek(&mut self, position: SeekFrom) -> std::io::Result<u64> {
        let length = self.source.byte_len() as i128;
        let target = match position {
            SeekFrom::Start(offset) => offset as i128,
            SeekFrom::End(offset) => length + offset as i128,
            SeekFrom::Current(offset) => self.position as i128 + offset as i128,
        };
        if target < 0 {
            return Err(std::io::Error::other("seek before the start of the file"));
        }
        self.position = target as u64;
        Ok(self.position)
    }
}

/// Typed access to GGUF metadata with messages that name the key.
struct Metadata<'a>(&'a HashMap<String, Value>);

impl Metadata<'_> {
    fn get(&self, key: &str) -> Result<&Value> {
        self.0.get(key).ok_or_else(|| {
            EngineError::config(ConfigDamage::NoMetadataEntry {
                key: key.to_string(),
            })
        })
    }

    fn usize(&self, key: &str) -> Result<usize> {
        let value = self.get(key)?;
        value
            .to_u64()
            .ok()
            .or_else(|| value.to_u32().ok().map(u64::from))
            .or_else(|| value.to_i32().ok().and_then(|v| u64::try_from(v).ok()))
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| {
                EngineError::config(ConfigDamage::NotWholeNumber {
                    name: key.to_string(),
                    value: None,
                })
            })
    }

    fn f64(&self, key: &str) -> Result<Option<f64>> {
        match self.0.get(key) {
            None => Ok(None),
            Some(value) => value
                .to_f32()
                .map(f64::from)
                .or_else(|_| value.to_f64())
                .map(Some)
                .map_err(|_| {
                    EngineError::config(ConfigDamage::NotNumber {
                        name: key.to_string(),
                        value: None,
                    })
                }),
        }
    }

    fn string(&self, key: &str) -> Result<&str> {
        self.get(key)?.to_string().map(String::as_str).map_err(|_| {
            EngineError::config(ConfigDamage::NotText {
                name: key.to_string(),
                value: None,
            })
        })
    }

    fn strings(&self, key: &str) -> Result<Vec<&str>> {
        self.get(key)?
            .to_vec()
            .map_err(|_| {
                EngineError::config(ConfigDamage::NotList {
                    name: key.to_string(),
                })
            })?
            .iter()
            .map(|value| {
                value.to_string().map(String::as_str).map_err(|_| {
                    EngineError::config(ConfigDamage::NotListOfText {
                        name: key.to_string(),
                    })
                })
            })
            .collect()
    }

    fn integers(&self, key: &str) -> Result<Vec<i64>> {
        let Some(value) = self.0.get(key) else {
            return Ok(Vec::new());
        };
        value
            .to_vec()
            .map_err(|_| {
                EngineError::config(ConfigDamage::NotList {
                    name: key.to_string(),
                })
            })?
            .iter()
            .map(|value| {
                value
                    .to_i32()
                    .map(i64::from)
                    .or_else(|_| value.to_u32().map(i64::from))
                    .or_else(|_| value.to_i64())
                    .map_err(|_| {
                        EngineError::config(ConfigDamage::NotListOfIntegers {
                            name: key.to_string(),
                        })
                    })
            })
            .collect()
    }
}

/// The architecture's numbers from `general.architecture` and `llama.*`.
fn config_from_metadata(metadata: &HashMap<String, Value>) -> Result<ModelConfig> {
    let field = Metadata(metadata);
    let architecture = field.string("general.architecture")?;
    if architecture != "llama" {
        return Err(EngineError::config(ConfigDamage::NotLlama {
            architecture: architecture.to_string(),
        }));
    }
    let key = |name: &str| format!("llama.{name}");
    let n_head = field.usize(&key("attention.head_count"))?;
    let vocab_size = match field.usize(&key("vocab_size")) {
        Ok(size) => size,
        Err(_) => field.strings("tokenizer.ggml.tokens")?.len(),
    };
    ModelConfig {
        architecture: Architecture::Llama,
        n_layer: field.usize(&key("block_count"))?,
        n_head,
        n_kv_head: field
            .usize(&key("attention.head_count_kv"))
            .unwrap_or(n_head),
        d_model: field.usize(&key("embedding_length"))?,
        d_ff: field.usize(&key("feed_forward_length"))?,
        vocab_size,
        max_positions: field.usize(&key("context_length"))?,
        type_vocab_size: 0,
        layer_norm_eps: field
            .f64(&key("attention.layer_norm_rms_epsilon"))?
            .unwrap_or(1e-5),
        activation: Activation::Silu,
        rope_theta: Some(field.f64(&key("rope.freq_base"))?.unwrap_or(10_000.0)),
        encoder_decoder: None,
    }
    .validate()
}

/// llama.cpp's token types: 3 marks a control token such as `<|im_start|>`.
const CONTROL_TOKEN: i64 = 3;

/// A byte-level BPE tokenizer (`tokenizer.ggml.model` = "gpt2") rebuilt from the vocabulary,
/// merges and token types, as transformers does when it loads a GGUF: GPT-2's byte-level
/// pre-tokenizer and decoder, control tokens kept whole as special tokens, no BOS added.
fn tokenizer_from_metadata(metadata: &HashMap<String, Value>) -> Result<TextTokenizer> {
    let field = Metadata(metadata);
    let model = field.string("tokenizer.ggml.model")?;
    if model != "gpt2" {
        return Err(EngineError::tokenizer(
            TokenizerDamage::UnsupportedGgufKind {
                model: model.to_string(),
            },
        ));
    }
    let tokens = field.strings("tokenizer.ggml.tokens")?;
    let merges = field.strings("tokenizer.ggml.merges")?;
    let token_types = field.integers("tokenizer.ggml.token_type")?;
    let vocab: serde_json::Map<String, serde_json::Value> = tokens
        .iter()
        .enumerate()
        .map(|(id, token)| (token.to_string(), json!(id)))
        .collect();
    let added_tokens: Vec<serde_json::Value> = tokens
        .iter()
        .zip(&token_types)
        .enumerate()
        .filter(|(_, (_, &kind))| kind == CONTROL_TOKEN)
        .map(|(id, (token, _))| {
            json!({"id": id, "content": token, "single_word": false, "lstrip": false,
                   "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    let tokenizer_json = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added_tokens,
        "normalizer": null,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
                          "use_regex": true},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true,
                    "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null,
                  "continuing_subword_prefix": null, "end_of_word_suffix": null,
                  "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                  "vocab": vocab, "merges": merges},
    });
    TextTokenizer::from_json(tokenizer_json.to_string().as_bytes())
}

/// Undoes llama.cpp's reordering of a q or k projection's rows. llama.cpp interleaves the two
/// halves of each head (pairs (0, d/2), (1, d/2+1) … become adjacent rows) for its rotary
/// kernel; transformers and this engine rotate the halves, so rows go back to the original
/// order and q, k equal transformers' numbers.
pub fn unpermute_rows(weight: &Tensor, heads: usize) -> candle_core::Result<Tensor> {
    let (rows, columns) = weight.dims2()?;
    let half_head = rows / heads / 2;
    weight
        .reshape((heads, half_head, 2, columns))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape((rows, columns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpermuting_inverts_llama_cpp_interleaving() -> candle_core::Result<()> {
        // llama.cpp: w.reshape(heads, 2, half, cols).swapaxes(1, 2) — rows (h, i, half) → (h, half, i).
        let (heads, d_head, columns) = (2usize, 4usize, 3usize);
        let original = Tensor::arange(0f32, (heads * d_head * columns) as f32, &Device::Cpu)?
            .reshape((heads * d_head, columns))?;
        let permuted = original
            .reshape((heads, 2, d_head / 2, columns))?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((heads * d_head, columns))?;
        assert_ne!(permuted.to_vec2::<f32>()?, original.to_vec2::<f32>()?);
        assert_eq!(
            unpermute_rows(&permuted, heads)?.to_vec2::<f32>()?,
            original.to_vec2::<f32>()?
        );
        Ok(())
    }
}
