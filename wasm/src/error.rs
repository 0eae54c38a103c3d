//! Error mapping: every core error, and every bad argument the binding itself rejects, becomes one JS shape.
//!
//! The thrown value is an `Error` whose `name` is `EventLiteError`, whose `code` is the core's stable
//! [`ErrorCode`] string (or one of the binding's own codes below), plus the error's details as own properties.
//! The JS package rebuilds its error classes from exactly these fields (and copies them across the worker boundary).

use std::borrow::Cow;

use eventlite::sync::{RoundError, SyncError};
use eventlite::{AppendError, Error, ErrorCode, ExpectedVersion, InvalidArgument, OpenError};
use js_sys::Reflect;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(typescript_custom_section)]
const TS_ERROR: &str = r#"
/** What every thrown error carries (an `Error` named `EventLiteError`), and the plain form steps and notices use. */
export interface WasmErrorShape {
  name: 'EventLiteError';
  /** A stable code: the core's, the binding's (`STORE_CLOSED`), or a sync server's (`UNAUTHORIZED`, `HTTP_502`). */
  code: string;
  message: string;
  [detail: string]: unknown;
}
"#;

/// The binding's own code for a call on a store that was closed.
pub const STORE_CLOSED: &str = "STORE_CLOSED";

/// An error on its way to JS: code, message and details.
#[derive(Debug)]
pub struct JsError {
    code: Cow<'static, str>,
    message: String,
    details: Vec<(&'static str, JsValue)>,
}

impl JsError {
    /// An error with a code and message and no details.
    pub fn new(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        JsError { code: code.into(), message: message.into(), details: Vec::new() }
    }

    /// `INVALID_ARGUMENT` for `argument`, with the reason.
    pub fn invalid(argument: impl Into<String>, reason: impl Into<String>) -> Self {
        let argument = argument.into();
        let reason = reason.into();
        JsError::new(ErrorCode::InvalidArgument.as_str(), format!("invalid {argument}: {reason}"))
            .with("argument", argument.into())
            .with("reason", reason.into())
    }

    /// The code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// Adds a detail property.
    pub fn with(mut self, key: &'static str, value: JsValue) -> Self {
        self.details.push((key, value));
        self
    }
}

impl JsError {
    /// The error as a plain object (`{ name, code, message, ...details }`), for values that are returned or posted
    /// rather than thrown: structured clone keeps a plain object's properties, not an `Error`'s.
    pub fn into_shape(self) -> JsValue {
        let shape = js_sys::Object::new();
        self.fill(&shape, true);
        shape.into()
    }

    fn fill(self, target: &js_sys::Object, with_message: bool) {
        // Setting own properties on a fresh object cannot fail.
        if with_message {
            let _ = Reflect::set(target, &"name".into(), &"EventLiteError".into());
            let _ = Reflect::set(target, &"message".into(), &self.message.into());
        }
        let _ = Reflect::set(target, &"code".into(), &JsValue::from_str(&self.code));
        for (key, detail) in self.details {
            let _ = Reflect::set(target, &key.into(), &detail);
        }
    }
}

impl From<JsError> for JsValue {
    fn from(error: JsError) -> JsValue {
        let value = js_sys::Error::new(&error.message);
        value.set_name("EventLiteError");
        error.fill(&value, false);
        value.into()
    }
}

/// The JS form of an expectation: `"any"`, `"no_stream"`, `"stream_exists"` or the exact version.
pub fn expected_to_js(expected: ExpectedVersion) -> JsValue {
    match expected {
        ExpectedVersion::Any => "any".into(),
        ExpectedVersion::NoStream => "no_stream".into(),
        ExpectedVersion::StreamExists => "stream_exists".into(),
        ExpectedVersion::Exact(version) => crate::convert::u64_to_js(version),
    }
}

impl From<InvalidArgument> for JsError {
    fn from(error: InvalidArgument) -> Self {
        JsError::invalid(error.argument, error.reason)
    }
}

impl From<AppendError> for JsError {
    fn from(error: AppendError) -> Self {
        let base = JsError::new(error.code().as_str(), error.to_string());
        match error {
            AppendError::WrongExpectedVersion { stream, expected, actual } => base
                .with("stream", stream.into())
                .with("expected", expected_to_js(expected))
                .with("actual", crate::convert::u64_to_js(actual)),
            AppendError::IdempotencyConflict { event_id, reason } => {
                base.with("eventId", event_id.hyphenated().to_string().into()).with("reason", reason.into())
            }
            AppendError::EventTooLarge { index, size, limit } => base
                .with("index", (index as f64).into())
                .with("size", (size as f64).into())
                .with("limit", (limit as f64).into()),
            AppendError::InvalidArgument(invalid) => invalid.into(),
            AppendError::ProjectionFailed { projection, index, .. } => {
                base.with("projection", projection.into()).with("index", (index as f64).into())
            }
            _ => base,
        }
    }
}

impl From<OpenError> for JsError {
    fn from(error: OpenError) -> Self {
        let base = JsError::new(error.code().as_str(), error.to_string());
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
        impl From<eventlite::$type> for JsError {
            fn from(error: eventlite::$type) -> Self {
                match error {
                    eventlite::$type::InvalidArgument(invalid) => invalid.into(),
                    other => JsError::new(other.code().as_str(), other.to_string()),
                }
            }
        }
    };
}
simple_error!(ReadError);
simple_error!(SnapshotError);

impl From<Error> for JsError {
    fn from(error: Error) -> Self {
        match error {
            Error::Open(error) => error.into(),
            Error::Append(error) => error.into(),
            Error::Read(error) => error.into(),
            Error::Snapshot(error) => error.into(),
            Error::Projection(error) => error.into(),
            other => JsError::new(other.code().as_str(), other.to_string()),
        }
    }
}

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

/// A failed sync round: `NETWORK`, the server's code (with its HTTP `status`), or the local error's; `retryable`
/// says whether core retries it with backoff (or only at the longest delay, because waiting cannot fix it).
impl From<&RoundError> for JsError {
    fn from(error: &RoundError) -> Self {
        let base = match error {
            RoundError::Sync(error) => error.clone().into(),
            other => {
                let base = JsError::new(other.code().to_owned(), other.to_string());
                match other.status() {
                    Some(status) => base.with("status", status.into()),
                    None => base,
                }
            }
        };
        base.with("retryable", error.is_retryable().into())
    }
}
