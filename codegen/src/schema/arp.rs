//! `[arp]`: ARP cache size and entry lifetime.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::Section;
use crate::reader::TableReader;

/// `[arp]` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArpSection {
    /// `entries` (1 to 64, default 4): ARP cache slots.
    pub entries: usize,
    /// `lifetime` (seconds, 1 to 86400, default 300): how long an entry
    /// stays valid.
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

impl Section for ArpSection {
    const NAME: &'static str = "arp";

    fn parse(r: &mut TableReader<'_, '_, '_>) -> Self {
        let d = ArpSection::default();
        ArpSection {
            entries: r
                .int("entries", 1, 64)
                .value()
                .map_or(d.entries, |(v, _)| v.unsigned_abs() as usize),
            lifetime_secs: r
                .int("lifetime", 1, 86_400)
                .value()
                .map_or(d.lifetime_secs, |(v, _)| v.unsigned_abs()),
        }
    }

    fn impl_items(&self) -> TokenStream {
        let entries = Literal::usize_unsuffixed(self.entries);
        let lifetime = Literal::u64_unsuffixed(self.lifetime_secs);
        quote! {
            const ARP_LIFETIME: ::emberstack::Duration = ::emberstack::Duration::from_secs(#lifetime);
            type ArpCache = [::emberstack::iface::arp::ArpEntry; #entries];
        }
    }
}
