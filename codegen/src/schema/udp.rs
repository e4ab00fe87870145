//! `[udp]`: the UDP socket table.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::Section;
use crate::reader::TableReader;

/// `[udp]` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpSection {
    /// `sockets` (0 to 64, default 4): UDP socket slots; 0 disables UDP.
    pub sockets: usize,
}

impl Default for UdpSection {
    fn default() -> Self {
        UdpSection { sockets: 4 }
    }
}

impl Section for UdpSection {
    const NAME: &'static str = "udp";

    fn parse(r: &mut TableReader<'_, '_, '_>) -> Self {
        let d = UdpSection::default();
        UdpSection {
            sockets: r
                .int("sockets", 0, 64)
                .value()
                .map_or(d.sockets, |(v, _)| v.unsigned_abs() as usize),
        }
    }

    fn impl_items(&self) -> TokenStream {
        let sockets = Literal::usize_unsuffixed(self.sockets);
        quote! {
            type UdpSockets = [::emberstack::udp::UdpSocket; #sockets];
        }
    }
}
