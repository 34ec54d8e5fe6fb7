//! Compile-time diagnostics of `#[network]`: every file in `tests/ui/fail/` is one mistake a
//! user could make (one file holds two independent ones), and must fail to build with
//! exactly the errors in its `.stderr`, each spanned on the offending token, with no
//! follow-on error; every file in `tests/ui/pass/` must build and run.
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test --test compile_fail`,
//! then read every changed one. The first run builds the dependencies in
//! `target/tests/trybuild` (several minutes); later runs take seconds.

#[test]
fn ui() {
    // trybuild's generated crate does not inherit the workspace's `[profile.dev]`: keep its
    // dependency build without debug info, as the workspace's is (much less disk and time).
    if std::env::var_os("CARGO_PROFILE_DEV_DEBUG").is_none() {
        std::env::set_var("CARGO_PROFILE_DEV_DEBUG", "0");
    }
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
