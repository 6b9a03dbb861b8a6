//! The translator the page ships offline (assets/date-translator, trained by
//! tools/train_translator.py): it writes the right ISO date for held-out spelled-out dates, and
//! its cross-attention aligns each part of the date with the words it comes from.
use std::path::Path;

use attention_explorer::engine::{Decoding, Model};

/// The head whose alignment tools/train_translator.py reports best for the year and month
/// (REPORT.md: layer 2 head 4), 0-based.
const ALIGNING_LAYER: usize = 1;
const ALIGNING_HEAD: usize = 3;

fn translator() -> (Model, Vec<serde_json::Value>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/date-translator");
    let model = Model::from_dir(&dir).expect("the date translator loads");
    let held_out = std::fs::read(dir.join("held_out.json")).expect("held_out.json");
    let pairs = serde_json::from_slice(&held_out).expect("held-out pairs");
    (model, pairs)
}

fn span(value: &serde_json::Value) -> (usize, usize) {
    let bound = |i: usize| value[i].as_u64().expect("bound") as usize;
    (bound(0), bound(1))
}

#[test]
fn writes_the_iso_date_for_held_out_spelled_dates() {
    let (model, pairs) = translator();
    assert!(pairs.len() >= 10);
    for pair in &pairs {
        let source = model
            .tokenize(pair["source"].as_str().expect("source"))
            .expect("tokenize")
            .ids;
        for decoding in [Decoding::Greedy, Decoding::Beam { width: 3 }] {
            let written = model.generate(&source, 16, decoding).expect("generate");
            assert_eq!(
                written.text, pair["target"],
                "{}: {decoding:?}",
                pair["source"]
            );
            assert!(written.finished, "the translator ends its target");
        }
    }
}

/// Teacher-forced on the right target, the aligning head puts most of each year digit's and
/// month digit's attention on the year's and the month's words — on average over the pairs
/// and, on every pair, far above the words' share of the source.
#[test]
fn the_aligning_head_attends_from_each_part_to_its_words() {
    let (model, pairs) = translator();
    for part in ["year", "month"] {
        let mut shares = Vec::new();
        for pair in &pairs {
            let source = model
                .tokenize(pair["source"].as_str().expect("source"))
                .expect("tokenize")
                .ids;
            let target = model
                .target_ids(pair["target"].as_str().expect("target"))
                .expect("target ids");
            let trace = model
                .encoder_decoder_trace(&source, &target)
                .expect("trace");
            let (words_start, words_end) = span(&pair["words"][part]);
            let (first_row, last_row) = span(&pair["writes"][part]);
            let rows = first_row..last_row;
            let share: f32 = rows
                .clone()
                .map(|row| {
                    let weights = trace
                        .cross_attentions
                        .row(&[ALIGNING_LAYER, ALIGNING_HEAD, row])
                        .expect("row");
                    weights[words_start..words_end].iter().sum::<f32>()
                })
                .sum::<f32>()
                / rows.len() as f32;
            let uniform = (words_end - words_start) as f32 / source.len() as f32;
            assert!(
                share > 1.5 * uniform,
                "{part} of {}: {share:.3} vs uniform {uniform:.3}",
                pair["source"]
            );
            shares.push(share);
        }
        let mean = shares.iter().sum::<f32>() / shares.len() as f32;
        println!(
            "{part}: mean share on its words {mean:.3} over {} pairs",
            shares.len()
        );
        assert!(mean > 0.7, "{part}: mean share {mean:.3}");
    }
}
