//! Writes a model's full trace for one text as JSON — the same numbers the app shows.
//!
//! cargo run --release --bin trace -- --model DIR --text "..." [--position N] [--target ID] --out trace.json
//!
//! DIR holds config.json, tokenizer.json and model.safetensors, or model.gguf (a Llama-family
//! GGUF; DIR may also be the .gguf file itself). The JSON's fields: input_ids,
//! tokens, n_kv_head, token_embeddings / position_embeddings (null for rotary models) / embedding_sum [token][d_model] (the first
//! layer's input before any norm), attentions / scores / masked_scores
//! [layer][head][query][key], q / k / v / head_outputs [layer][head][token][d_head],
//! attention_outputs [layer][token][d_model], hidden_states [layer+1][token][d_model], logits
//! [token][vocab] and saliency {position, target_id, scores}. Masked (−∞) scores are written as
//! null; logits and saliency are null for a model without a prediction head.
use std::path::PathBuf;
use std::process::ExitCode;

use attention_explorer::engine::{EngineError, Model};
use serde_json::{json, Value};

const USAGE: &str =
    "usage: trace --model DIR --text TEXT [--position N] [--target ID] --out FILE (- for stdout)";

struct Args {
    model: PathBuf,
    text: String,
    position: Option<usize>,
    target: Option<u32>,
    out: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut model, mut text, mut position, mut target, mut out) = (None, None, None, None, None);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--model" => model = Some(PathBuf::from(value()?)),
            "--text" => text = Some(value()?),
            "--position" => {
                position = Some(
                    value()?
                        .parse()
                        .map_err(|_| "--position must be a token index (0, 1, …)")?,
                )
            }
            "--target" => {
                target = Some(
                    value()?
                        .parse()
                        .map_err(|_| "--target must be a token id")?,
                )
            }
            "--out" => out = Some(value()?),
            "--help" | "-h" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(Args {
        model: model.ok_or(format!("--model is required\n{USAGE}"))?,
        text: text.ok_or(format!("--text is required\n{USAGE}"))?,
        position,
        target,
        out: out.ok_or(format!("--out is required\n{USAGE}"))?,
    })
}

fn run(args: Args) -> Result<(), String> {
    let describe = |e: EngineError| e.to_string();
    let model = Model::from_dir(&args.model).map_err(describe)?;
    let tokenized = model.tokenize(&args.text).map_err(describe)?;
    let trace = model.trace(&tokenized.ids).map_err(describe)?;

    let saliency = if !model.has_prediction_head() {
        Value::Null
    } else {
        match model.saliency(&tokenized.ids, args.position, args.target) {
            Ok(s) => {
                json!({ "position": s.position, "target_id": s.target_id, "scores": s.scores })
            }
            // Without --position, a masked LM needs a [MASK] to know where to explain.
            Err(reason @ EngineError::NoMask { .. }) if args.position.is_none() => {
                eprintln!("note: no saliency: {reason}");
                Value::Null
            }
            Err(e) => return Err(e.to_string()),
        }
    };
    let output = json!({
        "input_ids": trace.page.input_ids,
        "tokens": trace.page.tokens,
        "token_embeddings": trace.page.token_embeddings.to_nested_json(),
        "position_embeddings": trace.page.position_embeddings.as_ref().map(|table| table.to_nested_json()),
        "n_kv_head": trace.page.n_kv_head,
        "embedding_sum": trace.page.embedding_sum.to_nested_json(),
        "attentions": trace.page.attentions.to_nested_json(),
        "scores": trace.attention.scores.to_nested_json(),
        "masked_scores": trace.masked_scores().to_nested_json(),
        "q": trace.attention.q.to_nested_json(),
        "k": trace.attention.k.to_nested_json(),
        "v": trace.attention.v.to_nested_json(),
        "head_outputs": trace.attention.head_outputs.to_nested_json(),
        "attention_outputs": trace.attention.attention_output.to_nested_json(),
        "hidden_states": trace.page.hidden_states.to_nested_json(),
        "logits": trace.logits.as_ref().map(|l| l.to_nested_json()),
        "saliency": saliency,
    });
    let text = serde_json::to_string(&output).map_err(|e| format!("cannot write JSON: {e}"))?;
    if args.out == "-" {
        println!("{text}");
    } else {
        std::fs::write(&args.out, text).map_err(|e| format!("cannot write {}: {e}", args.out))?;
        eprintln!(
            "wrote {} ({} tokens, {} layers × {} heads)",
            args.out,
            trace.page.input_ids.len(),
            model.config.n_layer,
            model.config.n_head
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match parse_args().and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("trace: {message}");
            ExitCode::FAILURE
        }
    }
}
