//! `[ipv4]`: DHCP or a static address, gateway and DNS server.

use std::fmt;
use std::net::Ipv4Addr;

use proc_macro2::TokenStream;
use quote::quote;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use super::key::Key;
use super::{Schema, Section};
use crate::diag::Span;
use crate::reader::{quote_str, TableReader};

/// An IPv4 address with its prefix length (`10.0.0.2/24`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Cidr {
    /// The host's address.
    pub address: Ipv4Addr,
    /// The prefix length, 1 to 32.
    pub prefix_len: u8,
}

impl Ipv4Cidr {
    /// The subnet mask.
    pub fn netmask(&self) -> Ipv4Addr {
        let bits = u32::MAX
            .checked_shl(32 - u32::from(self.prefix_len.min(32)))
            .unwrap_or(0);
        Ipv4Addr::from(bits)
    }

    /// The subnet's network address (host bits zero).
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.address) & u32::from(self.netmask()))
    }

    /// The subnet's broadcast address (host bits one).
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.address) | !u32::from(self.netmask()))
    }

    /// Whether `addr` is inside the subnet.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & u32::from(self.netmask()) == u32::from(self.network())
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

/// `[ipv4]` settings.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Ipv4Section {
    /// `dhcp`: get the address from DHCP at start.
    pub dhcp: bool,
    /// `address`: the static address and prefix; required when `dhcp` is
    /// false, and the fallback when DHCP is on.
    #[serde(deserialize_with = "some_cidr")]
    pub address: Option<Ipv4Cidr>,
    /// `gateway`: the default router, inside `address`'s subnet.
    pub gateway: Option<Ipv4Addr>,
    /// `dns`: the DNS server.
    pub dns: Option<Ipv4Addr>,
}

impl Default for Ipv4Section {
    fn default() -> Self {
        Ipv4Section {
            dhcp: true,
            address: None,
            gateway: None,
            dns: None,
        }
    }
}

const CIDR_EXAMPLE: &str = "\"10.0.0.2/24\"";

impl Schema for Ipv4Section {
    const KEYS: &'static [&'static [Key]] = &[&[
        Key::bool("dhcp")
            .default("true")
            .doc("Get the address from DHCP at start (the client is then built in; see `[dhcp]`)."),
        Key::string(
            "address",
            "an address with prefix length like \"10.0.0.2/24\"",
        )
        .content(is_cidr)
        .ty("string `\"A.B.C.D/N\"`")
        .default_text("none; required when `dhcp = false`")
        .range(
            "prefix 1 to 32; a host address: not `0.0.0.0`, loopback, multicast, class E or \
             broadcast, and (for prefixes up to /30) not the subnet's network or broadcast \
             address",
        )
        .doc(
            "The static address and prefix. With `dhcp = true` it is the fallback \
             (`Config::STATIC_IPV4`).",
        ),
        Key::string("gateway", "an IPv4 address like \"10.0.0.1\"")
            .content(is_host)
            .ty("string `\"A.B.C.D\"`")
            .range(
                "a host address inside `address`'s subnet, not `address` itself; needs `address`",
            )
            .doc("The default router."),
        Key::string("dns", "an IPv4 address like \"10.0.0.1\"")
            .content(is_host)
            .ty("string `\"A.B.C.D\"`")
            .range("a host address (any subnet); needs `address`")
            .doc("The DNS server."),
    ]];

    fn check(&mut self, r: &mut TableReader<'_, '_, '_>) {
        let address_given = r.span("address").is_some();
        if !address_given && !self.dhcp {
            r.missing(
                "address",
                "required when `dhcp = false`, e.g. `address = \"10.0.0.2/24\"`",
            );
        }
        if let (Some(gw), Some(span)) = (self.gateway, r.span("gateway")) {
            match self.address {
                Some(cidr) if !cidr.contains(gw) => {
                    r.error(
                        "gateway",
                        span,
                        format!(
                            "expected an address inside {}/{} (the subnet of `address`), found {gw}",
                            cidr.network(),
                            cidr.prefix_len
                        ),
                    );
                    self.gateway = None;
                }
                Some(cidr) if gw == cidr.address => {
                    r.error(
                        "gateway",
                        span,
                        format!(
                            "expected the router's address, found the device's own address {gw}"
                        ),
                    );
                    self.gateway = None;
                }
                None if !address_given => {
                    r.error("gateway", span, no_address("gateway"));
                    self.gateway = None;
                }
                _ => {}
            }
        }
        if let (Some(_), Some(span), false) = (self.dns, r.span("dns"), address_given) {
            r.error("dns", span, no_address("dns"));
            self.dns = None;
        }
    }
}

/// `address`, checked by [`is_cidr`] before.
fn some_cidr<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Ipv4Cidr>, D::Error> {
    let text = String::deserialize(d)?;
    let cidr = text.split_once('/').and_then(|(addr, prefix)| {
        Some(Ipv4Cidr {
            address: parse_addr(addr).ok()?,
            prefix_len: prefix.parse().ok()?,
        })
    });
    match cidr {
        Some(c) => Ok(Some(c)),
        None => Err(D::Error::custom(format!("not an address/prefix: {text:?}"))),
    }
}

/// A [`Content`](super::key::Content) check: `text` is a host address with
/// its prefix.
fn is_cidr(r: &mut TableReader<'_, '_, '_>, _key: &'static str, text: &str, span: &Span) -> bool {
    cidr(r, text, span).is_some()
}

impl Section for Ipv4Section {
    const NAME: &'static str = "ipv4";

    fn impl_items(&self) -> TokenStream {
        let dhcp = self.dhcp;
        let static_ipv4 = match self.address {
            None => quote!(::core::option::Option::None),
            Some(cidr) => {
                let addr = addr_tokens(cidr.address);
                let prefix = proc_macro2::Literal::u8_unsuffixed(cidr.prefix_len);
                let gateway = opt_addr_tokens(self.gateway);
                let dns = opt_addr_tokens(self.dns);
                quote! {
                    ::core::option::Option::Some(::emberstack::config::StaticIpv4 {
                        cidr: ::emberstack::wire::Ipv4Cidr::new(#addr, #prefix),
                        gateway: #gateway,
                        dns: #dns,
                    })
                }
            }
        };
        quote! {
            const DHCP: bool = #dhcp;
            const STATIC_IPV4: ::core::option::Option<::emberstack::config::StaticIpv4> = #static_ipv4;
        }
    }
}

fn no_address(key: &str) -> String {
    format!(
        "`{key}` is set but `address` is not; add `address = {CIDR_EXAMPLE}` (used as the \
         static settings) or remove `{key}`"
    )
}

pub(super) fn addr_tokens(a: Ipv4Addr) -> TokenStream {
    let o = a.octets().map(proc_macro2::Literal::u8_unsuffixed);
    quote!(::emberstack::wire::Ipv4Address([#(#o),*]))
}

pub(super) fn opt_addr_tokens(a: Option<Ipv4Addr>) -> TokenStream {
    match a {
        Some(a) => {
            let t = addr_tokens(a);
            quote!(::core::option::Option::Some(#t))
        }
        None => quote!(::core::option::Option::None),
    }
}

/// Parses and checks `address`; reports and returns `None` on error.
fn cidr(r: &mut TableReader<'_, '_, '_>, text: &str, span: &Span) -> Option<Ipv4Cidr> {
    let Some((addr_text, prefix_text)) = text.split_once('/') else {
        let msg = if parse_addr(text).is_ok() {
            format!(
                "expected an address with a prefix length like {CIDR_EXAMPLE}, found {} \
                 without `/prefix`",
                quote_str(text)
            )
        } else {
            format!(
                "expected an address with a prefix length like {CIDR_EXAMPLE}, found {}",
                quote_str(text)
            )
        };
        r.error("address", span.clone(), msg);
        return None;
    };
    let address = match parse_addr(addr_text) {
        Ok(a) => a,
        Err(e) => {
            report_addr_error(r, "address", text, span, e, CIDR_EXAMPLE);
            return None;
        }
    };
    let prefix_at = addr_text.len() + 1;
    let prefix_len = match prefix_text.parse::<u8>() {
        Ok(p) if (1..=32).contains(&p) && prefix_text.bytes().all(|b| b.is_ascii_digit()) => p,
        _ => {
            let sub = r.sub_span(span, text, prefix_at..text.len());
            let found = if prefix_text.is_empty() {
                "nothing".to_owned()
            } else {
                prefix_text.to_owned()
            };
            r.error(
                "address",
                sub,
                format!("expected a prefix length from 1 to 32 after `/`, found {found}"),
            );
            return None;
        }
    };
    let cidr = Ipv4Cidr {
        address,
        prefix_len,
    };
    if let Some(what) = not_a_host(address) {
        r.error(
            "address",
            span.clone(),
            format!("expected a host address, found {what}"),
        );
        return None;
    }
    if prefix_len <= 30 && address == cidr.network() {
        r.error(
            "address",
            span.clone(),
            format!(
                "expected a host address, found the network address of {}/{prefix_len}",
                cidr.network()
            ),
        );
        return None;
    }
    if prefix_len <= 30 && address == cidr.broadcast() {
        r.error(
            "address",
            span.clone(),
            format!(
                "expected a host address, found the broadcast address of {}/{prefix_len}",
                cidr.network()
            ),
        );
        return None;
    }
    Some(cidr)
}

/// Parses and checks a plain host address (`gateway`, `dns`, and the
/// servers of `[dns]` and `[sntp]`).
pub(super) fn host(
    r: &mut TableReader<'_, '_, '_>,
    key: &str,
    text: &str,
    span: &Span,
    example: &str,
) -> Option<Ipv4Addr> {
    if text.contains('/') {
        r.error(
            key,
            span.clone(),
            format!(
                "expected an address without a prefix length like {example}, found {}",
                quote_str(text)
            ),
        );
        return None;
    }
    match parse_addr(text) {
        Ok(a) => match not_a_host(a) {
            Some(what) => {
                r.error(
                    key,
                    span.clone(),
                    format!("expected a host address, found {what}"),
                );
                None
            }
            None => Some(a),
        },
        Err(e) => {
            report_addr_error(r, key, text, span, e, example);
            None
        }
    }
}

/// A [`Content`](super::key::Content) check: `text` is a host address.
pub(super) fn is_host(
    r: &mut TableReader<'_, '_, '_>,
    key: &'static str,
    text: &str,
    span: &Span,
) -> bool {
    host(r, key, text, span, "\"10.0.0.1\"").is_some()
}

/// Why `a` cannot be a host's address, if it cannot.
fn not_a_host(a: Ipv4Addr) -> Option<String> {
    if a.is_unspecified() {
        Some("the unspecified address 0.0.0.0".to_owned())
    } else if a.is_broadcast() {
        Some("the broadcast address 255.255.255.255".to_owned())
    } else if a.is_multicast() {
        Some(format!("the multicast address {a}"))
    } else if a.is_loopback() {
        Some(format!("the loopback address {a}"))
    } else if a.octets()[0] >= 240 {
        Some(format!("the reserved (class E) address {a}"))
    } else {
        None
    }
}

/// What is wrong with an address's text.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum AddrError {
    /// Not four dot-separated numbers.
    Shape,
    /// The part at this byte range is over 255 or has leading zeros.
    Part(Span),
}

/// Parses `a.b.c.d`, each part a decimal number 0..=255 without leading zeros.
pub(super) fn parse_addr(text: &str) -> Result<Ipv4Addr, AddrError> {
    let mut octets = [0u8; 4];
    let mut parts = text.split('.');
    let mut at = 0;
    for octet in &mut octets {
        let part = parts.next().ok_or(AddrError::Shape)?;
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AddrError::Shape);
        }
        let range = at..at + part.len();
        match part.parse::<u8>() {
            Ok(n) if !(part.len() > 1 && part.starts_with('0')) => *octet = n,
            _ => return Err(AddrError::Part(range)),
        }
        at += part.len() + 1;
    }
    if parts.next().is_some() {
        return Err(AddrError::Shape);
    }
    Ok(Ipv4Addr::from(octets))
}

fn report_addr_error(
    r: &mut TableReader<'_, '_, '_>,
    key: &str,
    text: &str,
    span: &Span,
    e: AddrError,
    example: &str,
) {
    match e {
        AddrError::Shape => r.error(
            key,
            span.clone(),
            format!(
                "expected an IPv4 address like {example}, found {}",
                quote_str(text)
            ),
        ),
        AddrError::Part(range) => {
            let part = text.get(range.clone()).unwrap_or("").to_owned();
            let sub = r.sub_span(span, text, range);
            let msg = if part.len() > 1 && part.starts_with('0') && part.parse::<u8>().is_ok() {
                format!("expected a number from 0 to 255 without leading zeros, found {part}")
            } else {
                format!(
                    "expected each part of the address to be a number from 0 to 255, found {part}"
                )
            };
            r.error(key, sub, msg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(parse_addr("10.0.0.2"), Ok(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(parse_addr("10.0.0"), Err(AddrError::Shape));
        assert_eq!(parse_addr("10.0.0.2.1"), Err(AddrError::Shape));
        assert_eq!(parse_addr("10.0..2"), Err(AddrError::Shape));
        assert_eq!(parse_addr("10.0.0.300"), Err(AddrError::Part(7..10)));
        assert_eq!(parse_addr("10.01.0.3"), Err(AddrError::Part(3..5)));
        assert_eq!(parse_addr("+1.0.0.3"), Err(AddrError::Shape));
    }

    #[test]
    fn cidr_math() {
        let c = Ipv4Cidr {
            address: Ipv4Addr::new(10, 0, 0, 2),
            prefix_len: 24,
        };
        assert_eq!(c.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(c.network(), Ipv4Addr::new(10, 0, 0, 0));
        assert_eq!(c.broadcast(), Ipv4Addr::new(10, 0, 0, 255));
        assert!(c.contains(Ipv4Addr::new(10, 0, 0, 1)));
        assert!(!c.contains(Ipv4Addr::new(10, 0, 1, 1)));
        let host = Ipv4Cidr {
            prefix_len: 32,
            ..c
        };
        assert_eq!(host.netmask(), Ipv4Addr::new(255, 255, 255, 255));
        assert_eq!(c.to_string(), "10.0.0.2/24");
    }
}
