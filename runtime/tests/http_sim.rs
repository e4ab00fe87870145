//! The HTTP server on the simulated wire against an emberstack TCP client:
//! with seeded loss, every resend of a dynamic page carries the bytes first
//! sent although each handler call returns a new value (checked on a
//! `Rewrite` and on a `LengthFirst` server NIC, where each segment is
//! produced twice); and a connection the server resets mid-response does
//! not spoil the next one on the same socket.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use core::fmt::Write as _;
use emberstack::config::StaticIpv4;
use emberstack::http::{
    Body, Escape, File, HttpApp, HttpServer, HttpSettings, Representation, Site, Summed, TagId,
    TagOut, TagSlot,
};
use emberstack::iface::arp::ArpEntry;
use emberstack::iface::PayloadSink;
use emberstack::nic::sim::{Faults, SimNic, SimWire};
use emberstack::nic::Nic;
use emberstack::tcp::{SentSegment, TcpEvent, TcpHandle, TcpReader, TcpSocket};
use emberstack::udp::{Endpoint, UdpSocket};
use emberstack::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};
use emberstack::{App, Duration, Instant, Stack};

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
            const ARP_LIFETIME: Duration = Duration::from_secs(600);
            type ArpCache = [ArpEntry; 4];
            type UdpSockets = [UdpSocket; 1];
            type TcpSockets = [TcpSocket; 2];
            type TcpSegments = [SentSegment; 4]; // 2 sockets × (window 1 + split)
        }
    };
}
sim_config!(Srv, [2, 0, 0, 0, 0, 1], [10, 7, 0, 1]);
sim_config!(Cli, [2, 0, 0, 0, 0, 2], [10, 7, 0, 2]);

const SERVER: Ipv4Address = Ipv4Address([10, 7, 0, 1]);

const SEQ_FIRST: &[u8] = b"one handler call per slot:";
const SEQ_SLOT: &[u8] = b"\nslot ....................................... ";
const SEQ_LEN: usize = SEQ_FIRST.len() + 48 * SEQ_SLOT.len();
/// The first line, then 48 slots of text each followed by tag 0.
const fn seq_text() -> [u8; SEQ_LEN] {
    let mut t = [0u8; SEQ_LEN];
    let mut i = 0;
    while i < SEQ_LEN {
        t[i] = if i < SEQ_FIRST.len() {
            SEQ_FIRST[i]
        } else {
            SEQ_SLOT[(i - SEQ_FIRST.len()) % SEQ_SLOT.len()]
        };
        i += 1;
    }
    t
}
const fn seq_tags() -> [TagSlot; 48] {
    let mut s = [TagSlot::new(0, TagId(0), Escape::Raw); 48];
    let mut i = 0;
    while i < 48 {
        let at = SEQ_FIRST.len() + (i + 1) * SEQ_SLOT.len();
        s[i] = TagSlot::new(at as u16, TagId(0), Escape::Raw);
        i += 1;
    }
    s
}
static SEQ_TEXT: [u8; SEQ_LEN] = seq_text();
static SEQ: [TagSlot; 48] = seq_tags();
const HEAD: Summed = Summed::new(
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n",
);
static FILES: [File; 2] = [
    File {
        path_at: 0,
        path_len: 1,
        body: Body::Static {
            plain: Representation {
                head: Summed::new(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\nETag: \"1111111111111111\"\r\nCache-Control: no-cache\r\n"),
                body: Summed::new(b"ok\n"),
            },
            gzip: None,
        },
        form: File::NO_FORM,
    },
    File {
        path_at: 1,
        path_len: 8,
        body: Body::Dynamic {
            head: HEAD,
            text: &SEQ_TEXT,
            tags: &SEQ,
        },
        form: File::NO_FORM,
    },
];
static SITE: Site = Site {
    files: &FILES,
    paths: "//seq.txt",
    tags: "seq",
    forms: "",
};
static SETTINGS: HttpSettings = HttpSettings {
    host_name: "sim",
    ..HttpSettings::DEFAULT
};

/// A new 8-digit number on every call; server events kept.
#[derive(Default)]
struct Seq(u32, Vec<String>);
impl HttpApp for Seq {
    fn tag(&mut self, _: TagId, out: &mut TagOut<'_>) {
        self.0 += 1;
        let _ = write!(out, "{:08}", self.0);
    }
    fn event(&mut self, e: emberstack::http::HttpEvent<'_>) {
        self.1.push(format!("{e:?}"));
    }
}

struct Server<const N: usize> {
    http: HttpServer<N, 128>,
    handlers: Seq,
    events: Vec<TcpEvent>,
    rng: u32,
}

impl<const N: usize> App for Server<N> {
    fn random_u32(&mut self) -> u32 {
        self.rng = self.rng.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        self.rng
    }
    fn tcp_event(&mut self, h: TcpHandle, e: TcpEvent) {
        self.events.push(e);
        self.http.tcp_event(h, e, &mut self.handlers);
    }
    fn tcp_received<Nc: Nic>(&mut self, h: TcpHandle, data: &mut TcpReader<'_, Nc>) -> usize {
        self.http.tcp_received(h, data, &mut self.handlers)
    }
    fn tcp_produce(&mut self, h: TcpHandle, offset: u32, max: usize, sink: &mut dyn PayloadSink) {
        self.http
            .tcp_produce(h, offset, max, sink, &mut self.handlers)
    }
    fn tcp_wants_close(&mut self, h: TcpHandle) -> bool {
        self.http.tcp_wants_close(h)
    }
    fn tcp_recv_space(&mut self, h: TcpHandle) -> usize {
        self.http.tcp_recv_space(h)
    }
}

/// Sends one request, keeps the whole response, closes when the server
/// does.
#[derive(Default)]
struct Client {
    request: Vec<u8>,
    response: Vec<u8>,
    /// Take nothing more (a zero window): a peer that stopped reading.
    stalled: bool,
    peer_closed: bool,
    ended: Option<TcpEvent>,
    rng: u32,
}

impl App for Client {
    fn random_u32(&mut self) -> u32 {
        self.rng = self.rng.wrapping_mul(22_695_477).wrapping_add(1);
        self.rng
    }
    fn tcp_event(&mut self, _: TcpHandle, e: TcpEvent) {
        match e {
            TcpEvent::PeerClosed => self.peer_closed = true,
            TcpEvent::Closed | TcpEvent::Reset | TcpEvent::TimedOut => self.ended = Some(e),
            _ => {}
        }
    }
    fn tcp_recv_space(&mut self, _: TcpHandle) -> usize {
        if self.stalled {
            0
        } else {
            usize::MAX
        }
    }
    fn tcp_received<Nc: Nic>(&mut self, _: TcpHandle, data: &mut TcpReader<'_, Nc>) -> usize {
        if self.stalled {
            return 0;
        }
        let mut buf = vec![0u8; data.len()];
        let n = data.read(0, &mut buf);
        self.response.extend_from_slice(&buf[..n]);
        n
    }
    fn tcp_produce(&mut self, _: TcpHandle, offset: u32, max: usize, sink: &mut dyn PayloadSink) {
        let from = (offset as usize).min(self.request.len());
        let to = (from + max).min(self.request.len());
        sink.write(&self.request[from..to]);
    }
    fn tcp_wants_close(&mut self, _: TcpHandle) -> bool {
        self.peer_closed
    }
}

struct Net<const N: usize, SN: Nic> {
    wire: SimWire,
    srv: Stack<Srv>,
    srv_nic: SN,
    srv_app: Server<N>,
    cli: Stack<Cli>,
    cli_nic: SimNic,
    cli_app: Client,
    now: u64,
}

impl<const N: usize, SN: Nic> Net<N, SN> {
    fn new(seed: u64, faults: Faults, srv_nic: impl FnOnce(&SimWire) -> SN) -> Self {
        let wire = SimWire::new(seed, faults);
        let mut net = Net {
            srv_nic: srv_nic(&wire),
            cli_nic: wire.endpoint(),
            wire,
            srv: Stack::new(),
            srv_app: Server {
                http: HttpServer::new(&SITE, &SETTINGS),
                handlers: Seq::default(),
                events: Vec::new(),
                rng: seed as u32 | 1,
            },
            cli: Stack::new(),
            cli_app: Client {
                rng: seed as u32 ^ 0x5555,
                ..Client::default()
            },
            now: 0,
        };
        net.srv_app.http.listen(&mut net.srv).unwrap();
        net
    }

    /// Virtual time advances `ms` milliseconds, every stack polled each one.
    fn run(&mut self, ms: u64) {
        for _ in 0..ms {
            self.now += 1;
            self.wire.set_now(self.now);
            let t = Instant::from_millis(self.now);
            let mut rounds = 0;
            while (self.srv.poll(t, &mut self.srv_nic, &mut self.srv_app)
                | self.cli.poll(t, &mut self.cli_nic, &mut self.cli_app))
                && rounds < 50
            {
                rounds += 1;
            }
            let Server { http, handlers, .. } = &mut self.srv_app;
            http.poll(t, &mut self.srv, &mut self.srv_nic, handlers);
        }
    }

    /// One request on a new connection; the response once the connection
    /// ended (within `limit` ms), and how it ended.
    fn fetch(&mut self, request: &str, limit: u64) -> (Vec<u8>, Option<TcpEvent>) {
        self.cli_app.request = request.as_bytes().to_vec();
        self.cli_app.response.clear();
        self.cli_app.peer_closed = false;
        self.cli_app.ended = None;
        let t = Instant::from_millis(self.now);
        let h = self
            .cli
            .tcp_connect(&mut self.cli_app, t, Endpoint::new(SERVER, 80))
            .unwrap();
        self.cli.tcp_close(h); // FIN once the request is sent... and after
        let start = self.now;
        while self.cli_app.ended.is_none() && self.now - start < limit {
            self.run(1);
        }
        (self.cli_app.response.clone(), self.cli_app.ended)
    }
}

/// The slot values of a `/seq.txt` response, checking its framing.
fn slots(resp: &[u8]) -> Vec<u64> {
    let text = String::from_utf8_lossy(resp);
    let (head, mut body) = text.split_once("\r\n\r\n").expect("a head");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
    let mut plain = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").expect("chunk size line");
        let size = usize::from_str_radix(size, 16).expect("hex");
        if size == 0 {
            assert_eq!(rest, "\r\n", "the last chunk ends the body");
            break;
        }
        plain.push_str(&rest[..size]);
        assert_eq!(&rest[size..size + 2], "\r\n");
        body = &rest[size + 2..];
    }
    let values: Vec<u64> = plain
        .lines()
        .skip(1)
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(values.len(), 48, "{plain}");
    values
}

fn consistent_under_loss<SN: Nic>(seed: u64, srv_nic: impl FnOnce(&SimWire) -> SN) {
    let faults = Faults {
        loss: 0.1,
        ..Faults::none()
    };
    let mut net = Net::<2, SN>::new(seed, faults, srv_nic);
    net.run(50);
    let mut last = 0;
    for round in 0..10 {
        let (resp, end) = net.fetch(
            "GET /seq.txt HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n\r\n",
            60_000,
        );
        if !matches!(end, Some(TcpEvent::Closed)) {
            eprintln!("server events: {:?}", net.srv_app.events);
            eprintln!("http events: {:?}", net.srv_app.handlers.1);
            eprintln!("{}", String::from_utf8_lossy(&resp));
        }
        assert!(
            matches!(end, Some(TcpEvent::Closed)),
            "seed {seed} round {round}: ended {end:?} after {} bytes",
            resp.len()
        );
        let v = slots(&resp);
        // One rendering: each slot's handler ran once, in page order.
        assert!(
            v.windows(2).all(|w| w[0] < w[1]) && v[0] > last,
            "seed {seed} round {round}: {v:?}"
        );
        last = v[47];
    }
    let mismatches = net
        .srv_app
        .events
        .iter()
        .filter(|e| matches!(e, TcpEvent::RegenerationMismatch { .. }))
        .count();
    assert_eq!(mismatches, 0);
    let resends = net
        .srv_app
        .events
        .iter()
        .filter(|e| matches!(e, TcpEvent::Retransmit { .. }))
        .count();
    assert!(resends > 0, "seed {seed}: no loss hit the server's data");
}

#[test]
fn consistent_rendering_under_loss_rewrite_nic() {
    for seed in [1, 2, 3] {
        consistent_under_loss(seed, SimWire::endpoint);
    }
}

#[test]
fn consistent_rendering_under_loss_length_first_nic() {
    for seed in [4, 5] {
        consistent_under_loss(seed, SimWire::endpoint_length_first);
    }
}

/// The server resets a connection whose peer stopped reading (zero
/// window) mid-response; a new connection on the same socket (one socket
/// here) is served in full.
#[test]
fn a_reset_connection_does_not_spoil_the_next() {
    let mut net = Net::<1, SimNic>::new(9, Faults::none(), SimWire::endpoint);
    net.run(50);
    let (resp, _) = net.fetch(
        "GET / HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n\r\n",
        5_000,
    );
    assert!(resp.ends_with(b"\r\n\r\nok\n"));
    // A client that stops reading before the response.
    net.cli_app.request = b"GET /seq.txt HTTP/1.1\r\nHost: sim\r\n\r\n".to_vec();
    net.cli_app.response.clear();
    net.cli_app.ended = None;
    net.cli_app.peer_closed = false;
    net.cli_app.stalled = true;
    let t = Instant::from_millis(net.now);
    let h = net
        .cli
        .tcp_connect(&mut net.cli_app, t, Endpoint::new(SERVER, 80))
        .unwrap();
    net.run(40_000);
    let resets = net
        .srv_app
        .handlers
        .1
        .iter()
        .filter(|e| e.contains("Stalled"))
        .count();
    assert_eq!(resets, 1, "{:?}", net.srv_app.handlers.1);
    let t = Instant::from_millis(net.now);
    net.cli.tcp_abort(&mut net.cli_nic, t, h);
    net.cli_app.stalled = false;
    net.run(10);
    let (resp, end) = net.fetch(
        "GET /seq.txt HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n\r\n",
        10_000,
    );
    assert!(
        matches!(end, Some(TcpEvent::Closed)),
        "{end:?}: {}",
        String::from_utf8_lossy(&resp)
    );
    assert_eq!(slots(&resp).len(), 48);
}
