//! Malformed input: every bad frame is dropped, counted under its reason,
//! answered with nothing, and the stack still answers ping afterwards.
//! Frames are built with `emberstack::wire::build` (the field under test
//! made wrong) and injected from a scripted peer on the simulated wire.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use emberstack::config::StaticIpv4;
use emberstack::iface::{DropReason, Event};
use emberstack::nic::sim::{Faults, SimNic, SimWire};
use emberstack::tcp::{SentSegment, TcpSocket};
use emberstack::udp::UdpSocket;
use emberstack::wire::build::{arp_frame, ethernet_frame, Ipv4Frame};
use emberstack::wire::checksum::checksum;
use emberstack::wire::{arp, icmp, EtherType, EthernetAddress, IpProtocol, Ipv4Address, Ipv4Cidr};
use emberstack::{App, Instant, Stack};
use proptest::prelude::*;

emberstack::test_config! {
    struct Dut;
    const DEVICE_NAME: &'static str = "DUT";
    const MAC: EthernetAddress = EthernetAddress(DUT_MAC);
    const STATIC_IPV4: Option<StaticIpv4> = Some(StaticIpv4 {
        cidr: Ipv4Cidr::new(Ipv4Address(DUT_IP), 24),
        gateway: None,
        dns: None,
    });
    type UdpSockets = [UdpSocket; 1];
    type TcpSockets = [TcpSocket; 2];
    type TcpSegments = [SentSegment; 2];
}

const DUT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
const DUT_IP: [u8; 4] = [10, 9, 0, 2];
const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const PEER_IP: [u8; 4] = [10, 9, 0, 1];

#[derive(Default)]
struct Quiet {
    drops: Vec<DropReason>,
}
impl App for Quiet {
    fn random_u32(&mut self) -> u32 {
        4
    }
    fn event(&mut self, e: Event) {
        if let Event::Dropped(r) = e {
            self.drops.push(r);
        }
    }
    fn udp_datagram<N: emberstack::nic::Nic>(
        &mut self,
        d: &mut emberstack::udp::UdpDatagram<'_, '_, N>,
    ) {
        let _ = d.echo();
    }
}

struct Bench {
    wire: SimWire,
    peer: SimNic,
    nic: SimNic,
    stack: Stack<Dut>,
    app: Quiet,
    now: u64,
}

impl Bench {
    fn new() -> Bench {
        let wire = SimWire::new(1, Faults::none());
        let mut b = Bench {
            peer: wire.endpoint(),
            nic: wire.endpoint(),
            wire,
            stack: Stack::new(),
            app: Quiet::default(),
            now: 0,
        };
        b.stack.udp_bind(7).unwrap();
        b.step();
        while b.peer.recv_frame().is_some() {} // the gratuitous ARP
        b
    }

    fn step(&mut self) {
        self.now += 1;
        self.wire.set_now(self.now);
        while self
            .stack
            .poll(Instant::from_millis(self.now), &mut self.nic, &mut self.app)
        {}
    }

    /// Injects a frame; returns what the stack sent back.
    fn inject(&mut self, frame: &[u8]) -> Vec<Vec<u8>> {
        self.peer.send_frame(frame).unwrap();
        self.step();
        let mut out = Vec::new();
        while let Some(f) = self.peer.recv_frame() {
            out.push(f);
        }
        out
    }
}

/// Frames from the peer to the device.
fn peer() -> Ipv4Frame {
    Ipv4Frame {
        ident: 0x1234,
        ..Ipv4Frame::new(
            EthernetAddress(PEER_MAC),
            Ipv4Address(PEER_IP),
            EthernetAddress(DUT_MAC),
            Ipv4Address(DUT_IP),
        )
    }
}

fn echo_request(seq: u16, data: &[u8]) -> icmp::Repr {
    icmp::Repr::EchoRequest {
        ident: 0x4242,
        seq_no: seq,
        data_len: data.len(),
    }
}

/// A ping from the peer.
fn ping_frame(seq: u16, data: &[u8]) -> Vec<u8> {
    peer().icmp(&echo_request(seq, data), data)
}

/// A datagram from the peer's port 49152 to `port`, with a checksum or
/// without one.
fn udp_frame(port: u16, data: &[u8], fix_checksum: bool) -> Vec<u8> {
    Ipv4Frame {
        udp_checksum: fix_checksum,
        ..peer()
    }
    .udp(0xc000, port, data)
}

/// An ARP request for the device whose hardware and protocol address
/// lengths say `hlen` and `plen` (the addresses stay 6 and 4 bytes), cut
/// to `cut` bytes.
fn arp_request(hlen: u8, plen: u8, cut: Option<usize>) -> Vec<u8> {
    let mut f = arp_frame(
        EthernetAddress(PEER_MAC),
        EthernetAddress::BROADCAST,
        &arp::Repr {
            operation: arp::Operation::Request,
            source_hardware_addr: EthernetAddress(PEER_MAC),
            source_protocol_addr: Ipv4Address(PEER_IP),
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: Ipv4Address(DUT_IP),
        },
    );
    f[18] = hlen;
    f[19] = plen;
    if let Some(n) = cut {
        f.truncate(n);
    }
    f
}

/// The stack answers a good ping with the identical payload.
fn assert_ping_answered(b: &mut Bench, seq: u16) {
    let data: Vec<u8> = (0..100u8).map(|i| i ^ seq as u8).collect();
    let out = b.inject(&ping_frame(seq, &data));
    assert_eq!(out.len(), 1, "one echo reply");
    let r = &out[0];
    assert_eq!(r[23], 1, "ICMP");
    assert_eq!(r[34], 0, "echo reply type");
    assert_eq!(&r[42..142], &data[..], "same payload");
    assert_eq!(checksum(&r[34..142]), 0, "reply ICMP checksum verifies");
}

#[test]
fn each_malformed_frame_is_counted_under_its_reason() {
    let mut b = Bench::new();
    assert_ping_answered(&mut b, 1);
    let good = ping_frame(2, b"0123456789");

    let good_icmp = echo_request(2, b"0123456789");
    let bad_ip_ck = Ipv4Frame {
        ip_checksum_xor: 0xff00,
        ..peer()
    }
    .icmp(&good_icmp, b"0123456789");
    let mut ihl4 = good.clone();
    ihl4[14] = 0x44;
    let mut version6 = good.clone();
    version6[14] = 0x65;
    let too_long = Ipv4Frame {
        total_len: Some(1000),
        ..peer()
    }
    .icmp(&good_icmp, b"0123456789");
    let fragment = Ipv4Frame {
        more_frags: true,
        dont_frag: false,
        ..peer()
    }
    .icmp(&good_icmp, b"0123456789");
    let mut bad_icmp_ck = good.clone();
    bad_icmp_ck[40] ^= 0x01;
    let mut bad_udp_ck = udp_frame(7, b"hello", true);
    bad_udp_ck[44] ^= 0x01;
    let udp_len_over = Ipv4Frame {
        udp_checksum: false,
        udp_len: Some(200),
        ..peer()
    }
    .udp(0xc000, 7, b"hello");
    let unknown_proto = peer().ip(IpProtocol::Unknown(99), &good[34..]);

    let cases: Vec<(&str, Vec<u8>, DropReason)> = vec![
        ("10-byte runt", good[..10].to_vec(), DropReason::Truncated),
        ("IP header cut", good[..30].to_vec(), DropReason::Truncated),
        ("IP checksum", bad_ip_ck, DropReason::Ipv4Checksum),
        ("IHL 4", ihl4, DropReason::Ipv4Malformed),
        (
            "version 6 in v4 ethertype",
            version6,
            DropReason::Ipv4Malformed,
        ),
        ("total length > frame", too_long, DropReason::Ipv4Malformed),
        ("fragment", fragment, DropReason::Ipv4Fragment),
        ("ICMP checksum", bad_icmp_ck, DropReason::IcmpChecksum),
        ("UDP checksum", bad_udp_ck, DropReason::UdpChecksum),
        ("UDP length > IP", udp_len_over, DropReason::UdpMalformed),
        (
            "unknown protocol",
            unknown_proto,
            DropReason::UnknownProtocol,
        ),
        (
            "ARP hlen 7",
            arp_request(7, 4, None),
            DropReason::ArpMalformed,
        ),
        (
            "ARP plen 5",
            arp_request(6, 5, None),
            DropReason::ArpMalformed,
        ),
        (
            "ARP cut at 30",
            arp_request(6, 4, Some(30)),
            DropReason::ArpMalformed,
        ),
        (
            "IPv6 ethertype",
            ethernet_frame(
                EthernetAddress(PEER_MAC),
                EthernetAddress(DUT_MAC),
                EtherType::Unknown(0x86dd),
                &[],
            ),
            DropReason::UnknownEthertype,
        ),
    ];
    for (name, frame, reason) in cases {
        let before = *b.stack.counters();
        let out = b.inject(&frame);
        let after = *b.stack.counters();
        assert!(
            out.is_empty(),
            "{name}: nothing is sent in answer, got {out:?}"
        );
        assert_eq!(
            after.dropped(reason),
            before.dropped(reason) + 1,
            "{name}: counted as {reason:?}; drops now {:?}",
            after.drops
        );
        assert_eq!(
            after.dropped_total(),
            before.dropped_total() + 1,
            "{name}: counted exactly once"
        );
        assert_eq!(b.app.drops.last(), Some(&reason), "{name}: reported");
    }
    assert_ping_answered(&mut b, 3);
}

#[test]
fn udp_with_zero_checksum_is_accepted_and_echoed() {
    let mut b = Bench::new();
    let out = b.inject(&udp_frame(7, b"no checksum", false));
    assert_eq!(out.len(), 1);
    assert_eq!(&out[0][42..53], b"no checksum");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Random bytes never panic the stack, every frame is counted once,
    /// and the stack still answers ping afterwards.
    #[test]
    fn random_frames_are_survivable(frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..20)) {
        let mut b = Bench::new();
        let before = b.stack.counters().frames_in;
        for f in &frames {
            b.inject(f);
        }
        prop_assert_eq!(b.stack.counters().frames_in, before + frames.len() as u32);
        assert_ping_answered(&mut b, 9);
    }

    /// Valid frames with a few bytes flipped: dropped or answered, never a
    /// panic, and the stack keeps working.
    #[test]
    fn mutated_frames_are_survivable(
        which in 0usize..3,
        flips in prop::collection::vec((0usize..160, any::<u8>()), 1..6),
        cut in 0usize..200,
    ) {
        let mut b = Bench::new();
        let mut f = match which {
            0 => ping_frame(5, b"payload bytes"),
            1 => udp_frame(7, b"datagram", true),
            _ => arp_request(6, 4, None),
        };
        for (at, x) in flips {
            if let Some(byte) = f.get_mut(at) {
                *byte ^= x;
            }
        }
        f.truncate(cut.max(1));
        b.inject(&f);
        assert_ping_answered(&mut b, 10);
    }
}
