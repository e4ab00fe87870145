//! `[netbios]`: the NetBIOS name responder for `[device] name`.

use proc_macro2::TokenStream;
use quote::quote;

use super::Section;
use crate::reader::TableReader;

/// `[netbios]` settings. The section's presence enables the responder;
/// the name it answers for is `[device] name`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetBiosSection {
    /// The section is present and `enabled` is not `false`.
    pub enabled: bool,
}

impl Section for NetBiosSection {
    const NAME: &'static str = "netbios";

    fn parse(r: &mut TableReader<'_, '_, '_>) -> Self {
        // A common guess: the name is set here. It is `[device] name`.
        if let Some(v) = r.raw("name") {
            let span = v.span();
            r.error(
                "name",
                span,
                "the NetBIOS name is `[device] name`; remove `name` here",
            );
        }
        NetBiosSection {
            enabled: r.is_present() && r.bool("enabled").or(true),
        }
    }

    fn impl_items(&self) -> TokenStream {
        if self.enabled {
            quote!(
                type NetBios = ::emberstack::netbios::NetBiosResponder;
            )
        } else {
            quote!(
                type NetBios = ::emberstack::service::Disabled;
            )
        }
    }
}
