//! NetBIOS name service responder (RFC 1001/1002): answers name queries
//! for the device name on UDP port 137, so `nmblookup EMBER` and Windows
//! hosts on the LAN find the device without DNS.
//!
//! A name query request (unicast, or broadcast with the B flag) for the
//! device name ([`Stack::device_name`](crate::Stack::device_name): `[device] name`
//! or the application's rename; compared without regard to case)
//! with suffix 0x00 (workstation) and no scope gets a positive response
//! with our address, sent to the requester. Queries for other names,
//! responses, registrations and the like from other nodes are ignored;
//! packets that are not well-formed name service packets are ignored too.
//! Both are counted ([`NetBiosResponder::counters`]). The responder never
//! registers or defends its name: it only answers.

use crate::iface::Bytes;
use crate::nic::Nic;
use crate::service::{App, Event, Service, ServiceConfig};
use crate::udp::UdpDatagram;
use crate::wire::netbios::{self as wire, Malformed, Parsed};
use crate::wire::Ipv4Address;

/// The TTL given with our name, in seconds.
pub const TTL: u32 = 300;

/// What the responder has done. Each counter is 16-bit and wraps at
/// 65,536 (6 bytes of the stack's state instead of 12), as the
/// interface's exception counters do: they are read as they climb, and
/// the application also hears each answer and each malformed packet as a
/// [`NetBiosEvent`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetBiosCounters {
    /// Queries answered; wraps at 65,536.
    pub answered: u16,
    /// Well-formed packets that needed no answer (other names, other
    /// opcodes, responses, node status); wraps at 65,536.
    pub ignored: u16,
    /// Packets that are not well-formed name service packets; wraps at
    /// 65,536.
    pub malformed: u16,
}

/// What the responder reports through [`App::event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetBiosEvent {
    /// A query for our name was answered.
    Answered {
        /// The requester.
        to: Ipv4Address,
        /// The query was broadcast.
        broadcast: bool,
    },
    /// A malformed packet arrived on port 137 (counted, not answered).
    Malformed {
        /// The sender.
        from: Ipv4Address,
        /// What was wrong.
        why: Malformed,
    },
}

/// The NetBIOS name responder for the device name.
#[derive(Clone, Copy, Debug, Default)]
pub struct NetBiosResponder {
    counters: NetBiosCounters,
}

impl NetBiosResponder {
    /// A responder for the device's name (read from the interface for
    /// each query: [`Stack::set_device_name`](crate::Stack::set_device_name)
    /// renames it).
    pub const fn new() -> Self {
        NetBiosResponder {
            counters: NetBiosCounters {
                answered: 0,
                ignored: 0,
                malformed: 0,
            },
        }
    }

    /// What the responder has done.
    pub fn counters(&self) -> &NetBiosCounters {
        &self.counters
    }
}

impl Service for NetBiosResponder {
    fn new_service<C: ServiceConfig>() -> Self {
        NetBiosResponder::new()
    }

    fn on_udp<N: Nic, A: App>(&mut self, d: &mut UdpDatagram<'_, '_, N>, app: &mut A) -> bool {
        if d.local().port != wire::PORT {
            return false;
        }
        // The query is read into the response's buffer, which it becomes
        // in place (the name, type and class stay where they are).
        let mut buf = [0u8; wire::RESPONSE_LEN];
        let n = d.read(0, buf.get_mut(..wire::QUERY_LEN).unwrap_or(&mut []));
        let c = &mut self.counters;
        match wire::parse(buf.get(..n).unwrap_or(&[])) {
            Ok(Parsed::Query)
                if wire::name_is(
                    wire::encoded(&buf),
                    d.io().device_name().padded(),
                    wire::SUFFIX_WORKSTATION,
                ) =>
            {
                let Some(addr) = d.io().address() else {
                    c.ignored = c.ignored.wrapping_add(1);
                    return true;
                };
                let broadcast = wire::broadcast(&buf);
                wire::respond(&mut buf, TTL, addr);
                if d.reply(&mut Bytes(&buf)).is_ok() {
                    c.answered = c.answered.wrapping_add(1);
                    app.event(Event::NetBios(NetBiosEvent::Answered {
                        to: d.remote().addr,
                        broadcast,
                    }));
                }
            }
            Ok(_) => c.ignored = c.ignored.wrapping_add(1),
            Err(why) => {
                c.malformed = c.malformed.wrapping_add(1);
                app.event(Event::NetBios(NetBiosEvent::Malformed {
                    from: d.remote().addr,
                    why,
                }));
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responder_state_stays_small() {
        // Three 16-bit counters (notes-state.md); no pointer-sized field,
        // so the host's layout is the MCU's.
        assert_eq!(core::mem::size_of::<NetBiosResponder>(), 6);
    }
}
