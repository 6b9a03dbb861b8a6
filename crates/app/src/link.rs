//! The view as link parameters, both ways, as plain values (tested natively): [`LinkView::parse`]
//! reads a link, naming each parameter it cannot use; [`LinkView::parameters`] writes one.
//!
//! Parameters: `model` (`hub:owner/name[@revision]` or `folder:name`), `text` (and `text2`, the
//! lab's second sentence compared with it; `source` for an
//! encoder–decoder, which also reads `target`, the target so far, and `attention`: encoder,
//! decoder or cross), `layer` and `head`
//! (counted from 1, as the page shows them), `token` (the pinned query token's position),
//! `saliency` (the prediction saliency explains: `POSITION:TOKEN_ID`, the position from 0 as
//! `token`'s, the predicted token by its id),
//! `panel` (a tab's id, see `Panel`), `step` (1–12, see `Step`), `temperature`, `top_k`,
//! `top_p`, `seed`, `lang` (en, zh), `theme` (light, dark; absent: the system's); Ecco's views:
//! `neuron` (the neuron followed, from 0), `factors` (the NMF's count) and `factor_layers`
//! (`first-last`, from 1), `watch` (the rankings' words, comma-separated); the lab: `ablate`
//! (`L:H,…`, from 1; an encoder–decoder's decoder) with `ablate_encoder` and `ablate_cross`
//! for an encoder–decoder's other attentions, `ablation=mean`, `causal_mask=off`, `pad_to` (tokens),
//! `padding_mask=off`, `head_stat` (the head summary: a statistic's name, or `search` with
//! `search_from`, token positions separated by commas, and `search_to`, one position),
//! `induction_seed` (the induction detector run with that seed) with `induction_period`
//! (its repeated tokens; absent: 20); the sandbox: `toy_q`, `toy_k`, `toy_v` (rows separated by
//! `;`, numbers by `,`) with `toy_scale` and `toy_mask` (`on`, `off`); lessons: `tour` (the
//! guided tour's step, from 1) or
//! `lesson` (a lesson file's path on this site) with `lesson_step` (from 1); for embedding:
//! `embed=1` (no site header; the page reports its height to the parent), `panels=` (the tabs
//! offered), `lock=` (model, text, layer, head).
use crate::i18n::Lang;
use crate::state::{
    Embedding, HeadSummary, InductionRun, LessonLink, Lock, Panel, Step, ThemeChoice,
};
use ae_charts::HeadStatistic;
use ae_messages::{
    Ablation, AttentionKind, HeadId, Interventions, ToyMatrices, ToyRequest, FACTOR_RANGE,
    INDUCTION_PERIOD, MAX_WATCHED_TOKENS,
};

/// Everything a link can say; `None` where it says nothing (or nothing usable).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkView {
    /// The `model` parameter as written (checked when the model opens).
    pub model: Option<String>,
    pub text: Option<String>,
    /// The lab's second sentence.
    pub text2: Option<String>,
    /// An encoder–decoder's target so far and shown attention; `attention` set means the view
    /// is an encoder–decoder's, whose text is written as `source`.
    pub target: Option<String>,
    pub attention: Option<AttentionKind>,
    /// 0-based, like the state.
    pub layer: Option<usize>,
    pub head: Option<usize>,
    pub token: Option<usize>,
    /// The prediction saliency explains: (position, predicted token id).
    pub saliency: Option<(usize, u32)>,
    pub step: Option<Step>,
    pub temperature: Option<f32>,
    pub top_k: Option<usize>,
    pub top_p: Option<f32>,
    pub seed: Option<u64>,
    pub lang: Option<Lang>,
    pub theme: Option<ThemeChoice>,
    pub panel: Option<Panel>,
    /// The neuron followed (0-based), the NMF's factor count and layers (0-based, inclusive).
    pub neuron: Option<usize>,
    pub factors: Option<usize>,
    pub factor_layers: Option<(usize, usize)>,
    /// The rankings' watched words; empty: none.
    pub watch: Vec<String>,
    /// The lab's interventions; the default: none.
    pub lab: Interventions,
    /// The lab's head summary; `None`: the default.
    pub head_summary: Option<HeadSummary>,
    /// The induction detector's run, if one was asked for.
    pub induction: Option<InductionRun>,
    /// The sandbox's typed q, k, v and toggles; `None`: its first example.
    pub toy: Option<ToyRequest>,
    /// The lesson open, if any.
    pub lesson: Option<LessonLink>,
    pub embedding: Embedding,
}

/// A link read: what it asks for, and the parameters it could not use (`name=value`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedLink {
    pub view: LinkView,
    pub ignored: Vec<String>,
}

impl LinkView {
    /// Reads link parameters (name, value), in order; unknown names are not this page's.
    pub fn parse(parameters: &[(String, String)]) -> ParsedLink {
        let get = |name: &str| {
            parameters
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let mut ignored = Vec::new();
        // A number in [min, max] (a whole one where `whole`); anything else is named.
        let mut number = |name: &str, min: f64, max: f64, whole: bool| -> Option<f64> {
            let raw = get(name)?;
            match raw.trim().parse::<f64>() {
                Ok(v) if (min..=max).contains(&v) && (!whole || v.fract() == 0.0) => Some(v),
                _ => {
                    ignored.push(format!("{name}={raw}"));
                    None
                }
            }
        };
        let mut view = LinkView {
            model: get("model"),
            text: get("text").or_else(|| get("source")),
            text2: get("text2").filter(|t| !t.trim().is_empty()),
            target: get("target"),
            layer: number("layer", 1.0, 1e6, true).map(|l| l as usize - 1),
            head: number("head", 1.0, 1e6, true).map(|h| h as usize - 1),
            token: number("token", 0.0, 1e6, true).map(|t| t as usize),
            step: number("step", 1.0, Step::ALL.len() as f64, true)
                .and_then(|s| Step::from_number(s as usize)),
            temperature: number("temperature", 0.1, 3.0, false).map(|t| t as f32),
            top_k: number("top_k", 1.0, 1000.0, true).map(|k| k as usize),
            top_p: number("top_p", 0.05, 1.0, false).map(|p| p as f32),
            seed: number("seed", 0.0, 9e15, true).map(|s| s as u64),
            neuron: number("neuron", 0.0, 1e6, true).map(|n| n as usize),
            factors: number(
                "factors",
                *FACTOR_RANGE.start() as f64,
                *FACTOR_RANGE.end() as f64,
                true,
            )
            .map(|f| f as usize),
            ..LinkView::default()
        };
        let steps = MAX_LESSON_STEPS as f64;
        let tour_step = number("tour", 1.0, steps, true).map(|s| s as usize - 1);
        let lesson_step = number("lesson_step", 1.0, steps, true).map_or(0, |s| s as usize - 1);
        let period = number("induction_period", 2.0, 1e6, true).map(|p| p as usize);
        view.induction = number("induction_seed", 0.0, 9e15, true).map(|seed| InductionRun {
            period: period.unwrap_or(INDUCTION_PERIOD),
            seed: seed as u64,
        });
        let mut choose = |name: &str, pick: &dyn Fn(&str) -> bool| match get(name) {
            Some(value) if pick(&value) => Some(value),
            Some(value) => {
                ignored.push(format!("{name}={value}"));
                None
            }
            None => None,
        };
        view.lang =
            choose("lang", &|v| Lang::from_code(v).is_some()).and_then(|v| Lang::from_code(&v));
        view.theme = choose("theme", &|v| theme_named(v).is_some()).and_then(|v| theme_named(&v));
        view.panel = choose("panel", &|v| panel_named(v).is_some()).and_then(|v| panel_named(&v));
        view.saliency =
            choose("saliency", &|v| saliency_target(v).is_some()).and_then(|v| saliency_target(&v));
        view.attention = choose("attention", &|v| attention_named(v).is_some())
            .and_then(|v| attention_named(&v));
        view.factor_layers =
            choose("factor_layers", &|v| layer_range(v).is_some()).and_then(|v| layer_range(&v));
        view.watch = choose("watch", &|v| word_list(v).len() <= MAX_WATCHED_TOKENS)
            .map(|v| word_list(&v))
            .unwrap_or_default();
        let path = choose("lesson", &is_site_path);
        view.lesson = match (path, tour_step) {
            (Some(path), _) => Some(LessonLink::File {
                path,
                step: lesson_step,
            }),
            (None, Some(step)) => Some(LessonLink::Tour { step }),
            (None, None) => None,
        };
        view.lab = parse_lab(&get, &mut ignored);
        view.head_summary = parse_head_summary(&get, &mut ignored);
        view.embedding = parse_embedding(&get, &mut ignored);
        view.toy = parse_toy(&get, &mut ignored);
        if let Some(&first) = view.embedding.panels.first() {
            // A link that offers some panels shows one of them (the first panel by default).
            let shown = view.panel.unwrap_or(Panel::ALL[0]);
            if !view.embedding.panels.contains(&shown) {
                view.panel = Some(first);
            }
        }
        ParsedLink { view, ignored }
    }

    /// The view as link parameters, in a fixed order.
    pub fn parameters(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut put = |name: &'static str, value: Option<String>| {
            if let Some(value) = value {
                out.push((name, value));
            }
        };
        put("model", self.model.clone());
        let text_name = if self.attention.is_some() {
            "source"
        } else {
            "text"
        };
        put(text_name, self.text.clone());
        put("text2", self.text2.clone());
        put("target", self.target.clone());
        put(
            "attention",
            self.attention.map(|a| attention_name(a).to_string()),
        );
        put("layer", self.layer.map(|l| (l + 1).to_string()));
        put("head", self.head.map(|h| (h + 1).to_string()));
        put("token", self.token.map(|t| t.to_string()));
        put(
            "saliency",
            self.saliency
                .map(|(position, id)| format!("{position}:{id}")),
        );
        put("panel", self.panel.map(|p| p.id().to_string()));
        put("step", self.step.map(|s| s.number().to_string()));
        put("temperature", self.temperature.map(|t| t.to_string()));
        put("top_k", self.top_k.map(|k| k.to_string()));
        put("top_p", self.top_p.map(|p| p.to_string()));
        put("seed", self.seed.map(|s| s.to_string()));
        put("lang", self.lang.map(|l| link_code(l).to_string()));
        put("theme", self.theme.map(|t| t.id().to_string()));
        put("neuron", self.neuron.map(|n| n.to_string()));
        put("factors", self.factors.map(|f| f.to_string()));
        put(
            "factor_layers",
            self.factor_layers
                .map(|(first, last)| format!("{}-{}", first + 1, last + 1)),
        );
        put(
            "watch",
            (!self.watch.is_empty()).then(|| self.watch.join(",")),
        );
        let lab = &self.lab;
        for (name, heads) in [
            ("ablate", &lab.ablated),
            ("ablate_encoder", &lab.ablated_encoder),
            ("ablate_cross", &lab.ablated_cross),
        ] {
            put(name, (!heads.is_empty()).then(|| HeadId::list_text(heads)));
        }
        put(
            "ablation",
            (lab.ablation == Ablation::Mean).then(|| "mean".to_string()),
        );
        put(
            "causal_mask",
            lab.causal_mask_off.then(|| "off".to_string()),
        );
        put("pad_to", lab.pad_to.map(|n| n.to_string()));
        put(
            "padding_mask",
            lab.padding_mask_off.then(|| "off".to_string()),
        );
        for (name, value) in self.head_summary.iter().flat_map(head_summary_parameters) {
            put(name, Some(value));
        }
        put(
            "induction_seed",
            self.induction.map(|run| run.seed.to_string()),
        );
        put(
            "induction_period",
            self.induction
                .map(|run| run.period)
                .filter(|&period| period != INDUCTION_PERIOD)
                .map(|period| period.to_string()),
        );
        for (name, value) in self.toy.iter().flat_map(toy_parameters) {
            put(name, Some(value));
        }
        match &self.lesson {
            Some(LessonLink::Tour { step }) => put("tour", Some((step + 1).to_string())),
            Some(LessonLink::File { path, step }) => {
                put("lesson", Some(path.clone()));
                put("lesson_step", Some((step + 1).to_string()));
            }
            None => {}
        }
        let embedding = &self.embedding;
        put("embed", embedding.compact.then(|| "1".to_string()));
        let panels = embedding.panels.iter().map(|p| p.id()).collect::<Vec<_>>();
        put("panels", (!panels.is_empty()).then(|| panels.join(",")));
        let locks = Lock::ALL
            .iter()
            .filter(|(lock, _)| embedding.locked.contains(lock))
            .map(|(_, name)| *name)
            .collect::<Vec<_>>();
        put("lock", (!locks.is_empty()).then(|| locks.join(",")));
        out
    }
}

/// The most steps a lesson may have (a lesson file is untrusted input).
pub const MAX_LESSON_STEPS: usize = 60;

/// Whether a lesson file's address is one the page fetches: a path on this site (no scheme,
/// no other host).
pub fn is_site_path(path: &str) -> bool {
    let path = path.trim();
    let before_slash = path.split(['/', '?', '#']).next().unwrap_or_default();
    !path.is_empty()
        && !path.starts_with("//")
        && !path.starts_with('\\')
        && !before_slash.contains(':')
}

/// The language as a link (and a lesson file) writes it.
pub fn link_code(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "en",
        Lang::Zh => "zh",
    }
}

/// Words separated by commas, trimmed, blanks dropped (the rankings' watch box and `watch`).
pub fn word_list(typed: &str) -> Vec<String> {
    typed
        .split(',')
        .map(|w| w.trim().to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

/// `first-last`, counted from 1, as 0-based (first, last); `None` unless 1 ≤ first ≤ last.
fn layer_range(text: &str) -> Option<(usize, usize)> {
    let (first, last) = text.split_once('-')?;
    let (first, last) = (
        first.trim().parse::<usize>().ok()?,
        last.trim().parse::<usize>().ok()?,
    );
    (1 <= first && first <= last).then(|| (first - 1, last - 1))
}

/// `POSITION:TOKEN_ID`, both whole numbers.
fn saliency_target(text: &str) -> Option<(usize, u32)> {
    let (position, id) = text.split_once(':')?;
    Some((position.trim().parse().ok()?, id.trim().parse().ok()?))
}

fn theme_named(name: &str) -> Option<ThemeChoice> {
    [ThemeChoice::Light, ThemeChoice::Dark]
        .into_iter()
        .find(|t| t.id() == name)
}

/// The attention kinds by their names in a link.
const ATTENTION_NAMES: [(AttentionKind, &str); 3] = [
    (AttentionKind::EncoderSelf, "encoder"),
    (AttentionKind::DecoderSelf, "decoder"),
    (AttentionKind::Cross, "cross"),
];

fn attention_named(name: &str) -> Option<AttentionKind> {
    ATTENTION_NAMES
        .into_iter()
        .find(|(_, n)| *n == name)
        .map(|(kind, _)| kind)
}

fn attention_name(kind: AttentionKind) -> &'static str {
    ATTENTION_NAMES
        .into_iter()
        .find(|(k, _)| *k == kind)
        .map_or("cross", |(_, name)| name)
}

fn panel_named(name: &str) -> Option<Panel> {
    Panel::ALL.into_iter().find(|p| p.id() == name)
}

/// The lab's parameters: `ablate` (and an encoder–decoder's `ablate_encoder`, `ablate_cross`),
/// `ablation`, `causal_mask`, `pad_to`, `padding_mask`.
fn parse_lab(get: &dyn Fn(&str) -> Option<String>, ignored: &mut Vec<String>) -> Interventions {
    let mut lab = Interventions::default();
    let mut reject = |name: &str, value: &str| ignored.push(format!("{name}={value}"));
    for (name, heads) in [
        ("ablate", &mut lab.ablated),
        ("ablate_encoder", &mut lab.ablated_encoder),
        ("ablate_cross", &mut lab.ablated_cross),
    ] {
        if let Some(value) = get(name) {
            match HeadId::parse_list(&value) {
                Some(parsed) => *heads = parsed,
                None => reject(name, &value),
            }
        }
    }
    match get("ablation").as_deref() {
        None | Some("zero") => {}
        Some("mean") => lab.ablation = Ablation::Mean,
        Some(other) => reject("ablation", other),
    }
    let mut off = |name: &str| match get(name).as_deref() {
        None | Some("on") => false,
        Some("off") => true,
        Some(other) => {
            reject(name, other);
            false
        }
    };
    lab.causal_mask_off = off("causal_mask");
    lab.padding_mask_off = off("padding_mask");
    if let Some(value) = get("pad_to") {
        match value.trim().parse::<usize>() {
            Ok(n) if n >= 1 => lab.pad_to = Some(n),
            _ => ignored.push(format!("pad_to={value}")),
        }
    }
    lab
}

/// `head_stat`, with `search_from` and `search_to` when it is `search`.
fn parse_head_summary(
    get: &dyn Fn(&str) -> Option<String>,
    ignored: &mut Vec<String>,
) -> Option<HeadSummary> {
    let value = get("head_stat")?;
    if value != "search" {
        let found = HeadStatistic::parse(&value).map(HeadSummary::Statistic);
        if found.is_none() {
            ignored.push(format!("head_stat={value}"));
        }
        return found;
    }
    let positions = |name: &str| -> Option<Vec<usize>> {
        let raw = get(name)?;
        let parsed: Option<Vec<usize>> = raw.split(',').map(|p| p.trim().parse().ok()).collect();
        parsed.filter(|p| !p.is_empty())
    };
    match (positions("search_from"), positions("search_to").as_deref()) {
        (Some(queries), Some(&[key])) => Some(HeadSummary::Search { queries, key }),
        _ => {
            let said = |name: &str| get(name).unwrap_or_default();
            ignored.push(format!(
                "head_stat=search&search_from={}&search_to={}",
                said("search_from"),
                said("search_to")
            ));
            None
        }
    }
}

/// The head summary as link parameters.
fn head_summary_parameters(summary: &HeadSummary) -> Vec<(&'static str, String)> {
    match summary {
        HeadSummary::Statistic(statistic) => vec![("head_stat", statistic.name().to_string())],
        HeadSummary::Search { queries, key } => {
            let from: Vec<String> = queries.iter().map(usize::to_string).collect();
            vec![
                ("head_stat", "search".to_string()),
                ("search_from", from.join(",")),
                ("search_to", key.to_string()),
            ]
        }
    }
}

/// The sandbox's `toy_q`, `toy_k`, `toy_v`, `toy_scale` and `toy_mask`: all three matrices or
/// none (each named when they do not make a sandbox).
fn parse_toy(
    get: &dyn Fn(&str) -> Option<String>,
    ignored: &mut Vec<String>,
) -> Option<ToyRequest> {
    let names = ["toy_q", "toy_k", "toy_v", "toy_scale", "toy_mask"];
    let given: Vec<(&str, String)> = names.iter().filter_map(|&n| Some((n, get(n)?))).collect();
    if given.is_empty() {
        return None;
    }
    let matrix = |name: &str| -> Option<Vec<Vec<f32>>> {
        get(name)?
            .split(';')
            .map(|row| row.split(',').map(|x| x.trim().parse().ok()).collect())
            .collect()
    };
    let switch = |name: &str, default: bool| match get(name).as_deref() {
        None => Some(default),
        Some("on") => Some(true),
        Some("off") => Some(false),
        Some(_) => None,
    };
    let read = || {
        let matrices = ToyMatrices::Given {
            q: matrix("toy_q")?,
            k: matrix("toy_k")?,
            v: matrix("toy_v")?,
        };
        let scaled = switch("toy_scale", true)?;
        let masked = switch("toy_mask", false)?;
        matrices.problem().is_none().then_some(ToyRequest {
            matrices,
            scaled,
            masked,
        })
    };
    let toy = read();
    if toy.is_none() {
        ignored.extend(given.iter().map(|(n, v)| format!("{n}={v}")));
    }
    toy
}

/// The sandbox as link parameters.
fn toy_parameters(toy: &ToyRequest) -> Vec<(&'static str, String)> {
    let ToyMatrices::Given { q, k, v } = &toy.matrices else {
        return Vec::new();
    };
    let written = |m: &Vec<Vec<f32>>| {
        let rows: Vec<String> = m
            .iter()
            .map(|row| row.iter().map(f32::to_string).collect::<Vec<_>>().join(","))
            .collect();
        rows.join(";")
    };
    let switch = |on: bool| if on { "on" } else { "off" }.to_string();
    vec![
        ("toy_q", written(q)),
        ("toy_k", written(k)),
        ("toy_v", written(v)),
        ("toy_scale", switch(toy.scaled)),
        ("toy_mask", switch(toy.masked)),
    ]
}

/// `embed`, `panels` and `lock`.
fn parse_embedding(get: &dyn Fn(&str) -> Option<String>, ignored: &mut Vec<String>) -> Embedding {
    let list = |name: &str| -> Vec<String> {
        get(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut embedding = Embedding {
        compact: get("embed").is_some_and(|v| v == "1"),
        ..Embedding::default()
    };
    for name in list("panels") {
        match panel_named(&name) {
            Some(panel) => embedding.panels.push(panel),
            None => ignored.push(format!("panels={name}")),
        }
    }
    for name in list("lock") {
        match Lock::ALL.iter().find(|(_, n)| *n == name) {
            Some(&(lock, _)) => embedding.locked.push(lock),
            None => ignored.push(format!("lock={name}")),
        }
    }
    embedding
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(link: &str) -> ParsedLink {
        let parameters: Vec<(String, String)> = link
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (name, value) = p.split_once('=').unwrap_or((p, ""));
                (name.to_string(), value.to_string())
            })
            .collect();
        LinkView::parse(&parameters)
    }

    #[test]
    fn a_written_view_reads_back_the_same() {
        let view = LinkView {
            model: Some("hub:openai-community/gpt2".into()),
            text: Some("The cat sat".into()),
            text2: Some("The dog sat".into()),
            target: None,
            attention: None,
            layer: Some(4),
            head: Some(0),
            token: Some(2),
            saliency: Some((2, 50256)),
            step: Some(Step::Output),
            temperature: Some(0.7),
            top_k: Some(5),
            top_p: Some(0.5),
            seed: Some(7),
            lang: Some(Lang::Zh),
            theme: Some(ThemeChoice::Dark),
            panel: Some(Panel::Predictions),
            neuron: Some(3071),
            factors: Some(8),
            factor_layers: Some((8, 11)),
            watch: vec!["is".into(), "are".into()],
            lab: Interventions {
                ablated: vec![HeadId { layer: 0, head: 2 }, HeadId { layer: 4, head: 0 }],
                ablated_encoder: vec![HeadId { layer: 1, head: 1 }],
                ablated_cross: vec![HeadId { layer: 0, head: 0 }, HeadId { layer: 2, head: 3 }],
                ablation: Ablation::Mean,
                causal_mask_off: true,
                ..Interventions::default()
            },
            head_summary: Some(HeadSummary::Search {
                queries: vec![3, 5],
                key: 1,
            }),
            induction: Some(InductionRun {
                period: 12,
                seed: 3,
            }),
            toy: Some(ToyRequest {
                matrices: ToyMatrices::Given {
                    q: vec![vec![1.0, 0.0], vec![1.0, 2.0]],
                    k: vec![vec![1.0, 0.0], vec![0.0, 1.7]],
                    v: vec![vec![-0.5, 0.25], vec![0.0, 1e-3]],
                },
                scaled: false,
                masked: true,
            }),
            lesson: Some(LessonLink::File {
                path: "lessons/a b.md".into(),
                step: 2,
            }),
            embedding: Embedding {
                compact: true,
                panels: vec![Panel::Heatmaps, Panel::Predictions],
                locked: vec![Lock::Model, Lock::Text],
            },
        };
        let parameters: Vec<(String, String)> = view
            .parameters()
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect();
        assert_eq!(
            LinkView::parse(&parameters),
            ParsedLink {
                view,
                ignored: vec![]
            }
        );
    }

    #[test]
    fn a_sandbox_needs_its_three_matrices_in_shape() {
        let toy = parse("toy_q=1,0;1,2&toy_k=1,0;0,1.7&toy_v=1,0;0,1&toy_mask=on")
            .view
            .toy
            .expect("a sandbox");
        assert!(toy.scaled && toy.masked);
        for bad in [
            "toy_q=1,0;1,2&toy_k=1,0;0,1.7",
            "toy_q=1,0;1,2&toy_k=1,0;0,1.7&toy_v=1,0",
            "toy_q=1;2&toy_k=1;2&toy_v=1;2",
            "toy_q=1,x;1,2&toy_k=1,0;0,1.7&toy_v=1,0;0,1",
            "toy_q=1,0;1,2&toy_k=1,0;0,1.7&toy_v=1,0;0,1&toy_scale=maybe",
            "toy_q=1e40,0;1,2&toy_k=1,0;0,1.7&toy_v=1,0;0,1",
        ] {
            let parsed = parse(bad);
            assert_eq!(parsed.view.toy, None, "{bad}");
            assert!(!parsed.ignored.is_empty(), "{bad}");
        }
    }

    #[test]
    fn lesson_files_come_from_this_site() {
        assert!(is_site_path("lessons/coreference.md"));
        assert!(is_site_path("/course/lessons/a.md"));
        assert!(!is_site_path("https://example.com/a.md"));
        assert!(!is_site_path("//example.com/a.md"));
        assert!(!is_site_path("javascript:alert(1)"));
        assert!(!is_site_path(""));
    }

    #[test]
    fn lessons_in_a_link() {
        assert_eq!(
            parse("tour=3").view.lesson,
            Some(LessonLink::Tour { step: 2 })
        );
        assert_eq!(
            parse("lesson=lessons/x.md&tour=3").view.lesson,
            Some(LessonLink::File {
                path: "lessons/x.md".into(),
                step: 0
            })
        );
        let parsed = parse("tour=0&lesson=https://evil.example/x.md&lesson_step=999");
        assert_eq!(parsed.view.lesson, None);
        assert_eq!(
            parsed.ignored,
            vec![
                "tour=0",
                "lesson_step=999",
                "lesson=https://evil.example/x.md"
            ]
        );
    }

    #[test]
    fn values_out_of_range_are_named_and_ignored() {
        let parsed = parse("layer=99&head=-1&temperature=NaN&step=13&top_k=2.5&lang=fr&theme=pink&panel=x&saliency=3&factors=19&factor_layers=3-2&watch=a,b,c,d,e,f,g,h,i&ablate=0:1&causal_mask=maybe&lock=text,everything&panels=heatmaps,nope");
        assert_eq!(
            parsed.view.layer,
            Some(98),
            "checked against the model later"
        );
        assert_eq!(parsed.view.head, None);
        assert_eq!(parsed.view.temperature, None);
        assert_eq!(
            parsed.ignored,
            [
                "head=-1",
                "step=13",
                "temperature=NaN",
                "top_k=2.5",
                "factors=19",
                "lang=fr",
                "theme=pink",
                "panel=x",
                "saliency=3",
                "factor_layers=3-2",
                "watch=a,b,c,d,e,f,g,h,i",
                "ablate=0:1",
                "causal_mask=maybe",
                "panels=nope",
                "lock=everything"
            ]
        );
        assert_eq!(parsed.view.embedding.locked, [Lock::Text]);
        assert_eq!(
            parsed.view.panel,
            Some(Panel::Heatmaps),
            "one of the offered panels"
        );
    }

    #[test]
    fn an_encoder_decoder_view_reads_back_with_its_source_target_and_attention() {
        let view = LinkView {
            model: Some("folder:date-translator".into()),
            text: Some("the first of may".into()),
            target: Some("2001-05".into()),
            attention: Some(AttentionKind::DecoderSelf),
            layer: Some(1),
            panel: Some(Panel::Translation),
            ..LinkView::default()
        };
        let parameters: Vec<(String, String)> = view
            .parameters()
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect();
        assert_eq!(
            parameters[1],
            ("source".to_string(), "the first of may".to_string())
        );
        assert_eq!(LinkView::parse(&parameters).view, view);
        let parsed = parse("source=a&attention=sideways");
        assert_eq!(parsed.view.text.as_deref(), Some("a"));
        assert_eq!(parsed.ignored, ["attention=sideways"]);
    }

    #[test]
    fn a_head_summary_is_a_statistic_or_a_search_with_both_ends() {
        let previous = parse("head_stat=previous");
        assert_eq!(
            previous.view.head_summary,
            Some(HeadSummary::Statistic(HeadStatistic::Previous))
        );
        for bad in [
            "head_stat=loudness",
            "head_stat=search&search_from=1",
            "head_stat=search&search_from=1,x&search_to=2",
            "head_stat=search&search_from=1&search_to=2,3",
        ] {
            let parsed = parse(bad);
            assert_eq!(parsed.view.head_summary, None, "{bad}");
            assert_eq!(parsed.ignored.len(), 1, "{bad}: {:?}", parsed.ignored);
        }
    }

    #[test]
    fn watched_words_are_trimmed_and_blanks_dropped() {
        assert_eq!(word_list(" is, are,, "), ["is", "are"]);
        assert!(word_list(" , ").is_empty());
        assert_eq!(parse("watch=is,%20are").view.watch.len(), 2);
    }

    #[test]
    fn a_plain_link_asks_for_nothing() {
        assert_eq!(parse(""), ParsedLink::default());
        let zh = parse("lang=zh-CN&layer=1&head=1");
        assert_eq!(
            (zh.view.lang, zh.view.layer, zh.view.head),
            (Some(Lang::Zh), Some(0), Some(0))
        );
    }
}
