//! Template: a dynamic page's markers (`{{name}}`, `{{name|raw}}`,
//! `{{"text"}}`) parsed and the page split into text and tag slots, with
//! file:line:col errors.

use crate::diag::Diagnostic;
use crate::reader::nearest;
use crate::schema::http::{handler_name_ok, RESERVED_HANDLER};

use super::{Escape, Segment};

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
}
