//! TCP against the Linux kernel over the TAP: 10 MB each way byte-exact
//! (socat as sender and sink), the same under the stack's seeded fault
//! injection in both retransmission modes, six concurrent clients on one
//! port with a seventh served once one leaves, the device as client, and
//! services that neither a SYN flood from spoofed addresses nor an idle
//! client can take away.

mod harness;

use harness::tcp::{transfer, under_faults, Run};
use harness::Netns;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

#[test]
fn ten_megabytes_each_way() {
    let dev = transfer(
        "tcp10",
        Run {
            down: true,
            up: true,
            device_args: &[],
            kernel_rto_min: None,
            limit: Duration::from_secs(120),
        },
    );
    let (status, log) = dev.stop();
    assert_eq!(status, Some(0));
    assert!(!log.iter().any(|l| l.contains("regeneration mismatch")));
}

#[test]
fn ten_megabytes_each_way_under_faults_regenerate() {
    under_faults("tcpfr", &["--config", "regenerate-w4"]);
}

#[test]
fn ten_megabytes_each_way_under_faults_buffer() {
    under_faults("tcpfb", &["--config", "buffer-w4"]);
}

/// Sends `msg` and reads the echo.
fn echo(s: &mut TcpStream, msg: &[u8]) {
    s.write_all(msg).expect("write");
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got).expect("read echo");
    assert_eq!(got, msg);
}

#[test]
fn six_clients_on_one_port_then_a_seventh_once_one_leaves() {
    let ns = Netns::new("tcp7");
    let ip = format!("{}/24", ns.device_ip());
    let dev = ns.spawn_device(&["--ip", &ip]);
    dev.wait_for("arp: announced", Duration::from_secs(10));
    let addr = SocketAddr::from((ns.device_ip(), 7));
    ns.run_inside(move || {
        let limit = Duration::from_secs(5);
        let mut six: Vec<TcpStream> = (0..6)
            .map(|i| {
                let mut s = TcpStream::connect_timeout(&addr, limit).expect("connect");
                s.set_read_timeout(Some(limit)).expect("timeout");
                echo(&mut s, format!("client {i}").as_bytes());
                s
            })
            .collect();
        // All six echo sockets are taken: a seventh SYN is not answered
        // (no RST either: the client keeps retrying its SYN).
        let refused = TcpStream::connect_timeout(&addr, Duration::from_millis(800));
        assert!(
            matches!(&refused, Err(e) if e.kind() == std::io::ErrorKind::TimedOut),
            "seventh connection must wait, got {refused:?}"
        );
        // Start a seventh that waits in SYN retry, then free a socket.
        // (The clock starts before the thread: the socket is freed 300 ms
        // after this, and a waiter timing itself from its own start could
        // see less when the remembered SYN is served at once.)
        let started = Instant::now();
        let waiter = std::thread::spawn(move || {
            let mut s =
                TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("seventh served");
            s.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            echo(&mut s, b"seventh");
            started.elapsed()
        });
        std::thread::sleep(Duration::from_millis(300));
        drop(six.remove(0));
        let waited = waiter.join().expect("seventh thread");
        assert!(
            waited >= Duration::from_millis(300),
            "it waited for a free socket"
        );
        // The others were never mixed up with it.
        for (i, s) in six.iter_mut().enumerate() {
            echo(s, format!("still client {}", i + 1).as_bytes());
        }
    });
    let (status, log) = dev.stop();
    assert_eq!(status, Some(0));
    let connected = log
        .iter()
        .filter(|l| l.contains("(echo)") && l.starts_with("tcp: connected"))
        .count();
    assert_eq!(connected, 7, "seven echo connections in all");
}

/// A flood of SYNs from spoofed addresses leaves every web socket half-open;
/// a real client is still answered on its first SYN (the client kernel
/// retransmits no SYN), and the page loads.
#[test]
fn spoofed_syns_never_lock_out_the_web_ui() {
    let ns = Netns::new("tcpflood");
    let ip = format!("{}/24", ns.device_ip());
    let dev = ns.spawn_device(&["--ip", &ip]);
    dev.wait_for("arp: announced", Duration::from_secs(10));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/syn_flood.py");
    let dst = ns.device_ip().to_string();
    let prefix = {
        let o = ns.device_ip().octets();
        format!("{}.{}.{}", o[0], o[1], o[2])
    };
    let syn_retries = || -> u64 {
        let o = ns.exec(
            "nstat",
            &["-asz", "TcpExtTCPSynRetrans"],
            Duration::from_secs(5),
        );
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("TcpExtTCPSynRetrans"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    for round in 0..3 {
        let o = ns.exec(
            "python3",
            &[script, &dst, "80", "300", &prefix],
            Duration::from_secs(20),
        );
        assert!(
            o.status.success(),
            "flood: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let before = syn_retries();
        let addr = SocketAddr::from((ns.device_ip(), 80));
        let started = Instant::now();
        let page = ns.run_inside(move || {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            s.write_all(b"GET /status.json HTTP/1.0\r\n\r\n")
                .expect("request");
            let mut got = Vec::new();
            let _ = s.read_to_end(&mut got);
            got
        });
        let took = started.elapsed();
        assert!(
            page.starts_with(b"HTTP/1.1 200 OK"),
            "round {round}: {:?}",
            String::from_utf8_lossy(&page)
        );
        assert_eq!(
            syn_retries() - before,
            0,
            "round {round}: the client had to retry its SYN ({took:?})"
        );
    }
    let (status, log) = dev.stop();
    assert_eq!(status, Some(0));
    assert!(
        log.iter().any(|l| l.contains("tcp-no-socket")),
        "the flood found every socket busy"
    );
}

/// One client holds the only discard socket without sending anything; a
/// second client waits in its SYN and is served once the first has been
/// idle for `[tcp] reclaim_idle_ms` (10 s), which resets the idle one.
#[test]
fn an_idle_client_cannot_hold_a_service_while_another_waits() {
    let ns = Netns::new("tcpidle");
    let ip = format!("{}/24", ns.device_ip());
    let dev = ns.spawn_device(&["--ip", &ip]);
    dev.wait_for("arp: announced", Duration::from_secs(10));
    let addr = SocketAddr::from((ns.device_ip(), 9));
    let (waited, idle_end) = ns.run_inside(move || {
        let mut idle = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("first");
        idle.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let started = Instant::now();
        let mut second =
            TcpStream::connect_timeout(&addr, Duration::from_secs(20)).expect("second served");
        let waited = started.elapsed();
        second.write_all(b"discard me").expect("write");
        let mut buf = [0u8; 1];
        let idle_end = idle.read(&mut buf).map_err(|e| e.kind());
        (waited, idle_end)
    });
    assert!(
        (Duration::from_secs(9)..Duration::from_secs(16)).contains(&waited),
        "the second client waited {waited:?}"
    );
    assert_eq!(idle_end, Err(std::io::ErrorKind::ConnectionReset));
    dev.wait_for("tcp: reclaimed", Duration::from_secs(5));
}
