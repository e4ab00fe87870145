//! The build-time configuration a device's `stack.toml` becomes.
//!
//! `emberstack-codegen` writes one `impl Config for Device` whose associated
//! types size every table. The runtime's logic works on slices of those
//! tables, so two configurations differing only in a count share all code.
//! A disabled component is a zero-length table (or a `false` constant); its
//! code is removed by the optimiser because the branch into it is constant.

use crate::dns::{DnsSettings, Resolver};
use crate::iface::arp::ArpEntry;
use crate::raw::RawSocket;
use crate::service::Service;
use crate::sntp::SntpSettings;
use crate::tcp::{SentSegment, TcpConfig, TcpSocket};
use crate::time::Duration;
use crate::udp::UdpSocket;
use crate::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};

/// Fixed-size storage for a table of `T`: implemented for `[T; N]`.
pub trait Table<T> {
    /// The number of slots, known at compile time.
    const LEN: usize;
    /// A table of empty slots.
    fn new_table() -> Self;
    /// All slots.
    fn slots(&self) -> &[T];
    /// All slots, mutably.
    fn slots_mut(&mut self) -> &mut [T];
}

impl<T: Default, const N: usize> Table<T> for [T; N] {
    const LEN: usize = N;
    fn new_table() -> Self {
        core::array::from_fn(|_| T::default())
    }
    fn slots(&self) -> &[T] {
        self
    }
    fn slots_mut(&mut self) -> &mut [T] {
        self
    }
}

/// Static IPv4 settings: the address when DHCP is off (or as its fallback).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaticIpv4 {
    /// Address and prefix.
    pub cidr: Ipv4Cidr,
    /// Default router, if any.
    pub gateway: Option<Ipv4Address>,
    /// DNS server, if any.
    pub dns: Option<Ipv4Address>,
}

/// A device's configuration, generated from `stack.toml`.
pub trait Config: 'static {
    /// The device name (≤ 15 characters): NetBIOS name and DHCP hostname.
    const DEVICE_NAME: &'static str;
    /// The MAC address used when the NIC has none of its own.
    const MAC: EthernetAddress;
    /// Whether the address comes from DHCP at start.
    const DHCP: bool;
    /// Static address settings (used when `DHCP` is false; optional otherwise).
    const STATIC_IPV4: Option<StaticIpv4>;
    /// How long an ARP cache entry stays valid.
    const ARP_LIFETIME: Duration;
    /// Answer ICMP echo requests.
    const ICMP_ECHO: bool;
    /// Frames handled per call to `poll`, so one call is bounded in time.
    const FRAMES_PER_POLL: usize = 8;
    /// DNS client settings (`[dns]`), used when `Dns` is the client.
    const DNS: DnsSettings = DnsSettings::DEFAULT;
    /// SNTP client settings (`[sntp]`), used when `Sntp` is the client.
    const SNTP: SntpSettings = SntpSettings::DEFAULT;

    /// The ARP cache: `[ArpEntry; N]`.
    type ArpCache: Table<ArpEntry>;
    /// The UDP socket table: `[UdpSocket; N]` (`N = 0` disables UDP).
    type UdpSockets: Table<UdpSocket>;

    /// TCP settings (`[tcp]`).
    const TCP: TcpConfig = TcpConfig::DEFAULT;
    /// The TCP socket table: `[TcpSocket; N]` (`N = 0` disables TCP).
    type TcpSockets: Table<TcpSocket>;
    /// In-flight segment records: `[SentSegment; N × segments per socket]`.
    type TcpSegments: Table<SentSegment>;
    /// Retransmit buffers in buffer mode: `[u8; N × window × mss]`, else
    /// `[u8; 0]`.
    type TcpBuffer: Table<u8>;

    /// The DHCP client, or [`Disabled`](crate::service::Disabled).
    type Dhcp: Service;
    /// The DNS client, or `Disabled`. Other services resolve names through
    /// it (its [`Resolver`] side).
    type Dns: Service + Resolver;
    /// The NetBIOS name responder, or `Disabled`.
    type NetBios: Service;
    /// The SNTP client, or `Disabled`.
    type Sntp: Service;
    /// The mDNS responder (`[mdns]`), or `Disabled`.
    type Mdns: Service;

    /// The SMTP client ([`SmtpClient<Device>`](crate::smtp::SmtpClient)),
    /// or `Disabled`. Not part of the stack: the application embeds it
    /// (see [`mail`](crate::mail)).
    type Smtp: Default;
    /// The POP3 client ([`Pop3Client<Device>`](crate::pop3::Pop3Client)),
    /// or `Disabled`; embedded by the application like `Smtp`.
    type Pop3: Default;

    /// Raw IPv4 sockets (`[raw] sockets`; `[RawSocket; 0]` without).
    type RawSockets: Table<RawSocket>;
}
