//! Every diagnostic, rendered exactly (file, line, column, key, expected,
//! found, suggestion), and the shape of the generated code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::{generate_from_str, parse_config};

/// The rendered diagnostics for `source`.
fn errors(source: &str) -> Vec<String> {
    match parse_config("stack.toml", source) {
        Ok(_) => Vec::new(),
        Err(e) => e.diagnostics().iter().map(|d| d.to_string()).collect(),
    }
}

/// Asserts `source` has exactly the one error `expected`.
#[track_caller]
fn one_error(source: &str, expected: &str) {
    assert_eq!(
        errors(source),
        vec![expected.to_owned()],
        "for source:\n{source}"
    );
}

/// A valid `[device]` section: 3 lines, so a following section starts at line 4.
const DEVICE: &str = "[device]\nname = \"EMBER\"\nmac = \"02:00:00:00:00:02\"\n";

fn with_device(rest: &str) -> String {
    format!("{DEVICE}{rest}")
}

// ---- valid files ------------------------------------------------------------

#[test]
fn minimal_file_gets_defaults() {
    let c = parse_config("stack.toml", DEVICE).unwrap();
    assert_eq!(c.device.name, "EMBER");
    assert_eq!(c.device.mac, [2, 0, 0, 0, 0, 2]);
    assert!(c.ipv4.dhcp);
    assert_eq!(c.ipv4.address, None);
    assert_eq!(c.arp.entries, 4);
    assert_eq!(c.arp.lifetime_secs, 300);
    assert_eq!(c.udp.sockets, 4);
    assert!(c.icmp.echo);
    assert_eq!(c.poll.frames_per_poll, 8);
    assert_eq!(c.ram_budget, None);
    assert_eq!(c.dhcp.enabled, None);
    assert!(c.dhcp.client, "built in: `[ipv4] dhcp` defaults to true");
    assert_eq!((c.dhcp.retransmit_base, c.dhcp.retransmit_max), (4, 64));
    assert_eq!(c.dhcp.effective_hostname, "EMBER");
}

#[test]
fn full_file_parses() {
    let src = r#"
ram_budget = 4096
[device]
name = "my-dev_1"
mac = "02-AB-CD-00-00-01"
[ipv4]
dhcp = false
address = "192.168.1.10/24"
gateway = "192.168.1.1"
dns = "8.8.8.8"
[arp]
entries = 64
lifetime = 86400
[udp]
sockets = 0
[icmp]
echo = false
[poll]
frames_per_poll = 1
[http]
enabled = false
web_root = "web"
[tcp]
enabled = false
"#;
    let c = parse_config("stack.toml", src).unwrap();
    assert_eq!(c.ram_budget, Some(4096));
    assert_eq!(c.device.mac, [2, 0xab, 0xcd, 0, 0, 1]);
    assert!(!c.ipv4.dhcp);
    let a = c.ipv4.address.unwrap();
    assert_eq!(a.to_string(), "192.168.1.10/24");
    assert_eq!(c.ipv4.gateway, Some("192.168.1.1".parse().unwrap()));
    assert_eq!(c.ipv4.dns, Some("8.8.8.8".parse().unwrap()));
    assert_eq!((c.arp.entries, c.arp.lifetime_secs), (64, 86400));
    assert_eq!(c.udp.sockets, 0);
    assert!(!c.icmp.echo);
    assert_eq!(c.poll.frames_per_poll, 1);
    assert!(!c.tcp.enabled);
    assert_eq!(c.tcp.effective_sockets(), 0);
    assert!(!c.http.enabled);
    assert_eq!(c.http.web_root, "web");
}

#[test]
fn tcp_section_values_and_errors() {
    let c = parse_config(
        "stack.toml",
        &with_device("[tcp]\nsockets = 6\nwindow = 4\nretransmission = \"buffer\"\nsplit = true\n"),
    )
    .unwrap();
    assert!(c.tcp.enabled && c.tcp.buffer && c.tcp.split);
    assert_eq!((c.tcp.effective_sockets(), c.tcp.window), (6, 4));
    let code = generate_from_str(
        "stack.toml",
        &with_device("[tcp]\nsockets = 6\nwindow = 4\nretransmission = \"buffer\"\nsplit = true\n"),
    )
    .unwrap();
    let code = squash(&code);
    assert!(
        code.contains("typeTcpSockets=[::emberstack::tcp::TcpSocket;6];"),
        "{code}"
    );
    assert!(
        // Split adds a record at window 1 only.
        code.contains("typeTcpSegments=[::emberstack::tcp::SentSegment;24];"),
        "{code}"
    );
    assert!(code.contains("typeTcpBuffer=[u8;35040];"), "{code}");

    let src = with_device(
        "[tcp]\nretransmission = \"bufer\"\nwindow = 9\nrto_min_ms = 500\nrto_max_ms = 400\n",
    );
    let err = parse_config("stack.toml", &src).unwrap_err().to_string();
    assert!(
        err.contains("[tcp] retransmission: expected one of \"regenerate\" or \"buffer\", found \"bufer\"; did you mean \"buffer\"?"),
        "{err}"
    );
    assert!(
        err.contains("[tcp] window: expected an integer from 1 to 8, found 9"),
        "{err}"
    );
    assert!(
        err.contains("[tcp] rto_max_ms: must be at least rto_min_ms (500 ms), found 400"),
        "{err}"
    );
    assert!(err.contains("stack.toml:"), "{err}");
}

#[test]
fn dotted_and_inline_tables_are_sections_too() {
    let c = parse_config(
        "stack.toml",
        &with_device("arp.entries = 2\nudp = { sockets = 1 }\n"),
    )
    .unwrap_err();
    // `arp.entries` at the top level after [device] belongs to [device].
    assert_eq!(
        c.diagnostics()[0].to_string(),
        "error: stack.toml:4:1: [device] arp: unknown key; expected one of `name` or `mac`"
    );
    let c = parse_config(
        "stack.toml",
        &format!("arp.entries = 2\nudp = {{ sockets = 1 }}\n{DEVICE}"),
    )
    .unwrap();
    assert_eq!((c.arp.entries, c.udp.sockets), (2, 1));
}

#[test]
fn crlf_and_comments_are_fine() {
    let src = "# comment\r\n[device] # c\r\nname = \"E\"\r\nmac = \"02:00:00:00:00:02\"\r\n";
    assert!(parse_config("stack.toml", src).is_ok());
}

// ---- TOML syntax ------------------------------------------------------------

#[test]
fn toml_syntax_error() {
    one_error(
        &with_device("[arp]\nentries = \n"),
        "error: stack.toml:5:11: invalid TOML: string values must be quoted, expected literal string",
    );
    one_error(
        &with_device("[arp\n"),
        "error: stack.toml:4:5: invalid TOML: unclosed table, expected `]`",
    );
}

#[test]
fn toml_duplicate_key() {
    one_error(
        &with_device("[arp]\nentries = 2\nentries = 3\n"),
        "error: stack.toml:6:1: invalid TOML: duplicate key",
    );
}

// ---- unknown keys and sections --------------------------------------------

#[test]
fn unknown_key_with_suggestion() {
    one_error(
        &with_device("[udp]\nsocket = 4\n"),
        "error: stack.toml:5:1: [udp] socket: unknown key; did you mean `sockets`?",
    );
    one_error(
        &with_device("[arp]\nEntires = 4\n"),
        "error: stack.toml:5:1: [arp] Entires: unknown key; did you mean `entries`?",
    );
}

#[test]
fn unknown_key_without_suggestion() {
    one_error(
        &with_device("[arp]\ncolour = \"red\"\n"),
        "error: stack.toml:5:1: [arp] colour: unknown key; expected one of `entries` or `lifetime`",
    );
    one_error(
        &with_device("[ipv4]\n\"a b\" = 1\n"),
        "error: stack.toml:5:1: [ipv4] \"a b\": unknown key; expected one of `dhcp`, `address`, `gateway` or `dns`",
    );
}

#[test]
fn unknown_top_level_key() {
    one_error(
        &format!("ram_budgt = 100\n{DEVICE}"),
        "error: stack.toml:1:1: ram_budgt: unknown key; did you mean `ram_budget`?",
    );
}

#[test]
fn top_level_key_inside_a_section() {
    one_error(
        &with_device("ram_budget = 100\n"),
        "error: stack.toml:4:1: [device] ram_budget: unknown key; `ram_budget` is a top-level \
         key: move it above the first section",
    );
}

#[test]
fn unknown_section_with_suggestion() {
    one_error(
        &with_device("[apr]\nentries = 4\n"),
        "error: stack.toml:4:2: [apr]: unknown section; did you mean `[arp]`?",
    );
    one_error(
        &with_device("[netbois]\n"),
        "error: stack.toml:4:2: [netbois]: unknown section; did you mean `[netbios]`?",
    );
}

#[test]
fn unknown_section_without_suggestion() {
    one_error(
        &with_device("[wifi]\n"),
        "error: stack.toml:4:2: [wifi]: unknown section; expected one of `[device]`, `[ipv4]`, \
         `[arp]`, `[udp]`, `[raw]`, `[icmp]`, `[poll]`, `[tcp]`, `[dns]`, `[netbios]`, `[mdns]`, `[sntp]`, \
         `[dhcp]`, `[http]`, `[smtp]` or `[pop3]`",
    );
}

// ---- wrong types ------------------------------------------------------------

#[test]
fn wrong_type_integer() {
    one_error(
        &with_device("[arp]\nentries = \"4\"\n"),
        "error: stack.toml:5:11: [arp] entries: expected an integer from 1 to 64, found \"4\"; \
         did you mean `4` (without quotes)?",
    );
    one_error(
        &with_device("[arp]\nentries = 4.5\n"),
        "error: stack.toml:5:11: [arp] entries: expected an integer from 1 to 64, found 4.5",
    );
    one_error(
        &with_device("[udp]\nsockets = [1]\n"),
        "error: stack.toml:5:11: [udp] sockets: expected an integer from 0 to 64, found an array",
    );
}

#[test]
fn wrong_type_boolean() {
    one_error(
        &with_device("[ipv4]\ndhcp = \"yes\"\n"),
        "error: stack.toml:5:8: [ipv4] dhcp: expected a boolean (`true` or `false`), found \"yes\"; \
         did you mean `true` (without quotes)?",
    );
    one_error(
        &with_device("[icmp]\necho = 0\n"),
        "error: stack.toml:5:8: [icmp] echo: expected a boolean (`true` or `false`), found 0; \
         did you mean `false`?",
    );
    one_error(
        &with_device("[icmp]\necho = 1979-05-27\n"),
        "error: stack.toml:5:8: [icmp] echo: expected a boolean (`true` or `false`), found 1979-05-27",
    );
}

#[test]
fn wrong_type_string() {
    one_error(
        "[device]\nname = 5\nmac = \"02:00:00:00:00:02\"\n",
        "error: stack.toml:2:8: [device] name: expected a string of 1 to 15 ASCII letters, \
         digits, `-` or `_`, found 5",
    );
    one_error(
        "[device]\nname = \"E\"\nmac = { a = 1 }\n",
        "error: stack.toml:3:7: [device] mac: expected a MAC address like \"02:00:00:00:00:01\", \
         found a table",
    );
}

#[test]
fn wrong_type_section() {
    one_error(
        &format!("arp = 5\n{DEVICE}"),
        "error: stack.toml:1:7: [arp]: expected a table (a `[arp]` section), found 5",
    );
    one_error(
        &with_device("[[udp]]\nsockets = 1\n"),
        "error: stack.toml:4:1: [udp]: expected a table (a `[udp]` section), found an array of tables",
    );
}

// ---- ranges -----------------------------------------------------------------

#[test]
fn out_of_range_zero_where_one_needed() {
    one_error(
        &with_device("[arp]\nentries = 0\n"),
        "error: stack.toml:5:11: [arp] entries: expected an integer from 1 to 64, found 0",
    );
    one_error(
        &with_device("[poll]\nframes_per_poll = 0\n"),
        "error: stack.toml:5:19: [poll] frames_per_poll: expected an integer from 1 to 64, found 0",
    );
    one_error(
        &with_device("[arp]\nlifetime = 0\n"),
        "error: stack.toml:5:12: [arp] lifetime: expected an integer from 1 to 86400, found 0",
    );
    one_error(
        &format!("ram_budget = 0\n{DEVICE}"),
        "error: stack.toml:1:14: ram_budget: expected an integer from 1 to 4294967295, found 0",
    );
}

#[test]
fn out_of_range_too_big_or_negative() {
    one_error(
        &with_device("[udp]\nsockets = 65\n"),
        "error: stack.toml:5:11: [udp] sockets: expected an integer from 0 to 64, found 65",
    );
    one_error(
        &with_device("[udp]\nsockets = -1\n"),
        "error: stack.toml:5:11: [udp] sockets: expected an integer from 0 to 64, found -1",
    );
    one_error(
        &with_device("[arp]\nlifetime = 0x15181\n"),
        "error: stack.toml:5:12: [arp] lifetime: expected an integer from 1 to 86400, found 0x15181",
    );
    one_error(
        &with_device("[arp]\nentries = 9_223_372_036_854_775_807\n"),
        "error: stack.toml:5:11: [arp] entries: expected an integer from 1 to 64, found 9_223_372_036_854_775_807",
    );
}

#[test]
fn udp_zero_sockets_is_allowed() {
    let c = parse_config("stack.toml", &with_device("[udp]\nsockets = 0\n")).unwrap();
    assert_eq!(c.udp.sockets, 0);
}

// ---- [device] ---------------------------------------------------------------

#[test]
fn missing_device_section() {
    one_error(
        "[arp]\nentries = 4\n",
        "error: stack.toml:1:1: [device]: missing section; add `[device]` with \
         `name = \"EMBER\"` and `mac = \"02:00:00:00:00:01\"`",
    );
}

#[test]
fn missing_name_and_mac() {
    assert_eq!(
        errors("\n[device]\n"),
        [
            "error: stack.toml:2:1: [device] name: missing key; expected the device name, e.g. `name = \"EMBER\"`",
            "error: stack.toml:2:1: [device] mac: missing key; expected the MAC address, e.g. `mac = \"02:00:00:00:00:01\"`",
        ]
    );
}

#[test]
fn name_too_long() {
    one_error(
        "[device]\nname = \"ABCDEFGHIJKLMNOPQ\"\nmac = \"02:00:00:00:00:02\"\n",
        // Points at the 16th character.
        "error: stack.toml:2:24: [device] name: expected at most 15 characters (a NetBIOS name), \
         found 17 in \"ABCDEFGHIJKLMNOPQ\"",
    );
}

#[test]
fn name_bad_characters() {
    one_error(
        "[device]\nname = \"MY DEV\"\nmac = \"02:00:00:00:00:02\"\n",
        "error: stack.toml:2:11: [device] name: expected only ASCII letters, digits, `-` and `_`, \
         found ' ' in \"MY DEV\"",
    );
    // An escaped string: the column is the string's start.
    one_error(
        "[device]\nname = \"caf\\u00e9\"\nmac = \"02:00:00:00:00:02\"\n",
        "error: stack.toml:2:8: [device] name: expected only ASCII letters, digits, `-` and `_`, \
         found 'é' in \"café\"",
    );
}

#[test]
fn name_too_long_and_bad_characters_are_both_reported() {
    assert_eq!(
        errors("[device]\nname = \"a.b.c.d.e.f.g.h.i\"\nmac = \"02:00:00:00:00:02\"\n").len(),
        2
    );
}

#[test]
fn name_empty() {
    one_error(
        "[device]\nname = \"\"\nmac = \"02:00:00:00:00:02\"\n",
        "error: stack.toml:2:8: [device] name: expected 1 to 15 characters, found an empty string",
    );
}

#[test]
fn mac_multicast() {
    one_error(
        "[device]\nname = \"E\"\nmac = \"03:00:00:00:00:02\"\n",
        "error: stack.toml:3:7: [device] mac: expected a unicast address (lowest bit of the first \
         byte clear), found multicast \"03:00:00:00:00:02\"; did you mean \"02:00:00:00:00:02\"?",
    );
    one_error(
        "[device]\nname = \"E\"\nmac = \"FF-FF-FF-FF-FF-FF\"\n",
        "error: stack.toml:3:7: [device] mac: expected a unicast address (lowest bit of the first \
         byte clear), found multicast \"FF-FF-FF-FF-FF-FF\"; did you mean \"fe-ff-ff-ff-ff-ff\"?",
    );
}

#[test]
fn mac_all_zero() {
    one_error(
        "[device]\nname = \"E\"\nmac = \"00:00:00:00:00:00\"\n",
        "error: stack.toml:3:7: [device] mac: expected a non-zero address, found \"00:00:00:00:00:00\"",
    );
}

#[test]
fn mac_bad_syntax() {
    for bad in [
        "02:00:00:00:00",
        "02:00:00:00:00:0g",
        "0200.0000.0002",
        "2:0:0:0:0:2",
    ] {
        one_error(
            &format!("[device]\nname = \"E\"\nmac = \"{bad}\"\n"),
            &format!(
                "error: stack.toml:3:7: [device] mac: expected a MAC address like \
                 \"02:00:00:00:00:01\" (six two-digit hex bytes separated by `:` or `-`), \
                 found \"{bad}\""
            ),
        );
    }
}

// ---- [ipv4] -----------------------------------------------------------------

/// `[ipv4]` starting on line 4 with static addressing and `body`.
fn ipv4(body: &str) -> String {
    with_device(&format!("[ipv4]\ndhcp = false\n{body}"))
}

#[test]
fn static_address_missing() {
    one_error(
        &ipv4(""),
        "error: stack.toml:4:1: [ipv4] address: missing key; required when `dhcp = false`, \
         e.g. `address = \"10.0.0.2/24\"`",
    );
}

#[test]
fn address_octet_out_of_range() {
    one_error(
        &ipv4("address = \"10.0.0.300/24\"\n"),
        // Points at `300`.
        "error: stack.toml:6:19: [ipv4] address: expected each part of the address to be a \
         number from 0 to 255, found 300",
    );
}

#[test]
fn address_leading_zero() {
    one_error(
        &ipv4("address = \"10.0.010.1/24\"\n"),
        "error: stack.toml:6:17: [ipv4] address: expected a number from 0 to 255 without leading \
         zeros, found 010",
    );
}

#[test]
fn address_prefix_out_of_range() {
    one_error(
        &ipv4("address = \"10.0.0.2/33\"\n"),
        // Points at `33`.
        "error: stack.toml:6:21: [ipv4] address: expected a prefix length from 1 to 32 after `/`, \
         found 33",
    );
    one_error(
        &ipv4("address = \"10.0.0.2/0\"\n"),
        "error: stack.toml:6:21: [ipv4] address: expected a prefix length from 1 to 32 after `/`, \
         found 0",
    );
    one_error(
        &ipv4("address = \"10.0.0.2/\"\n"),
        "error: stack.toml:6:21: [ipv4] address: expected a prefix length from 1 to 32 after `/`, \
         found nothing",
    );
}

#[test]
fn address_missing_prefix() {
    one_error(
        &ipv4("address = \"10.0.0.2\"\n"),
        "error: stack.toml:6:11: [ipv4] address: expected an address with a prefix length like \
         \"10.0.0.2/24\", found \"10.0.0.2\" without `/prefix`",
    );
    one_error(
        &ipv4("address = \"my-host\"\n"),
        "error: stack.toml:6:11: [ipv4] address: expected an address with a prefix length like \
         \"10.0.0.2/24\", found \"my-host\"",
    );
}

#[test]
fn address_bad_shape() {
    one_error(
        &ipv4("address = \"10.0.0/24\"\n"),
        "error: stack.toml:6:11: [ipv4] address: expected an IPv4 address like \"10.0.0.2/24\", \
         found \"10.0.0/24\"",
    );
}

#[test]
fn address_not_a_host() {
    let cases = [
        ("0.0.0.0/8", "the unspecified address 0.0.0.0"),
        ("224.0.0.1/4", "the multicast address 224.0.0.1"),
        (
            "255.255.255.255/32",
            "the broadcast address 255.255.255.255",
        ),
        ("127.0.0.1/8", "the loopback address 127.0.0.1"),
        ("240.0.0.1/8", "the reserved (class E) address 240.0.0.1"),
        ("10.0.0.0/24", "the network address of 10.0.0.0/24"),
        ("10.0.0.255/24", "the broadcast address of 10.0.0.0/24"),
    ];
    for (addr, what) in cases {
        one_error(
            &ipv4(&format!("address = \"{addr}\"\n")),
            &format!(
                "error: stack.toml:6:11: [ipv4] address: expected a host address, found {what}"
            ),
        );
    }
    // /31 and /32 have no network or broadcast address.
    assert!(parse_config("s", &ipv4("address = \"10.0.0.0/31\"\n")).is_ok());
    assert!(parse_config("s", &ipv4("address = \"10.0.0.255/32\"\n")).is_ok());
}

#[test]
fn gateway_outside_subnet() {
    one_error(
        &ipv4("address = \"10.0.0.2/24\"\ngateway = \"10.0.1.1\"\n"),
        "error: stack.toml:7:11: [ipv4] gateway: expected an address inside 10.0.0.0/24 (the \
         subnet of `address`), found 10.0.1.1",
    );
}

#[test]
fn gateway_is_own_address() {
    one_error(
        &ipv4("address = \"10.0.0.2/24\"\ngateway = \"10.0.0.2\"\n"),
        "error: stack.toml:7:11: [ipv4] gateway: expected the router's address, found the \
         device's own address 10.0.0.2",
    );
}

#[test]
fn gateway_with_prefix_or_bad() {
    one_error(
        &ipv4("address = \"10.0.0.2/24\"\ngateway = \"10.0.0.1/24\"\n"),
        "error: stack.toml:7:11: [ipv4] gateway: expected an address without a prefix length \
         like \"10.0.0.1\", found \"10.0.0.1/24\"",
    );
    one_error(
        &ipv4("address = \"10.0.0.2/24\"\ngateway = \"10.0.0.256\"\n"),
        "error: stack.toml:7:19: [ipv4] gateway: expected each part of the address to be a \
         number from 0 to 255, found 256",
    );
    one_error(
        &ipv4("address = \"10.0.0.2/24\"\ngateway = \"router\"\n"),
        "error: stack.toml:7:11: [ipv4] gateway: expected an IPv4 address like \"10.0.0.1\", \
         found \"router\"",
    );
}

#[test]
fn dns_checks() {
    one_error(
        &ipv4("address = \"10.0.0.2/24\"\ndns = \"239.1.1.1\"\n"),
        "error: stack.toml:7:7: [ipv4] dns: expected a host address, found the multicast \
         address 239.1.1.1",
    );
    // A DNS server may be outside the subnet.
    assert!(parse_config("s", &ipv4("address = \"10.0.0.2/24\"\ndns = \"1.1.1.1\"\n")).is_ok());
}

#[test]
fn gateway_or_dns_without_address() {
    let src = with_device("[ipv4]\ngateway = \"10.0.0.1\"\ndns = \"10.0.0.1\"\n");
    assert_eq!(
        errors(&src),
        [
            "error: stack.toml:5:11: [ipv4] gateway: `gateway` is set but `address` is not; add \
             `address = \"10.0.0.2/24\"` (used as the static settings) or remove `gateway`",
            "error: stack.toml:6:7: [ipv4] dns: `dns` is set but `address` is not; add \
             `address = \"10.0.0.2/24\"` (used as the static settings) or remove `dns`",
        ]
    );
}

// ---- [raw] ------------------------------------------------------------------

#[test]
fn raw_sockets_are_sized_from_the_section() {
    let code = squash(&generate_from_str("stack.toml", DEVICE).unwrap());
    assert!(
        code.contains("typeRawSockets=[::emberstack::raw::RawSocket;0];"),
        "absent: none"
    );
    let code = squash(&generate_from_str("stack.toml", &with_device("[raw]\n")).unwrap());
    assert!(code.contains("typeRawSockets=[::emberstack::raw::RawSocket;1];"));
    let code =
        squash(&generate_from_str("stack.toml", &with_device("[raw]\nsockets = 3\n")).unwrap());
    assert!(code.contains("typeRawSockets=[::emberstack::raw::RawSocket;3];"));
    one_error(
        &with_device("[raw]\nsockets = 17\n"),
        "error: stack.toml:5:11: [raw] sockets: expected an integer from 0 to 16, found 17",
    );
    one_error(
        &with_device("[raw]\nprotocol = 253\n"),
        "error: stack.toml:5:1: [raw] protocol: unknown key; expected one of `sockets`",
    );
}

// ---- [mdns] -----------------------------------------------------------------

#[test]
fn mdns_responder_and_its_settings() {
    let code = squash(&generate_from_str("stack.toml", DEVICE).unwrap());
    assert!(code.contains("typeMdns=::emberstack::service::Disabled;"));
    assert!(!code.contains("MdnsSettings"));
    let code =
        squash(&generate_from_str("stack.toml", &with_device("[mdns]\nttl = 60\n")).unwrap());
    assert!(code.contains("typeMdns=::emberstack::mdns::MdnsResponder<Device>;"));
    assert!(code.contains("impl::emberstack::mdns::MdnsSettingsforDevice{constTTL:u32=60;}"));
    let code = squash(
        &generate_from_str("stack.toml", &with_device("[mdns]\nenabled = false\n")).unwrap(),
    );
    assert!(code.contains("typeMdns=::emberstack::service::Disabled;"));
    one_error(
        &with_device("[mdns]\nttl = 0\n"),
        "error: stack.toml:5:7: [mdns] ttl: expected an integer from 1 to 3600, found 0",
    );
    one_error(
        &with_device("[mdns]\nname = \"x\"\n"),
        "error: stack.toml:5:1: [mdns] name: unknown key; expected one of `enabled` or `ttl`",
    );
}

// ---- [dhcp] -----------------------------------------------------------------

/// The DHCP client in the generated code: its `type Dhcp` and settings.
fn dhcp_items(source: &str) -> (String, bool) {
    let code = squash(&generate_from_str("stack.toml", source).unwrap());
    let client = code.contains("typeDhcp=::emberstack::dhcp::DhcpClient<Device>;");
    let disabled = code.contains("typeDhcp=::emberstack::service::Disabled;");
    assert!(client != disabled, "exactly one `type Dhcp`:\n{code}");
    assert_eq!(
        client,
        code.contains("impl::emberstack::dhcp::DhcpSettingsforDevice{")
    );
    (code, client)
}

#[test]
fn dhcp_client_follows_ipv4_dhcp_by_default() {
    let static_ip = "[ipv4]\ndhcp = false\naddress = \"10.0.0.2/24\"\n";
    assert!(dhcp_items(DEVICE).1, "DHCP at start: client built in");
    assert!(
        !dhcp_items(&with_device(static_ip)).1,
        "static, no [dhcp]: Disabled"
    );
    // Static at start, but the client built in to be switched on later.
    let (code, client) = dhcp_items(&with_device(&format!(
        "{static_ip}[dhcp]\nenabled = true\n"
    )));
    assert!(client);
    assert!(code.contains("constDHCP:bool=false;"));
    // Off in the file, settings kept.
    let src = with_device(&format!(
        "{static_ip}[dhcp]\nenabled = false\nretransmit_base = 2\n"
    ));
    assert!(!dhcp_items(&src).1);
}

#[test]
fn dhcp_settings_are_generated() {
    let (code, _) = dhcp_items(&with_device(
        "[dhcp]\nretransmit_base = 2\nretransmit_max = 0x20\nhostname = \"ember-1\"\n",
    ));
    assert!(code.contains(
        "constRETRANSMIT_BASE:::emberstack::Duration=::emberstack::Duration::from_secs(2);\
         constRETRANSMIT_MAX:::emberstack::Duration=::emberstack::Duration::from_secs(32);\
         constHOSTNAME:::core::option::Option<&'staticstr>=::core::option::Option::Some(\"ember-1\");constARP_PROBES:u8=2;"
    ));
    let (code, _) = dhcp_items(&with_device("[dhcp]\narp_probes = 0\n"));
    assert!(code.contains("constARP_PROBES:u8=0;"));
    // The default host name is the device name, `_` made `-`.
    let c = parse_config(
        "s",
        "[device]\nname = \"my_dev\"\nmac = \"02:00:00:00:00:02\"\n",
    )
    .unwrap();
    assert_eq!(c.dhcp.effective_hostname, "my-dev");
    assert_eq!(c.dhcp.hostname, None);
}

#[test]
fn dhcp_disabled_while_ipv4_needs_it() {
    one_error(
        &with_device("[ipv4]\ndhcp = true\n[dhcp]\nenabled = false\n"),
        "error: stack.toml:7:11: [dhcp] enabled: `false` leaves the DHCP client out, but \
         `[ipv4] dhcp = true` needs it at start; set `[ipv4] dhcp = false` (static address) or \
         remove `enabled = false`",
    );
    // `[ipv4] dhcp` defaults to true.
    assert_eq!(errors(&with_device("[dhcp]\nenabled = false\n")).len(), 1);
}

#[test]
fn dhcp_settings_without_the_client() {
    one_error(
        &with_device("[ipv4]\ndhcp = false\naddress = \"10.0.0.2/24\"\n[dhcp]\nhostname = \"x\"\n"),
        "error: stack.toml:8:12: [dhcp] hostname: the DHCP client is not built in (`[ipv4] dhcp \
         = false`); add `enabled = true` to [dhcp] to build it in (switched on at run time with \
         `stack.dhcp().set_enabled(true)`), or remove `hostname`",
    );
}

#[test]
fn dhcp_retransmit_ranges() {
    one_error(
        &with_device("[dhcp]\nretransmit_base = 0\n"),
        "error: stack.toml:5:19: [dhcp] retransmit_base: expected an integer from 1 to 60, found 0",
    );
    one_error(
        &with_device("[dhcp]\nretransmit_max = 3601\n"),
        "error: stack.toml:5:18: [dhcp] retransmit_max: expected an integer from 1 to 3600, found 3601",
    );
    one_error(
        &with_device("[dhcp]\nretransmit_base = 8\nretransmit_max = 4\n"),
        "error: stack.toml:6:18: [dhcp] retransmit_max: expected at least `retransmit_base` (8 s), \
         found 4",
    );
    one_error(
        &with_device("[dhcp]\narp_probes = 4\n"),
        "error: stack.toml:5:14: [dhcp] arp_probes: expected an integer from 0 to 3, found 4",
    );
    one_error(
        &with_device("[dhcp]\nretransmit_base = \"4\"\n"),
        "error: stack.toml:5:19: [dhcp] retransmit_base: expected an integer from 1 to 60, found \
         \"4\"; did you mean `4` (without quotes)?",
    );
}

#[test]
fn dhcp_hostname_checks() {
    one_error(
        &with_device("[dhcp]\nhostname = \"my_dev\"\n"),
        // Points at `_`.
        "error: stack.toml:5:15: [dhcp] hostname: expected only ASCII letters, digits and `-`, \
         found '_' in \"my_dev\"",
    );
    one_error(
        &with_device("[dhcp]\nhostname = \"\"\n"),
        "error: stack.toml:5:12: [dhcp] hostname: expected 1 to 63 characters, found an empty string",
    );
    one_error(
        &with_device("[dhcp]\nhostname = \"-dev\"\n"),
        "error: stack.toml:5:12: [dhcp] hostname: expected a name that does not start or end \
         with `-`, found \"-dev\"",
    );
    let long = "a".repeat(64);
    one_error(
        &with_device(&format!("[dhcp]\nhostname = \"{long}\"\n")),
        // Points at the 64th character.
        &format!(
            "error: stack.toml:5:76: [dhcp] hostname: expected at most 63 characters (one DNS \
             label), found 64 in \"{}…\"",
            "a".repeat(40)
        ),
    );
    one_error(
        &with_device("[dhcp]\nhostname = 7\n"),
        "error: stack.toml:5:12: [dhcp] hostname: expected a host name of 1 to 63 ASCII letters, \
         digits and `-`, found 7",
    );
}

#[test]
fn dhcp_unknown_key_and_bad_enabled() {
    one_error(
        &with_device("[dhcp]\nretransmit_bas = 4\n"),
        "error: stack.toml:5:1: [dhcp] retransmit_bas: unknown key; did you mean `retransmit_base`?",
    );
    one_error(
        &with_device("[dhcp]\nretransmit = 4\n"),
        "error: stack.toml:5:1: [dhcp] retransmit: unknown key; expected one of `enabled`, \
         `retransmit_base`, `retransmit_max`, `arp_probes`, `hostname`, `send_hostname` or \
         `init_reboot`",
    );
    one_error(
        &with_device("[dhcp]\nenabled = \"yes\"\n"),
        "error: stack.toml:5:11: [dhcp] enabled: expected a boolean (`true` or `false`), found \
         \"yes\"; did you mean `true` (without quotes)?",
    );
}

// ---- collecting -------------------------------------------------------------

#[test]
fn all_errors_are_collected_in_file_order() {
    let src = "\
[udp]
sockets = 100
[device]
name = \"THIS-NAME-IS-TOO-LONG\"
mac = \"01:00:00:00:00:00\"
[arp]
entires = 2
lifetime = 0
[ipv4]
dhcp = false
";
    let e = parse_config("stack.toml", src).unwrap_err();
    let lines: Vec<String> = e.diagnostics().iter().map(|d| d.to_string()).collect();
    assert_eq!(
        lines,
        [
            "error: stack.toml:2:11: [udp] sockets: expected an integer from 0 to 64, found 100",
            "error: stack.toml:4:24: [device] name: expected at most 15 characters (a NetBIOS \
             name), found 21 in \"THIS-NAME-IS-TOO-LONG\"",
            "error: stack.toml:5:7: [device] mac: expected a unicast address (lowest bit of the \
             first byte clear), found multicast \"01:00:00:00:00:00\"; did you mean \
             \"00:00:00:00:00:00\"?",
            "error: stack.toml:7:1: [arp] entires: unknown key; did you mean `entries`?",
            "error: stack.toml:8:12: [arp] lifetime: expected an integer from 1 to 86400, found 0",
            "error: stack.toml:9:1: [ipv4] address: missing key; required when `dhcp = false`, \
             e.g. `address = \"10.0.0.2/24\"`",
        ]
    );
    let shown = e.to_string();
    assert_eq!(shown.lines().count(), 7);
    assert!(shown.ends_with("error: aborting due to 6 errors in the stack configuration"));
    let d = &e.diagnostics()[0];
    assert_eq!(d.file_name(), "stack.toml");
    assert_eq!(d.line_col(), Some((2, 11)));
    assert_eq!(
        d.message(),
        "[udp] sockets: expected an integer from 0 to 64, found 100"
    );
}

#[test]
fn long_values_are_cut() {
    let long = "x".repeat(50);
    one_error(
        &with_device(&format!("[arp]\nentries = \"{long}\"\n")),
        &format!(
            "error: stack.toml:5:11: [arp] entries: expected an integer from 1 to 64, found \"{}…\"",
            "x".repeat(40)
        ),
    );
}

// ---- generated code ---------------------------------------------------------

const SAMPLE: &str = r#"
ram_budget = 1024
[device]
name = "EMBER"
mac = "02:00:00:00:00:02"
[ipv4]
dhcp = true
address = "10.0.0.2/24"
gateway = "10.0.0.1"
[arp]
entries = 6
lifetime = 120
[udp]
sockets = 3
[icmp]
echo = false
[poll]
frames_per_poll = 16
"#;

/// `code` without whitespace and trailing commas, so checks do not depend
/// on the line breaks chosen by the formatter.
fn squash(code: &str) -> String {
    let s: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    s.replace(",)", ")").replace(",]", "]").replace(",}", "}")
}

#[test]
fn generated_code_is_valid_rust_with_expected_items() {
    let code = generate_from_str("stack.toml", SAMPLE).unwrap();
    assert!(
        code.starts_with("// @generated by emberstack-codegen from stack.toml — do not edit.\n")
    );
    let file = syn::parse_file(&code).unwrap();
    let mut names = Vec::new();
    for item in &file.items {
        match item {
            syn::Item::Struct(s) => names.push(format!("struct {}", s.ident)),
            syn::Item::Impl(i) => {
                let tr = i.trait_.as_ref().unwrap();
                let path: Vec<String> = tr.0.segments.iter().map(|s| s.ident.to_string()).collect();
                names.push(format!("impl {}", path.join("::")));
                if path.join("::") != "emberstack::Config" {
                    continue;
                }
                let mut members: Vec<String> = i
                    .items
                    .iter()
                    .map(|m| match m {
                        syn::ImplItem::Const(c) => c.ident.to_string(),
                        syn::ImplItem::Type(t) => t.ident.to_string(),
                        _ => panic!("unexpected impl item"),
                    })
                    .collect();
                members.sort();
                assert_eq!(
                    members,
                    [
                        "ARP_LIFETIME",
                        "ArpCache",
                        "DEVICE_NAME",
                        "DHCP",
                        "Dhcp",
                        "Dns",
                        "FRAMES_PER_POLL",
                        "ICMP_ECHO",
                        "MAC",
                        "Mdns",
                        "NetBios",
                        "Pop3",
                        "RawSockets",
                        "STATIC_IPV4",
                        "Smtp",
                        "Sntp",
                        "TCP",
                        "TcpBuffer",
                        "TcpSegments",
                        "TcpSockets",
                        "UdpSockets"
                    ]
                );
            }
            syn::Item::Type(t) => names.push(format!("type {}", t.ident)),
            syn::Item::Const(c) => names.push(format!("const {}", c.ident)),
            syn::Item::Use(_) => names.push("use".to_owned()),
            syn::Item::Mod(m) => names.push(format!("mod {}", m.ident)),
            _ => panic!("unexpected item"),
        }
    }
    assert_eq!(
        names,
        [
            "struct Device",
            "impl emberstack::Config",
            "impl emberstack::dhcp::DhcpSettings",
            "type Stack",
            "const RAM_BYTES",
            "const MAIL_RAM_BYTES",
            "use",
            "mod composition",
            "const _"
        ]
    );
    let flat = squash(&code);
    for expected in [
        "constDEVICE_NAME:&'staticstr=\"EMBER\";",
        "constMAC:::emberstack::wire::EthernetAddress=::emberstack::wire::EthernetAddress([0x02,0x00,0x00,0x00,0x00,0x02]);",
        "constDHCP:bool=true;",
        "constSTATIC_IPV4:::core::option::Option<::emberstack::config::StaticIpv4>=::core::option::Option::Some(::emberstack::config::StaticIpv4{cidr:::emberstack::wire::Ipv4Cidr::new(::emberstack::wire::Ipv4Address([10,0,0,2]),24),gateway:::core::option::Option::Some(::emberstack::wire::Ipv4Address([10,0,0,1])),dns:::core::option::Option::None});",
        "constARP_LIFETIME:::emberstack::Duration=::emberstack::Duration::from_secs(120);",
        "constICMP_ECHO:bool=false;",
        "constFRAMES_PER_POLL:usize=16;",
        "typeArpCache=[::emberstack::iface::arp::ArpEntry;6];",
        "typeUdpSockets=[::emberstack::udp::UdpSocket;3];",
        "typeDhcp=::emberstack::dhcp::DhcpClient<Device>;",
        "impl::emberstack::dhcp::DhcpSettingsforDevice{constRETRANSMIT_BASE:::emberstack::Duration=::emberstack::Duration::from_secs(4);constRETRANSMIT_MAX:::emberstack::Duration=::emberstack::Duration::from_secs(64);constHOSTNAME:::core::option::Option<&'staticstr>=::core::option::Option::None;constARP_PROBES:u8=2;}",
        "pubtypeStack=::emberstack::Stack<Device>;",
        "pubconstRAM_BYTES:usize=::core::mem::size_of::<Stack>();",
        "const_:()=::core::assert!(RAM_BYTES+MAIL_RAM_BYTES<=1024,\"stack.toml:ram_budget=1024bytesislessthanRAM_BYTES+MAIL_RAM_BYTES(theconfiguredstackstate,themailclientsandtheHTTPservertheapplicationembeds)\");",
    ] {
        assert!(flat.contains(expected), "missing {expected}\nin:\n{code}");
    }
    // Every public item is documented (the including crate may deny missing_docs).
    assert!(code.contains("/// The device configuration from `stack.toml`.\n///\n/// `EMBER` (02:00:00:00:00:02), IPv4 from DHCP, 10.0.0.2/24 when static; 6 ARP entries, 3 UDP sockets, ping ignored.\n"));
    assert!(code.contains("/// The configured stack."));
    assert!(code.contains("/// Bytes of RAM the configured stack state occupies"));
}

#[test]
fn generated_code_without_budget_or_static_address() {
    let code = generate_from_str("dev.toml", DEVICE).unwrap();
    syn::parse_file(&code).unwrap();
    let flat = squash(&code);
    assert!(flat.contains("constSTATIC_IPV4:::core::option::Option<::emberstack::config::StaticIpv4>=::core::option::Option::None;"));
    assert!(flat.contains("typeUdpSockets=[::emberstack::udp::UdpSocket;4];"));
    assert!(!code.contains("assert!"));
    assert!(code.starts_with("// @generated by emberstack-codegen from dev.toml"));
}

#[test]
fn generated_code_is_deterministic() {
    assert_eq!(
        generate_from_str("stack.toml", SAMPLE).unwrap(),
        generate_from_str("stack.toml", SAMPLE).unwrap()
    );
}

#[test]
fn generate_reports_errors_too() {
    let e = generate_from_str("stack.toml", "[device]\n").unwrap_err();
    assert_eq!(e.diagnostics().len(), 2);
}

// ---- [dns], [netbios], [sntp] -------------------------------------------------

const NAMES: &str = r#"
[dns]
server = "10.0.0.53"
timeout = 4
retries = 1
slots = 3
name_len = 96
[netbios]
[sntp]
server = "pool.ntp.org"
timeout = 7
poll_interval = 600
"#;

#[test]
fn names_sections_parse_and_generate() {
    let c = parse_config("stack.toml", &with_device(NAMES)).unwrap();
    assert!(c.dns.enabled && c.netbios.enabled && c.sntp.enabled);
    assert_eq!(c.dns.server, Some("10.0.0.53".parse().unwrap()));
    assert_eq!(
        (
            c.dns.timeout_secs,
            c.dns.retries,
            c.dns.slots,
            c.dns.name_len
        ),
        (4, 1, 3, 96)
    );
    assert_eq!(
        c.sntp.server,
        Some(crate::schema::SntpServer::Name("pool.ntp.org".into()))
    );
    assert_eq!((c.sntp.timeout_secs, c.sntp.poll_interval_secs), (7, 600));
    assert_eq!(c.sntp.name_len, 96);
    let code = generate_from_str("stack.toml", &with_device(NAMES)).unwrap();
    syn::parse_file(&code).unwrap();
    let flat = squash(&code);
    for expected in [
        "typeDns=::emberstack::dns::DnsClient<3,96>;",
        "constDNS:::emberstack::dns::DnsSettings=::emberstack::dns::DnsSettings{server:::core::option::Option::Some(::emberstack::wire::Ipv4Address([10,0,0,53])),timeout:::emberstack::Duration::from_secs(4),retries:1};",
        "typeNetBios=::emberstack::netbios::NetBiosResponder;",
        "typeSntp=::emberstack::sntp::SntpClient<96>;",
        "constSNTP:::emberstack::sntp::SntpSettings=::emberstack::sntp::SntpSettings{server:::core::option::Option::Some(::emberstack::sntp::SntpServer::Name(\"pool.ntp.org\")),timeout:::emberstack::Duration::from_secs(7),poll_interval:::emberstack::Duration::from_secs(600)};",
    ] {
        assert!(flat.contains(expected), "missing {expected}\nin:\n{code}");
    }
    assert!(code.contains(
        "/// Services: DNS client (3 queries at once, 96-byte names), NetBIOS name responder for `EMBER`, SNTP client."
    ));
    // The impl's members: the sample's, plus the two settings constants.
    let file = syn::parse_file(&code).unwrap();
    let mut members: Vec<String> = file
        .items
        .iter()
        .filter_map(|item| match item {
            // Only `impl Config` (DHCP adds an `impl DhcpSettings` beside it).
            syn::Item::Impl(i)
                if i.trait_
                    .as_ref()
                    .and_then(|t| t.0.segments.last())
                    .is_some_and(|s| s.ident == "Config") =>
            {
                Some(i)
            }
            _ => None,
        })
        .flat_map(|i| i.items.iter())
        .map(|m| match m {
            syn::ImplItem::Const(c) => c.ident.to_string(),
            syn::ImplItem::Type(t) => t.ident.to_string(),
            _ => panic!("unexpected impl item"),
        })
        .collect();
    members.sort();
    assert_eq!(
        members,
        [
            "ARP_LIFETIME",
            "ArpCache",
            "DEVICE_NAME",
            "DHCP",
            "DNS",
            "Dhcp",
            "Dns",
            "FRAMES_PER_POLL",
            "ICMP_ECHO",
            "MAC",
            "Mdns",
            "NetBios",
            "Pop3",
            "RawSockets",
            "SNTP",
            "STATIC_IPV4",
            "Smtp",
            "Sntp",
            "TCP",
            "TcpBuffer",
            "TcpSegments",
            "TcpSockets",
            "UdpSockets"
        ]
    );
}

#[test]
fn names_sections_default_and_address_server() {
    let src = with_device("[dns]\n[sntp]\nserver = \"10.0.0.1\"\n");
    let c = parse_config("stack.toml", &src).unwrap();
    assert_eq!(
        (
            c.dns.server,
            c.dns.timeout_secs,
            c.dns.retries,
            c.dns.slots,
            c.dns.name_len
        ),
        (None, 3, 2, 2, 64)
    );
    assert_eq!((c.sntp.timeout_secs, c.sntp.poll_interval_secs), (5, 3600));
    let flat = squash(&generate_from_str("stack.toml", &src).unwrap());
    assert!(flat.contains("typeDns=::emberstack::dns::DnsClient<2,64>;"));
    assert!(flat.contains("server:::core::option::Option::None,timeout"));
    assert!(flat.contains(
        "::emberstack::sntp::SntpServer::Addr(::emberstack::wire::Ipv4Address([10,0,0,1]))"
    ));
    assert!(flat.contains("typeNetBios=::emberstack::service::Disabled;"));
    // Without [dns] an address is fine, and the client holds no name.
    let src = with_device("[sntp]\nserver = \"10.0.0.1\"\npoll_interval = 0\n");
    let flat = squash(&generate_from_str("stack.toml", &src).unwrap());
    assert!(flat.contains("typeSntp=::emberstack::sntp::SntpClient<0>;"));
    assert!(flat.contains("poll_interval:::emberstack::Duration::from_secs(0)"));
}

#[test]
fn names_sections_absent_or_disabled_are_disabled() {
    for src in [
        DEVICE.to_owned(),
        with_device("[dns]\nenabled = false\nslots = 4\n[netbios]\nenabled = false\n[sntp]\nenabled = false\nserver = \"ntp.lan\"\n"),
    ] {
        let c = parse_config("stack.toml", &src).unwrap();
        assert!(!c.dns.enabled && !c.netbios.enabled && !c.sntp.enabled);
        let flat = squash(&generate_from_str("stack.toml", &src).unwrap());
        for t in ["Dns", "NetBios", "Sntp"] {
            assert!(flat.contains(&format!("type{t}=::emberstack::service::Disabled;")), "{t}");
        }
        assert!(!flat.contains("constDNS") && !flat.contains("constSNTP"));
    }
}

#[test]
fn dns_errors() {
    let cases = [
        (
            "timeout = 0",
            "5:11: [dns] timeout: expected an integer from 1 to 60, found 0",
        ),
        (
            "retries = 11",
            "5:11: [dns] retries: expected an integer from 0 to 10, found 11",
        ),
        (
            "slots = 0",
            "5:9: [dns] slots: expected an integer from 1 to 16, found 0",
        ),
        (
            "slots = 17",
            "5:9: [dns] slots: expected an integer from 1 to 16, found 17",
        ),
        (
            "name_len = 15",
            "5:12: [dns] name_len: expected an integer from 16 to 255, found 15",
        ),
        (
            "name_len = 256",
            "5:12: [dns] name_len: expected an integer from 16 to 255, found 256",
        ),
        (
            "server = \"10.0.0\"",
            "5:10: [dns] server: expected an IPv4 address like \"10.0.0.1\", found \"10.0.0\"",
        ),
        (
            "server = \"224.0.0.1\"",
            "5:10: [dns] server: expected a host address, found the multicast address 224.0.0.1",
        ),
        (
            "server = \"dns.lan\"",
            "5:10: [dns] server: expected an IPv4 address like \"10.0.0.1\", found \"dns.lan\"",
        ),
        (
            "enabled = \"yes\"",
            "5:11: [dns] enabled: expected a boolean (`true` or `false`), found \"yes\"; did you \
             mean `true` (without quotes)?",
        ),
        (
            "slot = 2",
            "5:1: [dns] slot: unknown key; did you mean `slots`?",
        ),
        (
            "cache = 4",
            "5:1: [dns] cache: unknown key; expected one of `enabled`, `server`, `timeout`, \
             `retries`, `slots`, `name_len`, `mx` or `cname`",
        ),
    ];
    for (line, msg) in cases {
        one_error(
            &with_device(&format!("[dns]\n{line}\n")),
            &format!("error: stack.toml:{msg}"),
        );
    }
}

#[test]
fn netbios_errors() {
    one_error(
        &with_device("[netbios]\nname = \"OTHER\"\n"),
        "error: stack.toml:5:8: [netbios] name: the NetBIOS name is `[device] name`; remove \
         `name` here",
    );
    one_error(
        &with_device("[netbios]\nenabled = 1\n"),
        "error: stack.toml:5:11: [netbios] enabled: expected a boolean (`true` or `false`), \
         found 1; did you mean `true`?",
    );
}

#[test]
fn sntp_errors() {
    let cases = [
        (
            "[sntp]\npoll_interval = 5\n",
            "5:17: [sntp] poll_interval: expected 0 (ask only on request) or at least 15 seconds \
             (RFC 4330 forbids polling more often), found 5",
        ),
        (
            "[sntp]\npoll_interval = 604801\n",
            "5:17: [sntp] poll_interval: expected an integer from 0 to 604800, found 604801",
        ),
        (
            "[sntp]\ntimeout = 61\n",
            "5:11: [sntp] timeout: expected an integer from 1 to 60, found 61",
        ),
        (
            "[sntp]\nserver = \"ntp.lan\"\n",
            "5:10: [sntp] server: \"ntp.lan\" is a host name, which needs the DNS client; add a \
             `[dns]` section or give an address",
        ),
        (
            "[dns]\nname_len = 16\n[sntp]\nserver = \"a-very-long-name.lan\"\n",
            "7:10: [sntp] server: expected a name of at most 14 characters (`[dns] name_len` \
             minus 2), found 20 in \"a-very-long-name.lan\"",
        ),
        (
            "[sntp]\nserver = \"ntp..lan\"\n",
            "5:10: [sntp] server: expected an IPv4 address or a host name, found \"ntp..lan\" \
             (empty label)",
        ),
        (
            "[sntp]\nserver = \"ntp lan\"\n",
            "5:10: [sntp] server: expected an IPv4 address or a host name, found \"ntp lan\" \
             (only letters, digits, `-`, `_` and dots)",
        ),
        (
            "[sntp]\nserver = \"10.0.0.300\"\n",
            "5:18: [sntp] server: expected each part of the address to be a number from 0 to \
             255, found 300",
        ),
        (
            "[sntp]\nserver = 5\n",
            "5:10: [sntp] server: expected an IPv4 address like \"10.0.0.1\" or a host name like \
             \"ntp.example.com\", found 5",
        ),
        (
            "[sntp]\nservers = \"10.0.0.1\"\n",
            "5:1: [sntp] servers: unknown key; did you mean `server`?",
        ),
    ];
    for (src, msg) in cases {
        one_error(&with_device(src), &format!("error: stack.toml:{msg}"));
    }
    // A disabled [sntp] may name a server without [dns].
    assert!(parse_config(
        "s",
        &with_device("[sntp]\nenabled = false\nserver = \"ntp.lan\"\n")
    )
    .is_ok());
}

// ---- [smtp] and [pop3] ------------------------------------------------------

const MAIL_BASE: &str = "[tcp]\nsockets = 2\nwindow = 2\nsplit = true\n[dns]\n";

#[test]
fn mail_sections_parse_and_generate() {
    let src = with_device(&format!(
        "{MAIL_BASE}[smtp]\nserver = \"mail.test.lan\"\nport = 587\nuser = \"alice\"\n\
         password = \"s3cret\"\nhelo = \"ember.test.lan\"\ntimeout = 20\n\
         session_timeout = 120\ncleartext_auth_by_name = true\n\
         [pop3]\nserver = \"10.0.0.1\"\nline_limit = 128\nheader_len = 32\ninterval = 300\n"
    ));
    let c = parse_config("stack.toml", &src).unwrap();
    assert!(c.smtp.common.enabled && c.pop3.common.enabled);
    assert_eq!(c.smtp.common.port, 587);
    assert_eq!(
        c.smtp.snapshots, 4,
        "window 2 (split adds nothing above window 1): 2 segments in flight + 2"
    );
    assert_eq!(c.pop3.common.port, 110);
    assert_eq!(c.pop3.common.timeout_secs, 30);
    assert_eq!((c.pop3.line_limit, c.pop3.header_len), (128, 32));
    let code = squash(&generate_from_str("stack.toml", &src).unwrap());
    for want in [
        "typeSmtp=::emberstack::smtp::SmtpClient<Device>;",
        "typePop3=::emberstack::pop3::Pop3Client<Device>;",
        "impl::emberstack::smtp::SmtpSettingsforDevice{",
        "constSERVER:::core::option::Option<::emberstack::mail::MailServer>=::core::option::Option::Some(::emberstack::mail::MailServer::Name(\"mail.test.lan\"));",
        "constPORT:u16=587;",
        "constUSER:::core::option::Option<&'staticstr>=::core::option::Option::Some(\"alice\");",
        "constTIMEOUT:::emberstack::Duration=::emberstack::Duration::from_secs(20);",
        "constSESSION_TIMEOUT:::emberstack::Duration=::emberstack::Duration::from_secs(120);",
        "constAUTH_BY_NAME:bool=true;",
        "constSESSION_TIMEOUT:::emberstack::Duration=::emberstack::Duration::from_secs(300);",
        "constAUTH_BY_NAME:bool=false;",
        "constUSE_MX:bool=false;",
        "constHELO:::core::option::Option<&'staticstr>=::core::option::Option::Some(\"ember.test.lan\");",
        "typeSnapshots=[::emberstack::smtp::Snapshot;4];",
        "impl::emberstack::pop3::Pop3SettingsforDevice{",
        "::emberstack::mail::MailServer::Addr(::emberstack::wire::Ipv4Address([10,0,0,1]))",
        "constINTERVAL:::emberstack::Duration=::emberstack::Duration::from_secs(300);",
        "typeLine=[u8;128];",
        "typeHeader=[u8;32];",
        "pubconstMAIL_RAM_BYTES:usize=",
    ] {
        assert!(code.contains(want), "{want} in {code}");
    }
    // Absent: `Disabled`, no settings impl.
    let code = squash(&generate_from_str("stack.toml", DEVICE).unwrap());
    assert!(code.contains("typeSmtp=::emberstack::service::Disabled;"));
    assert!(code.contains("typePop3=::emberstack::service::Disabled;"));
    assert!(!code.contains("SmtpSettings"));
    // `enabled = false` keeps the settings without building the client.
    let off = with_device("[smtp]\nenabled = false\nserver = \"mail.lan\"\n");
    let code = squash(&generate_from_str("stack.toml", &off).unwrap());
    assert!(code.contains("typeSmtp=::emberstack::service::Disabled;"));
}

#[test]
fn mail_errors() {
    let cases = [
        (
            "[smtp]\nserver = \"mail.lan\"\n",
            "11:10: [smtp] server: \"mail.lan\" is a host name, which needs the DNS client; add \
             a `[dns]` section or give an address",
            "[tcp]\nsockets = 2\n[udp]\nsockets = 2\n[arp]\nentries = 4\n",
        ),
        (
            "[smtp]\nserver = \"10.0.0.1\"\n",
            "4:1: [smtp]: the client needs a TCP socket; add a `[tcp]` section with `sockets` \
             (one more for this client)",
            "",
        ),
        (
            "[smtp]\nserver = \"10.0.0.1\"\nuser = \"alice\"\n",
            "9:1: [smtp] password: missing key; `user` needs a `password` (or leave both out)",
            MAIL_BASE,
        ),
        (
            "[pop3]\npassword = \"x\"\n",
            "9:1: [pop3] user: missing key; `password` needs a `user` (or leave both out)",
            MAIL_BASE,
        ),
        (
            "[pop3]\nuser = \"a\\r\\nb\"\npassword = \"x\"\n",
            "10:8: [pop3] user: expected no control characters, found '\\r'",
            MAIL_BASE,
        ),
        (
            "[smtp]\nmx = true\nserver = \"10.0.0.1\"\n",
            "10:6: [smtp] mx: `mx = true` sends to the recipient's mail exchange, so `server` \
             would never be used; remove one of them",
            MAIL_BASE,
        ),
        (
            "[pop3]\nline_limit = 32\n",
            "10:14: [pop3] line_limit: expected an integer from 64 to 1024, found 32",
            MAIL_BASE,
        ),
        (
            "[pop3]\ninterval = 5\n",
            "10:12: [pop3] interval: expected 0 (check only on request) or at least 10 seconds, \
             found 5",
            MAIL_BASE,
        ),
        (
            "[smtp]\nport = 0\n",
            "10:8: [smtp] port: expected an integer from 1 to 65535, found 0",
            MAIL_BASE,
        ),
        (
            "[smtp]\nhelo = \"bad name\"\n",
            "10:8: [smtp] helo: expected a host name, found \"bad name\" (only letters, digits, \
             `-`, `_` and dots)",
            MAIL_BASE,
        ),
        (
            "[smtp]\nserver = \"mail.lan\"\nuser = \"a\"\npassword = \"b\"\n",
            "10:10: [smtp] server: \"mail.lan\" is a host name, found through DNS, and the \
             compiled-in `user` and `password` would go to it in clear text; give the server as \
             an address or set `cleartext_auth_by_name = true`",
            MAIL_BASE,
        ),
        (
            "[pop3]\ntimeout = 60\nsession_timeout = 30\n",
            "11:19: [pop3] session_timeout: expected at least `timeout` (60 s): the whole \
             session includes every step, found 30",
            MAIL_BASE,
        ),
        (
            "[smtp]\ncleartext_auth_by_name = \"yes\"\n",
            "10:26: [smtp] cleartext_auth_by_name: expected a boolean (`true` or `false`), \
             found \"yes\"; did you mean `true` (without quotes)?",
            MAIL_BASE,
        ),
        (
            "[smtp]\nsever = \"10.0.0.1\"\n",
            "10:1: [smtp] sever: unknown key; did you mean `server`?",
            MAIL_BASE,
        ),
    ];
    let mut wrong = Vec::new();
    for (src, msg, base) in cases {
        let got = errors(&with_device(&format!("{base}{src}")));
        let want = vec![format!("error: stack.toml:{msg}")];
        if got != want {
            wrong.push(format!("{src:?}:\n  got  {got:?}\n  want {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // `mx = true` needs [dns].
    let e = errors(&with_device("[tcp]\n[smtp]\nmx = true\n"));
    assert_eq!(
        e,
        [
            "error: stack.toml:6:6: [smtp] mx: `mx = true` looks up the recipient's mail \
          exchange, which needs the DNS client; add a `[dns]` section or give an address"
        ]
    );
}

// ---- the schema and its reference -------------------------------------------

/// The key tables of codegen/README.md are generated from the schema;
/// `EMBERSTACK_BLESS=1` rewrites them.
#[test]
fn readme_reference_tables_are_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let updated = crate::schema::readme::update(&readme).unwrap();
    if std::env::var_os("EMBERSTACK_BLESS").is_some() {
        if updated != readme {
            std::fs::write(&path, &updated).unwrap();
        }
        return;
    }
    assert!(
        updated == readme,
        "codegen/README.md's key tables are out of date: run \
         `EMBERSTACK_BLESS=1 cargo test -p emberstack-codegen readme`"
    );
}

/// Every default a key declares (shown in the README) is what the section
/// gets without the key, and serde knows every declared key.
#[test]
fn declared_defaults_are_the_defaults() {
    use crate::schema::key::KeyDefault;
    use crate::schema::Schema;
    use std::fmt::Debug;

    fn check<S: Schema + PartialEq + Debug>() {
        let none: S = toml::from_str("").unwrap();
        for key in S::KEYS.iter().flat_map(|g| g.iter()) {
            if !key.is_plain() {
                continue;
            }
            let KeyDefault::Value(v) = key.default else {
                continue;
            };
            let text = format!("{} = {v}", key.name);
            let mut ignored = Vec::new();
            let de = toml::de::Deserializer::parse(&text).unwrap();
            let written: S =
                serde_ignored::deserialize(de, |p| ignored.push(p.to_string())).unwrap();
            assert!(ignored.is_empty(), "`{text}`: serde ignored {ignored:?}");
            assert_eq!(written, none, "`{text}` is not the default");
        }
    }
    check::<crate::schema::Ipv4Section>();
    check::<crate::schema::ArpSection>();
    check::<crate::schema::UdpSection>();
    check::<crate::schema::RawSection>();
    check::<crate::schema::IcmpSection>();
    check::<crate::schema::PollSection>();
    check::<crate::schema::NetBiosSection>();
    check::<crate::schema::MdnsSection>();
    check::<crate::schema::TcpSection>();
    check::<crate::schema::DnsSection>();
    check::<crate::schema::SntpSection>();
    check::<crate::schema::DhcpSection>();
    check::<crate::schema::SmtpSection>();
    check::<crate::schema::Pop3Section>();
    check::<crate::schema::HttpSection>();
    check::<crate::schema::DeviceSection>();
}

/// The fields serde reads for `S` (the names in `stack.toml`), found by
/// asking its `Deserialize` for a struct.
fn serde_fields<S: serde::de::DeserializeOwned>() -> Vec<&'static str> {
    use serde::de::{Error as _, Visitor};
    struct Fields(Vec<&'static str>);
    impl<'de> serde::Deserializer<'de> for &mut Fields {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(Self::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0.extend(fields);
            Err(Self::Error::custom("fields taken"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let mut fields = Fields(Vec::new());
    let _ = S::deserialize(&mut fields);
    fields.0
}

/// Every declared key is a field serde reads, and (but for the mail
/// sections, which share one reader) every field is a declared key: the
/// declarations and the structs cannot drift apart.
#[test]
fn declared_keys_are_the_serde_fields() {
    use crate::schema::key::Check;
    use crate::schema::Schema;

    fn check<S: Schema>(all_declared: bool) {
        let fields = serde_fields::<S>();
        let keys: Vec<_> = S::KEYS.iter().flat_map(|g| g.iter()).collect();
        assert!(!fields.is_empty(), "{}", std::any::type_name::<S>());
        for key in keys.iter().filter(|k| k.is_plain()) {
            assert!(
                fields.contains(&key.name),
                "{}: `{}` is declared but serde does not read it",
                std::any::type_name::<S>(),
                key.name
            );
        }
        if all_declared {
            for field in &fields {
                assert!(
                    keys.iter()
                        .any(|k| k.name == *field && !matches!(k.check, Check::Refused(_))),
                    "{}: serde reads `{field}` but no key declares it",
                    std::any::type_name::<S>()
                );
            }
        }
    }
    use crate::schema::*;
    check::<DeviceSection>(true);
    check::<Ipv4Section>(true);
    check::<ArpSection>(true);
    check::<UdpSection>(true);
    check::<RawSection>(true);
    check::<IcmpSection>(true);
    check::<PollSection>(true);
    check::<TcpSection>(true);
    check::<DnsSection>(true);
    check::<NetBiosSection>(true);
    check::<MdnsSection>(true);
    check::<SntpSection>(true);
    check::<DhcpSection>(true);
    check::<HttpSection>(true);
    check::<SmtpSection>(false);
    check::<Pop3Section>(false);
}

// ---- compile-time protocol switches (issue 12) -------------------------------

/// Every switch on (the default) generates what it did before the switches
/// existed; each one off generates its constant (or const argument).
#[test]
fn protocol_switches_generate_constants_only_when_off() {
    let base = "[ipv4]\ndhcp = true\n[tcp]\nsockets = 2\n";
    let on = with_device(&format!(
        "{base}[dns]\n[dhcp]\n[smtp]\nserver = \"10.0.0.1\"\n[pop3]\nserver = \"10.0.0.1\"\n"
    ));
    let flat = squash(&generate_from_str("stack.toml", &on).unwrap());
    assert!(flat.contains("typeDns=::emberstack::dns::DnsClient<2,64>;"));
    for name in [
        "ATTACHMENT",
        "AUTH:",
        "ENCODED_SUBJECT",
        "DELETE",
        "SEND_HOSTNAME",
        "INIT_REBOOT",
    ] {
        assert!(!flat.contains(name), "{name} written while on");
    }
    let off = with_device(&format!(
        "{base}[dns]\nmx = false\ncname = false\n[dhcp]\nsend_hostname = false\n\
         init_reboot = false\n[smtp]\nserver = \"10.0.0.1\"\nattachment = false\nauth = false\n\
         encoded_subject = false\n[pop3]\nserver = \"10.0.0.1\"\ndelete = false\n"
    ));
    let c = parse_config("stack.toml", &off).unwrap();
    assert!(!c.dns.mx && !c.dns.cname);
    assert!(!c.dhcp.send_hostname && !c.dhcp.init_reboot);
    assert!(!c.smtp.attachment && !c.smtp.auth && !c.smtp.encoded_subject);
    assert!(!c.pop3.delete);
    let flat = squash(&generate_from_str("stack.toml", &off).unwrap());
    assert!(flat.contains("typeDns=::emberstack::dns::DnsClient<2,64,false,false>;"));
    for item in [
        "constATTACHMENT:bool=false;",
        "constAUTH:bool=false;",
        "constENCODED_SUBJECT:bool=false;",
        "constDELETE:bool=false;",
        "constSEND_HOSTNAME:bool=false;",
        "constINIT_REBOOT:bool=false;",
    ] {
        assert!(flat.contains(item), "{item} missing");
    }
    let mx_only = with_device(&format!("{base}[dns]\ncname = false\n"));
    let flat = squash(&generate_from_str("stack.toml", &mx_only).unwrap());
    assert!(flat.contains("typeDns=::emberstack::dns::DnsClient<2,64,true,false>;"));
}

/// A switch off that another setting needs is a build error naming both.
#[test]
fn protocol_switches_that_contradict_settings() {
    one_error(
        &with_device(
            "[tcp]\nsockets = 1\n[dns]\nmx = false\n[smtp]\nmx = true\n\
             cleartext_auth_by_name = true\n",
        ),
        "error: stack.toml:9:6: [smtp] mx: `mx = true` needs MX queries, which `[dns] mx = \
         false` leaves out; remove one of them",
    );
    one_error(
        &with_device(
            "[tcp]\nsockets = 1\n[smtp]\nserver = \"10.0.0.1\"\nuser = \"u\"\n\
             password = \"p\"\nauth = false\n",
        ),
        "error: stack.toml:10:8: [smtp] auth: `auth = false` leaves AUTH out, but `user` and \
         `password` are compiled in; remove them or `auth = false`",
    );
    one_error(
        &with_device("[dhcp]\nsend_hostname = false\nhostname = \"dev\"\n"),
        "error: stack.toml:6:12: [dhcp] hostname: `send_hostname = false` sends no host name; \
         remove `hostname` or `send_hostname = false`",
    );
}
