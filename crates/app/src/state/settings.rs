//! Settings that shape what is computed and drawn: sampling, the seed, the heatmap options,
//! and what Ecco's views follow (a neuron, the NMF's factors, the watched words).
use leptos::prelude::*;

use ae_charts::{GridOptions, HeadStatistic};
use ae_messages::{SamplingSettings, ToyRequest};

#[derive(Clone, Copy)]
pub struct Settings {
    /// Temperature, top-k and top-p for predictions and sampling.
    pub sampling: RwSignal<SamplingSettings>,
    /// Seed of the first draw; the n-th generated token uses seed + n.
    pub seed: RwSignal<u64>,
    /// How the heatmaps show attention (head average, hidden special tokens, top share).
    pub heatmap: RwSignal<GridOptions>,
    /// The neuron followed over the text; `None`: the query token's strongest.
    pub neuron: RwSignal<Option<usize>>,
    /// How many NMF factors, and of which layers (0-based, first ≤ last; `None`: every layer).
    pub factors: RwSignal<usize>,
    pub factor_layers: RwSignal<Option<(usize, usize)>>,
    /// The words the rankings watch.
    pub watched: RwSignal<Vec<String>>,
    /// What the lab's layers × heads summary shows.
    pub head_summary: RwSignal<HeadSummary>,
    /// The induction detector's run, once asked for.
    pub induction: RwSignal<Option<InductionRun>>,
    /// The sandbox's q, k, v and toggles when they are not its first example.
    pub toy: RwSignal<Option<ToyRequest>>,
}

/// One run of the induction detector: `period` random tokens drawn with `seed`, repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InductionRun {
    pub period: usize,
    pub seed: u64,
}

/// What the lab's layers × heads summary shows: a statistic of each head, or the search for
/// the heads in which the `queries` (token positions) attend to `key`.
#[derive(Debug, Clone, PartialEq)]
pub enum HeadSummary {
    Statistic(HeadStatistic),
    Search { queries: Vec<usize>, key: usize },
}

impl Default for HeadSummary {
    fn default() -> Self {
        HeadSummary::Statistic(HeadStatistic::Entropy)
    }
}

/// The NMF's factor count before anyone chooses one.
pub const DEFAULT_FACTORS: usize = 4;

impl Settings {
    pub fn new() -> Self {
        Settings {
            sampling: RwSignal::new(SamplingSettings {
                temperature: 1.0,
                top_k: 40,
                top_p: 0.9,
            }),
            seed: RwSignal::new(42),
            heatmap: RwSignal::new(GridOptions::default()),
            neuron: RwSignal::new(None),
            factors: RwSignal::new(DEFAULT_FACTORS),
            factor_layers: RwSignal::new(None),
            watched: RwSignal::new(Vec::new()),
            head_summary: RwSignal::new(HeadSummary::default()),
            induction: RwSignal::new(None),
            toy: RwSignal::new(None),
        }
    }
}
