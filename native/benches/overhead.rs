//! Binding overhead, in one run: appends through Python and Kotlin against core called directly from Rust, on the
//! same file settings (fresh WAL file per workload, `synchronous=NORMAL`, defaults otherwise).
//!
//! `bash native/bench/run.sh` builds the wheel and the Kotlin jar and runs this with `EVENTLITE_BENCH_PYTHON` (a
//! Python with the wheel installed) and `EVENTLITE_BENCH_JAVA` (a `java ... BenchKt` command line) set; without them
//! only the Rust rows are printed. Each language has two rows: its generated API (events built the plain way) and
//! its idiomatic API, which the packages route through the one-buffer fast path (`append_encoded`): Python's
//! `json_event` + `store.append_to_stream`, Kotlin's `NewEvent.json` + `store.append`. Workloads, identical in every
//! language: 1-event appends with an `Exact` expectation over 100 streams, and 100-event appends to fresh streams;
//! payloads ~80-byte JSON text. Each figure is the best of 3 rounds (`EVENTLITE_BENCH_ROUNDS`), the languages
//! interleaved so machine noise hits all alike; timing is taken inside each program around the append loop only (no
//! process start, no open). `EVENTLITE_BENCH_SCALE=0.1` shrinks it.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use eventlite::{ExpectedVersion, NewEvent, Store};

/// Rounds per figure (the best is kept); `EVENTLITE_BENCH_ROUNDS` overrides it on a noisy machine.
fn rounds() -> usize {
    std::env::var("EVENTLITE_BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).filter(|&n| n > 0).unwrap_or(3)
}
const STREAMS: usize = 100;

fn scaled(n: usize) -> usize {
    let scale: f64 = std::env::var("EVENTLITE_BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    ((n as f64 * scale) as usize).max(STREAMS)
}

fn payload(n: usize) -> String {
    format!(r#"{{"orderId":"order-{n}","amount":{},"currency":"EUR","note":"benchmark event"}}"#, n % 977)
}

/// Events per second of both workloads through core: (1-event appends, 100-event appends).
fn core_round(dir: &Path, singles: usize, batches: usize) -> (f64, f64) {
    let store = Store::open(dir.join("core-single.db")).unwrap();
    let started = Instant::now();
    for i in 0..singles {
        let stream = format!("order-{}", i % STREAMS);
        let event = NewEvent::from_json_text("Placed", payload(i));
        store.append_to_stream(&stream, &[event], ExpectedVersion::Exact((i / STREAMS) as u64)).unwrap();
    }
    let single = singles as f64 / started.elapsed().as_secs_f64();
    drop(store);
    let store = Store::open(dir.join("core-batch.db")).unwrap();
    let started = Instant::now();
    for b in 0..batches {
        let events: Vec<_> = (0..100).map(|n| NewEvent::from_json_text("Placed", payload(b * 100 + n))).collect();
        store.append_to_stream(&format!("batch-{b}"), &events, ExpectedVersion::NoStream).unwrap();
    }
    (single, (batches * 100) as f64 / started.elapsed().as_secs_f64())
}

/// The same through the binding's Rust API (the records and conversions every foreign call goes through).
fn binding_round(dir: &Path, singles: usize, batches: usize) -> (f64, f64) {
    use eventlite_native::{EventData, EventStore, ExpectedVersion as Expected, NewEvent as Event};
    let event = |n: usize| Event {
        event_type: "Placed".into(),
        data: EventData::Json { json: payload(n) },
        metadata: None,
        event_id: None,
    };
    let store = EventStore::open(dir.join("binding-single.db").display().to_string(), None).unwrap();
    let started = Instant::now();
    for i in 0..singles {
        let expected = Expected::Exact { version: (i / STREAMS) as u64 };
        store.append_to_stream(format!("order-{}", i % STREAMS), vec![event(i)], expected).unwrap();
    }
    let single = singles as f64 / started.elapsed().as_secs_f64();
    store.close();
    let store = EventStore::open(dir.join("binding-batch.db").display().to_string(), None).unwrap();
    let started = Instant::now();
    for b in 0..batches {
        let events = (0..100).map(|n| event(b * 100 + n)).collect();
        store.append_to_stream(format!("batch-{b}"), events, Expected::NoStream).unwrap();
    }
    (single, (batches * 100) as f64 / started.elapsed().as_secs_f64())
}

/// Runs a foreign bench program: `<command...> <dir> <singles> <batches>` printing `plain_single plain_batch
/// fast_single fast_batch` (events/s): the generated API, then the idiomatic fast path.
fn foreign_round(command: &str, dir: &Path, singles: usize, batches: usize) -> Vec<f64> {
    let mut parts = command.split_whitespace();
    let output = Command::new(parts.next().unwrap())
        .args(parts)
        .arg(dir)
        .arg(singles.to_string())
        .arg(batches.to_string())
        .output()
        .unwrap_or_else(|error| panic!("{command}: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{command} failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    let line = stdout.lines().last().unwrap_or_default();
    let figures: Vec<f64> = line.split_whitespace().map(|figure| figure.parse().unwrap()).collect();
    assert_eq!(figures.len(), 4, "{command} printed {line:?}");
    figures
}

/// One workload runner: a fresh directory in, (1-event, 100-event) events per second for each of its rows out.
type Runner = Box<dyn Fn(&Path) -> Vec<(f64, f64)>>;

fn main() {
    let singles = scaled(5_000);
    let batches = scaled(100);
    let mut labels = vec!["core (Rust, direct)", "binding API from Rust"];
    let mut runners: Vec<Runner> = vec![Box::new(move |dir: &Path| {
        let core = core_round(dir, singles, batches);
        vec![core, binding_round(dir, singles, batches)]
    })];
    for (plain, fast, variable) in [
        ("Python, generated API (ctypes)", "Python, idiomatic (fast path)", "EVENTLITE_BENCH_PYTHON"),
        ("Kotlin, generated API (JVM, JNA)", "Kotlin, idiomatic (fast path)", "EVENTLITE_BENCH_JAVA"),
    ] {
        if let Ok(command) = std::env::var(variable) {
            labels.extend([plain, fast]);
            runners.push(Box::new(move |dir: &Path| {
                let figures = foreign_round(&command, dir, singles, batches);
                vec![(figures[0], figures[1]), (figures[2], figures[3])]
            }));
        }
    }
    let mut best = vec![(0.0f64, 0.0f64); labels.len()];
    let rounds = rounds();
    for _ in 0..rounds {
        let mut row = 0;
        for run in &runners {
            let dir = tempfile::tempdir().unwrap();
            for (single, batch) in run(dir.path()) {
                best[row] = (best[row].0.max(single), best[row].1.max(batch));
                row += 1;
            }
        }
    }
    println!("binding overhead: {singles} 1-event appends (Exact, {STREAMS} streams), {batches} 100-event appends;");
    println!("events/s, best of {rounds} interleaved rounds, fresh WAL file, synchronous=NORMAL\n");
    println!("| caller | 1-event append | ratio to core | 100-event append | ratio to core |");
    println!("|---|---|---|---|---|");
    let (core_single, core_batch) = best[0];
    for (label, (single, batch)) in labels.iter().zip(&best) {
        println!("| {label} | {single:.0} | {:.2}x | {batch:.0} | {:.2}x |", single / core_single, batch / core_batch);
    }
}
