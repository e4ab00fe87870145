//! `multipart/form-data` (RFC 7578, RFC 2046 §5.1) parsed as it streams
//! in: part data is handed on in runs straight from the received segment,
//! never buffered. Only the delimiter (`CRLF--boundary`, in the
//! connection's buffer) and one part-header line at a time are held.
//!
//! The delimiter is matched byte by byte across segment boundaries. A
//! partial match that fails is data after all; since the boundary contains
//! neither CR nor LF, the matched bytes are exactly the delimiter's first
//! `k` bytes, so they are re-sent from the delimiter itself, and the
//! mismatching byte can only restart a match if it is CR.

use super::request::{lower_eq, offset_in, trimmed};

/// Parser state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum St {
    /// Before the first delimiter (the preamble is ignored).
    #[default]
    Preamble,
    /// Right after a delimiter: `--` (the end), or padding and CRLF.
    AfterDelim,
    /// After `-`: a second one ends the body.
    AfterDash,
    /// Transport padding (spaces, tabs) before the CRLF.
    Padding,
    /// Part header lines.
    Headers,
    /// Part data.
    Data,
    /// After the close delimiter: ignored.
    Epilogue,
}

/// A stored string in the buffer: `(start, len)`.
type Slot = (u16, u16);

/// The multipart parser of one request body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Multipart {
    st: St,
    /// Delimiter bytes matched so far.
    k: u16,
    /// Delimiter length (`\r\n--` + boundary) at the start of the buffer.
    dlen: u16,
    /// Next free byte in the buffer (after the delimiter and stored part
    /// headers); a header line being read starts here.
    store: u16,
    /// Bytes of the header line being read (at `store`).
    llen: u16,
    /// The line did not fit; it is skipped unless it matters.
    over: bool,
    /// Part header bytes so far (bounded).
    hbytes: u16,
    /// The part's name, file name and content type, in that order
    /// (indexed by `NAME`, `FILENAME`, `CTYPE`).
    slots: [Option<Slot>; 3],
}

/// Index of the part's name in `Multipart::slots`.
const NAME: usize = 0;
/// Index of the part's file name in `Multipart::slots`.
const FILENAME: usize = 1;
/// Index of the part's content type in `Multipart::slots`.
const CTYPE: usize = 2;

/// What the parser hands on.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum MpOut<'a> {
    /// A part begins.
    Start {
        name: &'a str,
        filename: Option<&'a str>,
        content_type: Option<&'a str>,
    },
    /// Some of its data.
    Data(&'a [u8]),
    /// It ended.
    End,
}

/// Why the body is refused: 400 (malformed) or 413 (a part header line
/// does not fit in the buffer).
pub(crate) type Refused = u16;

/// Byte classes for [`scan`]: white space (SP, HT), `;`, `=`, anything
/// else; a set of classes is their bits.
const WS: u8 = 1;
const SEMI: u8 = 2;
const EQ: u8 = 4;
const OTHER: u8 = 8;

/// The first index from `i` on (at most `to`) whose byte's class is in
/// `stop`.
#[inline(never)]
fn scan(buf: &[u8], mut i: usize, to: usize, stop: u8) -> usize {
    while let Some(&c) = buf.get(i).filter(|_| i < to) {
        let class = match c {
            b' ' | b'\t' => WS,
            b';' => SEMI,
            b'=' => EQ,
            _ => OTHER,
        };
        if class & stop != 0 {
            break;
        }
        // Bounded: `i < to`.
        i = i.wrapping_add(1);
    }
    i
}

/// `buf[i]` when `i < to`.
fn at(buf: &[u8], i: usize, to: usize) -> Option<u8> {
    buf.get(i).copied().filter(|_| i < to)
}

/// Most bytes of part headers per part.
const MAX_PART_HEADERS: u16 = 2048;

impl Multipart {
    /// A parser for the delimiter already written at `buf[..dlen]`.
    pub(crate) fn new(dlen: u16) -> Self {
        Multipart {
            // The body starts with `--boundary`: as if CRLF matched.
            k: 2,
            dlen,
            store: dlen,
            ..Multipart::default()
        }
    }

    /// Whether the body may end here (the close delimiter was seen).
    pub(crate) fn complete(&self) -> bool {
        self.st == St::Epilogue
    }

    /// Feeds `chunk`; `emit` gets the parts. Returns an error status when
    /// the body cannot be parsed.
    pub(crate) fn feed(
        &mut self,
        chunk: &[u8],
        buf: &mut [u8],
        emit: &mut dyn FnMut(MpOut<'_>),
    ) -> Result<(), Refused> {
        // `i` and `run` stay within `chunk`: plain increments are exact.
        let mut i = 0usize;
        while let Some(&b) = chunk.get(i) {
            match self.st {
                St::Data if self.k == 0 => {
                    // A run of data up to the next CR (where a delimiter
                    // might start).
                    let rest = chunk.get(i..).unwrap_or(&[]);
                    let run = rest.iter().position(|&c| c == b'\r').unwrap_or(rest.len());
                    if run > 0 {
                        emit(MpOut::Data(rest.get(..run).unwrap_or(&[])));
                        i = i.wrapping_add(run);
                        continue;
                    }
                    self.k = 1;
                }
                St::Preamble | St::Data => self.delimiter_byte(b, buf, emit),
                // Right after a delimiter `-` may begin the close one;
                // padding and the line end may follow either.
                St::AfterDelim | St::Padding => {
                    self.st = match b {
                        b'-' if self.st == St::AfterDelim => St::AfterDash,
                        b' ' | b'\t' | b'\r' => St::Padding,
                        b'\n' => self.headers_begin(),
                        _ => return Err(400),
                    }
                }
                St::AfterDash => {
                    if b != b'-' {
                        return Err(400);
                    }
                    self.st = St::Epilogue;
                }
                St::Headers => self.header_byte(b, buf, emit)?,
                St::Epilogue => return Ok(()),
            }
            i = i.wrapping_add(1);
        }
        Ok(())
    }

    fn delimiter_byte(&mut self, b: u8, buf: &[u8], emit: &mut dyn FnMut(MpOut<'_>)) {
        let k = usize::from(self.k);
        if buf.get(k) == Some(&b) && k < usize::from(self.dlen) {
            // Bounded: `k < dlen`.
            self.k = self.k.wrapping_add(1);
            if self.k == self.dlen {
                self.k = 0;
                if self.st == St::Data {
                    emit(MpOut::End);
                }
                self.st = St::AfterDelim;
            }
            return;
        }
        // Mismatch: the matched prefix was data (in a part).
        if self.st == St::Data && k > 0 {
            emit(MpOut::Data(buf.get(..k).unwrap_or(&[])));
        }
        if b == b'\r' {
            self.k = 1;
        } else {
            self.k = 0;
            if self.st == St::Data {
                emit(MpOut::Data(core::slice::from_ref(&b)));
            }
        }
    }

    fn headers_begin(&mut self) -> St {
        self.store = self.dlen;
        self.llen = 0;
        self.over = false;
        self.hbytes = 0;
        self.slots = [None; 3];
        St::Headers
    }

    /// One byte of the part headers. (Not inlined: out of line it leaves
    /// `feed`'s data loop its registers; the part headers are a few lines.)
    #[inline(never)]
    fn header_byte(
        &mut self,
        b: u8,
        buf: &mut [u8],
        emit: &mut dyn FnMut(MpOut<'_>),
    ) -> Result<(), Refused> {
        // Bounded: at most `MAX_PART_HEADERS` before (more fails the body).
        self.hbytes = self.hbytes.wrapping_add(1);
        if self.hbytes > MAX_PART_HEADERS {
            return Err(413);
        }
        match b {
            b'\r' => Ok(()),
            b'\n' if self.llen == 0 && !self.over => {
                // End of the part headers: each stored value as text (one
                // loop for the three), and RFC 7578 §4.2: every part has a
                // name.
                let mut text: [Option<&str>; 3] = [None; 3];
                for (t, &s) in text.iter_mut().zip(&self.slots) {
                    if let Some((at, len)) = s {
                        let at = usize::from(at);
                        // Two `u16`s in a `usize`.
                        let bytes = buf.get(at..at.wrapping_add(usize::from(len)));
                        *t = Some(
                            bytes
                                .and_then(|b| core::str::from_utf8(b).ok())
                                .ok_or(400u16)?,
                        );
                    }
                }
                let [Some(name), filename, content_type] = text else {
                    return Err(400);
                };
                emit(MpOut::Start {
                    name,
                    filename,
                    content_type,
                });
                self.st = St::Data;
                self.k = 0;
                Ok(())
            }
            b'\n' => {
                let line = (self.store, self.llen);
                let over = self.over;
                self.llen = 0;
                self.over = false;
                self.header_line(line, over, buf)
            }
            _ => {
                if b < 0x20 && b != b'\t' || b == 0x7f {
                    return Err(400);
                }
                // Two `u16`s in a `usize`; `llen` grows only below `buf.len()`.
                let at = usize::from(self.store).wrapping_add(usize::from(self.llen));
                match buf.get_mut(at) {
                    Some(slot) if !self.over => {
                        *slot = b;
                        self.llen = self.llen.wrapping_add(1);
                    }
                    _ => self.over = true,
                }
                Ok(())
            }
        }
    }

    /// One complete part header line at `buf[line.0..][..line.1]`.
    fn header_line(&mut self, line: Slot, over: bool, buf: &mut [u8]) -> Result<(), Refused> {
        let start = usize::from(line.0);
        // Positions in the buffer (`u16`s), the colon inside the line.
        let end = start.wrapping_add(usize::from(line.1));
        let Some(text) = buf.get(start..end) else {
            return Err(400);
        };
        let Some(colon) = text.iter().position(|&c| c == b':') else {
            return if over { Err(413) } else { Err(400) };
        };
        let name = text.get(..colon).unwrap_or(&[]);
        let is_disposition = lower_eq(name, b"content-disposition");
        let is_type = lower_eq(name, b"content-type");
        if over {
            // Other headers may be long; these two must fit.
            return if is_disposition || is_type {
                Err(413)
            } else {
                Ok(())
            };
        }
        let value_at = start.wrapping_add(colon).wrapping_add(1);
        if is_type {
            // (A line not in the buffer gives an empty `v`: nothing is
            // copied, wherever `from` points.)
            let v = trimmed(buf.get(value_at..end).unwrap_or(&[]));
            let (from, len) = (offset_in(buf, v), v.len());
            self.slots[CTYPE] = Some(self.keep(buf, from, len, false));
        } else if is_disposition {
            self.disposition(buf, value_at, end)?;
        }
        Ok(())
    }

    /// `form-data; name="x"; filename="y"` at `buf[from..to]`: items
    /// split at `;`, the first `form-data` and the others parameters
    /// (`name=value`, a value a token or a quoted string; an item without
    /// `=` is ignored).
    fn disposition(&mut self, buf: &mut [u8], from: usize, to: usize) -> Result<(), Refused> {
        // Indices stay at most `to + 1` (`scan` and `at` stop at `to`,
        // which is inside the buffer): plain increments cannot wrap.
        let mut i = from;
        let mut kind = true;
        loop {
            // An item's name (the type, or a parameter's): up to `=` or
            // `;`, without surrounding white space.
            let start = i;
            i = scan(buf, i, to, EQ | SEMI);
            let name = trimmed(buf.get(start..i).unwrap_or(&[]));
            if kind {
                // (`form-data=` is refused below: `=` does not end an item.)
                if !lower_eq(name, b"form-data") {
                    return Err(400);
                }
                kind = false;
            } else if at(buf, i, to) == Some(b'=') {
                let slot = if lower_eq(name, b"name") {
                    Some(NAME)
                } else if lower_eq(name, b"filename") {
                    Some(FILENAME)
                } else {
                    None
                };
                i = scan(buf, i.wrapping_add(1), to, !WS);
                let quoted = at(buf, i, to) == Some(b'"');
                let (vstart, vend) = if quoted {
                    // quoted-string: up to the closing quote, `\` escapes.
                    let s = i.wrapping_add(1);
                    let mut j = s;
                    loop {
                        match at(buf, j, to) {
                            None => return Err(400),
                            Some(b'"') => break,
                            Some(b'\\') => j = j.wrapping_add(2),
                            Some(_) => j = j.wrapping_add(1),
                        }
                    }
                    i = j.wrapping_add(1);
                    (s, j)
                } else {
                    let s = i;
                    i = scan(buf, i, to, SEMI | WS);
                    (s, i)
                };
                if let Some(slot) = slot {
                    let kept = Some(self.keep(buf, vstart, vend.wrapping_sub(vstart), quoted));
                    if let Some(s) = self.slots.get_mut(slot) {
                        *s = kept;
                    }
                }
                i = scan(buf, i, to, !WS);
            }
            // The item ends at `;` or at the end of the line.
            match at(buf, i, to) {
                None => return Ok(()),
                Some(b';') => i = i.wrapping_add(1),
                Some(_) => return Err(400),
            }
        }
    }

    /// Moves `buf[from..][..len]` down to the store (unescaping a quoted
    /// string) and returns where it now is. Sources lie at or after the
    /// store and are kept in order, so moving down never overwrites a
    /// source not yet read.
    fn keep(&mut self, buf: &mut [u8], from: usize, len: usize, quoted: bool) -> Slot {
        let dst0 = usize::from(self.store);
        let mut dst = dst0;
        let mut src = from;
        // Positions within the buffer (plus one past an escape): `src`
        // advances to `end`, `dst` never passes `src`.
        let end = from.wrapping_add(len);
        while src < end {
            let mut c = buf.get(src).copied().unwrap_or(0);
            if quoted && c == b'\\' {
                src = src.wrapping_add(1);
                c = buf.get(src).copied().unwrap_or(0);
            }
            if let Some(d) = buf.get_mut(dst) {
                *d = c;
            }
            dst = dst.wrapping_add(1);
            src = src.wrapping_add(1);
        }
        let n = dst.wrapping_sub(dst0);
        self.store = u16::try_from(dst).unwrap_or(u16::MAX);
        (
            u16::try_from(dst0).unwrap_or(u16::MAX),
            u16::try_from(n).unwrap_or(0),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    enum Ev {
        Start(String, Option<String>, Option<String>),
        Data(Vec<u8>),
        End,
    }

    /// Runs the parser over `body` cut into `pieces`-byte segments; data
    /// events are merged per part.
    fn parse(boundary: &str, body: &[u8], piece: usize, cap: usize) -> Result<Vec<Ev>, u16> {
        let mut buf = vec![0u8; cap];
        let delim = format!("\r\n--{boundary}");
        buf[..delim.len()].copy_from_slice(delim.as_bytes());
        let mut p = Multipart::new(delim.len() as u16);
        let mut evs: Vec<Ev> = Vec::new();
        for seg in body.chunks(piece.max(1)) {
            p.feed(seg, &mut buf, &mut |o| match o {
                MpOut::Start {
                    name,
                    filename,
                    content_type,
                } => evs.push(Ev::Start(
                    name.into(),
                    filename.map(Into::into),
                    content_type.map(Into::into),
                )),
                MpOut::Data(d) => {
                    assert!(!d.is_empty());
                    match evs.last_mut() {
                        Some(Ev::Data(v)) => v.extend_from_slice(d),
                        _ => evs.push(Ev::Data(d.to_vec())),
                    }
                }
                MpOut::End => evs.push(Ev::End),
            })?;
        }
        if !p.complete() {
            return Err(400);
        }
        Ok(evs)
    }

    const BODY: &[u8] = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nEmber\r\n--XyZ  \r\nContent-Type: application/octet-stream\r\ncontent-disposition: form-data; filename=\"a \\\"b\\\".bin\"; name=file\r\nX-Other: 1\r\n\r\n\r\n--Xy\r\r\n-XyZ\r\r\n--XyZ--\r\nepilogue";

    fn expected() -> Vec<Ev> {
        vec![
            Ev::Start("name".into(), None, None),
            Ev::Data(b"Ember".to_vec()),
            Ev::End,
            Ev::Start(
                "file".into(),
                Some("a \"b\".bin".into()),
                Some("application/octet-stream".into()),
            ),
            Ev::Data(b"\r\n--Xy\r\r\n-XyZ\r".to_vec()),
            Ev::End,
        ]
    }

    #[test]
    fn parts_in_any_segmentation() {
        for piece in [1, 2, 3, 5, 7, 16, 1000] {
            assert_eq!(
                parse("XyZ", BODY, piece, 128).unwrap(),
                expected(),
                "piece {piece}"
            );
        }
    }

    #[test]
    fn no_preamble() {
        let body = b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b--";
        assert_eq!(
            parse("b", body, 4, 64).unwrap(),
            vec![
                Ev::Start("a".into(), None, None),
                Ev::Data(b"1".to_vec()),
                Ev::End
            ]
        );
    }

    #[test]
    fn malformed_bodies_are_refused() {
        // No name.
        assert_eq!(
            parse(
                "b",
                b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--",
                3,
                64
            ),
            Err(400)
        );
        // Not form-data.
        assert_eq!(
            parse(
                "b",
                b"--b\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--b--",
                3,
                64
            ),
            Err(400)
        );
        // Never closed.
        assert_eq!(
            parse(
                "b",
                b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx",
                3,
                64
            ),
            Err(400)
        );
        // Garbage after a delimiter.
        assert_eq!(parse("b", b"--bX\r\n", 3, 64), Err(400));
        // A disposition line longer than the buffer.
        let long = format!(
            "--b\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\nx\r\n--b--",
            "n".repeat(100)
        );
        assert_eq!(parse("b", long.as_bytes(), 7, 64), Err(413));
        // Unterminated quote.
        assert_eq!(
            parse(
                "b",
                b"--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--b--",
                3,
                64
            ),
            Err(400)
        );
    }

    /// The part named by one `Content-Disposition` value (`Err` when the
    /// body is refused).
    fn disposition(value: &str) -> Result<Vec<Ev>, u16> {
        let body = format!("--b\r\nContent-Disposition:{value}\r\n\r\nx\r\n--b--");
        parse("b", body.as_bytes(), 5, 192)
    }

    fn start(name: &str, filename: Option<&str>) -> Result<Vec<Ev>, u16> {
        Ok(vec![
            Ev::Start(name.into(), filename.map(Into::into), None),
            Ev::Data(b"x".to_vec()),
            Ev::End,
        ])
    }

    #[test]
    fn disposition_items() {
        // White space around items, names and `=`; names in any case.
        assert_eq!(
            disposition(" Form-Data ;\tNAME = \"q\" ; filename=b\t"),
            start("q", Some("b"))
        );
        // `;` and `=` inside a quoted string, escapes.
        assert_eq!(
            disposition("form-data; name=\"a;b=c\"; filename=\"x\\\"y\\\\z\""),
            start("a;b=c", Some("x\"y\\z"))
        );
        // Empty items and parameters without a value are ignored; other
        // parameters are read and dropped; the last of two names counts.
        assert_eq!(
            disposition("form-data;; flag; name=a; x=\"1;2\"; name=z;"),
            start("z", None)
        );
        // An empty value.
        assert_eq!(disposition("form-data; name="), start("", None));
        // A bare type without parameters has no name.
        assert_eq!(disposition("form-data"), Err(400));
        // The type must be `form-data`, alone in its item.
        for bad in [
            "form-data=x; name=a",
            "form-data x; name=a",
            "\"form-data\"; name=a",
            "; name=a",
            "form-data; name=a b",
            "form-data; name=\"a\"b",
            "form-data; name=\"a\\\"",
        ] {
            assert_eq!(disposition(bad), Err(400), "{bad}");
        }
    }
}
