//! The attribute macros behind `#[spindle::main]` and `#[spindle::test]`. Use them through the
//! `spindle` crate, which re-exports them; the generated code names `::spindle` paths.
//!
//! Each attribute turns an `async fn` into a plain `fn` that runs the original body, as an
//! `async move` block, to completion on a spindle runtime:
//!
//! | attribute | runtime |
//! | --- | --- |
//! | `#[spindle::main]` | the process-wide default runtime, through `spindle::block_on` |
//! | `#[spindle::main(worker_threads = N)]` | a runtime of its own with `N` workers, dropped when the function returns |
//! | `#[spindle::test]` | a fresh runtime with 2 workers for each test, dropped when the test ends |
//! | `#[spindle::test(worker_threads = N)]` | a fresh runtime with `N` workers for each test |
//! | `#[spindle::main(flavor = "current_thread")]`, `#[spindle::test(flavor = "current_thread")]` | a current-thread runtime of its own: every task runs on the calling thread |
//! | `flavor = "multi_thread"` | the same as no flavor |
//! | `start_paused = true` | the runtime's clock starts paused |
//! | `seed = N` | a deterministic runtime, `Builder::new_deterministic(N)` (`SPINDLE_SEED` overrides `N`; a failing test prints its seed) |
//!
//! # Invariants
//!
//! - The generated code names only `::spindle::…` and `::core::…` paths, so it compiles in any
//!   crate that depends on `spindle`, whatever that crate imports or shadows.
//! - The user's attributes (`#[should_panic]`, `#[ignore]`, docs, lints), visibility, name,
//!   generics, arguments and return type pass through unchanged, and the body keeps its
//!   tokens and their spans: a type error in the body points at the body.
//! - A misuse (a plain `fn`, arguments on `main` or on a test, an unknown option, a
//!   `worker_threads` that is not a positive integer literal, an unknown flavor, worker threads
//!   on a current-thread runtime, a `seed` with a flavor or `start_paused`) is a compile error spanned on the
//!   tokens to change, every misuse at once. Next to the error the function becomes a plain
//!   `fn` of the same name and return type whose body is `unreachable!()`, so the error is not
//!   followed by the ones it would cause (`main` not found, `async fn main` not allowed).
//!
//! # Why
//!
//! `main` without options uses the default runtime, so `spindle::block_on` and
//! `spindle::spawn` elsewhere in the program (before or after main's body, or in a library)
//! share its workers instead of starting a second set. A test gets a runtime of its own so
//! that tests running in parallel do not share workers, and a task a test leaves behind is
//! cancelled when that test ends.

mod entry;
mod options;

use entry::Entry;
use proc_macro::TokenStream;

/// What the attribute expands to: the function without `async`, whose body is
/// `::spindle::block_on(async move { body })`; with `worker_threads = N`, a
/// `::spindle::Runtime` built with `N` workers runs the block instead and is dropped on return.
///
/// On a function not named `main` it makes a blocking function; the arguments move into the
/// future:
///
/// ```
/// #[spindle::main(worker_threads = 2)]
/// async fn sum_of_squares(numbers: Vec<u64>) -> u64 {
///     let tasks = numbers.into_iter().map(|n| spindle::spawn(async move { n * n }));
///     spindle::join_all(tasks).await.into_iter().map(Result::unwrap).sum()
/// }
///
/// assert_eq!(sum_of_squares(vec![1, 2, 3]), 14);
/// ```
///
/// With `flavor = "current_thread"`, a current-thread runtime of its own runs the body and
/// every task it spawns on the calling thread, so tasks can share `Rc` state
/// (`spindle::spawn_local`):
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// #[spindle::main(flavor = "current_thread")]
/// async fn count_on_one_thread() -> u32 {
///     let count = Rc::new(Cell::new(0));
///     let tasks: Vec<_> = (0..3)
///         .map(|_| {
///             let count = count.clone();
///             spindle::spawn_local(async move { count.set(count.get() + 1) })
///         })
///         .collect();
///     spindle::join_all(tasks).await;
///     count.get()
/// }
///
/// assert_eq!(count_on_one_thread(), 3);
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(Entry::Main, args.into(), item.into()).into()
}

/// What the attribute expands to: a `#[test]` function without `async`, the user's other
/// attributes kept, whose body builds a `::spindle::Runtime` with 2 workers (or
/// `worker_threads = N`) and runs `async move { body }` on it with `Runtime::block_on`.
///
/// ```
/// #[spindle::test]
/// async fn spawned_tasks_finish() {
///     assert_eq!(spindle::spawn(async { 1 + 1 }).await.unwrap(), 2);
/// }
/// ```
///
/// `flavor = "current_thread"` runs the test on a current-thread runtime instead, every task
/// on the test's thread:
///
/// ```
/// #[spindle::test(flavor = "current_thread")]
/// async fn tasks_share_the_test_thread() {
///     let here = std::thread::current().id();
///     assert_eq!(spindle::spawn(async { std::thread::current().id() }).await.unwrap(), here);
/// }
/// ```
///
/// `seed = N` runs the test on a deterministic runtime: its logical workers (4, or
/// `worker_threads = N`) on the test's thread, every scheduling choice from the seed, the
/// clock paused. `SPINDLE_SEED` in the environment overrides `N`, and the test prints
/// `spindle: seed N` when it fails (panics or returns `Err`):
///
/// ```
/// #[spindle::test(seed = 42, worker_threads = 3)]
/// async fn one_schedule_of_many() {
///     let start = spindle::time::now();
///     spindle::sleep(std::time::Duration::from_secs(60)).await; // paused: no real wait
///     assert_eq!(spindle::time::now() - start, std::time::Duration::from_secs(60));
/// }
/// ```
///
/// A doctest is built without the test harness, which drops every `#[test]` function, so
/// these examples check only that the attribute expands; `cargo test` runs such a test.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(Entry::Test, args.into(), item.into()).into()
}
