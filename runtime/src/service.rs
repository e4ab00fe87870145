//! Protocol services: DHCP, DNS, NetBIOS, SNTP, mDNS — and the application
//! as the stack sees it ([`App`], the [`Event`]s it hears).
//!
//! A service is a state machine the stack owns and advances in `poll`. It
//! is offered each verified UDP datagram before the socket table (it takes
//! the ones for its ports), gets a turn to send and run timers, and says
//! when it next needs a turn.
//!
//! Each service occupies an associated type of [`Config`](crate::Config);
//! a protocol switched off in `stack.toml` is [`Disabled`], whose hooks
//! are empty, so none of its code is in the binary and calling its API
//! does not compile.
//!
//! `App` and `Event` live here, the lowest layer that can hold them
//! (`Event` carries the services' events); the interface and the
//! transport below name only their own owner traits, which every `App`
//! implements (below).
use crate::dhcp::DhcpEvent;
use crate::dns::{DnsEvent, DnsSettings};
use crate::iface::{DropReason, IfaceEvents, Io, PayloadSink, StaticIpv4};
use crate::mdns::MdnsEvent;
use crate::netbios::NetBiosEvent;
use crate::nic::Nic;
use crate::raw::{RawOwner, RawPacket};
use crate::sntp::{SntpEvent, SntpSettings};
use crate::tcp::{TcpEvent, TcpHandle, TcpOwner, TcpReader};
use crate::time::Instant;
use crate::udp::{UdpDatagram, UdpOwner};
use crate::wire::{EthernetAddress, Ipv4Address};

/// The application as the stack sees it during `poll`: a source of
/// randomness and the receiver of datagrams and events.
pub trait App {
    /// A random 32-bit value (ephemeral ports, DNS ids, TCP ISNs, DHCP
    /// xids). Use a hardware RNG or a seeded CSPRNG.
    fn random_u32(&mut self) -> u32;

    /// Something happened that a log may want (see [`Event`]).
    fn event(&mut self, event: Event) {
        let _ = event;
    }

    /// A datagram arrived for a socket the application bound. Its payload
    /// is read from the NIC during this call and is gone afterwards.
    fn udp_datagram<N: Nic>(&mut self, datagram: &mut UdpDatagram<'_, '_, N>) {
        let _ = datagram;
    }

    /// A TCP socket the application owns changed state (see [`TcpEvent`]).
    fn tcp_event(&mut self, socket: TcpHandle, event: TcpEvent) {
        let _ = (socket, event);
    }

    /// In-order TCP data arrived, readable from the NIC during this call.
    /// Return how many bytes (a prefix) were taken; only those are
    /// acknowledged, the peer resends the rest. The default discards all.
    fn tcp_received<N: Nic>(&mut self, socket: TcpHandle, data: &mut TcpReader<'_, N>) -> usize {
        let _ = socket;
        data.len()
    }

    /// Write the bytes of the outgoing stream starting at `offset` (at most
    /// `max`; fewer or none is fine) into `sink`. **The same offset must
    /// always give the same bytes**: a lost segment is sent again by asking
    /// for its offset again (see [`tcp`](crate::tcp)). Offsets count from 0
    /// at the start of the stream, modulo 2^32.
    fn tcp_produce(
        &mut self,
        socket: TcpHandle,
        offset: u32,
        max: usize,
        sink: &mut dyn PayloadSink,
    ) {
        let _ = (socket, offset, max, sink);
    }

    /// Asked when what the application has for the socket so far ends
    /// within the segment about to go out (or has ended: its `tcp_produce`
    /// has nothing beyond): return true to end the stream there (the FIN
    /// rides on that last segment, as with
    /// [`Stack::tcp_close`](crate::Stack::tcp_close)). Lets an owner close
    /// from inside the callbacks, e.g. after a response with
    /// `Connection: close`. The answer must not depend on how much of the
    /// data was already produced.
    fn tcp_wants_close(&mut self, socket: TcpHandle) -> bool {
        let _ = socket;
        false
    }

    /// Bytes the application can take on this socket now; the advertised
    /// window is at most this (the stack extends it in whole segments
    /// only: receiver silly-window avoidance). The default is unlimited.
    fn tcp_recv_space(&mut self, socket: TcpHandle) -> usize {
        let _ = socket;
        usize::MAX
    }

    /// A packet arrived for an open raw socket
    /// ([`Stack::raw_open`](crate::Stack::raw_open)); its payload is read from the NIC by offset
    /// while this runs. Default: ignored.
    fn raw_received<N: Nic>(&mut self, packet: &mut RawPacket<'_, '_, N>) {
        let _ = packet;
    }
}

/// Something that happened inside `poll`, for the application's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A frame was dropped.
    Dropped(DropReason),
    /// An ARP reply (or request to us) taught us a mapping.
    ArpLearned {
        /// The address.
        ip: Ipv4Address,
        /// Its MAC.
        mac: EthernetAddress,
    },
    /// We answered an ARP request for our address.
    ArpReplied {
        /// The asker.
        to: Ipv4Address,
    },
    /// The NIC reported the link down (`up: false`: nothing is sent until
    /// it is back) or up again (the address is announced, DHCP asks for its
    /// lease). Reported once per change.
    Link {
        /// The new state.
        up: bool,
    },
    /// Another host (`mac`) claims our leased address `ip` in ARP (RFC
    /// 5227 §2.4; the DHCP client's, with `[dhcp] arp_probes` > 0).
    /// `defended`: the first in 10 s, answered with an announcement;
    /// otherwise a second claim within 10 s: the address is given up
    /// (declined, discovery again).
    AddressConflict {
        /// Our address.
        ip: Ipv4Address,
        /// The other host.
        mac: EthernetAddress,
        /// Answered with an announcement (else given up).
        defended: bool,
    },
    /// A gratuitous ARP announced our address.
    AddressAnnounced {
        /// Our address.
        ip: Ipv4Address,
    },
    /// An echo request was answered.
    EchoReplied {
        /// The pinger.
        to: Ipv4Address,
        /// Echo data length.
        len: usize,
    },
    /// An answer to our own echo request (see [`Io::send_echo_request`](crate::iface::Io::send_echo_request)).
    EchoReplyReceived {
        /// Who answered.
        from: Ipv4Address,
        /// Identifier we sent.
        ident: u16,
        /// Sequence number we sent.
        seq_no: u16,
        /// Echo data length.
        len: usize,
    },
    /// A datagram to a closed UDP port was answered with ICMP port
    /// unreachable (unicast only).
    PortUnreachable {
        /// The sender.
        from: Ipv4Address,
        /// The closed port.
        port: u16,
    },
    /// The DNS client sent, answered, failed or rejected something.
    Dns(DnsEvent),
    /// The NetBIOS name responder answered or ignored a query.
    NetBios(NetBiosEvent),
    /// The SNTP client's request went out, was answered, failed or timed out.
    Sntp(SntpEvent),
    /// The DHCP client did something (see [`DhcpEvent`]).
    Dhcp(DhcpEvent),
    /// From the mDNS responder.
    Mdns(MdnsEvent),
}

// The layers below name only their own owner traits; the application's
// one `App` is each of them.

impl<A: App> TcpOwner for A {
    fn tcp_event(&mut self, socket: TcpHandle, event: TcpEvent) {
        App::tcp_event(self, socket, event)
    }
    // Out of line: the application's reader stays one function (measured
    // smaller than inlined into TCP's delivery).
    #[inline(never)]
    fn tcp_received<N: Nic>(&mut self, socket: TcpHandle, data: &mut TcpReader<'_, N>) -> usize {
        App::tcp_received(self, socket, data)
    }
    fn tcp_produce(
        &mut self,
        socket: TcpHandle,
        offset: u32,
        max: usize,
        sink: &mut dyn PayloadSink,
    ) {
        App::tcp_produce(self, socket, offset, max, sink)
    }
    fn tcp_recv_space(&mut self, socket: TcpHandle) -> usize {
        App::tcp_recv_space(self, socket)
    }
    fn tcp_wants_close(&mut self, socket: TcpHandle) -> bool {
        App::tcp_wants_close(self, socket)
    }
    fn tcp_random(&mut self) -> u32 {
        App::random_u32(self)
    }
}

impl<A: App> UdpOwner for A {
    fn udp_deliver<N: Nic>(&mut self, datagram: &mut UdpDatagram<'_, '_, N>) {
        App::udp_datagram(self, datagram)
    }
}

impl<A: App> RawOwner for A {
    fn raw_deliver<N: Nic>(&mut self, packet: &mut RawPacket<'_, '_, N>) {
        App::raw_received(self, packet)
    }
}

impl<A: App> IfaceEvents for A {
    fn dropped(&mut self, reason: DropReason) {
        self.event(Event::Dropped(reason));
    }
    fn arp_learned(&mut self, ip: Ipv4Address, mac: EthernetAddress) {
        self.event(Event::ArpLearned { ip, mac });
    }
    fn arp_replied(&mut self, to: Ipv4Address) {
        self.event(Event::ArpReplied { to });
    }
    fn echo_replied(&mut self, to: Ipv4Address, len: usize) {
        self.event(Event::EchoReplied { to, len });
    }
    fn echo_reply_received(&mut self, from: Ipv4Address, ident: u16, seq_no: u16, len: usize) {
        self.event(Event::EchoReplyReceived {
            from,
            ident,
            seq_no,
            len,
        });
    }
    fn port_unreachable(&mut self, from: Ipv4Address, port: u16) {
        self.event(Event::PortUnreachable { from, port });
    }
}

/// The settings of a [`Config`](crate::Config) the services read: every
/// `Config` is one (`config.rs` implements it for them), so a service is
/// built from the configuration without depending on the layer above it.
pub trait ServiceConfig: 'static {
    /// The device name (`[device] name`).
    const DEVICE_NAME: &'static str;
    /// Whether the address comes from DHCP at start.
    const DHCP: bool;
    /// The static address settings (DHCP's fallback, and what it returns
    /// to when stopped).
    const STATIC_IPV4: Option<StaticIpv4>;
    /// DNS client settings (`[dns]`).
    const DNS: DnsSettings;
    /// SNTP client settings (`[sntp]`).
    const SNTP: SntpSettings;
}

/// A protocol state machine advanced by the stack.
pub trait Service {
    /// The service in its initial state, from the device configuration.
    fn new_service<C: ServiceConfig>() -> Self;

    /// Offered every verified datagram before the UDP socket table; returns
    /// true when it was for this service (it is then not offered further).
    fn on_udp<N: Nic, A: App>(
        &mut self,
        datagram: &mut UdpDatagram<'_, '_, N>,
        app: &mut A,
    ) -> bool {
        let _ = (datagram, app);
        false
    }

    /// Sends what is due and runs timers. `io.now()` is the time.
    fn poll<N: Nic, A: App>(&mut self, io: &mut Io<'_, N>, app: &mut A) {
        let _ = (io, app);
    }

    /// When the service next needs `poll` (None: only a datagram wakes it).
    fn poll_at(&self) -> Option<Instant> {
        None
    }

    /// The NIC's link went down (`false`) or came back (`true`): a DHCP
    /// client asks for its lease again (INIT-REBOOT). Default: nothing.
    fn link_changed(&mut self, up: bool) {
        let _ = up;
    }

    /// A valid ARP packet arrived (for address conflict detection, RFC
    /// 5227). Default: nothing.
    fn on_arp<N: Nic, A: App>(
        &mut self,
        io: &mut Io<'_, N>,
        app: &mut A,
        arp: &crate::wire::arp::Repr,
    ) {
        let _ = (io, app, arp);
    }

    /// The application renamed the device
    /// ([`Stack::set_device_name`](crate::Stack::set_device_name)).
    /// Default: nothing (services read the name when they need it).
    fn name_changed(&mut self) {}
}

/// A protocol switched off in `stack.toml`: no state, no code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Disabled;

impl Service for Disabled {
    fn new_service<C: ServiceConfig>() -> Self {
        Disabled
    }
}

/// The earlier of two optional deadlines. (Out of line: `poll_at` folds
/// every service's and socket table's deadline with it.)
#[inline(never)]
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}
