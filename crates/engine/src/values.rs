//! Tensors' f32 values for the custom ops with hand-written backwards (`activation.rs`,
//! `attention_gradient.rs`, `norm_gradient.rs`): borrowed in place, with no copy of an
//! activation-sized array, or handed back as a forward's output.
use candle_core::{CpuStorage, Shape, Storage, Tensor};

/// `work` on the values of two tensors of the same number of values, each contiguous f32 on
/// the CPU (else an error naming `op`).
pub(crate) fn with_values_of_two<T>(
    op: &str,
    first: &Tensor,
    second: &Tensor,
    work: impl FnOnce(&[f32], &[f32]) -> candle_core::Result<T>,
) -> candle_core::Result<T> {
    let (first_storage, first_layout) = first.storage_and_layout();
    let (second_storage, second_layout) = second.storage_and_layout();
    let (
        Storage::Cpu(CpuStorage::F32(a)),
        Storage::Cpu(CpuStorage::F32(b)),
        Some((a_start, a_end)),
        Some((b_start, b_end)),
    ) = (
        &*first_storage,
        &*second_storage,
        first_layout.contiguous_offsets(),
        second_layout.contiguous_offsets(),
    )
    else {
        candle_core::bail!("{op} expects contiguous f32 values")
    };
    let (a, b) = (&a[a_start..a_end], &b[b_start..b_end]);
    if a.len() != b.len() {
        candle_core::bail!("{op}: {} values against {}", a.len(), b.len())
    }
    work(a, b)
}

/// A copy of `tensor`'s values and its shape, as a custom op's forward returns them: the ops
/// that put a forward computed off the gradient path on it return that forward's output.
pub(crate) fn computed_output(tensor: &Tensor) -> candle_core::Result<(CpuStorage, Shape)> {
    let values = tensor.flatten_all()?.to_vec1::<f32>()?;
    Ok((CpuStorage::F32(values), tensor.shape().clone()))
}
