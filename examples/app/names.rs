//! Name services of the reference device: `--resolve` / `--resolve-mx`
//! lookups and SNTP, plus their log lines.
//!
//! The runtime gives a disabled protocol no API at all (using it is a
//! compile error). The device app, though, runs several configurations
//! (`examples/configs/`), some without DNS or SNTP; these app-local traits
//! let its generic code treat "not configured" as a logged refusal.

use crate::{Log, OptAddr};
use core::fmt;
use core::task::Poll;
use emberstack::dns::{Answer, DnsClient, DnsError, DnsEvent, DnsHandle, QueryType};
use emberstack::netbios::NetBiosEvent;
use emberstack::service::Disabled;
use emberstack::sntp::{SntpClient, SntpError, SntpEvent, SntpFailure};
use emberstack::wire::Ipv4Address;
use emberstack::Instant;

/// Name lookups the device can have waiting or running at once.
pub const MAX_LOOKUPS: usize = 4;
/// Longest name a lookup holds.
pub const MAX_LOOKUP_NAME: usize = 64;

/// The DNS client as the device app uses it, or its absence.
pub trait Lookups {
    /// Starts a query.
    fn start(&mut self, name: &str, kind: QueryType) -> Result<DnsHandle, DnsError>;
    /// Logs the outcome of a finished query (one line per answer) and
    /// frees it; `Pending` while it runs.
    fn finish(&mut self, query: DnsHandle, name: &str, ms: u64, log: &mut dyn Log) -> Poll<()>;
}

impl<const S: usize, const N: usize, const MX: bool, const CNAME: bool> Lookups
    for DnsClient<S, N, MX, CNAME>
{
    fn start(&mut self, name: &str, kind: QueryType) -> Result<DnsHandle, DnsError> {
        self.query(name, kind)
    }

    fn finish(&mut self, query: DnsHandle, name: &str, ms: u64, log: &mut dyn Log) -> Poll<()> {
        match self.result(query) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(Answer::A(a))) => log.line(format_args!("dns: {name} A {a} ({ms} ms)")),
            Poll::Ready(Ok(Answer::Mx(list))) => {
                for mx in list {
                    log.line(format_args!(
                        "dns: {name} MX {} {} {} ({ms} ms)",
                        mx.preference,
                        mx.exchange,
                        OptAddr(mx.addr)
                    ));
                }
            }
            Poll::Ready(Err(e)) => log.line(format_args!("dns: {name} failed {e}")),
        }
        self.release(query);
        Poll::Ready(())
    }
}

impl Lookups for Disabled {
    fn start(&mut self, _: &str, _: QueryType) -> Result<DnsHandle, DnsError> {
        Err(DnsError::Disabled)
    }
    fn finish(&mut self, _: DnsHandle, _: &str, _: u64, _: &mut dyn Log) -> Poll<()> {
        Poll::Ready(())
    }
}

/// The SNTP client as the device app uses it, or its absence.
pub trait TimeSync {
    /// Asks `server` (address or name) for the time, now and periodically
    /// (the client keeps the name: it is resolved for every request).
    fn start(&mut self, server: &'static str) -> Result<(), SntpError>;
    /// The same for an address (the DHCP NTP-server option's form).
    fn start_addr(&mut self, server: Ipv4Address) -> Result<(), SntpError>;
    /// Unix time at local instant `now`, once a server answered.
    fn unix_time(&self, now: emberstack::Instant) -> Option<i64>;
}

impl<const N: usize> TimeSync for SntpClient<N> {
    fn unix_time(&self, now: emberstack::Instant) -> Option<i64> {
        self.now(now).map(|t| t.unix_secs())
    }
    fn start(&mut self, server: &'static str) -> Result<(), SntpError> {
        self.request(server)
    }
    fn start_addr(&mut self, server: Ipv4Address) -> Result<(), SntpError> {
        self.request_addr(server);
        Ok(())
    }
}

impl TimeSync for Disabled {
    fn unix_time(&self, _: emberstack::Instant) -> Option<i64> {
        None
    }
    fn start(&mut self, _: &'static str) -> Result<(), SntpError> {
        Err(SntpError::Disabled)
    }
    fn start_addr(&mut self, _: Ipv4Address) -> Result<(), SntpError> {
        Err(SntpError::Disabled)
    }
}

/// A lookup asked for on the command line: waits for a free DNS slot,
/// runs, logs its answer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lookup {
    kind: QueryType,
    query: Option<DnsHandle>,
    started: Instant,
    len: usize,
    name: [u8; MAX_LOOKUP_NAME],
}

impl Lookup {
    /// A waiting lookup, `None` when the name is too long.
    pub(crate) fn new(name: &str, kind: QueryType) -> Option<Lookup> {
        let b = name.as_bytes();
        let mut buf = [0u8; MAX_LOOKUP_NAME];
        buf.get_mut(..b.len())?.copy_from_slice(b);
        Some(Lookup {
            kind,
            query: None,
            started: Instant::ZERO,
            len: b.len(),
            name: buf,
        })
    }

    fn name(&self) -> &str {
        let b = self.name.get(..self.len).unwrap_or(&[]);
        core::str::from_utf8(b).unwrap_or("?")
    }
}

/// Starts waiting lookups when a DNS slot is free and logs finished ones.
/// True when something changed.
pub(crate) fn run_lookups<D: Lookups>(
    lookups: &mut [Option<Lookup>],
    dns: &mut D,
    now: Instant,
    log: &mut dyn Log,
) -> bool {
    let mut changed = false;
    for entry in lookups.iter_mut() {
        let Some(l) = entry else { continue };
        let Some(query) = l.query else {
            match dns.start(l.name(), l.kind) {
                Ok(h) => {
                    l.query = Some(h);
                    l.started = now;
                    changed = true;
                }
                Err(DnsError::NoFreeSlot) => {}
                Err(e) => {
                    log.line(format_args!("dns: {} failed {e}", l.name()));
                    *entry = None;
                    changed = true;
                }
            }
            continue;
        };
        let ms = now.since(l.started).millis();
        if dns.finish(query, l.name(), ms, log).is_ready() {
            *entry = None;
            changed = true;
        }
    }
    changed
}

/// A kiss-o'-death code as text (`RATE`), non-printable bytes as `?`.
struct Kiss([u8; 4]);
impl fmt::Display for Kiss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &c in &self.0 {
            let c = if c.is_ascii_graphic() { c as char } else { '?' };
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// Log lines for DNS events (the lookup that asked logs the outcome).
pub(crate) fn log_dns(log: &mut dyn Log, e: DnsEvent) {
    match e {
        DnsEvent::Sent { query, server } => log.line(format_args!(
            "dns: query {} sent to {server}",
            query.index()
        )),
        DnsEvent::Rejected(why) => log.line(format_args!("dns: rejected {}", why.name())),
        DnsEvent::Answered { .. } | DnsEvent::Failed { .. } => {}
    }
}

/// Log lines for NetBIOS events.
pub(crate) fn log_netbios(log: &mut dyn Log, e: NetBiosEvent) {
    match e {
        NetBiosEvent::Answered { to, broadcast } => log.line(format_args!(
            "netbios: answered {to} ({})",
            if broadcast { "broadcast" } else { "unicast" }
        )),
        NetBiosEvent::Malformed { from, why } => {
            log.line(format_args!("netbios: malformed from {from}: {why:?}"))
        }
    }
}

/// Log lines for SNTP events (`sntp: unix=SECONDS stratum=S ...`).
pub(crate) fn log_sntp(log: &mut dyn Log, e: SntpEvent) {
    match e {
        SntpEvent::Sent { server } => log.line(format_args!("sntp: request sent to {server}")),
        SntpEvent::Synced(t) => log.line(format_args!(
            "sntp: unix={} stratum={} era={} server={} unix_ms={}",
            t.unix_secs(),
            t.stratum,
            t.time.era(),
            t.server,
            t.time.unix_millis()
        )),
        SntpEvent::Rejected(why) => log.line(format_args!("sntp: rejected {}", why.name())),
        SntpEvent::Failed(f) => match f {
            SntpFailure::Timeout(step) => log.line(format_args!("sntp: timeout {}", step.name())),
            SntpFailure::KissOfDeath(code) => {
                log.line(format_args!("sntp: kiss-o'-death {}", Kiss(code)))
            }
            SntpFailure::Unsynchronised => log.line(format_args!("sntp: unsynchronised")),
            SntpFailure::Resolve(e) => log.line(format_args!("sntp: resolve failed {e}")),
            SntpFailure::Send(e) => log.line(format_args!("sntp: send failed {e:?}")),
        },
    }
}

/// The DHCP client as the device app uses it, or its absence.
pub trait LeaseClient {
    /// Whether the client is running.
    fn running(&self) -> bool;
    /// Switches the client off (the app's own address then stands).
    fn stop(&mut self);
    /// Switches the client on (discovery starts on the next poll); false
    /// when it is not built in.
    fn enable(&mut self) -> bool;
    /// Its state, `None` when it is not built in.
    fn state(&self) -> Option<emberstack::dhcp::DhcpState>;
    /// The lease held, if any.
    fn lease(&self) -> Option<emberstack::dhcp::Lease>;
    /// INIT-REBOOT for a remembered address at start (nothing when the
    /// client is not built in).
    fn reboot_with(&mut self, address: emberstack::wire::Ipv4Address);
}

impl<S: emberstack::dhcp::DhcpSettings> LeaseClient for emberstack::dhcp::DhcpClient<S> {
    fn running(&self) -> bool {
        self.is_enabled()
    }
    fn stop(&mut self) {
        self.set_enabled(false);
    }
    fn enable(&mut self) -> bool {
        self.set_enabled(true);
        true
    }
    fn state(&self) -> Option<emberstack::dhcp::DhcpState> {
        Some(emberstack::dhcp::DhcpClient::state(self))
    }
    fn lease(&self) -> Option<emberstack::dhcp::Lease> {
        emberstack::dhcp::DhcpClient::lease(self)
    }
    fn reboot_with(&mut self, address: emberstack::wire::Ipv4Address) {
        emberstack::dhcp::DhcpClient::reboot_with(self, address)
    }
}

impl LeaseClient for Disabled {
    fn running(&self) -> bool {
        false
    }
    fn stop(&mut self) {}
    fn enable(&mut self) -> bool {
        false
    }
    fn state(&self) -> Option<emberstack::dhcp::DhcpState> {
        None
    }
    fn lease(&self) -> Option<emberstack::dhcp::Lease> {
        None
    }
    fn reboot_with(&mut self, _: emberstack::wire::Ipv4Address) {}
}
