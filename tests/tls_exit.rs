//! Issue #11: a process must exit cleanly while threads are still connecting to PostgreSQL
//! over TLS. Before the fix, OpenSSL's exit handler freed its global tables under a thread
//! in the middle of a handshake and the process died with SIGSEGV after its work was done
//! (the integration binary after `test result: ok`, once in a dozen runs).
//!
//! This binary starts itself again as a child many times. Each child opens connections to
//! the test database over TLS (`sslmode=require`) through the store's own connection code
//! on four threads, and exits from the main thread while they are mid-handshake. Every
//! child must exit with status 0. Without PostgreSQL (`UEC_IDP_TEST_DATABASE_URL` unset)
//! there is no TLS to test, and it says so.

use std::process::Command;
use std::time::Duration;

use uec_idp::config::DatabaseUrl;
use uec_idp::store::Db;

const CHILD: &str = "UEC_IDP_TLS_EXIT_CHILD";
const RUNS: u32 = 50;
const THREADS: usize = 4;

fn main() {
    if let Ok(url) = std::env::var(CHILD) {
        child(url);
    }
    let Some(base) = std::env::var("UEC_IDP_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        println!("tls_exit: no PostgreSQL (UEC_IDP_TEST_DATABASE_URL unset), nothing to test");
        println!("0 passed, 0 failed, 1 skipped");
        return;
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}sslmode=require");
    let me = std::env::current_exe().expect("own path");
    let mut failed = Vec::new();
    for run in 0..RUNS {
        // Exit at a different moment of the handshakes each time (0 to 25 ms in).
        let delay_us = (run * 7919) % 25_000;
        let out = Command::new(&me)
            .env(CHILD, &url)
            .env("DELAY_US", delay_us.to_string())
            .output()
            .expect("start child");
        if !out.status.success() {
            failed.push(format!(
                "run {run} (exit after {delay_us} µs): {} {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    for f in &failed {
        eprintln!("tls_exit: {f}");
    }
    println!(
        "tls_exit: {} of {RUNS} processes exited cleanly while connecting over TLS",
        RUNS as usize - failed.len()
    );
    println!(
        "{} passed, {} failed",
        u32::from(failed.is_empty()),
        u32::from(!failed.is_empty())
    );
    if !failed.is_empty() {
        std::process::exit(1);
    }
}

/// Connects over TLS in a loop on several threads; exits while they are still at it.
fn child(url: String) -> ! {
    let delay = std::env::var("DELAY_US")
        .ok()
        .and_then(|d| d.parse().ok())
        .map(Duration::from_micros)
        .unwrap_or_default();
    let url = DatabaseUrl::Postgres(url);
    // One connection first, so the failure mode is "exit during a handshake", not "the
    // server cannot be reached".
    if let Err(e) = Db::connect(&url, 1) {
        eprintln!("cannot connect over TLS: {e}");
        std::process::exit(3);
    }
    for _ in 0..THREADS {
        let url = url.clone();
        std::thread::spawn(move || {
            loop {
                let _ = Db::connect(&url, 1);
            }
        });
    }
    std::thread::sleep(delay);
    std::process::exit(0)
}
