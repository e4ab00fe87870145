//! DNS client (RFC 1034/1035): A and MX queries over UDP, a fixed number
//! at a time.
//!
//! [`DnsClient::query`] takes a name and a [`QueryType`] and returns a
//! [`DnsHandle`]; [`DnsClient::result`] is `Pending` until the answer, a
//! [`DnsError`] (`NameError`, `ServerFailure`, `Timeout`...) or the end of
//! the retries; [`DnsClient::release`] frees the slot. Events report each
//! query sent, answered or failed, and each rejected reply.
//!
//! # Security
//!
//! Each query gets a random identifier and a random source port (from
//! [`App::random_u32`]). A reply is accepted only when it comes from the
//! server's address and port 53, to the query's port, with the query's
//! identifier and exactly its question (name, type, class). Every record of
//! an accepted reply is validated before any is used (names by the rules of
//! [`crate::wire::dns`]); anything else is rejected, counted
//! ([`DnsClient::counters`]) and reported ([`DnsEvent::Rejected`]), and the
//! query keeps waiting for the real answer.
//!
//! # RAM
//!
//! A slot holds its name in a `NAME`-byte buffer (wire form, so a name
//! of `NAME - 2` characters fits). The reply is never copied: it is read
//! from the NIC by offset, compression pointers included. An answer
//! reuses the slot's buffer: an A answer's address, or an MX answer's
//! exchanges (preference, address, name), as many as fit, most preferred
//! first.
//!
//! # Answers
//!
//! CNAME chains in a reply are followed (at most [`MAX_CNAME_HOPS`]); a
//! chain that ends without the wanted record is queried again for its last
//! name (at most [`MAX_RESTARTS`] times). An MX answer takes the exchanges'
//! addresses from the reply's records (the additional section) and sends an
//! A query for each exchange that has none; an exchange whose address
//! cannot be found is kept, without address.

use crate::iface::{FnPayload, Io, Transport};
use crate::nic::Nic;
use crate::service::{earliest, App, Disabled, Event, Service, ServiceConfig};
use crate::time::{Duration, Instant};
use crate::udp::{Endpoint, UdpDatagram, EPHEMERAL_FIRST};
use crate::wire::dns::{
    self as wire, flags, Message, Name, NameOp, ParseError, Rcode, Record, Type, CLASS_IN,
    HEADER_LEN,
};
use crate::wire::Ipv4Address;
use core::fmt;
use core::task::Poll;

/// CNAME records followed inside one reply.
pub const MAX_CNAME_HOPS: usize = 8;
/// New queries sent for the end of a CNAME chain the server did not
/// resolve.
pub const MAX_RESTARTS: u8 = 4;
/// How soon a query that could not be sent (ARP pending, NIC busy) is
/// tried again when no frame wakes the stack before.
const SEND_RETRY: Duration = Duration::from_millis(200);
/// How often a query waiting for a DNS server (DHCP not bound yet) looks
/// again when no frame wakes the stack.
const SERVER_WAIT_POLL: Duration = Duration::from_millis(250);
/// Bytes in front of each name in an MX answer: preference and address.
const MX_FIXED: usize = 6;
/// [`DnsSlot`]'s `sub` when no MX exchange is being queried (an entry's
/// offset is below 249: it needs at least 7 of the slot's at most 255
/// bytes).
const NO_SUB: u8 = u8::MAX;
/// Bytes of an A answer, kept at the start of the slot's buffer.
const A_LEN: usize = 4;

/// The DNS settings from `stack.toml` (`[dns]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnsSettings {
    /// A fixed server; `None` uses the interface's (from DHCP or the
    /// static settings).
    pub server: Option<Ipv4Address>,
    /// How long each attempt waits for the answer.
    pub timeout: Duration,
    /// Attempts after the first one before [`DnsError::Timeout`].
    pub retries: u8,
}

impl DnsSettings {
    /// The defaults: the interface's server, 3 s, 2 retries.
    pub const DEFAULT: DnsSettings = DnsSettings {
        server: None,
        timeout: Duration::from_secs(3),
        retries: 2,
    };
}

impl Default for DnsSettings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What to ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryType {
    /// The IPv4 address of a host.
    A,
    /// The mail exchanges of a domain, with their addresses.
    Mx,
}

impl QueryType {
    fn rtype(self) -> Type {
        match self {
            QueryType::A => Type::A,
            QueryType::Mx => Type::MX,
        }
    }
}

/// Names a query (its slot and a generation, so a stale handle cannot
/// read a later query's answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DnsHandle {
    slot: u8,
    gen: u8,
}

impl DnsHandle {
    /// The slot index, for logs.
    pub fn index(self) -> usize {
        usize::from(self.slot)
    }
}

/// Why a query gave no answer (or could not start).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsError {
    /// The name does not exist (NXDOMAIN).
    NameError,
    /// The server failed (SERVFAIL).
    ServerFailure,
    /// The server refused or did not understand the query (REFUSED,
    /// NOTIMP, FORMERR, other codes).
    Refused,
    /// The name exists but has no record of that type.
    NoData,
    /// More CNAMEs than [`MAX_CNAME_HOPS`] in a reply, or restarts than
    /// [`MAX_RESTARTS`] (a loop).
    TooManyCnames,
    /// No answer after every retry.
    Timeout,
    /// No DNS server is configured, and none became known (a DHCP lease
    /// with the DNS option) within the query's time, `timeout × (retries
    /// + 1)`: a query made before the lease waits for it.
    NoServer,
    /// The name is not a valid domain name.
    InvalidName,
    /// The name (or a CNAME target) does not fit the slot's buffer.
    NameTooLong,
    /// Every query slot is busy (`[dns] slots` in stack.toml).
    NoFreeSlot,
    /// The handle is not a live query.
    BadHandle,
    /// The DNS client is disabled in `stack.toml`.
    Disabled,
    /// What the query needs is switched off in `stack.toml`: an MX query
    /// with `[dns] mx = false`, or a name that is an alias (CNAME) with
    /// `[dns] cname = false`.
    Unsupported,
}

impl DnsError {
    /// The name used in logs (`dns: NAME failed NameError`).
    pub const fn name(self) -> &'static str {
        match self {
            DnsError::NameError => "NameError",
            DnsError::ServerFailure => "ServerFailure",
            DnsError::Refused => "Refused",
            DnsError::NoData => "NoData",
            DnsError::TooManyCnames => "TooManyCnames",
            DnsError::Timeout => "Timeout",
            DnsError::NoServer => "NoServer",
            DnsError::InvalidName => "InvalidName",
            DnsError::NameTooLong => "NameTooLong",
            DnsError::NoFreeSlot => "NoFreeSlot",
            DnsError::BadHandle => "BadHandle",
            DnsError::Disabled => "Disabled",
            DnsError::Unsupported => "Unsupported",
        }
    }
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a datagram to a query's port was not accepted as its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsReject {
    /// Not from the server's address and port 53.
    WrongSource,
    /// Not a response, or another identifier.
    WrongId,
    /// Not exactly the question asked (name, type, class, count).
    WrongQuestion,
    /// Shorter than a header, or the TC bit set (this client has no TCP
    /// fallback).
    Truncated,
    /// A section that does not parse: pointer loops, forward pointers,
    /// oversized labels or names, records running past the end...
    Malformed(ParseError),
}

impl DnsReject {
    /// How many counters [`DnsCounters::rejected`] has.
    pub const COUNT: usize = 5;

    /// The counter index.
    pub const fn index(self) -> usize {
        match self {
            DnsReject::WrongSource => 0,
            DnsReject::WrongId => 1,
            DnsReject::WrongQuestion => 2,
            DnsReject::Truncated => 3,
            DnsReject::Malformed(_) => 4,
        }
    }

    /// A short stable name for logs.
    pub const fn name(self) -> &'static str {
        match self {
            DnsReject::WrongSource => "wrong-source",
            DnsReject::WrongId => "wrong-id",
            DnsReject::WrongQuestion => "wrong-question",
            DnsReject::Truncated => "truncated",
            DnsReject::Malformed(e) => e.name(),
        }
    }
}

/// What the DNS client reports through [`App::event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsEvent {
    /// A query went out (also each retry, and the A query for an MX
    /// exchange).
    Sent {
        /// The query.
        query: DnsHandle,
        /// The server asked.
        server: Ipv4Address,
    },
    /// The answer is ready: [`DnsClient::result`].
    Answered {
        /// The query.
        query: DnsHandle,
    },
    /// The query failed: [`DnsClient::result`] says the same.
    Failed {
        /// The query.
        query: DnsHandle,
        /// Why.
        error: DnsError,
    },
    /// A datagram to a query's port was rejected (and counted).
    Rejected(DnsReject),
}

/// What the DNS client has done, for diagnostics. Each counter is 16-bit
/// and wraps at 65,536 (14 bytes of the stack's state instead of 28), as
/// the interface's exception counters do: they are read as they climb,
/// and the application also hears each query and each rejection as a
/// [`DnsEvent`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DnsCounters {
    /// Queries sent (retries included); wraps at 65,536.
    pub sent: u16,
    /// Replies accepted; wraps at 65,536.
    pub accepted: u16,
    /// Replies rejected, by [`DnsReject::index`] (each wraps at 65,536).
    pub rejected: [u16; DnsReject::COUNT],
}

impl DnsCounters {
    /// Rejections of one kind (all [`DnsReject::Malformed`] share one),
    /// modulo 65,536.
    pub fn rejected(&self, why: DnsReject) -> u32 {
        self.rejected.get(why.index()).map_or(0, |&n| u32::from(n))
    }
}

/// A finished query's answer, borrowed from its slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer<'a> {
    /// The address of the name (the first A record, after CNAMEs).
    A(Ipv4Address),
    /// The domain's mail exchanges, most preferred first.
    Mx(MxRecords<'a>),
}

/// The mail exchanges of an MX answer, most preferred (lowest value)
/// first; iterate for [`MxRecord`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MxRecords<'a> {
    buf: &'a [u8],
}

/// One mail exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MxRecord<'a> {
    /// Its preference (lower is tried first).
    pub preference: u16,
    /// Its host name.
    pub exchange: Name<'a>,
    /// Its address, when the reply or an A query gave one.
    pub addr: Option<Ipv4Address>,
}

impl<'a> Iterator for MxRecords<'a> {
    type Item = MxRecord<'a>;
    fn next(&mut self) -> Option<MxRecord<'a>> {
        let end = mx_end(self.buf, 0)?;
        let entry = self.buf.get(..end)?;
        self.buf = self.buf.get(end..).unwrap_or(&[]);
        let [p0, p1, a0, a1, a2, a3] = crate::wire::array::<MX_FIXED>(entry, 0);
        let addr = Ipv4Address([a0, a1, a2, a3]);
        Some(MxRecord {
            preference: u16::from_be_bytes([p0, p1]),
            exchange: Name(entry.get(MX_FIXED..)?),
            addr: (!addr.is_unspecified()).then_some(addr),
        })
    }
}

/// The end of the MX entry at `at` in a slot buffer (its fixed bytes,
/// then its name: measured). Every walk over the entries steps with it.
// Out of line: LLVM had inlined it into its four walks (−12 B on (b),
// svc11's sweep).
#[inline(never)]
fn mx_end(buf: &[u8], at: usize) -> Option<usize> {
    // Bounded: offsets inside the slot's at most 255 bytes.
    let name_at = at.wrapping_add(MX_FIXED);
    let n = wire::wire_name_len(buf.get(name_at..)?)?;
    Some(name_at.wrapping_add(n))
}

/// True when the MX entry at `at` has an address.
fn mx_has_address(buf: &[u8], at: usize) -> bool {
    // Bounded: an entry's offset inside the slot's 255 bytes.
    crate::wire::array::<4>(buf, at.wrapping_add(2)) != [0; 4]
}

/// Name resolution as another service sees it (SNTP resolves its server
/// this way): implemented by [`DnsClient`], and by [`Disabled`], which
/// refuses every name.
pub trait Resolver {
    /// Starts an A query for `name`.
    fn start_resolve(&mut self, name: &str) -> Result<DnsHandle, DnsError>;
    /// The outcome of a query `start_resolve` returned; `Ready` frees it.
    fn take_resolved(&mut self, query: DnsHandle) -> Poll<Result<Ipv4Address, DnsError>>;
    /// Abandons a query.
    fn cancel(&mut self, query: DnsHandle);
    /// Starts an MX query for a mail domain (the SMTP client's "send to
    /// the recipient's exchange"). Resolvers without MX refuse.
    fn start_mx(&mut self, domain: &str) -> Result<DnsHandle, DnsError> {
        let _ = domain;
        Err(DnsError::Disabled)
    }
    /// The address of the most preferred exchange of a query `start_mx`
    /// returned that has one (`NoData` when none has); `Ready` frees it.
    fn take_mx(&mut self, query: DnsHandle) -> Poll<Result<Ipv4Address, DnsError>> {
        let _ = query;
        Poll::Ready(Err(DnsError::Disabled))
    }
}

impl Resolver for Disabled {
    fn start_resolve(&mut self, _name: &str) -> Result<DnsHandle, DnsError> {
        Err(DnsError::Disabled)
    }
    fn take_resolved(&mut self, _query: DnsHandle) -> Poll<Result<Ipv4Address, DnsError>> {
        Poll::Ready(Err(DnsError::Disabled))
    }
    fn cancel(&mut self, _query: DnsHandle) {}
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Free,
    /// To be sent (first time, retry, or a follow-up query).
    Queued,
    /// Sent; waiting for the answer until `deadline`.
    Waiting,
    Done,
    Failed(DnsError),
}

/// One query slot; `NAME` bytes of name (or MX answer) buffer.
#[derive(Clone, Copy, Debug)]
pub struct DnsSlot<const NAME: usize> {
    phase: Phase,
    kind: QueryType,
    gen: u8,
    tries_left: u8,
    restarts: u8,
    /// MX: the offset of the entry whose address is being queried
    /// ([`NO_SUB`]: none).
    sub: u8,
    /// Bytes used in `buf`: the name; once answered, the address (A) or
    /// the MX entries.
    len: u8,
    id: u16,
    /// The query's port; 0 until it is first sent: a new query, or a
    /// follow-up one, which needs a new identifier, port and attempt
    /// budget ([`Self::fresh`]).
    port: u16,
    server: Ipv4Address,
    /// The current attempt ends.
    deadline: Instant,
    /// Queued or waiting: when the client must run again if no frame
    /// wakes the stack (zero: at once): to look for a server again, to
    /// try a send again (never after `deadline`), or `deadline` itself.
    /// The one time `poll_at` reads.
    retry_at: Instant,
    buf: [u8; NAME],
}

impl<const NAME: usize> Default for DnsSlot<NAME> {
    fn default() -> Self {
        DnsSlot {
            phase: Phase::Free,
            kind: QueryType::A,
            gen: 0,
            tries_left: 0,
            restarts: 0,
            sub: NO_SUB,
            len: 0,
            id: 0,
            port: 0,
            server: Ipv4Address::UNSPECIFIED,
            deadline: Instant::ZERO,
            retry_at: Instant::ZERO,
            buf: [0; NAME],
        }
    }
}

/// What a reply did to its slot (tests read it from the slot's phase).
#[cfg(test)]
#[derive(Debug)]
enum Outcome {
    Answered,
    Failed(DnsError),
    /// A follow-up query is queued.
    Continue,
}

impl<const NAME: usize> DnsSlot<NAME> {
    /// The usable buffer (a length must fit a `u8`).
    fn cap(&self) -> usize {
        NAME.min(usize::from(u8::MAX))
    }

    // Out of line: the MX walk and the question read it at many sites.
    #[inline(never)]
    fn used(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The question being asked: its wire name and type (with `MX`, the
    /// A query for an exchange while one runs).
    // Inlined into its two callers (measured: −20 B).
    #[inline(always)]
    fn question_as<const MX: bool>(&self) -> (&[u8], Type) {
        match self.sub().filter(|_| MX) {
            Some(at) => (self.exchange_at(usize::from(at)), Type::A),
            None => (self.used(), self.kind.rtype()),
        }
    }

    /// The exchange name of the MX entry at `at` (empty if there is none).
    fn exchange_at(&self, at: usize) -> &[u8] {
        let used = self.used();
        // Bounded: an entry's offset inside the slot's 255 bytes.
        let name_at = at.wrapping_add(MX_FIXED);
        let n = used
            .get(name_at..)
            .and_then(wire::wire_name_len)
            .unwrap_or(0);
        used.get(name_at..name_at.wrapping_add(n)).unwrap_or(&[])
    }

    /// MX: the offset of the entry whose address is being queried.
    fn sub(&self) -> Option<u8> {
        (self.sub != NO_SUB).then_some(self.sub)
    }

    /// The address of an answered A query (at the start of the buffer).
    fn answer(&self) -> Ipv4Address {
        Ipv4Address(crate::wire::array::<A_LEN>(&self.buf, 0))
    }

    /// Listening for a reply: a query has gone out on `port`.
    fn listening(&self) -> bool {
        matches!(self.phase, Phase::Queued | Phase::Waiting) && !self.fresh()
    }

    /// Not sent yet: its first send picks an identifier and a port (never
    /// 0: ports are drawn from the dynamic range) and starts the attempts.
    fn fresh(&self) -> bool {
        self.port == 0
    }

    /// A follow-up query (the next MX exchange, a CNAME restart): fresh.
    fn requeue(&mut self) {
        self.phase = Phase::Queued;
        self.port = 0;
        self.retry_at = Instant::ZERO;
    }

    /// MX: queries the next exchange from `from` without an address
    /// (queued); done when there is none.
    fn next_sub(&mut self, from: usize) {
        let mut at = from;
        while let Some(end) = mx_end(self.used(), at) {
            if !mx_has_address(self.used(), at) {
                // Bounded: an entry (at least 7 bytes) starts below the
                // slot's at most 255 bytes, so never at `NO_SUB`.
                self.sub = at as u8;
                self.requeue();
                return;
            }
            at = end;
        }
        self.sub = NO_SUB;
        self.phase = Phase::Done;
    }

    /// An MX exchange query ended (`addr` if it found one): on to the next.
    // Inlined into its two callers (measured: −12 B).
    #[inline(always)]
    fn sub_finished(&mut self, addr: Option<Ipv4Address>) {
        let Some(at) = self.sub().map(usize::from) else {
            self.phase = Phase::Done;
            return;
        };
        if let Some(a) = addr {
            // Bounded: an entry's offset inside the slot's 255 bytes.
            crate::wire::put_slice(&mut self.buf, at.wrapping_add(2), a.as_bytes());
        }
        // An entry that does not end (none is stored so) ends the walk:
        // no entry starts at 255, past the slot's last byte.
        let next = mx_end(self.used(), at).unwrap_or(usize::from(NO_SUB));
        self.next_sub(next)
    }

    /// The slot's query failed with `error` (or, for an MX exchange's
    /// query, that exchange stays without address). Out of line: every
    /// way a reply can end the query calls it.
    #[inline(never)]
    fn failed<const MX: bool>(&mut self, error: DnsError) {
        if MX && self.sub().is_some() {
            self.sub_finished(None)
        } else {
            self.phase = Phase::Failed(error);
        }
    }

    /// Checks a reply and applies it: the slot's phase says what it did
    /// (done, failed, or queued for a follow-up query).
    ///
    /// `MX` and `CNAME` are the client's compile-time switches: off, the
    /// code that handles MX answers or CNAME chains is not built.
    // Out of line (one copy; measured on the firmware).
    #[inline(never)]
    fn process_as<const MX: bool, const CNAME: bool, M: Message + ?Sized>(
        &mut self,
        m: &mut M,
    ) -> Result<(), DnsReject> {
        let h = wire::Repr::read(m).map_err(|_| DnsReject::Truncated)?;
        // A response (QR) to a standard query (opcode 0), with our id.
        if h.flags & (flags::QR | flags::OPCODE) != flags::QR || h.id != self.id {
            return Err(DnsReject::WrongId);
        }
        if h.truncated() {
            return Err(DnsReject::Truncated);
        }
        if h.questions != 1 {
            return Err(DnsReject::WrongQuestion);
        }
        // The question's name is validated and compared in one walk.
        let (name, qtype) = self.question_as::<MX>();
        let asked =
            wire::walk_name(m, HEADER_LEN, NameOp::Match(name)).map_err(DnsReject::Malformed)?;
        // QTYPE and QCLASS, read and compared as one 32-bit word.
        let type_class = wire::read_u32(m, asked.end).map_err(DnsReject::Malformed)?;
        // Bounded: `asked.end` is inside the message.
        let answers_at = asked.end.wrapping_add(4);
        if type_class != u32::from(qtype.0) << 16 | u32::from(CLASS_IN) || !asked.same {
            return Err(DnsReject::WrongQuestion);
        }
        // Bounded: three 16-bit counts.
        let records = u32::from(h.answers)
            .wrapping_add(u32::from(h.authorities))
            .wrapping_add(u32::from(h.additionals));
        let r = Reply {
            answers_at,
            answers: h.answers,
            records,
        };
        // Every scan reads every record of every section, so the chain's
        // first scan validates them all before any is used (and before
        // the RCODE is taken): a malformed reply is rejected either way.
        let chain = r.follow_cnames::<CNAME, M>(m, HEADER_LEN, qtype)?;
        let refused = match h.rcode() {
            Rcode::NoError => None,
            Rcode::NameError => Some(DnsError::NameError),
            Rcode::ServerFailure => Some(DnsError::ServerFailure),
            _ => Some(DnsError::Refused),
        };
        if let Some(e) = refused {
            self.failed::<MX>(e);
            return Ok(());
        }
        let owner = match chain {
            Some(owner) => owner,
            // Without CNAME following, `None` is an alias.
            None if !CNAME => {
                self.failed::<MX>(DnsError::Unsupported);
                return Ok(());
            }
            None => {
                self.failed::<MX>(DnsError::TooManyCnames);
                return Ok(());
            }
        };
        if !MX || qtype == Type::A {
            if let Some(addr) = r.find_a(m, Owner::At(owner))? {
                match self.sub().filter(|_| MX) {
                    Some(_) => self.sub_finished(Some(addr)),
                    None => {
                        // The name is not needed any more.
                        crate::wire::put_slice(&mut self.buf, 0, addr.as_bytes());
                        self.len = A_LEN as u8;
                        self.phase = Phase::Done;
                    }
                }
                return Ok(());
            }
        } else {
            if self.store_mx(m, &r, owner)? {
                self.next_sub(0);
                return Ok(());
            }
        }
        // No record of the type: a CNAME chain the server left unresolved
        // is asked again for its last name.
        if !CNAME || owner == HEADER_LEN || (MX && self.sub().is_some()) {
            self.failed::<MX>(DnsError::NoData);
            return Ok(());
        }
        if self.restarts >= MAX_RESTARTS {
            self.failed::<MX>(DnsError::TooManyCnames);
            return Ok(());
        }
        let cap = self.cap();
        let dst = self.buf.get_mut(..cap).unwrap_or(&mut []);
        match wire::copy_name(m, owner, dst).map_err(DnsReject::Malformed)? {
            Some(n) => {
                // Bounded: the name fit the slot's `cap()`, at most 255.
                self.len = n as u8;
                // Bounded: below MAX_RESTARTS (checked above).
                self.restarts = self.restarts.wrapping_add(1);
                self.requeue();
            }
            None => self.failed::<MX>(DnsError::NameTooLong),
        }
        Ok(())
    }

    /// [`Self::question_as`] with MX on.
    #[cfg(test)]
    fn question(&self) -> (&[u8], Type) {
        self.question_as::<true>()
    }

    /// [`Self::process_as`] with every switch on.
    #[cfg(test)]
    fn process<M: Message + ?Sized>(&mut self, m: &mut M) -> Result<Outcome, DnsReject> {
        self.process_as::<true, true, M>(m)?;
        Ok(self.outcome())
    }

    /// What the last reply did, from the phase it left.
    #[cfg(test)]
    fn outcome(&self) -> Outcome {
        match self.phase {
            Phase::Done => Outcome::Answered,
            Phase::Failed(e) => Outcome::Failed(e),
            _ => Outcome::Continue,
        }
    }

    /// Writes the MX records of `owner` into the buffer, most preferred
    /// first (ties in reply order), as many as fit, each with its
    /// exchange's address when the reply has one (any section); returns
    /// whether it stored any (an entry is at least 7 bytes).
    // Always inlined into `process_as`, its one caller (LLVM kept it
    // apart): −72 B (inline9).
    #[inline(always)]
    fn store_mx<M: Message + ?Sized>(
        &mut self,
        m: &mut M,
        r: &Reply,
        owner: usize,
    ) -> Result<bool, DnsReject> {
        let cap = self.cap();
        let mut w = 0usize;
        // Each record's key is its preference, then its offset (ties in
        // reply order): `pref << 16 | offset`, exact since a record starts
        // below 65,535 (a UDP payload is shorter than 65,536 bytes) and
        // after the header, so no key is 0 (`last`: none yet) or
        // `u32::MAX` (`best`: none found).
        let mut last = 0u32;
        loop {
            let (best, name_at) = r.best(m, Owner::At(owner), Type::MX, last, false)?;
            if best == u32::MAX {
                break;
            }
            last = best;
            let pref = (best >> 16) as u16;
            let Some(room) = self.buf.get_mut(w..cap) else {
                break;
            };
            let Some(name_room) = room.get_mut(MX_FIXED..) else {
                break;
            };
            match wire::copy_name(m, name_at, name_room).map_err(DnsReject::Malformed)? {
                Some(n) => {
                    // The exchange's address from the reply's A records, as
                    // it is stored (0.0.0.0: none yet): owned by the name
                    // just copied, compared where it is in the reply.
                    let [a0, a1, a2, a3] =
                        r.find_a(m, Owner::Anywhere(name_at))?.unwrap_or_default().0;
                    let [p0, p1] = pref.to_be_bytes();
                    crate::wire::put_slice(room, 0, &[p0, p1, a0, a1, a2, a3]);
                    // Bounded: the entry fit the slot's at most 255 bytes.
                    w = w.wrapping_add(MX_FIXED).wrapping_add(n);
                }
                None => break,
            }
        }
        if w > 0 {
            // Bounded: the entries fit the slot's `cap()`, at most 255.
            self.len = w as u8;
        }
        Ok(w > 0)
    }
}

/// The record sections of a validated reply.
struct Reply {
    answers_at: usize,
    answers: u16,
    /// Records in all three sections.
    records: u32,
}

impl Reply {
    /// Follows CNAMEs from the name at `name_at` to the name that owns the
    /// records of `qtype` (or the chain's end); `None` on a too long chain
    /// or, without `CNAME` following, when the name is an alias.
    // Inlined into its one caller, `process_as` (−80 B on the firmware).
    #[inline(always)]
    fn follow_cnames<const CNAME: bool, M: Message + ?Sized>(
        &self,
        m: &mut M,
        name_at: usize,
        qtype: Type,
    ) -> Result<Option<usize>, DnsReject> {
        // One pass per name of the chain: the queried name, then each
        // CNAME target. A record of the type ends the chain wherever it is
        // among the name's records; otherwise its first CNAME leads on.
        let passes = if CNAME { MAX_CNAME_HOPS + 1 } else { 1 };
        let mut current = name_at;
        for _ in 0..passes {
            if self.best(m, Owner::At(current), qtype, 0, true)?.0 != u32::MAX {
                return Ok(Some(current));
            }
            match self.best(m, Owner::At(current), Type::CNAME, 0, true)? {
                (u32::MAX, _) => return Ok(Some(current)),
                (_, next) => current = next,
            }
        }
        Ok(None)
    }

    /// The first A record with an address other than 0.0.0.0 owned by
    /// `owner` (a name of the message, in the answer section or in any
    /// section): [`Self::best`] for A.
    #[inline(always)]
    fn find_a<M: Message + ?Sized>(
        &self,
        m: &mut M,
        owner: Owner,
    ) -> Result<Option<Ipv4Address>, DnsReject> {
        let (_, a) = self.best(m, owner, Type::A, 0, false)?;
        // Bounded: an A record's value is its 32-bit address.
        let a = Ipv4Address((a as u32).to_be_bytes());
        Ok((!a.is_unspecified()).then_some(a))
    }

    /// One scan behind every record lookup of a reply (validation, the
    /// CNAME chain, the A answer, each MX step, each exchange's address):
    /// among the records of `rtype` and class IN owned by `owner` (the
    /// name at an offset of the message; records of the answer section,
    /// or of every section), the one with the smallest key above `last`, as `(key,
    /// value)`; `(u32::MAX, 0)` when there is none.
    ///
    /// - `any`: every record of the type counts; its key is its offset
    ///   (the first in reply order), its value its data's offset (a
    ///   CNAME's target name).
    /// - A: its key is its offset, its value its address; 0.0.0.0 is
    ///   passed over.
    /// - MX: its key is `preference << 16 | offset` (most preferred
    ///   first, ties in reply order), its value its exchange's offset.
    ///
    /// Keys are exact: a record starts after the header and below 65,535
    /// (a UDP payload is shorter than 65,536 bytes), so no key is 0
    /// (`last`: none yet) or `u32::MAX`. Each record is read (and so
    /// validated) on the way; after the validation scan (`process_as`)
    /// the reads cannot fail, and their errors still propagate.
    // Left to LLVM, which keeps it out of line for its six call sites
    // (`Record::read` inlined into it): `#[inline(never)]` cost 16 B on
    // the merged tree (inline9).
    fn best<M: Message + ?Sized>(
        &self,
        m: &mut M,
        owner: Owner,
        rtype: Type,
        last: u32,
        any: bool,
    ) -> Result<(u32, usize), DnsReject> {
        // Every record is read; `At` takes those of the answer section.
        let (answers, owner) = match owner {
            Owner::At(o) => (u32::from(self.answers), o),
            Owner::Anywhere(o) => (self.records, o),
        };
        let mut best = (u32::MAX, 0usize);
        let mut at = self.answers_at;
        for i in 0..self.records {
            let rec = Record::read(m, at).map_err(DnsReject::Malformed)?;
            at = rec.end();
            if i >= answers || rec.rtype != rtype || rec.class != CLASS_IN {
                continue;
            }
            if !wire::walk_name(m, rec.name_at, NameOp::Compare(owner))
                .map_err(DnsReject::Malformed)?
                .same
            {
                continue;
            }
            let (pref, value) = if any {
                // A CNAME's target name (or, for another type, its data).
                (0, rec.data_at)
            } else if rtype == Type::A {
                // 4 bytes of data: checked for every A record of class IN.
                let a = wire::read_u32(m, rec.data_at).map_err(DnsReject::Malformed)?;
                if a == 0 {
                    continue;
                }
                (0, a as usize)
            } else {
                // An MX record holds its preference and a name (checked).
                let pref = wire::read_u16(m, rec.data_at).map_err(DnsReject::Malformed)?;
                // Bounded: `data_at` is inside the message.
                (u32::from(pref) << 16, rec.data_at.wrapping_add(2))
            };
            let key = pref | (rec.name_at & 0xffff) as u32;
            if key > last && key < best.0 {
                best = (key, value);
            }
        }
        Ok(best)
    }
}

/// Whose records [`Reply::best`] looks for: the name at this offset of
/// the message (validated), in the answer section or in any section.
#[derive(Clone, Copy)]
enum Owner {
    /// Answer section only (the question's name, a CNAME target).
    At(usize),
    /// Every section (an MX exchange's address).
    Anywhere(usize),
}

/// A received datagram as a DNS [`Message`] (read from the NIC).
struct Datagram<'x, 'd, 'a, N: Nic>(&'x mut UdpDatagram<'d, 'a, N>);

impl<N: Nic> Message for Datagram<'_, '_, '_, N> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn read_at(&mut self, at: usize, buf: &mut [u8]) -> usize {
        self.0.read(at, buf)
    }
}

/// The DNS client: `SLOTS` concurrent queries of `NAME`-byte names.
///
/// `MX` and `CNAME` (`[dns] mx`, `[dns] cname`; both on by default) are
/// compile-time switches: off, MX queries (or CNAME following) fail with
/// [`DnsError::Unsupported`] and their code is not in the build.
#[derive(Debug)]
pub struct DnsClient<
    const SLOTS: usize,
    const NAME: usize,
    const MX: bool = true,
    const CNAME: bool = true,
> {
    slots: [DnsSlot<NAME>; SLOTS],
    // The settings' fields, not a `DnsSettings`: its padding (12 bytes for
    // 10) would keep the client 4 bytes larger.
    server: Option<Ipv4Address>,
    timeout: Duration,
    retries: u8,
    counters: DnsCounters,
}

impl<const SLOTS: usize, const NAME: usize, const MX: bool, const CNAME: bool>
    DnsClient<SLOTS, NAME, MX, CNAME>
{
    /// A client with these settings and every slot free.
    pub fn new(settings: DnsSettings) -> Self {
        DnsClient {
            slots: [DnsSlot::default(); SLOTS],
            server: settings.server,
            timeout: settings.timeout,
            retries: settings.retries,
            counters: DnsCounters::default(),
        }
    }

    /// The settings in use.
    pub fn settings(&self) -> DnsSettings {
        DnsSettings {
            server: self.server,
            timeout: self.timeout,
            retries: self.retries,
        }
    }

    /// Replaces the settings (a server from the application's own
    /// configuration); queries under way keep their server.
    pub fn set_settings(&mut self, settings: DnsSettings) {
        self.server = settings.server;
        self.timeout = settings.timeout;
        self.retries = settings.retries;
    }

    /// What the client has done.
    pub fn counters(&self) -> &DnsCounters {
        &self.counters
    }

    /// Starts a query; it is sent on the next poll. Fails at once for an
    /// invalid name, a name longer than the slot buffer holds, or when
    /// every slot is busy.
    pub fn query(&mut self, name: &str, kind: QueryType) -> Result<DnsHandle, DnsError> {
        if !MX && kind == QueryType::Mx {
            return Err(DnsError::Unsupported);
        }
        // The answer's address takes the name's place: a slot of fewer
        // bytes (no configuration has one, `name_len` is at least 16)
        // could hold no answer.
        if NAME < A_LEN {
            return Err(DnsError::NameTooLong);
        }
        let (i, slot) = self
            .slots
            .iter_mut()
            .enumerate()
            .find(|(_, s)| s.phase == Phase::Free)
            .ok_or(DnsError::NoFreeSlot)?;
        let cap = slot.cap();
        let dst = slot.buf.get_mut(..cap).unwrap_or(&mut []);
        let n = wire::encode_name(name, dst).map_err(|e| match e {
            wire::EncodeError::TooLong => DnsError::NameTooLong,
            _ => DnsError::InvalidName,
        })?;
        let gen = slot.gen.wrapping_add(1);
        *slot = DnsSlot {
            phase: Phase::Queued,
            kind,
            gen,
            // Bounded: the name fit the slot's `cap()`, at most 255 bytes.
            len: n as u8,
            buf: slot.buf,
            ..DnsSlot::default()
        };
        // Bounded: at most 16 slots (`[dns] slots`; `drive` and `on_udp`
        // rely on it too).
        Ok(DnsHandle { slot: i as u8, gen })
    }

    fn slot(&self, h: DnsHandle) -> Option<&DnsSlot<NAME>> {
        self.slots
            .get(usize::from(h.slot))
            .filter(|s| s.gen == h.gen && s.phase != Phase::Free)
    }

    /// The query's outcome: `Pending` while it runs.
    pub fn result(&self, query: DnsHandle) -> Poll<Result<Answer<'_>, DnsError>> {
        let Some(slot) = self.slot(query) else {
            return Poll::Ready(Err(DnsError::BadHandle));
        };
        match slot.phase {
            Phase::Queued | Phase::Waiting => Poll::Pending,
            Phase::Done => Poll::Ready(Ok(match slot.kind {
                QueryType::Mx if MX => Answer::Mx(MxRecords { buf: slot.used() }),
                _ => Answer::A(slot.answer()),
            })),
            Phase::Failed(e) => Poll::Ready(Err(e)),
            Phase::Free => Poll::Ready(Err(DnsError::BadHandle)),
        }
    }

    /// A finished `kind` query's address (an MX answer's: the most
    /// preferred exchange's that has one), its slot freed; `Pending` while
    /// it runs. One copy for both [`Resolver`] reads.
    #[inline(never)]
    fn take_address(
        &mut self,
        query: DnsHandle,
        kind: QueryType,
    ) -> Poll<Result<Ipv4Address, DnsError>> {
        // The slot directly, not through `result`'s `Answer`; a free slot
        // or another generation is a bad handle.
        let r = match self.slots.get(usize::from(query.slot)) {
            Some(slot) if slot.gen == query.gen => match slot.phase {
                Phase::Queued | Phase::Waiting => return Poll::Pending,
                Phase::Failed(e) => Err(e),
                Phase::Done if slot.kind != kind => Err(DnsError::BadHandle),
                Phase::Done if MX && kind == QueryType::Mx => {
                    // The entries' walk (`mx_end`), not the iterator's
                    // records.
                    let used = slot.used();
                    let mut at = 0;
                    loop {
                        let Some(end) = mx_end(used, at) else {
                            break Err(DnsError::NoData);
                        };
                        // Bounded: an entry's offset in the slot.
                        let a = Ipv4Address(crate::wire::array::<4>(used, at.wrapping_add(2)));
                        if !a.is_unspecified() {
                            break Ok(a);
                        }
                        at = end;
                    }
                }
                Phase::Done => Ok(slot.answer()),
                Phase::Free => Err(DnsError::BadHandle),
            },
            _ => Err(DnsError::BadHandle),
        };
        self.release(query);
        Poll::Ready(r)
    }

    /// Frees the query's slot (cancelling it if it still runs).
    // Out of line: the resolver calls and the application inline it.
    #[inline(never)]
    pub fn release(&mut self, query: DnsHandle) {
        // A free slot of the same generation stays free: no phase test.
        if let Some(s) = self.slots.get_mut(usize::from(query.slot)) {
            if s.gen == query.gen {
                s.phase = Phase::Free;
            }
        }
    }

    /// A random port no other query uses (with at most 16 slots among
    /// 16384 ports, the first draw nearly always does).
    fn pick_port<A: App>(&self, app: &mut A) -> u16 {
        // One slot: it is the one picking (a query not sent yet, so not
        // listening), and no other can hold the port: the first draw, as
        // the loop would take it, without the loop.
        if SLOTS == 1 {
            return random_port(app);
        }
        let mut port = EPHEMERAL_FIRST;
        for _ in 0..32 {
            port = random_port(app);
            if !self.slots.iter().any(|s| s.port == port && s.listening()) {
                break;
            }
        }
        port
    }

    // Out of line: `poll` calls it per slot.
    #[inline(never)]
    fn drive<N: Nic, A: App>(&mut self, i: usize, io: &mut Io<'_, N>, app: &mut A) {
        let now = io.now();
        let settings = self.settings();
        let port = match self.slots.get(i) {
            Some(s) if s.phase == Phase::Queued && s.fresh() => self.pick_port(app),
            _ => 0,
        };
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        let handle = DnsHandle {
            slot: i as u8,
            gen: slot.gen,
        };
        let mut expired = false;
        match slot.phase {
            Phase::Queued => {
                if slot.fresh() {
                    let Some(server) = settings.server.or(io.ipv4().and_then(|c| c.dns)) else {
                        // No server yet (a DHCP lease is on its way): wait
                        // as long as the query itself may take.
                        if slot.deadline == Instant::ZERO {
                            let attempts = u64::from(settings.retries).saturating_add(1);
                            slot.deadline = now.after(settings.timeout.saturating_mul(attempts));
                        }
                        if now < slot.deadline {
                            slot.retry_at = now.after(SERVER_WAIT_POLL);
                            return;
                        }
                        slot.phase = Phase::Failed(DnsError::NoServer);
                        finish(slot, i, app);
                        return;
                    };
                    slot.server = server;
                    slot.id = app.random_u32() as u16;
                    slot.port = port;
                    slot.tries_left = settings.retries;
                    slot.deadline = now.after(settings.timeout);
                    slot.retry_at = now;
                }
                // Sends are tried on every poll (an ARP reply arriving is
                // a poll); `retry_at` only wakes the stack when nothing does.
                if now >= slot.deadline {
                    expired = true;
                } else {
                    match send::<MX, NAME, N>(slot, io) {
                        Ok(()) => {
                            slot.phase = Phase::Waiting;
                            slot.deadline = now.after(settings.timeout);
                            slot.retry_at = slot.deadline;
                            self.counters.sent = self.counters.sent.wrapping_add(1);
                            app.event(Event::Dns(DnsEvent::Sent {
                                query: handle,
                                server: slot.server,
                            }));
                        }
                        Err(_) => slot.retry_at = now.after(SEND_RETRY).min(slot.deadline),
                    }
                }
            }
            Phase::Waiting if now >= slot.deadline => expired = true,
            _ => {}
        }
        if expired {
            expire::<MX, NAME>(slot, now, settings.timeout);
            finish(slot, i, app);
        }
    }
}

/// A random port of the dynamic range (RFC 6335), for a client's
/// request (the DNS queries', SNTP's).
// Left to LLVM: `#[inline(never)]` (one copy for both) cost 16 B on the
// merged tree (inline9).
pub(crate) fn random_port<A: App>(app: &mut A) -> u16 {
    let span = u32::from(u16::MAX - EPHEMERAL_FIRST) + 1;
    let off = app.random_u32().checked_rem(span).unwrap_or(0);
    // Bounded: off < span = 65536 - EPHEMERAL_FIRST.
    EPHEMERAL_FIRST.saturating_add(off as u16)
}

/// An attempt ran out of time: retry, or give up.
fn expire<const MX: bool, const NAME: usize>(
    slot: &mut DnsSlot<NAME>,
    now: Instant,
    timeout: Duration,
) {
    if slot.tries_left > 0 {
        slot.tries_left = slot.tries_left.saturating_sub(1);
        slot.phase = Phase::Queued;
        slot.deadline = now.after(timeout);
        slot.retry_at = now;
    } else {
        slot.failed::<MX>(DnsError::Timeout);
    }
}

/// Reports how a reply or a time-out left slot `i`: answered or failed
/// (a slot queued again, for a retry or a follow-up query, is not
/// reported). Every way a query ends (`process_as`, `expire`, `failed`,
/// `next_sub`) sets the phase; an answer always leaves `sub` at
/// [`NO_SUB`] (`next_sub` clears it, the other answers run without one).
// Out of line: three callers (a reply, a time-out, no server).
#[inline(never)]
fn finish<const NAME: usize, A: App>(slot: &DnsSlot<NAME>, i: usize, app: &mut A) {
    // Bounded: at most 16 slots.
    let query = DnsHandle {
        slot: i as u8,
        gen: slot.gen,
    };
    match slot.phase {
        Phase::Done => app.event(Event::Dns(DnsEvent::Answered { query })),
        Phase::Failed(error) => app.event(Event::Dns(DnsEvent::Failed { query, error })),
        _ => {}
    }
}

/// Sends the slot's question: header, name, type, class.
fn send<const MX: bool, const NAME: usize, N: Nic>(
    slot: &DnsSlot<NAME>,
    io: &mut Io<'_, N>,
) -> Result<(), crate::iface::SendError> {
    let header = wire::Repr {
        id: slot.id,
        flags: flags::RD,
        questions: 1,
        ..wire::Repr::default()
    }
    .to_bytes();
    let (name, qtype) = slot.question_as::<MX>();
    let [t0, t1] = u16::from(qtype).to_be_bytes();
    let [c0, c1] = CLASS_IN.to_be_bytes();
    let tail = [t0, t1, c0, c1];
    let mut payload = FnPayload(|sink: &mut dyn crate::iface::PayloadSink| {
        sink.write(&header);
        sink.write(name);
        sink.write(&tail);
    });
    let t = Transport::Udp {
        src_port: slot.port,
        dst_port: wire::PORT,
    };
    io.send_ipv4(slot.server, &t, &mut payload)
}

impl<const SLOTS: usize, const NAME: usize, const MX: bool, const CNAME: bool> Service
    for DnsClient<SLOTS, NAME, MX, CNAME>
{
    fn new_service<C: ServiceConfig>() -> Self {
        DnsClient::new(C::DNS)
    }

    fn on_udp<N: Nic, A: App>(&mut self, d: &mut UdpDatagram<'_, '_, N>, app: &mut A) -> bool {
        let port = d.local().port;
        let Some(i) = self
            .slots
            .iter()
            .position(|s| s.listening() && s.port == port)
        else {
            return false;
        };
        let Some(slot) = self.slots.get_mut(i) else {
            return false;
        };
        let result = if d.remote() != Endpoint::new(slot.server, wire::PORT) {
            Err(DnsReject::WrongSource)
        } else {
            slot.process_as::<MX, CNAME, _>(&mut Datagram(d))
        };
        match result {
            Ok(()) => {
                self.counters.accepted = self.counters.accepted.wrapping_add(1);
                finish(slot, i, app);
            }
            Err(why) => {
                if let Some(c) = self.counters.rejected.get_mut(why.index()) {
                    *c = c.wrapping_add(1);
                }
                app.event(Event::Dns(DnsEvent::Rejected(why)));
            }
        }
        true
    }

    fn poll<N: Nic, A: App>(&mut self, io: &mut Io<'_, N>, app: &mut A) {
        for i in 0..SLOTS {
            self.drive(i, io, app);
        }
    }

    // Left to LLVM: `#[inline(never)]` cost 24 B on the merged tree
    // (inline9).
    fn poll_at(&self) -> Option<Instant> {
        let mut at = None;
        for s in &self.slots {
            // Every change of a running query's times keeps `retry_at`
            // the next one that matters.
            if matches!(s.phase, Phase::Queued | Phase::Waiting) {
                // The wrapping clock's order (not `Ord`, see `crate::time`).
                at = earliest(at, Some(s.retry_at));
            }
        }
        at
    }
}

impl<const SLOTS: usize, const NAME: usize, const MX: bool, const CNAME: bool> Resolver
    for DnsClient<SLOTS, NAME, MX, CNAME>
{
    fn start_resolve(&mut self, name: &str) -> Result<DnsHandle, DnsError> {
        self.query(name, QueryType::A)
    }

    fn take_resolved(&mut self, query: DnsHandle) -> Poll<Result<Ipv4Address, DnsError>> {
        self.take_address(query, QueryType::A)
    }

    fn cancel(&mut self, query: DnsHandle) {
        self.release(query)
    }

    fn start_mx(&mut self, domain: &str) -> Result<DnsHandle, DnsError> {
        self.query(domain, QueryType::Mx)
    }

    fn take_mx(&mut self, query: DnsHandle) -> Poll<Result<Ipv4Address, DnsError>> {
        if !MX {
            return Poll::Ready(Err(DnsError::Unsupported));
        }
        self.take_address(query, QueryType::Mx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::dns::Bytes;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A slot that has sent `name`/`kind` with `id`.
    fn sent(name: &str, kind: QueryType, id: u16) -> DnsSlot<64> {
        let mut c = DnsClient::<1, 64>::new(DnsSettings::DEFAULT);
        c.query(name, kind).unwrap();
        let mut s = c.slots[0];
        s.phase = Phase::Waiting;
        s.id = id;
        s.port = 50000;
        s
    }

    fn entries(s: &DnsSlot<64>) -> Vec<(u16, String, Option<Ipv4Address>)> {
        MxRecords { buf: s.used() }
            .map(|e| (e.preference, e.exchange.to_string(), e.addr))
            .collect()
    }

    // Replies captured from dnsmasq 2.90 and dnslib 0.9 (see wire::dns).
    const R_A: &str = "1234 8580 0001 0001 0000 0000 037777770474657374036c616e0000010001
                       c00c000100010000000000040a63004d";
    const R_MX_DNSLIB: &str = "1237858000010002000000010474657374036c616e00000f0001
                               c00c000f00010000012c0009000a046d61696cc00c
                               c00c000f00010000012c000b0014066261636b7570c00c
                               c028000100010000012c00040a630001";

    #[test]
    fn client_state_stays_packed() {
        // notes-state.md: 16-bit counters, the settings' fields without
        // their struct's padding; no pointer-sized field, so the host's
        // layout is the MCU's.
        assert_eq!(core::mem::size_of::<DnsCounters>(), 14);
        assert_eq!(core::mem::size_of::<DnsSlot<64>>(), 88);
        assert_eq!(core::mem::size_of::<DnsClient<1, 64>>(), 112);
        let s = DnsSettings {
            server: Some(Ipv4Address::new(10, 0, 0, 53)),
            timeout: Duration::from_millis(1500),
            retries: 5,
        };
        let mut c = DnsClient::<1, 64>::new(DnsSettings::DEFAULT);
        assert_eq!(c.settings(), DnsSettings::DEFAULT);
        c.set_settings(s);
        assert_eq!(c.settings(), s);
    }

    #[test]
    fn a_answer_from_capture() {
        let mut s = sent("www.test.lan", QueryType::A, 0x1234);
        let r = hex(R_A);
        assert!(matches!(s.process(&mut Bytes(&r)), Ok(Outcome::Answered)));
        assert_eq!(s.answer(), Ipv4Address::new(10, 99, 0, 77));
        // Another id, another name: rejected.
        let mut other = sent("www.test.lan", QueryType::A, 0x1235);
        assert!(matches!(
            other.process(&mut Bytes(&r)),
            Err(DnsReject::WrongId)
        ));
        let mut other = sent("ww.test.lan", QueryType::A, 0x1234);
        assert!(matches!(
            other.process(&mut Bytes(&r)),
            Err(DnsReject::WrongQuestion)
        ));
        // Not a response (QR clear), or a response to another opcode
        // (each of the four bits): rejected as not ours; AA, TC, RD, RA
        // and the RCODE bits do not make it so.
        for (bit, ours) in [
            (0x8000u16, false),
            (0x4000, false),
            (0x2000, false),
            (0x1000, false),
            (0x0800, false),
            (0x0400, true),
            (0x0100, true),
            (0x0080, true),
        ] {
            let mut changed = r.clone();
            let f = u16::from_be_bytes([changed[2], changed[3]]) ^ bit;
            changed[2..4].copy_from_slice(&f.to_be_bytes());
            let mut s = sent("www.test.lan", QueryType::A, 0x1234);
            let got = s.process(&mut Bytes(&changed));
            assert_eq!(
                !matches!(got, Err(DnsReject::WrongId)),
                ours,
                "flag {bit:#06x}: {got:?}"
            );
        }
        let mut other = sent("www.test.lan", QueryType::Mx, 0x1234);
        assert!(matches!(
            other.process(&mut Bytes(&r)),
            Err(DnsReject::WrongQuestion)
        ));
        // The question's class (CH) or type (AAAA) differs: rejected; the
        // question cut in its type or class: malformed.
        let at = 12 + 14;
        for (offset, byte) in [(at + 3, 3u8), (at + 1, 28)] {
            let mut changed = r.clone();
            changed[offset] = byte;
            let mut s = sent("www.test.lan", QueryType::A, 0x1234);
            assert!(matches!(
                s.process(&mut Bytes(&changed)),
                Err(DnsReject::WrongQuestion)
            ));
        }
        let mut s = sent("www.test.lan", QueryType::A, 0x1234);
        assert!(matches!(
            s.process(&mut Bytes(&r[..at + 3])),
            Err(DnsReject::Malformed(ParseError::Truncated))
        ));
    }

    #[test]
    fn mx_answer_sorted_with_additional_address() {
        let mut s = sent("test.lan", QueryType::Mx, 0x1237);
        let r = hex(R_MX_DNSLIB);
        // backup.test.lan has no address in the reply: an A query follows.
        assert!(matches!(s.process(&mut Bytes(&r)), Ok(Outcome::Continue)));
        assert_eq!(
            entries(&s),
            [
                (
                    10,
                    "mail.test.lan".into(),
                    Some(Ipv4Address::new(10, 99, 0, 1))
                ),
                (20, "backup.test.lan".into(), None),
            ]
        );
        let (name, t) = s.question();
        let name = name.to_vec();
        assert_eq!(
            (Name(&name).to_string(), t),
            ("backup.test.lan".into(), Type::A)
        );
        assert!(s.fresh() && s.phase == Phase::Queued);
        // The exchange's A query gets NXDOMAIN: the MX answer is done,
        // backup without address.
        s.port = 50000;
        s.id = 7;
        let mut nx = wire::Repr {
            id: 7,
            flags: 0x8183,
            questions: 1,
            ..Default::default()
        }
        .to_bytes()
        .to_vec();
        nx.extend(&name);
        nx.extend([0, 1, 0, 1]);
        assert!(matches!(s.process(&mut Bytes(&nx)), Ok(Outcome::Answered)));
        assert_eq!(entries(&s)[1].2, None);
    }

    #[test]
    fn an_exchange_takes_the_address_of_its_name_in_any_form() {
        // The exchange `mx.t.lan` compressed in the MX data; the additional
        // section names it uncompressed and in upper case (its address),
        // and a name one letter off (not its address), either order.
        let a_record = |name: &[u8], last: u8| {
            let mut r = name.to_vec();
            r.extend([0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, last]);
            r
        };
        let ours = a_record(b"\x02MX\x01T\x03LAN\x00", 5);
        let other = a_record(b"\x02MY\x01t\x03lan\x00", 6);
        for additional in [[&ours, &other], [&other, &ours]] {
            let mut r = mx_reply(&[(10, b"mx")]);
            r[11] = 2;
            for rec in additional {
                r.extend(rec.iter());
            }
            let mut s = sent("t.lan", QueryType::Mx, 9);
            assert!(matches!(s.process(&mut Bytes(&r)), Ok(Outcome::Answered)));
            assert_eq!(
                entries(&s),
                [(10, "mx.t.lan".into(), Some(Ipv4Address::new(10, 0, 0, 5)))]
            );
        }
    }

    /// A reply (id 9) to an MX query for `t.lan` with one answer per
    /// `(preference, label)`: the exchange `label.t.lan`, compressed.
    fn mx_reply(exchanges: &[(u16, &[u8])]) -> Vec<u8> {
        let mut m = wire::Repr {
            id: 9,
            flags: 0x8180,
            questions: 1,
            answers: exchanges.len() as u16,
            ..Default::default()
        }
        .to_bytes()
        .to_vec();
        m.extend([1, b't', 3, b'l', b'a', b'n', 0, 0, 15, 0, 1]);
        for &(pref, label) in exchanges {
            m.extend([0xc0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0]);
            m.push(2 + 1 + label.len() as u8 + 2);
            m.extend(pref.to_be_bytes());
            m.push(label.len() as u8);
            m.extend(label);
            m.extend([0xc0, 12]);
        }
        m
    }

    /// The MX entries a `B`-byte slot keeps of `reply`, as (preference,
    /// exchange).
    fn mx_entries<const B: usize>(reply: &[u8]) -> Vec<(u16, String)> {
        let mut c = DnsClient::<1, B>::new(DnsSettings::DEFAULT);
        c.query("t.lan", QueryType::Mx).unwrap();
        let s = &mut c.slots[0];
        s.port = 50000;
        s.id = 9;
        s.phase = Phase::Waiting;
        assert!(matches!(
            s.process(&mut Bytes(reply)),
            Ok(Outcome::Continue)
        ));
        MxRecords { buf: s.used() }
            .map(|e| (e.preference, e.exchange.to_string()))
            .collect()
    }

    #[test]
    fn mx_keeps_the_most_preferred_that_fit() {
        // Three exchanges, preferences 30, 10, 20; 40 bytes hold two
        // entries of 6 + 11 bytes (`mxN.t.lan` in wire form).
        let m = mx_reply(&[(30, b"mx3"), (10, b"mx1"), (20, b"mx2")]);
        let got = mx_entries::<40>(&m);
        assert_eq!(got, [(10, "mx1.t.lan".into()), (20, "mx2.t.lan".into())]);
    }

    #[test]
    fn mx_ties_keep_reply_order_and_the_list_stops_at_the_first_misfit() {
        // Preferences 20 (b), 10 (a), 10 (c), 10 (longname), 30 (d): the
        // order is a, c, longname, b, d; 57 bytes hold a and c (17 each)
        // but not longname (24), so b and d, which would fit, are left
        // out too: the entries are the most preferred prefix.
        let m = mx_reply(&[
            (20, b"mxb"),
            (10, b"mxa"),
            (10, b"mxc"),
            (10, b"longname-x"),
            (30, b"mxd"),
        ]);
        let got = mx_entries::<57>(&m);
        assert_eq!(got, [(10, "mxa.t.lan".into()), (10, "mxc.t.lan".into())]);
        // With room for all, every exchange in that order.
        let got: Vec<String> = mx_entries::<128>(&m).into_iter().map(|e| e.1).collect();
        assert_eq!(
            got,
            [
                "mxa.t.lan",
                "mxc.t.lan",
                "longname-x.t.lan",
                "mxb.t.lan",
                "mxd.t.lan"
            ]
        );
    }

    #[test]
    fn take_mx_gives_the_first_exchange_with_an_address() {
        // Entries as the MX answer leaves them: preference, address
        // (0.0.0.0: none), name.
        let entry = |pref: u8, addr: [u8; 4], name: &str| {
            let mut e = vec![0, pref];
            e.extend(addr);
            let mut b = [0u8; 64];
            let n = wire::encode_name(name, &mut b).unwrap();
            e.extend(&b[..n]);
            e
        };
        for (entries, want) in [
            (
                [entry(10, [0; 4], "a.t"), entry(20, [10, 0, 0, 2], "b.t")].concat(),
                Ok(Ipv4Address::new(10, 0, 0, 2)),
            ),
            (
                [
                    entry(10, [10, 0, 0, 1], "a.t"),
                    entry(20, [10, 0, 0, 2], "b.t"),
                ]
                .concat(),
                Ok(Ipv4Address::new(10, 0, 0, 1)),
            ),
            (
                [entry(10, [0; 4], "a.t"), entry(20, [0; 4], "b.t")].concat(),
                Err(DnsError::NoData),
            ),
        ] {
            let mut c = DnsClient::<1, 64>::new(DnsSettings::DEFAULT);
            let h = c.start_mx("t").unwrap();
            let s = &mut c.slots[0];
            s.phase = Phase::Done;
            s.buf[..entries.len()].copy_from_slice(&entries);
            s.len = entries.len() as u8;
            assert_eq!(c.take_mx(h), Poll::Ready(want));
            // Taken: the slot is free.
            assert_eq!(c.take_mx(h), Poll::Ready(Err(DnsError::BadHandle)));
        }
    }

    #[test]
    fn cname_chain_in_reply_and_restart() {
        // www -> web -> host A 1.2.3.4, all in one reply, out of order.
        let head = |id: u16, an: u16| {
            wire::Repr {
                id,
                flags: 0x8180,
                questions: 1,
                answers: an,
                ..Default::default()
            }
            .to_bytes()
            .to_vec()
        };
        let mut m = head(1, 3);
        m.extend([3, b'w', b'w', b'w', 1, b'x', 0, 0, 1, 0, 1]); // question at 12
        let rr = |m: &mut Vec<u8>, owner: &[u8], t: u16, data: &[u8]| {
            m.extend(owner);
            m.extend(t.to_be_bytes());
            m.extend([0, 1, 0, 0, 0, 60]);
            m.extend((data.len() as u16).to_be_bytes());
            m.extend(data);
        };
        let web_at = m.len() + 2 + 10; // the first CNAME's data
        let host_at = web_at + 6 + 2 + 10; // the second's
        rr(&mut m, &[0xc0, 12], 5, &[3, b'w', b'e', b'b', 0xc0, 16]);
        rr(
            &mut m,
            &[0xc0 | (web_at >> 8) as u8, web_at as u8],
            5,
            &[4, b'h', b'o', b's', b't', 0xc0, 16],
        );
        let a_owner = [0xc0 | (host_at >> 8) as u8, host_at as u8];
        let mut full = m.clone();
        rr(&mut full, &a_owner, 1, &[1, 2, 3, 4]);
        // The A record first: chain order in the section does not matter.
        let mut s = sent("www.x", QueryType::A, 1);
        assert!(matches!(
            s.process(&mut Bytes(&full)),
            Ok(Outcome::Answered)
        ));
        assert_eq!(s.answer(), Ipv4Address::new(1, 2, 3, 4));
        // Without the A record: the client asks for host.x.
        let mut s = sent("www.x", QueryType::A, 1);
        let mut partial = m.clone();
        partial[7] = 2;
        assert!(matches!(
            s.process(&mut Bytes(&partial)),
            Ok(Outcome::Continue)
        ));
        assert_eq!(Name(s.used()).to_string(), "host.x");
        assert!(s.fresh() && s.restarts == 1);
        // A CNAME loop is bounded.
        let mut l = head(1, 2);
        l.extend([1, b'a', 0, 0, 1, 0, 1]);
        rr(&mut l, &[0xc0, 12], 5, &[1, b'b', 0]);
        let b_at = l.len() - 3;
        rr(
            &mut l,
            &[0xc0 | (b_at >> 8) as u8, b_at as u8],
            5,
            &[0xc0, 12],
        );
        let mut s = sent("a", QueryType::A, 1);
        assert!(matches!(
            s.process(&mut Bytes(&l)),
            Ok(Outcome::Failed(DnsError::TooManyCnames))
        ));
        // `[dns] cname = false`: an alias is `Unsupported` (with or
        // without the chain's A record, and for a loop), never followed;
        // a plain answer still works.
        for reply in [&full, &partial, &l] {
            let name = if reply == &l { "a" } else { "www.x" };
            let mut s = sent(name, QueryType::A, 1);
            assert!(matches!(
                s.process_as::<true, false, _>(&mut Bytes(reply))
                    .map(|()| s.outcome()),
                Ok(Outcome::Failed(DnsError::Unsupported))
            ));
            assert_eq!(s.restarts, 0);
        }
        let mut s = sent("www.test.lan", QueryType::A, 0x1234);
        assert!(matches!(
            s.process_as::<true, false, _>(&mut Bytes(&hex(R_A)))
                .map(|()| s.outcome()),
            Ok(Outcome::Answered)
        ));
        assert_eq!(s.answer(), Ipv4Address::new(10, 99, 0, 77));
    }

    #[test]
    fn one_record_scan_serves_every_lookup() {
        // `Reply::best`: validation, the chain's end, the A answer.
        let reply = |records: &[(u16, u16, &[u8])], additional: &[u8]| {
            let mut m = wire::Repr {
                id: 1,
                flags: 0x8180,
                questions: 1,
                answers: records.len() as u16,
                additionals: u16::from(!additional.is_empty()),
                ..Default::default()
            }
            .to_bytes()
            .to_vec();
            m.extend([1, b'a', 0, 0, 1, 0, 1]); // question "a" A IN at 12
            for &(t, class, data) in records {
                m.extend([0xc0, 12]);
                m.extend(t.to_be_bytes());
                m.extend(class.to_be_bytes());
                m.extend([0, 0, 0, 60]);
                m.extend((data.len() as u16).to_be_bytes());
                m.extend(data);
            }
            m.extend(additional);
            m
        };
        let run = |m: &[u8]| {
            let mut s = sent("a", QueryType::A, 1);
            let r = s.process(&mut Bytes(m));
            r.map(|o| match o {
                Outcome::Answered => Ok(s.answer()),
                Outcome::Failed(e) => Err(e),
                Outcome::Continue => Err(DnsError::Timeout),
            })
        };
        let cname_b = [1, b'b', 0];
        // 0.0.0.0 is passed over for the next A record of the name, and an
        // A record of another class is not the name's address.
        let m = reply(
            &[
                (1, 3, &[9, 9, 9, 9]),
                (1, 1, &[0, 0, 0, 0]),
                (1, 1, &[5, 6, 7, 8]),
            ],
            &[],
        );
        assert_eq!(run(&m), Ok(Ok(Ipv4Address::new(5, 6, 7, 8))));
        // An A record ends the chain even when it is 0.0.0.0 and the name
        // also has a CNAME (wherever it stands): no data, no restart.
        for records in [
            [(5, 1, &cname_b[..]), (1, 1, &[0, 0, 0, 0][..])],
            [(1, 1, &[0, 0, 0, 0][..]), (5, 1, &cname_b[..])],
        ] {
            assert_eq!(run(&reply(&records, &[])), Ok(Err(DnsError::NoData)));
        }
        // A CNAME of another class is not followed.
        let m = reply(&[(5, 3, &cname_b)], &[]);
        assert_eq!(run(&m), Ok(Err(DnsError::NoData)));
        // Every record is validated before any is used: a valid answer
        // with a broken additional record (a forward pointer) is rejected.
        let bad = [0xc0, 0xff, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4];
        let m = reply(&[(1, 1, &[5, 6, 7, 8])], &bad);
        assert!(matches!(run(&m), Err(DnsReject::Malformed(_))));
    }

    #[test]
    fn mx_switched_off() {
        // `[dns] mx = false`: MX queries are refused at once; A works.
        let mut c = DnsClient::<1, 64, false, true>::new(DnsSettings::DEFAULT);
        assert_eq!(
            c.query("test.lan", QueryType::Mx),
            Err(DnsError::Unsupported)
        );
        assert_eq!(c.start_mx("test.lan"), Err(DnsError::Unsupported));
        let h = c.query("www.test.lan", QueryType::A).unwrap();
        assert_eq!(c.take_mx(h), Poll::Ready(Err(DnsError::Unsupported)));
    }

    #[test]
    fn rcodes() {
        for (rcode, err) in [
            (3u16, DnsError::NameError),
            (2, DnsError::ServerFailure),
            (5, DnsError::Refused),
            (0, DnsError::NoData),
        ] {
            let mut m = wire::Repr {
                id: 1,
                flags: 0x8180 | rcode,
                questions: 1,
                ..Default::default()
            }
            .to_bytes()
            .to_vec();
            m.extend([1, b'a', 0, 0, 1, 0, 1]);
            let mut s = sent("A", QueryType::A, 1);
            match s.process(&mut Bytes(&m)) {
                Ok(Outcome::Failed(e)) => assert_eq!(e, err),
                _ => panic!("rcode {rcode}"),
            }
            // The records are validated before the RCODE is taken (with
            // CNAME following on or off): a broken record in any section
            // rejects the reply, the query still waits.
            let bad = [0xc0, 0xff, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4];
            for section in [6, 8, 10] {
                let mut broken = m.clone();
                broken[section + 1] = 1;
                broken.extend(bad);
                let mut s = sent("A", QueryType::A, 1);
                assert!(matches!(
                    s.process(&mut Bytes(&broken)),
                    Err(DnsReject::Malformed(_))
                ));
                let mut s = sent("A", QueryType::A, 1);
                assert!(matches!(
                    s.process_as::<true, false, _>(&mut Bytes(&broken)),
                    Err(DnsReject::Malformed(_))
                ));
                assert_eq!(s.phase, Phase::Waiting);
            }
        }
    }

    #[test]
    fn query_errors() {
        let mut c = DnsClient::<1, 16>::new(DnsSettings::DEFAULT);
        assert_eq!(c.query("a..b", QueryType::A), Err(DnsError::InvalidName));
        assert_eq!(
            c.query("fifteen-chars.x", QueryType::A),
            Err(DnsError::NameTooLong)
        );
        let h = c.query("fourteen.chars", QueryType::A).unwrap();
        assert_eq!(c.query("b", QueryType::A), Err(DnsError::NoFreeSlot));
        assert_eq!(c.result(h), Poll::Pending);
        c.release(h);
        assert_eq!(c.result(h), Poll::Ready(Err(DnsError::BadHandle)));
        let h2 = c.query("b", QueryType::A).unwrap();
        assert_ne!(h, h2);
        assert_eq!(c.result(h), Poll::Ready(Err(DnsError::BadHandle)));
        c.release(h); // stale: no effect
        assert_eq!(c.result(h2), Poll::Pending);
        // Taking an address goes by the same rules: a stale handle, one
        // of no slot or of a freed slot is refused and frees nothing.
        let bad = Poll::Ready(Err(DnsError::BadHandle));
        assert_eq!(c.take_resolved(h), bad);
        assert_eq!(
            c.take_resolved(DnsHandle {
                slot: 1,
                gen: h2.gen
            }),
            bad
        );
        assert_eq!(c.take_resolved(h2), Poll::Pending);
        c.slots[0].phase = Phase::Done;
        assert_eq!(c.take_mx(h2), bad, "an A query's answer is no MX answer");
        let h3 = c.query("c", QueryType::A).unwrap();
        c.release(h3);
        assert_eq!(c.take_resolved(h3), bad);
    }
}
