//! Settings that shape what is computed and drawn: sampling, the seed, the heatmap options.
use leptos::prelude::*;

use ae_charts::GridOptions;
use ae_messages::SamplingSettings;

#[derive(Clone, Copy)]
pub struct Settings {
    /// Temperature, top-k and top-p for predictions and sampling.
    pub sampling: RwSignal<SamplingSettings>,
    /// Seed of the first draw; the n-th generated token uses seed + n.
    pub seed: RwSignal<u64>,
    /// How the heatmaps show attention (head average, hidden special tokens, top share).
    pub heatmap: RwSignal<GridOptions>,
}

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
        }
    }
}
