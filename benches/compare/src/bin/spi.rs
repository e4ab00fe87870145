//! SPI traffic per full-size TCP segment through the ENC28J60 driver
//! (`emberstack::nic::enc28j60`) and the register-level chip model, as the
//! model counts it: transactions (chip-select assertions) and bytes, and of
//! those the buffer bytes read (RBM) and written (WBM).
//!
//! ```text
//! spi [--steps K]
//! ```
//!
//! The stack (`configs/regenerate-w1.toml`, window 1, port 9 discarding)
//! talks to a simulated peer through driver + model; after the ARP exchange
//! and the handshake, `K` steps each way are measured:
//!
//! - receive: the peer sends one full segment (1460 bytes), the stack is
//!   polled once, takes it and sends its ACK;
//! - send: the stack's application offers 1460 bytes, the stack is polled
//!   once, takes the peer's ACK of the previous segment and sends one;
//! - idle: a poll with nothing to do.
//!
//! Prints the averages per step and the time they take on the bus at the
//! chip's fastest SPI clock (20 MHz), bytes only.

use emberstack::iface::PayloadSink;
use emberstack::nic::enc28j60::{Config as ChipConfig, Enc28j60};
use emberstack::nic::enc28j60_model::{Model, QueueWire, SpiStats};
use emberstack::nic::Nic;
use emberstack::tcp::{TcpHandle, TcpReader};
use emberstack::{App, Instant, Stack};
use emberstack_bench_compare::{flags, parse_tcp, pattern_byte, Peer, MSS};
use std::process::ExitCode;

mod configs {
    include!(concat!(env!("OUT_DIR"), "/bench_configs.rs"));
}
type Device = configs::regenerate_w1::Device;

const PEER: Peer = Peer {
    mac: [2, 0, 0, 0, 0, 1],
    ip: [10, 0, 0, 1],
    port: 40000,
    stack_mac: [2, 0, 0, 0, 0, 2],
    stack_ip: [10, 0, 0, 2],
    stack_port: 9,
};
const PEER_ISS: u32 = 0x1000_0000;
const PEER_WINDOW: u16 = 64240;

struct NoDelay;
impl embedded_hal::delay::DelayNs for NoDelay {
    fn delay_ns(&mut self, _ns: u32) {}
}

/// Takes what arrives, produces the pattern when asked to.
struct Sink {
    received: u64,
    produce: bool,
    rng: u32,
}

impl App for Sink {
    fn random_u32(&mut self) -> u32 {
        self.rng = self.rng.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        self.rng
    }
    fn tcp_received<N: Nic>(&mut self, _s: TcpHandle, data: &mut TcpReader<'_, N>) -> usize {
        let mut buf = [0u8; MSS];
        let mut done = 0;
        while done < data.len() {
            let n = data.read(done, &mut buf);
            if n == 0 {
                break;
            }
            done += n;
        }
        self.received += done as u64;
        done
    }
    fn tcp_produce(&mut self, _s: TcpHandle, offset: u32, max: usize, sink: &mut dyn PayloadSink) {
        if self.produce {
            let bytes: Vec<u8> = (0..max.min(MSS) as u64)
                .map(|i| pattern_byte(u64::from(offset) + i))
                .collect();
            sink.write(&bytes);
        }
    }
}

type Nic28 = Enc28j60<Model<QueueWire>>;

fn push(nic: &mut Nic28, frame: Vec<u8>) {
    nic.spi_mut().wire_mut().inbound.push_back(frame);
}

fn sent(nic: &mut Nic28) -> Vec<Vec<u8>> {
    std::mem::take(&mut nic.spi_mut().wire_mut().outbound)
}

fn delta(a: SpiStats, b: SpiStats) -> SpiStats {
    SpiStats {
        transactions: b.transactions - a.transactions,
        bytes: b.bytes - a.bytes,
        buffer_read: b.buffer_read - a.buffer_read,
        buffer_written: b.buffer_written - a.buffer_written,
    }
}

fn report(what: &str, d: SpiStats, steps: u64) {
    let per = |v: u64| v as f64 / steps as f64;
    let us = per(d.bytes) * 8.0 / 20.0;
    println!(
        "{what:<44} {:>7.1} {:>8.1} {:>8.1} {:>8.1} {:>8.0}",
        per(d.transactions),
        per(d.bytes),
        per(d.buffer_read),
        per(d.buffer_written),
        us
    );
}

fn main() -> ExitCode {
    let mut steps: u64 = 1000;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next().and_then(|v| v.parse().ok())) {
            ("--steps", Some(k)) if k > 0 => steps = k,
            _ => {
                eprintln!("usage: spi [--steps K]");
                return ExitCode::from(2);
            }
        }
    }
    let mut nic = Enc28j60::new(Model::new(QueueWire::default()));
    let chip = ChipConfig {
        mac: PEER.stack_mac,
        ..ChipConfig::default()
    };
    nic.init(chip, &mut NoDelay).expect("init");
    let mut stack = Stack::<Device>::new();
    stack.tcp_listen(9).expect("listen");
    let mut app = Sink {
        received: 0,
        produce: false,
        rng: 1,
    };
    let mut now = 1u64;
    let mut poll = |stack: &mut Stack<Device>, nic: &mut Nic28, app: &mut Sink| {
        now += 1;
        stack.poll(Instant::from_millis(now), nic, app);
    };
    push(&mut nic, PEER.arp_request());
    poll(&mut stack, &mut nic, &mut app);
    sent(&mut nic);
    push(
        &mut nic,
        PEER.tcp(PEER_ISS, 0, flags::SYN, PEER_WINDOW, Some(MSS as u16), &[]),
    );
    poll(&mut stack, &mut nic, &mut app);
    let synack = sent(&mut nic)
        .iter()
        .filter_map(|f| parse_tcp(f))
        .find(|t| t.flags & flags::SYN != 0)
        .expect("SYN-ACK");
    let stack_nxt = synack.seq.wrapping_add(1);
    let mut peer_seq = PEER_ISS.wrapping_add(1);
    push(
        &mut nic,
        PEER.tcp(peer_seq, stack_nxt, flags::ACK, PEER_WINDOW, None, &[]),
    );
    poll(&mut stack, &mut nic, &mut app);

    println!(
        "{:<44} {:>7} {:>8} {:>8} {:>8} {:>8}",
        "per step (ENC28J60 driver + model)", "transac", "bytes", "RBM", "WBM", "us@20MHz"
    );
    // Idle polls.
    let before = nic.spi().spi();
    for _ in 0..steps {
        poll(&mut stack, &mut nic, &mut app);
    }
    report("idle poll", delta(before, nic.spi().spi()), steps);

    // Receive: one full segment in, its ACK out.
    let before = nic.spi().spi();
    for _ in 0..steps {
        let payload: Vec<u8> = (0..MSS as u64).map(|i| (i % 253) as u8).collect();
        push(
            &mut nic,
            PEER.tcp(
                peer_seq,
                stack_nxt,
                flags::ACK | flags::PSH,
                PEER_WINDOW,
                None,
                &payload,
            ),
        );
        peer_seq = peer_seq.wrapping_add(MSS as u32);
        poll(&mut stack, &mut nic, &mut app);
        let acks = sent(&mut nic);
        assert!(
            acks.iter()
                .filter_map(|f| parse_tcp(f))
                .any(|t| t.ack == peer_seq),
            "each segment acknowledged in its poll"
        );
    }
    report(
        "receive 1460-byte segment + send its ACK",
        delta(before, nic.spi().spi()),
        steps,
    );
    let want = u64::from(peer_seq.wrapping_sub(PEER_ISS.wrapping_add(1)));
    assert_eq!(app.received, want, "every byte delivered");

    // Send: the application produces; each step the peer ACKs the last
    // segment and the stack sends the next.
    app.produce = true;
    let handle_all = |nic: &mut Nic28, expect: &mut u32| -> u32 {
        let mut acked = *expect;
        for f in sent(nic) {
            if let Some(t) = parse_tcp(&f) {
                if t.payload_len > 0 {
                    assert_eq!(t.payload_len, MSS, "full segments");
                    *expect = t.seq.wrapping_add(t.payload_len as u32);
                    acked = *expect;
                }
            }
        }
        acked
    };
    let mut next = stack_nxt;
    // Warm up: first segment out.
    poll(&mut stack, &mut nic, &mut app);
    let mut ack = handle_all(&mut nic, &mut next);
    let before = nic.spi().spi();
    for _ in 0..steps {
        push(
            &mut nic,
            PEER.tcp(peer_seq, ack, flags::ACK, PEER_WINDOW, None, &[]),
        );
        poll(&mut stack, &mut nic, &mut app);
        let n = ack;
        ack = handle_all(&mut nic, &mut next);
        assert_ne!(ack, n, "a segment per step");
    }
    report(
        "send 1460-byte segment + receive its ACK",
        delta(before, nic.spi().spi()),
        steps,
    );
    println!("{:?}", nic.spi().violations());
    ExitCode::SUCCESS
}
