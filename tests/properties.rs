//! Properties on random input (seeded, reproducible): attention rows sum to 1, a decoder never
//! attends to a later token, saliency shares are ≥ 0 and sum to 1, and GPT-2's byte-level BPE
//! gives back exactly the text it tokenized, for random Unicode (emoji, CJK, right-to-left,
//! combining, zero-width and control characters). The real GPT-2 BPE gets the same round trip in
//! `tests/real_assets.rs`.
mod common;

use attention_explorer::engine::{EngineError, Model, TextTokenizer};
use common::{check_round_trip, random_text, Rng};

#[test]
fn gpt2_byte_level_bpe_round_trips_random_unicode() {
    let files = fixture!("gpt2");
    let tokenizer = TextTokenizer::from_json(files.tokenizer).expect("tokenizer");
    check_round_trip(&tokenizer, 2000, 0x1234_5678);
}

fn model(files: common::FixtureFiles) -> Model {
    Model::from_bytes(files.config, files.tokenizer, files.model).expect("fixture model")
}

#[test]
fn attention_rows_sum_to_one_and_decoders_never_look_ahead() {
    let mut rng = Rng(0xa77e_0001);
    for (files, causal) in [(fixture!("gpt2"), true), (fixture!("distilbert"), false)] {
        let model = model(files);
        let (mut rows_checked, mut future_cells_checked) = (0, 0);
        for case in 0..40 {
            let text = random_text(&mut rng);
            let mut ids = model.tokenize(&text).expect("tokens").ids;
            ids.truncate(model.config.max_positions);
            let trace = model.trace(&ids).expect("trace");
            let n = ids.len();
            for (row_index, row) in trace.page.attentions.data.chunks(n).enumerate() {
                let sum: f32 = row.iter().sum();
                assert!(
                    (sum - 1.0).abs() < 1e-4,
                    "case {case} {text:?}: row {row_index} sums to {sum}"
                );
                assert!(
                    row.iter().all(|&p| p >= 0.0),
                    "case {case}: a negative weight"
                );
                if causal {
                    let query = row_index % n;
                    assert!(
                        row[query + 1..].iter().all(|&p| p == 0.0),
                        "case {case} {text:?}: query {query} sees the future"
                    );
                    future_cells_checked += n - 1 - query;
                }
                rows_checked += 1;
            }
        }
        // Every case traced (an empty text would have failed above); rows and, for the
        // decoder, cells after the query were really looked at.
        assert!(
            rows_checked >= 40,
            "{causal}: only {rows_checked} rows checked"
        );
        assert_eq!(
            future_cells_checked > 0,
            causal,
            "future cells checked: {future_cells_checked}"
        );
    }
}

#[test]
fn saliency_shares_are_non_negative_and_sum_to_one() {
    let mut rng = Rng(0x5a11_e4c7);
    for (files, suffix) in [(fixture!("gpt2"), ""), (fixture!("distilbert"), " [MASK]")] {
        let model = model(files);
        let mut checked = 0;
        for case in 0..15 {
            let text = format!("{}{suffix}", random_text(&mut rng));
            let mut ids = model.tokenize(&text).expect("tokens").ids;
            ids.truncate(model.config.max_positions);
            let saliency = match model.saliency(&ids, None, None) {
                Ok(saliency) => saliency,
                // A [MASK] truncated away: nothing to explain, which the model says.
                Err(EngineError::NoMask { .. }) if !suffix.is_empty() => continue,
                Err(e) => panic!("case {case} {text:?}: {e}"),
            };
            checked += 1;
            let sum: f32 = saliency.scores.iter().sum();
            assert!(
                saliency.scores.iter().all(|&s| s >= 0.0),
                "case {case}: a negative share"
            );
            assert!(
                (sum - 1.0).abs() < 1e-4,
                "case {case} {text:?}: shares sum to {sum}"
            );
        }
        // Most texts keep their [MASK]: a run that skipped them all would prove nothing.
        assert!(
            checked >= 10,
            "{suffix:?}: only {checked} of 15 cases checked"
        );
    }
}
