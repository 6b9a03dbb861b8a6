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

impl Checkpoint {
    /// Parses a safetensors file held in memory.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self> {
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
}

/// GPT-2's `h.N.attn.bias` / `h.N.attn.masked_bias`: constant mask buffers the engine rebuilds
/// (4 MB each in the Hub's gpt2 file), not weights.
fn is_causal_mask_buffer(name: &str) -> bool {
    name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias")
}
