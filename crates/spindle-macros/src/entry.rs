//! The expansion shared by both attributes: check the function, then turn it into a plain `fn`
//! whose body is the original one as an `async` block, run to completion on the runtime that the
//! attribute and its options select.

use crate::options::{Flavor, Options};
use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, ToTokens};
use syn::{Block, Error, ItemFn, LitStr, ReturnType};

/// Which attribute is expanding.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    Main,
    Test,
}

/// The worker threads of a test's runtime when the test does not say. Tests run in parallel,
/// one thread each and by default one per core, so one worker per core in every test's runtime
/// would start cores² threads; two is the smallest count at which tasks still run in parallel
/// and wake each other across threads.
const TEST_WORKER_THREADS: usize = 2;

impl Entry {
    /// The attribute as the user writes it, for messages.
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Entry::Main => "#[spindle::main]",
            Entry::Test => "#[spindle::test]",
        }
    }
}

/// Expands `#[spindle::main(args)]` or `#[spindle::test(args)]` on `item`.
pub(crate) fn expand(entry: Entry, args: TokenStream, item: TokenStream) -> TokenStream {
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            let error = Error::new_spanned(
                &item,
                format!("{} goes on an `async fn`", entry.attribute()),
            )
            .into_compile_error();
            return quote! { #error #item };
        }
    };
    let mut errors = Vec::new();
    let options = Options::parse(entry, args).unwrap_or_else(|error| {
        errors.push(error);
        Options::default()
    });
    errors.extend(misuses(entry, &function));
    match errors.into_iter().reduce(|mut all, next| {
        all.combine(next);
        all
    }) {
        Some(error) => {
            let error = error.into_compile_error();
            let stand_in = stand_in(&function);
            quote! { #error #stand_in }
        }
        None => run_on_runtime(entry, &options, function),
    }
}

/// Every way `function` does not fit the attribute, each spanned on the tokens to change.
fn misuses(entry: Entry, function: &ItemFn) -> Vec<Error> {
    let signature = &function.sig;
    let mut errors = Vec::new();
    if signature.asyncness.is_none() {
        errors.push(Error::new_spanned(
            signature.fn_token,
            format!(
                "{} runs an `async fn`: add `async` before `fn`",
                entry.attribute()
            ),
        ));
    }
    let has_arguments = !signature.inputs.is_empty();
    match entry {
        Entry::Main if has_arguments && signature.ident == "main" => {
            errors.push(Error::new_spanned(
                &signature.inputs,
                "`main` takes no arguments: read the command line with `std::env::args()`",
            ));
        }
        Entry::Test if has_arguments => errors.push(Error::new_spanned(
            &signature.inputs,
            "a test takes no arguments: the test harness calls it with none",
        )),
        _ => {}
    }
    if entry == Entry::Test {
        let test_attributes = function
            .attrs
            .iter()
            .filter(|attribute| attribute.path().is_ident("test"));
        for test in test_attributes {
            errors.push(Error::new_spanned(
                test,
                "#[spindle::test] already makes this function a test: remove this #[test]",
            ));
        }
    }
    errors
}

/// The function, no longer `async`, running its body on the runtime the attribute selects. The
/// body's tokens keep their spans, and the attributes, visibility and signature are the user's.
fn run_on_runtime(entry: Entry, options: &Options, function: ItemFn) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = function;
    sig.asyncness = None;
    let worker_threads = match entry {
        Entry::Main => options.worker_threads,
        Entry::Test => Some(options.worker_threads.unwrap_or(TEST_WORKER_THREADS)),
    };
    let start_paused = options.start_paused.unwrap_or(false);
    let (builder, what) = match options.flavor {
        Some(Flavor::CurrentThread) => (
            quote! { ::spindle::Builder::new_current_thread() },
            "a current-thread runtime".to_string(),
        ),
        _ => match worker_threads {
            Some(workers) => (
                quote! { ::spindle::Runtime::builder().worker_threads(#workers) },
                format!("a runtime with {workers} worker threads"),
            ),
            None => (
                quote! { ::spindle::Runtime::builder() },
                "a runtime".to_string(),
            ),
        },
    };
    let own_runtime = options.flavor.is_some() || worker_threads.is_some() || start_paused;
    let run = if let Some(seed) = options.seed {
        let build_failed = LitStr::new(
            &format!(
                "{}: cannot start a deterministic runtime: {{}}",
                entry.attribute()
            ),
            Span::call_site(),
        );
        // The thread count only as the user gave it: a test's default of 2 would make the
        // seed replay a different schedule than the builder's default does.
        let workers = options
            .worker_threads
            .map(|workers| quote! { .worker_threads(#workers) });
        // The outcome is looked at for an `Err` only when the function returns `()` or a
        // `Result`: any other `Termination` type fails the test in its own way, unseen here,
        // and a panic is caught by the report's drop whatever the type.
        let run = if returns_unit_or_result(&sig.output) {
            quote! { report.checked(runtime.block_on(body)) }
        } else {
            quote! { runtime.block_on(body) }
        };
        quote! {
            let seed = ::spindle::seeded_test::seed(#seed);
            // Declared before the runtime, so dropped after it: a panic that unwinds out of
            // `block_on` prints the seed once the runtime is gone.
            let report = ::spindle::seeded_test::SeedReport::new(seed);
            let runtime = ::spindle::Builder::new_deterministic(seed)
                #workers
                .build()
                .unwrap_or_else(|error| ::core::panic!(#build_failed, error));
            #run
        }
    } else if own_runtime {
        let build_failed = LitStr::new(
            &format!("{}: cannot start {what}: {{}}", entry.attribute()),
            Span::call_site(),
        );
        let paused = start_paused.then(|| quote! { .start_paused(true) });
        quote! {
            let runtime = #builder
                #paused
                .build()
                .unwrap_or_else(|error| ::core::panic!(#build_failed, error));
            runtime.block_on(body)
        }
    } else {
        quote! { ::spindle::block_on(body) }
    };
    let test_attribute = (entry == Entry::Test).then(|| quote! { #[::core::prelude::v1::test] });
    // The body is checked against the declared return type where it stands, so a mismatch
    // is reported at the body rather than at the attribute. `impl Trait` cannot be named in a
    // `let`; such a body is left to inference. A body that never returns (a server's `loop`)
    // makes the `return` unreachable and the `let` diverge, which is no fault of the user's:
    // `unreachable_code` is allowed on the `return` alone, clippy's `diverging_sub_expression`
    // on the `let`, which also covers the body it holds.
    let body = match &sig.output {
        ReturnType::Type(_, output) if names_impl_trait(output.to_token_stream()) => block,
        ReturnType::Type(_, output) => checked_against(output.to_token_stream(), &block),
        ReturnType::Default => checked_against(quote! { () }, &block),
    };
    quote! {
        #test_attribute
        #(#attrs)*
        #vis #sig {
            // An `async fn` that returns a future (a `JoinHandle`) makes this block yield one,
            // as the user asked.
            #[allow(clippy::async_yields_async)]
            let body = async move #body;
            #run
        }
    }
}

/// Whether a function returns `()` (written or not) or a type named `Result`.
fn returns_unit_or_result(output: &ReturnType) -> bool {
    match output {
        ReturnType::Default => true,
        ReturnType::Type(_, ty) => match &**ty {
            syn::Type::Tuple(tuple) => tuple.elems.is_empty(),
            syn::Type::Path(path) => path
                .path
                .segments
                .last()
                .is_some_and(|segment| segment.ident == "Result"),
            _ => false,
        },
    }
}

/// `block` as the value of a block whose type is `output`.
fn checked_against(output: TokenStream, block: &Block) -> Box<Block> {
    Box::new(syn::parse_quote! {{
        #[allow(clippy::diverging_sub_expression)]
        let output: #output = #block;
        #[allow(unreachable_code)]
        return output;
    }})
}

/// Whether a type mentions `impl Trait` anywhere, which a `let` cannot be annotated with.
fn names_impl_trait(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => names_impl_trait(group.stream()),
        _ => false,
    })
}

/// What stands in for the function next to a compile error: a plain `fn` of the same name and
/// return type, so the error is not followed by others it caused (`main` not found, `async fn
/// main` not allowed, a caller finding no function).
fn stand_in(function: &ItemFn) -> TokenStream {
    let signature = &function.sig;
    let vis = &function.vis;
    let name = &signature.ident;
    let generics = &signature.generics;
    let where_clause = &generics.where_clause;
    let output = &signature.output;
    quote! {
        #[allow(dead_code)]
        #vis fn #name #generics () #output #where_clause {
            ::core::unreachable!()
        }
    }
}
