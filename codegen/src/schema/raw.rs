//! `[raw]`: raw IPv4 sockets (IP protocols the stack does not handle).

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::Section;
use crate::reader::TableReader;

/// `[raw]` settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawSection {
    /// `sockets` (0 to 16; 1 when the section is present without it, 0
    /// without the section): raw socket slots, each open for one IP
    /// protocol number at a time. 0: no raw sockets, no code.
    pub sockets: usize,
}

impl Section for RawSection {
    const NAME: &'static str = "raw";

    fn parse(r: &mut TableReader<'_, '_, '_>) -> Self {
        let present = r.is_present();
        RawSection {
            sockets: r
                .int("sockets", 0, 16)
                .value()
                .map_or(usize::from(present), |(v, _)| v.unsigned_abs() as usize),
        }
    }

    fn impl_items(&self) -> TokenStream {
        let sockets = Literal::usize_unsuffixed(self.sockets);
        quote! {
            type RawSockets = [::emberstack::raw::RawSocket; #sockets];
        }
    }
}
