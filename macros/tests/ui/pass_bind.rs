// A complete binding: one handler per tag and form (any order), the log
// hook overridden; the dispatch reaches each.
use core::fmt::Write as _;
use emberstack::http::{FormId, HttpApp, HttpEvent, Input, TagId, TagOut};

mod site {
    include!("site_gen.rs");
}
use site::web;

#[derive(Default)]
struct App {
    uptime: u32,
    fields: usize,
    events: usize,
}

#[emberstack::http_var]
impl web::Handlers for App {
    fn uptime(&mut self, out: &mut TagOut<'_>) {
        let _ = write!(out, "{}", self.uptime);
    }
    fn device_name(&mut self, out: &mut TagOut<'_>) {
        out.write_str("<SITE>");
    }
    fn frames(&mut self, out: &mut emberstack::http::TagOut<'_>) {
        out.write_str("7");
    }
    fn message(&mut self, _out: &mut TagOut<'_>) {}
    fn settings(&mut self, input: Input<'_>) {
        if let Input::Field { .. } = input {
            self.fields += 1;
        }
    }
    fn http_event(&mut self, _event: HttpEvent<'_>) {
        self.events += 1;
    }
}

fn main() {
    let mut app = App { uptime: 42, ..App::default() };
    let mut buf = [0u8; 32];
    // Tags are numbered by name: device_name, frames, message, uptime.
    let names: Vec<_> = (0..4).map(|i| web::SITE.tag_name(TagId(i))).collect();
    assert_eq!(names, [Some("device_name"), Some("frames"), Some("message"), Some("uptime")]);
    let mut out = emberstack::http::TagOut::new(&mut buf, emberstack::http::Escape::Html);
    app.tag(TagId(3), &mut out);
    assert_eq!(out.as_bytes(), b"42");
    app.input(FormId(0), Input::Field { name: "a", value: "b" });
    assert_eq!(app.fields, 1);
    app.event(HttpEvent::TagTruncated { tag: TagId(0) });
    assert_eq!(app.events, 1);
    let _server: web::HttpServer = web::server();
}
