//! Collecting several errors so one expansion reports them all at once.

use proc_macro2::TokenStream;

/// Errors gathered while parsing and validating, reported together.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    /// Adds one error.
    pub(crate) fn push(&mut self, err: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(err),
            None => self.0 = Some(err),
        }
    }

    /// The errors as `compile_error!` invocations (empty when there are none).
    pub(crate) fn to_compile_error(&self) -> TokenStream {
        self.0
            .as_ref()
            .map(syn::Error::to_compile_error)
            .unwrap_or_default()
    }

    /// The combined error, if any.
    pub(crate) fn into_inner(self) -> Option<syn::Error> {
        self.0
    }
}
