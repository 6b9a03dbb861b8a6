//! Comparing a trace extended by appended tokens with traces from scratch (tests/append.rs
//! natively, tests/wasm_engine.rs in the browser).
use attention_explorer::engine::{layer_trace, Model, PageTraceParts};
use serde_json::Value;

/// The largest difference allowed between an extended trace and a full one, relative to
/// max(1, |value|). Not bitwise: the appended rows' products run over one row where a full
/// trace's run over all, and gemm sums those in another order (a few ulps per product, grown
/// through the layers). A Llama's full traces of n and n + 1 tokens already differ by 2.6e-6
/// on their shared positions for the same reason.
pub const APPENDED_TOLERANCE: f64 = 2e-5;

/// The largest |a − b| over every number and every array value of two serialised traces, relative to max(1, |b|);
/// panics where their shapes, texts or flags differ.
pub fn largest_difference(path: &str, a: &Value, b: &Value) -> f64 {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().expect("number"), y.as_f64().expect("number"));
            (x - y).abs() / y.abs().max(1.0)
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{path}: lengths differ");
            x.iter()
                .zip(y)
                .enumerate()
                .map(|(i, (x, y))| largest_difference(&format!("{path}[{i}]"), x, y))
                .fold(0.0, f64::max)
        }
        (Value::Object(x), Value::Object(y)) if x.contains_key("shape") => {
            assert_eq!(x["shape"], y["shape"], "{path}: shapes differ");
            let (x, y) = (f32_values(&x["data"]), f32_values(&y["data"]));
            let pairs = x.into_iter().zip(y).map(|(x, y)| match x == y {
                true => 0.0, // equal infinities too
                false => (x - y).abs() / y.abs().max(1.0),
            });
            pairs.fold(0.0, f64::max)
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>(),
                "{path}: fields differ"
            );
            x.iter()
                .map(|(key, x)| largest_difference(&format!("{path}.{key}"), x, &y[key]))
                .fold(0.0, f64::max)
        }
        _ => {
            assert_eq!(a, b, "{path}");
            0.0
        }
    }
}

/// An [`Array`]'s values, which serialise as little-endian bytes.
pub fn f32_values(data: &Value) -> Vec<f64> {
    let bytes: Vec<u8> = serde_json::from_value(data.clone()).expect("bytes");
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
        .collect()
}

/// A trace part as JSON, to compare number by number.
macro_rules! json {
    ($value:expr) => {
        serde_json::to_value($value).expect("json")
    };
}

/// The largest difference between two page traces: what the page receives, every layer's
/// internals and the predicted logits.
pub fn parts_difference(extended: &PageTraceParts, full: &PageTraceParts) -> f64 {
    let mut largest = largest_difference("trace", &json!(&extended.trace), &json!(&full.trace));
    let layers = full.traced.layers();
    assert_eq!(extended.traced.layers().len(), layers.len());
    for (layer, (ours, theirs)) in extended.traced.layers().iter().zip(layers).enumerate() {
        let ours = json!(&layer_trace(layer, ours).expect("layer"));
        let theirs = json!(&layer_trace(layer, theirs).expect("layer"));
        largest = largest.max(largest_difference("layer", &ours, &theirs));
    }
    let logits = |parts: &PageTraceParts| {
        let predicted = parts.predicted.as_ref().expect("a decoder predicts");
        assert_eq!(predicted.positions, [parts.trace.input_ids.len() - 1]);
        json!(&predicted.rows.to_vec2::<f32>().expect("logits"))
    };
    largest.max(largest_difference(
        "logits",
        &logits(extended),
        &logits(full),
    ))
}

/// Traces all but the last five tokens of the fixture's first text, appends them one at a
/// time, and compares each extended trace with a full trace of the same tokens.
pub fn appended_one_by_one_equal_full_traces(model: &Model, ids: &[u32]) -> f64 {
    assert!(ids.len() > 6, "{} tokens", ids.len());
    let first = ids.len() - 5;
    let mut traced = model.page_trace(&ids[..first]).expect("trace").traced;
    let mut largest: f64 = 0.0;
    for end in first + 1..=ids.len() {
        assert!(model.extends(&traced, &ids[..end]), "{end} tokens extend");
        let extended = model
            .page_trace_after(Some(traced), &ids[..end])
            .expect("extended trace");
        let full = model.page_trace(&ids[..end]).expect("full trace");
        assert_eq!((extended.kept_tokens, full.kept_tokens), (end - 1, 0));
        largest = largest.max(parts_difference(&extended, &full));
        traced = extended.traced;
    }
    largest
}

pub fn longest_text(fixture: &super::Fixture) -> Vec<u32> {
    (0..fixture.texts().len())
        .map(|text| fixture.ids(text))
        .max_by_key(|ids| ids.len())
        .expect("a text")
}
