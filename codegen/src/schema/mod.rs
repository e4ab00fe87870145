//! The `stack.toml` schema: one module per section.
//!
//! Each section is one struct deriving serde's `Deserialize` (its validated
//! settings; `Default` is the section absent from the file), its keys
//! declared once in `Schema::KEYS` (check, default, range and meaning,
//! which the errors and the reference tables of `codegen/README.md` both
//! read: `key`, `readme`), `Schema::check` for what involves several
//! keys, and `Section::impl_items`, its part of the generated `impl Config`.
//! Each key is checked first (typed, spanned errors, all collected), the
//! valid ones are read by serde, and keys serde ignores are reported with
//! the nearest declared one. Adding a section is: a new module here, a field
//! in [`StackConfig`], one line in `parse`, `readme::tables` and
//! `generate.rs`, and a `<!-- keys: NAME -->` marker in the README.

mod arp;
mod device;
mod dhcp;
mod dns;
pub(crate) mod http;
mod icmp;
mod ipv4;
pub(crate) mod key;
mod mail;
mod mdns;
mod netbios;
mod poll;
mod raw;
// The README generator runs as a test (`tests::readme_reference_tables_are_current`).
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod readme;
mod sntp;
mod tcp;
mod udp;

use proc_macro2::TokenStream;
use toml::de::{DeTable, DeValue};

use crate::diag::{Diagnostics, Error};
use crate::reader::{Field, TableReader};
use key::Key;
use serde::de::DeserializeOwned;

pub use arp::ArpSection;
pub use device::DeviceSection;
pub use dhcp::DhcpSection;
pub use dns::DnsSection;
pub use http::{FormDecl, HttpSection};
pub use icmp::IcmpSection;
pub use ipv4::{Ipv4Cidr, Ipv4Section};
pub use mail::{MailCommon, MailServer, Pop3Section, SmtpSection};
pub use mdns::MdnsSection;
pub use netbios::NetBiosSection;
pub use poll::PollSection;
pub use raw::RawSection;
pub use sntp::{SntpSection, SntpServer};
pub use tcp::TcpSection;
pub use udp::UdpSection;

/// The keys of the document root (outside any section). Written after a
/// section header they belong to that section, a common TOML slip that gets
/// its own hint.
pub(crate) const TOP_KEYS: [Key; 1] = [Key::int("ram_budget", 1, u32::MAX as i64)
    .ty("integer (bytes)")
    .doc(
        "The most RAM the stack state and the protocol state the application embeds may \
         occupy (`RAM_BYTES + MAIL_RAM_BYTES`, plus `web::RAM_BYTES` with `[http]`); a larger \
         configuration fails to compile with a message naming the budget.",
    )];

/// A validated `stack.toml`: every setting with its default filled in.
///
/// Produced by [`parse_config`](crate::parse_config); this is what the code
/// generator works from, and what a build script can inspect (for example to
/// print the configured socket counts).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StackConfig {
    /// `ram_budget`: the most bytes the configured stack state may occupy;
    /// the generated code fails to compile when `RAM_BYTES` exceeds it.
    pub ram_budget: Option<u64>,
    /// `[device]`: name and MAC address.
    pub device: DeviceSection,
    /// `[ipv4]`: DHCP or a static address.
    pub ipv4: Ipv4Section,
    /// `[arp]`: ARP cache size and entry lifetime.
    pub arp: ArpSection,
    /// `[udp]`: number of UDP sockets.
    pub udp: UdpSection,
    /// `[raw]`: number of raw IPv4 sockets.
    pub raw: RawSection,
    /// `[mdns]`: the mDNS responder.
    pub mdns: MdnsSection,
    /// `[icmp]`: ICMP echo (ping) answering.
    pub icmp: IcmpSection,
    /// `[poll]`: per-`poll` work bound.
    pub poll: PollSection,
    /// `[tcp]`: TCP sockets, windows, timers.
    pub tcp: TcpSection,
    /// `[dns]`: the DNS client.
    pub dns: DnsSection,
    /// `[netbios]`: the NetBIOS name responder.
    pub netbios: NetBiosSection,
    /// `[sntp]`: the SNTP client.
    pub sntp: SntpSection,
    /// `[dhcp]`: the DHCP client.
    pub dhcp: DhcpSection,
    /// `[smtp]`: the SMTP client the application embeds.
    pub smtp: SmtpSection,
    /// `[pop3]`: the POP3 client the application embeds.
    pub pop3: Pop3Section,
    /// `[http]`: the HTTP server and its web root.
    pub http: HttpSection,
}

/// One section of `stack.toml`.
pub(crate) trait Section: Schema {
    /// The section's name: `[NAME]` in the file.
    const NAME: &'static str;
    /// When the file must contain the section: how to add it.
    const REQUIRED: Option<&'static str> = None;
    /// The section's items of the generated `impl ::emberstack::Config`.
    fn impl_items(&self) -> TokenStream;
}

/// A section whose keys are declared once ([`Key`]) and read by serde: the
/// struct derives `Deserialize` (`#[serde(default)]` fills the keys a
/// present section leaves out), `KEYS` gives each key's check, default,
/// range and meaning, and `check` what involves several keys. `Default`
/// is what the section is without the file saying anything (only used
/// when serde fails, which the checks before it rule out).
pub(crate) trait Schema: DeserializeOwned + Default {
    /// The section's keys, in groups (`[smtp]` and `[pop3]` share one).
    const KEYS: &'static [&'static [Key]];

    /// Checks that involve several of the section's keys, once serde has
    /// read them (`r` still has the table, for spans).
    fn check(&mut self, _r: &mut TableReader<'_, '_, '_>) {}

    /// Settles the settings of a section that is not in the file (a
    /// service is off).
    fn absent(&mut self) {}
}

/// Reads a [`Schema`] section through `r`: each key checked, the valid ones
/// read by serde, then the section's own checks.
pub(crate) fn read<S: Schema>(r: &mut TableReader<'_, '_, '_>) -> S {
    let keys: Vec<&Key> = S::KEYS.iter().flat_map(|group| group.iter()).collect();
    let mut s: S = r.deserialize(&keys);
    if r.is_present() {
        s.check(r);
    } else {
        s.absent();
    }
    s
}

/// Parses and validates `source` (named `file` in messages).
pub(crate) fn parse(file: &str, source: &str) -> Result<StackConfig, Error> {
    let mut diags = Diagnostics::new(file, source);
    let (root, syntax) = DeTable::parse_recoverable(source);
    if !syntax.is_empty() {
        // The recovered document would give misleading follow-on errors:
        // report the syntax errors alone.
        for e in &syntax {
            diags.error(
                e.span().unwrap_or(0..0),
                format!("invalid TOML: {}", e.message()),
            );
        }
        return Err(diags
            .finish(())
            .err()
            .unwrap_or_else(|| Error::other(file, "invalid TOML".to_owned())));
    }

    let mut r = TableReader::new("", 0..0, Some(root.get_ref()), &mut diags);
    let budget = &TOP_KEYS[0];
    let ram_budget = match r.raw(budget.name) {
        Some(v) if budget.accepts(&mut r, v) => match v.get_ref() {
            DeValue::Integer(i) => u64::from_str_radix(i.as_str(), i.radix()).ok(),
            _ => None,
        },
        _ => None,
    };
    let device = section::<DeviceSection>(&mut r);
    let ipv4 = section::<Ipv4Section>(&mut r);
    let arp = section::<ArpSection>(&mut r);
    let udp = section::<UdpSection>(&mut r);
    let raw = section::<RawSection>(&mut r);
    let icmp = section::<IcmpSection>(&mut r);
    let poll = section::<PollSection>(&mut r);
    let tcp = section::<TcpSection>(&mut r);
    let dns = section::<DnsSection>(&mut r);
    let netbios = section::<NetBiosSection>(&mut r);
    let mdns = section::<MdnsSection>(&mut r);
    let mut sntp = section::<SntpSection>(&mut r);
    sntp::check_against_dns(&mut sntp, &dns, r.diags());
    let mut dhcp = section::<DhcpSection>(&mut r);
    dhcp.resolve(ipv4.dhcp, &device.name, r.diags());
    let http = section::<HttpSection>(&mut r);
    http.check_against_tcp(tcp.effective_sockets(), r.diags());
    let mut smtp = section::<SmtpSection>(&mut r);
    smtp.resolve(&dns, &tcp, r.diags());
    let mut pop3 = section::<Pop3Section>(&mut r);
    pop3.resolve(&dns, &tcp, r.diags());
    r.finish();

    diags.finish(StackConfig {
        ram_budget,
        device,
        ipv4,
        arp,
        udp,
        raw,
        icmp,
        poll,
        tcp,
        dns,
        netbios,
        mdns,
        sntp,
        dhcp,
        smtp,
        pop3,
        http,
    })
}

/// Reads section `S` from the root table.
fn section<S: Section>(root: &mut TableReader<'_, '_, '_>) -> S {
    let (table, header) = match root.table(S::NAME) {
        Field::Value(t, span) => (Some(t), span),
        Field::Absent => {
            if let Some(how) = S::REQUIRED {
                root.diags()
                    .error(0..0, format!("[{}]: missing section; {how}", S::NAME));
            }
            (None, 0..0)
        }
        Field::Invalid => (None, 0..0),
    };
    let mut r = TableReader::new(S::NAME, header, table, root.diags());
    let s = read::<S>(&mut r);
    r.finish();
    s
}
