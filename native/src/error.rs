//! The binding's one error type: core's error families mapped, once, to exceptions that carry the stable code.
//!
//! Every variant has `code` (core's `error.code().as_str()`, or one of the binding's own codes below) and `reason`
//! (for humans; may change). The variant names the family callers act on; `WrongExpectedVersion` also carries
//! `stream`, `expected` and `actual`. Kotlin: `EventLiteException.WrongExpectedVersion`, ...; Swift:
//! `EventLiteError.wrongExpectedVersion(...)`; Python: `EventLiteError.WrongExpectedVersion`. `error_code()` gives the
//! code of any variant, for catch-all handlers in Kotlin and Swift.
//!
//! The binding's own codes, beside core's: `STORE_CLOSED` (the handle was closed), `NETWORK` (the sync server could
//! not be reached; core's `RoundError` code), the sync server's codes (`UNAUTHORIZED`, ...), `SYNC_STOPPED` (a sync
//! was cut short by `close`), `HANDLER_FAILED` (a foreign callback threw), `INTERNAL` (a bug: a panic in the library).

use eventlite::sync::{RoundError, SyncError};
use eventlite::{
    AppendError, Error as CoreError, InvalidArgument, OpenError, ProjectionError, ReadError, SnapshotError,
};

use crate::types::ExpectedVersion;

/// An EventLite failure, with its stable `code`. A failed call changes nothing in the store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum EventLiteError {
    /// The stream was not at the expected version; nothing was written.
    #[error("{reason}")]
    WrongExpectedVersion {
        /// `WRONG_EXPECTED_VERSION`.
        code: String,
        /// What happened, for humans.
        reason: String,
        /// The stream appended to.
        stream: String,
        /// What the caller expected.
        expected: ExpectedVersion,
        /// The stream's current version (0 when it does not exist).
        actual: u64,
    },
    /// An event id was reused for a different event, stream or batch position.
    #[error("{reason}")]
    IdempotencyConflict {
        /// `IDEMPOTENCY_CONFLICT`.
        code: String,
        /// What happened, for humans.
        reason: String,
        /// The reused id.
        event_id: String,
    },
    /// A malformed argument: a bad stream name, an empty event type, invalid JSON, an out-of-range option, ...
    #[error("{reason}")]
    InvalidArgument {
        /// `INVALID_ARGUMENT`.
        code: String,
        /// What is wrong, for humans.
        reason: String,
        /// Which argument (`stream`, `events[2].type`, ...).
        argument: String,
    },
    /// One event exceeded the store's (or the server's) maximum event size.
    #[error("{reason}")]
    EventTooLarge {
        /// `EVENT_TOO_LARGE`.
        code: String,
        /// What happened, for humans.
        reason: String,
        /// The event's index in the batch.
        index: u64,
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// SQLite or the database file failed: `STORAGE_BUSY`, `STORAGE_FULL`, `STORAGE_READ_ONLY`,
    /// `STORAGE_UNAVAILABLE`, `CORRUPT`, `NOT_A_DATABASE`, `SCHEMA_TOO_NEW`, `STORAGE_ERROR`.
    #[error("{reason}")]
    Storage {
        /// The code.
        code: String,
        /// What happened, for humans.
        reason: String,
    },
    /// A sync failed: `NETWORK`, a server code (`UNAUTHORIZED`, `HTTP_502`, ...), `SYNC_PROTOCOL`,
    /// `BATCH_TOO_LARGE`, `SYNC_STOPPED`. Nothing is lost; retry when `retryable`.
    #[error("{reason}")]
    Sync {
        /// The code.
        code: String,
        /// What happened, for humans.
        reason: String,
        /// The HTTP status of a server answer.
        status: Option<u16>,
        /// Whether retrying later may succeed (network failures, 5xx, 429, a busy store).
        retryable: bool,
    },
    /// A projection's statement failed on an event: a local append refused (`index`: the event in the batch), a
    /// registration whose build failed, or a query over a failed projection's tables (`position`: the event).
    #[error("{reason}")]
    ProjectionFailed {
        /// `PROJECTION_FAILED`.
        code: String,
        /// What happened, with SQLite's message.
        reason: String,
        /// The projection's name.
        projection: String,
        /// The event's index in the refused batch.
        index: Option<u64>,
        /// The event's local position.
        position: Option<u64>,
    },
    /// The store was closed; open it again.
    #[error("{reason}")]
    StoreClosed {
        /// `STORE_CLOSED`.
        code: String,
        /// What happened, for humans.
        reason: String,
    },
    /// A foreign callback (an event handler, a reducer) threw; `reason` has its exception's text.
    #[error("{reason}")]
    HandlerFailed {
        /// `HANDLER_FAILED`.
        code: String,
        /// The exception's text.
        reason: String,
    },
    /// A bug in the library (a panic); please report it.
    #[error("{reason}")]
    Internal {
        /// `INTERNAL`.
        code: String,
        /// What happened.
        reason: String,
    },
}

#[uniffi::export]
impl EventLiteError {
    /// The stable code of any variant (`WRONG_EXPECTED_VERSION`, `STORAGE_BUSY`, ...).
    pub fn error_code(&self) -> String {
        self.code().to_owned()
    }
}

impl EventLiteError {
    /// The stable code.
    pub fn code(&self) -> &str {
        match self {
            EventLiteError::WrongExpectedVersion { code, .. }
            | EventLiteError::IdempotencyConflict { code, .. }
            | EventLiteError::InvalidArgument { code, .. }
            | EventLiteError::EventTooLarge { code, .. }
            | EventLiteError::Storage { code, .. }
            | EventLiteError::Sync { code, .. }
            | EventLiteError::ProjectionFailed { code, .. }
            | EventLiteError::StoreClosed { code, .. }
            | EventLiteError::HandlerFailed { code, .. }
            | EventLiteError::Internal { code, .. } => code,
        }
    }

    pub(crate) fn invalid_argument(argument: &str, reason: &str) -> EventLiteError {
        EventLiteError::from(InvalidArgument { argument: argument.to_owned(), reason: reason.to_owned() })
    }

    pub(crate) fn closed() -> EventLiteError {
        EventLiteError::StoreClosed { code: "STORE_CLOSED".into(), reason: "the store was closed".into() }
    }

    pub(crate) fn sync_stopped() -> EventLiteError {
        EventLiteError::Sync {
            code: "SYNC_STOPPED".into(),
            reason: "the sync was stopped before it finished".into(),
            status: None,
            retryable: true,
        }
    }

    pub(crate) fn handler_failed(reason: impl Into<String>) -> EventLiteError {
        EventLiteError::HandlerFailed { code: "HANDLER_FAILED".into(), reason: reason.into() }
    }

    pub(crate) fn internal(reason: impl Into<String>) -> EventLiteError {
        EventLiteError::Internal { code: "INTERNAL".into(), reason: reason.into() }
    }
}

impl From<CoreError> for EventLiteError {
    fn from(error: CoreError) -> Self {
        let code = error.code().as_str().to_owned();
        let reason = error.to_string();
        match error {
            CoreError::Append(AppendError::WrongExpectedVersion { stream, expected, actual }) => {
                EventLiteError::WrongExpectedVersion { code, reason, stream, expected: expected.into(), actual }
            }
            CoreError::Append(AppendError::IdempotencyConflict { event_id, .. }) => {
                EventLiteError::IdempotencyConflict { code, reason, event_id: event_id.to_string() }
            }
            CoreError::Append(AppendError::EventTooLarge { index, size, limit })
            | CoreError::Sync(SyncError::EventTooLarge { index, size, limit }) => EventLiteError::EventTooLarge {
                code,
                reason,
                index: index as u64,
                size: size as u64,
                limit: limit as u64,
            },
            CoreError::Append(AppendError::ProjectionFailed { projection, index, .. }) => {
                EventLiteError::ProjectionFailed { code, reason, projection, index: Some(index as u64), position: None }
            }
            CoreError::Projection(ProjectionError::Failed { projection, position, .. }) => {
                EventLiteError::ProjectionFailed { code, reason, projection, index: None, position: Some(position) }
            }
            CoreError::Append(AppendError::InvalidArgument(invalid))
            | CoreError::Projection(ProjectionError::InvalidArgument(invalid))
            | CoreError::Open(OpenError::InvalidArgument(invalid))
            | CoreError::Read(ReadError::InvalidArgument(invalid))
            | CoreError::Snapshot(SnapshotError::InvalidArgument(invalid))
            | CoreError::Sync(SyncError::InvalidArgument(invalid)) => {
                EventLiteError::InvalidArgument { code, reason, argument: invalid.argument }
            }
            CoreError::Sync(SyncError::Protocol(_) | SyncError::BatchTooLarge { .. }) => {
                EventLiteError::Sync { code, reason, status: None, retryable: false }
            }
            _ => EventLiteError::Storage { code, reason },
        }
    }
}

macro_rules! from_family {
    ($($family:ty),*) => {$(
        impl From<$family> for EventLiteError {
            fn from(error: $family) -> Self {
                EventLiteError::from(CoreError::from(error))
            }
        }
    )*};
}

from_family!(OpenError, AppendError, ReadError, SnapshotError, SyncError, ProjectionError);

impl From<InvalidArgument> for EventLiteError {
    fn from(error: InvalidArgument) -> Self {
        EventLiteError::from(CoreError::from(ReadError::from(error)))
    }
}

impl From<RoundError> for EventLiteError {
    fn from(error: RoundError) -> Self {
        let retryable = error.is_retryable();
        match error {
            RoundError::Sync(error) if !retryable => EventLiteError::from(error),
            error => EventLiteError::Sync {
                code: error.code().to_owned(),
                reason: error.to_string(),
                status: error.status(),
                retryable,
            },
        }
    }
}

/// A foreign callback that throws something other than an `EventLiteError` arrives here.
impl From<uniffi::UnexpectedUniFFICallbackError> for EventLiteError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        EventLiteError::handler_failed(error.reason)
    }
}

#[cfg(test)]
mod tests {
    use eventlite::{ExpectedVersion as CoreExpected, NewEvent, Store};

    use super::*;

    #[test]
    fn a_version_conflict_keeps_its_details() {
        let store = Store::open_in_memory().unwrap();
        let event = NewEvent::json("T", &1);
        store.append_to_stream("s-1", &[event], CoreExpected::NoStream).unwrap();
        let error = store.append_to_stream("s-1", &[NewEvent::json("T", &2)], CoreExpected::Exact(0)).unwrap_err();
        match EventLiteError::from(error) {
            EventLiteError::WrongExpectedVersion { code, stream, expected, actual, .. } => {
                assert_eq!(code, "WRONG_EXPECTED_VERSION");
                assert_eq!(stream, "s-1");
                assert_eq!(expected, ExpectedVersion::Exact { version: 0 });
                assert_eq!(actual, 1);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn every_family_keeps_core_codes() {
        let store = Store::open_in_memory().unwrap();
        let error = EventLiteError::from(store.read_stream("", eventlite::ReadStreamOptions::forwards()).unwrap_err());
        assert_eq!(error.code(), "INVALID_ARGUMENT");
        assert!(matches!(&error, EventLiteError::InvalidArgument { argument, .. } if argument == "stream"));
        assert_eq!(error.error_code(), "INVALID_ARGUMENT");

        let transport = EventLiteError::from(RoundError::Transport("refused".into()));
        assert!(matches!(&transport, EventLiteError::Sync { code, retryable: true, .. } if code == "NETWORK"));
        let server = EventLiteError::from(RoundError::from_http(401, br#"{"code":"UNAUTHORIZED","message":"no"}"#));
        assert!(
            matches!(&server, EventLiteError::Sync { code, status: Some(401), retryable: false, .. } if code == "UNAUTHORIZED")
        );
        let busy = eventlite::sync::SyncError::Protocol("bad".into());
        assert_eq!(EventLiteError::from(RoundError::Sync(busy)).code(), "SYNC_PROTOCOL");
    }
}
