//! SNTP client (RFC 4330): the time from an NTP server, by name or address.
//!
//! [`SntpClient::request`] takes a server (`"10.0.0.1"` or `"ntp.lan"`);
//! the request then goes through its steps, each reported through
//! [`App::event`] and each bounded by the configured timeout:
//!
//! 1. **Resolve** (names only): an A query through the stack's DNS client
//!    (the [`Resolver`] the stack passes in, see [`SntpPart`]);
//! 2. **ARP**: the server's (or the gateway's) MAC address;
//! 3. **Reply**: the request goes out from a random port to UDP 123
//!    ([`SntpEvent::Sent`]) and the answer is awaited
//!    ([`SntpEvent::Synced`]).
//!
//! A step that runs out of time ends the request with
//! [`SntpFailure::Timeout`] naming the step. With a poll interval the
//! client asks again after it (after a failure, after at most
//! [`RETRY_AFTER_FAILURE`]).
//!
//! # Validation
//!
//! A reply must come from the server's address and port 123, be at least
//! 48 bytes, have mode 4 (server), version 3 or 4, an originate timestamp
//! equal to the transmit timestamp we sent, and a non-zero transmit
//! timestamp; otherwise it is rejected ([`SntpEvent::Rejected`], counted)
//! and the client keeps waiting. A valid reply with stratum 0 is a
//! kiss-o'-death and ends the request with its code (`DENY` and `RSTR`
//! also stop the periodic requests, RFC 4330 §8); leap indicator 3 or a
//! stratum above 15 means the server is not synchronised and ends it too.
//!
//! # Time
//!
//! The device has no clock: the answer is the server's transmit time plus
//! half the round trip (measured with `poll`'s millisecond clock, less the
//! server's own holding time), pinned to the local [`Instant`] it was
//! computed at ([`SntpTime`]); [`SntpTime::at`] extrapolates. The full NTP
//! time keeps its era ([`NtpTime`]), so Unix time is right after
//! 2036-02-07. The transmit timestamp we send is our estimate of the time
//! when we have one, otherwise random; either way its low 16 bits are
//! random, so the originate check also stops blind spoofing.

use crate::dns::{DnsError, DnsHandle, Resolver};
use crate::iface::{Bytes, Io, SendError, Transport};
use crate::nic::Nic;
use crate::service::{App, Disabled, Event, Service, ServiceConfig};
use crate::time::{Duration, Instant};
use crate::udp::{Endpoint, UdpDatagram};
use crate::wire::ntp::{self as wire, Leap, Mode, NtpTime, Timestamp, PACKET_LEN};
use crate::wire::Ipv4Address;
use core::fmt;

/// How soon a failed request is repeated (when a poll interval is set and
/// longer than this).
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);
/// How often a request waiting for ARP tries again.
const SEND_RETRY: Duration = Duration::from_millis(200);
/// How often a due request waits for the interface to get an address.
const ADDRESS_WAIT: Duration = Duration::from_secs(1);

/// Whole seconds of `d`, saturating at `u16::MAX` (18 hours; `[sntp]
/// timeout` is at most 60 s).
fn secs_u16(d: Duration) -> u16 {
    u16::try_from(d.secs()).unwrap_or(u16::MAX)
}

/// The server in `stack.toml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SntpServer {
    /// An address.
    Addr(Ipv4Address),
    /// A host name, resolved through the DNS client.
    Name(&'static str),
}

/// The SNTP settings from `stack.toml` (`[sntp]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SntpSettings {
    /// A server to ask from the start; `None` waits for
    /// [`SntpClient::request`].
    pub server: Option<SntpServer>,
    /// How long each step (resolve, ARP, reply) may take.
    pub timeout: Duration,
    /// How often to ask again; zero asks only when requested.
    pub poll_interval: Duration,
}

impl SntpSettings {
    /// The defaults: no server, 5 s per step, every hour.
    pub const DEFAULT: SntpSettings = SntpSettings {
        server: None,
        timeout: Duration::from_secs(5),
        poll_interval: Duration::from_secs(3600),
    };
}

impl Default for SntpSettings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A step of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SntpStep {
    /// Resolving the server's name.
    Resolve,
    /// Resolving the next hop's MAC address.
    Arp,
    /// Waiting for the reply.
    Reply,
}

impl SntpStep {
    /// A short stable name for logs.
    pub const fn name(self) -> &'static str {
        match self {
            SntpStep::Resolve => "resolve",
            SntpStep::Arp => "arp",
            SntpStep::Reply => "reply",
        }
    }
}

/// Why a request ended without a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SntpFailure {
    /// A step ran out of time.
    Timeout(SntpStep),
    /// The server sent a kiss-o'-death (stratum 0) with this code.
    KissOfDeath([u8; 4]),
    /// The server is not synchronised (leap indicator 3, or stratum > 15).
    Unsynchronised,
    /// The name could not be resolved.
    Resolve(DnsError),
    /// The request could not be sent.
    Send(SendError),
}

/// Why a datagram to the request's port was not taken as the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SntpReject {
    /// Not from the server's address and port 123.
    WrongSource,
    /// Shorter than 48 bytes.
    Truncated,
    /// Not mode 4 (server).
    BadMode,
    /// Not version 3 or 4.
    BadVersion,
    /// The originate timestamp is not our transmit timestamp.
    BadOrigin,
    /// The transmit timestamp is zero.
    ZeroTransmit,
}

impl SntpReject {
    /// A short stable name for logs.
    pub const fn name(self) -> &'static str {
        match self {
            SntpReject::WrongSource => "wrong-source",
            SntpReject::Truncated => "truncated",
            SntpReject::BadMode => "bad-mode",
            SntpReject::BadVersion => "bad-version",
            SntpReject::BadOrigin => "bad-origin",
            SntpReject::ZeroTransmit => "zero-transmit",
        }
    }
}

/// A time learned from a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SntpTime {
    /// The time at `local`.
    pub time: NtpTime,
    /// The local clock (`poll`'s `now`) when the answer was computed.
    pub local: Instant,
    /// The server's stratum.
    pub stratum: u8,
    /// The server.
    pub server: Ipv4Address,
}

impl SntpTime {
    /// The time at local instant `now`: not before `local`, and at most
    /// 49.7 days (2^32 ms, one cycle of the wrapping clock) after it — the
    /// client syncs again every poll interval.
    pub fn at(&self, now: Instant) -> NtpTime {
        self.time.add_millis(now.elapsed_since(self.local).millis())
    }

    /// Seconds since the Unix epoch at `local`.
    pub fn unix_secs(&self) -> i64 {
        self.time.unix_secs()
    }
}

/// What the SNTP client reports through [`App::event`]: the "user
/// callback" when the request goes out, when the answer comes, and when
/// a step fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SntpEvent {
    /// The request went out.
    Sent {
        /// The server.
        server: Ipv4Address,
    },
    /// The answer came and passed every check.
    Synced(SntpTime),
    /// The request ended without a time.
    Failed(SntpFailure),
    /// A datagram was rejected (counted); the request keeps waiting.
    Rejected(SntpReject),
}

/// Why [`SntpClient::request`] refused a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SntpError {
    /// Not an address and not a host name.
    InvalidServer,
    /// The name is longer than the client takes (its `NAME`, the DNS `name_len`), or
    /// names are not possible because DNS is disabled.
    NameTooLong,
    /// `[sntp]` is not enabled in this configuration (only application
    /// code that serves several configurations can see this).
    Disabled,
}

impl fmt::Display for SntpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SntpError::InvalidServer => "not an IPv4 address or host name",
            SntpError::NameTooLong => "name too long (or [dns] disabled)",
            SntpError::Disabled => "[sntp] is not enabled in stack.toml",
        })
    }
}

/// What the client has done. Each counter is 16-bit and wraps at 65,536
/// (8 bytes of the stack's state instead of 16), as the interface's
/// exception counters do: they are read as they climb, and the
/// application also hears each of these as an [`SntpEvent`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SntpCounters {
    /// Requests sent; wraps at 65,536.
    pub sent: u16,
    /// Answers accepted; wraps at 65,536.
    pub synced: u16,
    /// Requests that failed; wraps at 65,536.
    pub failed: u16,
    /// Datagrams rejected; wraps at 65,536.
    pub rejected: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// No request under way; one is due at `at` when `due` (false: none
    /// is, no server or no periodic requests). The flag lives in the step
    /// (whose other variants leave room for it) rather than in a byte of
    /// its own.
    Idle {
        due: bool,
    },
    /// A new request (`due`) or `stop` replaced one that was resolving:
    /// free its query, then idle.
    Cancel {
        query: DnsHandle,
        due: bool,
    },
    Resolve(DnsHandle),
    Arp,
    Wait,
}

/// A `u64` kept as two 32-bit halves: a `u64` field would make the client
/// 8-aligned, and with it the whole `Stack` (its size then a multiple of 8,
/// with padding to match).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct U64Halves {
    lo: u32,
    hi: u32,
}

impl U64Halves {
    const ZERO: U64Halves = U64Halves { lo: 0, hi: 0 };

    const fn of(v: u64) -> U64Halves {
        U64Halves {
            lo: v as u32,
            hi: (v >> 32) as u32,
        }
    }

    const fn get(self) -> u64 {
        ((self.hi as u64) << 32) | self.lo as u64
    }
}

/// The last [`SntpTime`] as the client keeps it: its fields without the
/// padding of `Option<SntpTime>` (40 bytes against 20) and with the
/// seconds in halves; the stratum is the client's `last_stratum` (0:
/// never synced — a stratum-0 reply is a kiss-o'-death, never a time), so
/// that it shares the padding of the client's other bytes.
#[derive(Clone, Copy, Debug)]
struct Last {
    secs: U64Halves,
    frac: u32,
    local: Instant,
    server: Ipv4Address,
}

impl Last {
    const NONE: Last = Last {
        secs: U64Halves::ZERO,
        frac: 0,
        local: Instant::ZERO,
        server: Ipv4Address::UNSPECIFIED,
    };

    fn of(t: SntpTime) -> Last {
        Last {
            secs: U64Halves::of(t.time.secs),
            frac: t.time.frac,
            local: t.local,
            server: t.server,
        }
    }

    fn get(&self, stratum: u8) -> Option<SntpTime> {
        (stratum != 0).then_some(SntpTime {
            time: NtpTime {
                secs: self.secs.get(),
                frac: self.frac,
            },
            local: self.local,
            stratum,
            server: self.server,
        })
    }
}

/// The SNTP client; it takes server names of at most `NAME` bytes (the
/// DNS client's `name_len`), and keeps the name the application gave
/// rather than a copy of it.
#[derive(Clone, Copy, Debug)]
pub struct SntpClient<const NAME: usize> {
    step: Step,
    port: u16,
    /// The server's address (given, or resolved).
    server: Ipv4Address,
    /// Idle: when the next request is due (with its `due`); the other steps:
    /// when the current step ends.
    at: Instant,
    /// Arp: when to try again if no frame wakes the stack; Wait: when the
    /// request went out.
    mark: Instant,
    /// The transmit timestamp sent (a `Timestamp` in halves).
    xmt: U64Halves,
    /// Step timeout in seconds (RAM is precious: 2 bytes).
    timeout_s: u16,
    /// The poll interval in whole seconds (zero: none), kept as the
    /// `Duration` every deadline is computed from (a deadline is at most
    /// 24.8 days ahead: [`Instant::after`]).
    interval: Duration,
    last: Last,
    /// The last answer's stratum; 0: no answer yet.
    last_stratum: u8,
    counters: SntpCounters,
    /// The server's name, resolved for each request; empty: `server` is
    /// the address to ask.
    name: &'static str,
}

impl<const NAME: usize> SntpClient<NAME> {
    /// A client with these settings (the server in them is asked at the
    /// first poll).
    pub fn new(settings: SntpSettings) -> Self {
        let mut c = SntpClient {
            step: Step::Idle { due: false },
            port: 0,
            server: Ipv4Address::UNSPECIFIED,
            at: Instant::ZERO,
            mark: Instant::ZERO,
            xmt: U64Halves::ZERO,
            timeout_s: secs_u16(settings.timeout),
            interval: Duration::from_secs(settings.poll_interval.secs()),
            last: Last::NONE,
            last_stratum: 0,
            counters: SntpCounters::default(),
            name: "",
        };
        let _ = match settings.server {
            Some(SntpServer::Addr(a)) => {
                c.request_addr(a);
                Ok(())
            }
            Some(SntpServer::Name(n)) => c.request(n),
            None => Ok(()),
        };
        c
    }

    /// Asks `server` (dotted address or host name) for the time on the
    /// next poll, and from then on every poll interval. Replaces the
    /// server and any request under way.
    ///
    /// A name is resolved again for every request, so the client keeps
    /// it: `'static`, like the mail clients' servers (a constant, or a
    /// setting the application holds for the device's life), rather than
    /// a copy in the client's RAM.
    pub fn request(&mut self, server: &'static str) -> Result<(), SntpError> {
        if let Some(a) = parse_addr(server) {
            self.request_addr(a);
            return Ok(());
        }
        let name = server.strip_suffix('.').unwrap_or(server);
        let b = name.as_bytes();
        if b.is_empty()
            || !b
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'.' || *c == b'_')
        {
            return Err(SntpError::InvalidServer);
        }
        if b.len() > NAME {
            return Err(SntpError::NameTooLong);
        }
        self.name = name;
        self.restart();
        Ok(())
    }

    /// Asks the server at `addr` on the next poll (and every poll
    /// interval). Replaces the server and any request under way.
    pub fn request_addr(&mut self, addr: Ipv4Address) {
        self.name = "";
        self.server = addr;
        self.restart();
    }

    /// Drops the request under way; the next one is due at once.
    fn restart(&mut self) {
        self.drop_request(Some(Instant::ZERO));
    }

    /// Drops the request under way (a query being resolved is freed at
    /// the next poll); the next one is due at `next` (`None`: none is).
    #[inline(never)]
    fn drop_request(&mut self, next: Option<Instant>) {
        let held = match self.step {
            Step::Resolve(query) | Step::Cancel { query, .. } => Some(query),
            _ => None,
        };
        // Idle as a finished request is, then the query kept to be freed.
        self.idle(next);
        if let Some(query) = held {
            self.step = Step::Cancel {
                query,
                due: next.is_some(),
            };
        }
        self.port = 0;
    }

    /// Stops asking (a request under way is abandoned).
    pub fn stop(&mut self) {
        self.drop_request(None);
    }

    /// The last time learned, if any.
    pub fn last(&self) -> Option<SntpTime> {
        self.last.get(self.last_stratum)
    }

    /// The current time at local instant `now`, from the last answer.
    pub fn now(&self, now: Instant) -> Option<NtpTime> {
        self.last().map(|t| t.at(now))
    }

    /// Ends the request (it is done with its query, if any); the next
    /// one is due at `next` (`None`: none is).
    fn idle(&mut self, next: Option<Instant>) {
        // (`port` may stay: only the reply step listens on it.)
        self.step = Step::Idle {
            due: next.is_some(),
        };
        self.at = next.unwrap_or(self.at);
    }

    /// True while a request is under way.
    pub fn busy(&self) -> bool {
        !matches!(self.step, Step::Idle { .. })
    }

    /// What the client has done.
    pub fn counters(&self) -> &SntpCounters {
        &self.counters
    }

    /// Ends the request; schedules the next one.
    fn fail<A: App>(&mut self, now: Instant, why: SntpFailure, app: &mut A) {
        self.counters.failed = self.counters.failed.wrapping_add(1);
        let next = match why {
            SntpFailure::KissOfDeath(code) if &code == b"DENY" || &code == b"RSTR" => None,
            SntpFailure::KissOfDeath(_) => self.after_interval(now, self.interval),
            _ => self.after_interval(now, self.interval.min(RETRY_AFTER_FAILURE)),
        };
        self.idle(next);
        app.event(Event::Sntp(SntpEvent::Failed(why)));
    }

    /// `now + wait` when periodic requests are on, else `None`.
    fn after_interval(&self, now: Instant, wait: Duration) -> Option<Instant> {
        (self.interval != Duration::ZERO).then(|| now.after(wait))
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.timeout_s))
    }

    fn send<N: Nic>(&self, io: &mut Io<'_, N>) -> Result<(), SendError> {
        let mut pkt = [0u8; PACKET_LEN];
        wire::Repr::client_request(Timestamp(self.xmt.get())).emit(&mut pkt);
        let t = Transport::Udp {
            src_port: self.port,
            dst_port: wire::PORT,
        };
        io.send_ipv4(self.server, &t, &mut Bytes(&pkt))
    }

    // Always inlined into the stack's poll, its one caller: −40 B on the
    // merged tree (inline9; out of line had been the smaller before).
    #[inline(always)]
    fn run<N: Nic, A: App, R: Resolver>(
        &mut self,
        io: &mut Io<'_, N>,
        app: &mut A,
        resolver: &mut R,
    ) {
        let now = io.now();
        // At most one pass through each step per poll.
        let mut waiting = None;
        for _ in 0..4 {
            // True when the server's address is known: the request is
            // about to go out (below).
            let ready = match self.step {
                Step::Cancel { query, due } => {
                    resolver.cancel(query);
                    self.step = Step::Idle { due };
                    false
                }
                Step::Idle { due } => {
                    if !due || now < self.at {
                        return;
                    }
                    if io.address().is_none() {
                        self.at = now.after(ADDRESS_WAIT);
                        return;
                    }
                    if self.name.is_empty() {
                        true
                    } else {
                        self.at = now.after(self.timeout());
                        match resolver.start_resolve(self.name) {
                            Ok(h) => self.step = Step::Resolve(h),
                            Err(e) => return self.fail(now, SntpFailure::Resolve(e), app),
                        }
                        false
                    }
                }
                // The waiting steps: each does its work, then one check
                // of the step's time limit (the work first: an answer or
                // a send at the limit still counts).
                Step::Resolve(h) => match resolver.take_resolved(h) {
                    core::task::Poll::Pending => {
                        waiting = Some(SntpStep::Resolve);
                        break;
                    }
                    core::task::Poll::Ready(Ok(addr)) => {
                        self.server = addr;
                        true
                    }
                    core::task::Poll::Ready(Err(e)) => {
                        return self.fail(now, SntpFailure::Resolve(e), app)
                    }
                },
                Step::Arp => {
                    // Tried on every poll (an ARP reply arriving is a poll);
                    // `mark` wakes the stack when nothing else does.
                    match self.send(io) {
                        Ok(()) => {
                            self.step = Step::Wait;
                            self.mark = now;
                            self.at = now.after(self.timeout());
                            self.counters.sent = self.counters.sent.wrapping_add(1);
                            app.event(Event::Sntp(SntpEvent::Sent {
                                server: self.server,
                            }));
                            return;
                        }
                        Err(SendError::ArpPending | SendError::Busy) => {
                            self.mark = now.after(SEND_RETRY);
                            waiting = Some(SntpStep::Arp);
                            break;
                        }
                        Err(e) => return self.fail(now, SntpFailure::Send(e), app),
                    }
                }
                Step::Wait => {
                    waiting = Some(SntpStep::Reply);
                    break;
                }
            };
            if ready {
                // The ARP step's time starts; then the port and transmit
                // timestamp of the request.
                self.at = now.after(self.timeout());
                self.enter_arp(now, app);
            }
        }
        let Some(waiting) = waiting else { return };
        if now >= self.at {
            if let Step::Resolve(h) = self.step {
                resolver.cancel(h);
            }
            self.fail(now, SntpFailure::Timeout(waiting), app);
        }
    }

    /// Picks the port and transmit timestamp for a request about to go out.
    fn enter_arp<A: App>(&mut self, now: Instant, app: &mut A) {
        self.step = Step::Arp;
        self.mark = now;
        self.port = crate::dns::random_port(app);
        let noise = u64::from(app.random_u32());
        let x = match self.last() {
            Some(t) => (t.at(now).timestamp().0 & !0xffff) | (noise & 0xffff),
            None => (noise << 32) | u64::from(app.random_u32()),
        };
        self.xmt = U64Halves::of(x.max(1));
    }

    /// Checks a reply; `Ok(None)` for a valid time, `Ok(Some)` for a valid
    /// reply that ends the request without one.
    fn check(&self, p: &wire::Packet<&[u8]>) -> Result<Option<SntpFailure>, SntpReject> {
        if p.mode() != Mode::Server {
            return Err(SntpReject::BadMode);
        }
        if !(3..=4).contains(&p.version()) {
            return Err(SntpReject::BadVersion);
        }
        if p.orig_ts().0 != self.xmt.get() {
            return Err(SntpReject::BadOrigin);
        }
        if p.xmit_ts().is_zero() {
            return Err(SntpReject::ZeroTransmit);
        }
        if p.stratum() == 0 {
            return Ok(Some(SntpFailure::KissOfDeath(p.ref_id())));
        }
        if p.leap() == Leap::Unsynchronised || p.stratum() > 15 {
            return Ok(Some(SntpFailure::Unsynchronised));
        }
        Ok(None)
    }
}

/// The server time at the moment the reply was received: its transmit
/// time plus half the round trip less its holding time (RFC 4330 §5).
// Always inlined into the reply's handling, its one caller (LLVM kept
// it apart): −40 B (inline9).
#[inline(always)]
fn time_at_receipt(p: &wire::Packet<&[u8]>, round_trip: Duration) -> NtpTime {
    let rtt = wire::millis_to_fixed(round_trip.millis());
    let hold = if p.recv_ts().is_zero() {
        0
    } else {
        p.xmit_ts().0.wrapping_sub(p.recv_ts().0)
    };
    let delay = rtt.saturating_sub(hold);
    NtpTime::from_timestamp(p.xmit_ts()).add_fixed(i64::try_from(delay >> 1).unwrap_or(0))
}

/// Parses a dotted-quad IPv4 address.
pub(crate) fn parse_addr(s: &str) -> Option<Ipv4Address> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for o in &mut out {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *o = p.parse().ok()?;
    }
    parts.next().is_none().then_some(Ipv4Address(out))
}

/// The SNTP client as a [`Config`](crate::Config) names it: an
/// [`SntpClient`] or [`Disabled`]. Its poll takes the DNS client: the
/// stack, which assembles its services, hands it over, as the generated
/// composition hands the stack (and so [`Stack::dns`](crate::Stack::dns))
/// to the mail clients in theirs. Whoever assembles a component that
/// resolves names decides where the names come from; the application
/// never passes a resolver.
pub trait SntpPart {
    /// Sends what is due and runs the steps' timers (`io.now()` is the
    /// time), resolving a server name through `dns`.
    fn poll<N: Nic, A: App, R: Resolver>(&mut self, io: &mut Io<'_, N>, app: &mut A, dns: &mut R);
}

impl<const NAME: usize> SntpPart for SntpClient<NAME> {
    fn poll<N: Nic, A: App, R: Resolver>(&mut self, io: &mut Io<'_, N>, app: &mut A, dns: &mut R) {
        self.run(io, app, dns)
    }
}

impl SntpPart for Disabled {
    fn poll<N: Nic, A: App, R: Resolver>(&mut self, io: &mut Io<'_, N>, app: &mut A, dns: &mut R) {
        let _ = (io, app, dns);
    }
}

impl<const NAME: usize> Service for SntpClient<NAME> {
    fn new_service<C: ServiceConfig>() -> Self {
        SntpClient::new(C::SNTP)
    }

    fn on_udp<N: Nic, A: App>(&mut self, d: &mut UdpDatagram<'_, '_, N>, app: &mut A) -> bool {
        // (The reply step always has a port: `enter_arp` drew one.)
        if self.step != Step::Wait || d.local().port != self.port {
            return false;
        }
        let now = d.io().now();
        let mut buf = [0u8; PACKET_LEN];
        let n = d.read(0, &mut buf);
        let result = if d.remote() != Endpoint::new(self.server, wire::PORT) {
            Err(SntpReject::WrongSource)
        } else if n < PACKET_LEN {
            Err(SntpReject::Truncated)
        } else {
            self.check(&wire::Packet::new_unchecked(&buf[..]))
        };
        match result {
            Err(why) => {
                self.counters.rejected = self.counters.rejected.wrapping_add(1);
                app.event(Event::Sntp(SntpEvent::Rejected(why)));
            }
            Ok(Some(failure)) => self.fail(now, failure, app),
            Ok(None) => {
                let p = wire::Packet::new_unchecked(&buf[..]);
                let t = SntpTime {
                    time: time_at_receipt(&p, now.since(self.mark)),
                    local: now,
                    stratum: p.stratum(),
                    server: self.server,
                };
                self.last = Last::of(t);
                self.last_stratum = t.stratum;
                self.idle(self.after_interval(now, self.interval));
                self.counters.synced = self.counters.synced.wrapping_add(1);
                app.event(Event::Sntp(SntpEvent::Synced(t)));
            }
        }
        true
    }

    fn poll_at(&self) -> Option<Instant> {
        match self.step {
            Step::Idle { due: true } => Some(self.at),
            Step::Idle { due: false } => None,
            Step::Cancel { .. } => Some(Instant::ZERO),
            // The DNS client's own deadline wakes the stack; this is the
            // resolve step's limit.
            Step::Resolve(_) | Step::Wait => Some(self.at),
            Step::Arp => Some(self.mark.min(self.at)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(
        li_vn_mode: u8,
        stratum: u8,
        ref_id: [u8; 4],
        orig: u64,
        recv: u64,
        xmit: u64,
    ) -> [u8; 48] {
        let mut b = [0u8; 48];
        b[0] = li_vn_mode;
        b[1] = stratum;
        b[12..16].copy_from_slice(&ref_id);
        b[24..32].copy_from_slice(&orig.to_be_bytes());
        b[32..40].copy_from_slice(&recv.to_be_bytes());
        b[40..48].copy_from_slice(&xmit.to_be_bytes());
        b
    }

    fn client(xmt: u64) -> SntpClient<16> {
        let mut c = SntpClient::<16>::new(SntpSettings::DEFAULT);
        c.xmt = U64Halves::of(xmt);
        c
    }

    #[test]
    fn checks() {
        let c = client(0x1234);
        let ok = reply(0x24, 2, *b"GPS\0", 0x1234, 5, 6);
        let check = |b: &[u8; 48]| c.check(&wire::Packet::new_unchecked(&b[..]));
        assert_eq!(check(&ok), Ok(None));
        // Version 3 is fine; 2 and 5 are not.
        assert_eq!(check(&reply(0x1c, 2, [0; 4], 0x1234, 5, 6)), Ok(None));
        assert_eq!(
            check(&reply(0x14, 2, [0; 4], 0x1234, 5, 6)),
            Err(SntpReject::BadVersion)
        );
        assert_eq!(
            check(&reply(0x2c, 2, [0; 4], 0x1234, 5, 6)),
            Err(SntpReject::BadVersion)
        );
        // Modes 3 (client) and 5 (broadcast) are not answers.
        assert_eq!(
            check(&reply(0x23, 2, [0; 4], 0x1234, 5, 6)),
            Err(SntpReject::BadMode)
        );
        assert_eq!(
            check(&reply(0x25, 2, [0; 4], 0x1234, 5, 6)),
            Err(SntpReject::BadMode)
        );
        assert_eq!(
            check(&reply(0x24, 2, [0; 4], 0x1235, 5, 6)),
            Err(SntpReject::BadOrigin)
        );
        assert_eq!(
            check(&reply(0x24, 2, [0; 4], 0x1234, 5, 0)),
            Err(SntpReject::ZeroTransmit)
        );
        assert_eq!(
            check(&reply(0x24, 0, *b"RATE", 0x1234, 5, 6)),
            Ok(Some(SntpFailure::KissOfDeath(*b"RATE")))
        );
        // A kiss-o'-death with a wrong origin is just rejected.
        assert_eq!(
            check(&reply(0x24, 0, *b"DENY", 0x9999, 5, 6)),
            Err(SntpReject::BadOrigin)
        );
        assert_eq!(
            check(&reply(0xe4, 2, [0; 4], 0x1234, 5, 6)),
            Ok(Some(SntpFailure::Unsynchronised))
        );
        assert_eq!(
            check(&reply(0x24, 16, [0; 4], 0x1234, 5, 6)),
            Ok(Some(SntpFailure::Unsynchronised))
        );
    }

    #[test]
    fn time_is_transmit_plus_half_the_delay() {
        let t2 = wire::Timestamp::new(0xe000_0000, 0).0;
        let t3 = t2 + wire::millis_to_fixed(10); // the server held it 10 ms
        let b = reply(0x24, 2, [0; 4], 1, t2, t3);
        let p = wire::Packet::new_unchecked(&b[..]);
        // 110 ms round trip, 10 of them in the server: 50 ms each way.
        let t = time_at_receipt(&p, Duration::from_millis(110));
        let want = NtpTime::from_timestamp(Timestamp(t3)).add_millis(50);
        assert!(t.unix_millis().abs_diff(want.unix_millis()) <= 1);
        // Era 1: seconds without the top bit are after 2036.
        let b = reply(0x24, 2, [0; 4], 1, 0, wire::Timestamp::new(1000, 0).0);
        let t = time_at_receipt(&wire::Packet::new_unchecked(&b[..]), Duration::ZERO);
        assert_eq!(t.era(), 1);
        assert_eq!(t.unix_secs(), 2_085_978_496 + 1000);
    }

    #[test]
    fn client_state_stays_packed() {
        // notes-state.md: 16-bit counters, the `u64`s in halves, the due
        // flag in the step. 60 bytes besides the server name's `&str`
        // (8 bytes on the MCU, 16 on a 64-bit host), and nothing wider
        // than 4 bytes in them, so the client — and the `Stack` — is
        // 4-aligned on the MCU.
        use core::mem::{align_of, size_of};
        let name = size_of::<&'static str>();
        assert_eq!(
            size_of::<SntpClient<64>>(),
            (60 + name).next_multiple_of(align_of::<&'static str>())
        );
        assert_eq!(size_of::<Step>(), 3);
        assert_eq!(align_of::<Last>(), 4);
        assert_eq!(align_of::<U64Halves>(), 4);
        assert_eq!(size_of::<SntpCounters>(), 8);
    }

    #[test]
    fn halves_keep_every_bit() {
        for v in [
            0,
            1,
            u64::from(u32::MAX),
            1 << 32,
            0x8000_0000_0000_0001,
            u64::MAX,
        ] {
            assert_eq!(U64Halves::of(v).get(), v);
        }
    }

    #[test]
    fn stop_and_restart_keep_the_due_flag_through_a_cancel() {
        let mut c = SntpClient::<16>::new(SntpSettings::DEFAULT);
        let mut dns = crate::dns::DnsClient::<1, 16>::new(crate::dns::DnsSettings::DEFAULT);
        let query = dns.query("ntp.lan", crate::dns::QueryType::A).unwrap();
        c.step = Step::Resolve(query);
        c.stop();
        assert_eq!(c.step, Step::Cancel { query, due: false });
        assert_eq!(c.poll_at(), Some(Instant::ZERO));
        assert!(c.busy());
        c.restart();
        assert_eq!(c.step, Step::Cancel { query, due: true });
        c.request_addr(Ipv4Address::new(10, 0, 0, 1));
        assert_eq!(c.step, Step::Cancel { query, due: true });
        c.step = Step::Idle { due: true };
        c.stop();
        assert_eq!(c.step, Step::Idle { due: false });
        assert_eq!(c.poll_at(), None);
        assert!(!c.busy());
        c.request_addr(Ipv4Address::new(10, 0, 0, 1));
        assert_eq!(c.poll_at(), Some(Instant::ZERO));
    }

    #[test]
    fn servers() {
        let mut c = SntpClient::<8>::new(SntpSettings::DEFAULT);
        assert_eq!(c.request("10.1.2.3"), Ok(()));
        assert_eq!(c.name, "");
        assert_eq!(c.server, Ipv4Address::new(10, 1, 2, 3));
        assert_eq!(c.request("ntp.lan."), Ok(()));
        assert_eq!(c.name, "ntp.lan");
        assert_eq!(c.request("ntp.local"), Err(SntpError::NameTooLong));
        assert_eq!(c.request("a b"), Err(SntpError::InvalidServer));
        assert_eq!(c.request(""), Err(SntpError::InvalidServer));
        assert_eq!(parse_addr("1.2.3.256"), None);
        assert_eq!(parse_addr("1.2.3"), None);
        let mut none = SntpClient::<0>::new(SntpSettings::DEFAULT);
        assert_eq!(none.request("ntp"), Err(SntpError::NameTooLong));
        assert_eq!(none.request("1.2.3.4"), Ok(()));
    }
}
