//! `[sntp]`: the SNTP client.

use std::net::Ipv4Addr;

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::ipv4::{addr_tokens, host};
use super::Section;
use crate::diag::Span;
use crate::reader::{quote_str, Field, TableReader};

/// The `[sntp] server` setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SntpServer {
    /// An address.
    Addr(Ipv4Addr),
    /// A host name (needs `[dns]`).
    Name(String),
}

/// `[sntp]` settings. The section's presence enables the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SntpSection {
    /// The section is present and `enabled` is not `false`.
    pub enabled: bool,
    /// `server`: an address or host name asked from the start; default
    /// none (the application calls `request`).
    pub server: Option<SntpServer>,
    /// `timeout` (seconds, 1 to 60, default 5): how long each step
    /// (resolve, ARP, reply) may take.
    pub timeout_secs: u64,
    /// `poll_interval` (seconds, 0 or 15 to 604800, default 3600): how
    /// often to ask again; 0 asks only on request.
    pub poll_interval_secs: u64,
    /// Bytes for a server name: `[dns] name_len`, 0 without `[dns]`.
    pub name_len: usize,
    /// Where `server` is, when it is a name (for the `[dns]` check).
    pub(crate) name_span: Option<Span>,
}

impl Default for SntpSection {
    fn default() -> Self {
        SntpSection {
            enabled: false,
            server: None,
            timeout_secs: 5,
            poll_interval_secs: 3600,
            name_len: 0,
            name_span: None,
        }
    }
}

/// Longest host name in text (RFC 1035: 255 bytes in wire form).
const MAX_NAME: usize = 253;

impl Section for SntpSection {
    const NAME: &'static str = "sntp";

    fn parse(r: &mut TableReader<'_, '_, '_>) -> Self {
        let d = SntpSection::default();
        let enabled = r.is_present() && r.bool("enabled").or(true);
        let mut name_span = None;
        let server = match r.string(
            "server",
            "an IPv4 address like \"10.0.0.1\" or a host name like \"ntp.example.com\"",
        ) {
            Field::Value(text, span) => {
                if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                    host(r, "server", &text, &span, "\"10.0.0.1\"").map(SntpServer::Addr)
                } else if let Some(why) = bad_host_name(&text) {
                    r.error(
                        "server",
                        span,
                        format!(
                            "expected an IPv4 address or a host name, found {} ({why})",
                            quote_str(&text)
                        ),
                    );
                    None
                } else {
                    name_span = Some(span);
                    Some(SntpServer::Name(text))
                }
            }
            _ => None,
        };
        let timeout_secs = r
            .int("timeout", 1, 60)
            .value()
            .map_or(d.timeout_secs, |(v, _)| v.unsigned_abs());
        let poll_interval_secs = match r.int("poll_interval", 0, 604_800) {
            Field::Value(v, span) if (1..15).contains(&v) => {
                r.error(
                    "poll_interval",
                    span,
                    format!(
                        "expected 0 (ask only on request) or at least 15 seconds (RFC 4330 \
                         forbids polling more often), found {v}"
                    ),
                );
                d.poll_interval_secs
            }
            f => f
                .value()
                .map_or(d.poll_interval_secs, |(v, _)| v.unsigned_abs()),
        };
        SntpSection {
            enabled,
            server,
            timeout_secs,
            poll_interval_secs,
            name_len: 0,
            name_span,
        }
    }

    fn impl_items(&self) -> TokenStream {
        if !self.enabled {
            return quote!(
                type Sntp = ::emberstack::service::Disabled;
            );
        }
        let name_len = Literal::usize_unsuffixed(self.name_len);
        let server = match &self.server {
            None => quote!(::core::option::Option::None),
            Some(SntpServer::Addr(a)) => {
                let a = addr_tokens(*a);
                quote!(::core::option::Option::Some(::emberstack::sntp::SntpServer::Addr(#a)))
            }
            Some(SntpServer::Name(n)) => {
                quote!(::core::option::Option::Some(::emberstack::sntp::SntpServer::Name(#n)))
            }
        };
        let timeout = Literal::u64_unsuffixed(self.timeout_secs);
        let interval = Literal::u64_unsuffixed(self.poll_interval_secs);
        quote! {
            type Sntp = ::emberstack::sntp::SntpClient<#name_len>;
            const SNTP: ::emberstack::sntp::SntpSettings = ::emberstack::sntp::SntpSettings {
                server: #server,
                timeout: ::emberstack::Duration::from_secs(#timeout),
                poll_interval: ::emberstack::Duration::from_secs(#interval),
            };
        }
    }
}

/// Why `name` is not a host name (labels of letters, digits, `-` and `_`,
/// 1 to 63 bytes, dot-separated, at most 253 bytes; a trailing dot is fine).
pub(super) fn bad_host_name(name: &str) -> Option<&'static str> {
    let n = name.strip_suffix('.').unwrap_or(name);
    if n.is_empty() {
        return Some("empty");
    }
    if n.len() > MAX_NAME {
        return Some("longer than 253 characters");
    }
    for label in n.split('.') {
        if label.is_empty() {
            return Some("empty label");
        }
        if label.len() > 63 {
            return Some("a label longer than 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Some("only letters, digits, `-`, `_` and dots");
        }
    }
    None
}

/// Checks `server` against `[dns]`: a name needs the DNS client and must
/// fit its `name_len`. Fills in `name_len`.
pub(super) fn check_against_dns(
    sntp: &mut SntpSection,
    dns: &super::DnsSection,
    diags: &mut crate::diag::Diagnostics<'_>,
) {
    sntp.name_len = if dns.enabled { dns.name_len } else { 0 };
    let (Some(SntpServer::Name(name)), Some(span)) = (&sntp.server, &sntp.name_span) else {
        return;
    };
    if !sntp.enabled {
        return;
    }
    let text = name.strip_suffix('.').unwrap_or(name);
    if !dns.enabled {
        diags.error(
            span.clone(),
            format!(
                "[sntp] server: {} is a host name, which needs the DNS client; add a `[dns]` \
                 section or give an address",
                quote_str(name)
            ),
        );
    } else if text.len().saturating_add(2) > dns.name_len {
        diags.error(
            span.clone(),
            format!(
                "[sntp] server: expected a name of at most {} characters (`[dns] name_len` \
                 minus 2), found {} in {}",
                dns.name_len.saturating_sub(2),
                text.len(),
                quote_str(name)
            ),
        );
    }
}
