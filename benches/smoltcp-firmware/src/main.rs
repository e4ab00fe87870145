//! smoltcp 0.14 on QEMU's `mps2-an385` (Cortex-M3, LAN9118): the firmware
//! emberstack's is measured against (benches/footprint.sh --firmware).
//!
//! The work is the closest smoltcp supports to emberstack's "everything on"
//! device: ICMP echo (smoltcp answers it inside the interface), UDP echo on
//! port 7, 6 TCP echo sockets on port 7 and 2 HTTP-like responders on port
//! 80 (a fixed page per request), the DHCP client and one DNS query once
//! bound. NetBIOS and SNTP have no smoltcp counterpart and are left out.
//!
//! Board support is the same as emberstack's firmware (free-running-counter
//! clock, WFI on the LAN9118 interrupt or SysTick, semihosting, the stack
//! high-water report), with a small LAN9118 driver implementing smoltcp's
//! `phy::Device`. smoltcp builds frames in RAM, so the driver has a receive
//! and a transmit buffer of 1514 bytes each: counted as its RAM. Options
//! from the QEMU command line: `--ip A.B.C.D/N --gateway G` (else DHCP).
#![no_std]
#![no_main]

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::{NVIC, SCB, SYST};
use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hio, nr, syscall1};

const BASE: usize = 0x4020_0000;
const IRQ: u16 = 13;
const TICKS_PER_MS: u64 = 25_000;
const MAX_SLEEP_MS: u64 = 600;
const PAINT_BYTES: usize = 16 * 1024;
const PAINT: u32 = 0xC0DE_5EED;
const MAX_FRAME: usize = 1514;

#[derive(Clone, Copy)]
struct Irq(u16);
// SAFETY: 13 is a valid external interrupt number on the MPS2 boards.
unsafe impl cortex_m::interrupt::InterruptNumber for Irq {
    fn number(self) -> u16 {
        self.0
    }
}

fn rd(off: usize) -> u32 {
    // SAFETY: the board's LAN9118 register block.
    unsafe { core::ptr::read_volatile((BASE + off) as *const u32) }
}

fn wr(off: usize, v: u32) {
    // SAFETY: as above.
    unsafe { core::ptr::write_volatile((BASE + off) as *mut u32, v) }
}

fn host_write(bytes: &[u8]) {
    if let Ok(mut out) = hio::hstdout() {
        let _ = out.write_all(bytes);
    }
}

fn host_report(label: &str, value: u32, unit: &str) {
    let mut buf = [0u8; 96];
    let mut n = 0;
    for &b in label.as_bytes().iter().take(60) {
        buf[n] = b;
        n += 1;
    }
    let mut digits = [0u8; 10];
    let mut d = 0;
    let mut v = value;
    loop {
        digits[d] = b'0' + (v % 10) as u8;
        d += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    while d > 0 {
        d -= 1;
        buf[n] = digits[d];
        n += 1;
    }
    for &b in unit.as_bytes().iter().take(20) {
        buf[n] = b;
        n += 1;
    }
    buf[n] = b'\n';
    host_write(&buf[..=n]);
}

fn fail() -> ! {
    loop {
        debug::exit(debug::EXIT_FAILURE);
    }
}

/// A LAN9118 for smoltcp: frames are copied whole between the FIFOs and
/// two RAM buffers, as smoltcp's tokens hand out slices.
struct Lan9118 {
    rx: [u8; MAX_FRAME + 6],
    #[cfg_attr(feature = "baseline", allow(dead_code))]
    tx: [u8; MAX_FRAME + 2],
}

impl Lan9118 {
    fn mac_csr(&mut self, index: u32, value: u32) {
        while rd(0xA4) & (1 << 31) != 0 {}
        wr(0xA8, value);
        wr(0xA4, (1 << 31) | index);
        while rd(0xA4) & (1 << 31) != 0 {}
    }

    fn mac_read(&mut self, index: u32) -> u32 {
        while rd(0xA4) & (1 << 31) != 0 {}
        wr(0xA4, (1 << 31) | (1 << 30) | index);
        while rd(0xA4) & (1 << 31) != 0 {}
        rd(0xA8)
    }

    /// Resets the controller and returns its MAC address (from EEPROM).
    fn init(&mut self) -> Option<[u8; 6]> {
        if rd(0x64) != 0x8765_4321 {
            return None;
        }
        wr(0x74, 1);
        while rd(0x74) & 1 != 0 {}
        while rd(0x84) & 1 == 0 {}
        wr(0x54, 0);
        wr(0x5C, 0);
        wr(0x58, u32::MAX);
        let [a, b, c, d] = self.mac_read(3).to_le_bytes();
        let [e, f, _, _] = self.mac_read(2).to_le_bytes();
        self.mac_csr(1, (1 << 3) | (1 << 2) | (1 << 20));
        wr(0x70, (1 << 1) | (1 << 2));
        wr(0x6C, 0);
        // RX status level interrupt, active high push-pull.
        wr(0x5C, 1 << 3);
        wr(0x54, (1 << 8) | (1 << 4) | 1);
        Some([a, b, c, d, e, f])
    }

    fn rx_waiting(&self) -> bool {
        (rd(0x7C) >> 16) & 0xff != 0
    }

    /// Pops the next good frame into `rx`; its length without FCS.
    fn pop(&mut self) -> Option<usize> {
        while self.rx_waiting() {
            let status = rd(0x40);
            let with_fcs = ((status >> 16) & 0x3fff) as usize;
            let words = with_fcs.div_ceil(4);
            let len = with_fcs.saturating_sub(4);
            let good = status & (1 << 15) == 0 && len > 0 && len <= MAX_FRAME;
            for i in 0..words {
                let w = rd(0).to_le_bytes();
                if good {
                    if let Some(slot) = self.rx.get_mut(i * 4..i * 4 + 4) {
                        slot.copy_from_slice(&w);
                    }
                }
            }
            if good {
                return Some(len);
            }
        }
        None
    }
}

/// Sends `frame` through the TX FIFO (command A/B, then words).
fn send(frame: &[u8]) {
    let len = frame.len().min(MAX_FRAME);
    while ((rd(0x80) & 0xffff) as usize) < len.next_multiple_of(4) + 8 {}
    wr(0x20, (1 << 13) | (1 << 12) | len as u32);
    wr(0x20, ((len as u32) << 16) | len as u32);
    // Whole words, then the last bytes padded (a copy per word would be
    // a `memcpy` call each: the comparison wants smoltcp's best).
    let (words, tail) = frame[..len].as_chunks::<4>();
    for w in words {
        wr(0x20, u32::from_le_bytes(*w));
    }
    if !tail.is_empty() {
        let mut w = [0u8; 4];
        w[..tail.len()].copy_from_slice(tail);
        wr(0x20, u32::from_le_bytes(w));
    }
}

#[cfg(not(feature = "baseline"))]
mod net {
    use super::Lan9118;
    use smoltcp::phy::{self, DeviceCapabilities, Medium};
    use smoltcp::time::Instant;

    pub struct Rx<'a>(&'a [u8]);
    pub struct Tx<'a>(&'a mut [u8]);

    impl phy::RxToken for Rx<'_> {
        fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
            #[cfg(feature = "render-status")]
            super::count(&super::FRAMES_IN);
            f(self.0)
        }
    }

    impl phy::TxToken for Tx<'_> {
        fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
            let frame = &mut self.0[..len.min(super::MAX_FRAME)];
            let r = f(frame);
            #[cfg(feature = "render-status")]
            super::count(&super::FRAMES_OUT);
            super::send(frame);
            r
        }
    }

    impl phy::Device for Lan9118 {
        type RxToken<'a> = Rx<'a>;
        type TxToken<'a> = Tx<'a>;

        fn receive(&mut self, _: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
            let len = self.pop()?;
            let Lan9118 { rx, tx } = self;
            Some((Rx(&rx[..len]), Tx(&mut tx[..])))
        }

        fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
            Some(Tx(&mut self.tx[..]))
        }

        fn capabilities(&self) -> DeviceCapabilities {
            let mut caps = DeviceCapabilities::default();
            caps.medium = Medium::Ethernet;
            caps.max_transmission_unit = super::MAX_FRAME;
            caps.max_burst_size = Some(1);
            caps
        }
    }
}

fn command_line(buf: &mut [u8]) -> &str {
    let mut block = [buf.as_mut_ptr() as usize, buf.len().saturating_sub(1)];
    // SAFETY: SYS_GET_CMDLINE writes at most block[1] bytes into `buf`.
    let r = unsafe { syscall1(nr::GET_CMDLINE, block.as_mut_ptr() as usize) };
    if r != 0 {
        return "";
    }
    let len = block[1].min(buf.len());
    core::str::from_utf8(&buf[..len]).unwrap_or("")
}

#[inline(never)]
fn paint_stack() -> usize {
    let top = (cortex_m::register::msp::read() as usize - 64) & !3;
    let bottom = top - PAINT_BYTES;
    let mut p = bottom;
    while p < top {
        // SAFETY: free stack below the stack pointer, no handler runs.
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
    bottom
}

fn lowest_used(bottom: usize) -> usize {
    let mut p = bottom;
    // SAFETY: the painted region, only read.
    while p < bottom + PAINT_BYTES && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT
    {
        p += 4;
    }
    p
}

/// The size of smoltcp's `Interface` (it lives in `main`'s frame), for the
/// footprint script, which reads it from the ELF.
#[cfg(not(feature = "baseline"))]
#[no_mangle]
#[used]
static SMOLTCP_IFACE_BYTES: u32 = core::mem::size_of::<smoltcp::iface::Interface>() as u32;

static mut NIC: Lan9118 = Lan9118 {
    rx: [0; MAX_FRAME + 6],
    tx: [0; MAX_FRAME + 2],
};

/// Frames received and sent, for the rendered status page.
#[cfg(feature = "render-status")]
static FRAMES_IN: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);
#[cfg(feature = "render-status")]
static FRAMES_OUT: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);
/// Milliseconds since boot, as of the last poll.
#[cfg(feature = "render-status")]
static UPTIME_MS: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

#[cfg(feature = "render-status")]
fn count(c: &core::sync::atomic::AtomicU32) {
    c.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
}

#[cfg(not(feature = "baseline"))]
mod app {
    //! The sockets and what the device does with them.
    use smoltcp::iface::{Interface, SocketHandle, SocketSet, SocketStorage};
    use smoltcp::socket::{dhcpv4, dns, tcp, udp};
    use smoltcp::wire::{IpAddress, IpCidr, Ipv4Address, Ipv4Cidr};

    pub const ECHO_SOCKETS: usize = 6;
    #[cfg(not(feature = "equal-pages"))]
    pub const HTTP_SOCKETS: usize = 2;
    /// As many as the reference device's web server.
    #[cfg(feature = "equal-pages")]
    pub const HTTP_SOCKETS: usize = 3;
    /// With `equal-pages`, a character generator (RFC 864, port 19) as
    /// the reference device has, for the bulk-send figure.
    const CHARGEN_SOCKETS: usize = if cfg!(feature = "equal-pages") { 1 } else { 0 };
    const TCP_SOCKETS: usize = ECHO_SOCKETS + HTTP_SOCKETS + CHARGEN_SOCKETS;
    /// Receive and transmit buffer per TCP socket (one MSS, as emberstack's
    /// one-segment window).
    pub const TCP_BUF: usize = 1460;
    const UDP_BUF: usize = 1472;
    pub const SOCKETS: usize = TCP_SOCKETS + 3;

    #[cfg(feature = "equal-pages")]
    #[cfg_attr(feature = "render-status", allow(dead_code))] // the constant status page
    mod pages {
        //! The reference device's pages (build.rs).
        include!(concat!(env!("OUT_DIR"), "/pages.rs"));
    }

    #[cfg(not(feature = "equal-pages"))]
    const PAGE: &[u8] = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: 44\r\n\r\n<html><body><h1>EMBER</h1></body></html>\r\n\r\n";

    /// Socket payload buffers: the application's RAM (emberstack's device
    /// keeps its echo rings in the application too).
    pub static mut TCP_RX: [[u8; TCP_BUF]; TCP_SOCKETS] = [[0; TCP_BUF]; TCP_SOCKETS];
    pub static mut TCP_TX: [[u8; TCP_BUF]; TCP_SOCKETS] = [[0; TCP_BUF]; TCP_SOCKETS];
    pub static mut UDP_RX: [u8; UDP_BUF] = [0; UDP_BUF];
    pub static mut UDP_TX: [u8; UDP_BUF] = [0; UDP_BUF];
    /// The stack's own state.
    pub static mut SOCKET_STORAGE: [SocketStorage<'static>; SOCKETS] =
        [SocketStorage::EMPTY; SOCKETS];
    pub static mut UDP_RX_META: [udp::PacketMetadata; 2] = [udp::PacketMetadata::EMPTY; 2];
    pub static mut UDP_TX_META: [udp::PacketMetadata; 2] = [udp::PacketMetadata::EMPTY; 2];
    pub static mut DNS_QUERIES: [Option<dns::DnsQuery>; 1] = [None];

    pub struct App {
        pub sockets: SocketSet<'static>,
        tcp: [SocketHandle; TCP_SOCKETS],
        /// Per HTTP socket: the request being read.
        tail: [Request; HTTP_SOCKETS],
        /// The character generator's next line (mod 95) and column.
        chargen: (u8, u8),
        udp: SocketHandle,
        dhcp: Option<SocketHandle>,
        dns: SocketHandle,
        query: Option<dns::QueryHandle>,
        /// What the rendered status page shows of the lease.
        #[cfg(feature = "render-status")]
        status: Status,
    }

    /// The state the rendered `/status.json` reads besides the interface.
    #[cfg(feature = "render-status")]
    #[derive(Clone, Copy, Default)]
    pub struct Status {
        gateway: Option<Ipv4Address>,
        dns: Option<Ipv4Address>,
        server: Option<Ipv4Address>,
        responses: u32,
        address: Option<Ipv4Cidr>,
    }

    /// Builds the sockets over the static buffers.
    ///
    /// # Safety
    ///
    /// Called once: it takes `&'static mut` of the statics above.
    pub unsafe fn new(dhcp: bool) -> App {
        use core::ptr::addr_of_mut;
        /// A static's only reference.
        ///
        /// # Safety
        ///
        /// Called once per static.
        unsafe fn take<T>(p: *mut T) -> &'static mut T {
            // SAFETY: the caller's promise.
            unsafe { &mut *p }
        }
        // SAFETY: called once (caller's promise), so these are unique.
        let (storage, rx, tx) = unsafe {
            (
                take(addr_of_mut!(SOCKET_STORAGE)),
                take(addr_of_mut!(TCP_RX)),
                take(addr_of_mut!(TCP_TX)),
            )
        };
        let mut sockets = SocketSet::new(&mut storage[..]);
        let mut handles = [SocketHandle::default(); TCP_SOCKETS];
        for ((h, r), t) in handles.iter_mut().zip(rx.iter_mut()).zip(tx.iter_mut()) {
            let s = tcp::Socket::new(
                tcp::SocketBuffer::new(&mut r[..]),
                tcp::SocketBuffer::new(&mut t[..]),
            );
            *h = sockets.add(s);
        }
        // SAFETY: as above.
        let udp = unsafe {
            udp::Socket::new(
                udp::PacketBuffer::new(
                    &mut take(addr_of_mut!(UDP_RX_META))[..],
                    &mut take(addr_of_mut!(UDP_RX))[..],
                ),
                udp::PacketBuffer::new(
                    &mut take(addr_of_mut!(UDP_TX_META))[..],
                    &mut take(addr_of_mut!(UDP_TX))[..],
                ),
            )
        };
        let udp = sockets.add(udp);
        // SAFETY: as above.
        let dns = sockets.add(dns::Socket::new(&[], unsafe {
            &mut take(addr_of_mut!(DNS_QUERIES))[..]
        }));
        let dhcp = dhcp.then(|| sockets.add(dhcpv4::Socket::new()));
        App {
            sockets,
            tcp: handles,
            tail: [Request::NEW; HTTP_SOCKETS],
            chargen: (0, 0),
            udp,
            dhcp,
            dns,
            query: None,
            #[cfg(feature = "render-status")]
            status: Status::default(),
        }
    }

    /// An HTTP request as the responder reads it: the end of its head
    /// (the last 4 bytes) and, with `equal-pages`, which page (the byte
    /// after `GET /`) and whether it asked for keep-alive.
    #[derive(Clone, Copy)]
    pub struct Request {
        tail: u32,
        #[cfg(all(feature = "equal-pages", not(feature = "parse-request")))]
        at: u16,
        #[cfg(feature = "equal-pages")]
        page: u8,
        #[cfg(all(feature = "equal-pages", not(feature = "parse-request")))]
        keep_match: u8,
        #[cfg(feature = "equal-pages")]
        keep: bool,
        /// With `parse-request`, the head as received (its length past
        /// `HEAD_MAX` when it did not fit: answered 400).
        #[cfg(feature = "parse-request")]
        head: [u8; HEAD_MAX],
        #[cfg(feature = "parse-request")]
        len: u16,
    }

    /// The longest request head the parsing responder takes (a browser's
    /// is about 400-500 bytes; ab's 107).
    #[cfg(feature = "parse-request")]
    const HEAD_MAX: usize = 512;

    impl Request {
        pub const NEW: Request = Request {
            tail: 0,
            #[cfg(all(feature = "equal-pages", not(feature = "parse-request")))]
            at: 0,
            #[cfg(feature = "equal-pages")]
            page: 0,
            #[cfg(all(feature = "equal-pages", not(feature = "parse-request")))]
            keep_match: 0,
            #[cfg(feature = "equal-pages")]
            keep: false,
            #[cfg(feature = "parse-request")]
            head: [0; HEAD_MAX],
            #[cfg(feature = "parse-request")]
            len: 0,
        };

        /// One request byte; true at the end of the head.
        fn byte(&mut self, b: u8) -> bool {
            self.tail = (self.tail << 8) | u32::from(b);
            #[cfg(feature = "parse-request")]
            {
                if let Some(slot) = self.head.get_mut(usize::from(self.len)) {
                    *slot = b;
                }
                self.len = self.len.saturating_add(1);
            }
            #[cfg(all(feature = "equal-pages", not(feature = "parse-request")))]
            {
                const KEEP: &[u8] = b"keep-alive";
                if self.at == 5 {
                    self.page = b;
                }
                self.at = self.at.saturating_add(1);
                let lower = b.to_ascii_lowercase();
                if KEEP.get(usize::from(self.keep_match)) == Some(&lower) {
                    self.keep_match += 1;
                    if usize::from(self.keep_match) == KEEP.len() {
                        self.keep = true;
                        self.keep_match = 0;
                    }
                } else {
                    self.keep_match = u8::from(lower == KEEP[0]);
                }
            }
            self.tail == 0x0d0a_0d0a
        }

        /// Sends the page; closes unless keep-alive was asked for.
        #[cfg(not(feature = "equal-pages"))]
        fn answer(&mut self, s: &mut tcp::Socket) {
            if s.send_slice(PAGE).is_ok() {
                s.close();
            }
        }

        /// Parses the head received (httparse): sets the page and
        /// whether to keep the connection, or answers the refusal a server
        /// owes (400 for a malformed or too-large head or an HTTP/1.1
        /// request without `Host`, 405 for a method other than GET, 404
        /// for another path) and closes. True when a page is to be sent.
        #[cfg(feature = "parse-request")]
        fn parse(&mut self, s: &mut tcp::Socket) -> bool {
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut req = httparse::Request::new(&mut headers);
            let parsed = self
                .head
                .get(..usize::from(self.len))
                .map(|head| req.parse(head));
            let refusal: &[u8] = match parsed {
                Some(Ok(httparse::Status::Complete(_))) => {
                    // HTTP/1.1 keeps the connection unless told to close;
                    // HTTP/1.0 closes unless asked to keep it (RFC 9112
                    // §9.3).
                    let mut keep = req.version == Some(1);
                    let mut host = false;
                    for h in req.headers.iter() {
                        if h.name.eq_ignore_ascii_case("connection") {
                            for token in h.value.split(|&b| b == b',') {
                                let token = token.trim_ascii();
                                if token.eq_ignore_ascii_case(b"close") {
                                    keep = false;
                                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                                    keep = true;
                                }
                            }
                        } else if h.name.eq_ignore_ascii_case("host") {
                            host = true;
                        }
                    }
                    let page = match req.path {
                        Some("/app.js") => Some(b'a'),
                        Some("/status.json") => Some(b's'),
                        _ => None,
                    };
                    match (req.method, page) {
                        _ if req.version == Some(1) && !host => pages::BAD_REQUEST,
                        (Some("GET"), Some(page)) => {
                            self.page = page;
                            self.keep = keep;
                            return true;
                        }
                        (Some("GET"), None) => pages::NOT_FOUND,
                        _ => pages::METHOD_NOT_ALLOWED,
                    }
                }
                _ => pages::BAD_REQUEST,
            };
            let _ = s.send_slice(refusal);
            s.close();
            false
        }

        /// Sends the page asked for, `/status.json` rendered now from the
        /// firmware's state; closes unless keep-alive was asked for.
        #[cfg(feature = "render-status")]
        fn answer(&mut self, s: &mut tcp::Socket, status: &mut Status) {
            use core::fmt::Write as _;
            #[cfg(feature = "parse-request")]
            if !self.parse(s) {
                *self = Request::NEW;
                return;
            }
            status.responses = status.responses.wrapping_add(1);
            if self.page == b'a' {
                let head = if self.keep {
                    pages::APP_HEAD_KEEP
                } else {
                    pages::APP_HEAD_CLOSE
                };
                let _ = s.send_slice(head);
                let _ = s.send_slice(pages::APP_BODY);
            } else {
                let mut body = render::Body::new();
                render::status(&mut body, status);
                let mut head = render::Body::new();
                let _ = write!(
                    head,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n\
                     Cache-Control: no-store\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
                    body.bytes().len(),
                    if self.keep { "keep-alive" } else { "close" }
                );
                let _ = s.send_slice(head.bytes());
                let _ = s.send_slice(body.bytes());
            }
            if !self.keep {
                s.close();
            }
            *self = Request::NEW;
        }

        /// Sends the page asked for; closes unless keep-alive was asked for.
        #[cfg(all(feature = "equal-pages", not(feature = "render-status")))]
        fn answer(&mut self, s: &mut tcp::Socket) {
            #[cfg(feature = "parse-request")]
            if !self.parse(s) {
                *self = Request::NEW;
                return;
            }
            let (head, body) = match (self.page, self.keep) {
                (b'a', false) => (pages::APP_HEAD_CLOSE, pages::APP_BODY),
                (b'a', true) => (pages::APP_HEAD_KEEP, pages::APP_BODY),
                (_, false) => (pages::STATUS_HEAD_CLOSE, pages::STATUS_BODY),
                (_, true) => (pages::STATUS_HEAD_KEEP, pages::STATUS_BODY),
            };
            let _ = s.send_slice(head);
            let _ = s.send_slice(body);
            if !self.keep {
                s.close();
            }
            *self = Request::NEW;
        }
    }

    /// The rendered `/status.json`: the reference device's fields from
    /// this firmware's state, strings escaped for JSON as the reference
    /// device escapes its tags.
    #[cfg(feature = "render-status")]
    mod render {
        use super::Status;
        use core::fmt::{self, Display, Write};

        /// A page being written.
        pub struct Body {
            buf: [u8; 384],
            len: usize,
        }

        impl Body {
            pub fn new() -> Body {
                Body {
                    buf: [0; 384],
                    len: 0,
                }
            }
            pub fn bytes(&self) -> &[u8] {
                &self.buf[..self.len]
            }
        }

        impl Write for Body {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                let end = self.len + s.len();
                let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
                dst.copy_from_slice(s.as_bytes());
                self.len = end;
                Ok(())
            }
        }

        /// Writes `s` as the inside of a JSON string (`"`, `\\`, control
        /// characters and `< > &` escaped).
        fn json(w: &mut Body, s: &str) {
            for c in s.chars() {
                let _ = match c {
                    '"' => w.write_str("\\\""),
                    '\\' => w.write_str("\\\\"),
                    c if (c as u32) < 0x20 || matches!(c, '<' | '>' | '&') => {
                        write!(w, "\\u{:04x}", c as u32)
                    }
                    c => w.write_char(c),
                };
            }
        }

        /// A value's text, escaped as a JSON string.
        fn json_of(w: &mut Body, v: impl Display) {
            let mut text = Body::new();
            let _ = write!(text, "{v}");
            json(w, core::str::from_utf8(text.bytes()).unwrap_or(""));
        }

        fn opt(w: &mut Body, v: Option<impl Display>) {
            match v {
                Some(v) => json_of(w, v),
                None => json(w, "none"),
            }
        }

        pub fn status(w: &mut Body, st: &Status) {
            use core::sync::atomic::Ordering::Relaxed;
            let up = super::super::UPTIME_MS.load(Relaxed) / 1000;
            let _ = w.write_str("{\"name\":\"");
            json(w, "EMBER");
            let _ = w.write_str("\",\"ip\":\"");
            opt(w, st.address);
            let _ = w.write_str("\",\"gateway\":\"");
            opt(w, st.gateway);
            let _ = w.write_str("\",\"dns\":\"");
            opt(w, st.dns);
            let _ = w.write_str("\",\"dhcp\":\"");
            json(w, if st.address.is_some() { "bound" } else { "off" });
            let _ = w.write_str("\",\"lease\":\"");
            match st.server {
                Some(server) => json_of(w, format_args!("from {server}")),
                None => json(w, "none (static address)"),
            }
            let _ = w.write_str("\",\"uptime\":\"");
            json_of(
                w,
                format_args!("{:02}:{:02}:{:02}", up / 3600, up / 60 % 60, up % 60),
            );
            let _ = write!(w, "\",\"uptime_s\":{up},\"time\":\"");
            json(w, "not synchronised");
            let _ = write!(
                w,
                "\",\"frames_in\":{},\"frames_out\":{},\"dropped\":{},\"tx_errors\":{},\"echo\":{},\"http\":{}}}",
                super::super::FRAMES_IN.load(Relaxed),
                super::super::FRAMES_OUT.load(Relaxed),
                0,
                0,
                0,
                st.responses
            );
        }
    }

    /// The 95 printable characters twice over: each RFC 864 line is one
    /// slice of it (the reference device's chargen does the same).
    const PRINTABLE: [u8; 95 + 72] = {
        let mut t = [0u8; 95 + 72];
        let mut i = 0;
        while i < t.len() {
            t[i] = b' ' + (i % 95) as u8;
            i += 1;
        }
        t
    };

    /// Fills the socket's free transmit buffer with RFC 864 lines (72
    /// printable characters, each line starting one later, CR LF) — the
    /// same bytes as the reference device's chargen, copied a line's
    /// characters at a time.
    fn generate(s: &mut tcp::Socket, at: &mut (u8, u8)) {
        while s.can_send() {
            let sent = s.send(|buf| {
                let (mut line, mut col) = *at;
                let mut done = 0;
                while done < buf.len() {
                    let piece: &[u8] = if col < 72 {
                        &PRINTABLE[usize::from(line + col)..usize::from(line) + 72]
                    } else {
                        &b"\r\n"[usize::from(col - 72)..]
                    };
                    let n = piece.len().min(buf.len() - done);
                    buf[done..done + n].copy_from_slice(&piece[..n]);
                    done += n;
                    col += n as u8;
                    if col == 74 {
                        col = 0;
                        line = if line == 94 { 0 } else { line + 1 };
                    }
                }
                *at = (line, col);
                (buf.len(), buf.len())
            });
            if !matches!(sent, Ok(n) if n > 0) {
                break;
            }
        }
    }

    impl App {
        /// One round of the services after `iface.poll`.
        pub fn run(&mut self, iface: &mut Interface) {
            self.dhcp(iface);
            let udp = self.sockets.get_mut::<udp::Socket>(self.udp);
            if !udp.is_open() {
                let _ = udp.bind(7);
            }
            let mut buf = [0u8; 256];
            while let Ok((n, meta)) = udp.recv_slice(&mut buf) {
                let _ = udp.send_slice(&buf[..n], meta.endpoint);
                super::log(format_args!("udp: echo {n} bytes"));
            }
            for (i, &h) in self.tcp.iter().enumerate() {
                let s = self.sockets.get_mut::<tcp::Socket>(h);
                let http = i >= ECHO_SOCKETS;
                let chargen = i >= ECHO_SOCKETS + HTTP_SOCKETS;
                if chargen {
                    if !s.is_open() {
                        let _ = s.listen(19);
                        self.chargen = (0, 0);
                    } else if s.state() == tcp::State::CloseWait {
                        s.close();
                    } else {
                        generate(s, &mut self.chargen);
                    }
                    continue;
                }
                if !s.is_open() {
                    let _ = s.listen(if http { 80 } else { 7 });
                    if let Some(t) = self.tail.get_mut(i.wrapping_sub(ECHO_SOCKETS)) {
                        *t = Request::NEW;
                    }
                    continue;
                }
                if http {
                    let req = &mut self.tail[i - ECHO_SOCKETS];
                    while let Ok(n) = s.recv_slice(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        for &b in &buf[..n] {
                            if req.byte(b) {
                                #[cfg(feature = "render-status")]
                                req.answer(s, &mut self.status);
                                #[cfg(not(feature = "render-status"))]
                                req.answer(s);
                                super::log(format_args!("http: GET 200"));
                            }
                        }
                    }
                    // A keep-alive client that is done: close too.
                    if s.state() == tcp::State::CloseWait {
                        s.close();
                    }
                } else {
                    while s.can_recv() && s.can_send() {
                        let room = (s.send_capacity() - s.send_queue()).min(buf.len());
                        match s.recv_slice(&mut buf[..room]) {
                            Ok(n) if n > 0 => {
                                let _ = s.send_slice(&buf[..n]);
                            }
                            _ => break,
                        }
                    }
                    // The peer is done and everything was echoed: close too.
                    if s.state() == tcp::State::CloseWait && s.send_queue() == 0 {
                        s.close();
                    }
                }
            }
            if let Some(q) = self.query {
                match self
                    .sockets
                    .get_mut::<dns::Socket>(self.dns)
                    .get_query_result(q)
                {
                    Err(dns::GetQueryResultError::Pending) => {}
                    Ok(addrs) => {
                        super::log(format_args!("dns: ember.test A {:?}", addrs.first()));
                        self.query = None;
                    }
                    Err(_) => {
                        super::log(format_args!("dns: ember.test failed"));
                        self.query = None;
                    }
                }
            }
        }

        fn dhcp(&mut self, iface: &mut Interface) {
            let Some(h) = self.dhcp else { return };
            match self.sockets.get_mut::<dhcpv4::Socket>(h).poll() {
                None => {}
                Some(dhcpv4::Event::Configured(c)) => {
                    let (cidr, router) = (c.address, c.router);
                    let dns_server = c.dns_servers.first().copied();
                    set_address(iface, cidr, router);
                    super::log(format_args!("dhcp: bound {cidr}"));
                    #[cfg(feature = "render-status")]
                    {
                        self.status.address = Some(cidr);
                        self.status.gateway = router;
                        self.status.dns = dns_server;
                        self.status.server = Some(c.server.address);
                    }
                    if let Some(server) = dns_server {
                        let d = self.sockets.get_mut::<dns::Socket>(self.dns);
                        d.update_servers(&[IpAddress::Ipv4(server)]);
                        self.query = d
                            .start_query(
                                iface.context(),
                                "ember.test",
                                smoltcp::wire::DnsQueryType::A,
                            )
                            .ok();
                    }
                }
                Some(dhcpv4::Event::Deconfigured) => {
                    iface.update_ip_addrs(|a| a.clear());
                    iface.routes_mut().remove_default_ipv4_route();
                }
            }
        }
    }

    pub fn set_address(iface: &mut Interface, cidr: Ipv4Cidr, router: Option<Ipv4Address>) {
        iface.update_ip_addrs(|a| {
            a.clear();
            let _ = a.push(IpCidr::Ipv4(cidr));
        });
        match router {
            Some(r) => {
                let _ = iface.routes_mut().add_default_ipv4_route(r);
            }
            None => {
                iface.routes_mut().remove_default_ipv4_route();
            }
        }
    }
}

#[cfg(feature = "log")]
fn log(args: core::fmt::Arguments<'_>) {
    use core::fmt::Write as _;
    if let Ok(mut out) = hio::hstdout() {
        let _ = writeln!(out, "{args}");
    }
}

#[cfg(not(feature = "log"))]
#[cfg_attr(feature = "baseline", allow(dead_code))]
fn log(_: core::fmt::Arguments<'_>) {}

/// `--ip A.B.C.D/N --gateway G` from the QEMU command line (parsed in the
/// baseline build too).
fn parse_cli(
    line: &str,
) -> (
    Option<smoltcp::wire::Ipv4Cidr>,
    Option<smoltcp::wire::Ipv4Address>,
) {
    let mut words = line.split_ascii_whitespace();
    let (mut ip, mut gw) = (None, None);
    while let Some(w) = words.next() {
        match w {
            "--ip" => {
                ip = words.next().and_then(|v| {
                    let (a, p) = v.split_once('/')?;
                    Some(smoltcp::wire::Ipv4Cidr::new(
                        a.parse().ok()?,
                        p.parse().ok()?,
                    ))
                })
            }
            "--gateway" => gw = words.next().and_then(|v| v.parse().ok()),
            _ => {}
        }
    }
    (ip, gw)
}

#[entry]
fn main() -> ! {
    cortex_m::interrupt::disable();
    let Some(mut core) = cortex_m::Peripherals::take() else {
        fail()
    };
    // SAFETY: `main` runs once; nothing else touches the static.
    let nic = unsafe { &mut *core::ptr::addr_of_mut!(NIC) };
    let t0 = rd(0x9C);
    let mut cmdline = [0u8; 128];
    let line = command_line(&mut cmdline);
    let Some(mac) = nic.init() else {
        host_write(b"firmware: LAN9118 init failed\n");
        fail()
    };
    let seed = u64::from(t0) << 32 | u64::from(rd(0x9C));
    // SAFETY: no handler runs (PRIMASK stays set); the line only wakes WFI.
    unsafe { NVIC::unmask(Irq(IRQ)) };
    core.SYST.set_clock_source(SystClkSource::Core);
    core.SYST.enable_interrupt();
    let (mut last, mut ticks) = (rd(0x9C), 0u64);
    let mut now = move || {
        let t = rd(0x9C);
        ticks += u64::from(t.wrapping_sub(last));
        last = t;
        ticks / TICKS_PER_MS
    };

    #[cfg(not(feature = "baseline"))]
    let (mut iface, mut app) = {
        use smoltcp::iface::{Config, Interface};
        use smoltcp::wire::{EthernetAddress, HardwareAddress};
        let (ip, gw) = parse_cli(line);
        let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
        config.random_seed = seed;
        let mut iface = Interface::new(
            config,
            nic,
            smoltcp::time::Instant::from_millis(now() as i64),
        );
        if let Some(cidr) = ip {
            app::set_address(&mut iface, cidr, gw);
        }
        // SAFETY: called once.
        let app = unsafe { app::new(ip.is_none()) };
        log(format_args!("device: smoltcp mac {}", EthernetAddress(mac)));
        (iface, app)
    };
    #[cfg(feature = "baseline")]
    let _ = core::hint::black_box((parse_cli(line), mac, seed));

    let bottom = paint_stack();
    let loop_sp = cortex_m::register::msp::read() as usize;
    let (mut reported, mut next_check) = (0usize, 0u64);
    loop {
        #[cfg(not(feature = "baseline"))]
        let wait = {
            let t = smoltcp::time::Instant::from_millis(now() as i64);
            #[cfg(feature = "render-status")]
            UPTIME_MS.store(
                t.total_millis() as u32,
                core::sync::atomic::Ordering::Relaxed,
            );
            iface.poll(t, nic, &mut app.sockets);
            app.run(&mut iface);
            let t = smoltcp::time::Instant::from_millis(now() as i64);
            match iface.poll_delay(t, &app.sockets) {
                Some(d) => d.total_millis(),
                None => MAX_SLEEP_MS,
            }
        };
        #[cfg(feature = "baseline")]
        let wait = match nic.pop() {
            Some(len) => {
                send(&nic.rx[..len]);
                0
            }
            None => MAX_SLEEP_MS,
        };
        let t = now();
        if t >= next_check {
            next_check = t + 1000;
            let depth = loop_sp.saturating_sub(lowest_used(bottom));
            if depth > reported {
                reported = depth;
                host_report("firmware: stack high-water ", depth as u32, " bytes");
            }
        }
        if wait > 0 {
            sleep(nic, &mut core.SYST, wait);
        }
    }
}

fn sleep(nic: &mut Lan9118, syst: &mut SYST, ms: u64) {
    wr(0x58, u32::MAX);
    NVIC::unpend(Irq(IRQ));
    if nic.rx_waiting() {
        return;
    }
    let ticks = (ms.clamp(1, MAX_SLEEP_MS) * TICKS_PER_MS) as u32;
    syst.set_reload(ticks - 1);
    syst.clear_current();
    syst.enable_counter();
    cortex_m::asm::wfi();
    syst.disable_counter();
    SCB::clear_pendst();
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    host_write(b"firmware: panic\n");
    fail()
}

#[exception]
unsafe fn HardFault(_: &ExceptionFrame) -> ! {
    host_write(b"firmware: hard fault\n");
    fail()
}
