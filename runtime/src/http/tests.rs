//! The server driven directly (no stack): requests in as byte slices cut
//! anywhere, responses pulled by offset as TCP would, with resends.

use super::*;
use crate::tcp::{TcpEvent, TcpHandle};
use crate::Instant;
use core::fmt::Write as _;
use proptest::prelude::*;

const FILLER: &[u8] = b"........10........20........30........40....48\n";

/// 40 lines of `FILLER`, each followed by tag 1.
const fn big_text() -> [u8; 40 * FILLER.len()] {
    let mut t = [0u8; 40 * FILLER.len()];
    let mut i = 0;
    while i < t.len() {
        t[i] = FILLER[i % FILLER.len()];
        i += 1;
    }
    t
}
const fn big_tags() -> [TagSlot; 40] {
    let mut s = [TagSlot::new(0, TagId(1), Escape::Raw); 40];
    let mut i = 0;
    while i < 40 {
        s[i] = TagSlot::new(((i + 1) * FILLER.len()) as u16, TagId(1), Escape::Raw);
        i += 1;
    }
    s
}
static BIG_TEXT: [u8; 40 * FILLER.len()] = big_text();
static BIG: [TagSlot; 40] = big_tags();

/// `<p>{{0}}</p><i>{{1}}</i>\n`.
const PAGE_TEXT: &[u8] = b"<p></p><i></i>\n";
static PAGE: [TagSlot; 2] = [
    TagSlot::new(3, TagId(0), Escape::Html),
    TagSlot::new(10, TagId(1), Escape::Html),
];

const PLAIN: Representation = Representation {
    head: Summed::new(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 12\r\nETag: \"1111111111111111\"\r\nCache-Control: no-cache\r\nVary: Accept-Encoding\r\n"),
    body: Summed::new(b"hello world\n"),
};
const GZIP: Representation = Representation {
    head: Summed::new(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 2\r\nContent-Encoding: gzip\r\nETag: \"2222222222222222\"\r\nCache-Control: no-cache\r\nVary: Accept-Encoding\r\n"),
    body: Summed::new(b"GZ"),
};
const DYN_HEAD: Summed = Summed::new(
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n",
);

static FILES: [File; 5] = [
    File {
        path_at: 0,
        path_len: 1,
        body: Body::Static {
            plain: PLAIN,
            gzip: Some(&GZIP),
        },
        form: File::NO_FORM,
    },
    File {
        path_at: 1,
        path_len: 8,
        body: Body::Dynamic {
            head: DYN_HEAD,
            text: &BIG_TEXT,
            tags: &BIG,
        },
        form: File::NO_FORM,
    },
    File {
        path_at: 9,
        path_len: 10,
        body: Body::Dynamic {
            head: DYN_HEAD,
            text: PAGE_TEXT,
            tags: &PAGE,
        },
        form: 0,
    },
    File {
        path_at: 19,
        path_len: 11,
        body: Body::Static {
            plain: PLAIN,
            gzip: Some(&GZIP),
        },
        form: File::NO_FORM,
    },
    File {
        path_at: 30,
        path_len: 10,
        body: Body::Dynamic {
            head: DYN_HEAD,
            text: PAGE_TEXT,
            tags: &PAGE,
        },
        form: File::NO_FORM,
    },
];

static SITE: Site = Site {
    files: &FILES,
    paths: "//big.txt/form.html/index.html/page.html",
    tags: "name count",
    forms: "form",
};

static SETTINGS: HttpSettings = HttpSettings {
    port: 80,
    idle_timeout_ms: 5_000,
    request_timeout_ms: 3_000,
    max_request_line: 200,
    max_header_bytes: 400,
    max_body: 10_000,
    gzip: true,
    host_name: "dev",
};

#[derive(Default)]
struct TestApp {
    name: String,
    count: u32,
    inputs: Vec<String>,
    events: Vec<String>,
}

impl HttpApp for TestApp {
    fn tag(&mut self, tag: TagId, out: &mut TagOut<'_>) {
        match tag.0 {
            0 => out.write_str(&self.name),
            _ => {
                self.count += 1;
                let pad = "x".repeat((self.count % 5) as usize);
                let _ = write!(out, "n={};{pad}", self.count);
            }
        }
    }
    fn input(&mut self, form: FormId, input: Input<'_>) {
        assert_eq!(form, FormId(0));
        self.inputs.push(match input {
            Input::PartData(d) => format!("data:{}", String::from_utf8_lossy(d)),
            other => format!("{other:?}"),
        });
    }
    fn event(&mut self, event: HttpEvent<'_>) {
        if let HttpEvent::Response {
            method,
            path,
            status,
            gzip,
            ..
        } = event
        {
            self.events.push(format!(
                "{} {path} {status}{}",
                method.map_or("?", Method::as_str),
                if gzip { " gzip" } else { "" }
            ));
        }
    }
}

struct Vsink(Vec<u8>);
impl crate::iface::PayloadSink for Vsink {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    fn write_from_rx(&mut self, _: usize, _: usize) {
        panic!("the server never streams from a received frame")
    }
}

const H: TcpHandle = TcpHandle::from_index(3);

struct T<F: HttpFeatures = AllFeatures> {
    srv: Box<HttpServer<2, 96, F>>,
    app: TestApp,
    /// Stream offset produced so far.
    sent: u32,
}

impl T {
    fn new() -> T {
        T::built()
    }
}

impl<F: HttpFeatures> T<F> {
    /// A connected server built with features `F`.
    fn built() -> T<F> {
        let mut srv = Box::new(HttpServer::<2, 96, F>::new(&SITE, &SETTINGS));
        srv.adopt(0, H);
        let mut t = T {
            srv,
            app: TestApp {
                name: "Ember <1>".into(),
                ..TestApp::default()
            },
            sent: 0,
        };
        t.event(TcpEvent::Connected {
            remote: crate::udp::Endpoint::new(crate::wire::Ipv4Address([10, 0, 0, 1]), 5000),
        });
        t
    }

    fn event(&mut self, e: TcpEvent) {
        self.srv.tcp_event(H, e, &mut self.app);
    }

    /// Feeds bytes; returns how many were taken.
    fn send(&mut self, bytes: &[u8]) -> usize {
        let mut b = bytes;
        self.srv.tcp_received(H, &mut b, &mut self.app)
    }

    fn produce(&mut self, offset: u32, max: usize) -> Vec<u8> {
        let mut sink = Vsink(Vec::new());
        self.srv
            .tcp_produce(H, offset, max, &mut sink, &mut self.app);
        assert!(sink.0.len() <= max);
        sink.0
    }

    /// Pulls everything available in `seg`-byte segments, acknowledging
    /// each.
    fn pull(&mut self, seg: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = self.produce(self.sent, seg);
            if b.is_empty() {
                return out;
            }
            self.sent += b.len() as u32;
            out.extend_from_slice(&b);
            self.event(TcpEvent::Acked { offset: self.sent });
        }
    }

    fn wants_close(&mut self) -> bool {
        self.srv.tcp_wants_close(H)
    }

    /// One request, all of it taken, whole response.
    fn get(&mut self, req: &str) -> String {
        assert_eq!(self.send(req.as_bytes()), req.len(), "request taken whole");
        String::from_utf8(self.pull(1460)).unwrap()
    }
}

/// Head and body of a response.
fn split(resp: &str) -> (&str, &str) {
    let i = resp.find("\r\n\r\n").expect("a head") + 4;
    (&resp[..i], &resp[i..])
}

/// A chunked body decoded (panics on bad framing).
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("size line");
        let size = usize::from_str_radix(std::str::from_utf8(&body[..line_end]).unwrap(), 16)
            .expect("hex size");
        body = &body[line_end + 2..];
        if size == 0 {
            assert_eq!(body, b"\r\n", "chunked body ends with the last chunk");
            return out;
        }
        assert!(size > 0);
        out.extend_from_slice(&body[..size]);
        assert_eq!(&body[size..size + 2], b"\r\n");
        body = &body[size + 2..];
    }
}

#[test]
fn static_get_keep_alive_then_head() {
    let mut t = T::new();
    let r = t.get("GET /index.html HTTP/1.1\r\nHost: dev\r\n\r\n");
    assert_eq!(
        r,
        format!(
            "{}\r\nhello world\n",
            std::str::from_utf8(PLAIN.head.bytes).unwrap()
        )
    );
    assert!(!t.wants_close());
    let r = t.get("HEAD / HTTP/1.1\r\nHost: dev\r\n\r\n");
    assert!(r.ends_with("Vary: Accept-Encoding\r\n\r\n"), "{r}");
    assert!(r.contains("Content-Length: 12"));
    assert_eq!(t.app.events, ["GET /index.html 200", "HEAD / 200"]);
}

#[test]
fn gzip_and_conditional_requests() {
    let mut t = T::new();
    let r = t.get("GET / HTTP/1.1\r\nHost: dev\r\nAccept-Encoding: deflate, gzip;q=0.5\r\n\r\n");
    assert!(
        r.contains("Content-Encoding: gzip") && r.ends_with("\r\n\r\nGZ"),
        "{r}"
    );
    let r = t.get("GET / HTTP/1.1\r\nHost: dev\r\nAccept-Encoding: gzip;q=0, *\r\n\r\n");
    assert!(r.ends_with("hello world\n"), "q=0 refuses gzip: {r}");
    let r = t.get(
        "GET / HTTP/1.1\r\nHost: dev\r\nIf-None-Match: \"zz\", W/\"1111111111111111\"\r\n\r\n",
    );
    assert_eq!(
        r,
        "HTTP/1.1 304 Not Modified\r\nETag: \"1111111111111111\"\r\nCache-Control: no-cache\r\nVary: Accept-Encoding\r\n\r\n"
    );
    // The gzip twin's tag does not match the plain representation.
    let r = t.get("GET / HTTP/1.1\r\nHost: dev\r\nIf-None-Match: \"2222222222222222\"\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let r = t.get(
        "GET / HTTP/1.1\r\nHost: dev\r\nIf-None-Match: \"2222222222222222\"\r\nAccept-Encoding: gzip\r\n\r\n",
    );
    assert!(
        r.starts_with("HTTP/1.1 304") && r.contains("ETag: \"2222222222222222\""),
        "{r}"
    );
    assert_eq!(t.app.events[0], "GET / 200 gzip");
}

#[test]
fn dynamic_page_with_exact_length_and_escaping() {
    let mut t = T::new();
    let r = t.get("GET /page.html HTTP/1.1\r\nHost: dev\r\n\r\n");
    let (head, body) = split(&r);
    assert_eq!(body, "<p>Ember &lt;1&gt;</p><i>n=1;x</i>\n");
    assert!(
        head.contains(&format!("Content-Length: {}\r\n", body.len())),
        "{head}"
    );
    assert!(head.contains("Cache-Control: no-store"));
    assert!(!t.wants_close());
    // HEAD does not run the handlers.
    let r = t.get("HEAD /page.html HTTP/1.1\r\nHost: dev\r\n\r\n");
    assert!(r.contains("Transfer-Encoding: chunked") && r.ends_with("\r\n\r\n"));
    assert_eq!(t.app.count, 1);
}

/// A measuring sink, as a FIFO NIC's first pass: takes what the producer
/// knows the sum of, and records every write.
#[derive(Default)]
struct Measuring {
    measured: Option<(usize, u16)>,
    written: Vec<u8>,
}
impl crate::iface::PayloadSink for Measuring {
    fn write(&mut self, bytes: &[u8]) {
        self.written.extend_from_slice(bytes);
    }
    fn write_from_rx(&mut self, _: usize, _: usize) {
        panic!("the server never streams from a received frame")
    }
    fn write_measured(&mut self, len: usize, sum: crate::wire::Checksum) -> bool {
        assert!(self.measured.is_none(), "one measured piece per pass");
        self.measured = Some((len, sum.fold()));
        true
    }
}

#[test]
fn a_dynamic_page_rendered_up_front_is_measured_without_a_walk() {
    // Names of every parity, so the head, the body and the whole response
    // are odd and even in turn; HTTP/1.0 adds a keep-alive line.
    for (name, version) in [("a", "1.1"), ("ab", "1.1"), ("abc", "1.0"), ("<é>", "1.0")] {
        let mut t = T::new();
        t.app.name = name.into();
        let req =
            format!("GET /page.html HTTP/{version}\r\nConnection: keep-alive\r\nHost: dev\r\n\r\n");
        assert_eq!(t.send(req.as_bytes()), req.len());
        let mut m = Measuring::default();
        t.srv.tcp_produce(H, 0, 1460, &mut m, &mut t.app);
        let whole = t.produce(0, 1460);
        let mut sum = crate::wire::Checksum::new();
        sum.add_bytes(&whole);
        assert_eq!(m.measured, Some((whole.len(), sum.fold())), "{name}");
        assert!(m.written.is_empty(), "nothing written besides");
        // A window short of the end, or not from the start, is walked.
        for (at, max) in [(0, whole.len() - 1), (1, 1460)] {
            let mut m = Measuring::default();
            t.srv.tcp_produce(H, at, max, &mut m, &mut t.app);
            assert_eq!(m.measured, None);
            assert_eq!(
                m.written,
                &whole[at as usize..][..max.min(whole.len() - at as usize)]
            );
        }
        assert_eq!(t.app.count, 1, "rendered once");
    }
    // A page whose tags do not all fit is chunked and never summed ahead.
    let mut t = T::new();
    let req = "GET /big.txt HTTP/1.1\r\nHost: dev\r\n\r\n";
    assert_eq!(t.send(req.as_bytes()), req.len());
    let mut m = Measuring::default();
    t.srv.tcp_produce(H, 0, 100_000, &mut m, &mut t.app);
    assert_eq!(m.measured, None);
    assert!(!m.written.is_empty());
}

#[test]
fn large_dynamic_page_is_chunked_and_each_tag_rendered_once() {
    let mut t = T::new();
    let r = t.get("GET /big.txt HTTP/1.1\r\nHost: dev\r\n\r\n");
    let (head, body) = split(&r);
    assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
    let text = String::from_utf8(dechunk(body.as_bytes())).unwrap();
    let mut expect = String::new();
    for i in 1..=40 {
        expect.push_str(std::str::from_utf8(FILLER).unwrap());
        // One handler call per slot, in order: the first try (journal
        // full) was not sent, so values may skip but never repeat.
        let _ = i;
    }
    let values: Vec<u32> = text
        .split(std::str::from_utf8(FILLER).unwrap())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_start_matches("n=")
                .split(';')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(values.len(), 40);
    assert!(values.windows(2).all(|w| w[0] < w[1]), "{values:?}");
    assert!(!t.wants_close());
}

#[test]
fn http10_large_dynamic_page_ends_with_close() {
    let mut t = T::new();
    let r = t.get("GET /big.txt HTTP/1.0\r\n\r\n");
    let (head, body) = split(&r);
    assert!(
        head.contains("Connection: close") && !head.contains("chunked"),
        "{head}"
    );
    assert_eq!(body.matches("n=").count(), 40);
    assert!(t.wants_close());
}

#[test]
fn http10_keep_alive_when_asked() {
    let mut t = T::new();
    let r = t.get("GET /page.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert!(r.contains("Connection: keep-alive\r\n") && r.contains("Content-Length:"));
    assert!(!t.wants_close());
    let r = t.get("GET / HTTP/1.0\r\n\r\n");
    assert!(r.contains("Connection: close\r\n"), "{r}");
    assert!(t.wants_close());
}

/// A connection whose last one ended (after a whole response, or in
/// the middle of a request) and connects again is answered as a
/// connection kept alive is (the page counts its renderings: a twin
/// server asked the same on one connection gives the same bytes):
/// `Connected` resets only a connection that was not freed, and every
/// end frees it whole.
#[test]
fn a_connection_after_one_ended_is_answered_as_new() {
    const REQ: &str = "GET /page.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    let connected = TcpEvent::Connected {
        remote: crate::udp::Endpoint::new(crate::wire::Ipv4Address([10, 0, 0, 2]), 5001),
    };
    for end in [TcpEvent::Closed, TcpEvent::Reset, TcpEvent::TimedOut] {
        let (mut t, mut twin) = (T::new(), T::new());
        assert_eq!(t.get(REQ), twin.get(REQ));
        t.event(end);
        t.event(connected);
        t.sent = 0;
        assert_eq!(t.get(REQ), twin.get(REQ), "after a response, then {end:?}");
        let half = b"POST /page.html HTTP/1.1\r\nHost: dev\r\nContent-Len";
        assert_eq!(t.send(half), half.len());
        t.event(end);
        t.event(connected);
        t.sent = 0;
        assert_eq!(
            t.get(REQ),
            twin.get(REQ),
            "after half a request, then {end:?}"
        );
        assert!(!t.wants_close());
    }
}

/// Resends of any range give the bytes first sent, although every
/// handler call returns a new value.
#[test]
fn resends_are_byte_identical() {
    let mut t = T::new();
    t.send(b"GET /big.txt HTTP/1.1\r\nHost: dev\r\n\r\n");
    let mut first: Vec<u8> = Vec::new();
    let mut acked = 0u32;
    let mut rng = 7u32;
    let mut next = || {
        rng = rng.wrapping_mul(1_103_515_245).wrapping_add(12345);
        rng >> 8
    };
    loop {
        // New data, in a segment of random size.
        let seg = 1 + (next() % 300) as usize;
        let mut b = t.produce(first.len() as u32, seg);
        if b.is_empty() {
            // Blocked on a full journal, or the end: acknowledge all.
            acked = first.len() as u32;
            t.event(TcpEvent::Acked { offset: acked });
            b = t.produce(first.len() as u32, seg);
            if b.is_empty() {
                break;
            }
        }
        first.extend_from_slice(&b);
        // Resend random ranges of what is in flight.
        for _ in 0..3 {
            let lo = acked as usize + (next() as usize % (first.len() - acked as usize + 1));
            let len = (next() as usize % 200).min(first.len() - lo);
            let again = t.produce(lo as u32, len);
            assert_eq!(again, first[lo..lo + len], "resend at {lo}");
        }
        // Acknowledge part of it.
        if next() % 2 == 0 {
            acked += (next() % (first.len() as u32 - acked + 1)).min(first.len() as u32 - acked);
            t.event(TcpEvent::Acked { offset: acked });
        }
    }
    let (_, body) = split(std::str::from_utf8(&first).unwrap());
    assert_eq!(
        dechunk(body.as_bytes()).len(),
        40 * FILLER.len() + body_tags(body)
    );
}

fn body_tags(body: &str) -> usize {
    let text = String::from_utf8(dechunk(body.as_bytes())).unwrap();
    text.len() - 40 * FILLER.len()
}

#[test]
fn errors() {
    let cases: &[(&str, u16, bool)] = &[
        ("GET /nope HTTP/1.1\r\nHost: dev\r\n\r\n", 404, false),
        ("POST / HTTP/1.1\r\nHost: dev\r\n\r\n", 405, false),
        ("PUT / HTTP/1.1\r\nHost: dev\r\n\r\n", 501, true),
        // Methods are case-sensitive and matched whole.
        ("get / HTTP/1.1\r\nHost: dev\r\n\r\n", 501, true),
        ("GETS / HTTP/1.1\r\nHost: dev\r\n\r\n", 501, true),
        ("HEA / HTTP/1.1\r\nHost: dev\r\n\r\n", 501, true),
        (" / HTTP/1.1\r\nHost: dev\r\n\r\n", 400, true),
        ("G(T / HTTP/1.1\r\nHost: dev\r\n\r\n", 400, true),
        ("GET / HTTP/1.1\r\n\r\n", 400, true),
        ("GET / HTTP/2.0\r\nHost: dev\r\n\r\n", 505, true),
        ("GET /\r\n\r\n", 400, true),
        ("GET / HTTP/1.1\r\nHost: dev\r\n folded\r\n\r\n", 400, true),
        ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, true),
        ("GET / HTTP/1.1\r\nHost: dev\r\nHost: y\r\n\r\n", 400, true),
        ("GET http://x/ HTTP/1.1\r\nHost: dev\r\n\r\n", 400, true),
        ("GET /%zz HTTP/1.1\r\nHost: dev\r\n\r\n", 400, true),
        ("POST /form.html HTTP/1.1\r\nHost: dev\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n\r\nx", 415, true),
        ("POST /form.html HTTP/1.1\r\nHost: dev\r\nContent-Length: 10001\r\n\r\n", 413, true),
        ("POST /form.html HTTP/1.1\r\nHost: dev\r\nTransfer-Encoding: chunked\r\n\r\n", 501, true),
        ("POST /form.html HTTP/1.1\r\nHost: dev\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400, true),
        ("GET / HTTP/1.1\r\nHost: dev\r\nExpect: 200-ok\r\n\r\n", 417, true),
        ("GET / HTTP/1.1\r\nHost: dev\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, true),
    ];
    for &(req, status, close) in cases {
        let mut t = T::new();
        let r = t.get(req);
        assert!(
            r.starts_with(&format!("HTTP/1.1 {status} ")),
            "{req:?} → {r}"
        );
        let (head, body) = split(&r);
        assert!(body.starts_with(&status.to_string()), "{body}");
        // The reason phrase is the body, and the status line is the same.
        assert!(head.starts_with(&format!("HTTP/1.1 {}\r\n", body.trim_end())));
        assert!(body.ends_with('\n') && !body.ends_with(" \n"));
        assert!(head.contains(&format!("Content-Length: {}\r\n", body.len())));
        assert_eq!(
            head.contains("Connection: close"),
            close,
            "{req:?} → {head}"
        );
        assert_eq!(t.wants_close(), close, "{req:?}");
        if status == 405 {
            assert!(head.contains("Allow: GET, HEAD\r\n"));
        }
    }
    // Whole responses, byte for byte: the line order of a status's head.
    for (req, want) in [
        (
            "GET /nope HTTP/1.1\r\nHost: dev\r\n\r\n",
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 14\r\n\r\n404 Not Found\n",
        ),
        (
            "POST / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 23\r\nAllow: GET, HEAD\r\nConnection: keep-alive\r\n\r\n405 Method Not Allowed\n",
        ),
        (
            "GET / HTTP/1.1\r\n\r\n",
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 16\r\nConnection: close\r\n\r\n400 Bad Request\n",
        ),
    ] {
        let mut t = T::new();
        assert_eq!(t.get(req), want, "{req:?}");
    }
    // Limits.
    let mut t = T::new();
    let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(300));
    assert!(t.get(&long).starts_with("HTTP/1.1 414 "));
    let mut t = T::new();
    let many = format!(
        "GET / HTTP/1.1\r\nHost: dev\r\nX-A: {}\r\n\r\n",
        "b".repeat(400)
    );
    assert!(t.get(&many).starts_with("HTTP/1.1 431 "));
    // A 404 log line keeps the start of the path.
    let mut t = T::new();
    t.get("GET /missing/page HTTP/1.1\r\nHost: dev\r\n\r\n");
    assert_eq!(t.app.events, ["GET /missing/page 404"]);
}

/// Header lines are judged byte by byte at any cut of the request: each
/// kind of bad byte, and the size limit to the byte.
#[test]
fn header_lines_are_judged_byte_by_byte_at_any_cut() {
    let head = |line: &str| format!("GET / HTTP/1.1\r\nHost: dev\r\n{line}\r\n\r\n");
    let cases = [
        (head("X-A: a\tb"), 200),
        (head("X-A: a:b"), 200),
        (head("X A: b"), 400),
        (head(": b"), 400),
        (head("X-A: a\u{1}b"), 400),
        (head("X-A: a\u{7f}b"), 400),
        (head("X-\u{e9}: b"), 400),
        // 11 (Host) + 7 + k + 2 header bytes; the limit is 400.
        (head(&format!("X-A: {}", "b".repeat(380))), 200),
        (head(&format!("X-A: {}", "b".repeat(381))), 431),
    ];
    for (req, status) in cases {
        for cut in [1, 2, 7, 64, req.len()] {
            let text = answer_in_pieces(&req, cut);
            assert!(
                text.starts_with(&format!("HTTP/1.1 {status} ")),
                "{req:?} cut {cut}: {text}"
            );
        }
    }
}

/// Every byte value inside a header value and a header name, at any
/// cut: a value takes visible ASCII, space, tab and obs-text (RFC 9110
/// §5.5) and refuses other control bytes and DEL; a name takes token
/// characters only. (CR and LF end the line; a colon ends the name.)
#[test]
fn every_byte_of_a_header_line_is_judged_by_the_rules() {
    for b in (0..=255u8).filter(|&b| b != b'\r' && b != b'\n') {
        let value_ok = b == b'\t' || b >= 0x20 && b != 0x7f;
        let mut req = b"GET / HTTP/1.1\r\nHost: dev\r\nX-A: a".to_vec();
        req.extend([b, b'b']);
        req.extend(b"\r\n\r\n");
        let name_ok = b == b':' || crate::http::request::is_tchar(b);
        let mut named = b"GET / HTTP/1.1\r\nHost: dev\r\nX".to_vec();
        named.extend([b, b'A']);
        named.extend(b": v\r\n\r\n");
        for (req, ok) in [(req, value_ok), (named, name_ok)] {
            let status = if ok { "200" } else { "400" };
            for cut in [1, 3, req.len()] {
                let mut t = T::new();
                let mut out = Vec::new();
                for chunk in req.chunks(cut) {
                    t.send(chunk);
                    out.extend(t.pull(1460));
                }
                let text = String::from_utf8_lossy(&out);
                assert!(
                    text.starts_with(&format!("HTTP/1.1 {status} ")),
                    "byte {b:#x} cut {cut}: {text}"
                );
            }
        }
    }
}

/// What a fresh connection answers to `req` sent `cut` bytes at a time.
fn answer_in_pieces(req: &str, cut: usize) -> String {
    let mut t = T::new();
    let mut out = Vec::new();
    for chunk in req.as_bytes().chunks(cut) {
        t.send(chunk);
        out.extend(t.pull(1460));
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The request line is judged to the byte at any cut: the length limit
/// (200 in these settings, CR LF included), escapes, the version.
#[test]
fn request_lines_are_judged_to_the_byte_at_any_cut() {
    let line =
        |path: &str, version: &str| format!("GET {path} HTTP/{version}\r\nHost: dev\r\n\r\n");
    let mut cases = vec![
        (line("/page.html", "1.1"), "200", 1),
        (line("/page%2ehtml", "1.0"), "200", 0),
        (line("/page.html?x=1", "1.1"), "200", 1),
        (line("/pa%zzge.html", "1.1"), "400", 1),
        (line("/page.html", "1.x"), "400", 1),
        (line("/page.html", "2.0"), "505", 1),
        (line("/p\u{e9}", "1.1"), "400", 1),
        (line("/a#b", "1.1"), "400", 1),
    ];
    // "GET /" + k + " HTTP/1.1\r\n" is 16 + k bytes.
    for (k, status) in [(183, "404"), (184, "404"), (185, "414")] {
        cases.push((line(&format!("/{}", "a".repeat(k)), "1.1"), status, 1));
    }
    // A bare LF ends the line too (one byte less), a CR must be followed
    // by LF, and the limit counts every byte whatever the state: the
    // method's, the query's, the version's.
    let bare = |target: &str, end: &str| format!("GET {target} HTTP/1.1{end}Host: dev\r\n\r\n");
    let method = |k: usize| format!("{} / HTTP/1.1\r\nHost: dev\r\n\r\n", "X".repeat(k));
    let (a185, a186) = ("a".repeat(185), "a".repeat(186));
    let (q174, q175) = ("q".repeat(174), "q".repeat(175));
    for (req, status) in [
        (bare("/page.html", "\n"), "200"),
        (bare("/page.html", "\rX"), "400"),
        (bare("/page.html", "\r\r\n"), "400"),
        (bare("/page.html", " \r\n"), "400"),
        (bare(&format!("/{a185}"), "\n"), "404"),
        (bare(&format!("/{a186}"), "\n"), "414"),
        (bare(&format!("/page.html?{q174}"), "\r\n"), "200"),
        (bare(&format!("/page.html?{q175}"), "\r\n"), "414"),
        (method(187), "501"),
        (method(188), "414"),
    ] {
        cases.push((req, status, 1));
    }
    for (req, status, minor) in cases {
        for cut in [1, 2, 3, 7, 64, req.len()] {
            let text = answer_in_pieces(&req, cut);
            assert!(
                text.starts_with(&format!("HTTP/1.1 {status} ")),
                "{req:?} cut {cut}: {text}"
            );
            if status == "200" {
                // HTTP/1.0 is answered with a keep-alive line when asked
                // (it is not here: the connection closes).
                assert_eq!(
                    text.contains("Connection: close"),
                    minor == 0,
                    "{req:?} cut {cut}"
                );
            }
        }
    }
}

#[test]
fn keep_alive_after_404_and_pipelining() {
    let mut t = T::new();
    let two =
        b"GET /nope HTTP/1.1\r\nHost: dev\r\n\r\nGET /index.html HTTP/1.1\r\nHost: dev\r\n\r\n";
    let first = two.iter().position(|&b| b == b'\n').unwrap();
    let taken = t.send(two);
    // The first request is taken; the second waits until the first
    // response is acknowledged (the peer sends it again).
    assert!(taken > first && taken < two.len(), "took {taken}");
    let r1 = String::from_utf8(t.pull(1460)).unwrap();
    assert!(r1.starts_with("HTTP/1.1 404"));
    assert_eq!(t.send(&two[taken..]), two.len() - taken);
    let r2 = String::from_utf8(t.pull(1460)).unwrap();
    assert!(r2.starts_with("HTTP/1.1 200") && r2.ends_with("hello world\n"));
}

#[test]
fn query_and_urlencoded_form() {
    let mut t = T::new();
    let r = t.get("GET /form.html?a=1&b=x+y%21 HTTP/1.1\r\nHost: dev\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 200"));
    assert_eq!(
        t.app.inputs,
        [
            "Begin { method: Get }",
            "Field { name: \"a\", value: \"1\" }",
            "Field { name: \"b\", value: \"x y!\" }",
            "End"
        ]
    );
    t.app.inputs.clear();
    let body = "name=Ember+Two&dhcp=on";
    let req = format!(
        "POST /form.html HTTP/1.1\r\nHost: dev\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // Cut anywhere.
    for (i, b) in req.as_bytes().chunks(3).enumerate() {
        assert_eq!(t.send(b), b.len(), "chunk {i}");
    }
    let r = String::from_utf8(t.pull(1460)).unwrap();
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert_eq!(
        t.app.inputs,
        [
            "Begin { method: Post }",
            "Field { name: \"name\", value: \"Ember Two\" }",
            "Field { name: \"dhcp\", value: \"on\" }",
            "End"
        ]
    );
}

#[test]
fn multipart_with_continue() {
    let mut t = T::new();
    let body = "--BB\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.bin\"\r\nContent-Type: application/octet-stream\r\n\r\nabc\r\ndef\r\n--BB--\r\n";
    let head = format!(
        "POST /form.html HTTP/1.1\r\nHost: dev\r\nExpect: 100-continue\r\nContent-Type: multipart/form-data; boundary=\"BB\"\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    assert_eq!(t.send(head.as_bytes()), head.len());
    let cont = String::from_utf8(t.pull(1460)).unwrap();
    assert_eq!(cont, "HTTP/1.1 100 Continue\r\n\r\n");
    for b in body.as_bytes().chunks(5) {
        assert_eq!(t.send(b), b.len());
    }
    let r = String::from_utf8(t.pull(1460)).unwrap();
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let data: String = t
        .app
        .inputs
        .iter()
        .filter_map(|i| i.strip_prefix("data:"))
        .collect();
    assert_eq!(data, "abc\r\ndef");
    assert_eq!(t.app.inputs[1], "PartStart { name: \"f\", filename: Some(\"x.bin\"), content_type: Some(\"application/octet-stream\") }");
    assert_eq!(t.app.inputs.last().unwrap(), "End");
    assert!(t.app.inputs.contains(&"PartEnd".to_string()));
}

#[test]
fn bad_multipart_aborts_the_form() {
    let mut t = T::new();
    let body = "--BB\r\nContent-Disposition: form-data\r\n\r\nabc\r\n--BB--\r\n";
    let req = format!(
        "POST /form.html HTTP/1.1\r\nHost: dev\r\nContent-Type: multipart/form-data; boundary=BB\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let r = t.get(&req);
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    assert_eq!(t.app.inputs, ["Begin { method: Post }", "Abort"]);
    assert!(t.wants_close());
}

#[test]
fn timeouts() {
    let mut t = T::new();
    // A head that never ends: the stack-less test runs the timer logic
    // through `poll_at` and the deadline only (no socket to reset).
    t.send(b"GET / HTTP/1.1\r\nHost: dev\r\n");
    let at = t.srv.poll_at().unwrap();
    assert_eq!(at.millis(), 3_000, "request timeout");
    t.srv.set_now(Instant::from_millis(1_000));
    assert_eq!(t.srv.poll_at().unwrap().millis(), 3_000);
}

#[test]
fn peer_close_mid_request_aborts() {
    let mut t = T::new();
    t.send(b"GET /form.html?a=1 HTTP/1.1\r\nHo");
    t.event(TcpEvent::PeerClosed);
    let r = String::from_utf8(t.pull(1460)).unwrap();
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    assert!(t.wants_close());
    assert_eq!(t.app.inputs.last().unwrap(), "Abort");
}

/// Random request lines and headers, cut at random places.
fn request_strategy() -> impl Strategy<Value = Vec<u8>> {
    let method = prop::sample::select(vec!["GET", "HEAD", "POST", "PUT", "G E", ""]);
    let path = prop::sample::select(vec![
        "/",
        "/index.html",
        "/form.html?a=%41&b",
        "/big.txt",
        "/page.html",
        "/%",
        "x",
        "/form.html?%zz=+",
    ]);
    let version = prop::sample::select(vec!["HTTP/1.1", "HTTP/1.0", "HTTP/9.9", "HTP/1.1", ""]);
    let header = prop::sample::select(vec![
        "Host: x",
        "Host: dev",
        "Host: 10.0.0.2:8080",
        "Origin: http://evil.example",
        "Origin: http://dev",
        "Referer: http://dev.local/form.html",
        "Connection: close",
        "Connection: keep-alive",
        "Accept-Encoding: gzip",
        "If-None-Match: *",
        "Content-Length: 5",
        "Content-Length: 99999999999",
        "Content-Type: multipart/form-data; boundary=zz",
        "Content-Type: application/x-www-form-urlencoded",
        "Expect: 100-continue",
        "Transfer-Encoding: chunked",
        " folded",
        ":",
        "X:\u{1}",
    ]);
    (
        method,
        path,
        version,
        prop::collection::vec(header, 0..6),
        prop::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(m, p, v, hs, tail)| {
            let mut r = format!("{m} {p} {v}\r\n").into_bytes();
            for h in hs {
                r.extend_from_slice(h.as_bytes());
                r.extend_from_slice(b"\r\n");
            }
            r.extend_from_slice(b"\r\n");
            r.extend_from_slice(&tail);
            r
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Random bytes never panic and never make the server produce a
    /// response that is not framed by a status line.
    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..600), cut in 1usize..64) {
        let mut t = T::new();
        for chunk in data.chunks(cut) {
            t.send(chunk);
            let out = t.pull(97);
            if !out.is_empty() {
                prop_assert!(out.starts_with(b"HTTP/1.1 "));
            }
        }
    }

    /// Random requests, cut anywhere, never panic; every answer starts
    /// with a status line; the same request cut differently gets the same
    /// answer.
    #[test]
    fn random_requests(req in request_strategy(), cut in 1usize..40, seg in 1usize..200) {
        let answer = |cut: usize, seg: usize| {
            let mut t = T::new();
            let mut out = Vec::new();
            for chunk in req.chunks(cut) {
                let mut rest = chunk;
                // What is not taken is offered again later, as TCP would.
                for _ in 0..4 {
                    let n = t.send(rest);
                    out.extend(t.pull(seg));
                    rest = &rest[n..];
                    if rest.is_empty() { break; }
                }
            }
            out.extend(t.pull(seg));
            (out, t.app.count)
        };
        let (a, _) = answer(cut, seg);
        let (b, _) = answer(req.len().max(1), 1460);
        if !a.is_empty() {
            prop_assert!(a.starts_with(b"HTTP/1.1 "));
        }
        // Counters differ between runs only in tag values; compare heads.
        let head = |v: &[u8]| v.windows(4).position(|w| w == b"\r\n\r\n").map(|i| v[..i].to_vec());
        prop_assert_eq!(head(&a), head(&b));
    }
}

/// The device's diagnostics page shape: 48 slots of text + an 8-digit tag.
const SEQ_FIRST: &[u8] = b"Render diagnostics: every {{seq}} slot below is one call.\n";
const SEQ_SLOT: &[u8] = b"\nslot .................................................... ";
const fn seq_text() -> [u8; SEQ_FIRST.len() + 48 * SEQ_SLOT.len()] {
    let mut t = [0u8; SEQ_FIRST.len() + 48 * SEQ_SLOT.len()];
    let mut i = 0;
    while i < t.len() {
        t[i] = if i < SEQ_FIRST.len() {
            SEQ_FIRST[i]
        } else {
            SEQ_SLOT[(i - SEQ_FIRST.len()) % SEQ_SLOT.len()]
        };
        i += 1;
    }
    t
}
const fn seq_tags() -> [TagSlot; 48] {
    let mut s = [TagSlot::new(0, TagId(1), Escape::Raw); 48];
    let mut i = 0;
    while i < 48 {
        let at = SEQ_FIRST.len() + (i + 1) * SEQ_SLOT.len();
        s[i] = TagSlot::new(at as u16, TagId(1), Escape::Raw);
        i += 1;
    }
    s
}
static SEQ_TEXT: [u8; SEQ_FIRST.len() + 48 * SEQ_SLOT.len()] = seq_text();
static SEQ: [TagSlot; 48] = seq_tags();
static SEQ_FILES: [File; 1] = [File {
    path_at: 0,
    path_len: 8,
    body: Body::Dynamic {
        head: DYN_HEAD,
        text: &SEQ_TEXT,
        tags: &SEQ,
    },
    form: File::NO_FORM,
}];
static SEQ_SITE: Site = Site {
    files: &SEQ_FILES,
    paths: "/seq.txt",
    tags: "name count",
    forms: "",
};

struct Wide(u32);
impl HttpApp for Wide {
    fn tag(&mut self, _: TagId, out: &mut TagOut<'_>) {
        self.0 += 1;
        let _ = write!(out, "{:08}", self.0);
    }
}

/// As TCP does with one segment in flight: probe, send, lose, resend,
/// acknowledge, probe the next offset — repeatedly.
#[test]
fn resend_then_ack_keeps_the_stream_going() {
    let mut srv = Box::new(HttpServer::<1, 192>::new(&SEQ_SITE, &SETTINGS));
    srv.adopt(0, H);
    let mut app = Wide(0);
    srv.tcp_event(
        H,
        TcpEvent::Connected {
            remote: crate::udp::Endpoint::new(crate::wire::Ipv4Address([10, 0, 0, 1]), 5000),
        },
        &mut app,
    );
    let mut req: &[u8] = b"GET /seq.txt HTTP/1.1\r\nHost: dev\r\n\r\n";
    srv.tcp_received(H, &mut req, &mut app);
    let produce = |srv: &mut HttpServer<1, 192>, app: &mut Wide, off: u32, max: usize| {
        let mut sink = Vsink(Vec::new());
        srv.tcp_produce(H, off, max, &mut sink, app);
        sink.0
    };
    let mut off = 0u32;
    let mut all = Vec::new();
    for round in 0..20 {
        let probe = produce(&mut srv, &mut app, off, 1);
        if probe.is_empty() {
            break;
        }
        let seg = produce(&mut srv, &mut app, off, 1460);
        if round % 2 == 0 {
            // Lost: resent whole.
            assert_eq!(produce(&mut srv, &mut app, off, seg.len()), seg);
        }
        off += seg.len() as u32;
        all.extend_from_slice(&seg);
        srv.tcp_event(H, TcpEvent::Acked { offset: off }, &mut app);
    }
    let text = String::from_utf8(all).unwrap();
    let (_, body) = split(&text);
    let body = String::from_utf8(dechunk(body.as_bytes())).unwrap();
    assert_eq!(body.matches("slot").count(), 48 + 1, "{body}");
}

#[test]
fn move_down_is_copy_within_towards_the_front() {
    for (len, from, to, n) in [
        (10, 3, 0, 7),
        (10, 5, 4, 5),
        (10, 2, 2, 8),
        (8, 0, 0, 8),
        (6, 6, 0, 0),
    ] {
        let orig: Vec<u8> = (0..len).collect();
        let mut want = orig.clone();
        want.copy_within(from..from + n, to);
        let mut got = orig.clone();
        move_down(&mut got, from..from + n, to);
        assert_eq!(got, want, "{len} {from} {to} {n}");
    }
    // Out of range moves what exists and never panics.
    let mut b = *b"abcdef";
    move_down(&mut b, 4..9, 0);
    assert_eq!(&b, b"efcdef");
}

#[test]
fn a_contended_slow_reader_no_longer_extends_its_deadline() {
    let mut t = T::new();
    let idle = u64::from(SETTINGS.idle_timeout_ms);
    t.send(b"GET /big.txt HTTP/1.1\r\nHost: dev\r\n\r\n");
    // A reader that acknowledges a few bytes at a time: each ACK of new
    // data moves the response's deadline on, for as long as it likes.
    let read = |t: &mut T, at: u64| {
        t.srv.set_now(Instant::from_millis(at));
        let b = t.produce(t.sent, 4);
        t.sent += b.len() as u32;
        t.event(TcpEvent::Acked { offset: t.sent });
    };
    read(&mut t, 1_000);
    assert_eq!(u64::from(t.srv.poll_at().unwrap().millis()), 1_000 + idle);
    read(&mut t, 2_000);
    assert_eq!(u64::from(t.srv.poll_at().unwrap().millis()), 2_000 + idle);
    // Another client waits: from now on `idle_timeout` bounds the rest of
    // the response however the reader goes on, and it ends the connection
    // after it (FIN) instead of keeping it alive.
    t.event(TcpEvent::Contended);
    for at in [3_000, 4_000, 5_000] {
        read(&mut t, at);
        assert_eq!(u64::from(t.srv.poll_at().unwrap().millis()), 2_000 + idle);
    }
    t.pull(1460);
    assert!(
        t.wants_close(),
        "a contended connection closes after its response"
    );
}

#[test]
fn a_contended_idle_keep_alive_connection_closes_at_once() {
    let mut t = T::new();
    let fresh = t.srv.poll_at();
    // Fresh (its first request on its way): it stays open for it.
    t.event(TcpEvent::Contended);
    assert!(!t.wants_close());
    assert_eq!(t.srv.poll_at(), fresh);
    let resp = t.get("GET /index.html HTTP/1.1\r\nHost: dev\r\n\r\n");
    assert!(resp.starts_with("HTTP/1.1 200 OK"), "{resp}");
    // ...and closes after that response.
    assert!(t.wants_close());
    // A served, idle connection closes at once when contended.
    let mut t = T::new();
    t.get("GET /index.html HTTP/1.1\r\nHost: dev\r\n\r\n");
    assert!(!t.wants_close());
    t.event(TcpEvent::Contended);
    assert!(t.wants_close());
}

/// A form POST with `headers` (each ending in CR LF) and body `a=1`.
fn post_with(headers: &str) -> String {
    format!(
        "POST /form.html HTTP/1.1\r\n{headers}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\na=1"
    )
}

#[test]
fn host_must_name_the_device() {
    for (host, status) in [
        ("Host: dev\r\n", 200),
        ("Host: DEV.Local:80\r\n", 200),
        ("Host: 10.1.2.3\r\n", 200),
        ("Host: 10.1.2.3:8080\r\n", 200),
        ("Host: evil.example\r\n", 403),
        ("Host: dev.evil.example\r\n", 403),
        ("Host: 10.1.2.300\r\n", 403),
        ("Host: 10.1.2.3:0\r\n", 403),
        ("Host: 10.1.2.3:99999\r\n", 403),
        ("Host: [::1]\r\n", 403),
    ] {
        let mut t = T::new();
        let r = t.get(&format!("GET /index.html HTTP/1.1\r\n{host}\r\n"));
        assert!(
            r.starts_with(&format!("HTTP/1.1 {status}")),
            "{host:?}: {r}"
        );
    }
    // HTTP/1.0 without Host (no browser sends that).
    let mut t = T::new();
    assert!(t
        .get("GET /index.html HTTP/1.0\r\n\r\n")
        .starts_with("HTTP/1.1 200"));
}

#[test]
fn a_post_from_another_site_is_refused_and_aborts_the_form() {
    for (headers, status) in [
        ("Host: dev\r\n", 200),
        ("Host: dev\r\nOrigin: http://dev\r\n", 200),
        ("Host: dev:80\r\nOrigin: http://DEV\r\n", 200),
        ("Host: 10.0.0.2\r\nOrigin: http://10.0.0.2\r\n", 200),
        (
            "Host: dev.local\r\nReferer: http://dev.local/form.html?x=1\r\n",
            200,
        ),
        ("Origin: http://10.0.0.2\r\n", 403), // 1.1 without Host: 400 first
        ("Host: dev\r\nOrigin: http://evil.example\r\n", 403),
        ("Host: dev\r\nOrigin: null\r\n", 403),
        ("Host: dev\r\nOrigin: https://dev\r\n", 403),
        ("Host: dev\r\nOrigin: http://dev.local\r\n", 403),
        ("Host: dev\r\nOrigin: http://dev:8080\r\n", 403),
        ("Host: 10.0.0.2\r\nOrigin: http://10.0.0.3\r\n", 403),
        ("Host: dev\r\nReferer: http://evil.example/dev\r\n", 403),
        // Origin decides; a Referer does not override it.
        (
            "Host: dev\r\nOrigin: http://evil.example\r\nReferer: http://dev/\r\n",
            403,
        ),
    ] {
        let mut t = T::new();
        let r = t.get(&post_with(headers));
        let want = if headers.starts_with("Origin") {
            400
        } else {
            status
        };
        assert!(
            r.starts_with(&format!("HTTP/1.1 {want}")),
            "{headers:?}: {r}"
        );
        let last = t.app.inputs.last().map(String::as_str);
        if want == 200 {
            assert_eq!(last, Some("End"), "{headers:?}");
        } else {
            assert_eq!(last, Some("Abort"), "{headers:?}: {:?}", t.app.inputs);
        }
    }
}

#[test]
fn concurrent_requests_to_one_form_never_interleave() {
    const H2: TcpHandle = TcpHandle::from_index(4);
    let mut t = T::new();
    t.srv.adopt(1, H2);
    t.srv.tcp_event(
        H2,
        TcpEvent::Connected {
            remote: crate::udp::Endpoint::new(crate::wire::Ipv4Address([10, 0, 0, 9]), 5001),
        },
        &mut t.app,
    );
    // The first POST is half way through its body...
    let first = post_with("Host: dev\r\n");
    let (head, rest) = first.split_at(first.len() - 2);
    assert_eq!(t.send(head.as_bytes()), head.len());
    // ... when a second one for the same form arrives: 503, no input.
    let second = post_with("Host: dev\r\n").replace("a=1", "b=2");
    let mut b = second.as_bytes();
    assert_eq!(t.srv.tcp_received(H2, &mut b, &mut t.app), second.len());
    let mut sink = Vsink(Vec::new());
    t.srv.tcp_produce(H2, 0, 1460, &mut sink, &mut t.app);
    let r2 = String::from_utf8(sink.0).unwrap();
    assert!(r2.starts_with("HTTP/1.1 503"), "{r2}");
    assert_eq!(t.send(rest.as_bytes()), rest.len());
    let r = String::from_utf8(t.pull(1460)).unwrap();
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert_eq!(
        t.app.inputs,
        [
            "Begin { method: Post }",
            "Field { name: \"a\", value: \"1\" }",
            "End"
        ]
    );
    // The form is free again, for the first connection's next request
    // too (its own earlier request does not hold it).
    let third = post_with("Host: dev\r\n").replace("a=1", "c=3");
    assert!(t.get(&third).starts_with("HTTP/1.1 200"));
    assert_eq!(t.app.inputs.len(), 6, "{:?}", t.app.inputs);
}

/// Features for tests: every one on except the bits of `OFF` (see the
/// constants below).
struct Without<const OFF: u8>;

const NO_MULTIPART: u8 = 1 << 0;
const NO_URLENCODED: u8 = 1 << 1;
const NO_KEEP_ALIVE: u8 = 1 << 2;
const NO_GZIP: u8 = 1 << 3;
const NO_CONTINUE: u8 = 1 << 4;
const NO_ETAG: u8 = 1 << 5;
const NO_CHUNKED: u8 = 1 << 6;

impl<const OFF: u8> HttpFeatures for Without<OFF> {
    const MULTIPART: bool = OFF & NO_MULTIPART == 0;
    const URLENCODED: bool = OFF & NO_URLENCODED == 0;
    const KEEP_ALIVE: bool = OFF & NO_KEEP_ALIVE == 0;
    const GZIP: bool = OFF & NO_GZIP == 0;
    const CONTINUE: bool = OFF & NO_CONTINUE == 0;
    const ETAG: bool = OFF & NO_ETAG == 0;
    const CHUNKED: bool = OFF & NO_CHUNKED == 0;
}

const ALL_OFF: u8 = 0x7f;

/// The upload of [`multipart_post`] reached the form's handler whole.
fn assert_upload_taken(inputs: &[String]) {
    assert!(inputs.contains(&"data:abc".to_string()), "{inputs:?}");
    assert_eq!(inputs.last().unwrap(), "End");
}

/// A multipart upload of one small file to `/form.html`.
fn multipart_post(expect: &str) -> String {
    let body = "--BB\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.bin\"\r\n\r\nabc\r\n--BB--\r\n";
    format!(
        "POST /form.html HTTP/1.1\r\nHost: dev\r\n{expect}Content-Type: multipart/form-data; boundary=BB\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// An urlencoded form POST to `/form.html`.
fn urlencoded_post() -> String {
    let body = "name=Ember+Two";
    format!(
        "POST /form.html HTTP/1.1\r\nHost: dev\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn multipart_off_answers_415_and_urlencoded_still_works() {
    let mut t = T::<Without<NO_MULTIPART>>::built();
    let r = t.get(&multipart_post(""));
    assert!(r.starts_with("HTTP/1.1 415 "), "{r}");
    assert!(r.contains("Connection: close\r\n"), "{r}");
    assert!(t.wants_close());
    assert_eq!(t.app.inputs, ["Begin { method: Post }", "Abort"]);

    let mut t = T::<Without<NO_MULTIPART>>::built();
    let r = t.get(&urlencoded_post());
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert_eq!(
        t.app.inputs,
        [
            "Begin { method: Post }",
            "Field { name: \"name\", value: \"Ember Two\" }",
            "End"
        ]
    );
}

#[test]
fn urlencoded_off_ignores_queries_and_answers_415_to_form_bodies() {
    let mut t = T::<Without<NO_URLENCODED>>::built();
    let r = t.get("GET /form.html?a=1&b=x+y%21 HTTP/1.1\r\nHost: dev\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert_eq!(t.app.inputs, ["Begin { method: Get }", "End"]);
    assert!(!t.wants_close(), "the connection stays usable");
    t.app.inputs.clear();
    let r = t.get(&urlencoded_post());
    assert!(r.starts_with("HTTP/1.1 415 "), "{r}");
    assert!(t.wants_close());
    assert_eq!(t.app.inputs, ["Begin { method: Post }", "Abort"]);

    // Multipart still streams.
    let mut t = T::<Without<NO_URLENCODED>>::built();
    let r = t.get(&multipart_post(""));
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(
        t.app.inputs.contains(&"data:abc".to_string()),
        "{:?}",
        t.app.inputs
    );
    // A POST without a body is still the form's (Begin, End).
    let mut t = T::<Without<ALL_OFF>>::built();
    let r = t.get("POST /form.html HTTP/1.1\r\nHost: dev\r\nContent-Length: 0\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert_eq!(t.app.inputs, ["Begin { method: Post }", "End"]);
}

#[test]
fn keep_alive_off_closes_after_every_response() {
    let mut t = T::<Without<NO_KEEP_ALIVE>>::built();
    let two = b"GET /index.html HTTP/1.1\r\nHost: dev\r\n\r\nGET / HTTP/1.1\r\nHost: dev\r\n\r\n";
    // The second request is taken and dropped: the connection closes.
    assert_eq!(t.send(two), two.len());
    let r = String::from_utf8(t.pull(1460)).unwrap();
    let (head, body) = split(&r);
    assert!(head.ends_with("Connection: close\r\n\r\n"), "{head}");
    assert_eq!(body, "hello world\n");
    assert!(t.wants_close());
    assert_eq!(t.app.events, ["GET /index.html 200"]);

    // HTTP/1.0 asking for keep-alive is told `close` too.
    let mut t = T::<Without<NO_KEEP_ALIVE>>::built();
    let r = t.get("GET /page.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert!(r.contains("Connection: close\r\n"), "{r}");
    assert!(!r.contains("keep-alive"), "{r}");
    assert!(t.wants_close());
}

#[test]
fn gzip_off_sends_the_plain_representation() {
    let mut t = T::<Without<NO_GZIP>>::built();
    let r = t.get("GET / HTTP/1.1\r\nHost: dev\r\nAccept-Encoding: gzip\r\n\r\n");
    assert!(!r.contains("Content-Encoding"), "{r}");
    assert!(r.ends_with("\r\n\r\nhello world\n"), "{r}");
    assert_eq!(t.app.events, ["GET / 200"]);
    // The plain ETag still validates.
    let r = t.get(
        "GET / HTTP/1.1\r\nHost: dev\r\nAccept-Encoding: gzip\r\nIf-None-Match: \"1111111111111111\"\r\n\r\n",
    );
    assert!(
        r.starts_with("HTTP/1.1 304") && r.contains("ETag: \"1111111111111111\""),
        "{r}"
    );
    assert!(!r.contains("Vary"), "no twin is ever sent: {r}");
}

#[test]
fn continue_off_answers_417_and_takes_the_repeated_request() {
    let mut t = T::<Without<NO_CONTINUE>>::built();
    let req = multipart_post("Expect: 100-continue\r\n");
    let head_len = req.find("\r\n\r\n").unwrap() + 4;
    assert_eq!(t.send(&req.as_bytes()[..head_len]), head_len);
    let r = String::from_utf8(t.pull(1460)).unwrap();
    assert!(r.starts_with("HTTP/1.1 417 Expectation Failed\r\n"), "{r}");
    assert!(!r.contains("Connection: close"), "{r}");
    assert!(!t.wants_close());
    assert_eq!(t.app.inputs, ["Begin { method: Post }", "Abort"]);
    // The client waited for the answer instead of sending the body, and
    // repeats the request without the expectation (RFC 9110 §10.1.1).
    t.app.inputs.clear();
    let again = multipart_post("");
    let r = t.get(&again);
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert_upload_taken(&t.app.inputs);

    // Without a body the expectation does not matter.
    let mut t = T::<Without<NO_CONTINUE>>::built();
    let r = t.get("GET / HTTP/1.1\r\nHost: dev\r\nExpect: 100-continue\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    // An HTTP/1.0 client's expectation is ignored: the body is read.
    let mut t = T::<Without<NO_CONTINUE>>::built();
    let r = t.get(
        &urlencoded_post()
            .replace("HTTP/1.1", "HTTP/1.0")
            .replace("Host: dev\r\n", "Host: dev\r\nExpect: 100-continue\r\n"),
    );
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert_eq!(t.app.inputs.len(), 3, "{:?}", t.app.inputs);
    // A client that sends the body anyway gets a 400 for it, then the
    // connection closes: never a hang.
    let mut t = T::<Without<NO_CONTINUE>>::built();
    let req = multipart_post("Expect: 100-continue\r\n");
    let head_len = req.find("\r\n\r\n").unwrap() + 4;
    assert_eq!(
        t.send(req.as_bytes()),
        head_len,
        "the body waits for the answer"
    );
    let r = String::from_utf8(t.pull(1460)).unwrap();
    assert!(r.starts_with("HTTP/1.1 417 "), "{r}");
    let rest = &req.as_bytes()[head_len..];
    assert_eq!(t.send(rest), rest.len());
    let r = String::from_utf8(t.pull(1460)).unwrap();
    assert!(r.starts_with("HTTP/1.1 400 "), "{r}");
    assert!(t.wants_close(), "{r}");
}

/// Without keep-alive a 417 could not be answered by a repeat on the same
/// connection (it closes), so the expectation is ignored as an HTTP/1.0
/// client's is: the client's body, sent after its wait, is read.
#[test]
fn continue_and_keep_alive_off_read_the_body_without_100() {
    let mut t = T::<Without<{ NO_CONTINUE | NO_KEEP_ALIVE }>>::built();
    let req = multipart_post("Expect: 100-continue\r\n");
    let head_len = req.find("\r\n\r\n").unwrap() + 4;
    assert_eq!(t.send(&req.as_bytes()[..head_len]), head_len);
    assert!(t.pull(1460).is_empty(), "no 100 and no 417 before the body");
    let r = t.get(&req[head_len..]);
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert_upload_taken(&t.app.inputs);
}

#[test]
fn etag_off_always_answers_200() {
    let mut t = T::<Without<NO_ETAG>>::built();
    let r = t.get("GET / HTTP/1.1\r\nHost: dev\r\nIf-None-Match: \"1111111111111111\"\r\n\r\n");
    assert!(
        r.starts_with("HTTP/1.1 200") && r.ends_with("hello world\n"),
        "{r}"
    );
    let r = t.get("GET / HTTP/1.1\r\nHost: dev\r\nIf-None-Match: *\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert_eq!(t.app.events, ["GET / 200", "GET / 200"]);
}

#[test]
fn chunked_off_ends_a_large_dynamic_page_with_close() {
    let mut t = T::<Without<NO_CHUNKED>>::built();
    let r = t.get("GET /big.txt HTTP/1.1\r\nHost: dev\r\n\r\n");
    let (head, body) = split(&r);
    assert!(!head.contains("Transfer-Encoding"), "{head}");
    assert!(!head.contains("Content-Length"), "{head}");
    assert!(head.contains("Connection: close\r\n"), "{head}");
    assert_eq!(body.matches("n=").count(), 40, "{body}");
    assert!(
        body.starts_with(std::str::from_utf8(FILLER).unwrap()),
        "{body}"
    );
    assert!(t.wants_close());

    // A small page still has an exact length; HEAD of a page says neither.
    let mut t = T::<Without<NO_CHUNKED>>::built();
    let r = t.get("GET /page.html HTTP/1.1\r\nHost: dev\r\n\r\n");
    assert!(r.contains("Content-Length: "), "{r}");
    assert!(!t.wants_close());
    let r = t.get("HEAD /page.html HTTP/1.1\r\nHost: dev\r\n\r\n");
    assert!(
        !r.contains("Transfer-Encoding") && r.ends_with("\r\n\r\n"),
        "{r}"
    );
    assert_eq!(t.app.count, 1, "HEAD does not run the handlers");
}

#[test]
fn everything_off_still_serves_files_and_pages() {
    let mut t = T::<Without<ALL_OFF>>::built();
    let r = t.get(
        "GET / HTTP/1.1\r\nHost: dev\r\nAccept-Encoding: gzip\r\nIf-None-Match: \"1111111111111111\"\r\n\r\n",
    );
    assert!(
        r.starts_with("HTTP/1.1 200") && r.ends_with("hello world\n"),
        "{r}"
    );
    assert!(r.contains("Connection: close\r\n"), "{r}");
    assert!(t.wants_close());
    let mut t = T::<Without<ALL_OFF>>::built();
    let r = t.get("GET /big.txt HTTP/1.1\r\nHost: dev\r\n\r\n");
    assert_eq!(split(&r).1.matches("n=").count(), 40, "{r}");
}

#[test]
fn form_fields_must_be_utf8_on_each_side_of_the_equals_sign() {
    for (query, status) in [
        ("n=%C3%A9", 200),   // é as the value
        ("%C3%A9=v", 200),   // é as the name
        ("%C3=%A9", 400),    // é cut by `=`: neither side is UTF-8
        ("n=%FF", 400),      // not UTF-8
        ("%E2%82=%AC", 400), // € cut by `=`
    ] {
        let mut t = T::new();
        let r = t.get(&format!(
            "GET /form.html?{query} HTTP/1.1\r\nHost: dev\r\n\r\n"
        ));
        assert!(
            r.starts_with(&format!("HTTP/1.1 {status} ")),
            "{query}: {r}"
        );
    }
}

#[test]
fn every_file_is_found_by_its_path_and_its_index_and_nothing_else() {
    for site in [&SITE, &SEQ_SITE] {
        for (i, f) in site.files.iter().enumerate() {
            let path = site.path(f);
            let found = site.find(path.as_bytes()).unwrap();
            assert_eq!(site.path(found), path);
            // The request keeps the file; its response, the index.
            assert_eq!(usize::from(site.index_of(found)), i);
            for miss in [format!("{path}x"), path[..path.len() - 1].to_string()] {
                if site.files.iter().all(|g| site.path(g) != miss) {
                    assert!(site.find(miss.as_bytes()).is_none(), "{miss}");
                }
            }
        }
        assert!(site.find(b"").is_none() && site.find(b"\xff").is_none());
    }
}

/// Everything a fresh connection does with `req` sent in the given
/// pieces (what is not taken is offered again with the next piece, as
/// TCP would): the bytes taken per call, the answer, the form's inputs,
/// the response events and whether it closes.
fn served_in_pieces(
    req: &[u8],
    ends: &[usize],
) -> (Vec<usize>, String, Vec<String>, Vec<String>, bool) {
    let mut t = T::new();
    let (mut taken, mut out, mut pending, mut at) = (Vec::new(), Vec::new(), Vec::new(), 0);
    for &end in ends.iter().chain([req.len()].iter()) {
        pending.extend_from_slice(&req[at..end.max(at)]);
        at = end.max(at);
        let n = t.send(&pending);
        taken.push(n);
        pending.drain(..n);
        out.extend(t.pull(1460));
    }
    let n = t.send(&pending);
    taken.push(n);
    out.extend(t.pull(1460));
    let close = t.wants_close();
    let text = String::from_utf8_lossy(&out).into_owned();
    (taken, text, t.app.inputs, t.app.events, close)
}

/// The head is taken in runs (a token at a time, each to its
/// delimiter): a request cut anywhere — at every point in two pieces,
/// and one byte at a time — is answered exactly as when it comes whole:
/// the same bytes, form fields, events and close.
#[test]
fn a_head_cut_anywhere_is_served_as_whole() {
    let cases: &[(&str, &str)] = &[
        (
            "GET /form.html?a=%41&b=c+d&&e HTTP/1.1\r\nHost: dev\r\nAccept-Encoding: gzip\r\n\r\n",
            "200",
        ),
        (
            "POST /form.html HTTP/1.1\r\nHost: dev\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\nx=1&y=2",
            "200",
        ),
        ("GET /page%2ehtml HTTP/1.0\nConnection: keep-alive\n\n", "200"),
        ("GET /index.html HTTP/1.1\r\nHost: dev\r\nIf-None-Match: \"1111111111111111\"\r\n\r\nGET /nope HTTP/1.1\r\nHost: dev\r\n\r\n", "304"),
        ("HEAD * HTTP/1.1\r\nHost: dev\r\n\r\n", "400"),
        ("GET /a%4 HTTP/1.1\r\nHost: dev\r\n\r\n", "400"),
        ("GET / HTTP/1.1\rHost: dev\r\n\r\n", "400"),
        ("GET / HTTP/1.1\r\nHost: dev\r\r\n\r\n", "400"),
        ("GET / HTTP/1.1\r\nHost: dev\r\nX:\u{1}\r\n\r\n", "400"),
        ("GET / HTTP/3.0\r\nHost: dev\r\n\r\n", "505"),
        ("TRACE / HTTP/1.1\r\nHost: dev\r\n\r\n", "501"),
    ];
    for &(req, status) in cases {
        let req = req.as_bytes();
        let whole = served_in_pieces(req, &[]);
        assert!(
            whole.1.starts_with(&format!("HTTP/1.1 {status} ")),
            "{:?}: {}",
            String::from_utf8_lossy(req),
            whole.1
        );
        let same = |got: &(Vec<usize>, String, Vec<String>, Vec<String>, bool), how: &str| {
            assert_eq!(
                (&got.1, &got.2, &got.3, got.4),
                (&whole.1, &whole.2, &whole.3, whole.4),
                "{:?} {how}",
                String::from_utf8_lossy(req)
            );
        };
        for cut in 1..req.len() {
            same(&served_in_pieces(req, &[cut]), &format!("cut at {cut}"));
        }
        let bytes: Vec<usize> = (1..req.len()).collect();
        same(&served_in_pieces(req, &bytes), "one byte at a time");
    }
}

/// The request line's and the header section's limits hold at their
/// largest setting too (65,535 bytes): the byte beyond is refused.
#[test]
fn limits_hold_at_the_largest_setting() {
    let settings: &'static HttpSettings = Box::leak(Box::new(HttpSettings {
        max_request_line: u16::MAX,
        max_header_bytes: u16::MAX,
        ..SETTINGS
    }));
    let serve = |req: &[u8]| {
        let mut srv = Box::new(HttpServer::<1, 96>::new(&SITE, settings));
        srv.adopt(0, H);
        let mut app = TestApp::default();
        srv.tcp_event(
            H,
            TcpEvent::Connected {
                remote: crate::udp::Endpoint::new(crate::wire::Ipv4Address([10, 0, 0, 1]), 5000),
            },
            &mut app,
        );
        for piece in req.chunks(1460) {
            let mut b = piece;
            srv.tcp_received(H, &mut b, &mut app);
        }
        let mut sink = Vsink(Vec::new());
        srv.tcp_produce(H, 0, 1460, &mut sink, &mut app);
        String::from_utf8_lossy(&sink.0).into_owned()
    };
    // "GET /" + k + " HTTP/1.1\r\n" is 16 + k bytes.
    for (k, status) in [(65_519, "404"), (65_520, "414")] {
        let req = format!("GET /{} HTTP/1.1\r\nHost: dev\r\n\r\n", "a".repeat(k));
        let r = serve(req.as_bytes());
        assert!(r.starts_with(&format!("HTTP/1.1 {status} ")), "{k}: {r}");
    }
    // 11 (Host) + 7 + k + 2 header bytes, and the blank line's 2.
    for (k, status) in [(65_515, "200"), (65_516, "431")] {
        let req = format!(
            "GET / HTTP/1.1\r\nHost: dev\r\nX-A: {}\r\n\r\n",
            "b".repeat(k)
        );
        let r = serve(req.as_bytes());
        assert!(r.starts_with(&format!("HTTP/1.1 {status} ")), "{k}: {r}");
    }
}
