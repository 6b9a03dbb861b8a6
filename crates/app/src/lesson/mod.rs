//! Lessons: a Markdown file of steps, each setting the page's view and explaining it with the
//! model's own numbers. The built-in tour is a lesson too (`tour.en.md`, `tour.zh.md`).
//! Reading a lesson ([`format`]), its text ([`markdown`]), its live numbers ([`values`]) and
//! its questions ([`question`]) are plain values, tested natively; `crate::panels::lesson`
//! shows a step and applies its view.
pub mod draft;
pub mod format;
pub mod markdown;
pub mod question;
pub mod values;

pub use crate::state::LessonLink;
pub use format::{Highlight, Lesson, LessonError, LessonStep, MAX_STEPS};

use crate::i18n::Lang;

/// The built-in tour in `lang`.
pub fn tour(lang: Lang) -> Lesson {
    let source = match lang {
        Lang::En => include_str!("tour.en.md"),
        Lang::Zh => include_str!("tour.zh.md"),
    };
    // Both files are read by the tests below, so this never falls back in a build.
    Lesson::parse(source).unwrap_or_else(|_| Lesson {
        title: String::new(),
        language: Some(lang),
        model: None,
        text: None,
        introduction: String::new(),
        steps: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example lessons in `public/lessons/`, English and Chinese side by side.
    const EXAMPLES: [(&str, &str); 3] = [
        (
            include_str!("../../../../public/lessons/coreference.en.md"),
            include_str!("../../../../public/lessons/coreference.zh.md"),
        ),
        (
            include_str!("../../../../public/lessons/causal-mask.en.md"),
            include_str!("../../../../public/lessons/causal-mask.zh.md"),
        ),
        (
            include_str!("../../../../public/lessons/positions.en.md"),
            include_str!("../../../../public/lessons/positions.zh.md"),
        ),
    ];

    #[test]
    fn the_example_lessons_read_alike_in_both_languages() {
        for (en, zh) in EXAMPLES {
            let (en, zh) = (
                Lesson::parse(en).expect("an English example reads"),
                Lesson::parse(zh).expect("a Chinese example reads"),
            );
            assert_eq!((en.language, zh.language), (Some(Lang::En), Some(Lang::Zh)));
            assert_eq!(en.text, zh.text, "{}", en.title);
            assert!(en.text.is_some(), "{}", en.title);
            assert_eq!(en.steps.len(), zh.steps.len(), "{}", en.title);
            for (e, z) in en.steps.iter().zip(&zh.steps) {
                assert!(
                    e.view.ignored.is_empty(),
                    "{}: {:?}",
                    e.title,
                    e.view.ignored
                );
                assert_eq!(
                    (&e.view, e.highlight, e.only, &e.question),
                    (&z.view, z.highlight, z.only, &z.question)
                );
            }
        }
    }

    #[test]
    fn both_tours_read_with_the_same_views() {
        let en = Lesson::parse(include_str!("tour.en.md")).expect("English tour");
        let zh = Lesson::parse(include_str!("tour.zh.md")).expect("Chinese tour");
        assert_eq!(en.steps.len(), zh.steps.len());
        for (e, z) in en.steps.iter().zip(&zh.steps) {
            assert_eq!(e.view, z.view, "step {}", e.title);
            assert_eq!(e.highlight, z.highlight, "step {}", e.title);
            assert_eq!(e.question, z.question, "step {}", e.title);
            assert!(
                e.view.ignored.is_empty(),
                "step {}: {:?}",
                e.title,
                e.view.ignored
            );
        }
    }
}
