//! The induction-head detector on a model with one planted in it (tools/make_induction_fixture.py
//! trains a 2-layer GPT-2 on repeated random sequences): on the held-out sequence every head's
//! score equals transformers' within 1e-4, and the detector, on its own random sequence, finds
//! the planted head and no other. Models without a causal mask, and periods that do not fit,
//! are refused with their own message.
use attention_explorer::engine::{EngineError, Model, INDUCTION_PERIOD};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn model(name: &str) -> Model {
    Model::from_dir(&fixtures().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn reference() -> serde_json::Value {
    let path = fixtures().join("induction/reference.json");
    serde_json::from_slice(&std::fs::read(&path).expect("induction/reference.json"))
        .expect("reference.json is JSON")
}

#[test]
fn the_scores_on_the_held_out_sequence_equal_transformers() {
    let reference = reference();
    let ids: Vec<u32> = serde_json::from_value(reference["ids"].clone()).expect("ids");
    let period = reference["period"].as_u64().expect("period") as usize;
    let expected: Vec<Vec<f32>> =
        serde_json::from_value(reference["scores"].clone()).expect("scores");
    let found = model("induction")
        .induction_scores_of(&ids, period, 1)
        .expect("scores");
    assert_eq!(found.scores.len(), expected.len());
    for (layer, (ours, theirs)) in found.scores.iter().zip(&expected).enumerate() {
        for (head, (a, b)) in ours.iter().zip(theirs).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4,
                "layer {} head {}: {a} vs transformers' {b}",
                layer + 1,
                head + 1
            );
        }
    }
}

#[test]
fn the_detector_finds_the_planted_head_and_no_other() {
    let planted: Vec<usize> =
        serde_json::from_value(reference()["induction_head"].clone()).expect("induction_head");
    for seed in [0, 1, 2] {
        let found = model("induction")
            .induction_scores(INDUCTION_PERIOD, seed)
            .expect("scores");
        assert_eq!(found.ids.len(), 2 * INDUCTION_PERIOD + 1, "start + R + R");
        assert_eq!(found.ids[0], 0, "after <|endoftext|>");
        let score = found.scores[planted[0]][planted[1]];
        let others = found
            .scores
            .iter()
            .enumerate()
            .flat_map(|(l, row)| row.iter().enumerate().map(move |(h, s)| ((l, h), *s)))
            .filter(|&(at, _)| at != (planted[0], planted[1]))
            .map(|(_, s)| s)
            .fold(0.0f32, f32::max);
        assert!(
            score > 0.5 && others < 0.25,
            "seed {seed}: the planted head scores {score}, the best other {others}"
        );
    }
    // The untrained fixture has no induction head.
    let untrained = model("gpt2")
        .induction_scores(INDUCTION_PERIOD, 0)
        .expect("scores");
    let best = untrained
        .scores
        .iter()
        .flatten()
        .fold(0.0f32, |m, s| m.max(*s));
    assert!(best < 0.25, "random weights score {best}");
}

#[test]
fn encoders_and_periods_that_do_not_fit_are_refused() {
    assert!(matches!(
        model("distilbert").induction_scores(INDUCTION_PERIOD, 0),
        Err(EngineError::InductionNeedsDecoder { .. })
    ));
    // 64 positions hold a start token and two copies of at most 31.
    let gpt2 = model("gpt2");
    assert!(gpt2.induction_scores(31, 0).is_ok());
    assert!(matches!(
        gpt2.induction_scores(32, 0),
        Err(EngineError::InductionPeriod {
            period: 32,
            max: 31
        })
    ));
}
