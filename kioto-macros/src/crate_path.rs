//! Finding the path by which generated code names Kioto.
//!
//! A user may depend on the facade `kioto`, on `kioto-actor` alone, or (for
//! `#[kioto::main]`/`#[kioto::test]` only) on the bare runtime `kioto-rt`,
//! and may rename any of them in `Cargo.toml`. Generated code must name the
//! crate by a path that resolves in the user's crate, so we read the user's
//! manifest with `proc-macro-crate`, in this order of preference:
//!
//! 1. `kioto` → `::kioto` (re-exports everything, `kioto::rt` included);
//! 2. `kioto-actor` → `::kioto_actor` (re-exports the runtime as
//!    `kioto_actor::rt`); inside kioto-actor itself the crate declares
//!    `extern crate self as kioto_actor;`, so `::kioto_actor` works there too;
//! 3. for the entry-point macros only, `kioto-rt` → `::kioto_rt`, in which
//!    case `main` runs a plain `Runtime` rather than a `System`.
//!
//! `FoundCrate::Itself` is mapped to `::name` rather than `crate`: the only
//! code of those crates that uses the macros is doc tests and integration
//! tests, which are separate crates where `crate` would be wrong.
//!
//! An explicit `crate = path` argument (or `#[kioto(crate = "path")]` on a
//! derive) wins over all of this; it is taken to name a crate with the
//! facade's layout, unless its last segment is `kioto_rt`.

use proc_macro2::Span;
use proc_macro_crate::{crate_name, FoundCrate};
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitStr, Path, Token};

/// The crate generated code talks to, and what it may assume it exports.
#[derive(Clone, Debug)]
pub(crate) enum Krate {
    /// `kioto` or `kioto_actor`: exports `Message`, `Handler`, `Context`,
    /// `System` and the runtime as `rt`.
    Actor(Path),
    /// `kioto_rt`: only the runtime (`runtime::Builder`, `Runtime`).
    Runtime(Path),
}

impl Krate {
    /// The path itself, for splicing into `quote!` as `#path::Message`.
    pub(crate) fn path(&self) -> &Path {
        match self {
            Krate::Actor(path) | Krate::Runtime(path) => path,
        }
    }

    /// Builds from an explicit `crate = path` override.
    pub(crate) fn from_override(path: Path) -> Krate {
        let is_rt = path.segments.last().is_some_and(|s| s.ident == "kioto_rt");
        if is_rt {
            Krate::Runtime(path)
        } else {
            Krate::Actor(path)
        }
    }
}

/// Which crates satisfy the macro being expanded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Need {
    /// Message/Handler/Context: `kioto` or `kioto-actor`.
    Actor,
    /// A runtime to block on: any of the three.
    Runtime,
}

/// Finds the crate in the user's `Cargo.toml`; the error spans the macro call.
pub(crate) fn find(need: Need) -> syn::Result<Krate> {
    if let Some(path) = lookup("kioto") {
        return Ok(Krate::Actor(path));
    }
    if let Some(path) = lookup("kioto-actor") {
        return Ok(Krate::Actor(path));
    }
    if need == Need::Runtime {
        if let Some(path) = lookup("kioto-rt") {
            return Ok(Krate::Runtime(path));
        }
    }
    let wanted = match need {
        Need::Actor => "`kioto` or `kioto-actor`",
        Need::Runtime => "`kioto`, `kioto-actor` or `kioto-rt`",
    };
    Err(syn::Error::new(
        Span::call_site(),
        format!(
            "could not find {wanted} among the dependencies in Cargo.toml: \
             add `kioto` to [dependencies], or name the crate with `crate = \"path\"`"
        ),
    ))
}

fn lookup(package: &str) -> Option<Path> {
    let name = match crate_name(package) {
        Ok(FoundCrate::Itself) => package.replace('-', "_"),
        Ok(FoundCrate::Name(name)) => name,
        Err(_) => return None,
    };
    let ident = Ident::new(&name, Span::call_site());
    Some(syn::parse_quote!(::#ident))
}

/// The value of a `crate = ...` option: a path, or a string holding one
/// (tokio and serde spell it as a string, so both are accepted).
pub(crate) struct CratePathValue(pub(crate) Path);

impl Parse for CratePathValue {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            let path = lit.parse_with(Path::parse_mod_style).map_err(|_| {
                syn::Error::new_spanned(&lit, "expected a crate path, e.g. `crate = \"::kioto\"`")
            })?;
            Ok(CratePathValue(path))
        } else {
            let path = input.call(Path::parse_mod_style).map_err(|e| {
                syn::Error::new(e.span(), "expected a crate path, e.g. `crate = ::kioto`")
            })?;
            Ok(CratePathValue(path))
        }
    }
}

/// Parses `crate = <path>` after the caller has seen the `crate` keyword.
pub(crate) fn parse_crate_option(input: ParseStream<'_>) -> syn::Result<(Token![crate], Path)> {
    let key: Token![crate] = input.parse()?;
    let _: Token![=] = input.parse()?;
    let CratePathValue(path) = input.parse()?;
    Ok((key, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::ToTokens;

    #[test]
    fn override_kinds() {
        let k = Krate::from_override(syn::parse_quote!(::my::kioto));
        assert!(matches!(k, Krate::Actor(_)));
        let k = Krate::from_override(syn::parse_quote!(::kioto_rt));
        assert!(matches!(k, Krate::Runtime(_)));
        assert_eq!(k.path().to_token_stream().to_string(), ":: kioto_rt");
    }

    #[test]
    fn crate_value_accepts_string_and_path() {
        let v: CratePathValue = syn::parse_quote!("::a::b");
        assert_eq!(v.0.to_token_stream().to_string(), ":: a :: b");
        let v: CratePathValue = syn::parse_quote!(crate::mock);
        assert_eq!(v.0.to_token_stream().to_string(), "crate :: mock");
        assert!(syn::parse_str::<CratePathValue>("\"not a path!\"").is_err());
    }

    #[test]
    fn find_in_this_manifest_fails_with_advice() {
        // kioto-macros itself depends on none of the three crates.
        let err = find(Need::Actor).unwrap_err().to_string();
        assert!(err.contains("add `kioto` to [dependencies]"), "{err}");
    }
}
