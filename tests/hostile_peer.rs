//! A hostile host on the device's LAN (issue 15): raw frames written into
//! the TAP's kernel side by `tests/peers/hostile.py`, and what the running
//! device sends back. Impossible sources get no answer, UDP echo is no
//! reflector and starts no loop, an ARP flood evicts nothing the device
//! uses and costs a bounded number of log lines.

mod harness;

use harness::peers::peer_script;
use harness::{require_tool, DeviceProc, Netns, PY};
use std::time::Duration;

const SECS: fn(u64) -> Duration = Duration::from_secs;
const DEV_MAC: &str = "02:00:00:00:15:02";

fn start(ns: &Netns, extra: &[&str]) -> DeviceProc {
    let ip = format!("{}/24", ns.device_ip());
    let gw = ns.host_ip().to_string();
    let mut args = vec!["--ip", &ip, "--gateway", &gw, "--mac", DEV_MAC];
    args.extend_from_slice(extra);
    let dev = ns.spawn_device(&args);
    dev.wait_for("arp: announced", SECS(10));
    dev
}

/// Runs hostile.py MODE in the namespace; returns its stdout lines.
fn hostile(ns: &Netns, mode: &str, extra: &[&str]) -> Vec<String> {
    require_tool("python3", "python3");
    let script = peer_script("hostile.py");
    let (dev, host) = (ns.device_ip().to_string(), ns.host_ip().to_string());
    let mut args = vec![
        script.as_str(),
        mode,
        "--dev-ip",
        &dev,
        "--dev-mac",
        DEV_MAC,
        "--host-ip",
        &host,
    ];
    args.extend_from_slice(extra);
    let out = ns.exec(PY, &args, SECS(60));
    assert!(
        out.status.success(),
        "hostile.py {mode} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn counter(log: &[String], reason: &str) -> u32 {
    let key = format!("counters: drop {reason} ");
    log.iter()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn impossible_sources_get_no_answer() {
    let ns = Netns::new("badsrc");
    let dev = start(&ns, &[]);
    let out = hostile(&ns, "bad-sources", &[]);
    let (status, log) = dev.stop();
    assert_eq!(status, Some(0), "device exit; log:\n{}", log.join("\n"));
    let answered: Vec<_> = out.iter().filter(|l| l.starts_with("answered")).collect();
    assert!(
        answered.is_empty(),
        "the device answered impossible sources:\n{}",
        answered
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        out.iter().any(|l| l == "control ok"),
        "the real host was not answered (so the capture proves nothing): {out:?}"
    );
    // 8 sources × 5 probes, each dropped and counted under its reason.
    let bad = counter(&log, "bad-source");
    assert!(
        bad >= 40,
        "bad-source drops {bad}; log:\n{}",
        log.join("\n")
    );
}

#[test]
fn udp_echo_is_no_reflector_and_starts_no_loop() {
    let ns = Netns::new("echoloop");
    let dev = start(&ns, &[]);
    let out = hostile(&ns, "echo-loops", &[]);
    let (status, log) = dev.stop();
    assert_eq!(status, Some(0), "device exit; log:\n{}", log.join("\n"));
    let answered: Vec<_> = out.iter().filter(|l| l.starts_with("answered")).collect();
    assert!(
        answered.is_empty(),
        "UDP echo answered a service port or a broadcast: {answered:?}"
    );
    assert!(
        out.iter().any(|l| l == "control ok"),
        "an echo from an ephemeral port was not answered: {out:?}"
    );
    assert!(
        log.iter().any(|l| l.starts_with("udp: echo refused")),
        "refusals are logged; log:\n{}",
        log.join("\n")
    );
}

#[test]
fn arp_flood_evicts_nothing_and_logs_little() {
    let ns = Netns::new("arpflood");
    let host = ns.host_ip().to_string();
    // The lookup's retry (2 s after the first query: [dns] timeout) is a
    // packet to the host after the flood: the device needs its MAC again.
    let dev = start(&ns, &["--dns", &host, "--resolve", "flood.test"]);
    let out = hostile(&ns, "arp-flood", &["--count", "60"]);
    let (status, log) = dev.stop();
    assert_eq!(status, Some(0), "device exit; log:\n{}", log.join("\n"));
    assert!(
        out.iter().any(|l| l == "retry seen"),
        "no DNS retry seen after the flood: {out:?}"
    );
    assert!(
        !out.iter().any(|l| l == "rearp"),
        "the flood evicted the host's ARP entry (the device asked for it again): {out:?}"
    );
    // Every request is still answered (one reply per request: no
    // amplification), but the log does not grow with the flood.
    let replies: usize = out
        .iter()
        .find_map(|l| l.strip_prefix("flood replies "))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(replies >= 55, "ARP replies to the flood: {replies}");
    let arp_lines = log.iter().filter(|l| l.starts_with("arp: ")).count();
    assert!(
        arp_lines <= 30,
        "{arp_lines} arp: lines for a 60-frame flood; log:\n{}",
        log.join("\n")
    );
}

/// Sends `request` to the device's web server from inside the namespace
/// and returns the response (read until the server closes, at most 5 s).
fn http_raw(ns: &Netns, request: String) -> String {
    let addr = std::net::SocketAddr::from((ns.device_ip(), 80));
    ns.run_inside(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect_timeout(&addr, SECS(5)).expect("connect");
        s.set_read_timeout(Some(SECS(5))).expect("timeout");
        s.write_all(request.as_bytes()).expect("send");
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    })
}

#[test]
fn log_lines_cannot_be_forged() {
    let ns = Netns::new("logforge");
    let dev = start(&ns, &[]);
    dev.wait_for("http: listening", SECS(5));
    let host = ns.device_ip();
    let resp = http_raw(
        &ns,
        format!(
            "GET /a%0Aforged:%20line%0D%1B[2K%E2%80%A8x HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert!(resp.starts_with("HTTP/1.1 404"), "response: {resp}");
    let line = dev.wait_for("http: GET /a", SECS(5));
    let (status, log) = dev.stop();
    assert_eq!(status, Some(0), "device exit; log:\n{}", log.join("\n"));
    assert!(
        !log.iter().any(|l| l.starts_with("forged")),
        "a decoded %0A started a log line; log:\n{}",
        log.join("\n")
    );
    assert!(
        line.contains(r"/a\x0aforged: line\x0d\x1b[2K\u{2028}x 404"),
        "the path is logged escaped: {line}"
    );
}
