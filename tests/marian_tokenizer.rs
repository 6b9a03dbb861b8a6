//! A Marian repository ships SentencePiece files, not tokenizer.json:
//! tools/convert_marian_tokenizer.py (which scripts/host-model.sh runs) writes one, and the
//! engine's tokenizer then gives the ids transformers' MarianTokenizer gives
//! (tests/fixtures/marian_spm, made by tools/make_marian_spm_fixture.py) — on sentences with
//! NFKC-normalised, combining, CJK, emoji, right-to-left and zero-width characters — and for
//! a target, target_tokenizer.json from target.spm gives the ids of `text_target=`.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use attention_explorer::engine::{Model, TextTokenizer};
use attention_explorer::messages::{Request, Response};
use attention_explorer::worker::{handle, Session};
use candle_core::{Device, Tensor};

/// Converts tests/fixtures/marian_spm into tokenizer.json and target_tokenizer.json in a fresh
/// temporary folder `name`, and returns the folder.
fn converted(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out_dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).expect("temporary folder");
    let converted = Command::new("python3")
        .arg(root.join("tools/convert_marian_tokenizer.py"))
        .arg(root.join("tests/fixtures/marian_spm"))
        .arg(out_dir.join("tokenizer.json"))
        .output()
        .expect("python3 runs the converter");
    assert!(
        converted.status.success(),
        "{}",
        String::from_utf8_lossy(&converted.stderr)
    );
    out_dir
}

fn reference() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/marian_spm/reference.json"
    );
    serde_json::from_slice(&std::fs::read(path).expect("reference")).expect("reference.json")
}

/// The ids `tokenizer` gives each of the reference's `side` entries equal transformers'.
fn assert_reference_ids(tokenizer: &TextTokenizer, reference: &serde_json::Value, side: &str) {
    let entries = reference[side].as_array().expect(side);
    assert!(entries.len() >= 5, "{side}: too few sentences");
    for entry in entries {
        let text = entry["text"].as_str().expect("text");
        let expected: Vec<u32> = entry["ids"]
            .as_array()
            .expect("ids")
            .iter()
            .map(|id| id.as_u64().expect("id") as u32)
            .collect();
        let ids = tokenizer.encode(text).expect("encode").ids;
        assert_eq!(ids, expected, "{side}: {text:?}");
    }
}

#[test]
fn converted_sentencepiece_files_give_marian_tokenizer_ids() {
    let out_dir = converted("marian-tokenizer");
    let read = |name: &str| {
        let bytes = std::fs::read(out_dir.join(name)).expect(name);
        TextTokenizer::from_json(&bytes).expect("loads")
    };
    let (source, target) = (read("tokenizer.json"), read("target_tokenizer.json"));
    let _ = std::fs::remove_dir_all(&out_dir);
    let reference = reference();
    assert_reference_ids(&source, &reference, "sentences");
    // A target is cut by target.spm, as transformers' `text_target=` does.
    assert_reference_ids(&target, &reference, "targets");
    let german = reference["targets"][1]["text"].as_str().expect("text");
    assert_ne!(
        source.encode(german).expect("encode").ids,
        target.encode(german).expect("encode").ids,
        "the fixture's sides must cut a German target differently"
    );
}

/// The Marian fixture (tests/fixtures/marian) grown to marian_spm's 93 tokens: its vocabulary
/// rows padded with zeros, `<pad>` (92) as the decoder start. Returns config.json and the
/// weights as a safetensors file's bytes.
fn marian_with_spm_vocabulary() -> (Vec<u8>, Vec<u8>) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/marian");
    let tensors = candle_core::safetensors::load(fixture.join("model.safetensors"), &Device::Cpu)
        .expect("fixture weights");
    let grown: HashMap<String, Tensor> = tensors
        .into_iter()
        .map(|(name, tensor)| {
            let dims = tensor.dims().to_vec();
            let axis = dims.iter().position(|&d| d == 92);
            let tensor = match axis {
                Some(axis) => tensor.pad_with_zeros(axis, 0, 1).expect("pad"),
                None => tensor,
            };
            (name, tensor)
        })
        .collect();
    let file =
        std::env::temp_dir().join(format!("marian-grown-{}.safetensors", std::process::id()));
    candle_core::safetensors::save(&grown, &file).expect("save");
    let weights = std::fs::read(&file).expect("read back");
    let _ = std::fs::remove_file(&file);
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture.join("config.json")).expect("config"))
            .expect("config.json");
    for (key, value) in [
        ("vocab_size", 93),
        ("decoder_vocab_size", 93),
        ("pad_token_id", 92),
        ("decoder_start_token_id", 92),
    ] {
        config[key] = value.into();
    }
    (serde_json::to_vec(&config).expect("json"), weights)
}

#[test]
fn a_translator_with_target_tokenizer_json_cuts_targets_with_it() {
    let out_dir = converted("marian-target");
    let read = |name: &str| std::fs::read(out_dir.join(name)).expect(name);
    let (source_json, target_json) = (read("tokenizer.json"), read("target_tokenizer.json"));
    let _ = std::fs::remove_dir_all(&out_dir);
    let (config, weights) = marian_with_spm_vocabulary();
    let reference = reference();
    let german = reference["targets"][1]["text"].as_str().expect("text");
    let expected: Vec<u32> = std::iter::once(92)
        .chain(
            reference["targets"][1]["ids"]
                .as_array()
                .expect("ids")
                .iter()
                .map(|id| id.as_u64().expect("id") as u32),
        )
        .collect();
    // transformers' ids end with </s>; a target so far has none.
    let expected = &expected[..expected.len() - 1];

    let model = Model::from_bytes(&config, &source_json, &weights).expect("loads");
    assert_ne!(
        model.target_ids(german).expect("ids"),
        expected,
        "the source side cuts it otherwise"
    );
    let model = model
        .with_target_tokenizer(&target_json)
        .expect("target tokenizer");
    assert_eq!(model.target_ids(german).expect("ids"), expected);

    // The worker: a Load with the target side's file, then a pair trace of that target.
    let mut session = Session::default();
    let loaded = session.load(
        &config,
        &source_json,
        Some(&target_json),
        weights.as_slice(),
    );
    assert!(matches!(loaded, Response::Loaded { .. }), "{loaded:?}");
    let request = Request::TranslationTrace {
        source: "The house is wonderful.".into(),
        target: german.into(),
        lab: Default::default(),
    };
    match handle(&mut session, 1, request) {
        Response::TranslationTrace { trace } => assert_eq!(trace.target.input_ids, expected),
        other => panic!("no trace: {other:?}"),
    }
}
