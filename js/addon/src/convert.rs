//! Conversions between JS values and core types, with the rules of the wasm layer (`wasm/src/convert.rs`), so that
//! both backends accept and refuse exactly the same input: every malformed value becomes `INVALID_ARGUMENT` naming
//! the argument (an option by its path, `options.filter.category`) before the core is called.
//!
//! Option objects are read into JSON values first (bigints become integers, `NaN` and infinities stay refusable),
//! then into serde types with `deny_unknown_fields`, the path of a failing field tracked by `serde_path_to_error`.

use std::fmt;
use std::time::Duration;

use eventlite::sync::{PushBudget, base64};
use eventlite::{
    Direction, EventData, EventFilter, ExpectedVersion, NewEvent, ReadAllOptions, ReadStreamOptions, RecordedEvent,
    StartFrom, StoreOptions, SubscriptionOptions, Synchronous, Uuid,
};
use napi::bindgen_prelude::{Either, Unknown};
use napi::{Env, ValueType};
use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{AddonError, AddonResult};

/// The largest integer a JS number holds exactly: versions and positions above it are refused.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A string argument, taken as is when it is one.
pub type StringArg<'a> = Either<String, Unknown<'a>>;

/// A string argument.
pub fn to_string(value: StringArg<'_>, argument: &str) -> AddonResult<String> {
    match value {
        Either::A(text) => Ok(text),
        Either::B(_) => Err(AddonError::invalid(argument, "must be a string")),
    }
}

/// Whether `value` is `undefined` or `null`.
pub fn is_nullish(value: &Unknown<'_>) -> bool {
    matches!(value.get_type(), Ok(ValueType::Undefined | ValueType::Null))
}

/// How deeply arrays and objects may nest in a value read from JS. Options nest three levels; the bound keeps a
/// cyclic value (`c.push(c)`) or a hostile one from recursing until the native stack overflows.
const MAX_DEPTH: usize = 32;

/// A JSON value read from JS: like `serde_json::Value`, but `NaN` and the infinities become strings (so that they
/// are refused as numbers, as the wasm layer refuses them, instead of turning into `null`), and nested at most
/// [`MAX_DEPTH`] levels.
struct Json(Value);

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        JsonSeed { depth: 0 }.deserialize(deserializer)
    }
}

/// Reads a [`Json`] value `depth` levels down.
#[derive(Clone, Copy)]
struct JsonSeed {
    depth: usize,
}

impl JsonSeed {
    /// The seed for the values inside an array or object at this level; an error past [`MAX_DEPTH`].
    fn nested<E: de::Error>(self) -> Result<JsonSeed, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom(format!("is nested more than {MAX_DEPTH} levels deep (or is cyclic)")));
        }
        Ok(JsonSeed { depth: self.depth + 1 })
    }
}

impl<'de> DeserializeSeed<'de> for JsonSeed {
    type Value = Json;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for JsonSeed {
    type Value = Json;
    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON-like value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        Ok(Json(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(Json(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Json, E> {
        Ok(Json(Value::String(format!("{v}n"))))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Json, E> {
        Ok(Json(Value::String(format!("{v}n"))))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        Ok(Json(serde_json::Number::from_f64(v).map_or_else(|| Value::String(v.to_string()), Value::Number)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json(Value::String(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json(Value::String(v)))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Json, E> {
        Ok(Json(Value::Array(v.iter().map(|b| Value::from(*b)).collect())))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json(Value::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
        self.deserialize(deserializer)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let seed = self.nested()?;
        let mut out = Vec::new();
        while let Some(Json(item)) = seq.next_element_seed(seed)? {
            out.push(item);
        }
        Ok(Json(Value::Array(out)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let seed = self.nested()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Json(value) = map.next_value_seed(seed)?;
            out.insert(key, value);
        }
        Ok(Json(Value::Object(out)))
    }
}

/// `value` as JSON (see [`Json`]); what cannot be (a function, a symbol) is `INVALID_ARGUMENT` for `argument`.
fn to_json(env: &Env, value: Unknown<'_>, argument: &str) -> AddonResult<Value> {
    env.from_js_value::<Json, _>(value)
        .map(|Json(value)| value)
        .map_err(|error| AddonError::invalid(argument, error.reason.clone()))
}

/// A non-negative integer from a JS number or bigint, at most [`MAX_SAFE_INTEGER`].
pub fn to_u64(env: &Env, value: Unknown<'_>, argument: &str) -> AddonResult<u64> {
    let out_of_range = || AddonError::invalid(argument, "must be an integer from 0 to 2^53 - 1");
    match value.get_type() {
        Ok(ValueType::Number | ValueType::BigInt) => {}
        _ => return Err(AddonError::invalid(argument, "must be a number or a bigint")),
    }
    let json = to_json(env, value, argument)?;
    json_u64(&json).ok_or_else(out_of_range)
}

fn json_u64(value: &Value) -> Option<u64> {
    let number = value.as_number()?;
    if let Some(n) = number.as_u64() {
        return (n <= MAX_SAFE_INTEGER).then_some(n);
    }
    let float = number.as_f64()?;
    (float.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER as f64).contains(&float)).then_some(float as u64)
}

/// An expectation: `"any"`, `"no_stream"`, `"stream_exists"`, or the exact version as a number or bigint.
/// `undefined` means `any`.
pub fn to_expected(env: &Env, value: Unknown<'_>) -> AddonResult<ExpectedVersion> {
    const ARGUMENT: &str = "expectedVersion";
    if is_nullish(&value) {
        return Ok(ExpectedVersion::Any);
    }
    if let Ok(ValueType::String) = value.get_type() {
        return match to_json(env, value, ARGUMENT)?.as_str() {
            Some("any") => Ok(ExpectedVersion::Any),
            Some("no_stream") => Ok(ExpectedVersion::NoStream),
            Some("stream_exists") => Ok(ExpectedVersion::StreamExists),
            _ => Err(AddonError::invalid(ARGUMENT, "must be ANY, NO_STREAM, STREAM_EXISTS or a version")),
        };
    }
    Ok(ExpectedVersion::Exact(to_u64(env, value, ARGUMENT)?))
}

/// Reads the options object `value` (`undefined` and `null`: all defaults) as `T`. Errors name the field by its
/// path under `argument`: `options.filter.eventTypes[0]`.
pub fn options<T: DeserializeOwned + Default>(env: &Env, value: Unknown<'_>, argument: &str) -> AddonResult<T> {
    if is_nullish(&value) {
        return Ok(T::default());
    }
    let json = to_json(env, value, argument)?;
    json_options(json, argument)
}

/// [`options`] over a JSON value.
pub fn json_options<T: DeserializeOwned>(json: Value, argument: &str) -> AddonResult<T> {
    serde_path_to_error::deserialize::<_, Object<T>>(json).map(|Object(options)| options).map_err(|error| {
        let path = error.path().to_string();
        let mut argument = argument.to_owned();
        if path != "." {
            if !path.starts_with('[') {
                argument.push('.');
            }
            argument.push_str(&path);
        }
        let message = error.into_inner().to_string();
        // serde's wording for `deny_unknown_fields`; the path already ends with the field's name.
        let reason = if message.starts_with("unknown field") { "is not a known option".to_owned() } else { message };
        AddonError::invalid(argument, reason)
    })
}

/// `T` read from a JSON object only (serde would read a struct from an array too, as the fields in order).
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = Object<T>;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("must be an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Object<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Object)
            }
        }
        deserializer.deserialize_map(ObjectVisitor(std::marker::PhantomData))
    }
}

fn safe<E: de::Error>(value: u64, expected: &dyn de::Expected) -> Result<u64, E> {
    if value > MAX_SAFE_INTEGER {
        return Err(E::invalid_value(de::Unexpected::Unsigned(value), expected));
    }
    Ok(value)
}

/// An integral float in range, as the integer (JS numbers arrive as floats when they are not small integers).
fn float<E: de::Error>(value: f64, expected: &dyn de::Expected) -> Result<u64, E> {
    if value.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER as f64).contains(&value) {
        return Ok(value as u64);
    }
    Err(E::invalid_value(de::Unexpected::Float(value), expected))
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
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Position, E> {
                match u64::try_from(value) {
                    Ok(value) => self.visit_u64(value),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Signed(value), &self)),
                }
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Position, E> {
                float(value, &self).map(Position)
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
pub fn to_store_options(env: &Env, value: Unknown<'_>) -> AddonResult<StoreOptions> {
    let js: StoreOptionsJs = options(env, value, "options")?;
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
pub fn to_read_stream_options(env: &Env, value: Unknown<'_>) -> AddonResult<ReadStreamOptions> {
    let js: ReadStreamOptionsJs = options(env, value, "options")?;
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
    categories: Option<Vec<String>>,
    event_types: Option<Vec<String>>,
}

fn filter(js: Option<Object<FilterJs>>) -> EventFilter {
    let Some(Object(js)) = js else { return EventFilter::all() };
    let mut filter = EventFilter::all();
    filter.stream_prefix = js.stream_prefix;
    filter.categories = js.categories.unwrap_or_default();
    filter.event_types = js.event_types.unwrap_or_default();
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
pub fn to_read_all_options(env: &Env, value: Unknown<'_>) -> AddonResult<ReadAllOptions> {
    let js: ReadAllOptionsJs = options(env, value, "options")?;
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
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<FromJs, E> {
                float(value, &self).map(|position| FromJs(StartFrom::After(position)))
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
pub fn to_subscription_options(env: &Env, value: Unknown<'_>) -> AddonResult<SubscriptionOptions> {
    let js: SubscriptionOptionsJs = options(env, value, "options")?;
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
pub fn to_new_events(text: &str) -> AddonResult<Vec<NewEvent>> {
    let wire: Vec<WireNewEvent<'_>> =
        serde_json::from_str(text).map_err(|error| AddonError::invalid("events", error.to_string()))?;
    wire.into_iter()
        .enumerate()
        .map(|(index, event)| {
            let mut new_event = match (event.data, event.content_type, event.data_base64) {
                (Some(data), None, None) => NewEvent::from_json_text(event.event_type, data.get()),
                (None, Some(content_type), Some(encoded)) => {
                    let bytes = base64::decode(&encoded)
                        .ok_or_else(|| AddonError::invalid(format!("events[{index}].data"), "is not valid base64"))?;
                    NewEvent::binary(event.event_type, content_type, bytes)
                }
                _ => {
                    return Err(AddonError::invalid(
                        format!("events[{index}].data"),
                        "must be JSON data, or bytes with a content type",
                    ));
                }
            };
            if let Some(id) = event.event_id {
                let id = Uuid::parse_str(&id)
                    .map_err(|_| AddonError::invalid(format!("events[{index}].eventId"), "must be a UUID"))?;
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

/// Stored JSON text, checked to be JSON (it is embedded as is).
pub fn stored_json<'a>(text: &'a str, what: &str) -> AddonResult<&'a RawValue> {
    serde_json::from_str(text).map_err(|error| {
        AddonError::new(eventlite::ErrorCode::Corrupt.as_str(), format!("stored {what} is not JSON: {error}"))
    })
}

/// Encodes a page of events as one JSON array (event data is embedded as stored, not re-encoded).
pub fn events_to_json(events: &[RecordedEvent]) -> AddonResult<String> {
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
        .collect::<AddonResult<Vec<_>>>()?;
    serde_json::to_string(&wire).map_err(|error| AddonError::new("STORAGE_ERROR", error.to_string()))
}

/// A snapshot as JSON: `{ stream, version, schemaTag, state, recordedAt }`.
pub fn snapshot_to_json(snapshot: &eventlite::Snapshot) -> AddonResult<String> {
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
    .map_err(|error| AddonError::new("STORAGE_ERROR", error.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read_all(value: Value) -> Result<ReadAllOptionsJs, (String, String)> {
        json_options::<ReadAllOptionsJs>(value, "options").map_err(|error| {
            let shape = error.into_shape();
            (shape["argument"].as_str().unwrap().to_owned(), shape["reason"].as_str().unwrap().to_owned())
        })
    }

    #[test]
    fn option_errors_name_the_field_by_its_path() {
        assert_eq!(
            read_all(json!({ "filter": { "category": ["a"] } })).err().unwrap(),
            ("options.filter.category".to_owned(), "is not a known option".to_owned())
        );
        assert_eq!(read_all(json!({ "maxCount": 0 })).err().unwrap().0, "options.maxCount");
        assert_eq!(
            read_all(json!({ "filter": { "eventTypes": ["a", 1] } })).err().unwrap().0,
            "options.filter.eventTypes[1]"
        );
        assert_eq!(read_all(json!({ "fromPosition": 9007199254740992u64 })).err().unwrap().0, "options.fromPosition");
        assert_eq!(read_all(json!({ "fromPosition": 1.5 })).err().unwrap().0, "options.fromPosition");
        assert_eq!(read_all(json!({ "fromPosition": "NaN" })).err().unwrap().0, "options.fromPosition");
        assert_eq!(read_all(json!({ "filter": ["a"] })).err().unwrap().0, "options.filter");
        assert_eq!(read_all(json!([1])).err().unwrap().0, "options");
    }

    #[test]
    fn options_accept_what_the_wasm_layer_accepts() {
        let options = read_all(json!({ "fromPosition": 3, "maxCount": 2.0, "direction": "backwards", "filter": null }))
            .ok()
            .unwrap();
        assert_eq!(options.from_position.map(|Position(p)| p), Some(3));
        assert_eq!(options.max_count.map(|Count(c)| c), Some(2));
    }

    #[test]
    fn values_nested_too_deeply_are_refused_not_recursed_into() {
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let read = |text: &str| serde_json::from_str::<Json>(text).map(|Json(value)| value);
        assert!(read(&nested(MAX_DEPTH)).is_ok());
        let error = read(&nested(MAX_DEPTH + 1)).unwrap_err().to_string();
        assert!(error.contains("nested more than 32 levels"), "{error}");
        let object = format!("{}1{}", r#"{"a":"#.repeat(MAX_DEPTH + 1), "}".repeat(MAX_DEPTH + 1));
        assert!(read(&object).is_err());
    }

    #[test]
    fn batches_are_decoded_or_refused_by_index() {
        let events =
            to_new_events(r#"[{"type":"A","data":{"n":1}},{"type":"B","contentType":"x/y","dataBase64":"AAH/"}]"#)
                .unwrap();
        assert_eq!(events.len(), 2);
        let error = to_new_events(r#"[{"type":"A","data":1},{"type":"B"}]"#).unwrap_err().into_shape();
        assert_eq!(error["argument"], "events[1].data");
        let error = to_new_events(r#"[{"type":"A","data":1,"eventId":"x"}]"#).unwrap_err().into_shape();
        assert_eq!(error["argument"], "events[0].eventId");
    }
}
