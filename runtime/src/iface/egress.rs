//! Egress framing: Ethernet + IPv4 + a transport header + a streamed payload.
//!
//! One routine serves both kinds of controller ([`TxMode`]):
//!
//! - `Rewrite`: headers go out with zero length/checksum fields, the payload
//!   streams once while it is summed, then the IPv4 and transport headers are
//!   rewritten in place (the seed's `ip_tx_packet`).
//! - `LengthFirst`: the payload producer runs once into a measuring sink
//!   (length and checksum, nothing written), then the frame is written front
//!   to back with final headers. A producer that writes a different length
//!   the second time is caught here and the frame is abandoned; so is one
//!   that writes different bytes, in debug builds (every test), which sum
//!   the writing pass again. Release builds do not: every producer in the
//!   stack replays what it recorded (HTTP's tag journal, the mail clients'
//!   snapshots), and a second sum of every payload byte sat between a
//!   request and its answer. Were a producer to break the rule anyway, the
//!   frame would carry a wrong checksum and the peer would drop it: lost,
//!   never corrupt.

use crate::nic::{Nic, NicError, TxMode, MAX_FRAME_LEN, MIN_FRAME_LEN};
use crate::wire::{ethernet, icmp, ipv4, tcp, udp};
use crate::wire::{Checksum, EtherType, EthernetAddress, IpProtocol, Ipv4Address, Summed};

/// Largest IPv4 packet the stack sends (the Ethernet MTU).
pub const MTU: usize = 1500;
/// Longest transport header emitted: TCP with its options (MSS and
/// timestamps, 36 bytes; UDP's and ICMP's are 8). The frame's header
/// buffer is this much longer than the IPv4 and Ethernet headers, and is
/// cleared for every frame sent: 70 bytes where 60 of transport header
/// (TCP's most) made it 94.
pub const MAX_TRANSPORT_HEADER: usize = tcp::MAX_EMIT_LEN;
/// Bytes moved per NIC call when a payload streams from a received frame.
const CHUNK: usize = 64;
/// Whether the writing pass of a `LengthFirst` send sums its bytes again to
/// check them against the measuring pass (see the module docs).
const VERIFY_WRITES: bool = cfg!(debug_assertions);

/// Where payload bytes go: the NIC, or a measuring pass that only counts.
pub trait PayloadSink {
    /// Appends bytes to the payload.
    fn write(&mut self, bytes: &[u8]);
    /// Appends `len` bytes of the *received* frame, starting at `offset` in
    /// that frame (an echo reply streams from the request this way).
    fn write_from_rx(&mut self, offset: usize, len: usize);
    /// Appends bytes whose sum is known (flash data summed at build
    /// time): a sink that sums adds the word instead of the bytes.
    fn write_summed(&mut self, piece: Summed) {
        self.write(piece.bytes);
    }
    /// Counts `len` bytes whose sum the producer knows without writing
    /// them, when this sink only measures (the first pass of a
    /// `LengthFirst` send): a dynamic HTTP response summed as it was
    /// rendered skips a walk of its parts. False (the default, and for a
    /// sink that writes): the producer writes the bytes.
    fn write_measured(&mut self, len: usize, sum: Checksum) -> bool {
        let _ = (len, sum);
        false
    }
}

/// Produces a packet's payload, possibly more than once.
///
/// **Rule:** every call writes exactly the same bytes. A FIFO controller is
/// fed by a measuring pass and then a writing pass, and TCP regenerates
/// segments on retransmission instead of keeping copies.
pub trait Payload {
    /// Writes the whole payload into `sink`.
    fn write_to(&mut self, sink: &mut dyn PayloadSink);
    /// Length and checksum when already known, which skips the measuring
    /// pass on `LengthFirst` controllers.
    fn known(&self) -> Option<(usize, Checksum)> {
        None
    }
    /// Called with the produced length and sum before the frame is sent;
    /// returning false abandons the frame ([`SendError::PayloadChanged`]).
    /// TCP uses it to refuse a regenerated segment that differs from the
    /// original.
    fn accept(&self, len: usize, sum: Checksum) -> bool {
        let _ = (len, sum);
        true
    }
}

/// What went out: the frame and payload sizes and the payload's sum.
#[derive(Clone, Copy, Debug)]
pub struct Sent {
    /// Frame bytes handed to the NIC (padding included).
    pub frame_len: usize,
    /// Payload bytes.
    pub payload_len: usize,
    /// One's-complement sum of the payload.
    pub payload_sum: Checksum,
}

/// A payload held in memory.
#[derive(Clone, Copy, Debug)]
pub struct Bytes<'a>(pub &'a [u8]);

impl Payload for Bytes<'_> {
    fn write_to(&mut self, sink: &mut dyn PayloadSink) {
        sink.write(self.0);
    }
}

/// A payload copied from the received frame still held by the NIC.
#[derive(Clone, Copy, Debug)]
pub struct FromRx {
    /// Offset in the received frame.
    pub offset: usize,
    /// Bytes to copy.
    pub len: usize,
    /// Their checksum, when the receive path summed them already.
    pub sum: Option<Checksum>,
}

impl Payload for FromRx {
    fn write_to(&mut self, sink: &mut dyn PayloadSink) {
        sink.write_from_rx(self.offset, self.len);
    }
    fn known(&self) -> Option<(usize, Checksum)> {
        self.sum.map(|s| (self.len, s))
    }
}

/// A payload produced by a closure (which must obey the [`Payload`] rule).
pub struct FnPayload<F>(pub F);

impl<F: FnMut(&mut dyn PayloadSink)> Payload for FnPayload<F> {
    fn write_to(&mut self, sink: &mut dyn PayloadSink) {
        (self.0)(sink)
    }
}

/// Reads received-frame bytes at an absolute offset. (Out of line: the
/// TCP, UDP and raw readers and the copy of an echo's data from the
/// received frame share one copy; 36 B smaller.)
#[inline(never)]
pub(crate) fn rx_read_at<N: Nic>(nic: &mut N, offset: usize, buf: &mut [u8]) -> usize {
    nic.rx_seek(offset);
    nic.rx_read(buf)
}

/// Sums `len` bytes of the received frame from `offset`; `None` when the
/// frame is shorter than that.
pub(crate) fn rx_sum<N: Nic>(nic: &mut N, offset: usize, len: usize) -> Option<Checksum> {
    let mut sum = Checksum::new();
    if let Some(bytes) = nic.rx_peek(offset, len) {
        sum.add_bytes(bytes);
        return Some(sum);
    }
    let mut buf = [0u8; CHUNK];
    let mut done = 0usize;
    nic.rx_seek(offset);
    // Bounded: `done < len` in the loop and `got <= want <= len - done`
    // (`Nic::rx_read` reads at most the buffer; were a driver to return
    // more, `done` would pass `len` and end the loop).
    while done < len {
        let want = len.wrapping_sub(done).min(CHUNK);
        let got = nic.rx_read(buf.get_mut(..want)?);
        if got == 0 {
            return None;
        }
        sum.add_bytes(buf.get(..got)?);
        done = done.wrapping_add(got);
    }
    Some(sum)
}

/// A sink that counts, sums when `sum_bytes` is set, and writes to the NIC
/// when `emit` is set.
struct StreamSink<'n, N: Nic> {
    nic: &'n mut N,
    emit: bool,
    sum_bytes: bool,
    limit: usize,
    len: usize,
    sum: Checksum,
    overflow: bool,
}

impl<'n, N: Nic> StreamSink<'n, N> {
    /// (Out of line: the measuring and the writing pass share one copy.)
    #[inline(never)]
    fn new(nic: &'n mut N, emit: bool, sum_bytes: bool, limit: usize) -> Self {
        StreamSink {
            nic,
            emit,
            sum_bytes,
            limit,
            len: 0,
            sum: Checksum::new(),
            overflow: false,
        }
    }
}

impl<N: Nic> PayloadSink for StreamSink<'_, N> {
    fn write(&mut self, bytes: &[u8]) {
        // Bounded: `len <= limit` always (it grows by at most `room`).
        let room = self.limit.wrapping_sub(self.len);
        let take = bytes.len().min(room);
        if take < bytes.len() {
            self.overflow = true;
        }
        let Some(part) = bytes.get(..take) else {
            return;
        };
        if self.sum_bytes {
            self.sum.add_bytes(part);
        }
        self.len = self.len.wrapping_add(take);
        if self.emit {
            self.nic.tx_write(part);
        }
    }

    fn write_summed(&mut self, piece: Summed) {
        let len = piece.bytes.len();
        // Bounded: `len <= limit` always.
        if len > self.limit.wrapping_sub(self.len) {
            return self.write(piece.bytes); // cut at the limit
        }
        debug_assert_eq!(piece.checksum().fold(), {
            let mut c = Checksum::new();
            c.add_bytes(piece.bytes);
            c.fold()
        });
        if self.sum_bytes {
            self.sum.add_checksum(piece.checksum());
        }
        self.len = self.len.wrapping_add(len);
        if self.emit {
            self.nic.tx_write(piece.bytes);
        }
    }

    fn write_measured(&mut self, len: usize, sum: Checksum) -> bool {
        // Bounded: `len <= limit` always.
        if self.emit || len > self.limit.wrapping_sub(self.len) {
            return false;
        }
        self.sum.add_checksum(sum);
        self.len = self.len.wrapping_add(len);
        true
    }

    fn write_from_rx(&mut self, offset: usize, len: usize) {
        let mut buf = [0u8; CHUNK];
        let mut done = 0usize;
        // Bounded: `done < len` in the loop, `got <= want <= len - done`,
        // and `offset + len` lies inside the received frame (callers pass
        // a part of it, at most 1,514 bytes).
        while done < len {
            let want = len.wrapping_sub(done).min(CHUNK);
            let Some(chunk) = buf.get_mut(..want) else {
                return;
            };
            let got = rx_read_at(self.nic, offset.wrapping_add(done), chunk);
            if got == 0 {
                // The received frame is shorter than claimed: the result
                // would be short; flag it so the frame is abandoned.
                self.overflow = true;
                return;
            }
            if let Some(part) = buf.get(..got) {
                self.write(part);
            }
            done = done.wrapping_add(got);
        }
    }
}

/// The transport header in front of a payload.
#[derive(Clone, Copy, Debug)]
pub enum Transport {
    /// A UDP header (RFC 768).
    Udp {
        /// Our port.
        src_port: u16,
        /// Their port.
        dst_port: u16,
    },
    /// A TCP header (RFC 9293); its `payload_len` is filled in from the
    /// payload actually produced.
    Tcp(tcp::Repr),
    /// An ICMP header (RFC 792): type, code, and the 4 bytes after the
    /// checksum (echo identifier and sequence, or zeros for errors).
    Icmp {
        /// Message type.
        msg_type: u8,
        /// Message code.
        code: u8,
        /// Bytes 4..8 of the header.
        rest: [u8; 4],
    },
    /// No transport header: the payload follows the IP header as it is
    /// (a [`raw`](crate::raw) socket's protocol).
    Raw {
        /// The IP protocol number.
        protocol: u8,
    },
}

impl Transport {
    fn protocol(&self) -> IpProtocol {
        match self {
            Transport::Udp { .. } => IpProtocol::Udp,
            Transport::Tcp(_) => IpProtocol::Tcp,
            Transport::Icmp { .. } => IpProtocol::Icmp,
            // Raw sockets are for the other protocols (not ICMP, TCP or
            // UDP); the number goes out as it is either way.
            Transport::Raw { protocol } => IpProtocol::Unknown(*protocol),
        }
    }

    fn header_len(&self) -> usize {
        match self {
            Transport::Udp { .. } => udp::HEADER_LEN,
            Transport::Tcp(repr) => repr.header_len(),
            Transport::Icmp { .. } => icmp::HEADER_LEN,
            Transport::Raw { .. } => 0,
        }
    }

    /// Writes the header with its final checksum into `buf`: the header
    /// first with a zero checksum field, then one sum over the
    /// pseudo-header (UDP, TCP), the header and the payload's sum.
    fn emit(&self, buf: &mut [u8], ip: &IpHeader, payload_len: usize, payload_sum: Checksum) {
        let hdr_len = self.header_len();
        // Bounded: a header of at most 60 bytes and a payload within the MTU.
        let total = hdr_len.wrapping_add(payload_len);
        let pseudo = match *self {
            Transport::Udp { src_port, dst_port } => {
                let repr = udp::Repr {
                    src_port,
                    dst_port,
                    payload_len,
                };
                repr.emit_header(&mut udp::Packet::new_unchecked(&mut *buf), 0);
                Some(IpProtocol::Udp)
            }
            Transport::Tcp(repr) => {
                // In place: the frame's header buffer always has room for
                // the longest header `emit_into` writes.
                if let Some(h) = buf.first_chunk_mut::<{ tcp::MAX_EMIT_LEN }>() {
                    tcp::Repr {
                        payload_len,
                        ..repr
                    }
                    .emit_into(h, 0);
                }
                Some(IpProtocol::Tcp)
            }
            Transport::Icmp {
                msg_type,
                code,
                rest,
            } => {
                let hdr = [msg_type, code, 0, 0, rest[0], rest[1], rest[2], rest[3]];
                crate::wire::put_slice(buf, 0, &hdr);
                None
            }
            Transport::Raw { .. } => return,
        };
        let mut sum = match pseudo {
            Some(p) => {
                let len = u16::try_from(total).unwrap_or(u16::MAX);
                ipv4::pseudo_header(ip.src, ip.dst, p, len)
            }
            None => Checksum::new(),
        };
        sum.add_bytes(buf.get(..hdr_len).unwrap_or(&[]));
        sum.add_checksum(payload_sum);
        match self {
            Transport::Udp { .. } => {
                udp::Packet::new_unchecked(&mut *buf).set_checksum(udp::checksum_field(sum))
            }
            Transport::Tcp(_) => tcp::Packet::new_unchecked(&mut *buf).set_checksum(sum.finish()),
            _ => crate::wire::put_slice(buf, 2, &sum.finish().to_be_bytes()),
        }
    }
}

/// Addressing for one outgoing IPv4 packet.
#[derive(Clone, Copy, Debug)]
pub struct IpHeader {
    /// Next-hop MAC address.
    pub dst_mac: EthernetAddress,
    /// Our MAC address.
    pub src_mac: EthernetAddress,
    /// Source address (0.0.0.0 before DHCP has bound).
    pub src: Ipv4Address,
    /// Destination address.
    pub dst: Ipv4Address,
    /// IP time to live (64; 255 for mDNS, RFC 6762 §11; 1 for other
    /// link-local multicast such as IGMP).
    pub ttl: u8,
}

/// Why a packet was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The next hop's MAC address is not known yet; an ARP request is out.
    /// Send again on a later poll.
    ArpPending,
    /// The destination is off-link and there is no gateway.
    NoRoute,
    /// The interface has no IPv4 address (DHCP has not bound).
    NoAddress,
    /// The NIC has no room now; send again on a later poll.
    Busy,
    /// The payload does not fit one frame.
    TooLong,
    /// The payload producer wrote different bytes on its second run; the
    /// frame was abandoned (see [`Payload`]).
    PayloadChanged,
    /// The NIC failed.
    Nic(NicError),
    /// No such socket (closed or never bound).
    BadSocket,
    /// Not answered on purpose: an echo of a datagram sent to a broadcast
    /// address or from a well-known port (see [`UdpDatagram::echo`]).
    ///
    /// [`UdpDatagram::echo`]: crate::udp::UdpDatagram::echo
    Refused,
}

impl From<NicError> for SendError {
    fn from(e: NicError) -> Self {
        match e {
            NicError::Busy => SendError::Busy,
            NicError::TooLong => SendError::TooLong,
            other => SendError::Nic(other),
        }
    }
}

/// Fixed part of every frame: Ethernet + IPv4 headers.
const FIXED: usize = ethernet::HEADER_LEN + ipv4::HEADER_LEN;

// `pad` takes its zeros from the header buffer's tail.
const _: () = assert!(FIXED + MAX_TRANSPORT_HEADER >= MIN_FRAME_LEN);

/// Sends one IPv4 packet.
pub(crate) fn send_ipv4<N: Nic>(
    nic: &mut N,
    ip: &IpHeader,
    transport: &Transport,
    payload: &mut dyn Payload,
) -> Result<Sent, SendError> {
    let th_len = transport.header_len();
    // Bounded: `th_len <= MAX_TRANSPORT_HEADER` (36), so these stay within
    // the MTU; every payload length below is at most `max_payload` (checked
    // or the sink's limit), so a frame is at most 1,514 bytes.
    let max_payload = MTU
        .wrapping_sub(ipv4::HEADER_LEN)
        .wrapping_sub(th_len.min(MAX_TRANSPORT_HEADER));
    let mut hdr = [0u8; FIXED + MAX_TRANSPORT_HEADER];
    let hdr_len = FIXED.wrapping_add(th_len).min(hdr.len());

    match N::TX_MODE {
        TxMode::LengthFirst => {
            let (plen, psum) = match payload.known() {
                Some(k) => k,
                None => {
                    let mut m = StreamSink::new(nic, false, true, max_payload);
                    payload.write_to(&mut m);
                    if m.overflow {
                        return Err(SendError::TooLong);
                    }
                    (m.len, m.sum)
                }
            };
            if plen > max_payload {
                return Err(SendError::TooLong);
            }
            if !payload.accept(plen, psum) {
                return Err(SendError::PayloadChanged);
            }
            let frame_len = hdr_len.wrapping_add(plen).max(MIN_FRAME_LEN);
            if !nic.tx_ready(frame_len) {
                return Err(SendError::Busy);
            }
            fill_headers(&mut hdr, ip, transport, plen, psum);
            nic.tx_begin(frame_len)?;
            nic.tx_write(hdr.get(..hdr_len).unwrap_or(&[]));
            let mut w = StreamSink::new(nic, true, VERIFY_WRITES, plen);
            payload.write_to(&mut w);
            let (len, sum, overflow) = (w.len, w.sum, w.overflow);
            pad(nic, &hdr, hdr_len, hdr_len.wrapping_add(len), frame_len);
            if overflow || len != plen || (VERIFY_WRITES && sum.fold() != psum.fold()) {
                nic.tx_abort();
                return Err(SendError::PayloadChanged);
            }
            nic.tx_send()?;
            Ok(Sent {
                frame_len,
                payload_len: plen,
                payload_sum: psum,
            })
        }
        TxMode::Rewrite => {
            if !nic.tx_ready(MAX_FRAME_LEN) {
                return Err(SendError::Busy);
            }
            nic.tx_begin(MAX_FRAME_LEN)?;
            // Ethernet header final, IP/transport placeholders for now.
            fill_ethernet(&mut hdr, ip);
            nic.tx_write(hdr.get(..hdr_len).unwrap_or(&[]));
            let mut w = StreamSink::new(nic, true, true, max_payload);
            payload.write_to(&mut w);
            let (plen, psum, overflow) = (w.len, w.sum, w.overflow);
            if overflow {
                nic.tx_abort();
                return Err(SendError::TooLong);
            }
            if !payload.accept(plen, psum) {
                nic.tx_abort();
                return Err(SendError::PayloadChanged);
            }
            fill_headers(&mut hdr, ip, transport, plen, psum);
            nic.tx_rewrite(
                ethernet::HEADER_LEN,
                hdr.get(ethernet::HEADER_LEN..hdr_len).unwrap_or(&[]),
            );
            let len = hdr_len.wrapping_add(plen);
            pad(nic, &hdr, hdr_len, len, MIN_FRAME_LEN);
            nic.tx_send()?;
            Ok(Sent {
                frame_len: len.max(MIN_FRAME_LEN),
                payload_len: plen,
                payload_sum: psum,
            })
        }
    }
}

fn fill_ethernet(buf: &mut [u8], ip: &IpHeader) {
    fill_ethernet_raw(buf, ip.src_mac, ip.dst_mac, EtherType::Ipv4);
}

/// Writes an Ethernet II header at the start of `buf`.
pub(crate) fn fill_ethernet_raw(
    buf: &mut [u8],
    src: EthernetAddress,
    dst: EthernetAddress,
    ethertype: EtherType,
) {
    let repr = ethernet::Repr {
        src_addr: src,
        dst_addr: dst,
        ethertype,
    };
    let mut frame = ethernet::Frame::new_unchecked(buf);
    repr.emit(&mut frame);
}

fn fill_headers(
    buf: &mut [u8],
    ip: &IpHeader,
    transport: &Transport,
    payload_len: usize,
    payload_sum: Checksum,
) {
    fill_ethernet(buf, ip);
    let repr = ipv4::Repr {
        src_addr: ip.src,
        dst_addr: ip.dst,
        next_header: transport.protocol(),
        // Bounded: header and payload fit the MTU (`send_ipv4`).
        payload_len: transport.header_len().wrapping_add(payload_len),
        hop_limit: ip.ttl,
    };
    if let Some(ip_buf) = buf.get_mut(ethernet::HEADER_LEN..FIXED) {
        let mut pkt = ipv4::Packet::new_unchecked(ip_buf);
        repr.emit(&mut pkt);
    }
    if let Some(th) = buf.get_mut(FIXED..) {
        transport.emit(th, ip, payload_len, payload_sum);
    }
}

/// Zero-fills from `written` up to `target` bytes with the bytes of `hdr`
/// after its first `hdr_len`: the header buffer's unused tail, still zero
/// (the headers are written only up to `hdr_len`), and long enough — a
/// frame is padded only up to [`MIN_FRAME_LEN`], and `hdr` is longer than
/// that. (No zero constant in flash for it.) Short only for a payload
/// that wrote less than it said, whose frame is then aborted.
fn pad<N: Nic>(nic: &mut N, hdr: &[u8], hdr_len: usize, written: usize, target: usize) {
    let zeros = hdr.get(hdr_len..).unwrap_or(&[]);
    let left = target.saturating_sub(written).min(zeros.len());
    if left > 0 {
        nic.tx_write(zeros.get(..left).unwrap_or(&[]));
    }
}

/// Sends a frame whose bytes are all in `frame` (ARP: its padding
/// included, so nothing is appended).
pub(crate) fn send_raw<N: Nic>(nic: &mut N, frame: &[u8; MIN_FRAME_LEN]) -> Result<(), SendError> {
    if !nic.tx_ready(MIN_FRAME_LEN) {
        return Err(SendError::Busy);
    }
    nic.tx_begin(MIN_FRAME_LEN)?;
    nic.tx_write(frame);
    nic.tx_send()?;
    Ok(())
}

#[cfg(test)]
#[cfg(feature = "std")]
mod tests {
    use super::*;
    use crate::nic::sim::{Faults, SimWire};

    /// Writes `first` on its first run and `later` on every run after.
    struct Changing {
        runs: u8,
        first: &'static [u8],
        later: &'static [u8],
    }

    impl Payload for Changing {
        fn write_to(&mut self, sink: &mut dyn PayloadSink) {
            let bytes = if self.runs == 0 {
                self.first
            } else {
                self.later
            };
            self.runs = self.runs.saturating_add(1);
            sink.write(bytes);
        }
    }

    /// The addresses and ports the tests' UDP datagrams go with.
    fn udp_headers() -> (IpHeader, Transport) {
        let ip = IpHeader {
            dst_mac: EthernetAddress([2, 0, 0, 0, 0, 1]),
            src_mac: EthernetAddress([2, 0, 0, 0, 0, 2]),
            src: Ipv4Address::new(10, 0, 0, 2),
            dst: Ipv4Address::new(10, 0, 0, 1),
            ttl: 64,
        };
        let udp = Transport::Udp {
            src_port: 1024,
            dst_port: 1025,
        };
        (ip, udp)
    }

    /// Sends `first`/`later` over a FIFO (`LengthFirst`) endpoint; the
    /// result and the frame its peer heard, if any.
    fn send_changing(
        first: &'static [u8],
        later: &'static [u8],
    ) -> (Result<Sent, SendError>, Option<Vec<u8>>) {
        let wire = SimWire::new(1, Faults::none());
        let mut fifo = wire.endpoint_length_first();
        let mut peer = wire.endpoint();
        let (ip, udp) = udp_headers();
        let mut payload = Changing {
            runs: 0,
            first,
            later,
        };
        let sent = send_ipv4(&mut fifo, &ip, &udp, &mut payload);
        wire.set_now(1);
        (sent, peer.recv_frame())
    }

    #[test]
    fn a_fifo_send_of_the_same_bytes_goes_out() {
        let (sent, frame) = send_changing(b"same", b"same");
        assert_eq!(sent.map(|s| s.payload_len), Ok(4));
        // After the Ethernet, IPv4 and UDP headers (then padding).
        assert_eq!(
            frame.as_deref().and_then(|f| f.get(42..46)),
            Some(&b"same"[..])
        );
    }

    /// A short frame is padded to the minimum length with zeroes (taken
    /// from the header buffer's tail), on either kind of NIC; an ARP frame
    /// goes out as given.
    #[test]
    fn short_frames_are_padded_with_zeroes() {
        let wire = SimWire::new(1, Faults::none());
        let mut peer = wire.endpoint();
        let mut arp = [0xa5; MIN_FRAME_LEN];
        arp[42..].fill(0);
        for length_first in [false, true] {
            let sent = if length_first {
                send_short(&mut wire.endpoint_length_first(), &arp)
            } else {
                send_short(&mut wire.endpoint(), &arp)
            };
            assert_eq!(sent, Ok(MIN_FRAME_LEN));
            wire.set_now(if length_first { 2 } else { 1 });
            let frame = peer.recv_frame().unwrap();
            assert_eq!(frame.len(), MIN_FRAME_LEN);
            assert_eq!(&frame[42..44], b"ab");
            assert!(frame[44..].iter().all(|&b| b == 0), "{frame:?}");
            assert_eq!(peer.recv_frame().as_deref(), Some(&arp[..]));
        }
    }

    /// A UDP datagram of two bytes, then `arp` as it is; the first
    /// frame's length.
    fn send_short<N: Nic>(nic: &mut N, arp: &[u8; MIN_FRAME_LEN]) -> Result<usize, SendError> {
        let (ip, udp) = udp_headers();
        let sent = send_ipv4(nic, &ip, &udp, &mut crate::iface::Bytes(b"ab"))?;
        send_raw(nic, arp)?;
        Ok(sent.frame_len)
    }

    #[test]
    fn a_fifo_send_whose_writing_pass_has_another_length_is_abandoned() {
        let (sent, frame) = send_changing(b"1234", b"12345");
        assert_eq!(sent.map(|s| s.payload_len), Err(SendError::PayloadChanged));
        assert_eq!(frame, None);
    }

    /// With debug assertions (how tests run) the writing pass is summed
    /// again; release builds skip that (see the module docs).
    #[cfg(debug_assertions)]
    #[test]
    fn a_fifo_send_whose_writing_pass_has_other_bytes_is_abandoned_in_debug_builds() {
        let (sent, frame) = send_changing(b"1234", b"1243");
        assert_eq!(sent.map(|s| s.payload_len), Err(SendError::PayloadChanged));
        assert_eq!(frame, None);
    }
}
