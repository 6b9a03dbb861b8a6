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
