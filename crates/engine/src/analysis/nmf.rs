//! Non-negative matrix factorisation, Ecco's view of what a layer's neurons do together: the
//! activations A [tokens, neurons] ≈ W·H, W [tokens, k] how strongly each factor fires at each
//! token, H [k, neurons] which neurons make it up. Fitted by HALS (coordinate descent on one
//! column of W or row of H at a time, scikit-learn's default solver) from a seeded start, so
//! the same activations always give the same factors.
use candle_core::{DType, Tensor};

use crate::error::{EngineError, Result};
use crate::trace::LayerInternals;
use ae_messages::{NeuronFactors, NeuronLoading};

/// Fewest and most factors a request may ask for.
pub const FACTOR_RANGE: std::ops::RangeInclusive<usize> = 2..=18;
/// Most HALS iterations (scikit-learn's default).
const MAX_ITERATIONS: usize = 200;
/// Stop once ten iterations lower the squared error by less than this fraction.
const TOLERANCE: f32 = 1e-5;

/// How many of a factor's strongest neurons are named.
const TOP_NEURONS: usize = 10;

/// Ecco's `run_nmf`: the neuron activations of layers `first..=last` of a trace side by side,
/// [tokens, layers · d_ff], negatives set to 0 (GELU's small dips below 0; NMF needs A ≥ 0),
/// factorised into `k` factors.
pub fn neuron_factors(
    layers: &[LayerInternals],
    (first, last): (usize, usize),
    k: usize,
) -> Result<NeuronFactors> {
    if first > last || last >= layers.len() {
        return Err(EngineError::LayerOutOfRange {
            layer: last.max(first),
            layers: layers.len(),
        });
    }
    let activations: Vec<Tensor> = layers[first..=last]
        .iter()
        .map(|l| l.feed_forward.activations.clone())
        .collect();
    let a = Tensor::cat(&activations, 1)?.relu()?;
    let (tokens, neurons) = a.dims2()?;
    let d_ff = neurons / activations.len();
    let fitted = factorise(&a, k)?;
    let norm = a.sqr()?.sum_all()?.to_scalar::<f32>()?.sqrt();
    let top_neurons = fitted
        .h
        .chunks_exact(neurons)
        .map(|loadings| {
            let mut order: Vec<usize> = (0..neurons).collect();
            order.sort_by(|&x, &y| loadings[y].total_cmp(&loadings[x]));
            order
                .into_iter()
                .take(TOP_NEURONS)
                .map(|c| NeuronLoading {
                    layer: first + c / d_ff,
                    neuron: c % d_ff,
                    loading: loadings[c],
                })
                .collect()
        })
        .collect();
    Ok(NeuronFactors {
        layers: (first, last),
        token_strengths: (0..k)
            .map(|j| (0..tokens).map(|t| fitted.w[t * k + j]).collect())
            .collect(),
        top_neurons,
        relative_error: if norm > 0.0 { fitted.error / norm } else { 0.0 },
        iterations: fitted.iterations,
    })
}

/// A fitted W·H with its reconstruction error.
#[derive(Debug, Clone)]
pub struct Factorisation {
    /// [tokens, k], row-major.
    pub w: Vec<f32>,
    /// [k, neurons], row-major.
    pub h: Vec<f32>,
    pub k: usize,
    /// ‖A − W·H‖ (Frobenius), scikit-learn's `reconstruction_err_`.
    pub error: f32,
    /// HALS iterations run.
    pub iterations: usize,
}

/// Factorises a non-negative matrix `a` [rows, columns] into `k` factors.
pub fn factorise(a: &Tensor, k: usize) -> Result<Factorisation> {
    let (rows, columns) = a.dims2()?;
    if !FACTOR_RANGE.contains(&k) {
        return Err(EngineError::BadFactorCount {
            factors: k,
            min: *FACTOR_RANGE.start(),
            max: *FACTOR_RANGE.end(),
        });
    }
    let a = a.to_dtype(DType::F32)?.contiguous()?;
    let a_t = a.t()?.contiguous()?;
    let squared_norm = a.sqr()?.sum_all()?.to_scalar::<f32>()?;
    let scale = (a.mean_all()?.to_scalar::<f32>()? / k as f32).sqrt();
    let mut seed = Seeded(0x9E37_79B9_7F4A_7C15);
    let mut w: Vec<f32> = (0..rows * k).map(|_| scale * seed.next()).collect();
    let mut h_t: Vec<f32> = (0..columns * k).map(|_| scale * seed.next()).collect();
    let (mut squared_error, mut checked, mut iterations) = (squared_norm, f32::INFINITY, 0);
    while iterations < MAX_ITERATIONS {
        iterations += 1;
        // A ≈ W·H, one column of W at a time; then Aᵀ ≈ Hᵀ·Wᵀ the same way for H.
        let (p, q) = products(&a, &h_t, columns, k)?;
        update_columns(&mut w, &p, &q, k);
        let (p, q) = products(&a_t, &w, rows, k)?;
        update_columns(&mut h_t, &p, &q, k);
        squared_error = squared_norm - 2.0 * dot(&h_t, &p) + dot(&gram(&h_t, k), &q);
        if iterations % 10 == 0 {
            if checked - squared_error < TOLERANCE * checked {
                break;
            }
            checked = squared_error;
        }
    }
    Ok(Factorisation {
        w,
        h: transpose(&h_t, columns, k),
        k,
        error: squared_error.max(0.0).sqrt(),
        iterations,
    })
}

/// For A ≈ X·Yᵀ with Y given as `y` [n, k]: P = A·Y [rows of A, k] and Q = Yᵀ·Y [k, k].
fn products(a: &Tensor, y: &[f32], n: usize, k: usize) -> Result<(Vec<f32>, Vec<f32>)> {
    let y_tensor = Tensor::from_slice(y, (n, k), a.device())?;
    let p = a.matmul(&y_tensor)?.flatten_all()?.to_vec1::<f32>()?;
    Ok((p, gram(y, k)))
}

/// HALS: each column j of X [m, k] moves to its least-squares best with the others fixed,
/// X[:, j] ← max(0, X[:, j] + (P[:, j] − X·Q[:, j]) / Q[j, j]).
fn update_columns(x: &mut [f32], p: &[f32], q: &[f32], k: usize) {
    for j in 0..k {
        let diagonal = q[j * k + j].max(f32::MIN_POSITIVE);
        for (row, p_row) in x.chunks_exact_mut(k).zip(p.chunks_exact(k)) {
            let fitted: f32 = (0..k).map(|l| row[l] * q[l * k + j]).sum();
            row[j] = (row[j] + (p_row[j] - fitted) / diagonal).max(0.0);
        }
    }
}

/// Yᵀ·Y [k, k] for Y [n, k] row-major.
fn gram(y: &[f32], k: usize) -> Vec<f32> {
    let mut g = vec![0.0; k * k];
    for row in y.chunks_exact(k) {
        for a in 0..k {
            for b in 0..k {
                g[a * k + b] += row[a] * row[b];
            }
        }
    }
    g
}

fn dot(x: &[f32], y: &[f32]) -> f32 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

fn transpose(x: &[f32], rows: usize, columns: usize) -> Vec<f32> {
    (0..columns)
        .flat_map(|c| (0..rows).map(move |r| x[r * columns + c]))
        .collect()
}

/// A fixed xorshift sequence in [0, 1): the same start on every run and machine.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}
