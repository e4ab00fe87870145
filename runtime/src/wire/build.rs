//! Whole frames built from the wire `Repr`s, for tests, fuzz targets and
//! host tools that play a peer (feature `std`, like the simulated wire in
//! [`nic::sim`](crate::nic::sim) it feeds).
//!
//! [`Ipv4Frame`] holds the Ethernet and IPv4 addressing and the header
//! fields a test may vary; its methods emit an Ethernet + IPv4 frame
//! around UDP, TCP or ICMP with every checksum filled in by the same
//! [`Repr::emit`](ipv4::Repr::emit) code the stack sends with.
//! [`ethernet_frame`], [`arp_frame`] and [`arp_reply`] cover the rest. A bad-input test
//! asks for the one field it wants wrong ([`Ipv4Frame::ip_checksum_xor`],
//! [`Ipv4Frame::checksum_xor`], [`Ipv4Frame::total_len`],
//! [`Ipv4Frame::udp_len`], ...) and the builder keeps everything else
//! right, so the frame is dropped for that reason alone.
//!
//! Nothing here reaches a firmware: the module exists only with `std`.

use super::checksum::Checksum;
use super::{arp, ethernet, icmp, ipv4, tcp, udp};
use super::{EtherType, EthernetAddress, IpProtocol, Ipv4Address};
use std::vec::Vec;

/// An Ethernet II frame: the header [`ethernet::Repr::emit`] writes, then
/// `payload`.
pub fn ethernet_frame(
    src: EthernetAddress,
    dst: EthernetAddress,
    ethertype: EtherType,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = Vec::with_capacity(ethernet::HEADER_LEN.saturating_add(payload.len()));
    f.resize(ethernet::HEADER_LEN, 0);
    ethernet::Repr {
        src_addr: src,
        dst_addr: dst,
        ethertype,
    }
    .emit(&mut ethernet::Frame::new_unchecked(f.as_mut_slice()));
    f.extend_from_slice(payload);
    f
}

/// An ARP packet from `src` to `dst` (broadcast for a request), 42 bytes
/// (no padding to the 60-byte minimum: the simulated wire does not need it).
pub fn arp_frame(src: EthernetAddress, dst: EthernetAddress, repr: &arp::Repr) -> Vec<u8> {
    let mut packet = [0u8; arp::PACKET_LEN];
    repr.emit(&mut arp::Packet::new_unchecked(packet.as_mut_slice()));
    ethernet_frame(src, dst, EtherType::Arp, &packet)
}

/// The answer to the ARP request `request`: `ip` is at `mac`, sent to the
/// host that asked.
pub fn arp_reply(request: &arp::Repr, mac: EthernetAddress, ip: Ipv4Address) -> Vec<u8> {
    let reply = arp::Repr {
        operation: arp::Operation::Reply,
        source_hardware_addr: mac,
        source_protocol_addr: ip,
        target_hardware_addr: request.source_hardware_addr,
        target_protocol_addr: request.source_protocol_addr,
    };
    arp_frame(mac, request.source_hardware_addr, &reply)
}

/// The Ethernet and IPv4 header of a frame from one host to another, and
/// what a test may make unusual or wrong in it.
///
/// [`Ipv4Frame::new`] gives what [`ipv4::Repr::emit`] writes (TTL 64,
/// identification 0, Don't Fragment) and nothing wrong; change a field
/// with struct update syntax: `Ipv4Frame { ident: 1, ..Ipv4Frame::new(..) }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Frame {
    /// Ethernet source.
    pub src_mac: EthernetAddress,
    /// Ethernet destination.
    pub dst_mac: EthernetAddress,
    /// IPv4 source.
    pub src_addr: Ipv4Address,
    /// IPv4 destination.
    pub dst_addr: Ipv4Address,
    /// Time to live.
    pub hop_limit: u8,
    /// Identification.
    pub ident: u16,
    /// Don't Fragment.
    pub dont_frag: bool,
    /// More Fragments (a first fragment, which the stack drops).
    pub more_frags: bool,
    /// A total length to write instead of the true one (the header
    /// checksum is computed after it, so only the length is wrong).
    pub total_len: Option<u16>,
    /// XORed into the IPv4 header checksum after it is computed (0: right).
    pub ip_checksum_xor: u16,
    /// XORed into the UDP, TCP or ICMP checksum after it is computed
    /// (0: right).
    pub checksum_xor: u16,
    /// A UDP length to write instead of the true one, after the checksum
    /// is computed over the datagram as it is.
    pub udp_len: Option<u16>,
    /// Whether UDP carries a checksum (false: the field is 0, "none").
    pub udp_checksum: bool,
}

impl Ipv4Frame {
    /// A frame from `src_mac`/`src_addr` to `dst_mac`/`dst_addr` with the
    /// header [`ipv4::Repr::emit`] writes and every checksum right.
    pub const fn new(
        src_mac: EthernetAddress,
        src_addr: Ipv4Address,
        dst_mac: EthernetAddress,
        dst_addr: Ipv4Address,
    ) -> Self {
        Ipv4Frame {
            src_mac,
            dst_mac,
            src_addr,
            dst_addr,
            hop_limit: 64,
            ident: 0,
            dont_frag: true,
            more_frags: false,
            total_len: None,
            ip_checksum_xor: 0,
            checksum_xor: 0,
            udp_len: None,
            udp_checksum: true,
        }
    }

    /// `payload` (a transport header and its data, already complete) in an
    /// IPv4 packet of protocol `next_header`, in an Ethernet frame.
    pub fn ip(&self, next_header: IpProtocol, payload: &[u8]) -> Vec<u8> {
        let mut header = [0u8; ipv4::HEADER_LEN];
        let mut p = ipv4::Packet::new_unchecked(header.as_mut_slice());
        ipv4::Repr {
            src_addr: self.src_addr,
            dst_addr: self.dst_addr,
            next_header,
            payload_len: payload.len(),
            hop_limit: self.hop_limit,
        }
        .emit(&mut p);
        p.set_ident(self.ident);
        p.set_dont_frag(self.dont_frag);
        p.set_more_frags(self.more_frags);
        if let Some(len) = self.total_len {
            p.set_total_len(len);
        }
        p.fill_checksum();
        let c = p.checksum() ^ self.ip_checksum_xor;
        p.set_checksum(c);
        let mut packet = Vec::with_capacity(header.len().saturating_add(payload.len()));
        packet.extend_from_slice(&header);
        packet.extend_from_slice(payload);
        ethernet_frame(self.src_mac, self.dst_mac, EtherType::Ipv4, &packet)
    }

    /// A UDP datagram from `src_port` to `dst_port` carrying `payload`
    /// ([`udp::Repr::emit_header`]; the checksum per
    /// [`udp_checksum`](Ipv4Frame::udp_checksum), a computed 0 sent as
    /// 0xffff).
    pub fn udp(&self, src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
        let repr = udp::Repr {
            src_port,
            dst_port,
            payload_len: payload.len(),
        };
        let checksum = if self.udp_checksum {
            let mut sum = repr.header_sum(self.src_addr, self.dst_addr);
            sum.add_bytes(payload);
            udp::checksum_field(sum) ^ self.checksum_xor
        } else {
            0
        };
        let mut datagram = [0u8; udp::HEADER_LEN].to_vec();
        let mut p = udp::Packet::new_unchecked(datagram.as_mut_slice());
        repr.emit_header(&mut p, checksum);
        if let Some(len) = self.udp_len {
            p.set_len(len);
        }
        datagram.extend_from_slice(payload);
        self.ip(IpProtocol::Udp, &datagram)
    }

    /// A TCP segment: `repr`'s header ([`tcp::Repr::emit_header`], its
    /// `payload_len` taken from `payload`), then `payload`.
    pub fn tcp(&self, repr: &tcp::Repr, payload: &[u8]) -> Vec<u8> {
        let repr = tcp::Repr {
            payload_len: payload.len(),
            ..*repr
        };
        let mut segment = Vec::with_capacity(repr.header_len().saturating_add(payload.len()));
        segment.resize(repr.header_len(), 0);
        repr.emit_header(&mut tcp::Packet::new_unchecked(segment.as_mut_slice()), 0);
        segment.extend_from_slice(payload);
        self.tcp_segment(segment)
    }

    /// A TCP segment written by the caller ([`TcpHeader::segment`], then
    /// perhaps edited: any flags, options or data offset, which
    /// [`tcp::Repr`] cannot express): its checksum is filled in over the
    /// whole buffer.
    pub fn tcp_segment(&self, mut segment: Vec<u8>) -> Vec<u8> {
        let mut p = tcp::Packet::new_unchecked(segment.as_mut_slice());
        p.fill_checksum(self.src_addr, self.dst_addr);
        let c = p.checksum() ^ self.checksum_xor;
        p.set_checksum(c);
        self.ip(IpProtocol::Tcp, &segment)
    }

    /// An ICMP message: `repr`'s header ([`icmp::Repr::emit_header`], its
    /// data length taken from `data`), then `data`.
    pub fn icmp(&self, repr: &icmp::Repr, data: &[u8]) -> Vec<u8> {
        let mut message = [0u8; icmp::HEADER_LEN].to_vec();
        let mut sum = Checksum::new();
        sum.add_bytes(data);
        let mut p = icmp::Packet::new_unchecked(message.as_mut_slice());
        repr.emit_header(&mut p, sum);
        let c = p.checksum() ^ self.checksum_xor;
        p.set_checksum(c);
        message.extend_from_slice(data);
        self.ip(IpProtocol::Icmp, &message)
    }
}

/// A TCP header field by field, as a peer may write it: any flags byte
/// and any option bytes, for the segments [`tcp::Repr`] cannot express
/// (contradictory flags, unknown or malformed options).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpHeader<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq_number: tcp::SeqNumber,
    /// Acknowledgment number (sent whatever the flags say).
    pub ack_number: tcp::SeqNumber,
    /// The flags byte.
    pub flags: tcp::Flags,
    /// Window.
    pub window_len: u16,
    /// Option bytes, padded with zeros (end of options) to a multiple of 4.
    pub options: &'a [u8],
}

impl TcpHeader<'_> {
    /// The header (data offset from the padded options, checksum and
    /// urgent pointer 0) followed by `payload`; give it to
    /// [`Ipv4Frame::tcp_segment`] for the checksum and the frame.
    pub fn segment(&self, payload: &[u8]) -> Vec<u8> {
        let mut t = [0u8; tcp::HEADER_LEN].to_vec();
        t.extend_from_slice(self.options);
        while t.len() % 4 != 0 {
            t.push(0);
        }
        let header_len = t.len();
        let mut p = tcp::Packet::new_unchecked(t.as_mut_slice());
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_seq_number(self.seq_number);
        p.set_ack_number(self.ack_number);
        p.set_header_len(header_len);
        p.set_flags(self.flags);
        p.set_window_len(self.window_len);
        t.extend_from_slice(payload);
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Address = Ipv4Address::new(10, 9, 0, 1);
    const B: Ipv4Address = Ipv4Address::new(10, 9, 0, 2);
    const MAC_A: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
    const MAC_B: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);

    fn frame() -> Ipv4Frame {
        Ipv4Frame::new(MAC_A, A, MAC_B, B)
    }

    /// The IPv4 header and payload of `f`, the header checked.
    fn ip(f: &[u8]) -> (ipv4::Repr, &[u8]) {
        let eth = ethernet::Frame::new_checked(f).unwrap();
        assert_eq!(eth.ethertype(), EtherType::Ipv4);
        let p = ipv4::Packet::new_checked(&f[ethernet::HEADER_LEN..]).unwrap();
        let repr = ipv4::Repr::parse(&p, true).unwrap();
        (repr, &f[ethernet::HEADER_LEN + ipv4::HEADER_LEN..])
    }

    #[test]
    fn frames_parse_back_with_checksums_right() {
        let f = frame().udp(1000, 7, b"hello");
        let (r, udp) = ip(&f);
        assert_eq!((r.src_addr, r.dst_addr, r.hop_limit), (A, B, 64));
        let p = udp::Packet::new_checked(udp).unwrap();
        assert!(p.verify_checksum(A, B));
        assert_eq!(
            (p.src_port(), p.dst_port(), p.payload()),
            (1000, 7, &b"hello"[..])
        );

        let syn = tcp::Repr {
            src_port: 1000,
            dst_port: 80,
            control: tcp::Control::Syn,
            seq_number: tcp::SeqNumber(5),
            ack_number: None,
            window_len: 512,
            max_seg_size: Some(1460),
            timestamp: None,
            payload_len: 0,
        };
        let f = frame().tcp(&syn, b"data");
        let (_, seg) = ip(&f);
        let p = tcp::Packet::new_checked(seg).unwrap();
        assert!(p.verify_checksum(A, B));
        let parsed = tcp::Repr::parse(&p, 4).unwrap();
        assert_eq!(
            parsed,
            tcp::Repr {
                payload_len: 4,
                ..syn
            }
        );

        let echo = icmp::Repr::EchoRequest {
            ident: 1,
            seq_no: 2,
            data_len: 3,
        };
        let f = frame().icmp(&echo, b"abc");
        let (_, msg) = ip(&f);
        let p = icmp::Packet::new_checked(msg).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(icmp::Repr::parse(&p, 3).unwrap(), echo);

        let asked = arp::Repr {
            operation: arp::Operation::Request,
            source_hardware_addr: MAC_B,
            source_protocol_addr: B,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: A,
        };
        let f = arp_reply(&asked, MAC_A, A);
        let p = arp::Packet::new_unchecked(&f[ethernet::HEADER_LEN..]);
        let r = arp::Repr::parse(&p).unwrap();
        assert_eq!(r.operation, arp::Operation::Reply);
        assert_eq!((r.source_hardware_addr, r.source_protocol_addr), (MAC_A, A));
        assert_eq!((r.target_hardware_addr, r.target_protocol_addr), (MAC_B, B));
    }

    #[test]
    fn each_fault_spoils_only_its_field() {
        let bad_ip = Ipv4Frame {
            ip_checksum_xor: 1,
            ..frame()
        }
        .udp(1, 2, b"x");
        let p = ipv4::Packet::new_checked(&bad_ip[ethernet::HEADER_LEN..]).unwrap();
        assert_eq!(
            ipv4::Repr::parse(&p, true),
            Err(crate::wire::Error::Checksum)
        );

        let long = Ipv4Frame {
            total_len: Some(1000),
            ..frame()
        }
        .udp(1, 2, b"x");
        let p = ipv4::Packet::new_unchecked(&long[ethernet::HEADER_LEN..]);
        assert!(p.verify_checksum());
        assert_eq!(p.total_len(), 1000);

        let bad_udp = Ipv4Frame {
            checksum_xor: 1,
            ..frame()
        }
        .udp(1, 2, b"x");
        let (_, udp) = ip(&bad_udp);
        assert!(!udp::Packet::new_checked(udp).unwrap().verify_checksum(A, B));

        let none = Ipv4Frame {
            udp_checksum: false,
            udp_len: Some(200),
            ..frame()
        }
        .udp(1, 2, b"x");
        let (_, udp) = ip(&none);
        let p = udp::Packet::new_unchecked(udp);
        assert_eq!((p.checksum(), p.len()), (0, 200));
    }
}
