//! `[netbios]`: the NetBIOS name responder for `[device] name`.

use proc_macro2::TokenStream;
use quote::quote;

use serde::Deserialize;

use super::key::Key;
use super::{Schema, Section};

/// `[netbios]` settings. The section's presence enables the responder;
/// the name it answers for is `[device] name`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default = "NetBiosSection::present")]
pub struct NetBiosSection {
    /// The section is present and `enabled` is not `false`.
    pub enabled: bool,
}

impl NetBiosSection {
    /// The defaults of a present section.
    fn present() -> Self {
        NetBiosSection { enabled: true }
    }
}

impl Schema for NetBiosSection {
    const KEYS: &'static [&'static [Key]] = &[&[
        // A common guess: the name is set here. It is `[device] name`.
        Key::refused(
            "name",
            "the NetBIOS name is `[device] name`; remove `name` here",
        ),
        Key::bool("enabled")
            .default("true")
            .doc("`false` turns the responder off."),
    ]];

    fn absent(&mut self) {
        self.enabled = false;
    }
}

impl Section for NetBiosSection {
    const NAME: &'static str = "netbios";

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
