//! SMTP client (RFC 5321) with AUTH PLAIN or LOGIN (RFC 4954, 4616) and a
//! MIME message (RFC 2045–2049): a text part and, when asked, a base64
//! attachment.
//!
//! [`SmtpClient::send`] starts a session; [`SmtpClient::poll`] (called by
//! the application after `Stack::poll`) runs it and returns the outcome
//! once the connection is closed and the client idle again. The steps:
//!
//! 1. **Resolve**: the server's name through the stack's DNS client, or
//!    with `[smtp] mx = true` the first recipient's domain's mail exchange
//!    (MX, most preferred with an address; a domain without MX records is
//!    its own exchange). An address needs no lookup.
//! 2. **Connect**: ARP and the TCP handshake (`Stack::tcp_connect`).
//! 3. **Greeting** `220`, **EHLO** (the multi-line `250-` reply read to
//!    its end for `AUTH ... LOGIN` and `8BITMIME`), or **HELO** when the
//!    server does not know EHLO (500–504, 550).
//! 4. **AUTH** when there are credentials: **PLAIN** (RFC 4616, the
//!    initial response `\0user\0password` in base64 with the command) when
//!    the server offers it, else **LOGIN**: user name and password in
//!    base64, each after a `334` (the challenge text is not checked:
//!    servers word it differently). Neither offered (or only HELO known):
//!    [`SmtpError::NoAuthMechanism`], never an unauthenticated send. To a
//!    server found by name, only with `cleartext_auth_by_name`
//!    ([`SmtpError::CleartextAuthByName`] from `send` otherwise).
//! 5. **MAIL FROM**, **RCPT TO** for every recipient (`250`/`251`),
//!    **DATA** `354`, the message, `.`, `250`, **QUIT**.
//!
//! Every reply code is checked: anything but the expected one ends the
//! session with [`SmtpError::Rejected`] carrying the server's code and
//! text; QUIT is still sent politely, and the connection closed. No
//! complete reply line within `[smtp] timeout` ([`SmtpError::Timeout`];
//! while our bytes are not all acknowledged TCP's own retransmission limit
//! applies instead, since its backed-off timer may exceed ours), the whole
//! session over `[smtp] session_timeout` (whatever the server does: a zero
//! window included), a reply line over 512 bytes, a connection closed
//! or reset by the server ([`SmtpError::Closed`], [`SmtpError::Reset`]) or
//! a reply that is not SMTP ([`SmtpError::Malformed`]) end it too, with
//! the connection reset. Either way the client is idle again when `poll`
//! reports the outcome, and a new `send` may start.
//!
//! # The message
//!
//! ```text
//! From: <from>
//! To: <to 0>,
//!  <to 1>
//! Subject: <subject; RFC 2047 encoded words when not ASCII>
//! Date: Thu, 01 Jan 2026 12:00:00 +0000          (when the time is known)
//! Message-ID: <hex.ember@<from's domain>>
//! MIME-Version: 1.0
//! Content-Type: multipart/mixed; boundary="=_ember_<hex>"
//!
//! --=_ember_<hex>
//! Content-Type: text/plain; charset=utf-8
//! Content-Transfer-Encoding: 8bit
//!
//! <text: line ends made CR LF, lines starting with '.' dot-stuffed,
//!  lines over 998 bytes broken>
//! --=_ember_<hex>                                 (with an attachment)
//! Content-Type: <type>; name="<file>"
//! Content-Disposition: attachment; filename="<file>"
//! Content-Transfer-Encoding: base64
//!
//! <base64, 76 characters a line>
//! --=_ember_<hex>--
//! .
//! ```
//!
//! # Pulled, never buffered, and the rewind
//!
//! The text and the attachment are read from the application
//! ([`Outgoing::read`]) by position, a few dozen bytes at a time, while TCP
//! pulls the stream. When TCP retransmits it asks for an older stream
//! offset (see [`tcp`](crate::tcp)); the client then moves its reading
//! position back — the seed's "rewind" — and produces the same bytes
//! again. The attachment's encoding is a pure function of the position
//! (57 bytes make one 76-character line), so going back is a computation.
//! The text's encoding depends on what came before (dot-stuffing, line
//! ends, line length), so the client keeps [`Snapshot`]s of the text
//! encoder at the start of each segment in flight (12 bytes each, as many
//! as segments can be in flight plus two) and restarts from the nearest one.
//! The application only has to give the same bytes for the same position.

use crate::config::{Config, Table};
use crate::dns::DnsError;
use crate::iface::PayloadSink;
use crate::mail::{
    command_byte, put_base64, put_base64_parts, Link, LinkFailure, MailServer, Phase, ReplyText,
    Target, Timeouts, Window,
};
use crate::nic::Nic;
use crate::stack::Stack;
use crate::tcp::{TcpError, TcpEvent, TcpHandle, TcpReader};
use crate::time::{Duration, Instant};
use crate::udp::Endpoint;
use core::fmt;

/// The SMTP settings from `stack.toml` (`[smtp]`), implemented by the
/// generated `Device` when the section is present.
pub trait SmtpSettings: 'static {
    /// The server (`server`); `None`: the application names it
    /// ([`Outgoing::server`]) or `USE_MX` is set.
    const SERVER: Option<MailServer>;
    /// The server's port (`port`, 25; 587 for submission).
    const PORT: u16;
    /// Send to the first recipient's domain's mail exchange (`mx`).
    const USE_MX: bool;
    /// AUTH user name (`user`); the application's
    /// [`Outgoing::credentials`] take precedence.
    const USER: Option<&'static str>;
    /// AUTH password (`password`).
    const PASSWORD: Option<&'static str>;
    /// The EHLO/HELO name (`helo`); `None`: our address as a literal,
    /// `[10.0.0.2]`.
    const HELO: Option<&'static str>;
    /// How long each step may take (`timeout`): resolving, connecting,
    /// each reply; while the message is sent, the time without progress.
    const TIMEOUT: Duration;
    /// How long a whole session may take (`session_timeout`), whatever
    /// the server does.
    const SESSION_TIMEOUT: Duration;
    /// Credentials may go (in clear text: there is no TLS) to a server
    /// found by name through DNS (`cleartext_auth_by_name`); otherwise
    /// only to a server given as an address.
    const AUTH_BY_NAME: bool;
    /// Text-encoder snapshots: `[Snapshot; segments in flight + 2]`.
    type Snapshots: Table<Snapshot>;
}

/// The two streams a message reads from the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The text part (UTF-8; any line ends).
    Text,
    /// The attachment's bytes.
    Attachment,
}

/// An attachment's name and type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attachment<'a> {
    /// The file name shown to the recipient (`status.bin`).
    pub file_name: &'a str,
    /// Its MIME type (`application/octet-stream`).
    pub content_type: &'a str,
}

/// The message being sent, as the application provides it. The client
/// reads it while the session runs (from `poll` and the TCP callbacks),
/// so it must not change until the outcome is reported: the same calls
/// must give the same answers, or a retransmission would differ.
pub trait Outgoing {
    /// The sender (`MAIL FROM` and the `From:` header): `dev@example.com`.
    fn from(&self) -> &str;
    /// Recipient `index` (0, 1, ...), `None` after the last; at least one.
    fn to(&self, index: usize) -> Option<&str>;
    /// The subject (UTF-8).
    fn subject(&self) -> &str;
    /// The attachment's name and type, `None` for a text-only message.
    fn attachment(&self) -> Option<Attachment<'_>> {
        None
    }
    /// Copies bytes of `part` from position `at` into `buf`; returns how
    /// many. Fewer than `buf.len()` means the part ends there. The same
    /// position must always give the same bytes: after a retransmission
    /// the client reads from an earlier position again (the rewind).
    fn read(&mut self, part: Part, at: u32, buf: &mut [u8]) -> usize;
    /// The server (address or host name) when not the one in
    /// `stack.toml`, e.g. from a settings page.
    fn server(&self) -> Option<&str> {
        None
    }
    /// User name and password when not the ones in `stack.toml`.
    fn credentials(&self) -> Option<(&str, &str)> {
        None
    }
    /// Send to the first recipient's domain's mail exchange (MX) rather
    /// than to a server; `None`: as `[smtp] mx` says. Ignored when
    /// [`server`](Outgoing::server) names one.
    fn use_mx(&self) -> Option<bool> {
        None
    }
}

/// A step of the session (also where a failure happened).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpStep {
    /// Looking up the server's address (A or MX).
    Resolve,
    /// ARP and the TCP handshake.
    Connect,
    /// Waiting for `220`.
    Greeting,
    /// `EHLO`.
    Ehlo,
    /// `HELO` (the server does not know EHLO).
    Helo,
    /// `AUTH PLAIN` with the credentials (RFC 4616).
    AuthPlain,
    /// `AUTH LOGIN`.
    AuthLogin,
    /// The base64 user name.
    AuthUser,
    /// The base64 password.
    AuthPassword,
    /// `MAIL FROM`.
    MailFrom,
    /// `RCPT TO`.
    RcptTo,
    /// `DATA`.
    Data,
    /// The message and its final `.`.
    Message,
    /// `QUIT`.
    Quit,
}

impl SmtpStep {
    /// The step's name in logs (`MAIL FROM`).
    pub const fn name(self) -> &'static str {
        match self {
            SmtpStep::Resolve => "resolve",
            SmtpStep::Connect => "connect",
            SmtpStep::Greeting => "greeting",
            SmtpStep::Ehlo => "EHLO",
            SmtpStep::Helo => "HELO",
            SmtpStep::AuthPlain => "AUTH PLAIN",
            SmtpStep::AuthLogin => "AUTH LOGIN",
            SmtpStep::AuthUser => "AUTH user",
            SmtpStep::AuthPassword => "AUTH password",
            SmtpStep::MailFrom => "MAIL FROM",
            SmtpStep::RcptTo => "RCPT TO",
            SmtpStep::Data => "DATA",
            SmtpStep::Message => "message",
            SmtpStep::Quit => "QUIT",
        }
    }
}

impl fmt::Display for SmtpStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a session is: [`SmtpClient::state`]. Its `Display` is the
/// progress line a status page shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpState {
    /// No session.
    Idle,
    /// Looking up the server.
    Resolving,
    /// ARP and the handshake with the server.
    Connecting {
        /// The server.
        server: Endpoint,
    },
    /// A command is out (or going out) and its reply awaited.
    Command(SmtpStep),
    /// `RCPT TO` for recipient `index` (from 0).
    Recipient {
        /// Which recipient.
        index: u16,
    },
    /// The message is going out.
    Sending {
        /// Message bytes the server has acknowledged.
        acked: u32,
    },
    /// The session is over; the connection is closing.
    Closing,
}

impl fmt::Display for SmtpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmtpState::Idle => f.write_str("idle"),
            SmtpState::Resolving => f.write_str("looking up the mail server"),
            SmtpState::Connecting { server } => write!(f, "connecting to {server}"),
            SmtpState::Command(SmtpStep::Greeting) => f.write_str("waiting for the greeting"),
            SmtpState::Command(step) => write!(f, "{step}"),
            SmtpState::Recipient { index } => {
                write!(
                    f,
                    "RCPT TO (recipient {})",
                    u32::from(*index).saturating_add(1)
                )
            }
            SmtpState::Sending { acked } => write!(f, "sending the message ({acked} bytes)"),
            SmtpState::Closing => f.write_str("closing"),
        }
    }
}

/// Why a message was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpError {
    /// A session is under way ([`SmtpClient::send`]).
    Busy,
    /// The message has no recipient.
    NoRecipient,
    /// No server: none in `stack.toml`, none from the application, and no
    /// `mx = true`.
    NoServer,
    /// The server's name (or MX) could not be resolved.
    Dns(DnsError),
    /// No TCP connection could be opened (no free socket...).
    Tcp(TcpError),
    /// The server answered a step with another code than expected
    /// (4xx: try later; 5xx: refused).
    Rejected {
        /// The step.
        step: SmtpStep,
        /// The reply code (`535`).
        code: u16,
        /// The start of its text.
        text: ReplyText,
    },
    /// A reply that is not SMTP, or one that came too early.
    Malformed(SmtpStep),
    /// Nothing happened for `[smtp] timeout` at this step.
    Timeout(SmtpStep),
    /// The server closed the connection during this step.
    Closed(SmtpStep),
    /// The connection was reset (or TCP gave up) during this step.
    Reset(SmtpStep),
    /// There are credentials, but the server offers no AUTH mechanism the
    /// client speaks (PLAIN, LOGIN) or does not know EHLO: the message is
    /// not sent unauthenticated.
    NoAuthMechanism,
    /// There are credentials and the server was to be found by name (DNS
    /// A or MX), which `[smtp] cleartext_auth_by_name` does not allow:
    /// nothing was sent.
    CleartextAuthByName,
    /// `[smtp]` is not in `stack.toml` (for applications generic over
    /// configurations; the client itself never returns it).
    Disabled,
}

impl SmtpError {
    /// The server's reply code, when the server refused.
    pub fn code(&self) -> Option<u16> {
        match self {
            SmtpError::Rejected { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl fmt::Display for SmtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmtpError::Busy => f.write_str("busy: a message is being sent"),
            SmtpError::NoRecipient => f.write_str("no recipient"),
            SmtpError::NoServer => f.write_str("no server ([smtp] server in stack.toml)"),
            SmtpError::Dns(e) => write!(f, "resolve failed: {e}"),
            SmtpError::Tcp(e) => write!(f, "connect failed: {e}"),
            SmtpError::Rejected { step, code, text } => write!(f, "{code} {text} ({step})"),
            SmtpError::Malformed(step) => write!(f, "malformed reply ({step})"),
            SmtpError::Timeout(step) => write!(f, "timeout ({step})"),
            SmtpError::Closed(step) => write!(f, "closed by the server ({step})"),
            SmtpError::Reset(step) => write!(f, "connection reset ({step})"),
            SmtpError::NoAuthMechanism => {
                f.write_str("the server offers no AUTH mechanism we speak (PLAIN, LOGIN)")
            }
            SmtpError::CleartextAuthByName => f.write_str(
                "credentials not sent in clear text to a server found by name \
                 ([smtp] cleartext_auth_by_name)",
            ),
            SmtpError::Disabled => f.write_str("[smtp] is not enabled in stack.toml"),
        }
    }
}

/// What the client has done, for diagnostics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SmtpStats {
    /// Messages sent.
    pub sent: u32,
    /// Sessions that failed.
    pub failed: u32,
    /// Times TCP went back to resend part of the message (each one moves
    /// the reading position back: the rewind).
    pub rewinds: u32,
    /// Text-part bytes encoded again to reach a retransmitted offset.
    pub regenerated: u32,
}

/// The text encoder's state at one offset of the text part; restarting
/// from it gives the same bytes as the first time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Offset in the encoded text part.
    wire: u32,
    /// Position in the application's text.
    src: u32,
    /// Column in the current line.
    col: u16,
    flags: u8,
}

/// `Snapshot::flags`.
mod snap {
    pub const VALID: u8 = 1;
    pub const LINE_START: u8 = 2;
    /// The LF of a CR LF is still to be written.
    pub const LF: u8 = 4;
    /// The second dot of a stuffed line start is still to be written.
    pub const DOT: u8 = 8;
}

impl Snapshot {
    const START: Snapshot = Snapshot {
        wire: 0,
        src: 0,
        col: 0,
        flags: snap::VALID | snap::LINE_START,
    };

    fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    fn set(&mut self, f: u8, on: bool) {
        if on {
            self.flags |= f;
        } else {
            self.flags &= !f;
        }
    }
}

/// Longest line RFC 5321 §4.5.3.1.6 allows, without CR LF.
const MAX_LINE: u16 = 998;
/// Base64 attachment: source bytes and characters per line.
const B64_IN: u32 = 57;
const B64_OUT: u32 = 76;
/// A base64 line with its CR LF.
const B64_LINE: u32 = B64_OUT + 2;

/// EHLO keywords the client uses.
mod cap {
    pub const LOGIN: u8 = 1;
    pub const EIGHT_BIT: u8 = 2;
    pub const PLAIN: u8 = 4;
}

/// Reads SMTP replies byte by byte: `ddd-text` lines up to `ddd text`
/// (or a bare `ddd`), all with the same code; keeps the first line's text
/// and the EHLO keywords seen.
#[derive(Clone, Copy, Debug, Default)]
struct ReplyParser {
    col: u16,
    code: u16,
    /// The reply's code from its first line (0 before).
    first: u16,
    last: bool,
    bad: bool,
    text: ReplyText,
    tok: [u8; 10],
    /// Token length; 0xff: too long to be a keyword we know.
    tok_len: u8,
    tok_index: u8,
    auth_line: bool,
    caps: u8,
}

impl ReplyParser {
    /// One byte; `Some(Ok(code))` when a reply is complete, `Some(Err)`
    /// for one that is not SMTP.
    fn push(&mut self, b: u8) -> Option<Result<u16, ()>> {
        if self.col >= crate::mail::MAX_REPLY_LINE {
            *self = ReplyParser::default();
            return Some(Err(()));
        }
        if b == b'\n' {
            self.end_token();
            let ok = !self.bad && self.col >= 3 && (self.first == 0 || self.first == self.code);
            let done = self.last || self.col <= 4;
            if self.first == 0 {
                self.first = self.code;
                self.text.trim_end();
            }
            let first = self.first;
            self.col = 0;
            self.code = 0;
            self.last = false;
            self.bad = false;
            self.tok_index = 0;
            self.auth_line = false;
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
        if self.col == 0 && self.first == 0 {
            self.text = ReplyText::EMPTY;
        }
        match self.col {
            0..=2 => match b {
                b'0'..=b'9' => {
                    self.code = self
                        .code
                        .saturating_mul(10)
                        .saturating_add(u16::from(b.wrapping_sub(b'0')))
                }
                _ => self.bad = true,
            },
            3 => match b {
                b'-' => self.last = false,
                b' ' | b'\r' => self.last = true,
                _ => self.bad = true,
            },
            _ => {
                if self.first == 0 && b != b'\r' {
                    self.text.push(b);
                }
                if b == b' ' || b == b'\r' {
                    self.end_token();
                } else if usize::from(self.tok_len) < self.tok.len() {
                    if let Some(t) = self.tok.get_mut(usize::from(self.tok_len)) {
                        *t = b.to_ascii_uppercase();
                    }
                    self.tok_len = self.tok_len.saturating_add(1);
                } else {
                    self.tok_len = 0xff;
                }
            }
        }
        self.col = self.col.saturating_add(1);
        None
    }

    fn end_token(&mut self) {
        let len = usize::from(self.tok_len);
        if len == 0 {
            return;
        }
        let tok = self.tok.get(..len).unwrap_or(&[]);
        if self.tok_index == 0 {
            self.auth_line = tok == b"AUTH";
            // `AUTH=LOGIN`: the pre-RFC 4954 form some servers still send.
            if tok == b"AUTH=LOGIN" {
                self.caps |= cap::LOGIN;
            }
            if tok == b"AUTH=PLAIN" {
                self.caps |= cap::PLAIN;
            }
            if tok == b"8BITMIME" {
                self.caps |= cap::EIGHT_BIT;
            }
        } else if self.auth_line && tok == b"LOGIN" {
            self.caps |= cap::LOGIN;
        } else if self.auth_line && tok == b"PLAIN" {
            self.caps |= cap::PLAIN;
        }
        self.tok_index = self.tok_index.saturating_add(1);
        self.tok_len = 0;
    }
}

/// What the message generator needs besides the application.
#[derive(Clone, Copy, Debug, Default)]
struct Meta {
    id: u64,
    date: Option<u64>,
}

/// The SMTP client. The application embeds it (the generated
/// `Config::Smtp` type) and forwards the TCP callbacks of the socket it
/// [`owns`](SmtpClient::owns); see [`mail`](crate::mail).
pub struct SmtpClient<S: SmtpSettings> {
    link: Link,
    step: SmtpStep,
    timeouts: Timeouts,
    /// Stream offset where the current command starts.
    cmd_start: u32,
    rcpt: u16,
    caps: u8,
    reply: ReplyParser,
    meta: Meta,
    /// The session's result so far (the first failure wins).
    outcome: Option<Result<(), SmtpError>>,
    // The message, once DATA was accepted.
    has_attachment: bool,
    head_len: u32,
    text_end: Option<u32>,
    att_end: Option<u32>,
    cursor: Snapshot,
    snapshots: S::Snapshots,
    stats: SmtpStats,
}

impl<S: SmtpSettings> Default for SmtpClient<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: SmtpSettings> fmt::Debug for SmtpClient<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpClient")
            .field("state", &self.state())
            .field("stats", &self.stats)
            .finish()
    }
}

impl<S: SmtpSettings> SmtpClient<S> {
    /// An idle client with the `stack.toml` settings.
    pub fn new() -> Self {
        SmtpClient {
            link: Link::default(),
            step: SmtpStep::Resolve,
            timeouts: Timeouts {
                step: S::TIMEOUT,
                session: S::SESSION_TIMEOUT,
            },
            cmd_start: 0,
            rcpt: 0,
            caps: 0,
            reply: ReplyParser::default(),
            meta: Meta::default(),
            outcome: None,
            has_attachment: false,
            head_len: 0,
            text_end: None,
            att_end: None,
            cursor: Snapshot::START,
            snapshots: S::Snapshots::new_table(),
            stats: SmtpStats::default(),
        }
    }

    /// Changes the per-step timeout (`[smtp] timeout`) for later sessions.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeouts.step = timeout;
    }

    /// Changes the whole-session deadline (`[smtp] session_timeout`) for
    /// later sessions.
    pub fn set_session_timeout(&mut self, timeout: Duration) {
        self.timeouts.session = timeout;
    }

    /// Starts sending `message` (its content is read later, as the
    /// session goes). `unix_time` (seconds, from SNTP) becomes the `Date:`
    /// header; `random` makes the Message-ID and the MIME boundary.
    pub fn send<M: Outgoing>(
        &mut self,
        message: &M,
        unix_time: Option<u64>,
        random: u64,
    ) -> Result<(), SmtpError> {
        if self.link.phase != Phase::Idle {
            return Err(SmtpError::Busy);
        }
        if message.to(0).is_none() {
            return Err(SmtpError::NoRecipient);
        }
        if message.server().is_none() && S::SERVER.is_none() && !Self::mx(message) {
            return Err(SmtpError::NoServer);
        }
        let by_name = !matches!(Self::target(message), Target::Addr(_));
        if Self::credentials(message).is_some() && by_name && !S::AUTH_BY_NAME {
            return Err(SmtpError::CleartextAuthByName);
        }
        self.link.start();
        self.step = SmtpStep::Resolve;
        self.cmd_start = 0;
        self.rcpt = 0;
        self.caps = 0;
        self.reply = ReplyParser::default();
        self.meta = Meta {
            id: random,
            date: unix_time,
        };
        self.outcome = None;
        self.text_end = None;
        self.att_end = None;
        Ok(())
    }

    /// Where the session is.
    pub fn state(&self) -> SmtpState {
        match self.link.phase {
            Phase::Idle => SmtpState::Idle,
            Phase::Start | Phase::Resolving => SmtpState::Resolving,
            Phase::Connecting => SmtpState::Connecting {
                server: self.link.remote,
            },
            Phase::Open => match self.step {
                SmtpStep::RcptTo => SmtpState::Recipient { index: self.rcpt },
                SmtpStep::Message => SmtpState::Sending {
                    acked: self.link.acked.wrapping_sub(self.cmd_start),
                },
                step => SmtpState::Command(step),
            },
            Phase::Closing | Phase::Aborting | Phase::Finished => SmtpState::Closing,
        }
    }

    /// True when no session is under way (`send` may start one).
    pub fn is_idle(&self) -> bool {
        self.link.phase == Phase::Idle
    }

    /// What the client has done.
    pub fn stats(&self) -> SmtpStats {
        self.stats
    }

    /// Whether `socket` is this client's connection: forward its TCP
    /// callbacks here.
    pub fn owns(&self, socket: TcpHandle) -> bool {
        self.link.owns(socket)
    }

    /// When `poll` is next needed (a deadline, or now).
    pub fn poll_at(&self) -> Option<Instant> {
        self.link.poll_at()
    }

    /// Runs the session: DNS, connecting, deadlines, closing. Returns the
    /// outcome once, when the session is over and the client idle again.
    /// `random` feeds `tcp_connect` (ephemeral port, ISN key).
    pub fn poll<C: Config, N: Nic, M: Outgoing>(
        &mut self,
        stack: &mut Stack<C>,
        nic: &mut N,
        now: Instant,
        message: &M,
        random: &mut dyn FnMut() -> u32,
    ) -> Option<Result<(), SmtpError>> {
        if self.link.phase == Phase::Idle {
            return None;
        }
        let target = Self::target(message);
        self.link.sending = self.link.phase == Phase::Open
            && self
                .command_len(message)
                .is_none_or(|len| self.link.acked.wrapping_sub(self.cmd_start) < len);
        let before = self.link.phase;
        let r = self
            .link
            .poll(stack, nic, now, target, S::PORT, self.timeouts, random);
        if before != Phase::Connecting && self.link.phase == Phase::Connecting {
            self.step = SmtpStep::Connect;
        }
        if let Err(f) = r {
            let step = self.step;
            self.fail(match f {
                LinkFailure::Dns(e) => SmtpError::Dns(e),
                LinkFailure::Tcp(e) => SmtpError::Tcp(e),
                LinkFailure::Timeout => SmtpError::Timeout(step),
            });
            // Abort at once rather than on the next poll.
            let _ = self
                .link
                .poll(stack, nic, now, target, S::PORT, self.timeouts, random);
        }
        if !self.link.finished() {
            return None;
        }
        let outcome = self
            .outcome
            .take()
            .unwrap_or(Err(SmtpError::Closed(self.step)));
        match outcome {
            Ok(()) => self.stats.sent = self.stats.sent.saturating_add(1),
            Err(_) => self.stats.failed = self.stats.failed.saturating_add(1),
        }
        self.link.reset();
        Some(outcome)
    }

    /// Records a failure and ends the session: QUIT when a reply refused
    /// something between commands, a reset otherwise.
    fn fail(&mut self, e: SmtpError) {
        if self.outcome.is_none() {
            self.outcome = Some(Err(e));
        }
        let polite = matches!(e, SmtpError::Rejected { .. } | SmtpError::NoAuthMechanism)
            && self.link.phase == Phase::Open
            && self.step != SmtpStep::Quit
            && !self.link.peer_closed;
        if polite {
            // The failed command's reply came, so the stream is at a
            // command boundary: QUIT starts there.
            self.step = SmtpStep::Quit;
        } else {
            self.link.abort();
        }
    }

    /// A TCP event for the socket it owns (others are ignored).
    pub fn tcp_event(&mut self, socket: TcpHandle, event: TcpEvent) {
        if !self.owns(socket) {
            return;
        }
        let gone = self.link.on_event(event);
        match event {
            TcpEvent::Connected { .. } => {
                self.step = SmtpStep::Greeting;
                self.cmd_start = 0;
            }
            TcpEvent::Acked { offset } if self.step == SmtpStep::Message => {
                self.message_acked(offset.wrapping_sub(self.cmd_start))
            }
            TcpEvent::Retransmit { .. } if self.step == SmtpStep::Message => {
                self.stats.rewinds = self.stats.rewinds.saturating_add(1)
            }
            TcpEvent::PeerClosed => {
                if self.step != SmtpStep::Quit {
                    self.fail(SmtpError::Closed(self.step));
                }
                self.link.close_after_peer();
            }
            TcpEvent::Reset | TcpEvent::RegenerationMismatch { .. } => {
                self.fail(SmtpError::Reset(self.step))
            }
            TcpEvent::TimedOut => self.fail(SmtpError::Timeout(self.step)),
            TcpEvent::Closed if self.step != SmtpStep::Quit => {
                self.fail(SmtpError::Closed(self.step))
            }
            _ => {}
        }
        if gone {
            self.link.phase = Phase::Finished;
        }
    }

    /// Whether the client is done with the socket (FIN may go).
    pub fn tcp_wants_close(&mut self, socket: TcpHandle) -> bool {
        self.owns(socket) && self.link.wants_close()
    }

    /// Received bytes on its socket: replies. Takes everything.
    pub fn tcp_received<N: Nic, M: Outgoing>(
        &mut self,
        socket: TcpHandle,
        data: &mut TcpReader<'_, N>,
        message: &M,
    ) -> usize {
        let len = data.len();
        if !self.owns(socket) {
            return len;
        }
        let mut at = 0;
        let mut buf = [0u8; 64];
        while at < len {
            let n = data.read(at, &mut buf);
            if n == 0 {
                break;
            }
            self.on_bytes(buf.get(..n).unwrap_or(&[]), message);
            at = at.saturating_add(n);
        }
        len
    }

    /// Replies from the server (what `tcp_received` reads).
    fn on_bytes<M: Outgoing>(&mut self, bytes: &[u8], message: &M) {
        for &b in bytes {
            if self.link.phase != Phase::Open {
                return; // failed or closing: the rest does not matter
            }
            // A complete line is progress; single bytes are not (a server
            // dribbling one byte at a time cannot hold the step open).
            self.link.touched |= b == b'\n';
            match self.reply.push(b) {
                None => {}
                Some(Ok(code)) => self.on_reply(code, message),
                Some(Err(())) => self.fail(SmtpError::Malformed(self.step)),
            }
        }
    }

    /// Where the session connects: the application's server, the
    /// recipient's mail exchange, or `stack.toml`'s server.
    fn target<M: Outgoing>(message: &M) -> Target<'_> {
        match message.server() {
            Some(s) => Target::parse(s),
            None if Self::mx(message) => {
                let to = message.to(0).unwrap_or("");
                Target::Mx(to.rsplit_once('@').map_or(to, |(_, d)| d))
            }
            None => match S::SERVER {
                Some(s) => Target::from_setting(s),
                None => Target::Name(""),
            },
        }
    }

    fn mx<M: Outgoing>(message: &M) -> bool {
        message.use_mx().unwrap_or(S::USE_MX)
    }

    fn credentials<M: Outgoing>(message: &M) -> Option<(&str, &str)> {
        message.credentials().or(match (S::USER, S::PASSWORD) {
            (Some(u), Some(p)) => Some((u, p)),
            _ => None,
        })
    }

    /// The length of the current command (the message's once known).
    fn command_len<M: Outgoing>(&self, message: &M) -> Option<u32> {
        if self.step == SmtpStep::Message {
            return self.message_len();
        }
        let mut w = Window::counter();
        self.command(&mut w, message);
        u32::try_from(w.pos).ok()
    }

    fn on_reply<M: Outgoing>(&mut self, code: u16, message: &M) {
        let step = self.step;
        // The reply must follow the whole command: the server cannot have
        // read it otherwise, and the next command starts where it ends.
        let Some(len) = self.command_len(message) else {
            return self.fail(SmtpError::Malformed(step));
        };
        let end = self.cmd_start.wrapping_add(len);
        if self.link.acked.wrapping_sub(self.cmd_start) < len {
            return self.fail(SmtpError::Malformed(step));
        }
        let next = match (step, code) {
            (SmtpStep::Greeting, 220) => SmtpStep::Ehlo,
            (SmtpStep::Ehlo, 250) => {
                self.caps = self.reply.caps;
                match Self::credentials(message) {
                    None => SmtpStep::MailFrom,
                    Some(_) if self.caps & cap::PLAIN != 0 => SmtpStep::AuthPlain,
                    Some(_) if self.caps & cap::LOGIN != 0 => SmtpStep::AuthLogin,
                    Some(_) => {
                        self.cmd_start = end;
                        return self.fail(SmtpError::NoAuthMechanism);
                    }
                }
            }
            (SmtpStep::Ehlo, 500..=504 | 550) => SmtpStep::Helo,
            (SmtpStep::Helo, 250) if Self::credentials(message).is_some() => {
                // HELO has no extensions, so no AUTH.
                self.cmd_start = end;
                return self.fail(SmtpError::NoAuthMechanism);
            }
            (SmtpStep::Helo, 250) => SmtpStep::MailFrom,
            (SmtpStep::AuthPlain, 235) => SmtpStep::MailFrom,
            (SmtpStep::AuthLogin, 334) => SmtpStep::AuthUser,
            (SmtpStep::AuthUser, 334) => SmtpStep::AuthPassword,
            (SmtpStep::AuthPassword, 235) => SmtpStep::MailFrom,
            (SmtpStep::MailFrom, 250) => {
                self.rcpt = 0;
                SmtpStep::RcptTo
            }
            (SmtpStep::RcptTo, 250 | 251) => {
                let more = message
                    .to(usize::from(self.rcpt).saturating_add(1))
                    .is_some();
                if more && self.rcpt < u16::MAX {
                    self.rcpt = self.rcpt.saturating_add(1);
                    SmtpStep::RcptTo
                } else {
                    SmtpStep::Data
                }
            }
            (SmtpStep::Data, 354) => {
                self.begin_message(message);
                SmtpStep::Message
            }
            (SmtpStep::Message, 250) => {
                self.outcome.get_or_insert(Ok(()));
                SmtpStep::Quit
            }
            (SmtpStep::Quit, _) => {
                self.cmd_start = end;
                self.link.close_after_peer();
                return;
            }
            _ => {
                // The refused command is complete: a QUIT starts after it.
                self.cmd_start = end;
                return self.fail(SmtpError::Rejected {
                    step,
                    code,
                    text: self.reply.text,
                });
            }
        };
        if next == SmtpStep::Ehlo {
            self.reply.caps = 0; // only the EHLO reply's keywords count
        }
        self.cmd_start = end;
        self.step = next;
    }

    /// The bytes of the current command (not the message) into `w`.
    fn command<M: Outgoing>(&self, w: &mut Window<'_>, message: &M) {
        fn address(b: u8) -> bool {
            command_byte(b) && !matches!(b, b'<' | b'>' | b' ')
        }
        match self.step {
            SmtpStep::Ehlo | SmtpStep::Helo => {
                w.put(if self.step == SmtpStep::Ehlo {
                    b"EHLO "
                } else {
                    b"HELO "
                });
                match S::HELO {
                    Some(name) => w.put_filtered(name.as_bytes(), address),
                    None => {
                        w.put(b"[");
                        for (i, o) in self.link.local.0.iter().enumerate() {
                            if i > 0 {
                                w.put(b".");
                            }
                            w.put_u64(u64::from(*o));
                        }
                        w.put(b"]");
                    }
                }
            }
            SmtpStep::AuthPlain => {
                // RFC 4616: [authzid] NUL authcid NUL passwd, as the
                // initial response (RFC 4954 §4), one round trip.
                let (user, password) = Self::credentials(message).unwrap_or(("", ""));
                w.put(b"AUTH PLAIN ");
                put_base64_parts(w, &[b"\0", user.as_bytes(), b"\0", password.as_bytes()]);
            }
            SmtpStep::AuthLogin => w.put(b"AUTH LOGIN"),
            SmtpStep::AuthUser | SmtpStep::AuthPassword => {
                let (user, password) = Self::credentials(message).unwrap_or(("", ""));
                let secret = if self.step == SmtpStep::AuthUser {
                    user
                } else {
                    password
                };
                put_base64(w, secret.as_bytes());
            }
            SmtpStep::MailFrom => {
                w.put(b"MAIL FROM:<");
                w.put_filtered(message.from().as_bytes(), address);
                w.put(b">");
                if self.caps & cap::EIGHT_BIT != 0 {
                    w.put(b" BODY=8BITMIME");
                }
            }
            SmtpStep::RcptTo => {
                w.put(b"RCPT TO:<");
                let to = message.to(usize::from(self.rcpt)).unwrap_or("");
                w.put_filtered(to.as_bytes(), address);
                w.put(b">");
            }
            SmtpStep::Data => w.put(b"DATA"),
            SmtpStep::Quit => w.put(b"QUIT"),
            SmtpStep::Resolve | SmtpStep::Connect | SmtpStep::Greeting | SmtpStep::Message => {
                return
            }
        }
        w.put(b"\r\n");
    }

    /// The stream bytes at `offset` for its socket (the command being
    /// sent, or the message), at most `max`. The same offset always gives
    /// the same bytes; see the module docs.
    pub fn tcp_produce<M: Outgoing>(
        &mut self,
        socket: TcpHandle,
        offset: u32,
        max: usize,
        sink: &mut dyn PayloadSink,
        message: &mut M,
    ) {
        if !self.owns(socket) || self.link.phase != Phase::Open {
            return;
        }
        let rel = offset.wrapping_sub(self.cmd_start);
        if rel > u32::MAX / 2 {
            return; // before the current command: long acknowledged
        }
        if self.step == SmtpStep::Message {
            self.produce_message(rel, max, sink, message);
        } else {
            let mut w = Window::new(sink, rel as usize, max);
            self.command(&mut w, message);
        }
    }

    // ----- the message -----

    fn begin_message<M: Outgoing>(&mut self, message: &M) {
        self.has_attachment = message.attachment().is_some();
        let mut w = Window::counter();
        self.head(&mut w, message);
        self.head_len = u32::try_from(w.pos).unwrap_or(u32::MAX);
        self.text_end = None;
        self.att_end = None;
        for s in self.snapshots.slots_mut() {
            *s = Snapshot::default();
        }
        self.cursor = Snapshot::START;
        self.push_snapshot(Snapshot::START);
    }

    /// The message's length, once the last part's end is known.
    fn message_len(&self) -> Option<u32> {
        let mut end = self.text_end?;
        if self.has_attachment {
            end = self.att_end?;
        }
        Some(end.saturating_add(trailer_len(self.meta)))
    }

    fn message_acked(&mut self, rel: u32) {
        // Snapshots the stack can no longer ask for (before the latest one
        // at or below the acknowledged offset) are freed.
        let Some(t) = rel.checked_sub(self.head_len) else {
            return;
        };
        let keep = self
            .snapshots
            .slots()
            .iter()
            .filter(|s| s.has(snap::VALID) && s.wire <= t)
            .map(|s| s.wire)
            .max();
        if let Some(keep) = keep {
            for s in self.snapshots.slots_mut() {
                if s.wire < keep {
                    *s = Snapshot::default();
                }
            }
        }
    }

    fn push_snapshot(&mut self, st: Snapshot) {
        let slots = self.snapshots.slots_mut();
        if slots
            .iter()
            .any(|s| s.has(snap::VALID) && s.wire == st.wire)
        {
            return;
        }
        let free = slots.iter().position(|s| !s.has(snap::VALID));
        let i = free.or_else(|| {
            slots
                .iter()
                .enumerate()
                .min_by_key(|(_, s)| s.wire)
                .map(|(i, _)| i)
        });
        if let Some(s) = i.and_then(|i| slots.get_mut(i)) {
            *s = st;
        }
    }

    /// The text encoder's state at text offset `target`, from the cursor
    /// or the nearest snapshot before it (encoding forward to it).
    fn text_state<M: Outgoing>(&mut self, target: u32, message: &mut M) -> Option<Snapshot> {
        if self.cursor.wire == target {
            return Some(self.cursor);
        }
        let mut st = self
            .snapshots
            .slots()
            .iter()
            .chain(core::iter::once(&self.cursor))
            .copied() // by value: selecting a reference made LLVM call memmove
            .filter(|s| s.has(snap::VALID) && s.wire <= target)
            .max_by_key(|s| s.wire)?;
        let mut scratch = [0u8; 128];
        while st.wire < target {
            let room = (target.saturating_sub(st.wire) as usize).min(scratch.len());
            let (n, ended) = encode_text(&mut st, message, scratch.get_mut(..room)?);
            self.stats.regenerated = self
                .stats
                .regenerated
                .saturating_add(u32::try_from(n).unwrap_or(0));
            if n == 0 || ended {
                break;
            }
        }
        (st.wire == target).then_some(st)
    }

    fn produce_message<M: Outgoing>(
        &mut self,
        rel: u32,
        max: usize,
        sink: &mut dyn PayloadSink,
        message: &mut M,
    ) {
        let meta = self.meta;
        let mut pos = rel;
        let mut left = max;
        let mut buf = [0u8; 128];
        let mut guard = 0u32;
        while left > 0 && guard < 64 {
            guard = guard.saturating_add(1);
            let before = left;
            if pos < self.head_len {
                let mut w = Window::new(sink, pos as usize, left);
                self.head(&mut w, message);
                let n = before.saturating_sub(w.remaining());
                pos = pos.saturating_add(u32::try_from(n).unwrap_or(0));
                left = left.saturating_sub(n);
            } else if self.text_end.is_none_or(|e| pos < e) {
                let target = pos.saturating_sub(self.head_len);
                let Some(mut st) = self.text_state(target, message) else {
                    return; // cannot regenerate: the stack will reset
                };
                self.push_snapshot(st);
                let mut ended = false;
                while left > 0 {
                    let room = left.min(buf.len());
                    let Some(out) = buf.get_mut(..room) else {
                        break;
                    };
                    let (n, end) = encode_text(&mut st, message, out);
                    sink.write(out.get(..n).unwrap_or(&[]));
                    left = left.saturating_sub(n);
                    pos = pos.saturating_add(u32::try_from(n).unwrap_or(0));
                    if end {
                        ended = true;
                        break;
                    }
                    if n == 0 {
                        break;
                    }
                }
                self.cursor = st;
                if ended {
                    self.text_end = Some(self.head_len.saturating_add(st.wire));
                }
            } else {
                let Some(text_end) = self.text_end else {
                    return;
                };
                let trailer_start = if self.has_attachment {
                    let mut w = Window::counter();
                    middle(&mut w, meta, message);
                    let att_start = text_end.saturating_add(u32::try_from(w.pos).unwrap_or(0));
                    if pos < att_start {
                        let mut w = Window::new(sink, pos.saturating_sub(text_end) as usize, left);
                        middle(&mut w, meta, message);
                        let n = before.saturating_sub(w.remaining());
                        pos = pos.saturating_add(u32::try_from(n).unwrap_or(0));
                        left = left.saturating_sub(n);
                        continue;
                    }
                    if self.att_end.is_none_or(|e| pos < e) {
                        let (n, end) =
                            base64_part(pos.saturating_sub(att_start), left, sink, message);
                        pos = pos.saturating_add(u32::try_from(n).unwrap_or(0));
                        left = left.saturating_sub(n);
                        if let Some(e) = end {
                            self.att_end = Some(att_start.saturating_add(e));
                        }
                        continue;
                    }
                    self.att_end.unwrap_or(u32::MAX)
                } else {
                    text_end
                };
                let mut w = Window::new(sink, pos.saturating_sub(trailer_start) as usize, left);
                trailer(&mut w, meta);
                let n = before.saturating_sub(w.remaining());
                if n == 0 {
                    break; // the message has ended
                }
                pos = pos.saturating_add(u32::try_from(n).unwrap_or(0));
                left = left.saturating_sub(n);
            }
        }
    }

    /// Headers, the preamble and the text part's own headers.
    fn head<M: Outgoing>(&self, w: &mut Window<'_>, message: &M) {
        let meta = self.meta;
        w.put(b"From: ");
        w.put_filtered(message.from().as_bytes(), header_byte);
        w.put(b"\r\nTo: ");
        let mut i = 0;
        while let Some(to) = message.to(i) {
            if i > 0 {
                w.put(b",\r\n ");
            }
            w.put_filtered(to.as_bytes(), header_byte);
            i = i.saturating_add(1);
        }
        w.put(b"\r\nSubject: ");
        put_subject(w, message.subject().as_bytes());
        w.put(b"\r\n");
        if let Some(t) = meta.date {
            w.put(b"Date: ");
            put_date(w, t);
            w.put(b"\r\n");
        }
        w.put(b"Message-ID: <");
        w.put_hex(meta.id, 16);
        w.put(b".ember@");
        let from = message.from();
        let domain = from
            .rsplit_once('@')
            .map_or("emberstack.invalid", |(_, d)| d);
        w.put_filtered(domain.as_bytes(), |b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']')
        });
        w.put(b">\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"");
        put_boundary(w, meta);
        w.put(b"\"\r\n\r\nThis is a multi-part message in MIME format.\r\n--");
        put_boundary(w, meta);
        w.put(
            b"\r\nContent-Type: text/plain; charset=utf-8\r\n\
              Content-Transfer-Encoding: 8bit\r\n\r\n",
        );
    }
}

/// A byte allowed in a header value: no controls (CR LF would end the
/// header and start a forged one), UTF-8 kept.
fn header_byte(b: u8) -> bool {
    b == b'\t' || command_byte(b)
}

fn put_boundary(w: &mut Window<'_>, meta: Meta) {
    w.put(b"=_ember_");
    w.put_hex(meta.id, 16);
}

/// Between the text and the attachment: its part headers.
fn middle<M: Outgoing>(w: &mut Window<'_>, meta: Meta, message: &M) {
    fn name_byte(b: u8) -> bool {
        command_byte(b) && !matches!(b, b'"' | b'\\')
    }
    fn type_byte(b: u8) -> bool {
        b.is_ascii_graphic() && !matches!(b, b'"' | b';' | b'\\' | b',')
    }
    let a = message.attachment().unwrap_or(Attachment {
        file_name: "attachment",
        content_type: "application/octet-stream",
    });
    w.put(b"\r\n--");
    put_boundary(w, meta);
    w.put(b"\r\nContent-Type: ");
    w.put_filtered(a.content_type.as_bytes(), type_byte);
    w.put(b"; name=\"");
    w.put_filtered(a.file_name.as_bytes(), name_byte);
    w.put(b"\"\r\nContent-Disposition: attachment; filename=\"");
    w.put_filtered(a.file_name.as_bytes(), name_byte);
    w.put(b"\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
}

/// The closing boundary and the end of DATA.
fn trailer(w: &mut Window<'_>, meta: Meta) {
    w.put(b"\r\n--");
    put_boundary(w, meta);
    w.put(b"--\r\n.\r\n");
}

fn trailer_len(meta: Meta) -> u32 {
    let mut w = Window::counter();
    trailer(&mut w, meta);
    u32::try_from(w.pos).unwrap_or(0)
}

/// The subject as is when ASCII, otherwise as RFC 2047 "B" encoded words
/// of at most 45 bytes (60 characters, whole UTF-8 characters each) on
/// folded lines.
fn put_subject(w: &mut Window<'_>, subject: &[u8]) {
    if subject.iter().all(|&b| b < 0x80) {
        w.put_filtered(subject, header_byte);
        return;
    }
    let mut rest = subject;
    let mut first = true;
    while !rest.is_empty() {
        let mut n = rest.len().min(45);
        // Do not split a UTF-8 character (continuation bytes are 10xxxxxx).
        while n > 1 && n < rest.len() && rest.get(n).is_some_and(|b| b & 0xc0 == 0x80) {
            n = n.saturating_sub(1);
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

/// RFC 5322 date in UTC: `Thu, 01 Jan 1970 00:00:00 +0000`.
fn put_date(w: &mut Window<'_>, unix: u64) {
    const DAYS: [&[u8]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = unix / 86_400;
    let secs = unix % 86_400;
    let (y, m, d) = civil_from_days(days);
    w.put(
        DAYS.get(((days.wrapping_add(4)) % 7) as usize)
            .copied()
            .unwrap_or(b"Thu"),
    );
    w.put(b", ");
    put2(w, d);
    w.put(b" ");
    w.put(
        MONTHS
            .get(m.wrapping_sub(1) as usize)
            .copied()
            .unwrap_or(b"Jan"),
    );
    w.put(b" ");
    w.put_u64(y);
    w.put(b" ");
    put2(w, secs / 3600);
    w.put(b":");
    put2(w, secs % 3600 / 60);
    w.put(b":");
    put2(w, secs % 60);
    w.put(b" +0000");
}

fn put2(w: &mut Window<'_>, v: u64) {
    if v < 10 {
        w.put(b"0");
    }
    w.put_u64(v);
}

/// Days since 1970-01-01 → (year, month 1–12, day 1–31); Howard
/// Hinnant's algorithm for the proleptic Gregorian calendar.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days.wrapping_add(719_468);
    let era = z / 146_097;
    let doe = z.wrapping_sub(era.wrapping_mul(146_097));
    let yoe = doe
        .wrapping_sub(doe / 1460)
        .wrapping_add(doe / 36_524)
        .wrapping_sub(doe / 146_096)
        / 365;
    let doy = doe.wrapping_sub(
        yoe.wrapping_mul(365)
            .wrapping_add(yoe / 4)
            .wrapping_sub(yoe / 100),
    );
    let mp = doy.wrapping_mul(5).wrapping_add(2) / 153;
    let d = doy
        .wrapping_sub(mp.wrapping_mul(153).wrapping_add(2) / 5)
        .wrapping_add(1);
    let m = if mp < 10 {
        mp.wrapping_add(3)
    } else {
        mp.wrapping_sub(9)
    };
    let y = yoe
        .wrapping_add(era.wrapping_mul(400))
        .wrapping_add(u64::from(m <= 2));
    (y, m, d)
}

/// Encodes text from `st` into `out`: CR dropped, LF → CR LF, a dot at a
/// line start doubled, a line reaching 998 bytes broken. Returns the bytes
/// written and whether the text has ended (nothing pending, nothing left).
fn encode_text<M: Outgoing>(st: &mut Snapshot, message: &mut M, out: &mut [u8]) -> (usize, bool) {
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
            st.col = st.col.saturating_add(1);
            b'.'
        } else {
            if at >= have {
                let room = out.len().saturating_sub(n).clamp(1, chunk.len());
                have = message.read(Part::Text, st.src, chunk.get_mut(..room).unwrap_or(&mut []));
                at = 0;
                if have == 0 {
                    ended = true;
                    break;
                }
            }
            let b = chunk.get(at).copied().unwrap_or(b'\n');
            match b {
                b'\r' => {
                    st.src = st.src.wrapping_add(1);
                    at = at.saturating_add(1);
                    continue;
                }
                b'\n' => {
                    st.src = st.src.wrapping_add(1);
                    at = at.saturating_add(1);
                    st.set(snap::LF, true);
                    b'\r'
                }
                _ if st.col >= MAX_LINE => {
                    // Break the line; the byte comes after the CR LF.
                    st.set(snap::LF, true);
                    b'\r'
                }
                b'.' if st.has(snap::LINE_START) => {
                    st.src = st.src.wrapping_add(1);
                    at = at.saturating_add(1);
                    st.set(snap::LINE_START, false);
                    st.set(snap::DOT, true);
                    st.col = st.col.saturating_add(1);
                    b'.'
                }
                _ => {
                    st.src = st.src.wrapping_add(1);
                    at = at.saturating_add(1);
                    st.set(snap::LINE_START, false);
                    st.col = st.col.saturating_add(1);
                    b
                }
            }
        };
        if let Some(o) = out.get_mut(n) {
            *o = emit;
        }
        n = n.saturating_add(1);
    }
    st.wire = st.wire.wrapping_add(u32::try_from(n).unwrap_or(0));
    (n, ended)
}

/// Reads up to `buf.len()` bytes of the attachment at `at`, calling the
/// application until the buffer is full or the part ends.
fn read_full<M: Outgoing>(message: &mut M, at: u32, buf: &mut [u8]) -> usize {
    let mut n = 0usize;
    while n < buf.len() {
        let pos = at.wrapping_add(u32::try_from(n).unwrap_or(0));
        let got = message.read(Part::Attachment, pos, buf.get_mut(n..).unwrap_or(&mut []));
        if got == 0 {
            break;
        }
        n = n.saturating_add(got).min(buf.len());
    }
    n
}

/// The base64 attachment from its offset `k`: line `k / 78` encodes bytes
/// `57 × line ..`, lines joined by CR LF (none after the last). Returns
/// the bytes written and, once seen, the part's length.
fn base64_part<M: Outgoing>(
    k: u32,
    max: usize,
    sink: &mut dyn PayloadSink,
    message: &mut M,
) -> (usize, Option<u32>) {
    use base64::Engine as _;
    let mut k = k;
    let mut written = 0usize;
    while written < max {
        let line = k / B64_LINE;
        let c = k % B64_LINE;
        let mut raw = [0u8; B64_IN as usize];
        let n = read_full(message, line.wrapping_mul(B64_IN), &mut raw);
        if n == 0 {
            return (written, Some(line.wrapping_mul(B64_LINE)));
        }
        let mut enc = [0u8; B64_OUT as usize];
        let chars = base64::engine::general_purpose::STANDARD
            .encode_slice(raw.get(..n).unwrap_or(&[]), &mut enc)
            .unwrap_or(0);
        let chars = u32::try_from(chars).unwrap_or(0);
        let piece: &[u8] = if c < chars {
            enc.get(c as usize..chars as usize).unwrap_or(&[])
        } else if chars == B64_OUT {
            let mut probe = [0u8; 1];
            if read_full(
                message,
                line.wrapping_add(1).wrapping_mul(B64_IN),
                &mut probe,
            ) == 0
            {
                return (
                    written,
                    Some(line.wrapping_mul(B64_LINE).wrapping_add(B64_OUT)),
                );
            }
            b"\r\n"
                .get(c.saturating_sub(B64_OUT) as usize..)
                .unwrap_or(&[])
        } else {
            return (
                written,
                Some(line.wrapping_mul(B64_LINE).wrapping_add(chars)),
            );
        };
        let take = piece.len().min(max.saturating_sub(written));
        let part = piece.get(..take).unwrap_or(&[]);
        if part.is_empty() {
            break;
        }
        sink.write(part);
        written = written.saturating_add(take);
        k = k.wrapping_add(u32::try_from(take).unwrap_or(0));
    }
    (written, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Ipv4Address;
    use base64::Engine as _;
    use proptest::prelude::*;

    struct Auth;
    impl SmtpSettings for Auth {
        const SERVER: Option<MailServer> = Some(MailServer::Addr(Ipv4Address([10, 0, 0, 1])));
        const PORT: u16 = 25;
        const USE_MX: bool = false;
        const USER: Option<&'static str> = Some("alice");
        const PASSWORD: Option<&'static str> = Some("secret");
        const HELO: Option<&'static str> = None;
        const TIMEOUT: Duration = Duration::from_secs(10);
        const SESSION_TIMEOUT: Duration = Duration::from_secs(60);
        const AUTH_BY_NAME: bool = false;
        type Snapshots = [Snapshot; 3];
    }

    #[derive(Clone)]
    struct Msg {
        to: Vec<&'static str>,
        subject: &'static str,
        text: Vec<u8>,
        attachment: Option<Vec<u8>>,
        reads: usize,
    }

    impl Msg {
        fn new(text: &[u8], attachment: Option<Vec<u8>>) -> Msg {
            Msg {
                to: vec!["bob@example.com"],
                subject: "status",
                text: text.to_vec(),
                attachment,
                reads: 0,
            }
        }
    }

    impl Outgoing for Msg {
        fn from(&self) -> &str {
            "dev@example.com"
        }
        fn to(&self, i: usize) -> Option<&str> {
            self.to.get(i).copied()
        }
        fn subject(&self) -> &str {
            self.subject
        }
        fn attachment(&self) -> Option<Attachment<'_>> {
            self.attachment.as_ref().map(|_| Attachment {
                file_name: "data.bin",
                content_type: "application/octet-stream",
            })
        }
        fn read(&mut self, part: Part, at: u32, buf: &mut [u8]) -> usize {
            self.reads += 1;
            let src: &[u8] = match part {
                Part::Text => &self.text,
                Part::Attachment => self.attachment.as_deref().unwrap_or(&[]),
            };
            let rest = src.get(at as usize..).unwrap_or(&[]);
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            n
        }
    }

    struct VecSink(Vec<u8>);
    impl PayloadSink for VecSink {
        fn write(&mut self, bytes: &[u8]) {
            self.0.extend_from_slice(bytes);
        }
        fn write_from_rx(&mut self, _: usize, _: usize) {
            panic!("stream bytes never come from a received frame")
        }
    }

    const SOCK: TcpHandle = TcpHandle(0);

    /// The client driven directly: what TCP would pull, and server lines.
    struct Dut {
        c: SmtpClient<Auth>,
        msg: Msg,
        /// Stream offset produced (and acknowledged) so far.
        offset: u32,
    }

    impl Dut {
        fn new(msg: Msg) -> Dut {
            let mut c = SmtpClient::<Auth>::new();
            c.send(&msg, Some(0), 0x1234_5678_9abc_def0).unwrap();
            c.link.phase = Phase::Connecting;
            c.link.socket = Some(SOCK);
            c.link.local = Ipv4Address([10, 0, 0, 2]);
            c.tcp_event(
                SOCK,
                TcpEvent::Connected {
                    remote: Endpoint::new(Ipv4Address([10, 0, 0, 1]), 25),
                },
            );
            Dut { c, msg, offset: 0 }
        }

        fn produce(&mut self, offset: u32, max: usize) -> Vec<u8> {
            let mut s = VecSink(Vec::new());
            self.c.tcp_produce(SOCK, offset, max, &mut s, &mut self.msg);
            assert!(s.0.len() <= max);
            s.0
        }

        /// Everything the client has to send now, in `seg`-byte segments,
        /// then acknowledged.
        fn pull(&mut self, seg: usize) -> Vec<u8> {
            let mut out = Vec::new();
            loop {
                let b = self.produce(self.offset, seg);
                if b.is_empty() {
                    break;
                }
                self.offset += b.len() as u32;
                out.extend_from_slice(&b);
                self.c.tcp_event(
                    SOCK,
                    TcpEvent::Acked {
                        offset: self.offset,
                    },
                );
            }
            out
        }

        fn reply(&mut self, text: &str) {
            let msg = self.msg.clone();
            self.c.on_bytes(text.as_bytes(), &msg);
        }
    }

    /// Runs the whole dialogue; returns the DATA content (up to `.`).
    fn session(msg: Msg, seg: usize) -> (Dut, Vec<String>, Vec<u8>) {
        let mut d = Dut::new(msg);
        let mut commands = Vec::new();
        d.reply("220 mail.example.com ESMTP\r\n");
        let mut cmd = |d: &mut Dut, reply: &str| {
            let c = String::from_utf8(d.pull(seg)).unwrap();
            commands.push(c);
            d.reply(reply);
        };
        cmd(
            &mut d,
            "250-mail.example.com\r\n250-8BITMIME\r\n250-AUTH CRAM-MD5 LOGIN\r\n250 HELP\r\n",
        );
        cmd(&mut d, "334 VXNlciBOYW1lAA==\r\n");
        cmd(&mut d, "334 UGFzc3dvcmQA\r\n");
        cmd(&mut d, "235 2.7.0 Authentication successful\r\n");
        for _ in 0..d.msg.to.len() {
            cmd(&mut d, "250 OK\r\n");
        }
        cmd(&mut d, "250 OK\r\n");
        cmd(&mut d, "354 End data with <CR><LF>.<CR><LF>\r\n");
        let data = d.pull(seg);
        d.reply("250 OK queued\r\n");
        let quit = String::from_utf8(d.pull(seg)).unwrap();
        commands.push(quit);
        d.reply("221 Bye\r\n");
        (d, commands, data)
    }

    /// The MIME parts of a message: (headers, body) after the preamble.
    fn parts(data: &[u8]) -> Vec<(String, Vec<u8>)> {
        let text = data;
        let boundary = b"--=_ember_123456789abcdef0";
        let mut out = Vec::new();
        let mut pieces: Vec<&[u8]> = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.windows(boundary.len()).position(|w| w == boundary) {
            pieces.push(&rest[..i]);
            rest = &rest[i + boundary.len()..];
        }
        assert!(rest.starts_with(b"--\r\n.\r\n"), "closing boundary");
        for p in &pieces[1..] {
            let p = p.strip_prefix(b"\r\n").expect("CRLF after boundary");
            let p = p.strip_suffix(b"\r\n").expect("CRLF before boundary");
            let split = p.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
            out.push((
                String::from_utf8(p[..split].to_vec()).unwrap(),
                p[split + 4..].to_vec(),
            ));
        }
        out
    }

    fn unstuff(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, line) in body.split(|&b| b == b'\n').enumerate() {
            if i > 0 {
                out.push(b'\n');
            }
            let line = line.strip_prefix(b".").unwrap_or(line);
            out.extend_from_slice(line);
        }
        out
    }

    #[test]
    fn whole_session_with_auth_and_attachment() {
        let att: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
        let (d, commands, data) = session(Msg::new(b"hello\n.dot\nbye", Some(att.clone())), 1460);
        assert_eq!(
            commands,
            [
                "EHLO [10.0.0.2]\r\n",
                "AUTH LOGIN\r\n",
                "YWxpY2U=\r\n",
                "c2VjcmV0\r\n",
                "MAIL FROM:<dev@example.com> BODY=8BITMIME\r\n",
                "RCPT TO:<bob@example.com>\r\n",
                "DATA\r\n",
                "QUIT\r\n",
            ]
        );
        assert_eq!(d.c.outcome, Some(Ok(())));
        assert_eq!(d.c.link.phase, Phase::Closing);
        let head = String::from_utf8_lossy(&data[..400]).into_owned();
        assert!(head.starts_with(
            "From: dev@example.com\r\nTo: bob@example.com\r\nSubject: status\r\n\
             Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n\
             Message-ID: <123456789abcdef0.ember@example.com>\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"=_ember_123456789abcdef0\"\r\n\r\n"
        ));
        let p = parts(&data);
        assert_eq!(p.len(), 2);
        assert!(p[0].0.contains("text/plain"));
        assert_eq!(p[0].1, b"hello\r\n..dot\r\nbye");
        assert!(p[1].0.contains("filename=\"data.bin\""));
        for line in p[1].1.split(|&b| b == b'\n') {
            assert!(line.len() <= 77, "76 columns and CR");
        }
        let b64: Vec<u8> = p[1]
            .1
            .iter()
            .copied()
            .filter(|b| !b"\r\n".contains(b))
            .collect();
        let mut dec = vec![0u8; b64.len()];
        let n = base64::engine::general_purpose::STANDARD
            .decode_slice(&b64, &mut dec)
            .unwrap();
        assert_eq!(&dec[..n], &att[..]);
    }

    #[test]
    fn several_recipients_and_no_attachment() {
        let mut m = Msg::new(b"x", None);
        m.to = vec!["a@x.org", "b@y.org", "c@z.org"];
        let (d, commands, data) = session(m, 7);
        assert!(commands.contains(&"RCPT TO:<b@y.org>\r\n".to_string()));
        assert_eq!(d.c.outcome, Some(Ok(())));
        let s = String::from_utf8(data.clone()).unwrap();
        assert!(s.contains("To: a@x.org,\r\n b@y.org,\r\n c@z.org\r\n"));
        let p = parts(&data);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].1, b"x");
    }

    #[test]
    fn text_encoding_stuffs_dots_normalises_line_ends_and_breaks_long_lines() {
        let mut text = b".a\r\nb\n..c\r\rd\n.\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', 2000));
        let (_, _, data) = session(Msg::new(&text, None), 100);
        let body = &parts(&data)[0].1;
        let expect_start = b"..a\r\nb\r\n...cd\r\n..\r\n";
        assert_eq!(&body[..expect_start.len()], expect_start);
        for line in body.split(|&b| b == b'\n') {
            assert!(line.len() <= 999, "998 + CR");
        }
        let xs: usize = body.iter().filter(|&&b| b == b'x').count();
        assert_eq!(xs, 2000);
        // No line of the whole DATA is a lone dot before the end.
        let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
        let dots = lines.iter().filter(|l| **l == b".\r").count();
        assert_eq!(dots, 1);
        assert_eq!(unstuff(&body[..5]), b".a\r\n");
    }

    #[test]
    fn ehlo_refused_falls_back_to_helo_which_cannot_authenticate() {
        let mut d = Dut::new(Msg::new(b"t", None));
        d.reply("220 old server\r\n");
        assert_eq!(d.pull(1460), b"EHLO [10.0.0.2]\r\n");
        d.reply("502 5.5.2 Error: command not recognized\r\n");
        assert_eq!(d.pull(1460), b"HELO [10.0.0.2]\r\n");
        d.reply("250 hi\r\n");
        // Credentials are set and HELO has no AUTH: never unauthenticated.
        assert_eq!(d.c.outcome, Some(Err(SmtpError::NoAuthMechanism)));
        assert_eq!(d.pull(1460), b"QUIT\r\n");
    }

    #[test]
    fn auth_plain_is_one_command_with_the_initial_response() {
        let mut d = Dut::new(Msg::new(b"t", None));
        d.reply("220 x\r\n");
        d.pull(1460);
        // PLAIN is preferred when both are offered (one round trip).
        d.reply("250-x\r\n250 AUTH LOGIN PLAIN\r\n");
        let cmd = String::from_utf8(d.pull(1460)).unwrap();
        let b64 = cmd
            .strip_prefix("AUTH PLAIN ")
            .and_then(|c| c.strip_suffix("\r\n"))
            .unwrap();
        let mut raw = vec![0u8; b64.len()];
        let n = base64::engine::general_purpose::STANDARD
            .decode_slice(b64, &mut raw)
            .unwrap();
        assert_eq!(
            &raw[..n],
            b"\0alice\0secret",
            "RFC 4616: authzid NUL authcid NUL passwd"
        );
        d.reply("235 2.7.0 Authentication successful\r\n");
        assert_eq!(d.pull(1460), b"MAIL FROM:<dev@example.com>\r\n");
    }

    #[test]
    fn auth_plain_in_the_old_auth_equals_form() {
        let mut d = Dut::new(Msg::new(b"t", None));
        d.reply("220 x\r\n");
        d.pull(1460);
        d.reply("250-x\r\n250 AUTH=PLAIN\r\n");
        assert!(d.pull(1460).starts_with(b"AUTH PLAIN "));
        d.reply("535 5.7.8 no\r\n");
        assert_eq!(d.c.outcome.unwrap().unwrap_err().code(), Some(535));
        assert_eq!(d.pull(1460), b"QUIT\r\n");
    }

    #[test]
    fn base64_of_parts_matches_base64_of_their_concatenation() {
        for lens in [(0, 0), (1, 1), (5, 7), (47, 3), (48, 48), (100, 31)] {
            let a: Vec<u8> = (0..lens.0).map(|i| i as u8).collect();
            let b: Vec<u8> = (0..lens.1).map(|i| (i * 3) as u8).collect();
            let mut sink = VecSink(Vec::new());
            let mut w = Window::new(&mut sink, 0, usize::MAX);
            crate::mail::put_base64_parts(&mut w, &[b"\0", &a, b"\0", &b]);
            let whole = [&b"\0"[..], &a, b"\0", &b].concat();
            let mut want = vec![0u8; whole.len() * 4 / 3 + 4];
            let n = base64::engine::general_purpose::STANDARD
                .encode_slice(&whole, &mut want)
                .unwrap();
            assert_eq!(sink.0, &want[..n], "{lens:?}");
        }
    }

    #[test]
    fn credentials_without_a_usable_mechanism_are_a_typed_error_not_a_plain_send() {
        let mut d = Dut::new(Msg::new(b"t", None));
        d.reply("220 x\r\n");
        d.pull(1460);
        d.reply("250-x\r\n250 AUTH CRAM-MD5 GSSAPI\r\n");
        assert_eq!(d.c.outcome, Some(Err(SmtpError::NoAuthMechanism)));
        assert_eq!(d.pull(1460), b"QUIT\r\n", "a refusal still ends with QUIT");
        d.reply("221 bye\r\n");
        assert_eq!(d.c.link.phase, Phase::Closing);
        // The server closes first after QUIT (no TIME-WAIT for us): our
        // FIN answers its FIN.
        assert!(!d.c.tcp_wants_close(SOCK));
        d.c.tcp_event(SOCK, TcpEvent::PeerClosed);
        assert!(d.c.tcp_wants_close(SOCK));
        assert_eq!(d.c.outcome, Some(Err(SmtpError::NoAuthMechanism)));
    }

    #[test]
    fn a_reply_line_over_512_bytes_is_malformed() {
        let mut d = Dut::new(Msg::new(b"t", None));
        d.reply("220 x\r\n");
        d.pull(1460);
        d.reply(&format!("250-{}", "x".repeat(600)));
        assert_eq!(d.c.outcome, Some(Err(SmtpError::Malformed(SmtpStep::Ehlo))));
        assert_eq!(d.c.link.phase, Phase::Aborting);
    }

    #[test]
    fn credentials_to_a_server_found_by_name_need_the_setting() {
        struct ByName;
        impl SmtpSettings for ByName {
            const SERVER: Option<MailServer> = Some(MailServer::Name("mail.example.com"));
            const PORT: u16 = 25;
            const USE_MX: bool = false;
            const USER: Option<&'static str> = Some("alice");
            const PASSWORD: Option<&'static str> = Some("secret");
            const HELO: Option<&'static str> = None;
            const TIMEOUT: Duration = Duration::from_secs(10);
            const SESSION_TIMEOUT: Duration = Duration::from_secs(60);
            const AUTH_BY_NAME: bool = false;
            type Snapshots = [Snapshot; 3];
        }
        let mut c = SmtpClient::<ByName>::new();
        let msg = Msg::new(b"t", None);
        assert_eq!(c.send(&msg, None, 1), Err(SmtpError::CleartextAuthByName));
        assert!(c.is_idle(), "nothing started");
        // An address given for the session is the user's choice.
        let mut c = SmtpClient::<Auth>::new();
        assert_eq!(c.send(&msg, None, 1), Ok(()));
    }

    #[test]
    fn every_refusal_is_a_typed_failure_with_code_and_text() {
        let script = [
            "220 x\r\n",
            "250-x\r\n250 AUTH LOGIN\r\n",
            "334 x\r\n",
            "334 x\r\n",
            "235 ok\r\n",
            "250 ok\r\n",
            "250 ok\r\n",
            "354 go\r\n",
        ];
        let steps = [
            SmtpStep::Greeting,
            SmtpStep::Ehlo,
            SmtpStep::AuthLogin,
            SmtpStep::AuthUser,
            SmtpStep::AuthPassword,
            SmtpStep::MailFrom,
            SmtpStep::RcptTo,
            SmtpStep::Data,
            SmtpStep::Message,
        ];
        for (fail_at, step) in steps.iter().enumerate() {
            for code in [421u16, 451, 535, 554] {
                if *step == SmtpStep::Ehlo && code >= 500 {
                    continue; // 5xx to EHLO means "try HELO"
                }
                let mut d = Dut::new(Msg::new(b"t", None));
                for r in &script[..fail_at] {
                    d.reply(r);
                    d.pull(1460);
                }
                d.reply(&format!("{code} no way\r\n"));
                assert_eq!(
                    d.c.outcome,
                    Some(Err(SmtpError::Rejected {
                        step: *step,
                        code,
                        text: ReplyText::from_bytes(b"no way"),
                    })),
                    "{step} {code}"
                );
                assert_eq!(d.c.outcome.unwrap().unwrap_err().code(), Some(code));
                if *step == SmtpStep::Greeting {
                    // Nothing sent yet: QUIT is still polite.
                }
                assert_eq!(d.pull(1460), b"QUIT\r\n");
            }
        }
    }

    #[test]
    fn malformed_or_early_replies_abort() {
        let mut d = Dut::new(Msg::new(b"t", None));
        d.reply("hello\r\n");
        assert_eq!(
            d.c.outcome,
            Some(Err(SmtpError::Malformed(SmtpStep::Greeting)))
        );
        assert_eq!(d.c.link.phase, Phase::Aborting);

        let mut d = Dut::new(Msg::new(b"t", None));
        d.reply("220 x\r\n");
        d.reply("250 too early\r\n"); // EHLO not sent yet
        assert_eq!(d.c.outcome, Some(Err(SmtpError::Malformed(SmtpStep::Ehlo))));

        let mut d = Dut::new(Msg::new(b"t", None));
        d.reply("220-x\r\n221 other code\r\n");
        assert_eq!(
            d.c.outcome,
            Some(Err(SmtpError::Malformed(SmtpStep::Greeting)))
        );
    }

    #[test]
    fn peer_close_and_reset_are_typed_failures() {
        let mut d = Dut::new(Msg::new(b"t", None));
        d.reply("220 x\r\n");
        d.pull(1460);
        d.c.tcp_event(SOCK, TcpEvent::PeerClosed);
        assert_eq!(d.c.outcome, Some(Err(SmtpError::Closed(SmtpStep::Ehlo))));
        assert_eq!(d.c.link.phase, Phase::Aborting);
        let mut d = Dut::new(Msg::new(b"t", None));
        d.c.tcp_event(SOCK, TcpEvent::Reset);
        assert_eq!(d.c.outcome, Some(Err(SmtpError::Reset(SmtpStep::Greeting))));
        assert!(d.c.link.finished());
        assert!(!d.c.owns(SOCK));
    }

    #[test]
    fn date_and_subject_encoding() {
        let mut w_buf = VecSink(Vec::new());
        let mut w = Window::new(&mut w_buf, 0, 1000);
        put_date(&mut w, 951_825_600); // 2000-02-29 12:00:00 UTC
        w.put(b"|");
        put_date(&mut w, 4_102_444_799); // 2099-12-31 23:59:59
        w.put(b"|");
        put_subject(
            &mut w,
            "Grüße aus dem Gerät, ein etwas längerer Betreff mit Umlauten äöü".as_bytes(),
        );
        let s = String::from_utf8(w_buf.0).unwrap();
        let mut it = s.split('|');
        assert_eq!(it.next().unwrap(), "Tue, 29 Feb 2000 12:00:00 +0000");
        assert_eq!(it.next().unwrap(), "Thu, 31 Dec 2099 23:59:59 +0000");
        let subject = it.next().unwrap();
        let mut decoded = Vec::new();
        for word in subject.split("\r\n ") {
            assert!(word.len() <= 75, "RFC 2047 word length");
            let b = word
                .strip_prefix("=?utf-8?B?")
                .unwrap()
                .strip_suffix("?=")
                .unwrap();
            let mut out = vec![0u8; b.len()];
            let n = base64::engine::general_purpose::STANDARD
                .decode_slice(b, &mut out)
                .unwrap();
            assert!(
                core::str::from_utf8(&out[..n]).is_ok(),
                "whole characters per word"
            );
            decoded.extend_from_slice(&out[..n]);
        }
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            "Grüße aus dem Gerät, ein etwas längerer Betreff mit Umlauten äöü"
        );
    }

    #[test]
    fn header_injection_is_impossible() {
        let mut m = Msg::new(b"t", None);
        m.subject = "hi\r\nBcc: evil@x";
        m.to = vec!["bob@x>\r\nRCPT TO:<evil@x"];
        let (_, commands, data) = session(m, 1460);
        assert!(commands.iter().all(|c| c.matches("\r\n").count() == 1));
        let s = String::from_utf8(data).unwrap();
        assert!(s.contains("Subject: hiBcc: evil@x\r\n"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn reply_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut p = ReplyParser::default();
            for b in bytes {
                let _ = p.push(b);
            }
        }

        #[test]
        fn client_never_panics_on_random_replies(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..20)
        ) {
            let mut d = Dut::new(Msg::new(b"t\n.x", Some(vec![1, 2, 3])));
            for c in chunks {
                let msg = d.msg.clone();
                d.c.on_bytes(&c, &msg);
                d.pull(536);
            }
        }

        /// TCP asks by offset in arbitrary segment sizes, goes back to any
        /// segment start not yet acknowledged (go-back-N, fast retransmit,
        /// a partial ACK), probes one byte first: the bytes at every
        /// offset are always the same.
        #[test]
        fn regenerated_message_is_byte_identical(
            text in proptest::collection::vec(
                prop_oneof![Just(b'.'), Just(b'\n'), Just(b'\r'), Just(b'a'), Just(b'x')], 0..3000),
            long in 0usize..1200,
            att in proptest::collection::vec(any::<u8>(), 0..700),
            segs in proptest::collection::vec(1usize..1460, 1..20),
            backs in proptest::collection::vec(0usize..3, 1..40),
        ) {
            let mut text = text;
            text.extend(std::iter::repeat_n(b'y', long));
            let msg = Msg::new(&text, Some(att));
            // The reference: the whole message in one pull.
            let (_, _, reference) = session(msg.clone(), 1 << 20);
            // Now in segments, with up to 3 in flight (Snapshots holds
            // window 1 + 2; here `backs` goes back 0..2 segments).
            let mut d = Dut::new(msg);
            d.reply("220 x\r\n");
            for r in ["250-x\r\n250 AUTH LOGIN\r\n", "334 x\r\n", "334 x\r\n", "235 x\r\n", "250 x\r\n", "250 x\r\n", "354 x\r\n"] {
                d.pull(1460);
                d.reply(r);
            }
            let base = d.offset;
            let mut starts: Vec<u32> = Vec::new(); // segment starts in flight
            let mut got = Vec::new();
            let mut i = 0usize;
            loop {
                let seg = segs[i % segs.len()];
                let back = backs[i % backs.len()];
                i += 1;
                // A probe of one byte, then the segment.
                let probe = d.produce(d.offset, 1);
                let b = d.produce(d.offset, seg);
                prop_assert_eq!(probe.first(), b.first());
                if b.is_empty() {
                    break;
                }
                let at = (d.offset - base) as usize;
                prop_assert_eq!(&b[..], &reference[at..at + b.len()]);
                starts.push(d.offset);
                d.offset += b.len() as u32;
                got.extend_from_slice(&b);
                // Retransmit one of the segments in flight.
                if back > 0 && starts.len() >= back {
                    let s = starts[starts.len() - back];
                    let len = if back == 1 { b.len() } else { (starts[starts.len() - back + 1] - s) as usize };
                    let again = d.produce(s, len);
                    let at = (s - base) as usize;
                    prop_assert_eq!(&again[..], &reference[at..at + len]);
                }
                // Acknowledge all but the last segment (one stays in flight).
                if starts.len() > 1 {
                    let acked = starts[starts.len() - 1];
                    d.c.tcp_event(SOCK, TcpEvent::Acked { offset: acked });
                    starts.drain(..starts.len() - 1);
                }
            }
            prop_assert_eq!(got, reference);
        }
    }
}
