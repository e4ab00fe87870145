//! The Microchip ENC28J60 (10BASE-T MAC + PHY with 8 KB of buffer RAM,
//! driven over SPI) as a [`Nic`], generic over an embedded-hal 1.0
//! [`SpiDevice`].
//!
//! Written from the datasheet (DS39662E: SPI instruction set §4.2, register
//! map §3.1, buffer §3.2, initialization §6, transmit §7.1, receive §7.2,
//! PHY registers §3.3) and the Rev. B7 silicon errata (DS80349C); each
//! erratum that applies is named where it is handled ("errata N").
//!
//! # No frame bytes in MCU RAM
//!
//! The chip's buffer is addressable, so the driver keeps none: a received
//! frame stays in the receive ring and [`Nic::rx_read`] streams it from the
//! cursor's address (`ERDPT`, wrapped at the ring's end), forward or after
//! an [`Nic::rx_seek`] backwards. A frame to send is written into the
//! transmit area as it is produced and patched in place
//! ([`TxMode::Rewrite`]): IP length and checksums are rewritten at their
//! offsets (`EWRPT`) before `TXRTS` sends it. The driver's RAM is a few
//! pointers and counters ([`core::mem::size_of`] of [`Enc28j60`] without
//! the SPI device: README, Footprint).
//!
//! # Buffer layout
//!
//! The receive ring starts at 0000h (errata 5: the internal write pointer
//! may load 0000h when `ERXST`/`ERXND` are written, so the ring must start
//! there) and ends at [`Layout::rx_end`], which is odd so that the ring has
//! an even size; the transmit area follows it: one per-packet control
//! byte, the frame, and the 7-byte status vector the chip writes after it
//! (at least [`TX_AREA_MIN`] bytes). [`Layout::default`] gives the ring
//! 6.5 KB (four full frames) and transmit 1.5 KB.
//!
//! # Errata handled (Rev. B7, DS80349C)
//!
//! - errata 2: `ESTAT.CLKRDY` is set too early after a reset: the driver
//!   waits 1 ms after the System Reset Command before touching registers.
//! - errata 5: the receive ring starts at 0000h (above).
//! - errata 6: `EIR.PKTIF` is unreliable: waiting frames are counted with
//!   `EPKTCNT`.
//! - errata 9: in half duplex the PHY loops transmitted frames back unless
//!   `PHCON2.HDLDIS` is set: set at init.
//! - errata 12: a transmit abort may stall the transmit logic: the logic is
//!   reset (`ECON1.TXRST`) before every transmission, and a transmission
//!   that never completes is abandoned with a reset too.
//! - errata 13 and 15: in half duplex, link pulses may cause late
//!   collisions, and `ESTAT.LATECOL` is unreliable: after an aborted
//!   transmission the driver reads the transmit status vector and sends the
//!   frame again (up to [`LATE_COLLISION_RETRIES`] times) if it reports a
//!   late collision.
//! - errata 14: an even value in `ERXRDPT` may corrupt the receive ring: the
//!   driver only ever writes odd values (the byte before the next frame).
//! - errata 17: a DMA checksum aborts a frame being received: the driver
//!   does not use the DMA checksum engine (README, ENC28J60: the stack's own
//!   checksum over SPI costs one extra read of the payload instead).
//! - errata 19: the System Reset Command does not work in power-save mode:
//!   the driver never enters it.
//!
//! Errata 1 (slow SPI clocks, B1/B4 only), 7, 8, 10, 11 and 16 (PHY and
//! LED hardware, board design) and 18 (pattern-match filter, not used) are
//! not the driver's to handle.
//!
//! # Hostile input
//!
//! The receive ring is written by the chip from what arrives on the wire;
//! the driver trusts none of it: a header whose next-packet pointer lies
//! outside the ring, is odd, or does not match the frame's byte count
//! resets the receive logic (counted in [`Enc28j60::rx_resets`]); frames the
//! chip flags as bad (CRC, length), shorter than an Ethernet header or
//! longer than [`MAX_FRAME_LEN`] are freed and counted
//! ([`Enc28j60::rx_errors`]). Every wait on the chip is bounded.

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::OutputPin;
use embedded_hal::spi::{Operation, SpiDevice};

use super::{Nic, NicError, TxMode, MAX_FRAME_LEN};

/// Bytes of the chip's buffer RAM (0000h..1FFFh).
pub const BUFFER_LEN: u16 = 8192;
/// Bytes the transmit area needs at least: the per-packet control byte,
/// the largest frame and the 7-byte transmit status vector.
pub const TX_AREA_MIN: u16 = 1 + MAX_FRAME_LEN as u16 + 7;
/// How often a frame is sent again after a late collision (errata 13).
pub const LATE_COLLISION_RETRIES: u8 = 3;
/// Status polls of an unfinished transmission before it is abandoned and
/// the transmit logic reset (errata 12). A full frame takes 1.2 ms on the
/// wire; each poll is an SPI transaction of about 1 µs or more.
const TX_STALL_POLLS: u16 = 20_000;
/// Bound on register polls (clock ready, MII busy). The MII needs 10.24 µs.
const SPIN_LIMIT: u16 = 1_000;
/// Frame check sequence bytes, counted in the receive status vector.
const FCS_LEN: u16 = 4;
/// Bytes before a received frame in the ring: next-packet pointer (2) and
/// receive status vector (4).
const RX_HEADER_LEN: u16 = 6;
/// Largest frame the MAC passes (`MAMXFL`): 1514 plus the FCS.
const MAX_FRAME_WITH_FCS: u16 = MAX_FRAME_LEN as u16 + FCS_LEN;
/// Bad frames freed per `rx_pending` call at most (bounds one call's work).
const RX_DROP_BUDGET: u8 = 8;

/// The SPI instruction set (datasheet §4.2, Table 4-1).
pub mod opcode {
    /// Read Control Register: `RCR | address`, then one byte out (a dummy
    /// byte first for MAC and MII registers).
    pub const RCR: u8 = 0x00;
    /// Read Buffer Memory at `ERDPT`.
    pub const RBM: u8 = 0x3A;
    /// Write Control Register: `WCR | address`, value.
    pub const WCR: u8 = 0x40;
    /// Write Buffer Memory at `EWRPT`.
    pub const WBM: u8 = 0x7A;
    /// Bit Field Set (ETH registers only): `BFS | address`, mask.
    pub const BFS: u8 = 0x80;
    /// Bit Field Clear (ETH registers only): `BFC | address`, mask.
    pub const BFC: u8 = 0xA0;
    /// System Reset Command.
    pub const SRC: u8 = 0xFF;
}

/// A control register: its 5-bit address, its bank and whether it is a MAC
/// or MII register (those answer a read after a dummy byte, §4.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reg {
    /// Address within the bank (0x00..=0x1F).
    pub addr: u8,
    /// Bank 0..=3, or [`COMMON`] for 0x1B..=0x1F, present in every bank.
    pub bank: u8,
    /// A MAC or MII register (dummy byte on read, no BFS/BFC).
    pub mac: bool,
}

/// The bank value of the registers present in every bank.
pub const COMMON: u8 = 4;

const fn eth(bank: u8, addr: u8) -> Reg {
    Reg {
        addr,
        bank,
        mac: false,
    }
}
const fn mac(bank: u8, addr: u8) -> Reg {
    Reg {
        addr,
        bank,
        mac: true,
    }
}

/// The control registers the driver (and the model) use (§3.1, Table 3-2).
#[allow(missing_docs)]
pub mod reg {
    use super::{eth, mac, Reg, COMMON};
    pub const EIE: Reg = eth(COMMON, 0x1B);
    pub const EIR: Reg = eth(COMMON, 0x1C);
    pub const ESTAT: Reg = eth(COMMON, 0x1D);
    pub const ECON2: Reg = eth(COMMON, 0x1E);
    pub const ECON1: Reg = eth(COMMON, 0x1F);
    pub const ERDPTL: Reg = eth(0, 0x00);
    pub const ERDPTH: Reg = eth(0, 0x01);
    pub const EWRPTL: Reg = eth(0, 0x02);
    pub const EWRPTH: Reg = eth(0, 0x03);
    pub const ETXSTL: Reg = eth(0, 0x04);
    pub const ETXSTH: Reg = eth(0, 0x05);
    pub const ETXNDL: Reg = eth(0, 0x06);
    pub const ETXNDH: Reg = eth(0, 0x07);
    pub const ERXSTL: Reg = eth(0, 0x08);
    pub const ERXSTH: Reg = eth(0, 0x09);
    pub const ERXNDL: Reg = eth(0, 0x0A);
    pub const ERXNDH: Reg = eth(0, 0x0B);
    pub const ERXRDPTL: Reg = eth(0, 0x0C);
    pub const ERXRDPTH: Reg = eth(0, 0x0D);
    pub const ERXWRPTL: Reg = eth(0, 0x0E);
    pub const ERXWRPTH: Reg = eth(0, 0x0F);
    pub const ERXFCON: Reg = eth(1, 0x18);
    pub const EPKTCNT: Reg = eth(1, 0x19);
    pub const MACON1: Reg = mac(2, 0x00);
    pub const MACON3: Reg = mac(2, 0x02);
    pub const MACON4: Reg = mac(2, 0x03);
    pub const MABBIPG: Reg = mac(2, 0x04);
    pub const MAIPGL: Reg = mac(2, 0x06);
    pub const MAIPGH: Reg = mac(2, 0x07);
    pub const MAMXFLL: Reg = mac(2, 0x0A);
    pub const MAMXFLH: Reg = mac(2, 0x0B);
    pub const MICMD: Reg = mac(2, 0x12);
    pub const MIREGADR: Reg = mac(2, 0x14);
    pub const MIWRL: Reg = mac(2, 0x16);
    pub const MIWRH: Reg = mac(2, 0x17);
    pub const MIRDL: Reg = mac(2, 0x18);
    pub const MIRDH: Reg = mac(2, 0x19);
    pub const MAADR5: Reg = mac(3, 0x00);
    pub const MAADR6: Reg = mac(3, 0x01);
    pub const MAADR3: Reg = mac(3, 0x02);
    pub const MAADR4: Reg = mac(3, 0x03);
    pub const MAADR1: Reg = mac(3, 0x04);
    pub const MAADR2: Reg = mac(3, 0x05);
    pub const MISTAT: Reg = mac(3, 0x0A);
    pub const EREVID: Reg = eth(3, 0x12);
}

/// Register bits (§3, §6, §7, §10).
#[allow(missing_docs)]
pub mod bits {
    pub const ECON1_TXRST: u8 = 1 << 7;
    pub const ECON1_RXRST: u8 = 1 << 6;
    pub const ECON1_DMAST: u8 = 1 << 5;
    pub const ECON1_CSUMEN: u8 = 1 << 4;
    pub const ECON1_TXRTS: u8 = 1 << 3;
    pub const ECON1_RXEN: u8 = 1 << 2;
    pub const ECON1_BSEL: u8 = 0b11;
    pub const ECON2_AUTOINC: u8 = 1 << 7;
    pub const ECON2_PKTDEC: u8 = 1 << 6;
    pub const EIE_INTIE: u8 = 1 << 7;
    pub const EIE_PKTIE: u8 = 1 << 6;
    pub const EIR_PKTIF: u8 = 1 << 6;
    pub const EIR_DMAIF: u8 = 1 << 5;
    pub const EIR_LINKIF: u8 = 1 << 4;
    pub const EIR_TXIF: u8 = 1 << 3;
    pub const EIR_TXERIF: u8 = 1 << 1;
    pub const EIR_RXERIF: u8 = 1 << 0;
    pub const ESTAT_BUFER: u8 = 1 << 6;
    pub const ESTAT_LATECOL: u8 = 1 << 4;
    pub const ESTAT_TXABRT: u8 = 1 << 1;
    pub const ESTAT_CLKRDY: u8 = 1 << 0;
    pub const ERXFCON_UCEN: u8 = 1 << 7;
    pub const ERXFCON_CRCEN: u8 = 1 << 5;
    pub const ERXFCON_MCEN: u8 = 1 << 1;
    pub const ERXFCON_BCEN: u8 = 1 << 0;
    pub const MACON1_TXPAUS: u8 = 1 << 3;
    pub const MACON1_RXPAUS: u8 = 1 << 2;
    pub const MACON1_MARXEN: u8 = 1 << 0;
    /// PADCFG = 001: pad short frames to 60 bytes and append a CRC.
    pub const MACON3_PADCFG_60: u8 = 0b001 << 5;
    pub const MACON3_TXCRCEN: u8 = 1 << 4;
    pub const MACON3_FRMLNEN: u8 = 1 << 1;
    pub const MACON3_FULDPX: u8 = 1 << 0;
    pub const MACON4_DEFER: u8 = 1 << 6;
    pub const MICMD_MIIRD: u8 = 1 << 0;
    pub const MISTAT_BUSY: u8 = 1 << 0;
    /// PHY registers (MII addresses).
    pub const PHCON1: u8 = 0x00;
    pub const PHSTAT1: u8 = 0x01;
    pub const PHID1: u8 = 0x02;
    pub const PHID2: u8 = 0x03;
    pub const PHCON2: u8 = 0x10;
    pub const PHSTAT2: u8 = 0x11;
    pub const PHCON1_PDPXMD: u16 = 1 << 8;
    pub const PHCON2_HDLDIS: u16 = 1 << 8;
    pub const PHSTAT2_LSTAT: u16 = 1 << 10;
    /// Receive status vector bits (§7.2.1, Table 7-3), above the byte count.
    pub const RSV_RECEIVED_OK: u32 = 1 << 23;
    /// Transmit status vector: late collision (§7.1.3, Table 7-1).
    pub const TSV_LATE_COLLISION: u64 = 1 << 29;
}

use bits::*;

/// The split of the 8 KB buffer between the receive ring and transmit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    rx_end: u16,
}

impl Layout {
    /// A receive ring of `rx_len` bytes at 0000h (errata 5); transmit gets
    /// the rest. `None` unless `rx_len` is even (so the ring's end is odd,
    /// errata 14), holds at least one largest frame with its header, and
    /// leaves transmit [`TX_AREA_MIN`] bytes.
    pub const fn new(rx_len: u16) -> Option<Layout> {
        let min_rx = RX_HEADER_LEN + MAX_FRAME_WITH_FCS + 2;
        if !rx_len.is_multiple_of(2) || rx_len < min_rx || rx_len > BUFFER_LEN - TX_AREA_MIN {
            return None;
        }
        // rx_len >= min_rx > 0 was checked.
        Some(Layout {
            rx_end: rx_len.wrapping_sub(1),
        })
    }

    /// The last address of the receive ring (odd).
    pub const fn rx_end(&self) -> u16 {
        self.rx_end
    }

    /// The first address of the transmit area (the control byte).
    pub const fn tx_start(&self) -> u16 {
        // rx_end < BUFFER_LEN - TX_AREA_MIN (Layout::new).
        self.rx_end.wrapping_add(1)
    }

    /// Bytes in the receive ring.
    pub const fn rx_len(&self) -> u16 {
        self.rx_end.wrapping_add(1)
    }
}

impl Default for Layout {
    /// 6,656 bytes of receive ring (four full frames), 1,536 for transmit.
    fn default() -> Self {
        Layout { rx_end: 0x19FF }
    }
}

/// Link duplex. The ENC28J60 does not auto-negotiate (§9): a partner that
/// does falls back to half duplex, so that is the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Duplex {
    /// Half duplex (what an auto-negotiating switch port will use).
    #[default]
    Half,
    /// Full duplex (the partner must be forced to full duplex too).
    Full,
}

/// How to bring the controller up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// The station address. The chip has none of its own; the receive
    /// filter accepts unicast frames to this one.
    pub mac: [u8; 6],
    /// Buffer split.
    pub layout: Layout,
    /// Link duplex.
    pub duplex: Duplex,
    /// Also accept multicast frames (broadcast is always accepted).
    pub multicast: bool,
}

/// Why the controller could not be brought up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitError<E> {
    /// The SPI device failed.
    Spi(E),
    /// `EREVID` read 00h or FFh: no chip answers on the bus.
    NoDevice(u8),
    /// `ESTAT.CLKRDY` did not come up.
    ClockTimeout,
    /// The MII stayed busy.
    MiiTimeout,
}

impl<E> From<E> for InitError<E> {
    fn from(e: E) -> Self {
        InitError::Spi(e)
    }
}

/// The current received frame: where it starts in the ring, its length
/// without FCS, where the next one starts, and the stack's cursor.
#[derive(Clone, Copy, Debug)]
struct RxFrame {
    start: u16,
    len: u16,
    next: u16,
    cursor: u16,
}

/// The frame being written into the transmit area.
#[derive(Clone, Copy, Debug)]
struct TxFrame {
    /// Bytes written (the frame's length so far).
    written: u16,
    /// More than the area holds was offered.
    overflow: bool,
}

/// A transmission the chip is working on.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    /// The frame's length (to find the status vector after it).
    len: u16,
    polls: u16,
    retries: u8,
}

/// An ENC28J60 driver implementing [`Nic`]; see the [module docs](self).
pub struct Enc28j60<S> {
    spi: S,
    layout: Layout,
    mac: [u8; 6],
    /// The bank `ECON1.BSEL` selects; `None` when unknown.
    bank: Option<u8>,
    /// Where the oldest unread frame starts.
    next_packet: u16,
    /// `EPKTCNT` as last read, less the frames freed since.
    waiting: u8,
    rx: Option<RxFrame>,
    /// `ERDPT` as the chip holds it, when known (skips re-addressing a read
    /// that continues where the last one ended).
    rdpt: Option<u16>,
    tx: Option<TxFrame>,
    /// `EWRPT` as the chip holds it, when known.
    wrpt: Option<u16>,
    in_flight: Option<InFlight>,
    rx_errors: u32,
    rx_resets: u32,
    tx_errors: u32,
    spi_errors: u32,
}

impl<S> core::fmt::Debug for Enc28j60<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Enc28j60")
            .field("layout", &self.layout)
            .field("next_packet", &self.next_packet)
            .field("rx", &self.rx)
            .field("tx", &self.tx)
            .field("rx_errors", &self.rx_errors)
            .field("rx_resets", &self.rx_resets)
            .field("tx_errors", &self.tx_errors)
            .finish_non_exhaustive()
    }
}

/// `a + n` in a ring of `len` bytes starting at 0 (`a < len`).
fn ring_add(a: u16, n: u16, len: u16) -> u16 {
    let sum = u32::from(a).wrapping_add(u32::from(n));
    // `len` is at least one frame (Layout::new), so never 0.
    sum.checked_rem(u32::from(len)).unwrap_or(0) as u16
}

impl<S: SpiDevice> Enc28j60<S> {
    /// A driver for the chip behind `spi`; call [`init`](Self::init) before
    /// use.
    pub const fn new(spi: S) -> Self {
        Enc28j60 {
            spi,
            layout: Layout { rx_end: 0x19FF },
            mac: [0; 6],
            bank: None,
            next_packet: 0,
            waiting: 0,
            rx: None,
            rdpt: None,
            tx: None,
            wrpt: None,
            in_flight: None,
            rx_errors: 0,
            rx_resets: 0,
            tx_errors: 0,
            spi_errors: 0,
        }
    }

    /// Pulses the chip's RESET pin (low for 1 µs, datasheet: at least
    /// 400 ns) and waits 1 ms for its clock (errata 2), for boards that
    /// wire the pin; call before [`init`](Self::init), which resets the
    /// chip again by command. Boards without the pin need only `init`.
    pub fn reset_pin<P: OutputPin>(pin: &mut P, delay: &mut impl DelayNs) -> Result<(), P::Error> {
        pin.set_low()?;
        delay.delay_us(1);
        pin.set_high()?;
        delay.delay_ms(1);
        Ok(())
    }

    /// Resets the chip (System Reset Command) and sets it up as the
    /// datasheet's §6 describes: buffer layout, receive filter (own
    /// unicast, broadcast, valid CRC; multicast if asked), MAC (padding
    /// and CRC appended to every frame, maximum frame length, inter-packet
    /// gaps for the duplex), station address, PHY duplex, then receive on.
    /// Returns the silicon revision (`EREVID`: 06h is B7).
    pub fn init(
        &mut self,
        config: Config,
        delay: &mut impl DelayNs,
    ) -> Result<u8, InitError<S::Error>> {
        self.spi.write(&[opcode::SRC])?;
        // errata 2: CLKRDY may read set before the clock is stable after a
        // reset; wait 1 ms before any other command.
        delay.delay_ms(1);
        self.bank = None;
        let mut ready = false;
        for _ in 0..SPIN_LIMIT {
            if self.read(reg::ESTAT)? & ESTAT_CLKRDY != 0 {
                ready = true;
                break;
            }
            delay.delay_us(10);
        }
        if !ready {
            return Err(InitError::ClockTimeout);
        }
        let rev = self.read(reg::EREVID)?;
        if rev == 0 || rev == 0xFF {
            return Err(InitError::NoDevice(rev));
        }
        self.layout = config.layout;
        self.mac = config.mac;
        let full = config.duplex == Duplex::Full;
        // Buffer: errata 5 puts the ring at 0000h; errata 14 wants an odd
        // ERXRDPT: the ring's end, i.e. "everything free".
        let rx_end = self.layout.rx_end();
        self.write16(reg::ERXSTL, reg::ERXSTH, 0)?;
        self.write16(reg::ERXNDL, reg::ERXNDH, rx_end)?;
        self.write16(reg::ERXRDPTL, reg::ERXRDPTH, rx_end)?;
        self.write16(reg::ETXSTL, reg::ETXSTH, self.layout.tx_start())?;
        self.next_packet = 0;
        self.waiting = 0;
        let mut filter = ERXFCON_UCEN | ERXFCON_CRCEN | ERXFCON_BCEN;
        if config.multicast {
            filter |= ERXFCON_MCEN;
        }
        self.write(reg::ERXFCON, filter)?;
        // MAC (§6.5).
        let flow = if full {
            MACON1_TXPAUS | MACON1_RXPAUS
        } else {
            0
        };
        self.write(reg::MACON1, MACON1_MARXEN | flow)?;
        let duplex = if full { MACON3_FULDPX } else { 0 };
        self.write(
            reg::MACON3,
            MACON3_PADCFG_60 | MACON3_TXCRCEN | MACON3_FRMLNEN | duplex,
        )?;
        // Half duplex: wait for the medium instead of aborting (IEEE 802.3).
        self.write(reg::MACON4, if full { 0 } else { MACON4_DEFER })?;
        self.write16(reg::MAMXFLL, reg::MAMXFLH, MAX_FRAME_WITH_FCS)?;
        // Inter-packet gaps: 15h full / 12h half back-to-back, 12h (+0Ch
        // high byte in half duplex) otherwise (§6.5 steps 5-7).
        self.write(reg::MABBIPG, if full { 0x15 } else { 0x12 })?;
        self.write(reg::MAIPGL, 0x12)?;
        if !full {
            self.write(reg::MAIPGH, 0x0C)?;
        }
        let [a1, a2, a3, a4, a5, a6] = config.mac;
        for (r, v) in [
            (reg::MAADR1, a1),
            (reg::MAADR2, a2),
            (reg::MAADR3, a3),
            (reg::MAADR4, a4),
            (reg::MAADR5, a5),
            (reg::MAADR6, a6),
        ] {
            self.write(r, v)?;
        }
        // PHY: duplex to match the MAC (§6.6); errata 9: no loopback of
        // our own frames in half duplex.
        self.phy_write(PHCON1, if full { PHCON1_PDPXMD } else { 0 })?;
        self.phy_write(PHCON2, PHCON2_HDLDIS)?;
        // Polling: no interrupts; stale flags cleared; reads auto-increment.
        self.write(reg::EIE, 0)?;
        self.bfc(reg::EIR, 0xFF)?;
        self.bfs(reg::ECON2, ECON2_AUTOINC)?;
        self.bfs(reg::ECON1, ECON1_RXEN)?;
        self.rx = None;
        self.tx = None;
        self.in_flight = None;
        self.rdpt = None;
        self.wrpt = None;
        Ok(rev)
    }

    /// Whether the PHY reports the link up (`PHSTAT2.LSTAT`). Costs an MII
    /// read (about 10 µs and seven SPI transactions); false when the SPI
    /// device fails.
    pub fn link_up(&mut self) -> bool {
        match self.phy_read(PHSTAT2) {
            Ok(v) => v & PHSTAT2_LSTAT != 0,
            Err(_) => {
                self.spi_errors = self.spi_errors.wrapping_add(1);
                false
            }
        }
    }

    /// Reads a PHY register through the MII (`MIREGADR`, `MICMD.MIIRD`,
    /// `MISTAT.BUSY`, `MIRD`; §3.3.1).
    pub fn phy_read(&mut self, addr: u8) -> Result<u16, InitError<S::Error>> {
        self.write(reg::MIREGADR, addr)?;
        self.write(reg::MICMD, MICMD_MIIRD)?;
        self.mii_wait()?;
        self.write(reg::MICMD, 0)?;
        let lo = self.read(reg::MIRDL)?;
        let hi = self.read(reg::MIRDH)?;
        Ok(u16::from_le_bytes([lo, hi]))
    }

    /// Writes a PHY register through the MII (`MIREGADR`, `MIWRL`, then
    /// `MIWRH` starts the write; §3.3.2).
    pub fn phy_write(&mut self, addr: u8, value: u16) -> Result<(), InitError<S::Error>> {
        let [lo, hi] = value.to_le_bytes();
        self.write(reg::MIREGADR, addr)?;
        self.write(reg::MIWRL, lo)?;
        self.write(reg::MIWRH, hi)?;
        self.mii_wait()
    }

    fn mii_wait(&mut self) -> Result<(), InitError<S::Error>> {
        for _ in 0..SPIN_LIMIT {
            if self.read(reg::MISTAT)? & MISTAT_BUSY == 0 {
                return Ok(());
            }
        }
        Err(InitError::MiiTimeout)
    }

    /// Drives the chip's INT pin (active low) while received frames wait
    /// (`EIE.PKTIE | INTIE`), so a main loop can sleep until one arrives.
    /// `PKTIF` is a reliable interrupt source even though reading it is not
    /// (errata 6): check [`rx_waiting`](Self::rx_waiting) after waking.
    pub fn enable_rx_interrupt(&mut self) {
        let r = self.bfs(reg::EIE, EIE_INTIE | EIE_PKTIE);
        self.count_spi(r);
    }

    /// True when a received frame is current or waits in the ring
    /// (`EPKTCNT`, errata 6).
    pub fn rx_waiting(&mut self) -> bool {
        if self.rx.is_some() || self.waiting > 0 {
            return true;
        }
        let r = self.read(reg::EPKTCNT);
        self.count_spi(r).is_some_and(|n| n > 0)
    }

    /// Received frames dropped because the chip flagged them (CRC, length)
    /// or they were shorter than a header or longer than [`MAX_FRAME_LEN`].
    pub fn rx_errors(&self) -> u32 {
        self.rx_errors
    }

    /// Receive-logic resets after a corrupt ring header.
    pub fn rx_resets(&self) -> u32 {
        self.rx_resets
    }

    /// Transmissions that failed (aborted after the retries, or stalled).
    pub fn tx_errors(&self) -> u32 {
        self.tx_errors
    }

    /// SPI transfers that returned an error (the operation was dropped).
    pub fn spi_errors(&self) -> u32 {
        self.spi_errors
    }

    /// The buffer layout in use.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The SPI device (the host model is reached through it).
    pub fn spi_mut(&mut self) -> &mut S {
        &mut self.spi
    }

    /// The SPI device, read-only.
    pub fn spi(&self) -> &S {
        &self.spi
    }

    // ---- register access -------------------------------------------------

    fn select(&mut self, bank: u8) -> Result<(), S::Error> {
        if bank == COMMON || self.bank == Some(bank) {
            return Ok(());
        }
        // Only the bits that change: one BFC and/or one BFS on ECON1 (BFS
        // and BFC leave TXRTS/RXEN alone, a WCR would not). Unknown: both.
        let (clear, set) = match self.bank {
            Some(old) => (old & !bank & ECON1_BSEL, bank & !old & ECON1_BSEL),
            None => (ECON1_BSEL & !bank, bank & ECON1_BSEL),
        };
        self.bank = None;
        if clear != 0 {
            self.spi.write(&[opcode::BFC | reg::ECON1.addr, clear])?;
        }
        if set != 0 {
            self.spi.write(&[opcode::BFS | reg::ECON1.addr, set])?;
        }
        self.bank = Some(bank);
        Ok(())
    }

    fn read(&mut self, r: Reg) -> Result<u8, S::Error> {
        self.select(r.bank)?;
        if r.mac {
            let mut b = [opcode::RCR | r.addr, 0, 0];
            self.spi.transfer_in_place(&mut b)?;
            Ok(b[2])
        } else {
            let mut b = [opcode::RCR | r.addr, 0];
            self.spi.transfer_in_place(&mut b)?;
            Ok(b[1])
        }
    }

    fn write(&mut self, r: Reg, value: u8) -> Result<(), S::Error> {
        self.select(r.bank)?;
        self.spi.write(&[opcode::WCR | r.addr, value])
    }

    /// Low byte first: `ERXRDPT` takes its new value when the high byte is
    /// written (§6.1), and the others do not mind.
    fn write16(&mut self, lo: Reg, hi: Reg, value: u16) -> Result<(), S::Error> {
        let [l, h] = value.to_le_bytes();
        self.write(lo, l)?;
        self.write(hi, h)
    }

    fn bfs(&mut self, r: Reg, mask: u8) -> Result<(), S::Error> {
        self.select(r.bank)?;
        self.spi.write(&[opcode::BFS | r.addr, mask])
    }

    fn bfc(&mut self, r: Reg, mask: u8) -> Result<(), S::Error> {
        self.select(r.bank)?;
        self.spi.write(&[opcode::BFC | r.addr, mask])
    }

    /// Reads buffer memory from `addr` into `buf` (one RBM transaction).
    /// `ERDPT` is written only when the chip's read pointer is elsewhere.
    fn read_buffer(&mut self, addr: u16, buf: &mut [u8]) -> Result<(), S::Error> {
        if self.rdpt != Some(addr) {
            self.rdpt = None;
            self.write16(reg::ERDPTL, reg::ERDPTH, addr)?;
        }
        self.rdpt = None;
        self.spi
            .transaction(&mut [Operation::Write(&[opcode::RBM]), Operation::Read(buf)])?;
        // Inside the ring ERDPT wraps from ERXND to ERXST (§7.2.3).
        let n = (buf.len() as u16).min(self.layout.rx_len());
        if addr <= self.layout.rx_end() {
            self.rdpt = Some(ring_add(addr, n, self.layout.rx_len()));
        }
        Ok(())
    }

    /// Writes `bytes` into buffer memory at `addr` (one WBM transaction),
    /// `prefix` first; `EWRPT` is written only when needed.
    fn write_buffer(&mut self, addr: u16, prefix: &[u8], bytes: &[u8]) -> Result<(), S::Error> {
        if self.wrpt != Some(addr) {
            self.wrpt = None;
            self.write16(reg::EWRPTL, reg::EWRPTH, addr)?;
        }
        self.wrpt = None;
        self.spi.transaction(&mut [
            Operation::Write(&[opcode::WBM]),
            Operation::Write(prefix),
            Operation::Write(bytes),
        ])?;
        let n = prefix.len().saturating_add(bytes.len());
        // Transmit addresses stay below 1FFFh (the area ends there).
        self.wrpt = u16::try_from(n)
            .ok()
            .and_then(|n| addr.checked_add(n))
            .filter(|&a| a < BUFFER_LEN);
        Ok(())
    }

    fn count_spi<T>(&mut self, r: Result<T, S::Error>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(_) => {
                self.spi_errors = self.spi_errors.wrapping_add(1);
                // The chip's pointers and bank are unknown now.
                self.bank = None;
                self.rdpt = None;
                self.wrpt = None;
                None
            }
        }
    }

    // ---- receive ---------------------------------------------------------

    /// Frees the frame whose successor starts at `next`: `ERXRDPT` moves
    /// to the byte before it (odd: errata 14) and `EPKTCNT` drops by one.
    fn free_frame(&mut self, next: u16) -> Result<(), S::Error> {
        let before = if next == 0 {
            self.layout.rx_end()
        } else {
            next.wrapping_sub(1)
        };
        self.write16(reg::ERXRDPTL, reg::ERXRDPTH, before)?;
        self.bfs(reg::ECON2, ECON2_PKTDEC)?;
        self.next_packet = next;
        self.waiting = self.waiting.saturating_sub(1);
        Ok(())
    }

    /// The ring no longer makes sense (a header the chip cannot have
    /// written): reset the receive logic and start the ring afresh
    /// (§7.2, `ECON1.RXRST`), dropping what it held.
    fn reset_rx(&mut self) -> Result<(), S::Error> {
        self.rx_resets = self.rx_resets.wrapping_add(1);
        self.rx = None;
        self.rdpt = None;
        self.bfc(reg::ECON1, ECON1_RXEN)?;
        self.bfs(reg::ECON1, ECON1_RXRST)?;
        self.bfc(reg::ECON1, ECON1_RXRST)?;
        let rx_end = self.layout.rx_end();
        self.write16(reg::ERXSTL, reg::ERXSTH, 0)?;
        self.write16(reg::ERXNDL, reg::ERXNDH, rx_end)?;
        self.write16(reg::ERXRDPTL, reg::ERXRDPTH, rx_end)?;
        // Bounded: EPKTCNT is 8 bits.
        for _ in 0..=u8::MAX {
            if self.read(reg::EPKTCNT)? == 0 {
                break;
            }
            self.bfs(reg::ECON2, ECON2_PKTDEC)?;
        }
        self.next_packet = 0;
        self.waiting = 0;
        self.bfc(reg::EIR, EIR_RXERIF | EIR_PKTIF)?;
        self.bfs(reg::ECON1, ECON1_RXEN)
    }

    fn next_frame(&mut self) -> Result<Option<RxFrame>, S::Error> {
        for _ in 0..RX_DROP_BUDGET {
            if self.waiting == 0 {
                // errata 6: PKTIF is unreliable; EPKTCNT counts frames.
                self.waiting = self.read(reg::EPKTCNT)?;
                if self.waiting == 0 {
                    return Ok(None);
                }
            }
            let at = self.next_packet;
            let mut head = [0u8; RX_HEADER_LEN as usize];
            self.read_buffer(at, &mut head)?;
            let [n0, n1, c0, c1, s2, s3] = head;
            let next = u16::from_le_bytes([n0, n1]);
            let count = u16::from_le_bytes([c0, c1]);
            let status = u32::from_le_bytes([c0, c1, s2, s3]);
            let len_in_ring = RX_HEADER_LEN.saturating_add(count);
            let expected = ring_add(at, len_in_ring.next_multiple_of(2), self.layout.rx_len());
            if next > self.layout.rx_end()
                || next % 2 != 0
                || count > self.layout.rx_len().saturating_sub(RX_HEADER_LEN)
                || next != expected
            {
                self.reset_rx()?;
                return Ok(None);
            }
            let len = count.saturating_sub(FCS_LEN);
            if status & RSV_RECEIVED_OK == 0 || len < 14 || len > MAX_FRAME_LEN as u16 {
                self.rx_errors = self.rx_errors.wrapping_add(1);
                self.free_frame(next)?;
                continue;
            }
            let start = ring_add(at, RX_HEADER_LEN, self.layout.rx_len());
            return Ok(Some(RxFrame {
                start,
                len,
                next,
                cursor: 0,
            }));
        }
        Ok(None)
    }

    // ---- transmit --------------------------------------------------------

    /// Whether the chip has finished the frame in flight; handles its end
    /// (errata 12, 13, 15). Returns true when the transmit area is free.
    fn tx_idle(&mut self) -> Result<bool, S::Error> {
        let Some(mut f) = self.in_flight else {
            return Ok(true);
        };
        if self.read(reg::ECON1)? & ECON1_TXRTS != 0 {
            f.polls = f.polls.saturating_add(1);
            if f.polls < TX_STALL_POLLS {
                self.in_flight = Some(f);
                return Ok(false);
            }
            // errata 12: the transmit logic stalled; reset it and give the
            // frame up.
            self.tx_reset()?;
            self.tx_errors = self.tx_errors.wrapping_add(1);
            self.in_flight = None;
            return Ok(true);
        }
        if self.read(reg::EIR)? & EIR_TXERIF == 0 {
            self.in_flight = None;
            return Ok(true);
        }
        // Aborted. errata 15: LATECOL is unreliable, the status vector
        // after the frame says whether it was a late collision, which
        // errata 13 makes likely in half duplex: send it again.
        let tsv_at = self
            .layout
            .tx_start()
            .saturating_add(1)
            .saturating_add(f.len);
        let mut tsv = [0u8; 7];
        self.read_buffer(tsv_at, &mut tsv)?;
        let [t0, t1, t2, t3, t4, t5, t6] = tsv;
        let vector = u64::from_le_bytes([t0, t1, t2, t3, t4, t5, t6, 0]);
        self.tx_reset()?;
        if vector & TSV_LATE_COLLISION != 0 && f.retries < LATE_COLLISION_RETRIES {
            f.retries = f.retries.saturating_add(1);
            f.polls = 0;
            self.bfs(reg::ECON1, ECON1_TXRTS)?;
            self.in_flight = Some(f);
            return Ok(false);
        }
        self.tx_errors = self.tx_errors.wrapping_add(1);
        self.in_flight = None;
        Ok(true)
    }

    /// errata 12: reset the transmit logic and clear its flags.
    fn tx_reset(&mut self) -> Result<(), S::Error> {
        self.bfs(reg::ECON1, ECON1_TXRST)?;
        self.bfc(reg::ECON1, ECON1_TXRST)?;
        self.bfc(reg::EIR, EIR_TXIF | EIR_TXERIF)
    }

    fn start_tx(&mut self, len: u16) -> Result<(), S::Error> {
        let end = self.layout.tx_start().saturating_add(len);
        self.write16(reg::ETXNDL, reg::ETXNDH, end)?;
        // errata 12: reset the transmit logic before every transmission.
        self.tx_reset()?;
        self.bfs(reg::ECON1, ECON1_TXRTS)?;
        self.in_flight = Some(InFlight {
            len,
            polls: 0,
            retries: 0,
        });
        Ok(())
    }

    /// Room for a frame of `len` bytes in the transmit area.
    fn tx_capacity(&self) -> usize {
        let area = BUFFER_LEN.saturating_sub(self.layout.tx_start());
        usize::from(area.saturating_sub(1 + 7)).min(MAX_FRAME_LEN)
    }
}

impl<S: SpiDevice> Nic for Enc28j60<S> {
    const TX_MODE: TxMode = TxMode::Rewrite;

    fn mac_address(&self) -> Option<[u8; 6]> {
        // The receive filter matches this address: the stack must use it.
        Some(self.mac)
    }

    fn rx_pending(&mut self) -> Option<usize> {
        if let Some(f) = self.rx {
            return Some(usize::from(f.len));
        }
        let r = self.next_frame();
        let f = self.count_spi(r).flatten()?;
        self.rx = Some(f);
        Some(usize::from(f.len))
    }

    fn rx_read(&mut self, buf: &mut [u8]) -> usize {
        let Some(f) = self.rx else { return 0 };
        let left = usize::from(f.len.saturating_sub(f.cursor));
        let n = buf.len().min(left);
        let Some(dst) = buf.get_mut(..n) else {
            return 0;
        };
        if n == 0 {
            return 0;
        }
        let addr = ring_add(f.start, f.cursor, self.layout.rx_len());
        let r = self.read_buffer(addr, dst);
        if self.count_spi(r).is_none() {
            return 0;
        }
        if let Some(f) = self.rx.as_mut() {
            f.cursor = f.cursor.saturating_add(n as u16);
        }
        n
    }

    fn rx_seek(&mut self, offset: usize) {
        if let Some(f) = self.rx.as_mut() {
            f.cursor = u16::try_from(offset).unwrap_or(u16::MAX).min(f.len);
        }
    }

    fn rx_dump(&mut self) {
        if let Some(f) = self.rx.take() {
            let r = self.free_frame(f.next);
            self.count_spi(r);
        }
    }

    fn tx_ready(&mut self, len: usize) -> bool {
        if len > self.tx_capacity() {
            return false;
        }
        let r = self.tx_idle();
        self.count_spi(r).unwrap_or(false)
    }

    fn tx_begin(&mut self, len: usize) -> Result<(), NicError> {
        if len > self.tx_capacity() {
            return Err(NicError::TooLong);
        }
        if !self.tx_ready(len) {
            return Err(NicError::Busy);
        }
        self.tx = Some(TxFrame {
            written: 0,
            overflow: false,
        });
        Ok(())
    }

    fn tx_write(&mut self, bytes: &[u8]) {
        let cap = self.tx_capacity();
        let Some(mut f) = self.tx else { return };
        let at = usize::from(f.written);
        if f.overflow || at.saturating_add(bytes.len()) > cap {
            f.overflow = true;
            self.tx = Some(f);
            return;
        }
        let tx_start = self.layout.tx_start();
        // The first write carries the per-packet control byte (00h: pad
        // and CRC as MACON3 says) in the same transaction.
        let (addr, prefix): (u16, &[u8]) = if f.written == 0 {
            (tx_start, &[0])
        } else {
            (tx_start.saturating_add(1).saturating_add(f.written), &[])
        };
        let r = self.write_buffer(addr, prefix, bytes);
        if self.count_spi(r).is_none() {
            f.overflow = true;
        } else {
            f.written = f.written.saturating_add(bytes.len() as u16);
        }
        self.tx = Some(f);
    }

    fn tx_rewrite(&mut self, offset: usize, bytes: &[u8]) {
        let Some(mut f) = self.tx else { return };
        let end = offset.saturating_add(bytes.len());
        if end > usize::from(f.written) || bytes.is_empty() {
            return;
        }
        let addr = self
            .layout
            .tx_start()
            .saturating_add(1)
            .saturating_add(offset as u16);
        let r = self.write_buffer(addr, &[], bytes);
        if self.count_spi(r).is_none() {
            f.overflow = true;
            self.tx = Some(f);
        }
    }

    fn tx_send(&mut self) -> Result<(), NicError> {
        let Some(f) = self.tx.take() else {
            return Err(NicError::LengthMismatch);
        };
        if f.overflow {
            return Err(NicError::TooLong);
        }
        if f.written == 0 {
            return Err(NicError::LengthMismatch);
        }
        let r = self.start_tx(f.written);
        self.count_spi(r).ok_or(NicError::Device)
    }

    fn tx_abort(&mut self) {
        // Nothing reached the wire: the area is simply reused.
        self.tx = None;
    }
}

#[cfg(test)]
mod tests {
    //! The driver against the register-level model (`enc28j60_model`).
    use super::*;
    use crate::nic::enc28j60_model::{Model, QueueWire, REVISION_B7};
    use std::vec::Vec;

    struct NoDelay;
    impl DelayNs for NoDelay {
        fn delay_ns(&mut self, _ns: u32) {}
    }

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 9];

    fn nic_with(layout: Layout) -> Enc28j60<Model<QueueWire>> {
        let mut n = Enc28j60::new(Model::new(QueueWire::default()));
        let config = Config {
            mac: MAC,
            layout,
            ..Config::default()
        };
        assert_eq!(n.init(config, &mut NoDelay), Ok(REVISION_B7));
        n
    }

    fn nic() -> Enc28j60<Model<QueueWire>> {
        nic_with(Layout::default())
    }

    /// A frame to us of `len` bytes with a pattern that differs per `seed`.
    fn frame(len: usize, seed: usize) -> Vec<u8> {
        let mut f: Vec<u8> = (0..len).map(|i| (i * 7 + seed * 13 + 3) as u8).collect();
        f[..6].copy_from_slice(&MAC);
        f
    }

    fn arrive(n: &mut Enc28j60<Model<QueueWire>>, f: &[u8]) {
        n.spi_mut().wire_mut().inbound.push_back(f.to_vec());
    }

    fn read_all(n: &mut Enc28j60<Model<QueueWire>>) -> Vec<u8> {
        let mut all = vec![0u8; 2000];
        let got = n.rx_read(&mut all);
        all.truncate(got);
        all
    }

    #[test]
    fn the_interrupt_pin_follows_waiting_frames() {
        let mut n = nic();
        assert!(!n.spi().int_asserted(), "interrupts off after init");
        n.enable_rx_interrupt();
        assert!(!n.rx_waiting());
        assert!(!n.spi().int_asserted());
        assert!(n.spi_mut().receive(&frame(100, 1)));
        assert!(n.spi().int_asserted(), "a frame waits");
        assert!(n.rx_waiting());
        assert_eq!(n.rx_pending(), Some(100));
        n.rx_dump();
        assert!(!n.spi().int_asserted(), "released once the ring is empty");
        assert!(!n.rx_waiting());
    }

    #[test]
    fn the_driver_holds_no_frame_bytes() {
        // Pointers and counters only: less than the smallest frame on the
        // wire (64 bytes with FCS). A staging buffer would not fit.
        assert!(core::mem::size_of::<Enc28j60<()>>() < 64);
    }

    #[test]
    fn reset_pin_pulses_low_then_high() {
        struct Pin(Vec<bool>);
        impl embedded_hal::digital::ErrorType for Pin {
            type Error = core::convert::Infallible;
        }
        impl OutputPin for Pin {
            fn set_low(&mut self) -> Result<(), Self::Error> {
                self.0.push(false);
                Ok(())
            }
            fn set_high(&mut self) -> Result<(), Self::Error> {
                self.0.push(true);
                Ok(())
            }
        }
        let mut pin = Pin(Vec::new());
        Enc28j60::<Model<QueueWire>>::reset_pin(&mut pin, &mut NoDelay).unwrap();
        assert_eq!(pin.0, [false, true]);
    }

    #[test]
    fn init_follows_the_errata() {
        let mut n = nic();
        let v = n.spi().violations();
        assert_eq!(v, Default::default(), "no errata 5/14 or BFS-on-MAC misuse");
        assert_eq!(n.mac_address(), Some(MAC));
        assert!(Layout::new(0x1A01).is_none(), "odd ring size");
        assert!(
            Layout::new(8192 - TX_AREA_MIN + 2).is_none(),
            "no room to send"
        );
        assert!(Layout::new(1000).is_none(), "ring smaller than a frame");
        assert_eq!(Layout::new(0x1000).map(|l| l.tx_start()), Some(0x1000));
        // No chip: EREVID 00h.
        struct Dead;
        impl embedded_hal::spi::ErrorType for Dead {
            type Error = core::convert::Infallible;
        }
        impl SpiDevice for Dead {
            fn transaction(&mut self, ops: &mut [Operation<'_, u8>]) -> Result<(), Self::Error> {
                for op in ops {
                    match op {
                        Operation::Read(b) | Operation::TransferInPlace(b) => b.fill(0xFF),
                        Operation::Transfer(r, _) => r.fill(0xFF),
                        _ => {}
                    }
                }
                Ok(())
            }
        }
        let mut dead = Enc28j60::new(Dead);
        assert_eq!(
            dead.init(Config::default(), &mut NoDelay),
            Err(InitError::NoDevice(0xFF))
        );
        assert!(n.link_up());
        n.spi_mut().set_link(false);
        assert!(!n.link_up());
    }

    #[test]
    fn receives_every_size_across_the_ring_wrap_and_seeks_back() {
        let mut n = nic();
        let mut wrapped = false;
        for (i, len) in (14..=1514).step_by(3).chain([1513, 1514]).enumerate() {
            let f = frame(len, i);
            arrive(&mut n, &f);
            let expect_len = len.max(60);
            assert_eq!(n.rx_pending(), Some(expect_len), "len {len}");
            assert_eq!(n.rx_pending(), Some(expect_len), "same frame until dumped");
            let start = n.rx.map(|r| r.start).unwrap();
            wrapped |= usize::from(start) + expect_len > usize::from(n.layout().rx_len());
            let mut head = [0u8; 14];
            assert_eq!(n.rx_read(&mut head), 14);
            assert_eq!(head[..], f[..14]);
            let rest = read_all(&mut n);
            assert_eq!(rest[..len - 14], f[14..], "len {len}");
            assert!(rest[len - 14..].iter().all(|&b| b == 0), "padding");
            // Back to the middle and again.
            n.rx_seek(len / 2);
            let again = read_all(&mut n);
            assert_eq!(again.len(), expect_len - len / 2);
            assert_eq!(again[..len - len / 2], f[len / 2..]);
            n.rx_seek(5000);
            assert_eq!(read_all(&mut n).len(), 0, "seek clamps");
            n.rx_dump();
        }
        assert!(wrapped, "some frame crossed the ring's end");
        assert_eq!(n.rx_pending(), None);
        assert_eq!(n.spi().violations(), Default::default());
        assert_eq!(n.spi().packets_waiting(), 0);
    }

    #[test]
    fn several_waiting_frames_come_out_in_order() {
        let mut n = nic();
        for i in 0..4 {
            arrive(&mut n, &frame(1514, i));
        }
        for i in 0..4 {
            assert_eq!(n.rx_pending(), Some(1514));
            assert_eq!(read_all(&mut n), frame(1514, i));
            n.rx_dump();
        }
        assert_eq!(n.rx_pending(), None);
    }

    #[test]
    fn filter_takes_own_unicast_and_broadcast_only() {
        let mut n = nic();
        let mut other = frame(100, 1);
        other[..6].copy_from_slice(&[2, 0, 0, 0, 0, 8]);
        let mut bcast = frame(100, 2);
        bcast[..6].fill(0xFF);
        let mut mcast = frame(100, 3);
        mcast[0] = 1;
        for f in [&other, &bcast, &mcast] {
            arrive(&mut n, f);
        }
        assert_eq!(n.rx_pending(), Some(100));
        assert_eq!(read_all(&mut n), bcast);
        n.rx_dump();
        assert_eq!(n.rx_pending(), None);
        assert_eq!(n.spi().stats().rx_filtered, 2);
    }

    #[test]
    fn a_full_ring_drops_and_recovers() {
        let mut n = nic_with(Layout::new(0x0C00).unwrap());
        // Two full frames fit in 3 KB, the third is dropped by the chip.
        for i in 0..3 {
            n.spi_mut().receive(&frame(1514, i));
        }
        assert_eq!(n.spi().stats().rx_overflows, 1);
        for i in 0..2 {
            assert_eq!(n.rx_pending(), Some(1514));
            assert_eq!(read_all(&mut n), frame(1514, i));
            n.rx_dump();
        }
        // Space is back.
        for i in 0..20 {
            arrive(&mut n, &frame(700 + i, i));
            assert_eq!(n.rx_pending(), Some(700 + i));
            assert_eq!(read_all(&mut n), frame(700 + i, i));
            n.rx_dump();
        }
        assert_eq!(n.spi().violations(), Default::default());
    }

    #[test]
    fn a_corrupt_ring_header_resets_the_receiver() {
        let mut n = nic();
        assert!(n.spi_mut().receive(&frame(200, 1)));
        // The next-packet pointer of the first frame made odd.
        n.spi_mut().poke(0, 0x33);
        assert_eq!(n.rx_pending(), None);
        assert_eq!(n.rx_resets(), 1);
        // Receiving works again from the ring's start.
        arrive(&mut n, &frame(300, 2));
        assert_eq!(n.rx_pending(), Some(300));
        assert_eq!(read_all(&mut n), frame(300, 2));
        n.rx_dump();
        // A byte count beyond the ring.
        assert!(n.spi_mut().receive(&frame(64, 3)));
        let at = n.next_packet;
        n.spi_mut().poke(at + 3, 0x7F);
        assert_eq!(n.rx_pending(), None);
        assert_eq!(n.rx_resets(), 2);
    }

    #[test]
    fn no_frame_means_no_reads() {
        let mut n = nic();
        let mut buf = [0u8; 8];
        assert_eq!(n.rx_read(&mut buf), 0);
        n.rx_seek(4);
        n.rx_dump();
        assert_eq!(n.rx_pending(), None);
    }

    #[test]
    fn transmits_every_size_with_rewrites_in_place() {
        let mut n = nic();
        for len in (14..=1514).step_by(5).chain([1514]) {
            let f = frame(len, len);
            for split in [1usize, 7, 64, 2000] {
                assert!(n.tx_ready(len));
                n.tx_begin(len).unwrap();
                // Placeholder bytes at 12..14, patched after the payload.
                let mut draft = f.clone();
                draft[12] = 0;
                draft[13] = 0;
                for chunk in draft.chunks(split) {
                    n.tx_write(chunk);
                }
                n.tx_rewrite(12, &f[12..14]);
                n.tx_send().unwrap();
                let sent = n.spi_mut().wire_mut().outbound.pop().unwrap();
                assert_eq!(sent[..len], f[..], "len {len} split {split}");
                assert_eq!(sent.len(), len.max(60), "padded by the MAC");
            }
        }
        assert_eq!(n.spi().violations(), Default::default());
        assert_eq!(n.tx_errors(), 0);
    }

    #[test]
    fn transmit_refuses_what_does_not_fit_and_abort_sends_nothing() {
        let mut n = nic();
        assert_eq!(n.tx_begin(1515), Err(NicError::TooLong));
        n.tx_begin(100).unwrap();
        n.tx_write(&frame(1000, 1));
        n.tx_write(&frame(1000, 1));
        assert_eq!(n.tx_send(), Err(NicError::TooLong));
        n.tx_begin(100).unwrap();
        n.tx_write(&frame(100, 1));
        n.tx_abort();
        assert_eq!(n.tx_send(), Err(NicError::LengthMismatch), "nothing open");
        assert!(n.spi_mut().wire_mut().outbound.is_empty());
    }

    #[test]
    fn late_collisions_are_retried_then_counted() {
        let mut n = nic();
        n.spi_mut().inject_late_collisions(2);
        let f = frame(300, 1);
        n.tx_begin(300).unwrap();
        n.tx_write(&f);
        n.tx_send().unwrap();
        // The driver notices the abort when it next wants the area, and
        // sends again (the model's chip is done at once; a caller polls).
        assert!((0..5).any(|_| n.tx_ready(60)));
        assert_eq!(n.spi_mut().wire_mut().outbound, vec![f.clone()]);
        assert_eq!(n.tx_errors(), 0);
        n.spi_mut().inject_late_collisions(10);
        n.tx_begin(300).unwrap();
        n.tx_write(&f);
        n.tx_send().unwrap();
        assert!((0..5).any(|_| n.tx_ready(60)));
        assert_eq!(n.tx_errors(), 1, "given up after the retries");
        assert_eq!(n.spi_mut().wire_mut().outbound.len(), 1);
    }

    #[test]
    fn echo_streams_from_the_ring_into_the_transmit_area() {
        // Receive and transmit are independent: a reply is built while the
        // request is current, reading and writing alternately.
        let mut n = nic();
        let f = frame(1514, 5);
        arrive(&mut n, &f);
        assert_eq!(n.rx_pending(), Some(1514));
        n.tx_begin(1514).unwrap();
        let mut chunk = [0u8; 100];
        loop {
            let got = n.rx_read(&mut chunk);
            if got == 0 {
                break;
            }
            n.tx_write(&chunk[..got]);
        }
        n.rx_dump();
        n.tx_send().unwrap();
        assert_eq!(n.spi_mut().wire_mut().outbound, vec![f]);
    }
}
