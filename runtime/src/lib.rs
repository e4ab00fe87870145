//! emberstack: a `no_std`, allocation-free TCP/IP stack for small
//! microcontrollers with an Ethernet controller, configured at build time.
//!
//! The layers, lowest first (a layer only calls down):
//!
//! 1. [`wire`]: stateless, zero-copy parse/emit of the protocol headers and
//!    the incremental internet checksum.
//! 2. [`nic`]: the [`Nic`](nic::Nic) trait. Frames stay in the controller's
//!    memory and are streamed in and out; no frame buffer in MCU RAM.
//! 3. [`iface`]: MAC/IPv4 configuration, the ARP cache, ingress dispatch and
//!    egress framing.
//! 4. transport: [`udp`] and [`tcp`] sockets.
//! 5. protocols, each a state machine advanced by [`Stack::poll`]: the
//!    [`dns`] client, the [`netbios`] name responder, the [`sntp`] client,
//!    the [`dhcp`] client; and the clients and server the application
//!    embeds: [`smtp`] and [`pop3`] (see [`mail`]) and [`http`].
//!
//! A device describes itself in `stack.toml`; `emberstack-codegen` turns that
//! into a [`Config`] implementation with every table sized, and
//! [`include_stack!`] pulls it in.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

pub mod compose;
pub mod config;
pub mod dhcp;
pub mod dns;
pub mod http;
pub mod iface;
pub mod mail;
pub mod mdns;
pub mod netbios;
pub mod nic;
pub mod pop3;
pub mod raw;
pub mod service;
pub mod smtp;
pub mod sntp;
pub mod stack;
pub mod tcp;
pub mod time;
pub mod udp;
pub mod wire;

pub use config::Config;
#[doc(hidden)]
pub use emberstack_macros::__http_bind;
/// Binds the application's dynamic-tag and form handlers (see
/// [`http`]).
pub use emberstack_macros::http_var;
pub use stack::{App, Stack};
pub use time::{Duration, Instant};

/// Pulls in the code `emberstack-codegen` generated from `stack.toml`
/// (the device's [`Config`] type, `Stack` alias and `RAM_BYTES`).
///
/// Call it once at module level in the crate whose `build.rs` ran the
/// generator.
#[macro_export]
macro_rules! include_stack {
    () => {
        include!(concat!(env!("OUT_DIR"), "/emberstack_config.rs"));
    };
    ($file:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $file));
    };
}
