//! An open-loop load generator, run as its own process against a server in another
//! (`benches/run_latency.sh` starts both):
//!
//! ```text
//! loadgen <http|echo> ADDR --connections N --rate R [--warmup S] [--duration S]
//! ```
//!
//! **Open loop** (`--rate R`, requests per second in all): every connection sends requests on
//! a fixed schedule, one every `N / R` seconds, the connections' schedules staggered evenly,
//! whatever the answers do. A request's latency runs from its *scheduled* send time to the end
//! of its answer, so an answer that comes late also delays the requests queued behind it on
//! the connection, and their wait counts: no coordinated omission (wrk2's rule). **Closed
//! loop** (`--rate 0`): each connection sends its next request as soon as the previous answer
//! is in; latency runs from the send; the rate achieved is the server's peak from this client.
//! In open loop every scheduled request is sent, late if it must be, so an overloaded server
//! shows in the latencies, not in `achieved_rps`.
//!
//! Requests scheduled in the first `--warmup` seconds (default 2) are sent but not recorded;
//! recording lasts `--duration` seconds (default 10). Latencies go into an HDR histogram
//! (`hdrhistogram`, microseconds, 3 significant digits), one per connection, merged at the end.
//! Prints one line: `workload=… connections=… target_rps=… achieved_rps=… p50_us=… p99_us=…
//! p999_us=… max_us=… errors=…`.
//!
//! Each connection is a thread with a blocking socket (`TCP_NODELAY`): a thread sleeping until
//! its next send time wakes within microseconds (the timer slack is set to 1 ns), where an async
//! timer with a millisecond wheel would add up to a millisecond to every latency.
//!
//! - `http`: `GET / HTTP/1.1` on keep-alive connections, each answer read to the end of its
//!   `content-length` body.
//! - `echo`: a 64-byte message, and its 64-byte echo.

use hdrhistogram::Histogram;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const MESSAGE_LEN: usize = 64;
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n";

#[derive(Clone, Copy)]
enum Workload {
    Http,
    Echo,
}

struct Options {
    workload: Workload,
    addr: SocketAddr,
    connections: usize,
    rate: f64,
    warmup: Duration,
    duration: Duration,
}

fn parse() -> Result<Options, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let workload = match args.first().map(String::as_str) {
        Some("http") => Workload::Http,
        Some("echo") => Workload::Echo,
        _ => return Err("the first argument is the workload: http or echo".into()),
    };
    let addr = args
        .get(1)
        .ok_or("the second argument is the server's address")?
        .parse()
        .map_err(|err| format!("bad address: {err}"))?;
    let mut options = Options {
        workload,
        addr,
        connections: 64,
        rate: 0.0,
        warmup: Duration::from_secs(2),
        duration: Duration::from_secs(10),
    };
    let mut rest = args[2..].iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or(format!("{flag} needs a value"))?;
        let number = |what: &str| -> Result<f64, String> {
            value
                .parse::<f64>()
                .ok()
                .filter(|n| *n >= 0.0)
                .ok_or(format!(
                    "{what} must be a non-negative number, not {value:?}"
                ))
        };
        match flag.as_str() {
            "--connections" => options.connections = number("--connections")?.max(1.0) as usize,
            "--rate" => options.rate = number("--rate")?,
            "--warmup" => options.warmup = Duration::from_secs_f64(number("--warmup")?),
            "--duration" => options.duration = Duration::from_secs_f64(number("--duration")?),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(options)
}

/// Sends one request on `stream` and reads its whole answer.
fn exchange(stream: &mut TcpStream, workload: Workload, buf: &mut Vec<u8>) -> io::Result<()> {
    match workload {
        Workload::Echo => {
            let message = [7u8; MESSAGE_LEN];
            stream.write_all(&message)?;
            let mut echo = [0u8; MESSAGE_LEN];
            stream.read_exact(&mut echo)
        }
        Workload::Http => {
            stream.write_all(REQUEST)?;
            buf.clear();
            let mut chunk = [0u8; 4096];
            loop {
                if let Some(head_end) = find(buf, b"\r\n\r\n") {
                    let length = content_length(&buf[..head_end]).ok_or_else(|| {
                        io::Error::new(io::ErrorKind::InvalidData, "no content-length")
                    })?;
                    if buf.len() >= head_end + 4 + length {
                        return Ok(());
                    }
                }
                let n = stream.read(&mut chunk)?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn content_length(head: &[u8]) -> Option<usize> {
    let head = std::str::from_utf8(head).ok()?;
    head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

/// Asks the kernel to wake this thread's sleeps on time (the default slack is 50 µs).
fn tight_timer_slack() {
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and changes only this thread's
    // timer slack; no memory is passed.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

struct ConnectionResult {
    histogram: Histogram<u64>,
    errors: u64,
}

/// One connection's run: `offset` is where its schedule starts within the first interval.
fn run_connection(options: &Options, start: Instant, offset: Duration) -> ConnectionResult {
    tight_timer_slack();
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let mut errors = 0;
    let record_from = start + options.warmup;
    let end = record_from + options.duration;
    let mut stream = match TcpStream::connect(options.addr) {
        Ok(stream) => stream,
        Err(_) => {
            return ConnectionResult {
                histogram,
                errors: 1,
            }
        }
    };
    stream.set_nodelay(true).unwrap();
    let interval = (options.rate > 0.0)
        .then(|| Duration::from_secs_f64(options.connections as f64 / options.rate));
    let mut buf = Vec::with_capacity(4096);
    let mut next = start + offset;
    loop {
        let sent_at = match interval {
            Some(interval) => {
                let scheduled = next;
                next += interval;
                if let Some(wait) = scheduled.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                scheduled
            }
            None => Instant::now(),
        };
        if sent_at >= end {
            return ConnectionResult { histogram, errors };
        }
        match exchange(&mut stream, options.workload, &mut buf) {
            Ok(()) if sent_at >= record_from => {
                let micros = sent_at.elapsed().as_micros() as u64;
                histogram.saturating_record(micros.max(1));
            }
            Ok(()) => {}
            Err(_) => {
                errors += 1;
                return ConnectionResult { histogram, errors };
            }
        }
    }
}

fn main() -> ExitCode {
    let options = match parse() {
        Ok(options) => options,
        Err(err) => {
            eprintln!("loadgen: {err}");
            return ExitCode::from(2);
        }
    };
    let start = Instant::now() + Duration::from_millis(100);
    let stagger = match options.rate {
        rate if rate > 0.0 => Duration::from_secs_f64(1.0 / rate),
        _ => Duration::ZERO,
    };
    let results: Vec<ConnectionResult> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..options.connections)
            .map(|index| {
                let options = &options;
                scope.spawn(move || run_connection(options, start, stagger * index as u32))
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let mut errors = 0;
    for result in &results {
        histogram.add(&result.histogram).unwrap();
        errors += result.errors;
    }
    let workload = match options.workload {
        Workload::Http => "http",
        Workload::Echo => "echo",
    };
    println!(
        "workload={workload} connections={} target_rps={:.0} achieved_rps={:.0} p50_us={} p99_us={} p999_us={} max_us={} errors={errors}",
        options.connections,
        options.rate,
        histogram.len() as f64 / options.duration.as_secs_f64(),
        histogram.value_at_quantile(0.5),
        histogram.value_at_quantile(0.99),
        histogram.value_at_quantile(0.999),
        histogram.max(),
    );
    if errors > 0 {
        eprintln!("loadgen: {errors} connection(s) failed");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
