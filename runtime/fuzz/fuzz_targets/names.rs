//! The DNS client, the SNTP client and the NetBIOS responder against
//! replies built from their own requests: a DNS reply carries the query's
//! id, goes to its port and (usually) repeats its question, then the
//! fuzzer's flags, counts and records; an SNTP reply carries the request's
//! transmit timestamp as its originate; NetBIOS gets whole datagrams. New
//! queries start as old ones finish. Nothing may panic.
#![no_main]

use core::task::Poll;
use emberstack::config::StaticIpv4;
use emberstack::dns::{DnsClient, QueryType};
use emberstack::netbios::NetBiosResponder;
use emberstack::sntp::SntpClient;
use emberstack::udp::UdpSocket;
use emberstack::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};
use emberstack::{App, Duration};
use emberstack_fuzz::{lcg, udp_frame, Bench, Bytes, DUT_IP, DUT_MAC, PEER_IP};
use libfuzzer_sys::fuzz_target;

emberstack::test_config! {
    struct Cfg;
    const DEVICE_NAME: &'static str = "FUZZ";
    const MAC: EthernetAddress = EthernetAddress(DUT_MAC);
    const STATIC_IPV4: Option<StaticIpv4> = Some(StaticIpv4 {
        cidr: Ipv4Cidr::new(Ipv4Address(DUT_IP), 24),
        gateway: Some(Ipv4Address(PEER_IP)),
        dns: Some(Ipv4Address(PEER_IP)),
    });
    const ARP_LIFETIME: Duration = Duration::from_secs(600);
    type UdpSockets = [UdpSocket; 4];
    type Dns = DnsClient<2, 64>;
    type NetBios = NetBiosResponder;
    type Sntp = SntpClient<64>;
}

struct Rng(u32);
impl App for Rng {
    fn random_u32(&mut self) -> u32 {
        lcg(&mut self.0)
    }
}

const NAMES: [&str; 4] = ["example.com", "a.b.test.lan", "mx.test", "x"];

/// The end of the question in a DNS message (after its name, type, class).
fn question_end(q: &[u8]) -> usize {
    let mut at = 12;
    while at < q.len() && q[at] != 0 {
        at += 1 + usize::from(q[at]);
    }
    (at + 5).min(q.len())
}

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes(data);
    let mut b: Bench<Cfg, Rng> = Bench::new(Rng(1));
    let mut queries = Vec::new();
    let _ = b.stack.sntp().request("10.9.0.1");
    for _ in 0..48 {
        if input.is_empty() {
            break;
        }
        // Keep two queries running.
        queries.retain(|&q| {
            let done = !matches!(b.stack.dns().result(q), Poll::Pending);
            if done {
                b.stack.dns().release(q);
            }
            !done
        });
        while queries.len() < 2 {
            let n = usize::from(input.u8());
            let kind = if n & 4 == 0 {
                QueryType::A
            } else {
                QueryType::Mx
            };
            match b.stack.dns().query(NAMES[n % 4], kind) {
                Ok(q) => queries.push(q),
                Err(_) => break,
            }
        }
        b.run(1);
        let op = input.u8();
        match op % 8 {
            0..=3 => {
                let Some(q) = b.last_udp(53).cloned() else {
                    continue;
                };
                let mut m = Vec::new();
                m.extend_from_slice(&q.data[..2.min(q.data.len())]);
                m.extend_from_slice(&[0x81 | (input.u8() & 0x7e), input.u8()]);
                if op & 8 == 0 {
                    // The question echoed, then counts and records.
                    m.extend_from_slice(&[0, 1]);
                    m.extend_from_slice(input.take(6));
                    let end = question_end(&q.data);
                    m.extend_from_slice(&q.data[12.min(end)..end]);
                } else {
                    m.extend_from_slice(input.take(8));
                }
                m.extend_from_slice(input.chunk(255));
                m.extend_from_slice(input.chunk(255));
                let (sport, src) = match op & 0x30 {
                    0x10 => (5353, PEER_IP),
                    0x20 => (53, [10, 9, 0, 3]),
                    _ => (53, PEER_IP),
                };
                b.inject(&udp_frame(src, sport, DUT_IP, q.sport, &m));
            }
            4 | 5 => {
                let Some(r) = b.last_udp(123).cloned() else {
                    let _ = b.stack.sntp().request("10.9.0.1");
                    continue;
                };
                let mut m = input.take(48).to_vec();
                m.resize(48, 0);
                if op & 8 == 0 && r.data.len() >= 48 {
                    m[24..32].copy_from_slice(&r.data[40..48]);
                    m[0] = (m[0] & 0xc0) | 0x24; // version 4, mode 4
                }
                m.extend_from_slice(input.chunk(64));
                b.inject(&udp_frame(PEER_IP, 123, DUT_IP, r.sport, &m));
                if op & 16 != 0 {
                    let _ = b.stack.sntp().request("10.9.0.1");
                }
            }
            6 => {
                let dst = if op & 8 == 0 { DUT_IP } else { [255; 4] };
                let m = input.chunk(255).to_vec();
                b.inject(&udp_frame(PEER_IP, 137, dst, 137, &m));
            }
            _ => b.run(u64::from(input.u16())),
        }
    }
});
