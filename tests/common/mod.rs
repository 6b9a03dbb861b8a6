//! Shared by the native and the wasm tests: fixtures are compiled in with `include_bytes!`, so
//! the same checks run in both places.
#![allow(dead_code)]
use std::collections::HashMap;

use attention_explorer::engine::{Array, Model, TextTokenizer};
use candle_core::{Device, IndexOp, Tensor};

/// The largest error any compared field may have.
pub const TOLERANCE: f32 = 1e-4;

/// The files of one fixture folder.
pub struct FixtureFiles {
    pub name: &'static str,
    pub config: &'static [u8],
    pub tokenizer: &'static [u8],
    pub model: &'static [u8],
    pub reference_json: &'static [u8],
    pub reference_tensors: &'static [u8],
}

/// The bytes of one file of a fixture folder under tests/fixtures, compiled in.
#[macro_export]
macro_rules! fixture_file {
    ($name:literal, $file:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/",
            $name,
            "/",
            $file
        ))
    };
}

/// Compiles a fixture folder under tests/fixtures into the test binary.
#[macro_export]
macro_rules! fixture {
    ($name:literal) => {
        common::FixtureFiles {
            name: $name,
            config: fixture_file!($name, "config.json"),
            tokenizer: fixture_file!($name, "tokenizer.json"),
            model: fixture_file!($name, "model.safetensors"),
            reference_json: fixture_file!($name, "reference.json"),
            reference_tensors: fixture_file!($name, "reference.safetensors"),
        }
    };
}

/// Compiles a GGUF fixture folder (model.gguf + references) into the test binary; the file
/// carries its own config and tokenizer.
#[macro_export]
macro_rules! gguf_fixture {
    ($name:literal) => {
        common::FixtureFiles {
            name: $name,
            config: b"",
            tokenizer: b"",
            model: fixture_file!($name, "model.gguf"),
            reference_json: fixture_file!($name, "reference.json"),
            reference_tensors: fixture_file!($name, "reference.safetensors"),
        }
    };
}

/// A loaded fixture: our model plus transformers' reference outputs.
pub struct Fixture {
    pub name: &'static str,
    pub model: Model,
    pub meta: serde_json::Value,
    pub reference: HashMap<String, Tensor>,
}

impl FixtureFiles {
    pub fn load(&self) -> Fixture {
        let model = if attention_explorer::engine::is_gguf(self.model) {
            Model::from_gguf(self.model)
        } else {
            Model::from_bytes(self.config, self.tokenizer, self.model)
        }
        .unwrap_or_else(|e| panic!("{}: cannot load: {e}", self.name));
        let meta = serde_json::from_slice(self.reference_json).expect("reference.json");
        let reference = candle_core::safetensors::load_buffer(self.reference_tensors, &Device::Cpu)
            .expect("reference.safetensors");
        Fixture {
            name: self.name,
            model,
            meta,
            reference,
        }
    }
}

impl Fixture {
    pub fn texts(&self) -> &Vec<serde_json::Value> {
        self.meta["texts"].as_array().expect("texts")
    }

    pub fn reference(&self, text: usize, field: &str) -> &Tensor {
        self.reference
            .get(&format!("{text}.{field}"))
            .unwrap_or_else(|| panic!("{}: no reference {text}.{field}", self.name))
    }

    pub fn has_reference(&self, text: usize, field: &str) -> bool {
        self.reference.contains_key(&format!("{text}.{field}"))
    }

    pub fn ids(&self, text: usize) -> Vec<u32> {
        self.texts()[text]["input_ids"]
            .as_array()
            .expect("input_ids")
            .iter()
            .map(|v| v.as_u64().expect("id") as u32)
            .collect()
    }
}

/// Max |ours − reference| over all elements; equal infinities count as 0, a NaN or an
/// infinity on one side only as infinite error. Panics on a shape mismatch.
pub fn max_abs_error(field: &str, ours: &[f32], our_shape: &[usize], reference: &Tensor) -> f32 {
    assert_eq!(
        our_shape,
        reference.dims(),
        "{field}: shape differs from the reference"
    );
    let expected = reference
        .flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .expect("reference values");
    ours.iter()
        .zip(&expected)
        .map(|(&a, &b)| {
            if a == b {
                0.0
            } else if a.is_finite() && b.is_finite() {
                (a - b).abs()
            } else {
                f32::INFINITY
            }
        })
        .fold(0.0, f32::max)
}

/// Compares an engine array with a reference tensor and records the error.
pub fn compare_array(
    errors: &mut Vec<(String, f32)>,
    field: &str,
    ours: &Array,
    reference: &Tensor,
) {
    errors.push((
        field.to_string(),
        max_abs_error(field, &ours.data, &ours.shape, reference),
    ));
}

/// Compares every traced field, prediction, lens row and saliency of a fixture with the
/// reference; returns the max error per field (every entry must be ≤ TOLERANCE).
pub fn check_fixture(fixture: &Fixture) -> Vec<(String, f32)> {
    check_anatomy(fixture);
    let mut errors: Vec<(String, f32)> = Vec::new();
    for (i, text) in fixture.texts().iter().enumerate() {
        let ids = fixture.ids(i);
        let tokenized = fixture
            .model
            .tokenize(text["text"].as_str().expect("text"))
            .expect("tokenize");
        assert_eq!(
            tokenized.ids, ids,
            "{}: token ids of text {i}",
            fixture.name
        );

        let trace = fixture.model.trace(&ids).expect("trace");
        let masked_scores = trace.masked_scores();
        for (field, ours) in [
            ("attentions", &trace.page.attentions),
            ("scores", &trace.attention.scores),
            ("masked_scores", &masked_scores),
            ("q", &trace.attention.q),
            ("k", &trace.attention.k),
            ("v", &trace.attention.v),
            ("head_outputs", &trace.attention.head_outputs),
            ("attention_outputs", &trace.attention.attention_output),
            ("hidden_states", &trace.page.hidden_states),
        ]
        .into_iter()
        .chain(trace.feed_forward.named_fields())
        {
            compare_array(&mut errors, field, ours, fixture.reference(i, field));
        }
        if !fixture.has_reference(i, "logits") {
            assert!(
                trace.logits.is_none(),
                "{}: a headless model produced logits",
                fixture.name
            );
            continue;
        }
        let logits = trace.logits.as_ref().expect("logits");
        compare_array(
            &mut errors,
            "logits",
            logits,
            fixture.reference(i, "logits"),
        );

        let lens_reference = fixture.reference(i, "lens_logits");
        for position in 0..ids.len() {
            let ours = fixture.model.lens_logits(&ids, position).expect("lens");
            let ours = attention_explorer::engine::to_array(&ours).expect("lens array");
            let expected = lens_reference.i((.., position, ..)).expect("lens row");
            compare_array(&mut errors, "lens_logits", &ours, &expected);
        }

        let request = &text["saliency"];
        let position = request["position"].as_u64().expect("position") as usize;
        let target = request["target_id"].as_u64().expect("target") as u32;
        let saliency = fixture
            .model
            .saliency(&ids, Some(position), Some(target))
            .expect("saliency");
        let reference = fixture.reference(i, "saliency");
        errors.push((
            "saliency".into(),
            max_abs_error("saliency", &saliency.scores, &[ids.len()], reference),
        ));

        check_rankings(fixture, i, &mut errors);

        let default = &text["default_saliency"];
        let chosen = fixture
            .model
            .saliency(&ids, None, None)
            .expect("default saliency");
        assert_eq!(
            chosen.position as u64,
            default["position"].as_u64().expect("p"),
            "{}: default position",
            fixture.name
        );
        assert_eq!(
            chosen.target_id as u64,
            default["target_id"].as_u64().expect("t"),
            "{}: default target",
            fixture.name
        );
    }
    errors
}

/// The rankings grid and surprisal of text `i` against ranks and log-softmax computed by
/// transformers (and, for a watched word, ranks counted here from transformers' lens logits).
fn check_rankings(fixture: &Fixture, i: usize, errors: &mut Vec<(String, f32)>) {
    let ids = fixture.ids(i);
    let word = fixture.model.tokenizer.token_text(ids[ids.len() / 2]);
    let rankings = fixture.model.rankings(&ids, &[word]).expect("rankings");
    let grid = |ranks: &[Vec<u32>]| Array {
        shape: vec![ranks.len(), ranks.first().map_or(0, Vec::len)],
        data: ranks.iter().flatten().map(|&r| r as f32).collect(),
    };
    let mut compare =
        |field: &str, ours: Array| compare_array(errors, field, &ours, fixture.reference(i, field));
    compare("lens_ranks_of_prediction", grid(&rankings.prediction_ranks));
    let causal = fixture.has_reference(i, "surprisal");
    assert_eq!(
        rankings.surprisal.is_some(),
        causal,
        "{}: surprisal",
        fixture.name
    );
    if let (Some(next), Some(surprisal)) = (&rankings.next_token_ranks, &rankings.surprisal) {
        compare("lens_ranks_of_next_token", grid(next));
        let shape = vec![surprisal.len()];
        compare(
            "surprisal",
            Array {
                shape,
                data: surprisal.clone(),
            },
        );
    }
    let watched = &rankings.watched[0];
    let lens = fixture.reference(i, "lens_logits");
    let expected: Vec<f32> = (0..lens.dim(0).expect("streams"))
        .flat_map(|stream| {
            (0..ids.len()).map(move |position| {
                let row: Vec<f32> = lens
                    .i((stream, position))
                    .and_then(|r| r.to_vec1())
                    .expect("row");
                let target = row[watched.token.token_id as usize];
                1.0 + row.iter().filter(|&&x| x > target).count() as f32
            })
        })
        .collect();
    let ours = grid(&watched.ranks);
    errors.push((
        "watched_ranks".into(),
        max_abs_error(
            "watched_ranks",
            &ours.data,
            &ours.shape,
            &Tensor::new(expected, &Device::Cpu)
                .expect("t")
                .reshape(ours.shape.clone())
                .expect("shape"),
        ),
    ));
}

/// The anatomy's total against transformers' `sum(p.numel() for p in model.parameters())`
/// (tied matrices once), with every weight in a named part but BERT's pooler. transformers
/// also counts Marian's sinusoidal position tables (frozen `nn.Embedding`s), which are a
/// formula, not weights in the file.
pub fn check_anatomy(fixture: &Fixture) {
    let anatomy = &fixture.model.anatomy;
    let config = &fixture.model.config;
    let sinusoidal_tables = match config.architecture {
        attention_explorer::engine::Architecture::Marian => {
            2 * config.max_positions * config.d_model
        }
        _ => 0,
    };
    let expected = fixture.meta["parameters"].as_u64().expect("parameters") as usize;
    assert_eq!(
        anatomy.total() + sinusoidal_tables,
        expected,
        "{}: parameters",
        fixture.name
    );
    assert_eq!(anatomy.total(), fixture.model.parameter_count);
    for weight in &anatomy.weights {
        let pooler = weight.name.starts_with("pooler.");
        assert_eq!(
            weight.part == attention_explorer::engine::ModelPart::Other,
            pooler,
            "{}: the part of {}",
            fixture.name,
            weight.name
        );
    }
}

/// Reduces per-call errors to the max per field, in first-seen order.
pub fn max_per_field(errors: &[(String, f32)]) -> Vec<(String, f32)> {
    let mut fields: Vec<(String, f32)> = Vec::new();
    for (field, error) in errors {
        match fields.iter_mut().find(|(f, _)| f == field) {
            Some(entry) => entry.1 = entry.1.max(*error),
            None => fields.push((field.clone(), *error)),
        }
    }
    fields
}

/// Asserts every field is within TOLERANCE, printing the table either way.
pub fn assert_within_tolerance(name: &str, errors: &[(String, f32)]) {
    let fields = max_per_field(errors);
    for (field, error) in &fields {
        println!("{name:>18} {field:<18} max abs error {error:.3e}");
    }
    let failing: Vec<_> = fields
        .iter()
        .filter(|(_, e)| e.is_nan() || *e > TOLERANCE)
        .collect();
    assert!(
        failing.is_empty(),
        "{name}: fields over {TOLERANCE}: {failing:?}"
    );
}

/// Attention rows sum to 1 and, for decoders, keys after the query get exactly 0.
pub fn check_attention_properties(name: &str, attentions: &Array, causal: bool) {
    let [layers, heads, queries, keys] = attentions.shape[..] else {
        panic!("{name}: rank")
    };
    for row_index in 0..layers * heads * queries {
        let row = &attentions.data[row_index * keys..(row_index + 1) * keys];
        let sum: f64 = row.iter().map(|&p| p as f64).sum();
        assert!(
            (sum - 1.0).abs() < 1e-5,
            "{name}: attention row {row_index} sums to {sum}"
        );
        assert!(
            row.iter().all(|p| (0.0..=1.0).contains(p)),
            "{name}: probability out of [0, 1]"
        );
        let query = row_index % queries;
        if causal {
            assert!(
                row[query + 1..].iter().all(|&p| p == 0.0),
                "{name}: row {row_index} sees the future"
            );
        } else {
            assert!(
                row.iter().all(|&p| p > 0.0),
                "{name}: an encoder row has a zero weight"
            );
        }
    }
}

/// Nested JSON number lists → (shape, row-major values); null (−∞ in the trace) becomes −∞.
pub fn flatten(value: &serde_json::Value) -> (Vec<usize>, Vec<f32>) {
    fn walk(value: &serde_json::Value, depth: usize, shape: &mut Vec<usize>, data: &mut Vec<f32>) {
        match value {
            serde_json::Value::Array(items) => {
                if shape.len() == depth {
                    shape.push(items.len());
                }
                items
                    .iter()
                    .for_each(|item| walk(item, depth + 1, shape, data));
            }
            serde_json::Value::Null => data.push(f32::NEG_INFINITY),
            number => data.push(number.as_f64().expect("number") as f32),
        }
    }
    let (mut shape, mut data) = (Vec::new(), Vec::new());
    walk(value, 0, &mut shape, &mut data);
    (shape, data)
}

/// xorshift64*.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u32) -> u32 {
        (self.next() % n as u64) as u32
    }
}

/// A random string of 1–40 characters drawn from ranges that break naive text handling.
pub fn random_text(rng: &mut Rng) -> String {
    const RANGES: [(u32, u32); 10] = [
        (0x20, 0x7e),       // ASCII
        (0x00, 0x1f),       // control characters
        (0xa0, 0x24f),      // Latin-1 and extended Latin
        (0x300, 0x36f),     // combining marks
        (0x590, 0x6ff),     // Hebrew, Arabic (right-to-left)
        (0x200b, 0x200f),   // zero-width and direction marks
        (0x4e00, 0x9fff),   // CJK
        (0x1f300, 0x1faff), // emoji
        (0xfe00, 0xfe0f),   // variation selectors
        (0x10000, 0x10ffff),
    ];
    let length = 1 + rng.below(40);
    (0..length)
        .filter_map(|_| {
            let (low, high) = RANGES[rng.below(RANGES.len() as u32) as usize];
            char::from_u32(low + rng.below(high - low + 1))
        })
        .collect()
}

/// Checks the byte-level round trip on `cases` random strings.
pub fn check_round_trip(tokenizer: &TextTokenizer, cases: usize, seed: u64) {
    let mut rng = Rng(seed);
    for case in 0..cases {
        let text = random_text(&mut rng);
        let ids = tokenizer.encode(&text).expect("encode").ids;
        let back = tokenizer.decode(&ids).expect("decode");
        assert_eq!(back, text, "case {case}: {text:?} → {ids:?} → {back:?}");
    }
}

/// English phrases left in a Chinese message: two ASCII words in a row (a space between them),
/// outside what the message quotes — `code`, and a library's own detail in （…）. Names such as
/// "config.json 和 BERT" are single words between Chinese text, so they pass.
pub fn english_phrases(chinese: &str) -> Vec<String> {
    let mut unquoted = String::new();
    let (mut in_code, mut depth) = (false, 0usize);
    for c in chinese.chars() {
        match c {
            '`' => in_code = !in_code,
            '（' => depth += 1,
            '）' => depth = depth.saturating_sub(1),
            _ if in_code || depth > 0 => {}
            _ => unquoted.push(c),
        }
        if in_code || depth > 0 || matches!(c, '`' | '（' | '）') {
            unquoted.push('|');
        }
    }
    let is_word_char = |c: char| c.is_ascii_alphanumeric() || "_.-'/".contains(c);
    let has_letter = |word: &str| word.chars().any(|c| c.is_ascii_alphabetic());
    let mut phrases = Vec::new();
    let mut previous: Option<&str> = None;
    let mut rest = unquoted.as_str();
    while let Some(start) = rest.find(is_word_char) {
        let gap = &rest[..start];
        let word_len = rest[start..]
            .find(|c| !is_word_char(c))
            .unwrap_or(rest.len() - start);
        let word = &rest[start..start + word_len];
        if let Some(before) = previous {
            if !gap.is_empty()
                && gap.chars().all(|c| c == ' ')
                && has_letter(before)
                && has_letter(word)
            {
                phrases.push(format!("{before} {word}"));
            }
        }
        previous = Some(word);
        rest = &rest[start + word_len..];
    }
    phrases
}

// After the macros, which they use.
pub mod appended;
pub mod cut;
