//! The smallest web device: one page with live values, on a Linux TAP.
//!
//! ```sh
//! cargo run --example minimal -- --tap tap0    # as root; then open http://10.78.0.2/
//! ```
//!
//! `stack.toml` beside this file says what the device has and `web/` holds
//! its page; the build turns both into the stack, the page ROM and
//! `Services`, which owns the web server and routes its sockets. The
//! application fills the page's `{{tags}}` and supplies random numbers.
use emberstack::{http::TagOut, App, Config, Instant};
use std::{hash::BuildHasher, time::Duration};

mod site {
    emberstack::include_stack!("emberstack_minimal.rs");
}

/// The application: one method per `{{tag}}` (a missing or extra one is a
/// compile error naming the tag), and random numbers for TCP.
struct Page {
    started: std::time::Instant,
    hits: u64,
    draws: u64,
    keys: std::collections::hash_map::RandomState, // SipHash keyed by the OS
}

#[emberstack::http_var]
impl site::web::Handlers for Page {
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

impl App for Page {
    fn random_u32(&mut self) -> u32 {
        self.draws += 1;
        self.keys.hash_one(self.draws) as u32
    }
}

fn main() -> std::io::Result<()> {
    let name = std::env::args().nth(2).unwrap_or("tap0".into()); // --tap NAME
    let mut tap = emberstack::nic::tap::Tap::open(&name)?;
    if tap.created() {
        tap.set_link_up()?;
        tap.set_host_address([10, 78, 0, 1], 24)?; // stack.toml's gateway
    }
    let started = std::time::Instant::now();
    let (hits, draws, keys) = (0, 0, Default::default());
    let mut device = site::Services::new(Page {
        started,
        hits,
        draws,
        keys,
    });
    let mut stack = site::Stack::new();
    device
        .listen(&mut stack)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    println!("minimal: serving http://10.78.0.2/ on {name}");
    loop {
        let now = Instant::from_millis(started.elapsed().as_millis() as u64);
        while device.poll(now, &mut stack, &mut tap) {}
        let next = device
            .poll_at(&stack, now)
            .map_or(1000, |t| t.since(now).millis());
        tap.wait(Duration::from_millis(next))?;
    }
}
