//! Writes a model's full trace for one text as JSON — the same numbers the app shows.
//!
//! cargo run --release --bin trace -- --model DIR --text "..." [--position N] [--target ID] --out trace.json
//! cargo run --release --bin trace -- --model T5_DIR --text SOURCE [--decoder-text TARGET]
//!     [--generate N [--beams B]] --out trace.json
//!
//! DIR holds config.json, tokenizer.json and model.safetensors, or model.gguf (a Llama-family
//! GGUF; DIR may also be the .gguf file itself). The JSON's fields: input_ids,
//! tokens, n_kv_head, token_embeddings / position_embeddings (null for rotary models) / embedding_sum [token][d_model] (the first
//! layer's input before any norm), attentions / scores / masked_scores
//! [layer][head][query][key], q / k / v / head_outputs [layer][head][token][d_head],
//! attention_outputs [layer][token][d_model], hidden_states [layer+1][token][d_model], the
//! norm before the feed-forward network: ln2_inputs (the residual sum it reads) and
//! ln2_outputs [layer][token][d_model], ln2_weights (γ) and ln2_biases (β, null for RMS norms)
//! [layer][d_model]; the network's mlp_outputs [layer][token][d_model], mlp_pre_activations and mlp_activations [layer][token][d_ff] (for a
//! gated network the gate projection, and mlp_up the up projection, else null), logits [token][vocab]
//! and saliency {position, target_id, scores}; rankings (Ecco's grid, `--watch WORD` adds a
//! watched word, repeatable: predicted, prediction_ranks / next_token_ranks / each watched
//! word's ranks [stream][position], surprisal, loss_and_perplexity; null without a head or
//! over 64 tokens) and anatomy (every weight's name, shape, layer and part). Masked (−∞) scores are written as
//! null; logits and saliency are null for a model without a prediction head.
//!
//! For an encoder–decoder (T5, BART, Marian) TEXT is the source and `--decoder-text` the target
//! so far (absent: the decoder start token alone; the target's ids are the start token and the
//! text's tokens without special tokens). The fields: encoder_input_ids / decoder_input_ids,
//! encoder_tokens / decoder_tokens, encoder_attentions / decoder_attentions
//! [layer][head][query][key] and cross_attentions [layer][head][target][source],
//! encoder_hidden_states / decoder_hidden_states [layer+1][token][d_model] (HF's
//! output_hidden_states), the feed-forward fields above per stack (encoder_mlp_activations …),
//! logits [target][vocab], and for each kind (encoder_, decoder_,
//! cross_) q, k, v, scores, masked_scores, head_outputs and attention_outputs; position_bias
//! (T5, [head][query][key]) or position_embeddings per stack. `--generate N` adds `generated`:
//! the ids greedy decoding (or beam search of width B) writes for the source.
//!
//! The lab: `--ablate L:H[,L:H…]` switches self-attention heads off (counted from 1, as the
//! page shows them; their output is zeroed before the output projection, or with
//! `--mean-ablation` replaced by its mean over the text); in an encoder–decoder those are the
//! decoder's, and `--ablate-encoder` and `--ablate-cross` name the encoder's self-attention
//! heads and the cross-attention heads. One-text models only: `--no-causal-mask` lets a decoder's
//! tokens see the whole text, `--pad-to N` pads an encoder's text with its padding token to N
//! tokens and hides the padding from attention unless `--no-padding-mask` is given. Every field
//! is then the intervened model's. `--importance` adds head_importance: {position, target_id,
//! target_token, log_probability, drops [layer][head]}, the drop in log p(target) at the
//! saliency's position and target (`--position`, `--target`) when each head alone is switched
//! off. `--induction P [--seed S]` (decoders) adds induction: {ids, tokens, period, offset,
//! scores [layer][head]}, the induction-head detector on P random tokens drawn with seed S
//! (default 0) repeated once after the start token.
use std::path::PathBuf;
use std::process::ExitCode;

use attention_explorer::engine::{
    Ablation, Array, AttentionInternals, AttentionKind, Decoding, EngineError, HeadId,
    Interventions, Model,
};
use serde_json::{json, Map, Value};

const USAGE: &str = "usage: trace --model DIR --text TEXT [--position N] [--target ID] \
     [--watch WORD]… [--decoder-text TEXT] [--generate N [--beams B]] \
     [--ablate L:H[,L:H…] [--mean-ablation]] [--ablate-encoder L:H,…] [--ablate-cross L:H,…] \
     [--no-causal-mask] [--pad-to N [--no-padding-mask]] \
     [--importance] [--induction P [--seed S]] \
     --out FILE (- for stdout)";

struct Args {
    model: PathBuf,
    text: String,
    position: Option<usize>,
    target: Option<u32>,
    decoder_text: Option<String>,
    generate: Option<usize>,
    beams: Option<usize>,
    watch: Vec<String>,
    lab: Interventions,
    importance: bool,
    /// The induction detector's period and seed.
    induction: Option<(usize, u64)>,
    out: String,
}

fn number<T: std::str::FromStr>(value: String, what: &str) -> Result<T, String> {
    value.parse().map_err(|_| what.to_string())
}

/// The heads `pairs` names for `flag`.
fn head_list(flag: &str, pairs: String) -> Result<Vec<HeadId>, String> {
    HeadId::parse_list(&pairs).ok_or_else(|| {
        format!("{flag} takes layer:head pairs counted from 1, e.g. 1:3,2:1 (got `{pairs}`)")
    })
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut model, mut text, mut position, mut target, mut out) = (None, None, None, None, None);
    let (mut decoder_text, mut generate, mut beams) = (None, None, None);
    let mut watch = Vec::new();
    let mut lab = Interventions::default();
    let mut importance = false;
    let (mut induction, mut seed) = (None, 0);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--model" => model = Some(PathBuf::from(value()?)),
            "--text" => text = Some(value()?),
            "--position" => {
                position = Some(number(
                    value()?,
                    "--position must be a token index (0, 1, …)",
                )?)
            }
            "--target" => target = Some(number(value()?, "--target must be a token id")?),
            "--decoder-text" => decoder_text = Some(value()?),
            "--generate" => {
                generate = Some(number(value()?, "--generate must be a number of tokens")?)
            }
            "--beams" => beams = Some(number(value()?, "--beams must be a number (1–5)")?),
            "--watch" => watch.push(value()?),
            "--ablate" => lab.ablated.extend(head_list(&flag, value()?)?),
            "--ablate-encoder" => lab.ablated_encoder.extend(head_list(&flag, value()?)?),
            "--ablate-cross" => lab.ablated_cross.extend(head_list(&flag, value()?)?),
            "--mean-ablation" => lab.ablation = Ablation::Mean,
            "--no-causal-mask" => lab.causal_mask_off = true,
            "--pad-to" => {
                lab.pad_to = Some(number(value()?, "--pad-to must be a number of tokens")?)
            }
            "--no-padding-mask" => lab.padding_mask_off = true,
            "--importance" => importance = true,
            "--induction" => {
                induction = Some(number(value()?, "--induction must be a number of tokens")?)
            }
            "--seed" => seed = number(value()?, "--seed must be a whole number")?,
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
        decoder_text,
        generate,
        beams,
        watch,
        lab,
        importance,
        induction: induction.map(|period| (period, seed)),
        out: out.ok_or(format!("--out is required\n{USAGE}"))?,
    })
}

fn run(args: Args) -> Result<(), String> {
    let mut model = Model::from_dir(&args.model).map_err(|e| e.to_string())?;
    model
        .set_interventions(args.lab.clone())
        .map_err(|e| e.to_string())?;
    let (output, summary) = if model.is_encoder_decoder() {
        encoder_decoder_json(&model, &args)?
    } else {
        one_text_json(&model, &args)?
    };
    let text = serde_json::to_string(&output).map_err(|e| format!("cannot write JSON: {e}"))?;
    if args.out == "-" {
        println!("{text}");
    } else {
        std::fs::write(&args.out, text).map_err(|e| format!("cannot write {}: {e}", args.out))?;
        eprintln!("wrote {} ({summary})", args.out);
    }
    Ok(())
}

/// The trace of a model that reads one text, and a summary line.
fn one_text_json(model: &Model, args: &Args) -> Result<(Value, String), String> {
    if args.decoder_text.is_some() || args.generate.is_some() {
        return Err(EngineError::NotEncoderDecoder {
            architecture: model.config.architecture.name().to_string(),
        }
        .to_string());
    }
    let describe = |e: EngineError| e.to_string();
    let mut tokenized = model.tokenize(&args.text).map_err(describe)?;
    tokenized.ids = model.padded(&tokenized.ids).map_err(describe)?;
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
    let mut output = json!({
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
    output["rankings"] = rankings_json(model, &tokenized.ids, &args.watch)?;
    if args.importance {
        let importance = model.head_importance(&tokenized.ids, args.position, args.target);
        output["head_importance"] = json!(importance.map_err(describe)?);
    }
    if let Some((period, seed)) = args.induction {
        let found = model.induction_scores(period, seed).map_err(describe)?;
        output["induction"] = json!({
            "ids": found.ids,
            "tokens": found.tokens,
            "period": found.period,
            "offset": found.offset,
            "scores": found.scores,
        });
    }
    output["anatomy"] = json!(model.anatomy);
    output["mlp_up"] = Value::Null;
    output["ln2_biases"] = Value::Null;
    for (name, array) in trace.feed_forward.named_fields() {
        output[name] = array.to_nested_json();
    }
    let summary = format!(
        "{} tokens, {} layers × {} heads",
        trace.page.input_ids.len(),
        model.config.n_layer,
        model.config.n_head
    );
    Ok((output, summary))
}

/// The rankings with the text's loss and perplexity, or null (with a note) for a model
/// without a head or a text longer than the rankings read.
fn rankings_json(model: &Model, ids: &[u32], watch: &[String]) -> Result<Value, String> {
    if !model.has_prediction_head() {
        return Ok(Value::Null);
    }
    match model.rankings(ids, watch) {
        Ok(rankings) => {
            let mut value = json!(rankings);
            value["loss_and_perplexity"] = json!(rankings.loss_and_perplexity());
            Ok(value)
        }
        Err(reason @ EngineError::TooLongForRankings { .. }) => {
            eprintln!("note: no rankings: {reason}");
            Ok(Value::Null)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// The trace of an encoder–decoder over (source, target), and a summary line.
fn encoder_decoder_json(model: &Model, args: &Args) -> Result<(Value, String), String> {
    let describe = |e: EngineError| e.to_string();
    let source = model.tokenize(&args.text).map_err(describe)?.ids;
    let target_text = args.decoder_text.as_deref().unwrap_or("");
    let target = model.target_ids(target_text).map_err(describe)?;
    let trace = model
        .encoder_decoder_trace(&source, &target)
        .map_err(describe)?;
    let mut output = Map::new();
    let mut put = |key: &str, value: Value| output.insert(key.to_string(), value);
    put("encoder_input_ids", json!(trace.source.input_ids));
    put("decoder_input_ids", json!(trace.target.input_ids));
    put("encoder_tokens", json!(trace.source.tokens));
    put("decoder_tokens", json!(trace.target.tokens));
    put("source_visible", json!(trace.source_visible));
    let nested = |array: &Array| array.to_nested_json();
    let optional = |array: &Option<Array>| array.as_ref().map(nested);
    for (prefix, stack) in [("encoder", &trace.source), ("decoder", &trace.target)] {
        put(&format!("{prefix}_attentions"), nested(&stack.attentions));
        put(
            &format!("{prefix}_hidden_states"),
            nested(&stack.hidden_states),
        );
        for (name, array) in stack.feed_forward.named_fields() {
            put(&format!("{prefix}_{name}"), nested(array));
        }
        put(
            &format!("{prefix}_token_embeddings"),
            nested(&stack.token_embeddings),
        );
        put(
            &format!("{prefix}_embedding_sum"),
            nested(&stack.embedding_sum),
        );
        put(
            &format!("{prefix}_position_embeddings"),
            json!(optional(&stack.position_embeddings)),
        );
        put(
            &format!("{prefix}_position_bias"),
            json!(optional(&stack.position_bias)),
        );
        let relative = stack.relative_positions.as_ref().map(
            |r| json!({"distances": r.distances, "buckets": r.buckets, "bias": nested(&r.bias)}),
        );
        put(&format!("{prefix}_relative_positions"), json!(relative));
    }
    put("cross_attentions", nested(&trace.cross_attentions));
    put("logits", nested(&trace.logits));
    for (prefix, kind, internals) in [
        (
            "encoder",
            AttentionKind::EncoderSelf,
            &trace.source.attention,
        ),
        (
            "decoder",
            AttentionKind::DecoderSelf,
            &trace.target.attention,
        ),
        ("cross", AttentionKind::Cross, &trace.cross_attention),
    ] {
        for (name, array) in internal_fields(internals) {
            put(&format!("{prefix}_{name}"), nested(array));
        }
        put(
            &format!("{prefix}_masked_scores"),
            nested(&trace.masked_scores(kind)),
        );
    }
    if let Some(tokens) = args.generate {
        let decoding = match args.beams {
            None => Decoding::Greedy,
            Some(width) => Decoding::Beam { width },
        };
        let written = model
            .generate(&source, tokens, decoding)
            .map_err(describe)?;
        put("generated", json!(written.ids));
        put("generated_text", json!(written.text));
    }
    let summary = format!(
        "{} source and {} target tokens, {} encoder and {} decoder layers",
        source.len(),
        target.len(),
        trace.source.attentions.shape[0],
        trace.target.attentions.shape[0],
    );
    Ok((Value::Object(output), summary))
}

/// An attention's internals by the JSON's names.
fn internal_fields(internals: &AttentionInternals<Array>) -> [(&'static str, &Array); 6] {
    [
        ("q", &internals.q),
        ("k", &internals.k),
        ("v", &internals.v),
        ("scores", &internals.scores),
        ("head_outputs", &internals.head_outputs),
        ("attention_outputs", &internals.attention_output),
    ]
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
