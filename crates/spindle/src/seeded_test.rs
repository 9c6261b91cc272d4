//! What `#[spindle::test(seed = N)]` expands to besides the runtime: the seed to run with
//! (`SPINDLE_SEED` overrides the attribute's), and the line that names it when the test
//! fails, so that the failing schedule can be run again. Not part of the API: the generated
//! code names it, and nothing else should.

use std::io::Write;

/// The seed a seeded test runs with: `SPINDLE_SEED` when set, else the attribute's.
///
/// # Panics
///
/// When `SPINDLE_SEED` is set to something other than a whole number that fits in a `u64`.
///
/// ```
/// let seed = spindle::seeded_test::seed(7);
/// if std::env::var_os("SPINDLE_SEED").is_none() {
///     assert_eq!(seed, 7);
/// }
/// ```
pub fn seed(attribute: u64) -> u64 {
    match std::env::var("SPINDLE_SEED") {
        Err(std::env::VarError::NotPresent) => attribute,
        Ok(value) => value.trim().parse().unwrap_or_else(|_| {
            panic!(
                "SPINDLE_SEED={value:?} is not a seed; set it to a whole number (the one a \
                 failing test printed, `spindle: seed N`), or unset it"
            )
        }),
        Err(std::env::VarError::NotUnicode(value)) => {
            panic!("SPINDLE_SEED={value:?} is not a seed; set it to a whole number, or unset it")
        }
    }
}

/// Prints `spindle: seed N` when the test fails: dropped while its thread panics, or
/// [`checked`](Self::checked) with an `Err` outcome.
///
/// ```
/// let report = spindle::seeded_test::SeedReport::new(7);
/// // Nothing printed for a passing outcome; an `Err` would print the seed.
/// assert_eq!(report.checked(Ok::<u8, String>(1)), Ok(1));
/// ```
#[derive(Debug)]
pub struct SeedReport(u64);

impl SeedReport {
    /// The report for a test running with `seed`.
    ///
    /// ```
    /// let _report = spindle::seeded_test::SeedReport::new(3); // silent unless a panic drops it
    /// ```
    pub fn new(seed: u64) -> SeedReport {
        SeedReport(seed)
    }

    /// Prints the seed if `outcome` is a failure (an `Err`), and hands `outcome` back.
    ///
    /// ```
    /// let report = spindle::seeded_test::SeedReport::new(9);
    /// report.checked(()); // `()` never fails
    /// ```
    pub fn checked<T: Outcome>(&self, outcome: T) -> T {
        if outcome.failed() {
            self.print();
        }
        outcome
    }

    fn print(&self) {
        // Written with `eprintln!` so that the test harness captures it with the test's own
        // output, and shows it next to the failure.
        let seed = self.0;
        eprintln!("spindle: seed {seed} (run it again with SPINDLE_SEED={seed})");
        let _ = std::io::stderr().flush();
    }
}

impl Drop for SeedReport {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.print();
        }
    }
}

/// What a test returns, as far as failing goes.
///
/// ```
/// use spindle::seeded_test::Outcome;
/// assert!(Err::<(), _>("no").failed());
/// assert!(!().failed());
/// ```
pub trait Outcome {
    /// True if the test failed by returning this.
    ///
    /// ```
    /// use spindle::seeded_test::Outcome;
    /// assert!(!Ok::<(), ()>(()).failed());
    /// ```
    fn failed(&self) -> bool;
}

impl Outcome for () {
    fn failed(&self) -> bool {
        false
    }
}

impl<T, E> Outcome for Result<T, E> {
    fn failed(&self) -> bool {
        self.is_err()
    }
}
