//! The layering rule, checked: every `crate::` path in `src/` points to a
//! lower layer (docs/ARCHITECTURE.md, "Layers"). `.ci/run` runs this test
//! on its own, so a forbidden import fails CI with the file and the line.

use std::path::Path;

/// Layers, bottom first. A module may import only from lower layers.
const LAYERS: &[&[&str]] = &[
    &["diag", "words", "files"],
    &["health", "geoip", "cli", "metrics"],
    &["zone", "policy"],
    &["config"],
    &["snapshot"],
    &["dns"],
    &["server"],
    &["admin"],
    &["cluster"],
    &["app"],
];

/// Downward arrows that are still not allowed: zone is pure data and
/// lookup, it knows nothing of health.
const FORBIDDEN: &[(&str, &str)] = &[("zone", "health")];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Top-level modules named by `crate::` paths in `line` (also inside
/// `crate::{a, b::c}` groups).
fn targets(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                out.push(name);
            }
        } else {
            out.push(
                rest.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect(),
            );
        }
    }
    out
}

fn check_dir(dir: &Path, root: &Path, problems: &mut Vec<String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            check_dir(&path, root, problems);
            continue;
        }
        if path.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let rel = path.strip_prefix(root).unwrap();
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap()
            .trim_end_matches(".rs");
        let Some(from) = layer(top) else {
            // lib.rs, main.rs and this file sit above everything.
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue; // doc links may name anything
            }
            for to in targets(line) {
                if to == top {
                    continue;
                }
                let bad = match layer(&to) {
                    Some(l) => l >= from || FORBIDDEN.contains(&(top, to.as_str())),
                    None => false, // not a module: a macro or a crate item
                };
                if bad {
                    problems.push(format!(
                        "src/{}:{}: {top} must not import crate::{to}",
                        rel.display(),
                        n + 1
                    ));
                }
            }
        }
    }
}

#[test]
fn every_import_points_down() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    check_dir(&root, &root, &mut problems);
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_checker_sees_imports() {
    assert_eq!(targets("use crate::zone::Zone;"), ["zone"]);
    assert_eq!(
        targets("use crate::{config::Settings, diag};"),
        ["config", "diag"]
    );
    assert_eq!(
        targets("let x = crate::snapshot::build(a, crate::dns::X);"),
        ["snapshot", "dns"]
    );
    assert_eq!(layer("policy").unwrap(), layer("zone").unwrap());
    assert!(layer("health").unwrap() < layer("policy").unwrap());
}
