//! The reference tables of `codegen/README.md`, generated from the schema.
//!
//! Each table stands between `<!-- keys: NAME -->` and `<!-- /keys -->` in
//! the README; the prose around it is written by hand. A test fails when
//! the README's tables differ from these (`EMBERSTACK_BLESS=1` rewrites
//! them).

use super::key::{self, Key};
use super::*;

/// The keys of a [`Schema`] section, all groups.
fn keys<S: Schema>() -> Vec<Key> {
    S::KEYS.iter().flat_map(|g| g.iter().copied()).collect()
}

/// Every reference table: the marker's name and the table's Markdown.
pub(crate) fn tables() -> Vec<(&'static str, String)> {
    vec![
        ("top", key::table(&TOP_KEYS)),
        ("device", key::table(&keys::<DeviceSection>())),
        ("ipv4", key::table(&keys::<Ipv4Section>())),
        ("arp", key::table(&keys::<ArpSection>())),
        ("udp", key::table(&keys::<UdpSection>())),
        ("raw", key::table(&keys::<RawSection>())),
        ("icmp", key::table(&keys::<IcmpSection>())),
        ("poll", key::table(&keys::<PollSection>())),
        ("netbios", key::table(&keys::<NetBiosSection>())),
        ("mdns", key::table(&keys::<MdnsSection>())),
        ("tcp", key::table(&keys::<TcpSection>())),
        ("dns", key::table(&keys::<DnsSection>())),
        ("sntp", key::table(&keys::<SntpSection>())),
        ("dhcp", key::table(&keys::<DhcpSection>())),
        ("mail", key::table(mail::MAIL_KEYS)),
        ("smtp", key::table(mail::SMTP_KEYS)),
        ("pop3", key::table(mail::POP3_KEYS)),
        ("http", key::table(&keys::<HttpSection>())),
    ]
}

/// `readme` with every marked table replaced by the generated one; an error
/// names a marker that is missing or not closed.
pub(crate) fn update(readme: &str) -> Result<String, String> {
    let mut out = readme.to_owned();
    for (name, table) in tables() {
        let open = format!("<!-- keys: {name} -->\n");
        let close = "<!-- /keys -->";
        let start = out
            .find(&open)
            .ok_or_else(|| format!("no `{}` in the README", open.trim_end()))?
            + open.len();
        let end = out
            .get(start..)
            .and_then(|rest| rest.find(close))
            .ok_or_else(|| format!("`{}` is not closed by `{close}`", open.trim_end()))?
            + start;
        out.replace_range(start..end, &table);
    }
    Ok(out)
}
