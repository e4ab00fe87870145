//! What the fuzz targets share: a peer on the simulated wire that reads the
//! stack's own output (ARP requests are answered; the last UDP datagram
//! and TCP segment the stack sent are kept, so a target can copy a DHCP
//! xid, a DNS id and port, an SNTP transmit timestamp or TCP sequence
//! numbers into its reply), its frames (built with `emberstack::wire::build`,
//! checksums right), and a
//! cursor over the fuzzer's bytes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

pub mod site;

use emberstack::nic::sim::{Faults, SimNic, SimWire};
use emberstack::wire::build::{arp_reply, Ipv4Frame, TcpHeader};
use emberstack::wire::{arp, tcp, EthernetAddress, Ipv4Address};
use emberstack::{App, Config, Instant, Stack};

/// The device under test.
pub const DUT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
/// Its address (static configurations).
pub const DUT_IP: [u8; 4] = [10, 9, 0, 2];
/// The peer: gateway, DHCP/DNS/NTP server, TCP peer.
pub const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
/// The peer's address.
pub const PEER_IP: [u8; 4] = [10, 9, 0, 1];

/// The fuzzer's bytes, taken from the front; past the end, zeros.
pub struct Bytes<'a>(pub &'a [u8]);

impl<'a> Bytes<'a> {
    /// True when every byte was taken.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// One byte.
    pub fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    /// A big-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    /// Up to `n` bytes.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
    /// `N` bytes (zeros past the end).
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        let src = self.take(N);
        a[..src.len()].copy_from_slice(src);
        a
    }
    /// A length byte (at most `max`), then that many bytes.
    pub fn chunk(&mut self, max: usize) -> &'a [u8] {
        let n = usize::from(self.u8()).min(max);
        self.take(n)
    }
}

/// A deterministic LCG: the application's "random" numbers.
pub fn lcg(state: &mut u32) -> u32 {
    *state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
    *state
}

/// The peer's frames to the device's MAC and `dst` (the header
/// `ipv4::Repr::emit` writes).
fn peer_to(dst: [u8; 4]) -> Ipv4Frame {
    Ipv4Frame::new(
        EthernetAddress(PEER_MAC),
        Ipv4Address(PEER_IP),
        EthernetAddress(DUT_MAC),
        Ipv4Address(dst),
    )
}

/// A UDP datagram in a frame to the device (or, to 255.255.255.255,
/// broadcast), checksum filled in.
pub fn udp_frame(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, data: &[u8]) -> Vec<u8> {
    let mac = if dst == [255; 4] { [0xff; 6] } else { DUT_MAC };
    let frame = Ipv4Frame {
        src_addr: Ipv4Address(src),
        dst_mac: EthernetAddress(mac),
        ..peer_to(dst)
    };
    frame.udp(sport, dport, data)
}

/// A TCP segment from the peer to the device, checksum filled in: the
/// fuzzer's flags byte as it is (any combination), `options` padded to a
/// multiple of 4 (at most 40 bytes).
#[allow(clippy::too_many_arguments)]
pub fn tcp_frame(
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let header = TcpHeader {
        src_port: sport,
        dst_port: dport,
        seq_number: tcp::SeqNumber(seq),
        ack_number: tcp::SeqNumber(ack),
        flags: tcp::Flags(flags),
        window_len: window,
        options: &options[..options.len().min(40)],
    };
    peer_to(DUT_IP).tcp_segment(header.segment(payload))
}

/// A UDP datagram the device sent.
#[derive(Clone, Debug, Default)]
pub struct SentUdp {
    /// Destination address.
    pub dst: [u8; 4],
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Payload.
    pub data: Vec<u8>,
}

/// A TCP segment the device sent.
#[derive(Clone, Copy, Debug, Default)]
pub struct SentTcp {
    /// Source (device) port.
    pub sport: u16,
    /// Destination (peer) port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flags byte.
    pub flags: u8,
    /// Sequence space it occupies (payload + SYN + FIN).
    pub len: u32,
}

/// The stack on one end of a simulated wire, the fuzzer's peer on the
/// other.
pub struct Bench<C: Config, A: App> {
    /// The wire.
    pub wire: SimWire,
    /// The peer's end.
    pub peer: SimNic,
    /// The device's NIC.
    pub nic: SimNic,
    /// The device.
    pub stack: Stack<C>,
    /// The device's application.
    pub app: A,
    /// Virtual milliseconds.
    pub now: u64,
    /// UDP datagrams the device sent (the latest few).
    pub udp: Vec<SentUdp>,
    /// The latest TCP segment the device sent.
    pub tcp: Option<SentTcp>,
}

impl<C: Config, A: App> Bench<C, A> {
    /// A stack with `app` on a fault-free wire.
    pub fn new(app: A) -> Self {
        let wire = SimWire::new(1, Faults::none());
        Bench {
            peer: wire.endpoint(),
            nic: wire.endpoint(),
            wire,
            stack: Stack::new(),
            app,
            now: 0,
            udp: Vec::new(),
            tcp: None,
        }
    }

    /// Hands `frame` to the device and runs it.
    pub fn inject(&mut self, frame: &[u8]) {
        let _ = self.peer.send_frame(frame);
        self.run(1);
    }

    /// Advances time by `ms`, polling the device (bounded) and reading
    /// what it sent.
    pub fn run(&mut self, ms: u64) {
        self.now += ms;
        self.wire.set_now(self.now);
        for _ in 0..64 {
            if !self
                .stack
                .poll(Instant::from_millis(self.now), &mut self.nic, &mut self.app)
            {
                break;
            }
        }
        self.drain();
    }

    /// Reads the device's frames: answers ARP, remembers UDP and TCP.
    pub fn drain(&mut self) {
        let mut asked = Vec::new();
        while let Some(f) = self.peer.recv_frame() {
            if f.len() >= 42 && f[12..14] == [0x08, 0x06] && f[21] == 1 {
                if let Ok(request) = arp::Repr::parse(&arp::Packet::new_unchecked(&f[14..])) {
                    asked.push(request);
                }
            } else if f.len() >= 34 && f[12..14] == [0x08, 0x00] {
                self.note_ipv4(&f[14..]);
            }
        }
        for request in asked {
            let r = arp_reply(
                &request,
                EthernetAddress(PEER_MAC),
                request.target_protocol_addr,
            );
            let _ = self.peer.send_frame(&r);
            for _ in 0..8 {
                if !self
                    .stack
                    .poll(Instant::from_millis(self.now), &mut self.nic, &mut self.app)
                {
                    break;
                }
            }
            while let Some(f) = self.peer.recv_frame() {
                if f.len() >= 34 && f[12..14] == [0x08, 0x00] {
                    self.note_ipv4(&f[14..]);
                }
            }
        }
    }

    fn note_ipv4(&mut self, ip: &[u8]) {
        let hl = usize::from(ip[0] & 15) * 4;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).min(ip.len());
        if hl < 20 || total < hl + 8 {
            return;
        }
        let dst = [ip[16], ip[17], ip[18], ip[19]];
        let l4 = &ip[hl..total];
        match ip[9] {
            17 => {
                if self.udp.len() >= 8 {
                    self.udp.remove(0);
                }
                self.udp.push(SentUdp {
                    dst,
                    sport: u16::from_be_bytes([l4[0], l4[1]]),
                    dport: u16::from_be_bytes([l4[2], l4[3]]),
                    data: l4[8..].to_vec(),
                });
            }
            6 if l4.len() >= 20 => {
                let thl = usize::from(l4[12] >> 4) * 4;
                let flags = l4[13];
                let payload = l4.len().saturating_sub(thl) as u32;
                self.tcp = Some(SentTcp {
                    sport: u16::from_be_bytes([l4[0], l4[1]]),
                    dport: u16::from_be_bytes([l4[2], l4[3]]),
                    seq: u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]),
                    ack: u32::from_be_bytes([l4[8], l4[9], l4[10], l4[11]]),
                    flags,
                    len: payload + u32::from(flags & 0x02 != 0) + u32::from(flags & 0x01 != 0),
                });
            }
            _ => {}
        }
    }

    /// The latest datagram the device sent to port `dport`.
    pub fn last_udp(&self, dport: u16) -> Option<&SentUdp> {
        self.udp.iter().rev().find(|u| u.dport == dport)
    }
}
