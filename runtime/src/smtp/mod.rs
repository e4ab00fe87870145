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
//!    [`MailFault::NoAuthMechanism`], never an unauthenticated send. To a
//!    server found by name, only with `cleartext_auth_by_name`
//!    ([`MailFault::CleartextAuthByName`] from `send` otherwise).
//! 5. **MAIL FROM**, **RCPT TO** for every recipient (`250`/`251`),
//!    **DATA** `354`, the message, `.`, `250`, **QUIT**.
//!
//! Every reply code is checked: anything but the expected one ends the
//! session with [`MailFault::Refused`] carrying the server's code and
//! text; QUIT is still sent politely, and the connection closed. No
//! complete reply line within `[smtp] timeout` ([`MailFault::Timeout`];
//! while our bytes are not all acknowledged TCP's own retransmission limit
//! applies instead, since its backed-off timer may exceed ours), the whole
//! session over `[smtp] session_timeout` (whatever the server does: a zero
//! window included), a reply line over 512 bytes, a connection closed
//! or reset by the server ([`MailFault::Closed`], [`MailFault::Reset`]) or
//! a reply that is not SMTP ([`MailFault::Malformed`]) end it too, with
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
//!
//! # Files
//!
//! `mod.rs` is the session (the state machine from `send` to the outcome,
//! the commands and the reply codes each step expects); `reply.rs` reads
//! the server's replies; `mime.rs` lays out the message (headers, parts,
//! boundaries) and produces it by stream offset; `encode.rs` holds the
//! body encoders (the text part's line rules and the base64 attachment).

mod encode;
mod mime;
mod reply;
#[cfg(test)]
mod tests;

use crate::config::{Config, Table};
use crate::iface::PayloadSink;
use crate::mail::{
    byte_set, command_byte, domain_of, entry, entry_starts, read_each, ByteSet, Fault, Link,
    MailServer, Phase, Target, Timeouts, Window,
};
use crate::nic::Nic;
use crate::stack::Stack;
use crate::tcp::{TcpEvent, TcpHandle, TcpReader};
use crate::time::{Duration, Instant};
use crate::udp::Endpoint;
use core::fmt;

pub use crate::mail::{MailError, MailFault, MailStep};

pub use encode::Snapshot;

/// A byte allowed in an address in angle brackets (or a HELO name): a
/// command byte, no bracket, no space.
const fn address_byte(b: u8) -> bool {
    command_byte(b) && !matches!(b, b'<' | b'>' | b' ')
}

/// [`address_byte`] as a set.
const ADDRESS: ByteSet = byte_set!(b => address_byte(b));
use mime::Meta;
use reply::{cap, ReplyParser};

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
    /// A base64 attachment may be sent (`attachment`). Off, its encoder
    /// and part headers are not built and a message with one is refused
    /// ([`MailFault::Unsupported`]).
    const ATTACHMENT: bool = true;
    /// AUTH PLAIN/LOGIN (`auth`). Off, that code is not built and a
    /// message with credentials is refused ([`MailFault::Unsupported`]).
    const AUTH: bool = true;
    /// A subject with non-ASCII characters is sent as RFC 2047 encoded
    /// words (`encoded_subject`). Off, the encoder is not built and such
    /// a subject is refused ([`MailFault::Unsupported`]).
    const ENCODED_SUBJECT: bool = true;
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
    Command(MailStep),
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
            SmtpState::Command(MailStep::Greeting) => f.write_str("waiting for the greeting"),
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

/// The SMTP client. The application embeds it (the generated
/// `Config::Smtp` type) and forwards the TCP callbacks of the socket it
/// [`owns`](SmtpClient::owns); see [`mail`](crate::mail).
pub struct SmtpClient<S: SmtpSettings> {
    /// The session core: the connection, the step, the command's offset,
    /// the outcome.
    link: Link,
    timeouts: Timeouts,
    rcpt: u16,
    caps: u8,
    reply: ReplyParser,
    meta: Meta,
    // The message, once DATA was accepted.
    has_attachment: bool,
    head_len: u32,
    /// Where the text and the attachment end ([`mime::UNKNOWN`] until
    /// the encoders reach them).
    text_end: u32,
    att_end: u32,
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
            timeouts: Timeouts {
                step: S::TIMEOUT,
                session: S::SESSION_TIMEOUT,
            },
            rcpt: 0,
            caps: 0,
            reply: ReplyParser::default(),
            meta: Meta::default(),
            has_attachment: false,
            // The message's layout and the text's cursor are set when DATA
            // is accepted (`begin_message`), before any use: zeros here
            // (one clear with the rest of the client).
            head_len: 0,
            text_end: 0,
            att_end: 0,
            cursor: Snapshot::default(),
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
    ) -> Result<(), MailError> {
        if self.link.phase != Phase::Idle {
            return Err(MailError::from(MailFault::Busy));
        }
        if message.to(0).is_none() {
            return Err(MailError::from(MailFault::NoRecipient));
        }
        if message.server().is_none() && S::SERVER.is_none() && !Self::mx(message) {
            return Err(MailError::from(MailFault::NoServer));
        }
        if (!S::ATTACHMENT && message.attachment().is_some())
            || (!S::AUTH && message.credentials().is_some())
            || (!S::ENCODED_SUBJECT && !message.subject().is_ascii())
        {
            return Err(MailError::from(MailFault::Unsupported));
        }
        let by_name = !matches!(Self::target(message), Target::Addr(_));
        if Self::credentials(message).is_some() && by_name && !S::AUTH_BY_NAME {
            return Err(MailError::from(MailFault::CleartextAuthByName));
        }
        // The step, the command's offset and the outcome with it.
        self.link.start();
        // `rcpt` is set when MAIL FROM is accepted, before any use;
        // `caps` stays 0 for a server that only knows HELO.
        self.caps = 0;
        self.reply = ReplyParser::default();
        self.meta = Meta {
            id: random,
            date: unix_time,
        };
        // The message's part ends are set when DATA is accepted.
        Ok(())
    }

    /// The current step.
    fn step(&self) -> MailStep {
        self.link.step
    }

    /// Moves to `step`.
    fn set_step(&mut self, step: MailStep) {
        self.link.step = step;
    }

    /// Where the session is.
    pub fn state(&self) -> SmtpState {
        match self.link.phase {
            Phase::Idle => SmtpState::Idle,
            Phase::Start | Phase::Resolving => SmtpState::Resolving,
            Phase::Connecting => SmtpState::Connecting {
                server: self.link.remote,
            },
            Phase::Open => match self.step() {
                MailStep::RcptTo => SmtpState::Recipient { index: self.rcpt },
                MailStep::Message => SmtpState::Sending {
                    acked: self.link.acked.wrapping_sub(self.link.cmd_start),
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
    ) -> Option<Result<(), MailError>> {
        if self.link.phase == Phase::Idle {
            return None;
        }
        let target = Self::target(message);
        // Read only while open.
        let len = match self.link.phase {
            Phase::Open => self.command_len(message),
            _ => 0,
        };
        if !self
            .link
            .poll(stack, nic, now, target, S::PORT, self.timeouts, len, random)
        {
            return None;
        }
        let outcome = self.link.result(&self.reply.text);
        match outcome {
            Ok(()) => self.stats.sent = self.stats.sent.saturating_add(1),
            Err(_) => self.stats.failed = self.stats.failed.saturating_add(1),
        }
        Some(outcome)
    }

    /// The session's result so far (the first failure wins).
    #[cfg(test)]
    fn outcome(&self) -> Option<Result<(), MailError>> {
        self.link
            .outcome
            .map(|_| self.link.result(&self.reply.text))
    }

    /// Records a failure and ends the session: QUIT when a reply refused
    /// something between commands, a reset otherwise.
    // Left to LLVM: `#[inline(never)]` (five callers) cost 8 B on the
    // merged tree (inline9).
    fn fail(&mut self, fault: Fault) {
        // The refusal's text is the error's: later replies (QUIT's)
        // leave it (only the first failure is reported).
        self.reply.keep_text = true;
        if self.link.fail(fault) {
            // The failed command's reply came, so the stream is at a
            // command boundary: QUIT starts there.
            self.set_step(MailStep::Quit);
        }
    }

    /// A TCP event for the socket it owns (others are ignored).
    pub fn tcp_event(&mut self, socket: TcpHandle, event: TcpEvent) {
        if !self.owns(socket) {
            return;
        }
        let step = self.step();
        if matches!(event, TcpEvent::Retransmit { .. }) && step == MailStep::Message {
            self.stats.rewinds = self.stats.rewinds.saturating_add(1);
        }
        // After QUIT the server closes first.
        self.link.on_event(event, step == MailStep::Quit);
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
        read_each(data, &mut |bytes| self.on_bytes(bytes, message));
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
                Some(Err(())) => self.fail(Fault::Malformed),
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
                Target::Mx(domain_of(to).unwrap_or(to))
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

    /// The credentials to authenticate with; none without `AUTH` (then
    /// `send` refused a message that had some).
    fn credentials<M: Outgoing>(message: &M) -> Option<(&str, &str)> {
        if !S::AUTH {
            return None;
        }
        message.credentials().or(match (S::USER, S::PASSWORD) {
            (Some(u), Some(p)) => Some((u, p)),
            _ => None,
        })
    }

    /// The length of the current command (the message's once known,
    /// `u32::MAX` before).
    fn command_len<M: Outgoing>(&self, message: &M) -> u32 {
        if self.step() == MailStep::Message {
            return self.message_len().unwrap_or(u32::MAX);
        }
        let mut w = Window::counter();
        self.command(&mut w, message);
        u32::try_from(w.pos).unwrap_or(u32::MAX)
    }

    fn on_reply<M: Outgoing>(&mut self, code: u16, message: &M) {
        let step = self.step();
        // The reply must follow the whole command (a message of unknown
        // length cannot be whole). Whatever the reply, the next command
        // (QUIT after a refusal too) starts after this one.
        if !self.link.replied(self.command_len(message)) {
            return self.fail(Fault::Malformed);
        }
        if step == MailStep::Quit {
            self.link.close_after_peer();
            return;
        }
        // By `MailStep`: the code its command's reply must have, less 200
        // (one byte), and the step that follows: a table rather than a
        // match per pair. Steps without a command (NONE) never read it:
        // replies are read only while the connection is open, from the
        // greeting on, and QUIT's returned above.
        use MailStep as T;
        const NONE: u8 = u8::MAX;
        const EXPECT: [(u8, MailStep); 14] = [
            (NONE, T::Resolve),
            (NONE, T::Connect),
            (20, T::Ehlo),
            (50, T::MailFrom),
            (50, T::MailFrom),
            (35, T::MailFrom),
            (134, T::AuthUser),
            (134, T::AuthPassword),
            (35, T::MailFrom),
            (50, T::RcptTo),
            (50, T::Data),
            (154, T::Message),
            (50, T::Quit),
            (NONE, T::Quit),
        ];
        let (want, mut next) = EXPECT.get(step as usize).copied().unwrap_or((NONE, step));
        let want = u16::from(want).wrapping_add(200); // <= 455
        if code == want || (step == T::RcptTo && code == 251) {
            match step {
                T::Ehlo => {
                    self.caps = self.reply.caps;
                    if Self::credentials(message).is_some() {
                        if self.caps & cap::PLAIN != 0 {
                            next = T::AuthPlain;
                        } else if self.caps & cap::LOGIN != 0 {
                            next = T::AuthLogin;
                        } else {
                            return self.fail(Fault::NoAuthMechanism);
                        }
                    }
                }
                // HELO has no extensions, so no AUTH.
                T::Helo if Self::credentials(message).is_some() => {
                    return self.fail(Fault::NoAuthMechanism);
                }
                // EHLO follows only the greeting: only the EHLO reply's
                // keywords count.
                T::Greeting => self.reply.caps = 0,
                T::MailFrom => self.rcpt = 0,
                T::RcptTo => {
                    let more = message.to(usize::from(self.rcpt).wrapping_add(1)).is_some();
                    if more && self.rcpt < u16::MAX {
                        self.rcpt = self.rcpt.wrapping_add(1); // < u16::MAX
                        next = T::RcptTo;
                    }
                }
                T::Data => self.begin_message(message),
                // No outcome yet: a failure leaves this step (QUIT after a
                // refusal) or the open connection (an abort).
                T::Message => self.link.outcome = Some(Ok(())),
                _ => {}
            }
        } else if step == T::Ehlo && matches!(code, 500..=504 | 550) {
            next = T::Helo;
        } else {
            return self.fail(Fault::Refused(code));
        }
        self.set_step(next);
    }

    /// The bytes of the current command (not the message) into `w`: its
    /// template by step, written by the message's template walker (the
    /// arguments are its fields).
    #[inline(never)]
    fn command<M: Outgoing>(&self, w: &mut Window<'_>, message: &M) {
        use mime::field as f;
        // By `MailStep` (the steps without a command: empty).
        const COMMANDS: &[u8] = b"|||EHLO \x89\r\n|HELO \x89\r\n|AUTH PLAIN \x8a\r\n|AUTH LOGIN\r\n|\x8b\r\n|\x8c\r\n|MAIL FROM:<\x8d>\x8f\r\n|RCPT TO:<\x8e>\r\n|DATA\r\n||QUIT\r\n";
        const STARTS: [u8; 15] = entry_starts(COMMANDS);
        const _: () = assert!(
            f::HELO == 0x89
                && f::PLAIN == 0x8a
                && f::USER == 0x8b
                && f::PASSWORD == 0x8c
                && f::MAIL_FROM == 0x8d
                && f::RCPT == 0x8e
                && f::BODY == 0x8f
        );
        self.put_template(w, entry(COMMANDS, &STARTS, self.step() as usize), message);
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
        if !self.owns(socket) {
            return;
        }
        let Some(rel) = self.link.command_offset(offset) else {
            return;
        };
        if self.step() == MailStep::Message {
            self.produce_message(rel, max, sink, message);
        } else {
            let mut w = Window::new(sink, rel as usize, max);
            self.command(&mut w, message);
        }
    }
}
