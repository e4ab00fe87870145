//! The SMTP and POP3 clients against a server that answers with the
//! fuzzer's replies: a second emberstack stack on the wire plays the
//! server (so TCP is real: sequence numbers, windows, retransmission),
//! and releases the next fuzzed reply each time the client's command line
//! arrives (the greeting on connect). The first byte picks SMTP or POP3.
//! Time runs until the client reports its outcome. Nothing may panic.
#![no_main]

use emberstack::config::StaticIpv4;
use emberstack::iface::PayloadSink;
use emberstack::mail::MailServer;
use emberstack::nic::sim::{Faults, SimNic, SimWire};
use emberstack::nic::Nic;
use emberstack::pop3::{Disposition, Line, Mailbox, MessageInfo, Pop3Client, Pop3Settings};
use emberstack::smtp::{Attachment, Outgoing, Part, SmtpClient, SmtpSettings, Snapshot};
use emberstack::tcp::{SentSegment, TcpConfig, TcpEvent, TcpHandle, TcpReader, TcpSocket};
use emberstack::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};
use emberstack::{App, Duration, Instant, Stack};
use emberstack_fuzz::{lcg, Bytes};
use libfuzzer_sys::fuzz_target;

const CLIENT_IP: [u8; 4] = [10, 9, 0, 2];
const SERVER_IP: [u8; 4] = [10, 9, 0, 1];

emberstack::test_config! {
    struct Cli;
    const DEVICE_NAME: &'static str = "CLIENT";
    const STATIC_IPV4: Option<StaticIpv4> = Some(StaticIpv4 {
        cidr: Ipv4Cidr::new(Ipv4Address(CLIENT_IP), 24),
        gateway: None,
        dns: None,
    });
    const ARP_LIFETIME: Duration = Duration::from_secs(600);
    const TCP: TcpConfig = TcpConfig {
        window: 2,
        rto_min_ms: 20,
        time_wait_ms: 100,
        ..TcpConfig::DEFAULT
    };
    type TcpSockets = [TcpSocket; 2];
    type TcpSegments = [SentSegment; 4];
    type Smtp = SmtpClient<Cli>;
    type Pop3 = Pop3Client<Cli>;
}
impl SmtpSettings for Cli {
    const SERVER: Option<MailServer> = Some(MailServer::Addr(Ipv4Address(SERVER_IP)));
    const PORT: u16 = 25;
    const USE_MX: bool = false;
    const USER: Option<&'static str> = Some("alice");
    const PASSWORD: Option<&'static str> = Some("secret");
    const HELO: Option<&'static str> = Some("client.test");
    const TIMEOUT: Duration = Duration::from_secs(2);
    const SESSION_TIMEOUT: Duration = Duration::from_secs(20);
    const AUTH_BY_NAME: bool = false;
    type Snapshots = [Snapshot; 4];
}
impl Pop3Settings for Cli {
    const SERVER: Option<MailServer> = Some(MailServer::Addr(Ipv4Address(SERVER_IP)));
    const PORT: u16 = 110;
    const USER: Option<&'static str> = Some("alice");
    const PASSWORD: Option<&'static str> = Some("secret");
    const TIMEOUT: Duration = Duration::from_secs(2);
    const SESSION_TIMEOUT: Duration = Duration::from_secs(20);
    const AUTH_BY_NAME: bool = false;
    const INTERVAL: Duration = Duration::ZERO;
    type Line = [u8; 40];
    type Header = [u8; 16];
}

emberstack::test_config! {
    struct Srv;
    const DEVICE_NAME: &'static str = "SERVER";
    const MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
    const STATIC_IPV4: Option<StaticIpv4> = Some(StaticIpv4 {
        cidr: Ipv4Cidr::new(Ipv4Address(SERVER_IP), 24),
        gateway: None,
        dns: None,
    });
    const ARP_LIFETIME: Duration = Duration::from_secs(600);
    const TCP: TcpConfig = TcpConfig {
        window: 4,
        rto_min_ms: 20,
        ..TcpConfig::DEFAULT
    };
    type TcpSockets = [TcpSocket; 1];
    type TcpSegments = [SentSegment; 4];
}

struct Msg;
impl Outgoing for Msg {
    fn from(&self) -> &str {
        "dev@test.lan"
    }
    fn to(&self, i: usize) -> Option<&str> {
        ["a@test.lan", "b@test.lan"].get(i).copied()
    }
    fn subject(&self) -> &str {
        "fuzz"
    }
    fn attachment(&self) -> Option<Attachment<'_>> {
        Some(Attachment {
            file_name: "a.bin",
            content_type: "application/octet-stream",
        })
    }
    fn read(&mut self, part: Part, at: u32, buf: &mut [u8]) -> usize {
        let len = match part {
            Part::Text => 300u32,
            Part::Attachment => 200,
        };
        let n = (len.saturating_sub(at) as usize).min(buf.len());
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = b"line.\r\n"[(at as usize + i) % 7];
        }
        n
    }
}

/// Keeps every message except the ones whose subject starts with `d`.
struct Inbox;
impl Mailbox for Inbox {
    fn header(&mut self, _: u32, _: Line<'_>) {}
    fn message(&mut self, info: &MessageInfo<'_>) {
        let _ = (info.address(), info.subject);
    }
    fn line(&mut self, _: u32, line: Line<'_>) {
        assert!(line.bytes.len() <= 40, "a piece within [pop3] line_limit");
    }
    fn end(&mut self, n: u32) -> Disposition {
        if n.is_multiple_of(2) {
            Disposition::Delete
        } else {
            Disposition::Keep
        }
    }
    fn deleted(&mut self, _: u32) {}
}

struct Client {
    smtp: SmtpClient<Cli>,
    pop3: Pop3Client<Cli>,
    rng: u32,
}

impl App for Client {
    fn random_u32(&mut self) -> u32 {
        lcg(&mut self.rng)
    }
    fn tcp_event(&mut self, h: TcpHandle, e: TcpEvent) {
        self.smtp.tcp_event(h, e);
        self.pop3.tcp_event(h, e);
    }
    fn tcp_received<N: Nic>(&mut self, h: TcpHandle, d: &mut TcpReader<'_, N>) -> usize {
        if self.smtp.owns(h) {
            return self.smtp.tcp_received(h, d, &Msg);
        }
        self.pop3.tcp_received(h, d, &mut Inbox)
    }
    fn tcp_produce(&mut self, h: TcpHandle, offset: u32, max: usize, sink: &mut dyn PayloadSink) {
        if self.smtp.owns(h) {
            self.smtp.tcp_produce(h, offset, max, sink, &mut Msg);
        } else {
            self.pop3.tcp_produce(h, offset, max, sink, &Inbox);
        }
    }
    fn tcp_wants_close(&mut self, h: TcpHandle) -> bool {
        self.smtp.tcp_wants_close(h) || self.pop3.tcp_wants_close(h)
    }
}

/// The server: its stream is the fuzzer's replies, released one per
/// command line received.
struct Server<'a> {
    replies: Bytes<'a>,
    out: Vec<u8>,
    closing: bool,
    rng: u32,
}

impl Server<'_> {
    fn release(&mut self) {
        if self.replies.is_empty() {
            self.closing = true;
        }
        let r = self.replies.chunk(255);
        self.out.extend_from_slice(r);
    }
}

impl App for Server<'_> {
    fn random_u32(&mut self) -> u32 {
        lcg(&mut self.rng)
    }
    fn tcp_event(&mut self, _: TcpHandle, e: TcpEvent) {
        match e {
            TcpEvent::Connected { .. } => {
                self.out.clear();
                self.release();
            }
            TcpEvent::PeerClosed => self.closing = true,
            _ => {}
        }
    }
    fn tcp_received<N: Nic>(&mut self, _: TcpHandle, d: &mut TcpReader<'_, N>) -> usize {
        let mut buf = vec![0u8; d.len()];
        let n = d.read(0, &mut buf);
        for _ in buf[..n].iter().filter(|&&b| b == b'\n') {
            self.release();
        }
        n
    }
    fn tcp_produce(&mut self, _: TcpHandle, offset: u32, max: usize, sink: &mut dyn PayloadSink) {
        let rest = self.out.get(offset as usize..).unwrap_or(&[]);
        sink.write(&rest[..rest.len().min(max)]);
    }
    fn tcp_wants_close(&mut self, _: TcpHandle) -> bool {
        self.closing
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, replies)) = data.split_first() else {
        return;
    };
    let pop3 = which & 1 == 1;
    let wire = SimWire::new(1, Faults::none());
    let mut client_nic: SimNic<true> = wire.endpoint_length_first();
    let mut server_nic: SimNic = wire.endpoint();
    let mut client: Stack<Cli> = Stack::new();
    let mut server: Stack<Srv> = Stack::new();
    if server.tcp_listen(if pop3 { 110 } else { 25 }).is_err() {
        return;
    }
    let mut app = Client {
        smtp: SmtpClient::new(),
        pop3: Pop3Client::new(),
        rng: 5,
    };
    let mut srv = Server {
        replies: Bytes(replies),
        out: Vec::new(),
        closing: false,
        rng: 9,
    };
    let started = if pop3 {
        app.pop3.receive(&Inbox).is_ok()
    } else {
        app.smtp.send(&Msg, Some(1_800_000_000), 42).is_ok()
    };
    if !started {
        return;
    }
    // Every step has a 2 s timeout: 20 s of virtual time ends any
    // session. Idle time is skipped to the next deadline.
    let mut now = 0u64;
    for _ in 0..20_000 {
        now += 1;
        if now > 20_000 {
            break;
        }
        wire.set_now(now);
        let t = Instant::from_millis(now);
        for _ in 0..32 {
            if !(client.poll(t, &mut client_nic, &mut app)
                | server.poll(t, &mut server_nic, &mut srv))
            {
                break;
            }
        }
        let Client {
            smtp, pop3: p, rng, ..
        } = &mut app;
        let done = if pop3 {
            p.poll(&mut client, &mut client_nic, t, &Inbox, &mut || lcg(rng))
                .is_some()
        } else {
            smtp.poll(&mut client, &mut client_nic, t, &Msg, &mut || lcg(rng))
                .is_some()
        };
        if done {
            break;
        }
        let t = Instant::from_millis(now);
        let next = [
            client.poll_at(t),
            server.poll_at(t),
            app.smtp.poll_at(),
            app.pop3.poll_at(),
            wire.next_due().map(Instant::from_millis),
        ]
        .into_iter()
        .flatten()
        // `Instant` wraps (no total order): the earliest by `Instant::min`.
        .reduce(Instant::min)
        .map_or(now + 100, |n| u64::from(n.millis()));
        now = now.max(next.saturating_sub(1));
    }
});
