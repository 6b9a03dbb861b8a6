//! "Record a lesson": the views a teacher recorded, written as a lesson file they can edit
//! (tested natively: the file reads back to the same views).
use crate::i18n::Lang;
use crate::link::{link_code, LinkView};

/// Link parameters a step does not set: the lesson's model and the page's own settings.
const NOT_IN_A_STEP: [&str; 9] = [
    "model",
    "lang",
    "theme",
    "embed",
    "panels",
    "lock",
    "tour",
    "lesson",
    "lesson_step",
];

/// The words of a draft, in the teacher's language: the lesson's title, a step's title with
/// `{n}` for its number, and the text each step starts with.
pub struct DraftWords {
    pub title: String,
    pub step: String,
    pub body: String,
}

/// A lesson file with one step per recorded view. Its front matter names the first view's
/// model and text; every step's view block names its own text too, so steps can be reordered.
pub fn draft(lang: Lang, views: &[LinkView], words: &DraftWords) -> String {
    let first = views.first();
    let mut out = format!(
        "---\ntitle: {}\nlanguage: {}\n",
        words.title,
        link_code(lang)
    );
    if let Some(model) = first.and_then(|v| v.model.as_deref()) {
        out.push_str(&format!("model: {model}\n"));
    }
    if let Some(text) = first.and_then(|v| v.text.as_deref()) {
        out.push_str(&format!("text: {}\n", one_line(text)));
    }
    out.push_str("---\n");
    for (number, view) in views.iter().enumerate() {
        let title = words.step.replace("{n}", &(number + 1).to_string());
        out.push_str(&format!("\n## {title}\n\n```view\n"));
        for (name, value) in view.parameters() {
            if !NOT_IN_A_STEP.contains(&name) {
                out.push_str(&format!("{name}={}\n", escaped(&value)));
            }
        }
        out.push_str(&format!("```\n\n{}\n", words.body));
    }
    out
}

/// A value as a view block line reads it back: `%`, `&`, `+` and line breaks
/// percent-encoded.
fn escaped(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '%' => out.push_str("%25"),
            '&' => out.push_str("%26"),
            '+' => out.push_str("%2B"),
            '\n' => out.push_str("%0A"),
            '\r' => out.push_str("%0D"),
            c => out.push(c),
        }
    }
    out
}

/// Front matter is one line per field.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::Lesson;
    use crate::state::{Panel, Step};
    use ae_messages::{HeadId, Interventions};

    #[test]
    fn a_draft_reads_back_to_the_recorded_views() {
        let first = LinkView {
            model: Some("folder:fixture-gpt2".into()),
            text: Some("50% of cats & dogs + 1\nsecond line".into()),
            layer: Some(1),
            head: Some(3),
            panel: Some(Panel::StepThrough),
            step: Some(Step::Softmax),
            lang: Some(Lang::Zh),
            ..LinkView::default()
        };
        let second = LinkView {
            text: Some("#hash first".into()),
            panel: Some(Panel::Lab),
            lab: Interventions {
                ablated: vec![HeadId { layer: 0, head: 1 }],
                ..Interventions::default()
            },
            watch: vec!["is".into(), "are".into()],
            ..LinkView::default()
        };
        let words = DraftWords {
            title: "Draft".into(),
            step: "Step {n}".into(),
            body: "What to notice.".into(),
        };
        let file = draft(Lang::En, &[first.clone(), second.clone()], &words);
        let lesson = Lesson::parse(&file).expect("the draft reads");
        assert_eq!(lesson.title, "Draft");
        assert_eq!(lesson.model.as_deref(), Some("folder:fixture-gpt2"));
        assert_eq!(
            lesson.text.as_deref(),
            Some("50% of cats & dogs + 1 second line")
        );
        assert_eq!(lesson.steps.len(), 2);
        assert_eq!(lesson.steps[1].title, "Step 2");
        assert_eq!(lesson.steps[1].body, "What to notice.");
        let in_a_step = |view: LinkView| LinkView {
            model: None,
            lang: None,
            ..view
        };
        assert_eq!(lesson.steps[0].view.view, in_a_step(first));
        assert_eq!(lesson.steps[1].view.view, in_a_step(second));
        assert!(lesson.steps.iter().all(|s| s.view.ignored.is_empty()));
    }
}
