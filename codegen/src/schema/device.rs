//! `[device]`: the device's name and MAC address (both required).

use proc_macro2::TokenStream;
use quote::quote;

use super::Section;
use crate::reader::{quote_str, Field, TableReader};

/// Longest device name: a NetBIOS name has 15 characters.
pub const MAX_NAME_LEN: usize = 15;

/// `[device]` settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceSection {
    /// `name`: NetBIOS name and DHCP hostname, 1 to 15 ASCII letters,
    /// digits, `-` or `_`.
    pub name: String,
    /// `mac`: the unicast MAC address used when the NIC has none of its own.
    pub mac: [u8; 6],
}

impl Section for DeviceSection {
    const NAME: &'static str = "device";
    const REQUIRED: Option<&'static str> =
        Some("add `[device]` with `name = \"EMBER\"` and `mac = \"02:00:00:00:00:01\"`");

    fn parse(r: &mut TableReader<'_, '_, '_>) -> Self {
        let mut out = DeviceSection::default();
        match r.string(
            "name",
            "a string of 1 to 15 ASCII letters, digits, `-` or `_`",
        ) {
            Field::Value(name, span) => {
                if check_name(r, &name, &span) {
                    out.name = name;
                }
            }
            Field::Absent => r.missing("name", "expected the device name, e.g. `name = \"EMBER\"`"),
            Field::Invalid => {}
        }
        match r.string("mac", "a MAC address like \"02:00:00:00:00:01\"") {
            Field::Value(text, span) => match parse_mac(&text) {
                Ok(mac) if mac == [0; 6] => {
                    r.error(
                        "mac",
                        span,
                        format!("expected a non-zero address, found {}", quote_str(&text)),
                    );
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
                        "mac",
                        span,
                        format!(
                            "expected a unicast address (lowest bit of the first byte clear), \
                             found multicast {}; did you mean \"{suggestion}\"?",
                            quote_str(&text)
                        ),
                    );
                }
                Ok(mac) => out.mac = mac,
                Err(()) => r.error(
                    "mac",
                    span,
                    format!(
                        "expected a MAC address like \"02:00:00:00:00:01\" (six two-digit hex \
                         bytes separated by `:` or `-`), found {}",
                        quote_str(&text)
                    ),
                ),
            },
            Field::Absent => r.missing(
                "mac",
                "expected the MAC address, e.g. `mac = \"02:00:00:00:00:01\"`",
            ),
            Field::Invalid => {}
        }
        out
    }

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

/// Checks the name's length and characters, reporting each problem.
fn check_name(r: &mut TableReader<'_, '_, '_>, name: &str, span: &crate::diag::Span) -> bool {
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
