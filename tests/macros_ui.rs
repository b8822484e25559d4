//! Pins every error message of the macros (`tests/ui/*.rs` + `.stderr`).
//! Regenerate with `TRYBUILD=overwrite cargo test --test macros_ui`, then
//! read the diff: each error must point at the offending tokens and say
//! what to write instead.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
