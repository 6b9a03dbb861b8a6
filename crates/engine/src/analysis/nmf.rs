//! Non-negative matrix factorisation, Ecco's view of what a layer's neurons do together: the
//! activations A [tokens, neurons] ≈ W·H, W [tokens, k] how strongly each factor fires at each
//! token, H [k, neurons] which neurons make it up. Fitted by HALS (coordinate descent on one
//! column of W or row of H at a time, scikit-learn's default solver) from an NNDSVD start (a
//! seeded one for long texts), so the same activations always give the same factors.
use candle_core::{DType, Tensor};

use crate::error::{EngineError, Result};
use crate::recorder::LayerRecord;
use ae_messages::{NeuronFactors, NeuronLoading, FACTOR_RANGE};
/// Most HALS iterations (scikit-learn's default).
const MAX_ITERATIONS: usize = 200;
/// Stop once ten iterations lower the squared error by less than this fraction.
const TOLERANCE: f32 = 1e-3;

/// How many of a factor's strongest neurons are named.
const TOP_NEURONS: usize = 10;

/// Ecco's `run_nmf`: the neuron activations of layers `first..=last` of a trace side by side,
/// [tokens, layers · d_ff], negatives set to 0 (GELU's small dips below 0; NMF needs A ≥ 0),
/// factorised into `k` factors.
pub fn neuron_factors(
    layers: &[LayerRecord],
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
    let squared_norm = a.sqr()?.sum_all()?.to_scalar::<f32>()?;
    let (mut w, mut h) = match rows.min(columns) <= MAX_NNDSVD_SIDE && k <= rows.min(columns) {
        true => nndsvd(&a, k)?,
        false => seeded_start(&a, k)?,
    };
    let w_updates = w_updates_per_iteration(rows, columns, k);
    let (mut squared_error, mut checked, mut iterations) = (squared_norm, f32::INFINITY, 0);
    while iterations < MAX_ITERATIONS {
        iterations += 1;
        // W [rows, k] is small: one column at a time from P = A·Hᵀ and Q = H·Hᵀ.
        let h_tensor = Tensor::from_slice(&h, (k, columns), a.device())?;
        let p = a.matmul(&h_tensor.t()?)?.flatten_all()?.to_vec1::<f32>()?;
        let q = h_tensor
            .matmul(&h_tensor.t()?)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        repeat_while_it_moves(w_updates, || update_columns(&mut w, &p, &q, k));
        // H [k, neurons] is wide: one row at a time from P = Wᵀ·A and Q = Wᵀ·W.
        let w_tensor = Tensor::from_slice(&w, (rows, k), a.device())?;
        let p = w_tensor.t()?.matmul(&a)?.flatten_all()?.to_vec1::<f32>()?;
        let q = gram(&w, k);
        update_rows(&mut h, &p, &q, k);
        if iterations % 10 == 0 || iterations == MAX_ITERATIONS {
            let h_tensor = Tensor::from_slice(&h, (k, columns), a.device())?;
            let hh = h_tensor
                .matmul(&h_tensor.t()?)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            squared_error = squared_norm - 2.0 * dot(&h, &p) + dot(&hh, &q);
            if checked - squared_error < TOLERANCE * checked {
                break;
            }
            checked = squared_error;
        }
    }
    Ok(Factorisation {
        w,
        h,
        k,
        error: squared_error.max(0.0).sqrt(),
        iterations,
    })
}

/// The largest short side (tokens, usually) whose Gram matrix is eigen-decomposed for the
/// NNDSVD start; a longer text starts from the seeded values instead.
const MAX_NNDSVD_SIDE: usize = 128;

/// scikit-learn's `init='random'`, from the fixed sequence: values up to √(mean(A) / k).
fn seeded_start(a: &Tensor, k: usize) -> Result<(Vec<f32>, Vec<f32>)> {
    let (rows, columns) = a.dims2()?;
    let scale = (a.mean_all()?.to_scalar::<f32>()? / k as f32).sqrt();
    let mut seed = Seeded(0x9E37_79B9_7F4A_7C15);
    let w = (0..rows * k).map(|_| scale * seed.next()).collect();
    let h = (0..k * columns).map(|_| scale * seed.next()).collect();
    Ok((w, h))
}

/// NNDSVD (Boutsidis & Gallopoulos, scikit-learn's `init='nndsvd'`): each of the k largest
/// singular pairs (u, v) of A, split into its positive and negative parts, starts one factor
/// from the part with the larger norm. The singular vectors come from the eigenvectors of the
/// short side's Gram matrix A·Aᵀ (rows × rows), so this costs two products with A.
fn nndsvd(a: &Tensor, k: usize) -> Result<(Vec<f32>, Vec<f32>)> {
    let (rows, columns) = a.dims2()?;
    let gram = a.matmul(&a.t()?)?.flatten_all()?.to_vec1::<f32>()?;
    let (values, vectors) = symmetric_eigen(gram.iter().map(|&x| x as f64).collect(), rows);
    let mut order: Vec<usize> = (0..rows).collect();
    order.sort_by(|&x, &y| values[y].total_cmp(&values[x]));
    let sigma: Vec<f64> = order[..k]
        .iter()
        .map(|&i| values[i].max(0.0).sqrt())
        .collect();
    // U_k [rows, k] and V_kᵀ = U_kᵀ·A / σ [k, columns].
    let (vectors, top) = (&vectors, &order[..k]);
    let u: Vec<f32> = (0..rows)
        .flat_map(|r| top.iter().map(move |&i| vectors[r * rows + i] as f32))
        .collect();
    let u_tensor = Tensor::from_slice(&u, (rows, k), a.device())?;
    let v = u_tensor.t()?.matmul(a)?.flatten_all()?.to_vec1::<f32>()?;
    let (mut w, mut h) = (vec![0.0f32; rows * k], vec![0.0f32; k * columns]);
    for j in 0..k {
        let column: Vec<f32> = (0..rows).map(|r| u[r * k + j]).collect();
        let row: Vec<f32> = v[j * columns..(j + 1) * columns]
            .iter()
            .map(|&x| {
                if sigma[j] > 0.0 {
                    (x as f64 / sigma[j]) as f32
                } else {
                    0.0
                }
            })
            .collect();
        let (x, y, weight) = larger_part(&column, &row);
        let scale = (sigma[j] * weight).sqrt() as f32;
        for r in 0..rows {
            w[r * k + j] = scale * x[r];
        }
        for (c, value) in y.iter().enumerate() {
            h[j * columns + c] = scale * value;
        }
    }
    Ok((w, h))
}

/// Of (x, y)'s positive parts and negative parts (as magnitudes), the pair with the larger
/// product of norms, each part normalised, and that product.
fn larger_part(x: &[f32], y: &[f32]) -> (Vec<f32>, Vec<f32>, f64) {
    let part =
        |v: &[f32], sign: f32| -> Vec<f32> { v.iter().map(|&e| (sign * e).max(0.0)).collect() };
    let norm = |v: &[f32]| v.iter().map(|&e| (e as f64).powi(2)).sum::<f64>().sqrt();
    let candidates = [1.0f32, -1.0].map(|sign| {
        let (px, py) = (part(x, sign), part(y, sign));
        let (nx, ny) = (norm(&px), norm(&py));
        (px, py, nx, ny)
    });
    let [positive, negative] = candidates;
    let chosen = if positive.2 * positive.3 >= negative.2 * negative.3 {
        positive
    } else {
        negative
    };
    let (px, py, nx, ny) = chosen;
    let unit = |v: Vec<f32>, n: f64| -> Vec<f32> {
        v.into_iter()
            .map(|e| if n > 0.0 { (e as f64 / n) as f32 } else { 0.0 })
            .collect()
    };
    (unit(px, nx), unit(py, ny), nx * ny)
}

/// Eigenvalues and eigenvectors (columns of the row-major n × n result) of a symmetric matrix,
/// by cyclic Jacobi rotations until the off-diagonal part is negligible.
fn symmetric_eigen(mut m: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut vectors: Vec<f64> = (0..n * n)
        .map(|i| if i / n == i % n { 1.0 } else { 0.0 })
        .collect();
    let scale: f64 = m.iter().map(|x| x * x).sum::<f64>().max(f64::MIN_POSITIVE);
    for _sweep in 0..50 {
        let off: f64 = (0..n)
            .flat_map(|p| (0..n).filter(move |&q| q != p).map(move |q| (p, q)))
            .map(|(p, q)| m[p * n + q].powi(2))
            .sum();
        if off <= 1e-22 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m[p * n + q];
                if apq.abs() <= f64::MIN_POSITIVE {
                    continue;
                }
                let theta = (m[q * n + q] - m[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let (c, s) = (1.0 / (t * t + 1.0).sqrt(), t / (t * t + 1.0).sqrt());
                for r in 0..n {
                    let (mrp, mrq) = (m[r * n + p], m[r * n + q]);
                    m[r * n + p] = c * mrp - s * mrq;
                    m[r * n + q] = s * mrp + c * mrq;
                }
                for r in 0..n {
                    let (mpr, mqr) = (m[p * n + r], m[q * n + r]);
                    m[p * n + r] = c * mpr - s * mqr;
                    m[q * n + r] = s * mpr + c * mqr;
                }
                for r in 0..n {
                    let (vrp, vrq) = (vectors[r * n + p], vectors[r * n + q]);
                    vectors[r * n + p] = c * vrp - s * vrq;
                    vectors[r * n + q] = s * vrp + c * vrq;
                }
            }
        }
    }
    ((0..n).map(|i| m[i * n + i]).collect(), vectors)
}

/// HALS on the rows of X [k, n] (row-major, each row contiguous): row j moves to its
/// least-squares best with the others fixed, X[j] ← max(0, X[j] + (P[j] − Σₗ Q[j, l]·X[l]) /
/// Q[j, j]) — whole-row sums that compile to SIMD, as wide as the neurons.
fn update_rows(x: &mut [f32], p: &[f32], q: &[f32], k: usize) {
    let n = x.len() / k.max(1);
    let mut step = vec![0.0f32; n];
    for j in 0..k {
        step.copy_from_slice(&p[j * n..(j + 1) * n]);
        for l in 0..k {
            let weight = q[j * k + l];
            for (s, &v) in step.iter_mut().zip(&x[l * n..(l + 1) * n]) {
                *s -= weight * v;
            }
        }
        let diagonal = q[j * k + j].max(f32::MIN_POSITIVE);
        for (value, s) in x[j * n..(j + 1) * n].iter_mut().zip(&step) {
            *value = (*value + s / diagonal).max(0.0);
        }
    }
}

/// HALS: each column j of X [m, k] moves to its least-squares best with the others fixed,
/// X[:, j] ← max(0, X[:, j] + (P[:, j] − X·Q[:, j]) / Q[j, j]); returns the squared change.
fn update_columns(x: &mut [f32], p: &[f32], q: &[f32], k: usize) -> f32 {
    let mut moved = 0.0f32;
    for j in 0..k {
        let diagonal = q[j * k + j].max(f32::MIN_POSITIVE);
        for (row, p_row) in x.chunks_exact_mut(k).zip(p.chunks_exact(k)) {
            let fitted: f32 = (0..k).map(|l| row[l] * q[l * k + j]).sum();
            let new = (row[j] + (p_row[j] - fitted) / diagonal).max(0.0);
            moved += (new - row[j]) * (new - row[j]);
            row[j] = new;
        }
    }
    moved
}

/// Accelerated HALS (Gillis & Glineur, 2012) for W: its products A·Hᵀ and H·Hᵀ cost about
/// `columns / rows` times more than an update from them, so the update repeats, up to `most`
/// times, while it still moves W by more than a tenth of the first step (squared: 1 %). H gains
/// nothing from repeats: one of its updates costs about as much as its product Wᵀ·A.
fn repeat_while_it_moves(most: usize, mut update: impl FnMut() -> f32) {
    let first = update();
    for _ in 1..most {
        if update() <= 0.01 * first {
            break;
        }
    }
}

/// At most 1 + ½·ρ updates of W [rows, k] per iteration (ρ: its products' cost over an
/// update's, which is large for a few tokens and many neurons), capped at 10.
fn w_updates_per_iteration(rows: usize, columns: usize, k: usize) -> usize {
    let (n, m, k) = (rows as f64, columns as f64, k as f64);
    let rho = m * (n + k) / (n * k);
    ((1.0 + 0.5 * rho).floor() as usize).clamp(1, 10)
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
