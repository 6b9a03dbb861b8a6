//! One head's numbers for one query token, cut out of a trace. The steps read the same fields
//! whether the numbers come from a one-text model's layer or from one of an encoder–decoder's
//! three attentions (encoder self, decoder self, cross).
use ae_messages::{
    ActivationKind, Architecture, Array, AttentionInternals, AttentionKind, EncoderDecoderTrace,
    FeedForwardInternals, LayerTrace, PageTrace,
};

/// Which keys the mask hides from the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Masking {
    /// None: the model reads the whole text both ways.
    Nothing,
    /// The keys after the query (a decoder writes left to right).
    LaterTokens,
    /// The source's padding tokens (`count` of them).
    Padding { count: usize },
}

/// Where the queries and the keys come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Attending {
    /// One text's self-attention.
    OneText,
    /// One of an encoder–decoder's attentions.
    Pair(AttentionKind),
}

/// The numbers every step shows, for one layer, head and query.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadNumbers {
    pub architecture: Architecture,
    pub attending: Attending,
    pub layer: usize,
    pub head: usize,
    pub heads: usize,
    pub d_head: usize,
    pub query: usize,
    /// The tokens the queries belong to (the target's in cross-attention).
    pub query_tokens: Vec<String>,
    /// The tokens the keys and values belong to (the source's in cross-attention).
    pub key_tokens: Vec<String>,
    pub masking: Masking,
    /// The row attention reads at the query [d_model].
    pub x: Vec<f32>,
    /// Every query token's q at this head.
    pub q: Vec<Vec<f32>>,
    /// Every key token's k and v at this head.
    pub k: Vec<Vec<f32>>,
    pub v: Vec<Vec<f32>>,
    /// The query's scores before bias and mask: q·k/√dₖ, or q·k where the model does not scale.
    pub scores: Vec<f32>,
    /// T5's relative position bias added to the query's scores.
    pub bias: Option<Vec<f32>>,
    /// The scores the softmax read: + bias, −∞ where masked.
    pub masked: Vec<f32>,
    /// The attention weights.
    pub probs: Vec<f32>,
    /// Every head's output at the query.
    pub head_outputs: Vec<Vec<f32>>,
    /// The attention output after W_O at the query [d_model].
    pub attention_output: Vec<f32>,
    /// The residual stream the output is added to; `None` for cross-attention, whose residual
    /// (the stream after the decoder's self-attention) the trace does not keep.
    pub residual: Option<Vec<f32>>,
    /// The rest of the block at the query token, where the steps go on past attention.
    pub block: Option<BlockNumbers>,
}

/// The rest of a block at one token: the norm before the feed-forward network, the network's
/// two matrices and the non-linearity between them, and the residual.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockNumbers {
    /// Whether the block norms before each sublayer (GPT-2, Llama) or after adding (BERT).
    pub normalises_first: bool,
    /// Whether cross-attention comes between the attention shown and the network (a decoder).
    pub after_cross_attention: bool,
    pub activation: Option<ActivationKind>,
    pub eps: f64,
    /// The residual sum the norm reads [d_model].
    pub norm_input: Vec<f32>,
    /// The norm's γ and (LayerNorm) β [d_model].
    pub gamma: Vec<f32>,
    pub beta: Option<Vec<f32>>,
    /// The norm's output, what the network reads [d_model].
    pub normed: Vec<f32>,
    /// The first matrix's output (gated: the gate) and a gated network's up projection [d_ff].
    pub pre_activations: Vec<f32>,
    pub up: Option<Vec<f32>>,
    /// After the activation (gated: × up) [d_ff].
    pub activations: Vec<f32>,
    /// The second matrix's output [d_model].
    pub output: Vec<f32>,
    /// The stream leaving the block [d_model], when the trace keeps it as the block computed
    /// it (not GPT-2's last, which transformers gives after the final norm).
    pub next_stream: Option<Vec<f32>>,
    /// The last block of a model with a head: the row the head reads [d_model] (after the
    /// final norm for a pre-norm model; the block's output for BERT).
    pub head_input: Option<Vec<f32>>,
}

/// The model card's numbers the block steps need: the non-linearity and the norms' ε.
pub type BlockCard = (Option<ActivationKind>, f64);

impl BlockNumbers {
    /// Layer `detail`'s feed-forward numbers at token `query`; `has_head` adds the row the
    /// prediction head reads after the last layer.
    pub fn of_layer(
        trace: &PageTrace,
        detail: &LayerTrace,
        query: usize,
        card: BlockCard,
        has_head: bool,
    ) -> Option<Self> {
        let layers = trace
            .hidden_states
            .shape
            .first()
            .copied()?
            .saturating_sub(1);
        let stream = Stream {
            hidden_states: &trace.hidden_states,
            layers,
            normalises_first: trace.architecture.normalises_first(),
        };
        let mut numbers = Self::cut(&detail.feed_forward, &[], query, card, &stream)?;
        numbers.next_stream = stream.leaving(detail.layer, query);
        numbers.head_input = (has_head && detail.layer + 1 == layers)
            .then(|| stream.row(layers, query))
            .flatten();
        Some(numbers)
    }

    /// An encoder–decoder's block at `layer` of the stack `kind` reads its queries from, at
    /// token `query`. A decoder block's network follows cross-attention.
    pub fn of_pair(
        trace: &EncoderDecoderTrace,
        kind: AttentionKind,
        layer: usize,
        query: usize,
        card: BlockCard,
    ) -> Option<Self> {
        let stack = match kind {
            AttentionKind::EncoderSelf => &trace.source,
            AttentionKind::DecoderSelf | AttentionKind::Cross => &trace.target,
        };
        let stream = Stream {
            hidden_states: &stack.hidden_states,
            layers: stack
                .hidden_states
                .shape
                .first()
                .copied()?
                .saturating_sub(1),
            normalises_first: trace.architecture.normalises_first(),
        };
        let mut numbers = Self::cut(&stack.feed_forward, &[layer], query, card, &stream)?;
        numbers.after_cross_attention = kind != AttentionKind::EncoderSelf;
        numbers.next_stream = stream.leaving(layer, query);
        Some(numbers)
    }

    /// The network's rows at `query` of arrays whose leading axes are `at`.
    fn cut(
        ff: &FeedForwardInternals<Array>,
        at: &[usize],
        query: usize,
        (activation, eps): BlockCard,
        stream: &Stream,
    ) -> Option<Self> {
        let token = |array: &Array| array.row(&[at, &[query]].concat()).map(<[f32]>::to_vec);
        let weight = |array: &Array| array.row(at).map(<[f32]>::to_vec);
        Some(BlockNumbers {
            normalises_first: stream.normalises_first,
            after_cross_attention: false,
            activation,
            eps,
            norm_input: token(&ff.norm_input)?,
            gamma: weight(&ff.norm_scale)?,
            beta: ff.norm_shift.as_ref().and_then(weight),
            normed: token(&ff.input)?,
            pre_activations: token(&ff.pre_activations)?,
            up: ff.up.as_ref().and_then(token),
            activations: token(&ff.activations)?,
            output: token(&ff.output)?,
            next_stream: None,
            head_input: None,
        })
    }

    /// The norm's statistics of its input: (mean, variance) for a LayerNorm, (0, mean square)
    /// for an RMS norm, in f64 — shown beside the formula; the normed row itself is the model's.
    pub fn norm_statistics(&self) -> (f64, f64) {
        let n = self.norm_input.len().max(1) as f64;
        let values = self.norm_input.iter().map(|&x| x as f64);
        if self.beta.is_none() {
            return (0.0, values.map(|x| x * x).sum::<f64>() / n);
        }
        let mean = values.clone().sum::<f64>() / n;
        (mean, values.map(|x| (x - mean).powi(2)).sum::<f64>() / n)
    }

    /// The `k` neurons with the largest activations, strongest first.
    pub fn strongest_neurons(&self, k: usize) -> Vec<usize> {
        crate::panels::neurons::strongest(&self.activations, k)
            .into_iter()
            .map(|(neuron, _)| neuron)
            .collect()
    }
}

/// A stack's residual stream: `hidden_states` [layers + 1, token, d_model].
struct Stream<'a> {
    hidden_states: &'a Array,
    layers: usize,
    normalises_first: bool,
}

impl Stream<'_> {
    fn row(&self, index: usize, token: usize) -> Option<Vec<f32>> {
        self.hidden_states.row(&[index, token]).map(<[f32]>::to_vec)
    }

    /// The stream leaving block `layer` as the block computed it: not a pre-norm stack's last,
    /// which transformers gives after the final norm.
    fn leaving(&self, layer: usize, token: usize) -> Option<Vec<f32>> {
        (layer + 1 < self.layers || !self.normalises_first)
            .then(|| self.row(layer + 1, token))
            .flatten()
    }
}

/// One layer's internals and its place in their arrays: `at` is the index prefix before the
/// head axis (`[]` for a [`LayerTrace`], `[layer]` for a whole stack's).
struct Cut<'a> {
    internals: &'a AttentionInternals<Array>,
    at: Vec<usize>,
    head: usize,
}

impl Cut<'_> {
    fn index(&self, rest: &[usize]) -> Vec<usize> {
        [self.at.as_slice(), rest].concat()
    }

    /// Row `token` of a [.., head, token, d] array at this head.
    fn head_rows(&self, array: &Array, count: usize) -> Vec<Vec<f32>> {
        (0..count)
            .map(|token| row(array, &self.index(&[self.head, token])))
            .collect()
    }

    fn query_row(&self, array: &Array, query: usize) -> Vec<f32> {
        row(array, &self.index(&[self.head, query]))
    }

    fn every_head(&self, heads: usize, query: usize) -> Vec<Vec<f32>> {
        let outputs = &self.internals.head_outputs;
        (0..heads)
            .map(|h| row(outputs, &self.index(&[h, query])))
            .collect()
    }

    fn token_row(&self, array: &Array, token: usize) -> Vec<f32> {
        row(array, &self.index(&[token]))
    }
}

fn row(array: &Array, index: &[usize]) -> Vec<f32> {
    array.row(index).unwrap_or_default().to_vec()
}

/// [heads, tokens, d_head] of a layer's q (with the leading axes of `at` skipped).
fn head_shape(q: &Array, at: usize) -> Option<(usize, usize, usize)> {
    match q.shape.get(at..)? {
        &[heads, tokens, d_head] => Some((heads, tokens, d_head)),
        _ => None,
    }
}

impl HeadNumbers {
    /// A one-text model's layer (its internals come from the worker layer by layer).
    pub fn of_text(
        trace: &PageTrace,
        detail: &LayerTrace,
        head: usize,
        query: usize,
    ) -> Option<Self> {
        let (heads, n_tokens, d_head) = head_shape(&detail.internals.q, 0)?;
        if head >= heads || query >= n_tokens {
            return None;
        }
        let layer = detail.layer;
        let cut = Cut {
            internals: &detail.internals,
            at: vec![],
            head,
        };
        let scores = cut.query_row(&detail.internals.scores, query);
        let masked = (0..n_tokens)
            .map(|key| match trace.is_masked(query, key) {
                true => f32::NEG_INFINITY,
                false => scores.get(key).copied().unwrap_or_default(),
            })
            .collect();
        Some(HeadNumbers {
            architecture: trace.architecture,
            attending: Attending::OneText,
            layer,
            head,
            heads,
            d_head,
            query,
            query_tokens: trace.tokens.clone(),
            key_tokens: trace.tokens.clone(),
            masking: match trace.causal {
                true => Masking::LaterTokens,
                false => Masking::Nothing,
            },
            x: cut.token_row(&detail.internals.attention_input, query),
            q: cut.head_rows(&detail.internals.q, n_tokens),
            k: cut.head_rows(&detail.internals.k, n_tokens),
            v: cut.head_rows(&detail.internals.v, n_tokens),
            scores,
            bias: None,
            masked,
            probs: row(&trace.attentions, &[layer, head, query]),
            head_outputs: cut.every_head(heads, query),
            attention_output: cut.token_row(&detail.internals.attention_output, query),
            residual: Some(row(&trace.hidden_states, &[layer, query])),
            block: None,
        })
    }

    /// One of an encoder–decoder's attentions at `layer` and `head`, for the query at `query`
    /// (a source position in the encoder, a target position otherwise).
    pub fn of_pair(
        trace: &EncoderDecoderTrace,
        kind: AttentionKind,
        layer: usize,
        head: usize,
        query: usize,
    ) -> Option<Self> {
        let (queries, keys) = match kind {
            AttentionKind::EncoderSelf => (&trace.source, &trace.source),
            AttentionKind::DecoderSelf => (&trace.target, &trace.target),
            AttentionKind::Cross => (&trace.target, &trace.source),
        };
        let (internals, weights) = match kind {
            AttentionKind::Cross => (&trace.cross_attention, &trace.cross_attentions),
            _ => (&queries.attention, &queries.attentions),
        };
        let (heads, n_queries, d_head) = head_shape(&internals.q, 1)?;
        let n_keys = keys.tokens.len();
        if head >= heads || query >= n_queries || layer >= internals.q.shape[0] {
            return None;
        }
        let cut = Cut {
            internals,
            at: vec![layer],
            head,
        };
        let padding = trace.source_visible.iter().filter(|v| !**v).count();
        let masking = match kind {
            AttentionKind::DecoderSelf => Masking::LaterTokens,
            _ if padding > 0 => Masking::Padding { count: padding },
            _ => Masking::Nothing,
        };
        let bias = match kind {
            AttentionKind::Cross => None,
            _ => queries.position_bias.as_ref(),
        };
        Some(HeadNumbers {
            architecture: trace.architecture,
            attending: Attending::Pair(kind),
            layer,
            head,
            heads,
            d_head,
            query,
            query_tokens: queries.tokens.clone(),
            key_tokens: keys.tokens.clone(),
            masking,
            x: cut.token_row(&internals.attention_input, query),
            q: cut.head_rows(&internals.q, n_queries),
            k: cut.head_rows(&internals.k, n_keys),
            v: cut.head_rows(&internals.v, n_keys),
            scores: cut.query_row(&internals.scores, query),
            bias: bias.map(|b| row(b, &[head, query])),
            masked: trace.masked_score_row(kind, layer, head, query),
            probs: row(weights, &[layer, head, query]),
            head_outputs: cut.every_head(heads, query),
            attention_output: cut.token_row(&internals.attention_output, query),
            residual: (kind != AttentionKind::Cross)
                .then(|| row(&queries.hidden_states, &[layer, query])),
            block: None,
        })
    }

    /// √dₖ when the model divides the scores by it.
    pub fn scale(&self) -> Option<f32> {
        self.architecture
            .scales_scores()
            .then(|| (self.d_head as f32).sqrt())
    }

    /// Whether queries and keys come from different sequences.
    pub fn is_cross(&self) -> bool {
        self.attending == Attending::Pair(AttentionKind::Cross)
    }

    pub fn query_token(&self) -> &str {
        self.query_tokens.get(self.query).map_or("", String::as_str)
    }

    pub fn key_token(&self, key: usize) -> &str {
        self.key_tokens.get(key).map_or("", String::as_str)
    }

    /// The key with the largest weight.
    pub fn most_attended(&self) -> usize {
        self.probs
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(j, _)| j)
    }

    /// The query's q.
    pub fn query_q(&self) -> &[f32] {
        self.q.get(self.query).map_or(&[], Vec::as_slice)
    }

    /// The head output at the query.
    pub fn output(&self) -> &[f32] {
        self.head_outputs.get(self.head).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn array(shape: &[usize]) -> Array {
        let count = shape.iter().product::<usize>();
        Array {
            shape: shape.to_vec(),
            data: (0..count).map(|i| i as f32).collect(),
        }
    }

    fn internals(
        layers: usize,
        heads: usize,
        queries: usize,
        keys: usize,
    ) -> AttentionInternals<Array> {
        AttentionInternals {
            attention_input: array(&[layers, queries, 4]),
            q: array(&[layers, heads, queries, 2]),
            k: array(&[layers, heads, keys, 2]),
            v: array(&[layers, heads, keys, 2]),
            scores: array(&[layers, heads, queries, keys]),
            head_outputs: array(&[layers, heads, queries, 2]),
            attention_output: array(&[layers, queries, 4]),
        }
    }

    fn stack(tokens: usize, heads: usize) -> ae_messages::StackTrace {
        ae_messages::StackTrace {
            input_ids: vec![0; tokens],
            tokens: (0..tokens).map(|i| format!("t{i}")).collect(),
            token_embeddings: array(&[tokens, 4]),
            position_embeddings: None,
            embedding_sum: array(&[tokens, 4]),
            attentions: array(&[2, heads, tokens, tokens]),
            hidden_states: array(&[3, tokens, 4]),
            attention: internals(2, heads, tokens, tokens),
            position_bias: Some(array(&[heads, tokens, tokens])),
            relative_positions: None,
            feed_forward: ae_messages::FeedForwardInternals {
                norm_input: array(&[2, tokens, 4]),
                norm_scale: array(&[2, 4]),
                norm_shift: None,
                input: array(&[2, tokens, 4]),
                pre_activations: array(&[2, tokens, 8]),
                up: None,
                activations: array(&[2, tokens, 8]),
                output: array(&[2, tokens, 4]),
            },
        }
    }

    /// A pair of 3 source tokens (the middle one padding) and 2 target tokens.
    fn pair() -> EncoderDecoderTrace {
        EncoderDecoderTrace {
            architecture: Architecture::T5,
            source: stack(3, 2),
            target: stack(2, 2),
            source_visible: vec![true, false, true],
            cross_attentions: array(&[2, 2, 2, 3]),
            cross_attention: internals(2, 2, 2, 3),
            logits: array(&[2, 5]),
        }
    }

    #[test]
    fn cross_attention_reads_target_queries_and_source_keys() {
        let trace = pair();
        let n = HeadNumbers::of_pair(&trace, AttentionKind::Cross, 1, 1, 1).unwrap();
        assert_eq!((n.query_tokens.len(), n.key_tokens.len()), (2, 3));
        // q [layer 1, head 1, query 1] starts at ((1·2 + 1)·2 + 1)·2 = 14.
        assert_eq!(n.query_q(), &[14.0, 15.0]);
        assert_eq!(n.k.len(), 3);
        assert_eq!(n.k[2], vec![22.0, 23.0]);
        // scores [1, 1, 1, ..] start at ((1·2 + 1)·2 + 1)·3 = 21; the padding key is −∞ and
        // cross-attention has no bias.
        assert_eq!(n.scores, vec![21.0, 22.0, 23.0]);
        assert_eq!(n.masked, vec![21.0, f32::NEG_INFINITY, 23.0]);
        assert_eq!(n.bias, None);
        assert_eq!(n.masking, Masking::Padding { count: 1 });
        assert_eq!(n.residual, None);
        assert_eq!(n.scale(), None, "T5 does not divide by √dₖ");
    }

    #[test]
    fn a_pair_block_reads_its_stack_at_the_layer() {
        let trace = pair();
        let card = (Some(ActivationKind::Relu), 1e-6);
        let b = BlockNumbers::of_pair(&trace, AttentionKind::Cross, 1, 1, card).unwrap();
        // The target stack's norm input [layer 1, token 1] starts at (1·2 + 1)·4 = 12, its γ
        // [layer 1] at 4, its activations [1, 1] at 24.
        assert_eq!(b.norm_input, vec![12.0, 13.0, 14.0, 15.0]);
        assert_eq!(b.gamma, vec![4.0, 5.0, 6.0, 7.0]);
        assert_eq!(b.activations[0], 24.0);
        assert!(b.after_cross_attention);
        assert_eq!(
            b.next_stream, None,
            "T5's last stream is given after its final norm"
        );
        assert_eq!(b.head_input, None);
        let b = BlockNumbers::of_pair(&trace, AttentionKind::EncoderSelf, 0, 2, card).unwrap();
        assert_eq!(b.norm_input, vec![8.0, 9.0, 10.0, 11.0]);
        assert!(!b.after_cross_attention);
        // hidden_states [layer + 1 = 1, token 2] starts at (1·3 + 2)·4 = 20.
        assert_eq!(b.next_stream, Some(vec![20.0, 21.0, 22.0, 23.0]));
        assert!(BlockNumbers::of_pair(&trace, AttentionKind::EncoderSelf, 2, 0, card).is_none());
    }

    #[test]
    fn decoder_self_attention_adds_the_bias_and_hides_later_tokens() {
        let trace = pair();
        let n = HeadNumbers::of_pair(&trace, AttentionKind::DecoderSelf, 0, 1, 0).unwrap();
        // scores [0, 1, 0, ..] = [4, 5]; bias [1, 0, ..] = [4, 5].
        assert_eq!(n.masked, vec![8.0, f32::NEG_INFINITY]);
        assert_eq!(n.masking, Masking::LaterTokens);
        assert_eq!(n.residual, Some(vec![0.0, 1.0, 2.0, 3.0]));
        assert!(HeadNumbers::of_pair(&trace, AttentionKind::DecoderSelf, 0, 2, 0).is_none());
        assert!(HeadNumbers::of_pair(&trace, AttentionKind::DecoderSelf, 2, 0, 0).is_none());
    }
}
