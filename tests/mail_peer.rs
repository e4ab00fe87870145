//! The mail clients against real peers in a network namespace: aiosmtpd
//! (found by address, by name and by MX through dnsmasq) with AUTH required (a MIME message with a 100 KB attachment that
//! Python's `email` parses and whose SHA-256 matches, dot-leading lines
//! intact, 535 for a wrong password, 530 without AUTH, byte-identical under
//! 10 % loss), dovecot (three messages: lines exactly as stored, a
//! 3000-character line in pieces, deletions gone in the next session, kept
//! messages still there), and scripted SMTP/POP3 servers
//! (tests/peers/mail_script.py) for slow replies, a refusal at every step,
//! a silent server and a connection closed mid-transfer: each a typed
//! failure, and the next attempt on the same device succeeds. AUTH PLAIN
//! and AUTH LOGIN each against aiosmtpd; hostile servers (an endless reply
//! line, a byte at a time, endless continuation lines, a zero window, no
//! AUTH offered) each end in a typed failure within the step or session
//! deadline.

mod harness;

use harness::peers::{
    expected_end, field, parse_with_python, peer_script, pop3_message, sha256_hex, start_aiosmtpd,
    start_aiosmtpd_offering, start_dovecot, wait_file,
};
use harness::{require_tool, DeviceProc, Netns, Scratch};
use std::path::Path;
use std::time::{Duration, Instant};

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// The scripted server for `protocol` with `plan` on its usual port.
fn start_script(ns: &mut Netns, protocol: &str, dir: &str, plan: &str) {
    require_tool("python3", "python3");
    let host = ns.host_ip().to_string();
    let port = if protocol == "smtp" { "25" } else { "110" };
    let script = peer_script("mail_script.py");
    ns.spawn(
        "mail_script",
        "python3",
        &[
            &script,
            protocol,
            "--address",
            &host,
            "--port",
            port,
            "--dir",
            dir,
            "--plan",
            plan,
        ],
    );
    wait_file(&format!("{dir}/ready"), "mail_script.py");
}

/// The device at 10.A.B.2 with the host as gateway, plus `extra`.
fn start_device(ns: &Netns, extra: &[&str]) -> DeviceProc {
    let ip = format!("{}/24", ns.device_ip());
    let host = ns.host_ip().to_string();
    let mut args = vec!["--ip", &ip, "--gateway", &host];
    args.extend_from_slice(extra);
    ns.spawn_device(&args)
}

/// `n` pseudo-random bytes (xorshift), the same for the same seed.
fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Text with lines that start with dots (and a lone dot) that must come
/// through intact.
const DOT_BODY: &[u8] = b"Status report\n.hidden line starting with a dot\n..two dots\n.\nend\n";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Sends the status email with `body` and `attachment` to aiosmtpd;
/// returns the device log and the stored message's path.
fn send_to_aiosmtpd(ns: &mut Netns, s: &Scratch, extra: &[&str]) -> (Vec<String>, String) {
    let store = s.dir("store");
    start_aiosmtpd(ns, &store, false);
    let host = ns.host_ip().to_string();
    let body = s.path("body.txt");
    std::fs::write(&body, DOT_BODY).unwrap();
    let att = s.path("data.bin");
    if !Path::new(&att).exists() {
        std::fs::write(&att, random_bytes(100 * 1024, 42)).unwrap();
    }
    let mut args = vec![
        "--smtp-server",
        &host,
        "--mail-user",
        "alice",
        "--mail-password",
        "secret",
        "--mail-to",
        "bob@test.lan",
        "--mail-body",
        &body,
        "--mail-attach",
        &att,
    ];
    args.extend_from_slice(extra);
    let dev = start_device(ns, &args);
    dev.wait_for("smtp: sent to bob@test.lan", SECS(60));
    dev.wait_for("smtp: progress idle", SECS(10));
    let (_, log) = dev.stop();
    let eml = format!("{store}/1.eml");
    wait_file(&eml, "the stored message");
    (log, eml)
}

#[test]
fn smtp_to_aiosmtpd_with_auth_and_a_100k_attachment() {
    let mut ns = Netns::new("mail");
    let s = Scratch::new(&ns);
    let (log, eml) = send_to_aiosmtpd(&mut ns, &s, &[]);
    let sent = log.iter().find(|l| l.contains("smtp: sent")).unwrap();
    println!("100 KB attachment, clean link: {sent}");
    // Every step was observable.
    for step in ["EHLO", "AUTH PLAIN", "MAIL FROM", "RCPT TO", "DATA", "QUIT"] {
        assert!(
            log.iter()
                .any(|l| l.starts_with("smtp: progress ") && l.contains(step)),
            "no progress line for {step}"
        );
    }
    let p = parse_with_python(&eml);
    assert_eq!(field(&p, "from"), "ember@test.lan");
    assert_eq!(field(&p, "to"), "bob@test.lan");
    assert_eq!(field(&p, "subject"), "EMBER status");
    assert_eq!(field(&p, "type"), "multipart/mixed");
    assert_eq!(field(&p, "parts"), "2");
    assert_eq!(field(&p, "defects"), "0");
    // Dot-leading lines arrive intact (line ends as sent: CR LF).
    let text = String::from_utf8_lossy(DOT_BODY).replace('\n', "\r\n");
    assert_eq!(field(&p, "text"), hex(text.as_bytes()));
    assert_eq!(field(&p, "name"), "data.bin");
    assert_eq!(
        field(&p, "sha"),
        sha256_hex(&std::fs::read(s.path("data.bin")).unwrap())
    );
    let env = std::fs::read_to_string(eml.replace(".eml", ".env")).unwrap();
    assert_eq!(env, "ember@test.lan\nbob@test.lan\n");
}

#[test]
fn smtp_wrong_password_is_a_typed_535_and_the_client_is_idle_again() {
    let mut ns = Netns::new("mail");
    let s = Scratch::new(&ns);
    let store = s.dir("store");
    start_aiosmtpd(&mut ns, &store, false);
    let host = ns.host_ip().to_string();
    let dev = start_device(
        &ns,
        &[
            "--smtp-server",
            &host,
            "--mail-user",
            "alice",
            "--mail-password",
            "wrong",
            "--mail-to",
            "bob@test.lan",
        ],
    );
    let line = dev.wait_for("smtp: failed", SECS(30));
    assert!(line.starts_with("smtp: failed 535 "), "{line}");
    assert!(line.ends_with("(AUTH PLAIN)"), "{line}");
    dev.wait_for("smtp: progress idle", SECS(10));
    let (_, log) = dev.stop();
    assert!(!log.iter().any(|l| l.contains("smtp: sent")));
    assert!(!Path::new(&format!("{store}/1.eml")).exists());
}

#[test]
fn smtp_without_auth_is_refused_with_530() {
    let mut ns = Netns::new("mail");
    let s = Scratch::new(&ns);
    let store = s.dir("store");
    start_aiosmtpd(&mut ns, &store, false);
    let host = ns.host_ip().to_string();
    let dev = start_device(&ns, &["--smtp-server", &host, "--mail-to", "bob@test.lan"]);
    let line = dev.wait_for("smtp: failed", SECS(30));
    assert!(line.starts_with("smtp: failed 530 "), "{line}");
    assert!(line.ends_with("(MAIL FROM)"), "{line}");
    dev.wait_for("smtp: progress idle", SECS(10));
}

#[test]
fn smtp_under_10_percent_loss_arrives_byte_identical() {
    // The same seed gives the same Message-ID and boundary, and there is
    // no Date (no SNTP): both runs must store exactly the same bytes.
    let mut ns = Netns::new("mail");
    let s = Scratch::new(&ns);
    let (_, clean) = send_to_aiosmtpd(&mut ns, &s, &["--seed", "7"]);
    let reference = std::fs::read(&clean).unwrap();
    drop(ns); // the peers go with the namespace
    let mut ns = Netns::new("mailloss");
    let s2 = Scratch::new(&ns);
    std::fs::copy(s.path("data.bin"), s2.path("data.bin")).unwrap();
    let (log, lossy) = send_to_aiosmtpd(
        &mut ns,
        &s2,
        &[
            "--seed",
            "7",
            "--fault",
            "loss=0.1,seed=3",
            "--mail-timeout",
            "60",
        ],
    );
    let sent = log.iter().find(|l| l.contains("smtp: sent")).unwrap();
    println!("100 KB attachment, 10 % loss: {sent}");
    let rewinds: u32 = sent
        .rsplit_once("rewinds=")
        .and_then(|(_, n)| n.parse().ok())
        .unwrap();
    assert!(rewinds > 0, "the loss should have made TCP go back: {sent}");
    let got = std::fs::read(&lossy).unwrap();
    assert!(got == reference, "the message differs under loss");
    assert_eq!(
        field(&parse_with_python(&lossy), "sha"),
        sha256_hex(&std::fs::read(s2.path("data.bin")).unwrap())
    );
}

/// dnsmasq as the namespace's DNS server (no DHCP), authoritative for
/// test.lan, with `records`.
fn start_dnsmasq(ns: &mut Netns, s: &Scratch, records: &[String]) {
    require_tool("dnsmasq", "dnsmasq-base");
    let host = ns.host_ip().to_string();
    let mut args = vec![
        "--keep-in-foreground".to_owned(),
        "--conf-file=/dev/null".to_owned(),
        "--no-resolv".to_owned(),
        "--no-hosts".to_owned(),
        "--bind-interfaces".to_owned(),
        "--interface=tap0".to_owned(),
        format!("--listen-address={host}"),
        "--port=53".to_owned(),
        "--local=/test.lan/".to_owned(),
        format!("--pid-file={}", s.path("dnsmasq.pid")),
    ];
    args.extend(records.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ns.spawn("dnsmasq", "dnsmasq", &args);
    let deadline = Instant::now() + SECS(10);
    loop {
        let out = ns.exec("ss", &["-Huln"], SECS(5));
        if String::from_utf8_lossy(&out.stdout).contains(&format!("{host}:53 ")) {
            break;
        }
        assert!(Instant::now() < deadline, "dnsmasq does not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn smtp_finds_the_server_by_name_and_by_mx_through_dnsmasq() {
    let mut ns = Netns::new("mailmx");
    let s = Scratch::new(&ns);
    let host = ns.host_ip();
    start_dnsmasq(
        &mut ns,
        &s,
        &[
            format!("--host-record=mail.test.lan,{host}"),
            "--mx-host=test.lan,mail.test.lan,10".to_owned(),
        ],
    );
    let store = s.dir("store");
    start_aiosmtpd(&mut ns, &store, false);
    let dns = host.to_string();
    let common = [
        "--dns",
        &dns,
        "--mail-user",
        "alice",
        "--mail-password",
        "secret",
        "--mail-to",
        "bob@test.lan",
    ];
    // stack.toml's `[smtp] server = "mail.test.lan"`, then the MX of test.lan.
    for (i, extra) in [&[][..], &["--smtp-mx"][..]].iter().enumerate() {
        let mut args = common.to_vec();
        args.extend_from_slice(extra);
        let dev = start_device(&ns, &args);
        dev.wait_for("smtp: sent to bob@test.lan", SECS(30));
        let (_, log) = dev.stop();
        assert!(
            log.iter().any(|l| l.starts_with("dns: query")),
            "resolved through DNS: {log:#?}"
        );
        wait_file(&format!("{store}/{}.eml", i + 1), "the stored message");
    }
}

// ---- POP3 against dovecot ----------------------------------------------------

/// The three test messages: (subject, file content with CR LF).
fn dovecot_messages() -> Vec<(&'static str, Vec<u8>)> {
    let long: String = (0..3000).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    let b64 = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=";
    vec![
        (
            "dots keep",
            b"From: Carol Example <carol@test.lan>\r\nSubject: dots keep\r\n\r\nfirst line\r\n\
              .leading dot\r\n..two dots\r\n.\r\nlast\r\n"
                .to_vec(),
        ),
        (
            "DELETE-ME a long line folded over two lines",
            format!(
                "From: dave@test.lan\r\nSubject: DELETE-ME a long line\r\n folded over two lines\r\n\
                 \r\n{long}\r\nafter the long line\r\n"
            )
            .into_bytes(),
        ),
        (
            "multipart keep",
            format!(
                "From: Erin <erin@test.lan>\r\nSubject: multipart keep\r\nMIME-Version: 1.0\r\n\
                 Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\n\
                 Content-Type: text/plain\r\n\r\nhello\r\n--b1\r\nContent-Type: \
                 application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n\
                 --b1--\r\n"
            )
            .into_bytes(),
        ),
    ]
}

fn check_mail(ns: &Netns, extra: &[&str]) -> Vec<String> {
    let host = ns.host_ip().to_string();
    let mut args = vec![
        "--pop3-server",
        &host,
        "--mail-user",
        "alice",
        "--mail-password",
        "secret",
        "--check-mail",
    ];
    args.extend_from_slice(extra);
    let dev = start_device(ns, &args);
    let done = dev.wait_for("pop3: done", SECS(30));
    println!("{done}");
    dev.wait_for("pop3: progress idle", SECS(10));
    dev.stop().1
}

#[test]
fn pop3_dovecot_lines_exactly_as_stored_and_deletion() {
    let mut ns = Netns::new("pop3");
    let s = Scratch::new(&ns);
    let root = s.dir("dovecot");
    let maildir = start_dovecot(&mut ns, &root);
    let messages = dovecot_messages();
    for (i, (_, content)) in messages.iter().enumerate() {
        std::fs::write(
            format!("{maildir}/new/{}.test{i}", 1_700_000_000 + i),
            content,
        )
        .unwrap();
    }
    let own = std::process::Command::new("chown")
        .args(["-R", "nobody:nogroup", &format!("{root}/alice")])
        .status()
        .unwrap();
    assert!(own.success());

    let log = check_mail(&ns, &["--mail-delete", "DELETE-ME"]);
    let starts: Vec<&String> = log
        .iter()
        .filter(|l| l.starts_with("pop3: message "))
        .collect();
    assert_eq!(starts.len(), 3, "{log:#?}");
    for (subject, content) in &messages {
        // `pop3: message N from=ADDR subject=TEXT` (folded subject unfolded).
        let (start, n, end) = pop3_message(&log, subject, content);
        let from = content
            .split(|&b| b == b'\n')
            .find(|l| l.starts_with(b"From:"))
            .unwrap();
        let from = String::from_utf8_lossy(from);
        let addr = from
            .split_once('<')
            .map_or(from.trim_start_matches("From: ").trim(), |(_, r)| {
                r.trim_end().trim_end_matches('>')
            });
        assert!(start.contains(&format!(" from={addr} ")), "{start}");
        let (lines, _, _) = expected_end(content);
        let longest: usize = end
            .split(" longest=")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(longest <= 256, "line_limit respected: {end}");
        if subject.starts_with("DELETE-ME") {
            // 3000 characters in 256-byte pieces.
            let pieces: usize = end
                .split(" pieces=")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(pieces, lines + 3000_usize.div_ceil(256) - 1, "{end}");
            assert!(log.contains(&format!("pop3: deleted {n}")), "{log:#?}");
        } else {
            assert!(log.contains(&format!("pop3: keep {n}")), "{log:#?}");
        }
    }
    assert!(log.contains(&"pop3: done messages=3 deleted=1".to_owned()));

    // The next session sees only the kept messages.
    let log = check_mail(&ns, &[]);
    let subjects: Vec<&str> = log
        .iter()
        .filter(|l| l.starts_with("pop3: message "))
        .map(|l| l.rsplit_once(" subject=").unwrap().1)
        .collect();
    assert_eq!(subjects.len(), 2, "{log:#?}");
    assert!(subjects.contains(&"dots keep") && subjects.contains(&"multipart keep"));
    assert!(log.contains(&"pop3: done messages=2 deleted=0".to_owned()));
}

// ---- scripted servers: faults at every step ---------------------------------

/// Lines of `log` starting with `prefix` (in order).
fn outcomes<'a>(log: &'a [String], prefix: &[&str]) -> Vec<&'a str> {
    log.iter()
        .filter(|l| prefix.iter().any(|p| l.starts_with(p)))
        .map(String::as_str)
        .collect()
}

#[test]
fn smtp_refusals_at_every_step_slow_silent_and_cut_then_success() {
    let mut ns = Netns::new("smtpf");
    let s = Scratch::new(&ns);
    let dir = s.dir("script");
    let plan = [
        "fail:greeting:554",
        "fail:ehlo:421",
        "fail:auth:504",
        "fail:user:535",
        "fail:pass:535",
        "fail:mail:550",
        "fail:rcpt:553",
        "fail:data:554",
        "fail:message:552",
        "close:message",
        "silent:greeting",
        "slow",
    ];
    start_script(&mut ns, "smtp", &dir, &plan.join(","));
    let host = ns.host_ip().to_string();
    let att = s.path("a.bin");
    std::fs::write(&att, random_bytes(20_000, 9)).unwrap();
    let repeat = (plan.len() - 1).to_string();
    let dev = start_device(
        &ns,
        &[
            "--smtp-server",
            &host,
            "--mail-user",
            "alice",
            "--mail-password",
            "secret",
            "--mail-to",
            "bob@test.lan",
            "--mail-attach",
            &att,
            "--mail-timeout",
            "2",
            "--mail-repeat",
            &repeat,
        ],
    );
    dev.wait_for("smtp: sent to", SECS(90));
    dev.wait_for("smtp: progress idle", SECS(10));
    let (_, log) = dev.stop();
    let got = outcomes(&log, &["smtp: failed", "smtp: sent"]);
    let expected = [
        "smtp: failed 554 scripted failure (greeting)",
        "smtp: failed 421 scripted failure (EHLO)",
        "smtp: failed 504 scripted failure (AUTH LOGIN)",
        "smtp: failed 535 scripted failure (AUTH user)",
        "smtp: failed 535 scripted failure (AUTH password)",
        "smtp: failed 550 scripted failure (MAIL FROM)",
        "smtp: failed 553 scripted failure (RCPT TO)",
        "smtp: failed 554 scripted failure (DATA)",
        "smtp: failed 552 scripted failure (message)",
        "smtp: failed closed by the server (message)",
        "smtp: failed timeout (greeting)",
    ];
    assert_eq!(got.len(), expected.len() + 1, "{got:#?}");
    for (g, e) in got.iter().zip(expected) {
        assert_eq!(*g, e);
    }
    assert!(got[expected.len()].starts_with("smtp: sent to bob@test.lan"));
    // No socket leaked: 11 failed sessions on a device with 3 spare
    // sockets, and the last one still connected. Refusals end with QUIT.
    let sessions = std::fs::read_to_string(format!("{dir}/sessions")).unwrap();
    let quits = sessions.matches("failed-then-quit").count();
    assert_eq!(quits, 9, "{sessions}");
    let eml = format!("{dir}/12.eml");
    assert!(Path::new(&eml).exists(), "{sessions}");
    // The slow session's message is complete (as stored, still stuffed).
    let data = std::fs::read(&eml).unwrap();
    assert!(data.ends_with(b"--\r\n.\r\n"));
}

#[test]
fn pop3_errors_at_every_step_slow_silent_and_cut_then_success() {
    let mut ns = Netns::new("pop3f");
    let s = Scratch::new(&ns);
    let dir = s.dir("script");
    let plan = [
        "fail:greeting",
        "fail:user",
        "fail:pass",
        "fail:stat",
        "fail:retr",
        "fail:dele",
        "fail:quit",
        "close:retr",
        "silent:greeting",
        "slow",
    ];
    start_script(&mut ns, "pop3", &dir, &plan.join(","));
    let host = ns.host_ip().to_string();
    let repeat = (plan.len() - 1).to_string();
    let dev = start_device(
        &ns,
        &[
            "--pop3-server",
            &host,
            "--mail-user",
            "alice",
            "--mail-password",
            "secret",
            "--check-mail",
            "--mail-delete",
            "one",
            "--mail-timeout",
            "2",
            "--mail-repeat",
            &repeat,
        ],
    );
    dev.wait_for("pop3: done", SECS(90));
    dev.wait_for("pop3: progress idle", SECS(10));
    let (_, log) = dev.stop();
    let got = outcomes(&log, &["pop3: failed", "pop3: done"]);
    let expected = [
        "pop3: failed -ERR scripted failure (greeting)",
        "pop3: failed -ERR scripted failure (USER)",
        "pop3: failed -ERR scripted failure (PASS)",
        "pop3: failed -ERR scripted failure (STAT)",
        "pop3: failed -ERR scripted failure (RETR)",
        "pop3: failed -ERR scripted failure (DELE)",
        "pop3: failed -ERR scripted failure (QUIT)",
        "pop3: failed closed by the server (RETR)",
        "pop3: failed timeout (greeting)",
        "pop3: done messages=2 deleted=1",
    ];
    assert_eq!(got, expected, "{log:#?}");
    // -ERR never gets a QUIT: nothing is committed after a failure.
    let sessions = std::fs::read_to_string(format!("{dir}/sessions")).unwrap();
    assert!(!sessions.contains("failed-then-QUIT"), "{sessions}");
    assert!(sessions.lines().last().unwrap().ends_with("slow done"));
    // The slow session's lines are the scripted messages, dot-unstuffed.
    let msgs: Vec<&String> = log
        .iter()
        .filter(|l| l.starts_with("pop3: message "))
        .collect();
    assert!(msgs
        .iter()
        .any(|l| *l == "pop3: message 1 from=alice@test.lan subject=one"));
    assert!(msgs
        .iter()
        .any(|l| *l == "pop3: message 2 from=bob@test.lan subject=two folded"));
    let first =
        b"From: Alice <alice@test.lan>\r\nSubject: one\r\n\r\nfirst body\r\n.leading dot\r\n";
    let (lines, bytes, crc) = expected_end(first);
    let want = format!("lines={lines} pieces={lines} longest=28 bytes={bytes} crc32={crc:08x}");
    assert!(
        log.iter()
            .filter(|l| l.starts_with("pop3: end 1 "))
            .any(|l| l.ends_with(&want)),
        "{want} in {log:#?}"
    );
}

#[test]
fn smtp_auth_plain_and_auth_login_each_against_aiosmtpd() {
    // aiosmtpd offers one mechanism at a time; the client uses the one
    // offered (PLAIN when both are) and the message arrives either way.
    for mechanism in ["PLAIN", "LOGIN"] {
        let mut ns = Netns::new("mauth");
        let s = Scratch::new(&ns);
        let store = s.dir("store");
        start_aiosmtpd_offering(&mut ns, &store, false, Some(mechanism));
        let host = ns.host_ip().to_string();
        let dev = start_device(
            &ns,
            &[
                "--smtp-server",
                &host,
                "--mail-user",
                "alice",
                "--mail-password",
                "secret",
                "--mail-to",
                "bob@test.lan",
            ],
        );
        dev.wait_for("smtp: sent to bob@test.lan", SECS(30));
        dev.wait_for("smtp: progress idle", SECS(10));
        let (_, log) = dev.stop();
        assert!(
            log.iter()
                .any(|l| l == &format!("smtp: progress AUTH {mechanism}")),
            "{mechanism}: {log:#?}"
        );
        let used = std::fs::read_to_string(format!("{store}/auth")).unwrap();
        assert_eq!(used, format!("{mechanism}\n"));
        let p = parse_with_python(&format!("{store}/1.eml"));
        assert_eq!(field(&p, "defects"), "0");
    }
}

/// Runs the device against the scripted server with `plan` (one entry per
/// session), a 2 s step timeout and a 6 s session timeout; returns the
/// outcome lines, the sessions file and how long the run took.
fn hostile_run(protocol: &str, plan: &[&str], extra: &[&str]) -> (Vec<String>, String, Duration) {
    let mut ns = Netns::new(if protocol == "smtp" { "smtph" } else { "pop3h" });
    let s = Scratch::new(&ns);
    let dir = s.dir("script");
    start_script(&mut ns, protocol, &dir, &plan.join(","));
    let host = ns.host_ip().to_string();
    let repeat = (plan.len() - 1).to_string();
    let server_flag = format!("--{protocol}-server");
    let mut args = vec![
        server_flag.as_str(),
        &host,
        "--mail-user",
        "alice",
        "--mail-password",
        "secret",
        "--mail-timeout",
        "2",
        "--mail-session-timeout",
        "6",
        "--mail-repeat",
        &repeat,
    ];
    args.extend_from_slice(extra);
    let started = Instant::now();
    let dev = start_device(&ns, &args);
    let done = if protocol == "smtp" {
        "smtp: sent to"
    } else {
        "pop3: done"
    };
    dev.wait_for(done, SECS(60));
    let took = started.elapsed();
    let (_, log) = dev.stop();
    let prefix = [format!("{protocol}: failed"), done.to_owned()];
    let got = log
        .iter()
        .filter(|l| prefix.iter().any(|p| l.starts_with(p.as_str())))
        .cloned()
        .collect();
    let sessions = std::fs::read_to_string(format!("{dir}/sessions")).unwrap_or_default();
    (got, sessions, took)
}

#[test]
fn smtp_hostile_servers_cannot_hold_the_client() {
    // Before: a flood grew one reply line without bound, a byte every
    // 0.5 s restarted the step deadline for ever, endless `220-` lines
    // and a zero window (TCP probing, the deadline suspended) held the
    // session indefinitely; credentials with no usable AUTH mechanism
    // were dropped and the message sent unauthenticated.
    let plan = [
        "flood:ehlo",
        "dribble:greeting",
        "drip:greeting",
        "zerowin",
        "noauth",
        "plain",
    ];
    let dir = std::env::temp_dir().join(format!("es-zw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let att = dir.join("a.bin");
    std::fs::write(&att, random_bytes(60_000, 5)).unwrap();
    let att = att.to_string_lossy().into_owned();
    let (got, sessions, took) = hostile_run(
        "smtp",
        &plan,
        &["--mail-to", "bob@test.lan", "--mail-attach", &att],
    );
    let _ = std::fs::remove_dir_all(&dir);
    let expected = [
        "smtp: failed malformed reply (EHLO)",
        "smtp: failed timeout (greeting)",
        "smtp: failed timeout (greeting)",
        "smtp: failed timeout (message)",
        "smtp: failed the server offers no AUTH mechanism we speak (PLAIN, LOGIN)",
    ];
    assert_eq!(got.len(), expected.len() + 1, "{got:#?}\n{sessions}");
    for (g, e) in got.iter().zip(expected) {
        assert_eq!(g, e, "{got:#?}");
    }
    assert!(got[expected.len()].starts_with("smtp: sent to bob@test.lan"));
    assert!(sessions.contains("zero-window"), "{sessions}");
    // No AUTH offered: QUIT right after EHLO, no MAIL FROM, nothing stored.
    assert!(sessions.contains("5 noauth done"), "{sessions}");
    assert!(sessions.contains("plain-ok"), "{sessions}");
    // Step deadlines 2 s, two session deadlines 6 s, the rest quick.
    assert!(took < SECS(30), "took {took:?}");
}

#[test]
fn pop3_hostile_servers_cannot_hold_the_client() {
    let plan = ["flood:greeting", "dribble:greeting", "drip:retr", "ok"];
    let (got, sessions, took) = hostile_run("pop3", &plan, &["--check-mail"]);
    let expected = [
        "pop3: failed malformed reply (greeting)",
        "pop3: failed timeout (greeting)",
        "pop3: failed timeout (RETR)",
        "pop3: done messages=2 deleted=0",
    ];
    assert_eq!(got, expected, "{sessions}");
    assert!(took < SECS(30), "took {took:?}");
}
