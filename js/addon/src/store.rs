//! `WasmStore` (so named in JS, to stand in for the wasm class the host drives): one core [`Store`] and its open
//! subscriptions, plus the sync bindings on it (status, conflicts, synced subscriptions).
//!
//! Other processes' commits: the host learns of this store's own appends from its calls; for the others, the first
//! subscription starts a thread on a [`CommitWatch`] that calls the `onCommit` callback (a weak thread-safe
//! function) when the log may have changed, and the host then polls its cursors. While at least one subscription is
//! open, a second, referenced thread-safe function over the same callback keeps Node's event loop alive, as an open
//! socket would: a process that only subscribes keeps running. `close` stops the thread and waits for it, so the
//! file is closed when `close` returns.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use eventlite::sync::{Conflict, SyncMode, SyncedItem, SyncedSubscription};
use eventlite::{EventData, ExpectedVersion, Location, QueryRows, QueryWatch, Store, Subscription, Uuid};
use napi::bindgen_prelude::{Either, Function, FunctionRef, Undefined, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status};
use napi_derive::napi;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::convert::{self, StringArg};
use crate::error::{AddonError, AddonResult, throw};

/// `{ streamVersion, positions, alreadyAppended }`, once the transaction has committed.
#[napi(object)]
pub struct AppendResultWire {
    /// The stream's version after the append.
    pub stream_version: f64,
    /// The events' positions.
    pub positions: Vec<f64>,
    /// The batch was already stored (an idempotent retry): nothing was written.
    pub already_appended: bool,
}

/// A page of a stream: `events` is a JSON array of events.
#[napi(object)]
pub struct StreamPageWire {
    /// The events, as one JSON array.
    pub events: String,
    /// The stream's current version.
    pub version: f64,
}

/// A page of the log.
#[napi(object)]
pub struct LogPageWire {
    /// The events, as one JSON array.
    pub events: String,
    /// The log's head position.
    pub head_position: f64,
}

/// The `onCommit` callback as the watcher thread calls it: weak, it never keeps the event loop alive by itself.
type OnCommit = ThreadsafeFunction<(), (), (), Status, false, true>;

/// The same callback, referenced and never called: held while subscriptions are open, to keep the event loop alive.
type KeepAlive = ThreadsafeFunction<(), (), (), Status, false, false>;

/// The thread that tells JS about commits (see the module docs). It ends when stopped, when JS is gone, or on a
/// storage error (after one last `onCommit`, so that the cursors' polls report the error); then it may be started
/// again.
struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops the thread and waits for it (it holds a clone of the store, and so the file, until it ends).
    fn stop(mut self, store: Option<&Store>) {
        self.stop.store(true, Ordering::Release);
        if let Some(store) = store {
            store.wake_waiters();
        }
        if let Some(thread) = self.thread.take() {
            // A panic in the thread is a bug already reported by the panic hook; close goes on.
            let _ = thread.join();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// A store opened from JS: the wasm layer's `WasmStore` surface over a native core store (file or memory).
#[napi(js_name = "WasmStore")]
pub struct NodeStore {
    store: Option<Store>,
    storage_mode: &'static str,
    subscriptions: HashMap<u32, Subscription>,
    next_subscription: u32,
    /// Open query watches (`projection.rs`), by id.
    watches: HashMap<u32, QueryWatch>,
    next_watch: u32,
    on_commit: Option<Arc<OnCommit>>,
    /// The `onCommit` callback, to build [`NodeStore::keep_alive`] from.
    callback: Option<FunctionRef<(), ()>>,
    /// Present while subscriptions are open (see the module docs).
    keep_alive: Option<KeepAlive>,
    watcher: Option<Watcher>,
}

impl NodeStore {
    fn new(store: Store, storage_mode: &'static str) -> NodeStore {
        NodeStore {
            store: Some(store),
            storage_mode,
            subscriptions: HashMap::new(),
            next_subscription: 1,
            watches: HashMap::new(),
            next_watch: 1,
            on_commit: None,
            callback: None,
            keep_alive: None,
            watcher: None,
        }
    }

    /// The open store, or `STORE_CLOSED`.
    pub(crate) fn store(&self) -> AddonResult<&Store> {
        self.store.as_ref().ok_or_else(AddonError::closed)
    }

    fn add_subscription(&mut self, env: &Env, subscription: Subscription) -> AddonResult<u32> {
        self.start_watcher()?;
        if self.keep_alive.is_none()
            && let Some(callback) = &self.callback
        {
            let keep_alive = callback
                .borrow_back(env)
                .and_then(|callback| callback.build_threadsafe_function::<()>().callee_handled::<false>().build())
                .map_err(|error| AddonError::new("INTERNAL", format!("could not hold the event loop: {error}")))?;
            self.keep_alive = Some(keep_alive);
        }
        let id = self.next_subscription;
        self.next_subscription += 1;
        self.subscriptions.insert(id, subscription);
        Ok(id)
    }

    pub(crate) fn add_watch(&mut self, watch: QueryWatch) -> AddonResult<u32> {
        self.start_watcher()?;
        let id = self.next_watch;
        self.next_watch += 1;
        self.watches.insert(id, watch);
        Ok(id)
    }

    /// Polls watch `id` (see [`QueryWatch::poll`]).
    pub(crate) fn poll_query_watch(&mut self, id: u32) -> AddonResult<Option<QueryRows>> {
        let store = self.store.as_ref().ok_or_else(AddonError::closed)?;
        let watch = self.watches.get_mut(&id).ok_or_else(|| AddonError::invalid("watch", "is not open"))?;
        Ok(watch.poll(store)?)
    }

    pub(crate) fn remove_watch(&mut self, id: u32) {
        self.watches.remove(&id);
    }

    /// Starts the commit watcher if `onCommit` was given and it is not running (never started, or ended on an
    /// error).
    fn start_watcher(&mut self) -> AddonResult<()> {
        let Some(on_commit) = self.on_commit.clone() else { return Ok(()) };
        if self.watcher.as_ref().is_some_and(|watcher| !watcher.is_finished()) {
            return Ok(());
        }
        let mut watch = self.store()?.watch_commits()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("eventlite-commit-watch".into())
            .spawn(move || {
                while !stopped.load(Ordering::Acquire) {
                    match watch.wait(Duration::from_millis(250)) {
                        Ok(true) if !stopped.load(Ordering::Acquire) => {
                            let status = on_commit.call((), ThreadsafeFunctionCallMode::NonBlocking);
                            if status == Status::Closing {
                                return;
                            }
                        }
                        Ok(_) => {}
                        Err(_) => {
                            // The database became unreadable: one last call, so that the host polls its cursors
                            // and their polls report why; the next subscription (or poll) starts a new watcher.
                            on_commit.call((), ThreadsafeFunctionCallMode::NonBlocking);
                            return;
                        }
                    }
                }
            })
            .map_err(|error| AddonError::new("INTERNAL", format!("could not start the commit watcher: {error}")))?;
        self.watcher = Some(Watcher { stop, thread: Some(thread) });
        Ok(())
    }
}

/// A file path SQLite opens as that file: not empty, no NUL byte (the C string would end there), and none of
/// SQLite's special names, which would open something else (rusqlite opens with `SQLITE_OPEN_URI`).
fn check_path(path: &str) -> AddonResult<()> {
    if path.is_empty() {
        return Err(AddonError::invalid("path", "must not be empty"));
    }
    if path.contains('\0') {
        return Err(AddonError::invalid("path", "must not contain a NUL character"));
    }
    // SQLite takes any name starting with `file:`, in any case, as a URI.
    if path == ":memory:" || path.get(..5).is_some_and(|scheme| scheme.eq_ignore_ascii_case("file:")) {
        return Err(AddonError::invalid(
            "path",
            "must be a file path, not a SQLite name or URI (for a memory store, open without a path; for a file \
             named so, write ./file:...)",
        ));
    }
    Ok(())
}

fn open(env: &Env, location: Location, options: Unknown<'_>, mode: &'static str) -> AddonResult<NodeStore> {
    let options = convert::to_store_options(env, options)?;
    let store = Store::open_with(location, options)?;
    Ok(NodeStore::new(store, mode))
}

#[napi]
impl NodeStore {
    /// Opens a private in-memory store (`storageMode` `"memory"`).
    #[napi(factory, js_name = "openMemory")]
    pub fn open_memory(env: Env, options: Unknown<'_>) -> napi::Result<NodeStore> {
        throw(&env, open(&env, Location::Memory, options, "memory"))
    }

    /// Opens (creating if needed) the store in the file `path` (`storageMode` `"file"`): WAL, `synchronous` NORMAL
    /// unless `options.synchronous` is `'full'`; other processes may open the same file.
    #[napi(factory, js_name = "openFile")]
    pub fn open_file(env: Env, path: StringArg<'_>, options: Unknown<'_>) -> napi::Result<NodeStore> {
        let opened = convert::to_string(path, "path").and_then(|path| {
            check_path(&path)?;
            open(&env, Location::File(path.into()), options, "file")
        });
        throw(&env, opened)
    }

    /// There is no OPFS outside browsers: always `STORAGE_UNAVAILABLE` (the wasm class's method, for the same
    /// surface).
    #[napi(factory, js_name = "openOpfs")]
    pub fn open_opfs(env: Env, _name: Unknown<'_>, _options: Unknown<'_>) -> napi::Result<NodeStore> {
        throw(&env, Err(AddonError::new("STORAGE_UNAVAILABLE", "OPFS is only available in browsers")))
    }

    /// `"file"` or `"memory"`: where the events live.
    #[napi(getter, js_name = "storageMode")]
    pub fn storage_mode(&self) -> &'static str {
        self.storage_mode
    }

    /// Calls `callback` (no arguments) on the JS thread whenever the log may have changed, this process's commits
    /// and other processes' alike, while the store has subscriptions. The host polls its cursors then.
    #[napi(js_name = "onCommit")]
    pub fn on_commit(&mut self, callback: Function<'_, (), ()>) -> napi::Result<()> {
        let tsfn = callback.build_threadsafe_function::<()>().callee_handled::<false>().weak::<true>().build()?;
        self.on_commit = Some(Arc::new(tsfn));
        self.callback = Some(callback.create_ref()?);
        Ok(())
    }

    /// Closes the store: stops the commit watcher and waits for its thread, drops its subscriptions and connections
    /// (the file is closed when this returns; the last connection checkpoints and removes the `-wal` file) and lets
    /// the event loop end. Idempotent.
    #[napi]
    pub fn close(&mut self) {
        if let Some(watcher) = self.watcher.take() {
            watcher.stop(self.store.as_ref());
        }
        self.keep_alive = None;
        self.callback = None;
        self.on_commit = None;
        self.subscriptions.clear();
        self.watches.clear();
        self.store = None;
    }

    /// Releases the store (the wasm classes' `free`): the same as [`NodeStore::close`].
    #[napi]
    pub fn free(&mut self) {
        self.close();
    }

    /// Appends a batch (JSON text) if the stream's version satisfies `expected`. Returns once the transaction has
    /// committed.
    #[napi(js_name = "appendToStream")]
    pub fn append_to_stream(
        &self,
        env: Env,
        stream: StringArg<'_>,
        events: StringArg<'_>,
        expected: Unknown<'_>,
    ) -> napi::Result<AppendResultWire> {
        let result = (|| {
            let stream = convert::to_string(stream, "stream")?;
            let events = convert::to_new_events(&convert::to_string(events, "events")?)?;
            let expected = convert::to_expected(&env, expected)?;
            let result = self.store()?.append_to_stream(&stream, &events, expected)?;
            Ok(AppendResultWire {
                stream_version: result.stream_version as f64,
                positions: result.positions.iter().map(|&p| p as f64).collect(),
                already_appended: result.already_appended,
            })
        })();
        throw(&env, result)
    }

    /// Reads a page of a stream: `{ events: <JSON text>, version }`.
    #[napi(js_name = "readStream")]
    pub fn read_stream(&self, env: Env, stream: StringArg<'_>, options: Unknown<'_>) -> napi::Result<StreamPageWire> {
        let page = (|| {
            let stream = convert::to_string(stream, "stream")?;
            let options = convert::to_read_stream_options(&env, options)?;
            let slice = self.store()?.read_stream(&stream, options)?;
            Ok(StreamPageWire { events: convert::events_to_json(&slice.events)?, version: slice.stream_version as f64 })
        })();
        throw(&env, page)
    }

    /// Reads a page of the log: `{ events: <JSON text>, headPosition }`.
    #[napi(js_name = "readAll")]
    pub fn read_all(&self, env: Env, options: Unknown<'_>) -> napi::Result<LogPageWire> {
        let page = (|| {
            let options = convert::to_read_all_options(&env, options)?;
            let slice = self.store()?.read_all(&options)?;
            Ok(LogPageWire {
                events: convert::events_to_json(&slice.events)?,
                head_position: slice.head_position as f64,
            })
        })();
        throw(&env, page)
    }

    /// The highest position stored (0 when empty).
    #[napi(js_name = "headPosition")]
    pub fn head_position(&self, env: Env) -> napi::Result<f64> {
        throw(&env, (|| Ok(self.store()?.head_position()? as f64))())
    }

    /// A stream's current version (0 when absent).
    #[napi(js_name = "streamVersion")]
    pub fn stream_version(&self, env: Env, stream: StringArg<'_>) -> napi::Result<f64> {
        let version = (|| {
            let stream = convert::to_string(stream, "stream")?;
            Ok(self.store()?.stream_version(&stream)? as f64)
        })();
        throw(&env, version)
    }

    /// Opens a subscription to the log; returns its id for [`NodeStore::poll`].
    #[napi(js_name = "subscribeToAll")]
    pub fn subscribe_to_all(&mut self, env: Env, options: Unknown<'_>) -> napi::Result<u32> {
        let id = (|| {
            let options = convert::to_subscription_options(&env, options)?;
            let subscription = self.store()?.subscribe_to_all(options)?;
            self.add_subscription(&env, subscription)
        })();
        throw(&env, id)
    }

    /// Opens a subscription to one stream (numeric `from` is a stream version); returns its id.
    #[napi(js_name = "subscribeToStream")]
    pub fn subscribe_to_stream(&mut self, env: Env, stream: StringArg<'_>, options: Unknown<'_>) -> napi::Result<u32> {
        let id = (|| {
            let stream = convert::to_string(stream, "stream")?;
            let options = convert::to_subscription_options(&env, options)?;
            let subscription = self.store()?.subscribe_to_stream(&stream, options)?;
            self.add_subscription(&env, subscription)
        })();
        throw(&env, id)
    }

    /// The next page of a subscription as JSON text, or `undefined` when it is caught up. Never blocks.
    #[napi]
    pub fn poll(&mut self, env: Env, subscription: u32) -> napi::Result<Either<String, Undefined>> {
        let page = (|| {
            self.store()?;
            if self.watcher.as_ref().is_some_and(Watcher::is_finished) {
                // It ended on an error (its last call is what brought the host here): watch again if the database
                // can be read, else this poll reports why.
                let _ = self.start_watcher();
            }
            let subscription = self
                .subscriptions
                .get_mut(&subscription)
                .ok_or_else(|| AddonError::invalid("subscription", "is not open"))?;
            let events = subscription.poll()?;
            if events.is_empty() {
                return Ok(Either::B(()));
            }
            Ok(Either::A(convert::events_to_json(&events)?))
        })();
        throw(&env, page)
    }

    /// Closes a subscription. Unknown ids are ignored (unsubscribing twice is harmless). The last one lets the
    /// event loop end.
    #[napi]
    pub fn unsubscribe(&mut self, subscription: u32) {
        self.subscriptions.remove(&subscription);
        if self.subscriptions.is_empty() {
            self.keep_alive = None;
        }
    }

    /// Stores the checkpoint of the named subscription `name`.
    #[napi(js_name = "saveCheckpoint")]
    pub fn save_checkpoint(&self, env: Env, name: StringArg<'_>, position: Unknown<'_>) -> napi::Result<()> {
        let saved = (|| {
            let name = convert::to_string(name, "name")?;
            let position = convert::to_u64(&env, position, "position")?;
            Ok(self.store()?.save_checkpoint(&name, position)?)
        })();
        throw(&env, saved)
    }

    /// The stored checkpoint of `name`, or `undefined`.
    #[napi(js_name = "loadCheckpoint")]
    pub fn load_checkpoint(&self, env: Env, name: StringArg<'_>) -> napi::Result<Either<f64, Undefined>> {
        let loaded = (|| {
            let name = convert::to_string(name, "name")?;
            Ok(match self.store()?.load_checkpoint(&name)? {
                Some(position) => Either::A(position as f64),
                None => Either::B(()),
            })
        })();
        throw(&env, loaded)
    }

    /// Saves `state` (JSON text) as the snapshot of `stream` at `version` under `schemaTag`.
    #[napi(js_name = "saveSnapshot")]
    pub fn save_snapshot(
        &self,
        env: Env,
        stream: StringArg<'_>,
        version: Unknown<'_>,
        state: StringArg<'_>,
        schema_tag: StringArg<'_>,
    ) -> napi::Result<()> {
        let saved = (|| {
            let stream = convert::to_string(stream, "stream")?;
            let version = convert::to_u64(&env, version, "version")?;
            let state = convert::to_string(state, "state")?;
            let state: &RawValue = serde_json::from_str(&state)
                .map_err(|_| AddonError::invalid("state", "is not serialisable as JSON"))?;
            let schema_tag = convert::to_string(schema_tag, "schemaTag")?;
            Ok(self.store()?.save_snapshot(&stream, version, &state, &schema_tag)?)
        })();
        throw(&env, saved)
    }

    /// The latest snapshot of `stream` (under `schemaTag` when given) as JSON text, or `undefined`.
    #[napi(js_name = "loadSnapshot")]
    pub fn load_snapshot(
        &self,
        env: Env,
        stream: StringArg<'_>,
        schema_tag: Unknown<'_>,
    ) -> napi::Result<Either<String, Undefined>> {
        let loaded = (|| {
            let stream = convert::to_string(stream, "stream")?;
            let store = self.store()?;
            let snapshot = if convert::is_nullish(&schema_tag) {
                store.load_snapshot(&stream)?
            } else {
                let tag: String =
                    env.from_js_value(schema_tag).map_err(|_| AddonError::invalid("schemaTag", "must be a string"))?;
                store.load_snapshot_tagged(&stream, &tag)?
            };
            Ok(match snapshot {
                Some(snapshot) => Either::A(convert::snapshot_to_json(&snapshot)?),
                None => Either::B(()),
            })
        })();
        throw(&env, loaded)
    }

    /// This store's replica id (a UUID created once, then kept).
    #[napi(js_name = "replicaId")]
    pub fn replica_id(&self, env: Env) -> napi::Result<String> {
        throw(&env, (|| Ok(self.store()?.replica_id()?.hyphenated().to_string()))())
    }

    /// The sync counters: `{ replicaId, pending, confirmedThrough, cursor, conflicts, logResets }`.
    #[napi(js_name = "syncStatus")]
    pub fn sync_status(&self, env: Env) -> napi::Result<Value> {
        let status = (|| {
            let status = self.store()?.sync_status()?;
            Ok(json!({
                "replicaId": status.replica_id.hyphenated().to_string(),
                "pending": status.pending,
                "confirmedThrough": status.confirmed_through,
                "cursor": status.cursor,
                "conflicts": status.conflicts,
                "logResets": status.log_resets,
            }))
        })();
        throw(&env, status)
    }

    /// The conflicts list, oldest first, as a JSON array.
    #[napi(js_name = "syncConflicts")]
    pub fn sync_conflicts(&self, env: Env) -> napi::Result<String> {
        throw(&env, (|| conflicts_to_json(&self.store()?.sync_conflicts()?))())
    }

    /// Subscribes to the log in `mode`: `"confirmed"` or `"pending"`; `options` as `subscribeToAll`'s, without
    /// `name`.
    #[napi(js_name = "subscribeSynced")]
    pub fn subscribe_synced(
        &mut self,
        env: Env,
        mode: StringArg<'_>,
        options: Unknown<'_>,
    ) -> napi::Result<NodeSyncedSubscription> {
        let subscription = (|| {
            let mode = match convert::to_string(mode, "mode")?.as_str() {
                "confirmed" => SyncMode::ConfirmedOnly,
                "pending" => SyncMode::IncludePending,
                _ => return Err(AddonError::invalid("mode", "must be 'confirmed' or 'pending'")),
            };
            let options = convert::to_subscription_options(&env, options)?;
            let inner = self.store()?.subscribe_synced(mode, options)?;
            self.start_watcher()?;
            Ok(NodeSyncedSubscription { inner: Some(inner) })
        })();
        throw(&env, subscription)
    }

    /// Removes the conflict of `eventId` from the list; `false` when there was none.
    #[napi(js_name = "dismissConflict")]
    pub fn dismiss_conflict(&self, env: Env, event_id: StringArg<'_>) -> napi::Result<bool> {
        let dismissed = (|| {
            let text = convert::to_string(event_id, "eventId")?;
            let event_id = Uuid::parse_str(&text).map_err(|_| AddonError::invalid("eventId", "is not a UUID"))?;
            Ok(self.store()?.dismiss_conflict(event_id)?)
        })();
        throw(&env, dismissed)
    }
}

/// A cursor over a syncing store's log (`WasmSyncedSubscription` in JS).
#[napi(js_name = "WasmSyncedSubscription")]
pub struct NodeSyncedSubscription {
    inner: Option<SyncedSubscription>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SyncedPageJson {
    rewound_from: Option<u64>,
    events: String,
}

#[napi]
impl NodeSyncedSubscription {
    /// The next page `{ rewoundFrom, events }`, or `undefined` when caught up.
    #[napi]
    pub fn poll(&mut self, env: Env) -> napi::Result<Either<Value, Undefined>> {
        let page = (|| {
            let inner = self.inner.as_mut().ok_or_else(AddonError::closed)?;
            let items = inner.poll()?;
            if items.is_empty() {
                return Ok(Either::B(()));
            }
            let mut rewound_from = None;
            let mut events = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    SyncedItem::Rewound { from_position } => rewound_from = Some(from_position),
                    SyncedItem::Event(event) => events.push(event),
                }
            }
            let page = SyncedPageJson { rewound_from, events: convert::events_to_json(&events)? };
            Ok(Either::A(serde_json::to_value(page).map_err(|e| AddonError::new("INTERNAL", e.to_string()))?))
        })();
        throw(&env, page)
    }

    /// The exclusive cursor: the position of the last event delivered (or of the last rewind).
    #[napi(getter)]
    pub fn position(&self) -> f64 {
        self.inner.as_ref().map_or(0.0, |inner| inner.position() as f64)
    }

    /// Releases the cursor (and its connection).
    #[napi]
    pub fn free(&mut self) {
        self.inner = None;
    }
}

/// A conflict as JS sees it: the rejected event (data as stored: JSON embedded, or base64), and why.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConflictJson<'a> {
    id: u64,
    event_id: String,
    stream: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    content_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_base64: Option<String>,
    metadata: Option<&'a RawValue>,
    expected: Value,
    code: &'static str,
    actual_version: Option<u64>,
    message: &'a str,
    recorded_at: i64,
    rejected_at: i64,
}

fn conflict_json(conflict: &Conflict) -> AddonResult<ConflictJson<'_>> {
    let (data, data_base64) = match &conflict.data {
        EventData::Json(text) => (Some(convert::stored_json(text, "conflict data")?), None),
        EventData::Binary { bytes, .. } => (None, Some(eventlite::sync::base64::encode(bytes))),
    };
    let expected = match conflict.expected {
        ExpectedVersion::Any => "any".into(),
        ExpectedVersion::NoStream => "no_stream".into(),
        ExpectedVersion::StreamExists => "stream_exists".into(),
        ExpectedVersion::Exact(version) => version.into(),
    };
    Ok(ConflictJson {
        id: conflict.id,
        event_id: conflict.event_id.hyphenated().to_string(),
        stream: &conflict.stream,
        event_type: &conflict.event_type,
        content_type: conflict.data.content_type(),
        data,
        data_base64,
        metadata: conflict
            .metadata
            .as_deref()
            .map(|text| convert::stored_json(text, "conflict metadata"))
            .transpose()?,
        expected,
        code: conflict.code.as_str(),
        actual_version: conflict.actual_version,
        message: &conflict.message,
        recorded_at: conflict.recorded_at,
        rejected_at: conflict.rejected_at,
    })
}

/// Conflicts as one JSON array.
pub(crate) fn conflicts_to_json(conflicts: &[Conflict]) -> AddonResult<String> {
    let wire = conflicts.iter().map(conflict_json).collect::<AddonResult<Vec<_>>>()?;
    serde_json::to_string(&wire).map_err(|error| AddonError::new("INTERNAL", error.to_string()))
}

/// Checks a store name (the rules OPFS applies in the browser), so that every store accepts the same names.
#[napi(js_name = "checkStoreName")]
pub fn check_store_name(env: Env, name: StringArg<'_>) -> napi::Result<()> {
    let checked = convert::to_string(name, "name").and_then(|name| {
        let valid = !name.is_empty()
            && name.len() <= 64
            && !name.starts_with('.')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if valid {
            Ok(())
        } else {
            Err(AddonError::invalid("name", "must be 1 to 64 of A-Z a-z 0-9 . _ - and not start with '.'"))
        }
    });
    throw(&env, checked)
}
