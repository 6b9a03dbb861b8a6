//! Prints how long the engine takes natively on a GPT-2-small-shaped model with random weights
//! (124M parameters, 12 layers × 12 heads, d_model 768) or a DistilBERT-base-shaped one (66M, 6
//! layers; a [MASK] at the next-to-last position): full trace, predictions only and saliency,
//! median of N runs after one warm-up. A benchmark, not a test.
//!
//! cargo run --release --bin bench -- [--model gpt2|distilbert] [--tokens 32] [--runs 5] [--page-trace-only]
use std::collections::HashMap;
use std::time::Instant;

use attention_explorer::engine::{Checkpoint, Model, ModelConfig, PredictionLogits, TextTokenizer};
use attention_explorer::messages::{Request, Response};
use attention_explorer::worker::{handle, Session};
use candle_core::{Device, Tensor};

/// A tokenizer whose vocabulary is only [UNK] and [MASK] (BERT's id 103): the benchmark feeds
/// ids directly, and a masked LM finds its [MASK] by the token.
const PLACEHOLDER_TOKENIZER: &str = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
  "normalizer":null,"pre_tokenizer":null,"post_processor":null,"decoder":null,
  "model":{"type":"WordLevel","vocab":{"[UNK]":0,"[MASK]":103},"unk_token":"[UNK]"}}"#;

/// The [MASK] id of [`PLACEHOLDER_TOKENIZER`].
const MASK_ID: u32 = 103;

/// A model of `config_json` whose tensors are normal noise (name, shape, standard deviation).
fn random_model(
    config_json: &str,
    tensors: Vec<(String, Vec<usize>, f32)>,
) -> Result<Model, Box<dyn std::error::Error>> {
    let tensors = tensors
        .into_iter()
        .map(|(name, shape, std)| Ok((name, Tensor::randn(0f32, std, shape, &Device::Cpu)?)))
        .collect::<candle_core::Result<HashMap<_, _>>>()?;
    Ok(Model::from_parts(
        ModelConfig::from_json(config_json.as_bytes())?,
        TextTokenizer::from_json(PLACEHOLDER_TOKENIZER.as_bytes())?,
        Checkpoint::from_tensors(tensors)?,
    )?)
}

fn gpt2_small() -> Result<Model, Box<dyn std::error::Error>> {
    let (vocab, positions, d, layers) = (50257usize, 1024usize, 768usize, 12usize);
    let config = format!(
        r#"{{"model_type":"gpt2","n_embd":{d},"n_layer":{layers},"n_head":12,"n_positions":{positions},"vocab_size":{vocab}}}"#
    );
    let mut tensors = vec![
        ("wte.weight".to_string(), vec![vocab, d], 0.02),
        ("wpe.weight".to_string(), vec![positions, d], 0.01),
        ("ln_f.weight".to_string(), vec![d], 0.02),
        ("ln_f.bias".to_string(), vec![d], 0.02),
    ];
    for i in 0..layers {
        for (name, shape) in [
            ("ln_1.weight", vec![d]),
            ("ln_1.bias", vec![d]),
            ("ln_2.weight", vec![d]),
            ("ln_2.bias", vec![d]),
            ("attn.c_attn.weight", vec![d, 3 * d]),
            ("attn.c_attn.bias", vec![3 * d]),
            ("attn.c_proj.weight", vec![d, d]),
            ("attn.c_proj.bias", vec![d]),
            ("mlp.c_fc.weight", vec![d, 4 * d]),
            ("mlp.c_fc.bias", vec![4 * d]),
            ("mlp.c_proj.weight", vec![4 * d, d]),
            ("mlp.c_proj.bias", vec![d]),
        ] {
            tensors.push((format!("h.{i}.{name}"), shape, 0.02));
        }
    }
    random_model(&config, tensors)
}

/// DistilBERT-base with its masked-LM head (the projector tied to the word embeddings).
fn distilbert_base() -> Result<Model, Box<dyn std::error::Error>> {
    let (vocab, positions, d, ff, layers) = (30522usize, 512usize, 768usize, 3072usize, 6usize);
    let config = format!(
        r#"{{"model_type":"distilbert","architectures":["DistilBertForMaskedLM"],"dim":{d},"n_layers":{layers},"n_heads":12,"hidden_dim":{ff},"max_position_embeddings":{positions},"vocab_size":{vocab}}}"#
    );
    let noise = |name: String, shape: Vec<usize>| (name, shape, 0.02);
    // A LayerNorm's weight and bias, or a linear layer's [out, in] weight and bias.
    let norm = |name: &str| {
        [
            noise(format!("{name}.weight"), vec![d]),
            noise(format!("{name}.bias"), vec![d]),
        ]
    };
    let linear = |name: &str, in_dim: usize, out_dim: usize| {
        [
            noise(format!("{name}.weight"), vec![out_dim, in_dim]),
            noise(format!("{name}.bias"), vec![out_dim]),
        ]
    };
    let mut tensors = vec![
        noise(
            "distilbert.embeddings.word_embeddings.weight".into(),
            vec![vocab, d],
        ),
        noise(
            "distilbert.embeddings.position_embeddings.weight".into(),
            vec![positions, d],
        ),
        noise("vocab_projector.bias".into(), vec![vocab]),
    ];
    tensors.extend(norm("distilbert.embeddings.LayerNorm"));
    tensors.extend(linear("vocab_transform", d, d));
    tensors.extend(norm("vocab_layer_norm"));
    for i in 0..layers {
        let layer = format!("distilbert.transformer.layer.{i}");
        for (name, in_dim, out_dim) in [
            ("attention.q_lin", d, d),
            ("attention.k_lin", d, d),
            ("attention.v_lin", d, d),
            ("attention.out_lin", d, d),
            ("ffn.lin1", d, ff),
            ("ffn.lin2", ff, d),
        ] {
            tensors.extend(linear(&format!("{layer}.{name}"), in_dim, out_dim));
        }
        tensors.extend(norm(&format!("{layer}.sa_layer_norm")));
        tensors.extend(norm(&format!("{layer}.output_layer_norm")));
    }
    random_model(&config, tensors)
}

/// What the worker does for the page's trace: the page trace and the first layer's internals
/// copied out; returns the logits where the model predicts.
fn page_trace(
    model: &Model,
    ids: &[u32],
) -> Result<Option<PredictionLogits>, Box<dyn std::error::Error>> {
    let parts = model.page_trace(ids)?;
    attention_explorer::engine::layer_trace(0, parts.traced.layers().first().ok_or("no layers")?)?;
    Ok(parts.predicted)
}

fn median_ms(
    runs: usize,
    mut work: impl FnMut() -> Result<(), Box<dyn std::error::Error>>,
) -> Result<f64, Box<dyn std::error::Error>> {
    work()?; // warm-up
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        work()?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[runs / 2])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut tokens, mut runs, mut page_trace_only) = (32usize, 5usize, false);
    let mut model_name = "gpt2".to_string();
    while let Some(flag) = args.next() {
        if flag == "--page-trace-only" {
            page_trace_only = true;
            continue;
        }
        if flag == "--model" {
            model_name = args.next().ok_or("--model takes gpt2 or distilbert")?;
            continue;
        }
        let value: usize = args
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or("flags take a whole number")?;
        match flag.as_str() {
            "--tokens" => tokens = value,
            "--runs" => runs = value.max(1),
            _ => {
                return Err(format!(
                    "unknown flag {flag}; use [--model gpt2|distilbert] --tokens N --runs N [--page-trace-only]"
                )
                .into())
            }
        }
    }
    let start = Instant::now();
    let (model, title) = match model_name.as_str() {
        "gpt2" => (gpt2_small()?, "GPT-2 small"),
        "distilbert" => (distilbert_base()?, "DistilBERT-base"),
        other => return Err(format!("unknown model {other}; use gpt2 or distilbert").into()),
    };
    eprintln!(
        "built a random {title} ({} parameters) in {:.1} s",
        model.parameter_count,
        start.elapsed().as_secs_f64()
    );
    let vocab = model.config.vocab_size as u32;
    let mut ids: Vec<u32> = (0..tokens as u32).map(|i| (i * 7919) % vocab).collect();
    if !model.config.architecture.is_causal() {
        // A masked LM predicts at its [MASK]: the next-to-last token, before a final [SEP].
        let position = tokens.saturating_sub(2);
        *ids.get_mut(position).ok_or("--tokens must be at least 1")? = MASK_ID;
    }
    if page_trace_only {
        // Only the page's trace, for a profiler (`node --cpu-prof scripts/run-wasi.mjs …`).
        let page_trace = median_ms(runs, || {
            page_trace(&model, &ids)?;
            Ok(())
        })?;
        println!("| the page's trace, {tokens} tokens | {page_trace:.1} ms | median of {runs} |");
        return Ok(());
    }
    let trace = median_ms(runs, || {
        model.trace(&ids)?;
        Ok(())
    })?;
    let predict = median_ms(runs, || {
        model.predict(&ids, 10, 1.0)?;
        Ok(())
    })?;
    let logits = median_ms(runs, || {
        let logits = page_trace(&model, &ids)?;
        model.predictions_from_rows(&logits.ok_or("no head")?, 10, 1.0)?;
        Ok(())
    })?;
    println!("(the page's trace (no all-rows logits) + top-10: {logits:.1} ms)");
    let saliency = median_ms(runs, || {
        model.saliency(&ids, None, None)?;
        Ok(())
    })?;
    println!(
        "| engine (candle, {}, release) | {title}, {tokens} tokens | median of {runs} |",
        if cfg!(target_family = "wasm") {
            "wasm32"
        } else {
            "native"
        }
    );
    println!("|---|---|---|");
    println!("| full trace (all heads, all logits) | {trace:.1} ms | |");
    println!("| predictions only (top-10) | {predict:.1} ms | |");
    println!(
        "| saliency (forward + backward) | {saliency:.1} ms | {:.2}× predictions |",
        saliency / predict
    );
    let floor = floor_ms(&model.config, tokens, runs)?;
    println!(
        "| floor (the pass's matmuls alone) | {floor:.1} ms | predictions ÷ floor {:.2} |",
        predict / floor
    );
    Ok(())
}

/// The time of one pass's matmuls alone at the benchmarked model's shapes (the head at one row,
/// and a masked LM's transform before it), each shape timed by the worker's matmul benchmark (the
/// browser benchmark's floor) in the fastest of its four orders — x·W with W [k,n], x·Wᵀ with
/// W [n,k], weight-first (W·xᵀ)ᵀ, and x·Wᵀ as the engine's linear layers compute it. Also prints
/// each shape's four times, and the same with cold weights (each product on the next of 512 MB
/// of distinct copies, as a forward pass reads its weights from memory).
fn floor_ms(
    config: &ModelConfig,
    tokens: usize,
    runs: usize,
) -> Result<f64, Box<dyn std::error::Error>> {
    let (d, ff, heads, vocab, layers) = (
        config.d_model,
        config.d_ff,
        config.n_head,
        config.vocab_size,
        config.n_layer,
    );
    let masked_lm_transform = usize::from(!config.architecture.is_causal());
    let shapes = [
        ((tokens, d, d), 4 * layers),
        ((tokens, d, ff), layers),
        ((tokens, ff, d), layers),
        ((tokens, d / heads, tokens), heads * layers),
        ((tokens, tokens, d / heads), heads * layers),
        ((1, d, d), masked_lm_transform),
        ((1, d, vocab), 1),
    ];
    let time = |shape: (usize, usize, usize), cold_bytes: usize| -> Result<[f64; 4], String> {
        let request = Request::MatmulBenchmark {
            shapes: vec![shape],
            runs,
            cold_bytes,
        };
        match handle(&mut Session::default(), 0, request) {
            Response::MatmulTimes {
                stored_k_n_ms,
                stored_n_k_ms,
                weight_first_ms,
                engine_ms,
                ..
            } => Ok([
                stored_k_n_ms[0],
                stored_n_k_ms[0],
                weight_first_ms[0],
                engine_ms[0],
            ]),
            Response::Error { error } => Err(error.to_string()),
            _ => Err("the matmul benchmark gave no times".into()),
        }
    };
    let mut total = 0.0;
    println!("| m × k × n | x·W [k,n] ms | x·Wᵀ, W [n,k] ms | W·xᵀ, W [n,k] ms | engine's x·Wᵀ ms | cold: x·W | cold: x·Wᵀ | cold: W·xᵀ | cold: engine's |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (shape, count) in shapes.into_iter().filter(|&(_, count)| count > 0) {
        let warm = time(shape, 0)?;
        let cold = time(shape, 512 << 20)?;
        let (m, k, n) = shape;
        let cells = |times: [f64; 4]| times.map(|ms| format!("{ms:.3}")).join(" | ");
        println!("| {m} × {k} × {n} | {} | {} |", cells(warm), cells(cold));
        total += count as f64 * warm.into_iter().fold(f64::INFINITY, f64::min);
    }
    Ok(total)
}
