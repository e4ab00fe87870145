//! emberstack: a `no_std`, allocation-free TCP/IP stack for small
//! microcontrollers with an Ethernet controller, configured at build time.
//!
//! The layers, lowest first (a layer only uses its own and lower ones;
//! `tests/layers.rs` checks every `crate::` path):
//!
//! 1. [`wire`] and [`time`]: stateless, zero-copy parse/emit of the
//!    protocol headers, the incremental internet checksum; the clock types.
//! 2. [`nic`]: the [`Nic`](nic::Nic) trait. Frames stay in the controller's
//!    memory and are streamed in and out; no frame buffer in MCU RAM.
//! 3. [`iface`]: MAC/IPv4 configuration, the ARP cache, ingress dispatch and
//!    egress framing. Ingress handing a packet to the transport's sockets
//!    is the one call up.
//! 4. transport: [`udp`], [`tcp`] and [`raw`] sockets.
//! 5. services, each a state machine advanced by [`Stack::poll`]: the
//!    [`dhcp`] client, the [`dns`] client, the [`netbios`] and [`mdns`]
//!    responders, the [`sntp`] client; with them ([`service`]) the
//!    application's [`App`] and the [`Event`](service::Event)s it hears.
//! 6. [`Stack`] and its [`Config`].
//! 7. what the application embeds and drives with the `Stack`: the
//!    [`http`] server and the [`smtp`] and [`pop3`] clients (see [`mail`]).
//!
//! A device describes itself in `stack.toml`; `emberstack-codegen` turns that
//! into a [`Config`] implementation with every table sized, and
//! [`include_stack!`] pulls it in.
//!
//! # Arithmetic
//!
//! No panic may be reachable from the network, so clippy's
//! `arithmetic_side_effects` (with `indexing_slicing`, `unwrap_used`...)
//! denies plain `+ - *` in the runtime (`Cargo.toml`, `[lints.clippy]`).
//! Which operation replaces it depends on where the value comes from:
//!
//! - **Bounded by construction** — an offset or length inside a frame of at
//!   most 1,514 bytes whose parts were checked against the frame (`hlen ≤
//!   total` once the header is parsed), header lengths (IPv4 ≤ 60, TCP ≤
//!   60), configured table sizes, loop counters below a slice length:
//!   `wrapping_*`, with a comment naming the bound (`// Bounded: ...`)
//!   next to the operation or where the value is declared. The wrapping
//!   operation compiles to the bare instruction; it never wraps because of
//!   the bound, and would not panic if a bound were ever wrong.
//! - **Modular by definition** — TCP sequence numbers, the millisecond
//!   clock ([`time`]: compared by wrapping difference, deadlines at most
//!   2^31 ms ahead), checksums, statistics counters meant to wrap:
//!   `wrapping_*`, always.
//! - **From input** — anything read from a packet or handed in by the
//!   application before it is checked (a length field, a lease time, an
//!   option value, a configured timeout): `checked_*` (and a typed error or
//!   a drop when it fails) or `saturating_*` where a clamp is the right
//!   answer (a window, a backoff, a retry count), and `get()` for indexing.
//!   After the check the value is bounded, and the first rule applies.
//!
//! Division and remainder by a constant other than zero are plain.
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
pub mod table;
pub mod tcp;
pub mod time;
pub mod udp;
pub mod wire;

pub use config::Config;
#[doc(hidden)]
pub use emberstack_macros::__http_bind;
#[doc(hidden)]
pub use emberstack_macros::__impl_with_defaults;
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
