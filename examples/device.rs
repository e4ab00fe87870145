//! The reference device on a Linux TAP.
//!
//! ```text
//! cargo run --example device -- --tap tap0 [--ip 10.78.0.2/24 --gateway 10.78.0.1]
//!     [--dns D] [--no-dhcp] [--mac 02:00:00:00:00:02] [--pcap run.pcap]
//! ```
//! The address comes from DHCP unless `--ip` gives one (or `--no-dhcp`
//! selects the static settings from `stack.toml`). Logs one line per event
//! (`dhcp: ...`, `arp: ...`, `icmp: ...`, `udp: ...`) and prints the
//! counters on Ctrl-C or SIGTERM, then exits 0.

use ember_device::{Log, Options, ReferenceDevice};
use emberstack::config::StaticIpv4;
use emberstack::nic::pcap::Pcap;
use emberstack::nic::tap::Tap;
use emberstack::nic::Nic;
use emberstack::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};
use emberstack::Instant;
use std::fmt;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

struct Stdout;
impl Log for Stdout {
    fn line(&mut self, args: fmt::Arguments<'_>) {
        println!("{args}");
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
    no_dhcp: bool,
}

const USAGE: &str = "usage: device [--tap NAME] [--ip A.B.C.D/N] [--gateway G] [--dns D] \
                     [--no-dhcp] [--mac M] [--pcap FILE]";

fn parse_ip(s: &str) -> Result<Ipv4Address, String> {
    s.parse::<std::net::Ipv4Addr>()
        .map(|a| Ipv4Address(a.octets()))
        .map_err(|_| format!("not an IPv4 address: {s}"))
}

fn parse_cli() -> Result<Cli, String> {
    let mut cli = Cli {
        tap: "tap0".into(),
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
            "--no-dhcp" => cli.no_dhcp = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(cli)
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
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        ^ u64::from(std::process::id());
    let options = Options {
        mac: cli.mac,
        ipv4,
        no_dhcp: cli.no_dhcp,
        seed,
    };
    println!("device: tap {}", cli.tap);
    match cli.pcap {
        Some(path) => {
            let file = match std::fs::File::create(&path) {
                Ok(f) => std::io::BufWriter::new(f),
                Err(e) => {
                    eprintln!("device: cannot create {path}: {e}");
                    return ExitCode::from(1);
                }
            };
            let mut nic = match Pcap::new(tap, file) {
                Ok(n) => n,
                Err(e) => {
                    eprintln!("device: cannot write {path}: {e}");
                    return ExitCode::from(1);
                }
            };
            run(&mut nic, options, &stop, |n, d| n.inner().wait(d));
            if let Err(e) = nic.flush() {
                eprintln!("device: pcap flush failed: {e}");
            }
        }
        None => {
            let mut nic = tap;
            run(&mut nic, options, &stop, |n, d| n.wait(d));
        }
    }
    ExitCode::SUCCESS
}

/// The main loop: poll until idle, then sleep on the TAP until a frame
/// arrives or the stack's next deadline (at most 100 ms, to notice Ctrl-C).
fn run<N: Nic>(
    nic: &mut N,
    options: Options,
    stop: &AtomicBool,
    wait: impl Fn(&N, Duration) -> std::io::Result<bool>,
) {
    let start = std::time::Instant::now();
    let now = || Instant::from_millis(start.elapsed().as_millis() as u64);
    let mut device = ReferenceDevice::new(options, Stdout);
    while !stop.load(Ordering::SeqCst) {
        let t = now();
        // Bounded: at most 64 busy rounds before checking the stop flag.
        let mut rounds = 0;
        while device.poll(t, nic) && rounds < 64 {
            rounds += 1;
        }
        let t = now();
        let sleep = match device.poll_at(t) {
            Some(at) => Duration::from_millis(at.since(t).millis().min(100)),
            None => Duration::from_millis(100),
        };
        if !sleep.is_zero() {
            if let Err(e) = wait(nic, sleep) {
                println!("device: wait failed: {e}");
                break;
            }
        }
    }
    device.log_counters();
    println!("device: stopped");
}
