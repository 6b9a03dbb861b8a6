//! The lab's interventions against transformers (tools/make_lab_fixture.py): heads switched off
//! (zeroed or mean-ablated), a decoder's causal mask removed, an encoder's text padded with and
//! without its key padding mask — the attentions, hidden states and logits of the intervened
//! model within 1e-4 on GPT-2, DistilBERT, BERT and Llama, and on T5, BART and Marian with
//! heads switched off in the encoder, the decoder and the cross-attention; and the
//! interventions a model cannot take refused with their own message.
mod common;

use attention_explorer::engine::{EngineError, HeadId, Interventions, Model};
use candle_core::{Device, Tensor};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn lab_fixture() -> (serde_json::Value, std::collections::HashMap<String, Tensor>) {
    let json = std::fs::read(fixtures().join("lab.json")).expect("tests/fixtures/lab.json");
    let tensors = candle_core::safetensors::load(fixtures().join("lab.safetensors"), &Device::Cpu);
    (
        serde_json::from_slice(&json).expect("lab.json"),
        tensors.expect("tests/fixtures/lab.safetensors"),
    )
}

fn model(name: &str) -> Model {
    Model::from_dir(&fixtures().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn lab_pads(model: &Model) -> bool {
    model.interventions().pad_to.is_some()
}

/// With the padding mask every query's scores are −∞ at the padding (as the softmax read
/// them, and as the step-through shows them); without it, nowhere.
fn check_padding_is_masked(
    what: &str,
    trace: &attention_explorer::engine::Trace,
    ids: &[u32],
    lab: &Interventions,
) {
    let masked = trace.masked_scores();
    let n = ids.len();
    let padding: Vec<bool> = ids.iter().map(|&id| id == ids[n - 1]).collect();
    for (i, &score) in masked.data.iter().enumerate() {
        let key = i % n;
        let hidden = padding[key] && !lab.padding_mask_off;
        assert_eq!(
            score == f32::NEG_INFINITY,
            hidden,
            "{what}: key {key} ({} padding)",
            if padding[key] { "is" } else { "not" }
        );
    }
}

#[test]
fn interventions_match_transformers() {
    let (meta, reference) = lab_fixture();
    let text = meta["text"].as_str().expect("text");
    let mut errors = Vec::new();
    for (index, case) in meta["cases"].as_array().expect("cases").iter().enumerate() {
        let name = case["fixture"].as_str().expect("fixture");
        let what = format!("{name} {}", case["what"].as_str().expect("what"));
        let lab: Interventions =
            serde_json::from_value(case["interventions"].clone()).expect("interventions");
        let mut model = model(name);
        model.set_interventions(lab).expect("the model takes them");
        let ids = model
            .padded(&model.tokenize(text).expect("tokenize").ids)
            .expect("pad");
        let expected_ids: Vec<u32> =
            serde_json::from_value(case["input_ids"].clone()).expect("ids");
        assert_eq!(ids, expected_ids, "{what}: ids");
        let trace = model.trace(&ids).expect("trace");
        if lab_pads(&model) {
            check_padding_is_masked(&what, &trace, &ids, model.interventions());
        }
        let mut fields = vec![
            ("attentions", &trace.page.attentions),
            ("hidden_states", &trace.page.hidden_states),
        ];
        fields.extend(trace.logits.as_ref().map(|logits| ("logits", logits)));
        for (field, ours) in fields {
            let theirs = &reference[&format!("{index}.{field}")];
            common::compare_array(&mut errors, &format!("{what} {field}"), ours, theirs);
        }
    }
    common::assert_within_tolerance("lab", &errors);
}

#[test]
fn encoder_decoder_interventions_match_transformers() {
    let json = std::fs::read(fixtures().join("lab_seq2seq.json"))
        .expect("tests/fixtures/lab_seq2seq.json");
    let meta: serde_json::Value = serde_json::from_slice(&json).expect("lab_seq2seq.json");
    let reference =
        candle_core::safetensors::load(fixtures().join("lab_seq2seq.safetensors"), &Device::Cpu)
            .expect("tests/fixtures/lab_seq2seq.safetensors");
    let mut errors = Vec::new();
    for (index, case) in meta["cases"].as_array().expect("cases").iter().enumerate() {
        let name = case["fixture"].as_str().expect("fixture");
        let ids =
            |key: &str| -> Vec<u32> { serde_json::from_value(case[key].clone()).expect("ids") };
        let lab: Interventions =
            serde_json::from_value(case["interventions"].clone()).expect("interventions");
        let mut model = model(name);
        model.set_interventions(lab).expect("the model takes them");
        let trace = model
            .encoder_decoder_trace(&ids("source_ids"), &ids("target_ids"))
            .expect("trace");
        for (field, ours) in [
            ("encoder_attentions", &trace.source.attentions),
            ("decoder_attentions", &trace.target.attentions),
            ("cross_attentions", &trace.cross_attentions),
            ("encoder_hidden_states", &trace.source.hidden_states),
            ("decoder_hidden_states", &trace.target.hidden_states),
            ("logits", &trace.logits),
        ] {
            let theirs = &reference[&format!("{index}.{field}")];
            common::compare_array(&mut errors, &format!("{name} {field}"), ours, theirs);
        }
    }
    common::assert_within_tolerance("lab_seq2seq", &errors);
}

/// Writing with heads switched off gives, token by token, the same ids as the full pass's
/// argmax with them off: the lab reaches generation's cached steps too.
#[test]
fn encoder_decoder_generation_writes_with_the_heads_off() {
    let mut model = model("t5");
    let source = model
        .tokenize("Hello world, the cat sat on the mat.")
        .expect("tokenize")
        .ids;
    let greedy = |model: &Model| {
        model
            .generate(&source, 6, attention_explorer::engine::Decoding::Greedy)
            .expect("generate")
            .ids
    };
    let trained = greedy(&model);
    model
        .set_interventions(Interventions {
            ablated_cross: (0..3)
                .flat_map(|layer| (0..4).map(move |head| HeadId { layer, head }))
                .collect(),
            ..Interventions::default()
        })
        .expect("switch every cross-attention head off");
    let written = greedy(&model);
    let trace = model
        .encoder_decoder_trace(&source, &written)
        .expect("trace");
    let vocab = trace.logits.shape[1];
    for (position, next) in written[1..].iter().enumerate() {
        let row = &trace.logits.data[position * vocab..(position + 1) * vocab];
        let argmax = (0..vocab).max_by(|&a, &b| row[a].total_cmp(&row[b]));
        assert_eq!(argmax, Some(*next as usize), "position {position}");
    }
    assert_ne!(trained, written, "the source no longer reaches the decoder");
}

#[test]
fn a_switched_off_head_changes_the_prediction_and_only_downstream() {
    let mut model = model("gpt2");
    let ids = model
        .tokenize("Hello world, the cat sat")
        .expect("tokenize")
        .ids;
    let before = model.trace(&ids).expect("trace");
    model
        .set_interventions(Interventions {
            ablated: vec![HeadId { layer: 1, head: 0 }],
            ..Interventions::default()
        })
        .expect("ablate");
    let after = model.trace(&ids).expect("trace");
    // Layer 1's attention weights are computed before its heads' outputs are dropped.
    assert_eq!(before.page.attentions, after.page.attentions);
    assert_ne!(before.logits, after.logits);
    let head_outputs = &after.attention.head_outputs;
    let per_head = head_outputs.data.len() / head_outputs.shape[..2].iter().product::<usize>();
    let layer_1_head_0 = head_outputs.shape[1] * per_head;
    assert!(head_outputs.data[layer_1_head_0..layer_1_head_0 + per_head]
        .iter()
        .all(|&x| x == 0.0));
}

#[test]
fn interventions_a_model_cannot_take_are_refused() {
    let mut gpt2 = model("gpt2");
    let no_such_head = Interventions {
        ablated: vec![HeadId { layer: 1, head: 4 }],
        ..Interventions::default()
    };
    assert_eq!(
        gpt2.set_interventions(no_such_head),
        Err(EngineError::NoSuchHead {
            layer: 1,
            head: 4,
            layers: 2,
            heads: 4
        })
    );
    let padded = Interventions {
        pad_to: Some(20),
        ..Interventions::default()
    };
    assert!(matches!(
        gpt2.set_interventions(padded),
        Err(EngineError::PaddingNeedsEncoder { .. })
    ));
    let mut bert = model("distilbert");
    let unmasked = Interventions {
        causal_mask_off: true,
        ..Interventions::default()
    };
    assert!(matches!(
        bert.set_interventions(unmasked),
        Err(EngineError::NoCausalMask { .. })
    ));
    bert.set_interventions(Interventions {
        pad_to: Some(3),
        ..Interventions::default()
    })
    .expect("an encoder pads");
    let ids = bert
        .tokenize("a longer text than three")
        .expect("tokenize")
        .ids;
    assert_eq!(
        bert.padded(&ids),
        Err(EngineError::PadShorterThanText {
            pad_to: 3,
            tokens: ids.len()
        })
    );
    let mut t5 = model("t5");
    assert!(matches!(
        t5.set_interventions(Interventions {
            causal_mask_off: true,
            ..Interventions::default()
        }),
        Err(EngineError::LabHeadsOnly { .. })
    ));
    // T5's fixture: 2 encoder layers, 3 decoder layers, 4 heads each.
    assert_eq!(
        t5.set_interventions(Interventions {
            ablated_cross: vec![HeadId { layer: 3, head: 0 }],
            ..Interventions::default()
        }),
        Err(EngineError::NoSuchHead {
            layer: 3,
            head: 0,
            layers: 3,
            heads: 4
        })
    );
    assert!(matches!(
        gpt2.set_interventions(Interventions {
            ablated_cross: vec![HeadId { layer: 0, head: 0 }],
            ..Interventions::default()
        }),
        Err(EngineError::NotEncoderDecoder { .. })
    ));
    let message = EngineError::NoSuchHead {
        layer: 1,
        head: 4,
        layers: 2,
        heads: 4,
    }
    .to_string();
    assert!(
        message.contains("2:5") && message.contains("2 layers of 4 heads"),
        "{message}"
    );
}

/// Runs the trace CLI on fixture `model` with `extra` arguments: (success, JSON, stderr).
fn trace_cli(model: &str, text: &str, extra: &[&str]) -> (bool, serde_json::Value, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_trace"))
        .arg("--model")
        .arg(fixtures().join(model))
        .args(["--text", text, "--out", "-"])
        .args(extra)
        .output()
        .expect("run trace");
    let json = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    (output.status.success(), json, stderr)
}

#[test]
fn the_trace_cli_takes_the_lab_flags() {
    let (meta, reference) = lab_fixture();
    let text = meta["text"].as_str().expect("text");
    let cases = meta["cases"].as_array().expect("cases");
    // Heads counted from 1 on the command line, as on the page.
    for (fixture, what, flags) in [
        (
            "gpt2",
            "ablate_mean",
            vec!["--ablate", "1:2,2:3", "--mean-ablation"],
        ),
        ("gpt2", "causal_off", vec!["--no-causal-mask"]),
        ("bert_headless", "padded", vec!["--pad-to", "24"]),
        (
            "bert_headless",
            "padded_unmasked",
            vec!["--pad-to", "24", "--no-padding-mask"],
        ),
    ] {
        let index = cases
            .iter()
            .position(|c| c["fixture"] == fixture && c["what"] == what)
            .expect("case");
        let (ok, json, stderr) = trace_cli(fixture, text, &flags);
        assert!(ok, "{fixture} {what}: {stderr}");
        let (shape, data) = common::flatten(&json["hidden_states"]);
        let error = common::max_abs_error(
            what,
            &data,
            &shape,
            &reference[&format!("{index}.hidden_states")],
        );
        assert!(error <= 1e-4, "{fixture} {what}: {error}");
    }
    for (flags, says) in [
        (vec!["--ablate", "0:1"], "layer:head pairs counted from 1"),
        (vec!["--ablate", "3:1"], "there is no head 3:1"),
        (vec!["--pad-to", "30"], "the padding demo needs an encoder"),
    ] {
        let (ok, _, stderr) = trace_cli("gpt2", text, &flags);
        assert!(!ok && stderr.contains(says), "{flags:?}: {stderr}");
    }
}

#[test]
fn head_importance_is_the_drop_in_log_p_when_one_head_is_off() {
    let mut model = model("gpt2");
    let ids = model
        .tokenize("Hello world, the cat sat")
        .expect("tokenize")
        .ids;
    let importance = model.head_importance(&ids, None, None).expect("importance");
    let last = ids.len() - 1;
    assert_eq!(importance.position, last);
    let log_p = |model: &Model| -> f32 {
        let logits = model.trace(&ids).expect("trace").logits.expect("logits");
        let row = logits.row(&[last]).expect("row");
        let top = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = row.iter().map(|x| (x - top).exp()).sum();
        row[importance.target_id as usize] - top - sum.ln()
    };
    assert!((log_p(&model) - importance.log_probability).abs() < 1e-4);
    // Every head: the map reruns only the blocks from the head's on, so a wrong start shows.
    for (layer, head) in (0..2).flat_map(|layer| (0..4).map(move |head| (layer, head))) {
        model
            .set_interventions(Interventions {
                ablated: vec![HeadId { layer, head }],
                ..Interventions::default()
            })
            .expect("ablate");
        let drop = importance.log_probability - log_p(&model);
        let ours = importance.drops[layer][head];
        assert!(
            (drop - ours).abs() < 1e-4,
            "{layer}:{head}: {ours} vs {drop}"
        );
    }
    // On top of the lab: with head 1:3 off, its own drop is 0 (switching it off again changes nothing).
    model
        .set_interventions(Interventions {
            ablated: vec![HeadId { layer: 0, head: 2 }],
            ..Interventions::default()
        })
        .expect("ablate");
    let on_top = model
        .head_importance(&ids, None, Some(importance.target_id))
        .expect("importance");
    assert_eq!(on_top.drops[0][2], 0.0);
}
