//! Errors, the asyncio way and the Rust way.
//!
//! 1. `?` on an awaited future's `Err` returns it from the `async fn`, as `raise` propagates out
//!    of `await` in Python.
//! 2. A task that panics does not take the runtime down: its `JoinHandle` gives a `JoinError`
//!    with `is_panic()` and the panic's message. The panic hook still sees every panic first;
//!    this example installs a one-line hook where a program would log it.
//! 3. `join_all` over `JoinHandle`s is `gather(..., return_exceptions=True)`: one `Result`
//!    per task, in order.
//! 4. `try_join_all` is plain `gather`: the first error wins and the other futures are dropped
//!    (cancelled).
//!
//! Run with `cargo run --example errors`.

use std::time::Duration;

#[derive(Debug)]
struct NotFound(u32);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "user {} not found", self.0)
    }
}

impl std::error::Error for NotFound {}

async fn fetch_user(id: u32) -> Result<String, NotFound> {
    spindle::sleep(Duration::from_millis(10 * u64::from(id))).await;
    if id == 2 {
        return Err(NotFound(id));
    }
    Ok(format!("user-{id}"))
}

async fn greet(id: u32) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let name = fetch_user(id).await?;
    Ok(format!("hello, {name}"))
}

/// Says, when dropped, whether the fetch it belongs to finished or was cancelled midway.
struct Announce {
    id: u32,
    finished: bool,
}

impl Drop for Announce {
    fn drop(&mut self) {
        if !self.finished {
            println!("   fetch {} cancelled before it finished", self.id);
        }
    }
}

fn main() {
    std::panic::set_hook(Box::new(|info| {
        if let Some(at) = info.location() {
            println!("   [panic hook] a panic at {}:{}", at.file(), at.line());
        }
    }));
    spindle::block_on(async {
        println!("1. `?` on an awaited Err");
        println!("   greet(1) = {:?}", greet(1).await);
        match greet(2).await {
            Ok(greeting) => println!("   greet(2) = {greeting}"),
            Err(err) => println!("   greet(2) failed: {err}"),
        }

        println!("2. a panicking task becomes a JoinError");
        let task = spindle::spawn(async {
            let values: Vec<u32> = Vec::new();
            values[0]
        });
        let err = task.await.unwrap_err();
        println!(
            "   is_panic() = {}, message: {:?}",
            err.is_panic(),
            message(err)
        );
        let still_running = spindle::spawn(async { "the workers are fine" }).await;
        println!("   next task: {still_running:?}");

        println!("3. return_exceptions=True: join_all over JoinHandles");
        let handles: Vec<_> = (1..=3)
            .map(|id| {
                spindle::spawn(async move {
                    if id == 2 {
                        panic!("task {id} gave up");
                    }
                    id * 10
                })
            })
            .collect();
        for (id, outcome) in (1..=3).zip(spindle::join_all(handles).await) {
            match outcome {
                Ok(value) => println!("   task {id}: Ok({value})"),
                Err(err) => {
                    let display = err.to_string();
                    println!("   task {id}: Err({display}), message: {:?}", message(err));
                }
            }
        }

        println!("4. try_join_all: the first error wins, the rest are dropped");
        let fetches = (1..=4).map(|id| async move {
            let mut announce = Announce {
                id,
                finished: false,
            };
            let user = fetch_user(id).await;
            announce.finished = true;
            println!("   fetch {id} finished: {user:?}");
            user
        });
        match spindle::try_join_all(fetches).await {
            Ok(users) => println!("   all found: {users:?}"),
            Err(err) => println!("   try_join_all failed: {err}"),
        }
    });
}

fn message(err: spindle::JoinError) -> String {
    match err.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default(),
        Err(err) => err.to_string(),
    }
}
