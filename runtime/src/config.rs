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
use crate::service::{Service, ServiceConfig};
use crate::sntp::{SntpPart, SntpSettings};
use crate::tcp::{SentSegment, TcpConfig, TcpSocket};
use crate::time::Duration;
use crate::udp::UdpSocket;
use crate::wire::EthernetAddress;

// Its old path (the type is the interface's).
pub use crate::iface::StaticIpv4;
// Their old path (the slot types below `config` implement them).
pub use crate::table::{EmptySlot, Table};

/// The services read their settings through [`ServiceConfig`]: every
/// configuration provides them.
impl<C: Config> ServiceConfig for C {
    const DEVICE_NAME: &'static str = <C as Config>::DEVICE_NAME;
    const DHCP: bool = <C as Config>::DHCP;
    const STATIC_IPV4: Option<StaticIpv4> = <C as Config>::STATIC_IPV4;
    const DNS: DnsSettings = <C as Config>::DNS;
    const SNTP: SntpSettings = <C as Config>::SNTP;
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
    /// The SNTP client, or `Disabled`; the stack polls it with `Dns`
    /// ([`SntpPart`]).
    type Sntp: Service + SntpPart;
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

/// Defines a test [`Config`]: a unit struct whose `impl Config` takes the
/// items the test writes and the defaults below for every other one, so a
/// test states only what it depends on and a new `Config` item is added
/// here once, not in every test.
///
/// The defaults: device `EMBER`, MAC `02:00:00:00:00:02`, DHCP off and no
/// static address, ARP entries valid 60 s, ping answered, 2 ARP entries,
/// no UDP, raw or TCP sockets, every service `Disabled`, and the TCP
/// segment records and retransmit buffer sized from `TCP` and the socket
/// count (as `emberstack-codegen` sizes them); `FRAMES_PER_POLL`, `DNS`,
/// `SNTP` and `TCP` keep the trait's own defaults.
///
/// ```
/// use emberstack::tcp::{TcpConfig, TcpSocket};
/// emberstack::test_config! {
///     /// Two TCP sockets with a window of 4, everything else default.
///     struct Dut;
///     const TCP: TcpConfig = TcpConfig { window: 4, ..TcpConfig::DEFAULT };
///     type TcpSockets = [TcpSocket; 2];
/// }
/// # use emberstack::config::Table;
/// # use emberstack::Config;
/// # assert_eq!(<<Dut as Config>::TcpSegments as Table<_>>::LEN, 8);
/// ```
///
/// It is for tests (the runtime's, the fuzz targets', an application's
/// own): a device's real configuration is generated from `stack.toml`.
#[macro_export]
macro_rules! test_config {
    ($(#[$meta:meta])* $vis:vis struct $name:ident; $($item:tt)*) => {
        $(#[$meta])*
        $vis struct $name;
        $crate::__impl_with_defaults! {
            impl $crate::Config for $name {
                $($item)*
            }
            defaults {
                const DEVICE_NAME: &'static str = "EMBER";
                const MAC: $crate::wire::EthernetAddress =
                    $crate::wire::EthernetAddress([2, 0, 0, 0, 0, 2]);
                const DHCP: bool = false;
                const STATIC_IPV4: ::core::option::Option<$crate::config::StaticIpv4> =
                    ::core::option::Option::None;
                const ARP_LIFETIME: $crate::Duration = $crate::Duration::from_secs(60);
                const ICMP_ECHO: bool = true;
                type ArpCache = [$crate::iface::arp::ArpEntry; 2];
                type UdpSockets = [$crate::udp::UdpSocket; 0];
                type RawSockets = [$crate::raw::RawSocket; 0];
                type TcpSockets = [$crate::tcp::TcpSocket; 0];
                type TcpSegments = [$crate::tcp::SentSegment; {
                    <$name as $crate::Config>::TCP.segments_per_socket()
                        * <<$name as $crate::Config>::TcpSockets as $crate::config::Table<
                            $crate::tcp::TcpSocket,
                        >>::LEN
                }];
                type TcpBuffer = [u8; {
                    <$name as $crate::Config>::TCP.buffer_per_socket()
                        * <<$name as $crate::Config>::TcpSockets as $crate::config::Table<
                            $crate::tcp::TcpSocket,
                        >>::LEN
                }];
                type Dhcp = $crate::service::Disabled;
                type Dns = $crate::service::Disabled;
                type NetBios = $crate::service::Disabled;
                type Sntp = $crate::service::Disabled;
                type Mdns = $crate::service::Disabled;
                type Smtp = $crate::service::Disabled;
                type Pop3 = $crate::service::Disabled;
            }
        }
    };
}
