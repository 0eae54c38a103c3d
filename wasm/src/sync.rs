//! Sync bindings: core's replica-side sync engine ([`eventlite::sync`]) for the JS transport, as JSON in and out.
//!
//! The rules (what to push, how a push response or a pull page is applied, rebasing, conflicts) are all core's. The
//! JS package's `SyncClient` (`js/src/sync.ts`) only moves messages: it POSTs the text [`WasmStore::next_push`]
//! returns as is, and hands the server's answers back as text. Wire messages keep the protocol's snake_case form
//! (`docs/sync-protocol.md`); what only JS reads (status, conflicts, what a step did) is camelCase.

use eventlite::sync::{
    Conflict, PullApplied, PullResponse, PushApplied, PushBudget, PushRequest, PushResponse, SyncError, SyncMode,
    SyncedItem, SyncedSubscription,
};
use eventlite::{EventData, ExpectedVersion, Uuid};
use serde::Serialize;
use serde_json::value::RawValue;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use crate::WasmStore;
use crate::convert::{self, u64_to_js};
use crate::error::JsError;

type JsResult<T> = Result<T, JsValue>;

impl From<SyncError> for JsError {
    fn from(error: SyncError) -> Self {
        let base = JsError::new(error.code().as_str(), error.to_string());
        match error {
            SyncError::InvalidArgument(invalid) => invalid.into(),
            SyncError::EventTooLarge { index, size, limit } => base
                .with("index", (index as f64).into())
                .with("size", (size as f64).into())
                .with("limit", (limit as f64).into()),
            SyncError::BatchTooLarge { count, limit } => {
                base.with("count", (count as f64).into()).with("limit", (limit as f64).into())
            }
            _ => base,
        }
    }
}

/// A message from the server that does not parse is the other side breaking the protocol.
fn parse_message<'a, T: serde::Deserialize<'a>>(text: &'a str, what: &str) -> Result<T, JsError> {
    serde_json::from_str(text).map_err(|error| JsError::from(SyncError::Protocol(format!("{what}: {error}"))))
}

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

fn conflicts_json(conflicts: &[Conflict]) -> Result<Vec<ConflictJson<'_>>, JsError> {
    conflicts.iter().map(conflict_json).collect()
}

/// What applying a push response did.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PushAppliedJson<'a> {
    accepted: usize,
    rejected: Vec<ConflictJson<'a>>,
    rewound_from: Option<u64>,
}

/// What applying a pull page did, plus the page's `more` flag (whether to pull again at once).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PullAppliedJson {
    applied: usize,
    own: usize,
    rewound_from: Option<u64>,
    pending: usize,
    more: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusJson {
    replica_id: String,
    pending: u64,
    confirmed_through: u64,
    cursor: Option<String>,
    conflicts: u64,
}

#[wasm_bindgen]
impl WasmStore {
    /// This store's replica id (a UUID created once, then kept).
    #[wasm_bindgen(js_name = replicaId)]
    pub fn replica_id(&self) -> JsResult<String> {
        Ok(self.store()?.replica_id().map_err(JsError::from)?.hyphenated().to_string())
    }

    /// The next push within the server's limits: `{ body, count, firstEventId, batches, rejected, rewoundFrom }`.
    /// `body` is the `POST /v1/push` request as JSON text, or `undefined` when nothing is pending; it carries whole
    /// local batches, at most `maxEvents` events (unless one batch is larger) and `maxBatches` batches (default
    /// unbounded), within `budget` (`{ maxEvents, maxBytes, maxEventSize }`, each defaulting to the reference
    /// server's limit). Local batches no push can carry were set aside on the way: `rejected` is their conflicts as
    /// a JSON array, `rewoundFrom` the position after which the log was rewritten (or `undefined`).
    #[wasm_bindgen(js_name = nextPush)]
    pub fn next_push(&self, max_events: JsValue, max_batches: JsValue, budget: JsValue) -> JsResult<JsValue> {
        let max_events = convert::to_u64(&max_events, "maxEvents")?;
        if max_events == 0 {
            return Err(JsError::invalid("maxEvents", "must be at least 1").into());
        }
        let max_batches = if max_batches.is_undefined() || max_batches.is_null() {
            usize::MAX
        } else {
            match convert::to_u64(&max_batches, "maxBatches")? {
                0 => return Err(JsError::invalid("maxBatches", "must be at least 1").into()),
                n => n as usize,
            }
        };
        let budget = to_budget(&budget)?;
        let next = self.store()?.next_push_within(max_events as usize, max_batches, &budget).map_err(JsError::from)?;
        let out = js_sys::Object::new();
        if let Some(request) = &next.request {
            set(&out, "body", to_json(request)?.into());
            set(&out, "count", u64_to_js(request.events.len() as u64));
            let first = request.events.first().map(|event| event.event_id.hyphenated().to_string());
            set(&out, "firstEventId", first.map_or(JsValue::UNDEFINED, JsValue::from));
        }
        set(&out, "batches", u64_to_js(next.batches as u64));
        set(&out, "rejected", to_json(&conflicts_json(&next.rejected)?)?.into());
        set(&out, "rewoundFrom", next.rewound_from.map_or(JsValue::UNDEFINED, u64_to_js));
        Ok(out.into())
    }

    /// Applies the server's answer (`response`, JSON text) to the push `request` (the `body` that was sent): rejected
    /// events and this replica's later pending events in their streams leave the log for the conflicts list.
    /// Returns `{ accepted, rejected: [conflict], rewoundFrom }` as JSON text.
    #[wasm_bindgen(js_name = applyPushResponse)]
    pub fn apply_push_response(&self, request: JsValue, response: JsValue) -> JsResult<String> {
        let request = convert::to_string(&request, "request")?;
        let request: PushRequest =
            serde_json::from_str(&request).map_err(|error| JsError::invalid("request", error.to_string()))?;
        let response = convert::to_string(&response, "response")?;
        let response: PushResponse = parse_message(&response, "push response")?;
        let applied: PushApplied = self.store()?.apply_push_response(&request, &response).map_err(JsError::from)?;
        Ok(to_json(&PushAppliedJson {
            accepted: applied.accepted,
            rejected: conflicts_json(&applied.rejected)?,
            rewound_from: applied.rewound_from,
        })?)
    }

    /// Applies one pull page (`GET /v1/pull` answer, JSON text) and stores its cursor, in one transaction. Returns
    /// `{ applied, own, rewoundFrom, pending, more }` as JSON text.
    #[wasm_bindgen(js_name = applyPull)]
    pub fn apply_pull(&self, response: JsValue) -> JsResult<String> {
        let response = convert::to_string(&response, "response")?;
        let response: PullResponse = parse_message(&response, "pull response")?;
        let applied: PullApplied = self.store()?.apply_pull(&response).map_err(JsError::from)?;
        Ok(to_json(&PullAppliedJson {
            applied: applied.applied,
            own: applied.own,
            rewound_from: applied.rewound_from,
            pending: applied.pending,
            more: response.more,
        })?)
    }

    /// The cursor to pull after, or `undefined` before the first pull.
    #[wasm_bindgen(js_name = pullCursor)]
    pub fn pull_cursor(&self) -> JsResult<Option<String>> {
        Ok(self.store()?.pull_cursor().map_err(JsError::from)?)
    }

    /// `{ replicaId, pending, confirmedThrough, cursor, conflicts }` as JSON text.
    #[wasm_bindgen(js_name = syncStatus)]
    pub fn sync_status(&self) -> JsResult<String> {
        let status = self.store()?.sync_status().map_err(JsError::from)?;
        Ok(to_json(&StatusJson {
            replica_id: status.replica_id.hyphenated().to_string(),
            pending: status.pending,
            confirmed_through: status.confirmed_through,
            cursor: status.cursor,
            conflicts: status.conflicts,
        })?)
    }

    /// The conflicts list, oldest first, as a JSON array.
    #[wasm_bindgen(js_name = syncConflicts)]
    pub fn sync_conflicts(&self) -> JsResult<String> {
        let conflicts = self.store()?.sync_conflicts().map_err(JsError::from)?;
        Ok(to_json(&conflicts_json(&conflicts)?)?)
    }

    /// Subscribes to the log in `mode`: `"confirmed"` (only events the server confirmed, never rewound) or
    /// `"pending"` (also local pending events, with rewind notices). `options` as `subscribeToAll`'s, without `name`.
    #[wasm_bindgen(js_name = subscribeSynced)]
    pub fn subscribe_synced(&self, mode: JsValue, options: JsValue) -> JsResult<WasmSyncedSubscription> {
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
    pub fn dismiss_conflict(&self, event_id: JsValue) -> JsResult<bool> {
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
    /// The next page, `{ rewoundFrom: number | undefined, events: <JSON text> }`, or `undefined` when caught up. A
    /// rewind comes first: every event delivered after `rewoundFrom` is void, and the page's events replace them.
    pub fn poll(&mut self) -> JsResult<JsValue> {
        let items = self.inner.poll().map_err(JsError::from)?;
        if items.is_empty() {
            return Ok(JsValue::UNDEFINED);
        }
        let mut rewound_from = JsValue::UNDEFINED;
        let mut events = Vec::with_capacity(items.len());
        for item in items {
            match item {
                SyncedItem::Rewound { from_position } => rewound_from = u64_to_js(from_position),
                SyncedItem::Event(event) => events.push(event),
            }
        }
        let out = js_sys::Object::new();
        set(&out, "rewoundFrom", rewound_from);
        set(&out, "events", convert::events_to_json(&events)?.into());
        Ok(out.into())
    }

    /// The exclusive cursor: the position of the last event delivered (or of the last rewind).
    #[wasm_bindgen(getter)]
    pub fn position(&self) -> f64 {
        self.inner.position() as f64
    }
}

/// `{ maxEvents, maxBytes, maxEventSize }`, each optional (the reference server's defaults).
fn to_budget(value: &JsValue) -> Result<PushBudget, JsError> {
    let mut budget = PushBudget::default();
    if value.is_undefined() || value.is_null() {
        return Ok(budget);
    }
    if !value.is_object() {
        return Err(JsError::invalid("budget", "must be an object"));
    }
    let limits = [
        ("maxEvents", &mut budget.max_events),
        ("maxBytes", &mut budget.max_bytes),
        ("maxEventSize", &mut budget.max_event_size),
    ];
    for (key, slot) in limits {
        let field = js_sys::Reflect::get(value, &key.into()).unwrap_or(JsValue::UNDEFINED);
        if field.is_undefined() {
            continue;
        }
        let argument = format!("budget.{key}");
        match convert::to_u64(&field, &argument)? {
            0 => return Err(JsError::invalid(argument, "must be at least 1")),
            limit => *slot = limit as usize,
        }
    }
    Ok(budget)
}

fn set(object: &js_sys::Object, key: &str, value: JsValue) {
    // Defining a property on a fresh plain object cannot fail.
    let _ = js_sys::Reflect::set(object.unchecked_ref(), &key.into(), &value);
}

#[cfg(test)]
mod tests {
    //! The bindings against core's server side as the hub (no I/O): what the JS transport does, through JSON.
    use eventlite::Store;
    use eventlite::sync::server::{self, Limits};
    use serde_json::Value;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn get(value: &JsValue, key: &str) -> JsValue {
        js_sys::Reflect::get(value, &key.into()).expect("an object")
    }

    fn code(error: JsValue) -> String {
        get(&error, "code").as_string().expect("a code")
    }

    fn device() -> WasmStore {
        WasmStore::open_memory(JsValue::UNDEFINED).expect("a memory store")
    }

    fn append(store: &WasmStore, stream: &str, events: &str, expected: &str) {
        store.append_to_stream(stream.into(), events.into(), expected.into()).expect("append");
    }

    fn json(text: &str) -> Value {
        serde_json::from_str(text).expect("JSON")
    }

    /// Pushes everything pending, pulling after each push, then pulls: returns the conflicts reported on the way.
    fn sync(device: &WasmStore, hub: &Store) -> Vec<Value> {
        let mut conflicts = Vec::new();
        loop {
            let next = device.next_push(100.into(), JsValue::UNDEFINED, JsValue::UNDEFINED).expect("next push");
            conflicts.extend(json(&get(&next, "rejected").as_string().expect("rejected")).as_array().cloned().unwrap());
            let Some(body) = get(&next, "body").as_string() else { break };
            let request: PushRequest = serde_json::from_str(&body).expect("a push request");
            let response = server::apply_push(hub, &request, &Limits::default()).expect("applied by the hub");
            let response = serde_json::to_string(&response).expect("serialised");
            let applied = json(&device.apply_push_response(body.into(), response.into()).expect("push response"));
            conflicts.extend(applied["rejected"].as_array().cloned().unwrap());
            pull(device, hub);
        }
        pull(device, hub);
        conflicts
    }

    fn pull(device: &WasmStore, hub: &Store) {
        loop {
            let after = device.pull_cursor().expect("cursor").map_or(0, |cursor| cursor.parse().expect("a position"));
            let page = server::read_pull(hub, after, 100).expect("a page").into_response(|p| p.to_string());
            let page = serde_json::to_string(&page).expect("serialised");
            if !json(&device.apply_pull(page.into()).expect("pull applied"))["more"].as_bool().unwrap() {
                return;
            }
        }
    }

    #[test]
    fn two_devices_converge_and_a_conflict_is_reported_as_json() {
        let hub = Store::open_in_memory().unwrap();
        let (a, b) = (device(), device());
        append(&a, "todo-1", r#"[{"type":"Added","data":{"by":"a"}}]"#, "no_stream");
        append(&b, "todo-1", r#"[{"type":"Added","data":{"by":"b"}}]"#, "no_stream");
        append(&b, "todo-2", r#"[{"type":"Added","data":null}]"#, "no_stream");
        assert!(sync(&a, &hub).is_empty());
        let conflicts = sync(&b, &hub);
        assert_eq!(conflicts.len(), 1);
        let conflict = &conflicts[0];
        assert_eq!(conflict["code"], "WRONG_EXPECTED_VERSION");
        assert_eq!(conflict["stream"], "todo-1");
        assert_eq!(conflict["type"], "Added");
        assert_eq!(conflict["data"], json(r#"{"by":"b"}"#));
        assert_eq!(conflict["expected"], "no_stream");
        assert_eq!(conflict["actualVersion"], 1);
        sync(&a, &hub);

        let status = json(&b.sync_status().unwrap());
        assert_eq!((status["pending"].as_u64(), status["conflicts"].as_u64()), (Some(0), Some(1)));
        assert_eq!(status["replicaId"], b.replica_id().unwrap());
        let log =
            |store: &WasmStore| json(&get(&store.read_all(JsValue::UNDEFINED).unwrap(), "events").as_string().unwrap());
        let ids = |log: Value| log.as_array().unwrap().iter().map(|e| e["eventId"].clone()).collect::<Vec<_>>();
        assert_eq!(ids(log(&a)), ids(log(&b)));
        assert_eq!(log(&a).as_array().unwrap().len(), 2);

        let listed = json(&b.sync_conflicts().unwrap());
        assert_eq!(listed.as_array().unwrap().len(), 1);
        let id = JsValue::from(conflict["eventId"].as_str().unwrap());
        assert!(b.dismiss_conflict(id.clone()).unwrap());
        assert!(!b.dismiss_conflict(id).unwrap());
        assert_eq!(code(b.dismiss_conflict("not-a-uuid".into()).unwrap_err()), "INVALID_ARGUMENT");
    }

    #[test]
    fn a_batch_over_the_budget_is_set_aside_and_bad_limits_are_invalid_arguments() {
        let store = device();
        append(&store, "big-1", r#"[{"type":"A","data":1},{"type":"B","data":2}]"#, "any");
        append(&store, "small-1", r#"[{"type":"C","data":3}]"#, "any");
        let budget = js_sys::Object::new();
        js_sys::Reflect::set(&budget, &"maxEvents".into(), &1.into()).unwrap();
        let next = store.next_push(100.into(), JsValue::UNDEFINED, budget.into()).unwrap();
        let rejected = json(&get(&next, "rejected").as_string().unwrap());
        let codes: Vec<_> = rejected.as_array().unwrap().iter().map(|c| c["code"].clone()).collect();
        assert_eq!(codes, ["BATCH_TOO_LARGE", "BATCH_TOO_LARGE"]);
        let body: PushRequest = serde_json::from_str(&get(&next, "body").as_string().unwrap()).unwrap();
        assert_eq!(body.events.iter().map(|e| e.stream.as_str()).collect::<Vec<_>>(), ["small-1"]);
        assert_eq!(get(&next, "count").as_f64(), Some(1.0));

        let zero = js_sys::Object::new();
        js_sys::Reflect::set(&zero, &"maxBytes".into(), &0.into()).unwrap();
        for (max_events, max_batches, budget) in [
            (JsValue::from(0), JsValue::UNDEFINED, JsValue::UNDEFINED),
            (JsValue::from(10), JsValue::from(0), JsValue::UNDEFINED),
            (JsValue::from(10), JsValue::UNDEFINED, zero.into()),
            (JsValue::from(10), JsValue::UNDEFINED, JsValue::from("big")),
        ] {
            assert_eq!(code(store.next_push(max_events, max_batches, budget).unwrap_err()), "INVALID_ARGUMENT");
        }
    }

    #[test]
    fn synced_subscriptions_and_malformed_server_messages() {
        let hub = Store::open_in_memory().unwrap();
        let store = device();
        let mut confirmed = store.subscribe_synced("confirmed".into(), JsValue::UNDEFINED).unwrap();
        let mut pending = store.subscribe_synced("pending".into(), JsValue::UNDEFINED).unwrap();
        append(&store, "todo-1", r#"[{"type":"Added","data":null}]"#, "no_stream");
        assert!(confirmed.poll().unwrap().is_undefined());
        let page = pending.poll().unwrap();
        assert!(get(&page, "rewoundFrom").is_undefined());
        assert_eq!(json(&get(&page, "events").as_string().unwrap()).as_array().unwrap().len(), 1);
        sync(&store, &hub);
        assert_eq!(json(&get(&confirmed.poll().unwrap(), "events").as_string().unwrap())[0]["stream"], "todo-1");
        assert_eq!(confirmed.position(), 1.0);
        assert_eq!(code(store.subscribe_synced("all".into(), JsValue::UNDEFINED).err().unwrap()), "INVALID_ARGUMENT");

        assert_eq!(code(store.apply_pull("{\"events\":".into()).unwrap_err()), "SYNC_PROTOCOL");
        let push = store.next_push(10.into(), JsValue::UNDEFINED, JsValue::UNDEFINED).unwrap();
        assert!(get(&push, "body").is_undefined());
        let request = r#"{"replica_id":"00000000-0000-0000-0000-000000000001","events":[]}"#;
        assert_eq!(code(store.apply_push_response(request.into(), "[]".into()).unwrap_err()), "SYNC_PROTOCOL");
    }
}
