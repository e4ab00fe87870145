//! DNS messages (RFC 1035 §4), read in place by offset.
//!
//! A DNS reply is not copied into RAM: it stays in the NIC and is read at
//! whatever offset a field or a compression pointer names, through the
//! [`Message`] trait ([`Bytes`] serves a slice in memory, the DNS client
//! serves a received datagram). The 12-byte header has the usual
//! [`Packet`]/[`Repr`] pair.
//!
//! Names are where DNS parsers break (the NAME:WRECK bug classes), so
//! every name is walked by one routine, [`NameReader`], that enforces:
//!
//! - a label is at most 63 bytes; the length-byte forms `01xxxxxx` and
//!   `10xxxxxx` (extended and reserved label types) are refused;
//! - a whole name is at most 255 bytes in wire form (length bytes, labels
//!   and the root byte, RFC 1035 §3.1), counted across pointers;
//! - a compression pointer (RFC 1035 §4.1.4) must point strictly before the
//!   segment being read and past the header. Each jump therefore goes to a
//!   lower offset than the last, so pointer loops, self pointers and
//!   forward pointers (including past the end) are impossible, and at most
//!   [`MAX_POINTER_HOPS`] jumps are followed anyway;
//! - nothing is read past the end of the message.
//!
//! NetBIOS name service packets (RFC 1002 §4.2) share this header; see
//! [`super::netbios`].

use super::{be16, put16, Ipv4Address};
use core::fmt;

/// The DNS server port.
pub const PORT: u16 = 53;
/// Length of the message header.
pub const HEADER_LEN: usize = 12;
/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// Longest name in wire form, length bytes and root included (RFC 1035
/// §2.3.4, "255 octets or less").
pub const MAX_NAME_LEN: usize = 255;
/// Most compression pointers followed in one name. Well-formed messages
/// need one or two; the backward-only rule already bounds the walk, this
/// bounds the work.
pub const MAX_POINTER_HOPS: usize = 16;
/// Class IN (RFC 1035 §3.2.4).
pub const CLASS_IN: u16 = 1;

/// Field offsets and flag bits of the header (RFC 1035 §4.1.1).
mod field {
    /// Query identifier, 2 bytes.
    pub const ID: usize = 0;
    /// Flags: QR, Opcode, AA, TC, RD, RA, Z, RCODE; 2 bytes.
    pub const FLAGS: usize = 2;
    /// Question count, 2 bytes.
    pub const QDCOUNT: usize = 4;
    /// Answer count, 2 bytes.
    pub const ANCOUNT: usize = 6;
    /// Authority count, 2 bytes.
    pub const NSCOUNT: usize = 8;
    /// Additional count, 2 bytes.
    pub const ARCOUNT: usize = 10;
}

/// Flag bits of the header's second word.
pub mod flags {
    /// A response (1) or a query (0).
    pub const QR: u16 = 0x8000;
    /// Opcode mask (4 bits at bit 11).
    pub const OPCODE: u16 = 0x7800;
    /// Authoritative answer.
    pub const AA: u16 = 0x0400;
    /// Truncated: the answer did not fit the datagram.
    pub const TC: u16 = 0x0200;
    /// Recursion desired.
    pub const RD: u16 = 0x0100;
    /// Recursion available.
    pub const RA: u16 = 0x0080;
    /// NetBIOS only (RFC 1002 §4.2.1.1): the packet was broadcast.
    pub const BROADCAST: u16 = 0x0010;
    /// Response code mask.
    pub const RCODE: u16 = 0x000f;
}

/// Response codes (RFC 1035 §4.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rcode {
    /// 0: no error.
    NoError,
    /// 1: the server could not interpret the query.
    FormatError,
    /// 2: the server failed.
    ServerFailure,
    /// 3: the name does not exist (NXDOMAIN).
    NameError,
    /// 4: the server does not implement this kind of query.
    NotImplemented,
    /// 5: the server refuses to answer.
    Refused,
    /// Any other value.
    Other(u8),
}

impl From<u8> for Rcode {
    fn from(v: u8) -> Self {
        match v {
            0 => Rcode::NoError,
            1 => Rcode::FormatError,
            2 => Rcode::ServerFailure,
            3 => Rcode::NameError,
            4 => Rcode::NotImplemented,
            5 => Rcode::Refused,
            other => Rcode::Other(other),
        }
    }
}

/// A resource record type (RFC 1035 §3.2.2, RFC 1002): the 16-bit value
/// itself, so reading and writing one is free and comparing one is a
/// `u16` comparison; the types this stack meets are named constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Type(pub u16);

impl Type {
    /// 1: an IPv4 address.
    pub const A: Type = Type(1);
    /// 2: a name server.
    pub const NS: Type = Type(2);
    /// 5: the canonical name for an alias.
    pub const CNAME: Type = Type(5);
    /// 6: start of a zone of authority.
    pub const SOA: Type = Type(6);
    /// 12: a domain name pointer.
    pub const PTR: Type = Type(12);
    /// 15: a mail exchange.
    pub const MX: Type = Type(15);
    /// 16: text.
    pub const TXT: Type = Type(16);
    /// 28: an IPv6 address.
    pub const AAAA: Type = Type(28);
    /// 32: a NetBIOS name (RFC 1002 §4.2.1.3, NB).
    pub const NB: Type = Type(32);
    /// 33: NetBIOS node status (NBSTAT).
    pub const NBSTAT: Type = Type(33);
}

impl From<u16> for Type {
    fn from(v: u16) -> Self {
        Type(v)
    }
}

impl From<Type> for u16 {
    fn from(t: Type) -> u16 {
        t.0
    }
}

/// Why part of a message could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The message ends before a field, a label or a record's data does.
    Truncated,
    /// A label length byte of the reserved forms `01xxxxxx`/`10xxxxxx`
    /// (a label longer than 63 bytes cannot be written otherwise).
    LabelTooLong,
    /// A name longer than 255 bytes in wire form.
    NameTooLong,
    /// A compression pointer to the header, to itself, to a later offset
    /// or into the name it is part of (a loop).
    BadPointer,
    /// More than [`MAX_POINTER_HOPS`] pointers in one name.
    TooManyPointers,
    /// A record's data does not match its type (an A record that is not
    /// 4 bytes, a name running past the record's end).
    BadRecord,
}

impl ParseError {
    /// A short stable name for logs.
    pub const fn name(self) -> &'static str {
        match self {
            ParseError::Truncated => "truncated",
            ParseError::LabelTooLong => "label-too-long",
            ParseError::NameTooLong => "name-too-long",
            ParseError::BadPointer => "bad-pointer",
            ParseError::TooManyPointers => "too-many-pointers",
            ParseError::BadRecord => "bad-record",
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A DNS message that can be read at any offset: a slice in memory
/// ([`Bytes`]) or a datagram still held by the NIC.
pub trait Message {
    /// The message length in bytes.
    fn len(&self) -> usize;
    /// True for an empty message.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Copies bytes from offset `at` into `buf`; returns how many (fewer
    /// than asked only at the end of the message).
    fn read_at(&mut self, at: usize, buf: &mut [u8]) -> usize;
}

/// A message held in memory.
#[derive(Clone, Copy, Debug)]
pub struct Bytes<'a>(pub &'a [u8]);

impl Message for Bytes<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn read_at(&mut self, at: usize, buf: &mut [u8]) -> usize {
        let src = self.0.get(at..).unwrap_or(&[]);
        let n = src.len().min(buf.len());
        match (buf.get_mut(..n), src.get(..n)) {
            (Some(d), Some(s)) => {
                d.copy_from_slice(s);
                n
            }
            _ => 0,
        }
    }
}

/// Reads exactly `buf.len()` bytes at `at`.
pub fn read_exact<M: Message + ?Sized>(
    m: &mut M,
    at: usize,
    buf: &mut [u8],
) -> Result<(), ParseError> {
    if m.read_at(at, buf) == buf.len() {
        Ok(())
    } else {
        Err(ParseError::Truncated)
    }
}

/// Reads a big-endian u16 at `at`.
pub fn read_u16<M: Message + ?Sized>(m: &mut M, at: usize) -> Result<u16, ParseError> {
    let mut b = [0u8; 2];
    read_exact(m, at, &mut b)?;
    Ok(u16::from_be_bytes(b))
}

/// Reads a big-endian u32 at `at`.
pub fn read_u32<M: Message + ?Sized>(m: &mut M, at: usize) -> Result<u32, ParseError> {
    let mut b = [0u8; 4];
    read_exact(m, at, &mut b)?;
    Ok(u32::from_be_bytes(b))
}

/// A read/write view of a message header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without looking at it.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer of at least [`HEADER_LEN`] bytes.
    pub fn new_checked(buffer: T) -> super::Result<Packet<T>> {
        if buffer.as_ref().len() < HEADER_LEN {
            Err(super::Error::Truncated)
        } else {
            Ok(Packet { buffer })
        }
    }

    /// The query identifier.
    pub fn id(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ID)
    }
    /// The flags word (see [`flags`]).
    pub fn flags(&self) -> u16 {
        be16(self.buffer.as_ref(), field::FLAGS)
    }
    /// Entries in the question section.
    pub fn question_count(&self) -> u16 {
        be16(self.buffer.as_ref(), field::QDCOUNT)
    }
    /// Records in the answer section.
    pub fn answer_count(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ANCOUNT)
    }
    /// Records in the authority section.
    pub fn authority_count(&self) -> u16 {
        be16(self.buffer.as_ref(), field::NSCOUNT)
    }
    /// Records in the additional section.
    pub fn additional_count(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ARCOUNT)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the query identifier.
    pub fn set_id(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::ID, v)
    }
    /// Sets the flags word.
    pub fn set_flags(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::FLAGS, v)
    }
    /// Sets the four section counts.
    pub fn set_counts(&mut self, qd: u16, an: u16, ns: u16, ar: u16) {
        let b = self.buffer.as_mut();
        put16(b, field::QDCOUNT, qd);
        put16(b, field::ANCOUNT, an);
        put16(b, field::NSCOUNT, ns);
        put16(b, field::ARCOUNT, ar);
    }
}

/// The header in high-level form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Repr {
    /// Query identifier.
    pub id: u16,
    /// The flags word (see [`flags`]).
    pub flags: u16,
    /// Question count.
    pub questions: u16,
    /// Answer count.
    pub answers: u16,
    /// Authority count.
    pub authorities: u16,
    /// Additional count.
    pub additionals: u16,
}

impl Repr {
    /// Reads a header.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> super::Result<Repr> {
        if p.buffer.as_ref().len() < HEADER_LEN {
            return Err(super::Error::Truncated);
        }
        Ok(Repr {
            id: p.id(),
            flags: p.flags(),
            questions: p.question_count(),
            answers: p.answer_count(),
            authorities: p.authority_count(),
            additionals: p.additional_count(),
        })
    }

    /// Reads the header of a message.
    pub fn read<M: Message + ?Sized>(m: &mut M) -> Result<Repr, ParseError> {
        let mut b = [0u8; HEADER_LEN];
        read_exact(m, 0, &mut b)?;
        Repr::parse(&Packet::new_unchecked(&b[..])).map_err(|_| ParseError::Truncated)
    }

    /// Writes the header into the first [`HEADER_LEN`] bytes of `p`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        p.set_id(self.id);
        p.set_flags(self.flags);
        p.set_counts(
            self.questions,
            self.answers,
            self.authorities,
            self.additionals,
        );
    }

    /// The header as bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        self.emit(&mut Packet::new_unchecked(&mut b[..]));
        b
    }

    /// A response (QR set).
    pub fn is_response(&self) -> bool {
        self.flags & flags::QR != 0
    }
    /// The opcode (0 = standard query).
    pub fn opcode(&self) -> u8 {
        ((self.flags & flags::OPCODE) >> 11) as u8
    }
    /// The response code.
    pub fn rcode(&self) -> Rcode {
        Rcode::from((self.flags & flags::RCODE) as u8)
    }
    /// The truncation bit.
    pub fn truncated(&self) -> bool {
        self.flags & flags::TC != 0
    }
}

/// Reads a name in a message as the bytes of its uncompressed wire form
/// (a length byte, that label's bytes, the next length byte, ..., the
/// root byte), following compression pointers under the rules in the
/// [module docs](self).
///
/// This is the one walker behind every name operation: skipping
/// ([`skip_name`]), comparing ([`names_equal`], [`name_matches`]) and
/// copying ([`copy_name`]) are one loop over these bytes, [`walk_name`],
/// so the hostile-input checks live in one place.
#[derive(Clone, Copy, Debug)]
pub struct NameReader {
    /// Offset of the next byte to read.
    pos: usize,
    /// Bytes of the current label still to read (0: a length byte or a
    /// pointer is next).
    left: usize,
    /// Pointers must point below this: the start of the current segment.
    limit: usize,
    hops: usize,
    /// Wire length so far.
    total: usize,
    /// Offset just after the name where it was first written (after its
    /// root byte or its first pointer); 0 until the walk has passed it.
    end: usize,
    done: bool,
}

impl NameReader {
    /// Starts at the name at offset `at`.
    pub const fn new(at: usize) -> NameReader {
        NameReader {
            pos: at,
            left: 0,
            limit: at,
            hops: 0,
            total: 0,
            end: 0,
            done: false,
        }
    }

    /// The next byte of the name's uncompressed wire form, or `None` after
    /// the root byte. Every byte is read from the message: a label or a
    /// pointer cut by the message's end is [`ParseError::Truncated`].
    pub fn next_byte<M: Message + ?Sized>(&mut self, m: &mut M) -> Result<Option<u8>, ParseError> {
        loop {
            if self.done {
                return Ok(None);
            }
            // The byte and the one after it (a pointer's second byte): one
            // read for both.
            let mut two = [0u8; 2];
            let got = m.read_at(self.pos, &mut two);
            if got == 0 {
                return Err(ParseError::Truncated);
            }
            let [b, lo] = two;
            // Bounded: the byte at `pos` was just read, so `pos` is below
            // the message's length (a slice's, at most `isize::MAX`).
            let next = self.pos.wrapping_add(1);
            if self.left > 0 {
                // Bounded: left > 0.
                self.left = self.left.wrapping_sub(1);
                self.pos = next;
                return Ok(Some(b));
            }
            match b & 0xc0 {
                0x00 => {
                    // Bounded: at most 255 so far, plus at most 64.
                    self.total = self.total.wrapping_add(usize::from(b)).wrapping_add(1);
                    if self.total > MAX_NAME_LEN {
                        return Err(ParseError::NameTooLong);
                    }
                    self.pos = next;
                    self.left = usize::from(b);
                    if b == 0 {
                        self.done = true;
                        self.mark_end(next);
                    }
                    return Ok(Some(b));
                }
                0xc0 => {
                    if got < 2 {
                        return Err(ParseError::Truncated);
                    }
                    let target = usize::from(u16::from_be_bytes([b & 0x3f, lo]));
                    // Bounded: the pointer's second byte, at `next`, was read.
                    self.mark_end(next.wrapping_add(1));
                    if target >= self.limit || target < HEADER_LEN {
                        return Err(ParseError::BadPointer);
                    }
                    // Bounded: at most MAX_POINTER_HOPS so far.
                    self.hops = self.hops.wrapping_add(1);
                    if self.hops > MAX_POINTER_HOPS {
                        return Err(ParseError::TooManyPointers);
                    }
                    self.limit = target;
                    self.pos = target;
                }
                _ => return Err(ParseError::LabelTooLong),
            }
        }
    }

    /// Records where the name ends at its original place (the first time).
    fn mark_end(&mut self, at: usize) {
        if self.end == 0 {
            self.end = at;
        }
    }

    /// The offset just after the name at its original place (after its
    /// root byte or its first pointer), once the walk has passed it.
    pub fn end(&self) -> Option<usize> {
        (self.end != 0).then_some(self.end)
    }

    /// The name's wire length so far (complete once the walk is done).
    pub fn wire_len(&self) -> usize {
        self.total
    }
}

/// What [`walk_name`] does with the name it walks besides validating it.
#[derive(Debug, PartialEq, Eq)]
pub enum NameOp<'w> {
    /// Nothing: the walk validates the name and finds its end.
    Skip,
    /// Compares it with the name in the message at this offset (walked
    /// through its pointers, validated in full).
    Compare(usize),
    /// Compares it with an uncompressed wire-form name in memory, exactly
    /// its bytes (root byte included).
    Match(&'w [u8]),
    /// Copies it, uncompressed, into this buffer.
    Copy(&'w mut [u8]),
}

/// What [`walk_name`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Walked {
    /// The offset just after the name at its original place.
    pub end: usize,
    /// Its uncompressed wire length.
    pub len: usize,
    /// [`NameOp::Compare`], [`NameOp::Match`]: the names are equal (ASCII
    /// case ignored). [`NameOp::Copy`]: the name fit the buffer.
    pub same: bool,
}

/// The one loop behind every name operation: walks the name at `at` to
/// its end (validating it in full, even after a difference) and does
/// `op` with each byte of its uncompressed wire form.
///
/// Names are compared byte by byte in that form (RFC 1035 §2.3.3: ASCII
/// case ignored): up to the first difference each byte has the same role
/// (length or label byte) in both names, and length bytes (at most 63)
/// are below `A`, so ignoring case changes only label bytes. A copy is
/// the comparison of each byte with itself as written; a byte that finds
/// no room is a difference.
// Out of line: every name operation of the DNS client calls it.
#[inline(never)]
pub fn walk_name<M: Message + ?Sized>(
    m: &mut M,
    at: usize,
    mut op: NameOp<'_>,
) -> Result<Walked, ParseError> {
    let mut first = NameReader::new(at);
    let mut second = NameReader::new(match op {
        NameOp::Compare(b) => b,
        _ => 0,
    });
    let mut i = 0usize;
    let mut same = true;
    loop {
        let x = first.next_byte(m)?;
        let y = match &mut op {
            NameOp::Skip => x,
            NameOp::Compare(_) => second.next_byte(m)?,
            NameOp::Match(w) => w.get(i).copied(),
            NameOp::Copy(out) => match (out.get_mut(i), x) {
                (Some(d), Some(c)) => {
                    *d = c;
                    x
                }
                _ => None,
            },
        };
        if x.is_none() && y.is_none() {
            return Ok(Walked {
                end: first.end,
                len: i,
                same,
            });
        }
        // (Both ended: returned above; one ended: a difference.)
        same &= match (x, y) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(&b),
            _ => false,
        };
        // Bounded: a name yields at most MAX_NAME_LEN bytes.
        i = i.wrapping_add(1);
    }
}

/// Validates the whole name at `at`; returns the offset after it.
#[inline(always)]
pub fn skip_name<M: Message + ?Sized>(m: &mut M, at: usize) -> Result<usize, ParseError> {
    Ok(walk_name(m, at, NameOp::Skip)?.end)
}

/// True when the names at offsets `a` and `b` are equal (ASCII case is
/// ignored). Both are validated in full.
#[inline(always)]
pub fn names_equal<M: Message + ?Sized>(m: &mut M, a: usize, b: usize) -> Result<bool, ParseError> {
    Ok(walk_name(m, a, NameOp::Compare(b))?.same)
}

/// True when the name at `at` equals `wire`, an uncompressed name in wire
/// form (ASCII case ignored). The message name is validated in full.
#[inline(always)]
pub fn name_matches<M: Message + ?Sized>(
    m: &mut M,
    at: usize,
    wire: &[u8],
) -> Result<bool, ParseError> {
    Ok(walk_name(m, at, NameOp::Match(wire))?.same)
}

/// Copies the name at `at` into `out` in uncompressed wire form; returns
/// its length. `Ok(None)` when it does not fit `out` (whose bytes are
/// then unspecified); the name is validated in full either way.
#[inline(always)]
pub fn copy_name<M: Message + ?Sized>(
    m: &mut M,
    at: usize,
    out: &mut [u8],
) -> Result<Option<usize>, ParseError> {
    let w = walk_name(m, at, NameOp::Copy(out))?;
    Ok(w.same.then_some(w.len))
}

/// Why text could not be turned into a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// Empty, or an empty label (`a..b`, a leading dot).
    Empty,
    /// A label over 63 bytes.
    LabelTooLong,
    /// Over 255 bytes in wire form, or longer than the buffer.
    TooLong,
    /// A byte outside printable ASCII (or a space).
    BadCharacter,
}

/// Writes dotted `text` (`mail.example.com`, an optional trailing dot) as
/// an uncompressed wire-form name into `out`; returns its length.
pub fn encode_name(text: &str, out: &mut [u8]) -> Result<usize, EncodeError> {
    let text = text.strip_suffix('.').unwrap_or(text);
    if text.is_empty() {
        return Err(EncodeError::Empty);
    }
    let mut w = 0usize;
    for label in text.split('.') {
        let b = label.as_bytes();
        if b.is_empty() {
            return Err(EncodeError::Empty);
        }
        if b.len() > MAX_LABEL_LEN {
            return Err(EncodeError::LabelTooLong);
        }
        if !b.iter().all(|c| c.is_ascii_graphic()) {
            return Err(EncodeError::BadCharacter);
        }
        // Bounded: `w` is at most `out`'s length, a label at most 63 bytes.
        let end = w.wrapping_add(1).wrapping_add(b.len());
        let dst = out.get_mut(w..end).ok_or(EncodeError::TooLong)?;
        if let Some((first, rest)) = dst.split_first_mut() {
            *first = b.len() as u8;
            rest.copy_from_slice(b);
        }
        w = end;
    }
    *out.get_mut(w).ok_or(EncodeError::TooLong)? = 0;
    // Bounded: a byte was written at `w`.
    let len = w.wrapping_add(1);
    if len > MAX_NAME_LEN {
        return Err(EncodeError::TooLong);
    }
    Ok(len)
}

/// Iterates the labels of an uncompressed wire-form name in memory (stops
/// at the root byte, or at anything malformed).
#[derive(Clone, Copy, Debug)]
pub struct WireLabels<'a>(pub &'a [u8]);

impl<'a> Iterator for WireLabels<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let (&len, rest) = self.0.split_first()?;
        let len = usize::from(len);
        if len == 0 || len > MAX_LABEL_LEN {
            self.0 = &[];
            return None;
        }
        let label = rest.get(..len)?;
        self.0 = rest.get(len..).unwrap_or(&[]);
        Some(label)
    }
}

/// The byte length of the uncompressed wire-form name at the start of
/// `wire`, root byte included (`None` when malformed or cut short).
pub fn wire_name_len(wire: &[u8]) -> Option<usize> {
    let mut at = 0usize;
    loop {
        let len = usize::from(*wire.get(at)?);
        if len == 0 {
            return Some(at.saturating_add(1));
        }
        if len > MAX_LABEL_LEN {
            return None;
        }
        at = at.saturating_add(1).saturating_add(len);
        if at >= MAX_NAME_LEN {
            return None;
        }
    }
}

/// An uncompressed wire-form name in memory, shown dotted
/// (`mail.example.com`); bytes outside printable ASCII are shown as `\DDD`
/// (RFC 1035 §5.1).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Name<'a>(pub &'a [u8]);

impl Name<'_> {
    /// True when the name equals dotted `text` (ASCII case ignored, an
    /// optional trailing dot).
    pub fn eq_text(&self, text: &str) -> bool {
        let text = text.strip_suffix('.').unwrap_or(text);
        let mut parts = text.split('.');
        for label in WireLabels(self.0) {
            match parts.next() {
                Some(p) if p.as_bytes().eq_ignore_ascii_case(label) => {}
                _ => return false,
            }
        }
        parts.next().is_none() || text.is_empty() && self.0.first() == Some(&0)
    }
}

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for label in WireLabels(self.0) {
            if !first {
                f.write_str(".")?;
            }
            first = false;
            for &c in label {
                if c.is_ascii_graphic() && c != b'.' && c != b'\\' {
                    write!(f, "{}", c as char)?;
                } else {
                    write!(f, "\\{c:03}")?;
                }
            }
        }
        if first {
            f.write_str(".")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// A question entry (RFC 1035 §4.1.2), located in a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Question {
    /// Offset of the name.
    pub name_at: usize,
    /// QTYPE.
    pub qtype: Type,
    /// QCLASS.
    pub qclass: u16,
    /// Offset after the entry.
    pub end: usize,
}

impl Question {
    /// Reads the question at `at`, validating its name.
    pub fn read<M: Message + ?Sized>(m: &mut M, at: usize) -> Result<Question, ParseError> {
        let after = skip_name(m, at)?;
        let qtype = Type::from(read_u16(m, after)?);
        // Bounded: `after` is inside the message (the name ended there).
        let qclass = read_u16(m, after.wrapping_add(2))?;
        Ok(Question {
            name_at: at,
            qtype,
            qclass,
            end: after.wrapping_add(4),
        })
    }
}

/// A resource record (RFC 1035 §4.1.3), located in a message: its fixed
/// fields read, its name and data left in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// Offset of the owner name.
    pub name_at: usize,
    /// TYPE.
    pub rtype: Type,
    /// CLASS.
    pub class: u16,
    /// TTL in seconds.
    pub ttl: u32,
    /// Offset of RDATA.
    pub data_at: usize,
    /// RDLENGTH.
    pub data_len: usize,
}

impl Record {
    /// Reads the record at `at`: validates the owner name, checks the data
    /// is inside the message, and for the types whose data holds a name
    /// (CNAME, NS, PTR, MX) validates that name and that it ends inside the
    /// data; an A record must have 4 bytes of data.
    pub fn read<M: Message + ?Sized>(m: &mut M, at: usize) -> Result<Record, ParseError> {
        let after = skip_name(m, at)?;
        let mut fixed = [0u8; 10];
        read_exact(m, after, &mut fixed)?;
        let [t0, t1, c0, c1, l0, l1, l2, l3, d0, d1] = fixed;
        // Bounded: `after` is inside the message (the name ended there).
        let data_at = after.wrapping_add(10);
        let data_len = usize::from(u16::from_be_bytes([d0, d1]));
        let r = Record {
            name_at: at,
            rtype: Type::from(u16::from_be_bytes([t0, t1])),
            class: u16::from_be_bytes([c0, c1]),
            ttl: u32::from_be_bytes([l0, l1, l2, l3]),
            data_at,
            data_len,
        };
        if r.end() > m.len() {
            return Err(ParseError::Truncated);
        }
        if let Some(n) = r.data_name_at() {
            if skip_name(m, n)? > r.end() {
                return Err(ParseError::BadRecord);
            }
        }
        if r.rtype == Type::A && r.class == CLASS_IN && data_len != 4 {
            return Err(ParseError::BadRecord);
        }
        Ok(r)
    }

    /// Offset after the record.
    pub fn end(&self) -> usize {
        // Bounded: `data_at` is at most 10 past a message offset, and
        // `data_len` a 16-bit field.
        self.data_at.wrapping_add(self.data_len)
    }

    /// The address of an A record.
    pub fn a<M: Message + ?Sized>(&self, m: &mut M) -> Result<Ipv4Address, ParseError> {
        if self.rtype != Type::A || self.data_len != 4 {
            return Err(ParseError::BadRecord);
        }
        let mut b = [0u8; 4];
        read_exact(m, self.data_at, &mut b)?;
        Ok(Ipv4Address(b))
    }

    /// The offset of the name inside CNAME, NS or PTR data, or of an MX
    /// record's exchange.
    pub fn data_name_at(&self) -> Option<usize> {
        match self.rtype {
            Type::CNAME | Type::NS | Type::PTR => Some(self.data_at),
            // Bounded: as `end`.
            Type::MX => Some(self.data_at.wrapping_add(2)),
            _ => None,
        }
    }

    /// An MX record's preference.
    pub fn mx_preference<M: Message + ?Sized>(&self, m: &mut M) -> Result<u16, ParseError> {
        if self.rtype != Type::MX || self.data_len < 3 {
            return Err(ParseError::BadRecord);
        }
        read_u16(m, self.data_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;
    use std::vec::Vec;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // Captured with tcpdump in a network namespace (see tests/peers/README
    // in the repository history): a Python client asking dnsmasq 2.90 and
    // dnslib's zoneresolver.

    /// A? www.test.lan (id 0x1234).
    const Q_A: &str = "123401000001000000000000037777770474657374036c616e0000010001";
    /// dnsmasq: www.test.lan A 10.99.0.77, the owner name a pointer to 12.
    const R_A: &str = "123485800001000100000000037777770474657374036c616e0000010001\
                       c00c000100010000000000040a63004d";
    /// dnsmasq: nope.test.lan NXDOMAIN.
    const R_NX: &str = "123581830001000000000000046e6f70650474657374036c616e0000010001";
    /// dnsmasq: test.lan MX 10 mail.test.lan (exchange written in full),
    /// additional mail.test.lan A 10.99.0.1 pointing into the MX data.
    const R_MX_DNSMASQ: &str = "1236858000010001000000010474657374036c616e00000f0001\
                                c00c000f0001000000000011000a046d61696c0474657374036c616e00\
                                c028000100010000000000040a630001";
    /// dnslib: test.lan MX 10 mail.test.lan, MX 20 backup.test.lan, both
    /// exchanges compressed (`mail` + pointer to 12), additional A.
    const R_MX_DNSLIB: &str = "1237858000010002000000010474657374036c616e00000f0001\
                               c00c000f00010000012c0009000a046d61696cc00c\
                               c00c000f00010000012c000b0014066261636b7570c00c\
                               c028000100010000012c00040a630001";

    fn wire(text: &str) -> Vec<u8> {
        let mut b = [0u8; 256];
        let n = encode_name(text, &mut b).unwrap();
        b[..n].to_vec()
    }

    #[test]
    fn captured_query() {
        let q = hex(Q_A);
        let h = Repr::parse(&Packet::new_checked(&q[..]).unwrap()).unwrap();
        assert_eq!(h.id, 0x1234);
        assert_eq!(h.flags, flags::RD);
        assert!(!h.is_response());
        assert_eq!((h.questions, h.answers), (1, 0));
        let question = Question::read(&mut Bytes(&q), HEADER_LEN).unwrap();
        assert_eq!(question.qtype, Type::A);
        assert_eq!(question.qclass, CLASS_IN);
        assert_eq!(question.end, q.len());
        assert!(name_matches(&mut Bytes(&q), 12, &wire("WWW.test.lan")).unwrap());
        // What the client emits is byte-identical to the capture.
        let mut out = h.to_bytes().to_vec();
        out.extend(wire("www.test.lan"));
        out.extend([0, 1, 0, 1]);
        assert_eq!(out, q);
    }

    #[test]
    fn captured_a_answer() {
        let r = hex(R_A);
        let m = &mut Bytes(&r);
        let h = Repr::read(m).unwrap();
        assert!(h.is_response());
        assert_eq!(h.rcode(), Rcode::NoError);
        assert!(!h.truncated());
        let q = Question::read(m, HEADER_LEN).unwrap();
        let rec = Record::read(m, q.end).unwrap();
        assert_eq!(rec.rtype, Type::A);
        assert_eq!(rec.ttl, 0);
        assert_eq!(rec.end(), r.len());
        assert!(names_equal(m, rec.name_at, q.name_at).unwrap());
        assert_eq!(rec.a(m).unwrap(), Ipv4Address::new(10, 99, 0, 77));
        assert_eq!(skip_name(m, rec.name_at).unwrap(), rec.name_at + 2);
    }

    #[test]
    fn captured_nxdomain() {
        let r = hex(R_NX);
        let h = Repr::read(&mut Bytes(&r)).unwrap();
        assert_eq!(h.rcode(), Rcode::NameError);
        assert_eq!(h.answers, 0);
    }

    #[test]
    fn captured_mx_uncompressed_and_compressed() {
        for (text, want) in [
            (R_MX_DNSMASQ, &[(10u16, "mail.test.lan")][..]),
            (
                R_MX_DNSLIB,
                &[(10, "mail.test.lan"), (20, "backup.test.lan")][..],
            ),
        ] {
            let r = hex(text);
            let m = &mut Bytes(&r);
            let h = Repr::read(m).unwrap();
            let q = Question::read(m, HEADER_LEN).unwrap();
            assert_eq!(q.qtype, Type::MX);
            let mut at = q.end;
            let mut got = Vec::new();
            for _ in 0..h.answers {
                let rec = Record::read(m, at).unwrap();
                assert!(names_equal(m, rec.name_at, 12).unwrap());
                let mut buf = [0u8; 64];
                let n = copy_name(m, rec.data_name_at().unwrap(), &mut buf)
                    .unwrap()
                    .unwrap();
                got.push((rec.mx_preference(m).unwrap(), Name(&buf[..n]).to_string()));
                at = rec.end();
            }
            let want: Vec<_> = want.iter().map(|(p, n)| (*p, n.to_string())).collect();
            assert_eq!(got, want);
            let add = Record::read(m, at).unwrap();
            assert_eq!(add.rtype, Type::A);
            assert!(name_matches(m, add.name_at, &wire("MAIL.TEST.LAN")).unwrap());
            assert_eq!(add.a(m).unwrap(), Ipv4Address::new(10, 99, 0, 1));
            assert_eq!(add.end(), r.len());
        }
    }

    /// A header plus `body`, for hand-made hostile names.
    fn msg(body: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; HEADER_LEN];
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn hostile_names() {
        let cases: Vec<(&str, Vec<u8>, usize, ParseError)> = vec![
            ("self pointer", msg(&[0xc0, 12]), 12, ParseError::BadPointer),
            (
                "pointer loop a->b->a",
                msg(&[1, b'a', 0xc0, 16, 1, b'b', 0xc0, 12]),
                16,
                ParseError::BadPointer,
            ),
            (
                "pointer back into its own name",
                msg(&[1, b'a', 1, b'b', 0xc0, 14]),
                12,
                ParseError::BadPointer,
            ),
            (
                "forward pointer",
                msg(&[0xc0, 14, 1, b'a', 0]),
                12,
                ParseError::BadPointer,
            ),
            (
                "pointer past the end",
                msg(&[0xc0, 0xff]),
                12,
                ParseError::BadPointer,
            ),
            (
                "pointer into the header",
                msg(&[1, b'a', 0xc0, 2]),
                12,
                ParseError::BadPointer,
            ),
            (
                "cut pointer",
                msg(&[1, b'a', 0xc0]),
                12,
                ParseError::Truncated,
            ),
            (
                "label past the end",
                msg(&[5, b'a', b'b']),
                12,
                ParseError::Truncated,
            ),
            ("no root byte", msg(&[1, b'a']), 12, ParseError::Truncated),
            (
                "label length 64",
                msg(&[0x40, b'a']),
                12,
                ParseError::LabelTooLong,
            ),
            (
                "label type 10",
                msg(&[0x80, b'a']),
                12,
                ParseError::LabelTooLong,
            ),
        ];
        for (what, m, at, err) in cases {
            assert_eq!(skip_name(&mut Bytes(&m), at), Err(err), "{what}");
            assert_eq!(names_equal(&mut Bytes(&m), at, at), Err(err), "{what}");
            assert_eq!(name_matches(&mut Bytes(&m), at, &[0]), Err(err), "{what}");
            let mut out = [0u8; 300];
            assert_eq!(copy_name(&mut Bytes(&m), at, &mut out), Err(err), "{what}");
        }
    }

    #[test]
    fn name_length_limit_is_255_across_pointers() {
        // 3 labels of 63 + 1 label of 61 = 4*64 - 2 + 1 root = 255: fine.
        let mut body = Vec::new();
        for len in [63u8, 63, 63, 61] {
            body.push(len);
            body.extend(std::iter::repeat_n(b'x', usize::from(len)));
        }
        body.push(0);
        let ok = msg(&body);
        assert_eq!(skip_name(&mut Bytes(&ok), 12), Ok(ok.len()));
        // One byte more: 256.
        let mut long = body.clone();
        long[3 * 64] = 62;
        long.insert(3 * 64 + 1, b'x');
        assert_eq!(
            skip_name(&mut Bytes(&msg(&long)), 12),
            Err(ParseError::NameTooLong)
        );
        // A short name that reaches 256 through a pointer to a long one.
        let mut m = msg(&body[64..]); // 191-byte name at 12
        let second = m.len();
        m.extend([63]);
        m.extend([b'y'; 63]);
        m.extend([1, b'z', 0xc0, 12]);
        assert_eq!(
            skip_name(&mut Bytes(&m), second),
            Err(ParseError::NameTooLong)
        );
        // Too many hops: a chain of pointers each one back.
        let mut chain = msg(&[0]); // the root name at 12
        for i in 0..=MAX_POINTER_HOPS {
            // Pointer i sits at 13 + 2i and points at the one before it.
            let target = if i == 0 { 12u16 } else { 11 + 2 * i as u16 };
            chain.extend((0xc000 | target).to_be_bytes());
        }
        let start = chain.len() - 2;
        assert_eq!(
            skip_name(&mut Bytes(&chain), start),
            Err(ParseError::TooManyPointers)
        );
        // MAX_POINTER_HOPS hops are fine.
        assert!(skip_name(&mut Bytes(&chain), start - 2).is_ok());
    }

    #[test]
    fn the_root_name_through_every_operation() {
        // The root name (one zero byte) at 12, "a" at 13, a pointer to the
        // root at 16, and "a" + pointer to the root at 18.
        let m = msg(&[0, 1, b'a', 0, 0xc0, 12, 1, b'a', 0xc0, 12]);
        let b = &mut Bytes(&m);
        assert_eq!(skip_name(b, 12), Ok(13));
        assert_eq!(skip_name(b, 16), Ok(18));
        assert!(names_equal(b, 12, 12).unwrap());
        assert!(names_equal(b, 12, 16).unwrap());
        assert!(!names_equal(b, 12, 13).unwrap());
        assert!(!names_equal(b, 13, 12).unwrap());
        assert!(names_equal(b, 13, 18).unwrap());
        assert!(name_matches(b, 16, &[0]).unwrap());
        assert!(!name_matches(b, 12, &[1, b'a', 0]).unwrap());
        assert!(!name_matches(b, 13, &[0]).unwrap());
        let mut out = [0xffu8; 4];
        assert_eq!(copy_name(b, 16, &mut out), Ok(Some(1)));
        assert_eq!(out[0], 0);
        assert_eq!(copy_name(b, 12, &mut []), Ok(None));
        let mut walk = NameReader::new(16);
        assert_eq!(walk.next_byte(b), Ok(Some(0)));
        assert_eq!(walk.next_byte(b), Ok(None));
        assert_eq!((walk.end(), walk.wire_len()), (Some(18), 1));
    }

    #[test]
    fn an_over_long_name_fails_every_operation() {
        // 4 labels of 63 + root = 257 wire bytes; the comparison fails on
        // it from either side and even when the other name differs early.
        let mut body = Vec::new();
        for _ in 0..4 {
            body.push(63);
            body.extend([b'x'; 63]);
        }
        body.push(0);
        let mut m = msg(&body);
        let short = m.len();
        m.extend([1, b'y', 0]);
        let b = &mut Bytes(&m);
        let err = ParseError::NameTooLong;
        assert_eq!(skip_name(b, 12).err(), Some(err));
        assert_eq!(names_equal(b, 12, short).err(), Some(err));
        assert_eq!(names_equal(b, short, 12).err(), Some(err));
        assert_eq!(name_matches(b, 12, &[1, b'y', 0]).err(), Some(err));
        assert_eq!(copy_name(b, 12, &mut [0u8; 300]).err(), Some(err));
        assert_eq!(copy_name(b, 12, &mut [0u8; 8]).err(), Some(err));
    }

    #[test]
    fn a_looped_pointer_fails_even_after_a_difference() {
        // "b" at 12; "a" + pointer to itself at 15: a loop. Comparing
        // differs at the first byte, but the loop is still found.
        let m = msg(&[1, b'b', 0, 1, b'a', 0xc0, 15]);
        let b = &mut Bytes(&m);
        let err = ParseError::BadPointer;
        assert_eq!(names_equal(b, 12, 15).err(), Some(err));
        assert_eq!(names_equal(b, 15, 12).err(), Some(err));
        assert_eq!(name_matches(b, 15, &[1, b'b', 0]).err(), Some(err));
        assert_eq!(copy_name(b, 15, &mut [0u8; 1]).err(), Some(err));
    }

    #[test]
    fn names_compare_case_insensitively_across_pointers() {
        // "Mail.Test.LAN" at 12, then "mail" + pointer to "test.lan" (17).
        let mut m = msg(&[]);
        m.extend(wire("Mail.Test.LAN"));
        let second = m.len();
        m.extend([4, b'm', b'a', b'i', b'l', 0xc0, 17]);
        let third = m.len();
        m.extend(wire("mail.test.lan.org"));
        let b = &mut Bytes(&m);
        assert!(names_equal(b, 12, second).unwrap());
        assert!(!names_equal(b, 12, third).unwrap());
        assert!(!names_equal(b, third, second).unwrap());
        assert!(name_matches(b, second, &wire("MAIL.test.lan")).unwrap());
        assert!(!name_matches(b, second, &wire("mail.test")).unwrap());
        assert!(!name_matches(b, second, &wire("mail.test.lan.x")).unwrap());
        let mut out = [0u8; 15];
        assert_eq!(copy_name(b, second, &mut out).unwrap(), Some(15));
        assert_eq!(Name(&out).to_string(), "mail.Test.LAN");
        assert!(Name(&out).eq_text("mail.test.lan."));
        assert!(!Name(&out).eq_text("mail.test"));
        assert_eq!(copy_name(b, second, &mut [0u8; 14]).unwrap(), None);
    }

    #[test]
    fn encoding_text() {
        assert_eq!(wire("a.bc"), [1, b'a', 2, b'b', b'c', 0]);
        assert_eq!(wire("a.bc."), [1, b'a', 2, b'b', b'c', 0]);
        let mut b = [0u8; 300];
        assert_eq!(encode_name("", &mut b), Err(EncodeError::Empty));
        assert_eq!(encode_name("a..b", &mut b), Err(EncodeError::Empty));
        assert_eq!(encode_name(".a", &mut b), Err(EncodeError::Empty));
        assert_eq!(encode_name("a b", &mut b), Err(EncodeError::BadCharacter));
        assert_eq!(
            encode_name(&"x".repeat(64), &mut b),
            Err(EncodeError::LabelTooLong)
        );
        let long = vec!["x".repeat(63); 4].join(".");
        assert_eq!(encode_name(&long, &mut b), Err(EncodeError::TooLong));
        assert_eq!(
            encode_name("abc.de", &mut [0u8; 7]),
            Err(EncodeError::TooLong)
        );
        assert_eq!(encode_name("abc.de", &mut [0u8; 8]), Ok(8));
        assert_eq!(wire_name_len(&wire("abc.de")), Some(8));
        assert_eq!(wire_name_len(&[3, b'a']), None);
        assert_eq!(Name(&[0]).to_string(), ".");
        assert_eq!(Name(&[3, b'a', b'.', 1, 0]).to_string(), "a\\046\\001");
    }

    proptest! {
        #[test]
        fn random_messages_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), at in 0usize..320) {
            let m = &mut Bytes(&bytes);
            let _ = Repr::read(m);
            let _ = skip_name(m, at);
            let _ = names_equal(m, at, HEADER_LEN);
            let _ = name_matches(m, at, &[3, b'a', b'b', b'c', 0]);
            let mut out = [0u8; 64];
            let _ = copy_name(m, at, &mut out);
            if let Ok(q) = Question::read(m, at) {
                prop_assert!(q.end <= bytes.len());
            }
            if let Ok(r) = Record::read(m, at) {
                prop_assert!(r.end() <= bytes.len());
                let _ = r.a(m);
                let _ = r.mx_preference(m);
            }
            let _ = Name(&bytes).to_string();
            let _ = wire_name_len(&bytes);
        }

        #[test]
        fn any_walk_terminates_within_the_limits(bytes in proptest::collection::vec(any::<u8>(), 12..200), at in 12usize..200) {
            let m = &mut Bytes(&bytes);
            let mut name = NameReader::new(at);
            let mut steps = 0;
            while let Ok(Some(_)) = name.next_byte(m) {
                steps += 1;
                prop_assert!(steps <= MAX_NAME_LEN);
            }
            prop_assert!(name.wire_len() <= MAX_NAME_LEN + 64);
        }

        #[test]
        fn encoded_names_round_trip(labels in proptest::collection::vec("[a-zA-Z0-9-]{1,20}", 1..6)) {
            let text = labels.join(".");
            let mut out = [0u8; 256];
            let n = encode_name(&text, &mut out).unwrap();
            prop_assert_eq!(Name(&out[..n]).to_string(), text.clone());
            prop_assert!(Name(&out[..n]).eq_text(&text.to_uppercase()));
            let m = msg(&out[..n]);
            prop_assert_eq!(skip_name(&mut Bytes(&m), 12), Ok(m.len()));
        }
    }
}
