//! Arming a `Sleep` allocates nothing once the wheel has room: the wheel keeps the waker in its
//! own slab, and the `Sleep` holds only its key. Counted with a global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the counter is a thread-local `Cell` that needs no
// allocation of its own.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// Polls a fresh 1-hour sleep once (arming it), then drops it (cancelling it).
async fn arm_and_cancel() {
    let mut sleep = pin!(spindle_timer::sleep(Duration::from_secs(3600)));
    std::future::poll_fn(|cx| {
        assert!(sleep.as_mut().poll(cx).is_pending());
        Poll::Ready(())
    })
    .await;
}

#[test]
fn arming_and_cancelling_a_sleep_allocates_nothing_in_steady_state() {
    spindle_timer::block_on(async {
        // Warm up: the wheel's slab grows to hold one entry.
        arm_and_cancel().await;
        let before = allocations();
        for _ in 0..1000 {
            arm_and_cancel().await;
        }
        assert_eq!(
            allocations() - before,
            0,
            "allocations for 1000 armed sleeps"
        );
    });
}

/// Pending on its first poll (waking itself), ready on its second: a timeout around it arms
/// its timer and then cancels it.
async fn ready_on_second_poll(value: u32) -> u32 {
    let mut polled = false;
    std::future::poll_fn(|cx| {
        if polled {
            return Poll::Ready(value);
        }
        polled = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

#[test]
fn a_timeout_that_never_fires_allocates_nothing_in_steady_state() {
    spindle_timer::block_on(async {
        let _ = spindle_timer::timeout(Duration::from_secs(1), ready_on_second_poll(0)).await;
        let before = allocations();
        for i in 0..1000 {
            let out = spindle_timer::timeout(Duration::from_secs(1), ready_on_second_poll(i)).await;
            assert_eq!(out, Ok(i));
        }
        assert_eq!(allocations() - before, 0);
    });
}
