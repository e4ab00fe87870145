//! The IPv4-over-Ethernet interface: addresses, ARP, ingress dispatch,
//! egress framing and the counters that say what happened to every frame.

pub mod arp;
pub mod egress;
pub(crate) mod ingress;
pub mod name;

use crate::nic::Nic;
use crate::time::{Duration, Instant};
use crate::wire::{arp as arp_wire, ethernet, EtherType, EthernetAddress, Ipv4Address, Ipv4Cidr};
use arp::{ArpEntry, Resolution};
// `Event` is the services layer's (it carries their events); its old path.
pub use crate::service::Event;
pub use egress::{
    Bytes, FnPayload, FromRx, IpHeader, Payload, PayloadSink, SendError, Sent, Transport,
};

/// Static IPv4 settings: the address when DHCP is off (or as its fallback).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaticIpv4 {
    /// Address and prefix.
    pub cidr: Ipv4Cidr,
    /// Default router, if any.
    pub gateway: Option<Ipv4Address>,
    /// DNS server, if any.
    pub dns: Option<Ipv4Address>,
}

/// Why an incoming frame was dropped. Every dropped frame is counted under
/// exactly one reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum DropReason {
    /// Shorter than an Ethernet header, or than a header inside it.
    Truncated = 0,
    /// Addressed to another MAC (multicast we did not join, another host).
    NotOurMac,
    /// An EtherType we do not speak (IPv6, VLAN...).
    UnknownEthertype,
    /// ARP that is not Ethernet/IPv4 or is cut short.
    ArpMalformed,
    /// IPv4 header invalid: version, IHL < 5, total length beyond the frame.
    Ipv4Malformed,
    /// IPv4 header checksum wrong.
    Ipv4Checksum,
    /// A fragment: reassembly is not supported.
    Ipv4Fragment,
    /// IPv4 destination is not ours (or we have no address yet).
    Ipv4NotOurs,
    /// An IP protocol we do not speak.
    UnknownProtocol,
    /// ICMP too short, or a type we do not answer.
    IcmpUnsupported,
    /// ICMP checksum wrong.
    IcmpChecksum,
    /// UDP length field inconsistent with the IP length.
    UdpMalformed,
    /// UDP checksum wrong.
    UdpChecksum,
    /// No socket bound to the destination port.
    UdpNoSocket,
    /// TCP header invalid (data offset, options, contradictory flags).
    TcpMalformed,
    /// TCP checksum wrong.
    TcpChecksum,
    /// No socket for the segment (answered with RST), or a SYN for a port
    /// whose sockets are all busy (ignored, the peer retries).
    TcpNoSocket,
    /// Outside the receive window, an unacceptable ACK, or a challenged
    /// RST/SYN (answered with an ACK, RFC 5961).
    TcpOutOfWindow,
    /// A source no host can have (RFC 1122 §3.2.1.3, §3.2.2): broadcast
    /// (limited or our subnet's), multicast, loopback, 0.0.0.0 or our own
    /// address as the IP source, a group MAC as the Ethernet source.
    /// Never answered, so the device is no reflector.
    BadSource,
}

impl DropReason {
    /// How many reasons there are.
    pub const COUNT: usize = 19;
    /// All reasons, in counter order.
    pub const ALL: [DropReason; Self::COUNT] = [
        DropReason::Truncated,
        DropReason::NotOurMac,
        DropReason::UnknownEthertype,
        DropReason::ArpMalformed,
        DropReason::Ipv4Malformed,
        DropReason::Ipv4Checksum,
        DropReason::Ipv4Fragment,
        DropReason::Ipv4NotOurs,
        DropReason::UnknownProtocol,
        DropReason::IcmpUnsupported,
        DropReason::IcmpChecksum,
        DropReason::UdpMalformed,
        DropReason::UdpChecksum,
        DropReason::UdpNoSocket,
        DropReason::TcpMalformed,
        DropReason::TcpChecksum,
        DropReason::TcpNoSocket,
        DropReason::TcpOutOfWindow,
        DropReason::BadSource,
    ];

    /// A short stable name for logs.
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::Truncated => "truncated",
            DropReason::NotOurMac => "not-our-mac",
            DropReason::UnknownEthertype => "unknown-ethertype",
            DropReason::ArpMalformed => "arp-malformed",
            DropReason::Ipv4Malformed => "ipv4-malformed",
            DropReason::Ipv4Checksum => "ipv4-checksum",
            DropReason::Ipv4Fragment => "ipv4-fragment",
            DropReason::Ipv4NotOurs => "ipv4-not-ours",
            DropReason::UnknownProtocol => "unknown-protocol",
            DropReason::IcmpUnsupported => "icmp-unsupported",
            DropReason::IcmpChecksum => "icmp-checksum",
            DropReason::UdpMalformed => "udp-malformed",
            DropReason::UdpChecksum => "udp-checksum",
            DropReason::UdpNoSocket => "udp-no-socket",
            DropReason::TcpMalformed => "tcp-malformed",
            DropReason::TcpChecksum => "tcp-checksum",
            DropReason::TcpNoSocket => "tcp-no-socket",
            DropReason::TcpOutOfWindow => "tcp-out-of-window",
            DropReason::BadSource => "bad-source",
        }
    }
}

/// Frame counters. The two frame counters wrap at 2^32; the others are
/// 16-bit and wrap at 65,536 (52 bytes of the stack's state instead of
/// 96): they count exceptions and diagnostics — NIC refusals, pings,
/// datagrams, drops by reason — read as they climb, as lwIP's 16-bit
/// `STAT_COUNTER`s are, and the application also hears each drop as
/// [`Event::Dropped`] and each ping as [`Event::EchoReplied`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Frames taken from the NIC.
    pub frames_in: u32,
    /// Frames handed to the NIC.
    pub frames_out: u32,
    /// Frames the NIC refused (busy, error); wraps at 65,536.
    pub tx_errors: u16,
    /// ICMP echo requests answered; wraps at 65,536.
    pub echo_replies: u16,
    /// UDP datagrams delivered to sockets; wraps at 65,536.
    pub udp_delivered: u16,
    /// Dropped frames by [`DropReason`] (each wraps at 65,536).
    pub drops: [u16; DropReason::COUNT],
}

impl Counters {
    /// Dropped frames for one reason (modulo 65,536).
    pub fn dropped(&self, reason: DropReason) -> u32 {
        self.drops.get(reason as usize).map_or(0, |&n| u32::from(n))
    }

    /// All dropped frames: the sum of the per-reason counts, each modulo
    /// 65,536.
    pub fn dropped_total(&self) -> u32 {
        self.drops
            .iter()
            .fold(0u32, |a, &b| a.wrapping_add(u32::from(b)))
    }

    pub(crate) fn drop(&mut self, reason: DropReason) {
        if let Some(c) = self.drops.get_mut(reason as usize) {
            *c = c.wrapping_add(1);
        }
    }
}

/// What the interface reports to the application while it handles a
/// frame. Implemented for every [`App`](crate::App), which receives each as
/// an [`Event`]; declared here so that ingress names nothing above it.
pub(crate) trait IfaceEvents {
    /// [`Event::Dropped`].
    fn dropped(&mut self, reason: DropReason);
    /// [`Event::ArpLearned`].
    fn arp_learned(&mut self, ip: Ipv4Address, mac: EthernetAddress);
    /// [`Event::ArpReplied`].
    fn arp_replied(&mut self, to: Ipv4Address);
    /// [`Event::EchoReplied`].
    fn echo_replied(&mut self, to: Ipv4Address, len: usize);
    /// [`Event::EchoReplyReceived`].
    fn echo_reply_received(&mut self, from: Ipv4Address, ident: u16, seq_no: u16, len: usize);
    /// [`Event::PortUnreachable`].
    fn port_unreachable(&mut self, from: Ipv4Address, port: u16);
}

/// The interface state that is not a table.
#[derive(Debug)]
pub struct Interface {
    pub(crate) mac: EthernetAddress,
    pub(crate) ipv4: Option<StaticIpv4>,
    pub(crate) counters: Counters,
    /// A gratuitous ARP is due for the current address.
    pub(crate) announce: bool,
    /// The device's name now (`[device] name`, or the application's).
    pub(crate) name: name::DeviceName,
    /// The NIC said the link is down: nothing is sent.
    pub(crate) link_down: bool,
    /// Member of the mDNS group 224.0.0.251 (an mDNS responder joined).
    pub(crate) mdns_group: bool,
    /// After a NIC failure (`NicError::Device`) nothing is sent before
    /// this; the wait doubles with each failure in a row (see
    /// [`TX_BACKOFF_MAX_MS`]), so a NIC that cannot report its link does not
    /// make the stack spin on failing sends.
    pub(crate) tx_backoff_until: Instant,
    /// The current wait in units of 10 ms (0: none; at most
    /// [`TX_BACKOFF_MAX_MS`] / 10 = 100, so a byte holds it).
    tx_backoff_10ms: u8,
}

/// The mDNS group, 224.0.0.251 (RFC 6762 §3).
pub const MDNS_GROUP: Ipv4Address = Ipv4Address([224, 0, 0, 251]);
/// The mDNS port.
pub const MDNS_PORT: u16 = 5353;

/// The Ethernet address of IPv4 multicast group `ip`: 01:00:5e and its
/// low 23 bits (RFC 1112 §6.4).
pub fn multicast_mac(ip: Ipv4Address) -> EthernetAddress {
    let [_, b, c, d] = ip.0;
    EthernetAddress([0x01, 0x00, 0x5e, b & 0x7f, c, d])
}

/// The first wait after a NIC failure, in ms; doubled per failure in a row.
pub const TX_BACKOFF_MIN_MS: u16 = 10;
/// The longest wait after NIC failures in a row, in ms.
pub const TX_BACKOFF_MAX_MS: u16 = 1000;

// The wait is kept in 10 ms units in a byte (`Interface::tx_backoff_10ms`).
const _: () = assert!(
    TX_BACKOFF_MIN_MS.is_multiple_of(10)
        && TX_BACKOFF_MAX_MS.is_multiple_of(10)
        && TX_BACKOFF_MAX_MS / 10 <= 255
);

impl Interface {
    pub(crate) fn new(
        mac: EthernetAddress,
        ipv4: Option<StaticIpv4>,
        name: name::DeviceName,
    ) -> Self {
        Interface {
            name,
            mac,
            ipv4,
            counters: Counters::default(),
            announce: ipv4.is_some(),
            link_down: false,
            mdns_group: false,
            tx_backoff_until: Instant::ZERO,
            tx_backoff_10ms: 0,
        }
    }

    /// Our address, if we have one.
    pub(crate) fn address(&self) -> Option<Ipv4Address> {
        self.ipv4.map(|c| c.cidr.address)
    }

    /// Whether frames may be sent at `now` (link up, not backing off).
    pub(crate) fn may_send(&self, now: Instant) -> bool {
        !self.link_down && self.send_not_before(now) == now
    }

    /// The earliest time a frame may be sent, from `now`: `now`, or the end
    /// of the backoff. The backoff lies at most [`TX_BACKOFF_MAX_MS`] ahead;
    /// an end that reads as further ahead is a stale one from a clock cycle
    /// ago (the wrapping clock, see [`crate::time`]) and is over.
    pub(crate) fn send_not_before(&self, now: Instant) -> Instant {
        // `tx_backoff_until.since(now)` within 1..=TX_BACKOFF_MAX_MS, written
        // out: this runs at every poll, and the difference modulo 2^32 in
        // that range already means "ahead" (no call into `time`).
        let until = self.tx_backoff_until;
        let wait = until.millis().wrapping_sub(now.millis());
        if until != Instant::ZERO && (1..=u32::from(TX_BACKOFF_MAX_MS)).contains(&wait) {
            until
        } else {
            now
        }
    }

    /// Records a send's outcome for the backoff: a NIC failure doubles
    /// the wait (from [`TX_BACKOFF_MIN_MS`] to [`TX_BACKOFF_MAX_MS`]), a
    /// frame sent ends it; other errors (ARP pending...) leave it.
    fn tx_outcome(&mut self, now: Instant, r: Result<(), SendError>) {
        match r {
            Ok(()) => self.tx_backoff_10ms = 0,
            Err(SendError::Nic(crate::nic::NicError::Device)) => {
                let ms = u16::from(self.tx_backoff_10ms)
                    .saturating_mul(20)
                    .clamp(TX_BACKOFF_MIN_MS, TX_BACKOFF_MAX_MS);
                // 10..=1000 ms, every step a multiple of 10: 1..=100 fits.
                self.tx_backoff_10ms = (ms / 10) as u8;
                let wait = Duration::from_millis(u64::from(ms));
                self.tx_backoff_until = now.after(wait);
            }
            Err(_) => {}
        }
    }

    /// Changes the IPv4 settings; a change flushes `arp` and announces the
    /// new address (for [`Io::set_ipv4`] and
    /// [`Stack::set_ipv4`](crate::Stack::set_ipv4): one copy).
    #[inline(never)]
    pub(crate) fn set_ipv4(&mut self, arp: &mut [ArpEntry], ipv4: Option<StaticIpv4>) {
        if self.ipv4 != ipv4 {
            arp::flush(arp);
            self.ipv4 = ipv4;
            self.announce = ipv4.is_some();
        }
    }

    /// The link came back: send again at once.
    pub(crate) fn link_restored(&mut self) {
        self.link_down = false;
        self.tx_backoff_10ms = 0;
        self.tx_backoff_until = Instant::ZERO;
        self.announce = self.ipv4.is_some();
    }

    /// True when no host may send from `src` (RFC 1122 §3.2.1.3): 0.0.0.0,
    /// the limited broadcast, multicast, loopback (127/8), our subnet's
    /// broadcast, or our own address (someone else is using it). (Out of
    /// line: every IPv4 packet and every ARP packet ask, one copy.)
    #[inline(never)]
    pub(crate) fn impossible_source(&self, src: Ipv4Address) -> bool {
        src.is_unspecified()
            || src.is_broadcast()
            || src.is_multicast()
            || src.is_loopback()
            || self.ours_or_directed_broadcast(src)
    }

    /// True when `a` is our address or our subnet's broadcast. (Out of
    /// line: the source and destination checks of every packet share it.)
    #[inline(never)]
    fn ours_or_directed_broadcast(&self, a: Ipv4Address) -> bool {
        match self.ipv4 {
            Some(c) => a == c.cidr.address || c.cidr.is_directed_broadcast(a),
            None => false,
        }
    }

    /// True when `dst` is ours: our address, the limited broadcast, or our
    /// subnet's broadcast.
    pub(crate) fn accepts(&self, dst: Ipv4Address) -> bool {
        dst.is_broadcast()
            || (self.mdns_group && dst == MDNS_GROUP)
            || self.ours_or_directed_broadcast(dst)
    }
}

/// Everything needed to send: the NIC and the interface, borrowed from the
/// stack for one call. Handed to the application inside `poll` callbacks
/// and obtained with [`Stack::io`](crate::Stack::io) outside them.
pub struct Io<'a, N: Nic> {
    pub(crate) nic: &'a mut N,
    pub(crate) iface: &'a mut Interface,
    pub(crate) arp: &'a mut [ArpEntry],
    pub(crate) arp_lifetime: Duration,
    pub(crate) now: Instant,
}

impl<N: Nic> Io<'_, N> {
    /// The time this call runs at.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Our IPv4 address, if we have one.
    pub fn address(&self) -> Option<Ipv4Address> {
        self.iface.address()
    }

    /// The IPv4 settings in use, if any.
    pub fn ipv4(&self) -> Option<StaticIpv4> {
        self.iface.ipv4
    }

    /// Changes the IPv4 settings (a DHCP lease, static settings, or `None`
    /// to go offline: nothing is then sent from the old address). A change
    /// flushes the ARP cache and announces the new address with a
    /// gratuitous ARP on the next poll.
    /// (Out of line: the DHCP client calls it from seven places.)
    #[inline(never)]
    pub fn set_ipv4(&mut self, ipv4: Option<StaticIpv4>) {
        self.iface.set_ipv4(self.arp, ipv4);
    }

    /// Joins the mDNS group: frames to 224.0.0.251 (01:00:5e:00:00:fb) are
    /// accepted from now on (the IGMP report is the responder's).
    pub fn join_mdns_group(&mut self) {
        self.iface.mdns_group = true;
        self.nic.join_multicast(multicast_mac(MDNS_GROUP));
    }

    /// Announces our address again (a gratuitous ARP on the next poll):
    /// the defence of RFC 5227 §2.4 (b).
    pub fn announce_address(&mut self) {
        self.iface.announce = self.iface.ipv4.is_some();
    }

    /// Sends an RFC 5227 ARP probe for `target`: a broadcast request with
    /// sender address 0.0.0.0.
    pub fn send_arp_probe(&mut self, target: Ipv4Address) -> Result<(), SendError> {
        self.send_arp(
            arp_wire::Operation::Request,
            EthernetAddress::BROADCAST,
            EthernetAddress::default(),
            target,
            true,
        )
    }

    /// Our MAC address.
    pub fn mac(&self) -> EthernetAddress {
        self.iface.mac
    }

    /// The device's name now (see [`name`]).
    pub fn device_name(&self) -> &name::DeviceName {
        &self.iface.name
    }

    /// The next-hop MAC for `dst`: broadcast for broadcasts, the host on
    /// our subnet, else the gateway. Sends an ARP request when needed and
    /// returns [`SendError::ArpPending`]: the caller retries later.
    pub fn resolve(&mut self, dst: Ipv4Address) -> Result<EthernetAddress, SendError> {
        if dst.is_broadcast() {
            return Ok(EthernetAddress::BROADCAST);
        }
        if dst.is_multicast() {
            return Ok(multicast_mac(dst));
        }
        let Some(cfg) = self.iface.ipv4 else {
            return Err(SendError::NoAddress);
        };
        if cfg.cidr.is_directed_broadcast(dst) {
            return Ok(EthernetAddress::BROADCAST);
        }
        let hop = if cfg.cidr.contains(dst) {
            dst
        } else {
            cfg.gateway.ok_or(SendError::NoRoute)?
        };
        match arp::resolve(self.arp, hop, self.now, self.arp_lifetime) {
            Resolution::Resolved(mac) => Ok(mac),
            Resolution::Waiting => Err(SendError::ArpPending),
            Resolution::SendRequest => {
                self.send_arp(
                    arp_wire::Operation::Request,
                    EthernetAddress::BROADCAST,
                    EthernetAddress::default(),
                    hop,
                    false,
                )?;
                Err(SendError::ArpPending)
            }
        }
    }

    /// Sends one IPv4 packet to `dst` (ARP resolution included).
    pub fn send_ipv4(
        &mut self,
        dst: Ipv4Address,
        transport: &Transport,
        payload: &mut dyn Payload,
    ) -> Result<(), SendError> {
        let dst_mac = self.resolve(dst)?;
        self.send_ipv4_to(dst_mac, dst, transport, payload)
    }

    /// Sends one IPv4 packet to a known next-hop MAC (replies go back to the
    /// MAC the request came from, with no ARP round trip). (Out of line:
    /// five callers.)
    #[inline(never)]
    pub fn send_ipv4_to(
        &mut self,
        dst_mac: EthernetAddress,
        dst: Ipv4Address,
        transport: &Transport,
        payload: &mut dyn Payload,
    ) -> Result<(), SendError> {
        self.send_ipv4_sent(dst_mac, dst, transport, payload)
            .map(|_| ())
    }

    /// [`Io::send_ipv4_to`], reporting what went out.
    pub fn send_ipv4_sent(
        &mut self,
        dst_mac: EthernetAddress,
        dst: Ipv4Address,
        transport: &Transport,
        payload: &mut dyn Payload,
    ) -> Result<Sent, SendError> {
        // RFC 6762 §11: mDNS goes out with TTL 255 (also unicast answers,
        // from port 5353); other multicast (IGMP) stays on the link.
        let mdns = match transport {
            Transport::Udp { src_port, .. } => dst == MDNS_GROUP || *src_port == MDNS_PORT,
            _ => false,
        };
        let ttl = match (mdns, dst.is_multicast()) {
            (true, _) => 255,
            (false, true) => 1,
            (false, false) => 64,
        };
        let hdr = IpHeader {
            dst_mac,
            src_mac: self.iface.mac,
            src: self.iface.address().unwrap_or(Ipv4Address::UNSPECIFIED),
            dst,
            ttl,
        };
        let r = egress::send_ipv4(self.nic, &hdr, transport, payload);
        self.count_tx(r.map(|_| ()))?;
        r
    }

    /// Sends an ICMP echo request (ping) carrying `data`; the answer
    /// arrives as [`Event::EchoReplyReceived`].
    pub fn send_echo_request(
        &mut self,
        dst: Ipv4Address,
        ident: u16,
        seq_no: u16,
        data: &[u8],
    ) -> Result<(), SendError> {
        let [i0, i1] = ident.to_be_bytes();
        let [s0, s1] = seq_no.to_be_bytes();
        let t = Transport::Icmp {
            msg_type: 8,
            code: 0,
            rest: [i0, i1, s0, s1],
        };
        self.send_ipv4(dst, &t, &mut Bytes(data))
    }

    /// Sends an ARP packet from our MAC and address (from 0.0.0.0 when
    /// `probe`: RFC 5227's probe, or when we have no address).
    pub(crate) fn send_arp(
        &mut self,
        operation: arp_wire::Operation,
        dst_mac: EthernetAddress,
        target_mac: EthernetAddress,
        target_ip: Ipv4Address,
        probe: bool,
    ) -> Result<(), SendError> {
        let src_ip = match self.iface.address() {
            Some(ip) if !probe => ip,
            _ => Ipv4Address::UNSPECIFIED,
        };
        // The whole frame, its padding to the minimum length included.
        let mut frame = [0u8; crate::nic::MIN_FRAME_LEN];
        egress::fill_ethernet_raw(&mut frame, self.iface.mac, dst_mac, EtherType::Arp);
        let repr = arp_wire::Repr {
            operation,
            source_hardware_addr: self.iface.mac,
            source_protocol_addr: src_ip,
            target_hardware_addr: target_mac,
            target_protocol_addr: target_ip,
        };
        if let Some(body) = frame.get_mut(ethernet::HEADER_LEN..) {
            repr.emit(&mut arp_wire::Packet::new_unchecked(body));
        }
        let r = egress::send_raw(self.nic, &frame);
        self.count_tx(r)
    }

    fn count_tx(&mut self, r: Result<(), SendError>) -> Result<(), SendError> {
        self.iface.tx_outcome(self.now, r);
        let c = &mut self.iface.counters;
        match r {
            Ok(()) => c.frames_out = c.frames_out.wrapping_add(1),
            Err(SendError::Busy | SendError::Nic(_) | SendError::PayloadChanged) => {
                c.tx_errors = c.tx_errors.wrapping_add(1)
            }
            Err(_) => {}
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface() -> Interface {
        Interface::new(
            EthernetAddress([2, 0, 0, 0, 0, 1]),
            None,
            name::DeviceName::new("dev").unwrap(),
        )
    }

    #[test]
    fn interface_state_stays_packed() {
        // README "Decisions: stack state toward 1 KB"; no pointer-sized
        // field, so the host's layout is the MCU's.
        assert_eq!(core::mem::size_of::<Counters>(), 52);
        assert_eq!(core::mem::size_of::<Interface>(), 96);
        assert_eq!(core::mem::size_of::<name::DeviceName>(), 15);
    }

    #[test]
    fn backoff_doubles_in_10_ms_steps_up_to_its_maximum() {
        let mut i = iface();
        let t = Instant::from_secs(1);
        let fail = Err(SendError::Nic(crate::nic::NicError::Device));
        let mut waits = [0u32; 9];
        for w in &mut waits {
            i.tx_outcome(t, fail);
            *w = i.send_not_before(t).since(t).millis() as u32;
        }
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        i.tx_outcome(t, Ok(()));
        i.tx_outcome(t, fail);
        assert_eq!(
            i.send_not_before(t).since(t).millis(),
            10,
            "a success ends it"
        );
    }

    #[test]
    fn backoff_holds_sends_then_ends_across_the_clock_wrap() {
        let mut i = iface();
        let fail = Err(SendError::Nic(crate::nic::NicError::Device));
        // A failure 5 ms before the u32 millisecond clock wraps.
        let t = Instant::from_millis(u64::from(u32::MAX) - 5);
        i.tx_outcome(t, fail);
        let end = t.after(Duration::from_millis(u64::from(TX_BACKOFF_MIN_MS)));
        assert!(end.millis() < 10, "the end lies after the wrap");
        assert!(!i.may_send(t.after(Duration::from_millis(1))));
        assert_eq!(i.send_not_before(t), end);
        assert!(i.may_send(end));
    }

    #[test]
    fn a_stale_backoff_does_not_hold_sends_a_clock_cycle_later() {
        let mut i = iface();
        let t = Instant::from_millis(1_000);
        i.tx_outcome(t, Err(SendError::Nic(crate::nic::NicError::Device)));
        // No send for 49.7 days minus 0.5 s: the old end now reads as 0.51 s
        // ahead (within the 1 s a backoff may be) and holds at most that;
        // further back it reads as far ahead, i.e. stale.
        let cycle = 1u64 << 32;
        let almost = Instant::from_millis(cycle + 1_000 - 500);
        assert_eq!(
            i.send_not_before(almost),
            t.after(Duration::from_millis(10))
        );
        let later = Instant::from_millis(cycle / 2 + 1_000 + 5_000);
        assert!(i.may_send(later), "an end 24.8 days old is over");
        assert_eq!(i.send_not_before(later), later);
    }
}
