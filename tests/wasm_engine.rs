//! The wasm build of the engine gives transformers' numbers too: run in headless Chromium with
//! wasm-bindgen-test (see scripts/test.sh).
#![cfg(target_arch = "wasm32")]
mod common;

use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn gpt2_fixture_matches_transformers_in_the_browser() {
    let fixture = fixture!("gpt2").load();
    common::assert_within_tolerance(fixture.name, &common::check_fixture(&fixture));
    let trace = fixture.model.trace(&fixture.ids(0)).expect("trace");
    common::check_attention_properties(fixture.name, &trace.attentions, true);
}

#[wasm_bindgen_test]
fn gpt2_hub_odd_f16_fixture_matches_transformers_in_the_browser() {
    let fixture = fixture!("gpt2_hub_odd_f16").load();
    common::assert_within_tolerance(fixture.name, &common::check_fixture(&fixture));
}

#[wasm_bindgen_test]
fn distilbert_fixture_matches_transformers_in_the_browser() {
    let fixture = fixture!("distilbert").load();
    common::assert_within_tolerance(fixture.name, &common::check_fixture(&fixture));
    let trace = fixture.model.trace(&fixture.ids(0)).expect("trace");
    common::check_attention_properties(fixture.name, &trace.attentions, false);
}

/// candle's matmul in this build, in the three orders the engine and the floor use, at shapes
/// that reach every microkernel size (12 × 4 blocks and their remainders), against a float64
/// reference. The bound is the worst case of float32 summation (k · ε · Σ|a·b|); a wrong or
/// missing term is far above it.
#[wasm_bindgen_test]
fn matmul_matches_a_float64_reference_in_every_kernel_shape() {
    use candle_core::{Device, Tensor};
    let value =
        |i: usize, salt: usize| (((i * 7919 + salt * 104_729) % 2003) as f32 / 1001.0) - 1.0;
    for (m, k, n) in [
        (1, 64, 50),
        (5, 7, 3),
        (12, 300, 4),
        (13, 64, 9),
        (25, 33, 17),
        (37, 129, 26),
    ] {
        let a: Vec<f32> = (0..m * k).map(|i| value(i, 1)).collect();
        let b: Vec<f32> = (0..k * n).map(|i| value(i, 2)).collect();
        let lhs = Tensor::from_vec(a.clone(), (m, k), &Device::Cpu).expect("lhs");
        let rhs = Tensor::from_vec(b.clone(), (k, n), &Device::Cpu).expect("rhs");
        let rhs_t = rhs.t().expect("t").contiguous().expect("contiguous");
        let products = [
            ("x·W", lhs.matmul(&rhs).expect("x·W")),
            ("x·Wᵀ", lhs.matmul(&rhs_t.t().expect("t")).expect("x·Wᵀ")),
            (
                "(W·xᵀ)ᵀ",
                rhs_t
                    .matmul(&lhs.t().expect("t"))
                    .expect("W·xᵀ")
                    .t()
                    .expect("t"),
            ),
        ];
        for (order, product) in products {
            let got = product.to_vec2::<f32>().expect("to_vec2");
            for row in 0..m {
                for col in 0..n {
                    let terms = (0..k).map(|i| a[row * k + i] as f64 * b[i * n + col] as f64);
                    let exact: f64 = terms.clone().sum();
                    let bound = k as f64 * f32::EPSILON as f64 * terms.map(f64::abs).sum::<f64>();
                    let error = (got[row][col] as f64 - exact).abs();
                    assert!(
                        error <= bound,
                        "{order} {m}×{k}×{n} [{row},{col}]: {} vs {exact} (error {error:e} > {bound:e})",
                        got[row][col]
                    );
                }
            }
        }
    }
}

/// The kernel this build was compiled with: `--features relaxed-simd` (the `worker_relaxed`
/// build) rounds a·b + c once, the plain build twice. With rows [-1, 1 + 2⁻¹²] and columns
/// [1, 1 + 2⁻¹²], the exact sum is 2⁻¹¹ + 2⁻²⁴; a separate multiply rounds (1 + 2⁻¹²)² to
/// 1 + 2⁻¹¹ first. (V8 compiles relaxed_madd to an FMA instruction on x86 CPUs that have one,
/// as every x86-64 CPU since 2013 does; a browser may fall back to two roundings elsewhere.)
#[wasm_bindgen_test]
fn matmul_kernel_is_the_one_this_build_asks_for() {
    use candle_core::{Device, Tensor};
    let step = 1.0 + 2f32.powi(-12);
    let (m, n) = (24, 8);
    let lhs = Tensor::from_vec([-1.0, step].repeat(m), (m, 2), &Device::Cpu).expect("lhs");
    let rhs = Tensor::from_vec([vec![1.0; n], vec![step; n]].concat(), (2, n), &Device::Cpu)
        .expect("rhs");
    let product = lhs
        .matmul(&rhs)
        .expect("matmul")
        .to_vec2::<f32>()
        .expect("to_vec2");
    let fused = 2f32.powi(-11) + 2f32.powi(-24);
    let separate = 2f32.powi(-11);
    let want = if cfg!(feature = "relaxed-simd") {
        fused
    } else {
        separate
    };
    for row in &product {
        for &value in row {
            assert!(
                value == want,
                "relaxed-simd feature {}: got {value:e}, want {want:e} (fused {fused:e}, separate {separate:e})",
                cfg!(feature = "relaxed-simd")
            );
        }
    }
}
