//! `[sntp]`: the SNTP client.

use std::net::Ipv4Addr;

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use serde::{Deserialize, Deserializer};

use super::ipv4::{addr_tokens, is_host, parse_addr};
use super::key::Key;
use super::{Schema, Section};
use crate::diag::Span;
use crate::reader::{quote_str, TableReader};

/// The `[sntp] server` setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SntpServer {
    /// An address.
    Addr(Ipv4Addr),
    /// A host name (needs `[dns]`).
    Name(String),
}

/// `[sntp]` settings. The section's presence enables the client.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default = "SntpSection::present")]
pub struct SntpSection {
    /// The section is present and `enabled` is not `false`.
    pub enabled: bool,
    /// `server`: an address or host name asked from the start; default
    /// none (the application calls `request`).
    #[serde(deserialize_with = "some_server")]
    pub server: Option<SntpServer>,
    /// `timeout` (seconds): how long each step (resolve, ARP, reply) may
    /// take.
    #[serde(rename = "timeout")]
    pub timeout_secs: u64,
    /// `poll_interval` (seconds): how often to ask again; 0 asks only on
    /// request.
    #[serde(rename = "poll_interval")]
    pub poll_interval_secs: u64,
    /// Bytes for a server name: `[dns] name_len`, 0 without `[dns]`.
    #[serde(skip)]
    pub name_len: usize,
    /// Where `server` is, when it is a name (for the `[dns]` check).
    #[serde(skip)]
    pub(crate) name_span: Option<Span>,
}

impl Default for SntpSection {
    /// Without the section: off.
    fn default() -> Self {
        SntpSection {
            enabled: false,
            ..SntpSection::present()
        }
    }
}

impl SntpSection {
    /// The defaults of a present section.
    fn present() -> Self {
        SntpSection {
            enabled: true,
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

impl Schema for SntpSection {
    const KEYS: &'static [&'static [Key]] = &[&[
        Key::bool("enabled")
            .default("true")
            .doc("`false` turns the client off."),
        Key::string(
            "server",
            "an IPv4 address like \"10.0.0.1\" or a host name like \"ntp.example.com\"",
        )
        .content(is_server)
        .range(
            "`\"A.B.C.D\"` (a host address) or a host name (letters, digits, `-`, `_`, dots; \
             labels 1 to 63 characters; at most `[dns] name_len - 2` characters)",
        )
        .doc(
            "The server asked from start-up. A name needs `[dns]`. Without it the application \
             calls `stack.sntp().request(...)`.",
        ),
        Key::int("timeout", 1, 60)
            .unit("seconds")
            .default("5")
            .doc("How long each step may take: resolving the name, ARP, the reply."),
        Key::int("poll_interval", 0, 604_800)
            .unit("seconds")
            .default("3600")
            .range("0, or 15 to 604800")
            .doc(
                "How often to ask again; `0` asks only when requested. After a failure the \
                 client asks again after at most 60 s (never for a `DENY`/`RSTR` \
                 kiss-o'-death). RFC 4330 forbids intervals under 15 s.",
            ),
    ]];

    fn check(&mut self, r: &mut TableReader<'_, '_, '_>) {
        if let Some(SntpServer::Name(_)) = self.server {
            self.name_span = r.span("server");
        }
        if let (1..15, Some(span)) = (self.poll_interval_secs, r.span("poll_interval")) {
            r.error(
                "poll_interval",
                span,
                format!(
                    "expected 0 (ask only on request) or at least 15 seconds (RFC 4330 \
                     forbids polling more often), found {}",
                    self.poll_interval_secs
                ),
            );
            self.poll_interval_secs = SntpSection::present().poll_interval_secs;
        }
    }

    fn absent(&mut self) {
        self.enabled = false;
    }
}

/// `server`: an address when it is only digits and dots (checked by
/// [`is_server`] before), else a name.
fn some_server<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SntpServer>, D::Error> {
    let text = String::deserialize(d)?;
    Ok(Some(match server_addr(&text) {
        Some(a) => SntpServer::Addr(a),
        None => SntpServer::Name(text),
    }))
}

/// The address `text` is when it is only digits and dots (else a name).
pub(super) fn server_addr(text: &str) -> Option<Ipv4Addr> {
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        parse_addr(text).ok()
    } else {
        None
    }
}

/// A [`Content`](super::key::Content) check of a server: a host address
/// (when only digits and dots) or a host name.
pub(super) fn is_server(
    r: &mut TableReader<'_, '_, '_>,
    key: &'static str,
    text: &str,
    span: &Span,
) -> bool {
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        is_host(r, key, text, span)
    } else if let Some(why) = bad_host_name(text) {
        r.error(
            key,
            span.clone(),
            format!(
                "expected an IPv4 address or a host name, found {} ({why})",
                quote_str(text)
            ),
        );
        false
    } else {
        true
    }
}

impl Section for SntpSection {
    const NAME: &'static str = "sntp";

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
