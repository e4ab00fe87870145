//! `[arp]`: ARP cache size and entry lifetime.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use serde::Deserialize;

use super::key::Key;
use super::{Schema, Section};

/// `[arp]` settings.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ArpSection {
    /// `entries`: ARP cache slots.
    pub entries: usize,
    /// `lifetime` (seconds): how long an entry stays valid.
    #[serde(rename = "lifetime")]
    pub lifetime_secs: u64,
}

impl Default for ArpSection {
    fn default() -> Self {
        ArpSection {
            entries: 4,
            lifetime_secs: 300,
        }
    }
}

impl Schema for ArpSection {
    const KEYS: &'static [&'static [Key]] = &[&[
        Key::int("entries", 1, 64)
            .default("4")
            .doc("ARP cache slots (`Config::ArpCache`)."),
        Key::int("lifetime", 1, 86_400)
            .unit("seconds")
            .default("300")
            .doc("How long a learned entry stays valid."),
    ]];
}

impl Section for ArpSection {
    const NAME: &'static str = "arp";

    fn impl_items(&self) -> TokenStream {
        let entries = Literal::usize_unsuffixed(self.entries);
        let lifetime = Literal::u64_unsuffixed(self.lifetime_secs);
        quote! {
            const ARP_LIFETIME: ::emberstack::Duration = ::emberstack::Duration::from_secs(#lifetime);
            type ArpCache = [::emberstack::iface::arp::ArpEntry; #entries];
        }
    }
}
