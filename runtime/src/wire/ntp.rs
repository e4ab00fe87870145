//! NTP/SNTP packets (RFC 4330 §4; the 48-byte header of RFC 5905 §7.3
//! without extension fields or authenticator) and NTP time.
//!
//! An on-wire timestamp is 64 bits: seconds since 1900-01-01 (32 bits) and
//! a binary fraction (32 bits). The seconds wrap on 2036-02-07 06:28:16
//! UTC, the start of era 1. A packet does not say which era it is in;
//! [`NtpTime::from_timestamp`] applies RFC 4330 §3: with the top bit set
//! the time is in 1968–2036 (era 0), without it in 2036–2104 (era 1). The
//! full time ([`NtpTime`]) keeps the era, and its Unix time is correct on
//! both sides of the boundary.

use super::{array, be32, put32, put_slice};

/// The NTP server port.
pub const PORT: u16 = 123;
/// Length of the header this stack sends and reads.
pub const PACKET_LEN: usize = 48;
/// Seconds from 1900-01-01 (the NTP epoch) to 1970-01-01 (the Unix epoch).
pub const UNIX_EPOCH_NTP_SECS: u64 = 2_208_988_800;
/// The version this client sends (RFC 5905: 4).
pub const VERSION: u8 = 4;

/// Field offsets (RFC 4330 §4).
mod field {
    /// LI (2 bits), VN (3 bits), Mode (3 bits).
    pub const LI_VN_MODE: usize = 0;
    /// Stratum.
    pub const STRATUM: usize = 1;
    /// Poll interval, log2 seconds (signed).
    pub const POLL: usize = 2;
    /// Precision, log2 seconds (signed).
    pub const PRECISION: usize = 3;
    /// Root delay, 16.16 seconds.
    pub const ROOT_DELAY: usize = 4;
    /// Root dispersion, 16.16 seconds.
    pub const ROOT_DISPERSION: usize = 8;
    /// Reference identifier (a kiss code when stratum is 0).
    pub const REF_ID: usize = 12;
    /// Reference timestamp.
    pub const REF_TS: usize = 16;
    /// Originate timestamp: the client's transmit timestamp, echoed.
    pub const ORIG_TS: usize = 24;
    /// Receive timestamp: when the server got the request.
    pub const RECV_TS: usize = 32;
    /// Transmit timestamp: when the server sent the reply.
    pub const XMIT_TS: usize = 40;
}

/// Leap indicator (RFC 4330 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leap {
    /// 0: no warning.
    NoWarning,
    /// 1: the last minute of the day has 61 seconds.
    AddSecond,
    /// 2: the last minute of the day has 59 seconds.
    DeleteSecond,
    /// 3: alarm: the server's clock is not synchronised.
    Unsynchronised,
}

impl From<u8> for Leap {
    fn from(v: u8) -> Self {
        match v & 3 {
            0 => Leap::NoWarning,
            1 => Leap::AddSecond,
            2 => Leap::DeleteSecond,
            _ => Leap::Unsynchronised,
        }
    }
}

impl From<Leap> for u8 {
    fn from(l: Leap) -> u8 {
        match l {
            Leap::NoWarning => 0,
            Leap::AddSecond => 1,
            Leap::DeleteSecond => 2,
            Leap::Unsynchronised => 3,
        }
    }
}

/// Association mode (RFC 4330 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// 3: a client request.
    Client,
    /// 4: a server reply.
    Server,
    /// 5: a broadcast.
    Broadcast,
    /// Any other mode (0, 1, 2, 6, 7).
    Other(u8),
}

impl From<u8> for Mode {
    fn from(v: u8) -> Self {
        match v & 7 {
            3 => Mode::Client,
            4 => Mode::Server,
            5 => Mode::Broadcast,
            other => Mode::Other(other),
        }
    }
}

impl From<Mode> for u8 {
    fn from(m: Mode) -> u8 {
        match m {
            Mode::Client => 3,
            Mode::Server => 4,
            Mode::Broadcast => 5,
            Mode::Other(v) => v & 7,
        }
    }
}

/// An on-wire NTP timestamp: 32 bits of seconds since 1900 (modulo 2^32,
/// era unknown) and 32 bits of fraction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The seconds field.
    pub const fn secs(self) -> u32 {
        (self.0 >> 32) as u32
    }
    /// The fraction field (units of 2^-32 s).
    pub const fn frac(self) -> u32 {
        self.0 as u32
    }
    /// From the two fields.
    pub const fn new(secs: u32, frac: u32) -> Timestamp {
        Timestamp(((secs as u64) << 32) | frac as u64)
    }
    /// Zero means "unknown" in every timestamp field.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

/// A full NTP time: seconds since 1900-01-01 including the era, and the
/// fraction. Unlike [`Timestamp`] it does not wrap in 2036.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NtpTime {
    /// Seconds since 1900-01-01 00:00:00 UTC (era × 2^32 + timestamp seconds).
    pub secs: u64,
    /// Fraction of a second in units of 2^-32 s.
    pub frac: u32,
}

impl NtpTime {
    /// The full time of an on-wire timestamp, by RFC 4330 §3: seconds with
    /// the top bit set are 1968–2036 (era 0), without it 2036–2104 (era 1).
    pub const fn from_timestamp(ts: Timestamp) -> NtpTime {
        let s = ts.secs();
        let era: u64 = if s & 0x8000_0000 != 0 { 0 } else { 1 };
        NtpTime {
            secs: (era << 32) | s as u64,
            frac: ts.frac(),
        }
    }

    /// The era: 0 until 2036-02-07 06:28:16 UTC, 1 after.
    pub const fn era(self) -> u32 {
        (self.secs >> 32) as u32
    }

    /// The on-wire timestamp (the seconds modulo 2^32).
    pub const fn timestamp(self) -> Timestamp {
        Timestamp::new(self.secs as u32, self.frac)
    }

    /// The whole 64-bit fixed-point value in units of 2^-32 s, modulo 2^64
    /// (exact for 136 years from 1900 times 2^32; use with `wrapping_*`).
    const fn fixed(self) -> u64 {
        (self.secs << 32) | self.frac as u64
    }

    const fn with_fixed(self, fixed: u64, delta_positive: bool) -> NtpTime {
        // Carry or borrow between the 32-bit seconds and the era.
        let old = self.fixed();
        let era = self.secs >> 32;
        let era = if delta_positive && fixed < old {
            era.saturating_add(1)
        } else if !delta_positive && fixed > old {
            era.saturating_sub(1)
        } else {
            era
        };
        NtpTime {
            secs: (era << 32) | (fixed >> 32),
            frac: fixed as u32,
        }
    }

    /// This time plus `millis` milliseconds.
    pub const fn add_millis(self, millis: u64) -> NtpTime {
        let delta = millis_to_fixed(millis);
        self.with_fixed(self.fixed().wrapping_add(delta), true)
    }

    /// This time plus a signed fixed-point offset (units of 2^-32 s).
    pub const fn add_fixed(self, delta: i64) -> NtpTime {
        let fixed = self.fixed().wrapping_add(delta as u64);
        self.with_fixed(fixed, delta >= 0)
    }

    /// Seconds since the Unix epoch (negative before 1970).
    pub const fn unix_secs(self) -> i64 {
        (self.secs as i64).wrapping_sub(UNIX_EPOCH_NTP_SECS as i64)
    }

    /// Nanoseconds within the second.
    pub const fn subsec_nanos(self) -> u32 {
        ((self.frac as u64).wrapping_mul(1_000_000_000) >> 32) as u32
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_millis(self) -> i64 {
        self.unix_secs()
            .wrapping_mul(1000)
            .wrapping_add((self.subsec_nanos() / 1_000_000) as i64)
    }

    /// The time at Unix seconds `secs` (whole seconds).
    pub const fn from_unix_secs(secs: i64) -> NtpTime {
        NtpTime {
            secs: secs.wrapping_add(UNIX_EPOCH_NTP_SECS as i64) as u64,
            frac: 0,
        }
    }
}

/// `millis` milliseconds as a 32.32 fixed-point duration (saturating at
/// about 136 years).
pub const fn millis_to_fixed(millis: u64) -> u64 {
    let (secs, rem) = super::text::div_rem(millis, 1000);
    if secs >= 1 << 32 {
        return u64::MAX;
    }
    // rem · 2^32 / 1000 in 32 bits (2^32 = 4,294,967 · 1000 + 296), so
    // no 64-bit division (see `wire::text`).
    let rem = rem as u32;
    let frac = rem
        .wrapping_mul(4_294_967)
        .wrapping_add(rem.wrapping_mul(296).wrapping_div(1000));
    (secs << 32) | frac as u64
}

/// A 32.32 fixed-point duration in whole milliseconds (rounded down).
pub const fn fixed_to_millis(fixed: u64) -> u64 {
    (fixed >> 32)
        .wrapping_mul(1000)
        .wrapping_add((fixed & 0xffff_ffff).wrapping_mul(1000) >> 32)
}

/// A view of an NTP packet of at least [`PACKET_LEN`] bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without looking at it.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer of at least [`PACKET_LEN`] bytes.
    pub fn new_checked(buffer: T) -> super::Result<Packet<T>> {
        if buffer.as_ref().len() < PACKET_LEN {
            Err(super::Error::Truncated)
        } else {
            Ok(Packet { buffer })
        }
    }

    fn byte(&self, at: usize) -> u8 {
        self.buffer.as_ref().get(at).copied().unwrap_or(0)
    }

    fn ts(&self, at: usize) -> Timestamp {
        let b = self.buffer.as_ref();
        // Bounded: `at` is a field offset (at most 40).
        Timestamp::new(be32(b, at), be32(b, at.wrapping_add(4)))
    }

    /// The leap indicator.
    pub fn leap(&self) -> Leap {
        Leap::from(self.byte(field::LI_VN_MODE) >> 6)
    }
    /// The version number.
    pub fn version(&self) -> u8 {
        (self.byte(field::LI_VN_MODE) >> 3) & 7
    }
    /// The mode.
    pub fn mode(&self) -> Mode {
        Mode::from(self.byte(field::LI_VN_MODE))
    }
    /// The stratum (0: kiss-o'-death, 1: primary, 2–15: secondary,
    /// 16–255: unsynchronised/reserved).
    pub fn stratum(&self) -> u8 {
        self.byte(field::STRATUM)
    }
    /// The poll interval exponent.
    pub fn poll(&self) -> i8 {
        self.byte(field::POLL) as i8
    }
    /// The precision exponent.
    pub fn precision(&self) -> i8 {
        self.byte(field::PRECISION) as i8
    }
    /// Root delay, 16.16 seconds.
    pub fn root_delay(&self) -> u32 {
        be32(self.buffer.as_ref(), field::ROOT_DELAY)
    }
    /// Root dispersion, 16.16 seconds.
    pub fn root_dispersion(&self) -> u32 {
        be32(self.buffer.as_ref(), field::ROOT_DISPERSION)
    }
    /// Reference identifier; with stratum 0 the ASCII kiss code
    /// (`RATE`, `DENY`, `RSTR`...).
    pub fn ref_id(&self) -> [u8; 4] {
        array(self.buffer.as_ref(), field::REF_ID)
    }
    /// Reference timestamp.
    pub fn ref_ts(&self) -> Timestamp {
        self.ts(field::REF_TS)
    }
    /// Originate timestamp (our transmit timestamp, echoed by the server).
    pub fn orig_ts(&self) -> Timestamp {
        self.ts(field::ORIG_TS)
    }
    /// Receive timestamp.
    pub fn recv_ts(&self) -> Timestamp {
        self.ts(field::RECV_TS)
    }
    /// Transmit timestamp.
    pub fn xmit_ts(&self) -> Timestamp {
        self.ts(field::XMIT_TS)
    }
}

/// An NTP header in high-level form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Leap indicator.
    pub leap: Leap,
    /// Version number.
    pub version: u8,
    /// Mode.
    pub mode: Mode,
    /// Stratum.
    pub stratum: u8,
    /// Poll exponent.
    pub poll: i8,
    /// Precision exponent.
    pub precision: i8,
    /// Root delay.
    pub root_delay: u32,
    /// Root dispersion.
    pub root_dispersion: u32,
    /// Reference identifier or kiss code.
    pub ref_id: [u8; 4],
    /// Reference timestamp.
    pub ref_ts: Timestamp,
    /// Originate timestamp.
    pub orig_ts: Timestamp,
    /// Receive timestamp.
    pub recv_ts: Timestamp,
    /// Transmit timestamp.
    pub xmit_ts: Timestamp,
}

impl Repr {
    /// A client request (RFC 4330 §5): version 4, mode 3, every field zero
    /// but the transmit timestamp, which the server echoes as originate.
    pub const fn client_request(xmit_ts: Timestamp) -> Repr {
        Repr {
            leap: Leap::NoWarning,
            version: VERSION,
            mode: Mode::Client,
            stratum: 0,
            poll: 0,
            precision: 0,
            root_delay: 0,
            root_dispersion: 0,
            ref_id: [0; 4],
            ref_ts: Timestamp(0),
            orig_ts: Timestamp(0),
            recv_ts: Timestamp(0),
            xmit_ts,
        }
    }

    /// Reads every field (no semantic checks: those are the client's).
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> super::Result<Repr> {
        if p.buffer.as_ref().len() < PACKET_LEN {
            return Err(super::Error::Truncated);
        }
        Ok(Repr {
            leap: p.leap(),
            version: p.version(),
            mode: p.mode(),
            stratum: p.stratum(),
            poll: p.poll(),
            precision: p.precision(),
            root_delay: p.root_delay(),
            root_dispersion: p.root_dispersion(),
            ref_id: p.ref_id(),
            ref_ts: p.ref_ts(),
            orig_ts: p.orig_ts(),
            recv_ts: p.recv_ts(),
            xmit_ts: p.xmit_ts(),
        })
    }

    /// Writes the 48-byte header.
    pub fn emit(&self, buf: &mut [u8; PACKET_LEN]) {
        let li_vn_mode =
            (u8::from(self.leap) << 6) | ((self.version & 7) << 3) | u8::from(self.mode);
        let head = [
            li_vn_mode,
            self.stratum,
            self.poll as u8,
            self.precision as u8,
        ];
        put_slice(buf, field::LI_VN_MODE, &head);
        put32(buf, field::ROOT_DELAY, self.root_delay);
        put32(buf, field::ROOT_DISPERSION, self.root_dispersion);
        put_slice(buf, field::REF_ID, &self.ref_id);
        // Seconds then fraction: the 64 bits big-endian.
        put_slice(buf, field::REF_TS, &self.ref_ts.0.to_be_bytes());
        put_slice(buf, field::ORIG_TS, &self.orig_ts.0.to_be_bytes());
        put_slice(buf, field::RECV_TS, &self.recv_ts.0.to_be_bytes());
        put_slice(buf, field::XMIT_TS, &self.xmit_ts.0.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // Captured with tcpdump in a network namespace: `ntpdig -t 2` asking
    // chronyd 4.3 (`local stratum 8`).
    const REQUEST: &str = "e30000000000000000000000000000000000000000000000\
                           00000000000000000000000000000000eeac84c9150a4000";
    const REPLY: &str = "240800e700000000000000007f7f0101eeac84c72e42641b\
                         eeac84c9150a4000eeac84c915141801eeac84c9151b59b0";

    #[test]
    fn captured_request() {
        let b = hex(REQUEST);
        let r = Repr::parse(&Packet::new_checked(&b[..]).unwrap()).unwrap();
        // ntpdig sets LI 3 (unsynchronised) in its own request.
        assert_eq!(r.leap, Leap::Unsynchronised);
        assert_eq!((r.version, r.mode), (4, Mode::Client));
        assert_eq!(r.xmit_ts, Timestamp(0xeeac_84c9_150a_4000));
        let mut out = [0u8; PACKET_LEN];
        Repr {
            leap: Leap::Unsynchronised,
            ..Repr::client_request(r.xmit_ts)
        }
        .emit(&mut out);
        assert_eq!(&out[..], &b[..]);
    }

    #[test]
    fn captured_reply() {
        let b = hex(REPLY);
        let p = Packet::new_checked(&b[..]).unwrap();
        let r = Repr::parse(&p).unwrap();
        assert_eq!(r.leap, Leap::NoWarning);
        assert_eq!((r.version, r.mode, r.stratum), (4, Mode::Server, 8));
        assert_eq!(r.precision, -25);
        assert_eq!(r.ref_id, [0x7f, 0x7f, 1, 1]);
        // The originate timestamp is the request's transmit timestamp.
        assert_eq!(r.orig_ts, Timestamp(0xeeac_84c9_150a_4000));
        let t = NtpTime::from_timestamp(r.xmit_ts);
        assert_eq!(t.era(), 0);
        // 2026-11-21T20:59:53Z, as ntpdig printed.
        assert_eq!(t.unix_secs(), 1_795_294_793);
        assert_eq!(t.subsec_nanos() / 1_000_000, 82);
        let mut out = [0u8; PACKET_LEN];
        r.emit(&mut out);
        assert_eq!(&out[..], &b[..]);
    }

    #[test]
    fn era_boundary() {
        // The last second of era 0 and the first of era 1.
        let last = NtpTime::from_timestamp(Timestamp::new(u32::MAX, 0));
        assert_eq!(last.era(), 0);
        assert_eq!(last.unix_secs(), 2_085_978_495);
        let first = NtpTime::from_timestamp(Timestamp::new(0, 0));
        assert_eq!(first.era(), 1);
        // 2036-02-07T06:28:16Z.
        assert_eq!(first.unix_secs(), 2_085_978_496);
        // Half a second before the boundary plus a second crosses it.
        let before = NtpTime::from_timestamp(Timestamp::new(u32::MAX, 1 << 31));
        let after = before.add_millis(1000);
        assert_eq!(after.era(), 1);
        assert_eq!(after.timestamp(), Timestamp::new(0, 1 << 31));
        assert_eq!(after.unix_millis(), 2_085_978_496_500);
        assert_eq!(after.add_fixed(-(1i64 << 32)), before);
        // 1968 (top bit set, era 0) is before the Unix epoch.
        let y1968 = NtpTime::from_timestamp(Timestamp::new(0x8000_0000, 0));
        assert!(y1968.unix_secs() < 0);
        // Unix time round trip.
        assert_eq!(NtpTime::from_unix_secs(2_100_000_000).era(), 1);
        assert_eq!(
            NtpTime::from_unix_secs(2_100_000_000).unix_secs(),
            2_100_000_000
        );
    }

    #[test]
    fn fixed_point_millis() {
        assert_eq!(millis_to_fixed(1500), (1 << 32) | (1 << 31));
        assert_eq!(fixed_to_millis(millis_to_fixed(123_456)), 123_455);
        assert_eq!(fixed_to_millis(1 << 32), 1000);
        assert_eq!(millis_to_fixed(u64::MAX), u64::MAX);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let p = Packet::new_unchecked(&bytes[..]);
            let _ = (p.leap(), p.version(), p.mode(), p.stratum(), p.poll(), p.precision());
            let _ = (p.root_delay(), p.root_dispersion(), p.ref_id(), p.ref_ts(), p.orig_ts(), p.recv_ts(), p.xmit_ts());
            if let Ok(r) = Repr::parse(&p) {
                let mut out = [0u8; PACKET_LEN];
                r.emit(&mut out);
                prop_assert_eq!(&out[..], &bytes[..PACKET_LEN]);
                let t = NtpTime::from_timestamp(r.xmit_ts);
                let _ = (t.unix_millis(), t.add_millis(u64::MAX), t.add_fixed(i64::MIN));
            }
        }

        #[test]
        fn add_millis_is_monotonic_across_eras(secs in any::<u32>(), frac in any::<u32>(), ms in 0u64..10_000_000_000) {
            let t = NtpTime::from_timestamp(Timestamp::new(secs, frac));
            let u = t.add_millis(ms);
            prop_assert!(u >= t);
            let diff = (u.unix_millis() - t.unix_millis()) as u64;
            prop_assert!(diff.abs_diff(ms) <= 1);
        }
    }
}
