//! UDP datagrams (RFC 768).
//!
//! The stack reads the 8-byte header and streams the payload, so [`Repr`]
//! carries the payload's length only and the caller computes the checksum:
//! [`super::ipv4::pseudo_header`], then the header with a zero checksum
//! ([`Repr::header_sum`] does both), then the payload as it streams, then
//! [`checksum_field`].

use super::{be16, checksum::Checksum, ipv4, put16, Error, IpProtocol, Ipv4Address, Result};

/// Field offsets (RFC 768, "Format").
mod field {
    /// Source port (optional: 0 when unused), 2 bytes.
    pub const SRC_PORT: usize = 0;
    /// Destination port, 2 bytes.
    pub const DST_PORT: usize = 2;
    /// Length of header plus data in bytes, 2 bytes.
    pub const LENGTH: usize = 4;
    /// Checksum (0 when not computed), 2 bytes.
    pub const CHECKSUM: usize = 6;
    /// First payload byte.
    pub const PAYLOAD: usize = 8;
}

/// Length of a UDP header.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// The value to store in the checksum field for a finished sum (pseudo-
/// header, header with a zero checksum, payload): its complement, except
/// that a computed 0x0000 is sent as 0xffff, because an all-zero field
/// means "no checksum" (RFC 768: "If the computed checksum is zero, it is
/// transmitted as all ones").
pub fn checksum_field(sum: Checksum) -> u16 {
    match sum.finish() {
        0 => 0xffff,
        v => v,
    }
}

/// A read/write view of a UDP datagram (or just its header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without looking at it.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer holding at least the header, after
    /// [`Packet::check_header_len`].
    pub fn new_header_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_header_len()?;
        Ok(packet)
    }

    /// Wraps a buffer holding the whole datagram, after
    /// [`Packet::check_len`].
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// For a header-only view: [`Error::Truncated`] below 8 bytes,
    /// [`Error::Malformed`] when the length field is below 8.
    pub fn check_header_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else if usize::from(self.len()) < HEADER_LEN {
            Err(Error::Malformed)
        } else {
            Ok(())
        }
    }

    /// For a whole datagram: [`Packet::check_header_len`], then
    /// [`Error::Truncated`] if the buffer is shorter than the length field.
    pub fn check_len(&self) -> Result<()> {
        self.check_header_len()?;
        if self.buffer.as_ref().len() < usize::from(self.len()) {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The source port (0: the sender expects no reply).
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// The destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// The length field: header plus payload, in bytes.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH)
    }

    /// The checksum field (0: none was computed).
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The payload bytes in the buffer: from 8 up to the length field, both
    /// clamped to the buffer (empty for a header-only view).
    pub fn payload(&self) -> &[u8] {
        let buf = self.buffer.as_ref();
        let end = usize::from(self.len()).min(buf.len());
        buf.get(field::PAYLOAD..end).unwrap_or(&[])
    }

    /// For a whole-datagram view: true if the checksum is absent (0) or
    /// verifies over the pseudo-header and `len` bytes (false if fewer are
    /// in the buffer).
    pub fn verify_checksum(&self, src: Ipv4Address, dst: Ipv4Address) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let len = self.len();
        let Some(datagram) = self.buffer.as_ref().get(..usize::from(len)) else {
            return false;
        };
        let mut sum = ipv4::pseudo_header(src, dst, IpProtocol::Udp, len);
        sum.add_bytes(datagram);
        sum.is_valid()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::SRC_PORT, value);
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::DST_PORT, value);
    }

    /// Sets the length field.
    pub fn set_len(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::LENGTH, value);
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// The payload bytes in the buffer, writable (see [`Packet::payload`]).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let buf = self.buffer.as_mut();
        let end = usize::from(be16(buf, field::LENGTH)).min(buf.len());
        buf.get_mut(field::PAYLOAD..end).unwrap_or(&mut [])
    }

    /// For a whole-datagram view: computes and stores the checksum over the
    /// pseudo-header and `len` bytes (clamped to the buffer).
    pub fn fill_checksum(&mut self, src: Ipv4Address, dst: Ipv4Address) {
        self.set_checksum(0);
        let len = self.len();
        let buf = self.buffer.as_ref();
        let datagram = buf.get(..usize::from(len).min(buf.len())).unwrap_or(&[]);
        let mut sum = ipv4::pseudo_header(src, dst, IpProtocol::Udp, len);
        sum.add_bytes(datagram);
        self.set_checksum(checksum_field(sum));
    }
}

/// The high-level form of a UDP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Bytes after the header.
    pub payload_len: usize,
}

impl Repr {
    /// Reads a header from a header-only or whole-datagram view.
    ///
    /// [`Error::Truncated`] below 8 bytes; [`Error::Malformed`] when the
    /// length field is below 8 or the destination port is 0 (RFC 768 gives
    /// it no meaning and nothing may listen there). Does not check the
    /// payload is all there (use [`Packet::new_checked`] for a whole view;
    /// for a streamed one the caller checks `8 + payload_len` against the
    /// IP payload length) and does not verify the checksum.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr> {
        packet.check_header_len()?;
        if packet.dst_port() == 0 {
            return Err(Error::Malformed);
        }
        Ok(Repr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            // Bounded: the length field is at least 8 (`check_header_len`).
            payload_len: usize::from(packet.len()).wrapping_sub(HEADER_LEN),
        })
    }

    /// Bytes [`Repr::emit_header`] writes: [`HEADER_LEN`].
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// The length field: 8 + `payload_len`, saturated at 65 535 (a longer
    /// datagram cannot exist; this keeps emit panic-free if asked for one).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u16 {
        u16::try_from(HEADER_LEN.saturating_add(self.payload_len)).unwrap_or(u16::MAX)
    }

    /// The checksum of the pseudo-header and this header with a zero
    /// checksum field: add the payload to it as it streams, then store
    /// [`checksum_field`] of the result.
    pub fn header_sum(&self, src: Ipv4Address, dst: Ipv4Address) -> Checksum {
        let len = self.len();
        let mut sum = ipv4::pseudo_header(src, dst, IpProtocol::Udp, len);
        sum.add_u16(self.src_port);
        sum.add_u16(self.dst_port);
        sum.add_u16(len);
        sum.add_u16(0);
        sum
    }

    /// Writes the 8-byte header with the given checksum field (computed by
    /// the caller, usually via [`Repr::header_sum`] and [`checksum_field`];
    /// 0 sends no checksum).
    pub fn emit_header<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>, checksum: u16) {
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_len(self.len());
        packet.set_checksum(checksum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A: Ipv4Address = Ipv4Address::new(10, 78, 0, 1);
    const B: Ipv4Address = Ipv4Address::new(10, 78, 0, 2);

    // A DNS query (A? example.com) captured from Linux, 10.78.0.1:51712 ->
    // 10.78.0.2:53, IP header removed.
    const DNS: [u8; 37] = [
        0xca, 0x00, 0x00, 0x35, 0x00, 0x25, 0x37, 0x37, 0x1a, 0x2b, 0x01, 0x00, 0x00, 0x01, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63,
        0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00, 0x01,
    ];

    // "hello" to port 9, also from Linux.
    const HELLO: [u8; 13] = [
        0x94, 0xac, 0x00, 0x09, 0x00, 0x0d, 0x12, 0xae, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
    ];

    #[test]
    fn parse_captured_dns_query() {
        let packet = Packet::new_checked(&DNS[..]).unwrap();
        assert_eq!(packet.len(), 37);
        assert_eq!(packet.checksum(), 0x3737);
        assert!(packet.verify_checksum(A, B));
        assert!(!packet.verify_checksum(B, Ipv4Address::new(10, 78, 0, 3)));
        assert_eq!(packet.payload(), &DNS[8..]);
        assert_eq!(
            Repr::parse(&packet).unwrap(),
            Repr {
                src_port: 51712,
                dst_port: 53,
                payload_len: 29
            }
        );
    }

    #[test]
    fn streamed_checksum_matches_capture() {
        for captured in [&DNS[..], &HELLO[..]] {
            let repr = Repr::parse(&Packet::new_header_checked(&captured[..8]).unwrap()).unwrap();
            let mut sum = repr.header_sum(A, B);
            for chunk in captured[8..].chunks(3) {
                sum.add_bytes(chunk);
            }
            let mut header = [0u8; HEADER_LEN];
            repr.emit_header(
                &mut Packet::new_unchecked(&mut header[..]),
                checksum_field(sum),
            );
            assert_eq!(header, captured[..8]);
        }
    }

    #[test]
    fn header_only_view() {
        let packet = Packet::new_header_checked(&DNS[..8]).unwrap();
        assert!(packet.payload().is_empty());
        assert_eq!(Repr::parse(&packet).unwrap().payload_len, 29);
        assert_eq!(
            Packet::new_checked(&DNS[..8]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            Packet::new_checked(&DNS[..36]).unwrap_err(),
            Error::Truncated
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&DNS[..7])),
            Err(Error::Truncated)
        );
        let mut short_len = DNS;
        short_len[4..6].copy_from_slice(&7u16.to_be_bytes());
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&short_len[..])),
            Err(Error::Malformed)
        );
        let mut port0 = DNS;
        port0[2..4].copy_from_slice(&[0, 0]);
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&port0[..])),
            Err(Error::Malformed)
        );
        let mut corrupt = DNS;
        corrupt[20] ^= 0x10;
        assert!(!Packet::new_unchecked(&corrupt[..]).verify_checksum(A, B));
        // No checksum at all is accepted.
        corrupt[6..8].copy_from_slice(&[0, 0]);
        assert!(Packet::new_unchecked(&corrupt[..]).verify_checksum(A, B));
    }

    #[test]
    fn zero_checksum_is_sent_as_ones() {
        assert_eq!(checksum_field(Checksum::new()), 0xffff);
        // Find a payload whose checksum computes to zero and check the
        // whole-view helper writes 0xffff, which verifies.
        let repr = Repr {
            src_port: 1,
            dst_port: 2,
            payload_len: 2,
        };
        let partial = repr.header_sum(A, B);
        // The word that makes the sum 0xffff makes the checksum 0.
        let word = !partial.fold();
        let mut buf = [0u8; 10];
        repr.emit_header(&mut Packet::new_unchecked(&mut buf[..]), 0);
        buf[8..].copy_from_slice(&word.to_be_bytes());
        let mut packet = Packet::new_unchecked(&mut buf[..]);
        packet.fill_checksum(A, B);
        assert_eq!(packet.checksum(), 0xffff);
        assert!(packet.verify_checksum(A, B));
    }

    #[test]
    fn emit_saturates() {
        let repr = Repr {
            src_port: 1,
            dst_port: 2,
            payload_len: usize::MAX,
        };
        assert_eq!(repr.len(), u16::MAX);
        let mut buf = [0u8; 5];
        repr.emit_header(&mut Packet::new_unchecked(&mut buf[..]), 0);
        assert_eq!(buf[..4], [0, 1, 0, 2]);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
            let p = Packet::new_unchecked(&bytes[..]);
            let _ = (p.src_port(), p.dst_port(), p.len(), p.checksum(), p.payload());
            let _ = p.verify_checksum(A, B);
            let _ = Packet::new_header_checked(&bytes[..]);
            if let Ok(whole) = Packet::new_checked(&bytes[..]) {
                prop_assert!(Repr::parse(&whole).is_ok() || whole.dst_port() == 0);
            }
            if let Ok(repr) = Repr::parse(&p) {
                let mut out = [0u8; HEADER_LEN];
                repr.emit_header(&mut Packet::new_unchecked(&mut out[..]), p.checksum());
                prop_assert_eq!(&out[..], &bytes[..HEADER_LEN]);
            }
            let mut copy = bytes.clone();
            let mut m = Packet::new_unchecked(&mut copy[..]);
            m.fill_checksum(A, B);
            let _ = m.payload_mut();
        }

        #[test]
        fn round_trip(
            src_port in any::<u16>(), dst_port in 1u16.., payload in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let repr = Repr { src_port, dst_port, payload_len: payload.len() };
            let mut sum = repr.header_sum(A, B);
            sum.add_bytes(&payload);
            let mut buf = std::vec![0u8; HEADER_LEN + payload.len()];
            buf[HEADER_LEN..].copy_from_slice(&payload);
            repr.emit_header(&mut Packet::new_unchecked(&mut buf[..]), checksum_field(sum));
            let packet = Packet::new_checked(&buf[..]).unwrap();
            prop_assert!(packet.verify_checksum(A, B));
            prop_assert_eq!(Repr::parse(&packet).unwrap(), repr);
        }
    }
}
