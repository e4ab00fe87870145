//! Seeded fault injection in front of any real [`Nic`] (a Linux TAP).
//!
//! The kernels the peer tests run on have no `tc netem`, so loss, delay,
//! reordering, duplication and corruption against real peers are injected
//! here, in the stack's own NIC layer, with the same deterministic
//! [`FaultInjector`] the simulated wire uses. [`Faulty`] is itself a
//! [`Nic`] with the inner NIC's [`TxMode`], so the stack runs the same
//! egress path as it would on the bare controller.
//!
//! Both directions go through an injector of their own:
//!
//! - receive: frames are drained from the inner NIC (up to
//!   [`RX_DRAIN_BATCH`] per call), pass the receive injector and become
//!   current when due;
//! - transmit: the frame is built in a host buffer (enforcing the inner
//!   NIC's mode: exact length for `LengthFirst`, rewrites only for
//!   `Rewrite`), passes the transmit injector and is written to the inner
//!   NIC when due. If the inner NIC is busy, it waits in a small backlog and
//!   is retried on the next call.
//!
//! The clock is real time since construction unless a test sets it with
//! [`Faulty::set_now`]. With delays configured, a device that sleeps must
//! also wake for [`Faulty::next_due_in`] (done by [`Faulty::wait`] for a
//! TAP).

use std::collections::VecDeque;
use std::time::{Duration, Instant};
use std::vec::Vec;

use super::sim::{FaultInjector, FaultStats, Faults, Rng};
use super::{Nic, NicError, TxMode, MAX_FRAME_LEN};

/// How many frames one receive call drains from the inner NIC at most, so
/// a flood cannot keep the stack in one call forever.
pub const RX_DRAIN_BATCH: usize = 64;

/// How many due transmit frames may wait for a busy inner NIC; more are
/// dropped and counted in [`Faulty::tx_backlog_drops`].
pub const TX_BACKLOG: usize = 64;

#[derive(Clone, Copy, Debug)]
enum Clock {
    Real(Instant),
    Manual(u64),
}

/// A [`Nic`] wrapper that applies seeded [`Faults`] to frames in both
/// directions.
#[derive(Debug)]
pub struct Faulty<N: Nic> {
    inner: N,
    rx_faults: FaultInjector,
    tx_faults: FaultInjector,
    clock: Clock,
    rx: Option<Vec<u8>>,
    rx_cursor: usize,
    tx: Vec<u8>,
    tx_declared: Option<usize>,
    tx_backlog: VecDeque<Vec<u8>>,
    tx_backlog_drops: u64,
    tx_errors: u64,
}

impl<N: Nic> Faulty<N> {
    /// Wraps `inner`, applying `rx` to frames it receives and `tx` to frames
    /// the stack sends. Both fault streams derive from `seed` (independent
    /// of each other), so one seed replays a whole run's faults given the
    /// same traffic and timing.
    pub fn new(inner: N, seed: u64, rx: Faults, tx: Faults) -> Faulty<N> {
        let mut seeds = Rng::new(seed);
        Faulty {
            inner,
            rx_faults: FaultInjector::new(seeds.next_u64(), rx),
            tx_faults: FaultInjector::new(seeds.next_u64(), tx),
            clock: Clock::Real(Instant::now()),
            rx: None,
            rx_cursor: 0,
            tx: Vec::new(),
            tx_declared: None,
            tx_backlog: VecDeque::new(),
            tx_backlog_drops: 0,
            tx_errors: 0,
        }
    }

    /// Switches to a manual clock in milliseconds (for tests that need
    /// delays to be exact) and sends/receives whatever is now due. The
    /// clock never goes backwards.
    pub fn set_now(&mut self, ms: u64) {
        let now = match self.clock {
            Clock::Manual(old) => old.max(ms),
            Clock::Real(_) => ms,
        };
        self.clock = Clock::Manual(now);
        self.flush_tx();
    }

    /// The clock in milliseconds (real time since construction, or the
    /// value given to [`set_now`](Faulty::set_now)).
    pub fn now(&self) -> u64 {
        match self.clock {
            Clock::Real(start) => u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
            Clock::Manual(ms) => ms,
        }
    }

    /// The clock time at which the next delayed or held frame (either
    /// direction) becomes due.
    pub fn next_due(&self) -> Option<u64> {
        match (self.rx_faults.next_due(), self.tx_faults.next_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// How long until [`next_due`](Faulty::next_due) (zero if already due),
    /// so a sleeping device also wakes for delayed frames.
    pub fn next_due_in(&self) -> Option<Duration> {
        let due = self.next_due()?;
        Some(Duration::from_millis(due.saturating_sub(self.now())))
    }

    /// Changes the receive faults for frames arriving from now on.
    pub fn set_rx_faults(&mut self, faults: Faults) {
        self.rx_faults.set_faults(faults);
    }

    /// Changes the transmit faults for frames sent from now on.
    pub fn set_tx_faults(&mut self, faults: Faults) {
        self.tx_faults.set_faults(faults);
    }

    /// What was done to received frames.
    pub fn rx_stats(&self) -> FaultStats {
        self.rx_faults.stats()
    }

    /// What was done to sent frames.
    pub fn tx_stats(&self) -> FaultStats {
        self.tx_faults.stats()
    }

    /// Due frames dropped because the inner NIC stayed busy and the
    /// backlog of [`TX_BACKLOG`] frames was full.
    pub fn tx_backlog_drops(&self) -> u64 {
        self.tx_backlog_drops
    }

    /// Frames the inner NIC refused with an error other than
    /// [`NicError::Busy`] (they are dropped: to the stack it looks like
    /// loss, which it must survive anyway).
    pub fn tx_errors(&self) -> u64 {
        self.tx_errors
    }

    /// The wrapped NIC.
    pub fn inner(&self) -> &N {
        &self.inner
    }

    /// The wrapped NIC, mutably (frames moved through it directly bypass
    /// the faults).
    pub fn inner_mut(&mut self) -> &mut N {
        &mut self.inner
    }

    /// Gives back the wrapped NIC; frames still delayed are discarded.
    pub fn into_inner(self) -> N {
        self.inner
    }

    /// Writes due transmit frames to the inner NIC, oldest first, stopping
    /// at the first one the inner NIC is too busy for.
    fn flush_tx(&mut self) {
        let now = self.now();
        while let Some((_, frame)) = self.tx_faults.pop(now) {
            if self.tx_backlog.len() >= TX_BACKLOG {
                self.tx_backlog_drops = self.tx_backlog_drops.saturating_add(1);
            } else {
                self.tx_backlog.push_back(frame);
            }
        }
        while let Some(frame) = self.tx_backlog.front() {
            if !self.inner.tx_ready(frame.len()) {
                return;
            }
            let result = self.inner.tx_begin(frame.len()).and_then(|()| {
                self.inner.tx_write(frame);
                self.inner.tx_send()
            });
            match result {
                Err(NicError::Busy) => {
                    self.inner.tx_abort();
                    return;
                }
                Err(_) => {
                    self.inner.tx_abort();
                    self.tx_errors = self.tx_errors.saturating_add(1);
                }
                Ok(()) => {}
            }
            self.tx_backlog.pop_front();
        }
    }

    /// Moves frames from the inner NIC into the receive injector.
    fn drain_rx(&mut self) {
        let now = self.now();
        for _ in 0..RX_DRAIN_BATCH {
            let Some(len) = self.inner.rx_pending() else {
                return;
            };
            let mut frame = vec![0u8; len];
            self.inner.rx_seek(0);
            let mut got = 0usize;
            while let Some(rest) = frame.get_mut(got..) {
                let n = self.inner.rx_read(rest);
                if n == 0 {
                    break;
                }
                got = got.saturating_add(n);
            }
            frame.truncate(got);
            self.inner.rx_dump();
            self.rx_faults.push(now, 0, frame);
        }
    }
}

impl<N: Nic> Nic for Faulty<N> {
    const TX_MODE: TxMode = N::TX_MODE;

    fn mac_address(&self) -> Option<[u8; 6]> {
        self.inner.mac_address()
    }

    fn link_up(&mut self) -> bool {
        self.inner.link_up()
    }

    fn join_multicast(&mut self, group: crate::wire::EthernetAddress) {
        self.inner.join_multicast(group)
    }

    fn rx_pending(&mut self) -> Option<usize> {
        self.flush_tx();
        if self.rx.is_none() {
            self.drain_rx();
            let now = self.now();
            self.rx = self.rx_faults.pop(now).map(|(_, f)| f);
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
        self.flush_tx();
        len <= MAX_FRAME_LEN && self.tx_backlog.len() < TX_BACKLOG
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
        if self.tx_declared.is_some() {
            self.tx.extend_from_slice(bytes);
        }
    }

    fn tx_rewrite(&mut self, offset: usize, bytes: &[u8]) {
        // Behave as the inner controller would: a LengthFirst FIFO cannot
        // go back, so rewrites are ignored there too.
        if N::TX_MODE != TxMode::Rewrite || self.tx_declared.is_none() {
            return;
        }
        let end = offset.saturating_add(bytes.len()).min(self.tx.len());
        if let Some(dst) = self.tx.get_mut(offset..end) {
            if let Some(src) = bytes.get(..dst.len()) {
                dst.copy_from_slice(src);
            }
        }
    }

    /// Accepts the frame into the transmit fault stream; it reaches the
    /// inner NIC when due (at once without delay faults). Inner failures
    /// after that look like loss.
    fn tx_send(&mut self) -> Result<(), NicError> {
        let Some(declared) = self.tx_declared.take() else {
            return Err(NicError::Device);
        };
        let frame = core::mem::take(&mut self.tx);
        let ok = match N::TX_MODE {
            TxMode::LengthFirst => frame.len() == declared,
            TxMode::Rewrite => frame.len() <= declared,
        };
        if !ok {
            return Err(NicError::LengthMismatch);
        }
        let now = self.now();
        self.tx_faults.push(now, 0, frame);
        self.flush_tx();
        Ok(())
    }

    fn tx_abort(&mut self) {
        self.tx.clear();
        self.tx_declared = None;
    }
}

#[cfg(target_os = "linux")]
impl Faulty<super::tap::Tap> {
    /// Sleeps until the TAP has a frame, a delayed frame becomes due, or
    /// `timeout` passes; true if there may be something to receive.
    pub fn wait(&mut self, timeout: Duration) -> std::io::Result<bool> {
        if self.rx.is_some() {
            return Ok(true);
        }
        let timeout = match self.next_due_in() {
            Some(due) if due.is_zero() => return Ok(true),
            Some(due) => due.min(timeout),
            None => timeout,
        };
        self.inner.wait(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nic::sim::{SimNic, SimWire};
    use crate::nic::MIN_FRAME_LEN;

    fn frame(tag: u8) -> Vec<u8> {
        let mut f = vec![tag; MIN_FRAME_LEN];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f
    }

    fn pair(seed: u64, rx: Faults, tx: Faults) -> (Faulty<SimNic>, SimNic, SimWire) {
        let wire = SimWire::new(0, Faults::none());
        wire.set_rx_capacity(usize::MAX);
        let mut faulty = Faulty::new(wire.endpoint(), seed, rx, tx);
        faulty.set_now(0);
        let peer = wire.endpoint();
        (faulty, peer, wire)
    }

    fn send<N: Nic>(nic: &mut N, f: &[u8]) -> Result<(), NicError> {
        nic.tx_begin(f.len())?;
        nic.tx_write(f);
        nic.tx_send()
    }

    fn recv<N: Nic>(nic: &mut N) -> Option<Vec<u8>> {
        let len = nic.rx_pending()?;
        let mut f = vec![0; len];
        assert_eq!(nic.rx_read(&mut f), len);
        nic.rx_dump();
        Some(f)
    }

    #[test]
    fn clean_passthrough_both_directions() {
        let (mut faulty, mut peer, _wire) = pair(1, Faults::none(), Faults::none());
        peer.send_frame(&frame(1)).unwrap();
        assert_eq!(recv(&mut faulty).unwrap(), frame(1));
        send(&mut faulty, &frame(2)).unwrap();
        assert_eq!(peer.recv_frame().unwrap(), frame(2));
        assert!(recv(&mut faulty).is_none());
        assert_eq!(faulty.rx_stats().delivered, 1);
        assert_eq!(faulty.tx_stats().delivered, 1);
    }

    #[test]
    fn rx_loss_and_tx_duplication() {
        let n = 1000;
        let (mut faulty, mut peer, _wire) = pair(
            7,
            Faults {
                loss: 0.3,
                ..Faults::none()
            },
            Faults {
                duplicate: 0.2,
                ..Faults::none()
            },
        );
        let mut got = 0;
        for i in 0..n {
            peer.send_frame(&frame(i as u8)).unwrap();
            got += std::iter::from_fn(|| recv(&mut faulty)).count();
        }
        let lost = faulty.rx_stats().dropped;
        assert_eq!(got as u64 + lost, n);
        assert!((lost as f64 / n as f64 - 0.3).abs() < 0.05, "{lost}");
        for i in 0..n {
            send(&mut faulty, &frame(i as u8)).unwrap();
        }
        let sent = std::iter::from_fn(|| peer.recv_frame()).count() as u64;
        let dups = faulty.tx_stats().duplicated;
        assert_eq!(sent, n + dups);
        assert!((dups as f64 / n as f64 - 0.2).abs() < 0.05, "{dups}");
    }

    #[test]
    fn same_seed_same_outcome() {
        let run = |seed| {
            let f = Faults {
                loss: 0.2,
                reorder: 0.2,
                corrupt: 0.2,
                ..Faults::none()
            };
            let (mut faulty, mut peer, _wire) = pair(seed, f, f);
            let mut rx = Vec::new();
            for i in 0..300u16 {
                peer.send_frame(&frame(i as u8)).unwrap();
                send(&mut faulty, &frame(i as u8)).unwrap();
                rx.extend(std::iter::from_fn(|| recv(&mut faulty)));
            }
            let tx: Vec<_> = std::iter::from_fn(|| peer.recv_frame()).collect();
            (rx, tx)
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }

    #[test]
    fn delay_follows_manual_clock() {
        let d = Faults {
            delay_ms: (20, 20),
            ..Faults::none()
        };
        let (mut faulty, mut peer, _wire) = pair(1, d, d);
        peer.send_frame(&frame(1)).unwrap();
        send(&mut faulty, &frame(2)).unwrap();
        assert!(recv(&mut faulty).is_none());
        assert!(peer.recv_frame().is_none());
        assert_eq!(faulty.next_due(), Some(20));
        assert_eq!(faulty.next_due_in(), Some(Duration::from_millis(20)));
        faulty.set_now(19);
        assert!(recv(&mut faulty).is_none());
        assert!(peer.recv_frame().is_none());
        faulty.set_now(20);
        assert_eq!(peer.recv_frame().unwrap(), frame(2));
        assert_eq!(recv(&mut faulty).unwrap(), frame(1));
        assert_eq!(faulty.next_due(), None);
    }

    #[test]
    fn corruption_spares_ethernet_header() {
        let c = Faults {
            corrupt: 1.0,
            ..Faults::none()
        };
        let (mut faulty, mut peer, _wire) = pair(1, c, c);
        for i in 0..100 {
            peer.send_frame(&frame(i)).unwrap();
            let got = recv(&mut faulty).unwrap();
            assert_eq!(got[..14], frame(i)[..14]);
            assert_ne!(got, frame(i));
            send(&mut faulty, &frame(i)).unwrap();
            let out = peer.recv_frame().unwrap();
            assert_eq!(out[..14], frame(i)[..14]);
            assert_ne!(out, frame(i));
        }
    }

    #[test]
    fn keeps_inner_length_first_contract() {
        let wire = SimWire::new(0, Faults::none());
        let mut faulty = Faulty::new(
            wire.endpoint_length_first(),
            1,
            Faults::none(),
            Faults::none(),
        );
        let mut peer = wire.endpoint();
        assert_eq!(<Faulty<SimNic<true>> as Nic>::TX_MODE, TxMode::LengthFirst);
        faulty.tx_begin(61).unwrap();
        faulty.tx_write(&frame(1));
        assert_eq!(faulty.tx_send(), Err(NicError::LengthMismatch));
        faulty.tx_begin(60).unwrap();
        faulty.tx_write(&frame(1));
        faulty.tx_rewrite(20, &[0xee]);
        faulty.tx_send().unwrap();
        assert_eq!(peer.recv_frame().unwrap(), frame(1));
        assert_eq!(faulty.inner().contract_violations(), 0);
        assert_eq!(faulty.tx_begin(MAX_FRAME_LEN + 1), Err(NicError::TooLong));
    }

    /// A controller that can be made busy.
    #[derive(Default)]
    struct Busy {
        busy: bool,
        sent: Vec<Vec<u8>>,
        building: Vec<u8>,
    }

    impl Nic for Busy {
        const TX_MODE: TxMode = TxMode::Rewrite;
        fn rx_pending(&mut self) -> Option<usize> {
            None
        }
        fn rx_read(&mut self, _: &mut [u8]) -> usize {
            0
        }
        fn rx_seek(&mut self, _: usize) {}
        fn rx_dump(&mut self) {}
        fn tx_ready(&mut self, _: usize) -> bool {
            !self.busy
        }
        fn tx_begin(&mut self, _: usize) -> Result<(), NicError> {
            self.building.clear();
            Ok(())
        }
        fn tx_write(&mut self, b: &[u8]) {
            self.building.extend_from_slice(b);
        }
        fn tx_rewrite(&mut self, _: usize, _: &[u8]) {}
        fn tx_send(&mut self) -> Result<(), NicError> {
            self.sent.push(core::mem::take(&mut self.building));
            Ok(())
        }
        fn tx_abort(&mut self) {}
    }

    #[test]
    fn busy_inner_is_retried_in_order() {
        let mut faulty = Faulty::new(
            Busy {
                busy: true,
                ..Busy::default()
            },
            1,
            Faults::none(),
            Faults::none(),
        );
        for i in 0..TX_BACKLOG as u8 {
            assert!(faulty.tx_ready(60));
            send(&mut faulty, &frame(i)).unwrap();
        }
        assert!(!faulty.tx_ready(60), "backlog full");
        send(&mut faulty, &frame(99)).unwrap();
        assert_eq!(faulty.tx_backlog_drops(), 1);
        assert!(faulty.inner().sent.is_empty());
        faulty.inner_mut().busy = false;
        assert!(faulty.rx_pending().is_none());
        let sent = &faulty.inner().sent;
        assert_eq!(sent.len(), TX_BACKLOG);
        assert!(sent.iter().enumerate().all(|(i, f)| *f == frame(i as u8)));
    }
}
