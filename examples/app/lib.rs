//! The reference device's application: what the device does with the stack,
//! independent of where it runs. The host example (`examples/device.rs`,
//! Linux TAP) and the Cortex-M firmware both drive this same code; only the
//! NIC, the clock, the entropy seed and the log sink differ.
#![no_std]
#![deny(missing_docs)]

emberstack::include_stack!();

use core::fmt;
use core::task::Poll;
use emberstack::config::StaticIpv4;
use emberstack::dns::{Answer, DnsError, DnsEvent, DnsHandle, QueryType};
use emberstack::iface::{DropReason, Event};
use emberstack::netbios::NetBiosEvent;
use emberstack::nic::Nic;
use emberstack::sntp::{SntpEvent, SntpFailure};
use emberstack::udp::{UdpDatagram, UdpHandle};
use emberstack::wire::{EthernetAddress, Ipv4Address};
use emberstack::{App, Instant};

/// The UDP echo service port (RFC 862).
pub const ECHO_PORT: u16 = 7;

/// Where log lines go: stdout on the host, semihosting on the board.
pub trait Log {
    /// Writes one line (without a newline).
    fn line(&mut self, args: fmt::Arguments<'_>);
}

/// Start-up choices that may override `stack.toml` (command line, QEMU
/// `-append`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Another MAC address.
    pub mac: Option<EthernetAddress>,
    /// A static address instead of the configured one.
    pub ipv4: Option<StaticIpv4>,
    /// Seed for the application's random numbers.
    pub seed: u64,
}

/// The application half: services and logging, called by the stack.
pub struct DeviceApp<L: Log> {
    log: L,
    rng: u64,
    udp_echo: Option<UdpHandle>,
}

/// Name lookups the device can have waiting or running at once.
pub const MAX_LOOKUPS: usize = 4;
/// Longest name a lookup holds.
pub const MAX_LOOKUP_NAME: usize = 64;

/// A name lookup asked for on the command line (`--resolve`,
/// `--resolve-mx`): waits for a free DNS slot, runs, logs its answer.
#[derive(Clone, Copy, Debug)]
struct Lookup {
    kind: QueryType,
    query: Option<DnsHandle>,
    started: Instant,
    len: usize,
    name: [u8; MAX_LOOKUP_NAME],
}

impl Lookup {
    fn name(&self) -> &str {
        let b = self.name.get(..self.len).unwrap_or(&[]);
        core::str::from_utf8(b).unwrap_or("?")
    }
}

/// The reference device: the configured stack plus its application.
pub struct ReferenceDevice<L: Log> {
    /// The stack generated from `stack.toml`.
    pub stack: Stack,
    /// The services.
    pub app: DeviceApp<L>,
    lookups: [Option<Lookup>; MAX_LOOKUPS],
}

impl<L: Log> ReferenceDevice<L> {
    /// Builds the device and binds its services.
    pub fn new(options: Options, log: L) -> Self {
        let mut stack = match options.mac {
            Some(mac) => Stack::with_mac(mac),
            None => Stack::new(),
        };
        if options.ipv4.is_some() {
            stack.set_ipv4(options.ipv4);
        }
        let mut app = DeviceApp {
            log,
            rng: options.seed,
            udp_echo: None,
        };
        match stack.udp_bind(ECHO_PORT) {
            Ok(h) => app.udp_echo = Some(h),
            Err(e) => app.log.line(format_args!("udp: echo not bound: {e}")),
        }
        app.log.line(format_args!(
            "device: {} mac {} ram {} bytes",
            <Device as emberstack::Config>::DEVICE_NAME,
            stack.mac(),
            RAM_BYTES
        ));
        {
            use core::mem::size_of;
            type C = Device;
            app.log.line(format_args!(
                "device: ram dns {} netbios {} sntp {} bytes",
                size_of::<<C as emberstack::Config>::Dns>(),
                size_of::<<C as emberstack::Config>::NetBios>(),
                size_of::<<C as emberstack::Config>::Sntp>(),
            ));
        }
        match stack.ipv4() {
            Some(c) => app.log.line(format_args!(
                "ip: address {} gateway {}",
                c.cidr,
                OptAddr(c.gateway)
            )),
            None => app.log.line(format_args!("ip: no address")),
        }
        ReferenceDevice {
            stack,
            app,
            lookups: [None; MAX_LOOKUPS],
        }
    }

    /// Runs the stack once; true when it did work (poll again at once).
    pub fn poll<N: Nic>(&mut self, now: Instant, nic: &mut N) -> bool {
        let busy = self.stack.poll(now, nic, &mut self.app);
        self.run_lookups(now) || busy
    }

    /// When the device next needs to run without a frame arriving.
    pub fn poll_at(&self, now: Instant) -> Option<Instant> {
        self.stack.poll_at(now)
    }

    /// Looks up the IPv4 address of `name`; logs `dns: NAME A a.b.c.d`
    /// (or `dns: NAME failed NameError`...). False when the name is longer
    /// than [`MAX_LOOKUP_NAME`] or [`MAX_LOOKUPS`] are already waiting.
    pub fn resolve(&mut self, name: &str) -> bool {
        self.lookup(name, QueryType::A)
    }

    /// Looks up the mail exchanges of `domain`; logs one line per
    /// exchange, most preferred first: `dns: DOMAIN MX 10 mail.example.com
    /// a.b.c.d` (`-` when no address was found).
    pub fn resolve_mx(&mut self, domain: &str) -> bool {
        self.lookup(domain, QueryType::Mx)
    }

    fn lookup(&mut self, name: &str, kind: QueryType) -> bool {
        let b = name.as_bytes();
        let Some(free) = self.lookups.iter_mut().find(|l| l.is_none()) else {
            self.app
                .log
                .line(format_args!("dns: {name} not queued: too many lookups"));
            return false;
        };
        let mut buf = [0u8; MAX_LOOKUP_NAME];
        match buf.get_mut(..b.len()) {
            Some(dst) => dst.copy_from_slice(b),
            None => {
                self.app
                    .log
                    .line(format_args!("dns: {name} failed NameTooLong"));
                return false;
            }
        }
        *free = Some(Lookup {
            kind,
            query: None,
            started: Instant::ZERO,
            len: b.len(),
            name: buf,
        });
        true
    }

    /// Starts waiting lookups when a DNS slot is free and logs finished
    /// ones. True when something changed.
    fn run_lookups(&mut self, now: Instant) -> bool {
        let mut changed = false;
        for entry in self.lookups.iter_mut() {
            let Some(l) = entry else { continue };
            let dns = self.stack.dns();
            let Some(query) = l.query else {
                match dns.query(l.name(), l.kind) {
                    Ok(h) => {
                        l.query = Some(h);
                        l.started = now;
                        changed = true;
                    }
                    Err(DnsError::NoFreeSlot) => {}
                    Err(e) => {
                        self.app
                            .log
                            .line(format_args!("dns: {} failed {e}", l.name()));
                        *entry = None;
                        changed = true;
                    }
                }
                continue;
            };
            let ms = now.since(l.started).millis();
            let log = &mut self.app.log;
            match dns.result(query) {
                Poll::Pending => continue,
                Poll::Ready(Ok(Answer::A(a))) => {
                    log.line(format_args!("dns: {} A {a} ({ms} ms)", l.name()))
                }
                Poll::Ready(Ok(Answer::Mx(list))) => {
                    for mx in list {
                        log.line(format_args!(
                            "dns: {} MX {} {} {} ({ms} ms)",
                            l.name(),
                            mx.preference,
                            mx.exchange,
                            OptAddr(mx.addr)
                        ));
                    }
                }
                Poll::Ready(Err(e)) => log.line(format_args!("dns: {} failed {e}", l.name())),
            }
            dns.release(query);
            *entry = None;
            changed = true;
        }
        changed
    }

    /// Asks `server` (an address or a host name) for the time now and
    /// every `[sntp] poll_interval`; logs `sntp: unix=SECONDS stratum=S`.
    /// This is the hook for the DHCP NTP-server option as well: call it
    /// with the option's first address when a lease arrives.
    pub fn start_sntp(&mut self, server: &str) -> bool {
        match self.stack.sntp().request(server) {
            Ok(()) => true,
            Err(e) => {
                self.app
                    .log
                    .line(format_args!("sntp: server {server} refused: {e}"));
                false
            }
        }
    }

    /// [`start_sntp`](Self::start_sntp) for a server given as an address
    /// (the form the DHCP NTP-server option has).
    pub fn start_sntp_addr(&mut self, server: Ipv4Address) {
        self.stack.sntp().request_addr(server);
    }

    /// Logs the frame counters (at exit).
    pub fn log_counters(&mut self) {
        let c = *self.stack.counters();
        self.app.log.line(format_args!(
            "counters: in {} out {} tx-errors {} echo {} udp {} dropped {}",
            c.frames_in,
            c.frames_out,
            c.tx_errors,
            c.echo_replies,
            c.udp_delivered,
            c.dropped_total()
        ));
        for r in DropReason::ALL {
            let n = c.dropped(r);
            if n > 0 {
                self.app
                    .log
                    .line(format_args!("counters: drop {} {}", r.name(), n));
            }
        }
    }

    /// The log sink.
    pub fn log(&mut self) -> &mut L {
        &mut self.app.log
    }
}

struct OptAddr(Option<emberstack::wire::Ipv4Address>);
impl fmt::Display for OptAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(a) => write!(f, "{a}"),
            None => f.write_str("none"),
        }
    }
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

impl<L: Log> App for DeviceApp<L> {
    fn random_u32(&mut self) -> u32 {
        // splitmix64: a seeded generator is enough for ports and ids here.
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as u32
    }

    fn event(&mut self, event: Event) {
        let log = &mut self.log;
        match event {
            Event::ArpLearned { ip, mac } => log.line(format_args!("arp: learned {ip} at {mac}")),
            Event::ArpReplied { to } => log.line(format_args!("arp: replied to {to}")),
            Event::AddressAnnounced { ip } => log.line(format_args!("arp: announced {ip}")),
            Event::EchoReplied { to, len } => {
                log.line(format_args!("icmp: echo reply to {to} len {len}"))
            }
            Event::EchoReplyReceived {
                from, seq_no, len, ..
            } => log.line(format_args!(
                "icmp: echo reply from {from} seq {seq_no} len {len}"
            )),
            Event::PortUnreachable { from, port } => {
                log.line(format_args!("udp: port {port} closed, from {from}"))
            }
            Event::Dns(e) => match e {
                DnsEvent::Sent { query, server } => log.line(format_args!(
                    "dns: query {} sent to {server}",
                    query.index()
                )),
                DnsEvent::Rejected(why) => log.line(format_args!("dns: rejected {}", why.name())),
                // The lookup that asked logs the outcome with its name.
                DnsEvent::Answered { .. } | DnsEvent::Failed { .. } => {}
            },
            Event::NetBios(NetBiosEvent::Answered { to, broadcast }) => log.line(format_args!(
                "netbios: answered {to} ({})",
                if broadcast { "broadcast" } else { "unicast" }
            )),
            Event::NetBios(NetBiosEvent::Malformed { from, why }) => {
                log.line(format_args!("netbios: malformed from {from}: {why:?}"))
            }
            Event::Sntp(e) => match e {
                SntpEvent::Sent { server } => {
                    log.line(format_args!("sntp: request sent to {server}"))
                }
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
                    SntpFailure::Timeout(step) => {
                        log.line(format_args!("sntp: timeout {}", step.name()))
                    }
                    SntpFailure::KissOfDeath(code) => {
                        log.line(format_args!("sntp: kiss-o'-death {}", Kiss(code)))
                    }
                    SntpFailure::Unsynchronised => log.line(format_args!("sntp: unsynchronised")),
                    SntpFailure::Resolve(e) => log.line(format_args!("sntp: resolve failed {e}")),
                    SntpFailure::Send(e) => log.line(format_args!("sntp: send failed {e:?}")),
                },
            },
            // Other hosts' multicast and IPv6 are normal background on a
            // LAN: counted, not logged.
            Event::Dropped(DropReason::NotOurMac | DropReason::UnknownEthertype) => {}
            Event::Dropped(r) => log.line(format_args!("{}: dropped {}", layer(r), r.name())),
        }
    }

    fn udp_datagram<N: Nic>(&mut self, d: &mut UdpDatagram<'_, '_, N>) {
        if d.socket().is_some() && d.socket() == self.udp_echo {
            let (len, to) = (d.len(), d.remote());
            match d.echo() {
                Ok(()) => self.log.line(format_args!("udp: echo {len} bytes to {to}")),
                Err(e) => self
                    .log
                    .line(format_args!("udp: echo to {to} failed: {e:?}")),
            }
        }
    }
}

fn layer(r: DropReason) -> &'static str {
    match r {
        DropReason::ArpMalformed => "arp",
        DropReason::IcmpChecksum | DropReason::IcmpUnsupported => "icmp",
        DropReason::UdpChecksum | DropReason::UdpMalformed | DropReason::UdpNoSocket => "udp",
        DropReason::Tcp => "tcp",
        _ => "ip",
    }
}
