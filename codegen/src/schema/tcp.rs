//! `[tcp]`: TCP sockets, windows and timers.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::Section;
use crate::reader::TableReader;

/// `[tcp]` settings. Absent means no TCP (0 sockets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpSection {
    /// `enabled` (default `true` when the section is present).
    pub enabled: bool,
    /// `sockets` (0 to 64, default 4): connections at once, listening
    /// sockets included.
    pub sockets: usize,
    /// `window` (1 to 8 segments, default 1): receive window and segments
    /// in flight.
    pub window: u8,
    /// `mss` (536 to 1460, default 1460): largest segment we accept.
    pub mss: u16,
    /// `retransmission` (`"regenerate"` default, or `"buffer"`).
    pub buffer: bool,
    /// `rto_min_ms` (10 to 60000, default 200).
    pub rto_min_ms: u32,
    /// `rto_max_ms` (100 to 600000, default 60000).
    pub rto_max_ms: u32,
    /// `retries` (1 to 30, default 8).
    pub retries: u8,
    /// `time_wait_ms` (0 to 240000, default 2000).
    pub time_wait_ms: u32,
    /// `idle_timeout_ms` (0 = never, default 0).
    pub idle_timeout_ms: u32,
    /// `keepalive_ms` (0 = off, default 0).
    pub keepalive_ms: u32,
    /// `split` (default true): the delayed-ACK mitigation at window 1.
    pub split: bool,
    /// `when_full` (`"ignore"` default, or `"reset"`).
    pub reset_when_full: bool,
    /// `reclaim_idle_ms` (0 = never, default 10000): a server connection
    /// idle this long may be reset for a new client of a busy port.
    pub reclaim_idle_ms: u32,
}

impl Default for TcpSection {
    fn default() -> Self {
        TcpSection {
            enabled: false,
            sockets: 0,
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

impl TcpSection {
    /// Sockets actually generated (0 when disabled).
    pub fn effective_sockets(&self) -> usize {
        if self.enabled {
            self.sockets
        } else {
            0
        }
    }
}

impl TcpSection {
    /// In-flight segment records per socket, as
    /// `emberstack::tcp::TcpConfig::segments_per_socket` counts them: one
    /// per window slot, one more with `split` at window 1.
    pub fn segments_per_socket(&self) -> usize {
        usize::from(self.window) + usize::from(self.split && self.window == 1)
    }
}

impl Section for TcpSection {
    const NAME: &'static str = "tcp";

    fn parse(r: &mut TableReader<'_, '_, '_>) -> Self {
        let d = TcpSection::default();
        let present = r.is_present();
        let int = |r: &mut TableReader<'_, '_, '_>, key, min, max, def: u32| {
            r.int(key, min, max)
                .value()
                .map_or(def, |(v, _)| u32::try_from(v).unwrap_or(def))
        };
        let s = TcpSection {
            enabled: r.bool("enabled").or(present),
            sockets: int(r, "sockets", 0, 64, 4) as usize,
            window: int(r, "window", 1, 8, 1) as u8,
            mss: int(r, "mss", 536, 1460, 1460) as u16,
            buffer: r
                .choice("retransmission", &["regenerate", "buffer"])
                .or("regenerate")
                == "buffer",
            rto_min_ms: int(r, "rto_min_ms", 10, 60_000, d.rto_min_ms),
            rto_max_ms: d.rto_max_ms,
            retries: int(r, "retries", 1, 30, 8) as u8,
            time_wait_ms: int(r, "time_wait_ms", 0, 240_000, d.time_wait_ms),
            idle_timeout_ms: int(r, "idle_timeout_ms", 0, 86_400_000, 0),
            keepalive_ms: int(r, "keepalive_ms", 0, 86_400_000, 0),
            split: r.bool("split").or(d.split),
            reset_when_full: r.choice("when_full", &["ignore", "reset"]).or("ignore") == "reset",
            reclaim_idle_ms: int(r, "reclaim_idle_ms", 0, 86_400_000, d.reclaim_idle_ms),
        };
        let mut s = s;
        if let Some((v, span)) = r.int("rto_max_ms", 100, 600_000).value() {
            s.rto_max_ms = u32::try_from(v).unwrap_or(d.rto_max_ms);
            if s.rto_max_ms < s.rto_min_ms {
                r.error(
                    "rto_max_ms",
                    span,
                    format!(
                        "must be at least rto_min_ms ({} ms), found {v}",
                        s.rto_min_ms
                    ),
                );
            }
        }
        s
    }

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
