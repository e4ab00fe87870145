//! `[dns]`: the DNS client (A and MX queries).

use std::net::Ipv4Addr;

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::ipv4::{host, opt_addr_tokens};
use super::Section;
use crate::reader::{Field, TableReader};

/// `[dns]` settings. The section's presence enables the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsSection {
    /// The section is present and `enabled` is not `false`.
    pub enabled: bool,
    /// `server`: a fixed DNS server; default: the interface's (DHCP, or
    /// `[ipv4] dns`).
    pub server: Option<Ipv4Addr>,
    /// `timeout` (seconds, 1 to 60, default 3): how long each attempt
    /// waits for the answer.
    pub timeout_secs: u64,
    /// `retries` (0 to 10, default 2): attempts after the first.
    pub retries: u8,
    /// `slots` (1 to 16, default 2): queries that can run at once.
    pub slots: usize,
    /// `name_len` (16 to 255, default 64): bytes per slot for the name in
    /// wire form (a name of `name_len - 2` characters fits) and, for MX
    /// queries, the exchanges found.
    pub name_len: usize,
}

impl Default for DnsSection {
    fn default() -> Self {
        DnsSection {
            enabled: false,
            server: None,
            timeout_secs: 3,
            retries: 2,
            slots: 2,
            name_len: 64,
        }
    }
}

impl Section for DnsSection {
    const NAME: &'static str = "dns";

    fn parse(r: &mut TableReader<'_, '_, '_>) -> Self {
        let d = DnsSection::default();
        let enabled = r.is_present() && r.bool("enabled").or(true);
        let server = match r.string("server", "an IPv4 address like \"10.0.0.1\"") {
            Field::Value(text, span) => host(r, "server", &text, &span, "\"10.0.0.1\""),
            _ => None,
        };
        let int = |r: &mut TableReader<'_, '_, '_>, key, min, max, default: u64| {
            r.int(key, min, max)
                .value()
                .map_or(default, |(v, _)| v.unsigned_abs())
        };
        DnsSection {
            enabled,
            server,
            timeout_secs: int(r, "timeout", 1, 60, d.timeout_secs),
            retries: int(r, "retries", 0, 10, u64::from(d.retries)) as u8,
            slots: int(r, "slots", 1, 16, d.slots as u64) as usize,
            name_len: int(r, "name_len", 16, 255, d.name_len as u64) as usize,
        }
    }

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
        quote! {
            type Dns = ::emberstack::dns::DnsClient<#slots, #name_len>;
            const DNS: ::emberstack::dns::DnsSettings = ::emberstack::dns::DnsSettings {
                server: #server,
                timeout: ::emberstack::Duration::from_secs(#timeout),
                retries: #retries,
            };
        }
    }
}
