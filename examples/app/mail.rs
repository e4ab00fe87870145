//! Mail for the reference device: a status email with an attachment
//! (SMTP) and a mailbox check (POP3), plus their log lines.
//!
//! The clients are the generated composition's (`Services`, from
//! `stack.toml`), which routes their sockets; the device provides the
//! message and the mailbox (`SmtpApp`, `Pop3App` in `lib.rs`) and starts
//! sends and checks. Some configurations of the device
//! (`examples/configs/`) have no mail: their `Config::Smtp` is `Disabled`,
//! which refuses a send with a logged error, as `names.rs` does for DNS
//! and SNTP.
//!
//! Log lines: `smtp: sent to ADDR in MS ms rewinds=N` (rewinds: times TCP
//! went back in the message), `smtp: failed CODE text
//! (step)` (or `smtp: failed timeout (step)`...), `smtp: progress STATE`;
//! `pop3: message N from=ADDR subject=TEXT`, `pop3: end N lines=L
//! pieces=P longest=B bytes=B crc32=X` (over the header lines, an empty
//! line and the body lines as delivered, each followed by LF),
//! `pop3: deleted N`, `pop3: done messages=M deleted=D`, `pop3: failed
//! ...`, `pop3: progress STATE`.

use crate::tcp_services::{crc32_update, Pattern};
use crate::text::Sink;
use crate::Log;
use core::fmt::{self, Write as _};
use emberstack::compose::{Pop3Part, SmtpPart};
use emberstack::mail::MailError;
use emberstack::pop3::{Disposition, Line, Mailbox, MessageInfo, Pop3State, Pop3Summary};
use emberstack::smtp::{Attachment, Outgoing, Part, SmtpState, SmtpStats};
use emberstack::{Duration, Instant};

/// Bytes of the generated attachment when no file is given.
pub const GENERATED_ATTACHMENT: u32 = 4096;
/// Room for the status text of a status email.
const STATUS_TEXT: usize = 384;

/// Mail settings from the command line (or, later, the settings page);
/// what is `None` comes from `stack.toml`.
#[derive(Clone, Copy, Debug, Default)]
pub struct MailOptions {
    /// The SMTP server (address or host name).
    pub smtp_server: Option<&'static str>,
    /// The POP3 server.
    pub pop3_server: Option<&'static str>,
    /// User name for both servers.
    pub user: Option<&'static str>,
    /// Password for both servers.
    pub password: Option<&'static str>,
    /// Send to the recipient's mail exchange (MX) instead of a server.
    pub smtp_mx: bool,
    /// Recipient of the status email; set: one is sent at start.
    pub to: Option<&'static str>,
    /// Sender (default `ember@` the recipient's domain).
    pub from: Option<&'static str>,
    /// Text instead of the generated status report.
    pub body: Option<&'static [u8]>,
    /// Attachment (file name, bytes) instead of the generated 4 KB.
    pub attachment: Option<(&'static str, &'static [u8])>,
    /// Check the mailbox once at start.
    pub check_at_start: bool,
    /// Delete messages whose subject contains this (`""`: all); default:
    /// keep every message.
    pub delete_matching: Option<&'static str>,
    /// Per-step timeout instead of `stack.toml`'s (seconds).
    pub timeout_secs: Option<u32>,
    /// Whole-session deadline instead of `stack.toml`'s (seconds).
    pub session_timeout_secs: Option<u32>,
    /// Periodic check interval instead of `stack.toml`'s (seconds, 0 off).
    pub interval_secs: Option<u32>,
    /// Repeat the start-up send and check this many times more, each after
    /// the previous one's outcome (scripted runs: a button pressed again).
    pub repeat: u32,
}

/// The status email: headers from the options, the text from a report
/// written when the send starts (or a file), the attachment from a file or
/// generated. Everything stays fixed while the send runs, so any position
/// can be read again (the retransmission rewind).
#[derive(Clone, Copy, Debug)]
pub struct StatusMail {
    opts: MailOptions,
    from: [u8; 64],
    from_len: usize,
    subject: [u8; 40],
    subject_len: usize,
    text: [u8; STATUS_TEXT],
    text_len: usize,
}

/// Text into a fixed buffer (cuts what does not fit).
struct Buf<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Sink for Buf<'_> {
    fn put(&mut self, s: &str) {
        let room = self.buf.len() - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
    }
}

fn as_str(b: &[u8]) -> &str {
    core::str::from_utf8(b).unwrap_or("?")
}

impl StatusMail {
    fn new(opts: MailOptions, device: &str) -> StatusMail {
        let mut m = StatusMail {
            opts,
            from: [0; 64],
            from_len: 0,
            subject: [0; 40],
            subject_len: 0,
            text: [0; STATUS_TEXT],
            text_len: 0,
        };
        let mut b = Buf {
            buf: &mut m.from,
            len: 0,
        };
        match (opts.from, opts.to) {
            (Some(f), _) => b.put(f),
            (None, to) => {
                b.put("ember@");
                b.put(
                    to.and_then(emberstack::mail::domain_of)
                        .unwrap_or("localhost"),
                );
            }
        }
        m.from_len = b.len;
        let mut b = Buf {
            buf: &mut m.subject,
            len: 0,
        };
        b.put(device);
        b.put(" status");
        m.subject_len = b.len;
        m
    }

    /// Writes the status report (frozen until the next send).
    fn report(&mut self, write: impl FnOnce(&mut dyn Sink)) {
        let mut b = Buf {
            buf: &mut self.text,
            len: 0,
        };
        write(&mut b);
        self.text_len = b.len;
    }

    fn attachment_len(&self) -> u32 {
        match self.opts.attachment {
            Some((_, bytes)) => bytes.len() as u32,
            None => GENERATED_ATTACHMENT,
        }
    }
}

impl Outgoing for StatusMail {
    fn from(&self) -> &str {
        as_str(&self.from[..self.from_len])
    }
    fn to(&self, index: usize) -> Option<&str> {
        (index == 0).then_some(self.opts.to).flatten()
    }
    fn subject(&self) -> &str {
        as_str(&self.subject[..self.subject_len])
    }
    fn attachment(&self) -> Option<Attachment<'_>> {
        Some(Attachment {
            file_name: self.opts.attachment.map_or("status.bin", |(name, _)| name),
            content_type: "application/octet-stream",
        })
    }
    fn read(&mut self, part: Part, at: u32, buf: &mut [u8]) -> usize {
        let at = at as usize;
        match (part, self.opts.attachment) {
            (Part::Text, _) => {
                let text = self.opts.body.unwrap_or(&self.text[..self.text_len]);
                let rest = text.get(at..).unwrap_or(&[]);
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                n
            }
            (Part::Attachment, Some((_, bytes))) => {
                let rest = bytes.get(at..).unwrap_or(&[]);
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                n
            }
            (Part::Attachment, None) => {
                let left = (self.attachment_len() as usize).saturating_sub(at);
                let n = left.min(buf.len());
                for (b, p) in buf[..n].iter_mut().zip(Pattern::at(at as u64)) {
                    *b = p;
                }
                n
            }
        }
    }
    fn server(&self) -> Option<&str> {
        self.opts.smtp_server
    }
    fn credentials(&self) -> Option<(&str, &str)> {
        self.opts.user.zip(self.opts.password)
    }
    fn use_mx(&self) -> Option<bool> {
        self.opts.smtp_mx.then_some(true)
    }
}

/// The mailbox side: what the device remembers of the messages it reads.
#[derive(Clone, Copy, Debug, Default)]
pub struct InboxState {
    opts: MailOptions,
    lines: u32,
    pieces: u32,
    longest: usize,
    bytes: u64,
    crc: u32,
    deleting: bool,
}

impl<L: Log> Inbox<'_, L> {
    /// Counts a line's piece for the `pop3: end` log line; nothing for a
    /// log that keeps no line (the statistics are only logged).
    fn piece(&mut self, line: &Line<'_>) {
        if self.log.keeps_lines() {
            self.state.piece(line);
        }
    }
}

impl InboxState {
    fn piece(&mut self, line: &Line<'_>) {
        self.pieces += 1;
        self.longest = self.longest.max(line.bytes.len());
        self.bytes += line.bytes.len() as u64;
        self.crc = crc32_update(self.crc, line.bytes);
        if !line.more {
            self.crc = crc32_update(self.crc, b"\n");
            self.lines += 1;
        }
    }
}

/// Bytes as log text: UTF-8 as is, other bytes as `?`.
struct Text<'a>(&'a [u8]);
impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                f.write_char(if c.is_control() { '?' } else { c })?;
            }
            if !chunk.invalid().is_empty() {
                f.write_char('?')?;
            }
        }
        Ok(())
    }
}

/// The mailbox the POP3 client calls: logs and decides keep or delete.
pub struct Inbox<'a, L: Log> {
    log: &'a mut L,
    state: &'a mut InboxState,
}

impl<L: Log> Mailbox for Inbox<'_, L> {
    fn server(&self) -> Option<&str> {
        self.state.opts.pop3_server
    }
    fn credentials(&self) -> Option<(&str, &str)> {
        self.state.opts.user.zip(self.state.opts.password)
    }
    fn header(&mut self, _number: u32, line: Line<'_>) {
        self.piece(&line);
    }
    fn message(&mut self, info: &MessageInfo<'_>) {
        // The empty line between headers and body counts as a line.
        self.piece(&Line {
            bytes: b"",
            more: false,
        });
        self.log.line(format_args!(
            "pop3: message {} from={} subject={}",
            info.number,
            Text(info.address()),
            Text(info.subject)
        ));
        let s = &mut *self.state;
        s.deleting = match s.opts.delete_matching {
            Some(needle) => info
                .subject
                .windows(needle.len().max(1))
                .any(|w| needle.is_empty() || w == needle.as_bytes()),
            None => false,
        };
    }
    fn line(&mut self, _number: u32, line: Line<'_>) {
        self.piece(&line);
    }
    fn end(&mut self, number: u32) -> Disposition {
        let s = &mut *self.state;
        self.log.line(format_args!(
            "pop3: end {number} lines={} pieces={} longest={} bytes={} crc32={:08x}",
            s.lines, s.pieces, s.longest, s.bytes, s.crc
        ));
        let keep = !s.deleting;
        *s = InboxState {
            opts: s.opts,
            ..InboxState::default()
        };
        if keep {
            self.log.line(format_args!("pop3: keep {number}"));
            Disposition::Keep
        } else {
            Disposition::Delete
        }
    }
    fn deleted(&mut self, number: u32) {
        self.log.line(format_args!("pop3: deleted {number}"));
    }
}

/// The device's mail: the status email, the inbox state and what is
/// asked for. The clients themselves are the generated composition's
/// (`Services::smtp`, `Services::pop3`; `Disabled` in a configuration
/// without them), which routes their sockets; this keeps what the device
/// sends and decides.
pub struct Mail {
    /// The status email (the SMTP client reads it while a send runs).
    pub(crate) outgoing: StatusMail,
    inbox: InboxState,
    /// A send / check asked for before the interface had an address.
    send_pending: bool,
    check_pending: bool,
    shown_smtp: Option<SmtpState>,
    shown_pop3: Option<Pop3State>,
    /// When the current send started (for the log).
    send_started: Instant,
    /// Repeats left of the start-up send / check.
    repeat_send: u32,
    repeat_check: u32,
}

/// A state with its changing counter zeroed, so progress is logged once
/// per step.
fn smtp_key(s: SmtpState) -> SmtpState {
    match s {
        SmtpState::Sending { .. } => SmtpState::Sending { acked: 0 },
        s => s,
    }
}

impl Mail {
    /// The device's mail with `opts` applied; `device` names it in the
    /// subject.
    pub fn new(opts: MailOptions, device: &str) -> Self {
        Mail {
            outgoing: StatusMail::new(opts, device),
            inbox: InboxState {
                opts,
                ..InboxState::default()
            },
            send_pending: opts.to.is_some(),
            check_pending: opts.check_at_start,
            shown_smtp: None,
            shown_pop3: None,
            send_started: Instant::ZERO,
            repeat_send: if opts.to.is_some() { opts.repeat } else { 0 },
            repeat_check: if opts.check_at_start { opts.repeat } else { 0 },
        }
    }

    /// Applies the options' timeouts and interval to the clients.
    pub fn configure<S: SmtpPart, P: Pop3Part>(&self, smtp: &mut S, pop3: &mut P) {
        let opts = self.inbox.opts;
        if let Some(t) = opts.timeout_secs {
            let t = Duration::from_secs(u64::from(t));
            smtp.set_timeout(t);
            pop3.set_timeout(t);
        }
        if let Some(t) = opts.session_timeout_secs {
            let t = Duration::from_secs(u64::from(t));
            smtp.set_session_timeout(t);
            pop3.set_session_timeout(t);
        }
        if let Some(i) = opts.interval_secs {
            pop3.set_interval(Duration::from_secs(u64::from(i)));
        }
    }

    /// Asks for a status email (sent once the interface has an address).
    pub fn request_send(&mut self) {
        self.send_pending = true;
    }

    /// Asks for a mailbox check.
    pub fn request_check(&mut self) {
        self.check_pending = true;
    }

    /// True when a send waits only for the status report: the caller
    /// writes it with [`Mail::report`] before the next [`Mail::start`].
    pub fn wants_report(&self, online: bool) -> bool {
        self.send_pending && online
    }

    /// Writes the status email's text (frozen until the next send) with
    /// `write` (the [`crate::text`] writers: no `core::fmt` needed).
    pub fn report(&mut self, write: impl FnOnce(&mut dyn Sink)) {
        self.outgoing.report(write);
    }

    /// The mailbox the POP3 client calls (logs to `log`).
    pub fn inbox<'a, L: Log>(&'a mut self, log: &'a mut L) -> Inbox<'a, L> {
        Inbox {
            log,
            state: &mut self.inbox,
        }
    }

    /// Starts the send and the check asked for, once the interface has an
    /// address (`online`); the clients run them from the next poll.
    /// True when it started something.
    #[allow(clippy::too_many_arguments)]
    pub fn start<S: SmtpPart, P: Pop3Part, L: Log>(
        &mut self,
        smtp: &mut S,
        pop3: &mut P,
        online: bool,
        now: Instant,
        unix: Option<u64>,
        log: &mut L,
        random: &mut dyn FnMut() -> u32,
    ) -> bool {
        let mut busy = false;
        if self.send_pending && online {
            self.send_pending = false;
            let id = (u64::from(random()) << 32) | u64::from(random());
            self.send_started = now;
            match smtp.send(&self.outgoing, unix, id) {
                Ok(()) => log.line(format_args!(
                    "smtp: sending to {} ({} byte attachment)",
                    self.outgoing.to(0).unwrap_or("?"),
                    self.outgoing.attachment_len()
                )),
                Err(e) => log.line(format_args!("smtp: failed {e}")),
            }
            busy = true;
        }
        if self.check_pending && online {
            self.check_pending = false;
            let inbox = self.inbox(&mut *log);
            if let Err(e) = pop3.receive(&inbox) {
                log.line(format_args!("pop3: failed {e}"));
            }
            busy = true;
        }
        busy
    }

    /// A send ended (the composition reports it): log it, repeat if asked.
    pub fn sent<L: Log>(
        &mut self,
        outcome: Result<(), MailError>,
        stats: SmtpStats,
        now: Instant,
        log: &mut L,
    ) {
        if self.repeat_send > 0 {
            self.repeat_send -= 1;
            self.send_pending = true;
        }
        match outcome {
            Ok(()) => log.line(format_args!(
                "smtp: sent to {} in {} ms rewinds={}",
                self.outgoing.to(0).unwrap_or("?"),
                now.since(self.send_started).millis(),
                stats.rewinds
            )),
            Err(e) => log.line(format_args!("smtp: failed {e}")),
        }
    }

    /// A check ended: log it, repeat if asked.
    pub fn checked<L: Log>(&mut self, outcome: Result<Pop3Summary, MailError>, log: &mut L) {
        if self.repeat_check > 0 {
            self.repeat_check -= 1;
            self.check_pending = true;
        }
        match outcome {
            Ok(s) => log.line(format_args!(
                "pop3: done messages={} deleted={}",
                s.messages, s.deleted
            )),
            Err(e) => log.line(format_args!("pop3: failed {e}")),
        }
    }

    /// Logs each new step of the clients (`smtp: progress ...`).
    pub fn progress<L: Log>(&mut self, smtp: SmtpState, pop3: Pop3State, log: &mut L) {
        // Nothing to show without a log: the states are not even read
        // (the quiet firmware: −448 B of code).
        if !log.keeps_lines() {
            return;
        }
        let s = smtp_key(smtp);
        if self.shown_smtp != Some(s) {
            if self.shown_smtp.is_some() || s != SmtpState::Idle {
                log.line(format_args!("smtp: progress {s}"));
            }
            self.shown_smtp = Some(s);
        }
        let p = match pop3 {
            Pop3State::Retrieving { number, count } => Pop3State::Retrieving { number, count },
            p => p,
        };
        if self.shown_pop3 != Some(p) {
            if self.shown_pop3.is_some() || p != Pop3State::Idle {
                log.line(format_args!("pop3: progress {p}"));
            }
            self.shown_pop3 = Some(p);
        }
    }
}
