//! Reads model.safetensors from bytes and serves its tensors to `VarBuilder`, accepting the
//! naming variants real checkpoints use (old `gamma`/`beta` LayerNorm names, with or without a
//! `transformer.` / `bert.` / `distilbert.` prefix).
use std::collections::HashMap;

use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::{Init, VarBuilder};

use super::error::{EngineError, Result, WeightsDamage};

/// All tensors of one safetensors file, stored as f32 (f16/bf16 are widened on load), each in
/// the file's own layout.
pub struct Checkpoint {
    tensors: HashMap<String, Tensor>,
}

/// The largest safetensors header accepted (the format's own reader refuses more than 100 MB;
/// real headers are a few hundred kB).
const MAX_HEADER_BYTES: u64 = 100_000_000;

/// Where a safetensors file's bytes are read from: a slice in memory (native, tests), or in the
/// browser the downloaded file held in JS memory, so that the file is never copied whole into
/// wasm memory — each tensor is copied once, straight into its own storage.
pub trait ByteSource {
    /// The file's length in bytes.
    fn byte_len(&self) -> u64;
    /// Copies `out.len()` bytes starting at `offset` into `out`; `None` when that range is not
    /// inside the file.
    fn read_into(&self, offset: u64, out: &mut [u8]) -> Option<()>;
}

impl ByteSource for [u8] {
    fn byte_len(&self) -> u64 {
        self.len() as u64
    }

    fn read_into(&self, offset: u64, out: &mut [u8]) -> Option<()> {
        let start = usize::try_from(offset).ok()?;
        out.copy_from_slice(self.get(start..start.checked_add(out.len())?)?);
        Some(())
    }
}

/// A checked safetensors header: where the data starts and every tensor's place in it.
struct Layout {
    data_start: u64,
    metadata: safetensors::tensor::Metadata,
}

/// Recognises files that are not safetensors, and safetensors files whose header cannot be
/// right, before anything trusts a size field in them; then the format's own checks.
fn read_layout<S: ByteSource + ?Sized>(source: &S) -> Result<Layout> {
    let file_len = source.byte_len();
    let mut first = [0u8; 8];
    let has_length = source.read_into(0, &mut first).is_some();
    // A file that does not parse as safetensors is named by its signature when it has one (the
    // signatures are only consulted then: a valid header length can begin with the same bytes).
    let signature = &first[..file_len.min(8) as usize];
    let weights = |damage: WeightsDamage| {
        Err(EngineError::weights(
            foreign_format(signature).unwrap_or(damage),
        ))
    };
    if !has_length {
        return weights(WeightsDamage::TooShort { bytes: file_len });
    }
    let header_len = u64::from_le_bytes(first);
    let available = file_len - 8;
    if header_len > MAX_HEADER_BYTES {
        return weights(WeightsDamage::ImplausibleHeader { bytes: header_len });
    }
    if header_len > available {
        return weights(WeightsDamage::HeaderCutOff {
            bytes: header_len,
            available,
        });
    }
    let mut header = vec![0u8; header_len as usize];
    if source.read_into(8, &mut header).is_none() {
        return weights(WeightsDamage::HeaderUnreadable);
    }
    let parsed: std::result::Result<serde_json::Value, _> = serde_json::from_slice(&header);
    let Ok(serde_json::Value::Object(entries)) = parsed else {
        return weights(WeightsDamage::HeaderNotObject);
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
            return weights(WeightsDamage::UnknownDataType {
                tensor: name.clone(),
                dtype: dtype.to_string(),
            });
        }
        let end = entry
            .get("data_offsets")
            .and_then(|o| o.as_array())
            .and_then(|o| o.get(1))
            .and_then(|o| o.as_u64());
        match end {
            Some(end) if end > data_len => {
                return weights(WeightsDamage::TensorPastEnd {
                    tensor: name.clone(),
                    end,
                    data: data_len,
                })
            }
            Some(_) => {}
            None => {
                return weights(WeightsDamage::NoDataOffsets {
                    tensor: name.clone(),
                })
            }
        }
    }
    // The format's own checks: offsets contiguous, sizes matching shape × dtype.
    let metadata: safetensors::tensor::Metadata = serde_json::from_slice(&header).map_err(|e| {
        EngineError::weights(WeightsDamage::NotSafetensors {
            detail: e.to_string(),
        })
    })?;
    let data_end = metadata
        .tensors()
        .values()
        .map(|info| info.data_offsets.1 as u64)
        .max()
        .unwrap_or(0);
    if data_end != data_len {
        return weights(WeightsDamage::DataCutOff {
            described: data_end,
            data: data_len,
        });
    }
    Ok(Layout {
        data_start: 8 + header_len,
        metadata,
    })
}

/// What a file is when it is a known non-safetensors format.
fn foreign_format(bytes: &[u8]) -> Option<WeightsDamage> {
    if bytes.starts_with(b"GGUF") {
        Some(WeightsDamage::IsGguf)
    } else if bytes.starts_with(b"PK\x03\x04")
        || (bytes.first() == Some(&0x80) && bytes.get(1).is_some_and(|p| (2..=5).contains(p)))
    {
        Some(WeightsDamage::IsPickle)
    } else {
        None
    }
}

impl Checkpoint {
    /// Reads a safetensors file tensor by tensor from `source`: each tensor's bytes are copied
    /// once, into the storage its `Tensor` then owns (f16/bf16/f64 are widened to f32 one tensor
    /// at a time), so loading needs the weights' size in memory plus one tensor, not the file
    /// twice.
    pub fn from_source<S: ByteSource + ?Sized>(source: &S) -> Result<Self> {
        let layout = read_layout(source)?;
        let mut tensors = HashMap::new();
        for (name, info) in layout.metadata.tensors() {
            if is_causal_mask_buffer(&name) {
                continue;
            }
            let offset = layout.data_start + info.data_offsets.0 as u64;
            let shape = info.shape.as_slice();
            let elements = info.shape.iter().product::<usize>();
            let cut_off = || {
                EngineError::weights(WeightsDamage::TensorCutOff {
                    tensor: name.clone(),
                })
            };
            use safetensors::Dtype;
            let tensor = match info.dtype {
                Dtype::F32 => {
                    let mut values = vec![0f32; elements];
                    // Safetensors is little-endian, like wasm and the CPUs this runs on.
                    source
                        .read_into(offset, bytemuck::cast_slice_mut(&mut values))
                        .ok_or_else(cut_off)?;
                    Tensor::from_vec(values, shape, &Device::Cpu)?
                }
                Dtype::F16 => {
                    let mut values = vec![half::f16::ZERO; elements];
                    source
                        .read_into(offset, bytemuck::cast_slice_mut(&mut values))
                        .ok_or_else(cut_off)?;
                    Tensor::from_vec(values, shape, &Device::Cpu)?.to_dtype(DType::F32)?
                }
                Dtype::BF16 => {
                    let mut values = vec![half::bf16::ZERO; elements];
                    source
                        .read_into(offset, bytemuck::cast_slice_mut(&mut values))
                        .ok_or_else(cut_off)?;
                    Tensor::from_vec(values, shape, &Device::Cpu)?.to_dtype(DType::F32)?
                }
                Dtype::F64 => {
                    let mut values = vec![0f64; elements];
                    source
                        .read_into(offset, bytemuck::cast_slice_mut(&mut values))
                        .ok_or_else(cut_off)?;
                    Tensor::from_vec(values, shape, &Device::Cpu)?.to_dtype(DType::F32)?
                }
                // Integer buffers such as `embeddings.position_ids` are not weights.
                _ => continue,
            };
            tensors.insert(name, tensor);
        }
        Ok(Checkpoint { tensors })
    }

    /// Builds a checkpoint from tensors made in memory (benchmarks, tests).
    pub fn from_tensors(tensors: HashMap<String, Tensor>) -> Result<Self> {
        Ok(Checkpoint { tensors })
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
        let root = VarBuilder::from_backend(
            Box::new(HandOver(std::sync::Mutex::new(self))),
            DType::F32,
            Device::Cpu,
        );
        let model = match prefix {
            Some(prefix) => root.pp(*prefix),
            None => root.clone(),
        };
        (root, model)
    }

    /// The stored name for `name`: itself, or for older BERT checkpoints (bert-base-uncased)
    /// the LayerNorm parameter's `gamma`/`beta` alias.
    fn resolve(&self, name: &str) -> Option<String> {
        if self.tensors.contains_key(name) {
            return Some(name.to_string());
        }
        let alias = if let Some(stem) = name.strip_suffix(".weight") {
            format!("{stem}.gamma")
        } else if let Some(stem) = name.strip_suffix(".bias") {
            format!("{stem}.beta")
        } else {
            return None;
        };
        self.tensors.contains_key(&alias).then_some(alias)
    }
}

/// Serves a checkpoint to `VarBuilder`, handing each tensor over once: the checkpoint lets go of
/// it, so a layer that re-lays a weight out (GPT-2's transposed Conv1D matrices) frees the
/// original at once instead of holding both until the whole model is built. Models fetch each
/// weight once (a tied head reuses the embedding's tensor).
struct HandOver(std::sync::Mutex<Checkpoint>);

impl candle_nn::var_builder::SimpleBackend for HandOver {
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
                msg: name.to_string(),
                expected: shape,
                got: tensor.shape().clone(),
            });
        }
        Ok(tensor)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let missing = || candle_core::Error::CannotFindTensor {
            path: name.to_string(),
        };
        let mut checkpoint = self.0.lock().map_err(|_| missing())?;
        let key = checkpoint.resolve(name).ok_or_else(missing)?;
        let tensor = checkpoint.tensors.remove(&key).ok_or_else(missing)?;
        tensor.to_device(dev)?.to_dtype(dtype)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.0
            .lock()
            .is_ok_and(|checkpoint| checkpoint.resolve(name).is_some())
    }
}

impl Checkpoint {
    /// Number of f32 values held, buffers excluded: the model's parameter count.
    pub fn parameter_count(&self) -> usize {
        self.weight_shapes()
            .iter()
            .map(|(_, shape)| shape.iter().product::<usize>())
            .sum()
    }

    /// Every weight's name and shape; buffers are not weights.
    pub fn weight_shapes(&self) -> Vec<(String, Vec<usize>)> {
        self.tensors
            .iter()
            .filter(|(name, _)| !is_float_buffer(name))
            .map(|(name, tensor)| (name.clone(), tensor.dims().to_vec()))
            .collect()
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

/// Float tensors that transformers keeps as buffers, not parameters: the engine reads them but
/// they are not counted (BART's and Marian's `final_logits_bias`).
fn is_float_buffer(name: &str) -> bool {
    name == "final_logits_bias" || name.ends_with(".final_logits_bias")
}

/// GPT-2's `h.N.attn.bias` / `h.N.attn.masked_bias`: constant mask buffers the engine rebuilds
/// (4 MB each in the Hub's gpt2 file), not weights.
fn is_causal_mask_buffer(name: &str) -> bool {
    name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias")
}

/// A copy of a safetensors file with its f32/f64 tensors stored as `dtype` (F16 or BF16): half
/// the download for the same model. Integer buffers are kept as they are. (`tools/to-f16`.)
pub fn to_half_precision(bytes: &[u8], dtype: DType) -> Result<Vec<u8>> {
    if !matches!(dtype, DType::F16 | DType::BF16) {
        return Err(EngineError::bad_request(format!(
            "half precision is F16 or BF16, not {dtype:?}"
        )));
    }
    read_layout(bytes)?;
    let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)?;
    let mut halved = Vec::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        let tensor = match tensor.dtype() {
            DType::F32 | DType::F64 => tensor.to_dtype(dtype)?,
            _ => tensor,
        };
        halved.push((name, tensor));
    }
    halved.sort_by(|a, b| a.0.cmp(&b.0));
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(halved, Some(metadata)).map_err(|e| {
        EngineError::weights(WeightsDamage::CannotWriteCopy {
            detail: e.to_string(),
        })
    })
}
