//! The deterministic scheduler's park (`deterministic`, step 3): its thread counts every
//! logical worker parked, looks at the queues once more, and parks in the real
//! [`ThreadParker`], while another thread spawns a task into the injector and notifies. The
//! model runs the real scheduler, built by `prepare_deterministic` and driven by
//! `Scheduler::block_on`.
//!
//! The bug it catches: the spawn lost between the thread's last look at the queues and its
//! park (the push seen by neither side), so the thread parks for good and `block_on` never
//! returns: loom reports the deadlock.

use super::model;
use crate::loom::sync::Mutex;
use crate::loom::Arc;
use crate::Scheduler;
use loom::thread;
use spindle_core::ThreadParker;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::task::{Poll, Waker};

#[test]
fn a_spawn_from_another_thread_vs_the_deterministic_thread_parking() {
    model(|| {
        let scheduler = Scheduler::builder()
            .worker_threads(2)
            .prepare_deterministic(1, ThreadParker::new())
            .unwrap()
            .start_on_caller()
            .unwrap();
        let spawner = scheduler.spawner();
        // The task runs on the deterministic thread, which is the only one that reads these.
        let ran = std::sync::Arc::new(AtomicBool::new(false));
        let main_waker: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
        let spawning = {
            let (ran, main_waker) = (ran.clone(), main_waker.clone());
            thread::spawn(move || {
                drop(spawner.spawn(async move {
                    ran.store(true, SeqCst);
                    if let Some(waker) = main_waker.lock().take() {
                        waker.wake();
                    }
                }));
            })
        };
        let done = scheduler.block_on(std::future::poll_fn(|cx| {
            if ran.load(SeqCst) {
                return Poll::Ready(());
            }
            *main_waker.lock() = Some(cx.waker().clone());
            Poll::Pending
        }));
        assert_eq!(done, Some(()));
        spawning.join().unwrap();
    });
}
