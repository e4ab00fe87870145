//! `[device]`: the device's name and MAC address (both required).

use proc_macro2::TokenStream;
use quote::quote;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use super::key::Key;
use super::{Schema, Section};
use crate::diag::Span;
use crate::reader::{quote_str, TableReader};

/// Longest device name: a NetBIOS name has 15 characters.
pub const MAX_NAME_LEN: usize = 15;

/// `[device]` settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct DeviceSection {
    /// `name`: NetBIOS name and DHCP hostname, 1 to 15 ASCII letters,
    /// digits, `-` or `_`.
    pub name: String,
    /// `mac`: the unicast MAC address used when the NIC has none of its own.
    #[serde(deserialize_with = "mac")]
    pub mac: [u8; 6],
}

impl Schema for DeviceSection {
    const KEYS: &'static [&'static [Key]] = &[&[
        Key::string(
            "name",
            "a string of 1 to 15 ASCII letters, digits, `-` or `_`",
        )
        .content(is_name)
        .required("expected the device name, e.g. `name = \"EMBER\"`")
        .range("1 to 15 characters: ASCII letters, digits, `-`, `_`")
        .doc("The device name: its NetBIOS name and DHCP hostname."),
        Key::string("mac", "a MAC address like \"02:00:00:00:00:01\"")
            .content(is_mac)
            .required("expected the MAC address, e.g. `mac = \"02:00:00:00:00:01\"`")
            .range(
                "six two-digit hex bytes separated by `:` or `-` (one kind), e.g. \
                 `\"02:00:00:00:00:02\"`; unicast (lowest bit of the first byte clear), not \
                 all zero",
            )
            .doc(
                "The MAC address used when the NIC has none of its own. A locally administered \
                 address has `02` in its first byte.",
            ),
    ]];
}

/// `mac`, checked by [`is_mac`] before.
fn mac<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 6], D::Error> {
    let text = String::deserialize(d)?;
    parse_mac(&text).map_err(|()| D::Error::custom(format!("not a MAC address: {text:?}")))
}

/// A [`Content`](super::key::Content) check: `text` is a unicast, non-zero
/// MAC address.
fn is_mac(r: &mut TableReader<'_, '_, '_>, key: &'static str, text: &str, span: &Span) -> bool {
    match parse_mac(text) {
        Ok(mac) if mac == [0; 6] => {
            r.error(
                key,
                span.clone(),
                format!("expected a non-zero address, found {}", quote_str(text)),
            );
            false
        }
        Ok(mac) if mac[0] & 1 == 1 => {
            let sep = if text.contains('-') { "-" } else { ":" };
            let mut fixed = mac;
            fixed[0] &= !1;
            let suggestion = fixed
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(sep);
            r.error(
                key,
                span.clone(),
                format!(
                    "expected a unicast address (lowest bit of the first byte clear), \
                     found multicast {}; did you mean \"{suggestion}\"?",
                    quote_str(text)
                ),
            );
            false
        }
        Ok(_) => true,
        Err(()) => {
            r.error(
                key,
                span.clone(),
                format!(
                    "expected a MAC address like \"02:00:00:00:00:01\" (six two-digit hex \
                     bytes separated by `:` or `-`), found {}",
                    quote_str(text)
                ),
            );
            false
        }
    }
}

impl Section for DeviceSection {
    const NAME: &'static str = "device";
    const REQUIRED: Option<&'static str> =
        Some("add `[device]` with `name = \"EMBER\"` and `mac = \"02:00:00:00:00:01\"`");

    fn impl_items(&self) -> TokenStream {
        let name = &self.name;
        let mac = self
            .mac
            .iter()
            .map(|b| syn::LitInt::new(&format!("0x{b:02x}"), proc_macro2::Span::call_site()));
        quote! {
            const DEVICE_NAME: &'static str = #name;
            const MAC: ::emberstack::wire::EthernetAddress =
                ::emberstack::wire::EthernetAddress([#(#mac),*]);
        }
    }
}

/// A [`Content`](super::key::Content) check of the name's length and
/// characters, reporting each problem.
fn is_name(r: &mut TableReader<'_, '_, '_>, _key: &'static str, name: &str, span: &Span) -> bool {
    let mut ok = true;
    let len = name.chars().count();
    if len == 0 {
        r.error(
            "name",
            span.clone(),
            format!("expected 1 to {MAX_NAME_LEN} characters, found an empty string"),
        );
        return false;
    }
    if len > MAX_NAME_LEN {
        let at = name.char_indices().nth(MAX_NAME_LEN).map_or(0, |(i, _)| i);
        let sub = r.sub_span(span, name, at..name.len());
        r.error(
            "name",
            sub,
            format!(
                "expected at most {MAX_NAME_LEN} characters (a NetBIOS name), found {len} in {}",
                quote_str(name)
            ),
        );
        ok = false;
    }
    if let Some((i, c)) = name
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        let sub = r.sub_span(span, name, i..i + c.len_utf8());
        r.error(
            "name",
            sub,
            format!(
                "expected only ASCII letters, digits, `-` and `_`, found {c:?} in {}",
                quote_str(name)
            ),
        );
        ok = false;
    }
    ok
}

/// Parses `02:00:00:00:00:01` or `02-00-00-00-00-01` (one separator kind).
pub(crate) fn parse_mac(text: &str) -> Result<[u8; 6], ()> {
    let sep = if text.contains('-') { '-' } else { ':' };
    let mut mac = [0u8; 6];
    let mut parts = text.split(sep);
    for byte in &mut mac {
        let part = parts.next().ok_or(())?;
        if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(());
        }
        *byte = u8::from_str_radix(part, 16).map_err(|_| ())?;
    }
    if parts.next().is_some() {
        return Err(());
    }
    Ok(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_syntax() {
        assert_eq!(parse_mac("02:00:00:00:00:02"), Ok([2, 0, 0, 0, 0, 2]));
        assert_eq!(parse_mac("02-AB-cd-00-00-02"), Ok([2, 0xab, 0xcd, 0, 0, 2]));
        assert_eq!(parse_mac("02:00:00:00:00"), Err(()));
        assert_eq!(parse_mac("02:00:00:00:00:00:00"), Err(()));
        assert_eq!(parse_mac("02:00-00:00:00:00"), Err(()));
        assert_eq!(parse_mac("2:0:0:0:0:2"), Err(()));
        assert_eq!(parse_mac("02:00:00:00:00:0g"), Err(()));
        assert_eq!(parse_mac("+2:00:00:00:00:02"), Err(()));
        assert_eq!(parse_mac(""), Err(()));
    }
}
