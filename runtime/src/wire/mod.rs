//! Stateless parse/emit of the protocol headers emberstack speaks.
//!
//! Each protocol follows one shape (after smoltcp's `wire`): a `Packet<T:
//! AsRef<[u8]>>` view whose `new_checked` validates the length once, after
//! which every accessor is infallible and panic-free; and a `Repr` with
//! `parse`, `emit` and `buffer_len` for the high-level form. Field offsets
//! live in a private `field` module per protocol, with the RFC they come from.
//!
//! Headers are small and are read into a stack buffer from the NIC; payloads
//! are never copied here, they stream (see [`crate::nic`]).

pub mod arp;
#[cfg(feature = "std")]
pub mod build;
pub mod checksum;
pub mod dhcp;
pub mod dns;
pub mod ethernet;
pub mod icmp;
pub mod ipv4;
pub mod netbios;
pub mod ntp;
pub mod tcp;
pub mod text;
pub mod udp;

pub use checksum::{Checksum, Summed};

use core::fmt;

/// Why bytes could not be read as a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Shorter than the header or than a length field claims.
    Truncated,
    /// A field holds a value the protocol forbids (IHL < 5, bad version...).
    Malformed,
    /// A checksum does not verify.
    Checksum,
    /// Well-formed but not something this stack handles (IP options we do
    /// not know are fine; an ARP for another hardware type is not).
    Unsupported,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Truncated => "truncated",
            Error::Malformed => "malformed",
            Error::Checksum => "bad checksum",
            Error::Unsupported => "unsupported",
        })
    }
}

/// Shorthand for wire results.
pub type Result<T> = core::result::Result<T, Error>;

/// A 48-bit IEEE 802 MAC address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EthernetAddress(pub [u8; 6]);

impl EthernetAddress {
    /// ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: EthernetAddress = EthernetAddress([0xff; 6]);

    /// Bytes in network order.
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// The group bit (I/G, bit 0 of the first octet) is set.
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// All ones.
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// A unicast address other than all zeros: one a host may own.
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast() && self.0 != [0; 6]
    }
}

impl fmt::Display for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A 32-bit IPv4 address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ipv4Address(pub [u8; 4]);

impl Ipv4Address {
    /// 0.0.0.0.
    pub const UNSPECIFIED: Ipv4Address = Ipv4Address([0; 4]);
    /// 255.255.255.255.
    pub const BROADCAST: Ipv4Address = Ipv4Address([255; 4]);

    /// From four octets.
    pub const fn new(a: u8, b: u8, c: u8, d: u8) -> Self {
        Ipv4Address([a, b, c, d])
    }

    /// Bytes in network order.
    pub const fn as_bytes(&self) -> &[u8; 4] {
        &self.0
    }

    /// As a host-order integer.
    pub const fn to_u32(self) -> u32 {
        u32::from_be_bytes(self.0)
    }

    /// From a host-order integer.
    pub const fn from_u32(v: u32) -> Self {
        Ipv4Address(v.to_be_bytes())
    }

    /// 0.0.0.0.
    pub fn is_unspecified(&self) -> bool {
        self.0 == [0; 4]
    }

    /// 255.255.255.255.
    pub fn is_broadcast(&self) -> bool {
        self.0 == [255; 4]
    }

    /// 224.0.0.0/4.
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0xf0 == 0xe0
    }

    /// 127.0.0.0/8 (RFC 1122 §3.2.1.3 (g): never on a wire).
    pub const fn is_loopback(&self) -> bool {
        self.0[0] == 127
    }
}

impl fmt::Display for Ipv4Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

impl fmt::Debug for Ipv4Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An address with its prefix length: the interface's subnet.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct Ipv4Cidr {
    /// The host's address.
    pub address: Ipv4Address,
    /// Prefix length, 0..=32.
    pub prefix_len: u8,
}

impl Ipv4Cidr {
    /// An address and prefix; a prefix over 32 is clamped to 32.
    pub const fn new(address: Ipv4Address, prefix_len: u8) -> Self {
        let prefix_len = if prefix_len > 32 { 32 } else { prefix_len };
        Ipv4Cidr {
            address,
            prefix_len,
        }
    }

    /// The subnet mask as an integer. (Out of line: eight callers.)
    #[inline(never)]
    pub const fn netmask_u32(&self) -> u32 {
        // `prefix_len` is a public field: clamp it here too. A shift by 32
        // (prefix 0) is out of range for `<<`, hence `checked_shl`.
        let prefix = if self.prefix_len > 32 {
            32
        } else {
            self.prefix_len as u32
        };
        match u32::MAX.checked_shl(32u32.wrapping_sub(prefix)) {
            Some(mask) => mask,
            None => 0,
        }
    }

    /// The subnet mask.
    pub const fn netmask(&self) -> Ipv4Address {
        Ipv4Address::from_u32(self.netmask_u32())
    }

    /// The subnet's directed broadcast address.
    pub const fn broadcast(&self) -> Ipv4Address {
        Ipv4Address::from_u32(self.address.to_u32() | !self.netmask_u32())
    }

    /// True when `addr` is this subnet's directed broadcast; /31 and /32
    /// have none (RFC 3021: both addresses of a /31 are hosts).
    pub fn is_directed_broadcast(&self, addr: Ipv4Address) -> bool {
        self.prefix_len < 31 && addr == self.broadcast()
    }

    /// True when `addr` is on this subnet.
    pub const fn contains(&self, addr: Ipv4Address) -> bool {
        let m = self.netmask_u32();
        addr.to_u32() & m == self.address.to_u32() & m
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

/// EtherType values (IEEE 802.3 registry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EtherType {
    /// 0x0800.
    Ipv4,
    /// 0x0806.
    Arp,
    /// Anything else, kept for counting.
    Unknown(u16),
}

impl From<u16> for EtherType {
    fn from(v: u16) -> Self {
        match v {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            other => EtherType::Unknown(other),
        }
    }
}

impl From<EtherType> for u16 {
    fn from(t: EtherType) -> u16 {
        match t {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Unknown(v) => v,
        }
    }
}

/// IP protocol numbers (IANA).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpProtocol {
    /// 1.
    Icmp,
    /// 6.
    Tcp,
    /// 17.
    Udp,
    /// Anything else.
    Unknown(u8),
}

impl From<u8> for IpProtocol {
    fn from(v: u8) -> Self {
        match v {
            1 => IpProtocol::Icmp,
            6 => IpProtocol::Tcp,
            17 => IpProtocol::Udp,
            other => IpProtocol::Unknown(other),
        }
    }
}

impl From<IpProtocol> for u8 {
    fn from(p: IpProtocol) -> u8 {
        match p {
            IpProtocol::Icmp => 1,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::Unknown(v) => v,
        }
    }
}

/// Reads a big-endian u16 at `at`, 0 when out of range (callers have
/// checked the length; this keeps accessors panic-free regardless).
#[inline]
pub(crate) fn be16(buf: &[u8], at: usize) -> u16 {
    match buf.get(at..at.wrapping_add(2)) {
        Some(&[a, b]) => u16::from_be_bytes([a, b]),
        _ => 0,
    }
}

/// Reads a big-endian u32 at `at`, 0 when out of range.
#[inline]
pub(crate) fn be32(buf: &[u8], at: usize) -> u32 {
    match buf.get(at..at.wrapping_add(4)) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// Writes a big-endian u16 at `at`; ignored when out of range.
#[inline]
pub(crate) fn put16(buf: &mut [u8], at: usize, v: u16) {
    if let Some(dst) = buf.get_mut(at..at.wrapping_add(2)) {
        dst.copy_from_slice(&v.to_be_bytes());
    }
}

/// Writes a big-endian u32 at `at`; ignored when out of range.
#[inline]
pub(crate) fn put32(buf: &mut [u8], at: usize, v: u32) {
    if let Some(dst) = buf.get_mut(at..at.wrapping_add(4)) {
        dst.copy_from_slice(&v.to_be_bytes());
    }
}

/// Copies `N` bytes at `at` into an array, zeros when out of range.
#[inline]
pub(crate) fn array<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = buf.get(at..at.wrapping_add(N)) {
        out.copy_from_slice(src);
    }
    out
}

/// Writes `src` at `at`; ignored when out of range.
#[inline]
pub(crate) fn put_slice(buf: &mut [u8], at: usize, src: &[u8]) {
    if let Some(dst) = buf.get_mut(at..at.wrapping_add(src.len())) {
        dst.copy_from_slice(src);
    }
}
