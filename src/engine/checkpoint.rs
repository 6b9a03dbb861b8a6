//! Reads model.safetensors from bytes and serves its tensors to `VarBuilder`, accepting the
//! naming variants real checkpoints use (old `gamma`/`beta` LayerNorm names, with or without a
//! `transformer.` / `bert.` / `distilbert.` prefix).
use std::collections::HashMap;

use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::{Init, VarBuilder};

use super::error::{describe_candle_error, EngineError, Result};

/// All tensors of one safetensors file, stored as f32 (f16/bf16 are widened on load).
pub struct Checkpoint {
    tensors: HashMap<String, Tensor>,
}

/// The largest safetensors header accepted (the format's own reader refuses more than 100 MB;
/// real headers are a few hundred kB).
const MAX_HEADER_BYTES: u64 = 100_000_000;

/// Recognises files that are not safetensors, and safetensors files whose header cannot be
/// right, before anything trusts a size field in them.
pub fn check_safetensors_layout(bytes: &[u8]) -> Result<()> {
    // A file that does not parse as safetensors is named by its signature when it has one (the
    // signatures are only consulted then: a valid header length can begin with the same bytes).
    let weights = |message: String| {
        Err(EngineError::Weights(
            foreign_format(bytes).map_or(message, String::from),
        ))
    };
    if bytes.len() < 8 {
        return weights(format!(
            "the file has only {} bytes: it is empty or cut off; download it again",
            bytes.len()
        ));
    }
    let mut length = [0u8; 8];
    length.copy_from_slice(&bytes[..8]);
    let header_len = u64::from_le_bytes(length);
    let available = bytes.len() as u64 - 8;
    if header_len > MAX_HEADER_BYTES {
        return weights(format!(
            "the file claims a {header_len}-byte header, which no real checkpoint has: it is \
             damaged or not a .safetensors file"
        ));
    }
    if header_len > available {
        return weights(format!(
            "the header should be {header_len} bytes but the file has only {available} after \
             the length field: the file is cut off; download it again"
        ));
    }
    let header = &bytes[8..8 + header_len as usize];
    let parsed: std::result::Result<serde_json::Value, _> = serde_json::from_slice(header);
    let Ok(serde_json::Value::Object(entries)) = parsed else {
        return weights(
            "the header is not a JSON object: the file is damaged or not a .safetensors file"
                .into(),
        );
    };
    let data_len = available - header_len;
    for (name, entry) in &entries {
        if name == "__metadata__" {
            continue;
        }
        let dtype = entry.get("dtype").and_then(|d| d.as_str()).unwrap_or("");
        const KNOWN: [&str; 13] = [
            "BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64",
            "U64",
        ];
        if !KNOWN.contains(&dtype) {
            return weights(format!(
                "the tensor `{name}` has the data type `{dtype}`, which Attention Explorer \
                 cannot read (it reads F32, F16 and BF16 weights)"
            ));
        }
        let end = entry
            .get("data_offsets")
            .and_then(|o| o.as_array())
            .and_then(|o| o.get(1))
            .and_then(|o| o.as_u64());
        match end {
            Some(end) if end > data_len => {
                return weights(format!(
                    "the tensor `{name}` ends at byte {end} of the data but the file holds only \
                     {data_len}: the file is cut off; download it again"
                ))
            }
            Some(_) => {}
            None => {
                return weights(format!(
                    "the tensor `{name}` has no valid `data_offsets`: the file is damaged"
                ))
            }
        }
    }
    Ok(())
}

/// What a file is when it is a known non-safetensors format.
fn foreign_format(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"GGUF") {
        Some(
            "this is a GGUF file (llama.cpp's format), not .safetensors; pick the repository's \
             model.safetensors",
        )
    } else if bytes.starts_with(b"PK\x03\x04")
        || (bytes.first() == Some(&0x80) && bytes.get(1).is_some_and(|p| (2..=5).contains(p)))
    {
        Some(
            "this is a PyTorch .bin checkpoint (a pickle), not .safetensors; pick the \
             repository's model.safetensors, or convert the .bin with the `safetensors` Python \
             package",
        )
    } else {
        None
    }
}

impl Checkpoint {
    /// Parses a safetensors file held in memory.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self> {
        check_safetensors_layout(bytes)?;
        let raw = candle_core::safetensors::load_buffer(bytes, &Device::Cpu).map_err(|e| {
            EngineError::Weights(format!(
                "cannot read the file ({}); is it a complete .safetensors file?",
                describe_candle_error(&e)
            ))
        })?;
        let mut tensors = HashMap::with_capacity(raw.len());
        for (name, tensor) in raw {
            if is_causal_mask_buffer(&name) {
                continue;
            }
            let tensor = match tensor.dtype() {
                DType::F32 => tensor,
                DType::F16 | DType::BF16 | DType::F64 => tensor.to_dtype(DType::F32)?,
                // Integer buffers such as `embeddings.position_ids` are not weights.
                _ => continue,
            };
            tensors.insert(name, tensor);
        }
        Ok(Checkpoint { tensors })
    }

    /// Builds a checkpoint from tensors made in memory (benchmarks, tests).
    pub fn from_tensors(tensors: HashMap<String, Tensor>) -> Self {
        Checkpoint { tensors }
    }

    /// Whether a tensor of this exact name is stored.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// `VarBuilder`s over these tensors (f32, CPU): one at the root, for heads stored outside
    /// the model's prefix, and one under the first of `prefixes` where `probe` is stored
    /// (checkpoints differ: `transformer.` / `bert.` / `distilbert.` or none; "" = no prefix).
    pub fn var_builders(
        self,
        prefixes: &[&str],
        probe: &str,
    ) -> (VarBuilder<'static>, VarBuilder<'static>) {
        let prefix = prefixes
            .iter()
            .find(|prefix| !prefix.is_empty() && self.contains(&format!("{prefix}.{probe}")));
        let root = VarBuilder::from_backend(Box::new(self), DType::F32, Device::Cpu);
        let model = match prefix {
            Some(prefix) => root.pp(*prefix),
            None => root.clone(),
        };
        (root, model)
    }

    fn lookup(&self, name: &str) -> Option<&Tensor> {
        self.tensors.get(name).or_else(|| {
            // Older BERT checkpoints (bert-base-uncased) call LayerNorm parameters gamma/beta.
            let alias = if let Some(stem) = name.strip_suffix(".weight") {
                format!("{stem}.gamma")
            } else if let Some(stem) = name.strip_suffix(".bias") {
                format!("{stem}.beta")
            } else {
                return None;
            };
            self.tensors.get(&alias)
        })
    }
}

impl candle_nn::var_builder::SimpleBackend for Checkpoint {
    fn get(
        &self,
        shape: Shape,
        name: &str,
        _: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let tensor = self.get_unchecked(name, dtype, dev)?;
        if tensor.shape() != &shape {
            return Err(candle_core::Error::UnexpectedShape {
                msg: format!("the tensor `{name}` has the wrong shape"),
                expected: shape,
                got: tensor.shape().clone(),
            });
        }
        Ok(tensor)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let tensor = self
            .lookup(name)
            .ok_or_else(|| candle_core::Error::CannotFindTensor {
                path: name.to_string(),
            })?;
        tensor.to_device(dev)?.to_dtype(dtype)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.lookup(name).is_some()
    }
}

impl Checkpoint {
    /// Number of f32 values held: the model's parameter count.
    pub fn parameter_count(&self) -> usize {
        self.tensors.values().map(Tensor::elem_count).sum()
    }

    /// Tensors holding NaN or infinite values, with how many, sorted by name. Such a model
    /// still runs (its numbers are shown as they come out), but the page warns.
    pub fn non_finite_tensors(&self) -> Result<Vec<(String, usize)>> {
        let mut found = Vec::new();
        for (name, tensor) in &self.tensors {
            // A NaN or infinity makes the sum non-finite; only then are the values counted (a
            // sum that merely overflows counts none and is not reported).
            let probe = tensor.sum_all()?.to_scalar::<f32>()?;
            if !probe.is_finite() {
                let values = tensor.flatten_all()?.to_vec1::<f32>()?;
                let count = values.iter().filter(|v| !v.is_finite()).count();
                if count > 0 {
                    found.push((name.clone(), count));
                }
            }
        }
        found.sort();
        Ok(found)
    }
}

/// GPT-2's `h.N.attn.bias` / `h.N.attn.masked_bias`: constant mask buffers the engine rebuilds
/// (4 MB each in the Hub's gpt2 file), not weights.
fn is_causal_mask_buffer(name: &str) -> bool {
    name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias")
}
