//! The mail clients through a real stack on the simulated wire, against a
//! second emberstack stack running a scripted SMTP or POP3 server: the
//! whole session (connect, every step, close) under seeded loss,
//! duplication and reordering, with a FIFO (`LengthFirst`) NIC on the
//! client side and windows of 1, 4 and 2 split segments. The server
//! must receive exactly the bytes of a clean run; the mailbox must see
//! exactly the server's lines. Also: a silent server times out and the
//! socket is freed; after QUIT the client socket skips TIME-WAIT; with
//! every socket busy a session waits for one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use emberstack::config::{StaticIpv4, Table};
use emberstack::iface::PayloadSink;
use emberstack::mail::{MailError, MailFault, MailServer, MailStep};
use emberstack::nic::sim::{Faults, SimNic, SimWire};
use emberstack::nic::Nic;
use emberstack::pop3::{
    Disposition, Line, Mailbox, MessageInfo, Pop3Client, Pop3Settings, Pop3Summary,
};
use emberstack::smtp::{Attachment, Outgoing, Part, SmtpClient, SmtpSettings, Snapshot};
use emberstack::tcp::{
    SentSegment, TcpConfig, TcpEvent, TcpHandle, TcpReader, TcpSocket, TcpState,
};
use emberstack::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};
use emberstack::{App, Config, Duration, Instant, Stack};

const CLIENT_IP: [u8; 4] = [10, 9, 0, 1];
const SERVER_IP: [u8; 4] = [10, 9, 0, 2];

macro_rules! client_config {
    ($name:ident, $window:expr, $split:expr, $sockets:expr) => {
        emberstack::test_config! {
            struct $name;
            const DEVICE_NAME: &'static str = "CLIENT";
            const MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
            const STATIC_IPV4: Option<StaticIpv4> = Some(StaticIpv4 {
                cidr: Ipv4Cidr::new(Ipv4Address(CLIENT_IP), 24),
                gateway: None,
                dns: None,
            });
            const TCP: TcpConfig = TcpConfig {
                window: $window,
                split: $split,
                rto_min_ms: 20,
                time_wait_ms: 2000,
                ..TcpConfig::DEFAULT
            };
            type TcpSockets = [TcpSocket; $sockets];
            type TcpSegments = [SentSegment; $sockets * $window * (1 + $split as usize)];
            type Smtp = SmtpClient<$name>;
            type Pop3 = Pop3Client<$name>;
        }
        impl SmtpSettings for $name {
            const SERVER: Option<MailServer> = Some(MailServer::Addr(Ipv4Address(SERVER_IP)));
            const PORT: u16 = 25;
            const USE_MX: bool = false;
            const USER: Option<&'static str> = Some("alice");
            const PASSWORD: Option<&'static str> = Some("secret");
            const HELO: Option<&'static str> = Some("client.test");
            const TIMEOUT: Duration = Duration::from_secs(5);
            const SESSION_TIMEOUT: Duration = Duration::from_secs(60);
            const AUTH_BY_NAME: bool = false;
            type Snapshots = [Snapshot; $window * (1 + $split as usize) + 2];
        }
        impl Pop3Settings for $name {
            const SERVER: Option<MailServer> = Some(MailServer::Addr(Ipv4Address(SERVER_IP)));
            const PORT: u16 = 110;
            const USER: Option<&'static str> = Some("alice");
            const PASSWORD: Option<&'static str> = Some("secret");
            const TIMEOUT: Duration = Duration::from_secs(5);
            const SESSION_TIMEOUT: Duration = Duration::from_secs(60);
            const AUTH_BY_NAME: bool = false;
            const INTERVAL: Duration = Duration::ZERO;
            type Line = [u8; 100];
            type Header = [u8; 32];
        }
    };
}
client_config!(W1, 1, false, 2);
client_config!(W4, 4, false, 2);
client_config!(W2Split, 2, true, 2);
client_config!(OneSocket, 1, false, 1);

emberstack::test_config! {
    struct ServerCfg;
    const DEVICE_NAME: &'static str = "SERVER";
    const STATIC_IPV4: Option<StaticIpv4> = Some(StaticIpv4 {
        cidr: Ipv4Cidr::new(Ipv4Address(SERVER_IP), 24),
        gateway: None,
        dns: None,
    });
    const TCP: TcpConfig = TcpConfig {
        window: 4,
        rto_min_ms: 20,
        ..TcpConfig::DEFAULT
    };
    type TcpSockets = [TcpSocket; 2];
}

fn lcg(state: &mut u32) -> u32 {
    *state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
    *state
}

// ---- the client side --------------------------------------------------------

/// The message: a text with dot-leading lines and a long line, and a
/// binary attachment.
#[derive(Clone)]
struct Msg {
    text: Vec<u8>,
    attachment: Vec<u8>,
}

impl Msg {
    fn new() -> Msg {
        let mut text = b"Report\n.dot at the start\n..two\n.\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', 1500));
        text.extend_from_slice(b"\nend\r\n");
        let attachment = (0..30_000u32).map(|i| (i * 131 % 251) as u8).collect();
        Msg { text, attachment }
    }
}

impl Outgoing for Msg {
    fn from(&self) -> &str {
        "dev@test.lan"
    }
    fn to(&self, i: usize) -> Option<&str> {
        ["a@test.lan", "b@test.lan"].get(i).copied()
    }
    fn subject(&self) -> &str {
        "sim"
    }
    fn attachment(&self) -> Option<Attachment<'_>> {
        Some(Attachment {
            file_name: "a.bin",
            content_type: "application/octet-stream",
        })
    }
    fn read(&mut self, part: Part, at: u32, buf: &mut [u8]) -> usize {
        let src = match part {
            Part::Text => &self.text,
            Part::Attachment => &self.attachment,
        };
        let rest = src.get(at as usize..).unwrap_or(&[]);
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        n
    }
}

/// What the mailbox saw: one entry per call.
#[derive(Default)]
struct Inbox {
    calls: Vec<String>,
}

impl Mailbox for Inbox {
    fn header(&mut self, n: u32, line: Line<'_>) {
        self.calls.push(format!(
            "{n} H {} {}",
            line.more,
            String::from_utf8_lossy(line.bytes)
        ));
    }
    fn message(&mut self, info: &MessageInfo<'_>) {
        self.calls.push(format!(
            "{} START {} {}",
            info.number,
            String::from_utf8_lossy(info.address()),
            String::from_utf8_lossy(info.subject)
        ));
    }
    fn line(&mut self, n: u32, line: Line<'_>) {
        self.calls.push(format!(
            "{n} L {} {}",
            line.more,
            String::from_utf8_lossy(line.bytes)
        ));
    }
    fn end(&mut self, n: u32) -> Disposition {
        self.calls.push(format!("{n} END"));
        if n == 1 {
            Disposition::Delete
        } else {
            Disposition::Keep
        }
    }
    fn deleted(&mut self, n: u32) {
        self.calls.push(format!("{n} DELETED"));
    }
}

struct Client<C: Config + SmtpSettings + Pop3Settings> {
    smtp: SmtpClient<C>,
    pop3: Pop3Client<C>,
    msg: Msg,
    inbox: Inbox,
    rng: u32,
}

impl<C: Config + SmtpSettings + Pop3Settings> App for Client<C> {
    fn random_u32(&mut self) -> u32 {
        lcg(&mut self.rng)
    }
    fn tcp_event(&mut self, h: TcpHandle, e: TcpEvent) {
        self.smtp.tcp_event(h, e);
        self.pop3.tcp_event(h, e);
    }
    fn tcp_received<N: Nic>(&mut self, h: TcpHandle, d: &mut TcpReader<'_, N>) -> usize {
        if self.smtp.owns(h) {
            return self.smtp.tcp_received(h, d, &self.msg);
        }
        self.pop3.tcp_received(h, d, &mut self.inbox)
    }
    fn tcp_produce(&mut self, h: TcpHandle, offset: u32, max: usize, sink: &mut dyn PayloadSink) {
        if self.smtp.owns(h) {
            self.smtp.tcp_produce(h, offset, max, sink, &mut self.msg);
        } else {
            self.pop3.tcp_produce(h, offset, max, sink, &self.inbox);
        }
    }
    fn tcp_wants_close(&mut self, h: TcpHandle) -> bool {
        self.smtp.tcp_wants_close(h) || self.pop3.tcp_wants_close(h)
    }
}

// ---- the scripted servers ---------------------------------------------------

/// A minimal SMTP and POP3 server: replies appended to `out` (the stream
/// is produced by offset from it), one connection at a time.
#[derive(Default)]
struct Server {
    rng: u32,
    /// Never send the greeting.
    silent: bool,
    out: Vec<u8>,
    line: Vec<u8>,
    pop3: bool,
    in_data: bool,
    data: Vec<u8>,
    auth: u8,
    quit: bool,
    /// Messages received (SMTP) — DATA content, still dot-stuffed.
    stored: Vec<Vec<u8>>,
    /// Messages deleted (POP3).
    deleted: Vec<u32>,
}

/// The POP3 maildrop: a message with dot lines and a folded subject, and
/// one with a 3000-character line.
fn maildrop() -> Vec<Vec<u8>> {
    let mut long = b"From: Bob <bob@test.lan>\r\nSubject: long\r\n\r\n".to_vec();
    long.extend((0..3000).map(|i| b'a' + (i % 26) as u8));
    long.extend_from_slice(b"\r\nlast\r\n");
    vec![
        b"From: a@test.lan\r\nSubject: dots\r\n and fold\r\n\r\n.one\r\n..two\r\nthree\r\n"
            .to_vec(),
        long,
    ]
}

impl Server {
    fn reply(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    fn smtp_line(&mut self, line: &[u8]) {
        if self.in_data {
            if line == b".\r\n" {
                self.in_data = false;
                self.stored.push(std::mem::take(&mut self.data));
                self.reply("250 stored\r\n");
            } else {
                self.data.extend_from_slice(line);
            }
            return;
        }
        if self.auth == 1 {
            self.auth = 2;
            return self.reply("334 UGFzc3dvcmQ6\r\n");
        }
        if self.auth == 2 {
            self.auth = 0;
            return self.reply("235 ok\r\n");
        }
        let verb = line
            .split(|&b| b == b' ' || b == b'\r')
            .next()
            .unwrap_or(b"");
        match verb {
            b"EHLO" => self.reply("250-sim\r\n250-8BITMIME\r\n250 AUTH LOGIN\r\n"),
            b"AUTH" => {
                self.auth = 1;
                self.reply("334 VXNlcm5hbWU6\r\n")
            }
            b"MAIL" | b"RCPT" => self.reply("250 ok\r\n"),
            b"DATA" => {
                self.in_data = true;
                self.reply("354 go\r\n")
            }
            b"QUIT" => {
                self.quit = true;
                self.reply("221 bye\r\n")
            }
            _ => self.reply("502 what\r\n"),
        }
    }

    fn pop3_line(&mut self, line: &[u8]) {
        let text = String::from_utf8_lossy(line).trim_end().to_owned();
        let mut words = text.split(' ');
        match words.next().unwrap_or("") {
            "USER" | "PASS" => self.reply("+OK\r\n"),
            "STAT" => self.reply("+OK 2 5000\r\n"),
            "RETR" => {
                let n: usize = words.next().unwrap().parse().unwrap();
                let m = &maildrop()[n - 1];
                self.reply("+OK\r\n");
                let text = String::from_utf8(m.clone()).unwrap();
                for l in text.strip_suffix("\r\n").unwrap().split("\r\n") {
                    if l.starts_with('.') {
                        self.out.push(b'.');
                    }
                    self.out.extend_from_slice(l.as_bytes());
                    self.out.extend_from_slice(b"\r\n");
                }
                self.reply(".\r\n");
            }
            "DELE" => {
                self.deleted.push(words.next().unwrap().parse().unwrap());
                self.reply("+OK\r\n")
            }
            "QUIT" => {
                self.quit = true;
                self.reply("+OK bye\r\n")
            }
            _ => self.reply("-ERR what\r\n"),
        }
    }
}

impl App for Server {
    fn random_u32(&mut self) -> u32 {
        lcg(&mut self.rng)
    }
    fn tcp_event(&mut self, _: TcpHandle, e: TcpEvent) {
        if e == TcpEvent::PeerClosed {
            self.quit = true; // close our side too
        }
        if let TcpEvent::Connected { .. } = e {
            self.out.clear();
            self.line.clear();
            self.in_data = false;
            self.auth = 0;
            self.quit = false;
            if !self.silent {
                self.reply(if self.pop3 {
                    "+OK sim\r\n"
                } else {
                    "220 sim\r\n"
                });
            }
        }
    }
    fn tcp_received<N: Nic>(&mut self, _: TcpHandle, d: &mut TcpReader<'_, N>) -> usize {
        let mut buf = vec![0u8; d.len()];
        let n = d.read(0, &mut buf);
        for &b in &buf[..n] {
            self.line.push(b);
            if b == b'\n' {
                let line = std::mem::take(&mut self.line);
                if self.pop3 {
                    self.pop3_line(&line);
                } else {
                    self.smtp_line(&line);
                }
            }
        }
        n
    }
    fn tcp_produce(&mut self, _: TcpHandle, offset: u32, max: usize, sink: &mut dyn PayloadSink) {
        let rest = self.out.get(offset as usize..).unwrap_or(&[]);
        sink.write(&rest[..rest.len().min(max)]);
    }
    fn tcp_wants_close(&mut self, _: TcpHandle) -> bool {
        self.quit
    }
}

// ---- the harness ---------------------------------------------------------------

struct Sim<C: Config + SmtpSettings + Pop3Settings> {
    wire: SimWire,
    client: Stack<C>,
    client_nic: SimNic<true>,
    app: Client<C>,
    server: Stack<ServerCfg>,
    server_nic: SimNic,
    srv: Server,
    now: u64,
}

impl<C: Config + SmtpSettings + Pop3Settings> Sim<C> {
    fn new(seed: u64, faults: Faults, pop3: bool) -> Sim<C> {
        let wire = SimWire::new(seed, faults);
        let mut server = Stack::new();
        server.tcp_listen(if pop3 { 110 } else { 25 }).unwrap();
        Sim {
            client_nic: wire.endpoint_length_first(),
            server_nic: wire.endpoint(),
            wire,
            client: Stack::new(),
            app: Client {
                smtp: SmtpClient::new(),
                pop3: Pop3Client::new(),
                msg: Msg::new(),
                inbox: Inbox::default(),
                rng: seed as u32,
            },
            server,
            srv: Server {
                pop3,
                rng: 7,
                ..Server::default()
            },
            now: 0,
        }
    }

    /// Runs until the SMTP client reports (at most `limit_ms`).
    fn run_smtp(&mut self, limit_ms: u64) -> Result<(), MailError> {
        for _ in 0..limit_ms {
            self.step();
            let t = Instant::from_millis(self.now);
            let Client { smtp, msg, rng, .. } = &mut self.app;
            if let Some(r) = smtp.poll(&mut self.client, &mut self.client_nic, t, msg, &mut || {
                lcg(rng)
            }) {
                return r;
            }
        }
        panic!(
            "no SMTP outcome in {limit_ms} ms: {}",
            self.app.smtp.state()
        );
    }

    fn run_pop3(&mut self, limit_ms: u64) -> Result<Pop3Summary, MailError> {
        for _ in 0..limit_ms {
            self.step();
            let t = Instant::from_millis(self.now);
            let Client {
                pop3, inbox, rng, ..
            } = &mut self.app;
            if let Some(r) = pop3.poll(
                &mut self.client,
                &mut self.client_nic,
                t,
                inbox,
                &mut || lcg(rng),
            ) {
                return r;
            }
        }
        panic!(
            "no POP3 outcome in {limit_ms} ms: {}",
            self.app.pop3.state()
        );
    }

    fn step(&mut self) {
        self.now += 1;
        self.wire.set_now(self.now);
        let t = Instant::from_millis(self.now);
        while self.client.poll(t, &mut self.client_nic, &mut self.app)
            | self.server.poll(t, &mut self.server_nic, &mut self.srv)
        {}
    }

    /// No client socket is in use (none left in TIME-WAIT either).
    fn client_sockets_free(&self) -> bool {
        (0..C::TcpSockets::LEN as u8)
            .all(|i| self.client.tcp_state(TcpHandle::from_index(i)) == TcpState::Closed)
    }
}

fn send<C: Config + SmtpSettings + Pop3Settings>(sim: &mut Sim<C>) -> Result<(), MailError> {
    let msg = sim.app.msg.clone();
    sim.app
        .smtp
        .send(&msg, None, 0x0123_4567_89ab_cdef)
        .unwrap();
    sim.run_smtp(600_000)
}

/// The DATA content of a clean run (the reference).
fn reference() -> Vec<u8> {
    let mut sim = Sim::<W1>::new(1, Faults::none(), false);
    send(&mut sim).unwrap();
    sim.srv.stored.pop().unwrap()
}

fn lossy() -> Faults {
    Faults {
        loss: 0.1,
        duplicate: 0.05,
        reorder: 0.05,
        delay_ms: (0, 3),
        ..Faults::none()
    }
}

fn smtp_under_faults<C: Config + SmtpSettings + Pop3Settings>(
    seeds: std::ops::Range<u64>,
    faults: Faults,
) {
    let want = reference();
    for seed in seeds {
        let mut sim = Sim::<C>::new(seed, faults, false);
        assert_eq!(send(&mut sim), Ok(()), "seed {seed}");
        let got = sim.srv.stored.pop().unwrap();
        assert!(got == want, "seed {seed}: the message differs");
        assert!(sim.app.smtp.is_idle());
        assert!(
            sim.app.smtp.stats().rewinds > 0,
            "seed {seed}: no loss hit the message"
        );
        // The server closed first after 221: nothing in TIME-WAIT here.
        assert!(sim.client_sockets_free(), "seed {seed}");
        assert_eq!(sim.client_nic.contract_violations(), 0);
    }
}

#[test]
fn smtp_window_1_under_loss_duplication_and_reordering() {
    smtp_under_faults::<W1>(10..14, lossy());
}

#[test]
fn smtp_window_4_under_loss_duplication_and_reordering() {
    smtp_under_faults::<W4>(20..24, lossy());
}

/// Without the delay jitter: with it, split segments and 10 % loss make
/// TCP's retransmission timer climb to `rto_max` (60 s) and the transfer
/// crawl (seed 30: 29 KB in 600 s) — a TCP matter, reported; the mail
/// client's bytes stay right either way.
#[test]
fn smtp_window_2_split_under_loss_and_duplication() {
    let faults = Faults {
        loss: 0.1,
        duplicate: 0.05,
        ..Faults::none()
    };
    smtp_under_faults::<W2Split>(30..34, faults);
}

#[test]
fn the_clean_message_is_what_the_module_docs_say() {
    let data = reference();
    let text = String::from_utf8_lossy(&data);
    assert!(text.starts_with(
        "From: dev@test.lan\r\nTo: a@test.lan,\r\n b@test.lan\r\nSubject: sim\r\n\
         Message-ID: <0123456789abcdef.ember@test.lan>\r\nMIME-Version: 1.0\r\n"
    ));
    assert!(text.contains("\r\n..dot at the start\r\n...two\r\n..\r\n"));
    assert!(text.ends_with("--=_ember_0123456789abcdef--\r\n"));
}

#[test]
fn pop3_under_loss_sees_exactly_the_servers_lines() {
    let mut clean = Sim::<W1>::new(1, Faults::none(), true);
    clean.app.pop3.receive(&clean.app.inbox).unwrap();
    assert_eq!(
        clean.run_pop3(60_000),
        Ok(Pop3Summary {
            messages: 2,
            deleted: 1
        })
    );
    let want = clean.app.inbox.calls.clone();
    assert_eq!(want[0], "1 H false From: a@test.lan");
    assert_eq!(want[1], "1 H false Subject: dots");
    assert_eq!(want[3], "1 START a@test.lan dots and fold");
    assert_eq!(want[4], "1 L false .one");
    assert_eq!(want[5], "1 L false ..two");
    assert!(want.contains(&"1 DELETED".to_owned()));
    // 3000 characters in 100-byte pieces.
    let pieces = want.iter().filter(|c| c.starts_with("2 L true ")).count();
    assert_eq!(pieces, 29);
    assert_eq!(clean.srv.deleted, [1]);
    assert!(clean.client_sockets_free());
    for seed in 40..44 {
        let mut sim = Sim::<W4>::new(seed, lossy(), true);
        sim.app.pop3.receive(&sim.app.inbox).unwrap();
        assert!(sim.run_pop3(600_000).is_ok(), "seed {seed}");
        assert_eq!(sim.app.inbox.calls, want, "seed {seed}");
        assert!(sim.client_sockets_free(), "seed {seed}");
    }
}

#[test]
fn a_silent_server_times_out_the_socket_is_freed_and_the_next_send_works() {
    let mut sim = Sim::<W1>::new(2, Faults::none(), false);
    sim.srv.silent = true;
    let start = sim.now;
    assert_eq!(
        send(&mut sim),
        Err(MailError::new(MailFault::Timeout, MailStep::Greeting))
    );
    let took = sim.now - start;
    assert!(
        (5000..5100).contains(&took),
        "the 5 s step timeout: {took} ms"
    );
    assert!(sim.client_sockets_free(), "aborted, not leaked");
    sim.srv.silent = false;
    assert_eq!(send(&mut sim), Ok(()));
    assert_eq!(sim.srv.stored.len(), 1);

    let mut sim = Sim::<W1>::new(3, Faults::none(), true);
    sim.srv.silent = true;
    sim.app.pop3.receive(&sim.app.inbox).unwrap();
    assert_eq!(
        sim.run_pop3(60_000),
        Err(MailError::new(MailFault::Timeout, MailStep::Greeting))
    );
    assert!(sim.client_sockets_free());
}

#[test]
fn with_every_socket_busy_a_send_waits_for_one() {
    // One socket, held by a connection in TIME-WAIT (we closed first): the
    // send starts once it is free (2 s), within its 5 s timeout.
    let mut sim = Sim::<OneSocket>::new(4, Faults::none(), false);
    let h = sim
        .client
        .tcp_connect(
            &mut sim.app,
            Instant::from_millis(0),
            emberstack::udp::Endpoint::new(Ipv4Address(SERVER_IP), 25),
        )
        .unwrap();
    sim.client.tcp_close(h);
    for _ in 0..200 {
        sim.step();
    }
    assert_eq!(sim.client.tcp_state(h), TcpState::TimeWait);
    let start = sim.now;
    assert_eq!(send(&mut sim), Ok(()));
    assert!(sim.now - start >= 1800, "waited for TIME-WAIT to end");
}

#[test]
fn pop3_checks_by_itself_every_interval() {
    let mut sim = Sim::<W1>::new(5, Faults::none(), true);
    sim.app.pop3.set_interval(Duration::from_secs(10));
    // No receive(): the first check comes one interval after the start,
    // the next one an interval after the first ended.
    assert!(sim.run_pop3(11_000).is_ok());
    let first = sim.now;
    assert!((10_000..10_500).contains(&first), "{first}");
    assert!(sim.run_pop3(11_000).is_ok());
    let second = sim.now - first;
    assert!((10_000..10_500).contains(&second), "{second}");
    assert!(
        sim.app.pop3.poll_at().is_some(),
        "a timer, so the device can sleep"
    );
    assert_eq!(sim.app.pop3.stats().checks, 2);
    // Interval zero: no timer (the device may sleep) and no check.
    sim.app.pop3.set_interval(Duration::ZERO);
    for _ in 0..15_000 {
        sim.step();
        let t = Instant::from_millis(sim.now);
        let Client {
            pop3, inbox, rng, ..
        } = &mut sim.app;
        let r = pop3.poll(&mut sim.client, &mut sim.client_nic, t, inbox, &mut || {
            lcg(rng)
        });
        assert!(r.is_none());
        assert!(pop3.poll_at().is_none());
    }
    assert_eq!(sim.app.pop3.stats().checks, 2);
}
