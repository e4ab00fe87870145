//! `[mdns]`: the mDNS responder (RFC 6762), so `<name>.local` resolves.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::Section;
use crate::reader::TableReader;

/// `[mdns]` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MdnsSection {
    /// The section is present and `enabled` is not `false`.
    pub enabled: bool,
    /// `ttl` (seconds, 1 to 3600, default 120): the A record's TTL in
    /// answers and announcements (RFC 6762 §10: 120 s for host records).
    pub ttl: u32,
}

impl Default for MdnsSection {
    fn default() -> Self {
        MdnsSection {
            enabled: false,
            ttl: 120,
        }
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

    fn parse(r: &mut TableReader<'_, '_, '_>) -> Self {
        let d = MdnsSection::default();
        let enabled = r.is_present() && r.bool("enabled").or(true);
        let ttl = r
            .int("ttl", 1, 3600)
            .value()
            .map_or(d.ttl, |(v, _)| u32::try_from(v).unwrap_or(d.ttl));
        MdnsSection { enabled, ttl }
    }

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
