//! The server's optional features, chosen at compile time.
//!
//! Each is a switch in `[http]` of `stack.toml`; codegen implements
//! [`HttpFeatures`] for the configured server (`web::Features`, the third
//! parameter of the `web::HttpServer` alias). The server tests the
//! constants (`if F::MULTIPART { … }`), so the code of a feature switched
//! off is removed by the compiler: it costs no flash. A runtime setting
//! would not remove anything, which is why these are not fields of
//! [`HttpSettings`](super::HttpSettings).
//!
//! A request that needs a feature switched off still gets a correct
//! answer (RFC 9110): a `multipart/form-data` or urlencoded body 415, an
//! `Expect: 100-continue` with a body 417, and so on (see each constant).

/// Which optional features the server is built with.
pub trait HttpFeatures {
    /// `multipart/form-data` bodies are streamed to the form's handler as
    /// parts (`[http] multipart`). Off: such a POST is answered 415.
    const MULTIPART: bool;
    /// Query strings and `application/x-www-form-urlencoded` bodies are
    /// decoded into fields for the form's handler (`[http] urlencoded`).
    /// Off: a query string is ignored (the handler still sees `Begin` and
    /// `End`), an urlencoded POST body is answered 415.
    const URLENCODED: bool;
    /// Persistent connections and pipelined requests (`[http]
    /// keep_alive`). Off: every response says `Connection: close` and the
    /// connection ends after it.
    const KEEP_ALIVE: bool;
    /// gzip twins are sent to clients that accept gzip (`[http] gzip`).
    /// Off: `Accept-Encoding` is ignored and codegen builds no twins.
    const GZIP: bool;
    /// `Expect: 100-continue` is honoured with an interim `100 Continue`
    /// (`[http] expect_continue`). Off: an HTTP/1.1 request that expects
    /// it and has a body is answered 417 before the body is sent, on a
    /// connection that stays open for the request repeated without the
    /// expectation (RFC 9110 §10.1.1).
    const CONTINUE: bool;
    /// `If-None-Match` is compared with the file's ETag and answered 304
    /// when it matches (`[http] etag`). Off: the header is ignored (always
    /// 200) and codegen leaves the `ETag` line out of the heads.
    const ETAG: bool;
    /// A dynamic page whose tags do not all fit in the buffer at once goes
    /// out with `Transfer-Encoding: chunked` to HTTP/1.1 clients (`[http]
    /// chunked`). Off: its body is delimited by closing the connection, as
    /// for HTTP/1.0 (`Connection: close`).
    const CHUNKED: bool;
}

/// Every feature on: the default of every switch, and of
/// [`HttpServer`](super::HttpServer)'s third parameter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllFeatures;

impl HttpFeatures for AllFeatures {
    const MULTIPART: bool = true;
    const URLENCODED: bool = true;
    const KEEP_ALIVE: bool = true;
    const GZIP: bool = true;
    const CONTINUE: bool = true;
    const ETAG: bool = true;
    const CHUNKED: bool = true;
}
