//! [`WasmStore`]: one core [`Store`] and its open subscriptions, exported to JS.

use std::collections::HashMap;

use eventlite::{Location, QueryWatch, Store, StoreOptions, Subscription};
use serde::Serialize;
use serde_json::value::RawValue;
use sqlite_wasm_vfs::sahpool::OpfsSAHPoolUtil;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;

use crate::convert::{self, to_js};
use crate::error::{JsError, STORE_CLOSED};
use crate::{opfs, panic};

type JsResult<T> = Result<T, JsValue>;

#[wasm_bindgen(typescript_custom_section)]
const TS_STORE: &str = r#"
/** `openMemory` / `openOpfs` options. */
export interface StoreOptionsWire {
  synchronous?: 'normal' | 'full';
  /** Bytes, at least 1. */
  maxEventSize?: number;
  busyTimeoutMs?: number;
}
/** What `appendToStream` returns once the transaction has committed. */
export interface AppendResultWire {
  streamVersion: number;
  positions: number[];
  alreadyAppended: boolean;
}
/** A page of a stream: `events` is a JSON array of events (data embedded as stored, or `dataBase64`). */
export interface StreamPageWire {
  events: string;
  version: number;
}
/** A page of the log: `events` as in {@link StreamPageWire}. */
export interface LogPageWire {
  events: string;
  headPosition: number;
}
"#;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppendResultJson<'a> {
    stream_version: u64,
    positions: &'a [u64],
    already_appended: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StreamPageJson {
    events: String,
    version: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogPageJson {
    events: String,
    head_position: u64,
}

/// A store opened from JS. Methods take `JsValue` arguments (typed `unknown`) so that a wrong type is reported as
/// `INVALID_ARGUMENT` naming the argument, rather than as a glue-level `TypeError`; results are typed in the
/// TypeScript declarations by the interfaces above.
#[wasm_bindgen]
pub struct WasmStore {
    store: Option<Store>,
    pool: Option<OpfsSAHPoolUtil>,
    storage_mode: &'static str,
    subscriptions: HashMap<u32, Subscription>,
    next_subscription: u32,
    watches: HashMap<u32, QueryWatch>,
}

#[wasm_bindgen]
impl WasmStore {
    /// Opens a private in-memory store (`storageMode` `"memory"`).
    #[wasm_bindgen(js_name = openMemory)]
    pub fn open_memory(
        #[wasm_bindgen(unchecked_param_type = "StoreOptionsWire | undefined")] options: JsValue,
    ) -> JsResult<WasmStore> {
        panic::install();
        let options = convert::to_store_options(&options)?;
        let store = Store::open_with(Location::Memory, options).map_err(JsError::from)?;
        Ok(WasmStore::new(store, None, "memory"))
    }

    /// Opens (creating if needed) the OPFS store `name` (`storageMode` `"opfs"`). Dedicated workers only; WAL with
    /// `locking_mode=EXCLUSIVE`, one connection.
    #[wasm_bindgen(js_name = openOpfs)]
    pub async fn open_opfs(
        #[wasm_bindgen(unchecked_param_type = "unknown")] name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "StoreOptionsWire | undefined")] options: JsValue,
    ) -> JsResult<WasmStore> {
        panic::install();
        let name = convert::to_string(&name, "name")?;
        opfs::validate_name(&name)?;
        let options = convert::to_store_options(&options)?;
        let pool = opfs::open_pool(&name).await?;
        let options = StoreOptions { vfs: Some(opfs::vfs_name(&name)), exclusive_locking: true, ..options };
        let store = Store::open_with(Location::File(opfs::database_path(&name).into()), options);
        match store {
            Ok(store) => Ok(WasmStore::new(store, Some(pool), "opfs")),
            Err(error) => {
                // Release the handles so that a later attempt (or another tab) can take them.
                let _ = pool.pause();
                Err(JsError::from(error).into())
            }
        }
    }

    fn new(store: Store, pool: Option<OpfsSAHPoolUtil>, storage_mode: &'static str) -> WasmStore {
        WasmStore {
            store: Some(store),
            pool,
            storage_mode,
            subscriptions: HashMap::new(),
            next_subscription: 1,
            watches: HashMap::new(),
        }
    }

    /// `"opfs"` or `"memory"`: where the events live.
    #[wasm_bindgen(getter, js_name = storageMode)]
    pub fn storage_mode(&self) -> String {
        self.storage_mode.to_owned()
    }

    pub(crate) fn store(&self) -> Result<&Store, JsError> {
        self.store.as_ref().ok_or_else(|| JsError::new(STORE_CLOSED, "the store is closed"))
    }

    /// Closes the store: drops its subscriptions and connection, then releases the OPFS handles. Idempotent.
    pub fn close(&mut self) -> JsResult<()> {
        self.subscriptions.clear();
        self.watches.clear();
        self.store = None;
        if let Some(pool) = self.pool.take() {
            pool.pause().map_err(opfs::pool_error)?;
        }
        Ok(())
    }

    /// Appends a batch (JSON text, see [`convert::to_new_events`]) if the stream's version satisfies `expected`.
    /// Returns `{ streamVersion, positions, alreadyAppended }` once the transaction has committed.
    #[wasm_bindgen(js_name = appendToStream, unchecked_return_type = "AppendResultWire")]
    pub fn append_to_stream(
        &self,
        #[wasm_bindgen(unchecked_param_type = "unknown")] stream: JsValue,
        #[wasm_bindgen(unchecked_param_type = "unknown")] events: JsValue,
        #[wasm_bindgen(unchecked_param_type = "unknown")] expected: JsValue,
    ) -> JsResult<JsValue> {
        let stream = convert::to_string(&stream, "stream")?;
        let events = convert::to_new_events(&events)?;
        let expected = convert::to_expected(&expected)?;
        let result = self.store()?.append_to_stream(&stream, &events, expected).map_err(JsError::from)?;
        Ok(to_js(&AppendResultJson {
            stream_version: result.stream_version,
            positions: &result.positions,
            already_appended: result.already_appended,
        })?)
    }

    /// Reads a page of a stream: `{ events: <JSON text>, version }`.
    #[wasm_bindgen(js_name = readStream, unchecked_return_type = "StreamPageWire")]
    pub fn read_stream(
        &self,
        #[wasm_bindgen(unchecked_param_type = "unknown")] stream: JsValue,
        #[wasm_bindgen(unchecked_param_type = "unknown")] options: JsValue,
    ) -> JsResult<JsValue> {
        let stream = convert::to_string(&stream, "stream")?;
        let options = convert::to_read_stream_options(&options)?;
        let slice = self.store()?.read_stream(&stream, options).map_err(JsError::from)?;
        let events = convert::events_to_json(&slice.events)?;
        Ok(to_js(&StreamPageJson { events, version: slice.stream_version })?)
    }

    /// Reads a page of the log: `{ events: <JSON text>, headPosition }`.
    #[wasm_bindgen(js_name = readAll, unchecked_return_type = "LogPageWire")]
    pub fn read_all(&self, #[wasm_bindgen(unchecked_param_type = "unknown")] options: JsValue) -> JsResult<JsValue> {
        let options = convert::to_read_all_options(&options)?;
        let slice = self.store()?.read_all(&options).map_err(JsError::from)?;
        let events = convert::events_to_json(&slice.events)?;
        Ok(to_js(&LogPageJson { events, head_position: slice.head_position })?)
    }

    /// The highest position stored (0 when empty).
    #[wasm_bindgen(js_name = headPosition)]
    pub fn head_position(&self) -> JsResult<f64> {
        Ok(self.store()?.head_position().map_err(JsError::from)? as f64)
    }

    /// A stream's current version (0 when absent).
    #[wasm_bindgen(js_name = streamVersion)]
    pub fn stream_version(&self, #[wasm_bindgen(unchecked_param_type = "unknown")] stream: JsValue) -> JsResult<f64> {
        let stream = convert::to_string(&stream, "stream")?;
        Ok(self.store()?.stream_version(&stream).map_err(JsError::from)? as f64)
    }

    /// Opens a subscription to the log; returns its id for [`WasmStore::poll`].
    #[wasm_bindgen(js_name = subscribeToAll)]
    pub fn subscribe_to_all(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "unknown")] options: JsValue,
    ) -> JsResult<u32> {
        let options = convert::to_subscription_options(&options)?;
        let subscription = self.store()?.subscribe_to_all(options).map_err(JsError::from)?;
        Ok(self.add_subscription(subscription))
    }

    /// Opens a subscription to one stream (numeric `from` is a stream version); returns its id.
    #[wasm_bindgen(js_name = subscribeToStream)]
    pub fn subscribe_to_stream(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "unknown")] stream: JsValue,
        #[wasm_bindgen(unchecked_param_type = "unknown")] options: JsValue,
    ) -> JsResult<u32> {
        let stream = convert::to_string(&stream, "stream")?;
        let options = convert::to_subscription_options(&options)?;
        let subscription = self.store()?.subscribe_to_stream(&stream, options).map_err(JsError::from)?;
        Ok(self.add_subscription(subscription))
    }

    pub(crate) fn add_watch(&mut self, watch: QueryWatch) -> u32 {
        // Watches and subscriptions share the id sequence: an id names one or the other.
        let id = self.next_subscription;
        self.next_subscription += 1;
        self.watches.insert(id, watch);
        id
    }

    pub(crate) fn watch_mut(&mut self, watch: u32) -> Result<&mut QueryWatch, JsError> {
        self.watches.get_mut(&watch).ok_or_else(|| JsError::invalid("watch", "is not open"))
    }

    pub(crate) fn remove_watch(&mut self, watch: u32) {
        self.watches.remove(&watch);
    }

    fn add_subscription(&mut self, subscription: Subscription) -> u32 {
        let id = self.next_subscription;
        self.next_subscription += 1;
        self.subscriptions.insert(id, subscription);
        id
    }

    /// The next page of a subscription as JSON text, or `undefined` when it is caught up. Never blocks.
    pub fn poll(&mut self, subscription: u32) -> JsResult<Option<String>> {
        self.store()?;
        let subscription =
            self.subscriptions.get_mut(&subscription).ok_or_else(|| JsError::invalid("subscription", "is not open"))?;
        let events = subscription.poll().map_err(JsError::from)?;
        if events.is_empty() {
            return Ok(None);
        }
        Ok(Some(convert::events_to_json(&events)?))
    }

    /// Closes a subscription. Unknown ids are ignored (unsubscribing twice is harmless).
    pub fn unsubscribe(&mut self, subscription: u32) {
        self.subscriptions.remove(&subscription);
    }

    /// Stores the checkpoint of the named subscription `name`: the position of the last event it processed.
    #[wasm_bindgen(js_name = saveCheckpoint)]
    pub fn save_checkpoint(
        &self,
        #[wasm_bindgen(unchecked_param_type = "unknown")] name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "unknown")] position: JsValue,
    ) -> JsResult<()> {
        let name = convert::to_string(&name, "name")?;
        let position = convert::to_u64(&position, "position")?;
        self.store()?.save_checkpoint(&name, position).map_err(JsError::from)?;
        Ok(())
    }

    /// The stored checkpoint of `name`, or `undefined`.
    #[wasm_bindgen(js_name = loadCheckpoint)]
    pub fn load_checkpoint(
        &self,
        #[wasm_bindgen(unchecked_param_type = "unknown")] name: JsValue,
    ) -> JsResult<Option<f64>> {
        let name = convert::to_string(&name, "name")?;
        Ok(self.store()?.load_checkpoint(&name).map_err(JsError::from)?.map(|p| p as f64))
    }

    /// Saves `state` (JSON text) as the snapshot of `stream` at `version` under `schemaTag`.
    #[wasm_bindgen(js_name = saveSnapshot)]
    pub fn save_snapshot(
        &self,
        #[wasm_bindgen(unchecked_param_type = "unknown")] stream: JsValue,
        #[wasm_bindgen(unchecked_param_type = "unknown")] version: JsValue,
        #[wasm_bindgen(unchecked_param_type = "unknown")] state: JsValue,
        #[wasm_bindgen(unchecked_param_type = "unknown")] schema_tag: JsValue,
    ) -> JsResult<()> {
        let stream = convert::to_string(&stream, "stream")?;
        let version = convert::to_u64(&version, "version")?;
        let state = convert::to_string(&state, "state")?;
        let state: &RawValue =
            serde_json::from_str(&state).map_err(|_| JsError::invalid("state", "is not serialisable as JSON"))?;
        let schema_tag = convert::to_string(&schema_tag, "schemaTag")?;
        self.store()?.save_snapshot(&stream, version, &state, &schema_tag).map_err(JsError::from)?;
        Ok(())
    }

    /// The latest snapshot of `stream` (under `schemaTag` when given) as JSON text, or `undefined`.
    #[wasm_bindgen(js_name = loadSnapshot)]
    pub fn load_snapshot(
        &self,
        #[wasm_bindgen(unchecked_param_type = "unknown")] stream: JsValue,
        #[wasm_bindgen(unchecked_param_type = "unknown")] schema_tag: JsValue,
    ) -> JsResult<Option<String>> {
        let stream = convert::to_string(&stream, "stream")?;
        let store = self.store()?;
        let snapshot = if schema_tag.is_undefined() || schema_tag.is_null() {
            store.load_snapshot(&stream)
        } else {
            store.load_snapshot_tagged(&stream, &convert::to_string(&schema_tag, "schemaTag")?)
        }
        .map_err(JsError::from)?;
        Ok(snapshot.map(|snapshot| convert::snapshot_to_json(&snapshot)).transpose()?)
    }
}

/// Checks a store name (the rules OPFS applies), so that memory stores accept exactly the same names.
#[wasm_bindgen(js_name = checkStoreName)]
pub fn check_store_name(#[wasm_bindgen(unchecked_param_type = "unknown")] name: JsValue) -> JsResult<()> {
    opfs::validate_name(&convert::to_string(&name, "name")?)?;
    Ok(())
}
