//! Numbers, addresses and dates as text without `core::fmt`.
//!
//! The pages and the status email show a handful of values; writing them
//! with these instead of `write!` keeps `core::fmt` (about 2 KB of flash on
//! a Cortex-M3, plus each `Display` impl) out of a firmware built `quiet`,
//! and uses 32-bit arithmetic where the values allow (a Cortex-M divides
//! 64-bit numbers in software).

use emberstack::http::TagOut;
use emberstack::wire::text::{decimal, div_rem};
use emberstack::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};

/// Where text goes: a tag's output, a fixed buffer.
pub trait Sink {
    /// Appends `s` (a sink that is full cuts it).
    fn put(&mut self, s: &str);
}

impl Sink for TagOut<'_> {
    fn put(&mut self, s: &str) {
        self.write_str(s);
    }
}

/// Fixed-capacity text (no allocator on the device): a
/// `heapless::String` that takes what fits, cut at a character boundary.
#[derive(Clone, Debug, Default)]
pub struct Text<const N: usize>(heapless::String<N>);

// The methods hand a view of the string to non-generic code, so the
// sizes of `Text` share one copy of it.
impl<const N: usize> Text<N> {
    /// The text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Replaces the text with (what fits of) `s`.
    pub fn set(&mut self, s: &str) {
        self.0.clear();
        self.put(s);
    }

    /// Empties it.
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

impl<const N: usize> Sink for Text<N> {
    fn put(&mut self, s: &str) {
        append_cut(self.0.as_mut_view(), s);
    }
}

/// Appends as much of `s` as fits, cut at a character boundary.
fn append_cut(text: &mut heapless::string::StringView, s: &str) {
    let n = cut(s, text.capacity() - text.len());
    // `n` bytes fit: this cannot fail.
    let _ = text.push_str(&s[..n]);
}

/// How much of `s` fits in `room` bytes, cut at a character boundary.
// Always inlined: out of line, LTO rearranged the firmware to +300 B.
#[inline(always)]
fn cut(s: &str, room: usize) -> usize {
    let mut n = s.len().min(room);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    n
}

/// Bytes a value composed by [`whole`] may take: the longest the device
/// composes is the DHCP state with its server (`rebooting (server
/// 255.255.255.255)`, 34) or an uptime of 2^64 s (`… d 23:59:59`, 32).
/// More is cut.
const LINE: usize = 40;

/// Text composed on the call stack, ASCII or cut at a character boundary.
struct Line {
    buf: [u8; LINE],
    len: usize,
}

impl Sink for Line {
    fn put(&mut self, s: &str) {
        let n = cut(s, LINE - self.len);
        // A byte loop: the pieces are a character or two, less than
        // `memcpy`'s prologue costs (`black_box` keeps LLVM from turning
        // the loop into that call).
        for (d, &b) in self.buf[self.len..self.len + n]
            .iter_mut()
            .zip(s.as_bytes())
        {
            *d = b;
            core::hint::black_box(());
        }
        self.len += n;
    }
}

/// Composes a value's text on the call stack and hands it to `out` in one
/// piece. The formatters here write pieces of a character or two, and a
/// tag's output scans every piece for bytes to escape and copies it: one
/// piece costs less than ten on a page of addresses and times.
pub fn whole(out: &mut dyn Sink, write: impl FnOnce(&mut dyn Sink)) {
    let mut line = Line {
        buf: [0; LINE],
        len: 0,
    };
    write(&mut line);
    // Only whole characters went in.
    out.put(core::str::from_utf8(&line.buf[..line.len]).unwrap_or(""));
}

/// `n` in decimal.
pub fn dec(out: &mut dyn Sink, n: u64) {
    let mut buf = [0u8; 20];
    out.put(decimal(n, &mut buf));
}

/// `n` in decimal, zero-padded to `width` digits (as `{n:0width$}`).
pub fn dec_pad(out: &mut dyn Sink, n: u64, width: usize) {
    let mut buf = [0u8; 20];
    let digits = decimal(n, &mut buf);
    for _ in digits.len()..width {
        out.put("0");
    }
    out.put(digits);
}

/// The low `digits` hex digits of `n`, lowercase (as `{n:0digits$x}`).
pub fn hex(out: &mut dyn Sink, n: u32, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [b'0'; 8];
    let digits = digits.min(8) as usize;
    for (k, b) in buf[8 - digits..].iter_mut().rev().enumerate() {
        *b = HEX[(n >> (4 * k) & 0xf) as usize];
    }
    out.put(core::str::from_utf8(&buf[8 - digits..]).unwrap_or(""));
}

/// `10.0.0.2`.
pub fn ipv4(out: &mut dyn Sink, a: Ipv4Address) {
    for (i, o) in a.0.into_iter().enumerate() {
        if i > 0 {
            out.put(".");
        }
        dec(out, o.into());
    }
}

/// `10.0.0.2/24`.
pub fn cidr(out: &mut dyn Sink, c: Ipv4Cidr) {
    ipv4(out, c.address);
    out.put("/");
    dec(out, c.prefix_len.into());
}

/// `02:00:00:00:00:02`.
pub fn mac(out: &mut dyn Sink, m: EthernetAddress) {
    for (i, o) in m.0.into_iter().enumerate() {
        if i > 0 {
            out.put(":");
        }
        hex(out, o.into(), 2);
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC` for a Unix time (proleptic Gregorian;
/// Howard Hinnant's days-to-civil). Years beyond ±5 million (where the
/// day count leaves 32 bits) are shown as `out of range`.
pub fn utc(out: &mut dyn Sink, unix: i64) {
    // Floor division by 86,400 = 400 · 216 on the magnitude, in 32-bit
    // steps (see `wire::text`).
    let mag = unix.unsigned_abs();
    let (q1, r1) = div_rem(mag, 400);
    let (q, r2) = div_rem(q1, 216);
    let rem = u32::from(r2) * 400 + u32::from(r1); // |unix| mod 86,400
    let (days, secs) = if unix >= 0 || rem == 0 {
        (
            i64::try_from(q)
                .ok()
                .map(|d| if unix >= 0 { d } else { -d }),
            rem,
        )
    } else {
        (i64::try_from(q).ok().map(|d| -d - 1), 86_400 - rem)
    };
    // Days since 0000-03-01, as the algorithm counts; eras of 400 years.
    let Some(z) = days.and_then(|d| i32::try_from(d + 719_468).ok()) else {
        out.put("out of range");
        return;
    };
    let era = z.div_euclid(146_097);
    let doe = (z - era * 146_097) as u32; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = i64::from(yoe) + i64::from(era) * 400 + i64::from(m <= 2);
    // As `{y:04}`: the sign counts towards the width.
    if y < 0 {
        out.put("-");
    }
    dec_pad(out, y.unsigned_abs(), if y < 0 { 3 } else { 4 });
    out.put("-");
    dec_pad(out, m.into(), 2);
    out.put("-");
    dec_pad(out, d.into(), 2);
    out.put(" ");
    clock(out, secs);
    out.put(" UTC");
}

/// `HH:MM:SS` for seconds within a day.
fn clock(out: &mut dyn Sink, secs: u32) {
    dec_pad(out, (secs / 3600).into(), 2);
    out.put(":");
    dec_pad(out, (secs / 60 % 60).into(), 2);
    out.put(":");
    dec_pad(out, (secs % 60).into(), 2);
}

/// `2 d 03:04:05`, `03:04:05`.
pub fn duration(out: &mut dyn Sink, secs: u64) {
    let (q1, r1) = div_rem(secs, 400);
    let (days, r2) = div_rem(q1, 216);
    if days > 0 {
        dec(out, days);
        out.put(" d ");
    }
    clock(out, u32::from(r2) * 400 + u32::from(r1));
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::{String, ToString};
    use std::{format, vec};

    struct S(String);
    impl Sink for S {
        fn put(&mut self, s: &str) {
            self.0.push_str(s);
        }
    }
    fn text(f: impl FnOnce(&mut dyn Sink)) -> String {
        let mut s = S(String::new());
        f(&mut s);
        s.0
    }

    #[test]
    fn text_cuts_at_a_character_boundary() {
        let mut t = Text::<5>::default();
        t.set("ab");
        t.put("cé");
        assert_eq!(t.as_str(), "abcé");
        t.put("é");
        assert_eq!(t.as_str(), "abcé");
        t.set("abcdéf");
        assert_eq!(t.as_str(), "abcd");
        t.clear();
        t.put("xyz");
        t.put("123");
        assert_eq!(t.as_str(), "xyz12");
    }

    #[test]
    fn whole_hands_on_one_piece_cut_at_a_character() {
        struct Pieces(vec::Vec<String>);
        impl Sink for Pieces {
            fn put(&mut self, s: &str) {
                self.0.push(s.to_string());
            }
        }
        let mut p = Pieces(vec![]);
        whole(&mut p, |o| ipv4(o, Ipv4Address([10, 0, 0, 2])));
        whole(&mut p, |o| duration(o, u64::MAX));
        whole(&mut p, |o| {
            o.put(&"a".repeat(LINE - 1));
            o.put("éz"); // the 2-byte character does not fit whole
        });
        assert_eq!(
            p.0,
            [
                "10.0.0.2".to_string(),
                "213503982334601 d 07:00:15".to_string(),
                "a".repeat(LINE - 1)
            ]
        );
    }

    #[test]
    fn as_core_fmt_writes_them() {
        for n in [0u64, 5, 42, 1234, 99_999, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(text(|o| dec(o, n)), format!("{n}"));
            assert_eq!(text(|o| dec_pad(o, n, 8)), format!("{n:08}"));
        }
        for n in [0u32, 0xa, 0xcbf4_3926, u32::MAX] {
            assert_eq!(text(|o| hex(o, n, 8)), format!("{n:08x}"));
        }
        assert_eq!(text(|o| hex(o, 0xab, 2)), "ab");
        let a = Ipv4Address([10, 0, 200, 2]);
        assert_eq!(text(|o| ipv4(o, a)), a.to_string());
        let c = Ipv4Cidr::new(a, 24);
        assert_eq!(text(|o| cidr(o, c)), c.to_string());
        let m = EthernetAddress([0x02, 0, 0xab, 0, 0x0f, 0xff]);
        assert_eq!(text(|o| mac(o, m)), m.to_string());
    }

    /// The i64 days-to-civil this module replaced.
    fn utc_i64(unix: i64) -> String {
        let days = unix.div_euclid(86_400);
        let secs = unix.rem_euclid(86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        format!(
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }

    #[test]
    fn dates() {
        assert_eq!(text(|o| utc(o, 0)), "1970-01-01 00:00:00 UTC");
        assert_eq!(text(|o| utc(o, 1_795_295_575)), "2026-11-21 21:12:55 UTC");
        assert_eq!(text(|o| utc(o, 951_782_400)), "2000-02-29 00:00:00 UTC"); // leap day
                                                                              // Before 1970 (an NTP era-0 time can be 1968), the 2036 NTP
                                                                              // rollover, after 2106 (past 32-bit Unix time), and a step of
                                                                              // primes through ±10,000 years.
        let mut cases = vec![
            -1,
            -86_400,
            -86_401,
            -63_072_000,
            2_085_978_496,
            4_354_819_200,
        ];
        let mut t = -315_569_520_000i64;
        while t < 315_569_520_000 {
            cases.push(t);
            t += 7_919 * 86_400 + 3_541;
        }
        for t in cases {
            assert_eq!(text(|o| utc(o, t)), utc_i64(t), "{t}");
        }
        assert_eq!(text(|o| utc(o, i64::MAX)), "out of range");
        assert_eq!(text(|o| utc(o, i64::MIN)), "out of range");
    }

    #[test]
    fn durations() {
        assert_eq!(text(|o| duration(o, 0)), "00:00:00");
        assert_eq!(text(|o| duration(o, 3_723)), "01:02:03");
        assert_eq!(
            text(|o| duration(o, 2 * 86_400 + 3 * 3600 + 4 * 60 + 5)),
            "2 d 03:04:05"
        );
        assert_eq!(
            text(|o| duration(o, u64::MAX)),
            format!("{} d 07:00:15", u64::MAX / 86_400)
        );
    }
}
