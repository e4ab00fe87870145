//! `[smtp]` and `[pop3]`: the mail clients the application embeds. The
//! keys both share (server, port, credentials, timeout) are read here.

use std::net::Ipv4Addr;

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::ipv4::{addr_tokens, host};
use super::sntp::bad_host_name;
use super::{DnsSection, Section, TcpSection};
use crate::diag::{Diagnostics, Span};
use crate::reader::{quote_str, Field, TableReader};

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

/// A credential: printable, no CR/LF (it goes into a command line).
fn check_credential(r: &mut TableReader<'_, '_, '_>, key: &'static str) -> Option<String> {
    match r.string(key, "a string") {
        Field::Value(s, span) => {
            if s.is_empty() {
                r.error(
                    key,
                    span,
                    "expected a non-empty string, found \"\"".to_owned(),
                );
                None
            } else if let Some((i, c)) = s.char_indices().find(|(_, c)| c.is_control()) {
                let sub = r.sub_span(&span, &s, i..i + c.len_utf8());
                r.error(
                    key,
                    sub,
                    format!("expected no control characters, found {c:?}"),
                );
                None
            } else {
                Some(s)
            }
        }
        _ => None,
    }
}

impl MailCommon {
    /// Reads the shared keys.
    pub(super) fn parse(r: &mut TableReader<'_, '_, '_>, default_port: u16) -> MailCommon {
        let enabled = r.is_present() && r.bool("enabled").or(true);
        let header = r.is_present().then(|| r.header_span());
        let mut name_span = None;
        let server = match r.string(
            "server",
            "an IPv4 address like \"10.0.0.1\" or a host name like \"mail.example.com\"",
        ) {
            Field::Value(text, span) => {
                if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                    host(r, "server", &text, &span, "\"10.0.0.1\"").map(MailServer::Addr)
                } else if let Some(why) = bad_host_name(&text) {
                    r.error(
                        "server",
                        span,
                        format!(
                            "expected an IPv4 address or a host name, found {} ({why})",
                            quote_str(&text)
                        ),
                    );
                    None
                } else {
                    name_span = Some(span);
                    Some(MailServer::Name(text))
                }
            }
            _ => None,
        };
        let port = r
            .int("port", 1, 65_535)
            .value()
            .map_or(default_port, |(v, _)| {
                u16::try_from(v).unwrap_or(default_port)
            });
        let user = check_credential(r, "user");
        let password = check_credential(r, "password");
        match (&user, &password) {
            (Some(_), None) if r.raw("password").is_none() => {
                r.missing("password", "`user` needs a `password` (or leave both out)")
            }
            (None, Some(_)) if r.raw("user").is_none() => {
                r.missing("user", "`password` needs a `user` (or leave both out)")
            }
            _ => {}
        }
        let timeout_secs = r
            .int("timeout", 1, 600)
            .value()
            .map_or(30, |(v, _)| v.unsigned_abs());
        let session_timeout_secs = match r.int("session_timeout", 1, 86_400) {
            Field::Value(v, span) if v.unsigned_abs() < timeout_secs => {
                r.error(
                    "session_timeout",
                    span,
                    format!(
                        "expected at least `timeout` ({timeout_secs} s): the whole session \
                         includes every step, found {v}"
                    ),
                );
                300
            }
            f => f.value().map_or(300, |(v, _)| v.unsigned_abs()),
        };
        let auth_by_name = r.bool("cleartext_auth_by_name").or(false);
        MailCommon {
            enabled,
            server,
            port,
            user,
            password,
            timeout_secs,
            session_timeout_secs,
            auth_by_name,
            name_span,
            header,
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
#[derive(Clone, Debug, PartialEq, Eq)]
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
    mx_span: Option<Span>,
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
            mx_span: None,
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
        quote! {
            impl ::emberstack::smtp::SmtpSettings for Device {
                #consts
                const USE_MX: bool = #mx;
                const HELO: ::core::option::Option<&'static str> = #helo;
                type Snapshots = [::emberstack::smtp::Snapshot; #n];
            }
        }
    }
}

impl Section for SmtpSection {
    const NAME: &'static str = "smtp";

    fn parse(r: &mut TableReader<'_, '_, '_>) -> Self {
        let common = MailCommon::parse(r, 25);
        let (mx, mx_span) = match r.bool("mx") {
            Field::Value(v, span) => (v, Some(span)),
            _ => (false, None),
        };
        let helo = match r.string("helo", "a host name like \"device.example.com\"") {
            Field::Value(text, span) => match bad_host_name(&text) {
                Some(why) => {
                    r.error(
                        "helo",
                        span,
                        format!("expected a host name, found {} ({why})", quote_str(&text)),
                    );
                    None
                }
                None => Some(text),
            },
            _ => None,
        };
        SmtpSection {
            common,
            mx,
            helo,
            snapshots: 3,
            mx_span,
        }
    }

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
#[derive(Clone, Debug, PartialEq, Eq)]
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
        quote! {
            impl ::emberstack::pop3::Pop3Settings for Device {
                #consts
                const INTERVAL: ::emberstack::Duration = ::emberstack::Duration::from_secs(#interval);
                type Line = [u8; #line];
                type Header = [u8; #header];
            }
        }
    }
}

impl Section for Pop3Section {
    const NAME: &'static str = "pop3";

    fn parse(r: &mut TableReader<'_, '_, '_>) -> Self {
        let d = Pop3Section::default();
        let common = MailCommon::parse(r, 110);
        let line_limit = r
            .int("line_limit", 64, 1024)
            .value()
            .map_or(d.line_limit, |(v, _)| v.unsigned_abs() as usize);
        let header_len = r
            .int("header_len", 16, 255)
            .value()
            .map_or(d.header_len, |(v, _)| v.unsigned_abs() as usize);
        let interval_secs = match r.int("interval", 0, 86_400) {
            Field::Value(v, span) if (1..10).contains(&v) => {
                r.error(
                    "interval",
                    span,
                    format!("expected 0 (check only on request) or at least 10 seconds, found {v}"),
                );
                d.interval_secs
            }
            f => f.value().map_or(d.interval_secs, |(v, _)| v.unsigned_abs()),
        };
        Pop3Section {
            common,
            line_limit,
            header_len,
            interval_secs,
        }
    }

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
