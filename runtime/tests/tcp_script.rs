//! TCP state-machine tests written as packet traces against a scripted peer
//! on the simulated wire, with a virtual clock (the language is in
//! `tcp_script/mod.rs`). The peer's ISN is `IRS` unless a test says
//! otherwise; ours is captured from the SYN or SYN-ACK.
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
use emberstack::tcp::{Retransmission, TcpConfig, TcpEvent, TcpHandle, TcpState, WhenFull};
use emberstack::udp::Endpoint;
use emberstack::Config;
use script::*;

/// The peer's initial sequence number in most scripts.
const IRS: u32 = 1000;

script_config!(
    Win4,
    3,
    TcpConfig {
        window: 4,
        ..TcpConfig::DEFAULT
    }
);
script_config!(
    Resetting,
    3,
    TcpConfig {
        when_full: WhenFull::Reset,
        ..TcpConfig::DEFAULT
    }
);
script_config!(
    Split,
    3,
    TcpConfig {
        split: true,
        ..TcpConfig::DEFAULT
    }
);
script_config!(
    Buffered,
    3,
    TcpConfig {
        window: 2,
        retransmission: Retransmission::Buffer,
        ..TcpConfig::DEFAULT
    }
);
script_config!(
    KeepAlive,
    3,
    TcpConfig {
        keepalive_ms: 10_000,
        idle_timeout_ms: 45_000,
        ..TcpConfig::DEFAULT
    }
);
script_config!(
    ShortRto,
    3,
    TcpConfig {
        rto_max_ms: 4_000,
        retries: 4,
        ..TcpConfig::DEFAULT
    }
);

fn peer() -> Endpoint {
    Endpoint::new(PEER_IP, PEER_PORT)
}

/// Listen on `PORT` and complete a passive open from the peer (ISN `IRS`,
/// window 8192). Returns the socket and our ISN.
fn open<C: Config, N: DutNic>(s: &mut Script<C, N>) -> (TcpHandle, u32) {
    let h = s.listen(PORT);
    let iss = s.accept(h, IRS, 8192);
    (h, iss)
}

// ---------------------------------------------------------------- opening

/// The pattern language itself: every field is compared unless the
/// pattern says `any`, so a script cannot pass by leaving a field out.
#[test]
fn patterns_are_strict() {
    let sent = Captured {
        at: 0,
        frame: Vec::new(),
        sport: PORT,
        dport: PEER_PORT,
        seq: 5,
        ack: Some(IRS.plus(1)),
        flags: flag::PSH | flag::ACK,
        win: 1460,
        mss: None,
        data: b"hi".to_vec(),
    };
    let d = Defaults {
        sport: PORT,
        dport: PEER_PORT,
        win: 1460,
    };
    let full = seg!(PSH | ACK, seq = 5, ack = IRS.plus(1), data = b"hi");
    assert_eq!(matches(&sent, &full, d), Ok(()));
    for (pattern, why) in [
        (
            seg!(PSH | ACK, ack = IRS.plus(1), data = b"hi"),
            "names no seq",
        ),
        (seg!(PSH | ACK, seq = 5, data = b"hi"), "names no ack"),
        (seg!(ACK, seq = 5, ack = IRS.plus(1), data = b"hi"), "flags"),
        (seg!(PSH | ACK, seq = 5, ack = IRS.plus(1)), "len 2 != 0"),
        (
            seg!(
                PSH | ACK,
                seq = 5,
                ack = IRS.plus(1),
                data = b"hi",
                mss = 1460
            ),
            "mss none != 1460",
        ),
        (
            seg!(PSH | ACK, seq = 5, ack = IRS.plus(1), data = b"hi", win = 0),
            "win 1460 != 0",
        ),
        (
            seg!(
                PSH | ACK,
                seq = 5,
                ack = IRS.plus(1),
                data = b"hi",
                dport = 7
            ),
            "dport 40000 != 7",
        ),
    ] {
        let err = matches(&sent, &pattern, d).unwrap_err();
        assert!(err.contains(why), "{pattern:?}: {err}");
    }
    // The defaults are compared too: another window or port is a mismatch.
    let other = Defaults { win: 1000, ..d };
    assert!(matches(&sent, &full, other)
        .unwrap_err()
        .contains("win 1460 != 1000"));
    // `any` leaves exactly that field open.
    let open = seg!(
        PSH | ACK,
        seq = any,
        ack = any,
        win = any,
        data = any,
        sport = any
    );
    assert_eq!(matches(&sent, &open, other), Ok(()));
}

#[test]
fn passive_open() {
    let mut s = Script::<Std>::new();
    let h = s.listen(PORT);
    assert_eq!(s.state(h), TcpState::Listen);
    s.send(seg!(SYN, seq = IRS, win = 8192, mss = 1460));
    let sa = s.expect(seg!(
        SYN | ACK,
        seq = any,
        ack = IRS.plus(1),
        win = 1460,
        mss = 1460,
        sport = PORT,
        dport = PEER_PORT
    ));
    s.expect_nothing();
    assert_eq!(s.state(h), TcpState::SynReceived);
    assert!(s.events(h).is_empty(), "no event before the handshake ends");
    s.send(seg!(ACK, seq = IRS.plus(1), ack = sa.seq.plus(1)));
    assert_eq!(s.state(h), TcpState::Established);
    assert_eq!(s.events(h), [TcpEvent::Connected { remote: peer() }]);
    assert_eq!(s.stack.tcp_remote(h), Some(peer()));
    // Nothing owed: no ACK of the ACK, no SYN-ACK retransmission.
    s.expect_nothing();
    s.advance(10_000);
    s.expect_nothing();
}

#[test]
fn syn_ack_is_retransmitted_until_the_ack_arrives() {
    let mut s = Script::<Std>::new();
    let h = s.listen(PORT);
    s.send(seg!(SYN, seq = IRS, mss = 1460));
    let sa = s.expect(seg!(SYN | ACK, seq = any, ack = IRS.plus(1), mss = 1460));
    let again = s.wait(
        seg!(SYN | ACK, seq = sa.seq, ack = IRS.plus(1), mss = 1460),
        2_000,
    );
    assert_eq!(again.at - sa.at, 1_000, "initial RTO 1 s");
    assert_eq!(again.frame, sa.frame, "byte-identical");
    s.send(seg!(ACK, seq = IRS.plus(1), ack = sa.seq.plus(1)));
    assert_eq!(s.state(h), TcpState::Established);
    s.advance(5_000);
    s.expect_nothing();
}

#[test]
fn active_open_resolves_arp_then_handshakes() {
    let mut s = Script::<Std>::new();
    let h = s.connect(7);
    assert_eq!(s.state(h), TcpState::SynSent);
    s.expect_arp_request(PEER_IP);
    s.advance(100);
    s.expect_nothing(); // at most one ARP request a second
    s.send_arp_reply();
    let syn = s.expect(seg!(
        SYN,
        seq = any,
        win = 1460,
        mss = 1460,
        sport = any,
        dport = 7
    ));
    assert!(syn.sport >= 49152, "ephemeral port {}", syn.sport);
    s.port = syn.sport;
    s.peer_port = 7;
    s.send(seg!(
        SYN | ACK,
        seq = 5000,
        ack = syn.seq.plus(1),
        mss = 1200
    ));
    s.expect(seg!(ACK, seq = syn.seq.plus(1), ack = 5001, win = 1460));
    assert_eq!(s.state(h), TcpState::Established);
    assert_eq!(
        s.events(h),
        [TcpEvent::Connected {
            remote: Endpoint::new(PEER_IP, 7)
        }]
    );
    // The peer's MSS bounds our segments.
    s.sock(h).source = Source::Pattern(2000);
    s.expect(seg!(
        PSH | ACK,
        seq = syn.seq.plus(1),
        ack = 5001,
        data = &pattern(0, 1200)
    ));
    s.expect_nothing();
}

#[test]
fn active_open_without_answer_backs_off_and_times_out_silently() {
    let mut s = Script::<ShortRto>::new();
    let h = s.connect(7);
    s.expect_arp_request(PEER_IP);
    s.send_arp_reply();
    let syn = s.expect(seg!(SYN, seq = any, mss = 1460, sport = any, dport = 7));
    let mut last = syn.at;
    // A resent SYN is the same SYN; only its timestamp (and so the TCP
    // checksum) is new (RFC 7323: TSval is the clock when sent).
    let masked = |f: &[u8]| {
        let mut f = f.to_vec();
        f[50..52].fill(0); // TCP checksum
        f[62..66].fill(0); // TSval (after MSS and NOP NOP kind len)
        f
    };
    for gap in [1_000, 2_000, 4_000, 4_000] {
        let r = s.wait(
            seg!(SYN, seq = syn.seq, mss = 1460, sport = any, dport = 7),
            10_000,
        );
        assert_eq!(r.at - last, gap);
        assert_eq!(masked(&r.frame), masked(&syn.frame));
        last = r.at;
    }
    s.advance(3_999);
    assert_eq!(s.state(h), TcpState::SynSent);
    s.advance(1);
    assert_eq!(s.state(h), TcpState::Closed);
    assert_eq!(s.events(h), [TcpEvent::TimedOut]);
    s.expect_nothing(); // no RST: nothing was ever synchronized
}

#[test]
fn simultaneous_open() {
    let mut s = Script::<Std>::new();
    let h = s.connect(7);
    s.expect_arp_request(PEER_IP);
    s.send_arp_reply();
    let syn = s.expect(seg!(SYN, seq = any, mss = 1460, sport = any, dport = 7));
    s.port = syn.sport;
    s.peer_port = 7;
    // Their SYN crosses ours.
    s.send(seg!(SYN, seq = 7000, mss = 1460));
    assert_eq!(s.state(h), TcpState::SynReceived);
    let sa = s.expect(seg!(SYN | ACK, seq = syn.seq, ack = 7001, mss = 1460));
    assert_eq!(sa.seq, syn.seq, "same ISS");
    // Their SYN-ACK repeats their SYN's sequence number: below RCV.NXT, so
    // RFC 9293 answers it with an ACK...
    s.send(seg!(SYN | ACK, seq = 7000, ack = syn.seq.plus(1)));
    s.expect(seg!(ACK, seq = syn.seq.plus(1), ack = 7001));
    // ...and their ACK of our SYN-ACK completes the open.
    s.send(seg!(ACK, seq = 7001, ack = syn.seq.plus(1)));
    assert_eq!(s.state(h), TcpState::Established);
    assert_eq!(
        s.events(h),
        [TcpEvent::Connected {
            remote: Endpoint::new(PEER_IP, 7)
        }]
    );
    s.expect_nothing();
}

// ------------------------------------------------------------------ data

fn data_both_ways<N: DutNic>(mut s: Script<Std, N>) {
    let (h, iss) = open(&mut s);
    s.sock(h).source = Source::Bytes(b"hello, peer".to_vec());
    s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1),
        ack = IRS.plus(1),
        data = b"hello, peer"
    ));
    s.expect_nothing();
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(12)));
    assert_eq!(s.events(h), [TcpEvent::Acked { offset: 11 }]);
    s.expect_nothing();

    s.send(seg!(
        PSH | ACK,
        seq = IRS.plus(1),
        ack = iss.plus(12),
        data = b"hello, stack"
    ));
    // 12 bytes taken: the right edge stays put (receiver silly-window
    // avoidance), so 1448 of the 1460 promised remain.
    s.expect(seg!(
        ACK,
        seq = iss.plus(12),
        ack = IRS.plus(13),
        win = 1448
    ));
    assert_eq!(s.received(h), b"hello, stack");
    s.expect_nothing();
    s.advance(5_000);
    s.expect_nothing();
}

#[test]
fn data_both_ways_byte_exact() {
    data_both_ways(Script::<Std>::new());
}

#[test]
fn data_both_ways_byte_exact_length_first() {
    data_both_ways(Script::<Std>::fifo());
}

fn bulk<N: DutNic>(mut s: Script<Std, N>) {
    const TOTAL: u32 = 5_000;
    let (h, iss) = open(&mut s);
    s.sock(h).source = Source::Pattern(TOTAL);
    let mut off = 0u32;
    while off < TOTAL {
        let want = (TOTAL - off).min(1460) as usize;
        let d = s.expect(seg!(
            PSH | ACK,
            seq = iss.plus(1 + off as usize),
            ack = IRS.plus(1),
            data = &pattern(off, want)
        ));
        s.expect_nothing(); // window: one segment
        off += d.data.len() as u32;
        s.send(seg!(
            ACK,
            seq = IRS.plus(1),
            ack = iss.plus(1 + off as usize)
        ));
        assert_eq!(s.events(h), [TcpEvent::Acked { offset: off }]);
    }
    s.expect_nothing();

    // And 5000 bytes the other way, one window (1460) at a time.
    let mut sent = 0usize;
    let data = pattern(77, TOTAL as usize);
    while sent < data.len() {
        let chunk = &data[sent..(sent + 1460).min(data.len())];
        s.send(seg!(
            PSH | ACK,
            seq = IRS.plus(1 + sent),
            ack = iss.plus(1 + TOTAL as usize),
            data = chunk
        ));
        sent += chunk.len();
        // A full segment reopens the whole window; the 620-byte tail leaves
        // the edge where it was (1460 − 620).
        let win = if chunk.len() == 1460 {
            1460
        } else {
            1460 - chunk.len() as u16
        };
        s.expect(seg!(
            ACK,
            seq = iss.plus(1 + TOTAL as usize),
            ack = IRS.plus(1 + sent),
            win = win
        ));
    }
    assert_eq!(s.received(h), &data[..]);
    s.expect_nothing();
}

#[test]
fn bulk_transfer_both_ways() {
    bulk(Script::<Std>::new());
}

#[test]
fn bulk_transfer_both_ways_length_first() {
    bulk(Script::<Std>::fifo());
}

#[test]
fn receiver_taking_part_acks_only_that() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    s.sock(h).room = 4;
    s.send(seg!(
        PSH | ACK,
        seq = IRS.plus(1),
        ack = iss.plus(1),
        data = b"0123456789"
    ));
    let a = s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(5), win = 0));
    assert!(a.win <= 4, "window {} above the owner's room", a.win);
    assert_eq!(s.received(h), b"0123");
    s.expect_nothing();
    // The peer probes our zero window: answered, not taken.
    if a.win == 0 {
        s.send(seg!(
            PSH | ACK,
            seq = IRS.plus(5),
            ack = iss.plus(1),
            data = b"4"
        ));
        s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(5), win = 0));
        assert_eq!(s.received(h), b"0123");
    }
    // The owner makes room: a window update goes out.
    s.sock(h).room = 1000;
    s.advance(1);
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(5), win = 1000));
    // The peer resends the rest.
    s.send(seg!(
        PSH | ACK,
        seq = IRS.plus(5),
        ack = iss.plus(1),
        data = b"456789"
    ));
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(11), win = 994));
    assert_eq!(s.received(h), b"0123456789");
}

/// An echo's turn: the peer fills our window and the owner has a reply
/// ready. The reply's segment carries the reopened window, so no bare copy
/// of its ACK follows it (that second frame per turn cost an echo a third
/// of its frames).
#[test]
fn window_update_rides_on_the_data_sent_with_it() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    s.sock(h).source = Source::Bytes(b"reply".to_vec());
    let full = pattern(0, 1460);
    s.send(seg!(
        PSH | ACK,
        seq = IRS.plus(1),
        ack = iss.plus(1),
        data = &full
    ));
    s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1),
        ack = IRS.plus(1461),
        win = 1460,
        data = b"reply"
    ));
    s.expect_nothing();
    assert_eq!(s.received(h), &full[..]);
}

#[test]
fn data_on_the_handshake_ack_is_delivered() {
    let mut s = Script::<Std>::new();
    let h = s.listen(PORT);
    s.send(seg!(SYN, seq = IRS, mss = 1460));
    let iss = s
        .expect(seg!(SYN | ACK, seq = any, ack = IRS.plus(1), mss = 1460))
        .seq;
    s.send(seg!(
        PSH | ACK,
        seq = IRS.plus(1),
        ack = iss.plus(1),
        data = b"GET /"
    ));
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(6), win = 1455));
    assert_eq!(s.state(h), TcpState::Established);
    assert_eq!(s.received(h), b"GET /");
}

#[test]
fn data_on_a_syn_is_not_acknowledged() {
    let mut s = Script::<Std>::new();
    let h = s.listen(PORT);
    s.send(seg!(SYN, seq = IRS, mss = 1460, data = b"early"));
    let iss = s
        .expect(seg!(SYN | ACK, seq = any, ack = IRS.plus(1), mss = 1460))
        .seq;
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(1)));
    assert!(s.received(h).is_empty(), "the peer sends it again");
}

#[test]
fn data_and_fin_in_one_segment() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    s.send(seg!(
        FIN | PSH | ACK,
        seq = IRS.plus(1),
        ack = iss.plus(1),
        data = b"end"
    ));
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(5), win = 1457));
    assert_eq!(s.received(h), b"end");
    assert_eq!(s.state(h), TcpState::CloseWait);
    assert_eq!(s.events(h), [TcpEvent::PeerClosed]);
}

#[test]
fn fin_behind_data_not_taken_is_not_acknowledged() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    s.sock(h).room = 2;
    s.send(seg!(
        FIN | PSH | ACK,
        seq = IRS.plus(1),
        ack = iss.plus(1),
        data = b"end"
    ));
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(3), win = 0));
    assert_eq!(s.state(h), TcpState::Established);
    // Room for a sliver only: the window stays shut (silly-window
    // avoidance, RFC 9293 §3.8.6.2.2)...
    s.sock(h).room = 100;
    s.advance(1);
    s.expect_nothing();
    // ...and opens once it can move by half the buffer.
    s.sock(h).room = 1000;
    s.advance(1);
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(3), win = 1000));
    s.send(seg!(
        FIN | PSH | ACK,
        seq = IRS.plus(3),
        ack = iss.plus(1),
        data = b"d"
    ));
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(5), win = 999));
    assert_eq!(s.received(h), b"end");
    assert_eq!(s.state(h), TcpState::CloseWait);
}

#[test]
fn out_of_order_fin_draws_a_duplicate_ack() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    // The data before it was lost.
    s.send(seg!(FIN | ACK, seq = IRS.plus(11), ack = iss.plus(1)));
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(1)));
    assert_eq!(s.state(h), TcpState::Established);
    s.send(seg!(
        PSH | ACK,
        seq = IRS.plus(1),
        ack = iss.plus(1),
        data = b"0123456789"
    ));
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(11), win = 1450));
    s.send(seg!(FIN | ACK, seq = IRS.plus(11), ack = iss.plus(1)));
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(12), win = 1450));
    assert_eq!(s.state(h), TcpState::CloseWait);
}

#[test]
fn duplicate_segment_is_delivered_once() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    let data = seg!(
        PSH | ACK,
        seq = IRS.plus(1),
        ack = iss.plus(1),
        data = b"once"
    );
    s.send(data.clone());
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(5), win = 1456));
    s.send(data);
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(5), win = 1456));
    assert_eq!(s.received(h), b"once");
    assert_eq!(s.dropped(DropReason::TcpOutOfWindow), 1);
    // Half old, half new: only the new half is delivered.
    s.send(seg!(
        PSH | ACK,
        seq = IRS.plus(3),
        ack = iss.plus(1),
        data = b"ce more"
    ));
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(10), win = 1451));
    assert_eq!(s.received(h), b"once more");
}

#[test]
fn reordered_segments_are_delivered_in_order() {
    let mut s = Script::<Win4>::new();
    let (h, iss) = open(&mut s);
    let a = pattern(0, 100);
    let b = pattern(100, 100);
    // The second segment first: nowhere to keep it, a duplicate ACK.
    s.send(seg!(
        PSH | ACK,
        seq = IRS.plus(101),
        ack = iss.plus(1),
        data = &b
    ));
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(1)));
    assert!(s.received(h).is_empty());
    s.send(seg!(
        PSH | ACK,
        seq = IRS.plus(1),
        ack = iss.plus(1),
        data = &a
    ));
    s.expect(seg!(
        ACK,
        seq = iss.plus(1),
        ack = IRS.plus(101),
        win = 5740
    ));
    // The peer's retransmission of the second fills it in.
    s.send(seg!(
        PSH | ACK,
        seq = IRS.plus(101),
        ack = iss.plus(1),
        data = &b
    ));
    s.expect(seg!(
        ACK,
        seq = iss.plus(1),
        ack = IRS.plus(201),
        win = 5640
    ));
    assert_eq!(s.received(h), &pattern(0, 200)[..]);
    s.expect_nothing();
}

#[test]
fn out_of_window_data_is_acked_not_delivered() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    // Beyond the window (1460).
    s.send(seg!(
        PSH | ACK,
        seq = IRS.plus(1 + 2000),
        ack = iss.plus(1),
        data = b"far"
    ));
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(1)));
    // Entirely old.
    s.send(seg!(
        PSH | ACK,
        seq = IRS.minus(100),
        ack = iss.plus(1),
        data = b"old"
    ));
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(1)));
    assert!(s.received(h).is_empty());
    assert_eq!(s.dropped(DropReason::TcpOutOfWindow), 2);
    assert_eq!(s.state(h), TcpState::Established);
    s.expect_nothing();
}

#[test]
fn ack_of_unsent_data_is_answered_and_dropped() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    s.send(seg!(
        PSH | ACK,
        seq = IRS.plus(1),
        ack = iss.plus(500),
        data = b"x"
    ));
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(1)));
    assert!(s.received(h).is_empty());
    assert_eq!(s.dropped(DropReason::TcpOutOfWindow), 1);
    assert_eq!(s.state(h), TcpState::Established);
}

// --------------------------------------------------------------- closing

#[test]
fn peer_closes_first_then_we_do_and_the_socket_relistens() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    s.send(seg!(FIN | ACK, seq = IRS.plus(1), ack = iss.plus(1)));
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(2)));
    assert_eq!(s.state(h), TcpState::CloseWait);
    assert_eq!(s.events(h), [TcpEvent::PeerClosed]);
    s.expect_nothing();
    // We may still send in CLOSE-WAIT.
    s.sock(h).source = Source::Bytes(b"bye".to_vec());
    s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1),
        ack = IRS.plus(2),
        data = b"bye"
    ));
    s.send(seg!(ACK, seq = IRS.plus(2), ack = iss.plus(4)));
    s.close(h);
    s.expect(seg!(FIN | ACK, seq = iss.plus(4), ack = IRS.plus(2)));
    assert_eq!(s.state(h), TcpState::LastAck);
    s.send(seg!(ACK, seq = IRS.plus(2), ack = iss.plus(5)));
    assert_eq!(s.state(h), TcpState::Listen);
    assert_eq!(
        s.events(h),
        [TcpEvent::Acked { offset: 3 }, TcpEvent::Closed]
    );
    s.expect_nothing();
    // The same socket takes the next connection.
    s.sock(h).source = Source::Nothing;
    s.peer_port = PEER_PORT + 1;
    s.send(seg!(SYN, seq = 9000, mss = 1460));
    let sa = s.expect(seg!(SYN | ACK, seq = any, ack = 9001, mss = 1460));
    s.send(seg!(ACK, seq = 9001, ack = sa.seq.plus(1)));
    assert_eq!(s.state(h), TcpState::Established);
}

#[test]
fn last_ack_fin_is_retransmitted() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    s.send(seg!(FIN | ACK, seq = IRS.plus(1), ack = iss.plus(1)));
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(2)));
    s.close(h);
    let fin = s.expect(seg!(FIN | ACK, seq = iss.plus(1), ack = IRS.plus(2)));
    let again = s.wait(seg!(FIN | ACK, seq = iss.plus(1), ack = IRS.plus(2)), 1_500);
    assert_eq!(again.at - fin.at, 1_000);
    assert_eq!(again.frame, fin.frame);
    s.send(seg!(ACK, seq = IRS.plus(2), ack = iss.plus(2)));
    assert_eq!(s.state(h), TcpState::Listen);
}

#[test]
fn we_close_first_and_time_wait_lasts_the_configured_time() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    s.close(h);
    s.expect(seg!(FIN | ACK, seq = iss.plus(1), ack = IRS.plus(1)));
    assert_eq!(s.state(h), TcpState::FinWait1);
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(2)));
    assert_eq!(s.state(h), TcpState::FinWait2);
    s.expect_nothing();
    // The peer may still send in FIN-WAIT-2.
    s.send(seg!(
        PSH | ACK,
        seq = IRS.plus(1),
        ack = iss.plus(2),
        data = b"last"
    ));
    s.expect(seg!(ACK, seq = iss.plus(2), ack = IRS.plus(5), win = 1456));
    assert_eq!(s.received(h), b"last");
    s.send(seg!(FIN | ACK, seq = IRS.plus(5), ack = iss.plus(2)));
    s.expect(seg!(ACK, seq = iss.plus(2), ack = IRS.plus(6), win = 1456));
    assert_eq!(s.state(h), TcpState::TimeWait);
    assert_eq!(s.events(h), [TcpEvent::PeerClosed]);
    // A retransmitted FIN is ACKed again and restarts 2MSL.
    s.advance(1_000);
    s.send(seg!(FIN | ACK, seq = IRS.plus(5), ack = iss.plus(2)));
    s.expect(seg!(ACK, seq = iss.plus(2), ack = IRS.plus(6), win = 1456));
    let tw = Std::TCP.time_wait_ms as u64;
    s.advance(tw - 1);
    assert_eq!(s.state(h), TcpState::TimeWait);
    s.advance(1);
    assert_eq!(s.state(h), TcpState::Listen);
    assert_eq!(s.events(h), [TcpEvent::Closed]);
    s.expect_nothing();
}

#[test]
fn simultaneous_close_goes_through_closing() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    s.close(h);
    s.expect(seg!(FIN | ACK, seq = iss.plus(1), ack = IRS.plus(1)));
    // Their FIN crossed ours: it does not acknowledge our FIN.
    s.send(seg!(FIN | ACK, seq = IRS.plus(1), ack = iss.plus(1)));
    s.expect(seg!(ACK, seq = iss.plus(2), ack = IRS.plus(2)));
    assert_eq!(s.state(h), TcpState::Closing);
    assert_eq!(s.events(h), [TcpEvent::PeerClosed]);
    s.send(seg!(ACK, seq = IRS.plus(2), ack = iss.plus(2)));
    assert_eq!(s.state(h), TcpState::TimeWait);
    s.advance(Std::TCP.time_wait_ms as u64);
    assert_eq!(s.state(h), TcpState::Listen);
    assert_eq!(s.events(h), [TcpEvent::Closed]);
    s.expect_nothing();
}

#[test]
fn fin_acked_together_with_their_fin_goes_straight_to_time_wait() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    s.close(h);
    s.expect(seg!(FIN | ACK, seq = iss.plus(1), ack = IRS.plus(1)));
    s.send(seg!(FIN | ACK, seq = IRS.plus(1), ack = iss.plus(2)));
    s.expect(seg!(ACK, seq = iss.plus(2), ack = IRS.plus(2)));
    assert_eq!(s.state(h), TcpState::TimeWait);
}

#[test]
fn close_waits_for_the_owner_to_finish_producing() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    s.sock(h).source = Source::Pattern(2000);
    s.close(h);
    s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1),
        ack = IRS.plus(1),
        len = 1460
    ));
    s.expect_nothing();
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(1461)));
    // The FIN rides on the last data (it needs no window of ours), so
    // the end of a stream never waits for a delayed ACK or costs a frame.
    s.expect(seg!(
        FIN | ACK,
        seq = iss.plus(1461),
        ack = IRS.plus(1),
        data = &pattern(1460, 540)
    ));
    s.expect_nothing();
    assert_eq!(s.state(h), TcpState::FinWait1);
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(2001)));
    assert_eq!(s.state(h), TcpState::FinWait1);
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(2002)));
    assert_eq!(s.state(h), TcpState::FinWait2);
    assert_eq!(
        s.events(h),
        [
            TcpEvent::Acked { offset: 1460 },
            TcpEvent::Acked { offset: 2000 }
        ]
    );
}

#[test]
fn a_fin_that_rode_on_data_is_resent_with_it() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    s.sock(h).source = Source::Pattern(300);
    s.close(h);
    let first = s.expect(seg!(
        FIN | ACK,
        seq = iss.plus(1),
        ack = IRS.plus(1),
        data = &pattern(0, 300)
    ));
    assert_eq!(s.state(h), TcpState::FinWait1);
    // Lost: the timeout resends data and FIN as one segment, as first sent.
    let again = s.wait(
        seg!(
            FIN | ACK,
            seq = iss.plus(1),
            ack = IRS.plus(1),
            data = &pattern(0, 300)
        ),
        1_500,
    );
    assert_eq!(again.frame, first.frame, "retransmission is byte-identical");
    assert_eq!(s.events(h), [TcpEvent::Retransmit { offset: 0 }]);
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(302)));
    assert_eq!(s.state(h), TcpState::FinWait2);
    assert_eq!(s.events(h), [TcpEvent::Acked { offset: 300 }]);
}

// ------------------------------------------------------ RST, SYN, RFC 5961

#[test]
fn rst_exactly_at_rcv_nxt_resets() {
    let mut s = Script::<Std>::new();
    let (h, _) = open(&mut s);
    s.send(seg!(RST, seq = IRS.plus(1)));
    assert_eq!(s.events(h), [TcpEvent::Reset]);
    assert_eq!(
        s.state(h),
        TcpState::Listen,
        "a server socket listens again"
    );
    s.expect_nothing();
}

#[test]
fn rst_on_a_client_socket_frees_it() {
    let mut s = Script::<Std>::new();
    let h = s.connect(7);
    s.expect_arp_request(PEER_IP);
    s.send_arp_reply();
    let syn = s.expect(seg!(SYN, seq = any, mss = 1460, sport = any, dport = 7));
    s.port = syn.sport;
    s.peer_port = 7;
    s.send(seg!(SYN | ACK, seq = 5000, ack = syn.seq.plus(1)));
    s.expect(seg!(ACK, seq = syn.seq.plus(1), ack = 5001));
    s.events(h);
    s.send(seg!(RST | ACK, seq = 5001, ack = syn.seq.plus(1)));
    assert_eq!(s.events(h), [TcpEvent::Reset]);
    assert_eq!(s.state(h), TcpState::Closed);
    s.expect_nothing();
}

#[test]
fn rst_refusing_our_syn_resets_only_with_an_acceptable_ack() {
    let mut s = Script::<Std>::new();
    let h = s.connect(7);
    s.expect_arp_request(PEER_IP);
    s.send_arp_reply();
    let syn = s.expect(seg!(SYN, seq = any, mss = 1460, sport = any, dport = 7));
    s.port = syn.sport;
    s.peer_port = 7;
    // RST without ACK in SYN-SENT: ignored.
    s.send(seg!(RST, seq = 0));
    assert_eq!(s.state(h), TcpState::SynSent);
    // An ACK of something else: RST for it, the connection attempt goes on.
    s.send(seg!(RST | ACK, seq = 0, ack = syn.seq.plus(7)));
    assert_eq!(s.state(h), TcpState::SynSent);
    s.send(seg!(ACK, seq = 0, ack = syn.seq.plus(7)));
    s.expect(seg!(RST, seq = syn.seq.plus(7), win = 0));
    assert_eq!(s.state(h), TcpState::SynSent);
    // Connection refused.
    s.send(seg!(RST | ACK, seq = 0, ack = syn.seq.plus(1)));
    assert_eq!(s.state(h), TcpState::Closed);
    assert_eq!(s.events(h), [TcpEvent::Reset]);
    s.expect_nothing();
}

#[test]
fn rst_in_window_but_not_exact_draws_a_challenge_ack() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    s.send(seg!(RST, seq = IRS.plus(1 + 100)));
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(1)));
    assert_eq!(s.state(h), TcpState::Established);
    assert!(s.events(h).is_empty());
    assert_eq!(s.dropped(DropReason::TcpOutOfWindow), 1);
    // The connection carries on.
    s.send(seg!(
        PSH | ACK,
        seq = IRS.plus(1),
        ack = iss.plus(1),
        data = b"still"
    ));
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(6), win = 1455));
    assert_eq!(s.received(h), b"still");
}

#[test]
fn rst_out_of_window_is_ignored() {
    let mut s = Script::<Std>::new();
    let (h, _) = open(&mut s);
    s.send(seg!(RST, seq = IRS.plus(1 + 5000)));
    s.send(seg!(RST, seq = IRS)); // one before RCV.NXT
    s.send(seg!(RST | ACK, seq = IRS.minus(1000), ack = 0));
    s.expect_nothing();
    assert_eq!(s.state(h), TcpState::Established);
    assert!(s.events(h).is_empty());
    assert_eq!(s.dropped(DropReason::TcpOutOfWindow), 3);
}

#[test]
fn syn_on_an_established_connection_draws_a_challenge_ack() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    // In the window.
    s.send(seg!(SYN, seq = IRS.plus(1 + 10), mss = 1460));
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(1)));
    // The old SYN again (below the window).
    s.send(seg!(SYN, seq = IRS, mss = 1460));
    s.expect(seg!(ACK, seq = iss.plus(1), ack = IRS.plus(1)));
    assert_eq!(s.state(h), TcpState::Established);
    assert!(s.events(h).is_empty());
    s.expect_nothing();
}

#[test]
fn rst_to_syn_received_returns_a_server_socket_to_listen() {
    let mut s = Script::<Std>::new();
    let h = s.listen(PORT);
    s.send(seg!(SYN, seq = IRS, mss = 1460));
    s.expect(seg!(SYN | ACK, seq = any, ack = IRS.plus(1), mss = 1460));
    s.send(seg!(RST, seq = IRS.plus(1)));
    assert_eq!(s.state(h), TcpState::Listen);
    assert!(
        s.events(h).is_empty(),
        "the owner never saw this connection"
    );
    s.advance(5_000);
    s.expect_nothing();
}

// ------------------------------------------------------- sequence wrap

#[test]
fn peer_sequence_numbers_wrap() {
    let mut s = Script::<Std>::new();
    let h = s.listen(PORT);
    let irs = u32::MAX - 150;
    let iss = s.accept(h, irs, 8192);
    let data = pattern(3, 600);
    for (k, chunk) in data.chunks(200).enumerate() {
        s.send(seg!(
            PSH | ACK,
            seq = irs.plus(1 + 200 * k),
            ack = iss.plus(1),
            data = chunk
        ));
        s.expect(seg!(
            ACK,
            seq = iss.plus(1),
            ack = irs.plus(1 + 200 * (k + 1)),
            win = 1460 - 200 * (k as u16 + 1)
        ));
    }
    assert_eq!(s.received(h), &data[..]);
    s.send(seg!(FIN | ACK, seq = irs.plus(601), ack = iss.plus(1)));
    s.expect(seg!(ACK, seq = iss.plus(1), ack = irs.plus(602), win = 860));
    assert_eq!(s.state(h), TcpState::CloseWait);
}

/// The first `t >= from` at which `250·t + h` lies in `lo..=hi` (mod 2^32).
fn time_for_isn(h: u32, from: u64, lo: u32, hi: u32) -> u64 {
    let mut t = from;
    loop {
        let isn = (t as u32).wrapping_mul(250).wrapping_add(h);
        if (lo..=hi).contains(&isn) {
            return t;
        }
        // Jump close to the next hit, then step.
        let gap = lo.wrapping_sub(isn) / 250;
        t += u64::from(gap.max(1));
    }
}

#[test]
fn our_sequence_numbers_wrap() {
    let mut s = Script::<Std>::new();
    let h = s.listen(PORT);
    // RFC 6528: ISN = 250·now_ms + H(4-tuple, key). Learn H from a first
    // connection, end it, and reconnect when the ISN is just below 2^32.
    let t1 = s.now;
    let iss1 = s.accept(h, IRS, 8192);
    let hash = iss1.wrapping_sub((t1 as u32).wrapping_mul(250));
    s.send(seg!(RST, seq = IRS.plus(1)));
    assert_eq!(s.state(h), TcpState::Listen);
    let t2 = time_for_isn(hash, s.now + 1, u32::MAX - 2000, u32::MAX - 1000);
    s.advance(t2 - s.now);
    s.events(h);
    let iss = s.accept(h, 50_000, 8192);
    assert_eq!(iss, (t2 as u32).wrapping_mul(250).wrapping_add(hash));
    assert!(iss > u32::MAX - 2001, "ISS {iss} just below 2^32");

    s.sock(h).source = Source::Pattern(4000);
    let mut off = 0usize;
    while off < 4000 {
        let d = s.expect(seg!(
            PSH | ACK,
            seq = iss.plus(1 + off),
            ack = 50_001,
            len = (4000 - off).min(1460)
        ));
        assert_eq!(d.data, pattern(off as u32, d.data.len()));
        off += d.data.len();
        s.send(seg!(ACK, seq = 50_001, ack = iss.plus(1 + off)));
        assert_eq!(s.events(h), [TcpEvent::Acked { offset: off as u32 }]);
    }
    assert!(iss.plus(1 + off) < 10_000, "the stream crossed 2^32");
    s.close(h);
    s.expect(seg!(FIN | ACK, seq = iss.plus(4001), ack = 50_001));
    s.send(seg!(FIN | ACK, seq = 50_001, ack = iss.plus(4002)));
    s.expect(seg!(ACK, seq = iss.plus(4002), ack = 50_002));
    assert_eq!(s.state(h), TcpState::TimeWait);
}

// ------------------------------------------------------------- timers

fn retransmission_is_byte_identical<N: DutNic>(mut s: Script<Std, N>) {
    let (h, iss) = open(&mut s);
    s.sock(h).source = Source::Pattern(1000);
    let first = s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1),
        ack = IRS.plus(1),
        data = &pattern(0, 1000)
    ));
    let again = s.wait(
        seg!(PSH | ACK, seq = iss.plus(1), ack = IRS.plus(1), len = 1000),
        1_500,
    );
    assert_eq!(again.at - first.at, 1_000);
    assert_eq!(again.frame, first.frame, "retransmission is byte-identical");
    assert_eq!(s.events(h), [TcpEvent::Retransmit { offset: 0 }]);
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(1001)));
    assert_eq!(s.events(h), [TcpEvent::Acked { offset: 1000 }]);
    s.advance(10_000);
    s.expect_nothing();
}

/// `s` with its clock moved to `ms` before the stack's millisecond clock
/// wraps (2^32 ms, 49.7 days after boot): timers set now fall due after
/// the wrap.
fn before_the_clock_wraps<C: Config>(mut s: Script<C>, ms: u64) -> Script<C> {
    s.now = (1u64 << 32) - ms;
    s.poll();
    s.expect_nothing();
    s
}

#[test]
fn retransmission_across_the_clock_wrap() {
    // The segment goes out 0.5 s before the wrap, its retransmission and
    // the ACK come after it.
    retransmission_is_byte_identical(before_the_clock_wraps(Script::<Std>::new(), 500));
}

#[test]
fn retransmission_is_byte_identical_rewrite() {
    retransmission_is_byte_identical(Script::<Std>::new());
}

#[test]
fn retransmission_is_byte_identical_length_first() {
    retransmission_is_byte_identical(Script::<Std>::fifo());
}

#[test]
fn partial_ack_then_timeout_resends_the_rest() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    s.sock(h).source = Source::Pattern(1000);
    s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1),
        ack = IRS.plus(1),
        len = 1000
    ));
    s.advance(50);
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(401)));
    assert_eq!(s.events(h), [TcpEvent::Acked { offset: 400 }]);
    // The timer restarted with the new ACK and the RTT sample (50 ms):
    // RTO = 50 + 4·25 = 150, raised to rto_min = 200.
    let acked_at = s.now;
    let r = s.wait(
        seg!(
            PSH | ACK,
            seq = iss.plus(401),
            ack = IRS.plus(1),
            data = &pattern(400, 600)
        ),
        1_500,
    );
    assert_eq!(r.at - acked_at, 200);
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(1001)));
    assert!(s.events(h).ends_with(&[TcpEvent::Acked { offset: 1000 }]));
    s.advance(5_000);
    s.expect_nothing();
}

#[test]
fn rto_backs_off_exponentially_then_gives_up_with_rst() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    s.sock(h).source = Source::Bytes(vec![7; 100]);
    let first = s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1),
        ack = IRS.plus(1),
        len = 100
    ));
    let mut last = first.at;
    // 1 s initial RTO doubling, clamped at rto_max = 60 s; 8 retries.
    let gaps = [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000];
    assert_eq!(gaps.len(), usize::from(Std::TCP.retries));
    for (k, gap) in gaps.into_iter().enumerate() {
        let r = s.wait(
            seg!(PSH | ACK, seq = iss.plus(1), ack = IRS.plus(1), len = 100),
            70_000,
        );
        assert_eq!(r.at - last, gap, "retransmission {}", k + 1);
        assert_eq!(r.frame, first.frame);
        last = r.at;
    }
    let rst = s.wait(
        seg!(RST | ACK, seq = iss.plus(101), ack = IRS.plus(1)),
        70_000,
    );
    assert_eq!(rst.at - last, 60_000);
    let ev = s.events(h);
    assert_eq!(ev.len(), 9);
    assert!(ev[..8]
        .iter()
        .all(|e| *e == TcpEvent::Retransmit { offset: 0 }));
    assert_eq!(ev[8], TcpEvent::TimedOut);
    assert_eq!(s.state(h), TcpState::Listen);
    s.expect_nothing();
}

#[test]
fn rto_is_clamped_by_rto_max() {
    let mut s = Script::<ShortRto>::new();
    let (h, iss) = open(&mut s);
    s.sock(h).source = Source::Bytes(vec![1; 10]);
    let first = s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1),
        ack = IRS.plus(1),
        len = 10
    ));
    let mut last = first.at;
    for gap in [1_000, 2_000, 4_000, 4_000] {
        let r = s.wait(
            seg!(PSH | ACK, seq = iss.plus(1), ack = IRS.plus(1), len = 10),
            10_000,
        );
        assert_eq!(r.at - last, gap);
        last = r.at;
    }
    let rst = s.wait(
        seg!(RST | ACK, seq = iss.plus(11), ack = IRS.plus(1)),
        10_000,
    );
    assert_eq!(rst.at - last, 4_000);
    assert!(s.events(h).ends_with(&[TcpEvent::TimedOut]));
}

#[test]
fn rtt_sample_sets_the_rto() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    s.sock(h).source = Source::Pattern(3000);
    s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1),
        ack = IRS.plus(1),
        len = 1460
    ));
    // Answered after 100 ms: SRTT 100, RTTVAR 50, RTO = 100 + 4·50 = 300.
    s.advance(100);
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(1461)));
    let second = s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1461),
        ack = IRS.plus(1),
        len = 1460
    ));
    let again = s.wait(
        seg!(
            PSH | ACK,
            seq = iss.plus(1461),
            ack = IRS.plus(1),
            len = 1460
        ),
        2_000,
    );
    assert_eq!(again.at - second.at, 300);
}

#[test]
fn keepalive_probes_an_idle_connection_and_idle_timeout_ends_it() {
    let mut s = Script::<KeepAlive>::new();
    let (h, iss) = open(&mut s);
    let start = s.now;
    s.advance(9_999);
    s.expect_nothing();
    // RFC 9293 3.8.4: one below SND.NXT, no data, draws an ACK.
    let k1 = s.wait(seg!(ACK, seq = iss, ack = IRS.plus(1), len = 0), 10);
    assert_eq!(k1.at - start, 10_000);
    assert!(
        s.stack.poll_at(s.instant()).unwrap() > s.instant(),
        "nothing due right after a probe: the device may sleep"
    );
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(1)));
    s.expect_nothing();
    let k2 = s.wait(seg!(ACK, seq = iss, ack = IRS.plus(1), len = 0), 20_000);
    assert_eq!(k2.at - k1.at, 10_000);
    // No more answers: probes every 10 s, then the idle timer (45 s after
    // the last segment received) resets the connection.
    let k3 = s.wait(seg!(ACK, seq = iss, ack = IRS.plus(1), len = 0), 20_000);
    assert_eq!(k3.at - k2.at, 10_000);
    let k4 = s.wait(seg!(ACK, seq = iss, ack = IRS.plus(1), len = 0), 20_000);
    assert_eq!(k4.at - k3.at, 10_000);
    let k5 = s.wait(seg!(ACK, seq = iss, ack = IRS.plus(1), len = 0), 20_000);
    assert_eq!(k5.at - k4.at, 10_000);
    let rst = s.wait(
        seg!(RST | ACK, seq = iss.plus(1), ack = IRS.plus(1)),
        20_000,
    );
    assert_eq!(rst.at - k1.at, 45_000);
    assert_eq!(s.events(h), [TcpEvent::TimedOut]);
    assert_eq!(s.state(h), TcpState::Listen);
}

#[test]
fn zero_window_is_probed_and_transfer_resumes_when_it_opens() {
    let mut s = Script::<Std>::new();
    let h = s.listen(PORT);
    s.send(seg!(SYN, seq = IRS, win = 8192, mss = 1460));
    let iss = s
        .expect(seg!(SYN | ACK, seq = any, ack = IRS.plus(1), mss = 1460))
        .seq;
    s.sock(h).source = Source::Bytes(b"hello world".to_vec());
    // The handshake's ACK closes the window.
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(1), win = 0));
    assert_eq!(s.state(h), TcpState::Established);
    let probe = s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1),
        ack = IRS.plus(1),
        data = b"h"
    ));
    s.expect_nothing();
    // The peer answers every probe without taking it; probes back off
    // like retransmissions and the connection outlives `retries`
    // (RFC 1122 4.2.2.17: it stays open while the probes are answered).
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(1), win = 0));
    let mut last = probe.at;
    let mut gap = 1_000;
    for _ in 0..12 {
        let p = s.wait(
            seg!(PSH | ACK, seq = iss.plus(1), ack = IRS.plus(1), data = b"h"),
            70_000,
        );
        assert_eq!(p.at - last, gap);
        assert_eq!(p.frame, probe.frame);
        last = p.at;
        gap = (gap * 2).min(60_000);
        s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(1), win = 0));
        s.expect_nothing();
    }
    assert_eq!(s.state(h), TcpState::Established);
    // The window opens without taking the probe byte: it goes again at
    // once (not after the backed-off RTO), then the rest.
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(1), win = 4000));
    s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1),
        ack = IRS.plus(1),
        data = b"h"
    ));
    s.expect_nothing(); // window 1: one segment in flight
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(2), win = 4000));
    s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(2),
        ack = IRS.plus(1),
        data = b"ello world"
    ));
    s.expect_nothing();
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(12), win = 4000));
    assert!(s.events(h).ends_with(&[TcpEvent::Acked { offset: 11 }]));
    s.advance(100_000);
    s.expect_nothing();
}

#[test]
fn zero_window_probe_taken_when_the_window_opens() {
    let mut s = Script::<Std>::new();
    let h = s.listen(PORT);
    s.send(seg!(SYN, seq = IRS, win = 8192, mss = 1460));
    let iss = s
        .expect(seg!(SYN | ACK, seq = any, ack = IRS.plus(1), mss = 1460))
        .seq;
    s.sock(h).source = Source::Bytes(b"hello world".to_vec());
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(1), win = 0));
    s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1),
        ack = IRS.plus(1),
        data = b"h"
    ));
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(1), win = 0));
    let p = s.wait(
        seg!(PSH | ACK, seq = iss.plus(1), ack = IRS.plus(1), data = b"h"),
        1_500,
    );
    // This time the peer has room and takes the probe's byte.
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(2), win = 4000));
    let rest = s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(2),
        ack = IRS.plus(1),
        data = b"ello world"
    ));
    assert_eq!(rest.at, p.at);
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(12), win = 4000));
    s.expect_nothing();
}

#[test]
fn three_duplicate_acks_trigger_fast_retransmit() {
    let mut s = Script::<Win4>::new();
    let (h, iss) = open(&mut s);
    s.sock(h).source = Source::Pattern(4 * 1460);
    let mut segs = Vec::new();
    for k in 0..4 {
        segs.push(s.expect(seg!(
            PSH | ACK,
            seq = iss.plus(1 + 1460 * k),
            ack = IRS.plus(1),
            len = 1460
        )));
    }
    s.expect_nothing();
    s.advance(10);
    // The second segment was lost: the peer ACKs the first, then repeats.
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(1461)));
    s.expect_nothing();
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(1461)));
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(1461)));
    s.expect_nothing();
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(1461)));
    let r = s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1461),
        ack = IRS.plus(1),
        len = 1460
    ));
    assert_eq!(r.frame, segs[1].frame, "byte-identical");
    assert!(s.events(h).contains(&TcpEvent::Retransmit { offset: 1460 }));
    // Go-back-N: the rest of the flight follows, on the original
    // boundaries and byte-identical (the stack keeps no scoreboard).
    let mut next = iss.plus(2921);
    while let Some(Heard::Tcp(c)) = s.next_heard() {
        assert_eq!(c.seq, next);
        assert_eq!(
            c.frame,
            segs[((c.seq.wrapping_sub(iss) - 1) / 1460) as usize].frame
        );
        next = c.seq_end();
    }
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(1 + 4 * 1460)));
    assert!(s
        .events(h)
        .ends_with(&[TcpEvent::Acked { offset: 4 * 1460 }]));
}

// -------------------------------------------------- ports and listeners

#[test]
fn syn_to_a_busy_port_is_ignored_by_default() {
    let mut s = Script::<Std>::new();
    let a = s.listen(PORT);
    let b = s.listen(PORT);
    s.accept(a, IRS, 8192);
    s.advance(10);
    s.peer_port = PEER_PORT + 1;
    s.accept(b, IRS, 8192);
    s.peer_port = PEER_PORT + 2;
    s.send(seg!(SYN, seq = 3000, mss = 1460));
    s.expect_nothing();
    assert_eq!(s.dropped(DropReason::TcpNoSocket), 1);
    // The quietest connection's owner hears that a client waits.
    assert_eq!(s.events(a), [TcpEvent::Contended]);
    assert_eq!(s.events(b), []);
    // The peer's SYN retry is the same client: no second notice.
    s.send(seg!(SYN, seq = 3000, mss = 1460));
    s.expect_nothing();
    assert_eq!(s.events(a), []);
    // The moment a socket is free again, the remembered SYN is answered.
    s.peer_port = PEER_PORT;
    s.send(seg!(RST, seq = IRS.plus(1)));
    let sa = s.expect(seg!(
        SYN | ACK,
        seq = any,
        ack = 3001,
        mss = 1460,
        dport = PEER_PORT + 2
    ));
    assert_eq!(s.state(a), TcpState::SynReceived);
    // Its SYN retry, crossing the SYN-ACK, draws the SYN-ACK again.
    s.peer_port = PEER_PORT + 2;
    s.send(seg!(SYN, seq = 3000, mss = 1460));
    s.expect(seg!(SYN | ACK, seq = sa.seq, ack = 3001, mss = 1460));
    s.send(seg!(ACK, seq = 3001, ack = sa.seq.plus(1)));
    assert_eq!(s.state(a), TcpState::Established);
}

#[test]
fn a_remembered_syn_is_forgotten_when_its_peer_stops_retrying() {
    let mut s = Script::<Std>::new();
    let a = s.listen(PORT);
    s.accept(a, IRS, 8192);
    s.peer_port = PEER_PORT + 2;
    s.send(seg!(SYN, seq = 3000, mss = 1460));
    s.expect_nothing();
    s.advance(3_000);
    s.peer_port = PEER_PORT;
    s.send(seg!(RST, seq = IRS.plus(1)));
    s.expect_nothing();
    assert_eq!(s.state(a), TcpState::Listen);
}

#[test]
fn a_syn_to_a_busy_port_ends_the_oldest_time_wait() {
    let mut s = Script::<Std>::new();
    let a = s.listen(PORT);
    let b = s.listen(PORT);
    // Two connections we close first: both end in TIME-WAIT.
    for (h, port) in [(a, PEER_PORT), (b, PEER_PORT + 1)] {
        s.peer_port = port;
        let iss = s.accept(h, IRS, 8192);
        s.close(h);
        s.expect(seg!(FIN | ACK, seq = iss.plus(1), ack = IRS.plus(1)));
        s.send(seg!(FIN | ACK, seq = IRS.plus(1), ack = iss.plus(2)));
        s.expect(seg!(ACK, seq = iss.plus(2), ack = IRS.plus(2)));
        assert_eq!(s.state(h), TcpState::TimeWait);
        s.advance(10);
    }
    s.events(a);
    s.events(b);
    // A new client takes the older one at once: no SYN retry needed.
    s.peer_port = PEER_PORT + 2;
    s.send(seg!(SYN, seq = 3000, mss = 1460));
    s.expect(seg!(
        SYN | ACK,
        seq = any,
        ack = 3001,
        mss = 1460,
        dport = PEER_PORT + 2
    ));
    assert_eq!(s.state(a), TcpState::SynReceived);
    assert_eq!(s.state(b), TcpState::TimeWait);
    assert_eq!(s.events(a), [TcpEvent::Closed]);
    assert_eq!(s.dropped(DropReason::TcpNoSocket), 0);
}

#[test]
fn a_syn_from_the_same_client_ends_time_wait_when_it_is_newer() {
    let mut s = Script::<Std>::new();
    let a = s.listen(PORT);
    let iss = s.accept(a, IRS, 8192);
    s.close(a);
    s.expect(seg!(FIN | ACK, seq = iss.plus(1), ack = IRS.plus(1)));
    s.send(seg!(FIN | ACK, seq = IRS.plus(1), ack = iss.plus(2)));
    s.expect(seg!(ACK, seq = iss.plus(2), ack = IRS.plus(2)));
    assert_eq!(s.state(a), TcpState::TimeWait);
    s.events(a);
    // An old SYN (not beyond the connection's sequence space): challenge.
    s.send(seg!(SYN, seq = IRS, mss = 1460));
    s.expect(seg!(ACK, seq = iss.plus(2), ack = IRS.plus(2)));
    assert_eq!(s.state(a), TcpState::TimeWait);
    // A new incarnation (RFC 1122 §4.2.2.13): accepted at once.
    s.send(seg!(SYN, seq = IRS.plus(100_000), mss = 1460));
    s.expect(seg!(
        SYN | ACK,
        seq = any,
        ack = IRS.plus(100_001),
        mss = 1460
    ));
    assert_eq!(s.state(a), TcpState::SynReceived);
    assert_eq!(s.events(a), [TcpEvent::Closed]);
}

#[test]
fn spoofed_syns_never_hold_a_port() {
    let mut s = Script::<Std>::new();
    let a = s.listen(PORT);
    let b = s.listen(PORT);
    // A flood of SYNs from addresses that never answer: the first two take
    // the sockets; a half-open socket is not taken from its client before
    // `rto_min_ms` (a real client answers within a round trip).
    for k in 0..50u16 {
        s.peer_port = 20_000 + k;
        s.send(seg!(SYN, seq = 7000 + u32::from(k), mss = 1460));
        if k < 2 {
            s.expect(seg!(
                SYN | ACK,
                seq = any,
                ack = 7001 + u32::from(k),
                mss = 1460,
                dport = 20_000 + k
            ));
        } else {
            s.expect_nothing();
        }
        s.advance(1);
    }
    assert_eq!(s.state(a), TcpState::SynReceived);
    assert_eq!(s.state(b), TcpState::SynReceived);
    // A real client's SYN is answered once the oldest half-open socket has
    // waited `rto_min_ms` for its ACK, and its handshake completes.
    s.peer_port = PEER_PORT;
    s.send(seg!(SYN, seq = IRS, mss = 1460));
    let sa = s.wait(
        seg!(
            SYN | ACK,
            seq = any,
            ack = IRS.plus(1),
            mss = 1460,
            dport = PEER_PORT
        ),
        250,
    );
    assert!(sa.at <= 1 + 200 + 1, "answered at {} ms", sa.at);
    s.send(seg!(ACK, seq = IRS.plus(1), ack = sa.seq.plus(1)));
    assert!([s.state(a), s.state(b)].contains(&TcpState::Established));
}

#[test]
fn half_open_connections_give_up_after_three_syn_ack_resends() {
    let mut s = Script::<Std>::new();
    let a = s.listen(PORT);
    s.send(seg!(SYN, seq = 7000, mss = 1460));
    let first = s.expect(seg!(SYN | ACK, seq = any, ack = 7001, mss = 1460));
    let mut at = first.at;
    for backoff in [2_000, 4_000, 8_000] {
        let again = s.wait(
            seg!(SYN | ACK, seq = first.seq, ack = 7001, mss = 1460),
            20_000,
        );
        assert_eq!(again.at - at, backoff / 2, "RTO doubles from 1 s");
        at = again.at;
    }
    s.advance(8_000);
    s.expect_nothing();
    assert_eq!(s.state(a), TcpState::Listen);
}

#[test]
fn an_idle_connection_is_reclaimed_for_a_new_client() {
    let mut s = Script::<Std>::new();
    let a = s.listen(PORT);
    let iss = s.accept(a, IRS, 8192);
    s.advance(5_000);
    // Idle 5 s: not yet; the SYN is remembered.
    s.peer_port = PEER_PORT + 1;
    s.send(seg!(SYN, seq = 3000, mss = 1460));
    s.expect_nothing();
    assert_eq!(s.events(a), [TcpEvent::Contended]);
    // Idle 10 s (`reclaim_idle_ms`): the retry takes its socket.
    s.advance(5_000);
    s.send(seg!(SYN, seq = 3000, mss = 1460));
    s.expect(seg!(
        RST | ACK,
        seq = iss.plus(1),
        ack = IRS.plus(1),
        dport = PEER_PORT
    ));
    s.expect(seg!(
        SYN | ACK,
        seq = any,
        ack = 3001,
        mss = 1460,
        dport = PEER_PORT + 1
    ));
    assert_eq!(s.events(a), [TcpEvent::Reclaimed]);
}

#[test]
fn syn_to_a_busy_port_is_reset_when_configured() {
    let mut s = Script::<Resetting>::new();
    let a = s.listen(PORT);
    let b = s.listen(PORT);
    s.accept(a, IRS, 8192);
    s.peer_port = PEER_PORT + 1;
    s.accept(b, IRS, 8192);
    s.peer_port = PEER_PORT + 2;
    s.send(seg!(SYN, seq = 3000, mss = 1460));
    s.expect(seg!(
        RST | ACK,
        seq = 0,
        ack = 3001,
        win = 0,
        sport = PORT,
        dport = PEER_PORT + 2
    ));
    assert_eq!(s.dropped(DropReason::TcpNoSocket), 1);
    assert_eq!(s.state(a), TcpState::Established);
    assert_eq!(s.state(b), TcpState::Established);
}

#[test]
fn syn_to_a_port_without_listener_is_reset() {
    let mut s = Script::<Std>::new();
    s.listen(PORT);
    s.send(seg!(SYN, seq = 3000, dport = 81, mss = 1460));
    s.expect(seg!(RST | ACK, seq = 0, ack = 3001, win = 0, sport = 81));
    // With data on the SYN, the ACK covers it.
    s.send(seg!(SYN, seq = 3000, dport = 81, data = b"early"));
    s.expect(seg!(RST | ACK, seq = 0, ack = 3006, win = 0, sport = 81));
    // A segment with ACK gets RST from that ACK number, without ACK.
    s.send(seg!(ACK, seq = 3001, ack = 777, dport = 81));
    s.expect(seg!(RST, seq = 777, win = 0, sport = 81));
    // RST is never answered.
    s.send(seg!(RST, seq = 3001, dport = 81));
    s.expect_nothing();
    assert_eq!(s.dropped(DropReason::TcpNoSocket), 4);
}

#[test]
fn ack_to_a_listening_socket_is_reset() {
    let mut s = Script::<Std>::new();
    let h = s.listen(PORT);
    s.send(seg!(ACK, seq = 3000, ack = 5000));
    s.expect(seg!(RST, seq = 5000, win = 0));
    assert_eq!(s.state(h), TcpState::Listen);
    // RST and bare segments to LISTEN are dropped without answer.
    s.send(seg!(RST, seq = 3000));
    s.send(seg!(PSH, seq = 3000, data = b"no"));
    s.expect_nothing();
    assert_eq!(s.state(h), TcpState::Listen);
    s.accept(h, IRS, 8192);
}

#[test]
fn listening_socket_stops_on_close() {
    let mut s = Script::<Std>::new();
    let h = s.listen(PORT);
    s.close(h);
    assert_eq!(s.state(h), TcpState::Closed);
    s.send(seg!(SYN, seq = 3000));
    s.expect(seg!(RST | ACK, seq = 0, ack = 3001, win = 0));
}

#[test]
fn abort_sends_rst() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    s.abort(h);
    s.expect(seg!(RST | ACK, seq = iss.plus(1), ack = IRS.plus(1)));
    assert_eq!(s.state(h), TcpState::Closed);
}

// ------------------------------------------------ configuration options

#[test]
fn split_keeps_two_half_segments_in_flight() {
    let mut s = Script::<Split>::new();
    let (h, iss) = open(&mut s);
    s.sock(h).source = Source::Pattern(3000);
    s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1),
        ack = IRS.plus(1),
        data = &pattern(0, 730)
    ));
    s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(731),
        ack = IRS.plus(1),
        data = &pattern(730, 730)
    ));
    s.expect_nothing();
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(731)));
    s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1461),
        ack = IRS.plus(1),
        data = &pattern(1460, 730)
    ));
    s.expect_nothing();
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(1461)));
    s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(2191),
        ack = IRS.plus(1),
        data = &pattern(2190, 730)
    ));
    s.expect_nothing();
    // A timeout resends from the oldest, on the original boundaries.
    let r1 = s.wait(
        seg!(
            PSH | ACK,
            seq = iss.plus(1461),
            ack = IRS.plus(1),
            len = 730
        ),
        1_500,
    );
    let r2 = s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(2191),
        ack = IRS.plus(1),
        len = 730
    ));
    assert_eq!(r1.at, r2.at);
    s.expect_nothing();
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(2921)));
    s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(2921),
        ack = IRS.plus(1),
        data = &pattern(2920, 80)
    ));
    s.expect_nothing();
}

fn buffered_retransmission<N: DutNic>(mut s: Script<Buffered, N>, tamper: Tamper) {
    let (h, iss) = open(&mut s);
    s.sock(h).source = Source::Pattern(2000);
    s.sock(h).tamper = tamper;
    let a = s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1),
        ack = IRS.plus(1),
        len = 1460
    ));
    let b = s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1461),
        ack = IRS.plus(1),
        len = 540
    ));
    s.expect_nothing();
    let asked = s.sock(h).produced.len();
    let ra = s.wait(
        seg!(PSH | ACK, seq = iss.plus(1), ack = IRS.plus(1), len = 1460),
        1_500,
    );
    let rb = s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1461),
        ack = IRS.plus(1),
        len = 540
    ));
    assert_eq!(ra.frame, a.frame);
    assert_eq!(rb.frame, b.frame);
    assert!(
        s.sock(h).produced[asked..].iter().all(|&(o, _)| o >= 2000),
        "the owner is not asked again for sent bytes: {:?}",
        &s.sock(h).produced[asked..]
    );
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss.plus(2001)));
    assert!(s.events(h).ends_with(&[TcpEvent::Acked { offset: 2000 }]));
    assert_eq!(s.state(h), TcpState::Established);
}

#[test]
fn buffer_mode_retransmits_from_its_own_copy() {
    // This owner never gives the same bytes twice: fine in buffer mode.
    buffered_retransmission(Script::<Buffered>::new(), Tamper::Flip);
}

#[test]
fn buffer_mode_retransmits_from_its_own_copy_length_first() {
    // A FIFO NIC measures a new segment before writing it, so the owner
    // must be consistent within one send; retransmissions never ask it.
    buffered_retransmission(Script::<Buffered>::fifo(), Tamper::Honest);
}

#[test]
fn regeneration_mismatch_aborts_instead_of_sending_corrupt_data() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    s.sock(h).source = Source::Pattern(1000);
    s.sock(h).tamper = Tamper::Flip;
    let first = s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1),
        ack = IRS.plus(1),
        len = 1000
    ));
    s.advance(1_000);
    if cfg!(debug_assertions) {
        // The regenerated payload's checksum differs from the record.
        s.expect(seg!(RST | ACK, seq = iss.plus(1), ack = IRS.plus(1)));
        s.expect_nothing();
        assert_eq!(
            s.events(h),
            [
                TcpEvent::Retransmit { offset: 0 },
                TcpEvent::RegenerationMismatch { offset: 0 }
            ]
        );
        assert_eq!(s.state(h), TcpState::Listen);
    } else {
        // Release builds keep no checksums: same length, so it goes.
        let r = s.expect(seg!(PSH | ACK, seq = iss.plus(1), len = 1000));
        assert_ne!(r.frame, first.frame);
    }
}

#[test]
fn regeneration_with_another_length_is_refused_in_every_build() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    s.sock(h).source = Source::Pattern(1000);
    s.sock(h).tamper = Tamper::Shorten;
    let first = s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1),
        ack = IRS.plus(1),
        len = 997
    ));
    assert!(first.data.len() < 1000);
    s.advance(1_000);
    s.expect(seg!(RST | ACK, seq = iss.plus(1), ack = IRS.plus(1)));
    s.expect_nothing();
    assert!(s
        .events(h)
        .ends_with(&[TcpEvent::RegenerationMismatch { offset: 0 }]));
    assert_eq!(s.state(h), TcpState::Listen);
}

#[test]
fn inconsistent_producer_on_a_length_first_nic_never_reaches_the_wire() {
    let mut s = Script::<Std>::fifo();
    let (h, iss) = open(&mut s);
    s.sock(h).source = Source::Pattern(1000);
    s.sock(h).tamper = Tamper::Flip;
    // Measured, then written differently: the frame is abandoned.
    s.expect(seg!(RST | ACK, seq = iss.plus(1), ack = IRS.plus(1)));
    s.expect_nothing();
    assert_eq!(s.events(h), [TcpEvent::RegenerationMismatch { offset: 0 }]);
}

#[test]
fn split_sends_a_stream_that_fits_one_segment_whole() {
    let mut s = Script::<Split>::new();
    let (h, iss) = open(&mut s);
    s.sock(h).source = Source::Pattern(1460);
    s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1),
        ack = IRS.plus(1),
        data = &pattern(0, 1460)
    ));
    s.expect_nothing();
    // One byte more than a segment: two halves, then the rest.
    let (h2, iss2) = {
        s.peer_port = PEER_PORT + 1;
        open(&mut s)
    };
    s.sock(h2).source = Source::Pattern(1461);
    s.expect(seg!(
        PSH | ACK,
        seq = iss2.plus(1),
        ack = IRS.plus(1),
        len = 730
    ));
    s.expect(seg!(
        PSH | ACK,
        seq = iss2.plus(731),
        ack = IRS.plus(1),
        len = 730
    ));
    s.expect_nothing();
    s.send(seg!(ACK, seq = IRS.plus(1), ack = iss2.plus(1461)));
    s.expect(seg!(
        PSH | ACK,
        seq = iss2.plus(1461),
        ack = IRS.plus(1),
        len = 1
    ));
}

// ---------------------------------------------------- hostile input (RFC 5961)

#[test]
fn a_tiny_mss_option_is_raised_to_536() {
    let mut s = Script::<Std>::new();
    let h = s.listen(PORT);
    s.send(seg!(SYN, seq = IRS, win = 8192, mss = 1));
    let sa = s.expect(seg!(SYN | ACK, seq = any, ack = IRS.plus(1), mss = 1460));
    s.send(seg!(
        ACK,
        seq = IRS.plus(1),
        ack = sa.seq.plus(1),
        win = 8192
    ));
    s.sock(h).source = Source::Pattern(600);
    s.expect(seg!(
        PSH | ACK,
        seq = sa.seq.plus(1),
        ack = IRS.plus(1),
        len = 536
    ));
}

#[test]
fn an_ack_below_the_largest_window_is_challenged_and_ignored() {
    let mut s = Script::<Std>::new();
    let (h, iss) = open(&mut s);
    s.sock(h).source = Source::Pattern(100);
    s.expect(seg!(
        PSH | ACK,
        seq = iss.plus(1),
        ack = IRS.plus(1),
        len = 100
    ));
    // SND.UNA - 65536: older than any window could explain (RFC 5961 §5.2).
    s.send(seg!(
        PSH | ACK,
        seq = IRS.plus(1),
        ack = iss.plus(1).wrapping_sub(65_536),
        data = b"forged"
    ));
    s.expect(seg!(ACK, seq = iss.plus(101), ack = IRS.plus(1)));
    assert!(s.received(h).is_empty(), "data of a forged segment taken");
    assert_eq!(s.dropped(DropReason::TcpOutOfWindow), 1);
}

#[test]
fn a_connect_to_a_silent_host_sleeps_between_arp_tries_and_times_out() {
    silent_host(Script::<ShortRto>::new());
}

#[test]
fn arp_tries_and_the_connect_timeout_across_the_clock_wrap() {
    // ARP's once-a-second limit and TCP's timers run through the wrap.
    silent_host(before_the_clock_wraps(Script::<ShortRto>::new(), 4_000));
}

fn silent_host(mut s: Script<ShortRto>) {
    let h = s.connect(7);
    s.expect_arp_request(PEER_IP);
    // Waiting for ARP, the stack sleeps until the retransmission timer.
    let t = s.instant();
    let at = s.stack.poll_at(t).expect("a timer");
    assert!(
        at.since(t).millis() >= 200,
        "poll_at {at:?} at {} ms",
        s.now
    );
    let mut arps = 1;
    for _ in 0..20 {
        s.advance(1_000);
        arps += s
            .drain_heard()
            .iter()
            .filter(|h| matches!(h, Heard::ArpRequest { .. }))
            .count();
        if s.state(h) == TcpState::Closed {
            break;
        }
    }
    assert_eq!(s.state(h), TcpState::Closed);
    assert_eq!(s.events(h), [TcpEvent::TimedOut]);
    // ARP asks at most once a second (and polls came every second here).
    assert!((3..=16).contains(&arps), "{arps} ARP requests in 15 s");
}

#[test]
fn a_remembered_syn_takes_a_socket_entering_time_wait_after_its_last_ack() {
    let mut s = Script::<Std>::new();
    let a = s.listen(PORT);
    let iss = s.accept(a, IRS, 8192);
    s.peer_port = PEER_PORT + 1;
    s.send(seg!(SYN, seq = 3000, mss = 1460));
    s.expect_nothing();
    assert_eq!(s.events(a), [TcpEvent::Contended]);
    // The owner closes; the peer's FIN crosses ours.
    s.close(a);
    s.peer_port = PEER_PORT;
    s.expect(seg!(FIN | ACK, seq = iss.plus(1), ack = IRS.plus(1)));
    s.send(seg!(FIN | ACK, seq = IRS.plus(1), ack = iss.plus(2)));
    // Its last ACK goes out, then the waiting client's SYN-ACK at once.
    s.expect(seg!(
        ACK,
        seq = iss.plus(2),
        ack = IRS.plus(2),
        dport = PEER_PORT
    ));
    s.expect(seg!(
        SYN | ACK,
        seq = any,
        ack = 3001,
        mss = 1460,
        dport = PEER_PORT + 1
    ));
    assert_eq!(s.state(a), TcpState::SynReceived);
}

#[test]
fn a_remembered_syn_goes_before_a_newer_one_when_a_socket_frees() {
    let mut s = Script::<Std>::new();
    let a = s.listen(PORT);
    let b = s.listen(PORT);
    s.accept(a, IRS, 8192);
    // b is half-open (a SYN that is never completed).
    s.peer_port = 20_000;
    s.send(seg!(SYN, seq = 7000, mss = 1460));
    let half = s.expect(seg!(
        SYN | ACK,
        seq = any,
        ack = 7001,
        mss = 1460,
        dport = 20_000
    ));
    // Client X waits.
    s.advance(10);
    s.peer_port = PEER_PORT + 1;
    s.send(seg!(SYN, seq = 3000, mss = 1460));
    s.expect_nothing();
    // Client Y's SYN arrives the moment b's SYN-ACK has gone unanswered for
    // rto_min: X, who came first, takes b; Y waits in its place.
    s.now = half.at + Std::TCP.rto_min_ms as u64;
    s.peer_port = PEER_PORT + 2;
    s.send(seg!(SYN, seq = 4000, mss = 1460));
    s.expect(seg!(
        SYN | ACK,
        seq = any,
        ack = 3001,
        mss = 1460,
        dport = PEER_PORT + 1
    ));
    s.expect_nothing();
    assert_eq!(s.state(b), TcpState::SynReceived);
    // a frees: Y is answered.
    s.peer_port = PEER_PORT;
    s.send(seg!(RST, seq = IRS.plus(1)));
    s.expect(seg!(
        SYN | ACK,
        seq = any,
        ack = 4001,
        mss = 1460,
        dport = PEER_PORT + 2
    ));
}
