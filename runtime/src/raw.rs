//! Raw IPv4: sockets for IP protocol numbers the stack does not handle
//! itself (not ICMP, TCP or UDP), in the seed driver's spirit — open a
//! packet with a protocol number, write its payload, and the stack fills
//! in the IP header (total length, header checksum) when the packet is
//! closed; received packets of an open protocol are streamed to the
//! application ([`App::raw_received`](crate::App::raw_received)) straight
//! from the NIC. `[raw] sockets` in `stack.toml` sizes the table; without
//! it the table is empty and the code is removed.
//!
//! ```text
//! let h = stack.raw_open(253)?;                    // RFC 3692 experimental
//! stack.raw_send(&mut nic, now, h, peer, &mut Bytes(b"hello"))?;
//! // App::raw_received(h, packet): packet.read(at, buf), packet.len() ...
//! ```

use core::fmt;

use crate::iface::egress::rx_read_at;
use crate::iface::{DropReason, FromRx, Io, Payload, SendError, Transport};
use crate::nic::Nic;
use crate::wire::{EthernetAddress, IpProtocol, Ipv4Address};

/// One slot of the raw socket table: the protocol it is open for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawSocket {
    protocol: Option<u8>,
}

impl crate::table::EmptySlot for RawSocket {
    const EMPTY: Self = RawSocket { protocol: None };
}

impl RawSocket {
    /// The protocol number it is open for, if open.
    pub fn protocol(&self) -> Option<u8> {
        self.protocol
    }
}

/// A raw socket (an index into the table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RawHandle(pub(crate) u8);

impl RawHandle {
    /// The table index.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

impl fmt::Display for RawHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "raw#{}", self.0)
    }
}

/// Why a raw socket could not be opened or used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawError {
    /// ICMP (1), TCP (6) and UDP (17) belong to the stack.
    HandledByStack,
    /// Another raw socket is open for this protocol.
    InUse,
    /// Every slot of `[raw] sockets` is open (or there are none).
    NoFreeSocket,
    /// No such open socket.
    BadSocket,
}

impl fmt::Display for RawError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RawError::HandledByStack => "ICMP, TCP and UDP belong to the stack",
            RawError::InUse => "a raw socket is open for this protocol",
            RawError::NoFreeSocket => "no free raw socket ([raw] sockets)",
            RawError::BadSocket => "no such raw socket",
        })
    }
}

/// Opens a slot of `table` for `protocol`.
pub(crate) fn open(table: &mut [RawSocket], protocol: u8) -> Result<RawHandle, RawError> {
    if !matches!(IpProtocol::from(protocol), IpProtocol::Unknown(_)) {
        return Err(RawError::HandledByStack);
    }
    if table.iter().any(|s| s.protocol == Some(protocol)) {
        return Err(RawError::InUse);
    }
    let i = table
        .iter()
        .position(|s| s.protocol.is_none())
        .ok_or(RawError::NoFreeSocket)?;
    let handle = RawHandle(u8::try_from(i).map_err(|_| RawError::NoFreeSocket)?);
    if let Some(s) = table.get_mut(i) {
        s.protocol = Some(protocol);
    }
    Ok(handle)
}

/// The protocol `socket` is open for.
pub(crate) fn protocol_of(table: &[RawSocket], socket: RawHandle) -> Result<u8, RawError> {
    table
        .get(socket.index())
        .and_then(|s| s.protocol)
        .ok_or(RawError::BadSocket)
}

/// Closes `socket` (nothing happens for one that is not open).
pub(crate) fn close(table: &mut [RawSocket], socket: RawHandle) {
    if let Some(s) = table.get_mut(socket.index()) {
        s.protocol = None;
    }
}

/// The socket open for `protocol`, if any.
pub(crate) fn find(table: &[RawSocket], protocol: u8) -> Option<RawHandle> {
    let i = table.iter().position(|s| s.protocol == Some(protocol))?;
    u8::try_from(i).ok().map(RawHandle)
}

/// Sends `payload` as an IPv4 packet of `protocol` to `dst` (ARP first
/// when needed: [`SendError::ArpPending`], try again on a later poll).
pub(crate) fn send<N: Nic>(
    io: &mut Io<'_, N>,
    protocol: u8,
    dst: Ipv4Address,
    payload: &mut dyn Payload,
) -> Result<(), SendError> {
    io.send_ipv4(dst, &Transport::Raw { protocol }, payload)
}

/// Where a received packet's payload is (from ingress).
pub(crate) struct Arrived {
    pub(crate) src: Ipv4Address,
    pub(crate) dst: Ipv4Address,
    pub(crate) src_mac: EthernetAddress,
    pub(crate) offset: usize,
    pub(crate) len: usize,
}

/// The receiver of raw packets: the application ([`App::raw_received`](crate::App::raw_received);
/// implemented for every `App` next to it, so this layer names nothing
/// above it).
pub(crate) trait RawOwner {
    /// A packet arrived for an open raw socket.
    fn raw_deliver<N: Nic>(&mut self, packet: &mut RawPacket<'_, '_, N>);
}

/// Hands a packet of `protocol` to the application when a raw socket is
/// open for it; otherwise it is dropped as an unknown protocol.
pub(crate) fn deliver<N: Nic, A: RawOwner>(
    io: &mut Io<'_, N>,
    table: &[RawSocket],
    app: &mut A,
    protocol: u8,
    at: &Arrived,
) -> Result<(), DropReason> {
    let socket = find(table, protocol).ok_or(DropReason::UnknownProtocol)?;
    let mut packet = RawPacket {
        io,
        socket,
        protocol,
        src: at.src,
        dst: at.dst,
        src_mac: at.src_mac,
        offset: at.offset,
        len: at.len,
    };
    app.raw_deliver(&mut packet);
    Ok(())
}

/// A received packet of a protocol with an open raw socket, still in the
/// NIC: its IP header was checked (version, length, checksum, addressed
/// to us); the payload is read from the NIC by offset.
pub struct RawPacket<'d, 'a, N: Nic> {
    pub(crate) io: &'d mut Io<'a, N>,
    pub(crate) socket: RawHandle,
    pub(crate) protocol: u8,
    pub(crate) src: Ipv4Address,
    pub(crate) dst: Ipv4Address,
    pub(crate) src_mac: EthernetAddress,
    /// Payload offset in the frame.
    pub(crate) offset: usize,
    pub(crate) len: usize,
}

impl<N: Nic> RawPacket<'_, '_, N> {
    /// The socket it arrived on.
    pub fn socket(&self) -> RawHandle {
        self.socket
    }

    /// The IP protocol number.
    pub fn protocol(&self) -> u8 {
        self.protocol
    }

    /// The sender's address.
    pub fn src(&self) -> Ipv4Address {
        self.src
    }

    /// The destination address (ours, or broadcast).
    pub fn dst(&self) -> Ipv4Address {
        self.dst
    }

    /// True when it was sent to our own address (not a broadcast): the
    /// only packets an echo should answer.
    pub fn to_us(&self) -> bool {
        self.io.address() == Some(self.dst)
    }

    /// Payload bytes (after the IP header).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for an empty payload.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies payload bytes from `at` into `buf`; returns how many.
    pub fn read(&mut self, at: usize, buf: &mut [u8]) -> usize {
        if at >= self.len {
            return 0;
        }
        let want = self.len.saturating_sub(at).min(buf.len());
        match buf.get_mut(..want) {
            Some(b) => rx_read_at(self.io.nic, self.offset.saturating_add(at), b),
            None => 0,
        }
    }

    /// Sends the payload back to the sender unchanged (streamed from the
    /// received frame), same protocol, to the MAC it came from.
    pub fn echo(&mut self) -> Result<(), SendError> {
        let mut p = FromRx {
            offset: self.offset,
            len: self.len,
            sum: None,
        };
        self.reply(&mut p)
    }

    /// Answers the sender with `payload`, same protocol, to the MAC the
    /// packet came from (no ARP needed).
    pub fn reply(&mut self, payload: &mut dyn Payload) -> Result<(), SendError> {
        let t = Transport::Raw {
            protocol: self.protocol,
        };
        self.io.send_ipv4_to(self.src_mac, self.src, &t, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_refuses_the_stacks_protocols_duplicates_and_a_full_table() {
        let mut t = [RawSocket::default(); 2];
        for p in [1, 6, 17] {
            assert_eq!(open(&mut t, p), Err(RawError::HandledByStack));
        }
        let a = open(&mut t, 253).unwrap();
        assert_eq!(open(&mut t, 253), Err(RawError::InUse));
        let b = open(&mut t, 254).unwrap();
        assert_eq!(open(&mut t, 47), Err(RawError::NoFreeSocket));
        assert_eq!(find(&t, 254), Some(b));
        assert_eq!(protocol_of(&t, a), Ok(253));
        close(&mut t, a);
        assert_eq!(protocol_of(&t, a), Err(RawError::BadSocket));
        assert_eq!(find(&t, 253), None);
        assert_eq!(open(&mut t, 47), Ok(a));
        assert_eq!(open(&mut [], 47), Err(RawError::NoFreeSocket));
    }
}
