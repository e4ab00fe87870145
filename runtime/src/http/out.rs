//! Where a tag handler writes its value: a bounded, escaping writer.

use super::rom::Escape;
use core::fmt;

/// The output of one dynamic tag. The handler writes text with
/// [`write_str`](TagOut::write_str) or `write!`; it is escaped as the page
/// asked ([`Escape`]) and kept by the server until the peer has
/// acknowledged it, so a retransmission resends the same bytes.
///
/// Space is bounded by `[http] buffer`: output that does not fit is cut at
/// a character boundary (never inside an escape) and
/// [`is_truncated`](TagOut::is_truncated) says so.
pub struct TagOut<'a> {
    buf: &'a mut [u8],
    len: usize,
    escape: Escape,
    truncated: bool,
}

impl<'a> TagOut<'a> {
    /// A writer into `buf` (the server gives handlers one over the
    /// connection's buffer; tests of handlers make their own).
    pub fn new(buf: &'a mut [u8], escape: Escape) -> Self {
        TagOut {
            buf,
            len: 0,
            escape,
            truncated: false,
        }
    }

    /// Appends text, escaped for where the tag sits.
    ///
    /// One pass: each byte is tested and stored in the same loop (a scan
    /// for the next special byte and a copy of the run before it read
    /// every byte twice; a tag's value is a few bytes, so the loop's
    /// setup matters as much as its body).
    pub fn write_str(&mut self, s: &str) {
        if self.truncated {
            return;
        }
        let special = self.escape.special();
        let bytes = s.as_bytes();
        let mut len = self.len;
        for (i, &b) in bytes.iter().enumerate() {
            if is_special(special, b) {
                self.len = len;
                self.byte(b);
                if self.truncated {
                    return;
                }
                len = self.len;
            } else if let Some(d) = self.buf.get_mut(len) {
                *d = b;
                // Bounded: `len < buf.len()`.
                len = len.wrapping_add(1);
            } else {
                // Full: cut, never inside a character. Escaped bytes are
                // ASCII, so the character holding byte `i` began after the
                // last escape and its first bytes were stored by this loop:
                // take them back.
                let mut back = i;
                while bytes.get(back).is_some_and(|&b| b & 0xc0 == 0x80) {
                    // Bounded: a continuation byte at 0 would be no `str`,
                    // and each byte taken back was stored (`len >= 1`).
                    back = back.wrapping_sub(1);
                    len = len.wrapping_sub(1);
                }
                self.len = len;
                self.truncated = true;
                return;
            }
        }
        self.len = len;
    }

    /// Appends an unsigned number in decimal (no `core::fmt` needed).
    pub fn write_uint(&mut self, n: u64) {
        let mut digits = [0u8; 20];
        let _ = self.put(crate::wire::text::digits(n, &mut digits));
    }

    /// Appends bytes (for a `Raw` tag, any bytes; otherwise each byte is
    /// escaped like an ASCII character and others pass through).
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.byte(b);
            if self.truncated {
                return;
            }
        }
    }

    /// What was written (after escaping).
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// Bytes written so far (after escaping).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when output was cut because it did not fit.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// How the output is escaped.
    pub fn escape(&self) -> Escape {
        self.escape
    }

    /// One byte, escaped as the tag asks. (Not inlined: `write_str` and
    /// `write_bytes` each had a copy; `write_str` calls it only for the
    /// byte that needs escaping, its plain runs are copied whole.)
    #[inline(never)]
    fn byte(&mut self, b: u8) {
        /// The escapes that have a text of their own, one after the
        /// other: the byte, the text's length, the text. HTML's cover
        /// every byte it escapes (`&amp;` `&lt;` `&gt;` `&quot;` `&#39;`);
        /// JSON's are its two-character ones, and any other byte it
        /// escapes is `\u00XX`.
        const HTML: &[u8] = b"&\x05&amp;<\x04&lt;>\x04&gt;\"\x06&quot;'\x05&#39;";
        const JSON: &[u8] = b"\"\x02\\\"\\\x02\\\\\n\x02\\n\r\x02\\r\t\x02\\t";
        if !is_special(self.escape.special(), b) {
            let _ = self.put(core::slice::from_ref(&b));
            return;
        }
        let mut table = if self.escape == Escape::Html {
            HTML
        } else {
            JSON
        };
        while let [k, n, rest @ ..] = table {
            let (text, tail) = rest.split_at(usize::from(*n).min(rest.len()));
            if *k == b {
                let _ = self.put(text);
                return;
            }
            table = tail;
        }
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut esc = *b"\\u0000";
        if let (Some(h), Some(l)) = (HEX.get(usize::from(b >> 4)), HEX.get(usize::from(b & 15))) {
            esc[4] = *h;
            esc[5] = *l;
        }
        let _ = self.put(&esc);
    }

    /// Appends `bytes` whole, or nothing (and marks the output cut).
    /// (Not inlined: called per run and per escape, and by `write_uint`.)
    #[inline(never)]
    fn put(&mut self, bytes: &[u8]) -> bool {
        // Two slice lengths (each at most `isize::MAX`): no wrap.
        let end = self.len.wrapping_add(bytes.len());
        match self.buf.get_mut(self.len..end) {
            Some(dst) if !self.truncated => {
                // Most outputs are a few bytes: a byte loop costs less
                // than `memcpy`'s call (`black_box` keeps LLVM from
                // turning the loop back into it).
                for (d, &b) in dst.iter_mut().zip(bytes) {
                    *d = b;
                    core::hint::black_box(());
                }
                self.len = end;
                true
            }
            _ => {
                self.truncated = true;
                false
            }
        }
    }
}

impl Escape {
    /// The ASCII bytes this escaping replaces, one bit per byte value
    /// (bit `b & 7` of byte `b >> 3`; bytes from 0x80 on always pass
    /// through).
    fn special(self) -> &'static [u8; 16] {
        /// `& < > " '`.
        const HTML: [u8; 16] = [0, 0, 0, 0, 0xc4, 0, 0, 0x50, 0, 0, 0, 0, 0, 0, 0, 0];
        /// Control characters, DEL and `" \\ < > &`.
        const JSON: [u8; 16] = [
            0xff, 0xff, 0xff, 0xff, 0x44, 0, 0, 0x50, 0, 0, 0, 0x10, 0, 0, 0, 0x80,
        ];
        const RAW: [u8; 16] = [0; 16];
        match self {
            Escape::Html => &HTML,
            Escape::Json => &JSON,
            Escape::Raw => &RAW,
        }
    }
}

/// Whether `b` is among `special` ([`Escape::special`]).
fn is_special(special: &[u8; 16], b: u8) -> bool {
    special
        .get(usize::from(b >> 3))
        .is_some_and(|m| (m >> (b & 7)) & 1 != 0)
}

impl fmt::Write for TagOut<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        TagOut::write_str(self, s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    fn render(escape: Escape, cap: usize, f: impl FnOnce(&mut TagOut<'_>)) -> (String, bool) {
        let mut buf = vec![0u8; cap];
        let mut out = TagOut::new(&mut buf, escape);
        f(&mut out);
        let (len, cut) = (out.len(), out.is_truncated());
        (String::from_utf8(buf[..len].to_vec()).unwrap(), cut)
    }

    #[test]
    fn html_escapes_markup() {
        let (s, cut) = render(Escape::Html, 64, |o| {
            o.write_str(r#"<a href="x">'&'</a> é"#)
        });
        assert_eq!(s, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt; é");
        assert!(!cut);
    }

    #[test]
    fn json_escapes_strings() {
        let (s, _) = render(Escape::Json, 64, |o| {
            write!(o, "a\"b\\c\n\u{1}</script>").unwrap()
        });
        assert_eq!(s, "a\\\"b\\\\c\\n\\u0001\\u003c/script\\u003e");
    }

    #[test]
    fn numbers() {
        let (s, _) = render(Escape::Html, 64, |o| {
            o.write_uint(0);
            o.write_str(" ");
            o.write_uint(u64::MAX);
        });
        assert_eq!(s, "0 18446744073709551615");
        let (s, cut) = render(Escape::Raw, 3, |o| o.write_uint(1234));
        assert_eq!(
            (s.as_str(), cut),
            ("", true),
            "a number is written whole or not at all"
        );
    }

    #[test]
    fn escaped_bytes_are_exactly_the_tables() {
        // Every byte alone, against the rules written out.
        for b in 0..=255u8 {
            let html = matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'');
            let json = matches!(b, b'"' | b'\\' | 0..=0x1f | 0x7f | b'<' | b'>' | b'&');
            assert_eq!(is_special(Escape::Html.special(), b), html, "{b:#x}");
            assert_eq!(is_special(Escape::Json.special(), b), json, "{b:#x}");
            assert!(!is_special(Escape::Raw.special(), b));
        }
    }

    #[test]
    fn every_byte_is_written_as_the_rules_say() {
        for b in 0..=255u8 {
            let html: Vec<u8> = match b {
                b'&' => b"&amp;".to_vec(),
                b'<' => b"&lt;".to_vec(),
                b'>' => b"&gt;".to_vec(),
                b'"' => b"&quot;".to_vec(),
                b'\'' => b"&#39;".to_vec(),
                _ => vec![b],
            };
            let json: Vec<u8> = match b {
                b'"' => b"\\\"".to_vec(),
                b'\\' => b"\\\\".to_vec(),
                b'\n' => b"\\n".to_vec(),
                b'\r' => b"\\r".to_vec(),
                b'\t' => b"\\t".to_vec(),
                0..=0x1f | 0x7f | b'<' | b'>' | b'&' => format!("\\u{b:04x}").into_bytes(),
                _ => vec![b],
            };
            for (escape, want) in [
                (Escape::Html, html),
                (Escape::Json, json),
                (Escape::Raw, vec![b]),
            ] {
                let mut buf = [0u8; 8];
                let mut out = TagOut::new(&mut buf, escape);
                out.write_bytes(&[b]);
                assert_eq!(out.as_bytes(), &want[..], "{escape:?} {b:#x}");
                // Whole or not at all.
                let mut small = vec![0u8; want.len() - 1];
                let mut out = TagOut::new(&mut small, escape);
                out.write_bytes(&[b]);
                assert!(out.is_empty() && out.is_truncated(), "{escape:?} {b:#x}");
            }
        }
    }

    #[test]
    fn any_cut_is_the_longest_prefix_of_whole_units() {
        // Units: a character passed through, or one escape; output stops
        // before the first unit that does not fit.
        let text = "a<é&\"€\n\u{1}z'>";
        for escape in [Escape::Html, Escape::Json, Escape::Raw] {
            let units: Vec<String> = text
                .chars()
                .map(|c| {
                    let (full, _) = render(escape, 64, |o| o.write_str(c.encode_utf8(&mut [0; 4])));
                    full
                })
                .collect();
            for cap in 0..=64 {
                let mut want = String::new();
                for u in &units {
                    if want.len() + u.len() > cap {
                        break;
                    }
                    want.push_str(u);
                }
                let (got, cut) = render(escape, cap, |o| o.write_str(text));
                assert_eq!(got, want, "{escape:?} cap {cap}");
                assert_eq!(
                    cut,
                    want.len() < units.concat().len(),
                    "{escape:?} cap {cap}"
                );
            }
        }
    }

    #[test]
    fn raw_passes_everything() {
        let (s, _) = render(Escape::Raw, 64, |o| o.write_str("<b>&"));
        assert_eq!(s, "<b>&");
    }

    #[test]
    fn cut_never_splits_an_escape_or_a_character() {
        let (s, cut) = render(Escape::Html, 7, |o| o.write_str("ab<cd"));
        assert_eq!(s, "ab&lt;c");
        assert!(cut);
        let (s, cut) = render(Escape::Html, 5, |o| o.write_str("ab<cd"));
        assert_eq!(s, "ab", "the entity does not fit whole");
        assert!(cut);
        let (s, cut) = render(Escape::Raw, 3, |o| o.write_str("aéb"));
        assert_eq!(s, "aé");
        assert!(cut);
        let (s, _) = render(Escape::Raw, 2, |o| o.write_str("aéb"));
        assert_eq!(s, "a");
    }
}
