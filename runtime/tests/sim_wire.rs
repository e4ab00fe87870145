//! Two stacks on the simulated wire: ARP and ping under seeded loss, with
//! one endpoint on a `LengthFirst` (FIFO) controller and the other on a
//! `Rewrite` one, so both egress paths meet each other.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use emberstack::config::StaticIpv4;
use emberstack::iface::arp::ArpEntry;
use emberstack::iface::{Event, SendError};
use emberstack::nic::sim::{Faults, SimNic, SimWire};
use emberstack::tcp::{SentSegment, TcpSocket};
use emberstack::udp::UdpSocket;
use emberstack::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};
use emberstack::{App, Instant, Stack};

macro_rules! sim_config {
    ($name:ident, $mac:expr, $ip:expr) => {
        emberstack::test_config! {
            struct $name;
            const DEVICE_NAME: &'static str = stringify!($name);
            const MAC: EthernetAddress = EthernetAddress($mac);
            const STATIC_IPV4: Option<StaticIpv4> = Some(StaticIpv4 {
                cidr: Ipv4Cidr::new(Ipv4Address($ip), 24),
                gateway: None,
                dns: None,
            });
            type ArpCache = [ArpEntry; 4];
            type UdpSockets = [UdpSocket; 2];
            type TcpSockets = [TcpSocket; 2];
            type TcpSegments = [SentSegment; 2];
        }
    };
}
sim_config!(Left, [2, 0, 0, 0, 0, 1], [10, 9, 0, 1]);
sim_config!(Right, [2, 0, 0, 0, 0, 2], [10, 9, 0, 2]);

#[derive(Default)]
struct Recorder {
    events: Vec<Event>,
    rng: u32,
}

impl App for Recorder {
    fn random_u32(&mut self) -> u32 {
        self.rng = self.rng.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        self.rng
    }
    fn event(&mut self, event: Event) {
        self.events.push(event);
    }
}

impl Recorder {
    fn replies(&self, seq: u16) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::EchoReplyReceived { seq_no, .. } if *seq_no == seq))
            .count()
    }
}

struct Pair {
    wire: SimWire,
    left: Stack<Left>,
    right: Stack<Right>,
    left_nic: SimNic<true>,
    right_nic: SimNic,
    left_app: Recorder,
    right_app: Recorder,
    now: u64,
}

impl Pair {
    fn new(seed: u64, faults: Faults) -> Pair {
        let wire = SimWire::new(seed, faults);
        Pair {
            left_nic: wire.endpoint_length_first(),
            right_nic: wire.endpoint(),
            wire,
            left: Stack::new(),
            right: Stack::new(),
            left_app: Recorder::default(),
            right_app: Recorder::default(),
            now: 0,
        }
    }

    /// Advances virtual time by `ms`, polling both stacks every millisecond.
    fn run(&mut self, ms: u64) {
        for _ in 0..ms {
            self.now += 1;
            self.wire.set_now(self.now);
            let t = Instant::from_millis(self.now);
            while self.left.poll(t, &mut self.left_nic, &mut self.left_app)
                | self.right.poll(t, &mut self.right_nic, &mut self.right_app)
            {}
        }
    }

    fn ping(&mut self, seq: u16, data: &[u8]) -> Result<(), SendError> {
        let t = Instant::from_millis(self.now);
        self.left.io(&mut self.left_nic, t).send_echo_request(
            Ipv4Address([10, 9, 0, 2]),
            0x4242,
            seq,
            data,
        )
    }
}

fn payload(seq: u16) -> Vec<u8> {
    (0..(seq as usize * 29) % 1400)
        .map(|i| (i as u16 ^ seq) as u8)
        .collect()
}

#[test]
fn ping_over_clean_wire_resolves_arp_first() {
    let mut p = Pair::new(1, Faults::none());
    p.run(5); // gratuitous ARPs
    assert_eq!(p.ping(1, b"hello"), Err(SendError::ArpPending));
    p.run(5);
    assert_eq!(p.ping(1, b"hello"), Ok(()));
    p.run(5);
    assert_eq!(p.left_app.replies(1), 1);
    assert_eq!(p.left_nic.contract_violations(), 0);
    assert_eq!(p.right_nic.contract_violations(), 0);
}

#[test]
fn arp_and_ping_under_twenty_percent_loss() {
    let faults = Faults {
        loss: 0.20,
        ..Faults::none()
    };
    let mut p = Pair::new(0x5eed, faults);
    p.run(5);
    let mut attempts_total = 0;
    for seq in 1..=100u16 {
        let data = payload(seq);
        let mut answered = false;
        // Bounded retries: each attempt waits 250 ms of virtual time (ARP
        // asks at most once a second, so a lost ARP costs up to 4 attempts).
        for _attempt in 0..20 {
            attempts_total += 1;
            match p.ping(seq, &data) {
                Ok(()) | Err(SendError::ArpPending) => {}
                Err(e) => panic!("ping {seq}: {e:?}"),
            }
            p.run(250);
            if p.left_app.replies(seq) > 0 {
                answered = true;
                break;
            }
        }
        assert!(answered, "ping {seq} unanswered after 20 attempts");
    }
    let stats = p.wire.stats();
    assert!(stats.dropped > 0, "the wire dropped frames: {stats:?}");
    assert!(attempts_total > 100, "loss forced retries");
    assert_eq!(p.left_nic.contract_violations(), 0);
    assert_eq!(p.right_nic.contract_violations(), 0);
    // Every echo the right side answered carried the request's payload;
    // a corrupted one would have failed the left side's checksum check.
    assert_eq!(p.left.counters().dropped_total(), 0);
}

#[test]
fn corrupted_frames_are_dropped_and_counted_never_answered_wrongly() {
    let faults = Faults {
        corrupt: 0.3,
        ..Faults::none()
    };
    let mut p = Pair::new(7, faults);
    p.run(5);
    for seq in 1..=200u16 {
        let _ = p.ping(seq, &payload(seq));
        p.run(20);
    }
    let c = p.right.counters();
    let l = p.left.counters();
    assert!(
        c.dropped_total() + l.dropped_total() > 0,
        "corruption was detected and counted"
    );
    // Nothing corrupt was delivered as an echo reply event with a wrong
    // length: every reply's length matches what was sent for that seq.
    for e in &p.left_app.events {
        if let Event::EchoReplyReceived { seq_no, len, .. } = e {
            assert_eq!(*len, payload(*seq_no).len(), "reply {seq_no} length");
        }
    }
    // And the stacks still answer on a clean wire afterwards.
    p.wire.set_faults(Faults::none());
    p.run(1100);
    for attempt in 0..3 {
        let _ = p.ping(999, b"after");
        p.run(20);
        if p.left_app.replies(999) > 0 {
            break;
        }
        assert!(attempt < 2, "no answer after corruption stopped");
    }
}
