//! EventLite's device sync client: syncs a local [`eventlite::Store`] with an EventLite server over HTTP.
//!
//! The rules are core's: [`eventlite::sync::SyncDriver`] decides what to push and pull, how to handle a push refused
//! as too large, which failures to retry and how long to wait, and [`eventlite::sync::LiveFeed`] reads the live
//! notifications. This crate only moves bytes (reqwest) and sleeps (tokio). It depends on core, an HTTP client and
//! tokio's timer: never on the server's crates, so a phone or desktop app can depend on it.
//!
//! Every step is safe to retry: pushes are recognised by event id, and a pull page is applied with its cursor in one
//! local transaction, so a connection cut at any moment loses nothing and duplicates nothing: sync again.
//!
//! ```no_run
//! # async fn run() -> Result<(), eventlite_client::ClientError> {
//! use eventlite::{ExpectedVersion, NewEvent, Store};
//! use eventlite_client::SyncClient;
//!
//! let store = Store::open("device.db").expect("open");
//! store.append_to_stream("todo-1", &[NewEvent::json("Added", &"milk")], ExpectedVersion::Any).expect("append");
//! let client = SyncClient::new("http://127.0.0.1:8080", "demo-token", store);
//! let report = client.sync().await?;
//! for conflict in &report.conflicts {
//!     eprintln!("rejected {} in {}: {}", conflict.event_id, conflict.stream, conflict.message);
//! }
//! # Ok(())
//! # }
//! ```

mod live;
mod sync_client;

pub use eventlite::sync::{Backoff, SyncReport};
pub use sync_client::SyncClient;

/// Why a sync failed: core's [`eventlite::sync::RoundError`] (transport, server answer, or local store). Nothing is
/// lost: retry when [`ClientError::is_retryable`] says so.
pub type ClientError = eventlite::sync::RoundError;
