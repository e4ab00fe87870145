//! The ENC28J60 model driven by an independent driver: the embassy
//! project's `embassy-net-enc28j60` (embedded-hal 1.0, its blocking
//! `transmit`/`receive`), so the model is checked against someone else's
//! reading of the datasheet, not only against our own driver.
//!
//! - Every frame size from 60 to 1514 bytes goes out through the embassy
//!   driver and the model, and comes in through them, byte-exact, many
//!   times across the receive ring's wrap, without an errata violation.
//! - Two modelled chips on one cable, the embassy driver on one and ours on
//!   the other: every size each way, byte-exact.
// Test code: panics are how it fails (as lib.rs allows for unit tests).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::rc::Rc;

use embassy_net_enc28j60::Enc28j60 as Embassy;
use embedded_hal::delay::DelayNs;
use embedded_hal::spi::{ErrorType, Operation, SpiDevice};
use emberstack::nic::enc28j60::{Config, Enc28j60};
use emberstack::nic::enc28j60_model::{Model, QueueWire};
use emberstack::nic::{Nic, NicError, TxMode};

/// The embassy driver takes an optional reset pin; it gets none (it then
/// resets with the System Reset Command).
struct NoPin;
impl embedded_hal::digital::ErrorType for NoPin {
    type Error = Infallible;
}
impl embedded_hal::digital::OutputPin for NoPin {
    fn set_low(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

struct NoDelay;
impl DelayNs for NoDelay {
    fn delay_ns(&mut self, _ns: u32) {}
}

/// A model the test keeps a handle on while a driver owns the SPI device.
struct Shared<W>(Rc<RefCell<Model<W>>>);
impl<W> ErrorType for Shared<W> {
    type Error = Infallible;
}
impl<W: Nic> SpiDevice for Shared<W> {
    fn transaction(&mut self, ops: &mut [Operation<'_, u8>]) -> Result<(), Infallible> {
        self.0.borrow_mut().transaction(ops)
    }
}

const EMBASSY_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x28];
const OUR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x29];

fn frame(len: usize, seed: usize, dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len)
        .map(|i| (i.wrapping_mul(31) ^ seed.wrapping_mul(7)) as u8)
        .collect();
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f
}

#[test]
fn embassy_driver_sends_and_receives_every_size_through_the_model() {
    let model = Rc::new(RefCell::new(Model::new(QueueWire::default())));
    let mut eth = Embassy::new(Shared(model.clone()), None::<NoPin>, EMBASSY_MAC);
    assert!(eth.is_link_up(), "PHSTAT2.LSTAT through the MII");
    model.borrow_mut().set_link(false);
    assert!(!eth.is_link_up());
    model.borrow_mut().set_link(true);
    let mut buf = vec![0u8; 1600];
    assert_eq!(eth.receive(&mut buf), None, "nothing yet");
    let peer = [2, 0, 0, 0, 0, 1];
    for len in 60..=1514 {
        let out = frame(len, len, peer, EMBASSY_MAC);
        eth.transmit(&out);
        let sent = model.borrow_mut().wire_mut().outbound.pop();
        assert_eq!(sent.as_deref(), Some(&out[..]), "sent {len} bytes");

        let inbound = frame(len, len + 1, EMBASSY_MAC, peer);
        model
            .borrow_mut()
            .wire_mut()
            .inbound
            .push_back(inbound.clone());
        let got = eth.receive(&mut buf);
        assert_eq!(got, Some(len), "received length");
        assert_eq!(buf[..len], inbound[..], "received {len} bytes");
    }
    // Two at once, then drained in order.
    for len in [1514, 60] {
        let f = frame(len, 3, EMBASSY_MAC, peer);
        model.borrow_mut().wire_mut().inbound.push_back(f);
    }
    assert_eq!(eth.receive(&mut buf), Some(1514));
    assert_eq!(eth.receive(&mut buf), Some(60));
    assert_eq!(eth.receive(&mut buf), None);
    let m = model.borrow();
    assert_eq!(m.stats().rx_frames, 1457);
    assert_eq!(m.stats().tx_frames, 1455);
    assert_eq!(m.stats().rx_overflows, 0);
    assert_eq!(
        m.violations(),
        Default::default(),
        "embassy keeps the errata too"
    );
}

/// One end of a cable between two modelled chips.
struct CableEnd {
    rx: Rc<RefCell<VecDeque<Vec<u8>>>>,
    tx: Rc<RefCell<VecDeque<Vec<u8>>>>,
    cursor: usize,
    building: Vec<u8>,
}

fn cable() -> (CableEnd, CableEnd) {
    let a = Rc::new(RefCell::new(VecDeque::new()));
    let b = Rc::new(RefCell::new(VecDeque::new()));
    let end = |rx: &Rc<_>, tx: &Rc<_>| CableEnd {
        rx: Rc::clone(rx),
        tx: Rc::clone(tx),
        cursor: 0,
        building: Vec::new(),
    };
    (end(&a, &b), end(&b, &a))
}

impl Nic for CableEnd {
    const TX_MODE: TxMode = TxMode::Rewrite;
    fn rx_pending(&mut self) -> Option<usize> {
        self.rx.borrow().front().map(Vec::len)
    }
    fn rx_read(&mut self, buf: &mut [u8]) -> usize {
        let rx = self.rx.borrow();
        let Some(f) = rx.front() else { return 0 };
        let src = &f[self.cursor.min(f.len())..];
        let n = src.len().min(buf.len());
        buf[..n].copy_from_slice(&src[..n]);
        self.cursor += n;
        n
    }
    fn rx_seek(&mut self, offset: usize) {
        self.cursor = offset;
    }
    fn rx_dump(&mut self) {
        self.rx.borrow_mut().pop_front();
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
        self.building[offset..offset + bytes.len()].copy_from_slice(bytes);
    }
    fn tx_send(&mut self) -> Result<(), NicError> {
        let f = std::mem::take(&mut self.building);
        self.tx.borrow_mut().push_back(f);
        Ok(())
    }
    fn tx_abort(&mut self) {
        self.building.clear();
    }
}

#[test]
fn embassy_and_our_driver_on_one_cable_every_size_each_way() {
    let (end_a, end_b) = cable();
    let chip_a = Rc::new(RefCell::new(Model::new(end_a)));
    let mut embassy = Embassy::new(Shared(chip_a.clone()), None::<NoPin>, EMBASSY_MAC);
    let chip_b = Rc::new(RefCell::new(Model::new(end_b)));
    let mut ours = Enc28j60::new(Shared(chip_b.clone()));
    let config = Config {
        mac: OUR_MAC,
        ..Config::default()
    };
    ours.init(config, &mut NoDelay).expect("init");
    let mut buf = vec![0u8; 1600];
    for len in 60..=1514 {
        // embassy -> ours
        let f = frame(len, len, OUR_MAC, EMBASSY_MAC);
        embassy.transmit(&f);
        assert_eq!(ours.rx_pending(), Some(len), "ours got {len}");
        let mut got = vec![0u8; len];
        // In two reads with a seek back between, as the stack does.
        assert_eq!(ours.rx_read(&mut got), len);
        ours.rx_seek(14);
        assert_eq!(ours.rx_read(&mut got[14..]), len - 14);
        assert_eq!(got, f, "embassy -> ours, {len} bytes");
        ours.rx_dump();

        // ours -> embassy, header patched in place after the payload.
        let g = frame(len, len + 9, EMBASSY_MAC, OUR_MAC);
        assert!(ours.tx_ready(len));
        ours.tx_begin(len).expect("begin");
        ours.tx_write(&[0; 14]);
        ours.tx_write(&g[14..]);
        ours.tx_rewrite(0, &g[..14]);
        ours.tx_send().expect("send");
        assert_eq!(embassy.receive(&mut buf), Some(len), "embassy got {len}");
        assert_eq!(buf[..len], g[..], "ours -> embassy, {len} bytes");
    }
    assert_eq!(ours.rx_pending(), None);
    assert_eq!(embassy.receive(&mut buf), None);
    for chip in [&chip_a, &chip_b] {
        let m = chip.borrow();
        assert_eq!(m.violations(), Default::default());
        assert_eq!(m.stats().rx_frames, 1455);
        assert_eq!(m.stats().tx_frames, 1455);
    }
}
