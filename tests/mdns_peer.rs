//! The mDNS responder against python-zeroconf in a network namespace: the
//! device probes and announces `ember.local`, zeroconf resolves it (and in
//! another case), a standard-library querier checks the packet fields
//! (multicast answer to the group with IP TTL 255, the cache-flush bit and
//! the TTL; a legacy unicast answer with the query's id and question and a
//! short TTL; no answer for another name), and another host claiming the
//! name makes the device rename itself `EMBER-2.local`, which then
//! resolves.

mod harness;

use harness::peers::peer_script;
use harness::{require_python_module, DeviceProc, Netns, PY};
use std::time::Duration;

const SECS: fn(u64) -> Duration = Duration::from_secs;

fn peer(ns: &Netns, args: &[&str]) -> String {
    let script = peer_script("mdns_peer.py");
    let mut all = vec![script.as_str()];
    all.extend_from_slice(args);
    let out = ns.exec(PY, &all, SECS(30));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "mdns_peer.py {args:?}: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn start(ns: &Netns) -> DeviceProc {
    start_with(ns, &[])
}

fn start_with(ns: &Netns, extra: &[&str]) -> DeviceProc {
    // mDNS needs a multicast route on the kernel side (PEERS.md).
    let o = ns.exec(
        "ip",
        &["route", "add", "224.0.0.0/4", "dev", "tap0"],
        SECS(5),
    );
    assert!(o.status.success(), "{o:?}");
    let ip = format!("{}/24", ns.device_ip());
    let gw = ns.host_ip().to_string();
    let dev = ns.spawn_device(&["--ip", &ip, "--gateway", &gw]);
    dev.wait_for(
        &format!("mdns: announced EMBER.local {}", ns.device_ip()),
        SECS(10),
    );
    dev
}

#[test]
fn zeroconf_resolves_the_device_and_the_packet_fields_are_right() {
    require_python_module("zeroconf");
    let ns = Netns::new("mdns");
    let pcap = std::env::temp_dir().join(format!("es-mdns-{}.pcap", std::process::id()));
    let pcap_arg = pcap.to_string_lossy().into_owned();
    let dev = start_with(&ns, &["--pcap", &pcap_arg]);
    let host = ns.host_ip().to_string();
    let device = ns.device_ip().to_string();
    let log = dev.log();
    let probing = log.iter().position(|l| l == "mdns: probing EMBER.local");
    let announced = log.iter().position(|l| l.starts_with("mdns: announced"));
    assert!(
        probing < announced,
        "probes before the announcement: {log:#?}"
    );
    for name in ["ember", "EmBeR"] {
        let out = peer(&ns, &["resolve", &host, name]);
        assert_eq!(out.trim(), format!("resolved {name} {device}"));
    }
    let out = peer(&ns, &["fields", &host, &device, "ember"]);
    for check in ["ok multicast", "ok legacy", "ok other-name"] {
        assert!(out.lines().any(|l| l == check), "{check} in {out}");
    }
    let (status, log) = dev.stop();
    assert_eq!(status, Some(0));
    assert!(log
        .iter()
        .any(|l| l.ends_with("(unicast)") && l.starts_with("mdns: answered")));
    assert!(log
        .iter()
        .any(|l| l.ends_with("(multicast)") && l.starts_with("mdns: answered")));
}

#[test]
fn another_host_claiming_the_name_makes_the_device_rename_itself() {
    require_python_module("zeroconf");
    let ns = Netns::new("mdnsc");
    let dev = start(&ns);
    let host = ns.host_ip().to_string();
    let device = ns.device_ip().to_string();
    let other = ns.addr(9).to_string();
    peer(&ns, &["claim", &host, "EMBER", &other]);
    dev.wait_for(
        &format!("mdns: conflict for EMBER.local with {host}, now EMBER-2.local"),
        SECS(5),
    );
    dev.wait_for(&format!("mdns: announced EMBER-2.local {device}"), SECS(10));
    let out = peer(&ns, &["resolve", &host, "ember-2"]);
    assert_eq!(out.trim(), format!("resolved ember-2 {device}"));
    // The old name is no longer answered by the device.
    let out = peer(&ns, &["resolve", &host, "ember"]);
    assert!(!out.contains(&device), "{out}");
}

/// The frames of a pcap file (classic format, as the device's `--pcap`
/// writes it).
fn pcap_frames(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16;
        if at + len > bytes.len() {
            break;
        }
        out.push(bytes[at..at + len].to_vec());
        at += len;
    }
    out
}
