//! A response as a sequence of pieces at known offsets, produced at any
//! offset TCP asks for.
//!
//! The head is a handful of static pieces (the ROM's precomputed lines, a
//! `Connection` line, the framing line). A static body is one ROM slice.
//! A dynamic body is the page's parts, each framed as an HTTP chunk in
//! chunked mode; tag output comes from the *journal* at the start of the
//! connection's buffer: `[len lo, len hi, bytes...]` per rendered tag, in
//! page order, from the oldest unacknowledged tag (the *anchor*) on. A tag
//! is rendered once, when the send window first reaches it, and dropped
//! from the journal when the peer acknowledges its last byte — so every
//! resend of a range reads the same bytes.

use super::features::HttpFeatures;
use super::out::TagOut;
use super::rom::{Body, File, Representation, Site, Summed, TagSlot};
use super::{HttpApp, HttpEvent};
use crate::iface::PayloadSink;
use crate::wire::Checksum;

/// What is being answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Kind {
    /// No response.
    #[default]
    None,
    /// Only `100 Continue` so far; the final response follows the body.
    Pending,
    /// A static file (`gzip`: its gzip twin).
    File { file: u16, gzip: bool },
    /// 304 for a static file.
    NotModified { file: u16, gzip: bool },
    /// A page with tags.
    Dynamic { file: u16 },
    /// An error (or other bodiless-in-the-ROM) status.
    Status,
}

/// How a dynamic body is delimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `Content-Length` (everything was rendered up front).
    #[default]
    Length,
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the connection closes (HTTP/1.0).
    Close,
}

/// [`Resp::flags`].
pub(crate) mod pf {
    /// `100 Continue` precedes the response.
    pub const CONTINUE: u8 = 1 << 0;
    /// `Connection: close`, and the connection ends after the response.
    pub const CLOSE: u8 = 1 << 1;
    /// The client speaks HTTP/1.0 (keep-alive must be said).
    pub const V10: u8 = 1 << 2;
    /// HEAD: no body.
    pub const HEAD: u8 = 1 << 3;
    /// A tag did not fit in the journal: wait for acknowledgements before
    /// calling its handler again.
    pub const BLOCKED: u8 = 1 << 4;
    /// [`Resp::sum`] holds the sum of the whole response.
    pub const SUMMED: u8 = 1 << 5;
}

/// The response of one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Resp {
    pub kind: Kind,
    pub status: u16,
    pub flags: u8,
    pub framing: Framing,
    /// Stream offset of its first byte.
    pub start: u32,
    /// Length of the head (with `100 Continue`).
    pub head_len: u32,
    /// Total length, once known.
    pub end: Option<u32>,
    /// Body length (`Framing::Length`).
    pub body_len: u32,
    /// The anchor: the first part not yet wholly acknowledged, and its
    /// offset.
    pub item: u16,
    pub pos: u32,
    /// Journal bytes in use.
    pub jlen: u16,
    /// With [`pf::SUMMED`]: the folded sum of the body, then (once the
    /// head is set) of the whole response. A dynamic page rendered up
    /// front is summed as it is rendered, so the measuring pass of a FIFO
    /// NIC ([`PayloadSink::write_measured`]) need not walk its parts.
    pub sum: u16,
}

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
/// The head's end: a `Connection` line, if any, and the blank line.
const CLOSE: &[u8] = b"Connection: close\r\n\r\n";
const KEEP_ALIVE: &[u8] = b"Connection: keep-alive\r\n\r\n";
const HEAD_END: &[u8] = b"\r\n";
const CRLF: &[u8] = b"\r\n";
const CHUNK_END: &[u8] = b"0\r\n\r\n";

/// Error statuses the server sends, each as its plain-text body: the
/// code, the reason phrase and LF, one after the other; the last one
/// answers any other code. The status line is the body without its LF
/// (`HTTP/1.1 ` before, CR LF after). One string instead of a table of
/// slices: 12 bytes of flash fewer per status.
const STATUS: &[u8] = b"400 Bad Request\n\
403 Forbidden\n\
404 Not Found\n\
405 Method Not Allowed\n\
408 Request Timeout\n\
413 Content Too Large\n\
414 URI Too Long\n\
415 Unsupported Media Type\n\
417 Expectation Failed\n\
431 Request Header Fields Too Large\n\
501 Not Implemented\n\
503 Service Unavailable\n\
505 HTTP Version Not Supported\n\
500 Internal Server Error\n";

/// The plain-text body of status `code` (its code, reason phrase and
/// LF); anything unknown is a 500. (Not inlined: the head, its length
/// and the body each ask.)
#[inline(never)]
fn status_body(code: u16) -> &'static [u8] {
    let mut rest = STATUS;
    loop {
        // Bounded: `i` is a position in `rest`.
        let end = rest
            .iter()
            .position(|&c| c == b'\n')
            .map_or(rest.len(), |i| i.wrapping_add(1));
        let (body, tail) = rest.split_at(end);
        // Its first three bytes, the code's digits (three digits: no wrap).
        let n = body.iter().take(3).fold(0u16, |n, &d| {
            n.wrapping_mul(10)
                .wrapping_add(u16::from(d.wrapping_sub(b'0')))
        });
        if n == code || tail.is_empty() {
            return body;
        }
        rest = tail;
    }
}

/// Decimal digits of `n` into `out`; the used part (the one decimal
/// writer of the crate, `wire::text::digits`; a `u32` needs 10 bytes).
fn decimal(n: u32, out: &mut [u8; 10]) -> &[u8] {
    crate::wire::text::digits(n.into(), out)
}

/// `len` in hex plus CRLF: a chunk's size line.
fn chunk_line(len: usize, out: &mut [u8; 18]) -> &[u8] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // Bounded: `i` starts at 16 and the loop stops at 0.
    let mut i = out.len().wrapping_sub(2);
    if let Some(t) = out.get_mut(i..) {
        t.copy_from_slice(CRLF);
    }
    let mut n = len;
    loop {
        i = i.wrapping_sub(1);
        if let Some(d) = out.get_mut(i) {
            *d = HEX.get(n & 15).copied().unwrap_or(b'0');
        }
        n >>= 4;
        if n == 0 || i == 0 {
            break;
        }
    }
    out.get(i..).unwrap_or(&[])
}

impl Framing {
    /// `Transfer-Encoding: chunked`, in a server built with it.
    fn chunked<F: HttpFeatures>(self) -> bool {
        F::CHUNKED && self == Framing::Chunked
    }

    /// [`framed_len`] in a server with features `F` (without chunked
    /// output, no chunk framing is ever counted).
    fn wire_len<F: HttpFeatures>(self, n: usize) -> usize {
        if self.chunked::<F>() {
            framed_len(Framing::Chunked, n)
        } else {
            n
        }
    }
}

/// Hex digits of `n` (at least one), as [`chunk_line`] writes them.
fn hex_digits(n: usize) -> usize {
    // Bounded: at most `usize::BITS`, and the result at most 16.
    (usize::BITS.wrapping_sub(n.leading_zeros()) as usize)
        .wrapping_add(3)
        .wrapping_div(4)
        .max(1)
}

/// Bytes a tag's (or text's) output occupies on the wire.
fn framed_len(framing: Framing, n: usize) -> usize {
    match framing {
        Framing::Chunked if n == 0 => 0,
        // The size line: hex digits (n > 0 here) and CRLF, then CRLF.
        // Bounded: a few digits around a piece of the page.
        Framing::Chunked => hex_digits(n).wrapping_add(4).wrapping_add(n),
        _ => n,
    }
}

/// Bytes of small pieces a [`Window`] gathers for one write.
const GATHER: usize = 64;

/// Writes the part of a sequence of pieces that falls in `[at, end)`.
///
/// A dynamic page is dozens of pieces of a few bytes (the text between its
/// tags, the tags' values), and every write travels through TCP's segment
/// limit and the NIC's sink — on a FIFO NIC twice, measuring and writing —
/// before the NIC packs the bytes into its 32-bit words one by one. So a
/// window producing a dynamic response gathers small pieces and writes
/// them together ([`Window::gather`]): `/status.json` is a handful of writes
/// instead of about 60, −3.9k instructions per request on the firmware, for
/// 64 bytes of call stack. Other responses are a few large pieces and do
/// not gather (zeroing the buffer would cost them more than it saves).
/// Dropping the window writes what is left, so the sink sees the same
/// bytes in the same order either way.
pub(crate) struct Window<'s> {
    sink: &'s mut dyn PayloadSink,
    at: usize,
    end: usize,
    /// Offset of the next piece.
    pos: usize,
    /// Gathered bytes not yet written (the first `gathered`), when
    /// gathering.
    buf: Option<Gather>,
    gathered: usize,
}

/// The gathering buffer, word aligned: cleared by `memclr4`'s word
/// stores (byte aligned, `memclr` took ~90 instructions for its 64 bytes,
/// twice a request).
#[repr(align(4))]
struct Gather([u8; GATHER]);

impl<'s> Window<'s> {
    pub(crate) fn new(sink: &'s mut dyn PayloadSink, at: usize, max: usize) -> Self {
        Window {
            sink,
            at,
            end: at.saturating_add(max),
            pos: 0,
            buf: None,
            gathered: 0,
        }
    }

    /// From here on, gathers small pieces into few writes.
    fn gather(&mut self) {
        self.buf = Some(Gather([0; GATHER]));
    }

    /// Writes the gathered bytes.
    // Out of line: LLVM had inlined four copies; −44 B (inline9).
    #[inline(never)]
    // A word or byte loop on every response: in the first flash page on the
    // firmware (`.text.hot`, examples/firmware/memory.x).
    #[cfg_attr(target_os = "none", link_section = ".text.hot.http")]
    fn flush(&mut self) {
        let len = core::mem::take(&mut self.gathered);
        if let Some(bytes) = self.buf.as_ref().and_then(|b| b.0.get(..len)) {
            if !bytes.is_empty() {
                self.sink.write(bytes);
            }
        }
    }

    /// Writes `bytes`, or gathers them when gathering: after what was
    /// gathered when they do not fit behind it, and a piece longer than
    /// the buffer as it is.
    fn write(&mut self, bytes: &[u8]) {
        if self.buf.is_none() {
            return self.sink.write(bytes);
        }
        // Bounded: `gathered <= GATHER` always.
        if bytes.len() > GATHER.wrapping_sub(self.gathered) {
            self.flush();
        }
        let end = self.gathered.wrapping_add(bytes.len());
        match self
            .buf
            .as_mut()
            .and_then(|b| b.0.get_mut(self.gathered..end))
        {
            Some(slot) => {
                copy_small(slot, bytes);
                self.gathered = end;
            }
            None => self.sink.write(bytes),
        }
    }

    fn full(&self) -> bool {
        self.pos >= self.end
    }

    // A word or byte loop on every response: in the first flash page on the
    // firmware (`.text.hot`, examples/firmware/memory.x).
    #[cfg_attr(target_os = "none", link_section = ".text.hot.http")]
    fn piece(&mut self, bytes: &[u8]) {
        let start = self.pos;
        // Offsets in one response (a page of the site, a few KB): no wrap.
        let stop = start.wrapping_add(bytes.len());
        if stop > self.at && start < self.end {
            let from = self.at.saturating_sub(start);
            let to = self.end.min(stop).saturating_sub(start);
            if let Some(s) = bytes.get(from..to) {
                self.write(s);
            }
        }
        self.pos = stop;
    }

    /// A piece summed ahead of time: the sum goes along when the whole
    /// piece falls in the window.
    fn summed(&mut self, piece: Summed) {
        let start = self.pos;
        // As in `piece`.
        let stop = start.wrapping_add(piece.bytes.len());
        if start >= self.at && stop <= self.end {
            self.flush();
            self.sink.write_summed(piece);
            self.pos = stop;
        } else {
            self.piece(piece.bytes);
        }
    }

    /// `bytes` as a piece of the body, in its chunk when chunked. (The
    /// unchunked case inline: it is every piece of a `Content-Length`
    /// page, and a call each was a tenth of producing one.)
    // Always inlined for speed: left to LLVM it was 8 B smaller but out
    // of line (inline9, seventh session), a call per piece again.
    #[inline(always)]
    fn framed<F: HttpFeatures>(&mut self, framing: Framing, bytes: &[u8]) {
        if framing.chunked::<F>() {
            self.chunk(bytes);
        } else {
            self.piece(bytes);
        }
    }

    /// `bytes` as an HTTP chunk (none for no bytes).
    fn chunk(&mut self, bytes: &[u8]) {
        match bytes.len() {
            0 => {}
            n => {
                let mut line = [0u8; 18];
                self.piece(chunk_line(n, &mut line));
                self.piece(bytes);
                self.piece(CRLF);
            }
        }
    }
}

/// Copies a piece of a few bytes: words, then bytes. The pieces are
/// shorter than `memcpy`'s prologue costs (the empty `black_box`es keep
/// LLVM from turning the loops into that call); Cortex-M3 and up load and
/// store unaligned words.
fn copy_small(dst: &mut [u8], src: &[u8]) {
    let (dw, dt) = dst.as_chunks_mut::<4>();
    let (sw, st) = src.as_chunks::<4>();
    for (d, s) in dw.iter_mut().zip(sw) {
        *d = *s;
        core::hint::black_box(());
    }
    for (d, s) in dt.iter_mut().zip(st) {
        *d = *s;
        core::hint::black_box(());
    }
}

impl Drop for Window<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The internet checksum of many short pieces one after another (a
/// page's texts and tag outputs): [`Checksum::add_bytes`] folds and
/// aligns per call, which for pieces of a few bytes cost more than the
/// summing. Here each piece adds its native-order words, zero-padded at
/// its end, to the accumulator of its start's parity: pieces that start
/// at an odd offset contribute byte-swapped, which RFC 1071 §2(B) lets us
/// apply once, at the fold.
#[derive(Default)]
struct PieceSum {
    /// Sums of the pieces that start at an even and an odd offset.
    even: u64,
    odd: u64,
    /// The next piece starts at an odd offset.
    at_odd: bool,
}

impl PieceSum {
    // A word or byte loop on every response: in the first flash page on the
    // firmware (`.text.hot`, examples/firmware/memory.x).
    #[cfg_attr(target_os = "none", link_section = ".text.hot.http")]
    fn add(&mut self, bytes: &[u8]) {
        let (quads, tail) = bytes.as_chunks::<4>();
        let mut wide: u64 = 0;
        for quad in quads {
            wide = wide.wrapping_add(u64::from(u32::from_le_bytes(*quad)));
        }
        // The last 0 to 3 bytes as a zero-padded word (zeros add nothing).
        let last = match *tail {
            [a] => u32::from(a),
            [a, b] => u32::from(u16::from_le_bytes([a, b])),
            [a, b, c] => u32::from_le_bytes([a, b, c, 0]),
            _ => 0,
        };
        // Cannot wrap: 2^32 words of a page would be 16 GiB.
        wide = wide.wrapping_add(u64::from(last));
        let acc = if self.at_odd {
            &mut self.odd
        } else {
            &mut self.even
        };
        *acc = acc.wrapping_add(wide);
        self.at_odd ^= bytes.len() % 2 == 1;
    }

    /// The folded sum, as [`Checksum::fold`] would give for the pieces'
    /// bytes in order from an even offset.
    fn fold(&self) -> u16 {
        // Little-endian words: an even start's sum is the byte swap of
        // the big-endian one, an odd start's is already swapped back. A
        // byte swap of a 16-bit one's complement sum is a multiplication
        // by 256 modulo 65,535, which folding keeps: so the even sum
        // times 256 plus the odd one, folded once (one loop, not one per
        // sum). Cannot wrap: a page's pieces (its text, at most 65,535
        // bytes, and its tags' output, at most the 4,096-byte buffer) are
        // under 2^15 words of 32 bits, so each sum is under 2^47, and
        // times 256 under 2^55.
        let mut w = self.even.wrapping_shl(8).wrapping_add(self.odd);
        while w > 0xffff {
            w = (w & 0xffff).wrapping_add(w >> 16);
        }
        w as u16
    }
}

/// A sink that only sums (a head's length and sum).
struct Sum(Checksum);
impl PayloadSink for Sum {
    fn write(&mut self, bytes: &[u8]) {
        self.0.add_bytes(bytes);
    }
    fn write_from_rx(&mut self, _: usize, _: usize) {}
}

/// The representation of a static file (`gzip`: its twin, in a server
/// built with gzip). (Not inlined: three callers.)
#[inline(never)]
fn rep<F: HttpFeatures>(file: &File, gzip: bool) -> Option<&Representation> {
    match &file.body {
        Body::Static { plain, gzip: g } => {
            if F::GZIP && gzip {
                *g
            } else {
                Some(plain)
            }
        }
        Body::Dynamic { .. } => None,
    }
}

/// The validator lines of a static file's 200 head, which a 304 repeats
/// (RFC 9110 §15.4.5): `ETag`, `Cache-Control` and, when the file has a
/// gzip twin, `Vary` — the last lines of every head codegen builds
/// (`codegen/src/web/compress.rs`, `static_head`), so they are the head's
/// tail of a known length instead of pieces written again. In a server
/// built without gzip no twin is sent and the 304 leaves `Vary` out.
fn validators<F: HttpFeatures>(file: &File, gzip: bool) -> &'static [u8] {
    const VARY: usize = b"Vary: Accept-Encoding\r\n".len();
    let twin = matches!(file.body, Body::Static { gzip: Some(_), .. });
    let Some(r) = rep::<F>(file, gzip) else {
        return &[];
    };
    let head = r.head.bytes;
    // The `Vary` line is inside the head when there is a twin: no wrap.
    let end = head
        .len()
        .wrapping_sub(if twin && !F::GZIP { VARY } else { 0 });
    r.etag_at(twin)
        .and_then(|start| head.get(start..end))
        .unwrap_or(&[])
}

impl Resp {
    fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    /// Sets the final response's kind and computes its head length (and
    /// its end, when the body length is known).
    pub(crate) fn set<F: HttpFeatures>(
        &mut self,
        kind: Kind,
        status: u16,
        framing: Framing,
        site: &Site,
    ) {
        self.kind = kind;
        self.status = status;
        self.framing = framing;
        let mut sum = Sum(Checksum::new());
        // The window in a block of its own: it ends (and drops) in place,
        // where `drop(w)` moved its 92 bytes to a new slot with `memcpy`.
        {
            // Only a summed response's head is summed (written); any
            // other's is only measured.
            let mut w = if self.has(pf::SUMMED) {
                Window::new(&mut sum, 0, usize::MAX)
            } else {
                Window::new(&mut sum, usize::MAX, 0)
            };
            self.head::<F>(site, &mut w);
            self.head_len = u32::try_from(w.pos).unwrap_or(u32::MAX);
            // The end: after the body, when its length is known (measured
            // as `produce` writes it).
            let known = match kind {
                Kind::Pending | Kind::None => false,
                _ if self.has(pf::HEAD) => true,
                Kind::Dynamic { .. } if framing == Framing::Length => {
                    // Offsets in one response: no wrap.
                    w.pos = w.pos.wrapping_add(self.body_len as usize);
                    true
                }
                Kind::Dynamic { .. } => false,
                _ => {
                    self.static_body::<F>(site, &mut w);
                    true
                }
            };
            self.end = u32::try_from(w.pos).ok().filter(|_| known);
        }
        if self.has(pf::SUMMED) {
            // The body's sum follows the head's (at its parity).
            let body = Checksum::from_folded(self.sum, self.body_len % 2 == 1);
            sum.0.add_checksum(body);
            self.sum = sum.0.fold();
        }
        self.pos = self.head_len;
        self.item = 0;
    }

    /// A file's or a status's body (others have none here).
    fn static_body<F: HttpFeatures>(&self, site: &Site, w: &mut Window<'_>) {
        match self.kind {
            Kind::File { file, gzip } => {
                if let Some(r) = site.file(file).and_then(|f| rep::<F>(f, gzip)) {
                    w.summed(r.body);
                }
            }
            Kind::Status => w.piece(status_body(self.status)),
            _ => {}
        }
    }

    /// The head's pieces.
    fn head<F: HttpFeatures>(&self, site: &Site, w: &mut Window<'_>) {
        if F::CONTINUE && self.has(pf::CONTINUE) {
            w.piece(CONTINUE);
        }
        let file = |i: u16| site.file(i);
        // A `Content-Length` line after the kind's lines (a dynamic page
        // rendered up front, a status's text): one writer for both.
        let mut length = None;
        match self.kind {
            Kind::None | Kind::Pending => return,
            Kind::File { file: i, gzip } => {
                if let Some(r) = file(i).and_then(|f| rep::<F>(f, gzip)) {
                    w.summed(r.head);
                }
            }
            Kind::NotModified { .. } if !F::ETAG => {}
            Kind::NotModified { file: i, gzip } => {
                w.piece(b"HTTP/1.1 304 Not Modified\r\n");
                if let Some(f) = file(i) {
                    w.piece(validators::<F>(f, gzip));
                }
            }
            Kind::Dynamic { file: i } => {
                if let Some(File {
                    body: Body::Dynamic { head, .. },
                    ..
                }) = file(i)
                {
                    w.summed(*head);
                }
                match self.framing {
                    Framing::Length => length = Some(self.body_len),
                    Framing::Chunked if F::CHUNKED => w.piece(b"Transfer-Encoding: chunked\r\n"),
                    Framing::Chunked | Framing::Close => {}
                }
            }
            Kind::Status => {
                // The status line is the body without its LF.
                let body = status_body(self.status);
                w.piece(b"HTTP/1.1 ");
                w.piece(body.split_last().map_or(body, |(_, text)| text));
                w.piece(b"\r\nContent-Type: text/plain; charset=utf-8\r\n");
                length = u32::try_from(body.len()).ok();
            }
        }
        if let Some(n) = length {
            let mut num = [0u8; 10];
            w.piece(b"Content-Length: ");
            w.piece(decimal(n, &mut num));
            w.piece(CRLF);
        }
        // (Only a status of our own is a 405: pages are 200 or 304.)
        if self.status == 405 {
            w.piece(b"Allow: GET, HEAD\r\n");
        }
        // The `Connection` line, if any, and the blank line: one piece.
        w.piece(if self.has(pf::CLOSE) {
            CLOSE
        } else if F::KEEP_ALIVE && self.has(pf::V10) {
            KEEP_ALIVE
        } else {
            HEAD_END
        });
    }

    /// Writes the response bytes at `rel` (relative to its start), at most
    /// `max`, rendering tags the window reaches for the first time.
    pub(crate) fn produce<F: HttpFeatures, A: HttpApp>(
        &mut self,
        rel: usize,
        max: usize,
        sink: &mut dyn PayloadSink,
        site: &Site,
        journal: &mut [u8],
        app: &mut A,
    ) {
        // At or past a known end there is nothing: TCP asks exactly there
        // (is the stream drained? more than a segment left?), and a walk
        // of every part of a dynamic page to find nothing cost as much as
        // producing it.
        if self
            .end
            .is_some_and(|end| rel >= usize::try_from(end).unwrap_or(usize::MAX))
            && self.kind != Kind::Pending
        {
            return;
        }
        if self.measured(rel, max, sink) {
            return;
        }
        let mut w = Window::new(sink, rel, max);
        if let Kind::Dynamic { .. } = self.kind {
            w.gather();
        }
        let head_len = usize::try_from(self.head_len).unwrap_or(usize::MAX);
        if F::CONTINUE && self.kind == Kind::Pending {
            self.head::<F>(site, &mut w);
            return;
        }
        if rel < head_len {
            self.head::<F>(site, &mut w);
        }
        w.pos = head_len;
        if self.has(pf::HEAD) || w.full() {
            return;
        }
        match self.kind {
            Kind::Dynamic { file } => self.walk::<F, A>(&mut w, file, site, journal, app),
            _ => self.static_body::<F>(site, &mut w),
        }
    }

    /// A measuring pass over the whole of a summed response: its length
    /// and sum without a walk (true when the sink took them).
    fn measured(&self, rel: usize, max: usize, sink: &mut dyn PayloadSink) -> bool {
        let Some(end) = self.end.filter(|_| self.has(pf::SUMMED) && rel == 0) else {
            return false;
        };
        let end = usize::try_from(end).unwrap_or(usize::MAX);
        end <= max && sink.write_measured(end, Checksum::from_folded(self.sum, end % 2 == 1))
    }

    /// The dynamic body from the anchor on.
    fn walk<F: HttpFeatures, A: HttpApp>(
        &mut self,
        w: &mut Window<'_>,
        file: u16,
        site: &Site,
        journal: &mut [u8],
        app: &mut A,
    ) {
        let Some(File {
            body: Body::Dynamic { text, tags, .. },
            ..
        }) = site.file(file)
        else {
            return;
        };
        w.pos = usize::try_from(self.pos).unwrap_or(usize::MAX);
        let mut j = 0usize;
        let (mut from, slots) = from_slot(tags, self.item);
        for &slot in slots {
            let piece = text.get(from..slot.at()).unwrap_or(&[]);
            from = slot.at();
            // The window is checked before each piece and each tag, as it
            // was when the pieces were listed: an empty piece (before a
            // first tag, between two, after a last) was no piece then.
            if !piece.is_empty() && w.full() {
                return;
            }
            w.framed::<F>(self.framing, piece);
            if w.full() {
                return;
            }
            if j >= usize::from(self.jlen)
                && (self.has(pf::BLOCKED) || !self.render(slot, journal, app))
            {
                self.flags |= pf::BLOCKED;
                return;
            }
            let (bytes, next) = entry(journal, j);
            w.framed::<F>(self.framing, bytes);
            j = next;
        }
        // The text after the last tag.
        let tail = text.get(from..).unwrap_or(&[]);
        if !tail.is_empty() && w.full() {
            return;
        }
        w.framed::<F>(self.framing, tail);
        if self.framing.chunked::<F>() {
            w.piece(CHUNK_END);
        }
        self.end = u32::try_from(w.pos).ok();
    }

    /// Renders tag `id` at the end of the journal. When the journal holds
    /// other tags and this one does not fit, nothing is kept (false): it
    /// is rendered again once acknowledgements made room. Alone, it keeps
    /// what fits.
    fn render<A: HttpApp>(&mut self, slot: TagSlot, journal: &mut [u8], app: &mut A) -> bool {
        let id = slot.tag();
        let j = usize::from(self.jlen);
        // Journal offsets: within the buffer (`[http] buffer` is at most
        // 4096 bytes), so plain arithmetic on them is exact here and below.
        let Some(space) = journal.get_mut(j.wrapping_add(2)..) else {
            return false;
        };
        let mut out = TagOut::new(space, slot.escape());
        app.tag(id, &mut out);
        let (n, cut) = (out.len(), out.is_truncated());
        if cut && j > 0 {
            return false;
        }
        if cut {
            app.event(HttpEvent::TagTruncated { tag: id });
        }
        let n16 = u16::try_from(n).unwrap_or(u16::MAX);
        if let Some(len) = journal.get_mut(j..j.wrapping_add(2)) {
            len.copy_from_slice(&n16.to_le_bytes());
        }
        self.jlen = self.jlen.wrapping_add(2).wrapping_add(n16);
        true
    }

    /// Renders every tag now (for `Content-Length`); false, with the
    /// journal emptied, when they do not all fit.
    pub(crate) fn render_all<A: HttpApp>(
        &mut self,
        text: &'static [u8],
        tags: &'static [TagSlot],
        journal: &mut [u8],
        app: &mut A,
    ) -> Option<u32> {
        // Journal offsets as in `render`; `total` is at most the page's
        // length.
        self.jlen = 0;
        let mut total = 0usize;
        let mut sum = PieceSum::default();
        let mut from = 0usize;
        for &slot in tags {
            let piece = text.get(from..slot.at()).unwrap_or(&[]);
            from = slot.at();
            sum.add(piece);
            total = total.wrapping_add(piece.len());
            let j = usize::from(self.jlen);
            let Some(space) = journal.get_mut(j.wrapping_add(2)..) else {
                self.jlen = 0;
                return None;
            };
            let mut out = TagOut::new(space, slot.escape());
            app.tag(slot.tag(), &mut out);
            if out.is_truncated() {
                self.jlen = 0;
                return None;
            }
            let n = out.len();
            sum.add(out.as_bytes());
            let n16 = u16::try_from(n).unwrap_or(u16::MAX);
            if let Some(len) = journal.get_mut(j..j.wrapping_add(2)) {
                len.copy_from_slice(&n16.to_le_bytes());
            }
            self.jlen = self.jlen.wrapping_add(2).wrapping_add(n16);
            total = total.wrapping_add(n);
        }
        let tail = text.get(from..).unwrap_or(&[]);
        sum.add(tail);
        total = total.wrapping_add(tail.len());
        let total = u32::try_from(total).ok()?;
        self.sum = sum.fold();
        self.flags |= pf::SUMMED;
        Some(total)
    }

    /// The peer acknowledged up to `rel`: move the anchor over whole
    /// parts and drop their tag output from the journal (one move for all
    /// of them: a move per tag made a page of many tags quadratic).
    pub(crate) fn acked<F: HttpFeatures>(&mut self, rel: u32, site: &Site, journal: &mut [u8]) {
        let Kind::Dynamic { file } = self.kind else {
            return;
        };
        // Wholly acknowledged (most pages, in one segment): nothing of it
        // is produced again (TCP asks only past the end, which `produce`
        // answers without the anchor), so no walk to move it.
        if self.has(pf::HEAD) || self.end.is_some_and(|end| rel >= end) {
            return;
        }
        let Some(File {
            body: Body::Dynamic { text, tags, .. },
            ..
        }) = site.file(file)
        else {
            return;
        };
        let dropped = self.pass_acked::<F>(text, tags, rel, journal);
        if dropped > 0 {
            let used = usize::from(self.jlen);
            super::move_down(journal, dropped.min(used)..used, 0);
            self.jlen = u16::try_from(used.saturating_sub(dropped)).unwrap_or(0);
            self.flags &= !pf::BLOCKED;
        }
    }

    /// Moves the anchor over the slots (a text piece and its tag) that
    /// end at or below `rel`; returns how many journal bytes the tags
    /// among them used (from its start). The text after the last tag is
    /// not passed: the anchor stays before it.
    fn pass_acked<F: HttpFeatures>(
        &mut self,
        text: &[u8],
        tags: &[TagSlot],
        rel: u32,
        journal: &[u8],
    ) -> usize {
        // Offsets in one response (a page: no wrap); `item` counts its slots.
        let rel = usize::try_from(rel).unwrap_or(usize::MAX);
        let mut dropped = 0usize;
        let (mut from, slots) = from_slot(tags, self.item);
        for &slot in slots {
            if dropped >= usize::from(self.jlen) {
                return dropped; // a tag not rendered (not sent)
            }
            let piece = text.get(from..slot.at()).unwrap_or(&[]);
            from = slot.at();
            let pos = usize::try_from(self.pos).unwrap_or(usize::MAX);
            let (bytes, next) = entry(journal, dropped);
            let len = self
                .framing
                .wire_len::<F>(piece.len())
                .wrapping_add(self.framing.wire_len::<F>(bytes.len()));
            if pos.wrapping_add(len) > rel {
                return dropped;
            }
            self.pos = self
                .pos
                .wrapping_add(u32::try_from(len).unwrap_or(u32::MAX));
            self.item = self.item.wrapping_add(1);
            dropped = next;
        }
        dropped
    }
}

/// A dynamic page from slot `k` on (slot `k`: the text piece before tag
/// `k`, and the tag; after the last slot, the text after the last tag):
/// where slot `k`'s piece starts in the text, and the tags from `k` on.
fn from_slot(tags: &[TagSlot], k: u16) -> (usize, &[TagSlot]) {
    let k = usize::from(k);
    let from = k
        .checked_sub(1)
        .and_then(|i| tags.get(i))
        .map_or(0, |s| s.at());
    (from, tags.get(k..).unwrap_or(&[]))
}

/// The journal entry at `j`: its bytes and where the next one starts.
/// (Not inlined: producing and acknowledging both read entries.)
#[inline(never)]
fn entry(journal: &[u8], j: usize) -> (&[u8], usize) {
    // Bounded: `j` within the journal, `n` a `u16`.
    let n = journal.get(j..j.wrapping_add(2)).map_or(0, |l| match l {
        [a, b] => usize::from(u16::from_le_bytes([*a, *b])),
        _ => 0,
    });
    let start = j.wrapping_add(2);
    let end = start.wrapping_add(n);
    (journal.get(start..end).unwrap_or(&[]), end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let mut d = [0u8; 10];
        assert_eq!(decimal(0, &mut d), b"0");
        assert_eq!(decimal(4096, &mut d), b"4096");
        assert_eq!(decimal(u32::MAX, &mut d), b"4294967295");
        let mut h = [0u8; 18];
        assert_eq!(chunk_line(0x1a3, &mut h), b"1a3\r\n");
        assert_eq!(chunk_line(1, &mut h), b"1\r\n");
        assert_eq!(framed_len(Framing::Chunked, 0x10), 2 + 2 + 16 + 2);
        assert_eq!(framed_len(Framing::Chunked, 0), 0);
        assert_eq!(framed_len(Framing::Length, 7), 7);
        for n in [1, 15, 16, 255, 256, 4095, 4096, 65535, 65536, usize::MAX] {
            assert_eq!(hex_digits(n) + 2, chunk_line(n, &mut h).len(), "{n}");
        }
        assert_eq!(hex_digits(0), 1);
    }

    #[test]
    fn status_bodies() {
        for (code, text) in [
            (400, "Bad Request"),
            (403, "Forbidden"),
            (404, "Not Found"),
            (405, "Method Not Allowed"),
            (408, "Request Timeout"),
            (413, "Content Too Large"),
            (414, "URI Too Long"),
            (415, "Unsupported Media Type"),
            (417, "Expectation Failed"),
            (431, "Request Header Fields Too Large"),
            (501, "Not Implemented"),
            (503, "Service Unavailable"),
            (505, "HTTP Version Not Supported"),
        ] {
            assert_eq!(status_body(code), format!("{code} {text}\n").as_bytes());
        }
        for code in [0, 200, 401, 411, 500, 999, 1400, 5050, u16::MAX] {
            assert_eq!(status_body(code), b"500 Internal Server Error\n", "{code}");
        }
    }

    /// A 304 repeats the 200 head's validator lines: the head's tail, as
    /// the lines were written one by one before (`Vary` only with a twin,
    /// and never in a server built without gzip).
    #[test]
    fn validators_are_the_heads_tail() {
        use crate::http::features::AllFeatures;
        struct NoGzip;
        impl HttpFeatures for NoGzip {
            const MULTIPART: bool = true;
            const URLENCODED: bool = true;
            const KEEP_ALIVE: bool = true;
            const GZIP: bool = false;
            const CONTINUE: bool = true;
            const ETAG: bool = true;
            const CHUNKED: bool = true;
        }
        const fn rep(head: &'static [u8]) -> Representation {
            Representation {
                head: Summed::new(head),
                body: Summed::new(b"x"),
            }
        }
        const PLAIN: Representation = rep(b"HTTP/1.1 200 OK\r\nContent-Type: text/css\r\nContent-Length: 1\r\nETag: \"0123456789abcdef\"\r\nCache-Control: no-cache\r\nVary: Accept-Encoding\r\n");
        const TWIN: Representation = rep(b"HTTP/1.1 200 OK\r\nContent-Type: text/css\r\nContent-Length: 1\r\nContent-Encoding: gzip\r\nETag: \"fedcba9876543210\"\r\nCache-Control: no-cache\r\nVary: Accept-Encoding\r\n");
        const ALONE: Representation = rep(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1\r\nETag: \"eeeeeeeeeeeeeeee\"\r\nCache-Control: no-cache\r\n");
        // The ETags, read from the heads.
        assert_eq!(PLAIN.etag(true), Some(&b"\"0123456789abcdef\""[..]));
        assert_eq!(TWIN.etag(true), Some(&b"\"fedcba9876543210\""[..]));
        assert_eq!(ALONE.etag(false), Some(&b"\"eeeeeeeeeeeeeeee\""[..]));
        let file = |plain, gzip| File {
            path_at: 0,
            path_len: 1,
            body: Body::Static { plain, gzip },
            form: File::NO_FORM,
        };
        let (twins, alone) = (file(PLAIN, Some(&TWIN)), file(ALONE, None));
        // What the 304 said, line by line, before.
        let lines = |etag: &[u8], vary: bool| {
            let mut v = [b"ETag: ", etag, b"\r\nCache-Control: no-cache\r\n"].concat();
            if vary {
                v.extend_from_slice(b"Vary: Accept-Encoding\r\n");
            }
            v
        };
        assert_eq!(
            validators::<AllFeatures>(&twins, false),
            lines(b"\"0123456789abcdef\"", true)
        );
        assert_eq!(
            validators::<AllFeatures>(&twins, true),
            lines(b"\"fedcba9876543210\"", true)
        );
        assert_eq!(
            validators::<AllFeatures>(&alone, false),
            lines(b"\"eeeeeeeeeeeeeeee\"", false)
        );
        assert_eq!(
            validators::<NoGzip>(&twins, false),
            lines(b"\"0123456789abcdef\"", false)
        );
        assert_eq!(
            validators::<NoGzip>(&alone, false),
            lines(b"\"eeeeeeeeeeeeeeee\"", false)
        );
        // A dynamic page has none; a head too short for its lines gives
        // nothing rather than a panic.
        let short = file(rep(b"ETag"), None);
        assert_eq!(rep(b"ETag").etag(false), None);
        assert_eq!(validators::<AllFeatures>(&short, false), b"");
    }

    /// A slot keeps its place, tag and escaping in 4 bytes; a walk from
    /// slot `k` starts at the previous tag's place with the tags from `k`.
    #[test]
    fn slots_keep_their_place_tag_and_escaping() {
        use crate::http::{Escape, TagId};
        assert_eq!(core::mem::size_of::<TagSlot>(), 4);
        for (id, e) in [
            (0, Escape::Html),
            (1, Escape::Json),
            (0x3fff, Escape::Raw),
            (77, Escape::Json),
        ] {
            let s = TagSlot::new(65_535, TagId(id), e);
            assert_eq!((s.at(), s.tag(), s.escape()), (65_535, TagId(id), e));
        }
        // `{{0}}ab{{1}}{{2}}c`: an empty piece first, one between two tags.
        static TAGS: [TagSlot; 3] = [
            TagSlot::new(0, TagId(0), Escape::Html),
            TagSlot::new(2, TagId(1), Escape::Raw),
            TagSlot::new(2, TagId(2), Escape::Json),
        ];
        for (k, from) in [(0u16, 0usize), (1, 0), (2, 2), (3, 2)] {
            let (at, rest) = from_slot(&TAGS, k);
            assert_eq!((at, rest), (from, &TAGS[usize::from(k)..]), "from {k}");
        }
        assert_eq!(from_slot(&[], 0), (0, &[][..]));
    }

    /// A close-delimited page: its end is known once the window has
    /// passed its last piece — at once when the page ends with a tag and
    /// the window ends right after it (an empty last piece is no piece),
    /// not before its last text when the window ends ahead of it.
    #[test]
    fn the_end_is_known_when_the_last_piece_is_produced() {
        use crate::http::features::AllFeatures;
        use crate::http::{Escape, TagId};
        struct Fixed(usize);
        impl HttpApp for Fixed {
            fn tag(&mut self, _: TagId, out: &mut TagOut<'_>) {
                self.0 += 1;
                out.write_str("12345");
            }
        }
        static TAGS: [TagSlot; 1] = [TagSlot::new(3, TagId(0), Escape::Raw)];
        static FILES: [File; 2] = [
            File {
                path_at: 0,
                path_len: 2,
                body: Body::Dynamic {
                    head: Summed::new(b"H\r\n"),
                    text: b"abc",
                    tags: &TAGS,
                },
                form: File::NO_FORM,
            },
            File {
                path_at: 2,
                path_len: 2,
                body: Body::Dynamic {
                    head: Summed::new(b"H\r\n"),
                    text: b"abcdef",
                    tags: &TAGS,
                },
                form: File::NO_FORM,
            },
        ];
        let site = Site {
            files: &FILES,
            paths: "/a/b",
            tags: "t",
            forms: "",
        };
        for (file, tail) in [(0u16, 0usize), (1, 3)] {
            let mut r = Resp {
                flags: pf::CLOSE,
                ..Resp::default()
            };
            r.set::<AllFeatures>(Kind::Dynamic { file }, 200, Framing::Close, &site);
            let head = r.head_len as usize;
            let (mut journal, mut app, mut sink) = ([0u8; 64], Fixed(0), Calls::default());
            // Up to the end of the tag.
            r.produce::<AllFeatures, _>(0, head + 3 + 5, &mut sink, &site, &mut journal, &mut app);
            let whole = (head + 3 + 5 + tail) as u32;
            assert_eq!(
                r.end,
                if tail == 0 { Some(whole) } else { None },
                "file {file}"
            );
            r.produce::<AllFeatures, _>(head + 8, 100, &mut sink, &site, &mut journal, &mut app);
            assert_eq!((r.end, app.0), (Some(whole), 1), "file {file}");
            let b = bytes(&sink);
            assert!(b.ends_with(if tail == 0 {
                &b"abc12345"[..]
            } else {
                b"abc12345def"
            }));
        }
    }

    /// Tag and form names from their space-separated lists.
    #[test]
    fn names_by_number() {
        use crate::http::{FormId, TagId};
        let site = Site {
            files: &[],
            paths: "",
            tags: "device_name dhcp uptime_secs",
            forms: "settings",
        };
        let tags: std::vec::Vec<_> = (0..4).map(|i| site.tag_name(TagId(i))).collect();
        assert_eq!(
            tags,
            [Some("device_name"), Some("dhcp"), Some("uptime_secs"), None]
        );
        assert_eq!(site.form_name(FormId(0)), Some("settings"));
        assert_eq!(site.form_name(FormId(1)), None);
        let none = Site {
            files: &[],
            paths: "",
            tags: "",
            forms: "",
        };
        assert_eq!(
            (none.tag_name(TagId(0)), none.form_name(FormId(0))),
            (None, None)
        );
    }

    #[test]
    fn piece_sum_is_the_checksum_of_the_pieces_in_order() {
        use proptest::prelude::*;
        proptest!(|(pieces in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..12), 0..40))| {
            let mut ps = PieceSum::default();
            let mut all = std::vec::Vec::new();
            for p in &pieces {
                ps.add(p);
                all.extend_from_slice(p);
            }
            let mut c = Checksum::new();
            c.add_bytes(&all);
            prop_assert_eq!(ps.fold(), c.fold());
        });
        // Sums that wrap 16 bits many times, odd and even starts.
        let mut ps = PieceSum::default();
        let mut c = Checksum::new();
        for n in 0..300u32 {
            let p = [0xff; 7];
            let p = &p[..(n % 8) as usize];
            ps.add(p);
            c.add_bytes(p);
        }
        assert_eq!(ps.fold(), c.fold());
        // The largest page: 65,535 bytes of text and 4,096 of tags, all
        // ones, in pieces of every length and parity.
        let mut ps = PieceSum::default();
        let mut c = Checksum::new();
        let ones = [0xff; 4096];
        let mut left = 65_535 + 4_096;
        for n in (1..=4096).cycle() {
            let p = &ones[..n.min(left)];
            ps.add(p);
            c.add_bytes(p);
            left -= p.len();
            if left == 0 {
                break;
            }
        }
        assert_eq!(ps.fold(), c.fold());
    }

    /// What a sink was given, write by write.
    #[derive(Default)]
    struct Calls(std::vec::Vec<(&'static str, std::vec::Vec<u8>)>);
    impl PayloadSink for Calls {
        fn write(&mut self, bytes: &[u8]) {
            self.0.push(("write", bytes.to_vec()));
        }
        fn write_from_rx(&mut self, _: usize, _: usize) {
            self.0.push(("rx", std::vec::Vec::new()));
        }
        fn write_summed(&mut self, piece: Summed) {
            self.0.push(("summed", piece.bytes.to_vec()));
        }
    }

    /// Writes the pieces through a window `[at, at + max)`, gathering or
    /// not, and returns what the sink saw.
    fn through_window(gather: bool, at: usize, max: usize) -> Calls {
        let long = [b'x'; GATHER + 1];
        let full = [b'y'; GATHER];
        let mut calls = Calls::default();
        {
            let mut w = Window::new(&mut calls, at, max);
            if gather {
                w.gather();
            }
            w.piece(b"ab");
            w.piece(b"c");
            w.summed(Summed::new(b"SUM"));
            w.piece(b"d");
            w.piece(&long); // longer than the buffer: written as it is
            w.piece(&full); // exactly the buffer
            w.piece(b"e"); // does not fit behind it
            w.piece(b"tail"); // left for the drop
        }
        calls
    }

    fn bytes(c: &Calls) -> std::vec::Vec<u8> {
        c.0.iter().flat_map(|(_, b)| b.iter().copied()).collect()
    }

    #[test]
    fn gathering_keeps_the_bytes_and_their_order() {
        let long = [b'x'; GATHER + 1];
        let full = [b'y'; GATHER];
        let c = through_window(true, 0, usize::MAX);
        let seen: std::vec::Vec<(&str, &[u8])> =
            c.0.iter().map(|(k, b)| (*k, b.as_slice())).collect();
        assert_eq!(
            seen,
            [
                ("write", &b"abc"[..]),
                ("summed", b"SUM"),
                ("write", b"d"),
                ("write", &long[..]),
                ("write", &full[..]),
                ("write", b"etail"),
            ]
        );
        // Any window of the pieces: the same bytes as without gathering.
        for (at, max) in [(0, 3), (1, 4), (5, 70), (6, 200), (70, 64), (140, 9)] {
            assert_eq!(
                bytes(&through_window(true, at, max)),
                bytes(&through_window(false, at, max)),
                "window {at}+{max}"
            );
        }
    }
}
