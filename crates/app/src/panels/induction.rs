//! The induction-head detector (decoders): the worker runs random tokens repeated once, and
//! each head is scored by the weight it gives from every token of the second copy to the token
//! after that token's first occurrence. The scores as a layers × heads map and a ranked table;
//! the selected head's attention over the sequence shows the stripe an induction head draws.
use leptos::prelude::*;

use super::head_summary::{head_axis_labels, select_head, RankedHeads};
use super::positions::MatrixCanvas;
use crate::client::owned_request;
use crate::i18n::{tr, trf};
use crate::state::{use_state, InductionRun};
use crate::widgets::Pointed;
use ae_messages::{
    max_induction_period, Array, InductionScores, Request, Response, INDUCTION_PERIOD,
};

/// The section: what it does, the run button, the scores and the selected head's attention.
#[component]
pub fn Induction() -> impl IntoView {
    let state = use_state();
    let run = state.settings.induction;
    let max_period = move || {
        state
            .model
            .read(2, |c| max_induction_period(c.max_positions).max(2))
    };
    // Asked again when the trace changes: the lab's interventions apply to this pass too.
    let found = owned_request(
        move || Some((state.text.trace_id()?, run.get()?)),
        |&(_, run): &(u32, InductionRun)| Request::InductionScores {
            period: run.period,
            seed: run.seed,
        },
        |answer| match answer.response {
            Response::InductionScores { induction } => Some(induction),
            _ => None,
        },
    );
    Effect::new(move |_| {
        if let Some(Err(failure)) = found.current() {
            state.view.report(failure);
        }
    });
    let latest = move || found.latest_if(|_| true);
    let period = RwSignal::new(INDUCTION_PERIOD);
    Effect::new(move |_| {
        if let Some(asked) = run.get() {
            period.set(asked.period);
        }
    });
    let start = move |next_seed: bool| {
        let seed = match (next_seed, run.get_untracked()) {
            (true, Some(last)) => last.seed + 1,
            _ => 0,
        };
        let period = period.get_untracked().clamp(2, max_period());
        run.set(Some(InductionRun { period, seed }));
    };
    view! {
        <section class="lab-induction" data-testid="lab-induction">
            <h3>{move || tr("induction.title")}</h3>
            <p class="muted">{move || tr("induction.explain")}</p>
            <div class="lab-shortcuts">
                <label>
                    {move || format!("{} ", tr("induction.period"))}
                    <input
                        type="number"
                        min="2"
                        max=move || max_period().to_string()
                        data-testid="induction-period"
                        prop:value=move || period.get().to_string()
                        on:change=move |ev| {
                            let typed = event_target_value(&ev).parse().unwrap_or(INDUCTION_PERIOD);
                            period.set(typed.clamp(2, max_period()))
                        }
                    />
                </label>
                <button data-testid="induction-run" on:click=move |_| start(false)>
                    {move || tr("induction.run")}
                </button>
                <Show when=move || run.get().is_some()>
                    <button data-testid="induction-again" on:click=move |_| start(true)>
                        {move || tr("induction.again")}
                    </button>
                </Show>
            </div>
            {move || {
                (run.get().is_some() && found.current().is_none())
                    .then(|| view! { <p class="muted">{move || tr("lab.computing")}</p> })
            }}
            {move || latest().map(|scores| view! { <InductionResult scores /> })}
        </section>
    }
}

/// The scores, the ranked heads and the selected head's attention over the sequence.
#[component]
fn InductionResult(scores: InductionScores) -> impl IntoView {
    let state = use_state();
    let values = Array {
        shape: vec![
            scores.scores.len(),
            scores.scores.first().map_or(0, Vec::len),
        ],
        data: scores.scores.concat(),
    };
    let values = Signal::stored(Some(values));
    let labels = Signal::derive(move || head_axis_labels(state));
    let on_click = Callback::new(move |cell: Pointed| select_head(state, cell.row, cell.column));
    let caption = trf(
        "induction.caption",
        &[("period", &scores.period), ("tokens", &scores.ids.len())],
    );
    let tokens = scores.tokens.clone();
    let attentions = scores.attentions.clone();
    let head_attention = Signal::derive(move || {
        let (layer, head) = (state.selection.layer.get(), state.selection.head.get());
        let matrix = attentions.block(&[layer, head])?.to_vec();
        let side = tokens.len();
        Some(Array {
            shape: vec![side, side],
            data: matrix,
        })
    });
    let token_labels = {
        let tokens = scores.tokens.clone();
        Signal::derive(move || (tokens.clone(), tokens.clone()))
    };
    let head_caption = Signal::derive(move || {
        trf(
            "induction.head_caption",
            &[
                ("layer", &(state.selection.layer.get() + 1)),
                ("head", &(state.selection.head.get() + 1)),
            ],
        )
    });
    view! {
        <p class="induction-sequence" data-testid="induction-sequence">
            {move || tr("induction.sequence")}
            " "
            <code>{scores.tokens.join(" ")}</code>
        </p>
        <div class="chart-row">
            <MatrixCanvas
                values
                testid="induction-map"
                caption
                row_name="lab.layer_axis"
                column_name="lab.head_axis"
                fixed_limit=Some(1.0)
                labels
                on_click
                from_zero=true
            />
            <RankedHeads values testid="induction-ranked" />
        </div>
        <MatrixCanvas
            values=head_attention
            testid="induction-head-attention"
            caption=head_caption
            row_name="induction.query_axis"
            column_name="induction.key_axis"
            fixed_limit=Some(1.0)
            labels=token_labels
            from_zero=true
        />
    }
}
