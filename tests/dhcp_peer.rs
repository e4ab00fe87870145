//! The DHCP client against real servers in a network namespace: dnsmasq
//! (binding, settings, the kernel reaching the leased address) and kea with
//! a 30 s lease (renewal at T1 by unicast, rebinding at T2 by broadcast
//! once the server is gone, expiry with no frame from the stale address,
//! and a new lease when the server is back), checked on the device's own
//! capture (`--pcap`).

mod harness;

use harness::peers::{peer_script, wait_file};

use emberstack::wire::dhcp::{MessageType, Packet, Repr};
use harness::{require_tool, DeviceProc, Netns};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const SECS: fn(u64) -> Duration = Duration::from_secs;
const DEVICE_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];

/// A scratch directory for a peer's lease and PID files, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "es-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().expect("utf-8").to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The fields of a `dhcp: bound A/N gw G dns D lease Ns ntp T server S t1
/// Xs t2 Ys` line.
#[derive(Debug)]
struct Bound {
    address: Ipv4Addr,
    prefix: u8,
    fields: Vec<(String, String)>,
}

impl Bound {
    fn parse(line: &str) -> Bound {
        let rest = line
            .split("dhcp: bound ")
            .nth(1)
            .unwrap_or_else(|| panic!("not a bound line: {line}"));
        let mut words = rest.split_whitespace();
        let cidr = words.next().expect("address");
        let (a, p) = cidr.split_once('/').expect("A/N");
        let words: Vec<&str> = words.collect();
        let fields = words
            .chunks(2)
            .map(|kv| {
                (
                    kv[0].to_owned(),
                    kv.get(1).copied().unwrap_or("").to_owned(),
                )
            })
            .collect();
        Bound {
            address: a.parse().expect("address"),
            prefix: p.parse().expect("prefix"),
            fields,
        }
    }

    fn get(&self, key: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no `{key}` in {self:?}"))
    }
}

/// Pings `addr` from the namespace's kernel, a few tries.
fn kernel_pings(ns: &Netns, addr: Ipv4Addr) -> bool {
    (0..5).any(|_| {
        ns.exec("ping", &["-c", "1", "-W", "1", &addr.to_string()], SECS(5))
            .status
            .success()
    })
}

/// Waits (bounded) until a peer has written `path` (its PID file: it is
/// set up).
fn wait_for_file(path: &str) {
    let deadline = Instant::now() + SECS(10);
    while !Path::new(path).exists() {
        assert!(Instant::now() < deadline, "{path} never appeared");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn pool(ns: &Netns) -> std::ops::RangeInclusive<Ipv4Addr> {
    ns.addr(100)..=ns.addr(150)
}

#[test]
fn dnsmasq_lease_with_router_dns_ntp_and_the_kernel_reaches_it() {
    require_tool("dnsmasq", "dnsmasq-base");
    require_tool("ping", "iputils-ping");
    let mut ns = Netns::new("dhcpdm");
    let tmp = TempDir::new("dnsmasq");
    let host = ns.host_ip().to_string();
    harness::peers::start_dnsmasq(&mut ns, &tmp.path("leases"), &tmp.path("pid"));
    wait_for_file(&tmp.path("pid"));
    let started = Instant::now();
    let dev = ns.spawn_device(&[]);
    let line = dev.wait_for("dhcp: bound", SECS(30));
    let took = started.elapsed();
    eprintln!("dnsmasq: bound {took:?} after the device started: {line}");
    let b = Bound::parse(&line);
    assert!(pool(&ns).contains(&b.address), "{line}");
    assert_eq!(b.prefix, 24);
    assert_eq!(b.get("gw"), host);
    assert_eq!(b.get("dns"), host);
    assert_eq!(b.get("ntp"), host);
    assert_eq!(b.get("server"), host);
    assert_eq!(b.get("lease"), "120s");
    assert_eq!((b.get("t1"), b.get("t2")), ("60s", "105s"));
    // The order of events before it.
    let log = dev.log();
    let dhcp: Vec<&str> = log
        .iter()
        .filter(|l| l.starts_with("dhcp: "))
        .map(|l| l.split_whitespace().nth(1).unwrap_or(""))
        .collect();
    assert_eq!(
        dhcp,
        ["discovering", "offer", "probing", "bound"],
        "{log:?}"
    );
    assert!(log.iter().any(|l| l == "ip: from dhcp"));
    dev.wait_for(&format!("arp: announced {}", b.address), SECS(5));
    assert!(
        kernel_pings(&ns, b.address),
        "the kernel pings {}",
        b.address
    );
    // dnsmasq recorded the lease under our MAC and host name.
    let leases = std::fs::read_to_string(tmp.path("leases")).unwrap_or_default();
    assert!(
        leases.contains(&format!("02:00:00:00:00:02 {} EMBER", b.address)),
        "lease file: {leases}"
    );
    let (status, log) = dev.stop();
    assert_eq!(status, Some(0), "{log:?}");
    // The server was ready: the first DISCOVER is answered (no 4 s
    // retransmission); the two ARP probes take under a second.
    assert!(took < SECS(3), "bound in {took:?}");
}

#[test]
fn ip_flag_keeps_dhcp_off() {
    require_tool("dnsmasq", "dnsmasq-base");
    let mut ns = Netns::new("dhcpoff");
    let tmp = TempDir::new("dnsmasq");
    let host = ns.host_ip().to_string();
    let range = format!("{},{},255.255.255.0,2m", ns.addr(100), ns.addr(150));
    let args = [
        "--keep-in-foreground".to_owned(),
        "--conf-file=/dev/null".to_owned(),
        "--no-resolv".to_owned(),
        "--no-hosts".to_owned(),
        "--port=0".to_owned(),
        "--bind-interfaces".to_owned(),
        "--interface=tap0".to_owned(),
        format!("--listen-address={host}"),
        format!("--dhcp-range={range}"),
        "--no-ping".to_owned(),
        format!("--dhcp-leasefile={}", tmp.path("leases")),
        format!("--pid-file={}", tmp.path("pid")),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ns.spawn("dnsmasq", "dnsmasq", &args);
    let ip = format!("{}/24", ns.device_ip());
    let dev = ns.spawn_device(&["--ip", &ip]);
    dev.wait_for("arp: announced", SECS(10));
    std::thread::sleep(SECS(2));
    assert!(kernel_pings(&ns, ns.device_ip()));
    let (status, log) = dev.stop();
    assert_eq!(status, Some(0));
    assert!(
        !log.iter().any(|l| l.starts_with("dhcp: ")),
        "no DHCP with --ip: {log:?}"
    );
    let leases = std::fs::read_to_string(tmp.path("leases")).unwrap_or_default();
    assert!(leases.is_empty(), "no lease handed out: {leases}");
}

/// One frame of the device's capture.
struct Frame {
    /// Seconds (wall clock).
    t: f64,
    bytes: Vec<u8>,
}

impl Frame {
    fn outgoing(&self) -> bool {
        self.bytes.len() >= 14 && self.bytes[6..12] == DEVICE_MAC
    }
    fn ethertype(&self) -> u16 {
        u16::from_be_bytes([self.bytes[12], self.bytes[13]])
    }
    fn is_ipv4(&self) -> bool {
        self.bytes.len() >= 34 && self.ethertype() == 0x0800
    }
    fn ip_src(&self) -> Ipv4Addr {
        Ipv4Addr::from(<[u8; 4]>::try_from(&self.bytes[26..30]).unwrap())
    }
    fn ip_dst(&self) -> Ipv4Addr {
        Ipv4Addr::from(<[u8; 4]>::try_from(&self.bytes[30..34]).unwrap())
    }
    /// The sender protocol address of an ARP packet.
    fn arp_sender(&self) -> Option<Ipv4Addr> {
        (self.ethertype() == 0x0806 && self.bytes.len() >= 42)
            .then(|| Ipv4Addr::from(<[u8; 4]>::try_from(&self.bytes[28..32]).unwrap()))
    }
    /// The DHCP message inside, if it is one (UDP 67/68).
    fn dhcp(&self) -> Option<Repr<'_>> {
        if !self.is_ipv4() || self.bytes[23] != 17 {
            return None;
        }
        let ihl = usize::from(self.bytes[14] & 0x0f) * 4;
        let udp = self.bytes.get(14 + ihl..)?;
        let ports = (
            u16::from_be_bytes([udp[0], udp[1]]),
            u16::from_be_bytes([udp[2], udp[3]]),
        );
        if ports != (68, 67) && ports != (67, 68) {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
        let msg = udp.get(8..len)?;
        Repr::parse(&Packet::new_checked(msg).ok()?).ok()
    }
}

/// Reads a classic pcap file (microsecond timestamps, Ethernet).
fn read_pcap(path: &Path) -> Vec<Frame> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(data.len() >= 24, "pcap header");
    assert_eq!(
        u32::from_le_bytes(data[0..4].try_into().unwrap()),
        0xa1b2_c3d4
    );
    let mut frames = Vec::new();
    let mut at = 24;
    while at + 16 <= data.len() {
        let word = |i: usize| u32::from_le_bytes(data[at + i..at + i + 4].try_into().unwrap());
        let (sec, usec, incl) = (word(0), word(4), word(8) as usize);
        let bytes = data[at + 16..(at + 16 + incl).min(data.len())].to_vec();
        frames.push(Frame {
            t: f64::from(sec) + f64::from(usec) / 1e6,
            bytes,
        });
        at += 16 + incl;
    }
    frames
}

fn start_kea(ns: &mut Netns, tmp: &TempDir, config: &str) -> u32 {
    // A PID file left by the killed instance would stop the new one.
    let _ = std::fs::remove_file(tmp.0.join("kea-dhcp4.kea-dhcp4.pid"));
    let pid_dir = format!("KEA_PIDFILE_DIR={}", tmp.0.display());
    let lock_dir = format!("KEA_LOCKFILE_DIR={}", tmp.0.display());
    ns.spawn(
        "kea",
        "env",
        &[&pid_dir, &lock_dir, "kea-dhcp4", "-c", config],
    )
}

fn kea_config(ns: &Netns, tmp: &TempDir) -> String {
    let net = format!("10.{}.{}", ns.net[0], ns.net[1]);
    let host = ns.host_ip();
    let config = format!(
        r#"{{ "Dhcp4": {{
  "interfaces-config": {{ "interfaces": ["tap0"], "dhcp-socket-type": "raw" }},
  "lease-database": {{ "type": "memfile", "persist": true, "name": "{leases}", "lfc-interval": 0 }},
  "valid-lifetime": 30, "renew-timer": 10, "rebind-timer": 20,
  "subnet4": [ {{ "id": 1, "subnet": "{net}.0/24",
     "pools": [ {{ "pool": "{net}.100 - {net}.150" }} ],
     "option-data": [ {{ "name": "routers", "data": "{host}" }},
                      {{ "name": "domain-name-servers", "data": "{host}" }},
                      {{ "name": "ntp-servers", "data": "{host}" }} ] }} ],
  "loggers": [ {{ "name": "kea-dhcp4", "severity": "INFO",
     "output_options": [ {{ "output": "{log}" }} ] }} ]
}} }}"#,
        leases = tmp.path("leases.csv"),
        log = tmp.path("kea.log"),
    );
    let path = tmp.path("kea.json");
    std::fs::write(&path, config).expect("kea config");
    path
}

/// Waits for `needle`, with the kea log in the failure message.
fn wait(dev: &DeviceProc, needle: &str, n: usize, limit: Duration, tmp: &TempDir) -> String {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if dev.count(needle) >= n {
            return dev.wait_for_nth(needle, n, SECS(1));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let kea = std::fs::read_to_string(tmp.0.join("kea.log")).unwrap_or_default();
    panic!(
        "device never logged {n}× `{needle}` within {limit:?}\ndevice log:\n{}\nkea log tail:\n{}",
        dev.log().join("\n"),
        kea.lines().rev().take(20).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn kea_short_lease_renew_rebind_expire_and_rebind_again() {
    require_tool("kea-dhcp4", "kea-dhcp4-server");
    require_tool("ping", "iputils-ping");
    let mut ns = Netns::new("dhcpkea");
    let tmp = TempDir::new("kea");
    let config = kea_config(&ns, &tmp);
    let pcap = tmp.path("device.pcap");
    let dev = ns.spawn_device(&["--pcap", &pcap]);
    // Kea needs the TAP running (a process holding it) when it starts.
    dev.wait_for("dhcp: discovering", SECS(10));
    let kea = start_kea(&mut ns, &tmp, &config);
    let line = wait(&dev, "dhcp: bound", 1, SECS(30), &tmp);
    let first = Bound::parse(&line);
    assert!(pool(&ns).contains(&first.address), "{line}");
    assert_eq!(
        (first.get("lease"), first.get("t1"), first.get("t2")),
        ("30s", "10s", "20s")
    );
    assert!(kernel_pings(&ns, first.address));
    // T1: renewed by the server.
    wait(&dev, "dhcp: renewed", 1, SECS(15), &tmp);
    // The server goes away: renewing fails, rebinding at T2 fails, the
    // lease expires and the address is given up.
    assert!(ns.kill(kea));
    wait(&dev, "dhcp: rebinding", 1, SECS(25), &tmp);
    wait(&dev, "dhcp: expired", 1, SECS(15), &tmp);
    // Back: the next DISCOVER is answered.
    start_kea(&mut ns, &tmp, &config);
    let line = wait(&dev, "dhcp: bound", 2, SECS(30), &tmp);
    let second = Bound::parse(&line);
    assert!(pool(&ns).contains(&second.address), "{line}");
    assert!(kernel_pings(&ns, second.address));
    let (status, log) = dev.stop();
    assert_eq!(status, Some(0), "{log:?}");

    // The device's own capture, in wall-clock seconds.
    let frames = read_pcap(Path::new(&pcap));
    let leased = first.address;
    let server = ns.host_ip();
    let dhcp: Vec<(f64, bool, Repr<'_>, &Frame)> = frames
        .iter()
        .filter_map(|f| f.dhcp().map(|r| (f.t, f.outgoing(), r, f)))
        .collect();
    let acks: Vec<f64> = dhcp
        .iter()
        .filter(|(_, out, r, _)| !out && r.message_type == MessageType::Ack)
        .map(|(t, ..)| *t)
        .collect();
    assert!(acks.len() >= 3, "bound, renewed, bound again: {acks:?}");
    let bound_at = acks[0];
    // The REQUEST each ACK answered (same xid, sent just before it).
    let request_for = |ack_t: f64| -> f64 {
        dhcp.iter()
            .filter(|(t, out, r, _)| *out && r.message_type == MessageType::Request && *t <= ack_t)
            .map(|(t, ..)| *t)
            .next_back()
            .expect("a REQUEST before the ACK")
    };
    let out_requests: Vec<&(f64, bool, Repr<'_>, &Frame)> = dhcp
        .iter()
        .filter(|(_, out, r, _)| *out && r.message_type == MessageType::Request)
        .collect();
    // Renewal at T1 = 10 s: unicast to the server from the leased address.
    let renew = out_requests
        .iter()
        .find(|(t, ..)| *t > bound_at)
        .expect("a renewing REQUEST");
    let (t, _, r, f) = renew;
    let since = t - request_for(bound_at);
    assert!(
        (9.9..11.0).contains(&since),
        "renewal {since:.3} s after the lease began"
    );
    assert_eq!(
        (f.ip_src(), f.ip_dst()),
        (leased, server),
        "unicast renewal"
    );
    assert_ne!(f.bytes[0..6], [0xff; 6], "unicast frame");
    assert_eq!(Ipv4Addr::from(r.client_ip.0), leased);
    assert!(!r.broadcast && r.server_identifier.is_none() && r.requested_ip.is_none());
    // The last lease before the server went away.
    let last_ack = *acks.iter().rfind(|&&a| a < acks[acks.len() - 1]).unwrap();
    let lease_start = request_for(last_ack);
    let rebind = out_requests
        .iter()
        .find(|(t, _, _, f)| *t > last_ack && f.ip_dst() == Ipv4Addr::BROADCAST)
        .expect("a rebinding REQUEST");
    let since = rebind.0 - lease_start;
    assert!(
        (19.9..21.0).contains(&since),
        "rebinding {since:.3} s into the lease"
    );
    assert_eq!(rebind.3.ip_src(), leased);
    assert_eq!(Ipv4Addr::from(rebind.2.client_ip.0), leased);
    assert_eq!(rebind.3.bytes[0..6], [0xff; 6], "broadcast frame");
    // Expiry at 30 s: from then until the next lease, nothing leaves from
    // the stale address (IP source or ARP sender) and discovery runs from
    // 0.0.0.0.
    let expiry = lease_start + 30.0;
    let rebound = acks[acks.len() - 1];
    let mut discovers = 0;
    for f in frames
        .iter()
        .filter(|f| f.outgoing() && f.t > expiry + 0.1 && f.t < rebound)
    {
        if f.is_ipv4() {
            assert_ne!(
                f.ip_src(),
                leased,
                "IP frame from the stale address at {:.3}",
                f.t - expiry
            );
            if f.dhcp()
                .is_some_and(|r| r.message_type == MessageType::Discover)
            {
                assert_eq!(f.ip_src(), Ipv4Addr::UNSPECIFIED);
                discovers += 1;
            }
        }
        assert_ne!(f.arp_sender(), Some(leased), "ARP from the stale address");
    }
    assert!(discovers >= 1, "discovery after expiry");
    let last_stale = frames
        .iter()
        .filter(|f| f.outgoing() && f.t < rebound)
        .filter(|f| (f.is_ipv4() && f.ip_src() == leased) || f.arp_sender() == Some(leased))
        .map(|f| f.t)
        .fold(0.0, f64::max);
    assert!(
        last_stale <= expiry + 0.1,
        "last frame from the stale address {:.3} s after expiry",
        last_stale - expiry
    );
    eprintln!(
        "kea: renew {:.3} s after bound, rebind {:.3} s into the lease, expiry → bound again in {:.3} s",
        renew.0 - request_for(bound_at),
        rebind.0 - lease_start,
        rebound - expiry
    );
}

/// Starts `arp_holder.py` on the namespace's tap0: it will hold the first
/// address the device probes. Returns the file it names that address in.
fn start_holder(ns: &mut Netns, tmp: &TempDir) -> String {
    let file = tmp.path("held");
    let script = peer_script("arp_holder.py");
    ns.spawn(
        "arp_holder",
        "python3",
        &[
            &script,
            "--iface",
            "tap0",
            "--mac",
            "02:aa:00:00:00:01",
            "--file",
            &file,
        ],
    );
    wait_file(&format!("{file}.ready"), "arp_holder.py");
    file
}

/// The device probes the offered address, finds it held by another host,
/// declines it, and `server` hands out another one.
fn declined_then_another(dev: &DeviceProc, held_file: &str, tmp: &TempDir) {
    let declined = wait(dev, "dhcp: declined", 1, SECS(30), tmp);
    let held = std::fs::read_to_string(held_file).unwrap();
    let held = held.trim();
    assert_eq!(declined, format!("dhcp: declined {held} (in use)"));
    let line = wait(dev, "dhcp: bound", 1, SECS(40), tmp);
    let b = Bound::parse(&line);
    assert_ne!(b.address.to_string(), held, "another address");
    let log = dev.log();
    // Never used before the probes, so nothing left from it.
    assert!(
        !log.iter().any(|l| l == &format!("arp: announced {held}")),
        "{log:#?}"
    );
    // The announcement follows the bound line (next poll): wait for it.
    dev.wait_for(&format!("arp: announced {}", b.address), SECS(5));
}

#[test]
fn dnsmasq_hands_out_another_address_after_a_decline() {
    require_tool("dnsmasq", "dnsmasq-base");
    require_tool("python3", "python3");
    let mut ns = Netns::new("dhcpdcl");
    let tmp = TempDir::new("dnsmasq-decline");
    let held = start_holder(&mut ns, &tmp);
    let host = ns.host_ip().to_string();
    let range = format!("{},{},255.255.255.0,2m", ns.addr(100), ns.addr(150));
    let args = [
        "--keep-in-foreground".to_owned(),
        "--conf-file=/dev/null".to_owned(),
        "--no-resolv".to_owned(),
        "--no-hosts".to_owned(),
        "--port=0".to_owned(),
        "--bind-interfaces".to_owned(),
        "--interface=tap0".to_owned(),
        format!("--listen-address={host}"),
        format!("--dhcp-range={range}"),
        "--dhcp-authoritative".to_owned(),
        "--no-ping".to_owned(),
        format!("--dhcp-leasefile={}", tmp.path("leases")),
        format!("--pid-file={}", tmp.path("pid")),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ns.spawn("dnsmasq", "dnsmasq", &args);
    wait_for_file(&tmp.path("pid"));
    let dev = ns.spawn_device(&[]);
    declined_then_another(&dev, &held, &tmp);
}

#[test]
fn kea_hands_out_another_address_after_a_decline() {
    require_tool("kea-dhcp4", "kea-dhcp4-server");
    require_tool("python3", "python3");
    let mut ns = Netns::new("dhcpkdcl");
    let tmp = TempDir::new("kea-decline");
    let held = start_holder(&mut ns, &tmp);
    let config = kea_config(&ns, &tmp);
    let dev = ns.spawn_device(&[]);
    dev.wait_for("dhcp: discovering", SECS(10));
    start_kea(&mut ns, &tmp, &config);
    declined_then_another(&dev, &held, &tmp);
    let kea = std::fs::read_to_string(tmp.0.join("kea.log")).unwrap_or_default();
    assert!(
        kea.contains("DHCP4_DECLINE_LEASE"),
        "kea logged the decline:\n{kea}"
    );
}

#[test]
fn dnsmasq_acks_a_remembered_address_with_init_reboot_and_naks_a_foreign_one() {
    require_tool("dnsmasq", "dnsmasq-base");
    let mut ns = Netns::new("dhcprbt");
    let tmp = TempDir::new("dnsmasq-reboot");
    let host = ns.host_ip().to_string();
    let range = format!("{},{},255.255.255.0,2m", ns.addr(100), ns.addr(150));
    let args = [
        "--keep-in-foreground".to_owned(),
        "--conf-file=/dev/null".to_owned(),
        "--no-resolv".to_owned(),
        "--no-hosts".to_owned(),
        "--port=0".to_owned(),
        "--bind-interfaces".to_owned(),
        "--interface=tap0".to_owned(),
        format!("--listen-address={host}"),
        format!("--dhcp-range={range}"),
        "--dhcp-authoritative".to_owned(),
        "--no-ping".to_owned(),
        format!("--dhcp-leasefile={}", tmp.path("leases")),
        format!("--pid-file={}", tmp.path("pid")),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ns.spawn("dnsmasq", "dnsmasq", &args);
    wait_for_file(&tmp.path("pid"));
    // First run: an address the usual way; the device "remembers" it.
    let dev = ns.spawn_device(&[]);
    let first = Bound::parse(&dev.wait_for("dhcp: bound", SECS(30)));
    let (status, _) = dev.stop();
    assert_eq!(status, Some(0));
    // Restart with it: INIT-REBOOT, no discovery, the same address.
    let remembered = first.address.to_string();
    let dev = ns.spawn_device(&["--dhcp-reboot", &remembered]);
    let line = dev.wait_for("dhcp: bound", SECS(30));
    assert_eq!(Bound::parse(&line).address, first.address);
    let log = dev.log();
    let dhcp: Vec<&str> = log
        .iter()
        .filter(|l| l.starts_with("dhcp: "))
        .map(|l| l.split_whitespace().nth(1).unwrap_or(""))
        .collect();
    assert_eq!(dhcp, ["rebooting", "probing", "bound"], "{log:#?}");
    let (status, _) = dev.stop();
    assert_eq!(status, Some(0));
    // An address from another network: the authoritative server says no,
    // and the device discovers.
    let dev = ns.spawn_device(&["--dhcp-reboot", "192.168.77.7"]);
    dev.wait_for("dhcp: nak", SECS(10));
    let line = dev.wait_for("dhcp: bound", SECS(30));
    assert!(pool(&ns).contains(&Bound::parse(&line).address), "{line}");
}
