//! The encoder–decoders (T5, BART, Marian) against transformers' reference outputs
//! (tests/fixtures/{t5,bart,marian}, made by tools/make_seq2seq_fixtures.py): every field of
//! the trace of each (source, target) pair within 1e-4.
mod common;

use attention_explorer::engine::{
    AttentionInternals, AttentionKind, Decoding, EncoderDecoderTrace, EngineError, Model,
    SamplingSettings,
};

/// How many tokens the fixtures' `generate` references wrote.
const GENERATED_TOKENS: usize = 8;

fn pairs(fixture: &common::Fixture) -> &Vec<serde_json::Value> {
    fixture.meta["pairs"].as_array().expect("pairs")
}

fn ids(pair: &serde_json::Value, field: &str) -> Vec<u32> {
    pair[field]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_u64().expect("id") as u32)
        .collect()
}

/// The trace's fields by the reference's names for one kind of attention.
fn kind_fields<'a>(
    prefix: &str,
    internals: &'a AttentionInternals<attention_explorer::engine::Array>,
) -> Vec<(String, &'a attention_explorer::engine::Array)> {
    [
        ("q", &internals.q),
        ("k", &internals.k),
        ("v", &internals.v),
        ("scores", &internals.scores),
        ("head_outputs", &internals.head_outputs),
        ("attention_outputs", &internals.attention_output),
    ]
    .into_iter()
    .map(|(name, array)| (format!("{prefix}_{name}"), array))
    .collect()
}

/// Every traced field of every pair against the reference; the max error per field.
fn check_pairs(fixture: &common::Fixture) -> Vec<(String, f32)> {
    common::check_anatomy(fixture);
    let mut errors = Vec::new();
    for (i, pair) in pairs(fixture).iter().enumerate() {
        let (source_ids, target_ids) = (ids(pair, "source_ids"), ids(pair, "target_ids"));
        let model = &fixture.model;
        let source = pair["source"].as_str().expect("source");
        let tokenized = model.tokenize(source).expect("tokenize");
        assert_eq!(
            source_ids[..tokenized.ids.len()],
            tokenized.ids,
            "{}: source ids of pair {i}",
            fixture.name
        );
        let target = pair["target"].as_str().expect("target");
        assert_eq!(
            model.target_ids(target).expect("target ids"),
            target_ids,
            "{}: target ids of pair {i}",
            fixture.name
        );
        let trace: EncoderDecoderTrace = model
            .encoder_decoder_trace(&source_ids, &target_ids)
            .expect("trace");
        let masked = [
            ("encoder", trace.masked_scores(AttentionKind::EncoderSelf)),
            ("decoder", trace.masked_scores(AttentionKind::DecoderSelf)),
            ("cross", trace.masked_scores(AttentionKind::Cross)),
        ];
        let mut fields: Vec<(String, &attention_explorer::engine::Array)> = vec![
            ("encoder_attentions".into(), &trace.source.attentions),
            ("decoder_attentions".into(), &trace.target.attentions),
            ("cross_attentions".into(), &trace.cross_attentions),
            ("encoder_hidden_states".into(), &trace.source.hidden_states),
            ("decoder_hidden_states".into(), &trace.target.hidden_states),
            ("logits".into(), &trace.logits),
        ];
        for (prefix, stack) in [("encoder", &trace.source), ("decoder", &trace.target)] {
            let named = stack.feed_forward.named_fields();
            fields.extend(named.into_iter().map(|(n, a)| (format!("{prefix}_{n}"), a)));
        }
        fields.extend(kind_fields("encoder", &trace.source.attention));
        fields.extend(kind_fields("decoder", &trace.target.attention));
        fields.extend(kind_fields("cross", &trace.cross_attention));
        for (kind, array) in &masked {
            fields.push((format!("{kind}_masked_scores"), array));
        }
        for (stack, side) in [("encoder", &trace.source), ("decoder", &trace.target)] {
            if let Some(bias) = &side.position_bias {
                fields.push((format!("{stack}_position_bias"), bias));
            }
            if let Some(positions) = &side.position_embeddings {
                fields.push((format!("{stack}_position_embeddings"), positions));
            }
        }
        for (field, ours) in fields {
            common::compare_array(&mut errors, &field, ours, fixture.reference(i, &field));
        }
    }
    errors
}

#[test]
fn t5_with_gated_mlp_untied_head_and_a_padded_source_matches_transformers() {
    let fixture = fixture!("t5").load();
    let config = fixture.model.config.encoder_decoder.as_ref().expect("t5");
    assert_ne!(
        fixture.model.config.n_head * config.d_head,
        fixture.model.config.d_model,
        "the fixture must keep heads × d_kv ≠ d_model"
    );
    assert!(
        ids(&pairs(&fixture)[1], "source_ids").contains(&config.pad_token_id),
        "the fixture's second source must be padded"
    );
    let errors = check_pairs(&fixture);
    assert!(errors.iter().any(|(f, _)| f == "encoder_position_bias"));
    common::assert_within_tolerance(fixture.name, &errors);
}

#[test]
fn t5_buckets_by_distance_are_transformers_and_are_what_the_scores_gained() {
    let fixture = fixture!("t5").load();
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("tests/fixtures/t5_buckets.json")
            .expect("tests/fixtures/t5_buckets.json (tools/make_t5_bucket_fixture.py)"),
    )
    .expect("bucket json");
    let pair = &pairs(&fixture)[0];
    let trace = fixture
        .model
        .encoder_decoder_trace(&ids(pair, "source_ids"), &ids(pair, "target_ids"))
        .expect("trace");
    for (stack, bidirectional) in [(&trace.source, true), (&trace.target, false)] {
        let relative = stack
            .relative_positions
            .as_ref()
            .expect("T5 has relative positions");
        let case = reference["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .find(|c| c["config"] == "fixture" && c["bidirectional"] == bidirectional)
            .expect("the fixture's case");
        let expected = |distance: i64| {
            let index = case["distances"]
                .as_array()
                .expect("distances")
                .iter()
                .position(|d| d.as_i64() == Some(distance))
                .expect("distance in the reference");
            case["buckets"][index].as_u64().expect("bucket") as u32
        };
        let last = if bidirectional { 16 } else { 0 };
        assert_eq!(relative.distances, (-16..=last).collect::<Vec<i64>>());
        for (&distance, &bucket) in relative.distances.iter().zip(&relative.buckets) {
            assert_eq!(bucket, expected(distance), "bucket of {distance}");
        }
        // The bias by distance is what every (query, key) of the trace gained.
        let bias = stack.position_bias.as_ref().expect("bias");
        let [heads, queries, keys] = bias.dims().expect("[head, query, key]");
        let cells = (0..heads)
            .flat_map(|h| (0..queries).flat_map(move |q| (0..keys).map(move |k| (h, q, k))));
        for (head, query, key) in cells {
            let distance = key as i64 - query as i64;
            // The decoder's later keys are masked: their distances are not in its table.
            let Some(column) = relative.distances.iter().position(|&d| d == distance) else {
                continue;
            };
            assert_eq!(
                relative.bias.value(&[head, column]),
                bias.value(&[head, query, key]),
                "head {head}, query {query}, key {key}"
            );
        }
    }
}

#[test]
fn bart_with_learned_positions_and_logits_bias_matches_transformers() {
    let fixture = fixture!("bart").load();
    let errors = check_pairs(&fixture);
    assert!(errors
        .iter()
        .any(|(f, _)| f == "encoder_position_embeddings"));
    common::assert_within_tolerance(fixture.name, &errors);
}

#[test]
fn marian_with_sinusoidal_positions_and_scaled_embeddings_matches_transformers() {
    let fixture = fixture!("marian").load();
    common::assert_within_tolerance(fixture.name, &check_pairs(&fixture));
}

#[test]
fn one_text_and_two_text_requests_go_to_the_right_kind_of_model() {
    let t5 = fixture!("t5").load();
    let gpt2 = fixture!("gpt2").load();
    assert!(matches!(
        t5.model.trace(&[1, 2, 3]),
        Err(EngineError::NeedsSource { architecture }) if architecture == "T5"
    ));
    assert!(matches!(
        gpt2.model.encoder_decoder_trace(&[1, 2], &[0]),
        Err(EngineError::NotEncoderDecoder { architecture }) if architecture == "GPT-2"
    ));
    let max = t5.model.config.max_positions;
    let long = vec![3u32; max + 1];
    assert_eq!(
        t5.model.encoder_decoder_trace(&long, &[0]).err(),
        Some(EngineError::SourceTooLong {
            tokens: max + 1,
            max
        })
    );
    assert_eq!(
        t5.model.encoder_decoder_trace(&[3, 1], &long).err(),
        Some(EngineError::TargetTooLong {
            tokens: max + 1,
            max
        })
    );
}

/// The fixture's model with another end token (the early-end references' `eos_token_id`).
fn with_end_token(files: &common::FixtureFiles, fixture: &common::Fixture) -> Model {
    let mut config: serde_json::Value = serde_json::from_slice(files.config).expect("config");
    config["eos_token_id"] = fixture.meta["early_end_token_id"].clone();
    let config = serde_json::to_vec(&config).expect("config");
    Model::from_bytes(&config, files.tokenizer, files.model).expect("model")
}

/// Greedy and beam-3 generation write the ids transformers' `generate` wrote, for every pair of
/// every family, with the model's end token and with one it writes early (so greedy stops and
/// beam search finishes hypotheses before the limit).
#[test]
fn greedy_and_beam_search_write_what_transformers_generate_writes() {
    let mut ended_early = 0;
    for files in [fixture!("t5"), fixture!("bart"), fixture!("marian")] {
        let fixture = files.load();
        let early_end = with_end_token(&files, &fixture);
        for (i, pair) in pairs(&fixture).iter().enumerate() {
            let source_ids = ids(pair, "source_ids");
            for (name, decoding, model) in [
                ("greedy", Decoding::Greedy, &fixture.model),
                ("beam3", Decoding::Beam { width: 3 }, &fixture.model),
                ("greedy_early_end", Decoding::Greedy, &early_end),
                ("beam3_early_end", Decoding::Beam { width: 3 }, &early_end),
            ] {
                let expected: Vec<u32> = fixture
                    .reference(i, name)
                    .to_vec1::<i64>()
                    .expect("ids")
                    .into_iter()
                    .map(|id| id as u32)
                    .collect();
                let written = model
                    .generate(&source_ids, GENERATED_TOKENS, decoding)
                    .expect("generate");
                assert_eq!(written.ids, expected, "{} pair {i} {name}", fixture.name);
                assert_eq!(written.log_probabilities.len(), written.ids.len() - 1);
                if written.finished {
                    ended_early += 1;
                }
            }
        }
    }
    assert!(
        ended_early >= 3,
        "too few references end early: {ended_early}"
    );
}

/// A sampled target is reproducible from its seed, and the width is checked.
#[test]
fn sampling_repeats_with_its_seed_and_beam_width_is_bounded() {
    let fixture = fixture!("marian").load();
    let source = ids(&pairs(&fixture)[0], "source_ids");
    let sample = |seed| Decoding::Sample {
        settings: SamplingSettings {
            temperature: 1.5,
            top_k: 20,
            top_p: 0.95,
        },
        seed,
    };
    let first = fixture
        .model
        .generate(&source, 6, sample(7))
        .expect("sample");
    let again = fixture
        .model
        .generate(&source, 6, sample(7))
        .expect("sample");
    assert_eq!(first, again);
    let greedy = fixture
        .model
        .generate(&source, 6, Decoding::Greedy)
        .expect("greedy");
    assert_ne!(
        first.ids, greedy.ids,
        "a hot sample should leave the greedy path"
    );
    assert_eq!(
        fixture
            .model
            .generate(&source, 6, Decoding::Beam { width: 6 })
            .err(),
        Some(EngineError::BadBeamWidth { width: 6, max: 5 })
    );
}

/// Saliency of the last target position's top token over the source and the target so far
/// equals transformers' autograd (gradient × input, one sum over both sides).
#[test]
fn saliency_over_source_and_target_matches_transformers() {
    for files in [fixture!("t5"), fixture!("bart"), fixture!("marian")] {
        let fixture = files.load();
        let mut errors = Vec::new();
        for (i, pair) in pairs(&fixture).iter().enumerate() {
            let (source, target) = (ids(pair, "source_ids"), ids(pair, "target_ids"));
            let saliency = fixture
                .model
                .pair_saliency(&source, &target, None, None)
                .expect("saliency");
            let expected_id = fixture.reference(i, "saliency_target_id").to_vec1::<i64>();
            assert_eq!(
                saliency.target_id as i64,
                expected_id.expect("id")[0],
                "{} pair {i}: default token",
                fixture.name
            );
            assert_eq!(saliency.position, target.len() - 1);
            let sum: f32 = saliency.source.iter().chain(&saliency.target).sum();
            assert!((sum - 1.0).abs() < 1e-5, "shares sum to {sum}");
            for (field, ours) in [
                ("saliency_source", &saliency.source),
                ("saliency_target", &saliency.target),
            ] {
                let reference = fixture.reference(i, field);
                errors.push((
                    field.to_string(),
                    common::max_abs_error(field, ours, &[ours.len()], reference),
                ));
            }
        }
        common::assert_within_tolerance(fixture.name, &errors);
    }
}
