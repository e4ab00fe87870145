//! TCP (RFC 9293): client and server sockets without send buffers.
//!
//! # How data moves
//!
//! A socket keeps no copy of what it sent (unless `[tcp] retransmission =
//! "buffer"`). Sending is *pulled*: when the window has room the stack calls
//! the owner's [`App::tcp_produce`](crate::App::tcp_produce) with a stream offset and a maximum, and
//! the owner writes the bytes at that offset. A retransmission is the same
//! call with an older offset and exactly the length sent before. The owner
//! must therefore be able to produce the bytes at any offset from the last
//! [`TcpEvent::Acked`] on, and produce the *same* bytes each time — the
//! rule that makes buffer-free retransmission safe. Each in-flight segment's
//! length is recorded so a retransmission is byte-identical to the original;
//! debug builds also record its checksum and report a regenerated segment
//! that differs as [`TcpEvent::RegenerationMismatch`] (and abort the
//! connection rather than send corrupt data).
//!
//! Receiving is *pushed*: an in-order segment is handed to
//! [`App::tcp_received`](crate::App::tcp_received) while it is still in the NIC; the owner returns how
//! many bytes it took, and only those are acknowledged. Out-of-order segments
//! are dropped (there is nowhere to keep them) and answered with a duplicate
//! ACK, so the peer resends.
//!
//! # Windows
//!
//! `[tcp] window` counts segments in both directions: we advertise
//! `window × mss` bytes (less when the owner has less room, from
//! [`App::tcp_recv_space`](crate::App::tcp_recv_space)) and keep at most `window` segments in flight.
//! A sender with one segment in flight stalls against a delayed-ACK receiver
//! (it waits up to 40–200 ms for each ACK). With `split = true` (the
//! default) and `window = 1`, a segment that would be the only one in
//! flight while the owner has more than a segment's worth to send goes as
//! two halves: the same bytes in flight, but the receiver sees two segments
//! and ACKs at once (uIP's trick; Linux ACKs at once when more than one
//! receive-MSS worth arrived unacknowledged). A response that fits in one
//! segment goes whole, and a larger window never needs it (two full
//! segments are in flight), so split costs one segment record per socket
//! at window 1 and nothing else. A FIN never waits for the window: once the
//! owner has produced everything, it follows the data at once, so the
//! last segment of a response never waits for a delayed ACK either.
//!
//! # Busy ports
//!
//! A SYN for a port whose listening sockets are all busy takes, in order:
//! the socket of that port that has been in TIME-WAIT longest (RFC 1122
//! §4.2.2.13 lets a new connection end TIME-WAIT; the old 4-tuple's
//! duplicates then meet a different connection or none, and the clock-driven
//! ISN puts them outside any new window); the oldest half-open
//! (SYN-RECEIVED) socket, so spoofed SYNs can never hold a service; a
//! connection idle for `reclaim_idle` (it is reset, [`TcpEvent::Reclaimed`]).
//! Otherwise the SYN is remembered (one pending SYN per stack) and answered
//! the moment a socket of its port frees, and the owner of the port's
//! quietest connection hears [`TcpEvent::Contended`] so it can finish and
//! close (the HTTP server closes an idle keep-alive connection, or the
//! current one after its response). `when_full = "reset"` answers RST
//! instead of remembering. A half-open socket gives up after
//! `SYN_RECEIVED_RETRIES` SYN-ACK retransmissions.

//! # Timers
//!
//! RFC 6298 retransmission timeout with Karn's rule and exponential backoff
//! between `rto_min` and `rto_max`, giving up after `retries`
//! ([`TcpEvent::TimedOut`]); the persist timer probes a zero window; TIME-WAIT
//! lasts `time_wait`; an idle connection is closed after `idle_timeout`
//! (keep-alive probes go out after `keepalive`, when set).
//!
//! # Timestamps
//!
//! RFC 7323 timestamps are offered on every SYN and used when the peer
//! agrees. They matter more here than in a buffered stack: out-of-order
//! segments are dropped, so losses are often repaired by the peer's
//! retransmission timeout, and a sender without timestamps cannot take an
//! RTT sample from the ACK of a retransmitted segment (Karn) — Linux then
//! never resets its RTO backoff and stalls for seconds. Echoing the peer's
//! TSval gives it a sample on every ACK. The option costs 12 bytes per
//! segment (taken from the payload, so frames stay within the MTU) and 4
//! bytes and a flag bit per socket. Header fields (ACK, window, timestamps) may differ on
//! a retransmission; the payload is what stays byte-identical.
//!
//! # Security
//!
//! Initial sequence numbers follow RFC 6528 (a 4 µs clock plus a keyed hash
//! of the connection's addresses — Chaskey-12 on one block — keyed from the
//! application's entropy);
//! RST and SYN inside the window but not exactly at `RCV.NXT` get a challenge
//! ACK (RFC 5961); segments outside the window are answered with an ACK and
//! never accepted.

pub(crate) mod backlog;
pub(crate) mod input;
pub(crate) mod output;

use crate::iface::PayloadSink;
use crate::nic::Nic;
use crate::udp::Endpoint;
use crate::wire::tcp::SeqNumber;
use crate::wire::{Checksum, EthernetAddress, Ipv4Address};
use core::fmt;

/// How a socket recovers lost data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retransmission {
    /// The owner produces the bytes again (no copy kept).
    Regenerate,
    /// The stack keeps `window × mss` bytes per socket and resends them
    /// itself; the owner's output may then differ between calls.
    Buffer,
}

/// What to do with a SYN for a port whose listening sockets are all busy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenFull {
    /// Remember it (one pending SYN per stack) and answer it as soon as a
    /// socket of the port frees; a SYN that cannot be remembered is
    /// dropped, and the peer's SYN retry is served later.
    Ignore,
    /// Answer RST: the peer sees "connection refused" at once.
    Reset,
}

/// TCP settings from `[tcp]` in `stack.toml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpConfig {
    /// Our maximum segment size (what we accept), ≤ 1460 on Ethernet.
    pub mss: u16,
    /// Window in segments, both directions (1 as in the seed).
    pub window: u8,
    /// Regenerate (default) or buffer.
    pub retransmission: Retransmission,
    /// Smallest retransmission timeout, ms.
    pub rto_min_ms: u32,
    /// Largest retransmission timeout, ms.
    pub rto_max_ms: u32,
    /// Retransmissions of one segment before giving up.
    pub retries: u8,
    /// TIME-WAIT length, ms.
    pub time_wait_ms: u32,
    /// Close a connection that received nothing for this long (0 = never).
    pub idle_timeout_ms: u32,
    /// Send a keep-alive probe after this long without traffic (0 = off).
    pub keepalive_ms: u32,
    /// Split segments in halves against delayed-ACK receivers, where it
    /// helps (see the module docs, "Windows").
    pub split: bool,
    /// SYN to a busy port, when no socket can be recycled or reclaimed.
    pub when_full: WhenFull,
    /// A server connection that received nothing for this long may be
    /// reset to make room for a new client of its port when every socket
    /// of the port is busy (0 = never).
    pub reclaim_idle_ms: u32,
}

impl TcpConfig {
    /// The defaults documented for `[tcp]`.
    pub const DEFAULT: TcpConfig = TcpConfig {
        mss: 1460,
        window: 1,
        retransmission: Retransmission::Regenerate,
        rto_min_ms: 200,
        rto_max_ms: 60_000,
        retries: 8,
        time_wait_ms: 2_000,
        idle_timeout_ms: 0,
        keepalive_ms: 0,
        split: true,
        when_full: WhenFull::Ignore,
        reclaim_idle_ms: 10_000,
    };

    /// In-flight segment records per socket: one per window slot, and one
    /// more with `split` at window 1 (a segment goes as two halves).
    pub const fn segments_per_socket(&self) -> usize {
        (self.window as usize).saturating_add(self.splits() as usize)
    }

    /// Whether segments are split: `split` at window 1 (see the module
    /// docs, "Windows").
    pub const fn splits(&self) -> bool {
        self.split && self.window == 1
    }

    /// Retransmit-buffer bytes per socket (0 in regenerate mode).
    pub const fn buffer_per_socket(&self) -> usize {
        match self.retransmission {
            Retransmission::Regenerate => 0,
            Retransmission::Buffer => (self.window as usize).saturating_mul(self.mss as usize),
        }
    }
}

/// The RFC 9293 connection states.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum TcpState {
    /// The slot is free.
    #[default]
    Closed,
    /// Waiting for a SYN.
    Listen,
    /// Our SYN is out.
    SynSent,
    /// Their SYN arrived and our SYN-ACK is out.
    SynReceived,
    /// Data flows both ways.
    Established,
    /// We closed; our FIN is not yet acknowledged.
    FinWait1,
    /// We closed and our FIN is acknowledged; they may still send.
    FinWait2,
    /// They closed; we may still send.
    CloseWait,
    /// Both closed at once; waiting for the ACK of our FIN.
    Closing,
    /// They closed, then we did; waiting for the ACK of our FIN.
    LastAck,
    /// Both closed; waiting out old duplicates.
    TimeWait,
}

impl TcpState {
    /// True in the states where a connection exists (not Closed/Listen).
    pub fn is_connected(self) -> bool {
        !matches!(self, TcpState::Closed | TcpState::Listen)
    }

    /// True where we may still send data.
    pub fn can_send(self) -> bool {
        matches!(self, TcpState::Established | TcpState::CloseWait)
    }

    /// True where the peer may still send data.
    pub fn can_receive(self) -> bool {
        matches!(
            self,
            TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2
        )
    }
}

/// Names a TCP socket (its slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TcpHandle(pub(crate) u8);

impl TcpHandle {
    /// The handle of slot `i` (handles are slot numbers; one that names no
    /// socket of yours is harmless: operations on it do nothing).
    pub const fn from_index(i: u8) -> Self {
        TcpHandle(i)
    }

    /// The slot index.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

impl fmt::Display for TcpHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tcp#{}", self.0)
    }
}

/// What happened to a socket, reported to its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpEvent {
    /// The handshake completed (either side).
    Connected {
        /// The peer.
        remote: Endpoint,
    },
    /// The peer acknowledged the stream up to this offset (exclusive): the
    /// owner need not produce anything before it again.
    Acked {
        /// Stream offset, modulo 2^32.
        offset: u32,
    },
    /// The stack is about to produce an already-sent range again.
    Retransmit {
        /// Stream offset of the first byte resent.
        offset: u32,
    },
    /// The peer sent FIN: no more data will arrive. We may still send.
    PeerClosed,
    /// Both directions are closed and acknowledged (or TIME-WAIT ended).
    /// The slot is free again (or listening again, for a server socket).
    Closed,
    /// The peer reset the connection.
    Reset,
    /// Retransmissions, the handshake, or the idle timer gave up.
    TimedOut,
    /// A regenerated segment differed from the original (wrong length, or
    /// in debug builds a different checksum). The connection was reset.
    RegenerationMismatch {
        /// Stream offset of the segment.
        offset: u32,
    },
    /// A new client of this socket's port is waiting for a socket (every
    /// one is busy): finish what is under way and close when you can. Told
    /// once per waiting client, to the port's quietest connection.
    Contended,
    /// The connection was idle for `reclaim_idle` while a new client of its
    /// port waited: it was reset (RST) and the socket given to the new
    /// client. The owner treats it as [`TcpEvent::Reset`].
    Reclaimed,
}

/// Why a socket operation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpError {
    /// Every socket slot is in use (`[tcp] sockets` in stack.toml).
    NoFreeSocket,
    /// Port 0, or an unusable remote address.
    InvalidEndpoint,
    /// No such socket, or not in a state that allows this.
    InvalidState,
}

impl fmt::Display for TcpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TcpError::NoFreeSocket => "no free TCP socket (raise [tcp] sockets in stack.toml)",
            TcpError::InvalidEndpoint => "invalid endpoint",
            TcpError::InvalidState => "socket not in a state that allows this",
        })
    }
}

/// Milliseconds since boot, wrapping every 49.7 days; compared by signed
/// difference (deadlines are never more than 24 days apart).
pub(crate) type Tick = u32;

pub(crate) fn tick(now: crate::Instant) -> Tick {
    now.millis()
}

/// True when `deadline` has come at `now`.
pub(crate) fn due(now: Tick, deadline: Tick) -> bool {
    (now.wrapping_sub(deadline) as i32) >= 0
}

/// Socket flags (the low byte: state; the high byte: what was learnt of
/// the peer and the duplicate-ACK count, packed here so a socket holds no
/// byte-sized field of its own for them).
pub(crate) mod flag {
    /// Go back to LISTEN when the connection ends (made by `listen`).
    pub const RELISTEN: u16 = 0x01;
    /// The owner asked to close: send FIN once it produces nothing more.
    pub const CLOSE: u16 = 0x02;
    /// An ACK must go out (data or FIN received, out-of-order, challenge).
    pub const ACK_NOW: u16 = 0x04;
    /// Our FIN has been sent (its sequence number is `snd_max - 1`).
    pub const FIN_SENT: u16 = 0x08;
    /// The retransmission/persist/TIME-WAIT timer is armed.
    pub const TIMER: u16 = 0x10;
    /// An RTT sample is being timed (`rtt_seq`, `rtt_start`).
    pub const TIMING: u16 = 0x20;
    /// The peer's FIN has been received.
    pub const PEER_FIN: u16 = 0x40;
    /// Our SYN (or SYN-ACK) must be (re)sent.
    pub const SEND_SYN: u16 = 0x80;
    /// `remote_mac` is known (server sockets learn it from the SYN).
    pub const MAC_KNOWN: u16 = 0x100;
    /// Both sides use RFC 7323 timestamps (negotiated on the SYNs).
    pub const TS_OK: u16 = 0x200;
    /// Duplicate ACKs in a row: a 3-bit count from bit 13, saturating at 7
    /// (fast retransmit happens when it reaches 3, once per run).
    pub const DUPACKS_SHIFT: u32 = 13;
    /// The duplicate-ACK count's bits.
    pub const DUPACKS: u16 = 0x7 << DUPACKS_SHIFT;
}

/// One TCP socket: the connection's state, 64 bytes on a 32-bit MCU
/// (seven 32-bit words, fourteen 16-bit fields, the MAC, two bytes; no
/// padding). The flags word also holds two booleans and the duplicate-ACK
/// count (`flag`); the RTT timer keeps the low 16 bits of its sequence
/// number and start time (see `rtt_seq`); SND.NXT and SND.MAX are 16-bit
/// offsets from SND.UNA (see `max_off`).
#[derive(Clone, Copy, Debug, Default)]
pub struct TcpSocket {
    pub(crate) state: TcpState,
    /// Retransmissions of the oldest unacknowledged segment so far.
    pub(crate) retries: u8,
    pub(crate) flags: u16,
    pub(crate) local_port: u16,
    pub(crate) remote_port: u16,
    pub(crate) remote_ip: Ipv4Address,
    /// The peer's MAC, when [`flag::MAC_KNOWN`].
    pub(crate) remote_mac: EthernetAddress,
    /// The peer's advertised window.
    pub(crate) snd_wnd: u16,
    /// Stream offset 0 (ISS + 1).
    pub(crate) snd_base: SeqNumber,
    pub(crate) snd_una: SeqNumber,
    pub(crate) rcv_nxt: SeqNumber,
    /// The peer's MSS (536 when it sent none).
    pub(crate) peer_mss: u16,
    /// The window we last advertised.
    pub(crate) rcv_wnd: u16,
    pub(crate) rto_ms: u16,
    /// Smoothed RTT ×8 and RTT variance ×4 (RFC 6298 in fixed point), ms;
    /// `srtt8 == 0` means no sample yet.
    pub(crate) srtt8: u16,
    pub(crate) rttvar4: u16,
    /// The largest room the owner offered: the "buffer" of receiver
    /// silly-window avoidance.
    pub(crate) max_room: u16,
    /// The RTT timer ([`flag::TIMING`]): the low 16 bits of the timed
    /// segment's first sequence number and of the time it left, ms.
    /// Enough: the segment is acknowledged while at most the bytes in
    /// flight lie between, `window × mss` + SYN/FIN (≤ 8 × 1460 + 2 from
    /// `stack.toml`, so the 16-bit signed comparison is exact), and it is
    /// retransmitted — which ends the timing (Karn) — after one RTO, at
    /// most 65,535 ms (`rto_ms` is 16-bit), so the elapsed time fits too.
    pub(crate) rtt_seq: u16,
    pub(crate) rtt_start: u16,
    /// SND.NXT − SND.UNA ([`snd_nxt`](TcpSocket::snd_nxt)).
    nxt_off: u16,
    /// SND.MAX − SND.UNA: the highest sequence number sent so far (+1),
    /// above SND.NXT after a timeout made us go back
    /// ([`snd_max`](TcpSocket::snd_max)). Both are 16-bit offsets from
    /// SND.UNA: new data goes out only while what is in flight fits the
    /// peer's window — a 16-bit field, no window scaling — and a FIN only
    /// inside it too, so SND.MAX − SND.UNA ≤ 65,535 always (a SYN
    /// occupies one number of an empty flight).
    max_off: u16,
    pub(crate) timer: Tick,
    /// Last time a segment arrived (idle and keep-alive timers).
    pub(crate) last_rx: Tick,
    /// TS.Recent: the peer's timestamp we echo (RFC 7323 §4.3).
    pub(crate) ts_recent: u32,
}

/// A free slot: closed, every field zero.
impl crate::table::EmptySlot for TcpSocket {
    const EMPTY: Self = TcpSocket {
        state: TcpState::Closed,
        retries: 0,
        flags: 0,
        local_port: 0,
        remote_port: 0,
        remote_ip: Ipv4Address::UNSPECIFIED,
        remote_mac: EthernetAddress([0; 6]),
        snd_wnd: 0,
        snd_base: SeqNumber(0),
        snd_una: SeqNumber(0),
        rcv_nxt: SeqNumber(0),
        peer_mss: 0,
        rcv_wnd: 0,
        rto_ms: 0,
        srtt8: 0,
        rttvar4: 0,
        max_room: 0,
        rtt_seq: 0,
        rtt_start: 0,
        nxt_off: 0,
        max_off: 0,
        timer: 0,
        last_rx: 0,
        ts_recent: 0,
    };
}

impl TcpSocket {
    /// The connection state.
    pub fn state(&self) -> TcpState {
        self.state
    }

    /// The peer, when connected.
    pub fn remote(&self) -> Option<Endpoint> {
        self.state
            .is_connected()
            .then_some(Endpoint::new(self.remote_ip, self.remote_port))
    }

    /// Our port (0 when the slot is free).
    pub fn local_port(&self) -> u16 {
        self.local_port
    }

    pub(crate) fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }

    /// Counts a duplicate ACK (saturating at 7); returns the count.
    pub(crate) fn dupack(&mut self) -> u16 {
        let n = (self.flags >> flag::DUPACKS_SHIFT).saturating_add(1).min(7);
        self.flags = (self.flags & !flag::DUPACKS) | n << flag::DUPACKS_SHIFT;
        n
    }

    /// Starts timing an RTT sample on the segment at `seq` sent at `now`.
    pub(crate) fn start_timing(&mut self, seq: SeqNumber, now: Tick) {
        self.set(flag::TIMING, true);
        self.rtt_seq = seq.0 as u16; // the low bits: see `rtt_seq`
        self.rtt_start = now as u16;
    }

    /// Whether `ack` covers the timed segment's first byte (16-bit serial
    /// comparison, exact within the bound stated at `rtt_seq`).
    pub(crate) fn acks_timed(&self, ack: SeqNumber) -> bool {
        ((ack.0 as u16).wrapping_sub(self.rtt_seq) as i16) > 0
    }

    /// Milliseconds since the timed segment left (see `rtt_seq`).
    pub(crate) fn timed_rtt(&self, now: Tick) -> u32 {
        u32::from((now as u16).wrapping_sub(self.rtt_start))
    }

    pub(crate) fn set(&mut self, f: u16, on: bool) {
        if on {
            self.flags |= f;
        } else {
            self.flags &= !f;
        }
    }

    /// Bytes (and SYN/FIN) sent but not acknowledged.
    pub(crate) fn in_flight(&self) -> usize {
        usize::from(self.nxt_off)
    }

    /// SND.NXT: the next sequence number to send.
    pub(crate) fn snd_nxt(&self) -> SeqNumber {
        self.snd_una.add(usize::from(self.nxt_off))
    }

    /// SND.MAX: one past the highest sequence number sent.
    pub(crate) fn snd_max(&self) -> SeqNumber {
        self.snd_una.add(usize::from(self.max_off))
    }

    /// `seq`'s offset from SND.UNA (0 below it; within the bound stated at
    /// `max_off` it fits).
    fn off(&self, seq: SeqNumber) -> u16 {
        u16::try_from(seq.sub(self.snd_una).max(0)).unwrap_or(u16::MAX)
    }

    /// Sets SND.NXT (at or above SND.UNA).
    pub(crate) fn set_snd_nxt(&mut self, seq: SeqNumber) {
        self.nxt_off = self.off(seq);
    }

    /// Sets SND.MAX (at or above SND.UNA).
    pub(crate) fn set_snd_max(&mut self, seq: SeqNumber) {
        self.max_off = self.off(seq);
    }

    /// Moves SND.UNA to `ack` (at most SND.MAX), SND.NXT with it when it
    /// was below. (Out of line: the handshake and every ACK of new data
    /// share one copy; 124 B smaller.)
    #[inline(never)]
    pub(crate) fn set_snd_una(&mut self, ack: SeqNumber) {
        let acked = self.off(ack);
        self.snd_una = ack;
        self.nxt_off = self.nxt_off.saturating_sub(acked);
        self.max_off = self.max_off.saturating_sub(acked);
    }

    /// Stream offset of a sequence number.
    pub(crate) fn offset_of(&self, seq: SeqNumber) -> u32 {
        seq.0.wrapping_sub(self.snd_base.0)
    }
}

/// One in-flight segment: its data length and (debug builds) checksum.
///
/// Release builds keep the length alone (2 bytes a record, 4 fewer): the
/// checksum is recorded and compared only under `debug_assertions`, so a
/// release build never read it and need not store it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SentSegment {
    pub(crate) len: u16,
    /// Folded one's-complement sum of the payload; `None` after a partial
    /// ACK trimmed the segment.
    #[cfg(debug_assertions)]
    pub(crate) sum: Option<u16>,
}

impl crate::table::EmptySlot for SentSegment {
    const EMPTY: Self = SentSegment {
        len: 0,
        #[cfg(debug_assertions)]
        sum: None,
    };
}

impl SentSegment {
    /// A record of `len` bytes whose payload summed to `sum` (folded only
    /// where it is kept).
    pub(crate) fn new(len: u16, sum: Checksum) -> Self {
        #[cfg(not(debug_assertions))]
        let _ = sum;
        SentSegment {
            len,
            #[cfg(debug_assertions)]
            sum: Some(sum.fold()),
        }
    }

    /// Whether a regenerated payload of `len` bytes summing to `sum`
    /// matches this record (the sum only where it is kept).
    pub(crate) fn matches(&self, len: usize, sum: Checksum) -> bool {
        #[cfg(not(debug_assertions))]
        let _ = sum;
        #[cfg(debug_assertions)]
        let sum_ok = self.sum.is_none_or(|s| s == sum.fold());
        #[cfg(not(debug_assertions))]
        let sum_ok = true;
        usize::from(self.len) == len && sum_ok
    }

    /// Shortens the record to its last `len` bytes (a partial ACK): the
    /// sum no longer covers it.
    pub(crate) fn trim_to(&mut self, len: u16) {
        self.len = len;
        #[cfg(debug_assertions)]
        {
            self.sum = None;
        }
    }
}

/// A received in-order segment, readable from the NIC during
/// [`App::tcp_received`](crate::App::tcp_received).
pub struct TcpReader<'n, N: Nic> {
    pub(crate) nic: &'n mut N,
    /// Frame offset of the first new byte.
    pub(crate) offset: usize,
    pub(crate) len: usize,
}

impl<N: Nic> TcpReader<'_, N> {
    /// New bytes available (already trimmed to what we had not received).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The new bytes from `at` on in place, when the NIC holds the frame
    /// in RAM ([`Nic::rx_peek`]); `None`: copy them out with
    /// [`read`](Self::read).
    pub fn peek(&mut self, at: usize) -> Option<&[u8]> {
        let len = self.len.checked_sub(at).filter(|&n| n > 0)?;
        self.nic.rx_peek(self.offset.checked_add(at)?, len)
    }

    /// Copies bytes from `at` into `buf`; returns how many. (Out of line:
    /// each owner's receive path reads.)
    #[inline(never)]
    pub fn read(&mut self, at: usize, buf: &mut [u8]) -> usize {
        if at >= self.len {
            return 0;
        }
        let want = self.len.saturating_sub(at).min(buf.len());
        match buf.get_mut(..want) {
            Some(b) => {
                crate::iface::egress::rx_read_at(self.nic, self.offset.saturating_add(at), b)
            }
            None => 0,
        }
    }
}

/// What the stack needs from whoever owns TCP sockets (the application, or
/// a stack service such as the HTTP server). [`App`](crate::App) provides
/// it with defaults.
pub trait TcpOwner {
    /// A socket event.
    fn tcp_event(&mut self, socket: TcpHandle, event: TcpEvent);
    /// In-order data arrived; return how many bytes (a prefix) were taken.
    fn tcp_received<N: Nic>(&mut self, socket: TcpHandle, data: &mut TcpReader<'_, N>) -> usize;
    /// Write the stream bytes at `offset` (at most `max`) into `sink`.
    fn tcp_produce(
        &mut self,
        socket: TcpHandle,
        offset: u32,
        max: usize,
        sink: &mut dyn PayloadSink,
    );
    /// Bytes the owner can take now (advertised window, capped by config).
    fn tcp_recv_space(&mut self, socket: TcpHandle) -> usize;
    /// Asked when the owner has produced everything it has: true ends the
    /// stream there (FIN), as [`Stack::tcp_close`](crate::Stack::tcp_close)
    /// would.
    fn tcp_wants_close(&mut self, socket: TcpHandle) -> bool;
    /// Entropy for ISNs and ports.
    fn tcp_random(&mut self) -> u32;
}

/// The TCP state that is not per socket: the RFC 6528 secret and the
/// pending SYN.
#[derive(Clone, Copy, Debug, Default)]
pub struct TcpShared {
    /// The 128-bit ISN key, drawn from the application's entropy when the
    /// first connection needs it; all zero until then (a drawn key of all
    /// zeros, 2^-128 likely, is drawn again next time: no `Option` tag).
    key: [u32; 4],
    /// Next ephemeral port candidate.
    next_port: u16,
    /// A SYN that found every socket of its port busy, answered as soon as
    /// one frees (see the module docs, "Busy ports").
    pub(crate) pending: Option<PendingSyn>,
}

/// What a SYN carried that a passive open needs: enough to answer it later
/// as if it had just arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PendingSyn {
    pub src_ip: Ipv4Address,
    pub src_mac: EthernetAddress,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: SeqNumber,
    /// When it (or the peer's latest retry of it) arrived.
    pub at: Tick,
    /// The TSval of its timestamp option, when `has_ts`.
    pub tsval: u32,
    pub window: u16,
    /// Its MSS option, 0 when it had none: a passive open reads both as
    /// the 536-byte default (an MSS below that is raised to it anyway).
    pub mss: u16,
    /// It carried a timestamp option (a flag rather than an `Option`
    /// around `tsval`, and no destination address — it was ours: 32
    /// bytes instead of 44).
    pub has_ts: bool,
}

/// How long a pending SYN is answered after its last copy arrived: past
/// the peer's first SYN retry (1 s), whose copy refreshes it.
pub(crate) const PENDING_SYN_MS: u32 = 3_000;

/// SYN-ACK retransmissions before a half-open connection is given up
/// (1 + 2 + 4 s of RTO backoff, then 8 s: about 15 s in all, where the
/// connection retries would allow minutes).
pub(crate) const SYN_RECEIVED_RETRIES: u8 = 3;

/// Rounds of the Chaskey permutation for the ISN function: Chaskey-12, the
/// count its authors recommend since 7 of the original 8 rounds were
/// attacked (the loop makes more rounds cost time, not code).
const ISN_ROUNDS: u32 = 12;

/// The Chaskey permutation (Mouha et al., "Chaskey: an efficient MAC
/// algorithm for 32-bit microcontrollers", SAC 2014): 32-bit add, rotate,
/// xor on four words, `rounds` times.
fn chaskey_permute(v: [u32; 4], rounds: u32) -> [u32; 4] {
    let [mut v0, mut v1, mut v2, mut v3] = v;
    for _ in 0..rounds {
        v0 = v0.wrapping_add(v1);
        v1 = v1.rotate_left(5) ^ v0;
        v0 = v0.rotate_left(16);
        v2 = v2.wrapping_add(v3);
        v3 = v3.rotate_left(8) ^ v2;
        v0 = v0.wrapping_add(v3);
        v3 = v3.rotate_left(13) ^ v0;
        v2 = v2.wrapping_add(v1);
        v1 = v1.rotate_left(7) ^ v2;
        v2 = v2.rotate_left(16);
    }
    [v0, v1, v2, v3]
}

/// F of RFC 6528: a keyed pseudorandom function of the 4-tuple.
///
/// RFC 6528 §3: "ISN = M + F(localip, localport, remoteip, remoteport,
/// secretkey) where M is the 4 microsecond timer, and F() is a
/// pseudorandom function (PRF) of the connection-id. F() MUST NOT be
/// computable from the outside, or an attacker could still guess at
/// sequence numbers from the ISN used for some other connection. [...]
/// The result of F() is no more secure than the secret key. [...] Key
/// lengths of 128 bits should be adequate."
///
/// The 4-tuple is one fixed-length 128-bit block (the two addresses, the
/// two ports, a zero word), so Chaskey's message chaining and its K1/K2
/// subkeys (which tell complete from padded final blocks) have nothing to
/// do; what remains is Chaskey on one block: the Even–Mansour cipher
/// `π(K ⊕ m) ⊕ K` with the 128-bit key, truncated to 32 bits. It
/// replaced SipHash-2-4 from `core::hash` (2.4 KB of flash on a
/// Cortex-M3; this is under 0.2 KB): the permutation is made for 32-bit
/// microcontrollers, where SipHash's 64-bit words cost register pairs.
fn isn_hash(key: [u32; 4], local: Endpoint, remote: Endpoint) -> u32 {
    let [k0, k1, k2, k3] = key;
    let ports = u32::from(local.port) << 16 | u32::from(remote.port);
    let block = [
        k0 ^ u32::from_le_bytes(local.addr.0),
        k1 ^ u32::from_le_bytes(remote.addr.0),
        k2 ^ ports,
        k3,
    ];
    let [v0, ..] = chaskey_permute(block, ISN_ROUNDS);
    v0 ^ k0
}

impl TcpShared {
    /// RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, key),
    /// M a 4 µs clock, F [`isn_hash`] keyed from the application's entropy.
    pub(crate) fn isn<O: TcpOwner>(
        &mut self,
        owner: &mut O,
        now_ms: u32,
        local: Endpoint,
        remote: Endpoint,
    ) -> SeqNumber {
        if self.key == [0; 4] {
            // A loop, so an inlined generator appears once.
            for w in &mut self.key {
                *w = owner.tcp_random();
            }
        }
        let key = self.key;
        let m = now_ms.wrapping_mul(250); // 4 µs ticks
        SeqNumber(m.wrapping_add(isn_hash(key, local, remote)))
    }

    /// A free ephemeral port (49152..=65535) not used by any socket.
    pub(crate) fn ephemeral_port<O: TcpOwner>(
        &mut self,
        owner: &mut O,
        sockets: &[TcpSocket],
    ) -> Option<u16> {
        if self.next_port < EPHEMERAL_FIRST {
            let span = u16::MAX - EPHEMERAL_FIRST;
            self.next_port = EPHEMERAL_FIRST.saturating_add((owner.tcp_random() as u16) % span);
        }
        self.next_free_port(sockets)
    }

    /// The search of [`TcpShared::ephemeral_port`] from `next_port`, apart
    /// from the owner: one copy serves every owner type.
    #[inline(never)]
    fn next_free_port(&mut self, sockets: &[TcpSocket]) -> Option<u16> {
        for _ in 0..=(u16::MAX - EPHEMERAL_FIRST) {
            let p = self.next_port;
            self.next_port = if p == u16::MAX {
                EPHEMERAL_FIRST
            } else {
                p.saturating_add(1)
            };
            if !sockets.iter().any(|s| s.local_port == p) {
                return Some(p);
            }
        }
        None
    }
}

/// The first ephemeral port (RFC 6335 §6: 49152..=65535).
const EPHEMERAL_FIRST: u16 = 49152;

/// The TCP tables of a stack, borrowed for one call.
pub(crate) struct TcpTables<'t> {
    pub sockets: &'t mut [TcpSocket],
    pub segments: &'t mut [SentSegment],
    pub buffer: &'t mut [u8],
    pub shared: &'t mut TcpShared,
    pub config: &'t TcpConfig,
}

impl TcpTables<'_> {
    /// Socket `i`'s in-flight segment records.
    pub(crate) fn records(&mut self, i: usize) -> &mut [SentSegment] {
        per_socket(self.segments, self.config.segments_per_socket(), i)
    }
}

/// Forgets socket `i`'s in-flight segment records (a new connection on
/// the slot; the old one may have ended by reset or timeout with some
/// outstanding, which would otherwise block its sending for good).
pub(crate) fn clear_records(t: &mut TcpTables<'_>, i: usize) {
    t.records(i).fill(SentSegment::default());
}

/// Socket `i`'s share of a table split evenly, `per` items each.
pub(crate) fn per_socket<T>(table: &mut [T], per: usize, i: usize) -> &mut [T] {
    let start = i.saturating_mul(per);
    table
        .get_mut(start..start.saturating_add(per))
        .unwrap_or(&mut [])
}

/// Opens a listening socket on `port` (call it N times for N sockets on one
/// port). The socket returns to LISTEN after each connection. (Always
/// inlined into `Stack::tcp_listen`, its one caller.)
#[inline(always)]
pub(crate) fn listen(sockets: &mut [TcpSocket], port: u16) -> Result<TcpHandle, TcpError> {
    if port == 0 {
        return Err(TcpError::InvalidEndpoint);
    }
    let (i, s) = sockets
        .iter_mut()
        .enumerate()
        .find(|(_, s)| s.state == TcpState::Closed)
        .ok_or(TcpError::NoFreeSocket)?;
    // A server socket of `port`, recycled: LISTEN, all else cleared.
    (s.local_port, s.flags) = (port, flag::RELISTEN);
    recycle(s);
    u8::try_from(i)
        .map(TcpHandle)
        .map_err(|_| TcpError::NoFreeSocket)
}

/// Resets a socket to LISTEN (server) or CLOSED, keeping its port. (Out
/// of line: a 64-byte socket written at a dozen call sites.)
#[inline(never)]
pub(crate) fn recycle(s: &mut TcpSocket) {
    let (server, port) = (s.has(flag::RELISTEN), s.local_port);
    *s = TcpSocket::default();
    if server {
        (s.state, s.flags, s.local_port) = (TcpState::Listen, flag::RELISTEN, port);
    }
}

/// The initial RTO before any RTT sample (RFC 6298 §2.1: 1 s), within the
/// configured bounds.
pub(crate) fn initial_rto(cfg: &TcpConfig) -> u16 {
    1000u32
        .clamp(cfg.rto_min_ms, cfg.rto_max_ms.max(cfg.rto_min_ms))
        .min(u32::from(u16::MAX)) as u16
}

/// Makes a free socket an active open towards `remote` (SYN on next poll).
/// (Out of line: a 64-byte socket written for each connecting owner type.)
#[inline(never)]
pub(crate) fn connect(
    s: &mut TcpSocket,
    local_port: u16,
    remote: Endpoint,
    iss: SeqNumber,
    cfg: &TcpConfig,
    now: crate::Instant,
) {
    *s = TcpSocket {
        state: TcpState::SynSent,
        flags: flag::SEND_SYN,
        local_port,
        remote_port: remote.port,
        remote_ip: remote.addr,
        snd_base: iss.add(1),
        snd_una: iss,
        peer_mss: 536,
        rto_ms: initial_rto(cfg),
        last_rx: tick(now),
        ..TcpSocket::default()
    };
}

/// Graceful close (see [`Stack::tcp_close`](crate::Stack::tcp_close)).
/// Closing means "the stream ends where the owner stops producing", so a
/// connection still opening keeps opening and sends FIN after its data; only
/// a listening (or free) socket is freed at once. `tcp_abort` tears down.
/// (Inlined: `Stack::tcp_close`'s copies measured 16 B smaller with
/// it than with a call.)
pub(crate) fn close(s: &mut TcpSocket) {
    match s.state {
        TcpState::Listen | TcpState::Closed => *s = TcpSocket::default(),
        _ => s.set(flag::CLOSE, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Ipv4Address;

    /// Chaskey's MAC as its reference code computes it (subkeys, padding),
    /// built on [`chaskey_permute`], for the published test vectors.
    fn chaskey_mac(key: [u32; 4], msg: &[u8], rounds: u32) -> [u32; 4] {
        fn times_two(k: [u32; 4]) -> [u32; 4] {
            let c = if k[3] >> 31 == 1 { 0x87 } else { 0 };
            [
                k[0] << 1 ^ c,
                k[1] << 1 | k[0] >> 31,
                k[2] << 1 | k[1] >> 31,
                k[3] << 1 | k[2] >> 31,
            ]
        }
        let words = |b: &[u8]| -> [u32; 4] {
            core::array::from_fn(|i| u32::from_le_bytes(b[4 * i..4 * i + 4].try_into().unwrap()))
        };
        let xor = |a: [u32; 4], b: [u32; 4]| -> [u32; 4] { core::array::from_fn(|i| a[i] ^ b[i]) };
        let k1 = times_two(key);
        let k2 = times_two(k1);
        let mut v = key;
        let mut rest = msg;
        while rest.len() > 16 {
            v = chaskey_permute(xor(v, words(&rest[..16])), rounds);
            rest = &rest[16..];
        }
        let (last, l) = if rest.len() == 16 {
            (words(rest), k1)
        } else {
            let mut b = [0u8; 16];
            b[..rest.len()].copy_from_slice(rest);
            b[rest.len()] = 1;
            (words(&b), k2)
        };
        xor(chaskey_permute(xor(xor(v, last), l), rounds), l)
    }

    #[test]
    fn chaskey_permutation_matches_the_reference_vectors() {
        // Key and tags from the Chaskey reference implementation
        // (message i = bytes 0, 1, ..., i-1; 8 rounds).
        let key = [0x833D_3433, 0x009F_389F, 0x2398_E64F, 0x417A_CF39];
        let msg: [u8; 64] = core::array::from_fn(|i| i as u8);
        let expect: [(usize, [u32; 4]); 4] = [
            (0, [0x792E_8FE5, 0x75CE_87AA, 0x2D14_50B5, 0x1191_970B]),
            (12, [0xFC2C_3391, 0x285C_8CD5, 0x4565_08EE, 0xC789_E206]),
            (16, [0x7927_1CA9, 0xD66A_1C71, 0x81CA_474E, 0x4983_1CAD]),
            (63, [0x9047_FAD7, 0x8813_6D8C, 0xA488_286B, 0x7FE9_352C]),
        ];
        for (len, tag) in expect {
            assert_eq!(chaskey_mac(key, &msg[..len], 8), tag, "length {len}");
        }
    }

    fn ep(a: [u8; 4], port: u16) -> Endpoint {
        Endpoint::new(Ipv4Address(a), port)
    }

    #[test]
    fn isn_depends_on_every_part_of_the_tuple_and_the_key() {
        let key = [1, 2, 3, 4];
        let l = ep([10, 0, 0, 2], 80);
        let r = ep([10, 0, 0, 1], 40000);
        let base = isn_hash(key, l, r);
        let variants = [
            isn_hash(key, ep([10, 0, 0, 3], 80), r),
            isn_hash(key, ep([10, 0, 0, 2], 81), r),
            isn_hash(key, l, ep([10, 0, 0, 9], 40000)),
            isn_hash(key, l, ep([10, 0, 0, 1], 40001)),
            isn_hash(key, r, l),
            isn_hash([1, 2, 3, 5], l, r),
            isn_hash([0x8000_0001, 2, 3, 4], l, r),
        ];
        for (n, v) in variants.iter().enumerate() {
            assert_ne!(*v, base, "variant {n}");
        }
        // One flipped input bit changes about half of the output bits.
        let mut flips = 0;
        for bit in 0..32 {
            let r2 = ep(
                (u32::from_be_bytes([10, 0, 0, 1]) ^ 1 << bit).to_be_bytes(),
                40000,
            );
            flips += (isn_hash(key, l, r2) ^ base).count_ones();
        }
        assert!((12 * 32..=20 * 32).contains(&flips), "{flips}");
    }

    #[test]
    fn socket_state_stays_packed() {
        // The sizes README "Decisions: stack state toward 1 KB" states (no
        // field is pointer-sized, so a 64-bit host lays them out as a
        // 32-bit MCU does).
        assert_eq!(core::mem::size_of::<TcpSocket>(), 64);
        assert_eq!(core::mem::size_of::<TcpShared>(), 52);
    }

    #[test]
    fn duplicate_acks_count_to_seven_and_reach_three_once() {
        let mut s = TcpSocket {
            flags: flag::RELISTEN | flag::MAC_KNOWN | flag::TS_OK,
            ..TcpSocket::default()
        };
        let counts: [u16; 10] = core::array::from_fn(|_| s.dupack());
        assert_eq!(counts, [1, 2, 3, 4, 5, 6, 7, 7, 7, 7]);
        assert_eq!(counts.iter().filter(|&&n| n == 3).count(), 1);
        assert!(s.has(flag::RELISTEN) && s.has(flag::MAC_KNOWN) && s.has(flag::TS_OK));
        assert!(!s.has(flag::SEND_SYN | flag::TIMING));
    }

    #[test]
    fn rtt_timer_in_16_bits_across_its_wrap() {
        let mut s = TcpSocket::default();
        // Sequence number and clock both just below a multiple of 2^16.
        let seq = SeqNumber(0x1234_fff0);
        let sent = 0x0002_fffa;
        s.start_timing(seq, sent);
        assert!(s.has(flag::TIMING));
        assert!(!s.acks_timed(seq), "an ACK of the first byte's start");
        assert!(s.acks_timed(seq.add(1)));
        assert!(
            s.acks_timed(seq.add(8 * 1460 + 2)),
            "a full flight past the wrap"
        );
        assert!(!s.acks_timed(SeqNumber(seq.0.wrapping_sub(100))));
        assert_eq!(s.timed_rtt(sent.wrapping_add(30)), 30);
        assert_eq!(s.timed_rtt(sent.wrapping_add(65_535)), 65_535);
    }

    #[test]
    fn snd_nxt_and_snd_max_follow_snd_una() {
        let iss = SeqNumber(u32::MAX - 10); // the sequence space wraps too
        let mut s = TcpSocket {
            snd_una: iss,
            ..TcpSocket::default()
        };
        assert_eq!((s.snd_nxt(), s.snd_max(), s.in_flight()), (iss, iss, 0));
        s.set_snd_nxt(iss.add(3000));
        s.set_snd_max(iss.add(3000));
        assert_eq!(s.in_flight(), 3000);
        s.set_snd_una(iss.add(1000));
        assert_eq!((s.snd_nxt(), s.snd_max()), (iss.add(3000), iss.add(3000)));
        assert_eq!(s.in_flight(), 2000);
        // A timeout goes back to SND.UNA; SND.MAX stays.
        s.set_snd_nxt(s.snd_una);
        assert_eq!((s.in_flight(), s.snd_max()), (0, iss.add(3000)));
        // An ACK beyond SND.NXT (of data sent before going back) moves it.
        s.set_snd_una(iss.add(2000));
        assert_eq!((s.snd_nxt(), s.snd_max()), (iss.add(2000), iss.add(3000)));
        // The largest flight the peer's 16-bit window admits.
        s.set_snd_max(s.snd_una.add(65_535));
        assert_eq!(s.snd_max(), iss.add(2000 + 65_535));
    }

    struct Entropy(u32);
    impl TcpOwner for Entropy {
        fn tcp_event(&mut self, _: TcpHandle, _: TcpEvent) {}
        fn tcp_received<N: Nic>(&mut self, _: TcpHandle, _: &mut TcpReader<'_, N>) -> usize {
            0
        }
        fn tcp_produce(&mut self, _: TcpHandle, _: u32, _: usize, _: &mut dyn PayloadSink) {}
        fn tcp_recv_space(&mut self, _: TcpHandle) -> usize {
            0
        }
        fn tcp_wants_close(&mut self, _: TcpHandle) -> bool {
            false
        }
        fn tcp_random(&mut self) -> u32 {
            self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            self.0
        }
    }

    #[test]
    fn isn_advances_with_a_4us_clock_and_keeps_its_key() {
        let (l, r) = (ep([10, 0, 0, 2], 80), ep([10, 0, 0, 1], 40000));
        let mut owner = Entropy(7);
        let mut shared = TcpShared::default();
        let a = shared.isn(&mut owner, 1000, l, r);
        let b = shared.isn(&mut owner, 1001, l, r);
        let c = shared.isn(&mut owner, 5000, l, r);
        assert_eq!(b.0.wrapping_sub(a.0), 250);
        assert_eq!(c.0.wrapping_sub(a.0), 1_000_000);
        assert_eq!(shared.isn(&mut owner, 1000, l, r), a);
        // Another device (another key) picks an unrelated ISN.
        let mut other = TcpShared::default();
        let d = other.isn(&mut Entropy(8), 1000, l, r);
        assert_ne!(a, d);
    }
}
