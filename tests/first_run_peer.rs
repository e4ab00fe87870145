//! The README's first command as a new user runs it: `device --tap tap0`
//! as root where no TAP exists yet. The device creates the TAP, brings it
//! up, gives the host side the gateway's address and, as a new TAP has no
//! DHCP server, takes `stack.toml`'s static address: the page is reachable
//! at once.
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
