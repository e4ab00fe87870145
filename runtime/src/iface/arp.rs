//! The ARP cache (RFC 826) as a fixed table of entries.
//!
//! Resolution never blocks: [`resolve`] answers from the cache or marks the
//! address pending and tells the caller to send a request and retry later
//! (the seed's resolve / is-complete pair). Requests for one address are
//! rate-limited to one per [`REQUEST_INTERVAL`] (RFC 1122 §2.3.2.1).

use crate::time::{Duration, Instant};
use crate::wire::{EthernetAddress, Ipv4Address};

/// At most one ARP request per address per second (RFC 1122 §2.3.2.1).
pub const REQUEST_INTERVAL: Duration = Duration::from_secs(1);

/// What a cache slot holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Slot {
    /// Unused.
    #[default]
    Free,
    /// A request was sent at `stamp`; no answer yet.
    Pending,
    /// `mac` answered for `ip` at `stamp`.
    Resolved,
}

/// One ARP cache entry.
#[derive(Clone, Copy, Debug, Default)]
pub struct ArpEntry {
    ip: Ipv4Address,
    mac: EthernetAddress,
    slot: Slot,
    /// Read as an age ([`Instant::elapsed_since`]): an entry left alone
    /// for weeks must not look fresh on the wrapping clock.
    stamp: Instant,
}

impl crate::table::EmptySlot for ArpEntry {
    const EMPTY: Self = ArpEntry {
        ip: Ipv4Address::UNSPECIFIED,
        mac: EthernetAddress([0; 6]),
        slot: Slot::Free,
        stamp: Instant::ZERO,
    };
}

/// The outcome of a cache lookup for sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// The link-layer address to send to.
    Resolved(EthernetAddress),
    /// Not known: send an ARP request for this address now, then retry.
    SendRequest,
    /// A request is already out; retry later.
    Waiting,
}

fn is_live(e: &ArpEntry, now: Instant, lifetime: Duration) -> bool {
    e.slot == Slot::Resolved && now.elapsed_since(e.stamp) < lifetime
}

/// Looks `ip` up; on a miss marks it pending (taking a slot) and says
/// whether a request is due.
pub fn resolve(
    cache: &mut [ArpEntry],
    ip: Ipv4Address,
    now: Instant,
    lifetime: Duration,
) -> Resolution {
    if let Some(e) = cache
        .iter_mut()
        .find(|e| e.slot != Slot::Free && e.ip == ip)
    {
        if is_live(e, now, lifetime) {
            return Resolution::Resolved(e.mac);
        }
        if e.slot == Slot::Pending && now.elapsed_since(e.stamp) < REQUEST_INTERVAL {
            return Resolution::Waiting;
        }
        e.slot = Slot::Pending;
        e.stamp = now;
        return Resolution::SendRequest;
    }
    if let Some((_, e)) = victim(cache, now, lifetime) {
        *e = ArpEntry {
            ip,
            mac: EthernetAddress::default(),
            slot: Slot::Pending,
            stamp: now,
        };
    }
    // With no table at all (0 entries) every send asks again.
    Resolution::SendRequest
}

/// Non-mutating lookup of a live entry.
pub fn lookup(
    cache: &[ArpEntry],
    ip: Ipv4Address,
    now: Instant,
    lifetime: Duration,
) -> Option<EthernetAddress> {
    cache
        .iter()
        .find(|e| e.ip == ip && is_live(e, now, lifetime))
        .map(|e| e.mac)
}

/// Records `ip` → `mac`. With `create` false only an existing entry (live,
/// stale or pending) is refreshed: RFC 826's merge step, used for ARP
/// packets not addressed to us. With `create` true (a request aimed at us)
/// a new entry takes only a free or expired slot, never a live or pending
/// one: a flood of requests from made-up senders cannot evict the gateway
/// or an address being resolved; [`resolve`] (we need the address) is what
/// replaces the oldest. Returns true when the mapping is new or changed.
/// (Always inlined: one caller, ARP input; LLVM kept it apart, 16 B
/// larger.)
#[inline(always)]
pub fn learn(
    cache: &mut [ArpEntry],
    ip: Ipv4Address,
    mac: EthernetAddress,
    now: Instant,
    lifetime: Duration,
    create: bool,
) -> bool {
    if let Some(e) = cache
        .iter_mut()
        .find(|e| e.slot != Slot::Free && e.ip == ip)
    {
        let changed = e.slot != Slot::Resolved || e.mac != mac;
        e.mac = mac;
        e.slot = Slot::Resolved;
        e.stamp = now;
        return changed;
    }
    if !create {
        return false;
    }
    match victim(cache, now, lifetime) {
        Some((rank, e)) if rank < IN_USE => {
            *e = ArpEntry {
                ip,
                mac,
                slot: Slot::Resolved,
                stamp: now,
            };
            true
        }
        _ => false,
    }
}

/// Forgets every entry (the address changed, the link went down).
pub fn flush(cache: &mut [ArpEntry]) {
    cache.fill(<ArpEntry as crate::table::EmptySlot>::EMPTY);
}

/// [`victim`]'s rank of a live or pending entry.
const IN_USE: u8 = 2;

/// The slot to reuse and its rank: a free one (0), else an expired one
/// (1), else the oldest live or pending one ([`IN_USE`]).
fn victim(cache: &mut [ArpEntry], now: Instant, lifetime: Duration) -> Option<(u8, &mut ArpEntry)> {
    // The oldest by age, not by stamp: stamps may be a clock cycle apart.
    // The lowest rank, then the oldest, the first on a tie: the largest
    // (3 - rank, age) as one 64-bit key (never 0, so the first entry
    // always counts).
    let mut best: Option<(u8, usize)> = None;
    let mut best_key = 0u64;
    for (i, e) in cache.iter().enumerate() {
        let rank = match e.slot {
            Slot::Free => 0,
            _ if e.slot == Slot::Resolved && !is_live(e, now, lifetime) => 1,
            _ => IN_USE,
        };
        let age = now.elapsed_since(e.stamp).millis();
        let key = u64::from(3u8.saturating_sub(rank)) << 32 | age;
        if key > best_key {
            (best, best_key) = (Some((rank, i)), key);
        }
    }
    best.and_then(move |(rank, i)| cache.get_mut(i).map(|e| (rank, e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFE: Duration = Duration::from_secs(60);
    fn ip(n: u8) -> Ipv4Address {
        Ipv4Address::new(10, 0, 0, n)
    }
    fn mac(n: u8) -> EthernetAddress {
        EthernetAddress([2, 0, 0, 0, 0, n])
    }

    #[test]
    fn miss_then_answer_then_expire() {
        let mut c = [ArpEntry::default(); 2];
        let t0 = Instant::from_secs(10);
        assert_eq!(resolve(&mut c, ip(1), t0, LIFE), Resolution::SendRequest);
        assert_eq!(resolve(&mut c, ip(1), t0, LIFE), Resolution::Waiting);
        let t1 = t0 + Duration::from_millis(1000);
        assert_eq!(resolve(&mut c, ip(1), t1, LIFE), Resolution::SendRequest);
        assert!(learn(&mut c, ip(1), mac(1), t1, LIFE, false));
        assert_eq!(
            resolve(&mut c, ip(1), t1, LIFE),
            Resolution::Resolved(mac(1))
        );
        let late = t1 + LIFE;
        assert_eq!(lookup(&c, ip(1), late, LIFE), None);
        assert_eq!(resolve(&mut c, ip(1), late, LIFE), Resolution::SendRequest);
    }

    #[test]
    fn ages_across_the_clock_wrap() {
        let mut c = [ArpEntry::default(); 2];
        // Learned 10 s before the u32 millisecond clock wraps.
        let t0 = Instant::from_millis(u64::from(u32::MAX) - 10_000);
        assert!(learn(&mut c, ip(1), mac(1), t0, LIFE, true));
        let after_wrap = t0 + Duration::from_secs(30);
        assert!(after_wrap.millis() < 30_000, "the clock wrapped");
        assert_eq!(lookup(&c, ip(1), after_wrap, LIFE), Some(mac(1)));
        assert_eq!(lookup(&c, ip(1), t0 + LIFE, LIFE), None);
        // Left alone for 30 days (more than 2^31 ms): old, not "in the
        // future", so it is asked for again.
        let month = t0 + Duration::from_secs(15 * 86_400) + Duration::from_secs(15 * 86_400);
        assert_eq!(lookup(&c, ip(1), month, LIFE), None);
        assert_eq!(resolve(&mut c, ip(1), month, LIFE), Resolution::SendRequest);
        // A request sent before the wrap holds the next one back for 1 s.
        let t2 = Instant::from_millis(u64::from(u32::MAX) - 500);
        assert_eq!(resolve(&mut c, ip(2), t2, LIFE), Resolution::SendRequest);
        assert_eq!(
            resolve(&mut c, ip(2), t2 + Duration::from_millis(999), LIFE),
            Resolution::Waiting
        );
        assert_eq!(
            resolve(&mut c, ip(2), t2 + Duration::from_millis(1000), LIFE),
            Resolution::SendRequest
        );
    }

    #[test]
    fn merge_does_not_create() {
        let mut c = [ArpEntry::default(); 2];
        assert!(!learn(&mut c, ip(1), mac(1), Instant::ZERO, LIFE, false));
        assert_eq!(lookup(&c, ip(1), Instant::ZERO, LIFE), None);
        assert!(learn(&mut c, ip(1), mac(1), Instant::ZERO, LIFE, true));
        assert_eq!(lookup(&c, ip(1), Instant::ZERO, LIFE), Some(mac(1)));
    }

    #[test]
    fn full_table_replaces_oldest_when_we_need_a_slot() {
        let mut c = [ArpEntry::default(); 2];
        learn(&mut c, ip(1), mac(1), Instant::from_secs(1), LIFE, true);
        learn(&mut c, ip(2), mac(2), Instant::from_secs(2), LIFE, true);
        let t = Instant::from_secs(3);
        assert_eq!(resolve(&mut c, ip(3), t, LIFE), Resolution::SendRequest);
        assert!(learn(&mut c, ip(3), mac(3), t, LIFE, false));
        assert_eq!(lookup(&c, ip(1), t, LIFE), None);
        assert_eq!(lookup(&c, ip(2), t, LIFE), Some(mac(2)));
        assert_eq!(lookup(&c, ip(3), t, LIFE), Some(mac(3)));
    }

    #[test]
    fn request_flood_never_evicts_live_or_pending_entries() {
        let mut c = [ArpEntry::default(); 3];
        let t = Instant::from_secs(1);
        // The gateway is live, another address is being resolved.
        resolve(&mut c, ip(1), t, LIFE);
        learn(&mut c, ip(1), mac(1), t, LIFE, false);
        resolve(&mut c, ip(2), t, LIFE);
        for n in 10..=200 {
            learn(&mut c, ip(n), mac(n), t, LIFE, true);
        }
        assert_eq!(lookup(&c, ip(1), t, LIFE), Some(mac(1)));
        assert_eq!(resolve(&mut c, ip(2), t, LIFE), Resolution::Waiting);
        // The free slot went to the first flood sender; later ones found none.
        assert_eq!(lookup(&c, ip(10), t, LIFE), Some(mac(10)));
        assert_eq!(lookup(&c, ip(200), t, LIFE), None);
        // Once that entry expires, a new request may take its slot.
        let later = t + LIFE;
        assert!(learn(&mut c, ip(201), mac(201), later, LIFE, true));
    }

    #[test]
    fn zero_entries_still_requests() {
        let mut c: [ArpEntry; 0] = [];
        assert_eq!(
            resolve(&mut c, ip(1), Instant::ZERO, LIFE),
            Resolution::SendRequest
        );
        assert!(!learn(&mut c, ip(1), mac(1), Instant::ZERO, LIFE, true));
    }
}
