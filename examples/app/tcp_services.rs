//! The reference device's TCP services: echo (RFC 862, port 7), discard
//! (RFC 863, port 9), chargen (RFC 864, port 19) and a one-shot sender.
//!
//! Each produces its stream by offset, as the stack asks (see
//! `emberstack::tcp`): chargen and the sender compute the byte at any
//! offset; echo keeps what it received until the peer has acknowledged the
//! echo, in a ring the size of its advertised window.

use emberstack::iface::PayloadSink;
use emberstack::nic::Nic;
use emberstack::tcp::{TcpHandle, TcpReader};
use emberstack::wire::text::div_rem;

/// Bytes an echo socket holds between receiving and the peer's ACK of the
/// echo; also its receive window.
///
/// At least twice the reference device's window cap (`[tcp] window = 2`
/// segments of 1,460 bytes), so the room it reports stays at the cap while
/// a whole window of echo waits for its ACK: with less the echo runs in
/// lock-step — two segments in, both echoed, the peer's ACK, then a window
/// update before the next two (4 KiB did that at window 2) — and with less
/// than a window plus a client's block, receiver silly-window avoidance
/// keeps the window small until the peer's delayed ACK frees the ring
/// (~40 ms per block against Linux). A power of two: the ring is indexed
/// by the stream offset modulo its length, which stays right across the
/// offset's 32-bit wrap.
pub const ECHO_RING: usize = 8192;

/// What a TCP socket of the device does.
#[derive(Clone, Copy, Debug, Default)]
pub enum Service {
    /// Unused slot.
    #[default]
    None,
    /// Echo: send back what arrives.
    Echo(EchoState),
    /// Discard: count and checksum what arrives.
    Discard {
        /// Bytes received.
        bytes: u64,
        /// CRC-32 of them so far.
        crc: u32,
    },
    /// Chargen: an endless RFC 864 pattern.
    Chargen,
    /// Send `total` bytes of `i mod 251`, then close.
    Sender {
        /// Bytes to send.
        total: u32,
    },
}

/// Echo socket state; the bytes live in the app's ring for that socket.
#[derive(Clone, Copy, Debug, Default)]
pub struct EchoState {
    /// Stream offset up to which the peer acknowledged our echo.
    pub acked: u32,
    /// Stream offset up to which we have received (and will echo).
    pub received: u32,
    /// Bytes echoed in all.
    pub total: u64,
}

impl EchoState {
    /// Free ring space: the receive window offered on this socket.
    pub fn space(&self) -> usize {
        ECHO_RING.saturating_sub(self.received.wrapping_sub(self.acked) as usize)
    }
}

/// The RFC 864 character at stream offset `i`: lines of 72 printable
/// characters starting one later each line, then CR LF.
///
/// (`div_rem` divides in 32-bit steps: a Cortex-M has no 64-bit divide.)
pub fn chargen_byte(i: u64) -> u8 {
    let (line, col) = div_rem(i, 74);
    match col {
        72 => b'\r',
        73 => b'\n',
        _ => b' ' + div_rem(line + u64::from(col), 95).1 as u8,
    }
}

/// The sender's byte at offset `i`.
pub fn pattern_byte(i: u64) -> u8 {
    div_rem(i, 251).1 as u8
}

/// [`pattern_byte`] from an offset on: one division for the start, then a
/// counter (a division per byte halved the sender's throughput).
#[derive(Clone, Copy, Debug)]
pub struct Pattern(u8);

impl Pattern {
    /// The pattern from stream offset `i`.
    pub fn at(i: u64) -> Self {
        Pattern(div_rem(i, 251).1 as u8)
    }
}

impl Iterator for Pattern {
    type Item = u8;
    fn next(&mut self) -> Option<u8> {
        let b = self.0;
        self.0 = if b == 250 { 0 } else { b + 1 };
        Some(b)
    }
}

/// [`chargen_byte`] from an offset on, stepping instead of dividing.
#[derive(Clone, Copy, Debug)]
pub struct Chargen {
    /// The line number modulo 95 (the line's first character).
    line: u8,
    /// The column, 0..74 (72 and 73 are CR LF).
    col: u8,
}

impl Chargen {
    /// The character stream from offset `i`.
    pub fn at(i: u64) -> Self {
        let (line, col) = div_rem(i, 74);
        Chargen {
            line: div_rem(line, 95).1 as u8,
            col: col as u8,
        }
    }
}

impl Iterator for Chargen {
    type Item = u8;
    fn next(&mut self) -> Option<u8> {
        let b = match self.col {
            72 => b'\r',
            73 => b'\n',
            c => {
                // line < 95 and c < 72: one subtraction reduces mod 95.
                let v = self.line + c;
                b' ' + if v >= 95 { v - 95 } else { v }
            }
        };
        self.col += 1;
        if self.col == 74 {
            self.col = 0;
            self.line = if self.line == 94 { 0 } else { self.line + 1 };
        }
        Some(b)
    }
}

/// The 95 printable characters twice over: every RFC 864 line (72 of
/// them from a starting one) is one slice of it.
const PRINTABLE: [u8; 95 + 72] = {
    let mut t = [0u8; 95 + 72];
    let mut i = 0;
    while i < t.len() {
        t[i] = b' ' + (i % 95) as u8;
        i += 1;
    }
    t
};

/// Writes `max` bytes of the chargen stream from `offset`, a line's
/// characters as one slice of `PRINTABLE` and its CR LF as another: no
/// byte is generated or copied here (the stream is produced twice per
/// segment on a FIFO NIC, and again on a resend).
pub fn chargen_produce(offset: u64, max: usize, sink: &mut dyn PayloadSink) {
    let Chargen { mut line, mut col } = Chargen::at(offset);
    let mut left = max;
    while left > 0 {
        let piece: &[u8] = if col < 72 {
            let first = usize::from(line) + usize::from(col);
            &PRINTABLE[first..usize::from(line) + 72]
        } else {
            &b"\r\n"[usize::from(col) - 72..]
        };
        let n = piece.len().min(left);
        sink.write(&piece[..n]);
        left -= n;
        col += n as u8;
        if col == 74 {
            col = 0;
            line = if line == 94 { 0 } else { line + 1 };
        }
    }
}

/// Writes `max` bytes from `bytes` in small chunks.
pub fn produce_fn(max: usize, sink: &mut dyn PayloadSink, mut bytes: impl Iterator<Item = u8>) {
    let mut chunk = [0u8; 64];
    let mut done = 0usize;
    while done < max {
        let n = (max - done).min(chunk.len());
        for b in chunk[..n].iter_mut() {
            *b = bytes.next().unwrap_or(0);
        }
        sink.write(&chunk[..n]);
        done += n;
    }
}

/// Takes what fits of `data` into `ring` at stream offset `at`: straight
/// into the ring, in at most two pieces (its end, then its start).
pub fn ring_take<N: Nic>(
    ring: &mut [u8],
    echo: &mut EchoState,
    data: &mut TcpReader<'_, N>,
) -> usize {
    let take = data.len().min(echo.space());
    let mut done = 0;
    while done < take {
        let pos = (echo.received as usize + done) % ring.len();
        let room = (ring.len() - pos).min(take - done);
        let n = data.read(done, &mut ring[pos..pos + room]);
        if n == 0 {
            break;
        }
        done += n;
    }
    echo.received = echo.received.wrapping_add(done as u32);
    echo.total += done as u64;
    done
}

/// Writes the ring's bytes from stream offset `offset` (at most `max`).
pub fn ring_produce(
    ring: &[u8],
    echo: &EchoState,
    offset: u32,
    max: usize,
    sink: &mut dyn PayloadSink,
) {
    let available = echo.received.wrapping_sub(offset) as usize;
    if available > ECHO_RING {
        return; // an offset outside what we hold: nothing
    }
    let n = available.min(max);
    let start = offset as usize % ring.len();
    let first = n.min(ring.len() - start);
    sink.write(&ring[start..start + first]);
    sink.write(&ring[..n - first]);
}

/// CRC-32 (IEEE 802.3, as zlib), updated with `bytes`.
///
/// Four bits at a time from a 16-entry table: 64 bytes of flash instead
/// of the usual 1 KiB byte table, at two lookups per byte.
pub fn crc32_update(crc: u32, bytes: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in bytes {
        c ^= u32::from(b);
        c = CRC_NIBBLE[(c & 0xf) as usize] ^ (c >> 4);
        c = CRC_NIBBLE[(c & 0xf) as usize] ^ (c >> 4);
    }
    !c
}

/// The reflected polynomial's remainder for each 4-bit value.
const CRC_NIBBLE: [u32; 16] = {
    let mut t = [0u32; 16];
    let mut i = 0;
    while i < 16 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 4 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// Reads all of `data`, updating a CRC; returns (bytes, crc).
pub fn discard<N: Nic>(data: &mut TcpReader<'_, N>, mut crc: u32) -> (usize, u32) {
    let mut buf = [0u8; 128];
    let mut done = 0;
    while done < data.len() {
        let n = data.read(done, &mut buf);
        if n == 0 {
            break;
        }
        crc = crc32_update(crc, &buf[..n]);
        done += n;
    }
    (done, crc)
}

/// Lets a socket handle index the per-socket arrays.
pub fn slot(h: TcpHandle) -> usize {
    h.index()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32_update(0, b"123456789"), 0xcbf4_3926);
        // In pieces, as the discard service and uploads feed it.
        assert_eq!(
            crc32_update(crc32_update(0, b"1234"), b"56789"),
            0xcbf4_3926
        );
        assert_eq!(crc32_update(0, b""), 0);
        assert_eq!(crc32_update(0, &[0u8; 32]), 0x190a_55ad);
    }

    #[test]
    fn chargen_lines() {
        let mut line = [0u8; 74];
        for (i, b) in line.iter_mut().enumerate() {
            *b = chargen_byte(i as u64);
        }
        assert_eq!(&line[..5], b" !\"#$");
        assert_eq!(&line[72..], b"\r\n");
        assert_eq!(chargen_byte(74), b'!');
        // As the plain u64 arithmetic gives them, past 4 GiB too.
        for i in (0..20_000u64)
            .chain((1 << 32) - 500..(1 << 32) + 500)
            .chain([u64::MAX])
        {
            let (line, col) = (i / 74, i % 74);
            let want = match col {
                72 => b'\r',
                73 => b'\n',
                _ => b' ' + ((line + col) % 95) as u8,
            };
            assert_eq!(chargen_byte(i), want, "{i}");
            assert_eq!(pattern_byte(i), (i % 251) as u8, "{i}");
        }
    }

    #[test]
    fn chargen_produce_writes_the_byte_function_s_stream() {
        struct Collect([u8; 1600], usize, usize);
        impl PayloadSink for Collect {
            fn write(&mut self, bytes: &[u8]) {
                self.0[self.1..self.1 + bytes.len()].copy_from_slice(bytes);
                self.1 += bytes.len();
                self.2 += 1;
            }
            fn write_from_rx(&mut self, _: usize, _: usize) {}
        }
        for start in [0u64, 1, 71, 72, 73, 74, 7029, 7030, (1 << 32) - 3] {
            for max in [0usize, 1, 2, 73, 74, 75, 1460] {
                let mut sink = Collect([0; 1600], 0, 0);
                chargen_produce(start, max, &mut sink);
                assert_eq!(sink.1, max, "from {start}");
                for (k, &b) in sink.0[..max].iter().enumerate() {
                    assert_eq!(b, chargen_byte(start + k as u64), "from {start}, byte {k}");
                }
                assert!(sink.2 <= 2 * (max / 74 + 2), "two writes a line");
            }
        }
    }

    #[test]
    fn stepping_generators_match_the_byte_functions_from_any_offset() {
        for start in [
            0u64,
            1,
            71,
            72,
            73,
            74,
            250,
            251,
            7029,
            7030,
            (1 << 32) - 3,
            u64::MAX - 800,
        ] {
            let both = Chargen::at(start).zip(Pattern::at(start));
            for (k, (c, p)) in both.take(800).enumerate() {
                let i = start + k as u64;
                assert_eq!(c, chargen_byte(i), "chargen at {i}");
                assert_eq!(p, pattern_byte(i), "pattern at {i}");
            }
        }
    }
}
