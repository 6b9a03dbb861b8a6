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
    common::check_attention_properties(fixture.name, &trace.page.attentions, true);
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
    common::check_attention_properties(fixture.name, &trace.page.attentions, false);
}

/// candle's matmul in this build, in the three orders the engine and the floor use, at shapes
/// that reach every microkernel size (8 × 4 blocks and their remainders), against a float64
/// reference, with gemm's default packing and with the packing the engine sets for the
/// backward pass's grad·W (`matmul::with_weight_packed`: the column-major operand packed from
/// 5 columns on). The bound is the worst case of float32 summation (k · ε · Σ|a·b|); a wrong or
/// missing term is far above it.
#[wasm_bindgen_test]
fn matmul_matches_a_float64_reference_in_every_kernel_shape() {
    let default = gemm::DEFAULT_LHS_PACKING_THRESHOLD_SINGLE_THREAD;
    gemm::set_lhs_packing_threshold_single_thread(default);
    check_matmul_shapes("gemm's default packing");
    gemm::set_lhs_packing_threshold_single_thread(1);
    check_matmul_shapes("the backward's packing");
    gemm::set_lhs_packing_threshold_single_thread(default);
}

fn check_matmul_shapes(setting: &str) {
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
                        "{setting}, {order} {m}×{k}×{n} [{row},{col}]: {} vs {exact} (error {error:e} > {bound:e})",
                        got[row][col]
                    );
                }
            }
        }
    }
}

/// The kernel this build was compiled with: `--features relaxed-simd` (the `worker_relaxed`
/// build) computes a·b + c with relaxed SIMD's `relaxed_madd`, the plain build with a multiply
/// and an add. Rows [-1, 1 + 2⁻¹², 0, 0] and columns [1, 1 + 2⁻¹², 0, 0] tell them apart: the
/// exact sum is 2⁻¹¹ + 2⁻²⁴, and a separate multiply rounds (1 + 2⁻¹²)² to 1 + 2⁻¹¹ first.
/// `relaxed_madd` may round once or twice (the spec lets the host choose; V8 emits an FMA
/// instruction where the CPU has one), so the relaxed build must match this host's own
/// `relaxed_madd` on the same numbers. k is 4 because gemm sends k ≤ 2 to a separate path
/// that never reaches the microkernels.
#[wasm_bindgen_test]
fn matmul_kernel_is_the_one_this_build_asks_for() {
    use candle_core::{Device, Tensor};
    let step = 1.0 + 2f32.powi(-12);
    let (m, k, n) = (24, 4, 8);
    let lhs =
        Tensor::from_vec([-1.0, step, 0.0, 0.0].repeat(m), (m, k), &Device::Cpu).expect("lhs");
    let rhs = Tensor::from_vec(
        [vec![1.0; n], vec![step; n], vec![0.0; n], vec![0.0; n]].concat(),
        (k, n),
        &Device::Cpu,
    )
    .expect("rhs");
    let product = lhs
        .matmul(&rhs)
        .expect("matmul")
        .to_vec2::<f32>()
        .expect("to_vec2");
    let fused = 2f32.powi(-11) + 2f32.powi(-24);
    let separate = 2f32.powi(-11);
    #[cfg(feature = "relaxed-simd")]
    let want = host_relaxed_madd(step, step, -1.0);
    #[cfg(not(feature = "relaxed-simd"))]
    let want = separate;
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

/// a·b + c by this host's `f32x4.relaxed_madd`, lane 0.
#[cfg(feature = "relaxed-simd")]
fn host_relaxed_madd(a: f32, b: f32, c: f32) -> f32 {
    use std::arch::wasm32::{f32x4_extract_lane, f32x4_relaxed_madd, f32x4_splat};
    #[target_feature(enable = "relaxed-simd")]
    fn madd(a: f32, b: f32, c: f32) -> f32 {
        f32x4_extract_lane::<0>(f32x4_relaxed_madd(
            f32x4_splat(a),
            f32x4_splat(b),
            f32x4_splat(c),
        ))
    }
    // SAFETY: the relaxed-simd build only runs where the browser validated a relaxed SIMD
    // module (crates/app/js/worker-choice.js); wasm-bindgen-test runs it in Chromium, which has it.
    unsafe { madd(a, b, c) }
}

/// Appending tokens one at a time in the wasm build (whose few-row products take the engine's
/// own kernel) gives the traces from scratch too.
#[wasm_bindgen_test]
fn traces_extended_by_appended_tokens_equal_full_traces_in_the_browser() {
    use common::appended::{appended_one_by_one_equal_full_traces, longest_text};
    for fixture in [fixture!("gpt2").load(), gguf_fixture!("llama").load()] {
        let largest =
            appended_one_by_one_equal_full_traces(&fixture.model, &longest_text(&fixture));
        assert!(
            largest <= common::appended::APPENDED_TOLERANCE,
            "{}: {largest}",
            fixture.name
        );
    }
}

/// Products cut into blocks of their weight's rows (what the threaded worker's pool computes
/// side by side) give bitwise the uncut numbers with this build's kernels.
#[wasm_bindgen_test]
fn cut_products_change_no_number_in_the_browser() {
    for pieces in [2, 3] {
        common::cut::fixtures_are_the_same_cut_in(pieces);
        common::cut::real_sizes_are_the_same_cut_in(pieces);
    }
}

/// The one-pass activations cut into blocks of values give bitwise the uncut values with this
/// build's lanes.
#[wasm_bindgen_test]
fn cut_activations_change_no_number_in_the_browser() {
    for pieces in [2, 3] {
        common::cut::activations_are_the_same_cut_in(pieces);
    }
}
