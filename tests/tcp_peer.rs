//! TCP against the Linux kernel over the TAP: 10 MB each way byte-exact
//! (socat as sender and sink), the same under the stack's seeded fault
//! injection in both retransmission modes, six concurrent clients on one
//! port with a seventh served once one leaves, the device as client, and
//! services that neither a SYN flood from spoofed addresses nor an idle
//! client can take away.

mod harness;

use ember_device::tcp_services::{crc32_update, pattern_byte};
use harness::{require_tool, DeviceProc, Netns};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const MB10: usize = 10 * 1024 * 1024;

/// A child process killed on drop (socat sinks).
struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Deterministic pseudo-random bytes (xorshift), so a failure reproduces.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("es-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Waits until `path` holds `len` bytes and `child` exited, bounded.
fn wait_file(child: &mut Guard, path: &Path, len: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let size = std::fs::metadata(path)
            .map(|m| m.len() as usize)
            .unwrap_or(0);
        let exited = matches!(child.0.try_wait(), Ok(Some(_)));
        if size >= len && exited {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "sink {} has {size} of {len} bytes after {limit:?} (exited: {exited})",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Which transfers a run makes.
struct Run<'a> {
    /// Kernel → device discard (CRC logged by the device).
    down: bool,
    /// Device → kernel sink (compared byte by byte).
    up: bool,
    device_args: &'a [&'a str],
    /// Lowers the kernel's minimum RTO on the TAP route (`ip route ...
    /// rto_min`), see `ten_megabytes_each_way_under_faults`.
    kernel_rto_min: Option<&'a str>,
    limit: Duration,
}

/// Runs 10 MB each way at once (as asked by `run`).
fn transfer(tag: &str, run: Run<'_>) -> DeviceProc {
    let Run {
        down,
        up,
        device_args,
        kernel_rto_min,
        limit,
    } = run;
    require_tool("socat", "socat");
    let ns = Netns::new(tag);
    if let Some(rto) = kernel_rto_min {
        let net = format!("10.{}.{}.0/24", ns.net[0], ns.net[1]);
        let out = ns.exec(
            "ip",
            &[
                "route",
                "change",
                &net,
                "dev",
                "tap0",
                "proto",
                "kernel",
                "scope",
                "link",
                "src",
                &ns.host_ip().to_string(),
                "rto_min",
                rto,
            ],
            Duration::from_secs(5),
        );
        assert!(
            out.status.success(),
            "ip route rto_min: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dir = temp_dir(tag);
    let src = dir.join("src.bin");
    let data = noise(MB10, 0x5eed_0000 ^ tag.len() as u64);
    std::fs::write(&src, &data).expect("write source");
    let sink = dir.join("sink.bin");
    let host = ns.host_ip();
    let device = ns.device_ip();
    let listen = format!("TCP-LISTEN:5001,bind={host},reuseaddr");
    let mut sink_proc = Guard(
        ns.command("socat")
            .args([
                "-u",
                &listen,
                &format!("OPEN:{},creat,trunc", sink.display()),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("socat sink"),
    );
    // Let the sink listen before the device connects.
    std::thread::sleep(Duration::from_millis(200));
    let ip = format!("{device}/24");
    let target = format!("{host}:5001");
    let bytes = MB10.to_string();
    let mut args = vec!["--ip", ip.as_str()];
    if up {
        args.extend(["--tcp-send", target.as_str(), "--bytes", bytes.as_str()]);
    }
    args.extend_from_slice(device_args);
    let dev = ns.spawn_device(&args);
    dev.wait_for("arp: announced", Duration::from_secs(10));
    if down {
        kernel_to_device(&ns, &dev, &src, &data, limit);
    }
    if up {
        dev.wait_for(&format!("tcp: sent {MB10}"), limit);
        wait_file(&mut sink_proc, &sink, MB10, limit);
        let got = std::fs::read(&sink).expect("read sink");
        assert_eq!(got.len(), MB10, "device → kernel length");
        if let Some(i) = (0..MB10).find(|&i| got[i] != pattern_byte(i as u64)) {
            panic!(
                "device → kernel: byte {i} is {} not {}",
                got[i],
                pattern_byte(i as u64)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    drop(ns);
    dev
}

/// socat sends `data` (in `src`) to the device's discard port; the device
/// logs the byte count and CRC-32 of what it received.
fn kernel_to_device(ns: &Netns, dev: &DeviceProc, src: &Path, data: &[u8], limit: Duration) {
    let device = ns.device_ip();
    let sender = ns.exec(
        "socat",
        &[
            "-u",
            &format!("FILE:{}", src.display()),
            &format!("TCP:{device}:9"),
        ],
        limit,
    );
    assert!(
        sender.status.success(),
        "socat to discard failed: {}",
        String::from_utf8_lossy(&sender.stderr)
    );
    let line = dev.wait_for("tcp: discard ", limit);
    let crc = crc32_update(0, data);
    assert_eq!(
        line,
        format!("tcp: discard {} bytes crc32={crc:08x}", data.len()),
        "kernel → device: every byte arrived, in order"
    );
}

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

/// 10 % loss, 5 % reordering, 5 % duplication from the stack's seeded
/// fault injection, 10 MB each way, 0 corrupt bytes.
///
/// Device → kernel: faults on both directions (our data and the kernel's
/// ACKs); our retransmissions regenerate (or resend from the buffer).
///
/// Kernel → device: faults on the frames reaching the stack. The device
/// keeps no out-of-order segments (no receive buffer), so the kernel can
/// rarely collect three duplicate ACKs in a 4-segment window and repairs
/// most losses by its retransmission timer, whose floor is 200 ms: 10 MB
/// would take tens of minutes. The test lowers that floor on the TAP route
/// (`rto_min 5ms`, a standard per-route setting of the real kernel) to
/// stay bounded; what it checks is unchanged: every byte, in order.
fn under_faults(tag: &str, config: &str) {
    let fault = "loss=0.1,reorder=0.05,dup=0.05,seed=7";
    let up = transfer(
        &format!("{tag}u"),
        Run {
            down: false,
            up: true,
            device_args: &["--config", config, "--fault", fault, "--fault-dir", "both"],
            kernel_rto_min: None,
            limit: Duration::from_secs(180),
        },
    );
    let down = transfer(
        &format!("{tag}d"),
        Run {
            down: true,
            up: false,
            device_args: &["--config", config, "--fault", fault, "--fault-dir", "rx"],
            kernel_rto_min: Some("5ms"),
            limit: Duration::from_secs(240),
        },
    );
    for dev in [up, down] {
        let (status, log) = dev.stop();
        assert_eq!(status, Some(0));
        assert!(!log.iter().any(|l| l.contains("regeneration mismatch")));
        let dropped: u32 = log
            .iter()
            .filter_map(|l| l.strip_prefix("counters: in "))
            .filter_map(|l| l.split(" dropped ").nth(1))
            .filter_map(|n| n.trim().parse::<u32>().ok())
            .sum();
        let resent = log
            .iter()
            .filter(|l| l.starts_with("tcp: retransmit"))
            .count();
        assert!(
            resent > 0 || dropped > 0,
            "the fault injection had an effect (retransmissions or drops)"
        );
    }
}

#[test]
fn ten_megabytes_each_way_under_faults_regenerate() {
    under_faults("tcpfr", "regenerate-w4");
}

#[test]
fn ten_megabytes_each_way_under_faults_buffer() {
    under_faults("tcpfb", "buffer-w4");
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
