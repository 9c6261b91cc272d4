//! The task allocation's life, seen from outside: what each way of finishing a detached task
//! drops and frees, and how many bytes an idle task costs.

use super::*;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};

/// Counts the drops of the [`Tracked`] values made from it.
#[derive(Clone, Default)]
struct DropCount(Arc<AtomicUsize>);

impl DropCount {
    fn tracked(&self) -> Tracked {
        Tracked(self.clone())
    }
    fn get(&self) -> usize {
        self.0.load(SeqCst)
    }
}

struct Tracked(DropCount);

impl Drop for Tracked {
    fn drop(&mut self) {
        (self.0).0.fetch_add(1, SeqCst);
    }
}

/// A scheduler that is never asked to schedule, and holds no registry. It lives in the task
/// allocation, so it is dropped when the allocation is freed. One pointer, like the runtime's
/// `Arc<Shared>`.
struct Unscheduled {
    _allocation: Tracked,
}

impl Schedule for Unscheduled {
    fn schedule(&self, _task: Runnable) {
        unreachable!("nothing wakes these tasks");
    }
    fn release(&self, _task: TaskRef) -> bool {
        false
    }
}

/// A future that completes on its first poll with a new [`Tracked`] output.
struct ReadyAtOnce {
    _future: Tracked,
    outputs: DropCount,
}

impl Future for ReadyAtOnce {
    type Output = Tracked;
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Tracked> {
        Poll::Ready(self.outputs.tracked())
    }
}

/// How many times a task's future, its output and its allocation were dropped.
#[derive(Debug, PartialEq)]
struct Drops {
    future: usize,
    output: usize,
    allocation: usize,
}

/// Counts the drops of one task's future, output and allocation.
#[derive(Default)]
struct TaskDropCounts {
    future: DropCount,
    output: DropCount,
    allocation: DropCount,
}

impl TaskDropCounts {
    /// A detached task (no handle, no registry, no waker): only its `Runnable` is left.
    fn detached_task(&self) -> Runnable {
        let future = ReadyAtOnce {
            _future: self.future.tracked(),
            outputs: self.output.clone(),
        };
        let scheduler = Unscheduled {
            _allocation: self.allocation.tracked(),
        };
        let (runnable, handle, registered) = new_task(
            future,
            scheduler,
            Spawned::now(std::panic::Location::caller()),
        );
        registered.drop_ref();
        drop(handle);
        assert_eq!(runnable.header().state.load().ref_count(), 1);
        assert_eq!(self.drops(), drops(0, 0, 0));
        runnable
    }

    fn drops(&self) -> Drops {
        drops(self.future.get(), self.output.get(), self.allocation.get())
    }
}

fn drops(future: usize, output: usize, allocation: usize) -> Drops {
    Drops {
        future,
        output,
        allocation,
    }
}

/// A detached task is freed inside `complete`, by its runner, which also drops the future and
/// the output nobody will read. Under Miri this caught `complete` freeing the cell while a
/// `&Cell` argument was still live.
#[test]
fn detached_task_is_freed_by_its_completion() {
    let counts = TaskDropCounts::default();
    let runnable = counts.detached_task();
    assert!(runnable.run().is_none());
    assert_eq!(counts.drops(), drops(1, 1, 1));
}

/// The same, on the cancellation path: a detached task's `Runnable` dropped unrun drops the
/// future, never polled, so there is no output.
#[test]
fn detached_task_is_freed_by_its_cancellation() {
    let counts = TaskDropCounts::default();
    let runnable = counts.detached_task();
    drop(runnable);
    assert_eq!(counts.drops(), drops(1, 0, 1));
}

/// A task parked on a small future (the idle-task memory benchmark's) stays small: every byte
/// here is paid per task by a program holding a million of them.
#[test]
fn an_idle_task_allocation_stays_small() {
    fn cell_size<F: Future>(_: &F) -> usize {
        std::mem::size_of::<Cell<F, Unscheduled>>()
    }
    let future = async { std::future::pending::<()>().await };
    println!("header {} bytes", std::mem::size_of::<Header>());
    println!("idle task cell {} bytes", cell_size(&future));
    // Header 56 (state and poll count 8, vtable 8, registry links 16, join waker 8, id 8,
    // spawn site 4, spawn time 4), scheduler 8, stage 16 (the larger of the future and the
    // output, here the output `Result<(), JoinError>`): 80 bytes, a 96-byte malloc chunk
    // (docs/observability.md, "What it costs").
    assert!(cell_size(&future) <= 80, "{}", cell_size(&future));
    // The memory benchmark's future (`benches/src/bin/idle_task_memory.rs`), an `async fn`
    // holding an `Arc`, is 24 bytes: 88 in all, still within the 96-byte chunk.
    async fn pending_task(polled: std::sync::Arc<AtomicUsize>) {
        polled.fetch_add(1, SeqCst);
        std::future::pending::<()>().await;
    }
    let future = pending_task(Default::default());
    println!("benchmark's idle task cell {} bytes", cell_size(&future));
    assert!(cell_size(&future) <= 88, "{}", cell_size(&future));
}
