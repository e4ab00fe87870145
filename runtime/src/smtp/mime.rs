//! The message (RFC 5322 headers, a MIME multipart/mixed body: RFC
//! 2045–2049), produced by stream offset: the headers and part headers are
//! regenerated, the text part restarts from the nearest encoder snapshot,
//! the attachment's base64 is a function of the position.

use super::encode::{base64_part, encode_text, snap, Snapshot};
use super::reply::cap;
use super::{Attachment, Outgoing, SmtpClient, SmtpSettings};
use crate::config::Table;
use crate::iface::PayloadSink;
use crate::mail::{
    byte_set, command_byte, domain_of, put_base64, put_base64_parts, ByteSet, Window,
};

/// What the message generator needs besides the application.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Meta {
    pub(super) id: u64,
    pub(super) date: Option<u64>,
}

impl<S: SmtpSettings> SmtpClient<S> {
    pub(super) fn begin_message<M: Outgoing>(&mut self, message: &M) {
        self.has_attachment = S::ATTACHMENT && message.attachment().is_some();
        let mut w = Window::counter();
        self.head(&mut w, message);
        self.head_len = u32::try_from(w.pos).unwrap_or(u32::MAX);
        self.text_end = UNKNOWN;
        self.att_end = UNKNOWN;
        // An empty table: the text's start goes in when the text is
        // first produced (`produce_text` at its offset 0 restarts from
        // the cursor and keeps it), before any later offset can be
        // asked for (the stack produces the stream in order; it goes
        // back only to what it has produced).
        for s in self.snapshots.slots_mut() {
            *s = Snapshot::default();
        }
        self.cursor = Snapshot::START;
    }

    /// The message's length, once the last part's end is known.
    pub(super) fn message_len(&self) -> Option<u32> {
        // The attachment's end is known only after the text's.
        let end = if S::ATTACHMENT && self.has_attachment {
            self.att_end
        } else {
            self.text_end
        };
        // A known end is below 2^31 and a segment (see UNKNOWN).
        (end != UNKNOWN).then_some(end.wrapping_add(TRAILER_LEN))
    }

    /// Keeps `st` for a later retransmission, in the first free slot or
    /// else in the oldest's (the lowest offset). That also drops what the
    /// stack can no longer ask for, so nothing is freed on an
    /// acknowledgement: the stack goes back at most to the acknowledged
    /// offset, and the latest snapshot at or before it is newer than every
    /// one evicted before it.
    fn push_snapshot(&mut self, st: Snapshot) {
        // Plain loops: the iterator adapters were larger.
        let slots = self.snapshots.slots_mut();
        let mut free = None;
        let mut oldest: Option<(usize, u32)> = None;
        for (i, s) in slots.iter().enumerate() {
            if !s.has(snap::VALID) {
                free = free.or(Some(i));
            } else if s.wire == st.wire {
                return; // kept already
            } else if oldest.is_none_or(|(_, w)| s.wire < w) {
                oldest = Some((i, s.wire));
            }
        }
        if let Some(s) = free
            .or(oldest.map(|(i, _)| i))
            .and_then(|i| slots.get_mut(i))
        {
            *s = st;
        }
    }

    /// Message bytes from offset `rel` (after DATA's `354`), at most
    /// `max`, into `sink`: the same offset always gives the same bytes.
    pub(super) fn produce_message<M: Outgoing>(
        &mut self,
        rel: u32,
        max: usize,
        sink: &mut dyn PayloadSink,
        message: &mut M,
    ) {
        let mut pos = rel;
        let mut left = max;
        // Each step writes from one part (and may learn where it ends);
        // a handful of steps fill any segment.
        let mut guard = 0u32;
        while left > 0 && guard < 64 {
            guard = guard.wrapping_add(1); // < 64
            let Some(n) = self.produce_step(pos, left, sink, message) else {
                return;
            };
            // n <= left (each step writes at most `left`); `pos` stays
            // below 2^31 + one segment (tcp_produce: rel <= u32::MAX / 2).
            pos = pos.wrapping_add(n as u32);
            left = left.wrapping_sub(n);
        }
    }

    /// Writes at most `left` bytes from message offset `pos`, from the
    /// part it lies in: the head, the text, the attachment's part headers,
    /// its base64, the trailer. `None` once the message has ended (or the
    /// text cannot be regenerated: the stack then resets).
    // Left to LLVM (which keeps it out of line): `#[inline(never)]` cost
    // 4 B on the merged tree (inline9).
    fn produce_step<M: Outgoing>(
        &mut self,
        pos: u32,
        left: usize,
        sink: &mut dyn PayloadSink,
        message: &mut M,
    ) -> Option<usize> {
        // The head, the attachment's part headers and the trailer are
        // templates: find which one `pos` is in and where it starts.
        let (template, start) = if pos < self.head_len {
            (HEAD, 0)
        } else if pos < self.text_end {
            // (Also while the end is UNKNOWN: `pos` is below it.)
            return self.produce_text(pos, left, sink, message);
        } else {
            let text_end = self.text_end;
            if S::ATTACHMENT && self.has_attachment {
                let mut w = Window::counter();
                self.middle(&mut w, message);
                // Ends are below 2^31 and a segment; the part headers
                // are a few hundred bytes: no wrap.
                let att_start = text_end.wrapping_add(u32::try_from(w.pos).unwrap_or(0));
                if pos < att_start {
                    (MIDDLE, text_end)
                } else if pos < self.att_end {
                    let (n, end) = base64_part(pos.wrapping_sub(att_start), left, sink, message);
                    if let Some(e) = end {
                        self.att_end = att_start.wrapping_add(e); // `pos` < 2^31 + a segment
                    }
                    return Some(n);
                } else {
                    (TRAILER, self.att_end)
                }
            } else {
                (TRAILER, text_end)
            }
        };
        // pos >= start (in or past that part); remaining <= left. A
        // template at `pos` before its end writes at least a byte.
        let mut w = Window::new(sink, pos.wrapping_sub(start) as usize, left);
        self.put_template(&mut w, template, message);
        let n = left.wrapping_sub(w.remaining());
        (n > 0).then_some(n)
    }

    /// The text part from message offset `pos`: the encoder restarts at
    /// the latest state at or before it (the cursor's or a snapshot's),
    /// encodes forward to it without writing (the rewind), keeps a
    /// snapshot there, and writes until `left` bytes are written or the
    /// text ends, which fixes `text_end`. `None` when no state reaches
    /// `pos`. One encoder loop for both (README, Decisions: the mail
    /// clients' footprint).
    fn produce_text<M: Outgoing>(
        &mut self,
        pos: u32,
        left: usize,
        sink: &mut dyn PayloadSink,
        message: &mut M,
    ) -> Option<usize> {
        // pos >= head_len.
        let target = pos.wrapping_sub(self.head_len);
        // The latest valid state at or before `target` (a plain loop: the
        // iterator chain was 248 B more).
        let usable = |s: &Snapshot| s.has(snap::VALID) && s.wire <= target;
        let mut best = Some(self.cursor).filter(usable);
        for s in self.snapshots.slots() {
            if usable(s) && best.is_none_or(|b| s.wire > b.wire) {
                best = Some(*s);
            }
        }
        let mut st = best?;
        let mut buf = [0u8; 128];
        let mut written = 0usize;
        while written < left {
            // Before `target` the bytes are only counted; from there on
            // they are written (written < left). Saturating: once writing,
            // `st.wire` is past `target` and nothing is behind (a wrapping
            // difference made every pass after the first count the rest of
            // the text as behind, so each call wrote 128 bytes of text and
            // encoded the whole rest of it again, O(text) per segment).
            let behind = target.saturating_sub(st.wire) as usize;
            if behind == 0 && written == 0 {
                self.push_snapshot(st); // once: later passes have written
            }
            let room = if behind > 0 {
                behind
            } else {
                left.wrapping_sub(written)
            }
            .min(buf.len());
            let out = buf.get_mut(..room)?;
            let (n, end) = encode_text(&mut st, message, out);
            if behind > 0 {
                self.stats.regenerated = self
                    .stats
                    .regenerated
                    .saturating_add(u32::try_from(n).unwrap_or(0));
                if n == 0 || end {
                    return None; // the text ends before `target`
                }
                continue;
            }
            sink.write(out.get(..n).unwrap_or(&[]));
            written = written.wrapping_add(n); // n <= room: written <= left
            if end {
                self.text_end = self.head_len.wrapping_add(st.wire); // = pos + written
            }
            if end || n == 0 {
                break;
            }
        }
        self.cursor = st;
        Some(written)
    }

    /// Headers, the preamble and the text part's own headers.
    pub(super) fn head<M: Outgoing>(&self, w: &mut Window<'_>, message: &M) {
        self.put_template(w, HEAD, message);
    }

    /// Between the text and the attachment: its part headers.
    fn middle<M: Outgoing>(&self, w: &mut Window<'_>, message: &M) {
        self.put_template(w, MIDDLE, message);
    }

    /// Writes `template`: its text, and each field's value where its code
    /// stands (see [`field`]). The commands and the message's headers
    /// alike: one walker and one field writer.
    pub(super) fn put_template<M: Outgoing>(
        &self,
        w: &mut Window<'_>,
        template: &[u8],
        message: &M,
    ) {
        // Byte by byte: smaller than finding the runs between the codes.
        for b in template {
            if b & field::BIT != 0 {
                self.put_field(w, *b, message);
            } else {
                w.put(core::slice::from_ref(b));
            }
        }
    }

    /// The value of field `code` (a [`field`] constant). Out of line:
    /// inlined, the template walk around it was larger.
    #[inline(never)]
    fn put_field<M: Outgoing>(&self, w: &mut Window<'_>, code: u8, message: &M) {
        // Most fields are a string through a filter: one call for them.
        let (text, keep) = match code {
            field::FROM => (message.from(), &HEADER),
            field::TO => {
                let mut i = 0usize;
                while let Some(to) = message.to(i) {
                    if i > 0 {
                        w.put(b",\r\n ");
                    }
                    w.put_filtered(to.as_bytes(), &HEADER);
                    i = i.wrapping_add(1); // counts recipients
                }
                return;
            }
            field::SUBJECT if S::ENCODED_SUBJECT => {
                return put_subject(w, message.subject().as_bytes())
            }
            // `send` refused a non-ASCII subject; one that became so since
            // loses those bytes.
            field::SUBJECT => (message.subject(), &ASCII_HEADER),
            field::DATE => {
                if let Some(t) = self.meta.date {
                    put_date(w, t);
                }
                return;
            }
            field::ID => return w.put_hex(self.meta.id),
            field::HELO => match S::HELO {
                Some(name) => (name, &super::ADDRESS),
                None => {
                    // `[a.b.c.d]`: each octet with the byte after it.
                    w.put(b"[");
                    for (o, after) in self.link.local.0.iter().zip(b"...]") {
                        w.put_u64(u64::from(*o));
                        w.put(core::slice::from_ref(after));
                    }
                    return;
                }
            },
            // Built only with `auth` (no AUTH step is reached without).
            field::PLAIN | field::USER | field::PASSWORD if S::AUTH => {
                let (user, password) = Self::credentials(message).unwrap_or(("", ""));
                match code {
                    // RFC 4616: [authzid] NUL authcid NUL passwd, as the
                    // initial response (RFC 4954 §4), one round trip.
                    field::PLAIN => {
                        put_base64_parts(w, &[b"\0", user.as_bytes(), b"\0", password.as_bytes()])
                    }
                    field::USER => put_base64(w, user.as_bytes()),
                    _ => put_base64(w, password.as_bytes()),
                }
                return;
            }
            field::MAIL_FROM => (message.from(), &super::ADDRESS),
            field::RCPT => (
                message.to(usize::from(self.rcpt)).unwrap_or(""),
                &super::ADDRESS,
            ),
            field::BODY => {
                if self.caps & cap::EIGHT_BIT != 0 {
                    w.put(b" BODY=8BITMIME");
                }
                return;
            }
            field::DOMAIN => (
                domain_of(message.from()).unwrap_or("emberstack.invalid"),
                &DOMAIN,
            ),
            field::TYPE | field::NAME => {
                let a = message.attachment().unwrap_or(Attachment {
                    file_name: "attachment",
                    content_type: "application/octet-stream",
                });
                if code == field::TYPE {
                    (a.content_type, &TYPE)
                } else {
                    (a.file_name, &NAME)
                }
            }
            _ => return,
        };
        w.put_filtered(text.as_bytes(), keep);
    }
}

/// The fields of the header templates: a code (a control byte no
/// template's text contains; TAB, LF and CR are above them) stands where
/// the value goes. One walker and one match instead of a call per piece
/// of text (README, Decisions: the mail clients' footprint).
pub(super) mod field {
    pub const FROM: u8 = 0x81;
    pub const TO: u8 = 0x82;
    pub const SUBJECT: u8 = 0x83;
    /// The whole `Date:` line, when the time is known.
    pub const DATE: u8 = 0x84;
    /// The random id in 16 hex digits (Message-ID, boundary).
    pub const ID: u8 = 0x85;
    /// The sender's domain (Message-ID).
    pub const DOMAIN: u8 = 0x86;
    /// The attachment's content type.
    pub const TYPE: u8 = 0x87;
    /// The attachment's file name.
    pub const NAME: u8 = 0x88;
    /// The EHLO/HELO name (or our address as a literal).
    pub const HELO: u8 = 0x89;
    /// AUTH PLAIN's initial response, AUTH LOGIN's user name and
    /// password, in base64.
    pub const PLAIN: u8 = 0x8a;
    pub const USER: u8 = 0x8b;
    pub const PASSWORD: u8 = 0x8c;
    /// The sender's and the current recipient's address (in brackets).
    pub const MAIL_FROM: u8 = 0x8d;
    pub const RCPT: u8 = 0x8e;
    /// ` BODY=8BITMIME` when the server offers it.
    pub const BODY: u8 = 0x8f;
    /// Codes have this bit (template text is ASCII).
    pub const BIT: u8 = 0x80;
}

/// A part's end not known yet (`text_end`, `att_end`): above every real
/// one, which is below 2^31 and a segment (`tcp_produce` asks for no
/// offset from 2^31 on), so "before the end" is one compare either way.
pub(super) const UNKNOWN: u32 = u32::MAX;

/// The message's headers, the preamble and the text part's headers.
const HEAD: &[u8] = b"From: \x81\r\nTo: \x82\r\nSubject: \x83\r\n\x84\
    Message-ID: <\x85.ember@\x86>\r\n\
    MIME-Version: 1.0\r\n\
    Content-Type: multipart/mixed; boundary=\"=_ember_\x85\"\r\n\r\n\
    This is a multi-part message in MIME format.\r\n\
    --=_ember_\x85\r\n\
    Content-Type: text/plain; charset=utf-8\r\n\
    Content-Transfer-Encoding: 8bit\r\n\r\n";

/// Between the text and the attachment: its part headers.
const MIDDLE: &[u8] = b"\r\n--=_ember_\x85\r\n\
    Content-Type: \x87; name=\"\x88\"\r\n\
    Content-Disposition: attachment; filename=\"\x88\"\r\n\
    Content-Transfer-Encoding: base64\r\n\r\n";

/// The closing boundary and the end of DATA.
const TRAILER: &[u8] = b"\r\n--=_ember_\x85--\r\n.\r\n";

/// The trailer's length: its text and the 16 hex digits for its one
/// field.
const TRAILER_LEN: u32 = TRAILER.len() as u32 - 1 + 16;

/// A byte allowed in a header value: no controls (CR LF would end the
/// header and start a forged one), UTF-8 kept.
pub(super) const fn header_byte(b: u8) -> bool {
    b == b'\t' || command_byte(b)
}

/// A byte allowed in a quoted file name: a header byte, no quote or
/// backslash.
pub(super) const fn name_byte(b: u8) -> bool {
    command_byte(b) && !matches!(b, b'"' | b'\\')
}

/// A byte allowed in a MIME type: a token with its `/`, nothing that
/// ends it.
pub(super) const fn type_byte(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b'"' | b';' | b'\\' | b',')
}

/// A byte allowed in a domain (or an address literal).
pub(super) const fn domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']')
}

/// [`header_byte`] as a set. The filters are [`ByteSet`]s built at
/// compile time from the rules above; a unit test checks every byte.
pub(super) const HEADER: ByteSet = byte_set!(b => header_byte(b));
/// A subject when `encoded_subject` is off: ASCII header bytes.
pub(super) const ASCII_HEADER: ByteSet = byte_set!(b => b < 0x80 && header_byte(b));
/// [`name_byte`] as a set.
pub(super) const NAME: ByteSet = byte_set!(b => name_byte(b));
/// [`type_byte`] as a set.
pub(super) const TYPE: ByteSet = byte_set!(b => type_byte(b));
/// [`domain_byte`] as a set.
pub(super) const DOMAIN: ByteSet = byte_set!(b => domain_byte(b));

/// The subject as is when ASCII, otherwise as RFC 2047 "B" encoded words
/// of at most 45 bytes (60 characters, whole UTF-8 characters each) on
/// folded lines.
pub(super) fn put_subject(w: &mut Window<'_>, subject: &[u8]) {
    if subject.iter().all(|&b| b < 0x80) {
        w.put_filtered(subject, &HEADER);
        return;
    }
    let mut rest = subject;
    let mut first = true;
    while !rest.is_empty() {
        let mut n = rest.len().min(45);
        // Do not split a UTF-8 character (continuation bytes are 10xxxxxx).
        while n > 1 && n < rest.len() && rest.get(n).is_some_and(|b| b & 0xc0 == 0x80) {
            n = n.wrapping_sub(1); // n > 1
        }
        let (word, tail) = rest.split_at(n);
        if !first {
            w.put(b"\r\n ");
        }
        w.put(b"=?utf-8?B?");
        put_base64(w, word);
        w.put(b"?=");
        rest = tail;
        first = false;
    }
}

/// The latest time [`put_date`] writes as itself: 2^39 − 1 s, in the
/// year 19391. Up to it the day count is a 32-bit quotient (`unix >> 7`
/// fits 32 bits; 86,400 = 2^7 × 675), so no 64-bit division is linked;
/// a later time (nonsense from a clock) is written as this one.
pub(super) const LAST_DATE: u64 = (1 << 39) - 1;

/// The `Date:` header line: `Date: Thu, 01 Jan 1970 00:00:00 +0000`
/// and CR LF, the RFC 5322 date in UTC, in 32-bit arithmetic (see
/// [`LAST_DATE`]). The line is a picture walked
/// byte by byte: a code below 7 stands for a field's value, so the names
/// and numbers go through one call each rather than a call site per
/// field, and the line's name and end are in the picture too (README,
/// Decisions: the mail clients' footprint).
// Left to LLVM: `#[inline(never)]` cost 40 B on the merged tree
// (inline9). It was out of line because LLVM had hoisted the computation
// out of the template walk (done for every piece of every header); now
// it is inlined into `put_field`, inside the Date field's case of the
// jump table that starts it, so it runs only for that field.
pub(super) fn put_date(w: &mut Window<'_>, unix: u64) {
    // Three letters each, by index (days 0–6, months 7–18): one string
    // rather than a table of slices (8 bytes of flash per entry).
    const NAMES: &[u8; 57] = b"SunMonTueWedThuFriSatJanFebMarAprMayJunJulAugSepOctNovDec";
    // Codes: 0 the day's name, 1 the day, 2 the month's name, 3 the
    // year, 4–6 hours, minutes, seconds.
    const PICTURE: &[u8] = b"Date: \x00, \x01 \x02 \x03 \x04:\x05:\x06 +0000\r\n";
    let unix = unix.min(LAST_DATE);
    // unix = (days × 675 + r) × 128 + low, with r × 128 + low < 86,400.
    let units = (unix >> 7) as u32; // < 2^32: unix ≤ 2^39 − 1
    let low = (unix & 0x7f) as u32;
    let days = div(units, 675);
    let secs = units.wrapping_sub(days.wrapping_mul(675)) << 7 | low;
    let (y, m, d) = civil_from_days(days);
    // m is 1–12: the month's name is at 7 + m − 1.
    // secs < 86,400: hours, then minutes of the rest (two divisions).
    let hours = div(secs, 3600);
    let rest = secs.wrapping_sub(hours.wrapping_mul(3600)); // < 3600
    let minutes = div(rest, 60);
    let values = [
        rem(days.wrapping_add(4), 7), // days < 2^23
        d,
        m.wrapping_add(6),
        y,
        hours,
        minutes,
        rest.wrapping_sub(minutes.wrapping_mul(60)), // < 60
    ];
    for &c in PICTURE {
        match values.get(usize::from(c)) {
            None => w.put(&[c]),
            Some(&v) if c == 0 || c == 2 => {
                let at = (v as usize).wrapping_mul(3); // v < 19
                w.put(NAMES.get(at..at.wrapping_add(3)).unwrap_or(b"???"));
            }
            Some(&v) => {
                // Day, hour, minute, second: two digits; the year as is.
                if v < 10 && c != 3 {
                    w.put(b"0");
                }
                w.put_u64(u64::from(v));
            }
        }
    }
}

/// Days since 1970-01-01 → (year, month 1–12, day 1–31): Neri and
/// Schneider's Euclidean affine functions ("Euclidean affine functions and
/// their application to calendar algorithms", 2022) for the proleptic
/// Gregorian calendar, three divisions where the era/year-of-era form
/// needed nine (README, Decisions: the mail clients' footprint). Bounds:
/// `days` is at most 2^32 / 675 (see [`LAST_DATE`]), so `n1` stays
/// under 2^25; `n2` is below 146,100, so its product with 2,939,745
/// needs 64 bits (one multiply, no 64-bit division: its high word is the
/// year of the century, its low word the day of that year); `ny` is
/// below 366 and `n3` below 2^20. No operation wraps. The unit tests
/// compare every result with a 64-bit reference.
pub(super) fn civil_from_days(days: u32) -> (u32, u32, u32) {
    // Days since 0000-03-01 (the year starting in March, so that the
    // leap day is the year's last), as 4 × N + 3 for the centuries.
    let n1 = days.wrapping_add(719_468).wrapping_mul(4).wrapping_add(3);
    let century = div(n1, 146_097);
    // 4 × day of the century + 3.
    let n2 = n1.wrapping_sub(century.wrapping_mul(146_097)) | 3;
    let p2 = u64::from(n2).wrapping_mul(2_939_745);
    let year_of_century = (p2 >> 32) as u32;
    let ny = div(p2 as u32, 4 * 2_939_745); // day of the year, from March 1
    let n3 = ny.wrapping_mul(2141).wrapping_add(197_913);
    let m = n3 >> 16; // 3–14
    let d = div(n3 & 0xffff, 2141).wrapping_add(1);
    let y = century.wrapping_mul(100).wrapping_add(year_of_century);
    // January and February belong to the next civil year.
    if ny >= 306 {
        (y.wrapping_add(1), m.wrapping_sub(12), d)
    } else {
        (y, m, d)
    }
}

/// `n / d` by the divide instruction (Cortex-M3 has one), out of line:
/// the date's dozen divisions by constants and the attachment's line
/// arithmetic were each a multiply-and-shift sequence inline, larger than
/// a call (README, Decisions: the mail clients' footprint). Every caller
/// passes a nonzero constant `d`.
#[inline(never)]
pub(super) fn div(n: u32, d: u32) -> u32 {
    n.checked_div(d).unwrap_or(0)
}

/// `n % d` through [`div`].
pub(super) fn rem(n: u32, d: u32) -> u32 {
    n.wrapping_sub(div(n, d).wrapping_mul(d)) // div(n, d) * d <= n
}
