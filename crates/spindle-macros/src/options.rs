//! The options inside an attribute's parentheses: `worker_threads = N`,
//! `flavor = "multi_thread" | "current_thread"`, `start_paused = true | false` and
//! `seed = N`, nothing else.
//!
//! `N` must be an integer literal (at least 1 for a thread count), and the flavor one of the
//! two strings, so
//! that a bad option is a compile error at the user's code rather than a panic when the program
//! starts.

use crate::entry::Entry;
use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::{Error, Expr, ExprLit, Lit, Path, Token};

/// What the attribute's options ask for.
#[derive(Default)]
pub(crate) struct Options {
    /// `worker_threads = N`, at least 1.
    pub(crate) worker_threads: Option<usize>,
    /// `flavor = "..."`.
    pub(crate) flavor: Option<Flavor>,
    /// `start_paused = true`.
    pub(crate) start_paused: Option<bool>,
    /// `seed = N`: a deterministic runtime.
    pub(crate) seed: Option<u64>,
}

/// Which runtime runs the function.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// `Runtime::builder()`: worker threads.
    MultiThread,
    /// `Builder::new_current_thread()`: the calling thread runs every task.
    CurrentThread,
}

impl Options {
    /// Parses the tokens between the attribute's parentheses (none for a bare attribute).
    pub(crate) fn parse(entry: Entry, args: TokenStream) -> syn::Result<Options> {
        let mut options = Options::default();
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("worker_threads") {
                if options.worker_threads.is_some() {
                    return Err(meta.error("`worker_threads` is given twice; keep one"));
                }
                if !meta.input.peek(Token![=]) {
                    return Err(
                        meta.error("`worker_threads` needs a value, like `worker_threads = 4`")
                    );
                }
                let value: Expr = meta.value()?.parse()?;
                options.worker_threads = Some(worker_threads(&value)?);
                Ok(())
            } else if meta.path.is_ident("flavor") {
                if options.flavor.is_some() {
                    return Err(meta.error("`flavor` is given twice; keep one"));
                }
                if !meta.input.peek(Token![=]) {
                    return Err(
                        meta.error("`flavor` needs a value, like `flavor = \"current_thread\"`")
                    );
                }
                let value: Expr = meta.value()?.parse()?;
                options.flavor = Some(flavor(&value)?);
                Ok(())
            } else if meta.path.is_ident("start_paused") {
                if options.start_paused.is_some() {
                    return Err(meta.error("`start_paused` is given twice; keep one"));
                }
                if !meta.input.peek(Token![=]) {
                    return Err(
                        meta.error("`start_paused` needs a value, like `start_paused = true`")
                    );
                }
                let value: Expr = meta.value()?.parse()?;
                options.start_paused = Some(boolean(&value, "start_paused")?);
                Ok(())
            } else if meta.path.is_ident("seed") {
                if options.seed.is_some() {
                    return Err(meta.error("`seed` is given twice; keep one"));
                }
                if !meta.input.peek(Token![=]) {
                    return Err(meta.error("`seed` needs a value, like `seed = 7`"));
                }
                let value: Expr = meta.value()?.parse()?;
                options.seed = Some(seed(&value)?);
                Ok(())
            } else {
                Err(meta.error(format_args!(
                    "unknown option `{}`: {} takes `worker_threads = N`, `flavor = \
                     \"multi_thread\"` or `\"current_thread\"`, `start_paused = true`, and \
                     `seed = N`",
                    path_text(&meta.path),
                    entry.attribute(),
                )))
            }
        });
        parser.parse2(args.clone())?;
        if options.flavor == Some(Flavor::CurrentThread) && options.worker_threads.is_some() {
            return Err(Error::new_spanned(
                args,
                "a current-thread runtime has no worker threads: drop `worker_threads`, or use \
                 `flavor = \"multi_thread\"`",
            ));
        }
        if options.seed.is_some() && options.flavor.is_some() {
            return Err(Error::new_spanned(
                args,
                "`seed` runs a deterministic runtime of its own, which is neither flavor: drop \
                 `flavor`, or `seed`",
            ));
        }
        if options.seed.is_some() && options.start_paused.is_some() {
            return Err(Error::new_spanned(
                args,
                "the clock of a run with a `seed` is always paused: drop `start_paused`",
            ));
        }
        Ok(options)
    }
}

/// The seed written as `seed`'s value.
fn seed(value: &Expr) -> syn::Result<u64> {
    let expected = "`seed` takes a whole number written as a literal, like `seed = 7`";
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => int
            .base10_parse::<u64>()
            .map_err(|_| Error::new_spanned(int, "`seed` must fit in a `u64`")),
        _ => Err(Error::new_spanned(value, expected)),
    }
}

/// The thread count written as `worker_threads`'s value.
fn worker_threads(value: &Expr) -> syn::Result<usize> {
    let literal_expected = "`worker_threads` takes a whole number written as a literal, like \
                            `worker_threads = 4`";
    let Expr::Lit(ExprLit { lit, .. }) = value else {
        return Err(Error::new_spanned(value, literal_expected));
    };
    match lit {
        Lit::Int(int) => match int.base10_parse::<usize>() {
            Ok(0) => Err(Error::new_spanned(
                int,
                "a runtime needs at least one worker thread: use `worker_threads = 1` or more",
            )),
            Ok(count) => Ok(count),
            Err(_) => Err(Error::new_spanned(
                int,
                "`worker_threads` is too large to be a thread count",
            )),
        },
        Lit::Str(text) => Err(Error::new_spanned(
            text,
            "`worker_threads` takes a number, not a string: drop the quotes, like \
             `worker_threads = 4`",
        )),
        _ => Err(Error::new_spanned(lit, literal_expected)),
    }
}

/// A `true` or `false` written as `option`'s value.
fn boolean(value: &Expr, option: &str) -> syn::Result<bool> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(flag),
            ..
        }) => Ok(flag.value),
        _ => Err(Error::new_spanned(
            value,
            format!("`{option}` is `true` or `false`"),
        )),
    }
}

/// The runtime written as `flavor`'s value.
fn flavor(value: &Expr) -> syn::Result<Flavor> {
    let expected = "`flavor` is `\"multi_thread\"` or `\"current_thread\"`";
    let Expr::Lit(ExprLit {
        lit: Lit::Str(text),
        ..
    }) = value
    else {
        return Err(Error::new_spanned(value, expected));
    };
    match text.value().as_str() {
        "multi_thread" => Ok(Flavor::MultiThread),
        "current_thread" => Ok(Flavor::CurrentThread),
        other => Err(Error::new_spanned(
            text,
            format!("unknown flavor `{other}`: {expected}"),
        )),
    }
}

/// `a::b` as the user wrote it, for error messages.
fn path_text(path: &Path) -> String {
    let segments: Vec<String> = path
        .segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect();
    segments.join("::")
}
