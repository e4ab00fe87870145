//! DHCP messages (RFC 2131 §2) and the options a client uses (RFC 2132).
//!
//! A DHCP message is a BOOTP message (RFC 951): a fixed 236-byte header,
//! the magic cookie (RFC 2131 §3), then options in type-length-value form.
//!
//! Two ways in, for two situations:
//!
//! - **Streamed** (the client, reading from the NIC): [`Packet::new_header_checked`]
//!   over the first [`HEADER_LEN`] bytes (op through `chaddr`, everything a
//!   reply is matched on), the cookie read separately, and the options fed
//!   in chunks of any size through an [`OptionScanner`] into
//!   [`ReplyOptions`]. Nothing holds the whole message.
//! - **Whole** (tests, a scripted server): [`Packet::new_checked`] over a
//!   buffer with the entire message, the [`Options`] iterator, and [`Repr`]
//!   with `parse` / `emit`.
//!
//! [`emit_message`] writes a [`Header`] and a list of options through a
//! callback in small pieces, so the client streams its DISCOVER and
//! REQUEST into the NIC without a message buffer (and without a [`Repr`]:
//! it names its few options directly); [`Repr::emit`] writes through it.
//!
//! Option overload (option 52, RFC 2132 §9.3: more options in the `file`
//! and `sname` fields) is honoured on input and never produced.

use super::Result;
use super::{array, be16, be32, put16, put32, put_slice, Error, EthernetAddress, Ipv4Address};

/// Field offsets (RFC 2131 §2, Figure 1, and Table 1).
mod field {
    /// Message op code: 1 = BOOTREQUEST, 2 = BOOTREPLY.
    pub const OP: usize = 0;
    /// Hardware address type (1 = Ethernet, "Assigned Numbers").
    pub const HTYPE: usize = 1;
    /// Hardware address length (6 for Ethernet).
    pub const HLEN: usize = 2;
    /// Relay agent hop count; clients set 0.
    pub const HOPS: usize = 3;
    /// Transaction ID chosen by the client, 4 bytes.
    pub const XID: usize = 4;
    /// Seconds since the client began acquisition or renewal, 2 bytes.
    pub const SECS: usize = 8;
    /// Flags, 2 bytes; the top bit is BROADCAST (RFC 2131 §2, Figure 2).
    pub const FLAGS: usize = 10;
    /// Client IP address (only when BOUND, RENEW, REBINDING), 4 bytes.
    pub const CIADDR: usize = 12;
    /// "Your" (client) IP address, 4 bytes.
    pub const YIADDR: usize = 16;
    /// Next server IP address (bootstrap), 4 bytes.
    pub const SIADDR: usize = 20;
    /// Relay agent IP address, 4 bytes.
    pub const GIADDR: usize = 24;
    /// Client hardware address, 16 bytes (the first `hlen` used).
    pub const CHADDR: usize = 28;
    /// Server host name, 64 bytes (options when overloaded).
    pub const SNAME: usize = 44;
    /// Boot file name, 128 bytes (options when overloaded).
    pub const FILE: usize = 108;
    /// The magic cookie 99.130.83.99 (RFC 2131 §3), 4 bytes.
    pub const MAGIC: usize = 236;
    /// First option byte.
    pub const OPTIONS: usize = 240;

    /// The BROADCAST bit of `flags`.
    pub const BROADCAST: u16 = 0x8000;
}

/// UDP port of DHCP servers and relay agents (RFC 2131 §4.1).
pub const SERVER_PORT: u16 = 67;
/// UDP port of DHCP clients (RFC 2131 §4.1).
pub const CLIENT_PORT: u16 = 68;
/// The magic cookie that starts the options field (RFC 2131 §3).
pub const MAGIC_COOKIE: u32 = 0x6382_5363;
/// Bytes from the start of a message to the end of `chaddr`: what a reply
/// is matched on (op, hardware type and length, xid, addresses, chaddr).
pub const HEADER_LEN: usize = field::SNAME;
/// Offset of the magic cookie.
pub const MAGIC_OFFSET: usize = field::MAGIC;
/// Offset of the first option: the fixed header plus the cookie.
pub const OPTIONS_OFFSET: usize = field::OPTIONS;
/// Where the `sname` field lies (options when overload bit 2 is set).
pub const SNAME_RANGE: core::ops::Range<usize> = field::SNAME..field::FILE;
/// Where the `file` field lies (options when overload bit 1 is set).
pub const FILE_RANGE: core::ops::Range<usize> = field::FILE..field::MAGIC;
/// The smallest BOOTP message relay agents must accept (RFC 1542 §3.2.1);
/// [`Repr::emit`] pads to it.
pub const MIN_MESSAGE_LEN: usize = 300;
/// Hardware type of Ethernet (RFC 1700, "Hardware Type").
pub const HTYPE_ETHERNET: u8 = 1;

/// Option codes used here (RFC 2132; 0 and 255 are single bytes).
pub mod option {
    /// Pad: a single zero byte, skipped (RFC 2132 §3.1).
    pub const PAD: u8 = 0;
    /// Subnet mask, 4 bytes (RFC 2132 §3.3).
    pub const SUBNET_MASK: u8 = 1;
    /// Routers, 4 × n bytes, preferred first (RFC 2132 §3.5).
    pub const ROUTER: u8 = 3;
    /// Domain name servers, 4 × n bytes (RFC 2132 §3.8).
    pub const DNS_SERVER: u8 = 6;
    /// Host name, 1 or more bytes (RFC 2132 §3.14).
    pub const HOSTNAME: u8 = 12;
    /// NTP servers, 4 × n bytes (RFC 2132 §8.3).
    pub const NTP_SERVER: u8 = 42;
    /// Requested IP address, 4 bytes (RFC 2132 §9.1).
    pub const REQUESTED_IP: u8 = 50;
    /// IP address lease time in seconds, 4 bytes (RFC 2132 §9.2).
    pub const LEASE_TIME: u8 = 51;
    /// Option overload: 1 = `file`, 2 = `sname`, 3 = both (RFC 2132 §9.3).
    pub const OVERLOAD: u8 = 52;
    /// DHCP message type, 1 byte (RFC 2132 §9.6).
    pub const MESSAGE_TYPE: u8 = 53;
    /// Server identifier, 4 bytes (RFC 2132 §9.7).
    pub const SERVER_ID: u8 = 54;
    /// Parameter request list, 1 byte per code (RFC 2132 §9.8).
    pub const PARAMETER_REQUEST_LIST: u8 = 55;
    /// Error message text (RFC 2132 §9.9).
    pub const MESSAGE: u8 = 56;
    /// Maximum DHCP message size, 2 bytes, at least 576 (RFC 2132 §9.10).
    pub const MAX_MESSAGE_SIZE: u8 = 57;
    /// Renewal (T1) time in seconds, 4 bytes (RFC 2132 §9.11).
    pub const RENEWAL_TIME: u8 = 58;
    /// Rebinding (T2) time in seconds, 4 bytes (RFC 2132 §9.12).
    pub const REBINDING_TIME: u8 = 59;
    /// Client identifier (RFC 2132 §9.14).
    pub const CLIENT_ID: u8 = 61;
    /// End of options: a single byte (RFC 2132 §3.2).
    pub const END: u8 = 255;
}

/// The BOOTP op code (RFC 951).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpCode {
    /// 1: client to server.
    Request,
    /// 2: server to client.
    Reply,
    /// Anything else.
    Unknown(u8),
}

impl From<u8> for OpCode {
    fn from(v: u8) -> Self {
        match v {
            1 => OpCode::Request,
            2 => OpCode::Reply,
            other => OpCode::Unknown(other),
        }
    }
}

impl From<OpCode> for u8 {
    fn from(v: OpCode) -> u8 {
        match v {
            OpCode::Request => 1,
            OpCode::Reply => 2,
            OpCode::Unknown(other) => other,
        }
    }
}

/// The DHCP message type (option 53, RFC 2132 §9.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    /// 1: a client looks for servers.
    Discover,
    /// 2: a server offers an address.
    Offer,
    /// 3: a client asks for (or to extend) an address.
    Request,
    /// 4: a client says the address is in use.
    Decline,
    /// 5: a server grants the lease.
    Ack,
    /// 6: a server refuses (wrong network, lease gone).
    Nak,
    /// 7: a client gives the address back.
    Release,
    /// 8: a client with an address asks for other settings.
    Inform,
    /// Anything else.
    Unknown(u8),
}

impl From<u8> for MessageType {
    fn from(v: u8) -> Self {
        match v {
            1 => MessageType::Discover,
            2 => MessageType::Offer,
            3 => MessageType::Request,
            4 => MessageType::Decline,
            5 => MessageType::Ack,
            6 => MessageType::Nak,
            7 => MessageType::Release,
            8 => MessageType::Inform,
            other => MessageType::Unknown(other),
        }
    }
}

impl From<MessageType> for u8 {
    fn from(v: MessageType) -> u8 {
        match v {
            MessageType::Discover => 1,
            MessageType::Offer => 2,
            MessageType::Request => 3,
            MessageType::Decline => 4,
            MessageType::Ack => 5,
            MessageType::Nak => 6,
            MessageType::Release => 7,
            MessageType::Inform => 8,
            MessageType::Unknown(other) => other,
        }
    }
}

impl MessageType {
    /// The op code a message of this type travels in: servers send
    /// OFFER, ACK and NAK as BOOTREPLY, everything else is a BOOTREQUEST.
    pub fn opcode(self) -> OpCode {
        match self {
            MessageType::Offer | MessageType::Ack | MessageType::Nak => OpCode::Reply,
            _ => OpCode::Request,
        }
    }
}

/// A read/write view of a DHCP message (or of its first [`HEADER_LEN`]
/// bytes).
///
/// Getters never panic; fields beyond a short buffer read as zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without looking at it.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer holding at least op through `chaddr` ([`HEADER_LEN`]
    /// bytes): what a streamed reply is matched on.
    pub fn new_header_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_header_len()?;
        Ok(packet)
    }

    /// Wraps a buffer holding a whole message: the fixed header and the
    /// cookie at least ([`OPTIONS_OFFSET`] bytes).
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// [`Error::Truncated`] below [`HEADER_LEN`] bytes.
    pub fn check_header_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// [`Error::Truncated`] below [`OPTIONS_OFFSET`] bytes.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < OPTIONS_OFFSET {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn byte(&self, at: usize) -> u8 {
        self.buffer.as_ref().get(at).copied().unwrap_or(0)
    }

    fn addr(&self, at: usize) -> Ipv4Address {
        Ipv4Address(array(self.buffer.as_ref(), at))
    }

    /// The op code.
    pub fn opcode(&self) -> OpCode {
        OpCode::from(self.byte(field::OP))
    }

    /// The hardware address type (1 for Ethernet).
    pub fn hardware_type(&self) -> u8 {
        self.byte(field::HTYPE)
    }

    /// The hardware address length (6 for Ethernet).
    pub fn hardware_len(&self) -> u8 {
        self.byte(field::HLEN)
    }

    /// The relay hop count.
    pub fn hops(&self) -> u8 {
        self.byte(field::HOPS)
    }

    /// The transaction id (`xid`).
    pub fn transaction_id(&self) -> u32 {
        be32(self.buffer.as_ref(), field::XID)
    }

    /// Seconds since the client began acquisition or renewal.
    pub fn secs(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SECS)
    }

    /// The flags word.
    pub fn flags(&self) -> u16 {
        be16(self.buffer.as_ref(), field::FLAGS)
    }

    /// The BROADCAST flag: the client cannot receive unicast yet and asks
    /// for replies to be broadcast.
    pub fn broadcast(&self) -> bool {
        self.flags() & field::BROADCAST != 0
    }

    /// `ciaddr`: the client's address when it already has one.
    pub fn client_ip(&self) -> Ipv4Address {
        self.addr(field::CIADDR)
    }

    /// `yiaddr`: the address offered or granted.
    pub fn your_ip(&self) -> Ipv4Address {
        self.addr(field::YIADDR)
    }

    /// `siaddr`: the next bootstrap server (not the DHCP server: that is
    /// option 54).
    pub fn server_ip(&self) -> Ipv4Address {
        self.addr(field::SIADDR)
    }

    /// `giaddr`: the relay agent the message passed through, if any.
    pub fn relay_agent_ip(&self) -> Ipv4Address {
        self.addr(field::GIADDR)
    }

    /// The first six bytes of `chaddr`: the client's Ethernet address.
    pub fn client_hardware_address(&self) -> EthernetAddress {
        EthernetAddress(array(self.buffer.as_ref(), field::CHADDR))
    }

    /// The magic cookie field (0 when the buffer is too short for it).
    pub fn magic_cookie(&self) -> u32 {
        be32(self.buffer.as_ref(), field::MAGIC)
    }

    /// The `sname` field (empty when the buffer is too short).
    pub fn sname(&self) -> &[u8] {
        self.buffer.as_ref().get(SNAME_RANGE).unwrap_or(&[])
    }

    /// The `file` field (empty when the buffer is too short).
    pub fn file(&self) -> &[u8] {
        self.buffer.as_ref().get(FILE_RANGE).unwrap_or(&[])
    }

    /// The options field: everything after the cookie.
    pub fn options(&self) -> &[u8] {
        self.buffer.as_ref().get(field::OPTIONS..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the op code.
    pub fn set_opcode(&mut self, value: OpCode) {
        self.set_byte(field::OP, value.into());
    }

    fn set_byte(&mut self, at: usize, value: u8) {
        if let Some(b) = self.buffer.as_mut().get_mut(at) {
            *b = value;
        }
    }

    /// Sets the hardware type.
    pub fn set_hardware_type(&mut self, value: u8) {
        self.set_byte(field::HTYPE, value);
    }

    /// Sets the hardware address length.
    pub fn set_hardware_len(&mut self, value: u8) {
        self.set_byte(field::HLEN, value);
    }

    /// Sets the hop count.
    pub fn set_hops(&mut self, value: u8) {
        self.set_byte(field::HOPS, value);
    }

    /// Sets the transaction id.
    pub fn set_transaction_id(&mut self, value: u32) {
        put32(self.buffer.as_mut(), field::XID, value);
    }

    /// Sets `secs`.
    pub fn set_secs(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::SECS, value);
    }

    /// Sets the flags word.
    pub fn set_flags(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::FLAGS, value);
    }

    /// Sets `ciaddr`.
    pub fn set_client_ip(&mut self, value: Ipv4Address) {
        put_slice(self.buffer.as_mut(), field::CIADDR, &value.0);
    }

    /// Sets `yiaddr`.
    pub fn set_your_ip(&mut self, value: Ipv4Address) {
        put_slice(self.buffer.as_mut(), field::YIADDR, &value.0);
    }

    /// Sets `siaddr`.
    pub fn set_server_ip(&mut self, value: Ipv4Address) {
        put_slice(self.buffer.as_mut(), field::SIADDR, &value.0);
    }

    /// Sets `giaddr`.
    pub fn set_relay_agent_ip(&mut self, value: Ipv4Address) {
        put_slice(self.buffer.as_mut(), field::GIADDR, &value.0);
    }

    /// Sets `chaddr` to an Ethernet address followed by ten zero bytes.
    pub fn set_client_hardware_address(&mut self, value: EthernetAddress) {
        let mut chaddr = [0u8; 16];
        put_slice(&mut chaddr, 0, &value.0);
        put_slice(self.buffer.as_mut(), field::CHADDR, &chaddr);
    }

    /// Sets the magic cookie field.
    pub fn set_magic_cookie(&mut self, value: u32) {
        put32(self.buffer.as_mut(), field::MAGIC, value);
    }

    /// The options field, writable.
    pub fn options_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(field::OPTIONS..)
            .unwrap_or(&mut [])
    }
}

/// One option: its code and its value bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DhcpOption<'a> {
    /// The option code.
    pub kind: u8,
    /// The value (`len` bytes).
    pub data: &'a [u8],
}

/// Walks the options in a buffer held in memory (RFC 2132 §2): pads are
/// skipped, [`option::END`] or the end of the buffer stops it, and an
/// option whose length runs past the buffer yields [`Error::Truncated`]
/// once and stops.
#[derive(Clone, Debug)]
pub struct Options<'a> {
    rest: &'a [u8],
}

impl<'a> Options<'a> {
    /// Options starting at the first byte of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Options { rest: bytes }
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = Result<DhcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (&kind, tail) = self.rest.split_first()?;
            match kind {
                option::PAD => self.rest = tail,
                option::END => {
                    self.rest = &[];
                    return None;
                }
                _ => {
                    let parsed = tail.split_first().and_then(|(&len, value)| {
                        let len = usize::from(len);
                        Some((value.get(..len)?, value.get(len..)?))
                    });
                    return match parsed {
                        Some((data, rest)) => {
                            self.rest = rest;
                            Some(Ok(DhcpOption { kind, data }))
                        }
                        None => {
                            self.rest = &[];
                            Some(Err(Error::Truncated))
                        }
                    };
                }
            }
        }
    }
}

/// How far the [`OptionScanner`] is inside the current option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Expecting an option code.
    Code,
    /// Expecting the length of option `kind`.
    Len,
    /// Inside the value.
    Value,
    /// [`option::END`] was seen; the rest is ignored.
    End,
}

/// Walks options fed in chunks of any size, keeping 8 bytes of state: for
/// each complete option it reports the code, the first (up to) four value
/// bytes and the full length. Every option a client acts on is at most
/// four bytes, or a list whose first entry is the preferred one.
///
/// It gives the same options as [`Options`] over the concatenated chunks
/// (a property test checks this).
#[derive(Clone, Copy, Debug)]
pub struct OptionScanner {
    stage: Stage,
    kind: u8,
    len: u8,
    got: u8,
    value: [u8; 4],
}

impl Default for OptionScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl OptionScanner {
    /// A scanner at the start of an options area.
    pub const fn new() -> Self {
        OptionScanner {
            stage: Stage::Code,
            kind: 0,
            len: 0,
            got: 0,
            value: [0; 4],
        }
    }

    /// Feeds the next bytes; calls `found(code, value_prefix, len)` for each
    /// option completed by them.
    pub fn feed(&mut self, bytes: &[u8], found: &mut dyn FnMut(u8, &[u8], usize)) {
        for &b in bytes {
            match self.stage {
                Stage::End => return,
                Stage::Code => match b {
                    option::PAD => {}
                    option::END => self.stage = Stage::End,
                    kind => {
                        self.kind = kind;
                        self.stage = Stage::Len;
                    }
                },
                Stage::Len => {
                    self.len = b;
                    self.got = 0;
                    if b == 0 {
                        found(self.kind, &[], 0);
                        self.stage = Stage::Code;
                    } else {
                        self.stage = Stage::Value;
                    }
                }
                Stage::Value => {
                    if let Some(slot) = self.value.get_mut(usize::from(self.got)) {
                        *slot = b;
                    }
                    self.got = self.got.saturating_add(1);
                    if self.got >= self.len {
                        let n = usize::from(self.len).min(self.value.len());
                        found(
                            self.kind,
                            self.value.get(..n).unwrap_or(&[]),
                            usize::from(self.len),
                        );
                        self.stage = Stage::Code;
                    }
                }
            }
        }
    }

    /// True once [`option::END`] was seen.
    pub fn ended(&self) -> bool {
        self.stage == Stage::End
    }

    /// After the last chunk: [`Error::Truncated`] when the options stopped
    /// inside an option (a missing END between options is accepted).
    pub fn finish(&self) -> Result<()> {
        match self.stage {
            Stage::Code | Stage::End => Ok(()),
            Stage::Len | Stage::Value => Err(Error::Truncated),
        }
    }
}

/// What a client takes from a server's options (OFFER, ACK, NAK).
///
/// Filled option by option with [`ReplyOptions::absorb`]; an option with a
/// length its RFC does not allow is ignored, and the first occurrence of
/// an option wins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplyOptions {
    /// Option 53, its value as sent ([`MessageType::from`] names it): the
    /// client compares it with the types it acts on, without a
    /// conversion.
    pub message_type: Option<u8>,
    /// Option 54: the server to address REQUESTs to (may differ from the
    /// packet's source when a relay agent forwarded it).
    pub server_identifier: Option<Ipv4Address>,
    /// Option 1.
    pub subnet_mask: Option<Ipv4Address>,
    /// Option 3, the first (preferred) router.
    pub router: Option<Ipv4Address>,
    /// Option 6, the first server.
    pub dns_server: Option<Ipv4Address>,
    /// Option 42, the first server.
    pub ntp_server: Option<Ipv4Address>,
    /// Option 51, seconds (0xffff_ffff = infinite).
    pub lease_duration: Option<u32>,
    /// Option 58 (T1), seconds.
    pub renew_duration: Option<u32>,
    /// Option 59 (T2), seconds.
    pub rebind_duration: Option<u32>,
    /// Option 52: 1 = `file` holds options, 2 = `sname`, 3 = both; 0 none.
    pub overload: u8,
}

impl ReplyOptions {
    /// Takes one option (`prefix`: up to its first four value bytes, `len`:
    /// its full length), as [`OptionScanner::feed`] reports it.
    pub fn absorb(&mut self, kind: u8, prefix: &[u8], len: usize) {
        // A list of addresses: a non-zero multiple of 4 bytes.
        let list = len >= 4 && len.is_multiple_of(4);
        // The field the option fills (the first such option wins), and
        // whether its length is right for it.
        let (addr, secs) = match kind {
            option::MESSAGE_TYPE if len == 1 => {
                if let (None, Some(&t)) = (self.message_type, prefix.first()) {
                    self.message_type = Some(t);
                }
                return;
            }
            option::OVERLOAD if len == 1 => {
                if let (0, Some(&v @ 1..=3)) = (self.overload, prefix.first()) {
                    self.overload = v;
                }
                return;
            }
            option::SERVER_ID if len == 4 => (Some(&mut self.server_identifier), None),
            option::SUBNET_MASK if len == 4 => (Some(&mut self.subnet_mask), None),
            option::ROUTER if list => (Some(&mut self.router), None),
            option::DNS_SERVER if list => (Some(&mut self.dns_server), None),
            option::NTP_SERVER if list => (Some(&mut self.ntp_server), None),
            option::LEASE_TIME if len == 4 => (None, Some(&mut self.lease_duration)),
            option::RENEWAL_TIME if len == 4 => (None, Some(&mut self.renew_duration)),
            option::REBINDING_TIME if len == 4 => (None, Some(&mut self.rebind_duration)),
            _ => return,
        };
        let &[a, b, c, d] = prefix else {
            return;
        };
        match (addr, secs) {
            (Some(slot @ None), _) => *slot = Some(Ipv4Address([a, b, c, d])),
            (_, Some(slot @ None)) => *slot = Some(u32::from_be_bytes([a, b, c, d])),
            _ => {}
        }
    }
}

/// The prefix length of a contiguous subnet mask (`255.255.255.0` → 24);
/// `None` for a mask with holes.
pub fn mask_prefix_len(mask: Ipv4Address) -> Option<u8> {
    let m = mask.to_u32();
    let ones = m.leading_ones();
    // Contiguous: no set bit after the first zero.
    if m.checked_shl(ones).unwrap_or(0) == 0 {
        u8::try_from(ones).ok()
    } else {
        None
    }
}

/// The high-level form of a DHCP message: the fields and the options this
/// stack reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr<'a> {
    /// Option 53; decides the op code.
    pub message_type: MessageType,
    /// `xid`.
    pub transaction_id: u32,
    /// `secs`.
    pub secs: u16,
    /// The BROADCAST flag.
    pub broadcast: bool,
    /// `chaddr` (Ethernet: `htype` 1, `hlen` 6).
    pub client_hardware_address: EthernetAddress,
    /// `ciaddr`.
    pub client_ip: Ipv4Address,
    /// `yiaddr`.
    pub your_ip: Ipv4Address,
    /// `siaddr`.
    pub server_ip: Ipv4Address,
    /// `giaddr`.
    pub relay_agent_ip: Ipv4Address,
    /// Option 50.
    pub requested_ip: Option<Ipv4Address>,
    /// Option 54.
    pub server_identifier: Option<Ipv4Address>,
    /// Option 1.
    pub subnet_mask: Option<Ipv4Address>,
    /// Option 3 (one router).
    pub router: Option<Ipv4Address>,
    /// Option 6 (one server).
    pub dns_server: Option<Ipv4Address>,
    /// Option 42 (one server).
    pub ntp_server: Option<Ipv4Address>,
    /// Option 51, seconds.
    pub lease_duration: Option<u32>,
    /// Option 58, seconds.
    pub renew_duration: Option<u32>,
    /// Option 59, seconds.
    pub rebind_duration: Option<u32>,
    /// Option 12 (at most 255 bytes are sent).
    pub hostname: Option<&'a str>,
    /// Option 55 (at most 255 codes are sent).
    pub parameter_request_list: Option<&'a [u8]>,
    /// Option 57.
    pub max_message_size: Option<u16>,
}

impl<'a> Repr<'a> {
    /// A message of `message_type` from (or to) `client` with every other
    /// field zero or absent.
    pub const fn new(
        message_type: MessageType,
        transaction_id: u32,
        client: EthernetAddress,
    ) -> Self {
        Repr {
            message_type,
            transaction_id,
            secs: 0,
            broadcast: false,
            client_hardware_address: client,
            client_ip: Ipv4Address::UNSPECIFIED,
            your_ip: Ipv4Address::UNSPECIFIED,
            server_ip: Ipv4Address::UNSPECIFIED,
            relay_agent_ip: Ipv4Address::UNSPECIFIED,
            requested_ip: None,
            server_identifier: None,
            subnet_mask: None,
            router: None,
            dns_server: None,
            ntp_server: None,
            lease_duration: None,
            renew_duration: None,
            rebind_duration: None,
            hostname: None,
            parameter_request_list: None,
            max_message_size: None,
        }
    }

    /// Reads a whole message.
    ///
    /// - [`Error::Truncated`]: shorter than the fixed header and cookie, or
    ///   an option runs past the end;
    /// - [`Error::Malformed`]: an op code other than 1 or 2, a wrong magic
    ///   cookie, no message type (then it is BOOTP, not DHCP), or an op
    ///   code that does not fit the message type;
    /// - [`Error::Unsupported`]: a hardware type other than Ethernet.
    ///
    /// Options with lengths their RFC forbids are ignored.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<Repr<'a>> {
        packet.check_len()?;
        let op = packet.opcode();
        if matches!(op, OpCode::Unknown(_)) || packet.magic_cookie() != MAGIC_COOKIE {
            return Err(Error::Malformed);
        }
        if packet.hardware_type() != HTYPE_ETHERNET || packet.hardware_len() != 6 {
            return Err(Error::Unsupported);
        }
        let buf: &'a [u8] = packet.buffer.as_ref();
        let mut reply = ReplyOptions::default();
        let mut repr = Repr::new(
            MessageType::Unknown(0),
            packet.transaction_id(),
            packet.client_hardware_address(),
        );
        let options = buf.get(field::OPTIONS..).unwrap_or(&[]);
        repr.parse_area(options, &mut reply)?;
        if reply.overload & 1 != 0 {
            repr.parse_area(buf.get(FILE_RANGE).unwrap_or(&[]), &mut reply)?;
        }
        if reply.overload & 2 != 0 {
            repr.parse_area(buf.get(SNAME_RANGE).unwrap_or(&[]), &mut reply)?;
        }
        let message_type = MessageType::from(reply.message_type.ok_or(Error::Malformed)?);
        if message_type.opcode() != op {
            return Err(Error::Malformed);
        }
        Ok(Repr {
            message_type,
            secs: packet.secs(),
            broadcast: packet.broadcast(),
            client_ip: packet.client_ip(),
            your_ip: packet.your_ip(),
            server_ip: packet.server_ip(),
            relay_agent_ip: packet.relay_agent_ip(),
            server_identifier: reply.server_identifier,
            subnet_mask: reply.subnet_mask,
            router: reply.router,
            dns_server: reply.dns_server,
            ntp_server: reply.ntp_server,
            lease_duration: reply.lease_duration,
            renew_duration: reply.renew_duration,
            rebind_duration: reply.rebind_duration,
            ..repr
        })
    }

    /// Reads one options area into `reply` (fixed-size options) and `self`
    /// (the variable ones).
    fn parse_area(&mut self, area: &'a [u8], reply: &mut ReplyOptions) -> Result<()> {
        for opt in Options::new(area) {
            let opt = opt?;
            let prefix = opt.data.get(..4).unwrap_or(opt.data);
            reply.absorb(opt.kind, prefix, opt.data.len());
            match (opt.kind, opt.data) {
                (option::REQUESTED_IP, &[a, b, c, d]) => {
                    self.requested_ip = self.requested_ip.or(Some(Ipv4Address([a, b, c, d])))
                }
                (option::HOSTNAME, name) if !name.is_empty() && self.hostname.is_none() => {
                    self.hostname = core::str::from_utf8(name).ok();
                }
                (option::PARAMETER_REQUEST_LIST, list) if !list.is_empty() => {
                    self.parameter_request_list = self.parameter_request_list.or(Some(list))
                }
                (option::MAX_MESSAGE_SIZE, &[a, b]) => {
                    self.max_message_size =
                        self.max_message_size.or(Some(u16::from_be_bytes([a, b])))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Bytes [`Repr::emit`] writes: header, cookie, options, END, padded
    /// to [`MIN_MESSAGE_LEN`] (counted by emitting, so the two agree).
    pub fn buffer_len(&self) -> usize {
        let mut n = 0usize;
        self.emit(&mut |b| n = n.saturating_add(b.len()));
        n
    }

    /// Writes the message through `out` in small pieces (at most 255
    /// bytes each), [`Repr::buffer_len`] bytes in all, the same every
    /// call. The message type comes first; the other options in a fixed
    /// order.
    pub fn emit(&self, out: &mut dyn FnMut(&[u8])) {
        let header = Header {
            opcode: self.message_type.opcode(),
            transaction_id: self.transaction_id,
            secs: self.secs,
            broadcast: self.broadcast,
            addresses: [
                self.client_ip,
                self.your_ip,
                self.server_ip,
                self.relay_agent_ip,
            ],
            client_hardware_address: self.client_hardware_address,
        };
        let kind = [u8::from(self.message_type)];
        fn addr(a: &Option<Ipv4Address>) -> Option<&[u8]> {
            a.as_ref().map(|a| &a.0[..])
        }
        let lease = self.lease_duration.map(u32::to_be_bytes);
        let renew = self.renew_duration.map(u32::to_be_bytes);
        let rebind = self.rebind_duration.map(u32::to_be_bytes);
        let size = self.max_message_size.map(u16::to_be_bytes);
        let options = [
            (option::MESSAGE_TYPE, Some(&kind[..])),
            (option::REQUESTED_IP, addr(&self.requested_ip)),
            (option::SERVER_ID, addr(&self.server_identifier)),
            (option::SUBNET_MASK, addr(&self.subnet_mask)),
            (option::ROUTER, addr(&self.router)),
            (option::DNS_SERVER, addr(&self.dns_server)),
            (option::NTP_SERVER, addr(&self.ntp_server)),
            (option::LEASE_TIME, lease.as_ref().map(|b| &b[..])),
            (option::RENEWAL_TIME, renew.as_ref().map(|b| &b[..])),
            (option::REBINDING_TIME, rebind.as_ref().map(|b| &b[..])),
            (option::HOSTNAME, self.hostname.map(str::as_bytes)),
            (option::PARAMETER_REQUEST_LIST, self.parameter_request_list),
            (option::MAX_MESSAGE_SIZE, size.as_ref().map(|b| &b[..])),
        ];
        emit_message(out, &header, &options);
    }
}

/// The fixed header's fields a message sets (RFC 2131 §2, Figure 1); the
/// rest is the same in every message [`emit_message`] writes: `htype` 1
/// and `hlen` 6 (Ethernet), `hops` 0, `chaddr` padded with zeros, `sname`
/// and `file` empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// `op`.
    pub opcode: OpCode,
    /// `xid`.
    pub transaction_id: u32,
    /// `secs`.
    pub secs: u16,
    /// The BROADCAST flag.
    pub broadcast: bool,
    /// `ciaddr`, `yiaddr`, `siaddr` and `giaddr`, in that order.
    pub addresses: [Ipv4Address; 4],
    /// `chaddr`.
    pub client_hardware_address: EthernetAddress,
}

/// Bytes of the fixed header that [`Header`] sets: `op` through the six
/// Ethernet bytes of `chaddr` ([`Header::to_bytes`]).
pub const HEAD_LEN: usize = field::CHADDR + 6;
/// Zeros between [`HEAD_LEN`] and the cookie in every message sent: the
/// rest of `chaddr` (10 bytes), `sname` (64) and `file` (128).
pub const HEAD_ZEROS: usize = field::MAGIC - HEAD_LEN;

impl Header {
    /// `op` through `chaddr`'s Ethernet address, as sent; [`HEAD_ZEROS`]
    /// zeros and the cookie follow.
    #[inline(always)]
    pub fn to_bytes(&self) -> [u8; HEAD_LEN] {
        let mut head = [0u8; HEAD_LEN];
        put_slice(
            &mut head,
            field::OP,
            &[self.opcode.into(), HTYPE_ETHERNET, 6, 0],
        );
        put32(&mut head, field::XID, self.transaction_id);
        put16(&mut head, field::SECS, self.secs);
        let flags = if self.broadcast { field::BROADCAST } else { 0 };
        put16(&mut head, field::FLAGS, flags);
        let [ci, yi, si, gi] = self.addresses;
        put_slice(&mut head, field::CIADDR, &ci.0);
        put_slice(&mut head, field::YIADDR, &yi.0);
        put_slice(&mut head, field::SIADDR, &si.0);
        put_slice(&mut head, field::GIADDR, &gi.0);
        put_slice(&mut head, field::CHADDR, &self.client_hardware_address.0);
        head
    }
}

/// Writes a message through `out` in small pieces (at most 255 bytes
/// each): the fixed header, the cookie, each option of `options` that has
/// a value, in the order given (at most its first 255 bytes), END, then
/// zeros up to [`MIN_MESSAGE_LEN`]. The same bytes every call.
///
/// [`Repr::emit`] writes through it; the client, which sends a handful of
/// options, calls it with just those rather than building a [`Repr`].
pub fn emit_message(out: &mut dyn FnMut(&[u8]), header: &Header, options: &[(u8, Option<&[u8]>)]) {
    let w = &mut Counted { out, written: 0 };
    w.put(&header.to_bytes());
    w.zeros(HEAD_ZEROS);
    w.put(&MAGIC_COOKIE.to_be_bytes());
    for &(kind, value) in options {
        put_option(w, kind, value);
    }
    w.put(&[option::END]);
    w.zeros(MIN_MESSAGE_LEN.saturating_sub(w.written));
}

/// [`Repr::emit`]'s output, counting what went out (for the padding).
struct Counted<'o> {
    out: &'o mut dyn FnMut(&[u8]),
    written: usize,
}

impl Counted<'_> {
    /// Writes `bytes`. (Out of line: a dozen calls.)
    #[inline(never)]
    fn put(&mut self, bytes: &[u8]) {
        self.written = self.written.saturating_add(bytes.len());
        (self.out)(bytes);
    }

    /// Writes `n` zero bytes, a few at a time from the stack (no run of
    /// zeros kept in flash). (Out of line: the empty fields and the
    /// padding.)
    #[inline(never)]
    fn zeros(&mut self, mut n: usize) {
        let zeros = [0u8; 16];
        while n > 0 {
            let k = n.min(zeros.len());
            self.put(zeros.get(..k).unwrap_or(&[]));
            n = n.saturating_sub(k);
        }
    }
}

/// Writes option `kind` with `value` (its first 255 bytes: the length is a
/// byte) when there is one. (Out of line: one copy for every option.)
#[inline(never)]
fn put_option(w: &mut Counted<'_>, kind: u8, value: Option<&[u8]>) {
    if let Some(v) = value {
        let v = v.get(..255).unwrap_or(v);
        w.put(&[kind, u8::try_from(v.len()).unwrap_or(u8::MAX)]);
        w.put(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    // DHCP messages (UDP payloads) captured with tcpdump in a network
    // namespace: dnsmasq 2.90 and kea-dhcp4 2.2.0 answering a client with
    // MAC 02:00:00:00:00:02, xid 0x3903f326, hostname "EMBER" (see
    // tests/dhcp_peer.rs for the server settings).
    const DNSMASQ_OFFER: &[u8] = include_bytes!("captures/dnsmasq-offer.bin");
    const DNSMASQ_ACK: &[u8] = include_bytes!("captures/dnsmasq-ack.bin");
    const DNSMASQ_NAK: &[u8] = include_bytes!("captures/dnsmasq-nak.bin");
    const KEA_OFFER: &[u8] = include_bytes!("captures/kea-offer.bin");
    const KEA_ACK: &[u8] = include_bytes!("captures/kea-ack.bin");

    const MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);
    const XID: u32 = 0x3903_f326;
    const SERVER: Ipv4Address = Ipv4Address([10, 78, 0, 1]);

    fn parse(bytes: &[u8]) -> Repr<'_> {
        Repr::parse(&Packet::new_checked(bytes).unwrap()).unwrap()
    }

    fn emit(repr: &Repr<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        repr.emit(&mut |b| out.extend_from_slice(b));
        out
    }

    /// What the client's streamed path finds: header, then options scanned
    /// in `chunk`-byte pieces.
    fn scan(bytes: &[u8], chunk: usize) -> ReplyOptions {
        let mut reply = ReplyOptions::default();
        let mut s = OptionScanner::new();
        for c in bytes[OPTIONS_OFFSET..].chunks(chunk) {
            s.feed(c, &mut |k, v, l| reply.absorb(k, v, l));
        }
        s.finish().unwrap();
        reply
    }

    #[test]
    fn dnsmasq_offer() {
        let p = Packet::new_checked(DNSMASQ_OFFER).unwrap();
        assert_eq!(p.opcode(), OpCode::Reply);
        assert_eq!((p.hardware_type(), p.hardware_len(), p.hops()), (1, 6, 0));
        assert_eq!(p.transaction_id(), XID);
        assert!(p.broadcast());
        assert_eq!(p.magic_cookie(), MAGIC_COOKIE);
        assert_eq!(p.client_hardware_address(), MAC);
        let r = parse(DNSMASQ_OFFER);
        assert_eq!(r.message_type, MessageType::Offer);
        assert_eq!(r.your_ip, Ipv4Address([10, 78, 0, 146]));
        // dnsmasq fills siaddr ("next server") with itself; option 54 is
        // the one that names the DHCP server.
        assert_eq!(r.server_ip, SERVER);
        assert_eq!(r.server_identifier, Some(SERVER));
        assert_eq!(r.subnet_mask, Some(Ipv4Address([255, 255, 255, 0])));
        assert_eq!(r.router, Some(SERVER));
        assert_eq!(r.dns_server, Some(SERVER));
        assert_eq!(r.ntp_server, Some(SERVER));
        assert_eq!(r.lease_duration, Some(120));
        assert_eq!(r.renew_duration, Some(60));
        assert_eq!(r.rebind_duration, Some(105));
        assert_eq!(r.client_ip, Ipv4Address::UNSPECIFIED);
    }

    #[test]
    fn dnsmasq_ack_and_nak() {
        let ack = parse(DNSMASQ_ACK);
        assert_eq!(ack.message_type, MessageType::Ack);
        assert_eq!(ack.your_ip, Ipv4Address([10, 78, 0, 146]));
        assert_eq!(ack.lease_duration, Some(120));
        let nak = parse(DNSMASQ_NAK);
        assert_eq!(nak.message_type, MessageType::Nak);
        assert_eq!(nak.your_ip, Ipv4Address::UNSPECIFIED);
        assert_eq!(nak.server_identifier, Some(SERVER));
        assert_eq!(nak.lease_duration, None);
        // The NAK carries a text message (option 56): "wrong network".
        let packet = Packet::new_checked(DNSMASQ_NAK).unwrap();
        let msg = Options::new(packet.options())
            .map(Result::unwrap)
            .find(|o| o.kind == option::MESSAGE)
            .unwrap();
        assert_eq!(msg.data, b"wrong network");
    }

    #[test]
    fn kea_offer_and_ack() {
        for (bytes, t) in [(KEA_OFFER, MessageType::Offer), (KEA_ACK, MessageType::Ack)] {
            let r = parse(bytes);
            assert_eq!(r.message_type, t);
            assert_eq!(r.transaction_id, XID);
            assert_eq!(r.client_hardware_address, MAC);
            assert_eq!(r.your_ip, Ipv4Address([10, 78, 0, 100]));
            assert_eq!(r.server_ip, Ipv4Address::UNSPECIFIED);
            assert_eq!(r.server_identifier, Some(SERVER));
            assert_eq!(r.router, Some(SERVER));
            assert_eq!(r.ntp_server, Some(SERVER));
            assert_eq!(
                (r.lease_duration, r.renew_duration, r.rebind_duration),
                (Some(30), Some(10), Some(20))
            );
            // Kea echoes the client's host name, lower-cased.
            assert_eq!(r.hostname, Some("ember"));
        }
    }

    #[test]
    fn streamed_scan_matches_parse_in_any_chunking() {
        for bytes in [DNSMASQ_OFFER, DNSMASQ_ACK, DNSMASQ_NAK, KEA_OFFER, KEA_ACK] {
            let r = parse(bytes);
            for chunk in [1, 2, 3, 5, 7, 16, 32, 64, 1000] {
                let s = scan(bytes, chunk);
                assert_eq!(s.message_type, Some(u8::from(r.message_type)));
                assert_eq!(s.server_identifier, r.server_identifier);
                assert_eq!(s.subnet_mask, r.subnet_mask);
                assert_eq!(s.router, r.router);
                assert_eq!(s.dns_server, r.dns_server);
                assert_eq!(s.ntp_server, r.ntp_server);
                assert_eq!(s.lease_duration, r.lease_duration);
                assert_eq!(s.renew_duration, r.renew_duration);
                assert_eq!(s.rebind_duration, r.rebind_duration);
            }
        }
    }

    #[test]
    fn header_only_view() {
        let p = Packet::new_header_checked(&DNSMASQ_OFFER[..HEADER_LEN]).unwrap();
        assert_eq!(p.transaction_id(), XID);
        assert_eq!(p.your_ip(), Ipv4Address([10, 78, 0, 146]));
        assert_eq!(p.client_hardware_address(), MAC);
        assert_eq!(p.magic_cookie(), 0);
        assert!(p.options().is_empty() && p.sname().is_empty() && p.file().is_empty());
        assert_eq!(
            Packet::new_header_checked(&DNSMASQ_OFFER[..HEADER_LEN - 1]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            Packet::new_checked(&DNSMASQ_OFFER[..OPTIONS_OFFSET - 1]).unwrap_err(),
            Error::Truncated
        );
    }

    #[test]
    fn parse_errors() {
        let mut bad = DNSMASQ_OFFER.to_vec();
        bad[MAGIC_OFFSET] = 0;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&bad[..])),
            Err(Error::Malformed)
        );
        let mut bad = DNSMASQ_OFFER.to_vec();
        bad[0] = 3;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&bad[..])),
            Err(Error::Malformed)
        );
        let mut bad = DNSMASQ_OFFER.to_vec();
        bad[0] = 1; // an OFFER in a BOOTREQUEST
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&bad[..])),
            Err(Error::Malformed)
        );
        let mut bad = DNSMASQ_OFFER.to_vec();
        bad[1] = 6; // IEEE 802 hardware type
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&bad[..])),
            Err(Error::Unsupported)
        );
        // No message type: plain BOOTP.
        let mut bad = DNSMASQ_OFFER.to_vec();
        bad[OPTIONS_OFFSET] = option::PAD;
        bad[OPTIONS_OFFSET + 1] = option::PAD;
        bad[OPTIONS_OFFSET + 2] = option::PAD;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&bad[..])),
            Err(Error::Malformed)
        );
        // An option running past the end.
        let cut = &DNSMASQ_OFFER[..OPTIONS_OFFSET + 5];
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(cut)),
            Err(Error::Truncated)
        );
        let mut s = OptionScanner::new();
        s.feed(&cut[OPTIONS_OFFSET..], &mut |_, _, _| {});
        assert_eq!(s.finish(), Err(Error::Truncated));
    }

    #[test]
    fn wrong_lengths_are_ignored_and_first_wins() {
        let mut r = ReplyOptions::default();
        r.absorb(option::SUBNET_MASK, &[255, 255, 255], 3);
        r.absorb(option::ROUTER, &[10, 0, 0, 1], 6);
        r.absorb(option::MESSAGE_TYPE, &[2], 2);
        r.absorb(option::LEASE_TIME, &[0, 0, 0, 1], 5);
        r.absorb(option::OVERLOAD, &[4], 1);
        assert_eq!(r, ReplyOptions::default());
        r.absorb(option::ROUTER, &[10, 0, 0, 1], 8);
        r.absorb(option::ROUTER, &[10, 0, 0, 2], 4);
        r.absorb(option::MESSAGE_TYPE, &[5], 1);
        r.absorb(option::MESSAGE_TYPE, &[6], 1);
        assert_eq!(r.router, Some(Ipv4Address([10, 0, 0, 1])));
        assert_eq!(r.message_type, Some(u8::from(MessageType::Ack)));
    }

    #[test]
    fn overloaded_options_are_read_from_file_and_sname() {
        let mut msg = emit(&Repr::new(MessageType::Offer, 7, MAC));
        // Move the message type out: options field says "see file and
        // sname"; file holds the type, sname the server id.
        let opts = [option::OVERLOAD, 1, 3, option::END];
        msg[OPTIONS_OFFSET..OPTIONS_OFFSET + 4].copy_from_slice(&opts);
        msg[FILE_RANGE.start..FILE_RANGE.start + 4].copy_from_slice(&[53, 1, 2, 255]);
        msg[SNAME_RANGE.start..SNAME_RANGE.start + 7].copy_from_slice(&[54, 4, 10, 0, 0, 9, 255]);
        let r = parse(&msg);
        assert_eq!(r.message_type, MessageType::Offer);
        assert_eq!(r.server_identifier, Some(Ipv4Address([10, 0, 0, 9])));
    }

    #[test]
    fn mask_prefixes() {
        assert_eq!(mask_prefix_len(Ipv4Address([255, 255, 255, 0])), Some(24));
        assert_eq!(mask_prefix_len(Ipv4Address([255, 255, 255, 255])), Some(32));
        assert_eq!(mask_prefix_len(Ipv4Address([0, 0, 0, 0])), Some(0));
        assert_eq!(mask_prefix_len(Ipv4Address([255, 255, 128, 0])), Some(17));
        assert_eq!(mask_prefix_len(Ipv4Address([255, 0, 255, 0])), None);
        assert_eq!(mask_prefix_len(Ipv4Address([0, 0, 0, 1])), None);
    }

    #[test]
    fn emit_discover_like_a_client() {
        let list = [1, 3, 6, 42, 51, 58, 59];
        let repr = Repr {
            broadcast: true,
            hostname: Some("EMBER"),
            parameter_request_list: Some(&list),
            ..Repr::new(MessageType::Discover, XID, MAC)
        };
        let bytes = emit(&repr);
        assert_eq!(bytes.len(), MIN_MESSAGE_LEN);
        assert_eq!(bytes.len(), repr.buffer_len());
        // The fixed header is what the Python client in the capture sent.
        assert_eq!(&bytes[..4], &[1, 1, 6, 0]);
        assert_eq!(&bytes[4..8], &XID.to_be_bytes());
        assert_eq!(&bytes[10..12], &[0x80, 0]);
        assert_eq!(
            &bytes[28..44],
            &[2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert!(bytes[44..236].iter().all(|&b| b == 0));
        assert_eq!(
            &bytes[236..262],
            &[
                99, 130, 83, 99, 53, 1, 1, 12, 5, b'E', b'M', b'B', b'E', b'R', 55, 7, 1, 3, 6, 42,
                51, 58, 59, 255, 0, 0
            ]
        );
        assert_eq!(parse(&bytes), repr);
    }

    #[test]
    fn emit_reply_round_trips_through_the_captures_shape() {
        // Re-emit dnsmasq's ACK from its parsed form: same fields back.
        let ack = parse(DNSMASQ_ACK);
        let bytes = emit(&ack);
        let again = parse(&bytes);
        assert_eq!(again, ack);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let p = Packet::new_unchecked(&bytes[..]);
            let _ = (p.opcode(), p.transaction_id(), p.flags(), p.your_ip(), p.client_hardware_address());
            let _ = (p.magic_cookie(), p.options(), p.sname(), p.file(), p.secs(), p.hops());
            if let Ok(r) = Repr::parse(&p) {
                let out = emit(&r);
                prop_assert_eq!(out.len(), r.buffer_len());
            }
            for o in Options::new(&bytes) {
                let _ = o;
            }
            let mut copy = bytes.clone();
            let mut m = Packet::new_unchecked(&mut copy[..]);
            m.set_transaction_id(1);
            m.set_client_hardware_address(MAC);
            m.set_magic_cookie(MAGIC_COOKIE);
            let _ = m.options_mut();
        }

        /// The streaming scanner finds exactly what the in-memory iterator
        /// finds, however the bytes are cut into chunks.
        #[test]
        fn scanner_matches_iterator(
            bytes in proptest::collection::vec(
                prop_oneof![Just(0u8), Just(255u8), Just(4u8), Just(53u8), Just(1u8), any::<u8>()],
                0..120,
            ),
            cuts in proptest::collection::vec(1usize..9, 1..40),
        ) {
            let mut expected = Vec::new();
            let mut truncated = false;
            for o in Options::new(&bytes) {
                match o {
                    Ok(o) => expected.push((o.kind, o.data[..o.data.len().min(4)].to_vec(), o.data.len())),
                    Err(_) => truncated = true,
                }
            }
            let mut got = Vec::new();
            let mut s = OptionScanner::new();
            let mut at = 0;
            for c in cuts.iter().cycle() {
                if at >= bytes.len() {
                    break;
                }
                let end = (at + c).min(bytes.len());
                s.feed(&bytes[at..end], &mut |k, v, l| got.push((k, v.to_vec(), l)));
                at = end;
            }
            prop_assert_eq!(got, expected);
            prop_assert_eq!(s.finish().is_err(), truncated);
        }

        #[test]
        fn round_trip(
            xid in any::<u32>(), secs in any::<u16>(), broadcast in any::<bool>(),
            mac in any::<[u8; 6]>(), ci in any::<[u8; 4]>(), yi in any::<[u8; 4]>(),
            req in proptest::option::of(any::<[u8; 4]>()),
            sid in proptest::option::of(any::<[u8; 4]>()),
            lease in proptest::option::of(any::<u32>()),
            t in 1u8..=8,
            name in proptest::option::of("[a-zA-Z0-9-]{1,63}"),
        ) {
            let repr = Repr {
                secs, broadcast,
                client_ip: Ipv4Address(ci), your_ip: Ipv4Address(yi),
                requested_ip: req.map(Ipv4Address),
                server_identifier: sid.map(Ipv4Address),
                lease_duration: lease,
                hostname: name.as_deref(),
                ..Repr::new(MessageType::from(t), xid, EthernetAddress(mac))
            };
            let bytes = emit(&repr);
            prop_assert_eq!(bytes.len(), repr.buffer_len());
            prop_assert_eq!(parse(&bytes), repr);
        }
    }
}
