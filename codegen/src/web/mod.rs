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
//!
//! The steps, one module each: `walk` finds the files under the web root,
//! `template` splits dynamic pages at their markers, `compress` builds a
//! static file's representations (gzip twin, ETags, heads), and [`tokens`]
//! writes the generated module. [`build`] runs them in order.

mod compress;
mod template;
mod tokens;
mod walk;

use std::collections::BTreeMap;
use std::path::Path;

use crate::diag::{Diagnostic, Error};
use crate::reader::nearest;
use crate::schema::HttpSection;

pub use template::split_markers;
pub use tokens::tokens;

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
    /// The strong ETag, quoted: in the head's `ETag` line, where the
    /// runtime reads it (not emitted on its own).
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

/// Reads the web root and builds the ROM. `toml_file` and the section's
/// positions name `stack.toml` places; files are shown as
/// `<web_root>/<path>`.
pub fn build(cfg: &HttpSection, toml_file: &str, root: &Path) -> Result<WebRom, Error> {
    walk::check_root(cfg, toml_file, root)?;
    let shown_root = cfg.web_root.trim_end_matches('/').to_owned();
    let mut errors: Vec<Diagnostic> = Vec::new();
    let mut paths = Vec::new();
    walk::walk(root, &mut paths, &mut errors, &shown_root);

    let mut files: Vec<RomFile> = Vec::new();
    let mut tag_uses: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut dyn_segments: Vec<(usize, Vec<Segment>)> = Vec::new();
    for path in &paths {
        let Some((file, segments)) = read_file(cfg, root, &shown_root, path, &mut errors) else {
            continue;
        };
        if let Some(segments) = segments {
            record_tag_uses(&mut tag_uses, &file, &segments);
            dyn_segments.push((files.len(), segments));
        }
        files.push(file);
    }
    number_tags(&mut files, dyn_segments, &tag_uses);
    check_slots(&files, tag_uses.len(), &shown_root, &mut errors);
    add_index_aliases(&mut files, &cfg.index);
    check_paths(&files, &shown_root, &mut errors);
    let forms = attach_forms(cfg, toml_file, &mut files, &tag_uses, &mut errors);
    if !errors.is_empty() {
        return Err(Error::new(errors));
    }
    let tags = tag_uses
        .into_iter()
        .map(|(name, uses)| TagInfo { name, uses })
        .collect();
    Ok(WebRom { files, tags, forms })
}

/// One file of the web root as a ROM file: static (with its
/// representations), or dynamic with the segments its parts are made from
/// once every tag is known. `None` when it cannot be part of the ROM (the
/// error is recorded).
fn read_file(
    cfg: &HttpSection,
    root: &Path,
    shown_root: &str,
    path: &Path,
    errors: &mut Vec<Diagnostic>,
) -> Option<(RomFile, Option<Vec<Segment>>)> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let Some(rel_str) = rel.to_str() else {
        errors.push(Diagnostic::file(
            &format!("{shown_root}/{}", rel.display()),
            "the file name is not UTF-8; rename it".to_owned(),
        ));
        return None;
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
        return None;
    }
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) => {
            errors.push(Diagnostic::file(&shown, format!("cannot read: {e}")));
            return None;
        }
    };
    let kind = kind_of(path);
    let segments = if kind.text && data.windows(2).any(|w| w == b"{{") {
        match split_markers(&data, kind.escape, &shown) {
            Ok(s) => Some(s),
            Err(e) => {
                errors.extend(e);
                return None;
            }
        }
    } else {
        None
    };
    let has_tags = segments
        .as_ref()
        .is_some_and(|s| s.iter().any(|p| matches!(p, Segment::Tag { .. })));
    let (body, dynamic) = if has_tags {
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nCache-Control: no-store\r\n",
            kind.content_type
        );
        let body = RomBody::Dynamic {
            head,
            parts: Vec::new(),
        };
        (body, Some(segments.unwrap_or_default()))
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
        let compress = cfg.gzip && kind.compressible;
        (
            compress::static_body(bytes, &kind.content_type, compress, cfg.etag),
            None,
        )
    };
    let file = RomFile {
        url,
        shown,
        content_type: kind.content_type,
        body,
        form: None,
    };
    Some((file, dynamic))
}

/// Notes where `file` uses each of its tags (`web/index.html:12:7`).
fn record_tag_uses(
    tag_uses: &mut BTreeMap<String, Vec<(String, String)>>,
    file: &RomFile,
    segments: &[Segment],
) {
    for seg in segments {
        if let Segment::Tag { name, at, .. } = seg {
            tag_uses.entry(name.clone()).or_default().push((
                file.url.clone(),
                format!("{}:{}:{}", file.shown, at.0, at.1),
            ));
        }
    }
}

/// Fills in the parts of the dynamic files: tags are numbered by name.
fn number_tags(
    files: &mut [RomFile],
    dyn_segments: Vec<(usize, Vec<Segment>)>,
    tag_uses: &BTreeMap<String, Vec<(String, String)>>,
) {
    let tag_names: Vec<&String> = tag_uses.keys().collect();
    for (fi, segs) in dyn_segments {
        let parts = segs
            .into_iter()
            .map(|s| match s {
                Segment::Text(t) => RomPart::Text(t),
                Segment::Tag { name, escape, .. } => RomPart::Tag(
                    tag_names.iter().position(|n| **n == name).unwrap_or(0),
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
}

/// The runtime places a page's tags by 16-bit offsets into its text and
/// numbers tags in 14 bits (`emberstack::http::TagSlot`): a page with
/// tags holds at most 65,535 bytes of text, a site at most 16,384 tags.
fn check_slots(files: &[RomFile], tags: usize, root: &str, errors: &mut Vec<Diagnostic>) {
    for f in files {
        if let RomBody::Dynamic { parts, .. } = &f.body {
            let text: usize = parts
                .iter()
                .map(|p| match p {
                    RomPart::Text(t) => t.len(),
                    RomPart::Tag(..) => 0,
                })
                .sum();
            if text > usize::from(u16::MAX) {
                errors.push(Diagnostic::file(
                    &f.shown,
                    format!(
                        "a page with tags holds at most 65535 bytes of text besides its tags, this one {text}: split it, or move its static part to a file without tags"
                    ),
                ));
            }
        }
    }
    if tags > MAX_TAGS {
        errors.push(Diagnostic::file(
            root,
            format!("at most {MAX_TAGS} distinct tags fit a site, this one has {tags}"),
        ));
    }
}

/// The runtime places a file's URL path by 16 bits in one string of
/// every path (`emberstack::http::File::path_at`) and gives its length
/// in 8 (`path_len`): a site's paths (the index aliases among them) hold
/// at most 65,535 bytes together, each at most [`MAX_PATH`].
fn check_paths(files: &[RomFile], root: &str, errors: &mut Vec<Diagnostic>) {
    for f in files.iter().filter(|f| f.url.len() > MAX_PATH) {
        errors.push(Diagnostic::file(
            &f.shown,
            format!(
                "URL path {} is {} bytes, longer than {MAX_PATH}: shorten the path",
                f.url,
                f.url.len()
            ),
        ));
    }
    let paths: usize = files.iter().map(|f| f.url.len()).sum();
    if paths > usize::from(u16::MAX) {
        errors.push(Diagnostic::file(
            root,
            format!("the URL paths of a site's files hold at most 65535 bytes together, this one's {paths}: use shorter names or fewer files"),
        ));
    }
}

/// Longest URL path of a file (`emberstack::http::File::path_len` is a
/// byte).
const MAX_PATH: usize = u8::MAX as usize;

/// Distinct forms a site may have (`emberstack::http::File::form` is a
/// byte, and `File::NO_FORM` is 255).
const MAX_FORMS: usize = u8::MAX as usize;

/// Distinct tags a site may have (`TagSlot` numbers them in 14 bits).
const MAX_TAGS: usize = 1 << 14;

/// Index files also answer for their directory; the files end up sorted
/// by URL.
fn add_index_aliases(files: &mut Vec<RomFile>, index: &str) {
    let aliases: Vec<RomFile> = files
        .iter()
        .filter(|f| f.url.rsplit('/').next() == Some(index))
        .map(|f| RomFile {
            url: f.url.trim_end_matches(index).to_owned(),
            ..f.clone()
        })
        .collect();
    files.extend(aliases);
    files.sort_by(|a, b| a.url.as_bytes().cmp(b.url.as_bytes()));
}

/// Marks the files of `[http.forms]` with their form's number, checking
/// that each path is a file, no tag shares the form's name and no path has
/// two forms. Returns the forms `(name, url)`.
fn attach_forms(
    cfg: &HttpSection,
    toml_file: &str,
    files: &mut [RomFile],
    tag_uses: &BTreeMap<String, Vec<(String, String)>>,
    errors: &mut Vec<Diagnostic>,
) -> Vec<(String, String)> {
    let mut forms = Vec::new();
    if cfg.forms.len() > MAX_FORMS {
        errors.push(Diagnostic::file(
            toml_file,
            format!(
                "[http] forms: at most {MAX_FORMS} forms fit a site, this one has {}",
                cfg.forms.len()
            ),
        ));
    }
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
    forms
}

impl Rep {
    fn bytes(&self) -> usize {
        // The ETag is in the head only (the runtime reads it there).
        self.head.len() + self.body.len()
    }
}

impl WebRom {
    /// Bytes of web content the ROM puts in flash: paths, precomputed
    /// heads (with their ETags), bodies and their gzip twins, the text of dynamic
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
#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    // ---- the ROM from a directory -----------------------------------------
    use super::*;

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

    /// The feature switches of `[http]` (issue 12), in the order of
    /// `HttpFeatures`' constants, with the constant each one sets.
    const SWITCHES: [(&str, &str); 7] = [
        ("multipart", "MULTIPART"),
        ("urlencoded", "URLENCODED"),
        ("keep_alive", "KEEP_ALIVE"),
        ("gzip", "GZIP"),
        ("expect_continue", "CONTINUE"),
        ("etag", "ETAG"),
        ("chunked", "CHUNKED"),
    ];

    #[test]
    fn feature_switches_are_parsed_and_emitted_as_features() {
        let dir = site("switches", &[("index.html", b"<p>hi</p>")]);
        // All on (the default): the runtime's `AllFeatures`, the server's
        // default parameter.
        let code = generate_from_str_in("stack.toml", TOML, &dir).unwrap();
        assert!(
            code.contains("pub type Features = ::emberstack::http::AllFeatures;"),
            "{code}"
        );
        assert!(code.contains("pub type HttpServer = ::emberstack::http::HttpServer<2, 128>;"));
        let cfg = parse_config("stack.toml", TOML).unwrap();
        let h = &cfg.http;
        assert!(
            h.multipart && h.urlencoded && h.keep_alive && h.gzip,
            "{h:?}"
        );
        assert!(h.expect_continue && h.etag && h.chunked, "{h:?}");
        // Each switch off alone: a `Features` type with that one constant
        // false, the others true.
        for (key, constant) in SWITCHES {
            let toml = format!("{TOML}{key} = false\n");
            let code = generate_from_str_in("stack.toml", &toml, &dir).unwrap();
            let code: String = code.split_whitespace().collect();
            assert!(
                code.contains("pubtypeHttpServer=::emberstack::http::HttpServer<2,128,Features>;"),
                "{key}: {code}"
            );
            for (_, c) in SWITCHES {
                let want = format!("const{c}:bool={};", c != constant);
                assert!(code.contains(&want), "{key}: {want} in {code}");
            }
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn feature_switches_have_good_errors() {
        for (key, _) in SWITCHES {
            let toml = format!("{TOML}{key} = \"no\"\n");
            let err = parse_config("stack.toml", &toml).unwrap_err().to_string();
            assert!(
                err.contains(&format!(
                    "stack.toml:8:{}: [http] {key}: expected a boolean (`true` or `false`), found \"no\"; did you mean `false` (without quotes)?",
                    key.len() + 4
                )),
                "{err}"
            );
        }
        // A misspelt switch names the nearest one.
        let err = parse_config("stack.toml", &format!("{TOML}keepalive = false\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[http]") && err.contains("`keep_alive`"),
            "{err}"
        );
        let err = parse_config("stack.toml", &format!("{TOML}etags = false\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`etag`"), "{err}");
    }

    #[test]
    fn etag_off_leaves_the_etag_out_of_the_heads() {
        let css = "a { b: c }\n".repeat(50);
        let dir = site("noetag", &[("s.css", css.as_bytes())]);
        let rom = rom(&dir, &format!("{TOML}etag = false\n")).unwrap();
        let RomBody::Static {
            plain,
            gzip: Some(gz),
        } = &rom.files[0].body
        else {
            panic!("s.css has a gzip twin: {:?}", rom.files[0].body)
        };
        for r in [plain, gz] {
            assert!(r.etag.is_empty(), "{r:?}");
            assert!(!r.head.contains("ETag"), "{}", r.head);
            assert!(r.head.contains("Cache-Control: no-cache\r\n"), "{}", r.head);
        }
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

    /// A file's path is a 16-bit place in one string of every path:
    /// 65,535 bytes of paths are accepted, more are refused; the generated
    /// files name their places in the site's `paths`.
    #[test]
    fn file_paths_fit_16_bits() {
        // 257 paths of 255 bytes: `/`, 200 bytes, `/`, 53 digits.
        let dir_name = "d".repeat(200);
        let names: Vec<String> = (0..257).map(|i| format!("{dir_name}/{i:053}")).collect();
        let mut files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
        let toml = format!("{TOML}buffer = 256\n");
        let dir = site("paths", &files);
        if let Err(e) = rom(&dir, &toml) {
            panic!("{e:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
        files.push(("a", b"x"));
        let dir = site("paths-over", &files);
        let e = rom(&dir, &toml).unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].contains("the URL paths of a site's files hold at most 65535 bytes together, this one's 65537"),
            "{e:?}"
        );
        let _ = std::fs::remove_dir_all(dir);
        let dir = site("paths-code", &[("b.txt", b"b"), ("a.txt", b"a")]);
        let code = generate_from_str_in("stack.toml", TOML, &dir).unwrap();
        let code: String = code.split_whitespace().collect();
        assert!(code.contains("path_at:0,path_len:6,"), "{code}");
        assert!(code.contains("path_at:6,path_len:6,"), "{code}");
        assert!(code.contains("paths:\"/a.txt/b.txt\","), "{code}");
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A file's path length and its form's number are bytes: a 255-byte
    /// path and 255 forms are accepted (the generated file names its form
    /// by number, `File::NO_FORM` without one); a 256-byte path and a
    /// 256th form are refused.
    #[test]
    fn a_path_length_and_a_form_number_fit_a_byte() {
        let toml = format!("{TOML}buffer = 512\n");
        let long = format!("{}/{}", "d".repeat(200), "e".repeat(53));
        let dir = site("byte-path", &[(long.as_str(), b"x")]);
        if let Err(e) = rom(&dir, &toml) {
            panic!("{e:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
        let longer = format!("{long}f");
        let dir = site("byte-path-over", &[(longer.as_str(), b"x")]);
        let e = rom(&dir, &toml).unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("is 256 bytes, longer than 255"), "{e:?}");
        let _ = std::fs::remove_dir_all(dir);
        let names: Vec<String> = (0..256).map(|i| format!("p{i}.html")).collect();
        let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
        let forms = |n: usize| -> String {
            let mut t = format!("{toml}[http.forms]\n");
            for i in 0..n {
                t.push_str(&format!("f{i} = \"/p{i}.html\"\n"));
            }
            t
        };
        let dir = site("byte-forms", &files);
        let code = generate_from_str_in("stack.toml", &forms(255), &dir).unwrap();
        let code: String = code.split_whitespace().collect();
        assert!(code.contains("form:254,"), "{code}");
        assert!(
            code.contains("form:::emberstack::http::File::NO_FORM,"),
            "{code}"
        );
        let e = rom(&dir, &forms(256)).unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].contains("at most 255 forms fit a site, this one has 256"),
            "{e:?}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A page's tags are placed by 16-bit offsets into its text: 65,535
    /// bytes of text (tags not counted) are accepted, one more is refused
    /// with the page named; the generated slots hold each tag's offset.
    #[test]
    fn tag_places_fit_16_bits() {
        let fits = [b"{{t}}".as_slice(), &vec![b'a'; 65_535]].concat();
        let over = [b"{{t}}".as_slice(), &vec![b'a'; 65_536]].concat();
        let dir = site("slots", &[("ok.txt", &fits)]);
        assert!(rom(&dir, TOML).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
        let dir = site("slots-over", &[("ok.txt", &fits), ("big.txt", &over)]);
        let e = rom(&dir, TOML).unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("error: web/big.txt: a page with tags holds at most 65535 bytes of text besides its tags, this one 65536"),
            "{e:?}"
        );
        let _ = std::fs::remove_dir_all(dir);
        // The text in one string, each tag at its offset.
        let dir = site("slots-code", &[("p.html", b"ab{{t}}cd{{u|raw}}{{t}}")]);
        let code = generate_from_str_in("stack.toml", TOML, &dir).unwrap();
        let code: String = code.split_whitespace().collect();
        assert!(code.contains("text:b\"abcd\","), "{code}");
        for slot in [
            "TagSlot::new(2,::emberstack::http::TagId(0),::emberstack::http::Escape::Html,)",
            "TagSlot::new(4,::emberstack::http::TagId(1),::emberstack::http::Escape::Raw,)",
            "TagSlot::new(4,::emberstack::http::TagId(0),::emberstack::http::Escape::Html,),],",
        ] {
            assert!(code.contains(slot), "{slot}: {code}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
