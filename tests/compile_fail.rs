//! Compile-time diagnostics of `#[network]`: every file in `tests/ui/fail/` is one mistake a
//! user could make, and must fail to build with exactly the error in its `.stderr` (spanned
//! on the offending token, no follow-on errors); every file in `tests/ui/pass/` must build
//! and run. Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test --test
//! compile_fail`, then read every changed one.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
