//! A lesson's Markdown as a small tree of plain values (tested natively), which the page turns
//! into elements one by one: there is no raw HTML anywhere. HTML in the file shows as its text;
//! a link keeps its target only when it is `http(s)`, a relative path or a `?`/`#` link to this
//! page; an image shows its description. `{name key="value"}` in text is a live number
//! ([`Placeholder`]).
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, TextMergeStream};

/// A block of a lesson's text.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Paragraph(Vec<Inline>),
    Heading(Vec<Inline>),
    List {
        ordered: bool,
        items: Vec<Vec<Block>>,
    },
    Quote(Vec<Block>),
    Code(String),
    Rule,
}

/// Text within a block.
#[derive(Debug, Clone, PartialEq)]
pub enum Inline {
    Text(String),
    Placeholder(Placeholder),
    Emphasis(Vec<Inline>),
    Strong(Vec<Inline>),
    Code(String),
    /// A link with a target the page allows (see the module's comment).
    Link {
        href: String,
        children: Vec<Inline>,
    },
    Break,
}

/// A live number in a lesson's text: `{name}` or `{name key="value" …}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    pub name: String,
    pub arguments: Vec<(String, String)>,
}

impl Placeholder {
    /// The value of `key`, if given.
    pub fn argument(&self, key: &str) -> Option<&str> {
        self.arguments
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Every placeholder in `blocks`, in order.
pub fn placeholders(blocks: &[Block]) -> Vec<Placeholder> {
    fn in_inlines(inlines: &[Inline], out: &mut Vec<Placeholder>) {
        for inline in inlines {
            match inline {
                Inline::Placeholder(p) => out.push(p.clone()),
                Inline::Emphasis(c) | Inline::Strong(c) | Inline::Link { children: c, .. } => {
                    in_inlines(c, out)
                }
                _ => {}
            }
        }
    }
    fn in_blocks(blocks: &[Block], out: &mut Vec<Placeholder>) {
        for block in blocks {
            match block {
                Block::Paragraph(i) | Block::Heading(i) => in_inlines(i, out),
                Block::List { items, .. } => items.iter().for_each(|item| in_blocks(item, out)),
                Block::Quote(b) => in_blocks(b, out),
                Block::Code(_) | Block::Rule => {}
            }
        }
    }
    let mut out = Vec::new();
    in_blocks(blocks, &mut out);
    out
}

/// Reads Markdown into blocks.
pub fn blocks(markdown: &str) -> Vec<Block> {
    let options = Options::ENABLE_STRIKETHROUGH;
    let mut events = TextMergeStream::new(Parser::new_ext(markdown, options));
    read_blocks(&mut events, None)
}

/// Blocks until the end tag `until` (or the end of the events).
fn read_blocks<'a>(
    events: &mut impl Iterator<Item = Event<'a>>,
    until: Option<TagEnd>,
) -> Vec<Block> {
    let mut out = Vec::new();
    while let Some(event) = events.next() {
        match event {
            Event::End(end) if Some(end) == until => break,
            Event::Start(Tag::Paragraph) => {
                out.push(Block::Paragraph(read_inlines(events, TagEnd::Paragraph)))
            }
            Event::Start(Tag::Heading { level, .. }) => {
                out.push(Block::Heading(read_inlines(events, TagEnd::Heading(level))))
            }
            Event::Start(Tag::BlockQuote(kind)) => out.push(Block::Quote(read_blocks(
                events,
                Some(TagEnd::BlockQuote(kind)),
            ))),
            Event::Start(Tag::List(first)) => {
                let ordered = first.is_some();
                let mut items = Vec::new();
                while let Some(event) = events.next() {
                    match event {
                        Event::Start(Tag::Item) => {
                            items.push(read_blocks(events, Some(TagEnd::Item)))
                        }
                        Event::End(TagEnd::List(_)) => break,
                        _ => {}
                    }
                }
                out.push(Block::List { ordered, items });
            }
            Event::Start(Tag::CodeBlock(_)) => {
                let mut code = String::new();
                for event in events.by_ref() {
                    match event {
                        Event::Text(text) => code.push_str(&text),
                        Event::End(TagEnd::CodeBlock) => break,
                        _ => {}
                    }
                }
                out.push(Block::Code(code));
            }
            Event::Rule => out.push(Block::Rule),
            // Raw HTML blocks show as their text; tight list items' text has no paragraph.
            Event::Html(text) | Event::Text(text) => {
                push_text(&mut out, &text);
            }
            Event::Start(Tag::HtmlBlock) | Event::End(TagEnd::HtmlBlock) => {}
            Event::Start(tag) => {
                let end = tag.to_end();
                let inlines = read_inline_tag(events, tag, end);
                push_inlines(&mut out, inlines);
            }
            other => {
                let mut inlines = Vec::new();
                push_event(&mut inlines, events, other);
                push_inlines(&mut out, inlines);
            }
        }
    }
    out
}

/// Adds text to the last paragraph (opening one if needed).
fn push_text(out: &mut Vec<Block>, text: &str) {
    let mut inlines = Vec::new();
    split_placeholders(text, &mut inlines);
    push_inlines(out, inlines);
}

fn push_inlines(out: &mut Vec<Block>, inlines: Vec<Inline>) {
    if inlines.is_empty() {
        return;
    }
    match out.last_mut() {
        Some(Block::Paragraph(existing)) => existing.extend(inlines),
        _ => out.push(Block::Paragraph(inlines)),
    }
}

/// Inlines until the end tag `until`.
fn read_inlines<'a>(events: &mut impl Iterator<Item = Event<'a>>, until: TagEnd) -> Vec<Inline> {
    let mut out = Vec::new();
    while let Some(event) = events.next() {
        if event == Event::End(until) {
            break;
        }
        push_event(&mut out, events, event);
    }
    out
}

/// One inline event (and, for a tag, everything up to its end).
fn push_event<'a>(
    out: &mut Vec<Inline>,
    events: &mut impl Iterator<Item = Event<'a>>,
    event: Event<'a>,
) {
    match event {
        Event::Text(text) | Event::Html(text) | Event::InlineHtml(text) => {
            split_placeholders(&text, out)
        }
        Event::Code(code) => out.push(Inline::Code(code.to_string())),
        Event::SoftBreak => out.push(Inline::Text(" ".into())),
        Event::HardBreak => out.push(Inline::Break),
        Event::Start(tag) => {
            let end = tag.to_end();
            out.extend(read_inline_tag(events, tag, end));
        }
        _ => {}
    }
}

/// An inline tag's contents, as the page allows them.
fn read_inline_tag<'a>(
    events: &mut impl Iterator<Item = Event<'a>>,
    tag: Tag<'a>,
    end: TagEnd,
) -> Vec<Inline> {
    let children = read_inlines(events, end);
    match tag {
        Tag::Emphasis => vec![Inline::Emphasis(children)],
        Tag::Strong => vec![Inline::Strong(children)],
        Tag::Link { dest_url, .. } => match allowed_link(&dest_url) {
            true => vec![Inline::Link {
                href: dest_url.to_string(),
                children,
            }],
            false => children,
        },
        // An image's description, a strikethrough's text, anything else: the text only.
        _ => children,
    }
}

/// Whether a link may keep its target: http(s), a `?`/`#` link to this page, or a relative
/// path (no scheme such as `javascript:` or `data:`).
fn allowed_link(href: &str) -> bool {
    let lower = href.trim().to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return true;
    }
    let before_path = lower.split(['/', '?', '#']).next().unwrap_or_default();
    !lower.is_empty() && !before_path.contains(':') && !lower.starts_with("//")
}

/// Splits text into literal text and `{name key="value" …}` placeholders.
fn split_placeholders(text: &str, out: &mut Vec<Inline>) {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let Some((placeholder, length)) = placeholder_at(&rest[open..]) else {
            push_literal(out, &rest[..open + 1]);
            rest = &rest[open + 1..];
            continue;
        };
        push_literal(out, &rest[..open]);
        out.push(Inline::Placeholder(placeholder));
        rest = &rest[open + length..];
    }
    push_literal(out, rest);
}

fn push_literal(out: &mut Vec<Inline>, text: &str) {
    if text.is_empty() {
        return;
    }
    match out.last_mut() {
        Some(Inline::Text(existing)) => existing.push_str(text),
        _ => out.push(Inline::Text(text.to_string())),
    }
}

/// A placeholder at the start of `text` (which starts with `{`) and its length in bytes.
fn placeholder_at(text: &str) -> Option<(Placeholder, usize)> {
    let close = text.find('}')?;
    let inner = &text[1..close];
    let name_end = inner.find(' ').unwrap_or(inner.len());
    let name = &inner[..name_end];
    let is_name = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    if !is_name(name) {
        return None;
    }
    let mut arguments = Vec::new();
    let mut rest = inner[name_end..].trim_start();
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let (value, after) = after.split_once('"')?;
        if !is_name(key) {
            return None;
        }
        arguments.push((key.to_string(), value.to_string()));
        rest = after.trim_start();
    }
    let placeholder = Placeholder {
        name: name.to_string(),
        arguments,
    };
    Some((placeholder, close + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Inline {
        Inline::Text(s.to_string())
    }

    #[test]
    fn paragraphs_lists_and_emphasis() {
        let read =
            blocks("# Title\n\nSome *soft* and **strong** `code`.\n\n- one\n- two\n\n1. first\n");
        assert_eq!(read[0], Block::Heading(vec![text("Title")]));
        assert_eq!(
            read[1],
            Block::Paragraph(vec![
                text("Some "),
                Inline::Emphasis(vec![text("soft")]),
                text(" and "),
                Inline::Strong(vec![text("strong")]),
                text(" "),
                Inline::Code("code".into()),
                text("."),
            ])
        );
        assert_eq!(
            read[2],
            Block::List {
                ordered: false,
                items: vec![
                    vec![Block::Paragraph(vec![text("one")])],
                    vec![Block::Paragraph(vec![text("two")])]
                ]
            }
        );
        assert!(matches!(read[3], Block::List { ordered: true, .. }));
    }

    #[test]
    fn placeholders_are_read_with_their_arguments() {
        let read =
            blocks("'it' gives {attention from=\"it\" to=\"animal\"} to it; {top1}. {not one} {A}");
        let names: Vec<String> = placeholders(&read).into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["attention", "top1"]);
        let Block::Paragraph(inlines) = &read[0] else {
            panic!("{read:?}")
        };
        assert_eq!(inlines[0], text("'it' gives "));
        assert_eq!(
            inlines[1],
            Inline::Placeholder(Placeholder {
                name: "attention".into(),
                arguments: vec![("from".into(), "it".into()), ("to".into(), "animal".into())],
            })
        );
        assert_eq!(inlines[2], text(" to it; "));
        assert_eq!(
            inlines[3],
            Inline::Placeholder(Placeholder {
                name: "top1".into(),
                arguments: vec![]
            })
        );
        assert_eq!(inlines[4], text(". {not one} {A}"));
    }

    #[test]
    fn html_and_scripts_stay_text() {
        let hostile = "<script>alert(1)</script>\n\nHi <img src=x onerror=alert(1)> \
            [x](javascript:alert(1)) [y](JaVaScRiPt:alert(1)) [z](data:text/html,hi) \
            ![pic](http://example.com/a.png) [ok](https://example.com) [here](?layer=2)";
        let read = blocks(hostile);
        let flat = format!("{read:?}");
        assert!(flat.contains("<script>alert(1)</script>"), "{flat}");
        assert!(flat.contains("<img src=x onerror=alert(1)>"), "{flat}");
        let links: Vec<String> = read
            .iter()
            .flat_map(|b| match b {
                Block::Paragraph(inlines) => inlines.clone(),
                _ => vec![],
            })
            .filter_map(|i| match i {
                Inline::Link { href, .. } => Some(href),
                _ => None,
            })
            .collect();
        assert_eq!(links, vec!["https://example.com", "?layer=2"]);
    }

    #[test]
    fn link_targets() {
        assert!(allowed_link("lessons/a.md"));
        assert!(allowed_link("#top"));
        assert!(!allowed_link("javascript:alert(1)"));
        assert!(!allowed_link(" vbscript:x"));
        assert!(!allowed_link("//evil.example/x"));
        assert!(!allowed_link(""));
    }
}
