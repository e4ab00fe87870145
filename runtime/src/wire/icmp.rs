//! ICMPv4 messages (RFC 792): echo for ping, destination unreachable for
//! closed ports and unknown protocols.
//!
//! Every message the stack handles has an 8-byte header followed by data
//! (the echo payload, or the offending datagram's IP header and first 8
//! bytes). The data streams, so [`Repr`] carries only its length and
//! [`Repr::emit_header`] takes the data's [`Checksum`], summed by the caller.

use super::{be16, checksum::Checksum, put16, put_slice, Error, Result};

/// Field offsets (RFC 792, "Echo or Echo Reply Message" and "Destination
/// Unreachable Message").
mod field {
    /// Message type.
    pub const TYPE: usize = 0;
    /// Message code (the reason, for destination unreachable).
    pub const CODE: usize = 1;
    /// Checksum over the whole message, 2 bytes.
    pub const CHECKSUM: usize = 2;
    /// Echo identifier, 2 bytes.
    pub const ECHO_IDENT: usize = 4;
    /// Echo sequence number, 2 bytes.
    pub const ECHO_SEQNO: usize = 6;
    /// Bytes 4..8 as a whole: unused (zero) in destination unreachable.
    pub const REST: usize = 4;
    /// First data byte.
    pub const DATA: usize = 8;
}

/// Length of the ICMP header the stack reads and writes.
pub const HEADER_LEN: usize = field::DATA;

/// ICMPv4 message type (IANA "ICMP Type Numbers").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// 0: the answer to a ping.
    EchoReply,
    /// 3: a datagram could not be delivered.
    DstUnreachable,
    /// 8: a ping.
    EchoRequest,
    /// 11: TTL ran out (traceroute).
    TimeExceeded,
    /// Anything else.
    Unknown(u8),
}

impl From<u8> for Message {
    fn from(v: u8) -> Self {
        match v {
            0 => Message::EchoReply,
            3 => Message::DstUnreachable,
            8 => Message::EchoRequest,
            11 => Message::TimeExceeded,
            other => Message::Unknown(other),
        }
    }
}

impl From<Message> for u8 {
    fn from(m: Message) -> u8 {
        match m {
            Message::EchoReply => 0,
            Message::DstUnreachable => 3,
            Message::EchoRequest => 8,
            Message::TimeExceeded => 11,
            Message::Unknown(v) => v,
        }
    }
}

/// Destination unreachable codes (RFC 792; 4 from RFC 1191).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DstUnreachable {
    /// 0: net unreachable.
    NetUnreachable,
    /// 1: host unreachable.
    HostUnreachable,
    /// 2: the protocol is not supported; the stack sends this for IP
    /// protocols it does not speak.
    ProtoUnreachable,
    /// 3: no socket on the port; the stack sends this for closed UDP ports.
    PortUnreachable,
    /// 4: fragmentation needed and DF set (path MTU discovery).
    FragRequired,
    /// Any other code.
    Unknown(u8),
}

impl From<u8> for DstUnreachable {
    fn from(v: u8) -> Self {
        match v {
            0 => DstUnreachable::NetUnreachable,
            1 => DstUnreachable::HostUnreachable,
            2 => DstUnreachable::ProtoUnreachable,
            3 => DstUnreachable::PortUnreachable,
            4 => DstUnreachable::FragRequired,
            other => DstUnreachable::Unknown(other),
        }
    }
}

impl From<DstUnreachable> for u8 {
    fn from(d: DstUnreachable) -> u8 {
        match d {
            DstUnreachable::NetUnreachable => 0,
            DstUnreachable::HostUnreachable => 1,
            DstUnreachable::ProtoUnreachable => 2,
            DstUnreachable::PortUnreachable => 3,
            DstUnreachable::FragRequired => 4,
            DstUnreachable::Unknown(v) => v,
        }
    }
}

/// A read/write view of an ICMPv4 message (or just its 8-byte header).
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

    /// [`Error::Truncated`] when the buffer cannot hold the 8-byte header.
    /// ICMP has no length field: the data is whatever the IP payload holds
    /// after the header.
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

    fn byte(&self, at: usize) -> u8 {
        self.buffer.as_ref().get(at).copied().unwrap_or(0)
    }

    /// The message type.
    pub fn msg_type(&self) -> Message {
        Message::from(self.byte(field::TYPE))
    }

    /// The message code.
    pub fn msg_code(&self) -> u8 {
        self.byte(field::CODE)
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Echo identifier (meaningful in echo messages).
    pub fn echo_ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ECHO_IDENT)
    }

    /// Echo sequence number (meaningful in echo messages).
    pub fn echo_seq_no(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ECHO_SEQNO)
    }

    /// The data after the header that is in the buffer.
    pub fn data(&self) -> &[u8] {
        self.buffer.as_ref().get(field::DATA..).unwrap_or(&[])
    }

    /// True when the checksum verifies over the whole buffer, which must
    /// then hold the whole message. For streamed data, sum the header and
    /// data with a [`Checksum`] and use [`Checksum::is_valid`].
    pub fn verify_checksum(&self) -> bool {
        let buf = self.buffer.as_ref();
        if buf.len() < HEADER_LEN {
            return false;
        }
        let mut sum = Checksum::new();
        sum.add_bytes(buf);
        sum.is_valid()
    }

    /// The sum of the data implied by a header whose checksum is right:
    /// since header + data sum to 0xffff, the data sums to the complement
    /// of the header's sum. An echo reply can thus be checksummed before its
    /// data is read, e.g. for a length-first NIC; if the request's checksum
    /// was wrong the reply's is equally wrong and the peer drops it.
    pub fn implied_data_sum(&self) -> Checksum {
        let mut header = Checksum::new();
        header.add_bytes(self.buffer.as_ref().get(..HEADER_LEN).unwrap_or(&[]));
        let mut data = Checksum::new();
        data.add_u16(!header.fold());
        data
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_byte(&mut self, at: usize, value: u8) {
        put_slice(self.buffer.as_mut(), at, &[value]);
    }

    /// Sets the message type.
    pub fn set_msg_type(&mut self, value: Message) {
        self.set_byte(field::TYPE, value.into());
    }

    /// Sets the message code.
    pub fn set_msg_code(&mut self, value: u8) {
        self.set_byte(field::CODE, value);
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Sets the echo identifier.
    pub fn set_echo_ident(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::ECHO_IDENT, value);
    }

    /// Sets the echo sequence number.
    pub fn set_echo_seq_no(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::ECHO_SEQNO, value);
    }

    /// Zeroes bytes 4..8 (unused in destination unreachable).
    pub fn clear_rest(&mut self) {
        put_slice(self.buffer.as_mut(), field::REST, &[0; 4]);
    }

    /// The data in the buffer, writable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(field::DATA..)
            .unwrap_or(&mut [])
    }

    /// Computes and stores the checksum over the whole buffer (for messages
    /// held entirely in memory).
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let mut sum = Checksum::new();
        sum.add_bytes(self.buffer.as_ref());
        self.set_checksum(sum.finish());
    }
}

/// The high-level form of the ICMP messages the stack handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repr {
    /// A ping.
    EchoRequest {
        /// Identifier, echoed back.
        ident: u16,
        /// Sequence number, echoed back.
        seq_no: u16,
        /// Bytes of echo data after the header.
        data_len: usize,
    },
    /// The answer to a ping.
    EchoReply {
        /// Identifier from the request.
        ident: u16,
        /// Sequence number from the request.
        seq_no: u16,
        /// Bytes of echo data after the header.
        data_len: usize,
    },
    /// A datagram could not be delivered.
    DstUnreachable {
        /// Why (the code).
        reason: DstUnreachable,
        /// Bytes after the header: the offending IP header and at least the
        /// first 8 bytes of its payload (RFC 792; RFC 1812 section 4.3.2.3
        /// allows more, up to 576 bytes in all).
        data_len: usize,
    },
}

impl Repr {
    /// Reads the header of a message whose data is `data_len` bytes long
    /// (the IP payload length minus [`HEADER_LEN`]); the view may be
    /// header-only. Does not verify the checksum, which covers streamed data:
    /// use [`Packet::verify_checksum`] for a whole buffer, or a [`Checksum`].
    ///
    /// [`Error::Truncated`] if the header is not all there; non-zero codes in
    /// echo messages are [`Error::Malformed`]; other types (time exceeded,
    /// redirect...) are [`Error::Unsupported`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>, data_len: usize) -> Result<Repr> {
        packet.check_len()?;
        match (packet.msg_type(), packet.msg_code()) {
            (Message::EchoRequest, 0) => Ok(Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data_len,
            }),
            (Message::EchoReply, 0) => Ok(Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data_len,
            }),
            (Message::EchoRequest | Message::EchoReply, _) => Err(Error::Malformed),
            (Message::DstUnreachable, code) => Ok(Repr::DstUnreachable {
                reason: DstUnreachable::from(code),
                data_len,
            }),
            _ => Err(Error::Unsupported),
        }
    }

    /// Bytes [`Repr::emit_header`] writes: [`HEADER_LEN`].
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Bytes of data that follow the header.
    pub const fn data_len(&self) -> usize {
        match *self {
            Repr::EchoRequest { data_len, .. }
            | Repr::EchoReply { data_len, .. }
            | Repr::DstUnreachable { data_len, .. } => data_len,
        }
    }

    /// Writes the 8-byte header with its final checksum, computed over the
    /// header and `data_sum`: the [`Checksum`] of the data that will follow,
    /// summed by the caller from its start (an even offset).
    pub fn emit_header<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        data_sum: Checksum,
    ) {
        match *self {
            Repr::EchoRequest { ident, seq_no, .. } | Repr::EchoReply { ident, seq_no, .. } => {
                let msg = if matches!(self, Repr::EchoRequest { .. }) {
                    Message::EchoRequest
                } else {
                    Message::EchoReply
                };
                packet.set_msg_type(msg);
                packet.set_msg_code(0);
                packet.set_echo_ident(ident);
                packet.set_echo_seq_no(seq_no);
            }
            Repr::DstUnreachable { reason, .. } => {
                packet.set_msg_type(Message::DstUnreachable);
                packet.set_msg_code(reason.into());
                packet.clear_rest();
            }
        }
        packet.set_checksum(0);
        let mut sum = Checksum::new();
        sum.add_bytes(packet.buffer.as_ref().get(..HEADER_LEN).unwrap_or(&[]));
        sum.add_checksum(data_sum);
        packet.set_checksum(sum.finish());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Echo request captured from Linux ping 10.78.0.1 -> 10.78.0.2 (IP
    // header removed): id 7547, seq 1, 56 data bytes (timestamp + pattern).
    const REQUEST: [u8; 64] = [
        0x08, 0x00, 0x44, 0xc7, 0x1d, 0x7b, 0x00, 0x01, 0x68, 0x02, 0x02, 0x6b, 0x00, 0x00, 0x00,
        0x00, 0x65, 0x7c, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
        0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24,
        0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33,
        0x34, 0x35, 0x36, 0x37,
    ];

    // The Linux kernel's reply header (same data follows).
    const REPLY_HEADER: [u8; 8] = [0x00, 0x00, 0x4c, 0xc7, 0x1d, 0x7b, 0x00, 0x01];

    // Port unreachable from Linux for a UDP datagram "hello" to port 9:
    // header, then the original IP header and UDP datagram.
    const PORT_UNREACH: [u8; 41] = [
        0x03, 0x03, 0x11, 0xba, 0x00, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x21, 0xb7, 0x24, 0x40,
        0x00, 0x40, 0x11, 0x6f, 0x09, 0x0a, 0x4e, 0x00, 0x01, 0x0a, 0x4e, 0x00, 0x02, 0x94, 0xac,
        0x00, 0x09, 0x00, 0x0d, 0x12, 0xae, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
    ];

    fn sum_of(bytes: &[u8]) -> Checksum {
        let mut c = Checksum::new();
        c.add_bytes(bytes);
        c
    }

    #[test]
    fn parse_captured_echo_request() {
        let packet = Packet::new_checked(&REQUEST[..]).unwrap();
        assert!(packet.verify_checksum());
        assert_eq!(packet.msg_type(), Message::EchoRequest);
        assert_eq!(packet.data(), &REQUEST[8..]);
        let repr = Repr::parse(&packet, 56).unwrap();
        assert_eq!(
            repr,
            Repr::EchoRequest {
                ident: 7547,
                seq_no: 1,
                data_len: 56
            }
        );
        assert_eq!(repr.data_len(), 56);
        // Header-only view gives the same Repr.
        let head = Packet::new_checked(&REQUEST[..8]).unwrap();
        assert_eq!(Repr::parse(&head, 56).unwrap(), repr);
    }

    #[test]
    fn emit_reply_matches_kernel() {
        let Repr::EchoRequest {
            ident,
            seq_no,
            data_len,
        } = Repr::parse(&Packet::new_unchecked(&REQUEST[..]), 56).unwrap()
        else {
            panic!("not a request");
        };
        let reply = Repr::EchoReply {
            ident,
            seq_no,
            data_len,
        };
        let mut buf = [0u8; HEADER_LEN];
        // Data sum streamed in odd-sized chunks.
        let mut data_sum = Checksum::new();
        for chunk in REQUEST[8..].chunks(7) {
            data_sum.add_bytes(chunk);
        }
        reply.emit_header(&mut Packet::new_unchecked(&mut buf[..]), data_sum);
        assert_eq!(buf, REPLY_HEADER);
        // The data sum implied by the request header gives the same result.
        let implied = Packet::new_unchecked(&REQUEST[..8]).implied_data_sum();
        let mut buf2 = [0u8; HEADER_LEN];
        reply.emit_header(&mut Packet::new_unchecked(&mut buf2[..]), implied);
        assert_eq!(buf2, REPLY_HEADER);
    }

    #[test]
    fn parse_captured_port_unreachable() {
        let packet = Packet::new_checked(&PORT_UNREACH[..]).unwrap();
        assert!(packet.verify_checksum());
        let repr = Repr::parse(&packet, 33).unwrap();
        assert_eq!(
            repr,
            Repr::DstUnreachable {
                reason: DstUnreachable::PortUnreachable,
                data_len: 33
            }
        );
        let mut buf = [0xffu8; HEADER_LEN];
        repr.emit_header(
            &mut Packet::new_unchecked(&mut buf[..]),
            sum_of(&PORT_UNREACH[8..]),
        );
        assert_eq!(buf, PORT_UNREACH[..8]);
    }

    #[test]
    fn round_trip_whole_buffer() {
        for repr in [
            Repr::EchoRequest {
                ident: 1,
                seq_no: 0xffff,
                data_len: 3,
            },
            Repr::EchoReply {
                ident: 0,
                seq_no: 2,
                data_len: 3,
            },
            Repr::DstUnreachable {
                reason: DstUnreachable::ProtoUnreachable,
                data_len: 3,
            },
        ] {
            let mut buf = [0u8; 11];
            buf[8..].copy_from_slice(&[0xde, 0xad, 0xbe]);
            let data_sum = sum_of(&buf[8..]);
            repr.emit_header(&mut Packet::new_unchecked(&mut buf[..]), data_sum);
            let packet = Packet::new_checked(&buf[..]).unwrap();
            assert!(packet.verify_checksum(), "{repr:?}");
            assert_eq!(Repr::parse(&packet, 3).unwrap(), repr);
            assert_eq!(repr.buffer_len(), 8);
        }
    }

    #[test]
    fn errors() {
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&REQUEST[..7]), 0),
            Err(Error::Truncated)
        );
        let mut bad_code = REQUEST;
        bad_code[1] = 1;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&bad_code[..]), 56),
            Err(Error::Malformed)
        );
        let mut time_exceeded = REQUEST;
        time_exceeded[0] = 11;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&time_exceeded[..]), 56),
            Err(Error::Unsupported)
        );
        let mut corrupt = REQUEST;
        corrupt[20] ^= 1;
        assert!(!Packet::new_unchecked(&corrupt[..]).verify_checksum());
        let mut packet = Packet::new_unchecked(&mut corrupt[..]);
        packet.fill_checksum();
        assert!(packet.verify_checksum());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..40),
            data_len in any::<usize>(),
        ) {
            let p = Packet::new_unchecked(&bytes[..]);
            let _ = (
                p.msg_type(), p.msg_code(), p.checksum(), p.echo_ident(),
                p.echo_seq_no(), p.data(), p.verify_checksum(), p.implied_data_sum(),
            );
            let _ = Packet::new_checked(&bytes[..]);
            if let Ok(repr) = Repr::parse(&p, data_len) {
                let mut out = [0u8; 3];
                repr.emit_header(&mut Packet::new_unchecked(&mut out[..]), Checksum::new());
            }
        }

        #[test]
        fn implied_sum_matches_real_sum(
            data in proptest::collection::vec(any::<u8>(), 0..64),
            ident in any::<u16>(), seq_no in any::<u16>(),
        ) {
            let mut buf = std::vec![0u8; 8 + data.len()];
            buf[8..].copy_from_slice(&data);
            let request = Repr::EchoRequest { ident, seq_no, data_len: data.len() };
            request.emit_header(&mut Packet::new_unchecked(&mut buf[..]), sum_of(&data));
            let reply = Repr::EchoReply { ident, seq_no, data_len: data.len() };
            let mut a = [0u8; 8];
            reply.emit_header(&mut Packet::new_unchecked(&mut a[..]), sum_of(&data));
            let mut b = [0u8; 8];
            let implied = Packet::new_unchecked(&buf[..8]).implied_data_sum();
            reply.emit_header(&mut Packet::new_unchecked(&mut b[..]), implied);
            // Checksums may differ only as 0x0000 vs 0xffff (both "zero").
            let ck = |h: &[u8; 8]| u16::from_be_bytes([h[2], h[3]]);
            prop_assert!(ck(&a) == ck(&b) || (ck(&a) | ck(&b)) == 0xffff && (ck(&a) & ck(&b)) == 0);
            buf[..8].copy_from_slice(&b);
            prop_assert!(Packet::new_unchecked(&buf[..]).verify_checksum());
        }
    }
}
