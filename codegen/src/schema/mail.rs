//! `[smtp]` and `[pop3]`: the mail clients the application embeds. The
//! keys both share (server, port, credentials, timeout) are read here.

use std::net::Ipv4Addr;

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use serde::{Deserialize, Deserializer};

use super::ipv4::addr_tokens;
use super::key::Key;
use super::sntp::{bad_host_name, is_server, server_addr};
use super::{DnsSection, Schema, Section, TcpSection};
use crate::diag::{Diagnostics, Span};
use crate::reader::{quote_str, TableReader};

/// A mail server setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailServer {
    /// An address.
    Addr(Ipv4Addr),
    /// A host name (needs `[dns]`).
    Name(String),
}

/// The keys `[smtp]` and `[pop3]` share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailCommon {
    /// The section is present and `enabled` is not `false`.
    pub enabled: bool,
    /// `server`: an address or host name; default none (the application
    /// names it).
    pub server: Option<MailServer>,
    /// `port` (1 to 65535; 25 for SMTP, 110 for POP3).
    pub port: u16,
    /// `user`: compiled-in user name (default none: the application
    /// supplies credentials at run time).
    pub user: Option<String>,
    /// `password`: compiled-in password (with `user`).
    pub password: Option<String>,
    /// `timeout` (seconds, 1 to 600, default 30): how long each step may
    /// take.
    pub timeout_secs: u64,
    /// `session_timeout` (seconds, 1 to 86400, default 300): how long a
    /// whole session may take, whatever the server does.
    pub session_timeout_secs: u64,
    /// `cleartext_auth_by_name` (default false): credentials may go, in
    /// clear text, to a server found by name through DNS (a host name,
    /// MX); otherwise only to a server given as an address.
    pub auth_by_name: bool,
    /// Where `server` is when it is a name (for the `[dns]` check).
    name_span: Option<Span>,
    /// Where the section starts (for the `[tcp]` check).
    header: Option<Span>,
}

impl MailCommon {
    /// Settles the shared keys once serde has read them: the spans the
    /// cross-section checks point at, credentials in pairs, the session
    /// timeout not below a step's.
    fn settle(&mut self, r: &mut TableReader<'_, '_, '_>) {
        self.header = Some(r.header_span());
        if let Some(MailServer::Name(_)) = self.server {
            self.name_span = r.span("server");
        }
        match (&self.user, &self.password) {
            (Some(_), None) if r.span("password").is_none() => {
                r.missing("password", "`user` needs a `password` (or leave both out)")
            }
            (None, Some(_)) if r.span("user").is_none() => {
                r.missing("user", "`password` needs a `user` (or leave both out)")
            }
            _ => {}
        }
        if let Some(span) = r.accepted("session_timeout") {
            if self.session_timeout_secs < self.timeout_secs {
                r.error(
                    "session_timeout",
                    span,
                    format!(
                        "expected at least `timeout` ({} s): the whole session includes every \
                         step, found {}",
                        self.timeout_secs, self.session_timeout_secs
                    ),
                );
                self.session_timeout_secs = 300;
            }
        }
    }

    /// Checks against `[dns]` (a server name needs it) and `[tcp]` (a
    /// session needs a socket).
    pub(super) fn check(
        &self,
        section: &str,
        needs_dns: Option<(&str, Span)>,
        dns: &DnsSection,
        tcp: &TcpSection,
        diags: &mut Diagnostics<'_>,
    ) {
        if !self.enabled {
            return;
        }
        let name = match (&self.server, &self.name_span) {
            (Some(MailServer::Name(n)), Some(span)) => Some((
                "server",
                format!("{} is a host name", quote_str(n)),
                span.clone(),
            )),
            _ => needs_dns.map(|(what, span)| ("mx", what.to_owned(), span)),
        };
        if let (Some((key, what, span)), Some(_), false) = (&name, &self.user, self.auth_by_name) {
            diags.error(
                span.clone(),
                format!(
                    "[{section}] {key}: {what}, found through DNS, and the compiled-in `user` \
                     and `password` would go to it in clear text; give the server as an \
                     address or set `cleartext_auth_by_name = true`"
                ),
            );
        }
        if let Some((key, what, span)) = name {
            if !dns.enabled {
                diags.error(
                    span.clone(),
                    format!(
                        "[{section}] {key}: {what}, which needs the DNS client; add a `[dns]` \
                         section or give an address"
                    ),
                );
            } else if let Some(MailServer::Name(n)) = &self.server {
                if n.len().saturating_add(2) > dns.name_len {
                    diags.error(
                        span,
                        format!(
                            "[{section}] server: expected a name of at most {} characters \
                             (`[dns] name_len` minus 2), found {} in {}",
                            dns.name_len.saturating_sub(2),
                            n.len(),
                            quote_str(n)
                        ),
                    );
                }
            }
        }
        if tcp.effective_sockets() == 0 {
            diags.error(
                self.header.clone().unwrap_or(0..0),
                format!(
                    "[{section}]: the client needs a TCP socket; add a `[tcp]` section with \
                     `sockets` (one more for this client)"
                ),
            );
        }
    }

    fn server_tokens(&self) -> TokenStream {
        match &self.server {
            None => quote!(::core::option::Option::None),
            Some(MailServer::Addr(a)) => {
                let a = addr_tokens(*a);
                quote!(::core::option::Option::Some(::emberstack::mail::MailServer::Addr(#a)))
            }
            Some(MailServer::Name(n)) => {
                quote!(::core::option::Option::Some(::emberstack::mail::MailServer::Name(#n)))
            }
        }
    }

    /// The shared constants of the settings trait.
    fn consts(&self) -> TokenStream {
        let server = self.server_tokens();
        let port = Literal::u16_unsuffixed(self.port);
        let opt = |s: &Option<String>| match s {
            Some(s) => quote!(::core::option::Option::Some(#s)),
            None => quote!(::core::option::Option::None),
        };
        let user = opt(&self.user);
        let password = opt(&self.password);
        let timeout = Literal::u64_unsuffixed(self.timeout_secs);
        let session = Literal::u64_unsuffixed(self.session_timeout_secs);
        let by_name = self.auth_by_name;
        quote! {
            const SESSION_TIMEOUT: ::emberstack::Duration =
                ::emberstack::Duration::from_secs(#session);
            const AUTH_BY_NAME: bool = #by_name;
            const SERVER: ::core::option::Option<::emberstack::mail::MailServer> = #server;
            const PORT: u16 = #port;
            const USER: ::core::option::Option<&'static str> = #user;
            const PASSWORD: ::core::option::Option<&'static str> = #password;
            const TIMEOUT: ::emberstack::Duration = ::emberstack::Duration::from_secs(#timeout);
        }
    }
}

/// `[smtp]` settings.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "MailFile")]
pub struct SmtpSection {
    /// The shared keys (`port` defaults to 25).
    pub common: MailCommon,
    /// `mx` (default false): send to the first recipient's domain's mail
    /// exchange instead of `server`.
    pub mx: bool,
    /// `helo`: the EHLO/HELO name (default: our address as a literal).
    pub helo: Option<String>,
    /// Text-encoder snapshots: segments in flight (`[tcp] window`, one
    /// more with `split` at window 1) plus two.
    pub snapshots: usize,
    /// `attachment` (default true): a base64 attachment may be sent.
    pub attachment: bool,
    /// `auth` (default true): AUTH PLAIN/LOGIN is built in.
    pub auth: bool,
    /// `encoded_subject` (default true): non-ASCII subjects as RFC 2047
    /// encoded words.
    pub encoded_subject: bool,
    mx_span: Option<Span>,
    auth_span: Option<Span>,
}

impl Default for SmtpSection {
    fn default() -> Self {
        SmtpSection {
            common: MailCommon {
                enabled: false,
                server: None,
                port: 25,
                user: None,
                password: None,
                timeout_secs: 30,
                session_timeout_secs: 300,
                auth_by_name: false,
                name_span: None,
                header: None,
            },
            mx: false,
            helo: None,
            snapshots: 3,
            attachment: true,
            auth: true,
            encoded_subject: true,
            mx_span: None,
            auth_span: None,
        }
    }
}

impl SmtpSection {
    /// Settles what depends on `[dns]` and `[tcp]`.
    pub(crate) fn resolve(
        &mut self,
        dns: &DnsSection,
        tcp: &TcpSection,
        diags: &mut Diagnostics<'_>,
    ) {
        self.snapshots = tcp.segments_per_socket().saturating_add(2);
        let mx = self
            .mx_span
            .clone()
            .filter(|_| self.mx)
            .map(|s| ("`mx = true` looks up the recipient's mail exchange", s));
        if let (true, Some(_), Some(span)) = (self.mx, &self.common.server, &self.mx_span) {
            diags.error(
                span.clone(),
                "[smtp] mx: `mx = true` sends to the recipient's mail exchange, so `server` \
                 would never be used; remove one of them"
                    .to_owned(),
            );
        }
        if let (true, false, Some(span)) = (self.mx, dns.mx, &self.mx_span) {
            if dns.enabled {
                diags.error(
                    span.clone(),
                    "[smtp] mx: `mx = true` needs MX queries, which `[dns] mx = false` leaves \
                     out; remove one of them"
                        .to_owned(),
                );
            }
        }
        if let (false, Some(_), Some(span)) = (self.auth, &self.common.user, &self.auth_span) {
            diags.error(
                span.clone(),
                "[smtp] auth: `auth = false` leaves AUTH out, but `user` and `password` are \
                 compiled in; remove them or `auth = false`"
                    .to_owned(),
            );
        }
        self.common.check("smtp", mx, dns, tcp, diags);
    }

    /// Items outside the `impl Config`: the client's settings.
    pub(crate) fn settings_impl(&self) -> TokenStream {
        if !self.common.enabled {
            return TokenStream::new();
        }
        let consts = self.common.consts();
        let mx = self.mx;
        let helo = match &self.helo {
            Some(h) => quote!(::core::option::Option::Some(#h)),
            None => quote!(::core::option::Option::None),
        };
        let n = Literal::usize_unsuffixed(self.snapshots);
        // The switches are written only when off (the trait's defaults
        // are on).
        let mut switches = TokenStream::new();
        for (on, name) in [
            (self.attachment, quote!(ATTACHMENT)),
            (self.auth, quote!(AUTH)),
            (self.encoded_subject, quote!(ENCODED_SUBJECT)),
        ] {
            if !on {
                switches.extend(quote!(const #name: bool = false;));
            }
        }
        quote! {
            impl ::emberstack::smtp::SmtpSettings for Device {
                #consts
                const USE_MX: bool = #mx;
                const HELO: ::core::option::Option<&'static str> = #helo;
                type Snapshots = [::emberstack::smtp::Snapshot; #n];
                #switches
            }
        }
    }
}

impl Section for SmtpSection {
    const NAME: &'static str = "smtp";

    fn impl_items(&self) -> TokenStream {
        if self.common.enabled {
            quote!(
                type Smtp = ::emberstack::smtp::SmtpClient<Device>;
            )
        } else {
            quote!(
                type Smtp = ::emberstack::service::Disabled;
            )
        }
    }
}

/// `[pop3]` settings.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "MailFile")]
pub struct Pop3Section {
    /// The shared keys (`port` defaults to 110).
    pub common: MailCommon,
    /// `line_limit` (bytes, 64 to 1024, default 256): the line buffer; a
    /// longer line is delivered in pieces.
    pub line_limit: usize,
    /// `header_len` (bytes, 16 to 255, default 64): the buffer for each of
    /// the `Subject:` and `From:` values.
    pub header_len: usize,
    /// `interval` (seconds, 0 or 10 to 86400, default 0): how often the
    /// mailbox is checked by itself; 0 only on request.
    pub interval_secs: u64,
    /// `delete` (default true): DELE is built in.
    pub delete: bool,
}

impl Default for Pop3Section {
    fn default() -> Self {
        Pop3Section {
            common: MailCommon {
                enabled: false,
                server: None,
                port: 110,
                user: None,
                password: None,
                timeout_secs: 30,
                session_timeout_secs: 300,
                auth_by_name: false,
                name_span: None,
                header: None,
            },
            line_limit: 256,
            header_len: 64,
            interval_secs: 0,
            delete: true,
        }
    }
}

impl Pop3Section {
    /// Settles what depends on `[dns]` and `[tcp]`.
    pub(crate) fn resolve(
        &mut self,
        dns: &DnsSection,
        tcp: &TcpSection,
        diags: &mut Diagnostics<'_>,
    ) {
        self.common.check("pop3", None, dns, tcp, diags);
    }

    /// Items outside the `impl Config`: the client's settings.
    pub(crate) fn settings_impl(&self) -> TokenStream {
        if !self.common.enabled {
            return TokenStream::new();
        }
        let consts = self.common.consts();
        let line = Literal::usize_unsuffixed(self.line_limit);
        let header = Literal::usize_unsuffixed(self.header_len);
        let interval = Literal::u64_unsuffixed(self.interval_secs);
        // Written only when off (the trait's default is on).
        let delete = if self.delete {
            TokenStream::new()
        } else {
            quote!(
                const DELETE: bool = false;
            )
        };
        quote! {
            impl ::emberstack::pop3::Pop3Settings for Device {
                #consts
                const INTERVAL: ::emberstack::Duration = ::emberstack::Duration::from_secs(#interval);
                type Line = [u8; #line];
                type Header = [u8; #header];
                #delete
            }
        }
    }
}

impl Section for Pop3Section {
    const NAME: &'static str = "pop3";

    fn impl_items(&self) -> TokenStream {
        if self.common.enabled {
            quote!(
                type Pop3 = ::emberstack::pop3::Pop3Client<Device>;
            )
        } else {
            quote!(
                type Pop3 = ::emberstack::service::Disabled;
            )
        }
    }
}

/// The keys `[smtp]` and `[pop3]` share.
pub(super) const MAIL_KEYS: &[Key] = &[
    Key::bool("enabled")
        .default("true")
        .doc("`false` turns the client off."),
    Key::string(
        "server",
        "an IPv4 address like \"10.0.0.1\" or a host name like \"mail.example.com\"",
    )
    .content(is_server)
    .range(
        "`\"A.B.C.D\"` (a host address) or a host name (needs `[dns]`, at most `[dns] \
         name_len - 2` characters)",
    )
    .doc(
        "The server. Without it the application names one at run time (`Outgoing::server` / \
         `Mailbox::server`, e.g. from a settings page).",
    ),
    Key::int("port", 1, 65_535)
        .default_text("`25` (`[smtp]`), `110` (`[pop3]`)")
        .doc("The server's port (587 for SMTP submission)."),
    Key::string("user", "a string")
        .content(is_credential)
        .range("non-empty, no control characters; needs `password`")
        .doc(
            "Compiled-in user name. It and the password end up in flash as plain text, so a \
             product leaves both out and has the application supply them (`credentials()` of \
             its `Outgoing` / `Mailbox`, which take precedence).",
        ),
    Key::string("password", "a string")
        .content(is_credential)
        .range("as `user`; needs `user`")
        .doc("Compiled-in password."),
    Key::int("timeout", 1, 600)
        .unit("seconds")
        .default("30")
        .doc(
            "How long each step may take: resolving, connecting, each reply; while a message \
             moves, the time without progress. Progress is a complete reply line or newly \
             acknowledged bytes, not any byte.",
        ),
    Key::int("session_timeout", 1, 86_400)
        .unit("seconds")
        .default("300")
        .range_more("at least `timeout`")
        .doc(
            "How long a whole session may take, from `send()`/`receive()` to the end, whatever \
             the server does (a byte at a time, endless continuation lines, a zero window).",
        ),
    Key::bool("cleartext_auth_by_name").default("false").doc(
        "Credentials may go to a server found by name through DNS (a `server` name, `mx`, or a \
         name the application gives). There is no TLS, so they travel in clear text, and \
         whoever answers DNS (or the DNS server DHCP named) picks the host. `false`: \
         credentials go only to a server given as an address; with a name, \
         `send()`/`receive()` fail at once with `CleartextAuthByName` and nothing is sent. \
         Compiled-in `user`/`password` with a `server` name (or `mx`) and this `false` is a \
         build error.",
    ),
];

/// The keys only `[smtp]` has.
pub(super) const SMTP_KEYS: &[Key] = &[
    Key::bool("mx")
        .default("false")
        .range("not with `server`; needs `[dns]`")
        .doc(
            "Send to the first recipient's domain's mail exchange (MX, most preferred with an \
             address; a domain without MX records is its own exchange).",
        ),
    Key::string("helo", "a host name like \"device.example.com\"")
        .content(is_helo)
        .default_text("our address as a literal, `[10.0.0.2]`")
        .range("a host name")
        .doc("The EHLO/HELO name."),
    Key::bool("attachment").default("true").doc(
        "A message may carry a base64 attachment. `false` leaves the attachment's encoder and \
         part headers out; `send()` refuses a message with one (`Unsupported`).",
    ),
    Key::bool("auth")
        .default("true")
        .range("`false` not with `user`/`password`")
        .doc(
            "AUTH PLAIN and LOGIN (RFC 4954). `false` leaves them out; `send()` refuses a \
             message with credentials (`Unsupported`).",
        ),
    Key::bool("encoded_subject").default("true").doc(
        "A subject with non-ASCII characters goes out as RFC 2047 encoded words. `false` \
         leaves the encoder out; `send()` refuses such a subject (`Unsupported`).",
    ),
];

/// The keys only `[pop3]` has.
pub(super) const POP3_KEYS: &[Key] = &[
    Key::int("line_limit", 64, 1024)
        .unit("bytes")
        .default("256")
        .doc(
            "The line buffer: a longer line is delivered in pieces (`Line::more`); also how \
             much of a status line is read.",
        ),
    Key::int("header_len", 16, 255)
        .unit("bytes")
        .default("64")
        .doc(
            "Bytes kept of each of the `Subject:` and `From:` values (unfolded) for the \
             start-of-message call.",
        ),
    Key::int("interval", 0, 86_400)
        .unit("seconds")
        .default("0")
        .range("0, or 10 to 86400")
        .doc(
            "Check the mailbox by itself this often; `0`: only when the application calls \
             `receive()`.",
        ),
    Key::bool("delete").default("true").doc(
        "Messages may be deleted (DELE). `false` leaves that out; a message the application \
         asks to delete ends the session there (QUIT, nothing deleted) with `Unsupported`.",
    ),
];

/// What `[smtp]` or `[pop3]` says, as serde reads it (each section's
/// `KEYS` decide which of these it accepts).
#[derive(Default, Deserialize)]
#[serde(default)]
struct MailFile {
    enabled: Option<bool>,
    #[serde(deserialize_with = "some_server")]
    server: Option<MailServer>,
    port: Option<u16>,
    user: Option<String>,
    password: Option<String>,
    timeout: Option<u64>,
    session_timeout: Option<u64>,
    cleartext_auth_by_name: Option<bool>,
    mx: Option<bool>,
    helo: Option<String>,
    line_limit: Option<usize>,
    header_len: Option<usize>,
    interval: Option<u64>,
    attachment: Option<bool>,
    auth: Option<bool>,
    encoded_subject: Option<bool>,
    delete: Option<bool>,
}

impl MailFile {
    /// The shared keys, with `default_port`.
    fn common(&mut self, default_port: u16) -> MailCommon {
        MailCommon {
            enabled: self.enabled.unwrap_or(true),
            server: self.server.take(),
            port: self.port.unwrap_or(default_port),
            user: self.user.take(),
            password: self.password.take(),
            timeout_secs: self.timeout.unwrap_or(30),
            session_timeout_secs: self.session_timeout.unwrap_or(300),
            auth_by_name: self.cleartext_auth_by_name.unwrap_or(false),
            name_span: None,
            header: None,
        }
    }
}

impl From<MailFile> for SmtpSection {
    fn from(mut file: MailFile) -> Self {
        SmtpSection {
            common: file.common(25),
            mx: file.mx.unwrap_or(false),
            helo: file.helo,
            snapshots: 3,
            attachment: file.attachment.unwrap_or(true),
            auth: file.auth.unwrap_or(true),
            encoded_subject: file.encoded_subject.unwrap_or(true),
            mx_span: None,
            auth_span: None,
        }
    }
}

impl From<MailFile> for Pop3Section {
    fn from(mut file: MailFile) -> Self {
        let d = Pop3Section::default();
        Pop3Section {
            common: file.common(110),
            line_limit: file.line_limit.unwrap_or(d.line_limit),
            header_len: file.header_len.unwrap_or(d.header_len),
            interval_secs: file.interval.unwrap_or(d.interval_secs),
            delete: file.delete.unwrap_or(d.delete),
        }
    }
}

/// `server`: an address when only digits and dots (checked by
/// [`is_server`] before), else a name.
fn some_server<'de, D: Deserializer<'de>>(d: D) -> Result<Option<MailServer>, D::Error> {
    let text = String::deserialize(d)?;
    Ok(Some(match server_addr(&text) {
        Some(a) => MailServer::Addr(a),
        None => MailServer::Name(text),
    }))
}

/// A [`Content`](super::key::Content) check of a credential: printable,
/// no CR/LF (it goes into a command line).
fn is_credential(r: &mut TableReader<'_, '_, '_>, key: &'static str, s: &str, span: &Span) -> bool {
    if s.is_empty() {
        r.error(key, span.clone(), "expected a non-empty string, found \"\"");
        false
    } else if let Some((i, c)) = s.char_indices().find(|(_, c)| c.is_control()) {
        let sub = r.sub_span(span, s, i..i + c.len_utf8());
        r.error(
            key,
            sub,
            format!("expected no control characters, found {c:?}"),
        );
        false
    } else {
        true
    }
}

/// A [`Content`](super::key::Content) check of `helo`: a host name.
fn is_helo(r: &mut TableReader<'_, '_, '_>, key: &'static str, text: &str, span: &Span) -> bool {
    match bad_host_name(text) {
        Some(why) => {
            r.error(
                key,
                span.clone(),
                format!("expected a host name, found {} ({why})", quote_str(text)),
            );
            false
        }
        None => true,
    }
}

impl Schema for SmtpSection {
    const KEYS: &'static [&'static [Key]] = &[MAIL_KEYS, SMTP_KEYS];

    fn check(&mut self, r: &mut TableReader<'_, '_, '_>) {
        self.common.settle(r);
        self.mx_span = r.accepted("mx");
        self.auth_span = r.accepted("auth");
    }

    fn absent(&mut self) {
        self.common.enabled = false;
    }
}

impl Schema for Pop3Section {
    const KEYS: &'static [&'static [Key]] = &[MAIL_KEYS, POP3_KEYS];

    fn check(&mut self, r: &mut TableReader<'_, '_, '_>) {
        self.common.settle(r);
        if let (1..10, Some(span)) = (self.interval_secs, r.accepted("interval")) {
            r.error(
                "interval",
                span,
                format!(
                    "expected 0 (check only on request) or at least 10 seconds, found {}",
                    self.interval_secs
                ),
            );
            self.interval_secs = 0;
        }
    }

    fn absent(&mut self) {
        self.common.enabled = false;
    }
}
