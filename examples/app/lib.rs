//! The reference device's application: what the device does with the stack,
//! independent of where it runs. The host example (`examples/device.rs`,
//! Linux TAP) and the Cortex-M firmware both drive this same code; only the
//! NIC, the clock, the entropy seed and the log sink differ.
#![no_std]
#![deny(missing_docs)]

emberstack::include_stack!();

use core::fmt;
use emberstack::config::StaticIpv4;
use emberstack::dhcp::DhcpEvent;
use emberstack::iface::{DropReason, Event};
use emberstack::nic::Nic;
use emberstack::udp::{UdpDatagram, UdpHandle};
use emberstack::wire::EthernetAddress;
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
    /// A static address instead of the configured one (DHCP is then
    /// switched off).
    pub ipv4: Option<StaticIpv4>,
    /// Switch DHCP off and use the static settings from `stack.toml`.
    pub no_dhcp: bool,
    /// Seed for the application's random numbers.
    pub seed: u64,
}

/// The application half: services and logging, called by the stack.
pub struct DeviceApp<L: Log> {
    log: L,
    rng: u64,
    udp_echo: Option<UdpHandle>,
}

/// The reference device: the configured stack plus its application.
pub struct ReferenceDevice<L: Log> {
    /// The stack generated from `stack.toml`.
    pub stack: Stack,
    /// The services.
    pub app: DeviceApp<L>,
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
        if options.ipv4.is_some() || options.no_dhcp {
            // Before the first poll: the client never touches the address,
            // and with `--no-dhcp` the configured static settings apply.
            stack.dhcp().set_enabled(false);
            if options.ipv4.is_none() {
                stack.set_ipv4(<Device as emberstack::Config>::STATIC_IPV4);
            }
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
        match stack.ipv4() {
            Some(c) => app.log.line(format_args!(
                "ip: address {} gateway {}",
                c.cidr,
                OptAddr(c.gateway)
            )),
            None if stack.dhcp().is_enabled() => app.log.line(format_args!("ip: from dhcp")),
            None => app.log.line(format_args!("ip: no address")),
        }
        ReferenceDevice { stack, app }
    }

    /// Runs the stack once; true when it did work (poll again at once).
    pub fn poll<N: Nic>(&mut self, now: Instant, nic: &mut N) -> bool {
        self.stack.poll(now, nic, &mut self.app)
    }

    /// When the device next needs to run without a frame arriving.
    pub fn poll_at(&self, now: Instant) -> Option<Instant> {
        self.stack.poll_at(now)
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
            Event::Dhcp(e) => log_dhcp(log, e),
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

/// One `dhcp: ...` line per client event.
fn log_dhcp<L: Log>(log: &mut L, e: DhcpEvent) {
    match e {
        DhcpEvent::Discovering => log.line(format_args!("dhcp: discovering")),
        DhcpEvent::Offered { address, server } => {
            log.line(format_args!("dhcp: offer {address} from {server}"))
        }
        DhcpEvent::Bound(l) => log.line(format_args!(
            "dhcp: bound {} gw {} dns {} lease {}s ntp {} server {} t1 {}s t2 {}s",
            l.cidr,
            OptAddr(l.router),
            OptAddr(l.dns),
            l.lease_secs,
            OptAddr(l.ntp),
            l.server,
            l.renew_secs,
            l.rebind_secs
        )),
        DhcpEvent::Renewing => log.line(format_args!("dhcp: renewing")),
        DhcpEvent::Rebinding => log.line(format_args!("dhcp: rebinding")),
        DhcpEvent::Renewed(l) => log.line(format_args!(
            "dhcp: renewed {} lease {}s server {}",
            l.cidr, l.lease_secs, l.server
        )),
        DhcpEvent::Nak { server } => log.line(format_args!("dhcp: nak from {server}")),
        DhcpEvent::Expired { address } => log.line(format_args!("dhcp: expired {address}")),
        DhcpEvent::Stopped { ipv4, released } => {
            let released = if released { ", lease released" } else { "" };
            match ipv4 {
                Some(c) => log.line(format_args!("dhcp: off, address {}{released}", c.cidr)),
                None => log.line(format_args!("dhcp: off, no address{released}")),
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
