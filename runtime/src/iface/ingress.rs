//! Ingress: one received frame, from the Ethernet header to its owner.
//!
//! Headers (at most 14 + 60 + 60 bytes) are read into a stack buffer once;
//! payloads stay in the NIC. Every payload is checksummed by a first pass
//! over the NIC before anyone sees it. Each frame ends in exactly one of:
//! handled, or dropped with a [`DropReason`] counted and reported.

use super::egress::{rx_sum, FromRx, Transport};
use super::{arp, DropReason, IfaceEvents, Io};
use crate::nic::Nic;
use crate::raw::RawOwner;
use crate::tcp::input::{segment_arrives, Segment};
use crate::tcp::{TcpOwner, TcpTables};
use crate::udp::{self, Endpoint, UdpDatagram, UdpOwner, UdpSocket};
use crate::wire::tcp as tcp_wire;
use crate::wire::{arp as arp_wire, ethernet, icmp, ipv4, udp as udp_wire};
use crate::wire::{Checksum, EtherType, EthernetAddress, IpProtocol};

/// Ethernet + the largest IPv4 header + the largest transport header.
const HEADER_BUF: usize = crate::nic::RX_HEAD_LEN;
const _: () = assert!(HEADER_BUF == ethernet::HEADER_LEN + 60 + 60);

/// The application as ingress sees it: it hears what the interface
/// reports and receives what arrives for its UDP, TCP and raw sockets.
/// Every [`App`](crate::App) is one (the services layer implements the
/// parts for it), so ingress names nothing above the transport it hands
/// packets to.
pub(crate) trait Owner: IfaceEvents + UdpOwner + TcpOwner + RawOwner {}

impl<T: IfaceEvents + UdpOwner + TcpOwner + RawOwner> Owner for T {}

/// Takes datagrams for the stack's own services before the socket table
/// (the stack implements it for its services, for its application `A`).
pub(crate) trait UdpOffer<A> {
    /// True when a service consumed the datagram.
    fn offer<N: Nic>(&mut self, datagram: &mut UdpDatagram<'_, '_, N>, app: &mut A) -> bool;

    /// Every valid ARP packet, for address conflict detection (RFC 5227;
    /// the DHCP client's).
    fn arp_seen<N: Nic>(&mut self, io: &mut Io<'_, N>, app: &mut A, arp: &arp_wire::Repr);

    /// Whether echo requests are answered (`[icmp] echo`): a constant of
    /// the configuration, so ingress needs no field for it.
    const ICMP_ECHO: bool;
}

/// What ingress needs besides the interface.
pub(crate) struct Sockets<'s, S> {
    pub udp: &'s mut [UdpSocket],
    pub raw: &'s [crate::raw::RawSocket],
    pub tcp: TcpTables<'s>,
    pub services: &'s mut S,
}

/// Handles the NIC's current frame of `frame_len` bytes.
pub(crate) fn handle_frame<N: Nic, A: Owner, S: UdpOffer<A>>(
    io: &mut Io<'_, N>,
    sockets: &mut Sockets<'_, S>,
    app: &mut A,
    frame_len: usize,
) {
    let c = &mut io.iface.counters;
    c.frames_in = c.frames_in.wrapping_add(1);
    if let Err(reason) = dispatch(io, sockets, app, frame_len) {
        io.iface.counters.drop(reason);
        app.dropped(reason);
    }
}

fn dispatch<N: Nic, A: Owner, S: UdpOffer<A>>(
    io: &mut Io<'_, N>,
    sockets: &mut Sockets<'_, S>,
    app: &mut A,
    frame_len: usize,
) -> Result<(), DropReason> {
    let (buf, n) = io.nic.rx_head();
    let head = buf.get(..n.min(frame_len)).ok_or(DropReason::Truncated)?;
    let frame = ethernet::Frame::new_checked(head).map_err(|_| DropReason::Truncated)?;
    let eth = ethernet::Repr::parse(&frame).map_err(|_| DropReason::Truncated)?;
    let group = io.iface.mdns_group && eth.dst_addr == super::multicast_mac(super::MDNS_GROUP);
    if eth.dst_addr != io.iface.mac && !eth.dst_addr.is_broadcast() && !group {
        return Err(DropReason::NotOurMac);
    }
    let body = head.get(ethernet::HEADER_LEN..).unwrap_or(&[]);
    match eth.ethertype {
        EtherType::Arp => handle_arp(io, sockets, app, eth.src_addr, body),
        EtherType::Ipv4 => {
            // Bounded: the Ethernet header was parsed from the first
            // `frame_len` bytes, so `frame_len >= HEADER_LEN`.
            let l3_len = frame_len.wrapping_sub(ethernet::HEADER_LEN);
            handle_ipv4(io, sockets, app, eth.src_addr, body, l3_len)
        }
        EtherType::Unknown(_) => Err(DropReason::UnknownEthertype),
    }
}

/// (Out of line: not the IPv4 path, and kept out of its frame.)
#[inline(never)]
fn handle_arp<N: Nic, A: Owner, S: UdpOffer<A>>(
    io: &mut Io<'_, N>,
    sockets: &mut Sockets<'_, S>,
    app: &mut A,
    src_mac: EthernetAddress,
    body: &[u8],
) -> Result<(), DropReason> {
    let pkt = arp_wire::Packet::new_checked(body).map_err(|_| DropReason::ArpMalformed)?;
    let repr = arp_wire::Repr::parse(&pkt).map_err(|_| DropReason::ArpMalformed)?;
    let sender_ip = repr.source_protocol_addr;
    let sender_mac = repr.source_hardware_addr;
    // Address conflict detection (the DHCP client's, RFC 5227) sees every
    // valid ARP packet, our own address as the sender included.
    sockets.services.arp_seen(io, app, &repr);
    // A probe (RFC 5227) comes from 0.0.0.0 and is answered; any other
    // impossible sender (our own address included: a conflict) or a group
    // MAC is neither learned nor answered.
    if !sender_mac.is_unicast()
        || !src_mac.is_unicast()
        || (!sender_ip.is_unspecified() && io.iface.impossible_source(sender_ip))
    {
        return Err(DropReason::BadSource);
    }
    let for_us = io.address() == Some(repr.target_protocol_addr);
    // RFC 826: merge the sender into the cache, create only when the
    // packet is for us. Probes (sender 0.0.0.0) teach nothing.
    if !sender_ip.is_unspecified() {
        let learned = arp::learn(
            io.arp,
            sender_ip,
            sender_mac,
            io.now,
            io.arp_lifetime,
            for_us,
        );
        if learned {
            app.arp_learned(sender_ip, sender_mac);
        }
    }
    if for_us
        && repr.operation == arp_wire::Operation::Request
        && io
            .send_arp(
                arp_wire::Operation::Reply,
                sender_mac,
                sender_mac,
                sender_ip,
                false,
            )
            .is_ok()
    {
        app.arp_replied(sender_ip);
    }
    Ok(())
}

fn handle_ipv4<N: Nic, A: Owner, S: UdpOffer<A>>(
    io: &mut Io<'_, N>,
    sockets: &mut Sockets<'_, S>,
    app: &mut A,
    src_mac: EthernetAddress,
    head: &[u8],
    l3_len: usize,
) -> Result<(), DropReason> {
    let pkt = ipv4::Packet::new_header_checked(head).map_err(|e| match e {
        crate::wire::Error::Truncated => DropReason::Truncated,
        _ => DropReason::Ipv4Malformed,
    })?;
    let hlen = pkt.header_len();
    let total = usize::from(pkt.total_len());
    if total > l3_len {
        return Err(DropReason::Ipv4Malformed);
    }
    if !pkt.verify_checksum() {
        return Err(DropReason::Ipv4Checksum);
    }
    // The header was checked above (`new_header_checked`: version, IHL,
    // total length at least the header's): read it as it is rather than
    // checking it again in `Repr::parse`.
    let ip = ipv4::Repr {
        src_addr: pkt.src_addr(),
        dst_addr: pkt.dst_addr(),
        next_header: pkt.next_header(),
        // Bounded: `total >= hlen` (`check_header_len`).
        payload_len: total.wrapping_sub(hlen),
        hop_limit: pkt.hop_limit(),
    };
    if pkt.is_fragment() {
        return Err(DropReason::Ipv4Fragment);
    }
    if !io.iface.accepts(ip.dst_addr) {
        return Err(DropReason::Ipv4NotOurs);
    }
    let l4_head = head.get(hlen..).unwrap_or(&[]);
    if !source_possible(io.iface, src_mac, &ip, l4_head) {
        return Err(DropReason::BadSource);
    }
    let l4 = Layer4 {
        src_mac,
        ip,
        ip_header_len: hlen,
        // Bounded: `hlen` is 20..=60 and at most `total` (checked by
        // `new_header_checked`), `total <= l3_len`.
        offset: ethernet::HEADER_LEN.wrapping_add(hlen),
        len: total.wrapping_sub(hlen),
        head: l4_head,
    };
    match ip.next_header {
        IpProtocol::Icmp => handle_icmp::<N, A, S>(io, app, &l4),
        IpProtocol::Udp => handle_udp(io, sockets, app, &l4),
        IpProtocol::Tcp => handle_tcp(io, sockets, app, &l4),
        IpProtocol::Unknown(p) => crate::raw::deliver(io, sockets.raw, app, p, &l4.raw()),
    }
}

impl Layer4<'_> {
    /// What a raw socket's receiver needs.
    fn raw(&self) -> crate::raw::Arrived {
        crate::raw::Arrived {
            src: self.ip.src_addr,
            dst: self.ip.dst_addr,
            src_mac: self.src_mac,
            offset: self.offset,
            len: self.len,
        }
    }
}

/// UDP port of a DHCP server (RFC 2131): its clients send from 0.0.0.0.
const DHCP_SERVER_PORT: u16 = 67;

/// RFC 1122 §3.2.1.3 and §3.2.2: a datagram whose source no host can have
/// is silently discarded, and no reply, RST or ICMP error is ever sent to
/// it. The one exception is a DHCP client's 0.0.0.0 to a DHCP server port
/// (an application may run a server); the stack's own DHCP client never
/// receives from 0.0.0.0.
fn source_possible(
    iface: &super::Interface,
    src_mac: EthernetAddress,
    ip: &ipv4::Repr,
    l4_head: &[u8],
) -> bool {
    if !src_mac.is_unicast() {
        return false;
    }
    if !iface.impossible_source(ip.src_addr) {
        return true;
    }
    let dhcp_client = ip.src_addr.is_unspecified()
        && ip.next_header == IpProtocol::Udp
        && l4_head.get(2..4) == Some(&DHCP_SERVER_PORT.to_be_bytes()[..]);
    dhcp_client
}

/// A transport packet inside a verified IPv4 header.
struct Layer4<'h> {
    src_mac: EthernetAddress,
    ip: ipv4::Repr,
    ip_header_len: usize,
    /// Offset of the transport header in the frame.
    offset: usize,
    /// Transport header + payload length.
    len: usize,
    /// The transport header bytes that were read (may be longer than it).
    head: &'h [u8],
}

fn handle_icmp<N: Nic, A: Owner, S: UdpOffer<A>>(
    io: &mut Io<'_, N>,
    app: &mut A,
    l4: &Layer4<'_>,
) -> Result<(), DropReason> {
    let hdr = l4
        .head
        .get(..icmp::HEADER_LEN)
        .ok_or(DropReason::IcmpUnsupported)?;
    if l4.len < icmp::HEADER_LEN {
        return Err(DropReason::IcmpUnsupported);
    }
    // Bounded: `l4.offset <= 74` and `l4.len >= HEADER_LEN` (checked above).
    let data_off = l4.offset.wrapping_add(icmp::HEADER_LEN);
    let data_len = l4.len.wrapping_sub(icmp::HEADER_LEN);
    let data_sum = rx_sum(io.nic, data_off, data_len).ok_or(DropReason::Truncated)?;
    if !sums_to_zero(Checksum::new(), hdr, data_sum) {
        return Err(DropReason::IcmpChecksum);
    }
    let pkt = icmp::Packet::new_unchecked(hdr);
    // Only echo requests to our own address are answered (RFC 1122
    // §3.2.2.6 lets a host ignore broadcast echoes; we do).
    let to_us = io.address() == Some(l4.ip.dst_addr);
    if pkt.msg_type() == icmp::Message::EchoReply && to_us {
        app.echo_reply_received(
            l4.ip.src_addr,
            pkt.echo_ident(),
            pkt.echo_seq_no(),
            data_len,
        );
        return Ok(());
    }
    if pkt.msg_type() != icmp::Message::EchoRequest || !S::ICMP_ECHO || !to_us {
        return Err(DropReason::IcmpUnsupported);
    }
    let [_, _, _, _, r0, r1, r2, r3] = crate::wire::array::<8>(hdr, 0);
    let reply = Transport::Icmp {
        msg_type: 0,
        code: 0,
        rest: [r0, r1, r2, r3],
    };
    let mut payload = FromRx {
        offset: data_off,
        len: data_len,
        sum: Some(data_sum),
    };
    if io
        .send_ipv4_to(l4.src_mac, l4.ip.src_addr, &reply, &mut payload)
        .is_ok()
    {
        let c = &mut io.iface.counters;
        c.echo_replies = c.echo_replies.wrapping_add(1);
        app.echo_replied(l4.ip.src_addr, data_len);
    }
    Ok(())
}

fn handle_udp<N: Nic, A: Owner, S: UdpOffer<A>>(
    io: &mut Io<'_, N>,
    sockets: &mut Sockets<'_, S>,
    app: &mut A,
    l4: &Layer4<'_>,
) -> Result<(), DropReason> {
    let hdr = l4
        .head
        .get(..udp_wire::HEADER_LEN)
        .ok_or(DropReason::UdpMalformed)?;
    let pkt = udp_wire::Packet::new_unchecked(hdr);
    let udp_len = usize::from(pkt.len());
    if udp_len < udp_wire::HEADER_LEN || udp_len > l4.len {
        return Err(DropReason::UdpMalformed);
    }
    // Bounded: `l4.offset <= 74` and `udp_len >= HEADER_LEN` (checked above).
    let data_off = l4.offset.wrapping_add(udp_wire::HEADER_LEN);
    let data_len = udp_len.wrapping_sub(udp_wire::HEADER_LEN);
    let mut data_sum = None;
    if pkt.checksum() != 0 {
        let s = rx_sum(io.nic, data_off, data_len).ok_or(DropReason::Truncated)?;
        let sum = ipv4::pseudo_header(
            l4.ip.src_addr,
            l4.ip.dst_addr,
            IpProtocol::Udp,
            u16::try_from(udp_len).unwrap_or(u16::MAX),
        );
        if !sums_to_zero(sum, hdr, s) {
            return Err(DropReason::UdpChecksum);
        }
        data_sum = Some(s);
    }
    let remote = Endpoint::new(l4.ip.src_addr, pkt.src_port());
    let local = Endpoint::new(l4.ip.dst_addr, pkt.dst_port());
    let socket = udp::lookup(sockets.udp, local.port, remote);
    let mut dgram = UdpDatagram {
        io,
        socket,
        local,
        remote,
        src_mac: l4.src_mac,
        offset: data_off,
        len: data_len,
        sum: data_sum,
    };
    if sockets.services.offer(&mut dgram, app) {
        return Ok(());
    }
    if socket.is_none() {
        port_unreachable(io, app, l4, local.port);
        return Err(DropReason::UdpNoSocket);
    }
    let c = &mut dgram.io.iface.counters;
    c.udp_delivered = c.udp_delivered.wrapping_add(1);
    app.udp_deliver(&mut dgram);
    Ok(())
}

fn handle_tcp<N: Nic, A: Owner, S: UdpOffer<A>>(
    io: &mut Io<'_, N>,
    sockets: &mut Sockets<'_, S>,
    app: &mut A,
    l4: &Layer4<'_>,
) -> Result<(), DropReason> {
    let pkt =
        tcp_wire::Packet::new_header_checked(l4.head).map_err(|_| DropReason::TcpMalformed)?;
    let hlen = pkt.header_len();
    if hlen > l4.len {
        return Err(DropReason::TcpMalformed);
    }
    let hdr = l4.head.get(..hlen).ok_or(DropReason::TcpMalformed)?;
    // Bounded: `l4.offset <= 74`, `hlen` is 20..=60 and at most `l4.len`
    // (checked above).
    let payload_offset = l4.offset.wrapping_add(hlen);
    let payload_len = l4.len.wrapping_sub(hlen);
    let data_sum = rx_sum(io.nic, payload_offset, payload_len).ok_or(DropReason::Truncated)?;
    let sum = ipv4::pseudo_header(
        l4.ip.src_addr,
        l4.ip.dst_addr,
        IpProtocol::Tcp,
        u16::try_from(l4.len).unwrap_or(u16::MAX),
    );
    if !sums_to_zero(sum, hdr, data_sum) {
        return Err(DropReason::TcpChecksum);
    }
    // TCP is unicast only (impossible sources were dropped before). (The
    // same drop reason as a malformed header: checked first, so the header
    // is parsed straight into the segment.)
    if io.address() != Some(l4.ip.dst_addr) {
        return Err(DropReason::TcpMalformed);
    }
    let seg = Segment {
        src_ip: l4.ip.src_addr,
        dst_ip: l4.ip.dst_addr,
        src_mac: l4.src_mac,
        repr: tcp_wire::Repr::parse(&tcp_wire::Packet::new_unchecked(hdr), payload_len)
            .map_err(|_| DropReason::TcpMalformed)?,
        payload_offset,
    };
    segment_arrives(io, &mut sockets.tcp, app, &seg)
}

/// Whether `start` (a pseudo-header's sum, or none), the transport
/// header `hdr` and the payload's sum `data` verify (ICMP, UDP and TCP
/// share this one copy).
#[inline(never)]
fn sums_to_zero(mut start: Checksum, hdr: &[u8], data: Checksum) -> bool {
    start.add_bytes(hdr);
    start.add_checksum(data);
    start.is_valid()
}

/// RFC 1122 §4.1.3.1: a host SHOULD send port unreachable; only for
/// datagrams sent to our unicast address (never answer a broadcast).
/// (Out of line: a rare path, kept out of the datagram path's frame.)
#[inline(never)]
fn port_unreachable<N: Nic, A: IfaceEvents>(
    io: &mut Io<'_, N>,
    app: &mut A,
    l4: &Layer4<'_>,
    port: u16,
) {
    if io.address() != Some(l4.ip.dst_addr) || l4.ip.src_addr.is_unspecified() {
        return;
    }
    let t = Transport::Icmp {
        msg_type: 3,
        code: 3,
        rest: [0; 4],
    };
    // The original IP header and the first 8 bytes of its payload (RFC 792).
    let mut quote = FromRx {
        offset: ethernet::HEADER_LEN,
        // Bounded: an IPv4 header is at most 60 bytes.
        len: l4.ip_header_len.wrapping_add(udp_wire::HEADER_LEN),
        sum: None,
    };
    if io
        .send_ipv4_to(l4.src_mac, l4.ip.src_addr, &t, &mut quote)
        .is_ok()
    {
        app.port_unreachable(l4.ip.src_addr, port);
    }
}
