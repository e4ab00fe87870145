//! A register-level model of the Microchip ENC28J60, reached through an
//! embedded-hal 1.0 [`SpiDevice`], whose Ethernet side is any other
//! [`Nic`] (a Linux TAP on the host, a queue in tests).
//!
//! It follows the datasheet (DS39662E) for what a driver can observe:
//!
//! - the SPI instruction set (§4.2): RCR (with the dummy byte before MAC
//!   and MII registers), RBM, WCR, WBM, BFS, BFC (ETH registers only), SRC;
//!   one [`SpiDevice::transaction`] is one chip-select assertion;
//! - four register banks selected by `ECON1.BSEL`, the common registers
//!   1Bh..1Fh in all of them, reset values of §11;
//! - the 8 KB buffer with `ERDPT`/`EWRPT` auto-increment (`ECON2.AUTOINC`),
//!   `ERDPT` wrapping from `ERXND` to `ERXST` inside the receive ring;
//! - the receive ring `ERXST..ERXND` with the write pointer `ERXWRPT`, the
//!   read pointer `ERXRDPT` (latched when its high byte is written), free
//!   space as §7.2.4 computes it, per-frame next-packet pointer and 4-byte
//!   receive status vector, frames at even addresses, `EPKTCNT` and
//!   `ECON2.PKTDEC`, `EIR.PKTIF`/`RXERIF`, the receive filter `ERXFCON`
//!   (unicast to `MAADR`, broadcast, multicast, promiscuous when all are
//!   off), `MACON1.MARXEN` and `ECON1.RXEN`, `ECON1.RXRST`;
//! - transmit from `ETXST` (per-packet control byte) to `ETXND` on
//!   `ECON1.TXRTS`, padding and CRC by `MACON3` or the control byte, the
//!   7-byte transmit status vector written after `ETXND`, `EIR.TXIF`/
//!   `TXERIF`, `ESTAT.TXABRT`, `ECON1.TXRST`, `MAMXFL`;
//! - the PHY registers through `MIREGADR`/`MICMD.MIIRD`/`MIRD`/`MIWR`,
//!   `MISTAT.BUSY`, `PHSTAT2.LSTAT` from [`Model::set_link`].
//!
//! Frames on the wire carry no FCS (a TAP has none): the model appends one
//! in the ring as the chip does, and sends frames out without it. It pulls
//! frames from its wire when the driver polls `EPKTCNT` or `EIR` (the
//! chip receives between polls) and only while the ring has room, so a
//! host TAP's queue stands for frames still on the cable; [`Model::receive`]
//! delivers one at once and drops it when the ring is full, as the chip
//! does. Transmission completes at once.
//!
//! Not modelled: the DMA and checksum engine, the hash-table and pattern
//! filters, flow control, power save, timing (the INT pin is reported by
//! [`Model::int_asserted`] from `EIE`/`EIR`). Two errata
//! are *checked* rather than reproduced: [`Model::violations`] counts
//! writes of an even `ERXRDPT` (errata 14) and a receive ring not starting
//! at 0000h (errata 5), so tests can assert a driver avoids them.
//!
//! It counts SPI transactions and bytes ([`Model::spi`]) so the cost of a
//! frame on the bus can be measured (README, ENC28J60).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::vec::Vec;

use embedded_hal::spi::{ErrorType, Operation, SpiDevice};

use super::enc28j60::{bits::*, opcode, reg, Reg};
use super::{Nic, NicError, TxMode, MAX_FRAME_LEN};

/// `EREVID` of Rev. B7 silicon.
pub const REVISION_B7: u8 = 0x06;
/// Frames pulled from the wire per poll at most.
const PUMP_LIMIT: usize = 32;
const MEM_MASK: u16 = 0x1FFF;
const CTRL_PHUGEEN: u8 = 1 << 3;
const CTRL_PPADEN: u8 = 1 << 2;
const CTRL_PCRCEN: u8 = 1 << 1;
const CTRL_POVERRIDE: u8 = 1 << 0;
const MACON3_HFRMEN: u8 = 1 << 2;
const ERXFCON_FILTERS: u8 = 0b1101_1111;
const MICMD_MIIRD: u8 = 1 << 0;
const PHCON1_PRST: u16 = 1 << 15;

/// SPI traffic as the chip saw it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpiStats {
    /// Chip-select assertions (one per [`SpiDevice::transaction`]).
    pub transactions: u64,
    /// Bytes clocked, both directions counted once.
    pub bytes: u64,
    /// Of those, buffer bytes read by RBM (after the opcode).
    pub buffer_read: u64,
    /// Of those, buffer bytes written by WBM (after the opcode).
    pub buffer_written: u64,
}

/// What happened to frames in the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ModelStats {
    /// Frames written into the receive ring.
    pub rx_frames: u64,
    /// Frames dropped: ring full or `EPKTCNT` at 255 (`EIR.RXERIF`).
    pub rx_overflows: u64,
    /// Frames the receive filter or a disabled receiver turned away.
    pub rx_filtered: u64,
    /// Frames sent to the wire.
    pub tx_frames: u64,
    /// Transmissions aborted (too long, injected late collision).
    pub tx_aborts: u64,
    /// Frames the wire refused (busy).
    pub tx_wire_busy: u64,
}

/// Driver mistakes the chip would punish (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Violations {
    /// errata 14: an even value latched into `ERXRDPT`.
    pub even_erxrdpt: u64,
    /// errata 5: receive enabled with `ERXST` not 0000h.
    pub rx_not_at_zero: u64,
    /// BFS/BFC on a MAC/MII register (the instruction only works on ETH
    /// registers).
    pub bit_op_on_mac: u64,
}

/// The decoding state of one chip-select assertion.
#[derive(Clone, Copy, Debug, Default)]
struct Command {
    /// The first byte, once clocked.
    op: Option<u8>,
    /// Bytes clocked after the first.
    n: usize,
}

/// An ENC28J60 on an SPI bus with `W` as its cable; see the
/// [module docs](self).
pub struct Model<W> {
    mem: Vec<u8>,
    /// Banked registers 00h..1Ah, bank * 32 + address.
    banked: [u8; 128],
    /// Common registers 1Bh..1Fh.
    common: [u8; 5],
    /// `ERXRDPTL` as written, until `ERXRDPTH` latches both.
    rdpt_low: u8,
    phy: [u16; 32],
    link: bool,
    wire: W,
    spi: SpiStats,
    stats: ModelStats,
    violations: Violations,
    late_collisions: u32,
}

impl<W> core::fmt::Debug for Model<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Model")
            .field("spi", &self.spi)
            .field("stats", &self.stats)
            .field("violations", &self.violations)
            .finish_non_exhaustive()
    }
}

/// Ethernet CRC-32 (IEEE 802.3), for the FCS the chip keeps in the ring.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

impl<W: Nic> Model<W> {
    /// A chip just powered up, link up, with `wire` as its cable.
    pub fn new(wire: W) -> Self {
        let mut m = Model {
            mem: vec![0; usize::from(MEM_MASK) + 1],
            banked: [0; 128],
            common: [0; 5],
            rdpt_low: 0,
            phy: [0; 32],
            link: true,
            wire,
            spi: SpiStats::default(),
            stats: ModelStats::default(),
            violations: Violations::default(),
            late_collisions: 0,
        };
        m.reset();
        m
    }

    /// The cable (the host TAP: to wait on it, or to reach its counters).
    pub fn wire_mut(&mut self) -> &mut W {
        &mut self.wire
    }

    /// SPI transactions and bytes so far.
    pub fn spi(&self) -> SpiStats {
        self.spi
    }

    /// Frame counters.
    pub fn stats(&self) -> ModelStats {
        self.stats
    }

    /// Errata and instruction misuse seen so far.
    pub fn violations(&self) -> Violations {
        self.violations
    }

    /// Plugs or unplugs the cable (`PHSTAT2.LSTAT`, `PHSTAT1.LLSTAT`).
    pub fn set_link(&mut self, up: bool) {
        self.link = up;
        if !up {
            // LLSTAT latches a link failure until read.
            if let Some(p) = self.phy.get_mut(usize::from(PHSTAT1)) {
                *p &= !(1 << 2);
            }
        }
    }

    /// Makes the next `n` transmissions end in a late collision (what
    /// errata 13 describes in half duplex): aborted, `EIR.TXERIF`, the
    /// status vector's late-collision bit, nothing on the wire.
    pub fn inject_late_collisions(&mut self, n: u32) {
        self.late_collisions = n;
    }

    /// Whether the INT pin is driven (low): `EIE.INTIE` set and a flag of
    /// `EIR` enabled in `EIE` (§12).
    pub fn int_asserted(&self) -> bool {
        let eie = self.get(reg::EIE);
        eie & EIE_INTIE != 0 && self.get(reg::EIR) & eie & !EIE_INTIE != 0
    }

    /// `EPKTCNT`: frames waiting in the ring.
    pub fn packets_waiting(&self) -> u8 {
        self.get(reg::EPKTCNT)
    }

    /// A byte of buffer memory.
    pub fn memory(&self, addr: u16) -> u8 {
        self.mem
            .get(usize::from(addr & MEM_MASK))
            .copied()
            .unwrap_or(0)
    }

    /// Overwrites a byte of buffer memory behind the driver's back (tests
    /// corrupt the receive ring with it).
    pub fn poke(&mut self, addr: u16, value: u8) {
        self.mem_set(addr, value);
    }

    /// Power-on / System Reset Command state (§11, Table 11-1 ... 11-3).
    fn reset(&mut self) {
        self.banked = [0; 128];
        self.common = [0; 5];
        self.set16(reg::ERDPTL, reg::ERDPTH, 0x05FA);
        self.set16(reg::ERXSTL, reg::ERXSTH, 0x05FA);
        self.set16(reg::ERXNDL, reg::ERXNDH, 0x1FFF);
        self.set16(reg::ERXRDPTL, reg::ERXRDPTH, 0x05FA);
        self.set16(reg::ERXWRPTL, reg::ERXWRPTH, 0x05FA);
        self.set(reg::ERXFCON, ERXFCON_UCEN | ERXFCON_CRCEN | ERXFCON_BCEN);
        self.set16(reg::MAMXFLL, reg::MAMXFLH, 0x0600);
        self.set(reg::EREVID, REVISION_B7);
        self.set(reg::ECON2, ECON2_AUTOINC);
        self.set(reg::ESTAT, ESTAT_CLKRDY);
        self.phy = [0; 32];
        self.phy_set(PHID1, 0x0083);
        self.phy_set(PHID2, 0x1400);
        self.phy_set(PHSTAT1, (1 << 12) | (1 << 11));
    }

    fn slot(r: Reg) -> (bool, usize) {
        if r.addr >= 0x1B {
            (true, usize::from(r.addr.wrapping_sub(0x1B)))
        } else {
            (
                false,
                usize::from(r.bank & 3)
                    .wrapping_mul(32)
                    .wrapping_add(usize::from(r.addr)),
            )
        }
    }

    fn get(&self, r: Reg) -> u8 {
        match Self::slot(r) {
            (true, i) => self.common.get(i).copied().unwrap_or(0),
            (false, i) => self.banked.get(i).copied().unwrap_or(0),
        }
    }

    fn set(&mut self, r: Reg, v: u8) {
        let cell = match Self::slot(r) {
            (true, i) => self.common.get_mut(i),
            (false, i) => self.banked.get_mut(i),
        };
        if let Some(c) = cell {
            *c = v;
        }
    }

    fn get16(&self, lo: Reg, hi: Reg) -> u16 {
        u16::from_le_bytes([self.get(lo), self.get(hi)])
    }

    fn set16(&mut self, lo: Reg, hi: Reg, v: u16) {
        let [l, h] = v.to_le_bytes();
        self.set(lo, l);
        self.set(hi, h);
    }

    fn phy_get(&self, a: u8) -> u16 {
        let v = self.phy.get(usize::from(a & 0x1F)).copied().unwrap_or(0);
        if a == PHSTAT2 {
            let lstat = if self.link { PHSTAT2_LSTAT } else { 0 };
            return (v & !PHSTAT2_LSTAT) | lstat;
        }
        v
    }

    fn phy_set(&mut self, a: u8, v: u16) {
        if let Some(p) = self.phy.get_mut(usize::from(a & 0x1F)) {
            *p = v;
        }
    }

    fn mem_get(&self, a: u16) -> u8 {
        self.memory(a)
    }

    fn mem_set(&mut self, a: u16, v: u8) {
        if let Some(m) = self.mem.get_mut(usize::from(a & MEM_MASK)) {
            *m = v;
        }
    }

    /// The register an RCR/WCR/BFS/BFC address means in the current bank.
    fn decode(&self, addr: u8) -> Reg {
        let bank = self.get(reg::ECON1) & ECON1_BSEL;
        let addr = addr & 0x1F;
        // MAC/MII registers: bank 2 00h..19h, bank 3 00h..05h and 0Ah.
        let mac = match bank {
            2 => addr <= 0x19,
            3 => addr <= 0x05 || addr == 0x0A,
            _ => false,
        };
        Reg {
            addr,
            bank: if addr >= 0x1B { 4 } else { bank },
            mac: mac && addr < 0x1B,
        }
    }

    // ---- SPI -------------------------------------------------------------

    /// One byte clocked in and out of the current command.
    fn clock(&mut self, cmd: &mut Command, mosi: u8) -> u8 {
        self.spi.bytes = self.spi.bytes.wrapping_add(1);
        let Some(op) = cmd.op else {
            cmd.op = Some(mosi);
            if mosi == opcode::SRC {
                self.reset();
            } else if mosi & 0xE0 == opcode::RCR {
                let r = self.decode(mosi);
                if r == reg::EPKTCNT || r == reg::EIR {
                    self.pump();
                }
            }
            return 0;
        };
        cmd.n = cmd.n.saturating_add(1);
        match op {
            opcode::RBM => {
                self.spi.buffer_read = self.spi.buffer_read.wrapping_add(1);
                let a = self.get16(reg::ERDPTL, reg::ERDPTH);
                let v = self.mem_get(a);
                if self.get(reg::ECON2) & ECON2_AUTOINC != 0 {
                    let next = if a == self.get16(reg::ERXNDL, reg::ERXNDH) {
                        self.get16(reg::ERXSTL, reg::ERXSTH)
                    } else {
                        a.wrapping_add(1) & MEM_MASK
                    };
                    self.set16(reg::ERDPTL, reg::ERDPTH, next);
                }
                v
            }
            opcode::WBM => {
                self.spi.buffer_written = self.spi.buffer_written.wrapping_add(1);
                let a = self.get16(reg::EWRPTL, reg::EWRPTH);
                self.mem_set(a, mosi);
                if self.get(reg::ECON2) & ECON2_AUTOINC != 0 {
                    self.set16(reg::EWRPTL, reg::EWRPTH, a.wrapping_add(1) & MEM_MASK);
                }
                0
            }
            opcode::SRC => 0,
            _ => {
                let r = self.decode(op);
                match op & 0xE0 {
                    opcode::RCR => {
                        // MAC/MII registers shift out a dummy byte first.
                        if r.mac && cmd.n == 1 {
                            0
                        } else {
                            self.read_reg(r)
                        }
                    }
                    opcode::WCR if cmd.n == 1 => {
                        self.write_reg(r, mosi);
                        0
                    }
                    opcode::BFS | opcode::BFC if cmd.n == 1 => {
                        if r.mac {
                            self.violations.bit_op_on_mac =
                                self.violations.bit_op_on_mac.wrapping_add(1);
                        } else {
                            let old = self.get(r);
                            let v = if op & 0xE0 == opcode::BFS {
                                old | mosi
                            } else {
                                old & !mosi
                            };
                            self.write_reg(r, v);
                        }
                        0
                    }
                    _ => 0,
                }
            }
        }
    }

    fn read_reg(&mut self, r: Reg) -> u8 {
        if r == reg::MISTAT {
            // MII operations complete at once here.
            return self.get(r) & !MISTAT_BUSY;
        }
        self.get(r)
    }

    fn write_reg(&mut self, r: Reg, v: u8) {
        match r {
            // Read-only: written by the receive hardware.
            reg::EPKTCNT | reg::ERXWRPTL | reg::ERXWRPTH | reg::EREVID | reg::MISTAT => {}
            reg::ESTAT => {
                // Only BUFER and LATECOL/TXABRT may be cleared by software.
                let keep = self.get(r) & !(ESTAT_BUFER | ESTAT_LATECOL | ESTAT_TXABRT);
                let cleared = v & (ESTAT_BUFER | ESTAT_LATECOL | ESTAT_TXABRT);
                self.set(r, keep | cleared);
            }
            reg::ERXSTL | reg::ERXSTH => {
                self.set(r, v);
                // The internal write pointer follows ERXST (§6.1).
                let st = self.get16(reg::ERXSTL, reg::ERXSTH);
                self.set16(reg::ERXWRPTL, reg::ERXWRPTH, st);
            }
            reg::ERXRDPTL => self.rdpt_low = v,
            reg::ERXRDPTH => {
                let value = u16::from_le_bytes([self.rdpt_low, v]);
                if value.is_multiple_of(2) {
                    self.violations.even_erxrdpt = self.violations.even_erxrdpt.wrapping_add(1);
                }
                self.set16(reg::ERXRDPTL, reg::ERXRDPTH, value);
            }
            reg::ECON2 => {
                if v & ECON2_PKTDEC != 0 {
                    let n = self.get(reg::EPKTCNT).saturating_sub(1);
                    self.set(reg::EPKTCNT, n);
                    if n == 0 {
                        let eir = self.get(reg::EIR) & !EIR_PKTIF;
                        self.set(reg::EIR, eir);
                    }
                }
                self.set(r, v & !ECON2_PKTDEC);
            }
            reg::ECON1 => self.write_econ1(v),
            reg::MICMD => {
                self.set(r, v);
                if v & MICMD_MIIRD != 0 {
                    let value = self.phy_get(self.get(reg::MIREGADR));
                    self.set16(reg::MIRDL, reg::MIRDH, value);
                }
            }
            reg::MIWRH => {
                self.set(r, v);
                let value = self.get16(reg::MIWRL, reg::MIWRH);
                let a = self.get(reg::MIREGADR);
                match a {
                    PHSTAT1 | PHSTAT2 | PHID1 | PHID2 => {}
                    PHCON1 if value & PHCON1_PRST != 0 => self.phy_set(a, 0),
                    _ => self.phy_set(a, value),
                }
            }
            _ => self.set(r, v),
        }
    }

    fn write_econ1(&mut self, v: u8) {
        let old = self.get(reg::ECON1);
        let mut v = v;
        if v & ECON1_RXRST != 0 {
            // Receive logic held in reset: nothing received, the write
            // pointer back at the ring's start.
            v &= !ECON1_RXEN;
            let st = self.get16(reg::ERXSTL, reg::ERXSTH);
            self.set16(reg::ERXWRPTL, reg::ERXWRPTH, st);
        }
        if v & ECON1_TXRST != 0 {
            v &= !ECON1_TXRTS;
        }
        if v & ECON1_RXEN != 0 && old & ECON1_RXEN == 0 && self.get16(reg::ERXSTL, reg::ERXSTH) != 0
        {
            self.violations.rx_not_at_zero = self.violations.rx_not_at_zero.wrapping_add(1);
        }
        self.set(reg::ECON1, v);
        if v & ECON1_TXRTS != 0 && old & ECON1_TXRTS == 0 {
            self.transmit();
            let done = self.get(reg::ECON1) & !ECON1_TXRTS;
            self.set(reg::ECON1, done);
        }
    }

    // ---- transmit --------------------------------------------------------

    fn transmit(&mut self) {
        let st = self.get16(reg::ETXSTL, reg::ETXSTH);
        let nd = self.get16(reg::ETXNDL, reg::ETXNDH);
        let ctrl = self.mem_get(st);
        let first = st.wrapping_add(1) & MEM_MASK;
        let len = usize::from(nd.wrapping_sub(first) & MEM_MASK).wrapping_add(1);
        let mut frame: Vec<u8> = (0..len)
            .map(|i| self.mem_get(first.wrapping_add(i as u16)))
            .collect();
        let macon3 = self.get(reg::MACON3);
        let (pad, crc, huge) = if ctrl & CTRL_POVERRIDE != 0 {
            (
                ctrl & CTRL_PPADEN != 0,
                ctrl & CTRL_PCRCEN != 0,
                ctrl & CTRL_PHUGEEN != 0,
            )
        } else {
            (
                macon3 & (0b111 << 5) != 0,
                macon3 & MACON3_TXCRCEN != 0 || macon3 & (0b111 << 5) != 0,
                macon3 & MACON3_HFRMEN != 0,
            )
        };
        if pad && frame.len() < 60 {
            frame.resize(60, 0);
        }
        if !crc {
            // The host supplied the FCS; the cable format here has none.
            frame.truncate(frame.len().saturating_sub(4));
        }
        let on_wire = frame.len().wrapping_add(4);
        let max = usize::from(self.get16(reg::MAMXFLL, reg::MAMXFLH));
        let mut status: u64 = (on_wire as u64) & 0xFFFF;
        let giant = on_wire > max && !huge;
        let late = self.late_collisions > 0;
        if giant || late || frame.len() > MAX_FRAME_LEN {
            self.late_collisions = self
                .late_collisions
                .saturating_sub(u32::from(late && !giant));
            if giant {
                status |= 1 << 30;
            } else {
                status |= TSV_LATE_COLLISION;
            }
            let estat = self.get(reg::ESTAT) | ESTAT_TXABRT;
            self.set(reg::ESTAT, estat);
            let eir = self.get(reg::EIR) | EIR_TXERIF;
            self.set(reg::EIR, eir);
            self.stats.tx_aborts = self.stats.tx_aborts.wrapping_add(1);
        } else {
            status |= 1 << 23;
            if frame.first().is_some_and(|b| b & 1 != 0) {
                let bcast = frame.get(..6).is_some_and(|d| d.iter().all(|&b| b == 0xFF));
                status |= if bcast { 1 << 25 } else { 1 << 24 };
            }
            status |= ((on_wire as u64) & 0xFFFF) << 32;
            if self.wire.tx_begin(frame.len()).is_ok() {
                self.wire.tx_write(&frame);
                if self.wire.tx_send().is_ok() {
                    self.stats.tx_frames = self.stats.tx_frames.wrapping_add(1);
                } else {
                    self.stats.tx_wire_busy = self.stats.tx_wire_busy.wrapping_add(1);
                }
            } else {
                self.stats.tx_wire_busy = self.stats.tx_wire_busy.wrapping_add(1);
            }
            let eir = self.get(reg::EIR) | EIR_TXIF;
            self.set(reg::EIR, eir);
        }
        // The status vector goes right after the frame (§7.1.3).
        for (i, b) in status.to_le_bytes().iter().take(7).enumerate() {
            self.mem_set(nd.wrapping_add(1).wrapping_add(i as u16), *b);
        }
    }

    // ---- receive ---------------------------------------------------------

    fn ring(&self) -> (u16, u16) {
        (
            self.get16(reg::ERXSTL, reg::ERXSTH),
            self.get16(reg::ERXNDL, reg::ERXNDH),
        )
    }

    /// Free bytes in the ring (§7.2.4, Equation 7-1).
    fn free_space(&self) -> u16 {
        let (st, nd) = self.ring();
        let wr = self.get16(reg::ERXWRPTL, reg::ERXWRPTH);
        let rd = self.get16(reg::ERXRDPTL, reg::ERXRDPTH);
        let size = nd.wrapping_sub(st);
        match wr.cmp(&rd) {
            core::cmp::Ordering::Greater => size.wrapping_sub(wr.wrapping_sub(rd)),
            core::cmp::Ordering::Equal => size,
            core::cmp::Ordering::Less => rd.wrapping_sub(wr).wrapping_sub(1),
        }
    }

    /// Ring bytes a frame of `len` wire bytes (no FCS) takes: header, the
    /// frame padded to 60, FCS, rounded to even.
    fn ring_need(len: usize) -> usize {
        6usize
            .wrapping_add(len.max(60))
            .wrapping_add(4)
            .next_multiple_of(2)
    }

    fn receiving(&self) -> bool {
        self.get(reg::ECON1) & ECON1_RXEN != 0 && self.get(reg::MACON1) & MACON1_MARXEN != 0
    }

    fn accepts(&self, frame: &[u8]) -> bool {
        let filter = self.get(reg::ERXFCON);
        let Some(dst) = frame.get(..6) else {
            return false;
        };
        if filter & ERXFCON_FILTERS & !ERXFCON_CRCEN == 0 {
            return true;
        }
        let own = [
            self.get(reg::MAADR1),
            self.get(reg::MAADR2),
            self.get(reg::MAADR3),
            self.get(reg::MAADR4),
            self.get(reg::MAADR5),
            self.get(reg::MAADR6),
        ];
        let bcast = dst.iter().all(|&b| b == 0xFF);
        let mcast = !bcast && dst.first().is_some_and(|b| b & 1 != 0);
        (filter & ERXFCON_UCEN != 0 && dst == own)
            || (filter & ERXFCON_BCEN != 0 && bcast)
            || (filter & ERXFCON_MCEN != 0 && mcast)
    }

    /// A frame (without FCS) arrives from the cable now. Returns whether it
    /// was written into the ring; a full ring drops it (`EIR.RXERIF`).
    pub fn receive(&mut self, frame: &[u8]) -> bool {
        if !self.receiving() || !self.accepts(frame) || frame.len() > MAX_FRAME_LEN {
            self.stats.rx_filtered = self.stats.rx_filtered.wrapping_add(1);
            return false;
        }
        let need = Self::ring_need(frame.len());
        if need > usize::from(self.free_space()) || self.get(reg::EPKTCNT) == u8::MAX {
            self.stats.rx_overflows = self.stats.rx_overflows.wrapping_add(1);
            let eir = self.get(reg::EIR) | EIR_RXERIF;
            self.set(reg::EIR, eir);
            return false;
        }
        let mut data = frame.to_vec();
        data.resize(data.len().max(60), 0);
        let fcs = crc32(&data);
        data.extend_from_slice(&fcs.to_le_bytes());
        let count = data.len() as u32;
        let dst_b = data.first().copied().unwrap_or(0);
        let bcast = data.get(..6).is_some_and(|d| d.iter().all(|&b| b == 0xFF));
        let mut status = count | RSV_RECEIVED_OK;
        if bcast {
            status |= 1 << 25;
        } else if dst_b & 1 != 0 {
            status |= 1 << 24;
        }
        let (st, nd) = self.ring();
        let size = usize::from(nd.wrapping_sub(st)).wrapping_add(1);
        let wr = self.get16(reg::ERXWRPTL, reg::ERXWRPTH);
        let at = |k: usize| -> u16 {
            let off = usize::from(wr.wrapping_sub(st)).wrapping_add(k);
            st.wrapping_add((off.checked_rem(size).unwrap_or(0)) as u16)
        };
        let next = at(need);
        let mut bytes = next.to_le_bytes().to_vec();
        bytes.extend_from_slice(&status.to_le_bytes());
        bytes.extend_from_slice(&data);
        for (k, b) in bytes.iter().enumerate() {
            self.mem_set(at(k), *b);
        }
        self.set16(reg::ERXWRPTL, reg::ERXWRPTH, next);
        let n = self.get(reg::EPKTCNT).saturating_add(1);
        self.set(reg::EPKTCNT, n);
        let eir = self.get(reg::EIR) | EIR_PKTIF;
        self.set(reg::EIR, eir);
        self.stats.rx_frames = self.stats.rx_frames.wrapping_add(1);
        true
    }

    /// Pulls frames from the cable into the ring while they fit (frames
    /// that do not stay on the cable for a later poll).
    pub fn pump(&mut self) {
        let mut buf = [0u8; MAX_FRAME_LEN];
        for _ in 0..PUMP_LIMIT {
            let Some(len) = self.wire.rx_pending() else {
                break;
            };
            let fits = Self::ring_need(len) <= usize::from(self.free_space())
                && self.get(reg::EPKTCNT) < u8::MAX;
            if self.receiving() && len <= MAX_FRAME_LEN && !fits {
                break;
            }
            let n = self.wire.rx_read(&mut buf);
            self.wire.rx_dump();
            if let Some(frame) = buf.get(..n) {
                let frame = frame.to_vec();
                self.receive(&frame);
            }
        }
    }
}

impl<W> ErrorType for Model<W> {
    type Error = Infallible;
}

impl<W: Nic> SpiDevice for Model<W> {
    fn transaction(&mut self, operations: &mut [Operation<'_, u8>]) -> Result<(), Infallible> {
        self.spi.transactions = self.spi.transactions.wrapping_add(1);
        let mut cmd = Command::default();
        for op in operations.iter_mut() {
            match op {
                Operation::Read(buf) => {
                    for b in buf.iter_mut() {
                        *b = self.clock(&mut cmd, 0);
                    }
                }
                Operation::Write(buf) => {
                    for &b in buf.iter() {
                        self.clock(&mut cmd, b);
                    }
                }
                Operation::Transfer(read, write) => {
                    for i in 0..read.len().max(write.len()) {
                        let miso = self.clock(&mut cmd, write.get(i).copied().unwrap_or(0));
                        if let Some(r) = read.get_mut(i) {
                            *r = miso;
                        }
                    }
                }
                Operation::TransferInPlace(buf) => {
                    for b in buf.iter_mut() {
                        *b = self.clock(&mut cmd, *b);
                    }
                }
                Operation::DelayNs(_) => {}
            }
        }
        Ok(())
    }
}

/// A cable made of two queues, for tests: frames to deliver to the chip
/// and frames the chip sent.
#[derive(Debug, Default)]
pub struct QueueWire {
    /// Frames waiting to enter the chip, oldest first.
    pub inbound: VecDeque<Vec<u8>>,
    /// Frames the chip sent, oldest first.
    pub outbound: Vec<Vec<u8>>,
    cursor: usize,
    building: Vec<u8>,
}

impl Nic for QueueWire {
    const TX_MODE: TxMode = TxMode::Rewrite;

    fn rx_pending(&mut self) -> Option<usize> {
        self.inbound.front().map(Vec::len)
    }

    fn rx_read(&mut self, buf: &mut [u8]) -> usize {
        let Some(f) = self.inbound.front() else {
            return 0;
        };
        let src = f.get(self.cursor..).unwrap_or(&[]);
        let n = src.len().min(buf.len());
        if let (Some(d), Some(s)) = (buf.get_mut(..n), src.get(..n)) {
            d.copy_from_slice(s);
        }
        self.cursor = self.cursor.wrapping_add(n);
        n
    }

    fn rx_seek(&mut self, offset: usize) {
        let len = self.inbound.front().map_or(0, Vec::len);
        self.cursor = offset.min(len);
    }

    fn rx_dump(&mut self) {
        self.inbound.pop_front();
        self.cursor = 0;
    }

    fn tx_ready(&mut self, _len: usize) -> bool {
        true
    }

    fn tx_begin(&mut self, _len: usize) -> Result<(), NicError> {
        self.building.clear();
        Ok(())
    }

    fn tx_write(&mut self, bytes: &[u8]) {
        self.building.extend_from_slice(bytes);
    }

    fn tx_rewrite(&mut self, offset: usize, bytes: &[u8]) {
        if let Some(d) = self
            .building
            .get_mut(offset..offset.saturating_add(bytes.len()))
        {
            d.copy_from_slice(bytes);
        }
    }

    fn tx_send(&mut self) -> Result<(), NicError> {
        self.outbound.push(core::mem::take(&mut self.building));
        Ok(())
    }

    fn tx_abort(&mut self) {
        self.building.clear();
    }
}
