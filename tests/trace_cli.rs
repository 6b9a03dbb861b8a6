//! The trace CLI writes exactly the documented JSON, with the engine's (= transformers') numbers.
mod common;

use std::path::PathBuf;
use std::process::Command;

fn run_trace(model: &str, text: &str, extra: &[&str]) -> (bool, serde_json::Value, String) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(model);
    let output = Command::new(env!("CARGO_BIN_EXE_trace"))
        .arg("--model")
        .arg(&dir)
        .args(["--text", text, "--out", "-"])
        .args(extra)
        .output()
        .expect("run trace");
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let json = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    (output.status.success(), json, stderr)
}

#[test]
fn writes_exactly_the_documented_fields_with_reference_numbers() {
    let fixture = fixture!("gpt2").load();
    let text = &fixture.texts()[1];
    let position = text["saliency"]["position"].to_string();
    let target = text["saliency"]["target_id"].to_string();
    let (ok, json, stderr) = run_trace(
        "gpt2",
        text["text"].as_str().expect("text"),
        &["--position", &position, "--target", &target],
    );
    assert!(ok, "{stderr}");
    let mut fields: Vec<&str> = json
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "anatomy",
            "attention_outputs",
            "attentions",
            "embedding_sum",
            "head_outputs",
            "hidden_states",
            "input_ids",
            "k",
            "ln2_biases",
            "ln2_inputs",
            "ln2_outputs",
            "ln2_weights",
            "logits",
            "masked_scores",
            "mlp_activations",
            "mlp_outputs",
            "mlp_pre_activations",
            "mlp_up",
            "n_kv_head",
            "position_embeddings",
            "q",
            "rankings",
            "saliency",
            "scores",
            "token_embeddings",
            "tokens",
            "v"
        ]
    );
    assert_eq!(json["input_ids"], text["input_ids"]);

    let mut errors = Vec::new();
    for field in [
        "attentions",
        "scores",
        "masked_scores",
        "q",
        "k",
        "v",
        "head_outputs",
        "attention_outputs",
        "hidden_states",
        "logits",
        "token_embeddings",
        "position_embeddings",
        "embedding_sum",
        "ln2_inputs",
        "ln2_weights",
        "ln2_biases",
        "ln2_outputs",
        "mlp_pre_activations",
        "mlp_activations",
        "mlp_outputs",
    ] {
        if !fixture.has_reference(1, field) {
            assert!(json[field].is_array(), "{field} missing");
            continue;
        }
        let (shape, values) = common::flatten(&json[field]);
        errors.push((
            field.to_string(),
            common::max_abs_error(field, &values, &shape, fixture.reference(1, field)),
        ));
    }
    let (shape, values) = common::flatten(&json["saliency"]["scores"]);
    errors.push((
        "saliency".into(),
        common::max_abs_error(
            "saliency",
            &values,
            &shape,
            fixture.reference(1, "saliency"),
        ),
    ));
    assert_eq!(json["saliency"]["position"].to_string(), position);
    assert_eq!(json["saliency"]["target_id"].to_string(), target);
    common::assert_within_tolerance("trace CLI (gpt2)", &errors);
}

#[test]
fn masked_lm_without_mask_still_traces_and_bad_arguments_fail_clearly() {
    let (ok, json, stderr) = run_trace("distilbert", "the cat sat on the mat.", &[]);
    assert!(ok, "{stderr}");
    assert!(
        json["saliency"].is_null() && stderr.contains("[MASK]"),
        "{stderr}"
    );
    assert!(json["logits"].is_array());

    let (ok, _, stderr) = run_trace("gpt2", "hello", &["--position", "99"]);
    assert!(!ok && stderr.contains("position 99"), "{stderr}");
    let (ok, _, stderr) = run_trace("no_such_model", "hello", &[]);
    assert!(!ok && stderr.contains("cannot read"), "{stderr}");
}

#[test]
fn a_gguf_folder_traces_with_rotary_positions_and_grouped_heads() {
    let fixture = gguf_fixture!("llama").load();
    let text = &fixture.texts()[0];
    let (ok, json, stderr) = run_trace("llama", text["text"].as_str().expect("text"), &[]);
    assert!(ok, "{stderr}");
    assert_eq!(json["input_ids"], text["input_ids"]);
    assert!(
        json["position_embeddings"].is_null(),
        "a rotary model adds no position"
    );
    assert_eq!(json["n_kv_head"], 2);
    let mut errors = Vec::new();
    for field in ["attentions", "q", "k", "hidden_states", "logits"] {
        let (shape, values) = common::flatten(&json[field]);
        errors.push((
            field.to_string(),
            common::max_abs_error(field, &values, &shape, fixture.reference(0, field)),
        ));
    }
    common::assert_within_tolerance("trace CLI (llama)", &errors);
}

#[test]
fn an_encoder_decoder_traces_a_source_and_target_and_generates() {
    let fixture = fixture!("bart").load();
    let pair = &fixture.meta["pairs"][0];
    let source = pair["source"].as_str().expect("source");
    let target = pair["target"].as_str().expect("target");
    let (ok, json, stderr) = run_trace(
        "bart",
        source,
        &["--decoder-text", target, "--generate", "8", "--beams", "3"],
    );
    assert!(ok, "{stderr}");
    assert_eq!(json["encoder_input_ids"], pair["source_ids"]);
    assert_eq!(json["decoder_input_ids"], pair["target_ids"]);
    let mut errors = Vec::new();
    let mut fields = vec![
        "encoder_attentions".to_string(),
        "decoder_attentions".into(),
        "cross_attentions".into(),
        "encoder_hidden_states".into(),
        "decoder_hidden_states".into(),
        "logits".into(),
    ];
    for kind in ["encoder", "decoder", "cross"] {
        for name in ["q", "k", "v", "scores", "masked_scores", "head_outputs"] {
            fields.push(format!("{kind}_{name}"));
        }
    }
    for field in &fields {
        let (shape, values) = common::flatten(&json[field]);
        errors.push((
            field.clone(),
            common::max_abs_error(field, &values, &shape, fixture.reference(0, field)),
        ));
    }
    common::assert_within_tolerance("trace CLI (bart)", &errors);
    let beam: Vec<i64> = fixture.reference(0, "beam3").to_vec1().expect("beam3 ids");
    assert_eq!(json["generated"], serde_json::json!(beam));

    let (ok, json, stderr) = run_trace("t5", "Attention", &[]);
    assert!(ok, "{stderr}");
    assert_eq!(json["decoder_input_ids"], serde_json::json!([0]));
    assert!(json["encoder_position_bias"].is_array());

    let (ok, _, stderr) = run_trace("gpt2", "hello", &["--decoder-text", "hallo"]);
    assert!(!ok && stderr.contains("reads one text"), "{stderr}");
}

/// `--ablate` (the decoder's heads) and `--ablate-cross` on Marian give transformers' numbers
/// with the same heads switched off (tests/fixtures/lab_seq2seq.*, case 2: pair 0, decoder head
/// 2:3, cross heads 1:1 and 2:4).
#[test]
fn an_encoder_decoder_traces_with_heads_switched_off() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixtures.join("lab_seq2seq.json")).expect("lab_seq2seq.json"),
    )
    .expect("json");
    let case = &meta["cases"][2];
    assert_eq!(case["fixture"], "marian");
    let pair = &fixture!("marian").load().meta["pairs"][0];
    let reference = candle_core::safetensors::load(
        fixtures.join("lab_seq2seq.safetensors"),
        &candle_core::Device::Cpu,
    )
    .expect("lab_seq2seq.safetensors");
    let (ok, json, stderr) = run_trace(
        "marian",
        pair["source"].as_str().expect("source"),
        &[
            "--decoder-text",
            pair["target"].as_str().expect("target"),
            "--ablate",
            "2:3",
            "--ablate-cross",
            "1:1,2:4",
        ],
    );
    assert!(ok, "{stderr}");
    assert_eq!(json["encoder_input_ids"], case["source_ids"]);
    let errors: Vec<_> = ["cross_attentions", "decoder_attentions", "logits"]
        .iter()
        .map(|field| {
            let (shape, values) = common::flatten(&json[*field]);
            let theirs = &reference[&format!("2.{field}")];
            (
                field.to_string(),
                common::max_abs_error(field, &values, &shape, theirs),
            )
        })
        .collect();
    common::assert_within_tolerance("trace CLI, Marian with heads off", &errors);
    let (ok, _, stderr) = run_trace("marian", "Hello", &["--ablate-encoder", "3:1"]);
    assert!(!ok && stderr.contains("no head 3:1"), "{stderr}");
}
