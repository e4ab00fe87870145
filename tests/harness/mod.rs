//! Peer-test harness: one network namespace per test, with a TAP for the
//! device, real peers started inside it, and everything torn down on drop
//! (also after a failed assertion, since `Drop` runs while unwinding).
//!
//! Every wait is bounded in time; nothing leaves the namespace. Names carry
//! the process id and a counter, so tests run in parallel, and namespaces
//! left behind by a killed run are removed by the next one.
//!
//! A peer's stdout and stderr go to a log file of its own (in the system's
//! temporary directory, named after the namespace and the peer): when a test
//! fails, the namespace's drop prints the end of every peer's log, so a peer
//! that refused its configuration says why (a dnsmasq that read a broken
//! `/dev/null` as its configuration once failed tests as "pid never
//! appeared" with nothing else to go on). The logs are removed on drop.
#![allow(dead_code)] // each test binary uses a different part

pub mod peers;
pub mod tcp;

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);
const PREFIX: &str = "es";

/// Fails the test with a message saying what to install.
pub fn require_tool(tool: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` is not installed: apt-get install -y {package} (or run tests/run-all.sh, which installs every peer)"
    );
}

/// Fails unless running as root (namespaces and TAPs need it).
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "peer tests create network namespaces and need root; run them as root (CI does)"
    );
}

/// Runs a command with a time limit; returns its output.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Output {
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {desc}: {e}"));
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let out = child.wait_with_output().ok();
                panic!(
                    "{desc} did not finish within {limit:?}; stdout: {}",
                    out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                        .unwrap_or_default()
                );
            }
        }
    }
    child.wait_with_output().expect("collect output")
}

fn ip(args: &[&str]) -> Output {
    run_bounded(Command::new("ip").args(args), Duration::from_secs(10))
}

fn ip_ok(args: &[&str]) {
    let out = ip(args);
    assert!(
        out.status.success(),
        "ip {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Deletes namespaces of ours whose creating process is gone.
fn reap_stale() {
    let out = ip(&["netns", "list"]);
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let mut parts = name.split('-');
        if parts.next() != Some(PREFIX) {
            continue;
        }
        let _tag = parts.next();
        if let Some(pid) = parts.next().and_then(|p| p.parse::<u32>().ok()) {
            if pid != std::process::id() && !PathBuf::from(format!("/proc/{pid}")).exists() {
                let _ = ip(&["netns", "del", name]);
            }
        }
    }
}

/// A network namespace with a TAP (`tap0`) whose kernel side is `host_ip`/24.
pub struct Netns {
    pub name: String,
    /// The /24 this namespace uses: 10.A.B.0.
    pub net: [u8; 2],
    children: Vec<(String, Child)>,
    /// The peers' log files, one per [`Netns::spawn`], in start order.
    logs: Vec<(String, PathBuf)>,
}

/// Lines of a peer's log printed when a test fails.
const LOG_TAIL_LINES: usize = 30;

impl Netns {
    /// Makes `es-TAG-PID-N` with `tap0` up at 10.A.B.1/24.
    pub fn new(tag: &str) -> Netns {
        require_root();
        require_tool("ip", "iproute2");
        reap_stale();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let name = format!("{PREFIX}-{tag}-{pid}-{n}");
        // Namespaces isolate addresses anyway; distinct subnets just make
        // captures from parallel tests easy to tell apart.
        let h = pid
            .wrapping_mul(2654435761)
            .wrapping_add(n.wrapping_mul(40503));
        let net = [64 + (h % 128) as u8, (h >> 8) as u8];
        ip_ok(&["netns", "add", &name]);
        let ns = Netns {
            name,
            net,
            children: Vec::new(),
            logs: Vec::new(),
        };
        ip_ok(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ip_ok(&[
            "-n", &ns.name, "tuntap", "add", "dev", "tap0", "mode", "tap",
        ]);
        let cidr = format!("{}/24", ns.host_ip());
        ip_ok(&["-n", &ns.name, "addr", "add", &cidr, "dev", "tap0"]);
        ip_ok(&["-n", &ns.name, "link", "set", "tap0", "up"]);
        ns
    }

    /// The kernel's address on the TAP (10.A.B.1).
    pub fn host_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, self.net[0], self.net[1], 1)
    }

    /// The address tests give the device (10.A.B.2).
    pub fn device_ip(&self) -> Ipv4Addr {
        self.addr(2)
    }

    /// 10.A.B.`host`.
    pub fn addr(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, self.net[0], self.net[1], host)
    }

    /// A command that runs inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Runs `program args` in the namespace, bounded by `limit`.
    pub fn exec(&self, program: &str, args: &[&str], limit: Duration) -> Output {
        run_bounded(self.command(program).args(args), limit)
    }

    /// Starts a long-running peer; it is killed by PID on drop. Its
    /// stdout and stderr go to its log file ([`Netns::peer_log`]).
    pub fn spawn(&mut self, label: &str, program: &str, args: &[&str]) -> u32 {
        let n = self.logs.len();
        let path = std::env::temp_dir().join(format!("{}-peer{n}.log", self.name));
        let log = std::fs::File::create(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        let err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot share {}: {e}", path.display()));
        self.logs.push((label.to_string(), path));
        let child = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {label} ({program}): {e}"));
        let pid = child.id();
        self.children.push((label.to_string(), child));
        pid
    }

    /// What the peers started as `label` have written so far (stdout and
    /// stderr together), e.g. for an assertion's message.
    pub fn peer_log(&self, label: &str) -> String {
        self.logs
            .iter()
            .filter(|(l, _)| l == label)
            .map(|(_, p)| {
                String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned()
            })
            .collect()
    }

    /// Stops a peer started with [`Netns::spawn`] (by its PID) and waits
    /// for it; false when no such peer is running.
    pub fn kill(&mut self, pid: u32) -> bool {
        match self.children.iter().position(|(_, c)| c.id() == pid) {
            Some(i) => {
                let (_, mut child) = self.children.remove(i);
                let _ = child.kill();
                let _ = child.wait();
                true
            }
            None => false,
        }
    }

    /// Starts the reference device (`--tap tap0` plus `args`) in the namespace.
    pub fn spawn_device(&self, args: &[&str]) -> DeviceProc {
        self.spawn_example("device", args)
    }

    /// Starts the example `name` (`--tap tap0` plus `args`) in the namespace.
    pub fn spawn_example(&self, name: &str, args: &[&str]) -> DeviceProc {
        DeviceProc::start(self, &example_path(name), args)
    }

    /// Starts the reference device *firmware* under QEMU (`mps2-an385`, its
    /// LAN9118 on `tap0`) through `examples/firmware/run.sh`, which builds
    /// it first; `args` reach the firmware as on the host device. Its
    /// semihosting log is the process's stdout, so the [`DeviceProc`]
    /// methods work the same.
    pub fn spawn_firmware(&self, args: &[&str]) -> DeviceProc {
        require_tool("qemu-system-arm", "qemu-system-arm");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/firmware/run.sh");
        DeviceProc::start(self, &script, args)
    }

    /// Runs `f` on a thread that has joined this namespace, so sockets it
    /// opens live there: the test itself can be a peer.
    pub fn run_inside<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
            use std::os::fd::AsRawFd;
            // SAFETY: a valid namespace fd; only this thread changes namespace.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(
                rc,
                0,
                "setns into {path}: {}",
                std::io::Error::last_os_error()
            );
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }

    /// The kernel's neighbour entry for `addr`, e.g. `... lladdr 02:.. REACHABLE`.
    pub fn neighbour(&self, addr: Ipv4Addr) -> String {
        let out = ip(&["-n", &self.name, "neigh", "show", &addr.to_string()]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = ip(&["netns", "del", &self.name]);
        let failing = std::thread::panicking();
        for (label, path) in &self.logs {
            if failing {
                print_log_tail(&self.name, label, path);
            }
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Prints the last [`LOG_TAIL_LINES`] lines of a peer's log to stderr (the
/// test's captured output, shown with its failure).
fn print_log_tail(ns: &str, label: &str, path: &std::path::Path) {
    let text = String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return;
    }
    let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
    eprintln!(
        "--- {ns}: peer `{label}`, last {} of {} lines of its output ---",
        tail.len(),
        lines.len()
    );
    for l in tail {
        eprintln!("{l}");
    }
}

/// Path of a built example (`target/<profile>/examples/NAME`), next to the
/// test binary's `deps/` directory.
pub fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test exe path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let p = profile_dir.join("examples").join(name);
    assert!(
        p.is_file(),
        "{} is not built: run the tests with `cargo test` (it builds examples) or `cargo build --examples`",
        p.display()
    );
    p
}

/// The device as a child process, with its log lines collected.
pub struct DeviceProc {
    child: Option<Child>,
    lines: Arc<(Mutex<Vec<String>>, Condvar)>,
    /// Set (under the lines' lock) when its stdout closed: it exited.
    ended: Arc<std::sync::atomic::AtomicBool>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl DeviceProc {
    fn start(ns: &Netns, exe: &std::path::Path, args: &[&str]) -> DeviceProc {
        let mut cmd = ns.command(exe.to_str().expect("utf-8 path"));
        cmd.args(["--tap", "tap0"]).args(args);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start device: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let ended = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (sink, end) = (lines.clone(), ended.clone());
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let (m, cv) = &*sink;
                m.lock().expect("log lock").push(line);
                cv.notify_all();
            }
            let (m, cv) = &*sink;
            let _guard = m.lock().expect("log lock");
            end.store(true, Ordering::SeqCst);
            cv.notify_all();
        });
        DeviceProc {
            child: Some(child),
            lines,
            ended,
            reader: Some(reader),
        }
    }

    /// The device's process id (`ip netns exec` execs it: the same PID).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Waits until a log line contains `needle`; returns it. Panics with
    /// the whole log after `limit`.
    pub fn wait_for(&self, needle: &str, limit: Duration) -> String {
        self.wait_for_nth(needle, 1, limit)
    }

    /// Waits until `n` log lines contain `needle`; returns the n-th.
    pub fn wait_for_nth(&self, needle: &str, n: usize, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        let (m, cv) = &*self.lines;
        let mut lines = m.lock().expect("log lock");
        loop {
            if let Some(l) = lines.iter().filter(|l| l.contains(needle)).nth(n - 1) {
                return l.clone();
            }
            if self.ended.load(Ordering::SeqCst) {
                panic!(
                    "device exited before logging {n}× `{needle}`; log:\n{}",
                    lines.join("\n")
                );
            }
            let now = Instant::now();
            if now >= deadline {
                panic!(
                    "device never logged {n}× `{needle}` within {limit:?}; log:\n{}",
                    lines.join("\n")
                );
            }
            lines = cv.wait_timeout(lines, deadline - now).expect("log lock").0;
        }
    }

    /// All lines so far.
    pub fn log(&self) -> Vec<String> {
        self.lines.0.lock().expect("log lock").clone()
    }

    /// Lines containing `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.log().iter().filter(|l| l.contains(needle)).count()
    }

    /// True while the process runs (a firmware that panicked or faulted
    /// has ended QEMU).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Waits (bounded) for the process to exit by itself; returns its
    /// status and full log. Panics with the log after `limit`.
    pub fn wait_exit(mut self, limit: Duration) -> (Option<i32>, Vec<String>) {
        let deadline = Instant::now() + limit;
        let mut child = self.child.take().expect("device process");
        let status = loop {
            if let Ok(Some(st)) = child.try_wait() {
                break st.code();
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "device still running after {limit:?}; log:\n{}",
                    self.log().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        (status, self.log())
    }

    /// Stops the device with SIGTERM (as Ctrl-C would) and returns its
    /// exit status and full log; SIGKILL after 5 s.
    pub fn stop(mut self) -> (Option<i32>, Vec<String>) {
        let status = self.terminate();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        (status, self.log())
    }

    fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        // `ip netns exec` execs the program, so the PID is the device's.
        // SAFETY: sending a signal to our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(st)) = child.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for DeviceProc {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// The Python venv with the Python peers (aiosmtpd, dnslib, scapy);
/// tests/run-all.sh creates it.
pub const PY: &str = "/opt/peers/bin/python";

/// Fails unless [`PY`] can import `module`, saying how to install it.
pub fn require_python_module(module: &str) {
    let ok = std::path::Path::new(PY).is_file()
        && Command::new(PY)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{PY} with {module} is missing: python3 -m venv /opt/peers && /opt/peers/bin/pip install \
         {module} (or run tests/run-all.sh, which installs every peer)"
    );
}

/// A scratch directory for peer configuration, named after the namespace
/// and removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    /// Makes `$TMPDIR/<namespace name>`.
    pub fn new(ns: &Netns) -> Scratch {
        let dir = std::env::temp_dir().join(&ns.name);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    /// A path inside it.
    pub fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().expect("utf-8").to_owned()
    }

    /// A subdirectory, created.
    pub fn dir(&self, name: &str) -> String {
        let p = self.path(name);
        std::fs::create_dir_all(&p).expect("mkdir");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Pings the device from the namespace's kernel once per payload size in
/// `sizes` (1472 is the largest without fragmentation), each with its own
/// fill pattern, and checks each reply came back intact (iputils compares
/// the echoed data).
pub fn ping_sizes(ns: &Netns, sizes: &[usize]) {
    require_tool("ping", "iputils-ping");
    let target = ns.device_ip().to_string();
    for (i, size) in sizes.iter().enumerate() {
        let pattern = format!("{:02x}{:02x}", (i * 7) % 256, (i * 13 + 1) % 256);
        let out = ns.exec(
            "ping",
            &[
                "-c",
                "1",
                "-W",
                "2",
                "-s",
                &size.to_string(),
                "-p",
                &pattern,
                &target,
            ],
            Duration::from_secs(10),
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("1 received"),
            "ping -s {size} lost:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // iputils compares the echoed data with what it sent.
        assert!(
            !text.contains("wrong data"),
            "ping -s {size} payload corrupted:\n{text}"
        );
    }
}

/// A file of the web root the reference device serves (to compare bodies).
pub fn web_file(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("web")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
