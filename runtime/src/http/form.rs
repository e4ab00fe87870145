//! `application/x-www-form-urlencoded` fields (query strings and POST
//! bodies), decoded as they stream in: `name=value` pairs separated by `&`,
//! `+` for a space, `%XX` for a byte (WHATWG URL standard, "urlencoded
//! parser"). One field at a time is held, decoded, in the connection's
//! buffer; a field that does not fit is an error (the request fails).

/// Decoder state for the field being read (its bytes are in the caller's
/// buffer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FieldDec {
    /// Decoded bytes of the current field (name, then value).
    len: u16,
    /// Where the value starts (the name's length), once `=` was seen.
    eq: Option<u16>,
    /// Percent escape in progress: `Some(None)` after `%`, `Some(Some(d))`
    /// after `%` and the hex digit `d` (as written).
    pct: Option<Option<u8>>,
}

/// What one input byte did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Keep going.
    More,
    /// A field is complete: where its name ends (and its value starts)
    /// and where its value ends, in the buffer. The caller delivers it,
    /// then the decoder starts the next.
    Field(FieldSpan),
    /// The field does not fit in the buffer.
    TooLong,
}

/// Where a complete field's name and value lie in the buffer: the name
/// from its start, the value right after it (the decoder keeps no `=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FieldSpan {
    pub name_end: usize,
    pub value_end: usize,
}

/// A hex digit's value (either case).
fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// What a byte did to a `%XX` escape in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unescape {
    /// The first hex digit: the escape goes on.
    More,
    /// The second: the escape's byte.
    Byte(u8),
    /// Not a hex digit: no escape after all; what was read of it (`%`,
    /// then the first digit as written, if any).
    Not(Option<u8>),
}

/// Byte `b` of a `%XX` escape in progress, `pct` (`Some(None)` after `%`,
/// `Some(Some(d))` after `%` and the hex digit `d` as written; `None`
/// once the escape is over): one decoder for the path's escapes and the
/// form fields'. (Not inlined: only the bytes of an escape ask.)
#[inline(never)]
pub(crate) fn unescape(pct: &mut Option<Option<u8>>, b: u8) -> Unescape {
    match (pct.take(), hex(b)) {
        (Some(None), Some(_)) => {
            *pct = Some(Some(b));
            Unescape::More
        }
        (Some(Some(d)), Some(l)) => Unescape::Byte(hex(d).unwrap_or(0).wrapping_shl(4) | l),
        (pending, _) => Unescape::Not(pending.flatten()),
    }
}

impl FieldDec {
    /// Feeds one byte; decoded bytes go to `buf`.
    pub(crate) fn byte(&mut self, b: u8, buf: &mut [u8]) -> Step {
        if self.pct.is_some() {
            match unescape(&mut self.pct, b) {
                Unescape::More => return Step::More,
                Unescape::Byte(d) => return self.push(d, buf),
                // Not an escape: keep the text as written (WHATWG does).
                Unescape::Not(pending) => {
                    if !self.literal(pending, buf) {
                        return Step::TooLong;
                    }
                }
            }
        }
        match b {
            b'&' => self.end(),
            b'=' if self.eq.is_none() => {
                self.eq = Some(self.len);
                Step::More
            }
            b'+' => self.push(b' ', buf),
            b'%' => {
                self.pct = Some(None);
                Step::More
            }
            _ => self.push(b, buf),
        }
    }

    /// The input ended: the last field, if any.
    /// (The end of the input ends a field as `&` does: an unfinished
    /// escape is kept as text, then the field is complete.)
    pub(crate) fn finish(&mut self, buf: &mut [u8]) -> Step {
        self.byte(b'&', buf)
    }

    /// An unfinished escape (`%` or `%X`) as the text it was.
    fn literal(&mut self, pending: Option<u8>, buf: &mut [u8]) -> bool {
        if self.push(b'%', buf) == Step::TooLong {
            return false;
        }
        match pending {
            Some(d) => self.push(d, buf) != Step::TooLong,
            None => true,
        }
    }

    fn push(&mut self, b: u8, buf: &mut [u8]) -> Step {
        match buf.get_mut(usize::from(self.len)) {
            Some(slot) if self.len < u16::MAX => {
                *slot = b;
                self.len = self.len.wrapping_add(1);
                Step::More
            }
            _ => Step::TooLong,
        }
    }

    /// Ends the current field: a span unless it was empty (`a&&b`).
    fn end(&mut self) -> Step {
        let len = usize::from(self.len);
        let eq = self.eq.map(usize::from);
        *self = FieldDec::default();
        if len == 0 && eq.is_none() {
            return Step::More;
        }
        let name_end = eq.unwrap_or(len);
        Step::Field(FieldSpan {
            name_end,
            value_end: len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(input: &[u8], cap: usize) -> Result<Vec<(String, String)>, ()> {
        let mut buf = vec![0u8; cap];
        let mut d = FieldDec::default();
        let mut out = Vec::new();
        let mut take = |s: Step, buf: &[u8]| match s {
            Step::More => Ok(()),
            Step::TooLong => Err(()),
            Step::Field(f) => {
                out.push((
                    String::from_utf8_lossy(&buf[..f.name_end]).into_owned(),
                    String::from_utf8_lossy(&buf[f.name_end..f.value_end]).into_owned(),
                ));
                Ok(())
            }
        };
        for &b in input {
            let s = d.byte(b, &mut buf);
            take(s, &buf)?;
        }
        let s = d.finish(&mut buf);
        take(s, &buf)?;
        Ok(out)
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn decodes_plus_and_percent() {
        assert_eq!(
            fields(b"name=Ember+One&ip=10.0.0.2%2F24&x=%e2%82%ac", 64).unwrap(),
            pairs(&[("name", "Ember One"), ("ip", "10.0.0.2/24"), ("x", "€")])
        );
    }

    #[test]
    fn odd_shapes() {
        assert_eq!(
            fields(b"a&&b=&=c&d=1=2&", 64).unwrap(),
            pairs(&[("a", ""), ("b", ""), ("", "c"), ("d", "1=2")])
        );
        assert_eq!(
            fields(b"p=100%&q=%zz&r=%4", 64).unwrap(),
            pairs(&[("p", "100%"), ("q", "%zz"), ("r", "%4")])
        );
        assert_eq!(fields(b"", 64).unwrap(), pairs(&[]));
        // An unfinished escape stays as written, its digit's case too.
        assert_eq!(
            fields(b"s=%a&t=%aZ&u=%Fz", 64).unwrap(),
            pairs(&[("s", "%a"), ("t", "%aZ"), ("u", "%Fz")])
        );
    }

    /// Every pair of bytes after `%`: two hex digits give their byte,
    /// anything else is no escape, with what was read of it.
    #[test]
    fn escapes_by_every_byte_pair() {
        let value = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        for a in 0..=255u8 {
            let mut pct = Some(None);
            let first = unescape(&mut pct, a);
            let Some(h) = value(a) else {
                assert_eq!((first, pct), (Unescape::Not(None), None), "{a:#x}");
                continue;
            };
            assert_eq!((first, pct), (Unescape::More, Some(Some(a))), "{a:#x}");
            for b in 0..=255u8 {
                let mut p = pct;
                let want = match value(b) {
                    Some(l) => Unescape::Byte(h * 16 + l),
                    None => Unescape::Not(Some(a)),
                };
                assert_eq!((unescape(&mut p, b), p), (want, None), "{a:#x} {b:#x}");
            }
        }
    }

    #[test]
    fn too_long_is_reported() {
        assert!(fields(b"abcdef=1", 4).is_err());
        assert_eq!(
            fields(b"ab=1&cd=2", 4).unwrap(),
            pairs(&[("ab", "1"), ("cd", "2")])
        );
    }
}
