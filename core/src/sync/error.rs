//! Errors of the sync engine.

use crate::error::{ErrorCode, InvalidArgument, ReadError, StorageError};

/// Why a sync step failed. A failed step changes nothing in the store (it runs in one transaction).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// A malformed message field: a stream name, event type, JSON body, expectation, duplicate id, ...
    #[error(transparent)]
    InvalidArgument(#[from] InvalidArgument),
    /// One event is larger than the limit.
    #[error("event {index} is {size} bytes, larger than the limit of {limit} bytes")]
    EventTooLarge {
        /// The event's index in the batch.
        index: usize,
        /// Its size: type + data + metadata, in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A push holds more events than the limit.
    #[error("the batch holds {count} events, more than the limit of {limit}")]
    BatchTooLarge {
        /// Events in the batch.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// The other side sent something the protocol does not allow: a response that does not match its request, a
    /// pulled event whose version does not continue the confirmed stream, ... Nothing was applied.
    #[error("sync protocol violation: {0}")]
    Protocol(String),
    /// SQLite failed; the transaction was rolled back.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl SyncError {
    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            SyncError::InvalidArgument(_) => ErrorCode::InvalidArgument,
            SyncError::EventTooLarge { .. } => ErrorCode::EventTooLarge,
            SyncError::BatchTooLarge { .. } => ErrorCode::BatchTooLarge,
            SyncError::Protocol(_) => ErrorCode::SyncProtocol,
            SyncError::Storage(error) => error.code(),
        }
    }
}

impl From<rusqlite::Error> for SyncError {
    fn from(error: rusqlite::Error) -> Self {
        SyncError::Storage(error.into())
    }
}

impl From<ReadError> for SyncError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::InvalidArgument(error) => SyncError::InvalidArgument(error),
            ReadError::Storage(error) => SyncError::Storage(error),
        }
    }
}
