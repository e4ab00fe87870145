//! The runtime's layers only call down (README, "Architecture"): every
//! `crate::` path in `runtime/src` — in `use` items and written inline — is
//! read and mapped to the module it names, and a path from a module to one
//! in a higher layer fails the test, naming `file:line`. Unit tests
//! (`#[cfg(test)]` modules and files) are exempt: they may build a whole
//! stack. The check reads the source as text (rustfmt's layout: one item
//! per line, `use` trees that may span lines), so it needs no parser.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Each top-level module of `runtime/src` and its layer, lowest first. A
/// module may use its own layer and every lower one.
const LAYERS: &[(&str, &[&str])] = &[
    // Stateless wire formats and the foundations every layer shares.
    ("wire", &["wire", "time", "table"]),
    ("nic", &["nic"]),
    ("iface", &["iface"]),
    ("transport", &["udp", "tcp", "raw"]),
    (
        "services",
        &["service", "dhcp", "dns", "netbios", "sntp", "mdns"],
    ),
    ("stack", &["stack", "config"]),
    // What the application embeds and drives with the `Stack`.
    ("embedded", &["http", "smtp", "pop3", "mail"]),
    // The traits of the generated composition (`Services`), which holds
    // the embedded components and routes the stack's callbacks to them.
    ("composition", &["compose"]),
];

/// Upward paths that are part of the design, each with its reason. Only
/// ingress may reach up, and only to hand a packet to the transport's
/// sockets (the one upward call every stack makes, DESIGN.md).
const ALLOWED: &[(&str, &str, &str)] = &[
    (
        "iface/ingress.rs",
        "udp",
        "ingress hands a datagram to the UDP sockets",
    ),
    (
        "iface/ingress.rs",
        "tcp",
        "ingress hands a segment to the TCP sockets",
    ),
    (
        "iface/ingress.rs",
        "raw",
        "ingress hands a packet to the raw IP sockets",
    ),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The crate-root names `lib.rs` re-exports (`pub use stack::{App,
/// Stack};`) and the module each comes from.
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for stmt in statements(lib) {
        let Some(rest) = stmt.text.strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, names)) = rest.split_once("::") else {
            continue;
        };
        let names = names
            .trim_end_matches(';')
            .trim_start_matches('{')
            .trim_end_matches('}');
        for name in names.split(',') {
            let name = name.trim();
            let name = name.rsplit(" as ").next().unwrap_or(name).trim();
            if !name.is_empty() {
                map.insert(name.to_owned(), module.trim().to_owned());
            }
        }
    }
    map
}

/// A statement of the file with the line it starts on (comments and
/// `#[cfg(test)]` items removed).
struct Stmt {
    line: usize,
    text: String,
}

/// The code lines of `src` without comments and without `#[cfg(test)]`
/// items (a module with a body is skipped to its closing brace), joined
/// into `use` statements where those span lines; other lines stay whole.
fn statements(src: &str) -> Vec<Stmt> {
    let lines: Vec<&str> = src.lines().collect();
    let mut out = Vec::new();
    let mut k = 0;
    while k < lines.len() {
        let line = lines[k];
        let code = line.split("//").next().unwrap_or("");
        let trimmed = code.trim();
        if trimmed == "#[cfg(test)]" {
            // Skip the item that follows: to its `;` or matching `}`.
            let indent = line.len() - line.trim_start().len();
            k += 1;
            while k < lines.len() {
                let l = lines[k].trim_end();
                let this_indent = l.len() - l.trim_start().len();
                if (l.ends_with(';') && this_indent == indent)
                    || (l == format!("{}}}", " ".repeat(indent)))
                {
                    break;
                }
                k += 1;
            }
            k += 1;
            continue;
        }
        if trimmed.starts_with("use ")
            || trimmed.starts_with("pub use ")
            || trimmed.starts_with("pub(crate) use ")
        {
            let start = k;
            let mut text = trimmed.to_owned();
            while !text.ends_with(';') && k + 1 < lines.len() {
                k += 1;
                text.push_str(lines[k].split("//").next().unwrap_or("").trim());
            }
            out.push(Stmt {
                line: start + 1,
                text,
            });
        } else if !trimmed.is_empty() && !trimmed.starts_with("//") {
            out.push(Stmt {
                line: k + 1,
                text: trimmed.to_owned(),
            });
        }
        k += 1;
    }
    out
}

/// The files a `#[cfg(test)] mod name;` declares: test-only as a whole.
fn test_only_files(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut set = BTreeSet::new();
    for file in files {
        let src = fs::read_to_string(file).unwrap();
        let lines: Vec<&str> = src.lines().collect();
        for pair in lines.windows(2) {
            if pair[0].trim() != "#[cfg(test)]" {
                continue;
            }
            let Some(name) = pair[1]
                .trim()
                .strip_prefix("mod ")
                .and_then(|r| r.strip_suffix(';'))
            else {
                continue;
            };
            let dir = if file.ends_with("mod.rs") || file.ends_with("lib.rs") {
                file.parent().unwrap().to_path_buf()
            } else {
                file.with_extension("")
            };
            set.insert(dir.join(format!("{name}.rs")));
            set.insert(dir.join(name).join("mod.rs"));
        }
    }
    set
}

/// The first segment after each `crate::` in `text` (inline paths and
/// `use` trees: `crate::{a::X, b}` gives `a` and `b`). `$crate` (macro
/// bodies, expanded in the user's crate) is not a path of this crate.
fn crate_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        let before = &rest[..at];
        let after = &rest[at + "crate::".len()..];
        rest = after;
        let prev = before.chars().last();
        if prev.is_some_and(|c| c == '$' || c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = after.strip_prefix('{') {
            // A use tree: the first segment of each top-level branch.
            let mut depth = 0usize;
            let mut branch = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        targets.push(first_segment(&branch));
                        branch.clear();
                        continue;
                    }
                    _ => {}
                }
                branch.push(c);
            }
            targets.push(first_segment(&branch));
        } else {
            targets.push(first_segment(after));
        }
    }
    targets.retain(|t| !t.is_empty());
    targets
}

fn first_segment(path: &str) -> String {
    path.trim()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Every upward path: `(file:line, from module, to module, line text)`.
fn upward_imports() -> Vec<String> {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let reexports = root_reexports(&fs::read_to_string(src.join("lib.rs")).unwrap());
    let test_only = test_only_files(&files);
    let mut problems = Vec::new();
    for file in &files {
        if test_only.contains(file) {
            continue;
        }
        let rel = file.strip_prefix(&src).unwrap();
        let rel_str = rel.to_string_lossy().replace('\\', "/");
        let module = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" {
            continue; // the crate root declares and re-exports every layer
        }
        let Some(from) = layer_of(&module) else {
            problems.push(format!(
                "runtime/src/{rel_str}: module `{module}` has no layer in tests/layers.rs LAYERS"
            ));
            continue;
        };
        let text = fs::read_to_string(file).unwrap();
        for stmt in statements(&text) {
            // A re-export keeps an old path working for users; it is not
            // a dependency of the module's own code.
            if stmt.text.starts_with("pub use ") {
                continue;
            }
            for target in crate_targets(&stmt.text) {
                let target_module = reexports.get(&target).cloned().unwrap_or(target.clone());
                let Some(to) = layer_of(&target_module) else {
                    problems.push(format!(
                        "runtime/src/{rel_str}:{}: `crate::{target}` names no module of tests/layers.rs LAYERS",
                        stmt.line
                    ));
                    continue;
                };
                let allowed = ALLOWED
                    .iter()
                    .any(|(f, m, _)| *f == rel_str && *m == target_module);
                if to > from && !allowed {
                    problems.push(format!(
                        "runtime/src/{rel_str}:{}: {module} ({}) uses crate::{target} ({}, a higher layer): {}",
                        stmt.line, LAYERS[from].0, LAYERS[to].0, stmt.text
                    ));
                }
            }
        }
    }
    problems
}

#[test]
fn imports_only_run_down_the_layers() {
    let problems = upward_imports();
    assert!(
        problems.is_empty(),
        "{} import(s) run up the layers (wire → nic → iface → udp/tcp/raw → services → stack; \
         move the type to the lowest layer that needs it and keep a `pub use` at the old path):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The check itself finds an upward path, inline or in a use tree, and
/// leaves `$crate`, comments and unit tests alone.
#[test]
fn the_check_reads_paths_and_skips_tests() {
    assert_eq!(
        crate_targets("use crate::{iface::{Event, Iface}, tcp::TcpSocket};"),
        ["iface", "tcp"]
    );
    assert_eq!(
        crate_targets("fn f(x: crate::stack::App) -> $crate::tcp::X {"),
        ["stack"]
    );
    let src = "use crate::wire::Ipv4Address;\n// use crate::stack::App;\n\
               #[cfg(test)]\nmod tests {\n    use crate::stack::Stack;\n}\n\
               fn g() -> crate::config::StaticIpv4 {}\n";
    let found: Vec<(usize, Vec<String>)> = statements(src)
        .iter()
        .map(|s| (s.line, crate_targets(&s.text)))
        .filter(|(_, t)| !t.is_empty())
        .collect();
    assert_eq!(
        found,
        [(1, vec!["wire".to_owned()]), (7, vec!["config".to_owned()])]
    );
    for (file, module, why) in ALLOWED {
        assert!(
            layer_of(module).is_some() && !why.is_empty(),
            "{file}: allow-list entry"
        );
    }
}
