//! SMTP replies (RFC 5321 §4.2), read byte by byte as they arrive.

use crate::mail::ReplyText;

/// EHLO keywords the client uses.
pub(super) mod cap {
    pub const LOGIN: u8 = 1;
    pub const EIGHT_BIT: u8 = 2;
    pub const PLAIN: u8 = 4;
}

/// Where a token stands on its line: `LineScan::tok_at` (one byte
/// instead of a token count and an AUTH-line flag).
mod tok {
    /// The line's first token (the EHLO keyword).
    pub const FIRST: u8 = 0;
    /// A later token on an `AUTH` line (a mechanism).
    pub const AUTH_LINE: u8 = 1;
    /// A later token on another line.
    pub const OTHER_LINE: u8 = 2;
}

/// Reads SMTP replies byte by byte: `ddd-text` lines up to `ddd text`
/// (or a bare `ddd`), all with the same code; keeps the first line's text
/// and the EHLO keywords seen.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct ReplyParser {
    line: LineScan,
    /// The reply's code from its first line (0 before).
    first: u16,
    pub(super) text: ReplyText,
    /// `text` is a failure's: kept as it is.
    pub(super) keep_text: bool,
    /// The current token's last 8 bytes in upper case, the latest in
    /// the lowest byte (zeros before its first): a keyword is one
    /// compare of a word ([`keyword`]), not a slice compare per keyword.
    tok: [u8; 8],
    /// The token's length, up to 9 (longer than any keyword we know).
    tok_len: u8,
    pub(super) caps: u8,
}

/// What a reply line has shown so far: cleared together at its end (one
/// store rather than one per field).
#[derive(Clone, Copy, Debug, Default)]
struct LineScan {
    col: u16,
    code: u16,
    /// The line ends the reply (`ddd ` or a bare `ddd`).
    last: bool,
    bad: bool,
    /// Where the next token stands on the line (a [`tok`] constant).
    tok_at: u8,
}

impl ReplyParser {
    /// One byte; `Some(Ok(code))` when a reply is complete, `Some(Err)`
    /// for one that is not SMTP.
    pub(super) fn push(&mut self, b: u8) -> Option<Result<u16, ()>> {
        if self.line.col >= crate::mail::MAX_REPLY_LINE {
            // A failure's text survives (the reply to QUIT may be this).
            *self = ReplyParser {
                text: self.text,
                keep_text: self.keep_text,
                ..ReplyParser::default()
            };
            return Some(Err(()));
        }
        if b == b'\n' {
            self.end_token();
            let ok = !self.line.bad
                && self.line.col >= 3
                && (self.first == 0 || self.first == self.line.code);
            let done = self.line.last || self.line.col <= 4;
            if self.first == 0 {
                self.first = self.line.code;
                if !self.keep_text {
                    self.text.trim_end();
                }
            }
            let first = self.first;
            self.line = LineScan::default(); // tok::FIRST is 0
            if !ok {
                self.first = 0;
                return Some(Err(()));
            }
            if done {
                self.first = 0;
                return Some(Ok(first));
            }
            return None;
        }
        if self.line.col == 0 && self.first == 0 && !self.keep_text {
            self.text = ReplyText::EMPTY;
        }
        match self.line.col {
            0..=2 => match b {
                b'0'..=b'9' => {
                    // Three digits: below 1000.
                    self.line.code = self
                        .line
                        .code
                        .wrapping_mul(10)
                        .wrapping_add(u16::from(b.wrapping_sub(b'0')))
                }
                _ => self.line.bad = true,
            },
            3 => match b {
                b'-' => self.line.last = false,
                b' ' | b'\r' => self.line.last = true,
                _ => self.line.bad = true,
            },
            _ => {
                if self.first == 0 && b != b'\r' && !self.keep_text {
                    self.text.push(b);
                }
                // `AUTH=LOGIN`, the pre-RFC 4954 form some servers still
                // send: `=` ends the line's first token, so what follows
                // is read as an `AUTH` line's mechanisms.
                if b == b' ' || b == b'\r' || (b == b'=' && self.line.tok_at == tok::FIRST) {
                    self.end_token();
                } else if self.tok_len <= 8 {
                    let word = u64::from_le_bytes(self.tok) << 8;
                    self.tok = (word | u64::from(b.to_ascii_uppercase())).to_le_bytes();
                    self.tok_len = self.tok_len.wrapping_add(1); // <= 9
                }
            }
        }
        self.line.col = self.line.col.wrapping_add(1); // < MAX_REPLY_LINE (checked above)
        None
    }

    fn end_token(&mut self) {
        let word = u64::from_le_bytes(self.tok);
        let len = self.tok_len;
        self.tok = [0; 8];
        self.tok_len = 0;
        if len == 0 || len > 8 {
            return;
        }
        match self.line.tok_at {
            tok::FIRST => {
                self.line.tok_at = if word == keyword(b"AUTH") {
                    tok::AUTH_LINE
                } else {
                    tok::OTHER_LINE
                };
                if word == keyword(b"8BITMIME") {
                    self.caps |= cap::EIGHT_BIT;
                }
            }
            tok::AUTH_LINE if word == keyword(b"LOGIN") => self.caps |= cap::LOGIN,
            tok::AUTH_LINE if word == keyword(b"PLAIN") => self.caps |= cap::PLAIN,
            _ => {}
        }
    }
}

/// A keyword of up to 8 bytes as [`ReplyParser`] packs a token: its
/// last byte lowest, zeros above its first. Two different tokens of at
/// most 8 bytes pack differently (the zeros give the length).
const fn keyword(k: &[u8]) -> u64 {
    let mut w = 0u64;
    let mut i = 0;
    while i < k.len() {
        // Compile time (`i < k.len()`, at most 8 bytes: no bit is lost).
        #[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
        {
            w = w << 8 | k[i] as u64;
            i += 1;
        }
    }
    w
}
