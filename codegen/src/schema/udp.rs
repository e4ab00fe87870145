//! `[udp]`: the UDP socket table.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use serde::Deserialize;

use super::key::Key;
use super::{Schema, Section};

/// `[udp]` settings.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct UdpSection {
    /// `sockets`: UDP socket slots; 0 disables UDP.
    pub sockets: usize,
}

impl Default for UdpSection {
    fn default() -> Self {
        UdpSection { sockets: 4 }
    }
}

impl Schema for UdpSection {
    const KEYS: &'static [&'static [Key]] = &[&[Key::int("sockets", 0, 64)
        .default("4")
        .doc("UDP socket slots (`Config::UdpSockets`); `0` disables UDP.")]];
}

impl Section for UdpSection {
    const NAME: &'static str = "udp";

    fn impl_items(&self) -> TokenStream {
        let sockets = Literal::usize_unsuffixed(self.sockets);
        quote! {
            type UdpSockets = [::emberstack::udp::UdpSocket; #sockets];
        }
    }
}
