//! The server: per-connection state and the TCP callbacks the application
//! forwards.

use super::features::{AllFeatures, HttpFeatures};
use super::form::{FieldDec, Step};
use super::multipart::{MpOut, Multipart};
use super::request::{deliver_field, rf, Authority, Head, Req};
use super::response::{pf, Framing, Kind, Resp};
use super::rom::{Body, HttpSettings, Site};
use super::{HttpApp, HttpEvent, Incoming, Input, Method, ResetReason};
use crate::config::Config;
use crate::iface::PayloadSink;
use crate::nic::Nic;
use crate::tcp::{due, tick, TcpError, TcpEvent, TcpHandle};
use crate::{Instant, Stack};
use core::marker::PhantomData;

/// What the connection is reading.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Rx {
    /// Not connected.
    #[default]
    Free,
    /// Between requests.
    Idle,
    /// A request head.
    Head(Head),
    /// An urlencoded body.
    Form(FieldDec),
    /// A multipart body.
    Multipart(Multipart),
    /// The request is complete; its response is going out.
    Done,
    /// Closing: whatever arrives is taken and dropped.
    Drain,
}

/// [`Conn::flags`].
mod cf {
    /// The peer sent FIN.
    pub const PEER_CLOSED: u8 = 1 << 0;
    /// End the stream (FIN) once the response, if any, is produced.
    pub const CLOSING: u8 = 1 << 1;
    /// A new client waits for a socket (`TcpEvent::Contended`): this
    /// connection closes after its current (or next) response, and a slow
    /// reader no longer extends its response's deadline.
    pub const CONTENDED: u8 = 1 << 2;
    /// A response was completed: between requests the connection is an
    /// idle keep-alive one, which closes at once when contended (a fresh
    /// connection's first request is on its way).
    pub const SERVED: u8 = 1 << 3;
}

/// One connection: its socket, request and response state, and its
/// buffer (path, form field, multipart boundary and part headers while
/// reading; the tag journal while answering).
#[derive(Clone, Debug)]
struct Conn<const B: usize, F> {
    socket: Option<TcpHandle>,
    rx: Rx,
    req: Req,
    resp: Resp,
    /// Body bytes still to come.
    body_left: u32,
    /// Stream offset where the next response starts.
    next: u32,
    /// Last stream offset acknowledged (0 when connected: `reset`).
    acked: u32,
    /// Deadline of the current phase (ms tick).
    deadline: u32,
    /// Retransmissions since the last acknowledgement that extended the
    /// deadline (at most `MAX_RESEND_GRACE`).
    resends: u8,
    flags: u8,
    buf: [u8; B],
    /// The server's features (a type: see [`HttpFeatures`]).
    features: PhantomData<fn() -> F>,
}

impl<const B: usize, F: HttpFeatures> Conn<B, F> {
    const NEW: Conn<B, F> = Conn {
        socket: None,
        rx: Rx::Free,
        req: Req {
            method: None,
            minor: 0,
            flags: 0,
            file: None,
            content_length: None,
            form: None,
            dlen: 0,
            plen: 0,
            status: 0,
            host: Authority::ABSENT,
            source: Authority::ABSENT,
        },
        resp: Resp {
            kind: Kind::None,
            status: 0,
            flags: 0,
            framing: Framing::Length,
            start: 0,
            head_len: 0,
            end: None,
            body_len: 0,
            item: 0,
            pos: 0,
            jlen: 0,
            sum: 0,
        },
        body_left: 0,
        next: 0,
        acked: 0,
        deadline: 0,
        resends: 0,
        flags: 0,
        buf: [0; B],
        features: PhantomData,
    };

    fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    /// Back to "not connected", keeping the socket. `NEW` is all zeros
    /// but for the socket (`Method` counts from 1, so no request is zero;
    /// the other enums' defaults are their first variants: the unit test
    /// `reset_is_new`), so the whole-struct store is one memset: a field by
    /// field reset was 100 bytes larger (and, before `Method` counted from
    /// 1, this store copied a 316-byte image of `NEW` kept in flash).
    /// (Not inlined: several callers.)
    #[inline(never)]
    fn reset(&mut self) {
        let socket = self.socket;
        *self = Self::NEW;
        self.socket = socket;
    }

    /// The response is wholly produced and acknowledged.
    fn response_done(&self, acked: u32) -> bool {
        self.resp
            .end
            .is_some_and(|end| acked.wrapping_sub(self.resp.start) >= end)
            && self.resp.kind != Kind::Pending
    }
}

/// The HTTP server for `N` connections with `B`-byte buffers and the
/// optional features `F` (all from `[http]`; codegen emits the
/// `web::HttpServer` alias, with `web::Features` for `F`).
///
/// The generated `Services` holds it when `[http]` is on: it calls
/// [`listen`](Self::listen), [`poll`](Self::poll) (timeouts) and routes
/// the TCP callbacks of the sockets it [`owns`](Self::owns) here (see
/// [`compose`](crate::compose)). An application that drives the stack
/// itself does the same from its [`App`](crate::App).
pub struct HttpServer<const N: usize, const B: usize, F: HttpFeatures = AllFeatures> {
    site: &'static Site,
    settings: &'static HttpSettings,
    conns: [Conn<B, F>; N],
    now: Instant,
}

impl<const N: usize, const B: usize, F: HttpFeatures> HttpServer<N, B, F> {
    /// Connections at once (`[http] sockets`).
    pub const CONNECTIONS: usize = N;
    /// Bytes of buffer per connection (`[http] buffer`).
    pub const BUFFER: usize = B;

    /// A server for `site` (no sockets open yet).
    pub const fn new(site: &'static Site, settings: &'static HttpSettings) -> Self {
        HttpServer {
            site,
            settings,
            conns: [Conn::NEW; N],
            now: Instant::from_millis(0),
        }
    }

    /// The site served.
    pub fn site(&self) -> &'static Site {
        self.site
    }

    /// The settings.
    pub fn settings(&self) -> &'static HttpSettings {
        self.settings
    }

    /// Opens the `N` listening sockets on `[http] port`.
    pub fn listen<C: Config>(&mut self, stack: &mut Stack<C>) -> Result<(), TcpError> {
        for c in self.conns.iter_mut().filter(|c| c.socket.is_none()) {
            c.socket = Some(stack.tcp_listen(self.settings.port)?);
        }
        Ok(())
    }

    /// Whether `socket` is one of the server's.
    pub fn owns(&self, socket: TcpHandle) -> bool {
        self.index(socket).is_some()
    }

    /// The connection serving `socket`, when it is one of the server's:
    /// the composition asks once per callback and hands it to the
    /// `slot_*` forms of the callbacks, which then need not look for it
    /// again (the `tcp_*` forms ask themselves).
    pub fn slot(&self, socket: TcpHandle) -> Option<ConnSlot> {
        self.index(socket).map(ConnSlot)
    }

    /// Whether a response is being sent (not yet wholly acknowledged): an
    /// application waits for this before changing the address.
    pub fn responding(&self) -> bool {
        self.conns.iter().any(|c| {
            matches!(c.rx, Rx::Done) || (matches!(c.rx, Rx::Drain) && c.resp.kind != Kind::None)
        })
    }

    /// Connections with a client now.
    pub fn connections(&self) -> usize {
        self.conns
            .iter()
            .filter(|c| !matches!(c.rx, Rx::Free))
            .count()
    }

    /// Test hook: serve `socket` in connection slot `i` (no stack).
    #[cfg(test)]
    pub(crate) fn adopt(&mut self, i: usize, socket: TcpHandle) {
        if let Some(c) = self.conns.get_mut(i) {
            c.socket = Some(socket);
        }
    }

    /// Test hook: advance the clock without a stack.
    #[cfg(test)]
    pub(crate) fn set_now(&mut self, now: Instant) {
        self.now = now;
    }

    /// The connection slot serving `socket`. (Not inlined: every TCP
    /// callback asks, twice with the composition's `owns`.)
    #[inline(never)]
    fn index(&self, socket: TcpHandle) -> Option<usize> {
        self.conns.iter().position(|c| c.socket == Some(socket))
    }

    /// The forms (bit = form id) that connections are in the middle of:
    /// begun, not yet ended or aborted. Only a request head asks, when it
    /// looks its path up; its own request has begun no form before that,
    /// and a connection's next request starts (fresh) only after its
    /// response was acknowledged, which no single `tcp_received` sees:
    /// so the asking connection's own bit is never set and it need not
    /// be left out.
    fn forms_in_use(&self) -> u32 {
        self.conns
            .iter()
            .filter_map(|c| c.req.form)
            .fold(0, |m, f| m | 1u32.checked_shl(u32::from(f.0)).unwrap_or(0))
    }

    /// Forward of [`App::tcp_event`](crate::App::tcp_event).
    pub fn tcp_event<A: HttpApp>(&mut self, socket: TcpHandle, event: TcpEvent, app: &mut A) {
        if let Some(slot) = self.slot(socket) {
            self.slot_event(slot, socket, event, app);
        }
    }

    /// [`tcp_event`](Self::tcp_event) for the connection `slot` (of
    /// `socket`).
    pub fn slot_event<A: HttpApp>(
        &mut self,
        slot: ConnSlot,
        socket: TcpHandle,
        event: TcpEvent,
        app: &mut A,
    ) {
        let i = slot.0;
        let now = tick(self.now);
        let (site, settings) = (self.site, self.settings);
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        match event {
            TcpEvent::Connected { .. } => {
                // A free connection is `NEW` already: every way to `Free`
                // is `reset`, and no event or poll touches a free one (a
                // connected socket's events come after its `Connected`).
                // So only a connection that was never told its last one
                // ended is reset here: the memset of the whole connection
                // (~140 instructions) once per connection, not twice.
                if !matches!(c.rx, Rx::Free) {
                    c.reset();
                }
                c.rx = Rx::Idle;
                c.deadline = now.wrapping_add(settings.idle_timeout_ms);
            }
            TcpEvent::Acked { offset } => {
                c.acked = offset;
                c.resends = 0;
                let rel = offset.wrapping_sub(c.resp.start);
                c.resp.acked::<F>(rel, site, &mut c.buf);
                if matches!(c.rx, Rx::Done | Rx::Drain) && !c.has(cf::CONTENDED) {
                    // Progress: the peer is reading. (Not while another
                    // client waits: then `idle_timeout` bounds the whole
                    // rest of the response, however slowly it is read.)
                    c.deadline = now.wrapping_add(settings.idle_timeout_ms);
                }
                finish_if_done(c, offset, now, settings);
            }
            TcpEvent::Retransmit { .. }
                if matches!(c.rx, Rx::Done | Rx::Drain)
                    && c.resends < MAX_RESEND_GRACE
                    && !c.has(cf::CONTENDED) =>
            {
                // Probably loss, not a stalled reader: a few resends extend
                // the deadline. A peer that stops reading (zero window)
                // draws endless probes, so the grace is bounded.
                // Bounded: below `MAX_RESEND_GRACE` (the guard).
                c.resends = c.resends.wrapping_add(1);
                c.deadline = now.wrapping_add(settings.idle_timeout_ms);
            }
            TcpEvent::PeerClosed => {
                c.flags |= cf::PEER_CLOSED;
                match c.rx {
                    Rx::Idle => c.flags |= cf::CLOSING,
                    Rx::Done | Rx::Drain => c.flags |= cf::CLOSING,
                    Rx::Head(_) | Rx::Form(_) | Rx::Multipart(_) => {
                        // The request can never complete.
                        fail_at(c, 400, socket, site, settings, app, now);
                    }
                    Rx::Free => {}
                }
            }
            TcpEvent::Contended => {
                // Idle after a response: FIN now; answering, reading a
                // request or fresh: FIN after the (next) response. The
                // response still says keep-alive (it may be under way): a
                // server may close a persistent connection between
                // responses (RFC 9112 §9.6), and clients retry a request
                // that crossed the FIN on a new connection.
                // (Closing drains: a request that crosses our FIN is taken
                // and dropped, so the peer's FIN behind it gets through.)
                c.flags |= cf::CONTENDED;
                let idle_served = F::KEEP_ALIVE && matches!(c.rx, Rx::Idle) && c.has(cf::SERVED);
                if idle_served || matches!(c.rx, Rx::Done) {
                    close_after(c);
                }
            }
            TcpEvent::Closed
            | TcpEvent::Reset
            | TcpEvent::Reclaimed
            | TcpEvent::TimedOut
            | TcpEvent::RegenerationMismatch { .. } => {
                abort_input(c, app);
                c.reset();
            }
            TcpEvent::Retransmit { .. } => {}
        }
    }

    /// Forward of [`App::tcp_received`](crate::App::tcp_received):
    /// returns the bytes taken.
    pub fn tcp_received<I: Incoming, A: HttpApp>(
        &mut self,
        socket: TcpHandle,
        data: &mut I,
        app: &mut A,
    ) -> usize {
        match self.slot(socket) {
            Some(slot) => self.slot_received(slot, socket, data, app),
            None => data.len(),
        }
    }

    /// [`tcp_received`](Self::tcp_received) for the connection `slot`
    /// (of `socket`).
    pub fn slot_received<I: Incoming, A: HttpApp>(
        &mut self,
        slot: ConnSlot,
        socket: TcpHandle,
        data: &mut I,
        app: &mut A,
    ) -> usize {
        let i = slot.0;
        let now = tick(self.now);
        let (site, settings) = (self.site, self.settings);
        let busy = self.forms_in_use();
        let Some(c) = self.conns.get_mut(i) else {
            return data.len();
        };
        let mut taken = 0usize;
        while taken < data.len() {
            if matches!(c.rx, Rx::Drain) || matches!(c.rx, Rx::Free) {
                return data.len();
            }
            let used = if let Some(bytes) = data.peek(taken) {
                consume(c, bytes, socket, site, settings, app, now, busy)
            } else {
                // Zeroed here, where a NIC that cannot lend its bytes
                // needs it, not on every call (128 bytes cleared per
                // segment on the path that peeks).
                let mut chunk = [0u8; 128];
                let n = data.read(taken, &mut chunk);
                let Some(bytes) = chunk.get(..n) else { break };
                if n == 0 {
                    break;
                }
                consume(c, bytes, socket, site, settings, app, now, busy)
            };
            // Bounded: `used` is at most what is left of `data`.
            taken = taken.wrapping_add(used);
            if used == 0 {
                break;
            }
        }
        taken
    }

    /// Forward of [`App::tcp_produce`](crate::App::tcp_produce).
    pub fn tcp_produce<A: HttpApp>(
        &mut self,
        socket: TcpHandle,
        offset: u32,
        max: usize,
        sink: &mut dyn PayloadSink,
        app: &mut A,
    ) {
        if let Some(slot) = self.slot(socket) {
            self.slot_produce(slot, offset, max, sink, app);
        }
    }

    /// [`tcp_produce`](Self::tcp_produce) for the connection `slot`.
    pub fn slot_produce<A: HttpApp>(
        &mut self,
        slot: ConnSlot,
        offset: u32,
        max: usize,
        sink: &mut dyn PayloadSink,
        app: &mut A,
    ) {
        let i = slot.0;
        let site = self.site;
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        if c.resp.kind == Kind::None {
            return;
        }
        let rel = offset.wrapping_sub(c.resp.start);
        let Ok(rel) = usize::try_from(rel) else {
            return;
        };
        c.resp
            .produce::<F, A>(rel, max, sink, site, &mut c.buf, app);
    }

    /// Forward of [`App::tcp_wants_close`](crate::App::tcp_wants_close).
    pub fn tcp_wants_close(&mut self, socket: TcpHandle) -> bool {
        self.slot(socket)
            .is_some_and(|slot| self.slot_wants_close(slot))
    }

    /// [`tcp_wants_close`](Self::tcp_wants_close) for the connection
    /// `slot`.
    pub fn slot_wants_close(&mut self, slot: ConnSlot) -> bool {
        let Some(c) = self.conns.get(slot.0) else {
            return false;
        };
        c.has(cf::CLOSING) && (c.resp.kind == Kind::None || c.resp.end.is_some())
    }

    /// Forward of [`App::tcp_recv_space`](crate::App::tcp_recv_space).
    pub fn tcp_recv_space(&mut self, socket: TcpHandle) -> usize {
        let _ = socket;
        usize::MAX
    }

    /// Timers: call from the main loop (before or after `Stack::poll`).
    /// Closes idle keep-alive connections, answers requests that did not
    /// arrive in time with 408, and resets connections whose peer stopped
    /// reading or never finished closing. (A new client that finds every
    /// socket busy is the TCP layer's business: `TcpEvent::Contended`.)
    pub fn poll<C: Config, Nc: Nic, A: HttpApp>(
        &mut self,
        now: Instant,
        stack: &mut Stack<C>,
        nic: &mut Nc,
        app: &mut A,
    ) {
        let t = tick(now);
        self.now = now;
        let (site, settings) = (self.site, self.settings);
        for c in self.conns.iter_mut() {
            let Some(h) = c.socket else { continue };
            let state = stack.tcp_state(h);
            if matches!(c.rx, Rx::Free) || !state.is_connected() || !due(t, c.deadline) {
                continue;
            }
            let abort = match c.rx {
                Rx::Idle if !c.has(cf::CLOSING) => {
                    c.flags |= cf::CLOSING;
                    stack.tcp_close(h);
                    c.deadline = t.wrapping_add(settings.request_timeout_ms);
                    None
                }
                Rx::Head(_) | Rx::Form(_) | Rx::Multipart(_) => {
                    fail_at(c, 408, h, site, settings, app, t);
                    c.deadline = t.wrapping_add(settings.request_timeout_ms);
                    None
                }
                Rx::Done => Some(ResetReason::Stalled),
                _ => Some(ResetReason::Closing),
            };
            if let Some(reason) = abort {
                reset_conn(c, stack, nic, now, settings, app, reason);
            }
        }
    }

    /// When [`poll`](Self::poll) next has work (a deadline), if any.
    pub fn poll_at(&self) -> Option<Instant> {
        let now = tick(self.now);
        self.conns
            .iter()
            .filter(|c| !matches!(c.rx, Rx::Free))
            .map(|c| {
                if due(now, c.deadline) {
                    0
                } else {
                    c.deadline.wrapping_sub(now)
                }
            })
            .min()
            .map(|d| self.now.after(crate::Duration::from_millis(u64::from(d))))
    }
}

/// A connection of an [`HttpServer`], found for a socket by
/// [`HttpServer::slot`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnSlot(usize);

/// Retransmissions that may each extend a response's deadline before an
/// acknowledgement (10 % loss rarely needs more in a row; a zero-window
/// peer's probes soon exhaust them).
const MAX_RESEND_GRACE: u8 = 4;

/// Resets a connection (RST) and listens again on its port.
fn reset_conn<const B: usize, F: HttpFeatures, C: Config, Nc: Nic, A: HttpApp>(
    c: &mut Conn<B, F>,
    stack: &mut Stack<C>,
    nic: &mut Nc,
    now: Instant,
    settings: &HttpSettings,
    app: &mut A,
    reason: ResetReason,
) {
    let Some(h) = c.socket else { return };
    abort_input(c, app);
    stack.tcp_abort(nic, now, h);
    app.event(HttpEvent::Reset { socket: h, reason });
    c.socket = stack.tcp_listen(settings.port).ok();
    c.reset();
}

/// Tells the form handler a request it began (and did not end) failed.
fn abort_input<const B: usize, F: HttpFeatures, A: HttpApp>(c: &mut Conn<B, F>, app: &mut A) {
    if let Some(form) = c.req.form.take() {
        app.input(form, Input::Abort);
    }
}

/// After an acknowledgement: a finished response frees the connection for
/// the next request (or it closes).
fn finish_if_done<const B: usize, F: HttpFeatures>(
    c: &mut Conn<B, F>,
    acked: u32,
    now: u32,
    settings: &HttpSettings,
) {
    if !matches!(c.rx, Rx::Done) || !c.response_done(acked) {
        return;
    }
    if c.has(cf::CLOSING) || !F::KEEP_ALIVE {
        return; // FIN follows (tcp_wants_close)
    }
    c.next = c.resp.start.wrapping_add(c.resp.end.unwrap_or(0));
    // No response now (what reads it between requests asks only its
    // kind); the next request starts with a fresh request and response
    // (`consume`), and this one's form was ended when it was answered.
    c.resp.kind = Kind::None;
    c.rx = Rx::Idle;
    c.flags |= cf::SERVED;
    c.deadline = now.wrapping_add(settings.idle_timeout_ms);
}

/// Feeds received bytes to the reader; returns how many were taken.
/// `busy`: the forms other connections are submitting.
#[allow(clippy::too_many_arguments)]
fn consume<const B: usize, F: HttpFeatures, A: HttpApp>(
    c: &mut Conn<B, F>,
    bytes: &[u8],
    socket: TcpHandle,
    site: &Site,
    settings: &HttpSettings,
    app: &mut A,
    now: u32,
    busy: u32,
) -> usize {
    // `i` and the runs taken stay within `bytes`, and a body run within
    // `body_left`: plain arithmetic is exact.
    let mut i = 0usize;
    // The loop ends with a byte count, or with the status a failed
    // request is answered with (one exit for every failure).
    let failed = loop {
        if i >= bytes.len() {
            return i;
        }
        match c.rx {
            Rx::Free | Rx::Drain => return bytes.len(),
            Rx::Done => {
                // The next request waits until this response is
                // acknowledged (pipelining); the peer sends it again.
                // (Without keep-alive there is no next request.)
                if F::KEEP_ALIVE {
                    finish_if_done(c, c.acked, now, settings);
                }
                if matches!(c.rx, Rx::Done) {
                    return i;
                }
            }
            Rx::Idle => {
                // A fresh request and response. (From `NEW`, which holds
                // the types' defaults (`reset_is_new`): stored directly,
                // where `Req::default()` was built on the stack and
                // copied.)
                c.req = Conn::<B, F>::NEW.req;
                c.resp = Resp {
                    start: c.next,
                    ..Conn::<B, F>::NEW.resp
                };
                c.rx = Rx::Head(Head::default());
                c.deadline = now.wrapping_add(settings.request_timeout_ms);
            }
            // In place: the head parser is large, and a copy out of and
            // back into `rx` was most of the request's cost.
            Rx::Head(ref mut head) => {
                head.busy_forms = busy;
                let rest = bytes.get(i..).unwrap_or(&[]);
                match head.feed::<F, A>(rest, &mut c.req, &mut c.buf, site, settings, app) {
                    Ok(n) => i = i.wrapping_add(n),
                    Err(status) => break status,
                }
                if head.done() {
                    c.rx = Rx::Done;
                    c.deadline = now.wrapping_add(settings.idle_timeout_ms);
                    if let Err(status) = answer(c, socket, site, settings, app, now) {
                        break status;
                    }
                }
            }
            Rx::Form(_) | Rx::Multipart(_) => {
                let n = bytes
                    .len()
                    .wrapping_sub(i)
                    .min(usize::try_from(c.body_left).unwrap_or(usize::MAX));
                let part = bytes.get(i..i.wrapping_add(n)).unwrap_or(&[]);
                if let Err(status) = body(c, part, app) {
                    break status;
                }
                i = i.wrapping_add(n);
                c.body_left = c
                    .body_left
                    .wrapping_sub(u32::try_from(n).unwrap_or(u32::MAX));
                if c.body_left == 0 {
                    if let Err(status) = body_end(c, app) {
                        break status;
                    }
                    c.rx = Rx::Done;
                    c.deadline = now.wrapping_add(settings.idle_timeout_ms);
                    respond_page(c, socket, site, settings, app);
                }
            }
        }
    };
    fail_at(c, failed, socket, site, settings, app, now);
    bytes.len()
}

/// Body bytes of a form POST.
fn body<const B: usize, F: HttpFeatures, A: HttpApp>(
    c: &mut Conn<B, F>,
    part: &[u8],
    app: &mut A,
) -> Result<(), u16> {
    let form = c.req.form;
    match &mut c.rx {
        Rx::Form(dec) if F::URLENCODED => {
            for &b in part {
                match dec.byte(b, &mut c.buf) {
                    Step::More => {}
                    Step::TooLong => return Err(413),
                    Step::Field(f) => deliver_field(form, &c.buf, f, app)?,
                }
            }
            Ok(())
        }
        Rx::Multipart(mp) if F::MULTIPART => {
            let Some(form) = form else { return Ok(()) };
            mp.feed(part, &mut c.buf, &mut |o| {
                let input = match o {
                    MpOut::Start {
                        name,
                        filename,
                        content_type,
                    } => Input::PartStart {
                        name,
                        filename,
                        content_type,
                    },
                    MpOut::Data(d) => Input::PartData(d),
                    MpOut::End => Input::PartEnd,
                };
                app.input(form, input);
            })
        }
        _ => Ok(()),
    }
}

/// The body is complete.
fn body_end<const B: usize, F: HttpFeatures, A: HttpApp>(
    c: &mut Conn<B, F>,
    app: &mut A,
) -> Result<(), u16> {
    match &c.rx {
        Rx::Multipart(mp) if F::MULTIPART && !mp.complete() => Err(400),
        Rx::Multipart(_) => Ok(()),
        // The end of an urlencoded body ends its last field as `&` does
        // (`FieldDec::finish`): the same steps as one more body byte.
        _ => body(c, b"&", app),
    }
}

/// Whether the client asked to keep the connection (and the server keeps
/// connections).
fn keep_alive<F: HttpFeatures>(req: &Req) -> bool {
    if !F::KEEP_ALIVE || req.flags & rf::CLOSE != 0 {
        return false;
    }
    req.minor >= 1 || req.flags & rf::KEEP_ALIVE != 0
}

/// A request a page of another site made: a `Host` that does not name the
/// device (DNS rebinding: the page's own name resolved to the device), or
/// a cross-site POST (CSRF).
/// (Always inlined, as the head parser's steps: one caller.)
#[inline(always)]
fn foreign(req: &Req) -> bool {
    (req.flags & rf::HOST != 0 && !req.host.is_device())
        || (req.method == Some(Method::Post) && cross_site(req))
}

/// A POST sent by a page that is not the device's own: its `Origin` (or,
/// without one, its `Referer`) is present and is not the authority of the
/// `Host` it was sent to (or, without `Host`, no name of the device).
/// Clients that send neither (curl, scripts) are not browsers a foreign
/// page can drive, and pass.
fn cross_site(req: &Req) -> bool {
    let s = req.source;
    if s.is_absent() {
        false
    } else if req.flags & rf::HOST != 0 {
        s != req.host
    } else {
        !s.is_device()
    }
}

/// Decides the answer to a complete head; `Err`: the request failed
/// (a form's empty body was refused), answer with that status.
fn answer<const B: usize, F: HttpFeatures, A: HttpApp>(
    c: &mut Conn<B, F>,
    socket: TcpHandle,
    site: &Site,
    settings: &HttpSettings,
    app: &mut A,
    now: u32,
) -> Result<(), u16> {
    let has_body = c.req.content_length.is_some_and(|n| n > 0);
    // `Expect: 100-continue` in a server built without it (HTTP/1.0
    // clients' expectations are ignored, RFC 9110 §10.1.1). The 417 asks
    // the client to repeat the request on this connection, so a server
    // without keep-alive ignores the expectation too and reads the body
    // when the client sends it anyway (curl after a second).
    let unmet_continue = !F::CONTINUE
        && F::KEEP_ALIVE
        && c.req.flags & rf::CONTINUE != 0
        && c.req.minor >= 1
        && has_body;
    let status = if c.req.method.is_none() {
        501
    } else if c.req.minor >= 1 && c.req.flags & rf::HOST == 0 {
        400
    } else if foreign(&c.req) {
        403
    } else if c.req.flags & rf::CHUNKED != 0 {
        if c.req.content_length.is_some() {
            400
        } else {
            501
        }
    } else if c.req.flags & rf::BAD_TARGET != 0 {
        400
    } else if c.req.status != 0 {
        c.req.status
    } else if c.req.content_length.is_some_and(|n| n > settings.max_body) {
        413
    } else if unmet_continue {
        // RFC 9110 §10.1.1: a final status at once instead of `100
        // Continue`; the client repeats the request without it.
        417
    } else if c.req.file.is_none() {
        404
    } else if c.req.method == Some(Method::Post) && c.req.form.is_none() {
        405
    } else if c.req.method == Some(Method::Post)
        && has_body
        && c.req.flags & (rf::URLENCODED | rf::MULTIPART) == 0
    {
        415
    } else {
        // A POST without Content-Length has an empty body (RFC 9112 §6.3).
        0
    };
    if status != 0 {
        // After 404/405 the connection stays usable unless a body we do
        // not read follows.
        // (After a 417 for `100-continue` too: the client waits for our
        // answer instead of sending the body, and repeats the request on
        // this connection; curl gives up when it is closed.)
        let close = if status == 417 && unmet_continue {
            false
        } else {
            !matches!(status, 404 | 405) || has_body
        };
        respond_status(c, status, close, socket, site, app);
        return Ok(());
    }
    if c.req.method == Some(Method::Post) {
        // Read the body into the form's handler first.
        c.body_left = c.req.content_length.unwrap_or(0);
        c.rx = if F::MULTIPART && c.req.flags & rf::MULTIPART != 0 && c.body_left > 0 {
            Rx::Multipart(Multipart::new(c.req.dlen))
        } else {
            Rx::Form(FieldDec::default())
        };
        if F::CONTINUE && c.req.flags & rf::CONTINUE != 0 && c.body_left > 0 {
            c.resp.flags |= pf::CONTINUE;
            c.resp.set::<F>(Kind::Pending, 100, Framing::Length, site);
        }
        c.deadline = now.wrapping_add(settings.request_timeout_ms);
        if c.body_left == 0 {
            body_end(c, app)?;
            c.rx = Rx::Done;
            respond_page(c, socket, site, settings, app);
        }
        return Ok(());
    }
    if has_body {
        // A GET or HEAD with a body we will not read: answer, then close.
        c.flags |= cf::CLOSING;
    }
    respond_page(c, socket, site, settings, app);
    Ok(())
}

/// Answers with the target file (GET, HEAD, or after a form's body).
fn respond_page<const B: usize, F: HttpFeatures, A: HttpApp>(
    c: &mut Conn<B, F>,
    socket: TcpHandle,
    site: &Site,
    settings: &HttpSettings,
    app: &mut A,
) {
    if let Some(form) = c.req.form.take() {
        app.input(form, Input::End);
    }
    let Some(file) = c.req.file else {
        respond_status(c, 404, false, socket, site, app);
        return;
    };
    let fi = site.index_of(file);
    let (kind, status, framing) = match &file.body {
        Body::Static { gzip, .. } => {
            let gz = F::GZIP
                && settings.gzip
                && gzip.is_some()
                && c.req.flags & rf::GZIP != 0
                && c.req.flags & rf::GZIP_NO == 0;
            let matched = if gz { rf::INM_GZIP } else { rf::INM_PLAIN };
            let (kind, status) =
                if F::ETAG && c.req.method != Some(Method::Post) && c.req.flags & matched != 0 {
                    (Kind::NotModified { file: fi, gzip: gz }, 304)
                } else {
                    (Kind::File { file: fi, gzip: gz }, 200)
                };
            (kind, status, Framing::Length)
        }
        Body::Dynamic { text, tags, .. } => {
            // Rendered now when every tag fits (not for HEAD).
            let rendered = match c.req.method {
                Some(Method::Head) => None,
                _ => c.resp.render_all(text, tags, &mut c.buf, app),
            };
            let framing = if let Some(len) = rendered {
                c.resp.body_len = len;
                Framing::Length
            } else if F::CHUNKED && c.req.minor >= 1 {
                Framing::Chunked
            } else {
                Framing::Close
            };
            (Kind::Dynamic { file: fi }, 200, framing)
        }
    };
    start(c, kind, status, framing, false, socket, site, app);
}

/// The connection ends after this response: anything more the peer sends
/// is taken and dropped (so our response is not lost to a reset).
fn close_after<const B: usize, F: HttpFeatures>(c: &mut Conn<B, F>) {
    c.flags |= cf::CLOSING;
    c.rx = Rx::Drain;
}

/// Response flags from the request.
fn flags_for(req: &Req, close: bool) -> u8 {
    let mut f = 0;
    if close {
        f |= pf::CLOSE;
    }
    if req.minor == 0 {
        f |= pf::V10;
    }
    if req.method == Some(Method::Head) {
        f |= pf::HEAD;
    }
    f
}

/// Sets the response: its head says `Connection: close` when `close`,
/// the connection is closing or the request did not ask to keep it, and
/// a body delimited by the close (HTTP/1.0 framing) closes it too; then
/// the connection closes after the response when it says so or another
/// client waits. The application hears of the response (and whether its
/// body is a gzip twin: the kind says).
#[allow(clippy::too_many_arguments)]
fn start<const B: usize, F: HttpFeatures, A: HttpApp>(
    c: &mut Conn<B, F>,
    kind: Kind,
    status: u16,
    framing: Framing,
    close: bool,
    socket: TcpHandle,
    site: &Site,
    app: &mut A,
) {
    let gzip = matches!(
        kind,
        Kind::File { gzip: true, .. } | Kind::NotModified { gzip: true, .. }
    );
    let close = close || c.has(cf::CLOSING | cf::PEER_CLOSED) || !keep_alive::<F>(&c.req);
    c.resp.flags |= flags_for(&c.req, close);
    if framing == Framing::Close && c.req.method != Some(Method::Head) {
        c.resp.flags |= pf::CLOSE;
        c.resp.flags &= !pf::V10;
    }
    c.resp.set::<F>(kind, status, framing, site);
    if c.resp.flags & pf::CLOSE != 0 || c.has(cf::CONTENDED) {
        close_after(c);
    }
    // The site's path, or what was kept of an unknown one.
    let path = c
        .req
        .file
        .map(|f| site.path(f))
        .or_else(|| {
            c.buf
                .get(..usize::from(c.req.plen))
                .and_then(|p| core::str::from_utf8(p).ok())
        })
        .unwrap_or("?");
    app.event(HttpEvent::Response {
        socket,
        method: c.req.method,
        path,
        status,
        gzip,
    });
}

/// Answers with a status of our own (a form still reading the request
/// is told it failed).
fn respond_status<const B: usize, F: HttpFeatures, A: HttpApp>(
    c: &mut Conn<B, F>,
    status: u16,
    close: bool,
    socket: TcpHandle,
    site: &Site,
    app: &mut A,
) {
    // A request's form hears that it failed (after a page's form was
    // ended, nothing more).
    abort_input(c, app);
    c.resp.jlen = 0;
    start(
        c,
        Kind::Status,
        status,
        Framing::Length,
        close,
        socket,
        site,
        app,
    );
}

/// The request failed while reading: answer `status` and close.
fn fail_at<const B: usize, F: HttpFeatures, A: HttpApp>(
    c: &mut Conn<B, F>,
    status: u16,
    socket: TcpHandle,
    site: &Site,
    settings: &HttpSettings,
    app: &mut A,
    now: u32,
) {
    respond_status(c, status, true, socket, site, app);
    c.deadline = now.wrapping_add(settings.request_timeout_ms);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `reset` writes field by field what `NEW` holds (keeping the
    /// socket): its `req` and `resp` are the types' defaults.
    #[test]
    fn reset_is_new() {
        type C = Conn<16, AllFeatures>;
        let new = C::NEW;
        assert_eq!(new.rx, Rx::Free);
        assert_eq!(new.req, Req::default());
        assert_eq!(new.resp, Resp::default());
        let mut c = C::NEW;
        c.rx = Rx::Done;
        c.req.method = Some(Method::Post);
        c.req.host = Authority::INVALID;
        c.resp.kind = Kind::Status;
        c.resp.framing = Framing::Chunked;
        c.body_left = 1;
        c.next = 2;
        c.deadline = 3;
        c.resends = 4;
        c.flags = cf::SERVED;
        c.buf = [7; 16];
        c.reset();
        assert_eq!(c.rx, new.rx);
        assert_eq!(c.req, new.req);
        assert_eq!(c.resp, new.resp);
        assert_eq!(
            (c.body_left, c.next, c.deadline, c.resends, c.flags, c.buf),
            (0, 0, 0, 0, 0, new.buf)
        );
    }
}
