//! UDP sockets (RFC 768): a fixed table sized by `[udp] sockets`.
//!
//! A socket is a bound local port plus an optional remote filter. Datagrams
//! are not queued: during `poll` the owner is called with a
//! [`UdpDatagram`] whose payload it reads straight from the NIC (and may
//! answer at once). The checksum has been verified before the call, so the
//! owner never sees corrupt data.

use crate::iface::egress::rx_read_at;
use crate::iface::{FromRx, Io, Payload, SendError, Transport};
use crate::nic::Nic;
use crate::wire::{Checksum, EthernetAddress, Ipv4Address};
use core::fmt;

/// The receiver of datagrams for the application's sockets: the
/// application ([`App::udp_datagram`](crate::App::udp_datagram); implemented for every `App` next to
/// it, so this layer names nothing above it).
pub(crate) trait UdpOwner {
    /// A datagram arrived for a socket the application bound.
    fn udp_deliver<N: Nic>(&mut self, datagram: &mut UdpDatagram<'_, '_, N>);
}

/// An IPv4 address and port.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct Endpoint {
    /// The address.
    pub addr: Ipv4Address,
    /// The port.
    pub port: u16,
}

impl Endpoint {
    /// An endpoint.
    pub const fn new(addr: Ipv4Address, port: u16) -> Self {
        Endpoint { addr, port }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.addr, self.port)
    }
}

/// One slot of the UDP socket table.
#[derive(Clone, Copy, Debug, Default)]
pub struct UdpSocket {
    /// Local port; 0 = free slot.
    local_port: u16,
    /// When set, only datagrams from this endpoint are delivered.
    remote: Option<Endpoint>,
}

impl crate::table::EmptySlot for UdpSocket {
    const EMPTY: Self = UdpSocket {
        local_port: 0,
        remote: None,
    };
}

/// Names a bound UDP socket (its slot in the table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UdpHandle(pub(crate) u8);

impl UdpHandle {
    /// The slot index, for logs.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// Why a socket could not be bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindError {
    /// Another socket has that port.
    PortInUse,
    /// Every socket slot is taken (`[udp] sockets` in stack.toml).
    NoFreeSocket,
    /// Port 0 is not a port.
    InvalidPort,
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BindError::PortInUse => "port already bound",
            BindError::NoFreeSocket => "no free UDP socket (raise [udp] sockets in stack.toml)",
            BindError::InvalidPort => "port 0 is not a valid port",
        })
    }
}

/// Lowest source port an automatic answer goes back to: ports below 1024
/// are the well-known services' (RFC 6335), which clients never send from
/// and which may answer whatever they get.
pub const REFLECT_MIN_PORT: u16 = 1024;

/// First port of the dynamic range (RFC 6335) used for ephemeral ports.
pub const EPHEMERAL_FIRST: u16 = 49152;

/// Binds `port` in `table`. (Always inlined: one caller,
/// `Stack::udp_bind`; LLVM kept it apart, 40 B larger.)
#[inline(always)]
pub(crate) fn bind(table: &mut [UdpSocket], port: u16) -> Result<UdpHandle, BindError> {
    if port == 0 {
        return Err(BindError::InvalidPort);
    }
    if table.iter().any(|s| s.local_port == port) {
        return Err(BindError::PortInUse);
    }
    let (i, slot) = table
        .iter_mut()
        .enumerate()
        .find(|(_, s)| s.local_port == 0)
        .ok_or(BindError::NoFreeSocket)?;
    *slot = UdpSocket {
        local_port: port,
        remote: None,
    };
    // Bounded: `[udp] sockets` is at most 64 (schema).
    Ok(UdpHandle(i as u8))
}

/// Binds a free ephemeral port, starting the search at a random point.
pub(crate) fn bind_ephemeral(table: &mut [UdpSocket], random: u32) -> Result<UdpHandle, BindError> {
    let span = u32::from(u16::MAX - EPHEMERAL_FIRST) + 1;
    let start = random.checked_rem(span).unwrap_or(0);
    for k in 0..span {
        let off = start.wrapping_add(k).checked_rem(span).unwrap_or(0);
        let port = EPHEMERAL_FIRST.saturating_add(off as u16);
        match bind(table, port) {
            Err(BindError::PortInUse) => continue,
            other => return other,
        }
    }
    Err(BindError::PortInUse)
}

pub(crate) fn slot(table: &[UdpSocket], h: UdpHandle) -> Option<&UdpSocket> {
    table.get(h.index()).filter(|s| s.local_port != 0)
}

pub(crate) fn slot_mut(table: &mut [UdpSocket], h: UdpHandle) -> Option<&mut UdpSocket> {
    table.get_mut(h.index()).filter(|s| s.local_port != 0)
}

pub(crate) fn close(table: &mut [UdpSocket], h: UdpHandle) {
    if let Some(s) = table.get_mut(h.index()) {
        *s = UdpSocket::default();
    }
}

pub(crate) fn connect(table: &mut [UdpSocket], h: UdpHandle, remote: Option<Endpoint>) -> bool {
    match slot_mut(table, h) {
        Some(s) => {
            s.remote = remote;
            true
        }
        None => false,
    }
}

pub(crate) fn local_port(table: &[UdpSocket], h: UdpHandle) -> Option<u16> {
    slot(table, h).map(|s| s.local_port)
}

/// The socket a datagram from `remote` to `port` belongs to.
pub(crate) fn lookup(table: &[UdpSocket], port: u16, remote: Endpoint) -> Option<UdpHandle> {
    table
        .iter()
        .position(|s| s.local_port == port && s.remote.is_none_or(|r| r == remote))
        // Bounded: `[udp] sockets` is at most 64 (schema).
        .map(|i| UdpHandle(i as u8))
}

/// A datagram that arrived for a socket, readable from the NIC during the
/// callback, with a way to answer it.
pub struct UdpDatagram<'d, 'a, N: Nic> {
    pub(crate) io: &'d mut Io<'a, N>,
    pub(crate) socket: Option<UdpHandle>,
    pub(crate) local: Endpoint,
    pub(crate) remote: Endpoint,
    pub(crate) src_mac: EthernetAddress,
    /// Payload offset in the received frame.
    pub(crate) offset: usize,
    pub(crate) len: usize,
    /// Payload checksum when the checksum was verified.
    pub(crate) sum: Option<Checksum>,
}

impl<'a, N: Nic> UdpDatagram<'_, 'a, N> {
    /// The receiving socket (`None` while a stack service is offered the
    /// datagram before the socket table).
    pub fn socket(&self) -> Option<UdpHandle> {
        self.socket
    }
    /// Our address and port as the sender addressed them (may be broadcast).
    pub fn local(&self) -> Endpoint {
        self.local
    }
    /// The sender.
    pub fn remote(&self) -> Endpoint {
        self.remote
    }
    /// Payload length.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True for an empty datagram.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Copies payload bytes from `at` into `buf`; returns how many. (Out
    /// of line: every service that takes datagrams reads.)
    #[inline(never)]
    pub fn read(&mut self, at: usize, buf: &mut [u8]) -> usize {
        if at >= self.len {
            return 0;
        }
        // Bounded: `at` is below `len`, and the datagram's `offset + len`
        // is inside the received frame.
        let want = self.len.wrapping_sub(at).min(buf.len());
        match buf.get_mut(..want) {
            Some(b) => rx_read_at(self.io.nic, self.offset.wrapping_add(at), b),
            None => 0,
        }
    }
    /// Sends a datagram back to the sender from the receiving port (to the
    /// MAC it came from: no ARP round trip).
    pub fn reply(&mut self, payload: &mut dyn Payload) -> Result<(), SendError> {
        let t = Transport::Udp {
            src_port: self.local.port,
            dst_port: self.remote.port,
        };
        self.io
            .send_ipv4_to(self.src_mac, self.remote.addr, &t, payload)
    }
    /// True when an automatic answer (an echo) may go back: the datagram
    /// was sent to our own unicast address (not a broadcast: no smurf- or
    /// fraggle-style amplification) and from an ephemeral port
    /// ([`REFLECT_MIN_PORT`] and up). Well-known services (echo, discard,
    /// daytime, chargen, time, DNS, NTP, NetBIOS, SNMP...) may answer
    /// anything they receive, so a datagram spoofed "from" one of them
    /// would start an endless ping-pong.
    pub fn may_reflect(&self) -> bool {
        self.remote.port >= REFLECT_MIN_PORT && self.io.address() == Some(self.local.addr)
    }
    /// Sends the same payload back, streamed from the received frame;
    /// [`SendError::Refused`] unless [`may_reflect`](Self::may_reflect).
    pub fn echo(&mut self) -> Result<(), SendError> {
        if !self.may_reflect() {
            return Err(SendError::Refused);
        }
        let mut p = FromRx {
            offset: self.offset,
            len: self.len,
            sum: self.sum,
        };
        self.reply(&mut p)
    }
    /// The sending side of the stack, to send elsewhere.
    pub fn io(&mut self) -> &mut Io<'a, N> {
        self.io
    }
}
