//! Malformed TCP: every bad segment is dropped (or answered where RFC 9293
//! says so), counted under its `Tcp*` reason exactly once, never a panic,
//! and the stack keeps working. Written with the script language of
//! `tcp_script/`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

#[path = "tcp_script/mod.rs"]
#[macro_use]
mod script;

use emberstack::iface::DropReason;
use emberstack::tcp::{TcpHandle, TcpState};
use emberstack::wire::{IpProtocol, Ipv4Address};
use proptest::prelude::*;
use script::*;

const IRS: u32 = 1000;

/// A stack with an established connection (from `PEER_PORT`) and a second
/// socket listening on `PORT`.
fn bench() -> (Script<Std>, TcpHandle, TcpHandle, u32) {
    let mut s = Script::<Std>::new();
    let conn = s.listen(PORT);
    let spare = s.listen(PORT);
    let iss = s.accept(conn, IRS, 8192);
    assert_eq!(s.state(spare), TcpState::Listen);
    (s, conn, spare, iss)
}

/// Injects `frame`; it must be counted once under `reason` (and reported),
/// and answered with `answer` or nothing.
fn check(s: &mut Script<Std>, name: &str, frame: &[u8], reason: DropReason, answer: Option<Seg>) {
    let before = *s.stack.counters();
    s.drops();
    s.send_frame(frame);
    let after = *s.stack.counters();
    assert_eq!(
        after.dropped(reason),
        before.dropped(reason) + 1,
        "{name}: counted as {reason:?}; drops now {:?}",
        after.drops
    );
    assert_eq!(
        after.dropped_total(),
        before.dropped_total() + 1,
        "{name}: counted once"
    );
    assert_eq!(s.drops(), [reason], "{name}: reported");
    if let Some(p) = answer {
        s.expect(p);
    }
    let rest = s.drain_heard();
    assert!(rest.is_empty(), "{name}: unexpected answer {rest:?}");
}

/// The connection still carries data both ways and the listener accepts.
fn still_working(s: &mut Script<Std>, conn: TcpHandle, spare: TcpHandle, iss: u32) {
    assert_eq!(s.state(conn), TcpState::Established);
    s.send(seg!(
        PSH | ACK,
        seq = IRS.plus(1),
        ack = iss.plus(1),
        data = b"ok?"
    ));
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(4), win = 1457));
    assert_eq!(s.received(conn), b"ok?");
    s.sock(conn).source = Source::Bytes(b"ok".to_vec());
    s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1),
        ack = IRS.plus(4),
        win = 1457,
        data = b"ok"
    ));
    s.peer_port = PEER_PORT + 9;
    s.accept(spare, 7777, 8192);
    s.peer_port = PEER_PORT;
}

#[test]
fn malformed_segments_are_dropped_and_counted() {
    let (mut s, conn, spare, iss) = bench();
    let syn = || seg!(SYN, seq = 5000, sport = 50_000, mss = 1460);
    let data = || {
        seg!(
            PSH | ACK,
            seq = IRS.plus(1),
            ack = iss.plus(1),
            data = b"bad"
        )
    };
    let cases: Vec<(&str, Seg, DropReason)> = vec![
        (
            "SYN with bad checksum",
            syn().bad_checksum(true),
            DropReason::TcpChecksum,
        ),
        (
            "data with bad checksum",
            data().bad_checksum(true),
            DropReason::TcpChecksum,
        ),
        ("data offset 4", syn().doff(4), DropReason::TcpMalformed),
        ("data offset 0", data().doff(0), DropReason::TcpMalformed),
        (
            "data offset 15 past the segment",
            syn().doff(15),
            DropReason::TcpMalformed,
        ),
        (
            "data offset 6 on a bare 20-byte header",
            seg!(ACK, seq = IRS.plus(1), ack = iss.plus(1)).doff(6),
            DropReason::TcpMalformed,
        ),
        (
            "data offset 8 past a 3-byte payload",
            data().doff(8),
            DropReason::TcpMalformed,
        ),
        (
            "option length 0",
            syn().options(&[8, 0, 0, 0]),
            DropReason::TcpMalformed,
        ),
        (
            "option length 1",
            syn().options(&[8, 1, 0, 0]),
            DropReason::TcpMalformed,
        ),
        (
            "option overrunning the header",
            syn().options(&[1, 1, 8, 10]),
            DropReason::TcpMalformed,
        ),
        (
            "option kind without length byte",
            syn().options(&[1, 1, 1, 2]),
            DropReason::TcpMalformed,
        ),
        (
            "MSS option of length 3",
            syn().options(&[2, 3, 5, 0]),
            DropReason::TcpMalformed,
        ),
        (
            "malformed option on an established connection",
            data().options(&[8, 0, 0, 0]),
            DropReason::TcpMalformed,
        ),
        (
            "SYN+FIN",
            seg!(SYN | FIN, seq = 5000, sport = 50_000),
            DropReason::TcpMalformed,
        ),
        (
            "SYN+RST",
            seg!(SYN | RST, seq = 5000, sport = 50_000),
            DropReason::TcpMalformed,
        ),
        (
            "FIN+RST on the connection",
            seg!(FIN | RST | ACK, seq = IRS.plus(1), ack = iss.plus(1)),
            DropReason::TcpMalformed,
        ),
        (
            "SYN+FIN+RST+PSH+URG",
            seg!(SYN | FIN | RST | PSH | URG, seq = 5000, sport = 50_000),
            DropReason::TcpMalformed,
        ),
        (
            "no flags to a listener",
            seg!(NONE, seq = 5000, sport = 50_000),
            DropReason::TcpMalformed,
        ),
        (
            "no flags on the connection",
            seg!(NONE, seq = IRS.plus(1), data = b"x"),
            DropReason::TcpMalformed,
        ),
        (
            "FIN without ACK on the connection",
            seg!(FIN, seq = IRS.plus(1)),
            DropReason::TcpMalformed,
        ),
        (
            "RST to a listener",
            seg!(RST, seq = 5000, sport = 50_000),
            DropReason::TcpMalformed,
        ),
        (
            "source port 0",
            seg!(SYN, seq = 5000, sport = 0),
            DropReason::TcpMalformed,
        ),
        (
            "destination port 0",
            seg!(SYN, seq = 5000, sport = 50_000, dport = 0),
            DropReason::TcpMalformed,
        ),
    ];
    for (name, seg, reason) in cases {
        let seg = Seg {
            sport: seg.sport.or(Some(PEER_PORT)),
            dport: seg.dport.or(Some(PORT)),
            ..seg
        };
        check(&mut s, name, &build_frame(&seg), reason, None);
    }
    assert!(s.received(conn).is_empty(), "nothing bad was delivered");

    // A TCP header cut short by the IP length.
    let mut short = tcp_header(&syn());
    short.truncate(12);
    check(
        &mut s,
        "12-byte TCP header",
        &peer_to(DUT_IP).ip(IpProtocol::Tcp, &short),
        DropReason::TcpMalformed,
        None,
    );
    // TCP to the subnet broadcast (checksum right for that address).
    let bcast = Ipv4Address([10, 0, 0, 255]);
    check(
        &mut s,
        "SYN to the broadcast address",
        &peer_to(bcast).tcp_segment(tcp_header(&syn())),
        DropReason::TcpMalformed,
        None,
    );
    // Segments the RFC answers.
    check(
        &mut s,
        "no flags to a closed port: RST",
        &build_frame(&seg!(
            NONE,
            seq = 5000,
            sport = 50_000,
            dport = 81,
            data = b"abc"
        )),
        DropReason::TcpNoSocket,
        Some(seg!(
            RST | ACK,
            seq = 0,
            ack = 5003,
            win = 0,
            sport = 81,
            dport = 50_000
        )),
    );
    check(
        &mut s,
        "ACK above SND.MAX: ACK",
        &build_frame(&seg!(
            ACK,
            seq = IRS.plus(1),
            ack = iss.plus(1000),
            sport = PEER_PORT,
            dport = PORT
        )),
        DropReason::TcpOutOfWindow,
        Some(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(1))),
    );
    still_working(&mut s, conn, spare, iss);
}

#[test]
fn unused_header_bits_are_ignored() {
    let (mut s, conn, _, iss) = bench();
    // URG with an urgent pointer, ECE, CWR and the reserved bits: data is
    // still data.
    let mut h = tcp_header(&seg!(
        PSH | ACK | URG,
        seq = IRS.plus(1),
        ack = iss.plus(1),
        data = b"urgent?"
    ));
    h[12] |= 0x0f; // reserved bits
    h[13] |= 0xc0; // ECE, CWR
    h[18..20].copy_from_slice(&3u16.to_be_bytes());
    let f = peer_to(DUT_IP).tcp_segment(h);
    s.send_frame(&f);
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(8), win = 1453));
    assert_eq!(s.received(conn), b"urgent?");
    assert_eq!(s.stack.counters().dropped_total(), 0);
}

/// A random TCP header (valid IPv4 around it), biased towards the ports
/// and sequence numbers the stack is using.
fn arb_seg(iss: u32) -> impl Strategy<Value = Seg> {
    (
        prop_oneof![3 => Just(PEER_PORT), 1 => Just(PEER_PORT + 1), 1 => any::<u16>()],
        prop_oneof![4 => Just(PORT), 1 => Just(9u16), 1 => any::<u16>()],
        prop_oneof![
            Just(IRS.wrapping_add(1)),
            (0u32..3000).prop_map(|d| IRS.wrapping_add(d)),
            any::<u32>()
        ],
        prop_oneof![
            (0u32..3000).prop_map(move |d| iss.wrapping_add(d)),
            any::<u32>()
        ],
        prop_oneof![
            3 => prop::sample::select(vec![
                flag::ACK,
                flag::PSH | flag::ACK,
                flag::SYN,
                flag::SYN | flag::ACK,
                flag::FIN | flag::ACK,
                flag::RST,
                flag::RST | flag::ACK,
            ]),
            1 => any::<u8>(),
        ],
        prop_oneof![any::<u16>(), Just(0u16), 1u16..2000],
        prop::option::weighted(0.15, 0u8..16),
        prop::option::weighted(0.15, prop::collection::vec(any::<u8>(), 0..40)),
        prop::collection::vec(any::<u8>(), 0..80),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(sport, dport, seq, ack, flags, win, doff, options, data, bad)| Seg {
                flags,
                seq: Some(seq),
                ack: Some(ack),
                win: Some(win),
                mss: None,
                data: Some(data),
                sport: Some(sport),
                dport: Some(dport),
                options,
                doff,
                bad_checksum: bad,
                len: None,
                any: 0,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Random headers never panic the stack, each frame is counted once,
    /// whatever the stack sends is well formed (the script checks every
    /// frame), and it still answers afterwards, also after its timers ran.
    #[test]
    fn random_tcp_headers_are_survivable(
        segs in prop::collection::vec(arb_seg(0), 1..25),
        gaps in prop::collection::vec(0u64..3000, 25),
    ) {
        let (mut s, _, _, iss) = bench();
        // Re-aim the ACK numbers near our real ISS.
        let frames_before = s.stack.counters().frames_in;
        for (k, seg) in segs.iter().enumerate() {
            let ack = seg.ack.map(|a| if a < 3000 { iss.wrapping_add(a) } else { a });
            s.send(Seg { ack, ..seg.clone() });
            s.advance(gaps[k]);
            s.drain_heard();
        }
        prop_assert_eq!(
            s.stack.counters().frames_in,
            frames_before + segs.len() as u32
        );
        s.advance(600_000);
        s.drain_heard();
        s.send(seg!(SYN, seq = 42, sport = 50_123, dport = 9));
        s.expect(seg!(RST | ACK, seq = 0, ack = 43, win = 0, sport = 9, dport = 50_123));
    }
}
