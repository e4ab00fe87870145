//! TCP against the Linux kernel over the TAP: 10 MB each way byte-exact
//! (socat as sender and sink), the same under the stack's seeded fault
//! injection in both retransmission modes, six concurrent clients on one
//! port with a seventh served once one leaves, and the device as client.

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
        let waiter = std::thread::spawn(move || {
            let started = Instant::now();
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
