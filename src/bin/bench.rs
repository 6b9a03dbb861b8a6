//! Prints how long the engine takes natively on a GPT-2-small-shaped model with random weights
//! (124M parameters, 12 layers × 12 heads, d_model 768): full trace, predictions only and
//! saliency, median of N runs after one warm-up. A benchmark, not a test.
//!
//! cargo run --release --bin bench -- [--tokens 32] [--runs 5] [--page-trace-only]
use std::collections::HashMap;
use std::time::Instant;

use attention_explorer::engine::{Checkpoint, Model, ModelConfig, PredictionLogits, TextTokenizer};
use attention_explorer::worker::protocol::{handle, Request, Response, Session};
use candle_core::{Device, Tensor};

/// A tokenizer with a one-word vocabulary: the benchmark feeds ids directly.
const PLACEHOLDER_TOKENIZER: &str = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
  "normalizer":null,"pre_tokenizer":null,"post_processor":null,"decoder":null,
  "model":{"type":"WordLevel","vocab":{"[UNK]":0},"unk_token":"[UNK]"}}"#;

fn gpt2_small() -> Result<Model, Box<dyn std::error::Error>> {
    let (vocab, positions, d, layers) = (50257usize, 1024usize, 768usize, 12usize);
    let config = ModelConfig::from_json(
        format!(r#"{{"model_type":"gpt2","n_embd":{d},"n_layer":{layers},"n_head":12,"n_positions":{positions},"vocab_size":{vocab}}}"#)
            .as_bytes(),
    )?;
    let device = Device::Cpu;
    let mut tensors = HashMap::new();
    let mut add = |name: String, shape: &[usize], std: f64| -> candle_core::Result<()> {
        tensors.insert(name, Tensor::randn(0f32, std as f32, shape, &device)?);
        Ok(())
    };
    add("wte.weight".into(), &[vocab, d], 0.02)?;
    add("wpe.weight".into(), &[positions, d], 0.01)?;
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
            add(format!("h.{i}.{name}"), &shape, 0.02)?;
        }
    }
    add("ln_f.weight".into(), &[d], 0.02)?;
    add("ln_f.bias".into(), &[d], 0.02)?;
    let tokenizer = TextTokenizer::from_json(PLACEHOLDER_TOKENIZER.as_bytes())?;
    Ok(Model::from_parts(
        config,
        tokenizer,
        Checkpoint::from_tensors(tensors)?,
    )?)
}

/// What the worker does for the page's trace: the page trace and the first layer's internals
/// copied out; returns the logits where the model predicts.
fn page_trace(
    model: &Model,
    ids: &[u32],
) -> Result<Option<PredictionLogits>, Box<dyn std::error::Error>> {
    let parts = model.page_trace(ids)?;
    parts.layers.first().ok_or("no layers")?.to_layer_trace(0)?;
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
    while let Some(flag) = args.next() {
        if flag == "--page-trace-only" {
            page_trace_only = true;
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
                    "unknown flag {flag}; use --tokens N --runs N [--page-trace-only]"
                )
                .into())
            }
        }
    }
    let start = Instant::now();
    let model = gpt2_small()?;
    eprintln!(
        "built a random GPT-2 small ({} parameters) in {:.1} s",
        model.parameter_count,
        start.elapsed().as_secs_f64()
    );
    let ids: Vec<u32> = (0..tokens as u32).map(|i| (i * 7919) % 50257).collect();
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
        "| engine (candle, {}, release) | GPT-2 small, {tokens} tokens | median of {runs} |",
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

/// The time of one pass's matmuls alone at the benchmarked model's shapes (LM head at one row),
/// each shape timed by the worker's matmul benchmark (the browser benchmark's floor) in the
/// fastest of its four orders — x·W with W [k,n], x·Wᵀ with W [n,k], weight-first (W·xᵀ)ᵀ, and
/// x·Wᵀ as the engine's linear layers compute it. Also prints each shape's four times, and the same with cold weights (each product on the
/// next of 512 MB of distinct copies, as a forward pass reads its weights from memory).
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
    let shapes = [
        ((tokens, d, d), 4 * layers),
        ((tokens, d, ff), layers),
        ((tokens, ff, d), layers),
        ((tokens, d / heads, tokens), heads * layers),
        ((tokens, tokens, d / heads), heads * layers),
        ((1, d, vocab), 1),
    ];
    let time = |shape: (usize, usize, usize), cold_bytes: usize| -> Result<[f64; 4], String> {
        let request = Request::MatmulBenchmark {
            id: 0,
            shapes: vec![shape],
            runs,
            cold_bytes,
        };
        match handle(&mut Session::default(), request) {
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
            Response::Error { message, .. } => Err(message),
            _ => Err("the matmul benchmark gave no times".into()),
        }
    };
    let mut total = 0.0;
    println!("| m × k × n | x·W [k,n] ms | x·Wᵀ, W [n,k] ms | W·xᵀ, W [n,k] ms | engine's x·Wᵀ ms | cold: x·W | cold: x·Wᵀ | cold: W·xᵀ | cold: engine's |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (shape, count) in shapes {
        let warm = time(shape, 0)?;
        let cold = time(shape, 512 << 20)?;
        let (m, k, n) = shape;
        let cells = |times: [f64; 4]| times.map(|ms| format!("{ms:.3}")).join(" | ");
        println!("| {m} × {k} × {n} | {} | {} |", cells(warm), cells(cold));
        total += count as f64 * warm.into_iter().fold(f64::INFINITY, f64::min);
    }
    Ok(total)
}
