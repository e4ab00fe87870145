//! POP3 client (RFC 1939): fetches every message of a mailbox line by line
//! and deletes the ones the application says to.
//!
//! [`Pop3Client::receive`] starts a session (or `[pop3] interval` does,
//! periodically); [`Pop3Client::poll`] (called by the application after
//! `Stack::poll`) runs it and returns the outcome once the connection is
//! closed and the client idle again. The steps:
//!
//! 1. **Resolve** the server's name (DNS), **connect** (ARP, TCP 110);
//! 2. the **greeting** `+OK`, **USER**, **PASS**, **STAT** (the count);
//! 3. for each message **RETR n**: the header lines go to
//!    [`Mailbox::header`]; at the blank line [`Mailbox::message`] gets the
//!    start-of-message with `Subject:` and `From:` (folded lines unfolded);
//!    each body line goes to [`Mailbox::line`]; at the closing `.`
//!    [`Mailbox::end`] returns keep or delete, and **DELE n** follows when
//!    asked ([`Mailbox::deleted`] on its `+OK`);
//! 4. **QUIT**: the server commits the deletions; the connection closes.
//!
//! The multi-line response is dot-unstuffed (a leading `.` removed) and
//! ends at the line holding a lone `.`. A line longer than `[pop3]
//! line_limit` is delivered in pieces ([`Line::more`] set on all but the
//! last), never overflowing; a `Subject:`/`From:` value longer than
//! `[pop3] header_len` is cut ([`MessageInfo::subject_cut`]).
//!
//! `-ERR` at any step ends the session with [`MailFault::Refused`] (the
//! server's text kept) and the connection closed *without* QUIT, so the
//! server commits nothing of this session: messages deleted before the
//! failure are offered again next time (POP3 has no other way to make the
//! deletions conditional on a clean end). No reply within `[pop3] timeout`
//! ([`MailFault::Timeout`]; TCP's own limit while a command is not yet
//! acknowledged), a connection the server closes or resets, or
//! a reply that is not POP3 ends it too, with the connection reset.

use crate::config::{Config, Table};
use crate::iface::PayloadSink;
use crate::mail::{
    entry, entry_starts, read_each, Failure, Fault, LineState, Link, MailServer, Phase, Piece,
    ReplyText, Target, Timeouts, Window, COMMAND, MAX_REPLY_LINE,
};
use crate::nic::Nic;
use crate::stack::Stack;
use crate::tcp::{TcpEvent, TcpHandle, TcpReader};
use crate::time::{Duration, Instant};
use crate::udp::Endpoint;
use core::fmt;

pub use crate::mail::{MailError, MailFault, MailStep};

/// The POP3 settings from `stack.toml` (`[pop3]`), implemented by the
/// generated `Device` when the section is present.
pub trait Pop3Settings: 'static {
    /// The server (`server`); `None`: the application names it
    /// ([`Mailbox::server`]).
    const SERVER: Option<MailServer>;
    /// The server's port (`port`, 110).
    const PORT: u16;
    /// The user name (`user`); [`Mailbox::credentials`] take precedence.
    const USER: Option<&'static str>;
    /// The password (`password`).
    const PASSWORD: Option<&'static str>;
    /// How long each step may take (`timeout`): resolving, connecting,
    /// each reply; while a message arrives, the time without progress.
    const TIMEOUT: Duration;
    /// How long a whole session may take (`session_timeout`), whatever
    /// the server does.
    const SESSION_TIMEOUT: Duration;
    /// The credentials may go (in clear text: USER/PASS, no TLS) to a
    /// server found by name through DNS (`cleartext_auth_by_name`);
    /// otherwise only to a server given as an address.
    const AUTH_BY_NAME: bool;
    /// How often to check the mailbox by itself (`interval`; zero: only
    /// when [`Pop3Client::receive`] is called).
    const INTERVAL: Duration;
    /// The line buffer: `[u8; line_limit]`.
    type Line: Table<u8>;
    /// Each of the `Subject:` and `From:` buffers: `[u8; header_len]`.
    type Header: Table<u8>;
    /// Messages may be deleted (`delete`). Off, DELE is not built: a
    /// [`Disposition::Delete`] ends the session at once with QUIT and
    /// [`MailFault::Unsupported`], the message kept.
    const DELETE: bool = true;
}

/// One piece of a line: the whole line, or a part of a line longer than
/// `[pop3] line_limit` (`more` set on every part but the last). Without
/// its CR LF, dot-unstuffed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// The bytes.
    pub bytes: &'a [u8],
    /// More of the same line follows in the next piece.
    pub more: bool,
}

/// The start of a message: [`Mailbox::message`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageInfo<'a> {
    /// Its number in this session (1 ..= `count`).
    pub number: u32,
    /// Messages in the mailbox (from STAT).
    pub count: u32,
    /// Its size in octets, when the server said (`+OK 1234 octets`).
    pub size: Option<u32>,
    /// The `From:` value, unfolded (at most `[pop3] header_len` bytes).
    pub from: &'a [u8],
    /// The `Subject:` value, unfolded (RFC 2047 words are not decoded).
    pub subject: &'a [u8],
    /// `from` was longer and is cut.
    pub from_cut: bool,
    /// `subject` was longer and is cut.
    pub subject_cut: bool,
}

impl MessageInfo<'_> {
    /// The address in `From:`: what is between `<` and `>` when there
    /// are angle brackets, otherwise the value trimmed.
    pub fn address(&self) -> &[u8] {
        let f = self.from;
        if let Some(open) = f.iter().position(|&b| b == b'<') {
            // open < f.len()
            let rest = f.get(open.wrapping_add(1)..).unwrap_or(&[]);
            let close = rest.iter().position(|&b| b == b'>').unwrap_or(rest.len());
            return rest.get(..close).unwrap_or(&[]);
        }
        trim(f)
    }
}

/// What to do with a message once it has been read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Leave it on the server.
    Keep,
    /// Delete it (DELE; committed by the server at QUIT).
    Delete,
}

/// The application's side of a POP3 session. Called from `poll` and from
/// the TCP callbacks the application forwards.
pub trait Mailbox {
    /// The server (address or host name) when not the one in `stack.toml`.
    fn server(&self) -> Option<&str> {
        None
    }
    /// User name and password when not the ones in `stack.toml`.
    fn credentials(&self) -> Option<(&str, &str)> {
        None
    }
    /// A header line of message `number` (the default ignores it).
    fn header(&mut self, number: u32, line: Line<'_>) {
        let _ = (number, line);
    }
    /// A message starts: its headers are read.
    fn message(&mut self, info: &MessageInfo<'_>);
    /// A body line of message `number`.
    fn line(&mut self, number: u32, line: Line<'_>);
    /// Message `number` has ended: keep or delete it?
    fn end(&mut self, number: u32) -> Disposition;
    /// The server accepted the deletion of message `number` (it happens
    /// at QUIT).
    fn deleted(&mut self, number: u32) {
        let _ = number;
    }
}

/// Where a session is: [`Pop3Client::state`]; `Display` gives the
/// progress line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pop3State {
    /// No session.
    Idle,
    /// Looking up the server.
    Resolving,
    /// ARP and the handshake.
    Connecting {
        /// The server.
        server: Endpoint,
    },
    /// A command is out and its reply awaited.
    Command(MailStep),
    /// Reading message `number` of `count`.
    Retrieving {
        /// Which message.
        number: u32,
        /// How many.
        count: u32,
    },
    /// Deleting message `number`.
    Deleting {
        /// Which message.
        number: u32,
    },
    /// The session is over; the connection is closing.
    Closing,
}

impl fmt::Display for Pop3State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pop3State::Idle => f.write_str("idle"),
            Pop3State::Resolving => f.write_str("looking up the mail server"),
            Pop3State::Connecting { server } => write!(f, "connecting to {server}"),
            Pop3State::Command(MailStep::Greeting) => f.write_str("waiting for the greeting"),
            Pop3State::Command(step) => write!(f, "{step}"),
            Pop3State::Retrieving { number, count } => {
                write!(f, "reading message {number} of {count}")
            }
            Pop3State::Deleting { number } => write!(f, "deleting message {number}"),
            Pop3State::Closing => f.write_str("closing"),
        }
    }
}

/// A finished session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pop3Summary {
    /// Messages read.
    pub messages: u32,
    /// Messages deleted (committed at QUIT).
    pub deleted: u32,
}

/// What the client has done, for diagnostics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pop3Stats {
    /// Sessions that ended with QUIT.
    pub checks: u32,
    /// Sessions that failed.
    pub failed: u32,
    /// Messages read.
    pub messages: u32,
    /// Messages deleted.
    pub deleted: u32,
}

/// What received bytes are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Rx {
    /// A status line (`+OK`/`-ERR`); the rest of one longer than the
    /// buffer (its later pieces) is ignored.
    #[default]
    Status,
    /// The header lines of a message (RETR), up to the blank line.
    Headers,
    /// The body lines of a message.
    Body,
}

/// Which header a value is being collected for; the discriminant is the
/// length of the header's name with its colon (the value follows it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
enum Capture {
    #[default]
    None = 0,
    Subject = 8,
    From = 5,
}

/// A collected header value.
#[derive(Clone, Copy, Debug, Default)]
struct Value {
    len: u16,
    started: bool,
    cut: bool,
}

impl Value {
    /// The value collected in `buf`, without trailing whitespace. Out of
    /// line: one copy for `From:` and `Subject:`.
    #[inline(never)]
    fn value<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        buf.get(..usize::from(self.len))
            .unwrap_or(&[])
            .trim_ascii_end()
    }

    fn push(&mut self, buf: &mut [u8], bytes: &[u8]) {
        for &b in bytes {
            if !self.started && (b == b' ' || b == b'\t') {
                continue;
            }
            self.started = true;
            match buf.get_mut(usize::from(self.len)) {
                Some(slot) => {
                    *slot = b;
                    self.len = self.len.wrapping_add(1); // < buf.len()
                }
                None => self.cut = true,
            }
        }
    }
}

/// The POP3 client. The application embeds it (the generated
/// `Config::Pop3` type) and forwards the TCP callbacks of the socket it
/// [`owns`](Pop3Client::owns); see [`mail`](crate::mail).
pub struct Pop3Client<S: Pop3Settings> {
    /// The session core: the connection, the step, the command's offset,
    /// the outcome.
    link: Link,
    timeouts: Timeouts,
    interval: Duration,
    next_check: Option<Instant>,
    count: u32,
    current: u32,
    size: Option<u32>,
    deleted: u32,
    rx: Rx,
    lines: LineState,
    /// Bytes of the current line's pieces so far (a status line's are
    /// bounded by [`MAX_REPLY_LINE`]; counted per piece in `on_piece`).
    status_len: u16,
    capture: Capture,
    subject: Value,
    from: Value,
    /// The text of the `-ERR` that ended the session (the outcome is
    /// recorded without it).
    err_text: ReplyText,
    stats: Pop3Stats,
    line: S::Line,
    subject_buf: S::Header,
    from_buf: S::Header,
}

impl<S: Pop3Settings> Default for Pop3Client<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Pop3Settings> fmt::Debug for Pop3Client<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pop3Client")
            .field("state", &self.state())
            .field("stats", &self.stats)
            .finish()
    }
}

/// `b` starts with `prefix`, ignoring ASCII case. Out of line: four
/// callers.
#[inline(never)]
fn starts_with_ci(b: &[u8], prefix: &[u8]) -> bool {
    b.get(..prefix.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(prefix))
}

/// `b` without ASCII whitespace at either end. Out of line: core's
/// `trim_ascii` inlined at its three callers cost 112 B more.
#[inline(never)]
fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// The first decimal number in `b` after leading spaces: its digits up
/// to the first other byte, at least one and at most 9 (`None`
/// otherwise). One pass: the digits are counted as they are added.
fn number(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    let mut digits = 0u8;
    // The end does not matter: digits are read from the start.
    for &c in trim(b) {
        if !c.is_ascii_digit() {
            break;
        }
        if digits == 9 {
            return None;
        }
        // At most 9 digits: below 10^9, no overflow; digits < 9.
        v = v
            .wrapping_mul(10)
            .wrapping_add(u32::from(c.wrapping_sub(b'0')));
        digits = digits.wrapping_add(1);
    }
    (digits > 0).then_some(v)
}

impl<S: Pop3Settings> Pop3Client<S> {
    /// An idle client with the `stack.toml` settings.
    pub fn new() -> Self {
        Pop3Client {
            link: Link::default(),
            timeouts: Timeouts {
                step: S::TIMEOUT,
                session: S::SESSION_TIMEOUT,
            },
            interval: S::INTERVAL,
            next_check: None,
            count: 0,
            current: 0,
            size: None,
            deleted: 0,
            rx: Rx::Status,
            lines: LineState::default(),
            status_len: 0,
            capture: Capture::None,
            subject: Value::default(),
            from: Value::default(),
            err_text: ReplyText::EMPTY,
            stats: Pop3Stats::default(),
            line: S::Line::new_table(),
            subject_buf: S::Header::new_table(),
            from_buf: S::Header::new_table(),
        }
    }

    /// Changes the per-step timeout for later sessions.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeouts.step = timeout;
    }

    /// Changes the whole-session deadline (`[pop3] session_timeout`) for
    /// later sessions.
    pub fn set_session_timeout(&mut self, timeout: Duration) {
        self.timeouts.session = timeout;
    }

    /// Changes how often the mailbox is checked by itself (zero: never).
    pub fn set_interval(&mut self, interval: Duration) {
        self.interval = interval;
        self.next_check = None;
    }

    /// Starts a session now.
    pub fn receive<M: Mailbox>(&mut self, mailbox: &M) -> Result<(), MailError> {
        if self.link.phase != Phase::Idle {
            return Err(MailError::from(MailFault::Busy));
        }
        if mailbox.server().is_none() && S::SERVER.is_none() {
            return Err(MailError::from(MailFault::NoServer));
        }
        if Self::credentials(mailbox).is_none() {
            return Err(MailError::from(MailFault::NoCredentials));
        }
        if !S::AUTH_BY_NAME && !matches!(Self::target(mailbox), Target::Addr(_)) {
            return Err(MailError::from(MailFault::CleartextAuthByName));
        }
        // The step, the command's offset and the outcome with it.
        self.link.start();
        // `count` and `current` are set by STAT's reply, before any use;
        // `err_text` is read only after an `-ERR` set it.
        self.deleted = 0;
        self.rx = Rx::Status;
        self.lines.clear();
        self.status_len = 0;
        Ok(())
    }

    /// The application's server or `stack.toml`'s.
    fn target<M: Mailbox>(mailbox: &M) -> Target<'_> {
        match mailbox.server() {
            Some(s) => Target::parse(s),
            None => S::SERVER.map_or(Target::Name(""), Target::from_setting),
        }
    }

    fn credentials<M: Mailbox>(mailbox: &M) -> Option<(&str, &str)> {
        mailbox.credentials().or(match (S::USER, S::PASSWORD) {
            (Some(u), Some(p)) => Some((u, p)),
            _ => None,
        })
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
    pub fn state(&self) -> Pop3State {
        match self.link.phase {
            Phase::Idle => Pop3State::Idle,
            Phase::Start | Phase::Resolving => Pop3State::Resolving,
            Phase::Connecting => Pop3State::Connecting {
                server: self.link.remote,
            },
            Phase::Open => match self.step() {
                MailStep::Retr => Pop3State::Retrieving {
                    number: self.current,
                    count: self.count,
                },
                MailStep::Dele => Pop3State::Deleting {
                    number: self.current,
                },
                step => Pop3State::Command(step),
            },
            Phase::Closing | Phase::Aborting | Phase::Finished => Pop3State::Closing,
        }
    }

    /// True when no session is under way.
    pub fn is_idle(&self) -> bool {
        self.link.phase == Phase::Idle
    }

    /// What the client has done.
    pub fn stats(&self) -> Pop3Stats {
        self.stats
    }

    /// Whether `socket` is this client's connection.
    pub fn owns(&self, socket: TcpHandle) -> bool {
        self.link.owns(socket)
    }

    /// When `poll` is next needed.
    pub fn poll_at(&self) -> Option<Instant> {
        match self.link.phase {
            Phase::Idle => self.next_check,
            _ => self.link.poll_at(),
        }
    }

    /// Runs the session (and starts the periodic check when due). Returns
    /// the outcome once, when the session is over and the client idle.
    pub fn poll<C: Config, N: Nic, M: Mailbox>(
        &mut self,
        stack: &mut Stack<C>,
        nic: &mut N,
        now: Instant,
        mailbox: &M,
        random: &mut dyn FnMut() -> u32,
    ) -> Option<Result<Pop3Summary, MailError>> {
        if self.link.phase == Phase::Idle {
            // No check planned: `next_check` is set only while the
            // interval is not zero (below; `set_interval` clears it).
            if self.interval == Duration::ZERO {
                return None;
            }
            let due = *self.next_check.get_or_insert(now.after(self.interval));
            if now < due {
                return None;
            }
            self.next_check = Some(now.after(self.interval));
            if let Err(e) = self.receive(mailbox) {
                return Some(Err(e));
            }
        }
        let target = Self::target(mailbox);
        // Read only while a status line is awaited (0: nothing to wait
        // for while a multi-line response arrives).
        let len = match (self.link.phase, self.rx) {
            (Phase::Open, Rx::Status) => self.command_len(mailbox),
            _ => 0,
        };
        if !self
            .link
            .poll(stack, nic, now, target, S::PORT, self.timeouts, len, random)
        {
            return None;
        }
        let outcome = self.result();
        match outcome {
            Ok(_) => self.stats.checks = self.stats.checks.saturating_add(1),
            Err(_) => self.stats.failed = self.stats.failed.saturating_add(1),
        }
        if self.interval > Duration::ZERO {
            self.next_check = Some(now.after(self.interval));
        }
        Some(outcome)
    }

    /// The session's result as reported: the summary, or the failure's
    /// error (with the `-ERR` text).
    fn result(&self) -> Result<Pop3Summary, MailError> {
        self.link.result(&self.err_text).map(|()| Pop3Summary {
            messages: self.current,
            deleted: self.deleted,
        })
    }

    /// The session's result so far (the first failure wins).
    #[cfg(test)]
    fn outcome(&self) -> Option<Result<Pop3Summary, MailError>> {
        self.link.outcome.map(|_| self.result())
    }

    /// Records a failure and ends the session: a graceful close after
    /// `-ERR` (no QUIT: nothing is committed), a reset otherwise. Out of
    /// line (seven callers).
    #[inline(never)]
    fn fail(&mut self, fault: Fault) {
        if self.link.fail(fault) {
            self.link.close();
        }
    }

    /// A TCP event for the socket it owns (others are ignored).
    pub fn tcp_event(&mut self, socket: TcpHandle, event: TcpEvent) {
        if !self.owns(socket) {
            return;
        }
        // Closing, the server closes first.
        let closing = self.link.phase == Phase::Closing;
        self.link.on_event(event, closing);
    }

    /// Whether the client is done with the socket (FIN may go).
    pub fn tcp_wants_close(&mut self, socket: TcpHandle) -> bool {
        self.owns(socket) && self.link.wants_close()
    }

    /// Received bytes on its socket: replies and message lines, handed to
    /// `mailbox` as they complete. Takes everything.
    pub fn tcp_received<N: Nic, M: Mailbox>(
        &mut self,
        socket: TcpHandle,
        data: &mut TcpReader<'_, N>,
        mailbox: &mut M,
    ) -> usize {
        let len = data.len();
        if !self.owns(socket) {
            return len;
        }
        read_each(data, &mut |bytes| self.on_bytes(bytes, mailbox));
        len
    }

    /// Bytes from the server (what `tcp_received` reads).
    fn on_bytes<M: Mailbox>(&mut self, bytes: &[u8], mailbox: &mut M) {
        for &b in bytes {
            if self.link.phase != Phase::Open {
                return;
            }
            // A complete line is progress; single bytes are not (a server
            // dribbling one byte at a time cannot hold the step open).
            if b == b'\n' {
                self.link.touched = true;
            }
            // A piece with `more` did not take `b`: it starts the next
            // piece (an empty buffer takes it; a second pass at most).
            while let Some(piece) = self.lines.push(self.line.slots_mut(), b) {
                self.on_piece(piece, mailbox);
                if !piece.more {
                    break;
                }
            }
        }
    }

    /// A complete line (piece): a status line or a message's. Out of
    /// line: inlined, the per-byte loop around it grew by more than the
    /// call costs.
    #[inline(never)]
    fn on_piece<M: Mailbox>(&mut self, piece: Piece, mailbox: &mut M) {
        // The line's length so far, from its pieces (a piece is at most
        // the line buffer, below 2^16; saturating for a long message
        // line), and no more than [`MAX_REPLY_LINE`] with its CR LF for a
        // status line (RFC 1939 §3): counted per piece, not per byte.
        let len = self.status_len.saturating_add(piece.len as u16);
        self.status_len = if piece.more { len } else { 0 };
        if self.rx == Rx::Status && len > MAX_REPLY_LINE - 2 {
            return self.fail(Fault::Malformed);
        }
        match self.rx {
            // A status line's later pieces: its tail, ignored (no state
            // for it: the line assembler marks them).
            Rx::Status if piece.continued => {}
            Rx::Status => self.on_status(piece.len, mailbox),
            Rx::Headers | Rx::Body => self.on_line(piece, mailbox),
        }
    }

    /// The length of the current command (`poll` and `on_status`).
    fn command_len<M: Mailbox>(&self, mailbox: &M) -> u32 {
        let mut w = Window::counter();
        self.command(&mut w, mailbox);
        u32::try_from(w.pos).unwrap_or(u32::MAX)
    }

    fn on_status<M: Mailbox>(&mut self, len: usize, mailbox: &mut M) {
        let step = self.step();
        // The reply must follow the whole command; the next one starts
        // where it ends (after `-ERR` or a malformed line the session
        // ends: nothing more is sent).
        if !self.link.replied(self.command_len(mailbox)) {
            return self.fail(Fault::Malformed);
        }
        let line = self.line.slots().get(..len).unwrap_or(&[]);
        if starts_with_ci(line, b"-ERR") {
            self.err_text = ReplyText::from_bytes(trim(line.get(4..).unwrap_or(&[])));
            return self.fail(Fault::Refused(0));
        }
        if !starts_with_ci(line, b"+OK") {
            return self.fail(Fault::Malformed);
        }
        let rest = line.get(3..).unwrap_or(&[]);
        let next = match step {
            MailStep::Greeting => MailStep::User,
            MailStep::User => MailStep::Pass,
            MailStep::Pass => MailStep::Stat,
            MailStep::Stat => {
                let Some(count) = number(rest) else {
                    return self.fail(Fault::Malformed);
                };
                self.count = count;
                self.current = 0;
                self.next_message()
            }
            MailStep::Retr => {
                self.size = number(rest);
                self.rx = Rx::Headers;
                self.capture = Capture::None;
                self.subject = Value::default();
                self.from = Value::default();
                MailStep::Retr
            }
            MailStep::Dele if !S::DELETE => return self.fail(Fault::Malformed),
            MailStep::Dele => {
                self.deleted = self.deleted.wrapping_add(1); // <= count < 10^9
                self.stats.deleted = self.stats.deleted.saturating_add(1);
                mailbox.deleted(self.current);
                self.next_message()
            }
            MailStep::Quit => {
                // A failure ends the session without QUIT, so QUIT's +OK
                // finds no outcome, but for a deletion refused with
                // `delete = false` (which QUIT follows). The summary is
                // made when the outcome is reported.
                if S::DELETE {
                    self.link.outcome = Some(Ok(()));
                } else {
                    self.link.outcome.get_or_insert(Ok(()));
                }
                self.link.close_after_peer();
                MailStep::Quit
            }
            // Before the connection or SMTP's: never POP3's step.
            _ => return self.fail(Fault::Malformed),
        };
        self.set_step(next);
    }

    /// RETR for the next message, or QUIT after the last. Out of line:
    /// three callers.
    #[inline(never)]
    fn next_message(&mut self) -> MailStep {
        if self.current < self.count {
            self.current = self.current.wrapping_add(1); // < count
            MailStep::Retr
        } else {
            MailStep::Quit
        }
    }

    /// A line (piece) of a message.
    fn on_line<M: Mailbox>(&mut self, piece: Piece, mailbox: &mut M) {
        let n = self.current;
        let mut bytes = self.line.slots().get(..piece.len).unwrap_or(&[]);
        if !piece.continued && bytes.first() == Some(&b'.') {
            if bytes.len() == 1 && !piece.more {
                return self.end_message(mailbox);
            }
            bytes = bytes.get(1..).unwrap_or(&[]); // dot-unstuffing
        }
        let line = Line {
            bytes,
            more: piece.more,
        };
        if self.rx == Rx::Body {
            mailbox.line(n, line);
            return;
        }
        if !piece.continued && bytes.is_empty() && !piece.more {
            self.rx = Rx::Body;
            self.start_message(mailbox);
            return;
        }
        mailbox.header(n, line);
        let value = if piece.continued || matches!(bytes.first(), Some(b' ' | b'\t')) {
            // The rest of a long line, or a folded continuation: unfolding
            // keeps the whitespace and drops only the CR LF.
            bytes
        } else {
            let capture = if starts_with_ci(bytes, b"subject:") {
                Capture::Subject
            } else if starts_with_ci(bytes, b"from:") {
                Capture::From
            } else {
                Capture::None
            };
            self.capture = capture;
            bytes.get(capture as usize..).unwrap_or(&[])
        };
        let (v, buf) = match self.capture {
            Capture::Subject => (&mut self.subject, self.subject_buf.slots_mut()),
            Capture::From => (&mut self.from, self.from_buf.slots_mut()),
            Capture::None => return,
        };
        v.push(buf, value);
    }

    fn start_message<M: Mailbox>(&mut self, mailbox: &mut M) {
        mailbox.message(&MessageInfo {
            number: self.current,
            count: self.count,
            size: self.size,
            from: self.from.value(self.from_buf.slots()),
            subject: self.subject.value(self.subject_buf.slots()),
            from_cut: self.from.cut,
            subject_cut: self.subject.cut,
        });
    }

    fn end_message<M: Mailbox>(&mut self, mailbox: &mut M) {
        if self.rx == Rx::Headers {
            self.start_message(mailbox);
        }
        self.stats.messages = self.stats.messages.saturating_add(1);
        self.rx = Rx::Status;
        let next = match mailbox.end(self.current) {
            Disposition::Delete if S::DELETE => MailStep::Dele,
            Disposition::Delete => {
                // Nothing was deleted: QUIT commits nothing.
                self.link.outcome.get_or_insert(Err(Failure {
                    fault: Fault::Unsupported,
                    step: self.link.step,
                }));
                MailStep::Quit
            }
            Disposition::Keep => self.next_message(),
        };
        self.set_step(next);
    }

    /// The bytes of the current command into `w`: the verb from a table,
    /// then its argument.
    fn command<M: Mailbox>(&self, w: &mut Window<'_>, mailbox: &M) {
        // By `MailStep` from `Quit` (POP3's steps follow it; those
        // before, without a command, wrap past the table: empty).
        const VERBS: &[u8] = b"QUIT|USER |PASS |STAT|RETR |DELE ";
        const STARTS: [u8; 7] = entry_starts(VERBS);
        const _: () = assert!(MailStep::Dele as u8 == MailStep::Quit as u8 + 5);
        let step = self.step();
        let verb = entry(
            VERBS,
            &STARTS,
            (step as usize).wrapping_sub(MailStep::Quit as usize),
        );
        if verb.is_empty() || (step == MailStep::Dele && !S::DELETE) {
            return;
        }
        w.put(verb);
        match step {
            MailStep::User | MailStep::Pass => {
                let (user, password) = Self::credentials(mailbox).unwrap_or(("", ""));
                let arg = if step == MailStep::User {
                    user
                } else {
                    password
                };
                w.put_filtered(arg.as_bytes(), &COMMAND);
            }
            MailStep::Retr | MailStep::Dele => w.put_u64(u64::from(self.current)),
            _ => {}
        }
        w.put(b"\r\n");
    }

    /// The stream bytes at `offset` for its socket: the command being
    /// sent (nothing while a multi-line response arrives).
    pub fn tcp_produce<M: Mailbox>(
        &mut self,
        socket: TcpHandle,
        offset: u32,
        max: usize,
        sink: &mut dyn PayloadSink,
        mailbox: &M,
    ) {
        if !self.owns(socket) || self.rx != Rx::Status {
            return;
        }
        let Some(rel) = self.link.command_offset(offset) else {
            return;
        };
        let mut w = Window::new(sink, rel as usize, max);
        self.command(&mut w, mailbox);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Ipv4Address;
    use proptest::prelude::*;

    struct Small;
    impl Pop3Settings for Small {
        const SERVER: Option<MailServer> = Some(MailServer::Addr(Ipv4Address([10, 0, 0, 1])));
        const PORT: u16 = 110;
        const USER: Option<&'static str> = Some("alice");
        const PASSWORD: Option<&'static str> = Some("secret");
        const TIMEOUT: Duration = Duration::from_secs(10);
        const SESSION_TIMEOUT: Duration = Duration::from_secs(60);
        const AUTH_BY_NAME: bool = false;
        const INTERVAL: Duration = Duration::ZERO;
        type Line = [u8; 16];
        type Header = [u8; 40];
    }

    #[test]
    fn commands_by_step_of_the_shared_numbering() {
        // POP3's steps follow `Quit` in `MailStep`; every other step
        // (the connection's, SMTP's) has no POP3 command.
        use MailStep as T;
        let mb = Box_::default();
        let mut c = Pop3Client::<Small>::new();
        c.current = 7;
        for n in 0..=T::Dele as u8 {
            let step = MailStep::ALL[usize::from(n)];
            assert_eq!(step as u8, n);
            c.set_step(step);
            let mut sink = VecSink(Vec::new());
            c.command(&mut Window::new(&mut sink, 0, usize::MAX), &mb);
            let want: &[u8] = match step {
                T::Quit => b"QUIT\r\n",
                T::User => b"USER alice\r\n",
                T::Pass => b"PASS secret\r\n",
                T::Stat => b"STAT\r\n",
                T::Retr => b"RETR 7\r\n",
                T::Dele => b"DELE 7\r\n",
                _ => b"",
            };
            assert_eq!(sink.0, want, "{step}");
        }
    }

    #[test]
    fn number_is_1_to_9_digits_after_spaces() {
        assert_eq!(number(b" 12 octets"), Some(12));
        assert_eq!(number(b"\t007"), Some(7));
        assert_eq!(number(b"123456789"), Some(123_456_789));
        assert_eq!(number(b"999999999x"), Some(999_999_999));
        assert_eq!(number(b"1234567890"), None);
        assert_eq!(number(b"12a3"), Some(12));
        assert_eq!(number(b""), None);
        assert_eq!(number(b"  "), None);
        assert_eq!(number(b"x1"), None);
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Ev {
        Header(u32, Vec<u8>, bool),
        Start(u32, Vec<u8>, Vec<u8>, bool),
        Line(u32, Vec<u8>, bool),
        End(u32),
        Deleted(u32),
    }

    #[derive(Default)]
    struct Box_ {
        ev: Vec<Ev>,
        delete: Vec<u32>,
    }

    impl Mailbox for Box_ {
        fn header(&mut self, n: u32, line: Line<'_>) {
            self.ev.push(Ev::Header(n, line.bytes.to_vec(), line.more));
        }
        fn message(&mut self, info: &MessageInfo<'_>) {
            self.ev.push(Ev::Start(
                info.number,
                info.address().to_vec(),
                info.subject.to_vec(),
                info.subject_cut,
            ));
        }
        fn line(&mut self, n: u32, line: Line<'_>) {
            self.ev.push(Ev::Line(n, line.bytes.to_vec(), line.more));
        }
        fn end(&mut self, n: u32) -> Disposition {
            self.ev.push(Ev::End(n));
            if self.delete.contains(&n) {
                Disposition::Delete
            } else {
                Disposition::Keep
            }
        }
        fn deleted(&mut self, n: u32) {
            self.ev.push(Ev::Deleted(n));
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

    struct Dut {
        c: Pop3Client<Small>,
        mb: Box_,
        offset: u32,
    }

    impl Dut {
        fn new() -> Dut {
            let mut c = Pop3Client::<Small>::new();
            let mb = Box_::default();
            c.receive(&mb).unwrap();
            c.link.phase = Phase::Connecting;
            c.link.set_socket(Some(SOCK));
            c.tcp_event(
                SOCK,
                TcpEvent::Connected {
                    remote: Endpoint::new(Ipv4Address([10, 0, 0, 1]), 110),
                },
            );
            Dut { c, mb, offset: 0 }
        }

        /// The command the client sends now (acknowledged).
        fn pull(&mut self) -> String {
            let mut out = Vec::new();
            loop {
                let mut s = VecSink(Vec::new());
                self.c.tcp_produce(SOCK, self.offset, 5, &mut s, &self.mb);
                if s.0.is_empty() {
                    break;
                }
                self.offset += s.0.len() as u32;
                out.extend_from_slice(&s.0);
            }
            self.c.tcp_event(
                SOCK,
                TcpEvent::Acked {
                    offset: self.offset,
                },
            );
            String::from_utf8(out).unwrap()
        }

        fn server(&mut self, bytes: &[u8]) {
            self.c.on_bytes(bytes, &mut self.mb);
        }
    }

    const M1: &[u8] = b"From: Alice Example\r\n <alice@example.com>\r\nSubject: hello\r\n\tworld\r\nX-Long: 0123456789abcdefghij\r\n\r\nline one\r\n..dot line\r\n.\r\n";
    const M2: &[u8] = b"Subject: a subject much longer than the buffer of forty\r\nFrom: bob@example.com\r\n\r\n0123456789abcdef\r\n0123456789abcdefX\r\n\r\n.\r\n";

    fn run(d: &mut Dut, chunk: usize) {
        let mut script: Vec<(Option<&str>, Vec<u8>)> = vec![
            (None, b"+OK POP3 ready\r\n".to_vec()),
            (Some("USER alice\r\n"), b"+OK\r\n".to_vec()),
            (Some("PASS secret\r\n"), b"+OK logged in\r\n".to_vec()),
            (Some("STAT\r\n"), b"+OK 2 320\r\n".to_vec()),
        ];
        let mut r1 = b"+OK 120 octets\r\n".to_vec();
        r1.extend_from_slice(M1);
        script.push((Some("RETR 1\r\n"), r1));
        script.push((Some("DELE 1\r\n"), b"+OK marked\r\n".to_vec()));
        let mut r2 = b"+OK\r\n".to_vec();
        r2.extend_from_slice(M2);
        script.push((Some("RETR 2\r\n"), r2));
        script.push((Some("QUIT\r\n"), b"+OK bye\r\n".to_vec()));
        for (cmd, reply) in script {
            if let Some(cmd) = cmd {
                assert_eq!(d.pull(), cmd);
            }
            for c in reply.chunks(chunk) {
                d.server(c);
            }
        }
    }

    fn expected() -> Vec<Ev> {
        use Ev::*;
        vec![
            Header(1, b"From: Alice Exam".to_vec(), true),
            Header(1, b"ple".to_vec(), false),
            Header(1, b" <alice@example.".to_vec(), true),
            Header(1, b"com>".to_vec(), false),
            Header(1, b"Subject: hello".to_vec(), false),
            Header(1, b"\tworld".to_vec(), false),
            Header(1, b"X-Long: 01234567".to_vec(), true),
            Header(1, b"89abcdefghij".to_vec(), false),
            Start(
                1,
                b"alice@example.com".to_vec(),
                b"hello\tworld".to_vec(),
                false,
            ),
            Line(1, b"line one".to_vec(), false),
            Line(1, b".dot line".to_vec(), false),
            End(1),
            Deleted(1),
            Header(2, b"Subject: a subje".to_vec(), true),
            Header(2, b"ct much longer t".to_vec(), true),
            Header(2, b"han the buffer o".to_vec(), true),
            Header(2, b"f forty".to_vec(), false),
            Header(2, b"From: bob@exampl".to_vec(), true),
            Header(2, b"e.com".to_vec(), false),
            Start(
                2,
                b"bob@example.com".to_vec(),
                b"a subject much longer than the buffer of".to_vec(),
                true,
            ),
            Line(2, b"0123456789abcdef".to_vec(), false),
            Line(2, b"0123456789abcdef".to_vec(), true),
            Line(2, b"X".to_vec(), false),
            Line(2, b"".to_vec(), false),
            End(2),
        ]
    }

    #[test]
    fn a_session_delivers_lines_unfolds_headers_and_deletes() {
        let mut d = Dut::new();
        d.mb.delete = vec![1];
        run(&mut d, 1000);
        assert_eq!(d.mb.ev, expected());
        assert_eq!(
            d.c.outcome(),
            Some(Ok(Pop3Summary {
                messages: 2,
                deleted: 1
            }))
        );
        assert_eq!(d.c.link.phase, Phase::Closing);
        // The server closes first after QUIT (no TIME-WAIT for us): our
        // FIN answers its FIN.
        assert!(!d.c.tcp_wants_close(SOCK));
        d.c.tcp_event(SOCK, TcpEvent::PeerClosed);
        assert!(d.c.tcp_wants_close(SOCK));
        assert!(d.c.outcome().unwrap().is_ok());
    }

    /// A status line longer than the line buffer (16 bytes here) is read
    /// by its first piece; the rest of it is ignored, whatever it holds.
    #[test]
    fn status_lines_longer_than_the_buffer_are_read_by_their_first_piece() {
        for chunk in [1, 7, 1000] {
            let mut d = Dut::new();
            let replies: [&[u8]; 2] = [
                b"+OK POP3 server ready, and a tail -ERR that is ignored\r\n",
                b"+OK a long, long user reply going on\r\n",
            ];
            for (reply, next) in replies.iter().zip(["USER alice\r\n", "PASS secret\r\n"]) {
                for c in reply.chunks(chunk) {
                    d.server(c);
                }
                assert_eq!(d.pull(), next);
            }
            for c in b"-ERR wrong password, and more text after it\r\n".chunks(chunk) {
                d.server(c);
            }
            match d.c.outcome() {
                Some(Err(MailError {
                    fault: MailFault::Refused(0),
                    step: MailStep::Pass,
                    text,
                })) => assert_eq!(text.as_str(), "wrong passw"),
                other => panic!("{other:?}"),
            }
        }
    }

    /// A status line may be 512 bytes with its CR LF (RFC 1939 §3): one
    /// more, or one that never ends, fails the session as malformed
    /// (counted by its pieces: here 16 bytes each); a long message
    /// line does not, and the count starts again at each line.
    #[test]
    fn status_lines_over_512_bytes_are_malformed() {
        for chunk in [1, 7, 1000] {
            for (tail, ok) in [(506, true), (507, false)] {
                let mut d = Dut::new();
                // "+OK " and the tail: 510 or 511 bytes before CR LF.
                let mut line = b"+OK ".to_vec();
                line.extend(std::iter::repeat_n(b'x', tail));
                line.extend_from_slice(b"\r\n");
                for _ in 0..2 {
                    // A second line of the same length: the count restarts.
                    for c in line.chunks(chunk) {
                        d.server(c);
                    }
                    if ok {
                        d.pull();
                    }
                }
                match d.c.outcome() {
                    None if ok => assert_eq!(d.c.step(), MailStep::Pass),
                    Some(Err(MailError {
                        fault: MailFault::Malformed,
                        // The greeting was taken at its first piece.
                        step: MailStep::User,
                        ..
                    })) if !ok => {}
                    other => panic!("{tail} {chunk}: {other:?}"),
                }
            }
            // A status line without an end: failed within a piece of 512.
            let mut d = Dut::new();
            let endless = vec![b'+'; 528];
            for c in endless.chunks(chunk) {
                d.server(c);
            }
            assert!(matches!(
                d.c.outcome(),
                Some(Err(MailError {
                    fault: MailFault::Malformed,
                    ..
                }))
            ));
            // A message line of 600 bytes is a message's.
            let mut d = Dut::new();
            for r in [&b"+OK\r\n"[..], b"+OK\r\n", b"+OK\r\n", b"+OK 1 700\r\n"] {
                d.server(r);
                d.pull();
            }
            let mut m = b"+OK\r\n".to_vec();
            m.extend(std::iter::repeat_n(b'y', 600));
            m.extend_from_slice(b"\r\n\r\nbody\r\n.\r\n");
            for c in m.chunks(chunk) {
                d.server(c);
            }
            assert_eq!(d.pull(), "QUIT\r\n");
            assert_eq!(d.c.outcome(), None);
        }
    }

    /// `[pop3] delete = false`: DELE is never sent; asking to delete ends
    /// the session with QUIT and `Unsupported`, the message kept.
    #[test]
    fn delete_switched_off_quits_with_unsupported() {
        struct NoDele;
        impl Pop3Settings for NoDele {
            const SERVER: Option<MailServer> = Small::SERVER;
            const PORT: u16 = 110;
            const USER: Option<&'static str> = Small::USER;
            const PASSWORD: Option<&'static str> = Small::PASSWORD;
            const TIMEOUT: Duration = Small::TIMEOUT;
            const SESSION_TIMEOUT: Duration = Small::SESSION_TIMEOUT;
            const AUTH_BY_NAME: bool = false;
            const INTERVAL: Duration = Duration::ZERO;
            type Line = [u8; 16];
            type Header = [u8; 40];
            const DELETE: bool = false;
        }
        let mut c = Pop3Client::<NoDele>::new();
        let mut mb = Box_ {
            delete: vec![1],
            ..Box_::default()
        };
        c.receive(&mb).unwrap();
        c.link.phase = Phase::Connecting;
        c.link.set_socket(Some(SOCK));
        c.tcp_event(
            SOCK,
            TcpEvent::Connected {
                remote: Endpoint::new(Ipv4Address([10, 0, 0, 1]), 110),
            },
        );
        let mut offset = 0u32;
        let mut r1 = b"+OK 120 octets\r\n".to_vec();
        r1.extend_from_slice(M1);
        for (cmd, reply) in [
            (None, b"+OK POP3 ready\r\n".to_vec()),
            (Some("USER alice\r\n"), b"+OK\r\n".to_vec()),
            (Some("PASS secret\r\n"), b"+OK logged in\r\n".to_vec()),
            (Some("STAT\r\n"), b"+OK 2 320\r\n".to_vec()),
            (Some("RETR 1\r\n"), r1),
            (Some("QUIT\r\n"), b"+OK bye\r\n".to_vec()),
        ] {
            if let Some(cmd) = cmd {
                let mut sink = VecSink(Vec::new());
                c.tcp_produce(SOCK, offset, 100, &mut sink, &mb);
                assert_eq!(String::from_utf8(sink.0.clone()).unwrap(), cmd);
                offset += sink.0.len() as u32;
                c.tcp_event(SOCK, TcpEvent::Acked { offset });
            }
            c.on_bytes(&reply, &mut mb);
        }
        assert_eq!(
            c.outcome(),
            Some(Err(MailError::new(MailFault::Unsupported, MailStep::Retr)))
        );
        assert!(!mb.ev.iter().any(|e| matches!(e, Ev::Deleted(_))));
        assert_eq!(c.link.phase, Phase::Closing);
    }

    #[test]
    fn empty_mailbox_quits_after_stat() {
        let mut d = Dut::new();
        d.server(b"+OK hi\r\n");
        assert_eq!(d.pull(), "USER alice\r\n");
        d.server(b"+OK\r\n");
        assert_eq!(d.pull(), "PASS secret\r\n");
        d.server(b"+OK\r\n");
        assert_eq!(d.pull(), "STAT\r\n");
        d.server(b"+OK 0 0\r\n");
        assert_eq!(d.pull(), "QUIT\r\n");
    }

    #[test]
    fn a_status_line_over_512_bytes_is_malformed_but_message_lines_are_not() {
        let mut d = Dut::new();
        d.server(&[b'+'; 600]);
        assert_eq!(
            d.c.outcome(),
            Some(Err(MailError::new(
                MailFault::Malformed,
                MailStep::Greeting
            )))
        );
        let mut d = Dut::new();
        d.server(b"+OK hi\r\n");
        d.pull();
        d.server(b"+OK\r\n");
        d.pull();
        d.server(b"+OK\r\n");
        d.pull();
        d.server(b"+OK 1 10\r\n");
        d.pull();
        let mut long = b"+OK\r\nSubject: s\r\n\r\n".to_vec();
        long.extend_from_slice(&[b'x'; 3000]);
        d.server(&long);
        assert_eq!(d.c.outcome(), None, "message lines come in pieces");
    }

    #[test]
    fn err_at_every_step_is_a_typed_failure_without_quit() {
        let replies: [&[u8]; 6] = [
            b"+OK hi\r\n",
            b"+OK\r\n",
            b"+OK\r\n",
            b"+OK 1 10\r\n",
            b"+OK\r\nSubject: s\r\n\r\nbody\r\n.\r\n",
            b"+OK\r\n",
        ];
        let steps = [
            MailStep::Greeting,
            MailStep::User,
            MailStep::Pass,
            MailStep::Stat,
            MailStep::Retr,
            MailStep::Dele,
            MailStep::Quit,
        ];
        for (i, step) in steps.iter().enumerate() {
            let mut d = Dut::new();
            d.mb.delete = vec![1];
            for r in &replies[..i] {
                d.server(r);
                d.pull();
            }
            d.server(b"-ERR [AUTH] Authentication failed.\r\n");
            assert_eq!(
                d.c.outcome(),
                Some(Err(MailError {
                    fault: MailFault::Refused(0),
                    step: *step,
                    // The status line is read into the line buffer (16 here).
                    text: ReplyText::from_bytes(b"[AUTH] Auth"),
                })),
                "{step}"
            );
            assert_eq!(d.pull(), "", "no QUIT after -ERR");
            assert_eq!(d.c.link.phase, Phase::Closing);
        }
    }

    #[test]
    fn malformed_status_and_stat_abort() {
        let mut d = Dut::new();
        d.server(b"HELLO\r\n");
        assert_eq!(
            d.c.outcome(),
            Some(Err(MailError::new(
                MailFault::Malformed,
                MailStep::Greeting
            )))
        );
        assert_eq!(d.c.link.phase, Phase::Aborting);
        let mut d = Dut::new();
        for r in [&b"+OK\r\n"[..], b"+OK\r\n", b"+OK\r\n"] {
            d.server(r);
            d.pull();
        }
        d.server(b"+OK many\r\n");
        assert_eq!(
            d.c.outcome(),
            Some(Err(MailError::new(MailFault::Malformed, MailStep::Stat)))
        );
        let mut d = Dut::new();
        d.server(b"+OK\r\n+OK early\r\n");
        assert_eq!(
            d.c.outcome(),
            Some(Err(MailError::new(MailFault::Malformed, MailStep::User)))
        );
    }

    #[test]
    fn a_message_cut_by_the_server_is_a_typed_failure() {
        let mut d = Dut::new();
        for r in [&b"+OK\r\n"[..], b"+OK\r\n", b"+OK\r\n", b"+OK 1 99\r\n"] {
            d.server(r);
            d.pull();
        }
        d.server(b"+OK\r\nSubject: x\r\n\r\nhalf a");
        d.c.tcp_event(SOCK, TcpEvent::PeerClosed);
        assert_eq!(
            d.c.outcome(),
            Some(Err(MailError::new(MailFault::Closed, MailStep::Retr)))
        );
        assert_eq!(d.c.link.phase, Phase::Aborting);
    }

    #[test]
    fn address_extraction() {
        let info = |from: &'static [u8]| MessageInfo {
            number: 1,
            count: 1,
            size: None,
            from,
            subject: b"",
            from_cut: false,
            subject_cut: false,
        };
        assert_eq!(info(b"Alice <a@b.c>").address(), b"a@b.c");
        assert_eq!(info(b"  a@b.c ").address(), b"a@b.c");
        assert_eq!(info(b"<a@b.c").address(), b"a@b.c");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// However the server's bytes are cut into segments, the mailbox
        /// sees the same calls.
        #[test]
        fn segmentation_does_not_matter(chunk in 1usize..40) {
            let mut d = Dut::new();
            d.mb.delete = vec![1];
            run(&mut d, chunk);
            prop_assert_eq!(d.mb.ev, expected());
        }

        #[test]
        fn random_server_bytes_never_panic(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 0..30),
            prefix in 0usize..5,
        ) {
            let mut d = Dut::new();
            let ok: [&[u8]; 4] = [b"+OK\r\n", b"+OK\r\n", b"+OK\r\n", b"+OK 3 10\r\n"];
            for r in &ok[..prefix.min(4)] {
                d.server(r);
                d.pull();
            }
            if prefix == 4 {
                d.server(b"+OK\r\n");
            }
            for c in chunks {
                d.server(&c);
                d.pull();
            }
        }

        #[test]
        fn line_assembly_never_overflows_and_keeps_every_byte(
            bytes in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'a'), any::<u8>()], 0..400),
        ) {
            let mut st = LineState::default();
            let mut buf = [0u8; 7];
            let mut out = Vec::new();
            for &b in &bytes {
                if let Some(p) = st.push(&mut buf, b) {
                    prop_assert!(p.len <= buf.len());
                    out.extend_from_slice(&buf[..p.len]);
                    if p.more {
                        // Not taken: it starts the next piece.
                        prop_assert_eq!(st.push(&mut buf, b), None);
                    } else {
                        out.push(b'\n');
                    }
                }
            }
            // Every complete line comes out with CR LF / LF made LF.
            let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let mut expect = Vec::new();
            for line in bytes[..complete].split_inclusive(|&b| b == b'\n') {
                let l = &line[..line.len() - 1];
                expect.extend_from_slice(l.strip_suffix(b"\r").unwrap_or(l));
                expect.push(b'\n');
            }
            let end = out.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            prop_assert_eq!(&out[..end], &expect[..]);
        }
    }
}
