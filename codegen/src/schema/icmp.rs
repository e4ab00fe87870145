//! `[icmp]`: answering ICMP echo (ping).

use proc_macro2::TokenStream;
use quote::quote;

use serde::Deserialize;

use super::key::Key;
use super::{Schema, Section};

/// `[icmp]` settings.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct IcmpSection {
    /// `echo`: answer ICMP echo requests.
    pub echo: bool,
}

impl Default for IcmpSection {
    fn default() -> Self {
        IcmpSection { echo: true }
    }
}

impl Schema for IcmpSection {
    const KEYS: &'static [&'static [Key]] = &[&[Key::bool("echo")
        .default("true")
        .doc("Answer ICMP echo requests (ping).")]];
}

impl Section for IcmpSection {
    const NAME: &'static str = "icmp";

    fn impl_items(&self) -> TokenStream {
        let echo = self.echo;
        quote! {
            const ICMP_ECHO: bool = #echo;
        }
    }
}
