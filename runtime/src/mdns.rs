//! mDNS responder (RFC 6762): answers A queries for `<name>.local`, so
//! `ping ember.local` and `http://ember.local/` work from every desktop
//! and phone without a DNS server. The name is the device's
//! ([`Stack::device_name`](crate::Stack::device_name)), `_` written as `-`
//! as in a host name.
//!
//! - **Joining**: once the interface has an address the responder joins
//!   224.0.0.251 (the interface accepts the group's frames; an IGMPv2
//!   membership report, RFC 2236, tells snooping switches).
//! - **Probing** (§8.1): three queries for `<name>.local` (type ANY, the
//!   unicast-response bit set, our A record in the authority section),
//!   250 ms apart after a random 0–250 ms; an answer for the name with
//!   other data is a conflict.
//! - **Announcing** (§8.3): two unsolicited responses one second apart.
//! - **Answering** (§6): a question for `<name>.local` (ASCII case
//!   ignored), type A or ANY, class IN or ANY, gets the A record (TTL
//!   `[mdns] ttl`, cache-flush bit set): by unicast to the asker when the
//!   question has the unicast-response bit or comes from another port
//!   than 5353 (a "legacy" resolver, §6.7: then with its id and question
//!   echoed and a TTL of at most 10 s), else by multicast, at most once a
//!   second (§6: no flood of answers for a flood of questions).
//! - **Conflicts** (§9): a response from another host with an A record
//!   for our name and another address — while probing or later — makes
//!   the responder choose `<name>-2` (then `-3`, ...), report it
//!   ([`MdnsEvent::Renamed`]) and probe again. Simultaneous-probe
//!   tie-breaking (§8.2) is not done: both hosts rename.
//!
//! Starts again (probing) when the address or the device name changes
//! and when the link comes back. Every packet is read from the NIC by
//! offset through the DNS name walker (compression pointers checked);
//! at most [`MAX_RECORDS`] questions or answers are looked at.

use core::marker::PhantomData;

use crate::iface::name::{DeviceName, MAX_LEN};
use crate::iface::{Bytes, Io, Transport, MDNS_GROUP, MDNS_PORT};
use crate::nic::Nic;
use crate::service::{App, Event, Service, ServiceConfig};
use crate::time::{Duration, Instant};
use crate::udp::{Endpoint, UdpDatagram};
use crate::wire::dns::{self as wire, Message};
use crate::wire::Ipv4Address;

/// The mDNS settings from `stack.toml` (`[mdns]`).
pub trait MdnsSettings: ServiceConfig {
    /// TTL of the A record in answers and announcements (`ttl`, seconds;
    /// RFC 6762 §10 recommends 120 for host records).
    const TTL: u32 = 120;
}

/// Questions (or answers) looked at per packet.
pub const MAX_RECORDS: u16 = 16;
/// Probes sent before the name is taken (RFC 6762 §8.1).
const PROBES: u8 = 3;
/// Between probes, and the wait after the last (§8.1).
const PROBE_INTERVAL: Duration = Duration::from_millis(250);
/// Announcements (§8.3: at least two, one second apart).
const ANNOUNCEMENTS: u8 = 2;
const ANNOUNCE_INTERVAL: Duration = Duration::from_secs(1);
/// A record is multicast at most once per this (§6).
const MULTICAST_MIN_INTERVAL: Duration = Duration::from_secs(1);
/// The TTL of answers to legacy (non-5353) queriers (§6.7).
const LEGACY_TTL: u32 = 10;
/// DNS: type A, type ANY, class IN, class ANY; the cache-flush and
/// unicast-response bit (top bit of the class).
const TYPE_A: u16 = 1;
const TYPE_ANY: u16 = 255;
const CLASS_IN: u16 = 1;
const CLASS_ANY: u16 = 255;
const TOP_BIT: u16 = 0x8000;
/// Response flags: QR and AA.
const FLAGS_RESPONSE: u16 = 0x8400;
/// The largest packet the responder builds.
const OUT_LEN: usize = 128;

/// What the responder reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MdnsEvent {
    /// Probing for `<name>.local` started.
    Probing {
        /// The name (without `.local`).
        name: DeviceName,
    },
    /// The name is ours: announced with `address`.
    Announced {
        /// The name.
        name: DeviceName,
        /// Our address.
        address: Ipv4Address,
    },
    /// A query was answered.
    Answered {
        /// The asker.
        to: Endpoint,
        /// By unicast (else multicast to the group).
        unicast: bool,
    },
    /// Another host (`from`) holds `name`: `now` is probed instead.
    Renamed {
        /// The name given up.
        name: DeviceName,
        /// The conflicting host.
        from: Ipv4Address,
        /// The new name.
        now: DeviceName,
    },
    /// A packet to port 5353 that is not DNS.
    Malformed {
        /// The sender.
        from: Ipv4Address,
    },
}

/// Where the responder is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for an address (or for a restart).
    Idle,
    /// `sent` probes out.
    Probing,
    /// `sent` announcements out.
    Announcing,
    /// The name is ours: answering.
    Ready,
}

/// The responder's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MdnsCounters {
    /// Queries answered.
    pub answered: u32,
    /// Packets without a question for us.
    pub ignored: u32,
    /// Packets that did not parse.
    pub malformed: u32,
    /// Renames after a conflict.
    pub conflicts: u32,
}

/// The mDNS responder (a stack service).
#[derive(Debug)]
pub struct MdnsResponder<S: MdnsSettings> {
    phase: Phase,
    sent: u8,
    next: Instant,
    /// The name claimed: the device name, or it with `-N` after conflicts.
    name: DeviceName,
    /// 0: the device name as it is; N ≥ 2: `-N` appended.
    suffix: u8,
    /// The address announced (a change starts again).
    address: Ipv4Address,
    /// Start again on the next poll (link up, rename).
    restart: bool,
    last_multicast: Option<Instant>,
    counters: MdnsCounters,
    _settings: PhantomData<fn() -> S>,
}

impl<S: MdnsSettings> MdnsResponder<S> {
    /// A responder that starts once the interface has an address.
    pub fn new() -> Self {
        MdnsResponder {
            phase: Phase::Idle,
            sent: 0,
            next: Instant::ZERO,
            name: DeviceName::from_config(S::DEVICE_NAME),
            suffix: 0,
            address: Ipv4Address::UNSPECIFIED,
            restart: false,
            last_multicast: None,
            counters: MdnsCounters::default(),
            _settings: PhantomData,
        }
    }

    /// The name claimed (without `.local`).
    pub fn name(&self) -> &DeviceName {
        &self.name
    }

    /// True once the name is ours (probed and announced).
    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    /// What the responder has done.
    pub fn counters(&self) -> &MdnsCounters {
        &self.counters
    }

    /// `base` with `-suffix` (suffix ≥ 2), cut to fit 15 characters.
    fn with_suffix(base: &DeviceName, suffix: u8) -> DeviceName {
        if suffix < 2 {
            return *base;
        }
        let mut digits = [0u8; 20];
        let digits = crate::wire::text::decimal(u64::from(suffix), &mut digits).as_bytes();
        let keep = base
            .as_str()
            .len()
            .min(MAX_LEN.saturating_sub(digits.len().saturating_add(1)));
        let mut buf = [0u8; MAX_LEN];
        let mut w = 0usize;
        let head = base.as_str().as_bytes().get(..keep).unwrap_or(&[]);
        for &b in head.iter().chain(b"-").chain(digits) {
            if let Some(slot) = buf.get_mut(w) {
                *slot = b;
                w = w.saturating_add(1);
            }
        }
        let s = core::str::from_utf8(buf.get(..w).unwrap_or(&[])).unwrap_or("");
        DeviceName::new(s).unwrap_or(*base)
    }

    /// The device name as a host label (`_` written as `-`, as in DHCP's
    /// option 12), the base of the name claimed.
    fn base<N: Nic>(io: &Io<'_, N>) -> DeviceName {
        let name = *io.device_name();
        let mut buf = [0u8; MAX_LEN];
        let label = core::str::from_utf8(name.host_label(&mut buf)).unwrap_or("");
        DeviceName::new(label).unwrap_or(name)
    }

    fn start<N: Nic, A: App>(&mut self, io: &mut Io<'_, N>, app: &mut A, now: Instant) {
        self.name = Self::with_suffix(&Self::base(io), self.suffix);
        self.phase = Phase::Probing;
        self.sent = 0;
        let delay = app.random_u32().checked_rem(250).unwrap_or(0);
        self.next = now.after(Duration::from_millis(u64::from(delay)));
        if !io.iface.mdns_group {
            io.join_mdns_group();
            send_igmp_report(io);
        }
        app.event(Event::Mdns(MdnsEvent::Probing { name: self.name }));
    }

    /// Our name in wire form, `<name>.local`; its length.
    fn wire_name(&self, out: &mut [u8; MAX_LEN + 8]) -> usize {
        let n = self.name.as_str().as_bytes();
        let mut w = 0;
        for &b in [n.len() as u8] // at most 15: fits
            .iter()
            .chain(n)
            .chain(b"\x05local\x00")
        {
            if let Some(slot) = out.get_mut(w) {
                *slot = b;
                w = w.saturating_add(1);
            }
        }
        w
    }

    /// Sends a probe (`probe`) or an announcement / multicast answer.
    fn send_own<N: Nic>(&mut self, io: &mut Io<'_, N>, probe: bool) -> bool {
        let Some(address) = io.address() else {
            return false;
        };
        let mut out = Out::new();
        let mut name = [0u8; MAX_LEN + 8];
        let n = self.wire_name(&mut name);
        let name = name.get(..n).unwrap_or(&[]);
        if probe {
            out.header(0, 0, [1, 0, 1, 0]);
            out.put(name);
            out.u16(TYPE_ANY);
            out.u16(CLASS_IN | TOP_BIT); // QU: answer us directly
            out.put(&[0xc0, 12]); // the question's name
            out.record_tail(CLASS_IN, S::TTL, address);
        } else {
            out.header(0, FLAGS_RESPONSE, [0, 1, 0, 0]);
            out.put(name);
            out.record_tail(CLASS_IN | TOP_BIT, S::TTL, address);
        }
        let t = Transport::Udp {
            src_port: MDNS_PORT,
            dst_port: MDNS_PORT,
        };
        io.send_ipv4(MDNS_GROUP, &t, &mut Bytes(out.bytes()))
            .is_ok()
    }

    /// A response from another host: an A record for our name with other
    /// data is a conflict.
    fn check_conflict<M: Message + ?Sized>(
        &self,
        m: &mut M,
        header: &wire::Repr,
        ours: Ipv4Address,
    ) -> Result<bool, wire::ParseError> {
        let mut name = [0u8; MAX_LEN + 8];
        let n = self.wire_name(&mut name);
        let name = name.get(..n).unwrap_or(&[]);
        let mut at = wire::HEADER_LEN;
        for _ in 0..header.questions.min(MAX_RECORDS) {
            at = wire::skip_name(m, at)?.saturating_add(4);
        }
        let records = header
            .answers
            .saturating_add(header.authorities)
            .saturating_add(header.additionals)
            .min(MAX_RECORDS);
        for _ in 0..records {
            // Compared and walked past in one walk.
            let owner = wire::walk_name(m, at, wire::NameOp::Match(name))?;
            let matches = owner.same;
            at = owner.end;
            let rtype = wire::read_u16(m, at)?;
            let rdlen = usize::from(wire::read_u16(m, at.saturating_add(8))?);
            let rdata = at.saturating_add(10);
            if matches && rtype == TYPE_A && rdlen == 4 {
                let mut a = [0u8; 4];
                wire::read_exact(m, rdata, &mut a)?;
                if Ipv4Address(a) != ours {
                    return Ok(true);
                }
            }
            at = rdata.saturating_add(rdlen);
        }
        Ok(false)
    }

    /// A query: the first question for our name, type A/ANY, class
    /// IN/ANY; `Some(unicast bit)` when there is one.
    fn asked<M: Message + ?Sized>(
        &self,
        m: &mut M,
        header: &wire::Repr,
    ) -> Result<Option<(bool, usize, usize)>, wire::ParseError> {
        let mut name = [0u8; MAX_LEN + 8];
        let n = self.wire_name(&mut name);
        let name = name.get(..n).unwrap_or(&[]);
        let mut at = wire::HEADER_LEN;
        for _ in 0..header.questions.min(MAX_RECORDS) {
            let start = at;
            // Compared and walked past in one walk.
            let owner = wire::walk_name(m, at, wire::NameOp::Match(name))?;
            let matches = owner.same;
            at = owner.end;
            let qtype = wire::read_u16(m, at)?;
            let qclass = wire::read_u16(m, at.saturating_add(2))?;
            at = at.saturating_add(4);
            let class = qclass & !TOP_BIT;
            if matches
                && matches!(qtype, TYPE_A | TYPE_ANY)
                && matches!(class, CLASS_IN | CLASS_ANY)
            {
                return Ok(Some((qclass & TOP_BIT != 0, start, at)));
            }
        }
        Ok(None)
    }

    fn rename<A: App>(&mut self, app: &mut A, base: &DeviceName, from: Ipv4Address) {
        let old = self.name;
        self.suffix = self.suffix.max(1).saturating_add(1);
        self.counters.conflicts = self.counters.conflicts.wrapping_add(1);
        self.name = Self::with_suffix(base, self.suffix);
        app.event(Event::Mdns(MdnsEvent::Renamed {
            name: old,
            from,
            now: self.name,
        }));
        self.restart = true;
    }
}

impl<S: MdnsSettings> Default for MdnsResponder<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: MdnsSettings> Service for MdnsResponder<S> {
    fn new_service<C: ServiceConfig>() -> Self {
        Self::new()
    }

    fn on_udp<N: Nic, A: App>(&mut self, d: &mut UdpDatagram<'_, '_, N>, app: &mut A) -> bool {
        if d.local().port != MDNS_PORT {
            return false;
        }
        let from = d.remote();
        let Some(ours) = d.io().address() else {
            return true;
        };
        if self.phase == Phase::Idle || from.addr == ours {
            return true;
        }
        let mut head = [0u8; wire::HEADER_LEN];
        let parsed = {
            let mut m = Datagram(d);
            wire::read_exact(&mut m, 0, &mut head)
                .ok()
                .and_then(|()| wire::Repr::read(&mut wire::Bytes(&head)).ok())
        };
        let Some(header) = parsed else {
            self.counters.malformed = self.counters.malformed.wrapping_add(1);
            app.event(Event::Mdns(MdnsEvent::Malformed { from: from.addr }));
            return true;
        };
        if header.is_response() {
            let conflict = self.check_conflict(&mut Datagram(d), &header, ours);
            match conflict {
                Ok(true) => {
                    let base = Self::base(d.io());
                    self.rename(app, &base, from.addr);
                }
                Ok(false) => {}
                Err(_) => self.counters.malformed = self.counters.malformed.wrapping_add(1),
            }
            return true;
        }
        if self.phase != Phase::Ready && self.phase != Phase::Announcing {
            return true;
        }
        let asked = match self.asked(&mut Datagram(d), &header) {
            Ok(a) => a,
            Err(_) => {
                self.counters.malformed = self.counters.malformed.wrapping_add(1);
                return true;
            }
        };
        let Some((qu, q_start, q_end)) = asked else {
            self.counters.ignored = self.counters.ignored.wrapping_add(1);
            return true;
        };
        let legacy = from.port != MDNS_PORT;
        let unicast = qu || legacy;
        let now = d.io().now();
        if !unicast
            && self
                .last_multicast
                .is_some_and(|t| now.elapsed_since(t) < MULTICAST_MIN_INTERVAL)
        {
            return true; // answered by multicast within the last second
        }
        let mut out = Out::new();
        let mut name = [0u8; MAX_LEN + 8];
        let n = self.wire_name(&mut name);
        if legacy {
            // §6.7: the querier's id and question; a short TTL.
            out.header(header.id, FLAGS_RESPONSE, [1, 1, 0, 0]);
            let mut q = [0u8; OUT_LEN];
            let len = q_end.saturating_sub(q_start).min(OUT_LEN);
            let got = d.read(q_start, q.get_mut(..len).unwrap_or(&mut []));
            out.put(q.get(..got).unwrap_or(&[]));
        } else {
            out.header(0, FLAGS_RESPONSE, [0, 1, 0, 0]);
        }
        out.put(name.get(..n).unwrap_or(&[]));
        let (class, ttl) = if legacy {
            (CLASS_IN, S::TTL.min(LEGACY_TTL))
        } else {
            (CLASS_IN | TOP_BIT, S::TTL)
        };
        out.record_tail(class, ttl, ours);
        let sent = if unicast {
            d.reply(&mut Bytes(out.bytes())).is_ok()
        } else {
            let t = Transport::Udp {
                src_port: MDNS_PORT,
                dst_port: MDNS_PORT,
            };
            d.io()
                .send_ipv4(MDNS_GROUP, &t, &mut Bytes(out.bytes()))
                .is_ok()
        };
        if sent {
            if !unicast {
                self.last_multicast = Some(now);
            }
            self.counters.answered = self.counters.answered.wrapping_add(1);
            app.event(Event::Mdns(MdnsEvent::Answered { to: from, unicast }));
        }
        true
    }

    fn poll<N: Nic, A: App>(&mut self, io: &mut Io<'_, N>, app: &mut A) {
        let now = io.now();
        let Some(address) = io.address() else {
            self.phase = Phase::Idle;
            return;
        };
        if core::mem::take(&mut self.restart)
            || self.phase == Phase::Idle
            || address != self.address
        {
            self.address = address;
            self.start(io, app, now);
        }
        if now < self.next {
            return;
        }
        match self.phase {
            Phase::Idle | Phase::Ready => {}
            Phase::Probing if self.sent < PROBES => {
                if self.send_own(io, true) {
                    self.sent = self.sent.saturating_add(1);
                }
                self.next = now.after(PROBE_INTERVAL);
            }
            Phase::Probing => {
                self.phase = Phase::Announcing;
                self.sent = 0;
                self.next = now;
                self.poll(io, app);
            }
            Phase::Announcing => {
                if self.send_own(io, false) {
                    self.sent = self.sent.saturating_add(1);
                    self.last_multicast = Some(now);
                    if self.sent == 1 {
                        app.event(Event::Mdns(MdnsEvent::Announced {
                            name: self.name,
                            address,
                        }));
                    }
                }
                self.next = now.after(ANNOUNCE_INTERVAL);
                if self.sent >= ANNOUNCEMENTS {
                    self.phase = Phase::Ready;
                }
            }
        }
    }

    fn poll_at(&self) -> Option<Instant> {
        if self.restart {
            return Some(Instant::ZERO);
        }
        match self.phase {
            Phase::Probing | Phase::Announcing => Some(self.next),
            Phase::Idle | Phase::Ready => None,
        }
    }

    fn link_changed(&mut self, up: bool) {
        // §8: probe again on a (possibly new) link.
        self.restart |= up;
    }

    fn name_changed(&mut self) {
        self.suffix = 0;
        self.restart = true;
    }
}

/// The IGMPv2 membership report for 224.0.0.251 (RFC 2236 §2): type
/// 0x16, the group; to the group, TTL 1.
fn send_igmp_report<N: Nic>(io: &mut Io<'_, N>) {
    let [a, b, c, d] = MDNS_GROUP.0;
    let mut msg = [0x16, 0, 0, 0, a, b, c, d];
    let mut sum = crate::wire::Checksum::new();
    sum.add_bytes(&msg);
    let [h, l] = sum.finish().to_be_bytes();
    if let Some(ck) = msg.get_mut(2..4) {
        ck.copy_from_slice(&[h, l]);
    }
    // Best effort: a switch without IGMP snooping floods the group anyway.
    let _ = io.send_ipv4(
        MDNS_GROUP,
        &Transport::Raw { protocol: 2 },
        &mut Bytes(&msg),
    );
}

/// A received datagram as a DNS [`Message`] (read from the NIC).
struct Datagram<'x, 'd, 'a, N: Nic>(&'x mut UdpDatagram<'d, 'a, N>);

impl<N: Nic> Message for Datagram<'_, '_, '_, N> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn read_at(&mut self, at: usize, buf: &mut [u8]) -> usize {
        self.0.read(at, buf)
    }
}

/// A packet being built (at most [`OUT_LEN`] bytes; more is cut, which
/// our fixed records never reach).
struct Out {
    buf: [u8; OUT_LEN],
    len: usize,
}

impl Out {
    fn new() -> Out {
        Out {
            buf: [0; OUT_LEN],
            len: 0,
        }
    }

    fn put(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len = self.len.saturating_add(1);
            }
        }
    }

    fn u16(&mut self, v: u16) {
        self.put(&v.to_be_bytes());
    }

    /// Id, flags and the four counts.
    fn header(&mut self, id: u16, flags: u16, counts: [u16; 4]) {
        self.u16(id);
        self.u16(flags);
        for c in counts {
            self.u16(c);
        }
    }

    /// After a record's name: type A, `class`, `ttl`, the address.
    fn record_tail(&mut self, class: u16, ttl: u32, address: Ipv4Address) {
        self.u16(TYPE_A);
        self.u16(class);
        self.put(&ttl.to_be_bytes());
        self.u16(4);
        self.put(&address.0);
    }

    fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::test_config! {
        struct Dev;
        type ArpCache = [crate::iface::arp::ArpEntry; 1];
    }
    impl MdnsSettings for Dev {}

    #[test]
    fn conflict_names_get_a_suffix_within_15_characters() {
        let n = |s: &str| DeviceName::new(s).unwrap();
        let r = |b: &str, k: u8| {
            MdnsResponder::<Dev>::with_suffix(&n(b), k)
                .as_str()
                .to_owned()
        };
        assert_eq!(r("EMBER", 0), "EMBER");
        assert_eq!(r("EMBER", 2), "EMBER-2");
        assert_eq!(r("EMBER", 12), "EMBER-12");
        assert_eq!(r("ABCDEFGHIJKLMNO", 2), "ABCDEFGHIJKLM-2");
        assert_eq!(r("ABCDEFGHIJKLMN_", 130), "ABCDEFGHIJK-130");
    }

    #[test]
    fn queries_are_matched_by_name_type_and_class() {
        let resp = MdnsResponder::<Dev>::new();
        let q = |name: &[u8], qtype: u16, qclass: u16| {
            let mut m = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
            m.extend_from_slice(name);
            m.extend_from_slice(&qtype.to_be_bytes());
            m.extend_from_slice(&qclass.to_be_bytes());
            let header = wire::Repr::read(&mut wire::Bytes(&m)).unwrap();
            resp.asked(&mut wire::Bytes(&m), &header)
                .map(|a| a.map(|x| x.0))
        };
        assert_eq!(q(b"\x05ember\x05LOCAL\x00", 1, 1), Ok(Some(false)));
        assert_eq!(q(b"\x05EMBER\x05local\x00", 255, 0x8001), Ok(Some(true)));
        assert_eq!(q(b"\x05EMBER\x05local\x00", 28, 1), Ok(None), "AAAA");
        assert_eq!(q(b"\x05OTHER\x05local\x00", 1, 1), Ok(None));
        assert_eq!(q(b"\x05EMBER\x00", 1, 1), Ok(None));
        assert!(q(b"\xc0\x0c", 1, 1).is_err(), "a pointer to itself");
    }
}
