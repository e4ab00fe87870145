//! TCP segment headers (RFC 9293) and sequence-number arithmetic.
//!
//! The stack reads the header (options included) into a small buffer and
//! streams the payload, so [`Repr`] carries the payload's length and the
//! caller computes the checksum over the pseudo-header
//! ([`super::ipv4::pseudo_header`]), the header and the streamed payload;
//! [`Repr::header_sum`] covers the first two.

use core::cmp::Ordering;
use core::fmt;

use super::{
    be16, be32, checksum::Checksum, ipv4, put16, put32, put_slice, Error, IpProtocol, Ipv4Address,
    Result,
};

/// Field offsets (RFC 9293 section 3.1, "Header Format").
mod field {
    /// Source port, 2 bytes.
    pub const SRC_PORT: usize = 0;
    /// Destination port, 2 bytes.
    pub const DST_PORT: usize = 2;
    /// Sequence number, 4 bytes.
    pub const SEQ_NUM: usize = 4;
    /// Acknowledgment number, 4 bytes.
    pub const ACK_NUM: usize = 8;
    /// Data offset in 32-bit words (high nibble) and reserved bits.
    pub const DATA_OFF: usize = 12;
    /// Control bits: CWR ECE URG ACK PSH RST SYN FIN.
    pub const FLAGS: usize = 13;
    /// Window, 2 bytes.
    pub const WIN_SIZE: usize = 14;
    /// Checksum, 2 bytes.
    pub const CHECKSUM: usize = 16;
    /// Urgent pointer, 2 bytes.
    pub const URGENT: usize = 18;
    /// First option byte (end of the fixed header).
    pub const OPTIONS: usize = 20;
}

/// Option kinds and lengths (RFC 9293 section 3.2; window scale RFC 7323
/// section 2.2; SACK-permitted RFC 2018 section 2).
mod option {
    /// End of option list (single byte).
    pub const END: u8 = 0;
    /// No-operation (single byte).
    pub const NOP: u8 = 1;
    /// Maximum segment size: kind, length 4, two bytes.
    pub const MSS: u8 = 2;
    /// Length of the MSS option.
    pub const MSS_LEN: u8 = 4;
    /// Window scale: kind, length 3, shift count.
    pub const WS: u8 = 3;
    /// Length of the window scale option.
    pub const WS_LEN: u8 = 3;
    /// SACK permitted: kind, length 2.
    pub const SACK_PERM: u8 = 4;
    /// Length of the SACK-permitted option.
    pub const SACK_PERM_LEN: u8 = 2;
    /// Kind 8: timestamps (RFC 7323 §3.2).
    pub const TS: u8 = 8;
    /// Length of the timestamps option: kind, length, TSval, TSecr.
    pub const TS_LEN: u8 = 10;
}

/// Length of a TCP header without options.
pub const HEADER_LEN: usize = field::OPTIONS;
/// Bytes the timestamps option takes with its two aligning NOPs.
pub const TIMESTAMPS_LEN: usize = 12;

/// The longest header [`Repr::emit_into`] writes: MSS and timestamps.
pub const MAX_EMIT_LEN: usize = HEADER_LEN + option::MSS_LEN as usize + TIMESTAMPS_LEN;

/// A TCP sequence number: arithmetic and comparison are modulo 2^32
/// (RFC 9293 section 3.4).
///
/// Comparison uses the signed 32-bit difference, so `a < b` holds when `b`
/// is less than 2^31 ahead of `a` even across the wrap. Two numbers exactly
/// 2^31 apart are each "less" than the other, which is why this is only
/// `PartialOrd`. There are no `+`/`-` operators (the crate's lints reject
/// operators on custom types); use the methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// `self + n` modulo 2^32 (`n` is taken modulo 2^32 too).
    #[allow(clippy::should_implement_trait)]
    #[must_use]
    pub const fn add(self, n: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n as u32))
    }

    /// The signed distance `self - other`: positive when `self` is after
    /// `other` (by less than 2^31).
    #[allow(clippy::should_implement_trait)]
    #[must_use]
    pub const fn sub(self, other: SeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// How far `self` is ahead of `earlier`, modulo 2^32: the number of
    /// sequence numbers from `earlier` up to `self`. Meaningful when
    /// `earlier <= self`.
    #[must_use]
    pub const fn distance(self, earlier: SeqNumber) -> usize {
        self.0.wrapping_sub(earlier.0) as usize
    }

    /// `self - n` modulo 2^32.
    #[must_use]
    pub const fn sub_len(self, n: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(n as u32))
    }

    /// The later of two sequence numbers.
    #[must_use]
    pub fn max(self, other: SeqNumber) -> SeqNumber {
        if self.sub(other) >= 0 {
            self
        } else {
            other
        }
    }

    /// The earlier of two sequence numbers.
    #[must_use]
    pub fn min(self, other: SeqNumber) -> SeqNumber {
        if self.sub(other) <= 0 {
            self
        } else {
            other
        }
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &SeqNumber) -> Option<Ordering> {
        Some(self.sub(*other).cmp(&0))
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The eight control bits of byte 13 (RFC 9293 section 3.1; CWR and ECE
/// from RFC 3168).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u8);

impl Flags {
    /// No more data from sender.
    pub const FIN: Flags = Flags(0x01);
    /// Synchronize sequence numbers.
    pub const SYN: Flags = Flags(0x02);
    /// Reset the connection.
    pub const RST: Flags = Flags(0x04);
    /// Push function.
    pub const PSH: Flags = Flags(0x08);
    /// Acknowledgment field is significant.
    pub const ACK: Flags = Flags(0x10);
    /// Urgent pointer field is significant.
    pub const URG: Flags = Flags(0x20);
    /// ECN echo.
    pub const ECE: Flags = Flags(0x40);
    /// Congestion window reduced.
    pub const CWR: Flags = Flags(0x80);
    /// No flags.
    pub const EMPTY: Flags = Flags(0);

    /// True when every bit of `other` is set in `self`.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The bits of both.
    #[must_use]
    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// `self` with the bits of `other` set or cleared.
    #[must_use]
    pub const fn with(self, other: Flags, on: bool) -> Flags {
        if on {
            Flags(self.0 | other.0)
        } else {
            Flags(self.0 & !other.0)
        }
    }
}

impl core::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        self.union(rhs)
    }
}

/// The timestamps option's values (RFC 7323 §3.2): the sender's clock and
/// the most recent peer clock value it received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timestamp {
    /// The sender's timestamp clock.
    pub tsval: u32,
    /// The TSval being echoed (0 on a SYN).
    pub tsecr: u32,
}

/// One TCP option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption {
    /// Kind 0: end of the option list; the rest of the area is padding.
    EndOfList,
    /// Kind 1: padding between options.
    NoOperation,
    /// Kind 2: the largest segment the sender can receive (SYN only).
    MaxSegmentSize(u16),
    /// Kind 3: window scale shift count (RFC 7323).
    WindowScale(u8),
    /// Kind 4: selective acknowledgment permitted (RFC 2018).
    SackPermitted,
    /// Kind 8: timestamps (RFC 7323 §3).
    Timestamps(Timestamp),
    /// Any other well-formed option (SACK blocks...), skipped.
    Unknown {
        /// Option kind.
        kind: u8,
        /// Total option length, kind and length bytes included.
        len: u8,
    },
}

impl TcpOption {
    /// Reads one option at the start of `buffer`, returning it and the bytes
    /// after it.
    ///
    /// [`Error::Malformed`] (RFC 9293 MUST-7: handle illegal lengths without
    /// crashing) when the buffer is empty, the length byte is missing, is 0
    /// or 1, runs past the buffer, or does not match a known kind's fixed
    /// length.
    pub fn parse(buffer: &[u8]) -> Result<(&[u8], TcpOption)> {
        let (&kind, after_kind) = buffer.split_first().ok_or(Error::Malformed)?;
        match kind {
            option::END => return Ok((after_kind, TcpOption::EndOfList)),
            option::NOP => return Ok((after_kind, TcpOption::NoOperation)),
            _ => {}
        }
        let &len = after_kind.first().ok_or(Error::Malformed)?;
        if len < 2 {
            return Err(Error::Malformed);
        }
        let body = buffer.get(2..usize::from(len)).ok_or(Error::Malformed)?;
        let rest = buffer.get(usize::from(len)..).unwrap_or(&[]);
        let parsed = match (kind, len, body) {
            (option::MSS, option::MSS_LEN, &[hi, lo]) => {
                TcpOption::MaxSegmentSize(u16::from_be_bytes([hi, lo]))
            }
            (option::WS, option::WS_LEN, &[shift]) => TcpOption::WindowScale(shift),
            (option::SACK_PERM, option::SACK_PERM_LEN, &[]) => TcpOption::SackPermitted,
            (option::TS, option::TS_LEN, &[a, b, c, d, e, f, g, h]) => {
                TcpOption::Timestamps(Timestamp {
                    tsval: u32::from_be_bytes([a, b, c, d]),
                    tsecr: u32::from_be_bytes([e, f, g, h]),
                })
            }
            (option::MSS | option::WS | option::SACK_PERM | option::TS, _, _) => {
                return Err(Error::Malformed)
            }
            (kind, len, _) => TcpOption::Unknown { kind, len },
        };
        Ok((rest, parsed))
    }

    /// Bytes [`TcpOption::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        match *self {
            TcpOption::EndOfList | TcpOption::NoOperation => 1,
            TcpOption::MaxSegmentSize(_) => option::MSS_LEN as usize,
            TcpOption::WindowScale(_) => option::WS_LEN as usize,
            TcpOption::SackPermitted => option::SACK_PERM_LEN as usize,
            TcpOption::Timestamps(_) => option::TS_LEN as usize,
            TcpOption::Unknown { len, .. } => len as usize,
        }
    }

    /// Writes the option at the start of `buffer` and returns the bytes
    /// written ([`TcpOption::buffer_len`]), or 0 if it does not fit. An
    /// [`TcpOption::Unknown`] is written as its kind and length followed by
    /// zeros.
    pub fn emit(&self, buffer: &mut [u8]) -> usize {
        let len = self.buffer_len();
        let Some(out) = buffer.get_mut(..len) else {
            return 0;
        };
        out.fill(0);
        match *self {
            TcpOption::EndOfList => put_slice(out, 0, &[option::END]),
            TcpOption::NoOperation => put_slice(out, 0, &[option::NOP]),
            TcpOption::MaxSegmentSize(mss) => {
                put_slice(out, 0, &[option::MSS, option::MSS_LEN]);
                put16(out, 2, mss);
            }
            TcpOption::WindowScale(shift) => {
                put_slice(out, 0, &[option::WS, option::WS_LEN, shift]);
            }
            TcpOption::SackPermitted => {
                put_slice(out, 0, &[option::SACK_PERM, option::SACK_PERM_LEN]);
            }
            TcpOption::Timestamps(ts) => {
                put_slice(out, 0, &[option::TS, option::TS_LEN]);
                put32(out, 2, ts.tsval);
                put32(out, 6, ts.tsecr);
            }
            TcpOption::Unknown { kind, len } => put_slice(out, 0, &[kind, len]),
        }
        len
    }
}

/// An iterator over the options area of a header.
///
/// Yields each option except padding after [`TcpOption::EndOfList`], which
/// ends the iteration (and is not yielded). A malformed option is yielded
/// as `Err(Error::Malformed)` and ends the iteration too.
#[derive(Debug, Clone)]
pub struct TcpOptions<'a> {
    rest: &'a [u8],
}

impl<'a> TcpOptions<'a> {
    /// Iterates over an options area (the bytes between the fixed header
    /// and the data offset).
    pub const fn new(options: &'a [u8]) -> TcpOptions<'a> {
        TcpOptions { rest: options }
    }
}

impl Iterator for TcpOptions<'_> {
    type Item = Result<TcpOption>;

    fn next(&mut self) -> Option<Result<TcpOption>> {
        if self.rest.is_empty() {
            return None;
        }
        match TcpOption::parse(self.rest) {
            Ok((_, TcpOption::EndOfList)) => {
                self.rest = &[];
                None
            }
            Ok((rest, opt)) => {
                self.rest = rest;
                Some(Ok(opt))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for TcpOptions<'_> {}

/// A read/write view of a TCP segment (or just its header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without looking at it.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer holding at least the header with its options, after
    /// [`Packet::check_header_len`].
    pub fn new_header_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_header_len()?;
        Ok(packet)
    }

    /// Wraps a buffer after [`Packet::check_len`]. TCP has no length field
    /// (the IP header gives the segment length), so this is the same check
    /// as [`Packet::new_header_checked`]; kept for the common shape.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// [`Error::Truncated`] below 20 bytes; [`Error::Malformed`] when the
    /// data offset is below 5 words; [`Error::Truncated`] when the buffer is
    /// shorter than the data offset.
    pub fn check_header_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            Err(Error::Truncated)
        } else if self.header_len() < HEADER_LEN {
            Err(Error::Malformed)
        } else if len < self.header_len() {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Same as [`Packet::check_header_len`] (see [`Packet::new_checked`]).
    pub fn check_len(&self) -> Result<()> {
        self.check_header_len()
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn byte(&self, at: usize) -> u8 {
        self.buffer.as_ref().get(at).copied().unwrap_or(0)
    }

    /// The source port.
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// The destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// The sequence number of the first byte (or of the SYN).
    pub fn seq_number(&self) -> SeqNumber {
        SeqNumber(be32(self.buffer.as_ref(), field::SEQ_NUM))
    }

    /// The acknowledgment number (meaningful when ACK is set).
    pub fn ack_number(&self) -> SeqNumber {
        SeqNumber(be32(self.buffer.as_ref(), field::ACK_NUM))
    }

    /// The header length in bytes (data offset * 4), options included:
    /// 20..=60 in a valid segment.
    pub fn header_len(&self) -> usize {
        usize::from(self.byte(field::DATA_OFF) >> 4) << 2
    }

    /// All eight control bits.
    pub fn flags(&self) -> Flags {
        Flags(self.byte(field::FLAGS))
    }

    /// FIN: the sender has no more data.
    pub fn fin(&self) -> bool {
        self.flags().contains(Flags::FIN)
    }

    /// SYN: synchronize sequence numbers.
    pub fn syn(&self) -> bool {
        self.flags().contains(Flags::SYN)
    }

    /// RST: reset the connection.
    pub fn rst(&self) -> bool {
        self.flags().contains(Flags::RST)
    }

    /// PSH: push.
    pub fn psh(&self) -> bool {
        self.flags().contains(Flags::PSH)
    }

    /// ACK: the acknowledgment number is significant.
    pub fn ack(&self) -> bool {
        self.flags().contains(Flags::ACK)
    }

    /// URG: the urgent pointer is significant (the stack ignores it).
    pub fn urg(&self) -> bool {
        self.flags().contains(Flags::URG)
    }

    /// ECE: ECN echo.
    pub fn ece(&self) -> bool {
        self.flags().contains(Flags::ECE)
    }

    /// CWR: congestion window reduced.
    pub fn cwr(&self) -> bool {
        self.flags().contains(Flags::CWR)
    }

    /// The receive window the sender advertises (unscaled).
    pub fn window_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::WIN_SIZE)
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The urgent pointer.
    pub fn urgent_at(&self) -> u16 {
        be16(self.buffer.as_ref(), field::URGENT)
    }

    /// The options area (bytes 20 to the data offset), clamped to the
    /// buffer.
    pub fn options(&self) -> &[u8] {
        let buf = self.buffer.as_ref();
        let end = self.header_len().min(buf.len());
        buf.get(field::OPTIONS..end).unwrap_or(&[])
    }

    /// An iterator over the parsed options.
    pub fn option_iter(&self) -> TcpOptions<'_> {
        TcpOptions::new(self.options())
    }

    /// The data bytes in the buffer after the header (empty for a
    /// header-only view).
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(self.header_len()..).unwrap_or(&[])
    }

    /// For a view holding exactly the whole segment (no link padding): true
    /// when the checksum verifies over the pseudo-header and the buffer.
    pub fn verify_checksum(&self, src: Ipv4Address, dst: Ipv4Address) -> bool {
        let buf = self.buffer.as_ref();
        let Ok(len) = u16::try_from(buf.len()) else {
            return false;
        };
        let mut sum = ipv4::pseudo_header(src, dst, IpProtocol::Tcp, len);
        sum.add_bytes(buf);
        sum.is_valid()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_byte(&mut self, at: usize, value: u8) {
        put_slice(self.buffer.as_mut(), at, &[value]);
    }

    /// Sets the source port.
    pub fn set_src_port(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::SRC_PORT, value);
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::DST_PORT, value);
    }

    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, value: SeqNumber) {
        put32(self.buffer.as_mut(), field::SEQ_NUM, value.0);
    }

    /// Sets the acknowledgment number.
    pub fn set_ack_number(&mut self, value: SeqNumber) {
        put32(self.buffer.as_mut(), field::ACK_NUM, value.0);
    }

    /// Sets the header length in bytes (stored in 4-byte words: rounded
    /// down, clamped to 60) and clears the reserved bits.
    pub fn set_header_len(&mut self, len: usize) {
        let words = (len >> 2).min(15) as u8;
        self.set_byte(field::DATA_OFF, words << 4);
    }

    /// Sets all eight control bits.
    pub fn set_flags(&mut self, flags: Flags) {
        self.set_byte(field::FLAGS, flags.0);
    }

    fn set_flag(&mut self, flag: Flags, on: bool) {
        let flags = self.flags().with(flag, on);
        self.set_flags(flags);
    }

    /// Sets or clears FIN.
    pub fn set_fin(&mut self, on: bool) {
        self.set_flag(Flags::FIN, on);
    }

    /// Sets or clears SYN.
    pub fn set_syn(&mut self, on: bool) {
        self.set_flag(Flags::SYN, on);
    }

    /// Sets or clears RST.
    pub fn set_rst(&mut self, on: bool) {
        self.set_flag(Flags::RST, on);
    }

    /// Sets or clears PSH.
    pub fn set_psh(&mut self, on: bool) {
        self.set_flag(Flags::PSH, on);
    }

    /// Sets or clears ACK.
    pub fn set_ack(&mut self, on: bool) {
        self.set_flag(Flags::ACK, on);
    }

    /// Sets or clears URG.
    pub fn set_urg(&mut self, on: bool) {
        self.set_flag(Flags::URG, on);
    }

    /// Sets or clears ECE.
    pub fn set_ece(&mut self, on: bool) {
        self.set_flag(Flags::ECE, on);
    }

    /// Sets or clears CWR.
    pub fn set_cwr(&mut self, on: bool) {
        self.set_flag(Flags::CWR, on);
    }

    /// Sets the advertised window.
    pub fn set_window_len(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::WIN_SIZE, value);
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Sets the urgent pointer.
    pub fn set_urgent_at(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::URGENT, value);
    }

    /// The options area, writable (set the header length first).
    pub fn options_mut(&mut self) -> &mut [u8] {
        let header_len = self.header_len();
        let buf = self.buffer.as_mut();
        let end = header_len.min(buf.len());
        buf.get_mut(field::OPTIONS..end).unwrap_or(&mut [])
    }

    /// The data bytes in the buffer, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let header_len = self.header_len();
        self.buffer
            .as_mut()
            .get_mut(header_len..)
            .unwrap_or(&mut [])
    }

    /// For a view holding exactly the whole segment: computes and stores the
    /// checksum over the pseudo-header and the buffer (a segment over
    /// 65 535 bytes cannot exist; its length is saturated).
    pub fn fill_checksum(&mut self, src: Ipv4Address, dst: Ipv4Address) {
        self.set_checksum(0);
        let buf = self.buffer.as_ref();
        let len = u16::try_from(buf.len()).unwrap_or(u16::MAX);
        let mut sum = ipv4::pseudo_header(src, dst, IpProtocol::Tcp, len);
        sum.add_bytes(buf);
        self.set_checksum(sum.finish());
    }
}

/// The control a segment carries: at most one of SYN, FIN, RST, plus PSH
/// when none of them is set. ACK is separate ([`Repr::ack_number`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// No control bit.
    None,
    /// PSH alone.
    Psh,
    /// SYN (PSH ignored).
    Syn,
    /// FIN (PSH ignored).
    Fin,
    /// RST (PSH ignored).
    Rst,
}

/// The control a segment's FIN, SYN, RST and PSH bits (the flag byte's
/// low four bits, as the index) stand for; `None` for contradictory ones
/// (SYN with FIN or RST, FIN with RST). PSH with SYN, FIN or RST is
/// ignored.
const CONTROLS: [Option<Control>; 16] = {
    use Control::{Fin, Psh, Rst, Syn};
    let x = None; // contradictory
    [
        // 0 (none), FIN, SYN, SYN+FIN, RST, RST+FIN, RST+SYN, RST+SYN+FIN
        Some(Control::None),
        Some(Fin),
        Some(Syn),
        x,
        Some(Rst),
        x,
        x,
        x,
        // the same with PSH
        Some(Psh),
        Some(Fin),
        Some(Syn),
        x,
        Some(Rst),
        x,
        x,
        x,
    ]
};

impl Control {
    /// Sequence space the control occupies: 1 for SYN and FIN.
    pub const fn len(self) -> usize {
        match self {
            Control::Syn | Control::Fin => 1,
            Control::None | Control::Psh | Control::Rst => 0,
        }
    }

    /// True when the control occupies no sequence space.
    pub const fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// The MSS and timestamps options of an options area (the last of each),
/// with the checks of [`TcpOption::parse`] on every option on the way
/// ([`Error::Malformed`]): the walk of [`TcpOptions`] without building
/// each option. (Always inlined: one caller, [`Repr::parse`]; LLVM kept it
/// apart, 44 B larger.)
#[inline(always)]
fn mss_and_timestamps(mut area: &[u8]) -> Result<(Option<u16>, Option<Timestamp>)> {
    let (mut mss, mut ts) = (None, None);
    while let Some((&kind, after_kind)) = area.split_first() {
        match kind {
            option::END => break,
            option::NOP => {
                area = after_kind;
                continue;
            }
            _ => {}
        }
        let &len = after_kind.first().ok_or(Error::Malformed)?;
        if len < 2 {
            return Err(Error::Malformed);
        }
        let body = area.get(2..usize::from(len)).ok_or(Error::Malformed)?;
        match (kind, len, body) {
            (option::MSS, option::MSS_LEN, &[hi, lo]) => mss = Some(u16::from_be_bytes([hi, lo])),
            (option::TS, option::TS_LEN, &[a, b, c, d, e, f, g, h]) => {
                ts = Some(Timestamp {
                    tsval: u32::from_be_bytes([a, b, c, d]),
                    tsecr: u32::from_be_bytes([e, f, g, h]),
                })
            }
            (option::WS, option::WS_LEN, _) | (option::SACK_PERM, option::SACK_PERM_LEN, _) => {}
            (option::MSS | option::WS | option::SACK_PERM | option::TS, _, _) => {
                return Err(Error::Malformed)
            }
            _ => {}
        }
        area = area.get(usize::from(len)..).unwrap_or(&[]);
    }
    Ok((mss, ts))
}

/// The high-level form of a TCP header. URG, ECE, CWR, the urgent pointer
/// and options other than MSS are not represented (the stack neither uses
/// nor sends them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// SYN, FIN, RST, PSH or nothing.
    pub control: Control,
    /// Sequence number.
    pub seq_number: SeqNumber,
    /// Acknowledgment number, present exactly when ACK is set.
    pub ack_number: Option<SeqNumber>,
    /// Advertised window (unscaled: the stack never negotiates scaling).
    pub window_len: u16,
    /// The MSS option, if present (meaningful on SYN).
    pub max_seg_size: Option<u16>,
    /// The timestamps option, if present.
    pub timestamp: Option<Timestamp>,
    /// Data bytes after the header.
    pub payload_len: usize,
}

impl Repr {
    /// Reads a header from a header-only or whole-segment view; `payload_len`
    /// is the IP payload length minus [`Packet::header_len`].
    ///
    /// [`Error::Truncated`]/[`Error::Malformed`] from
    /// [`Packet::check_header_len`]; [`Error::Malformed`] for port 0, for
    /// contradictory controls (SYN with FIN or RST, FIN with RST) and for
    /// malformed options. Does not verify the checksum.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>, payload_len: usize) -> Result<Repr> {
        packet.check_header_len()?;
        if packet.src_port() == 0 || packet.dst_port() == 0 {
            return Err(Error::Malformed);
        }
        let control = CONTROLS
            .get(usize::from(packet.flags().0 & 0x0f))
            .copied()
            .flatten()
            .ok_or(Error::Malformed)?;
        let (max_seg_size, timestamp) = mss_and_timestamps(packet.options())?;
        Ok(Repr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            control,
            seq_number: packet.seq_number(),
            ack_number: packet.ack().then(|| packet.ack_number()),
            window_len: packet.window_len(),
            max_seg_size,
            timestamp,
            payload_len,
        })
    }

    /// The header length [`Repr::emit_header`] writes: 20, plus 4 with the
    /// MSS option, plus 12 with timestamps (two NOPs keep them aligned).
    pub const fn header_len(&self) -> usize {
        let mss = if self.max_seg_size.is_some() {
            option::MSS_LEN as usize
        } else {
            0
        };
        let ts = if self.timestamp.is_some() {
            TIMESTAMPS_LEN
        } else {
            0
        };
        // Bounded: 20 + 4 + 12.
        HEADER_LEN.wrapping_add(mss).wrapping_add(ts)
    }

    /// Bytes [`Repr::emit_header`] writes: [`Repr::header_len`] (the payload
    /// streams separately).
    pub const fn buffer_len(&self) -> usize {
        self.header_len()
    }

    /// Sequence space the segment occupies: payload plus 1 for SYN or FIN.
    pub const fn segment_len(&self) -> usize {
        // Bounded: a payload is at most 65,535 bytes (an IPv4 datagram).
        self.payload_len.wrapping_add(self.control.len())
    }

    /// The TCP length of the pseudo-header: header plus payload, saturated
    /// at 65 535.
    pub fn tcp_len(&self) -> u16 {
        u16::try_from(self.header_len().saturating_add(self.payload_len)).unwrap_or(u16::MAX)
    }

    /// Writes the header, options included, with the given checksum field.
    /// Sets ACK when [`Repr::ack_number`] is present (the field is 0
    /// otherwise), the urgent pointer to 0 and the reserved bits to 0.
    ///
    /// The header is assembled in a local array by [`Repr::emit_into`] and
    /// written with one copy; a buffer shorter than [`Repr::header_len`] is
    /// left as it is.
    pub fn emit_header<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>, checksum: u16) {
        let mut h = [0u8; MAX_EMIT_LEN];
        self.emit_into(&mut h, checksum);
        if let Some(header) = h.get(..self.header_len()) {
            put_slice(packet.buffer.as_mut(), 0, header);
        }
    }

    /// Writes the header as [`Repr::emit_header`] does into the first
    /// [`Repr::header_len`] bytes of `h`, every one of them, leaving the
    /// rest as it is. A fixed-size array gives constant offsets without
    /// bounds checks, and a sender whose frame header buffer has room
    /// writes the header in place: no local copy to clear and copy out
    /// for every segment.
    pub fn emit_into(&self, h: &mut [u8; MAX_EMIT_LEN], checksum: u16) {
        put16(h, field::SRC_PORT, self.src_port);
        put16(h, field::DST_PORT, self.dst_port);
        put32(h, field::SEQ_NUM, self.seq_number.0);
        put32(h, field::ACK_NUM, self.ack_number.map_or(0, |a| a.0));
        let len = self.header_len();
        // Bounded: at most 36 bytes, 9 words.
        put_slice(h, field::DATA_OFF, &[((len >> 2) as u8) << 4]);
        let control = match self.control {
            Control::None => Flags::EMPTY,
            Control::Psh => Flags::PSH,
            Control::Syn => Flags::SYN,
            Control::Fin => Flags::FIN,
            Control::Rst => Flags::RST,
        };
        let flags = control.with(Flags::ACK, self.ack_number.is_some());
        put_slice(h, field::FLAGS, &[flags.0]);
        put16(h, field::WIN_SIZE, self.window_len);
        put16(h, field::CHECKSUM, checksum);
        put16(h, field::URGENT, 0);
        let mut at = field::OPTIONS;
        if let Some(mss) = self.max_seg_size {
            let [hi, lo] = mss.to_be_bytes();
            put_slice(h, at, &[option::MSS, option::MSS_LEN, hi, lo]);
            at = at.wrapping_add(option::MSS_LEN as usize); // bounded: 24
        }
        if let Some(ts) = self.timestamp {
            // NOP NOP TS: the layout RFC 7323 Appendix A recommends.
            let [v0, v1, v2, v3] = ts.tsval.to_be_bytes();
            let [e0, e1, e2, e3] = ts.tsecr.to_be_bytes();
            let opt = [
                option::NOP,
                option::NOP,
                option::TS,
                option::TS_LEN,
                v0,
                v1,
                v2,
                v3,
                e0,
                e1,
                e2,
                e3,
            ];
            put_slice(h, at, &opt);
        }
    }

    /// The checksum of the pseudo-header (with [`Repr::tcp_len`]) and this
    /// header with a zero checksum field: add the payload as it streams,
    /// then store `finish()` of the result (TCP has no "no checksum" value,
    /// so a computed 0 is sent as 0).
    pub fn header_sum(&self, src: Ipv4Address, dst: Ipv4Address) -> Checksum {
        let mut header = [0u8; MAX_EMIT_LEN];
        let mut packet = Packet::new_unchecked(&mut header[..]);
        self.emit_header(&mut packet, 0);
        let mut sum = ipv4::pseudo_header(src, dst, IpProtocol::Tcp, self.tcp_len());
        sum.add_bytes(header.get(..self.header_len()).unwrap_or(&[]));
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A: Ipv4Address = Ipv4Address::new(10, 78, 0, 1);
    const B: Ipv4Address = Ipv4Address::new(10, 78, 0, 2);

    // Captured from Linux on a veth pair (IP headers removed): a connect()
    // from 10.78.0.1:36356 to 10.78.0.2:80 with options MSS 1460, SACK_PERM,
    // TS, NOP, WSCALE 10...
    const SYN: [u8; 40] = [
        0x8e, 0x04, 0x00, 0x50, 0xcf, 0x28, 0x7e, 0x3c, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa,
        0xf0, 0x7b, 0xab, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0xda, 0x19,
        0x06, 0xef, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a,
    ];
    // ...the SYN-ACK from 10.78.0.2...
    const SYN_ACK: [u8; 40] = [
        0x00, 0x50, 0x8e, 0x04, 0x79, 0x28, 0xd4, 0x2e, 0xcf, 0x28, 0x7e, 0x3d, 0xa0, 0x12, 0xfe,
        0x88, 0x11, 0xc5, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0xf3, 0x37,
        0x25, 0xae, 0xda, 0x19, 0x06, 0xef, 0x01, 0x03, 0x03, 0x0a,
    ];
    // ...its FIN-ACK with NOP, NOP, TS...
    const FIN_ACK: [u8; 32] = [
        0x00, 0x50, 0x8e, 0x04, 0x79, 0x28, 0xd4, 0x2f, 0xcf, 0x28, 0x7e, 0x3d, 0x80, 0x11, 0x00,
        0x40, 0x3e, 0xdc, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0xf3, 0x37, 0x25, 0xae, 0xda, 0x19,
        0x06, 0xef,
    ];
    // ...and an RST-ACK from 10.78.0.2:81 (closed) to 10.78.0.1:53256.
    const RST_ACK: [u8; 20] = [
        0x00, 0x51, 0xd0, 0x08, 0x00, 0x00, 0x00, 0x00, 0x34, 0xab, 0xb3, 0x6c, 0x50, 0x14, 0x00,
        0x00, 0xe2, 0xc0, 0x00, 0x00,
    ];

    #[test]
    fn parse_captured_syn() {
        let packet = Packet::new_header_checked(&SYN[..]).unwrap();
        assert!(packet.verify_checksum(A, B));
        assert_eq!(packet.header_len(), 40);
        assert!(packet.syn() && !packet.ack() && !packet.fin() && !packet.rst());
        assert_eq!(packet.flags(), Flags::SYN);
        assert_eq!(packet.window_len(), 64240);
        assert!(packet.payload().is_empty());
        let opts: std::vec::Vec<_> = packet.option_iter().collect();
        assert_eq!(
            opts,
            [
                Ok(TcpOption::MaxSegmentSize(1460)),
                Ok(TcpOption::SackPermitted),
                Ok(TcpOption::Timestamps(Timestamp {
                    tsval: 0xda19_06ef,
                    tsecr: 0
                })),
                Ok(TcpOption::NoOperation),
                Ok(TcpOption::WindowScale(10)),
            ]
        );
        assert_eq!(
            Repr::parse(&packet, 0).unwrap(),
            Repr {
                src_port: 36356,
                dst_port: 80,
                control: Control::Syn,
                seq_number: SeqNumber(3475537468),
                ack_number: None,
                window_len: 64240,
                max_seg_size: Some(1460),
                timestamp: Some(Timestamp {
                    tsval: 0xda19_06ef,
                    tsecr: 0
                }),
                payload_len: 0,
            }
        );
    }

    #[test]
    fn parse_captured_syn_ack_and_fin() {
        let syn_ack = Packet::new_checked(&SYN_ACK[..]).unwrap();
        assert!(syn_ack.verify_checksum(B, A));
        let repr = Repr::parse(&syn_ack, 0).unwrap();
        assert_eq!(repr.control, Control::Syn);
        assert_eq!(repr.ack_number, Some(SeqNumber(3475537469)));
        assert_eq!(repr.segment_len(), 1);

        let fin = Packet::new_checked(&FIN_ACK[..]).unwrap();
        assert!(fin.verify_checksum(B, A));
        let repr = Repr::parse(&fin, 0).unwrap();
        assert_eq!(repr.control, Control::Fin);
        assert_eq!(repr.seq_number, SeqNumber(2032718894).add(1));
        assert_eq!(repr.max_seg_size, None);
        assert_eq!(repr.window_len, 64);
    }

    #[test]
    fn emit_rst_matches_capture() {
        let packet = Packet::new_checked(&RST_ACK[..]).unwrap();
        assert!(packet.verify_checksum(B, A));
        let repr = Repr::parse(&packet, 0).unwrap();
        assert_eq!(
            repr,
            Repr {
                src_port: 81,
                dst_port: 53256,
                control: Control::Rst,
                seq_number: SeqNumber(0),
                ack_number: Some(SeqNumber(883667820)),
                window_len: 0,
                max_seg_size: None,
                timestamp: None,
                payload_len: 0,
            }
        );
        let mut buf = [0xffu8; 20];
        let sum = repr.header_sum(B, A);
        repr.emit_header(&mut Packet::new_unchecked(&mut buf[..]), sum.finish());
        assert_eq!(buf, RST_ACK);
    }

    #[test]
    fn emit_syn_with_mss_round_trips_and_streams() {
        let repr = Repr {
            src_port: 80,
            dst_port: 36356,
            control: Control::Syn,
            seq_number: SeqNumber(2032718894),
            ack_number: Some(SeqNumber(3475537469)),
            window_len: 1460,
            max_seg_size: Some(1460),
            timestamp: None,
            payload_len: 0,
        };
        assert_eq!(repr.header_len(), 24);
        assert_eq!(repr.buffer_len(), 24);
        let mut buf = [0xaau8; 24];
        let sum = repr.header_sum(B, A);
        repr.emit_header(&mut Packet::new_unchecked(&mut buf[..]), sum.finish());
        // Fixed part as in the kernel's SYN-ACK apart from offset/window/sum.
        assert_eq!(buf[..12], SYN_ACK[..12]);
        assert_eq!(buf[12..14], [0x60, 0x12]);
        assert_eq!(buf[20..24], SYN_ACK[20..24]);
        let packet = Packet::new_checked(&buf[..]).unwrap();
        assert!(packet.verify_checksum(B, A));
        assert_eq!(Repr::parse(&packet, 0).unwrap(), repr);

        // With a payload summed in pieces.
        let data = b"GET / HTTP/1.0\r\n\r\n";
        let repr = Repr {
            control: Control::Psh,
            max_seg_size: None,
            timestamp: None,
            payload_len: data.len(),
            ..repr
        };
        let mut sum = repr.header_sum(A, B);
        for chunk in data.chunks(5) {
            sum.add_bytes(chunk);
        }
        let mut seg = [0u8; 20 + 18];
        seg[20..].copy_from_slice(data);
        repr.emit_header(&mut Packet::new_unchecked(&mut seg[..]), sum.finish());
        let packet = Packet::new_checked(&seg[..]).unwrap();
        assert!(packet.verify_checksum(A, B));
        assert_eq!(packet.payload(), data);
        assert_eq!(Repr::parse(&packet, data.len()).unwrap(), repr);
    }

    #[test]
    fn header_errors() {
        let check = |b: &[u8]| Packet::new_header_checked(b).map(|_| ());
        assert_eq!(check(&SYN[..19]), Err(Error::Truncated));
        assert_eq!(check(&SYN[..39]), Err(Error::Truncated));
        assert!(check(&SYN[..]).is_ok());
        let mut off4 = RST_ACK;
        off4[12] = 0x40;
        assert_eq!(check(&off4), Err(Error::Malformed));
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&off4[..]), 0),
            Err(Error::Malformed)
        );
    }

    #[test]
    fn contradictory_controls_are_malformed() {
        for flags in [0x03u8, 0x06, 0x05, 0x07, 0x13, 0x1d] {
            let mut buf = RST_ACK;
            buf[13] = flags;
            assert_eq!(
                Repr::parse(&Packet::new_unchecked(&buf[..]), 0),
                Err(Error::Malformed),
                "flags {flags:#x}"
            );
        }
        for (flags, control) in [
            (0x10u8, Control::None),
            (0x18, Control::Psh),
            (0x0a, Control::Syn),
            (0x19, Control::Fin),
            (0x0c, Control::Rst),
        ] {
            let mut buf = RST_ACK;
            buf[13] = flags;
            let repr = Repr::parse(&Packet::new_unchecked(&buf[..]), 0).unwrap();
            assert_eq!(repr.control, control, "flags {flags:#x}");
        }
        let mut port0 = RST_ACK;
        port0[0..2].copy_from_slice(&[0, 0]);
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&port0[..]), 0),
            Err(Error::Malformed)
        );
    }

    #[test]
    fn option_parsing() {
        let parse_all = |b: &[u8]| TcpOptions::new(b).collect::<std::vec::Vec<_>>();
        // Zero and one lengths, overrun, missing length byte.
        assert_eq!(parse_all(&[8, 0, 1]), [Err(Error::Malformed)]);
        assert_eq!(
            parse_all(&[1, 8, 1, 1]),
            [Ok(TcpOption::NoOperation), Err(Error::Malformed)]
        );
        assert_eq!(parse_all(&[8, 10, 0, 0]), [Err(Error::Malformed)]);
        assert_eq!(
            parse_all(&[1, 2]),
            [Ok(TcpOption::NoOperation), Err(Error::Malformed)]
        );
        // Known kinds with the wrong length.
        assert_eq!(parse_all(&[2, 3, 5]), [Err(Error::Malformed)]);
        assert_eq!(parse_all(&[3, 4, 5, 0]), [Err(Error::Malformed)]);
        assert_eq!(parse_all(&[4, 3, 0]), [Err(Error::Malformed)]);
        // End of list stops, garbage after it is padding.
        assert_eq!(
            parse_all(&[2, 4, 2, 0, 0, 8, 0, 1]),
            [Ok(TcpOption::MaxSegmentSize(512))]
        );
        assert!(parse_all(&[]).is_empty());
        // A malformed option makes the segment malformed.
        let mut buf = [0u8; 24];
        buf[..20].copy_from_slice(&RST_ACK);
        buf[12] = 0x60;
        buf[20..].copy_from_slice(&[2, 4, 5, 0]);
        assert!(Repr::parse(&Packet::new_unchecked(&buf[..]), 0).is_ok());
        buf[20..].copy_from_slice(&[2, 5, 5, 0]);
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&buf[..]), 0),
            Err(Error::Malformed)
        );
    }

    #[test]
    fn option_emit_round_trip() {
        for opt in [
            TcpOption::EndOfList,
            TcpOption::NoOperation,
            TcpOption::MaxSegmentSize(1460),
            TcpOption::WindowScale(7),
            TcpOption::SackPermitted,
            TcpOption::Timestamps(Timestamp {
                tsval: 7,
                tsecr: 0xdead_beef,
            }),
            TcpOption::Unknown { kind: 30, len: 6 },
        ] {
            let mut buf = [0xffu8; 12];
            let n = opt.emit(&mut buf);
            assert_eq!(n, opt.buffer_len());
            let (rest, parsed) = TcpOption::parse(&buf[..n]).unwrap();
            assert_eq!(parsed, opt);
            assert!(rest.is_empty());
        }
        assert_eq!(TcpOption::MaxSegmentSize(1).emit(&mut [0u8; 3]), 0);
    }

    #[test]
    fn seq_number_wraps() {
        let near_max = SeqNumber(u32::MAX - 1);
        let wrapped = near_max.add(5);
        assert_eq!(wrapped, SeqNumber(3));
        assert!(near_max < wrapped);
        assert!(wrapped > near_max);
        assert_eq!(wrapped.partial_cmp(&SeqNumber(3)), Some(Ordering::Equal));
        assert_eq!(wrapped.sub(near_max), 5);
        assert_eq!(near_max.sub(wrapped), -5);
        assert_eq!(wrapped.distance(near_max), 5);
        assert_eq!(wrapped.sub_len(5), near_max);
        assert_eq!(near_max.max(wrapped), wrapped);
        assert_eq!(near_max.min(wrapped), near_max);
        // Half the space ahead is still "after".
        assert!(SeqNumber(0) < SeqNumber(0x7fff_ffff));
        assert!(SeqNumber(0) > SeqNumber(0x8000_0001));
        // `add` takes the usize modulo 2^32.
        assert_eq!(SeqNumber(1).add(1usize << 32 | 2), SeqNumber(3));
        assert_eq!(std::format!("{}", SeqNumber(42)), "42");
        assert!((Flags::SYN | Flags::ACK).contains(Flags::ACK));
    }

    proptest! {
        /// `Repr::parse`'s own walk of the options agrees with the
        /// option iterator on every options area: the same MSS and
        /// timestamps, and an error exactly where the iterator has one.
        #[test]
        fn option_walk_matches_the_option_iterator(
            area in proptest::collection::vec(
                prop_oneof![Just(0u8), Just(1), Just(2), Just(3), Just(4), Just(8), Just(10), any::<u8>()],
                0..40,
            ),
        ) {
            let mut want = Ok((None, None));
            for opt in TcpOptions::new(&area) {
                want = match (want, opt) {
                    (Ok((_, ts)), Ok(TcpOption::MaxSegmentSize(m))) => Ok((Some(m), ts)),
                    (Ok((mss, _)), Ok(TcpOption::Timestamps(t))) => Ok((mss, Some(t))),
                    (Ok(v), Ok(_)) => Ok(v),
                    (_, Err(e)) => Err(e),
                    (Err(e), _) => Err(e),
                };
            }
            prop_assert_eq!(mss_and_timestamps(&area), want);
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..72),
            payload_len in any::<usize>(),
        ) {
            let p = Packet::new_unchecked(&bytes[..]);
            let _ = (
                p.src_port(), p.dst_port(), p.seq_number(), p.ack_number(), p.header_len(),
                p.flags(), p.fin(), p.syn(), p.rst(), p.psh(), p.ack(), p.urg(), p.ece(),
                p.cwr(), p.window_len(), p.checksum(), p.urgent_at(), p.options(), p.payload(),
                p.verify_checksum(A, B),
            );
            for opt in p.option_iter() {
                let _ = opt;
            }
            let _ = TcpOptions::new(&bytes[..]).count();
            let _ = Packet::new_checked(&bytes[..]);
            if let Ok(repr) = Repr::parse(&p, payload_len) {
                prop_assert!(Packet::new_header_checked(&bytes[..]).is_ok());
                let _ = (repr.segment_len(), repr.tcp_len(), repr.header_sum(A, B));
                let mut out = [0u8; 24];
                repr.emit_header(&mut Packet::new_unchecked(&mut out[..]), 0);
                let mut short = [0u8; 21];
                repr.emit_header(&mut Packet::new_unchecked(&mut short[..]), 0);
            }
            let mut copy = bytes.clone();
            let mut m = Packet::new_unchecked(&mut copy[..]);
            m.fill_checksum(A, B);
            let _ = (m.options_mut().len(), m.payload_mut().len());
        }

        #[test]
        fn emit_parse_round_trip(
            src_port in 1u16.., dst_port in 1u16.., control in 0u8..5,
            seq in any::<u32>(), ack in proptest::option::of(any::<u32>()),
            window_len in any::<u16>(), mss in proptest::option::of(any::<u16>()),
            payload_len in 0usize..1500,
        ) {
            let control = [Control::None, Control::Psh, Control::Syn, Control::Fin, Control::Rst]
                [usize::from(control)];
            let repr = Repr {
                src_port, dst_port, control,
                seq_number: SeqNumber(seq),
                ack_number: ack.map(SeqNumber),
                window_len, max_seg_size: mss, timestamp: None, payload_len,
            };
            let mut buf = [0u8; 24];
            repr.emit_header(&mut Packet::new_unchecked(&mut buf[..]), 0);
            let p = Packet::new_header_checked(&buf[..repr.header_len()]).unwrap();
            prop_assert_eq!(Repr::parse(&p, payload_len).unwrap(), repr);
        }

        /// `emit_into` writes every byte of the header over whatever the
        /// buffer held (the frame's header buffer is written in place)
        /// and nothing after it.
        #[test]
        fn emit_into_writes_the_whole_header_over_any_bytes(
            control in 0u8..5, seq in any::<u32>(), ack in proptest::option::of(any::<u32>()),
            window_len in any::<u16>(), mss in proptest::option::of(any::<u16>()),
            ts in proptest::option::of((any::<u32>(), any::<u32>())), fill in any::<u8>(),
            checksum in any::<u16>(),
        ) {
            let control = [Control::None, Control::Psh, Control::Syn, Control::Fin, Control::Rst]
                [usize::from(control)];
            let repr = Repr {
                src_port: 80, dst_port: 4000, control,
                seq_number: SeqNumber(seq),
                ack_number: ack.map(SeqNumber),
                window_len, max_seg_size: mss,
                timestamp: ts.map(|(tsval, tsecr)| Timestamp { tsval, tsecr }),
                payload_len: 0,
            };
            let mut zeroed = [0u8; MAX_EMIT_LEN];
            repr.emit_into(&mut zeroed, checksum);
            let mut dirty = [fill; MAX_EMIT_LEN];
            repr.emit_into(&mut dirty, checksum);
            let len = repr.header_len();
            prop_assert_eq!(&zeroed[..len], &dirty[..len]);
            prop_assert!(dirty[len..].iter().all(|&b| b == fill));
            let p = Packet::new_header_checked(&dirty[..len]).unwrap();
            prop_assert_eq!(p.urgent_at(), 0);
            prop_assert_eq!(p.checksum(), checksum);
            prop_assert_eq!(Repr::parse(&p, 0).unwrap(), repr);
        }

        #[test]
        fn seq_order_matches_signed_difference(a in any::<u32>(), d in 1u32..0x8000_0000) {
            let x = SeqNumber(a);
            let y = x.add(d as usize);
            prop_assert!(x < y);
            prop_assert!(y > x);
            prop_assert_eq!(y.distance(x), d as usize);
            prop_assert_eq!(y.sub(x), d as i32);
        }
    }

    #[test]
    fn timestamps_option_round_trip_and_layout() {
        let repr = Repr {
            src_port: 80,
            dst_port: 4000,
            control: Control::Syn,
            seq_number: SeqNumber(1),
            ack_number: None,
            window_len: 1460,
            max_seg_size: Some(1460),
            timestamp: Some(Timestamp {
                tsval: 0x0102_0304,
                tsecr: 0,
            }),
            payload_len: 0,
        };
        assert_eq!(repr.header_len(), 36);
        let mut buf = [0u8; 36];
        repr.emit_header(&mut Packet::new_unchecked(&mut buf[..]), 0);
        // MSS, then NOP NOP TS as Linux lays them out.
        assert_eq!(&buf[20..24], &[2, 4, 0x05, 0xb4]);
        assert_eq!(&buf[24..36], &[1, 1, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0]);
        let parsed = Repr::parse(&Packet::new_unchecked(&buf[..]), 0).unwrap();
        assert_eq!(parsed, repr);
        // A timestamps option of the wrong length is malformed.
        buf[27] = 9;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&buf[..]), 0),
            Err(Error::Malformed)
        );
    }
}
