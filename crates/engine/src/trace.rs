//! Copies a recorded forward pass out of candle into the plain arrays of `ae_messages`.
use candle_core::{CpuStorage, Storage, Tensor};

use super::config::ModelConfig;
use super::error::{EngineError, Result};
use super::network::ForwardPass;
use ae_messages::{Array, AttentionInternals, LayerTrace, PageTrace, Trace};

/// Copies a tensor out of candle.
pub fn to_array(tensor: &Tensor) -> Result<Array> {
    Ok(Array {
        shape: tensor.dims().to_vec(),
        data: tensor.flatten_all()?.to_vec1::<f32>()?,
    })
}

/// Stacks equally shaped tensors along a new first axis (one per layer), each copied straight
/// into the one buffer: a stacked tensor in between would be one more copy of them all (GPT-2's
/// attention weights at 1024 tokens: 604 MB).
pub(crate) fn stack(tensors: &[Tensor]) -> Result<Array> {
    let Some(first) = tensors.first() else {
        return Err(EngineError::compute("nothing to stack"));
    };
    let mut shape = vec![tensors.len()];
    shape.extend(first.dims());
    let mut data = Vec::with_capacity(shape.iter().product());
    for tensor in tensors {
        if tensor.dims() != first.dims() {
            return Err(EngineError::compute(format!(
                "cannot stack a {:?} tensor onto {:?} ones",
                tensor.dims(),
                first.dims()
            )));
        }
        let (storage, layout) = tensor.storage_and_layout();
        match (&*storage, layout.contiguous_offsets()) {
            (Storage::Cpu(CpuStorage::F32(values)), Some((start, end))) => {
                data.extend_from_slice(&values[start..end])
            }
            _ => data.extend(tensor.flatten_all()?.to_vec1::<f32>()?),
        }
    }
    Ok(Array { shape, data })
}

/// Every layer's attention internals, each field stacked along a new layer axis.
pub(crate) fn stack_internals(
    layers: &[AttentionInternals<Tensor>],
) -> Result<AttentionInternals<Array>> {
    AttentionInternals::try_across(layers, |column| {
        stack(&column.into_iter().cloned().collect::<Vec<_>>())
    })
}

/// Copies one layer's attention internals out of candle as layer `layer`.
pub fn layer_trace(layer: usize, internals: &AttentionInternals<Tensor>) -> Result<LayerTrace> {
    Ok(LayerTrace {
        layer,
        internals: internals.try_map(to_array)?,
    })
}

/// Copies the page's part of a recorded forward pass out of candle.
pub(crate) fn page_trace(
    config: &ModelConfig,
    input_ids: Vec<u32>,
    tokens: Vec<String>,
    token_embeddings: &Tensor,
    pass: &ForwardPass,
) -> Result<PageTrace> {
    let attentions: Vec<Tensor> = pass
        .layers
        .iter()
        .map(|layer| layer.attention_weights.clone())
        .collect();
    Ok(PageTrace {
        architecture: config.architecture,
        causal: config.architecture.is_causal(),
        input_ids,
        tokens,
        token_embeddings: to_array(token_embeddings)?,
        position_embeddings: pass
            .embedded
            .position_embeddings
            .as_ref()
            .map(to_array)
            .transpose()?,
        n_kv_head: config.n_kv_head,
        embedding_sum: to_array(&pass.embedded.embedding_sum)?,
        attentions: stack(&attentions)?,
        hidden_states: stack(&pass.hidden_states())?,
    })
}

/// The whole trace: the page's part, every layer's attention internals and MLP activations
/// stacked along a layer axis, and the logits.
pub(crate) fn full_trace(
    page: PageTrace,
    pass: &ForwardPass,
    logits: Option<&Tensor>,
) -> Result<Trace> {
    let layers: Vec<AttentionInternals<Tensor>> =
        pass.layers.iter().map(|l| l.attention.clone()).collect();
    let attention = stack_internals(&layers)?;
    let mlp_activations: Vec<Tensor> = pass
        .layers
        .iter()
        .map(|l| l.mlp_activations.clone())
        .collect();
    Ok(Trace {
        page,
        attention,
        mlp_activations: stack(&mlp_activations)?,
        logits: logits.map(to_array).transpose()?,
    })
}
