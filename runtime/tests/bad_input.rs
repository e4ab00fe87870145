//! Malformed input: every bad frame is dropped, counted under its reason,
//! answered with nothing, and the stack still answers ping afterwards.
//! Frames are written by hand and injected from a scripted peer on the
//! simulated wire.
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
use emberstack::wire::checksum::checksum;
use emberstack::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};
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

fn eth(ethertype: u16) -> Vec<u8> {
    let mut f = DUT_MAC.to_vec();
    f.extend(PEER_MAC);
    f.extend(ethertype.to_be_bytes());
    f
}

/// An IPv4 header (20 bytes) with a correct checksum.
fn ip_header(proto: u8, payload_len: usize) -> Vec<u8> {
    let total = (20 + payload_len) as u16;
    let mut h = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, proto, 0, 0];
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h.extend(PEER_IP);
    h.extend(DUT_IP);
    let ck = checksum(&h);
    h[10..12].copy_from_slice(&ck.to_be_bytes());
    h
}

fn icmp_echo(seq: u16, data: &[u8]) -> Vec<u8> {
    let mut m = vec![8, 0, 0, 0, 0x42, 0x42];
    m.extend(seq.to_be_bytes());
    m.extend(data);
    let ck = checksum(&m);
    m[2..4].copy_from_slice(&ck.to_be_bytes());
    m
}

fn ping_frame(seq: u16, data: &[u8]) -> Vec<u8> {
    let icmp = icmp_echo(seq, data);
    let mut f = eth(0x0800);
    f.extend(ip_header(1, icmp.len()));
    f.extend(icmp);
    f
}

fn udp_frame(port: u16, data: &[u8], fix_checksum: bool) -> Vec<u8> {
    let len = (8 + data.len()) as u16;
    let mut u = vec![0xc0, 0x00];
    u.extend(port.to_be_bytes());
    u.extend(len.to_be_bytes());
    u.extend([0, 0]);
    u.extend(data);
    if fix_checksum {
        let mut pseudo = PEER_IP.to_vec();
        pseudo.extend(DUT_IP);
        pseudo.extend([0, 17]);
        pseudo.extend(len.to_be_bytes());
        pseudo.extend(&u);
        let ck = checksum(&pseudo);
        u[6..8].copy_from_slice(&ck.to_be_bytes());
    }
    let mut f = eth(0x0800);
    f.extend(ip_header(17, u.len()));
    f.extend(u);
    f
}

fn arp_request(hlen: u8, plen: u8, cut: Option<usize>) -> Vec<u8> {
    let mut f = eth(0x0806);
    f[..6].copy_from_slice(&[0xff; 6]);
    f.extend([0, 1, 8, 0, hlen, plen, 0, 1]);
    f.extend(PEER_MAC);
    f.extend(PEER_IP);
    f.extend([0; 6]);
    f.extend(DUT_IP);
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

    let mut bad_ip_ck = good.clone();
    bad_ip_ck[24] ^= 0xff;
    let mut ihl4 = good.clone();
    ihl4[14] = 0x44;
    let mut version6 = good.clone();
    version6[14] = 0x65;
    let mut too_long = good.clone();
    too_long[16..18].copy_from_slice(&1000u16.to_be_bytes());
    // Fix the header checksum so only the length is wrong.
    too_long[24..26].copy_from_slice(&[0, 0]);
    let ck = checksum(&too_long[14..34]);
    too_long[24..26].copy_from_slice(&ck.to_be_bytes());
    let mut fragment = good.clone();
    fragment[20] = 0x20; // MF
    fragment[24..26].copy_from_slice(&[0, 0]);
    let ck = checksum(&fragment[14..34]);
    fragment[24..26].copy_from_slice(&ck.to_be_bytes());
    let mut bad_icmp_ck = good.clone();
    bad_icmp_ck[40] ^= 0x01;
    let mut bad_udp_ck = udp_frame(7, b"hello", true);
    bad_udp_ck[44] ^= 0x01;
    let mut udp_len_over = udp_frame(7, b"hello", false);
    udp_len_over[38..40].copy_from_slice(&200u16.to_be_bytes());
    let mut unknown_proto = good.clone();
    unknown_proto[23] = 99;
    unknown_proto[24..26].copy_from_slice(&[0, 0]);
    let ck = checksum(&unknown_proto[14..34]);
    unknown_proto[24..26].copy_from_slice(&ck.to_be_bytes());

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
        ("IPv6 ethertype", eth(0x86dd), DropReason::UnknownEthertype),
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
