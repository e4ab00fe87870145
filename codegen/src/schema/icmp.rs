//! `[icmp]`: answering ICMP echo (ping).

use proc_macro2::TokenStream;
use quote::quote;

use super::Section;
use crate::reader::TableReader;

/// `[icmp]` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcmpSection {
    /// `echo` (default `true`): answer ICMP echo requests.
    pub echo: bool,
}

impl Default for IcmpSection {
    fn default() -> Self {
        IcmpSection { echo: true }
    }
}

impl Section for IcmpSection {
    const NAME: &'static str = "icmp";

    fn parse(r: &mut TableReader<'_, '_, '_>) -> Self {
        IcmpSection {
            echo: r.bool("echo").or(true),
        }
    }

    fn impl_items(&self) -> TokenStream {
        let echo = self.echo;
        quote! {
            const ICMP_ECHO: bool = #echo;
        }
    }
}
