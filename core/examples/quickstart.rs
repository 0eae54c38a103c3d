//! A tour of EventLite on a file store: append with expectations, retry idempotently, read, subscribe, snapshot.
//!
//! `cargo run -p eventlite --example quickstart -- [path]` (default `target/quickstart.db`; removed first).

#![cfg_attr(all(target_family = "wasm", target_os = "unknown"), allow(unused_imports))]

use std::time::Duration;

use eventlite::{
    EventFilter, ExpectedVersion, NewEvent, ReadAllOptions, ReadStreamOptions, StartFrom, Store, SubscriptionOptions,
};
use serde_json::json;

/// On wasm32 there is no file system or thread here; the browser tour lives in the JS package.
#[cfg(all(target_family = "wasm", target_os = "unknown"))]
fn main() {}

#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "target/quickstart.db".into());
    if let Some(parent) = std::path::Path::new(&path).parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
    let store = Store::open(&path)?;
    println!("opened {path} (WAL)");

    // A live subscription to the `order` category, on its own thread, from the start of the log.
    let (sender, receiver) = std::sync::mpsc::channel();
    let subscription = store
        .subscribe_to_all(SubscriptionOptions::from(StartFrom::Start).filter(EventFilter::all().category("order")))?
        .spawn(move |event| {
            let _ = sender.send(format!(
                "  subscriber saw #{} {} v{} {}",
                event.position, event.stream, event.version, event.event_type
            ));
        });

    let placed = NewEvent::json("OrderPlaced", &json!({ "total": 42, "currency": "EUR" }))
        .with_metadata(&json!({ "correlationId": "checkout-7" }));
    let result = store.append_to_stream("order-1", std::slice::from_ref(&placed), ExpectedVersion::NoStream)?;
    println!("appended OrderPlaced to order-1: version {}, positions {:?}", result.stream_version, result.positions);

    let retry = store.append_to_stream("order-1", &[placed], ExpectedVersion::NoStream)?;
    println!("retried the same append: already_appended={}, positions {:?}", retry.already_appended, retry.positions);

    let stale = NewEvent::json("OrderCancelled", &json!({}));
    match store.append_to_stream("order-1", &[stale], ExpectedVersion::NoStream) {
        Err(error) => println!("a stale expectation fails: {} ({error})", error.code()),
        Ok(_) => return Err("a stale expectation was accepted".into()),
    }

    let more =
        [NewEvent::json("ItemAdded", &json!({ "sku": "tea", "price": 4 })), NewEvent::json("OrderPaid", &json!({}))];
    store.append_to_stream("order-1", &more, ExpectedVersion::Exact(1))?;
    store.append_to_stream(
        "user-9",
        &[NewEvent::json("UserRegistered", &json!({ "name": "Ada" }))],
        ExpectedVersion::Any,
    )?;

    let stream = store.read_stream("order-1", ReadStreamOptions::backwards())?;
    println!("order-1 is at version {}; newest first:", stream.stream_version);
    for event in &stream.events {
        println!("  v{} {} {}", event.version, event.event_type, event.data_as::<serde_json::Value>()?);
    }

    let log = store.read_all(&ReadAllOptions::forwards())?;
    println!("the whole log ({} events, head {}):", log.events.len(), log.head_position);
    for event in &log.events {
        println!("  #{} {} {}", event.position, event.stream, event.event_type);
    }

    store.save_snapshot("order-1", 2, &json!({ "items": 1 }), "order-v1")?;
    let aggregate =
        store.aggregate_stream("order-1", Some("order-v1"), json!({ "items": 0 }), |mut state, event| {
            if event.event_type == "ItemAdded" {
                state["items"] = json!(state["items"].as_i64().unwrap_or(0) + 1);
            }
            state
        })?;
    println!(
        "aggregate of order-1: {} at version {} (started from the snapshot at version {}, folded {} event(s))",
        aggregate.state,
        aggregate.version,
        aggregate.snapshot_version.unwrap_or(0),
        aggregate.events_folded
    );

    for _ in 0..3 {
        println!("{}", receiver.recv_timeout(Duration::from_secs(5))?);
    }
    subscription.stop()?;
    println!("done");
    Ok(())
}
