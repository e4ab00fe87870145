//! `[http]`: the HTTP server and its web root (the web ROM is built from
//! the files by `crate::web` at generation time).

use toml::de::DeValue;

use super::Section;
use crate::diag::line_col;
use crate::reader::{display_key, Field, TableReader};

/// A form declared in `[http.forms]`: its handler's name and the path it
/// takes input for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormDecl {
    /// The handler (a Rust identifier).
    pub name: String,
    /// The URL path (`/settings.html`).
    pub path: String,
    /// Where the entry is in `stack.toml` (1-based line, column).
    pub at: (usize, usize),
}

/// `[http]` settings. The section's presence enables the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpSection {
    /// The section is present and `enabled` is not `false`.
    pub enabled: bool,
    /// `web_root` (required): the directory served, relative to the
    /// directory of `stack.toml`.
    pub web_root: String,
    /// Where `web_root` is in `stack.toml` (for errors about it).
    pub web_root_at: (usize, usize),
    /// `sockets` (1 to 16, default 2): connections at once.
    pub sockets: usize,
    /// `port` (default 80).
    pub port: u16,
    /// `index` (default `"index.html"`): the file served for a directory
    /// path (`/`, `/docs/`).
    pub index: String,
    /// `buffer` (64 to 4096 bytes, default 128): per connection; holds the
    /// path, one form field, a multipart boundary and part headers, and the
    /// dynamic tag output not yet acknowledged.
    pub buffer: usize,
    /// `idle_timeout` (seconds, 1 to 3600, default 10).
    pub idle_timeout_secs: u32,
    /// `request_timeout` (seconds, 1 to 3600, default 10).
    pub request_timeout_secs: u32,
    /// `max_request_line` (32 to 65535, default 1024).
    pub max_request_line: u16,
    /// `max_header_bytes` (64 to 65535, default 4096).
    pub max_header_bytes: u16,
    /// `max_body` (0 to 4294967295, default 1048576).
    pub max_body: u32,
    /// `gzip` (default true): build gzip twins and send them.
    pub gzip: bool,
    /// `[http.forms]`: handler name → path.
    pub forms: Vec<FormDecl>,
    /// Where errors about the section as a whole point (`sockets`, or the
    /// header).
    pub(crate) span: crate::diag::Span,
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            enabled: false,
            web_root: String::new(),
            web_root_at: (1, 1),
            sockets: 2,
            port: 80,
            index: "index.html".to_owned(),
            buffer: 128,
            idle_timeout_secs: 10,
            request_timeout_secs: 10,
            max_request_line: 1024,
            max_header_bytes: 4096,
            max_body: 1 << 20,
            gzip: true,
            forms: Vec::new(),
            span: 0..0,
        }
    }
}

/// Whether `s` can be a tag or form handler's name: a Rust identifier in
/// lower snake case that is not a keyword.
pub(crate) fn handler_name_ok(s: &str) -> bool {
    const KEYWORDS: [&str; 51] = [
        "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn",
        "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
        "return", "self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use",
        "where", "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final",
        "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
    ];
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && s != "_"
        && !KEYWORDS.contains(&s)
        && s != RESERVED_HANDLER
}

/// The provided method of the generated `Handlers` trait (log hook), so
/// no tag or form may be called this.
pub(crate) const RESERVED_HANDLER: &str = "http_event";

impl Section for HttpSection {
    const NAME: &'static str = "http";

    fn parse(r: &mut TableReader<'_, '_, '_>) -> Self {
        let d = HttpSection::default();
        let enabled = r.is_present() && r.bool("enabled").or(true);
        let int = |r: &mut TableReader<'_, '_, '_>, key, min, max, def: i64| {
            r.int(key, min, max).value().map_or(def, |(v, _)| v)
        };
        let sockets = r.int("sockets", 1, 16);
        let span = match &sockets {
            Field::Value(_, span) => span.clone(),
            _ => r.header(),
        };
        let mut s = HttpSection {
            enabled,
            span,
            sockets: sockets.or(2) as usize,
            port: int(r, "port", 1, 65535, 80) as u16,
            buffer: int(r, "buffer", 64, 4096, 128) as usize,
            idle_timeout_secs: int(r, "idle_timeout", 1, 3600, 10) as u32,
            request_timeout_secs: int(r, "request_timeout", 1, 3600, 10) as u32,
            max_request_line: int(r, "max_request_line", 32, 65535, 1024) as u16,
            max_header_bytes: int(r, "max_header_bytes", 64, 65535, 4096) as u16,
            max_body: int(r, "max_body", 0, i64::from(u32::MAX), 1 << 20) as u32,
            gzip: r.bool("gzip").or(true),
            ..d
        };
        match r.string("web_root", "a directory path like \"web\"") {
            Field::Value(root, span) => {
                s.web_root_at = line_col(r.diags().source(), span.start);
                if root.trim().is_empty() {
                    r.error(
                        "web_root",
                        span,
                        "expected a directory path like \"web\", found \"\"",
                    );
                }
                s.web_root = root;
            }
            Field::Absent if enabled => r.missing(
                "web_root",
                "add `web_root = \"web\"` (the directory served, relative to stack.toml)",
            ),
            _ => {}
        }
        if let Field::Value(index, span) = r.string("index", "a file name like \"index.html\"") {
            if index.is_empty() || index.contains('/') || index.contains('\\') {
                r.error(
                    "index",
                    span,
                    format!("expected a file name without `/`, found {index:?}"),
                );
            } else {
                s.index = index;
            }
        }
        if let Some(v) = r.raw("forms") {
            match v.get_ref() {
                DeValue::Table(t) => {
                    for (k, v) in t.iter() {
                        let name = k.get_ref().to_string();
                        let key = format!("forms.{}", display_key(&name));
                        let at = line_col(r.diags().source(), k.span().start);
                        if !handler_name_ok(&name) {
                            r.diags().error(
                                k.span(),
                                format!(
                                    "[http] {key}: a form's name is its handler's name: lowercase letters, digits and `_`, not starting with a digit, not a Rust keyword or `{RESERVED_HANDLER}`"
                                ),
                            );
                            continue;
                        }
                        match v.get_ref() {
                            DeValue::String(p) => s.forms.push(FormDecl {
                                name,
                                path: if p.starts_with('/') {
                                    p.to_string()
                                } else {
                                    format!("/{p}")
                                },
                                at,
                            }),
                            _ => {
                                let found = r.found(v);
                                r.diags().error(
                                    v.span(),
                                    format!(
                                        "[http] {key}: expected the path of a file in web_root like \"/settings.html\", found {found}"
                                    ),
                                );
                            }
                        }
                    }
                }
                _ => {
                    let found = r.found(v);
                    r.diags().error(
                        v.span(),
                        format!("[http] forms: expected a table like `[http.forms]` with `settings = \"/settings.html\"`, found {found}"),
                    );
                }
            }
        }
        s.forms.sort_by_key(|f| f.at);
        s
    }

    fn impl_items(&self) -> proc_macro2::TokenStream {
        // The server is not part of `impl Config`: it is emitted as the
        // `web` module by `crate::web`.
        proc_macro2::TokenStream::new()
    }
}

impl HttpSection {
    /// Checks against `[tcp]`: the server's sockets are TCP sockets.
    pub(crate) fn check_against_tcp(
        &self,
        tcp_sockets: usize,
        diags: &mut crate::diag::Diagnostics<'_>,
    ) {
        if self.enabled && self.sockets > tcp_sockets {
            diags.error(
                self.span.clone(),
                format!(
                    "[http] sockets: the server needs {} TCP sockets but [tcp] has {tcp_sockets}; raise [tcp] sockets (they include the server's)",
                    self.sockets
                ),
            );
        }
    }
}
