//! What the [`smtp`](crate::smtp) and [`pop3`](crate::pop3) clients share:
//! the way to the server (name → address → TCP connection, each step under
//! a deadline), the command stream produced by offset, the reply text kept
//! for a failure, and the end of a session (close, or abort, then idle).
//!
//! # Components, not services
//!
//! The mail clients are components above the stack (its `Config::Smtp`
//! and `Config::Pop3` types), not services the stack owns. In the middle
//! of a session they call the application — for message bytes, for each
//! mailbox line, for keep-or-delete — and they do it from the TCP
//! callbacks for the socket the client opened. As stack services every
//! [`App`] would have to implement the mail traits, mail or not.
//!
//! The generated composition (`Services`, see [`compose`](crate::compose))
//! holds them when `stack.toml` has `[smtp]` / `[pop3]`, and does the
//! plumbing, so the application only implements
//! [`SmtpApp`](crate::compose::SmtpApp) / [`Pop3App`](crate::compose::Pop3App)
//! and starts sessions (`services.smtp.send(...)`,
//! `services.pop3.receive(...)`). `Services`:
//!
//! 1. polls each client after [`Stack::poll`], passing the stack (DNS
//!    through [`Stack::dns`], connecting, deadlines and closing happen
//!    there);
//! 2. routes `tcp_event`, `tcp_received`, `tcp_produce`,
//!    `tcp_wants_close` and `tcp_recv_space` for the socket a client
//!    [`owns`](crate::smtp::SmtpClient::owns) to that client, with the
//!    application's message source or mailbox;
//! 3. includes the clients' `poll_at` in its own.
//!
//! A program that does not use `Services` does these three steps itself
//! (`SmtpPart` / `Pop3Part` are their interface).
//!
//! # One session core
//!
//! Both clients embed the same session core (`Link`): the way to the
//! server and its deadlines, the step, where the current command starts,
//! the outcome (the first failure wins), the failure policy (a refusal on
//! a connection open both ways ends politely, anything else resets) and
//! the TCP events. A client adds its protocol: its command writer, its
//! reply (or line) handler, and the refusing reply's text.
//!
//! # One error for both clients
//!
//! What the core records — a [`MailFault`] at a [`MailStep`] — is the
//! public [`MailError`], with the refusing reply's text beside it: both
//! clients report the same type, and neither converts a failure into an
//! error of its own. The steps of both protocols are one numbering (the
//! shared ones first, SMTP's, `Quit`, POP3's), so the step the core keeps
//! is the one reported and its name needs no protocol.
//!
//! # The command stream
//!
//! TCP pulls outgoing bytes by stream offset and asks for an older offset
//! again to retransmit (see [`tcp`](crate::tcp)). Both protocols are
//! strictly command → reply, so the stream is a sequence of commands, each
//! starting where the previous one ended. A client knows the offset where
//! its current command starts and regenerates the command's bytes from its
//! state (command, arguments from the application) for any offset inside
//! it. Nothing is buffered; a retransmission is byte-identical because the
//! same state gives the same bytes.

use crate::config::Config;
use crate::dns::{DnsError, DnsHandle, Resolver};
use crate::iface::PayloadSink;
use crate::nic::Nic;
use crate::stack::{App, Stack};
use crate::tcp::{TcpError, TcpEvent, TcpHandle, TcpReader, TcpState};
use crate::time::{Duration, Instant};
use crate::udp::Endpoint;
use crate::wire::Ipv4Address;
use core::fmt;
use core::task::Poll;

/// A mail server as `stack.toml` names it (`server = "..."`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailServer {
    /// An address.
    Addr(Ipv4Address),
    /// A host name, resolved through the stack's DNS client.
    Name(&'static str),
}

/// Where a session connects to, as the client works it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target<'a> {
    /// An address: connect at once.
    Addr(Ipv4Address),
    /// A host name: A query first.
    Name(&'a str),
    /// A mail domain: MX query, most preferred exchange with an address;
    /// a domain without MX records is its own exchange (RFC 5321 §5.1).
    Mx(&'a str),
}

impl<'a> Target<'a> {
    /// An address written as a dotted quad, otherwise a host name. Out
    /// of line: both clients call it twice (`send`/`receive` and `poll`).
    #[inline(never)]
    pub(crate) fn parse(server: &'a str) -> Target<'a> {
        match crate::sntp::parse_addr(server) {
            Some(a) => Target::Addr(a),
            None => Target::Name(server),
        }
    }

    pub(crate) fn from_setting(server: MailServer) -> Target<'static> {
        match server {
            MailServer::Addr(a) => Target::Addr(a),
            MailServer::Name(n) => Target::Name(n),
        }
    }
}

/// Bytes of a server's reply text kept in a failure (the rest is dropped).
pub const REPLY_TEXT: usize = 60;

/// The start of a server's reply text (after the code or `-ERR`), kept
/// for the failure it caused. Only printable ASCII is kept; other bytes
/// become `?`, so it is safe to log.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ReplyText {
    len: u8,
    bytes: [u8; REPLY_TEXT],
}

impl ReplyText {
    /// No text.
    pub const EMPTY: ReplyText = ReplyText {
        len: 0,
        bytes: [0; REPLY_TEXT],
    };

    /// The text (printable ASCII).
    pub fn as_str(&self) -> &str {
        let b = self.bytes.get(..usize::from(self.len)).unwrap_or(&[]);
        core::str::from_utf8(b).unwrap_or("")
    }

    /// True when nothing was kept.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends one byte (dropped once full).
    pub(crate) fn push(&mut self, b: u8) {
        if let Some(slot) = self.bytes.get_mut(usize::from(self.len)) {
            *slot = printable(b);
            self.len = self.len.wrapping_add(1); // < REPLY_TEXT
        }
    }

    /// The text of `bytes`, cut to [`REPLY_TEXT`].
    pub fn from_bytes(bytes: &[u8]) -> ReplyText {
        let mut t = ReplyText::EMPTY;
        // Byte by byte as `push` does, the length stored once.
        for (slot, &b) in t.bytes.iter_mut().zip(bytes) {
            *slot = printable(b);
        }
        t.len = bytes.len().min(REPLY_TEXT) as u8; // <= 60
        t
    }

    /// Drops trailing spaces (and a CR a line ended with).
    pub(crate) fn trim_end(&mut self) {
        while self.len > 0
            && matches!(
                self.bytes.get(usize::from(self.len).wrapping_sub(1)), // len > 0
                Some(b' ' | b'?')
            )
        {
            self.len = self.len.wrapping_sub(1);
        }
    }
}

/// `b` when printable ASCII, else `?` (the reply text is safe to log).
fn printable(b: u8) -> u8 {
    if (0x20..0x7f).contains(&b) {
        b
    } else {
        b'?'
    }
}

impl Default for ReplyText {
    fn default() -> Self {
        ReplyText::EMPTY
    }
}

impl fmt::Display for ReplyText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ReplyText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// A generator's view of the payload: it writes its whole output through
/// `put`, and only the bytes in `[skip, skip + max)` reach the sink. With
/// no sink it just counts (`pos` is then the output's length).
pub(crate) struct Window<'s> {
    sink: Option<&'s mut dyn PayloadSink>,
    skip: usize,
    left: usize,
    /// Bytes generated so far (written or not).
    pub(crate) pos: usize,
}

impl<'s> Window<'s> {
    /// Passes `max` bytes from `skip` on to `sink`.
    pub(crate) fn new(sink: &'s mut dyn PayloadSink, skip: usize, max: usize) -> Window<'s> {
        Window {
            sink: Some(sink),
            skip,
            left: max,
            pos: 0,
        }
    }

    /// Only counts.
    pub(crate) fn counter() -> Window<'static> {
        Window {
            sink: None,
            skip: 0,
            left: 0,
            pos: 0,
        }
    }

    /// Bytes the sink can still take.
    pub(crate) fn remaining(&self) -> usize {
        self.left
    }

    /// Generates `bytes`.
    pub(crate) fn put(&mut self, bytes: &[u8]) {
        // Bounds: what one window generates is a command line or a
        // header template with the application's strings in it, far
        // below 2^32 bytes (the head's length is kept as a `u32`), so
        // `pos` does not wrap; past the check `skip < pos`, so `from` is
        // below the length.
        let start = self.pos;
        self.pos = start.wrapping_add(bytes.len());
        if self.left == 0 || self.pos <= self.skip {
            return;
        }
        let from = self.skip.saturating_sub(start);
        let take = bytes.len().wrapping_sub(from).min(self.left);
        if let (Some(sink), Some(part)) = (
            self.sink.as_deref_mut(),
            bytes.get(from..from.wrapping_add(take)), // <= bytes.len()
        ) {
            sink.write(part);
        }
        self.left = self.left.wrapping_sub(take); // take <= left
    }

    /// Generates the bytes of `text` in `keep` (the others are dropped:
    /// CR and LF in a header value, `<` in an address...).
    pub(crate) fn put_filtered(&mut self, text: &[u8], keep: &ByteSet) {
        // Byte by byte: a header field is a few dozen bytes, and the loop
        // is smaller than core's `split` iterator over runs.
        for b in text {
            if keep.has(*b) {
                self.put(core::slice::from_ref(b));
            }
        }
    }

    /// Generates `value` in decimal. Out of line: one copy of the
    /// buffer set-up for its callers (the address literal, RETR/DELE's
    /// number, the date's fields).
    #[inline(never)]
    pub(crate) fn put_u64(&mut self, value: u64) {
        let mut buf = [0u8; 20];
        self.put(crate::wire::text::decimal(value, &mut buf).as_bytes());
    }

    /// Generates `value` as 16 lowercase hex digits.
    pub(crate) fn put_hex(&mut self, value: u64) {
        // Digit by digit from the top, each a slice of the digits'
        // string (no buffer to fill backwards).
        let mut v = value;
        for _ in 0..16 {
            let d = (v >> 60) as usize; // < 16
            self.put(b"0123456789abcdef".get(d..=d).unwrap_or(b"0"));
            v <<= 4;
        }
    }
}

/// The domain of a mail address: what follows its last `@`, `None`
/// without one. A byte loop rather than `str::rsplit_once`, which links
/// core's 170-byte `memrchr` for this.
pub fn domain_of(address: &str) -> Option<&str> {
    let at = address.bytes().rposition(|b| b == b'@')?;
    address.get(at.wrapping_add(1)..) // `@` is one byte: at + 1 <= len
}

/// Hands every received byte of `data` to `f`, in pieces of up to 64
/// bytes (one copy of the loop for both clients).
#[inline(never)]
pub(crate) fn read_each<N: Nic>(data: &mut TcpReader<'_, N>, f: &mut dyn FnMut(&[u8])) {
    let len = data.len();
    let mut at = 0;
    let mut buf = [0u8; 64];
    while at < len {
        let n = data.read(at, &mut buf);
        if n == 0 {
            break;
        }
        f(buf.get(..n).unwrap_or(&[]));
        at = at.wrapping_add(n); // <= len
    }
}

/// Entry `index` of `table`, entries separated by `|`, by the entries'
/// starts ([`entry_starts`]); empty past the last. The clients' verbs by
/// step: one string and a byte per entry rather than a table of slices
/// at 8 bytes of flash an entry, or a search for the `|`s at run time
/// (README, Decisions: the mail clients' footprint).
pub(crate) fn entry(table: &'static [u8], starts: &[u8], index: usize) -> &'static [u8] {
    // index < 256 (a step): + 1 does not wrap; every start after the
    // first is at least 1: - 1 does not wrap.
    match (starts.get(index), starts.get(index.wrapping_add(1))) {
        (Some(&from), Some(&next)) => table
            .get(usize::from(from)..usize::from(next).wrapping_sub(1))
            .unwrap_or(&[]),
        _ => &[],
    }
}

/// Where each `|`-separated entry of `table` starts, and last the
/// table's length + 1 (so one before the next start is always where an
/// entry ends), computed at compile time for [`entry`]. `N` is the number
/// of entries + 1; another count does not compile.
// Compile time: the indices are checked by the evaluation (a wrong `N`
// is a compile error), the table is below 255 bytes.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
pub(crate) const fn entry_starts<const N: usize>(table: &[u8]) -> [u8; N] {
    let mut starts = [0u8; N];
    let mut i = 0;
    let mut k = 1;
    while i < table.len() {
        if table[i] == b'|' {
            starts[k] = (i + 1) as u8;
            k += 1;
        }
        i += 1;
    }
    assert!(
        k + 1 == N && table.len() < 255,
        "entry_starts: N is the entries + 1"
    );
    starts[k] = (table.len() + 1) as u8;
    starts
}

/// A byte a command argument may contain: printable ASCII or UTF-8, no
/// controls (so CR LF cannot end a command early and inject another).
pub(crate) const fn command_byte(b: u8) -> bool {
    b >= 0x20 && b != 0x7f
}

/// The bytes a generated field may contain ([`Window::put_filtered`]):
/// ASCII by a 128-bit map, the bytes from 0x80 (UTF-8) all in or all
/// out (a 17th byte of the map, all ones or all zeros). Built at compile
/// time from the rule ([`byte_set!`]), so a field is filtered by a table
/// lookup instead of a call per byte to a function per rule (README,
/// Decisions: the mail clients' footprint). Bytes rather than words: 17
/// bytes a set, and no branch for the bytes from 0x80.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ByteSet {
    pub(crate) bits: [u8; 17],
}

impl ByteSet {
    /// Whether `b` is in the set.
    pub(crate) fn has(&self, b: u8) -> bool {
        // From 0x80 on, the 17th byte.
        let i = usize::from(b >> 3).min(16);
        self.bits.get(i).is_some_and(|m| m >> (b & 7) & 1 != 0)
    }
}

/// `byte_set!(b => rule)`: the [`ByteSet`] of the bytes `b` for which
/// `rule` holds, evaluated for every ASCII byte and for 0x80 (the rules
/// treat every byte from 0x80 alike; a unit test checks all 256).
macro_rules! byte_set {
    ($b:ident => $rule:expr) => {{
        let mut bits = [0u8; 17];
        let mut $b = 0u8;
        while $b < 0x80 {
            if $rule {
                // Compile time: `$b >> 3` < 16.
                #[allow(clippy::indexing_slicing)]
                {
                    bits[($b >> 3) as usize] |= 1 << ($b & 7);
                }
            }
            $b = $b.wrapping_add(1);
        }
        // $b is 0x80: the rule for every byte from there.
        #[allow(clippy::indexing_slicing)]
        {
            bits[16] = if $rule { 0xff } else { 0 };
        }
        $crate::mail::ByteSet { bits }
    }};
}
pub(crate) use byte_set;

/// [`command_byte`] as a set.
pub(crate) const COMMAND: ByteSet = byte_set!(b => command_byte(b));

/// The base64 alphabet (RFC 4648 §4): the tests check the encoder's
/// arithmetic against it.
#[cfg(test)]
const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes `input` as padded base64 (RFC 4648 §4) into `out`, four
/// characters per started 3-byte group, as many whole groups as `out`
/// holds; returns the characters written. Our own rather than the
/// `base64` crate's generic engine: 884 B of flash for this (README,
/// Decisions: the mail clients' footprint).
pub(crate) fn encode_base64(input: &[u8], out: &mut [u8]) -> usize {
    // Indices rather than chunk iterators (smaller). Bounds: `at` <
    // `input.len()` and `n + 4 <= out.len()` inside the loop, so the
    // wrapping additions never wrap.
    let mut n = 0usize;
    let mut at = 0usize;
    while at < input.len() && out.len().wrapping_sub(n) >= 4 {
        // A group of k bytes (the last may be short; past the input: 0).
        let k = input.len().wrapping_sub(at).min(3);
        let mut bits = 0u32;
        for i in 0..3 {
            bits = bits << 8 | u32::from(input.get(at.wrapping_add(i)).copied().unwrap_or(0));
        }
        // k + 1 characters, then `=`.
        for i in 0..4usize {
            let shift = 18u32.wrapping_sub((i as u32).wrapping_mul(6)); // i < 4
            let six = (bits >> shift & 0x3f) as u8;
            // The alphabet's ranges by arithmetic rather than a 64-byte
            // table (six < 64: no operation wraps).
            let c = match six {
                _ if i > k => b'=',
                0..=25 => six.wrapping_add(b'A'),
                26..=51 => six.wrapping_add(b'a').wrapping_sub(26),
                52..=61 => six.wrapping_add(b'0').wrapping_sub(52),
                62 => b'+',
                _ => b'/',
            };
            if let Some(slot) = out.get_mut(n.wrapping_add(i)) {
                *slot = c;
            }
        }
        n = n.wrapping_add(4);
        at = at.wrapping_add(3);
    }
    n
}

/// Writes `bytes` as base64 (RFC 4648, padded) in 48-byte pieces (whole
/// 3-byte groups), so any length streams through a small buffer.
pub(crate) fn put_base64(w: &mut Window<'_>, bytes: &[u8]) {
    for chunk in bytes.chunks(48) {
        let mut out = [0u8; 64];
        let n = encode_base64(chunk, &mut out);
        w.put(out.get(..n).unwrap_or(&[]));
    }
}

/// A session's deadlines: `step` for each step (resolving, connecting,
/// each reply; restarted by progress: a complete reply line, an
/// acknowledgement), `session` for the whole session from its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timeouts {
    pub(crate) step: Duration,
    pub(crate) session: Duration,
}

/// Longest reply line a client reads as one (RFC 5321 §4.5.3.1.5: 512
/// octets with CR LF; RFC 1939 §3 the same for POP3 status lines). A
/// longer one is not the protocol: the session fails as malformed.
pub const MAX_REPLY_LINE: u16 = 512;

/// Writes the concatenation of `parts` as one base64 text (RFC 4648,
/// padded), through a 48-byte buffer: the parts need not be multiples of
/// three bytes long.
pub(crate) fn put_base64_parts(w: &mut Window<'_>, parts: &[&[u8]]) {
    let mut buf = [0u8; 48];
    let mut n = 0;
    for &part in parts {
        for &b in part {
            if let Some(slot) = buf.get_mut(n) {
                *slot = b;
                n = n.wrapping_add(1); // < buf.len()
            }
            if n == buf.len() {
                put_base64(w, &buf);
                n = 0;
            }
        }
    }
    put_base64(w, buf.get(..n).unwrap_or(&[]));
}

/// How long a session waits for the server to close after its reply to
/// QUIT before closing itself (then our socket goes through TIME-WAIT).
pub const QUIT_GRACE: Duration = Duration::from_secs(1);
/// How often a session retries getting a socket or a DNS slot.
const RETRY: Duration = Duration::from_millis(100);

/// Entropy for `tcp_connect` (its ISN key and port) from the caller's
/// source, without the application itself (which holds the client).
struct Entropy<'a>(&'a mut dyn FnMut() -> u32);

impl App for Entropy<'_> {
    fn random_u32(&mut self) -> u32 {
        (self.0)()
    }
}

/// Where a session's connection is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Phase {
    /// No session.
    #[default]
    Idle,
    /// Asked to start: resolve or connect on the next poll.
    Start,
    /// Waiting for DNS.
    Resolving,
    /// SYN sent (ARP first): waiting for the handshake.
    Connecting,
    /// Connected: the protocol runs.
    Open,
    /// Our side is closing; done when the connection is gone.
    Closing,
    /// Reset the connection on the next poll.
    Aborting,
    /// The connection is gone: the session reports its outcome.
    Finished,
}

/// Why the way to the server failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LinkFailure {
    Dns(DnsError),
    Tcp(TcpError),
    Timeout,
}

/// A recorded failure: what and at which step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) fault: Fault,
    pub(crate) step: MailStep,
}

/// The core records the public fault.
pub(crate) use MailFault as Fault;

/// A step of a mail session (also where a failure happened): the steps of
/// both clients in one numbering. Both begin `Resolve`, `Connect`,
/// `Greeting` and end `Quit`; SMTP's commands come before `Quit`, POP3's
/// after it. One type for both, so the step the session core records *is*
/// the one a [`MailError`] reports: no per-client conversion (README,
/// Decisions: one public mail error).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum MailStep {
    /// Looking up the server's address (A or MX).
    #[default]
    Resolve,
    /// ARP and the TCP handshake.
    Connect,
    /// Waiting for the greeting (SMTP `220`, POP3 `+OK`).
    Greeting,
    /// SMTP `EHLO`.
    Ehlo,
    /// SMTP `HELO` (the server does not know EHLO).
    Helo,
    /// SMTP `AUTH PLAIN` with the credentials (RFC 4616).
    AuthPlain,
    /// SMTP `AUTH LOGIN`.
    AuthLogin,
    /// SMTP AUTH LOGIN's base64 user name.
    AuthUser,
    /// SMTP AUTH LOGIN's base64 password.
    AuthPassword,
    /// SMTP `MAIL FROM`.
    MailFrom,
    /// SMTP `RCPT TO`.
    RcptTo,
    /// SMTP `DATA`.
    Data,
    /// SMTP: the message and its final `.`.
    Message,
    /// `QUIT` (both).
    Quit,
    /// POP3 `USER`.
    User,
    /// POP3 `PASS`.
    Pass,
    /// POP3 `STAT`.
    Stat,
    /// POP3 `RETR`.
    Retr,
    /// POP3 `DELE`.
    Dele,
}

impl MailStep {
    /// Every step in the shared numbering's order (the tests check the
    /// numbering both clients index their tables by).
    #[cfg(test)]
    pub(crate) const ALL: [MailStep; 19] = [
        MailStep::Resolve,
        MailStep::Connect,
        MailStep::Greeting,
        MailStep::Ehlo,
        MailStep::Helo,
        MailStep::AuthPlain,
        MailStep::AuthLogin,
        MailStep::AuthUser,
        MailStep::AuthPassword,
        MailStep::MailFrom,
        MailStep::RcptTo,
        MailStep::Data,
        MailStep::Message,
        MailStep::Quit,
        MailStep::User,
        MailStep::Pass,
        MailStep::Stat,
        MailStep::Retr,
        MailStep::Dele,
    ];

    /// The step's name in logs (`MAIL FROM`, `RETR`).
    pub const fn name(self) -> &'static str {
        match self {
            MailStep::Resolve => "resolve",
            MailStep::Connect => "connect",
            MailStep::Greeting => "greeting",
            MailStep::Ehlo => "EHLO",
            MailStep::Helo => "HELO",
            MailStep::AuthPlain => "AUTH PLAIN",
            MailStep::AuthLogin => "AUTH LOGIN",
            MailStep::AuthUser => "AUTH user",
            MailStep::AuthPassword => "AUTH password",
            MailStep::MailFrom => "MAIL FROM",
            MailStep::RcptTo => "RCPT TO",
            MailStep::Data => "DATA",
            MailStep::Message => "message",
            MailStep::Quit => "QUIT",
            MailStep::User => "USER",
            MailStep::Pass => "PASS",
            MailStep::Stat => "STAT",
            MailStep::Retr => "RETR",
            MailStep::Dele => "DELE",
        }
    }
}

impl fmt::Display for MailStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What went wrong in a mail session ([`MailError::fault`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailFault {
    /// A session is under way (`send`, `receive`).
    Busy,
    /// SMTP: the message has no recipient.
    NoRecipient,
    /// No server: none in `stack.toml`, none from the application (and,
    /// for SMTP, no `mx = true`).
    NoServer,
    /// POP3: no user name and password.
    NoCredentials,
    /// The server's name (or MX) could not be resolved.
    Dns(DnsError),
    /// No TCP connection could be opened (no free socket...).
    Tcp(TcpError),
    /// The server refused the step: SMTP answered another code than
    /// expected (this one: 4xx try later, 5xx refused), POP3 answered
    /// `-ERR` (0). The reply's text is [`MailError::text`].
    Refused(u16),
    /// A reply that is not SMTP/POP3, or one that came too early.
    Malformed,
    /// Nothing happened for the client's `timeout` at the step (or the
    /// whole session took longer than `session_timeout`).
    Timeout,
    /// The server closed the connection during the step.
    Closed,
    /// The connection was reset (or TCP gave up) during the step.
    Reset,
    /// SMTP: there are credentials, but the server offers no AUTH
    /// mechanism the client speaks (PLAIN, LOGIN) or does not know EHLO:
    /// the message is not sent unauthenticated.
    NoAuthMechanism,
    /// There are credentials and the server was to be found by name (DNS
    /// A or MX), which the client's `cleartext_auth_by_name` does not
    /// allow: nothing was sent.
    CleartextAuthByName,
    /// The client's section (`[smtp]`, `[pop3]`) is not in `stack.toml`
    /// (for applications generic over configurations; the clients
    /// themselves never return it).
    Disabled,
    /// What `stack.toml` switched off at compile time was needed: SMTP an
    /// attachment (`attachment = false`), credentials (`auth = false`) or
    /// a non-ASCII subject (`encoded_subject = false`), nothing sent;
    /// POP3 a deletion (`delete = false`), the session ended there
    /// (QUIT), every message kept.
    Unsupported,
}

/// Why a message was not sent ([`smtp`](crate::smtp)) or a mailbox check
/// failed ([`pop3`](crate::pop3)): one error for both clients, exactly
/// what the session core records (the fault and the step) with the
/// refusing reply's text, so no client converts it (README, Decisions:
/// one public mail error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MailError {
    /// What went wrong.
    pub fault: MailFault,
    /// The step the session was at (`Resolve` for an error before a
    /// session started: `Busy`, `NoServer`...).
    pub step: MailStep,
    /// With [`MailFault::Refused`], the start of the server's reply text
    /// (after the code or `-ERR`); empty otherwise.
    pub text: ReplyText,
}

impl MailError {
    /// `fault` at `step`, no text.
    pub const fn new(fault: MailFault, step: MailStep) -> MailError {
        MailError {
            fault,
            step,
            text: ReplyText::EMPTY,
        }
    }

    /// The server's reply code, when an SMTP server refused.
    pub fn code(&self) -> Option<u16> {
        match self.fault {
            MailFault::Refused(code) if code != 0 => Some(code),
            _ => None,
        }
    }
}

impl From<MailFault> for MailError {
    /// `fault` before a session (at `Resolve`).
    fn from(fault: MailFault) -> MailError {
        MailError::new(fault, MailStep::Resolve)
    }
}

impl fmt::Display for MailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.fault {
            MailFault::Busy => "busy: a session is under way",
            MailFault::NoRecipient => "no recipient",
            MailFault::NoServer => "no server (none in stack.toml or from the application)",
            MailFault::NoCredentials => "no user name and password",
            MailFault::Dns(e) => return write!(f, "resolve failed: {e}"),
            MailFault::Tcp(e) => return write!(f, "connect failed: {e}"),
            MailFault::Refused(0) => return write!(f, "-ERR {} ({})", self.text, self.step),
            MailFault::Refused(code) => return write!(f, "{code} {} ({})", self.text, self.step),
            // With the step.
            MailFault::Malformed => "malformed reply",
            MailFault::Timeout => "timeout",
            MailFault::Closed => "closed by the server",
            MailFault::Reset => "connection reset",
            MailFault::NoAuthMechanism => {
                "the server offers no AUTH mechanism we speak (PLAIN, LOGIN)"
            }
            MailFault::CleartextAuthByName => {
                "credentials not sent in clear text to a server found by name \
                 (cleartext_auth_by_name)"
            }
            MailFault::Disabled => "the client is not enabled in stack.toml",
            MailFault::Unsupported => "needs a feature switched off in stack.toml",
        };
        f.write_str(what)?;
        if matches!(
            self.fault,
            MailFault::Malformed | MailFault::Timeout | MailFault::Closed | MailFault::Reset
        ) {
            write!(f, " ({})", self.step)?;
        }
        Ok(())
    }
}

/// The session core both clients embed: the connection (resolving,
/// connecting, the deadlines, the end), the step, the current command's
/// offset, the outcome and the failure policy, the TCP events. Each
/// client adds its protocol: its commands, its replies, its report
/// (README, Decisions: one session core for the mail clients).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Link {
    pub(crate) phase: Phase,
    /// The connection's socket: its slot + 1, 0 for none (the default).
    /// A byte rather than an `Option<TcpHandle>`: the ownership test at
    /// every TCP callback is one compare (README, Decisions: the mail
    /// clients' footprint). Bound: slots are below 64 (`[tcp] sockets`
    /// is at most 64), so + 1 never wraps; only a hand-written `Config`
    /// with 256 sockets would have a slot 255, which would read as none.
    socket: u8,
    pub(crate) remote: Endpoint,
    /// Our address when the connection was opened (SMTP's EHLO literal).
    pub(crate) local: Ipv4Address,
    query: Option<DnsHandle>,
    /// The query is an MX query (no data → an A query for the domain).
    query_mx: bool,
    /// Set at the first poll (`start` marks the link touched) and after
    /// each progress; meaningless before (every use is after a poll).
    deadline: Instant,
    /// The whole session's deadline (`session_timeout` from its start):
    /// nothing a server does — dribbling bytes, a zero window — moves it.
    session_deadline: Option<Instant>,
    /// A callback saw progress: the deadline restarts at the next poll
    /// (callbacks do not get the time).
    pub(crate) touched: bool,
    /// The peer closed its side.
    pub(crate) peer_closed: bool,
    /// Closing: our FIN may go now (otherwise we wait for the peer's
    /// first, until `grace`).
    fin_now: bool,
    /// Start: when to try again (no free socket or DNS slot yet);
    /// Closing politely: when we stop waiting for the peer's FIN.
    wake: Option<Instant>,
    /// `remote.addr` is resolved (kept while no socket is free).
    resolved: bool,
    /// Stream offset the peer has acknowledged up to.
    pub(crate) acked: u32,
    /// Our bytes are not all acknowledged yet: TCP's retransmission (and
    /// its own give-up) decides, not our reply deadline — after a loss
    /// TCP's timer may back off past it.
    pub(crate) sending: bool,
    /// The client's step (`Resolve`, set by `start`): the core sets
    /// Connect and Greeting and records it with a failure.
    pub(crate) step: MailStep,
    /// Stream offset where the current command starts (set when the
    /// connection opens, the only way to `Open`, where it is read).
    pub(crate) cmd_start: u32,
    /// The session's result so far (the first failure wins); `start`
    /// clears it.
    pub(crate) outcome: Option<Result<(), Failure>>,
}

impl Link {
    /// Starts a session: resolve or connect on the next poll. Out of
    /// line: one copy of the link's clear for both clients.
    #[inline(never)]
    pub(crate) fn start(&mut self) {
        *self = Link {
            phase: Phase::Start,
            touched: true,
            ..Link::default()
        };
    }

    /// Whether `socket` is this session's connection.
    pub(crate) fn owns(&self, socket: TcpHandle) -> bool {
        self.socket == socket.0.wrapping_add(1)
    }

    /// The connection's socket, if any.
    pub(crate) fn socket(&self) -> Option<TcpHandle> {
        self.socket.checked_sub(1).map(TcpHandle)
    }

    /// Sets the connection's socket (`None`: there is none).
    #[cfg(test)]
    pub(crate) fn set_socket(&mut self, socket: Option<TcpHandle>) {
        self.socket = socket.map_or(0, |s| s.0.wrapping_add(1));
    }

    /// The next deadline, for `poll_at`.
    pub(crate) fn poll_at(&self) -> Option<Instant> {
        match self.phase {
            Phase::Idle => None,
            Phase::Start => Some(self.wake.unwrap_or(Instant::ZERO)),
            Phase::Aborting | Phase::Finished => Some(Instant::ZERO),
            _ if self.touched => Some(Instant::ZERO),
            Phase::Closing if !self.fin_now => {
                crate::service::earliest(self.wake, Some(self.deadline))
            }
            // Our bytes in flight: TCP's events wake us; the step deadline
            // waits (a past one would make the caller spin), the session's
            // does not.
            Phase::Open if self.sending => self.session_deadline,
            _ => crate::service::earliest(Some(self.deadline), self.session_deadline),
        }
    }

    /// Closes gracefully now (FIN after what is being sent); done when
    /// the connection is gone, aborted if that takes longer than the
    /// timeout.
    pub(crate) fn close(&mut self) {
        self.fin_now = true;
        self.close_after_peer();
    }

    /// Closes after the server's reply to QUIT: the server closes first
    /// (RFC 5321 §4.1.1.10, RFC 1939 §6), so our socket skips TIME-WAIT
    /// and is free at once; after [`QUIT_GRACE`] we close anyway.
    pub(crate) fn close_after_peer(&mut self) {
        match self.phase {
            Phase::Open | Phase::Connecting if self.socket != 0 => {
                self.phase = Phase::Closing;
                self.wake = None;
                self.touched = true;
            }
            // Never idle: called only during a session.
            Phase::Closing | Phase::Finished => {}
            _ => self.abort(),
        }
    }

    /// Whether our FIN may go (see `close_after_peer`).
    pub(crate) fn wants_close(&self) -> bool {
        self.phase == Phase::Closing && (self.fin_now || self.peer_closed)
    }

    /// Resets the connection (or stops resolving) on the next poll.
    pub(crate) fn abort(&mut self) {
        // Never called idle: the clients fail only during a session.
        if self.phase != Phase::Finished {
            self.phase = Phase::Aborting;
        }
    }

    /// Records a failure at the current step (the first one wins) and
    /// ends the session. Returns true when the server refused a command
    /// (or the client refuses to go on) on a connection open both ways:
    /// the client then ends politely (SMTP's QUIT, POP3's close without
    /// QUIT); otherwise the connection is reset on the next poll. One
    /// copy of the failure policy for both clients.
    #[inline(never)]
    pub(crate) fn fail(&mut self, fault: Fault) -> bool {
        if self.outcome.is_none() {
            self.outcome = Some(Err(Failure {
                fault,
                step: self.step,
            }));
        }
        let polite = matches!(
            fault,
            Fault::Refused(_) | Fault::NoAuthMechanism | Fault::Unsupported
        ) && self.phase == Phase::Open
            && !self.peer_closed;
        if !polite {
            self.abort();
        }
        polite
    }

    /// A TCP event for our socket. `expect_close`: the server may close
    /// now without failing the session (SMTP after QUIT, POP3 while
    /// closing). One copy for both clients.
    #[inline(never)]
    pub(crate) fn on_event(&mut self, event: TcpEvent, expect_close: bool) {
        // Progress restarts the step deadline (`touched`, set in the
        // arms); a resend is not progress, and the connection's end
        // needs no deadline (the session is finished: `poll_at` and
        // `poll` do not look at the step's deadline any more).
        match event {
            TcpEvent::Connected { .. } => {
                // Only while connecting: the socket is taken in that
                // phase and the handshake completes once; a client fails
                // (aborts) only from a reply, a link failure (which
                // frees the socket at once) or a TCP event that ends
                // the connection before it could connect.
                self.phase = Phase::Open;
                self.touched = true;
                self.step = MailStep::Greeting;
                self.cmd_start = 0;
            }
            TcpEvent::Acked { offset } => {
                if offset != self.acked {
                    self.touched = true;
                }
                self.acked = offset;
            }
            // A client socket: never contended.
            TcpEvent::Retransmit { .. } | TcpEvent::Contended => {}
            TcpEvent::PeerClosed => {
                self.peer_closed = true;
                self.touched = true;
                self.closed_by_peer(expect_close);
            }
            TcpEvent::Closed
            | TcpEvent::Reset
            | TcpEvent::Reclaimed
            | TcpEvent::TimedOut
            | TcpEvent::RegenerationMismatch { .. } => {
                // The link owns the socket, so a session is under way;
                // the failure recorded below leaves `Finished`.
                self.socket = 0;
                self.phase = Phase::Finished;
                match event {
                    TcpEvent::Closed => self.closed_by_peer(expect_close),
                    TcpEvent::TimedOut => {
                        self.fail(Fault::Timeout);
                    }
                    TcpEvent::Reclaimed => {}
                    _ => {
                        self.fail(Fault::Reset);
                    }
                }
            }
        }
    }

    /// The server closed (or the connection is gone): a failure unless
    /// expected; our side follows (see `close_after_peer`).
    fn closed_by_peer(&mut self, expect_close: bool) {
        if !expect_close {
            self.fail(Fault::Closed);
        }
        self.close_after_peer();
    }

    /// Runs the session's connection: its steps, the deadlines, closing.
    /// `target` and `port` say where to connect (read when the session
    /// starts), `cmd_len` is the current command's length while open
    /// (`u32::MAX`: not known yet, 0: nothing to wait for). A failure of
    /// the way to the server or the deadline aborts the session at once
    /// (the connection reset, the query cancelled) and is recorded.
    /// Returns true once the session is over: the client reports its
    /// outcome and is idle again. One copy for both clients.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    pub(crate) fn poll<C: Config, N: Nic>(
        &mut self,
        stack: &mut Stack<C>,
        nic: &mut N,
        now: Instant,
        target: Target<'_>,
        port: u16,
        timeouts: Timeouts,
        cmd_len: u32,
        random: &mut dyn FnMut() -> u32,
    ) -> bool {
        self.sending =
            self.phase == Phase::Open && self.acked.wrapping_sub(self.cmd_start) < cmd_len;
        let r = self.advance(stack, nic, now, target, port, timeouts, random);
        if r.is_err() {
            // Abort at once rather than on the next poll (a failure comes
            // from a live phase: Start to Open).
            self.abort_now(stack, nic, now);
        }
        if self.phase == Phase::Connecting {
            self.step = MailStep::Connect;
        }
        if let Err(f) = r {
            self.fail(match f {
                LinkFailure::Dns(e) => Fault::Dns(e),
                LinkFailure::Tcp(e) => Fault::Tcp(e),
                LinkFailure::Timeout => Fault::Timeout,
            });
        }
        if self.phase != Phase::Finished {
            return false;
        }
        // Idle again: the rest of the link is reset when the next
        // session starts (a finished link has no socket and no query).
        self.phase = Phase::Idle;
        true
    }

    /// The session's result: the first failure, or success, or (none
    /// recorded) the server closed the connection at the current step; a
    /// refusal with `text`, the client's copy of the refusing reply's
    /// text (kept beside the outcome rather than in it: SMTP's reply
    /// parser and POP3's `-ERR` line hold it, so a link holds no second
    /// 61-byte copy). The failure *is* the error: nothing to convert.
    /// Inlined where the client reports, so an application that only
    /// tells success from failure (the quiet firmware) builds nothing
    /// of the error (out of line: +112 B of (b) code).
    #[inline(always)]
    pub(crate) fn result(&self, text: &ReplyText) -> Result<(), MailError> {
        let Err(f) = self.outcome.unwrap_or(Err(Failure {
            fault: Fault::Closed,
            step: self.step,
        })) else {
            return Ok(());
        };
        Err(MailError {
            fault: f.fault,
            step: f.step,
            text: if matches!(f.fault, Fault::Refused(_)) {
                *text
            } else {
                ReplyText::EMPTY
            },
        })
    }

    /// A reply came for the current command of `len` bytes: true when it
    /// follows the whole command (the server cannot have read it
    /// otherwise); the next command then starts where it ends.
    pub(crate) fn replied(&mut self, len: u32) -> bool {
        if self.acked.wrapping_sub(self.cmd_start) < len {
            return false;
        }
        self.cmd_start = self.cmd_start.wrapping_add(len);
        true
    }

    /// Where stream `offset` lies in the current command; `None` when
    /// nothing is to be produced (not open, or before the command: long
    /// acknowledged).
    pub(crate) fn command_offset(&self, offset: u32) -> Option<u32> {
        let rel = offset.wrapping_sub(self.cmd_start);
        (self.phase == Phase::Open && rel <= u32::MAX / 2).then_some(rel)
    }

    /// One pass of [`poll`](Link::poll); its failure is not handled yet.
    /// Inlined into `poll`, which is the one out-of-line copy for both
    /// clients: the arguments are not passed on a second time.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn advance<C: Config, N: Nic>(
        &mut self,
        stack: &mut Stack<C>,
        nic: &mut N,
        now: Instant,
        target: Target<'_>,
        port: u16,
        timeouts: Timeouts,
        random: &mut dyn FnMut() -> u32,
    ) -> Result<(), LinkFailure> {
        let (due, session_over) = self.deadlines(now, timeouts);
        if session_over
            && matches!(
                self.phase,
                Phase::Resolving | Phase::Connecting | Phase::Open
            )
        {
            // However the server keeps the session going, it ends here.
            return Err(LinkFailure::Timeout);
        }
        match self.phase {
            Phase::Idle | Phase::Finished => Ok(()),
            Phase::Start => self.start_step(stack, now, target, port, due, random),
            Phase::Resolving => self.resolve_step(stack, now, target, port, due, random),
            Phase::Connecting | Phase::Open => {
                // `sending` is set only while open (by the client, before
                // this poll).
                if due && !self.sending {
                    Err(LinkFailure::Timeout)
                } else {
                    Ok(())
                }
            }
            Phase::Closing => {
                self.closing_step(stack, nic, now, due);
                Ok(())
            }
            Phase::Aborting => {
                self.abort_now(stack, nic, now);
                Ok(())
            }
        }
    }

    /// Restarts the step deadline after progress (and sets the session's
    /// at the first poll). Returns whether the step is due (the session's
    /// end counts) and whether the session is over.
    fn deadlines(&mut self, now: Instant, timeouts: Timeouts) -> (bool, bool) {
        if self.touched {
            self.deadline = now.after(timeouts.step);
            self.touched = false;
        }
        let session = *self
            .session_deadline
            .get_or_insert(now.after(timeouts.session));
        let over = now >= session;
        (over || now >= self.deadline, over)
    }

    /// Start: once the stack has an address, connect (to the target's
    /// address or the one resolved before no socket was free) or start
    /// the DNS query. Retried every [`RETRY`] until the deadline.
    fn start_step<C: Config>(
        &mut self,
        stack: &mut Stack<C>,
        now: Instant,
        target: Target<'_>,
        port: u16,
        due: bool,
        random: &mut dyn FnMut() -> u32,
    ) -> Result<(), LinkFailure> {
        if self.wake.is_some_and(|t| now < t) {
            return Ok(());
        }
        self.wake = Some(now.after(RETRY));
        if stack.ipv4().is_none() {
            // No address yet (DHCP): wait for one until the deadline.
            return if due {
                Err(LinkFailure::Timeout)
            } else {
                Ok(())
            };
        }
        let addr = match target {
            Target::Addr(a) => Some(a),
            _ => self.resolved.then_some(self.remote.addr),
        };
        if let Some(addr) = addr {
            return self.connect_or_retry(stack, now, addr, port, due, random);
        }
        let started = match target {
            Target::Addr(_) => return Ok(()),
            Target::Name(n) => stack.dns().start_resolve(n),
            Target::Mx(d) => stack.dns().start_mx(d),
        };
        match started {
            Ok(h) => {
                self.resolving(h, matches!(target, Target::Mx(_)));
                Ok(())
            }
            // Another query holds every slot: try again next poll.
            Err(DnsError::NoFreeSlot) if !due => Ok(()),
            Err(DnsError::NoFreeSlot) => Err(LinkFailure::Timeout),
            Err(e) => Err(LinkFailure::Dns(e)),
        }
    }

    /// Waits for the DNS query `h` (an MX query when `mx`).
    fn resolving(&mut self, h: DnsHandle, mx: bool) {
        self.query = Some(h);
        self.query_mx = mx;
        self.phase = Phase::Resolving;
    }

    /// Resolving: takes the answer and connects; an MX query without
    /// records falls back to the domain's own address.
    fn resolve_step<C: Config>(
        &mut self,
        stack: &mut Stack<C>,
        now: Instant,
        target: Target<'_>,
        port: u16,
        due: bool,
        random: &mut dyn FnMut() -> u32,
    ) -> Result<(), LinkFailure> {
        // Resolving always has its query (it leaves the phase, or
        // fails, when the answer is taken).
        let Some(h) = self.query else {
            return Ok(());
        };
        let dns = stack.dns();
        let r = if self.query_mx {
            dns.take_mx(h)
        } else {
            dns.take_resolved(h)
        };
        if r.is_ready() {
            self.query = None;
        }
        match r {
            // The query stays: the abort that follows cancels it.
            Poll::Pending if due => Err(LinkFailure::Timeout),
            Poll::Pending => Ok(()),
            Poll::Ready(Ok(addr)) => self.connect_or_retry(stack, now, addr, port, due, random),
            Poll::Ready(Err(DnsError::NoData)) if self.query_mx => {
                // No MX records: the domain is its own exchange (an A
                // query that cannot start fails the session like any).
                let Target::Mx(domain) = target else {
                    return Err(LinkFailure::Dns(DnsError::NoData));
                };
                let h = stack
                    .dns()
                    .start_resolve(domain)
                    .map_err(LinkFailure::Dns)?;
                self.resolving(h, false);
                Ok(())
            }
            Poll::Ready(Err(e)) => Err(LinkFailure::Dns(e)),
        }
    }

    /// Connects to `addr`; when every socket is busy (some in TIME-WAIT)
    /// the address is kept and Start tries again shortly, until the
    /// deadline.
    fn connect_or_retry<C: Config>(
        &mut self,
        stack: &mut Stack<C>,
        now: Instant,
        addr: Ipv4Address,
        port: u16,
        due: bool,
        random: &mut dyn FnMut() -> u32,
    ) -> Result<(), LinkFailure> {
        match self.connect(stack, now, addr, port, random) {
            Err(LinkFailure::Tcp(TcpError::NoFreeSocket)) if !due => {
                self.remote.addr = addr;
                self.resolved = true;
                self.wake = Some(now.after(RETRY));
                self.phase = Phase::Start;
                Ok(())
            }
            r => r,
        }
    }

    /// Closing: our FIN goes once the peer's came or the grace ran out;
    /// done when the connection is gone, aborted at the deadline.
    fn closing_step<C: Config, N: Nic>(
        &mut self,
        stack: &mut Stack<C>,
        nic: &mut N,
        now: Instant,
        due: bool,
    ) {
        if !self.fin_now {
            let grace = *self.wake.get_or_insert(now.after(QUIT_GRACE));
            if now >= grace {
                self.fin_now = true;
            }
        }
        // Closing always has its socket (`close_after_peer` closes only
        // a link with one; losing it leaves the phase): slot + 1 != 0.
        let s = TcpHandle(self.socket.wrapping_sub(1));
        let gone = matches!(stack.tcp_state(s), TcpState::Closed | TcpState::TimeWait);
        if gone {
            // TIME-WAIT belongs to the stack now; the session is over.
            self.socket = 0;
            self.phase = Phase::Finished;
        } else if due {
            self.abort_now(stack, nic, now);
        }
    }

    /// Stops the query and resets the connection; the session is over.
    fn abort_now<C: Config, N: Nic>(&mut self, stack: &mut Stack<C>, nic: &mut N, now: Instant) {
        if let Some(h) = self.query.take() {
            stack.dns().cancel(h);
        }
        if let Some(s) = self.socket() {
            self.socket = 0;
            stack.tcp_abort(nic, now, s);
        }
        self.phase = Phase::Finished;
    }

    fn connect<C: Config>(
        &mut self,
        stack: &mut Stack<C>,
        now: Instant,
        addr: Ipv4Address,
        port: u16,
        random: &mut dyn FnMut() -> u32,
    ) -> Result<(), LinkFailure> {
        let remote = Endpoint::new(addr, port);
        let socket = stack
            .tcp_connect(&mut Entropy(random), now, remote)
            .map_err(LinkFailure::Tcp)?;
        self.local = stack.ipv4().map(|c| c.cidr.address).unwrap_or_default();
        self.socket = socket.0.wrapping_add(1); // see `socket`
        self.remote = remote;
        self.phase = Phase::Connecting;
        self.touched = true;
        Ok(())
    }

    /// True once the session's connection is gone and it may report.
    #[cfg(test)]
    pub(crate) fn finished(&self) -> bool {
        self.phase == Phase::Finished
    }
}

/// Assembles received bytes into lines of at most `buf.len()` bytes
/// (at least 2): a longer line comes out in pieces (`more` set on all but
/// the last), and the CR of the CR LF ending is removed. A piece is read
/// from `buf` by the caller before the next byte is pushed; a piece with
/// `more` did not take the byte that showed the line goes on: the caller
/// pushes that byte again after reading the piece (it starts the next
/// one). So no byte is kept aside while a full buffer is read.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LineState {
    /// Bytes of the current piece in the buffer.
    len: u16,
    /// A piece of the current line has been delivered already.
    continued: bool,
    /// The buffer is full and a CR came: the line's end if LF follows,
    /// else the next piece's first byte.
    cr_pending: bool,
}

/// One piece of a line from [`LineState::push`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Piece {
    /// Bytes in the buffer (from 0).
    pub(crate) len: usize,
    /// Not the line's first piece.
    pub(crate) continued: bool,
    /// More of the line follows (and the byte pushed was not taken:
    /// push it again).
    pub(crate) more: bool,
}

impl LineState {
    /// Adds one byte; returns a piece when one is complete. A full buffer
    /// is delivered only when the next bytes show the line goes on, so a
    /// line of exactly `buf.len()` bytes is one piece; a CR not followed
    /// by LF is content.
    /// Inlined into POP3's per-byte loop (out of line, a call per
    /// received byte).
    #[inline(always)]
    pub(crate) fn push(&mut self, buf: &mut [u8], b: u8) -> Option<Piece> {
        let len = usize::from(self.len);
        if b == b'\n' {
            // Without the CR it ends with (a pending one was not stored).
            let cr = !self.cr_pending && buf.get(len.wrapping_sub(1)) == Some(&b'\r');
            let n = len.wrapping_sub(usize::from(cr)); // cr: len > 0
            let piece = Piece {
                len: n,
                continued: self.continued,
                more: false,
            };
            *self = LineState::default();
            return Some(piece);
        }
        if len < buf.len() {
            // A pending CR is here only right after a piece (the buffer
            // is empty and, at least 2 bytes long, takes it and `b`);
            // otherwise `b` overwrites the CR written at `len`.
            let at = len.wrapping_add(usize::from(self.cr_pending)); // <= 1
            if let Some(slot) = buf.get_mut(len) {
                *slot = b'\r';
            }
            if let Some(slot) = buf.get_mut(at) {
                *slot = b;
            }
            self.len = at.wrapping_add(1) as u16; // <= buf.len() <= 1024
            self.cr_pending = false;
            return None;
        }
        if b == b'\r' && !self.cr_pending {
            self.cr_pending = true;
            return None;
        }
        // The full buffer is a piece; `b` (after a pending CR) is not
        // taken: the caller pushes it again.
        let piece = Piece {
            len,
            continued: self.continued,
            more: true,
        };
        self.continued = true;
        self.len = 0;
        Some(piece)
    }

    /// Starts over (a new response).
    pub(crate) fn clear(&mut self) {
        *self = LineState::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use proptest::prelude::*;

    struct VecSink(Vec<u8>);
    impl PayloadSink for VecSink {
        fn write(&mut self, bytes: &[u8]) {
            self.0.extend_from_slice(bytes);
        }
        fn write_from_rx(&mut self, _offset: usize, _len: usize) {
            panic!("the mail generators write their own bytes")
        }
    }

    fn crate_base64(bytes: &[u8]) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .into_bytes()
    }

    fn ours(f: impl FnOnce(&mut Window<'_>)) -> Vec<u8> {
        let mut sink = VecSink(Vec::new());
        let mut w = Window::new(&mut sink, 0, usize::MAX);
        f(&mut w);
        sink.0
    }

    #[test]
    fn base64_rfc4648_test_vectors() {
        // RFC 4648 §10.
        for (input, expect) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut out = [0u8; 8];
            let n = encode_base64(input.as_bytes(), &mut out);
            assert_eq!(&out[..n], expect.as_bytes(), "{input:?}");
            assert_eq!(ours(|w| put_base64(w, input.as_bytes())), expect.as_bytes());
        }
        // The 48 bytes whose encoding is the alphabet: every 6-bit value
        // maps to its character.
        let all = base64::engine::general_purpose::STANDARD
            .decode(BASE64)
            .unwrap();
        assert_eq!(ours(|w| put_base64(w, &all)), BASE64);
    }

    #[test]
    fn mail_errors_say_what_where_and_the_reply() {
        let text = ReplyText::from_bytes(b"no way");
        for (e, shown) in [
            (
                MailError {
                    fault: MailFault::Refused(535),
                    step: MailStep::AuthPlain,
                    text,
                },
                "535 no way (AUTH PLAIN)",
            ),
            (
                MailError {
                    fault: MailFault::Refused(0),
                    step: MailStep::Pass,
                    text,
                },
                "-ERR no way (PASS)",
            ),
            (
                MailError::new(MailFault::Timeout, MailStep::Greeting),
                "timeout (greeting)",
            ),
            (
                MailError::new(MailFault::Closed, MailStep::Retr),
                "closed by the server (RETR)",
            ),
            (
                MailError::from(MailFault::Busy),
                "busy: a session is under way",
            ),
            (
                MailError::from(MailFault::Dns(DnsError::NoData)),
                "resolve failed: NoData",
            ),
        ] {
            assert_eq!(e.to_string(), shown);
        }
        let refused = MailError {
            fault: MailFault::Refused(550),
            step: MailStep::RcptTo,
            text,
        };
        assert_eq!(refused.code(), Some(550));
        assert_eq!(
            MailError::new(MailFault::Refused(0), MailStep::User).code(),
            None
        );
        assert_eq!(MailError::from(MailFault::NoServer).step, MailStep::Resolve);
    }

    #[test]
    fn entries_are_the_pieces_between_bars() {
        const T: &[u8] =
            b"|||EHLO |HELO |AUTH PLAIN |AUTH LOGIN|||MAIL FROM:<|RCPT TO:<|DATA||QUIT";
        const S: [u8; 15] = entry_starts(T);
        let pieces: Vec<&[u8]> = T.split(|&b| b == b'|').collect();
        assert_eq!(pieces.len(), 14);
        for i in 0..20 {
            assert_eq!(
                entry(T, &S, i),
                pieces.get(i).copied().unwrap_or(b""),
                "{i}"
            );
        }
        const U: &[u8] = b"a||bc|";
        const V: [u8; 5] = entry_starts(U);
        for (i, e) in [&b"a"[..], b"", b"bc", b"", b""].into_iter().enumerate() {
            assert_eq!(entry(U, &V, i), e, "{i}");
        }
    }

    /// Pieces of a 4-byte buffer, the byte after a full piece pushed
    /// again: a line of exactly the buffer is one piece, a CR that does
    /// not end the line is content (before the next piece's byte).
    #[test]
    fn line_pieces_at_the_buffer_boundary() {
        let pieces = |input: &[u8]| {
            let (mut st, mut buf, mut out) = (LineState::default(), [0u8; 4], Vec::new());
            for &b in input {
                while let Some(p) = st.push(&mut buf, b) {
                    out.push((buf[..p.len].to_vec(), p.more));
                    if !p.more {
                        break;
                    }
                }
            }
            out
        };
        let v = |b: &[u8], more| (b.to_vec(), more);
        assert_eq!(pieces(b"abcd\r\n"), [v(b"abcd", false)]);
        assert_eq!(pieces(b"abcd\n"), [v(b"abcd", false)]);
        assert_eq!(pieces(b"abcde\r\n"), [v(b"abcd", true), v(b"e", false)]);
        assert_eq!(pieces(b"abcd\rx\r\n"), [v(b"abcd", true), v(b"\rx", false)]);
        assert_eq!(pieces(b"abcd\r\r\n"), [v(b"abcd", true), v(b"\r", false)]);
        assert_eq!(
            pieces(b"abcdefgh\r\nz\n"),
            [v(b"abcd", true), v(b"efgh", false), v(b"z", false)]
        );
    }

    #[test]
    fn domain_of_is_after_the_last_at() {
        for a in ["dev@example.com", "a@b@c.lan", "no-at", "", "@", "x@", "@y"] {
            assert_eq!(domain_of(a), a.rsplit_once('@').map(|(_, d)| d), "{a:?}");
        }
    }

    #[test]
    fn base64_writes_whole_groups_only() {
        let mut out = [0u8; 6];
        assert_eq!(encode_base64(b"foobar", &mut out), 4);
        assert_eq!(&out[..4], b"Zm9v");
        assert_eq!(encode_base64(b"foobar", &mut []), 0);
    }

    proptest! {
        /// `from_bytes` keeps what pushing the bytes one by one keeps:
        /// the first 60, printable ASCII, others as `?`.
        #[test]
        fn reply_text_from_bytes_is_pushing_them(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let mut pushed = ReplyText::EMPTY;
            for &b in &bytes {
                pushed.push(b);
            }
            let t = ReplyText::from_bytes(&bytes);
            prop_assert!(t == pushed);
            prop_assert_eq!(t.as_str().len(), bytes.len().min(REPLY_TEXT));
        }

        /// Against the crate, on the pieces the mail clients encode: any
        /// length through `put_base64` (48-byte pieces), the attachment's
        /// 57-byte lines, RFC 2047 words of up to 45 bytes, AUTH's parts
        /// split anywhere.
        #[test]
        fn base64_matches_the_crate(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            prop_assert_eq!(ours(|w| put_base64(w, &bytes)), crate_base64(&bytes));
            for size in [45usize, 48, 57] {
                for chunk in bytes.chunks(size) {
                    let mut out = [0u8; 76];
                    let n = encode_base64(chunk, &mut out);
                    let expect = crate_base64(chunk);
                    prop_assert_eq!(&out[..n], expect.as_slice());
                }
            }
        }

        #[test]
        fn base64_parts_match_the_crate(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let mut parts = Vec::new();
            let mut at = 0;
            for c in cuts.into_iter().chain([bytes.len()]) {
                parts.push(&bytes[at..c]);
                at = c;
            }
            prop_assert_eq!(ours(|w| put_base64_parts(w, &parts)), crate_base64(&bytes));
        }
    }
}
