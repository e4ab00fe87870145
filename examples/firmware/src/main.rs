//! The reference device as firmware for QEMU's `mps2-an385` board
//! (Cortex-M3, SMSC LAN9118 at 0x4020_0000, its interrupt on IRQ 13).
//!
//! The same application ([`ember_device::ReferenceDevice`]) and the same
//! `stack.toml` as the Linux example (`examples/device.rs`); only the board
//! support differs:
//!
//! - NIC: [`emberstack::nic::lan9118::Lan9118`] (stages one received frame
//!   in RAM; transmits length-first straight into the FIFO).
//! - Clock: the LAN9118's free-running 25 MHz counter, counted into 64-bit
//!   milliseconds (the main loop never sleeps longer than [`MAX_SLEEP_MS`],
//!   far less than its 171-second wrap).
//! - Sleep: with interrupts masked (PRIMASK), `WFI` until the LAN9118's
//!   receive interrupt or SysTick (25 MHz core clock) set for the stack's
//!   next deadline; no handler ever runs, the pending bits are cleared.
//! - Entropy: the board has no RNG. [`Entropy`] folds 32 rounds of the
//!   free-running counter read around a semihosting call (its host-side
//!   latency jitters), the host's nanosecond clock (`SYS_ELAPSED`), its
//!   wall-clock seconds (`SYS_TIME`) and the MAC into the 32-byte seed of
//!   the application's ChaCha12 CSPRNG (ISN key, ports, ids).
//! - Log: one semihosting write per line, the same lines as the host
//!   device (`dhcp: bound ...`). The `quiet` feature drops them.
//! - Options: the QEMU command line (`-append`), read with semihosting's
//!   `SYS_GET_CMDLINE`: `--ip A.B.C.D/N --gateway G --dns D --no-dhcp
//!   --mac M --tcp-send A.B.C.D:PORT --bytes N --sntp-server S --resolve
//!   NAME --resolve-mx DOMAIN --smtp-server S --smtp-mx --pop3-server S
//!   --mail-user U --mail-password P --mail-to A --mail-from A
//!   --check-mail --mail-delete SUBJECT`, as the host device takes them
//!   (and `--panic`, which tests the failure path). The status email's
//!   text is the generated report and its attachment the generated 4 KB
//!   (the host's `--mail-body`/`--mail-attach` read files).
//! - Faults: a panic or a HardFault prints what it can and ends QEMU with a
//!   failure status (semihosting `exit`), so a test sees it.
//!
//! It also reports the main stack's high-water mark below the main loop
//! (`firmware: stack high-water N bytes`) whenever it grows, checked about
//! once a second when idle: the stack's and application's share of the
//! call stack, which the footprint script reads.
#![no_std]
#![no_main]

#[cfg(not(feature = "quiet"))]
use core::fmt::Write as _;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::{NVIC, SCB, SYST};
use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hio, nr, syscall1};
use emberstack::nic::lan9118::{Lan9118, Mmio};

/// The LAN9118's base address on mps2-an385 / an386.
const LAN9118_BASE: usize = 0x4020_0000;
/// The LAN9118's interrupt line on the MPS2 boards.
const LAN9118_IRQ: u16 = 13;
/// Ticks per millisecond of the free-running counter and of SysTick.
const TICKS_PER_MS: u32 = 25_000;
/// Longest single sleep: SysTick's 24-bit reload at 25 MHz is 671 ms.
const MAX_SLEEP_MS: u64 = 600;
/// Bytes of call stack painted below the main loop to find the high-water mark.
const PAINT_BYTES: usize = 16 * 1024;
const PAINT: u32 = 0xC0DE_5EED;

#[derive(Clone, Copy)]
struct Irq(u16);
// SAFETY: 13 is a valid external interrupt number on the MPS2 boards.
unsafe impl cortex_m::interrupt::InterruptNumber for Irq {
    fn number(self) -> u16 {
        self.0
    }
}

/// Writes raw bytes to the host's stdout (semihosting), ignoring failure:
/// without a debugger there is nowhere else to say it.
fn host_write(bytes: &[u8]) {
    if let Ok(mut out) = hio::hstdout() {
        let _ = out.write_all(bytes);
    }
}

/// Writes `label` and a decimal number and a newline, without core::fmt
/// (so the `quiet` build has none).
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

fn host_hex(label: &str, value: u32) {
    let mut buf = [0u8; 80];
    let label = &label.as_bytes()[..label.len().min(60)];
    buf[..label.len()].copy_from_slice(label);
    let mut n = label.len();
    for shift in (0..8).rev() {
        buf[n] = b"0123456789abcdef"[((value >> (shift * 4)) & 0xf) as usize];
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

/// The log sink: one semihosting write per line.
#[cfg(not(feature = "baseline"))]
struct Semihost;

#[cfg(not(any(feature = "quiet", feature = "baseline")))]
impl ember_device::Log for Semihost {
    fn line(&mut self, args: core::fmt::Arguments<'_>) {
        let mut line = LineBuf {
            buf: [0; 128],
            len: 0,
        };
        let _ = ember_device::OneLine(&mut line).write_fmt(args);
        let _ = line.write_str("\n");
        line.flush();
    }
}

#[cfg(all(feature = "quiet", not(feature = "baseline")))]
impl ember_device::Log for Semihost {
    fn keeps_lines(&self) -> bool {
        false
    }
    fn line(&mut self, _args: core::fmt::Arguments<'_>) {}
}

/// Collects a line so that it leaves in one semihosting call (each is a
/// trap into QEMU); longer lines leave in pieces.
#[cfg(not(feature = "quiet"))]
struct LineBuf {
    buf: [u8; 128],
    len: usize,
}

#[cfg(not(feature = "quiet"))]
impl LineBuf {
    fn flush(&mut self) {
        host_write(&self.buf[..self.len]);
        self.len = 0;
    }
}

#[cfg(not(feature = "quiet"))]
impl core::fmt::Write for LineBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &b in s.as_bytes() {
            if self.len == self.buf.len() {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        Ok(())
    }
}

/// The QEMU command line (`-kernel` path and `-append` text), or "" when
/// the host does not give one.
fn command_line(buf: &'static mut [u8]) -> &'static str {
    let mut block = [buf.as_mut_ptr() as usize, buf.len().saturating_sub(1)];
    // SAFETY: SYS_GET_CMDLINE writes at most block[1] bytes into `buf` and
    // the length into block[1]; both live across the call.
    let r = unsafe { syscall1(nr::GET_CMDLINE, block.as_mut_ptr() as usize) };
    if r != 0 {
        return "";
    }
    let len = block[1].min(buf.len());
    let buf: &'static [u8] = buf;
    core::str::from_utf8(&buf[..len]).unwrap_or("")
}

/// The board's entropy, gathered once at boot into the CSPRNG's seed.
///
/// mps2-an385 (and QEMU's model of it) has no random number generator.
/// What varies from boot to boot: when the LAN9118's 25 MHz counter is
/// read relative to semihosting calls (each is a trap into the host, whose
/// latency jitters by microseconds: tens of counter ticks), the host's
/// nanosecond clock (`SYS_ELAPSED`: time since QEMU started, which
/// depends on the host's load) and its wall-clock seconds (`SYS_TIME`).
/// Each sample is folded into four 64-bit lanes with the splitmix64
/// finaliser. A board with a TRNG (an STM32's RNG, an nRF's RNG) should
/// seed from it instead; this is the best this board has.
#[derive(Default)]
struct Entropy {
    lanes: [u64; 4],
    samples: usize,
}

impl Entropy {
    /// Rounds of timing samples in [`Entropy::stir`].
    const ROUNDS: usize = 32;

    fn add(&mut self, sample: u64) {
        let i = self.samples % 4;
        let prev = self.lanes[(i + 3) % 4];
        self.lanes[i] = mix(self.lanes[i] ^ sample ^ prev.rotate_left(23));
        self.samples = self.samples.wrapping_add(1);
    }

    /// Samples the counter around semihosting clock calls.
    fn stir(&mut self, nic: &mut Lan9118) {
        let mut block = [0u32; 2];
        for _ in 0..Self::ROUNDS {
            let before = nic.free_run();
            // SAFETY: SYS_ELAPSED writes two words into `block`.
            let r = unsafe { syscall1(nr::ELAPSED, block.as_mut_ptr() as usize) };
            let after = nic.free_run();
            self.add(u64::from(before) | u64::from(after) << 32);
            if r == 0 {
                self.add(u64::from(block[0]) | u64::from(block[1]) << 32);
            }
        }
        // SAFETY: SYS_TIME takes no argument.
        let secs = unsafe { syscall1(nr::TIME, 0) };
        self.add(secs as u64);
    }

    /// The 32-byte seed.
    #[cfg(not(feature = "baseline"))]
    fn seed(&self) -> [u8; 32] {
        let mut seed = [0u8; 32];
        for (chunk, lane) in seed.chunks_exact_mut(8).zip(self.lanes) {
            chunk.copy_from_slice(&mix(lane).to_le_bytes());
        }
        seed
    }
}

/// splitmix64 finaliser: spreads the entropy samples over 64 bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Milliseconds since boot from the LAN9118's 32-bit 25 MHz counter.
///
/// Whole milliseconds and the ticks of the one under way are kept apart,
/// so converting needs only 32-bit division (a 64-bit one would link
/// about 0.9 KB of compiler-builtins into every build).
struct Clock {
    last: u32,
    millis: u64,
    /// Ticks into the current millisecond, below [`TICKS_PER_MS`].
    part: u32,
}

impl Clock {
    fn now(&mut self, nic: &mut Lan9118) -> emberstack::Instant {
        let t = nic.free_run();
        let ticks = t.wrapping_sub(self.last);
        self.last = t;
        let per_ms = TICKS_PER_MS;
        // `part` < 25 000 and `ticks % per_ms` < 25 000: no overflow.
        let part = self.part + ticks % per_ms;
        self.millis += u64::from(ticks / per_ms + part / per_ms);
        self.part = part % per_ms;
        emberstack::Instant::from_millis(self.millis)
    }
}

/// Sleeps until the NIC's interrupt, SysTick after `ms`, or any other
/// interrupt. Interrupts stay masked: WFI wakes on a pending one anyway.
fn sleep(nic: &mut Lan9118, syst: &mut SYST, ms: u64) {
    nic.ack_interrupts();
    NVIC::unpend(Irq(LAN9118_IRQ));
    if nic.rx_waiting() {
        return; // arrived before the acknowledgement: no edge to wait for
    }
    // At most 600 ms: 15 000 000 ticks, well inside SysTick's 24 bits.
    let ticks = ms.clamp(1, MAX_SLEEP_MS) as u32 * TICKS_PER_MS;
    syst.set_reload(ticks - 1);
    syst.clear_current();
    syst.enable_counter();
    cortex_m::asm::wfi();
    syst.disable_counter();
    SCB::clear_pendst();
}

/// Paints the call stack below the caller so `high_water` can find how
/// deep it went. Returns the lowest painted address.
#[inline(never)]
fn paint_stack() -> usize {
    let top = (cortex_m::register::msp::read() as usize - 64) & !3;
    let bottom = top - PAINT_BYTES;
    let mut p = bottom;
    while p < top {
        // SAFETY: below the current stack pointer (free stack, no
        // interrupt handler ever runs) and above .bss (4 MB of RAM).
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
    bottom
}

/// The lowest address the stack reached since painting.
fn lowest_used(bottom: usize) -> usize {
    let mut p = bottom;
    let top = bottom + PAINT_BYTES;
    // SAFETY: the painted region, only read.
    while p < top && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    p
}

#[cfg(not(feature = "baseline"))]
mod device {
    //! The configured stack and the shared application.
    #[cfg(custom_config)]
    #[allow(dead_code)] // the generated `Stack` and `RAM_BYTES` go unused
    mod custom {
        emberstack::include_stack!();
    }
    /// The configuration: stack.toml, or `EMBER_FIRMWARE_TOML` (build.rs).
    #[cfg(custom_config)]
    pub type Config = custom::Device;
    #[cfg(not(custom_config))]
    pub type Config = ember_device::Device;

    /// The device, in `.bss` like any firmware's state.
    pub type Device = ember_device::ReferenceDevice<Config, super::Semihost>;
}

/// Options from the command line (parsed in the baseline build too, so
/// that the footprint's "stack" share does not include them). The words
/// borrow the command-line buffer, a static: the mail options keep them.
struct Cli {
    options: ember_device::Options,
    sntp_server: Option<&'static str>,
    resolve: [Option<&'static str>; 4],
    resolve_mx: [Option<&'static str>; 4],
}

fn parse_ipv4(s: &str) -> Option<emberstack::wire::Ipv4Address> {
    s.parse::<core::net::Ipv4Addr>()
        .ok()
        .map(|a| emberstack::wire::Ipv4Address(a.octets()))
}

/// Parses the host device's options; `Err` names the bad argument.
fn parse_cli(line: &'static str) -> Result<Cli, &'static str> {
    use emberstack::config::StaticIpv4;
    use emberstack::wire::{EthernetAddress, Ipv4Cidr};
    let mut cli = Cli {
        options: ember_device::Options::default(),
        sntp_server: None,
        resolve: [None; 4],
        resolve_mx: [None; 4],
    };
    let (mut ip, mut gateway, mut dns, mut send, mut bytes) = (None, None, None, None, None);
    // The first word is the kernel's file name, unless QEMU gave only args.
    let mut words = line
        .split_ascii_whitespace()
        .skip_while(|w| !w.starts_with("--"));
    while let Some(flag) = words.next() {
        let mut value = || words.next().ok_or(flag);
        match flag {
            "--ip" => {
                let v = value()?;
                let (a, p) = v.split_once('/').ok_or(v)?;
                let prefix = p
                    .parse::<u8>()
                    .ok()
                    .filter(|p| (1..=32).contains(p))
                    .ok_or(v)?;
                ip = Some(Ipv4Cidr::new(parse_ipv4(a).ok_or(v)?, prefix));
            }
            "--gateway" => gateway = Some(parse_ipv4(value()?).ok_or(flag)?),
            "--dns" => dns = Some(parse_ipv4(value()?).ok_or(flag)?),
            "--no-dhcp" => cli.options.no_dhcp = true,
            "--mac" => {
                let v = value()?;
                let mut mac = [0u8; 6];
                let mut parts = v.split([':', '-']);
                for b in &mut mac {
                    *b = parts
                        .next()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                        .ok_or(v)?;
                }
                let mac = EthernetAddress(mac);
                if parts.next().is_some() || !mac.is_unicast() {
                    return Err(v);
                }
                cli.options.mac = Some(mac);
            }
            "--tcp-send" => {
                let v = value()?;
                send = Some(v.parse::<core::net::SocketAddrV4>().map_err(|_| v)?);
            }
            "--bytes" => {
                let v = value()?;
                bytes = Some(v.parse::<u32>().map_err(|_| v)?);
            }
            "--sntp-server" => cli.sntp_server = Some(value()?),
            "--smtp-server" => cli.options.mail.smtp_server = Some(value()?),
            "--smtp-mx" => cli.options.mail.smtp_mx = true,
            "--pop3-server" => cli.options.mail.pop3_server = Some(value()?),
            "--mail-user" => cli.options.mail.user = Some(value()?),
            "--mail-password" => cli.options.mail.password = Some(value()?),
            "--mail-to" => cli.options.mail.to = Some(value()?),
            "--mail-from" => cli.options.mail.from = Some(value()?),
            "--check-mail" => cli.options.mail.check_at_start = true,
            "--mail-delete" => cli.options.mail.delete_matching = Some(value()?),
            "--resolve" | "--resolve-mx" => {
                let v = value()?;
                let list = if flag == "--resolve" {
                    &mut cli.resolve
                } else {
                    &mut cli.resolve_mx
                };
                *list.iter_mut().find(|s| s.is_none()).ok_or(flag)? = Some(v);
            }
            // The failure path, for the tests: QEMU must end with status 1.
            "--panic" => panic!("requested with --panic"),
            other => return Err(other),
        }
    }
    cli.options.ipv4 = ip.map(|cidr| StaticIpv4 { cidr, gateway, dns });
    cli.options.tcp_send = match (send, bytes) {
        (Some(a), Some(n)) => Some((
            emberstack::udp::Endpoint::new(
                emberstack::wire::Ipv4Address(a.ip().octets()),
                a.port(),
            ),
            n,
        )),
        (None, None) => None,
        _ => return Err("--tcp-send"),
    };
    Ok(cli)
}

/// The size of the configured stack's state (`RAM_BYTES`), for the
/// footprint script, which reads it from the ELF (4 bytes of flash).
#[cfg(not(feature = "baseline"))]
#[no_mangle]
#[used]
static EMBERSTACK_RAM_BYTES: u32 = core::mem::size_of::<emberstack::Stack<device::Config>>() as u32;

/// The RAM of the protocol state the application embeds rather than the
/// stack holds: the mail clients (`MAIL_RAM_BYTES`) and the HTTP server's
/// connections (`web::RAM_BYTES`), for the footprint script, which counts
/// them with the stack's state.
#[cfg(not(feature = "baseline"))]
#[no_mangle]
#[used]
static EMBERSTACK_APP_PROTOCOL_RAM_BYTES: u32 =
    (core::mem::size_of::<<device::Config as emberstack::Config>::Smtp>()
        + core::mem::size_of::<<device::Config as emberstack::Config>::Pop3>()
        + ember_device::generated::web::RAM_BYTES) as u32;

/// Bytes of web content (the site in `web/`) in flash, for the footprint
/// script, which reports the site apart from the code that serves it.
#[cfg(not(feature = "baseline"))]
#[no_mangle]
#[used]
static EMBERSTACK_WEB_ROM_BYTES: u32 = ember_device::generated::web::ROM_BYTES as u32;

/// The NIC, in `.bss` (its receive staging buffer is most of it; as a
/// `MaybeUninit` it needs no initial image in flash).
static mut NIC: core::mem::MaybeUninit<Lan9118> = core::mem::MaybeUninit::uninit();

/// The QEMU command line; static because the parsed options borrow it for
/// the device's lifetime (mail server names and credentials).
static mut CMDLINE: [u8; CMDLINE_BYTES] = [0; CMDLINE_BYTES];
/// Room for the kernel's path and the longest option list the tests pass.
const CMDLINE_BYTES: usize = 512;

#[cfg(not(feature = "baseline"))]
static mut DEVICE: core::mem::MaybeUninit<device::Device> = core::mem::MaybeUninit::uninit();

#[entry]
fn main() -> ! {
    cortex_m::interrupt::disable();
    let Some(mut core) = cortex_m::Peripherals::take() else {
        fail()
    };
    // SAFETY: `main` runs once; nothing else touches the static.
    let nic: &'static mut Lan9118 = unsafe { &mut *core::ptr::addr_of_mut!(NIC) }.write(
        // SAFETY: the board's LAN9118; this driver is its only user.
        Lan9118::new(unsafe { Mmio::new(LAN9118_BASE) }),
    );
    let mut entropy = Entropy::default();
    entropy.add(u64::from(nic.free_run()));
    // SAFETY: `main` runs once; nothing else touches the static.
    let line = command_line(unsafe { &mut *core::ptr::addr_of_mut!(CMDLINE) });
    entropy.add(u64::from(nic.free_run()));

    let cli = match parse_cli(line) {
        Ok(c) => c,
        Err(bad) => {
            host_write(b"firmware: bad argument: ");
            host_write(bad.as_bytes());
            host_write(b"\n");
            fail()
        }
    };
    #[cfg(feature = "baseline")]
    let cli = core::hint::black_box(cli);
    let mac = match nic.init(cli.options.mac.map(|m| m.0)) {
        Ok(mac) => mac,
        Err(e) => {
            host_write(b"firmware: LAN9118 init failed\n");
            let _ = e;
            fail()
        }
    };
    entropy.add(u64::from(nic.free_run()));
    entropy.add(u64::from_le_bytes([
        mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], 0, 0,
    ]));
    entropy.stir(nic);
    nic.enable_rx_interrupt();
    // SAFETY: no handler runs (PRIMASK stays set); the line only wakes WFI.
    unsafe { NVIC::unmask(Irq(LAN9118_IRQ)) };
    core.SYST.set_clock_source(SystClkSource::Core);
    core.SYST.enable_interrupt();
    let mut clock = Clock {
        last: nic.free_run(),
        millis: 0,
        part: 0,
    };

    #[cfg(not(feature = "baseline"))]
    let device: &'static mut device::Device = {
        use ember_device::Log as _;
        Semihost.line(format_args!(
            "device: qemu mps2-an385 lan9118 mac {}",
            emberstack::wire::EthernetAddress(mac)
        ));
        let mut options = cli.options;
        options.mac = Some(emberstack::wire::EthernetAddress(mac));
        entropy.add(u64::from(nic.free_run()));
        options.seed = entropy.seed();
        // SAFETY: `main` runs once; nothing else touches the static.
        let slot = unsafe { &mut *core::ptr::addr_of_mut!(DEVICE) };
        let device = slot.write(device::Device::new(options, Semihost));
        if let Some(server) = cli.sntp_server {
            device.start_sntp(server);
        }
        for name in cli.resolve.iter().flatten() {
            device.resolve(name);
        }
        for domain in cli.resolve_mx.iter().flatten() {
            device.resolve_mx(domain);
        }
        device
    };
    #[cfg(feature = "baseline")]
    let _ = entropy;

    let bottom = paint_stack();
    let loop_sp = cortex_m::register::msp::read() as usize;
    let mut reported = 0usize;
    let mut next_check = emberstack::Instant::ZERO;
    loop {
        #[cfg(not(feature = "baseline"))]
        let wait = {
            let mut rounds = 0;
            while device.poll(clock.now(nic), nic) && rounds < 64 {
                rounds += 1;
            }
            let now = clock.now(nic);
            match device.poll_at(now) {
                Some(at) => at.since(now).millis(),
                None => MAX_SLEEP_MS,
            }
        };
        #[cfg(feature = "baseline")]
        let wait = baseline_echo(nic);

        let now = clock.now(nic);
        if now >= next_check {
            next_check = now.after(emberstack::Duration::from_millis(1000));
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

/// The baseline's stand-in for the stack: bounce each frame back unchanged,
/// so every NIC method stays in the binary.
#[cfg(feature = "baseline")]
fn baseline_echo(nic: &mut Lan9118) -> u64 {
    use emberstack::nic::Nic;
    let Some(len) = nic.rx_pending() else {
        return MAX_SLEEP_MS;
    };
    let mut buf = [0u8; 64];
    if nic.tx_ready(len) && nic.tx_begin(len).is_ok() {
        let mut at = 0;
        while at < len {
            nic.rx_seek(at);
            let n = nic.rx_read(&mut buf);
            if n == 0 {
                break;
            }
            nic.tx_write(&buf[..n]);
            at += n;
        }
        if nic.tx_send().is_err() {
            nic.tx_abort();
        }
    }
    nic.rx_dump();
    0
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    #[cfg(not(feature = "quiet"))]
    {
        let mut line = LineBuf {
            buf: [0; 128],
            len: 0,
        };
        // One line, so that a test's log shows it whole.
        let _ = match info.location() {
            Some(l) => write!(line, "firmware: panic at {}:{}: ", l.file(), l.line()),
            None => write!(line, "firmware: panic: "),
        };
        let _ = writeln!(line, "{}", info.message());
        line.flush();
    }
    #[cfg(feature = "quiet")]
    {
        let _ = info;
        host_write(b"firmware: panic\n");
    }
    fail()
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    host_hex("firmware: hard fault at pc 0x", frame.pc());
    fail()
}

#[exception]
unsafe fn DefaultHandler(irq: i16) {
    // Never taken while PRIMASK is set; a fault escalated here is fatal.
    host_hex("firmware: unexpected exception 0x", irq as u32);
    fail()
}
