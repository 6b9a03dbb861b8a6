//! The engine's one fork-join. A product is cut into blocks of its output features (W's rows
//! forward, W's columns in the backward), attention into blocks of heads, an activation into
//! blocks of values; the worker's threads compute them side by side when it has a pool (the
//! `threads` feature: wasm-bindgen-rayon's pool in a cross-origin-isolated page, led as a
//! team during a request, `team.rs`) and one after another when it has not. Each block is
//! the same computation over fewer outputs, each output summed over the same terms in the same
//! order, so the result is bitwise the uncut one's (tests/parallel.rs checks every fixture's
//! trace, predictions and saliency).
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

use candle_core::{CpuStorage, Device, Storage, Tensor};

/// How many blocks a product is cut into; 1: not cut.
static PIECES: AtomicUsize = AtomicUsize::new(1);

/// How many fork-joins ran so far (products cut into more than one block).
static REGIONS: AtomicUsize = AtomicUsize::new(0);

/// The worker's clock in ms (`performance.now()`), to time the cut work; unset: not timed.
static CLOCK: OnceLock<fn() -> f64> = OnceLock::new();
/// Microseconds in work cut into blocks (cut or not), on the thread that asked for it.
static CUT_US: AtomicU64 = AtomicU64::new(0);
/// Microseconds of that work's blocks, summed over the threads that computed them.
static BLOCK_US: AtomicU64 = AtomicU64::new(0);

/// Sets the clock the cut work is timed with (the worker's; natively nothing is timed).
pub fn set_clock(clock: fn() -> f64) {
    let _ = CLOCK.set(clock);
}

/// (ms in work the engine cuts into blocks, ms of its blocks summed over threads) since the
/// worker started: the worker reports the differences across a request, so the benchmark
/// can tell the time that ran on one thread from the time that was cut, and measure contention.
pub fn cut_work_ms() -> (f64, f64) {
    let ms = |us: &AtomicU64| us.load(Ordering::Relaxed) as f64 / 1e3;
    (ms(&CUT_US), ms(&BLOCK_US))
}

/// `work()`, its time added to `total` when there is a clock.
fn timed<T>(total: &AtomicU64, work: impl FnOnce() -> T) -> T {
    let Some(clock) = CLOCK.get() else {
        return work();
    };
    let start = clock();
    let result = work();
    total.fetch_add(((clock() - start) * 1e3) as u64, Ordering::Relaxed);
    result
}

/// Blocks are whole multiples of this many features. gemm's kernel takes them (W's rows or
/// columns, its left operand) in groups of 8 in wasm and of 24 or 48 natively (AVX2,
/// AVX-512), and a last, smaller group with a kernel of its own that may sum in another order:
/// with blocks of whole groups, every feature is in the same kind of group as uncut.
const ROW_ALIGN: usize = 48;

/// Cuts products into `pieces` blocks from now on: the worker sets its pool's size; a test
/// sets it without a pool to check that cutting changes no number.
pub fn set_pieces(pieces: usize) {
    PIECES.store(pieces.max(1), Ordering::Relaxed);
}

/// How many blocks products are cut into.
pub fn pieces() -> usize {
    PIECES.load(Ordering::Relaxed)
}

/// How many fork-joins (parallel regions) have run since the worker started: the worker
/// reports the difference across a request, the benchmark how many a trace has.
pub fn parallel_regions() -> usize {
    REGIONS.load(Ordering::Relaxed)
}

/// `work(i)` for every i in 0..count, in order of i: on the team of threads when this thread
/// leads one ([`with_team`], the worker during a request), else on rayon's pool when there is
/// one (the native tests), else one after another.
fn map<T: Send>(count: usize, work: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    REGIONS.fetch_add(1, Ordering::Relaxed);
    #[cfg(feature = "threads")]
    {
        use rayon::prelude::*;
        if super::team::leading() {
            let slots: Vec<std::sync::Mutex<Option<T>>> =
                (0..count).map(|_| std::sync::Mutex::new(None)).collect();
            super::team::run(count, &|i| {
                let result = work(i);
                if let Ok(mut slot) = slots[i].lock() {
                    *slot = Some(result);
                }
            });
            return slots
                .into_iter()
                .filter_map(|slot| slot.into_inner().ok().flatten())
                .collect();
        }
        (0..count).into_par_iter().map(work).collect()
    }
    #[cfg(not(feature = "threads"))]
    {
        (0..count).map(work).collect()
    }
}

/// Runs `work` (one request) with a team of `threads` threads ready for its fork-joins:
/// the calling thread and `threads − 1` of rayon's (`team.rs`). Without the `threads`
/// feature, or with one thread, just `work()`.
pub fn with_team<R>(threads: usize, work: impl FnOnce() -> R) -> R {
    #[cfg(feature = "threads")]
    {
        super::team::with_team(threads, work)
    }
    #[cfg(not(feature = "threads"))]
    {
        let _ = threads;
        work()
    }
}

/// (first, count) of each block when `count` items (heads, values) are cut into [`pieces`]
/// blocks of whole multiples of `align` (the last takes the rest), at most one per `align`.
fn even_blocks(count: usize, align: usize) -> Vec<(usize, usize)> {
    let units = count / align;
    let pieces = pieces().min(units).max(1);
    let per_block = units / pieces * align;
    (0..pieces)
        .map(|i| match i + 1 == pieces {
            true => (i * per_block, count - i * per_block),
            false => (i * per_block, per_block),
        })
        .collect()
}

/// `work(first, n)` for each block, side by side on the pool's threads (a single block on this
/// thread); the results in order, timed when there is a clock ([`cut_work_ms`]).
fn in_blocks<T: Send>(
    blocks: &[(usize, usize)],
    work: impl Fn(usize, usize) -> T + Sync + Send,
) -> Vec<T> {
    let block = |&(first, n): &(usize, usize)| timed(&BLOCK_US, || work(first, n));
    timed(&CUT_US, || match blocks {
        [one] => vec![block(one)],
        _ => map(blocks.len(), |i| block(&blocks[i])),
    })
}

/// `work(first, n)` for blocks of `count` items of whole multiples of `align` (attention's
/// heads: 1; a product's features: [`ROW_ALIGN`]), side by side on the pool's threads; the
/// results in order.
pub(crate) fn by_blocks<T: Send>(
    count: usize,
    align: usize,
    work: impl Fn(usize, usize) -> candle_core::Result<T> + Sync + Send,
) -> candle_core::Result<Vec<T>> {
    in_blocks(&even_blocks(count, align), work)
        .into_iter()
        .collect()
}

/// Fewer values than this are not worth a fork-join in an element-wise pass.
const MIN_VALUES_PER_BLOCK: usize = 4096;

/// An element-wise pass `work` over `values`, cut into blocks of whole multiples of 4 values
/// (`work`'s lanes) computed side by side; the outputs joined in order.
pub(crate) fn by_value_blocks(
    values: &[f32],
    work: impl Fn(&[f32]) -> Vec<f32> + Sync + Send,
) -> Vec<f32> {
    let blocks = even_blocks(values.len(), MIN_VALUES_PER_BLOCK);
    in_blocks(&blocks, |first, n| work(&values[first..][..n])).concat()
}

/// [`by_value_blocks`] over two arrays of the same length, cut alike (a value and its
/// gradient): `work` gets the same range of both.
pub(crate) fn by_value_pair_blocks(
    first: &[f32],
    second: &[f32],
    work: impl Fn(&[f32], &[f32]) -> Vec<f32> + Sync + Send,
) -> Vec<f32> {
    let blocks = even_blocks(first.len().min(second.len()), MIN_VALUES_PER_BLOCK);
    in_blocks(&blocks, |start, n| {
        work(&first[start..][..n], &second[start..][..n])
    })
    .concat()
}

/// A product [rows, columns] (`shape`) cut into blocks of its output features along `axis`
/// (W's rows in a forward product x·Wᵀ, W's columns in the backward's grad·W): `block(first,
/// n)` is the product for features first..first + n. Each block's values are copied into the
/// product by the thread that computed it: joined on one thread, that copy of the whole
/// output ran on one core while the others waited.
pub(crate) fn by_output_blocks(
    shape: (usize, usize),
    axis: usize,
    block: impl Fn(usize, usize) -> candle_core::Result<Tensor> + Sync + Send,
) -> candle_core::Result<Tensor> {
    let dims = [shape.0, shape.1];
    let blocks = even_blocks(dims[axis], ROW_ALIGN);
    let [product] = joined_blocks(&blocks, axis, [&dims], |first, n| Ok([block(first, n)?]))?;
    Ok(product)
}

/// `N` outputs of attention's `count` heads (of `dims`: [heads, ..] each) cut into blocks of
/// heads: `block(first, n)` gives every output for heads first..first + n; like a product's
/// ([`by_output_blocks`]), each block is copied into place by the thread that computed it.
pub(crate) fn by_head_blocks<const N: usize>(
    count: usize,
    dims: [&[usize]; N],
    block: impl Fn(usize, usize) -> candle_core::Result<[Tensor; N]> + Sync + Send,
) -> candle_core::Result<[Tensor; N]> {
    joined_blocks(&even_blocks(count, 1), 0, dims, block)
}

/// `block(first, n)` for each of `blocks` side by side, each of its `N` outputs (of `dims`)
/// joined along `axis` (the first, or the second of two) in place ([`Joined`]); outputs that
/// are not f32 are joined by `Tensor::cat`.
fn joined_blocks<const N: usize>(
    blocks: &[(usize, usize)],
    axis: usize,
    dims: [&[usize]; N],
    block: impl Fn(usize, usize) -> candle_core::Result<[Tensor; N]> + Sync + Send,
) -> candle_core::Result<[Tensor; N]> {
    if blocks.len() == 1 {
        return in_blocks(blocks, &block).remove(0);
    }
    let joined = dims.map(|dims| Joined::new(dims, axis));
    let parts = in_blocks(blocks, |first, n| {
        (block(first, n)?.into_iter().zip(&joined))
            .map(|(output, joined)| joined.put(first, n, output))
            .collect::<candle_core::Result<Vec<_>>>()
    })
    .into_iter()
    .collect::<candle_core::Result<Vec<_>>>()?;
    if parts.len() != blocks.len() {
        // A block that did not finish left its part of the buffer unwritten.
        candle_core::bail!(
            "{} of a cut's {} blocks finished",
            parts.len(),
            blocks.len()
        )
    }
    let outputs = (joined.into_iter().enumerate())
        .map(|(i, joined)| {
            let handed_back: Vec<Tensor> = parts.iter().filter_map(|p| p[i].clone()).collect();
            match handed_back.len() {
                0 => joined.finish(),
                n if n == blocks.len() => Tensor::cat(&handed_back, axis),
                _ => candle_core::bail!("blocks came back in different dtypes or layouts"),
            }
        })
        .collect::<candle_core::Result<Vec<_>>>()?;
    outputs
        .try_into()
        .map_err(|_| candle_core::Error::Msg("a cut lost one of its outputs".into()))
}

/// An output whose blocks write themselves into place ([`joined_blocks`]).
struct Joined {
    values: Vec<f32>,
    /// `values`' buffer, written by the blocks on their threads, each to its own part.
    into: SharedValues,
    dims: Vec<usize>,
    axis: usize,
}

/// A pointer to an output's buffer that the blocks' threads share.
#[derive(Clone, Copy)]
struct SharedValues(*mut f32);

// SAFETY: each block writes only its own part's positions ([`Joined::put`]), and the buffer
// outlives the fork-join that writes it.
unsafe impl Send for SharedValues {}
unsafe impl Sync for SharedValues {}

impl Joined {
    fn new(dims: &[usize], axis: usize) -> Self {
        // Not zeroed: every value is written by exactly one block before `finish`.
        let mut values = Vec::with_capacity(dims.iter().product());
        let into = SharedValues(values.as_mut_ptr());
        Joined {
            values,
            into,
            dims: dims.to_vec(),
            axis,
        }
    }

    /// Copies `part`, the output's first..first + n along the axis, into place; a part that is
    /// not f32 is handed back, for the blocks to be joined by `Tensor::cat`.
    fn put(&self, first: usize, n: usize, part: Tensor) -> candle_core::Result<Option<Tensor>> {
        let mut part_dims = self.dims.clone();
        part_dims[self.axis] = n;
        if part.dims() != part_dims || (self.axis == 1 && self.dims.len() != 2) {
            candle_core::bail!("a block of {part_dims:?} came back as {:?}", part.dims());
        }
        let part = part.contiguous()?;
        let (storage, layout) = part.storage_and_layout();
        let (Storage::Cpu(CpuStorage::F32(values)), Some((start, end))) =
            (&*storage, layout.contiguous_offsets())
        else {
            drop(storage);
            return Ok(Some(part));
        };
        let values = &values[start..end];
        let into = self.into;
        let row = self.dims[1..].iter().product::<usize>();
        // SAFETY: first..first + n along the axis is this block's alone, inside the buffer of
        // the output's values.
        unsafe {
            match self.axis {
                0 => values
                    .as_ptr()
                    .copy_to_nonoverlapping(into.0.add(first * row), values.len()),
                _ => {
                    for (i, values) in values.chunks_exact(n).enumerate() {
                        let to = into.0.add(i * row + first);
                        values.as_ptr().copy_to_nonoverlapping(to, n);
                    }
                }
            }
        }
        Ok(None)
    }

    /// The output, once every block has been put in place.
    fn finish(mut self) -> candle_core::Result<Tensor> {
        // SAFETY: the blocks cover the whole axis, and each wrote all of its values.
        unsafe { self.values.set_len(self.dims.iter().product()) };
        Tensor::from_vec(self.values, self.dims, &Device::Cpu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_the_rows_in_aligned_pieces() {
        for (pieces, rows, expected) in [
            (1, 100, vec![(0, 100)]),
            (2, 100, vec![(0, 48), (48, 52)]),
            (3, 200, vec![(0, 48), (48, 48), (96, 104)]),
            (4, 60, vec![(0, 60)]),
            (2, 8, vec![(0, 8)]),
        ] {
            set_pieces(pieces);
            assert_eq!(
                even_blocks(rows, ROW_ALIGN),
                expected,
                "{pieces} pieces of {rows}"
            );
        }
        set_pieces(1);
    }
}
