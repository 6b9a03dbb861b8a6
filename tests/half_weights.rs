//! Half-precision copies (`tools/to-f16`): half the bytes, and the model they load predicts what
//! the f32 model predicts within a stated tolerance.
mod common;

use attention_explorer::engine::{to_half_precision, EngineError, Model, ModelFile};
use candle_core::DType;

/// softmax of one logits row.
fn softmax(row: &[f32]) -> Vec<f32> {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = row.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

/// Largest probability difference over every position and token, and how many positions'
/// most probable token differs (only counted where f32's top two are further apart than that).
fn compare(files: &common::FixtureFiles, dtype: DType, text: &str) -> (f32, usize) {
    let halved = to_half_precision(files.model, dtype).expect("halve");
    // Every weight is an f32 in these fixtures: about half the bytes (their headers are a large
    // share of such tiny files; GPT-2 small goes from 498 MB to 249 MB).
    assert!(
        halved.len() < files.model.len() * 6 / 10,
        "{} → {} bytes",
        files.model.len(),
        halved.len()
    );
    let full = Model::from_bytes(files.config, files.tokenizer, files.model).expect("f32 model");
    let half = Model::from_bytes(files.config, files.tokenizer, &halved).expect("half model");
    let ids = full.tokenize(text).expect("tokens").ids;
    let logits = |model: &Model| model.trace(&ids).expect("trace").logits.expect("logits");
    let (a, b) = (logits(&full), logits(&half));
    let vocab = a.shape[1];
    let mut max_diff = 0f32;
    let mut changed_top = 0;
    for (row_a, row_b) in a.data.chunks(vocab).zip(b.data.chunks(vocab)) {
        let (p, q) = (softmax(row_a), softmax(row_b));
        let diff = p
            .iter()
            .zip(&q)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        max_diff = max_diff.max(diff);
        let argmax = |v: &[f32]| {
            (0..v.len())
                .max_by(|&i, &j| v[i].total_cmp(&v[j]))
                .unwrap_or(0)
        };
        let mut sorted = p.clone();
        sorted.sort_by(|x, y| y.total_cmp(x));
        if argmax(&p) != argmax(&q) && sorted[0] - sorted[1] > 2.0 * diff {
            changed_top += 1;
        }
    }
    (max_diff, changed_top)
}

#[test]
fn f16_and_bf16_copies_predict_what_f32_predicts() {
    for (files, text) in [
        (fixture!("gpt2"), "Hello world, the cat sat on the mat."),
        (fixture!("bert_mlm_odd"), "the cat [MASK] on the mat."),
    ] {
        for (dtype, tolerance) in [(DType::F16, 1e-2), (DType::BF16, 3e-2)] {
            let (max_diff, changed_top) = compare(&files, dtype, text);
            println!(
                "{} {dtype:?}: largest probability difference {max_diff:.2e}",
                files.name
            );
            assert!(
                max_diff <= tolerance,
                "{} {dtype:?}: {max_diff} > {tolerance}",
                files.name
            );
            assert_eq!(
                changed_top, 0,
                "{} {dtype:?}: a top prediction changed",
                files.name
            );
        }
    }
}

#[test]
fn only_half_precision_is_offered() {
    let files = fixture!("gpt2");
    assert!(matches!(
        to_half_precision(files.model, DType::F32),
        Err(EngineError::BadRequest { .. })
    ));
    assert!(matches!(
        to_half_precision(b"GGUF....", DType::F16),
        Err(EngineError::DamagedFile {
            file: ModelFile::Weights,
            ..
        })
    ));
}
