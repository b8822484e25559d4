//! `#[kioto::messages]`: turn marked methods of an actor's inherent impl
//! block into messages and handlers.
//!
//! ```text
//! #[kioto::messages]
//! impl Counter {
//!     /// Adds `by`.
//!     #[message]                                /// Adds `by`.
//!     pub async fn inc(&mut self, by: u64)  ==> pub struct Inc { pub by: u64 }
//!         -> u64 { .. }                         impl Message for Inc { type Result = u64; }
//!                                               impl Handler<Inc> for Counter {
//!                                                   async fn handle(&mut self, msg: Inc, ctx)
//!                                                       -> <Inc as Message>::Result {
//!                                                       let Inc { by: a0 } = msg;
//!                                                       Self::inc(self, a0).await
//!                                                   }
//!                                               }
//!     #[handler]
//!     async fn on_ping(&mut self, p: Ping)  ==> impl Handler<Ping> for Counter { .. calls on_ping .. }
//!         -> Pong { .. }
//! }
//! ```
//!
//! The impl block itself is emitted unchanged apart from the markers, so the
//! methods stay callable directly. The work happens in three phases, as in
//! thiserror's impl crate:
//!
//! - parse: [`take_markers`] strips `#[message]`/`#[handler]` from the block
//!   and reads their options;
//! - validate: [`validate_message`]/[`validate_handler`] check each marked
//!   method and build a small model of it ([`MessageMethod`],
//!   [`HandlerMethod`]), or an error spanning the offending tokens;
//! - expand: [`expand_message`]/[`expand_handler`] emit the items.
//!
//! A method that fails validation generates nothing, but the others still
//! do, and the impl block is always emitted, so one mistake gives one error.
//!
//! Message structs are not generic: their fields are the method's parameter
//! types, with `Self` replaced by the actor type. The impl block's generics
//! carry through to the `Handler` impls only, so a parameter that mentions
//! them is an error. Since a message travels to another task, its fields and
//! result must be `'static`; borrowed parameter types are rejected early
//! with advice rather than left to a lifetime error in generated code.
//!
//! For a `#[handler]` the method's return type must equal the message's
//! `Result`. The handler passes the method's value through
//! `__kioto_result::<M, R>` whose bound is `M: Message<Result = R>`; that
//! call is spanned at the user's return type, so a mismatch is reported
//! there, once.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{
    Attribute, FnArg, Generics, Ident, ImplItem, ImplItemFn, Item, ItemImpl, LitStr, Meta, Pat,
    PatType, ReturnType, Signature, Token, Type, Visibility,
};

use crate::crate_path::{self, Krate, Need};
use crate::errors::Errors;

// ---------------------------------------------------------------- parse --

/// The arguments of `#[kioto::messages(..)]`.
#[derive(Default)]
struct Options {
    krate: Option<Krate>,
}

fn parse_options(args: TokenStream) -> syn::Result<Options> {
    const VALID: &str = "the valid option is `crate = \"path\"`";
    let parser = |input: ParseStream<'_>| -> syn::Result<Options> {
        let mut opts = Options::default();
        if input.is_empty() {
            return Ok(opts);
        }
        if !input.peek(Token![crate]) {
            return Err(input.error(format!("unknown option: {VALID}")));
        }
        let (_, path) = crate_path::parse_crate_option(input)?;
        opts.krate = Some(Krate::from_override(path));
        let _: Option<Token![,]> = input.parse()?;
        if !input.is_empty() {
            return Err(input.error(format!("unexpected tokens: {VALID}")));
        }
        Ok(opts)
    };
    parser.parse2(args)
}

/// Options of one `#[message(..)]`.
#[derive(Default)]
struct MessageOpts {
    /// `name = "Increment"`: the struct's name instead of the method's.
    name: Option<Ident>,
    /// `derive(Debug, Clone)`: derives for the struct.
    derives: Option<TokenStream>,
}

/// A marker found on a method.
enum Marker {
    Message(MessageOpts),
    Handler,
}

const MESSAGE_OPTIONS: &str = "valid options are `name = \"StructName\"` and `derive(Trait, ..)`";

/// Whether `attr` is `#[name]`/`#[name(..)]` or `#[some_crate::name]`.
fn is_marker(attr: &Attribute, name: &str) -> bool {
    let path = attr.path();
    path.segments.len() <= 2 && path.segments.last().is_some_and(|s| s.ident == name)
}

fn parse_message_opts(attr: &Attribute) -> syn::Result<MessageOpts> {
    match &attr.meta {
        Meta::Path(_) => Ok(MessageOpts::default()),
        Meta::NameValue(_) => Err(syn::Error::new_spanned(
            attr,
            format!("write `#[message]` or `#[message(..)]`: {MESSAGE_OPTIONS}"),
        )),
        Meta::List(_) => attr.parse_args_with(|input: ParseStream<'_>| {
            let mut opts = MessageOpts::default();
            while !input.is_empty() {
                let key: Ident = input.parse().map_err(|e| {
                    syn::Error::new(e.span(), format!("expected an option: {MESSAGE_OPTIONS}"))
                })?;
                if key == "name" && opts.name.is_none() {
                    let _: Token![=] = input.parse()?;
                    let name = if input.peek(LitStr) {
                        let lit: LitStr = input.parse()?;
                        lit.parse::<Ident>().map_err(|_| {
                            syn::Error::new_spanned(
                                &lit,
                                "`name` must be a struct name, e.g. `name = \"Increment\"`",
                            )
                        })?
                    } else {
                        input.parse::<Ident>()?
                    };
                    opts.name = Some(name);
                } else if key == "derive" && opts.derives.is_none() {
                    let content;
                    syn::parenthesized!(content in input);
                    opts.derives = Some(content.parse()?);
                } else if key == "name" || key == "derive" {
                    return Err(syn::Error::new_spanned(
                        &key,
                        format!("duplicate option `{key}`"),
                    ));
                } else {
                    return Err(syn::Error::new_spanned(
                        &key,
                        format!("unknown option `{key}`: {MESSAGE_OPTIONS}"),
                    ));
                }
                if input.is_empty() {
                    break;
                }
                let _: Token![,] = input.parse()?;
            }
            Ok(opts)
        }),
    }
}

fn attrs_mut(item: &mut ImplItem) -> Option<&mut Vec<Attribute>> {
    match item {
        ImplItem::Const(c) => Some(&mut c.attrs),
        ImplItem::Fn(f) => Some(&mut f.attrs),
        ImplItem::Type(t) => Some(&mut t.attrs),
        ImplItem::Macro(m) => Some(&mut m.attrs),
        _ => None,
    }
}

/// Strips the markers from every item of the block and returns the marked
/// methods (as they were, minus the marker) with their marker.
fn take_markers(imp: &mut ItemImpl, errors: &mut Errors) -> Vec<(Marker, ImplItemFn)> {
    let mut marked = Vec::new();
    for item in &mut imp.items {
        let Some(attrs) = attrs_mut(item) else {
            continue;
        };
        let mut markers = Vec::new();
        attrs.retain(|attr| {
            if is_marker(attr, "message") || is_marker(attr, "handler") {
                markers.push(attr.clone());
                false
            } else {
                true
            }
        });
        let Some(first) = markers.first() else {
            continue;
        };
        let ImplItem::Fn(method) = item else {
            errors.push(syn::Error::new_spanned(
                first,
                "#[message] and #[handler] go on methods: write them on an `fn`",
            ));
            continue;
        };
        for extra in &markers[1..] {
            errors.push(syn::Error::new_spanned(
                extra,
                "a method is either a #[message] or a #[handler], once: keep one marker",
            ));
        }
        let marker = if is_marker(first, "message") {
            match parse_message_opts(first) {
                Ok(opts) => Marker::Message(opts),
                Err(err) => {
                    errors.push(err);
                    continue;
                }
            }
        } else {
            if !matches!(first.meta, Meta::Path(_)) {
                errors.push(syn::Error::new_spanned(
                    first,
                    "#[handler] takes no options: write `#[handler]`",
                ));
                continue;
            }
            Marker::Handler
        };
        marked.push((marker, method.clone()));
    }
    marked
}

// ------------------------------------------------------------- validate --

/// What every generated item needs to know about the impl block.
struct ImplInfo<'a> {
    krate: &'a Krate,
    self_ty: &'a Type,
    generics: &'a Generics,
    /// Names of the block's type and const parameters.
    param_names: Vec<Ident>,
}

impl<'a> ImplInfo<'a> {
    fn new(imp: &'a ItemImpl, krate: &'a Krate) -> Self {
        let param_names = imp
            .generics
            .type_params()
            .map(|p| p.ident.clone())
            .chain(imp.generics.const_params().map(|p| p.ident.clone()))
            .collect();
        ImplInfo {
            krate,
            self_ty: &imp.self_ty,
            generics: &imp.generics,
            param_names,
        }
    }
}

/// A validated `#[message]` method.
struct MessageMethod {
    /// `#[cfg]`s of the method, repeated on every generated item.
    cfgs: Vec<Attribute>,
    docs: Vec<Attribute>,
    vis: Visibility,
    method: Ident,
    name: Ident,
    derives: Option<TokenStream>,
    /// Field names and types (`Self` replaced by the actor type).
    fields: Vec<(Ident, Type)>,
    has_ctx: bool,
    is_async: bool,
    /// The `Result` type (`Self` replaced), `()` when the method has none.
    output: Type,
}

/// A validated `#[handler]` method.
struct HandlerMethod {
    cfgs: Vec<Attribute>,
    method: Ident,
    /// The message type (`Self` replaced by the actor type).
    message: Type,
    has_ctx: bool,
    is_async: bool,
    /// The declared return type, `()` when there is none, spanned so that
    /// a mismatch with the message's `Result` points at it.
    output: Type,
    output_span: Span,
}

fn cfg_attrs(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .cloned()
        .collect()
}

/// Checks what both markers need: `&mut self`, no generics, not `unsafe`.
fn check_signature(sig: &Signature, marker: &str) -> syn::Result<()> {
    let mut errors = Errors::default();
    match sig.inputs.first() {
        Some(FnArg::Receiver(receiver)) if is_mut_self(&receiver.ty) => {}
        Some(FnArg::Receiver(receiver)) => errors.push(syn::Error::new_spanned(
            receiver,
            format!(
                "a {marker} method takes `&mut self`, as the actor handles one message at a \
                 time with exclusive access to its state: write `&mut self`"
            ),
        )),
        _ => errors.push(syn::Error::new_spanned(
            &sig.ident,
            format!(
                "a {marker} method needs a `&mut self` receiver: write `fn {}(&mut self, ..)`",
                sig.ident
            ),
        )),
    }
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            format!(
                "a {marker} method cannot be generic: it becomes the handler of one concrete \
                 message type; use concrete types"
            ),
        ));
    } else if let Some(where_clause) = &sig.generics.where_clause {
        errors.push(syn::Error::new_spanned(
            where_clause,
            format!("a {marker} method cannot have a where clause: use concrete types"),
        ));
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.push(syn::Error::new_spanned(
            unsafety,
            format!("a {marker} method cannot be `unsafe`: the handler calls it from safe code"),
        ));
    }
    match errors.into_inner() {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// `&mut Self` (also the type syn gives the shorthand `&mut self`).
fn is_mut_self(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) => {
            r.mutability.is_some()
                && r.lifetime.as_ref().is_none_or(|lt| lt.ident == "_")
                && matches!(&*r.elem, Type::Path(p) if p.qself.is_none() && p.path.is_ident("Self"))
        }
        _ => false,
    }
}

/// `&mut Context<..>` (by the last path segment), the optional last parameter.
fn is_context(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) if r.mutability.is_some() => match &*r.elem {
            Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Context"),
            _ => false,
        },
        _ => false,
    }
}

fn typed_params(sig: &Signature) -> Vec<&PatType> {
    sig.inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(pat) => Some(pat),
            FnArg::Receiver(_) => None,
        })
        .collect()
}

/// Where a type checked by [`check_owned`] ends up.
#[derive(Clone, Copy)]
enum Role {
    Field,
    Result,
}

/// Finds borrowed or `impl Trait` types, which cannot cross to another task.
struct OwnedCheck {
    role: Role,
    error: Option<syn::Error>,
}

impl OwnedCheck {
    fn borrowed(&mut self, tokens: impl ToTokens) {
        let what = match self.role {
            Role::Field => "a message field is moved to the actor's task",
            Role::Result => "a message's result is sent back to the caller's task",
        };
        self.error.get_or_insert_with(|| {
            syn::Error::new_spanned(
                tokens,
                format!(
                    "{what}, so it cannot borrow: use an owned type such as `String`, \
                     `Vec<T>` or `Arc<T>` (or a `'static` reference)"
                ),
            )
        });
    }
}

impl VisitMut for OwnedCheck {
    fn visit_type_reference_mut(&mut self, r: &mut syn::TypeReference) {
        match &r.lifetime {
            Some(lt) if lt.ident == "static" => self.visit_type_mut(&mut r.elem),
            _ => self.borrowed(&*r),
        }
    }

    fn visit_lifetime_mut(&mut self, lt: &mut syn::Lifetime) {
        if lt.ident != "static" {
            self.borrowed(&*lt);
        }
    }

    fn visit_type_impl_trait_mut(&mut self, t: &mut syn::TypeImplTrait) {
        let what = match self.role {
            Role::Field => "a message field needs a named type: `impl Trait` would make the method generic",
            Role::Result => "the return type becomes the message's `Result` type, so it must be a named type, not `impl Trait`",
        };
        self.error
            .get_or_insert_with(|| syn::Error::new_spanned(&*t, what));
    }

    // Lifetimes in `fn(&str)`, `Fn(&str)` and `for<'a>` bounds are
    // higher-ranked: they do not borrow anything the message would carry.
    fn visit_type_bare_fn_mut(&mut self, _: &mut syn::TypeBareFn) {}

    fn visit_parenthesized_generic_arguments_mut(
        &mut self,
        _: &mut syn::ParenthesizedGenericArguments,
    ) {
    }

    fn visit_trait_bound_mut(&mut self, bound: &mut syn::TraitBound) {
        if bound.lifetimes.is_none() {
            visit_mut::visit_trait_bound_mut(self, bound);
        }
    }
}

fn check_owned(ty: &Type, role: Role) -> syn::Result<()> {
    let mut check = OwnedCheck { role, error: None };
    check.visit_type_mut(&mut ty.clone());
    check.error.map_or(Ok(()), Err)
}

/// Rejects a message type that mentions the impl block's generics (or
/// `Self`, which names them), since the message struct is not generic.
fn check_not_using_impl_generics(info: &ImplInfo<'_>, ty: &Type) -> syn::Result<()> {
    let generic = !info.generics.params.is_empty();
    let found = find_ident(ty.to_token_stream(), &|ident| {
        info.param_names.iter().any(|p| p == ident) || (generic && ident == "Self")
    });
    match found {
        None => Ok(()),
        Some(ident) => Err(syn::Error::new_spanned(
            &ident,
            format!(
                "the generated message struct is not generic, so it cannot use `{ident}` from \
                 the impl block's generics: use a concrete type, or define the message yourself \
                 with #[derive(Message)] and handle it with #[handler]"
            ),
        )),
    }
}

/// `tokens` with every span (groups included) set to `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|tt| match tt {
            TokenTree::Group(group) => {
                let mut new = Group::new(group.delimiter(), respan(group.stream(), span));
                new.set_span(span);
                TokenTree::Group(new)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}

fn find_ident(tokens: TokenStream, pred: &dyn Fn(&Ident) -> bool) -> Option<Ident> {
    tokens.into_iter().find_map(|tt| match tt {
        TokenTree::Ident(ident) if pred(&ident) => Some(ident),
        TokenTree::Group(group) => find_ident(group.stream(), pred),
        _ => None,
    })
}

/// Replaces `Self` by the actor type, for types used outside the impl.
struct ReplaceSelf<'a>(&'a Type);

impl VisitMut for ReplaceSelf<'_> {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::Path(p) = ty {
            if p.qself.is_none() && p.path.is_ident("Self") {
                *ty = self.0.clone();
                return;
            }
        }
        visit_mut::visit_type_mut(self, ty);
    }
}

fn replace_self(info: &ImplInfo<'_>, ty: &Type) -> Type {
    let mut ty = ty.clone();
    ReplaceSelf(info.self_ty).visit_type_mut(&mut ty);
    ty
}

/// `inc` → `Inc`, `get_count` → `GetCount`, `r#type` → `Type`.
fn upper_camel(ident: &Ident) -> Ident {
    let name = ident.to_string();
    let name = name.strip_prefix("r#").unwrap_or(&name);
    let mut out = String::new();
    for part in name.split('_').filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    if out.is_empty() {
        out.push_str("Message");
    }
    Ident::new(&out, ident.span())
}

fn validate_message(
    info: &ImplInfo<'_>,
    opts: MessageOpts,
    method: &ImplItemFn,
) -> syn::Result<MessageMethod> {
    let sig = &method.sig;
    let mut errors = Errors::default();
    if let Err(err) = check_signature(sig, "#[message]") {
        errors.push(err);
    }
    let mut params = typed_params(sig);
    let has_ctx = params.last().is_some_and(|p| is_context(&p.ty));
    if has_ctx {
        params.pop();
    }
    let mut fields = Vec::new();
    for param in params {
        let name = match &*param.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => pat.ident.clone(),
            other => {
                errors.push(syn::Error::new_spanned(
                    other,
                    "a #[message] parameter becomes a field of the message struct, so it needs \
                     a plain name: write `name: Type`",
                ));
                continue;
            }
        };
        let checked = check_owned(&param.ty, Role::Field)
            .and_then(|()| check_not_using_impl_generics(info, &param.ty));
        match checked {
            Ok(()) => fields.push((name, replace_self(info, &param.ty))),
            Err(err) => errors.push(err),
        }
    }
    let output = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => {
            let checked = check_owned(ty, Role::Result)
                .and_then(|()| check_not_using_impl_generics(info, ty));
            if let Err(err) = checked {
                errors.push(err);
            }
            replace_self(info, ty)
        }
    };
    if let Some(err) = errors.into_inner() {
        return Err(err);
    }
    Ok(MessageMethod {
        cfgs: cfg_attrs(&method.attrs),
        docs: method
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .cloned()
            .collect(),
        vis: method.vis.clone(),
        method: sig.ident.clone(),
        name: opts.name.unwrap_or_else(|| upper_camel(&sig.ident)),
        derives: opts.derives,
        fields,
        has_ctx,
        is_async: sig.asyncness.is_some(),
        output,
    })
}

fn validate_handler(info: &ImplInfo<'_>, method: &ImplItemFn) -> syn::Result<HandlerMethod> {
    let sig = &method.sig;
    let mut errors = Errors::default();
    if let Err(err) = check_signature(sig, "#[handler]") {
        errors.push(err);
    }
    let params = typed_params(sig);
    if params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.ident,
            format!(
                "a #[handler] method takes the message it handles: write \
                 `fn {}(&mut self, msg: MyMessage)`, optionally followed by \
                 `ctx: &mut Context<Self>`",
                sig.ident
            ),
        ));
    } else if params.len() > 2 {
        let extra: TokenStream = params[2..]
            .iter()
            .flat_map(|p| p.to_token_stream())
            .collect();
        errors.push(syn::Error::new_spanned(
            extra,
            "a #[handler] method takes the message and, optionally, `ctx: &mut Context<Self>`: \
             remove the other parameters",
        ));
    }
    if let Some(err) = errors.into_inner() {
        return Err(err);
    }
    let (output, output_span) = match &sig.output {
        ReturnType::Default => (syn::parse_quote!(()), sig.paren_token.span.close()),
        ReturnType::Type(_, ty) => ((**ty).clone(), ty.span()),
    };
    Ok(HandlerMethod {
        cfgs: cfg_attrs(&method.attrs),
        method: sig.ident.clone(),
        message: replace_self(info, &params[0].ty),
        has_ctx: params.len() == 2,
        is_async: sig.asyncness.is_some(),
        output,
        output_span,
    })
}

// --------------------------------------------------------------- expand --

fn expand_message(info: &ImplInfo<'_>, m: &MessageMethod) -> TokenStream {
    let path = info.krate.path();
    let MessageMethod {
        cfgs,
        docs,
        vis,
        method,
        name,
        derives,
        fields,
        has_ctx,
        is_async,
        output,
    } = m;
    let docs = if docs.is_empty() {
        let doc = format!(
            " The message for the actor's `{method}` method (generated by `#[kioto::messages]`)."
        );
        quote! { #[doc = #doc] }
    } else {
        quote! { #(#docs)* }
    };
    let derives = derives.as_ref().map(|d| quote! { #[derive(#d)] });
    let body = if fields.is_empty() {
        quote! { ; }
    } else {
        let defs = fields.iter().map(|(field, ty)| {
            let doc = format!(" The `{field}` argument of `{method}`.");
            quote! { #[doc = #doc] #vis #field: #ty, }
        });
        quote! { { #(#defs)* } }
    };
    let result = quote_spanned! {output.span()=> type Result = #output; };
    let field_names = fields.iter().map(|(field, _)| field);
    let bindings: Vec<Ident> = (0..fields.len())
        .map(|i| format_ident!("__kioto_arg{}", i))
        .collect();
    let ctx = has_ctx.then(|| quote! { __kioto_ctx, });
    let wait = is_async.then(|| quote! { .await });
    let signature = handle_signature(path, method, &name.to_token_stream());
    let (impl_generics, _, where_clause) = info.generics.split_for_impl();
    let self_ty = info.self_ty;
    quote! {
        #(#cfgs)*
        #docs
        #derives
        #vis struct #name #body

        #(#cfgs)*
        #[automatically_derived]
        impl #path::Message for #name {
            #result
        }

        #(#cfgs)*
        #[automatically_derived]
        impl #impl_generics #path::Handler<#name> for #self_ty #where_clause {
            #signature {
                let #name { #(#field_names: #bindings),* } = __kioto_msg;
                Self::#method(self, #(#bindings,)* #ctx) #wait
            }
        }
    }
}

/// `async fn handle(..) -> <M as Message>::Result`, spanned at the user's
/// method so that errors about the handler's future (most often: it is not
/// `Send`) point at the method rather than at the attribute.
fn handle_signature(path: &syn::Path, method: &Ident, message: &TokenStream) -> TokenStream {
    quote_spanned! {method.span()=>
        async fn handle(
            &mut self,
            __kioto_msg: #message,
            __kioto_ctx: &mut #path::Context<Self>,
        ) -> <#message as #path::Message>::Result
    }
}

fn expand_handler(info: &ImplInfo<'_>, h: &HandlerMethod) -> TokenStream {
    let path = info.krate.path();
    let HandlerMethod {
        cfgs,
        method,
        message,
        has_ctx,
        is_async,
        output,
        output_span,
    } = h;
    let ctx = has_ctx.then(|| quote! { __kioto_ctx, });
    let wait = is_async.then(|| quote! { .await });
    // Every token of the check carries the return type's span, so that is
    // where rustc reports a mismatch.
    let message_at_output = respan(message.to_token_stream(), *output_span);
    let checked = quote_spanned! {*output_span=>
        __kioto_result::<#message_at_output, #output>(Self::#method(self, __kioto_msg, #ctx) #wait)
    };
    let signature = handle_signature(path, method, &message.to_token_stream());
    let (impl_generics, _, where_clause) = info.generics.split_for_impl();
    let self_ty = info.self_ty;
    quote! {
        #(#cfgs)*
        #[automatically_derived]
        impl #impl_generics #path::Handler<#message> for #self_ty #where_clause {
            #signature {
                // The method's return type must be the message's result.
                fn __kioto_result<M: #path::Message<Result = R>, R>(result: R) -> M::Result {
                    result
                }
                #checked
            }
        }
    }
}

// ---------------------------------------------------------------- entry --

/// Entry point: the attribute's arguments and item to the output tokens.
pub(crate) fn messages(args: TokenStream, item: TokenStream) -> TokenStream {
    let opts = match parse_options(args) {
        Ok(opts) => opts,
        Err(err) => return with_error(item, err),
    };
    let mut imp = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Impl(imp)) => imp,
        Ok(other) => {
            let err = syn::Error::new_spanned(
                item_keyword(&other),
                "#[kioto::messages] goes on an actor's impl block: write \
                 `#[kioto::messages] impl MyActor { .. }`",
            );
            return with_error(item, err);
        }
        Err(err) => return with_error(item, err),
    };
    let mut errors = Errors::default();
    let marked = take_markers(&mut imp, &mut errors);
    if let Some((_, trait_path, _)) = &imp.trait_ {
        errors.push(syn::Error::new_spanned(
            trait_path,
            "#[kioto::messages] goes on an inherent impl block, not a trait impl: put the \
             #[message]/#[handler] methods in `impl MyActor { .. }`",
        ));
        return with_error(
            imp.to_token_stream(),
            errors.into_inner().expect("an error"),
        );
    }
    let krate = match opts.krate {
        Some(krate) => krate,
        None => match crate_path::find(Need::Actor) {
            Ok(krate) => krate,
            Err(err) => {
                errors.push(err);
                return with_error(
                    imp.to_token_stream(),
                    errors.into_inner().expect("an error"),
                );
            }
        },
    };
    let info = ImplInfo::new(&imp, &krate);
    let mut generated = TokenStream::new();
    // Message types handled so far, to report a second handler here rather
    // than as conflicting impls at the attribute.
    let mut handled: Vec<(String, Ident)> = Vec::new();
    for (marker, method) in marked {
        let expanded = match marker {
            Marker::Message(opts) => {
                validate_message(&info, opts, &method).map(|m| expand_message(&info, &m))
            }
            Marker::Handler => validate_handler(&info, &method).and_then(|h| {
                let key = h.message.to_token_stream().to_string();
                if let Some((_, first)) = handled.iter().find(|(k, _)| *k == key) {
                    return Err(syn::Error::new_spanned(
                        &h.message,
                        format!(
                            "this message already has a handler in this block, `{first}`: \
                             an actor handles each message type once, so keep one"
                        ),
                    ));
                }
                handled.push((key, h.method.clone()));
                Ok(expand_handler(&info, &h))
            }),
        };
        match expanded {
            Ok(tokens) => generated.extend(tokens),
            Err(err) => errors.push(err),
        }
    }
    let errors = errors.to_compile_error();
    quote! {
        #imp
        #generated
        #errors
    }
}

fn with_error(item: TokenStream, err: syn::Error) -> TokenStream {
    let err = err.to_compile_error();
    quote! { #item #err }
}

/// The tokens to point at when the item is not an impl block: its keyword
/// where it has an obvious one, else the whole item.
fn item_keyword(item: &Item) -> TokenStream {
    match item {
        Item::Fn(f) => f.sig.fn_token.to_token_stream(),
        Item::Struct(s) => s.struct_token.to_token_stream(),
        Item::Enum(e) => e.enum_token.to_token_stream(),
        Item::Trait(t) => t.trait_token.to_token_stream(),
        Item::Mod(m) => m.mod_token.to_token_stream(),
        other => other.to_token_stream(),
    }
}

/// The standalone `#[message]`/`#[handler]`: always an error, since the
/// markers only mean something inside `#[kioto::messages]`.
pub(crate) fn stray_marker(marker: &str, item: TokenStream) -> TokenStream {
    let err = syn::Error::new(
        Span::call_site(),
        format!(
            "#[{marker}] has no effect on its own: use inside #[kioto::messages], by adding \
             `#[kioto::messages]` to the impl block"
        ),
    );
    with_error(item, err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(item: &str) -> String {
        let item: TokenStream = syn::parse_str(item).unwrap();
        messages(quote!(crate = ::kioto), item).to_string()
    }

    fn run_file(item: &str) -> syn::File {
        let out = run(item);
        assert!(!out.contains("compile_error"), "{out}");
        syn::parse_str(&out).unwrap()
    }

    fn errors_of(item: &str) -> String {
        let out = run(item);
        assert!(out.contains("compile_error"), "no error in {out}");
        out
    }

    const COUNTER: &str = r#"
        impl Counter {
            /// Adds `by`.
            #[message]
            pub async fn inc(&mut self, by: u64) -> u64 { self.n += by; self.n }

            #[message(name = "Reset", derive(Debug, Clone))]
            fn clear(&mut self, ctx: &mut Context<Self>) {}

            #[handler]
            async fn on_ping(&mut self, msg: Ping, ctx: &mut Context<Self>) -> Pong { Pong }

            fn helper(&self) -> u64 { self.n }
        }
    "#;

    #[test]
    fn impl_block_is_kept_without_markers() {
        let file = run_file(COUNTER);
        let Item::Impl(imp) = &file.items[0] else {
            panic!()
        };
        assert_eq!(imp.items.len(), 4);
        for item in &imp.items {
            let ImplItem::Fn(f) = item else { panic!() };
            assert!(f
                .attrs
                .iter()
                .all(|a| !a.path().is_ident("message") && !a.path().is_ident("handler")));
        }
    }

    #[test]
    fn message_expansion() {
        let out = run(COUNTER);
        let expected = quote! {
            #[doc = " Adds `by`."]
            pub struct Inc {
                #[doc = " The `by` argument of `inc`."]
                pub by: u64,
            }
            #[automatically_derived]
            impl ::kioto::Message for Inc {
                type Result = u64;
            }
            #[automatically_derived]
            impl ::kioto::Handler<Inc> for Counter {
                async fn handle(
                    &mut self,
                    __kioto_msg: Inc,
                    __kioto_ctx: &mut ::kioto::Context<Self>,
                ) -> <Inc as ::kioto::Message>::Result {
                    let Inc { by: __kioto_arg0 } = __kioto_msg;
                    Self::inc(self, __kioto_arg0,).await
                }
            }
        };
        assert!(out.contains(&expected.to_string()), "{out}");
    }

    #[test]
    fn unit_message_with_ctx_name_and_derive() {
        let out = run(COUNTER);
        let expected = quote! {
            #[doc = " The message for the actor's `clear` method (generated by `#[kioto::messages]`)."]
            #[derive(Debug, Clone)]
            struct Reset;
            #[automatically_derived]
            impl ::kioto::Message for Reset {
                type Result = ();
            }
            #[automatically_derived]
            impl ::kioto::Handler<Reset> for Counter {
                async fn handle(
                    &mut self,
                    __kioto_msg: Reset,
                    __kioto_ctx: &mut ::kioto::Context<Self>,
                ) -> <Reset as ::kioto::Message>::Result {
                    let Reset {} = __kioto_msg;
                    Self::clear(self, __kioto_ctx,)
                }
            }
        };
        assert!(out.contains(&expected.to_string()), "{out}");
    }

    #[test]
    fn handler_expansion() {
        let out = run(COUNTER);
        let expected = quote! {
            #[automatically_derived]
            impl ::kioto::Handler<Ping> for Counter {
                async fn handle(
                    &mut self,
                    __kioto_msg: Ping,
                    __kioto_ctx: &mut ::kioto::Context<Self>,
                ) -> <Ping as ::kioto::Message>::Result {
                    fn __kioto_result<M: ::kioto::Message<Result = R>, R>(result: R) -> M::Result {
                        result
                    }
                    __kioto_result::<Ping, Pong>(Self::on_ping(self, __kioto_msg, __kioto_ctx,).await)
                }
            }
        };
        assert!(out.contains(&expected.to_string()), "{out}");
    }

    #[test]
    fn generics_carry_to_handlers_and_self_is_replaced() {
        let file = run_file(
            r#"
            impl<T: Send + 'static> Store<T> where T: Clone {
                #[message]
                fn len(&mut self) -> usize { 0 }
                #[handler]
                fn on_get(&mut self, msg: Get<T>) -> Option<T> { None }
            }
            "#,
        );
        let handlers: Vec<String> = file
            .items
            .iter()
            .filter_map(|item| match item {
                Item::Impl(imp) if imp.trait_.is_some() => Some(imp),
                _ => None,
            })
            .filter(|imp| {
                imp.trait_
                    .as_ref()
                    .unwrap()
                    .1
                    .segments
                    .last()
                    .unwrap()
                    .ident
                    == "Handler"
            })
            .map(|imp| {
                let (_, path, _) = imp.trait_.as_ref().unwrap();
                format!(
                    "{} {} {} {}",
                    imp.generics.to_token_stream(),
                    path.to_token_stream(),
                    imp.self_ty.to_token_stream(),
                    imp.generics.where_clause.to_token_stream()
                )
            })
            .collect();
        assert_eq!(
            handlers,
            [
                "< T : Send + 'static > :: kioto :: Handler < Len > Store < T > where T : Clone",
                "< T : Send + 'static > :: kioto :: Handler < Get < T > > Store < T > where T : Clone",
            ]
        );

        let out = run("impl Node { #[message] fn link(&mut self, other: Option<Box<Self>>) -> Self { todo!() } }");
        assert!(
            out.contains("pub other") || out.contains("other : Option < Box < Node > >"),
            "{out}"
        );
        assert!(out.contains("type Result = Node"), "{out}");
    }

    #[test]
    fn names() {
        let camel = |s: &str| upper_camel(&syn::parse_str::<Ident>(s).unwrap()).to_string();
        assert_eq!(camel("inc"), "Inc");
        assert_eq!(camel("get_count"), "GetCount");
        assert_eq!(camel("r#type"), "Type");
        assert_eq!(camel("_private_thing"), "PrivateThing");
        assert_eq!(camel("v2_api"), "V2Api");
    }

    #[test]
    fn cfg_is_repeated_on_generated_items() {
        let out = run("impl A { #[cfg(unix)] #[message] fn x(&mut self) {} }");
        assert_eq!(out.matches("# [cfg (unix)]").count(), 4, "{out}");
    }

    #[test]
    fn misuse_errors() {
        let cases = [
            ("impl A { #[message] fn x(&self) {} }", "takes `&mut self`"),
            ("impl A { #[message] fn x() {} }", "needs a `&mut self` receiver"),
            ("impl A { #[message] fn x(self) {} }", "takes `&mut self`"),
            ("impl A { #[message] fn x<T>(&mut self, t: T) {} }", "cannot be generic"),
            ("impl A { #[message] fn x(&mut self, (a, b): (u8, u8)) {} }", "plain name"),
            ("impl A { #[message] fn x(&mut self, _: u8) {} }", "plain name"),
            ("impl A { #[message] fn x(&mut self, s: &str) {} }", "cannot borrow"),
            ("impl A { #[message] fn x(&mut self) -> &str { \"\" } }", "cannot borrow"),
            ("impl A { #[message] fn x(&mut self, s: impl Fn()) {} }", "named type"),
            ("impl<T> A<T> { #[message] fn x(&mut self, t: T) {} }", "cannot use `T`"),
            ("impl<T> A<T> { #[message] fn x(&mut self) -> Self { todo!() } }", "cannot use `Self`"),
            ("impl A { #[message(nme = \"X\")] fn x(&mut self) {} }", MESSAGE_OPTIONS),
            ("impl A { #[message] #[handler] fn x(&mut self) {} }", "keep one marker"),
            ("impl A { #[message] const X: u8 = 1; }", "go on methods"),
            ("impl A { #[handler] fn x(&mut self) {} }", "takes the message it handles"),
            ("impl A { #[handler] fn x(&mut self, a: M, c: &mut Context<Self>, d: u8) {} }", "remove the other"),
            ("impl A { #[handler(x)] fn x(&mut self, m: M) {} }", "takes no options"),
            ("impl A { #[handler] fn x(&mut self, m: M) {} #[handler] fn y(&mut self, m: M) {} }", "already has a handler in this block, `x`"),
            ("impl A { #[message] unsafe fn x(&mut self) {} }", "cannot be `unsafe`"),
            ("impl Tr for A { #[message] fn x(&mut self) {} }", "not a trait impl"),
            ("struct A;", "goes on an actor's impl block"),
        ];
        for (item, expected) in cases {
            let out = errors_of(item);
            let escaped = expected.replace('"', "\\\"");
            assert!(out.contains(&escaped), "{item}: {out}");
        }
    }

    #[test]
    fn receiver_spellings() {
        run_file("impl A { #[message] fn x(self: &mut Self) {} #[message] fn y(&'_ mut self) {} }");
        let out = errors_of("impl A { #[message] fn x(self: Box<Self>) {} }");
        assert!(out.contains("takes `&mut self`"), "{out}");
    }

    #[test]
    fn allowed_borrows() {
        run_file("impl A { #[message] fn x(&mut self, s: &'static str, f: Box<dyn Fn(&str) + Send>, g: fn(&u8)) {} }");
    }

    #[test]
    fn one_bad_method_does_not_stop_the_others() {
        let out = run("impl A { #[message] fn bad(&self) {} #[message] fn good(&mut self) {} }");
        assert!(out.contains("compile_error"));
        assert!(out.contains("struct Good"), "{out}");
        assert!(!out.contains("struct Bad"), "{out}");
    }

    #[test]
    fn options() {
        assert!(parse_options(quote!()).unwrap().krate.is_none());
        assert!(parse_options(quote!(crate = "x::y"))
            .unwrap()
            .krate
            .is_some());
        let err = parse_options(quote!(krate = x)).err().unwrap().to_string();
        assert!(
            err.contains("crate = \\\"path\\\"") || err.contains("crate = \"path\""),
            "{err}"
        );
    }

    #[test]
    fn stray_markers_keep_the_item() {
        let out = stray_marker(
            "message",
            quote!(
                fn f() {}
            ),
        )
        .to_string();
        assert!(out.starts_with("fn f () { }"), "{out}");
        assert!(out.contains("use inside #[kioto::messages]"), "{out}");
    }
}
