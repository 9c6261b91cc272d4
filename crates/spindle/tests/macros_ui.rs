//! Compile-time behaviour of `#[spindle::main]` and `#[spindle::test]`, with trybuild: each
//! misuse in `tests/ui/*.rs` fails to compile with the error in its `.stderr` (a message that
//! says what to change, pointing at the user's code), and each program in `tests/ui/pass/`
//! builds and runs to a successful exit.
//!
//! To regenerate the expected errors after changing a message: `TRYBUILD=overwrite cargo test
//! -p spindle --test macros_ui`, then read the `.stderr` diffs.

#[test]
fn misuse_is_a_clear_compile_error_and_real_mains_run() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
