//! Ethernet II frames (IEEE 802.3 with an EtherType, RFC 894).
//!
//! The stack reads only the 14-byte header into RAM; the payload stays in
//! the controller and is streamed. The frame check sequence is handled by
//! the controller and never appears here.

use super::{array, be16, put16, put_slice, Error, EtherType, EthernetAddress, Result};

/// Field offsets (RFC 894, "Frame Format"; IEEE 802.3 clause 3.2).
mod field {
    /// Destination MAC address, 6 bytes.
    pub const DESTINATION: usize = 0;
    /// Source MAC address, 6 bytes.
    pub const SOURCE: usize = 6;
    /// EtherType, 2 bytes.
    pub const ETHERTYPE: usize = 12;
    /// First byte of the payload.
    pub const PAYLOAD: usize = 14;
}

/// Length of an Ethernet II header: two addresses and the EtherType.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// A read/write view of an Ethernet II frame over any byte buffer.
///
/// The buffer may hold only the header (the usual case: payloads stream) or
/// the whole frame. Every accessor is panic-free whatever the buffer length;
/// after [`Frame::new_checked`] they also return the real field values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps a buffer without looking at it. Getters on a buffer that is too
    /// short return zeros rather than panicking.
    pub const fn new_unchecked(buffer: T) -> Frame<T> {
        Frame { buffer }
    }

    /// Wraps a buffer after [`Frame::check_len`] succeeds.
    pub fn new_checked(buffer: T) -> Result<Frame<T>> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// Fails with [`Error::Truncated`] when the buffer cannot hold a header.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The destination MAC address.
    pub fn dst_addr(&self) -> EthernetAddress {
        EthernetAddress(array(self.buffer.as_ref(), field::DESTINATION))
    }

    /// The source MAC address.
    pub fn src_addr(&self) -> EthernetAddress {
        EthernetAddress(array(self.buffer.as_ref(), field::SOURCE))
    }

    /// The EtherType: what the payload is.
    pub fn ethertype(&self) -> EtherType {
        EtherType::from(be16(self.buffer.as_ref(), field::ETHERTYPE))
    }

    /// The bytes after the header that are in the buffer (empty for a
    /// header-only buffer). May include padding up to the 60-byte minimum:
    /// the inner protocol's own length field says where its data ends.
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(field::PAYLOAD..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Sets the destination MAC address.
    pub fn set_dst_addr(&mut self, addr: EthernetAddress) {
        put_slice(self.buffer.as_mut(), field::DESTINATION, addr.as_bytes());
    }

    /// Sets the source MAC address.
    pub fn set_src_addr(&mut self, addr: EthernetAddress) {
        put_slice(self.buffer.as_mut(), field::SOURCE, addr.as_bytes());
    }

    /// Sets the EtherType.
    pub fn set_ethertype(&mut self, ethertype: EtherType) {
        put16(self.buffer.as_mut(), field::ETHERTYPE, ethertype.into());
    }

    /// The payload bytes in the buffer, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(field::PAYLOAD..)
            .unwrap_or(&mut [])
    }
}

/// The high-level form of an Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Sender's MAC address.
    pub src_addr: EthernetAddress,
    /// Receiver's MAC address (or broadcast/multicast).
    pub dst_addr: EthernetAddress,
    /// What the payload is.
    pub ethertype: EtherType,
}

impl Repr {
    /// Reads the header of `frame`; [`Error::Truncated`] if it is shorter
    /// than [`HEADER_LEN`]. Any EtherType is accepted (the interface counts
    /// the ones it does not handle).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(frame: &Frame<&T>) -> Result<Repr> {
        frame.check_len()?;
        Ok(Repr {
            src_addr: frame.src_addr(),
            dst_addr: frame.dst_addr(),
            ethertype: frame.ethertype(),
        })
    }

    /// Bytes [`Repr::emit`] writes: the header only.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into the first [`HEADER_LEN`] bytes of `frame`
    /// (fields that do not fit a short buffer are skipped, never a panic).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut Frame<T>) {
        frame.set_dst_addr(self.dst_addr);
        frame.set_src_addr(self.src_addr);
        frame.set_ethertype(self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // ARP request captured from Linux (10.78.0.1 asking for 10.78.0.2) on a
    // veth pair, tcpdump -xx.
    const ARP_FRAME: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x06, 0x88, 0x89, 0xc9, 0x9d, 0x3e, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x06, 0x88, 0x89, 0xc9, 0x9d, 0x3e, 0x0a, 0x4e,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x4e, 0x00, 0x02,
    ];

    // First 14 bytes of a captured ICMP echo request frame.
    const IPV4_HEADER: [u8; 14] = [
        0x22, 0xe7, 0x51, 0x85, 0xd4, 0x02, 0x06, 0x88, 0x89, 0xc9, 0x9d, 0x3e, 0x08, 0x00,
    ];

    #[test]
    fn parse_captured_arp_frame() {
        let frame = Frame::new_checked(&ARP_FRAME[..]).unwrap();
        let repr = Repr::parse(&frame).unwrap();
        assert_eq!(
            repr,
            Repr {
                src_addr: EthernetAddress([0x06, 0x88, 0x89, 0xc9, 0x9d, 0x3e]),
                dst_addr: EthernetAddress::BROADCAST,
                ethertype: EtherType::Arp,
            }
        );
        assert_eq!(frame.payload(), &ARP_FRAME[14..]);
    }

    #[test]
    fn parse_header_only_buffer() {
        let frame = Frame::new_checked(&IPV4_HEADER[..]).unwrap();
        assert_eq!(frame.ethertype(), EtherType::Ipv4);
        assert_eq!(
            frame.dst_addr(),
            EthernetAddress([0x22, 0xe7, 0x51, 0x85, 0xd4, 0x02])
        );
        assert!(frame.payload().is_empty());
    }

    #[test]
    fn emit_matches_capture() {
        let repr = Repr::parse(&Frame::new_unchecked(&IPV4_HEADER[..])).unwrap();
        let mut buf = [0u8; HEADER_LEN];
        repr.emit(&mut Frame::new_unchecked(&mut buf[..]));
        assert_eq!(buf, IPV4_HEADER);
        assert_eq!(repr.buffer_len(), HEADER_LEN);
    }

    #[test]
    fn unknown_ethertype_round_trips() {
        let repr = Repr {
            src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
            dst_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
            ethertype: EtherType::Unknown(0x86dd),
        };
        let mut buf = [0u8; 20];
        let mut frame = Frame::new_unchecked(&mut buf[..]);
        repr.emit(&mut frame);
        frame.payload_mut().copy_from_slice(&[9; 6]);
        assert_eq!(Repr::parse(&Frame::new_unchecked(&buf[..])).unwrap(), repr);
        assert_eq!(&buf[14..], &[9; 6]);
    }

    #[test]
    fn short_buffer_is_truncated() {
        assert_eq!(
            Frame::new_checked(&ARP_FRAME[..13]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            Repr::parse(&Frame::new_unchecked(&ARP_FRAME[..5])),
            Err(Error::Truncated)
        );
        // Emitting into a short buffer writes what fits and does not panic.
        let mut small = [0u8; 8];
        Repr::parse(&Frame::new_unchecked(&ARP_FRAME[..]))
            .unwrap()
            .emit(&mut Frame::new_unchecked(&mut small[..]));
        assert_eq!(small[..6], [0xff; 6]);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let frame = Frame::new_unchecked(&bytes[..]);
            let _ = (frame.dst_addr(), frame.src_addr(), frame.ethertype(), frame.payload());
            match Frame::new_checked(&bytes[..]) {
                Ok(frame) => prop_assert!(Repr::parse(&frame).is_ok()),
                Err(e) => prop_assert_eq!(e, Error::Truncated),
            }
        }
    }
}
