//! The binding's Rust API, as every foreign call reaches it: threads on one handle, callbacks on library threads,
//! close and reopen, bad input. (The Python and Kotlin suites run the same workflows through the generated code.)

mod encoded;
mod lifecycle;
mod projections;
mod subscriptions;
mod threads;

use eventlite_native::{EventStore, NewEvent, ReadStreamOptions, json_event};

/// A JSON event with a fresh id.
pub fn event(event_type: &str, json: &str) -> NewEvent {
    json_event(event_type.into(), json.into(), None)
}

/// The first page of a stream, oldest first.
pub fn forwards() -> ReadStreamOptions {
    ReadStreamOptions { from_version: None, direction: None, max_count: 10_000 }
}

/// A file store in `dir`.
pub fn file_store(dir: &tempfile::TempDir, name: &str) -> std::sync::Arc<EventStore> {
    EventStore::open(dir.path().join(name).display().to_string(), None).unwrap()
}

/// Polls `condition` for up to 10 s.
pub fn wait_until(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    condition()
}
