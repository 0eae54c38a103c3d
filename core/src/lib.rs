//! EventLite: an embedded event store on SQLite for event-sourced, offline-first applications.
//!
//! Append events to streams with optimistic concurrency, read a stream or the whole log in commit order, subscribe
//! to history then live events, and fold streams into state from snapshots. The same crate compiles natively
//! (bundled SQLite, file-backed in WAL mode) and for `wasm32-unknown-unknown` (SQLite over `sqlite-wasm-rs`).
//!
//! ```
//! use eventlite::{ExpectedVersion, NewEvent, ReadStreamOptions, Store};
//! use serde_json::json;
//!
//! # fn main() -> Result<(), eventlite::Error> {
//! let store = Store::open_in_memory()?;
//! let placed = NewEvent::json("Placed", &json!({ "total": 42 }));
//! let result = store.append_to_stream("order-1", &[placed.clone()], ExpectedVersion::NoStream)?;
//! assert_eq!(result.stream_version, 1);
//!
//! // A retry of the same batch (after a timeout, say) returns the original result and writes nothing.
//! let retry = store.append_to_stream("order-1", &[placed], ExpectedVersion::NoStream)?;
//! assert!(retry.already_appended);
//! assert_eq!(retry.positions, result.positions);
//!
//! // A stale expectation fails with WRONG_EXPECTED_VERSION and writes nothing.
//! let shipped = NewEvent::json("Shipped", &json!({}));
//! let error = store.append_to_stream("order-1", &[shipped], ExpectedVersion::Exact(0)).unwrap_err();
//! assert_eq!(error.code().as_str(), "WRONG_EXPECTED_VERSION");
//!
//! let slice = store.read_stream("order-1", ReadStreamOptions::forwards())?;
//! assert_eq!(slice.stream_version, 1);
//! assert_eq!(slice.events[0].data_as::<serde_json::Value>().unwrap()["total"], 42);
//! # Ok(())
//! # }
//! ```
//!
//! Invariants every operation keeps:
//! - stream versions are 1-based and dense, enforced by `UNIQUE (stream, version)`;
//! - global positions strictly increase in commit order and are never reused, also after a sync rebase deleted the
//!   newest events (a high-water mark, `events_table`); they may have gaps;
//! - an append is all or nothing; a failed append writes nothing;
//! - every error carries a stable [`ErrorCode`].
//!
//! Files: a store is `app.db` plus, while it is open (and after a crash), `app.db-wal` and `app.db-shm`. Recent
//! commits live in the `-wal` file until a checkpoint copies them into `app.db`, so copy, move or back up the three
//! together while no process has the store open (or read it through [`Store::open_read_only`] and write a copy).
//! Never leave a `-wal` file from another store (or another copy of this one) beside `app.db`: SQLite cannot tell
//! whose WAL it is and replays it over the database, replacing its contents.

// The store's modules are private: what they make public is re-exported here, flat, so moving code between them
// does not change the API. `sync` (the wire protocol and the server's log), `archive`, `inspect` and `schema` stay
// namespaces of their own.
#[cfg(feature = "sqlite")]
pub mod archive;
#[cfg(feature = "sqlite")]
mod clock;
mod error;
mod event;
#[cfg(feature = "sqlite")]
mod events_table;
#[cfg(feature = "sqlite")]
pub mod inspect;
#[cfg(feature = "sqlite")]
mod log;
#[cfg(feature = "sqlite")]
mod projection;
#[cfg(feature = "sqlite")]
pub mod schema;
#[cfg(feature = "sqlite")]
mod snapshot;
#[cfg(feature = "sqlite")]
mod store;
mod stream;
#[cfg(feature = "sqlite")]
mod subscription;
pub mod sync;
#[cfg(all(test, feature = "sqlite", not(all(target_family = "wasm", target_os = "unknown"))))]
mod vm_steps;

pub use error::{
    AppendError, Error, ErrorCode, ImportError, InvalidArgument, OpenError, ProjectionError, ReadError, SnapshotError,
    StorageError,
};
pub use event::{
    EventData, JSON_CONTENT_TYPE, MAX_CONTENT_TYPE_BYTES, MAX_EVENT_TYPE_BYTES, MAX_JSON_DEPTH, MAX_STREAM_ID_BYTES,
    NewEvent, RecordedEvent, category_of, same_json, same_metadata, validate_stream_id, validate_writable_stream_id,
};
#[cfg(feature = "sqlite")]
pub use log::{EventFilter, LogSlice, MAX_FILTER_COMBINATIONS, ReadAllOptions};
#[cfg(feature = "sqlite")]
pub use projection::{
    EVENT_PARAMETERS, Handler, MAX_PROJECTION_NAME_LEN, Projection, ProjectionFailure, ProjectionStatus, QueryParams,
    QueryRows, QueryWatch, SqlValue,
};
#[cfg(feature = "sqlite")]
pub use snapshot::{Aggregate, Snapshot};
#[cfg(feature = "sqlite")]
pub use store::{Location, Store, StoreOptions, Synchronous};
pub use stream::{AppendResult, Direction, ExpectedVersion, ReadStreamOptions, StreamSlice};
#[cfg(all(feature = "sqlite", not(all(target_family = "wasm", target_os = "unknown"))))]
pub use subscription::{CommitWatch, SubscriptionHandle};
#[cfg(feature = "sqlite")]
pub use subscription::{StartFrom, Subscription, SubscriptionOptions};
pub use uuid::Uuid;
