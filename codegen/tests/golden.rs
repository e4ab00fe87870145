//! Golden files: the code emberstack-codegen generates for representative
//! `stack.toml` files, kept in `tests/golden/` and compared byte for byte,
//! so a change to the generated config, stack types or web ROM shows up as
//! a reviewable diff. `EMBERSTACK_BLESS=1` rewrites them (the convention of
//! `emberstack-macros`' `tests/bind.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

/// The workspace root (the codegen crate's parent).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Generates `config` (relative to the workspace root, named by its path in
/// the output as a build script would name it) and compares the result with
/// `tests/golden/<golden>`, or rewrites it when `EMBERSTACK_BLESS` is set.
fn check(config: &str, golden: &str) {
    let root = workspace();
    let path = root.join(config);
    let source = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let dir = path.parent().unwrap();
    let code = emberstack_codegen::generate_from_str_in(config, &source, dir)
        .unwrap_or_else(|e| panic!("{config} does not generate: {e}"));
    let golden_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(golden);
    if std::env::var_os("EMBERSTACK_BLESS").is_some() {
        std::fs::write(&golden_path, &code).unwrap();
    }
    let current = std::fs::read_to_string(&golden_path).unwrap_or_default();
    if current != code {
        panic!(
            "codegen/tests/golden/{golden} differs from what {config} generates now:\n{}\n\
             If the change is intended, review it and run \
             `EMBERSTACK_BLESS=1 cargo test -p emberstack-codegen --test golden`, \
             then commit the golden file.",
            first_difference(&current, &code)
        );
    }
}

/// The first differing line of two texts, with a little context, for the
/// failure message (the full diff is `git diff` after blessing).
fn first_difference(want: &str, got: &str) -> String {
    let want_lines: Vec<&str> = want.lines().collect();
    let got_lines: Vec<&str> = got.lines().collect();
    let line = want_lines
        .iter()
        .zip(&got_lines)
        .position(|(a, b)| a != b)
        .unwrap_or(want_lines.len().min(got_lines.len()));
    let show = |lines: &[&str], sign: char| {
        let from = line.saturating_sub(2);
        let to = (line + 3).min(lines.len());
        let mut text = String::new();
        for (n, l) in lines.iter().enumerate().take(to).skip(from) {
            let mark = if n == line { sign } else { ' ' };
            text.push_str(&format!("{mark}{:>5} | {l}\n", n + 1));
        }
        if lines.len() <= line {
            text.push_str(&format!(
                "{sign}      | (ends after {} lines)\n",
                lines.len()
            ));
        }
        text
    };
    format!(
        "first difference at line {} (golden {} lines, generated {} lines)\n\
         --- golden\n{}+++ generated\n{}",
        line + 1,
        want_lines.len(),
        got_lines.len(),
        show(&want_lines, '-'),
        show(&got_lines, '+'),
    )
}

/// The reference device: every protocol, the mail clients and the web ROM
/// of `web/` (paths, heads, bodies, gzip twins, ETags, tag slots, forms).
#[test]
fn reference_stack_toml() {
    check("stack.toml", "reference.rs");
}

/// The firmware footprint's "everything on" configuration (no `[http]`).
#[test]
fn everything_toml() {
    check("benches/footprint/everything.toml", "everything.rs");
}

/// The smallest configuration: ping only, no UDP or TCP sockets.
#[test]
fn minimal_toml() {
    check("benches/footprint/minimal.toml", "minimal.rs");
}
