//! The reference device's web UI: the handlers for the dynamic tags and
//! forms of `web/` (bound at compile time with `#[http_var]`), and the
//! state they show and change.
//!
//! The tag handlers run inside the stack's callbacks, where the stack
//! itself is borrowed; they read a [`Status`] snapshot the device takes
//! before each poll, and settings changes are handed back as an
//! [`Apply`] that the device carries out after the poll.

use crate::generated::web as site;
use crate::tcp_services::crc32_update;
use crate::text::{self, Sink, Text};
use crate::Log;
use emberstack::config::StaticIpv4;
use emberstack::dhcp::{DhcpState, Lease};
use emberstack::http::{HttpEvent, Input, Method, TagOut};
use emberstack::iface::Counters;
use emberstack::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};
use emberstack::Instant;

/// What the pages show, copied from the stack before each poll.
#[derive(Clone, Copy, Debug)]
pub struct Status {
    /// The device clock.
    pub now: Instant,
    /// Our MAC address.
    pub mac: EthernetAddress,
    /// The address in use.
    pub ipv4: Option<StaticIpv4>,
    /// The DHCP client's state (`None` when it is not built in).
    pub dhcp: Option<DhcpState>,
    /// The lease, while one is held.
    pub lease: Option<Lease>,
    /// Unix time from SNTP, once known.
    pub unix_time: Option<i64>,
    /// Frame counters.
    pub counters: Counters,
}

/// A settings change for the device to carry out after the poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Apply {
    /// DHCP on (the static address is then only the fallback).
    pub dhcp: bool,
    /// The static settings, when DHCP is off (`None`: keep the current
    /// address).
    pub ipv4: Option<StaticIpv4>,
}

/// The settings form as it is being submitted.
#[derive(Clone, Debug, Default)]
struct SettingsForm {
    name: Text<32>,
    dhcp: bool,
    address: Text<24>,
    gateway: Text<24>,
    post: bool,
}

/// The last upload.
#[derive(Clone, Debug, Default)]
struct Upload {
    name: Text<48>,
    content_type: Text<48>,
    size: u64,
    crc: u32,
    /// A file part is being received.
    active: bool,
    /// At least one upload completed.
    done: bool,
}

/// Everything the web UI keeps between requests.
#[derive(Clone, Debug)]
pub struct WebState {
    /// The snapshot the tags show.
    pub status: Status,
    /// The device name shown (changeable from the settings page).
    name: Text<15>,
    /// The static settings offered in the form.
    static_ipv4: Option<StaticIpv4>,
    /// When the current lease was granted (device clock).
    lease_since: Option<Instant>,
    form: SettingsForm,
    message: Text<96>,
    message_ok: bool,
    upload: Upload,
    /// A settings change to carry out (taken by the device).
    pub apply: Option<Apply>,
    /// The "send status email" button was pressed (taken by the device).
    pub mail_requested: bool,
    mail_message: Text<96>,
    /// Responses sent.
    responses: u32,
    /// The diagnostics tag's counter (a new value on every call).
    seq: u32,
}

impl WebState {
    /// The initial state: `name` from the configuration.
    pub fn new(name: &str, mac: EthernetAddress, static_ipv4: Option<StaticIpv4>) -> Self {
        let mut n = Text::default();
        n.set(name);
        WebState {
            status: Status {
                now: Instant::from_millis(0),
                mac,
                ipv4: None,
                dhcp: None,
                lease: None,
                unix_time: None,
                counters: Counters::default(),
            },
            name: n,
            static_ipv4,
            lease_since: None,
            form: SettingsForm::default(),
            message: Text::default(),
            message_ok: true,
            upload: Upload::default(),
            apply: None,
            mail_requested: false,
            mail_message: Text::default(),
            responses: 0,
            seq: 0,
        }
    }

    /// The device name shown on the pages.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// A lease was granted or renewed now.
    pub fn lease_granted(&mut self) {
        self.lease_since = Some(self.status.now);
    }

    /// The outcome of the "send status email" request, for its page.
    pub fn set_mail_message(&mut self, text: &str) {
        self.mail_message.set(text);
    }

    fn lease_left(&self) -> Option<u64> {
        let lease = self.status.lease?;
        if lease.is_infinite() {
            return None;
        }
        let since = self.lease_since?;
        let gone = self.status.now.since(since).secs();
        Some(u64::from(lease.lease_secs).saturating_sub(gone))
    }

    /// Checks a submitted settings form; on success queues an [`Apply`].
    fn settings_done(&mut self) {
        let f = self.form.clone();
        // ASCII trimming: every accepted value is ASCII anyway, and `trim`
        // would link Unicode's whitespace table (about 0.65 KB of flash).
        let name = f.name.as_str().trim_ascii();
        // The stack's rules: NetBIOS, DHCP and mDNS carry it.
        if emberstack::iface::name::DeviceName::new(name).is_err() {
            self.fail(
                "The name must be 1 to 15 letters, digits, - or _, not starting or ending with -.",
            );
            return;
        }
        let mut ipv4 = None;
        if !f.dhcp {
            let addr = f.address.as_str().trim_ascii();
            let gw = f.gateway.as_str().trim_ascii();
            if !addr.is_empty() {
                let Some(cidr) = parse_cidr(addr) else {
                    self.fail("The address must look like 10.0.0.2/24.");
                    return;
                };
                let gateway = if gw.is_empty() {
                    None
                } else {
                    match parse_ip(gw) {
                        Some(g) if cidr.contains(g) && g != cidr.address => Some(g),
                        _ => {
                            self.fail("The gateway must be another address in the same subnet.");
                            return;
                        }
                    }
                };
                let dns = self.static_ipv4.and_then(|s| s.dns);
                ipv4 = Some(StaticIpv4 { cidr, gateway, dns });
                self.static_ipv4 = ipv4;
            }
        }
        self.name.set(name);
        self.apply = Some(Apply { dhcp: f.dhcp, ipv4 });
        self.message.clear();
        for part in [
            "Saved: name ",
            name,
            match (f.dhcp, ipv4) {
                (true, _) => ", address from DHCP.",
                (false, Some(_)) => ", static address.",
                (false, None) => ", DHCP off, address kept.",
            },
        ] {
            self.message.put(part);
        }
        self.message_ok = true;
    }

    fn fail(&mut self, why: &str) {
        self.message.set(why);
        self.message_ok = false;
    }
}

fn parse_ip(s: &str) -> Option<Ipv4Address> {
    let mut o = [0u8; 4];
    let mut parts = s.split('.');
    for b in o.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        *b = p.parse().ok()?;
    }
    parts.next().is_none().then_some(Ipv4Address(o))
}

fn parse_cidr(s: &str) -> Option<Ipv4Cidr> {
    let (a, p) = s.split_once('/')?;
    let prefix: u8 = p.parse().ok().filter(|p| (1..=30).contains(p))?;
    let addr = parse_ip(a)?;
    let cidr = Ipv4Cidr::new(addr, prefix);
    let host = addr != Ipv4Address([0; 4])
        && addr.0[0] != 127
        && addr.0[0] < 224
        && addr != cidr.broadcast()
        && u32::from_be_bytes(addr.0) & cidr.netmask_u32() != u32::from_be_bytes(addr.0);
    host.then_some(cidr)
}

/// An address or `none`.
fn opt_ipv4(out: &mut TagOut<'_>, a: Option<Ipv4Address>) {
    match a {
        Some(a) => text::whole(out, |l| l.ipv4(a)),
        None => out.write_str("none"),
    }
}

fn dhcp_name(s: Option<DhcpState>) -> &'static str {
    match s {
        None => "not built in",
        Some(DhcpState::Off) => "off",
        Some(DhcpState::Discovering) => "discovering",
        Some(DhcpState::Requesting) => "requesting",
        Some(DhcpState::Bound) => "bound",
        Some(DhcpState::Renewing) => "renewing",
        Some(DhcpState::Rebinding) => "rebinding",
        Some(DhcpState::Rebooting) => "rebooting",
        Some(DhcpState::Probing) => "probing",
    }
}

/// The handlers, with the state and the log for one callback.
pub struct Web<'a, L: Log> {
    /// The web UI state.
    pub state: &'a mut WebState,
    /// The device log.
    pub log: &'a mut L,
}

#[emberstack::http_var]
impl<L: Log> site::Handlers for Web<'_, L> {
    fn device_name(&mut self, out: &mut TagOut<'_>) {
        out.write_str(self.state.name.as_str());
    }

    fn mac(&mut self, out: &mut TagOut<'_>) {
        let m = self.state.status.mac;
        text::whole(out, |l| l.mac(m));
    }

    fn ip(&mut self, out: &mut TagOut<'_>) {
        match self.state.status.ipv4 {
            Some(c) => text::whole(out, |l| l.cidr(c.cidr)),
            None => out.write_str("none"),
        }
    }

    fn gateway(&mut self, out: &mut TagOut<'_>) {
        opt_ipv4(out, self.state.status.ipv4.and_then(|c| c.gateway));
    }

    fn dns(&mut self, out: &mut TagOut<'_>) {
        opt_ipv4(out, self.state.status.ipv4.and_then(|c| c.dns));
    }

    fn dhcp(&mut self, out: &mut TagOut<'_>) {
        let name = dhcp_name(self.state.status.dhcp);
        match self.state.status.lease {
            Some(l) => text::whole(out, |o| {
                o.put(name);
                o.put(" (server ");
                o.ipv4(l.server);
                o.put(")");
            }),
            None => out.put(name),
        }
    }

    fn lease(&mut self, out: &mut TagOut<'_>) {
        match (self.state.status.lease, self.state.lease_left()) {
            (Some(l), Some(left)) => text::whole(out, |o| {
                o.dec(left, 0);
                o.put(" s left of ");
                o.dec(l.lease_secs.into(), 0);
                o.put(" s");
            }),
            (Some(_), None) => out.write_str("infinite"),
            (None, _) => out.write_str("none (static address)"),
        }
    }

    fn uptime(&mut self, out: &mut TagOut<'_>) {
        let secs = self.state.status.now.since(Instant::ZERO).secs();
        text::whole(out, |l| l.duration(secs));
    }

    fn uptime_secs(&mut self, out: &mut TagOut<'_>) {
        text::dec(out, self.state.status.now.since(Instant::ZERO).secs());
    }

    fn time(&mut self, out: &mut TagOut<'_>) {
        match self.state.status.unix_time {
            Some(t) => text::whole(out, |l| l.utc(t)),
            None => out.write_str("not synchronised"),
        }
    }

    fn frames_in(&mut self, out: &mut TagOut<'_>) {
        text::dec(out, self.state.status.counters.frames_in.into());
    }

    fn frames_out(&mut self, out: &mut TagOut<'_>) {
        text::dec(out, self.state.status.counters.frames_out.into());
    }

    fn dropped(&mut self, out: &mut TagOut<'_>) {
        text::dec(out, self.state.status.counters.dropped_total().into());
    }

    fn tx_errors(&mut self, out: &mut TagOut<'_>) {
        text::dec(out, self.state.status.counters.tx_errors.into());
    }

    fn echo_replies(&mut self, out: &mut TagOut<'_>) {
        text::dec(out, self.state.status.counters.echo_replies.into());
    }

    fn http_responses(&mut self, out: &mut TagOut<'_>) {
        text::dec(out, self.state.responses.into());
    }

    fn settings_message(&mut self, out: &mut TagOut<'_>) {
        out.write_str(self.state.message.as_str());
    }

    fn settings_class(&mut self, out: &mut TagOut<'_>) {
        out.write_str(if self.state.message_ok { "ok" } else { "error" });
    }

    fn dhcp_checked(&mut self, out: &mut TagOut<'_>) {
        let on = !matches!(self.state.status.dhcp, None | Some(DhcpState::Off));
        out.write_str(if on { "checked" } else { "" });
    }

    fn static_address(&mut self, out: &mut TagOut<'_>) {
        if let Some(s) = self.state.static_ipv4 {
            text::whole(out, |l| l.cidr(s.cidr));
        }
    }

    fn static_gateway(&mut self, out: &mut TagOut<'_>) {
        if let Some(g) = self.state.static_ipv4.and_then(|s| s.gateway) {
            text::whole(out, |l| l.ipv4(g));
        }
    }

    fn upload_name(&mut self, out: &mut TagOut<'_>) {
        let u = &self.state.upload;
        out.write_str(if u.done { u.name.as_str() } else { "none yet" });
    }

    fn upload_type(&mut self, out: &mut TagOut<'_>) {
        let u = &self.state.upload;
        out.write_str(if u.done { u.content_type.as_str() } else { "-" });
    }

    fn upload_size(&mut self, out: &mut TagOut<'_>) {
        let size = self.state.upload.size;
        if self.state.upload.done {
            text::whole(out, |l| {
                l.dec(size, 0);
                l.put(" bytes");
            });
        } else {
            out.write_str("-");
        }
    }

    fn upload_crc(&mut self, out: &mut TagOut<'_>) {
        if self.state.upload.done {
            let crc = self.state.upload.crc;
            text::whole(out, |l| l.hex(crc, 8));
        } else {
            out.write_str("-");
        }
    }

    fn mail_message(&mut self, out: &mut TagOut<'_>) {
        out.write_str(self.state.mail_message.as_str());
    }

    fn seq(&mut self, out: &mut TagOut<'_>) {
        // Wide enough that the 48 slots never fit the connection buffer
        // at once: the page is always streamed (chunked), tag by tag.
        self.state.seq = self.state.seq.wrapping_add(1);
        let seq = self.state.seq;
        text::whole(out, |l| l.dec(seq.into(), 8));
    }

    fn settings(&mut self, input: Input<'_>) {
        let s = &mut *self.state;
        match input {
            Input::Begin { method } => {
                s.form = SettingsForm {
                    post: method == Method::Post,
                    ..SettingsForm::default()
                };
            }
            Input::Field { name, value } => match name {
                "name" => s.form.name.set(value),
                "dhcp" => s.form.dhcp = true,
                "address" => s.form.address.set(value),
                "gateway" => s.form.gateway.set(value),
                _ => {}
            },
            Input::End if s.form.post => {
                s.settings_done();
                self.log
                    .line(format_args!("web: settings: {}", s.message.as_str()));
            }
            _ => {}
        }
    }

    fn upload(&mut self, input: Input<'_>) {
        let u = &mut self.state.upload;
        match input {
            Input::PartStart {
                name: "file",
                filename,
                content_type,
            } => {
                u.name.set(filename.unwrap_or("(no name)"));
                u.content_type.set(content_type.unwrap_or("unknown"));
                u.size = 0;
                u.crc = 0;
                u.active = true;
            }
            Input::PartData(d) if u.active => {
                u.crc = crc32_update(u.crc, d);
                u.size += d.len() as u64;
            }
            Input::PartEnd if u.active => {
                u.active = false;
                u.done = true;
                self.log.line(format_args!(
                    "web: upload {} {} bytes crc32={:08x}",
                    u.name.as_str(),
                    u.size,
                    u.crc
                ));
            }
            Input::Abort => u.active = false,
            _ => {}
        }
    }

    fn mail(&mut self, input: Input<'_>) {
        if let Input::End = input {
            self.state.mail_requested = true;
            self.state.mail_message.set("Status email requested.");
        }
    }

    fn http_event(&mut self, event: HttpEvent<'_>) {
        match event {
            HttpEvent::Response {
                socket,
                method,
                path,
                status,
                gzip,
            } => {
                self.state.responses = self.state.responses.wrapping_add(1);
                self.log.line(format_args!(
                    "http: {} {path} {status}{} ({socket})",
                    method.map_or("-", Method::as_str),
                    if gzip { " gzip" } else { "" }
                ));
            }
            HttpEvent::TagTruncated { tag } => {
                let name = site::SITE.tag_name(tag).unwrap_or("?");
                self.log.line(format_args!("http: tag {name} cut to fit"));
            }
            HttpEvent::Reset { socket, reason } => {
                self.log
                    .line(format_args!("http: reset {socket} ({})", reason.name()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use emberstack::dhcp::Lease;
    use emberstack::http::{Escape, TagId};
    use std::string::String;

    struct NoLog;
    impl Log for NoLog {
        fn line(&mut self, _: core::fmt::Arguments<'_>) {}
    }

    /// Renders one tag as the server does (JSON-escaped, as in
    /// `/status.json`, or HTML as in `/`).
    fn render(state: &mut WebState, escape: Escape, tag: &str) -> String {
        let mut buf = [0u8; 200];
        let mut out = TagOut::new(&mut buf, escape);
        let mut web = Web {
            state,
            log: &mut NoLog,
        };
        let id = (0..64)
            .map(TagId)
            .find(|&t| site::SITE.tag_name(t) == Some(tag))
            .unwrap();
        emberstack::http::HttpApp::tag(&mut web, id, &mut out);
        assert!(!out.is_truncated());
        String::from_utf8(out.as_bytes().to_vec()).unwrap()
    }

    /// A device with every value the pages show set: 3 d 04:05:06 up,
    /// a DHCP lease granted 100 s ago, a synchronised clock.
    fn device() -> WebState {
        let cidr = Ipv4Cidr::new(Ipv4Address([192, 168, 10, 200]), 24);
        let mut w = WebState::new(
            "ember-1",
            EthernetAddress([0x02, 0, 0xab, 0x0c, 0xd0, 0xff]),
            None,
        );
        w.status.now = Instant::from_secs(3 * 86_400 + 4 * 3600 + 5 * 60 + 6 - 100);
        w.lease_granted();
        w.status.now = Instant::from_millis((3 * 86_400 + 4 * 3600 + 5 * 60 + 6) * 1000 + 999);
        w.status.ipv4 = Some(StaticIpv4 {
            cidr,
            gateway: Some(Ipv4Address([192, 168, 10, 1])),
            dns: Some(Ipv4Address([8, 8, 4, 4])),
        });
        w.status.dhcp = Some(DhcpState::Bound);
        w.status.lease = Some(Lease {
            cidr,
            router: None,
            dns: None,
            ntp: None,
            server: Ipv4Address([192, 168, 10, 1]),
            lease_secs: 86_400,
            renew_secs: 43_200,
            rebind_secs: 75_600,
        });
        w.status.unix_time = Some(1_795_295_575);
        w.status.counters.frames_in = 4_294_967_295;
        w.status.counters.frames_out = 1_000_000;
        w.status.counters.tx_errors = 65_535;
        w.status.counters.echo_replies = 7;
        w.responses = 10;
        w
    }

    /// The values of `/status.json` and `/`, byte for byte: the
    /// formatters behind them are rewritten for speed, the text is not.
    #[test]
    fn status_tags_render_fixed_values() {
        let cases: [(&str, &str, &str); 16] = [
            ("device_name", "ember-1", "ember-1"),
            ("mac", "02:00:ab:0c:d0:ff", "02:00:ab:0c:d0:ff"),
            ("ip", "192.168.10.200/24", "192.168.10.200/24"),
            ("gateway", "192.168.10.1", "192.168.10.1"),
            ("dns", "8.8.4.4", "8.8.4.4"),
            (
                "dhcp",
                "bound (server 192.168.10.1)",
                "bound (server 192.168.10.1)",
            ),
            (
                "lease",
                "86300 s left of 86400 s",
                "86300 s left of 86400 s",
            ),
            ("uptime", "3 d 04:05:06", "3 d 04:05:06"),
            ("uptime_secs", "273906", "273906"),
            ("time", "2026-11-21 21:12:55 UTC", "2026-11-21 21:12:55 UTC"),
            ("frames_in", "4294967295", "4294967295"),
            ("frames_out", "1000000", "1000000"),
            ("dropped", "0", "0"),
            ("tx_errors", "65535", "65535"),
            ("echo_replies", "7", "7"),
            ("http_responses", "10", "10"),
        ];
        let mut w = device();
        for (tag, json, html) in cases {
            assert_eq!(render(&mut w, Escape::Json, tag), json);
            assert_eq!(render(&mut w, Escape::Html, tag), html);
        }
        // Before the first lease, DHCP and SNTP, and at start.
        let mut w = WebState::new("d", EthernetAddress([0; 6]), None);
        let cases: [(&str, &str); 8] = [
            ("ip", "none"),
            ("gateway", "none"),
            ("dns", "none"),
            ("dhcp", "not built in"),
            ("lease", "none (static address)"),
            ("uptime", "00:00:00"),
            ("uptime_secs", "0"),
            ("time", "not synchronised"),
        ];
        for (tag, want) in cases {
            assert_eq!(render(&mut w, Escape::Json, tag), want);
        }
        w.status.dhcp = Some(DhcpState::Discovering);
        assert_eq!(render(&mut w, Escape::Json, "dhcp"), "discovering");
    }

    /// The other pages' values: the upload, the settings form, the
    /// diagnostics counter.
    #[test]
    fn form_tags_render_fixed_values() {
        let mut w = device();
        assert_eq!(render(&mut w, Escape::Html, "upload_size"), "-");
        assert_eq!(render(&mut w, Escape::Html, "upload_crc"), "-");
        w.upload.done = true;
        w.upload.size = 5_000_000_000;
        w.upload.crc = 0xcbf4_3926;
        assert_eq!(
            render(&mut w, Escape::Html, "upload_size"),
            "5000000000 bytes"
        );
        assert_eq!(render(&mut w, Escape::Html, "upload_crc"), "cbf43926");
        w.static_ipv4 = Some(StaticIpv4 {
            cidr: Ipv4Cidr::new(Ipv4Address([10, 0, 0, 2]), 8),
            gateway: Some(Ipv4Address([10, 0, 0, 1])),
            dns: None,
        });
        assert_eq!(render(&mut w, Escape::Html, "static_address"), "10.0.0.2/8");
        assert_eq!(render(&mut w, Escape::Html, "static_gateway"), "10.0.0.1");
        assert_eq!(render(&mut w, Escape::Html, "seq"), "00000001");
        w.seq = 123_456_788;
        assert_eq!(render(&mut w, Escape::Html, "seq"), "123456789");
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_cidr("10.0.0.2/24").map(|c| c.prefix_len), Some(24));
        assert!(parse_cidr("10.0.0.0/24").is_none());
        assert!(parse_cidr("10.0.0.255/24").is_none());
        assert!(parse_cidr("10.0.0.2").is_none());
        assert!(parse_cidr("300.0.0.2/24").is_none());
        assert!(parse_ip("1.2.3").is_none());
    }
}
