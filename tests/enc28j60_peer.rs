//! The reference device through the ENC28J60 driver and the register-level
//! chip model (`device --nic enc28j60`: stack → driver → SPI → model →
//! TAP), against the real kernel, curl and dnsmasq: ping of every size up to
//! 1472, 1 MiB of TCP echo byte-exact, 10 MB each way under 10 % loss (with
//! reordering and duplication), the web UI to curl, a DHCP lease. Each run
//! also checks the model saw no errata violation and the driver no bad
//! frame, and prints the SPI traffic (README, ENC28J60).

mod harness;

use harness::tcp::{echo_bulk, under_faults};
use harness::{ping_sizes, require_tool, web_file, DeviceProc, Netns};
use std::time::Duration;

const SECS: fn(u64) -> Duration = Duration::from_secs;
/// The device arguments that put the ENC28J60 path under the stack.
const NIC: [&str; 2] = ["--nic", "enc28j60"];

/// The device at 10.A.B.2 on the ENC28J60 path, once it announced itself.
fn start(ns: &Netns) -> DeviceProc {
    let ip = format!("{}/24", ns.device_ip());
    let gw = ns.host_ip().to_string();
    let mut args = vec!["--ip", &ip, "--gateway", &gw];
    args.extend(NIC);
    let dev = ns.spawn_device(&args);
    let chip = dev.wait_for("enc28j60: revision", SECS(10));
    assert!(
        chip.contains("revision 0x06") && chip.ends_with("link up"),
        "{chip}"
    );
    dev.wait_for("arp: announced", SECS(10));
    dev
}

/// Stops the device and checks the driver and model counters it printed:
/// no errata violation, no bad frame, no ring reset. Returns the log.
fn finish(dev: DeviceProc) -> Vec<String> {
    let (status, log) = dev.stop();
    assert_eq!(status, Some(0), "device exit; log tail:\n{}", tail(&log));
    check_counters(&log);
    log
}

fn tail(log: &[String]) -> String {
    log[log.len().saturating_sub(20)..].join("\n")
}

fn check_counters(log: &[String]) {
    let spi = log
        .iter()
        .find(|l| l.starts_with("enc28j60: spi "))
        .unwrap_or_else(|| panic!("SPI counters printed at exit:\n{}", tail(log)));
    eprintln!("{spi}");
    assert!(
        spi.contains("rx errors 0 rx resets 0 tx errors 0;"),
        "driver counters: {spi}"
    );
    assert!(
        spi.ends_with(
            "errata violations Violations { even_erxrdpt: 0, rx_not_at_zero: 0, \
             bit_op_on_mac: 0 }"
        ),
        "model: {spi}"
    );
}

#[test]
fn ping_every_size_to_1472() {
    let ns = Netns::new("encping");
    let dev = start(&ns);
    let sizes: Vec<usize> = (0..=1472).collect();
    ping_sizes(&ns, &sizes);
    let log = finish(dev);
    let replies = log
        .iter()
        .filter(|l| l.starts_with("icmp: echo reply"))
        .count();
    assert_eq!(replies, sizes.len(), "one echo reply per ping");
}

#[test]
fn tcp_echo_one_mebibyte_byte_exact() {
    let ns = Netns::new("encecho");
    let dev = start(&ns);
    echo_bulk(&ns, 1 << 20, SECS(60));
    finish(dev);
}

/// As tcp_peer.rs runs it on the TAP (window 4, regenerated
/// retransmissions), with the fault injector between the chip and the TAP.
#[test]
fn ten_megabytes_each_way_under_ten_percent_loss() {
    under_faults("encf", &[&NIC[..], &["--config", "regenerate-w4"]].concat());
}

#[test]
fn web_ui_to_curl() {
    require_tool("curl", "curl");
    let ns = Netns::new("encweb");
    let dev = start(&ns);
    let url = |path: &str| format!("http://{}{path}", ns.device_ip());
    let page = ns.exec("curl", &["-sf", &url("/")], SECS(30));
    let body = String::from_utf8_lossy(&page.stdout);
    assert!(page.status.success(), "GET /: {body}");
    assert!(body.contains("<title>EMBER · Status</title>"), "{body}");
    // Static files, one of them several segments long, byte-exact; three
    // requests on one connection.
    let o = ns.exec(
        "curl",
        &[
            "-sfv",
            &url("/style.css"),
            &url("/favicon.ico"),
            &url("/app.js"),
        ],
        SECS(30),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(
        err.matches("Re-using existing connection").count(),
        2,
        "{err}"
    );
    let expected = [
        web_file("style.css"),
        web_file("favicon.ico"),
        web_file("app.js"),
    ]
    .concat();
    assert_eq!(o.stdout, expected, "bodies byte-exact");
    finish(dev);
}

#[test]
fn dhcp_lease_from_dnsmasq() {
    require_tool("dnsmasq", "dnsmasq-base");
    let mut ns = Netns::new("encdhcp");
    let dir = harness::Scratch::new(&ns);
    harness::peers::start_dnsmasq(&mut ns, &dir.path("leases"), &dir.path("pid"));
    harness::peers::wait_file(&dir.path("pid"), "dnsmasq pid file");
    let dev = ns.spawn_device(&NIC);
    let line = dev.wait_for("dhcp: bound", SECS(30));
    let addr: std::net::Ipv4Addr = line
        .split_whitespace()
        .nth(2)
        .and_then(|a| a.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("address in {line:?}"));
    assert!(
        (ns.addr(100)..=ns.addr(150)).contains(&addr),
        "{line} in the pool"
    );
    dev.wait_for(&format!("arp: announced {addr}"), SECS(5));
    let ping = ns.exec("ping", &["-c", "1", "-W", "2", &addr.to_string()], SECS(10));
    assert!(ping.status.success(), "the kernel pings {addr}");
    let leases = std::fs::read_to_string(dir.path("leases")).unwrap_or_default();
    assert!(
        leases.contains(&format!("02:00:00:00:00:02 {addr} EMBER")),
        "dnsmasq leased to the chip's MAC: {leases}"
    );
    finish(dev);
}
