//! Tokens: the `web` module of the generated code (site, settings, server
//! type, the `Handlers` trait and the binding macro `#[http_var]` expands
//! to) from the built ROM.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;

use crate::schema::http::RESERVED_HANDLER;
use crate::schema::HttpSection;

use super::{Escape, Rep, RomBody, RomFile, RomPart, WebRom};

fn escape_tokens(e: Escape) -> TokenStream {
    match e {
        Escape::Html => quote!(::emberstack::http::Escape::Html),
        Escape::Json => quote!(::emberstack::http::Escape::Json),
        Escape::Raw => quote!(::emberstack::http::Escape::Raw),
    }
}

fn rep_tokens(r: &Rep) -> TokenStream {
    let head = Literal::byte_string(r.head.as_bytes());
    let body = Literal::byte_string(&r.body);
    // The ETag is not emitted on its own: the runtime reads it from the
    // head's `ETag` line (`Representation::etag`).
    quote! {
        ::emberstack::http::Representation {
            head: ::emberstack::http::Summed::new(#head),
            body: ::emberstack::http::Summed::new(#body),
        }
    }
}

/// The `Features` of the server (`HttpFeatures`: the switches of
/// `[http]`) and the server type. With every switch on (the default) they
/// are the runtime's `AllFeatures` and the server's default parameter.
fn features(s: &HttpSection, n: &Literal, b: &Literal) -> (TokenStream, TokenStream) {
    let on = [
        s.multipart,
        s.urlencoded,
        s.keep_alive,
        s.gzip,
        s.expect_continue,
        s.etag,
        s.chunked,
    ];
    if on.iter().all(|&f| f) {
        return (
            quote! {
                /// The optional features of `[http]`: all on.
                #[allow(dead_code)]
                pub type Features = ::emberstack::http::AllFeatures;
            },
            quote!(::emberstack::http::HttpServer<#n, #b>),
        );
    }
    let [multipart, urlencoded, keep_alive, gzip, expect_continue, etag, chunked] = on;
    (
        quote! {
            /// The optional features switched in `[http]`: a feature that
            /// is off is compiled out of the server.
            #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
            pub struct Features;

            impl ::emberstack::http::HttpFeatures for Features {
                const MULTIPART: bool = #multipart;
                const URLENCODED: bool = #urlencoded;
                const KEEP_ALIVE: bool = #keep_alive;
                const GZIP: bool = #gzip;
                const CONTINUE: bool = #expect_continue;
                const ETAG: bool = #etag;
                const CHUNKED: bool = #chunked;
            }
        },
        quote!(::emberstack::http::HttpServer<#n, #b, Features>),
    )
}

/// "/index.html and /status.json" style lists.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The `web` module of the generated file.
pub fn tokens(rom: &WebRom, cfg: &HttpSection, device_name: &str, toml_file: &str) -> TokenStream {
    // The files' paths in one string, each file holding its place in it
    // (`build` refused a site whose paths do not fit 16 bits).
    let mut paths = String::new();
    let files: Vec<TokenStream> = rom
        .files
        .iter()
        .map(|f| {
            let at = paths.len();
            paths.push_str(&f.url);
            file_tokens(f, at)
        })
        .collect();
    let paths = Literal::string(&paths);
    // Names are identifiers: a space separates them.
    let tag_names = rom.tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>();
    let tag_names = Literal::string(&tag_names.join(" "));
    let form_names = rom
        .forms
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>();
    let form_names = Literal::string(&form_names.join(" "));

    // Lowercase: the server folds the `Host` value to compare.
    let host_name = device_name.to_ascii_lowercase();
    let s = cfg;
    let port = Literal::u16_unsuffixed(s.port);
    let idle = Literal::u32_unsuffixed(s.idle_timeout_secs.saturating_mul(1000));
    let req = Literal::u32_unsuffixed(s.request_timeout_secs.saturating_mul(1000));
    let line = Literal::u16_unsuffixed(s.max_request_line);
    let hdr = Literal::u16_unsuffixed(s.max_header_bytes);
    let body = Literal::u32_unsuffixed(s.max_body);
    let gz = s.gzip;
    let n = Literal::usize_unsuffixed(s.sockets);
    let b = Literal::usize_unsuffixed(s.buffer);
    let rom_bytes = Literal::usize_unsuffixed(rom.content_bytes());
    let (features, server) = features(s, &n, &b);

    let (tag_methods, form_methods) = handler_methods(rom);
    let (bind_tags, bind_forms) = bind_lists(rom);
    let reserved = Ident::new(RESERVED_HANDLER, Span::call_site());
    let summary = format!(
        " The web site from `{}` (`[http]` in `{toml_file}`): {} files, {} tags, {} forms; {} connections on port {} with {}-byte buffers.",
        s.web_root,
        rom.files.len(),
        rom.tags.len(),
        rom.forms.len(),
        s.sockets,
        s.port,
        s.buffer
    );
    quote! {
        #[doc = #summary]
        pub mod web {
            /// Server settings from `[http]`.
            pub static SETTINGS: ::emberstack::http::HttpSettings = ::emberstack::http::HttpSettings {
                port: #port,
                idle_timeout_ms: #idle,
                request_timeout_ms: #req,
                max_request_line: #line,
                max_header_bytes: #hdr,
                max_body: #body,
                gzip: #gz,
                host_name: #host_name,
            };

            /// Every file of the web root, sorted by path.
            pub static SITE: ::emberstack::http::Site = ::emberstack::http::Site {
                files: &[#(#files),*],
                paths: #paths,
                tags: #tag_names,
                forms: #form_names,
            };

            #features

            /// The server sized from `[http]` (`sockets` connections,
            /// `buffer` bytes each) with its [`Features`].
            pub type HttpServer = #server;

            /// A server for [`SITE`] with [`SETTINGS`] (no sockets open yet).
            pub const fn server() -> HttpServer {
                ::emberstack::http::HttpServer::new(&SITE, &SETTINGS)
            }

            /// Bytes of RAM the server state occupies.
            #[allow(dead_code)]
            pub const RAM_BYTES: usize = ::core::mem::size_of::<HttpServer>();

            /// Bytes of web content in flash (paths, heads, bodies, gzip
            /// twins, ETags, the text of dynamic pages), as counted at
            /// build time: the site's share of a firmware's flash.
            #[allow(dead_code)]
            pub const ROM_BYTES: usize = #rom_bytes;

            /// The application's handlers: one method per dynamic tag and per
            /// form. Implement it with `#[emberstack::http_var]` on the `impl`
            /// block, which checks it against the pages and implements
            /// `emberstack::http::HttpApp` (the dispatch the server calls).
            pub trait Handlers {
                #tag_methods
                #form_methods
                /// Server events (responses, cut tags, resets), for a log.
                fn #reserved(&mut self, event: ::emberstack::http::HttpEvent<'_>) {
                    let _ = event;
                }
            }

            #[doc(hidden)]
            #[allow(unused_macros)]
            macro_rules! __emberstack_http_bind {
                ($($item:tt)*) => {
                    ::emberstack::__http_bind! {
                        tags { #bind_tags }
                        forms { #bind_forms }
                        $($item)*
                    }
                };
            }
            #[doc(hidden)]
            #[allow(unused_imports)]
            pub(crate) use __emberstack_http_bind as __bind;
        }
    }
}

/// One file of the site: `File { path_at, path_len, form, body }`, its
/// path at `at` in the site's `paths`.
fn file_tokens(f: &RomFile, at: usize) -> TokenStream {
    let path_at = Literal::u16_unsuffixed(u16::try_from(at).unwrap_or(u16::MAX));
    // (`build` refused a longer path and more forms than a byte numbers.)
    let path_len = Literal::u8_unsuffixed(u8::try_from(f.url.len()).unwrap_or(u8::MAX));
    let body = match &f.body {
        RomBody::Static { plain, gzip } => {
            let plain = rep_tokens(plain);
            let gzip = match gzip {
                Some(g) => {
                    let g = rep_tokens(g);
                    quote!(::core::option::Option::Some(&#g))
                }
                None => quote!(::core::option::Option::None),
            };
            quote!(::emberstack::http::Body::Static { plain: #plain, gzip: #gzip })
        }
        RomBody::Dynamic { head, parts } => {
            let head = Literal::byte_string(head.as_bytes());
            // The page's text in one string, each tag at its offset in it
            // (`build` refused a page whose text does not fit 16 bits).
            let mut text = Vec::new();
            let mut tags = Vec::new();
            for p in parts {
                match p {
                    RomPart::Text(t) => text.extend_from_slice(t),
                    RomPart::Tag(id, e) => {
                        let at =
                            Literal::u16_unsuffixed(u16::try_from(text.len()).unwrap_or(u16::MAX));
                        let id = Literal::u16_unsuffixed(u16::try_from(*id).unwrap_or(u16::MAX));
                        let e = escape_tokens(*e);
                        tags.push(quote!(::emberstack::http::TagSlot::new(#at, ::emberstack::http::TagId(#id), #e)));
                    }
                }
            }
            let text = Literal::byte_string(&text);
            quote!(::emberstack::http::Body::Dynamic {
                head: ::emberstack::http::Summed::new(#head),
                text: #text,
                tags: &[#(#tags),*],
            })
        }
    };
    let form = match f.form {
        Some(i) => {
            let i = Literal::u8_unsuffixed(u8::try_from(i).unwrap_or(u8::MAX));
            quote!(#i)
        }
        None => quote!(::emberstack::http::File::NO_FORM),
    };
    quote!(::emberstack::http::File { path_at: #path_at, path_len: #path_len, form: #form, body: #body })
}

/// The methods of the `Handlers` trait: one per tag (documented with the
/// pages and places using it) and one per form.
fn handler_methods(rom: &WebRom) -> (TokenStream, TokenStream) {
    let tag_methods = rom.tags.iter().map(|t| {
        let ident = Ident::new(&t.name, Span::call_site());
        let pages: Vec<String> = t.uses.iter().map(|(u, at)| format!("{u} ({at})")).collect();
        let doc = format!(" `{{{{{}}}}}` in {}.", t.name, and_list(&pages));
        quote! {
            #[doc = #doc]
            fn #ident(&mut self, out: &mut ::emberstack::http::TagOut<'_>);
        }
    });
    let form_methods = rom.forms.iter().map(|(name, url)| {
        let ident = Ident::new(name, Span::call_site());
        let doc = format!(
            " Form input for {url} (`[http.forms] {name}`): its query string and POST body."
        );
        quote! {
            #[doc = #doc]
            fn #ident(&mut self, input: ::emberstack::http::Input<'_>);
        }
    });
    (quote!(#(#tag_methods)*), quote!(#(#form_methods)*))
}

/// What `#[http_var]` checks the application's handlers against: each
/// tag with its pages and first use, each form with its path.
fn bind_lists(rom: &WebRom) -> (TokenStream, TokenStream) {
    let bind_tags = rom.tags.iter().map(|t| {
        let ident = Ident::new(&t.name, Span::call_site());
        let mut pages: Vec<String> = t.uses.iter().map(|(u, _)| u.clone()).collect();
        pages.dedup();
        let pages = Literal::string(&and_list(&pages));
        let at = Literal::string(&t.uses.first().map(|u| u.1.clone()).unwrap_or_default());
        quote!(#ident : #pages #at,)
    });
    let bind_forms = rom.forms.iter().map(|(name, url)| {
        let ident = Ident::new(name, Span::call_site());
        let url = Literal::string(url);
        quote!(#ident : #url,)
    });
    (quote!(#(#bind_tags)*), quote!(#(#bind_forms)*))
}
