//! A firmware-shaped binary whose only purpose is to be measured: the stack
//! generated from `$EMBERSTACK_TOML`, kept in a static (so its state shows in
//! `.bss` as on a device), polled forever over a minimal memory-mapped NIC.
//!
//! It is never run. The NIC, clock and random source are volatile accesses
//! to a fake register block, so the optimiser must keep every receive and
//! transmit path of the stack but the NIC itself stays a few hundred bytes.
//! Its methods are `#[inline(never)]`: they are the same functions in the
//! `baseline` build (same binary without the stack), so "stack" = full −
//! baseline excludes the vector table, runtime start-up and the NIC.
#![no_std]
#![no_main]

use core::ptr::{read_volatile, write_volatile};
use cortex_m_rt::entry;
use emberstack::iface::PayloadSink;
use emberstack::nic::Nic;
#[cfg(not(any(feature = "lan9118", feature = "enc28j60")))]
use emberstack::nic::NicError;
#[cfg(any(
    feature = "baseline",
    not(any(feature = "lan9118", feature = "enc28j60"))
))]
use emberstack::nic::TxMode;
use emberstack::tcp::TcpHandle;
use emberstack::udp::{UdpDatagram, UdpHandle};
use emberstack::{App, Instant};
use panic_halt as _;

/// The generated configuration (`Device`, `Stack`, `RAM_BYTES`).
#[cfg(not(feature = "baseline"))]
#[allow(dead_code)]
mod config {
    emberstack::include_stack!();
}

/// The stack state, in `.bss` like on a real device. Its symbol size is
/// `RAM_BYTES`; the footprint script reads it from the ELF.
#[cfg(not(feature = "baseline"))]
#[no_mangle]
static mut EMBERSTACK_STATE: core::mem::MaybeUninit<config::Stack> =
    core::mem::MaybeUninit::uninit();

// A fake controller at the LAN9118's base address. Offsets:
const BASE: usize = 0x4020_0000;
/// Length of the oldest received frame without FCS; 0 when none.
#[cfg(not(any(feature = "lan9118", feature = "enc28j60")))]
const RX_LEN: usize = 0x00;
/// Read pointer into the current frame (addressable receive memory).
#[cfg(not(any(feature = "lan9118", feature = "enc28j60")))]
const RX_PTR: usize = 0x04;
/// Next four bytes at the read pointer; the pointer advances by four.
#[cfg(not(any(feature = "lan9118", feature = "enc28j60")))]
const RX_DATA: usize = 0x08;
/// Writing frees the current frame.
#[cfg(not(any(feature = "lan9118", feature = "enc28j60")))]
const RX_DUMP: usize = 0x0C;
/// Free transmit space in bytes.
#[cfg(not(any(feature = "lan9118", feature = "enc28j60")))]
const TX_FREE: usize = 0x10;
/// Writing a length starts a frame; writing 0 abandons it.
#[cfg(not(any(feature = "lan9118", feature = "enc28j60")))]
const TX_CMD: usize = 0x14;
/// Appends four bytes to the frame.
#[cfg(not(any(feature = "lan9118", feature = "enc28j60")))]
const TX_DATA: usize = 0x18;
/// Rewrite pointer (Rewrite mode).
#[cfg(not(any(feature = "lan9118", feature = "enc28j60")))]
const TX_PTR: usize = 0x1C;
/// Writes one byte at the rewrite pointer and advances it.
#[cfg(not(any(feature = "lan9118", feature = "enc28j60")))]
const TX_BYTE: usize = 0x20;
/// Writing sends the frame; reading gives its status (non-zero = error).
#[cfg(not(any(feature = "lan9118", feature = "enc28j60")))]
const TX_SEND: usize = 0x24;
/// A hardware random number.
const RNG: usize = 0x28;
/// A free-running millisecond counter.
const CLOCK: usize = 0x2C;

#[inline(always)]
fn reg_read(offset: usize) -> u32 {
    // SAFETY: a device register address; the binary is only measured.
    unsafe { read_volatile((BASE + offset) as *const u32) }
}

#[inline(always)]
#[cfg_attr(any(feature = "lan9118", feature = "enc28j60"), allow(dead_code))]
fn reg_write(offset: usize, value: u32) {
    // SAFETY: as above.
    unsafe { write_volatile((BASE + offset) as *mut u32, value) }
}

/// The NIC the build measures: the fake MMIO NIC below (a local of
/// `main`), or with the `lan9118` / `enc28j60` feature the real driver (in
/// a static, so its RAM shows in `.bss` under the symbol `NIC_DRIVER`).
#[cfg(not(any(feature = "lan9118", feature = "enc28j60")))]
#[cfg_attr(not(feature = "baseline"), allow(dead_code))]
type TheNic = MmioNic;
#[cfg(feature = "lan9118")]
type TheNic = emberstack::nic::lan9118::Lan9118;
#[cfg(feature = "enc28j60")]
type TheNic = emberstack::nic::enc28j60::Enc28j60<spi::Port>;

/// The LAN9118 at its MPS2 address, brought up with a MAC address.
#[cfg(feature = "lan9118")]
fn nic() -> &'static mut TheNic {
    use emberstack::nic::lan9118::{Lan9118, Mmio};
    #[no_mangle]
    static mut NIC_DRIVER: Lan9118 = Lan9118::new(
        // SAFETY: the LAN9118's register block on MPS2 boards; only the
        // driver touches it.
        unsafe { Mmio::new(BASE) },
    );
    let p = &raw mut NIC_DRIVER;
    // SAFETY: called once, from `main`: the only reference to the static.
    let nic = unsafe { &mut *p };
    let _ = nic.init(Some([2, 0, 0, 0, 0, 2]));
    nic
}

/// The ENC28J60 on an SPI port, brought up with a MAC address.
#[cfg(feature = "enc28j60")]
fn nic() -> &'static mut TheNic {
    use emberstack::nic::enc28j60::{Config, Enc28j60};
    #[no_mangle]
    static mut NIC_DRIVER: Enc28j60<spi::Port> = Enc28j60::new(spi::Port);
    let p = &raw mut NIC_DRIVER;
    // SAFETY: called once, from `main`: the only reference to the static.
    let nic = unsafe { &mut *p };
    let config = Config {
        mac: [2, 0, 0, 0, 0, 2],
        ..Config::default()
    };
    let _ = nic.init(config, &mut spi::Delay);
    nic
}

/// A minimal SPI master for the ENC28J60 build, shaped like an STM32F4's
/// SPI1 (data register, status flags TXE/RXNE) with chip select on a GPIO
/// set/reset register; every wait is bounded.
#[cfg(feature = "enc28j60")]
mod spi {
    use core::convert::Infallible;
    use core::ptr::{read_volatile, write_volatile};
    use embedded_hal::spi::{ErrorType, Operation, SpiDevice};

    const SPI_SR: usize = 0x4001_3008;
    const SPI_DR: usize = 0x4001_300C;
    const GPIO_BSRR: usize = 0x4002_0018;
    const CS_PIN: u32 = 4;
    const TXE: u32 = 1 << 1;
    const RXNE: u32 = 1 << 0;

    fn wait(flag: u32) {
        for _ in 0..1000 {
            // SAFETY: a device register address; the binary is only measured.
            if unsafe { read_volatile(SPI_SR as *const u32) } & flag != 0 {
                return;
            }
        }
    }

    fn exchange(out: u8) -> u8 {
        wait(TXE);
        // SAFETY: as above.
        unsafe { write_volatile(SPI_DR as *mut u32, u32::from(out)) };
        wait(RXNE);
        // SAFETY: as above.
        unsafe { read_volatile(SPI_DR as *const u32) as u8 }
    }

    fn select(on: bool) {
        let bit = if on { 1 << (CS_PIN + 16) } else { 1 << CS_PIN };
        // SAFETY: as above.
        unsafe { write_volatile(GPIO_BSRR as *mut u32, bit) };
    }

    /// The SPI port with the chip's select line.
    pub struct Port;

    impl ErrorType for Port {
        type Error = Infallible;
    }

    impl SpiDevice for Port {
        #[inline(never)]
        fn transaction(&mut self, ops: &mut [Operation<'_, u8>]) -> Result<(), Infallible> {
            select(true);
            for op in ops {
                match op {
                    Operation::Read(buf) => buf.iter_mut().for_each(|b| *b = exchange(0)),
                    Operation::Write(buf) => buf.iter().for_each(|&b| {
                        exchange(b);
                    }),
                    Operation::Transfer(r, w) => {
                        for i in 0..r.len().max(w.len()) {
                            let got = exchange(w.get(i).copied().unwrap_or(0));
                            if let Some(x) = r.get_mut(i) {
                                *x = got;
                            }
                        }
                    }
                    Operation::TransferInPlace(buf) => {
                        buf.iter_mut().for_each(|b| *b = exchange(*b))
                    }
                    Operation::DelayNs(ns) => cortex_m::asm::delay(*ns / 6),
                }
            }
            select(false);
            Ok(())
        }
    }

    /// Busy-wait delays at 168 MHz.
    pub struct Delay;
    impl embedded_hal::delay::DelayNs for Delay {
        fn delay_ns(&mut self, ns: u32) {
            cortex_m::asm::delay(ns / 6);
        }
    }
}

/// The minimal NIC: receive memory addressed by a pointer register, a
/// transmit port taking words.
#[cfg(not(any(feature = "lan9118", feature = "enc28j60")))]
struct MmioNic {
    rx_len: usize,
    rx_pos: usize,
    tx_word: u32,
    tx_bytes: u32,
}

#[cfg(not(any(feature = "lan9118", feature = "enc28j60")))]
impl MmioNic {
    const fn new() -> Self {
        MmioNic {
            rx_len: 0,
            rx_pos: 0,
            tx_word: 0,
            tx_bytes: 0,
        }
    }
}

#[cfg(not(any(feature = "lan9118", feature = "enc28j60")))]
impl Nic for MmioNic {
    #[cfg(not(feature = "tx-rewrite"))]
    const TX_MODE: TxMode = TxMode::LengthFirst;
    #[cfg(feature = "tx-rewrite")]
    const TX_MODE: TxMode = TxMode::Rewrite;

    #[inline(never)]
    fn rx_pending(&mut self) -> Option<usize> {
        if self.rx_len == 0 {
            let len = reg_read(RX_LEN) as usize;
            if len == 0 {
                return None;
            }
            self.rx_len = len.min(emberstack::nic::MAX_FRAME_LEN);
            self.rx_pos = 0;
            reg_write(RX_PTR, 0);
        }
        Some(self.rx_len)
    }

    #[inline(never)]
    fn rx_read(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.rx_len.saturating_sub(self.rx_pos));
        for chunk in buf[..n].chunks_mut(4) {
            let word = reg_read(RX_DATA).to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        self.rx_pos += n;
        if !n.is_multiple_of(4) {
            reg_write(RX_PTR, self.rx_pos as u32);
        }
        n
    }

    #[inline(never)]
    fn rx_seek(&mut self, offset: usize) {
        self.rx_pos = offset.min(self.rx_len);
        reg_write(RX_PTR, self.rx_pos as u32);
    }

    #[inline(never)]
    fn rx_dump(&mut self) {
        if self.rx_len != 0 {
            reg_write(RX_DUMP, 1);
            self.rx_len = 0;
            self.rx_pos = 0;
        }
    }

    #[inline(never)]
    fn tx_ready(&mut self, len: usize) -> bool {
        reg_read(TX_FREE) as usize >= len + 8
    }

    #[inline(never)]
    fn tx_begin(&mut self, len: usize) -> Result<(), NicError> {
        if len > emberstack::nic::MAX_FRAME_LEN {
            return Err(NicError::TooLong);
        }
        if !self.tx_ready(len) {
            return Err(NicError::Busy);
        }
        self.tx_word = 0;
        self.tx_bytes = 0;
        reg_write(TX_CMD, len as u32);
        Ok(())
    }

    #[inline(never)]
    fn tx_write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.tx_word |= u32::from(b) << (8 * (self.tx_bytes % 4));
            self.tx_bytes += 1;
            if self.tx_bytes.is_multiple_of(4) {
                reg_write(TX_DATA, self.tx_word);
                self.tx_word = 0;
            }
        }
    }

    #[inline(never)]
    fn tx_rewrite(&mut self, offset: usize, bytes: &[u8]) {
        if Self::TX_MODE == TxMode::Rewrite {
            reg_write(TX_PTR, offset as u32);
            for &b in bytes {
                reg_write(TX_BYTE, u32::from(b));
            }
        }
    }

    #[inline(never)]
    fn tx_send(&mut self) -> Result<(), NicError> {
        if !self.tx_bytes.is_multiple_of(4) {
            reg_write(TX_DATA, self.tx_word);
        }
        reg_write(TX_SEND, 1);
        match reg_read(TX_SEND) {
            0 => Ok(()),
            _ => Err(NicError::Device),
        }
    }

    #[inline(never)]
    fn tx_abort(&mut self) {
        reg_write(TX_CMD, 0);
        self.tx_word = 0;
        self.tx_bytes = 0;
    }
}

fn now() -> Instant {
    Instant::from_millis(u64::from(reg_read(CLOCK)))
}

/// What the TCP service sends on every connection (a static page).
const PAGE: &[u8] = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";

/// The application half, like the reference device's without the log:
/// UDP echo on port 7, one TCP listener that sends a static page (so TCP
/// receive, send and retransmission are all reachable when `[tcp]` has
/// sockets), randomness from the hardware.
struct FwApp {
    echo: Option<UdpHandle>,
    /// With `--mail`: both mail clients, a message and a mailbox.
    #[cfg(all(feature = "mail", not(feature = "baseline")))]
    mail: mail::Mail,
}

impl App for FwApp {
    fn random_u32(&mut self) -> u32 {
        reg_read(RNG)
    }

    fn tcp_produce(&mut self, _h: TcpHandle, offset: u32, max: usize, sink: &mut dyn PayloadSink) {
        #[cfg(all(feature = "mail", not(feature = "baseline")))]
        if self.mail.owns(_h) {
            return self.mail.produce(_h, offset, max, sink);
        }
        let rest = PAGE.get(offset as usize..).unwrap_or_default();
        sink.write(&rest[..rest.len().min(max)]);
    }

    #[cfg(all(feature = "mail", not(feature = "baseline")))]
    fn tcp_event(&mut self, h: TcpHandle, e: emberstack::tcp::TcpEvent) {
        self.mail.smtp.tcp_event(h, e);
        self.mail.pop3.tcp_event(h, e);
    }

    #[cfg(all(feature = "mail", not(feature = "baseline")))]
    fn tcp_received<N: Nic>(
        &mut self,
        h: TcpHandle,
        d: &mut emberstack::tcp::TcpReader<'_, N>,
    ) -> usize {
        let m = &mut self.mail;
        if m.smtp.owns(h) {
            return m.smtp.tcp_received(h, d, &m.msg);
        }
        m.pop3.tcp_received(h, d, &mut m.inbox)
    }

    #[cfg(all(feature = "mail", not(feature = "baseline")))]
    fn tcp_wants_close(&mut self, h: TcpHandle) -> bool {
        self.mail.smtp.tcp_wants_close(h) || self.mail.pop3.tcp_wants_close(h)
    }

    fn udp_datagram<N: Nic>(&mut self, d: &mut UdpDatagram<'_, '_, N>) {
        if d.socket().is_some() && d.socket() == self.echo {
            let _ = d.echo();
        }
    }
}

/// `--mail`: the SMTP and POP3 clients of `[smtp]`/`[pop3]`, started by a
/// register, with a message generated from the position (4 KB attachment)
/// and a mailbox that writes what it gets to a register.
#[cfg(all(feature = "mail", not(feature = "baseline")))]
mod mail {
    use super::{config, reg_read, reg_write};
    use emberstack::iface::PayloadSink;
    use emberstack::nic::Nic;
    use emberstack::pop3::{Disposition, Line, Mailbox, MessageInfo, Pop3Client};
    use emberstack::smtp::{Attachment, Outgoing, Part, SmtpClient};
    use emberstack::tcp::TcpHandle;
    use emberstack::Instant;

    /// Starts a send (bit 0) or a check (bit 1); mailbox output.
    const MAIL: usize = 0x30;

    pub struct Msg;
    impl Outgoing for Msg {
        fn from(&self) -> &str {
            "ember@example.com"
        }
        fn to(&self, i: usize) -> Option<&str> {
            (i == 0).then_some("admin@example.com")
        }
        fn subject(&self) -> &str {
            "status"
        }
        fn attachment(&self) -> Option<Attachment<'_>> {
            Some(Attachment {
                file_name: "status.bin",
                content_type: "application/octet-stream",
            })
        }
        fn read(&mut self, part: Part, at: u32, buf: &mut [u8]) -> usize {
            let len: u32 = match part {
                Part::Text => 200,
                Part::Attachment => 4096,
            };
            let n = (len.saturating_sub(at) as usize).min(buf.len());
            for (i, b) in buf[..n].iter_mut().enumerate() {
                *b = (at as usize + i) as u8 | 0x20;
            }
            n
        }
    }

    pub struct Inbox;
    impl Mailbox for Inbox {
        fn message(&mut self, info: &MessageInfo<'_>) {
            reg_write(MAIL, info.subject.len() as u32);
        }
        fn line(&mut self, _: u32, line: Line<'_>) {
            reg_write(MAIL, line.bytes.len() as u32);
        }
        fn end(&mut self, n: u32) -> Disposition {
            if reg_read(MAIL) & (1 << n.min(31)) != 0 {
                Disposition::Delete
            } else {
                Disposition::Keep
            }
        }
    }

    pub struct Mail {
        pub smtp: SmtpClient<config::Device>,
        pub pop3: Pop3Client<config::Device>,
        pub msg: Msg,
        pub inbox: Inbox,
    }

    impl Mail {
        pub fn new() -> Self {
            Mail {
                smtp: SmtpClient::new(),
                pop3: Pop3Client::new(),
                msg: Msg,
                inbox: Inbox,
            }
        }

        pub fn owns(&self, h: TcpHandle) -> bool {
            self.smtp.owns(h) || self.pop3.owns(h)
        }

        pub fn produce(
            &mut self,
            h: TcpHandle,
            offset: u32,
            max: usize,
            sink: &mut dyn PayloadSink,
        ) {
            if self.smtp.owns(h) {
                self.smtp.tcp_produce(h, offset, max, sink, &mut self.msg);
            } else {
                self.pop3.tcp_produce(h, offset, max, sink, &self.inbox);
            }
        }

        pub fn poll<N: Nic>(&mut self, stack: &mut config::Stack, nic: &mut N, now: Instant) {
            let go = reg_read(MAIL);
            if go & 1 != 0 {
                let _ = self
                    .smtp
                    .send(&self.msg, None, u64::from(reg_read(super::RNG)));
            }
            if go & 2 != 0 {
                let _ = self.pop3.receive(&self.inbox);
            }
            let mut random = || reg_read(super::RNG);
            if let Some(r) = self.smtp.poll(stack, nic, now, &self.msg, &mut random) {
                reg_write(MAIL, r.is_ok() as u32);
            }
            if let Some(r) = self.pop3.poll(stack, nic, now, &self.inbox, &mut random) {
                reg_write(MAIL, r.map_or(0, |s| s.messages));
            }
        }
    }
}

/// The UDP echo service port (RFC 862), as on the reference device.
#[cfg(not(feature = "baseline"))]
const ECHO_PORT: u16 = 7;
/// The TCP service's port.
#[cfg(not(feature = "baseline"))]
const PAGE_PORT: u16 = 80;

#[cfg(not(feature = "baseline"))]
#[entry]
fn main() -> ! {
    let state = &raw mut EMBERSTACK_STATE;
    // SAFETY: `main` runs once and is the only user of the static.
    let stack: &'static mut config::Stack = unsafe { (*state).write(config::Stack::new()) };
    let mut app = FwApp {
        echo: stack.udp_bind(ECHO_PORT).ok(),
        #[cfg(feature = "mail")]
        mail: mail::Mail::new(),
    };
    let _ = stack.tcp_listen(PAGE_PORT);
    #[cfg(not(any(feature = "lan9118", feature = "enc28j60")))]
    let mut local = MmioNic::new();
    #[cfg(not(any(feature = "lan9118", feature = "enc28j60")))]
    let nic = &mut local;
    #[cfg(any(feature = "lan9118", feature = "enc28j60"))]
    let nic = nic();
    loop {
        let now = now();
        let busy = stack.poll(now, nic, &mut app);
        #[cfg(feature = "mail")]
        app.mail.poll(stack, nic, now);
        if !busy && stack.poll_at(now).is_none_or(|t| t > now) {
            // A device sleeps until the NIC interrupt or its timer.
            cortex_m::asm::wfi();
        }
    }
}

/// The same skeleton without the stack: every NIC method, the clock and the
/// random source stay, so full − baseline is the stack's own share.
#[cfg(feature = "baseline")]
#[entry]
fn main() -> ! {
    let mut app = FwApp { echo: None };
    #[cfg(not(any(feature = "lan9118", feature = "enc28j60")))]
    let mut local = MmioNic::new();
    #[cfg(not(any(feature = "lan9118", feature = "enc28j60")))]
    let nic = &mut local;
    #[cfg(any(feature = "lan9118", feature = "enc28j60"))]
    let nic = nic();
    let mut buf = [0u8; 16];
    loop {
        let now = now();
        if let Some(len) = nic.rx_pending() {
            let n = nic.rx_read(&mut buf);
            nic.rx_seek(n);
            if nic.tx_ready(len) && nic.tx_begin(len).is_ok() {
                nic.tx_write(&buf[..n]);
                if <TheNic as Nic>::TX_MODE == TxMode::Rewrite {
                    nic.tx_rewrite(0, &buf[..2]);
                }
                if nic.tx_send().is_err() {
                    nic.tx_abort();
                }
            }
            nic.rx_dump();
        } else if app.random_u32() > now.millis() {
            cortex_m::asm::wfi();
        }
    }
}
