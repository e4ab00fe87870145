//! The generated composition: what the application implements, and what
//! the components it does not implement look like to it.
//!
//! `emberstack-codegen` emits a `Services<A>` type beside the device's
//! `Config` (see `include_stack!`). It holds the application `A` and the
//! components `stack.toml` switches on — the web server (`[http]`), the
//! SMTP client (`[smtp]`), the POP3 client (`[pop3]`) — and is the
//! [`App`](crate::App) the stack calls. It decides which component owns each TCP
//! socket, routes every TCP callback to that owner, polls the components
//! after the stack, and hands the rest to the application. A component
//! that is off is not in the type at all: no field, no code, no bound.
//!
//! The application therefore implements only small traits, each for a
//! part it uses:
//!
//! - [`App`](crate::App): random numbers, events, and its own UDP, raw and TCP
//!   services (sockets it opened itself). Every method but `random_u32`
//!   has a "nothing" default.
//! - The site's `web::Handlers` under `#[emberstack::http_var]` (tag
//!   values, form input), which makes it a [`WebApp`]; an application
//!   whose handlers are a view of its state implements [`WebApp`] itself.
//! - [`SmtpApp`] (the message to send, the outcome) and [`Pop3App`] (the
//!   mailbox's decisions, the outcome) when those clients are on.
//!
//! [`SmtpPart`] and [`Pop3Part`] are the other side: what the composition
//! and the application may do with `Config::Smtp` / `Config::Pop3`,
//! whether it is the client or [`Disabled`] (a configuration without the
//! section), so one application serves both kinds of configuration.

use crate::config::Config;
use crate::http::{FormId, HttpApp, HttpEvent, Input, TagId, TagOut};
use crate::iface::PayloadSink;
use crate::mail::{MailError, MailFault};
use crate::nic::Nic;
use crate::pop3::{Mailbox, Pop3Client, Pop3Settings, Pop3State, Pop3Summary};
use crate::service::Disabled;
use crate::smtp::{Outgoing, SmtpClient, SmtpSettings, SmtpState, SmtpStats};
use crate::stack::Stack;
use crate::tcp::{TcpEvent, TcpHandle, TcpReader};
use crate::time::{Duration, Instant};

/// The application's side of the web server: who fills the tags and takes
/// the forms. Every `#[http_var]` handler type is one already (the
/// handlers are the application); implement it by hand when the handlers
/// are a view that borrows part of the application (its state and its
/// log, say).
pub trait WebApp {
    /// The handlers for one call of the server.
    type Handlers<'a>: HttpApp
    where
        Self: 'a;

    /// The handlers, borrowed for one call.
    fn handlers(&mut self) -> Self::Handlers<'_>;

    /// A TCP event on one of the server's connections, before the server
    /// handles it: for a log (retransmissions, resets). Default: nothing.
    fn connection_event(&mut self, socket: TcpHandle, event: TcpEvent) {
        let _ = (socket, event);
    }
}

impl<T: HttpApp> WebApp for T {
    type Handlers<'a>
        = &'a mut T
    where
        T: 'a;

    fn handlers(&mut self) -> &mut T {
        self
    }
}

/// Handlers lent by reference are handlers (what [`WebApp`] hands out).
impl<T: HttpApp + ?Sized> HttpApp for &mut T {
    fn tag(&mut self, tag: TagId, out: &mut TagOut<'_>) {
        (**self).tag(tag, out)
    }
    fn input(&mut self, form: FormId, input: Input<'_>) {
        (**self).input(form, input)
    }
    fn event(&mut self, event: HttpEvent<'_>) {
        (**self).event(event)
    }
}

/// The application's side of the SMTP client (`[smtp]`): the message it
/// sends and what becomes of it. Start a send with the composition's
/// `smtp` ([`SmtpPart::send`]).
pub trait SmtpApp {
    /// The message being sent (fixed while a send runs: see
    /// [`Outgoing`]).
    type Message: Outgoing;

    /// Calls `f` with the message and a source of random numbers (for the
    /// connection's port and ISN; usually [`App::random_u32`](crate::App::random_u32)). Both are
    /// parts of the application borrowed at once, which a method returning
    /// one reference could not do.
    fn with_message<R>(
        &mut self,
        f: impl FnOnce(&mut Self::Message, &mut dyn FnMut() -> u32) -> R,
    ) -> R;

    /// A send ended: delivered (`Ok`) or why not. `stats` are the client's
    /// counters after it. Default: nothing.
    fn sent(&mut self, outcome: Result<(), MailError>, stats: SmtpStats) {
        let _ = (outcome, stats);
    }
}

/// The application's side of the POP3 client (`[pop3]`): the mailbox
/// that reads each message and decides keep or delete, and the outcome of
/// a check. Start a check with the composition's `pop3`
/// ([`Pop3Part::receive`]) or let `[pop3] interval` do it.
pub trait Pop3App {
    /// The mailbox for one call (often a view borrowing the application's
    /// state and log).
    type Mailbox<'a>: Mailbox
    where
        Self: 'a;

    /// Calls `f` with the mailbox and a source of random numbers (as
    /// [`SmtpApp::with_message`]).
    fn with_mailbox<R>(
        &mut self,
        f: impl FnOnce(&mut Self::Mailbox<'_>, &mut dyn FnMut() -> u32) -> R,
    ) -> R;

    /// A check ended: what it did, or why it failed. Default: nothing.
    fn checked(&mut self, outcome: Result<Pop3Summary, MailError>) {
        let _ = outcome;
    }
}

/// `Config::Smtp` as the composition and the application use it: the
/// [`SmtpClient`], or [`Disabled`] in a configuration without `[smtp]`
/// (then nothing is owned, sends fail with [`MailFault::Disabled`]). The
/// methods are the client's own; see there.
pub trait SmtpPart: Default {
    /// Whether this is a client (`[smtp]` configured).
    const ENABLED: bool;
    /// [`SmtpClient::send`].
    fn send<M: Outgoing>(&mut self, m: &M, unix: Option<u64>, random: u64)
        -> Result<(), MailError>;
    /// [`SmtpClient::poll`].
    fn poll<C: Config, N: Nic, M: Outgoing>(
        &mut self,
        stack: &mut Stack<C>,
        nic: &mut N,
        now: Instant,
        message: &M,
        random: &mut dyn FnMut() -> u32,
    ) -> Option<Result<(), MailError>>;
    /// [`SmtpClient::poll_at`].
    fn poll_at(&self) -> Option<Instant>;
    /// [`SmtpClient::state`].
    fn state(&self) -> SmtpState;
    /// [`SmtpClient::stats`].
    fn stats(&self) -> SmtpStats;
    /// [`SmtpClient::owns`].
    fn owns(&self, socket: TcpHandle) -> bool;
    /// [`SmtpClient::tcp_event`].
    fn tcp_event(&mut self, socket: TcpHandle, event: TcpEvent);
    /// [`SmtpClient::tcp_received`].
    fn tcp_received<N: Nic, M: Outgoing>(
        &mut self,
        socket: TcpHandle,
        data: &mut TcpReader<'_, N>,
        message: &M,
    ) -> usize;
    /// [`SmtpClient::tcp_produce`].
    fn tcp_produce<M: Outgoing>(
        &mut self,
        socket: TcpHandle,
        offset: u32,
        max: usize,
        sink: &mut dyn PayloadSink,
        message: &mut M,
    );
    /// [`SmtpClient::tcp_wants_close`].
    fn tcp_wants_close(&mut self, socket: TcpHandle) -> bool;
    /// [`SmtpClient::set_timeout`].
    fn set_timeout(&mut self, timeout: Duration);
    /// [`SmtpClient::set_session_timeout`].
    fn set_session_timeout(&mut self, timeout: Duration);
}

impl<S: SmtpSettings> SmtpPart for SmtpClient<S> {
    const ENABLED: bool = true;
    fn send<M: Outgoing>(
        &mut self,
        m: &M,
        unix: Option<u64>,
        random: u64,
    ) -> Result<(), MailError> {
        SmtpClient::send(self, m, unix, random)
    }
    fn poll<C: Config, N: Nic, M: Outgoing>(
        &mut self,
        stack: &mut Stack<C>,
        nic: &mut N,
        now: Instant,
        message: &M,
        random: &mut dyn FnMut() -> u32,
    ) -> Option<Result<(), MailError>> {
        SmtpClient::poll(self, stack, nic, now, message, random)
    }
    fn poll_at(&self) -> Option<Instant> {
        SmtpClient::poll_at(self)
    }
    fn state(&self) -> SmtpState {
        SmtpClient::state(self)
    }
    fn stats(&self) -> SmtpStats {
        SmtpClient::stats(self)
    }
    fn owns(&self, socket: TcpHandle) -> bool {
        SmtpClient::owns(self, socket)
    }
    fn tcp_event(&mut self, socket: TcpHandle, event: TcpEvent) {
        SmtpClient::tcp_event(self, socket, event)
    }
    fn tcp_received<N: Nic, M: Outgoing>(
        &mut self,
        socket: TcpHandle,
        data: &mut TcpReader<'_, N>,
        message: &M,
    ) -> usize {
        SmtpClient::tcp_received(self, socket, data, message)
    }
    fn tcp_produce<M: Outgoing>(
        &mut self,
        socket: TcpHandle,
        offset: u32,
        max: usize,
        sink: &mut dyn PayloadSink,
        message: &mut M,
    ) {
        SmtpClient::tcp_produce(self, socket, offset, max, sink, message)
    }
    fn tcp_wants_close(&mut self, socket: TcpHandle) -> bool {
        SmtpClient::tcp_wants_close(self, socket)
    }
    fn set_timeout(&mut self, timeout: Duration) {
        SmtpClient::set_timeout(self, timeout)
    }
    fn set_session_timeout(&mut self, timeout: Duration) {
        SmtpClient::set_session_timeout(self, timeout)
    }
}

impl SmtpPart for Disabled {
    const ENABLED: bool = false;
    fn send<M: Outgoing>(&mut self, _: &M, _: Option<u64>, _: u64) -> Result<(), MailError> {
        Err(MailError::from(MailFault::Disabled))
    }
    fn poll<C: Config, N: Nic, M: Outgoing>(
        &mut self,
        _: &mut Stack<C>,
        _: &mut N,
        _: Instant,
        _: &M,
        _: &mut dyn FnMut() -> u32,
    ) -> Option<Result<(), MailError>> {
        None
    }
    fn poll_at(&self) -> Option<Instant> {
        None
    }
    fn state(&self) -> SmtpState {
        SmtpState::Idle
    }
    fn stats(&self) -> SmtpStats {
        SmtpStats::default()
    }
    fn owns(&self, _: TcpHandle) -> bool {
        false
    }
    fn tcp_event(&mut self, _: TcpHandle, _: TcpEvent) {}
    fn tcp_received<N: Nic, M: Outgoing>(
        &mut self,
        _: TcpHandle,
        data: &mut TcpReader<'_, N>,
        _: &M,
    ) -> usize {
        data.len()
    }
    fn tcp_produce<M: Outgoing>(
        &mut self,
        _: TcpHandle,
        _: u32,
        _: usize,
        _: &mut dyn PayloadSink,
        _: &mut M,
    ) {
    }
    fn tcp_wants_close(&mut self, _: TcpHandle) -> bool {
        false
    }
    fn set_timeout(&mut self, _: Duration) {}
    fn set_session_timeout(&mut self, _: Duration) {}
}

/// `Config::Pop3` as the composition and the application use it: the
/// [`Pop3Client`], or [`Disabled`] (nothing owned, checks fail with
/// [`MailFault::Disabled`]). The methods are the client's own.
pub trait Pop3Part: Default {
    /// Whether this is a client (`[pop3]` configured).
    const ENABLED: bool;
    /// [`Pop3Client::receive`].
    fn receive<M: Mailbox>(&mut self, mailbox: &M) -> Result<(), MailError>;
    /// [`Pop3Client::poll`].
    fn poll<C: Config, N: Nic, M: Mailbox>(
        &mut self,
        stack: &mut Stack<C>,
        nic: &mut N,
        now: Instant,
        mailbox: &M,
        random: &mut dyn FnMut() -> u32,
    ) -> Option<Result<Pop3Summary, MailError>>;
    /// [`Pop3Client::poll_at`].
    fn poll_at(&self) -> Option<Instant>;
    /// [`Pop3Client::state`].
    fn state(&self) -> Pop3State;
    /// [`Pop3Client::owns`].
    fn owns(&self, socket: TcpHandle) -> bool;
    /// [`Pop3Client::tcp_event`].
    fn tcp_event(&mut self, socket: TcpHandle, event: TcpEvent);
    /// [`Pop3Client::tcp_received`].
    fn tcp_received<N: Nic, M: Mailbox>(
        &mut self,
        socket: TcpHandle,
        data: &mut TcpReader<'_, N>,
        mailbox: &mut M,
    ) -> usize;
    /// [`Pop3Client::tcp_produce`].
    fn tcp_produce<M: Mailbox>(
        &mut self,
        socket: TcpHandle,
        offset: u32,
        max: usize,
        sink: &mut dyn PayloadSink,
        mailbox: &M,
    );
    /// [`Pop3Client::tcp_wants_close`].
    fn tcp_wants_close(&mut self, socket: TcpHandle) -> bool;
    /// [`Pop3Client::set_timeout`].
    fn set_timeout(&mut self, timeout: Duration);
    /// [`Pop3Client::set_session_timeout`].
    fn set_session_timeout(&mut self, timeout: Duration);
    /// [`Pop3Client::set_interval`].
    fn set_interval(&mut self, interval: Duration);
}

impl<S: Pop3Settings> Pop3Part for Pop3Client<S> {
    const ENABLED: bool = true;
    fn receive<M: Mailbox>(&mut self, mailbox: &M) -> Result<(), MailError> {
        Pop3Client::receive(self, mailbox)
    }
    fn poll<C: Config, N: Nic, M: Mailbox>(
        &mut self,
        stack: &mut Stack<C>,
        nic: &mut N,
        now: Instant,
        mailbox: &M,
        random: &mut dyn FnMut() -> u32,
    ) -> Option<Result<Pop3Summary, MailError>> {
        Pop3Client::poll(self, stack, nic, now, mailbox, random)
    }
    fn poll_at(&self) -> Option<Instant> {
        Pop3Client::poll_at(self)
    }
    fn state(&self) -> Pop3State {
        Pop3Client::state(self)
    }
    fn owns(&self, socket: TcpHandle) -> bool {
        Pop3Client::owns(self, socket)
    }
    fn tcp_event(&mut self, socket: TcpHandle, event: TcpEvent) {
        Pop3Client::tcp_event(self, socket, event)
    }
    fn tcp_received<N: Nic, M: Mailbox>(
        &mut self,
        socket: TcpHandle,
        data: &mut TcpReader<'_, N>,
        mailbox: &mut M,
    ) -> usize {
        Pop3Client::tcp_received(self, socket, data, mailbox)
    }
    fn tcp_produce<M: Mailbox>(
        &mut self,
        socket: TcpHandle,
        offset: u32,
        max: usize,
        sink: &mut dyn PayloadSink,
        mailbox: &M,
    ) {
        Pop3Client::tcp_produce(self, socket, offset, max, sink, mailbox)
    }
    fn tcp_wants_close(&mut self, socket: TcpHandle) -> bool {
        Pop3Client::tcp_wants_close(self, socket)
    }
    fn set_timeout(&mut self, timeout: Duration) {
        Pop3Client::set_timeout(self, timeout)
    }
    fn set_session_timeout(&mut self, timeout: Duration) {
        Pop3Client::set_session_timeout(self, timeout)
    }
    fn set_interval(&mut self, interval: Duration) {
        Pop3Client::set_interval(self, interval)
    }
}

impl Pop3Part for Disabled {
    const ENABLED: bool = false;
    fn receive<M: Mailbox>(&mut self, _: &M) -> Result<(), MailError> {
        Err(MailError::from(MailFault::Disabled))
    }
    fn poll<C: Config, N: Nic, M: Mailbox>(
        &mut self,
        _: &mut Stack<C>,
        _: &mut N,
        _: Instant,
        _: &M,
        _: &mut dyn FnMut() -> u32,
    ) -> Option<Result<Pop3Summary, MailError>> {
        None
    }
    fn poll_at(&self) -> Option<Instant> {
        None
    }
    fn state(&self) -> Pop3State {
        Pop3State::Idle
    }
    fn owns(&self, _: TcpHandle) -> bool {
        false
    }
    fn tcp_event(&mut self, _: TcpHandle, _: TcpEvent) {}
    fn tcp_received<N: Nic, M: Mailbox>(
        &mut self,
        _: TcpHandle,
        data: &mut TcpReader<'_, N>,
        _: &mut M,
    ) -> usize {
        data.len()
    }
    fn tcp_produce<M: Mailbox>(
        &mut self,
        _: TcpHandle,
        _: u32,
        _: usize,
        _: &mut dyn PayloadSink,
        _: &M,
    ) {
    }
    fn tcp_wants_close(&mut self, _: TcpHandle) -> bool {
        false
    }
    fn set_timeout(&mut self, _: Duration) {}
    fn set_session_timeout(&mut self, _: Duration) {}
    fn set_interval(&mut self, _: Duration) {}
}
