//! Conversions between JS values and core types. Every malformed value becomes `INVALID_ARGUMENT` naming the
//! argument, before the core is called, so bad input never reaches the store.

use std::time::Duration;

use eventlite::sync::base64;
use eventlite::{
    Direction, EventData, EventFilter, ExpectedVersion, NewEvent, ReadAllOptions, ReadStreamOptions, RecordedEvent,
    StartFrom, StoreOptions, SubscriptionOptions, Synchronous, Uuid,
};
use js_sys::{Object, Reflect};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::JsError;

/// The largest integer a JS number holds exactly: versions and positions above it are refused.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A version or position as a JS number (exact up to [`MAX_SAFE_INTEGER`]).
pub fn u64_to_js(value: u64) -> JsValue {
    JsValue::from_f64(value as f64)
}

/// A non-negative integer from a JS number or bigint, at most [`MAX_SAFE_INTEGER`].
pub fn to_u64(value: &JsValue, argument: &str) -> Result<u64, JsError> {
    let out_of_range = || JsError::invalid(argument, "must be an integer from 0 to 2^53 - 1");
    if let Some(number) = value.as_f64() {
        if number.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER as f64).contains(&number) {
            return Ok(number as u64);
        }
        return Err(out_of_range());
    }
    if value.is_bigint() {
        let text: String = value.unchecked_ref::<js_sys::BigInt>().to_string(10).map_err(|_| out_of_range())?.into();
        return text.parse::<u64>().ok().filter(|n| *n <= MAX_SAFE_INTEGER).ok_or_else(out_of_range);
    }
    Err(JsError::invalid(argument, "must be a number or a bigint"))
}

/// A count (`maxCount`, `batchSize`) from a JS number or bigint: at least 1.
fn to_count(value: &JsValue, argument: &str) -> Result<usize, JsError> {
    let count = to_u64(value, argument)?;
    if count == 0 {
        return Err(JsError::invalid(argument, "must be at least 1"));
    }
    Ok(usize::try_from(count).unwrap_or(usize::MAX))
}

/// A string argument.
pub fn to_string(value: &JsValue, argument: &str) -> Result<String, JsError> {
    value.as_string().ok_or_else(|| JsError::invalid(argument, "must be a string"))
}

/// An optional options object: `undefined` and `null` mean "all defaults".
fn options_object(value: &JsValue, argument: &str) -> Result<Option<Object>, JsError> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    if !value.is_object() || js_sys::Array::is_array(value) {
        return Err(JsError::invalid(argument, "must be an object"));
    }
    Ok(Some(value.clone().unchecked_into()))
}

/// A field of an options object; `undefined` when absent (or when there is no object).
fn field(object: &Option<Object>, key: &str) -> JsValue {
    match object {
        Some(object) => Reflect::get(object, &key.into()).unwrap_or(JsValue::UNDEFINED),
        None => JsValue::UNDEFINED,
    }
}

fn present(value: &JsValue) -> bool {
    !value.is_undefined() && !value.is_null()
}

/// An expectation: `"any"`, `"no_stream"`, `"stream_exists"`, or the exact version as a number or bigint.
/// `undefined` means `any`.
pub fn to_expected(value: &JsValue) -> Result<ExpectedVersion, JsError> {
    const ARGUMENT: &str = "expectedVersion";
    if !present(value) {
        return Ok(ExpectedVersion::Any);
    }
    if let Some(text) = value.as_string() {
        return match text.as_str() {
            "any" => Ok(ExpectedVersion::Any),
            "no_stream" => Ok(ExpectedVersion::NoStream),
            "stream_exists" => Ok(ExpectedVersion::StreamExists),
            _ => Err(JsError::invalid(ARGUMENT, "must be ANY, NO_STREAM, STREAM_EXISTS or a version")),
        };
    }
    Ok(ExpectedVersion::Exact(to_u64(value, ARGUMENT)?))
}

/// Store options: `{ synchronous?: 'normal' | 'full', maxEventSize?: number, busyTimeoutMs?: number }`.
pub fn to_store_options(value: &JsValue) -> Result<StoreOptions, JsError> {
    let object = options_object(value, "options")?;
    let mut options = StoreOptions::default();
    let synchronous = field(&object, "synchronous");
    if present(&synchronous) {
        options.synchronous = match to_string(&synchronous, "options.synchronous")?.as_str() {
            "normal" => Synchronous::Normal,
            "full" => Synchronous::Full,
            _ => return Err(JsError::invalid("options.synchronous", "must be 'normal' or 'full'")),
        };
    }
    let max_event_size = field(&object, "maxEventSize");
    if present(&max_event_size) {
        options.max_event_size = to_count(&max_event_size, "options.maxEventSize")?;
    }
    let busy_timeout = field(&object, "busyTimeoutMs");
    if present(&busy_timeout) {
        options.busy_timeout = Duration::from_millis(to_u64(&busy_timeout, "options.busyTimeoutMs")?);
    }
    Ok(options)
}

fn to_direction(value: &JsValue, argument: &str) -> Result<Direction, JsError> {
    if !present(value) {
        return Ok(Direction::Forwards);
    }
    match to_string(value, argument)?.as_str() {
        "forwards" => Ok(Direction::Forwards),
        "backwards" => Ok(Direction::Backwards),
        _ => Err(JsError::invalid(argument, "must be 'forwards' or 'backwards'")),
    }
}

/// `{ fromVersion?, direction?, maxCount? }`.
pub fn to_read_stream_options(value: &JsValue) -> Result<ReadStreamOptions, JsError> {
    let object = options_object(value, "options")?;
    let mut options = ReadStreamOptions::forwards();
    options.direction = to_direction(&field(&object, "direction"), "options.direction")?;
    let from = field(&object, "fromVersion");
    if present(&from) {
        options.from_version = Some(to_u64(&from, "options.fromVersion")?);
    }
    let max_count = field(&object, "maxCount");
    if present(&max_count) {
        options.max_count = to_count(&max_count, "options.maxCount")?;
    }
    Ok(options)
}

fn to_string_list(value: &JsValue, argument: &str) -> Result<Vec<String>, JsError> {
    if !present(value) {
        return Ok(Vec::new());
    }
    if !js_sys::Array::is_array(value) {
        return Err(JsError::invalid(argument, "must be an array of strings"));
    }
    let array: &js_sys::Array = value.unchecked_ref();
    array.iter().enumerate().map(|(index, item)| to_string(&item, &format!("{argument}[{index}]"))).collect()
}

/// `{ streamPrefix?, categories?, eventTypes? }`.
fn to_filter(value: &JsValue, argument: &str) -> Result<EventFilter, JsError> {
    let object = options_object(value, argument)?;
    let mut filter = EventFilter::all();
    let prefix = field(&object, "streamPrefix");
    if present(&prefix) {
        filter.stream_prefix = Some(to_string(&prefix, &format!("{argument}.streamPrefix"))?);
    }
    filter.categories = to_string_list(&field(&object, "categories"), &format!("{argument}.categories"))?;
    filter.event_types = to_string_list(&field(&object, "eventTypes"), &format!("{argument}.eventTypes"))?;
    Ok(filter)
}

/// `{ fromPosition?, direction?, maxCount?, filter? }`; `fromPosition` is exclusive.
pub fn to_read_all_options(value: &JsValue) -> Result<ReadAllOptions, JsError> {
    let object = options_object(value, "options")?;
    let mut options = ReadAllOptions::forwards();
    options.direction = to_direction(&field(&object, "direction"), "options.direction")?;
    let from = field(&object, "fromPosition");
    if present(&from) {
        options.from_position = Some(to_u64(&from, "options.fromPosition")?);
    }
    let max_count = field(&object, "maxCount");
    if present(&max_count) {
        options.max_count = to_count(&max_count, "options.maxCount")?;
    }
    options.filter = to_filter(&field(&object, "filter"), "options.filter")?;
    Ok(options)
}

/// `{ from?: 'start' | 'end' | number, filter?, name?, batchSize? }`; a numeric `from` is exclusive.
pub fn to_subscription_options(value: &JsValue) -> Result<SubscriptionOptions, JsError> {
    let object = options_object(value, "options")?;
    let mut options = SubscriptionOptions::default();
    let from = field(&object, "from");
    if present(&from) {
        options.from = match from.as_string().as_deref() {
            Some("start") => StartFrom::Start,
            Some("end") => StartFrom::End,
            Some(_) => return Err(JsError::invalid("options.from", "must be 'start', 'end' or a number")),
            None => StartFrom::After(to_u64(&from, "options.from")?),
        };
    }
    let filter = field(&object, "filter");
    if present(&filter) {
        options.filter = to_filter(&filter, "options.filter")?;
    }
    let name = field(&object, "name");
    if present(&name) {
        options.name = Some(to_string(&name, "options.name")?);
    }
    let batch_size = field(&object, "batchSize");
    if present(&batch_size) {
        options.batch_size = to_count(&batch_size, "options.batchSize")?;
    }
    Ok(options)
}

/// One event of an append batch, as the JS package encodes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireNewEvent<'a> {
    event_id: Option<String>,
    #[serde(rename = "type")]
    event_type: String,
    /// Present (even `null`) or absent: JSON `null` is valid event data.
    #[serde(borrow, default, deserialize_with = "present_raw")]
    data: Option<&'a RawValue>,
    content_type: Option<String>,
    data_base64: Option<String>,
    #[serde(borrow)]
    metadata: Option<&'a RawValue>,
}

fn present_raw<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(deserializer).map(Some)
}

/// Decodes a batch: a JSON array of `{ eventId?, type, data | (contentType, dataBase64), metadata? }`.
pub fn to_new_events(batch: &JsValue) -> Result<Vec<NewEvent>, JsError> {
    let text = to_string(batch, "events")?;
    let wire: Vec<WireNewEvent<'_>> =
        serde_json::from_str(&text).map_err(|error| JsError::invalid("events", error.to_string()))?;
    wire.into_iter()
        .enumerate()
        .map(|(index, event)| {
            let mut new_event = match (event.data, event.content_type, event.data_base64) {
                (Some(data), None, None) => NewEvent::from_json_text(event.event_type, data.get()),
                (None, Some(content_type), Some(encoded)) => {
                    let bytes = base64::decode(&encoded)
                        .ok_or_else(|| JsError::invalid(format!("events[{index}].data"), "is not valid base64"))?;
                    NewEvent::binary(event.event_type, content_type, bytes)
                }
                _ => {
                    return Err(JsError::invalid(
                        format!("events[{index}].data"),
                        "must be JSON data, or bytes with a content type",
                    ));
                }
            };
            if let Some(id) = event.event_id {
                let id = Uuid::parse_str(&id)
                    .map_err(|_| JsError::invalid(format!("events[{index}].eventId"), "must be a UUID"))?;
                new_event = new_event.with_id(id);
            }
            if let Some(metadata) = event.metadata {
                new_event = new_event.with_metadata_text(metadata.get());
            }
            Ok(new_event)
        })
        .collect()
}

/// One stored event, as the JS package decodes it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireEvent<'a> {
    position: u64,
    event_id: String,
    stream: &'a str,
    version: u64,
    #[serde(rename = "type")]
    event_type: &'a str,
    content_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_base64: Option<String>,
    metadata: Option<&'a RawValue>,
    recorded_at: i64,
}

pub(crate) fn stored_json<'a>(text: &'a str, what: &str) -> Result<&'a RawValue, JsError> {
    serde_json::from_str(text).map_err(|error| {
        JsError::new(eventlite::ErrorCode::Corrupt.as_str(), format!("stored {what} is not JSON: {error}"))
    })
}

/// Encodes a page of events as one JSON array (event data is embedded as stored, not re-encoded).
pub fn events_to_json(events: &[RecordedEvent]) -> Result<String, JsError> {
    let wire = events
        .iter()
        .map(|event| {
            let (data, data_base64) = match &event.data {
                EventData::Json(text) => (Some(stored_json(text, "event data")?), None),
                EventData::Binary { bytes, .. } => (None, Some(base64::encode(bytes))),
            };
            let metadata = event.metadata.as_deref().map(|text| stored_json(text, "event metadata")).transpose()?;
            Ok(WireEvent {
                position: event.position,
                event_id: event.event_id.hyphenated().to_string(),
                stream: &event.stream,
                version: event.version,
                event_type: &event.event_type,
                content_type: event.data.content_type(),
                data,
                data_base64,
                metadata,
                recorded_at: event.recorded_at,
            })
        })
        .collect::<Result<Vec<_>, JsError>>()?;
    serde_json::to_string(&wire).map_err(|error| JsError::new("STORAGE_ERROR", error.to_string()))
}

/// A snapshot as JSON: `{ stream, version, schemaTag, state, recordedAt }`.
pub fn snapshot_to_json(snapshot: &eventlite::Snapshot) -> Result<String, JsError> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct WireSnapshot<'a> {
        stream: &'a str,
        version: u64,
        schema_tag: &'a str,
        state: &'a serde_json::Value,
        recorded_at: i64,
    }
    serde_json::to_string(&WireSnapshot {
        stream: &snapshot.stream,
        version: snapshot.version,
        schema_tag: &snapshot.schema_tag,
        state: &snapshot.state,
        recorded_at: snapshot.recorded_at,
    })
    .map_err(|error| JsError::new("STORAGE_ERROR", error.to_string()))
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn base64_round_trips_every_length() {
        for length in 0..10u8 {
            let bytes: Vec<u8> = (0..length).map(|i| i.wrapping_mul(97).wrapping_add(200)).collect();
            assert_eq!(base64::decode(&base64::encode(&bytes)).as_deref(), Some(&bytes[..]));
        }
        assert_eq!(base64::encode(b"Man"), "TWFu");
        assert_eq!(base64::encode(&[0, 1, 255]), "AAH/");
        assert_eq!(base64::encode(b"M"), "TQ==");
        for bad in ["TQ=", "T===", "TQ==TQ==", "T!==", "éé=="] {
            assert_eq!(base64::decode(bad), None, "{bad}");
        }
    }
}
