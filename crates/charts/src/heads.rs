//! What each head does over the text, as one number per head: the statistics the lab's
//! layers × heads map is coloured and sorted by, and the search for the heads in which chosen
//! query tokens attend to a chosen key. Every function reads attention weights
//! [layer, head, query, key] and gives a [layers, heads] array (or one head's row).
use ae_messages::Array;

/// A per-head statistic: the mean over the text's query rows of one number per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadStatistic {
    /// How spread a row is: −Σ p log₂ p, in bits (0: all on one token).
    Entropy,
    /// The weight on the token just before the query (rows after the first).
    Previous,
    /// The weight on the first token, where many heads park attention (the "sink").
    First,
    /// The weight on the query's own token.
    Own,
    /// The weight on separators: special tokens after the first, and punctuation.
    Separators,
    /// How far back or ahead the weight sits: Σ p·|query − key|, in tokens.
    Distance,
}

impl HeadStatistic {
    /// Every statistic, in the order the page lists them.
    pub const ALL: [HeadStatistic; 6] = [
        HeadStatistic::Entropy,
        HeadStatistic::Previous,
        HeadStatistic::First,
        HeadStatistic::Own,
        HeadStatistic::Separators,
        HeadStatistic::Distance,
    ];

    /// Its name in links, test ids and string keys.
    pub fn name(self) -> &'static str {
        match self {
            HeadStatistic::Entropy => "entropy",
            HeadStatistic::Previous => "previous",
            HeadStatistic::First => "first",
            HeadStatistic::Own => "own",
            HeadStatistic::Separators => "separators",
            HeadStatistic::Distance => "distance",
        }
    }

    /// The statistic called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The row's number, or `None` for a row it does not describe (the first row has no
    /// previous token).
    fn of_row(self, query: usize, row: &[f32], separators: &[bool]) -> Option<f32> {
        match self {
            HeadStatistic::Entropy => Some(
                -row.iter()
                    .filter(|&&p| p > 0.0)
                    .map(|&p| p * p.log2())
                    .sum::<f32>(),
            ),
            HeadStatistic::Previous => query.checked_sub(1).map(|key| row[key]),
            HeadStatistic::First => Some(row[0]),
            HeadStatistic::Own => Some(row[query]),
            HeadStatistic::Separators => Some(
                row.iter()
                    .zip(separators)
                    .filter(|(_, &separator)| separator)
                    .map(|(p, _)| p)
                    .sum(),
            ),
            HeadStatistic::Distance => Some(
                row.iter()
                    .enumerate()
                    .map(|(key, p)| p * query.abs_diff(key) as f32)
                    .sum(),
            ),
        }
    }
}

/// Which positions count as separators: special tokens after the first ([SEP], </s>) and
/// tokens that are punctuation alone.
pub fn separator_positions(tokens: &[String], special: &[bool]) -> Vec<bool> {
    tokens
        .iter()
        .enumerate()
        .map(|(at, token)| {
            let special = at > 0 && special.get(at).copied().unwrap_or(false);
            special || is_punctuation(token)
        })
        .collect()
}

/// Whether a token's text (spaces aside) is punctuation, Latin or Chinese.
fn is_punctuation(token: &str) -> bool {
    let text = token.trim_matches(|c: char| c.is_whitespace() || c == 'Ġ' || c == '▁');
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_punctuation() || "，。！？、；：“”‘’（）《》…—".contains(c))
}

/// The attention array's (layers, heads, tokens), if it is [layer, head, query, key] with
/// square heads.
fn shape(attentions: &Array) -> Option<(usize, usize, usize)> {
    let [layers, heads, queries, keys] = attentions.dims()?;
    (queries == keys).then_some((layers, heads, queries))
}

/// `of_head(matrix, tokens)` for every head's [query, key] matrix: [layers, heads].
fn per_head(attentions: &Array, of_head: impl Fn(&[f32], usize) -> f32) -> Array {
    let Some((layers, heads, tokens)) = shape(attentions) else {
        return Array::default();
    };
    let data = attentions
        .data
        .chunks(tokens * tokens)
        .map(|matrix| of_head(matrix, tokens))
        .collect();
    Array {
        shape: vec![layers, heads],
        data,
    }
}

/// `statistic` for every head: [layers, heads], each the mean over the rows it describes.
pub fn head_statistic(attentions: &Array, separators: &[bool], statistic: HeadStatistic) -> Array {
    per_head(attentions, |matrix, tokens| {
        let rows: Vec<f32> = matrix
            .chunks(tokens)
            .enumerate()
            .filter_map(|(query, row)| statistic.of_row(query, row, separators))
            .collect();
        rows.iter().sum::<f32>() / rows.len().max(1) as f32
    })
}

/// For every head, the weight the `queries` give `key`, summed: [layers, heads].
pub fn attention_from_to(attentions: &Array, queries: &[usize], key: usize) -> Array {
    per_head(attentions, |matrix, tokens| {
        queries
            .iter()
            .filter_map(|&q| matrix.get(q * tokens + key))
            .sum()
    })
}

/// One head's rows of the `queries`, summed: how much of their attention each key gets.
pub fn summed_rows(attentions: &Array, layer: usize, head: usize, queries: &[usize]) -> Vec<f32> {
    let Some(matrix) = attentions.block(&[layer, head]) else {
        return Vec::new();
    };
    let tokens = shape(attentions).map_or(0, |(_, _, t)| t);
    (0..tokens)
        .map(|key| {
            queries
                .iter()
                .filter_map(|&q| matrix.get(q * tokens + key))
                .sum()
        })
        .collect()
}

/// Attention rollout (Abnar & Zuidema 2020) through `layer` [query, key]: each layer's
/// head-averaged attention mixed half-and-half with the identity (the residual connection),
/// rows renormalised, multiplied from the first layer up. An approximation of how much of
/// each input token reaches each position — derived from the weights, not computed by the
/// model.
pub fn attention_rollout(attentions: &Array, layer: usize) -> Vec<f32> {
    let Some((layers, heads, tokens)) = shape(attentions) else {
        return Vec::new();
    };
    let mut rollout: Vec<f32> = (0..tokens * tokens)
        .map(|cell| f32::from(cell / tokens == cell % tokens))
        .collect();
    for l in 0..=layer.min(layers.saturating_sub(1)) {
        let mut mixed = vec![0.0f32; tokens * tokens];
        for head in 0..heads {
            let matrix = attentions.block(&[l, head]).unwrap_or_default();
            for (m, a) in mixed.iter_mut().zip(matrix) {
                *m += 0.5 * a / heads as f32;
            }
        }
        for row in mixed.chunks_mut(tokens).enumerate() {
            let (query, row) = row;
            row[query] += 0.5;
            let sum = row.iter().sum::<f32>().max(f32::MIN_POSITIVE);
            row.iter_mut().for_each(|v| *v /= sum);
        }
        rollout = (0..tokens * tokens)
            .map(|cell| {
                let (query, key) = (cell / tokens, cell % tokens);
                (0..tokens)
                    .map(|via| mixed[query * tokens + via] * rollout[via * tokens + key])
                    .sum()
            })
            .collect();
    }
    rollout
}

/// Every head ordered by its value in a [layers, heads] array, largest first: (layer, head,
/// value).
pub fn ranked_heads(values: &Array) -> Vec<(usize, usize, f32)> {
    let heads = values.shape.get(1).copied().unwrap_or(1).max(1);
    let mut ranked: Vec<(usize, usize, f32)> = values
        .data
        .iter()
        .enumerate()
        .map(|(at, &v)| (at / heads, at % heads, v))
        .collect();
    ranked.sort_by(|a, b| b.2.total_cmp(&a.2));
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One layer, two heads, three tokens: head 1 looks back one token (the first row looks
    /// at itself), head 2 spreads each row evenly over what it may see (causal).
    fn attentions() -> Array {
        let third = 1.0 / 3.0;
        #[rustfmt::skip]
        let data = vec![
            1.0, 0.0, 0.0,   1.0, 0.0, 0.0,   0.0, 1.0, 0.0,
            1.0, 0.0, 0.0,   0.5, 0.5, 0.0,   third, third, third,
        ];
        Array {
            shape: vec![1, 2, 3, 3],
            data,
        }
    }

    fn statistic(statistic: HeadStatistic, separators: &[bool]) -> Vec<f32> {
        head_statistic(&attentions(), separators, statistic).data
    }

    fn close(found: &[f32], expected: &[f32]) {
        assert_eq!(found.len(), expected.len(), "{found:?} vs {expected:?}");
        for (f, e) in found.iter().zip(expected) {
            assert!((f - e).abs() < 1e-6, "{found:?} vs {expected:?}");
        }
    }

    #[test]
    fn each_statistic_is_the_mean_of_its_rows() {
        let none = [false; 3];
        // Head 2's rows hold 0, 1 and log₂ 3 bits.
        close(
            &statistic(HeadStatistic::Entropy, &none),
            &[0.0, (1.0 + 3f32.log2()) / 3.0],
        );
        // Rows 2 and 3 only: head 1 gives the previous token all, head 2 gives 1/2 and 1/3.
        close(
            &statistic(HeadStatistic::Previous, &none),
            &[1.0, (0.5 + 1.0 / 3.0) / 2.0],
        );
        close(
            &statistic(HeadStatistic::First, &none),
            &[2.0 / 3.0, (1.0 + 0.5 + 1.0 / 3.0) / 3.0],
        );
        close(
            &statistic(HeadStatistic::Own, &none),
            &[1.0 / 3.0, (1.0 + 0.5 + 1.0 / 3.0) / 3.0],
        );
        close(
            &statistic(HeadStatistic::Separators, &[false, true, false]),
            &[1.0 / 3.0, (0.5 + 1.0 / 3.0) / 3.0],
        );
        // Head 1: distances 0, 1, 1; head 2: 0, 0.5, (2 + 1 + 0) / 3.
        close(
            &statistic(HeadStatistic::Distance, &none),
            &[2.0 / 3.0, (0.5 + 1.0) / 3.0],
        );
    }

    #[test]
    fn the_search_sums_the_chosen_rows() {
        close(
            &attention_from_to(&attentions(), &[1, 2], 0).data,
            &[1.0, 0.5 + 1.0 / 3.0],
        );
        close(
            &summed_rows(&attentions(), 0, 1, &[1, 2]),
            &[0.5 + 1.0 / 3.0, 0.5 + 1.0 / 3.0, 1.0 / 3.0],
        );
        let ranked = ranked_heads(&attention_from_to(&attentions(), &[2], 1));
        assert_eq!((ranked[0].0, ranked[0].1), (0, 0));
    }

    #[test]
    fn rollout_multiplies_the_layers_mixed_with_the_residual() {
        // Layer 1 averages to [[1, 0, 0], [0.75, 0.25, 0], [1/6, 2/3, 1/6]]; with I and halved:
        // [[1, 0, 0], [0.375, 0.625, 0], [1/12, 1/3, 7/12]].
        let first = attention_rollout(&attentions(), 0);
        let expected = [
            1.0,
            0.0,
            0.0, //
            0.375,
            0.625,
            0.0, //
            1.0 / 12.0,
            1.0 / 3.0,
            7.0 / 12.0,
        ];
        close(&first, &expected);
        // Through a second, identical layer: the first layer's matrix squared.
        let two = Array {
            shape: vec![2, 2, 3, 3],
            data: [attentions().data.clone(), attentions().data].concat(),
        };
        let squared: Vec<f32> = (0..9)
            .map(|cell| {
                let (q, k) = (cell / 3, cell % 3);
                (0..3)
                    .map(|v| expected[q * 3 + v] * expected[v * 3 + k])
                    .sum()
            })
            .collect();
        close(&attention_rollout(&two, 1), &squared);
        // Every row still sums to 1.
        for row in attention_rollout(&two, 1).chunks(3) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn separators_are_later_specials_and_punctuation() {
        let tokens: Vec<String> = ["[CLS]", "Hi", "Ġ,", "。", "[SEP]", "a.b"]
            .map(String::from)
            .to_vec();
        let special = [true, false, false, false, true, false];
        assert_eq!(
            separator_positions(&tokens, &special),
            [false, false, true, true, true, false]
        );
    }
}
