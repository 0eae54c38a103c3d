//! Error mapping: every core error, and every bad argument the binding itself rejects, becomes one JS shape.
//!
//! The thrown value is an `Error` whose `name` is `EventLiteError`, whose `code` is the core's stable
//! [`ErrorCode`] string (or one of the binding's own codes below), plus the error's details as own properties.
//! The JS package rebuilds its error classes from exactly these fields (and copies them across the worker boundary).

use eventlite::{AppendError, Error, ErrorCode, ExpectedVersion, InvalidArgument, OpenError};
use js_sys::Reflect;
use wasm_bindgen::JsValue;

/// The binding's own code for a call on a store that was closed.
pub const STORE_CLOSED: &str = "STORE_CLOSED";

/// An error on its way to JS: code, message and details.
#[derive(Debug)]
pub struct JsError {
    code: &'static str,
    message: String,
    details: Vec<(&'static str, JsValue)>,
}

impl JsError {
    /// An error with a code and message and no details.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        JsError { code, message: message.into(), details: Vec::new() }
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
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Adds a detail property.
    pub fn with(mut self, key: &'static str, value: JsValue) -> Self {
        self.details.push((key, value));
        self
    }
}

impl From<JsError> for JsValue {
    fn from(error: JsError) -> JsValue {
        let value = js_sys::Error::new(&error.message);
        value.set_name("EventLiteError");
        // Setting own properties on a fresh Error cannot fail.
        let _ = Reflect::set(&value, &"code".into(), &error.code.into());
        for (key, detail) in error.details {
            let _ = Reflect::set(&value, &key.into(), &detail);
        }
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
            other => JsError::new(other.code().as_str(), other.to_string()),
        }
    }
}
