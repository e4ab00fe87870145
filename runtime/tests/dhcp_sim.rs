//! The DHCP client on the simulated wire against a scripted server, with a
//! virtual clock: the whole lease life cycle (T1, T2, expiry) runs in
//! milliseconds of real time.
//!
//! The server is a plain endpoint on the wire that parses what the device
//! sends (with `wire::dhcp::Repr`) and answers as each test tells it to:
//! OFFER/ACK, NAK, silence, or replies with a wrong xid / chaddr / cookie.
//! It also answers ARP for its addresses, so unicast renewals work.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use emberstack::config::StaticIpv4;
use emberstack::dhcp::{DhcpClient, DhcpEvent, DhcpSettings, DhcpState};
use emberstack::iface::Event;
use emberstack::nic::sim::{Faults, SimNic, SimWire};
use emberstack::nic::Nic;
use emberstack::udp::UdpSocket;
use emberstack::wire::build::{self, Ipv4Frame};
use emberstack::wire::dhcp::{self, MessageType, Packet, Repr};
use emberstack::wire::{arp, EthernetAddress, Ipv4Address, Ipv4Cidr};
use emberstack::{App, Config, Duration, Instant, Stack};

const DUT_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);
const SERVER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
/// The server identifier (option 54).
const SERVER_ID: Ipv4Address = Ipv4Address([10, 9, 0, 1]);
/// A relay agent's address: the IP source of relayed replies.
const RELAY: Ipv4Address = Ipv4Address([10, 9, 0, 254]);
const ROUTER: Ipv4Address = Ipv4Address([10, 9, 0, 1]);
const DNS: Ipv4Address = Ipv4Address([10, 9, 0, 53]);
const NTP: Ipv4Address = Ipv4Address([10, 9, 0, 123]);
const POOL: Ipv4Address = Ipv4Address([10, 9, 0, 100]);
const FALLBACK: StaticIpv4 = StaticIpv4 {
    cidr: Ipv4Cidr::new(Ipv4Address([10, 9, 0, 77]), 24),
    gateway: Some(ROUTER),
    dns: None,
};
const SEC: u64 = 1000;

macro_rules! dut_config {
    ($name:ident, $base:expr, $max:expr) => {
        dut_config!($name, $base, $max, 0);
    };
    ($name:ident, $base:expr, $max:expr, $probes:expr) => {
        emberstack::test_config! {
            struct $name;
            const DEVICE_NAME: &'static str = "DUT";
            const MAC: EthernetAddress = DUT_MAC;
            const DHCP: bool = true;
            const STATIC_IPV4: Option<StaticIpv4> = Some(FALLBACK);
            const ARP_LIFETIME: Duration = Duration::from_secs(600);
            type UdpSockets = [UdpSocket; 1];
            type Dhcp = DhcpClient<Self>;
        }
        impl DhcpSettings for $name {
            const RETRANSMIT_BASE: Duration = Duration::from_secs($base);
            const RETRANSMIT_MAX: Duration = Duration::from_secs($max);
            const ARP_PROBES: u8 = $probes;
        }
    };
}
dut_config!(Dut, 4, 64);
dut_config!(Quick, 1, 8);
dut_config!(Prober, 4, 64, 2);

/// The device's application: records events with their (virtual) time.
#[derive(Default)]
struct Recorder {
    now: u64,
    rng: u64,
    events: Vec<(u64, DhcpEvent)>,
    links: Vec<(u64, bool)>,
}

impl App for Recorder {
    fn random_u32(&mut self) -> u32 {
        self.rng = self
            .rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.rng >> 32) as u32
    }
    fn event(&mut self, event: Event) {
        match event {
            Event::Dhcp(e) => self.events.push((self.now, e)),
            Event::Link { up } => self.links.push((self.now, up)),
            _ => {}
        }
    }
}

/// A change made to the bytes of each reply before it is sent.
type Tamper = fn(&mut Vec<u8>);

/// How the server answers a REQUEST.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Answer {
    Ack,
    Nak,
    Silent,
}

/// A frame the device sent, as the server heard it.
struct Heard {
    at: u64,
    frame: Vec<u8>,
}

impl Heard {
    fn ethertype(&self) -> u16 {
        u16::from_be_bytes([self.frame[12], self.frame[13]])
    }
    fn eth_dst(&self) -> EthernetAddress {
        EthernetAddress(self.frame[0..6].try_into().unwrap())
    }
    fn ip_src(&self) -> Ipv4Address {
        Ipv4Address(self.frame[26..30].try_into().unwrap())
    }
    fn ip_dst(&self) -> Ipv4Address {
        Ipv4Address(self.frame[30..34].try_into().unwrap())
    }
    /// ARP sender protocol address.
    fn arp_sender(&self) -> Ipv4Address {
        Ipv4Address(self.frame[28..32].try_into().unwrap())
    }
    fn arp_target(&self) -> Ipv4Address {
        Ipv4Address(self.frame[38..42].try_into().unwrap())
    }
    fn is_dhcp(&self) -> bool {
        self.ethertype() == 0x0800
            && self.frame[23] == 17
            && u16::from_be_bytes([self.frame[36], self.frame[37]]) == dhcp::SERVER_PORT
    }
    fn dhcp(&self) -> Repr<'_> {
        let udp_len = u16::from_be_bytes([self.frame[38], self.frame[39]]) as usize;
        let msg = &self.frame[42..34 + udp_len];
        Repr::parse(&Packet::new_checked(msg).unwrap()).unwrap()
    }
}

struct Server {
    nic: SimNic,
    /// IP source of the server's replies (the relay's when relayed).
    src: Ipv4Address,
    /// Option 54 in replies.
    id: Ipv4Address,
    lease: u32,
    t1: Option<u32>,
    t2: Option<u32>,
    discover: bool,
    request: Answer,
    renew: Answer,
    /// Applied to each reply's DHCP bytes before it is sent.
    tamper: Option<Tamper>,
    /// Put the message type and server id into `file` (option overload).
    overload: bool,
    /// Leave the server identifier (option 54) out of ACKs and NAKs.
    no_id: bool,
    /// An address another host on the wire holds: ARP requests (probes
    /// included) for it are answered.
    holder: Option<Ipv4Address>,
    heard: Vec<Heard>,
}

impl Server {
    fn new(nic: SimNic) -> Server {
        Server {
            nic,
            src: SERVER_ID,
            id: SERVER_ID,
            lease: 120,
            t1: None,
            t2: None,
            discover: true,
            request: Answer::Ack,
            renew: Answer::Ack,
            tamper: None,
            overload: false,
            no_id: false,
            holder: None,
            heard: Vec::new(),
        }
    }

    /// Handles every frame that has arrived; true when there was one.
    fn step(&mut self, now: u64) -> bool {
        let mut any = false;
        while let Some(frame) = self.nic.recv_frame() {
            any = true;
            let h = Heard { at: now, frame };
            if h.ethertype() == 0x0806 && h.frame[21] == 1 {
                let target = h.arp_target();
                if target == self.id || target == self.src || Some(target) == self.holder {
                    let reply = arp_reply(&h.frame, target);
                    self.nic.send_frame(&reply).unwrap();
                }
            } else if h.is_dhcp() {
                if let Some(reply) = self.answer(&h.dhcp()) {
                    self.nic.send_frame(&reply).unwrap();
                }
            }
            self.heard.push(h);
        }
        any
    }

    fn answer(&self, req: &Repr<'_>) -> Option<Vec<u8>> {
        let renewing = !req.client_ip.is_unspecified();
        let kind = match req.message_type {
            MessageType::Discover if self.discover => MessageType::Offer,
            MessageType::Request => {
                let answer = if renewing { self.renew } else { self.request };
                match answer {
                    Answer::Ack => MessageType::Ack,
                    Answer::Nak => MessageType::Nak,
                    Answer::Silent => return None,
                }
            }
            _ => return None,
        };
        let granted = kind != MessageType::Nak;
        let reply = Repr {
            broadcast: req.broadcast,
            client_ip: req.client_ip,
            your_ip: if granted {
                POOL
            } else {
                Ipv4Address::UNSPECIFIED
            },
            // dnsmasq puts itself in siaddr; a relayed reply may have the
            // relay here. The client must use option 54.
            server_ip: self.src,
            relay_agent_ip: Ipv4Address::UNSPECIFIED,
            server_identifier: Some(self.id).filter(|_| !self.no_id || kind == MessageType::Offer),
            subnet_mask: granted.then_some(Ipv4Address([255, 255, 255, 0])),
            router: granted.then_some(ROUTER),
            dns_server: granted.then_some(DNS),
            ntp_server: granted.then_some(NTP),
            lease_duration: granted.then_some(self.lease),
            renew_duration: self.t1.filter(|_| granted),
            rebind_duration: self.t2.filter(|_| granted),
            ..Repr::new(kind, req.transaction_id, req.client_hardware_address)
        };
        let mut msg = Vec::new();
        reply.emit(&mut |b| msg.extend_from_slice(b));
        if self.overload {
            // Options field: "overload file", then the rest; the type and
            // server id move into `file`.
            let opts = dhcp::OPTIONS_OFFSET;
            assert_eq!(&msg[opts..opts + 3], &[53, 1, u8::from(kind)]);
            assert_eq!(msg[opts + 3], 54);
            let mut file = msg[opts..opts + 9].to_vec();
            file.push(255);
            msg[dhcp::FILE_RANGE.start..dhcp::FILE_RANGE.start + file.len()].copy_from_slice(&file);
            msg[opts..opts + 9].copy_from_slice(&[52, 1, 1, 0, 0, 0, 0, 0, 0]);
        }
        if let Some(t) = self.tamper {
            t(&mut msg);
        }
        let unicast = !req.broadcast && renewing;
        let (dst_mac, dst_ip) = if unicast {
            (req.client_hardware_address, req.client_ip)
        } else {
            (EthernetAddress::BROADCAST, Ipv4Address::BROADCAST)
        };
        Some(udp_frame(dst_mac, self.src, dst_ip, &msg))
    }

    fn dhcp_heard(&self) -> Vec<&Heard> {
        self.heard.iter().filter(|h| h.is_dhcp()).collect()
    }

    /// (time, message type, xid) of every DHCP message heard.
    fn messages(&self) -> Vec<(u64, MessageType, u32)> {
        self.dhcp_heard()
            .iter()
            .map(|h| {
                let r = h.dhcp();
                (h.at, r.message_type, r.transaction_id)
            })
            .collect()
    }
}

/// A DHCP message from the server (`src`) to the client's port.
fn udp_frame(dst_mac: EthernetAddress, src: Ipv4Address, dst: Ipv4Address, msg: &[u8]) -> Vec<u8> {
    let frame = Ipv4Frame {
        ident: 1,
        dont_frag: false,
        ..Ipv4Frame::new(SERVER_MAC, src, dst_mac, dst)
    };
    frame.udp(dhcp::SERVER_PORT, dhcp::CLIENT_PORT, msg)
}

/// The server's answer to the ARP request in `request` (a frame): `ip` is
/// at the server's MAC.
fn arp_reply(request: &[u8], ip: Ipv4Address) -> Vec<u8> {
    let asked = arp::Repr::parse(&arp::Packet::new_unchecked(&request[14..])).unwrap();
    build::arp_reply(&asked, SERVER_MAC, ip)
}

/// The device, the server and the virtual clock.
struct Bench<C: Config, N: Nic> {
    wire: SimWire,
    nic: N,
    stack: Stack<C>,
    app: Recorder,
    server: Server,
    now: u64,
    /// `Stack::poll` calls so far (a spinning stack makes many).
    polls: u64,
}

fn bench<C: Config>() -> Bench<C, SimNic> {
    let wire = SimWire::new(0xd4c9, Faults::none());
    Bench {
        nic: wire.endpoint(),
        server: Server::new(wire.endpoint()),
        wire,
        stack: Stack::new(),
        app: Recorder::default(),
        now: 0,
        polls: 0,
    }
}

impl<C: Config, N: Nic> Bench<C, N> {
    /// Runs until virtual time `end_ms`, jumping from deadline to deadline.
    fn run_until(&mut self, end_ms: u64) {
        loop {
            // Settle: both sides handle everything at this instant.
            for _ in 0..1000 {
                self.app.now = self.now;
                let t = Instant::from_millis(self.now);
                let a = self.stack.poll(t, &mut self.nic, &mut self.app);
                self.polls += 1;
                let b = self.server.step(self.now);
                if !a && !b {
                    break;
                }
            }
            if self.now >= end_ms {
                return;
            }
            let t = Instant::from_millis(self.now);
            let mut next = end_ms;
            if let Some(at) = self.stack.poll_at(t) {
                next = next.min(self.now + at.since(t).millis());
            }
            if let Some(due) = self.wire.next_due() {
                next = next.min(due);
            }
            self.now = next.max(self.now + 1);
            self.wire.set_now(self.now);
        }
    }

    fn run_for(&mut self, ms: u64) {
        self.run_until(self.now + ms);
    }

    fn events(&self) -> Vec<DhcpEvent> {
        self.app.events.iter().map(|(_, e)| *e).collect()
    }

    /// The time of the first event matching `f`.
    fn when(&self, f: impl Fn(&DhcpEvent) -> bool) -> Option<u64> {
        self.app.events.iter().find(|(_, e)| f(e)).map(|(t, _)| *t)
    }

    fn bound_at(&self) -> u64 {
        self.when(|e| matches!(e, DhcpEvent::Bound(_)))
            .expect("bound")
    }
}

impl<C: Config<Dhcp = DhcpClient<C>> + DhcpSettings, N: Nic> Bench<C, N> {
    fn state(&mut self) -> DhcpState {
        self.stack.dhcp().state()
    }
}

fn is_bound(e: &DhcpEvent) -> bool {
    matches!(e, DhcpEvent::Bound(_))
}

#[test]
fn binds_with_every_setting_from_the_server() {
    let mut b = bench::<Dut>();
    b.run_for(SEC);
    assert_eq!(b.state(), DhcpState::Bound);
    let msgs = b.server.messages();
    assert_eq!(
        msgs.iter().map(|m| m.1).collect::<Vec<_>>(),
        [MessageType::Discover, MessageType::Request]
    );
    assert_eq!(msgs[0].2, msgs[1].2, "one xid for DISCOVER and REQUEST");
    let heard = b.server.dhcp_heard();
    for h in &heard {
        let r = h.dhcp();
        assert_eq!(h.ip_src(), Ipv4Address::UNSPECIFIED, "no address yet");
        assert_eq!(h.ip_dst(), Ipv4Address::BROADCAST);
        assert_eq!(h.eth_dst(), EthernetAddress::BROADCAST);
        assert!(r.broadcast, "BROADCAST flag: we cannot receive unicast yet");
        assert_eq!(r.client_hardware_address, DUT_MAC);
        assert_eq!(r.client_ip, Ipv4Address::UNSPECIFIED);
        assert_eq!(r.hostname, Some("DUT"));
        assert_eq!(
            r.parameter_request_list,
            Some(&[1, 3, 6, 42, 51, 58, 59][..])
        );
    }
    let discover = heard[0].dhcp();
    assert_eq!(
        (discover.requested_ip, discover.server_identifier),
        (None, None)
    );
    let request = heard[1].dhcp();
    assert_eq!(request.requested_ip, Some(POOL));
    assert_eq!(request.server_identifier, Some(SERVER_ID));
    // Applied to the interface, announced, reported.
    let ipv4 = b.stack.ipv4().unwrap();
    assert_eq!(ipv4.cidr, Ipv4Cidr::new(POOL, 24));
    assert_eq!((ipv4.gateway, ipv4.dns), (Some(ROUTER), Some(DNS)));
    let lease = b.stack.dhcp().lease().unwrap();
    assert_eq!(lease.ntp, Some(NTP));
    assert_eq!(lease.server, SERVER_ID);
    assert_eq!(
        (lease.lease_secs, lease.renew_secs, lease.rebind_secs),
        (120, 60, 105),
        "T1 and T2 default to 1/2 and 7/8"
    );
    assert_eq!(
        b.events(),
        [
            DhcpEvent::Discovering,
            DhcpEvent::Offered {
                address: POOL,
                server: SERVER_ID
            },
            DhcpEvent::Bound(lease)
        ]
    );
    let gratuitous = b
        .server
        .heard
        .iter()
        .any(|h| h.ethertype() == 0x0806 && h.arp_sender() == POOL && h.arp_target() == POOL);
    assert!(gratuitous, "gratuitous ARP for the leased address");
    // Quiet until T1.
    let n = b.server.heard.len();
    b.run_until(b.bound_at() + 60 * SEC - 1);
    assert_eq!(b.server.heard.len(), n, "nothing sent before T1");
}

/// The bytes of a client message as RFC 2131 §2 lays them out, written
/// here by hand: BOOTREQUEST, Ethernet, `xid`, `secs`, the BROADCAST flag,
/// `chaddr` = our MAC, empty `sname`/`file`, the cookie, `options` in
/// order, END, zeros up to 300 bytes.
fn client_message(xid: u32, secs: u16, options: &[(u8, &[u8])]) -> Vec<u8> {
    client_message_from(xid, secs, None, options)
}

/// [`client_message`] broadcast (`ciaddr` `None`), or unicast from
/// `ciaddr` (a renewal, a RELEASE): BROADCAST clear, `ciaddr` set.
fn client_message_from(
    xid: u32,
    secs: u16,
    ciaddr: Option<Ipv4Address>,
    options: &[(u8, &[u8])],
) -> Vec<u8> {
    let mut m = vec![1, 1, 6, 0];
    m.extend_from_slice(&xid.to_be_bytes());
    m.extend_from_slice(&secs.to_be_bytes());
    m.extend_from_slice(if ciaddr.is_none() {
        &[0x80, 0]
    } else {
        &[0, 0]
    });
    m.extend_from_slice(&ciaddr.unwrap_or(Ipv4Address::UNSPECIFIED).0);
    m.extend_from_slice(&[0; 12]); // yiaddr, siaddr, giaddr
    m.extend_from_slice(&DUT_MAC.0);
    m.extend_from_slice(&[0; 10 + 64 + 128]);
    m.extend_from_slice(&[99, 130, 83, 99]);
    for (code, value) in options {
        m.extend_from_slice(&[*code, value.len() as u8]);
        m.extend_from_slice(value);
    }
    m.push(255);
    m.resize(300, 0);
    m
}

#[test]
fn discover_and_request_are_byte_for_byte_the_rfc_layout() {
    let mut b = bench::<Dut>();
    b.run_for(SEC);
    assert_eq!(b.state(), DhcpState::Bound);
    let heard = b.server.dhcp_heard();
    assert_eq!(heard.len(), 2);
    let params: &[u8] = &[1, 3, 6, 42, 51, 58, 59];
    let expected = [
        vec![(53, &[1][..]), (12, b"DUT"), (55, params)],
        vec![
            (53, &[3][..]),
            (50, &POOL.0),
            (54, &SERVER_ID.0),
            (12, b"DUT"),
            (55, params),
        ],
    ];
    for (h, options) in heard.iter().zip(expected) {
        let udp_len = u16::from_be_bytes([h.frame[38], h.frame[39]]) as usize;
        let msg = &h.frame[42..34 + udp_len];
        let r = h.dhcp();
        assert_eq!(
            msg,
            &client_message(r.transaction_id, r.secs, &options)[..],
            "{:?}",
            r.message_type
        );
    }
}

/// The unicast messages too (the client writes its messages itself,
/// `wire::dhcp::emit_message` writes the scripted server's): the renewal
/// REQUEST (`ciaddr`, no BROADCAST, no options 50 and 54) and the RELEASE
/// (`ciaddr`, option 54 only).
#[test]
fn renewal_and_release_are_byte_for_byte_the_rfc_layout() {
    let mut b = bench::<Dut>();
    b.server.lease = 30;
    b.run_for(SEC);
    let bound = b.bound_at();
    b.run_until(bound + 16 * SEC);
    b.stack.dhcp().set_enabled(false);
    b.run_for(10);
    let heard = b.server.dhcp_heard();
    let params: &[u8] = &[1, 3, 6, 42, 51, 58, 59];
    let (renew, release) = (heard[2], *heard.last().unwrap());
    for (h, options) in [
        (renew, vec![(53, &[3][..]), (12, b"DUT"), (55, params)]),
        (release, vec![(53, &[7][..]), (54, &SERVER_ID.0)]),
    ] {
        let udp_len = u16::from_be_bytes([h.frame[38], h.frame[39]]) as usize;
        let msg = &h.frame[42..34 + udp_len];
        let r = h.dhcp();
        assert_eq!(
            msg,
            &client_message_from(r.transaction_id, r.secs, Some(POOL), &options)[..],
            "{:?}",
            r.message_type
        );
    }
}

#[test]
fn binds_on_a_fifo_nic_too() {
    let wire = SimWire::new(3, Faults::none());
    let mut b = Bench::<Dut, SimNic<true>> {
        nic: wire.endpoint_length_first(),
        server: Server::new(wire.endpoint()),
        wire,
        stack: Stack::new(),
        app: Recorder::default(),
        now: 0,
        polls: 0,
    };
    b.run_for(SEC);
    assert_eq!(b.state(), DhcpState::Bound);
    assert_eq!(b.nic.contract_violations(), 0);
}

#[test]
fn renews_at_t1_by_unicast_and_the_lease_restarts() {
    let mut b = bench::<Dut>();
    b.server.lease = 30;
    b.server.t1 = Some(10);
    b.server.t2 = Some(20);
    b.run_for(SEC);
    let bound = b.bound_at();
    b.run_until(bound + 25 * SEC);
    let renewed = b
        .when(|e| matches!(e, DhcpEvent::Renewed(_)))
        .expect("renewed");
    // At T1 the server's MAC is resolved first (ARP), then the REQUEST
    // goes out on the next try, 250 ms later.
    assert!(
        renewed >= bound + 10 * SEC && renewed <= bound + 10 * SEC + 300,
        "renewed at T1: {renewed}"
    );
    let renew = b.server.dhcp_heard()[2];
    let r = renew.dhcp();
    assert_eq!(r.message_type, MessageType::Request);
    assert_eq!(renew.ip_src(), POOL);
    assert_eq!(renew.ip_dst(), SERVER_ID, "unicast to the server");
    assert_eq!(renew.eth_dst(), SERVER_MAC);
    assert_eq!(r.client_ip, POOL);
    assert!(!r.broadcast);
    assert_eq!(
        (r.requested_ip, r.server_identifier),
        (None, None),
        "RFC 2131 table 5, RENEWING"
    );
    assert_ne!(r.transaction_id, b.server.messages()[0].2, "a new exchange");
    // The second renewal is 10 s after the first: the lease counts from
    // the renewing REQUEST.
    let second = b
        .app
        .events
        .iter()
        .filter(|(_, e)| matches!(e, DhcpEvent::Renewed(_)))
        .nth(1)
        .expect("second renewal")
        .0;
    assert!(
        (second - renewed).abs_diff(10 * SEC) < 50,
        "{renewed} then {second}"
    );
    assert_eq!(b.stack.ipv4().unwrap().cidr.address, POOL);
}

#[test]
fn silent_server_rebind_at_t2_then_expiry_takes_the_address_away() {
    let mut b = bench::<Dut>();
    b.run_for(SEC);
    let bound = b.bound_at();
    b.server.renew = Answer::Silent;
    b.server.discover = false;
    b.run_until(bound + 130 * SEC);
    let renewing = b.when(|e| *e == DhcpEvent::Renewing).unwrap();
    let rebinding = b.when(|e| *e == DhcpEvent::Rebinding).unwrap();
    let expired = b
        .when(|e| *e == DhcpEvent::Expired { address: POOL })
        .unwrap();
    assert_eq!(renewing - bound, 60 * SEC, "T1 = 60 s");
    assert_eq!(rebinding - bound, 105 * SEC, "T2 = 105 s");
    assert_eq!(expired - bound, 120 * SEC, "lease = 120 s");
    let requests: Vec<&Heard> = b
        .server
        .dhcp_heard()
        .into_iter()
        .filter(|h| h.at > bound)
        .take_while(|h| h.at < expired)
        .collect();
    // Renewing: one unicast REQUEST (the next would be 60 s later, after
    // T2). Rebinding: one broadcast REQUEST (15 s left to expiry).
    assert_eq!(
        requests.len(),
        2,
        "{:?}",
        requests.iter().map(|h| h.at).collect::<Vec<_>>()
    );
    assert!(requests[0].at - renewing <= 300, "after ARP for the server");
    assert_eq!(requests[0].ip_dst(), SERVER_ID);
    assert_eq!(requests[1].at, rebinding);
    assert_eq!(requests[1].ip_dst(), Ipv4Address::BROADCAST);
    assert_eq!(requests[1].eth_dst(), EthernetAddress::BROADCAST);
    let r = requests[1].dhcp();
    assert_eq!(
        (r.client_ip, r.broadcast, r.server_identifier),
        (POOL, false, None)
    );
    // Expired: no address, and not one frame from it afterwards.
    assert_eq!(b.stack.ipv4(), None);
    assert_eq!(b.state(), DhcpState::Discovering);
    let after: Vec<&Heard> = b.server.heard.iter().filter(|h| h.at >= expired).collect();
    assert!(!after.is_empty(), "discovery restarted");
    for h in &after {
        match h.ethertype() {
            0x0800 => assert_eq!(
                h.ip_src(),
                Ipv4Address::UNSPECIFIED,
                "stale source at {}",
                h.at
            ),
            _ => assert_ne!(
                h.arp_sender(),
                POOL,
                "ARP from the stale address at {}",
                h.at
            ),
        }
    }
    // The DISCOVER after expiry asks for the old address again.
    let discover = after.iter().find(|h| h.is_dhcp()).unwrap().dhcp();
    assert_eq!(discover.message_type, MessageType::Discover);
    assert_eq!(discover.requested_ip, Some(POOL));
    // A server that answers again gives the lease back.
    b.server.discover = true;
    b.run_for(20 * SEC);
    assert_eq!(b.state(), DhcpState::Bound);
    assert_eq!(b.stack.ipv4().unwrap().cidr.address, POOL);
}

#[test]
fn rebinding_is_answered_by_any_server() {
    let mut b = bench::<Dut>();
    b.run_for(SEC);
    let bound = b.bound_at();
    // The server that granted the lease is gone (unicast renewals are
    // unanswered); another one, with its own identifier, hears broadcasts.
    b.server.renew = Answer::Silent;
    b.run_until(bound + 104 * SEC);
    assert_eq!(b.state(), DhcpState::Renewing);
    let other = Ipv4Address([10, 9, 0, 2]);
    b.server.renew = Answer::Ack;
    b.server.id = other;
    b.server.src = other;
    b.run_until(bound + 110 * SEC);
    let renewed = b.when(|e| matches!(e, DhcpEvent::Renewed(_))).unwrap();
    assert_eq!(
        renewed - bound,
        105 * SEC,
        "the broadcast REQUEST at T2 was answered"
    );
    assert_eq!(b.state(), DhcpState::Bound);
    assert_eq!(
        b.stack.dhcp().lease().unwrap().server,
        other,
        "renewals go to the new server"
    );
    assert!(b.when(|e| matches!(e, DhcpEvent::Expired { .. })).is_none());
}

#[test]
fn discover_backoff_is_4_8_16_32_64_64_plus_minus_one_second() {
    let mut b = bench::<Dut>();
    b.server.discover = false;
    b.run_until(400 * SEC);
    let msgs = b.server.messages();
    assert!(msgs.iter().all(|m| m.1 == MessageType::Discover));
    assert!(
        msgs.iter().all(|m| m.2 == msgs[0].2),
        "retransmissions keep the xid"
    );
    let gaps: Vec<u64> = msgs.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let nominal = [4, 8, 16, 32, 64, 64, 64, 64];
    assert!(gaps.len() >= 7, "{gaps:?}");
    for (gap, n) in gaps.iter().zip(nominal) {
        assert!(
            (n * SEC - SEC..=n * SEC + SEC).contains(gap),
            "gap {gap} ms, expected {n} s ± 1 s; all: {gaps:?}"
        );
    }
    // Randomized: not all exactly nominal.
    assert!(gaps.iter().zip(nominal).any(|(g, n)| *g != n * SEC));
    assert_eq!(b.state(), DhcpState::Discovering);
    assert_eq!(b.stack.ipv4(), None);
}

#[test]
fn backoff_base_and_cap_come_from_the_settings() {
    let mut b = bench::<Quick>();
    b.server.discover = false;
    b.run_until(60 * SEC);
    let msgs = b.server.messages();
    let gaps: Vec<u64> = msgs.windows(2).map(|w| w[1].0 - w[0].0).collect();
    // Base 1 s, cap 8 s; jitter ±1/4 of the delay below 4 s.
    let bounds = [
        (750, 1250),
        (1500, 2500),
        (3000, 5000),
        (7000, 9000),
        (7000, 9000),
    ];
    for (gap, (lo, hi)) in gaps.iter().zip(bounds) {
        assert!(
            (lo..=hi).contains(gap),
            "gap {gap} not in {lo}..={hi}: {gaps:?}"
        );
    }
    assert!(gaps.len() >= 8);
}

#[test]
fn unanswered_requests_fall_back_to_discovery() {
    let mut b = bench::<Dut>();
    b.server.request = Answer::Silent;
    b.run_until(70 * SEC);
    let msgs = b.server.messages();
    let kinds: Vec<MessageType> = msgs.iter().map(|m| m.1).collect();
    assert_eq!(
        kinds[..6],
        [
            MessageType::Discover,
            MessageType::Request,
            MessageType::Request,
            MessageType::Request,
            MessageType::Request,
            MessageType::Discover
        ]
    );
    // REQUEST retransmissions back off too: 4, 8, 16 (±1), then 32 ± 1
    // until discovery restarts with a new xid.
    let gaps: Vec<u64> = msgs[1..6].windows(2).map(|w| w[1].0 - w[0].0).collect();
    for (gap, n) in gaps.iter().zip([4, 8, 16, 32]) {
        assert!((n * SEC - SEC..=n * SEC + SEC).contains(gap), "{gaps:?}");
    }
    assert_ne!(msgs[5].2, msgs[0].2, "new exchange");
    assert_eq!(
        b.events()
            .iter()
            .filter(|e| **e == DhcpEvent::Discovering)
            .count(),
        2
    );
}

#[test]
fn nak_restarts_discovery_without_the_refused_address() {
    let mut b = bench::<Dut>();
    b.server.request = Answer::Nak;
    b.run_for(500);
    assert_eq!(
        b.events()[..3],
        [
            DhcpEvent::Discovering,
            DhcpEvent::Offered {
                address: POOL,
                server: SERVER_ID
            },
            DhcpEvent::Nak { server: SERVER_ID }
        ]
    );
    b.run_for(1100);
    let msgs = b.server.messages();
    assert_eq!(
        msgs[2].1,
        MessageType::Discover,
        "restarted within a second"
    );
    assert!(msgs[2].0 - msgs[1].0 <= SEC);
    assert_ne!(msgs[2].2, msgs[0].2, "new xid");
    assert_eq!(b.server.dhcp_heard()[2].dhcp().requested_ip, None);
    assert_eq!(b.stack.ipv4(), None);
    // Once the server says yes, the device binds.
    b.server.request = Answer::Ack;
    b.run_for(3 * SEC);
    assert_eq!(b.state(), DhcpState::Bound);
}

#[test]
fn nak_while_renewing_drops_the_address_at_once() {
    let mut b = bench::<Dut>();
    b.run_for(SEC);
    let bound = b.bound_at();
    b.server.renew = Answer::Nak;
    b.server.discover = false;
    b.run_until(bound + 61 * SEC);
    let nak = b.when(|e| matches!(e, DhcpEvent::Nak { .. })).unwrap();
    assert!(nak >= bound + 60 * SEC);
    assert_eq!(b.stack.ipv4(), None);
    assert_eq!(b.state(), DhcpState::Discovering);
    for h in b
        .server
        .heard
        .iter()
        .filter(|h| h.at > nak && h.ethertype() == 0x0800)
    {
        assert_eq!(h.ip_src(), Ipv4Address::UNSPECIFIED);
    }
}

/// Replies the client must ignore: it stays in Discovering and sends no
/// REQUEST.
#[test]
fn replies_not_for_us_are_ignored() {
    let cases: [(&str, Tamper); 8] = [
        ("wrong xid", |m| m[4] ^= 0x01),
        ("wrong chaddr", |m| m[33] ^= 0x01),
        ("bad magic cookie", |m| m[dhcp::MAGIC_OFFSET] = 0),
        ("BOOTREQUEST op", |m| m[0] = 1),
        ("hardware type", |m| m[1] = 6),
        ("no server identifier", |m| {
            // Option 54 (right after the message type) becomes a pad run.
            let at = dhcp::OPTIONS_OFFSET + 3;
            assert_eq!(m[at], 54);
            m[at..at + 6].fill(0);
        }),
        ("options cut short", |m| {
            // The last option claims to run past the end of the message.
            let end = m.iter().rposition(|&b| b == 255).unwrap();
            m[end] = 12;
            m.truncate(end + 2);
            m[end + 1] = 200;
        }),
        ("an option's length byte cut off", |m| {
            // The message ends with an option's code: its length is missing.
            let end = m.iter().rposition(|&b| b == 255).unwrap();
            m[end] = 12;
            m.truncate(end + 1);
        }),
    ];
    for (what, tamper) in cases {
        let mut b = bench::<Dut>();
        b.server.tamper = Some(tamper);
        b.run_for(2 * SEC);
        let kinds: Vec<MessageType> = b.server.messages().iter().map(|m| m.1).collect();
        assert_eq!(kinds, [MessageType::Discover], "{what}");
        assert_eq!(b.state(), DhcpState::Discovering, "{what}");
        assert_eq!(b.events(), [DhcpEvent::Discovering], "{what}");
        // The retransmission is answered correctly and binds.
        b.server.tamper = None;
        b.run_for(6 * SEC);
        assert_eq!(b.state(), DhcpState::Bound, "{what}");
    }
}

#[test]
fn ack_from_another_server_while_requesting_is_ignored() {
    let mut b = bench::<Dut>();
    // The OFFER names 10.9.0.1; the ACK says it is from 10.9.0.9.
    b.server.tamper = Some(|m| {
        if m[dhcp::OPTIONS_OFFSET + 2] == 5 {
            m[dhcp::OPTIONS_OFFSET + 8] = 9;
        }
    });
    b.run_for(2 * SEC);
    assert_eq!(b.state(), DhcpState::Requesting);
    assert_eq!(b.stack.ipv4(), None);
}

#[test]
fn server_id_comes_from_option_54_not_the_ip_source() {
    let mut b = bench::<Dut>();
    // Replies arrive from a relay agent's address; option 54 names the
    // server.
    b.server.src = RELAY;
    b.run_for(SEC);
    assert_eq!(b.state(), DhcpState::Bound);
    let request = b.server.dhcp_heard()[1].dhcp();
    assert_eq!(request.server_identifier, Some(SERVER_ID));
    assert_eq!(b.stack.dhcp().lease().unwrap().server, SERVER_ID);
    let bound = b.bound_at();
    b.run_until(bound + 61 * SEC);
    let renew = b.server.dhcp_heard()[2];
    assert_eq!(renew.ip_dst(), SERVER_ID, "renewal to option 54's address");
    assert!(
        b.server
            .heard
            .iter()
            .any(|h| h.ethertype() == 0x0806 && h.arp_target() == SERVER_ID),
        "ARP for the server"
    );
    assert!(b.when(|e| matches!(e, DhcpEvent::Renewed(_))).is_some());
}

#[test]
fn overloaded_options_in_the_file_field_are_read() {
    let mut b = bench::<Dut>();
    b.server.overload = true;
    b.run_for(SEC);
    assert_eq!(b.state(), DhcpState::Bound);
    assert_eq!(b.stack.dhcp().lease().unwrap().server, SERVER_ID);
}

#[test]
fn infinite_lease_is_never_renewed() {
    let mut b = bench::<Dut>();
    b.server.lease = u32::MAX;
    b.run_for(SEC);
    assert!(b.stack.dhcp().lease().unwrap().is_infinite());
    let t = Instant::from_millis(b.now);
    assert_eq!(b.stack.poll_at(t), None, "nothing to do, ever");
    let n = b.server.heard.len();
    b.run_for(10 * 24 * 3600 * SEC);
    assert_eq!(b.server.heard.len(), n);
    assert_eq!(b.state(), DhcpState::Bound);
}

#[test]
fn a_lease_longer_than_the_clock_looks_ahead_is_renewed_and_kept() {
    // 60 days: T1 (30 days) and T2 (52.5 days) lie further ahead than the
    // 24.8 days a deadline on the wrapping millisecond clock may be, so the
    // client renews after 12 days (half its 24-day horizon); over 100 days
    // (two wraps of the clock) the lease is renewed 8 times, never lapses.
    const DAY: u64 = 86_400 * SEC;
    let mut b = bench::<Dut>();
    b.server.lease = 60 * 86_400;
    b.run_for(SEC);
    let bound = b.bound_at();
    b.run_until(bound + 100 * DAY);
    let renewed: Vec<u64> = b
        .app
        .events
        .iter()
        .filter(|(_, e)| matches!(e, DhcpEvent::Renewed(_)))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(renewed.len(), 8, "renewed at {renewed:?}");
    let mut start = bound;
    for t in renewed {
        let after = t - start;
        assert!(
            (12 * DAY..=12 * DAY + SEC).contains(&after),
            "renewed {after} ms into the lease"
        );
        start = t;
    }
    assert!(!b
        .events()
        .iter()
        .any(|e| matches!(e, DhcpEvent::Rebinding | DhcpEvent::Expired { .. })));
    assert_eq!(b.state(), DhcpState::Bound);
    assert_eq!(b.stack.ipv4().unwrap().cidr.address, POOL);
}

#[test]
fn a_late_poll_takes_the_deadlines_in_order() {
    let mut b = bench::<Dut>();
    b.run_for(SEC);
    let n = b.server.heard.len();
    // The device slept through T1, T2 and expiry.
    b.now += 200 * SEC;
    b.wire.set_now(b.now);
    b.app.now = b.now;
    b.stack
        .poll(Instant::from_millis(b.now), &mut b.nic, &mut b.app);
    assert_eq!(
        b.events()[3..],
        [
            DhcpEvent::Renewing,
            DhcpEvent::Rebinding,
            DhcpEvent::Expired { address: POOL },
            DhcpEvent::Discovering
        ]
    );
    b.server.step(b.now);
    let sent: Vec<&Heard> = b.server.heard[n..].iter().collect();
    assert_eq!(
        sent.len(),
        1,
        "just a DISCOVER, nothing from the stale address"
    );
    assert_eq!(sent[0].dhcp().message_type, MessageType::Discover);
    assert_eq!(sent[0].ip_src(), Ipv4Address::UNSPECIFIED);
}

#[test]
fn switched_off_falls_back_to_static_and_on_again_rebinds() {
    let mut b = bench::<Dut>();
    b.server.lease = 30;
    b.run_for(SEC);
    let bound = b.bound_at();
    // After a renewal the server's MAC is known, so RELEASE can go out.
    b.run_until(bound + 16 * SEC);
    b.stack.dhcp().set_enabled(false);
    assert!(!b.stack.dhcp().is_enabled());
    b.run_for(10);
    assert_eq!(b.state(), DhcpState::Off);
    assert_eq!(
        b.stack.ipv4(),
        Some(FALLBACK),
        "static settings from the config"
    );
    assert_eq!(
        *b.events().last().unwrap(),
        DhcpEvent::Stopped {
            ipv4: Some(FALLBACK),
            released: true
        }
    );
    let release = b.server.dhcp_heard().last().unwrap().dhcp();
    assert_eq!(release.message_type, MessageType::Release);
    assert_eq!(
        (release.client_ip, release.server_identifier),
        (POOL, Some(SERVER_ID))
    );
    // Off: no DHCP at all, however long.
    let n = b.server.dhcp_heard().len();
    b.run_for(600 * SEC);
    assert_eq!(b.server.dhcp_heard().len(), n);
    assert_eq!(b.stack.ipv4(), Some(FALLBACK));
    // On again: the static address goes, discovery binds.
    b.stack.dhcp().set_enabled(true);
    b.run_for(10);
    assert_eq!(b.state(), DhcpState::Bound);
    assert_eq!(b.stack.ipv4().unwrap().cidr.address, POOL);
    let heard = b.server.dhcp_heard();
    let request = heard.last().unwrap();
    assert_eq!(
        request.ip_src(),
        Ipv4Address::UNSPECIFIED,
        "not from the static address"
    );
}

#[test]
fn switched_off_before_the_first_poll_keeps_the_applications_address() {
    // What the reference device does for `--ip`.
    let mut b = bench::<Dut>();
    let mine = StaticIpv4 {
        cidr: Ipv4Cidr::new(Ipv4Address([10, 9, 0, 5]), 24),
        gateway: None,
        dns: None,
    };
    b.stack.set_ipv4(Some(mine));
    b.stack.dhcp().set_enabled(false);
    b.run_for(100 * SEC);
    assert!(b.server.dhcp_heard().is_empty());
    assert_eq!(b.stack.ipv4(), Some(mine));
    assert_eq!(b.state(), DhcpState::Off);
    assert!(b.events().is_empty());
}

#[test]
fn switched_off_while_bound_keeps_an_address_the_application_set() {
    let mut b = bench::<Dut>();
    b.run_for(SEC);
    let mine = StaticIpv4 {
        cidr: Ipv4Cidr::new(Ipv4Address([10, 9, 0, 5]), 24),
        gateway: None,
        dns: None,
    };
    b.stack.dhcp().set_enabled(false);
    b.stack.set_ipv4(Some(mine));
    b.run_for(10);
    assert_eq!(b.stack.ipv4(), Some(mine));
    assert_eq!(b.state(), DhcpState::Off);
}

#[test]
fn restart_drops_the_lease_and_discovers() {
    let mut b = bench::<Dut>();
    b.run_for(SEC);
    b.stack.dhcp().restart();
    b.run_for(10);
    assert_eq!(b.events().iter().filter(|e| is_bound(e)).count(), 2);
    assert_eq!(b.server.messages().len(), 4);
}

#[test]
fn binds_and_keeps_the_lease_over_a_lossy_wire() {
    for seed in 1..=5u64 {
        let wire = SimWire::new(
            seed,
            Faults {
                loss: 0.3,
                duplicate: 0.1,
                delay_ms: (0, 30),
                ..Faults::none()
            },
        );
        let mut b = Bench::<Quick, SimNic> {
            nic: wire.endpoint(),
            server: Server::new(wire.endpoint()),
            wire,
            stack: Stack::new(),
            app: Recorder::default(),
            now: 0,
            polls: 0,
        };
        b.server.lease = 600;
        b.run_until(3600 * SEC);
        assert!(b.when(is_bound).is_some(), "seed {seed}: never bound");
        assert!(
            b.wire.stats().dropped > 10,
            "seed {seed}: the wire lost frames"
        );
        assert!(
            b.when(|e| matches!(e, DhcpEvent::Renewed(_))).is_some(),
            "seed {seed}: never renewed: {:?}",
            b.app.events
        );
        // Whatever was lost, the device ends up with its lease (after a
        // rediscovery at worst) and never uses an address it has no lease for.
        b.run_until(3700 * SEC);
        assert_eq!(
            b.state(),
            DhcpState::Bound,
            "seed {seed}: {:?}",
            b.app.events
        );
        assert_eq!(b.stack.ipv4().unwrap().cidr.address, POOL, "seed {seed}");
        for (t, e) in &b.app.events {
            if let DhcpEvent::Expired { .. } = e {
                for h in b
                    .server
                    .heard
                    .iter()
                    .filter(|h| h.at > *t && h.ethertype() == 0x0800)
                {
                    let rebound = b
                        .app
                        .events
                        .iter()
                        .any(|(t2, e2)| t2 > t && *t2 <= h.at && is_bound(e2));
                    assert!(
                        rebound || h.ip_src().is_unspecified(),
                        "seed {seed}: stale frame at {}",
                        h.at
                    );
                }
            }
        }
    }
}

mod arbitrary_replies {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any datagram to port 68 (random bytes, or random options behind
        /// a header that matches our exchange) leaves the client in a valid
        /// state, never panics, and binds nothing it should not.
        #[test]
        fn random_replies_never_confuse_the_client(
            mut msg in proptest::collection::vec(any::<u8>(), 0..420),
            matching in any::<bool>(),
            options in proptest::collection::vec(
                prop_oneof![Just(53u8), Just(54), Just(52), Just(1), Just(51), Just(0), Just(255), Just(4), any::<u8>()],
                0..120,
            ),
        ) {
            let mut b = bench::<Dut>();
            b.server.discover = false;
            b.run_for(10);
            let xid = b.server.messages()[0].2;
            if matching && msg.len() >= dhcp::OPTIONS_OFFSET {
                msg[0] = 2;
                msg[1] = 1;
                msg[2] = 6;
                msg[4..8].copy_from_slice(&xid.to_be_bytes());
                msg[28..34].copy_from_slice(&DUT_MAC.0);
                msg[dhcp::MAGIC_OFFSET..dhcp::OPTIONS_OFFSET]
                    .copy_from_slice(&dhcp::MAGIC_COOKIE.to_be_bytes());
                msg.truncate(dhcp::OPTIONS_OFFSET);
                msg.extend(&options);
            }
            let frame = udp_frame(EthernetAddress::BROADCAST, SERVER_ID, Ipv4Address::BROADCAST, &msg);
            b.server.nic.send_frame(&frame).unwrap();
            b.run_for(10);
            let state = b.state();
            prop_assert!(matches!(state, DhcpState::Discovering | DhcpState::Requesting), "{state:?}");
            prop_assert_eq!(b.stack.ipv4(), None);
            if state == DhcpState::Requesting {
                // Only an OFFER with a server identifier and a host address.
                let r = b.server.dhcp_heard().last().unwrap().dhcp();
                prop_assert_eq!(r.message_type, MessageType::Request);
                prop_assert!(r.server_identifier.is_some() && r.requested_ip.is_some());
            }
        }
    }
}

/// Gratuitous ARP requests (sender = target = `ip`) the server heard
/// at or after `from`.
fn announcements(b: &Bench<Dut, SimNic>, ip: Ipv4Address, from: u64) -> usize {
    b.server
        .heard
        .iter()
        .filter(|h| h.at >= from && h.ethertype() == 0x0806)
        .filter(|h| h.arp_sender() == ip && h.arp_target() == ip)
        .count()
}

#[test]
fn link_down_stops_sending_without_spinning_and_link_up_reboots_the_lease() {
    let mut b = bench::<Dut>();
    b.run_for(SEC);
    assert_eq!(b.state(), DhcpState::Bound);
    let heard = b.server.heard.len();
    b.nic.set_cable(false);
    let polls = b.polls;
    b.run_for(8 * SEC);
    assert_eq!(b.app.links.len(), 1, "link down reported once");
    assert!(!b.app.links[0].1);
    assert_eq!(b.server.heard.len(), heard, "nothing sent while down");
    assert_eq!(b.nic.tx_failures(), 0, "nothing even tried");
    let t = Instant::from_millis(b.now);
    assert!(b.stack.poll_at(t).unwrap() >= t.after(emberstack::stack::LINK_POLL));
    assert!(
        b.polls - polls < 40,
        "{} polls in 8 s while down",
        b.polls - polls
    );
    // Plugged again: link up once, INIT-REBOOT for the leased address,
    // then the address is announced.
    let up_at = b.now;
    b.nic.set_cable(true);
    b.run_for(2 * SEC);
    assert_eq!(b.app.links.len(), 2);
    assert!(b.app.links[1].1);
    let reboot = b
        .server
        .dhcp_heard()
        .into_iter()
        .find(|h| h.at >= up_at)
        .expect("a REQUEST after the link came back")
        .dhcp();
    assert_eq!(reboot.message_type, MessageType::Request);
    assert_eq!(reboot.requested_ip, Some(POOL), "the address we had");
    assert_eq!(
        reboot.server_identifier, None,
        "INIT-REBOOT names no server"
    );
    assert!(reboot.client_ip.is_unspecified(), "ciaddr zero");
    assert!(reboot.broadcast);
    assert!(b
        .when(|e| matches!(e, DhcpEvent::Rebooting { address } if *address == POOL))
        .is_some());
    assert!(b
        .events()
        .iter()
        .any(|e| matches!(e, DhcpEvent::Renewed(_))));
    assert_eq!(b.state(), DhcpState::Bound);
    assert!(
        announcements(&b, POOL, up_at) >= 1,
        "gratuitous ARP after link up"
    );
}

#[test]
fn reboot_unanswered_keeps_the_lease_and_a_nak_drops_it() {
    let mut b = bench::<Dut>();
    b.server.lease = 600;
    b.run_for(SEC);
    b.server.request = Answer::Silent;
    b.nic.set_cable(false);
    b.run_for(2 * SEC);
    b.nic.set_cable(true);
    // Four REQUESTs 4, 8, 16 and 32 s apart (±1 s), then give up.
    b.run_for(70 * SEC);
    assert!(b.events().contains(&DhcpEvent::RebootUnanswered));
    assert_eq!(b.state(), DhcpState::Bound, "the lease still holds");
    assert_eq!(b.stack.ipv4().unwrap().cidr.address, POOL);
    // Another network after the next outage: the server says no.
    b.server.request = Answer::Nak;
    b.nic.set_cable(false);
    b.run_for(2 * SEC);
    b.nic.set_cable(true);
    b.run_for(SEC);
    assert!(b
        .events()
        .iter()
        .any(|e| matches!(e, DhcpEvent::Nak { .. })));
    assert_eq!(b.stack.ipv4(), None, "the refused address is gone at once");
}

#[test]
fn a_nic_that_cannot_report_its_link_backs_off_its_failing_sends() {
    // Before: every poll retried (DHCP, the ARP announcement) and poll_at
    // stayed at "now": millions of failed sends a second.
    let mut b = bench::<Dut>();
    b.nic.set_reports_link(false);
    b.nic.set_cable(false);
    let polls = b.polls;
    b.run_for(10 * SEC);
    assert!(b.app.links.is_empty(), "the NIC cannot tell");
    assert!(
        b.nic.tx_failures() <= 20,
        "{} failed sends in 10 s",
        b.nic.tx_failures()
    );
    assert!(b.polls - polls < 100, "{} polls in 10 s", b.polls - polls);
    // The cable comes: sends work again within the longest backoff.
    b.nic.set_cable(true);
    b.run_for(80 * SEC);
    assert_eq!(b.state(), DhcpState::Bound);
}

#[test]
fn an_ack_without_a_server_identifier_is_ignored() {
    let mut b = bench::<Dut>();
    b.server.no_id = true;
    b.run_for(30 * SEC);
    assert!(b
        .events()
        .iter()
        .any(|e| matches!(e, DhcpEvent::Offered { .. })));
    assert_ne!(b.state(), DhcpState::Bound);
    assert_eq!(b.stack.ipv4(), None);
}

#[test]
fn rogue_timers_and_tiny_leases_cause_no_request_storm() {
    // T1 = 0, T2 = 1 on an hour's lease: renewal at half the lease.
    let mut b = bench::<Dut>();
    b.server.lease = 3600;
    b.server.t1 = Some(0);
    b.server.t2 = Some(1);
    b.run_for(SEC);
    assert_eq!(b.state(), DhcpState::Bound);
    b.run_for(1700 * SEC);
    let requests = b
        .server
        .messages()
        .iter()
        .filter(|m| m.1 == MessageType::Request)
        .count();
    assert_eq!(requests, 1, "no renewal before T1 = 1800 s");
    // A 2-second lease is not taken: REQUESTs on the backoff schedule.
    let mut b = bench::<Dut>();
    b.server.lease = 2;
    b.run_for(120 * SEC);
    assert_eq!(b.stack.ipv4(), None);
    let requests = b
        .server
        .messages()
        .iter()
        .filter(|m| m.1 == MessageType::Request)
        .count();
    assert!(requests <= 12, "{requests} REQUESTs in 2 minutes");
}

/// ARP frames the server heard from the device: (time, op, sender, target).
fn arp_heard<C: Config>(b: &Bench<C, SimNic>) -> Vec<(u64, u8, Ipv4Address, Ipv4Address)> {
    b.server
        .heard
        .iter()
        .filter(|h| h.ethertype() == 0x0806)
        .map(|h| (h.at, h.frame[21], h.arp_sender(), h.arp_target()))
        .collect()
}

/// An ARP frame from another host (`mac`) with sender `ip`.
fn foreign_arp(op: u8, mac: [u8; 6], ip: Ipv4Address, target: Ipv4Address) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend(mac);
    f.extend([0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, op]);
    f.extend(mac);
    f.extend(ip.0);
    f.extend([0; 6]);
    f.extend(target.0);
    f.resize(60, 0);
    f
}

#[test]
fn an_acked_address_is_probed_before_use() {
    let mut b = bench::<Prober>();
    b.run_for(3 * SEC);
    assert_eq!(b.state(), DhcpState::Bound);
    let ack = b
        .server
        .messages()
        .iter()
        .find(|m| m.1 == MessageType::Request)
        .unwrap()
        .0;
    let probes: Vec<_> = arp_heard(&b)
        .into_iter()
        .filter(|a| a.1 == 1 && a.2.is_unspecified() && a.3 == POOL)
        .collect();
    assert_eq!(probes.len(), 2, "two probes, sender 0.0.0.0: {probes:?}");
    let bound = b.bound_at();
    assert!(probes.iter().all(|p| p.0 < bound), "probes before use");
    assert!(
        bound - ack >= 700 && bound - ack <= 900,
        "bound {} ms after the ACK",
        bound - ack
    );
    // Nothing left from the address before it was ours.
    assert!(b
        .server
        .heard
        .iter()
        .filter(|h| h.at < bound && h.ethertype() == 0x0800)
        .all(|h| h.ip_src().is_unspecified()));
    assert!(announcements_of(&b, POOL, bound) >= 1);
    assert!(b
        .events()
        .iter()
        .any(|e| matches!(e, DhcpEvent::Probing { .. })));
}

fn announcements_of<C: Config>(b: &Bench<C, SimNic>, ip: Ipv4Address, from: u64) -> usize {
    arp_heard(b)
        .iter()
        .filter(|a| a.0 >= from && a.2 == ip && a.3 == ip)
        .count()
}

#[test]
fn an_address_another_host_holds_is_declined_and_discovery_waits_10_s() {
    let mut b = bench::<Prober>();
    b.server.holder = Some(POOL);
    b.run_for(3 * SEC);
    let declined = b
        .when(|e| matches!(e, DhcpEvent::Declined { address } if *address == POOL))
        .expect("declined");
    assert_eq!(b.stack.ipv4(), None, "never used");
    let decline = b
        .server
        .dhcp_heard()
        .into_iter()
        .map(|h| h.dhcp())
        .find(|r| r.message_type == MessageType::Decline)
        .expect("DHCPDECLINE sent");
    assert_eq!(decline.requested_ip, Some(POOL));
    assert_eq!(decline.server_identifier, Some(SERVER_ID));
    assert!(decline.client_ip.is_unspecified());
    // The next DISCOVER waits 10 s and does not ask for the address again.
    b.run_for(15 * SEC);
    let next = b
        .server
        .dhcp_heard()
        .into_iter()
        .filter(|h| h.at > declined && h.dhcp().message_type == MessageType::Discover)
        .map(|h| (h.at, h.dhcp().requested_ip))
        .next()
        .expect("discovery again");
    assert!(
        next.0 >= declined + 10 * SEC,
        "{} ms after",
        next.0 - declined
    );
    assert_eq!(next.1, None);
}

#[test]
fn a_bound_address_is_defended_once_then_given_up() {
    let mut b = bench::<Prober>();
    b.run_for(3 * SEC);
    assert_eq!(b.state(), DhcpState::Bound);
    let other = [2, 0, 0, 0, 0, 0x66];
    let t0 = b.now;
    b.server
        .nic
        .send_frame(&foreign_arp(2, other, POOL, ROUTER))
        .unwrap();
    b.run_for(SEC);
    assert_eq!(b.stack.ipv4().unwrap().cidr.address, POOL, "defended, kept");
    assert!(
        announcements_of(&b, POOL, t0) >= 1,
        "defence: an announcement"
    );
    // Again within 10 s: given up and declined.
    b.server
        .nic
        .send_frame(&foreign_arp(1, other, POOL, ROUTER))
        .unwrap();
    b.run_for(SEC);
    assert_eq!(b.stack.ipv4(), None);
    assert!(b
        .events()
        .iter()
        .any(|e| matches!(e, DhcpEvent::Declined { .. })));
    // A flood of claims makes no storm of answers.
    let heard = b.server.heard.len();
    for _ in 0..100 {
        b.server
            .nic
            .send_frame(&foreign_arp(2, other, POOL, ROUTER))
            .unwrap();
    }
    b.run_for(SEC);
    assert!(b.server.heard.len() - heard <= 2);
}

#[test]
fn a_remembered_address_is_asked_for_with_init_reboot_at_start() {
    // ACKed: bound without discovery, the address unused before the ACK.
    let mut b = bench::<Dut>();
    b.stack.dhcp().reboot_with(POOL);
    b.run_for(SEC);
    assert_eq!(b.state(), DhcpState::Bound);
    let first = b.server.dhcp_heard()[0].dhcp();
    assert_eq!(first.message_type, MessageType::Request);
    assert_eq!(first.requested_ip, Some(POOL));
    assert_eq!(first.server_identifier, None);
    assert!(first.client_ip.is_unspecified());
    assert!(!b
        .server
        .messages()
        .iter()
        .any(|m| m.1 == MessageType::Discover));
    assert!(b.events().iter().any(is_bound), "a new lease: Bound");
    assert!(b
        .server
        .heard
        .iter()
        .filter(|h| h.ethertype() == 0x0800)
        .all(|h| h.ip_src().is_unspecified()));
    // Refused (another network): discovery at once.
    let mut b = bench::<Dut>();
    b.server.request = Answer::Nak;
    b.stack.dhcp().reboot_with(Ipv4Address([192, 168, 1, 50]));
    b.run_for(2 * SEC);
    assert!(b
        .events()
        .iter()
        .any(|e| matches!(e, DhcpEvent::Nak { .. })));
    assert!(b.events().contains(&DhcpEvent::Discovering));
    // Unanswered: four REQUESTs, then discovery asking for it.
    let mut b = bench::<Dut>();
    b.server.request = Answer::Silent;
    b.server.discover = false;
    b.stack.dhcp().reboot_with(POOL);
    b.run_for(70 * SEC);
    let msgs = b.server.messages();
    let requests = msgs.iter().filter(|m| m.1 == MessageType::Request).count();
    assert_eq!(requests, 4);
    let discover = b
        .server
        .dhcp_heard()
        .into_iter()
        .map(|h| h.dhcp())
        .find(|r| r.message_type == MessageType::Discover)
        .expect("discovery after the unanswered REQUESTs");
    assert_eq!(discover.requested_ip, Some(POOL));
    assert_eq!(b.stack.ipv4(), None);
}

/// `[dhcp] send_hostname = false`, `init_reboot = false` (issue 12): no
/// option 12, and a link change leaves the lease (and its timers) alone:
/// no INIT-REBOOT, the address kept.
#[test]
fn without_hostname_and_init_reboot() {
    emberstack::test_config! {
        struct Lean;
        const DEVICE_NAME: &'static str = "DUT";
        const MAC: EthernetAddress = DUT_MAC;
        const DHCP: bool = true;
        const STATIC_IPV4: Option<StaticIpv4> = Some(FALLBACK);
        const ARP_LIFETIME: Duration = Duration::from_secs(600);
        type UdpSockets = [UdpSocket; 1];
        type Dhcp = DhcpClient<Self>;
    }
    impl DhcpSettings for Lean {
        const SEND_HOSTNAME: bool = false;
        const INIT_REBOOT: bool = false;
    }
    let mut b = bench::<Lean>();
    b.stack.dhcp().reboot_with(Ipv4Address::new(10, 1, 1, 1));
    b.run_for(SEC);
    assert_eq!(b.state(), DhcpState::Bound);
    let heard = b.server.dhcp_heard();
    assert_eq!(
        heard
            .iter()
            .map(|h| h.dhcp().message_type)
            .collect::<Vec<_>>(),
        [MessageType::Discover, MessageType::Request],
        "reboot_with is ignored: discovery"
    );
    assert!(heard.iter().all(|h| h.dhcp().hostname.is_none()));
    b.nic.set_cable(false);
    b.run_for(2 * SEC);
    let up_at = b.now;
    b.nic.set_cable(true);
    b.run_for(2 * SEC);
    assert!(b.server.dhcp_heard().iter().all(|h| h.at < up_at));
    assert!(!b
        .events()
        .iter()
        .any(|e| matches!(e, DhcpEvent::Rebooting { .. })));
    assert_eq!(b.state(), DhcpState::Bound);
    assert_eq!(b.stack.ipv4().unwrap().cidr.address, POOL);
}
