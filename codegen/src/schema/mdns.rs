//! `[mdns]`: the mDNS responder (RFC 6762), so `<name>.local` resolves.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use serde::Deserialize;

use super::key::Key;
use super::{Schema, Section};

/// `[mdns]` settings.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default = "MdnsSection::present")]
pub struct MdnsSection {
    /// The section is present and `enabled` is not `false`.
    pub enabled: bool,
    /// `ttl` (seconds): the A record's TTL in answers and announcements
    /// (RFC 6762 §10: 120 s for host records).
    pub ttl: u32,
}

impl Default for MdnsSection {
    /// Without the section: off.
    fn default() -> Self {
        MdnsSection {
            enabled: false,
            ..MdnsSection::present()
        }
    }
}

impl MdnsSection {
    /// The defaults of a present section.
    fn present() -> Self {
        MdnsSection {
            enabled: true,
            ttl: 120,
        }
    }
}

impl Schema for MdnsSection {
    const KEYS: &'static [&'static [Key]] = &[&[
        Key::bool("enabled")
            .default("true")
            .doc("`false` turns the responder off."),
        Key::int("ttl", 1, 3600).unit("seconds").default("120").doc(
            "TTL of the A record in answers and announcements (RFC 6762 §10: 120 s for host \
             names); answers to legacy resolvers (not from port 5353) get at most 10 s (§6.7).",
        ),
    ]];

    fn absent(&mut self) {
        self.enabled = false;
    }
}

impl MdnsSection {
    /// Items outside the `impl Config`: the responder's settings.
    pub(crate) fn settings_impl(&self) -> TokenStream {
        if !self.enabled {
            return TokenStream::new();
        }
        let ttl = Literal::u32_unsuffixed(self.ttl);
        quote! {
            impl ::emberstack::mdns::MdnsSettings for Device {
                const TTL: u32 = #ttl;
            }
        }
    }
}

impl Section for MdnsSection {
    const NAME: &'static str = "mdns";

    fn impl_items(&self) -> TokenStream {
        if self.enabled {
            quote!(
                type Mdns = ::emberstack::mdns::MdnsResponder<Device>;
            )
        } else {
            quote!(
                type Mdns = ::emberstack::service::Disabled;
            )
        }
    }
}
