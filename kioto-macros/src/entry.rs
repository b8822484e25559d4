//! `#[kioto::main]` and `#[kioto::test]`: run an `async fn` to completion on
//! a fresh multi-threaded runtime.
//!
//! ```text
//! #[kioto::main(worker_threads = 4)]      fn main() -> R {
//! async fn main() -> R { body }     ==>       let body = typed::<R>(async move { body });
//!                                             System::with_runtime(Builder::new_multi_thread()
//!                                                 .worker_threads(4).build().expect(..))
//!                                                 .block_on(body)
//!                                         }
//! ```
//!
//! With only `kioto-rt` available the `System` is left out and the
//! `Runtime` blocks on the body itself. The body is passed through a local
//! identity function whose bound fixes the future's `Output` to the declared
//! return type, so `?` inside the body knows what error type to convert
//! into. `#[kioto::test]` does the same with two workers by default (enough
//! to exercise work stealing, few enough for a CI box) and puts
//! `#[::core::prelude::v1::test]` on the function; `#[should_panic]`,
//! `#[ignore]` and friends are kept. A panic in the body unwinds out of
//! `block_on`, so it fails the test as usual.
//!
//! On an error the user's function is emitted unchanged next to the error,
//! so the rest of the crate (and the IDE) keeps seeing it.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{AttrStyle, Ident, ItemFn, LitInt, ReturnType, Token};

use crate::crate_path::{self, Krate, Need};
use crate::errors::Errors;

/// Which entry point is being expanded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Main,
    Test,
}

impl Kind {
    fn attr_name(self) -> &'static str {
        match self {
            Kind::Main => "#[kioto::main]",
            Kind::Test => "#[kioto::test]",
        }
    }

    /// Workers when the user names none: the runtime's default for main,
    /// two for tests.
    fn default_workers(self) -> Option<usize> {
        match self {
            Kind::Main => None,
            Kind::Test => Some(2),
        }
    }
}

const VALID_OPTIONS: &str = "valid options are `worker_threads = N` and `crate = \"path\"`";

/// The attribute's arguments.
#[derive(Default)]
struct Options {
    worker_threads: Option<usize>,
    krate: Option<Krate>,
}

fn parse_options(args: TokenStream) -> syn::Result<Options> {
    let parser = |input: ParseStream<'_>| -> syn::Result<Options> {
        let mut opts = Options::default();
        let mut errors = Errors::default();
        while !input.is_empty() {
            if input.peek(Token![crate]) {
                let (key, path) = crate_path::parse_crate_option(input)?;
                if opts.krate.is_some() {
                    errors.push(syn::Error::new_spanned(key, "duplicate option `crate`"));
                }
                opts.krate = Some(Krate::from_override(path));
            } else {
                let key: Ident = input.parse().map_err(|e| {
                    syn::Error::new(e.span(), format!("expected an option: {VALID_OPTIONS}"))
                })?;
                if key != "worker_threads" {
                    return Err(syn::Error::new_spanned(
                        &key,
                        format!("unknown option `{key}`: {VALID_OPTIONS}"),
                    ));
                }
                let _: Token![=] = input.parse()?;
                let value: syn::Expr = input.parse()?;
                let n = match &value {
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Int(int),
                        ..
                    }) => int.base10_parse::<usize>().ok().filter(|n| *n > 0),
                    _ => None,
                };
                match n {
                    Some(n) => {
                        if opts.worker_threads.is_some() {
                            errors.push(syn::Error::new_spanned(
                                &key,
                                "duplicate option `worker_threads`",
                            ));
                        }
                        opts.worker_threads = Some(n);
                    }
                    None => errors.push(syn::Error::new_spanned(
                        &value,
                        "`worker_threads` takes a positive integer literal, e.g. `worker_threads = 4`",
                    )),
                }
            }
            if input.is_empty() {
                break;
            }
            let _: Token![,] = input.parse()?;
        }
        match errors.into_inner() {
            Some(err) => Err(err),
            None => Ok(opts),
        }
    };
    parser.parse2(args)
}

/// Entry point for both macros.
pub(crate) fn entry(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(err) => return with_error(item, err),
    };
    // A bad option still expands with the defaults, so that the only error
    // is ours (and not also rustc's "`main` is not allowed to be `async`").
    let mut errors = Errors::default();
    let opts = parse_options(args).unwrap_or_else(|err| {
        errors.push(err);
        Options::default()
    });
    if let Err(err) = validate(kind, &func) {
        errors.push(err);
        return with_error(item, errors.into_inner().expect("an error"));
    }
    let krate = match opts.krate {
        Some(krate) => krate,
        None => match crate_path::find(Need::Runtime) {
            Ok(krate) => krate,
            Err(err) => {
                errors.push(err);
                return with_error(item, errors.into_inner().expect("an error"));
            }
        },
    };
    let workers = opts.worker_threads.or(kind.default_workers());
    let expanded = expand(kind, func, &krate, workers);
    let errors = errors.to_compile_error();
    quote! { #expanded #errors }
}

fn with_error(item: TokenStream, err: syn::Error) -> TokenStream {
    let err = err.to_compile_error();
    quote! { #item #err }
}

fn validate(kind: Kind, func: &ItemFn) -> syn::Result<()> {
    let mut errors = Errors::default();
    if func.sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            func.sig.fn_token,
            format!(
                "{} needs an `async fn`: add `async` before `fn`",
                kind.attr_name()
            ),
        ));
    }
    if kind == Kind::Test {
        for attr in &func.attrs {
            if is_test_attr(attr.path()) {
                errors.push(syn::Error::new_spanned(
                    attr,
                    "#[kioto::test] already adds #[test]: remove this attribute",
                ));
            }
        }
    }
    match errors.into_inner() {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// `#[test]`, `#[core::prelude::v1::test]`, `#[std::prelude::v1::test]`, ...
fn is_test_attr(path: &syn::Path) -> bool {
    let segments: Vec<_> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    match segments.as_slice() {
        [only] => only == "test",
        [first, .., last] => last == "test" && (first == "core" || first == "std"),
        [] => false,
    }
}

fn expand(kind: Kind, func: ItemFn, krate: &Krate, workers: Option<usize>) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = func;
    sig.asyncness = None;
    let (outer, inner): (Vec<_>, Vec<_>) = attrs
        .into_iter()
        .partition(|attr| matches!(attr.style, AttrStyle::Outer));
    let test_attr = match kind {
        Kind::Test => quote! { #[::core::prelude::v1::test] },
        Kind::Main => TokenStream::new(),
    };
    let output = match &sig.output {
        ReturnType::Default => quote! { () },
        ReturnType::Type(_, ty) => ty.to_token_stream(),
    };
    // Errors about the body's type should point at the return type.
    let output_span = match &sig.output {
        ReturnType::Default => Span::call_site(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    let workers = workers.map(|n| {
        let n = LitInt::new(&n.to_string(), Span::call_site());
        quote! { .worker_threads(#n) }
    });
    let runtime = match krate {
        Krate::Actor(path) => quote! { #path::rt::runtime },
        // Without kioto-actor the path names the runtime crate itself.
        Krate::Runtime(path) => quote! { #path::runtime },
    };
    let build = quote! {
        #runtime::Builder::new_multi_thread()
            #workers
            .build()
            .expect("kioto: failed to build the runtime")
    };
    let run = match krate {
        Krate::Actor(path) => quote! { #path::System::with_runtime(#build).block_on(body) },
        Krate::Runtime(_) => quote! { #build.block_on(body) },
    };
    let typed = quote_spanned! {output_span=>
        fn __kioto_output<F: ::core::future::Future<Output = #output>>(f: F) -> F { f }
    };
    quote! {
        #test_attr
        #(#outer)*
        #vis #sig {
            #(#inner)*
            #typed
            let body = __kioto_output(async move #block);
            #run
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kioto() -> Krate {
        Krate::Actor(syn::parse_quote!(::kioto))
    }

    fn expand_str(kind: Kind, args: &str, item: &str, krate: &Krate) -> String {
        let func: ItemFn = syn::parse_str(item).unwrap();
        validate(kind, &func).unwrap();
        let opts = parse_options(syn::parse_str(args).unwrap()).unwrap();
        let workers = opts.worker_threads.or(kind.default_workers());
        expand(kind, func, krate, workers).to_string()
    }

    #[test]
    fn main_uses_a_system() {
        let out = expand_str(Kind::Main, "", "async fn main() { run().await }", &kioto());
        let expected = quote! {
            fn main() {
                fn __kioto_output<F: ::core::future::Future<Output = ()>>(f: F) -> F { f }
                let body = __kioto_output(async move { run().await });
                ::kioto::System::with_runtime(
                    ::kioto::rt::runtime::Builder::new_multi_thread()
                        .build()
                        .expect("kioto: failed to build the runtime")
                )
                .block_on(body)
            }
        };
        assert_eq!(out, expected.to_string());
    }

    #[test]
    fn main_on_bare_runtime_with_workers() {
        let krate = Krate::Runtime(syn::parse_quote!(::kioto_rt));
        let out = expand_str(
            Kind::Main,
            "worker_threads = 3",
            "async fn main() -> Result<(), E> { Ok(()) }",
            &krate,
        );
        let expected = quote! {
            fn main() -> Result<(), E> {
                fn __kioto_output<F: ::core::future::Future<Output = Result<(), E> >>(f: F) -> F { f }
                let body = __kioto_output(async move { Ok(()) });
                ::kioto_rt::runtime::Builder::new_multi_thread()
                    .worker_threads(3)
                    .build()
                    .expect("kioto: failed to build the runtime")
                    .block_on(body)
            }
        };
        assert_eq!(out, expected.to_string());
    }

    #[test]
    fn test_adds_test_attr_keeps_others_and_defaults_to_two_workers() {
        let out = expand_str(
            Kind::Test,
            "",
            "#[should_panic] #[ignore] async fn it() { panic!() }",
            &kioto(),
        );
        let file: syn::File = syn::parse_str(&out).unwrap();
        let syn::Item::Fn(func) = &file.items[0] else {
            panic!("{out}")
        };
        let attrs: Vec<String> = func
            .attrs
            .iter()
            .map(|a| a.path().to_token_stream().to_string())
            .collect();
        assert_eq!(
            attrs,
            [":: core :: prelude :: v1 :: test", "should_panic", "ignore"]
        );
        assert!(func.sig.asyncness.is_none());
        assert!(out.contains(". worker_threads (2)"), "{out}");
    }

    #[test]
    fn test_with_workers_and_crate_override() {
        let func = "async fn it() {}";
        let opts =
            parse_options(syn::parse_str("worker_threads = 5, crate = \"crate::mock\"").unwrap())
                .unwrap();
        assert_eq!(opts.worker_threads, Some(5));
        let krate = opts.krate.unwrap();
        let out = expand_str(Kind::Test, "", func, &krate);
        assert!(
            out.contains("crate :: mock :: System :: with_runtime"),
            "{out}"
        );
    }

    #[test]
    fn inner_attributes_stay_in_the_body() {
        let out = expand_str(
            Kind::Main,
            "",
            "async fn main() { #![allow(unused)] let x = 1; }",
            &kioto(),
        );
        assert!(
            out.starts_with("fn main () { # ! [allow (unused)]"),
            "{out}"
        );
    }

    fn option_error(args: &str) -> String {
        match parse_options(syn::parse_str(args).unwrap()) {
            Ok(_) => panic!("{args} parsed"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn option_errors() {
        assert!(option_error("flavor = \"current_thread\"").contains(VALID_OPTIONS));
        assert!(option_error("worker_threads = 0").contains("positive integer"));
        assert!(option_error("worker_threads = \"4\"").contains("positive integer"));
        assert!(option_error("worker_threads = 2, worker_threads = 3").contains("duplicate"));
        assert!(option_error("4").contains(VALID_OPTIONS));
    }

    #[test]
    fn validation_errors() {
        let func: ItemFn = syn::parse_str("fn main() {}").unwrap();
        let err = validate(Kind::Main, &func).unwrap_err().to_string();
        assert!(err.contains("add `async` before `fn`"), "{err}");
        let func: ItemFn = syn::parse_str("#[test] async fn t() {}").unwrap();
        let err = validate(Kind::Test, &func).unwrap_err().to_string();
        assert!(err.contains("remove this attribute"), "{err}");
        let func: ItemFn = syn::parse_str("#[test] async fn t() {}").unwrap();
        assert!(validate(Kind::Main, &func).is_ok());
    }

    #[test]
    fn test_attr_paths() {
        assert!(is_test_attr(&syn::parse_quote!(test)));
        assert!(is_test_attr(&syn::parse_quote!(::core::prelude::v1::test)));
        assert!(!is_test_attr(&syn::parse_quote!(kioto::test)));
        assert!(!is_test_attr(&syn::parse_quote!(testing)));
    }

    #[test]
    fn parse_error_keeps_the_item() {
        let item: TokenStream = syn::parse_str("struct NotAFn;").unwrap();
        let out = entry(Kind::Main, TokenStream::new(), item).to_string();
        assert!(out.starts_with("struct NotAFn ;"), "{out}");
        assert!(out.contains("compile_error"), "{out}");
    }
}
