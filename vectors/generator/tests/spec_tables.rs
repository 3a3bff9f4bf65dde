//! Every rule and context a vector expects is listed in SPEC.md §2.1 and §2.2, so a
//! verifier written from SPEC.md alone can name the reason for each hostile case.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The lines of SPEC.md from the heading that starts with `from` to the next heading.
fn section<'a>(spec: &'a str, from: &str) -> Vec<&'a str> {
    let mut lines = spec.lines().skip_while(|l| !l.starts_with(from));
    let heading = lines
        .next()
        .unwrap_or_else(|| panic!("SPEC.md has no {from}"));
    assert!(heading.starts_with(from));
    lines.take_while(|l| !l.starts_with('#')).collect()
}

/// The backticked names in column `col` (0-based) of the table rows among `lines`, header
/// and separator rows left out.
fn table_names(lines: &[&str], col: usize) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for row in lines.iter().filter(|l| l.starts_with('|')).skip(2) {
        let Some(cell) = row.split('|').nth(col + 1) else {
            continue;
        };
        out.extend(
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .filter(|n| !n.is_empty()),
        );
    }
    out
}

/// The rule names (last column of §2.1) and the contexts (first column of §2.2).
fn spec_tables(spec: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let rules = table_names(&section(spec, "### 2.1 "), 2);
    let contexts = table_names(&section(spec, "### 2.2 "), 0);
    (rules, contexts)
}

/// Every `(file, rule or context)` in `value` (any vector file's JSON) that the tables do not
/// list: an object with `"error": "malformed"` names its `rule` and `context`.
fn unlisted(
    file: &str,
    value: &Value,
    rules: &BTreeSet<String>,
    contexts: &BTreeSet<String>,
    checked: &mut usize,
    out: &mut Vec<String>,
) {
    match value {
        Value::Object(map) => {
            if map.get("error").and_then(Value::as_str) == Some("malformed") {
                *checked += 1;
                for (field, listed) in [("rule", rules), ("context", contexts)] {
                    match map.get(field).and_then(Value::as_str) {
                        Some(name) if listed.contains(name) => {}
                        Some(name) => out.push(format!("{file}: {field} `{name}`")),
                        None => out.push(format!("{file}: a malformed case without a {field}")),
                    }
                }
            }
            for v in map.values() {
                unlisted(file, v, rules, contexts, checked, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                unlisted(file, v, rules, contexts, checked, out);
            }
        }
        _ => {}
    }
}

fn vector_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_rule_and_context_the_vectors_use_is_in_spec_section_2() {
    let spec = std::fs::read_to_string(root().join("SPEC.md")).unwrap();
    let (rules, contexts) = spec_tables(&spec);
    let mut checked = 0;
    let mut missing = Vec::new();
    let files = vector_files(&root().join("vectors"));
    assert!(files.len() >= 4, "vectors/*.json not found");
    for path in files {
        let json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        unlisted(&name, &json, &rules, &contexts, &mut checked, &mut missing);
    }
    assert!(checked > 50, "only {checked} malformed cases found");
    assert!(
        missing.is_empty(),
        "not in SPEC.md §2.1/§2.2:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_check_finds_an_unlisted_rule_or_context() {
    let spec = std::fs::read_to_string(root().join("SPEC.md")).unwrap();
    let (rules, contexts) = spec_tables(&spec);
    // The tables are read, and hold what §2 promises.
    for r in [
        "missing_field",
        "unexpected_end",
        "integer_out_of_range",
        "invalid_value",
    ] {
        assert!(rules.contains(r), "{r} not read from §2.1");
    }
    for c in [
        "armor",
        "protected header kid",
        "claims.airseal.machine",
        "request.nonce",
    ] {
        assert!(contexts.contains(c), "{c} not read from §2.2");
    }
    let case = serde_json::json!({"cases": [
        {"expected": {"result": "error", "error": "malformed", "context": "claims", "rule": "no_such_rule"}},
        {"expected": {"result": "error", "error": "malformed", "context": "claims.nowhere", "rule": "invalid_value"}},
        {"expected": {"result": "error", "error": "malformed", "context": "claims", "rule": "invalid_value"}},
        {"expected": {"result": "error", "error": "bad_signature"}},
    ]});
    let (mut checked, mut missing) = (0, Vec::new());
    unlisted(
        "t.json",
        &case,
        &rules,
        &contexts,
        &mut checked,
        &mut missing,
    );
    assert_eq!(checked, 3);
    assert_eq!(
        missing,
        [
            "t.json: rule `no_such_rule`",
            "t.json: context `claims.nowhere`"
        ]
    );
}

#[test]
fn every_boundary_vector_spec_names_exists() {
    let spec = std::fs::read_to_string(root().join("SPEC.md")).unwrap();
    let files: BTreeSet<String> = airseal_vectors::generate()
        .into_iter()
        .map(|c| c.file)
        .collect();
    let named: BTreeSet<&str> = spec
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|t| t.starts_with("boundary-"))
        .map(|t| t.trim_end_matches(".cose"))
        .collect();
    assert!(
        named.len() >= 20,
        "only {} boundary vectors named",
        named.len()
    );
    for name in named {
        assert!(
            files.contains(&format!("{name}.cose")),
            "SPEC.md names {name}, which the generator does not make"
        );
    }
}
