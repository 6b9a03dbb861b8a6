//! Tokens appended to a decoder's traced text: the extended trace (only the appended positions
//! computed, the earlier keys and values read from the kept pass) equals a trace of the whole
//! text from scratch, for every array the page receives and every layer's internals.
mod common;

use attention_explorer::engine::{Ablation, HeadId, Interventions};
use common::appended::{
    appended_one_by_one_equal_full_traces, longest_text, parts_difference, APPENDED_TOLERANCE,
};

#[test]
fn gpt2_trace_extended_by_five_tokens_equals_full_traces() {
    let fixture = fixture!("gpt2").load();
    let ids = longest_text(&fixture);
    let largest = appended_one_by_one_equal_full_traces(&fixture.model, &ids);
    println!("GPT-2 fixture: largest relative difference {largest:e}");
    assert!(largest <= APPENDED_TOLERANCE, "{largest}");
}

#[test]
fn llama_trace_extended_by_five_tokens_equals_full_traces() {
    // Rotary positions and grouped-query attention: the appended queries and keys are rotated
    // by their own positions, and the kept keys are already one per query head.
    let fixture = gguf_fixture!("llama").load();
    let ids = longest_text(&fixture);
    let largest = appended_one_by_one_equal_full_traces(&fixture.model, &ids);
    println!("Llama fixture: largest relative difference {largest:e}");
    assert!(largest <= APPENDED_TOLERANCE, "{largest}");
}

#[test]
fn a_head_switched_off_to_zero_still_extends_and_equals_a_full_trace() {
    let mut fixture = fixture!("gpt2").load();
    let lab = Interventions {
        ablated: vec![HeadId { layer: 0, head: 1 }],
        ablation: Ablation::Zero,
        ..Interventions::default()
    };
    fixture.model.set_interventions(lab).expect("lab");
    let ids = longest_text(&fixture);
    let largest = appended_one_by_one_equal_full_traces(&fixture.model, &ids);
    assert!(largest <= APPENDED_TOLERANCE, "{largest}");
}

#[test]
fn traces_that_cannot_be_extended_are_traced_from_scratch() {
    let mut fixture = fixture!("gpt2").load();
    let ids = longest_text(&fixture);
    let model = &mut fixture.model;
    let traced = model.page_trace(&ids[..4]).expect("trace").traced;
    assert!(model.extends(&traced, &ids[..5]));
    assert!(!model.extends(&traced, &ids[..4]), "nothing appended");
    assert!(!model.extends(&traced, &ids[..3]), "a shorter text");
    let mut changed = ids[..5].to_vec();
    changed[1] = ids[2];
    assert!(
        !model.extends(&traced, &changed),
        "an earlier token changed"
    );
    let labs = [
        Interventions {
            causal_mask_off: true,
            ..Interventions::default()
        },
        Interventions {
            ablated: vec![HeadId { layer: 0, head: 1 }],
            ablation: Ablation::Mean,
            ..Interventions::default()
        },
    ];
    for lab in labs {
        model.set_interventions(lab.clone()).expect("lab");
        assert!(!model.extends(&traced, &ids[..5]), "{lab:?}");
        let after = model.page_trace_after(Some(traced.clone()), &ids[..5]);
        let full = model.page_trace(&ids[..5]).expect("full");
        assert_eq!(
            parts_difference(&after.expect("traced from scratch"), &full),
            0.0,
            "{lab:?}"
        );
    }
    let encoder = fixture!("distilbert").load();
    let ids = encoder.ids(0);
    let traced = encoder.model.page_trace(&ids[..3]).expect("trace").traced;
    assert!(!encoder.model.extends(&traced, &ids[..4]), "an encoder");
}
