//! The configured stack: state sized by a [`Config`], advanced by [`Stack::poll`].

use crate::config::{Config, Table};
use crate::iface::ingress::{self, Sockets, UdpOffer};
use crate::iface::name::{DeviceName, NameError};
use crate::iface::{arp, Counters, Interface, Io, Payload, SendError, StaticIpv4, Transport};
use crate::nic::Nic;
use crate::raw::{self, RawError, RawHandle};
use crate::service::Event;
use crate::service::{earliest, Service};
use crate::sntp::SntpPart;
use crate::tcp::{self, TcpError, TcpHandle, TcpShared, TcpState, TcpTables};
use crate::time::{Duration, Instant};
use crate::udp::{self, BindError, Endpoint, UdpDatagram, UdpHandle};
use crate::wire::{arp as arp_wire, EthernetAddress, Ipv4Address};
use core::marker::PhantomData;

/// How often a stack whose NIC reports the link down asks it again
/// (`poll_at` says so; nothing else runs meanwhile).
pub const LINK_POLL: Duration = Duration::from_millis(500);

pub use crate::service::App;

/// The whole network stack for one interface, sized by `C`.
///
/// Nothing in it blocks: the application calls [`poll`](Stack::poll) from
/// its main loop, and may sleep until [`poll_at`](Stack::poll_at) or a NIC
/// interrupt.
pub struct Stack<C: Config> {
    iface: Interface,
    arp: C::ArpCache,
    udp: C::UdpSockets,
    raw: C::RawSockets,
    tcp: TcpState_<C>,
    services: Services<C>,
    _config: PhantomData<C>,
}

/// The TCP tables, sized by the configuration.
struct TcpState_<C: Config> {
    sockets: C::TcpSockets,
    segments: C::TcpSegments,
    buffer: C::TcpBuffer,
    shared: TcpShared,
}

impl<C: Config> TcpState_<C> {
    fn tables(&mut self) -> TcpTables<'_> {
        TcpTables {
            sockets: self.sockets.slots_mut(),
            segments: self.segments.slots_mut(),
            buffer: self.buffer.slots_mut(),
            shared: &mut self.shared,
            config: &C::TCP,
        }
    }
}

/// The protocol services, each present only when enabled.
struct Services<C: Config> {
    dhcp: C::Dhcp,
    dns: C::Dns,
    netbios: C::NetBios,
    sntp: C::Sntp,
    mdns: C::Mdns,
}

impl<C: Config> Services<C> {
    fn new() -> Self {
        Services {
            dhcp: C::Dhcp::new_service::<C>(),
            dns: C::Dns::new_service::<C>(),
            netbios: C::NetBios::new_service::<C>(),
            sntp: C::Sntp::new_service::<C>(),
            mdns: C::Mdns::new_service::<C>(),
        }
    }

    fn poll<N: Nic, A: App>(&mut self, io: &mut Io<'_, N>, app: &mut A) {
        self.dhcp.poll(io, app);
        self.dns.poll(io, app);
        self.netbios.poll(io, app);
        SntpPart::poll(&mut self.sntp, io, app, &mut self.dns);
        self.mdns.poll(io, app);
    }

    fn link_changed(&mut self, up: bool) {
        self.dhcp.link_changed(up);
        self.mdns.link_changed(up);
    }

    fn name_changed(&mut self) {
        self.dhcp.name_changed();
        self.mdns.name_changed();
    }

    fn poll_at(&self) -> Option<Instant> {
        let t = earliest(self.dhcp.poll_at(), self.dns.poll_at());
        let t = earliest(t, self.netbios.poll_at());
        let t = earliest(t, self.sntp.poll_at());
        earliest(t, self.mdns.poll_at())
    }
}

impl<C: Config, A: App> UdpOffer<A> for Services<C> {
    const ICMP_ECHO: bool = C::ICMP_ECHO;

    fn offer<N: Nic>(&mut self, d: &mut UdpDatagram<'_, '_, N>, app: &mut A) -> bool {
        self.dhcp.on_udp(d, app)
            || self.dns.on_udp(d, app)
            || self.netbios.on_udp(d, app)
            || self.sntp.on_udp(d, app)
            || self.mdns.on_udp(d, app)
    }

    fn arp_seen<N: Nic>(&mut self, io: &mut Io<'_, N>, app: &mut A, arp: &arp_wire::Repr) {
        self.dhcp.on_arp(io, app, arp);
    }
}

impl<C: Config> Default for Stack<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Config> Stack<C> {
    /// A stack with the configured MAC and, when DHCP is off, the static
    /// address.
    pub fn new() -> Self {
        Self::with_mac(C::MAC)
    }

    /// A stack with another MAC address (a board's EEPROM, a command line).
    /// (Out of line: built in place through the return slot, rather than
    /// field by field inside the caller's frame.)
    #[inline(never)]
    pub fn with_mac(mac: EthernetAddress) -> Self {
        let ipv4 = if C::DHCP { None } else { C::STATIC_IPV4 };
        Stack {
            // The configured name, made at compile time.
            iface: Interface::new(mac, ipv4, const { DeviceName::from_config(C::DEVICE_NAME) }),
            arp: C::ArpCache::new_table(),
            udp: C::UdpSockets::new_table(),
            raw: C::RawSockets::new_table(),
            tcp: TcpState_ {
                sockets: C::TcpSockets::new_table(),
                segments: C::TcpSegments::new_table(),
                buffer: C::TcpBuffer::new_table(),
                shared: TcpShared::default(),
            },
            services: Services::new(),
            _config: PhantomData,
        }
    }

    /// Our MAC address.
    pub fn mac(&self) -> EthernetAddress {
        self.iface.mac
    }

    /// The IPv4 settings in use, if any.
    pub fn ipv4(&self) -> Option<StaticIpv4> {
        self.iface.ipv4
    }

    /// The device's name now: `[device] name` until
    /// [`set_device_name`](Stack::set_device_name).
    pub fn device_name(&self) -> &DeviceName {
        &self.iface.name
    }

    /// Renames the device at run time (a settings page): NetBIOS answers
    /// to the new name, DHCP sends it as the host name (option 12) from
    /// its next message, and an mDNS responder probes and announces it.
    /// The same rules as `[device] name` (see
    /// [`iface::name`](crate::iface::name)); a refused name changes
    /// nothing.
    pub fn set_device_name(&mut self, name: &str) -> Result<(), NameError> {
        let new = DeviceName::new(name)?;
        if new != self.iface.name {
            self.iface.name = new;
            self.services.name_changed();
        }
        Ok(())
    }

    /// Changes the IPv4 settings (static configuration, a DHCP lease, or
    /// `None` to go offline). The ARP cache is flushed and a new address is
    /// announced with a gratuitous ARP on the next poll.
    pub fn set_ipv4(&mut self, ipv4: Option<StaticIpv4>) {
        self.iface.set_ipv4(self.arp.slots_mut(), ipv4);
    }

    /// Frame counters and drops by reason.
    pub fn counters(&self) -> &Counters {
        &self.iface.counters
    }

    /// Looks up a live ARP cache entry.
    pub fn arp_lookup(&self, ip: Ipv4Address, now: Instant) -> Option<EthernetAddress> {
        arp::lookup(self.arp.slots(), ip, now, C::ARP_LIFETIME)
    }

    /// The sending side, for use outside `poll` callbacks.
    pub fn io<'a, N: Nic>(&'a mut self, nic: &'a mut N, now: Instant) -> Io<'a, N> {
        Io {
            nic,
            iface: &mut self.iface,
            arp: self.arp.slots_mut(),
            arp_lifetime: C::ARP_LIFETIME,
            now,
        }
    }

    /// Handles up to `C::FRAMES_PER_POLL` received frames and any due timer
    /// work; never blocks. Returns true when it did something, so a main
    /// loop can poll again at once instead of sleeping.
    #[inline(never)]
    pub fn poll<N: Nic, A: App>(&mut self, now: Instant, nic: &mut N, app: &mut A) -> bool {
        let mut busy = false;
        let Stack {
            iface,
            arp,
            udp,
            raw,
            tcp,
            services,
            ..
        } = self;
        let up = nic.link_up();
        if up == iface.link_down {
            // Changed: say so once; back up, announce and renew at once.
            if up {
                iface.link_restored();
            } else {
                iface.link_down = true;
            }
            services.link_changed(up);
            app.event(Event::Link { up });
            busy = true;
        }
        if !up {
            // Nothing goes out; what arrives meanwhile is dropped unread
            // (a poll's worth at a time, like frames handled when up).
            for _ in 0..C::FRAMES_PER_POLL {
                if nic.rx_pending().is_none() {
                    break;
                }
                nic.rx_dump();
            }
            return busy;
        }
        let may_send = iface.may_send(now);
        let mut io = Io {
            nic,
            iface,
            arp: arp.slots_mut(),
            arp_lifetime: C::ARP_LIFETIME,
            now,
        };
        if io.iface.announce && may_send {
            if let Some(ip) = io.address() {
                // Gratuitous ARP (RFC 5227 §3): a request for our own address.
                let r = io.send_arp(
                    arp_wire::Operation::Request,
                    EthernetAddress::BROADCAST,
                    EthernetAddress::default(),
                    ip,
                    false,
                );
                if r.is_ok() {
                    io.iface.announce = false;
                    app.event(Event::AddressAnnounced { ip });
                }
                busy = true;
            }
        }
        let mut sockets = Sockets {
            udp: udp.slots_mut(),
            raw: raw.slots(),
            tcp: tcp.tables(),
            services,
        };
        for _ in 0..C::FRAMES_PER_POLL {
            let Some(len) = io.nic.rx_pending() else {
                break;
            };
            ingress::handle_frame(&mut io, &mut sockets, app, len);
            io.nic.rx_dump();
            busy = true;
        }
        if may_send {
            tcp::output::poll(&mut io, &mut sockets.tcp, app);
            services.poll(&mut io, app);
        }
        busy
    }

    /// When the stack next needs `poll` without new frames arriving:
    /// `Some(now)` for work already due, `None` when only a frame can wake it.
    pub fn poll_at(&self, now: Instant) -> Option<Instant> {
        if self.iface.link_down {
            // Only the link's return matters; the NIC is asked again then.
            return Some(now.after(LINK_POLL));
        }
        // Backing off after NIC failures: nothing is sent before then.
        let not_before = self.iface.send_not_before(now);
        if self.iface.announce && self.iface.ipv4.is_some() {
            return Some(not_before);
        }
        let tcp = tcp::output::poll_at(
            self.tcp.sockets.slots(),
            self.tcp.shared.pending,
            &C::TCP,
            now,
        );
        crate::service::earliest(tcp, self.services.poll_at()).map(|t| t.max(not_before))
    }

    /// Opens a raw socket for IP protocol `protocol` (not ICMP, TCP or
    /// UDP): packets of that protocol go to
    /// [`App::raw_received`], and [`raw_send`](Stack::raw_send) sends them.
    pub fn raw_open(&mut self, protocol: u8) -> Result<RawHandle, RawError> {
        raw::open(self.raw.slots_mut(), protocol)
    }

    /// Closes a raw socket: its protocol is dropped again.
    pub fn raw_close(&mut self, socket: RawHandle) {
        raw::close(self.raw.slots_mut(), socket);
    }

    /// Sends `payload` as one IPv4 packet of `socket`'s protocol to `dst`:
    /// the IP header (total length, header checksum) is filled in when the
    /// payload has been written. Needs ARP first like any send
    /// ([`SendError::ArpPending`]: try again on a later poll).
    pub fn raw_send<N: Nic>(
        &mut self,
        nic: &mut N,
        now: Instant,
        socket: RawHandle,
        dst: Ipv4Address,
        payload: &mut dyn Payload,
    ) -> Result<(), SendError> {
        let protocol =
            raw::protocol_of(self.raw.slots(), socket).map_err(|_| SendError::BadSocket)?;
        let mut io = self.io(nic, now);
        raw::send(&mut io, protocol, dst, payload)
    }

    /// Opens a listening TCP socket on `port`. Call it N times for N
    /// connections at once on one port; each socket goes back to listening
    /// when its connection ends.
    pub fn tcp_listen(&mut self, port: u16) -> Result<TcpHandle, TcpError> {
        tcp::listen(self.tcp.sockets.slots_mut(), port)
    }

    /// Starts connecting to `remote` from a random local port; the SYN goes
    /// out on the next poll (after ARP). [`TcpEvent::Connected`](crate::tcp::TcpEvent::Connected) follows.
    pub fn tcp_connect<A: App>(
        &mut self,
        app: &mut A,
        now: Instant,
        remote: Endpoint,
    ) -> Result<TcpHandle, TcpError> {
        if remote.port == 0 || remote.addr.is_unspecified() || remote.addr.is_broadcast() {
            return Err(TcpError::InvalidEndpoint);
        }
        let local_addr = self.iface.address().ok_or(TcpError::InvalidEndpoint)?;
        let t = &mut self.tcp;
        let sockets = t.sockets.slots_mut();
        let i = sockets
            .iter()
            .position(|s| s.state() == TcpState::Closed)
            .ok_or(TcpError::NoFreeSocket)?;
        let port = t
            .shared
            .ephemeral_port(app, sockets)
            .ok_or(TcpError::NoFreeSocket)?;
        let iss = t
            .shared
            .isn(app, now.millis(), Endpoint::new(local_addr, port), remote);
        let handle = TcpHandle(u8::try_from(i).map_err(|_| TcpError::NoFreeSocket)?);
        if let Some(s) = sockets.get_mut(i) {
            tcp::connect(s, port, remote, iss, &C::TCP, now);
        }
        tcp::clear_records(&mut t.tables(), i);
        Ok(handle)
    }

    /// Closes gracefully: FIN goes out once the owner produces no more
    /// data (a connection still opening completes first, so "connect,
    /// close, produce N bytes" sends N bytes and FIN). A listening socket
    /// stops listening and is freed. See [`Stack::tcp_abort`] for RST.
    pub fn tcp_close(&mut self, socket: TcpHandle) {
        if let Some(s) = self.tcp.sockets.slots_mut().get_mut(socket.index()) {
            tcp::close(s);
        }
    }

    /// Resets the connection at once (RST) and frees the socket.
    pub fn tcp_abort<N: Nic>(&mut self, nic: &mut N, now: Instant, socket: TcpHandle) {
        let mut io = Io {
            nic,
            iface: &mut self.iface,
            arp: self.arp.slots_mut(),
            arp_lifetime: C::ARP_LIFETIME,
            now,
        };
        if let Some(s) = self.tcp.sockets.slots_mut().get_mut(socket.index()) {
            tcp::output::abort_now(&mut io, s);
        }
    }

    /// A socket's state.
    pub fn tcp_state(&self, socket: TcpHandle) -> TcpState {
        self.tcp
            .sockets
            .slots()
            .get(socket.index())
            .map(|s| s.state())
            .unwrap_or_default()
    }

    /// A socket's peer, when connected.
    pub fn tcp_remote(&self, socket: TcpHandle) -> Option<Endpoint> {
        self.tcp
            .sockets
            .slots()
            .get(socket.index())
            .and_then(|s| s.remote())
    }

    /// The DHCP client (a compile error to use when `[dhcp]` is off).
    pub fn dhcp(&mut self) -> &mut C::Dhcp {
        &mut self.services.dhcp
    }

    /// The DNS client.
    pub fn dns(&mut self) -> &mut C::Dns {
        &mut self.services.dns
    }

    /// The NetBIOS name responder.
    pub fn netbios(&mut self) -> &mut C::NetBios {
        &mut self.services.netbios
    }

    /// The SNTP client.
    pub fn sntp(&mut self) -> &mut C::Sntp {
        &mut self.services.sntp
    }

    /// Binds a UDP socket to `port`.
    pub fn udp_bind(&mut self, port: u16) -> Result<UdpHandle, BindError> {
        udp::bind(self.udp.slots_mut(), port)
    }

    /// Binds a UDP socket to a random free port in 49152..=65535; pass
    /// `App::random_u32()`.
    pub fn udp_bind_ephemeral(&mut self, random: u32) -> Result<UdpHandle, BindError> {
        udp::bind_ephemeral(self.udp.slots_mut(), random)
    }

    /// Restricts a socket to datagrams from `remote` (`None` = anyone).
    /// Returns false for a closed handle.
    pub fn udp_connect(&mut self, socket: UdpHandle, remote: Option<Endpoint>) -> bool {
        udp::connect(self.udp.slots_mut(), socket, remote)
    }

    /// Frees a socket.
    pub fn udp_close(&mut self, socket: UdpHandle) {
        udp::close(self.udp.slots_mut(), socket)
    }

    /// The local port of a bound socket.
    pub fn udp_local_port(&self, socket: UdpHandle) -> Option<u16> {
        udp::local_port(self.udp.slots(), socket)
    }

    /// Sends a datagram from `socket` to `dst` (ARP and routing included).
    /// [`SendError::ArpPending`] means: poll, then send again.
    pub fn udp_send<N: Nic>(
        &mut self,
        nic: &mut N,
        now: Instant,
        socket: UdpHandle,
        dst: Endpoint,
        payload: &mut dyn Payload,
    ) -> Result<(), SendError> {
        let src_port = udp::local_port(self.udp.slots(), socket).ok_or(SendError::BadSocket)?;
        let t = Transport::Udp {
            src_port,
            dst_port: dst.port,
        };
        self.io(nic, now).send_ipv4(dst.addr, &t, payload)
    }
}
