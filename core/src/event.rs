//! Events as written ([`NewEvent`]) and as stored ([`RecordedEvent`]), and the naming rules they obey.

use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::InvalidArgument;

/// The longest stream id, in UTF-8 bytes.
pub const MAX_STREAM_ID_BYTES: usize = 256;
/// The longest event type, in UTF-8 bytes.
pub const MAX_EVENT_TYPE_BYTES: usize = 256;
/// The longest content type of binary data, in UTF-8 bytes.
pub const MAX_CONTENT_TYPE_BYTES: usize = 256;
/// The content type of JSON event data, the default.
pub const JSON_CONTENT_TYPE: &str = "application/json";
/// The deepest nesting of arrays and objects allowed in JSON data and metadata: `[[1]]` is 2 levels deep. Replicas
/// whose JSON parser limits depth (most do: serde_json at 128, many at 64 to 512) can then always read a page.
pub const MAX_JSON_DEPTH: usize = 64;

/// An event's payload: JSON text (validated on append) or raw bytes with a content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventData {
    /// UTF-8 JSON text; any JSON value.
    Json(String),
    /// Opaque bytes, with the MIME type the application gave them.
    Binary {
        /// The MIME type, e.g. `application/octet-stream`. Must not be `application/json`.
        content_type: String,
        /// The bytes.
        bytes: Vec<u8>,
    },
}

impl EventData {
    /// The payload's bytes (JSON text as UTF-8).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            EventData::Json(text) => text.as_bytes(),
            EventData::Binary { bytes, .. } => bytes,
        }
    }

    /// The payload's MIME type.
    pub fn content_type(&self) -> &str {
        match self {
            EventData::Json(_) => JSON_CONTENT_TYPE,
            EventData::Binary { content_type, .. } => content_type,
        }
    }

    /// Whether two payloads are the same for idempotency: JSON data compares by value ([`same_json`]: key order,
    /// whitespace and escapes do not matter), binary data by content type (exact text) and bytes.
    pub fn same_value(&self, other: &EventData) -> bool {
        match (self, other) {
            (EventData::Json(a), EventData::Json(b)) => same_json(a, b),
            (a, b) => a == b,
        }
    }
}

/// Whether two JSON texts hold the same value: objects compare as maps (key order does not matter; a repeated key
/// counts with its last value, as most parsers read it), numbers by numeric value (`1`, `1.0` and `1e0` are equal),
/// strings after unescaping. Text that does not parse is only equal to the identical text.
pub fn same_json(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (serde_json::from_str::<serde_json::Value>(a), serde_json::from_str::<serde_json::Value>(b)) {
        (Ok(a), Ok(b)) => same_json_value(&a, &b),
        _ => false,
    }
}

/// Whether two metadata texts are the same for idempotency: absent metadata equals an empty object, and present
/// metadata compares by value ([`same_json`]).
pub fn same_metadata(a: Option<&str>, b: Option<&str>) -> bool {
    same_json(a.unwrap_or("{}"), b.unwrap_or("{}"))
}

fn same_json_value(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64(), a.as_u64(), b.as_u64()) {
            (Some(a), Some(b), _, _) => a == b,
            (_, _, Some(a), Some(b)) => a == b,
            _ => a.as_f64() == b.as_f64(),
        },
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_json_value(a, b)),
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(key, a)| b.get(key).is_some_and(|b| same_json_value(a, b)))
        }
        (a, b) => a == b,
    }
}

/// True when `text` nests arrays and objects deeper than `max` levels. A byte scan, no parse: brackets inside
/// strings do not count. Meant for text known (or about to be checked) to be JSON.
pub(crate) fn json_deeper_than(text: &str, max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in text.as_bytes() {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// An event to append.
///
/// Natively, [`NewEvent::json`] and friends give every event a fresh UUID v7 when it is built, so appending the same
/// `NewEvent` values again (a retry after a timeout) is idempotent. On `wasm32-unknown-unknown` the id is left empty
/// and the store assigns one at append time; bindings there generate ids themselves when they need idempotent retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The event's id. `None`: the store generates a UUID v7 when appending.
    pub event_id: Option<Uuid>,
    /// The event type, e.g. `"OrderPlaced"`. Non-empty, at most 256 bytes, no control characters.
    pub event_type: String,
    /// The payload.
    pub data: EventData,
    /// Optional metadata: JSON text of an object. `correlationId` and `causationId` are the conventional keys.
    pub metadata: Option<String>,
}

impl NewEvent {
    /// An event whose data is `value` serialised as JSON.
    ///
    /// Serialisation failures (a map with non-string keys, say) are reported as `INVALID_ARGUMENT` by the append.
    pub fn json(event_type: impl Into<String>, value: &impl Serialize) -> Self {
        let data = serde_json::to_string(value).unwrap_or_default();
        NewEvent::from_json_text(event_type, data)
    }

    /// An event whose data is the given JSON text, validated when appended.
    pub fn from_json_text(event_type: impl Into<String>, json: impl Into<String>) -> Self {
        NewEvent {
            event_id: generated_id(),
            event_type: event_type.into(),
            data: EventData::Json(json.into()),
            metadata: None,
        }
    }

    /// An event whose data is raw bytes of the given content type.
    pub fn binary(event_type: impl Into<String>, content_type: impl Into<String>, bytes: Vec<u8>) -> Self {
        NewEvent {
            event_id: generated_id(),
            event_type: event_type.into(),
            data: EventData::Binary { content_type: content_type.into(), bytes },
            metadata: None,
        }
    }

    /// Sets the event id (for idempotent retries with ids the application chose).
    pub fn with_id(mut self, event_id: Uuid) -> Self {
        self.event_id = Some(event_id);
        self
    }

    /// Sets the metadata to `value` serialised as JSON; it must be an object.
    pub fn with_metadata(mut self, value: &impl Serialize) -> Self {
        self.metadata = Some(serde_json::to_string(value).unwrap_or_default());
        self
    }

    /// Sets the metadata to JSON text, validated (it must be an object) when appended.
    pub fn with_metadata_text(mut self, json: impl Into<String>) -> Self {
        self.metadata = Some(json.into());
        self
    }

    /// The size that counts against [`crate::StoreOptions::max_event_size`] (and the sync server's event limit):
    /// type + data + metadata bytes, and the content type of binary data.
    pub fn size(&self) -> usize {
        let content_type = match &self.data {
            EventData::Json(_) => 0,
            EventData::Binary { content_type, .. } => content_type.len(),
        };
        self.event_type.len()
            + content_type
            + self.data.as_bytes().len()
            + self.metadata.as_ref().map_or(0, String::len)
    }

    /// Checks everything that can be checked without the database. `index` names the event in errors.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) fn validate(&self, index: usize) -> Result<(), InvalidArgument> {
        self.validate_names(index)?;
        self.validate_depth(index)?;
        if let EventData::Json(text) = &self.data
            && serde_json::from_str::<serde::de::IgnoredAny>(text).is_err()
        {
            return Err(InvalidArgument::new(format!("events[{index}].data"), "is not valid JSON"));
        }
        if let Some(metadata) = &self.metadata {
            validate_json_object(metadata, &format!("events[{index}].metadata"))?;
        }
        Ok(())
    }

    /// The checks of [`NewEvent::validate`] that parse no JSON: the event type and the content type of binary data.
    /// For callers whose JSON is already known to be well formed (the sync server's `RawValue`s).
    pub(crate) fn validate_names(&self, index: usize) -> Result<(), InvalidArgument> {
        validate_event_type(&self.event_type, &format!("events[{index}].type"))?;
        if let EventData::Binary { content_type, .. } = &self.data {
            validate_content_type(content_type, &format!("events[{index}].content_type"))?;
        }
        Ok(())
    }

    /// Checks that JSON data and metadata nest at most [`MAX_JSON_DEPTH`] levels.
    pub(crate) fn validate_depth(&self, index: usize) -> Result<(), InvalidArgument> {
        let too_deep = |argument: &str| {
            InvalidArgument::new(
                format!("events[{index}].{argument}"),
                format!("nests deeper than {MAX_JSON_DEPTH} levels"),
            )
        };
        if let EventData::Json(text) = &self.data
            && json_deeper_than(text, MAX_JSON_DEPTH)
        {
            return Err(too_deep("data"));
        }
        if self.metadata.as_deref().is_some_and(|text| json_deeper_than(text, MAX_JSON_DEPTH)) {
            return Err(too_deep("metadata"));
        }
        Ok(())
    }
}

#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
fn generated_id() -> Option<Uuid> {
    Some(Uuid::now_v7())
}

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
fn generated_id() -> Option<Uuid> {
    None
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Global position: 1-based, strictly increasing in commit order, never reused; may have gaps.
    pub position: u64,
    /// The event's id.
    pub event_id: Uuid,
    /// The stream it belongs to.
    pub stream: String,
    /// Its version in the stream: 1 for the first event, dense.
    pub version: u64,
    /// The event type.
    pub event_type: String,
    /// The payload.
    pub data: EventData,
    /// Metadata JSON object text, if any.
    pub metadata: Option<String>,
    /// When the store recorded it: milliseconds since the Unix epoch.
    pub recorded_at: i64,
}

impl RecordedEvent {
    /// Deserialises JSON data into `T`. Fails for binary data or a shape mismatch.
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        match &self.data {
            EventData::Json(text) => serde_json::from_str(text),
            EventData::Binary { .. } => {
                Err(<serde_json::Error as serde::de::Error>::custom("event data is binary, not JSON"))
            }
        }
    }

    /// The metadata as a JSON value (`Null` when absent).
    pub fn metadata_value(&self) -> serde_json::Value {
        self.metadata.as_deref().and_then(|text| serde_json::from_str(text).ok()).unwrap_or(serde_json::Value::Null)
    }

    /// The category: the part of the stream id before the first `-` (the whole id when it has none).
    pub fn category(&self) -> &str {
        category_of(&self.stream)
    }
}

/// The category of a stream id: the part before the first `-`, or the whole id when it has none.
pub fn category_of(stream: &str) -> &str {
    stream.split_once('-').map_or(stream, |(category, _)| category)
}

/// Checks a stream id: non-empty, at most [`MAX_STREAM_ID_BYTES`], no control characters.
/// `$`-prefixed names are reserved; [`validate_writable_stream_id`] rejects them for appends.
pub fn validate_stream_id(stream: &str) -> Result<(), InvalidArgument> {
    validate_name(stream, "stream", MAX_STREAM_ID_BYTES)
}

/// [`validate_stream_id`], and not reserved (`$`-prefixed).
pub fn validate_writable_stream_id(stream: &str) -> Result<(), InvalidArgument> {
    validate_stream_id(stream)?;
    if stream.starts_with('$') {
        return Err(InvalidArgument::new("stream", "names starting with '$' are reserved"));
    }
    Ok(())
}

pub(crate) fn validate_event_type(event_type: &str, argument: &str) -> Result<(), InvalidArgument> {
    validate_name(event_type, argument, MAX_EVENT_TYPE_BYTES)
}

/// Checks the content type of binary data: not empty, not `application/json` (media types compare as HTTP does:
/// case-insensitively and without parameters, so `Application/JSON; charset=utf-8` is JSON too), at most
/// [`MAX_CONTENT_TYPE_BYTES`], no control characters.
pub(crate) fn validate_content_type(content_type: &str, argument: &str) -> Result<(), InvalidArgument> {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if essence.is_empty() || essence.eq_ignore_ascii_case(JSON_CONTENT_TYPE) {
        return Err(InvalidArgument::new(argument, "binary data needs a content type other than application/json"));
    }
    validate_name(content_type, argument, MAX_CONTENT_TYPE_BYTES)
}

pub(crate) fn validate_name(name: &str, argument: &str, max_bytes: usize) -> Result<(), InvalidArgument> {
    if name.is_empty() {
        return Err(InvalidArgument::new(argument, "must not be empty"));
    }
    if name.len() > max_bytes {
        return Err(InvalidArgument::new(argument, format!("is {} bytes, longer than {max_bytes}", name.len())));
    }
    if name.chars().any(char::is_control) {
        return Err(InvalidArgument::new(argument, "must not contain control characters"));
    }
    Ok(())
}

#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(crate) fn validate_json_object(text: &str, argument: &str) -> Result<(), InvalidArgument> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(_) => Err(InvalidArgument::new(argument, "must be a JSON object")),
        Err(_) => Err(InvalidArgument::new(argument, "is not valid JSON")),
    }
}

#[cfg(test)]
mod tests {
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn category_is_the_part_before_the_first_dash() {
        assert_eq!(category_of("order-42"), "order");
        assert_eq!(category_of("order-42-x"), "order");
        assert_eq!(category_of("settings"), "settings");
        assert_eq!(category_of("-x"), "");
    }

    #[test]
    fn stream_ids_are_checked() {
        assert!(validate_writable_stream_id("order-1").is_ok());
        assert!(validate_writable_stream_id(&"é".repeat(128)).is_ok());
        for bad in ["", "a\nb", "tab\there", "$system"] {
            assert!(validate_writable_stream_id(bad).is_err(), "{bad:?}");
        }
        assert!(validate_writable_stream_id(&"x".repeat(257)).is_err());
        assert!(validate_stream_id("$system").is_ok());
    }

    #[test]
    fn events_are_validated() {
        assert!(NewEvent::json("Placed", &serde_json::json!({"a": 1})).validate(0).is_ok());
        let empty_type = NewEvent::json("", &1);
        assert_eq!(empty_type.validate(3).unwrap_err().argument, "events[3].type");
        let bad_json = NewEvent::from_json_text("T", "{not json");
        assert_eq!(bad_json.validate(0).unwrap_err().argument, "events[0].data");
        let array_metadata = NewEvent::json("T", &1).with_metadata_text("[1]");
        assert_eq!(array_metadata.validate(0).unwrap_err().argument, "events[0].metadata");
        let binary_as_json = NewEvent::binary("T", JSON_CONTENT_TYPE, vec![1]);
        assert!(binary_as_json.validate(0).is_err());
        assert!(NewEvent::binary("T", "image/png", vec![0, 159]).validate(0).is_ok());
        for bad in [String::new(), "a\0b".into(), "x\ny".into(), "x".repeat(MAX_CONTENT_TYPE_BYTES + 1)] {
            let event = NewEvent::binary("T", bad.clone(), vec![1]);
            assert_eq!(event.validate(1).unwrap_err().argument, "events[1].content_type", "{bad:?}");
        }
        assert!(NewEvent::binary("T", "x".repeat(MAX_CONTENT_TYPE_BYTES), vec![1]).validate(0).is_ok());
    }

    #[test]
    fn json_content_types_are_refused_whatever_their_case_or_parameters() {
        for json in [
            "application/json",
            "APPLICATION/JSON",
            "Application/Json",
            "application/json; charset=utf-8",
            " application/json ;q=1",
            "; charset=utf-8",
        ] {
            let event = NewEvent::binary("T", json, vec![1]);
            assert_eq!(event.validate(0).unwrap_err().argument, "events[0].content_type", "{json:?}");
        }
        for other in
            ["application/jsonl", "application/ld+json", "text/plain; charset=utf-8", "application/octet-stream"]
        {
            assert!(NewEvent::binary("T", other, vec![1]).validate(0).is_ok(), "{other:?}");
        }
    }

    #[test]
    fn json_nesting_is_limited_to_max_json_depth() {
        let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        assert!(NewEvent::from_json_text("T", nested(MAX_JSON_DEPTH)).validate(0).is_ok());
        let deep = NewEvent::from_json_text("T", nested(MAX_JSON_DEPTH + 1)).validate(0).unwrap_err();
        assert_eq!(deep.argument, "events[0].data");
        assert!(deep.reason.contains("64"), "{}", deep.reason);
        assert!(NewEvent::from_json_text("T", nested(100_000)).validate(0).is_err());
        // Brackets inside strings, escaped quotes included, do not count.
        let in_string = format!(r#"{{"a": "{}\"{}"}}"#, "[".repeat(100), "{".repeat(100));
        assert!(NewEvent::from_json_text("T", in_string).validate(0).is_ok());
        let mut metadata = format!(r#"{{"a":{}}}"#, nested(MAX_JSON_DEPTH - 1));
        assert!(NewEvent::json("T", &1).with_metadata_text(metadata.clone()).validate(0).is_ok());
        metadata = format!(r#"{{"a":{}}}"#, nested(MAX_JSON_DEPTH));
        let error = NewEvent::json("T", &1).with_metadata_text(metadata).validate(0).unwrap_err();
        assert_eq!(error.argument, "events[0].metadata");
    }

    #[test]
    fn json_compares_by_value() {
        assert!(same_json(
            r#"{"a":1,"b":[true,null,"x"]}"#,
            "{ \"b\" : [ true , null , \"\\u0078\" ],\n \"a\" : 1.0 }"
        ));
        assert!(same_json("100", "1e2"));
        assert!(same_json(r#"{"a":1,"a":2}"#, r#"{"a":2}"#));
        for (a, b) in
            [("1", "2"), (r#"{"a":1}"#, r#"{"a":1,"b":2}"#), ("[1,2]", "[2,1]"), ("null", "{}"), ("\"1\"", "1")]
        {
            assert!(!same_json(a, b), "{a} {b}");
        }
        assert!(!same_json("{bad", "{bad "));
        assert!(same_metadata(None, Some("{}")) && same_metadata(Some(" { } "), None));
        assert!(!same_metadata(None, Some(r#"{"a":1}"#)));
        let json = |text: &str| EventData::Json(text.into());
        assert!(json(r#"{"a":1,"b":2}"#).same_value(&json(r#"{"b":2,"a":1}"#)));
        let png = EventData::Binary { content_type: "image/png".into(), bytes: vec![1] };
        assert!(png.same_value(&png.clone()));
        assert!(!png.same_value(&EventData::Binary { content_type: "image/gif".into(), bytes: vec![1] }));
    }

    #[test]
    fn the_content_type_of_binary_data_counts_in_the_size() {
        assert_eq!(NewEvent::binary("T", "image/png", vec![0; 10]).size(), 1 + 9 + 10);
        assert_eq!(NewEvent::json("T", &1).size(), 2);
    }
}
