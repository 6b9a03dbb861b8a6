//! The Llama engine on GGUF files against transformers loading the same file
//! (tools/make_llama_fixtures.py): a tiny random Llama with grouped-query attention, some
//! matrices quantised (Q8_0, Q4_1), q/k rows in llama.cpp's order and a tied LM head.
mod common;

use attention_explorer::engine::{Architecture, Model};

fn tiny_llama() -> common::Fixture {
    gguf_fixture!("llama").load()
}

#[test]
fn tiny_llama_gguf_matches_transformers() {
    let fixture = tiny_llama();
    let config = &fixture.model.config;
    assert_eq!(config.architecture, Architecture::Llama);
    assert_eq!((config.n_head, config.n_kv_head), (4, 2));
    assert_eq!(config.rope_theta, Some(10_000.0));
    common::assert_within_tolerance(fixture.name, &common::check_fixture(&fixture));
}

#[test]
fn tiny_llama_tokenizer_from_gguf_metadata_matches_transformers() {
    let fixture = tiny_llama();
    let sentences = fixture.meta["tokenization"]
        .as_array()
        .expect("tokenization");
    assert!(sentences.len() >= 8);
    for sentence in sentences {
        let text = sentence["text"].as_str().expect("text");
        let expected: Vec<u32> = sentence["input_ids"]
            .as_array()
            .expect("ids")
            .iter()
            .map(|id| id.as_u64().expect("id") as u32)
            .collect();
        let ours = fixture.model.tokenize(text).expect("tokenize").ids;
        assert_eq!(ours, expected, "token ids of {text:?}");
    }
}

#[test]
fn query_heads_of_one_group_read_the_same_keys_and_values() {
    let fixture = tiny_llama();
    let ids = fixture.ids(0);
    let trace = fixture.model.trace(&ids).expect("trace");
    assert_eq!(trace.page.n_kv_head, 2);
    assert!(trace.page.position_embeddings.is_none());
    let [layers, heads, tokens, d_head] = trace.attention.k.shape[..] else {
        panic!("k rank")
    };
    let head = |array: &attention_explorer::engine::Array, layer: usize, head: usize| {
        let size = tokens * d_head;
        let start = (layer * heads + head) * size;
        array.data[start..start + size].to_vec()
    };
    for layer in 0..layers {
        // Query heads 0, 1 read key/value head 0; heads 2, 3 read head 1.
        assert_eq!(
            head(&trace.attention.k, layer, 0),
            head(&trace.attention.k, layer, 1)
        );
        assert_eq!(
            head(&trace.attention.v, layer, 2),
            head(&trace.attention.v, layer, 3)
        );
        assert_ne!(
            head(&trace.attention.k, layer, 1),
            head(&trace.attention.k, layer, 2)
        );
        // Their queries differ, so their attention does too.
        assert_ne!(
            head(&trace.attention.q, layer, 0),
            head(&trace.attention.q, layer, 1)
        );
    }
    common::check_attention_properties(fixture.name, &trace.page.attentions, true);
}

#[test]
fn a_damaged_gguf_file_is_an_error_that_names_the_file() {
    let files = gguf_fixture!("llama");
    for cut in [3, 16, 200, files.model.len() / 2, files.model.len() - 1] {
        let error = Model::from_gguf(&files.model[..cut])
            .err()
            .unwrap_or_else(|| panic!("a file cut at {cut} bytes loaded"));
        assert!(
            error.to_string().starts_with("the .gguf file"),
            "cut at {cut}: {error}"
        );
    }
    let mut wrong_architecture = files.model.to_vec();
    let at = wrong_architecture
        .windows(5)
        .position(|w| w == b"llama")
        .expect("the architecture name");
    wrong_architecture[at..at + 5].copy_from_slice(b"gemma");
    let error = Model::from_gguf(wrong_architecture.as_slice())
        .err()
        .expect("a gemma file loaded");
    assert!(error.to_string().contains("gemma"), "{error}");
}

#[test]
fn a_tensor_with_no_elements_is_an_error_not_an_abort() {
    // The fuzzer's find: a dimension set to 0 made candle view an empty buffer as quantised
    // blocks, which a debug build aborts on. The header stores the name, the number of
    // dimensions (u32) and each dimension (u64).
    let mut file = gguf_fixture!("llama").model.to_vec();
    let name = b"blk.0.ffn_down.weight";
    let at = file
        .windows(name.len())
        .position(|w| w == name)
        .expect("the tensor's name in the header")
        + name.len();
    assert_eq!(&file[at..at + 4], &2u32.to_le_bytes(), "two dimensions");
    file[at + 4..at + 12].copy_from_slice(&0u64.to_le_bytes());
    let error = Model::from_gguf(file.as_slice())
        .err()
        .expect("an empty tensor loaded");
    assert!(
        error.to_string().contains("blk.0.ffn_down.weight"),
        "{error}"
    );
}
