//! Segment arrival, following RFC 9293 §3.10.7 step by step, with the
//! RFC 5961 checks for RST and SYN. Nothing is sent from here: the
//! socket's flags say what output owes the peer, and output runs at the end
//! of the same `poll`. The exception is RST for segments without a socket,
//! which has no socket to remember it.

use super::TcpTables;
use super::{
    flag, recycle, tick, PendingSyn, TcpEvent, TcpHandle, TcpOwner, TcpReader, TcpSocket, TcpState,
};
use crate::iface::{Bytes, DropReason, Io, Transport};
use crate::nic::Nic;
use crate::udp::Endpoint;
use crate::wire::tcp::{Control, Repr, SeqNumber};
use crate::wire::{EthernetAddress, Ipv4Address};

/// A checksum-verified segment addressed to us.
pub(crate) struct Segment {
    pub src_ip: Ipv4Address,
    pub dst_ip: Ipv4Address,
    pub src_mac: EthernetAddress,
    pub repr: Repr,
    /// Frame offset of the payload.
    pub payload_offset: usize,
}

impl Segment {
    fn len(&self) -> usize {
        self.repr.segment_len()
    }
    fn seq(&self) -> SeqNumber {
        self.repr.seq_number
    }
    fn syn(&self) -> bool {
        self.repr.control == Control::Syn
    }
    fn fin(&self) -> bool {
        self.repr.control == Control::Fin
    }
    fn rst(&self) -> bool {
        self.repr.control == Control::Rst
    }
}

/// Handles one segment. `Err` says why it was dropped (it may still have
/// been answered: RST or ACK).
pub(crate) fn segment_arrives<N: Nic, O: TcpOwner>(
    io: &mut Io<'_, N>,
    t: &mut TcpTables<'_>,
    owner: &mut O,
    seg: &Segment,
) -> Result<(), DropReason> {
    let r = &seg.repr;
    // One pass over the sockets of the port: the connection (first), else
    // the first listener, and whether the port has server sockets at all.
    let (mut exact, mut listener, mut server_port) = (None, None, false);
    for (i, s) in t.sockets.iter().enumerate() {
        if s.local_port != r.dst_port {
            continue;
        }
        server_port |= s.has(flag::RELISTEN);
        if s.state.is_connected() && s.remote_port == r.src_port && s.remote_ip == seg.src_ip {
            exact = Some((i, s.state));
            break;
        }
        if listener.is_none() && s.state == TcpState::Listen {
            listener = Some((i, TcpState::Listen));
        }
    }
    let Some((i, state)) = exact.or(listener) else {
        if server_port && seg.syn() && r.ack_number.is_none() {
            return super::backlog::syn_to_busy_port(io, t, owner, seg);
        }
        reset_for(io, seg);
        return Err(DropReason::TcpNoSocket);
    };
    let Ok(handle) = u8::try_from(i).map(TcpHandle) else {
        return Err(DropReason::TcpNoSocket);
    };
    let now = tick(io.now);
    match state {
        TcpState::Listen => listen(io, t, owner, i, seg),
        TcpState::SynSent => syn_sent(io, t, owner, i, handle, seg, now),
        // Never CLOSED: the search above takes only a connected or a
        // listening socket.
        _ => synchronized(io, t, owner, i, handle, seg, now),
    }
}

/// RST for a segment no socket wants (RFC 9293 §3.10.7.1).
pub(crate) fn reset_for<N: Nic>(io: &mut Io<'_, N>, seg: &Segment) {
    let r = &seg.repr;
    if seg.rst() {
        return;
    }
    let (seq, ack) = match r.ack_number {
        Some(ack) => (ack, None),
        None => (SeqNumber(0), Some(r.seq_number.add(seg.len()))),
    };
    let rst = Repr {
        src_port: r.dst_port,
        dst_port: r.src_port,
        control: Control::Rst,
        seq_number: seq,
        ack_number: ack,
        window_len: 0,
        max_seg_size: None,
        timestamp: None,
        payload_len: 0,
    };
    let _ = io.send_ipv4_to(
        seg.src_mac,
        seg.src_ip,
        &Transport::Tcp(rst),
        &mut Bytes(&[]),
    );
}

/// A SYN for a listening socket (or one made ready for it): on to
/// SYN-RECEIVED, SYN-ACK on the next output. (Always inlined: its two
/// call sites are in `segment_arrives`, which LLVM builds as one function;
/// 8 B smaller than the call.)
#[inline(always)]
pub(crate) fn listen<N: Nic, O: TcpOwner>(
    io: &mut Io<'_, N>,
    t: &mut TcpTables<'_>,
    owner: &mut O,
    i: usize,
    seg: &Segment,
) -> Result<(), DropReason> {
    if seg.rst() {
        return Err(DropReason::TcpMalformed);
    }
    if seg.repr.ack_number.is_some() {
        reset_for(io, seg);
        return Err(DropReason::TcpNoSocket);
    }
    if !seg.syn() {
        return Err(DropReason::TcpMalformed);
    }
    open(
        io,
        t,
        owner,
        i,
        &PendingSyn::of(seg, tick(io.now)),
        seg.dst_ip,
    )
}

/// The passive open of socket `i` by `syn`, addressed to `ours`: what
/// [`listen`] does for a SYN as it arrives and the busy-port code for a
/// remembered one (a SYN is answered from what [`PendingSyn`] keeps of
/// it, the same either way). (Out of line: three callers.)
#[inline(never)]
pub(crate) fn open<N: Nic, O: TcpOwner>(
    io: &mut Io<'_, N>,
    t: &mut TcpTables<'_>,
    owner: &mut O,
    i: usize,
    syn: &PendingSyn,
    ours: Ipv4Address,
) -> Result<(), DropReason> {
    let local = Endpoint::new(ours, syn.dst_port);
    let iss = t.shared.isn(owner, io.now.millis(), local, syn.remote());
    let cfg = *t.config;
    let now = tick(io.now);
    let Some(s) = t.sockets.get_mut(i) else {
        return Err(DropReason::TcpNoSocket);
    };
    // Any data on the SYN is not acknowledged: the peer sends it again.
    *s = TcpSocket {
        state: TcpState::SynReceived,
        flags: (s.flags & flag::RELISTEN)
            | flag::SEND_SYN
            | flag::MAC_KNOWN
            | if syn.has_ts { flag::TS_OK } else { 0 },
        local_port: s.local_port,
        remote_port: syn.src_port,
        remote_ip: syn.src_ip,
        remote_mac: syn.src_mac,
        snd_base: iss.add(1),
        snd_una: iss,
        rcv_nxt: syn.seq.add(1),
        snd_wnd: syn.window,
        // No MSS option reads as 0: the default, 536, either way.
        peer_mss: syn.mss.max(MIN_PEER_MSS),
        rto_ms: super::initial_rto(&cfg),
        last_rx: now,
        ts_recent: syn.tsval,
        ..TcpSocket::default()
    };
    // A connection that ended by reset or timeout left its in-flight
    // records; the new one starts with none.
    super::clear_records(t, i);
    Ok(())
}

/// RFC 9293's default MSS, and the smallest we send: every IPv4 host
/// takes 576-byte datagrams (RFC 1122 §3.3.2), so a smaller MSS option only
/// makes us send more, smaller segments — up to a segment per byte for an
/// MSS of 1.
const MIN_PEER_MSS: u16 = 536;

/// The peer's MSS option, or the default, at least [`MIN_PEER_MSS`].
fn peer_mss(r: &Repr) -> u16 {
    r.max_seg_size.unwrap_or(MIN_PEER_MSS).max(MIN_PEER_MSS)
}

fn syn_sent<N: Nic, O: TcpOwner>(
    io: &mut Io<'_, N>,
    t: &mut TcpTables<'_>,
    owner: &mut O,
    i: usize,
    handle: TcpHandle,
    seg: &Segment,
    now: u32,
) -> Result<(), DropReason> {
    let Some(s) = t.sockets.get_mut(i) else {
        return Err(DropReason::TcpNoSocket);
    };
    let iss = s.snd_una;
    let acceptable_ack = match seg.repr.ack_number {
        Some(ack) => {
            if ack <= iss || ack > s.snd_max() {
                reset_for(io, seg);
                return Err(DropReason::TcpOutOfWindow);
            }
            true
        }
        None => false,
    };
    if seg.rst() {
        if acceptable_ack {
            recycle(s);
            owner.tcp_event(handle, TcpEvent::Reset);
            return Ok(());
        }
        return Err(DropReason::TcpOutOfWindow);
    }
    if !seg.syn() {
        return Err(DropReason::TcpMalformed);
    }
    s.rcv_nxt = seg.seq().add(1);
    s.snd_wnd = seg.repr.window_len;
    s.peer_mss = peer_mss(&seg.repr);
    s.last_rx = now;
    s.set(flag::TS_OK, seg.repr.timestamp.is_some());
    s.ts_recent = seg.repr.timestamp.map_or(0, |ts| ts.tsval);
    if let Some(ack) = seg.repr.ack_number {
        s.set_snd_una(ack);
        s.state = TcpState::Established;
        s.retries = 0;
        s.set(flag::TIMER | flag::SEND_SYN, false);
        s.set(flag::ACK_NOW, true);
        let remote = Endpoint::new(s.remote_ip, s.remote_port);
        owner.tcp_event(handle, TcpEvent::Connected { remote });
    } else {
        // Simultaneous open: answer with SYN-ACK from the same ISS.
        s.state = TcpState::SynReceived;
        s.set_snd_nxt(iss);
        s.set(flag::SEND_SYN, true);
    }
    Ok(())
}

/// RFC 9293 §3.10.7.4 segment acceptability.
fn acceptable(s: &TcpSocket, seg: &Segment) -> bool {
    let wnd = usize::from(s.rcv_wnd);
    let seq = seg.seq();
    let len = seg.len();
    let in_window = |x: SeqNumber| s.rcv_nxt <= x && x < s.rcv_nxt.add(wnd);
    match (len, wnd) {
        (0, 0) => seq == s.rcv_nxt,
        (0, _) => in_window(seq),
        (_, 0) => false,
        _ => in_window(seq) || in_window(seq.add(len.saturating_sub(1))),
    }
}

/// A segment for a connection (RFC 9293 §3.10.7.4), step by step.
fn synchronized<N: Nic, O: TcpOwner>(
    io: &mut Io<'_, N>,
    t: &mut TcpTables<'_>,
    owner: &mut O,
    i: usize,
    handle: TcpHandle,
    seg: &Segment,
    now: u32,
) -> Result<(), DropReason> {
    if let Some(done) = syn_again(io, t, owner, i, handle, seg) {
        return done;
    }
    // The socket, fetched once (`i` indexes the table: the socket was
    // found there), its in-flight records beside it (disjoint fields).
    let TcpTables {
        sockets,
        segments,
        config,
        ..
    } = t;
    let time_wait_ms = config.time_wait_ms;
    let s = sockets.get_mut(i).ok_or(DropReason::TcpNoSocket)?;
    // 1. Sequence number check.
    check_sequence(s, seg, now, time_wait_ms)?;
    // 2. RST.
    if seg.rst() {
        return reset_arrives(s, owner, handle, seg);
    }
    // 4. SYN in a synchronized state (RFC 5961 §4.2): challenge ACK.
    if seg.syn() {
        s.set(flag::ACK_NOW, true);
        return Err(DropReason::TcpOutOfWindow);
    }
    // 5. ACK.
    let ack = seg.repr.ack_number.ok_or(DropReason::TcpMalformed)?;
    if s.state == TcpState::SynReceived {
        complete_handshake(io, s, owner, handle, seg, ack)?;
    }
    let records = super::per_socket(segments, config.segments_per_socket(), i);
    ack_arrives(s, records, config, owner, handle, seg, ack, now)?;
    if !our_fin_acked(s, owner, handle, seg, now, time_wait_ms) {
        return Ok(()); // LAST-ACK ended: the socket is free
    }
    // 7. Data.
    let all_data_taken = if seg.repr.payload_len > 0 && s.state.can_receive() {
        deliver(io, s, owner, handle, seg)
    } else {
        true
    };
    // 8. FIN, once everything before it was taken.
    if seg.fin() {
        fin_arrives(s, owner, handle, seg, all_data_taken, now, time_wait_ms);
    }
    Ok(())
}

/// A SYN for a connection that exists: the same client starting anew after
/// TIME-WAIT (RFC 6191 / RFC 1122 §4.2.2.13), or a retry crossing our lost
/// SYN-ACK. `None`: not such a SYN, go on.
fn syn_again<N: Nic, O: TcpOwner>(
    io: &mut Io<'_, N>,
    t: &mut TcpTables<'_>,
    owner: &mut O,
    i: usize,
    handle: TcpHandle,
    seg: &Segment,
) -> Option<Result<(), DropReason>> {
    if !seg.syn() || seg.repr.ack_number.is_some() {
        return None;
    }
    let s = t.sockets.get_mut(i)?;
    if s.state == TcpState::TimeWait && s.has(flag::RELISTEN) && new_incarnation(s, seg) {
        recycle(s);
        owner.tcp_event(handle, TcpEvent::Closed);
        return Some(listen(io, t, owner, i, seg));
    }
    if s.state == TcpState::SynReceived && seg.seq().add(1) == s.rcv_nxt {
        // Our SYN-ACK was lost: the peer's SYN retry gets it again.
        s.set_snd_nxt(s.snd_una);
        s.set(flag::SEND_SYN, true);
        return Some(Ok(()));
    }
    None
}

/// Step 1: an unacceptable segment is answered with an ACK (unless it is
/// a RST) and dropped; a zero window still takes pure ACKs and RSTs
/// exactly at RCV.NXT. An acceptable one refreshes the idle clock and
/// TS.Recent (RFC 7323 §4.3: the newest timestamp of a segment that does
/// not lie beyond what we acknowledge).
fn check_sequence(
    s: &mut TcpSocket,
    seg: &Segment,
    now: u32,
    time_wait_ms: u32,
) -> Result<(), DropReason> {
    if !acceptable(s, seg) {
        if !seg.rst() {
            s.set(flag::ACK_NOW, true);
            if s.state == TcpState::TimeWait && seg.fin() {
                // A retransmitted FIN: ACK again and restart 2MSL.
                s.timer = now.wrapping_add(time_wait_ms);
            }
        }
        return Err(DropReason::TcpOutOfWindow);
    }
    s.last_rx = now;
    if let Some(ts) = seg.repr.timestamp {
        if s.has(flag::TS_OK)
            && seg.seq() <= s.rcv_nxt
            && ts.tsval.wrapping_sub(s.ts_recent) as i32 >= 0
        {
            s.ts_recent = ts.tsval;
        }
    }
    Ok(())
}

/// Step 2 (RFC 5961 §3.2): a RST exactly at RCV.NXT resets; elsewhere in
/// the window it draws a challenge ACK.
fn reset_arrives<O: TcpOwner>(
    s: &mut TcpSocket,
    owner: &mut O,
    handle: TcpHandle,
    seg: &Segment,
) -> Result<(), DropReason> {
    if seg.seq() != s.rcv_nxt {
        s.set(flag::ACK_NOW, true);
        return Err(DropReason::TcpOutOfWindow);
    }
    // A passive open that never completed was never reported.
    let passive_open = s.state == TcpState::SynReceived && s.has(flag::RELISTEN);
    recycle(s);
    if !passive_open {
        owner.tcp_event(handle, TcpEvent::Reset);
    }
    Ok(())
}

/// The ACK of our SYN-ACK: the connection is established; any other ACK
/// is answered with RST. (Always inlined: one caller; LLVM kept it apart,
/// 28 B larger.)
#[inline(always)]
fn complete_handshake<N: Nic, O: TcpOwner>(
    io: &mut Io<'_, N>,
    s: &mut TcpSocket,
    owner: &mut O,
    handle: TcpHandle,
    seg: &Segment,
    ack: SeqNumber,
) -> Result<(), DropReason> {
    if !(s.snd_una < ack && ack <= s.snd_max()) {
        reset_for(io, seg);
        return Err(DropReason::TcpOutOfWindow);
    }
    s.state = TcpState::Established;
    let remote = Endpoint::new(s.remote_ip, s.remote_port);
    owner.tcp_event(handle, TcpEvent::Connected { remote });
    Ok(())
}

/// Step 5: the ACK field. Out of range (RFC 5961 §5.2: SND.UNA −
/// MAX.SND.WND ≤ SEG.ACK ≤ SND.NXT; without window scaling no peer window
/// exceeds 65535, which stands in for MAX.SND.WND): challenge ACK and
/// drop. Else the send window, new acknowledgements, duplicate ACKs (RFC
/// 5681 §3.2, the third resends) and a reopened zero window.
#[allow(clippy::too_many_arguments)]
fn ack_arrives<O: TcpOwner>(
    s: &mut TcpSocket,
    records: &mut [super::SentSegment],
    config: &super::TcpConfig,
    owner: &mut O,
    handle: TcpHandle,
    seg: &Segment,
    ack: SeqNumber,
    now: u32,
) -> Result<(), DropReason> {
    if ack > s.snd_max() || ack < s.snd_una.sub_len(usize::from(u16::MAX)) {
        s.set(flag::ACK_NOW, true);
        return Err(DropReason::TcpOutOfWindow);
    }
    let window_changed = seg.repr.window_len != s.snd_wnd;
    let window_opened = s.snd_wnd == 0 && seg.repr.window_len > 0 && ack >= s.snd_una;
    if ack >= s.snd_una {
        s.snd_wnd = seg.repr.window_len;
    }
    if s.snd_una < ack {
        let echoed = seg.repr.timestamp.map(|ts| ts.tsecr);
        acknowledge(s, records, config, owner, handle, ack, now, echoed);
    } else if ack == s.snd_una && seg.repr.window_len == 0 {
        // A zero-window probe answered: the peer is alive, so probing
        // never gives up (RFC 1122 §4.2.2.17); not a duplicate ACK.
        s.retries = 0;
    } else if ack == s.snd_una
        && seg.repr.payload_len == 0
        && !seg.fin()
        && !window_changed
        && s.in_flight() > 0
    {
        let dupacks = s.dupack();
        if dupacks == 3 {
            s.set_snd_nxt(s.snd_una);
            s.set(flag::TIMING, false);
            let offset = s.offset_of(s.snd_una);
            owner.tcp_event(handle, TcpEvent::Retransmit { offset });
        }
    }
    if window_opened && s.snd_una < s.snd_nxt() {
        // The window opened without the probe being taken: resend from
        // SND.UNA now rather than leave a hole until the backed-off RTO.
        s.set_snd_nxt(s.snd_una);
        s.set(flag::TIMING, false);
    }
    Ok(())
}

/// The state changes an acknowledged FIN of ours makes; false when the
/// connection ended (LAST-ACK) and the socket is free. (Always inlined:
/// one caller.)
#[inline(always)]
fn our_fin_acked<O: TcpOwner>(
    s: &mut TcpSocket,
    owner: &mut O,
    handle: TcpHandle,
    seg: &Segment,
    now: u32,
    time_wait_ms: u32,
) -> bool {
    let fin_acked = s.has(flag::FIN_SENT) && s.snd_una == s.snd_max();
    match s.state {
        TcpState::FinWait1 if fin_acked => s.state = TcpState::FinWait2,
        TcpState::Closing if fin_acked => enter_time_wait(s, time_wait_ms, now),
        TcpState::LastAck if fin_acked => {
            recycle(s);
            owner.tcp_event(handle, TcpEvent::Closed);
            return false;
        }
        TcpState::TimeWait if seg.fin() => {
            s.set(flag::ACK_NOW, true);
            s.timer = now.wrapping_add(time_wait_ms);
        }
        _ => {}
    }
    true
}

/// Step 8: the peer's FIN, taken once everything before it was; an ACK
/// says where we are even when it cannot be taken yet (a gap, data left),
/// as for out-of-order data (RFC 5681 §4.2). (Always inlined: one caller;
/// LLVM kept it apart, 60 B larger.)
#[inline(always)]
fn fin_arrives<O: TcpOwner>(
    s: &mut TcpSocket,
    owner: &mut O,
    handle: TcpHandle,
    seg: &Segment,
    all_data_taken: bool,
    now: u32,
    time_wait_ms: u32,
) {
    if s.state.can_receive() {
        s.set(flag::ACK_NOW, true);
    }
    if !all_data_taken || s.rcv_nxt != seg.seq().add(seg.repr.payload_len) {
        return;
    }
    s.rcv_nxt = s.rcv_nxt.add(1);
    s.set(flag::ACK_NOW | flag::PEER_FIN, true);
    let fin_acked = s.has(flag::FIN_SENT) && s.snd_una == s.snd_max();
    match s.state {
        TcpState::SynReceived | TcpState::Established => s.state = TcpState::CloseWait,
        TcpState::FinWait1 if fin_acked => enter_time_wait(s, time_wait_ms, now),
        TcpState::FinWait1 => s.state = TcpState::Closing,
        TcpState::FinWait2 => enter_time_wait(s, time_wait_ms, now),
        _ => return,
    }
    owner.tcp_event(handle, TcpEvent::PeerClosed);
}

/// Whether a SYN for a connection in TIME-WAIT starts a new one: its
/// timestamp is newer than the last one seen (RFC 6191 §2), or, without
/// timestamps, its sequence number lies beyond the old connection's
/// (RFC 1122 §4.2.2.13).
fn new_incarnation(s: &TcpSocket, seg: &Segment) -> bool {
    match (s.has(flag::TS_OK), seg.repr.timestamp) {
        (true, Some(ts)) => ts.tsval.wrapping_sub(s.ts_recent) as i32 > 0,
        _ => seg.seq() > s.rcv_nxt,
    }
}

fn enter_time_wait(s: &mut TcpSocket, time_wait_ms: u32, now: u32) {
    s.state = TcpState::TimeWait;
    s.timer = now.wrapping_add(time_wait_ms);
    s.set(flag::TIMER, true);
}

/// A new cumulative ACK: release `records` (the socket's), time the RTT,
/// rearm the timer. (Inlined into its one caller: out of line measured
/// smaller in the second session, 72 B larger on today's tree.)
#[allow(clippy::too_many_arguments)]
fn acknowledge<O: TcpOwner>(
    s: &mut TcpSocket,
    records: &mut [super::SentSegment],
    cfg: &super::TcpConfig,
    owner: &mut O,
    handle: TcpHandle,
    ack: SeqNumber,
    now: u32,
    echoed: Option<u32>,
) {
    // Data bytes newly acknowledged (SYN and FIN occupy one number each).
    let data_start = s.snd_una.max(s.snd_base);
    let fin_seq = s.snd_max().sub_len(1);
    let data_end = if s.has(flag::FIN_SENT) && ack > fin_seq {
        fin_seq
    } else {
        ack
    };
    let mut acked_data = if data_end > data_start {
        data_end.distance(data_start)
    } else {
        0
    };
    s.set_snd_una(ack);
    s.retries = 0;
    s.flags &= !flag::DUPACKS;
    match echoed {
        // RFC 7323 §4.1 (RTTM): our own clock echoed back times every ACK
        // of new data, retransmitted or not, so a backed-off RTO recovers
        // as soon as one segment gets through (Karn's rule has no sample).
        Some(tsecr) if s.has(flag::TS_OK) && tsecr != 0 => {
            s.set(flag::TIMING, false);
            rtt_sample(s, now.wrapping_sub(tsecr), cfg);
        }
        _ => {
            if s.has(flag::TIMING) && s.acks_timed(ack) {
                s.set(flag::TIMING, false);
                rtt_sample(s, s.timed_rtt(now), cfg);
            }
        }
    }
    let all_acked = s.snd_una == s.snd_max();
    s.set(flag::TIMER, !all_acked);
    if !all_acked {
        s.timer = now.wrapping_add(u32::from(s.rto_ms));
    }
    let offset = s.offset_of(data_end.max(s.snd_base));
    let had_data = acked_data > 0;
    // Pop whole records, trim a partly acknowledged one.
    while acked_data > 0 {
        let Some(front) = records.first_mut() else {
            break;
        };
        let len = usize::from(front.len);
        if len == 0 {
            break;
        }
        if acked_data >= len {
            // Bounded: `acked_data >= len` (just checked).
            acked_data = acked_data.wrapping_sub(len);
            // Each record one place forward, the popped one zeroed at
            // the end: swaps, as `rotate_left` would link `memmove`.
            *front = super::SentSegment::default();
            let mut rest = records.iter_mut();
            if let Some(mut prev) = rest.next() {
                for r in rest {
                    core::mem::swap(prev, r);
                    prev = r;
                }
            }
        } else {
            // Bounded: `acked_data < len` here.
            front.trim_to(u16::try_from(len.wrapping_sub(acked_data)).unwrap_or(0));
            acked_data = 0;
        }
    }
    if had_data {
        owner.tcp_event(handle, TcpEvent::Acked { offset });
    }
}

/// RFC 6298 §2.2–2.3 in Van Jacobson's fixed point (srtt ×8, rttvar ×4).
pub(crate) fn rtt_sample(s: &mut TcpSocket, r_ms: u32, cfg: &super::TcpConfig) {
    let r = r_ms.min(60_000);
    let (srtt8, rttvar4) = if s.srtt8 == 0 {
        (r.saturating_mul(8), r.saturating_mul(2))
    } else {
        let srtt8 = u32::from(s.srtt8);
        let rttvar4 = u32::from(s.rttvar4);
        let err = r.abs_diff(srtt8 / 8);
        let rttvar4 = rttvar4.saturating_sub(rttvar4 / 4).saturating_add(err);
        let srtt8 = srtt8.saturating_sub(srtt8 / 8).saturating_add(r);
        (srtt8, rttvar4)
    };
    s.srtt8 = srtt8.min(u32::from(u16::MAX)) as u16;
    s.rttvar4 = rttvar4.min(u32::from(u16::MAX)) as u16;
    // RTO = SRTT + max(G, 4·RTTVAR), G = 1 ms here.
    let rto = (srtt8 / 8).saturating_add(rttvar4.max(1));
    s.rto_ms = rto
        .clamp(cfg.rto_min_ms, cfg.rto_max_ms.max(cfg.rto_min_ms))
        .min(u32::from(u16::MAX)) as u16;
}

/// Hands in-order data to the owner; true when it took all of it.
/// (Always inlined: one caller, on the receive path; LLVM kept it apart.)
#[inline(always)]
fn deliver<N: Nic, O: TcpOwner>(
    io: &mut Io<'_, N>,
    s: &mut TcpSocket,
    owner: &mut O,
    handle: TcpHandle,
    seg: &Segment,
) -> bool {
    s.set(flag::ACK_NOW, true);
    let seq = seg.seq();
    if seq > s.rcv_nxt {
        // A gap: nowhere to keep it. The duplicate ACK asks for the gap.
        return false;
    }
    let skip = s.rcv_nxt.distance(seq);
    let len = seg.repr.payload_len;
    if skip >= len {
        return true; // all old
    }
    // Bounded: `skip < len` (checked above), and the payload lies inside
    // the received frame (at most 1,514 bytes).
    let new = len.wrapping_sub(skip);
    let fresh = new.min(usize::from(s.rcv_wnd));
    let mut reader = TcpReader {
        nic: &mut *io.nic,
        offset: seg.payload_offset.wrapping_add(skip),
        len: fresh,
    };
    let taken = owner.tcp_received(handle, &mut reader).min(fresh);
    s.rcv_nxt = s.rcv_nxt.add(taken);
    // What remains of the window we promised (output may extend it).
    let taken16 = u16::try_from(taken).unwrap_or(u16::MAX);
    s.rcv_wnd = s.rcv_wnd.saturating_sub(taken16);
    taken == new
}
