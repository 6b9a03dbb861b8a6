//! The toy sandbox's attention: softmax(QKᵀ/√dₖ + M)·V over a few vectors a student types or
//! draws, computed by the functions a model's attention calls, so the sandbox can only show
//! what the models do.
use ae_messages::{EngineError, ToyAttention, ToyMatrices, ToyRequest};
use candle_core::{Device, Tensor};

use crate::attention::{causal_mask, scores, softmax_over_keys};
use crate::error::Result;
use crate::random::SplitMix64;

/// Every intermediate of the request's attention.
pub fn toy_attention(request: &ToyRequest) -> Result<ToyAttention> {
    if let Some(problem) = request.matrices.problem() {
        return Err(EngineError::bad_request(problem));
    }
    let (q, k, v) = match &request.matrices {
        ToyMatrices::Given { q, k, v } => (q.clone(), k.clone(), v.clone()),
        ToyMatrices::Random {
            tokens,
            width,
            seed,
        } => random_matrices(*tokens, *width, *seed),
    };
    let (q_t, k_t, v_t) = (matrix(&q)?, matrix(&k)?, matrix(&v)?);
    let dot_products = scores(&q_t, &k_t, false)?;
    let scaled = scores(&q_t, &k_t, request.scaled)?;
    let masked = match request.masked {
        true => causal_mask(&scaled)?,
        false => scaled.clone(),
    };
    let weights = softmax_over_keys(&masked)?;
    let output = weights.matmul(&v_t)?;
    Ok(ToyAttention {
        q,
        k,
        v,
        scaled: request.scaled,
        masked: request.masked,
        dot_products: dot_products.to_vec2()?,
        scores: scaled.to_vec2()?,
        masked_scores: masked.to_vec2()?,
        weights: weights.to_vec2()?,
        output: output.to_vec2()?,
    })
}

/// Rows of equal length as a [rows, width] tensor.
fn matrix(rows: &[Vec<f32>]) -> Result<Tensor> {
    let width = rows.first().map_or(0, Vec::len);
    Ok(Tensor::from_vec(
        rows.concat(),
        (rows.len(), width),
        &Device::Cpu,
    )?)
}

type Matrices = (Vec<Vec<f32>>, Vec<Vec<f32>>, Vec<Vec<f32>>);

/// q, k and v of `tokens` rows, `width` wide, from a standard normal distribution with `seed`
/// (q first, row by row, then k, then v).
fn random_matrices(tokens: usize, width: usize, seed: u64) -> Matrices {
    let mut random = SplitMix64(seed);
    let mut draw = || -> Vec<Vec<f32>> {
        (0..tokens)
            .map(|_| (0..width).map(|_| random.normal()).collect())
            .collect()
    };
    (draw(), draw(), draw())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(q: &[&[f32]], k: &[&[f32]], v: &[&[f32]]) -> ToyMatrices {
        let rows = |m: &[&[f32]]| m.iter().map(|r| r.to_vec()).collect();
        ToyMatrices::Given {
            q: rows(q),
            k: rows(k),
            v: rows(v),
        }
    }

    /// The look-ahead example: the first token can see only itself; the second's scores are
    /// 1/√2 and 3.4/√2, so its weights are 1/(1 + e^(2.4/√2)) and the rest.
    #[test]
    fn the_look_ahead_example_gives_its_weights() {
        let request = ToyRequest {
            matrices: given(
                &[&[1.0, 0.0], &[1.0, 2.0]],
                &[&[1.0, 0.0], &[0.0, 1.7]],
                &[&[1.0, 0.0], &[0.0, 1.0]],
            ),
            scaled: true,
            masked: true,
        };
        let toy = toy_attention(&request).unwrap();
        assert!(toy.scaled && toy.masked, "the answer names its toggles");
        let first = 1.0 / (1.0 + (2.4f64 / 2f64.sqrt()).exp());
        assert_eq!(toy.weights[0], vec![1.0, 0.0]);
        assert!((toy.weights[1][0] as f64 - first).abs() < 1e-6);
        assert!((toy.weights[1][1] as f64 - (1.0 - first)).abs() < 1e-6);
        assert_eq!(toy.masked_scores[0][1], f32::NEG_INFINITY);
        assert_eq!(toy.dot_products[1], vec![1.0, 3.4]);
        assert!((toy.scores[1][1] - 3.4 / 2f32.sqrt()).abs() < 1e-6);
        // The output is the weights times V = I.
        assert_eq!(toy.output[1], toy.weights[1]);
    }

    #[test]
    fn without_scale_or_mask_the_scores_are_the_dot_products() {
        let request = ToyRequest {
            matrices: given(
                &[&[1.0, 2.0], &[3.0, 4.0]],
                &[&[1.0, 0.0], &[0.0, 1.0]],
                &[&[2.0, 0.0], &[0.0, 2.0]],
            ),
            scaled: false,
            masked: false,
        };
        let toy = toy_attention(&request).unwrap();
        assert_eq!(toy.scores, toy.dot_products);
        assert_eq!(toy.masked_scores, toy.scores);
        assert_eq!(toy.scores[0], vec![1.0, 2.0]);
        let e = std::f32::consts::E;
        assert!((toy.weights[0][1] - e / (1.0 + e)).abs() < 1e-6);
    }

    #[test]
    fn random_vectors_are_seeded_and_normal() {
        let random = |seed| ToyRequest {
            matrices: ToyMatrices::Random {
                tokens: 5,
                width: 1024,
                seed,
            },
            scaled: false,
            masked: false,
        };
        let a = toy_attention(&random(7)).unwrap();
        assert_eq!(a, toy_attention(&random(7)).unwrap());
        assert_ne!(a.q, toy_attention(&random(8)).unwrap().q);
        let all: Vec<f32> = a.q.concat();
        let mean = all.iter().sum::<f32>() / all.len() as f32;
        let variance = all.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / all.len() as f32;
        assert!(
            mean.abs() < 0.05 && (variance - 1.0).abs() < 0.1,
            "{mean} {variance}"
        );
        // Unscaled dot products of 1024-wide vectors spread over ±√1024: the softmax saturates.
        let largest = a
            .weights
            .iter()
            .map(|r| r.iter().cloned().fold(0.0, f32::max));
        assert!(largest.clone().all(|w| w > 0.99), "{:?}", a.weights);
    }

    #[test]
    fn bad_matrices_are_refused() {
        let nan = given(
            &[&[f32::NAN, 0.0], &[1.0, 2.0]],
            &[&[1.0, 0.0], &[0.0, 1.0]],
            &[&[1.0, 0.0], &[0.0, 1.0]],
        );
        let ragged = given(
            &[&[1.0, 0.0], &[1.0, 2.0]],
            &[&[1.0, 0.0], &[0.0]],
            &[&[1.0, 0.0], &[0.0, 1.0]],
        );
        let one_token = given(&[&[1.0, 0.0]], &[&[1.0, 0.0]], &[&[1.0, 0.0]]);
        let too_wide = ToyMatrices::Random {
            tokens: 3,
            width: 4096,
            seed: 0,
        };
        for matrices in [nan, ragged, one_token, too_wide] {
            let request = ToyRequest {
                matrices,
                scaled: true,
                masked: false,
            };
            assert!(matches!(
                toy_attention(&request),
                Err(EngineError::BadRequest { .. })
            ));
        }
    }
}
