//! `#[derive(Message)]`: parse the `#[rtype]` and `#[kioto]` attributes,
//! then emit `impl Message for T { type Result = R; }`.
//!
//! `Message: Send + 'static`, so every type parameter of the deriving type
//! gets `Send + 'static` bounds and every lifetime parameter `'static`; a
//! type that is not `Send` is reported at the impl. The `Result` type is
//! emitted with the span of the user's `rtype` argument, so a result type
//! that is not `Send + 'static` is reported there.
//!
//! On an error in the attributes we still emit an impl with `Result = ()`
//! (the fallback), so the user sees the one error in the attribute rather
//! than "`Message` is not implemented" at every `send`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Attribute, DeriveInput, Ident, LitStr, Token, Type};

use crate::crate_path::{self, Krate, Need};
use crate::errors::Errors;

/// The forms `#[rtype]` accepts, quoted in every error about it.
const RTYPE_FORMS: &str = "write `#[rtype(result = \"Type\")]` or `#[rtype(Type)]`";

/// Entry point: the derive's input tokens to its output tokens.
pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let ast: DeriveInput = match syn::parse2(input) {
        Ok(ast) => ast,
        Err(err) => return err.to_compile_error(),
    };
    let attrs = parse_attrs(&ast.attrs);
    let krate = match attrs.krate.clone() {
        Some(krate) => krate,
        None => match crate_path::find(Need::Actor) {
            Ok(krate) => krate,
            Err(err) => return err.to_compile_error(),
        },
    };
    match attrs.errors.into_inner() {
        None => expand(&ast, attrs.rtype.as_ref(), &krate),
        Some(err) => {
            let stub = expand(&ast, None, &krate);
            let err = err.to_compile_error();
            quote! { #stub #err }
        }
    }
}

/// What the attributes of the deriving type said.
struct Attrs {
    rtype: Option<Type>,
    krate: Option<Krate>,
    /// All attribute errors, combined.
    errors: Errors,
}

fn parse_attrs(attrs: &[Attribute]) -> Attrs {
    let mut out = Attrs {
        rtype: None,
        krate: None,
        errors: Errors::default(),
    };
    for attr in attrs {
        if attr.path().is_ident("rtype") {
            match parse_rtype(attr) {
                Ok(_) if out.rtype.is_some() => {
                    out.errors.push(syn::Error::new_spanned(
                        attr,
                        "duplicate `#[rtype]`: a message has one result type, keep one",
                    ));
                }
                Ok(ty) => out.rtype = Some(ty),
                Err(err) => out.errors.push(err),
            }
        } else if attr.path().is_ident("kioto") {
            match parse_kioto_attr(attr) {
                Ok(krate) => out.krate = Some(krate),
                Err(err) => out.errors.push(err),
            }
        }
    }
    out
}

/// `#[rtype(result = "T")]` or `#[rtype(T)]`.
fn parse_rtype(attr: &Attribute) -> syn::Result<Type> {
    let list = match &attr.meta {
        syn::Meta::List(list) if !list.tokens.is_empty() => list,
        _ => {
            return Err(syn::Error::new_spanned(
                attr,
                format!("`#[rtype]` needs the message's result type: {RTYPE_FORMS}"),
            ))
        }
    };
    let parser = |input: ParseStream<'_>| -> syn::Result<Type> {
        if input.peek(Ident) && input.peek2(Token![=]) && !input.peek2(Token![==]) {
            let key: Ident = input.parse()?;
            if key != "result" {
                return Err(syn::Error::new_spanned(
                    &key,
                    format!("unknown `rtype` option `{key}`: {RTYPE_FORMS}"),
                ));
            }
            let _: Token![=] = input.parse()?;
            let lit: LitStr = input.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    format!("expected the result type as a string: {RTYPE_FORMS}"),
                )
            })?;
            let ty = lit.parse::<Type>().map_err(|_| {
                syn::Error::new_spanned(
                    &lit,
                    format!("`{}` is not a type: {RTYPE_FORMS}", lit.value()),
                )
            })?;
            expect_end(input)?;
            Ok(ty)
        } else {
            let ty: Type = input.parse().map_err(|e| {
                syn::Error::new(e.span(), format!("expected a type: {RTYPE_FORMS}"))
            })?;
            expect_end(input)?;
            Ok(ty)
        }
    };
    parser.parse2(list.tokens.clone())
}

fn expect_end(input: ParseStream<'_>) -> syn::Result<()> {
    if input.is_empty() {
        Ok(())
    } else {
        Err(input.error(format!(
            "unexpected tokens after the result type: {RTYPE_FORMS}"
        )))
    }
}

/// `#[kioto(crate = "path")]`.
fn parse_kioto_attr(attr: &Attribute) -> syn::Result<Krate> {
    const VALID: &str = "the valid option is `crate = \"path\"`";
    attr.parse_args_with(|input: ParseStream<'_>| {
        if input.peek(Token![crate]) {
            let (_, path) = crate_path::parse_crate_option(input)?;
            if !input.is_empty() {
                return Err(input.error(format!("unexpected tokens: {VALID}")));
            }
            Ok(Krate::from_override(path))
        } else {
            Err(input.error(format!("unknown `kioto` option: {VALID}")))
        }
    })
}

/// The impl; `rtype: None` means the default `()`.
fn expand(ast: &DeriveInput, rtype: Option<&Type>, krate: &Krate) -> TokenStream {
    let path = krate.path();
    let ident = &ast.ident;
    let mut generics = ast.generics.clone();
    for param in generics.type_params_mut() {
        param.bounds.push(syn::parse_quote!(::core::marker::Send));
        param.bounds.push(syn::parse_quote!('static));
    }
    for param in generics.lifetimes_mut() {
        param.bounds.push(syn::parse_quote!('static));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let result = match rtype {
        Some(ty) => quote_spanned! {ty.span()=> type Result = #ty; },
        None => quote! { type Result = (); },
    };
    quote! {
        #[automatically_derived]
        impl #impl_generics #path::Message for #ident #ty_generics #where_clause {
            #result
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(input: &str) -> String {
        let ast: DeriveInput = syn::parse_str(input).unwrap();
        let attrs = parse_attrs(&ast.attrs);
        assert!(
            attrs.errors.to_compile_error().is_empty(),
            "unexpected error"
        );
        let krate = Krate::Actor(syn::parse_quote!(::kioto));
        expand(&ast, attrs.rtype.as_ref(), &krate).to_string()
    }

    fn error_of(input: &str) -> String {
        let ast: DeriveInput = syn::parse_str(input).unwrap();
        parse_attrs(&ast.attrs)
            .errors
            .into_inner()
            .expect("an error")
            .to_string()
    }

    #[test]
    fn default_result_is_unit() {
        let expected = quote! {
            #[automatically_derived]
            impl ::kioto::Message for Ping { type Result = (); }
        };
        assert_eq!(expand_str("struct Ping;"), expected.to_string());
    }

    #[test]
    fn both_rtype_forms_give_the_same_impl() {
        let expected = quote! {
            #[automatically_derived]
            impl ::kioto::Message for Add { type Result = Option<u64>; }
        };
        let quoted = expand_str("#[rtype(result = \"Option<u64>\")] struct Add(u64);");
        let bare = expand_str("#[rtype(Option<u64>)] struct Add(u64);");
        assert_eq!(quoted, expected.to_string());
        assert_eq!(bare, expected.to_string());
    }

    #[test]
    fn enums_and_named_structs() {
        let out = expand_str("#[rtype(bool)] enum Cmd { A, B { x: u8 } }");
        assert!(out.contains("for Cmd"), "{out}");
        let out = expand_str("#[rtype(String)] struct Named { a: u8 }");
        assert!(out.contains("type Result = String"), "{out}");
    }

    #[test]
    fn generics_get_send_static_bounds() {
        let expected = quote! {
            #[automatically_derived]
            impl<'a: 'static, T: Clone + ::core::marker::Send + 'static>
                ::kioto::Message for Wrap<'a, T>
            where T: Default
            { type Result = Vec<T>; }
        };
        let out =
            expand_str("#[rtype(Vec<T>)] struct Wrap<'a, T: Clone> where T: Default { a: &'a T }");
        assert_eq!(out, expected.to_string());
    }

    #[test]
    fn crate_override() {
        let ast: DeriveInput =
            syn::parse_str("#[kioto(crate = \"crate::mock\")] struct Ping;").unwrap();
        let attrs = parse_attrs(&ast.attrs);
        let krate = attrs.krate.expect("override");
        assert_eq!(krate.path(), &syn::parse_quote!(crate::mock) as &syn::Path);
    }

    #[test]
    fn malformed_rtype_lists_the_forms() {
        for bad in [
            "#[rtype] struct A;",
            "#[rtype()] struct A;",
            "#[rtype = \"u8\"] struct A;",
            "#[rtype(result = u8)] struct A;",
            "#[rtype(result = \"not a type!\")] struct A;",
            "#[rtype(reslt = \"u8\")] struct A;",
            "#[rtype(u8, u16)] struct A;",
        ] {
            let err = error_of(bad);
            assert!(err.contains(RTYPE_FORMS), "{bad}: {err}");
        }
    }

    #[test]
    fn duplicate_rtype_and_unknown_kioto_option() {
        assert!(error_of("#[rtype(u8)] #[rtype(u16)] struct A;").contains("duplicate"));
        assert!(
            error_of("#[kioto(krate = \"x\")] struct A;").contains("crate = \\\"path\\\"")
                || error_of("#[kioto(krate = \"x\")] struct A;").contains("crate = \"path\"")
        );
    }

    #[test]
    fn error_still_emits_a_stub_impl() {
        let ast: DeriveInput = syn::parse_str("#[rtype] struct A;").unwrap();
        let krate = Krate::Actor(syn::parse_quote!(::kioto));
        let stub = expand(&ast, None, &krate).to_string();
        assert!(stub.contains("type Result = ()"));
    }
}
