//! Raw IPv4 sockets against the Linux kernel in a network namespace: a
//! Python raw-socket peer (IP protocol 253, RFC 3692 experimental) sends
//! the reference device packets of 0 to 1480 bytes; the device's raw
//! socket receives them (streamed from the NIC) and sends each payload
//! back, the stack filling in the IP total length and header checksum,
//! which the peer checks with the payload. A protocol without a socket is
//! dropped and counted; a broadcast is not echoed.

mod harness;

use harness::peers::peer_script;
use harness::{require_tool, Netns};
use std::time::Duration;

const SECS: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn protocol_253_echo_through_a_raw_socket() {
    require_tool("python3", "python3");
    let ns = Netns::new("raw");
    let ip = format!("{}/24", ns.device_ip());
    let gw = ns.host_ip().to_string();
    let dev = ns.spawn_device(&["--ip", &ip, "--gateway", &gw]);
    dev.wait_for("arp: announced", SECS(10));
    let target = ns.device_ip().to_string();
    let bcast = ns.addr(255).to_string();
    let out = ns.exec(
        "python3",
        &[&peer_script("raw_peer.py"), &target, &bcast],
        SECS(30),
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "ok 0",
        "ok 1",
        "ok 100",
        "ok 1480",
        "none 254",
        "none broadcast",
    ] {
        assert!(text.lines().any(|l| l == want), "{want} in:\n{text}");
    }
    let (status, log) = dev.stop();
    assert_eq!(status, Some(0));
    let host = ns.host_ip();
    for size in [0, 1, 100, 1480] {
        let line = format!("raw: echo {size} bytes to {host} (protocol 253)");
        assert!(log.contains(&line), "{line} in {log:#?}");
    }
    assert_eq!(
        log.iter().filter(|l| l.starts_with("raw: echo")).count(),
        4,
        "the broadcast was not echoed"
    );
    assert!(
        log.iter().any(|l| l == "counters: drop unknown-protocol 1"),
        "{log:#?}"
    );
}
