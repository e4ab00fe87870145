//! Time as the application hands it in: a millisecond clock that wraps.
//!
//! The stack owns no timer. Every call to [`Stack::poll`](crate::Stack::poll)
//! carries `now`, and [`Stack::poll_at`](crate::Stack::poll_at) says when the
//! stack next needs to run.
//!
//! An [`Instant`] is a `u32` of milliseconds: it wraps every 2^32 ms
//! (49.7 days), which a device stays up for. A small MCU pays for 64-bit
//! time at every deadline (two registers, saturating carries), so the
//! stack keeps 32 bits and compares instants the way TCP compares sequence
//! numbers (RFC 1982): `a < b` when `b - a`, taken modulo 2^32, is below
//! 2^31. That is correct while the two are **less than 2^31 ms (24.8 days)
//! apart**, so:
//!
//! - a deadline is at most 2^31 − 1 ms ([`MAX_AHEAD`]) ahead of the `now`
//!   it was set from: [`Instant::after`] cuts a longer wait to that, so a
//!   configured interval of 30 days fires after 24.8 ([`Duration`] itself
//!   holds up to 2^32 − 1 ms; DHCP keeps lease times in seconds and caps
//!   the timers it derives, keeping T1 < T2 < expiry);
//! - a stored time stamp that may grow old (the ARP cache, "last sent"
//!   marks) is read with [`Instant::elapsed_since`], exact for ages up to
//!   2^32 − 1 ms, rather than compared;
//! - [`Instant::ZERO`] is special: it orders before every other instant
//!   (whatever the clock reads), so it serves as "due at once" or "never
//!   set" in every state machine. The clock reading exactly 0 after a
//!   wrap therefore looks like the earliest time for that one millisecond:
//!   no timer fires in it, and they fire one poll later.
//!
//! Long spans that do not fit 32 bits of milliseconds stay outside this
//! type: the SNTP wall clock is an NTP timestamp (seconds since 1900 and a
//! fraction) advanced by elapsed milliseconds, and DHCP lease times stay in
//! seconds.

use core::cmp::Ordering;
use core::fmt;

/// The largest span a deadline may lie ahead of `now` (2^31 − 1 ms,
/// 24.8 days): further and it would compare as past.
pub const MAX_AHEAD: Duration = Duration {
    millis: 0x7fff_ffff,
};

/// A point in time: the application's millisecond clock, modulo 2^32.
///
/// Ordered by wrapping difference (see the [module](self) docs): correct
/// for instants less than 2^31 ms apart; [`Instant::ZERO`] orders first.
/// Not [`Ord`]: the order is not transitive across a whole cycle.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Instant {
    millis: u32,
}

/// A span of time in milliseconds, at most 2^32 − 1 (49.7 days);
/// constructors saturate.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration {
    millis: u32,
}

/// `n` saturated to `u32::MAX`.
const fn saturate(n: u64) -> u32 {
    if n > u32::MAX as u64 {
        u32::MAX
    } else {
        n as u32
    }
}

impl Instant {
    /// The epoch, and the instant that orders before all others ("due at
    /// once", "never set").
    pub const ZERO: Instant = Instant { millis: 0 };

    /// The clock reading `millis` (milliseconds since the application's
    /// epoch), taken modulo 2^32: a 64-bit clock can be passed as it is.
    pub const fn from_millis(millis: u64) -> Self {
        // Wraps by design: the clock is modulo 2^32.
        Instant {
            millis: millis as u32,
        }
    }

    /// The clock reading `secs` seconds after the epoch (modulo 2^32 ms).
    pub const fn from_secs(secs: u64) -> Self {
        Instant::from_millis(secs.wrapping_mul(1000))
    }

    /// The clock reading in milliseconds, modulo 2^32: for logs and seeds.
    /// Time between two instants is [`since`](Instant::since).
    pub const fn millis(self) -> u32 {
        self.millis
    }

    /// Whether `self` is at or after `other` in the wrapping order.
    // One copy, as are `since`, `min` and `max`: inlined at every timer
    // comparison of the services they cost 556 bytes of flash on the
    // everything-on firmware (TCP's timers compare `Tick`s, not these).
    #[inline(never)]
    pub const fn reached(self, other: Instant) -> bool {
        if other.millis == 0 || self.millis == other.millis {
            true
        } else if self.millis == 0 {
            false
        } else {
            // Bounded: both are instants; the sign of their difference
            // modulo 2^32 is the order (RFC 1982).
            self.millis.wrapping_sub(other.millis) < 0x8000_0000
        }
    }

    /// Time from `earlier` to `self`; zero if `earlier` is later. Exact for
    /// instants less than 2^31 ms apart.
    #[inline(never)]
    pub const fn since(self, earlier: Instant) -> Duration {
        if self.reached(earlier) {
            self.elapsed_since(earlier)
        } else {
            Duration::ZERO
        }
    }

    /// Time from a past `stamp` to `self`, modulo 2^32 ms: exact for ages up
    /// to 49.7 days, never "negative". For stamps that may grow old (a
    /// cache entry, the last time something was sent).
    pub const fn elapsed_since(self, stamp: Instant) -> Duration {
        Duration {
            // Wraps by design: the age modulo 2^32 ms.
            millis: self.millis.wrapping_sub(stamp.millis),
        }
    }

    /// `self + d`: a deadline. A `d` longer than [`MAX_AHEAD`] is cut to
    /// it (the deadline comes early rather than reading as past). Never
    /// [`Instant::ZERO`] (that would read as due at once): a sum of 0
    /// becomes 1 ms.
    // One copy: inlined at ~30 deadline sites it cost about 470 bytes of
    // flash on the everything-on firmware, for a handful of cycles a call.
    #[inline(never)]
    pub const fn after(self, d: Duration) -> Instant {
        let ahead = if d.millis > MAX_AHEAD.millis {
            MAX_AHEAD.millis
        } else {
            d.millis
        };
        // Wraps by design: the clock is modulo 2^32.
        let t = self.millis.wrapping_add(ahead);
        Instant {
            millis: if t == 0 { 1 } else { t },
        }
    }

    /// The earlier of two instants (the wrapping order).
    #[must_use]
    #[inline(never)]
    pub const fn min(self, other: Instant) -> Instant {
        if self.reached(other) {
            other
        } else {
            self
        }
    }

    /// The later of two instants (the wrapping order).
    #[must_use]
    pub const fn max(self, other: Instant) -> Instant {
        if self.reached(other) {
            self
        } else {
            other
        }
    }
}

impl PartialOrd for Instant {
    fn partial_cmp(&self, other: &Instant) -> Option<Ordering> {
        Some(if self.millis == other.millis {
            Ordering::Equal
        } else if self.reached(*other) {
            Ordering::Greater
        } else {
            Ordering::Less
        })
    }

    fn ge(&self, other: &Instant) -> bool {
        self.reached(*other)
    }

    fn lt(&self, other: &Instant) -> bool {
        !self.reached(*other)
    }

    fn le(&self, other: &Instant) -> bool {
        other.reached(*self)
    }

    fn gt(&self, other: &Instant) -> bool {
        !other.reached(*self)
    }
}

impl Duration {
    /// No time at all.
    pub const ZERO: Duration = Duration { millis: 0 };

    /// The longest duration, 2^32 − 1 ms (49.7 days).
    pub const MAX: Duration = Duration { millis: u32::MAX };

    /// A duration of `millis` milliseconds, saturating at [`Duration::MAX`].
    pub const fn from_millis(millis: u64) -> Self {
        Duration {
            millis: saturate(millis),
        }
    }

    /// A duration of `secs` seconds, saturating at [`Duration::MAX`].
    /// (Out of line at run time: the services convert seconds at several
    /// sites, one copy of the 64-bit saturation.)
    #[inline(never)]
    pub const fn from_secs(secs: u64) -> Self {
        Duration::from_millis(secs.saturating_mul(1000))
    }

    /// Length in milliseconds.
    pub const fn millis(self) -> u64 {
        self.millis as u64
    }

    /// Length in whole seconds.
    pub const fn secs(self) -> u64 {
        // A constant non-zero divisor: no panic, and a multiply on the MCU.
        (self.millis / 1000) as u64
    }

    /// `self * k`, saturating at [`Duration::MAX`].
    pub const fn saturating_mul(self, k: u64) -> Duration {
        Duration::from_millis((self.millis as u64).saturating_mul(k))
    }
}

impl core::ops::Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        self.after(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.millis / 1000, self.millis % 1000)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEAR_WRAP: u64 = u32::MAX as u64 - 500;

    #[test]
    fn order_across_the_wrap() {
        let before = Instant::from_millis(NEAR_WRAP);
        let after = before.after(Duration::from_millis(1000));
        assert_eq!(after.millis(), 499, "wrapped");
        assert!(after > before);
        assert!(before < after);
        assert!(after >= before && before.partial_cmp(&after) == Some(Ordering::Less));
        assert_eq!(after.since(before), Duration::from_millis(1000));
        assert_eq!(before.since(after), Duration::ZERO);
        assert_eq!(before.max(after), after);
        assert_eq!(after.min(before), before);
        // The same instants seen from a clock that did not wrap.
        let plain = Instant::from_millis(u64::from(u32::MAX) + 1 + 499);
        assert_eq!(plain, after);
    }

    #[test]
    fn deadline_up_to_max_ahead() {
        let now = Instant::from_millis(NEAR_WRAP);
        let far = now.after(MAX_AHEAD);
        assert!(far > now, "2^31 - 1 ms ahead is still ahead");
        assert!(!now.reached(far));
        assert_eq!(far.since(now), MAX_AHEAD);
        let beyond = now.after(Duration::from_secs(30 * 86_400));
        assert_eq!(beyond, far, "a longer wait is cut to the bound");
    }

    #[test]
    fn zero_orders_first_and_is_never_a_deadline() {
        let late = Instant::from_millis(0xc000_0000);
        assert!(late >= Instant::ZERO && Instant::ZERO < late);
        assert_eq!(Instant::ZERO.max(late), late);
        assert_eq!(late.min(Instant::ZERO), Instant::ZERO);
        let t = Instant::from_millis(u64::from(u32::MAX)).after(Duration::from_millis(1));
        assert_eq!(t, Instant::from_millis(1), "a sum of 0 is 1 ms");
    }

    #[test]
    fn age_of_a_stamp_up_to_a_full_cycle() {
        let stamp = Instant::from_millis(NEAR_WRAP);
        let now = Instant::from_millis(NEAR_WRAP + 0xc000_0000);
        // 37 days: too far for the order, exact as an age.
        assert_eq!(now.since(stamp), Duration::ZERO);
        assert_eq!(now.elapsed_since(stamp).millis(), 0xc000_0000);
    }

    #[test]
    fn durations_saturate() {
        assert_eq!(Duration::from_secs(50 * 86_400), Duration::MAX);
        assert_eq!(Duration::from_millis(1 << 40), Duration::MAX);
        assert_eq!(
            Duration::from_secs(3).saturating_mul(1 << 31),
            Duration::MAX
        );
        assert_eq!(Duration::from_millis(65_432).secs(), 65);
        assert_eq!(Instant::from_secs(5).since(Instant::ZERO).secs(), 5);
    }

    #[test]
    fn debug_shows_seconds() {
        extern crate std;
        use std::format;
        assert_eq!(format!("{:?}", Instant::from_millis(12_034)), "12.034s");
    }
}
