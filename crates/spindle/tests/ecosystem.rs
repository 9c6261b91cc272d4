//! Other crates' futures run on spindle unchanged: channels, locks, `select!`, stream
//! combinators and `futures::io` over spindle's own timers and sockets. Each test runs on a
//! real 2-worker runtime, so a wake-up that one of these crates relies on and spindle loses
//! shows up as a wrong count or a watchdog failure.

mod common;

use common::{runtime, scaled, with_watchdog};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::{FutureExt, StreamExt};
use spindle::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(30);

/// `futures::channel::mpsc`: four producer tasks and one consumer task on different workers;
/// every message arrives once, and each producer's messages arrive in the order it sent them.
#[test]
fn futures_mpsc_delivers_every_message_in_order_per_sender() {
    with_watchdog("futures-mpsc", LIMIT, || {
        let per_producer = scaled(2_000, 100);
        let rt = runtime(2);
        let received = rt.block_on(async move {
            let (sender, mut receiver) = futures::channel::mpsc::channel::<(usize, usize)>(8);
            let producers: Vec<_> = (0..4)
                .map(|producer| {
                    let mut sender = sender.clone();
                    spindle::spawn(async move {
                        for seq in 0..per_producer {
                            futures::SinkExt::send(&mut sender, (producer, seq))
                                .await
                                .unwrap();
                        }
                    })
                })
                .collect();
            drop(sender);
            let consumer = spindle::spawn(async move {
                let mut received = Vec::new();
                while let Some(message) = receiver.next().await {
                    received.push(message);
                }
                received
            });
            for producer in spindle::join_all(producers).await {
                producer.unwrap();
            }
            consumer.await.unwrap()
        });
        assert_eq!(received.len(), 4 * per_producer);
        let mut next_seq = [0usize; 4];
        for (producer, seq) in received {
            assert_eq!(seq, next_seq[producer], "producer {producer} out of order");
            next_seq[producer] += 1;
        }
    });
}

/// `futures::channel::oneshot`: a request carries its reply channel to a server task, which
/// answers on it; a dropped sender shows up as `Canceled` on the receiving side.
#[test]
fn futures_oneshot_carries_replies_between_tasks() {
    with_watchdog("futures-oneshot", LIMIT, || {
        let rt = runtime(2);
        let (replies, dropped) = rt.block_on(async {
            let (requests, mut incoming) =
                futures::channel::mpsc::unbounded::<(u64, futures::channel::oneshot::Sender<u64>)>(
                );
            let server = spindle::spawn(async move {
                while let Some((n, reply)) = incoming.next().await {
                    spindle::sleep(Duration::from_millis(1)).await;
                    reply.send(n * n).unwrap();
                }
            });
            let asks = (1..=10u64).map(|n| {
                let (reply, answer) = futures::channel::oneshot::channel();
                requests.unbounded_send((n, reply)).unwrap();
                answer
            });
            let replies: Vec<u64> = spindle::join_all(asks)
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
            drop(requests);
            server.await.unwrap();

            let (never_sent, answer) = futures::channel::oneshot::channel::<u64>();
            spindle::spawn(async move { drop(never_sent) })
                .await
                .unwrap();
            (replies, answer.await)
        });
        assert_eq!(replies, (1..=10u64).map(|n| n * n).collect::<Vec<_>>());
        assert_eq!(dropped, Err(futures::channel::oneshot::Canceled));
    });
}

/// `async-channel` (smol's): a bounded channel of capacity 4 between four producers and four
/// consumers; every item is received exactly once and the consumers end when the last sender
/// is dropped.
#[test]
fn async_channel_fans_items_out_to_consumers_exactly_once() {
    with_watchdog("async-channel", LIMIT, || {
        let items = scaled(4_000, 200);
        let rt = runtime(2);
        let per_consumer = rt.block_on(async move {
            let (sender, receiver) = async_channel::bounded::<usize>(4);
            let producers: Vec<_> = (0..4)
                .map(|producer| {
                    let sender = sender.clone();
                    spindle::spawn(async move {
                        for item in (producer..items).step_by(4) {
                            sender.send(item).await.unwrap();
                        }
                    })
                })
                .collect();
            drop(sender);
            let consumers: Vec<_> = (0..4)
                .map(|_| {
                    let receiver = receiver.clone();
                    spindle::spawn(async move {
                        let mut got = Vec::new();
                        while let Ok(item) = receiver.recv().await {
                            got.push(item);
                        }
                        got
                    })
                })
                .collect();
            drop(receiver);
            for producer in spindle::join_all(producers).await {
                producer.unwrap();
            }
            spindle::join_all(consumers).await
        });
        let mut all: Vec<usize> = per_consumer.into_iter().flat_map(Result::unwrap).collect();
        all.sort_unstable();
        assert_eq!(all, (0..items).collect::<Vec<_>>());
    });
}

/// `futures::lock::Mutex` across 100 tasks on 2 workers: each task increments a shared counter
/// many times, yielding while it holds the lock so the others queue up behind it. No increment
/// is lost and no two tasks are ever inside the lock at once.
#[test]
fn futures_mutex_serialises_a_hundred_tasks_on_two_workers() {
    with_watchdog("futures-mutex", LIMIT, || {
        let rounds = scaled(50, 10);
        let rt = runtime(2);
        let counter = Arc::new(futures::lock::Mutex::new(0usize));
        let inside = Arc::new(AtomicUsize::new(0));
        let most_inside = Arc::new(AtomicUsize::new(0));
        let results = rt.block_on({
            let (counter, inside, most_inside) =
                (counter.clone(), inside.clone(), most_inside.clone());
            async move {
                let tasks: Vec<_> = (0..100)
                    .map(|_| {
                        let (counter, inside, most_inside) =
                            (counter.clone(), inside.clone(), most_inside.clone());
                        spindle::spawn(async move {
                            for _ in 0..rounds {
                                let mut guard = counter.lock().await;
                                let holders = inside.fetch_add(1, Ordering::SeqCst) + 1;
                                most_inside.fetch_max(holders, Ordering::SeqCst);
                                let before = *guard;
                                spindle::yield_now().await;
                                *guard = before + 1;
                                inside.fetch_sub(1, Ordering::SeqCst);
                            }
                        })
                    })
                    .collect();
                spindle::join_all(tasks).await
            }
        });
        assert!(results.into_iter().all(|result| result.is_ok()));
        assert_eq!(*counter.try_lock().unwrap(), 100 * rounds);
        assert_eq!(most_inside.load(Ordering::SeqCst), 1);
    });
}

/// `async-lock` (smol's): a `Semaphore` of 3 permits over 50 tasks that each hold a permit
/// across a 5 ms sleep: never more than 3 inside at once, and 3 reached (the permits are
/// really shared, not serialised); an `RwLock` read by all of them sees every write made
/// under its write guard.
#[test]
fn async_lock_semaphore_and_rwlock_bound_and_share_across_tasks() {
    with_watchdog("async-lock", LIMIT, || {
        let rt = runtime(2);
        let semaphore = Arc::new(async_lock::Semaphore::new(3));
        let table = Arc::new(async_lock::RwLock::new(Vec::<usize>::new()));
        let inside = Arc::new(AtomicUsize::new(0));
        let most_inside = Arc::new(AtomicUsize::new(0));
        let seen = rt.block_on({
            let (table, inside, most_inside) = (table.clone(), inside.clone(), most_inside.clone());
            async move {
                let tasks: Vec<_> = (0..50)
                    .map(|id| {
                        let (semaphore, table, inside, most_inside) = (
                            semaphore.clone(),
                            table.clone(),
                            inside.clone(),
                            most_inside.clone(),
                        );
                        spindle::spawn(async move {
                            let _permit = semaphore.acquire().await;
                            let holders = inside.fetch_add(1, Ordering::SeqCst) + 1;
                            most_inside.fetch_max(holders, Ordering::SeqCst);
                            spindle::sleep(Duration::from_millis(5)).await;
                            table.write().await.push(id);
                            inside.fetch_sub(1, Ordering::SeqCst);
                            table.read().await.contains(&id)
                        })
                    })
                    .collect();
                spindle::join_all(tasks).await
            }
        });
        assert!(seen.into_iter().all(|found| found.unwrap()));
        assert_eq!(most_inside.load(Ordering::SeqCst), 3);
        let mut ids = table.try_read().unwrap().clone();
        ids.sort_unstable();
        assert_eq!(ids, (0..50).collect::<Vec<_>>());
    });
}

/// `futures::select!` over two spindle sleeps (20 ms and 300 ms): the short one wins the first
/// select, whichever branch is written first, well before the long one is due; looping until
/// `complete` then sees the long one too, in deadline order.
#[test]
fn futures_select_picks_the_sleep_that_finishes_first() {
    with_watchdog("futures-select", LIMIT, || {
        let rt = runtime(2);
        let (first_winner, second_winner, first_at, order, all_done_at) = rt.block_on(async {
            spindle::spawn(async {
                let start = Instant::now();
                let short = spindle::sleep(Duration::from_millis(20)).fuse();
                let long = spindle::sleep(Duration::from_millis(300)).fuse();
                futures::pin_mut!(short, long);
                let first_winner = futures::select! {
                    () = long => "long",
                    () = short => "short",
                };
                let first_at = start.elapsed();

                let short = spindle::sleep(Duration::from_millis(20)).fuse();
                let long = spindle::sleep(Duration::from_millis(300)).fuse();
                futures::pin_mut!(short, long);
                let second_winner = futures::select! {
                    () = short => "short",
                    () = long => "long",
                };

                let start = Instant::now();
                let short = spindle::sleep(Duration::from_millis(20)).fuse();
                let long = spindle::sleep(Duration::from_millis(60)).fuse();
                futures::pin_mut!(short, long);
                let mut order = Vec::new();
                loop {
                    futures::select! {
                        () = long => order.push("long"),
                        () = short => order.push("short"),
                        complete => break,
                    }
                }
                (
                    first_winner,
                    second_winner,
                    first_at,
                    order,
                    start.elapsed(),
                )
            })
            .await
            .unwrap()
        });
        assert_eq!(first_winner, "short");
        assert_eq!(second_winner, "short");
        assert!(
            first_at >= Duration::from_millis(20) && first_at < Duration::from_millis(250),
            "the 20 ms branch won after {first_at:?}"
        );
        assert_eq!(order, ["short", "long"]);
        assert!(all_done_at >= Duration::from_millis(60));
    });
}

/// `futures::StreamExt` over an `Interval`: `take(5)` ends the stream after five ticks, the
/// ticks are one period apart on the schedule, and none is delivered before its instant.
#[test]
fn futures_stream_combinators_drive_an_interval() {
    with_watchdog("stream-interval", LIMIT, || {
        let period = Duration::from_millis(20);
        let rt = runtime(2);
        let (ticks, elapsed) = rt
            .block_on(rt.spawn(async move {
                let start = Instant::now();
                let ticks: Vec<(Instant, Instant)> = spindle::interval(period)
                    .take(5)
                    .map(|tick| (tick, Instant::now()))
                    .collect()
                    .await;
                (ticks, start.elapsed())
            }))
            .unwrap();
        assert_eq!(ticks.len(), 5);
        for (index, (tick, delivered)) in ticks.iter().enumerate() {
            assert_eq!(*tick - ticks[0].0, period * index as u32);
            assert!(delivered >= tick, "tick {index} was delivered early");
        }
        assert!(elapsed >= period * 4, "five ticks took only {elapsed:?}");
    });
}

/// `futures::io::copy` between two spindle `TcpStream`s (a one-connection proxy): every byte of
/// a 1 MiB payload goes from the client through the proxy to the sink, the count `copy`
/// returns is the payload's length, and closing the proxy's outbound stream ends the sink's
/// read.
#[test]
fn futures_io_copy_moves_every_byte_between_tcp_streams() {
    with_watchdog("futures-io-copy", LIMIT, || {
        let payload: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        let rt = runtime(2);
        let (copied, received) = rt.block_on({
            let payload = payload.clone();
            async move {
                let inbound = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let outbound = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let (inbound_addr, outbound_addr) = (
                    inbound.local_addr().unwrap(),
                    outbound.local_addr().unwrap(),
                );

                let client = spindle::spawn(async move {
                    let mut stream = TcpStream::connect(inbound_addr).await.unwrap();
                    stream.write_all(&payload).await.unwrap();
                    stream.close().await.unwrap();
                });
                let sink = spindle::spawn(async move {
                    let (mut stream, _) = outbound.accept().await.unwrap();
                    let mut received = Vec::new();
                    stream.read_to_end(&mut received).await.unwrap();
                    received
                });

                let (mut from_client, _) = inbound.accept().await.unwrap();
                let mut to_sink = TcpStream::connect(outbound_addr).await.unwrap();
                let copied = futures::io::copy(&mut from_client, &mut to_sink)
                    .await
                    .unwrap();
                to_sink.close().await.unwrap();
                client.await.unwrap();
                (copied, sink.await.unwrap())
            }
        });
        assert_eq!(copied, payload.len() as u64);
        assert_eq!(received.len(), payload.len());
        assert!(received == payload, "the sink received different bytes");
    });
}
