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
    let mut args = vec!["--ip", ip.as_str(), "--gateway", gw.as_str()];
    args.extend_from_slice(extra);
    let dev = ns.spawn_device(&args);
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
    // The group was joined with an IGMPv2 membership report (RFC 2236).
    // The device's own frames (the capture has both directions).
    let frames: Vec<Vec<u8>> = pcap_frames(&std::fs::read(&pcap).unwrap())
        .into_iter()
        .filter(|f| f.len() > 14 && f[6..12] == [2, 0, 0, 0, 0, 2])
        .collect();
    let _ = std::fs::remove_file(&pcap);
    let report = frames
        .iter()
        .find(|f| f.len() >= 42 && f[12..14] == [8, 0] && f[23] == 2)
        .expect("an IGMP frame from the device");
    assert_eq!(report[..6], [1, 0, 0x5e, 0, 0, 0xfb], "to the group's MAC");
    assert_eq!(report[22], 1, "IP TTL 1");
    assert_eq!(report[30..34], [224, 0, 0, 251], "to the group");
    let igmp = &report[34..42];
    assert_eq!(igmp[0], 0x16, "IGMPv2 membership report");
    assert_eq!(igmp[4..8], [224, 0, 0, 251]);
    let sum: u32 = igmp
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    assert_eq!((sum & 0xffff) + (sum >> 16), 0xffff, "IGMP checksum");
    // Probes: three queries for the name (QU, type ANY), before the
    // announcement; every mDNS frame with IP TTL 255.
    let mdns: Vec<&Vec<u8>> = frames
        .iter()
        .filter(|f| f.len() > 46 && f[12..14] == [8, 0] && f[23] == 17)
        .filter(|f| f[34..36] == [0x14, 0xe9])
        .collect();
    assert!(mdns.iter().all(|f| f[22] == 255), "IP TTL 255");
    let probes = mdns.iter().filter(|f| f[44..46] == [0, 0]).count();
    assert_eq!(probes, 3, "three probes");
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
