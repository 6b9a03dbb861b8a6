//! Damaged and wrong model files: each gives a message that names the file and the problem, in
//! English and in Chinese with no English sentence left — never a panic, never an allocation
//! sized by an untrusted field. Every case appends its row (fault, what the user sees in each
//! language, test) to `test-artifacts/faults/native.jsonl`, from which
//! `scripts/faults.sh` writes `tests/FAULTS.md`.
mod common;

use std::collections::HashMap;
use std::io::Write;

use attention_explorer::engine::Model;
use attention_explorer::messages::Lang;
use candle_core::{safetensors, DType, Device, Tensor};

const CONFIG: &[u8] = include_bytes!("fixtures/gpt2/config.json");
const TOKENIZER: &[u8] = include_bytes!("fixtures/gpt2/tokenizer.json");
const WEIGHTS: &[u8] = include_bytes!("fixtures/gpt2/model.safetensors");

/// Appends one row of the fault table: what the English and the Chinese page show.
fn record(fault: &str, seen: &str, seen_zh: &str, test: &str) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/test-artifacts/faults");
    let row = serde_json::json!({ "group": "Model files", "fault": fault, "seen": seen, "seen_zh": seen_zh, "test": format!("tests/faults.rs::{test}") });
    // Tests run on parallel threads: `writeln!` may split a row into several writes that
    // interleave with another test's, so each row is one `write_all` under a lock.
    static ROWS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_writer = ROWS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let line = format!("{row}\n");
    let written = std::fs::create_dir_all(dir).and_then(|_| {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(format!("{dir}/native.jsonl"))?;
        file.write_all(line.as_bytes())
    });
    if let Err(e) = written {
        eprintln!("could not record the fault row: {e}");
    }
}

/// Loads the three files, expects an error whose message starts with `file` and contains every
/// one of `words`, whose Chinese wording leaves no English phrase, and records the row.
fn expect_error(
    test: &str,
    fault: &str,
    config: &[u8],
    tokenizer: &[u8],
    weights: &[u8],
    file: &str,
    words: &[&str],
) {
    let load = || Model::from_bytes(config, tokenizer, weights);
    expect_load_error(test, fault, load, file, words);
}

/// [`expect_error`] for any way of loading.
fn expect_load_error(
    test: &str,
    fault: &str,
    load: impl Fn() -> attention_explorer::engine::Result<Model> + std::panic::UnwindSafe,
    file: &str,
    words: &[&str],
) {
    let error = match std::panic::catch_unwind(load) {
        Err(_) => panic!("{fault}: the loader panicked"),
        Ok(Ok(_)) => panic!("{fault}: the model loaded"),
        Ok(Err(e)) => e,
    };
    let message = error.to_string();
    let chinese = error.words(Lang::Zh);
    assert!(
        chinese.starts_with(file),
        "{fault}: the Chinese message does not name {file}: {chinese}"
    );
    let english = common::english_phrases(&chinese);
    assert!(
        english.is_empty(),
        "{fault}: English left in the Chinese message ({english:?}): {chinese}"
    );
    assert!(
        message.starts_with(&format!("{file}: ")),
        "{fault}: the message does not name {file}: {message}"
    );
    for word in words {
        assert!(
            message.contains(word),
            "{fault}: the message lacks “{word}”: {message}"
        );
    }
    record(fault, &message, &chinese, test);
}

/// The fixture's tensors, to be changed and written back.
fn tensors() -> HashMap<String, Tensor> {
    safetensors::load_buffer(WEIGHTS, &Device::Cpu).expect("fixture weights")
}

/// The stored name of the tensor whose name ends with `suffix` (the fixture has a prefix).
fn tensor_name(tensors: &HashMap<String, Tensor>, suffix: &str) -> String {
    tensors
        .keys()
        .find(|k| k.ends_with(suffix))
        .unwrap_or_else(|| panic!("no tensor ends with {suffix}"))
        .clone()
}

fn to_bytes(tensors: &HashMap<String, Tensor>, name: &str) -> Vec<u8> {
    let path = format!("{}/{name}.safetensors", env!("CARGO_TARGET_TMPDIR"));
    safetensors::save(tensors, &path).expect("write safetensors");
    std::fs::read(&path).expect("read back")
}

/// The safetensors header length and JSON.
fn header(bytes: &[u8]) -> (usize, String) {
    let length = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    (
        length,
        String::from_utf8(bytes[8..8 + length].to_vec()).expect("UTF-8 header"),
    )
}

/// The file with its header replaced by `edit(header)` of the same length.
fn edit_header(edit: impl Fn(&str) -> String) -> Vec<u8> {
    let (length, text) = header(WEIGHTS);
    let edited = edit(&text);
    assert_eq!(edited.len(), length, "the edit must keep the header length");
    let mut bytes = WEIGHTS.to_vec();
    bytes[8..8 + length].copy_from_slice(edited.as_bytes());
    bytes
}

#[test]
fn safetensors_cut_off() {
    let cut = &WEIGHTS[..WEIGHTS.len() * 6 / 10];
    expect_error(
        "safetensors_cut_off",
        "model.safetensors cut off at 60 %",
        CONFIG,
        TOKENIZER,
        cut,
        "model.safetensors",
        &["cut off", "download it again"],
    );
}

#[test]
fn safetensors_header_longer_than_the_file() {
    let (length, _) = header(WEIGHTS);
    let cut = &WEIGHTS[..8 + length / 2];
    expect_error(
        "safetensors_header_longer_than_the_file",
        "header length larger than the file",
        CONFIG,
        TOKENIZER,
        cut,
        "model.safetensors",
        &["header should be", "cut off"],
    );
}

#[test]
fn safetensors_header_not_json() {
    let bytes = edit_header(|h| h.replacen('{', "#", 1));
    expect_error(
        "safetensors_header_not_json",
        "header is not JSON",
        CONFIG,
        TOKENIZER,
        &bytes,
        "model.safetensors",
        &["not a JSON object"],
    );
}

#[test]
fn safetensors_unknown_dtype() {
    let bytes = edit_header(|h| h.replacen("\"F32\"", "\"Q7X\"", 1));
    expect_error(
        "safetensors_unknown_dtype",
        "a tensor with an unknown dtype",
        CONFIG,
        TOKENIZER,
        &bytes,
        "model.safetensors",
        &["data type `Q7X`"],
    );
}

#[test]
fn safetensors_2_gb_header_claim() {
    let mut bytes = WEIGHTS.to_vec();
    bytes[..8].copy_from_slice(&2_000_000_000u64.to_le_bytes());
    expect_error(
        "safetensors_2_gb_header_claim",
        "a 2 GB header claim",
        CONFIG,
        TOKENIZER,
        &bytes,
        "model.safetensors",
        &["2000000000-byte header"],
    );
}

#[test]
fn safetensors_empty() {
    expect_error(
        "safetensors_empty",
        "an empty model.safetensors",
        CONFIG,
        TOKENIZER,
        &[],
        "model.safetensors",
        &["only 0 bytes"],
    );
}

#[test]
fn a_tensor_of_the_wrong_shape() {
    let mut changed = tensors();
    let name = tensor_name(&changed, "h.0.attn.c_attn.weight");
    let original = &changed[&name];
    let (rows, columns) = original.dims2().expect("2-D");
    changed.insert(
        name.clone(),
        Tensor::zeros((rows, columns - 3), DType::F32, &Device::Cpu).expect("zeros"),
    );
    let bytes = to_bytes(&changed, "wrong_shape");
    expect_error(
        "a_tensor_of_the_wrong_shape",
        "a tensor of the wrong shape",
        CONFIG,
        TOKENIZER,
        &bytes,
        "model.safetensors",
        &[
            "c_attn.weight",
            "wrong shape",
            &format!("{:?}", [rows, columns - 3]),
        ],
    );
}

#[test]
fn a_missing_tensor() {
    let mut changed = tensors();
    let name = tensor_name(&changed, "h.1.mlp.c_proj.weight");
    changed.remove(&name);
    let bytes = to_bytes(&changed, "missing");
    expect_error(
        "a_missing_tensor",
        "a missing tensor",
        CONFIG,
        TOKENIZER,
        &bytes,
        "model.safetensors",
        &["h.1.mlp.c_proj.weight", "missing"],
    );
}

#[test]
fn nan_and_infinite_weights_warn_but_load() {
    let mut changed = tensors();
    let name = tensor_name(&changed, "h.0.attn.c_attn.weight");
    let mut values = changed[&name]
        .flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .expect("values");
    values[0] = f32::NAN;
    values[5] = f32::INFINITY;
    values[9] = f32::NEG_INFINITY;
    let shape = changed[&name].shape().clone();
    changed.insert(
        name.clone(),
        Tensor::from_vec(values, shape, &Device::Cpu).expect("tensor"),
    );
    let bytes = to_bytes(&changed, "nan");
    let model =
        Model::from_bytes(CONFIG, TOKENIZER, &bytes).expect("a model with NaN weights still loads");
    let words = |lang| {
        let warnings = model.warnings().iter().map(|w| w.words(lang));
        warnings.collect::<Vec<_>>().join(" ")
    };
    let (warnings, chinese) = (words(Lang::En), words(Lang::Zh));
    assert!(
        chinese.contains("NaN 或无穷大") && common::english_phrases(&chinese).is_empty(),
        "{chinese}"
    );
    assert!(
        warnings.contains("NaN or infinite")
            && warnings.contains("c_attn.weight")
            && warnings.contains("(3)"),
        "{warnings}"
    );
    let ids = model.tokenize("The cat sat.").expect("tokens").ids;
    let trace = model.trace(&ids).expect("the trace still runs");
    assert!(
        trace.page.attentions.data.iter().any(|v| v.is_nan()),
        "the NaN flows into the attention it feeds"
    );
    record(
        "NaN/Inf weights",
        &format!("loads, with the warning: {warnings}"),
        &format!("可以加载，并显示警告：{chinese}"),
        "nan_and_infinite_weights_warn_but_load",
    );
    let clean = Model::from_bytes(CONFIG, TOKENIZER, WEIGHTS).expect("fixture");
    assert!(clean.warnings().is_empty(), "a clean model has no warning");
}

#[test]
fn a_gguf_file_offered_as_safetensors() {
    let mut bytes = b"GGUF".to_vec();
    bytes.extend_from_slice(&3u32.to_le_bytes());
    bytes.extend_from_slice(&[0u8; 64]);
    expect_error(
        "a_gguf_file_offered_as_safetensors",
        "a GGUF file offered as safetensors",
        CONFIG,
        TOKENIZER,
        &bytes,
        "model.safetensors",
        &["GGUF"],
    );
}

#[test]
fn a_pytorch_bin_offered_as_safetensors() {
    let zip = [b"PK\x03\x04".as_slice(), &[0u8; 60]].concat();
    expect_error(
        "a_pytorch_bin_offered_as_safetensors",
        "a PyTorch .bin (zip) offered as safetensors",
        CONFIG,
        TOKENIZER,
        &zip,
        "model.safetensors",
        &["PyTorch .bin"],
    );
    let pickle = [[0x80u8, 0x02].as_slice(), &[0u8; 60]].concat();
    expect_error(
        "a_pytorch_bin_offered_as_safetensors",
        "a legacy pickle .bin offered as safetensors",
        CONFIG,
        TOKENIZER,
        &pickle,
        "model.safetensors",
        &["PyTorch .bin"],
    );
}

fn config_with(edit: impl Fn(&mut serde_json::Map<String, serde_json::Value>)) -> Vec<u8> {
    let mut json: serde_json::Value = serde_json::from_slice(CONFIG).expect("fixture config");
    edit(json.as_object_mut().expect("object"));
    serde_json::to_vec(&json).expect("json")
}

#[test]
fn config_with_an_unknown_model_type() {
    let config = config_with(|c| {
        c.insert("model_type".into(), "llama9".into());
        c.insert(
            "architectures".into(),
            serde_json::json!(["Llama9ForCausalLM"]),
        );
    });
    expect_error(
        "config_with_an_unknown_model_type",
        "config.json with an unknown model_type",
        &config,
        TOKENIZER,
        WEIGHTS,
        "config.json",
        &["llama9", "not supported"],
    );
}

#[test]
fn config_with_a_missing_field() {
    let config = config_with(|c| {
        c.remove("n_layer");
        c.remove("num_hidden_layers");
    });
    expect_error(
        "config_with_a_missing_field",
        "config.json without the number of layers",
        &config,
        TOKENIZER,
        WEIGHTS,
        "config.json",
        &["n_layer", "missing"],
    );
}

#[test]
fn config_not_json() {
    expect_error(
        "config_not_json",
        "config.json that is not JSON",
        b"<html>404</html>",
        TOKENIZER,
        WEIGHTS,
        "config.json",
        &["not valid JSON"],
    );
}

#[test]
fn tokenizer_not_valid() {
    expect_error(
        "tokenizer_not_valid",
        "an invalid tokenizer.json",
        CONFIG,
        b"{\"model\": 17}",
        WEIGHTS,
        "tokenizer.json",
        &["cannot read it"],
    );
}

#[test]
fn tokenizer_vocabulary_larger_than_the_embeddings() {
    let config = config_with(|c| {
        c.insert("vocab_size".into(), 40.into());
    });
    expect_error(
        "tokenizer_vocabulary_larger_than_the_embeddings",
        "a tokenizer whose vocabulary does not match the embeddings",
        &config,
        TOKENIZER,
        WEIGHTS,
        "tokenizer.json",
        &["different model"],
    );
}

#[test]
fn config_vocabulary_larger_than_the_embeddings() {
    let config = config_with(|c| {
        let vocab = c["vocab_size"].as_u64().expect("vocab_size");
        c.insert("vocab_size".into(), (vocab + 7).into());
    });
    expect_error(
        "config_vocabulary_larger_than_the_embeddings",
        "config.json whose vocab_size is not the embedding's",
        &config,
        TOKENIZER,
        WEIGHTS,
        "model.safetensors",
        &["wte.weight", "expected shape"],
    );
}

#[test]
fn tokenizer_with_broken_json_in_the_decoder() {
    // The `tokenizers` crate panics (instead of returning an error) on this one; a panic would
    // kill the page's worker, so the engine checks the JSON first.
    let text = String::from_utf8(TOKENIZER.to_vec()).expect("UTF-8");
    let at = text.find("\"decoder\"").expect("a decoder");
    let broken = format!("{}\"decoder\": {{3: 4}}, {}", &text[..at], &text[at..]);
    expect_error(
        "tokenizer_with_broken_json_in_the_decoder",
        "tokenizer.json with a JSON syntax error",
        CONFIG,
        broken.as_bytes(),
        WEIGHTS,
        "tokenizer.json",
        &["not valid JSON"],
    );
}

#[test]
fn tokenizer_template_naming_an_undefined_special_token() {
    let config = include_bytes!("fixtures/distilbert/config.json");
    let weights = include_bytes!("fixtures/distilbert/model.safetensors");
    let mut json: serde_json::Value =
        serde_json::from_slice(include_bytes!("fixtures/distilbert/tokenizer.json"))
            .expect("fixture tokenizer");
    let removed = json["post_processor"]["special_tokens"]
        .as_object_mut()
        .expect("template special tokens")
        .remove("[SEP]");
    assert!(removed.is_some(), "the fixture's template defines [SEP]");
    let bytes = serde_json::to_vec(&json).expect("json");
    expect_error(
        "tokenizer_template_naming_an_undefined_special_token",
        "tokenizer.json whose template uses an undefined special token",
        config,
        &bytes,
        weights,
        "tokenizer.json",
        &["[SEP]", "does not define"],
    );
}

#[test]
fn a_valid_file_whose_header_length_looks_like_a_pickle_still_loads() {
    // Header length 0x010280: its first two bytes, 0x80 0x02, are also how a pickle begins.
    let (length, text) = header(WEIGHTS);
    let padded_length = 0x01_0280usize;
    assert!(padded_length > length);
    let mut bytes = (padded_length as u64).to_le_bytes().to_vec();
    assert_eq!(bytes[..2], [0x80, 0x02]);
    bytes.extend_from_slice(text.as_bytes());
    bytes.resize(8 + padded_length, b' '); // the format allows a space-padded header
    bytes.extend_from_slice(&WEIGHTS[8 + length..]);
    let model = Model::from_bytes(CONFIG, TOKENIZER, &bytes);
    assert!(model.is_ok(), "{:?}", model.err().map(|e| e.to_string()));
}

/// A T5 config over GPT-2's weights: the config says encoder–decoder, the tensors are missing.
#[test]
fn an_encoder_decoder_config_without_its_tensors() {
    let t5_config = include_bytes!("fixtures/t5/config.json");
    let t5_tokenizer = include_bytes!("fixtures/t5/tokenizer.json");
    expect_error(
        "an_encoder_decoder_config_without_its_tensors",
        "config.json says encoder–decoder (T5), the weights are GPT-2's",
        t5_config,
        t5_tokenizer,
        WEIGHTS,
        "model.safetensors",
        &["shared.weight", "missing"],
    );
}

#[test]
fn a_target_tokenizer_that_is_not_a_tokenizer() {
    let translator = |name: &str| {
        let path = format!(
            "{}/assets/date-translator/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(path).expect(name)
    };
    let (config, tokenizer) = (translator("config.json"), translator("tokenizer.json"));
    let weights = translator("model.safetensors");
    let load = || {
        Model::from_bytes(&config, &tokenizer, &weights)?.with_target_tokenizer(b"{\"model\": 17}")
    };
    expect_load_error(
        "a_target_tokenizer_that_is_not_a_tokenizer",
        "a translator's target_tokenizer.json that is not a tokenizer",
        load,
        "target_tokenizer.json",
        &["cannot read it"],
    );
}

/// An encoder–decoder asked for what it cannot do, and a decoder-only model asked for
/// cross-attention: the engine's own errors, in both languages.
#[test]
fn source_and_target_requests_to_the_wrong_model_or_too_long() {
    let t5 = Model::from_bytes(
        include_bytes!("fixtures/t5/config.json"),
        include_bytes!("fixtures/t5/tokenizer.json"),
        include_bytes!("fixtures/t5/model.safetensors"),
    )
    .expect("t5");
    let gpt2 = Model::from_bytes(CONFIG, TOKENIZER, WEIGHTS).expect("gpt2");
    let max = t5.config.max_positions;
    let long = vec![3u32; max + 1];
    let cases = [
        (
            "a decoder-only model (GPT-2) asked for cross-attention",
            gpt2.encoder_decoder_trace(&[1, 2], &[0]).err(),
        ),
        (
            "an encoder–decoder asked for a one-text trace",
            t5.trace(&[1, 2]).err(),
        ),
        (
            "a source over the encoder's limit",
            t5.encoder_decoder_trace(&long, &[0]).err(),
        ),
        (
            "a target over the decoder's limit",
            t5.encoder_decoder_trace(&[3, 1], &long).err(),
        ),
    ];
    for (fault, error) in cases {
        let error = error.unwrap_or_else(|| panic!("{fault}: no error"));
        let chinese = error.words(Lang::Zh);
        let english = common::english_phrases(&chinese);
        assert!(
            english.is_empty(),
            "{fault}: English left ({english:?}): {chinese}"
        );
        record(
            fault,
            &error.to_string(),
            &chinese,
            "source_and_target_requests_to_the_wrong_model_or_too_long",
        );
    }
}
