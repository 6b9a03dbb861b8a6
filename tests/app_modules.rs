//! The page's modules depend on one another without cycles, and its leaves stay leaves: the
//! worker client, the model sources and what a download must be (integrity) know the string
//! tables and the clock only, so a panel or a new state slice can never be pulled into them.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn app_src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crates/app/src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("crates/app/src").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`state/text.rs` → `state`).
fn module_of(file: &Path) -> String {
    let relative = file.strip_prefix(app_src()).expect("under src");
    let first = relative.components().next().expect("a component");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_string()
}

/// Which top-level modules each module names through `crate::…` (or `super::…` from a
/// top-level file), comments and unit tests left out.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&app_src(), &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let from = module_of(file);
        let text = std::fs::read_to_string(file).expect("source");
        let page: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or(&text)
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let top_level = file.parent() == Some(app_src().as_path());
        let prefixes: &[&str] = if top_level {
            &["crate::", "super::"]
        } else {
            &["crate::"]
        };
        let edges = graph.entry(from.clone()).or_default();
        for prefix in prefixes {
            for (at, _) in page.match_indices(prefix) {
                let rest = &page[at + prefix.len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let names = if name.is_empty() && rest.starts_with('{') {
                    // `use crate::{a, b::c}`
                    let inside = &rest[1..rest.find('}').unwrap_or(rest.len())];
                    inside
                        .split(',')
                        .map(|n| n.trim().split("::").next().unwrap_or("").to_string())
                        .collect()
                } else {
                    vec![name]
                };
                for name in names {
                    if modules.contains(&name) && name != from {
                        edges.insert(name);
                    }
                }
            }
        }
    }
    graph
}

/// A cycle through `start`, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_string(), vec![start.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for next in graph.get(&node).into_iter().flatten() {
            if next == start {
                return Some([path.clone(), vec![start.to_string()]].concat());
            }
            if seen.insert(next.clone()) {
                stack.push((next.clone(), [path.clone(), vec![next.clone()]].concat()));
            }
        }
    }
    None
}

#[test]
fn the_page_modules_have_no_import_cycle() {
    let graph = dependencies();
    assert!(graph.len() >= 10, "modules found: {:?}", graph.keys());
    for module in graph.keys() {
        if let Some(cycle) = cycle(&graph, module) {
            panic!("import cycle: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn the_client_the_sources_and_integrity_are_leaves() {
    let graph = dependencies();
    for leaf in ["client", "sources", "integrity", "i18n", "clock"] {
        let uses = &graph[leaf];
        let allowed: BTreeSet<String> = ["i18n".to_string(), "clock".to_string()].into();
        assert!(uses.is_subset(&allowed), "{leaf} uses {uses:?}");
    }
}

#[test]
fn a_cycle_is_found_when_there_is_one() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("state".to_string(), ["loading".to_string()].into()),
        ("loading".to_string(), ["state".to_string()].into()),
        ("app".to_string(), ["state".to_string()].into()),
    ]
    .into();
    assert_eq!(
        cycle(&graph, "state"),
        Some(vec!["state".into(), "loading".into(), "state".into()])
    );
    assert_eq!(cycle(&graph, "app"), None);
}
