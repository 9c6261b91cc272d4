//! The examples of docs/testing.md, as written there.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

#[spindle::test]
async fn spawned_tasks_finish() {
    let task = spindle::spawn(async { 2 + 2 });
    assert_eq!(task.await.unwrap(), 4);
}

#[spindle::test(start_paused = true)]
async fn a_retry_loop_gives_up_after_an_hour() {
    let start = spindle::time::now();
    let mut attempts = 0;
    let gave_up = spindle::timeout(Duration::from_secs(3590), async {
        loop {
            attempts += 1;
            spindle::sleep(Duration::from_secs(60)).await; // back off a minute
        }
    })
    .await;
    assert!(gave_up.is_err());
    assert_eq!(attempts, 60);
    assert_eq!(spindle::time::now() - start, Duration::from_secs(3590));
}

#[spindle::test(start_paused = true)]
async fn a_cache_entry_expires_after_ten_seconds() {
    // The deadline is set when the sleep is made: now + 10 s.
    let expired = spindle::spawn(spindle::sleep(Duration::from_secs(10)));
    spindle::time::advance(Duration::from_secs(9)).await;
    assert!(!expired.is_finished());
    spindle::time::advance(Duration::from_secs(1)).await;
    expired.await.unwrap();
}

#[spindle::test(flavor = "current_thread")]
async fn tasks_share_a_log() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let tasks: Vec<_> = (0..3)
        .map(|n| {
            let log = log.clone();
            spindle::spawn_local(async move { log.borrow_mut().push(n) })
        })
        .collect();
    spindle::join_all(tasks).await;
    assert_eq!(log.borrow().len(), 3);
}

#[spindle::test(seed = 7)]
async fn the_worker_pool_drains_its_queue() {
    let handled = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let handled = handled.clone();
            spindle::spawn(async move {
                for _ in 0..25 {
                    handled.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    spindle::yield_now().await;
                }
            })
        })
        .collect();
    spindle::join_all(workers).await;
    assert_eq!(handled.load(std::sync::atomic::Ordering::SeqCst), 100);
}

async fn two_racy_increments() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
    use std::sync::Arc;

    let counter = Arc::new(AtomicU32::new(0));
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let counter = counter.clone();
            spindle::spawn(async move {
                let read = counter.load(SeqCst);
                spindle::yield_now().await; // another task may run here
                counter.store(read + 1, SeqCst);
            })
        })
        .collect();
    spindle::join_all(tasks).await;
    counter.load(SeqCst)
}

#[test]
fn some_schedules_lose_an_update() {
    let losing: Vec<u64> = (0..50)
        .filter(|&seed| {
            let runtime = spindle::Builder::new_deterministic(seed).build().unwrap();
            runtime.block_on(two_racy_increments()) != 2
        })
        .collect();
    assert!(!losing.is_empty());
    // Each of them loses it again, every time.
    for &seed in &losing {
        let runtime = spindle::Builder::new_deterministic(seed).build().unwrap();
        assert_eq!(runtime.block_on(two_racy_increments()), 1);
    }
}
