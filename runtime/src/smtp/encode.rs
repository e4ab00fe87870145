//! The body encoders: the text part (line ends, dot-stuffing, line
//! length) with the snapshots that let it restart at any segment, and the
//! attachment as base64 lines.

use super::{Outgoing, Part};
use crate::iface::PayloadSink;
use crate::mail::{put_base64, Window};

/// The text encoder's state at one offset of the text part; restarting
/// from it gives the same bytes as the first time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Offset in the encoded text part.
    pub(super) wire: u32,
    /// Position in the application's text.
    src: u32,
    /// Column in the current line.
    col: u16,
    flags: u8,
}

/// `Snapshot::flags`.
pub(super) mod snap {
    pub const VALID: u8 = 1;
    pub const LINE_START: u8 = 2;
    /// The LF of a CR LF is still to be written.
    pub const LF: u8 = 4;
    /// The second dot of a stuffed line start is still to be written.
    pub const DOT: u8 = 8;
}

impl crate::table::EmptySlot for Snapshot {
    const EMPTY: Self = Snapshot {
        wire: 0,
        src: 0,
        col: 0,
        flags: 0,
    };
}

impl Snapshot {
    pub(super) const START: Snapshot = Snapshot {
        wire: 0,
        src: 0,
        col: 0,
        flags: snap::VALID | snap::LINE_START,
    };

    pub(super) fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    fn set(&mut self, f: u8, on: bool) {
        // One store either way (no branch on `on`).
        self.flags = (self.flags & !f) | if on { f } else { 0 };
    }
}

/// Longest line RFC 5321 §4.5.3.1.6 allows, without CR LF.
const MAX_LINE: u16 = 998;
/// Base64 attachment: source bytes and characters per line.
const B64_IN: u32 = 57;
const B64_OUT: u32 = 76;
/// A base64 line with its CR LF.
const B64_LINE: u32 = B64_OUT + 2;

/// Encodes text from `st` into `out`: CR dropped, LF → CR LF, a dot at a
/// line start doubled, a line reaching 998 bytes broken. Returns the bytes
/// written and whether the text has ended (nothing pending, nothing left).
pub(super) fn encode_text<M: Outgoing>(
    st: &mut Snapshot,
    message: &mut M,
    out: &mut [u8],
) -> (usize, bool) {
    // Bounds for the wrapping arithmetic below: `n < out.len()` in the
    // loop; `at` counts the loop's passes; `col` stays at most
    // `MAX_LINE` (a line is broken there, before the column grows).
    let mut n = 0usize;
    let mut chunk = [0u8; 64];
    let mut have = 0usize;
    let mut at = 0usize;
    let mut ended = false;
    while n < out.len() {
        let emit = if st.has(snap::LF) {
            st.set(snap::LF, false);
            st.set(snap::LINE_START, true);
            st.col = 0;
            b'\n'
        } else if st.has(snap::DOT) {
            st.set(snap::DOT, false);
            st.col = st.col.wrapping_add(1);
            b'.'
        } else {
            if at >= have {
                let room = out.len().wrapping_sub(n).clamp(1, chunk.len());
                have = message.read(Part::Text, st.src, chunk.get_mut(..room).unwrap_or(&mut []));
                at = 0;
                if have == 0 {
                    ended = true;
                    break;
                }
            }
            let b = chunk.get(at).copied().unwrap_or(b'\n');
            if b == b'\r' {
                st.src = st.src.wrapping_add(1);
                at = at.wrapping_add(1);
                continue;
            }
            if b == b'\n' || st.col >= MAX_LINE {
                // A line end, or a line broken before the byte (which
                // comes after the CR LF).
                if b == b'\n' {
                    st.src = st.src.wrapping_add(1);
                    at = at.wrapping_add(1);
                }
                st.set(snap::LF, true);
                b'\r'
            } else {
                st.src = st.src.wrapping_add(1);
                at = at.wrapping_add(1);
                // A dot at a line start is doubled (DOT is clear here).
                st.set(snap::DOT, b == b'.' && st.has(snap::LINE_START));
                st.set(snap::LINE_START, false);
                st.col = st.col.wrapping_add(1);
                b
            }
        };
        if let Some(o) = out.get_mut(n) {
            *o = emit;
        }
        n = n.wrapping_add(1);
    }
    st.wire = st.wire.wrapping_add(u32::try_from(n).unwrap_or(0));
    (n, ended)
}

/// The base64 attachment from its offset `k`: line `k / 78` encodes bytes
/// `57 × line ..` and ends with CR LF. Returns the bytes written and, once
/// seen, the part's length *without* its last CR LF: those two bytes are
/// the trailer's first ones (the part ends with CR LF either way), so
/// every line is written alike and no line needs to know whether another
/// follows (README, Decisions: the mail clients' footprint). One read
/// per line: a read shorter than asked ends the part
/// ([`Outgoing::read`]).
pub(super) fn base64_part<M: Outgoing>(
    k: u32,
    max: usize,
    sink: &mut dyn PayloadSink,
    message: &mut M,
) -> (usize, Option<u32>) {
    // Bounds: `k` and the lines' starts stay below 2^31 and a segment
    // (`tcp_produce` asks for no offset from 2^31 on); the window
    // generates at most `max` + 2 lines, far below 2^32 bytes.
    let mut line = super::mime::div(k, B64_LINE);
    let mut w = Window::new(
        sink,
        k.wrapping_sub(line.wrapping_mul(B64_LINE)) as usize,
        max,
    );
    loop {
        let start = line.wrapping_mul(B64_LINE);
        let mut raw = [0u8; B64_IN as usize];
        let n = message.read(Part::Attachment, line.wrapping_mul(B64_IN), &mut raw);
        if n == 0 {
            // Empty, or the line before was whole and the last: its
            // CR LF is the trailer's.
            return (
                max.wrapping_sub(w.remaining()),
                Some(start.saturating_sub(2)),
            );
        }
        let before = w.pos;
        put_base64(&mut w, raw.get(..n).unwrap_or(&[]));
        let chars = w.pos.wrapping_sub(before) as u32; // <= 76
        w.put(b"\r\n");
        let written = max.wrapping_sub(w.remaining());
        // A short line is the last.
        if n < raw.len() {
            return (written, Some(start.wrapping_add(chars)));
        }
        if w.remaining() == 0 {
            return (written, None);
        }
        line = line.wrapping_add(1);
    }
}
