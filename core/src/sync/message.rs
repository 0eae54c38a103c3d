//! The wire protocol's messages (JSON via serde). `docs/sync-protocol.md` documents them with examples.
//!
//! Requests refuse unknown fields (a typo must not silently change meaning); responses ignore them, so servers can
//! add fields without breaking old clients. Event data travels as the exact JSON text the application appended
//! (`data`), or as base64 with a content type for binary payloads (`data_base64` + `content_type`), so a confirmed
//! event is byte for byte the event that was appended.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::error::InvalidArgument;
use crate::event::{EventData, JSON_CONTENT_TYPE, NewEvent, RecordedEvent};
use crate::stream::ExpectedVersion;
use crate::sync::base64;

/// An append's expectation as sent: `"any"`, `"no_stream"`, `"stream_exists"` or `{"exact": n}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireExpected {
    /// Append at the end of the server's stream, whatever its version (the event is rebased).
    Any,
    /// The server's stream must not exist.
    NoStream,
    /// The server's stream must exist.
    StreamExists,
    /// The server's stream must be at exactly this version.
    Exact(u64),
}

impl From<ExpectedVersion> for WireExpected {
    fn from(expected: ExpectedVersion) -> Self {
        match expected {
            ExpectedVersion::Any => WireExpected::Any,
            ExpectedVersion::NoStream => WireExpected::NoStream,
            ExpectedVersion::StreamExists => WireExpected::StreamExists,
            ExpectedVersion::Exact(version) => WireExpected::Exact(version),
        }
    }
}

impl From<WireExpected> for ExpectedVersion {
    fn from(expected: WireExpected) -> Self {
        match expected {
            WireExpected::Any => ExpectedVersion::Any,
            WireExpected::NoStream => ExpectedVersion::NoStream,
            WireExpected::StreamExists => ExpectedVersion::StreamExists,
            WireExpected::Exact(version) => ExpectedVersion::Exact(version),
        }
    }
}

/// An event's payload as it travels: JSON text, or base64 bytes with a content type. Flattened into its event.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WireData {
    /// JSON data, verbatim. Absent (or `null`) together with `data_base64` absent means the JSON value `null`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Box<RawValue>>,
    /// Binary data, standard base64 with padding. Requires `content_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<String>,
    /// The MIME type of binary data; absent for JSON (or `application/json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

impl WireData {
    /// The wire form of stored data.
    pub fn from_event_data(data: &EventData) -> WireData {
        match data {
            EventData::Json(text) => WireData { data: raw_json(text), data_base64: None, content_type: None },
            EventData::Binary { content_type, bytes } => WireData {
                data: None,
                data_base64: Some(base64::encode(bytes)),
                content_type: Some(content_type.clone()),
            },
        }
    }

    /// The stored form. `index` names the event in errors.
    pub fn to_event_data(&self, index: usize) -> Result<EventData, InvalidArgument> {
        let argument = |field: &str| format!("events[{index}].{field}");
        let json_type = self.content_type.as_deref().is_none_or(|t| t == JSON_CONTENT_TYPE);
        match (&self.data, &self.data_base64) {
            (Some(_), Some(_)) => {
                Err(InvalidArgument::new(argument("data"), "give either data or data_base64, not both"))
            }
            (data, None) => {
                if !json_type {
                    return Err(InvalidArgument::new(argument("content_type"), "JSON data is application/json"));
                }
                Ok(EventData::Json(data.as_ref().map_or_else(|| "null".to_owned(), |raw| raw.get().to_owned())))
            }
            (None, Some(encoded)) => {
                let Some(content_type) = self.content_type.clone().filter(|_| !json_type) else {
                    return Err(InvalidArgument::new(
                        argument("content_type"),
                        "binary data needs a content type other than application/json",
                    ));
                };
                let bytes = base64::decode(encoded)
                    .ok_or_else(|| InvalidArgument::new(argument("data_base64"), "is not padded standard base64"))?;
                Ok(EventData::Binary { content_type, bytes })
            }
        }
    }
}

fn raw_json(text: &str) -> Option<Box<RawValue>> {
    RawValue::from_string(text.to_owned()).or_else(|_| RawValue::from_string(text.trim().to_owned())).ok()
}

/// One event of a push: what the replica appended, with the expectation recorded when it appended it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireEvent {
    /// The event's id: retries are recognised by it.
    pub event_id: Uuid,
    /// The stream.
    pub stream: String,
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The expectation to check against the server's stream.
    pub expected: WireExpected,
    /// JSON data (verbatim) or base64 data with its content type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Box<RawValue>>,
    /// Binary data, standard base64 with padding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<String>,
    /// The MIME type of binary data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Metadata: a JSON object, verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Box<RawValue>>,
}

impl WireEvent {
    /// The payload fields as one value.
    pub fn wire_data(&self) -> WireData {
        WireData {
            data: self.data.clone(),
            data_base64: self.data_base64.clone(),
            content_type: self.content_type.clone(),
        }
    }

    /// The event to append; validates the payload's encoding (the store validates the rest).
    pub fn to_new_event(&self, index: usize) -> Result<NewEvent, InvalidArgument> {
        Ok(NewEvent {
            event_id: Some(self.event_id),
            event_type: self.event_type.clone(),
            data: self.wire_data().to_event_data(index)?,
            metadata: self.metadata.as_ref().map(|raw| raw.get().to_owned()),
        })
    }
}

/// `POST /v1/push`: pending events in the replica's local order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    /// The pushing replica (informational: logs and metrics).
    pub replica_id: Uuid,
    /// The events, in local position order. A local append's events are never split across pushes.
    pub events: Vec<WireEvent>,
}

/// Why the server rejected an event. Codes are API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RejectionCode {
    /// The event's expectation did not hold on the server's stream: another replica got there first.
    WrongExpectedVersion,
    /// An earlier event of the same replica in the same stream was rejected, so this one was too.
    FollowsRejected,
    /// The event id is already stored on the server for a different event.
    IdempotencyConflict,
    /// Set aside by the replica, never sent: one of the events of its local batch is larger than a push may carry.
    EventTooLarge,
    /// Set aside by the replica, never sent: its local batch holds more events or bytes than a push may carry.
    BatchTooLarge,
}

impl RejectionCode {
    /// The code's string form.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionCode::WrongExpectedVersion => "WRONG_EXPECTED_VERSION",
            RejectionCode::FollowsRejected => "FOLLOWS_REJECTED",
            RejectionCode::IdempotencyConflict => "IDEMPOTENCY_CONFLICT",
            RejectionCode::EventTooLarge => "EVENT_TOO_LARGE",
            RejectionCode::BatchTooLarge => "BATCH_TOO_LARGE",
        }
    }

    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) fn parse(text: &str) -> Option<RejectionCode> {
        [
            RejectionCode::WrongExpectedVersion,
            RejectionCode::FollowsRejected,
            RejectionCode::IdempotencyConflict,
            RejectionCode::EventTooLarge,
            RejectionCode::BatchTooLarge,
        ]
        .into_iter()
        .find(|code| code.as_str() == text)
    }
}

/// What the server did with one pushed event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PushOutcome {
    /// Stored (now, or by an earlier push of the same id: `duplicate`).
    Accepted {
        /// The event.
        event_id: Uuid,
        /// Its server position.
        position: u64,
        /// Its version in the server's stream.
        version: u64,
        /// True when the server already had it: the original position and version are returned.
        duplicate: bool,
    },
    /// Not stored: the event leaves the stream and goes to the replica's conflicts list.
    Rejected {
        /// The event.
        event_id: Uuid,
        /// Why.
        code: RejectionCode,
        /// The server stream's version when the event was checked.
        actual_version: Option<u64>,
        /// For humans.
        message: String,
    },
}

impl PushOutcome {
    /// The event this outcome is about.
    pub fn event_id(&self) -> Uuid {
        match self {
            PushOutcome::Accepted { event_id, .. } | PushOutcome::Rejected { event_id, .. } => *event_id,
        }
    }
}

/// The answer to a push: one outcome per event, in request order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    /// One per pushed event, same order.
    pub outcomes: Vec<PushOutcome>,
}

/// An event as the server stores it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerEvent {
    /// The server position: strictly increasing in the server's commit order; may have gaps.
    pub position: u64,
    /// The event's id.
    pub event_id: Uuid,
    /// The stream.
    pub stream: String,
    /// The version in the server's stream.
    pub version: u64,
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// JSON data, verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Box<RawValue>>,
    /// Binary data, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<String>,
    /// The MIME type of binary data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Metadata object, verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Box<RawValue>>,
    /// When the server stored it, ms since the Unix epoch.
    pub recorded_at: i64,
}

impl ServerEvent {
    /// The wire form of an event stored in the server's log.
    pub fn from_recorded(event: &RecordedEvent) -> ServerEvent {
        let data = WireData::from_event_data(&event.data);
        ServerEvent {
            position: event.position,
            event_id: event.event_id,
            stream: event.stream.clone(),
            version: event.version,
            event_type: event.event_type.clone(),
            data: data.data,
            data_base64: data.data_base64,
            content_type: data.content_type,
            metadata: event.metadata.as_deref().and_then(raw_json),
            recorded_at: event.recorded_at,
        }
    }

    /// The payload fields as one value.
    pub fn wire_data(&self) -> WireData {
        WireData {
            data: self.data.clone(),
            data_base64: self.data_base64.clone(),
            content_type: self.content_type.clone(),
        }
    }
}

/// `GET /v1/pull?after=<cursor>&limit=<n>`: the server's events after the cursor, in server order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PullResponse {
    /// At most `limit` events, in server position order.
    pub events: Vec<ServerEvent>,
    /// Opaque; send it back as `after` to continue. It covers every event returned.
    pub cursor: String,
    /// True when more events follow: pull again at once.
    pub more: bool,
}

#[cfg(test)]
mod tests {
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn expectations_have_a_stable_json_form() {
        let cases = [
            (WireExpected::Any, r#""any""#),
            (WireExpected::NoStream, r#""no_stream""#),
            (WireExpected::StreamExists, r#""stream_exists""#),
            (WireExpected::Exact(3), r#"{"exact":3}"#),
        ];
        for (expected, json) in cases {
            assert_eq!(serde_json::to_string(&expected).unwrap(), json);
            assert_eq!(serde_json::from_str::<WireExpected>(json).unwrap(), expected);
        }
    }

    #[test]
    fn json_data_travels_verbatim() {
        let text = r#"{"event_id":"00000000-0000-0000-0000-000000000001","stream":"a-1","type":"T","expected":"any","data":{"b":1,  "a":[2.50]}}"#;
        let event: WireEvent = serde_json::from_str(text).unwrap();
        assert_eq!(event.to_new_event(0).unwrap().data, EventData::Json(r#"{"b":1,  "a":[2.50]}"#.into()));
        assert!(serde_json::to_string(&event).unwrap().contains(r#""data":{"b":1,  "a":[2.50]}"#));
    }

    #[test]
    fn binary_data_round_trips_through_base64() {
        let data = EventData::Binary { content_type: "image/png".into(), bytes: vec![0, 1, 254, 255] };
        let wire = WireData::from_event_data(&data);
        assert_eq!(wire.data_base64.as_deref(), Some("AAH+/w=="));
        assert_eq!(wire.to_event_data(0).unwrap(), data);
    }

    #[test]
    fn malformed_payloads_are_invalid_arguments() {
        let both = WireData { data: raw_json("1"), data_base64: Some("AA==".into()), content_type: Some("x/y".into()) };
        let untyped = WireData { data: None, data_base64: Some("AA==".into()), content_type: None };
        let bad_base64 = WireData { data: None, data_base64: Some("A".into()), content_type: Some("x/y".into()) };
        let typed_json = WireData { data: raw_json("1"), data_base64: None, content_type: Some("x/y".into()) };
        for wire in [both, untyped, bad_base64, typed_json] {
            assert!(wire.to_event_data(2).unwrap_err().argument.starts_with("events[2]."), "{wire:?}");
        }
    }

    #[test]
    fn requests_refuse_unknown_fields_and_responses_ignore_them() {
        let request = r#"{"replica_id":"00000000-0000-0000-0000-000000000001","events":[],"extra":1}"#;
        assert!(serde_json::from_str::<PushRequest>(request).is_err());
        let response = r#"{"events":[],"cursor":"0","more":false,"future":true}"#;
        assert!(serde_json::from_str::<PullResponse>(response).is_ok());
    }
}
