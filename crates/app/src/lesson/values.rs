//! A placeholder's value from the model's own numbers (tested natively). The page gathers what
//! is on screen into [`Live`]; [`value`] reads one placeholder from it:
//!
//! | placeholder | value |
//! |---|---|
//! | `{model}`, `{layers}`, `{heads}`, `{d_model}`, `{d_head}` | the model card |
//! | `{layer}`, `{head}` | the layer and head shown (from 1) |
//! | `{tokens}` | how many tokens the text has |
//! | `{token}` | the query token: the pinned one, else the last (as in the step-through) |
//! | `{attended}` | the token the query gives most attention to, in the shown head |
//! | `{attention}` | that share; `from="it" to="animal"` names the two tokens; `layer`, `head` (from 1) another head |
//! | `{top1}`, `{prob}` | the model's first prediction and its probability |
//! | `{prob token=" Paris"}` | that candidate's probability (among those listed) |
use super::markdown::Placeholder;
use ae_messages::{Array, Candidate};

/// What the page shows, as the placeholders read it.
#[derive(Debug, Clone, Default)]
pub struct Live<'a> {
    pub architecture: &'a str,
    pub layers: usize,
    pub heads: usize,
    pub d_model: usize,
    pub d_head: usize,
    /// The shown layer and head, from 0.
    pub layer: usize,
    pub head: usize,
    /// The text's tokens as shown; `None` before they are known.
    pub tokens: Option<&'a [String]>,
    pub pinned: Option<usize>,
    /// Attention weights [layer, head, query, key]; `None` before the trace.
    pub attentions: Option<&'a Array>,
    /// Whether the model has a prediction head.
    pub predicts: bool,
    /// The first predicted position's candidates; `None` before they come (or without a head).
    pub candidates: Option<&'a [Candidate]>,
}

/// A placeholder's value, or why it has none.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Shown as is; `exact` is the number behind it, for tests and the tooltip.
    Shown { text: String, exact: Option<f32> },
    /// Not known yet (the trace or the predictions are on their way).
    Pending,
    /// Cannot be given: the reason, as a string key and its arguments.
    Missing(&'static str, Vec<(&'static str, String)>),
}

fn shown(text: impl ToString) -> Value {
    Value::Shown {
        text: text.to_string(),
        exact: None,
    }
}

fn number(value: f32, text: String) -> Value {
    Value::Shown {
        text,
        exact: Some(value),
    }
}

/// A token as a student reads it: without the tokenizer's space marks.
pub fn plain_token(token: &str) -> &str {
    token.trim_matches(|c: char| c == '␣' || c == 'Ġ' || c == '▁' || c.is_whitespace())
}

/// Reads `placeholder` from `live`.
pub fn value(placeholder: &Placeholder, live: &Live) -> Value {
    match placeholder.name.as_str() {
        "model" => shown(live.architecture),
        "layers" => shown(live.layers),
        "heads" => shown(live.heads),
        "d_model" => shown(live.d_model),
        "d_head" => shown(live.d_head),
        "layer" => shown(live.layer + 1),
        "head" => shown(live.head + 1),
        "tokens" => live.tokens.map_or(Value::Pending, |t| shown(t.len())),
        "token" => with_query(live, |tokens, query, _| shown(plain_token(&tokens[query]))),
        "attended" | "attention" => attention(placeholder, live),
        "top1" | "prob" => prediction(placeholder, live),
        _ => Value::Missing(
            "lesson.unknown_placeholder",
            vec![("name", placeholder.name.clone())],
        ),
    }
}

/// The query token: pinned, else the last.
fn query(tokens: &[String], pinned: Option<usize>) -> Option<usize> {
    pinned
        .filter(|&p| p < tokens.len())
        .or(tokens.len().checked_sub(1))
}

/// Calls `read` with the tokens, the query's position and the attention weights.
fn with_query(live: &Live, read: impl FnOnce(&[String], usize, Option<&Array>) -> Value) -> Value {
    let Some(tokens) = live.tokens else {
        return Value::Pending;
    };
    match query(tokens, live.pinned) {
        Some(position) => read(tokens, position, live.attentions),
        None => Value::Missing("lesson.no_tokens", Vec::new()),
    }
}

/// The first token that reads as `word`, else the first that does ignoring case.
pub fn find_token(tokens: &[String], word: &str) -> Option<usize> {
    let word = plain_token(word);
    tokens
        .iter()
        .position(|t| plain_token(t) == word)
        .or_else(|| {
            let word = word.to_lowercase();
            tokens
                .iter()
                .position(|t| plain_token(t).to_lowercase() == word)
        })
}

/// `{attended}` and `{attention …}`.
fn attention(placeholder: &Placeholder, live: &Live) -> Value {
    let head_number = |key: &str, current: usize| match placeholder.argument(key) {
        None => Some(current),
        Some(n) => n
            .trim()
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1)),
    };
    let (Some(layer), Some(head)) = (
        head_number("layer", live.layer),
        head_number("head", live.head),
    ) else {
        return Value::Missing("lesson.no_such_head", Vec::new());
    };
    with_query(live, |tokens, query, attentions| {
        let named = |key: &str| {
            placeholder
                .argument(key)
                .map(|w| (w, find_token(tokens, w)))
        };
        let from = match named("from") {
            Some((_, Some(position))) => position,
            Some((word, None)) => return not_in_text(word),
            None => query,
        };
        let Some(attentions) = attentions else {
            return Value::Pending;
        };
        let Some(row) = attentions.row(&[layer, head, from]) else {
            return Value::Missing("lesson.no_such_head", Vec::new());
        };
        let to = match named("to") {
            Some((_, Some(position))) => position,
            Some((word, None)) => return not_in_text(word),
            None => first_largest(row),
        };
        match (placeholder.name.as_str(), row.get(to)) {
            ("attended", _) => shown(plain_token(&tokens[to])),
            (_, Some(&weight)) => number(weight, format!("{weight:.2}")),
            (_, None) => Value::Missing("lesson.no_tokens", Vec::new()),
        }
    })
}

fn not_in_text(word: &str) -> Value {
    Value::Missing(
        "lesson.token_not_in_text",
        vec![("token", word.to_string())],
    )
}

/// The index of the largest value (the first of equals): the key a row of weights attends to
/// most, a question's answer.
pub fn first_largest(row: &[f32]) -> usize {
    let mut best = 0;
    for (key, &weight) in row.iter().enumerate() {
        if weight > row[best] {
            best = key;
        }
    }
    best
}

/// `{top1}` and `{prob …}`.
fn prediction(placeholder: &Placeholder, live: &Live) -> Value {
    let Some(candidates) = live.candidates else {
        return match live.predicts {
            true => Value::Pending,
            false => Value::Missing("lesson.no_predictions", Vec::new()),
        };
    };
    if candidates.is_empty() {
        // An encoder's text without a mask token: nothing to fill.
        return Value::Missing("lesson.no_predictions", Vec::new());
    }
    let wanted = placeholder.argument("token");
    let found = match wanted {
        None => candidates.first(),
        Some(token) => candidates
            .iter()
            .find(|c| c.text == token || c.token == token),
    };
    match (placeholder.name.as_str(), found) {
        ("top1", Some(candidate)) => shown(plain_token(&candidate.token)),
        (_, Some(candidate)) => {
            let p = candidate.probability;
            number(p, format!("{:.1} %", p * 100.0))
        }
        (_, None) => Value::Missing(
            "lesson.not_predicted",
            vec![("token", wanted.unwrap_or_default().to_string())],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::markdown::{blocks, Block, Inline};

    fn placeholder(source: &str) -> Placeholder {
        match &blocks(source)[0] {
            Block::Paragraph(inlines) => match &inlines[0] {
                Inline::Placeholder(p) => p.clone(),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    fn candidate(token: &str, probability: f32) -> Candidate {
        Candidate {
            token_id: 0,
            token: token.to_string(),
            text: token.replace('␣', " "),
            probability,
            logit: 0.0,
        }
    }

    #[test]
    fn attention_reads_the_named_tokens_row_in_the_shown_head() {
        let tokens: Vec<String> = ["The", "␣animal", "␣was", "␣it"].map(String::from).to_vec();
        assert_eq!(find_token(&tokens, "the"), Some(0));
        let with_the: Vec<String> = ["The", "␣the"].map(String::from).to_vec();
        assert_eq!(find_token(&with_the, "the"), Some(1));
        // [layers 1, heads 2, 4, 4]: head 2's row for "it" gives 0.7 to "animal".
        let mut data = vec![0.25; 2 * 16];
        data[16 + 12..16 + 16].copy_from_slice(&[0.1, 0.7, 0.1, 0.1]);
        let attentions = Array {
            shape: vec![1, 2, 4, 4],
            data,
        };
        let live = Live {
            head: 1,
            layers: 1,
            heads: 2,
            tokens: Some(&tokens),
            attentions: Some(&attentions),
            ..Live::default()
        };
        let read = |s: &str| value(&placeholder(s), &live);
        assert_eq!(
            read("{attention from=\"it\" to=\"animal\"}"),
            number(0.7, "0.70".into())
        );
        assert_eq!(read("{attended}"), shown("animal"));
        assert_eq!(read("{token}"), shown("it"));
        assert_eq!(read("{attention}"), number(0.7, "0.70".into()));
        assert_eq!(
            read("{attention from=\"it\" to=\"animal\" head=\"1\"}"),
            number(0.25, "0.25".into())
        );
        assert_eq!(
            read("{attention from=\"cat\" to=\"animal\"}"),
            Value::Missing("lesson.token_not_in_text", vec![("token", "cat".into())])
        );
        assert!(matches!(
            read("{attention head=\"9\"}"),
            Value::Missing("lesson.no_such_head", _)
        ));
        assert_eq!(read("{tokens}"), shown(4));
        assert_eq!(read("{head}"), shown(2));
    }

    #[test]
    fn predictions_and_unknown_names() {
        let candidates = [candidate("␣Paris", 0.5), candidate("␣the", 0.25)];
        let tokens = vec!["x".to_string()];
        let live = Live {
            tokens: Some(&tokens),
            predicts: true,
            candidates: Some(&candidates),
            ..Live::default()
        };
        let read = |s: &str| value(&placeholder(s), &live);
        assert_eq!(read("{top1}"), shown("Paris"));
        assert_eq!(read("{prob}"), number(0.5, "50.0 %".into()));
        assert_eq!(read("{prob token=\" the\"}"), number(0.25, "25.0 %".into()));
        assert!(matches!(
            read("{prob token=\" Rome\"}"),
            Value::Missing("lesson.not_predicted", _)
        ));
        assert!(matches!(
            read("{loudness}"),
            Value::Missing("lesson.unknown_placeholder", _)
        ));
        let waiting = Live {
            predicts: true,
            ..Live::default()
        };
        assert_eq!(value(&placeholder("{top1}"), &waiting), Value::Pending);
        assert_eq!(value(&placeholder("{attention}"), &waiting), Value::Pending);
        // A model without a prediction head (MiniLM) says so instead of waiting.
        let headless = Live {
            tokens: Some(&tokens),
            ..Live::default()
        };
        assert_eq!(
            value(&placeholder("{top1}"), &headless),
            Value::Missing("lesson.no_predictions", Vec::new())
        );
    }

    #[test]
    fn the_query_is_the_pinned_token_else_the_last() {
        let tokens: Vec<String> = ["[CLS]", "hi", "there", "[SEP]"].map(String::from).to_vec();
        assert_eq!(query(&tokens, None), Some(3));
        assert_eq!(query(&tokens, Some(1)), Some(1));
        assert_eq!(query(&tokens, Some(9)), Some(3));
        assert_eq!(query(&[], None), None);
    }
}
