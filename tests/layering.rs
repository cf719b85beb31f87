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
