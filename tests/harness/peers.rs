//! Peers that more than one test binary starts: aiosmtpd (and Python's
//! `email` to read what it stored) and headless Chromium.

use super::{require_python_module, require_tool, Netns, PY};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

/// The path of a peer script in `tests/peers/`.
pub fn peer_script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers")
        .join(name)
        .to_str()
        .expect("utf-8")
        .to_owned()
}

/// Waits (at most 15 s) for `path` to exist: a peer's readiness file or
/// a stored message.
pub fn wait_file(path: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !Path::new(path).exists() {
        assert!(Instant::now() < deadline, "{what} did not appear ({path})");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// aiosmtpd (`tests/peers/smtp_server.py`) on the namespace's host
/// address, port 25, storing each message as `dir/N.eml` (+ `N.env`);
/// AUTH LOGIN as alice/secret is required unless `optional`.
pub fn start_aiosmtpd(ns: &mut Netns, dir: &str, optional: bool) {
    start_aiosmtpd_offering(ns, dir, optional, None);
}

/// [`start_aiosmtpd`] offering only `mechanism` (`"PLAIN"`, `"LOGIN"`)
/// when given; each successful AUTH's mechanism is appended to DIR/auth.
pub fn start_aiosmtpd_offering(ns: &mut Netns, dir: &str, optional: bool, mechanism: Option<&str>) {
    require_python_module("aiosmtpd");
    let host = ns.host_ip().to_string();
    let script = peer_script("smtp_server.py");
    let mut args = vec![
        script.as_str(),
        "--address",
        &host,
        "--port",
        "25",
        "--dir",
        dir,
    ];
    if optional {
        args.push("--auth-optional");
    }
    if let Some(m) = mechanism {
        args.extend(["--mechanism", m]);
    }
    ns.spawn("aiosmtpd", PY, &args);
    wait_file(&format!("{dir}/ready"), "aiosmtpd");
}

/// Python's `email` on a stored message: `key=value` lines for `from`,
/// `to`, `subject`, `type`, `parts`, the text part (`text`, hex), the
/// attachment's `name`, `len` and `sha` (SHA-256), and `defects`.
pub fn parse_with_python(eml: &str) -> Vec<String> {
    let script = r#"
import email, email.policy, hashlib, sys
m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=email.policy.default)
print('from=' + str(m['From']))
print('to=' + str(m['To']))
print('subject=' + str(m['Subject']))
print('type=' + m.get_content_type())
parts = [p for p in m.walk() if not p.is_multipart()]
print('parts=%d' % len(parts))
print('text=' + parts[0].get_payload(decode=True).hex())
print('name=' + str(parts[1].get_filename()))
print('len=%d' % len(parts[1].get_payload(decode=True)))
print('sha=' + hashlib.sha256(parts[1].get_payload(decode=True)).hexdigest())
print('defects=%d' % sum(len(p.defects) for p in m.walk()))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script, eml])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python could not parse {eml}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The value of `key` in [`parse_with_python`]'s output.
pub fn field<'a>(lines: &'a [String], key: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key} in {lines:?}"))
}

/// SHA-256 of `bytes`, hex (Python's hashlib, so the test has no crate
/// for it).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("python3")
        .args([
            "-c",
            "import hashlib,sys;print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bytes)
        .expect("write to python3");
    let out = child.wait_with_output().expect("python3");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Headless Chromium in the namespace with a fresh profile under
/// `profile_dir`, plus `args` (at most 90 s).
pub fn chromium(ns: &Netns, profile_dir: &str, args: &[&str]) -> Output {
    require_tool("chromium", "chromium");
    let profile = format!("--user-data-dir={profile_dir}");
    let mut a = vec![
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        &profile,
    ];
    a.extend_from_slice(args);
    ns.exec("chromium", &a, Duration::from_secs(90))
}

/// Headless Chromium opens `url`, fills `fills` (`name=value`), clicks
/// the element matching `selector` and returns the text of the page that
/// answers: a form posted from the device's own page, with the `Origin`
/// and `Referer` a browser sends (`tests/peers/browser_click.py`, the
/// DevTools protocol on a pipe; at most 90 s).
pub fn chromium_click(
    ns: &Netns,
    profile_dir: &str,
    url: &str,
    selector: &str,
    fills: &[&str],
) -> String {
    require_tool("chromium", "chromium");
    let script = peer_script("browser_click.py");
    let mut a = vec![
        script.as_str(),
        "--url",
        url,
        "--click",
        selector,
        "--profile",
        profile_dir,
    ];
    for f in fills {
        a.extend_from_slice(&["--fill", f]);
    }
    let out = ns.exec(PY, &a, Duration::from_secs(90));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "browser_click.py {url} {selector}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// dovecot serving POP3 on the namespace's host address, port 110, from
/// maildirs under `root` (user alice, password secret); returns alice's
/// maildir (put messages in its `new/`, owned by nobody).
pub fn start_dovecot(ns: &mut Netns, root: &str) -> String {
    require_tool("dovecot", "dovecot-core dovecot-pop3d");
    let maildir = format!("{root}/alice/Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(format!("{maildir}/{sub}")).unwrap();
    }
    std::fs::create_dir_all(format!("{root}/run")).unwrap();
    let conf = format!(
        "protocols = pop3\nlisten = {host}\nbase_dir = {root}/run\nstate_dir = {root}/state\n\
         ssl = no\ndisable_plaintext_auth = no\nauth_mechanisms = plain login\n\
         mail_location = maildir:{root}/%u/Maildir\nlog_path = {root}/dovecot.log\n\
         passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN {root}/passwd\n}}\n\
         userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={root}/%u\n}}\n",
        host = ns.host_ip()
    );
    std::fs::write(format!("{root}/dovecot.conf"), conf).unwrap();
    std::fs::write(format!("{root}/passwd"), "alice:{PLAIN}secret\n").unwrap();
    (ns.spawn(
        "dovecot",
        "dovecot",
        &["-F", "-c", &format!("{root}/dovecot.conf")],
    ));
    // Listening once the log says so.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = ns.exec("ss", &["-Hltn"], Duration::from_secs(5));
        if String::from_utf8_lossy(&out.stdout).contains(&format!("{}:110 ", ns.host_ip())) {
            break;
        }
        assert!(Instant::now() < deadline, "dovecot does not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    maildir
}

/// What the device's `pop3: end` line should say for a stored message:
/// every line (CR LF removed) followed by LF, through CRC-32.
pub fn expected_end(content: &[u8]) -> (usize, usize, u32) {
    let text = content.strip_suffix(b"\r\n").unwrap_or(content);
    let mut crc = 0;
    let mut lines = 0;
    let mut bytes = 0;
    for line in text.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        crc = ember_device::tcp_services::crc32_update(crc, line);
        crc = ember_device::tcp_services::crc32_update(crc, b"\n");
        lines += 1;
        bytes += line.len();
    }
    (lines, bytes, crc)
}

/// Finds the device's log lines for the stored message with `subject`:
/// `pop3: message N from=... subject=SUBJECT` and `pop3: end N ...`, and
/// checks the end line's `lines=`, `bytes=` and `crc32=` against what
/// dovecot holds ([`expected_end`]). Returns (start line, N, end line).
pub fn pop3_message<'a>(
    log: &'a [String],
    subject: &str,
    content: &[u8],
) -> (&'a str, u32, &'a str) {
    let start = log
        .iter()
        .find(|l| l.starts_with("pop3: message ") && l.ends_with(&format!(" subject={subject}")))
        .unwrap_or_else(|| panic!("no message with subject {subject}: {log:#?}"));
    let n: u32 = start["pop3: message ".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number in {start}"));
    let end = log
        .iter()
        .find(|l| l.starts_with(&format!("pop3: end {n} ")))
        .unwrap_or_else(|| panic!("no end line for message {n}: {log:#?}"));
    let (lines, bytes, crc) = expected_end(content);
    assert!(
        end.contains(&format!(" lines={lines} "))
            && end.contains(&format!(" bytes={bytes} "))
            && end.ends_with(&format!(" crc32={crc:08x}")),
        "{subject}: {end}, expected lines={lines} bytes={bytes} crc32={crc:08x}"
    );
    (start, n, end)
}

/// dnsmasq (DHCP only, `--port=0`) handing out 10.A.B.100-150 for 2 min
/// with router, DNS and NTP options pointing at the namespace's host
/// address; its lease file and pid file at `leases` and `pid`.
pub fn start_dnsmasq(ns: &mut Netns, leases: &str, pid: &str) {
    require_tool("dnsmasq", "dnsmasq-base");
    let host = ns.host_ip().to_string();
    let args = [
        "--keep-in-foreground".to_owned(),
        "--conf-file=/dev/null".to_owned(),
        "--no-resolv".to_owned(),
        "--no-hosts".to_owned(),
        "--port=0".to_owned(),
        "--bind-interfaces".to_owned(),
        "--interface=tap0".to_owned(),
        format!("--listen-address={host}"),
        format!(
            "--dhcp-range={},{},255.255.255.0,2m",
            ns.addr(100),
            ns.addr(150)
        ),
        "--dhcp-authoritative".to_owned(),
        "--no-ping".to_owned(),
        format!("--dhcp-option=option:router,{host}"),
        format!("--dhcp-option=option:dns-server,{host}"),
        format!("--dhcp-option=option:ntp-server,{host}"),
        format!("--dhcp-leasefile={leases}"),
        format!("--pid-file={pid}"),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ns.spawn("dnsmasq", "dnsmasq", &args);
}
