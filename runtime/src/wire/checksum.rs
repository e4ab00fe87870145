//! The internet checksum (RFC 1071) as an incremental accumulator.
//!
//! Payloads stream between the NIC and the application in chunks of any
//! length, so the accumulator remembers whether it has seen an odd number of
//! bytes: a chunk that starts on an odd offset contributes its first byte as
//! the low half of a 16-bit word. Summing `a` then `b` equals summing `a ++ b`.

/// A running one's-complement sum of 16-bit big-endian words.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checksum {
    /// Sum of words, folded lazily; a `u32` holds 65 535 words before folding.
    sum: u32,
    /// An odd byte has been added and waits for its partner.
    odd: bool,
}

impl Checksum {
    /// An empty sum.
    pub const fn new() -> Self {
        Checksum { sum: 0, odd: false }
    }

    /// The accumulator of a sum taken earlier: its folded value
    /// ([`fold`](Self::fold)) and whether it covered an odd number of
    /// bytes. (A producer that keeps a 16-bit sum of what it will send.)
    pub const fn from_folded(sum: u16, odd: bool) -> Self {
        Checksum {
            sum: sum as u32,
            odd,
        }
    }

    /// Adds bytes that follow everything added so far.
    // A word loop on every frame: in the first flash page on the firmware
    // (`.text.hot`, examples/firmware/memory.x).
    #[cfg_attr(target_os = "none", link_section = ".text.hot.checksum")]
    pub fn add_bytes(&mut self, bytes: &[u8]) {
        // The bytes are summed as if they started at an even offset, then
        // added as a separate sum (`add_checksum`: byte-swapped when they
        // follow an odd count, RFC 1071 §2 (B)).
        let mut part = Checksum::new();
        // RFC 1071 §2 (B, C): the sum is independent of byte order and
        // may be taken over wider words, then folded. Native-order 32-bit
        // words into a 64-bit accumulator (one load and an add-with-carry
        // pair per 4 bytes on Cortex-M, no fold test per word); the fold
        // is swapped to big-endian once. Cannot wrap below 2^32 words
        // (16 GiB), far beyond any slice this sees.
        // `as_chunks`, not `chunks_exact`: at opt-level "s" the latter kept
        // a bounds-checked split per word, half of this loop's cost.
        let (quads, rest) = bytes.as_chunks::<4>();
        let mut wide: u64 = 0;
        for quad in quads {
            wide = wide.wrapping_add(u64::from(u32::from_ne_bytes(*quad)));
        }
        // Folded to 32 bits with the end-around carry (no loop), then
        // into big-endian order: `from_be` also swaps the halves on a
        // little-endian MCU, which the 16-bit sum does not see.
        let (low, carry) = (wide as u32).overflowing_add((wide >> 32) as u32);
        part.add_raw(u32::from_be(low.wrapping_add(u32::from(carry))));
        let mut pairs = rest.chunks_exact(2);
        for pair in &mut pairs {
            if let [hi, lo] = *pair {
                part.add_word_raw(u16::from_be_bytes([hi, lo]));
            }
        }
        if let [last] = *pairs.remainder() {
            part.add_word_raw(u16::from(last) << 8);
            part.odd = true;
        }
        self.add_checksum(part);
    }

    /// Adds one 16-bit word at an even offset (pseudo-header fields, lengths).
    pub fn add_u16(&mut self, word: u16) {
        // Keep the byte stream view consistent: after an odd byte a word's
        // two bytes land in the other halves (as `add_bytes` would put them).
        self.add_word_raw(if self.odd { word.rotate_left(8) } else { word });
    }

    /// Adds a 32-bit value as two words (addresses in a pseudo-header).
    pub fn add_u32(&mut self, value: u32) {
        // Both words at once; after an odd byte each word's bytes land in
        // the other halves (`swap_bytes` also swaps the words, which the
        // 16-bit sum does not see).
        self.add_raw(if self.odd { value.swap_bytes() } else { value });
    }

    /// Combines a sum computed separately over bytes that start at an even
    /// offset after everything added so far.
    pub fn add_checksum(&mut self, other: Checksum) {
        // Its 32-bit sum as it is, no fold first (the same modulo 0xffff).
        // `other` started at an odd position: its words are byte-swapped
        // (`swap_bytes` also swaps the words, which the 16-bit sum does not
        // see).
        self.add_raw(if self.odd {
            other.sum.swap_bytes()
        } else {
            other.sum
        });
        self.odd ^= other.odd;
    }

    #[inline]
    fn add_word_raw(&mut self, word: u16) {
        self.add_raw(u32::from(word));
    }

    /// Adds 32 bits of big-endian words (two 16-bit words at once).
    #[inline]
    fn add_raw(&mut self, words: u32) {
        // A one's-complement add in 32 bits: the carry out of bit 31 goes
        // back in at bit 0 (2^32 ≡ 1 modulo 0xffff, so the folded sum is
        // the same as with 16-bit end-around carries; it is 0 only when
        // every word was). Two instructions (`adds`, `adc`), no fold test.
        let (sum, carry) = self.sum.overflowing_add(words);
        self.sum = sum.wrapping_add(u32::from(carry));
    }

    /// The one's-complement sum folded into 16 bits (not yet complemented).
    /// (Out of line: every checksum ends here, at a dozen sites.)
    #[inline(never)]
    pub fn fold(&self) -> u16 {
        // The halves added with the end-around carry: what the 16-bit
        // fold loop gives, without the loop.
        let (s, carry) = (self.sum as u16).overflowing_add((self.sum >> 16) as u16);
        s.wrapping_add(u16::from(carry))
    }

    /// The value to store in a checksum field: the complement of the sum.
    pub fn finish(&self) -> u16 {
        !self.fold()
    }

    /// True when the data summed includes a correct checksum field
    /// (the sum over a valid packet is 0xffff).
    pub fn is_valid(&self) -> bool {
        self.fold() == 0xffff
    }
}

/// Bytes with their sum taken ahead of time: [`Summed::new`] is a `const
/// fn`, so for data in flash (the web ROM, fixed header lines) the sum is
/// taken at build time, and a payload made of them adds one word instead
/// of reading every byte again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summed {
    /// The bytes.
    pub bytes: &'static [u8],
    /// Their one's-complement sum (RFC 1071), folded, as if they started
    /// at an even offset.
    pub sum: u16,
}

impl Summed {
    /// `bytes` with their sum.
    pub const fn new(bytes: &'static [u8]) -> Summed {
        Summed {
            bytes,
            sum: sum_of(bytes),
        }
    }

    /// The sum as an accumulator that has seen exactly these bytes (to
    /// add with [`Checksum::add_checksum`] at any offset).
    pub fn checksum(&self) -> Checksum {
        Checksum {
            sum: u32::from(self.sum),
            odd: self.bytes.len() % 2 == 1,
        }
    }
}

/// The folded one's-complement sum of `bytes` from an even offset, in a
/// `const` context.
const fn sum_of(mut bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    while let [hi, lo, rest @ ..] = bytes {
        // Folded every word: never above 0x1_fffe, no wrap.
        sum = (sum & 0xffff)
            .wrapping_add(sum >> 16)
            .wrapping_add(((*hi as u32) << 8) | *lo as u32);
        bytes = rest;
    }
    if let [last] = bytes {
        sum = (sum & 0xffff)
            .wrapping_add(sum >> 16)
            .wrapping_add((*last as u32) << 8);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff).wrapping_add(sum >> 16);
    }
    sum as u16
}

/// The checksum of `bytes` alone, ready to store.
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut c = Checksum::new();
    c.add_bytes(bytes);
    c.finish()
}

/// RFC 1624 incremental update: the new checksum field after a 16-bit word
/// covered by `old_field` changed from `old_word` to `new_word`
/// (HC' = ~(~HC + ~m + m')).
pub fn update(old_field: u16, old_word: u16, new_word: u16) -> u16 {
    let mut c = Checksum::new();
    c.add_u16(!old_field);
    c.add_u16(!old_word);
    c.add_u16(new_word);
    c.finish()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_sum_taken_at_build_time_adds_up_at_any_offset() {
        const ODD: Summed = Summed::new(b"HTTP/1.1 200 OK\r\nX");
        const EVEN: Summed = Summed::new(b"\r\n\r\n");
        for lead in [&b""[..], b"a", b"ab", b"abc"] {
            let mut by_bytes = Checksum::new();
            by_bytes.add_bytes(lead);
            by_bytes.add_bytes(ODD.bytes);
            by_bytes.add_bytes(EVEN.bytes);
            let mut by_sums = Checksum::new();
            by_sums.add_bytes(lead);
            by_sums.add_checksum(ODD.checksum());
            by_sums.add_checksum(EVEN.checksum());
            assert_eq!(by_sums.fold(), by_bytes.fold(), "after {lead:?}");
            by_bytes.add_bytes(b"z");
            by_sums.add_bytes(b"z");
            assert_eq!(by_sums.fold(), by_bytes.fold(), "parity after {lead:?}");
        }
        assert_eq!(Summed::new(&[0xff; 1000]).sum, 0xffff);
        assert_eq!(Summed::new(b"").sum, 0);
    }

    use super::*;

    // RFC 1071 section 3 example bytes.
    const RFC1071: [u8; 8] = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];

    #[test]
    fn rfc1071_example() {
        let mut c = Checksum::new();
        c.add_bytes(&RFC1071);
        assert_eq!(c.fold(), 0xddf2);
    }

    #[test]
    fn split_at_every_offset_matches_whole() {
        let data: Vec<u8> = (0..97u32).map(|i| (i * 37 + 11) as u8).collect();
        let whole = checksum(&data);
        for cut in 0..data.len() {
            for cut2 in cut..data.len() {
                let mut c = Checksum::new();
                c.add_bytes(&data[..cut]);
                c.add_bytes(&data[cut..cut2]);
                c.add_bytes(&data[cut2..]);
                assert_eq!(c.finish(), whole, "cuts {cut} {cut2}");
            }
        }
    }

    #[test]
    fn combine_separate_sums() {
        let data: Vec<u8> = (0..51u32).map(|i| (i * 91 + 7) as u8).collect();
        for cut in 0..data.len() {
            let mut a = Checksum::new();
            a.add_bytes(&data[..cut]);
            let mut b = Checksum::new();
            b.add_bytes(&data[cut..]);
            a.add_checksum(b);
            assert_eq!(a.finish(), checksum(&data), "cut {cut}");
        }
    }

    #[test]
    fn ipv4_header_from_capture_verifies() {
        // A real IPv4 header (ping from 10.78.0.1 to 10.78.0.2).
        let hdr = [
            0x45, 0x00, 0x00, 0x54, 0xe8, 0x9b, 0x40, 0x00, 0x40, 0x01, 0x3d, 0x6f, 0x0a, 0x4e,
            0x00, 0x01, 0x0a, 0x4e, 0x00, 0x02,
        ];
        let mut c = Checksum::new();
        c.add_bytes(&hdr);
        assert!(c.is_valid(), "{:04x}", c.fold());
    }

    #[test]
    fn incremental_update_matches_recompute() {
        let mut pkt = [0x08u8, 0x00, 0, 0, 0x12, 0x34, 0x00, 0x01, 0xaa, 0xbb];
        let ck = checksum(&pkt);
        pkt[2..4].copy_from_slice(&ck.to_be_bytes());
        let new = update(ck, 0x0800, 0x0000);
        pkt[0] = 0;
        pkt[2..4].copy_from_slice(&[0, 0]);
        assert_eq!(new, checksum(&pkt));
    }

    /// The plain RFC 1071 loop over 16-bit big-endian words, to compare with.
    fn reference(bytes: &[u8]) -> u16 {
        let mut sum: u64 = 0;
        for pair in bytes.chunks(2) {
            let hi = u64::from(pair[0]) << 8;
            sum += hi | pair.get(1).map_or(0, |&lo| u64::from(lo));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    #[test]
    fn wide_words_match_the_16_bit_sum_at_every_length_and_split() {
        let data: Vec<u8> = (0..300u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect();
        for len in 0..data.len() {
            assert_eq!(checksum(&data[..len]), reference(&data[..len]), "len {len}");
        }
        for cut in 0..64 {
            let mut c = Checksum::new();
            c.add_bytes(&data[..cut]);
            c.add_bytes(&data[cut..]);
            assert_eq!(c.finish(), reference(&data), "cut {cut}");
        }
        // Sums that are multiples of 0xffff keep the non-zero form.
        assert_eq!(checksum(&[0xff, 0xff, 0xff, 0xff]), reference(&[0xff; 4]));
        assert_eq!(checksum(&[0, 0, 0, 0]), 0xffff);
    }

    #[test]
    fn many_words_do_not_overflow() {
        let data = vec![0xffu8; 300_000];
        let mut c = Checksum::new();
        c.add_bytes(&data);
        assert_eq!(c.fold(), 0xffff);
    }

    #[test]
    fn word_sums_carry_past_32_bits_as_one_complement() {
        // Enough words one at a time that the 32-bit sum carries out
        // (about 2^16 large words), and odd-position words, compared with
        // the 16-bit end-around-carry sum of RFC 1071.
        for word in [0xffffu16, 0xfedc, 0x8001, 0x0001] {
            for n in [0usize, 1, 65_537, 70_001, 140_000] {
                let mut c = Checksum::new();
                let mut reference: u32 = 0;
                for _ in 0..n {
                    c.add_u16(word);
                    reference += u32::from(word);
                    reference = (reference & 0xffff) + (reference >> 16);
                }
                assert_eq!(c.fold(), reference as u16, "{n} × {word:#x}");
            }
        }
        let mut c = Checksum::new();
        c.add_bytes(&[0xab]);
        let mut reference: u32 = 0xab00;
        for _ in 0..70_001 {
            c.add_u16(0xffee);
            // After an odd byte a word's bytes land swapped.
            reference += 0xeeff;
            reference = (reference & 0xffff) + (reference >> 16);
        }
        assert_eq!(c.fold(), reference as u16);
    }
}
