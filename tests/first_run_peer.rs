//! The README's first commands as a new user runs them, as root where no
//! TAP exists yet: the reference device (`device --tap tap0`) and the
//! minimal example (`minimal --tap tap0`). Each creates the TAP, brings it
//! up and gives the host side the gateway's address; the reference device,
//! as a new TAP has no DHCP server, takes `stack.toml`'s static address.
//! The page is reachable at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

use harness::{require_tool, Netns};
use std::time::Duration;

#[test]
fn the_first_run_reaches_a_page_without_setup() {
    require_tool("curl", "curl");
    let ns = Netns::new("first");
    // No TAP: the device must create it.
    let o = ns.exec("ip", &["link", "del", "tap0"], Duration::from_secs(5));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dev = ns.spawn_device(&[]);
    let line = dev.wait_for("device: created TAP tap0", Duration::from_secs(10));
    assert!(
        line.contains("host side 10.78.0.1/24") && line.contains("http://10.78.0.2/"),
        "{line}"
    );
    dev.wait_for("arp: announced 10.78.0.2", Duration::from_secs(10));
    let o = ns.exec(
        "curl",
        &["-s", "--max-time", "10", "http://10.78.0.2/"],
        Duration::from_secs(15),
    );
    let page = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && page.contains("<title>EMBER"),
        "curl: {page}{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// curl in the namespace; the body (it must succeed).
fn get(ns: &Netns, url: &str) -> String {
    let o = ns.exec(
        "curl",
        &["-s", "--max-time", "10", url],
        Duration::from_secs(15),
    );
    assert!(
        o.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The number in `<b id="ID">N</b>`.
fn value(page: &str, id: &str) -> u64 {
    let start = format!("<b id=\"{id}\">");
    let at = page
        .find(&start)
        .unwrap_or_else(|| panic!("no {id} in {page}"))
        + start.len();
    page[at..].split('<').next().unwrap().parse().unwrap()
}

#[test]
fn the_minimal_example_serves_its_page_with_live_values() {
    require_tool("curl", "curl");
    let ns = Netns::new("mini");
    let o = ns.exec("ip", &["link", "del", "tap0"], Duration::from_secs(5));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dev = ns.spawn_example("minimal", &[]);
    dev.wait_for(
        "minimal: serving http://10.78.0.2/",
        Duration::from_secs(10),
    );
    let first = get(&ns, "http://10.78.0.2/");
    assert!(first.contains("<h1>MINI</h1>"), "{first}");
    std::thread::sleep(Duration::from_millis(1100));
    let second = get(&ns, "http://10.78.0.2/");
    // The handlers ran per request: the counter moved, time went on.
    assert_eq!(value(&second, "hits"), value(&first, "hits") + 1);
    assert!(value(&second, "uptime") >= 1, "{second}");
}

/// The README's first section shows `examples/minimal/main.rs` as it is
/// (everything after the module doc), so what a new user copies runs.
#[test]
fn the_readme_shows_the_minimal_example_as_it_is() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let main = std::fs::read_to_string(root.join("examples/minimal/main.rs")).unwrap();
    let section = &readme[readme
        .find("## A web device in one small file")
        .expect("README section")..];
    let start = section.find("```rust\n").expect("a rust block") + "```rust\n".len();
    let shown = &section[start..];
    let shown = &shown[..shown.find("```").expect("end of the block")];
    let code = &main[main.find("\nuse ").expect("use lines") + 1..];
    assert_eq!(
        shown, code,
        "README's minimal example differs from examples/minimal/main.rs"
    );
}
