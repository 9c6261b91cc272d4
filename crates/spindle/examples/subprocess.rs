//! asyncio's subprocess tutorial on spindle: run commands and print what they wrote, several
//! at once (`create_subprocess_exec` + `communicate`, under `gather`), then a pipeline, one
//! child's stdout fed into another's stdin, as a shell's `printf ... | sort` would.
//!
//! Run with `cargo run --example subprocess`.

use spindle::process::Command;
use std::io;
use std::process::Stdio;
use std::time::Instant;

/// Runs `program` with `args`, captures its stdout and stderr, and prints them with its exit
/// code: the tutorial's `run(cmd)`. Returns the exit code and stdout.
async fn run(program: &str, args: &[&str]) -> io::Result<(Option<i32>, String)> {
    let output = Command::new(program).args(args).output().await?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let code = output.status.code();
    println!("[{program} {} exited with {code:?}]", args.join(" "));
    if !stdout.is_empty() {
        println!("[stdout]\n{stdout}");
    }
    if !stderr.is_empty() {
        println!("[stderr]\n{stderr}");
    }
    Ok((code, stdout))
}

/// `printf 'banana\ncherry\napple\n' | sort`: printf's stdout is copied into sort's stdin by
/// this process, and sort's output read back.
async fn pipeline() -> io::Result<String> {
    let mut printf = Command::new("printf")
        .arg(r"banana\ncherry\napple\n")
        .stdout(Stdio::piped())
        .spawn()?;
    let mut sort = Command::new("sort")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let printed = printf.stdout.take().expect("printf's stdout is piped");
    let mut sort_stdin = sort.stdin.take().expect("sort's stdin is piped");
    // Copies until printf's stdout reaches EOF, then closes sort's stdin, so sort finishes.
    let copied = futures::io::copy(printed, &mut sort_stdin).await?;
    drop(sort_stdin);
    let sorted = sort.wait_with_output().await?;
    println!("[printf exited with {:?}]", printf.wait().await?.code());
    println!(
        "[sort read {copied} bytes, exited with {:?}]",
        sorted.status.code()
    );
    Ok(String::from_utf8_lossy(&sorted.stdout).into_owned())
}

fn main() -> io::Result<()> {
    spindle::block_on(async {
        let start = Instant::now();
        // Two at once, like asyncio.gather(run('ls /'), run('ls /zzz')).
        let results = spindle::join_all([
            spindle::spawn(run("ls", &["/"])),
            spindle::spawn(run("ls", &["/zzz"])),
        ])
        .await;
        let mut results = results
            .into_iter()
            .map(|joined| joined.expect("the task ran"));
        let (listed, listing) = results.next().expect("two results")?;
        let (missing, _) = results.next().expect("two results")?;
        assert_eq!(listed, Some(0), "ls / succeeds");
        assert!(listing.lines().any(|name| name == "tmp"), "/ holds tmp");
        assert_ne!(missing, Some(0), "ls /zzz fails");
        println!("both ran in {} ms", start.elapsed().as_millis());

        let sorted = pipeline().await?;
        print!("[sorted]\n{sorted}");
        assert_eq!(sorted, "apple\nbanana\ncherry\n");
        Ok(())
    })
}
