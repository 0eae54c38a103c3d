//! Sync bindings on the store: status, the conflicts list, and synced subscriptions. The sync round itself (what to
//! push, what an answer means, retries) is core's, bound in [`crate::driver`]; the JS package's transport only moves
//! the bytes it asks for.
//!
//! Conflicts travel as JSON text (their data is JSON text in the store already, and is embedded as is); everything
//! else is a typed plain object (see the TypeScript declarations below).

use eventlite::sync::{Conflict, SyncMode, SyncedItem, SyncedSubscription};
use eventlite::{EventData, ExpectedVersion, Uuid};
use serde::Serialize;
use serde_json::value::RawValue;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;

use crate::WasmStore;
use crate::convert::{self, to_js};
use crate::error::JsError;

type JsResult<T> = Result<T, JsValue>;

#[wasm_bindgen(typescript_custom_section)]
const TS_SYNC: &str = r#"
/** A store's sync counters. */
export interface SyncCountersWire {
  replicaId: string;
  /** Local events the server has not confirmed yet. */
  pending: number;
  /** The local position of the last confirmed event (0: none). */
  confirmedThrough: number;
  /** The stored pull cursor, or `null` before the first pull. */
  cursor: string | null;
  /** Entries in the conflicts list. */
  conflicts: number;
  /** How many times the server's log turned out to be another one (`LOG_RESET`) and sync started over. */
  logResets: number;
}
/** A synced subscription's page: a rewind first (every event delivered after `rewoundFrom` is void), then events
 * (a JSON array). */
export interface SyncedPageWire {
  rewoundFrom: number | null;
  events: string;
}
"#;

fn to_json<T: Serialize>(value: &T) -> Result<String, JsError> {
    serde_json::to_string(value).map_err(|error| JsError::new("INTERNAL", error.to_string()))
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
    /// `"any"`, `"no_stream"`, `"stream_exists"` or the exact version, as `appendToStream` takes it.
    expected: serde_json::Value,
    code: &'static str,
    actual_version: Option<u64>,
    message: &'a str,
    recorded_at: i64,
    rejected_at: i64,
}

fn conflict_json(conflict: &Conflict) -> Result<ConflictJson<'_>, JsError> {
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
pub(crate) fn conflicts_to_json(conflicts: &[Conflict]) -> Result<String, JsError> {
    to_json(&conflicts.iter().map(conflict_json).collect::<Result<Vec<_>, JsError>>()?)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusJson {
    replica_id: String,
    pending: u64,
    confirmed_through: u64,
    cursor: Option<String>,
    conflicts: u64,
    log_resets: u64,
}

#[wasm_bindgen]
impl WasmStore {
    /// This store's replica id (a UUID created once, then kept).
    #[wasm_bindgen(js_name = replicaId)]
    pub fn replica_id(&self) -> JsResult<String> {
        Ok(self.store()?.replica_id().map_err(JsError::from)?.hyphenated().to_string())
    }

    /// The sync counters.
    #[wasm_bindgen(js_name = syncStatus, unchecked_return_type = "SyncCountersWire")]
    pub fn sync_status(&self) -> JsResult<JsValue> {
        let status = self.store()?.sync_status().map_err(JsError::from)?;
        Ok(to_js(&StatusJson {
            replica_id: status.replica_id.hyphenated().to_string(),
            pending: status.pending,
            confirmed_through: status.confirmed_through,
            cursor: status.cursor,
            conflicts: status.conflicts,
            log_resets: status.log_resets,
        })?)
    }

    /// The conflicts list, oldest first, as a JSON array.
    #[wasm_bindgen(js_name = syncConflicts)]
    pub fn sync_conflicts(&self) -> JsResult<String> {
        let conflicts = self.store()?.sync_conflicts().map_err(JsError::from)?;
        Ok(conflicts_to_json(&conflicts)?)
    }

    /// Subscribes to the log in `mode`: `"confirmed"` (only events the server confirmed, never rewound) or
    /// `"pending"` (also local pending events, with rewind notices). `options` as `subscribeToAll`'s, without `name`.
    #[wasm_bindgen(js_name = subscribeSynced)]
    pub fn subscribe_synced(
        &self,
        #[wasm_bindgen(unchecked_param_type = "unknown")] mode: JsValue,
        #[wasm_bindgen(unchecked_param_type = "unknown")] options: JsValue,
    ) -> JsResult<WasmSyncedSubscription> {
        let mode = match convert::to_string(&mode, "mode")?.as_str() {
            "confirmed" => SyncMode::ConfirmedOnly,
            "pending" => SyncMode::IncludePending,
            _ => return Err(JsError::invalid("mode", "must be 'confirmed' or 'pending'").into()),
        };
        let options = convert::to_subscription_options(&options)?;
        let inner = self.store()?.subscribe_synced(mode, options).map_err(JsError::from)?;
        Ok(WasmSyncedSubscription { inner })
    }

    /// Removes the conflict of `eventId` from the list; `false` when there was none.
    #[wasm_bindgen(js_name = dismissConflict)]
    pub fn dismiss_conflict(
        &self,
        #[wasm_bindgen(unchecked_param_type = "unknown")] event_id: JsValue,
    ) -> JsResult<bool> {
        let text = convert::to_string(&event_id, "eventId")?;
        let event_id = Uuid::parse_str(&text).map_err(|_| JsError::invalid("eventId", "is not a UUID"))?;
        Ok(self.store()?.dismiss_conflict(event_id).map_err(JsError::from)?)
    }
}

/// A cursor over a syncing store's log (see [`SyncedSubscription`]). It holds the store's connection: `free()` it
/// before closing the store.
#[wasm_bindgen]
pub struct WasmSyncedSubscription {
    inner: SyncedSubscription,
}

#[wasm_bindgen]
impl WasmSyncedSubscription {
    /// The next page, or `undefined` when caught up. A rewind comes first: every event delivered after
    /// `rewoundFrom` is void, and the page's events replace them.
    #[wasm_bindgen(unchecked_return_type = "SyncedPageWire | undefined")]
    pub fn poll(&mut self) -> JsResult<JsValue> {
        let items = self.inner.poll().map_err(JsError::from)?;
        if items.is_empty() {
            return Ok(JsValue::UNDEFINED);
        }
        let mut rewound_from = None;
        let mut events = Vec::with_capacity(items.len());
        for item in items {
            match item {
                SyncedItem::Rewound { from_position } => rewound_from = Some(from_position),
                SyncedItem::Event(event) => events.push(event),
            }
        }
        let events = convert::events_to_json(&events)?;
        Ok(to_js(&SyncedPageJson { rewound_from, events })?)
    }

    /// The exclusive cursor: the position of the last event delivered (or of the last rewind).
    #[wasm_bindgen(getter)]
    pub fn position(&self) -> f64 {
        self.inner.position() as f64
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SyncedPageJson {
    rewound_from: Option<u64>,
    events: String,
}
