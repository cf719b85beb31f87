#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The house stays layered as `../shared/DESIGN.md` draws it: a module imports only modules on
//! lower floors. This test reads every `crate::NAME` path in `src/**/*.rs` (`use` lines and
//! paths written inline, tests included) and fails on one that names a module on the same or a
//! higher floor.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Each top-level module of the library and its floor, from the ground up.
const FLOORS: &[(&str, u8)] = &[
    ("data", 1),
    ("grade", 1),
    ("io", 1),
    ("engine", 2),
    ("backend", 3),
    ("bench", 3),
    ("verify", 4),
    ("search", 5),
    ("store", 6),
    ("runner", 7),
    ("analysis", 8),
    ("export", 9),
    ("train", 9),
    ("cli", 10),
    ("ui", 10),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules named by `crate::` paths in `text`, with their line numbers; a
/// grouped `use crate::{a, b::c}` names each of `a` and `b`.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            if let Some(group) = after.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                for item in inner.split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.push((i + 1, name));
                    }
                }
            } else {
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.push((i + 1, name));
            }
            rest = after;
        }
    }
    out
}

#[test]
fn every_module_imports_only_modules_on_lower_floors() {
    let floors: BTreeMap<&str, u8> = FLOORS.iter().copied().collect();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut checked = 0;
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        let Some(&floor) = floors.get(module.as_str()) else {
            // lib.rs and main.rs stand above every floor.
            assert!(
                module == "lib" || module == "main",
                "{}: module `{module}` has no floor in FLOORS (add it, as DESIGN.md places it)",
                rel.display()
            );
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (line, target) in crate_paths(&text) {
            checked += 1;
            if target == module {
                continue;
            }
            match floors.get(target.as_str()) {
                Some(&t) if t < floor => {}
                Some(&t) => violations.push(format!(
                    "src/{}:{line}: `{module}` (floor {floor}) uses `crate::{target}` (floor {t})",
                    rel.display()
                )),
                None => violations.push(format!(
                    "src/{}:{line}: `crate::{target}` is not a module with a floor",
                    rel.display()
                )),
            }
        }
    }
    assert!(
        checked > 100,
        "only {checked} crate paths found: is the parser broken?"
    );
    assert!(
        violations.is_empty(),
        "imports that run upward or sideways:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_path_reader_sees_grouped_and_inline_paths() {
    let text = "use crate::{data::Problem, engine};\nlet x = crate::grade::f(); // crate::ui\n";
    let got = crate_paths(text);
    assert_eq!(
        got,
        vec![
            (1, "data".to_string()),
            (1, "engine".to_string()),
            (2, "grade".to_string())
        ]
    );
}

/// The window's own modules and their floors: what they draw on at the bottom, the state on
/// them, the panels (which read the state and send commands) on it, and the app on top, the
/// only module that holds the worker. (`ui/mod.rs` opens the window and stands above them.)
const UI_FLOORS: &[(&str, u8)] = &[
    ("theme", 1),
    ("sweeps", 1),
    ("worker", 1),
    ("layout", 2),
    ("state", 3),
    ("panels", 4),
    ("app", 5),
];

/// The window's modules named in `text`, a file of `src/ui/` at `depth` (0: `src/ui/x.rs`, 1:
/// `src/ui/x/y.rs`, ...): `crate::ui::NAME`, and `super::…::NAME` where it climbs to `ui`.
fn ui_paths(text: &str, depth: usize) -> Vec<(usize, String)> {
    let climb = "super::".repeat(depth + 1);
    // Whatever `crate::` path the file names outside the window is the other test's.
    let text = text
        .lines()
        .map(|l| {
            let l = l.replace("crate::ui::", "crate::");
            if l.trim_start().starts_with("use super::*") && depth == 0 {
                // A test module's glob of its own file.
                l
            } else {
                l.replace(&climb, "crate::")
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let names: BTreeMap<&str, u8> = UI_FLOORS.iter().copied().collect();
    crate_paths(&text)
        .into_iter()
        .filter(|(_, n)| names.contains_key(n.as_str()))
        .collect()
}

#[test]
fn the_window_is_layered_too_and_panels_never_see_the_app() {
    let floors: BTreeMap<&str, u8> = UI_FLOORS.iter().copied().collect();
    let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join("ui");
    let mut files = Vec::new();
    rust_files(&ui, &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut checked = 0;
    for file in &files {
        let rel = file.strip_prefix(&ui).unwrap();
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let module = parts[0].trim_end_matches(".rs").to_string();
        if module == "mod" {
            continue;
        }
        let floor = *floors.get(module.as_str()).unwrap_or_else(|| {
            panic!(
                "src/ui/{}: `{module}` has no floor in UI_FLOORS",
                rel.display()
            )
        });
        let text = std::fs::read_to_string(file).unwrap();
        for (line, target) in ui_paths(&text, parts.len() - 1) {
            checked += 1;
            if target == module {
                continue;
            }
            let t = floors[target.as_str()];
            if t >= floor {
                violations.push(format!(
                    "src/ui/{}:{line}: `{module}` (floor {floor}) uses `ui::{target}` (floor {t})",
                    rel.display()
                ));
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} window paths found: is the parser broken?"
    );
    assert!(
        violations.is_empty(),
        "window imports that run upward or sideways:\n{}",
        violations.join("\n")
    );
}

#[test]
fn window_paths_are_read_relative_to_the_file() {
    // In src/ui/panels/x.rs, `super::tree_view` stays inside panels; `super::super::state` and
    // `crate::ui::app` climb out.
    let text = "use super::tree_view;\nuse super::super::state::State;\nuse crate::ui::app::App;\n";
    assert_eq!(
        ui_paths(text, 1),
        vec![(2, "state".to_string()), (3, "app".to_string())]
    );
    // In src/ui/layout.rs, `super::theme` is the window's theme.
    assert_eq!(
        ui_paths("use super::theme;\n", 0),
        vec![(1, "theme".to_string())]
    );
}
