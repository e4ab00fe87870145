//! The configured composition: `Services<A, C>`, the stack's `App` that
//! holds the application and the components `stack.toml` switches on (the
//! web server, the SMTP and POP3 clients), owns their sockets, routes
//! every TCP callback to its owner and polls them.
//!
//! Each component contributes a field, a constructor line, a routing
//! branch per TCP callback, a poll step and a deadline; a component that
//! is off contributes none of them (nor its trait bound), so it costs
//! nothing. The traits the application implements are in the runtime's
//! `compose` module.

use proc_macro2::TokenStream;
use quote::quote;

/// One component's share of the generated code.
#[derive(Default)]
struct Part {
    field: TokenStream,
    init: TokenStream,
    bound: TokenStream,
    tcp_event: TokenStream,
    tcp_received: TokenStream,
    tcp_produce: TokenStream,
    tcp_wants_close: TokenStream,
    tcp_recv_space: TokenStream,
    poll: TokenStream,
    poll_at: TokenStream,
    listen: TokenStream,
    /// The traits its calls need in scope.
    uses: TokenStream,
}

/// The SMTP client's share: it owns the socket it connected for a send.
fn smtp() -> Part {
    Part {
        field: quote! {
            /// The SMTP client (`[smtp]`; `Disabled` in a configuration
            /// without it). Start a send with `smtp.send(...)`.
            pub smtp: <C as ::emberstack::Config>::Smtp,
        },
        init: quote!(smtp: ::core::default::Default::default(),),
        bound: quote!(A: ::emberstack::compose::SmtpApp, C::Smtp: ::emberstack::compose::SmtpPart,),
        tcp_event: quote! {
            if self.smtp.owns(socket) {
                return self.smtp.tcp_event(socket, event);
            }
        },
        tcp_received: quote! {
            if self.smtp.owns(socket) {
                let smtp = &mut self.smtp;
                return self.app.with_message(|m, _| smtp.tcp_received(socket, data, &*m));
            }
        },
        tcp_produce: quote! {
            if self.smtp.owns(socket) {
                let smtp = &mut self.smtp;
                return self.app.with_message(|m, _| smtp.tcp_produce(socket, offset, max, sink, m));
            }
        },
        tcp_wants_close: quote! {
            if self.smtp.owns(socket) {
                return self.smtp.tcp_wants_close(socket);
            }
        },
        tcp_recv_space: quote! {
            if self.smtp.owns(socket) {
                return usize::MAX;
            }
        },
        poll: quote! {
            let smtp = &mut self.smtp;
            let sent = self.app.with_message(|m, random| smtp.poll(stack, nic, now, &*m, random));
            if let Some(outcome) = sent {
                self.app.sent(outcome, self.smtp.stats());
                busy = true;
            }
        },
        poll_at: quote!(let at = ::emberstack::service::earliest(at, self.smtp.poll_at());),
        listen: quote!(),
        uses: quote!(
            use ::emberstack::compose::SmtpPart as _;
        ),
    }
}

/// The POP3 client's share: it owns the socket it connected for a check.
fn pop3() -> Part {
    Part {
        field: quote! {
            /// The POP3 client (`[pop3]`; `Disabled` in a configuration
            /// without it). Start a check with `pop3.receive(...)`.
            pub pop3: <C as ::emberstack::Config>::Pop3,
        },
        init: quote!(pop3: ::core::default::Default::default(),),
        bound: quote!(A: ::emberstack::compose::Pop3App, C::Pop3: ::emberstack::compose::Pop3Part,),
        tcp_event: quote! {
            if self.pop3.owns(socket) {
                return self.pop3.tcp_event(socket, event);
            }
        },
        tcp_received: quote! {
            if self.pop3.owns(socket) {
                let pop3 = &mut self.pop3;
                return self.app.with_mailbox(|m, _| pop3.tcp_received(socket, data, m));
            }
        },
        tcp_produce: quote! {
            if self.pop3.owns(socket) {
                let pop3 = &mut self.pop3;
                return self.app.with_mailbox(|m, _| pop3.tcp_produce(socket, offset, max, sink, &*m));
            }
        },
        tcp_wants_close: quote! {
            if self.pop3.owns(socket) {
                return self.pop3.tcp_wants_close(socket);
            }
        },
        tcp_recv_space: quote! {
            if self.pop3.owns(socket) {
                return usize::MAX;
            }
        },
        poll: quote! {
            let pop3 = &mut self.pop3;
            let checked = self.app.with_mailbox(|m, random| pop3.poll(stack, nic, now, &*m, random));
            if let Some(outcome) = checked {
                self.app.checked(outcome);
                busy = true;
            }
        },
        poll_at: quote!(let at = ::emberstack::service::earliest(at, self.pop3.poll_at());),
        listen: quote!(),
        uses: quote!(
            use ::emberstack::compose::Pop3Part as _;
        ),
    }
}

/// The web server's share: it owns the sockets it listens on (they go
/// back to listening after each connection, so they are never another
/// component's; ownership is disjoint and the order of the checks does
/// not matter). It is polled first, the mail clients after it.
fn http() -> Part {
    Part {
        field: quote! {
            /// The web server (`[http]`): its sockets open with `listen`.
            pub http: web::HttpServer,
        },
        init: quote!(http: web::server(),),
        bound: quote!(A: ::emberstack::compose::WebApp,),
        // The server finds the socket's connection once per callback
        // (`slot`) and is handed it (`slot_*`).
        tcp_event: quote! {
            if let Some(slot) = self.http.slot(socket) {
                self.app.connection_event(socket, event);
                return self.http.slot_event(slot, socket, event, &mut self.app.handlers());
            }
        },
        tcp_received: quote! {
            if let Some(slot) = self.http.slot(socket) {
                return self.http.slot_received(slot, socket, data, &mut self.app.handlers());
            }
        },
        tcp_produce: quote! {
            if let Some(slot) = self.http.slot(socket) {
                return self.http.slot_produce(slot, offset, max, sink, &mut self.app.handlers());
            }
        },
        tcp_wants_close: quote! {
            if let Some(slot) = self.http.slot(socket) {
                return self.http.slot_wants_close(slot);
            }
        },
        tcp_recv_space: quote! {
            if self.http.owns(socket) {
                return self.http.tcp_recv_space(socket);
            }
        },
        poll: quote! {
            self.http.poll(now, stack, nic, &mut self.app.handlers());
        },
        poll_at: quote!(let at = ::emberstack::service::earliest(at, self.http.poll_at());),
        listen: quote! {
            self.http.listen(stack)?;
        },
        uses: quote!(
            use super::web;
        ),
    }
}

/// The `Services` type and its `App` implementation for the components
/// that are on.
pub(crate) fn tokens(http: bool, smtp: bool, pop3: bool) -> TokenStream {
    // Routing asks the mail clients first, then the web server (the
    // order the reference device's hand routing had; ownership is
    // disjoint, so the order only shapes the code); polling runs the web
    // server first, then the mail clients.
    let parts: Vec<Part> = [
        smtp.then(self::smtp),
        pop3.then(self::pop3),
        http.then(self::http),
    ]
    .into_iter()
    .flatten()
    .collect();
    let pick = |f: fn(&Part) -> &TokenStream| parts.iter().map(f).collect::<Vec<_>>();
    let field = pick(|p| &p.field);
    let init = pick(|p| &p.init);
    let bound = pick(|p| &p.bound);
    let tcp_event = pick(|p| &p.tcp_event);
    let tcp_received = pick(|p| &p.tcp_received);
    let tcp_produce = pick(|p| &p.tcp_produce);
    let tcp_wants_close = pick(|p| &p.tcp_wants_close);
    let tcp_recv_space = pick(|p| &p.tcp_recv_space);
    // The web server (last in `parts` when on) polls first.
    let (mail, web) = parts.split_at(parts.len().saturating_sub(usize::from(http)));
    let poll: Vec<&TokenStream> = web.iter().chain(mail).map(|p| &p.poll).collect();
    let poll_at = pick(|p| &p.poll_at);
    let listen = pick(|p| &p.listen);
    let uses = pick(|p| &p.uses);
    let unused_stack = if listen.iter().all(|l| l.is_empty()) {
        quote!(let _ = stack;)
    } else {
        quote!()
    };
    let owners: Vec<&str> = [
        (http, "the web server"),
        (smtp, "the SMTP client"),
        (pop3, "the POP3 client"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    let doc = if owners.is_empty() {
        " No component is on in this configuration: every callback goes to the\n application."
            .to_owned()
    } else {
        format!(
            " The components on here: {}.\n A socket one of them opened is routed to it; every other socket\n is the application's.",
            owners.join(", ")
        )
    };
    let doc = doc.lines().map(|l| quote!(#[doc = #l]));
    quote! {
        #[allow(unused_imports)]
        pub use self::composition::Services;

        /// The generated composition (a module of its own for the `use`
        /// lines its calls need).
        #[allow(dead_code)]
        mod composition {
            use super::Device;
            #(#uses)*

        /// The configured composition: the application `A` with the
        /// components `stack.toml` switches on. It is the [`App`] the
        /// stack calls (through [`Services::poll`]): it decides which
        /// component owns each TCP socket, routes every callback to the
        /// owner, and polls the components after the stack. What it does
        /// not own — the application's own UDP, raw and TCP sockets, the
        /// events and the random numbers — goes to `A`'s [`App`].
        ///
        #(#doc)*
        ///
        /// `C` is the stack's configuration: this file's [`Device`], or
        /// another that shares the application (its mail clients are its
        /// own, `Disabled` when off there).
        ///
        /// [`App`]: emberstack::App
        // (`repr(C)`, components first: they stay at small offsets from
        // `self` however large the application is — the reference
        // device's 64 KB of echo rings placed before them cost 3.3 KB of
        // Cortex-M code in longer loads and stores.)
        #[repr(C)]
        pub struct Services<A, C: ::emberstack::Config = Device> {
            #(#field)*
            /// The application: its own services, handlers, mail content.
            pub app: A,
            _config: ::core::marker::PhantomData<C>,
        }

        #[allow(clippy::needless_return)]
        impl<A: ::emberstack::App, C: ::emberstack::Config> Services<A, C>
        where
            #(#bound)*
        {
            /// The composition around `app`; no socket is open yet
            /// ([`listen`](Self::listen)).
            pub fn new(app: A) -> Self {
                Services {
                    app,
                    #(#init)*
                    _config: ::core::marker::PhantomData,
                }
            }

            /// Opens the listening sockets of the servers that are on
            /// (the web server's `[http] sockets` on `[http] port`).
            /// Open the application's own listening sockets first when
            /// they should take the lower socket numbers.
            pub fn listen(
                &mut self,
                stack: &mut ::emberstack::Stack<C>,
            ) -> ::core::result::Result<(), ::emberstack::tcp::TcpError> {
                #(#listen)*
                #unused_stack
                Ok(())
            }

            /// Runs the stack once with `self` as its [`App`](emberstack::App),
            /// then the components' timers and sessions. True when it did
            /// work: poll again at once instead of sleeping.
            pub fn poll<N: ::emberstack::nic::Nic>(
                &mut self,
                now: ::emberstack::Instant,
                stack: &mut ::emberstack::Stack<C>,
                nic: &mut N,
            ) -> bool {
                #[allow(unused_mut)]
                let mut busy = stack.poll(now, nic, self);
                #(#poll)*
                busy
            }

            /// When [`poll`](Self::poll) is next needed without a frame
            /// arriving (never before `now`); `None`: only a frame wakes it.
            pub fn poll_at(
                &self,
                stack: &::emberstack::Stack<C>,
                now: ::emberstack::Instant,
            ) -> ::core::option::Option<::emberstack::Instant> {
                let at = stack.poll_at(now);
                #(#poll_at)*
                at.map(|t| t.max(now))
            }
        }

        #[allow(clippy::needless_return)]
        impl<A: ::emberstack::App, C: ::emberstack::Config> ::emberstack::App for Services<A, C>
        where
            #(#bound)*
        {
            fn random_u32(&mut self) -> u32 {
                self.app.random_u32()
            }

            fn event(&mut self, event: ::emberstack::iface::Event) {
                self.app.event(event)
            }

            fn udp_datagram<N: ::emberstack::nic::Nic>(
                &mut self,
                datagram: &mut ::emberstack::udp::UdpDatagram<'_, '_, N>,
            ) {
                self.app.udp_datagram(datagram)
            }

            fn raw_received<N: ::emberstack::nic::Nic>(
                &mut self,
                packet: &mut ::emberstack::raw::RawPacket<'_, '_, N>,
            ) {
                self.app.raw_received(packet)
            }

            fn tcp_event(
                &mut self,
                socket: ::emberstack::tcp::TcpHandle,
                event: ::emberstack::tcp::TcpEvent,
            ) {
                #(#tcp_event)*
                self.app.tcp_event(socket, event)
            }

            fn tcp_received<N: ::emberstack::nic::Nic>(
                &mut self,
                socket: ::emberstack::tcp::TcpHandle,
                data: &mut ::emberstack::tcp::TcpReader<'_, N>,
            ) -> usize {
                #(#tcp_received)*
                self.app.tcp_received(socket, data)
            }

            fn tcp_produce(
                &mut self,
                socket: ::emberstack::tcp::TcpHandle,
                offset: u32,
                max: usize,
                sink: &mut dyn ::emberstack::iface::PayloadSink,
            ) {
                #(#tcp_produce)*
                self.app.tcp_produce(socket, offset, max, sink)
            }

            fn tcp_wants_close(&mut self, socket: ::emberstack::tcp::TcpHandle) -> bool {
                #(#tcp_wants_close)*
                self.app.tcp_wants_close(socket)
            }

            fn tcp_recv_space(&mut self, socket: ::emberstack::tcp::TcpHandle) -> usize {
                #(#tcp_recv_space)*
                self.app.tcp_recv_space(socket)
            }
        }
    }
    }
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::tokens;

    fn squash(t: proc_macro2::TokenStream) -> String {
        t.to_string().split_whitespace().collect()
    }

    #[test]
    fn a_component_that_is_off_leaves_no_trace() {
        let none = squash(tokens(false, false, false));
        for absent in [
            "self.http",
            "self.smtp",
            "self.pop3",
            "web::",
            "SmtpApp",
            "Pop3App",
            "WebApp",
        ] {
            assert!(!none.contains(absent), "{absent} in {none}");
        }
        // Everything still goes to the application.
        assert!(
            none.contains("self.app.tcp_received(socket,data)"),
            "{none}"
        );
        let web = squash(tokens(true, false, false));
        assert!(web.contains("pubhttp:web::HttpServer"), "{web}");
        assert!(!web.contains("self.smtp") && !web.contains("self.pop3"));
    }

    #[test]
    fn every_tcp_callback_is_routed_to_each_component_that_is_on() {
        let all = squash(tokens(true, true, true));
        for part in ["http", "smtp", "pop3"] {
            for callback in [
                "tcp_event",
                "tcp_received",
                "tcp_produce",
                "tcp_wants_close",
            ] {
                // (The web server is asked for the socket's connection.)
                let call = if part == "http" {
                    "self.http.slot(socket)".to_owned()
                } else {
                    format!("self.{part}.owns(socket)")
                };
                let body = all
                    .split(&format!("fn{callback}"))
                    .nth(1)
                    .unwrap_or_else(|| panic!("no {callback}"));
                let body = body.split("fn").next().unwrap_or("");
                assert!(body.contains(&call), "{callback} does not ask {part}");
            }
            // Not forgotten (the hand routing forgot the mail clients here).
            let space = all.split("fntcp_recv_space").nth(1).unwrap_or("");
            assert!(space.contains(&format!("self.{part}.owns(socket)")));
        }
    }
}
