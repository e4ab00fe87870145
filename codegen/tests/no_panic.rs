//! The generator never panics, whatever the input: random text, TOML-like
//! noise and random edits of a valid file all give either code that parses
//! as Rust or diagnostics pointing inside the file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use emberstack_codegen::{generate_from_str, Error};
use proptest::prelude::*;

const VALID: &str = r#"ram_budget = 2048
[device]
name = "EMBER"
mac = "02:00:00:00:00:02"
[ipv4]
dhcp = false
address = "10.0.0.2/24"
gateway = "10.0.0.1"
dns = "10.0.0.1"
[arp]
entries = 4
lifetime = 300
[udp]
sockets = 4
[icmp]
echo = true
[poll]
frames_per_poll = 8
[dhcp]
enabled = true
retransmit_base = 4
retransmit_max = 64
hostname = "ember"
[http]
enabled = false
web_root = "web"
"#;

/// Runs the generator and checks the outcome is well formed.
fn check(source: &str) {
    match generate_from_str("stack.toml", source) {
        Ok(code) => {
            if let Err(e) = syn::parse_file(&code) {
                panic!("generated invalid Rust ({e}) for:\n{source}\n{code}");
            }
        }
        Err(e) => check_error(source, &e),
    }
}

fn check_error(source: &str, e: &Error) {
    assert!(!e.diagnostics().is_empty());
    let lines = source.split('\n').count();
    for d in e.diagnostics() {
        let (line, col) = d.line_col().expect("diagnostics point into the file");
        assert!(line >= 1 && line <= lines, "line {line} of {lines}: {d}");
        assert!(col >= 1);
        let shown = d.to_string();
        assert!(
            shown.starts_with(&format!("error: stack.toml:{line}:{col}: ")),
            "{shown}"
        );
        assert!(!shown.contains('\n'), "one line per diagnostic: {shown:?}");
    }
    let _ = e.to_string();
}

#[test]
fn valid_file_is_valid() {
    check(VALID);
    assert!(generate_from_str("stack.toml", VALID).is_ok());
}

/// One random edit of a string.
#[derive(Clone, Debug)]
enum Edit {
    Insert(usize, String),
    Delete(usize, usize),
    Replace(usize, String),
    SwapLines(usize, usize),
}

fn apply(source: &str, edit: &Edit) -> String {
    let chars: Vec<char> = source.chars().collect();
    let n = chars.len().max(1);
    match edit {
        Edit::Insert(at, s) => {
            let at = at % (n + 1);
            let mut out: String = chars.iter().take(at).collect();
            out.push_str(s);
            out.extend(chars.iter().skip(at));
            out
        }
        Edit::Delete(at, len) => {
            let at = at % n;
            chars
                .iter()
                .take(at)
                .chain(chars.iter().skip(at + len))
                .collect()
        }
        Edit::Replace(at, s) => {
            let at = at % n;
            let mut out: String = chars.iter().take(at).collect();
            out.push_str(s);
            out.extend(chars.iter().skip(at + s.chars().count()));
            out
        }
        Edit::SwapLines(a, b) => {
            let mut lines: Vec<&str> = source.split('\n').collect();
            let l = lines.len();
            lines.swap(a % l, b % l);
            lines.join("\n")
        }
    }
}

/// Short fragments that matter to TOML and to our value syntaxes.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[\\[\\]=\"'a-z0-9._:/ \\n#{},\\-+]{1,6}",
        Just("\n[".to_owned()),
        Just("]]".to_owned()),
        Just("\"\"\"".to_owned()),
        Just("0x".to_owned()),
        Just("é".to_owned()),
        Just("\u{0}".to_owned()),
        Just("\\u00e9".to_owned()),
        Just("/33".to_owned()),
        Just("300".to_owned()),
        Just("-".to_owned()),
        Just("= {".to_owned()),
        Just("1979-05-27T07:32:00Z".to_owned()),
        Just("9999999999999999999999".to_owned()),
        "\\PC{1,4}",
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), fragment()).prop_map(|(a, s)| Edit::Insert(a, s)),
        (any::<usize>(), 1usize..8).prop_map(|(a, l)| Edit::Delete(a, l)),
        (any::<usize>(), fragment()).prop_map(|(a, s)| Edit::Replace(a, s)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn mutations_of_a_valid_file(edits in proptest::collection::vec(edit(), 1..6)) {
        let mut source = VALID.to_owned();
        for e in &edits {
            source = apply(&source, e);
        }
        check(&source);
    }

    #[test]
    fn toml_like_noise(source in "[\\[\\]=\"'a-z0-9._:/ \\n#{},\\-]{0,200}") {
        check(&source);
    }

    #[test]
    fn any_text(source in "\\PC{0,200}") {
        check(&source);
    }

    #[test]
    fn random_values_in_every_key(
        key in prop::sample::select(vec![
            "ram_budget", "[device] name", "[device] mac", "[ipv4] dhcp", "[ipv4] address",
            "[ipv4] gateway", "[ipv4] dns", "[arp] entries", "[arp] lifetime", "[udp] sockets",
            "[icmp] echo", "[poll] frames_per_poll", "[dhcp] enabled", "[dhcp] retransmit_base",
            "[dhcp] retransmit_max", "[dhcp] hostname", "[http] enabled",
        ]),
        value in prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            any::<bool>().prop_map(|b| b.to_string()),
            "\"[0-9a-fA-F:./\\-]{0,20}\"",
            "\"\\PC{0,20}\"",
            Just("[]".to_owned()),
            Just("{}".to_owned()),
            Just("1.5".to_owned()),
        ],
    ) {
        let (section, key) = match key.split_once(' ') {
            Some((s, k)) => (Some(s), k),
            None => (None, key),
        };
        // Replace the key's line in the valid file.
        let mut out = String::new();
        let mut current = None;
        for line in VALID.lines() {
            if line.starts_with('[') {
                current = Some(line);
            }
            if current == section && line.split(' ').next() == Some(key) {
                out.push_str(&format!("{key} = {value}\n"));
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        check(&out);
    }
}
