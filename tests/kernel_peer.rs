//! The foundation against the real Linux kernel in a network namespace:
//! ARP both ways, ICMP echo of every size class with payload checked, UDP
//! echo with content checked, and a closed port.

mod harness;

use harness::{require_tool, Netns};
use std::net::UdpSocket;
use std::time::Duration;

const SECS: fn(u64) -> Duration = Duration::from_secs;

fn start(ns: &Netns) -> harness::DeviceProc {
    let ip = format!("{}/24", ns.device_ip());
    let gw = ns.host_ip().to_string();
    let dev = ns.spawn_device(&["--ip", &ip, "--gateway", &gw]);
    dev.wait_for("arp: announced", SECS(10));
    dev
}

#[test]
fn ping_every_size_class_with_pattern() {
    require_tool("ping", "iputils-ping");
    let ns = Netns::new("ping");
    let dev = start(&ns);
    // 200 sizes spread over 0..=1472 (the largest without fragmentation),
    // including the edges, each with its own fill pattern.
    let mut sizes: Vec<usize> = (0..200).map(|i| i * 1472 / 199).collect();
    sizes.extend([1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1471]);
    harness::ping_sizes(&ns, &sizes);
    let (status, log) = dev.stop();
    assert_eq!(status, Some(0), "device exit; log:\n{}", log.join("\n"));
    let replies = log
        .iter()
        .filter(|l| l.starts_with("icmp: echo reply"))
        .count();
    assert_eq!(replies, sizes.len(), "one echo reply per ping");
    assert!(
        log.iter().any(|l| l.starts_with("counters: in ")),
        "counters printed at exit"
    );
}

#[test]
fn arp_both_ways() {
    require_tool("ping", "iputils-ping");
    let ns = Netns::new("arp");
    let dev = start(&ns);
    // The kernel learns the device's MAC by asking for it.
    let out = ns.exec(
        "ping",
        &["-c", "1", "-W", "2", &ns.device_ip().to_string()],
        SECS(5),
    );
    assert!(out.status.success(), "ping failed");
    let neigh = ns.neighbour(ns.device_ip());
    assert!(
        neigh.contains("lladdr 02:00:00:00:00:02"),
        "kernel neighbour entry for the device: {neigh:?}"
    );
    // The device learned the kernel's MAC from that request (RFC 826 merge)
    // and logs it; the MAC it logs is the TAP's.
    let learned = dev.wait_for(&format!("arp: learned {}", ns.host_ip()), SECS(5));
    let link = ns.exec("ip", &["-o", "link", "show", "tap0"], SECS(5));
    let link = String::from_utf8_lossy(&link.stdout).to_string();
    let mac = link
        .split("link/ether ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("tap0 MAC");
    assert!(
        learned.ends_with(mac),
        "device learned {learned:?}, TAP MAC is {mac}"
    );
}

#[test]
fn udp_echo_thousand_datagrams_and_closed_port() {
    let ns = Netns::new("udp");
    let dev = start(&ns);
    let device = ns.device_ip();
    let host = ns.host_ip();
    let (echoed, unreachable) = ns.run_inside(move || {
        let sock = UdpSocket::bind((host, 0)).expect("bind");
        sock.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let mut buf = vec![0u8; 2048];
        let mut echoed = 0;
        for i in 0..1000usize {
            let len = (i * 37) % 1473;
            let msg: Vec<u8> = (0..len).map(|j| ((i * 31 + j * 7) % 256) as u8).collect();
            sock.send_to(&msg, (device, 7)).expect("send");
            let (n, from) = sock
                .recv_from(&mut buf)
                .unwrap_or_else(|e| panic!("datagram {i} ({len} bytes) not echoed: {e}"));
            assert_eq!(from, (device, 7).into(), "reply source");
            assert_eq!(&buf[..n], &msg[..], "datagram {i} content");
            echoed += 1;
        }
        // A closed port: the device answers ICMP port unreachable, which
        // Linux reports on a connected socket as ECONNREFUSED.
        let c = UdpSocket::bind((host, 0)).expect("bind");
        c.connect((device, 9999)).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        c.send(b"anyone?").expect("send");
        let err = c
            .recv(&mut buf)
            .expect_err("closed port must not answer with data");
        (echoed, err.kind() == std::io::ErrorKind::ConnectionRefused)
    });
    assert_eq!(echoed, 1000);
    assert!(
        unreachable,
        "closed port answered with ICMP port unreachable"
    );
    dev.wait_for("udp: port 9999 closed", SECS(5));
    let (status, log) = dev.stop();
    assert_eq!(status, Some(0));
    assert!(
        log.iter().any(|l| l == "counters: drop udp-no-socket 1"),
        "closed-port datagram counted; log tail:\n{}",
        log[log.len().saturating_sub(20)..].join("\n")
    );
}
