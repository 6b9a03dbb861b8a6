//! The page's English and Chinese string tables (`crates/app/src/lang/*.json`): the same keys, the same
//! `{placeholders}`, every Chinese string translated, every key the code asks for present and
//! every key used, and no English sentence left hard-coded in `crates/app/src`; and the worker's
//! errors and warnings (worded in `ae_messages`) read in Chinese with no English phrase left.
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use attention_explorer::messages::{
    ConfigDamage as C, Damage, EngineError as E, GgufDamage as G, Lang, ModelFile, ModelWarning,
    Quantity, TokenizerDamage as T, WeightsDamage as W, Work,
};

type Table = BTreeMap<String, String>;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn table(name: &str) -> Table {
    let path = root().join("crates/app/src/lang").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not a JSON object of strings: {e}", path.display()))
}

/// Strings that are the same in both languages (technical names).
const SAME_IN_BOTH: [&str; 1] = ["step.name5"];

/// Punctuation alone, which Chinese writes with its own full-width marks (no characters).
const PUNCTUATION_ONLY: [&str; 1] = ["list.separator"];

/// Literal text allowed in `crates/app/src` although it reads as English: names and code (the embed
/// snippet's script, the CSSOM shim's JavaScript).
const ALLOWED_LITERALS: [&str; 4] = [
    "Attention Explorer",
    "Hugging Face Hub",
    "addEventListener",
    "Element.prototype.setAttribute",
];

fn placeholders(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        found.insert(rest[start + 1..start + end].to_string());
        rest = &rest[start + end + 1..];
    }
    found
}

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

/// A string literal in a source file, with the text just before it.
struct Literal {
    file: String,
    line: usize,
    before: String,
    text: String,
}

/// The string literals of Rust source (comments and char literals skipped; escapes kept raw).
fn literals(file: &str, source: &str) -> Vec<Literal> {
    let chars: Vec<char> = source.chars().collect();
    let mut found = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < chars.len() {
        match chars[i] {
            '\n' => line += 1,
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '\'' => {
                // A char literal ('x', '"', '\n'); anything else is a lifetime.
                if chars.get(i + 1) == Some(&'\\') {
                    i += 2;
                    while i < chars.len() && chars[i] != '\'' {
                        i += 1;
                    }
                } else if chars.get(i + 2) == Some(&'\'') {
                    i += 2;
                }
            }
            '"' => {
                let start = i;
                let mut text = String::new();
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        text.push(chars[i]);
                        i += 1;
                    }
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    text.push(chars[i]);
                    i += 1;
                }
                let before: String = chars[start.saturating_sub(16)..start].iter().collect();
                found.push(Literal {
                    file: file.to_string(),
                    line,
                    before,
                    text,
                });
            }
            _ => {}
        }
        i += 1;
    }
    found
}

fn ui_sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("crates/app/src")
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read source");
                out.push((path.display().to_string(), text));
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join("crates/app/src"), &mut out);
    out
}

/// Drops the example sentences (model inputs in the models' language, not UI text).
fn without_examples(source: &str) -> String {
    let mut kept = String::new();
    let mut skipping = false;
    // Unit tests (a `#[cfg(test)]` module closes a file) are not the page.
    let page = source.split("#[cfg(test)]").next().unwrap_or(source);
    for line in page.lines() {
        if line.starts_with("const ") && line.contains("_EXAMPLES") {
            skipping = true;
        }
        kept.push_str(if skipping { "" } else { line });
        kept.push('\n');
        if skipping && line.trim_end().ends_with("];") {
            skipping = false;
        }
    }
    kept
}

#[test]
fn both_tables_have_the_same_keys_and_placeholders() {
    let (en, zh) = (table("en.json"), table("zh.json"));
    assert!(
        en.len() > 150,
        "the English table has only {} strings",
        en.len()
    );
    let only_en: Vec<_> = en.keys().filter(|k| !zh.contains_key(*k)).collect();
    let only_zh: Vec<_> = zh.keys().filter(|k| !en.contains_key(*k)).collect();
    assert!(
        only_en.is_empty(),
        "untranslated (missing in zh.json): {only_en:?}"
    );
    assert!(
        only_zh.is_empty(),
        "in zh.json but not in en.json: {only_zh:?}"
    );
    for (key, english) in &en {
        assert_eq!(
            placeholders(english),
            placeholders(&zh[key]),
            "placeholders of {key} differ"
        );
    }
}

#[test]
fn every_chinese_string_is_translated() {
    let (en, zh) = (table("en.json"), table("zh.json"));
    for (key, chinese) in &zh {
        if SAME_IN_BOTH.contains(&key.as_str()) {
            continue;
        }
        assert!(
            chinese.trim() != en[key].trim(),
            "{key} is the English text in zh.json: {chinese:?}"
        );
        assert!(
            chinese.chars().any(is_cjk) || PUNCTUATION_ONLY.contains(&key.as_str()),
            "{key} has no Chinese characters: {chinese:?}"
        );
        assert!(!chinese.trim().is_empty(), "{key} is empty");
    }
}

#[test]
fn every_key_the_code_uses_exists_and_every_key_is_used() {
    let en = table("en.json");
    let namespaces: BTreeSet<&str> = en.keys().filter_map(|k| k.split('.').next()).collect();
    let looks_like_key = |text: &str| {
        text.split_once('.').is_some_and(|(space, rest)| {
            namespaces.contains(space)
                && !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
    };
    let mut used = BTreeSet::new();
    for (file, source) in ui_sources() {
        for literal in literals(&file, &source) {
            if looks_like_key(&literal.text) {
                assert!(
                    en.contains_key(&literal.text),
                    "{}:{} uses the key {:?}, which en.json lacks",
                    literal.file,
                    literal.line,
                    literal.text
                );
                used.insert(literal.text);
            }
        }
    }
    let unused: Vec<_> = en.keys().filter(|k| !used.contains(*k)).collect();
    assert!(unused.is_empty(), "keys no code uses: {unused:?}");
}

#[test]
fn no_english_sentence_is_hard_coded_in_the_page() {
    let mut offenders = Vec::new();
    for (file, source) in ui_sources() {
        if file.ends_with("i18n.rs") {
            continue;
        }
        for literal in literals(&file, &without_examples(&source)) {
            let words: Vec<&str> = literal
                .text
                .split(|c: char| !c.is_ascii_alphabetic())
                .filter(|w| w.len() >= 2)
                .collect();
            let reads_as_text =
                literal
                    .text
                    .split(' ')
                    .collect::<Vec<_>>()
                    .windows(2)
                    .any(|pair| {
                        pair.iter()
                            .all(|w| w.len() >= 2 && w.chars().all(|c| c.is_ascii_alphabetic()))
                    });
            let attribute = ["class=", "class:", "data-", "style="]
                .iter()
                .any(|a| literal.before.trim_end().ends_with(a))
                || literal.before.contains("data-");
            let allowed = ALLOWED_LITERALS.iter().any(|a| literal.text.contains(a));
            if reads_as_text && words.len() >= 2 && !attribute && !allowed {
                offenders.push(format!(
                    "{}:{}: {:?}",
                    literal.file, literal.line, literal.text
                ));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "English text outside the string tables:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_checks_catch_what_they_look_for() {
    // The literal scanner finds strings, skips comments and char literals.
    let found = literals(
        "x.rs",
        "let a = '\"'; // \"not this\"\nview! { <p>\"Hello there\"</p> }",
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].text, "Hello there");
    assert_eq!(found[0].line, 2);
    assert_eq!(
        placeholders("{a} and {b}"),
        BTreeSet::from(["a".to_string(), "b".to_string()])
    );
    assert!(
        without_examples("const X_EXAMPLES: [&str; 1] = [\n  \"A cat sat.\",\n];\nlet y = 1;")
            .contains("let y")
    );
    assert!(
        !without_examples("const X_EXAMPLES: [&str; 1] = [\n  \"A cat sat.\",\n];\n")
            .contains("cat")
    );
}

fn text(s: &str) -> String {
    s.to_string()
}

/// One of every error, with every kind of damage in the file it concerns.
fn every_error() -> Vec<E> {
    let damage = [
        (
            ModelFile::Config,
            Damage::Config(C::NotJson {
                detail: text("expected value at line 1"),
            }),
        ),
        (ModelFile::Config, Damage::Config(C::LlamaNeedsGguf)),
        (
            ModelFile::Config,
            Damage::Config(C::ZeroSize {
                quantity: Quantity::Layers,
            }),
        ),
        (
            ModelFile::Config,
            Damage::Config(C::ZeroSize {
                quantity: Quantity::KeyValueHeads,
            }),
        ),
        (
            ModelFile::Config,
            Damage::Config(C::WidthNotDivisible {
                width: 10,
                heads: 3,
            }),
        ),
        (
            ModelFile::Config,
            Damage::Config(C::HeadsNotShared {
                heads: 9,
                kv_heads: 2,
            }),
        ),
        (
            ModelFile::Config,
            Damage::Config(C::MissingField {
                names: vec![text("n_layer"), text("num_hidden_layers")],
            }),
        ),
        (
            ModelFile::Config,
            Damage::Config(C::NotWholeNumber {
                name: text("n_head"),
                value: Some(text("1.5")),
            }),
        ),
        (
            ModelFile::Config,
            Damage::Config(C::NotNumber {
                name: text("layer_norm_eps"),
                value: Some(text("\"small\"")),
            }),
        ),
        (
            ModelFile::Config,
            Damage::Config(C::NotText {
                name: text("activation_function"),
                value: Some(text("3")),
            }),
        ),
        (
            ModelFile::Config,
            Damage::Config(C::NotTrueOrFalse {
                name: text("scale_embedding"),
                value: Some(text("\"yes\"")),
            }),
        ),
        (
            ModelFile::Gguf,
            Damage::Config(C::NotList {
                name: text("tokenizer.ggml.tokens"),
            }),
        ),
        (
            ModelFile::Gguf,
            Damage::Config(C::NotListOfText {
                name: text("tokenizer.ggml.merges"),
            }),
        ),
        (
            ModelFile::Gguf,
            Damage::Config(C::NotListOfIntegers {
                name: text("tokenizer.ggml.token_type"),
            }),
        ),
        (
            ModelFile::Gguf,
            Damage::Config(C::NoMetadataEntry {
                key: text("llama.block_count"),
            }),
        ),
        (
            ModelFile::Gguf,
            Damage::Config(C::NotLlama {
                architecture: text("falcon"),
            }),
        ),
        (
            ModelFile::Config,
            Damage::Config(C::UnsupportedActivation { name: text("mish") }),
        ),
        (
            ModelFile::Tokenizer,
            Damage::Tokenizer(T::NotJson {
                detail: text("EOF while parsing"),
            }),
        ),
        (
            ModelFile::Tokenizer,
            Damage::Tokenizer(T::Unreadable {
                detail: text("unknown variant"),
            }),
        ),
        (
            ModelFile::Tokenizer,
            Damage::Tokenizer(T::EncoderNotMap {
                detail: text("invalid type"),
            }),
        ),
        (ModelFile::Tokenizer, Damage::Tokenizer(T::MergesNotText)),
        (
            ModelFile::Tokenizer,
            Damage::Tokenizer(T::BadMergeLine { line: text("abc") }),
        ),
        (
            ModelFile::Tokenizer,
            Damage::Tokenizer(T::BpeNotBuilt {
                detail: text("merge token out of vocabulary"),
            }),
        ),
        (
            ModelFile::Tokenizer,
            Damage::Tokenizer(T::TruncationStuck {
                detail: text("stride too large"),
            }),
        ),
        (
            ModelFile::Tokenizer,
            Damage::Tokenizer(T::CannotTokenize {
                detail: text("no word"),
            }),
        ),
        (
            ModelFile::Tokenizer,
            Damage::Tokenizer(T::CannotDecode {
                detail: text("no token"),
            }),
        ),
        (
            ModelFile::Tokenizer,
            Damage::Tokenizer(T::UndefinedSpecialToken {
                token: text("[SEP]"),
            }),
        ),
        (
            ModelFile::Tokenizer,
            Damage::Tokenizer(T::LargerThanEmbeddings {
                tokens: 50257,
                rows: 1000,
            }),
        ),
        (
            ModelFile::Gguf,
            Damage::Tokenizer(T::UnsupportedGgufKind {
                model: text("llama"),
            }),
        ),
        (
            ModelFile::Gguf,
            Damage::Tokenizer(T::Unreadable {
                detail: text("unknown variant"),
            }),
        ),
        (
            ModelFile::Weights,
            Damage::Weights(W::TooShort { bytes: 3 }),
        ),
        (
            ModelFile::Weights,
            Damage::Weights(W::ImplausibleHeader {
                bytes: 2_000_000_000,
            }),
        ),
        (
            ModelFile::Weights,
            Damage::Weights(W::HeaderCutOff {
                bytes: 900,
                available: 100,
            }),
        ),
        (ModelFile::Weights, Damage::Weights(W::HeaderUnreadable)),
        (ModelFile::Weights, Damage::Weights(W::HeaderNotObject)),
        (
            ModelFile::Weights,
            Damage::Weights(W::UnknownDataType {
                tensor: text("wte.weight"),
                dtype: text("Q7X"),
            }),
        ),
        (
            ModelFile::Weights,
            Damage::Weights(W::TensorPastEnd {
                tensor: text("wte.weight"),
                end: 900,
                data: 100,
            }),
        ),
        (
            ModelFile::Weights,
            Damage::Weights(W::DataCutOff {
                described: 900,
                data: 100,
            }),
        ),
        (
            ModelFile::Weights,
            Damage::Weights(W::NoDataOffsets {
                tensor: text("wte.weight"),
            }),
        ),
        (
            ModelFile::Weights,
            Damage::Weights(W::NotSafetensors {
                detail: text("invalid offset"),
            }),
        ),
        (
            ModelFile::Weights,
            Damage::Weights(W::TensorCutOff {
                tensor: text("wte.weight"),
            }),
        ),
        (ModelFile::Weights, Damage::Weights(W::IsGguf)),
        (ModelFile::Weights, Damage::Weights(W::IsPickle)),
        (
            ModelFile::Weights,
            Damage::Weights(W::MissingTensor {
                tensor: text("h.1.mlp.c_proj.weight"),
            }),
        ),
        (
            ModelFile::Weights,
            Damage::Weights(W::WrongShape {
                tensor: text("wte.weight"),
                expected: vec![10, 4],
                found: vec![7],
            }),
        ),
        (
            ModelFile::Gguf,
            Damage::Weights(W::MissingTensor {
                tensor: text("output_norm.weight"),
            }),
        ),
        (
            ModelFile::Weights,
            Damage::Weights(W::Unusable {
                detail: text("dtype mismatch"),
            }),
        ),
        (
            ModelFile::Weights,
            Damage::Weights(W::CannotWriteCopy {
                detail: text("too large"),
            }),
        ),
        (
            ModelFile::Gguf,
            Damage::Gguf(G::Unreadable {
                detail: text("unknown dtype for tensor 99"),
            }),
        ),
        (
            ModelFile::Gguf,
            Damage::Gguf(G::ImpossibleShape {
                tensor: text("blk.0.attn_q.weight"),
                shape: vec![0, 4],
            }),
        ),
        (
            ModelFile::Gguf,
            Damage::Gguf(G::TensorUnreadable {
                tensor: text("blk.0.attn_q.weight"),
                detail: text("unexpected end of file"),
            }),
        ),
    ];
    let mut errors: Vec<E> = damage
        .into_iter()
        .map(|(file, damage)| E::DamagedFile { file, damage })
        .collect();
    errors.extend([
        E::TextEmpty,
        E::TextTooLong {
            tokens: 70,
            max: 64,
        },
        E::NoMask {
            mask: text("[MASK]"),
        },
        E::NoMaskInVocabulary,
        E::TokenOutOfVocabulary { id: 9, vocab: 5 },
        E::TargetOutOfVocabulary { id: 9, vocab: 5 },
        E::BadTemperature { temperature: -1.0 },
        E::BadSampling {
            top_k: 0,
            top_p: 1.5,
        },
        E::PositionOutOfRange {
            position: 9,
            tokens: 5,
        },
        E::TooManyWatchedTokens { given: 9, max: 8 },
        E::TooLongForRankings {
            tokens: 100,
            max: 64,
        },
        E::BadFactorCount {
            factors: 30,
            min: 2,
            max: 18,
        },
        E::UnsupportedArchitecture {
            model_type: text("mt5"),
            class: text("MT5Model"),
        },
        E::NotEncoderDecoder {
            architecture: text("GPT-2"),
        },
        E::NeedsSource {
            architecture: text("T5"),
        },
        E::SourceTooLong {
            tokens: 600,
            max: 512,
        },
        E::TargetTooLong {
            tokens: 600,
            max: 512,
        },
        E::BadBeamWidth { width: 9, max: 5 },
        E::CannotRead {
            path: text("config.json"),
            reason: text("No such file or directory"),
        },
        E::NoPredictionHead {
            architecture: text("BERT"),
        },
        E::NoModel,
        E::OutOfMemory {
            work: Work::Trace,
            tokens: 4000,
            gigabytes: 5.2,
            longest: 3000,
        },
        E::OutOfMemory {
            work: Work::Saliency,
            tokens: 4000,
            gigabytes: 9.1,
            longest: 2000,
        },
        E::TraceGone,
        E::LayerOutOfRange {
            layer: 12,
            layers: 12,
        },
        E::ViewOutOfRange {
            positions: 0,
            d_model: Some(1),
            max_positions: 512,
            max_width: 1024,
        },
        E::ViewOutOfRange {
            positions: 0,
            d_model: None,
            max_positions: 512,
            max_width: 1024,
        },
        E::NoRotaryView,
        E::BadRequest {
            what: text("malformed"),
        },
        E::Compute {
            message: text("shape mismatch"),
        },
    ]);
    errors
}

#[test]
fn every_error_and_warning_reads_in_chinese() {
    let warning = ModelWarning::NonFinite {
        tensors: (0..5)
            .map(|i| (format!("h.{i}.attn.c_attn.weight"), 3))
            .collect(),
    };
    let mut messages: Vec<(String, String)> = every_error()
        .iter()
        .map(|e| (e.words(Lang::En), e.words(Lang::Zh)))
        .collect();
    messages.push((warning.words(Lang::En), warning.words(Lang::Zh)));
    let mut offenders = Vec::new();
    for (english, chinese) in &messages {
        assert_eq!(english, &english.trim(), "stray space: {english:?}");
        let left = common::english_phrases(chinese);
        if !chinese.chars().any(is_cjk) || !left.is_empty() || chinese.contains('{') {
            offenders.push(format!(
                "{chinese}\n    (English: {english}; left: {left:?})"
            ));
        }
    }
    assert!(
        offenders.is_empty(),
        "Chinese wordings that are not Chinese:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn english_phrases_are_found_outside_quotes_only() {
    assert_eq!(
        common::english_phrases(".gguf 文件 无法使用：its tokenizer: 错误"),
        vec!["its tokenizer"]
    );
    assert!(common::english_phrases(
        "无法读取（cannot find it）：`the key` 和 BERT、GPT-2 约 4 GB"
    )
    .is_empty());
    assert_eq!(
        common::english_phrases("config.json 无法使用：the field `n_layer` is missing"),
        vec!["the field", "is missing"]
    );
}

/// Long `view!` lines hide attributes: the page's sources keep lines within 120 characters
/// (`leptosfmt -m 100` puts one attribute per line), except lines that are mostly a string.
#[test]
fn page_source_lines_fit_in_120_characters() {
    let mut long = Vec::new();
    for (path, text) in ui_sources() {
        for (number, line) in text.lines().enumerate() {
            let literal = line
                .split('"')
                .skip(1)
                .step_by(2)
                .map(str::len)
                .max()
                .unwrap_or(0);
            if line.chars().count() > 120 && literal < 60 {
                long.push(format!("{path}:{}", number + 1));
            }
        }
    }
    assert!(
        long.is_empty(),
        "lines over 120 characters:\n{}",
        long.join("\n")
    );
}
