//! The clocks the scheduler reads on its hot paths: a coarse one, cheap enough for every
//! spawn, and a precise one, for the rare moments that need it.
//!
//! Both count nanoseconds on one monotonic timeline, so a coarse reading and a precise one
//! can be subtracted. On Linux they are `CLOCK_MONOTONIC_COARSE` (a read of the kernel's last
//! tick, no counter read: a few nanoseconds, a resolution of one tick, 1 to 4 ms) and
//! `CLOCK_MONOTONIC` (std's `Instant`). A coarse reading is never later than a precise one
//! taken after it, so an interval from a coarse start to a precise end is never shorter than
//! the real one. Elsewhere both are `Instant`, measured from a process-wide origin.

/// Nanoseconds on the monotonic timeline, to a resolution of one kernel tick.
#[inline]
pub(crate) fn coarse_nanos() -> u64 {
    #[cfg(target_os = "linux")]
    {
        read(libc::CLOCK_MONOTONIC_COARSE)
    }
    #[cfg(not(target_os = "linux"))]
    {
        precise_nanos()
    }
}

/// Nanoseconds on the same timeline as [`coarse_nanos`], to the clock's full resolution.
pub(crate) fn precise_nanos() -> u64 {
    #[cfg(target_os = "linux")]
    {
        read(libc::CLOCK_MONOTONIC)
    }
    #[cfg(not(target_os = "linux"))]
    {
        static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        ORIGIN
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_nanos() as u64
    }
}

/// Milliseconds of a [`coarse_nanos`] reading, truncated to 32 bits (they wrap every 49.7
/// days; differences taken with `wrapping_sub` are right for spans shorter than that).
#[inline]
pub(crate) fn coarse_millis() -> u32 {
    millis(coarse_nanos())
}

/// Milliseconds from `earlier` to `later`, two [`millis`] readings, or 0 if `earlier` is the
/// later one: a precise reading taken before a coarse one can be ahead of it by a tick.
pub(crate) fn millis_since(earlier: u32, later: u32) -> u32 {
    let elapsed = later.wrapping_sub(earlier);
    if elapsed > u32::MAX / 2 {
        0
    } else {
        elapsed
    }
}

/// The [`coarse_millis`] of a reading of either clock.
#[inline]
pub(crate) fn millis(nanos: u64) -> u32 {
    (nanos / 1_000_000) as u32
}

#[cfg(target_os = "linux")]
#[inline]
fn read(clock: libc::clockid_t) -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; both clocks exist on every Linux since 2.6.32,
    // so the call cannot fail.
    unsafe { libc::clock_gettime(clock, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn millis_since_is_zero_when_the_earlier_reading_is_ahead() {
        assert_eq!(millis_since(10, 25), 15);
        assert_eq!(millis_since(u32::MAX - 4, 5), 10, "across the wrap");
        assert_eq!(millis_since(26, 25), 0, "a precise reading a tick ahead");
    }

    #[test]
    fn a_coarse_reading_is_never_after_a_later_precise_one() {
        for _ in 0..1000 {
            let coarse = coarse_nanos();
            assert!(coarse <= precise_nanos());
        }
    }

    #[test]
    fn coarse_time_moves_within_its_resolution() {
        let start = coarse_nanos();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let moved = coarse_nanos() - start;
        assert!((20_000_000..2_000_000_000).contains(&moved), "{moved} ns");
    }
}
