//! A Marian repository ships SentencePiece files, not tokenizer.json:
//! tools/convert_marian_tokenizer.py (which scripts/host-model.sh runs) writes one, and the
//! engine's tokenizer then gives the ids transformers' MarianTokenizer gives
//! (tests/fixtures/marian_spm, made by tools/make_marian_spm_fixture.py) — on sentences with
//! NFKC-normalised, combining, CJK, emoji, right-to-left and zero-width characters.
use std::path::Path;
use std::process::Command;

use attention_explorer::engine::TextTokenizer;

#[test]
fn converted_sentencepiece_files_give_marian_tokenizer_ids() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixture = root.join("tests/fixtures/marian_spm");
    let out = std::env::temp_dir().join(format!("marian-tokenizer-{}.json", std::process::id()));
    let converted = Command::new("python3")
        .arg(root.join("tools/convert_marian_tokenizer.py"))
        .arg(&fixture)
        .arg(&out)
        .output()
        .expect("python3 runs the converter");
    assert!(
        converted.status.success(),
        "{}",
        String::from_utf8_lossy(&converted.stderr)
    );
    let tokenizer =
        TextTokenizer::from_json(&std::fs::read(&out).expect("tokenizer.json")).expect("loads");
    let _ = std::fs::remove_file(&out);
    let reference: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture.join("reference.json")).expect("reference"))
            .expect("reference.json");
    let sentences = reference["sentences"].as_array().expect("sentences");
    assert!(sentences.len() >= 8);
    for sentence in sentences {
        let text = sentence["text"].as_str().expect("text");
        let expected: Vec<u32> = sentence["ids"]
            .as_array()
            .expect("ids")
            .iter()
            .map(|id| id.as_u64().expect("id") as u32)
            .collect();
        let ids = tokenizer.encode(text).expect("encode").ids;
        assert_eq!(ids, expected, "{text:?}");
    }
}
