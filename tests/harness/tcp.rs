//! TCP bulk transfers against the kernel over the TAP, shared by the test
//! files that run them on different controllers (tcp_peer.rs on the TAP,
//! enc28j60_peer.rs through the ENC28J60 driver and model): 10 MB each way
//! with socat, the same under the stack's seeded fault injection, and TCP
//! echo of a large buffer.

use super::{require_tool, DeviceProc, Netns};
use ember_device::tcp_services::{crc32_update, pattern_byte};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Ten mebibytes: the bulk transfer size.
pub const MB10: usize = 10 * 1024 * 1024;

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
pub struct Run<'a> {
    /// Kernel → device discard (CRC logged by the device).
    pub down: bool,
    /// Device → kernel sink (compared byte by byte).
    pub up: bool,
    pub device_args: &'a [&'a str],
    /// Lowers the kernel's minimum RTO on the TAP route (`ip route ...
    /// rto_min`), see `ten_megabytes_each_way_under_faults`.
    pub kernel_rto_min: Option<&'a str>,
    pub limit: Duration,
}

/// Runs 10 MB each way at once (as asked by `run`).
pub fn transfer(tag: &str, run: Run<'_>) -> DeviceProc {
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
/// `extra` are more device arguments (`--config NAME`, `--nic enc28j60`).
pub fn under_faults(tag: &str, extra: &[&str]) {
    let fault = "loss=0.1,reorder=0.05,dup=0.05,seed=7";
    let up = transfer(
        &format!("{tag}u"),
        Run {
            down: false,
            up: true,
            device_args: &[extra, &["--fault", fault, "--fault-dir", "both"]].concat(),
            kernel_rto_min: None,
            limit: Duration::from_secs(180),
        },
    );
    let down = transfer(
        &format!("{tag}d"),
        Run {
            down: true,
            up: false,
            device_args: &[extra, &["--fault", fault, "--fault-dir", "rx"]].concat(),
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

/// Echoes `len` bytes of noise through the device's TCP echo port (7),
/// writing and reading at once, and checks every byte came back in order.
pub fn echo_bulk(ns: &Netns, len: usize, limit: Duration) {
    let addr = SocketAddr::from((ns.device_ip(), 7));
    let data = noise(len, 0xec40 ^ len as u64);
    ns.run_inside(move || {
        let mut s =
            TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect echo");
        s.set_read_timeout(Some(limit)).expect("timeout");
        s.set_write_timeout(Some(limit)).expect("timeout");
        let mut w = s.try_clone().expect("clone");
        let sent = data.clone();
        let writer = std::thread::spawn(move || w.write_all(&sent).expect("write echo"));
        let mut got = vec![0u8; data.len()];
        s.read_exact(&mut got).expect("read echo");
        writer.join().expect("writer");
        if let Some(i) = (0..data.len()).find(|&i| got[i] != data[i]) {
            panic!("echo byte {i} is {} not {}", got[i], data[i]);
        }
    });
}
