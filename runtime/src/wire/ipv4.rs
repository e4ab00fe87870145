//! IPv4 headers (RFC 791) and the transport pseudo-header (RFC 768/9293).
//!
//! Received packets are usually viewed header-only: the interface reads the
//! first bytes of the datagram into a small buffer and validates them with
//! [`Packet::new_header_checked`]; the payload stays in the controller.
//! [`Packet::new_checked`] is for buffers that hold the whole datagram.
//!
//! Options in received headers are skipped (their length is honoured); the
//! stack never emits options. Fragments are not reassembled: [`Repr::parse`]
//! accepts them and [`Packet::is_fragment`] lets the interface count and
//! drop them.

use super::{
    array, be16, checksum::Checksum, put16, put_slice, Error, IpProtocol, Ipv4Address, Result,
};

/// Field offsets (RFC 791 section 3.1, "Internet Header Format").
mod field {
    /// Version (high nibble) and IHL in 32-bit words (low nibble).
    pub const VER_IHL: usize = 0;
    /// Type of service, now DSCP (RFC 2474) and ECN (RFC 3168).
    pub const DSCP_ECN: usize = 1;
    /// Total length of the datagram in bytes, 2 bytes.
    pub const LENGTH: usize = 2;
    /// Identification, 2 bytes.
    pub const IDENT: usize = 4;
    /// Flags (3 bits) and fragment offset in 8-byte units (13 bits).
    pub const FLG_OFF: usize = 6;
    /// Time to live.
    pub const TTL: usize = 8;
    /// Protocol of the payload.
    pub const PROTOCOL: usize = 9;
    /// Header checksum, 2 bytes.
    pub const CHECKSUM: usize = 10;
    /// Source address, 4 bytes.
    pub const SRC_ADDR: usize = 12;
    /// Destination address, 4 bytes.
    pub const DST_ADDR: usize = 16;
    /// End of the fixed header; options, if any, follow.
    pub const OPTIONS: usize = 20;

    /// "Don't Fragment" bit of the flags word.
    pub const DF: u16 = 0x4000;
    /// "More Fragments" bit of the flags word.
    pub const MF: u16 = 0x2000;
    /// Fragment offset mask of the flags word.
    pub const OFFSET: u16 = 0x1fff;
}

/// Length of an IPv4 header without options, the only kind the stack emits.
pub const HEADER_LEN: usize = field::OPTIONS;

/// A read/write view of an IPv4 packet (or just its header).
///
/// Getters never panic; on a buffer the checks reject they return zeros or
/// empty slices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without looking at it.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer that holds at least the header (options included),
    /// after [`Packet::check_header_len`].
    pub fn new_header_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_header_len()?;
        Ok(packet)
    }

    /// Wraps a buffer that holds the whole datagram, after
    /// [`Packet::check_len`].
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Validates the header when only the header was read:
    ///
    /// - [`Error::Truncated`]: fewer than 20 bytes;
    /// - [`Error::Malformed`]: version is not 4, or IHL < 5;
    /// - [`Error::Truncated`]: the buffer is shorter than IHL*4;
    /// - [`Error::Malformed`]: total length < IHL*4.
    pub fn check_header_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.version() != 4 || self.header_len() < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if len < self.header_len() {
            return Err(Error::Truncated);
        }
        if usize::from(self.total_len()) < self.header_len() {
            return Err(Error::Malformed);
        }
        Ok(())
    }

    /// Validates a whole datagram: [`Packet::check_header_len`], then
    /// [`Error::Truncated`] if the buffer is shorter than the total length.
    /// A longer buffer is fine (Ethernet pads short frames).
    pub fn check_len(&self) -> Result<()> {
        self.check_header_len()?;
        if self.buffer.as_ref().len() < usize::from(self.total_len()) {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn byte(&self, at: usize) -> u8 {
        self.buffer.as_ref().get(at).copied().unwrap_or(0)
    }

    /// The version field (4 for IPv4).
    pub fn version(&self) -> u8 {
        self.byte(field::VER_IHL) >> 4
    }

    /// The header length in bytes (IHL * 4), options included: 20..=60 in a
    /// valid packet.
    pub fn header_len(&self) -> usize {
        usize::from(self.byte(field::VER_IHL) & 0x0f) << 2
    }

    /// The DSCP and ECN byte (formerly type of service).
    pub fn dscp_ecn(&self) -> u8 {
        self.byte(field::DSCP_ECN)
    }

    /// Length of the datagram, header included, in bytes.
    pub fn total_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH)
    }

    /// Identification, used to reassemble fragments.
    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::IDENT)
    }

    /// The Don't Fragment flag.
    pub fn dont_frag(&self) -> bool {
        be16(self.buffer.as_ref(), field::FLG_OFF) & field::DF != 0
    }

    /// The More Fragments flag.
    pub fn more_frags(&self) -> bool {
        be16(self.buffer.as_ref(), field::FLG_OFF) & field::MF != 0
    }

    /// The fragment offset in bytes (the field counts 8-byte units).
    pub fn frag_offset(&self) -> u16 {
        (be16(self.buffer.as_ref(), field::FLG_OFF) & field::OFFSET) << 3
    }

    /// True for any fragment (MF set or a non-zero offset): the stack does
    /// not reassemble, so the interface drops these.
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }

    /// Time to live.
    pub fn hop_limit(&self) -> u8 {
        self.byte(field::TTL)
    }

    /// The protocol of the payload.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.byte(field::PROTOCOL))
    }

    /// The header checksum field.
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The source address.
    pub fn src_addr(&self) -> Ipv4Address {
        Ipv4Address(array(self.buffer.as_ref(), field::SRC_ADDR))
    }

    /// The destination address.
    pub fn dst_addr(&self) -> Ipv4Address {
        Ipv4Address(array(self.buffer.as_ref(), field::DST_ADDR))
    }

    /// The header bytes, options included, clamped to the buffer.
    fn header_bytes(&self) -> &[u8] {
        let buf = self.buffer.as_ref();
        buf.get(..self.header_len().min(buf.len())).unwrap_or(&[])
    }

    /// True when the header checksum verifies over `header_len` bytes;
    /// false if the buffer does not hold the whole header.
    pub fn verify_checksum(&self) -> bool {
        let header = self.header_bytes();
        if header.len() < self.header_len().max(HEADER_LEN) {
            return false;
        }
        let mut sum = Checksum::new();
        sum.add_bytes(header);
        sum.is_valid()
    }

    /// Options bytes (between the fixed header and `header_len`), clamped.
    pub fn options(&self) -> &[u8] {
        self.header_bytes().get(field::OPTIONS..).unwrap_or(&[])
    }

    /// The payload bytes in the buffer: from `header_len` to `total_len`,
    /// both clamped to the buffer (empty for a header-only view).
    pub fn payload(&self) -> &[u8] {
        let buf = self.buffer.as_ref();
        let end = usize::from(self.total_len()).min(buf.len());
        buf.get(self.header_len()..end).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_byte(&mut self, at: usize, value: u8) {
        if let Some(b) = self.buffer.as_mut().get_mut(at) {
            *b = value;
        }
    }

    /// Sets the version nibble.
    pub fn set_version(&mut self, version: u8) {
        let v = (self.byte(field::VER_IHL) & 0x0f) | (version << 4);
        self.set_byte(field::VER_IHL, v);
    }

    /// Sets the header length in bytes; it is stored in 4-byte words, so it
    /// is rounded down to a multiple of 4 and clamped to 60.
    pub fn set_header_len(&mut self, len: usize) {
        let words = (len >> 2).min(15) as u8;
        let v = (self.byte(field::VER_IHL) & 0xf0) | words;
        self.set_byte(field::VER_IHL, v);
    }

    /// Sets the DSCP and ECN byte.
    pub fn set_dscp_ecn(&mut self, value: u8) {
        self.set_byte(field::DSCP_ECN, value);
    }

    /// Sets the total length.
    pub fn set_total_len(&mut self, len: u16) {
        put16(self.buffer.as_mut(), field::LENGTH, len);
    }

    /// Sets the identification.
    pub fn set_ident(&mut self, ident: u16) {
        put16(self.buffer.as_mut(), field::IDENT, ident);
    }

    fn set_flg_off(&mut self, mask: u16, value: u16) {
        let old = be16(self.buffer.as_ref(), field::FLG_OFF);
        put16(
            self.buffer.as_mut(),
            field::FLG_OFF,
            (old & !mask) | (value & mask),
        );
    }

    /// Clears the flags and the fragment offset.
    pub fn clear_flags(&mut self) {
        put16(self.buffer.as_mut(), field::FLG_OFF, 0);
    }

    /// Sets or clears Don't Fragment.
    pub fn set_dont_frag(&mut self, value: bool) {
        self.set_flg_off(field::DF, if value { field::DF } else { 0 });
    }

    /// Sets or clears More Fragments.
    pub fn set_more_frags(&mut self, value: bool) {
        self.set_flg_off(field::MF, if value { field::MF } else { 0 });
    }

    /// Sets the fragment offset in bytes (rounded down to 8-byte units).
    pub fn set_frag_offset(&mut self, offset: u16) {
        self.set_flg_off(field::OFFSET, offset >> 3);
    }

    /// Sets the time to live.
    pub fn set_hop_limit(&mut self, ttl: u8) {
        self.set_byte(field::TTL, ttl);
    }

    /// Sets the payload protocol.
    pub fn set_next_header(&mut self, protocol: IpProtocol) {
        self.set_byte(field::PROTOCOL, protocol.into());
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv4Address) {
        put_slice(self.buffer.as_mut(), field::SRC_ADDR, addr.as_bytes());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv4Address) {
        put_slice(self.buffer.as_mut(), field::DST_ADDR, addr.as_bytes());
    }

    /// Computes and stores the header checksum over `header_len` bytes
    /// (clamped to the buffer). Set every other header field first.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let mut sum = Checksum::new();
        sum.add_bytes(self.header_bytes());
        self.set_checksum(sum.finish());
    }

    /// The payload bytes in the buffer, writable (see [`Packet::payload`]).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        let buf = self.buffer.as_mut();
        let end = usize::from(be16(buf, field::LENGTH)).min(buf.len());
        buf.get_mut(start..end).unwrap_or(&mut [])
    }
}

/// The high-level form of an IPv4 header: what the stack needs to route a
/// payload; options, DSCP and fragmentation are not represented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub src_addr: Ipv4Address,
    /// Destination address.
    pub dst_addr: Ipv4Address,
    /// Payload protocol.
    pub next_header: IpProtocol,
    /// Bytes after the header (total length minus header length).
    pub payload_len: usize,
    /// Time to live.
    pub hop_limit: u8,
}

impl Repr {
    /// Reads a header, from a header-only or whole-packet view.
    ///
    /// Runs [`Packet::check_header_len`] (so [`Error::Truncated`] or
    /// [`Error::Malformed`]), then, if `verify`, [`Error::Checksum`] when
    /// the header checksum is wrong. It does not check that the payload is
    /// all there: the caller compares [`Repr::payload_len`] with what the
    /// frame holds. Fragments parse; see [`Packet::is_fragment`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>, verify: bool) -> Result<Repr> {
        packet.check_header_len()?;
        if verify && !packet.verify_checksum() {
            return Err(Error::Checksum);
        }
        let payload_len = usize::from(packet.total_len())
            .checked_sub(packet.header_len())
            .ok_or(Error::Malformed)?;
        Ok(Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len,
            hop_limit: packet.hop_limit(),
        })
    }

    /// Bytes [`Repr::emit`] writes: [`HEADER_LEN`] (never options).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// The total length field [`Repr::emit`] writes: 20 + `payload_len`,
    /// saturated at 65 535 (a larger datagram cannot exist; callers must not
    /// build one, and this keeps emit panic-free if they do).
    pub fn total_len(&self) -> u16 {
        u16::try_from(HEADER_LEN.saturating_add(self.payload_len)).unwrap_or(u16::MAX)
    }

    /// Writes a complete 20-byte header, checksum included: version 4,
    /// IHL 5, DSCP/ECN 0, [`Repr::total_len`], identification 0 with Don't
    /// Fragment set (an atomic datagram, RFC 6864 section 4.1, may use any
    /// ID), TTL, protocol and addresses.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_version(4);
        packet.set_header_len(HEADER_LEN);
        packet.set_dscp_ecn(0);
        packet.set_total_len(self.total_len());
        packet.set_ident(0);
        packet.clear_flags();
        packet.set_dont_frag(true);
        packet.set_hop_limit(self.hop_limit);
        packet.set_next_header(self.next_header);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        packet.fill_checksum();
    }
}

/// The checksum of the pseudo-header that UDP (RFC 768) and TCP (RFC 9293
/// section 3.1) prefix to their segment: source, destination, a zero byte,
/// the protocol, and `length` (the transport header plus payload in bytes).
///
/// Add the transport header (with a zero checksum field) and the payload to
/// the result as they stream, then `finish()` it.
pub fn pseudo_header(
    src: Ipv4Address,
    dst: Ipv4Address,
    protocol: IpProtocol,
    length: u16,
) -> Checksum {
    let mut sum = Checksum::new();
    sum.add_u32(src.to_u32());
    sum.add_u32(dst.to_u32());
    sum.add_u32(u32::from(u8::from(protocol)) << 16 | u32::from(length));
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // ICMP echo request captured from Linux, 10.78.0.1 -> 10.78.0.2, 64 data
    // bytes (Ethernet header removed).
    const PING: [u8; 84] = [
        0x45, 0x00, 0x00, 0x54, 0xe8, 0x9b, 0x40, 0x00, 0x40, 0x01, 0x3d, 0x6f, 0x0a, 0x4e, 0x00,
        0x01, 0x0a, 0x4e, 0x00, 0x02, 0x08, 0x00, 0x44, 0xc7, 0x1d, 0x7b, 0x00, 0x01, 0x68, 0x02,
        0x02, 0x6b, 0x00, 0x00, 0x00, 0x00, 0x65, 0x7c, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
        0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e,
        0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
    ];

    // The ICMP port unreachable Linux sent back for a UDP datagram to a
    // closed port: DSCP CS6 (0xc0), no DF, TTL 64.
    const UNREACH_HEADER: [u8; 20] = [
        0x45, 0xc0, 0x00, 0x3d, 0xd1, 0xf9, 0x00, 0x00, 0x40, 0x01, 0x93, 0x68, 0x0a, 0x4e, 0x00,
        0x02, 0x0a, 0x4e, 0x00, 0x01,
    ];

    // A DNS query over UDP, 10.78.0.1:51712 -> 10.78.0.2:53, from Linux.
    const DNS: [u8; 57] = [
        0x45, 0x00, 0x00, 0x39, 0x4a, 0x86, 0x40, 0x00, 0x40, 0x11, 0xdb, 0x8f, 0x0a, 0x4e, 0x00,
        0x01, 0x0a, 0x4e, 0x00, 0x02, 0xca, 0x00, 0x00, 0x35, 0x00, 0x25, 0x37, 0x37, 0x1a, 0x2b,
        0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x65, 0x78, 0x61, 0x6d,
        0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00, 0x01,
    ];

    const A: Ipv4Address = Ipv4Address::new(10, 78, 0, 1);
    const B: Ipv4Address = Ipv4Address::new(10, 78, 0, 2);

    #[test]
    fn parse_captured_ping_whole() {
        let packet = Packet::new_checked(&PING[..]).unwrap();
        assert_eq!(packet.version(), 4);
        assert_eq!(packet.header_len(), 20);
        assert_eq!(packet.total_len(), 84);
        assert_eq!(packet.ident(), 0xe89b);
        assert!(packet.dont_frag());
        assert!(!packet.more_frags());
        assert_eq!(packet.frag_offset(), 0);
        assert!(!packet.is_fragment());
        assert_eq!(packet.checksum(), 0x3d6f);
        assert!(packet.verify_checksum());
        assert_eq!(packet.payload(), &PING[20..]);
        assert!(packet.options().is_empty());
        assert_eq!(
            Repr::parse(&packet, true).unwrap(),
            Repr {
                src_addr: A,
                dst_addr: B,
                next_header: IpProtocol::Icmp,
                payload_len: 64,
                hop_limit: 64,
            }
        );
    }

    #[test]
    fn parse_header_only_view() {
        // Header plus the first 8 payload bytes, as the interface reads it.
        let head = &PING[..28];
        assert_eq!(Packet::new_checked(head).unwrap_err(), Error::Truncated);
        let packet = Packet::new_header_checked(head).unwrap();
        let repr = Repr::parse(&packet, true).unwrap();
        assert_eq!(repr.payload_len, 64);
        assert_eq!(packet.payload(), &PING[20..28]);
        // Exactly the header is enough too.
        let packet = Packet::new_header_checked(&PING[..20]).unwrap();
        assert!(packet.verify_checksum());
        assert!(packet.payload().is_empty());
    }

    #[test]
    fn parse_captured_dscp_no_df() {
        let packet = Packet::new_header_checked(&UNREACH_HEADER[..]).unwrap();
        assert_eq!(packet.dscp_ecn(), 0xc0);
        assert!(!packet.dont_frag());
        let repr = Repr::parse(&packet, true).unwrap();
        assert_eq!(repr.payload_len, 41);
        assert_eq!(repr.src_addr, B);
    }

    #[test]
    fn emit_round_trip() {
        let repr = Repr {
            src_addr: A,
            dst_addr: B,
            next_header: IpProtocol::Udp,
            payload_len: 37,
            hop_limit: 64,
        };
        let mut buf = [0xffu8; HEADER_LEN];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        // Same as the captured DNS query's header except ident and checksum.
        assert_eq!(buf[..4], DNS[..4]);
        assert_eq!(buf[4..6], [0, 0]);
        assert_eq!(buf[6..10], DNS[6..10]);
        assert_eq!(buf[12..20], DNS[12..20]);
        let packet = Packet::new_header_checked(&buf[..]).unwrap();
        assert!(packet.verify_checksum());
        assert_eq!(Repr::parse(&packet, true).unwrap(), repr);
        assert_eq!(repr.buffer_len(), 20);
    }

    #[test]
    fn emit_saturates_absurd_payload_len() {
        let repr = Repr {
            src_addr: A,
            dst_addr: B,
            next_header: IpProtocol::Tcp,
            payload_len: usize::MAX,
            hop_limit: 1,
        };
        let mut buf = [0u8; HEADER_LEN];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(Packet::new_unchecked(&buf[..]).total_len(), u16::MAX);
        // Emitting into a short buffer writes what fits.
        let mut short = [0u8; 7];
        repr.emit(&mut Packet::new_unchecked(&mut short[..]));
        assert_eq!(short[0], 0x45);
    }

    #[test]
    fn checksum_error() {
        let mut buf = PING;
        buf[8] = 63; // TTL changed without fixing the checksum.
        let packet = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Repr::parse(&packet, true), Err(Error::Checksum));
        assert!(Repr::parse(&packet, false).is_ok());
        let mut packet = Packet::new_unchecked(&mut buf[..]);
        packet.fill_checksum();
        assert!(packet.verify_checksum());
    }

    #[test]
    fn malformed_and_truncated() {
        let check = |bytes: &[u8]| Packet::new_header_checked(bytes).map(|_| ());
        assert_eq!(check(&PING[..19]), Err(Error::Truncated));
        let mut v6 = PING;
        v6[0] = 0x65;
        assert_eq!(check(&v6), Err(Error::Malformed));
        let mut ihl4 = PING;
        ihl4[0] = 0x44;
        assert_eq!(check(&ihl4), Err(Error::Malformed));
        let mut ihl6 = PING;
        ihl6[0] = 0x46;
        assert_eq!(check(&ihl6[..23]), Err(Error::Truncated));
        assert!(check(&ihl6[..24]).is_ok());
        let mut short_total = PING;
        short_total[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert_eq!(check(&short_total), Err(Error::Malformed));
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&short_total[..]), false),
            Err(Error::Malformed)
        );
        let mut long_total = PING;
        long_total[2..4].copy_from_slice(&85u16.to_be_bytes());
        assert!(check(&long_total).is_ok());
        assert_eq!(
            Packet::new_checked(&long_total[..]).unwrap_err(),
            Error::Truncated
        );
    }

    #[test]
    fn options_are_skipped() {
        // The captured header with a 4-byte NOP/EOL option area added.
        let mut buf = [0u8; 24];
        buf[..20].copy_from_slice(&PING[..20]);
        buf[0] = 0x46;
        buf[2..4].copy_from_slice(&24u16.to_be_bytes());
        buf[20..24].copy_from_slice(&[1, 1, 1, 0]);
        let mut packet = Packet::new_unchecked(&mut buf[..]);
        packet.fill_checksum();
        let packet = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(packet.options(), &[1, 1, 1, 0]);
        assert!(packet.verify_checksum());
        let repr = Repr::parse(&packet, true).unwrap();
        assert_eq!(repr.payload_len, 0);
    }

    #[test]
    fn fragments_parse_and_are_flagged() {
        let mut buf = PING;
        let mut packet = Packet::new_unchecked(&mut buf[..]);
        packet.set_dont_frag(false);
        packet.set_more_frags(true);
        packet.fill_checksum();
        let packet = Packet::new_checked(&buf[..]).unwrap();
        assert!(packet.is_fragment());
        assert!(Repr::parse(&packet, true).is_ok());

        let mut buf = PING;
        let mut packet = Packet::new_unchecked(&mut buf[..]);
        packet.set_frag_offset(1480);
        assert_eq!(packet.frag_offset(), 1480);
        assert!(packet.dont_frag());
        assert!(!packet.more_frags());
        assert!(packet.is_fragment());
    }

    #[test]
    fn pseudo_header_verifies_captured_udp() {
        let ip = Packet::new_checked(&DNS[..]).unwrap();
        let repr = Repr::parse(&ip, true).unwrap();
        assert_eq!(repr.next_header, IpProtocol::Udp);
        let mut sum = pseudo_header(
            repr.src_addr,
            repr.dst_addr,
            repr.next_header,
            repr.payload_len as u16,
        );
        sum.add_bytes(ip.payload());
        assert!(sum.is_valid());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let p = Packet::new_unchecked(&bytes[..]);
            let _ = (
                p.version(), p.header_len(), p.dscp_ecn(), p.total_len(), p.ident(),
                p.dont_frag(), p.more_frags(), p.frag_offset(), p.is_fragment(),
                p.hop_limit(), p.next_header(), p.checksum(), p.src_addr(), p.dst_addr(),
                p.verify_checksum(), p.options(), p.payload(),
            );
            let header = Packet::new_header_checked(&bytes[..]);
            let whole = Packet::new_checked(&bytes[..]);
            if whole.is_ok() {
                prop_assert!(header.is_ok());
            }
            for verify in [false, true] {
                if let Ok(repr) = Repr::parse(&p, verify) {
                    prop_assert!(header.is_ok());
                    prop_assert!(repr.payload_len <= 65535 - 20);
                }
            }
            let mut copy = bytes.clone();
            let mut m = Packet::new_unchecked(&mut copy[..]);
            m.fill_checksum();
            let _ = m.payload_mut();
        }

        #[test]
        fn emit_parse_round_trip(
            src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(), proto in any::<u8>(),
            payload_len in 0usize..65516, hop_limit in any::<u8>(),
        ) {
            let repr = Repr {
                src_addr: Ipv4Address(src),
                dst_addr: Ipv4Address(dst),
                next_header: IpProtocol::from(proto),
                payload_len,
                hop_limit,
            };
            let mut buf = [0u8; HEADER_LEN];
            repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
            let p = Packet::new_header_checked(&buf[..]).unwrap();
            prop_assert_eq!(Repr::parse(&p, true).unwrap(), repr);
        }
    }
}
