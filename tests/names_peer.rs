//! The name services against real peers in a network namespace: dnsmasq
//! (A, NXDOMAIN, MX written uncompressed, an MX exchange without address),
//! dnslib (MX names compressed inside the record data, a CNAME the server
//! does not follow), a scripted responder sending every kind of hostile DNS
//! reply before the real one, chrony (the time within 1 s of the host
//! clock, the server found by name through dnsmasq), the scripted SNTP
//! responder (kiss-o'-death, leap indicator 3, a wrong originate
//! timestamp, a time in NTP era 1), and nmblookup (unicast, broadcast,
//! another name); a rename on the settings page reaching nmblookup and
//! dnsmasq's lease (DHCP option 12).

mod harness;

use harness::{require_python_module, require_tool, DeviceProc, Netns, Scratch, PY};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// Waits until something in the namespace listens on UDP `addr:port`.
fn wait_udp_listening(ns: &Netns, addr: &str, port: u16) {
    let needle = format!("{addr}:{port} ");
    let deadline = Instant::now() + SECS(10);
    loop {
        let out = ns.exec("ss", &["-Huln"], SECS(5));
        if String::from_utf8_lossy(&out.stdout).contains(&needle) {
            return;
        }
        assert!(Instant::now() < deadline, "nothing listens on UDP {needle}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The device at 10.A.B.2 with the namespace's host as gateway and DNS.
fn start_device(ns: &Netns, extra: &[&str]) -> DeviceProc {
    let ip = format!("{}/24", ns.device_ip());
    let host = ns.host_ip().to_string();
    let mut args = vec!["--ip", &ip, "--gateway", &host, "--dns", &host];
    args.extend_from_slice(extra);
    let dev = ns.spawn_device(&args);
    dev.wait_for("arp: announced", SECS(10));
    dev
}

/// dnsmasq as the namespace's DNS server only (no DHCP), authoritative
/// for test.lan.
fn start_dnsmasq(ns: &mut Netns, dir: &Scratch, records: &[String]) {
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
        format!("--pid-file={}", dir.path("dnsmasq.pid")),
    ];
    args.extend(records.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ns.spawn("dnsmasq", "dnsmasq", &args);
    wait_udp_listening(ns, &host, 53);
}

/// The milliseconds in `(N ms)` at the end of a `dns:` line.
fn latency_ms(line: &str) -> u64 {
    line.rsplit_once('(')
        .and_then(|(_, r)| r.strip_suffix(" ms)"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no latency in {line:?}"))
}

#[test]
fn dns_a_nxdomain_and_mx_against_dnsmasq() {
    let mut ns = Netns::new("dnsmasq");
    let dir = Scratch::new(&ns);
    let host = ns.host_ip();
    let www = ns.addr(77);
    start_dnsmasq(
        &mut ns,
        &dir,
        &[
            format!("--host-record=www.test.lan,{www}"),
            format!("--host-record=mail.test.lan,{host}"),
            "--mx-host=test.lan,mail.test.lan,10".to_owned(),
            // No address anywhere: the device asks, gets NXDOMAIN, and
            // keeps the exchange without an address.
            "--mx-host=test.lan,mx2.test.lan,20".to_owned(),
        ],
    );
    let dev = start_device(
        &ns,
        &[
            "--resolve",
            "www.test.lan",
            "--resolve",
            "nope.test.lan",
            "--resolve-mx",
            "test.lan",
            "--resolve",
            "WWW.Test.Lan",
        ],
    );
    let a = dev.wait_for("dns: www.test.lan A", SECS(10));
    assert!(
        a.starts_with(&format!("dns: www.test.lan A {www} (")),
        "{a}"
    );
    dev.wait_for("dns: nope.test.lan failed NameError", SECS(10));
    let mx1 = dev.wait_for("dns: test.lan MX 10", SECS(10));
    assert!(
        mx1.starts_with(&format!("dns: test.lan MX 10 mail.test.lan {host} (")),
        "{mx1}"
    );
    let mx2 = dev.wait_for("dns: test.lan MX 20", SECS(10));
    assert!(
        mx2.starts_with("dns: test.lan MX 20 mx2.test.lan none ("),
        "{mx2}"
    );
    let upper = dev.wait_for("dns: WWW.Test.Lan A", SECS(10));
    assert!(upper.contains(&www.to_string()), "{upper}");
    let (status, log) = dev.stop();
    assert_eq!(status, Some(0));
    assert!(
        !log.iter().any(|l| l.contains("dns: rejected")),
        "dnsmasq's replies are all accepted:\n{}",
        log.join("\n")
    );
    eprintln!(
        "dnsmasq latency: A {} ms, MX (+ A for mx2) {} ms, A {} ms",
        latency_ms(&a),
        latency_ms(&mx1),
        latency_ms(&upper)
    );
}

#[test]
fn dns_mx_compressed_and_cname_against_dnslib() {
    require_python_module("dnslib");
    let mut ns = Netns::new("dnslib");
    let dir = Scratch::new(&ns);
    let host = ns.host_ip();
    let zone = format!(
        "test.lan. 300 IN MX 20 backup.test.lan.\n\
         test.lan. 300 IN MX 10 mail.test.lan.\n\
         mail.test.lan. 300 IN A {host}\n\
         backup.test.lan. 300 IN A {}\n\
         www.test.lan. 300 IN CNAME web.test.lan.\n\
         web.test.lan. 300 IN A {}\n",
        ns.addr(26),
        ns.addr(80)
    );
    let zone_file = dir.path("test.zone");
    std::fs::write(&zone_file, zone).expect("zone file");
    let host_s = host.to_string();
    ns.spawn(
        "dnslib",
        PY,
        &[
            "-m",
            "dnslib.zoneresolver",
            "--zone",
            &zone_file,
            "--address",
            &host_s,
            "--port",
            "53",
        ],
    );
    wait_udp_listening(&ns, &host_s, 53);
    let dev = start_device(
        &ns,
        &["--resolve-mx", "test.lan", "--resolve", "www.test.lan"],
    );
    let mx1 = dev.wait_for("dns: test.lan MX 10", SECS(10));
    assert!(
        mx1.starts_with(&format!("dns: test.lan MX 10 mail.test.lan {host} (")),
        "{mx1}"
    );
    let mx2 = dev.wait_for("dns: test.lan MX 20", SECS(10));
    assert!(
        mx2.starts_with(&format!(
            "dns: test.lan MX 20 backup.test.lan {} (",
            ns.addr(26)
        )),
        "{mx2}"
    );
    // dnslib answers the CNAME alone; the device asks again for its target.
    let www = dev.wait_for("dns: www.test.lan", SECS(10));
    assert!(
        www.starts_with(&format!("dns: www.test.lan A {} (", ns.addr(80))),
        "{www}"
    );
    let (_, log) = dev.stop();
    assert!(
        !log.iter().any(|l| l.contains("dns: rejected")),
        "{}",
        log.join("\n")
    );
}

#[test]
fn dns_hostile_replies_from_a_scripted_responder() {
    require_python_module("dnslib");
    let mut ns = Netns::new("dnsbad");
    let host = ns.host_ip().to_string();
    let spoof = ns.addr(3).to_string();
    let answer = ns.addr(77).to_string();
    let out = ns.exec(
        "ip",
        &["addr", "add", &format!("{spoof}/24"), "dev", "tap0"],
        SECS(5),
    );
    assert!(out.status.success(), "second address on tap0");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/names_responder.py"
    );
    ns.spawn(
        "responder",
        PY,
        &[
            script,
            "dns-hostile",
            "--address",
            &host,
            "--spoof",
            &spoof,
            "--answer",
            &answer,
        ],
    );
    wait_udp_listening(&ns, &host, 5353);
    let dev = start_device(&ns, &["--resolve", "www.test.lan"]);
    let a = dev.wait_for("dns: www.test.lan", SECS(10));
    assert!(
        a.starts_with(&format!("dns: www.test.lan A {answer} (")),
        "the real answer wins: {a}"
    );
    let (status, log) = dev.stop();
    assert_eq!(status, Some(0));
    let rejected: Vec<&str> = log
        .iter()
        .filter_map(|l| l.strip_prefix("dns: rejected "))
        .collect();
    let mut want = vec![
        "bad-pointer",    // pointer loop
        "bad-pointer",    // self pointer
        "bad-pointer",    // forward pointer
        "bad-pointer",    // pointer past the end
        "label-too-long", // label of 64
        "name-too-long",  // name of 257
        "truncated",      // cut in the record
        "wrong-id",       // another id
        "wrong-question", // another name
        "wrong-source",   // from another address
        "wrong-source",   // from another port
    ];
    let mut got = rejected.clone();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(
        got,
        want,
        "each hostile reply rejected once:\n{}",
        log.join("\n")
    );
}

/// chrony serving the host's clock, ready (synchronised to its local
/// reference) before the device starts.
fn start_chrony(ns: &mut Netns, dir: &Scratch) {
    require_tool("chronyd", "chrony");
    require_tool("ntpdig", "ntpsec-ntpdig");
    let host = ns.host_ip().to_string();
    let conf = dir.path("chrony.conf");
    std::fs::write(
        &conf,
        format!(
            "local stratum 8\nallow {}/24\nbindaddress {host}\nport 123\ncmdport 0\n\
             pidfile {}\ndriftfile {}\n",
            ns.addr(0),
            dir.path("chrony.pid"),
            dir.path("chrony.drift")
        ),
    )
    .expect("chrony.conf");
    ns.spawn(
        "chronyd",
        "chronyd",
        &["-d", "-x", "-u", "root", "-f", &conf],
    );
    wait_udp_listening(ns, &host, 123);
    let deadline = Instant::now() + SECS(15);
    loop {
        let out = ns.exec("ntpdig", &["-t", "1", &host], SECS(5));
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if text.contains(" s8 ") {
            return;
        }
        assert!(Instant::now() < deadline, "chrony never served: {text}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn unix_ms_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// `KEY=value` from a log line.
fn field<'l>(line: &'l str, key: &str) -> &'l str {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|w| w.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
}

#[test]
fn sntp_against_chrony_by_name_within_one_second() {
    let mut ns = Netns::new("chrony");
    let dir = Scratch::new(&ns);
    start_chrony(&mut ns, &dir);
    let host = ns.host_ip();
    start_dnsmasq(
        &mut ns,
        &dir,
        &[format!("--host-record=ntp.test.lan,{host}")],
    );
    let dev = start_device(&ns, &["--sntp-server", "ntp.test.lan"]);
    let line = dev.wait_for("sntp: unix=", SECS(20));
    let host_ms = unix_ms_now();
    let unix: i64 = field(&line, "unix").parse().expect("unix seconds");
    let unix_ms: i64 = field(&line, "unix_ms").parse().expect("unix ms");
    assert_eq!(unix, unix_ms.div_euclid(1000));
    assert_eq!(field(&line, "stratum"), "8");
    assert_eq!(field(&line, "server"), host.to_string());
    let diff = host_ms - unix_ms;
    assert!(
        diff.abs() < 1000,
        "device time {unix_ms} vs host {host_ms}: {diff} ms apart"
    );
    eprintln!("sntp via chrony: device - host = {} ms", -diff);
    let (_, log) = dev.stop();
    assert!(
        log.iter().any(|l| l.starts_with("dns: query")),
        "resolved by DNS"
    );
    assert!(log
        .iter()
        .any(|l| l == &format!("sntp: request sent to {host}")));
}

/// The device asking the scripted SNTP responder in `mode`.
fn sntp_scripted(mode: &str) -> (Netns, DeviceProc) {
    require_python_module("dnslib");
    let mut ns = Netns::new("sntp");
    let host = ns.host_ip().to_string();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/names_responder.py"
    );
    ns.spawn("responder", PY, &[script, mode, "--address", &host]);
    wait_udp_listening(&ns, &host, 123);
    let dev = start_device(&ns, &["--sntp-server", &host]);
    (ns, dev)
}

#[test]
fn sntp_kiss_of_death_is_reported_with_its_code() {
    let (_ns, dev) = sntp_scripted("sntp-kod");
    dev.wait_for("sntp: kiss-o'-death RATE", SECS(10));
    assert_eq!(dev.count("sntp: unix="), 0);
}

#[test]
fn sntp_leap_indicator_3_is_unsynchronised() {
    let (_ns, dev) = sntp_scripted("sntp-li3");
    dev.wait_for("sntp: unsynchronised", SECS(10));
    assert_eq!(dev.count("sntp: unix="), 0);
}

#[test]
fn sntp_wrong_origin_is_rejected_until_the_reply_step_times_out() {
    let (_ns, dev) = sntp_scripted("sntp-bad-origin");
    dev.wait_for("sntp: rejected bad-origin", SECS(10));
    // [sntp] timeout = 5 s in stack.toml.
    dev.wait_for("sntp: timeout reply", SECS(10));
    assert_eq!(dev.count("sntp: unix="), 0);
}

#[test]
fn sntp_time_in_era_one_is_after_2036() {
    let (_ns, dev) = sntp_scripted("sntp-era1");
    let line = dev.wait_for("sntp: unix=", SECS(10));
    assert_eq!(field(&line, "era"), "1");
    // 2040-01-01T00:00:00.25Z plus half a round trip.
    assert_eq!(field(&line, "unix"), "2208988800");
    let ms: i64 = field(&line, "unix_ms").parse().expect("ms");
    assert!(
        (2_208_988_800_250..2_208_988_800_350).contains(&ms),
        "{line}"
    );
}

#[test]
fn netbios_answers_nmblookup_unicast_and_broadcast() {
    require_tool("nmblookup", "samba-common-bin");
    let ns = Netns::new("nbns");
    let dev = start_device(&ns, &[]);
    let ip = ns.device_ip().to_string();
    let bcast = ns.addr(255).to_string();
    let run = |args: &[&str]| {
        let out = ns.exec("nmblookup", args, SECS(15));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    // Unicast, in lower case: the name compares without case.
    let out = run(&["-U", &ip, "ember"]);
    assert!(out.contains(&format!("{ip} ember<00>")), "{out}");
    let out = run(&["-B", &bcast, "EMBER"]);
    assert!(out.contains(&format!("{ip} EMBER<00>")), "{out}");
    // Another name: no answer.
    let out = run(&["-U", &ip, "OTHER"]);
    assert!(
        out.contains("name_query failed to find name OTHER"),
        "{out}"
    );
    let out = run(&["-B", &bcast, "EMBERX"]);
    assert!(
        out.contains("name_query failed to find name EMBERX"),
        "{out}"
    );
    let (status, log) = dev.stop();
    assert_eq!(status, Some(0));
    let host = ns.host_ip();
    assert!(log.contains(&format!("netbios: answered {host} (unicast)")));
    assert!(log.contains(&format!("netbios: answered {host} (broadcast)")));
    assert_eq!(
        log.iter()
            .filter(|l| l.starts_with("netbios: answered"))
            .count(),
        2,
        "{}",
        log.join("\n")
    );
}

#[test]
fn a_rename_on_the_settings_page_reaches_netbios_and_the_dhcp_host_name() {
    require_tool("nmblookup", "samba-common-bin");
    require_tool("curl", "curl");
    let mut ns = Netns::new("rename");
    let dir = Scratch::new(&ns);
    let leases = dir.path("leases");
    let dhcp = [
        format!(
            "--dhcp-range={},{},255.255.255.0,2m",
            ns.addr(100),
            ns.addr(150)
        ),
        "--dhcp-authoritative".to_owned(),
        "--no-ping".to_owned(),
        format!("--dhcp-leasefile={leases}"),
    ];
    start_dnsmasq(&mut ns, &dir, &dhcp);
    let dev = ns.spawn_device(&[]);
    let bound = dev.wait_for("dhcp: bound", SECS(30));
    let ip = bound
        .split_whitespace()
        .nth(2)
        .and_then(|a| a.split('/').next())
        .unwrap()
        .to_owned();
    dev.wait_for(&format!("arp: announced {ip}"), SECS(5));
    let lease_has = |name: &str| {
        std::fs::read_to_string(&leases)
            .unwrap_or_default()
            .contains(&format!(" {ip} {name} "))
    };
    assert!(lease_has("EMBER"), "the configured name first");
    let nmb = |name: &str| {
        let out = ns.exec("nmblookup", &["-U", &ip, name], SECS(15));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert!(nmb("EMBER").contains(&format!("{ip} EMBER<00>")));

    // Renamed on the settings page (DHCP stays on).
    let out = ns.exec(
        "curl",
        &[
            "-s",
            "-d",
            "name=Kiln_7",
            "-d",
            "dhcp=on",
            &format!("http://{ip}/settings.html"),
        ],
        SECS(10),
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Saved: name Kiln_7"),
        "{out:?}"
    );
    dev.wait_for("web: applied name Kiln_7", SECS(5));
    let out = nmb("kiln_7");
    assert!(out.contains(&format!("{ip} kiln_7<00>")), "{out}");
    let out = nmb("EMBER");
    assert!(
        out.contains("name_query failed to find name EMBER"),
        "{out}"
    );
    // mDNS follows: probed and announced as Kiln-7.local (`_` as `-`).
    dev.wait_for(&format!("mdns: announced Kiln-7.local {ip}"), SECS(10));

    // The next DHCP message carries the new name (option 12, `_` as `-`):
    // a link flap makes one now (INIT-REBOOT).
    for state in ["down", "up"] {
        let before = dev.count(&format!("link: {state}"));
        let o = ns.exec("ip", &["link", "set", "tap0", state], SECS(5));
        assert!(o.status.success(), "{o:?}");
        dev.wait_for_nth(&format!("link: {state}"), before + 1, SECS(5));
    }
    dev.wait_for("dhcp: renewed", SECS(15));
    let deadline = Instant::now() + SECS(5);
    while !lease_has("Kiln-7") {
        assert!(
            Instant::now() < deadline,
            "dnsmasq's lease: {}",
            std::fs::read_to_string(&leases).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // A bad name is refused by the page and changes nothing.
    let out = ns.exec(
        "curl",
        &[
            "-s",
            "-d",
            "name=-bad",
            &format!("http://{ip}/settings.html"),
        ],
        SECS(10),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("The name must be"));
    assert!(nmb("KILN_7").contains("KILN_7<00>"));
}

/// Issue 15 item 13: `--resolve` at start with DHCP. The query is made
/// before the lease (and its DNS server) arrives; it waits for the server
/// instead of failing at once with `NoServer`.
#[test]
fn a_name_asked_before_the_dhcp_lease_waits_for_its_dns_server() {
    let mut ns = Netns::new("dnsboot");
    let dir = Scratch::new(&ns);
    let host = ns.host_ip().to_string();
    let www = ns.addr(78);
    let range = format!("{},{},255.255.255.0,2m", ns.addr(100), ns.addr(150));
    start_dnsmasq(
        &mut ns,
        &dir,
        &[
            format!("--host-record=boot.test.lan,{www}"),
            format!("--dhcp-range={range}"),
            "--dhcp-authoritative".to_owned(),
            "--no-ping".to_owned(),
            format!("--dhcp-option=option:router,{host}"),
            format!("--dhcp-option=option:dns-server,{host}"),
            format!("--dhcp-leasefile={}", dir.path("leases")),
        ],
    );
    let dev = ns.spawn_device(&["--resolve", "boot.test.lan"]);
    let line = dev.wait_for("dns: boot.test.lan", SECS(15));
    let (status, log) = dev.stop();
    assert_eq!(status, Some(0));
    assert!(
        line.starts_with(&format!("dns: boot.test.lan A {www} (")),
        "{line}; log:\n{}",
        log.join("\n")
    );
    let bound = log.iter().position(|l| l.starts_with("dhcp: bound"));
    let answered = log.iter().position(|l| l.starts_with("dns: boot.test.lan"));
    assert!(
        bound < answered,
        "answered after the lease:\n{}",
        log.join("\n")
    );
}
