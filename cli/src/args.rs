//! Argument pieces shared by several commands, so each is worded (and behaves) once.

/// Help of every command's `--json`: one document on standard output, shapes in README.
pub const JSON_HELP: &str = "Print the result as one JSON document on standard output \
    (README, \"JSON output\", lists the fields)";
