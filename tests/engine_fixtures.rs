//! The engine against Hugging Face transformers' reference outputs (tests/fixtures, made by
//! tools/make_fixtures.py), plus properties that must hold for any input.
mod common;

use attention_explorer::engine::{
    sinusoidal_position_encoding, Damage, EngineError, Model, ModelFile, Predictions, WeightsDamage,
};

fn gpt2() -> common::Fixture {
    fixture!("gpt2").load()
}
fn gpt2_hub() -> common::Fixture {
    fixture!("gpt2_hub_odd_f16").load()
}
fn distilbert() -> common::Fixture {
    fixture!("distilbert").load()
}
fn bert_mlm() -> common::Fixture {
    fixture!("bert_mlm_odd").load()
}
fn bert_headless() -> common::Fixture {
    fixture!("bert_headless").load()
}

#[test]
fn gpt2_prefixed_layout_matches_transformers() {
    let fixture = gpt2();
    common::assert_within_tolerance(fixture.name, &common::check_fixture(&fixture));
}

#[test]
fn gpt2_hub_layout_with_odd_heads_and_f16_weights_matches_transformers() {
    let fixture = gpt2_hub();
    let config = &fixture.model.config;
    assert_eq!(config.d_head(), 5, "the fixture must keep an odd head size");
    // Weights only: the file's h.N.attn.bias mask buffers are not parameters.
    let (d, vocab, positions) = (config.d_model, config.vocab_size, config.max_positions);
    let per_block = 12 * d * d + 13 * d;
    assert_eq!(
        fixture.model.parameter_count,
        vocab * d + positions * d + config.n_layer * per_block + 2 * d
    );
    common::assert_within_tolerance(fixture.name, &common::check_fixture(&fixture));
}

#[test]
fn distilbert_with_tied_projector_and_bf16_weights_matches_transformers() {
    let fixture = distilbert();
    common::assert_within_tolerance(fixture.name, &common::check_fixture(&fixture));
}

#[test]
fn bert_mlm_with_gamma_beta_names_matches_transformers() {
    let fixture = bert_mlm();
    common::assert_within_tolerance(fixture.name, &common::check_fixture(&fixture));
}

#[test]
fn headless_bert_matches_transformers_and_refuses_predictions() {
    let fixture = bert_headless();
    common::assert_within_tolerance(fixture.name, &common::check_fixture(&fixture));
    let ids = fixture.ids(0);
    assert!(!fixture.model.has_prediction_head());
    for err in [
        fixture.model.predict(&ids, 5, 1.0).err(),
        fixture.model.saliency(&ids, None, None).err(),
        fixture.model.logit_lens(&ids, Some(0), 5).err(),
    ] {
        let err = err.expect("a headless model must refuse");
        assert_eq!(
            err,
            EngineError::NoPredictionHead {
                architecture: "BERT".into()
            }
        );
        assert!(
            err.to_string()
                .contains("this model has no prediction head"),
            "{err}"
        );
    }
}

/// softmax(logits / T) of a reference row, computed independently in f64.
fn reference_probabilities(logits: &[f32], temperature: f64) -> Vec<f64> {
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x)) as f64;
    let exps: Vec<f64> = logits
        .iter()
        .map(|&x| ((x as f64 - max) / temperature).exp())
        .collect();
    let sum: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

fn check_candidates(
    fixture: &common::Fixture,
    text: usize,
    position: usize,
    temperature: f64,
    candidates: &[attention_explorer::engine::Candidate],
) {
    let logits = fixture.reference(text, "logits");
    let row: Vec<f32> = logits.get(position).and_then(|r| r.to_vec1()).expect("row");
    let expected = reference_probabilities(&row, temperature);
    let mut order: Vec<usize> = (0..row.len()).collect();
    order.sort_by(|&a, &b| expected[b].total_cmp(&expected[a]));
    assert_eq!(candidates.len(), 5);
    for (candidate, &id) in candidates.iter().zip(&order) {
        assert_eq!(
            candidate.token_id as usize, id,
            "{}: candidate order at {position}",
            fixture.name
        );
        assert!(
            (candidate.probability as f64 - expected[id]).abs() < 1e-5,
            "{}: probability",
            fixture.name
        );
        assert!((candidate.logit - row[id]).abs() < common::TOLERANCE);
        assert_eq!(
            candidate.token,
            fixture.model.tokenizer.display_token(id as u32)
        );
    }
}

#[test]
fn gpt2_next_token_predictions_with_temperature_match_reference_logits() {
    let fixture = gpt2();
    for text in 0..fixture.texts().len() {
        let ids = fixture.ids(text);
        for temperature in [1.0f32, 0.7, 2.0] {
            let Predictions::NextToken(next) = fixture
                .model
                .predict(&ids, 5, temperature)
                .expect("predict")
            else {
                panic!("GPT-2 must predict the next token")
            };
            assert_eq!(next.position, ids.len() - 1);
            check_candidates(
                &fixture,
                text,
                next.position,
                temperature as f64,
                &next.candidates,
            );
        }
    }
    assert_eq!(
        fixture.model.predict(&fixture.ids(0), 5, 0.0).err(),
        Some(EngineError::BadTemperature { temperature: 0.0 }),
        "temperature 0 must be refused"
    );
    assert!(
        matches!(
            fixture.model.predict(&fixture.ids(0), 5, f32::NAN),
            Err(EngineError::BadTemperature { temperature }) if temperature.is_nan()
        ),
        "NaN temperature must be refused"
    );
}

#[test]
fn masked_lm_fills_every_mask_and_requires_one() {
    for fixture in [distilbert(), bert_mlm()] {
        for text in 0..fixture.texts().len() {
            let ids = fixture.ids(text);
            let (_, mask_id) = fixture.model.tokenizer.mask_token().expect("mask token");
            let masks: Vec<usize> = ids
                .iter()
                .enumerate()
                .filter(|(_, &id)| id == mask_id)
                .map(|(i, _)| i)
                .collect();
            let Predictions::MaskFill(fills) =
                fixture.model.predict(&ids, 5, 1.0).expect("predict")
            else {
                panic!("a masked LM must fill masks")
            };
            assert_eq!(fills.iter().map(|f| f.position).collect::<Vec<_>>(), masks);
            for fill in &fills {
                check_candidates(&fixture, text, fill.position, 1.0, &fill.candidates);
            }
        }
        let no_mask = fixture
            .model
            .tokenize("the cat sat on the mat.")
            .expect("tokenize");
        let err = fixture
            .model
            .predict(&no_mask.ids, 5, 1.0)
            .expect_err("no mask must be refused");
        assert_eq!(
            err,
            EngineError::NoMask {
                mask: "[MASK]".into()
            }
        );
        assert_eq!(err.to_string(), "Input must include the mask token [MASK]");
    }
}

#[test]
fn logit_lens_ranks_the_final_prediction_first_at_the_last_layer() {
    for fixture in [gpt2(), gpt2_hub(), distilbert(), bert_mlm()] {
        let ids = fixture.ids(0);
        let lens = fixture.model.logit_lens(&ids, None, 3).expect("lens");
        assert_eq!(lens.layers.len(), fixture.model.config.n_layer + 1);
        let last = lens.layers.last().expect("last layer");
        assert_eq!(last.final_token_rank, 1, "{}", fixture.name);
        assert_eq!(last.top[0].token_id, lens.final_token_id);
        let reference = fixture.reference(0, "lens_logits");
        for layer in &lens.layers {
            let row: Vec<f32> = reference
                .get(layer.layer)
                .and_then(|l| l.get(lens.position))
                .and_then(|r| r.to_vec1())
                .expect("row");
            let final_logit = row[lens.final_token_id as usize];
            let expected_rank = 1 + row.iter().filter(|&&x| x > final_logit).count();
            assert_eq!(
                layer.final_token_rank, expected_rank,
                "{}: rank at layer {}",
                fixture.name, layer.layer
            );
            let best = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i)
                .expect("max");
            assert_eq!(
                layer.top[0].token_id as usize, best,
                "{}: lens top-1 at layer {}",
                fixture.name, layer.layer
            );
        }
    }
}

#[test]
fn saliency_shares_sum_to_one_and_bad_requests_are_errors() {
    let fixture = gpt2();
    let ids = fixture.ids(0);
    let saliency = fixture.model.saliency(&ids, None, None).expect("saliency");
    let total: f32 = saliency.scores.iter().sum();
    assert!((total - 1.0).abs() < 1e-5, "shares sum to {total}");
    assert!(saliency.scores.iter().all(|&s| s >= 0.0));
    assert_eq!(
        fixture.model.saliency(&ids, Some(ids.len()), None).err(),
        Some(EngineError::PositionOutOfRange {
            position: ids.len(),
            tokens: ids.len()
        }),
        "position past the end"
    );
    assert_eq!(
        fixture.model.saliency(&ids, None, Some(1_000_000)).err(),
        Some(EngineError::TargetOutOfVocabulary {
            id: 1_000_000,
            vocab: fixture.model.config.vocab_size
        }),
        "target outside the vocabulary"
    );
}

#[test]
fn attention_rows_sum_to_one_and_decoders_never_see_the_future() {
    // Pseudo-random inputs of many lengths, including a single token and the maximum.
    let mut state = 12345u64;
    let mut next = move |bound: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize % bound
    };
    for fixture in [
        gpt2(),
        gpt2_hub(),
        distilbert(),
        bert_mlm(),
        bert_headless(),
    ] {
        let config = &fixture.model.config;
        for length in [1, 2, 7, config.max_positions] {
            let ids: Vec<u32> = (0..length)
                .map(|_| next(fixture.model.tokenizer.vocab_size()) as u32)
                .collect();
            let trace = fixture.model.trace(&ids).expect("trace");
            common::check_attention_properties(
                fixture.name,
                &trace.page.attentions,
                config.architecture.is_causal(),
            );
            if config.architecture.is_causal() {
                let masked_scores = trace.masked_scores();
                let [_, _, n, _] = masked_scores.shape[..] else {
                    panic!()
                };
                for (i, &score) in masked_scores.data.iter().enumerate() {
                    let (query, key) = ((i / n) % n, i % n);
                    assert_eq!(
                        score == f32::NEG_INFINITY,
                        key > query,
                        "mask at ({query}, {key})"
                    );
                }
            }
        }
    }
}

#[test]
fn inputs_the_model_cannot_read_are_errors_not_panics() {
    let fixture = gpt2();
    let model = &fixture.model;
    let too_long: Vec<u32> = vec![1; model.config.max_positions + 1];
    let err = model.trace(&too_long).expect_err("too long");
    assert_eq!(
        err,
        EngineError::TextTooLong {
            tokens: too_long.len(),
            max: model.config.max_positions
        }
    );
    assert!(err.to_string().contains("reads at most"), "{err}");
    assert_eq!(model.trace(&[]).err(), Some(EngineError::TextEmpty));
    let err = model
        .trace(&[model.config.vocab_size as u32])
        .expect_err("id out of range");
    assert_eq!(
        err,
        EngineError::TokenOutOfVocabulary {
            id: model.config.vocab_size as u32,
            vocab: model.config.vocab_size
        }
    );
    assert!(
        err.to_string().contains("outside the model's vocabulary"),
        "{err}"
    );
}

#[test]
fn missing_or_misshapen_tensors_name_the_tensor_and_shapes() {
    let files = fixture!("gpt2");
    let tensors = candle_core::safetensors::load_buffer(files.model, &candle_core::Device::Cpu)
        .expect("weights");

    let mut missing = tensors.clone();
    missing.remove("transformer.h.1.mlp.c_fc.weight");
    let bytes = safetensors_bytes(&missing);
    let err = Model::from_bytes(files.config, files.tokenizer, &bytes)
        .err()
        .expect("missing tensor");
    assert!(
        matches!(&err, EngineError::DamagedFile { file: ModelFile::Weights, damage: Damage::Weights(WeightsDamage::MissingTensor { tensor }) } if tensor.contains("h.1.mlp.c_fc.weight")),
        "{err}"
    );

    let mut wrong = tensors.clone();
    wrong.insert(
        "transformer.ln_f.weight".into(),
        candle_core::Tensor::zeros(7, candle_core::DType::F32, &candle_core::Device::Cpu)
            .expect("t"),
    );
    let err = Model::from_bytes(files.config, files.tokenizer, &safetensors_bytes(&wrong))
        .err()
        .expect("bad shape");
    let message = err.to_string();
    assert!(
        message.contains("ln_f.weight") && message.contains("[32]") && message.contains("[7]"),
        "{message}"
    );

    let err = Model::from_bytes(b"{\"model_type\": \"mt5\"}", files.tokenizer, files.model)
        .err()
        .expect("mt5");
    assert!(
        matches!(&err, EngineError::UnsupportedArchitecture { model_type, .. } if model_type == "mt5"),
        "{err}"
    );
    assert!(err.to_string().contains("not supported"), "{err}");
    let err = Model::from_bytes(files.config, files.tokenizer, &files.model[..100])
        .err()
        .expect("truncated");
    assert!(
        matches!(
            err,
            EngineError::DamagedFile {
                file: ModelFile::Weights,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().starts_with("model.safetensors"), "{err}");
}

fn safetensors_bytes(tensors: &std::collections::HashMap<String, candle_core::Tensor>) -> Vec<u8> {
    let path = std::env::temp_dir().join(format!("ae-test-{}.safetensors", std::process::id()));
    candle_core::safetensors::save(tensors, &path).expect("save");
    let bytes = std::fs::read(&path).expect("read back");
    let _ = std::fs::remove_file(&path);
    bytes
}

#[test]
fn tokens_are_displayed_as_what_they_stand_for() {
    let gpt2 = gpt2();
    let tokens = gpt2.model.tokenize("Hello world").expect("tokenize").tokens;
    assert!(
        tokens.iter().any(|t| t.starts_with('␣')),
        "GPT-2's leading space must show: {tokens:?}"
    );
    assert_eq!(tokens.concat().replace('␣', " "), "Hello world");
    let bert = bert_headless();
    let tokenized = bert.model.tokenize("The cat, helo").expect("tokenize");
    assert_eq!(
        tokenized.tokens,
        ["[CLS]", "the", "cat", ",", "h", "##e", "##l", "##o", "[SEP]"]
    );
    assert_eq!(
        tokenized.special,
        [true, false, false, false, false, false, false, false, true]
    );
    assert_eq!(
        tokenized.offsets[2],
        (4, 7),
        "byte offsets into the original text"
    );
    // That fixture's tokenizer.json pads to 32 and truncates; the engine must not.
    let long = "word ".repeat(40);
    assert!(bert.model.tokenize(&long).expect("tokenize").ids.len() > 32);
}

#[test]
fn sinusoidal_encoding_follows_the_paper() {
    for d_model in [4usize, 7, 16] {
        let pe = sinusoidal_position_encoding(50, d_model).expect("pe");
        assert_eq!(pe.shape, [50, d_model]);
        for pos in 0..50 {
            for dim in 0..d_model {
                let pair = (dim / 2) as f64;
                let angle = pos as f64 / 10000f64.powf(2.0 * pair / d_model as f64);
                let expected = if dim % 2 == 0 {
                    angle.sin()
                } else {
                    angle.cos()
                };
                let got = pe.data[pos * d_model + dim] as f64;
                assert!(
                    (got - expected).abs() < 1e-6,
                    "PE({pos}, {dim}) = {got}, expected {expected}"
                );
            }
        }
    }
    assert!(matches!(
        sinusoidal_position_encoding(0, 8),
        Err(EngineError::BadRequest { .. })
    ));
}
