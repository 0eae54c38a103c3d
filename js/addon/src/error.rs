//! Error mapping: every core error, and every bad argument the addon itself rejects, becomes the shape the wasm layer
//! throws (`wasm/src/error.rs`): an `Error` named `EventLiteError` with the core's stable `code` and the error's
//! details as own properties, so `js/src/common/errors.ts` rebuilds the same classes from either backend.

use std::borrow::Cow;

use eventlite::sync::{RoundError, SyncError};
use eventlite::{AppendError, Error, ErrorCode, ExpectedVersion, InvalidArgument, OpenError};
use napi::{Env, JsValue};
use serde_json::{Map, Value, json};

/// The code for a call on a store that was closed (the wasm layer's own code too).
pub const STORE_CLOSED: &str = "STORE_CLOSED";

/// An error on its way to JS: code, message and details.
#[derive(Debug, Clone)]
pub struct AddonError {
    code: Cow<'static, str>,
    message: String,
    details: Vec<(&'static str, Value)>,
}

/// What the addon's functions return before the error is turned into a JS value.
pub type AddonResult<T> = Result<T, AddonError>;

impl AddonError {
    /// An error with a code and message and no details.
    pub fn new(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        AddonError { code: code.into(), message: message.into(), details: Vec::new() }
    }

    /// `INVALID_ARGUMENT` for `argument`, with the reason.
    pub fn invalid(argument: impl Into<String>, reason: impl Into<String>) -> Self {
        let argument = argument.into();
        let reason = reason.into();
        AddonError::new(ErrorCode::InvalidArgument.as_str(), format!("invalid {argument}: {reason}"))
            .with("argument", argument.into())
            .with("reason", reason.into())
    }

    /// `STORE_CLOSED`.
    pub fn closed() -> Self {
        AddonError::new(STORE_CLOSED, "the store is closed")
    }

    /// The code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// Adds a detail property.
    pub fn with(mut self, key: &'static str, value: Value) -> Self {
        self.details.push((key, value));
        self
    }

    /// The error as a plain object (`{ name, code, message, ...details }`), for values that are returned or posted
    /// rather than thrown.
    pub fn into_shape(self) -> Value {
        let mut shape = Map::new();
        shape.insert("name".into(), "EventLiteError".into());
        shape.insert("code".into(), Value::String(self.code.into_owned()));
        shape.insert("message".into(), Value::String(self.message));
        for (key, value) in self.details {
            shape.insert(key.into(), value);
        }
        Value::Object(shape)
    }

    /// The error as a thrown JS `Error` named `EventLiteError`, with `code` and the details as own properties.
    pub fn into_napi(self, env: &Env) -> napi::Error {
        let message = self.message.clone();
        let build = || -> napi::Result<napi::Error> {
            let mut error = env.create_error(napi::Error::from_reason(self.message.clone()))?;
            error.set("name", "EventLiteError")?;
            error.set("code", self.code.as_ref())?;
            for (key, value) in self.details.iter() {
                error.set(key, value.clone())?;
            }
            Ok(napi::Error::from(error.to_unknown()))
        };
        // Building a JS object only fails while the environment is going away; the plain error still carries why.
        build().unwrap_or_else(|_| napi::Error::from_reason(message))
    }
}

/// Runs `result` through the error mapping: what every exported method returns.
pub fn throw<T>(env: &Env, result: AddonResult<T>) -> napi::Result<T> {
    result.map_err(|error| error.into_napi(env))
}

/// A version or position as a JS number (exact up to 2^53 - 1).
pub fn number(value: u64) -> Value {
    json!(value as f64)
}

/// The JS form of an expectation: `"any"`, `"no_stream"`, `"stream_exists"` or the exact version.
pub fn expected_to_json(expected: ExpectedVersion) -> Value {
    match expected {
        ExpectedVersion::Any => "any".into(),
        ExpectedVersion::NoStream => "no_stream".into(),
        ExpectedVersion::StreamExists => "stream_exists".into(),
        ExpectedVersion::Exact(version) => number(version),
    }
}

impl From<InvalidArgument> for AddonError {
    fn from(error: InvalidArgument) -> Self {
        AddonError::invalid(error.argument, error.reason)
    }
}

impl From<AppendError> for AddonError {
    fn from(error: AppendError) -> Self {
        let base = AddonError::new(error.code().as_str(), error.to_string());
        match error {
            AppendError::WrongExpectedVersion { stream, expected, actual } => base
                .with("stream", stream.into())
                .with("expected", expected_to_json(expected))
                .with("actual", number(actual)),
            AppendError::IdempotencyConflict { event_id, reason } => {
                base.with("eventId", event_id.hyphenated().to_string().into()).with("reason", reason.into())
            }
            AppendError::EventTooLarge { index, size, limit } => {
                base.with("index", json!(index)).with("size", json!(size)).with("limit", json!(limit))
            }
            AppendError::InvalidArgument(invalid) => invalid.into(),
            AppendError::ProjectionFailed { projection, index, .. } => {
                base.with("projection", projection.into()).with("index", json!(index))
            }
            _ => base,
        }
    }
}

impl From<OpenError> for AddonError {
    fn from(error: OpenError) -> Self {
        let base = AddonError::new(error.code().as_str(), error.to_string());
        match error {
            OpenError::SchemaTooNew { found, supported } => {
                base.with("found", found.into()).with("supported", supported.into())
            }
            OpenError::NotADatabase { reason } => base.with("reason", reason.into()),
            OpenError::InvalidArgument(invalid) => invalid.into(),
            _ => base,
        }
    }
}

/// Read and snapshot errors carry no details beyond an invalid argument's.
macro_rules! simple_error {
    ($type:ident) => {
        impl From<eventlite::$type> for AddonError {
            fn from(error: eventlite::$type) -> Self {
                match error {
                    eventlite::$type::InvalidArgument(invalid) => invalid.into(),
                    other => AddonError::new(other.code().as_str(), other.to_string()),
                }
            }
        }
    };
}
simple_error!(ReadError);
simple_error!(SnapshotError);

impl From<Error> for AddonError {
    fn from(error: Error) -> Self {
        match error {
            Error::Open(error) => error.into(),
            Error::Append(error) => error.into(),
            Error::Read(error) => error.into(),
            Error::Snapshot(error) => error.into(),
            Error::Projection(error) => error.into(),
            other => AddonError::new(other.code().as_str(), other.to_string()),
        }
    }
}

impl From<SyncError> for AddonError {
    fn from(error: SyncError) -> Self {
        let base = AddonError::new(error.code().as_str(), error.to_string());
        match error {
            SyncError::InvalidArgument(invalid) => invalid.into(),
            SyncError::EventTooLarge { index, size, limit } => {
                base.with("index", json!(index)).with("size", json!(size)).with("limit", json!(limit))
            }
            SyncError::BatchTooLarge { count, limit } => base.with("count", json!(count)).with("limit", json!(limit)),
            _ => base,
        }
    }
}

/// A failed sync round: `NETWORK`, the server's code (with its HTTP `status`), or the local error's; `retryable`
/// says whether core retries it with backoff.
impl From<&RoundError> for AddonError {
    fn from(error: &RoundError) -> Self {
        let base = match error {
            RoundError::Sync(error) => error.clone().into(),
            other => {
                let base = AddonError::new(other.code().to_owned(), other.to_string());
                match other.status() {
                    Some(status) => base.with("status", status.into()),
                    None => base,
                }
            }
        };
        base.with("retryable", error.is_retryable().into())
    }
}
