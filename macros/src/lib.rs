//! Proc-macros for emberstack.
//!
//! The macros bind application handlers to the slots `emberstack-codegen`
//! generated from `stack.toml`; they never read `stack.toml` themselves (a
//! proc-macro cannot track a file). Codegen writes, next to the `web`
//! module's `Handlers` trait, a `macro_rules!` binding (`web::__bind!`)
//! that carries the site's tag and form list. `#[http_var]` hands the
//! application's `impl` block to that binding, which passes the list and
//! the block to [`__http_bind!`]: so the checking macro sees both what
//! the pages use and what the application wrote, and its errors point at
//! the application's tokens.
//!
//! Structure (as RTIC's and embassy's macro crates): parse, check
//! (collecting every error with `syn::Error::combine`), generate. On
//! errors the impl is still emitted in a repaired form (stubs for missing
//! handlers, bad ones left out), so rustc adds no second round of
//! messages about the same mistakes.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned, ToTokens};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ImplItem, ItemImpl, LitStr, Path, ReturnType, Token, Type};

/// Marks the application's handlers for the web site's dynamic tags and
/// forms: put it on the `impl` of the `Handlers` trait codegen generated
/// (use the trait's module path, e.g. `web::Handlers`, so the attribute
/// finds the binding next to it; or name the module:
/// `#[http_var(crate::web)]`).
///
/// The example needs a generated site, so it is not a doctest; the same
/// shape compiles in `macros/tests/ui/` (trybuild) and `examples/app/web.rs`.
///
/// ```text
/// #[emberstack::http_var]
/// impl web::Handlers for WebState {
///     // `{{uptime}}` in a page: one method per tag...
///     fn uptime(&mut self, out: &mut emberstack::http::TagOut<'_>) {
///         let _ = write!(out, "{} s", self.uptime_secs);
///     }
///     // ...and per form of `[http.forms]`.
///     fn settings(&mut self, input: emberstack::http::Input<'_>) { /* ... */ }
/// }
/// ```
///
/// It checks the block against the pages — a tag a page uses without a
/// handler, a handler for a tag no page uses (with the nearest name), a
/// duplicate handler, a wrong signature: each is a compile error naming
/// the tag and its pages — and implements `emberstack::http::HttpApp` (the
/// dispatch the server calls) for the type.
#[proc_macro_attribute]
pub fn http_var(attr: TokenStream, item: TokenStream) -> TokenStream {
    match http_var_impl(attr.into(), item.into()) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn http_var_impl(attr: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let module: Option<Path> = if attr.is_empty() {
        None
    } else {
        Some(syn::parse2(attr)?)
    };
    let imp: ItemImpl = syn::parse2(item.clone()).map_err(|e| {
        syn::Error::new(
            e.span(),
            "#[http_var] goes on the `impl web::Handlers for YourType` block (the trait emberstack-codegen generated from the web root)",
        )
    })?;
    let Some(trait_path) = trait_of(&imp) else {
        return Err(syn::Error::new(
            imp.self_ty.span(),
            "#[http_var] needs the generated trait: write `impl web::Handlers for YourType`",
        ));
    };
    let module = match module {
        Some(m) => m,
        None => {
            let mut p = trait_path.clone();
            if p.segments.len() < 2 {
                return Err(syn::Error::new(
                    trait_path.span(),
                    "write the trait with its module path (`web::Handlers`) so #[http_var] finds the binding generated next to it, or name the module: `#[http_var(crate::web)]`",
                ));
            }
            p.segments.pop();
            // `pop` leaves the trailing `::`; rebuild without it.
            let segs: Vec<_> = p.segments.iter().cloned().collect();
            Path {
                leading_colon: p.leading_colon,
                segments: segs.into_iter().collect(),
            }
        }
    };
    Ok(quote! { #module::__bind! { #item } })
}

/// The trait path of an `impl Trait for T`.
fn trait_of(imp: &ItemImpl) -> Option<&Path> {
    imp.trait_.as_ref().map(|(p, _)| p)
}

mod kw {
    syn::custom_keyword!(tags);
    syn::custom_keyword!(forms);
}

/// A tag the site uses.
struct Tag {
    name: Ident,
    /// `/index.html and /status.json`.
    pages: String,
    /// `web/index.html:12:7` (its first use).
    at: String,
}

/// A form of `[http.forms]`.
struct Form {
    name: Ident,
    url: String,
}

/// The provided log hook of the `Handlers` trait.
const EVENT_HOOK: &str = "http_event";

fn parse_bind(input: ParseStream<'_>) -> syn::Result<(Vec<Tag>, Vec<Form>, ItemImpl)> {
    input.parse::<kw::tags>()?;
    let content;
    syn::braced!(content in input);
    let mut tags_out = Vec::new();
    while !content.is_empty() {
        let name: Ident = content.parse()?;
        content.parse::<Token![:]>()?;
        let pages: LitStr = content.parse()?;
        let at: LitStr = content.parse()?;
        content.parse::<Token![,]>()?;
        tags_out.push(Tag {
            name,
            pages: pages.value(),
            at: at.value(),
        });
    }
    input.parse::<kw::forms>()?;
    let content;
    syn::braced!(content in input);
    let mut forms_out = Vec::new();
    while !content.is_empty() {
        let name: Ident = content.parse()?;
        content.parse::<Token![:]>()?;
        let url: LitStr = content.parse()?;
        content.parse::<Token![,]>()?;
        forms_out.push(Form {
            name,
            url: url.value(),
        });
    }
    let item: ItemImpl = input.parse()?;
    Ok((tags_out, forms_out, item))
}

/// The checking half of the binding (called by the `__bind!` macro that
/// codegen generates; not for direct use).
#[doc(hidden)]
#[proc_macro]
pub fn __http_bind(input: TokenStream) -> TokenStream {
    let (tags, forms, imp) = match parse_bind.parse(input) {
        Ok(x) => x,
        Err(e) => return e.to_compile_error().into(),
    };
    bind(&tags, &forms, imp).into()
}

/// What a handler must look like.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Tag,
    Form,
    Event,
}

impl Slot {
    /// The type the argument's path ends in, and the expected signature.
    fn expect(self, name: &str) -> (&'static str, String) {
        match self {
            Slot::Tag => (
                "TagOut",
                format!("fn {name}(&mut self, out: &mut emberstack::http::TagOut<'_>)"),
            ),
            Slot::Form => (
                "Input",
                format!("fn {name}(&mut self, input: emberstack::http::Input<'_>)"),
            ),
            Slot::Event => (
                "HttpEvent",
                format!("fn {name}(&mut self, event: emberstack::http::HttpEvent<'_>)"),
            ),
        }
    }

    fn stub(self, name: &Ident) -> TokenStream2 {
        match self {
            Slot::Tag => quote! {
                fn #name(&mut self, out: &mut ::emberstack::http::TagOut<'_>) { let _ = out; }
            },
            Slot::Form => quote! {
                fn #name(&mut self, input: ::emberstack::http::Input<'_>) { let _ = input; }
            },
            Slot::Event => quote! {
                fn #name(&mut self, event: ::emberstack::http::HttpEvent<'_>) { let _ = event; }
            },
        }
    }
}

/// The last path segment of `ty` (through one `&mut`, when `by_ref`).
fn arg_type_ok(ty: &Type, by_ref: bool, want: &str) -> bool {
    let ty = match (by_ref, ty) {
        (true, Type::Reference(r)) if r.mutability.is_some() => &*r.elem,
        (true, _) => return false,
        (false, Type::Reference(_)) => return false,
        (false, t) => t,
    };
    match ty {
        Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == want),
        _ => false,
    }
}

/// Whether `sig` is `fn name(&mut self, x: T)` with `T` as `slot` wants.
fn signature_ok(sig: &syn::Signature, slot: Slot) -> bool {
    let (want, _) = slot.expect("");
    let recv_ok = match sig.inputs.first() {
        Some(FnArg::Receiver(r)) => {
            matches!(r.kind, syn::ReceiverKind::Reference(_, _, Some(_)))
        }
        _ => false,
    };
    let arg_ok = match (sig.inputs.len(), sig.inputs.iter().nth(1)) {
        (2, Some(FnArg::Typed(p))) => arg_type_ok(&p.ty, slot == Slot::Tag, want),
        _ => false,
    };
    let out_ok = match &sig.output {
        ReturnType::Default => true,
        ReturnType::Type(_, t) => matches!(&**t, Type::Tuple(t) if t.elems.is_empty()),
    };
    recv_ok
        && arg_ok
        && out_ok
        && sig.generics.params.is_empty()
        && sig.asyncness.is_none()
        && sig.constness.is_none()
        && sig.variadic.is_none()
}

/// Edit distance (case-insensitive), for "did you mean".
fn nearest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let limit = match name.chars().count() {
        0..=3 => 1,
        4..=6 => 2,
        _ => 3,
    };
    known
        .iter()
        .map(|k| {
            (
                strsim::damerau_levenshtein(&name.to_ascii_lowercase(), k),
                *k,
            )
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn bind(tags: &[Tag], forms: &[Form], mut imp: ItemImpl) -> TokenStream2 {
    let mut errors: Option<syn::Error> = None;
    let mut push = |e: syn::Error| match &mut errors {
        Some(all) => all.combine(e),
        None => errors = Some(e),
    };
    let Some(trait_path) = trait_of(&imp) else {
        return syn::Error::new(
            imp.self_ty.span(),
            "expected `impl web::Handlers for YourType`",
        )
        .to_compile_error();
    };
    let trait_path = trait_path.clone();
    let known: Vec<String> = tags
        .iter()
        .map(|t| t.name.to_string())
        .chain(forms.iter().map(|f| f.name.to_string()))
        .collect();
    let known_refs: Vec<&str> = known.iter().map(String::as_str).collect();
    let slot_of = |name: &str| -> Option<(Slot, String)> {
        if let Some(t) = tags.iter().find(|t| t.name == name) {
            return Some((Slot::Tag, format!("tag `{name}` (used by {})", t.pages)));
        }
        if let Some(f) = forms.iter().find(|f| f.name == name) {
            return Some((Slot::Form, format!("form `{name}` (for {})", f.url)));
        }
        (name == EVENT_HOOK).then(|| (Slot::Event, format!("the log hook `{name}`")))
    };

    let mut seen: Vec<(String, Span)> = Vec::new();
    let mut kept: Vec<ImplItem> = Vec::new();
    for item in std::mem::take(&mut imp.items) {
        let ImplItem::Fn(f) = &item else {
            push(syn::Error::new_spanned(
                &item,
                "only handler methods belong in the `impl Handlers` block (one per tag and form)",
            ));
            continue;
        };
        let name = f.sig.ident.to_string();
        let span = f.sig.ident.span();
        let Some((slot, what)) = slot_of(&name) else {
            let mut msg =
                format!("no page uses a tag `{{{{{name}}}}}` and no form is called `{name}`");
            match nearest(&name, &known_refs) {
                Some(n) => msg.push_str(&format!("; did you mean `{n}`?")),
                None if known_refs.is_empty() => msg.push_str(" (the site has no tags or forms)"),
                None => msg.push_str(&format!(
                    " (tags and forms: {})",
                    known_refs
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
            push(syn::Error::new(span, msg));
            continue;
        };
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            let mut e = syn::Error::new(span, format!("duplicate handler for {what}"));
            e.combine(syn::Error::new(
                *first,
                format!("the first handler for `{name}` is here"),
            ));
            push(e);
            continue;
        }
        seen.push((name.clone(), span));
        if !signature_ok(&f.sig, slot) {
            let (_, expected) = slot.expect(&name);
            push(syn::Error::new_spanned(
                &f.sig,
                format!("wrong signature for the handler of {what}: expected `{expected}`"),
            ));
            // Replaced by a stub below.
            continue;
        }
        kept.push(item);
    }
    let have = |n: &str| {
        kept.iter()
            .any(|i| matches!(i, ImplItem::Fn(f) if f.sig.ident == n))
    };
    let mut stubs = Vec::new();
    let missing = |msg: String| syn::Error::new_spanned(&trait_path, msg);
    for t in tags {
        let name = t.name.to_string();
        if !have(&name) {
            if !seen.iter().any(|(n, _)| *n == name) {
                push(missing(
                    format!(
                        "tag `{{{{{name}}}}}` is used by {} ({}) but has no handler: add `fn {name}(&mut self, out: &mut emberstack::http::TagOut<'_>)`",
                        t.pages, t.at
                    ),
                ));
            }
            stubs.push(Slot::Tag.stub(&Ident::new(&name, Span::call_site())));
        }
    }
    for f in forms {
        let name = f.name.to_string();
        if !have(&name) {
            if !seen.iter().any(|(n, _)| *n == name) {
                push(missing(
                    format!(
                        "form `{name}` (for {}, `[http.forms]` in stack.toml) has no handler: add `fn {name}(&mut self, input: emberstack::http::Input<'_>)`",
                        f.url
                    ),
                ));
            }
            stubs.push(Slot::Form.stub(&Ident::new(&name, Span::call_site())));
        }
    }
    if seen.iter().any(|(n, _)| n == EVENT_HOOK) && !have(EVENT_HOOK) {
        stubs.push(Slot::Event.stub(&Ident::new(EVENT_HOOK, Span::call_site())));
    }
    imp.items = kept;

    // The dispatch the server calls.
    let self_ty = &imp.self_ty;
    let (impl_generics, _, where_clause) = imp.generics.split_for_impl();
    let tag_arms = tags.iter().enumerate().map(|(i, t)| {
        let i = u16::try_from(i).unwrap_or(u16::MAX);
        let name = &t.name;
        quote!(#i => <Self as #trait_path>::#name(self, out),)
    });
    let form_arms = forms.iter().enumerate().map(|(i, f)| {
        let i = u8::try_from(i).unwrap_or(u8::MAX);
        let name = &f.name;
        quote!(#i => <Self as #trait_path>::#name(self, input),)
    });
    let event = Ident::new(EVENT_HOOK, Span::call_site());
    let dispatch = quote_spanned! {Span::call_site()=>
        impl #impl_generics ::emberstack::http::HttpApp for #self_ty #where_clause {
            fn tag(&mut self, tag: ::emberstack::http::TagId, out: &mut ::emberstack::http::TagOut<'_>) {
                match tag.0 {
                    #(#tag_arms)*
                    _ => { let _ = out; }
                }
            }
            fn input(&mut self, form: ::emberstack::http::FormId, input: ::emberstack::http::Input<'_>) {
                match form.0 {
                    #(#form_arms)*
                    _ => { let _ = input; }
                }
            }
            fn event(&mut self, event: ::emberstack::http::HttpEvent<'_>) {
                <Self as #trait_path>::#event(self, event)
            }
        }
    };
    let mut out = TokenStream2::new();
    if let Some(e) = errors {
        out.extend(e.to_compile_error());
    }
    let brace = imp.brace_token;
    let mut body = TokenStream2::new();
    for i in &imp.items {
        i.to_tokens(&mut body);
    }
    body.extend(stubs);
    let attrs = &imp.attrs;
    let unsafety = &imp.unsafety;
    let impl_token = &imp.impl_token;
    let generics = &imp.generics;
    let for_token = imp.trait_.as_ref().map(|(_, f)| *f);
    let mut block = TokenStream2::new();
    brace.surround(&mut block, |t| t.extend(body));
    out.extend(quote! {
        #(#attrs)* #unsafety #impl_token #generics #trait_path #for_token #self_ty #where_clause #block
    });
    out.extend(dispatch);
    out
}

/// Completes a trait `impl` with default items: the engine of
/// `emberstack::test_config!` (which holds the defaults next to the
/// `Config` trait, so a new item is added in one place).
///
/// Input: `impl Trait for Type { items... } defaults { items... }`.
/// Output: the `impl` with every default whose name the `impl` does not
/// already define appended. A default given twice, or an `impl` item the
/// defaults do not know, is left to rustc (which names the item).
#[doc(hidden)]
#[proc_macro]
pub fn __impl_with_defaults(input: TokenStream) -> TokenStream {
    match Parser::parse(parse_with_defaults, input) {
        Ok((mut imp, defaults)) => {
            let given: Vec<Ident> = imp.items.iter().filter_map(impl_item_name).collect();
            imp.items.extend(
                defaults
                    .into_iter()
                    .filter(|d| impl_item_name(d).is_none_or(|name| !given.contains(&name))),
            );
            imp.into_token_stream().into()
        }
        Err(e) => e.to_compile_error().into(),
    }
}

fn parse_with_defaults(input: ParseStream<'_>) -> syn::Result<(ItemImpl, Vec<ImplItem>)> {
    let imp: ItemImpl = input.parse()?;
    let kw: Ident = input.parse()?;
    if kw != "defaults" {
        return Err(syn::Error::new(kw.span(), "expected `defaults { ... }`"));
    }
    let content;
    syn::braced!(content in input);
    let mut defaults = Vec::new();
    while !content.is_empty() {
        defaults.push(content.parse()?);
    }
    Ok((imp, defaults))
}

/// The name an `impl` item defines (a constant, a type or a method).
fn impl_item_name(item: &ImplItem) -> Option<Ident> {
    match item {
        ImplItem::Const(c) => Some(c.ident.clone()),
        ImplItem::Type(t) => Some(t.ident.clone()),
        ImplItem::Fn(f) => Some(f.sig.ident.clone()),
        _ => None,
    }
}
