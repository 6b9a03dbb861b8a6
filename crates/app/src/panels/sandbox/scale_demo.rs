//! Why the scores are divided by √dₖ: random q and k (a standard normal draw) of a width the
//! student picks, the last token's weights with and without the division. Without it the
//! dot products spread like √dₖ and the softmax puts nearly all weight on one key.
use leptos::prelude::*;

use crate::client::owned_request;
use crate::i18n::{tr, trf};
use crate::widgets::CaptionedBars;
use ae_charts::Bar;
use ae_messages::{Request, Response, ToyAttention, ToyMatrices, ToyRequest, TOY_TOKENS};

/// Widths shown: 2^0 … 2^10.
const LARGEST_POWER: u32 = 10;

/// The slider, the redraw button and the two bar charts.
#[component]
pub fn ScaleDemo() -> impl IntoView {
    let power = RwSignal::new(6u32);
    let seed = RwSignal::new(0u64);
    let width = move || 1usize << power.get();
    let draw = move |scaled: bool| {
        owned_request(
            move || Some((width(), seed.get())),
            move |&(width, seed): &(usize, u64)| Request::ToyAttention {
                toy: ToyRequest {
                    matrices: ToyMatrices::Random {
                        tokens: *TOY_TOKENS.end(),
                        width,
                        seed,
                    },
                    scaled,
                    masked: false,
                },
            },
            |answer| match answer.response {
                Response::ToyAttention { toy } => Some(*toy),
                _ => None,
            },
        )
    };
    let (raw, scaled) = (draw(false), draw(true));
    view! {
        <section class="sandbox-scale" data-testid="sandbox-scale">
            <h3>{move || tr("sandbox.scale_title")}</h3>
            <p>{move || tr("sandbox.scale_explain")}</p>
            <div class="sandbox-controls">
                <label>
                    {move || format!("{} ", tr("sandbox.width"))}
                    <input
                        type="range"
                        min="0"
                        max=LARGEST_POWER.to_string()
                        data-testid="sandbox-scale-width"
                        prop:value=move || power.get().to_string()
                        on:input=move |ev| {
                            if let Ok(p) = event_target_value(&ev).parse::<u32>() {
                                power.set(p.min(LARGEST_POWER))
                            }
                        }
                    />
                    <output data-testid="sandbox-scale-d">
                        {move || format!(" dₖ = {}", width())}
                    </output>
                </label>
                <button
                    data-testid="sandbox-scale-redraw"
                    on:click=move |_| seed.update(|s| *s += 1)
                >
                    {move || tr("sandbox.scale_redraw")}
                </button>
            </div>
            <div class="chart-row">
                <LastRow
                    answer=Signal::derive(move || raw.value())
                    caption="sandbox.scale_raw"
                    testid="sandbox-scale-raw"
                    chart_testid="sandbox-scale-raw-chart"
                />
                <LastRow
                    answer=Signal::derive(move || scaled.value())
                    caption="sandbox.scale_scaled"
                    testid="sandbox-scale-scaled"
                    chart_testid="sandbox-scale-scaled-chart"
                />
            </div>
        </section>
    }
}

/// The last query's weights as bars, under how far its scores spread and its largest weight.
#[component]
fn LastRow(
    answer: Signal<Option<ToyAttention>>,
    caption: &'static str,
    testid: &'static str,
    chart_testid: &'static str,
) -> impl IntoView {
    // The last query's weights, its scores' spread and its largest weight.
    let last = Memo::new(move |_| {
        answer.with(|toy| {
            let toy = toy.as_ref()?;
            let weights = toy.weights.last().cloned().unwrap_or_default();
            let spread = standard_deviation(toy.scores.last().map_or(&[], Vec::as_slice));
            let largest = weights.iter().cloned().fold(0.0, f32::max);
            Some((weights, spread, largest))
        })
    });
    let bars = Signal::derive(move || {
        last.with(|last| {
            let weights = last.as_ref().map_or(&[][..], |(weights, ..)| weights);
            weights
                .iter()
                .enumerate()
                .map(|(j, &w)| Bar {
                    label: format!("k{}", j + 1),
                    value: w,
                    active: true,
                })
                .collect()
        })
    });
    let text = Signal::derive(move || match last.get() {
        None => tr("lab.computing"),
        Some((_, spread, largest)) => trf(
            caption,
            &[
                ("spread", &format!("{spread:.2}")),
                ("largest", &format!("{largest:.4}")),
            ],
        ),
    });
    let largest = move || last.with(|last| last.as_ref().map(|(.., largest)| largest.to_string()));
    view! {
        <div data-testid=testid data-largest=largest>
            <CaptionedBars caption=text bars testid=chart_testid value_name="sandbox.weight" />
        </div>
    }
}

/// The standard deviation of some scores (how far they spread around their mean).
fn standard_deviation(values: &[f32]) -> f32 {
    let n = values.len().max(1) as f32;
    let mean = values.iter().sum::<f32>() / n;
    (values.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / n).sqrt()
}
