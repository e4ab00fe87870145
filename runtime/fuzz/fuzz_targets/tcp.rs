//! Established TCP: connections opened by the fuzzer's SYN to a listening
//! echo port (and one the device opens itself), then segments built from
//! the device's latest one: the sequence number continues the peer's
//! stream, the acknowledgement the device's, each moved by a small fuzzed
//! delta, with fuzzed flags, window, options and payload, checksums
//! correct. Window 4 with the retransmission buffer, so data in flight,
//! retransmissions and window probes are reachable. Nothing may panic.
#![no_main]

use emberstack::config::StaticIpv4;
use emberstack::iface::PayloadSink;
use emberstack::nic::Nic;
use emberstack::tcp::{Retransmission, SentSegment, TcpConfig, TcpHandle, TcpReader, TcpSocket};
use emberstack::udp::Endpoint;
use emberstack::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};
use emberstack::{App, Duration, Instant};
use emberstack_fuzz::{lcg, tcp_frame, Bench, Bytes, DUT_IP, DUT_MAC, PEER_IP};
use libfuzzer_sys::fuzz_target;

emberstack::test_config! {
    struct Cfg;
    const DEVICE_NAME: &'static str = "FUZZ";
    const MAC: EthernetAddress = EthernetAddress(DUT_MAC);
    const STATIC_IPV4: Option<StaticIpv4> = Some(StaticIpv4 {
        cidr: Ipv4Cidr::new(Ipv4Address(DUT_IP), 24),
        gateway: Some(Ipv4Address(PEER_IP)),
        dns: None,
    });
    const ARP_LIFETIME: Duration = Duration::from_secs(600);
    const TCP: TcpConfig = TcpConfig {
        window: 4,
        retransmission: Retransmission::Buffer,
        rto_min_ms: 50,
        idle_timeout_ms: 5_000,
        keepalive_ms: 1_000,
        ..TcpConfig::DEFAULT
    };
    type TcpSockets = [TcpSocket; 3];
    type TcpSegments = [SentSegment; 12];
    type TcpBuffer = [u8; 3 * 4 * 1460];
}

/// Echo: what arrives is sent back (a bounded ring), closing when the
/// peer does.
#[derive(Default)]
struct Echo {
    rng: u32,
    ring: [Vec<u8>; 3],
    sent: [u32; 3],
    closed: [bool; 3],
}

impl App for Echo {
    fn random_u32(&mut self) -> u32 {
        lcg(&mut self.rng)
    }
    fn tcp_event(&mut self, h: TcpHandle, e: emberstack::tcp::TcpEvent) {
        use emberstack::tcp::TcpEvent::*;
        let i = h.index().min(2);
        match e {
            PeerClosed => self.closed[i] = true,
            Closed | Reset | TimedOut | Connected { .. } => {
                self.ring[i].clear();
                self.sent[i] = 0;
                self.closed[i] = false;
            }
            _ => {}
        }
    }
    fn tcp_received<N: Nic>(&mut self, h: TcpHandle, data: &mut TcpReader<'_, N>) -> usize {
        let i = h.index().min(2);
        let room = 4096usize.saturating_sub(self.ring[i].len()).min(data.len());
        let mut buf = vec![0u8; room];
        let n = data.read(0, &mut buf);
        self.ring[i].extend_from_slice(&buf[..n]);
        n
    }
    fn tcp_produce(&mut self, h: TcpHandle, offset: u32, max: usize, sink: &mut dyn PayloadSink) {
        let i = h.index().min(2);
        let from = (offset as usize).min(self.ring[i].len());
        let to = (from + max).min(self.ring[i].len());
        sink.write(&self.ring[i][from..to]);
        self.sent[i] = self.sent[i].max(to as u32);
    }
    fn tcp_wants_close(&mut self, h: TcpHandle) -> bool {
        let i = h.index().min(2);
        self.closed[i] && self.sent[i] as usize >= self.ring[i].len()
    }
    fn tcp_recv_space(&mut self, h: TcpHandle) -> usize {
        4096usize.saturating_sub(self.ring[h.index().min(2)].len())
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes(data);
    let mut b: Bench<Cfg, Echo> = Bench::new(Echo::default());
    let _ = b.stack.tcp_listen(7);
    let _ = b.stack.tcp_listen(7);
    // The peer's port and next sequence number on the current connection.
    let mut sport = 40000u16;
    let mut peer_nxt = 1000u32;
    for _ in 0..96 {
        if input.is_empty() {
            break;
        }
        let op = input.u8();
        match op >> 5 {
            0 => {
                // A new connection to the echo port.
                sport = sport.wrapping_add(1).max(1024);
                peer_nxt = u32::from(input.u16()) << 8;
                let opts = [
                    2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0,
                ];
                let n = usize::from(input.u8() % 21);
                b.inject(&tcp_frame(
                    sport,
                    7,
                    peer_nxt,
                    0,
                    0x02,
                    65535,
                    &opts[..n],
                    &[],
                ));
                peer_nxt = peer_nxt.wrapping_add(1);
            }
            1 => {
                // The device connects out (SYN-SENT; the fuzzer answers).
                let now = Instant::from_millis(b.now);
                let remote = Endpoint::new(Ipv4Address(PEER_IP), 9000 + u16::from(op & 7));
                let _ = b.stack.tcp_connect(&mut b.app, now, remote);
                b.run(1);
                if let Some(s) = b.tcp {
                    sport = s.dport;
                }
            }
            2 => b.run(u64::from(input.u16()) % 20_000),
            _ => {
                // A segment continuing the current connection.
                let last = b.tcp.unwrap_or_default();
                let dport = if last.dport == sport { last.sport } else { 7 };
                let seq_delta = i32::from(input.u8() as i8) * i32::from(op & 3);
                let ack_delta = i32::from(input.u8() as i8) * i32::from((op >> 2) & 3);
                let seq = peer_nxt.wrapping_add(seq_delta as u32);
                let ack = last
                    .seq
                    .wrapping_add(last.len)
                    .wrapping_add(ack_delta as u32);
                let flags = input.u8();
                let window = input.u16();
                let opts = input.chunk(40).to_vec();
                let payload = input.chunk(255).to_vec();
                b.inject(&tcp_frame(
                    sport, dport, seq, ack, flags, window, &opts, &payload,
                ));
                if seq_delta == 0 {
                    peer_nxt = peer_nxt
                        .wrapping_add(payload.len() as u32)
                        .wrapping_add(u32::from(flags & 0x03 != 0));
                }
            }
        }
    }
    // Let every timer run out: nothing may spin or panic on the way.
    for _ in 0..20 {
        b.run(1_000);
    }
});
