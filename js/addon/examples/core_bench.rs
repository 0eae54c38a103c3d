//! The core side of the Node benchmark (`js/bench/node/bench.mjs`): the same work as the package does through the
//! addon, done by core from Rust, in a fresh file store (WAL, `synchronous` NORMAL, the store's defaults). Prints one
//! JSON object of rates (events per second) for the JS side to compare.
//!
//! ```sh
//! cargo run --release -p eventlite-node --example core_bench -- <directory> [events]
//! ```

use std::time::Instant;

use eventlite::{ExpectedVersion, NewEvent, ReadAllOptions, ReadStreamOptions, Store};
use serde_json::json;

fn main() {
    let mut args = std::env::args().skip(1);
    let directory = std::path::PathBuf::from(args.next().expect("usage: core_bench <directory> [events]"));
    let events: usize = args.next().map_or(5000, |n| n.parse().expect("events: a number"));
    let store = Store::open(directory.join("core.db")).expect("open the store");
    const STREAMS: usize = 100;

    // 1 event per append, `Exact`, round-robin over 100 streams.
    let started = Instant::now();
    for i in 0..events {
        let stream = format!("single-{}", i % STREAMS);
        let expected = ExpectedVersion::Exact((i / STREAMS) as u64);
        store.append_to_stream(&stream, &[NewEvent::json("E", &json!({ "n": i }))], expected).expect("append");
    }
    let single = events as f64 / started.elapsed().as_secs_f64();

    // 100 events per append, each batch a new stream.
    let started = Instant::now();
    for batch in 0..events / 100 {
        let batch_events: Vec<NewEvent> = (0..100).map(|n| NewEvent::json("E", &json!({ "n": n }))).collect();
        store.append_to_stream(&format!("batch-{batch}"), &batch_events, ExpectedVersion::NoStream).expect("append");
    }
    let batch = (events / 100 * 100) as f64 / started.elapsed().as_secs_f64();

    // Each single-event stream read back whole.
    let started = Instant::now();
    let mut read = 0;
    for s in 0..STREAMS {
        read += store.read_stream(&format!("single-{s}"), ReadStreamOptions::forwards()).expect("read").events.len();
    }
    assert_eq!(read, events);
    let read_stream = read as f64 / started.elapsed().as_secs_f64();

    // The whole log in pages of 1,000.
    let started = Instant::now();
    let (mut after, mut read) = (0, 0);
    loop {
        let page = store.read_all(&ReadAllOptions::forwards().after(after).max_count(1000)).expect("read all");
        let Some(last) = page.events.last() else { break };
        after = last.position;
        read += page.events.len();
    }
    let read_all = read as f64 / started.elapsed().as_secs_f64();

    println!("{}", json!({ "append1": single, "append100": batch, "readStream": read_stream, "readAll": read_all }));
}
