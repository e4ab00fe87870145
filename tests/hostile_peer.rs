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

/// The generator the device used to seed from the clock and its PID
/// (splitmix64): the attacker's model.
fn splitmix(state: &mut u64) -> u32 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) as u32
}

/// True when `draws` holds the (port, id) draws of both queries in order:
/// a DNS query draws its port (49152 + r mod 16384), then its id.
fn explains(draws: &[u32], queries: &[(u16, u16)]) -> bool {
    let mut from = 0;
    for &(id, port) in queries {
        let found = (from..draws.len().saturating_sub(1))
            .find(|&k| 49152 + (draws[k] % 16384) as u16 == port && draws[k + 1] as u16 == id);
        match found {
            Some(k) => from = k + 2,
            None => return false,
        }
    }
    true
}

#[test]
fn dns_ids_and_ports_do_not_reveal_the_seed() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::{Instant, UNIX_EPOCH};
    let ns = Netns::new("seed");
    let host = ns.host_ip().to_string();
    let mut capture = ns
        .command(PY)
        .args([&peer_script("hostile.py"), "dns-capture"])
        .args(["--host-ip", &host, "--count", "2"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start hostile.py dns-capture");
    let mut lines = BufReader::new(capture.stdout.take().expect("stdout")).lines();
    let ready = lines.next().and_then(Result::ok);
    assert_eq!(ready.as_deref(), Some("ready"), "dns-capture did not start");
    // The attacker knows roughly when the device started and its PID
    // (both are visible on a host; on a board the clock starts at boot).
    let before = std::time::SystemTime::now();
    let ip = format!("{}/24", ns.device_ip());
    let dev = ns.spawn_device(&[
        "--ip",
        &ip,
        "--gateway",
        &host,
        "--dns",
        &host,
        "--resolve",
        "one.test",
        "--resolve",
        "two.test",
    ]);
    dev.wait_for("device: tap", SECS(10));
    let after = std::time::SystemTime::now();
    let pid = u64::from(dev.pid());
    let deadline = Instant::now() + SECS(15);
    let mut queries = Vec::new();
    while queries.len() < 2 && Instant::now() < deadline {
        match lines.next() {
            Some(Ok(l)) => {
                let f: Vec<u16> = l
                    .split_whitespace()
                    .skip(1)
                    .filter_map(|x| x.parse().ok())
                    .collect();
                if let [id, port] = f[..] {
                    queries.push((id, port));
                }
            }
            _ => break,
        }
    }
    let _ = capture.kill();
    let _ = capture.wait();
    drop(dev);
    assert_eq!(queries.len(), 2, "two DNS queries captured: {queries:?}");
    // Every seed the old scheme (nanoseconds since 1970 XOR PID) could
    // have produced in that window, with 16 draws each.
    let lo = before.duration_since(UNIX_EPOCH).expect("clock").as_nanos() as u64;
    let hi = after.duration_since(UNIX_EPOCH).expect("clock").as_nanos() as u64;
    assert!(hi - lo < 2_000_000_000, "device start took {} ns", hi - lo);
    let mut draws = [0u32; 16];
    let recovered = (lo..=hi).find(|nanos| {
        let mut state = nanos ^ pid;
        for d in draws.iter_mut() {
            *d = splitmix(&mut state);
        }
        explains(&draws, &queries)
    });
    assert_eq!(
        recovered, None,
        "the seed was recovered from two DNS queries ({queries:?}): it is the clock XOR the PID"
    );
}

/// `curl` in the namespace; returns (status code, body).
fn curl(ns: &Netns, args: &[&str]) -> (String, String) {
    require_tool("curl", "curl");
    let mut all = vec!["-s", "-m", "5", "-w", "\n%{http_code}"];
    all.extend_from_slice(args);
    let out = ns.exec("curl", &all, SECS(10));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.to_owned(), body.to_owned())
}

#[test]
fn the_web_ui_cannot_be_driven_from_another_site() {
    let ns = Netns::new("csrf");
    let dev = start(&ns, &[]);
    dev.wait_for("http: listening", SECS(5));
    let ip = ns.device_ip().to_string();
    let base = format!("http://{ip}");
    let same = format!("Origin: {base}");
    let form = format!("name=Friend&address={ip}/24&gateway={}", ns.host_ip());
    // DNS rebinding: the page's own name in Host.
    let (code, _) = curl(
        &ns,
        &["-H", "Host: rebind.evil.example", &format!("{base}/")],
    );
    assert_eq!(code, "403", "a foreign Host is refused");
    let (code, _) = curl(&ns, &["-H", "Host: EMBER.local", &format!("{base}/")]);
    assert_eq!(code, "200", "the device's name.local is accepted");
    // CSRF: forms on another site (or a file: page, Origin null).
    for origin in ["Origin: http://evil.example", "Origin: null"] {
        let (code, _) = curl(
            &ns,
            &[
                "-H",
                origin,
                "-d",
                "name=PWNED",
                &format!("{base}/settings.html"),
            ],
        );
        assert_eq!(code, "403", "{origin} settings");
        let (code, _) = curl(
            &ns,
            &["-H", origin, "-X", "POST", &format!("{base}/mail.html")],
        );
        assert_eq!(code, "403", "{origin} mail");
    }
    let (code, _) = curl(
        &ns,
        &[
            "-H",
            "Referer: http://evil.example/form.html",
            "-d",
            "name=PWNED",
            &format!("{base}/settings.html"),
        ],
    );
    assert_eq!(code, "403", "a foreign Referer without Origin");
    // The device's own page (same origin) is served.
    let (code, body) = curl(
        &ns,
        &["-H", &same, "-d", &form, &format!("{base}/settings.html")],
    );
    assert_eq!(code, "200", "same-origin settings: {body}");
    dev.wait_for("web: applied name Friend", SECS(5));
    let (status, log) = dev.stop();
    assert_eq!(status, Some(0));
    let text = log.join("\n");
    assert!(
        !text.contains("PWNED"),
        "a foreign form reached the handler:\n{text}"
    );
    assert!(
        !text.contains("mail: status email requested"),
        "a foreign page requested mail:\n{text}"
    );
}

#[test]
fn two_concurrent_posts_never_mix_their_fields() {
    let ns = Netns::new("formmix");
    let dev = start(&ns, &[]);
    dev.wait_for("http: listening", SECS(5));
    let ip = ns.device_ip();
    let gw = ns.host_ip();
    let addr = std::net::SocketAddr::from((ip, 80));
    let post = move |name: &str| {
        let body = format!("name={name}&address={ip}/24&gateway={gw}");
        format!(
            "POST /settings.html HTTP/1.1\r\nHost: {ip}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let (alice, bobby) = (post("Alice"), post("Bobby"));
    let (first, second) = ns.run_inside(move || {
        use std::io::{Read, Write};
        let open = || {
            let s = std::net::TcpStream::connect_timeout(&addr, SECS(5)).expect("connect");
            s.set_read_timeout(Some(SECS(5))).expect("timeout");
            s
        };
        let (mut a, mut b) = (open(), open());
        // Alice's request stops after her name...
        let cut = alice.find("&address").expect("field") + 1;
        a.write_all(&alice.as_bytes()[..cut]).expect("send");
        std::thread::sleep(Duration::from_millis(300));
        // ... while Bobby's arrives whole.
        b.write_all(bobby.as_bytes()).expect("send");
        let mut second = Vec::new();
        let _ = b.read_to_end(&mut second);
        a.write_all(&alice.as_bytes()[cut..]).expect("send");
        let mut first = Vec::new();
        let _ = a.read_to_end(&mut first);
        (
            String::from_utf8_lossy(&first).into_owned(),
            String::from_utf8_lossy(&second).into_owned(),
        )
    });
    assert!(first.starts_with("HTTP/1.1 200"), "first: {first}");
    assert!(
        first.contains("Saved: name Alice"),
        "the first form kept its own fields: {first}"
    );
    assert!(
        second.starts_with("HTTP/1.1 503"),
        "the second POST waits its turn: {second}"
    );
    dev.wait_for("web: applied name Alice", SECS(5));
    let (_, log) = dev.stop();
    assert!(
        !log.iter().any(|l| l.contains("Bobby")),
        "{}",
        log.join("\n")
    );
}
