//! One durable writer: every file airseal writes goes through `airseal_verify::app::fs`. This
//! test reads the workspace's sources (`crates/*/src`, `cli/src`) and fails when a second
//! writer appears: a rename, a hard link, an fsync, an exclusive create, `OpenOptions`, or a
//! plain `fs::write` / `File::create` outside the writer module. A new writer should call
//! `airseal_verify::app::fs` instead; something that truly cannot (say, a database engine's own
//! files) goes on the allow-list below with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

/// What only the writer module may call.
const FORBIDDEN: &[&str] = &[
    "fs::rename",
    "hard_link",
    "sync_all",
    "sync_data",
    "create_new(true)",
    "OpenOptions",
    "fs::write(",
    "File::create(",
    "fs::copy(",
];

/// Files allowed to use them, and why.
const ALLOWED: &[(&str, &str)] = &[(
    "crates/airseal-verify/src/app/fs.rs",
    "the durable writer itself",
)];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source files the rule covers: library and binary code (tests and examples may
/// write fixtures however they like).
fn sources() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        rust_files(&entry.path().join("src"), &mut files);
    }
    rust_files(&root.join("cli/src"), &mut files);
    files
}

/// The code of a source file that ships: unit-test modules (`#[cfg(test)]` and what
/// follows, by convention at the end of a file) and comments are left out.
fn shipped_lines(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        out.push((n + 1, line));
    }
    out
}

/// Whether `line` calls `pattern` of the standard library: not part of a longer name
/// (`DurableFile::create(`), and not reached through another path (`crate::fs::write(`,
/// `airseal_verify::app::fs::write(`, which is the writer module), only through `std::` or an
/// import of it.
fn calls(line: &str, pattern: &str) -> bool {
    line.match_indices(pattern).any(|(at, _)| {
        let before = &line[..at];
        if before.ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            return false;
        }
        match before.strip_suffix("::") {
            Some(path) => path.ends_with("std") || path.ends_with("std::fs"),
            None => true,
        }
    })
}

fn offences_in(relative: &str, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (n, line) in shipped_lines(text) {
        for pattern in FORBIDDEN {
            if calls(line, pattern) {
                found.push(format!("{relative}:{n}: {pattern}: {}", line.trim()));
            }
        }
    }
    found
}

#[test]
fn every_file_is_written_through_airseal_verify_fs() {
    let root = workspace_root();
    let files = sources();
    // The scan must actually see the workspace (a wrong root would pass vacuously).
    assert!(files.len() > 50, "only {} source files found", files.len());
    assert!(
        files
            .iter()
            .any(|f| f.ends_with("crates/airseal-verify/src/app/fs.rs")),
        "the writer module was not found"
    );
    let mut offences = Vec::new();
    let mut allowed_seen = 0;
    for file in &files {
        let relative = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(file).unwrap();
        let found = offences_in(&relative, &text);
        if ALLOWED.iter().any(|(path, _)| *path == relative) {
            allowed_seen += usize::from(!found.is_empty());
            continue;
        }
        offences.extend(found);
    }
    assert_eq!(allowed_seen, ALLOWED.len(), "an allow-list entry is stale");
    assert!(
        offences.is_empty(),
        "write files through airseal_verify::app::fs, not by hand:\n{}",
        offences.join("\n")
    );
}

/// The scanner finds what it is meant to find, and ignores tests and comments.
#[test]
fn the_scan_catches_a_second_writer() {
    let code = "fn save(p: &Path) {\n    // fs::rename is mentioned here only\n    \
                let f = std::fs::OpenOptions::new().write(true).create_new(true).open(p);\n    \
                std::fs::rename(a, b);\n    crate::fs::write(p, b, a, m);\n    \
                airseal_verify::app::fs::write(p, b, a, m);\n    \
                DurableFile::create(p, a, m);\n    let _ = File::create(p);\n}\n\
                #[cfg(test)]\nmod tests { fn t() { fs::write(x, y); } }\n";
    let found = offences_in("x.rs", code);
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(found[3].starts_with("x.rs:8: File::create("), "{found:#?}");
    for expected in [
        "x.rs:3: OpenOptions",
        "x.rs:3: create_new(true)",
        "x.rs:4: fs::rename",
    ] {
        assert!(found.iter().any(|f| f.starts_with(expected)), "{found:#?}");
    }
}
