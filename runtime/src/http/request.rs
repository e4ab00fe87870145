//! The request head (RFC 9112 §3–5), parsed as segments arrive, a token
//! at a time (each to its delimiter) with state kept between pieces, so a
//! head split anywhere across segments costs no buffer.
//!
//! Why not `httparse`: it parses a head that is complete in one buffer,
//! which would mean holding up to `[http] max_header_bytes` per
//! connection. Here only the decoded path (or one query field) and one
//! header line at a time are kept in the connection's buffer; the request
//! line streams through, and query fields go to the application as they
//! complete.

use super::features::HttpFeatures;
use super::form::{unescape, FieldDec, FieldSpan, Step, Unescape};
use super::rom::{Body, File, FormId, HttpSettings, Site};
use super::{HttpApp, Input, Method};

/// Request facts gathered while parsing, used to answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Req {
    /// `None`: a method we do not implement (501).
    pub method: Option<Method>,
    /// HTTP/1.`minor`.
    pub minor: u8,
    pub flags: u16,
    /// The target, when it is a file of the site.
    pub file: Option<&'static File>,
    /// The body length (`Content-Length`).
    pub content_length: Option<u32>,
    /// The form taking this request's input (`Input::Begin` was sent).
    pub form: Option<FormId>,
    /// Multipart delimiter length at the start of the buffer.
    pub dlen: u16,
    /// Bytes of the path kept in the buffer for the log (not found).
    pub plen: u16,
    /// A status decided while parsing the head (4xx/5xx), answered at its
    /// end; 0 when none.
    pub status: u16,
    /// The `Host` header's authority, when it names the device.
    pub host: Authority,
    /// The authority of `Origin` (or, without one, of `Referer`): the
    /// page that sent the request.
    pub source: Authority,
}

/// `host[:port]` of a request's `Host`, `Origin` or `Referer`, in one of
/// the forms that name the device (see [`HttpSettings::host_name`]):
/// absent, an IPv4 literal and port, the device's name (`NAME` or
/// `NAME.local`) and port, or invalid (present but not a name of the
/// device: another site, `null`). Plain fields, unused ones zero, so two
/// authorities are equal exactly when their fields are (a `POST`'s
/// source against its `Host`): the comparison of an enum's variants was
/// three times the code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(4))]
pub(crate) struct Authority {
    /// The IPv4 literal (zeros but for `IP`).
    ip: [u8; 4],
    /// The port (zero when absent or invalid).
    port: u16,
    /// [`ABSENT`](Self::ABSENT), `IP`, `NAME`, `LOCAL` or `INVALID` (`ak`).
    kind: u8,
}

/// [`Authority::kind`].
mod ak {
    pub const ABSENT: u8 = 0;
    pub const IP: u8 = 1;
    pub const NAME: u8 = 2;
    /// `NAME.local`.
    pub const LOCAL: u8 = 3;
    pub const INVALID: u8 = 4;
}

impl Authority {
    /// No such header.
    pub(crate) const ABSENT: Authority = Authority {
        kind: ak::ABSENT,
        ip: [0; 4],
        port: 0,
    };
    /// Present but not a name of the device.
    pub(crate) const INVALID: Authority = Authority {
        kind: ak::INVALID,
        ..Self::ABSENT
    };

    /// An IPv4 literal and port.
    const fn ip(ip: [u8; 4], port: u16) -> Authority {
        Authority {
            kind: ak::IP,
            ip,
            port,
        }
    }

    /// The device's name (`local`: `NAME.local`) and port.
    const fn name(local: bool, port: u16) -> Authority {
        Authority {
            kind: if local { ak::LOCAL } else { ak::NAME },
            ip: [0; 4],
            port,
        }
    }

    /// The authority of a `Host` value (`host[:port]`, port 80 when
    /// absent) or, `url`, of an `Origin` (`http://host[:port]`) or
    /// `Referer` (`http://host[:port]/...`) value.
    fn of(mut v: &[u8], url: bool, settings: &HttpSettings) -> Authority {
        if url {
            match v.split_at_checked(7) {
                Some((scheme, rest)) if lower_eq(scheme, b"http://") => {
                    let end = rest
                        .iter()
                        .position(|&c| matches!(c, b'/' | b'?' | b'#'))
                        .unwrap_or(rest.len());
                    v = rest.get(..end).unwrap_or(&[]);
                }
                _ => return Authority::INVALID,
            }
        }
        let (host, port) = match v.iter().rposition(|&c| c == b':') {
            Some(i) => {
                let (host, digits) = v.split_at(i);
                match parse_port(digits.get(1..).unwrap_or(&[])) {
                    Some(p) => (host, p),
                    None => return Authority::INVALID,
                }
            }
            None => (v, 80),
        };
        if let Some(ip) = parse_ipv4(host) {
            return Authority::ip(ip, port);
        }
        let name = settings.host_name.as_bytes();
        if name.is_empty() {
            return Authority::INVALID;
        }
        // `NAME` or `NAME.local`, in any case (`host_name` is lowercase).
        match host.split_at_checked(name.len()) {
            Some((n, suffix)) if lower_eq(n, name) => match suffix {
                [] => Authority::name(false, port),
                s if lower_eq(s, b".local") => Authority::name(true, port),
                _ => Authority::INVALID,
            },
            _ => Authority::INVALID,
        }
    }

    /// No such header.
    pub(crate) fn is_absent(self) -> bool {
        self.kind == ak::ABSENT
    }

    /// Names the device.
    pub(crate) fn is_device(self) -> bool {
        matches!(self.kind, ak::IP | ak::NAME | ak::LOCAL)
    }
}

/// A port number (1-65535), digits only.
fn parse_port(d: &[u8]) -> Option<u16> {
    if d.len() > 5 {
        return None;
    }
    decimal(d)
        .and_then(|n| u16::try_from(n).ok())
        .filter(|&p| p != 0)
}

/// A decimal number of one or more digits (values beyond 32 bits read
/// as `u32::MAX`).
#[inline(never)]
fn decimal(d: &[u8]) -> Option<u32> {
    if d.is_empty() {
        return None;
    }
    let mut n: u32 = 0;
    for &c in d {
        if !c.is_ascii_digit() {
            return None;
        }
        // Once beyond `u32::MAX` it stays there: the value is too large
        // whatever digits follow.
        n = n
            .saturating_mul(10)
            .saturating_add(u32::from(c.wrapping_sub(b'0')));
    }
    Some(n)
}

/// A dotted-quad IPv4 literal (four decimal octets of 1-3 digits).
fn parse_ipv4(h: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut k = 0usize;
    for part in Items::new(h, b'.') {
        if part.len() > 3 {
            return None;
        }
        // `decimal` refuses an empty part and anything but digits.
        *out.get_mut(k)? = u8::try_from(decimal(part)?).ok()?;
        // Bounded: `k < 4` (`out.get_mut` above).
        k = k.wrapping_add(1);
    }
    (k == 4).then_some(out)
}

/// [`Req::flags`].
pub(crate) mod rf {
    pub const CLOSE: u16 = 1 << 0;
    pub const KEEP_ALIVE: u16 = 1 << 1;
    pub const HOST: u16 = 1 << 2;
    pub const GZIP: u16 = 1 << 3;
    pub const GZIP_NO: u16 = 1 << 4;
    pub const INM_PLAIN: u16 = 1 << 5;
    pub const INM_GZIP: u16 = 1 << 6;
    pub const CONTINUE: u16 = 1 << 7;
    pub const CHUNKED: u16 = 1 << 8;
    pub const URLENCODED: u16 = 1 << 9;
    pub const MULTIPART: u16 = 1 << 10;
    /// The target was not `/...`.
    pub const BAD_TARGET: u16 = 1 << 12;
    /// The path did not fit in the buffer (so it is no file of ours).
    pub const LONG_PATH: u16 = 1 << 13;
    /// A `Content-Type` header was seen.
    pub const CTYPE: u16 = 1 << 14;
    /// [`Req::source`] came from `Origin` (a `Referer` does not replace it).
    pub const ORIGIN: u16 = 1 << 15;
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum St {
    #[default]
    Method,
    Target,
    Path,
    Query,
    Version,
    Header,
    HeaderCr,
    /// The blank line ending the head was read.
    Done,
}

/// Bytes of an unknown path kept for the log line.
const LOG_PATH: u16 = 32;

/// The head parser's state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Head {
    st: St,
    /// Bytes so far of the request line, then of the header section.
    used: u16,
    /// Position in the method or version.
    pos: u8,
    /// Percent escape in the path: see `FieldDec::pct`.
    pct: Option<Option<u8>>,
    /// The query string's field decoder.
    query: FieldDec,
    /// Where header lines are buffered, and their length.
    lbase: u16,
    llen: u16,
    /// Where the current header line's colon is (the name's length; 0:
    /// not seen yet, as an empty name is refused).
    name_end: u16,
    /// The current line did not fit in the buffer.
    over: bool,
    /// Forms (bit = [`FormId`]) that another connection is submitting:
    /// a request for one of them is answered 503, so the handler never
    /// sees two requests' fields interleaved.
    pub(crate) busy_forms: u32,
}

/// A token character (RFC 9110 §5.6.2): letters, digits and
/// ``!#$%&'*+-.^_`|~``, from a bitmap (bit `b & 7` of byte `b >> 3`).
/// (Not inlined: the method and every header name ask.)
#[inline(never)]
pub(crate) fn is_tchar(b: u8) -> bool {
    tchar_bit(b)
}

/// [`is_tchar`] inline, for the loop over a header name.
#[inline(always)]
fn tchar_bit(b: u8) -> bool {
    const TCHAR: [u8; 16] = [
        0x00, 0x00, 0x00, 0x00, 0xfa, 0x6c, 0xff, 0x03, 0xfe, 0xff, 0xff, 0xc7, 0xff, 0xff, 0xff,
        0x57,
    ];
    TCHAR
        .get(usize::from(b >> 3))
        .is_some_and(|m| (m >> (b & 7)) & 1 != 0)
}

/// A header value's byte outside visible ASCII that is still allowed:
/// a tab or obs-text (RFC 9110 §5.5). (Cold and not inlined: the value
/// loop then tests the visible range first, and comes here once per
/// line, at its CR, on a well-formed request.)
#[cold]
#[inline(never)]
fn tab_or_obs_text(b: u8) -> bool {
    b == b'\t' || b >= 0x80
}

/// ASCII case-insensitive equality with a lowercase pattern. (Not
/// inlined: it is called for many header names.)
#[inline(never)]
pub(crate) fn lower_eq(a: &[u8], lower: &[u8]) -> bool {
    a.len() == lower.len()
        && a.iter()
            .zip(lower)
            .all(|(x, y)| x.to_ascii_lowercase() == *y)
}

/// Where `part`, a subslice of `buf`, starts in it.
pub(crate) fn offset_in(buf: &[u8], part: &[u8]) -> usize {
    (part.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize)
}

/// `s` without leading and trailing spaces and tabs.
// Left to LLVM, which keeps it out of line (many callers):
// `#[inline(never)]` cost 4 B on the merged tree (inline9).
pub(crate) fn trimmed(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// The pieces of a header value between `sep` bytes, as `split` yields
/// them: one copy of the code for every list the server reads (`split`
/// with a closure is a new copy per use).
struct Items<'a> {
    /// What is left; `None` after the last piece.
    rest: Option<&'a [u8]>,
    sep: u8,
}

impl<'a> Items<'a> {
    fn new(v: &'a [u8], sep: u8) -> Self {
        Items { rest: Some(v), sep }
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = &'a [u8];

    #[inline(never)]
    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        match rest.iter().position(|&c| c == self.sep) {
            Some(i) => {
                let (piece, tail) = rest.split_at(i);
                self.rest = tail.get(1..);
                Some(piece)
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// Comma-separated list elements, trimmed, empty ones skipped.
fn elements(v: &[u8]) -> Elements<'_> {
    Elements(Items::new(v, b','))
}

/// [`elements`] (a loop of its own: smaller than the `map` and `filter`
/// adapters over [`Items`] at each of the three lists the server reads).
struct Elements<'a>(Items<'a>);

impl<'a> Iterator for Elements<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            let e = trimmed(self.0.next()?);
            if !e.is_empty() {
                return Some(e);
            }
        }
    }
}

impl Head {
    /// Takes bytes of the head a run at a time and returns how many it
    /// took: all of them, or those up to the blank line that ends the
    /// head ([`done`](Self::done) is then true). Each state scans its
    /// token (the method, the path, the query, the version, a header
    /// line) to its delimiter in one loop and acts once there: a byte
    /// at a time through one state machine was most of a request's
    /// cost. A run is cut where the request line's or the header
    /// section's limit is reached, so the byte beyond it is refused (414,
    /// 431) before it is judged. (Not inlined: in `consume` it measured
    /// 20 bytes larger.)
    #[inline(never)]
    pub(crate) fn feed<F: HttpFeatures, A: HttpApp>(
        &mut self,
        bytes: &[u8],
        req: &mut Req,
        buf: &mut [u8],
        site: &Site,
        settings: &HttpSettings,
        app: &mut A,
    ) -> Result<usize, u16> {
        // `i` grows by at most what is left of `bytes`: plain arithmetic
        // is exact.
        let mut i = 0usize;
        while self.st != St::Done {
            let Some(rest) = bytes.get(i..).filter(|r| !r.is_empty()) else {
                break;
            };
            let line = !matches!(self.st, St::Header | St::HeaderCr);
            let (max, beyond) = if line {
                (settings.max_request_line, 414)
            } else {
                (settings.max_header_bytes, 431)
            };
            // Bounded: `used <= max` after every run counted so far.
            let room = max.wrapping_sub(self.used);
            if room == 0 {
                return Err(beyond);
            }
            let run = rest.get(..usize::from(room)).unwrap_or(rest);
            let n = match self.st {
                St::Method => self.method_run(run, req, buf)?,
                St::Target => self.target_start(run, req)?,
                St::Path => self.path_run(run, req, buf, site, app)?,
                St::Query => self.query_run::<F, A>(run, req, buf, app)?,
                St::Version => self.version_run(run, req)?,
                St::Header | St::HeaderCr | St::Done => {
                    self.header_run::<F>(run, req, buf, settings)?
                }
            };
            // The request line's end: the header section counts from
            // zero. Bounded: `n <= run.len() <= room`, so the count stays
            // within the limit.
            self.used = if line && self.st == St::Header {
                0
            } else {
                self.used.wrapping_add(n as u16)
            };
            i = i.wrapping_add(n);
        }
        Ok(i)
    }

    /// The blank line ending the head was read.
    pub(crate) fn done(&self) -> bool {
        self.st == St::Done
    }

    /// The method, kept at the start of the buffer (the path goes there
    /// next); the space after it names the method (`None`: 501 later).
    // The runs are always inlined (one caller each): they share `feed`'s
    // registers and its exits.
    #[inline(always)]
    fn method_run(&mut self, run: &[u8], req: &mut Req, buf: &mut [u8]) -> Result<usize, u16> {
        for (k, &b) in run.iter().enumerate() {
            if b == b' ' {
                if self.pos == 0 {
                    return Err(400);
                }
                // The first four bytes as one word (a three-byte method's
                // fourth is masked off); only the lengths 3 and 4 are ours.
                let word = match buf.get(..4) {
                    Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
                    _ => 0,
                };
                req.method = match (self.pos, word) {
                    (3, w) if w & 0x00ff_ffff == u32::from_le_bytes(*b"GET\0") => Some(Method::Get),
                    (4, w) if w == u32::from_le_bytes(*b"HEAD") => Some(Method::Head),
                    (4, w) if w == u32::from_le_bytes(*b"POST") => Some(Method::Post),
                    _ => None,
                };
                self.st = St::Target;
                // Bounded: `k < run.len()`.
                return Ok(k.wrapping_add(1));
            }
            // An uppercase letter (every method we know) in one compare,
            // before the call for the token bitmap.
            if b.wrapping_sub(b'A') >= 26 && !is_tchar(b) {
                return Err(400);
            }
            if let Some(slot) = buf.get_mut(usize::from(self.pos)) {
                *slot = b;
            }
            self.pos = self.pos.saturating_add(1);
        }
        Ok(run.len())
    }

    /// The target's first byte: an origin-form path (`/...`) is kept (the
    /// `/` is the path's first byte, left for the path's run); anything
    /// else (absolute-form, `*`) is read but matches no file.
    #[inline(always)]
    fn target_start(&mut self, run: &[u8], req: &mut Req) -> Result<usize, u16> {
        self.st = St::Path;
        match run.first() {
            Some(b'/') => Ok(0),
            Some(0x21..=0x7e) => {
                req.flags |= rf::BAD_TARGET | rf::LONG_PATH;
                Ok(1)
            }
            _ => Err(400),
        }
    }

    /// The path, decoded into the buffer: the space or `?` ending it looks
    /// it up.
    #[inline(always)]
    fn path_run<A: HttpApp>(
        &mut self,
        run: &[u8],
        req: &mut Req,
        buf: &mut [u8],
        site: &Site,
        app: &mut A,
    ) -> Result<usize, u16> {
        for (k, &b) in run.iter().enumerate() {
            match b {
                b' ' | b'?' => {
                    self.resolve(req, buf, site, app);
                    if b == b'?' {
                        self.st = St::Query;
                    } else {
                        self.version_start(req);
                    }
                    // Bounded: `k < run.len()`.
                    return Ok(k.wrapping_add(1));
                }
                0..=0x20 | 0x7f..=0xff | b'#' => return Err(400),
                _ if req.flags & rf::BAD_TARGET != 0 => {}
                _ => self.path_byte(b, req, buf)?,
            }
        }
        Ok(run.len())
    }

    /// The query string (the space ends it), decoded into fields for the
    /// form's handler.
    #[inline(always)]
    fn query_run<F: HttpFeatures, A: HttpApp>(
        &mut self,
        run: &[u8],
        req: &mut Req,
        buf: &mut [u8],
        app: &mut A,
    ) -> Result<usize, u16> {
        for (k, &b) in run.iter().enumerate() {
            let field = match b {
                b' ' => None,
                0..=0x20 | 0x7f..=0xff | b'#' => return Err(400),
                _ => Some(b),
            };
            // Not decoded without the feature: the form's handler sees
            // `Begin` and `End` only.
            if F::URLENCODED {
                self.query_step(field, req, buf, app)?;
            }
            if field.is_none() {
                self.version_start(req);
                // Bounded: `k < run.len()`.
                return Ok(k.wrapping_add(1));
            }
        }
        Ok(run.len())
    }

    /// After the target: the version follows; header lines will be kept
    /// after the path (which the log line still needs).
    fn version_start(&mut self, req: &Req) {
        self.lbase = req.plen;
        self.st = St::Version;
        self.pos = 0;
    }

    /// `HTTP/1.x` and the line end after it (CR LF, or a bare LF; `pos`
    /// 9 is after the CR).
    #[inline(always)]
    fn version_run(&mut self, run: &[u8], req: &mut Req) -> Result<usize, u16> {
        for (k, &b) in run.iter().enumerate() {
            let p = usize::from(self.pos);
            if p >= 8 && b == b'\n' {
                // The request line ended: header lines follow (a fresh
                // head's line is empty), kept after the path.
                self.st = St::Header;
                self.lbase = req.plen;
                // Bounded: `k < run.len()`.
                return Ok(k.wrapping_add(1));
            }
            let ok = match p {
                0..=6 => b"HTTP/1.".get(p) == Some(&b),
                7 => b.is_ascii_digit(),
                8 => b == b'\r',
                _ => false,
            };
            if !ok {
                // Another major version: 505.
                return Err(if p == 5 && b.is_ascii_digit() {
                    505
                } else {
                    400
                });
            }
            if p == 7 {
                req.minor = u8::from(b != b'0');
            }
            // Bounded: at most 9 (`HTTP/1.x` and the CR).
            self.pos = self.pos.wrapping_add(1);
        }
        Ok(run.len())
    }

    /// A decoded path byte into the buffer (a bad escape is refused).
    fn path_byte(&mut self, b: u8, req: &mut Req, buf: &mut [u8]) -> Result<(), u16> {
        let byte = if self.pct.is_some() {
            match unescape(&mut self.pct, b) {
                Unescape::More => return Ok(()),
                Unescape::Byte(d) => d,
                Unescape::Not(_) => return Err(400),
            }
        } else if b == b'%' {
            self.pct = Some(None);
            return Ok(());
        } else {
            b
        };
        match buf.get_mut(usize::from(req.plen)) {
            Some(slot) => {
                *slot = byte;
                // Bounded: `plen` is below the buffer's length (4,096 at
                // most).
                req.plen = req.plen.wrapping_add(1);
            }
            None => req.flags |= rf::LONG_PATH,
        }
        Ok(())
    }

    /// The path is complete: look it up; a form's handler is told a
    /// request begins. (Not inlined: once per request, and 12 bytes
    /// smaller out of the runs' loop.)
    #[inline(never)]
    fn resolve<A: HttpApp>(&mut self, req: &mut Req, buf: &mut [u8], site: &Site, app: &mut A) {
        if self.pct.is_some() {
            req.flags |= rf::BAD_TARGET;
        }
        let path = buf.get(..usize::from(req.plen)).unwrap_or(&[]);
        let found = if req.flags & (rf::LONG_PATH | rf::BAD_TARGET) == 0 {
            site.find(path)
        } else {
            None
        };
        req.file = found;
        if req.file.is_some() {
            req.plen = 0; // the log uses the site's path
        } else {
            req.plen = req.plen.min(LOG_PATH);
        }
        if let (Some(m), Some(form)) = (req.method, found.and_then(File::form)) {
            let busy = 1u32
                .checked_shl(u32::from(form.0))
                .is_some_and(|bit| self.busy_forms & bit != 0);
            if busy {
                req.status = 503;
                return;
            }
            app.input(form, Input::Begin { method: m });
            req.form = Some(form);
        }
    }

    /// One byte of the query string (`None`: its end).
    fn query_step<A: HttpApp>(
        &mut self,
        b: Option<u8>,
        req: &mut Req,
        buf: &mut [u8],
        app: &mut A,
    ) -> Result<(), u16> {
        if req.form.is_none() {
            return Ok(()); // nobody takes fields for this path
        }
        let step = match b {
            Some(b) => self.query.byte(b, buf),
            None => self.query.finish(buf),
        };
        match step {
            Step::More => Ok(()),
            Step::TooLong => Err(414),
            Step::Field(f) => deliver_field(req.form, buf, f, app),
        }
    }

    /// The end of a line after the request line: an empty one ends the
    /// head, any other is a header line. (Not inlined: the header line's
    /// work stays out of the runs' loop.)
    #[inline(never)]
    fn line_end<F: HttpFeatures>(
        &mut self,
        req: &mut Req,
        buf: &mut [u8],
        settings: &HttpSettings,
    ) -> Result<(), u16> {
        if self.llen == 0 {
            self.st = St::Done;
            return Ok(());
        }
        self.header_end::<F>(req, buf, settings)
    }

    /// A header line's bytes up to its CR or LF (its first byte too: a
    /// space, tab or colon there is no token character, so obsolete line
    /// folding and an empty name are refused), and its line end: LF or
    /// CR LF.
    #[inline(always)]
    fn header_run<F: HttpFeatures>(
        &mut self,
        run: &[u8],
        req: &mut Req,
        buf: &mut [u8],
        settings: &HttpSettings,
    ) -> Result<usize, u16> {
        let cr = self.st == St::HeaderCr;
        let n = if cr { 0 } else { self.header_bytes(run, buf)? };
        // `header_bytes` stops at a CR or LF, or at the run's end.
        match run.get(n) {
            None => return Ok(n),
            Some(b'\r') if !cr => self.st = St::HeaderCr,
            Some(b'\n') => self.line_end::<F>(req, buf, settings)?,
            // After the CR only the LF.
            Some(_) => return Err(400),
        }
        // Bounded: `n < run.len()`.
        Ok(n.wrapping_add(1))
    }
    /// Checks and buffers header-line bytes up to a CR or LF; returns
    /// how many it took (the bytes are counted by the caller). (Inlined:
    /// one caller, the header line's run.)
    #[inline(always)]
    fn header_bytes(&mut self, bytes: &[u8], buf: &mut [u8]) -> Result<usize, u16> {
        // Two loops, the name's and the value's, each with one test per
        // byte; each byte is kept where the line goes on in the buffer
        // (once past the buffer's end, the line did not fit: `over`).
        let at = usize::from(self.lbase).saturating_add(usize::from(self.llen));
        let dst = buf.get_mut(at..).unwrap_or(&mut []);
        let mut n = 0usize;
        if self.name_end == 0 {
            while let Some(&b) = bytes.get(n) {
                // The field name: token characters (a space before the
                // colon is refused too). A letter first, in one compare
                // (most of a name); then the bitmap, inline here: a call
                // per byte of every name was a tenth of a request's head.
                if (b | 0x20).wrapping_sub(b'a') >= 26 && !tchar_bit(b) {
                    if b != b':' {
                        break;
                    }
                    // The name's end (an empty name is refused).
                    if self.llen == 0 && n == 0 {
                        return Err(400);
                    }
                    // Bounded: the line's bytes are counted in `used`
                    // too, which stays within the header limit (a `u16`).
                    self.name_end = self.llen.wrapping_add(n as u16);
                    if let Some(d) = dst.get_mut(n) {
                        *d = b;
                    }
                    // Bounded: `n < bytes.len()`.
                    n = n.wrapping_add(1);
                    break;
                }
                if let Some(d) = dst.get_mut(n) {
                    *d = b;
                }
                n = n.wrapping_add(1);
            }
        }
        if self.name_end != 0 {
            // The value: anything but control characters (tab allowed).
            while let Some(&b) = bytes.get(n) {
                // Visible ASCII in one compare; the rest (tab, obs-text,
                // and what ends or breaks the line) out of line, so the
                // loop tests the range first (a call once per line, at
                // its CR).
                if b.wrapping_sub(0x20) >= 0x5f && !tab_or_obs_text(b) {
                    break;
                }
                if let Some(d) = dst.get_mut(n) {
                    *d = b;
                }
                n = n.wrapping_add(1);
            }
        }
        // The line's CR or LF ends the run (a line without a colon ends
        // here and `header_end` refuses it); anything else is refused.
        if let Some(&b) = bytes.get(n) {
            if b != b'\r' && b != b'\n' {
                return Err(400);
            }
        }
        if dst.len() < n {
            self.over = true;
        }
        // Bounded: the line's bytes are counted in `used` too, which stays
        // within the header limit (a `u16`).
        self.llen = self.llen.wrapping_add(n as u16);
        Ok(n)
    }

    /// A complete header line: act on the fields we read.
    fn header_end<F: HttpFeatures>(
        &mut self,
        req: &mut Req,
        buf: &mut [u8],
        settings: &HttpSettings,
    ) -> Result<(), u16> {
        // The next line starts empty.
        let (llen, over, name_end) = (self.llen, self.over, self.name_end);
        self.st = St::Header;
        self.llen = 0;
        self.name_end = 0;
        self.over = false;
        if name_end == 0 {
            return Err(400);
        }
        let base = usize::from(self.lbase);
        let kept = if over {
            buf.len().saturating_sub(base)
        } else {
            usize::from(llen)
        };
        let Some(line) = buf.get(base..base.saturating_add(kept)) else {
            return Ok(());
        };
        // The colon where the name ended (a line cut short keeps its
        // name up to the buffer's end).
        let colon = usize::from(name_end).min(line.len());
        let (name, rest) = line.split_at(colon);
        let value = trimmed(rest.split_first().map_or(rest, |(_, v)| v));
        let field = field_number(name);
        if field == h::CONTENT_TYPE {
            req.flags |= rf::CTYPE;
            if (F::URLENCODED || F::MULTIPART)
                && req.form.is_some()
                && req.method == Some(Method::Post)
            {
                if over {
                    return Err(400);
                }
                let (at, len) = (offset_in(buf, value), value.len());
                return self.content_type::<F>(req, buf, at, len);
            }
            return Ok(());
        }
        header_field::<F>(req, field, value, over, req.file, settings)
    }

    /// `Content-Type` of a POST to a form: the kind of body, and for
    /// multipart the boundary, stored as the delimiter `\r\n--boundary` at
    /// the start of the buffer (later header lines go after it).
    fn content_type<F: HttpFeatures>(
        &mut self,
        req: &mut Req,
        buf: &mut [u8],
        at: usize,
        len: usize,
    ) -> Result<(), u16> {
        let Some(value) = buf.get(at..at.saturating_add(len)) else {
            return Err(400);
        };
        let mut params = Items::new(value, b';');
        let media = trimmed(params.next().unwrap_or(&[]));
        if F::URLENCODED && lower_eq(media, b"application/x-www-form-urlencoded") {
            req.flags |= rf::URLENCODED;
            return Ok(());
        }
        if !F::MULTIPART || !lower_eq(media, b"multipart/form-data") {
            return Ok(()); // 415 at the end of the head
        }
        // Parameters: `; name=value` (a token or a quoted string).
        let mut boundary: Option<&[u8]> = None;
        for (k, v) in params.filter_map(param) {
            if lower_eq(k, b"boundary") {
                boundary = Some(match v {
                    [b'"', inner @ .., b'"'] => inner,
                    _ => v,
                });
            }
        }
        let Some(b) = boundary else {
            return Err(400);
        };
        let valid = (1..=70).contains(&b.len())
            && b.iter()
                .all(|&c| c.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&c))
            && b.last() != Some(&b' ');
        let (src, b_len) = (offset_in(buf, b), b.len());
        let dlen = b_len.saturating_add(4);
        if !valid || dlen > buf.len() {
            return Err(400);
        }
        // The boundary lies at or after byte 4 (the line starts with
        // `content-type:`), so moving it to 4.. and then writing the
        // prefix never overwrites it before it is read.
        // (`src + b_len`: the boundary's end, inside the buffer.)
        super::move_down(buf, src..src.wrapping_add(b_len), 4);
        if let Some(p) = buf.get_mut(..4) {
            p.copy_from_slice(b"\r\n--");
        }
        req.dlen = u16::try_from(dlen).unwrap_or(0);
        req.flags |= rf::MULTIPART;
        self.lbase = req.dlen;
        Ok(())
    }
}

/// The names (lowercase) of the header fields the server reads, one
/// after the other in the order of their numbers ([`h`]).
const NAMES: &[u8] = b"content-typehostoriginreferercontent-length\
transfer-encodingconnectionexpectaccept-encodingif-none-match";
/// Where field `k`'s name starts in [`NAMES`]; it ends where `k + 1`'s
/// starts.
const STARTS: [u8; 11] = [0, 12, 16, 22, 29, 43, 60, 70, 76, 91, 104];
/// The field a name can be, by its [`slot`] (no two fields share one: the
/// test `header_fields_by_slot`): a line's field is found with one
/// comparison, where one per known name was up to ten calls per line.
const SLOTS: [u8; 16] = [5, 10, 9, 3, 10, 4, 7, 10, 10, 0, 8, 2, 1, 6, 10, 10];

/// The numbers of the header fields in [`NAMES`] (any other field is
/// [`h::OTHER`]).
mod h {
    pub const CONTENT_TYPE: u8 = 0;
    pub const HOST: u8 = 1;
    pub const ORIGIN: u8 = 2;
    pub const REFERER: u8 = 3;
    pub const CONTENT_LENGTH: u8 = 4;
    pub const TRANSFER_ENCODING: u8 = 5;
    pub const CONNECTION: u8 = 6;
    pub const EXPECT: u8 = 7;
    pub const ACCEPT_ENCODING: u8 = 8;
    pub const IF_NONE_MATCH: u8 = 9;
    pub const OTHER: u8 = 10;
}

/// A header name's slot in [`SLOTS`]: from its length and its first
/// letter (ASCII case-insensitive).
fn slot(name: &[u8]) -> usize {
    let first = name.first().map_or(0, |&c| c | 0x20);
    // Wrapping: a hash.
    name.len()
        .wrapping_mul(6)
        .wrapping_add(usize::from(first >> 1))
        & 15
}

/// The number of header field `name` (ASCII case-insensitive) in
/// [`NAMES`], or [`h::OTHER`].
fn field_number(name: &[u8]) -> u8 {
    let k = SLOTS.get(slot(name)).copied().unwrap_or(h::OTHER);
    let at = |i: u8| STARTS.get(usize::from(i)).map(|&s| usize::from(s));
    // Bounded: `k` is at most `h::OTHER`.
    let known = at(k)
        .zip(at(k.wrapping_add(1)))
        .and_then(|(start, end)| NAMES.get(start..end));
    match known {
        Some(known) if lower_eq(name, known) => k,
        _ => h::OTHER,
    }
}

/// A header field other than `Content-Type` (which may move bytes in the
/// buffer: [`Head::content_type`]), by its number ([`field_number`]).
/// `over`: the line did not fit, so `value` is cut.
fn header_field<F: HttpFeatures>(
    req: &mut Req,
    field: u8,
    value: &[u8],
    over: bool,
    file: Option<&File>,
    settings: &HttpSettings,
) -> Result<(), u16> {
    let host = field == h::HOST;
    if host || field == h::ORIGIN || (field == h::REFERER && req.flags & rf::ORIGIN == 0) {
        if host {
            if req.flags & rf::HOST != 0 {
                return Err(400);
            }
            req.flags |= rf::HOST;
        } else if field == h::ORIGIN {
            // `Origin` wins over `Referer` in any order.
            req.flags |= rf::ORIGIN;
        }
        // A line cut by the buffer might end inside the authority
        // (`http://NAME` of `http://NAME.evil.example/`): refused.
        let to = if host { &mut req.host } else { &mut req.source };
        *to = if over {
            Authority::INVALID
        } else {
            Authority::of(value, !host, settings)
        };
    } else if field == h::CONTENT_LENGTH {
        if over {
            return Err(400);
        }
        return content_length(req, value);
    } else if field == h::TRANSFER_ENCODING {
        req.flags |= rf::CHUNKED;
    } else if F::KEEP_ALIVE && field == h::CONNECTION {
        for t in elements(value) {
            if lower_eq(t, b"close") {
                req.flags |= rf::CLOSE;
            } else if lower_eq(t, b"keep-alive") {
                req.flags |= rf::KEEP_ALIVE;
            }
        }
    } else if field == h::EXPECT {
        if !over && lower_eq(value, b"100-continue") {
            req.flags |= rf::CONTINUE;
        } else if req.status == 0 {
            req.status = 417;
        }
    } else if F::GZIP && field == h::ACCEPT_ENCODING && !over {
        accept_encoding(req, value);
    } else if F::ETAG && field == h::IF_NONE_MATCH && !over {
        if_none_match(req, value, file);
    }
    Ok(())
}

/// `Content-Length`: digits only; a repeated one must agree (RFC 9112
/// §6.3). Values beyond 32 bits read as `u32::MAX`.
fn content_length(req: &mut Req, value: &[u8]) -> Result<(), u16> {
    let Some(n) = decimal(value) else {
        return Err(400);
    };
    match req.content_length {
        Some(old) if old != n => Err(400),
        _ => {
            req.content_length = Some(n);
            Ok(())
        }
    }
}

/// `If-None-Match` for a static file: which of its ETags (plain, gzip)
/// the client holds.
// Always inlined into `line_end`, its one caller (LLVM kept it apart):
// −20 B (inline9).
#[inline(always)]
fn if_none_match(req: &mut Req, value: &[u8], file: Option<&File>) {
    let Some(File {
        body: Body::Static { plain, gzip },
        ..
    }) = file
    else {
        return;
    };
    // The ETags, from the heads (a twin makes both heads say `Vary`).
    let plain_etag = plain.etag(gzip.is_some());
    let gzip_etag = gzip.and_then(|g| g.etag(true));
    for tag in elements(value) {
        if tag == b"*" {
            req.flags |= rf::INM_PLAIN | rf::INM_GZIP;
        }
        // Weak comparison (RFC 9110 §13.1.2).
        let tag = tag.strip_prefix(b"W/").unwrap_or(tag);
        if plain_etag == Some(tag) {
            req.flags |= rf::INM_PLAIN;
        }
        if gzip_etag == Some(tag) {
            req.flags |= rf::INM_GZIP;
        }
    }
}

/// `Accept-Encoding`: may we send gzip? (RFC 9110 §12.5.3)
// Always inlined into `line_end`, its one caller (LLVM kept it apart):
// −44 B (inline9).
#[inline(always)]
fn accept_encoding(req: &mut Req, value: &[u8]) {
    for e in elements(value) {
        let mut parts = Items::new(e, b';');
        let coding = trimmed(parts.next().unwrap_or(&[]));
        // `q=0` (any spelling of zero: `0.0`, `0.`, `00`) refuses it.
        let zero = parts.any(|p| {
            param(p).is_some_and(|(k, v)| {
                lower_eq(k, b"q") && !v.is_empty() && v.iter().all(|&c| c == b'0' || c == b'.')
            })
        });
        // `gzip` or `x-gzip` (RFC 9110 §8.4.1.3), in any case.
        let name = match coding {
            [b'x' | b'X', b'-', rest @ ..] => rest,
            c => c,
        };
        let gzip = lower_eq(name, b"gzip");
        if gzip && zero {
            req.flags |= rf::GZIP_NO;
        } else if gzip || (coding == b"*" && !zero) {
            req.flags |= rf::GZIP;
        }
    }
}

/// A parameter `name=value` (RFC 9110 §5.6.6): the name and the value,
/// each without surrounding white space; `None` without `=`.
#[inline(never)]
fn param(p: &[u8]) -> Option<(&[u8], &[u8])> {
    let (k, v) = p.split_at(p.iter().position(|&c| c == b'=')?);
    Some((trimmed(k), trimmed(v.get(1..).unwrap_or(&[]))))
}

/// Hands a decoded field to the form's handler (fields must be UTF-8).
pub(crate) fn deliver_field<A: HttpApp>(
    form: Option<FormId>,
    buf: &[u8],
    f: FieldSpan,
    app: &mut A,
) -> Result<(), u16> {
    // The value follows the name: both are UTF-8 exactly when the two
    // together are and the name ends at a character boundary
    // (`split_at_checked`).
    let (name, value) = buf
        .get(..f.value_end)
        .and_then(|b| core::str::from_utf8(b).ok())
        .and_then(|t| t.split_at_checked(f.name_end))
        .ok_or(400u16)?;
    if let Some(form) = form {
        app.input(form, Input::Field { name, value });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(name: &'static str) -> HttpSettings {
        HttpSettings {
            host_name: name,
            ..HttpSettings::DEFAULT
        }
    }

    /// Each field the server reads is found by its name in any case, in
    /// a slot of its own; other names (those of a browser's request
    /// among them) are no field, whatever their slot.
    #[test]
    fn header_fields_by_slot() {
        let fields = [
            ("content-type", h::CONTENT_TYPE),
            ("host", h::HOST),
            ("origin", h::ORIGIN),
            ("referer", h::REFERER),
            ("content-length", h::CONTENT_LENGTH),
            ("transfer-encoding", h::TRANSFER_ENCODING),
            ("connection", h::CONNECTION),
            ("expect", h::EXPECT),
            ("accept-encoding", h::ACCEPT_ENCODING),
            ("if-none-match", h::IF_NONE_MATCH),
        ];
        let mut slots = std::collections::HashSet::new();
        for (name, k) in fields {
            assert!(slots.insert(slot(name.as_bytes())), "{name} shares a slot");
            let start = usize::from(STARTS[usize::from(k)]);
            let end = usize::from(STARTS[usize::from(k) + 1]);
            assert_eq!(&NAMES[start..end], name.as_bytes());
            assert_eq!(field_number(name.as_bytes()), k, "{name}");
            let upper = name.to_ascii_uppercase();
            assert_eq!(field_number(upper.as_bytes()), k, "{upper}");
        }
        assert_eq!(field_number(b"Content-Length"), h::CONTENT_LENGTH);
        assert_eq!(STARTS[10], NAMES.len() as u8);
        assert_eq!(SLOTS.iter().filter(|&&k| k != h::OTHER).count(), 10);
        for name in [
            "user-agent",
            "accept",
            "accept-language",
            "cookie",
            "x",
            "hosts",
            "hos",
            "origin2",
            "content-typ",
            "content-typf",
            "connectioN-x",
            "",
            "if-none-matcH2",
            "sec-fetch-mode",
            "upgrade-insecure-requests",
            "cache-control",
            "pragma",
        ] {
            assert_eq!(field_number(name.as_bytes()), h::OTHER, "{name}");
        }
    }

    #[test]
    fn ipv4_literals_and_ports() {
        for (text, want) in [
            ("1.2.3.4", Some([1, 2, 3, 4])),
            ("255.0.010.001", Some([255, 0, 10, 1])),
            ("256.1.1.1", None),
            ("1.2.3", None),
            ("1.2.3.4.", None),
            ("1..3.4", None),
            ("1.2.3.4.5", None),
            ("1234.1.1.1", None),
            (".1.2.3", None),
            ("1.2.3.x", None),
            ("", None),
        ] {
            assert_eq!(parse_ipv4(text.as_bytes()), want, "{text:?}");
        }
        for (text, want) in [
            ("80", Some(80)),
            ("65535", Some(65535)),
            ("65536", None),
            ("0", None),
            ("000080", None),
            ("", None),
            ("8a", None),
        ] {
            assert_eq!(parse_port(text.as_bytes()), want, "{text:?}");
        }
        for (text, want) in [
            ("0", Some(0)),
            ("4294967295", Some(u32::MAX)),
            ("4294967296", Some(u32::MAX)),
            ("42949672950000000000000000001", Some(u32::MAX)),
            ("00000000000000000000000000007", Some(7)),
            ("", None),
            ("+1", None),
            ("1 ", None),
        ] {
            assert_eq!(decimal(text.as_bytes()), want, "{text:?}");
        }
    }

    #[test]
    fn tchar_table_is_the_rfc_set() {
        for b in 0..=255u8 {
            let want = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_tchar(b), want, "{b:#x}");
        }
    }

    #[test]
    fn items_split_as_split_does() {
        for v in ["", ";", "a", "a;", ";a", "a;;b", "gzip;q=0 ; x", ";;"] {
            let ours: Vec<&[u8]> = Items::new(v.as_bytes(), b';').collect();
            let std: Vec<&[u8]> = v.as_bytes().split(|&c| c == b';').collect();
            assert_eq!(ours, std, "{v:?}");
        }
    }

    #[test]
    fn elements_are_the_trimmed_nonempty_items() {
        for v in [
            "",
            ",",
            " a ",
            "a,,b",
            " , a\t, b c ,",
            "gzip;q=0 , x",
            ",,;,",
        ] {
            let ours: Vec<&[u8]> = elements(v.as_bytes()).collect();
            let std: Vec<&[u8]> = v
                .as_bytes()
                .split(|&c| c == b',')
                .map(trimmed)
                .filter(|e| !e.is_empty())
                .collect();
            assert_eq!(ours, std, "{v:?}");
        }
    }

    #[test]
    fn gzip_and_x_gzip_in_any_case() {
        let flags = |v: &[u8]| {
            let mut req = Req::default();
            accept_encoding(&mut req, v);
            req.flags & (rf::GZIP | rf::GZIP_NO)
        };
        assert_eq!(flags(b"gzip"), rf::GZIP);
        assert_eq!(flags(b"x-gzip"), rf::GZIP);
        assert_eq!(flags(b"X-GZip"), rf::GZIP);
        assert_eq!(flags(b"deflate, x-gzip;q=0"), rf::GZIP_NO);
        assert_eq!(flags(b"*"), rf::GZIP);
        assert_eq!(flags(b"xgzip"), 0);
        assert_eq!(flags(b"x-x-gzip"), 0);
        assert_eq!(flags(b"y-gzip"), 0);
        assert_eq!(flags(b"x-"), 0);
    }

    #[test]
    fn authorities() {
        let dev = settings("dev");
        for (text, want) in [
            ("10.0.0.2", Authority::ip([10, 0, 0, 2], 80)),
            ("10.0.0.2:8080", Authority::ip([10, 0, 0, 2], 8080)),
            ("10.0.0.2:", Authority::INVALID),
            ("DEV", Authority::name(false, 80)),
            ("dev.LOCAL:81", Authority::name(true, 81)),
            ("dev.locals", Authority::INVALID),
            ("devx.local", Authority::INVALID),
            (".local", Authority::INVALID),
            ("local", Authority::INVALID),
            ("", Authority::INVALID),
        ] {
            assert_eq!(
                Authority::of(text.as_bytes(), false, &dev),
                want,
                "{text:?}"
            );
        }
        assert_eq!(
            Authority::of(b"dev", false, &settings("")),
            Authority::INVALID,
            "no name: literals only"
        );
        assert_eq!(
            Authority::of(b".local", false, &settings("")),
            Authority::INVALID
        );
        for (text, want) in [
            ("http://dev", Authority::name(false, 80)),
            ("HTTP://10.0.0.2:81/x?y", Authority::ip([10, 0, 0, 2], 81)),
            ("http://dev#frag", Authority::name(false, 80)),
            ("https://dev", Authority::INVALID),
            ("http:/", Authority::INVALID),
            ("null", Authority::INVALID),
        ] {
            assert_eq!(Authority::of(text.as_bytes(), true, &dev), want, "{text:?}");
        }
        // Equal exactly when the same form names the same place (a POST's
        // source against its `Host`).
        let all = [
            Authority::ABSENT,
            Authority::INVALID,
            Authority::ip([10, 0, 0, 2], 80),
            Authority::ip([10, 0, 0, 2], 81),
            Authority::ip([10, 0, 0, 3], 80),
            Authority::name(false, 80),
            Authority::name(true, 80),
            Authority::name(false, 81),
        ];
        for (i, a) in all.iter().enumerate() {
            for (j, b) in all.iter().enumerate() {
                assert_eq!(a == b, i == j, "{a:?} {b:?}");
            }
            assert_eq!(a.is_device(), i >= 2, "{a:?}");
            assert_eq!(a.is_absent(), i == 0, "{a:?}");
        }
    }
}
