//! Frame ingress: every byte sequence a NIC could hand the stack, with every
//! protocol enabled (ARP, IPv4, ICMP, UDP sockets, TCP listeners and a
//! connection, DHCP, DNS, NetBIOS, SNTP). The input is split into frames
//! (two length bytes then the frame); the stack polls each and runs its
//! timers. Nothing may panic; the counters must account for every frame.
#![no_main]

use emberstack::config::StaticIpv4;
use emberstack::dhcp::DhcpClient;
use emberstack::dns::DnsClient;
use emberstack::netbios::NetBiosResponder;
use emberstack::nic::sim::{Faults, SimNic, SimWire};
use emberstack::sntp::SntpClient;
use emberstack::tcp::{SentSegment, TcpSocket};
use emberstack::udp::UdpSocket;
use emberstack::wire::{Ipv4Address, Ipv4Cidr};
use emberstack::{App, Instant, Stack};
use libfuzzer_sys::fuzz_target;

emberstack::test_config! {
    struct Fuzz;
    const DEVICE_NAME: &'static str = "FUZZ";
    const STATIC_IPV4: Option<StaticIpv4> = Some(StaticIpv4 {
        cidr: Ipv4Cidr::new(Ipv4Address([10, 9, 0, 2]), 24),
        gateway: Some(Ipv4Address([10, 9, 0, 1])),
        dns: Some(Ipv4Address([10, 9, 0, 1])),
    });
    type UdpSockets = [UdpSocket; 2];
    type TcpSockets = [TcpSocket; 3];
    type TcpSegments = [SentSegment; 3];
    type Dhcp = DhcpClient<Fuzz>;
    type Dns = DnsClient<2, 64>;
    type NetBios = NetBiosResponder;
    type Sntp = SntpClient<64>;
}
impl emberstack::dhcp::DhcpSettings for Fuzz {}

struct Sink(u32);
impl App for Sink {
    fn random_u32(&mut self) -> u32 {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        self.0
    }
    fn udp_datagram<N: emberstack::nic::Nic>(
        &mut self,
        d: &mut emberstack::udp::UdpDatagram<'_, '_, N>,
    ) {
        let mut buf = [0u8; 64];
        let _ = d.read(0, &mut buf);
        let _ = d.echo();
    }
}

fuzz_target!(|data: &[u8]| {
    let wire = SimWire::new(1, Faults::none());
    let mut peer: SimNic = wire.endpoint();
    let mut nic: SimNic = wire.endpoint();
    let mut stack: Stack<Fuzz> = Stack::new();
    let mut app = Sink(7);
    let _ = stack.udp_bind(7);
    let _ = stack.tcp_listen(80);
    let _ = stack.tcp_listen(80);
    let _ = stack
        .dns()
        .query("example.com", emberstack::dns::QueryType::Mx);
    let _ = stack.sntp().request("10.9.0.1");
    let mut rest = data;
    let mut frames = 0u32;
    let mut now = 0u64;
    while let [hi, lo, tail @ ..] = rest {
        let len = (usize::from(*hi) << 8 | usize::from(*lo))
            .min(tail.len())
            .min(1514);
        let (frame, after) = tail.split_at(len);
        rest = after;
        if peer.send_frame(frame).is_ok() {
            frames += 1;
        }
        now += 250;
        wire.set_now(now);
        while stack.poll(Instant::from_millis(now), &mut nic, &mut app) {}
        while peer.recv_frame().is_some() {}
    }
    assert!(stack.counters().frames_in <= frames);
});
