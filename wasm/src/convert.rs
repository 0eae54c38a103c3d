//! Conversions between JS values and core types. Every malformed value becomes `INVALID_ARGUMENT` naming the
//! argument, before the core is called, so bad input never reaches the store.
//!
//! Option objects are serde types read with serde-wasm-bindgen, with `deny_unknown_fields`: an unknown field is
//! refused, named by its path (`options.filter.category`). One detail makes that work: serde-wasm-bindgen reads a
//! struct by looking up its declared fields only, so every options struct is read through [`Object`], which visits
//! the object's own entries instead (and refuses an array, which serde would take as the fields in order), and
//! records which field failed.

use std::fmt;
use std::time::Duration;

use eventlite::sync::{PushBudget, base64};
use eventlite::{
    Direction, EventData, EventFilter, ExpectedVersion, NewEvent, ReadAllOptions, ReadStreamOptions, RecordedEvent,
    StartFrom, StoreOptions, SubscriptionOptions, Synchronous, Uuid,
};
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, Visitor};
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

/// A string argument.
pub fn to_string(value: &JsValue, argument: &str) -> Result<String, JsError> {
    value.as_string().ok_or_else(|| JsError::invalid(argument, "must be a string"))
}

/// An expectation: `"any"`, `"no_stream"`, `"stream_exists"`, or the exact version as a number or bigint.
/// `undefined` means `any`.
pub fn to_expected(value: &JsValue) -> Result<ExpectedVersion, JsError> {
    const ARGUMENT: &str = "expectedVersion";
    if value.is_undefined() || value.is_null() {
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

/// Reads the options object `value` (`undefined` and `null`: all defaults) as `T`. Errors name the field by its
/// path under `argument`: `options.filter.eventTypes[0]`.
pub fn options<T: DeserializeOwned + Default>(value: &JsValue, argument: &str) -> Result<T, JsError> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    FIELD_PATH.with_borrow_mut(Vec::clear);
    Object::<T>::deserialize(serde_wasm_bindgen::Deserializer::from(value.clone()))
        .map(|Object(options)| options)
        .map_err(|error| option_error(argument, error))
}

/// `INVALID_ARGUMENT` for the field [`FIELD_PATH`] names under `argument` (not generic: one copy for every `T`).
fn option_error(argument: &str, error: serde_wasm_bindgen::Error) -> JsError {
    // Recorded innermost first, as the error came up through the fields.
    let segments = FIELD_PATH.with_borrow_mut(std::mem::take);
    let mut argument = argument.to_owned();
    for segment in segments.iter().rev() {
        argument.push_str(segment);
    }
    // Each `Error::custom` on the way up prefixed the JS error's name.
    let message = error.to_string();
    let mut message = message.as_str();
    while let Some(rest) = message.strip_prefix("Error: ") {
        message = rest;
    }
    // serde's wording for `deny_unknown_fields`; the path already ends with the field's name.
    let reason = if message.starts_with("unknown field") { "is not a known option" } else { message };
    JsError::invalid(argument, reason)
}

thread_local! {
    /// The path of the field an option error came from (`.filter`, `.eventTypes`, `[0]`), innermost first: recorded
    /// by [`Entries`] and [`Strings`] as the error passes, read by [`options`]. (The wasm module has one thread.)
    static FIELD_PATH: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn record(segment: String) {
    FIELD_PATH.with_borrow_mut(|path| path.push(segment));
}

/// `T` read from a plain JS object's own entries (see the module docs); anything else is refused.
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value: JsValue = serde_wasm_bindgen::preserve::deserialize(deserializer)?;
        let entries = Entries::of(value).map_err(de::Error::custom)?;
        T::deserialize(de::value::MapAccessDeserializer::new(entries)).map(Object).map_err(de::Error::custom)
    }
}

/// An object's `[key, value]` entries as a serde map, recording the key of a field that fails.
struct Entries {
    entries: std::vec::IntoIter<JsValue>,
    /// The key and value of the entry whose key was just read.
    value: Option<(String, JsValue)>,
}

impl Entries {
    /// The entries of a plain object; anything else is refused.
    fn of(value: JsValue) -> Result<Entries, &'static str> {
        if !value.is_object() || js_sys::Array::is_array(&value) {
            return Err("must be an object");
        }
        let entries = js_sys::Object::entries(value.unchecked_ref()).iter().collect::<Vec<_>>().into_iter();
        Ok(Entries { entries, value: None })
    }

    /// Moves to the next entry; its key.
    fn advance(&mut self) -> Option<String> {
        let entry: js_sys::Array = self.entries.next()?.unchecked_into();
        let key = entry.get(0).as_string().unwrap_or_default();
        self.value = Some((key.clone(), entry.get(1)));
        Some(key)
    }

    /// The current entry's value, and where it came from should it fail.
    fn take_value(&mut self) -> (String, JsValue) {
        self.value.take().expect("serde reads a value after its key")
    }
}

impl<'de> MapAccess<'de> for Entries {
    type Error = serde_wasm_bindgen::Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Self::Error> {
        let Some(key) = self.advance() else { return Ok(None) };
        seed.deserialize(de::value::StrDeserializer::<Self::Error>::new(&key))
            .map(Some)
            .inspect_err(|_| record(format!(".{key}")))
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Self::Error> {
        let (key, value) = self.take_value();
        seed.deserialize(serde_wasm_bindgen::Deserializer::from(value)).inspect_err(|_| record(format!(".{key}")))
    }
}

/// `value` if a JS number holds it exactly.
fn safe<E: de::Error>(value: u64, expected: &dyn de::Expected) -> Result<u64, E> {
    if value > MAX_SAFE_INTEGER {
        return Err(E::invalid_value(de::Unexpected::Unsigned(value), expected));
    }
    Ok(value)
}

/// A version or position: a number or bigint from 0 to 2^53 - 1.
#[derive(Clone, Copy)]
pub struct Position(pub u64);

impl<'de> Deserialize<'de> for Position {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PositionVisitor;
        impl Visitor<'_> for PositionVisitor {
            type Value = Position;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("an integer from 0 to 2^53 - 1")
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Position, E> {
                safe(value, &self).map(Position)
            }
        }
        deserializer.deserialize_u64(PositionVisitor)
    }
}

/// A count (`maxCount`, `batchSize`, a limit): a position of at least 1.
#[derive(Clone, Copy)]
pub struct Count(pub usize);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Position::deserialize(deserializer)? {
            Position(0) => Err(de::Error::custom("must be at least 1")),
            Position(count) => Ok(Count(usize::try_from(count).unwrap_or(usize::MAX))),
        }
    }
}

/// A list of strings, from an array only (serde-wasm-bindgen would iterate a string's characters).
#[derive(Default)]
pub struct Strings(pub Vec<String>);

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StringsVisitor;
        impl<'de> Visitor<'de> for StringsVisitor {
            type Value = Strings;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("an array of strings")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Strings, A::Error> {
                let mut out = Vec::new();
                while let Some(item) =
                    seq.next_element::<String>().inspect_err(|_| record(format!("[{}]", out.len())))?
                {
                    out.push(item);
                }
                Ok(Strings(out))
            }
        }
        deserializer.deserialize_any(StringsVisitor)
    }
}

/// `'forwards'` or `'backwards'`.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum DirectionJs {
    Forwards,
    Backwards,
}

fn direction(value: Option<DirectionJs>) -> Direction {
    match value {
        Some(DirectionJs::Backwards) => Direction::Backwards,
        _ => Direction::Forwards,
    }
}

/// `'normal'` or `'full'`.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum SynchronousJs {
    Normal,
    Full,
}

/// Store options: `{ synchronous?: 'normal' | 'full', maxEventSize?, busyTimeoutMs? }`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StoreOptionsJs {
    synchronous: Option<SynchronousJs>,
    max_event_size: Option<Count>,
    busy_timeout_ms: Option<Position>,
}

/// Store options: `{ synchronous?: 'normal' | 'full', maxEventSize?, busyTimeoutMs? }`.
pub fn to_store_options(value: &JsValue) -> Result<StoreOptions, JsError> {
    let js: StoreOptionsJs = options(value, "options")?;
    let mut options = StoreOptions::default();
    if let Some(synchronous) = js.synchronous {
        options.synchronous = match synchronous {
            SynchronousJs::Normal => Synchronous::Normal,
            SynchronousJs::Full => Synchronous::Full,
        };
    }
    if let Some(Count(size)) = js.max_event_size {
        options.max_event_size = size;
    }
    if let Some(Position(ms)) = js.busy_timeout_ms {
        options.busy_timeout = Duration::from_millis(ms);
    }
    Ok(options)
}

/// `{ fromVersion?, direction?, maxCount? }`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ReadStreamOptionsJs {
    from_version: Option<Position>,
    direction: Option<DirectionJs>,
    max_count: Option<Count>,
}

/// `{ fromVersion?, direction?, maxCount? }`.
pub fn to_read_stream_options(value: &JsValue) -> Result<ReadStreamOptions, JsError> {
    let js: ReadStreamOptionsJs = options(value, "options")?;
    let mut options = ReadStreamOptions::forwards();
    options.direction = direction(js.direction);
    options.from_version = js.from_version.map(|Position(version)| version);
    if let Some(Count(count)) = js.max_count {
        options.max_count = count;
    }
    Ok(options)
}

/// `{ streamPrefix?, categories?, eventTypes? }`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FilterJs {
    stream_prefix: Option<String>,
    #[serde(default)]
    categories: Option<Strings>,
    #[serde(default)]
    event_types: Option<Strings>,
}

fn filter(js: Option<Object<FilterJs>>) -> EventFilter {
    let Some(Object(js)) = js else { return EventFilter::all() };
    let mut filter = EventFilter::all();
    filter.stream_prefix = js.stream_prefix;
    filter.categories = js.categories.unwrap_or_default().0;
    filter.event_types = js.event_types.unwrap_or_default().0;
    filter
}

/// `{ fromPosition?, direction?, maxCount?, filter? }`; `fromPosition` is exclusive.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ReadAllOptionsJs {
    from_position: Option<Position>,
    direction: Option<DirectionJs>,
    max_count: Option<Count>,
    filter: Option<Object<FilterJs>>,
}

/// `{ fromPosition?, direction?, maxCount?, filter? }`; `fromPosition` is exclusive.
pub fn to_read_all_options(value: &JsValue) -> Result<ReadAllOptions, JsError> {
    let js: ReadAllOptionsJs = options(value, "options")?;
    let mut options = ReadAllOptions::forwards();
    options.direction = direction(js.direction);
    options.from_position = js.from_position.map(|Position(position)| position);
    if let Some(Count(count)) = js.max_count {
        options.max_count = count;
    }
    options.filter = filter(js.filter);
    Ok(options)
}

/// Where a subscription starts: `'start'`, `'end'` or an exclusive position (number or bigint).
struct FromJs(StartFrom);

impl<'de> Deserialize<'de> for FromJs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FromVisitor;
        impl Visitor<'_> for FromVisitor {
            type Value = FromJs;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("'start', 'end' or a position from 0 to 2^53 - 1")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<FromJs, E> {
                match value {
                    "start" => Ok(FromJs(StartFrom::Start)),
                    "end" => Ok(FromJs(StartFrom::End)),
                    _ => Err(E::invalid_value(de::Unexpected::Str(value), &self)),
                }
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<FromJs, E> {
                safe(value, &self).map(|position| FromJs(StartFrom::After(position)))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<FromJs, E> {
                match u64::try_from(value) {
                    Ok(value) => self.visit_u64(value),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Signed(value), &self)),
                }
            }
        }
        deserializer.deserialize_any(FromVisitor)
    }
}

/// `{ from?: 'start' | 'end' | number, filter?, name?, batchSize? }`; a numeric `from` is exclusive.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SubscriptionOptionsJs {
    from: Option<FromJs>,
    filter: Option<Object<FilterJs>>,
    name: Option<String>,
    batch_size: Option<Count>,
}

/// `{ from?: 'start' | 'end' | number, filter?, name?, batchSize? }`; a numeric `from` is exclusive.
pub fn to_subscription_options(value: &JsValue) -> Result<SubscriptionOptions, JsError> {
    let js: SubscriptionOptionsJs = options(value, "options")?;
    let mut options = SubscriptionOptions::default();
    if let Some(FromJs(from)) = js.from {
        options.from = from;
    }
    options.filter = filter(js.filter);
    options.name = js.name;
    if let Some(Count(size)) = js.batch_size {
        options.batch_size = size;
    }
    Ok(options)
}

/// A sync server's push limits: `{ maxEvents?, maxBytes?, maxEventSize? }`, each defaulting to the reference
/// server's.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LimitsJs {
    max_events: Option<Count>,
    max_bytes: Option<Count>,
    max_event_size: Option<Count>,
}

impl LimitsJs {
    /// The budget pushes stay within.
    pub fn budget(&self) -> PushBudget {
        let mut budget = PushBudget::default();
        for (limit, slot) in [
            (self.max_events, &mut budget.max_events),
            (self.max_bytes, &mut budget.max_bytes),
            (self.max_event_size, &mut budget.max_event_size),
        ] {
            if let Some(Count(limit)) = limit {
                *slot = limit;
            }
        }
        budget
    }
}

/// A value for JS: plain objects and arrays, `None` as `null`, numbers up to 2^53 - 1.
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|error| JsError::new("INTERNAL", error.to_string()))
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
