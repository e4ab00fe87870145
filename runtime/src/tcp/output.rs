//! Output for each socket at the end of `poll`: timers first, then what
//! the socket owes the peer — SYN or SYN-ACK, regenerated data after a loss,
//! new data the owner produces, FIN, and an ACK or window update if nothing
//! else carried one.

use super::{due, flag, recycle, tick, Retransmission, SentSegment, TcpEvent, TcpHandle};
use super::{TcpOwner, TcpSocket, TcpState, TcpTables};
use crate::iface::{Io, Payload, PayloadSink, SendError, Transport};
use crate::nic::Nic;
use crate::wire::tcp::{Control, Repr, SeqNumber, Timestamp, TIMESTAMPS_LEN};
use crate::wire::Checksum;
use crate::Instant;

/// Runs timers and sends for every socket, a pending SYN first if a socket
/// of its port is free, so its SYN-ACK goes out in this poll. (A socket in
/// TIME-WAIT is not taken before it has sent its last ACK.)
pub(crate) fn poll<N: Nic, O: TcpOwner>(io: &mut Io<'_, N>, t: &mut TcpTables<'_>, owner: &mut O) {
    super::backlog::serve_pending(io, t, owner);
    let cfg = t.config;
    for i in 0..t.sockets.len() {
        let Ok(handle) = u8::try_from(i).map(TcpHandle) else {
            break;
        };
        let Some(s) = t.sockets.get_mut(i) else {
            break;
        };
        if !s.state.is_connected() {
            continue;
        }
        if timers(io, s, cfg, owner, handle) {
            send(io, t, owner, i, handle);
        }
    }
}

/// The earliest deadline of any socket, or `now` when one has output due.
pub(crate) fn poll_at(
    sockets: &[TcpSocket],
    pending: Option<super::PendingSyn>,
    cfg: &super::TcpConfig,
    now: Instant,
) -> Option<Instant> {
    let t_now = tick(now);
    // Milliseconds from now; `u32::MAX`: nothing (a deadline not yet due
    // lies less than 2^31 ms ahead).
    let mut best = u32::MAX;
    let mut consider = |deadline: u32| {
        // 0 when overdue.
        let d = if due(t_now, deadline) {
            0
        } else {
            deadline.wrapping_sub(t_now)
        };
        best = best.min(d);
    };
    if let Some(at) = super::backlog::poll_at(pending, sockets, cfg, t_now) {
        consider(at);
    }
    for s in sockets.iter().filter(|s| s.state.is_connected()) {
        // A SYN waiting for ARP waits for the reply (a frame) or its timer.
        let syn_due = s.has(flag::SEND_SYN) && !s.has(flag::TIMER);
        if syn_due || s.has(flag::ACK_NOW) || (s.has(flag::CLOSE) && !s.has(flag::FIN_SENT)) {
            consider(t_now);
        }
        if s.has(flag::TIMER) {
            consider(s.timer);
        }
        if cfg.idle_timeout_ms > 0 {
            consider(s.last_rx.wrapping_add(cfg.idle_timeout_ms));
        }
        if cfg.keepalive_ms > 0 && s.state == TcpState::Established && !s.has(flag::TIMER) {
            consider(s.last_rx.wrapping_add(cfg.keepalive_ms));
        }
    }
    (best != u32::MAX).then(|| now.after(crate::Duration::from_millis(u64::from(best))))
}

/// Fires due timers; false when the socket is gone.
fn timers<N: Nic, O: TcpOwner>(
    io: &mut Io<'_, N>,
    s: &mut TcpSocket,
    cfg: &super::TcpConfig,
    owner: &mut O,
    handle: TcpHandle,
) -> bool {
    let now = tick(io.now);
    if cfg.idle_timeout_ms > 0 && due(now, s.last_rx.wrapping_add(cfg.idle_timeout_ms)) {
        give_up(io, s);
        owner.tcp_event(handle, TcpEvent::TimedOut);
        return false;
    }
    if !s.has(flag::TIMER) || !due(now, s.timer) {
        if cfg.keepalive_ms > 0
            && s.state == TcpState::Established
            && s.in_flight() == 0
            && due(now, s.last_rx.wrapping_add(cfg.keepalive_ms))
            && !s.has(flag::TIMER)
        {
            // RFC 9293 §3.8.4: a probe one below SND.NXT draws an ACK.
            let probe = s.snd_nxt().sub_len(1);
            let _ = segment(io, s, probe, Control::None);
            s.timer = now.wrapping_add(cfg.keepalive_ms);
            s.set(flag::TIMER, true);
        }
        return true;
    }
    s.set(flag::TIMER, false);
    if s.state == TcpState::TimeWait {
        recycle(s);
        owner.tcp_event(handle, TcpEvent::Closed);
        return false;
    }
    if s.snd_una == s.snd_max() && !s.has(flag::SEND_SYN) {
        return true; // keep-alive interval passed; idle timer decides
    }
    // Retransmission timeout (RFC 6298 §5.4–5.7). A half-open connection
    // gives up sooner: it may be a spoofed SYN's.
    let retries = if s.state == TcpState::SynReceived {
        cfg.retries.min(super::SYN_RECEIVED_RETRIES)
    } else {
        cfg.retries
    };
    if s.retries >= retries {
        give_up(io, s);
        owner.tcp_event(handle, TcpEvent::TimedOut);
        return false;
    }
    s.retries = s.retries.saturating_add(1);
    s.rto_ms = u32::from(s.rto_ms)
        .saturating_mul(2)
        .clamp(cfg.rto_min_ms, cfg.rto_max_ms.max(cfg.rto_min_ms))
        .min(u32::from(u16::MAX)) as u16;
    s.set(flag::TIMING, false); // Karn: no RTT samples from resends
    s.set_snd_nxt(s.snd_una);
    if matches!(s.state, TcpState::SynSent | TcpState::SynReceived) {
        s.set(flag::SEND_SYN, true);
    } else {
        let offset = s.offset_of(s.snd_una);
        owner.tcp_event(handle, TcpEvent::Retransmit { offset });
    }
    true
}

/// Gives a connection up: RST to the peer ([`abort`]), then the socket
/// back to LISTEN or free ([`recycle`]). (Out of line: four callers, none
/// on the data path.)
#[inline(never)]
pub(crate) fn give_up<N: Nic>(io: &mut Io<'_, N>, s: &mut TcpSocket) {
    abort(io, s);
    recycle(s);
}

/// Sends RST for a connection we give up (best effort). Not to a
/// half-open peer: a SYN-ACK that drew no answer is likely a spoofed SYN's,
/// and the RST would go to its innocent source. (Out of line: called by
/// [`give_up`] and [`abort_now`], none on the data path.)
#[inline(never)]
pub(crate) fn abort<N: Nic>(io: &mut Io<'_, N>, s: &mut TcpSocket) {
    if matches!(
        s.state,
        TcpState::SynSent | TcpState::SynReceived | TcpState::TimeWait
    ) {
        return;
    }
    let seq = s.snd_nxt();
    let _ = segment(io, s, seq, Control::Rst);
}

struct Empty;
impl Payload for Empty {
    fn write_to(&mut self, _: &mut dyn PayloadSink) {}
    fn known(&self) -> Option<(usize, Checksum)> {
        Some((0, Checksum::new()))
    }
}

/// The window we advertise, and the owner's room it was derived from.
/// (Left to LLVM: `#[inline(never)]` saved 224 B in the fourth session,
/// costs 24 B on today's tree.)
fn receive_window<O: TcpOwner>(
    s: &TcpSocket,
    cfg: &super::TcpConfig,
    owner: &mut O,
    handle: TcpHandle,
) -> (u16, u16) {
    if !s.state.can_receive() && !matches!(s.state, TcpState::SynSent | TcpState::SynReceived) {
        return (s.rcv_wnd, 0);
    }
    // Whole segments only: with timestamps a segment carries 12 bytes less,
    // and a window that is not a multiple of it invites runt segments.
    let options = if s.has(flag::TS_OK) {
        TIMESTAMPS_LEN
    } else {
        0
    };
    let segment = usize::from(cfg.mss).saturating_sub(options);
    let cap = usize::from(cfg.window).saturating_mul(segment);
    let room = owner
        .tcp_recv_space(handle)
        .min(cap)
        .min(usize::from(u16::MAX));
    // Receiver silly-window avoidance (RFC 9293 §3.8.6.2.2): keep the
    // right edge where it is until it can move by min(MSS, buffer / 2) —
    // a sliver of window makes a sender like Linux wait ~200 ms before
    // filling it. With no receive buffer, "buffer" is the largest room the
    // owner ever offered on this socket, so an owner whose room is always
    // small still gets a window. What was promised and not yet used
    // (`rcv_wnd`: input subtracts what arrives) stays offered, so the edge
    // never moves left unless the owner's room itself shrank: a bufferless
    // stack never offers more than the owner can take.
    let buffer = usize::from(s.max_room).max(room);
    let threshold = segment.min(buffer / 2).max(1);
    let promised = usize::from(s.rcv_wnd).min(room);
    let window = if room.saturating_sub(promised) >= threshold {
        room
    } else {
        promised
    };
    let clamp = |v: usize| v.min(usize::from(u16::MAX)) as u16;
    (clamp(window), clamp(room))
}

/// Sends one segment without data from socket state: SYN, FIN, RST, an
/// ACK or a window probe (data goes out through `segment_with_sum`).
fn segment<N: Nic>(
    io: &mut Io<'_, N>,
    s: &mut TcpSocket,
    seq: SeqNumber,
    control: Control,
) -> Result<(), SendError> {
    let syn = control == Control::Syn;
    let repr = Repr {
        src_port: s.local_port,
        dst_port: s.remote_port,
        control,
        seq_number: seq,
        ack_number: (s.state != TcpState::SynSent).then_some(s.rcv_nxt),
        window_len: s.rcv_wnd,
        max_seg_size: syn.then_some(crate::iface::egress::MTU.saturating_sub(40) as u16),
        // Offered on our SYN; otherwise only when both sides agreed.
        timestamp: timestamp(s, io.now, syn && s.state == TcpState::SynSent),
        payload_len: 0,
    };
    transmit(io, s, repr, &mut Empty)?;
    s.set(flag::ACK_NOW, false);
    Ok(())
}

/// Sends `repr` with `payload` to the socket's peer, resolving its MAC
/// first when it is not known yet. (Out of line: control and data
/// segments share one copy of the send.)
#[inline(never)]
fn transmit<N: Nic>(
    io: &mut Io<'_, N>,
    s: &mut TcpSocket,
    repr: Repr,
    payload: &mut dyn Payload,
) -> Result<crate::iface::Sent, SendError> {
    if !s.has(flag::MAC_KNOWN) {
        s.remote_mac = io.resolve(s.remote_ip)?;
        s.set(flag::MAC_KNOWN, true);
    }
    io.send_ipv4_sent(s.remote_mac, s.remote_ip, &Transport::Tcp(repr), payload)
}

/// Produces stream bytes from the owner (or the retransmit buffer), capped
/// at `max`, and checks a regeneration against its record. `RING`: the
/// socket keeps a retransmit buffer (`[tcp] retransmission = "buffer"`);
/// a constant, so a stack in regenerate mode has no ring code.
struct Produce<'a, O: TcpOwner, const RING: bool> {
    owner: &'a mut O,
    handle: TcpHandle,
    offset: u32,
    max: usize,
    /// The retransmit buffer (buffer mode) and whether to read from it
    /// (a resend) or fill it (new data).
    ring: &'a mut [u8],
    from_ring: bool,
    expect: Option<SentSegment>,
}

/// The owner's sink, capped at `left` bytes (and copied into the ring
/// when `RING`).
struct Limit<'s, const RING: bool> {
    inner: &'s mut dyn PayloadSink,
    left: usize,
    ring: &'s mut [u8],
    pos: usize,
}

impl<const RING: bool> PayloadSink for Limit<'_, RING> {
    fn write(&mut self, bytes: &[u8]) {
        let take = bytes.len().min(self.left);
        let Some(part) = bytes.get(..take) else {
            return;
        };
        if RING && !self.ring.is_empty() {
            // At most two copies: up to the ring's end, then from its start.
            let cap = self.ring.len();
            let mut rest = part;
            while !rest.is_empty() {
                let at = self.pos.checked_rem(cap).unwrap_or(0);
                let n = cap.saturating_sub(at).min(rest.len());
                let (Some(dst), Some(src)) =
                    (self.ring.get_mut(at..at.saturating_add(n)), rest.get(..n))
                else {
                    break;
                };
                dst.copy_from_slice(src);
                self.pos = self.pos.wrapping_add(n);
                rest = rest.get(n..).unwrap_or(&[]);
            }
        }
        self.inner.write(part);
        self.left = self.left.saturating_sub(take);
    }
    fn write_summed(&mut self, piece: crate::wire::Summed) {
        if piece.bytes.len() > self.left || (RING && !self.ring.is_empty()) {
            return self.write(piece.bytes); // cut, or kept for a resend
        }
        self.inner.write_summed(piece);
        self.left = self.left.wrapping_sub(piece.bytes.len());
    }

    fn write_measured(&mut self, len: usize, sum: Checksum) -> bool {
        if len > self.left || (RING && !self.ring.is_empty()) {
            return false; // cut, or the bytes are kept for a resend
        }
        let taken = self.inner.write_measured(len, sum);
        if taken {
            self.left = self.left.wrapping_sub(len);
        }
        taken
    }

    fn write_from_rx(&mut self, offset: usize, len: usize) {
        // Stream bytes never come from a received frame through here
        // unless copied by the owner; keep the cap and ring semantics by
        // forwarding only when no ring copy is needed.
        if !RING || self.ring.is_empty() {
            let take = len.min(self.left);
            self.inner.write_from_rx(offset, take);
            self.left = self.left.saturating_sub(take);
        }
    }
}

impl<O: TcpOwner, const RING: bool> Payload for Produce<'_, O, RING> {
    fn write_to(&mut self, sink: &mut dyn PayloadSink) {
        let cap = self.ring.len();
        let start = (self.offset as usize).checked_rem(cap).unwrap_or(0);
        if RING && self.from_ring {
            // Buffer mode resend: the bytes we kept, in up to two pieces.
            let first = self.max.min(cap.saturating_sub(start));
            if let Some(a) = self.ring.get(start..start.saturating_add(first)) {
                sink.write(a);
            }
            if let Some(b) = self.ring.get(..self.max.saturating_sub(first)) {
                sink.write(b);
            }
            return;
        }
        let mut limited = Limit::<RING> {
            inner: sink,
            left: self.max,
            ring: self.ring,
            pos: start,
        };
        self.owner
            .tcp_produce(self.handle, self.offset, self.max, &mut limited);
    }

    fn accept(&self, len: usize, sum: Checksum) -> bool {
        match self.expect {
            None => true,
            Some(rec) => rec.matches(len, sum),
        }
    }
}

/// Sends what socket `i` owes: its SYN or SYN-ACK; else data (what a
/// timeout or fast retransmit asked to resend first, on the original
/// boundaries, then new data while the windows allow) and the FIN; then an
/// ACK or a window update if no segment carried one.
fn send<N: Nic, O: TcpOwner>(
    io: &mut Io<'_, N>,
    t: &mut TcpTables<'_>,
    owner: &mut O,
    i: usize,
    handle: TcpHandle,
) {
    let now = tick(io.now);
    let Some(s) = t.sockets.get_mut(i) else {
        return;
    };
    let window_update = advertise(s, t.config, owner, handle);
    if s.has(flag::SEND_SYN) {
        send_syn(io, s, now);
        return;
    }
    // A window update is owed like an ACK: any segment sent below carries
    // the new window and clears it, so it goes alone only if none did
    // (an echo answering a full window otherwise sent its data segment and
    // then a bare copy of that segment's ACK and window).
    if window_update {
        s.set(flag::ACK_NOW, true);
    }
    let eff_mss = effective_mss(s, t.config);
    for _ in 0..t.config.segments_per_socket().saturating_add(1) {
        let Some(next) = next_segment(io, t, owner, i, handle, eff_mss) else {
            break;
        };
        match send_data(io, t, owner, i, handle, next) {
            Sent::More => {}
            Sent::Done => break,
            Sent::Gone => return,
        }
    }
    let Some(s) = t.sockets.get_mut(i) else {
        return;
    };
    // FIN resend after a go-back. A first FIN goes out only from the loop
    // above, once the owner has been asked and had nothing more.
    if s.has(flag::FIN_SENT) {
        send_fin(io, s, now);
    }
    if s.has(flag::ACK_NOW) {
        let seq = s.snd_nxt();
        let _ = segment(io, s, seq, Control::None);
    }
}

/// Updates the window socket `s` advertises from its owner's room;
/// whether the change deserves a window update of its own.
fn advertise<O: TcpOwner>(
    s: &mut TcpSocket,
    cfg: &super::TcpConfig,
    owner: &mut O,
    handle: TcpHandle,
) -> bool {
    let (window, room) = receive_window(s, cfg, owner, handle);
    s.max_room = s.max_room.max(room);
    let update = window > s.rcv_wnd
        && (s.rcv_wnd == 0 || window.saturating_sub(s.rcv_wnd) >= cfg.mss.min(window));
    s.rcv_wnd = window;
    update
}

/// Sends our SYN (active open) or SYN-ACK (passive). (Inlined into
/// `send`: out of line measured 24 B larger on today's tree.)
fn send_syn<N: Nic>(io: &mut Io<'_, N>, s: &mut TcpSocket, now: u32) {
    let iss = s.snd_base.sub_len(1);
    match segment(io, s, iss, Control::Syn) {
        Ok(_) => {
            s.set(flag::SEND_SYN, false);
            s.set_snd_nxt(s.snd_base);
            s.set_snd_max(s.snd_max().max(s.snd_base));
            arm(s, now);
        }
        // Waiting for ARP: the timer bounds the wait and counts it as a
        // try, so a silent host times the connection out and the loop
        // sleeps meanwhile (a reply's frame wakes it).
        Err(SendError::ArpPending) => arm(s, now),
        Err(_) => {}
    }
}

/// The payload per segment: the MSS less any options every segment
/// carries (RFC 9293 §3.7.1), so frames stay within the MTU. (Out of
/// line: measured smaller in the everything-on firmware, for one call per
/// segment sent.)
#[inline(never)]
fn effective_mss(s: &TcpSocket, cfg: &super::TcpConfig) -> usize {
    let options = if s.has(flag::TS_OK) {
        TIMESTAMPS_LEN
    } else {
        0
    };
    usize::from(s.peer_mss.min(cfg.mss))
        .saturating_sub(options)
        .max(1)
}

/// A data segment to send: where, how long, (a resend) its record, and
/// whether our FIN rides on it.
struct NextSegment {
    offset: u32,
    len: usize,
    expect: Option<SentSegment>,
    resend: bool,
    fin: bool,
}

/// The next data segment of socket `i`, or `None` when nothing more goes
/// now — after sending the FIN if the owner has produced everything.
fn next_segment<N: Nic, O: TcpOwner>(
    io: &mut Io<'_, N>,
    t: &mut TcpTables<'_>,
    owner: &mut O,
    i: usize,
    handle: TcpHandle,
    eff_mss: usize,
) -> Option<NextSegment> {
    // The socket by reference, its records beside it (disjoint fields).
    let cfg = t.config;
    let records = super::per_socket(t.segments, cfg.segments_per_socket(), i);
    let s = t.sockets.get_mut(i)?;
    let data_end = if s.has(flag::FIN_SENT) {
        s.snd_max().sub_len(1)
    } else {
        s.snd_max()
    };
    let offset = s.offset_of(s.snd_nxt());
    if s.snd_nxt() < data_end {
        let (len, expect) = resend_record(records, s, data_end, eff_mss);
        // The FIN went out on the last data segment: it goes again with it.
        let fin = s.has(flag::FIN_SENT) && s.snd_nxt().add(len) == data_end;
        return Some(NextSegment {
            offset,
            len,
            expect,
            resend: true,
            fin,
        });
    }
    if !s.state.can_send() || s.has(flag::CLOSE) && s.has(flag::FIN_SENT) {
        return None;
    }
    let now = tick(io.now);
    let len = new_data_room(records, cfg, owner, handle, s, eff_mss);
    let owner_done = match len {
        // Our window is full: the FIN takes no segment of it, so it
        // follows the data at once when the owner has no more (the peer's
        // window still has to admit it).
        0 => usize::from(s.snd_wnd) > s.in_flight() && !has_data(owner, handle, offset),
        // Asked before producing, because a frame, once started, goes out
        // even if empty.
        _ => !has_data(owner, handle, offset),
    };
    if owner_done {
        drained(s, owner, handle);
        send_fin(io, s, now);
    }
    if len == 0 || owner_done {
        return None;
    }
    let fin = fin_rides(s, owner, handle, offset, len);
    Some(NextSegment {
        offset,
        len,
        expect: None,
        resend: false,
        fin,
    })
}

/// Whether our FIN rides on the new data segment of `len` bytes at
/// `offset`: the owner wants to close and has nothing beyond it, so this
/// segment carries the rest of the stream, and the peer's window admits
/// the FIN too. A FIN of its own would cost a frame and, at window 1, the
/// peer's ACK of the data first — a round trip on every
/// `Connection: close` response. (Out of line: measured 8 B smaller on
/// this tree, no instruction more per segment.)
#[inline(never)]
fn fin_rides<O: TcpOwner>(
    s: &mut TcpSocket,
    owner: &mut O,
    handle: TcpHandle,
    offset: u32,
    len: usize,
) -> bool {
    if s.has(flag::FIN_SENT)
        || !matches!(s.state, TcpState::Established | TcpState::CloseWait)
        || usize::from(s.snd_wnd) <= s.in_flight().saturating_add(len)
    {
        return false;
    }
    // A segment is at most an MSS: the end stays a stream offset (mod 2^32).
    let end = offset.wrapping_add(len as u32);
    let closing = s.has(flag::CLOSE);
    if !(closing || owner.tcp_wants_close(handle)) || has_data(owner, handle, end) {
        return false;
    }
    s.set(flag::CLOSE, true);
    true
}

/// The length and record of the segment to resend at `SND.NXT`: the
/// recorded one that starts there, or, off a record boundary (after a
/// partial ACK), the rest of the data in flight as one new segment.
fn resend_record(
    records: &[SentSegment],
    s: &TcpSocket,
    data_end: SeqNumber,
    eff_mss: usize,
) -> (usize, Option<SentSegment>) {
    let skip = s.snd_nxt().distance(s.snd_una.max(s.snd_base));
    let mut at = 0usize;
    for rec in records.iter().take_while(|r| r.len != 0) {
        if at == skip {
            return (usize::from(rec.len), Some(*rec));
        }
        // Bounded: the records' lengths add up to what is in flight, at
        // most the window (window × MSS, under 2^16 × 2^16).
        at = at.wrapping_add(usize::from(rec.len));
    }
    (data_end.distance(s.snd_nxt()).min(eff_mss), None)
}

/// How many new bytes socket `s` may send in one segment now (0: a
/// window is full, or none of its `records` is free): both windows, half
/// a segment when splitting, one byte to probe a zero window.
fn new_data_room<O: TcpOwner>(
    records: &[SentSegment],
    cfg: &super::TcpConfig,
    owner: &mut O,
    handle: TcpHandle,
    s: &TcpSocket,
    eff_mss: usize,
) -> usize {
    let flight = s.in_flight();
    if !records.iter().any(|r| r.len == 0) {
        return 0;
    }
    if s.snd_wnd == 0 && flight == 0 {
        return 1; // zero-window probe (RFC 9293 §3.8.6.1)
    }
    let peer_room = usize::from(s.snd_wnd).saturating_sub(flight);
    let our_room = usize::from(cfg.window)
        .saturating_mul(eff_mss)
        .saturating_sub(flight);
    let next_after_one = s.offset_of(s.snd_nxt()).wrapping_add(eff_mss as u32);
    let seg_size = if cfg.splits() && flight == 0 && has_data(owner, handle, next_after_one) {
        // More than a segment to send and one fits: two halves, so a
        // delayed-ACK receiver ACKs at once.
        eff_mss.div_ceil(2)
    } else {
        eff_mss
    };
    peer_room.min(our_room).min(seg_size)
}

/// What sending a data segment left to do.
enum Sent {
    /// Another segment may follow.
    More,
    /// Nothing more this time (NIC busy, ARP pending, owner done).
    Done,
    /// The socket was reset (a regenerated segment differed).
    Gone,
}

/// Produces and sends one data segment, then records it (new data) and
/// arms the retransmission timer.
fn send_data<N: Nic, O: TcpOwner>(
    io: &mut Io<'_, N>,
    t: &mut TcpTables<'_>,
    owner: &mut O,
    i: usize,
    handle: TcpHandle,
    next: NextSegment,
) -> Sent {
    let cfg = *t.config;
    let now = tick(io.now);
    let NextSegment {
        offset,
        len,
        expect,
        resend,
        fin,
    } = next;
    // `cfg` is the configuration's constant: one of the two is compiled.
    let (mut buffered, mut regenerated);
    let produce: &mut dyn Payload = if cfg.retransmission == Retransmission::Buffer {
        buffered = Produce::<O, true> {
            owner: &mut *owner,
            handle,
            offset,
            max: len,
            ring: super::per_socket(&mut *t.buffer, cfg.buffer_per_socket(), i),
            from_ring: resend,
            expect,
        };
        &mut buffered
    } else {
        regenerated = Produce::<O, false> {
            owner: &mut *owner,
            handle,
            offset,
            max: len,
            ring: &mut [],
            from_ring: false,
            expect,
        };
        &mut regenerated
    };
    let Some(sock) = t.sockets.get_mut(i) else {
        return Sent::Gone;
    };
    let seq = sock.snd_nxt();
    let control = if fin { Control::Fin } else { Control::Psh };
    match segment_with_sum(io, sock, seq, control, produce) {
        Ok((0, _)) => {
            if !resend {
                // The owner has nothing more: a requested close may go.
                drained(sock, owner, handle);
                send_fin(io, sock, now);
            }
            Sent::Done
        }
        Ok((n, sum)) => {
            let fin_len = usize::from(fin);
            sock.set_snd_nxt(sock.snd_nxt().add(n).add(fin_len));
            if fin && !resend {
                fin_sent(sock);
            }
            arm(sock, now);
            if !resend {
                sock.set_snd_max(sock.snd_nxt());
                if !sock.has(flag::TIMING) {
                    sock.start_timing(seq, now);
                }
                let rec = SentSegment::new(u16::try_from(n).unwrap_or(u16::MAX), sum);
                if let Some(slot) = t.records(i).iter_mut().find(|r| r.len == 0) {
                    *slot = rec;
                }
            }
            Sent::More
        }
        Err(SendError::PayloadChanged) => {
            give_up(io, sock);
            owner.tcp_event(handle, TcpEvent::RegenerationMismatch { offset });
            Sent::Gone
        }
        Err(_) => Sent::Gone, // ARP pending, NIC busy: next poll
    }
}

/// Counts what a producer writes, sending nothing.
struct Count(usize);

impl PayloadSink for Count {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = self.0.saturating_add(bytes.len());
    }
    fn write_from_rx(&mut self, _offset: usize, len: usize) {
        self.0 = self.0.saturating_add(len);
    }
}

/// Whether the owner has a byte at `offset` (asks for one byte). Out of
/// line: it holds the owner's whole `tcp_produce`, and `send` asks in
/// three places.
#[inline(never)]
fn has_data<O: TcpOwner>(owner: &mut O, handle: TcpHandle, offset: u32) -> bool {
    let mut count = Count(0);
    owner.tcp_produce(handle, offset, 1, &mut count);
    count.0 > 0
}

fn segment_with_sum<N: Nic>(
    io: &mut Io<'_, N>,
    s: &mut TcpSocket,
    seq: SeqNumber,
    control: Control,
    payload: &mut dyn Payload,
) -> Result<(usize, Checksum), SendError> {
    let repr = Repr {
        src_port: s.local_port,
        dst_port: s.remote_port,
        control,
        seq_number: seq,
        ack_number: Some(s.rcv_nxt),
        window_len: s.rcv_wnd,
        max_seg_size: None,
        timestamp: timestamp(s, io.now, false),
        payload_len: 0,
    };
    let sent = transmit(io, s, repr, payload)?;
    if sent.payload_len > 0 {
        s.set(flag::ACK_NOW, false);
    }
    Ok((sent.payload_len, sent.payload_sum))
}

/// Sends (or resends) our FIN when it is due.
fn send_fin<N: Nic>(io: &mut Io<'_, N>, s: &mut TcpSocket, now: u32) {
    let resend = s.has(flag::FIN_SENT) && s.snd_nxt() == s.snd_max().sub_len(1);
    let first = s.has(flag::CLOSE)
        && !s.has(flag::FIN_SENT)
        && s.snd_nxt() == s.snd_max()
        && matches!(s.state, TcpState::Established | TcpState::CloseWait);
    if !(resend || first) {
        return;
    }
    let seq = s.snd_nxt();
    if segment(io, s, seq, Control::Fin).is_ok() {
        s.set_snd_nxt(s.snd_nxt().add(1));
        if first {
            s.set_snd_max(s.snd_nxt());
            fin_sent(s);
        }
        arm(s, now);
    }
}

/// Our first FIN went out: the state moves on (RFC 9293 §3.10.4). (Out
/// of line: two callers, once per connection.)
#[inline(never)]
fn fin_sent(s: &mut TcpSocket) {
    s.set(flag::FIN_SENT, true);
    s.state = match s.state {
        TcpState::CloseWait => TcpState::LastAck,
        _ => TcpState::FinWait1,
    };
}

/// The owner produced everything it has: it may end the stream here.
fn drained<O: TcpOwner>(s: &mut TcpSocket, owner: &mut O, handle: TcpHandle) {
    if !s.has(flag::CLOSE) && owner.tcp_wants_close(handle) {
        s.set(flag::CLOSE, true);
    }
}

/// The timestamps option for an outgoing segment (RFC 7323 §3.2): our ms
/// clock and TS.Recent; `offer` puts it on our SYN before agreement.
fn timestamp(s: &TcpSocket, now: crate::Instant, offer: bool) -> Option<Timestamp> {
    (s.has(flag::TS_OK) || offer).then(|| Timestamp {
        tsval: tick(now),
        tsecr: if offer { 0 } else { s.ts_recent },
    })
}

/// Starts the retransmission timer unless it runs already. (Out of line:
/// five callers.)
#[inline(never)]
fn arm(s: &mut TcpSocket, now: u32) {
    if !s.has(flag::TIMER) {
        s.timer = now.wrapping_add(u32::from(s.rto_ms));
        s.set(flag::TIMER, true);
    }
}

/// Sends RST and frees the socket (the owner asked to abort).
pub(crate) fn abort_now<N: Nic>(io: &mut Io<'_, N>, s: &mut TcpSocket) {
    if s.state.is_connected() {
        abort(io, s);
    }
    *s = TcpSocket::default();
}
