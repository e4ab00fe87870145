//! The smallest web device: one page with live values, on a Linux TAP.
//!
//! ```sh
//! cargo run --example minimal -- --tap tap0    # as root; then open http://10.78.0.2/
//! ```
//!
//! `stack.toml` beside this file says what the device has, `web/` holds its
//! page, and the build (the crate's `build.rs`) turns both into the stack
//! type and the page ROM. The handlers below fill the page's `{{tags}}`.
use emberstack::http::TagOut;
use emberstack::iface::PayloadSink;
use emberstack::nic::tap::Tap;
use emberstack::nic::Nic;
use emberstack::tcp::{TcpEvent, TcpHandle, TcpReader};
use emberstack::{App, Config, Instant};
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

mod site {
    emberstack::include_stack!("emberstack_minimal.rs");
}
use site::web;

/// What the page shows: one method per `{{tag}}` (a missing or extra one
/// is a compile error naming the tag).
struct Page {
    started: std::time::Instant,
    hits: u64,
}

#[emberstack::http_var]
impl web::Handlers for Page {
    fn name(&mut self, out: &mut TagOut<'_>) {
        out.write_str(<site::Device as Config>::DEVICE_NAME);
    }
    fn uptime(&mut self, out: &mut TagOut<'_>) {
        out.write_uint(self.started.elapsed().as_secs());
    }
    fn hits(&mut self, out: &mut TagOut<'_>) {
        self.hits += 1;
        out.write_uint(self.hits);
    }
}

/// The application as the stack sees it: the web server owns every TCP
/// socket, and random numbers come from the OS (SipHash keyed by std).
struct Device {
    http: web::HttpServer,
    page: Page,
    random: std::collections::hash_map::RandomState,
    count: u64,
}

impl App for Device {
    fn random_u32(&mut self) -> u32 {
        self.count += 1;
        let mut h = self.random.build_hasher();
        h.write_u64(self.count);
        h.finish() as u32
    }
    fn tcp_event(&mut self, s: TcpHandle, e: TcpEvent) {
        self.http.tcp_event(s, e, &mut self.page)
    }
    fn tcp_received<N: Nic>(&mut self, s: TcpHandle, data: &mut TcpReader<'_, N>) -> usize {
        self.http.tcp_received(s, data, &mut self.page)
    }
    fn tcp_produce(&mut self, s: TcpHandle, at: u32, max: usize, sink: &mut dyn PayloadSink) {
        self.http.tcp_produce(s, at, max, sink, &mut self.page)
    }
    fn tcp_wants_close(&mut self, s: TcpHandle) -> bool {
        self.http.tcp_wants_close(s)
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let name = args
        .iter()
        .skip_while(|a| *a != "--tap")
        .nth(1)
        .map_or("tap0", |s| s);
    let mut tap = Tap::open(name)?;
    if tap.created() {
        tap.set_link_up()?;
        tap.set_host_address([10, 78, 0, 1], 24)?; // stack.toml's gateway
    }
    let mut stack = site::Stack::new();
    let mut dev = Device {
        http: web::server(),
        page: Page {
            started: std::time::Instant::now(),
            hits: 0,
        },
        random: Default::default(),
        count: 0,
    };
    dev.http
        .listen(&mut stack)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    println!("minimal: serving http://10.78.0.2/ on {name}");
    let boot = std::time::Instant::now();
    loop {
        let now = Instant::from_millis(boot.elapsed().as_millis() as u64);
        while stack.poll(now, &mut tap, &mut dev) {}
        dev.http.poll(now, &mut stack, &mut tap, &mut dev.page);
        let next = [stack.poll_at(now), dev.http.poll_at()]
            .into_iter()
            .flatten()
            .min();
        let wait = next.map_or(1_000, |t| t.since(now).millis());
        tap.wait(Duration::from_millis(wait))?;
    }
}
