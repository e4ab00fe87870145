//! `[raw]`: raw IPv4 sockets (IP protocols the stack does not handle).

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use serde::Deserialize;

use super::key::Key;
use super::{Schema, Section};

/// `[raw]` settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default = "RawSection::present")]
pub struct RawSection {
    /// `sockets`: raw socket slots, each open for one IP protocol number
    /// at a time (1 when the section is present without it, 0 without the
    /// section). 0: no raw sockets, no code.
    pub sockets: usize,
}

impl RawSection {
    /// The defaults of a present section.
    fn present() -> Self {
        RawSection { sockets: 1 }
    }
}

impl Schema for RawSection {
    const KEYS: &'static [&'static [Key]] = &[&[Key::int("sockets", 0, 16)
        .default_text("`1` with the section, `0` without")
        .doc("Raw socket slots (`Config::RawSockets`, 2 bytes each).")]];

    fn absent(&mut self) {
        self.sockets = 0;
    }
}

impl Section for RawSection {
    const NAME: &'static str = "raw";

    fn impl_items(&self) -> TokenStream {
        let sockets = Literal::usize_unsuffixed(self.sockets);
        quote! {
            type RawSockets = [::emberstack::raw::RawSocket; #sockets];
        }
    }
}
