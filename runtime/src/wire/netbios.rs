//! NetBIOS name service packets (RFC 1002 §4.2), the part a name
//! responder needs: name query requests in, positive responses out.
//!
//! The packet format is the DNS one (header as [`super::dns`]); the name is
//! a 16-byte NetBIOS name (15 characters padded with spaces, then a suffix
//! byte saying which service: 0x00 is the workstation) turned into a 32-byte
//! DNS label by "first-level encoding" (RFC 1001 §14.1): each byte becomes
//! two letters `'A' + high nibble`, `'A' + low nibble`. NetBIOS names
//! compare without regard to case, and senders upper-case them.

use super::dns::{flags, CLASS_IN, HEADER_LEN};
use super::{be16, Ipv4Address};

/// The name service port.
pub const PORT: u16 = 137;
/// Length of a NetBIOS name: 15 characters and the suffix.
pub const NAME_LEN: usize = 16;
/// Length of a first-level encoded name (the one DNS label).
pub const ENCODED_LEN: usize = 32;
/// The workstation service suffix, the one a device answers for.
pub const SUFFIX_WORKSTATION: u8 = 0x00;
/// Record type NB (general name service resource record).
pub const TYPE_NB: u16 = 0x0020;
/// Record type NBSTAT (node status).
pub const TYPE_NBSTAT: u16 = 0x0021;
/// A name query request without a scope: header, label length byte,
/// encoded name, root byte, type, class.
pub const QUERY_LEN: usize = HEADER_LEN + 1 + ENCODED_LEN + 1 + 4;
/// A positive name query response: header, the name, type, class, TTL,
/// data length, NB_FLAGS and the address.
pub const RESPONSE_LEN: usize = HEADER_LEN + 1 + ENCODED_LEN + 1 + 10 + 6;
/// Opcode of a name query (RFC 1002 §4.2.1.1).
pub const OPCODE_QUERY: u8 = 0;

/// First-level encodes `name` (at most 15 bytes used, upper-cased, padded
/// with spaces) with `suffix` as the 16th byte.
pub fn encode_name(name: &[u8], suffix: u8) -> [u8; ENCODED_LEN] {
    let mut raw = [b' '; NAME_LEN];
    for (d, s) in raw.iter_mut().zip(name.iter().take(NAME_LEN - 1)) {
        *d = s.to_ascii_uppercase();
    }
    if let Some(last) = raw.last_mut() {
        *last = suffix;
    }
    let mut out = [0u8; ENCODED_LEN];
    for (pair, b) in out.chunks_exact_mut(2).zip(raw) {
        if let [hi, lo] = pair {
            *hi = b'A'.wrapping_add(b >> 4);
            *lo = b'A'.wrapping_add(b & 0x0f);
        }
    }
    out
}

/// The nibble a first-level encoding letter stands for: `'A'..='P'` (either
/// case) are 0 to 15; anything else gives a value above 15.
fn nibble(c: u8) -> u8 {
    // Setting bit 5 maps exactly `A`..=`P` and `a`..=`p` onto `a`..=`p`
    // (no other byte lands there), which is case folding for these
    // letters.
    (c | 0x20).wrapping_sub(b'a')
}

/// Decodes a first-level encoded name; `None` when a byte is outside
/// `'A'..='P'` (either case, as some senders use lower case).
pub fn decode_name(encoded: &[u8; ENCODED_LEN]) -> Option<[u8; NAME_LEN]> {
    let mut out = [0u8; NAME_LEN];
    // Each letter is a nibble, high first: shifting the byte left by 4
    // and adding the next nibble builds it in two steps.
    for (i, &c) in encoded.iter().enumerate() {
        let n = nibble(c);
        if n > 0x0f {
            return None;
        }
        let d = out.get_mut(i / 2)?;
        *d = (*d << 4) | n;
    }
    Some(out)
}

/// True when the first-level encoded name (its letters already checked:
/// [`parse`]; [`encoded`] gives it from a query) is `name`
/// (case-insensitive, the rest padded with spaces) with `suffix`. Each
/// byte is decoded as it is compared: no decoded copy. `name` ends at its
/// end or at a zero byte, so the device name's zero-padded bytes
/// (`DeviceName::padded`) are passed as they are held, without measuring
/// the name first. An encoded name of another length never matches.
pub fn name_is(encoded: &[u8], name: &[u8], suffix: u8) -> bool {
    if encoded.len() != ENCODED_LEN
        || (name.len() > NAME_LEN - 1 && name.get(NAME_LEN - 1) != Some(&0))
    {
        return false;
    }
    encoded.chunks_exact(2).enumerate().all(|(i, pair)| {
        let got = match pair {
            [hi, lo] => (nibble(*hi) << 4) | nibble(*lo),
            _ => return false,
        };
        match name.get(i) {
            _ if i == NAME_LEN - 1 => got == suffix,
            Some(0) | None => got == b' ',
            Some(c) => got.eq_ignore_ascii_case(c),
        }
    })
}

/// What a name service packet is, as far as a responder cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A name query request (RFC 1002 §4.2.12) for an unscoped name: its
    /// fields are read where they are in the packet ([`encoded`],
    /// [`broadcast`]), and [`respond`] turns it into the answer in place.
    Query,
    /// Well-formed but not a query for us to consider: a response,
    /// another opcode (registration, release, refresh, WACK), a node
    /// status request, or a name with a scope.
    Other,
}

/// Why a packet sent to port 137 is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// Shorter than a name query.
    Truncated,
    /// A query whose counts are not one question and no records.
    Counts,
    /// The question name is not one 32-byte label of `A`–`P`.
    Name,
    /// The question is not type NB/NBSTAT, class IN.
    Question,
}

/// Where a query's encoded name starts (after the header and the label's
/// length byte).
const NAME_AT: usize = HEADER_LEN + 1;

/// The encoded name of a query ([`Parsed::Query`]) as it is in the packet
/// (empty for a packet shorter than a query).
pub fn encoded(query: &[u8]) -> &[u8] {
    query.get(NAME_AT..NAME_AT + ENCODED_LEN).unwrap_or(&[])
}

/// The name of a query ([`Parsed::Query`]) decoded (for logs: [`name_is`]
/// compares without it); all zeros when it is not one.
pub fn query_name(query: &[u8]) -> [u8; NAME_LEN] {
    <&[u8; ENCODED_LEN]>::try_from(encoded(query))
        .ok()
        .and_then(decode_name)
        .unwrap_or([0; NAME_LEN])
}

/// True when the query was broadcast (the B flag).
pub fn broadcast(query: &[u8]) -> bool {
    be16(query, 2) & flags::BROADCAST != 0
}

/// Reads the first [`QUERY_LEN`] bytes of a packet to port 137 (`head`:
/// as many as it has, so a shorter `head` is a shorter packet).
pub fn parse(head: &[u8]) -> Result<Parsed, Malformed> {
    if head.len() < HEADER_LEN {
        return Err(Malformed::Truncated);
    }
    // The header's words where they are: a query (QR clear) with opcode
    // 0, then one question, no answer and no authority record.
    if be16(head, 2) & (flags::QR | flags::OPCODE) != u16::from(OPCODE_QUERY) << 11 {
        return Ok(Parsed::Other);
    }
    if head.len() < QUERY_LEN {
        return Err(Malformed::Truncated);
    }
    if head.get(4..10) != Some(&[0, 1, 0, 0, 0, 0][..]) {
        return Err(Malformed::Counts);
    }
    let label_len = head.get(HEADER_LEN).copied().unwrap_or(0);
    if usize::from(label_len) != ENCODED_LEN {
        return Err(Malformed::Name);
    }
    if encoded(head).iter().any(|&c| nibble(c) > 0x0f) {
        return Err(Malformed::Name);
    }
    /// Offset of the root byte (or a scope's first label).
    const AFTER: usize = NAME_AT + ENCODED_LEN;
    let scope = head.get(AFTER).copied().unwrap_or(0);
    let qtype = be16(head, AFTER + 1);
    let qclass = be16(head, AFTER + 3);
    if scope != 0 {
        // A scoped name (RFC 1001 §9): never ours. Its type is elsewhere.
        return Ok(Parsed::Other);
    }
    if qclass != CLASS_IN || (qtype != TYPE_NB && qtype != TYPE_NBSTAT) {
        return Err(Malformed::Question);
    }
    if qtype == TYPE_NBSTAT {
        return Ok(Parsed::Other);
    }
    Ok(Parsed::Query)
}

/// Turns the query in `buf` ([`Parsed::Query`], in its first
/// [`QUERY_LEN`] bytes) into the positive name query response (RFC 1002
/// §4.2.13), in place: the same id, the name as asked, type NB, class IN
/// (the question's, which [`parse`] checked), `ttl` seconds, one unique
/// B-node entry with `addr`. The name, its root byte and the type and
/// class stay where the query had them; only the flags, the counts and
/// the record's last fields are written.
pub fn respond(buf: &mut [u8; RESPONSE_LEN], ttl: u32, addr: Ipv4Address) {
    /// Offset of the record's TTL (after the name, type and class).
    const TTL_AT: usize = QUERY_LEN;
    let rd = be16(&buf[..], 2) & flags::RD;
    // The header: QR, AA, RD echoed; no question, one answer.
    super::put16(buf, 2, flags::QR | flags::AA | rd);
    super::put_slice(buf, 4, &[0, 0, 0, 1, 0, 0, 0, 0]);
    super::put32(buf, TTL_AT, ttl);
    let [a, b, c, d] = addr.0;
    // RDLENGTH 6; NB_FLAGS: G = 0 (unique), ONT = 00 (B node); then
    // NB_ADDRESS.
    super::put_slice(buf, TTL_AT + 4, &[0, 6, 0, 0, a, b, c, d]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iface::name::DeviceName;
    use crate::wire::dns;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // Captured with tcpdump in a network namespace: `nmblookup -U IP ember`
    // (unicast, flags 0) and `nmblookup -B BCAST ember` (RD and B set).
    const UNICAST: &str = "414800000001000000000000\
                           204546454e454345464643434143414341434143414341434143414341434141410000200001";
    const BROADCAST: &str = "7b0201100001000000000000\
                             204546454e454345464643434143414341434143414341434143414341434141410000200001";

    #[test]
    fn captured_queries() {
        for (text, id, bcast) in [(UNICAST, 0x4148, false), (BROADCAST, 0x7b02, true)] {
            let b = hex(text);
            assert_eq!(b.len(), QUERY_LEN);
            assert_eq!(parse(&b), Ok(Parsed::Query));
            assert_eq!(be16(&b, 0), id);
            assert_eq!(broadcast(&b), bcast);
            assert_eq!(&query_name(&b)[..], b"EMBER          \0");
            let e = encoded(&b);
            assert!(name_is(e, b"ember", 0));
            assert!(name_is(e, b"EMBER", 0));
            assert!(!name_is(e, b"EMBE", 0));
            assert!(!name_is(e, b"EMBERS", 0));
            assert!(!name_is(e, b"EMBER", 0x20));
            assert!(!name_is(e, b"EMBER7890123456", 0));
            // The device name as it is held: zero-padded to 15 bytes.
            let held = |n: &str| *DeviceName::new(n).unwrap().padded();
            assert!(name_is(e, &held("ember"), 0));
            assert!(!name_is(e, &held("embe"), 0));
            assert!(!name_is(e, &held("emberS"), 0));
            assert!(!name_is(e, &held("EMBER7890123456"), 0));
            // A zero byte ends a name; without one, more than 15 bytes
            // never match.
            assert!(name_is(e, b"EMBER\0\0\0\0\0\0\0\0\0\0\0", 0));
            assert!(!name_is(e, b"EMBER\0\0\0\0\0\0\0\0\0\0X", 0));
            // An encoded name of another length never matches.
            assert!(!name_is(&e[..30], b"EMBER", 0));
            assert!(!name_is(encoded(&b[..40]), b"EMBER", 0));
            assert_eq!(e, &encode_name(b"Ember", 0)[..]);
            assert_eq!(decode_name(e.try_into().unwrap()), Some(query_name(&b)));
        }
        // Not a query: no name.
        assert_eq!(query_name(&[0u8; 20]), [0; NAME_LEN]);
    }

    #[test]
    fn a_nibble_is_exactly_a_letter_a_to_p_in_either_case() {
        for c in 0..=255u8 {
            let want = match c {
                b'A'..=b'P' => Some(c - b'A'),
                b'a'..=b'p' => Some(c - b'a'),
                _ => None,
            };
            let got = nibble(c);
            assert_eq!((got <= 0x0f).then_some(got), want, "byte {c:#04x}");
        }
    }

    #[test]
    fn decoding_accepts_exactly_the_sixteen_letters_in_either_case() {
        let good = encode_name(b"EMBER", 0);
        for at in [0, 1, 30, 31] {
            for c in 0..=255u8 {
                let mut e = good;
                e[at] = c;
                let ok = matches!(c, b'A'..=b'P' | b'a'..=b'p');
                let got = decode_name(&e);
                assert_eq!(got.is_some(), ok, "byte {c:#04x} at {at}");
                if let Some(name) = got {
                    let nibble = u32::from(c.to_ascii_uppercase() - b'A');
                    let byte = name[at / 2];
                    let part = if at % 2 == 0 { byte >> 4 } else { byte & 0x0f };
                    assert_eq!(u32::from(part), nibble);
                }
            }
        }
        assert_eq!(decode_name(&good), Some(*b"EMBER          \0"));
    }

    /// The query read into a response-sized buffer (as the responder does),
    /// turned into the response.
    fn response_to(query: &[u8], ttl: u32, addr: Ipv4Address) -> [u8; RESPONSE_LEN] {
        let mut r = [0u8; RESPONSE_LEN];
        r[..QUERY_LEN].copy_from_slice(&query[..QUERY_LEN]);
        respond(&mut r, ttl, addr);
        r
    }

    #[test]
    fn response_layout() {
        for (text, flags) in [(BROADCAST, 0x8500), (UNICAST, 0x8400)] {
            let b = hex(text);
            assert_eq!(parse(&b), Ok(Parsed::Query));
            // Whatever the buffer held past the query is overwritten.
            let mut r = [0xa5u8; RESPONSE_LEN];
            r[..QUERY_LEN].copy_from_slice(&b);
            respond(&mut r, 300, Ipv4Address::new(10, 1, 2, 3));
            assert_eq!(r, response_to(&b, 300, Ipv4Address::new(10, 1, 2, 3)));
            let h = dns::Repr::parse(&dns::Packet::new_checked(&r[..]).unwrap()).unwrap();
            assert_eq!(h.id, be16(&b, 0));
            // QR, opcode 0, AA, RD echoed, RCODE 0.
            assert_eq!(h.flags, flags);
            assert_eq!(
                (h.questions, h.answers, h.authorities, h.additionals),
                (0, 1, 0, 0)
            );
            // The record reads as a DNS record: name, NB, IN, TTL, 6 bytes.
            let m = &mut dns::Bytes(&r);
            let rec = dns::Record::read(m, HEADER_LEN).unwrap();
            assert_eq!(rec.rtype, dns::Type::NB);
            assert_eq!((rec.class, rec.ttl, rec.data_len), (1, 300, 6));
            assert_eq!(rec.end(), RESPONSE_LEN);
            assert_eq!(&r[rec.data_at..], &[0, 0, 10, 1, 2, 3]);
            assert_eq!(
                &r[HEADER_LEN + 1..HEADER_LEN + 33],
                &b[HEADER_LEN + 1..HEADER_LEN + 33]
            );
        }
        // The response to the broadcast capture, byte for byte (as the
        // responder built it before it answered in place: RFC 1002
        // §4.2.13), with an additional record counted in the query.
        let mut b = hex(BROADCAST);
        b[11] = 1;
        let mut want = hex("7b0285000000000100000000");
        want.extend(&hex(BROADCAST)[12..]);
        // TTL 300, RDLENGTH 6, NB_FLAGS 0, NB_ADDRESS.
        want.extend(hex("0000012c000600000a010203"));
        assert_eq!(
            &response_to(&b, 300, Ipv4Address::new(10, 1, 2, 3))[..],
            &want[..]
        );
    }

    #[test]
    fn malformed_and_other() {
        let good = hex(UNICAST);
        assert_eq!(parse(&good[..20]), Err(Malformed::Truncated));
        assert_eq!(parse(&good[..11]), Err(Malformed::Truncated));
        // One question, no answer, no authority record (each byte of the
        // three counts); additional records do not matter.
        for (at, v) in [(5, 2), (5, 0), (4, 1), (6, 1), (7, 1), (8, 1), (9, 1)] {
            let mut counts = good.clone();
            counts[at] = v;
            assert_eq!(parse(&counts), Err(Malformed::Counts), "byte {at}");
        }
        let mut additional = good.clone();
        additional[11] = 1;
        assert_eq!(parse(&additional), Ok(Parsed::Query));
        // Every opcode but 0, and a response with opcode 0, is not a query.
        for opcode in 1..16u8 {
            let mut other = good.clone();
            other[2] = opcode << 3;
            assert_eq!(parse(&other), Ok(Parsed::Other), "opcode {opcode}");
        }
        let mut label = good.clone();
        label[12] = 0x1f;
        assert_eq!(parse(&label), Err(Malformed::Name));
        let mut letter = good.clone();
        letter[20] = b'Z';
        assert_eq!(parse(&letter), Err(Malformed::Name));
        let mut qtype = good.clone();
        qtype[47] = 0x01;
        assert_eq!(parse(&qtype), Err(Malformed::Question));
        let mut response = good.clone();
        response[2] |= 0x80;
        assert_eq!(parse(&response), Ok(Parsed::Other));
        let mut register = good.clone();
        register[2] = 0x28; // opcode 5
        assert_eq!(parse(&register), Ok(Parsed::Other));
        let mut nbstat = good.clone();
        nbstat[47] = 0x21;
        assert_eq!(parse(&nbstat), Ok(Parsed::Other));
        let mut scoped = good.clone();
        scoped[45] = 3;
        assert_eq!(parse(&scoped), Ok(Parsed::Other));
        // Lower-case encoding is accepted.
        let mut lower = good.clone();
        lower[13..45].make_ascii_lowercase();
        assert_eq!(parse(&lower), Ok(Parsed::Query));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = parse(&bytes);
            if let Ok(Parsed::Query) = parse(&bytes) {
                let r = response_to(&bytes, 1, Ipv4Address::new(1, 2, 3, 4));
                prop_assert_eq!(&r[13..45], encoded(&bytes));
                prop_assert!(decode_name(encoded(&bytes).try_into().unwrap()).is_some());
                prop_assert_eq!(&r[..2], &bytes[..2]);
                prop_assert_eq!(&r[45..50], &[0, 0, 0x20, 0, 1][..]);
            }
        }

        #[test]
        fn encoding_round_trips(name in "[A-Z0-9_-]{1,15}", suffix in any::<u8>()) {
            let e = encode_name(name.as_bytes(), suffix);
            prop_assert!(decode_name(&e).is_some());
            prop_assert!(name_is(&e, name.to_lowercase().as_bytes(), suffix));
            prop_assert!(!name_is(&e, name.to_lowercase().as_bytes(), suffix ^ 1));
            let other = format!("{name}X");
            prop_assert_eq!(name_is(&e, other.as_bytes(), suffix), false);
            // The same name held as the device's (zero-padded).
            if let Ok(d) = DeviceName::new(&name) {
                prop_assert!(name_is(&e, d.padded(), suffix));
            }
        }
    }
}
