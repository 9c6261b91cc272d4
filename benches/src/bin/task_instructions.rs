//! The scheduler's task paths, for an instruction count under callgrind (deterministic, so it
//! resolves costs that the criterion rows cannot on a shared machine):
//!
//! ```text
//! valgrind --tool=callgrind target/release/task_instructions spawn   # 100,000 tasks spawned from a task, joined one by one
//! valgrind --tool=callgrind target/release/task_instructions chain   # a chain of 100,000 detached tasks, each spawning the next
//! valgrind --tool=callgrind target/release/task_instructions yield   # 100,000 yields of one task
//! valgrind --tool=callgrind target/release/task_instructions remote  # 100,000 tasks spawned from outside the runtime, then joined
//! ```
//!
//! One worker, so the counts do not depend on which worker runs what; a second argument
//! `current-thread` runs the same on a current-thread runtime (the bench thread is the
//! worker). Divide the difference between two builds' totals by 100,000 for the cost per task
//! or per yield. `SPINDLE_DEBUG=1` turns the slow-poll watch on.

use futures::channel::oneshot;

const N: usize = 100_000;

/// One link of `chain`: spawns the next, detached, or fires `done` at the end.
fn link(done: oneshot::Sender<()>, left: usize) {
    if left == 0 {
        let _ = done.send(());
    } else {
        drop(spindle::spawn(async move { link(done, left - 1) }));
    }
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let rt = match std::env::args().nth(2).as_deref() {
        None => spindle::Builder::new().worker_threads(1).build().unwrap(),
        Some("current-thread") => spindle::Builder::new_current_thread().build().unwrap(),
        Some(other) => panic!("unknown runtime {other:?}: current-thread, or nothing"),
    };
    if mode == "remote" {
        let handles: Vec<_> = (0..N).map(|_| rt.spawn(async {})).collect();
        rt.block_on(async {
            for handle in handles {
                handle.await.unwrap();
            }
        });
        return;
    }
    let work = async move {
        match mode.as_str() {
            "spawn" => {
                for _ in 0..N {
                    spindle::spawn(async {}).await.unwrap();
                }
            }
            "chain" => {
                let (done, finished) = oneshot::channel();
                link(done, N);
                finished.await.unwrap();
            }
            "yield" => {
                for _ in 0..N {
                    spindle::yield_now().await;
                }
            }
            _ => panic!("usage: task_instructions spawn|chain|yield|remote"),
        }
    };
    rt.block_on(rt.spawn(work)).unwrap();
}
