//! The web ROM: every file under `[http] web_root` as static data, and the
//! `web` module of the generated code (site, settings, server type,
//! `Handlers` trait, and the binding macro `#[http_var]` expands to).
//!
//! # Dynamic tags
//!
//! In a text file (HTML, CSS, JS, JSON, SVG, XML, plain text) a marker
//!
//! - `{{name}}` is replaced by the output of the handler `name`, escaped
//!   for the file's type: HTML entities in `.html`/`.htm`/`.svg`/`.xml`,
//!   JSON string escapes in `.json`/`.js`, nothing elsewhere;
//! - `{{name|raw}}` (or `|html`, `|json`) picks the escaping explicitly;
//! - `{{"text"}}` is the literal `text` (so `{{"{{"}}` writes `{{`).
//!
//! Spaces inside the braces are allowed. A marker ends on its own line;
//! `{{` without `}}` on the same line is an error with file, line and
//! column. A file whose markers are all literals is static. Files are
//! split at build time into text and tag slots: nothing is scanned at run
//! time.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;

use crate::diag::{Diagnostic, Error};
use crate::reader::nearest;
use crate::schema::http::{handler_name_ok, RESERVED_HANDLER};
use crate::schema::HttpSection;

/// How a tag's output is escaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    /// HTML entities.
    Html,
    /// JSON string escapes.
    Json,
    /// None.
    Raw,
}

/// A piece of a text file after marker splitting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// Text sent as is (literal markers already resolved).
    Text(Vec<u8>),
    /// A tag slot.
    Tag {
        /// The tag (handler) name.
        name: String,
        /// Its escaping.
        escape: Escape,
        /// 1-based line and column of its `{{`.
        at: (usize, usize),
    },
}

/// One representation of a static file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rep {
    /// The response head lines.
    pub head: String,
    /// The body.
    pub body: Vec<u8>,
    /// The strong ETag, quoted.
    pub etag: String,
}

/// A file's content in the ROM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RomBody {
    /// No tags.
    Static {
        /// As stored.
        plain: Rep,
        /// gzip twin, when smaller.
        gzip: Option<Rep>,
    },
    /// With tags: parts are text or tag numbers.
    Dynamic {
        /// Head lines.
        head: String,
        /// Parts.
        parts: Vec<RomPart>,
    },
}

/// A part of a dynamic file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RomPart {
    /// Text.
    Text(Vec<u8>),
    /// Tag number and escaping.
    Tag(usize, Escape),
}

/// A file of the ROM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RomFile {
    /// URL path.
    pub url: String,
    /// Where it came from, as shown in messages (`web/index.html`).
    pub shown: String,
    /// Content type sent.
    pub content_type: String,
    /// Content.
    pub body: RomBody,
    /// Form number.
    pub form: Option<usize>,
}

/// A tag and where pages use it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagInfo {
    /// Name.
    pub name: String,
    /// `(url, "web/index.html:12:7")` per use.
    pub uses: Vec<(String, String)>,
}

/// The whole ROM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebRom {
    /// Files, sorted by URL.
    pub files: Vec<RomFile>,
    /// Tags, sorted by name (their number is their place).
    pub tags: Vec<TagInfo>,
    /// Forms `(name, url)` in `[http.forms]` order.
    pub forms: Vec<(String, String)>,
}

/// 1-based line and column (in characters) of byte `at` of `text`.
fn position(text: &[u8], at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line = before.iter().filter(|&&c| c == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|&c| c == b'\n')
        .map_or(0, |p| p + 1);
    let col = String::from_utf8_lossy(before.get(start..).unwrap_or(&[]))
        .chars()
        .count()
        + 1;
    (line, col)
}

/// Splits a text file at its markers. `shown` names the file in messages.
pub fn split_markers(
    text: &[u8],
    default: Escape,
    shown: &str,
) -> Result<Vec<Segment>, Vec<Diagnostic>> {
    let mut segs = Vec::new();
    let mut errors = Vec::new();
    let mut cur = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if !text.get(i..).is_some_and(|r| r.starts_with(b"{{")) {
            cur.push(text.get(i).copied().unwrap_or(0));
            i += 1;
            continue;
        }
        let at = position(text, i);
        let line_end = text
            .get(i..)
            .and_then(|r| r.iter().position(|&c| c == b'\n'))
            .map_or(text.len(), |p| i + p);
        let line = text.get(i + 2..line_end).unwrap_or(&[]);
        let err = |msg: String| Diagnostic::at(shown, at, msg);
        let lead = line
            .iter()
            .take_while(|&&c| c == b' ' || c == b'\t')
            .count();
        if line.get(lead) == Some(&b'"') {
            // A literal: {{"text"}}.
            let body = line.get(lead + 1..).unwrap_or(&[]);
            let Some(q) = body.iter().position(|&c| c == b'"') else {
                errors.push(err(
                    "unterminated literal in `{{\"…\"}}`: no closing `\"` on the same line"
                        .to_owned(),
                ));
                i += 2;
                continue;
            };
            let after = body.get(q + 1..).unwrap_or(&[]);
            let sp = after
                .iter()
                .take_while(|&&c| c == b' ' || c == b'\t')
                .count();
            if !after.get(sp..).is_some_and(|r| r.starts_with(b"}}")) {
                errors.push(err(
                    "expected `}}` after the literal in `{{\"…\"}}`".to_owned()
                ));
                i += 2;
                continue;
            }
            cur.extend_from_slice(body.get(..q).unwrap_or(&[]));
            i = i + 2 + lead + 1 + q + 1 + sp + 2;
            continue;
        }
        let Some(close) = line.windows(2).position(|w| w == b"}}") else {
            errors.push(err(
                "unterminated tag: `{{` has no `}}` on the same line (write `{{\"{{\"}}` for a literal `{{`)"
                    .to_owned(),
            ));
            i += 2;
            continue;
        };
        let inner = String::from_utf8_lossy(line.get(..close).unwrap_or(&[])).into_owned();
        i = i + 2 + close + 2;
        let (name, filter) = match inner.split_once('|') {
            Some((n, f)) => (n.trim(), Some(f.trim())),
            None => (inner.trim(), None),
        };
        if !handler_name_ok(name) {
            let why = if name == RESERVED_HANDLER {
                format!("`{RESERVED_HANDLER}` is reserved for the log hook")
            } else if name.is_empty() {
                "the tag has no name".to_owned()
            } else {
                "a tag name is its handler's name: lowercase letters, digits and `_`, not starting with a digit, not a Rust keyword".to_owned()
            };
            errors.push(err(format!(
                "invalid tag `{{{{{}}}}}`: {why} (write `{{{{\"{{{{\"}}}}` for a literal `{{{{`)",
                inner.trim()
            )));
            continue;
        }
        let escape = match filter {
            None => default,
            Some("raw") => Escape::Raw,
            Some("html") => Escape::Html,
            Some("json") => Escape::Json,
            Some(other) => {
                let hint = match nearest(other, &["raw", "html", "json"]) {
                    Some(n) => format!("; did you mean `{n}`?"),
                    None => String::new(),
                };
                errors.push(err(format!(
                    "tag `{name}`: unknown filter `|{other}`: expected `|raw`, `|html` or `|json`{hint}"
                )));
                continue;
            }
        };
        if !cur.is_empty() {
            segs.push(Segment::Text(std::mem::take(&mut cur)));
        }
        segs.push(Segment::Tag {
            name: name.to_owned(),
            escape,
            at,
        });
    }
    if !cur.is_empty() {
        segs.push(Segment::Text(cur));
    }
    if errors.is_empty() {
        Ok(segs)
    } else {
        Err(errors)
    }
}

/// What the server knows about a MIME type.
struct Kind {
    /// `Content-Type` value.
    content_type: String,
    /// May hold markers (text).
    text: bool,
    /// Escaping by default.
    escape: Escape,
    /// Worth compressing.
    compressible: bool,
}

fn kind_of(path: &Path) -> Kind {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let essence = mime.essence_str().to_owned();
    let text = mime.type_() == mime_guess::mime::TEXT
        || matches!(
            essence.as_str(),
            "application/javascript"
                | "application/json"
                | "application/xml"
                | "image/svg+xml"
                | "application/manifest+json"
        );
    let escape = match essence.as_str() {
        "text/html" | "image/svg+xml" | "application/xml" | "text/xml" => Escape::Html,
        "application/json"
        | "application/javascript"
        | "text/javascript"
        | "application/manifest+json" => Escape::Json,
        _ => Escape::Raw,
    };
    let compressible = text
        || matches!(
            essence.as_str(),
            "image/x-icon" | "image/vnd.microsoft.icon" | "application/wasm" | "image/bmp"
        );
    let content_type = if text {
        format!("{essence}; charset=utf-8")
    } else {
        essence
    };
    Kind {
        content_type,
        text,
        escape,
        compressible,
    }
}

/// FNV-1a 64: a stable content hash for ETags.
fn fnv64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn gzip(data: &[u8]) -> Option<Vec<u8>> {
    // No file name, mtime 0: the same input gives the same bytes.
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    enc.write_all(data).ok()?;
    enc.finish().ok()
}

fn static_head(content_type: &str, len: usize, etag: &str, gzip: bool, vary: bool) -> String {
    let mut h =
        format!("HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\n");
    if gzip {
        h.push_str("Content-Encoding: gzip\r\n");
    }
    h.push_str(&format!("ETag: {etag}\r\nCache-Control: no-cache\r\n"));
    if vary {
        h.push_str("Vary: Accept-Encoding\r\n");
    }
    h
}

/// Files under `dir`, recursively, sorted; dot files and directories are
/// skipped.
fn walk(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<Diagnostic>, shown: &str) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(Diagnostic::file(
                shown,
                format!("cannot read directory: {e}"),
            ));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        let shown_p = format!("{shown}/{name}");
        if p.is_dir() {
            walk(&p, out, errors, &shown_p);
        } else {
            out.push(p);
        }
    }
}

/// Reads the web root and builds the ROM. `toml_file` and the section's
/// positions name `stack.toml` places; files are shown as
/// `<web_root>/<path>`.
pub fn build(cfg: &HttpSection, toml_file: &str, root: &Path) -> Result<WebRom, Error> {
    let shown_root = cfg.web_root.trim_end_matches('/').to_owned();
    let mut errors: Vec<Diagnostic> = Vec::new();
    if !root.is_dir() {
        let what = if root.exists() {
            "is not a directory"
        } else {
            "does not exist"
        };
        return Err(Error::new(vec![Diagnostic::at(
            toml_file,
            cfg.web_root_at,
            format!(
                "[http] web_root: {:?} {what} ({}); create it or fix the path (relative to the directory of {toml_file})",
                cfg.web_root,
                root.display()
            ),
        )]));
    }
    let mut paths = Vec::new();
    walk(root, &mut paths, &mut errors, &shown_root);

    let mut files: Vec<RomFile> = Vec::new();
    let mut tag_uses: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut dyn_segments: Vec<(usize, Vec<Segment>)> = Vec::new();
    for path in &paths {
        let rel = path.strip_prefix(root).unwrap_or(path);
        let Some(rel_str) = rel.to_str() else {
            errors.push(Diagnostic::file(
                &format!("{shown_root}/{}", rel.display()),
                "the file name is not UTF-8; rename it".to_owned(),
            ));
            continue;
        };
        let rel_url = rel_str.replace('\\', "/");
        let shown = format!("{shown_root}/{rel_url}");
        let url = format!("/{rel_url}");
        if url.len() > cfg.buffer {
            errors.push(Diagnostic::file(
                &shown,
                format!(
                    "URL path {url} is {} bytes, longer than [http] buffer = {} (requests are matched in that buffer); shorten the path or raise buffer",
                    url.len(),
                    cfg.buffer
                ),
            ));
            continue;
        }
        let data = match std::fs::read(path) {
            Ok(d) => d,
            Err(e) => {
                errors.push(Diagnostic::file(&shown, format!("cannot read: {e}")));
                continue;
            }
        };
        let kind = kind_of(path);
        let segments = if kind.text && data.windows(2).any(|w| w == b"{{") {
            match split_markers(&data, kind.escape, &shown) {
                Ok(s) => Some(s),
                Err(e) => {
                    errors.extend(e);
                    continue;
                }
            }
        } else {
            None
        };
        let has_tags = segments
            .as_ref()
            .is_some_and(|s| s.iter().any(|p| matches!(p, Segment::Tag { .. })));
        let body = if has_tags {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nCache-Control: no-store\r\n",
                kind.content_type
            );
            for seg in segments.iter().flatten() {
                if let Segment::Tag { name, at, .. } = seg {
                    tag_uses
                        .entry(name.clone())
                        .or_default()
                        .push((url.clone(), format!("{shown}:{}:{}", at.0, at.1)));
                }
            }
            dyn_segments.push((files.len(), segments.unwrap_or_default()));
            RomBody::Dynamic {
                head,
                parts: Vec::new(),
            }
        } else {
            // Literal markers resolved, or the file as is.
            let bytes = match segments {
                Some(s) => s
                    .into_iter()
                    .flat_map(|p| match p {
                        Segment::Text(t) => t,
                        Segment::Tag { .. } => Vec::new(),
                    })
                    .collect(),
                None => data,
            };
            let etag = format!("\"{:016x}\"", fnv64(&bytes));
            let gz = (cfg.gzip && kind.compressible)
                .then(|| gzip(&bytes))
                .flatten()
                .filter(|g| g.len() < bytes.len() - bytes.len() / 16);
            let gzip_rep = gz.map(|g| {
                let etag = format!("\"{:016x}\"", fnv64(&g));
                Rep {
                    head: static_head(&kind.content_type, g.len(), &etag, true, true),
                    body: g,
                    etag,
                }
            });
            RomBody::Static {
                plain: Rep {
                    head: static_head(
                        &kind.content_type,
                        bytes.len(),
                        &etag,
                        false,
                        gzip_rep.is_some(),
                    ),
                    body: bytes,
                    etag,
                },
                gzip: gzip_rep,
            }
        };
        files.push(RomFile {
            url,
            shown,
            content_type: kind.content_type,
            body,
            form: None,
        });
    }

    // Tags are numbered by name; forms may not share a tag's name.
    let tag_names: Vec<String> = tag_uses.keys().cloned().collect();
    for (fi, segs) in dyn_segments {
        let parts = segs
            .into_iter()
            .map(|s| match s {
                Segment::Text(t) => RomPart::Text(t),
                Segment::Tag { name, escape, .. } => RomPart::Tag(
                    tag_names.iter().position(|n| *n == name).unwrap_or(0),
                    escape,
                ),
            })
            .collect();
        if let Some(RomFile {
            body: RomBody::Dynamic { parts: p, .. },
            ..
        }) = files.get_mut(fi)
        {
            *p = parts;
        }
    }

    // Index files also answer for their directory.
    let aliases: Vec<RomFile> = files
        .iter()
        .filter(|f| f.url.rsplit('/').next() == Some(cfg.index.as_str()))
        .map(|f| RomFile {
            url: f.url.trim_end_matches(cfg.index.as_str()).to_owned(),
            ..f.clone()
        })
        .collect();
    files.extend(aliases);
    files.sort_by(|a, b| a.url.as_bytes().cmp(b.url.as_bytes()));

    let mut forms = Vec::new();
    for (fi, f) in cfg.forms.iter().enumerate() {
        let urls: Vec<&str> = files.iter().map(|x| x.url.as_str()).collect();
        if !urls.contains(&f.path.as_str()) {
            let hint = match nearest(&f.path, &urls) {
                Some(n) => format!("; did you mean {n}?"),
                None => String::new(),
            };
            errors.push(Diagnostic::at(
                toml_file,
                f.at,
                format!(
                    "[http] forms.{}: no file {} in web_root {:?}{hint}",
                    f.name, f.path, cfg.web_root
                ),
            ));
            continue;
        }
        if let Some(t) = tag_uses.get(&f.name) {
            errors.push(Diagnostic::at(
                toml_file,
                f.at,
                format!(
                    "[http] forms.{}: a tag has this name too ({}); form and tag handlers share one namespace",
                    f.name,
                    t.first().map_or("", |u| u.1.as_str())
                ),
            ));
            continue;
        }
        if forms.iter().any(|(_, u): &(String, String)| *u == f.path) {
            errors.push(Diagnostic::at(
                toml_file,
                f.at,
                format!("[http] forms.{}: {} already has a form", f.name, f.path),
            ));
            continue;
        }
        for file in files.iter_mut().filter(|x| x.url == f.path) {
            file.form = Some(fi);
        }
        forms.push((f.name.clone(), f.path.clone()));
    }
    if !errors.is_empty() {
        return Err(Error::new(errors));
    }
    let tags = tag_uses
        .into_iter()
        .map(|(name, uses)| TagInfo { name, uses })
        .collect();
    Ok(WebRom { files, tags, forms })
}

impl Rep {
    fn bytes(&self) -> usize {
        self.head.len() + self.body.len() + self.etag.len()
    }
}

impl WebRom {
    /// Bytes of web content the ROM puts in flash: paths, precomputed
    /// heads, bodies and their gzip twins, ETags, the text of dynamic
    /// pages (not the tables pointing at them), so that a footprint can
    /// tell the site from the server's code.
    pub fn content_bytes(&self) -> usize {
        self.files
            .iter()
            .map(|f| {
                f.url.len()
                    + match &f.body {
                        RomBody::Static { plain, gzip } => {
                            plain.bytes() + gzip.as_ref().map_or(0, Rep::bytes)
                        }
                        RomBody::Dynamic { head, parts } => {
                            head.len()
                                + parts
                                    .iter()
                                    .map(|p| match p {
                                        RomPart::Text(t) => t.len(),
                                        RomPart::Tag(..) => 0,
                                    })
                                    .sum::<usize>()
                        }
                    }
            })
            .sum()
    }
}

fn escape_tokens(e: Escape) -> TokenStream {
    match e {
        Escape::Html => quote!(::emberstack::http::Escape::Html),
        Escape::Json => quote!(::emberstack::http::Escape::Json),
        Escape::Raw => quote!(::emberstack::http::Escape::Raw),
    }
}

fn rep_tokens(r: &Rep) -> TokenStream {
    let head = Literal::byte_string(r.head.as_bytes());
    let body = Literal::byte_string(&r.body);
    let etag = Literal::byte_string(r.etag.as_bytes());
    quote! {
        ::emberstack::http::Representation { head: #head, body: #body, etag: #etag }
    }
}

/// "/index.html and /status.json" style lists.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The `web` module of the generated file.
pub fn tokens(rom: &WebRom, cfg: &HttpSection, device_name: &str, toml_file: &str) -> TokenStream {
    let files = rom.files.iter().map(|f| {
        let path = Literal::string(&f.url);
        let body = match &f.body {
            RomBody::Static { plain, gzip } => {
                let plain = rep_tokens(plain);
                let gzip = match gzip {
                    Some(g) => {
                        let g = rep_tokens(g);
                        quote!(::core::option::Option::Some(#g))
                    }
                    None => quote!(::core::option::Option::None),
                };
                quote!(::emberstack::http::Body::Static { plain: #plain, gzip: #gzip })
            }
            RomBody::Dynamic { head, parts } => {
                let head = Literal::byte_string(head.as_bytes());
                let parts = parts.iter().map(|p| match p {
                    RomPart::Text(t) => {
                        let t = Literal::byte_string(t);
                        quote!(::emberstack::http::Part::Text(#t))
                    }
                    RomPart::Tag(id, e) => {
                        let id = Literal::u16_unsuffixed(u16::try_from(*id).unwrap_or(u16::MAX));
                        let e = escape_tokens(*e);
                        quote!(::emberstack::http::Part::Tag(::emberstack::http::TagId(#id), #e))
                    }
                });
                quote!(::emberstack::http::Body::Dynamic { head: #head, parts: &[#(#parts),*] })
            }
        };
        let form = match f.form {
            Some(i) => {
                let i = Literal::u8_unsuffixed(u8::try_from(i).unwrap_or(u8::MAX));
                quote!(::core::option::Option::Some(::emberstack::http::FormId(#i)))
            }
            None => quote!(::core::option::Option::None),
        };
        quote!(::emberstack::http::File { path: #path, body: #body, form: #form })
    });
    let tag_names = rom.tags.iter().map(|t| Literal::string(&t.name));
    let form_names = rom.forms.iter().map(|(n, _)| Literal::string(n));

    let s = cfg;
    let port = Literal::u16_unsuffixed(s.port);
    let idle = Literal::u32_unsuffixed(s.idle_timeout_secs.saturating_mul(1000));
    let req = Literal::u32_unsuffixed(s.request_timeout_secs.saturating_mul(1000));
    let line = Literal::u16_unsuffixed(s.max_request_line);
    let hdr = Literal::u16_unsuffixed(s.max_header_bytes);
    let body = Literal::u32_unsuffixed(s.max_body);
    let gz = s.gzip;
    let n = Literal::usize_unsuffixed(s.sockets);
    let b = Literal::usize_unsuffixed(s.buffer);
    let rom_bytes = Literal::usize_unsuffixed(rom.content_bytes());

    // The handler trait: one method per tag and per form.
    let tag_methods = rom.tags.iter().map(|t| {
        let ident = Ident::new(&t.name, Span::call_site());
        let pages: Vec<String> = t.uses.iter().map(|(u, at)| format!("{u} ({at})")).collect();
        let doc = format!(" `{{{{{}}}}}` in {}.", t.name, and_list(&pages));
        quote! {
            #[doc = #doc]
            fn #ident(&mut self, out: &mut ::emberstack::http::TagOut<'_>);
        }
    });
    let form_methods = rom.forms.iter().map(|(name, url)| {
        let ident = Ident::new(name, Span::call_site());
        let doc = format!(
            " Form input for {url} (`[http.forms] {name}`): its query string and POST body."
        );
        quote! {
            #[doc = #doc]
            fn #ident(&mut self, input: ::emberstack::http::Input<'_>);
        }
    });
    // What `#[http_var]` checks against.
    let bind_tags = rom.tags.iter().map(|t| {
        let ident = Ident::new(&t.name, Span::call_site());
        let mut pages: Vec<String> = t.uses.iter().map(|(u, _)| u.clone()).collect();
        pages.dedup();
        let pages = Literal::string(&and_list(&pages));
        let at = Literal::string(&t.uses.first().map(|u| u.1.clone()).unwrap_or_default());
        quote!(#ident : #pages #at,)
    });
    let bind_forms = rom.forms.iter().map(|(name, url)| {
        let ident = Ident::new(name, Span::call_site());
        let url = Literal::string(url);
        quote!(#ident : #url,)
    });
    let reserved = Ident::new(RESERVED_HANDLER, Span::call_site());
    let summary = format!(
        " The web site from `{}` (`[http]` in `{toml_file}`): {} files, {} tags, {} forms; {} connections on port {} with {}-byte buffers.",
        s.web_root,
        rom.files.len(),
        rom.tags.len(),
        rom.forms.len(),
        s.sockets,
        s.port,
        s.buffer
    );
    quote! {
        #[doc = #summary]
        pub mod web {
            /// Server settings from `[http]`.
            pub static SETTINGS: ::emberstack::http::HttpSettings = ::emberstack::http::HttpSettings {
                port: #port,
                idle_timeout_ms: #idle,
                request_timeout_ms: #req,
                max_request_line: #line,
                max_header_bytes: #hdr,
                max_body: #body,
                gzip: #gz,
                host_name: #device_name,
            };

            /// Every file of the web root, sorted by path.
            pub static SITE: ::emberstack::http::Site = ::emberstack::http::Site {
                files: &[#(#files),*],
                tags: &[#(#tag_names),*],
                forms: &[#(#form_names),*],
            };

            /// The server sized from `[http]` (`sockets` connections,
            /// `buffer` bytes each).
            pub type HttpServer = ::emberstack::http::HttpServer<#n, #b>;

            /// A server for [`SITE`] with [`SETTINGS`] (no sockets open yet).
            pub const fn server() -> HttpServer {
                ::emberstack::http::HttpServer::new(&SITE, &SETTINGS)
            }

            /// Bytes of RAM the server state occupies.
            #[allow(dead_code)]
            pub const RAM_BYTES: usize = ::core::mem::size_of::<HttpServer>();

            /// Bytes of web content in flash (paths, heads, bodies, gzip
            /// twins, ETags, the text of dynamic pages), as counted at
            /// build time: the site's share of a firmware's flash.
            #[allow(dead_code)]
            pub const ROM_BYTES: usize = #rom_bytes;

            /// The application's handlers: one method per dynamic tag and per
            /// form. Implement it with `#[emberstack::http_var]` on the `impl`
            /// block, which checks it against the pages and implements
            /// `emberstack::http::HttpApp` (the dispatch the server calls).
            pub trait Handlers {
                #(#tag_methods)*
                #(#form_methods)*
                /// Server events (responses, cut tags, resets), for a log.
                fn #reserved(&mut self, event: ::emberstack::http::HttpEvent<'_>) {
                    let _ = event;
                }
            }

            #[doc(hidden)]
            #[allow(unused_macros)]
            macro_rules! __emberstack_http_bind {
                ($($item:tt)*) => {
                    ::emberstack::__http_bind! {
                        tags { #(#bind_tags)* }
                        forms { #(#bind_forms)* }
                        $($item)*
                    }
                };
            }
            #[doc(hidden)]
            #[allow(unused_imports)]
            pub(crate) use __emberstack_http_bind as __bind;
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;

    fn segs(s: &str, e: Escape) -> Result<Vec<Segment>, Vec<String>> {
        split_markers(s.as_bytes(), e, "web/x.html")
            .map_err(|v| v.iter().map(|d| d.to_string()).collect())
    }

    fn tag(name: &str, escape: Escape, at: (usize, usize)) -> Segment {
        Segment::Tag {
            name: name.into(),
            escape,
            at,
        }
    }

    #[test]
    fn markers_split() {
        assert_eq!(
            segs(
                "<p>{{ uptime }}</p>\n<i>{{name|raw}}</i>{{ n|json }}",
                Escape::Html
            )
            .unwrap(),
            vec![
                Segment::Text(b"<p>".to_vec()),
                tag("uptime", Escape::Html, (1, 4)),
                Segment::Text(b"</p>\n<i>".to_vec()),
                tag("name", Escape::Raw, (2, 4)),
                Segment::Text(b"</i>".to_vec()),
                tag("n", Escape::Json, (2, 20)),
            ]
        );
    }

    #[test]
    fn literal_markers() {
        assert_eq!(
            segs("a {{\"{{\"}} b {{ \"}}\" }} c", Escape::Raw).unwrap(),
            vec![Segment::Text(b"a {{ b }} c".to_vec())]
        );
        // `}}` alone is text.
        assert_eq!(
            segs("x }} y", Escape::Raw).unwrap(),
            vec![Segment::Text(b"x }} y".to_vec())]
        );
    }

    #[test]
    fn marker_errors() {
        assert_eq!(
            segs("ok\n  é {{ uptime\n}}", Escape::Html).unwrap_err(),
            ["error: web/x.html:2:5: unterminated tag: `{{` has no `}}` on the same line (write `{{\"{{\"}}` for a literal `{{`)"]
        );
        assert_eq!(
            segs("{{Uptime}}", Escape::Html).unwrap_err(),
            ["error: web/x.html:1:1: invalid tag `{{Uptime}}`: a tag name is its handler's name: lowercase letters, digits and `_`, not starting with a digit, not a Rust keyword (write `{{\"{{\"}}` for a literal `{{`)"]
        );
        assert_eq!(
            segs("{{x|rwa}}", Escape::Html).unwrap_err(),
            ["error: web/x.html:1:1: tag `x`: unknown filter `|rwa`: expected `|raw`, `|html` or `|json`; did you mean `raw`?"]
        );
        assert_eq!(
            segs("{{}} {{fn}} {{http_event}}", Escape::Html)
                .unwrap_err()
                .len(),
            3
        );
        assert_eq!(
            segs("{{\"abc}}", Escape::Html).unwrap_err(),
            ["error: web/x.html:1:1: unterminated literal in `{{\"…\"}}`: no closing `\"` on the same line"]
        );
    }

    // ---- the ROM from a directory -----------------------------------------

    use crate::{generate_from_str_in, parse_config};
    use std::path::PathBuf;

    /// A scratch web root with `files` (path, content) under `dir/web`.
    fn site(name: &str, files: &[(&str, &[u8])]) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("es-http-codegen-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, content) in files {
            let p = dir.join("web").join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        std::fs::create_dir_all(dir.join("web")).unwrap();
        dir
    }

    const TOML: &str = "[device]\nname = \"E\"\nmac = \"02:00:00:00:00:02\"\n[tcp]\nsockets = 4\n[http]\nweb_root = \"web\"\n";

    fn rom(dir: &Path, toml: &str) -> Result<WebRom, Vec<String>> {
        let cfg = parse_config("stack.toml", toml).map_err(|e| vec![e.to_string()])?;
        build(&cfg.http, "stack.toml", &dir.join(&cfg.http.web_root))
            .map_err(|e| e.diagnostics().iter().map(|d| d.to_string()).collect())
    }

    #[test]
    fn rom_files_heads_gzip_etag_and_index_alias() {
        let css = "body { color: red; }\n".repeat(40);
        let dir = site(
            "rom",
            &[
                ("index.html", b"<p>{{uptime}} {{\"{{\"}}</p>"),
                ("style.css", css.as_bytes()),
                ("docs/index.html", b"static"),
                ("img/x.png", &[0x89, b'P', b'N', b'G', 0, 1, 2]),
                (".hidden", b"skipped"),
            ],
        );
        let rom = rom(&dir, TOML).unwrap();
        let urls: Vec<&str> = rom.files.iter().map(|f| f.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "/",
                "/docs/",
                "/docs/index.html",
                "/img/x.png",
                "/index.html",
                "/style.css"
            ]
        );
        let css_file = rom.files.iter().find(|f| f.url == "/style.css").unwrap();
        let RomBody::Static {
            plain,
            gzip: Some(gz),
        } = &css_file.body
        else {
            panic!("css has a gzip twin: {:?}", css_file.body)
        };
        assert_eq!(plain.body, css.as_bytes());
        assert!(gz.body.len() < css.len() / 4);
        assert!(plain
            .head
            .starts_with("HTTP/1.1 200 OK\r\nContent-Type: text/css; charset=utf-8\r\n"));
        assert!(plain
            .head
            .contains(&format!("Content-Length: {}\r\n", css.len())));
        assert!(
            plain.head.contains("Vary: Accept-Encoding\r\n")
                && plain.head.contains("Cache-Control: no-cache\r\n")
        );
        assert!(gz.head.contains("Content-Encoding: gzip\r\n"));
        assert_ne!(plain.etag, gz.etag);
        assert_eq!(plain.etag.len(), 18);
        // Deterministic gzip (no name, no time).
        let mut d = flate2::read::GzDecoder::new(&gz.body[..]);
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut d, &mut back).unwrap();
        assert_eq!(back, css.as_bytes());
        // Binary files are never scanned nor compressed when not worth it.
        let png = rom.files.iter().find(|f| f.url == "/img/x.png").unwrap();
        assert!(matches!(&png.body, RomBody::Static { gzip: None, .. }));
        assert_eq!(png.content_type, "image/png");
        // The dynamic page: parts with the literal resolved.
        let index = rom.files.iter().find(|f| f.url == "/index.html").unwrap();
        assert_eq!(
            index.body,
            RomBody::Dynamic {
                head: "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n".into(),
                parts: vec![
                    RomPart::Text(b"<p>".to_vec()),
                    RomPart::Tag(0, Escape::Html),
                    RomPart::Text(b" {{</p>".to_vec()),
                ]
            }
        );
        assert_eq!(
            rom.tags[0].uses,
            [("/index.html".to_owned(), "web/index.html:1:4".to_owned())]
        );
        // And the generated code compiles as Rust (checked by syn in generate).
        let code = generate_from_str_in("stack.toml", TOML, &dir).unwrap();
        assert!(code.contains("fn uptime(&mut self, out: &mut ::emberstack::http::TagOut<'_>);"));
        assert!(
            code.contains("/// `{{uptime}}` in /index.html (web/index.html:1:4)."),
            "{code}"
        );
        assert!(code.contains("pub type HttpServer = ::emberstack::http::HttpServer<2, 128>;"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn content_bytes_count_what_lands_in_flash() {
        // A static file that does not compress (no twin) and a dynamic page.
        let bin: Vec<u8> = (0..2000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let dir = site("bytes", &[("x.bin", &bin), ("p.html", b"ab{{t}}cd")]);
        let rom = rom(&dir, TOML).unwrap();
        let x = rom.files.iter().find(|f| f.url == "/x.bin").unwrap();
        let RomBody::Static { plain, gzip: None } = &x.body else {
            panic!("random bytes get no gzip twin: {:?}", x.body)
        };
        let page = rom.files.iter().find(|f| f.url == "/p.html").unwrap();
        let RomBody::Dynamic { head, .. } = &page.body else {
            panic!("p.html has a tag")
        };
        let expected = "/x.bin".len()
            + plain.head.len()
            + bin.len()
            + plain.etag.len()
            + "/p.html".len()
            + head.len()
            + "abcd".len();
        assert_eq!(rom.content_bytes(), expected);
        let code = generate_from_str_in("stack.toml", TOML, &dir).unwrap();
        assert!(code.contains(&format!("pub const ROM_BYTES: usize = {expected};")));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn gzip_off_builds_no_twins() {
        let css = "a { b: c }\n".repeat(50);
        let dir = site("nogz", &[("s.css", css.as_bytes())]);
        let rom = rom(&dir, &format!("{TOML}gzip = false\n")).unwrap();
        assert!(matches!(
            &rom.files[0].body,
            RomBody::Static { gzip: None, .. }
        ));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn forms_map_to_files() {
        let dir = site(
            "forms",
            &[("settings.html", b"<p>{{msg}}</p>"), ("up.html", b"x")],
        );
        let toml =
            format!("{TOML}[http.forms]\nsettings = \"/settings.html\"\nupload = \"up.html\"\n");
        let rom = rom(&dir, &toml).unwrap();
        assert_eq!(
            rom.forms,
            [
                ("settings".to_owned(), "/settings.html".to_owned()),
                ("upload".to_owned(), "/up.html".to_owned())
            ]
        );
        assert_eq!(
            rom.files.iter().find(|f| f.url == "/up.html").unwrap().form,
            Some(1)
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn web_root_errors() {
        // Missing directory.
        let dir = site("missing", &[]);
        let toml = TOML.replace("\"web\"", "\"www\"");
        let e = rom(&dir, &toml).unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("error: stack.toml:7:12: [http] web_root: \"www\" does not exist ("),
            "{e:?}"
        );
        let _ = std::fs::remove_dir_all(dir);
        // Unreadable file (a dangling link: root reads any mode), a path
        // too long, and an unterminated marker: all reported.
        let long = format!("{}.html", "n".repeat(130));
        let dir = site(
            "errors",
            &[
                (long.as_str(), b"x"),
                ("bad.js", b"var a = 1;\nif (x) {{y();}}\n"),
            ],
        );
        std::os::unix::fs::symlink("/nonexistent/x", dir.join("web/gone.html")).unwrap();
        let e = rom(&dir, TOML).unwrap_err();
        assert_eq!(e.len(), 3, "{e:?}");
        assert_eq!(
            e[0],
            "error: web/bad.js:2:8: invalid tag `{{y();}}`: a tag name is its handler's name: lowercase letters, digits and `_`, not starting with a digit, not a Rust keyword (write `{{\"{{\"}}` for a literal `{{`)"
        );
        assert!(
            e[1].starts_with("error: web/gone.html: cannot read: "),
            "{e:?}"
        );
        assert_eq!(
            e[2],
            format!("error: web/{long}: URL path /{long} is 136 bytes, longer than [http] buffer = 128 (requests are matched in that buffer); shorten the path or raise buffer")
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn form_errors() {
        let dir = site("formerr", &[("settings.html", b"<p>{{msg}}</p>")]);
        let toml =
            format!("{TOML}[http.forms]\nsetting = \"/setings.html\"\nmsg = \"/settings.html\"\n");
        assert_eq!(
            rom(&dir, &toml).unwrap_err(),
            [
                "error: stack.toml:9:1: [http] forms.setting: no file /setings.html in web_root \"web\"; did you mean /settings.html?",
                "error: stack.toml:10:1: [http] forms.msg: a tag has this name too (web/settings.html:1:4); form and tag handlers share one namespace",
            ]
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn http_section_errors() {
        let errs = |toml: &str| match parse_config("stack.toml", toml) {
            Ok(_) => Vec::new(),
            Err(e) => e.diagnostics().iter().map(|d| d.to_string()).collect(),
        };
        let device = "[device]\nname = \"E\"\nmac = \"02:00:00:00:00:02\"\n";
        assert_eq!(
            errs(&format!("{device}[tcp]\n[http]\nport = 80\n")),
            ["error: stack.toml:5:1: [http] web_root: missing key; add `web_root = \"web\"` (the directory served, relative to stack.toml)"]
        );
        assert_eq!(
            errs(&format!("{device}[tcp]\nsockets = 2\n[http]\nweb_root = \"web\"\nsockets = 3\n")),
            ["error: stack.toml:8:11: [http] sockets: the server needs 3 TCP sockets but [tcp] has 2; raise [tcp] sockets (they include the server's)"]
        );
        assert_eq!(
            errs(&format!("{device}[tcp]\n[http]\nweb_root = \"web\"\nbufer = 256\n[http.forms]\n\"Bad-Name\" = \"/x\"\n")),
            [
                "error: stack.toml:7:1: [http] bufer: unknown key; did you mean `buffer`?",
                "error: stack.toml:9:1: [http] forms.Bad-Name: a form's name is its handler's name: lowercase letters, digits and `_`, not starting with a digit, not a Rust keyword or `http_event`",
            ]
        );
        // Off: the web root is neither required nor read.
        assert!(errs(&format!("{device}[http]\nenabled = false\n")).is_empty());
    }
}
