//! The reference device's application: what the device does with the stack,
//! independent of where it runs. The host example (`examples/device.rs`,
//! Linux TAP) and the Cortex-M firmware both drive this same code; only the
//! NIC, the clock, the entropy seed and the log sink differ.
#![no_std]
#![deny(missing_docs)]

/// The code generated from `stack.toml`: the stack configuration and the
/// web site (`web`, from `web/`).
pub mod generated {
    emberstack::include_stack!();
}
pub use generated::{Device, Stack, RAM_BYTES};

/// The variants in `examples/configs/` (see `build.rs`).
pub mod variants {
    include!(concat!(env!("OUT_DIR"), "/emberstack_variants.rs"));
}

pub mod mail;
pub mod names;
pub mod tcp_services;
pub mod text;
pub mod web;

use chacha20::rand_core::{Rng as _, SeedableRng as _};
use chacha20::ChaCha12Rng;
use core::fmt;
use emberstack::compose::{Pop3App, Pop3Part, SmtpApp, SmtpPart, WebApp};
use emberstack::config::StaticIpv4;
use emberstack::config::Table;
use emberstack::dhcp::DhcpEvent;
use emberstack::dns::QueryType;
use emberstack::iface::{DropReason, Event};
use emberstack::iface::{PayloadSink, SendError};
use emberstack::mail::MailError;
use emberstack::nic::Nic;
use emberstack::pop3::Pop3Summary;
use emberstack::smtp::SmtpStats;
use emberstack::tcp::{TcpEvent, TcpHandle, TcpReader, TcpSocket};
use emberstack::udp::Endpoint;
use emberstack::udp::{UdpDatagram, UdpHandle};
use emberstack::wire::{EthernetAddress, Ipv4Address};
use emberstack::{App, Config, Instant};
use generated::web as site;
use mail::{Mail, MailOptions, StatusMail};
use names::{LeaseClient, Lookup, Lookups, TimeSync, MAX_LOOKUPS};
use tcp_services::{Service, ECHO_RING};
use web::{Web, WebState};

/// The UDP and TCP echo service port (RFC 862).
pub const ECHO_PORT: u16 = 7;
/// The IP protocol the raw socket echoes: 253, for experimentation (RFC
/// 3692).
pub const RAW_ECHO_PROTOCOL: u8 = 253;
/// The TCP discard port (RFC 863).
pub const DISCARD_PORT: u16 = 9;
/// The TCP chargen port (RFC 864).
pub const CHARGEN_PORT: u16 = 19;
/// Most TCP sockets a configuration of the device may have (the app keeps
/// per-socket service state in arrays of this size).
pub const MAX_TCP: usize = 16;

/// TCP sockets in configuration `C`, capped at [`MAX_TCP`].
pub fn tcp_sockets<C: Config>() -> usize {
    <C::TcpSockets as Table<TcpSocket>>::LEN.min(MAX_TCP)
}

/// Sockets the web server gets in configuration `C`: `[http] sockets`
/// when discard, chargen, a free one and at least one echo socket still
/// fit, else none (the small test variants).
pub fn http_sockets<C: Config>() -> usize {
    let want = site::HttpServer::CONNECTIONS;
    if tcp_sockets::<C>() >= 4 + want {
        want
    } else {
        0
    }
}

/// TCP sockets the mail clients of configuration `C` may use at once.
pub fn mail_sockets<C: Config>() -> usize
where
    C::Smtp: SmtpPart,
    C::Pop3: Pop3Part,
{
    usize::from(<C::Smtp as SmtpPart>::ENABLED) + usize::from(<C::Pop3 as Pop3Part>::ENABLED)
}

/// Where log lines go: stdout on the host, semihosting on the board.
///
/// Lines carry text from the network (request paths, file names, mail
/// subjects, server replies): a sink writes them through [`OneLine`], so
/// none can end a line early and forge the next one.
pub trait Log {
    /// False for a sink that drops every line (the quiet firmware): what
    /// is computed only to be logged (the mail clients' progress) is
    /// then not computed at all.
    fn keeps_lines(&self) -> bool {
        true
    }
    /// Writes one line (without a newline).
    fn line(&mut self, args: fmt::Arguments<'_>);
}

/// A writer that keeps one log line one line: control characters (CR, LF,
/// ESC, NUL, C1 controls...), the Unicode line and paragraph separators
/// and the backslash are written as `\xNN` / `\u{NNNN}` / `\\`, so a
/// decoded `%0A` in a path shows as `\x0a` instead of starting a line.
pub struct OneLine<W: fmt::Write>(pub W);

impl<W: fmt::Write> fmt::Write for OneLine<W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // `get` rather than slicing: no panic path (and no panic message
        // formatting) in the firmware.
        let mut plain = 0;
        for (at, c) in s.char_indices() {
            if needs_escape(c) {
                self.0.write_str(s.get(plain..at).unwrap_or(""))?;
                escape(&mut self.0, c)?;
                plain = at + c.len_utf8();
            }
        }
        self.0.write_str(s.get(plain..).unwrap_or(""))
    }
}

fn needs_escape(c: char) -> bool {
    c.is_control() || c == '\\' || c == '\u{2028}' || c == '\u{2029}'
}

fn escape<W: fmt::Write>(out: &mut W, c: char) -> fmt::Result {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    if c == '\\' {
        return out.write_str("\\\\");
    }
    let n = u32::from(c);
    if n < 0x100 {
        let hi = char::from(HEX[(n >> 4) as usize]);
        let lo = char::from(HEX[(n & 15) as usize]);
        out.write_str("\\x")?;
        out.write_char(hi)?;
        return out.write_char(lo);
    }
    out.write_str("\\u{")?;
    for shift in [12u32, 8, 4, 0] {
        out.write_char(char::from(HEX[((n >> shift) & 15) as usize]))?;
    }
    out.write_str("}")
}

/// Start-up choices that may override `stack.toml` (command line, QEMU
/// `-append`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Another MAC address.
    pub mac: Option<EthernetAddress>,
    /// A static address instead of the configured one (DHCP is then
    /// switched off).
    pub ipv4: Option<StaticIpv4>,
    /// Switch DHCP off and use the static settings from `stack.toml`.
    pub no_dhcp: bool,
    /// Ask DHCP for this address at start (INIT-REBOOT): the one the
    /// device had before (`--dhcp-reboot`; a product keeps it in flash).
    pub dhcp_reboot: Option<emberstack::wire::Ipv4Address>,
    /// Seed of the application's CSPRNG (ChaCha12): every random number
    /// the stack and the application use (ISN key, DNS ids and ports, DHCP
    /// xid, SNTP nonce, Message-IDs) is drawn from it. From the OS on the
    /// host, from the board's best entropy on the firmware;
    /// [`Options::seed_from_u64`] for reproducible runs.
    pub seed: [u8; 32],
    /// Send this many bytes of the `i mod 251` pattern to this endpoint
    /// once, then close (`--tcp-send HOST:PORT --bytes N`).
    pub tcp_send: Option<(Endpoint, u32)>,
    /// Mail servers, credentials and start-up actions.
    pub mail: MailOptions,
}

impl Options {
    /// A seed expanded from a number (`--seed N`): the same ports, ids and
    /// Message-IDs every run. For tests only: a number is guessable.
    pub fn seed_from_u64(n: u64) -> [u8; 32] {
        ChaCha12Rng::seed_from_u64(n).get_seed()
    }
}

/// The application half: its own services, the web UI's state, the mail
/// it sends and reads, and logging. The generated composition
/// ([`generated::Services`]) holds it beside the web server and the mail
/// clients and calls it for everything they do not own.
pub struct DeviceApp<L: Log> {
    log: L,
    rng: ChaCha12Rng,
    /// The status email and the inbox (the clients are the composition's).
    mail: Mail,
    udp_echo: Option<UdpHandle>,
    /// The raw socket for IP protocol 253 (RFC 3692, experimental),
    /// echoed back (`[raw] sockets`).
    raw_echo: Option<emberstack::raw::RawHandle>,
    tcp: [Service; MAX_TCP],
    /// Per socket: the listening service to return to after a connection.
    listening: [Service; MAX_TCP],
    rings: [[u8; ECHO_RING]; MAX_TCP],
    tcp_send: Option<(Endpoint, u32)>,
    /// Sockets whose peer closed: we close too once everything is echoed
    /// (bit i = socket i).
    peer_closed: u64,
    /// The NTP server of the latest DHCP lease, not yet handed to SNTP.
    dhcp_ntp: Option<Ipv4Address>,
    /// SNTP was pointed at a server explicitly (`--sntp-server`): DHCP's
    /// NTP option does not override it.
    sntp_chosen: bool,
    /// The web UI's state.
    pub web: WebState,
    /// Static settings from the web form, set once DHCP has stopped.
    pending_ipv4: Option<Option<StaticIpv4>>,
    /// Since when a settings change waits for responses to finish.
    apply_since: Option<Instant>,
    /// Bounds the log lines frames from the LAN can cause.
    flood_quota: LogQuota,
}

/// At most [`LogQuota::PER_SECOND`] lines a second for one kind of event;
/// the rest are counted and reported in one line when lines are allowed
/// again.
#[derive(Clone, Copy, Debug, Default)]
struct LogQuota {
    window: Instant,
    used: u8,
    suppressed: u32,
}

impl LogQuota {
    const PER_SECOND: u8 = 10;

    /// True when one more line may be written at `now`.
    fn allow<L: Log>(&mut self, now: Instant, log: &mut L) -> bool {
        if now.since(self.window).millis() >= 1000 {
            self.window = now;
            self.used = 0;
            if self.suppressed > 0 {
                log.line(format_args!(
                    "log: {} lines about frames suppressed",
                    self.suppressed
                ));
                self.suppressed = 0;
            }
        }
        if self.used < Self::PER_SECOND {
            self.used += 1;
            return true;
        }
        self.suppressed = self.suppressed.saturating_add(1);
        false
    }
}

/// The reference device: a configured stack plus its application.
///
/// `repr(C)` keeps the stack first: the compiler's own field order may
/// put it after the application's large buffers (the echo rings), where
/// every access to the stack's state needs a 32-bit offset: on the
/// Cortex-M firmware a change of the stack's layout moved it there and
/// cost about 1.8 KB of code.
#[repr(C)]
pub struct ReferenceDevice<C: Config, L: Log> {
    /// The stack generated from `stack.toml` (or a variant).
    pub stack: emberstack::Stack<C>,
    lookups: [Option<Lookup>; MAX_LOOKUPS],
    /// The application with the web server and the mail clients, as
    /// generated from `stack.toml`: the stack's `App`.
    pub services: generated::Services<DeviceApp<L>, C>,
}

impl<C: Config, L: Log> ReferenceDevice<C, L>
where
    C::Dns: Lookups,
    C::Sntp: TimeSync,
    C::Dhcp: LeaseClient,
    C::Smtp: SmtpPart,
    C::Pop3: Pop3Part,
{
    /// Builds the device and binds its services.
    pub fn new(options: Options, log: L) -> Self {
        let mut stack = match options.mac {
            Some(mac) => emberstack::Stack::<C>::with_mac(mac),
            None => emberstack::Stack::<C>::new(),
        };
        if options.ipv4.is_some() {
            stack.set_ipv4(options.ipv4);
        }
        if let Some(a) = options.dhcp_reboot {
            stack.dhcp().reboot_with(a);
        }
        if options.ipv4.is_some() || options.no_dhcp {
            // Before the first poll: the client never touches the address,
            // and with `--no-dhcp` the configured static settings apply.
            stack.dhcp().stop();
            if options.ipv4.is_none() {
                stack.set_ipv4(C::STATIC_IPV4);
            }
        }
        let mut app = DeviceApp {
            log,
            rng: ChaCha12Rng::from_seed(options.seed),
            mail: Mail::new(options.mail, C::DEVICE_NAME),
            udp_echo: None,
            raw_echo: None,
            tcp: [Service::None; MAX_TCP],
            listening: [Service::None; MAX_TCP],
            rings: [[0; ECHO_RING]; MAX_TCP],
            tcp_send: options.tcp_send,
            peer_closed: 0,
            dhcp_ntp: None,
            sntp_chosen: false,
            web: WebState::new(C::DEVICE_NAME, stack.mac(), stack.ipv4().or(C::STATIC_IPV4)),
            pending_ipv4: None,
            apply_since: None,
            flood_quota: LogQuota::default(),
        };
        match stack.udp_bind(ECHO_PORT) {
            Ok(h) => app.udp_echo = Some(h),
            Err(e) => app.log.line(format_args!("udp: echo not bound: {e}")),
        }
        if <C::RawSockets as emberstack::config::Table<_>>::LEN > 0 {
            match stack.raw_open(RAW_ECHO_PROTOCOL) {
                Ok(h) => app.raw_echo = Some(h),
                Err(e) => app.log.line(format_args!("raw: not opened: {e}")),
            }
        }
        // Sockets: one each for discard and chargen, one kept free for
        // client connections, one per mail client, `[http] sockets` for the
        // web server when there is room (not in the small test variants),
        // the rest listen for echo.
        let http = http_sockets::<C>();
        let echo = tcp_sockets::<C>()
            .saturating_sub(3 + mail_sockets::<C>() + http)
            .max(1);
        let plan = [
            (DISCARD_PORT, 1, Service::Discard { bytes: 0, crc: 0 }),
            (CHARGEN_PORT, 1, Service::Chargen),
            (ECHO_PORT, echo, Service::Echo(Default::default())),
        ];
        for (port, count, service) in plan {
            for _ in 0..count {
                match stack.tcp_listen(port) {
                    Ok(h) => {
                        app.tcp[h.index()] = service;
                        app.listening[h.index()] = service;
                    }
                    Err(e) => app
                        .log
                        .line(format_args!("tcp: port {port} not opened: {e}")),
                }
            }
        }
        let mut services = generated::Services::new(app);
        services
            .app
            .mail
            .configure(&mut services.smtp, &mut services.pop3);
        let listened = (http > 0).then(|| services.listen(&mut stack));
        let app = &mut services.app;
        if let Some(listened) = listened {
            match listened {
                Ok(()) => app.log.line(format_args!(
                    "http: listening on port {} ({http} sockets, {} files, ram {} bytes)",
                    site::SETTINGS.port,
                    site::SITE.files.len(),
                    site::RAM_BYTES
                )),
                Err(e) => app.log.line(format_args!(
                    "http: port {} not opened: {e}",
                    site::SETTINGS.port
                )),
            }
        } else {
            app.log.line(format_args!(
                "http: off ({} TCP sockets in this configuration)",
                tcp_sockets::<C>()
            ));
        }
        app.log.line(format_args!(
            "device: {} mac {} ram {} bytes",
            C::DEVICE_NAME,
            stack.mac(),
            core::mem::size_of::<emberstack::Stack<C>>()
        ));
        {
            use core::mem::size_of;
            app.log.line(format_args!(
                "device: ram dns {} netbios {} sntp {} smtp {} pop3 {} bytes",
                size_of::<C::Dns>(),
                size_of::<C::NetBios>(),
                size_of::<C::Sntp>(),
                size_of::<C::Smtp>(),
                size_of::<C::Pop3>(),
            ));
        }
        match stack.ipv4() {
            Some(c) => app.log.line(format_args!(
                "ip: address {} gateway {}",
                c.cidr,
                OptAddr(c.gateway)
            )),
            None if stack.dhcp().running() => app.log.line(format_args!("ip: from dhcp")),
            None => app.log.line(format_args!("ip: no address")),
        }
        ReferenceDevice {
            stack,
            lookups: [None; MAX_LOOKUPS],
            services,
        }
    }

    /// Runs the stack once; true when it did work (poll again at once).
    pub fn poll<N: Nic>(&mut self, now: Instant, nic: &mut N) -> bool {
        self.snapshot(now);
        if let Some((remote, total)) = self.services.app.tcp_send.take() {
            match self.stack.tcp_connect(&mut self.services, now, remote) {
                Ok(h) => {
                    self.services.app.tcp[h.index()] = Service::Sender { total };
                    self.stack.tcp_close(h); // FIN once all is produced
                    self.services
                        .app
                        .log
                        .line(format_args!("tcp: sending {total} bytes to {remote}"));
                }
                Err(e) => self
                    .services
                    .app
                    .log
                    .line(format_args!("tcp: cannot connect to {remote}: {e}")),
            }
        }
        let busy = self.start_mail(now);
        let busy = self.services.poll(now, &mut self.stack, nic) | busy;
        let app = &mut self.services.app;
        let (smtp, pop3) = (self.services.smtp.state(), self.services.pop3.state());
        app.mail.progress(smtp, pop3, &mut app.log);
        self.apply_web_changes(now);
        if let Some(ntp) = self.services.app.dhcp_ntp.take() {
            if !self.services.app.sntp_chosen {
                self.start_sntp_addr(ntp);
            }
        }
        let looked = names::run_lookups(
            &mut self.lookups,
            self.stack.dns(),
            now,
            &mut self.services.app.log,
        );
        busy | looked
    }

    /// Starts the status email and the mailbox check asked for, once the
    /// interface has an address (the composition runs them).
    fn start_mail(&mut self, now: Instant) -> bool {
        let online = self.stack.ipv4().is_some();
        if self.services.app.mail.wants_report(online) {
            let c = *self.stack.counters();
            let ip = self.stack.ipv4().map(|c| c.cidr);
            self.services.app.mail.report(|o| {
                o.put("Status of ");
                o.put(C::DEVICE_NAME);
                o.put("\n\nuptime: ");
                text::dec(o, now.since(Instant::ZERO).secs());
                o.put(" s\naddress: ");
                match ip {
                    Some(c) => text::cidr(o, c),
                    None => o.put("none"),
                }
                for (label, n) in [
                    ("\nframes in: ", c.frames_in),
                    ("\nframes out: ", c.frames_out),
                    ("\ndropped: ", c.dropped_total()),
                ] {
                    o.put(label);
                    text::dec(o, n.into());
                }
                o.put("\n\nThe attachment is the device's latest file.\n");
            });
        }
        let unix = self
            .stack
            .sntp()
            .unix_time(now)
            .and_then(|t| u64::try_from(t).ok());
        let generated::Services {
            app, smtp, pop3, ..
        } = &mut self.services;
        let DeviceApp { mail, rng, log, .. } = app;
        mail.start(smtp, pop3, online, now, unix, log, &mut || rng.next_u32())
    }

    /// Sends the status email (the web UI's button): the report and the
    /// attachment go to the recipient of the options (`--mail-to`); logs
    /// `smtp: sent to ADDR` or `smtp: failed ...`. Waits for an address
    /// first when the device has none yet.
    pub fn send_status_email(&mut self) {
        self.services.app.mail.request_send();
    }

    /// Checks the mailbox now (the web UI's button); logs one
    /// `pop3: message N ...` line per message.
    pub fn check_mail(&mut self) {
        self.services.app.mail.request_check();
    }

    /// The device's mail: the status email and the last message read
    /// (the clients are `services.smtp` / `services.pop3`).
    pub fn mail(&self) -> &Mail {
        &self.services.app.mail
    }

    /// Looks up the IPv4 address of `name`; logs `dns: NAME A a.b.c.d`
    /// (or `dns: NAME failed NameError`...). False when the name is longer
    /// than [`names::MAX_LOOKUP_NAME`] or [`MAX_LOOKUPS`] are already waiting.
    pub fn resolve(&mut self, name: &str) -> bool {
        self.lookup(name, QueryType::A)
    }

    /// Looks up the mail exchanges of `domain`; logs one line per
    /// exchange, most preferred first: `dns: DOMAIN MX 10 mail.example.com
    /// a.b.c.d` (`none` when no address was found).
    pub fn resolve_mx(&mut self, domain: &str) -> bool {
        self.lookup(domain, QueryType::Mx)
    }

    fn lookup(&mut self, name: &str, kind: QueryType) -> bool {
        let Some(free) = self.lookups.iter_mut().find(|l| l.is_none()) else {
            self.services
                .app
                .log
                .line(format_args!("dns: {name} not queued: too many lookups"));
            return false;
        };
        match Lookup::new(name, kind) {
            Some(l) => {
                *free = Some(l);
                true
            }
            None => {
                self.services
                    .app
                    .log
                    .line(format_args!("dns: {name} failed NameTooLong"));
                false
            }
        }
    }

    /// Asks `server` (an address or a host name) for the time now and
    /// every `[sntp] poll_interval`; logs `sntp: unix=SECONDS stratum=S`.
    pub fn start_sntp(&mut self, server: &'static str) -> bool {
        self.services.app.sntp_chosen = true;
        match self.stack.sntp().start(server) {
            Ok(()) => true,
            Err(e) => {
                self.services
                    .app
                    .log
                    .line(format_args!("sntp: server {server} refused: {e}"));
                false
            }
        }
    }

    /// [`start_sntp`](Self::start_sntp) for a server given as an address
    /// (the form the DHCP NTP-server option has).
    pub fn start_sntp_addr(&mut self, server: Ipv4Address) {
        if let Err(e) = self.stack.sntp().start_addr(server) {
            self.services
                .app
                .log
                .line(format_args!("sntp: server {server} refused: {e}"));
        }
    }

    /// When the device next needs to run without a frame arriving.
    pub fn poll_at(&self, now: Instant) -> Option<Instant> {
        self.services.poll_at(&self.stack, now)
    }

    /// Copies what the web pages show from the stack (the tag handlers
    /// run inside the stack's callbacks, where the stack is borrowed).
    fn snapshot(&mut self, now: Instant) {
        let s = &mut self.services.app.web.status;
        s.now = now;
        s.ipv4 = self.stack.ipv4();
        s.counters = *self.stack.counters();
        s.dhcp = self.stack.dhcp().state();
        s.lease = self.stack.dhcp().lease();
        s.unix_time = self.stack.sntp().unix_time(now);
    }

    /// Carries out what the web pages asked for: new settings, a status
    /// email. Address changes wait until no response is in flight (the
    /// page confirming them must reach the browser from the old address),
    /// at most 2 s.
    fn apply_web_changes(&mut self, now: Instant) {
        if let Some(ipv4) = self.pending_ipv4_due() {
            self.stack.set_ipv4(ipv4);
            self.services.app.log.line(format_args!(
                "web: static address {}",
                OptAddr(ipv4.map(|c| c.cidr.address))
            ));
        }
        if let Some(a) = self.services.app.web.apply {
            let since = *self.services.app.apply_since.get_or_insert(now);
            let waited = now.since(since).millis() >= 2000;
            if self.services.http.responding() && !waited {
                return;
            }
            self.services.app.web.apply = None;
            self.services.app.apply_since = None;
            // NetBIOS, the DHCP host name and mDNS follow the page's name
            // (checked by the same rules there).
            if let Err(e) = self.stack.set_device_name(self.services.app.web.name()) {
                self.services
                    .app
                    .log
                    .line(format_args!("web: name refused: {e}"));
            }
            if a.dhcp {
                if !self.stack.dhcp().running() && !self.stack.dhcp().enable() {
                    self.services
                        .app
                        .log
                        .line(format_args!("web: DHCP is not built in; address kept"));
                }
            } else {
                self.stack.dhcp().stop();
                // Set after the client has stopped (next poll), so its
                // fallback to stack.toml's settings does not replace it.
                if a.ipv4.is_some() {
                    self.services.app.pending_ipv4 = Some(a.ipv4);
                }
            }
            self.services.app.log.line(format_args!(
                "web: applied name {} dhcp {}",
                self.services.app.web.name(),
                if a.dhcp { "on" } else { "off" }
            ));
        }
        if core::mem::take(&mut self.services.app.web.mail_requested) {
            self.send_status_mail();
        }
    }

    fn pending_ipv4_due(&mut self) -> Option<Option<StaticIpv4>> {
        // One poll after `stop`: the client has released and stepped back.
        let due = self.services.app.pending_ipv4.is_some() && !self.stack.dhcp().running();
        if due
            && self
                .stack
                .dhcp()
                .state()
                .is_none_or(|s| s == emberstack::dhcp::DhcpState::Off)
        {
            return self.services.app.pending_ipv4.take();
        }
        None
    }

    /// The web UI's "send status email" button: hands the request to the
    /// SMTP client (issue 6), which sends the status email with its
    /// attachment and logs `smtp: sent to ...` or `smtp: failed ...`.
    pub fn send_status_mail(&mut self) {
        self.services
            .app
            .log
            .line(format_args!("mail: status email requested from the web UI"));
        self.send_status_email();
        self.services
            .app
            .web
            .set_mail_message("Status email requested; see the device log for the outcome.");
    }

    /// Logs the frame counters (at exit).
    pub fn log_counters(&mut self) {
        let c = *self.stack.counters();
        self.services.app.log.line(format_args!(
            "counters: in {} out {} tx-errors {} echo {} udp {} dropped {}",
            c.frames_in,
            c.frames_out,
            c.tx_errors,
            c.echo_replies,
            c.udp_delivered,
            c.dropped_total()
        ));
        for r in DropReason::ALL {
            let n = c.dropped(r);
            if n > 0 {
                self.services
                    .app
                    .log
                    .line(format_args!("counters: drop {} {}", r.name(), n));
            }
        }
    }

    /// The log sink.
    pub fn log(&mut self) -> &mut L {
        &mut self.services.app.log
    }
}

pub(crate) struct OptAddr(pub(crate) Option<Ipv4Address>);
impl fmt::Display for OptAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(a) => write!(f, "{a}"),
            None => f.write_str("none"),
        }
    }
}

/// The web pages' handlers are a view of the device's web state and its
/// log; TCP events on the server's connections are logged like others.
impl<L: Log> WebApp for DeviceApp<L> {
    type Handlers<'a>
        = Web<'a, L>
    where
        L: 'a;

    fn handlers(&mut self) -> Web<'_, L> {
        Web {
            state: &mut self.web,
            log: &mut self.log,
        }
    }

    fn connection_event(&mut self, h: TcpHandle, event: TcpEvent) {
        match event {
            TcpEvent::Retransmit { offset } => self
                .log
                .line(format_args!("tcp: retransmit {h} from {offset}")),
            TcpEvent::Reset => self.log.line(format_args!("tcp: reset {h}")),
            TcpEvent::Reclaimed => self.log.line(format_args!("tcp: reclaimed {h}")),
            TcpEvent::TimedOut => self.log.line(format_args!("tcp: timed out {h}")),
            TcpEvent::RegenerationMismatch { offset } => self
                .log
                .line(format_args!("tcp: regeneration mismatch {h} at {offset}")),
            _ => {}
        }
    }
}

/// The SMTP client sends the status email; its outcome is logged.
impl<L: Log> SmtpApp for DeviceApp<L> {
    type Message = StatusMail;

    fn with_message<R>(
        &mut self,
        f: impl FnOnce(&mut StatusMail, &mut dyn FnMut() -> u32) -> R,
    ) -> R {
        let rng = &mut self.rng;
        f(&mut self.mail.outgoing, &mut || rng.next_u32())
    }

    fn sent(&mut self, outcome: Result<(), MailError>, stats: SmtpStats) {
        let now = self.web.status.now;
        self.mail.sent(outcome, stats, now, &mut self.log);
    }
}

/// The POP3 client reads into the inbox, which logs and decides.
impl<L: Log> Pop3App for DeviceApp<L> {
    type Mailbox<'a>
        = mail::Inbox<'a, L>
    where
        L: 'a;

    fn with_mailbox<R>(
        &mut self,
        f: impl FnOnce(&mut mail::Inbox<'_, L>, &mut dyn FnMut() -> u32) -> R,
    ) -> R {
        let rng = &mut self.rng;
        f(&mut self.mail.inbox(&mut self.log), &mut || rng.next_u32())
    }

    fn checked(&mut self, outcome: Result<Pop3Summary, MailError>) {
        self.mail.checked(outcome, &mut self.log);
    }
}

/// Everything the composition does not own: echo, discard, chargen and
/// the sender on TCP, UDP and raw echo, the events, random numbers.
impl<L: Log> App for DeviceApp<L> {
    fn random_u32(&mut self) -> u32 {
        self.rng.next_u32()
    }

    fn event(&mut self, event: Event) {
        // Lines any host can cause once per frame it sends go through a
        // quota, so a flood costs a few lines, not one per frame.
        if matches!(
            event,
            Event::ArpLearned { .. } | Event::ArpReplied { .. } | Event::Dropped(_)
        ) && !self.flood_quota.allow(self.web.status.now, &mut self.log)
        {
            return;
        }
        let log = &mut self.log;
        match event {
            Event::ArpLearned { ip, mac } => log.line(format_args!("arp: learned {ip} at {mac}")),
            Event::ArpReplied { to } => log.line(format_args!("arp: replied to {to}")),
            Event::AddressAnnounced { ip } => log.line(format_args!("arp: announced {ip}")),
            Event::AddressConflict { ip, mac, defended } => log.line(format_args!(
                "arp: conflict for {ip} from {mac} ({})",
                if defended { "defended" } else { "given up" }
            )),
            Event::Mdns(e) => log_mdns(log, e),
            Event::Link { up: true } => log.line(format_args!("link: up")),
            Event::Link { up: false } => log.line(format_args!("link: down (sending stopped)")),
            Event::EchoReplied { to, len } => {
                log.line(format_args!("icmp: echo reply to {to} len {len}"))
            }
            Event::EchoReplyReceived {
                from, seq_no, len, ..
            } => log.line(format_args!(
                "icmp: echo reply from {from} seq {seq_no} len {len}"
            )),
            Event::Dns(e) => names::log_dns(log, e),
            Event::NetBios(e) => names::log_netbios(log, e),
            Event::Sntp(e) => names::log_sntp(log, e),
            Event::PortUnreachable { from, port } => {
                log.line(format_args!("udp: port {port} closed, from {from}"))
            }
            Event::Dhcp(e) => {
                if let DhcpEvent::Bound(l) | DhcpEvent::Renewed(l) = e {
                    self.dhcp_ntp = l.ntp;
                    self.web.lease_granted();
                }
                log_dhcp(log, e)
            }
            // Other hosts' multicast and IPv6 are normal background on a
            // LAN: counted, not logged.
            Event::Dropped(DropReason::NotOurMac | DropReason::UnknownEthertype) => {}
            Event::Dropped(r) => log.line(format_args!("{}: dropped {}", layer(r), r.name())),
        }
    }

    fn tcp_event(&mut self, h: TcpHandle, event: TcpEvent) {
        let i = h.index();
        let Some(service) = self.tcp.get_mut(i) else {
            return;
        };
        let log = &mut self.log;
        match (event, &mut *service) {
            (TcpEvent::Connected { remote }, s) => {
                log.line(format_args!("tcp: connected {remote} on {h} ({})", name(s)))
            }
            (TcpEvent::Acked { offset }, Service::Echo(e)) => e.acked = offset,
            (TcpEvent::Acked { offset }, Service::Sender { total }) if offset == *total => {
                log.line(format_args!("tcp: sent {total}"))
            }
            (TcpEvent::Acked { .. }, _) => {}
            (TcpEvent::Retransmit { offset }, _) => {
                log.line(format_args!("tcp: retransmit {h} from {offset}"))
            }
            (TcpEvent::PeerClosed, Service::Discard { bytes, crc }) => {
                log.line(format_args!("tcp: discard {bytes} bytes crc32={crc:08x}"))
            }
            (TcpEvent::PeerClosed, Service::Echo(e)) => {
                log.line(format_args!("tcp: echo {} bytes", e.total))
            }
            (TcpEvent::PeerClosed, s) => {
                log.line(format_args!("tcp: peer closed {h} ({})", name(s)))
            }
            (TcpEvent::Closed, _) => log.line(format_args!("tcp: closed {h}")),
            (TcpEvent::Reset, _) => log.line(format_args!("tcp: reset {h}")),
            (TcpEvent::Reclaimed, _) => log.line(format_args!("tcp: reclaimed {h}")),
            // The services here stream until their client closes; an idle
            // one is reclaimed after `[tcp] reclaim_idle_ms` instead.
            (TcpEvent::Contended, _) => {}
            (TcpEvent::TimedOut, _) => log.line(format_args!("tcp: timed out {h}")),
            (TcpEvent::RegenerationMismatch { offset }, _) => {
                log.line(format_args!("tcp: regeneration mismatch {h} at {offset}"))
            }
        }
        if matches!(
            event,
            TcpEvent::Closed
                | TcpEvent::Reset
                | TcpEvent::Reclaimed
                | TcpEvent::TimedOut
                | TcpEvent::RegenerationMismatch { .. }
        ) {
            // Fresh state for the next connection on a listening socket.
            *service = self.listening.get(i).copied().unwrap_or_default();
            self.peer_closed &= !(1 << i);
        }
        if event == TcpEvent::PeerClosed {
            self.peer_closed |= 1 << i;
        }
    }

    fn tcp_wants_close(&mut self, h: TcpHandle) -> bool {
        self.peer_closed & (1 << h.index()) != 0
    }

    fn tcp_received<N: Nic>(&mut self, h: TcpHandle, data: &mut TcpReader<'_, N>) -> usize {
        let i = h.index();
        match self.tcp.get_mut(i) {
            Some(Service::Echo(e)) => match self.rings.get_mut(i) {
                Some(ring) => tcp_services::ring_take(ring, e, data),
                None => 0,
            },
            Some(Service::Discard { bytes, crc }) => {
                let (n, c) = tcp_services::discard(data, *crc);
                *bytes += n as u64;
                *crc = c;
                n
            }
            _ => data.len(),
        }
    }

    fn tcp_produce(&mut self, h: TcpHandle, offset: u32, max: usize, sink: &mut dyn PayloadSink) {
        let i = h.index();
        match self.tcp.get(i) {
            Some(Service::Echo(e)) => {
                if let Some(ring) = self.rings.get(i) {
                    tcp_services::ring_produce(ring, e, offset, max, sink)
                }
            }
            Some(Service::Chargen) => tcp_services::chargen_produce(offset.into(), max, sink),
            Some(Service::Sender { total }) => {
                let left = total.saturating_sub(offset) as usize;
                let from = tcp_services::Pattern::at(offset.into());
                tcp_services::produce_fn(max.min(left), sink, from)
            }
            _ => {}
        }
    }

    fn tcp_recv_space(&mut self, h: TcpHandle) -> usize {
        match self.tcp.get(h.index()) {
            Some(Service::Echo(e)) => e.space(),
            _ => usize::MAX,
        }
    }

    fn raw_received<N: Nic>(&mut self, p: &mut emberstack::raw::RawPacket<'_, '_, N>) {
        // Only packets sent to us (not broadcast) are echoed: no reflector.
        if Some(p.socket()) != self.raw_echo || !p.to_us() {
            return;
        }
        let (len, to, proto) = (p.len(), p.src(), p.protocol());
        match p.echo() {
            Ok(()) => self.log.line(format_args!(
                "raw: echo {len} bytes to {to} (protocol {proto})"
            )),
            Err(e) => self
                .log
                .line(format_args!("raw: echo to {to} failed: {e:?}")),
        }
    }

    fn udp_datagram<N: Nic>(&mut self, d: &mut UdpDatagram<'_, '_, N>) {
        if d.socket().is_some() && d.socket() == self.udp_echo {
            let (len, to) = (d.len(), d.remote());
            match d.echo() {
                Ok(()) => self.log.line(format_args!("udp: echo {len} bytes to {to}")),
                Err(SendError::Refused) => {
                    if self.flood_quota.allow(self.web.status.now, &mut self.log) {
                        let at = d.local();
                        self.log
                            .line(format_args!("udp: echo refused, {to} to {at}"))
                    }
                }
                Err(e) => self
                    .log
                    .line(format_args!("udp: echo to {to} failed: {e:?}")),
            }
        }
    }
}

fn name(s: &Service) -> &'static str {
    match s {
        Service::None => "none",
        Service::Echo(_) => "echo",
        Service::Discard { .. } => "discard",
        Service::Chargen => "chargen",
        Service::Sender { .. } => "sender",
    }
}

/// One `mdns: ...` line per responder event.
fn log_mdns<L: Log>(log: &mut L, e: emberstack::mdns::MdnsEvent) {
    use emberstack::mdns::MdnsEvent;
    match e {
        MdnsEvent::Probing { name } => log.line(format_args!("mdns: probing {name}.local")),
        MdnsEvent::Announced { name, address } => {
            log.line(format_args!("mdns: announced {name}.local {address}"))
        }
        MdnsEvent::Answered { to, unicast } => log.line(format_args!(
            "mdns: answered {to} ({})",
            if unicast { "unicast" } else { "multicast" }
        )),
        MdnsEvent::Renamed { name, from, now } => log.line(format_args!(
            "mdns: conflict for {name}.local with {from}, now {now}.local"
        )),
        MdnsEvent::Malformed { from } => log.line(format_args!("mdns: malformed from {from}")),
    }
}

/// One `dhcp: ...` line per client event.
fn log_dhcp<L: Log>(log: &mut L, e: DhcpEvent) {
    match e {
        DhcpEvent::Discovering => log.line(format_args!("dhcp: discovering")),
        DhcpEvent::Offered { address, server } => {
            log.line(format_args!("dhcp: offer {address} from {server}"))
        }
        DhcpEvent::Bound(l) => log.line(format_args!(
            "dhcp: bound {} gw {} dns {} lease {}s ntp {} server {} t1 {}s t2 {}s",
            l.cidr,
            OptAddr(l.router),
            OptAddr(l.dns),
            l.lease_secs,
            OptAddr(l.ntp),
            l.server,
            l.renew_secs,
            l.rebind_secs
        )),
        DhcpEvent::Renewing => log.line(format_args!("dhcp: renewing")),
        DhcpEvent::Rebinding => log.line(format_args!("dhcp: rebinding")),
        DhcpEvent::Rebooting { address } => log.line(format_args!("dhcp: rebooting {address}")),
        DhcpEvent::Probing { address } => log.line(format_args!("dhcp: probing {address}")),
        DhcpEvent::Declined { address } => {
            log.line(format_args!("dhcp: declined {address} (in use)"))
        }
        DhcpEvent::RebootUnanswered => {
            log.line(format_args!("dhcp: reboot unanswered, lease kept"))
        }
        DhcpEvent::Renewed(l) => log.line(format_args!(
            "dhcp: renewed {} lease {}s server {}",
            l.cidr, l.lease_secs, l.server
        )),
        DhcpEvent::Nak { server } => log.line(format_args!("dhcp: nak from {server}")),
        DhcpEvent::Expired { address } => log.line(format_args!("dhcp: expired {address}")),
        DhcpEvent::Stopped { ipv4, released } => {
            let released = if released { ", lease released" } else { "" };
            match ipv4 {
                Some(c) => log.line(format_args!("dhcp: off, address {}{released}", c.cidr)),
                None => log.line(format_args!("dhcp: off, no address{released}")),
            }
        }
    }
}

fn layer(r: DropReason) -> &'static str {
    match r {
        DropReason::ArpMalformed => "arp",
        DropReason::IcmpChecksum | DropReason::IcmpUnsupported => "icmp",
        DropReason::UdpChecksum | DropReason::UdpMalformed | DropReason::UdpNoSocket => "udp",
        DropReason::TcpMalformed
        | DropReason::TcpChecksum
        | DropReason::TcpNoSocket
        | DropReason::TcpOutOfWindow => "tcp",
        _ => "ip",
    }
}

#[cfg(test)]
mod tests {
    use super::OneLine;
    use core::fmt::Write as _;

    /// A fixed buffer (the crate is `no_std`).
    struct Buf([u8; 96], usize);
    impl core::fmt::Write for Buf {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.1 + s.len();
            self.0
                .get_mut(self.1..end)
                .ok_or(core::fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }

    fn one_line(s: &str) -> Buf {
        let mut b = Buf([0; 96], 0);
        write!(OneLine(&mut b), "http: GET {s} 404").unwrap();
        b
    }

    #[test]
    fn controls_separators_and_backslash_are_escaped() {
        let b = one_line("/a\nforged\r\x1b[2K\u{85}\u{2028}\\é");
        assert_eq!(
            core::str::from_utf8(&b.0[..b.1]).unwrap(),
            r"http: GET /a\x0aforged\x0d\x1b[2K\x85\u{2028}\\é 404"
        );
    }
}
