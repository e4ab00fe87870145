//! Fixed-size tables: the storage the build-time configuration sizes
//! ([`Config`](crate::Config)'s socket, ARP and record tables), and the
//! constant empty slot each starts from. Below every layer that has a
//! table, so each slot type says here what its empty slot is.

/// A table slot's unused value as a constant. A new table is then one
/// constant written in place — for the stack's tables, which are all
/// zeroes, one `memset` — where a `Default` (a function) built it slot by
/// slot in a temporary that was then copied (~160 bytes of flash in the
/// everything-on firmware).
pub trait EmptySlot: Sized {
    /// The unused slot (equal to the type's `Default`).
    const EMPTY: Self;
}

impl EmptySlot for u8 {
    const EMPTY: u8 = 0;
}

/// Fixed-size storage for a table of `T`: implemented for `[T; N]`.
pub trait Table<T> {
    /// The number of slots, known at compile time.
    const LEN: usize;
    /// A table of empty slots.
    fn new_table() -> Self;
    /// All slots.
    fn slots(&self) -> &[T];
    /// All slots, mutably.
    fn slots_mut(&mut self) -> &mut [T];
}

impl<T: EmptySlot, const N: usize> Table<T> for [T; N] {
    const LEN: usize = N;
    fn new_table() -> Self {
        [const { T::EMPTY }; N]
    }
    fn slots(&self) -> &[T] {
        self
    }
    fn slots_mut(&mut self) -> &mut [T] {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::EmptySlot;
    use crate::iface::arp::ArpEntry;
    use crate::raw::RawSocket;
    use crate::smtp::Snapshot;
    use crate::tcp::{SentSegment, TcpSocket};
    use crate::udp::UdpSocket;
    use std::format;

    /// A table starts as its slots' `Default` did before `EmptySlot`.
    fn same<T: EmptySlot + Default + core::fmt::Debug>() {
        assert_eq!(format!("{:?}", T::EMPTY), format!("{:?}", T::default()));
    }

    #[test]
    fn empty_slots_are_the_defaults() {
        same::<ArpEntry>();
        same::<UdpSocket>();
        same::<RawSocket>();
        same::<TcpSocket>();
        same::<SentSegment>();
        same::<Snapshot>();
        same::<u8>();
    }
}
