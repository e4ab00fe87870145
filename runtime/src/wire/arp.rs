//! ARP packets (RFC 826), and the Ethernet/IPv4 form the stack speaks.
//!
//! The [`Packet`] view follows the general layout, whose address fields are
//! as long as the hardware and protocol length fields say; [`Repr`] accepts
//! only Ethernet (hardware type 1, 6-byte addresses) with IPv4 (0x0800,
//! 4-byte addresses), which is all an Ethernet IPv4 host needs.

use super::{
    array, be16, put16, put_slice, Error, EtherType, EthernetAddress, Ipv4Address, Result,
};

/// Field offsets (RFC 826, "Packet format"). The four address fields follow
/// the fixed part back to back, so their offsets depend on the two lengths.
mod field {
    /// Hardware address space (ar$hrd), 2 bytes.
    pub const HTYPE: usize = 0;
    /// Protocol address space (ar$pro), 2 bytes.
    pub const PTYPE: usize = 2;
    /// Hardware address length (ar$hln), 1 byte.
    pub const HLEN: usize = 4;
    /// Protocol address length (ar$pln), 1 byte.
    pub const PLEN: usize = 5;
    /// Opcode (ar$op), 2 bytes.
    pub const OPER: usize = 6;
    /// Sender hardware address (ar$sha): the first variable field.
    pub const SHA: usize = 8;

    // Bounded: 8 plus at most four 8-bit lengths, at most 1,028.

    /// Sender protocol address (ar$spa).
    pub const fn spa(hlen: u8) -> usize {
        SHA.wrapping_add(hlen as usize)
    }

    /// Target hardware address (ar$tha).
    pub const fn tha(hlen: u8, plen: u8) -> usize {
        spa(hlen).wrapping_add(plen as usize)
    }

    /// Target protocol address (ar$tpa).
    pub const fn tpa(hlen: u8, plen: u8) -> usize {
        tha(hlen, plen).wrapping_add(hlen as usize)
    }

    /// One past the last byte of the packet.
    pub const fn end(hlen: u8, plen: u8) -> usize {
        tpa(hlen, plen).wrapping_add(plen as usize)
    }
}

/// Length of an Ethernet/IPv4 ARP packet: 8 fixed bytes, two MAC and two
/// IPv4 addresses.
pub const PACKET_LEN: usize = field::end(6, 4);

/// `ar$hrd` for Ethernet (RFC 826; IANA "Hardware Types").
const HTYPE_ETHERNET: u16 = 1;

/// ARP opcode (`ar$op`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// 1: who has this protocol address?
    Request,
    /// 2: this is my hardware address.
    Reply,
    /// Any other opcode (RARP, InARP...), kept so it can be counted.
    Unknown(u16),
}

impl From<u16> for Operation {
    fn from(v: u16) -> Self {
        match v {
            1 => Operation::Request,
            2 => Operation::Reply,
            other => Operation::Unknown(other),
        }
    }
}

impl From<Operation> for u16 {
    fn from(op: Operation) -> u16 {
        match op {
            Operation::Request => 1,
            Operation::Reply => 2,
            Operation::Unknown(v) => v,
        }
    }
}

/// A read/write view of an ARP packet over any byte buffer.
///
/// Getters never panic; on a buffer that [`Packet::check_len`] rejects they
/// return zeros or short/empty slices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without looking at it.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer after [`Packet::check_len`] succeeds.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// [`Error::Truncated`] when the buffer is shorter than the fixed 8
    /// bytes or than the four addresses the length fields announce.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < field::SHA || len < field::end(self.hardware_len(), self.protocol_len()) {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Hardware address space (1 for Ethernet).
    pub fn hardware_type(&self) -> u16 {
        be16(self.buffer.as_ref(), field::HTYPE)
    }

    /// Protocol address space (an EtherType: 0x0800 for IPv4).
    pub fn protocol_type(&self) -> u16 {
        be16(self.buffer.as_ref(), field::PTYPE)
    }

    /// Length of a hardware address in bytes.
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref().get(field::HLEN).copied().unwrap_or(0)
    }

    /// Length of a protocol address in bytes.
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref().get(field::PLEN).copied().unwrap_or(0)
    }

    /// The opcode.
    pub fn operation(&self) -> Operation {
        Operation::from(be16(self.buffer.as_ref(), field::OPER))
    }

    /// Bytes `start..start + len` of the buffer, clamped to what exists.
    fn span(&self, start: usize, len: u8) -> &[u8] {
        let buf = self.buffer.as_ref();
        // Bounded: `start` is a field offset (at most 1,028) plus 8 bits.
        let end = start.wrapping_add(usize::from(len)).min(buf.len());
        buf.get(start..end).unwrap_or(&[])
    }

    /// Sender hardware address (`hardware_len` bytes).
    pub fn source_hardware_addr(&self) -> &[u8] {
        self.span(field::SHA, self.hardware_len())
    }

    /// Sender protocol address (`protocol_len` bytes).
    pub fn source_protocol_addr(&self) -> &[u8] {
        self.span(field::spa(self.hardware_len()), self.protocol_len())
    }

    /// Target hardware address (`hardware_len` bytes; zeros in a request).
    pub fn target_hardware_addr(&self) -> &[u8] {
        let (h, p) = (self.hardware_len(), self.protocol_len());
        self.span(field::tha(h, p), h)
    }

    /// Target protocol address (`protocol_len` bytes).
    pub fn target_protocol_addr(&self) -> &[u8] {
        let (h, p) = (self.hardware_len(), self.protocol_len());
        self.span(field::tpa(h, p), p)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the hardware address space.
    pub fn set_hardware_type(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::HTYPE, value);
    }

    /// Sets the protocol address space.
    pub fn set_protocol_type(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::PTYPE, value);
    }

    /// Sets the hardware address length; set it before the address fields,
    /// whose offsets depend on it.
    pub fn set_hardware_len(&mut self, value: u8) {
        put_slice(self.buffer.as_mut(), field::HLEN, &[value]);
    }

    /// Sets the protocol address length; set it before the address fields.
    pub fn set_protocol_len(&mut self, value: u8) {
        put_slice(self.buffer.as_mut(), field::PLEN, &[value]);
    }

    /// Sets the opcode.
    pub fn set_operation(&mut self, op: Operation) {
        put16(self.buffer.as_mut(), field::OPER, op.into());
    }

    /// Writes the sender hardware address at its offset (`addr` should be
    /// `hardware_len` bytes long; nothing is written if it does not fit).
    pub fn set_source_hardware_addr(&mut self, addr: &[u8]) {
        put_slice(self.buffer.as_mut(), field::SHA, addr);
    }

    /// Writes the sender protocol address at its offset.
    pub fn set_source_protocol_addr(&mut self, addr: &[u8]) {
        let at = field::spa(self.hardware_len());
        put_slice(self.buffer.as_mut(), at, addr);
    }

    /// Writes the target hardware address at its offset.
    pub fn set_target_hardware_addr(&mut self, addr: &[u8]) {
        let at = field::tha(self.hardware_len(), self.protocol_len());
        put_slice(self.buffer.as_mut(), at, addr);
    }

    /// Writes the target protocol address at its offset.
    pub fn set_target_protocol_addr(&mut self, addr: &[u8]) {
        let at = field::tpa(self.hardware_len(), self.protocol_len());
        put_slice(self.buffer.as_mut(), at, addr);
    }
}

/// The high-level form of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Request, reply, or an opcode the stack ignores.
    pub operation: Operation,
    /// Sender's MAC address.
    pub source_hardware_addr: EthernetAddress,
    /// Sender's IPv4 address (0.0.0.0 in an RFC 5227 probe).
    pub source_protocol_addr: Ipv4Address,
    /// Target's MAC address (ignored, usually zero, in a request).
    pub target_hardware_addr: EthernetAddress,
    /// The IPv4 address asked about or answered to.
    pub target_protocol_addr: Ipv4Address,
}

impl Repr {
    /// Reads an Ethernet/IPv4 ARP packet.
    ///
    /// [`Error::Truncated`] if the buffer is shorter than the 8 fixed bytes;
    /// [`Error::Unsupported`] unless hardware type 1, protocol 0x0800,
    /// lengths 6 and 4 (checked before the full length, so a packet for
    /// another hardware type is reported as such even when only 28 bytes
    /// were read); then [`Error::Truncated`] if the addresses do not fit.
    /// Unknown opcodes parse, as [`Operation::Unknown`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr> {
        if packet.buffer.as_ref().len() < field::SHA {
            return Err(Error::Truncated);
        }
        if packet.hardware_type() != HTYPE_ETHERNET
            || packet.protocol_type() != u16::from(EtherType::Ipv4)
            || packet.hardware_len() != 6
            || packet.protocol_len() != 4
        {
            return Err(Error::Unsupported);
        }
        packet.check_len()?;
        let buf = packet.buffer.as_ref();
        Ok(Repr {
            operation: packet.operation(),
            source_hardware_addr: EthernetAddress(array(buf, field::SHA)),
            source_protocol_addr: Ipv4Address(array(buf, field::spa(6))),
            target_hardware_addr: EthernetAddress(array(buf, field::tha(6, 4))),
            target_protocol_addr: Ipv4Address(array(buf, field::tpa(6, 4))),
        })
    }

    /// Bytes [`Repr::emit`] writes: [`PACKET_LEN`].
    pub const fn buffer_len(&self) -> usize {
        PACKET_LEN
    }

    /// Writes the whole packet into the first [`PACKET_LEN`] bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_hardware_type(HTYPE_ETHERNET);
        packet.set_protocol_type(EtherType::Ipv4.into());
        packet.set_hardware_len(6);
        packet.set_protocol_len(4);
        packet.set_operation(self.operation);
        packet.set_source_hardware_addr(self.source_hardware_addr.as_bytes());
        packet.set_source_protocol_addr(self.source_protocol_addr.as_bytes());
        packet.set_target_hardware_addr(self.target_hardware_addr.as_bytes());
        packet.set_target_protocol_addr(self.target_protocol_addr.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Captured from Linux on a veth pair: 10.78.0.1 asks who has 10.78.0.2
    // (Ethernet header removed).
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x06, 0x88, 0x89, 0xc9, 0x9d, 0x3e, 0x0a,
        0x4e, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x4e, 0x00, 0x02,
    ];
    // And the kernel's reply from 10.78.0.2.
    const REPLY: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x22, 0xe7, 0x51, 0x85, 0xd4, 0x02, 0x0a,
        0x4e, 0x00, 0x02, 0x06, 0x88, 0x89, 0xc9, 0x9d, 0x3e, 0x0a, 0x4e, 0x00, 0x01,
    ];

    const MAC1: EthernetAddress = EthernetAddress([0x06, 0x88, 0x89, 0xc9, 0x9d, 0x3e]);
    const MAC2: EthernetAddress = EthernetAddress([0x22, 0xe7, 0x51, 0x85, 0xd4, 0x02]);

    #[test]
    fn parse_captured_request() {
        let packet = Packet::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(packet.hardware_type(), 1);
        assert_eq!(packet.protocol_type(), 0x0800);
        assert_eq!(packet.source_hardware_addr(), MAC1.as_bytes());
        assert_eq!(packet.target_protocol_addr(), &[10, 78, 0, 2]);
        assert_eq!(
            Repr::parse(&packet).unwrap(),
            Repr {
                operation: Operation::Request,
                source_hardware_addr: MAC1,
                source_protocol_addr: Ipv4Address::new(10, 78, 0, 1),
                target_hardware_addr: EthernetAddress([0; 6]),
                target_protocol_addr: Ipv4Address::new(10, 78, 0, 2),
            }
        );
    }

    #[test]
    fn emit_reply_matches_capture() {
        let request = Repr::parse(&Packet::new_unchecked(&REQUEST[..])).unwrap();
        let reply = Repr {
            operation: Operation::Reply,
            source_hardware_addr: MAC2,
            source_protocol_addr: request.target_protocol_addr,
            target_hardware_addr: request.source_hardware_addr,
            target_protocol_addr: request.source_protocol_addr,
        };
        let mut buf = [0xaau8; PACKET_LEN];
        reply.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf, REPLY);
        assert_eq!(reply.buffer_len(), 28);
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&buf[..])).unwrap(),
            reply
        );
    }

    #[test]
    fn unknown_operation_parses() {
        let mut buf = REQUEST;
        buf[7] = 9;
        let repr = Repr::parse(&Packet::new_unchecked(&buf[..])).unwrap();
        assert_eq!(repr.operation, Operation::Unknown(9));
        assert_eq!(u16::from(repr.operation), 9);
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&REQUEST[..7])),
            Err(Error::Truncated)
        );
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&REQUEST[..27])),
            Err(Error::Truncated)
        );
        assert_eq!(
            Packet::new_checked(&REQUEST[..27]).unwrap_err(),
            Error::Truncated
        );
        // Too short for the lengths it announces.
        let mut buf = REQUEST;
        buf[4] = 200;
        assert_eq!(Packet::new_checked(&buf[..]).unwrap_err(), Error::Truncated);
        let p = Packet::new_unchecked(&buf[..]);
        assert_eq!(p.source_hardware_addr().len(), 20);
        assert!(p.target_protocol_addr().is_empty());
    }

    #[test]
    fn unsupported_types() {
        for (at, value) in [(1, 6u8), (2, 0x86), (4, 8), (5, 16)] {
            let mut buf = REQUEST;
            buf[at] = value;
            assert_eq!(
                Repr::parse(&Packet::new_unchecked(&buf[..])),
                Err(Error::Unsupported),
                "byte {at}"
            );
        }
        // Unsupported wins over Truncated once the fixed part is there.
        let mut buf = REQUEST;
        buf[1] = 6;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&buf[..10])),
            Err(Error::Unsupported)
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let p = Packet::new_unchecked(&bytes[..]);
            let _ = (
                p.hardware_type(), p.protocol_type(), p.operation(),
                p.source_hardware_addr(), p.source_protocol_addr(),
                p.target_hardware_addr(), p.target_protocol_addr(),
            );
            let _ = Packet::new_checked(&bytes[..]);
            if let Ok(repr) = Repr::parse(&p) {
                let mut out = [0u8; PACKET_LEN];
                repr.emit(&mut Packet::new_unchecked(&mut out[..]));
                prop_assert_eq!(&out[..], &bytes[..PACKET_LEN]);
            }
        }

        #[test]
        fn setters_on_any_buffer_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..40),
            h in any::<u8>(), pl in any::<u8>(),
        ) {
            let mut bytes = bytes;
            let mut p = Packet::new_unchecked(&mut bytes[..]);
            p.set_hardware_len(h);
            p.set_protocol_len(pl);
            p.set_source_hardware_addr(&[1; 6]);
            p.set_source_protocol_addr(&[2; 4]);
            p.set_target_hardware_addr(&[3; 6]);
            p.set_target_protocol_addr(&[4; 4]);
        }
    }
}
