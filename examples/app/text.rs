//! Numbers, addresses and dates as text without `core::fmt`.
//!
//! The pages and the status email show a handful of values; writing them
//! with these instead of `write!` keeps `core::fmt` (about 2 KB of flash on
//! a Cortex-M3, plus each `Display` impl) out of a firmware built `quiet`,
//! and uses 32-bit arithmetic where the values allow (a Cortex-M divides
//! 64-bit numbers in software).

use emberstack::http::TagOut;
use emberstack::wire::text::div_rem;
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
/// 255.255.255.255)`, 34), the lease (`4294967295 s left of 4294967295 s`,
/// 33: what is left is at most the lease's 32-bit seconds) or an uptime of
/// 2^64 s (`… d 23:59:59`, 32). More is cut.
const LINE: usize = 40;

/// Text composed on the call stack, ASCII or cut at a character boundary:
/// the formatters below write into it a digit or separator at a time (a
/// `heapless::String`: nothing to zero first, and its text needs no UTF-8
/// check when it is handed on).
pub struct Line(heapless::String<LINE>);

impl Sink for Line {
    fn put(&mut self, s: &str) {
        let n = cut(s, LINE - self.0.len());
        // `n` bytes fit: this cannot fail.
        let _ = self.0.push_str(s.get(..n).unwrap_or(""));
    }
}

/// Composes a value's text on the call stack and hands it to `out` in one
/// piece: a tag's output scans every piece for bytes to escape and copies
/// it, so one piece per value costs less than one per digit or separator.
pub fn whole(out: &mut dyn Sink, write: impl FnOnce(&mut Line)) {
    let mut line = Line(heapless::String::new());
    write(&mut line);
    out.put(line.0.as_str());
}

/// `n` in decimal, in one piece.
pub fn dec(out: &mut dyn Sink, n: u64) {
    whole(out, |l| l.dec(n, 0));
}

/// `10.0.0.2/24`, in one piece.
pub fn cidr(out: &mut dyn Sink, c: Ipv4Cidr) {
    whole(out, |l| l.cidr(c));
}

impl Line {
    /// One ASCII byte (a full line drops it). The callers pass only
    /// ASCII; the mask tells the compiler so (no two-byte path).
    fn ascii(&mut self, b: u8) {
        self.push_ascii(b);
    }

    /// [`ascii`](Line::ascii) in place: the digit loop's.
    #[inline(always)]
    fn push_ascii(&mut self, b: u8) {
        let _ = self.0.push(char::from(b & 0x7f));
    }

    /// `n` in decimal, zero-padded to `width` digits (as `{n:0width$}`).
    /// Inlined: a 32-bit value goes straight to the digit loop.
    #[inline]
    pub fn dec(&mut self, n: u64, width: usize) {
        match u32::try_from(n) {
            Ok(n) => self.digits(n, width),
            Err(_) => self.dec_wide(n, width),
        }
    }

    /// [`dec`](Line::dec) above 32 bits (rare: the frame counters are
    /// 32-bit, and an uptime in seconds fits for 136 years): the digits
    /// above the low eight first, by 32-bit divisions (see `wire::text`).
    /// `n >= 2^32`, so the high part is not 0; it has 11 digits at most,
    /// and the second call is 32-bit: depth 2.
    #[inline(never)]
    fn dec_wide(&mut self, n: u64, width: usize) {
        let (q1, r1) = div_rem(n, 10_000);
        let (q, r2) = div_rem(q1, 10_000);
        self.dec(q, width.saturating_sub(8));
        self.digits(u32::from(r2) * 10_000 + u32::from(r1), 8);
    }

    /// `n` in decimal, zero-padded to `width` digits, from the most
    /// significant digit on: one hardware division per digit (a Cortex-M3
    /// has `udiv`), written in place, no buffer to reverse or check.
    fn digits(&mut self, n: u32, width: usize) {
        // The largest power of ten not above `n` (1 for 0 to 9); `p <=
        // n / 10` before each step, so `p * 10` does not overflow.
        let (mut p, mut count) = (1u32, 1usize);
        let top = n / 10;
        while p <= top {
            p *= 10;
            count += 1;
        }
        for _ in count..width {
            self.ascii(b'0');
        }
        let mut rest = n;
        loop {
            // `rest < 10 * p`: one digit.
            self.push_ascii(b'0' + (rest / p) as u8);
            rest %= p;
            if p < 10 {
                break;
            }
            p /= 10;
        }
    }

    /// The low `digits` hex digits of `n`, lowercase (as `{n:0digits$x}`).
    pub fn hex(&mut self, n: u32, digits: u32) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for k in (0..digits.min(8)).rev() {
            self.ascii(HEX[(n >> (4 * k) & 0xf) as usize]);
        }
    }

    /// `10.0.0.2`.
    pub fn ipv4(&mut self, a: Ipv4Address) {
        for (i, o) in a.0.into_iter().enumerate() {
            if i > 0 {
                self.ascii(b'.');
            }
            self.digits(o.into(), 0);
        }
    }

    /// `10.0.0.2/24`.
    pub fn cidr(&mut self, c: Ipv4Cidr) {
        self.ipv4(c.address);
        self.ascii(b'/');
        self.digits(c.prefix_len.into(), 0);
    }

    /// `02:00:00:00:00:02`.
    pub fn mac(&mut self, m: EthernetAddress) {
        for (i, o) in m.0.into_iter().enumerate() {
            if i > 0 {
                self.ascii(b':');
            }
            self.hex(o.into(), 2);
        }
    }

    /// `YYYY-MM-DD HH:MM:SS UTC` for a Unix time (proleptic Gregorian;
    /// Howard Hinnant's days-to-civil). Years beyond ±5 million (where the
    /// day count leaves 32 bits) are shown as `out of range`.
    pub fn utc(&mut self, unix: i64) {
        // Floor division by 86,400 on the magnitude.
        let (q, rem) = split_days(unix.unsigned_abs()); // rem = |unix| mod 86,400
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
            self.put("out of range");
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
            self.ascii(b'-');
        }
        self.dec(y.unsigned_abs(), if y < 0 { 3 } else { 4 });
        self.ascii(b'-');
        self.digits(m, 2);
        self.ascii(b'-');
        self.digits(d, 2);
        self.ascii(b' ');
        self.clock(secs);
        self.put(" UTC");
    }

    /// `HH:MM:SS` for seconds within a day (`secs < 86_400`).
    fn clock(&mut self, secs: u32) {
        self.digits(secs / 3600, 2);
        self.ascii(b':');
        self.digits(secs / 60 % 60, 2);
        self.ascii(b':');
        self.digits(secs % 60, 2);
    }

    /// `2 d 03:04:05`, `03:04:05`.
    pub fn duration(&mut self, secs: u64) {
        let (days, rest) = split_days(secs);
        if days > 0 {
            self.dec(days, 0);
            self.put(" d ");
        }
        self.clock(rest);
    }
}

/// Days and the seconds left over in `secs`: one 32-bit division while
/// `secs` fits (an uptime below 136 years, a Unix time before 2106), else
/// long division by 86,400 = 400 · 216 in 32-bit steps (see `wire::text`).
fn split_days(secs: u64) -> (u64, u32) {
    match u32::try_from(secs) {
        Ok(s) => ((s / 86_400).into(), s % 86_400),
        Err(_) => {
            let (q1, r1) = div_rem(secs, 400);
            let (days, r2) = div_rem(q1, 216);
            (days, u32::from(r2) * 400 + u32::from(r1))
        }
    }
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
    fn text(f: impl FnOnce(&mut Line)) -> String {
        let mut s = S(String::new());
        whole(&mut s, f);
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
        whole(&mut p, |o| o.ipv4(Ipv4Address([10, 0, 0, 2])));
        whole(&mut p, |o| o.duration(u64::MAX));
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
        for n in [
            0u64,
            5,
            9,
            10,
            42,
            99,
            100,
            1234,
            99_999,
            1_000_000_000,
            u64::from(u32::MAX),
            1 << 32,
            99_999_999_999,
            100_000_000_000_000_000,
            u64::MAX,
        ] {
            assert_eq!(text(|o| o.dec(n, 0)), format!("{n}"));
            assert_eq!(text(|o| o.dec(n, 8)), format!("{n:08}"));
            assert_eq!(text(|o| o.dec(n, 12)), format!("{n:012}"));
            assert_eq!(text(|o| o.dec(n, 2)), format!("{n:02}"));
        }
        for n in [0u32, 0xa, 0xcbf4_3926, u32::MAX] {
            assert_eq!(text(|o| o.hex(n, 8)), format!("{n:08x}"));
        }
        assert_eq!(text(|o| o.hex(0xab, 2)), "ab");
        let a = Ipv4Address([10, 0, 200, 2]);
        assert_eq!(text(|o| o.ipv4(a)), a.to_string());
        let c = Ipv4Cidr::new(a, 24);
        assert_eq!(text(|o| o.cidr(c)), c.to_string());
        let m = EthernetAddress([0x02, 0, 0xab, 0, 0x0f, 0xff]);
        assert_eq!(text(|o| o.mac(m)), m.to_string());
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
        assert_eq!(text(|o| o.utc(0)), "1970-01-01 00:00:00 UTC");
        assert_eq!(text(|o| o.utc(1_795_295_575)), "2026-11-21 21:12:55 UTC");
        assert_eq!(text(|o| o.utc(951_782_400)), "2000-02-29 00:00:00 UTC"); // leap day
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
            assert_eq!(text(|o| o.utc(t)), utc_i64(t), "{t}");
        }
        assert_eq!(text(|o| o.utc(i64::MAX)), "out of range");
        assert_eq!(text(|o| o.utc(i64::MIN)), "out of range");
    }

    #[test]
    fn durations() {
        assert_eq!(text(|o| o.duration(0)), "00:00:00");
        assert_eq!(text(|o| o.duration(3_723)), "01:02:03");
        assert_eq!(
            text(|o| o.duration(2 * 86_400 + 3 * 3600 + 4 * 60 + 5)),
            "2 d 03:04:05"
        );
        assert_eq!(
            text(|o| o.duration(u64::MAX)),
            format!("{} d 07:00:15", u64::MAX / 86_400)
        );
    }
}
