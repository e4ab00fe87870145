//! Protocol services: DHCP, DNS, NetBIOS, SNTP (and later the TCP users).
//!
//! A service is a state machine the stack owns and advances in `poll`. It
//! is offered each verified UDP datagram before the socket table (it takes
//! the ones for its ports), gets a turn to send and run timers, and says
//! when it next needs a turn.
//!
//! Each service occupies an associated type of [`Config`]; a protocol
//! switched off in `stack.toml` is [`Disabled`], whose hooks are empty, so
//! none of its code is in the binary and calling its API does not compile.

use crate::config::Config;
use crate::dns::Resolver;
use crate::iface::Io;
use crate::nic::Nic;
use crate::stack::App;
use crate::time::Instant;
use crate::udp::UdpDatagram;

/// A protocol state machine advanced by the stack.
pub trait Service {
    /// The service in its initial state, from the device configuration.
    fn new_service<C: Config>() -> Self;

    /// Offered every verified datagram before the UDP socket table; returns
    /// true when it was for this service (it is then not offered further).
    fn on_udp<N: Nic, A: App>(
        &mut self,
        datagram: &mut UdpDatagram<'_, '_, N>,
        app: &mut A,
    ) -> bool {
        let _ = (datagram, app);
        false
    }

    /// Sends what is due and runs timers. `io.now()` is the time.
    fn poll<N: Nic, A: App>(&mut self, io: &mut Io<'_, N>, app: &mut A) {
        let _ = (io, app);
    }

    /// `poll` for a service that resolves names (SNTP): the stack passes
    /// its DNS client here. Others need not implement it.
    fn poll_with_resolver<N: Nic, A: App, R: Resolver>(
        &mut self,
        io: &mut Io<'_, N>,
        app: &mut A,
        resolver: &mut R,
    ) {
        let _ = resolver;
        self.poll(io, app);
    }

    /// When the service next needs `poll` (None: only a datagram wakes it).
    fn poll_at(&self) -> Option<Instant> {
        None
    }

    /// The NIC's link went down (`false`) or came back (`true`): a DHCP
    /// client asks for its lease again (INIT-REBOOT). Default: nothing.
    fn link_changed(&mut self, up: bool) {
        let _ = up;
    }

    /// A valid ARP packet arrived (for address conflict detection, RFC
    /// 5227). Default: nothing.
    fn on_arp<N: Nic, A: App>(
        &mut self,
        io: &mut Io<'_, N>,
        app: &mut A,
        arp: &crate::wire::arp::Repr,
    ) {
        let _ = (io, app, arp);
    }

    /// The application renamed the device
    /// ([`Stack::set_device_name`](crate::Stack::set_device_name)).
    /// Default: nothing (services read the name when they need it).
    fn name_changed(&mut self) {}
}

/// A protocol switched off in `stack.toml`: no state, no code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Disabled;

impl Service for Disabled {
    fn new_service<C: Config>() -> Self {
        Disabled
    }
}

/// The earlier of two optional deadlines.
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}
