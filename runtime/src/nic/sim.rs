//! An in-memory simulated Ethernet segment with seeded, deterministic faults.
//!
//! [`SimWire`] is a shared medium (a hub): every frame one [`SimNic`]
//! endpoint sends is delivered to every other endpoint. Frames pass through a
//! [`FaultInjector`] that can lose, duplicate, reorder, corrupt and delay
//! them, driven by a seeded [`Rng`] so that a failing run can be replayed
//! exactly from its seed. Time is virtual ([`SimWire::set_now`]): nothing
//! here reads the host clock, so simulated tests are fast and repeatable.
//!
//! The same [`FaultInjector`] is reused by [`Faulty`](super::faulty::Faulty)
//! to put faults between the stack and a real NIC (a Linux TAP), because
//! `tc netem` is not available on the kernels the peer tests run on.
//!
//! Endpoints come in both controller kinds: [`SimNic`] (the default,
//! [`TxMode::Rewrite`]) and `SimNic<true>` ([`TxMode::LengthFirst`], which
//! enforces the declared length and ignores rewrites), so tests can prove
//! the stack serves both.

use core::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::vec::Vec;

use super::{Nic, NicError, TxMode, MAX_FRAME_LEN};

/// Length of the Ethernet header that corruption never touches, so a
/// corrupted frame still reaches the same receiver and ethertype handler
/// (the interesting failure is a bad checksum further in).
pub const ETHERNET_HEADER_LEN: usize = 14;

/// Default number of frames an endpoint's receive queue holds before new
/// frames are dropped (a NIC's receive buffer is finite too).
pub const DEFAULT_RX_CAPACITY: usize = 64;

/// A small deterministic pseudo-random generator (SplitMix64).
///
/// Not cryptographic; it exists so fault sequences are reproducible from a
/// seed without pulling in the `rand` crate.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// Creates a generator; equal seeds give equal sequences.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform value in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        // 53 random bits make every representable step equally likely.
        const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
        (self.next_u64() >> 11) as f64 * SCALE
    }

    /// True with probability `p` (`p <= 0` or NaN: never; `p >= 1`: always).
    /// Always consumes exactly one draw.
    pub fn chance(&mut self, p: f64) -> bool {
        let u = self.next_f64();
        u < p
    }

    /// A uniform value in the inclusive range `lo..=hi` (the bounds may be
    /// given in either order). Always consumes exactly one draw.
    pub fn range_inclusive(&mut self, lo: u64, hi: u64) -> u64 {
        let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        let x = self.next_u64();
        match hi.wrapping_sub(lo).checked_add(1) {
            Some(span) => lo.wrapping_add(x.checked_rem(span).unwrap_or(0)),
            None => x, // the whole u64 range
        }
    }
}

/// Which faults to inject, each as a per-frame probability.
///
/// Construct with struct update syntax so new fields do not break callers:
/// `Faults { loss: 0.1, ..Faults::none() }`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Faults {
    /// Probability that a frame is dropped.
    pub loss: f64,
    /// Probability that a (not dropped) frame is delivered twice.
    pub duplicate: f64,
    /// Probability that a frame is held back and delivered after the next
    /// frame (swapped with its successor).
    pub reorder: f64,
    /// Inclusive range of extra delay per delivered copy, in milliseconds,
    /// drawn uniformly.
    pub delay_ms: (u64, u64),
    /// Probability that a delivered copy has one byte beyond the Ethernet
    /// header XORed with a random non-zero value.
    pub corrupt: f64,
    /// How long a frame held back for reordering waits for a successor
    /// before it is released anyway (so the last frame of a burst is late,
    /// not lost), in milliseconds.
    pub reorder_hold_ms: u64,
}

impl Faults {
    /// A perfect wire: nothing lost, duplicated, reordered, corrupted or
    /// delayed (reorder hold 10 ms, used only if `reorder` is raised).
    pub const fn none() -> Faults {
        Faults {
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            delay_ms: (0, 0),
            corrupt: 0.0,
            reorder_hold_ms: 10,
        }
    }
}

impl Default for Faults {
    fn default() -> Faults {
        Faults::none()
    }
}

/// Counters of what a [`FaultInjector`] did, for test assertions and logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Frames handed to the injector.
    pub offered: u64,
    /// Frame copies handed out again (including duplicates).
    pub delivered: u64,
    /// Frames dropped by `loss`.
    pub dropped: u64,
    /// Extra copies created by `duplicate`.
    pub duplicated: u64,
    /// Frames that were overtaken by a later frame because of `reorder`.
    pub reordered: u64,
    /// Copies with a byte flipped by `corrupt`.
    pub corrupted: u64,
    /// Copies given a non-zero delay by `delay_ms`.
    pub delayed: u64,
}

#[derive(Debug)]
struct Entry {
    due: u64,
    seq: u64,
    source: usize,
    bytes: Vec<u8>,
}

#[derive(Debug)]
struct Held {
    release: u64,
    entries: Vec<Entry>,
}

/// Applies [`Faults`] to a stream of frames, deterministically from a seed.
///
/// Frames go in with [`push`](FaultInjector::push) at some clock time and
/// come out with [`pop`](FaultInjector::pop) once they are due. The clock is
/// whatever the caller passes (virtual milliseconds for [`SimWire`], elapsed
/// real milliseconds for [`Faulty`](super::faulty::Faulty)); it should not go
/// backwards. Each frame consumes a fixed number of random draws whatever
/// the outcome, so the fault sequence for one kind of fault does not shift
/// when another probability changes (frames lost at 10 % loss are also lost
/// at 20 % with the same seed).
#[derive(Debug)]
pub struct FaultInjector {
    rng: Rng,
    faults: Faults,
    stats: FaultStats,
    queue: Vec<Entry>,
    held: Option<Held>,
    seq: u64,
}

impl FaultInjector {
    /// Creates an injector with its own seeded generator.
    pub fn new(seed: u64, faults: Faults) -> FaultInjector {
        FaultInjector {
            rng: Rng::new(seed),
            faults,
            stats: FaultStats::default(),
            queue: Vec::new(),
            held: None,
            seq: 0,
        }
    }

    /// The faults being applied.
    pub fn faults(&self) -> Faults {
        self.faults
    }

    /// Changes the faults for frames pushed from now on (a test can heal or
    /// break a link mid-run).
    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
    }

    /// What has been done so far.
    pub fn stats(&self) -> FaultStats {
        self.stats
    }

    /// Frame copies waiting to be popped (including one held for reorder).
    pub fn queued(&self) -> usize {
        let held = self.held.as_ref().map_or(0, |h| h.entries.len());
        self.queue.len().saturating_add(held)
    }

    fn next_seq(&mut self) -> u64 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Offers one frame sent at `now_ms` by `source` (an opaque tag handed
    /// back by [`pop`](FaultInjector::pop); [`SimWire`] uses the endpoint
    /// index so a sender does not hear itself).
    pub fn push(&mut self, now_ms: u64, source: usize, frame: Vec<u8>) {
        let f = self.faults;
        self.stats.offered = self.stats.offered.saturating_add(1);
        // Fixed draws per frame: loss, duplicate, reorder, then per copy
        // (always two) corrupt, corrupt position, corrupt mask and delay.
        let lost = self.rng.chance(f.loss);
        let dup = self.rng.chance(f.duplicate);
        let reorder = self.rng.chance(f.reorder);
        let mut draws = [(false, 0u64, 0u64, 0u64); 2];
        for d in draws.iter_mut() {
            *d = (
                self.rng.chance(f.corrupt),
                self.rng.next_u64(),
                self.rng.next_u64(),
                self.rng.range_inclusive(f.delay_ms.0, f.delay_ms.1),
            );
        }
        if lost {
            self.stats.dropped = self.stats.dropped.saturating_add(1);
            return;
        }
        let copies = if dup {
            self.stats.duplicated = self.stats.duplicated.saturating_add(1);
            2
        } else {
            1
        };
        let mut entries = Vec::with_capacity(copies);
        for &(corrupt, pos, mask, delay) in draws.iter().take(copies) {
            let mut bytes = frame.clone();
            if corrupt && corrupt_one_byte(&mut bytes, pos, mask) {
                self.stats.corrupted = self.stats.corrupted.saturating_add(1);
            }
            if delay > 0 {
                self.stats.delayed = self.stats.delayed.saturating_add(1);
            }
            let seq = self.next_seq();
            entries.push(Entry {
                due: now_ms.saturating_add(delay),
                seq,
                source,
                bytes,
            });
        }
        if reorder && self.held.is_none() {
            self.held = Some(Held {
                release: now_ms.saturating_add(f.reorder_hold_ms),
                entries,
            });
            return;
        }
        let latest = entries.iter().map(|e| e.due).max().unwrap_or(now_ms);
        self.queue.append(&mut entries);
        if let Some(held) = self.held.take() {
            // The held frame goes after this one: never due before it and
            // later in sequence among equal due times.
            self.stats.reordered = self.stats.reordered.saturating_add(1);
            for mut e in held.entries {
                e.due = e.due.max(latest);
                e.seq = self.next_seq();
                self.queue.push(e);
            }
        }
    }

    fn release_expired_hold(&mut self, now_ms: u64) {
        if self.held.as_ref().is_some_and(|h| h.release <= now_ms) {
            if let Some(held) = self.held.take() {
                self.queue.extend(held.entries);
            }
        }
    }

    /// Takes the next frame copy due at `now_ms` (earliest due first, then
    /// in the order they were queued), with the source it was pushed with.
    pub fn pop(&mut self, now_ms: u64) -> Option<(usize, Vec<u8>)> {
        self.release_expired_hold(now_ms);
        let (idx, _) = self
            .queue
            .iter()
            .enumerate()
            .filter(|(_, e)| e.due <= now_ms)
            .min_by_key(|(_, e)| (e.due, e.seq))?;
        let e = self.queue.remove(idx);
        self.stats.delivered = self.stats.delivered.saturating_add(1);
        Some((e.source, e.bytes))
    }

    /// The clock time at which the next frame becomes due, if any is
    /// queued, so a caller can sleep (or advance virtual time) until then.
    pub fn next_due(&self) -> Option<u64> {
        let queued = self.queue.iter().map(|e| e.due).min();
        let held = self
            .held
            .as_ref()
            .and_then(|h| h.entries.iter().map(|e| e.due.max(h.release)).min());
        match (queued, held) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// XORs one byte beyond the Ethernet header with a non-zero value; false if
/// the frame has no such byte.
fn corrupt_one_byte(bytes: &mut [u8], pos: u64, mask: u64) -> bool {
    let span = bytes.len().saturating_sub(ETHERNET_HEADER_LEN);
    let Some(off) = usize::try_from(pos).ok().and_then(|p| p.checked_rem(span)) else {
        return false;
    };
    // 1..=255: never a no-op flip.
    let m = u8::try_from(mask.checked_rem(255).unwrap_or(0))
        .unwrap_or(0)
        .saturating_add(1);
    match bytes.get_mut(ETHERNET_HEADER_LEN.saturating_add(off)) {
        Some(b) => {
            *b ^= m;
            true
        }
        None => false,
    }
}

#[derive(Debug)]
struct WireState {
    now: u64,
    injector: FaultInjector,
    endpoints: Vec<VecDeque<Vec<u8>>>,
    rx_capacity: usize,
    rx_overflows: u64,
}

impl WireState {
    /// Moves every frame due now from the injector to the receive queues of
    /// all endpoints except its sender.
    fn pump(&mut self) {
        while let Some((source, frame)) = self.injector.pop(self.now) {
            for (idx, rx) in self.endpoints.iter_mut().enumerate() {
                if idx == source {
                    continue;
                }
                if rx.len() >= self.rx_capacity {
                    self.rx_overflows = self.rx_overflows.saturating_add(1);
                } else {
                    rx.push_back(frame.clone());
                }
            }
        }
    }
}

/// A simulated shared Ethernet segment (a hub) between [`SimNic`] endpoints.
///
/// Cloning the wire gives another handle to the same segment. Single
/// threaded by design (the stack is too).
#[derive(Clone, Debug)]
pub struct SimWire {
    state: Rc<RefCell<WireState>>,
}

impl SimWire {
    /// Creates a segment whose faults are drawn from `seed`; the same seed
    /// and the same sequence of sends give the same deliveries.
    pub fn new(seed: u64, faults: Faults) -> SimWire {
        SimWire {
            state: Rc::new(RefCell::new(WireState {
                now: 0,
                injector: FaultInjector::new(seed, faults),
                endpoints: Vec::new(),
                rx_capacity: DEFAULT_RX_CAPACITY,
                rx_overflows: 0,
            })),
        }
    }

    fn attach<const LENGTH_FIRST: bool>(&self) -> SimNic<LENGTH_FIRST> {
        let id = {
            let mut s = self.state.borrow_mut();
            s.endpoints.push(VecDeque::new());
            s.endpoints.len().saturating_sub(1)
        };
        SimNic {
            wire: self.clone(),
            id,
            rx: None,
            rx_cursor: 0,
            tx: Vec::new(),
            tx_declared: None,
            violations: 0,
            unplugged: false,
            reports_link: true,
            tx_failures: 0,
        }
    }

    /// Attaches a new [`TxMode::Rewrite`] endpoint. It hears frames sent
    /// after it attached by every other endpoint.
    pub fn endpoint(&self) -> SimNic {
        self.attach::<false>()
    }

    /// Attaches a new [`TxMode::LengthFirst`] endpoint (behaves like a FIFO
    /// MAC: the length declared at `tx_begin` must match what is written,
    /// and rewrites are ignored).
    pub fn endpoint_length_first(&self) -> SimNic<true> {
        self.attach::<true>()
    }

    /// Sets the virtual clock in milliseconds and delivers frames now due.
    /// The clock never goes backwards: an earlier value is ignored.
    pub fn set_now(&self, ms: u64) {
        let mut s = self.state.borrow_mut();
        s.now = s.now.max(ms);
        s.pump();
    }

    /// The virtual clock in milliseconds.
    pub fn now(&self) -> u64 {
        self.state.borrow().now
    }

    /// When the next delayed or held frame becomes due (virtual ms), so a
    /// simulation loop can advance its clock to the earlier of this and the
    /// stacks' `poll_at()`.
    pub fn next_due(&self) -> Option<u64> {
        self.state.borrow().injector.next_due()
    }

    /// Changes the faults for frames sent from now on.
    pub fn set_faults(&self, faults: Faults) {
        self.state.borrow_mut().injector.set_faults(faults);
    }

    /// What the fault injector has done so far.
    pub fn stats(&self) -> FaultStats {
        self.state.borrow().injector.stats()
    }

    /// Sets how many frames each endpoint's receive queue holds (default
    /// [`DEFAULT_RX_CAPACITY`]); further frames are dropped and counted in
    /// [`rx_overflows`](SimWire::rx_overflows).
    pub fn set_rx_capacity(&self, frames: usize) {
        self.state.borrow_mut().rx_capacity = frames;
    }

    /// Frames dropped because a receiver's queue was full.
    pub fn rx_overflows(&self) -> u64 {
        self.state.borrow().rx_overflows
    }

    fn send(&self, source: usize, frame: Vec<u8>) {
        let mut s = self.state.borrow_mut();
        let now = s.now;
        s.injector.push(now, source, frame);
        s.pump();
    }

    fn receive(&self, id: usize) -> Option<Vec<u8>> {
        let mut s = self.state.borrow_mut();
        s.pump();
        s.endpoints.get_mut(id).and_then(VecDeque::pop_front)
    }
}

/// One endpoint on a [`SimWire`], implementing [`Nic`].
///
/// `LENGTH_FIRST = false` (the default) is a [`TxMode::Rewrite`] controller;
/// `true` is a [`TxMode::LengthFirst`] one. Either way the endpoint counts
/// contract violations by the user (see
/// [`contract_violations`](SimNic::contract_violations)) so tests can assert
/// the stack drives the NIC correctly.
#[derive(Debug)]
pub struct SimNic<const LENGTH_FIRST: bool = false> {
    wire: SimWire,
    id: usize,
    rx: Option<Vec<u8>>,
    rx_cursor: usize,
    tx: Vec<u8>,
    tx_declared: Option<usize>,
    violations: u64,
    /// The cable: unplugged, frames are neither sent nor received and
    /// `tx_send` fails with [`NicError::Device`].
    unplugged: bool,
    /// Whether `link_up` tells the truth (a PHY it can read) or always
    /// says up (a controller that cannot tell).
    reports_link: bool,
    tx_failures: u64,
}

impl<const LENGTH_FIRST: bool> SimNic<LENGTH_FIRST> {
    /// This endpoint's index on the wire (the order it attached in).
    pub fn id(&self) -> usize {
        self.id
    }

    /// The wire this endpoint is attached to.
    pub fn wire(&self) -> &SimWire {
        &self.wire
    }

    /// Calls that broke the [`Nic`] contract so far: `tx_rewrite` on a
    /// `LengthFirst` endpoint, `tx_write`/`tx_rewrite`/`tx_send` without
    /// `tx_begin`, and frames sent shorter than
    /// [`MIN_FRAME_LEN`](super::MIN_FRAME_LEN) (the stack pads).
    pub fn contract_violations(&self) -> u64 {
        self.violations
    }

    /// Plugs (`true`) or unplugs the cable.
    pub fn set_cable(&mut self, plugged: bool) {
        self.unplugged = !plugged;
    }

    /// Whether [`Nic::link_up`] reports the cable (default) or always
    /// says up, like a controller without a readable PHY.
    pub fn set_reports_link(&mut self, reports: bool) {
        self.reports_link = reports;
    }

    /// Sends that failed because the cable was out.
    pub fn tx_failures(&self) -> u64 {
        self.tx_failures
    }

    fn violation(&mut self) {
        self.violations = self.violations.saturating_add(1);
    }

    /// Sends a whole frame at once (for scripted peers in tests), through
    /// the same path as the streaming calls.
    pub fn send_frame(&mut self, frame: &[u8]) -> Result<(), NicError> {
        self.tx_begin(frame.len())?;
        self.tx_write(frame);
        self.tx_send()
    }

    /// Takes the next received frame whole (for scripted peers in tests);
    /// a frame already current is returned and freed.
    pub fn recv_frame(&mut self) -> Option<Vec<u8>> {
        self.rx_pending()?;
        self.rx_cursor = 0;
        self.rx.take()
    }
}

impl<const LENGTH_FIRST: bool> Nic for SimNic<LENGTH_FIRST> {
    const TX_MODE: TxMode = if LENGTH_FIRST {
        TxMode::LengthFirst
    } else {
        TxMode::Rewrite
    };

    fn link_up(&mut self) -> bool {
        !(self.reports_link && self.unplugged)
    }

    fn rx_pending(&mut self) -> Option<usize> {
        if self.unplugged {
            return None;
        }
        if self.rx.is_none() {
            self.rx = self.wire.receive(self.id);
            self.rx_cursor = 0;
        }
        self.rx.as_ref().map(Vec::len)
    }

    fn rx_read(&mut self, buf: &mut [u8]) -> usize {
        let Some(frame) = self.rx.as_ref() else {
            return 0;
        };
        let rest = frame.get(self.rx_cursor..).unwrap_or(&[]);
        let n = rest.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.rx_cursor = self.rx_cursor.saturating_add(n);
        n
    }

    fn rx_seek(&mut self, offset: usize) {
        let len = self.rx.as_ref().map_or(0, Vec::len);
        self.rx_cursor = offset.min(len);
    }

    fn rx_dump(&mut self) {
        self.rx = None;
        self.rx_cursor = 0;
    }

    fn tx_ready(&mut self, len: usize) -> bool {
        len <= MAX_FRAME_LEN
    }

    fn tx_begin(&mut self, len: usize) -> Result<(), NicError> {
        self.tx.clear();
        self.tx_declared = None;
        if len > MAX_FRAME_LEN {
            return Err(NicError::TooLong);
        }
        self.tx_declared = Some(len);
        Ok(())
    }

    fn tx_write(&mut self, bytes: &[u8]) {
        if self.tx_declared.is_none() {
            self.violation();
            return;
        }
        self.tx.extend_from_slice(bytes);
    }

    fn tx_rewrite(&mut self, offset: usize, bytes: &[u8]) {
        if LENGTH_FIRST || self.tx_declared.is_none() {
            self.violation();
            return;
        }
        let end = offset.saturating_add(bytes.len()).min(self.tx.len());
        if let Some(dst) = self.tx.get_mut(offset..end) {
            if let Some(src) = bytes.get(..dst.len()) {
                dst.copy_from_slice(src);
            }
        }
    }

    fn tx_send(&mut self) -> Result<(), NicError> {
        let Some(declared) = self.tx_declared.take() else {
            self.violation();
            return Err(NicError::Device);
        };
        let frame = core::mem::take(&mut self.tx);
        let ok = if LENGTH_FIRST {
            frame.len() == declared
        } else {
            frame.len() <= declared
        };
        if !ok {
            return Err(NicError::LengthMismatch);
        }
        if frame.len() < super::MIN_FRAME_LEN {
            self.violation();
        }
        if self.unplugged {
            self.tx_failures = self.tx_failures.saturating_add(1);
            return Err(NicError::Device);
        }
        self.wire.send(self.id, frame);
        Ok(())
    }

    fn tx_abort(&mut self) {
        self.tx.clear();
        self.tx_declared = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nic::MIN_FRAME_LEN;

    fn frame(tag: u8, len: usize) -> Vec<u8> {
        let mut f = vec![0u8; len];
        f[..6].copy_from_slice(&[0xff; 6]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, tag]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        for (i, b) in f.iter_mut().enumerate().skip(14) {
            *b = (i as u8).wrapping_mul(7) ^ tag;
        }
        f
    }

    fn tag(f: &[u8]) -> u8 {
        f[11]
    }

    #[test]
    fn delivers_to_all_other_endpoints_not_sender() {
        let wire = SimWire::new(1, Faults::none());
        let mut a = wire.endpoint();
        let mut b = wire.endpoint();
        let mut c = wire.endpoint_length_first();
        a.send_frame(&frame(1, 60)).unwrap();
        assert_eq!(b.recv_frame().unwrap(), frame(1, 60));
        assert_eq!(c.recv_frame().unwrap(), frame(1, 60));
        assert!(a.recv_frame().is_none());
        assert_eq!(wire.stats().offered, 1);
        assert_eq!(wire.stats().delivered, 1);
        assert_eq!(a.contract_violations(), 0);
    }

    #[test]
    fn rx_cursor_semantics() {
        let wire = SimWire::new(1, Faults::none());
        let mut a = wire.endpoint();
        let mut b = wire.endpoint();
        let f = frame(9, 70);
        a.send_frame(&f).unwrap();
        a.send_frame(&frame(10, 60)).unwrap();
        assert_eq!(b.rx_pending(), Some(70));
        assert_eq!(b.rx_pending(), Some(70), "same frame until dumped");
        let mut buf = [0u8; 20];
        assert_eq!(b.rx_read(&mut buf), 20);
        assert_eq!(&buf[..], &f[..20]);
        b.rx_seek(60);
        assert_eq!(b.rx_read(&mut buf), 10);
        assert_eq!(&buf[..10], &f[60..]);
        assert_eq!(b.rx_read(&mut buf), 0);
        b.rx_seek(1000);
        assert_eq!(b.rx_read(&mut buf), 0);
        b.rx_seek(14);
        assert_eq!(b.rx_read(&mut buf[..2]), 2);
        assert_eq!(&buf[..2], &f[14..16]);
        b.rx_dump();
        assert_eq!(b.rx_pending(), Some(60));
        b.rx_dump();
        assert_eq!(b.rx_pending(), None);
        assert_eq!(b.rx_read(&mut buf), 0);
        b.rx_seek(3);
        b.rx_dump();
    }

    #[test]
    fn rewrite_mode_patches_and_bounds_length() {
        let wire = SimWire::new(1, Faults::none());
        let mut a = wire.endpoint();
        let mut b = wire.endpoint();
        assert_eq!(<SimNic as Nic>::TX_MODE, TxMode::Rewrite);
        let mut f = frame(3, 64);
        a.tx_begin(100).unwrap();
        let mut placeholder = f.clone();
        placeholder[20..22].copy_from_slice(&[0, 0]);
        a.tx_write(&placeholder);
        a.tx_rewrite(20, &f[20..22]);
        a.tx_rewrite(63, &[1, 2, 3]); // clamped to the written length
        f[63] = 1;
        a.tx_send().unwrap();
        assert_eq!(b.recv_frame().unwrap(), f);
        a.tx_begin(60).unwrap();
        a.tx_write(&frame(3, 61));
        assert_eq!(a.tx_send(), Err(NicError::LengthMismatch));
        assert_eq!(a.tx_begin(MAX_FRAME_LEN + 1), Err(NicError::TooLong));
        assert!(!a.tx_ready(MAX_FRAME_LEN + 1));
        assert!(a.tx_ready(MAX_FRAME_LEN));
        a.tx_begin(60).unwrap();
        a.tx_write(&frame(4, 60));
        a.tx_abort();
        assert_eq!(a.tx_send(), Err(NicError::Device));
        assert!(b.recv_frame().is_none());
        assert_eq!(a.contract_violations(), 1); // send after abort
    }

    #[test]
    fn length_first_mismatch_detected_and_rewrite_ignored() {
        let wire = SimWire::new(1, Faults::none());
        let mut a = wire.endpoint_length_first();
        let mut b = wire.endpoint();
        assert_eq!(<SimNic<true> as Nic>::TX_MODE, TxMode::LengthFirst);
        let f = frame(5, 80);
        a.tx_begin(81).unwrap();
        a.tx_write(&f);
        assert_eq!(a.tx_send(), Err(NicError::LengthMismatch));
        a.tx_begin(79).unwrap();
        a.tx_write(&f);
        assert_eq!(a.tx_send(), Err(NicError::LengthMismatch));
        assert!(b.recv_frame().is_none());
        a.tx_begin(80).unwrap();
        a.tx_write(&f[..40]);
        a.tx_rewrite(14, &[0xaa; 4]);
        a.tx_write(&f[40..]);
        a.tx_send().unwrap();
        assert_eq!(b.recv_frame().unwrap(), f, "rewrite must be ignored");
        assert_eq!(a.contract_violations(), 1);
    }

    #[test]
    fn short_frames_count_as_violation() {
        let wire = SimWire::new(1, Faults::none());
        let mut a = wire.endpoint();
        let _b = wire.endpoint();
        a.send_frame(&frame(1, MIN_FRAME_LEN - 1)).unwrap();
        assert_eq!(a.contract_violations(), 1);
    }

    fn run_lossy(seed: u64, faults: Faults, n: usize) -> (Vec<Vec<u8>>, FaultStats) {
        let wire = SimWire::new(seed, faults);
        let mut a = wire.endpoint();
        let mut b = wire.endpoint();
        wire.set_rx_capacity(usize::MAX);
        let mut got = Vec::new();
        for i in 0..n {
            a.send_frame(&frame((i % 251) as u8, 60 + i % 50)).unwrap();
            while let Some(f) = b.recv_frame() {
                got.push(f);
            }
        }
        wire.set_now(u64::MAX);
        while let Some(f) = b.recv_frame() {
            got.push(f);
        }
        (got, wire.stats())
    }

    #[test]
    fn loss_rate_within_tolerance() {
        let n = 10_000;
        let (got, stats) = run_lossy(
            42,
            Faults {
                loss: 0.2,
                ..Faults::none()
            },
            n,
        );
        let rate = stats.dropped as f64 / n as f64;
        assert!((rate - 0.2).abs() < 0.02, "loss rate {rate}");
        assert_eq!(got.len() as u64, n as u64 - stats.dropped);
        assert_eq!(stats.delivered, got.len() as u64);
    }

    #[test]
    fn same_seed_same_faults_other_seed_differs() {
        let faults = Faults {
            loss: 0.1,
            duplicate: 0.1,
            reorder: 0.1,
            corrupt: 0.1,
            delay_ms: (0, 5),
            ..Faults::none()
        };
        let a = run_lossy(7, faults, 2000);
        let b = run_lossy(7, faults, 2000);
        assert_eq!(a, b);
        let c = run_lossy(8, faults, 2000);
        assert_ne!(a.0, c.0);
    }

    #[test]
    fn fault_draws_are_independent_of_other_probabilities() {
        let lost = |faults: Faults| {
            let mut inj = FaultInjector::new(99, faults);
            let mut lost = Vec::new();
            for i in 0..500u64 {
                let before = inj.stats().dropped;
                inj.push(i, 0, vec![0; 60]);
                if inj.stats().dropped > before {
                    lost.push(i);
                }
            }
            lost
        };
        let a = lost(Faults {
            loss: 0.1,
            ..Faults::none()
        });
        let b = lost(Faults {
            loss: 0.1,
            duplicate: 0.5,
            corrupt: 0.5,
            ..Faults::none()
        });
        let c = lost(Faults {
            loss: 0.2,
            ..Faults::none()
        });
        assert_eq!(a, b);
        assert!(a.iter().all(|i| c.contains(i)));
    }

    #[test]
    fn duplication_delivers_twice() {
        let n = 2000;
        let (got, stats) = run_lossy(
            3,
            Faults {
                duplicate: 0.25,
                ..Faults::none()
            },
            n,
        );
        let rate = stats.duplicated as f64 / n as f64;
        assert!((rate - 0.25).abs() < 0.04, "dup rate {rate}");
        assert_eq!(got.len(), n + stats.duplicated as usize);
        let twins = got.windows(2).filter(|w| w[0] == w[1]).count();
        assert_eq!(twins as u64, stats.duplicated);
    }

    #[test]
    fn reorder_swaps_with_next_frame() {
        let wire = SimWire::new(
            5,
            Faults {
                reorder: 1.0,
                ..Faults::none()
            },
        );
        let mut a = wire.endpoint();
        let mut b = wire.endpoint();
        // reorder 1.0: frame 1 is held, frame 2 overtakes it and releases it,
        // frame 3 is held again, and so on.
        for t in 1..=4 {
            a.send_frame(&frame(t, 60)).unwrap();
        }
        let order: Vec<u8> = std::iter::from_fn(|| b.recv_frame())
            .map(|f| tag(&f))
            .collect();
        assert_eq!(order, vec![2, 1, 4, 3]);
        assert_eq!(wire.stats().reordered, 2);
        // A held frame with no successor is released after the hold time.
        a.send_frame(&frame(5, 60)).unwrap();
        assert!(b.recv_frame().is_none());
        assert_eq!(wire.next_due(), Some(10));
        wire.set_now(9);
        assert!(b.recv_frame().is_none());
        wire.set_now(10);
        assert_eq!(tag(&b.recv_frame().unwrap()), 5);
    }

    #[test]
    fn reorder_rate_is_visible_in_order() {
        let n = 2000;
        let (got, stats) = run_lossy(
            11,
            Faults {
                reorder: 0.1,
                ..Faults::none()
            },
            n,
        );
        assert_eq!(got.len(), n);
        let inversions = got.windows(2).filter(|w| tag(&w[1]) < tag(&w[0])).count();
        assert!(stats.reordered > 100, "{stats:?}");
        // About 8 wraps of the 0..251 tag cycle; everything else is reordering.
        assert!(inversions > 100, "{inversions}");
    }

    #[test]
    fn delay_holds_frames_until_due() {
        let wire = SimWire::new(
            2,
            Faults {
                delay_ms: (5, 15),
                ..Faults::none()
            },
        );
        let mut a = wire.endpoint();
        let mut b = wire.endpoint();
        a.send_frame(&frame(1, 60)).unwrap();
        assert!(b.rx_pending().is_none());
        let due = wire.next_due().unwrap();
        assert!((5..=15).contains(&due));
        wire.set_now(due - 1);
        assert!(b.rx_pending().is_none());
        wire.set_now(due);
        assert_eq!(b.rx_pending(), Some(60));
        assert_eq!(wire.stats().delayed, 1);
        assert_eq!(wire.next_due(), None);
    }

    #[test]
    fn corruption_never_touches_ethernet_header() {
        let n = 3000;
        let (got, stats) = run_lossy(
            13,
            Faults {
                corrupt: 0.5,
                ..Faults::none()
            },
            n,
        );
        assert_eq!(got.len(), n);
        let mut corrupted = 0;
        for (i, f) in got.iter().enumerate() {
            let want = frame((i % 251) as u8, 60 + i % 50);
            assert_eq!(f.len(), want.len());
            assert_eq!(f[..14], want[..14]);
            let diff = f.iter().zip(&want).filter(|(x, y)| x != y).count();
            assert!(diff <= 1);
            corrupted += diff;
        }
        assert_eq!(corrupted as u64, stats.corrupted);
        assert!((stats.corrupted as f64 / n as f64 - 0.5).abs() < 0.05);
        // A bare header cannot be corrupted at all.
        let mut inj = FaultInjector::new(
            1,
            Faults {
                corrupt: 1.0,
                ..Faults::none()
            },
        );
        inj.push(0, 0, vec![1; 14]);
        assert_eq!(inj.pop(0).unwrap().1, vec![1; 14]);
        assert_eq!(inj.stats().corrupted, 0);
    }

    #[test]
    fn rx_queue_overflow_drops_and_counts() {
        let wire = SimWire::new(1, Faults::none());
        let mut a = wire.endpoint();
        let mut b = wire.endpoint();
        wire.set_rx_capacity(3);
        for t in 0..5 {
            a.send_frame(&frame(t, 60)).unwrap();
        }
        assert_eq!(wire.rx_overflows(), 2);
        assert_eq!(std::iter::from_fn(|| b.recv_frame()).count(), 3);
    }

    #[test]
    fn rng_ranges() {
        let mut r = Rng::new(0);
        for _ in 0..1000 {
            let v = r.range_inclusive(3, 5);
            assert!((3..=5).contains(&v));
            assert_eq!(r.range_inclusive(9, 9), 9);
            let f = r.next_f64();
            assert!((0.0..1.0).contains(&f));
        }
        assert!(!r.chance(0.0));
        assert!(r.chance(1.0));
        assert!(!r.chance(f64::NAN));
        let _ = r.range_inclusive(0, u64::MAX);
        assert_eq!(r.range_inclusive(5, 3) / 3, 1);
    }
}
