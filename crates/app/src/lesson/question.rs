//! Predict-then-reveal questions: the student picks an answer, then the page shows the model's
//! with its number. A lesson step asks one in a fenced `question` block:
//!
//! ````text
//! ```question
//! ask=attended
//! from=it
//! ```
//! ````
//!
//! `ask` is `attended` (which token does `from`, default the query token, attend to most in
//! the shown layer and head), `next` (which token does the model predict; an encoder: the first
//! [MASK]'s fill) or `salient` (which token matters most for the prediction). "Test yourself"
//! asks the same questions of the page's current view. The choices and the model's answer come
//! from the model's own numbers ([`Choices`]); the score stays in the browser ([`Score`]).
use ae_messages::Candidate;

use super::values::{first_largest, plain_token};

/// What a question asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// The token `from` (default: the query token) gives the most attention to.
    Attended { from: Option<String> },
    /// The model's top prediction (an encoder: for the first [MASK]).
    Next,
    /// The input token with the largest saliency for the top prediction.
    Salient,
}

/// How many predicted tokens a `next` question offers.
pub const NEXT_CHOICES: usize = 5;

impl Ask {
    /// Every kind, in the order "Test yourself" goes through them.
    pub const KINDS: [&'static str; 3] = ["attended", "next", "salient"];

    /// A question block's parameters; the parameters it does not know, as `name=value`.
    pub fn parse(parameters: &[(String, String)]) -> (Option<Ask>, Vec<String>) {
        let value = |name: &str| parameters.iter().find(|(n, _)| n == name).map(|(_, v)| v);
        let mut ignored: Vec<String> = parameters
            .iter()
            .filter(|(n, _)| n != "ask" && n != "from")
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        let ask = match value("ask").map(String::as_str) {
            Some("attended") => Some(Ask::Attended {
                from: value("from").cloned().filter(|f| !f.is_empty()),
            }),
            Some("next") => Some(Ask::Next),
            Some("salient") => Some(Ask::Salient),
            other => {
                ignored.push(format!("ask={}", other.map_or("", |v| v)));
                None
            }
        };
        if ask.is_some() && !matches!(ask, Some(Ask::Attended { .. })) {
            if let Some(from) = value("from") {
                ignored.push(format!("from={from}"));
            }
        }
        (ask, ignored)
    }

    /// The kind's name, as a block writes it.
    pub fn kind(&self) -> &'static str {
        match self {
            Ask::Attended { .. } => Self::KINDS[0],
            Ask::Next => Self::KINDS[1],
            Ask::Salient => Self::KINDS[2],
        }
    }
}

/// The choices offered and the model's number for each; `answer` is the model's choice.
#[derive(Debug, Clone, PartialEq)]
pub struct Choices {
    pub labels: Vec<String>,
    pub values: Vec<f32>,
    pub answer: usize,
}

impl Choices {
    /// The first `visible` keys (those the query may see: up to itself in a decoder) with
    /// their weights in `row`.
    pub fn attended(tokens: &[String], row: &[f32], visible: usize) -> Option<Self> {
        let count = visible.min(row.len()).min(tokens.len());
        Self::largest(tokens[..count].to_vec(), row[..count].to_vec())
    }

    /// The first `NEXT_CHOICES` candidates in alphabetical order (the order says nothing
    /// about the probabilities), with their probabilities.
    pub fn next(candidates: &[Candidate]) -> Option<Self> {
        let mut offered: Vec<&Candidate> = candidates.iter().take(NEXT_CHOICES).collect();
        offered.sort_by(|a, b| {
            let key = |c: &Candidate| plain_token(&c.token).to_lowercase();
            key(a).cmp(&key(b)).then(a.token_id.cmp(&b.token_id))
        });
        Self::largest(
            offered.iter().map(|c| c.token.clone()).collect(),
            offered.iter().map(|c| c.probability).collect(),
        )
    }

    /// Every input token with its saliency share.
    pub fn salient(tokens: &[String], shares: &[f32]) -> Option<Self> {
        let count = tokens.len().min(shares.len());
        Self::largest(tokens[..count].to_vec(), shares[..count].to_vec())
    }

    /// The choices with the largest value as the answer (the first of equals); `None` when
    /// there is nothing to choose between.
    fn largest(labels: Vec<String>, values: Vec<f32>) -> Option<Self> {
        if labels.len() < 2 {
            return None;
        }
        Some(Choices {
            answer: first_largest(&values),
            labels,
            values,
        })
    }
}

/// A choice as a button shows it: the token without its space markers, or the token itself
/// when it is only a space.
pub fn choice_label(token: &str) -> &str {
    match plain_token(token) {
        "" => token,
        plain => plain,
    }
}

/// Questions answered and answered as the model does, kept in the browser only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Score {
    pub right: u32,
    pub asked: u32,
}

impl Score {
    /// As stored: `right/asked`.
    pub fn to_stored(self) -> String {
        format!("{}/{}", self.right, self.asked)
    }

    /// What was stored, if it reads as a score (anything else starts again at 0 of 0).
    pub fn from_stored(stored: &str) -> Score {
        let parsed = stored.split_once('/').and_then(|(right, asked)| {
            let (right, asked) = (right.trim().parse().ok()?, asked.trim().parse().ok()?);
            (right <= asked).then_some(Score { right, asked })
        });
        parsed.unwrap_or_default()
    }

    /// After one more answer.
    pub fn answered(self, right: bool) -> Score {
        Score {
            right: self.right.saturating_add(right as u32),
            asked: self.asked.saturating_add(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn parameters(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_question_block_is_read_and_what_it_does_not_know_is_named() {
        let (ask, ignored) = Ask::parse(&parameters(&[("ask", "attended"), ("from", "it")]));
        assert_eq!(
            ask,
            Some(Ask::Attended {
                from: Some("it".into())
            })
        );
        assert!(ignored.is_empty());
        let (ask, ignored) = Ask::parse(&parameters(&[("ask", "next"), ("from", "it")]));
        assert_eq!(
            (ask, ignored),
            (Some(Ask::Next), vec!["from=it".to_string()])
        );
        let (ask, ignored) = Ask::parse(&parameters(&[("ask", "why"), ("colour", "red")]));
        assert_eq!(ask, None);
        assert_eq!(
            ignored,
            vec!["colour=red".to_string(), "ask=why".to_string()]
        );
    }

    #[test]
    fn a_decoder_query_chooses_among_itself_and_earlier_tokens() {
        let tokens = strings(&["The", " animal", " was", " it"]);
        let row = [0.1, 0.6, 0.3, 0.0];
        let choices = Choices::attended(&tokens, &row, 3).unwrap();
        assert_eq!(choices.labels, strings(&["The", " animal", " was"]));
        assert_eq!(choices.answer, 1);
        assert_eq!(
            (choice_label(" animal"), choice_label("␣")),
            ("animal", "␣")
        );
        let all = Choices::attended(&tokens, &[0.1, 0.2, 0.3, 0.4], 4).unwrap();
        assert_eq!((all.labels.len(), all.answer), (4, 3));
        // The first token of a decoder can only look at itself: nothing to choose.
        assert_eq!(Choices::attended(&tokens, &row, 1), None);
    }

    #[test]
    fn predictions_are_offered_in_alphabetical_order() {
        let candidate = |id, token: &str, probability| Candidate {
            token_id: id,
            token: token.into(),
            text: token.into(),
            probability,
            logit: 0.0,
        };
        let candidates = [
            candidate(1, "␣Paris", 0.5),
            candidate(2, "␣the", 0.2),
            candidate(3, "␣a", 0.1),
            candidate(4, "␣Berlin", 0.05),
            candidate(5, "␣Lyon", 0.04),
            candidate(6, "␣Rome", 0.03),
        ];
        let choices = Choices::next(&candidates).unwrap();
        assert_eq!(
            choices.labels,
            strings(&["␣a", "␣Berlin", "␣Lyon", "␣Paris", "␣the"])
        );
        assert_eq!(choices.labels[choices.answer], "␣Paris");
        assert_eq!(choices.values[choices.answer], 0.5);
    }

    #[test]
    fn the_score_is_stored_as_right_of_asked_and_bad_storage_starts_again() {
        let score = Score::default().answered(true).answered(false);
        assert_eq!(score.to_stored(), "1/2");
        assert_eq!(Score::from_stored("1/2"), score);
        for bad in ["", "x/2", "3/2", "1"] {
            assert_eq!(Score::from_stored(bad), Score::default(), "{bad}");
        }
    }
}
