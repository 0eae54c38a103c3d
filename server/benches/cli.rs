//! The `eventlite` command line's export and import: rates (events/s) on stores of two sizes, and the processes'
//! peak memory (max RSS, from `/usr/bin/time -f %M`), which must stay flat as the store grows (both stream page by
//! page). Core's 1,000-event batch append rate is measured in the same run, for the ratio the CLI's import is held
//! to (at least 0.5x). Prints figures; asserts nothing about time.
//!
//! `cargo bench -p eventlite-server --bench cli` (sizes from `EVENTLITE_BENCH_CLI_SIZES`, default `100000,1000000`).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use eventlite::{ExpectedVersion, NewEvent, Store};
use serde_json::json;

const BATCH: usize = 1_000;
const STREAMS: usize = 1_000;

/// Builds a store of `events` events in 1,000-event batches over `STREAMS` streams; returns the append rate.
fn build(path: &Path, events: usize) -> f64 {
    let store = Store::open(path).unwrap();
    let started = Instant::now();
    for batch in 0..events / BATCH {
        let stream = format!("order-{}", batch % STREAMS);
        let events: Vec<NewEvent> = (0..BATCH)
            .map(|n| {
                NewEvent::json("Placed", &json!({ "n": batch * BATCH + n, "total": 42, "sku": "ab-123" }))
                    .with_metadata(&json!({ "correlationId": format!("c-{batch}") }))
            })
            .collect();
        store.append_to_stream(&stream, &events, ExpectedVersion::Any).unwrap();
    }
    events as f64 / started.elapsed().as_secs_f64()
}

/// Runs the binary under `/usr/bin/time`; returns (seconds, max RSS in KiB).
fn run(args: &[&str]) -> (f64, u64) {
    let started = Instant::now();
    let output = Command::new("/usr/bin/time")
        .args(["-f", "maxrss_kib=%M"])
        .arg(env!("CARGO_BIN_EXE_eventlite"))
        .args(args)
        .output()
        .expect("/usr/bin/time (Debian package `time`)");
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "eventlite {args:?}: {stderr}");
    let rss = stderr
        .lines()
        .find_map(|line| line.strip_prefix("maxrss_kib="))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    (seconds, rss)
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    let sizes: Vec<usize> = std::env::var("EVENTLITE_BENCH_CLI_SIZES")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .filter_map(|size| size.trim().parse().ok())
        .collect();
    println!(
        "| events | core append, 1,000/batch | export | export max RSS | import | import max RSS | import / append |"
    );
    println!("|---|---|---|---|---|---|---|");
    for events in sizes {
        let dir = tempfile::tempdir().unwrap();
        let (source, archive, target) =
            (dir.path().join("source.db"), dir.path().join("log.ndjson"), dir.path().join("target.db"));
        let append_rate = build(&source, events);
        let (export_s, export_rss) =
            run(&["export", "--store", source.to_str().unwrap(), "--output", archive.to_str().unwrap()]);
        let (import_s, import_rss) =
            run(&["import", "--store", target.to_str().unwrap(), "--input", archive.to_str().unwrap()]);
        let imported = Store::open_read_only(&target).unwrap().stats().unwrap().events;
        assert_eq!(imported, events as u64, "every event imported");
        let (export_rate, import_rate) = (events as f64 / export_s, events as f64 / import_s);
        println!(
            "| {events} | {append_rate:.0} events/s | {export_rate:.0} events/s | {:.1} MiB | {import_rate:.0} events/s | {:.1} MiB | {:.2}x |",
            export_rss as f64 / 1024.0,
            import_rss as f64 / 1024.0,
            import_rate / append_rate
        );
    }
}
