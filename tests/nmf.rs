//! The engine's NMF against scikit-learn's (tools/make_nmf_fixture.py): on the tiny GPT-2's
//! activations and a GPT-2-sized synthetic matrix, its reconstruction error is within 5 % of
//! scikit-learn's `NMF(init='nndsvd')`, its factors are non-negative, and a re-run gives the
//! same factors.
use attention_explorer::engine::{factorise, EngineError, FACTOR_RANGE};
use candle_core::{Device, Tensor};

fn fixture() -> (serde_json::Value, std::collections::HashMap<String, Tensor>) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let cases = std::fs::read(root.join("nmf.json")).expect("tests/fixtures/nmf.json");
    let matrices = candle_core::safetensors::load(root.join("nmf.safetensors"), &Device::Cpu);
    (
        serde_json::from_slice(&cases).expect("nmf.json"),
        matrices.expect("tests/fixtures/nmf.safetensors"),
    )
}

#[test]
fn reconstruction_is_within_five_percent_of_scikit_learn_and_repeats() {
    let (json, matrices) = fixture();
    let cases = json["cases"].as_array().expect("cases");
    assert!(cases.len() >= 8);
    for case in cases {
        let name = case["matrix"].as_str().expect("matrix");
        let k = case["factors"].as_u64().expect("factors") as usize;
        let theirs = case["sklearn_error"].as_f64().expect("error") as f32;
        let a = &matrices[name];
        let ours = factorise(a, k).expect("factorise");
        println!(
            "{name} k={k}: ours {:.4} ({} iterations), scikit-learn {theirs:.4} ({})",
            ours.error, ours.iterations, case["sklearn_iterations"]
        );
        assert!(
            ours.error <= 1.05 * theirs,
            "{name}, {k} factors: error {} against scikit-learn's {theirs}",
            ours.error
        );
        assert!(ours
            .w
            .iter()
            .chain(&ours.h)
            .all(|&x| x >= 0.0 && x.is_finite()));
        // The reported error is the true ‖A − W·H‖.
        let (rows, columns) = a.dims2().expect("2-D");
        let w = Tensor::from_slice(&ours.w, (rows, k), &Device::Cpu).expect("w");
        let h = Tensor::from_slice(&ours.h, (k, columns), &Device::Cpu).expect("h");
        let residual = (a - w.matmul(&h).expect("w·h")).expect("a − w·h");
        let error = residual
            .sqr()
            .and_then(|r| r.sum_all())
            .and_then(|s| s.to_scalar::<f32>());
        let error = error.expect("error").sqrt();
        assert!(
            (error - ours.error).abs() <= 1e-3 * error,
            "{error} vs {}",
            ours.error
        );
        let again = factorise(a, k).expect("again");
        assert_eq!(
            (again.w, again.h),
            (ours.w, ours.h),
            "{name}, {k}: a re-run differs"
        );
    }
}

/// More factors than tokens start from the seeded values (NNDSVD has only as many singular
/// pairs as tokens): still non-negative, and closer than 8 factors.
#[test]
fn more_factors_than_tokens_start_from_the_seeded_values() {
    let (_, matrices) = fixture();
    let a = matrices["gpt2.0"].narrow(0, 0, 10).expect("10 tokens");
    let many = factorise(&a, 12).expect("factorise");
    assert!(many
        .w
        .iter()
        .chain(&many.h)
        .all(|&x| x >= 0.0 && x.is_finite()));
    assert!(many.error < factorise(&a, 8).expect("8").error);
}

#[test]
fn factor_counts_outside_the_range_are_refused() {
    let (_, matrices) = fixture();
    for k in [1, 19] {
        assert_eq!(
            factorise(&matrices["gpt2.0"], k).err(),
            Some(EngineError::BadFactorCount {
                factors: k,
                min: *FACTOR_RANGE.start(),
                max: *FACTOR_RANGE.end()
            })
        );
    }
}
