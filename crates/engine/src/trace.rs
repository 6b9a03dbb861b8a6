//! Copies a recorded forward pass out of candle into the plain arrays of `ae_messages`.
use candle_core::{CpuStorage, Storage, Tensor};

use super::config::ModelConfig;
use super::error::{EngineError, Result};
use super::kernels;
use super::network::ForwardPass;
use super::recorder::LayerRecord;
use ae_messages::{
    Array, AttentionInternals, FeedForwardInternals, LayerTrace, PageTrace, ResidualNorms, Trace,
};

/// Copies a tensor out of candle.
pub fn to_array(tensor: &Tensor) -> Result<Array> {
    let mut data = Vec::with_capacity(tensor.elem_count());
    append_values(tensor, &mut data)?;
    Ok(Array {
        shape: tensor.dims().to_vec(),
        data,
    })
}

/// Appends a tensor's values in row-major order. Contiguous values are one copy. A batch of
/// transposed matrices (strides [.., 1, rows]: what the fast matmul orders leave in q, k, v and
/// the token × feature outputs) is transposed back a band at a time ([`kernels`]), several times
/// faster than candle's general strided copy; anything else takes that copy.
fn append_values(tensor: &Tensor, data: &mut Vec<f32>) -> Result<()> {
    {
        let (storage, layout) = tensor.storage_and_layout();
        if let Storage::Cpu(CpuStorage::F32(values)) = &*storage {
            if let Some((start, end)) = layout.contiguous_offsets() {
                data.extend_from_slice(&values[start..end]);
                return Ok(());
            }
            if let Some((batches, rows, columns)) =
                transposed_batches(layout.dims(), layout.stride())
            {
                let block = rows * columns;
                let start = layout.start_offset();
                for stored in values[start..start + batches * block].chunks_exact(block) {
                    // `stored` is the matrix's transpose, columns × rows.
                    kernels::append_transposed(stored, columns, rows, data);
                }
                return Ok(());
            }
        }
    }
    data.extend(tensor.flatten_all()?.to_vec1::<f32>()?);
    Ok(())
}

/// (batches, rows, columns) when `dims` [.., rows, columns] are stored as contiguous
/// columns × rows transposes, one after another.
fn transposed_batches(dims: &[usize], strides: &[usize]) -> Option<(usize, usize, usize)> {
    let [.., rows, columns] = *dims else {
        return None;
    };
    let n = dims.len();
    if strides[n - 2] != 1 || strides[n - 1] != rows {
        return None;
    }
    let mut size = rows * columns;
    for axis in (0..n - 2).rev() {
        if dims[axis] > 1 && strides[axis] != size {
            return None;
        }
        size *= dims[axis];
    }
    Some((size / (rows * columns).max(1), rows, columns))
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
        append_values(tensor, &mut data)?;
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

/// Every layer's feed-forward internals, each field stacked along a new layer axis.
pub(crate) fn stack_feed_forward(layers: &[LayerRecord]) -> Result<FeedForwardInternals<Array>> {
    let feed_forward: Vec<_> = layers.iter().map(|l| l.feed_forward.clone()).collect();
    FeedForwardInternals::try_across(&feed_forward, |column| {
        stack(&column.into_iter().cloned().collect::<Vec<_>>())
    })
}

/// Copies one layer's internals out of candle as layer `layer`.
pub fn layer_trace(layer: usize, record: &LayerRecord) -> Result<LayerTrace> {
    Ok(LayerTrace {
        layer,
        internals: record.attention.try_map(to_array)?,
        feed_forward: record.feed_forward.try_map(to_array)?,
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
        residual_norms: residual_norms(pass)?,
        hidden_keys: Vec::new(),
    })
}

/// ‖row‖ of each stream entering a block (and leaving the last, before any final norm) and
/// of each block's attention and feed-forward outputs, per token.
fn residual_norms(pass: &ForwardPass) -> Result<ResidualNorms> {
    let norms = |tensors: &mut dyn Iterator<Item = &Tensor>| -> Result<Vec<Vec<f32>>> {
        tensors
            .map(|t| Ok(t.sqr()?.sum(1)?.sqrt()?.to_vec1::<f32>()?))
            .collect()
    };
    Ok(ResidualNorms {
        stream: norms(&mut pass.residual_streams.iter())?,
        attention: norms(&mut pass.layers.iter().map(|l| &l.attention.attention_output))?,
        feed_forward: norms(&mut pass.layers.iter().map(|l| &l.feed_forward.output))?,
    })
}

/// The whole trace: the page's part, every layer's attention and feed-forward internals
/// stacked along a layer axis, and the logits.
pub(crate) fn full_trace(
    page: PageTrace,
    pass: &ForwardPass,
    logits: Option<&Tensor>,
) -> Result<Trace> {
    let layers: Vec<AttentionInternals<Tensor>> =
        pass.layers.iter().map(|l| l.attention.clone()).collect();
    Ok(Trace {
        page,
        attention: stack_internals(&layers)?,
        feed_forward: stack_feed_forward(&pass.layers)?,
        logits: logits.map(to_array).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// Transposed batches (the fast path), a narrowed transpose and a permutation (candle's
    /// copy) all come out as candle's own row-major values.
    #[test]
    fn copies_equal_candles_row_major_values() {
        let stored = Tensor::arange(0f32, 2.0 * 3.0 * 5.0, &Device::Cpu)
            .and_then(|t| t.reshape((2, 5, 3)))
            .expect("tensor");
        let transposed = stored.transpose(1, 2).expect("[2, 3, 5] view");
        assert_eq!(
            transposed_batches(transposed.dims(), transposed.stride()),
            Some((2, 3, 5))
        );
        let narrowed = transposed.narrow(2, 1, 3).expect("narrowed");
        let permuted = stored.permute((1, 0, 2)).expect("permuted");
        for view in [transposed, narrowed, permuted] {
            let expected = view.flatten_all().and_then(|t| t.to_vec1::<f32>());
            assert_eq!(
                to_array(&view).expect("copy").data,
                expected.expect("candle")
            );
        }
    }
}
