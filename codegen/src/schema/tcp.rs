//! `[tcp]`: TCP sockets, windows and timers.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use serde::{Deserialize, Deserializer};

use super::key::Key;
use super::{Schema, Section};
use crate::reader::TableReader;

/// `[tcp]` settings. Absent means no TCP (0 sockets).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default = "TcpSection::present")]
pub struct TcpSection {
    /// `enabled` (`true` when the section is present).
    pub enabled: bool,
    /// `sockets`: connections at once, listening sockets included.
    pub sockets: usize,
    /// `window` (segments): receive window and segments in flight.
    pub window: u8,
    /// `mss`: largest segment we accept.
    pub mss: u16,
    /// `retransmission = "buffer"` (not `"regenerate"`).
    #[serde(rename = "retransmission", deserialize_with = "is_buffer")]
    pub buffer: bool,
    /// `rto_min_ms`: smallest retransmission timeout.
    pub rto_min_ms: u32,
    /// `rto_max_ms`: largest retransmission timeout.
    pub rto_max_ms: u32,
    /// `retries`: retransmissions of one segment before giving up.
    pub retries: u8,
    /// `time_wait_ms`: TIME-WAIT length.
    pub time_wait_ms: u32,
    /// `idle_timeout_ms` (0 = never).
    pub idle_timeout_ms: u32,
    /// `keepalive_ms` (0 = off).
    pub keepalive_ms: u32,
    /// `split`: the delayed-ACK mitigation at window 1.
    pub split: bool,
    /// `when_full = "reset"` (not `"ignore"`).
    #[serde(rename = "when_full", deserialize_with = "is_reset")]
    pub reset_when_full: bool,
    /// `reclaim_idle_ms` (0 = never): a server connection idle this long
    /// may be reset for a new client of a busy port.
    pub reclaim_idle_ms: u32,
}

impl Default for TcpSection {
    /// No `[tcp]`: no sockets.
    fn default() -> Self {
        TcpSection {
            enabled: false,
            sockets: 0,
            ..TcpSection::present()
        }
    }
}

impl TcpSection {
    /// The defaults of a `[tcp]` section.
    fn present() -> Self {
        TcpSection {
            enabled: true,
            sockets: 4,
            window: 1,
            mss: 1460,
            buffer: false,
            rto_min_ms: 200,
            rto_max_ms: 60_000,
            retries: 8,
            time_wait_ms: 2_000,
            idle_timeout_ms: 0,
            keepalive_ms: 0,
            split: true,
            reset_when_full: false,
            reclaim_idle_ms: 10_000,
        }
    }
}

/// `retransmission`: whether it is `"buffer"` (checked to be one of
/// `RETRANSMISSION` before).
fn is_buffer<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(String::deserialize(d)? == "buffer")
}

/// `when_full`: whether it is `"reset"`.
fn is_reset<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(String::deserialize(d)? == "reset")
}

impl Schema for TcpSection {
    const KEYS: &'static [&'static [Key]] = &[&[
        Key::bool("enabled")
            .default_text("`true` when present")
            .doc("`false` turns TCP off without deleting the section."),
        Key::int("sockets", 0, 64)
            .default("4")
            .doc("Connections at once, listening sockets included (each ≈ 68 bytes)."),
        Key::int("window", 1, 8).unit("segments").default("1").doc(
            "Receive window (`window × mss` bytes advertised, less when the owner has less \
             room) and segments kept in flight.",
        ),
        Key::int("mss", 536, 1460)
            .unit("bytes")
            .default("1460")
            .doc("Largest segment we accept and send."),
        Key::choice("retransmission", &["regenerate", "buffer"])
            .default("\"regenerate\"")
            .doc(
                "`regenerate`: the owner produces a lost segment again (no copy kept; 4 bytes \
                 per in-flight segment for its length and, in debug builds, checksum). \
                 `buffer`: the stack keeps `window × mss` bytes per socket and resends by \
                 itself.",
            ),
        Key::bool("split").default("true").doc(
            "The delayed-ACK mitigation, at `window = 1` only: when more than a segment is \
             queued and one would be alone in flight, it goes as two halves, so a delayed-ACK \
             receiver (Linux, Windows) ACKs at once. One more 4-byte segment record per socket \
             at window 1; nothing at larger windows (two full segments are in flight anyway).",
        ),
        Key::int("rto_min_ms", 10, 60_000)
            .unit("ms")
            .default("200")
            .doc("Smallest retransmission timeout (RFC 6298 says 1 s; LANs do better lower)."),
        Key::int("rto_max_ms", 100, 600_000)
            .unit("ms")
            .default("60000")
            .range_more("at least `rto_min_ms`")
            .doc("Largest retransmission timeout (backoff cap)."),
        Key::int("retries", 1, 30).default("8").doc(
            "Retransmissions of one segment before the connection gives up \
             (`TcpEvent::TimedOut`).",
        ),
        Key::int("time_wait_ms", 0, 240_000)
            .unit("ms")
            .default("2000")
            .doc(
                "TIME-WAIT length (RFC 9293's 2 MSL is 4 min; a small device cannot hold \
                 sockets that long).",
            ),
        Key::int("idle_timeout_ms", 0, 86_400_000)
            .unit("ms")
            .default("0")
            .doc("Close a connection that received nothing for this long (0 = never)."),
        Key::int("keepalive_ms", 0, 86_400_000)
            .unit("ms")
            .default("0")
            .doc("Send a keep-alive probe after this long without traffic (0 = off)."),
        Key::choice("when_full", &["ignore", "reset"])
            .default("\"ignore\"")
            .doc(
                "A SYN for a port whose listening sockets are all busy, when none can be \
                 recycled (TIME-WAIT, a stale half-open one, one idle for `reclaim_idle_ms`): \
                 remembered — one per stack — and answered the moment a socket of the port \
                 frees, while the port's quietest connection is asked to finish \
                 (`TcpEvent::Contended`); or answered with RST.",
            ),
        Key::int("reclaim_idle_ms", 0, 86_400_000)
            .unit("ms")
            .default("10000")
            .doc(
                "A server connection that received nothing for this long is reset \
                 (`TcpEvent::Reclaimed`) when a new client of its port finds every socket busy \
                 (0 = never): an idle client cannot hold a service's only socket while others \
                 wait.",
            ),
    ]];

    fn check(&mut self, r: &mut TableReader<'_, '_, '_>) {
        if let Some(span) = r.span("rto_max_ms") {
            if self.rto_max_ms < self.rto_min_ms {
                r.error(
                    "rto_max_ms",
                    span,
                    format!(
                        "must be at least rto_min_ms ({} ms), found {}",
                        self.rto_min_ms, self.rto_max_ms
                    ),
                );
            }
        }
    }

    fn absent(&mut self) {
        self.enabled = false;
    }
}

impl TcpSection {
    /// Sockets actually generated (0 when disabled).
    pub fn effective_sockets(&self) -> usize {
        if self.enabled {
            self.sockets
        } else {
            0
        }
    }

    /// In-flight segment records per socket, as
    /// `emberstack::tcp::TcpConfig::segments_per_socket` counts them: one
    /// per window slot, one more with `split` at window 1.
    pub fn segments_per_socket(&self) -> usize {
        usize::from(self.window) + usize::from(self.split && self.window == 1)
    }
}

impl Section for TcpSection {
    const NAME: &'static str = "tcp";

    fn impl_items(&self) -> TokenStream {
        let sockets = self.effective_sockets();
        let per_seg = self.segments_per_socket();
        let per_buf = if self.buffer {
            usize::from(self.window) * usize::from(self.mss)
        } else {
            0
        };
        let n = Literal::usize_unsuffixed(sockets);
        let segs = Literal::usize_unsuffixed(sockets * per_seg);
        let buf = Literal::usize_unsuffixed(sockets * per_buf);
        let mss = Literal::u16_unsuffixed(self.mss);
        let window = Literal::u8_unsuffixed(self.window);
        let retrans = if self.buffer {
            quote!(::emberstack::tcp::Retransmission::Buffer)
        } else {
            quote!(::emberstack::tcp::Retransmission::Regenerate)
        };
        let (rmin, rmax, tw, idle, ka) = (
            Literal::u32_unsuffixed(self.rto_min_ms),
            Literal::u32_unsuffixed(self.rto_max_ms),
            Literal::u32_unsuffixed(self.time_wait_ms),
            Literal::u32_unsuffixed(self.idle_timeout_ms),
            Literal::u32_unsuffixed(self.keepalive_ms),
        );
        let retries = Literal::u8_unsuffixed(self.retries);
        let reclaim = Literal::u32_unsuffixed(self.reclaim_idle_ms);
        let split = self.split;
        let full = if self.reset_when_full {
            quote!(::emberstack::tcp::WhenFull::Reset)
        } else {
            quote!(::emberstack::tcp::WhenFull::Ignore)
        };
        quote! {
            const TCP: ::emberstack::tcp::TcpConfig = ::emberstack::tcp::TcpConfig {
                mss: #mss,
                window: #window,
                retransmission: #retrans,
                rto_min_ms: #rmin,
                rto_max_ms: #rmax,
                retries: #retries,
                time_wait_ms: #tw,
                idle_timeout_ms: #idle,
                keepalive_ms: #ka,
                split: #split,
                when_full: #full,
                reclaim_idle_ms: #reclaim,
            };
            type TcpSockets = [::emberstack::tcp::TcpSocket; #n];
            type TcpSegments = [::emberstack::tcp::SentSegment; #segs];
            type TcpBuffer = [u8; #buf];
        }
    }
}
