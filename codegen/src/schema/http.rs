//! `[http]`: the HTTP server and its web root (the web ROM is built from
//! the files by `crate::web` at generation time).

use toml::de::DeValue;

use serde::Deserialize;

use super::key::Key;
use super::{Schema, Section};
use crate::diag::{line_col, Span};
use crate::reader::{display_key, TableReader};

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
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default = "HttpSection::present")]
pub struct HttpSection {
    /// The section is present and `enabled` is not `false`.
    pub enabled: bool,
    /// `web_root` (required): the directory served, relative to the
    /// directory of `stack.toml`.
    pub web_root: String,
    /// Where `web_root` is in `stack.toml` (for errors about it).
    #[serde(skip)]
    pub web_root_at: (usize, usize),
    /// `sockets`: connections at once.
    pub sockets: usize,
    /// `port`: the TCP port.
    pub port: u16,
    /// `index`: the file served for a directory path (`/`, `/docs/`).
    pub index: String,
    /// `buffer` (bytes): per connection; holds the path, one form field, a
    /// multipart boundary and part headers, and the dynamic tag output not
    /// yet acknowledged.
    pub buffer: usize,
    /// `idle_timeout` (seconds).
    #[serde(rename = "idle_timeout")]
    pub idle_timeout_secs: u32,
    /// `request_timeout` (seconds).
    #[serde(rename = "request_timeout")]
    pub request_timeout_secs: u32,
    /// `max_request_line` (bytes).
    pub max_request_line: u16,
    /// `max_header_bytes`.
    pub max_header_bytes: u16,
    /// `max_body` (bytes).
    pub max_body: u32,
    /// `gzip`: build gzip twins and send them (compiled out when off).
    pub gzip: bool,
    /// `multipart`: stream `multipart/form-data` bodies to forms
    /// (compiled out when off: 415).
    pub multipart: bool,
    /// `urlencoded`: decode query strings and urlencoded bodies into form
    /// fields (compiled out when off: queries ignored, bodies 415).
    pub urlencoded: bool,
    /// `keep_alive`: persistent connections and pipelining (compiled out
    /// when off: `Connection: close` after every response).
    pub keep_alive: bool,
    /// `expect_continue`: answer `Expect: 100-continue` with `100
    /// Continue` (compiled out when off: 417).
    pub expect_continue: bool,
    /// `etag`: ETags in the heads and 304 for a matching `If-None-Match`
    /// (compiled out when off: always 200, no `ETag` line).
    pub etag: bool,
    /// `chunked`: chunked output of dynamic pages too large to render up
    /// front (compiled out when off: delimited by closing the connection).
    pub chunked: bool,
    /// `[http.forms]`: handler name → path.
    #[serde(skip)]
    pub forms: Vec<FormDecl>,
    /// Where errors about the section as a whole point (`sockets`, or the
    /// header).
    #[serde(skip)]
    pub(crate) span: crate::diag::Span,
}

impl Default for HttpSection {
    /// Without the section: off.
    fn default() -> Self {
        HttpSection {
            enabled: false,
            ..HttpSection::present()
        }
    }
}

impl HttpSection {
    /// The defaults of a present section.
    fn present() -> Self {
        HttpSection {
            enabled: true,
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
            multipart: true,
            urlencoded: true,
            keep_alive: true,
            expect_continue: true,
            etag: true,
            chunked: true,
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

impl Schema for HttpSection {
    const KEYS: &'static [&'static [Key]] = &[&[
        Key::bool("enabled")
            .default("true")
            .doc("`false` turns the server off without deleting the section."),
        Key::string("web_root", "a directory path like \"web\"")
            .content(is_web_root)
            .default_text("required")
            .range("a directory, relative to the directory of `stack.toml`")
            .doc(
                "The files served. Every file under it (recursively; names starting with `.` \
                 are skipped) becomes part of the ROM.",
            ),
        Key::int("sockets", 1, 16)
            .default("2")
            .range_more("at most `[tcp] sockets`")
            .doc(
                "Connections at once. The application opens them with `HttpServer::listen`; \
                 they are TCP sockets, so `[tcp] sockets` counts them.",
            ),
        Key::int("port", 1, 65_535)
            .default("80")
            .doc("The TCP port."),
        Key::string("index", "a file name like \"index.html\"")
            .content(is_index)
            .default("\"index.html\"")
            .range("a file name without `/`")
            .doc(
                "The file served for a directory path: `/` and `/docs/` answer as \
                 `/index.html` and `/docs/index.html`.",
            ),
        Key::int("buffer", 64, 4096)
            .unit("bytes")
            .default("128")
            .doc(
                "Per connection: holds the decoded path, one form field, a multipart boundary and \
             one part's headers while a request is read, and the dynamic tag output not yet \
             acknowledged while a response is sent. Every URL path must fit in it.",
            ),
        Key::int("idle_timeout", 1, 3600)
            .unit("seconds")
            .default("10")
            .doc(
                "A keep-alive connection without a request for this long is closed; a response \
                 that makes no progress for this long (nothing acknowledged; a few resends \
                 extend it) is reset.",
            ),
        Key::int("request_timeout", 1, 3600)
            .unit("seconds")
            .default("10")
            .doc(
                "A request's head and body must arrive within this time from its first byte, \
                 else 408 and close; a closing connection whose peer does not finish within it \
                 is reset.",
            ),
        Key::int("max_request_line", 32, 65_535)
            .unit("bytes")
            .default("1024")
            .doc("Longer request lines are answered with 414."),
        Key::int("max_header_bytes", 64, 65_535)
            .unit("bytes")
            .default("4096")
            .doc("More header bytes are answered with 431."),
        Key::int("max_body", 0, u32::MAX as i64)
            .unit("bytes")
            .default("1048576")
            .doc(
                "A larger `Content-Length` is answered with 413 (before the body is sent, with \
                 `Expect: 100-continue`). Bodies are streamed, never held.",
            ),
        Key::bool("gzip").default("true").doc(
            "Build gzip twins of compressible files (when at least 1/16 smaller) and send them \
             to clients whose `Accept-Encoding` allows gzip. `false` also compiles the \
             negotiation out.",
        ),
        Key::bool("multipart").default("true").doc(
            "Stream `multipart/form-data` bodies (file uploads) to the form's handler part by \
             part. `false` compiles it out: such a POST is answered 415.",
        ),
        Key::bool("urlencoded").default("true").doc(
            "Decode query strings and `application/x-www-form-urlencoded` bodies into fields \
             for the form's handler. `false` compiles it out: a query string is ignored (the \
             handler still sees `Begin` and `End`), an urlencoded POST body is answered 415.",
        ),
        Key::bool("keep_alive").default("true").doc(
            "Persistent connections and pipelined requests. `false` compiles them out: every \
             response says `Connection: close` and the connection ends after it.",
        ),
        Key::bool("expect_continue").default("true").doc(
            "Answer `Expect: 100-continue` with `100 Continue` before reading the body. \
             `false` compiles it out: such an HTTP/1.1 request with a body is answered 417 \
             (clients send it again without the expectation).",
        ),
        Key::bool("etag").default("true").doc(
            "Strong ETags in static files' heads, and 304 for a matching `If-None-Match`. \
             `false` compiles it out: no `ETag` line, always 200.",
        ),
        Key::bool("chunked").default("true").doc(
            "Send a dynamic page whose tags do not all fit in `buffer` at once with \
             `Transfer-Encoding: chunked` to HTTP/1.1 clients. `false` compiles it out: its \
             body ends when the connection closes (`Connection: close`), as for HTTP/1.0.",
        ),
        Key::manual("forms"),
    ]];

    fn check(&mut self, r: &mut TableReader<'_, '_, '_>) {
        self.span = r.accepted("sockets").unwrap_or_else(|| r.header());
        if let Some(span) = r.accepted("web_root") {
            self.web_root_at = line_col(r.diags().source(), span.start);
        }
        if self.enabled && r.span("web_root").is_none() {
            r.missing(
                "web_root",
                "add `web_root = \"web\"` (the directory served, relative to stack.toml)",
            );
        }
        self.forms = forms(r);
    }

    fn absent(&mut self) {
        self.enabled = false;
    }
}

/// A [`Content`](super::key::Content) check of `web_root`: not empty.
fn is_web_root(
    r: &mut TableReader<'_, '_, '_>,
    key: &'static str,
    root: &str,
    span: &Span,
) -> bool {
    if root.trim().is_empty() {
        r.error(
            key,
            span.clone(),
            "expected a directory path like \"web\", found \"\"",
        );
        return false;
    }
    true
}

/// A [`Content`](super::key::Content) check of `index`: a file name.
fn is_index(r: &mut TableReader<'_, '_, '_>, key: &'static str, index: &str, span: &Span) -> bool {
    if index.is_empty() || index.contains('/') || index.contains('\\') {
        r.error(
            key,
            span.clone(),
            format!("expected a file name without `/`, found {index:?}"),
        );
        return false;
    }
    true
}

/// `[http.forms]`: each entry's handler name and path, in file order.
fn forms(r: &mut TableReader<'_, '_, '_>) -> Vec<FormDecl> {
    let mut forms = Vec::new();
    let Some(v) = r.raw("forms") else {
        return forms;
    };
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
                    DeValue::String(p) => forms.push(FormDecl {
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
    forms.sort_by_key(|f| f.at);
    forms
}

impl Section for HttpSection {
    const NAME: &'static str = "http";

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
