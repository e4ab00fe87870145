//! The network controller contract: frames live in the NIC's memory and are
//! streamed in and out, so the MCU needs no frame buffer.
//!
//! # Receive
//!
//! [`Nic::rx_pending`] makes the oldest received frame *current* and returns
//! its length (without the FCS). The stack reads it with [`Nic::rx_read`]
//! from a cursor that starts at 0, moves the cursor with [`Nic::rx_seek`]
//! (forward to skip, backward to read again) and frees the frame with
//! [`Nic::rx_dump`]. The stack reads a payload twice: once to verify its
//! checksum, once to hand it to its owner, so that nothing corrupt is ever
//! delivered. Controllers with addressable receive memory (ENC28J60, a TAP
//! with a host buffer) seek natively. A receive FIFO that cannot go back
//! (LAN9118, Stellaris) stages the current frame in RAM inside its driver,
//! and that RAM is counted in the driver's footprint.
//!
//! # Transmit
//!
//! Controllers differ in one way that shapes the whole egress path, declared
//! by [`Nic::TX_MODE`]:
//!
//! - [`TxMode::Rewrite`]: bytes already written may be rewritten
//!   ([`Nic::tx_rewrite`]) until the frame is sent, and the frame length is
//!   whatever was written. The stack writes headers with placeholder length
//!   and checksum fields, streams the payload once while summing it, and
//!   patches the fields when the packet is closed (as the seed driver did).
//! - [`TxMode::LengthFirst`]: a FIFO that must be told the exact frame length
//!   before the first byte and can never go back. The stack first *measures*
//!   the payload (its producer runs once into a checksum sink), then writes
//!   the frame front to back with final headers. This is why payload
//!   producers must be deterministic: the same bytes every time they run —
//!   the same rule that makes TCP retransmission without buffers safe.
//!
//! A sequence for one frame is `tx_ready` → `tx_begin` → `tx_write`… →
//! (`tx_rewrite`… only in `Rewrite` mode) → `tx_send`, or `tx_abort` to
//! abandon it. Transmit and receive are independent: a frame may be built
//! while a received frame is current (an echo reply streams from one to the
//! other). The stack pads every frame to the 60-byte Ethernet minimum itself.
//!
//! # Implementations
//!
//! With the `std` feature: `tap::Tap` (Linux TAP), [`sim::SimWire`] (an
//! in-memory wire with seeded faults), [`pcap::Pcap`] (records any Nic) and
//! [`faulty::Faulty`] (seeded loss, delay, reordering, duplication and
//! corruption in front of any Nic, e.g. the TAP against the real kernel).
//! With the `lan9118` feature: `lan9118::Lan9118`, the SMSC LAN9118 FIFO
//! MAC of ARM's MPS2 boards (QEMU `mps2-an385`), which stages the current
//! received frame in RAM and is `LengthFirst` for transmit. With the
//! `enc28j60` feature: `enc28j60::Enc28j60`, the Microchip ENC28J60 over an
//! embedded-hal 1.0 SPI device, which reads and patches frames in the
//! chip's own buffer (`Rewrite`, no frame bytes in MCU RAM); with `std`
//! too, `enc28j60_model::Model`, a register-level model of that chip
//! whose wire is any other Nic (a TAP on the host).

#[cfg(feature = "enc28j60")]
pub mod enc28j60;
#[cfg(all(feature = "std", feature = "enc28j60"))]
pub mod enc28j60_model;
#[cfg(feature = "std")]
pub mod faulty;
#[cfg(feature = "lan9118")]
pub mod lan9118;
#[cfg(feature = "std")]
pub mod pcap;
#[cfg(feature = "std")]
pub mod sim;
#[cfg(all(feature = "std", target_os = "linux"))]
pub mod tap;

/// How a controller accepts a frame for transmission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxMode {
    /// Written bytes may be rewritten before sending; the length is what was
    /// written (ENC28J60, TAP).
    Rewrite,
    /// The exact frame length is declared first and bytes are never
    /// rewritten (LAN9118, Stellaris FIFO MACs).
    LengthFirst,
}

/// Why the controller refused a transmit operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NicError {
    /// No room for a frame of that length now; try again on a later poll.
    Busy,
    /// The frame is longer than the controller can send.
    TooLong,
    /// The frame written does not match the length declared at `tx_begin`.
    LengthMismatch,
    /// The controller reported a failure (link down, device gone).
    Device,
}

/// The smallest Ethernet frame without FCS; the stack pads up to this.
pub const MIN_FRAME_LEN: usize = 60;
/// The largest Ethernet II frame without FCS (1500-byte MTU).
pub const MAX_FRAME_LEN: usize = 1514;

/// Bytes of a received frame the stack reads as headers
/// ([`Nic::rx_head`]): Ethernet, the largest IPv4 header and the largest
/// transport header (14 + 60 + 60).
pub const RX_HEAD_LEN: usize = 134;

/// A network controller that holds frames in its own memory.
///
/// See the [module docs](self) for the contract. Implementations must not
/// panic on any call sequence: out-of-range reads return 0 bytes, seeks clamp
/// to the frame end, writes past the declared length are an error at
/// `tx_send`.
pub trait Nic {
    /// Whether written bytes can be rewritten before sending.
    const TX_MODE: TxMode;

    /// The controller's MAC address, if it has one of its own (a board's
    /// EEPROM); the stack uses its configured MAC otherwise. A TAP has none:
    /// its address belongs to the kernel's side of the link.
    fn mac_address(&self) -> Option<[u8; 6]> {
        None
    }

    /// Whether the link is up (cable in, PHY linked, interface running).
    /// The stack asks once per `poll`: while it is down nothing is sent
    /// and the stack checks again every [`LINK_POLL`](crate::stack::LINK_POLL);
    /// when it comes back the stack announces its address and DHCP asks
    /// for its lease again. A controller that cannot tell keeps this
    /// default, `true`: its failed sends then back off instead.
    fn link_up(&mut self) -> bool {
        true
    }

    /// Accepts frames sent to the multicast address `group` from now on
    /// (a receive filter that drops foreign multicast must let it in; the
    /// mDNS responder joins 01:00:5e:00:00:fb). Default: nothing to do,
    /// for a NIC that hands up all multicast (a TAP).
    fn join_multicast(&mut self, group: crate::wire::EthernetAddress) {
        let _ = group;
    }

    /// Makes the oldest received frame current and returns its length in
    /// bytes (without FCS), or `None` when nothing has arrived. Calling it
    /// again before [`rx_dump`](Nic::rx_dump) returns the same frame.
    fn rx_pending(&mut self) -> Option<usize>;

    /// Copies bytes of the current frame from the cursor into `buf` and
    /// advances the cursor; returns how many were copied (0 at the end or
    /// without a current frame).
    fn rx_read(&mut self, buf: &mut [u8]) -> usize;

    /// Moves the cursor to `offset` in the current frame (clamped to its
    /// length). Forward skips bytes; backward reads them again.
    fn rx_seek(&mut self, offset: usize);

    /// Bytes `offset..offset + len` of the current frame where they lie,
    /// for a driver that holds the frame in RAM anyway (a FIFO controller
    /// that stages it): the stack sums a received payload there instead
    /// of copying it out first. `None` (the default, and for a range
    /// beyond the frame) makes the stack read through
    /// [`rx_read`](Nic::rx_read). Does not move the cursor.
    fn rx_peek(&mut self, offset: usize, len: usize) -> Option<&[u8]> {
        let _ = (offset, len);
        None
    }

    /// The current frame's first bytes (up to [`RX_HEAD_LEN`]: its
    /// headers) and how many of them are the frame's; the rest of the
    /// array means nothing. The default clears an array and reads into it
    /// from the frame's start (the cursor is then after them); a driver
    /// that stages the frame in RAM anyway (as for
    /// [`rx_peek`](Nic::rx_peek)) returns a copy of its staged bytes
    /// instead — one fixed-size copy for every frame, no clearing — and
    /// may leave the cursor where it was.
    fn rx_head(&mut self) -> ([u8; RX_HEAD_LEN], usize) {
        let mut head = [0u8; RX_HEAD_LEN];
        self.rx_seek(0);
        let n = self.rx_read(&mut head);
        (head, n)
    }

    /// Frees the current frame; the next `rx_pending` moves to the next one.
    fn rx_dump(&mut self);

    /// True when a frame of `len` bytes can be started now.
    fn tx_ready(&mut self, len: usize) -> bool;

    /// Starts a frame. In [`TxMode::LengthFirst`] `len` is the exact length;
    /// in [`TxMode::Rewrite`] it is an upper bound.
    fn tx_begin(&mut self, len: usize) -> Result<(), NicError>;

    /// Appends bytes to the frame being built.
    fn tx_write(&mut self, bytes: &[u8]);

    /// Overwrites bytes already written at `offset` ([`TxMode::Rewrite`]
    /// only; a `LengthFirst` controller ignores it and the stack never calls
    /// it there).
    fn tx_rewrite(&mut self, offset: usize, bytes: &[u8]);

    /// Sends the frame built since `tx_begin`. The frame is consumed even
    /// when this fails: a sender that wants it out must build it again.
    fn tx_send(&mut self) -> Result<(), NicError>;

    /// Abandons the frame being built without sending it.
    fn tx_abort(&mut self);
}
