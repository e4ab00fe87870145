//! Instructions per TCP data segment, emberstack vs smoltcp, on the same
//! frames, counted by callgrind (`benches/instructions.sh` runs it).
//!
//! ```text
//! instructions --stack ember|smoltcp --mode rx|tx --window 1|4
//!              [--retransmission regenerate|buffer] --steps K
//! ```
//!
//! No TAP, no clock: an in-memory wire and a virtual millisecond clock. A
//! simulated peer (its frames built by this crate, not by either stack)
//! sends an ARP request and opens a connection to port 9 (SYN, then ACK of
//! the stack's SYN-ACK); then `K` measured steps follow:
//!
//! - `rx`: the peer sends `window` full-size (1460-byte) data segments, the
//!   stack takes them and the application copies them into its own buffer;
//!   the stack's ACKs go out. The peer never exceeds the advertised window.
//! - `tx`: the application offers an endless stream (a copy from a pattern
//!   array); the peer ACKs every data segment the stack sent in the step
//!   before; the stack sends what its window allows.
//!
//! Every step the stack is polled once (emberstack: `Stack::poll`; smoltcp:
//! `Interface::poll`, the application's socket calls, `Interface::poll`
//! again, as a smoltcp main loop does). Only the function
//! `bench_step_*` is counted (`--toggle-collect`), so building frames and
//! checking results are not. The frames differ between the stacks only in
//! the acknowledgment number (each stack picks its own initial sequence
//! number) and the checksums that follow from it. Both stacks verify and
//! compute every checksum; neither uses offloads.

use emberstack::iface::PayloadSink;
use emberstack::nic::{Nic, NicError, TxMode};
use emberstack::tcp::{TcpHandle, TcpReader};
use emberstack::{App, Config, Instant, Stack};
use emberstack_bench_compare::{flags, parse_tcp, pattern_byte, Peer, MSS};
use smoltcp::iface::{Config as SConfig, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant as SInstant;
use smoltcp::wire::{EthernetAddress, IpAddress, IpCidr};
use std::collections::VecDeque;
use std::hint::black_box;
use std::process::ExitCode;

mod configs {
    include!(concat!(env!("OUT_DIR"), "/bench_configs.rs"));
}

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
const FRAME_MAX: usize = 1514;
const TX_SLOTS: usize = 32;

/// The pattern, long enough that any offset's segment is one slice.
static PATTERN: [u8; 251 + MSS] = {
    let mut p = [0u8; 251 + MSS];
    let mut i = 0;
    while i < p.len() {
        p[i] = (i % 251) as u8;
        i += 1;
    }
    p
};

fn pattern_at(offset: u64, len: usize) -> &'static [u8] {
    let start = (offset % 251) as usize;
    &PATTERN[start..start + len]
}

// ---------------------------------------------------------------- the wire

/// Received frames: preallocated slots the harness fills between steps, so
/// nothing is allocated or freed inside a measured step.
struct RxSide {
    slots: Vec<Vec<u8>>,
    queue: VecDeque<usize>,
    free: Vec<usize>,
    current: Option<usize>,
    pos: usize,
}

/// Transmitted frames: fixed slots, read back by the harness after a step.
struct TxSide {
    slots: Vec<[u8; FRAME_MAX]>,
    lens: Vec<usize>,
    count: usize,
    building: usize,
}

/// The in-memory wire both stacks use (emberstack through [`Nic`], smoltcp
/// through its `phy::Device`).
struct Wire {
    rx: RxSide,
    tx: TxSide,
}

impl Wire {
    fn new() -> Wire {
        Wire {
            rx: RxSide {
                slots: (0..TX_SLOTS)
                    .map(|_| Vec::with_capacity(FRAME_MAX))
                    .collect(),
                queue: VecDeque::with_capacity(TX_SLOTS),
                free: (0..TX_SLOTS).rev().collect(),
                current: None,
                pos: 0,
            },
            tx: TxSide {
                slots: vec![[0; FRAME_MAX]; TX_SLOTS],
                lens: vec![0; TX_SLOTS],
                count: 0,
                building: 0,
            },
        }
    }

    /// Queues a frame from the peer (outside the measured part).
    fn push(&mut self, frame: &[u8]) {
        let i = self.rx.free.pop().expect("rx slots");
        let s = &mut self.rx.slots[i];
        s.clear();
        s.extend_from_slice(frame);
        self.rx.queue.push_back(i);
    }

    /// The frames sent since the last call.
    fn take_sent(&mut self) -> Vec<Vec<u8>> {
        let out = (0..self.tx.count)
            .map(|i| self.tx.slots[i][..self.tx.lens[i]].to_vec())
            .collect();
        self.tx.count = 0;
        out
    }
}

impl Nic for Wire {
    const TX_MODE: TxMode = TxMode::Rewrite;
    fn rx_pending(&mut self) -> Option<usize> {
        if self.rx.current.is_none() {
            self.rx.current = self.rx.queue.pop_front();
            self.rx.pos = 0;
        }
        self.rx.current.map(|i| self.rx.slots[i].len())
    }
    fn rx_read(&mut self, buf: &mut [u8]) -> usize {
        let Some(i) = self.rx.current else { return 0 };
        let f = &self.rx.slots[i];
        let n = buf.len().min(f.len().saturating_sub(self.rx.pos));
        buf[..n].copy_from_slice(&f[self.rx.pos..self.rx.pos + n]);
        self.rx.pos += n;
        n
    }
    fn rx_seek(&mut self, offset: usize) {
        if let Some(i) = self.rx.current {
            self.rx.pos = offset.min(self.rx.slots[i].len());
        }
    }
    fn rx_dump(&mut self) {
        if let Some(i) = self.rx.current.take() {
            self.rx.free.push(i);
        }
    }
    fn tx_ready(&mut self, _len: usize) -> bool {
        self.tx.count < TX_SLOTS
    }
    fn tx_begin(&mut self, len: usize) -> Result<(), NicError> {
        if len > FRAME_MAX {
            return Err(NicError::TooLong);
        }
        if self.tx.count >= TX_SLOTS {
            return Err(NicError::Busy);
        }
        self.tx.building = 0;
        Ok(())
    }
    fn tx_write(&mut self, bytes: &[u8]) {
        let at = self.tx.building;
        if let Some(d) = self.tx.slots[self.tx.count].get_mut(at..at + bytes.len()) {
            d.copy_from_slice(bytes);
        }
        self.tx.building += bytes.len();
    }
    fn tx_rewrite(&mut self, offset: usize, bytes: &[u8]) {
        if let Some(d) = self.tx.slots[self.tx.count].get_mut(offset..offset + bytes.len()) {
            d.copy_from_slice(bytes);
        }
    }
    fn tx_send(&mut self) -> Result<(), NicError> {
        if self.tx.building > FRAME_MAX {
            return Err(NicError::TooLong);
        }
        self.tx.lens[self.tx.count] = self.tx.building;
        self.tx.count += 1;
        Ok(())
    }
    fn tx_abort(&mut self) {}
}

struct SRx<'a> {
    side: &'a mut RxSide,
    slot: usize,
}

impl phy::RxToken for SRx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let r = f(&self.side.slots[self.slot]);
        self.side.free.push(self.slot);
        r
    }
}

struct STx<'a> {
    side: &'a mut TxSide,
}

impl phy::TxToken for STx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let i = self.side.count;
        // Handing out the slot as it is (not zeroed), as a NIC's buffer.
        let r = f(&mut self.side.slots[i][..len]);
        self.side.lens[i] = len;
        self.side.count += 1;
        r
    }
}

impl phy::Device for Wire {
    type RxToken<'a> = SRx<'a>;
    type TxToken<'a> = STx<'a>;

    fn receive(&mut self, _t: SInstant) -> Option<(SRx<'_>, STx<'_>)> {
        if self.tx.count >= TX_SLOTS {
            return None;
        }
        let slot = self.rx.queue.pop_front()?;
        Some((
            SRx {
                side: &mut self.rx,
                slot,
            },
            STx { side: &mut self.tx },
        ))
    }

    fn transmit(&mut self, _t: SInstant) -> Option<STx<'_>> {
        (self.tx.count < TX_SLOTS).then_some(STx { side: &mut self.tx })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ethernet;
        c.max_transmission_unit = FRAME_MAX;
        c
    }
}

// ------------------------------------------------------------ the stacks

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Rx,
    Tx,
}

/// What a step did, for the checks and the report.
#[derive(Default)]
struct Totals {
    data_segments_out: u64,
    acks_out: u64,
    bytes_in: u64,
}

/// The stack under test, driven one step at a time.
trait Driven {
    /// One step outside the measurement (handshake, warm-up).
    fn setup_step(&mut self, wire: &mut Wire, now: u64);
    /// One measured step.
    fn step(&mut self, wire: &mut Wire, now: u64);
    /// Bytes the application took so far.
    fn received(&self) -> u64;
}

/// The emberstack application: copies what arrives into its buffer, and
/// produces the pattern from a static array.
struct EmberApp {
    buf: [u8; MSS],
    produce: bool,
    received: u64,
    rng: u32,
}

impl App for EmberApp {
    fn random_u32(&mut self) -> u32 {
        self.rng = self.rng.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        self.rng
    }
    fn tcp_received<N: Nic>(&mut self, _s: TcpHandle, data: &mut TcpReader<'_, N>) -> usize {
        let mut done = 0;
        while done < data.len() {
            let n = data.read(done, &mut self.buf);
            if n == 0 {
                break;
            }
            black_box(&self.buf);
            done += n;
        }
        self.received += done as u64;
        done
    }
    fn tcp_produce(&mut self, _s: TcpHandle, offset: u32, max: usize, sink: &mut dyn PayloadSink) {
        if !self.produce {
            return;
        }
        sink.write(pattern_at(u64::from(offset), max.min(MSS)));
    }
}

struct Ember<C: Config> {
    stack: Stack<C>,
    app: EmberApp,
}

impl<C: Config> Ember<C> {
    fn new(mode: Mode) -> Self {
        let mut stack = Stack::<C>::new();
        stack.tcp_listen(9).expect("listen");
        Ember {
            stack,
            app: EmberApp {
                buf: [0; MSS],
                produce: mode == Mode::Tx,
                received: 0,
                rng: 1,
            },
        }
    }
}

#[inline(never)]
fn bench_step_ember<C: Config>(e: &mut Ember<C>, wire: &mut Wire, now: u64) {
    e.stack.poll(Instant::from_millis(now), wire, &mut e.app);
}

impl<C: Config> Driven for Ember<C> {
    fn setup_step(&mut self, wire: &mut Wire, now: u64) {
        self.stack
            .poll(Instant::from_millis(now), wire, &mut self.app);
    }
    fn step(&mut self, wire: &mut Wire, now: u64) {
        bench_step_ember(self, wire, now);
    }
    fn received(&self) -> u64 {
        self.app.received
    }
}

/// The smoltcp side: an interface, one TCP socket with `window × 1460`
/// bytes each way, default settings (delayed ACK 10 ms, Nagle on).
struct Smol {
    iface: Interface,
    sockets: SocketSet<'static>,
    handle: SocketHandle,
    buf: [u8; MSS],
    received: u64,
    queued: u64,
    mode: Mode,
}

impl Smol {
    fn new(wire: &mut Wire, window: usize, mode: Mode) -> Self {
        let config = SConfig::new(EthernetAddress(PEER.stack_mac).into());
        let mut iface = Interface::new(config, wire, SInstant::from_millis(0));
        iface.update_ip_addrs(|a| {
            let [a0, a1, a2, a3] = PEER.stack_ip;
            let _ = a.push(IpCidr::new(IpAddress::v4(a0, a1, a2, a3), 24));
        });
        let mut sockets = SocketSet::new(vec![]);
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; window * MSS]),
            tcp::SocketBuffer::new(vec![0; window * MSS]),
        );
        s.listen(9).expect("listen");
        let handle = sockets.add(s);
        Smol {
            iface,
            sockets,
            handle,
            buf: [0; MSS],
            received: 0,
            queued: 0,
            mode,
        }
    }

    /// The application's part of a main-loop turn.
    #[inline(always)]
    fn app(&mut self) {
        let s = self.sockets.get_mut::<tcp::Socket>(self.handle);
        match self.mode {
            Mode::Rx => {
                while let Ok(n) = s.recv_slice(&mut self.buf) {
                    if n == 0 {
                        break;
                    }
                    black_box(&self.buf);
                    self.received += n as u64;
                }
            }
            Mode::Tx => {
                while s.can_send() {
                    let room = s.send_capacity() - s.send_queue();
                    let n = s
                        .send_slice(pattern_at(self.queued, room.min(MSS)))
                        .unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    self.queued += n as u64;
                }
            }
        }
    }

    #[inline(always)]
    fn turn(&mut self, wire: &mut Wire, now: u64) {
        let t = SInstant::from_millis(now as i64);
        self.iface.poll(t, wire, &mut self.sockets);
        self.app();
        self.iface.poll(t, wire, &mut self.sockets);
    }
}

#[inline(never)]
fn bench_step_smoltcp(s: &mut Smol, wire: &mut Wire, now: u64) {
    s.turn(wire, now);
}

impl Driven for Smol {
    fn setup_step(&mut self, wire: &mut Wire, now: u64) {
        self.turn(wire, now);
    }
    fn step(&mut self, wire: &mut Wire, now: u64) {
        bench_step_smoltcp(self, wire, now);
    }
    fn received(&self) -> u64 {
        self.received
    }
}

// ------------------------------------------------------------ the harness

/// Runs the handshake, `warmup` unmeasured steps and `steps` measured ones.
fn run(d: &mut dyn Driven, wire: &mut Wire, mode: Mode, window: usize, steps: u64) -> Totals {
    let mut now = 1;
    wire.push(&PEER.arp_request());
    d.setup_step(wire, now);
    wire.take_sent();
    wire.push(&PEER.tcp(PEER_ISS, 0, flags::SYN, PEER_WINDOW, Some(MSS as u16), &[]));
    d.setup_step(wire, now);
    let synack = wire
        .take_sent()
        .iter()
        .filter_map(|f| parse_tcp(f))
        .find(|t| t.flags & flags::SYN != 0)
        .expect("SYN-ACK");
    let stack_nxt = synack.seq.wrapping_add(1);
    let mut peer_seq = PEER_ISS.wrapping_add(1);
    wire.push(&PEER.tcp(peer_seq, stack_nxt, flags::ACK, PEER_WINDOW, None, &[]));
    now += 1;
    d.setup_step(wire, now);

    let mut totals = Totals::default();
    let mut pending_acks: Vec<u32> = Vec::new();
    let mut expect_tx = stack_nxt;
    let warmup = 16;
    for i in 0..warmup + steps {
        now += 1;
        match mode {
            Mode::Rx => {
                for _ in 0..window {
                    let off = u64::from(peer_seq.wrapping_sub(PEER_ISS.wrapping_add(1)));
                    let f = PEER.tcp(
                        peer_seq,
                        stack_nxt,
                        flags::ACK | flags::PSH,
                        PEER_WINDOW,
                        None,
                        pattern_at(off, MSS),
                    );
                    wire.push(&f);
                    peer_seq = peer_seq.wrapping_add(MSS as u32);
                }
            }
            Mode::Tx => {
                for ack in pending_acks.drain(..) {
                    wire.push(&PEER.tcp(peer_seq, ack, flags::ACK, PEER_WINDOW, None, &[]));
                }
            }
        }
        if i < warmup {
            d.setup_step(wire, now);
        } else {
            d.step(wire, now);
        }
        for f in wire.take_sent() {
            let Some(t) = parse_tcp(&f) else { continue };
            if t.payload_len > 0 {
                assert_eq!(t.seq, expect_tx, "segments leave in order, none resent");
                let off = u64::from(t.seq.wrapping_sub(stack_nxt));
                assert_eq!(
                    &f[f.len() - t.payload_len..],
                    pattern_at(off, t.payload_len),
                    "payload"
                );
                expect_tx = t.seq.wrapping_add(t.payload_len as u32);
                pending_acks.push(expect_tx);
                if i >= warmup {
                    totals.data_segments_out += 1;
                }
            } else if t.flags == flags::ACK && i >= warmup {
                totals.acks_out += 1;
            }
        }
        if mode == Mode::Rx {
            let want = u64::from(peer_seq.wrapping_sub(PEER_ISS.wrapping_add(1)));
            assert_eq!(
                d.received(),
                want,
                "step {i}: the application took every segment"
            );
        }
    }
    totals.bytes_in = d.received();
    if mode == Mode::Tx {
        assert!(
            totals.data_segments_out >= steps,
            "the stack sent at least one segment per step"
        );
    }
    let _ = pattern_byte;
    totals
}

fn parse() -> Result<(String, Mode, usize, String, u64), String> {
    let usage = "usage: instructions --stack ember|smoltcp --mode rx|tx --window 1|4 [--retransmission regenerate|buffer] --steps K";
    let (mut stack, mut mode, mut window, mut rtx, mut steps) =
        (None, None, 1usize, "regenerate".to_string(), 1000u64);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let v = args
            .next()
            .ok_or(format!("{flag} needs a value\n{usage}"))?;
        match flag.as_str() {
            "--stack" => stack = Some(v),
            "--mode" => {
                mode = Some(match v.as_str() {
                    "rx" => Mode::Rx,
                    "tx" => Mode::Tx,
                    _ => return Err(format!("--mode rx|tx, not {v}")),
                })
            }
            "--window" => window = v.parse().map_err(|_| "--window 1 or 4")?,
            "--retransmission" => rtx = v,
            "--steps" => steps = v.parse().map_err(|_| "--steps wants a number")?,
            _ => return Err(format!("unknown argument {flag}\n{usage}")),
        }
    }
    Ok((stack.ok_or(usage)?, mode.ok_or(usage)?, window, rtx, steps))
}

fn main() -> ExitCode {
    let (stack, mode, window, rtx, steps) = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut wire = Wire::new();
    let (totals, ram) = match (stack.as_str(), window, rtx.as_str()) {
        ("ember", 1, "regenerate") => {
            ember::<configs::regenerate_w1::Device>(&mut wire, mode, window, steps)
        }
        ("ember", 4, "regenerate") => {
            ember::<configs::regenerate_w4::Device>(&mut wire, mode, window, steps)
        }
        ("ember", 1, "buffer") => {
            ember::<configs::buffer_w1::Device>(&mut wire, mode, window, steps)
        }
        ("ember", 4, "buffer") => {
            ember::<configs::buffer_w4::Device>(&mut wire, mode, window, steps)
        }
        ("smoltcp", 1 | 4, _) => {
            let mut s = Smol::new(&mut wire, window, mode);
            let t = run(&mut s, &mut wire, mode, window, steps);
            // The interface and the socket set's storage, plus the socket's
            // two buffers (on the heap here).
            let ram = std::mem::size_of::<Interface>()
                + std::mem::size_of::<tcp::Socket>()
                + 2 * window * MSS;
            (t, ram)
        }
        _ => {
            eprintln!("no such combination: {stack} window {window} {rtx}");
            return ExitCode::from(2);
        }
    };
    println!(
        "stack={stack} mode={} window={window} retransmission={rtx} steps={steps} data_segments_out={} acks_out={} bytes_in={} ram={ram}",
        if mode == Mode::Rx { "rx" } else { "tx" },
        totals.data_segments_out,
        totals.acks_out,
        totals.bytes_in,
    );
    ExitCode::SUCCESS
}

fn ember<C: Config>(wire: &mut Wire, mode: Mode, window: usize, steps: u64) -> (Totals, usize) {
    let mut e = Box::new(Ember::<C>::new(mode));
    let t = run(&mut *e, wire, mode, window, steps);
    (t, std::mem::size_of::<Stack<C>>())
}
