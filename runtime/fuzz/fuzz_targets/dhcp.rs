//! The DHCP client against replies built from its own requests: each
//! reply copies the xid and client hardware address of the client's latest
//! message (so it passes the first checks) and carries the fuzzer's
//! message type, addresses and options, from the server or another host,
//! with correct checksums; time runs between them through renewal,
//! rebinding and expiry. Nothing may panic.
#![no_main]

use emberstack::udp::UdpSocket;
use emberstack::wire::EthernetAddress;
use emberstack::App;
use emberstack_fuzz::{lcg, udp_frame, Bench, Bytes, DUT_MAC, PEER_IP};
use libfuzzer_sys::fuzz_target;

emberstack::test_config! {
    struct Cfg;
    const DEVICE_NAME: &'static str = "FUZZ";
    const MAC: EthernetAddress = EthernetAddress(DUT_MAC);
    const DHCP: bool = true;
    type UdpSockets = [UdpSocket; 1];
    type Dhcp = emberstack::dhcp::DhcpClient<Cfg>;
}
impl emberstack::dhcp::DhcpSettings for Cfg {}

struct Rng(u32);
impl App for Rng {
    fn random_u32(&mut self) -> u32 {
        lcg(&mut self.0)
    }
}

const MAGIC: [u8; 4] = [99, 130, 83, 99];

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes(data);
    let mut b: Bench<Cfg, Rng> = Bench::new(Rng(1));
    b.run(1);
    for _ in 0..64 {
        if input.is_empty() {
            break;
        }
        let op = input.u8();
        if op & 0xc0 == 0xc0 {
            // Time passes: up to about 18 hours in big steps.
            b.run(u64::from(input.u16()) * u64::from(op & 0x3f).max(1) * 16);
            continue;
        }
        // The client's latest message (DISCOVER, REQUEST, RELEASE...).
        let (xid, chaddr) = match b.last_udp(67) {
            Some(m) if m.data.len() >= 44 => (m.data[4..8].to_vec(), m.data[28..44].to_vec()),
            _ => (vec![0; 4], DUT_MAC.iter().copied().chain([0; 10]).collect()),
        };
        let mut m = vec![0u8; 236];
        m[0] = 2; // BOOTREPLY
        m[1] = 1;
        m[2] = 6;
        if op & 1 == 0 {
            m[4..8].copy_from_slice(&xid);
        } else {
            m[4..8].copy_from_slice(&input.array::<4>());
        }
        m[10] = input.u8() & 0x80; // flags: broadcast
                                   // yiaddr (usually on 10.9.0.x) and siaddr.
        m[16..20].copy_from_slice(&[10, 9, 0, input.u8()]);
        m[20..24].copy_from_slice(&PEER_IP);
        m[28..44].copy_from_slice(&chaddr);
        m.extend_from_slice(&MAGIC);
        if op & 2 == 0 {
            // A message type (1..=8) and the server id first, so the
            // client goes deep; then the fuzzer's options.
            m.extend_from_slice(&[53, 1, 1 + input.u8() % 8, 54, 4]);
            m.extend_from_slice(&PEER_IP);
            for (code, len) in [
                (1u8, 4u8),
                (3, 4),
                (6, 4),
                (42, 4),
                (51, 4),
                (58, 4),
                (59, 4),
            ] {
                if input.u8() & 1 == 1 {
                    m.extend_from_slice(&[code, len]);
                    m.extend_from_slice(input.take(usize::from(len)));
                }
            }
        }
        m.extend_from_slice(input.chunk(200));
        if op & 4 == 0 {
            m.push(255);
        }
        let src = if op & 8 == 0 { PEER_IP } else { [10, 9, 0, 3] };
        let dst = if op & 16 == 0 {
            [255; 4]
        } else {
            [10, 9, 0, m[19]]
        };
        let sport = if op & 32 == 0 { 67 } else { 1067 };
        b.inject(&udp_frame(src, sport, dst, 68, &m));
        b.run(u64::from(input.u8()) * 10);
    }
});
