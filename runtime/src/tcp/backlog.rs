//! Busy ports: which socket a SYN takes when every listening socket of its
//! port has a connection, and the one SYN remembered until a socket frees
//! (the policy is in the module docs of [`tcp`](super), "Busy ports").

use super::input::{open, reset_for, Segment};
use super::{due, flag, recycle, tick, PendingSyn, TcpEvent, TcpHandle, TcpOwner, TcpState};
use super::{TcpTables, WhenFull, PENDING_SYN_MS};
use crate::iface::{DropReason, Io};
use crate::nic::Nic;
use crate::udp::Endpoint;

/// A SYN found no listening socket on a port that has server sockets:
/// recycle or reclaim one for it, or remember it. A remembered SYN of the
/// same port goes first: it takes the socket and the new one waits in its
/// place (first come, first served). `Err` is what the caller counts (the
/// SYN was not answered now).
pub(crate) fn syn_to_busy_port<N: Nic, O: TcpOwner>(
    io: &mut Io<'_, N>,
    t: &mut TcpTables<'_>,
    owner: &mut O,
    seg: &Segment,
) -> Result<(), DropReason> {
    let now = tick(io.now);
    let syn = PendingSyn::of(seg, now);
    let old = t.shared.pending;
    let earlier = old
        .filter(|p| p.dst_port == syn.dst_port && !p.same_client(&syn) && !due(now, p.expires()));
    if let Some(i) = take_socket(io, t, owner, syn.dst_port) {
        let _ = open(
            io,
            t,
            owner,
            i,
            earlier.as_ref().unwrap_or(&syn),
            seg.dst_ip,
        );
        if earlier.is_none() {
            return Ok(());
        }
    } else if t.config.when_full == WhenFull::Reset {
        reset_for(io, seg);
        return Err(DropReason::TcpNoSocket);
    }
    // The newest client waits (an older one still waiting retries its SYN).
    t.shared.pending = Some(syn);
    if !old.is_some_and(|p| p.same_client(&syn)) {
        contend(t, owner, syn.dst_port, now);
    }
    Err(DropReason::TcpNoSocket)
}

impl PendingSyn {
    /// What a passive open needs of `seg`, arrived at `now` (out of line:
    /// two callers).
    #[inline(never)]
    pub(crate) fn of(seg: &Segment, now: u32) -> PendingSyn {
        PendingSyn {
            src_ip: seg.src_ip,
            src_mac: seg.src_mac,
            src_port: seg.repr.src_port,
            dst_port: seg.repr.dst_port,
            seq: seg.repr.seq_number,
            window: seg.repr.window_len,
            mss: seg.repr.max_seg_size.unwrap_or(0),
            tsval: seg.repr.timestamp.map_or(0, |ts| ts.tsval),
            has_ts: seg.repr.timestamp.is_some(),
            at: now,
        }
    }

    /// Its sender.
    pub(crate) fn remote(&self) -> Endpoint {
        Endpoint::new(self.src_ip, self.src_port)
    }

    /// A retry of the same connection attempt.
    fn same_client(&self, other: &PendingSyn) -> bool {
        (self.src_ip, self.src_port, self.dst_port)
            == (other.src_ip, other.src_port, other.dst_port)
    }

    /// When it is forgotten: its peer has stopped retrying.
    pub(crate) fn expires(&self) -> u32 {
        self.at.wrapping_add(PENDING_SYN_MS)
    }
}

/// Takes the pending SYN to a socket of its port if one is free now;
/// forgets it once its peer has stopped retrying. Called at every poll.
pub(crate) fn serve_pending<N: Nic, O: TcpOwner>(
    io: &mut Io<'_, N>,
    t: &mut TcpTables<'_>,
    owner: &mut O,
) {
    let Some(p) = t.shared.pending else {
        return;
    };
    // Without an address (lost meanwhile) nothing could answer it.
    let Some(ours) = io.address() else {
        t.shared.pending = None;
        return;
    };
    if due(tick(io.now), p.expires()) {
        t.shared.pending = None;
        return;
    }
    let Some(i) = take_socket(io, t, owner, p.dst_port) else {
        return;
    };
    t.shared.pending = None;
    let _ = open(io, t, owner, i, &p, ours);
}

/// A server socket of `port` that a new connection may take now, made
/// ready for [`open`]: a listening one, else the longest in TIME-WAIT,
/// else the oldest
/// half-open one whose SYN-ACK went unanswered for `rto_min_ms` (a real
/// client answers within a round trip; one that has not is likely a
/// spoofed SYN's), else the connection idle longest if idle for
/// `reclaim_idle_ms` (reset, its owner told [`TcpEvent::Reclaimed`]).
#[inline(never)]
fn take_socket<N: Nic, O: TcpOwner>(
    io: &mut Io<'_, N>,
    t: &mut TcpTables<'_>,
    owner: &mut O,
    port: u16,
) -> Option<usize> {
    let (i, kind) = pick(t.sockets, t.config, port, tick(io.now))?;
    let handle = TcpHandle(u8::try_from(i).ok()?);
    let s = t.sockets.get_mut(i)?;
    match kind {
        // A listening socket is ready as it is.
        0 => {}
        1 => {
            recycle(s);
            owner.tcp_event(handle, TcpEvent::Closed);
        }
        // A half-open connection was never reported to its owner.
        2 => recycle(s),
        _ => {
            super::output::give_up(io, s);
            owner.tcp_event(handle, TcpEvent::Reclaimed);
        }
    }
    Some(i)
}

/// The socket [`take_socket`] takes and [`rank`]'s kind for it: the
/// lowest kind, then the longest-takeable within it; the first on a tie.
/// (Inlined into its one caller; apart for its unit test.)
#[inline(always)]
fn pick(
    sockets: &[super::TcpSocket],
    cfg: &super::TcpConfig,
    port: u16,
    now: u32,
) -> Option<(usize, u8)> {
    // The largest (4 - kind, age) as one 64-bit key (`age >= 0` here).
    let mut best: Option<(usize, u8)> = None;
    let mut best_key = 0u64;
    for (i, s) in sockets.iter().enumerate() {
        if s.local_port != port || !s.has(flag::RELISTEN) {
            continue;
        }
        let Some((kind, age)) = rank(s, cfg, now) else {
            continue;
        };
        let key = u64::from(4u8.saturating_sub(kind)) << 32 | u64::from(age as u32);
        if age >= 0 && key > best_key {
            (best, best_key) = (Some((i, kind)), key);
        }
    }
    best
}

/// Which way a server socket could be taken, and for how long it has been
/// takeable (negative: not yet, it will be in that many ms). Lower kinds
/// go first, then the longest-takeable within a kind.
fn rank(s: &super::TcpSocket, cfg: &super::TcpConfig, now: u32) -> Option<(u8, i32)> {
    let since = |t: u32| now.wrapping_sub(t) as i32;
    let idle = s.last_rx;
    match s.state {
        // A listener (a remembered SYN's port may have one again): the
        // first of them.
        TcpState::Listen => Some((0, 0)),
        // The timer holds TIME-WAIT's end: the earliest end is oldest. Not
        // before the ACK of the peer's FIN has gone out.
        TcpState::TimeWait if !s.has(flag::ACK_NOW) => {
            Some((1, since(s.timer).saturating_add(i32::MAX / 2)))
        }
        TcpState::SynReceived => Some((2, since(idle.wrapping_add(cfg.rto_min_ms)))),
        st if st.is_connected() && cfg.reclaim_idle_ms > 0 => {
            Some((3, since(idle.wrapping_add(cfg.reclaim_idle_ms))))
        }
        _ => None,
    }
}

/// While a SYN is pending: when a socket of its port becomes takeable
/// (a half-open one going stale, an idle one reaching `reclaim_idle_ms`)
/// or the pending SYN expires, whichever is first. Frees of sockets come
/// with frames or the sockets' own timers, which wake the stack anyway.
pub(crate) fn poll_at(
    t_pending: Option<PendingSyn>,
    sockets: &[super::TcpSocket],
    cfg: &super::TcpConfig,
    now: u32,
) -> Option<u32> {
    let p = t_pending?;
    let expiry = p.expires().wrapping_sub(now) as i32;
    let soonest = sockets
        .iter()
        .filter(|s| s.local_port == p.dst_port && s.has(flag::RELISTEN))
        .filter_map(|s| rank(s, cfg, now))
        .map(|(_, age)| age.saturating_neg())
        .fold(expiry, i32::min);
    Some(now.wrapping_add(soonest.max(0) as u32))
}

/// Tells the owner of `port`'s quietest connection that a client waits.
fn contend<O: TcpOwner>(t: &mut TcpTables<'_>, owner: &mut O, port: u16, now: u32) {
    // The longest since it heard from its peer; the last on a tie.
    let mut quietest: Option<(usize, u32)> = None;
    for (i, s) in t.sockets.iter().enumerate() {
        let open = matches!(s.state, TcpState::Established | TcpState::CloseWait);
        if s.local_port != port || !s.has(flag::RELISTEN) || !open {
            continue;
        }
        let quiet = now.wrapping_sub(s.last_rx);
        if quietest.is_none_or(|(_, q)| quiet >= q) {
            quietest = Some((i, quiet));
        }
    }
    if let Some(handle) = quietest.and_then(|(i, _)| u8::try_from(i).ok().map(TcpHandle)) {
        owner.tcp_event(handle, TcpEvent::Contended);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{flag, TcpConfig, TcpSocket, TcpState};
    use super::pick;

    const PORT: u16 = 80;

    /// A server socket of `PORT` in `state`, last heard from at `last_rx`
    /// (for TIME-WAIT: ending at `last_rx`).
    fn socket(state: TcpState, last_rx: u32) -> TcpSocket {
        TcpSocket {
            state,
            flags: flag::RELISTEN,
            local_port: PORT,
            last_rx,
            timer: last_rx,
            ..TcpSocket::default()
        }
    }

    #[test]
    fn a_syn_takes_a_listener_then_time_wait_then_the_stalest_half_open_then_the_idlest() {
        let cfg = TcpConfig {
            rto_min_ms: 200,
            reclaim_idle_ms: 1_000,
            ..TcpConfig::DEFAULT
        };
        let now = 10_000;
        let idle = socket(TcpState::Established, now - 5_000);
        let idler = socket(TcpState::Established, now - 6_000);
        let half = socket(TcpState::SynReceived, now - 300);
        let fresh_half = socket(TcpState::SynReceived, now - 100);
        let busy = socket(TcpState::Established, now - 10);
        let wait = socket(TcpState::TimeWait, now + 500);
        let older_wait = socket(TcpState::TimeWait, now + 400);
        let pick = |s: &[TcpSocket]| pick(s, &cfg, PORT, now);
        // Idle ones: the idlest; the first of two alike.
        assert_eq!(pick(&[busy, idle, idler, idle]), Some((2, 3)));
        assert_eq!(pick(&[busy, idle, idle]), Some((1, 3)));
        // A stale half-open one before any idle one; a fresh one is not
        // takeable yet.
        assert_eq!(pick(&[idler, fresh_half, half]), Some((2, 2)));
        assert_eq!(pick(&[fresh_half, busy]), None);
        // TIME-WAIT before all: the one ending first.
        assert_eq!(pick(&[half, wait, idler, older_wait]), Some((3, 1)));
        // A listener (the first) before all, taken as it is.
        let listener = socket(TcpState::Listen, 0);
        assert_eq!(pick(&[wait, listener, listener]), Some((1, 0)));
        // Another port's, or a client socket, is never taken.
        let client = TcpSocket { flags: 0, ..wait };
        let other = TcpSocket {
            local_port: PORT + 1,
            ..wait
        };
        assert_eq!(pick(&[client, other]), None);
    }
}
