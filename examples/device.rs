//! The reference device on a Linux TAP.
//!
//! ```text
//! cargo run --example device -- --tap tap0 [--ip 10.78.0.2/24 --gateway 10.78.0.1]
//!     [--dns D] [--no-dhcp] [--mac 02:00:00:00:00:02] [--pcap run.pcap]
//!     [--config NAME] [--fault loss=0.1,reorder=0.05,dup=0.05,seed=1]
//!     [--tcp-send A.B.C.D:PORT --bytes N]
//!     [--sntp-server ADDR_OR_NAME] [--resolve NAME]... [--resolve-mx DOMAIN]...
//!     [--smtp-server HOST | --smtp-mx] [--pop3-server HOST] [--mail-user U] [--mail-password P]
//!     [--mail-to ADDR [--mail-from ADDR] [--mail-body FILE] [--mail-attach FILE]]
//!     [--check-mail] [--mail-delete TEXT] [--mail-timeout S] [--mail-session-timeout S] [--mail-interval S]
//!     [--dhcp-reboot A.B.C.D] [--quiet]
//!     [--mail-repeat N] [--seed N] [--nic tap|enc28j60]
//! ```
//! `--nic enc28j60` runs the stack through the ENC28J60 driver
//! (`emberstack::nic::enc28j60`) talking SPI to the register-level model of
//! the chip (`nic::enc28j60_model`), whose cable is the TAP (with `--fault`,
//! the fault injector in front of it); the SPI traffic is printed at exit.
//! The address comes from DHCP unless `--ip` gives one (or `--no-dhcp`
//! selects the static settings from `stack.toml`). Logs one line per event
//! (`dhcp: ...`, `arp: ...`, `icmp: ...`, `udp: ...`, `tcp: ...`, `dns: ...`,
//! `netbios: ...`, `sntp: ...`) and prints the counters on Ctrl-C or
//! SIGTERM, then exits 0. `--quiet` drops the event lines (the counters
//! are still printed at exit), as the firmware's `quiet` build compiles
//! them out: for measuring the stack rather than the log (issue 11).

use ember_device::mail::MailOptions;
use ember_device::names::{LeaseClient, Lookups, TimeSync};
use ember_device::{variants, with_config, Log, OneLine, Options, ReferenceDevice};
use emberstack::compose::{Pop3Part, SmtpPart};
use emberstack::config::StaticIpv4;
use emberstack::nic::enc28j60::{self, Enc28j60};
use emberstack::nic::enc28j60_model::Model;
use emberstack::nic::faulty::Faulty;
use emberstack::nic::pcap::Pcap;
use emberstack::nic::sim::Faults;
use emberstack::nic::tap::Tap;
use emberstack::nic::{Nic, NicError, TxMode};
use emberstack::udp::Endpoint;
use emberstack::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};
use emberstack::{Config, Instant};
use std::fmt;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The log on stdout, written in blocks: the lines logged since the last
/// write go out in one `write(2)` before the next frame is sent (a peer
/// that sees a frame can read every line logged before it, as when each
/// line was written at once), when the main loop has no more work, or at
/// [`LOG_BLOCK`] bytes. The lines and their order are unchanged.
struct Stdout;

thread_local! {
    /// The lines not yet written (only the main loop's thread logs).
    static LOG: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Held lines are written at once when they reach this many bytes.
const LOG_BLOCK: usize = 4096;

/// `--quiet`: event lines are dropped (cleared before the counters).
static QUIET: AtomicBool = AtomicBool::new(false);

impl Log for Stdout {
    fn line(&mut self, args: fmt::Arguments<'_>) {
        use std::fmt::Write as _;
        if QUIET.load(Ordering::Relaxed) {
            return;
        }
        LOG.with_borrow_mut(|text| {
            // Formatted as it is, then escaped only if some byte needs it
            // (`OneLine` decodes every character: an eighth of the device's
            // instructions per keep-alive request went to it).
            let start = text.len();
            let _ = text.write_fmt(args);
            let plain = |b: &u8| (b' '..b'\x7f').contains(b) && *b != b'\\';
            if !text
                .as_bytes()
                .get(start..)
                .unwrap_or(&[])
                .iter()
                .all(plain)
            {
                let raw = text.split_off(start);
                let _ = OneLine(&mut *text).write_str(&raw);
            }
            text.push('\n');
            if text.len() >= LOG_BLOCK {
                write_log(text);
            }
        });
    }
}

/// Writes the held log lines (before a frame is sent, when the main loop
/// has no more work, before the device prints on its own).
fn flush_log() {
    LOG.with_borrow_mut(write_log);
}

fn write_log(text: &mut String) {
    use std::io::Write as _;
    if !text.is_empty() {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
        text.clear();
    }
}

#[derive(Default)]
struct Cli {
    tap: String,
    ip: Option<Ipv4Cidr>,
    gateway: Option<Ipv4Address>,
    dns: Option<Ipv4Address>,
    mac: Option<EthernetAddress>,
    pcap: Option<String>,
    config: String,
    fault: Option<(u64, Faults)>,
    /// Which way the faults apply: frames to the stack, from it, or both.
    fault_dir: FaultDir,
    tcp_send: Option<String>,
    bytes: Option<u32>,
    names: Names,
    no_dhcp: bool,
    quiet: bool,
    dhcp_reboot: Option<Ipv4Address>,
    mail: MailOptions,
    seed: Option<u64>,
    nic: NicKind,
}

/// Which controller the stack talks to.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum NicKind {
    /// The TAP directly (a host buffer).
    #[default]
    Tap,
    /// The ENC28J60 driver over SPI to the chip model, the TAP its cable.
    Enc28j60,
}

/// Which frames `--fault` applies to.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum FaultDir {
    #[default]
    Both,
    /// Frames arriving at the stack only.
    Rx,
    /// Frames the stack sends only.
    Tx,
}

/// What to ask the name services at start.
#[derive(Clone, Default)]
struct Names {
    sntp_server: Option<&'static str>,
    resolve: Vec<String>,
    resolve_mx: Vec<String>,
}

const USAGE: &str = "usage: device [--tap NAME] [--ip A.B.C.D/N] [--gateway G] [--dns D] [--no-dhcp] [--mac M]
              [--pcap FILE] [--config NAME] [--fault loss=P,reorder=P,dup=P,corrupt=P,delay=MS-MS,seed=N] [--fault-dir rx|tx|both]
              [--tcp-send A.B.C.D:PORT --bytes N]
              [--sntp-server ADDR_OR_NAME] [--resolve NAME]... [--resolve-mx DOMAIN]...
              [--smtp-server HOST | --smtp-mx] [--pop3-server HOST] [--mail-user U] [--mail-password P]
              [--mail-to ADDR [--mail-from ADDR] [--mail-body FILE] [--mail-attach FILE]]
              [--check-mail] [--mail-delete TEXT] [--mail-timeout S] [--mail-session-timeout S] [--mail-interval S]
              [--mail-repeat N] [--seed N] [--dhcp-reboot A.B.C.D] [--nic tap|enc28j60] [--quiet]";

/// A command-line string kept for the whole run (the mail settings are
/// `&'static`, as they would be in a firmware's flash).
fn keep(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// A file's bytes, kept for the whole run.
fn keep_file(path: &str) -> Result<&'static [u8], String> {
    std::fs::read(path)
        .map(|b| &*Box::leak(b.into_boxed_slice()))
        .map_err(|e| format!("cannot read {path}: {e}"))
}

fn parse_ip(s: &str) -> Result<Ipv4Address, String> {
    s.parse::<std::net::Ipv4Addr>()
        .map(|a| Ipv4Address(a.octets()))
        .map_err(|_| format!("not an IPv4 address: {s}"))
}

/// `loss=0.1,reorder=0.05,dup=0.05,corrupt=0.01,delay=0-5,seed=7`.
fn parse_fault(spec: &str) -> Result<(u64, Faults), String> {
    let mut f = Faults::none();
    let mut seed = 1;
    for part in spec.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or(format!("--fault: `{part}` is not key=value"))?;
        let p = || -> Result<f64, String> {
            v.parse::<f64>()
                .ok()
                .filter(|p| (0.0..=1.0).contains(p))
                .ok_or(format!("--fault {k}: expected a probability 0..1, got {v}"))
        };
        match k {
            "loss" => f.loss = p()?,
            "reorder" => f.reorder = p()?,
            "dup" => f.duplicate = p()?,
            "corrupt" => f.corrupt = p()?,
            "delay" => {
                let (a, b) = v.split_once('-').unwrap_or((v, v));
                let ms = |x: &str| {
                    x.parse::<u64>()
                        .map_err(|_| format!("--fault delay: bad {v}"))
                };
                f.delay_ms = (ms(a)?, ms(b)?);
            }
            "seed" => seed = v.parse().map_err(|_| format!("--fault seed: bad {v}"))?,
            other => {
                return Err(format!(
                    "--fault: unknown key {other} (loss, reorder, dup, corrupt, delay, seed)"
                ))
            }
        }
    }
    Ok((seed, f))
}

fn parse_cli() -> Result<Cli, String> {
    let mut cli = Cli {
        tap: "tap0".into(),
        config: "stack".into(),
        ..Cli::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--tap" => cli.tap = value()?,
            "--ip" => {
                let v = value()?;
                let (a, p) = v
                    .split_once('/')
                    .ok_or(format!("--ip wants A.B.C.D/N, got {v}"))?;
                let prefix: u8 = p
                    .parse()
                    .ok()
                    .filter(|p| (1..=32).contains(p))
                    .ok_or(format!("bad prefix in {v}"))?;
                cli.ip = Some(Ipv4Cidr::new(parse_ip(a)?, prefix));
            }
            "--gateway" => cli.gateway = Some(parse_ip(&value()?)?),
            "--dns" => cli.dns = Some(parse_ip(&value()?)?),
            "--mac" => {
                let v = value()?;
                let parts: Vec<u8> = v
                    .split([':', '-'])
                    .filter_map(|h| u8::from_str_radix(h, 16).ok())
                    .collect();
                let mac: [u8; 6] = parts.try_into().map_err(|_| format!("bad MAC {v}"))?;
                let mac = EthernetAddress(mac);
                if !mac.is_unicast() {
                    return Err(format!("--mac {v}: not a unicast address"));
                }
                cli.mac = Some(mac);
            }
            "--pcap" => cli.pcap = Some(value()?),
            "--config" => {
                let v = value()?;
                if !variants::NAMES.contains(&v.as_str()) {
                    return Err(format!(
                        "--config {v}: one of {}",
                        variants::NAMES.join(", ")
                    ));
                }
                cli.config = v;
            }
            "--fault" => cli.fault = Some(parse_fault(&value()?)?),
            "--fault-dir" => {
                cli.fault_dir = match value()?.as_str() {
                    "both" => FaultDir::Both,
                    "rx" => FaultDir::Rx,
                    "tx" => FaultDir::Tx,
                    other => return Err(format!("--fault-dir: rx, tx or both, not {other}")),
                }
            }
            "--tcp-send" => cli.tcp_send = Some(value()?),
            "--sntp-server" => cli.names.sntp_server = Some(keep(value()?)),
            "--resolve" => cli.names.resolve.push(value()?),
            "--resolve-mx" => cli.names.resolve_mx.push(value()?),
            "--bytes" => {
                let v = value()?;
                cli.bytes = Some(
                    v.parse()
                        .map_err(|_| format!("--bytes wants a number, got {v}"))?,
                );
            }
            "--no-dhcp" => cli.no_dhcp = true,
            "--quiet" => cli.quiet = true,
            "--dhcp-reboot" => cli.dhcp_reboot = Some(parse_ip(&value()?)?),
            "--smtp-server" => cli.mail.smtp_server = Some(keep(value()?)),
            "--smtp-mx" => cli.mail.smtp_mx = true,
            "--pop3-server" => cli.mail.pop3_server = Some(keep(value()?)),
            "--mail-user" => cli.mail.user = Some(keep(value()?)),
            "--mail-password" => cli.mail.password = Some(keep(value()?)),
            "--mail-to" => cli.mail.to = Some(keep(value()?)),
            "--mail-from" => cli.mail.from = Some(keep(value()?)),
            "--mail-body" => cli.mail.body = Some(keep_file(&value()?)?),
            "--mail-attach" => {
                let path = value()?;
                let name = std::path::Path::new(&path)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "attachment.bin".into());
                cli.mail.attachment = Some((keep(name), keep_file(&path)?));
            }
            "--check-mail" => cli.mail.check_at_start = true,
            "--mail-repeat" => {
                let v = value()?;
                cli.mail.repeat = v
                    .parse()
                    .map_err(|_| format!("--mail-repeat wants a count, got {v}"))?;
            }
            "--seed" => {
                let v = value()?;
                cli.seed = Some(
                    v.parse()
                        .map_err(|_| format!("--seed wants a number, got {v}"))?,
                );
            }
            "--nic" => {
                cli.nic = match value()?.as_str() {
                    "tap" => NicKind::Tap,
                    "enc28j60" => NicKind::Enc28j60,
                    other => return Err(format!("--nic: tap or enc28j60, not {other}")),
                }
            }
            "--mail-delete" => cli.mail.delete_matching = Some(keep(value()?)),
            "--mail-timeout" | "--mail-session-timeout" | "--mail-interval" => {
                let v = value()?;
                let secs: u32 = v
                    .parse()
                    .map_err(|_| format!("{flag} wants seconds, got {v}"))?;
                if flag == "--mail-timeout" {
                    cli.mail.timeout_secs = Some(secs.max(1));
                } else if flag == "--mail-session-timeout" {
                    cli.mail.session_timeout_secs = Some(secs.max(1));
                } else {
                    cli.mail.interval_secs = Some(secs);
                }
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(cli)
}

/// The TAP, with or without the fault injector in front.
enum HostNic {
    Plain(Tap),
    Faulty(Box<Faulty<Tap>>),
}

impl HostNic {
    fn wait(&mut self, timeout: Duration) -> std::io::Result<bool> {
        match self {
            HostNic::Plain(t) => t.wait(timeout),
            HostNic::Faulty(f) => f.wait(timeout),
        }
    }
}

macro_rules! delegate {
    ($self:ident, $n:ident => $e:expr) => {
        match $self {
            HostNic::Plain($n) => $e,
            HostNic::Faulty($n) => $e,
        }
    };
}

impl Nic for HostNic {
    // Both the TAP and the injector's host buffer can rewrite.
    const TX_MODE: TxMode = TxMode::Rewrite;
    fn link_up(&mut self) -> bool {
        delegate!(self, n => n.link_up())
    }
    fn join_multicast(&mut self, group: EthernetAddress) {
        delegate!(self, n => n.join_multicast(group))
    }
    fn rx_pending(&mut self) -> Option<usize> {
        delegate!(self, n => n.rx_pending())
    }
    fn rx_read(&mut self, buf: &mut [u8]) -> usize {
        delegate!(self, n => n.rx_read(buf))
    }
    fn rx_seek(&mut self, offset: usize) {
        delegate!(self, n => n.rx_seek(offset))
    }
    fn rx_dump(&mut self) {
        delegate!(self, n => n.rx_dump())
    }
    fn tx_ready(&mut self, len: usize) -> bool {
        delegate!(self, n => n.tx_ready(len))
    }
    fn tx_begin(&mut self, len: usize) -> Result<(), NicError> {
        delegate!(self, n => n.tx_begin(len))
    }
    fn tx_write(&mut self, bytes: &[u8]) {
        delegate!(self, n => n.tx_write(bytes))
    }
    fn tx_rewrite(&mut self, offset: usize, bytes: &[u8]) {
        delegate!(self, n => n.tx_rewrite(offset, bytes))
    }
    fn tx_send(&mut self) -> Result<(), NicError> {
        // The lines logged before this frame are out before it.
        flush_log();
        delegate!(self, n => n.tx_send())
    }
    fn tx_abort(&mut self) {
        delegate!(self, n => n.tx_abort())
    }
}

fn main() -> ExitCode {
    let cli = match parse_cli() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let tap = match Tap::open(&cli.tap) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("device: cannot open TAP {}: {e}", cli.tap);
            eprintln!("device: create it first (as root), then run again:");
            eprintln!("    ip tuntap add dev {} mode tap user $(id -un)", cli.tap);
            eprintln!("    ip link set {} up", cli.tap);
            eprintln!("    ip addr add 10.78.0.1/24 dev {}", cli.tap);
            return ExitCode::from(1);
        }
    };
    let first_run = if tap.created() {
        match first_run(&tap, &cli) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("device: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        FirstRun::default()
    };
    QUIET.store(cli.quiet, Ordering::Relaxed);
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        if let Err(e) = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst)) {
            eprintln!("device: cannot install signal handler: {e}");
        }
    }
    let ipv4 = cli.ip.map(|cidr| StaticIpv4 {
        cidr,
        gateway: cli.gateway,
        dns: cli.dns,
    });
    // The OS's random source (getrandom(2)); `--seed N` for repeatable runs.
    let seed = match cli.seed {
        Some(n) => Options::seed_from_u64(n),
        None => {
            let mut seed = [0u8; 32];
            if let Err(e) = getrandom::fill(&mut seed) {
                eprintln!("device: no random seed from the OS: {e}");
                return ExitCode::from(1);
            }
            seed
        }
    };
    let tcp_send = match (&cli.tcp_send, cli.bytes) {
        (Some(target), Some(n)) => match target.parse::<std::net::SocketAddrV4>() {
            Ok(a) => Some((Endpoint::new(Ipv4Address(a.ip().octets()), a.port()), n)),
            Err(_) => {
                eprintln!("--tcp-send wants A.B.C.D:PORT, got {target}");
                return ExitCode::from(2);
            }
        },
        (None, None) => None,
        _ => {
            eprintln!("--tcp-send and --bytes go together\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let options = Options {
        mac: cli.mac,
        ipv4,
        no_dhcp: cli.no_dhcp || first_run.static_address,
        dhcp_reboot: cli.dhcp_reboot,
        seed,
        tcp_send,
        mail: cli.mail,
    };
    println!("device: tap {} config {}", cli.tap, cli.config);
    let nic = match cli.fault {
        Some((seed, faults)) => {
            println!("device: faults {faults:?} seed {seed}");
            let none = Faults::none();
            let (rx, tx) = match cli.fault_dir {
                FaultDir::Both => (faults, faults),
                FaultDir::Rx => (faults, none),
                FaultDir::Tx => (none, faults),
            };
            HostNic::Faulty(Box::new(Faulty::new(tap, seed, rx, tx)))
        }
        None => HostNic::Plain(tap),
    };
    let config = cli.config.clone();
    let code = with_config!(
        config.as_str(),
        start(
            nic,
            cli.nic,
            options,
            cli.names.clone(),
            cli.pcap.clone(),
            stop.clone()
        )
    );
    code.unwrap_or(ExitCode::from(2))
}

/// What setting up a TAP this process created decided.
#[derive(Default)]
struct FirstRun {
    /// No DHCP server can be on a TAP that did not exist: use the static
    /// address of `stack.toml`.
    static_address: bool,
}

/// A TAP this process created is down and the host side has no address, so
/// nothing could reach the device: bring it up and give the host side the
/// gateway's address (`--gateway`, else `stack.toml`'s), and, without
/// `--ip`, use the static address (a new TAP has no DHCP server). Says what
/// it did and where the web UI is.
fn first_run(tap: &Tap, cli: &Cli) -> Result<FirstRun, String> {
    let fallback = <ember_device::Device as Config>::STATIC_IPV4;
    let device = cli.ip.or(fallback.map(|s| s.cidr));
    let gateway = cli.gateway.or(fallback.and_then(|s| s.gateway));
    let (Some(device), Some(gateway)) = (device, gateway) else {
        return Err(format!(
            "created TAP {} but know no address for it: pass --ip A.B.C.D/N --gateway G",
            cli.tap
        ));
    };
    tap.set_link_up().map_err(|e| e.to_string())?;
    tap.set_host_address(gateway.0, device.prefix_len)
        .map_err(|e| e.to_string())?;
    let static_address = cli.ip.is_none() && !cli.no_dhcp;
    println!(
        "device: created TAP {} (up, host side {gateway}/{}); the device is {} — open http://{}/",
        cli.tap, device.prefix_len, device, device.address
    );
    if static_address {
        println!("device: a new TAP has no DHCP server: using the static address of stack.toml");
    }
    Ok(FirstRun { static_address })
}

/// A delay for the driver's reset wait.
struct StdDelay;
impl embedded_hal::delay::DelayNs for StdDelay {
    fn delay_ns(&mut self, ns: u32) {
        std::thread::sleep(Duration::from_nanos(u64::from(ns)));
    }
}

/// Runs the device with configuration `C` on the chosen controller.
fn start<C: Config>(
    nic: HostNic,
    kind: NicKind,
    options: Options,
    names: Names,
    pcap: Option<String>,
    stop: Arc<AtomicBool>,
) -> ExitCode
where
    C::Dns: Lookups,
    C::Sntp: TimeSync,
    C::Dhcp: LeaseClient,
    C::Smtp: SmtpPart,
    C::Pop3: Pop3Part,
{
    match kind {
        NicKind::Tap => serve::<C, _>(nic, options, &names, pcap, &stop, |n, d| n.wait(d), |_| {}),
        NicKind::Enc28j60 => {
            // The chip filters on the station address: stack and chip
            // must use the same one.
            let mac = options.mac.unwrap_or(C::MAC);
            let mut driver = Enc28j60::new(Model::new(nic));
            let config = enc28j60::Config {
                mac: mac.0,
                ..enc28j60::Config::default()
            };
            match driver.init(config, &mut StdDelay) {
                Ok(rev) => println!(
                    "enc28j60: revision {rev:#04x}, receive ring {} bytes, link {}",
                    driver.layout().rx_len(),
                    if driver.link_up() { "up" } else { "down" }
                ),
                Err(e) => {
                    eprintln!("device: enc28j60 init failed: {e:?}");
                    return ExitCode::from(1);
                }
            }
            let options = Options {
                mac: Some(mac),
                ..options
            };
            serve::<C, _>(
                driver,
                options,
                &names,
                pcap,
                &stop,
                |n, d| n.spi_mut().wire_mut().wait(d),
                report_enc28j60,
            )
        }
    }
}

/// The SPI traffic and the driver's and chip's counters, at exit.
fn report_enc28j60(n: &mut Enc28j60<Model<HostNic>>) {
    let (rx_errors, rx_resets, tx_errors) = (n.rx_errors(), n.rx_resets(), n.tx_errors());
    let m = n.spi();
    let (spi, st) = (m.spi(), m.stats());
    println!(
        "enc28j60: spi {} transactions {} bytes; rx {} frames tx {} frames; \
         overflows {} rx errors {rx_errors} rx resets {rx_resets} tx errors {tx_errors}; \
         errata violations {:?}",
        spi.transactions,
        spi.bytes,
        st.rx_frames,
        st.tx_frames,
        st.rx_overflows,
        m.violations()
    );
}

/// Runs the device on `nic`, recording to a pcap if asked; `after` sees
/// the controller once the loop has stopped.
fn serve<C: Config, N: Nic>(
    nic: N,
    options: Options,
    names: &Names,
    pcap: Option<String>,
    stop: &AtomicBool,
    wait: impl Fn(&mut N, Duration) -> std::io::Result<bool>,
    after: impl FnOnce(&mut N),
) -> ExitCode
where
    C::Dns: Lookups,
    C::Sntp: TimeSync,
    C::Dhcp: LeaseClient,
    C::Smtp: SmtpPart,
    C::Pop3: Pop3Part,
{
    match pcap {
        Some(path) => {
            let file = match std::fs::File::create(&path) {
                Ok(f) => std::io::BufWriter::new(f),
                Err(e) => {
                    eprintln!("device: cannot create {path}: {e}");
                    return ExitCode::from(1);
                }
            };
            let mut nic = match Pcap::new(nic, file) {
                Ok(n) => n,
                Err(e) => {
                    eprintln!("device: cannot write {path}: {e}");
                    return ExitCode::from(1);
                }
            };
            run::<C, _>(&mut nic, options, names, stop, |n, d| {
                wait(n.inner_mut(), d)
            });
            after(nic.inner_mut());
            if let Err(e) = nic.flush() {
                eprintln!("device: pcap flush failed: {e}");
            }
        }
        None => {
            let mut nic = nic;
            run::<C, _>(&mut nic, options, names, stop, wait);
            after(&mut nic);
        }
    }
    ExitCode::SUCCESS
}

/// The main loop: poll until idle, then sleep on the TAP until a frame
/// arrives or the stack's next deadline (at most 100 ms, to notice Ctrl-C).
fn run<C: Config, N: Nic>(
    nic: &mut N,
    options: Options,
    names: &Names,
    stop: &AtomicBool,
    wait: impl Fn(&mut N, Duration) -> std::io::Result<bool>,
) where
    C::Dns: Lookups,
    C::Sntp: TimeSync,
    C::Dhcp: LeaseClient,
    C::Smtp: SmtpPart,
    C::Pop3: Pop3Part,
{
    let start = std::time::Instant::now();
    let now = || Instant::from_millis(start.elapsed().as_millis() as u64);
    let mut device = ReferenceDevice::<C, _>::new(options, Stdout);
    if let Some(server) = names.sntp_server {
        device.start_sntp(server);
    }
    for name in &names.resolve {
        device.resolve(name);
    }
    for domain in &names.resolve_mx {
        device.resolve_mx(domain);
    }
    while !stop.load(Ordering::SeqCst) {
        // Bounded: at most 64 busy rounds before checking the stop flag.
        // The clock is read each round: a slow round must not leave timers
        // looking earlier than they are.
        let mut rounds = 0;
        while device.poll(now(), nic) && rounds < 64 {
            rounds += 1;
        }
        let t = now();
        let sleep = match device.poll_at(t) {
            Some(at) => Duration::from_millis(at.since(t).millis().min(100)),
            None => Duration::from_millis(100),
        };
        flush_log();
        if !sleep.is_zero() {
            if let Err(e) = wait(nic, sleep) {
                println!("device: wait failed: {e}");
                break;
            }
        }
    }
    QUIET.store(false, Ordering::Relaxed);
    device.log_counters();
    flush_log();
    println!("device: stopped");
}
