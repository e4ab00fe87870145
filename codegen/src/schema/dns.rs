//! `[dns]`: the DNS client (A and MX queries).

use std::net::Ipv4Addr;

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::ipv4::{is_host, opt_addr_tokens};
use serde::Deserialize;

use super::key::Key;
use super::{Schema, Section};

/// `[dns]` settings. The section's presence enables the client.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default = "DnsSection::present")]
pub struct DnsSection {
    /// The section is present and `enabled` is not `false`.
    pub enabled: bool,
    /// `server`: a fixed DNS server; default: the interface's (DHCP, or
    /// `[ipv4] dns`).
    pub server: Option<Ipv4Addr>,
    /// `timeout` (seconds): how long each attempt waits for the answer.
    #[serde(rename = "timeout")]
    pub timeout_secs: u64,
    /// `retries`: attempts after the first.
    pub retries: u8,
    /// `slots`: queries that can run at once.
    pub slots: usize,
    /// `name_len`: bytes per slot for the name in wire form (a name of
    /// `name_len - 2` characters fits) and, for MX queries, the exchanges
    /// found.
    pub name_len: usize,
    /// `mx` (default true): MX queries are built in.
    pub mx: bool,
    /// `cname` (default true): CNAME chains are followed.
    pub cname: bool,
}

impl Default for DnsSection {
    /// Without the section: off.
    fn default() -> Self {
        DnsSection {
            enabled: false,
            ..DnsSection::present()
        }
    }
}

impl DnsSection {
    /// The defaults of a present section.
    fn present() -> Self {
        DnsSection {
            enabled: true,
            server: None,
            timeout_secs: 3,
            retries: 2,
            slots: 2,
            name_len: 64,
            mx: true,
            cname: true,
        }
    }
}

impl Schema for DnsSection {
    const KEYS: &'static [&'static [Key]] = &[&[
        Key::bool("enabled")
            .default("true")
            .doc("`false` turns the client off without deleting the section."),
        Key::string("server", "an IPv4 address like \"10.0.0.1\"")
            .content(is_host)
            .ty("string `\"A.B.C.D\"`")
            .range("a host address")
            .doc(
                "A fixed DNS server. Without it the interface's is used: from DHCP, or \
                 `[ipv4] dns`.",
            ),
        Key::int("timeout", 1, 60)
            .unit("seconds")
            .default("3")
            .doc("How long each attempt waits for the answer."),
        Key::int("retries", 0, 10)
            .default("2")
            .doc("Attempts after the first before the query fails with `Timeout`."),
        Key::int("slots", 1, 16)
            .default("2")
            .doc("Queries that can run at once (each is one slot of RAM)."),
        Key::int("name_len", 16, 255)
            .unit("bytes")
            .default("64")
            .doc(
                "Bytes per slot for the name in wire form (a name of `name_len - 2` characters \
             fits) and, for an MX query, the exchanges found (preference, address and name \
             each), most preferred first. Also the longest `[sntp]` server name.",
            ),
        Key::bool("mx").default("true").doc(
            "Build MX queries in (a domain's mail exchanges with their addresses, for `[smtp] \
             mx`). `false` leaves that code out; an MX query fails with `Unsupported`.",
        ),
        Key::bool("cname").default("true").doc(
            "Follow CNAME chains (in the reply, then by asking again for the chain's end). \
             `false` leaves that code out: a name that is an alias fails with `Unsupported`.",
        ),
    ]];

    fn absent(&mut self) {
        self.enabled = false;
    }
}

impl Section for DnsSection {
    const NAME: &'static str = "dns";

    fn impl_items(&self) -> TokenStream {
        if !self.enabled {
            return quote!(
                type Dns = ::emberstack::service::Disabled;
            );
        }
        let slots = Literal::usize_unsuffixed(self.slots);
        let name_len = Literal::usize_unsuffixed(self.name_len);
        let server = opt_addr_tokens(self.server);
        let timeout = Literal::u64_unsuffixed(self.timeout_secs);
        let retries = Literal::u8_unsuffixed(self.retries);
        // The switches are written only when off (their defaults are on).
        let switches = match (self.mx, self.cname) {
            (true, true) => quote!(),
            (mx, cname) => quote!(, #mx, #cname),
        };
        quote! {
            type Dns = ::emberstack::dns::DnsClient<#slots, #name_len #switches>;
            const DNS: ::emberstack::dns::DnsSettings = ::emberstack::dns::DnsSettings {
                server: #server,
                timeout: ::emberstack::Duration::from_secs(#timeout),
                retries: #retries,
            };
        }
    }
}
