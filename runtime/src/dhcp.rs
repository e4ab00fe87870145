//! DHCP client (RFC 2131, options from RFC 2132): gets the interface's
//! address, router, DNS and NTP server from a server and keeps the lease.
//!
//! ```text
//!   Off ──enable──▶ Discovering ──OFFER──▶ Requesting ──ACK──▶ Bound
//!                       ▲   ▲                  │ NAK/timeout      │ T1
//!                       │   └──────────────────┘                  ▼
//!                       │ expiry/NAK       Rebinding ◀──T2── Renewing
//!                       └───────────────────┘  └───────ACK──────────▶ Bound
//! ```
//!
//! - **Discovering**: DISCOVER broadcast (BROADCAST flag set: without an
//!   address we cannot receive unicast), retransmitted with randomized
//!   exponential backoff (RFC 2131 §4.1: 4 s, 8 s, … up to 64 s, ±1 s; the
//!   base and the cap come from `[dhcp]` in `stack.toml`). The first OFFER
//!   carrying a server identifier is taken.
//! - **Requesting**: REQUEST broadcast naming the offered address (option
//!   50) and the server identifier from the OFFER (option 54, which is
//!   right even when a relay agent forwarded the OFFER and the packet's
//!   source is the relay). After [`REQUEST_TRIES`] unanswered REQUESTs, or
//!   a NAK, discovery starts again.
//! - **Bound**: the interface has the leased address. The lease counts from
//!   when the REQUEST that got the ACK was sent (RFC 2131 §4.4.1).
//! - **Renewing** (from T1, default ½ of the lease): REQUEST unicast to the
//!   server, retransmitted after half the time left to T2, at least 60 s
//!   (RFC 2131 §4.4.5).
//! - **Rebinding** (from T2, default ⅞): REQUEST broadcast to any server,
//!   retransmitted after half the time left to expiry, at least 60 s.
//! - **Expiry**: the address is removed from the interface at once (no
//!   frame leaves from a stale address), [`DhcpEvent::Expired`] is
//!   reported, and discovery starts again.
//!
//! Every reply must match our transaction id, be a BOOTREPLY for an
//! Ethernet `chaddr` equal to our MAC and carry the magic cookie. Replies
//! are read straight from the NIC: the 44-byte header, the cookie, then
//! the options one by one (code, length, at most four value bytes); the client
//! itself keeps a few dozen bytes ([`DhcpClient`]).
//!
//! DHCP can be switched off and on at run time ([`DhcpClient::set_enabled`]).
//! Switched off, the client releases its lease (best effort: a RELEASE is
//! sent when the server's MAC address is known) and the interface falls
//! back to the static settings from `stack.toml` (`Config::STATIC_IPV4`),
//! unless the application has put settings of its own on the interface
//! meanwhile ([`Stack::set_ipv4`](crate::Stack::set_ipv4)), which are kept.
//! Switched on, the interface's address is removed and discovery starts.
//!
//! - **Probing** (`[dhcp] arp_probes`, RFC 5227): an ACKed new address is
//!   probed with ARP before use; a conflict is DECLINEd (discovery again
//!   after 10 s); a held address is defended once per 10 s, then given up.
//! - **Rebooting** (INIT-REBOOT, RFC 2131 §3.2): after the link comes back
//!   ([`Service::link_changed`]) or for an address the application kept
//!   ([`DhcpClient::reboot_with`]), a broadcast REQUEST for it without a
//!   server identifier.
//!
//! ACK and NAK must carry a server identifier, naming the server asked
//! (any server in Rebinding and Rebooting); T1/T2 are sanity-checked with
//! floors and a lease under [`MIN_LEASE_SECS`] is not taken.
//!
//! Not done: DHCPINFORM, a client identifier (option 61; the server keys
//! the lease on `chaddr`).

use core::marker::PhantomData;

use crate::iface::StaticIpv4;
use crate::iface::{FnPayload, Io, PayloadSink, SendError, Transport};
use crate::nic::Nic;
use crate::service::{earliest, App, Event, Service, ServiceConfig};
use crate::time::{Duration, Instant};
use crate::udp::UdpDatagram;
use crate::wire::dhcp::{
    mask_prefix_len, option, Header, MessageType, OpCode, Packet, ReplyOptions, CLIENT_PORT,
    FILE_RANGE, HEAD_LEN, HEAD_ZEROS, HTYPE_ETHERNET, MAGIC_COOKIE, MAGIC_OFFSET, MIN_MESSAGE_LEN,
    OPTIONS_OFFSET, SERVER_PORT, SNAME_RANGE,
};
use crate::wire::{put_slice, EthernetAddress, Ipv4Address, Ipv4Cidr};

/// The DHCP settings a device's configuration adds to [`Config`](crate::Config)
/// (`[dhcp]` in `stack.toml`; the generated code implements it).
pub trait DhcpSettings: ServiceConfig {
    /// Delay before the first retransmission of a DISCOVER or REQUEST; it
    /// doubles per retransmission (RFC 2131 §4.1: 4 s).
    const RETRANSMIT_BASE: Duration = Duration::from_secs(4);
    /// The longest retransmission delay (RFC 2131 §4.1: 64 s).
    const RETRANSMIT_MAX: Duration = Duration::from_secs(64);
    /// The host name sent in option 12 (`[dhcp] hostname`); `None`: the
    /// device's name at the time ([`Stack::device_name`](crate::Stack::device_name),
    /// `_` written as `-`), so a rename reaches the server.
    const HOSTNAME: Option<&'static str> = None;
    /// ARP probes for an ACKed address before it is used (`arp_probes`,
    /// RFC 5227 §2.1; 0: none, the probing code is left out).
    const ARP_PROBES: u8 = 0;
    /// Send the host name (option 12, `[dhcp] send_hostname`). Off, the
    /// name code is not built.
    const SEND_HOSTNAME: bool = true;
    /// INIT-REBOOT (RFC 2131 §3.2, `[dhcp] init_reboot`): after the link
    /// comes back, or for an address the application kept. Off, that
    /// code is not built: the lease and its timers go on after a link
    /// change, and [`DhcpClient::reboot_with`] is ignored (discovery).
    const INIT_REBOOT: bool = true;
}

/// Unanswered REQUESTs in the Requesting state before discovery restarts.
pub const REQUEST_TRIES: u8 = 4;
/// The shortest wait between REQUESTs while Renewing or Rebinding
/// (RFC 2131 §4.4.5).
pub const RENEW_RETRANSMIT_MIN: Duration = Duration::from_secs(60);
/// A lease time of all ones means "infinite" (RFC 2132 §9.2).
pub const INFINITE: u32 = u32::MAX;
/// Lease time assumed when an ACK has none (it must have one, RFC 2131
/// Table 3).
pub const DEFAULT_LEASE_SECS: u32 = 3600;
/// How far ahead of the lease's start its expiry may lie (24 days): the
/// stack's clock wraps, and a deadline must stay under 2^31 ms (24.8
/// days) ahead ([`crate::time`]). Lease times stay in seconds as the
/// server sent them; the client's timers take T1 at most ½, T2 at most ⅞
/// and the expiry at most all of this horizon (12, 21 and 24 days), so a
/// longer lease is renewed every 12 days (a client may renew early, RFC
/// 2131 §4.4.5), and if no server answers it is given up after 24 days
/// rather than at its end.
pub const LEASE_HORIZON_SECS: u32 = 24 * 86_400;

/// The shortest lease the client takes (seconds). An ACK granting less is
/// ignored like one without a usable address: the REQUEST is retried on
/// its schedule, then discovery starts again, so a server handing out
/// second-long leases cannot make the client send REQUEST after REQUEST.
pub const MIN_LEASE_SECS: u32 = 16;
/// How soon a send is tried again when it could not go out (the next hop's
/// MAC is being resolved, or the NIC is busy).
const RETRY_SOON: Duration = Duration::from_millis(250);
/// The first ARP probe goes out within this (RFC 5227's PROBE_WAIT is
/// 1 s; see README "DHCP address conflicts" for the shorter LAN timing).
const PROBE_DELAY_MAX_MS: u32 = 100;
/// Between probes (RFC 5227: PROBE_MIN..PROBE_MAX, 1–2 s).
const PROBE_INTERVAL: Duration = Duration::from_millis(250);
/// After the last probe, how long an answer may take (RFC 5227:
/// ANNOUNCE_WAIT, 2 s).
const PROBE_ANSWER_WAIT: Duration = Duration::from_millis(500);
/// After a DECLINE, discovery waits this long (RFC 2131 §3.1 step 5:
/// at least ten seconds, against loops).
const DECLINE_WAIT: Duration = Duration::from_secs(10);
/// RFC 5227 §2.4 DEFEND_INTERVAL: one defence per this long; a second
/// claim within it gives the address up.
pub const DEFEND_INTERVAL: Duration = Duration::from_secs(10);
/// The parameter request list (option 55: subnet mask, router, DNS, NTP,
/// lease time, T1, T2), then END: the end of every DISCOVER and REQUEST
/// (the last byte alone ends the other messages).
const ASKS_END: [u8; 10] = [
    option::PARAMETER_REQUEST_LIST,
    7,
    option::SUBNET_MASK,
    option::ROUTER,
    option::DNS_SERVER,
    option::NTP_SERVER,
    option::LEASE_TIME,
    option::RENEWAL_TIME,
    option::REBINDING_TIME,
    option::END,
];
/// Where END alone starts in [`ASKS_END`].
const END_AT: usize = 9;
/// The replies the client acts on, as option 53's value (RFC 2132 §9.6;
/// [`MessageType`] names them): compared as bytes, with no conversion.
const REPLY_OFFER: u8 = 2;
const REPLY_ACK: u8 = 5;
const REPLY_NAK: u8 = 6;

/// Where the client is (RFC 2131 §4.4, Figure 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DhcpState {
    /// Switched off (or not yet polled): the interface has its static
    /// settings, or whatever the application gave it.
    Off,
    /// Broadcasting DISCOVERs, waiting for an OFFER.
    Discovering,
    /// Broadcasting REQUESTs for an offered address, waiting for an ACK.
    Requesting,
    /// The lease is valid and T1 has not passed.
    Bound,
    /// T1 passed: asking the server that granted the lease to extend it.
    Renewing,
    /// T2 passed: asking any server to extend the lease.
    Rebinding,
    /// INIT-REBOOT (RFC 2131 §3.2, §4.3.2): the link came back (or the
    /// application gave a remembered address): REQUESTs broadcast for the
    /// address we had, without a server identifier, while still using it.
    Rebooting,
    /// ACKed, not yet used: ARP probes ask whether another host holds the
    /// address (RFC 5227 §2.1; RFC 2131 §4.4.1); a conflict is DECLINEd.
    Probing,
}

/// A lease: the settings a server granted and how long they hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    /// Our address and the subnet's prefix (option 1; the classful prefix
    /// when the server sends no mask).
    pub cidr: Ipv4Cidr,
    /// The default router (option 3, the first one).
    pub router: Option<Ipv4Address>,
    /// The DNS server (option 6, the first one).
    pub dns: Option<Ipv4Address>,
    /// The NTP server (option 42, the first one).
    pub ntp: Option<Ipv4Address>,
    /// The server identifier (option 54): where renewals go.
    pub server: Ipv4Address,
    /// Lease time in seconds ([`INFINITE`]: no expiry).
    pub lease_secs: u32,
    /// T1 in seconds from the start of the lease.
    pub renew_secs: u32,
    /// T2 in seconds from the start of the lease.
    pub rebind_secs: u32,
}

impl Lease {
    const EMPTY: Lease = Lease {
        cidr: Ipv4Cidr::new(Ipv4Address::UNSPECIFIED, 0),
        router: None,
        dns: None,
        ntp: None,
        server: Ipv4Address::UNSPECIFIED,
        lease_secs: 0,
        renew_secs: 0,
        rebind_secs: 0,
    };

    /// The interface settings this lease gives.
    // Out of line: binding and probing call it, and so may the application.
    #[inline(never)]
    pub fn ipv4(&self) -> StaticIpv4 {
        StaticIpv4 {
            cidr: self.cidr,
            gateway: self.router,
            dns: self.dns,
        }
    }

    /// True for a lease that never expires.
    pub fn is_infinite(&self) -> bool {
        self.lease_secs == INFINITE
    }
}

/// What the DHCP client did, reported through [`Event::Dhcp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DhcpEvent {
    /// Discovery started (at start, after a NAK, an expiry or unanswered
    /// REQUESTs).
    Discovering,
    /// An OFFER was taken; a REQUEST for it follows.
    Offered {
        /// The offered address.
        address: Ipv4Address,
        /// The offering server (its identifier, option 54).
        server: Ipv4Address,
    },
    /// A new lease is on the interface.
    Bound(Lease),
    /// T1 passed; renewing with the server.
    Renewing,
    /// T2 passed; rebinding with any server.
    Rebinding,
    /// INIT-REBOOT started: asking any server for `address` again (the
    /// link came back).
    Rebooting {
        /// The address asked for.
        address: Ipv4Address,
    },
    /// The ACKed `address` is being probed with ARP before use.
    Probing {
        /// The address.
        address: Ipv4Address,
    },
    /// Another host holds `address` (it answered a probe, probed it too,
    /// or claimed it twice within 10 s while we had it): DECLINE sent,
    /// discovery again after 10 s (RFC 2131 §3.1 step 5).
    Declined {
        /// The address given up.
        address: Ipv4Address,
    },
    /// INIT-REBOOT got no answer: the lease is kept as it was (RFC 2131
    /// §3.2 step 5), in its own timers.
    RebootUnanswered,
    /// The lease was extended (same address).
    Renewed(Lease),
    /// A server refused our REQUEST; discovery starts again.
    Nak {
        /// The refusing server (0.0.0.0 when it did not say).
        server: Ipv4Address,
    },
    /// The lease ran out: the address is gone from the interface.
    Expired {
        /// The address that was given up.
        address: Ipv4Address,
    },
    /// DHCP was switched off.
    Stopped {
        /// The interface settings now in use (the static ones from
        /// `stack.toml`, the application's, or none).
        ipv4: Option<StaticIpv4>,
        /// Whether a RELEASE was sent for the lease we held.
        released: bool,
    },
}

/// The DHCP client service: 60 bytes on a 32-bit MCU (state, transaction
/// id, four deadlines, the lease and a byte of flags).
///
/// `S` is the device's configuration (the generated `Device`). The
/// application reaches it with [`Stack::dhcp`](crate::Stack::dhcp).
pub struct DhcpClient<S: DhcpSettings> {
    state: DhcpState,
    enabled: bool,
    /// Transmissions in the current exchange.
    tries: u8,
    xid: u32,
    /// When the next transmission is due.
    next: Instant,
    /// Start of the current exchange (Discovering, Requesting) or of the
    /// lease (Bound, Renewing, Rebinding).
    began: Instant,
    /// When the last REQUEST went out: the start of the lease its ACK grants.
    sent: Instant,
    /// The lease (Bound and after); the offered address and server while
    /// Requesting; the last address (asked for again) while Discovering.
    lease: Lease,
    /// [`Flags::REBOOT`], [`Flags::CONFLICT`], [`Flags::DEFENDED`] (at
    /// `defended_at`), [`Flags::LOST`]: one byte instead of four, which
    /// keeps the client at 60 bytes rather than 64.
    flags: Flags,
    defended_at: Instant,
    _settings: PhantomData<fn() -> S>,
}

/// One of a lease's three times ([`DhcpClient::lease_at`]).
#[derive(Clone, Copy)]
enum Timer {
    /// Renewal.
    T1,
    /// Rebinding.
    T2,
    /// Expiry.
    Expiry,
}

/// What a message the client sends carries besides its type
/// ([`DhcpClient::send`]), as bits: every address in it is the lease's
/// (its address, its server), so a message is described by which of them
/// go where. Every other field of the header is zero (BOOTREQUEST,
/// Ethernet, our MAC in `chaddr`).
struct Carries;

impl Carries {
    /// The BROADCAST flag.
    const BROADCAST: u8 = 1;
    /// The lease's address as `ciaddr` (Renewing, Rebinding, RELEASE).
    const CIADDR: u8 = 2;
    /// The lease's address as option 50, unless it is 0.0.0.0 (DISCOVER
    /// without a hint).
    const REQUESTED: u8 = 4;
    /// The lease's server as option 54.
    const SERVER_ID: u8 = 8;
    /// Sent to the lease's server rather than broadcast.
    const UNICAST: u8 = 16;
    /// DISCOVER and REQUEST: the host name (option 12, when configured)
    /// and the parameter request list (option 55).
    const ASKS: u8 = 32;
}

/// The client's one-bit states, in a byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Flags(u8);

impl Flags {
    /// The link came back: INIT-REBOOT at the next poll.
    const REBOOT: u8 = 1;
    /// Probing: another host answered for the address or probes it too.
    const CONFLICT: u8 = 2;
    /// The held address was defended (RFC 5227 §2.4 (b)), at `defended_at`.
    const DEFENDED: u8 = 4;
    /// A second claim within [`DEFEND_INTERVAL`]: give the address up.
    const LOST: u8 = 8;

    fn get(self, flag: u8) -> bool {
        self.0 & flag != 0
    }

    /// Sets (`on`) or clears every flag in `flags`.
    fn set(&mut self, flags: u8, on: bool) {
        self.0 = (self.0 & !flags) | if on { flags } else { 0 };
    }

    /// Clears `flag`; whether it was set.
    fn take(&mut self, flag: u8) -> bool {
        let was = self.get(flag);
        self.0 &= !flag;
        was
    }
}

impl<S: DhcpSettings> Default for DhcpClient<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: DhcpSettings> core::fmt::Debug for DhcpClient<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DhcpClient")
            .field("state", &self.state)
            .field("enabled", &self.enabled)
            .field("lease", &self.lease())
            .finish()
    }
}

impl<S: DhcpSettings> DhcpClient<S> {
    /// A client that starts discovery on the first poll when the device
    /// configuration says DHCP (`Config::DHCP`), and is off otherwise.
    pub fn new() -> Self {
        DhcpClient {
            state: DhcpState::Off,
            enabled: S::DHCP,
            tries: 0,
            xid: 0,
            next: Instant::ZERO,
            began: Instant::ZERO,
            sent: Instant::ZERO,
            lease: Lease::EMPTY,
            flags: Flags(0),
            defended_at: Instant::ZERO,
            _settings: PhantomData,
        }
    }

    /// The current state.
    pub fn state(&self) -> DhcpState {
        self.state
    }

    /// The lease in use (Bound, Renewing, Rebinding).
    // Left to LLVM: `#[inline(never)]` (for the application's several
    // reads) cost 8 B on the seventh session's merged tree (inline9).
    pub fn lease(&self) -> Option<Lease> {
        self.holds_lease().then_some(self.lease)
    }

    /// True while a lease is in use ([`Self::lease`] without copying it).
    fn holds_lease(&self) -> bool {
        matches!(
            self.state,
            DhcpState::Bound | DhcpState::Renewing | DhcpState::Rebinding | DhcpState::Rebooting
        ) && self.lease.lease_secs != 0
    }

    /// Whether DHCP is switched on (it takes effect on the next poll).
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Switches DHCP on or off; the change happens on the next poll.
    ///
    /// Off: a held lease is released (best effort) and the interface gets
    /// the static settings from `stack.toml` — unless the application set
    /// its own with [`Stack::set_ipv4`](crate::Stack::set_ipv4), which stay.
    /// On: the interface's address is removed and discovery starts.
    pub fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
    }

    /// Asks for `address` at start (INIT-REBOOT, RFC 2131 §3.2) instead of
    /// discovering: the address the device had before a restart, kept by
    /// the application (in flash). Takes effect when the client starts
    /// (the first poll, or after `restart`); the address is used only once
    /// a server ACKs it; a NAK or no answer after 4 REQUESTs starts
    /// discovery (asking for it).
    ///
    /// With `[dhcp] init_reboot = false` this does nothing: the client
    /// discovers as usual.
    pub fn reboot_with(&mut self, address: Ipv4Address) {
        if S::INIT_REBOOT && self.state == DhcpState::Off {
            self.lease = Lease::EMPTY;
            self.lease.cidr = Ipv4Cidr::new(address, 32);
            self.flags.set(Flags::REBOOT, true);
        }
    }

    /// Drops the lease and starts discovery again on the next poll (for
    /// example after the link came back up on another network). Does
    /// nothing while DHCP is off.
    pub fn restart(&mut self) {
        if self.enabled {
            self.state = DhcpState::Off;
        }
    }

    /// T1 ([`Timer::T1`]), T2 or expiry of the lease as an instant, its
    /// seconds after the lease's start but at most its cap (see
    /// [`LEASE_HORIZON_SECS`]); `None` for an infinite lease. One copy
    /// behind a selector: the three timers are read at a dozen sites,
    /// where a call with a constant is the smallest code.
    #[inline(never)]
    fn lease_at(&self, timer: Timer) -> Option<Instant> {
        // No lease held (a remembered address being asked for): no timers.
        if self.lease.is_infinite() || self.lease.lease_secs == 0 {
            return None;
        }
        let (secs, cap) = match timer {
            Timer::T1 => (self.lease.renew_secs, LEASE_HORIZON_SECS / 2),
            Timer::T2 => (self.lease.rebind_secs, LEASE_HORIZON_SECS / 8 * 7),
            Timer::Expiry => (self.lease.lease_secs, LEASE_HORIZON_SECS),
        };
        Some(
            self.began
                .after(Duration::from_secs(u64::from(secs.min(cap)))),
        )
    }

    fn t1_at(&self) -> Option<Instant> {
        self.lease_at(Timer::T1)
    }

    /// Whether the lease's `timer` has come at `now` (never, for an
    /// infinite lease). Out of line: five timer checks.
    #[inline(never)]
    fn passed(&self, timer: Timer, now: Instant) -> bool {
        self.lease_at(timer).is_some_and(|t| now >= t)
    }

    fn t2_at(&self) -> Option<Instant> {
        self.lease_at(Timer::T2)
    }

    fn expires_at(&self) -> Option<Instant> {
        self.lease_at(Timer::Expiry)
    }

    /// The delay before retransmission number `tries` (0 = after the first
    /// transmission): base × 2^tries up to the cap, randomized by up to
    /// ±1 s (±¼ of the delay when that is shorter).
    pub fn retransmit_delay(tries: u8, random: u32) -> Duration {
        // In 32 bits: a Duration is at most 2^32 - 1 ms.
        let base = u32::try_from(S::RETRANSMIT_BASE.millis())
            .unwrap_or(u32::MAX)
            .max(1);
        let max = u32::try_from(S::RETRANSMIT_MAX.millis())
            .unwrap_or(u32::MAX)
            .max(base);
        // base × 2^tries, capped: doubling stops at the cap.
        let mut nominal = base;
        for _ in 0..tries.min(32) {
            nominal = nominal.saturating_mul(2).min(max);
        }
        let jitter = (nominal / 4).min(1000);
        // Bounded: jitter <= 1000, nominal >= jitter.
        let spread = jitter.wrapping_mul(2).wrapping_add(1);
        let offset = random.checked_rem(spread).unwrap_or(0);
        Duration::from_millis(u64::from(
            nominal.wrapping_sub(jitter).saturating_add(offset),
        ))
    }

    // Out of line: five states enter discovery.
    #[inline(never)]
    fn enter_discovering<A: App>(&mut self, app: &mut A, at: Instant) {
        self.began = at;
        self.enter(app, DhcpState::Discovering, at, DhcpEvent::Discovering);
    }

    /// Where a held lease's timers put it at `now`.
    fn lease_state(&self, now: Instant) -> DhcpState {
        if self.passed(Timer::T2, now) {
            DhcpState::Rebinding
        } else if self.passed(Timer::T1, now) {
            DhcpState::Renewing
        } else {
            DhcpState::Bound
        }
    }

    #[inline(never)]
    fn enter<A: App>(&mut self, app: &mut A, state: DhcpState, now: Instant, event: DhcpEvent) {
        self.state = state;
        self.xid = app.random_u32();
        self.tries = 0;
        self.next = now;
        report(app, event);
    }

    /// Runs the timers once; true when the state changed and the new state
    /// must be looked at too. Out of line: `poll` calls it in a loop,
    /// which the optimiser would otherwise unroll with a copy per pass.
    #[inline(never)]
    fn step<N: Nic, A: App>(&mut self, io: &mut Io<'_, N>, app: &mut A, now: Instant) -> bool {
        let due = now >= self.next;
        if S::ARP_PROBES > 0 && self.holds_lease() && self.flags.take(Flags::LOST) {
            // Claimed twice within 10 s by another host (RFC 5227 §2.4
            // (b)): stop using the address and tell the server.
            io.set_ipv4(None);
            self.decline(io, app, now);
            return true;
        }
        match self.state {
            DhcpState::Off => false,
            DhcpState::Bound if self.passed(Timer::T1, now) => {
                self.enter(app, DhcpState::Renewing, now, DhcpEvent::Renewing);
                true
            }
            DhcpState::Bound => false,
            // Probing (RFC 5227 §2.1.1): a conflict declines the address
            // at once; the probes go out through `transmit`'s schedule.
            DhcpState::Probing if self.flags.get(Flags::CONFLICT) => {
                self.decline(io, app, now);
                true
            }
            DhcpState::Renewing if self.passed(Timer::T2, now) => {
                self.enter(app, DhcpState::Rebinding, now, DhcpEvent::Rebinding);
                true
            }
            // A remembered address being asked for (no lease known) has no
            // expiry.
            DhcpState::Rebinding | DhcpState::Rebooting if self.passed(Timer::Expiry, now) => {
                let address = self.lease.cidr.address;
                io.set_ipv4(None);
                report(app, DhcpEvent::Expired { address });
                // Keep the address as a hint: DISCOVER asks for it again.
                self.enter_discovering(app, now);
                true
            }
            // The states that send: nothing to do until the next send.
            _ if !due => false,
            DhcpState::Probing if self.tries >= S::ARP_PROBES => {
                // Nobody answered: the address is ours.
                self.state = DhcpState::Bound;
                io.set_ipv4(Some(self.lease.ipv4()));
                report(app, DhcpEvent::Bound(self.lease));
                true
            }
            // Unanswered REQUESTs (Rebooting is never entered without
            // INIT_REBOOT).
            DhcpState::Requesting | DhcpState::Rebooting if self.tries >= REQUEST_TRIES => {
                if self.state == DhcpState::Requesting {
                    // The offer is dropped: discovery asks for no address
                    // (and, no lease held, goes below).
                    self.lease = Lease::EMPTY;
                }
                if self.lease.lease_secs == 0 {
                    // No lease held (the offer dropped, or a remembered
                    // address not used before an ACK, which discovery
                    // asks for again).
                    self.enter_discovering(app, now);
                } else {
                    // No server answered: keep using the lease in its own
                    // timers (RFC 2131 §3.2 step 5).
                    // (`tries` restarts too: no held-lease state reads it.)
                    let state = self.lease_state(now);
                    self.enter(app, state, now, DhcpEvent::RebootUnanswered);
                }
                true
            }
            // Discovering, Requesting, Renewing, Rebinding, Rebooting,
            // Probing.
            _ => {
                self.transmit(io, app, now);
                false
            }
        }
    }

    /// Sends the message the current state calls for and schedules the
    /// next one.
    fn transmit<N: Nic, A: App>(&mut self, io: &mut Io<'_, N>, app: &mut A, now: Instant) {
        // What each sending state's message carries (RFC 2131 §4.3.2,
        // §4.4.5; INIT-REBOOT: requested address, no server identifier,
        // `ciaddr` zero, broadcast); Probing sends an ARP probe instead.
        let carries = match self.state {
            DhcpState::Discovering => Carries::BROADCAST | Carries::REQUESTED,
            DhcpState::Requesting => Carries::BROADCAST | Carries::REQUESTED | Carries::SERVER_ID,
            DhcpState::Renewing => Carries::CIADDR | Carries::UNICAST,
            DhcpState::Rebinding => Carries::CIADDR,
            DhcpState::Rebooting => Carries::BROADCAST | Carries::REQUESTED,
            DhcpState::Probing => 0,
            DhcpState::Off | DhcpState::Bound => return,
        };
        // A probe that could not go out, for whatever reason, is tried
        // again soon (RFC 5227 counts probes sent).
        let sent = if S::ARP_PROBES > 0 && self.state == DhcpState::Probing {
            io.send_arp_probe(self.lease.cidr.address)
                .map_err(|_| SendError::Busy)
        } else {
            let kind = if self.state == DhcpState::Discovering {
                MessageType::Discover
            } else {
                MessageType::Request
            };
            // `secs` counts from the exchange's start: T1 for a renewal
            // (the states with `ciaddr`), now for INIT-REBOOT, else
            // `began`.
            let exchange_start = if carries & Carries::CIADDR != 0 {
                self.t1_at().unwrap_or(self.began)
            } else if self.state == DhcpState::Rebooting {
                now
            } else {
                self.began
            };
            let secs = u16::try_from(now.since(exchange_start).secs()).unwrap_or(u16::MAX);
            self.send(io, kind.into(), carries | Carries::ASKS, self.xid, secs)
        };
        // Sent, or failed in a way an immediate retry would not fix: either
        // way the normal schedule applies. Not sent yet: soon again.
        if let Err(SendError::ArpPending | SendError::Busy) = sent {
            self.next = now.after(RETRY_SOON);
            return;
        }
        let tries = self.tries;
        self.tries = tries.saturating_add(1);
        if self.state != DhcpState::Discovering {
            // (Probing: unread until the next REQUEST sets it again.)
            self.sent = now;
        }
        let wait = match self.state {
            DhcpState::Renewing => half_left(now, self.t2_at()),
            DhcpState::Rebinding => half_left(now, self.expires_at()),
            // Between probes (RFC 5227 PROBE_MIN..MAX), then the wait for
            // an answer to the last (ANNOUNCE_WAIT).
            DhcpState::Probing if self.tries < S::ARP_PROBES => PROBE_INTERVAL,
            DhcpState::Probing => PROBE_ANSWER_WAIT,
            _ => Self::retransmit_delay(tries, app.random_u32()),
        };
        self.next = now.after(wait);
    }

    /// Switches off: release, static settings, [`DhcpEvent::Stopped`].
    /// Another host holds the lease's address: DHCPDECLINE (RFC 2131
    /// §4.4.1: broadcast, the address as option 50, the server's
    /// identifier), then discovery after [`DECLINE_WAIT`] without asking
    /// for that address again.
    // Always inlined into `step`, its one caller (LLVM kept it apart):
    // −40 B (inline9).
    #[inline(always)]
    fn decline<N: Nic, A: App>(&mut self, io: &mut Io<'_, N>, app: &mut A, now: Instant) {
        self.flags.set(Flags::CONFLICT, false);
        let address = self.lease.cidr.address;
        // Best effort: the server also learns when the lease is not used.
        let _ = self.tell_server(io, app, MessageType::Decline);
        report(app, DhcpEvent::Declined { address });
        self.lease = Lease::EMPTY;
        self.enter_discovering(app, now.after(DECLINE_WAIT));
    }

    /// Sends a DECLINE (the lease's address as option 50, broadcast) or a
    /// RELEASE (the address as `ciaddr`, to the server) naming the lease's
    /// server, with a fresh transaction id; true when it went out.
    /// (Inlined into its two callers: each passes a constant kind, so the
    /// choice between the two folds away.)
    #[inline(always)]
    fn tell_server<N: Nic, A: App>(
        &self,
        io: &mut Io<'_, N>,
        app: &mut A,
        kind: MessageType,
    ) -> bool {
        let carries = if kind == MessageType::Release {
            Carries::CIADDR | Carries::SERVER_ID | Carries::UNICAST
        } else {
            Carries::REQUESTED | Carries::SERVER_ID
        };
        self.send(io, kind.into(), carries, app.random_u32(), 0)
            .is_ok()
    }

    /// Sends one client message of type `kind` (option 53's value) from
    /// port 68 to port 67, broadcast or to the lease's server, streamed:
    /// the header, the message type, then what `carries` says
    /// ([`Carries`]): the requested address, the server identifier, the
    /// host name (`[dhcp]` settings) and the parameter request list.
    /// (Out of line: `transmit` and `tell_server` send.)
    #[inline(never)]
    fn send<N: Nic>(
        &self,
        io: &mut Io<'_, N>,
        kind: u8,
        carries: u8,
        xid: u32,
        secs: u16,
    ) -> Result<(), SendError> {
        let has = |bit: u8| carries & bit != 0;
        let ours = self.lease.cidr.address;
        let server = self.lease.server;
        let asks = has(Carries::ASKS);
        let mut label = [0u8; crate::iface::name::MAX_LEN];
        let hostname = if S::SEND_HOSTNAME && asks {
            // The label borrows `label` only, so the name is not copied.
            Some(S::HOSTNAME.map_or_else(|| io.device_name().host_label(&mut label), str::as_bytes))
        } else {
            None
        };
        let header = Header {
            opcode: OpCode::Request,
            transaction_id: xid,
            secs,
            broadcast: has(Carries::BROADCAST),
            addresses: [
                if has(Carries::CIADDR) {
                    ours
                } else {
                    Ipv4Address::UNSPECIFIED
                },
                Ipv4Address::UNSPECIFIED,
                Ipv4Address::UNSPECIFIED,
                Ipv4Address::UNSPECIFIED,
            ],
            client_hardware_address: io.mac(),
        };
        let head = header.to_bytes();
        // The cookie and the options before the host name's value: the
        // message type, then the requested address and the server
        // identifier when carried, then the host name's code and length
        // (RFC 2131 §3, RFC 2132).
        let mut pre = [0u8; 4 + 3 + 6 + 6 + 2];
        let [c0, c1, c2, c3] = MAGIC_COOKIE.to_be_bytes();
        put_slice(
            &mut pre,
            0,
            &[c0, c1, c2, c3, option::MESSAGE_TYPE, 1, kind],
        );
        // Bounded: n is at most 7 + 6 + 6 + 2, the length of `pre`.
        let mut n = 7usize;
        if has(Carries::REQUESTED) && !ours.is_unspecified() {
            put_slice(&mut pre, n, &[option::REQUESTED_IP, 4]);
            put_slice(&mut pre, n.wrapping_add(2), &ours.0);
            n = n.wrapping_add(6);
        }
        if has(Carries::SERVER_ID) {
            put_slice(&mut pre, n, &[option::SERVER_ID, 4]);
            put_slice(&mut pre, n.wrapping_add(2), &server.0);
            n = n.wrapping_add(6);
        }
        // The host name's first 255 bytes (a length is a byte; the schema
        // allows 63).
        let name = match hostname {
            Some(h) => {
                let h = h.get(..255).unwrap_or(h);
                put_slice(&mut pre, n, &[option::HOSTNAME, h.len() as u8]);
                n = n.wrapping_add(2);
                h
            }
            None => &[],
        };
        let pre = pre.get(..n).unwrap_or(&[]);
        // The parameter request list and END, or END alone.
        let tail = ASKS_END.get(if asks { 0 } else { END_AT }..).unwrap_or(&[]);
        // Bounded: at most 236 + 21 + 255 + 10 bytes.
        let written = (HEAD_LEN + HEAD_ZEROS)
            .wrapping_add(pre.len())
            .wrapping_add(name.len())
            .wrapping_add(tail.len());
        let dst = if has(Carries::UNICAST) {
            server
        } else {
            Ipv4Address::BROADCAST
        };
        let transport = Transport::Udp {
            src_port: CLIENT_PORT,
            dst_port: SERVER_PORT,
        };
        // Streamed in the order sent; the zeros come a few at a time from
        // the stack.
        let mut payload = FnPayload(|sink: &mut dyn PayloadSink| {
            sink.write(&head);
            zeros(sink, HEAD_ZEROS);
            sink.write(pre);
            sink.write(name);
            sink.write(tail);
            zeros(sink, MIN_MESSAGE_LEN.saturating_sub(written));
        });
        io.send_ipv4(dst, &transport, &mut payload)
    }

    fn stop<N: Nic, A: App>(&mut self, io: &mut Io<'_, N>, app: &mut A) {
        let held = self.holds_lease();
        let address = self.lease.cidr.address;
        let released = held && self.tell_server(io, app, MessageType::Release);
        // The interface is the client's while it has no address or has the
        // leased one; settings the application put there stay.
        let ours = match io.ipv4() {
            None => true,
            Some(c) => held && c.cidr.address == address,
        };
        if ours {
            io.set_ipv4(S::STATIC_IPV4);
        }
        self.state = DhcpState::Off;
        self.lease = Lease::EMPTY;
        report(
            app,
            DhcpEvent::Stopped {
                ipv4: io.ipv4(),
                released,
            },
        );
    }

    /// Acts on a reply that matched our exchange (out of line: inlined
    /// into the stack's UDP dispatch it cost 208 bytes more).
    #[inline(never)]
    fn on_reply<N: Nic, A: App>(
        &mut self,
        io: &mut Io<'_, N>,
        app: &mut A,
        your_ip: Ipv4Address,
        o: &ReplyOptions,
    ) {
        let now = io.now();
        // OFFER, ACK and NAK all carry the server identifier (RFC 2131
        // §4.3.1, table 3: MUST); a reply without one is not acted on.
        let (Some(kind), Some(server)) = (o.message_type, o.server_identifier) else {
            return;
        };
        match (self.state, kind) {
            (DhcpState::Discovering, REPLY_OFFER) => {
                if !is_host(your_ip) {
                    return;
                }
                // Cleared whole, then the two fields set: smaller than the
                // struct written field by field.
                self.lease = Lease::EMPTY;
                self.lease.cidr = Ipv4Cidr::new(your_ip, 32);
                self.lease.server = server;
                self.state = DhcpState::Requesting;
                self.tries = 0;
                self.next = now;
                report(
                    app,
                    DhcpEvent::Offered {
                        address: your_ip,
                        server,
                    },
                );
            }
            (
                DhcpState::Requesting
                | DhcpState::Renewing
                | DhcpState::Rebinding
                | DhcpState::Rebooting,
                REPLY_ACK | REPLY_NAK,
            ) => {
                // In Requesting and Renewing it must be the server we
                // asked; in Rebinding and Rebooting (where we named none)
                // any server may answer.
                if !matches!(self.state, DhcpState::Rebinding | DhcpState::Rebooting)
                    && server != self.lease.server
                {
                    return;
                }
                if kind == REPLY_NAK {
                    return self.on_nak(io, app, now, server);
                }
                // A new address (Requesting, or a remembered one asked for at
                // start) is probed before use; a renewal keeps it.
                let fresh = self.state == DhcpState::Requesting || self.lease.lease_secs == 0;
                let renewal = !fresh && your_ip == self.lease.cidr.address;
                // Stored in place (once, before the two ways on).
                if !lease_from(your_ip, server, o, &mut self.lease) {
                    return;
                }
                self.began = self.sent;
                self.tries = 0;
                if S::ARP_PROBES > 0 && fresh {
                    // Not used until nobody else turns out to hold it.
                    let address = self.lease.cidr.address;
                    self.state = DhcpState::Probing;
                    self.next = after_random(app, now, PROBE_DELAY_MAX_MS);
                    self.flags
                        .set(Flags::CONFLICT | Flags::DEFENDED | Flags::LOST, false);
                    report(app, DhcpEvent::Probing { address });
                    return;
                }
                self.state = DhcpState::Bound;
                io.set_ipv4(Some(self.lease.ipv4()));
                let event = if renewal {
                    DhcpEvent::Renewed(self.lease)
                } else {
                    DhcpEvent::Bound(self.lease)
                };
                report(app, event);
            }
            _ => {}
        }
    }

    /// A NAK from `server` (the one asked, or any while rebinding or
    /// rebooting): the address is dropped and discovery starts again.
    fn on_nak<N: Nic, A: App>(
        &mut self,
        io: &mut Io<'_, N>,
        app: &mut A,
        now: Instant,
        server: Ipv4Address,
    ) {
        if self.state != DhcpState::Requesting {
            io.set_ipv4(None);
        }
        report(app, DhcpEvent::Nak { server });
        // The server said no to this address: do not ask for it
        // again. Wait up to a second, so a server that refuses
        // everything does not cause a storm.
        self.lease = Lease::EMPTY;
        let at = after_random(app, now, 1000);
        self.enter_discovering(app, at);
    }
}

impl<S: DhcpSettings> Service for DhcpClient<S> {
    /// `C` is the same configuration as `S` in generated code; the client
    /// reads its settings from `S`.
    fn new_service<C: ServiceConfig>() -> Self {
        Self::new()
    }

    fn on_udp<N: Nic, A: App>(
        &mut self,
        datagram: &mut UdpDatagram<'_, '_, N>,
        app: &mut A,
    ) -> bool {
        if datagram.local().port != CLIENT_PORT || self.state == DhcpState::Off {
            return false;
        }
        let mac = datagram.io().mac();
        let mut options = ReplyOptions::default();
        if let Some(your_ip) = read_reply(datagram, self.xid, mac, &mut options) {
            self.on_reply(datagram.io(), app, your_ip, &options);
        }
        // Port 68 is ours while DHCP runs, whatever the datagram was.
        true
    }

    fn poll<N: Nic, A: App>(&mut self, io: &mut Io<'_, N>, app: &mut A) {
        let now = io.now();
        if !self.enabled {
            if self.state != DhcpState::Off {
                self.stop(io, app);
            }
            return;
        }
        // The link came back (INIT-REBOOT): ask for the address the client
        // holds or the application kept, in one place for both.
        let mut reboot = S::INIT_REBOOT && self.flags.take(Flags::REBOOT);
        if self.state == DhcpState::Off {
            io.set_ipv4(None);
            // INIT-REBOOT for the address the application kept (no lease
            // known: no timers, so `began` is not read before the ACK
            // sets it), else discovery.
            if !(reboot && is_host(self.lease.cidr.address)) {
                reboot = false;
                self.enter_discovering(app, now);
            }
        } else {
            reboot = reboot && self.holds_lease();
        }
        if reboot {
            let address = self.lease.cidr.address;
            self.enter(
                app,
                DhcpState::Rebooting,
                now,
                DhcpEvent::Rebooting { address },
            );
        }
        // Deadlines passed while the device slept are taken in order
        // (Bound → Renewing → Rebinding → expired → Discovering): bounded.
        for _ in 0..5 {
            if !self.step(io, app, now) {
                break;
            }
        }
    }

    fn poll_at(&self) -> Option<Instant> {
        if self.enabled != (self.state != DhcpState::Off) {
            return Some(Instant::ZERO);
        }
        match self.state {
            DhcpState::Off => None,
            DhcpState::Discovering | DhcpState::Requesting => Some(self.next),
            DhcpState::Bound => self.t1_at(),
            DhcpState::Renewing => earliest(Some(self.next), self.t2_at()),
            DhcpState::Rebinding | DhcpState::Rebooting => {
                earliest(Some(self.next), self.expires_at())
            }
            DhcpState::Probing => Some(self.next),
        }
    }

    /// Address conflicts (RFC 5227), with `arp_probes` > 0: while
    /// probing, ARP from another host with the address as sender, or its
    /// probe for the same address, is a conflict (§2.1.1); while the lease
    /// is held, ARP from another MAC with our address as sender is
    /// answered with one announcement per [`DEFEND_INTERVAL`], and a
    /// second claim within it gives the address up (§2.4 (b)).
    fn on_arp<N: Nic, A: App>(
        &mut self,
        io: &mut Io<'_, N>,
        app: &mut A,
        arp: &crate::wire::arp::Repr,
    ) {
        let mac = arp.source_hardware_addr;
        if S::ARP_PROBES == 0 || mac == io.mac() {
            return;
        }
        let sender = arp.source_protocol_addr;
        let ours = self.lease.cidr.address;
        if self.state == DhcpState::Probing {
            let probe_for_it = arp.operation == crate::wire::arp::Operation::Request
                && sender.is_unspecified()
                && arp.target_protocol_addr == ours;
            if sender == ours || probe_for_it {
                self.flags.set(Flags::CONFLICT, true);
            }
            return;
        }
        if !self.holds_lease() || sender != ours || io.address() != Some(ours) {
            return;
        }
        let now = io.now();
        let recent = self.flags.get(Flags::DEFENDED)
            && now.elapsed_since(self.defended_at) < DEFEND_INTERVAL;
        if recent && self.flags.get(Flags::LOST) {
            return; // given up already: reported once
        }
        if recent {
            self.flags.set(Flags::LOST, true);
        } else {
            self.flags.set(Flags::LOST, false);
            self.flags.set(Flags::DEFENDED, true);
            self.defended_at = now;
            io.announce_address();
        }
        app.event(Event::AddressConflict {
            ip: ours,
            mac,
            defended: !recent,
        });
    }

    fn link_changed(&mut self, up: bool) {
        // Down: nothing (the stack sends nothing meanwhile, the lease's
        // timers go on). Up: the network may be another one now.
        self.flags.set(Flags::REBOOT, S::INIT_REBOOT && up);
    }
}

/// Writes `n` zero bytes, 16 at a time from the stack (no run of zeros
/// kept in flash). Out of line: the empty fields and the padding.
#[inline(never)]
fn zeros(sink: &mut dyn PayloadSink, mut n: usize) {
    let z = [0u8; 16];
    while n > 0 {
        let k = n.min(z.len());
        sink.write(z.get(..k).unwrap_or(&[]));
        // Bounded: k is at most n.
        n = n.wrapping_sub(k);
    }
}

/// Reports `event` to the application (one copy of the wrapping into
/// [`Event::Dhcp`] for every site).
#[inline(never)]
fn report<A: App>(app: &mut A, event: DhcpEvent) {
    app.event(Event::Dhcp(event));
}

/// `now` plus a random delay under `max_ms` milliseconds. (Out of line:
/// the probe's start and the wait after a NAK draw one.)
#[inline(never)]
fn after_random<A: App>(app: &mut A, now: Instant, max_ms: u32) -> Instant {
    let delay = app.random_u32().checked_rem(max_ms).unwrap_or(0);
    now.after(Duration::from_millis(u64::from(delay)))
}

/// Half the time from `now` to `end`, at least [`RENEW_RETRANSMIT_MIN`]
/// (the state's own deadline cuts it short).
fn half_left(now: Instant, end: Option<Instant>) -> Duration {
    let half = end.map_or(RENEW_RETRANSMIT_MIN, |e| {
        Duration::from_millis(e.since(now).millis() / 2)
    });
    half.max(RENEW_RETRANSMIT_MIN)
}

/// An address a host may have: not 0.0.0.0, broadcast, multicast,
/// loopback or class E. A first byte below 224 leaves out multicast
/// (224–239), class E (240–255) and with it the broadcast address. (Out
/// of line: six call sites.)
#[inline(never)]
fn is_host(a: Ipv4Address) -> bool {
    let [first, ..] = a.0;
    !a.is_unspecified() && first != 127 && first < 224
}

/// The prefix an address had before subnets (RFC 1122 §3.3.1.1 defaults).
fn classful_prefix(a: Ipv4Address) -> u8 {
    match a.0[0] {
        0..=127 => 8,
        128..=191 => 16,
        _ => 24,
    }
}

/// T1 and T2 from the server's values when they make sense — `floor ≤
/// T1 < T2 < lease`, where `floor` is ⅛ of the lease and at least
/// [`MIN_LEASE_SECS`]` / 2` — else the RFC 2131 §4.4.5 defaults ½ and ⅞ of
/// the lease. The floor keeps a rogue or broken server (T1 = 0, T1 = T2)
/// from making the client renew continually: a REQUEST storm. Meant for
/// leases of at least [`MIN_LEASE_SECS`] (shorter ones are not taken).
// Left to LLVM: `#[inline(never)]` cost 4 B on the merged tree (inline9).
pub fn lease_timers(lease: u32, t1: Option<u32>, t2: Option<u32>) -> (u32, u32) {
    if lease == INFINITE {
        return (INFINITE, INFINITE);
    }
    let floor = (lease / 8).max(MIN_LEASE_SECS / 2);
    let seven_eighths = u32::try_from(u64::from(lease).saturating_mul(7) / 8).unwrap_or(lease);
    let t2 = t2
        .filter(|&t| t > floor && t < lease)
        .unwrap_or(seven_eighths);
    let t1 = t1
        .filter(|&t| t >= floor && t < t2)
        .unwrap_or_else(|| (lease / 2).min(t2.saturating_sub(1)).max(floor));
    (t1, t2)
}

/// Writes the lease an ACK grants into `lease`; false (and `lease`
/// untouched) when it cannot be used (no usable address, a zero lease
/// time).
fn lease_from(
    your_ip: Ipv4Address,
    server: Ipv4Address,
    o: &ReplyOptions,
    lease: &mut Lease,
) -> bool {
    if !is_host(your_ip) {
        return false;
    }
    let prefix = o
        .subnet_mask
        .and_then(mask_prefix_len)
        // (At most 32: a u32's leading ones.)
        .filter(|&p| p != 0)
        .unwrap_or_else(|| classful_prefix(your_ip));
    let cidr = Ipv4Cidr::new(your_ip, prefix);
    // The subnet's own address (host bits all zero) or its broadcast (all
    // one) is no host's; /31 and /32 have neither.
    let host_bits = !cidr.netmask_u32();
    let host = your_ip.to_u32() & host_bits;
    if prefix <= 30 && (host == 0 || host == host_bits) {
        return false;
    }
    let lease_secs = o.lease_duration.unwrap_or(DEFAULT_LEASE_SECS);
    if lease_secs < MIN_LEASE_SECS {
        return false;
    }
    let (renew_secs, rebind_secs) = lease_timers(lease_secs, o.renew_duration, o.rebind_duration);
    *lease = Lease {
        cidr,
        router: o.router,
        dns: o.dns_server,
        ntp: o.ntp_server,
        server,
        lease_secs,
        renew_secs,
        rebind_secs,
    };
    // Only a host's address is a server: one loop for the three.
    for a in [&mut lease.router, &mut lease.dns, &mut lease.ntp] {
        if !a.is_some_and(is_host) {
            *a = None;
        }
    }
    true
}

/// Reads a datagram as a reply to exchange `xid` for `mac`: its `yiaddr`,
/// with its options in `options`, or `None` when it is not one (or is
/// malformed).
fn read_reply<N: Nic>(
    d: &mut UdpDatagram<'_, '_, N>,
    xid: u32,
    mac: EthernetAddress,
    options: &mut ReplyOptions,
) -> Option<Ipv4Address> {
    if d.len() < OPTIONS_OFFSET {
        return None;
    }
    // `op` through `chaddr`'s six bytes only (the rest of the fixed header
    // is not read): the datagram holds them (its length was checked), and
    // a read cut short would leave zeros where our MAC must be.
    let mut head = [0u8; HEAD_LEN];
    d.read(0, &mut head);
    let p = Packet::new_unchecked(&head[..]);
    if p.opcode() != OpCode::Reply
        || p.hardware_type() != HTYPE_ETHERNET
        || p.hardware_len() != 6
        || p.transaction_id() != xid
        || p.client_hardware_address() != mac
    {
        return None;
    }
    // (A read cut short leaves zeros: not the cookie.)
    let mut cookie = [0u8; 4];
    d.read(MAGIC_OFFSET, &mut cookie);
    if u32::from_be_bytes(cookie) != MAGIC_COOKIE {
        return None;
    }
    let len = d.len();
    scan(d, OPTIONS_OFFSET, len, options)?;
    // RFC 2131 §4.1: the options field first, then `file`, then `sname`.
    let overload = options.overload;
    if overload & 1 != 0 {
        scan(d, FILE_RANGE.start, FILE_RANGE.end, options)?;
    }
    if overload & 2 != 0 {
        scan(d, SNAME_RANGE.start, SNAME_RANGE.end, options)?;
    }
    Some(p.your_ip())
}

/// Feeds the options in `from..to` of the datagram to `options`, one
/// option at a time: its code, its length and at most its first four value
/// bytes are read from the NIC in one read (every option the client takes is at most
/// four bytes, or a list whose first entry is the preferred one), the rest
/// of its value is skipped. `None` when an option is cut short by the end
/// of the area or of the datagram; an area that ends without END is fine.
/// ([`OptionScanner`](crate::wire::dhcp::OptionScanner) does the same over
/// chunks; reading by offset needs no scanner state or chunk buffer.)
fn scan<N: Nic>(
    d: &mut UdpDatagram<'_, '_, N>,
    from: usize,
    to: usize,
    options: &mut ReplyOptions,
) -> Option<()> {
    // The area, or as much of it as the datagram holds: an area the
    // datagram cuts short must have ended (END) before.
    let avail = to.min(d.len());
    let mut at = from;
    while at < to {
        // Code, length and up to four value bytes in one read (what lies
        // past the option is not looked at).
        let mut head = [0u8; 6];
        let got = d.read(at, &mut head);
        let [code, len, value @ ..] = head;
        if got == 0 {
            return None;
        }
        match code {
            // Bounded: `at` is below `to`, an area's end in the message.
            option::PAD => at = at.wrapping_add(1),
            option::END => return Some(()),
            // (An option whose length byte is past the datagram's end
            // reads as length 0 and ends past it: refused below.)
            _ => {
                // Bounded: as above, plus at most 257.
                let end = at.wrapping_add(2).wrapping_add(usize::from(len));
                if end > avail {
                    return None;
                }
                // Read whole: the option ends inside the datagram.
                let prefix = value.get(..usize::from(len.min(4)))?;
                options.absorb(code, prefix, usize::from(len));
                at = end;
            }
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::test_config! {
        struct Dev;
        const DEVICE_NAME: &'static str = "DEV";
        const MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 9]);
        const DHCP: bool = true;
        type ArpCache = [crate::iface::arp::ArpEntry; 1];
        type Dhcp = DhcpClient<Self>;
    }
    impl DhcpSettings for Dev {}

    #[test]
    fn the_reply_types_acted_on_are_option_53s_values() {
        assert_eq!(u8::from(MessageType::Offer), REPLY_OFFER);
        assert_eq!(u8::from(MessageType::Ack), REPLY_ACK);
        assert_eq!(u8::from(MessageType::Nak), REPLY_NAK);
    }

    #[test]
    fn a_host_address_is_not_zero_loopback_multicast_class_e_or_broadcast() {
        for first in 0..=255u8 {
            for a in [
                Ipv4Address::new(first, 0, 0, 0),
                Ipv4Address::new(first, 1, 2, 3),
                Ipv4Address::new(first, 255, 255, 255),
            ] {
                let want = !a.is_unspecified()
                    && !a.is_broadcast()
                    && !a.is_multicast()
                    && first != 127
                    && first < 240;
                assert_eq!(is_host(a), want, "{a}");
            }
        }
    }

    #[test]
    fn backoff_follows_rfc_2131() {
        let d = DhcpClient::<Dev>::retransmit_delay;
        for (tries, nominal) in [
            (0, 4000),
            (1, 8000),
            (2, 16000),
            (3, 32000),
            (4, 64000),
            (5, 64000),
            (200, 64000),
        ] {
            assert_eq!(d(tries, 1000).millis(), nominal, "centre of the range");
            assert_eq!(d(tries, 0).millis(), nominal - 1000);
            assert_eq!(d(tries, 2000).millis(), nominal + 1000);
            for r in [0u32, 7, 999, 1234, u32::MAX] {
                let ms = d(tries, r).millis();
                assert!((nominal - 1000..=nominal + 1000).contains(&ms));
            }
        }
    }

    #[test]
    fn timers_default_and_sanitized() {
        assert_eq!(lease_timers(120, None, None), (60, 105));
        assert_eq!(lease_timers(120, Some(60), Some(105)), (60, 105));
        assert_eq!(lease_timers(30, Some(10), Some(20)), (10, 20));
        // T2 beyond the lease, T1 beyond T2: defaults.
        assert_eq!(lease_timers(100, Some(90), Some(200)), (50, 87));
        assert_eq!(lease_timers(100, Some(95), Some(90)), (50, 90));
        // A rogue server's T1 = 0, T2 = 1 would renew continually.
        assert_eq!(lease_timers(3600, Some(0), Some(1)), (1800, 3150));
        assert_eq!(lease_timers(3600, Some(10), Some(3000)), (1800, 3000));
        assert_eq!(lease_timers(3600, Some(2000), Some(2000)), (1800, 2000));
        assert_eq!(lease_timers(16, Some(1), Some(2)), (8, 14));
        assert_eq!(lease_timers(16, None, None), (8, 14));
        for lease in MIN_LEASE_SECS..2000 {
            let (t1, t2) = lease_timers(lease, Some(lease / 3), Some(lease / 3));
            assert!(t1 >= MIN_LEASE_SECS / 2 && t1 < t2 && t2 < lease, "{lease}");
        }
        assert_eq!(lease_timers(u32::MAX - 1, None, None).1, 3_758_096_382);
        assert_eq!(
            lease_timers(INFINITE, Some(5), Some(6)),
            (INFINITE, INFINITE)
        );
    }

    /// `lease_from` as a value; a refused ACK leaves the lease untouched.
    fn lease_of(ip: Ipv4Address, server: Ipv4Address, o: &ReplyOptions) -> Option<Lease> {
        let mut l = Lease::EMPTY;
        l.lease_secs = 7;
        if lease_from(ip, server, o, &mut l) {
            return Some(l);
        }
        let mut untouched = Lease::EMPTY;
        untouched.lease_secs = 7;
        assert_eq!(l, untouched);
        None
    }

    #[test]
    fn leases_from_acks() {
        let s = Ipv4Address([10, 0, 0, 1]);
        let mut o = ReplyOptions {
            subnet_mask: Some(Ipv4Address([255, 255, 255, 0])),
            router: Some(s),
            lease_duration: Some(600),
            ..ReplyOptions::default()
        };
        let l = lease_of(Ipv4Address([10, 0, 0, 50]), s, &o).unwrap();
        assert_eq!(l.cidr, Ipv4Cidr::new(Ipv4Address([10, 0, 0, 50]), 24));
        assert_eq!((l.renew_secs, l.rebind_secs), (300, 525));
        assert!(lease_of(Ipv4Address([10, 0, 0, 255]), s, &o).is_none());
        assert!(lease_of(Ipv4Address([10, 0, 0, 0]), s, &o).is_none());
        assert!(lease_of(Ipv4Address::UNSPECIFIED, s, &o).is_none());
        assert!(lease_of(Ipv4Address([224, 0, 0, 1]), s, &o).is_none());
        // A mask with holes: the classful prefix instead.
        o.subnet_mask = Some(Ipv4Address([255, 0, 255, 0]));
        let l = lease_of(Ipv4Address([192, 168, 1, 9]), s, &o).unwrap();
        assert_eq!(l.cidr.prefix_len, 24);
        o.subnet_mask = None;
        let l = lease_of(Ipv4Address([10, 1, 2, 3]), s, &o).unwrap();
        assert_eq!(l.cidr.prefix_len, 8);
        o.lease_duration = Some(0);
        assert!(lease_of(Ipv4Address([10, 1, 2, 3]), s, &o).is_none());
        o.lease_duration = None;
        assert_eq!(
            lease_of(Ipv4Address([10, 1, 2, 3]), s, &o)
                .unwrap()
                .lease_secs,
            DEFAULT_LEASE_SECS
        );
    }

    #[test]
    fn client_is_a_few_dozen_bytes() {
        // notes-state.md: the one-bit states in a byte; no pointer-sized
        // field, so the host's layout is the MCU's.
        assert_eq!(core::mem::size_of::<DhcpClient<Dev>>(), 60);
        assert_eq!(DhcpClient::<Dev>::new().state(), DhcpState::Off);
        assert!(DhcpClient::<Dev>::new().is_enabled());
        assert_eq!(DhcpClient::<Dev>::new().poll_at(), Some(Instant::ZERO));
    }
}
