//! Records every frame a [`Nic`] receives or sends to a classic pcap file,
//! so a run of the stack (on a TAP or the simulated wire) can be opened in
//! Wireshark/tshark/tcpdump.
//!
//! [`Pcap`] wraps any [`Nic`] and is itself a [`Nic`] with the same
//! [`TxMode`], so the stack drives exactly the same path as without it.
//! Received frames are recorded when they become current (read whole, then
//! the cursor is put back at 0); sent frames are mirrored in a host buffer
//! (including rewrites) and recorded when the inner NIC accepts them.
//!
//! The format is the classic libpcap one: magic `0xa1b2c3d4` written
//! little-endian, version 2.4, snaplen 65535, link type 1 (Ethernet),
//! microsecond timestamps.

use std::io::{self, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use std::vec::Vec;

use super::{Nic, NicError, TxMode};

/// The classic pcap magic number (microsecond timestamps).
pub const PCAP_MAGIC: u32 = 0xa1b2_c3d4;
/// The snapshot length written in the file header; longer frames are cut.
pub const PCAP_SNAPLEN: u32 = 65_535;
/// The link type for Ethernet (`LINKTYPE_ETHERNET`).
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Length of the global file header.
pub const PCAP_HEADER_LEN: usize = 24;
/// Length of each record header.
pub const PCAP_RECORD_HEADER_LEN: usize = 16;

#[derive(Clone, Copy, Debug)]
enum Clock {
    System,
    Manual(Duration),
}

/// A [`Nic`] wrapper that writes every frame in and out to a pcap stream.
///
/// Writing errors cannot be reported through the [`Nic`] calls, so the
/// first one is kept, recording stops, and [`flush`](Pcap::flush) returns
/// it. Wrap the writer in a `BufWriter` for files.
#[derive(Debug)]
pub struct Pcap<N: Nic, W: Write> {
    inner: N,
    out: W,
    clock: Clock,
    error: Option<io::Error>,
    rx_recorded: bool,
    tx: Vec<u8>,
    frames: u64,
}

impl<N: Nic, W: Write> Pcap<N, W> {
    /// Wraps `inner` and writes the pcap file header to `out`.
    pub fn new(inner: N, mut out: W) -> io::Result<Pcap<N, W>> {
        let mut header = [0u8; PCAP_HEADER_LEN];
        let fields: [&[u8]; 7] = [
            &PCAP_MAGIC.to_le_bytes(),
            &2u16.to_le_bytes(), // version major
            &4u16.to_le_bytes(), // version minor
            &0i32.to_le_bytes(), // thiszone: timestamps are UTC
            &0u32.to_le_bytes(), // sigfigs
            &PCAP_SNAPLEN.to_le_bytes(),
            &LINKTYPE_ETHERNET.to_le_bytes(),
        ];
        let mut at = 0usize;
        for f in fields {
            let end = at.saturating_add(f.len());
            if let Some(dst) = header.get_mut(at..end) {
                dst.copy_from_slice(f);
            }
            at = end;
        }
        out.write_all(&header)?;
        Ok(Pcap {
            inner,
            out,
            clock: Clock::System,
            error: None,
            rx_recorded: false,
            tx: Vec::new(),
            frames: 0,
        })
    }

    /// Switches to a manual clock and sets it (time since the Unix epoch),
    /// for deterministic captures: simulated runs pass their virtual time.
    pub fn set_time(&mut self, since_epoch: Duration) {
        self.clock = Clock::Manual(since_epoch);
    }

    /// Switches back to timestamps from [`SystemTime`] (the default).
    pub fn use_system_clock(&mut self) {
        self.clock = Clock::System;
    }

    /// The wrapped NIC.
    pub fn inner(&self) -> &N {
        &self.inner
    }

    /// The wrapped NIC, mutably (for calls outside the [`Nic`] trait such
    /// as waiting on a TAP). Frames moved through it directly are not
    /// recorded.
    pub fn inner_mut(&mut self) -> &mut N {
        &mut self.inner
    }

    /// Frames recorded so far (both directions).
    pub fn frames_recorded(&self) -> u64 {
        self.frames
    }

    /// Flushes the writer; returns the first write error met while
    /// recording, if any (after which nothing more was recorded).
    pub fn flush(&mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()
    }

    /// Flushes and gives back the NIC and the writer.
    pub fn into_inner(mut self) -> io::Result<(N, W)> {
        self.flush()?;
        Ok((self.inner, self.out))
    }

    fn timestamp(&self) -> Duration {
        match self.clock {
            Clock::Manual(t) => t,
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default(),
        }
    }

    fn record(&mut self, frame: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let ts = self.timestamp();
        let orig = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let incl = orig.min(PCAP_SNAPLEN);
        let data = frame.get(..incl as usize).unwrap_or(frame);
        let mut head = [0u8; PCAP_RECORD_HEADER_LEN];
        let fields = [
            u32::try_from(ts.as_secs()).unwrap_or(u32::MAX),
            ts.subsec_micros(),
            incl,
            orig,
        ];
        for (dst, v) in head.chunks_exact_mut(4).zip(fields) {
            dst.copy_from_slice(&v.to_le_bytes());
        }
        let result = self
            .out
            .write_all(&head)
            .and_then(|()| self.out.write_all(data));
        match result {
            Ok(()) => self.frames = self.frames.saturating_add(1),
            Err(e) => self.error = Some(e),
        }
    }
}

impl<N: Nic, W: Write> Nic for Pcap<N, W> {
    const TX_MODE: TxMode = N::TX_MODE;

    fn mac_address(&self) -> Option<[u8; 6]> {
        self.inner.mac_address()
    }

    fn link_up(&mut self) -> bool {
        self.inner.link_up()
    }

    fn join_multicast(&mut self, group: crate::wire::EthernetAddress) {
        self.inner.join_multicast(group)
    }

    fn rx_pending(&mut self) -> Option<usize> {
        let len = self.inner.rx_pending()?;
        if !self.rx_recorded {
            self.rx_recorded = true;
            let mut frame = vec![0u8; len];
            self.inner.rx_seek(0);
            let mut got = 0usize;
            while let Some(rest) = frame.get_mut(got..) {
                let n = self.inner.rx_read(rest);
                if n == 0 {
                    break;
                }
                got = got.saturating_add(n);
            }
            frame.truncate(got);
            self.inner.rx_seek(0);
            self.record(&frame);
        }
        Some(len)
    }

    fn rx_read(&mut self, buf: &mut [u8]) -> usize {
        self.inner.rx_read(buf)
    }

    fn rx_seek(&mut self, offset: usize) {
        self.inner.rx_seek(offset);
    }

    fn rx_dump(&mut self) {
        self.rx_recorded = false;
        self.inner.rx_dump();
    }

    fn tx_ready(&mut self, len: usize) -> bool {
        self.inner.tx_ready(len)
    }

    fn tx_begin(&mut self, len: usize) -> Result<(), NicError> {
        self.tx.clear();
        self.inner.tx_begin(len)
    }

    fn tx_write(&mut self, bytes: &[u8]) {
        self.tx.extend_from_slice(bytes);
        self.inner.tx_write(bytes);
    }

    fn tx_rewrite(&mut self, offset: usize, bytes: &[u8]) {
        // Mirror only what a rewriting controller would do; a LengthFirst
        // one ignores rewrites, and so does the record of what it sent.
        if N::TX_MODE == TxMode::Rewrite {
            let end = offset.saturating_add(bytes.len()).min(self.tx.len());
            if let Some(dst) = self.tx.get_mut(offset..end) {
                if let Some(src) = bytes.get(..dst.len()) {
                    dst.copy_from_slice(src);
                }
            }
        }
        self.inner.tx_rewrite(offset, bytes);
    }

    fn tx_send(&mut self) -> Result<(), NicError> {
        let result = self.inner.tx_send();
        let frame = core::mem::take(&mut self.tx);
        if result.is_ok() {
            self.record(&frame);
        }
        result
    }

    fn tx_abort(&mut self) {
        self.tx.clear();
        self.inner.tx_abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nic::sim::{Faults, SimNic, SimWire};

    fn frame(tag: u8, len: usize) -> Vec<u8> {
        let mut f: Vec<u8> = (0..len).map(|i| (i as u8) ^ tag).collect();
        f[12..14].copy_from_slice(&[0x08, 0x06]);
        f
    }

    struct Record {
        sec: u32,
        usec: u32,
        data: Vec<u8>,
    }

    /// A minimal independent reader of what the writer produced.
    fn parse(bytes: &[u8]) -> Vec<Record> {
        let u32le = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap());
        assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(&bytes[4..8], &[2, 0, 4, 0]);
        assert_eq!(u32le(&bytes[16..20]), 65535);
        assert_eq!(u32le(&bytes[20..24]), 1);
        let mut at = 24;
        let mut out = Vec::new();
        while at < bytes.len() {
            let h = &bytes[at..at + 16];
            let incl = u32le(&h[8..12]) as usize;
            assert_eq!(incl, u32le(&h[12..16]) as usize);
            at += 16;
            out.push(Record {
                sec: u32le(&h[0..4]),
                usec: u32le(&h[4..8]),
                data: bytes[at..at + incl].to_vec(),
            });
            at += incl;
        }
        assert_eq!(at, bytes.len());
        out
    }

    #[test]
    fn records_both_directions_with_rewrites() {
        let wire = SimWire::new(1, Faults::none());
        let mut pcap = Pcap::new(wire.endpoint(), Vec::new()).unwrap();
        let mut peer = wire.endpoint();
        assert_eq!(<Pcap<SimNic, Vec<u8>> as Nic>::TX_MODE, TxMode::Rewrite);
        pcap.set_time(Duration::new(1_700_000_000, 123_456_000));

        peer.send_frame(&frame(1, 60)).unwrap();
        assert_eq!(pcap.rx_pending(), Some(60));
        // The stack still sees the frame from offset 0 after recording.
        let mut buf = [0u8; 4];
        assert_eq!(pcap.rx_read(&mut buf), 4);
        assert_eq!(&buf, &frame(1, 60)[..4]);
        assert_eq!(pcap.rx_pending(), Some(60)); // not recorded twice
        pcap.rx_dump();

        let mut sent = frame(2, 70);
        pcap.tx_begin(100).unwrap();
        pcap.tx_write(&[0; 70]);
        pcap.tx_rewrite(0, &sent);
        pcap.tx_send().unwrap();
        assert_eq!(peer.recv_frame().unwrap(), sent);

        pcap.tx_begin(60).unwrap();
        pcap.tx_write(&frame(3, 60));
        pcap.tx_abort();
        pcap.tx_begin(60).unwrap();
        pcap.tx_write(&frame(3, 61));
        assert!(pcap.tx_send().is_err()); // not recorded

        assert_eq!(pcap.frames_recorded(), 2);
        let (_, bytes) = pcap.into_inner().unwrap();
        let recs = parse(&bytes);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].data, frame(1, 60));
        assert_eq!((recs[0].sec, recs[0].usec), (1_700_000_000, 123_456));
        sent.truncate(70);
        assert_eq!(recs[1].data, sent);
    }

    #[test]
    fn forwards_length_first_and_records_without_rewrites() {
        let wire = SimWire::new(1, Faults::none());
        let mut pcap = Pcap::new(wire.endpoint_length_first(), Vec::new()).unwrap();
        let mut peer = wire.endpoint();
        assert_eq!(
            <Pcap<SimNic<true>, Vec<u8>> as Nic>::TX_MODE,
            TxMode::LengthFirst
        );
        let f = frame(4, 64);
        pcap.tx_begin(64).unwrap();
        pcap.tx_write(&f);
        pcap.tx_send().unwrap();
        assert_eq!(peer.recv_frame().unwrap(), f);
        let (_, bytes) = pcap.into_inner().unwrap();
        let recs = parse(&bytes);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].data, f);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!((u64::from(recs[0].sec)).abs_diff(now) < 60);
    }

    /// Accepts `0` more bytes, then fails every write.
    struct FailAfter(usize);
    impl Write for FailAfter {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("disk full"));
            }
            let n = b.len().min(self.0);
            self.0 -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn write_error_is_reported_by_flush() {
        let wire = SimWire::new(1, Faults::none());
        assert!(Pcap::new(wire.endpoint(), FailAfter(10)).is_err());
        let mut pcap = Pcap::new(wire.endpoint(), FailAfter(PCAP_HEADER_LEN)).unwrap();
        let mut peer = wire.endpoint();
        pcap.send_frame_for_test(&frame(1, 60));
        assert_eq!(
            peer.recv_frame().unwrap(),
            frame(1, 60),
            "sending still works"
        );
        assert_eq!(pcap.frames_recorded(), 0);
        assert_eq!(pcap.flush().unwrap_err().to_string(), "disk full");
        assert!(pcap.flush().is_ok(), "the error is reported once");
    }

    impl<N: Nic, W: Write> Pcap<N, W> {
        fn send_frame_for_test(&mut self, f: &[u8]) {
            self.tx_begin(f.len()).unwrap();
            self.tx_write(f);
            self.tx_send().unwrap();
        }
    }

    /// Cross-check with tcpdump when it is installed (it is on the peer
    /// test machines); silently a no-op elsewhere.
    #[test]
    fn tcpdump_reads_the_file_when_available() {
        let wire = SimWire::new(1, Faults::none());
        let mut pcap = Pcap::new(wire.endpoint(), Vec::new()).unwrap();
        let mut peer = wire.endpoint();
        // A real ARP request for 10.0.0.1 from 10.0.0.2.
        use crate::wire::build::arp_frame;
        use crate::wire::{arp, EthernetAddress, Ipv4Address};
        let mac = EthernetAddress([2, 0, 0, 0, 0, 2]);
        let mut arp = arp_frame(
            mac,
            EthernetAddress::BROADCAST,
            &arp::Repr {
                operation: arp::Operation::Request,
                source_hardware_addr: mac,
                source_protocol_addr: Ipv4Address::new(10, 0, 0, 2),
                target_hardware_addr: EthernetAddress([0; 6]),
                target_protocol_addr: Ipv4Address::new(10, 0, 0, 1),
            },
        );
        arp.resize(60, 0);
        peer.send_frame(&arp).unwrap();
        assert_eq!(pcap.rx_pending(), Some(60));
        pcap.rx_dump();
        let (_, bytes) = pcap.into_inner().unwrap();
        let path = std::env::temp_dir().join(format!("es-pcap-test-{}.pcap", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let out = std::process::Command::new("tcpdump")
            .args(["-n", "-r"])
            .arg(&path)
            .output();
        let _ = std::fs::remove_file(&path);
        if let Ok(out) = out {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                text.contains("Request who-has 10.0.0.1 tell 10.0.0.2"),
                "{text}"
            );
        }
    }
}
