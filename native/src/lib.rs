//! EventLite's native library: the event store and the device sync client for Kotlin (Android, JVM), Swift (iOS,
//! macOS) and Python, through UniFFI. This crate is conversions, threads and error mapping only: every rule lives in
//! core (`eventlite`) and the sync client (`eventlite-client`).
//!
//! The foreign API is one object, [`EventStore`], plus records, enums, callback interfaces ([`EventHandler`],
//! [`SyncedHandler`], [`Reducer`], [`SyncListener`]) and one error type ([`EventLiteError`], an exception with a stable `code`).
//! UniFFI keeps Rust names; each generator adapts them (Kotlin and Swift `appendToStream`, Python `append_to_stream`).
//!
//! ```
//! use eventlite_native::{EventStore, ExpectedVersion, ReadStreamOptions, json_event};
//!
//! # fn main() -> Result<(), eventlite_native::EventLiteError> {
//! let store = EventStore::open_in_memory()?;
//! let placed = json_event("Placed".into(), r#"{"total": 42}"#.into(), None);
//! store.append_to_stream("order-1".into(), vec![placed], ExpectedVersion::NoStream)?;
//! let slice = store.read_stream("order-1".into(), ReadStreamOptions { from_version: None, direction: None, max_count: 10 })?;
//! assert_eq!(slice.stream_version, 1);
//! let error = store
//!     .append_to_stream("order-1".into(), vec![json_event("Shipped".into(), "{}".into(), None)], ExpectedVersion::NoStream)
//!     .unwrap_err();
//! assert_eq!(error.code(), "WRONG_EXPECTED_VERSION");
//! store.close();
//! # Ok(())
//! # }
//! ```
//!
//! Threads: an [`EventStore`] is one handle over one core store; any number of threads may call it at once (core
//! serialises writers on its writer connection and reads on a separate reader in WAL mode). Subscriptions call their
//! handler on a thread of their own; sync runs on the library's small tokio runtime.
//!
//! Lifecycle: [`EventStore::close`] stops the handle's subscriptions and live sync and releases the database; every
//! later call throws `STORE_CLOSED`. Opening the same file again resumes where it was: named subscriptions from their
//! checkpoints, sync from its cursor with the events still pending.

// UniFFI's derive and export macros generate the `extern "C"` scaffolding, which is `unsafe` code. This crate writes
// none itself; the workspace forbids it everywhere else.
#![allow(unsafe_code)]

pub mod encoded;
mod error;
mod projection;
mod subscription;
mod sync;
mod types;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, RwLock, Weak};

use eventlite::{Location, Store};
use tokio::sync::watch;

pub use error::EventLiteError;
pub use projection::{
    Projection, ProjectionFailure, ProjectionHandler, ProjectionStatus, QueryHandler, QueryRows, SqlValue,
};
pub use subscription::{EventHandler, Subscription, SyncedHandler};
pub use sync::SyncListener;
pub use types::{
    Aggregate, AppendResult, Conflict, Direction, EventData, EventFilter, ExpectedVersion, LogSlice, NewEvent,
    ReadAllOptions, ReadStreamOptions, RecordedEvent, Snapshot, StartFrom, StoreOptions, StreamSlice,
    SubscriptionOptions, SyncMode, SyncOptions, SyncReport, SyncStatus, Synchronous,
};

uniffi::setup_scaffolding!("eventlite");

/// Folds a stream's events into state for [`EventStore::aggregate_stream`]; called on the caller's thread.
#[uniffi::export(foreign)]
pub trait Reducer: Send + Sync {
    /// The state (JSON text) after `event`, given the state before it. Throwing aborts the aggregation.
    fn evolve(&self, state: String, event: RecordedEvent) -> Result<String, EventLiteError>;
}

/// An event whose data is JSON text, with a fresh UUID v7 id: appending the same value again is an idempotent retry.
#[uniffi::export(default(metadata = None))]
pub fn json_event(event_type: String, json: String, metadata: Option<String>) -> NewEvent {
    NewEvent { event_type, data: EventData::Json { json }, metadata, event_id: Some(new_event_id()) }
}

/// An event whose data is raw bytes of `content_type`, with a fresh UUID v7 id.
#[uniffi::export(default(metadata = None))]
pub fn binary_event(event_type: String, content_type: String, bytes: Vec<u8>, metadata: Option<String>) -> NewEvent {
    NewEvent { event_type, data: EventData::Binary { content_type, bytes }, metadata, event_id: Some(new_event_id()) }
}

/// [`EventStore::append_to_stream`] in one FFI call with one buffer, on the store whose
/// [`EventStore::append_handle`] is `store` (a number, so the call lowers no object: no handle clone, no extra FFI
/// call). `payload` is the whole append in the compact encoding (stream, expectation and events; see [`encoded`]),
/// passed without a copy. The answer is the `AppendResult` packed into a `u64` (see [`encoded::unpack_result`]) when
/// it fits, which is nearly always; otherwise 0, and [`take_append_result`] on the same thread gives it encoded in
/// full. The language packages' `append_to_stream` (Python) and `append` (Kotlin) use it, with the generated path's
/// results and errors. A buffer that does not follow the encoding is `INVALID_ARGUMENT` (`payload`), a store that
/// was closed or released `STORE_CLOSED`; nothing is written then.
#[uniffi::export]
pub fn append_encoded(store: u64, payload: &[u8]) -> Result<u64, EventLiteError> {
    let append = encoded::decode_append(payload)?;
    // The table's lock is released before the store can be dropped (its `Drop` takes the lock to leave the table).
    let handle = APPEND_HANDLES.read().unwrap_or_else(PoisonError::into_inner).get(&store).and_then(Weak::upgrade);
    let handle = handle.ok_or_else(EventLiteError::closed)?;
    let result = handle.store()?.append_to_stream(append.stream, &append.events, append.expected)?;
    Ok(encoded::pack_result(&result, append.events.len()))
}

/// The full result of this thread's last [`append_encoded`] that answered 0 (it did not fit a `u64`), in
/// the compact encoding ([`encoded::decode_result`]); empty when there is none. Taking it clears it.
#[uniffi::export]
pub fn take_append_result() -> Vec<u8> {
    encoded::take_full_result()
}

/// A fresh event id: a UUID v7 string (time-ordered).
#[uniffi::export]
pub fn new_event_id() -> String {
    eventlite::Uuid::now_v7().to_string()
}

/// An EventLite store: a SQLite file in WAL mode (or memory). Thread-safe: share one handle between threads.
#[derive(uniffi::Object)]
pub struct EventStore {
    store: RwLock<Option<Store>>,
    /// Running subscriptions, kept alive until stopped or closed (not by the foreign handle).
    subscriptions: Mutex<Vec<Arc<Subscription>>>,
    live: Mutex<Option<sync::LiveSync>>,
    /// Turns true on close: cuts a running `sync_once` short.
    closed: watch::Sender<bool>,
    /// This store's key in [`APPEND_HANDLES`].
    append_handle: u64,
}

/// Every live store by its [`EventStore::append_handle`], for [`append_encoded`]: weak, so the table never keeps a
/// store alive. Handles count up from 1 and are never reused, so a stale one finds nothing (`STORE_CLOSED`), never
/// another store.
static APPEND_HANDLES: LazyLock<RwLock<HashMap<u64, Weak<EventStore>>>> = LazyLock::new(Default::default);
static NEXT_APPEND_HANDLE: AtomicU64 = AtomicU64::new(1);

impl std::fmt::Debug for EventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStore").field("store", &self.store).finish_non_exhaustive()
    }
}

/// Releasing the last reference closes the store too (Kotlin's `AutoCloseable.close()`, Swift's `deinit`, Python's
/// garbage collection): subscriptions and live sync never outlive every handle.
impl Drop for EventStore {
    fn drop(&mut self) {
        self.close();
        APPEND_HANDLES.write().unwrap_or_else(PoisonError::into_inner).remove(&self.append_handle);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl EventStore {
    fn new(store: Store) -> Arc<EventStore> {
        let append_handle = NEXT_APPEND_HANDLE.fetch_add(1, Ordering::Relaxed);
        Arc::new_cyclic(|weak| {
            APPEND_HANDLES.write().unwrap_or_else(PoisonError::into_inner).insert(append_handle, weak.clone());
            EventStore {
                store: RwLock::new(Some(store)),
                subscriptions: Mutex::new(Vec::new()),
                live: Mutex::new(None),
                closed: watch::channel(false).0,
                append_handle,
            }
        })
    }

    /// The open store (a cheap clone), or `STORE_CLOSED`.
    pub(crate) fn store(&self) -> Result<Store, EventLiteError> {
        self.store.read().unwrap_or_else(PoisonError::into_inner).clone().ok_or_else(EventLiteError::closed)
    }

    pub(crate) fn register(&self, subscription: Arc<Subscription>) -> Arc<Subscription> {
        let mut subscriptions = lock(&self.subscriptions);
        subscriptions.retain(|subscription| subscription.is_running());
        subscriptions.push(Arc::clone(&subscription));
        subscription
    }
}

#[uniffi::export]
impl EventStore {
    /// Opens (creating if needed) the store in the file at `path`, in WAL mode. Many handles and processes may open
    /// the same file. Throws `NOT_A_DATABASE` / `SCHEMA_TOO_NEW` for files it must not touch (and writes nothing).
    #[uniffi::constructor(default(options = None))]
    pub fn open(path: String, options: Option<StoreOptions>) -> Result<Arc<EventStore>, EventLiteError> {
        if path.is_empty() {
            return Err(EventLiteError::invalid_argument("path", "must not be empty"));
        }
        let options = options.unwrap_or_default();
        if options.max_event_size == 0 {
            return Err(EventLiteError::invalid_argument("max_event_size", "must be at least 1"));
        }
        let store = Store::open_with(Location::File(path.into()), options.into())?;
        Ok(EventStore::new(store))
    }

    /// Opens a private in-memory store, gone when closed.
    #[uniffi::constructor]
    pub fn open_in_memory() -> Result<Arc<EventStore>, EventLiteError> {
        Ok(EventStore::new(Store::open_in_memory()?))
    }

    /// The options the store was opened with.
    pub fn options(&self) -> Result<StoreOptions, EventLiteError> {
        Ok(StoreOptions::from(self.store()?.options()))
    }

    /// Appends `events` to `stream` atomically if the stream's version satisfies `expected`; all or nothing.
    /// Appending again a batch whose ids are stored returns the original result (`already_appended`).
    pub fn append_to_stream(
        &self,
        stream: String,
        events: Vec<NewEvent>,
        expected: ExpectedVersion,
    ) -> Result<AppendResult, EventLiteError> {
        let events = events
            .into_iter()
            .enumerate()
            .map(|(index, event)| event.into_core(index))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.store()?.append_to_stream(&stream, &events, expected.into())?.into())
    }

    /// This store's key for [`append_encoded`] (the fast append path): unique in the process, never reused.
    pub fn append_handle(&self) -> u64 {
        self.append_handle
    }

    /// Reads a page of one stream, forwards or backwards. A stream that does not exist reads as empty at version 0.
    pub fn read_stream(&self, stream: String, options: ReadStreamOptions) -> Result<StreamSlice, EventLiteError> {
        Ok(self.store()?.read_stream(&stream, options.into())?.into())
    }

    /// Reads a page of the global log after (forwards) or before (backwards) an exclusive position, filtered.
    pub fn read_all(&self, options: ReadAllOptions) -> Result<LogSlice, EventLiteError> {
        Ok(self.store()?.read_all(&options.into())?.into())
    }

    /// The highest position stored (0 for an empty store).
    pub fn head_position(&self) -> Result<u64, EventLiteError> {
        Ok(self.store()?.head_position()?)
    }

    /// A stream's current version (0 when it does not exist).
    pub fn stream_version(&self, stream: String) -> Result<u64, EventLiteError> {
        Ok(self.store()?.stream_version(&stream)?)
    }

    /// Subscribes to the whole log (or what `options.filter` selects): history first, then live events after each
    /// commit, in order, delivered to `handler` on a library thread. A named subscription resumes after its
    /// checkpoint.
    pub fn subscribe_to_all(
        &self,
        options: SubscriptionOptions,
        handler: Arc<dyn EventHandler>,
    ) -> Result<Arc<Subscription>, EventLiteError> {
        let store = self.store()?;
        let subscription = store.subscribe_to_all(options.into())?;
        Ok(self.register(Subscription::spawn(store, subscription, handler)?))
    }

    /// Subscribes to one stream (`StartFrom.After` counts stream versions here); `options.filter` must be empty.
    pub fn subscribe_to_stream(
        &self,
        stream: String,
        options: SubscriptionOptions,
        handler: Arc<dyn EventHandler>,
    ) -> Result<Arc<Subscription>, EventLiteError> {
        let store = self.store()?;
        let subscription = store.subscribe_to_stream(&stream, options.into())?;
        Ok(self.register(Subscription::spawn(store, subscription, handler)?))
    }

    /// Subscribes to the log of a syncing store in `mode`: `ConfirmedOnly` delivers only events the server
    /// confirmed (in the server's order, never rewound but after a server log reset: what a view that must not show
    /// retracted events wants); `IncludePending` also delivers local events as soon as they are appended, and
    /// `on_rewound(from_position)` when a sync rewrites them. Delivered to `handler` on a library thread, like the
    /// other subscriptions; `options.name` must be none (persist `position()` of a confirmed-only subscription
    /// yourself: it is stable until a log reset rewinds it to 0).
    pub fn subscribe_synced(
        &self,
        mode: SyncMode,
        options: SubscriptionOptions,
        handler: Arc<dyn SyncedHandler>,
    ) -> Result<Arc<Subscription>, EventLiteError> {
        let subscription = self.store()?.subscribe_synced(mode.into(), options.into())?;
        Ok(self.register(Subscription::spawn_synced(subscription, handler)?))
    }

    /// The stored checkpoint of a named subscription: the position of the last event it processed.
    pub fn load_checkpoint(&self, name: String) -> Result<Option<u64>, EventLiteError> {
        Ok(self.store()?.load_checkpoint(&name)?)
    }

    /// Stores a named subscription's checkpoint.
    pub fn save_checkpoint(&self, name: String, position: u64) -> Result<(), EventLiteError> {
        Ok(self.store()?.save_checkpoint(&name, position)?)
    }

    /// Saves `state` (JSON text) as the snapshot of `stream` at `version` (1 to the stream's version) under
    /// `schema_tag`. A newer snapshot with the same tag is kept.
    pub fn save_snapshot(
        &self,
        stream: String,
        version: u64,
        state: String,
        schema_tag: String,
    ) -> Result<(), EventLiteError> {
        let state: serde_json::Value =
            serde_json::from_str(&state).map_err(|_| EventLiteError::invalid_argument("state", "is not valid JSON"))?;
        Ok(self.store()?.save_snapshot(&stream, version, &state, &schema_tag)?)
    }

    /// The latest snapshot of `stream` (under `schema_tag` when given), if any.
    #[uniffi::method(default(schema_tag = None))]
    pub fn load_snapshot(
        &self,
        stream: String,
        schema_tag: Option<String>,
    ) -> Result<Option<Snapshot>, EventLiteError> {
        let store = self.store()?;
        let snapshot = match schema_tag {
            Some(tag) => store.load_snapshot_tagged(&stream, &tag)?,
            None => store.load_snapshot(&stream)?,
        };
        Ok(snapshot.map(Into::into))
    }

    /// Folds `stream` into state: from the snapshot saved under `schema_tag` (when given and present), otherwise from
    /// `initial` (JSON text), applying `reducer` to each later event in version order, on this thread.
    #[uniffi::method(default(schema_tag = None))]
    pub fn aggregate_stream(
        &self,
        stream: String,
        initial: String,
        reducer: Arc<dyn Reducer>,
        schema_tag: Option<String>,
    ) -> Result<Aggregate, EventLiteError> {
        let initial: serde_json::Value = serde_json::from_str(&initial)
            .map_err(|_| EventLiteError::invalid_argument("initial", "is not valid JSON"))?;
        // Core's fold is infallible: the first failure is kept, later events are skipped, and it is thrown after.
        let mut failure = None;
        let aggregate = self.store()?.aggregate_stream(&stream, schema_tag.as_deref(), initial, |state, event| {
            if failure.is_some() {
                return state;
            }
            let evolved = reducer.evolve(state.to_string(), event.clone().into()).and_then(|text| {
                serde_json::from_str(&text).map_err(|_| {
                    EventLiteError::invalid_argument("state", "the reducer returned text that is not valid JSON")
                })
            });
            evolved.unwrap_or_else(|error| {
                failure = Some(error);
                state
            })
        })?;
        if let Some(error) = failure {
            return Err(error);
        }
        Ok(Aggregate {
            state: aggregate.state.to_string(),
            version: aggregate.version,
            snapshot_version: aggregate.snapshot_version,
            events_folded: aggregate.events_folded,
        })
    }

    /// This store's replica id (a UUID created once, then kept).
    pub fn replica_id(&self) -> Result<String, EventLiteError> {
        Ok(self.store()?.replica_id()?.to_string())
    }

    /// Pending and confirmed counts, the pull cursor and the number of conflicts.
    pub fn sync_status(&self) -> Result<SyncStatus, EventLiteError> {
        Ok(self.store()?.sync_status()?.into())
    }

    /// Events the server rejected, oldest first; they stay here until dismissed.
    pub fn sync_conflicts(&self) -> Result<Vec<Conflict>, EventLiteError> {
        Ok(self.store()?.sync_conflicts()?.into_iter().map(Into::into).collect())
    }

    /// Removes a conflict once the app has dealt with it; returns whether it was there.
    pub fn dismiss_conflict(&self, event_id: String) -> Result<bool, EventLiteError> {
        let event_id = types::parse_uuid(&event_id, "event_id")?;
        Ok(self.store()?.dismiss_conflict(event_id)?)
    }

    /// One sync round with the server: pushes every pending event, then pulls to the server's head. Blocks the
    /// calling thread until done (call it off the UI thread). Rejected events are in the report and the conflicts
    /// list. Throws `Sync` errors (`NETWORK`, `UNAUTHORIZED`, ...); nothing is lost, call it again.
    pub fn sync_once(&self, options: SyncOptions) -> Result<SyncReport, EventLiteError> {
        let client = sync::client(self.store()?, &options)?;
        sync::sync_once(client, self.closed.subscribe())
    }

    /// Starts live sync in the background: syncs now, then whenever the server's head moves, reconnecting with
    /// backoff while offline. Replaces a live sync already running. Runs until `stop_sync` or `close`.
    #[uniffi::method(default(listener = None))]
    pub fn start_sync(
        &self,
        options: SyncOptions,
        listener: Option<Arc<dyn SyncListener>>,
    ) -> Result<(), EventLiteError> {
        let client = sync::client(self.store()?, &options)?;
        let previous = lock(&self.live).take();
        if let Some(previous) = previous {
            previous.stop();
        }
        let live = sync::LiveSync::start(client, listener)?;
        *lock(&self.live) = Some(live);
        Ok(())
    }

    /// Stops live sync (when the app goes to the background, say) and waits until it has stopped. Pending events
    /// stay pending; `start_sync` later resumes from the stored cursor.
    pub fn stop_sync(&self) {
        let live = lock(&self.live).take();
        if let Some(live) = live {
            live.stop();
        }
    }

    /// Whether live sync is running.
    pub fn is_syncing(&self) -> bool {
        lock(&self.live).as_ref().is_some_and(sync::LiveSync::is_running)
    }

    /// Stops this handle's subscriptions and live sync, cuts a running `sync_once` short, and releases the database.
    /// Idempotent. Every later call on this handle throws `STORE_CLOSED`; open the file again to continue.
    pub fn close(&self) {
        self.closed.send_replace(true);
        self.stop_sync();
        let subscriptions = std::mem::take(&mut *lock(&self.subscriptions));
        for subscription in subscriptions {
            let _ = subscription.stop();
        }
        self.store.write().unwrap_or_else(PoisonError::into_inner).take();
    }

    /// Whether `close` was called.
    pub fn is_closed(&self) -> bool {
        self.store.read().unwrap_or_else(PoisonError::into_inner).is_none()
    }
}
