//! A small web site for the HTTP targets: a static page with a gzip twin,
//! a form page whose tags show the fields received (so form input reaches
//! the handler and the response both), and an upload form.

use core::fmt::Write as _;
use emberstack::http::{
    Body, Escape, File, FormId, HttpApp, HttpSettings, Input, Representation, Site, Summed, TagId,
    TagOut, TagSlot,
};

const PLAIN: Summed = Summed::new(
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nETag: \"1\"\r\n",
);
const GZIP: Summed = Summed::new(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\nETag: \"2\"\r\n");
const DYN: Summed = Summed::new(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n");

/// `<p>{{0}}</p><pre>{{1}}</pre>`.
const FORM_TEXT: &[u8] = b"<p></p><pre></pre>";
static FORM_TAGS: [TagSlot; 2] = [
    TagSlot::new(3, TagId(0), Escape::Html),
    TagSlot::new(12, TagId(1), Escape::Html),
];
/// `{"n":"{{1}}"}`.
const JSON_TEXT: &[u8] = b"{\"n\":\"\"}";
static JSON_TAGS: [TagSlot; 1] = [TagSlot::new(6, TagId(1), Escape::Json)];

static FILES: [File; 4] = [
    File {
        path_at: 0,
        path_len: 1,
        body: Body::Static {
            plain: Representation {
                head: PLAIN,
                body: Summed::new(b"ok\n"),
            },
            gzip: Some(&Representation {
                head: GZIP,
                body: Summed::new(b"gz\n"),
            }),
        },
        form: File::NO_FORM,
    },
    File {
        path_at: 1,
        path_len: 10,
        body: Body::Dynamic {
            head: DYN,
            text: FORM_TEXT,
            tags: &FORM_TAGS,
        },
        form: 0,
    },
    File {
        path_at: 11,
        path_len: 7,
        body: Body::Dynamic {
            head: DYN,
            text: JSON_TEXT,
            tags: &JSON_TAGS,
        },
        form: File::NO_FORM,
    },
    File {
        path_at: 18,
        path_len: 12,
        body: Body::Dynamic {
            head: DYN,
            text: FORM_TEXT,
            tags: &FORM_TAGS,
        },
        form: 1,
    },
];

/// The site.
pub static SITE: Site = Site {
    files: &FILES,
    paths: "//form.html/s.json/upload.html",
    tags: "last count",
    forms: "form upload",
};

/// Small limits so the fuzzer reaches them.
pub static SETTINGS: HttpSettings = HttpSettings {
    port: 80,
    idle_timeout_ms: 2_000,
    request_timeout_ms: 1_000,
    max_request_line: 300,
    max_header_bytes: 600,
    max_body: 4_000,
    gzip: true,
    host_name: "fuzz",
};

/// Handlers that keep what the forms sent (bounded) and check the
/// server's promises: inputs come as Begin, parts, then End or Abort.
#[derive(Default)]
pub struct Handlers {
    last: String,
    count: u32,
    open: [bool; 2],
}

impl HttpApp for Handlers {
    fn tag(&mut self, tag: TagId, out: &mut TagOut<'_>) {
        match tag.0 {
            0 => out.write_str(&self.last),
            _ => {
                let _ = write!(out, "{}", self.count);
            }
        }
    }

    fn input(&mut self, form: FormId, input: Input<'_>) {
        let i = usize::from(form.0).min(1);
        match input {
            Input::Begin { .. } => {
                assert!(!self.open[i], "Begin twice without End/Abort");
                self.open[i] = true;
                self.last.clear();
            }
            Input::End | Input::Abort => {
                assert!(self.open[i], "End/Abort without Begin");
                self.open[i] = false;
            }
            Input::Field { name, value } => {
                assert!(self.open[i], "a field outside a request");
                self.count = self.count.wrapping_add(1);
                if self.last.len() < 200 {
                    self.last.push_str(name);
                    self.last.push('=');
                    self.last.push_str(value);
                }
            }
            Input::PartStart { name, .. } => {
                assert!(self.open[i], "a part outside a request");
                if self.last.len() < 200 {
                    self.last.push_str(name);
                }
            }
            Input::PartData(d) => {
                assert!(self.open[i], "part data outside a request");
                self.count = self.count.wrapping_add(d.len() as u32);
            }
            Input::PartEnd => assert!(self.open[i], "a part end outside a request"),
        }
    }
}
