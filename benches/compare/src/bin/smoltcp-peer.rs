//! smoltcp on a Linux TAP doing what the reference device does for the
//! throughput benchmark (`benches/tcp_throughput.sh`): a TCP discard server
//! on port 9 and, with `--tcp-send`, one bulk sender.
//!
//! ```text
//! smoltcp-peer --tap tap0 --ip A.B.C.D/N --window W [--tcp-send A.B.C.D:PORT --bytes N]
//! ```
//!
//! Each socket gets receive and transmit buffers of `W × 1460` bytes: the
//! bytes emberstack advertises (`window × mss`) and, in its buffer mode,
//! keeps for retransmission (README, "Performance", for what "the same
//! buffer RAM" means). smoltcp's other settings are its defaults (delayed
//! ACK 10 ms, Nagle on). Logs the lines the device logs, so one driver reads
//! both: `tcp: discard N bytes crc32=X` when the peer closes, `tcp: sent N`
//! once everything is acknowledged (plus the segments it sent again).
//! Creates no TAP: run it inside the namespace where `tap0` exists.

use emberstack_bench_compare::{crc32_update, pattern_byte, tcp_data_seq, MSS};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium, TunTapInterface};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, IpAddress, IpCidr, IpEndpoint, Ipv4Address};
use std::os::unix::io::AsRawFd;
use std::process::ExitCode;

const USAGE: &str =
    "usage: smoltcp-peer --tap NAME --ip A.B.C.D/N --window W [--tcp-send A.B.C.D:PORT --bytes N]";

struct Cli {
    tap: String,
    ip: (Ipv4Address, u8),
    window: usize,
    send: Option<(IpEndpoint, u32)>,
}

fn parse() -> Result<Cli, String> {
    let mut tap = "tap0".to_string();
    let mut ip = None;
    let mut window = 1;
    let mut target = None;
    let mut bytes = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--tap" => tap = value()?,
            "--ip" => {
                let v = value()?;
                let (a, p) = v
                    .split_once('/')
                    .ok_or(format!("--ip wants A.B.C.D/N: {v}"))?;
                let a: std::net::Ipv4Addr = a.parse().map_err(|_| format!("bad address {a}"))?;
                let p: u8 = p.parse().map_err(|_| format!("bad prefix {p}"))?;
                ip = Some((a, p));
            }
            "--window" => {
                window = value()?
                    .parse()
                    .ok()
                    .filter(|w| (1..=8).contains(w))
                    .ok_or("--window wants 1 to 8")?
            }
            "--tcp-send" => {
                let v = value()?;
                let a: std::net::SocketAddrV4 = v
                    .parse()
                    .map_err(|_| format!("--tcp-send wants A.B.C.D:PORT: {v}"))?;
                target = Some(IpEndpoint::new(IpAddress::Ipv4(*a.ip()), a.port()));
            }
            "--bytes" => bytes = Some(value()?.parse().map_err(|_| "--bytes wants a number")?),
            _ => return Err(format!("unknown argument {flag}\n{USAGE}")),
        }
    }
    let send = match (target, bytes) {
        (Some(t), Some(n)) => Some((t, n)),
        (None, None) => None,
        _ => return Err(format!("--tcp-send and --bytes go together\n{USAGE}")),
    };
    Ok(Cli {
        tap,
        ip: ip.ok_or(format!("--ip is required\n{USAGE}"))?,
        window,
        send,
    })
}

/// The TAP, counting data segments sent again (a sequence number below the
/// highest one already sent), so runs show retransmissions as the device's
/// log does.
struct CountingTap {
    inner: TunTapInterface,
    sent_max: Option<u32>,
    resent: u64,
}

struct CountingTx<'a, T> {
    inner: T,
    sent_max: &'a mut Option<u32>,
    resent: &'a mut u64,
}

impl<T: phy::TxToken> phy::TxToken for CountingTx<'_, T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let (sent_max, resent) = (self.sent_max, self.resent);
        self.inner.consume(len, |buf| {
            let r = f(buf);
            if let Some((seq, end)) = tcp_data_seq(buf) {
                match *sent_max {
                    Some(max) if (seq.wrapping_sub(max) as i32) < 0 => *resent += 1,
                    _ => {}
                }
                if sent_max.is_none_or(|max| (end.wrapping_sub(max) as i32) > 0) {
                    *sent_max = Some(end);
                }
            }
            r
        })
    }
}

impl Device for CountingTap {
    type RxToken<'a> = <TunTapInterface as Device>::RxToken<'a>;
    type TxToken<'a> = CountingTx<'a, <TunTapInterface as Device>::TxToken<'a>>;

    fn receive(&mut self, t: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let (rx, tx) = self.inner.receive(t)?;
        Some((
            rx,
            CountingTx {
                inner: tx,
                sent_max: &mut self.sent_max,
                resent: &mut self.resent,
            },
        ))
    }

    fn transmit(&mut self, t: Instant) -> Option<Self::TxToken<'_>> {
        Some(CountingTx {
            inner: self.inner.transmit(t)?,
            sent_max: &mut self.sent_max,
            resent: &mut self.resent,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.inner.capabilities()
    }
}

fn socket(window: usize) -> tcp::Socket<'static> {
    let bytes = window * MSS;
    tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; bytes]),
        tcp::SocketBuffer::new(vec![0; bytes]),
    )
}

/// The discard server's state.
struct Discard {
    handle: SocketHandle,
    bytes: u64,
    crc: u32,
    /// A connection exists (logged as connected).
    open: bool,
    /// Its discard line was logged.
    logged: bool,
}

/// The bulk sender's state.
struct Sender {
    handle: SocketHandle,
    total: u32,
    queued: u32,
    done: bool,
}

fn main() -> ExitCode {
    let cli = match parse() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let tap = match TunTapInterface::new(&cli.tap, Medium::Ethernet) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("smoltcp-peer: cannot open TAP {}: {e} (create it first: ip tuntap add dev {} mode tap)", cli.tap, cli.tap);
            return ExitCode::from(1);
        }
    };
    let fd = tap.as_raw_fd();
    let mut device = CountingTap {
        inner: tap,
        sent_max: None,
        resent: 0,
    };
    let start = std::time::Instant::now();
    let now = || Instant::from_micros(start.elapsed().as_micros() as i64);
    let mut config = Config::new(EthernetAddress([2, 0, 0, 0, 0, 2]).into());
    config.random_seed = u64::from(std::process::id()) ^ start.elapsed().as_nanos() as u64;
    let mut iface = Interface::new(config, &mut device, now());
    let (addr, prefix) = cli.ip;
    iface.update_ip_addrs(|a| {
        let _ = a.push(IpCidr::new(IpAddress::Ipv4(addr), prefix));
    });
    let mut sockets = SocketSet::new(vec![]);
    let mut listener = socket(cli.window);
    if let Err(e) = listener.listen(9) {
        eprintln!("smoltcp-peer: listen: {e}");
        return ExitCode::from(1);
    }
    let mut discard = Discard {
        handle: sockets.add(listener),
        bytes: 0,
        crc: 0,
        open: false,
        logged: false,
    };
    let mut sender = None;
    if let Some((remote, total)) = cli.send {
        let mut s = socket(cli.window);
        let local = 49152 + (std::process::id() % 16384) as u16;
        if let Err(e) = s.connect(iface.context(), remote, local) {
            eprintln!("smoltcp-peer: connect: {e}");
            return ExitCode::from(1);
        }
        sender = Some(Sender {
            handle: sockets.add(s),
            total,
            queued: 0,
            done: false,
        });
    }
    println!(
        "smoltcp: tap {} window {} buffers {}+{} bytes per socket",
        cli.tap,
        cli.window,
        cli.window * MSS,
        cli.window * MSS
    );
    loop {
        iface.poll(now(), &mut device, &mut sockets);
        let mut again = serve_discard(&mut sockets, &mut discard);
        if let Some(s) = sender.as_mut() {
            again |= serve_sender(&mut sockets, s, device.resent);
        }
        if again {
            continue;
        }
        let delay = iface.poll_delay(now(), &sockets);
        if let Err(e) = phy::wait(fd, delay) {
            eprintln!("smoltcp-peer: wait: {e}");
            return ExitCode::from(1);
        }
    }
}

/// Takes what arrived on the discard socket; logs when the peer has closed
/// and everything was taken, and listens again once the connection is gone.
/// True when something was taken (the loop polls again at once).
fn serve_discard(sockets: &mut SocketSet<'_>, d: &mut Discard) -> bool {
    let s = sockets.get_mut::<tcp::Socket>(d.handle);
    match s.state() {
        tcp::State::Closed => {
            if d.open {
                println!("tcp: closed (discard)");
                d.open = false;
            }
            let _ = s.listen(9);
        }
        tcp::State::Listen => {}
        _ if !d.open => {
            d.open = true;
            d.logged = false;
            d.bytes = 0;
            d.crc = 0;
            if let Some(remote) = s.remote_endpoint() {
                println!("tcp: connected {remote} (discard)");
            }
        }
        _ => {}
    }
    let mut took = false;
    while s.can_recv() {
        let r = s.recv(|buf| {
            d.crc = crc32_update(d.crc, buf);
            (buf.len(), buf.len())
        });
        match r {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                d.bytes += n as u64;
                took = true;
            }
        }
    }
    if d.open && !d.logged && s.state() == tcp::State::CloseWait && s.recv_queue() == 0 {
        println!("tcp: discard {} bytes crc32={:08x}", d.bytes, d.crc);
        s.close();
        d.logged = true;
        took = true;
    }
    took
}

/// Queues the pattern while there is room; logs once all is acknowledged.
fn serve_sender(sockets: &mut SocketSet<'_>, st: &mut Sender, resent: u64) -> bool {
    let s = sockets.get_mut::<tcp::Socket>(st.handle);
    let mut queued = false;
    while st.queued < st.total && s.can_send() {
        let n = s
            .send(|buf| {
                let n = buf.len().min((st.total - st.queued) as usize);
                for (k, b) in buf[..n].iter_mut().enumerate() {
                    *b = pattern_byte(u64::from(st.queued) + k as u64);
                }
                (n, n)
            })
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        st.queued += n as u32;
        queued = true;
    }
    if !st.done
        && st.queued == st.total
        && s.send_queue() == 0
        && s.state() == tcp::State::Established
    {
        st.done = true;
        println!("tcp: sent {} (segments sent again {resent})", st.total);
        s.close();
    }
    queued
}
