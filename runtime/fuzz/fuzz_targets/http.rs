//! The HTTP server's request side: heads, query strings, urlencoded and
//! multipart bodies, pipelining, on two connections at once, each request
//! stream cut into segments where the fuzzer says, responses pulled and
//! acknowledged as a client would, timers run. The handlers check that
//! form input is well bracketed (Begin … End/Abort, never two requests
//! of one form interleaved). Nothing may panic.
#![no_main]

use emberstack::http::HttpServer;
use emberstack::iface::arp::ArpEntry;
use emberstack::iface::PayloadSink;
use emberstack::nic::sim::{Faults, SimWire};
use emberstack::tcp::{SentSegment, TcpEvent, TcpHandle, TcpSocket};
use emberstack::udp::Endpoint;
use emberstack::wire::Ipv4Address;
use emberstack::{Instant, Stack};
use emberstack_fuzz::site::{Handlers, SETTINGS, SITE};
use emberstack_fuzz::Bytes;
use libfuzzer_sys::fuzz_target;

emberstack::test_config! {
    struct Cfg;
    const DEVICE_NAME: &'static str = "FUZZ";
    const ICMP_ECHO: bool = false;
    type ArpCache = [ArpEntry; 1];
    type TcpSockets = [TcpSocket; 2];
    type TcpSegments = [SentSegment; 2];
}

struct Sink(Vec<u8>);
impl PayloadSink for Sink {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    fn write_from_rx(&mut self, _: usize, _: usize) {}
}

/// One client connection: bytes not yet taken by the server, and the
/// response offset pulled and acknowledged so far.
#[derive(Default)]
struct Client {
    pending: Vec<u8>,
    acked: u32,
}

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes(data);
    let mut stack: Stack<Cfg> = Stack::new();
    let wire = SimWire::new(1, Faults::none());
    let mut nic = wire.endpoint();
    let mut http: HttpServer<2, 96> = HttpServer::new(&SITE, &SETTINGS);
    if http.listen(&mut stack).is_err() {
        return;
    }
    let mut app = Handlers::default();
    let handles = [TcpHandle::from_index(0), TcpHandle::from_index(1)];
    let mut clients = [Client::default(), Client::default()];
    let remote = Endpoint::new(Ipv4Address([10, 9, 0, 1]), 40000);
    for h in handles {
        http.tcp_event(h, TcpEvent::Connected { remote }, &mut app);
    }
    let mut now = 0u64;
    for _ in 0..200 {
        if input.is_empty() {
            break;
        }
        let op = input.u8();
        let i = usize::from(op & 1);
        let h = handles[i];
        let c = &mut clients[i];
        match op >> 1 {
            // Bytes arrive; the server takes what it can.
            0..=89 => {
                let seg = input.chunk(255);
                c.pending.extend_from_slice(seg);
                let mut view: &[u8] = &c.pending;
                let taken = http
                    .tcp_received(h, &mut view, &mut app)
                    .min(c.pending.len());
                c.pending.drain(..taken);
            }
            // The client reads and acknowledges part of the response.
            90..=119 => {
                let max = 1 + usize::from(input.u8()) * 8;
                let mut sink = Sink(Vec::new());
                http.tcp_produce(h, c.acked, max, &mut sink, &mut app);
                assert!(sink.0.len() <= max, "produce respects max");
                c.acked = c.acked.wrapping_add(sink.0.len() as u32);
                http.tcp_event(h, TcpEvent::Acked { offset: c.acked }, &mut app);
            }
            // Time passes (timeouts, reclaiming).
            120..=124 => {
                now += u64::from(input.u16());
                http.poll(Instant::from_millis(now), &mut stack, &mut nic, &mut app);
            }
            // The peer closes, resets, or a new connection starts.
            125 => http.tcp_event(h, TcpEvent::PeerClosed, &mut app),
            126 => {
                http.tcp_event(h, TcpEvent::Reset, &mut app);
                *c = Client::default();
                http.tcp_event(h, TcpEvent::Connected { remote }, &mut app);
            }
            _ => {
                let _ = http.tcp_wants_close(h);
                let _ = http.tcp_recv_space(h);
            }
        }
    }
});
