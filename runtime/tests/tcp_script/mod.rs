//! A small script language for TCP state-machine tests over the simulated
//! wire with a virtual clock.
//!
//! A [`Script`] owns a [`SimWire`], the stack under test (on a `Rewrite` or
//! a `LengthFirst` endpoint) with a test [`Config`], a recording [`Owner`]
//! (the application), and a scripted peer endpoint. A test reads like a
//! packet trace:
//!
//! ```text
//! let mut s = Script::<Std>::new();
//! let h = s.listen(80);
//! s.send(seg!(SYN, seq = 1000, mss = 1460));
//! let syn_ack = s.expect(seg!(SYN | ACK, seq = any, ack = 1001, mss = 1460));
//! s.send(seg!(ACK, seq = 1001, ack = syn_ack.seq.plus(1)));
//! s.expect_nothing();
//! assert!(matches!(s.events(h)[..], [TcpEvent::Connected { .. }]));
//! s.advance(1000); // virtual milliseconds
//! ```
//!
//! `send` builds Ethernet + IPv4 + TCP with correct checksums (or with the
//! damage a [`Seg`] asks for), injects it and polls the stack; `expect`
//! polls, takes the next frame the stack sent and checks it strictly, as
//! smoltcp's `recv!` compares a whole `TcpRepr`: flags exactly (PSH too),
//! `seq` and (with ACK) `ack` as the pattern writes them, window, ports,
//! MSS option and payload against the pattern or the script's defaults
//! (see [`seg!`]); only a field written `= any` is not compared. It
//! returns the parsed segment so a test can capture our ISN (`seq = any`
//! in the SYN-ACK, then `sa.seq.plus(1)` after it). Time moves
//! only in `advance`/`wait`, which poll the stack at every instant its
//! `poll_at` names (and at least once per virtual millisecond when work is
//! due), stamping each frame the peer hears with the time it went out.
#![allow(dead_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::collections::VecDeque;
use std::fmt;

use emberstack::config::StaticIpv4;
use emberstack::iface::{DropReason, Event, PayloadSink};
use emberstack::nic::sim::{Faults, SimNic, SimWire};
use emberstack::nic::Nic;
use emberstack::tcp::{TcpConfig, TcpEvent, TcpHandle, TcpReader, TcpState};
use emberstack::udp::Endpoint;
use emberstack::wire::build::{arp_frame, Ipv4Frame, TcpHeader};
use emberstack::wire::{arp, ethernet, ipv4, tcp, EtherType, IpProtocol};
use emberstack::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};
use emberstack::{App, Config, Instant, Stack};

/// The stack under test.
pub const DUT_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);
/// Its address.
pub const DUT_IP: Ipv4Address = Ipv4Address([10, 0, 0, 2]);
/// The scripted peer.
pub const PEER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
/// Its address.
pub const PEER_IP: Ipv4Address = Ipv4Address([10, 0, 0, 1]);
/// The port servers listen on in the scripts.
pub const PORT: u16 = 80;
/// The peer's port unless a segment says otherwise.
pub const PEER_PORT: u16 = 40_000;

/// TCP flag bits for [`seg!`].
pub mod flag {
    /// No flag at all.
    pub const NONE: u8 = 0;
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// URG.
    pub const URG: u8 = 0x20;
}

/// Builds a [`Seg`]: `seg!(SYN | ACK, seq = 1, ack = 2, win = 0, mss = 536,
/// data = b"..", sport = 1, dport = 2)`; any builder method of `Seg`
/// taking one argument may be named.
///
/// As a pattern for [`Script::expect`] and [`Script::wait`] it is strict:
/// every field is compared. `seq` must be given, and `ack` whenever the
/// flags have ACK; the others default to what the stack sends most of the
/// time — `sport`/`dport` the script's `port`/`peer_port`, `win` its
/// `win`, no MSS option, no data, PSH clear (flags are exact). A field
/// whose value the script cannot know is written `= any` (our ISN in a
/// SYN, an ephemeral port, a payload compared afterwards).
#[macro_export]
macro_rules! seg {
    ($($f:ident)|+ $(, $field:ident = $val:expr)* $(,)?) => {{
        #[allow(unused_imports)]
        use $crate::script::ANY as any;
        let s = $crate::script::Seg::new($($crate::script::flag::$f)|+);
        $(let s = s.$field($val);)*
        s
    }};
}

/// `any` in a [`seg!`] pattern: the field is not compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Any;

/// The value `seg!` brings into scope as `any`.
pub const ANY: Any = Any;

/// A pattern field: a value, or [`Any`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Want<T> {
    /// This value.
    Is(T),
    /// Whatever the stack sent.
    Any,
}

impl<T> From<Any> for Want<T> {
    fn from(_: Any) -> Self {
        Want::Any
    }
}

macro_rules! want_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Want<$t> {
            fn from(v: $t) -> Self {
                Want::Is(v)
            }
        }
    )*};
}
want_from!(u16, u32, usize);

impl From<&[u8]> for Want<Vec<u8>> {
    fn from(v: &[u8]) -> Self {
        Want::Is(v.to_vec())
    }
}

impl From<&Vec<u8>> for Want<Vec<u8>> {
    fn from(v: &Vec<u8>) -> Self {
        Want::Is(v.clone())
    }
}

impl<const N: usize> From<&[u8; N]> for Want<Vec<u8>> {
    fn from(v: &[u8; N]) -> Self {
        Want::Is(v.to_vec())
    }
}

/// Bits of [`Seg::any`]: the fields a pattern leaves open.
pub mod open {
    pub const SEQ: u8 = 0x01;
    pub const ACK: u8 = 0x02;
    pub const WIN: u8 = 0x04;
    pub const MSS: u8 = 0x08;
    pub const DATA: u8 = 0x10;
    pub const SPORT: u8 = 0x20;
    pub const DPORT: u8 = 0x40;
}

/// A TCP segment to send, or a pattern to expect.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seg {
    pub flags: u8,
    pub seq: Option<u32>,
    pub ack: Option<u32>,
    pub win: Option<u16>,
    pub mss: Option<u16>,
    pub data: Option<Vec<u8>>,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    /// Sending only: raw option bytes (padded with zeros to a word).
    pub options: Option<Vec<u8>>,
    /// Sending only: the data offset field, in words (default: right).
    pub doff: Option<u8>,
    /// Sending only: corrupt the TCP checksum.
    pub bad_checksum: bool,
    /// Expecting only: the payload length (when `data` is not given).
    pub len: Option<usize>,
    /// Expecting only: the fields written `= any` ([`open`] bits).
    pub any: u8,
}

impl Seg {
    pub fn new(flags: u8) -> Seg {
        Seg {
            flags,
            ..Seg::default()
        }
    }
    /// Stores a pattern field: the value, or its [`open`] bit.
    fn want<T>(&mut self, v: Want<T>, bit: u8) -> Option<T> {
        match v {
            Want::Is(v) => Some(v),
            Want::Any => {
                self.any |= bit;
                None
            }
        }
    }
    pub fn seq(mut self, v: impl Into<Want<u32>>) -> Seg {
        self.seq = self.want(v.into(), open::SEQ);
        self
    }
    pub fn ack(mut self, v: impl Into<Want<u32>>) -> Seg {
        self.ack = self.want(v.into(), open::ACK);
        self
    }
    pub fn win(mut self, v: impl Into<Want<u16>>) -> Seg {
        self.win = self.want(v.into(), open::WIN);
        self
    }
    pub fn mss(mut self, v: impl Into<Want<u16>>) -> Seg {
        self.mss = self.want(v.into(), open::MSS);
        self
    }
    pub fn data(mut self, v: impl Into<Want<Vec<u8>>>) -> Seg {
        self.data = self.want(v.into(), open::DATA);
        self
    }
    pub fn len(mut self, v: impl Into<Want<usize>>) -> Seg {
        self.len = self.want(v.into(), open::DATA);
        self
    }
    pub fn sport(mut self, v: impl Into<Want<u16>>) -> Seg {
        self.sport = self.want(v.into(), open::SPORT);
        self
    }
    pub fn dport(mut self, v: impl Into<Want<u16>>) -> Seg {
        self.dport = self.want(v.into(), open::DPORT);
        self
    }
    pub fn options(mut self, v: &[u8]) -> Seg {
        self.options = Some(v.to_vec());
        self
    }
    pub fn doff(mut self, v: u8) -> Seg {
        self.doff = Some(v);
        self
    }
    pub fn bad_checksum(mut self, v: bool) -> Seg {
        self.bad_checksum = v;
        self
    }
    /// Whether the pattern leaves `bit` open.
    pub fn is_open(&self, bit: u8) -> bool {
        self.any & bit != 0
    }
}

/// Sequence arithmetic for scripts: `iss.plus(1)` wraps modulo 2^32.
pub trait Seq {
    fn plus(self, n: usize) -> u32;
    fn minus(self, n: usize) -> u32;
}

impl Seq for u32 {
    fn plus(self, n: usize) -> u32 {
        self.wrapping_add(n as u32)
    }
    fn minus(self, n: usize) -> u32 {
        self.wrapping_sub(n as u32)
    }
}

/// Renders flags as `SYN|ACK`.
pub fn flag_names(f: u8) -> String {
    let names = [
        (flag::SYN, "SYN"),
        (flag::FIN, "FIN"),
        (flag::RST, "RST"),
        (flag::PSH, "PSH"),
        (flag::ACK, "ACK"),
        (flag::URG, "URG"),
        (0x40, "ECE"),
        (0x80, "CWR"),
    ];
    let v: Vec<&str> = names
        .iter()
        .filter(|(b, _)| f & b != 0)
        .map(|(_, n)| *n)
        .collect();
    if v.is_empty() {
        "NONE".into()
    } else {
        v.join("|")
    }
}

/// A TCP segment the stack sent, as the peer saw it.
#[derive(Clone, PartialEq, Eq)]
pub struct Captured {
    /// Virtual time it went out (ms).
    pub at: u64,
    /// The whole Ethernet frame.
    pub frame: Vec<u8>,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    /// The acknowledgment number, when ACK is set.
    pub ack: Option<u32>,
    pub flags: u8,
    pub win: u16,
    pub mss: Option<u16>,
    pub data: Vec<u8>,
}

impl Captured {
    /// The acknowledgment number (panics when ACK is clear).
    pub fn ack(&self) -> u32 {
        self.ack.expect("segment carries no ACK")
    }
    /// Sequence number after this segment (SYN and FIN count one).
    pub fn seq_end(&self) -> u32 {
        let ctl = u32::from(self.flags & (flag::SYN | flag::FIN) != 0);
        self.seq
            .wrapping_add(self.data.len() as u32)
            .wrapping_add(ctl)
    }
}

impl fmt::Debug for Captured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "@{}ms {}->{} [{}] seq={}",
            self.at,
            self.sport,
            self.dport,
            flag_names(self.flags),
            self.seq
        )?;
        if let Some(a) = self.ack {
            write!(f, " ack={a}")?;
        }
        write!(f, " win={}", self.win)?;
        if let Some(m) = self.mss {
            write!(f, " mss={m}")?;
        }
        if !self.data.is_empty() {
            write!(f, " len={}", self.data.len())?;
        }
        Ok(())
    }
}

/// A frame the stack sent that the peer heard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Heard {
    Tcp(Captured),
    /// An ARP request for this address.
    ArpRequest {
        at: u64,
        target: Ipv4Address,
    },
    /// Anything else (ICMP, ARP replies...).
    Other {
        at: u64,
        frame: Vec<u8>,
    },
}

/// Parses a frame the stack sent; checks its addressing and checksums.
pub fn parse_frame(at: u64, frame: &[u8]) -> Heard {
    let eth = ethernet::Frame::new_checked(frame).expect("ethernet frame");
    let eth = ethernet::Repr::parse(&eth).expect("ethernet header");
    assert_eq!(eth.src_addr, DUT_MAC, "sent from the DUT's MAC");
    let body = &frame[ethernet::HEADER_LEN..];
    match eth.ethertype {
        EtherType::Arp => {
            let p = arp::Packet::new_checked(body).expect("ARP");
            let r = arp::Repr::parse(&p).expect("ARP repr");
            if r.operation == arp::Operation::Request && eth.dst_addr.is_broadcast() {
                Heard::ArpRequest {
                    at,
                    target: r.target_protocol_addr,
                }
            } else {
                Heard::Other {
                    at,
                    frame: frame.to_vec(),
                }
            }
        }
        EtherType::Ipv4 => {
            let ip = ipv4::Packet::new_checked(body).expect("IPv4");
            assert!(ip.verify_checksum(), "IPv4 header checksum");
            let repr = ipv4::Repr::parse(&ip, true).expect("IPv4 repr");
            if repr.next_header != IpProtocol::Tcp {
                return Heard::Other {
                    at,
                    frame: frame.to_vec(),
                };
            }
            assert_eq!(eth.dst_addr, PEER_MAC, "TCP goes to the peer's MAC");
            assert_eq!(repr.src_addr, DUT_IP);
            assert_eq!(repr.dst_addr, PEER_IP);
            let seg = ip.payload();
            let t = tcp::Packet::new_checked(seg).expect("TCP header");
            assert!(
                t.verify_checksum(DUT_IP, PEER_IP),
                "TCP checksum of a segment we sent"
            );
            let mut mss = None;
            for o in t.option_iter() {
                if let Ok(tcp::TcpOption::MaxSegmentSize(m)) = o {
                    mss = Some(m);
                }
            }
            Heard::Tcp(Captured {
                at,
                frame: frame.to_vec(),
                sport: t.src_port(),
                dport: t.dst_port(),
                seq: t.seq_number().0,
                ack: t.ack().then(|| t.ack_number().0),
                flags: t.flags().0,
                win: t.window_len(),
                mss,
                data: t.payload().to_vec(),
            })
        }
        EtherType::Unknown(t) => panic!("DUT sent ethertype {t:#06x}"),
    }
}

/// The peer's frames to `dst` (the DUT's address, or another a test
/// tries): Ethernet + IPv4 from `PEER_MAC`/`PEER_IP`.
pub fn peer_to(dst: Ipv4Address) -> Ipv4Frame {
    Ipv4Frame::new(PEER_MAC, PEER_IP, DUT_MAC, dst)
}

/// Builds the Ethernet + IPv4 + TCP frame the peer sends for `s`.
pub fn build_frame(s: &Seg) -> Vec<u8> {
    let frame = Ipv4Frame {
        checksum_xor: if s.bad_checksum { 0x0101 } else { 0 },
        ..peer_to(DUT_IP)
    };
    frame.tcp_segment(tcp_header(s))
}

/// The TCP header and payload for `s` with a zero checksum field (the
/// frame builder fills it in): a `TcpHeader`, not a `tcp::Repr`, since a
/// script may ask for any flags, options or data offset.
pub fn tcp_header(s: &Seg) -> Vec<u8> {
    let data = s.data.clone().unwrap_or_default();
    let mut opts = s.options.clone().unwrap_or_default();
    if let Some(m) = s.mss {
        let [a, b] = m.to_be_bytes();
        opts.splice(0..0, [2, 4, a, b]);
    }
    let mut t = TcpHeader {
        src_port: s.sport.unwrap_or(PEER_PORT),
        dst_port: s.dport.unwrap_or(PORT),
        seq_number: tcp::SeqNumber(s.seq.unwrap_or(0)),
        ack_number: tcp::SeqNumber(s.ack.unwrap_or(0)),
        flags: tcp::Flags(s.flags),
        window_len: s.win.unwrap_or(8192),
        options: &opts,
    }
    .segment(&data);
    if let Some(d) = s.doff {
        t[12] = d << 4;
    }
    t
}

/// What a pattern's unnamed fields must be: the script's defaults.
#[derive(Clone, Copy, Debug)]
pub struct Defaults {
    /// Our port (`Script::port`).
    pub sport: u16,
    /// The peer's port (`Script::peer_port`).
    pub dport: u16,
    /// The window we advertise (`Script::win`).
    pub win: u16,
}

/// Checks a captured segment against a pattern, strictly: every field is
/// compared — with the pattern's value, with `d` for the ports and window
/// it does not name, with "none" for the MSS option and data — unless the
/// pattern wrote `any` for it. `seq`, and `ack` when the flags carry ACK,
/// have no default. `Err` says what differs.
pub fn matches(c: &Captured, p: &Seg, d: Defaults) -> Result<(), String> {
    let mut why = Vec::new();
    if p.seq.is_none() && !p.is_open(open::SEQ) {
        why.push("the pattern names no seq (write `seq = ...` or `seq = any`)".to_owned());
    }
    if p.flags & flag::ACK != 0 && p.ack.is_none() && !p.is_open(open::ACK) {
        why.push(
            "the pattern has ACK but names no ack (write `ack = ...` or `ack = any`)".to_owned(),
        );
    }
    if c.flags != p.flags {
        why.push(format!(
            "flags {} != {}",
            flag_names(c.flags),
            flag_names(p.flags)
        ));
    }
    let mut check = |name: &str, bit: u8, got: Option<u64>, want: Option<u64>| {
        if !p.is_open(bit) && got != want {
            let show = |v: Option<u64>| v.map_or("none".to_owned(), |v| v.to_string());
            why.push(format!("{name} {} != {}", show(got), show(want)));
        }
    };
    if p.seq.is_some() {
        check("seq", open::SEQ, Some(c.seq.into()), p.seq.map(u64::from));
    }
    if p.ack.is_some() {
        check("ack", open::ACK, c.ack.map(u64::from), p.ack.map(u64::from));
    }
    let win = p.win.unwrap_or(d.win);
    check("win", open::WIN, Some(c.win.into()), Some(win.into()));
    check("mss", open::MSS, c.mss.map(u64::from), p.mss.map(u64::from));
    let sport = p.sport.unwrap_or(d.sport);
    check(
        "sport",
        open::SPORT,
        Some(c.sport.into()),
        Some(sport.into()),
    );
    let dport = p.dport.unwrap_or(d.dport);
    check(
        "dport",
        open::DPORT,
        Some(c.dport.into()),
        Some(dport.into()),
    );
    match (&p.data, p.len) {
        (Some(data), _) => {
            if &c.data != data {
                why.push(format!(
                    "data {:?} != {:?}",
                    String::from_utf8_lossy(&c.data),
                    String::from_utf8_lossy(data)
                ));
            }
        }
        (None, Some(len)) => check(
            "len",
            open::DATA,
            Some(c.data.len() as u64),
            Some(len as u64),
        ),
        (None, None) => check("len", open::DATA, Some(c.data.len() as u64), Some(0)),
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(why.join(", "))
    }
}

/// What a socket's owner writes when the stack pulls.
#[derive(Clone, Debug, Default)]
pub enum Source {
    /// Nothing (the default).
    #[default]
    Nothing,
    /// These bytes, then nothing.
    Bytes(Vec<u8>),
    /// `total` bytes of `pattern_byte(offset)`.
    Pattern(u32),
}

/// The byte a [`Source::Pattern`] has at stream offset `i`.
pub fn pattern_byte(i: u32) -> u8 {
    (i % 251) as u8
}

/// `len` pattern bytes from stream offset `from`.
pub fn pattern(from: u32, len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|k| pattern_byte(from.wrapping_add(k)))
        .collect()
}

/// How an owner breaks the rule "the same offset gives the same bytes".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tamper {
    /// It keeps the rule.
    #[default]
    Honest,
    /// The first byte differs on every call for the same offset.
    Flip,
    /// Repeated calls for the same offset give fewer bytes.
    Shorten,
}

/// One socket's side of the test application.
#[derive(Clone, Debug)]
pub struct Sock {
    pub source: Source,
    /// Every `tcp_produce` call: (offset, max).
    pub produced: Vec<(u32, usize)>,
    /// Bytes taken, in order.
    pub received: Vec<u8>,
    /// Receive space (`tcp_recv_space`); bytes taken use it up.
    pub room: usize,
    /// Produce different bytes each time an offset is asked for again.
    pub tamper: Tamper,
}

impl Default for Sock {
    fn default() -> Self {
        Sock {
            source: Source::Nothing,
            produced: Vec::new(),
            received: Vec::new(),
            room: usize::MAX,
            tamper: Tamper::Honest,
        }
    }
}

/// The test application: records events and data, produces on demand.
pub struct Owner {
    pub events: Vec<(TcpHandle, TcpEvent)>,
    pub drops: Vec<DropReason>,
    pub sockets: Vec<Sock>,
    rng: u32,
}

impl Default for Owner {
    fn default() -> Self {
        Owner {
            events: Vec::new(),
            drops: Vec::new(),
            sockets: vec![Sock::default(); 8],
            rng: 0x1234_5678,
        }
    }
}

impl App for Owner {
    fn random_u32(&mut self) -> u32 {
        self.rng = self.rng.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        self.rng
    }
    fn event(&mut self, e: Event) {
        if let Event::Dropped(r) = e {
            self.drops.push(r);
        }
    }
    fn tcp_event(&mut self, socket: TcpHandle, event: TcpEvent) {
        self.events.push((socket, event));
    }
    fn tcp_received<N: Nic>(&mut self, socket: TcpHandle, data: &mut TcpReader<'_, N>) -> usize {
        let s = &mut self.sockets[socket.index()];
        let take = data.len().min(s.room);
        let mut buf = vec![0u8; take];
        assert_eq!(data.read(0, &mut buf), take, "reader gives what it offers");
        s.received.extend_from_slice(&buf);
        s.room = s.room.saturating_sub(take);
        take
    }
    fn tcp_produce(
        &mut self,
        socket: TcpHandle,
        offset: u32,
        max: usize,
        sink: &mut dyn PayloadSink,
    ) {
        let s = &mut self.sockets[socket.index()];
        let asked_before = s.produced.iter().filter(|&&(o, _)| o == offset).count();
        s.produced.push((offset, max));
        let mut bytes = match &s.source {
            Source::Nothing => Vec::new(),
            Source::Bytes(b) => {
                let from = (offset as usize).min(b.len());
                let to = from.saturating_add(max).min(b.len());
                b[from..to].to_vec()
            }
            Source::Pattern(total) => {
                let left = total.saturating_sub(offset) as usize;
                pattern(offset, left.min(max))
            }
        };
        match s.tamper {
            Tamper::Honest => {}
            Tamper::Flip => {
                if let Some(b) = bytes.first_mut() {
                    *b ^= asked_before as u8;
                }
            }
            Tamper::Shorten => {
                if asked_before > 0 && bytes.len() > 1 {
                    bytes.truncate(bytes.len() - asked_before.min(bytes.len() - 1));
                }
            }
        }
        // In two pieces, as a real producer might write.
        let half = bytes.len() / 2;
        sink.write(&bytes[..half]);
        sink.write(&bytes[half..]);
    }
    fn tcp_recv_space(&mut self, socket: TcpHandle) -> usize {
        self.sockets[socket.index()].room
    }
}

/// The stack's NIC in a script: either kind of simulated endpoint.
pub trait DutNic: Nic {
    fn attach(wire: &SimWire) -> Self;
    fn violations(&self) -> u64;
}

impl DutNic for SimNic<false> {
    fn attach(wire: &SimWire) -> Self {
        wire.endpoint()
    }
    fn violations(&self) -> u64 {
        self.contract_violations()
    }
}

impl DutNic for SimNic<true> {
    fn attach(wire: &SimWire) -> Self {
        wire.endpoint_length_first()
    }
    fn violations(&self) -> u64 {
        self.contract_violations()
    }
}

/// A `LengthFirst` (FIFO) endpoint for the stack under test.
pub type Fifo = SimNic<true>;

/// Declares a test configuration: `script_config!(Name, sockets, TCP)`.
#[macro_export]
macro_rules! script_config {
    ($name:ident, $sockets:expr, $tcp:expr) => {
        emberstack::test_config! {
            #[doc = concat!("Test configuration `", stringify!($name), "`.")]
            pub struct $name;
            const DEVICE_NAME: &'static str = stringify!($name);
            const MAC: emberstack::wire::EthernetAddress = $crate::script::DUT_MAC;
            const STATIC_IPV4: Option<emberstack::config::StaticIpv4> =
                Some($crate::script::DUT_STATIC);
            const ARP_LIFETIME: emberstack::Duration = emberstack::Duration::from_secs(600);
            const TCP: emberstack::tcp::TcpConfig = $tcp;
            type TcpSockets = [emberstack::tcp::TcpSocket; $sockets];
        }
    };
}

/// The DUT's static address.
pub const DUT_STATIC: StaticIpv4 = StaticIpv4 {
    cidr: Ipv4Cidr::new(DUT_IP, 24),
    gateway: None,
    dns: None,
};

// The defaults (3 sockets, window 1, regenerate, RTO 200 ms..60 s,
// 8 retries, TIME-WAIT 2 s, a SYN to a busy port remembered) with whole
// segments: most scripts follow one segment at a time. `Split` in
// tcp_script.rs has the default `split`.
script_config!(
    Std,
    3,
    TcpConfig {
        split: false,
        ..TcpConfig::DEFAULT
    }
);

/// The stack under test, its peer and the virtual clock.
pub struct Script<C: Config, N: DutNic = SimNic> {
    pub wire: SimWire,
    pub peer: SimNic,
    pub nic: N,
    pub stack: Stack<C>,
    pub app: Owner,
    /// Virtual time, ms.
    pub now: u64,
    /// Our port in segments the peer sends (unless they name one).
    pub port: u16,
    /// The peer's port in segments it sends (unless they name one).
    pub peer_port: u16,
    /// The window we advertise unless a pattern names one: `[tcp] window`
    /// whole segments of `mss` (no timestamps, an owner with room).
    pub win: u16,
    heard: VecDeque<Heard>,
}

impl<C: Config> Script<C> {
    /// A script with the stack on a `Rewrite` endpoint.
    pub fn new() -> Self {
        Script::with_nic()
    }

    /// A script with the stack on a `LengthFirst` endpoint.
    pub fn fifo() -> Script<C, Fifo> {
        Script::with_nic()
    }
}

impl<C: Config, N: DutNic> Script<C, N> {
    /// A fresh stack at virtual time 1 ms, its gratuitous ARP heard.
    pub fn with_nic() -> Self {
        let wire = SimWire::new(1, Faults::none());
        let peer = wire.endpoint();
        let nic = N::attach(&wire);
        let mut s = Script {
            wire,
            peer,
            nic,
            stack: Stack::new(),
            app: Owner::default(),
            now: 1,
            port: PORT,
            peer_port: PEER_PORT,
            win: u16::try_from(usize::from(C::TCP.window) * usize::from(C::TCP.mss))
                .unwrap_or(u16::MAX),
            heard: VecDeque::new(),
        };
        s.poll();
        match s.heard.pop_front() {
            Some(Heard::ArpRequest { target, .. }) => assert_eq!(target, DUT_IP),
            other => panic!("expected the gratuitous ARP, got {other:?}"),
        }
        s.expect_nothing();
        s
    }

    /// The current virtual time as an `Instant`.
    pub fn instant(&self) -> Instant {
        Instant::from_millis(self.now)
    }

    /// Polls the stack at the current time until it is idle, and collects
    /// what the peer hears.
    pub fn poll(&mut self) {
        self.wire.set_now(self.now);
        let t = self.instant();
        let mut rounds = 0;
        // Like a main loop: again while it works or says work is due now
        // (a bounded number of times: ARP pending keeps `poll_at` at now).
        while self.stack.poll(t, &mut self.nic, &mut self.app)
            || (rounds < 3 && self.stack.poll_at(t).is_some_and(|at| at <= t))
        {
            rounds += 1;
            assert!(rounds < 100, "stack keeps itself busy");
        }
        while let Some(f) = self.peer.recv_frame() {
            self.heard.push_back(parse_frame(self.now, &f));
        }
        assert_eq!(self.nic.violations(), 0, "NIC contract kept");
    }

    /// Moves the clock `ms` forward, polling whenever the stack asked to
    /// be (`poll_at`), and at every millisecond while work is due now.
    pub fn advance(&mut self, ms: u64) {
        let target = self.now + ms;
        self.run_until(target, |_| false);
    }

    /// Advances until the stack sends something (at most `ms`); the time
    /// it went out is in the captured segment, which must match `pattern`.
    #[track_caller]
    pub fn wait(&mut self, pattern: Seg, ms: u64) -> Captured {
        let target = self.now + ms;
        self.run_until(target, |s| !s.heard.is_empty());
        assert!(
            !self.heard.is_empty(),
            "nothing sent within {ms} ms (now {} ms), waiting for {pattern:?}",
            self.now
        );
        self.take(pattern)
    }

    fn run_until(&mut self, target: u64, stop: impl Fn(&Self) -> bool) {
        loop {
            self.poll();
            if self.now >= target || stop(self) {
                return;
            }
            let next = self
                .stack
                .poll_at(self.instant())
                .map_or(target, |t| self.now + t.since(self.instant()).millis());
            self.now = next.max(self.now + 1).min(target);
        }
    }

    /// Injects a segment from the peer and polls.
    pub fn send(&mut self, s: Seg) {
        assert_eq!(
            s.any, 0,
            "`any` is for patterns, not for what the peer sends"
        );
        let s = Seg {
            sport: s.sport.or(Some(self.peer_port)),
            dport: s.dport.or(Some(self.port)),
            ..s
        };
        self.send_frame(&build_frame(&s));
    }

    /// Injects a raw frame from the peer and polls.
    pub fn send_frame(&mut self, frame: &[u8]) {
        self.wire.set_now(self.now);
        self.peer.send_frame(frame).unwrap();
        self.poll();
    }

    /// The next thing the peer heard (after polling), whatever it is.
    pub fn next_heard(&mut self) -> Option<Heard> {
        self.poll();
        self.heard.pop_front()
    }

    /// The next segment the stack sent must match `pattern` (strictly:
    /// see [`seg!`]).
    #[track_caller]
    pub fn expect(&mut self, pattern: Seg) -> Captured {
        self.poll();
        self.take(pattern)
    }

    #[track_caller]
    fn take(&mut self, pattern: Seg) -> Captured {
        match self.heard.pop_front() {
            Some(Heard::Tcp(c)) => {
                let defaults = Defaults {
                    sport: self.port,
                    dport: self.peer_port,
                    win: self.win,
                };
                if let Err(why) = matches(&c, &pattern, defaults) {
                    panic!(
                        "at {} ms: got {c:?}\n  expected {pattern:?}\n  {why}\n  then: {:?}",
                        self.now, self.heard
                    );
                }
                c
            }
            other => panic!("at {} ms: expected {pattern:?}, got {other:?}", self.now),
        }
    }

    /// Takes everything the peer heard so far (after polling).
    pub fn drain_heard(&mut self) -> Vec<Heard> {
        self.poll();
        self.heard.drain(..).collect()
    }

    /// The stack sent nothing (after polling).
    pub fn expect_nothing(&mut self) {
        self.poll();
        assert!(
            self.heard.is_empty(),
            "at {} ms: expected silence, got {:?}",
            self.now,
            self.heard
        );
    }

    /// The stack asks who has `ip`.
    pub fn expect_arp_request(&mut self, ip: Ipv4Address) {
        match self.next_heard() {
            Some(Heard::ArpRequest { target, .. }) => assert_eq!(target, ip),
            other => panic!("expected an ARP request for {ip}, got {other:?}"),
        }
    }

    /// The peer answers ARP: `PEER_IP` is at `PEER_MAC`.
    pub fn send_arp_reply(&mut self) {
        let f = arp_frame(
            PEER_MAC,
            DUT_MAC,
            &arp::Repr {
                operation: arp::Operation::Reply,
                source_hardware_addr: PEER_MAC,
                source_protocol_addr: PEER_IP,
                target_hardware_addr: DUT_MAC,
                target_protocol_addr: DUT_IP,
            },
        );
        self.send_frame(&f);
    }

    /// Opens a listening socket.
    pub fn listen(&mut self, port: u16) -> TcpHandle {
        self.stack.tcp_listen(port).unwrap()
    }

    /// Connects to the peer's `port` (the SYN goes out on the next poll).
    pub fn connect(&mut self, port: u16) -> TcpHandle {
        let t = self.instant();
        self.stack
            .tcp_connect(&mut self.app, t, Endpoint::new(PEER_IP, port))
            .unwrap()
    }

    /// Graceful close.
    pub fn close(&mut self, h: TcpHandle) {
        self.stack.tcp_close(h);
    }

    /// Abort (RST).
    pub fn abort(&mut self, h: TcpHandle) {
        let t = self.instant();
        self.stack.tcp_abort(&mut self.nic, t, h);
    }

    pub fn state(&self, h: TcpHandle) -> TcpState {
        self.stack.tcp_state(h)
    }

    /// Takes the events recorded for `h` so far.
    pub fn events(&mut self, h: TcpHandle) -> Vec<TcpEvent> {
        let (mine, rest): (Vec<_>, Vec<_>) = self.app.events.drain(..).partition(|(s, _)| *s == h);
        self.app.events = rest;
        mine.into_iter().map(|(_, e)| e).collect()
    }

    /// The socket's owner state.
    pub fn sock(&mut self, h: TcpHandle) -> &mut Sock {
        &mut self.app.sockets[h.index()]
    }

    /// What `h` received so far.
    pub fn received(&self, h: TcpHandle) -> &[u8] {
        &self.app.sockets[h.index()].received
    }

    /// Drops counted under `r` so far.
    pub fn dropped(&self, r: DropReason) -> u32 {
        self.stack.counters().dropped(r)
    }

    /// Takes the drop reasons reported so far.
    pub fn drops(&mut self) -> Vec<DropReason> {
        std::mem::take(&mut self.app.drops)
    }

    /// Passive open on `PORT` from `PEER_PORT` with peer ISN `irs`: SYN,
    /// SYN-ACK, ACK. Returns our ISN. Peer window `win`.
    pub fn accept(&mut self, h: TcpHandle, irs: u32, win: u16) -> u32 {
        assert_eq!(self.state(h), TcpState::Listen);
        self.send(seg!(SYN, seq = irs, win = win, mss = 1460));
        let sa = self.expect(seg!(
            SYN | ACK,
            seq = any,
            ack = irs.wrapping_add(1),
            mss = 1460
        ));
        let iss = sa.seq;
        self.send(seg!(
            ACK,
            seq = irs.wrapping_add(1),
            ack = iss.wrapping_add(1),
            win = win
        ));
        assert_eq!(self.state(h), TcpState::Established);
        assert_eq!(
            self.events(h),
            [TcpEvent::Connected {
                remote: Endpoint::new(PEER_IP, self.peer_port)
            }]
        );
        iss
    }
}
