//! The name services against a scripted peer on the simulated wire, with a
//! virtual clock: hostile DNS replies (the NAME:WRECK classes, spoofing,
//! truncation) are each rejected, counted and reported while the query
//! keeps waiting for the real answer; retries and timeouts run on time;
//! MX answers are completed with A queries; SNTP reports each step's
//! timeout and resolves its server through the DNS client; NetBIOS answers
//! only its own name.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use core::task::Poll;
use emberstack::config::StaticIpv4;
use emberstack::dns::{
    Answer, DnsClient, DnsError, DnsEvent, DnsHandle, DnsReject, DnsSettings, QueryType,
};
use emberstack::iface::arp::ArpEntry;
use emberstack::iface::Event;
use emberstack::netbios::{NetBiosEvent, NetBiosResponder};
use emberstack::nic::sim::{Faults, SimNic, SimWire};
use emberstack::sntp::{SntpClient, SntpEvent, SntpFailure, SntpSettings, SntpStep};
use emberstack::udp::UdpSocket;
use emberstack::wire::build::{arp_reply, Ipv4Frame};
use emberstack::wire::dns::ParseError;
use emberstack::wire::{arp, netbios, EthernetAddress, Ipv4Address, Ipv4Cidr};
use emberstack::{App, Duration, Instant, Stack};
use proptest::prelude::*;

const DUT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
const DUT_IP: [u8; 4] = [10, 9, 0, 2];
const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
/// The DNS and NTP server (and gateway).
const SERVER: [u8; 4] = [10, 9, 0, 1];
/// Another host on the segment (a spoofer).
const OTHER: [u8; 4] = [10, 9, 0, 3];
/// An address nobody answers ARP for.
const SILENT: [u8; 4] = [10, 9, 0, 99];

emberstack::test_config! {
    struct Dut;
    const DEVICE_NAME: &'static str = "Ember";
    const MAC: EthernetAddress = EthernetAddress(DUT_MAC);
    const STATIC_IPV4: Option<StaticIpv4> = Some(StaticIpv4 {
        cidr: Ipv4Cidr::new(Ipv4Address(DUT_IP), 24),
        gateway: Some(Ipv4Address(SERVER)),
        dns: Some(Ipv4Address(SERVER)),
    });
    const ARP_LIFETIME: Duration = Duration::from_secs(600);
    const DNS: DnsSettings = DnsSettings {
        server: None,
        timeout: Duration::from_secs(1),
        retries: 2,
    };
    const SNTP: SntpSettings = SntpSettings {
        server: None,
        timeout: Duration::from_secs(2),
        poll_interval: Duration::ZERO,
    };
    type ArpCache = [ArpEntry; 4];
    type UdpSockets = [UdpSocket; 2];
    type Dns = DnsClient<2, 64>;
    type NetBios = NetBiosResponder;
    type Sntp = SntpClient<64>;
}

#[derive(Default)]
struct Recorder {
    events: Vec<Event>,
    rng: u64,
}

impl App for Recorder {
    fn random_u32(&mut self) -> u32 {
        self.rng = self.rng.wrapping_mul(6364136223846793005).wrapping_add(1);
        (self.rng >> 33) as u32
    }
    fn event(&mut self, e: Event) {
        self.events.push(e);
    }
}

/// A UDP datagram the DUT sent.
#[derive(Clone, Debug)]
struct Sent {
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    payload: Vec<u8>,
}

struct Bench {
    wire: SimWire,
    peer: SimNic,
    nic: SimNic<true>,
    stack: Stack<Dut>,
    app: Recorder,
    now: u64,
    /// Datagrams the DUT sent, oldest first.
    sent: Vec<Sent>,
    /// Frames the DUT sent that were not ARP or UDP.
    other: Vec<Vec<u8>>,
}

/// A UDP datagram from the peer (`src`) to the device, or to everyone
/// when `dst` is a broadcast address.
fn udp_frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let dst_mac = if dst == [255; 4] || dst[3] == 255 {
        EthernetAddress::BROADCAST
    } else {
        EthernetAddress(DUT_MAC)
    };
    let frame = Ipv4Frame {
        ident: 1,
        ..Ipv4Frame::new(
            EthernetAddress(PEER_MAC),
            Ipv4Address(src),
            dst_mac,
            Ipv4Address(dst),
        )
    };
    frame.udp(sport, dport, data)
}

impl Bench {
    fn new() -> Bench {
        let wire = SimWire::new(1, Faults::none());
        let mut b = Bench {
            peer: wire.endpoint(),
            nic: wire.endpoint_length_first(),
            wire,
            stack: Stack::new(),
            app: Recorder::default(),
            now: 0,
            sent: Vec::new(),
            other: Vec::new(),
        };
        b.run(2);
        b.sent.clear();
        b
    }

    /// Advances virtual time by `ms`, polling every millisecond; the peer
    /// answers ARP for SERVER and OTHER and records everything else.
    fn run(&mut self, ms: u64) {
        for _ in 0..ms {
            self.now += 1;
            self.wire.set_now(self.now);
            let t = Instant::from_millis(self.now);
            while self.stack.poll(t, &mut self.nic, &mut self.app) {}
            while let Some(f) = self.peer.recv_frame() {
                self.observe(f);
            }
        }
    }

    fn observe(&mut self, f: Vec<u8>) {
        if f[12..14] == [0x08, 0x06] {
            let target: [u8; 4] = f[38..42].try_into().unwrap();
            if f[21] == 1 && (target == SERVER || target == OTHER) {
                let request = arp::Repr::parse(&arp::Packet::new_unchecked(&f[14..])).unwrap();
                let r = arp_reply(&request, EthernetAddress(PEER_MAC), Ipv4Address(target));
                self.peer.send_frame(&r).unwrap();
            }
            return;
        }
        if f[12..14] == [0x08, 0x00] && f[23] == 17 {
            let ihl = usize::from(f[14] & 15) * 4;
            let u = &f[14 + ihl..];
            let len = usize::from(u16::from_be_bytes([u[4], u[5]]));
            self.sent.push(Sent {
                dst: f[30..34].try_into().unwrap(),
                sport: u16::from_be_bytes([u[0], u[1]]),
                dport: u16::from_be_bytes([u[2], u[3]]),
                payload: u[8..len].to_vec(),
            });
            return;
        }
        self.other.push(f);
    }

    fn inject(&mut self, frame: &[u8]) {
        self.peer.send_frame(frame).unwrap();
        self.run(1);
    }

    /// Runs until the DUT sends a datagram to `port`; takes it.
    fn expect_sent(&mut self, port: u16, within_ms: u64) -> Sent {
        for _ in 0..within_ms {
            if let Some(i) = self.sent.iter().position(|s| s.dport == port) {
                return self.sent.remove(i);
            }
            self.run(1);
        }
        panic!("nothing sent to port {port} within {within_ms} ms");
    }

    /// Delivers `frame` `times` times without advancing the clock (no
    /// timer runs out meanwhile), polling after each.
    fn inject_repeatedly(&mut self, frame: &[u8], times: u32) {
        let t = Instant::from_millis(self.now);
        for _ in 0..times {
            self.peer.send_frame(frame).unwrap();
            while self.stack.poll(t, &mut self.nic, &mut self.app) {}
        }
        while let Some(f) = self.peer.recv_frame() {
            self.observe(f);
        }
    }

    fn dns(&mut self) -> &mut DnsClient<2, 64> {
        self.stack.dns()
    }

    fn dns_events(&self) -> Vec<DnsEvent> {
        self.app
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Dns(d) => Some(*d),
                _ => None,
            })
            .collect()
    }

    fn sntp_events(&self) -> Vec<SntpEvent> {
        self.app
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Sntp(d) => Some(*d),
                _ => None,
            })
            .collect()
    }

    fn a_result(&mut self, h: DnsHandle) -> Poll<Result<Ipv4Address, DnsError>> {
        match self.dns().result(h) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(Answer::A(a))) => Poll::Ready(Ok(a)),
            Poll::Ready(Ok(Answer::Mx(_))) => panic!("MX answer to an A query"),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        }
    }
}

/// A reply to `query` (its header and question copied) with `flags`,
/// `answers` records in `body`.
fn reply(query: &[u8], flags: u16, answers: u16, body: &[u8]) -> Vec<u8> {
    let qend = 12 + question_len(&query[12..]);
    let mut r = query[..qend].to_vec();
    r[2..4].copy_from_slice(&flags.to_be_bytes());
    r[6..8].copy_from_slice(&answers.to_be_bytes());
    r.extend(body);
    r
}

fn question_len(q: &[u8]) -> usize {
    let mut at = 0;
    while q[at] != 0 {
        at += 1 + usize::from(q[at]);
    }
    at + 1 + 4
}

/// An A record: owner bytes, then type A, class IN, TTL 60, the address.
fn a_record(owner: &[u8], addr: [u8; 4]) -> Vec<u8> {
    let mut r = owner.to_vec();
    r.extend([0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
    r.extend(addr);
    r
}

/// A record of `rtype` with raw `data`.
fn record(owner: &[u8], rtype: u16, data: &[u8]) -> Vec<u8> {
    let mut r = owner.to_vec();
    r.extend(rtype.to_be_bytes());
    r.extend([0, 1, 0, 0, 0, 60]);
    r.extend((data.len() as u16).to_be_bytes());
    r.extend(data);
    r
}

fn ptr(at: usize) -> [u8; 2] {
    [0xc0 | (at >> 8) as u8, at as u8]
}

const GOOD: [u8; 4] = [10, 9, 0, 77];

#[test]
fn hostile_replies_are_rejected_counted_and_the_query_survives() {
    let mut b = Bench::new();
    let h = b.dns().query("www.test.lan", QueryType::A).unwrap();
    let q = b.expect_sent(53, 50);
    assert_eq!(q.dst, SERVER);
    assert!(q.sport >= 49152, "random ephemeral source port");
    let query = q.payload.clone();
    let qend = query.len();
    let good = reply(&query, 0x8180, 1, &a_record(&[0xc0, 12], GOOD));
    let from_server = |data: &[u8]| udp_frame(SERVER, DUT_IP, 53, q.sport, data);

    // Two names pointing at each other through a TXT record's data.
    let loop_msg = {
        let p1 = qend + 12; // the TXT data
        let txt = record(&ptr(12), 16, &[1, b'a', 0xc0, 0]);
        let p2 = qend + txt.len();
        let mut txt = txt;
        let l = txt.len();
        txt[l - 2..].copy_from_slice(&ptr(p2));
        let mut body = txt;
        body.extend(a_record(&[1, b'b', ptr(p1)[0], ptr(p1)[1]], GOOD));
        reply(&query, 0x8180, 2, &body)
    };
    let chain_msg = {
        // 17 pointers, each to the one before, ending at the question name.
        let mut data = Vec::new();
        let first = qend + 12;
        for i in 0..17 {
            let target = if i == 0 { 12 } else { first + 2 * (i - 1) };
            data.extend(ptr(target));
        }
        let mut body = record(&ptr(12), 16, &data);
        body.extend(a_record(&ptr(first + 32), GOOD));
        reply(&query, 0x8180, 2, &body)
    };
    let long_name = {
        let mut owner = Vec::new();
        for _ in 0..4 {
            owner.push(63);
            owner.extend([b'x'; 63]);
        }
        owner.push(0);
        reply(&query, 0x8180, 1, &a_record(&owner, GOOD))
    };
    let mut wrong_id = good.clone();
    wrong_id[0] ^= 0x55;
    let mut other_name = query.clone();
    other_name[13] = b'v'; // "wvw.test.lan"
    let wrong_question = reply(&other_name, 0x8180, 1, &a_record(&[0xc0, 12], GOOD));
    let mut wrong_type = query.clone();
    wrong_type[qend - 3] = 15;
    let wrong_qtype = reply(&wrong_type, 0x8180, 1, &a_record(&[0xc0, 12], GOOD));
    let two_questions = {
        let mut r = good.clone();
        r[5] = 2;
        r
    };
    let not_response = reply(&query, 0x0100, 1, &a_record(&[0xc0, 12], GOOD));
    let tc = reply(&query, 0x8380, 1, &a_record(&[0xc0, 12], GOOD));
    let mut a_len5 = reply(&query, 0x8180, 1, &a_record(&[0xc0, 12], GOOD));
    let n = a_len5.len();
    a_len5[n - 5] = 5;
    a_len5.push(0);

    let m = |e| DnsReject::Malformed(e);
    let cases: Vec<(&str, Vec<u8>, DnsReject)> = vec![
        (
            "pointer loop",
            from_server(&loop_msg),
            m(ParseError::BadPointer),
        ),
        (
            "self pointer",
            from_server(&reply(&query, 0x8180, 1, &a_record(&ptr(qend), GOOD))),
            m(ParseError::BadPointer),
        ),
        (
            "forward pointer",
            from_server(&reply(&query, 0x8180, 1, &a_record(&ptr(qend + 4), GOOD))),
            m(ParseError::BadPointer),
        ),
        (
            "pointer past the end",
            from_server(&reply(&query, 0x8180, 1, &a_record(&[0xff, 0xff], GOOD))),
            m(ParseError::BadPointer),
        ),
        (
            "pointer into the header",
            from_server(&reply(&query, 0x8180, 1, &a_record(&ptr(4), GOOD))),
            m(ParseError::BadPointer),
        ),
        (
            "too many pointers",
            from_server(&chain_msg),
            m(ParseError::TooManyPointers),
        ),
        (
            "label of 64",
            from_server(&reply(&query, 0x8180, 1, &a_record(&[0x40, b'x', 0], GOOD))),
            m(ParseError::LabelTooLong),
        ),
        (
            "name of 257",
            from_server(&long_name),
            m(ParseError::NameTooLong),
        ),
        (
            "cut in the record data",
            from_server(&good[..good.len() - 2]),
            m(ParseError::Truncated),
        ),
        (
            "more answers than present",
            from_server(&reply(&query, 0x8180, 2, &a_record(&[0xc0, 12], GOOD))),
            m(ParseError::Truncated),
        ),
        (
            "A record of 5 bytes",
            from_server(&a_len5),
            m(ParseError::BadRecord),
        ),
        (
            "header only",
            from_server(&good[..11]),
            DnsReject::Truncated,
        ),
        ("TC bit", from_server(&tc), DnsReject::Truncated),
        ("wrong id", from_server(&wrong_id), DnsReject::WrongId),
        (
            "not a response",
            from_server(&not_response),
            DnsReject::WrongId,
        ),
        (
            "wrong question",
            from_server(&wrong_question),
            DnsReject::WrongQuestion,
        ),
        (
            "wrong type",
            from_server(&wrong_qtype),
            DnsReject::WrongQuestion,
        ),
        (
            "two questions",
            from_server(&two_questions),
            DnsReject::WrongQuestion,
        ),
        (
            "wrong source address",
            udp_frame(OTHER, DUT_IP, 53, q.sport, &good),
            DnsReject::WrongSource,
        ),
        (
            "wrong source port",
            udp_frame(SERVER, DUT_IP, 5353, q.sport, &good),
            DnsReject::WrongSource,
        ),
    ];
    for (what, frame, why) in cases {
        let before = *b.dns().counters();
        let events = b.app.events.len();
        b.inject(&frame);
        let after = *b.dns().counters();
        assert_eq!(
            after.rejected(why),
            before.rejected(why) + 1,
            "{what}: counted as {why:?}: {after:?}"
        );
        assert_eq!(
            after.rejected.iter().sum::<u16>(),
            before.rejected.iter().sum::<u16>() + 1,
            "{what}: counted once"
        );
        assert!(
            b.app.events[events..].contains(&Event::Dns(DnsEvent::Rejected(why))),
            "{what}: reported as {why:?}: {:?}",
            &b.app.events[events..]
        );
        assert_eq!(
            b.a_result(h),
            Poll::Pending,
            "{what}: the query still waits"
        );
        assert!(
            b.other.is_empty(),
            "{what}: nothing answered: {:?}",
            b.other
        );
    }
    // A reply to a port with no query is not the DNS client's: the stack
    // answers port unreachable as for any closed port.
    b.inject(&udp_frame(SERVER, DUT_IP, 53, q.sport ^ 1, &good));
    assert_eq!(b.other.len(), 1, "ICMP port unreachable");
    b.other.clear();
    // The real answer still gets through.
    b.inject(&from_server(&good));
    assert_eq!(b.a_result(h), Poll::Ready(Ok(Ipv4Address(GOOD))));
    assert_eq!(b.dns().counters().accepted, 1);
    assert!(b.dns_events().contains(&DnsEvent::Answered { query: h }));
    // A late duplicate after the answer is not accepted again.
    b.inject(&from_server(&good));
    assert_eq!(b.dns().counters().accepted, 1);
    b.dns().release(h);
    assert_eq!(b.dns().result(h), Poll::Ready(Err(DnsError::BadHandle)));
}

#[test]
fn retries_then_timeout_on_the_virtual_clock() {
    let mut b = Bench::new();
    let h = b.dns().query("slow.test.lan", QueryType::A).unwrap();
    let first = b.expect_sent(53, 10);
    let t0 = b.now;
    let second = b.expect_sent(53, 1100);
    assert!((1000..=1001).contains(&(b.now - t0)), "retry after 1 s");
    // A retry is the same question from the same port with the same id.
    assert_eq!(
        (second.sport, &second.payload),
        (first.sport, &first.payload)
    );
    let third = b.expect_sent(53, 1100);
    assert_eq!(third.payload, first.payload);
    assert_eq!(b.a_result(h), Poll::Pending);
    b.run(990);
    assert_eq!(b.a_result(h), Poll::Pending);
    b.run(20);
    assert_eq!(b.a_result(h), Poll::Ready(Err(DnsError::Timeout)));
    assert!(b.sent.is_empty(), "no fourth attempt");
    let sends = b
        .dns_events()
        .iter()
        .filter(|e| matches!(e, DnsEvent::Sent { .. }))
        .count();
    assert_eq!(sends, 3);
    assert!(b.dns_events().contains(&DnsEvent::Failed {
        query: h,
        error: DnsError::Timeout
    }));
    // The answer to a timed-out query is not taken.
    let good = reply(&first.payload, 0x8180, 1, &a_record(&[0xc0, 12], GOOD));
    b.inject(&udp_frame(SERVER, DUT_IP, 53, first.sport, &good));
    assert_eq!(b.a_result(h), Poll::Ready(Err(DnsError::Timeout)));
}

#[test]
fn a_late_answer_to_the_first_attempt_is_accepted() {
    let mut b = Bench::new();
    let h = b.dns().query("www.test.lan", QueryType::A).unwrap();
    let first = b.expect_sent(53, 10);
    b.expect_sent(53, 1100);
    let good = reply(&first.payload, 0x8180, 1, &a_record(&[0xc0, 12], GOOD));
    b.inject(&udp_frame(SERVER, DUT_IP, 53, first.sport, &good));
    assert_eq!(b.a_result(h), Poll::Ready(Ok(Ipv4Address(GOOD))));
}

#[test]
fn each_query_has_its_own_random_id_and_port() {
    let mut b = Bench::new();
    let mut seen = Vec::new();
    for i in 0..6 {
        let h = b
            .dns()
            .query(&format!("h{i}.test.lan"), QueryType::A)
            .unwrap();
        let q = b.expect_sent(53, 10);
        let id = u16::from_be_bytes([q.payload[0], q.payload[1]]);
        seen.push((id, q.sport));
        b.dns().release(h);
    }
    let mut ids: Vec<_> = seen.iter().map(|s| s.0).collect();
    let mut ports: Vec<_> = seen.iter().map(|s| s.1).collect();
    ids.sort();
    ids.dedup();
    ports.sort();
    ports.dedup();
    assert_eq!(ids.len(), 6, "ids {seen:?}");
    assert_eq!(ports.len(), 6, "ports {seen:?}");
}

#[test]
fn name_error_and_server_failure() {
    let mut b = Bench::new();
    for (rcode, err) in [(3u16, DnsError::NameError), (2, DnsError::ServerFailure)] {
        let h = b.dns().query("nope.test.lan", QueryType::A).unwrap();
        let q = b.expect_sent(53, 10);
        let r = reply(&q.payload, 0x8180 | rcode, 0, &[]);
        b.inject(&udp_frame(SERVER, DUT_IP, 53, q.sport, &r));
        assert_eq!(b.a_result(h), Poll::Ready(Err(err)));
        b.dns().release(h);
    }
}

#[test]
fn mx_answer_completed_by_a_queries() {
    let mut b = Bench::new();
    let h = b.dns().query("test.lan", QueryType::Mx).unwrap();
    let q = b.expect_sent(53, 10);
    let qend = q.payload.len();
    // MX 20 backup.test.lan, MX 10 mail.test.lan (compressed), additional
    // A for mail only.
    let mut body = record(
        &ptr(12),
        15,
        &[0, 20, 6, b'b', b'a', b'c', b'k', b'u', b'p', 0xc0, 12],
    );
    let mail_at = qend + body.len() + 12 + 2;
    body.extend(record(
        &ptr(12),
        15,
        &[0, 10, 4, b'm', b'a', b'i', b'l', 0xc0, 12],
    ));
    body.extend(a_record(&ptr(mail_at), [10, 9, 0, 25]));
    let mut r = reply(&q.payload, 0x8180, 2, &body);
    r[11] = 1; // one additional record
    b.inject(&udp_frame(SERVER, DUT_IP, 53, q.sport, &r));
    assert_eq!(
        b.dns().result(h),
        Poll::Pending,
        "backup's address is asked for"
    );
    let a = b.expect_sent(53, 10);
    assert_ne!(a.sport, q.sport, "a new query: new port");
    assert_eq!(
        &a.payload[12..a.payload.len() - 4],
        b"\x06backup\x04test\x03lan\x00"
    );
    assert_eq!(&a.payload[a.payload.len() - 4..], &[0, 1, 0, 1]);
    let ra = reply(
        &a.payload,
        0x8180,
        1,
        &a_record(&[0xc0, 12], [10, 9, 0, 26]),
    );
    b.inject(&udp_frame(SERVER, DUT_IP, 53, a.sport, &ra));
    let Poll::Ready(Ok(Answer::Mx(list))) = b.dns().result(h) else {
        panic!("MX answer: {:?}", b.dns().result(h));
    };
    let got: Vec<_> = list
        .map(|m| (m.preference, m.exchange.to_string(), m.addr))
        .collect();
    assert_eq!(
        got,
        [
            (
                10,
                "mail.test.lan".into(),
                Some(Ipv4Address([10, 9, 0, 25]))
            ),
            (
                20,
                "backup.test.lan".into(),
                Some(Ipv4Address([10, 9, 0, 26]))
            ),
        ]
    );
}

#[test]
fn cname_restart_queries_the_target() {
    let mut b = Bench::new();
    let h = b.dns().query("alias.test.lan", QueryType::A).unwrap();
    let q = b.expect_sent(53, 10);
    let r = reply(
        &q.payload,
        0x8180,
        1,
        &record(&ptr(12), 5, &[4, b'h', b'o', b's', b't', 0xc0, 18]),
    );
    b.inject(&udp_frame(SERVER, DUT_IP, 53, q.sport, &r));
    let q2 = b.expect_sent(53, 10);
    assert_eq!(
        &q2.payload[12..q2.payload.len() - 4],
        b"\x04host\x04test\x03lan\x00"
    );
    let r2 = reply(&q2.payload, 0x8180, 1, &a_record(&[0xc0, 12], GOOD));
    b.inject(&udp_frame(SERVER, DUT_IP, 53, q2.sport, &r2));
    assert_eq!(b.a_result(h), Poll::Ready(Ok(Ipv4Address(GOOD))));
}

#[test]
fn dns_over_a_lossy_wire() {
    let mut b = Bench::new();
    b.wire.set_faults(Faults {
        loss: 0.2,
        duplicate: 0.1,
        ..Faults::none()
    });
    let mut answered = 0;
    for i in 0..20 {
        let h = b
            .dns()
            .query(&format!("n{i}.test.lan"), QueryType::A)
            .unwrap();
        for _ in 0..3500 {
            b.run(1);
            while let Some(j) = b.sent.iter().position(|s| s.dport == 53) {
                let q = b.sent.remove(j);
                let r = reply(&q.payload, 0x8180, 1, &a_record(&[0xc0, 12], GOOD));
                b.peer
                    .send_frame(&udp_frame(SERVER, DUT_IP, 53, q.sport, &r))
                    .unwrap();
            }
            if b.a_result(h) != Poll::Pending {
                break;
            }
        }
        match b.a_result(h) {
            Poll::Ready(Ok(a)) => {
                assert_eq!(a, Ipv4Address(GOOD));
                answered += 1;
            }
            Poll::Ready(Err(DnsError::Timeout)) => {}
            other => panic!("query {i}: {other:?}"),
        }
        b.dns().release(h);
    }
    // Three attempts at 20 % loss each way: nearly all answered.
    assert!(answered >= 16, "{answered} of 20 answered");
}

fn ntp_reply(request: &[u8], first: u8, stratum: u8, ref_id: &[u8; 4], xmit: u64) -> Vec<u8> {
    let mut r = vec![0u8; 48];
    r[0] = first;
    r[1] = stratum;
    r[12..16].copy_from_slice(ref_id);
    r[24..32].copy_from_slice(&request[40..48]);
    r[32..40].copy_from_slice(&xmit.to_be_bytes());
    r[40..48].copy_from_slice(&xmit.to_be_bytes());
    r
}

#[test]
fn sntp_by_name_resolves_through_dns() {
    let mut b = Bench::new();
    b.stack.sntp().request("ntp.test.lan").unwrap();
    let q = b.expect_sent(53, 10);
    assert_eq!(
        &q.payload[12..q.payload.len() - 4],
        b"\x03ntp\x04test\x03lan\x00"
    );
    let r = reply(&q.payload, 0x8180, 1, &a_record(&[0xc0, 12], OTHER));
    b.inject(&udp_frame(SERVER, DUT_IP, 53, q.sport, &r));
    let req = b.expect_sent(123, 20);
    assert_eq!(req.dst, OTHER);
    assert_eq!(req.payload.len(), 48);
    assert_eq!(req.payload[0], 0x23, "LI 0, version 4, mode 3");
    // 2040-01-01T00:00:00Z is in era 1.
    let secs_2040: u64 = 2_208_988_800 + 2_208_988_800 - (1u64 << 32);
    let xmit = secs_2040 << 32;
    let r = ntp_reply(&req.payload, 0x24, 3, b"GPS\0", xmit);
    b.inject(&udp_frame(OTHER, DUT_IP, 123, req.sport, &r));
    let t = b.stack.sntp().last().expect("synced");
    assert_eq!(t.stratum, 3);
    assert_eq!(t.time.era(), 1);
    assert_eq!(t.unix_secs(), 2_208_988_800);
    assert!(matches!(
        b.sntp_events()[..],
        [SntpEvent::Sent { .. }, SntpEvent::Synced(_)]
    ));
    // The DNS slot went back.
    assert!(b.dns().query("x", QueryType::A).is_ok());
    assert!(b.dns().query("y", QueryType::A).is_ok());
}

#[test]
fn sntp_step_timeouts() {
    // Resolve: the DNS server never answers (3 attempts of 1 s), but the
    // SNTP step allows 2 s.
    let mut b = Bench::new();
    b.stack.sntp().request("ntp.test.lan").unwrap();
    b.run(2100);
    assert_eq!(
        b.sntp_events(),
        [SntpEvent::Failed(SntpFailure::Timeout(SntpStep::Resolve))]
    );
    // The abandoned query's slot was freed.
    b.run(3000);
    assert!(b.dns().query("x", QueryType::A).is_ok());
    assert!(b.dns().query("y", QueryType::A).is_ok());

    // ARP: nobody has the address.
    let mut b = Bench::new();
    b.stack.sntp().request_addr(Ipv4Address(SILENT));
    b.run(2100);
    assert_eq!(
        b.sntp_events(),
        [SntpEvent::Failed(SntpFailure::Timeout(SntpStep::Arp))]
    );
    assert!(b.sent.is_empty());

    // Reply: the request goes out, nothing comes back.
    let mut b = Bench::new();
    b.stack.sntp().request("10.9.0.1").unwrap();
    b.run(2100);
    assert!(matches!(
        b.sntp_events()[..],
        [
            SntpEvent::Sent { .. },
            SntpEvent::Failed(SntpFailure::Timeout(SntpStep::Reply))
        ]
    ));

    // A name with DNS failing: the DNS error is the SNTP failure.
    let mut b = Bench::new();
    b.stack.sntp().request("nope.test.lan").unwrap();
    let q = b.expect_sent(53, 10);
    let r = reply(&q.payload, 0x8183, 0, &[]);
    b.inject(&udp_frame(SERVER, DUT_IP, 53, q.sport, &r));
    b.run(2);
    assert_eq!(
        b.sntp_events(),
        [SntpEvent::Failed(SntpFailure::Resolve(DnsError::NameError))]
    );
}

#[test]
fn sntp_rejects_spoofs_and_reports_kiss_and_leap() {
    let mut b = Bench::new();
    b.stack.sntp().request("10.9.0.1").unwrap();
    let req = b.expect_sent(123, 10);
    let now_ts = 0xe000_0000u64 << 32;
    let mut bad_origin = ntp_reply(&req.payload, 0x24, 2, &[0; 4], now_ts);
    bad_origin[31] ^= 1;
    for (frame, why) in [
        (
            udp_frame(SERVER, DUT_IP, 123, req.sport, &bad_origin),
            emberstack::sntp::SntpReject::BadOrigin,
        ),
        (
            udp_frame(
                OTHER,
                DUT_IP,
                123,
                req.sport,
                &ntp_reply(&req.payload, 0x24, 2, &[0; 4], now_ts),
            ),
            emberstack::sntp::SntpReject::WrongSource,
        ),
        (
            udp_frame(
                SERVER,
                DUT_IP,
                123,
                req.sport,
                &ntp_reply(&req.payload, 0x23, 2, &[0; 4], now_ts),
            ),
            emberstack::sntp::SntpReject::BadMode,
        ),
        (
            udp_frame(
                SERVER,
                DUT_IP,
                123,
                req.sport,
                &ntp_reply(&req.payload, 0x24, 2, &[0; 4], now_ts)[..40],
            ),
            emberstack::sntp::SntpReject::Truncated,
        ),
    ] {
        b.inject(&frame);
        assert_eq!(b.sntp_events().last(), Some(&SntpEvent::Rejected(why)));
        assert!(b.stack.sntp().busy(), "{why:?}: still waiting");
    }
    assert_eq!(b.stack.sntp().counters().rejected, 4);
    let kod = ntp_reply(&req.payload, 0x24, 0, b"RATE", now_ts);
    b.inject(&udp_frame(SERVER, DUT_IP, 123, req.sport, &kod));
    assert_eq!(
        b.sntp_events().last(),
        Some(&SntpEvent::Failed(SntpFailure::KissOfDeath(*b"RATE")))
    );
    assert!(b.stack.sntp().last().is_none());

    b.stack.sntp().request("10.9.0.1").unwrap();
    let req = b.expect_sent(123, 10);
    let li3 = ntp_reply(&req.payload, 0xe4, 2, &[0; 4], now_ts);
    b.inject(&udp_frame(SERVER, DUT_IP, 123, req.sport, &li3));
    assert_eq!(
        b.sntp_events().last(),
        Some(&SntpEvent::Failed(SntpFailure::Unsynchronised))
    );
    assert!(b.stack.sntp().last().is_none());
}

#[test]
fn netbios_answers_its_name_only() {
    let mut b = Bench::new();
    let query = |name: &[u8], flags: u16| {
        let mut q = vec![0x12, 0x34];
        q.extend(flags.to_be_bytes());
        q.extend([0, 1, 0, 0, 0, 0, 0, 0, 32]);
        q.extend(netbios::encode_name(name, 0));
        q.extend([0, 0, 32, 0, 1]);
        q
    };
    b.inject(&udp_frame(SERVER, DUT_IP, 40000, 137, &query(b"ember", 0)));
    let r = b.expect_sent(40000, 5);
    assert_eq!(r.sport, 137);
    // QR and AA; RD only when the query had it.
    assert_eq!(&r.payload[..4], &[0x12, 0x34, 0x84, 0x00]);
    assert_eq!(&r.payload[r.payload.len() - 4..], &DUT_IP);
    b.inject(&udp_frame(
        SERVER,
        [10, 9, 0, 255],
        137,
        137,
        &query(b"EMBER", 0x0110),
    ));
    let r = b.expect_sent(137, 5);
    assert_eq!(r.dst, SERVER, "a broadcast query is answered to the asker");
    assert_eq!(&r.payload[2..4], &[0x85, 0x00], "RD echoed");
    // Another name, another suffix, a malformed packet: no answer.
    b.inject(&udp_frame(SERVER, DUT_IP, 40000, 137, &query(b"EMBERS", 0)));
    let mut suffix = query(b"EMBER", 0);
    suffix[43] = b'C'; // suffix 0x20 (file server)
    b.inject(&udp_frame(SERVER, DUT_IP, 40000, 137, &suffix));
    b.inject(&udp_frame(
        SERVER,
        DUT_IP,
        40000,
        137,
        &query(b"EMBER", 0)[..30],
    ));
    b.run(5);
    assert!(b.sent.is_empty(), "{:?}", b.sent);
    let c = *b.stack.netbios().counters();
    assert_eq!((c.answered, c.ignored, c.malformed), (2, 2, 1));
    assert!(b.app.events.iter().any(|e| matches!(
        e,
        Event::NetBios(NetBiosEvent::Answered {
            broadcast: true,
            ..
        })
    )));
}

/// The services' counters are 16-bit (notes-state.md): after 65,536 of
/// one kind the count starts again at 0, nothing saturates or panics, and
/// the service keeps working.
#[test]
fn service_counters_wrap_at_65536() {
    let mut b = Bench::new();
    let h = b.dns().query("www.test.lan", QueryType::A).unwrap();
    let q = b.expect_sent(53, 50);
    let good = reply(&q.payload, 0x8180, 1, &a_record(&[0xc0, 12], GOOD));
    let spoof = udp_frame(OTHER, DUT_IP, 53, q.sport, &good);
    b.inject_repeatedly(&spoof, 65_535);
    assert_eq!(b.dns().counters().rejected(DnsReject::WrongSource), 65_535);
    b.inject_repeatedly(&spoof, 2);
    assert_eq!(b.dns().counters().rejected(DnsReject::WrongSource), 1);
    assert_eq!(b.a_result(h), Poll::Pending, "the query still waits");
    b.inject(&udp_frame(SERVER, DUT_IP, 53, q.sport, &good));
    assert_eq!(b.a_result(h), Poll::Ready(Ok(Ipv4Address(GOOD))));
    assert_eq!(b.dns().counters().accepted, 1);

    b.stack.sntp().request("10.9.0.1").unwrap();
    let req = b.expect_sent(123, 10);
    let now_ts = 0xe000_0000u64 << 32;
    let mut bad_origin = ntp_reply(&req.payload, 0x24, 2, &[0; 4], now_ts);
    bad_origin[31] ^= 1;
    b.inject_repeatedly(
        &udp_frame(SERVER, DUT_IP, 123, req.sport, &bad_origin),
        65_537,
    );
    assert_eq!(b.stack.sntp().counters().rejected, 1);
    assert!(b.stack.sntp().busy(), "still waiting for the answer");
    let ok = ntp_reply(&req.payload, 0x24, 2, &[0; 4], now_ts);
    b.inject(&udp_frame(SERVER, DUT_IP, 123, req.sport, &ok));
    assert_eq!(b.stack.sntp().counters().synced, 1);
    assert!(b.stack.sntp().last().is_some());

    let mut other_name = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 32];
    other_name.extend(netbios::encode_name(b"EMBERS", 0));
    other_name.extend([0, 0, 32, 0, 1]);
    b.inject_repeatedly(&udp_frame(SERVER, DUT_IP, 40000, 137, &other_name), 65_537);
    assert_eq!(b.stack.netbios().counters().ignored, 1);
    b.sent.clear();
    let mut ours = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 32];
    ours.extend(netbios::encode_name(b"EMBER", 0));
    ours.extend([0, 0, 32, 0, 1]);
    b.inject(&udp_frame(SERVER, DUT_IP, 40000, 137, &ours));
    b.expect_sent(40000, 5);
    assert_eq!(b.stack.netbios().counters().answered, 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Random bytes as the reply (right id, port and source) never panic;
    /// each is accepted once or rejected, and the query then still takes
    /// the real answer unless a random reply already ended it.
    #[test]
    fn random_replies_never_panic(
        tail in prop::collection::vec(any::<u8>(), 0..120),
        keep_question in any::<bool>(),
        counts in any::<[u8; 8]>(),
    ) {
        let mut b = Bench::new();
        let h = b.dns().query("www.test.lan", QueryType::Mx).unwrap();
        let q = b.expect_sent(53, 10);
        let mut r = if keep_question { q.payload.clone() } else { q.payload[..12].to_vec() };
        r[2] = 0x81;
        r[3] = 0x80;
        r[4..12].copy_from_slice(&counts);
        r[4] = 0;
        r[5] = 1;
        r.extend(&tail);
        b.inject(&udp_frame(SERVER, DUT_IP, 53, q.sport, &r));
        let c = *b.dns().counters();
        prop_assert_eq!(c.accepted + c.rejected.iter().sum::<u16>(), 1);
        b.run(5);
        // Whatever happened, the stack still answers NetBIOS.
        let mut nq = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 32];
        nq.extend(netbios::encode_name(b"EMBER", 0));
        nq.extend([0, 0, 32, 0, 1]);
        b.inject(&udp_frame(SERVER, DUT_IP, 40000, 137, &nq));
        b.expect_sent(40000, 5);
        let _ = b.dns().result(h);
    }
}

/// The DNS client's wake-up time (`Service::poll_at`) at each step of a
/// query: the answer's deadline while waiting; while a send cannot go out
/// (no ARP answer), the next try, but never past the attempt's end; right
/// after an attempt ran out, at once (the retry); nothing once answered.
#[test]
fn dns_wakes_the_stack_when_its_next_step_is_due() {
    use emberstack::service::Service;
    let at = |ms: u64| Some(Instant::from_millis(ms));
    let mut b = Bench::new();
    assert_eq!(b.dns().poll_at(), None, "idle");
    // Waiting for the answer: the attempt's end (1 s after the send).
    let h = b.dns().query("wake.test.lan", QueryType::A).unwrap();
    let sent = b.expect_sent(53, 10);
    assert_eq!(b.dns().poll_at(), at(b.now + 1000));
    b.run(400);
    assert_eq!(b.dns().poll_at(), at(b.now + 600));
    let good = reply(&sent.payload, 0x8180, 1, &a_record(&[0xc0, 12], GOOD));
    b.inject(&udp_frame(SERVER, DUT_IP, 53, sent.sport, &good));
    assert_eq!(b.a_result(h), Poll::Ready(Ok(Ipv4Address(GOOD))));
    assert_eq!(b.dns().poll_at(), None, "answered");
    // A server nobody answers ARP for: each failed send retries 200 ms
    // later, capped by the attempt's end.
    let mut settings = b.dns().settings();
    settings.server = Some(Ipv4Address(SILENT));
    b.dns().set_settings(settings);
    let h = b.dns().query("wake.test.lan", QueryType::A).unwrap();
    b.run(1);
    let t0 = b.now;
    assert_eq!(b.dns().poll_at(), at(t0 + 200));
    b.run(500);
    assert_eq!(b.dns().poll_at(), at(b.now + 200));
    b.run(350);
    assert_eq!(b.dns().poll_at(), at(t0 + 1000), "capped by the deadline");
    // The attempt ran out: the retry is due at once, and its send fails
    // again.
    b.run(150);
    assert_eq!(b.now, t0 + 1000);
    assert_eq!(b.dns().poll_at(), at(b.now), "retry at once");
    b.run(1);
    assert_eq!(b.dns().poll_at(), at(b.now + 200));
    b.dns().release(h);
    assert_eq!(b.dns().poll_at(), None, "released");
}
