//! A lesson printed as a handout: the card shows each step in turn, and the handout keeps what
//! the page then shows — the step's title, its text with the live numbers, and a copy of the
//! panel with its charts' pixels — then the browser prints it (`@media print` in
//! `style/main.css` shows only the handout) and drops it. The step's text is copied as text:
//! nothing from the lesson file becomes HTML.
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::i18n::tr;
use crate::state::LessonLink;
use web_sys::{Document, Element, HtmlCanvasElement, HtmlElement};

/// The handout's element id; a new print replaces it.
const HANDOUT_ID: &str = "lesson-handout";
/// How long to wait for a step's view at most, in milliseconds.
const STEP_WAIT_MS: u32 = 20_000;

/// "Print handout": walks the lesson's `count` steps, then prints and returns to the step shown.
#[component]
pub fn PrintButton(count: Signal<usize>, title: Signal<String>) -> impl IntoView {
    let open = crate::state::use_state().view.lesson;
    let busy = RwSignal::new(false);
    let print = move |_| {
        let Some(back_to) = open.get_untracked() else {
            return;
        };
        busy.set(true);
        let title = title.get_untracked();
        leptos::task::spawn_local(async move {
            let _ = build_handout(open, count.get_untracked(), &title).await;
            let _ = open.try_set(Some(back_to));
            let _ = busy.try_set(false);
            if let Some(window) = web_sys::window() {
                let _ = window.print();
            }
        });
    };
    view! {
        <button data-testid="lesson-print" prop:disabled=move || busy.get() on:click=print>
            {move || if busy.get() { tr("lesson.printing") } else { tr("lesson.print") }}
        </button>
    }
}

/// Shows each step and copies it into a new handout.
async fn build_handout(
    open: RwSignal<Option<LessonLink>>,
    count: usize,
    title: &str,
) -> Option<()> {
    let document = web_sys::window()?.document()?;
    if let Some(old) = document.get_element_by_id(HANDOUT_ID) {
        old.remove();
    }
    let handout = element(&document, "section", "handout")?;
    handout.set_id(HANDOUT_ID);
    handout.set_attribute("data-testid", "handout").ok()?;
    let heading = element(&document, "h1", "")?;
    heading.set_text_content(Some(title));
    handout.append_child(&heading).ok()?;
    for step in 0..count {
        open.try_update(|o| *o = o.as_ref().map(|link| link.at(step)))?;
        settled(&document, step).await;
        let copied = copy_step(&document, step)?;
        handout.append_child(&copied).ok()?;
    }
    document.body()?.append_child(&handout).ok()?;
    drop_after_printing(&handout);
    Some(())
}

/// Removes the handout once the browser has printed it.
fn drop_after_printing(handout: &Element) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let handout = handout.clone();
    let drop = wasm_bindgen::closure::Closure::once_into_js(move || handout.remove());
    let options = web_sys::AddEventListenerOptions::new();
    options.set_once(true);
    let _ = window.add_event_listener_with_callback_and_add_event_listener_options(
        "afterprint",
        drop.unchecked_ref(),
        &options,
    );
}

/// Waits until the card shows step `step` with every live number known and the page has drawn
/// it (a few frames after the last change), or [`STEP_WAIT_MS`].
async fn settled(document: &Document, step: usize) {
    let counter = format!("{}", step + 1);
    let mut waited = 0;
    let mut quiet = 0;
    while waited < STEP_WAIT_MS && quiet < 3 {
        sleep(100).await;
        waited += 100;
        let shown = document
            .query_selector("[data-testid=lesson-card]")
            .ok()
            .flatten()
            .and_then(|card| card.get_attribute("data-step"))
            .is_some_and(|s| s == counter);
        let pending = document
            .query_selector("[data-testid=lesson-value][data-state=pending]")
            .ok()
            .flatten()
            .is_some();
        quiet = if shown && !pending { quiet + 1 } else { 0 };
    }
}

/// The step as the page shows it now: title, text, and a copy of the panel's first chart.
fn copy_step(document: &Document, step: usize) -> Option<Element> {
    let section = element(document, "article", "handout-step")?;
    section
        .set_attribute("data-step", &(step + 1).to_string())
        .ok()?;
    let text_of = |selector: &str| {
        document
            .query_selector(selector)
            .ok()
            .flatten()
            .and_then(|e| e.dyn_into::<HtmlElement>().ok())
            .map(|e| e.inner_text())
            .unwrap_or_default()
    };
    let title = element(document, "h2", "")?;
    title.set_text_content(Some(&text_of("[data-testid=lesson-step-title]")));
    section.append_child(&title).ok()?;
    for paragraph in text_of("[data-testid=lesson-body]").split("\n\n") {
        let p = element(document, "p", "")?;
        p.set_text_content(Some(paragraph.trim()));
        section.append_child(&p).ok()?;
    }
    if let Some(panel) = panel_copy(document) {
        section.append_child(&panel).ok()?;
    }
    Some(section)
}

/// A copy of the shown panel for paper: its charts' pixels copied, its controls left out, and
/// nothing that identifies an element (ids, test ids, roles), so the page's own stay unique.
fn panel_copy(document: &Document) -> Option<Element> {
    let panel = document.query_selector("[role=tabpanel]").ok()??;
    let copy: Element = panel.clone_node_with_deep(true).ok()?.dyn_into().ok()?;
    copy.set_class_name("handout-panel");
    // Typed numbers (the sandbox's q, k and v) are part of the lesson: printed as text.
    let typed = "input[type=text]";
    for (input, blank) in all(&panel, typed).iter().zip(all(&copy, typed)) {
        let value = input
            .dyn_ref::<web_sys::HtmlInputElement>()
            .map(|i| i.value());
        if let (Some(value), Ok(text)) = (value, document.create_element("span")) {
            text.set_text_content(Some(&value));
            let _ = blank.replace_with_with_node_1(&text);
        }
    }
    for node in all(&copy, "button, select, input, textarea, summary") {
        node.remove();
    }
    let (charts, copies) = (all(&panel, "canvas"), all(&copy, "canvas"));
    for (chart, blank) in charts.iter().zip(&copies) {
        let (Some(chart), Some(blank)) = (
            chart.dyn_ref::<HtmlCanvasElement>(),
            blank.dyn_ref::<HtmlCanvasElement>(),
        ) else {
            continue;
        };
        copy_pixels(chart, blank);
    }
    for node in std::iter::once(copy.clone()).chain(all(&copy, "*")) {
        for name in [
            "id",
            "data-testid",
            "role",
            "aria-label",
            "aria-live",
            "for",
        ] {
            let _ = node.remove_attribute(name);
        }
    }
    Some(copy)
}

/// The elements under `root` that match `selector`, in document order.
fn all(root: &Element, selector: &str) -> Vec<Element> {
    let Ok(found) = root.query_selector_all(selector) else {
        return Vec::new();
    };
    (0..found.length())
        .filter_map(|i| found.item(i)?.dyn_into::<Element>().ok())
        .collect()
}

/// Draws `chart`'s pixels onto `blank`, a cloned canvas (a copy needs no image URL, which the
/// strict Content-Security-Policy would refuse).
fn copy_pixels(chart: &HtmlCanvasElement, blank: &HtmlCanvasElement) {
    blank.set_width(chart.width());
    blank.set_height(chart.height());
    let context = blank
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok());
    if let Some(context) = context {
        let _ = context.draw_image_with_html_canvas_element(chart, 0.0, 0.0);
    }
}

fn element(document: &Document, tag: &str, class: &str) -> Option<Element> {
    let element = document.create_element(tag).ok()?;
    if !class.is_empty() {
        element.set_class_name(class);
    }
    Some(element)
}

/// Resolves after `ms` milliseconds.
async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
