//! The SMSC LAN9118 (memory-mapped FIFO MAC + PHY, the Ethernet controller of
//! ARM's MPS2 boards and of QEMU's `mps2-an385`/`an386`/`an500`) as a [`Nic`].
//!
//! Written from the register description in the project's firmware notes
//! (byte test, soft reset, MAC CSRs through `MAC_CSR_CMD`/`MAC_CSR_DATA`,
//! command A/B + data words into the TX FIFO, status word + data words out
//! of the RX FIFO), using only the registers QEMU models.
//!
//! # Receive: one frame staged in RAM
//!
//! The receive FIFO is read once, front to back, but the [`Nic`] contract
//! lets the stack seek backwards in the current frame (it checksums a
//! payload before delivering it, and streams echo replies out of the
//! request). So the driver copies the current frame into a staging buffer
//! of [`STAGING_LEN`] bytes inside [`Lan9118`] — **that RAM is the driver's
//! share of the footprint** (README, Footprint). Staging is lazy: words are
//! popped from the FIFO only as far as the stack has read, so a frame that
//! is dropped after its Ethernet header costs 4 words of copying; the rest
//! (and the FCS the controller leaves at the end) is drained at
//! [`Nic::rx_dump`].
//!
//! The RX status word's length includes the 4-byte FCS; the frame length
//! reported to the stack excludes it. Frames with the error-status bit
//! (CRC, runt, too long, collision...) and frames longer than
//! [`MAX_FRAME_LEN`] are drained and counted ([`Lan9118::rx_errors`]),
//! never shown to the stack. Short frames arrive padded to 60 bytes (QEMU
//! pads what the TAP gives it); the stack uses the IP total length, so the
//! padding is harmless.
//!
//! # Transmit: length first, last word held back
//!
//! The controller wants the frame length in command A/B before the first
//! data word and cannot go back, so this is a [`TxMode::LengthFirst`]
//! controller: no transmit buffer in RAM. Bytes are packed into
//! little-endian words and pushed as they complete, except the frame's
//! **last word, which is held until [`Nic::tx_send`]**: until then the
//! frame is incomplete in the FIFO and cannot have gone out.
//!
//! [`Nic::tx_abort`] (the stack abandons a frame whose payload changed
//! between its measuring and writing passes) therefore drops an unfinished
//! frame with `TX_CFG.TXD_DUMP`. QEMU's model (`hw/net/lan9118.c`) resets
//! its packet assembler on that bit and sends nothing. On silicon the dump
//! clears the whole TX data FIFO — earlier frames not yet transmitted would
//! be lost too (TCP and the protocol timers recover them) — and the
//! datasheet's advice to stop the transmitter first is not followed here;
//! this path is untested on real hardware. A frame whose byte count does
//! not match the length given to `tx_begin` is dumped the same way at
//! `tx_send` ([`NicError::LengthMismatch`]).
//!
//! # Interrupts and time
//!
//! The driver polls. For a main loop that sleeps, [`Lan9118::enable_rx_interrupt`]
//! raises the controller's IRQ line (IRQ 13 on MPS2) while received frames
//! wait (RX status FIFO level above 0); [`Lan9118::ack_interrupts`] clears it
//! before going back to sleep and [`Lan9118::rx_waiting`] closes the race.
//! [`Lan9118::free_run`] reads the controller's free-running 25 MHz counter,
//! a clock for boards that have nothing better.

use super::{Nic, NicError, TxMode, MAX_FRAME_LEN};

/// Bytes of the receive staging buffer: the largest frame without FCS,
/// rounded up to whole FIFO words.
pub const STAGING_LEN: usize = MAX_FRAME_LEN.next_multiple_of(4);

/// Register offsets from the controller's base address.
mod reg {
    /// RX data FIFO port (0x00..0x1C alias it).
    pub const RX_DATA: u32 = 0x00;
    /// TX data FIFO port (0x20..0x3C alias it).
    pub const TX_DATA: u32 = 0x20;
    /// RX status FIFO port: pops one status word.
    pub const RX_STATUS: u32 = 0x40;
    /// Interrupt pin configuration.
    pub const IRQ_CFG: u32 = 0x54;
    /// Interrupt status (write 1 to clear).
    pub const INT_STS: u32 = 0x58;
    /// Interrupt enables.
    pub const INT_EN: u32 = 0x5C;
    /// Reads 0x8765_4321 when the bus works.
    pub const BYTE_TEST: u32 = 0x64;
    /// Receive configuration.
    pub const RX_CFG: u32 = 0x6C;
    /// Transmit configuration.
    pub const TX_CFG: u32 = 0x70;
    /// Hardware configuration (soft reset).
    pub const HW_CFG: u32 = 0x74;
    /// RX FIFO information: status words used in bits 23:16.
    pub const RX_FIFO_INF: u32 = 0x7C;
    /// TX FIFO information: free data space in bits 15:0.
    pub const TX_FIFO_INF: u32 = 0x80;
    /// Power management: bit 0 = device ready.
    pub const PMT_CTRL: u32 = 0x84;
    /// Free-running 25 MHz counter.
    pub const FREE_RUN: u32 = 0x9C;
    /// MAC CSR command: busy | read | index.
    pub const MAC_CSR_CMD: u32 = 0xA4;
    /// MAC CSR data.
    pub const MAC_CSR_DATA: u32 = 0xA8;
}

/// MAC CSR indices.
mod mac {
    pub const CR: u32 = 1;
    pub const ADDRH: u32 = 2;
    pub const ADDRL: u32 = 3;
    /// MII access: PHY address 15:11, PHY register 10:6, write bit 1,
    /// busy bit 0.
    pub const MII_ACC: u32 = 6;
    /// MII data: the PHY register's 16 bits.
    pub const MII_DATA: u32 = 7;
    /// `MII_ACC` busy: set to start an access, clear when done.
    pub const MII_BUSY: u32 = 1;
    /// Transmitter enable.
    pub const CR_TXEN: u32 = 1 << 3;
    /// Receiver enable.
    pub const CR_RXEN: u32 = 1 << 2;
    /// Full duplex.
    pub const CR_FDPX: u32 = 1 << 20;
    /// Pass all multicast frames (the receive filter otherwise drops
    /// multicast not matching the station address).
    pub const CR_MCPAS: u32 = 1 << 19;
}

/// The internal PHY (IEEE 802.3 clause 22 registers, through `MII_ACC`).
mod phy {
    /// The internal PHY's address on the MII bus.
    pub const ADDRESS: u32 = 1;
    /// Basic status register.
    pub const BASIC_STATUS: u32 = 1;
    /// Basic status: link up (latched low on silicon: a drop since the
    /// last read reads as down once).
    pub const BSR_LINK: u32 = 1 << 2;
}

/// Free-running counter ticks (25 MHz) between PHY reads in `link_up`:
/// 100 ms, so a poll loop does not pay an MII access per poll.
const LINK_CHECK_TICKS: u32 = 2_500_000;

const BYTE_TEST_VALUE: u32 = 0x8765_4321;
const HW_CFG_SRST: u32 = 1;
const PMT_READY: u32 = 1;
const CSR_BUSY: u32 = 1 << 31;
const CSR_READ: u32 = 1 << 30;
const TX_CFG_ON: u32 = 1 << 1;
/// TX status FIFO may overrun: the driver never reads TX statuses.
const TX_CFG_TXSAO: u32 = 1 << 2;
/// Drops the data in the TX FIFO (the unfinished frame).
const TX_CFG_TXD_DUMP: u32 = 1 << 14;
/// Command A: first and last segment of the frame (one buffer per frame).
const CMD_A_FIRST_LAST: u32 = (1 << 13) | (1 << 12);
/// RX status: error summary.
const RX_STS_ERROR: u32 = 1 << 15;
/// RX status FIFO level interrupt (more than `FIFO_INT` level, 0 at reset).
const INT_RSFL: u32 = 1 << 3;
/// IRQ_CFG: pin enabled, active high, push-pull.
const IRQ_CFG_ENABLE: u32 = (1 << 8) | (1 << 4) | 1;
/// Frame check sequence length, counted in the RX status length.
const FCS_LEN: usize = 4;
/// Bound on register polls during reset and CSR access (QEMU completes
/// them at once; silicon within microseconds).
const SPIN_LIMIT: u32 = 100_000;

/// 32-bit register access to a LAN9118, by byte offset. [`Mmio`] on a
/// board; a model in unit tests.
pub trait Registers {
    /// Reads the register at `offset`.
    fn read(&mut self, offset: u32) -> u32;
    /// Writes `value` to the register at `offset`.
    fn write(&mut self, offset: u32, value: u32);
}

/// The controller's registers mapped at a physical address.
#[derive(Debug)]
pub struct Mmio {
    base: usize,
}

impl Mmio {
    /// The register block at `base` (0x4020_0000 on `mps2-an385`/`an386`,
    /// 0xA000_0000 on `mps2-an500`).
    ///
    /// # Safety
    ///
    /// `base` must be the address of a LAN9118's register block, and
    /// nothing else may access it while this value lives.
    pub const unsafe fn new(base: usize) -> Self {
        Mmio { base }
    }
}

impl Registers for Mmio {
    #[inline]
    fn read(&mut self, offset: u32) -> u32 {
        let addr = self.base.wrapping_add(offset as usize) as *const u32;
        // SAFETY: `new`'s caller vouched for the register block; offsets are
        // the driver's constants, word aligned and inside the 256-byte block.
        unsafe { core::ptr::read_volatile(addr) }
    }

    #[inline]
    fn write(&mut self, offset: u32, value: u32) {
        let addr = self.base.wrapping_add(offset as usize) as *mut u32;
        // SAFETY: as in `read`.
        unsafe { core::ptr::write_volatile(addr, value) }
    }
}

/// Why the controller could not be brought up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitError {
    /// `BYTE_TEST` did not read 0x87654321 (nothing there, or a bus
    /// width/endianness problem); the value read.
    ByteTest(u32),
    /// The soft reset or the ready bit did not complete in time.
    ResetTimeout,
    /// A MAC CSR access stayed busy.
    CsrTimeout,
}

/// The frame being received: staged words so far and what is left in the FIFO.
#[derive(Clone, Copy, Debug, Default)]
struct RxFrame {
    /// Frame length without FCS.
    len: usize,
    /// Bytes staged (a multiple of 4, at most `len` rounded up).
    staged: usize,
    /// FIFO words of this frame not popped yet (data and FCS).
    words_left: usize,
    /// The stack's cursor.
    cursor: usize,
}

/// A LAN9118 driver implementing [`Nic`]; see the [module docs](self).
pub struct Lan9118<R: Registers = Mmio> {
    regs: R,
    rx: Option<RxFrame>,
    staging: Staging,
    /// Declared length of the frame being sent; `None` when none is open.
    tx_len: Option<usize>,
    /// Bytes written to the open frame (more than `tx_len` = overflow).
    tx_written: usize,
    /// Bytes not yet pushed, packed little-endian.
    tx_word: u32,
    rx_errors: u32,
    tx_dumped: u32,
    /// The link as the PHY last said.
    link: bool,
    /// `FREE_RUN` at the last PHY read (`None`: never read).
    link_checked: Option<u32>,
}

/// The staging buffer, word aligned so words go in with one store.
#[repr(align(4))]
struct Staging([u8; STAGING_LEN]);

impl<R: Registers> core::fmt::Debug for Lan9118<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Lan9118")
            .field("rx", &self.rx)
            .field("tx_len", &self.tx_len)
            .field("rx_errors", &self.rx_errors)
            .field("tx_dumped", &self.tx_dumped)
            .finish_non_exhaustive()
    }
}

impl<R: Registers> Lan9118<R> {
    /// A driver for the controller behind `regs`; call
    /// [`init`](Self::init) before use.
    pub const fn new(regs: R) -> Self {
        Lan9118 {
            regs,
            rx: None,
            staging: Staging([0; STAGING_LEN]),
            tx_len: None,
            tx_written: 0,
            tx_word: 0,
            rx_errors: 0,
            tx_dumped: 0,
            link: true,
            link_checked: None,
        }
    }

    /// Resets the controller, sets the MAC address (`mac`, or keeps the
    /// one it loaded from its EEPROM — QEMU's `-nic ...,mac=`), and turns
    /// the transmitter and receiver on with interrupts off. Returns the MAC
    /// address in use.
    pub fn init(&mut self, mac: Option<[u8; 6]>) -> Result<[u8; 6], InitError> {
        let test = self.regs.read(reg::BYTE_TEST);
        if test != BYTE_TEST_VALUE {
            return Err(InitError::ByteTest(test));
        }
        self.regs.write(reg::HW_CFG, HW_CFG_SRST);
        self.spin_until(|r| r.read(reg::HW_CFG) & HW_CFG_SRST == 0)
            .ok_or(InitError::ResetTimeout)?;
        self.spin_until(|r| r.read(reg::PMT_CTRL) & PMT_READY != 0)
            .ok_or(InitError::ResetTimeout)?;
        self.regs.write(reg::IRQ_CFG, 0);
        self.regs.write(reg::INT_EN, 0);
        self.regs.write(reg::INT_STS, u32::MAX);
        let mac = match mac {
            Some(m) => {
                let [a, b, c, d, e, f] = m;
                self.mac_write(mac::ADDRL, u32::from_le_bytes([a, b, c, d]))?;
                self.mac_write(mac::ADDRH, u32::from_le_bytes([e, f, 0, 0]))?;
                m
            }
            None => {
                let [a, b, c, d] = self.mac_read(mac::ADDRL)?.to_le_bytes();
                let [e, f, _, _] = self.mac_read(mac::ADDRH)?.to_le_bytes();
                [a, b, c, d, e, f]
            }
        };
        // Writing MAC_CR also ends the promiscuous mode reset leaves on;
        // broadcast stays accepted (its bit disables it).
        self.mac_write(mac::CR, mac::CR_TXEN | mac::CR_RXEN | mac::CR_FDPX)?;
        self.regs.write(reg::TX_CFG, TX_CFG_ON | TX_CFG_TXSAO);
        self.regs.write(reg::RX_CFG, 0);
        self.rx = None;
        self.tx_len = None;
        Ok(mac)
    }

    /// Raises the interrupt line (active high, push-pull) while received
    /// frames wait in the FIFO, so a main loop can sleep until one arrives.
    pub fn enable_rx_interrupt(&mut self) {
        self.regs.write(reg::INT_STS, u32::MAX);
        self.regs.write(reg::INT_EN, INT_RSFL);
        self.regs.write(reg::IRQ_CFG, IRQ_CFG_ENABLE);
    }

    /// Clears every pending interrupt status (the line drops). Check
    /// [`rx_waiting`](Self::rx_waiting) afterwards: a frame that arrived
    /// before the clear does not raise the line again.
    pub fn ack_interrupts(&mut self) {
        self.regs.write(reg::INT_STS, u32::MAX);
    }

    /// True when a received frame is current or waits in the FIFO.
    pub fn rx_waiting(&mut self) -> bool {
        self.rx.is_some() || self.rx_status_count() != 0
    }

    /// The controller's free-running counter (25 MHz, wraps every 171 s,
    /// zeroed by reset).
    pub fn free_run(&mut self) -> u32 {
        self.regs.read(reg::FREE_RUN)
    }

    /// Received frames dropped because the controller flagged an error or
    /// they were longer than [`MAX_FRAME_LEN`].
    pub fn rx_errors(&self) -> u32 {
        self.rx_errors
    }

    /// Frames abandoned after their first word was in the FIFO
    /// ([`Nic::tx_abort`], or a length mismatch at [`Nic::tx_send`]).
    pub fn tx_dumped(&self) -> u32 {
        self.tx_dumped
    }

    /// The register block (tests inspect the model through it).
    pub fn registers(&mut self) -> &mut R {
        &mut self.regs
    }

    fn spin_until(&mut self, mut done: impl FnMut(&mut R) -> bool) -> Option<()> {
        (0..SPIN_LIMIT).any(|_| done(&mut self.regs)).then_some(())
    }

    fn csr_wait(&mut self) -> Result<(), InitError> {
        self.spin_until(|r| r.read(reg::MAC_CSR_CMD) & CSR_BUSY == 0)
            .ok_or(InitError::CsrTimeout)
    }

    fn mac_write(&mut self, index: u32, value: u32) -> Result<(), InitError> {
        self.csr_wait()?;
        self.regs.write(reg::MAC_CSR_DATA, value);
        self.regs.write(reg::MAC_CSR_CMD, CSR_BUSY | index);
        self.csr_wait()
    }

    fn mac_read(&mut self, index: u32) -> Result<u32, InitError> {
        self.csr_wait()?;
        self.regs
            .write(reg::MAC_CSR_CMD, CSR_BUSY | CSR_READ | index);
        self.csr_wait()?;
        Ok(self.regs.read(reg::MAC_CSR_DATA))
    }

    /// Reads PHY register `index` through `MII_ACC`/`MII_DATA` (both
    /// modelled by QEMU: a read completes at once there).
    fn phy_read(&mut self, index: u32) -> Result<u32, InitError> {
        let access = (phy::ADDRESS << 11) | ((index & 0x1f) << 6) | mac::MII_BUSY;
        self.mac_write(mac::MII_ACC, access)?;
        for _ in 0..SPIN_LIMIT {
            if self.mac_read(mac::MII_ACC)? & mac::MII_BUSY == 0 {
                return Ok(self.mac_read(mac::MII_DATA)? & 0xffff);
            }
        }
        Err(InitError::CsrTimeout)
    }

    fn rx_status_count(&mut self) -> u32 {
        (self.regs.read(reg::RX_FIFO_INF) >> 16) & 0xff
    }

    fn drain(&mut self, words: usize) {
        for _ in 0..words {
            self.regs.read(reg::RX_DATA);
        }
    }

    /// Pops FIFO words into the staging buffer until `upto` bytes are staged.
    // The FIFO word loops run once per word of every frame: on QEMU a
    // loop that straddles a 1 KiB page pays a block lookup per turn (the
    // firmware's memory.x puts `.text.hot` first, in one page).
    #[cfg_attr(target_os = "none", link_section = ".text.hot.lan9118")]
    fn stage(&mut self, upto: usize) {
        let Some(f) = self.rx.as_mut() else { return };
        // The words to pop, counted first: the loop then only moves words
        // (with the counts updated per word it took eleven instructions a
        // word). `upto` is at most the frame's length (1,514), so the words
        // end inside the staging buffer (1,516 bytes); a wrong `upto` past
        // it stages nothing.
        // (No wrap: at most 1,514 + 3.)
        let want = upto.saturating_sub(f.staged).wrapping_add(3) / 4;
        let words = want.min(f.words_left);
        let end = f.staged.wrapping_add(words.wrapping_mul(4));
        let Some(area) = self.staging.0.get_mut(f.staged..end) else {
            return;
        };
        for slot in area.as_chunks_mut::<4>().0 {
            *slot = self.regs.read(reg::RX_DATA).to_le_bytes();
        }
        f.staged = end;
        f.words_left = f.words_left.wrapping_sub(words);
    }

    /// One byte of frame `len` into the word being assembled; a completed
    /// word goes out unless it is the frame's last (`tx_send` pushes that).
    fn tx_byte(&mut self, b: u8, len: usize) {
        let shift = ((self.tx_written & 3) as u32).wrapping_mul(8);
        self.tx_word |= u32::from(b).wrapping_shl(shift);
        // Bounded: called for bytes that fit the frame, `tx_written < len`.
        self.tx_written = self.tx_written.wrapping_add(1);
        if self.tx_written.is_multiple_of(4) && self.tx_written < len {
            let w = core::mem::take(&mut self.tx_word);
            self.tx_push(w);
        }
    }

    fn tx_push(&mut self, word: u32) {
        self.regs.write(reg::TX_DATA, word);
    }

    fn tx_dump(&mut self) {
        self.regs
            .write(reg::TX_CFG, TX_CFG_ON | TX_CFG_TXSAO | TX_CFG_TXD_DUMP);
        self.tx_dumped = self.tx_dumped.wrapping_add(1);
        self.tx_len = None;
    }
}

impl<R: Registers> Nic for Lan9118<R> {
    const TX_MODE: TxMode = TxMode::LengthFirst;

    /// Lets multicast in (`MAC_CR.MCPAS`): the one group the stack joins
    /// (mDNS) needs no hash table; the stack drops other groups itself.
    fn join_multicast(&mut self, _group: crate::wire::EthernetAddress) {
        let cr = mac::CR_TXEN | mac::CR_RXEN | mac::CR_FDPX | mac::CR_MCPAS;
        let _ = self.mac_write(mac::CR, cr);
    }

    /// The PHY's basic status link bit (QEMU: off after the monitor's
    /// `set_link ... off`), read at most every 100 ms (by `FREE_RUN`); a
    /// PHY that does not answer leaves the last state.
    fn link_up(&mut self) -> bool {
        let now = self.regs.read(reg::FREE_RUN);
        if self
            .link_checked
            .is_some_and(|t| now.wrapping_sub(t) < LINK_CHECK_TICKS)
        {
            return self.link;
        }
        self.link_checked = Some(now);
        if let Ok(status) = self.phy_read(phy::BASIC_STATUS) {
            self.link = status & phy::BSR_LINK != 0;
        }
        self.link
    }

    fn rx_pending(&mut self) -> Option<usize> {
        if let Some(f) = self.rx {
            return Some(f.len);
        }
        // Bounded by the frames waiting now: error frames are drained here.
        for _ in 0..self.rx_status_count() {
            let status = self.regs.read(reg::RX_STATUS);
            let with_fcs = ((status >> 16) & 0x3fff) as usize;
            let words = with_fcs.div_ceil(4);
            let len = with_fcs.saturating_sub(FCS_LEN);
            if status & RX_STS_ERROR != 0 || len == 0 || len > MAX_FRAME_LEN {
                self.drain(words);
                self.rx_errors = self.rx_errors.wrapping_add(1);
                continue;
            }
            self.rx = Some(RxFrame {
                len,
                staged: 0,
                words_left: words,
                cursor: 0,
            });
            return Some(len);
        }
        None
    }

    fn rx_read(&mut self, buf: &mut [u8]) -> usize {
        let Some(f) = self.rx else { return 0 };
        // Bounded: `cursor <= len` (`rx_seek` clamps it), a frame of at
        // most 1,514 bytes.
        let n = buf.len().min(f.len.wrapping_sub(f.cursor));
        let end = f.cursor.wrapping_add(n);
        self.stage(end);
        let Some(f) = self.rx.as_mut() else { return 0 };
        match (self.staging.0.get(f.cursor..end), buf.get_mut(..n)) {
            (Some(src), Some(dst)) => {
                dst.copy_from_slice(src);
                f.cursor = end;
                n
            }
            _ => 0,
        }
    }

    fn rx_seek(&mut self, offset: usize) {
        if let Some(f) = self.rx.as_mut() {
            f.cursor = offset.min(f.len);
        }
    }

    /// The staged bytes (staging them first): the FIFO cannot be re-read,
    /// so the frame is in RAM anyway.
    fn rx_peek(&mut self, offset: usize, len: usize) -> Option<&[u8]> {
        let f = self.rx?;
        let end = offset.checked_add(len).filter(|&e| e <= f.len)?;
        self.stage(end);
        self.staging.0.get(offset..end)
    }

    /// A copy of the staging buffer's start, the frame's first bytes
    /// staged.
    fn rx_head(&mut self) -> ([u8; super::RX_HEAD_LEN], usize) {
        let n = self.rx.map_or(0, |f| f.len.min(super::RX_HEAD_LEN));
        self.stage(n);
        match self.staging.0.first_chunk() {
            Some(head) => (*head, n),
            None => ([0; super::RX_HEAD_LEN], 0),
        }
    }

    fn rx_dump(&mut self) {
        if let Some(f) = self.rx.take() {
            self.drain(f.words_left);
        }
    }

    fn tx_ready(&mut self, len: usize) -> bool {
        let free = (self.regs.read(reg::TX_FIFO_INF) & 0xffff) as usize;
        // Two command words plus the frame in whole words.
        free >= len.next_multiple_of(4).saturating_add(8)
    }

    fn tx_begin(&mut self, len: usize) -> Result<(), NicError> {
        if len > MAX_FRAME_LEN {
            return Err(NicError::TooLong);
        }
        if len == 0 {
            return Err(NicError::LengthMismatch);
        }
        if self.tx_len.is_some() {
            // The previous frame was neither sent nor aborted.
            self.tx_dump();
        }
        if !self.tx_ready(len) {
            return Err(NicError::Busy);
        }
        let len32 = len as u32; // at most 1514
        self.tx_push(CMD_A_FIRST_LAST | len32);
        // Command B: packet tag (the length, for debugging) and length.
        self.tx_push((len32 << 16) | len32);
        self.tx_len = Some(len);
        self.tx_written = 0;
        self.tx_word = 0;
        Ok(())
    }

    // The FIFO word loops run once per word of every frame: on QEMU a
    // loop that straddles a 1 KiB page pays a block lookup per turn (the
    // firmware's memory.x puts `.text.hot` first, in one page).
    #[cfg_attr(target_os = "none", link_section = ".text.hot.lan9118")]
    fn tx_write(&mut self, bytes: &[u8]) {
        let Some(len) = self.tx_len else { return };
        let room = len.saturating_sub(self.tx_written);
        let (fits, over) = bytes.split_at(bytes.len().min(room));
        // Whole words of the input, one FIFO write per 4 bytes at any
        // alignment: behind the `held` bytes of a word already begun, each
        // input word completes that word and leaves its last `held` bytes
        // (a funnel shift; payloads are written in pieces of any length,
        // e.g. 74-byte chargen lines). Then the tail a byte at a time.
        let held = (self.tx_written & 3) as u32;
        let (words, tail) = fits.as_chunks::<4>();
        if held == 0 {
            for w in words {
                let word = u32::from_le_bytes(*w);
                // At most `len` (≤ 1514) bytes are counted here: no wrap.
                self.tx_written = self.tx_written.wrapping_add(4);
                // A completed word goes out unless it is the frame's last.
                if self.tx_written < len {
                    self.tx_push(word);
                } else {
                    self.tx_word = word;
                }
            }
        } else {
            // `held` is 1 to 3: both shifts are 8 to 24 bits.
            let (up, down) = (
                held.wrapping_mul(8),
                32u32.wrapping_sub(held.wrapping_mul(8)),
            );
            for w in words {
                let v = u32::from_le_bytes(*w);
                let word = self.tx_word | v.wrapping_shl(up);
                self.tx_word = v.wrapping_shr(down);
                // As above; the completed word is never the frame's last:
                // `held` bytes follow it.
                self.tx_written = self.tx_written.wrapping_add(4);
                self.tx_push(word);
            }
        }
        for &b in tail {
            self.tx_byte(b, len);
        }
        // Overflow is remembered as extra length and refused at `tx_send`.
        self.tx_written = self.tx_written.saturating_add(over.len());
    }

    fn tx_rewrite(&mut self, _offset: usize, _bytes: &[u8]) {
        // LengthFirst: never called; nothing can be rewritten in a FIFO.
    }

    fn tx_send(&mut self) -> Result<(), NicError> {
        let Some(len) = self.tx_len else {
            return Err(NicError::LengthMismatch);
        };
        if self.tx_written != len {
            self.tx_dump();
            return Err(NicError::LengthMismatch);
        }
        let w = core::mem::take(&mut self.tx_word);
        self.tx_push(w);
        self.tx_len = None;
        Ok(())
    }

    fn tx_abort(&mut self) {
        if self.tx_len.is_some() {
            self.tx_dump();
        }
    }
}

#[cfg(test)]
mod tests {
    //! The driver against a model of the controller that behaves as QEMU's
    //! `hw/net/lan9118.c` does for the registers the driver uses.
    use super::*;
    use std::collections::VecDeque;
    use std::vec::Vec;

    #[derive(Default)]
    struct Model {
        mac: [u8; 6],
        mac_cr: u32,
        csr_data: u32,
        rx_status: VecDeque<u32>,
        rx_words: VecDeque<u32>,
        tx_state: TxState,
        tx_frame: Vec<u8>,
        tx_left: usize,
        sent: Vec<Vec<u8>>,
        int_sts: u32,
        int_en: u32,
        irq_cfg: u32,
        tx_cfg: u32,
        data_reads: usize,
        mii_acc: u32,
        mii_data: u32,
        /// PHY basic status (QEMU's reset value with the link up).
        phy_status: u32,
        free_run: u32,
        phy_reads: usize,
    }

    #[derive(Default, PartialEq)]
    enum TxState {
        #[default]
        Idle,
        B,
        Data,
    }

    impl Model {
        /// Queues a frame as the controller would: FCS appended, status
        /// length including it.
        fn receive(&mut self, frame: &[u8], error: bool) {
            let mut bytes = frame.to_vec();
            bytes.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
            for chunk in bytes.chunks(4) {
                let mut w = [0u8; 4];
                w[..chunk.len()].copy_from_slice(chunk);
                self.rx_words.push_back(u32::from_le_bytes(w));
            }
            let mut status = (bytes.len() as u32) << 16;
            if error {
                status |= RX_STS_ERROR | 2;
            }
            self.rx_status.push_back(status);
            self.int_sts |= INT_RSFL;
        }
    }

    impl Registers for Model {
        fn read(&mut self, offset: u32) -> u32 {
            match offset {
                reg::RX_DATA => {
                    self.data_reads += 1;
                    self.rx_words.pop_front().expect("RX FIFO underflow")
                }
                reg::RX_STATUS => self.rx_status.pop_front().unwrap_or(0),
                reg::BYTE_TEST => BYTE_TEST_VALUE,
                reg::HW_CFG => 0,
                reg::PMT_CTRL => PMT_READY,
                reg::RX_FIFO_INF => (self.rx_status.len() as u32) << 16,
                reg::TX_FIFO_INF => 4608,
                reg::FREE_RUN => self.free_run,
                reg::INT_STS => self.int_sts,
                reg::MAC_CSR_CMD => 0,
                reg::MAC_CSR_DATA => self.csr_data,
                other => panic!("unmodelled register read 0x{other:x}"),
            }
        }

        fn write(&mut self, offset: u32, value: u32) {
            match offset {
                reg::TX_DATA => match self.tx_state {
                    TxState::Idle => {
                        assert_eq!(value & CMD_A_FIRST_LAST, CMD_A_FIRST_LAST);
                        self.tx_left = (value & 0x7ff) as usize;
                        self.tx_frame.clear();
                        self.tx_state = TxState::B;
                    }
                    TxState::B => {
                        assert_eq!(value & 0x7ff, self.tx_left as u32, "command B length");
                        self.tx_state = TxState::Data;
                    }
                    TxState::Data => {
                        for b in value.to_le_bytes().iter().take(self.tx_left) {
                            self.tx_frame.push(*b);
                        }
                        self.tx_left = self.tx_left.saturating_sub(4);
                        if self.tx_left == 0 {
                            self.sent.push(std::mem::take(&mut self.tx_frame));
                            self.tx_state = TxState::Idle;
                        }
                    }
                },
                reg::TX_CFG => {
                    if value & TX_CFG_TXD_DUMP != 0 {
                        self.tx_state = TxState::Idle;
                        self.tx_frame.clear();
                    }
                    self.tx_cfg = value & 6;
                }
                reg::HW_CFG | reg::RX_CFG => {}
                reg::IRQ_CFG => self.irq_cfg = value,
                reg::INT_EN => self.int_en = value,
                reg::INT_STS => self.int_sts &= !value,
                reg::MAC_CSR_DATA => self.csr_data = value,
                reg::MAC_CSR_CMD => {
                    let index = value & 0xf;
                    let read = value & CSR_READ != 0;
                    let m = &mut self.mac;
                    match (index, read) {
                        (mac::CR, false) => self.mac_cr = self.csr_data,
                        (mac::ADDRL, false) => m[..4].copy_from_slice(&self.csr_data.to_le_bytes()),
                        (mac::ADDRH, false) => {
                            m[4..].copy_from_slice(&self.csr_data.to_le_bytes()[..2])
                        }
                        (mac::ADDRL, true) => {
                            self.csr_data = u32::from_le_bytes([m[0], m[1], m[2], m[3]])
                        }
                        (mac::ADDRH, true) => {
                            self.csr_data = u32::from_le_bytes([m[4], m[5], 0, 0])
                        }
                        // As QEMU: the access completes at once (busy
                        // reads back clear); a read fills MII_DATA.
                        (mac::MII_ACC, false) => {
                            self.mii_acc = self.csr_data & 0xffc2;
                            assert_eq!(self.csr_data & 2, 0, "the driver only reads the PHY");
                            let index = (self.csr_data >> 6) & 0x1f;
                            assert_eq!(index, phy::BASIC_STATUS, "unmodelled PHY register");
                            self.phy_reads += 1;
                            self.mii_data = self.phy_status;
                        }
                        (mac::MII_ACC, true) => self.csr_data = self.mii_acc,
                        (mac::MII_DATA, true) => self.csr_data = self.mii_data,
                        other => panic!("unmodelled MAC CSR {other:?}"),
                    }
                }
                other => panic!("unmodelled register write 0x{other:x}"),
            }
        }
    }

    fn nic() -> Lan9118<Model> {
        let mut n = Lan9118::new(Model {
            mac: [2, 0, 0, 0, 0, 9],
            phy_status: 0x782d,
            free_run: 1234,
            ..Model::default()
        });
        assert_eq!(n.init(None), Ok([2, 0, 0, 0, 0, 9]));
        n
    }

    fn frame(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + 3) as u8).collect()
    }

    #[test]
    fn link_state_comes_from_the_phy_at_most_every_100_ms() {
        let mut n = nic();
        assert!(n.link_up());
        assert_eq!(n.registers().phy_reads, 1);
        // QEMU's `set_link off` clears 0x0024 in the basic status.
        n.registers().phy_status &= !0x0024;
        assert!(n.link_up(), "within 100 ms: the last reading");
        assert_eq!(n.registers().phy_reads, 1);
        n.registers().free_run = 1234 + LINK_CHECK_TICKS;
        assert!(!n.link_up());
        assert_eq!(n.registers().phy_reads, 2);
        n.registers().phy_status |= 0x0024;
        n.registers().free_run = 1234u32.wrapping_sub(1); // the counter wrapped
        assert!(n.link_up());
    }

    #[test]
    fn joining_a_group_passes_multicast() {
        let mut n = nic();
        n.join_multicast(crate::wire::EthernetAddress([1, 0, 0x5e, 0, 0, 0xfb]));
        assert_eq!(
            n.registers().mac_cr,
            mac::CR_TXEN | mac::CR_RXEN | mac::CR_FDPX | mac::CR_MCPAS
        );
    }

    #[test]
    fn init_sets_mac_and_enables_the_mac() {
        let mut n = nic();
        assert_eq!(n.init(Some([2, 1, 2, 3, 4, 5])), Ok([2, 1, 2, 3, 4, 5]));
        let m = n.registers();
        assert_eq!(m.mac, [2, 1, 2, 3, 4, 5]);
        assert_eq!(m.mac_cr, mac::CR_TXEN | mac::CR_RXEN | mac::CR_FDPX);
        assert_eq!(m.tx_cfg, TX_CFG_ON | TX_CFG_TXSAO);
    }

    #[test]
    fn receive_strips_fcs_and_seeks_back() {
        let mut n = nic();
        for len in [60, 61, 62, 63, 64, 1514] {
            let f = frame(len);
            n.registers().receive(&f, false);
            assert_eq!(n.rx_pending(), Some(len));
            assert_eq!(n.rx_pending(), Some(len), "same frame until dumped");
            let mut head = [0u8; 14];
            assert_eq!(n.rx_read(&mut head), 14);
            assert_eq!(head[..], f[..14]);
            // Read the rest, then go back and read it again.
            let mut all = vec![0u8; 2000];
            assert_eq!(n.rx_read(&mut all), len - 14);
            assert_eq!(all[..len - 14], f[14..]);
            n.rx_seek(3);
            let mut again = vec![0u8; 2000];
            assert_eq!(n.rx_read(&mut again), len - 3);
            assert_eq!(again[..len - 3], f[3..]);
            assert_eq!(n.rx_read(&mut again), 0, "at the end");
            n.rx_seek(5000);
            assert_eq!(n.rx_read(&mut again), 0, "seek clamps");
            n.rx_dump();
            assert!(n.registers().rx_words.is_empty(), "FCS drained");
        }
        assert_eq!(n.rx_pending(), None);
    }

    #[test]
    fn staging_is_lazy_and_dump_drains_the_rest() {
        let mut n = nic();
        n.registers().receive(&frame(1000), false);
        n.registers().receive(&frame(70), false);
        assert_eq!(n.rx_pending(), Some(1000));
        let mut head = [0u8; 14];
        n.rx_read(&mut head);
        assert_eq!(n.registers().data_reads, 4, "only the header's words");
        n.rx_dump();
        assert_eq!(n.rx_pending(), Some(70));
        let mut buf = [0u8; 100];
        assert_eq!(n.rx_read(&mut buf), 70);
        assert_eq!(buf[..70], frame(70)[..]);
    }

    #[test]
    fn peek_lends_the_staged_bytes_without_moving_the_cursor() {
        let mut n = nic();
        assert_eq!(n.rx_peek(0, 1), None, "no frame");
        let f = frame(300);
        n.registers().receive(&f, false);
        assert_eq!(n.rx_pending(), Some(300));
        assert_eq!(n.rx_peek(54, 100), Some(&f[54..154]));
        assert_eq!(n.registers().data_reads, 39, "staged up to byte 154 only");
        assert_eq!(n.rx_peek(0, 300), Some(&f[..]));
        assert_eq!(n.rx_peek(200, 101), None, "beyond the frame");
        assert_eq!(n.rx_peek(usize::MAX, 2), None, "no overflow");
        let mut head = [0u8; 14];
        assert_eq!(n.rx_read(&mut head), 14);
        assert_eq!(head[..], f[..14], "the cursor did not move");
    }

    #[test]
    fn head_copies_the_staged_headers_of_short_and_long_frames() {
        let mut n = nic();
        assert_eq!(n.rx_head().1, 0, "no frame");
        let long = frame(300);
        let short = frame(60);
        n.registers().receive(&long, false);
        n.registers().receive(&short, false);
        assert_eq!(n.rx_pending(), Some(300));
        let (head, len) = n.rx_head();
        assert_eq!(len, super::super::RX_HEAD_LEN);
        assert_eq!(head[..], long[..super::super::RX_HEAD_LEN]);
        assert_eq!(
            n.registers().data_reads,
            34,
            "staged up to the headers only"
        );
        let mut rest = [0u8; 300];
        assert_eq!(n.rx_read(&mut rest), 300, "the frame reads whole after it");
        assert_eq!(rest[..], long[..]);
        n.rx_dump();
        assert_eq!(n.rx_pending(), Some(60));
        let (head, len) = n.rx_head();
        assert_eq!(len, 60, "only the short frame's own bytes count");
        assert_eq!(head[..60], short[..]);
    }

    #[test]
    fn error_and_oversize_frames_are_dropped_and_counted() {
        let mut n = nic();
        n.registers().receive(&frame(100), true);
        n.registers().receive(&frame(1600), false);
        n.registers().receive(&frame(64), false);
        assert_eq!(n.rx_pending(), Some(64));
        let mut buf = [0u8; 64];
        assert_eq!(n.rx_read(&mut buf), 64);
        assert_eq!(buf[..], frame(64)[..]);
        n.rx_dump();
        assert_eq!(n.rx_errors(), 2);
        assert_eq!(n.rx_pending(), None);
        assert!(n.registers().rx_words.is_empty());
    }

    #[test]
    fn no_frame_means_zero_reads() {
        let mut n = nic();
        let mut buf = [0u8; 8];
        assert_eq!(n.rx_read(&mut buf), 0);
        n.rx_seek(4);
        n.rx_dump();
        assert_eq!(n.rx_pending(), None);
    }

    #[test]
    fn transmit_words_in_any_split() {
        let mut n = nic();
        for len in [60, 61, 62, 63, 64, 1514] {
            let f = frame(len);
            // Even splits, and a chargen-like 72 + 2 (every word boundary
            // crossed at every alignment).
            for split in [1, 2, 3, 4, 5, 6, 7, 64, 74, 2000, 0] {
                assert!(n.tx_ready(len));
                n.tx_begin(len).unwrap();
                let mut rest = &f[..];
                let mut k = 0;
                while !rest.is_empty() {
                    let size = if split > 0 {
                        split
                    } else {
                        [72, 2, 1, 5][k % 4]
                    };
                    let (piece, r) = rest.split_at(size.min(rest.len()));
                    n.tx_write(piece);
                    rest = r;
                    k += 1;
                }
                let before = n.registers().sent.len();
                n.tx_send().unwrap();
                assert_eq!(n.registers().sent.len(), before + 1);
                assert_eq!(
                    n.registers().sent.last(),
                    Some(&f),
                    "len {len} split {split}"
                );
            }
        }
    }

    #[test]
    fn the_last_word_waits_for_send_and_abort_dumps() {
        let mut n = nic();
        let f = frame(64);
        n.tx_begin(64).unwrap();
        n.tx_write(&f);
        assert!(n.registers().sent.is_empty(), "held back until tx_send");
        n.tx_abort();
        assert_eq!(n.tx_dumped(), 1);
        // The controller is idle again: the next frame goes out intact.
        n.tx_begin(60).unwrap();
        n.tx_write(&f[..60]);
        n.tx_send().unwrap();
        assert_eq!(n.registers().sent, vec![f[..60].to_vec()]);
    }

    #[test]
    fn wrong_length_is_refused_and_dumped() {
        let mut n = nic();
        n.tx_begin(64).unwrap();
        n.tx_write(&frame(63));
        assert_eq!(n.tx_send(), Err(NicError::LengthMismatch));
        n.tx_begin(64).unwrap();
        n.tx_write(&frame(65));
        assert_eq!(n.tx_send(), Err(NicError::LengthMismatch));
        assert_eq!(n.tx_dumped(), 2);
        assert_eq!(n.tx_begin(1515), Err(NicError::TooLong));
        assert_eq!(n.tx_send(), Err(NicError::LengthMismatch), "nothing open");
        assert!(n.registers().sent.is_empty());
    }

    #[test]
    fn interrupt_enable_and_ack() {
        let mut n = nic();
        n.enable_rx_interrupt();
        assert_eq!(n.registers().int_en, INT_RSFL);
        assert_eq!(n.registers().irq_cfg, IRQ_CFG_ENABLE);
        n.registers().receive(&frame(60), false);
        assert_ne!(n.registers().int_sts & INT_RSFL, 0);
        n.ack_interrupts();
        assert_eq!(n.registers().int_sts, 0);
        assert!(n.rx_waiting(), "the frame still waits after the ack");
        assert_eq!(n.free_run(), 1234);
    }
}
