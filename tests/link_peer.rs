//! Link state on the real TAP in a network namespace: with the TAP taken
//! down (`ip link set tap0 down`, a cable pulled) the device says so once,
//! sends nothing and sleeps (its CPU time stays near zero: it used to make
//! millions of failed sends at full CPU); brought up again it says so,
//! asks dnsmasq for its lease again (DHCP INIT-REBOOT) and announces its
//! address with a gratuitous ARP.

mod harness;

use harness::peers::wait_file;
use harness::{require_tool, Netns, Scratch};
use std::time::{Duration, Instant};

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// User plus system CPU time of `pid` in clock ticks (`/proc/PID/stat`
/// fields 14 and 15).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("device running");
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3: utime is field 14, stime 15.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(t).unwrap_or(100)
}

#[test]
fn tap_down_stops_sending_without_spinning_and_up_reboots_the_lease() {
    require_tool("dnsmasq", "dnsmasq-base");
    let mut ns = Netns::new("link");
    let s = Scratch::new(&ns);
    let host = ns.host_ip().to_string();
    let range = format!("{},{},255.255.255.0,2m", ns.addr(100), ns.addr(150));
    let leases = s.path("leases");
    let pid_file = s.path("dnsmasq.pid");
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
        format!("--dhcp-leasefile={leases}"),
        format!("--pid-file={pid_file}"),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ns.spawn("dnsmasq", "dnsmasq", &args);
    wait_file(&pid_file, "dnsmasq");
    let dev = ns.spawn_device(&[]);
    let bound = dev.wait_for("dhcp: bound", SECS(30));
    let address = bound
        .split_whitespace()
        .nth(2)
        .and_then(|a| a.split('/').next())
        .unwrap()
        .to_owned();
    dev.wait_for(&format!("arp: announced {address}"), SECS(5));
    let pid = dev.pid();

    // The cable is pulled for 6 s.
    let ip = |args: &[&str]| {
        let out = ns.exec("ip", args, SECS(5));
        assert!(out.status.success(), "ip {args:?}: {out:?}");
    };
    assert_eq!(dev.count("link: "), 0, "no link change before the test's");
    ip(&["link", "set", "tap0", "down"]);
    dev.wait_for("link: down", SECS(3));
    let before = cpu_ticks(pid);
    let started = Instant::now();
    std::thread::sleep(SECS(6));
    let used = cpu_ticks(pid) - before;
    let budget = ticks_per_second() * 6 / 10; // 10 % of one core
    assert!(
        used <= budget,
        "{used} ticks of CPU in {:?} with the link down (budget {budget})",
        started.elapsed()
    );
    assert_eq!(dev.count("link: down"), 1, "said once");

    // Back: the lease is asked for again and the address announced.
    ip(&["link", "set", "tap0", "up"]);
    dev.wait_for("link: up", SECS(5));
    dev.wait_for(&format!("dhcp: rebooting {address}"), SECS(5));
    dev.wait_for_nth(&format!("arp: announced {address}"), 2, SECS(5));
    let renewed = dev.wait_for("dhcp: renewed", SECS(15));
    assert!(renewed.contains(&address), "{renewed}");
    let (status, log) = dev.stop();
    assert_eq!(status, Some(0), "{log:#?}");
    // At most the send that found the link down failed: after it the
    // device stopped trying (before: millions of failed sends).
    let counters = log
        .iter()
        .find(|l| l.starts_with("counters: in "))
        .expect("counters at exit");
    let tx_errors: u64 = counters
        .split_whitespace()
        .skip_while(|w| *w != "tx-errors")
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(tx_errors <= 3, "{counters}");
}
