//! A lesson file, read (tested natively). A lesson is one Markdown file:
//!
//! ````text
//! ---
//! title: Who is "it"?
//! language: en
//! model: folder:fixture-gpt2        (optional: the model the lesson opens)
//! text: The animal didn't cross the street because it was too tired.   (optional)
//! ---
//!
//! ## A step's title
//!
//! ```view
//! panel=heatmaps&layer=2&head=1
//! highlight=heatmap
//! ```
//!
//! The step's text, in Markdown, with live numbers: {attention from="it" to="animal"}.
//! ````
//!
//! Each `##` heading starts a step. A step's view is its first fenced block marked `view`:
//! link parameters (the address's names, see `crate::link`), joined by `&` or one per line,
//! plus `highlight` (a part of the page to outline, [`Highlight`]) and `only` (the kind of
//! model the step is for, [`ModelKind`]; other models skip it). A step can end with a question,
//! a fenced block marked `question` (see `super::question`). What comes before the first step
//! is the lesson's introduction.
use super::question::Ask;
use crate::i18n::Lang;
use crate::link::{LinkView, ParsedLink};

pub use crate::link::MAX_LESSON_STEPS as MAX_STEPS;
/// The largest lesson file read, in bytes.
pub const MAX_LESSON_BYTES: usize = 200_000;

/// A lesson, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Lesson {
    pub title: String,
    pub language: Option<Lang>,
    /// The `model` link value it opens, as written (checked when opened).
    pub model: Option<String>,
    pub text: Option<String>,
    /// Markdown before the first step.
    pub introduction: String,
    pub steps: Vec<LessonStep>,
}

/// One step: a title, the view it sets, what to outline, and its Markdown body.
#[derive(Debug, Clone, PartialEq)]
pub struct LessonStep {
    pub title: String,
    /// The view's link parameters, read like the address's.
    pub view: ParsedLink,
    pub highlight: Option<Highlight>,
    /// The models the step is for; `None`: every model.
    pub only: Option<ModelKind>,
    /// The predict-then-reveal question after the text, from a fenced `question` block.
    pub question: Option<Ask>,
    pub body: String,
}

/// The kinds of model a step can be limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// Reads left to right (GPT-2, Llama).
    Decoder,
    /// Reads the whole text both ways (BERT).
    Encoder,
    /// Either of the two: a model of one text.
    OneText,
    /// Reads a source and writes a target (T5, BART, Marian).
    EncoderDecoder,
}

impl ModelKind {
    const NAMES: [(ModelKind, &'static str); 4] = [
        (ModelKind::Decoder, "decoder"),
        (ModelKind::Encoder, "encoder"),
        (ModelKind::OneText, "one-text"),
        (ModelKind::EncoderDecoder, "encoder-decoder"),
    ];

    fn from_name(name: &str) -> Option<ModelKind> {
        Self::NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(kind, _)| *kind)
    }

    /// Whether a model (`causal`, `encoder_decoder`) is of this kind.
    pub fn fits(self, causal: bool, encoder_decoder: bool) -> bool {
        match self {
            ModelKind::Decoder => causal && !encoder_decoder,
            ModelKind::Encoder => !causal && !encoder_decoder,
            ModelKind::OneText => !encoder_decoder,
            ModelKind::EncoderDecoder => encoder_decoder,
        }
    }
}

impl LessonStep {
    /// Whether the step is shown for a model (`causal`, `encoder_decoder`).
    pub fn fits(&self, causal: bool, encoder_decoder: bool) -> bool {
        self.only
            .is_none_or(|kind| kind.fits(causal, encoder_decoder))
    }
}

/// Why a lesson file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LessonError {
    /// Larger than [`MAX_LESSON_BYTES`].
    TooLarge { bytes: usize },
    /// No `## ` step.
    NoSteps,
    /// More than [`MAX_STEPS`].
    TooManySteps { steps: usize },
}

/// A part of the page a step can outline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Highlight {
    Text,
    Tokens,
    Models,
    Layer,
    Head,
    Tabs,
    Chart,
    Steps,
}

impl Highlight {
    /// Every part, with its name in a step's view.
    pub const ALL: [(Highlight, &'static str); 8] = [
        (Highlight::Text, "text"),
        (Highlight::Tokens, "tokens"),
        (Highlight::Models, "models"),
        (Highlight::Layer, "layer"),
        (Highlight::Head, "head"),
        (Highlight::Tabs, "tabs"),
        (Highlight::Chart, "chart"),
        (Highlight::Steps, "steps"),
    ];

    /// The name used in a step's view and in the page's `data-highlight` attribute.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(part, _)| *part == self)
            .map_or("", |(_, name)| name)
    }

    /// The elements it outlines. `style/main.css` outlines them while `<html data-highlight>`
    /// names the part (a test checks that it has a rule for each).
    pub fn selector(self) -> &'static str {
        match self {
            Highlight::Text => "[data-testid=\"text\"]",
            Highlight::Tokens => "[data-testid=\"tokens\"]",
            Highlight::Models => "[data-testid=\"model-card\"]",
            Highlight::Layer => "label:has(> [data-testid=\"layer\"])",
            Highlight::Head => "label:has(> [data-testid=\"head\"])",
            Highlight::Tabs => ".tab-list",
            Highlight::Chart => "[role=\"tabpanel\"] canvas",
            Highlight::Steps => "[data-testid=\"step-list\"]",
        }
    }

    fn from_name(name: &str) -> Option<Highlight> {
        Self::ALL
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(part, _)| *part)
    }
}

impl Lesson {
    /// Reads a lesson file.
    pub fn parse(source: &str) -> Result<Lesson, LessonError> {
        if source.len() > MAX_LESSON_BYTES {
            return Err(LessonError::TooLarge {
                bytes: source.len(),
            });
        }
        let source = source.strip_prefix('\u{feff}').unwrap_or(source);
        let (front, rest) = front_matter(source);
        let field = |name: &str| {
            front
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
                .filter(|value| !value.is_empty())
        };
        let mut sections = split_steps(rest);
        let introduction = sections.remove(0).1;
        if sections.is_empty() {
            return Err(LessonError::NoSteps);
        }
        if sections.len() > MAX_STEPS {
            return Err(LessonError::TooManySteps {
                steps: sections.len(),
            });
        }
        let steps = sections
            .into_iter()
            .map(|(title, body)| LessonStep::parse(title, &body))
            .collect();
        Ok(Lesson {
            title: field("title").unwrap_or_default(),
            language: field("language").and_then(|l| Lang::from_code(&l)),
            model: field("model"),
            text: field("text"),
            introduction: introduction.trim().to_string(),
            steps,
        })
    }
}

impl LessonStep {
    fn parse(title: String, section: &str) -> LessonStep {
        let (block, rest) = fenced_block(section, "view");
        let (question, body) = fenced_block(&rest, "question");
        let mut parameters = view_parameters(&block);
        let mut take = |name: &str| {
            parameters
                .iter()
                .position(|(n, _)| n == name)
                .map(|at| parameters.remove(at).1)
        };
        let (highlight, only) = (take("highlight"), take("only"));
        let mut view = LinkView::parse(&parameters);
        let mut named = |name: &str, value: String, known: bool| {
            if !known {
                view.ignored.push(format!("{name}={value}"));
            }
        };
        let highlight = highlight.and_then(|value| {
            let part = Highlight::from_name(&value);
            named("highlight", value, part.is_some());
            part
        });
        let only = only.and_then(|value| {
            let kind = ModelKind::from_name(&value);
            named("only", value, kind.is_some());
            kind
        });
        let question = match question.trim().is_empty() {
            true => None,
            false => {
                let (ask, ignored) = Ask::parse(&view_parameters(&question));
                view.ignored.extend(ignored);
                ask
            }
        };
        LessonStep {
            title,
            view,
            highlight,
            only,
            question,
            body: body.trim().to_string(),
        }
    }
}

/// The `key: value` lines between a first line `---` and the next `---`, and the rest.
fn front_matter(source: &str) -> (Vec<(String, String)>, &str) {
    let mut lines = source.split_inclusive('\n');
    if lines.next().map(str::trim_end) != Some("---") {
        return (Vec::new(), source);
    }
    let mut fields = Vec::new();
    let mut consumed = source.find('\n').map_or(source.len(), |at| at + 1);
    for line in lines {
        consumed += line.len();
        let line = line.trim_end();
        if line == "---" {
            return (fields, &source[consumed..]);
        }
        if let Some((key, value)) = line.split_once(':') {
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            fields.push((key.trim().to_lowercase(), value.to_string()));
        }
    }
    // No closing line: it was not front matter.
    (Vec::new(), source)
}

/// The text before the first `## ` heading (title empty), then each step's title and body.
/// Headings inside fenced code blocks are not steps.
fn split_steps(source: &str) -> Vec<(String, String)> {
    let mut sections = vec![(String::new(), String::new())];
    let mut fence: Option<&str> = None;
    for line in source.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let marker = ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m));
        match (fence, marker) {
            (None, Some(m)) => fence = Some(m),
            (Some(open), Some(m)) if open == m && trimmed.trim_end() == m => fence = None,
            _ => {}
        }
        match line.strip_prefix("## ") {
            Some(title) if fence.is_none() => {
                sections.push((title.trim().to_string(), String::new()));
            }
            _ => {
                if let Some(last) = sections.last_mut() {
                    last.1.push_str(line);
                }
            }
        }
    }
    sections
}

/// The first fenced block marked `mark` (its contents), and the section without it.
fn fenced_block(section: &str, mark: &str) -> (String, String) {
    let mut block = String::new();
    let mut body = String::new();
    let mut state = 0; // 0 before the block, 1 inside it, 2 after it
    let opens = |line: &str| {
        ["```", "~~~"]
            .iter()
            .any(|fence| line.strip_prefix(fence) == Some(mark))
    };
    for line in section.split_inclusive('\n') {
        let trimmed = line.trim();
        match state {
            0 if opens(trimmed) => state = 1,
            1 if trimmed == "```" || trimmed == "~~~" => state = 2,
            1 => block.push_str(line),
            _ => body.push_str(line),
        }
    }
    if state == 1 {
        // Never closed: not a view block.
        return (String::new(), section.to_string());
    }
    (block, body)
}

/// `a=1&b=2` or one `name=value` per line (values percent-decoded like a link's).
fn view_parameters(block: &str) -> Vec<(String, String)> {
    block
        .split(['\n', '&'])
        .map(str::trim)
        .filter(|part| !part.is_empty() && !part.starts_with('#'))
        .map(|part| match part.split_once('=') {
            Some((name, value)) => (decode(name.trim()), decode(value.trim())),
            None => (decode(part), String::new()),
        })
        .collect()
}

/// Percent-decoding (and `+` as a space), as a link's query is read; invalid escapes stay.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| {
            bytes
                .get(at)
                .and_then(|&b| (b as char).to_digit(16))
                .map(|d| d as u8)
        };
        match bytes[i] {
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Panel;

    const LESSON: &str = "---\ntitle: Who is \"it\"?\nlanguage: zh\nmodel: folder:fixture-gpt2\n\
        text: The animal was tired.\n---\nIntro *text*.\n\n## First\n\n```view\n\
        panel=heatmaps&layer=2\nhead=1\nhighlight=chart\n```\n\nBody {top1}.\n\n\
        ## Second\n\n```python\n## not a step\n```\n\nPlain.\n";

    #[test]
    fn a_lesson_reads_into_front_matter_and_steps() {
        let lesson = Lesson::parse(LESSON).expect("reads");
        assert_eq!(lesson.title, "Who is \"it\"?");
        assert_eq!(lesson.language, Some(Lang::Zh));
        assert_eq!(lesson.model.as_deref(), Some("folder:fixture-gpt2"));
        assert_eq!(lesson.text.as_deref(), Some("The animal was tired."));
        assert_eq!(lesson.introduction, "Intro *text*.");
        assert_eq!(lesson.steps.len(), 2);
        let first = &lesson.steps[0];
        assert_eq!(first.title, "First");
        assert_eq!(first.view.view.panel, Some(Panel::Heatmaps));
        assert_eq!(first.view.view.layer, Some(1));
        assert_eq!(first.view.view.head, Some(0));
        assert_eq!(first.highlight, Some(Highlight::Chart));
        assert_eq!(first.body, "Body {top1}.");
        let second = &lesson.steps[1];
        assert_eq!(second.view.view, LinkView::default());
        assert!(second.body.contains("## not a step"));
    }

    #[test]
    fn bad_view_parameters_are_named_not_fatal() {
        let lesson =
            Lesson::parse("## One\n```view\nlayer=zero&highlight=moon&only=cats\n```\nText")
                .expect("reads");
        let ignored = &lesson.steps[0].view.ignored;
        assert!(ignored.contains(&"layer=zero".to_string()), "{ignored:?}");
        assert!(
            ignored.contains(&"highlight=moon".to_string()),
            "{ignored:?}"
        );
        assert!(ignored.contains(&"only=cats".to_string()), "{ignored:?}");
        assert_eq!(lesson.steps[0].highlight, None);
        assert_eq!(lesson.steps[0].only, None);
    }

    #[test]
    fn a_question_block_ends_a_step_and_its_unknown_parameters_are_named() {
        let source = concat!(
            "## One\n```view\nlayer=2\n```\nText.\n```question\nask=attended\nfrom=it\nx=1\n```\n",
            "## Two\n```question\nask=salient\n```\n## Three\nNo question.\n"
        );
        let lesson = Lesson::parse(source).expect("reads");
        let one = &lesson.steps[0];
        assert_eq!(
            one.question,
            Some(Ask::Attended {
                from: Some("it".into())
            })
        );
        assert_eq!(one.body, "Text.");
        assert_eq!(one.view.ignored, vec!["x=1".to_string()]);
        assert_eq!(one.view.view.layer, Some(1));
        assert_eq!(lesson.steps[1].question, Some(Ask::Salient));
        assert_eq!(lesson.steps[2].question, None);
    }

    #[test]
    fn a_step_can_be_for_one_kind_of_model() {
        let lesson = Lesson::parse(
            "## One\n```view\nonly=decoder\n```\n## Two\n```view\nonly=encoder-decoder\n```\n",
        )
        .expect("reads");
        let (decoder, pair) = (&lesson.steps[0], &lesson.steps[1]);
        assert!(decoder.fits(true, false));
        assert!(!decoder.fits(false, false));
        assert!(!decoder.fits(true, true));
        assert!(pair.fits(true, true));
        assert!(!pair.fits(true, false));
    }

    #[test]
    fn files_without_steps_or_too_large_are_refused() {
        assert_eq!(Lesson::parse("just text"), Err(LessonError::NoSteps));
        assert_eq!(Lesson::parse(""), Err(LessonError::NoSteps));
        let huge = "## a\n".repeat(MAX_LESSON_BYTES / 5 + 1);
        assert!(matches!(
            Lesson::parse(&huge),
            Err(LessonError::TooLarge { .. })
        ));
        let many = "## a\n".repeat(MAX_STEPS + 1);
        assert_eq!(
            Lesson::parse(&many),
            Err(LessonError::TooManySteps {
                steps: MAX_STEPS + 1
            })
        );
    }

    #[test]
    fn an_unclosed_front_matter_or_view_block_is_plain_text() {
        let lesson = Lesson::parse("---\ntitle: x\n## One\n```view\nlayer=2\n").expect("reads");
        assert_eq!(lesson.title, "");
        assert!(lesson.introduction.starts_with("---"));
        assert_eq!(lesson.steps[0].view.view.layer, None);
        assert!(lesson.steps[0].body.contains("layer=2"));
    }

    #[test]
    fn the_style_sheet_outlines_every_part() {
        let css = include_str!("../../../../style/main.css");
        for (part, name) in Highlight::ALL {
            let rule = format!(":root[data-highlight=\"{name}\"] {}", part.selector());
            assert!(css.contains(&rule), "style/main.css has no rule {rule}");
        }
    }

    #[test]
    fn view_values_are_percent_decoded() {
        let lesson = Lesson::parse("## One\n```view\ntext=a%20b+c\n```\n").expect("reads");
        assert_eq!(lesson.steps[0].view.view.text.as_deref(), Some("a b c"));
    }
}
