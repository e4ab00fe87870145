//! HTTP/1.1 server (RFC 9110, RFC 9112) for a web ROM built at compile
//! time, with dynamic tags bound to the application's handlers.
//!
//! # Pieces
//!
//! - The **web ROM** ([`Site`]): `emberstack-codegen` turns every file
//!   under `[http] web_root` into static data — path, precomputed response
//!   head (content type, length, strong ETag), a gzip twin when smaller —
//!   and splits files with `{{tag}}` markers into static text and tag slots
//!   ([`TagSlot`]). Nothing is scanned at run time.
//! - The **handlers**: codegen also emits a `Handlers` trait with one
//!   method per tag and per form; `#[emberstack::http_var]` on the
//!   application's `impl web::Handlers for App` checks it against the site
//!   (a tag without handler, a handler for no tag, duplicates and wrong
//!   signatures are compile errors naming the tag and page) and implements
//!   [`HttpApp`], the dispatch the server calls.
//! - The **server** ([`HttpServer`]): a component of the generated
//!   composition (`Services`, see [`compose`](crate::compose)). It opens
//!   `[http] sockets` listening sockets, and the composition routes the
//!   TCP callbacks of those sockets to it ([`HttpServer::owns`]).
//!
//! # Sending by offset, and retransmission
//!
//! TCP pulls response bytes by stream offset and a resend must be
//! byte-identical (see [`tcp`](crate::tcp)). Static parts regenerate from
//! the ROM at any offset. A tag's handler is called once per response
//! slot; its escaped output is kept in the connection's buffer (a
//! *journal*, in order) until the peer acknowledged it, so a resend reads
//! the journal instead of calling the handler again. When every tag of a
//! page fits in the buffer at once the response is rendered up front and
//! sent with an exact `Content-Length`; otherwise tags are rendered as the
//! send window reaches them and the body goes out with `Transfer-Encoding:
//! chunked` (HTTP/1.1) or until the connection closes (HTTP/1.0). Either
//! way the journal only ever holds tag output between the acknowledged
//! offset and the send frontier.
//!
//! # Requests
//!
//! GET, HEAD and POST; HTTP/1.0 and 1.1; keep-alive (the 1.1 default, or
//! `Connection: keep-alive` on 1.0); pipelined requests are answered in
//! order (the next request's bytes are taken only once the previous
//! response is acknowledged). The head is parsed as it streams in (see
//! `request.rs` for why not `httparse`); query strings and
//! `application/x-www-form-urlencoded` bodies are decoded field by field,
//! `multipart/form-data` parts are streamed in chunks ([`Input`]). Errors:
//! 400 malformed, 404, 405 (with `Allow`), 408 (request not complete in
//! time), 413, 414, 415, 417, 431, 501 (other methods, chunked request
//! bodies), 505. A POST without `Content-Length` has an empty body (RFC
//! 9112 §6.3).
//!
//! Multipart, query/urlencoded decoding, keep-alive and pipelining, gzip,
//! 100-continue, ETag/304 and chunked output are compile-time switches in
//! `[http]` ([`HttpFeatures`], the server's third parameter): one switched
//! off is compiled out, and a request that needs it gets a correct answer
//! instead (415, 417, `Connection: close`, a 200).

mod features;
mod form;
mod multipart;
mod out;
mod request;
mod response;
mod rom;
mod server;
#[cfg(test)]
mod tests;

pub use features::{AllFeatures, HttpFeatures};
pub use out::TagOut;
pub use rom::{
    Body, Escape, File, FormId, HttpSettings, Representation, Site, Summed, TagId, TagSlot,
};

pub use server::{ConnSlot, HttpServer};

use crate::nic::Nic;
use crate::tcp::{TcpHandle, TcpReader};
use core::fmt;

/// The request methods the server implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
// Discriminants from 1: `Option<Method>`'s `None` is then 0 (rustc puts
// the niche there), so a fresh request (`Req::default()`, no method yet)
// is all zeros and is cleared by a memset, not copied from flash.
#[repr(u8)]
pub enum Method {
    /// GET.
    Get = 1,
    /// HEAD: GET without the body.
    Head,
    /// POST: a form's body.
    Post,
}

impl Method {
    /// `"GET"`, `"HEAD"`, `"POST"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Form input, handed to the form's handler piece by piece while the
/// request streams in. A request to a form's page always starts with
/// `Begin` and ends with `End` (the page is then rendered, so its tags can
/// show the outcome) or `Abort` (the request failed; forget what it
/// sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input<'a> {
    /// A request for the form's page begins.
    Begin {
        /// GET/HEAD (query string only) or POST.
        method: Method,
    },
    /// A decoded field of the query string or of an urlencoded body.
    Field {
        /// Field name.
        name: &'a str,
        /// Field value (percent-decoded, `+` as space).
        value: &'a str,
    },
    /// A `multipart/form-data` part begins.
    PartStart {
        /// Its field name.
        name: &'a str,
        /// The file name, for a file.
        filename: Option<&'a str>,
        /// Its `Content-Type`, if given.
        content_type: Option<&'a str>,
    },
    /// Bytes of the current part, in order (chunks of any size).
    PartData(&'a [u8]),
    /// The current part ended.
    PartEnd,
    /// The request is complete.
    End,
    /// The request failed (malformed, too large, timed out, connection
    /// lost).
    Abort,
}

/// What the server reports to the application (for its log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpEvent<'a> {
    /// A request was answered with `status` (the response starts now).
    Response {
        /// The connection's socket.
        socket: TcpHandle,
        /// `None` for a method the server does not implement.
        method: Option<Method>,
        /// The path (the site's, or up to 32 bytes of an unknown one).
        path: &'a str,
        /// The status code.
        status: u16,
        /// The body is the gzip twin.
        gzip: bool,
    },
    /// A tag's output did not fit in the connection buffer and was cut.
    TagTruncated {
        /// The tag.
        tag: TagId,
    },
    /// The server reset a connection (RST) and listens again.
    Reset {
        /// The connection's socket.
        socket: TcpHandle,
        /// Why.
        reason: ResetReason,
    },
}

/// Why the server reset a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetReason {
    /// Its response made no progress for `[http] idle_timeout` (nothing
    /// acknowledged; up to four resends after an acknowledgement extend
    /// the time, as loss does not mean a stalled peer): the peer stopped
    /// reading.
    Stalled,
    /// It was closing and the peer did not finish within
    /// `[http] request_timeout`.
    Closing,
}

impl ResetReason {
    /// A short name for logs.
    pub fn name(self) -> &'static str {
        match self {
            ResetReason::Stalled => "stalled",
            ResetReason::Closing => "closing",
        }
    }
}

/// The application's side of the server: tag output and form input. The
/// `#[emberstack::http_var]` attribute implements it from the
/// application's `impl web::Handlers`.
pub trait HttpApp {
    /// Writes tag `tag`'s value.
    fn tag(&mut self, tag: TagId, out: &mut TagOut<'_>);
    /// Takes form input for form `form`.
    fn input(&mut self, form: FormId, input: Input<'_>) {
        let _ = (form, input);
    }
    /// Something happened (see [`HttpEvent`]).
    fn event(&mut self, event: HttpEvent<'_>) {
        let _ = event;
    }
}

/// Received bytes the server can read: a [`TcpReader`] during
/// [`App::tcp_received`](crate::App::tcp_received), or a slice (tests).
pub trait Incoming {
    /// Bytes available.
    fn len(&self) -> usize;
    /// True when there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Copies bytes from `at` into `buf`; returns how many.
    fn read(&mut self, at: usize, buf: &mut [u8]) -> usize;
    /// The bytes from `at` on where they lie, when they are in RAM anyway
    /// (see [`Nic::rx_peek`]); `None` means read them with `read`.
    fn peek(&mut self, at: usize) -> Option<&[u8]> {
        let _ = at;
        None
    }
}

impl<N: Nic> Incoming for TcpReader<'_, N> {
    fn len(&self) -> usize {
        TcpReader::len(self)
    }
    fn read(&mut self, at: usize, buf: &mut [u8]) -> usize {
        TcpReader::read(self, at, buf)
    }
    fn peek(&mut self, at: usize) -> Option<&[u8]> {
        TcpReader::peek(self, at)
    }
}

impl Incoming for &[u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }
    fn read(&mut self, at: usize, buf: &mut [u8]) -> usize {
        let src = self.get(at..).unwrap_or(&[]);
        let n = src.len().min(buf.len());
        if let (Some(d), Some(s)) = (buf.get_mut(..n), src.get(..n)) {
            d.copy_from_slice(s);
        }
        n
    }
}

/// Copies `buf[src]` to `buf[to..]`, front to back, so `to <= src.start`
/// may overlap. `copy_within` would do it, but links `memmove` (1.6 KB on
/// a Cortex-M3, nothing else needs it); these moves are a few dozen bytes.
/// Bytes outside `buf` are skipped. (Not inlined: two callers.)
#[inline(never)]
pub(crate) fn move_down(buf: &mut [u8], src: core::ops::Range<usize>, to: usize) {
    let mut d = to;
    for s in src {
        let Some(&b) = buf.get(s) else { break };
        if let Some(x) = buf.get_mut(d) {
            *x = b;
        }
        d = d.wrapping_add(1);
    }
}
