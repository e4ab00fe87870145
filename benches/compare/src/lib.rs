//! Helpers shared by the benchmark programs: the payload pattern and CRC the
//! reference device uses (so the driver checks both stacks the same way),
//! and a small builder/parser for the Ethernet/IPv4/TCP frames of the
//! instruction benchmark — written out here so neither stack's own wire code
//! builds the frames the two are measured on.

/// The TCP maximum segment size on Ethernet, both stacks.
pub const MSS: usize = 1460;

/// The sender's byte at offset `i` (as the reference device's `--tcp-send`).
pub fn pattern_byte(i: u64) -> u8 {
    (i % 251) as u8
}

/// CRC-32 (IEEE 802.3, as zlib), updated with `bytes` (as the device's
/// discard service, so the driver compares the logged values).
pub fn crc32_update(crc: u32, bytes: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in bytes {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// TCP flag bits.
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// What [`parse_tcp`] finds in a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpInfo {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flags byte.
    pub flags: u8,
    /// Advertised window (unscaled).
    pub window: u16,
    /// Payload bytes.
    pub payload_len: usize,
}

/// Parses an Ethernet/IPv4/TCP frame (no options checks, no checksums: the
/// frames come from a stack under test, not from a network).
pub fn parse_tcp(frame: &[u8]) -> Option<TcpInfo> {
    if frame.len() < 54 || frame[12..14] != [0x08, 0x00] || frame[23] != 6 {
        return None;
    }
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
    let t = frame.get(14 + ihl..14 + total)?;
    let doff = usize::from(t.get(12)? >> 4) * 4;
    Some(TcpInfo {
        src_port: u16::from_be_bytes([t[0], t[1]]),
        dst_port: u16::from_be_bytes([t[2], t[3]]),
        seq: u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
        ack: u32::from_be_bytes([t[8], t[9], t[10], t[11]]),
        flags: t[13],
        window: u16::from_be_bytes([t[14], t[15]]),
        payload_len: t.len().checked_sub(doff)?,
    })
}

/// The sequence range `(seq, end)` of a frame's TCP data (FIN counted), or
/// `None` for anything else (ACKs, SYNs, other protocols).
pub fn tcp_data_seq(frame: &[u8]) -> Option<(u32, u32)> {
    let t = parse_tcp(frame)?;
    let len = t.payload_len as u32 + u32::from(t.flags & flags::FIN != 0);
    (len > 0 && t.flags & flags::SYN == 0).then(|| (t.seq, t.seq.wrapping_add(len)))
}

/// One end of the simulated connection: the peer that talks to the stack
/// under test, with the addresses both stacks are configured with.
#[derive(Clone, Copy, Debug)]
pub struct Peer {
    /// The peer's MAC.
    pub mac: [u8; 6],
    /// The peer's IPv4 address.
    pub ip: [u8; 4],
    /// The peer's port.
    pub port: u16,
    /// The stack's MAC.
    pub stack_mac: [u8; 6],
    /// The stack's IPv4 address.
    pub stack_ip: [u8; 4],
    /// The stack's port.
    pub stack_port: u16,
}

fn sum16(mut acc: u32, bytes: &[u8]) -> u32 {
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = chunks.remainder() {
        acc += u32::from(*b) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

impl Peer {
    /// An ARP request from the peer for the stack's address (so both stacks
    /// learn the peer's MAC before the measured part).
    pub fn arp_request(&self) -> Vec<u8> {
        let mut f = Vec::with_capacity(60);
        f.extend_from_slice(&[0xff; 6]);
        f.extend_from_slice(&self.mac);
        f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&self.mac);
        f.extend_from_slice(&self.ip);
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&self.stack_ip);
        f.resize(60, 0);
        f
    }

    /// A TCP segment from the peer to the stack, checksums filled in.
    /// `mss` adds the MSS option (for a SYN).
    pub fn tcp(
        &self,
        seq: u32,
        ack: u32,
        fl: u8,
        window: u16,
        mss: Option<u16>,
        payload: &[u8],
    ) -> Vec<u8> {
        let opt_len = if mss.is_some() { 4 } else { 0 };
        let tcp_len = 20 + opt_len + payload.len();
        let ip_len = 20 + tcp_len;
        let mut f = Vec::with_capacity(14 + ip_len);
        f.extend_from_slice(&self.stack_mac);
        f.extend_from_slice(&self.mac);
        f.extend_from_slice(&[0x08, 0x00]);
        // IPv4 header, DF, TTL 64.
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
        ip[6] = 0x40;
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&self.ip);
        ip[16..20].copy_from_slice(&self.stack_ip);
        let c = fold(sum16(0, &ip));
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&ip);
        let start = f.len();
        f.extend_from_slice(&self.port.to_be_bytes());
        f.extend_from_slice(&self.stack_port.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&ack.to_be_bytes());
        f.push(((20 + opt_len) as u8 / 4) << 4);
        f.push(fl);
        f.extend_from_slice(&window.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0]);
        if let Some(m) = mss {
            f.extend_from_slice(&[2, 4]);
            f.extend_from_slice(&m.to_be_bytes());
        }
        f.extend_from_slice(payload);
        let mut pseudo = [0u8; 12];
        pseudo[0..4].copy_from_slice(&self.ip);
        pseudo[4..8].copy_from_slice(&self.stack_ip);
        pseudo[9] = 6;
        pseudo[10..12].copy_from_slice(&(tcp_len as u16).to_be_bytes());
        let c = fold(sum16(sum16(0, &pseudo), &f[start..]));
        f[start + 16..start + 18].copy_from_slice(&c.to_be_bytes());
        if f.len() < 60 {
            f.resize(60, 0);
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32_update(0, b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn built_segment_parses_back() {
        let p = Peer {
            mac: [2, 0, 0, 0, 0, 1],
            ip: [10, 0, 0, 1],
            port: 40000,
            stack_mac: [2, 0, 0, 0, 0, 2],
            stack_ip: [10, 0, 0, 2],
            stack_port: 9,
        };
        let f = p.tcp(100, 200, flags::ACK | flags::PSH, 1000, None, &[7; 33]);
        let t = parse_tcp(&f).unwrap();
        assert_eq!((t.seq, t.ack, t.payload_len, t.dst_port), (100, 200, 33, 9));
        assert_eq!(tcp_data_seq(&f), Some((100, 133)));
        // The IPv4 and TCP checksums verify (sum to 0xffff).
        assert_eq!(fold(sum16(0, &f[14..34])), 0);
    }
}
