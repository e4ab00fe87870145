//! A Linux TAP device as a [`Nic`], for running the stack on a host.
//!
//! The TAP is opened through `/dev/net/tun` with `TUNSETIFF`
//! (`IFF_TAP | IFF_NO_PI`, so reads and writes are bare Ethernet frames) in
//! the network namespace of the *calling thread*: run the program under
//! `ip netns exec NS`, or `setns()` the opening thread first. The fd is
//! non-blocking; the stack polls it and a device sleeps in [`Tap::wait`]
//! until a frame arrives or the stack's next deadline.
//!
//! [`Tap::open`] attaches to an existing TAP or, when the process has
//! `CAP_NET_ADMIN`, creates a *transient* one that disappears when the
//! [`Tap`] is dropped. A TAP created that way starts down: bring it up with
//! [`Tap::link_up`] (or `ip link set NAME up`) and give the kernel's side an
//! address, or nothing will answer. When opening fails the error says which
//! case it is and, where it helps, the exact commands to run
//! ([`setup_commands`]).
//!
//! The TAP keeps one received frame in a host buffer (the "controller
//! memory") and builds the frame to send in another, so it is a
//! [`TxMode::Rewrite`] controller.
#![allow(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::string::String;
use std::time::Duration;
use std::vec::Vec;

use super::{Nic, NicError, TxMode, MAX_FRAME_LEN};

/// Size of the host receive buffer. A read that fills it completely may
/// have been truncated, so such frames are dropped and counted (they can
/// only occur if the interface MTU was raised above 1500).
pub const RX_BUFFER_LEN: usize = 2048;

/// The commands that create a persistent TAP named `name` for the current
/// user and bring it up, to print when [`Tap::open`] cannot do it itself.
///
/// Run them as root, in the network namespace the program will run in
/// (prefix with `ip netns exec NS` or use `ip -n NS`).
pub fn setup_commands(name: &str) -> String {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    format!("ip tuntap add dev {name} mode tap user {uid}\nip link set {name} up")
}

/// A Linux TAP interface opened as a [`Nic`]. See the [module docs](self).
#[derive(Debug)]
pub struct Tap {
    fd: OwnedFd,
    name: String,
    created: bool,
    rx_buf: Vec<u8>,
    rx_len: Option<usize>,
    rx_cursor: usize,
    rx_oversize: u64,
    tx: Vec<u8>,
    tx_declared: Option<usize>,
    last_error: Option<io::Error>,
    /// The link as last read from the interface flags (up and running).
    link: bool,
    /// When the flags were last read (`None`: never).
    link_checked: Option<std::time::Instant>,
    /// A write failed since: read the flags again at once.
    tx_failed: bool,
}

/// How often [`Nic::link_up`] reads the interface flags again (between
/// reads it answers from the last one; a failed write forces a read).
pub const LINK_CHECK_EVERY: Duration = Duration::from_millis(500);

/// Builds an `ifreq` holding `name` (already checked to fit).
fn ifreq_for(name: &CString) -> libc::ifreq {
    // SAFETY: ifreq is a plain C struct/union of integers, arrays and raw
    // pointers, for which all-zero bytes are a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, &src) in ifr.ifr_name.iter_mut().zip(name.as_bytes()) {
        *dst = src as libc::c_char;
    }
    ifr
}

/// Checks an interface name the way the kernel will (1 to 15 bytes, no NUL,
/// no '/' or whitespace).
fn check_name(name: &str) -> io::Result<CString> {
    let bad = name.is_empty()
        || name.len() >= libc::IFNAMSIZ
        || name.bytes().any(|b| b == b'/' || b.is_ascii_whitespace());
    if bad {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "invalid interface name {name:?}: 1 to {} bytes, no '/' or spaces",
                libc::IFNAMSIZ.saturating_sub(1)
            ),
        ));
    }
    CString::new(name).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid interface name {name:?}: contains NUL"),
        )
    })
}

fn interface_exists(name: &CString) -> bool {
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
    unsafe { libc::if_nametoindex(name.as_ptr()) != 0 }
}

fn is_permission(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES))
}

/// An `AF_INET` datagram socket for interface ioctls (it resolves names in
/// the calling thread's network namespace).
fn control_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket has no memory preconditions; the result is checked.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a freshly created fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Runs one interface ioctl on `ifr`.
fn interface_ioctl(
    sock: &OwnedFd,
    request: libc::c_ulong,
    ifr: &mut libc::ifreq,
) -> io::Result<()> {
    // SAFETY: the SIOC[GS]IF* requests read and write one `ifreq`, which
    // lives across the call; the socket is valid.
    let rc = unsafe {
        libc::ioctl(
            sock.as_raw_fd(),
            request as libc::Ioctl,
            ifr as *mut libc::ifreq,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// An IPv4 address as the `sockaddr` of an `ifreq`.
fn sockaddr_v4(addr: [u8; 4]) -> libc::sockaddr {
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(addr),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in and sockaddr have the same size on Linux and
    // every bit pattern is a valid sockaddr.
    unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
}

impl Tap {
    /// Attaches to the TAP `name` in the calling thread's network namespace,
    /// creating a transient one if there is none and the process may
    /// (`CAP_NET_ADMIN`). See [`created`](Tap::created).
    ///
    /// Errors, by [`io::ErrorKind`]:
    /// - `NotFound`: no such TAP and no permission to create it (or no
    ///   `/dev/net/tun`); the message includes [`setup_commands`];
    /// - `PermissionDenied`: the TAP exists but this user may not attach to
    ///   it (it belongs to another user); the message says how to recreate it;
    /// - `ResourceBusy`: another process holds it;
    /// - `InvalidInput`: a bad name, or an interface of that name that is not
    ///   a TAP.
    pub fn open(name: &str) -> io::Result<Tap> {
        let cname = check_name(name)?;
        let existed = interface_exists(&cname);
        let path = c"/dev/net/tun";
        // SAFETY: `path` is a valid NUL-terminated string; open has no other
        // preconditions. The result is checked before use.
        let raw = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if raw < 0 {
            let e = io::Error::last_os_error();
            if is_permission(&e) {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "cannot open /dev/net/tun ({e}): run as root, or give this user \
                         access to it (as root: chmod 0666 /dev/net/tun, the usual mode) and \
                         create the TAP for this user as root with:\n{}",
                        setup_commands(name)
                    ),
                ));
            }
            return Err(io::Error::new(
                e.kind(),
                format!("cannot open /dev/net/tun ({e}): the kernel has no TUN/TAP support"),
            ));
        }
        // SAFETY: `raw` is a freshly opened fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        let mut ifr = ifreq_for(&cname);
        ifr.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes one `ifreq`, which `ifr` is and
        // which lives across the call; the fd is valid.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF as libc::Ioctl, &mut ifr) };
        if rc < 0 {
            return Err(open_error(name, existed, io::Error::last_os_error()));
        }
        let name = ifr
            .ifr_name
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| char::from(c as u8))
            .collect();
        let tap = Tap {
            fd,
            name,
            created: !existed,
            rx_buf: vec![0; RX_BUFFER_LEN],
            rx_len: None,
            rx_cursor: 0,
            rx_oversize: 0,
            tx: Vec::with_capacity(MAX_FRAME_LEN),
            tx_declared: None,
            last_error: None,
            link: true,
            link_checked: None,
            tx_failed: false,
        };
        tap.await_carrier();
        Ok(tap)
    }

    /// The interface name as the kernel knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True if [`open`](Tap::open) created the TAP (it is then transient:
    /// removed when this `Tap` is dropped, and down until
    /// [`set_link_up`](Tap::set_link_up)).
    pub fn created(&self) -> bool {
        self.created
    }

    /// Sets the interface administratively up (`SIOCSIFFLAGS` with
    /// `IFF_UP`), as `ip link set NAME up` would. Needed for a TAP this
    /// process created; harmless if it is already up. Needs
    /// `CAP_NET_ADMIN`, and must be called from a thread in the TAP's
    /// network namespace (the control socket resolves the name there).
    pub fn set_link_up(&self) -> io::Result<()> {
        let (sock, mut ifr, flags) = self.flags()?;
        ifr.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
        if let Err(e) = interface_ioctl(&sock, libc::SIOCSIFFLAGS, &mut ifr) {
            if is_permission(&e) {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "setting {} up needs CAP_NET_ADMIN ({e}); run as root: ip link set {} up",
                        self.name, self.name
                    ),
                ));
            }
            return Err(e);
        }
        Ok(())
    }

    /// Gives the kernel's side of the TAP the address `addr/prefix_len`
    /// (`SIOCSIFADDR` and `SIOCSIFNETMASK`), as `ip addr add` would, so the
    /// host can reach the device on that subnet. For a TAP this process
    /// created; needs `CAP_NET_ADMIN` and a thread in the TAP's namespace.
    pub fn set_host_address(&self, addr: [u8; 4], prefix_len: u8) -> io::Result<()> {
        let cname = check_name(&self.name)?;
        let sock = control_socket()?;
        let mask = u32::MAX
            .checked_shl(32u32.saturating_sub(u32::from(prefix_len.min(32))))
            .unwrap_or(0);
        for (request, value) in [
            (libc::SIOCSIFADDR, addr),
            (libc::SIOCSIFNETMASK, mask.to_be_bytes()),
        ] {
            let mut ifr = ifreq_for(&cname);
            ifr.ifr_ifru.ifru_addr = sockaddr_v4(value);
            interface_ioctl(&sock, request, &mut ifr).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "giving {} the address {}/{prefix_len} failed ({e}); run as root: ip addr add {}/{prefix_len} dev {}",
                        self.name,
                        std::net::Ipv4Addr::from(addr),
                        std::net::Ipv4Addr::from(addr),
                        self.name
                    ),
                )
            })?;
        }
        Ok(())
    }

    /// Attaching gives the TAP its carrier, but the kernel reports it as
    /// `IFF_RUNNING` only once its link watcher has run (a few ms later):
    /// an interface that is up waits for it, at most 250 ms, so the first
    /// [`Nic::link_up`] does not report a link that was never down.
    fn await_carrier(&self) {
        let up = libc::IFF_UP as libc::c_short;
        let running = libc::IFF_RUNNING as libc::c_short;
        for _ in 0..50 {
            match self.flags() {
                Ok((_, _, f)) if f & up != 0 && f & running == 0 => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                _ => return,
            }
        }
    }

    /// The interface flags (`SIOCGIFFLAGS`), with the control socket and
    /// the `ifreq` used to read them (for a `SIOCSIFFLAGS` after).
    fn flags(&self) -> io::Result<(OwnedFd, libc::ifreq, libc::c_short)> {
        let cname = check_name(&self.name)?;
        let sock = control_socket()?;
        let mut ifr = ifreq_for(&cname);
        interface_ioctl(&sock, libc::SIOCGIFFLAGS, &mut ifr)?;
        // SAFETY: SIOCGIFFLAGS succeeded, so the kernel wrote `ifru_flags`.
        let flags = unsafe { ifr.ifr_ifru.ifru_flags };
        Ok((sock, ifr, flags))
    }

    /// The TAP's file descriptor, for an event loop of the caller's own.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Sleeps until a frame can be read or `timeout` passes (`poll(2)` on
    /// the fd); true if a frame is (probably) waiting. A device calls this
    /// with the time until the stack's next deadline. Returns at once if a
    /// frame is already current. An interrupted wait returns `Ok(false)`.
    pub fn wait(&self, timeout: Duration) -> io::Result<bool> {
        if self.rx_len.is_some() {
            return Ok(true);
        }
        // Round up so a 0.5 ms deadline does not become a busy loop.
        let ms = timeout
            .as_micros()
            .div_ceil(1000)
            .min(libc::c_int::MAX as u128) as libc::c_int;
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd, matching the count of 1.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(false);
            }
            return Err(e);
        }
        Ok(rc > 0)
    }

    /// Frames dropped because they did not fit [`RX_BUFFER_LEN`].
    pub fn rx_oversize(&self) -> u64 {
        self.rx_oversize
    }

    /// Takes the last unexpected read error (the [`Nic`] calls cannot
    /// return one: receiving reports "nothing pending" instead).
    pub fn take_error(&mut self) -> Option<io::Error> {
        self.last_error.take()
    }
}

/// Explains a failed `TUNSETIFF` in terms of what the user should do.
fn open_error(name: &str, existed: bool, e: io::Error) -> io::Error {
    let (kind, msg) = match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) if !existed => (
            io::ErrorKind::NotFound,
            format!(
                "no TAP device {name} in this network namespace, and this process may not \
                 create one (needs CAP_NET_ADMIN; {e}). Create it as root with:\n{}",
                setup_commands(name)
            ),
        ),
        Some(libc::EPERM) | Some(libc::EACCES) => (
            io::ErrorKind::PermissionDenied,
            format!(
                "TAP device {name} exists but this user may not attach to it ({e}). \
                 Recreate it for this user as root with:\nip tuntap del dev {name} mode tap\n{}",
                setup_commands(name)
            ),
        ),
        Some(libc::EBUSY) => (
            io::ErrorKind::ResourceBusy,
            format!("TAP device {name} is in use by another process ({e})"),
        ),
        Some(libc::EINVAL) if existed => (
            io::ErrorKind::InvalidInput,
            format!("interface {name} exists but is not a TAP device ({e})"),
        ),
        _ => (e.kind(), format!("cannot open TAP device {name}: {e}")),
    };
    io::Error::new(kind, msg)
}

impl AsFd for Tap {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Tap {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl Nic for Tap {
    const TX_MODE: TxMode = TxMode::Rewrite;

    /// `None`: the TAP's own MAC address belongs to the kernel's side of
    /// the link (another host on the segment), not to the stack.
    fn mac_address(&self) -> Option<[u8; 6]> {
        None
    }

    /// Up when the interface is administratively up (`IFF_UP`) and has a
    /// carrier (`IFF_RUNNING`; `ip link set NAME down` clears both), read
    /// at most every [`LINK_CHECK_EVERY`] and at once after a failed write
    /// (`EIO` when the interface is down). Flags that cannot be read count
    /// as up: the stack's send backoff covers that case.
    fn link_up(&mut self) -> bool {
        let now = std::time::Instant::now();
        let stale = self.tx_failed
            || self
                .link_checked
                .is_none_or(|t| now.duration_since(t) >= LINK_CHECK_EVERY);
        if stale {
            self.link_checked = Some(now);
            self.tx_failed = false;
            let running = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            self.link = self
                .flags()
                .map_or(true, |(_, _, f)| f & running == running);
        }
        self.link
    }

    fn rx_pending(&mut self) -> Option<usize> {
        if let Some(len) = self.rx_len {
            return Some(len);
        }
        // Bounded: skip a few oversize frames, retry an interrupted read.
        for _ in 0..8 {
            // SAFETY: the buffer pointer and length describe `rx_buf`, which
            // is valid for writes of that many bytes for the whole call.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    self.rx_buf.as_mut_ptr().cast(),
                    self.rx_buf.len(),
                )
            };
            match usize::try_from(n) {
                Ok(0) => return None,
                Ok(n) if n >= self.rx_buf.len() => {
                    self.rx_oversize = self.rx_oversize.saturating_add(1);
                }
                Ok(n) => {
                    self.rx_len = Some(n);
                    self.rx_cursor = 0;
                    return Some(n);
                }
                Err(_) => {
                    // The error number itself, not `kind()`: an empty queue
                    // ends every burst of frames, and `kind()`'s decoding
                    // showed in the device's profile (issue 11).
                    let e = io::Error::last_os_error();
                    match e.raw_os_error() {
                        Some(libc::EAGAIN) => return None,
                        Some(libc::EINTR) => {}
                        _ => {
                            self.last_error = Some(e);
                            return None;
                        }
                    }
                }
            }
        }
        None
    }

    fn rx_read(&mut self, buf: &mut [u8]) -> usize {
        let Some(len) = self.rx_len else {
            return 0;
        };
        let rest = self.rx_buf.get(self.rx_cursor..len).unwrap_or(&[]);
        let n = rest.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.rx_cursor = self.rx_cursor.saturating_add(n);
        n
    }

    fn rx_seek(&mut self, offset: usize) {
        self.rx_cursor = offset.min(self.rx_len.unwrap_or(0));
    }

    fn rx_dump(&mut self) {
        self.rx_len = None;
        self.rx_cursor = 0;
    }

    fn tx_ready(&mut self, len: usize) -> bool {
        // Writing to a TAP hands the frame to the kernel at once; it does
        // not wait for buffer space.
        len <= MAX_FRAME_LEN
    }

    fn tx_begin(&mut self, len: usize) -> Result<(), NicError> {
        self.tx.clear();
        self.tx_declared = None;
        if len > MAX_FRAME_LEN {
            return Err(NicError::TooLong);
        }
        self.tx_declared = Some(len);
        Ok(())
    }

    fn tx_write(&mut self, bytes: &[u8]) {
        if self.tx_declared.is_some() {
            self.tx.extend_from_slice(bytes);
        }
    }

    fn tx_rewrite(&mut self, offset: usize, bytes: &[u8]) {
        let end = offset.saturating_add(bytes.len()).min(self.tx.len());
        if let Some(dst) = self.tx.get_mut(offset..end) {
            if let Some(src) = bytes.get(..dst.len()) {
                dst.copy_from_slice(src);
            }
        }
    }

    /// Writes the frame to the kernel. The frame is consumed whatever the
    /// result: `Busy` (kernel out of buffers) and `Device` (interface down,
    /// `EIO`) both mean it was not sent.
    fn tx_send(&mut self) -> Result<(), NicError> {
        let Some(declared) = self.tx_declared.take() else {
            return Err(NicError::Device);
        };
        if self.tx.len() > declared {
            self.tx.clear();
            return Err(NicError::LengthMismatch);
        }
        let mut result = Err(NicError::Device);
        for _ in 0..3 {
            // SAFETY: the pointer and length describe `self.tx`, valid for
            // reads for the whole call.
            let n =
                unsafe { libc::write(self.fd.as_raw_fd(), self.tx.as_ptr().cast(), self.tx.len()) };
            result = match usize::try_from(n) {
                Ok(n) if n == self.tx.len() => Ok(()),
                Ok(_) => Err(NicError::Device),
                Err(_) => {
                    let e = io::Error::last_os_error();
                    match e.raw_os_error() {
                        Some(libc::EINTR) => continue,
                        Some(libc::EAGAIN) | Some(libc::ENOBUFS) => Err(NicError::Busy),
                        _ => {
                            self.last_error = Some(e);
                            self.tx_failed = true;
                            Err(NicError::Device)
                        }
                    }
                }
            };
            break;
        }
        self.tx.clear();
        result
    }

    fn tx_abort(&mut self) {
        self.tx.clear();
        self.tx_declared = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Instant;

    #[test]
    fn rejects_bad_names_without_touching_the_kernel() {
        for name in ["", "a-name-that-is-too-long", "a/b", "a b", "a\0b"] {
            let e = Tap::open(name).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{name:?}: {e}");
        }
    }

    #[test]
    fn setup_commands_are_exact() {
        // SAFETY: getuid has no preconditions.
        let uid = unsafe { libc::getuid() };
        assert_eq!(
            setup_commands("tap7"),
            format!("ip tuntap add dev tap7 mode tap user {uid}\nip link set tap7 up")
        );
    }

    #[test]
    fn open_error_distinguishes_missing_from_forbidden() {
        let eperm = || io::Error::from_raw_os_error(libc::EPERM);
        let missing = open_error("tap3", false, eperm());
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        assert!(missing
            .to_string()
            .contains("ip tuntap add dev tap3 mode tap user"));
        assert!(missing.to_string().contains("ip link set tap3 up"));
        let forbidden = open_error("tap3", true, eperm());
        assert_eq!(forbidden.kind(), io::ErrorKind::PermissionDenied);
        assert!(forbidden
            .to_string()
            .contains("ip tuntap del dev tap3 mode tap"));
        let busy = open_error("tap3", true, io::Error::from_raw_os_error(libc::EBUSY));
        assert_eq!(busy.kind(), io::ErrorKind::ResourceBusy);
    }

    // ---- tests against the real kernel, in a namespace of their own ----

    fn require_root() {
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        assert_eq!(
            euid, 0,
            "this test needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to create a network \
             namespace and a TAP in it; run the tests as root"
        );
    }

    fn ip(args: &[&str]) {
        let out = Command::new("ip").args(args).output().expect("run ip(8)");
        assert!(
            out.status.success(),
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A network namespace that is deleted when dropped (also on panic).
    struct Netns {
        name: String,
        subnet: u8,
    }

    impl Netns {
        fn new() -> Netns {
            require_root();
            static N: AtomicU32 = AtomicU32::new(0);
            let pid = std::process::id();
            let name = format!("es-taptest-{pid}-{}", N.fetch_add(1, Ordering::Relaxed));
            let _ = Command::new("ip").args(["netns", "del", &name]).output();
            ip(&["netns", "add", &name]);
            let ns = Netns {
                name,
                subnet: (pid % 250) as u8,
            };
            ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
            ns
        }

        /// Runs `f` on a thread that has entered this namespace (so TAP
        /// names resolve there) and returns its result; panics propagate.
        fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
            let path = format!("/var/run/netns/{}", self.name);
            std::thread::spawn(move || {
                let file = std::fs::File::open(&path).expect("open netns");
                // SAFETY: the fd is valid for the call; setns only changes
                // this thread's namespace, and the thread ends after `f`.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns: {}", io::Error::last_os_error());
                f()
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        }
    }

    impl Drop for Netns {
        fn drop(&mut self) {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.name])
                .output();
        }
    }

    const OUR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

    /// An ARP request "who has `target`, tell `sender`", padded to 60 bytes.
    fn arp_request(sender: [u8; 4], target: [u8; 4]) -> Vec<u8> {
        use crate::wire::build::arp_frame;
        use crate::wire::{arp, EthernetAddress, Ipv4Address};
        let mut f = arp_frame(
            EthernetAddress(OUR_MAC),
            EthernetAddress::BROADCAST,
            &arp::Repr {
                operation: arp::Operation::Request,
                source_hardware_addr: EthernetAddress(OUR_MAC),
                source_protocol_addr: Ipv4Address(sender),
                target_hardware_addr: EthernetAddress([0; 6]),
                target_protocol_addr: Ipv4Address(target),
            },
        );
        f.resize(60, 0);
        f
    }

    /// Sends the ARP request for the kernel's address and waits (bounded)
    /// for the kernel's reply, reading the frame through the Nic calls.
    fn arp_roundtrip(tap: &mut Tap, subnet: u8) -> [u8; 6] {
        let kernel_ip = [10, 99, subnet, 1];
        let our_ip = [10, 99, subnet, 2];
        let req = arp_request(our_ip, kernel_ip);
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut attempts = 0;
        while Instant::now() < deadline {
            // Asked again every 500 ms: a reply the kernel tries to send
            // before it has noticed the carrier (linkwatch runs late under
            // load) is lost.
            if attempts % 5 == 0 {
                assert!(tap.tx_ready(req.len()));
                tap.tx_begin(req.len()).unwrap();
                tap.tx_write(&req[..20]);
                tap.tx_write(&[0; 2]);
                tap.tx_write(&req[22..]);
                tap.tx_rewrite(20, &req[20..22]); // the opcode, patched afterwards
                tap.tx_send().unwrap();
            }
            attempts += 1;
            tap.wait(Duration::from_millis(100)).unwrap();
            while let Some(len) = tap.rx_pending() {
                let mut head = [0u8; 14];
                assert_eq!(tap.rx_read(&mut head), 14.min(len));
                if len >= 42 && head[12..14] == [0x08, 0x06] && head[..6] == OUR_MAC {
                    let mut arp = [0u8; 28];
                    assert_eq!(tap.rx_read(&mut arp), 28);
                    // Seek back and read again: same bytes.
                    tap.rx_seek(14);
                    let mut again = [0u8; 28];
                    assert_eq!(tap.rx_read(&mut again), 28);
                    assert_eq!(arp, again);
                    assert_eq!(arp[6..8], [0, 2], "ARP reply opcode");
                    assert_eq!(arp[14..18], kernel_ip);
                    assert_eq!(arp[18..24], OUR_MAC);
                    assert_eq!(arp[24..28], our_ip);
                    tap.rx_dump();
                    return arp[8..14].try_into().unwrap();
                }
                tap.rx_dump();
            }
        }
        panic!("no ARP reply from the kernel within 3 s");
    }

    #[test]
    fn creates_transient_tap_in_netns_and_kernel_answers_arp() {
        let ns = Netns::new();
        let (nsname, subnet) = (ns.name.clone(), ns.subnet);
        let addr = format!("10.99.{subnet}.1/24");
        let mac = ns.run(move || {
            let mut tap = Tap::open("estap0").unwrap();
            assert!(tap.created());
            assert_eq!(tap.name(), "estap0");
            assert!(tap.raw_fd() >= 0);
            assert_eq!(tap.mac_address(), None);
            assert_eq!(tap.rx_pending(), None, "non-blocking, nothing yet");
            assert!(!tap.wait(Duration::from_millis(1)).unwrap());
            ip(&["-n", &nsname, "addr", "add", &addr, "dev", "estap0"]);
            tap.set_link_up().unwrap();
            tap.set_link_up().unwrap(); // idempotent
            let mac = arp_roundtrip(&mut tap, subnet);
            assert!(tap.take_error().is_none());
            mac
        });
        assert_ne!(mac, [0; 6]);
        // Transient: gone once the Tap was dropped.
        let out = Command::new("ip")
            .args(["-n", &ns.name, "link", "show", "estap0"])
            .output()
            .unwrap();
        assert!(!out.status.success());
    }

    #[test]
    fn attaches_to_existing_tap_in_netns() {
        let ns = Netns::new();
        let (nsname, subnet) = (ns.name.clone(), ns.subnet);
        ip(&[
            "-n", &nsname, "tuntap", "add", "dev", "estap1", "mode", "tap",
        ]);
        ip(&[
            "-n",
            &nsname,
            "addr",
            "add",
            &format!("10.99.{subnet}.1/24"),
            "dev",
            "estap1",
        ]);
        ip(&["-n", &nsname, "link", "set", "estap1", "up"]);
        ns.run(move || {
            let mut tap = Tap::open("estap1").unwrap();
            assert!(!tap.created());
            arp_roundtrip(&mut tap, subnet);
            // A second open of the same single-queue TAP is refused.
            let e = Tap::open("estap1").unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::ResourceBusy, "{e}");
            // An interface that is not a TAP.
            let e = Tap::open("lo").unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
        });
    }

    /// `capset(2)` data, version 3 (two 32-bit words per set).
    #[repr(C)]
    struct CapHeader {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct CapData {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }

    #[test]
    fn without_cap_net_admin_errors_say_what_to_run() {
        let ns = Netns::new();
        // Owned by another user: only its owner or CAP_NET_ADMIN may attach
        // (a TAP without an owner accepts anyone who can open /dev/net/tun).
        ip(&[
            "-n", &ns.name, "tuntap", "add", "dev", "estap2", "mode", "tap", "user", "65534",
        ]);
        ns.run(|| {
            // Drop every capability on this thread only (capset(2) acts on
            // the calling thread); still uid 0, so /dev/net/tun opens.
            let mut hdr = CapHeader {
                version: 0x2008_0522,
                pid: 0,
            };
            let data = [CapData {
                effective: 0,
                permitted: 0,
                inheritable: 0,
            }; 2];
            // SAFETY: both pointers are valid for the structures capset
            // reads (one header, two data elements for version 3).
            let rc = unsafe { libc::syscall(libc::SYS_capset, &mut hdr, data.as_ptr()) };
            assert_eq!(rc, 0, "capset: {}", io::Error::last_os_error());
            let e = Tap::open("estap9").unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
            assert!(
                e.to_string()
                    .contains("ip tuntap add dev estap9 mode tap user 0"),
                "{e}"
            );
            assert!(e.to_string().contains("ip link set estap9 up"), "{e}");
            let e = Tap::open("estap2").unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
            assert!(
                e.to_string().contains("ip tuntap del dev estap2 mode tap"),
                "{e}"
            );
        });
    }

    #[test]
    fn as_another_user_errors_say_what_to_run() {
        let ns = Netns::new();
        ns.run(|| {
            // Become nobody on this thread only (the raw syscall, unlike
            // libc's setresuid, does not touch other threads); leaving uid 0
            // clears the capabilities.
            // SAFETY: plain syscall with integer arguments.
            let rc = unsafe { libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) };
            assert_eq!(rc, 0, "setresuid: {}", io::Error::last_os_error());
            let e = Tap::open("estap9").unwrap_err();
            // NotFound if /dev/net/tun is world-accessible (the usual 0666),
            // PermissionDenied if only root may open it; both say what to run.
            assert!(
                matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
                ),
                "{e}"
            );
            assert!(
                e.to_string()
                    .contains("ip tuntap add dev estap9 mode tap user 65534"),
                "{e}"
            );
        });
    }
}
