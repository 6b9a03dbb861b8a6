//! The worker's request handling, natively: the same code runs in the browser worker.
mod common;

use attention_explorer::worker::protocol::{handle, Request, Response};

fn load(files: &common::FixtureFiles) -> Option<attention_explorer::engine::Model> {
    let mut model = None;
    let request = Request::Load {
        config: files.config.to_vec(),
        tokenizer: files.tokenizer.to_vec(),
        model: files.model.to_vec(),
    };
    match handle(&mut model, request) {
        Response::Loaded { card, .. } => {
            assert_eq!(
                (
                    card.architecture.as_str(),
                    card.n_layer,
                    card.n_head,
                    card.d_model
                ),
                ("GPT-2", 2, 4, 32)
            );
            assert!(card.causal && card.has_prediction_head && card.mask_token.is_none());
        }
        other => panic!("expected Loaded, got {other:?}"),
    }
    model
}

#[test]
fn requests_before_a_model_is_loaded_get_a_readable_error() {
    let response = handle(
        &mut None,
        Request::Trace {
            id: 7,
            text: "hello".into(),
        },
    );
    let Response::Error { id, message } = response else {
        panic!("expected an error")
    };
    assert_eq!(id, Some(7));
    assert!(message.contains("No model is loaded"), "{message}");
}

#[test]
fn a_broken_model_file_is_an_error_response_and_leaves_no_model() {
    let files = fixture!("gpt2");
    let mut model = load(&files);
    let broken = Request::Load {
        config: files.config.to_vec(),
        tokenizer: files.tokenizer.to_vec(),
        model: files.model[..1000].to_vec(),
    };
    let Response::Error { id: None, message } = handle(&mut model, broken) else {
        panic!("expected an error")
    };
    assert!(message.starts_with("model.safetensors"), "{message}");
    assert!(
        model.is_none(),
        "the old model is dropped before the new one is built"
    );
}

#[test]
fn tokenize_and_trace_agree_and_long_texts_are_cut_to_the_positions() {
    let files = fixture!("gpt2");
    let mut model = load(&files);
    let Response::Tokens {
        tokens,
        truncated_from: None,
        ..
    } = handle(
        &mut model,
        Request::Tokenize {
            id: 1,
            text: "Hello world".into(),
        },
    )
    else {
        panic!("expected tokens")
    };
    let Response::Trace {
        id: 2,
        tokens: traced,
        trace,
        ..
    } = handle(
        &mut model,
        Request::Trace {
            id: 2,
            text: "Hello world".into(),
        },
    )
    else {
        panic!("expected a trace")
    };
    assert_eq!(tokens, traced);
    assert_eq!(
        trace.attentions.shape,
        [2, 4, tokens.ids.len(), tokens.ids.len()]
    );

    let long = "the cat sat on the mat ".repeat(20);
    let Response::Trace {
        tokens,
        truncated_from: Some(original),
        trace,
        ..
    } = handle(&mut model, Request::Trace { id: 3, text: long })
    else {
        panic!("expected a truncated trace")
    };
    assert_eq!(tokens.ids.len(), 64);
    assert!(original > 64);
    assert_eq!(trace.input_ids.len(), 64);
}

#[test]
fn trace_arrays_survive_serialisation_as_bytes() {
    let files = fixture!("gpt2");
    let mut model = load(&files);
    let Response::Trace { trace, .. } = handle(
        &mut model,
        Request::Trace {
            id: 1,
            text: "Hello world".into(),
        },
    ) else {
        panic!()
    };
    let json = serde_json::to_string(&trace).expect("serialise");
    let back: attention_explorer::engine::Trace = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back, *trace);
    assert!(
        back.masked_scores.data.contains(&f32::NEG_INFINITY),
        "−∞ survives the byte encoding"
    );
}
