//! Errors: one enum per operation family, each with a stable [`ErrorCode`], plus the umbrella [`Error`].
//!
//! Codes are API: they never change meaning once released. Messages are for humans and may change.
//! SQLite failures are translated where SQLite is called (see [`StorageError::from_sqlite`]); a
//! `UNIQUE(stream, version)` violation becomes [`AppendError::WrongExpectedVersion`] in the append path.

use std::fmt;

use crate::stream::ExpectedVersion;

/// A stable, machine-readable error code. `as_str()` gives the string form used by every binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The stream's version did not match the append's expectation.
    WrongExpectedVersion,
    /// An event id was reused for a different event, stream or position in a batch.
    IdempotencyConflict,
    /// An argument was malformed: a bad stream name, an empty event type, invalid JSON, ...
    InvalidArgument,
    /// One event exceeded the configured maximum size.
    EventTooLarge,
    /// The database stayed locked by another connection for longer than the busy timeout.
    StorageBusy,
    /// The disk or quota is full.
    StorageFull,
    /// The database is read-only.
    StorageReadOnly,
    /// The database file could not be opened.
    StorageUnavailable,
    /// The database file is damaged.
    Corrupt,
    /// The file is not a SQLite database, or is a SQLite database that belongs to another application.
    NotADatabase,
    /// The database was written by a newer EventLite with a schema this version does not know.
    SchemaTooNew,
    /// A storage failure that matches no other code (an I/O error, say).
    StorageError,
    /// A sync push held more events than the limit.
    BatchTooLarge,
    /// The other side of a sync broke the protocol (see `crate::sync::SyncError::Protocol`).
    SyncProtocol,
    /// A projection's statement failed on an event (see [`crate::Projection`]).
    ProjectionFailed,
}

impl ErrorCode {
    /// The code's string form, e.g. `"WRONG_EXPECTED_VERSION"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::WrongExpectedVersion => "WRONG_EXPECTED_VERSION",
            ErrorCode::IdempotencyConflict => "IDEMPOTENCY_CONFLICT",
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::EventTooLarge => "EVENT_TOO_LARGE",
            ErrorCode::StorageBusy => "STORAGE_BUSY",
            ErrorCode::StorageFull => "STORAGE_FULL",
            ErrorCode::StorageReadOnly => "STORAGE_READ_ONLY",
            ErrorCode::StorageUnavailable => "STORAGE_UNAVAILABLE",
            ErrorCode::Corrupt => "CORRUPT",
            ErrorCode::NotADatabase => "NOT_A_DATABASE",
            ErrorCode::SchemaTooNew => "SCHEMA_TOO_NEW",
            ErrorCode::StorageError => "STORAGE_ERROR",
            ErrorCode::BatchTooLarge => "BATCH_TOO_LARGE",
            ErrorCode::SyncProtocol => "SYNC_PROTOCOL",
            ErrorCode::ProjectionFailed => "PROJECTION_FAILED",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A malformed argument: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {argument}: {reason}")]
pub struct InvalidArgument {
    /// The argument's name as the caller knows it (`"stream"`, `"events[2].type"`, ...).
    pub argument: String,
    /// What is wrong with it.
    pub reason: String,
}

impl InvalidArgument {
    /// `argument` is malformed because of `reason` (transports and bindings use it for their own arguments).
    pub fn new(argument: impl Into<String>, reason: impl Into<String>) -> Self {
        InvalidArgument { argument: argument.into(), reason: reason.into() }
    }
}

/// A failure reported by SQLite, classified by [`ErrorCode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StorageError {
    code: ErrorCode,
    message: String,
}

impl StorageError {
    /// The classified code: `STORAGE_BUSY`, `STORAGE_FULL`, `CORRUPT`, `NOT_A_DATABASE`, ...
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        StorageError { code, message: message.into() }
    }

    /// Classifies a rusqlite error by its primary SQLite result code.
    #[cfg(feature = "sqlite")]
    pub(crate) fn from_sqlite(error: &rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as Sqlite;
        let code = match error.sqlite_error_code() {
            Some(Sqlite::DatabaseBusy | Sqlite::DatabaseLocked) => ErrorCode::StorageBusy,
            Some(Sqlite::DiskFull) => ErrorCode::StorageFull,
            Some(Sqlite::ReadOnly) => ErrorCode::StorageReadOnly,
            Some(Sqlite::CannotOpen | Sqlite::PermissionDenied) => ErrorCode::StorageUnavailable,
            Some(Sqlite::DatabaseCorrupt) => ErrorCode::Corrupt,
            Some(Sqlite::NotADatabase) => ErrorCode::NotADatabase,
            _ => ErrorCode::StorageError,
        };
        StorageError::new(code, format!("storage: {error}"))
    }
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for StorageError {
    fn from(error: rusqlite::Error) -> Self {
        StorageError::from_sqlite(&error)
    }
}

/// Why a store could not be opened. Nothing is written to a file that fails to open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The file exists but is not an EventLite (or any SQLite) database.
    #[error("not an EventLite database: {reason}")]
    NotADatabase {
        /// What was found instead.
        reason: String,
    },
    /// The file was written by a newer EventLite; upgrade the library to open it.
    #[error("database schema version {found} is newer than the newest this library knows ({supported})")]
    SchemaTooNew {
        /// The schema version found in the file.
        found: u32,
        /// The newest schema version this library supports.
        supported: u32,
    },
    /// The file's schema is older than a read-only open reads as it is
    /// ([`crate::schema::MIN_READ_ONLY_VERSION`]): opening it read-write once migrates it. Its code is
    /// `STORAGE_READ_ONLY` (the open would have to write).
    #[error(
        "the file has schema version {found}, a read-only open reads {oldest} to {newest}: open it read-write once to \
         migrate it"
    )]
    SchemaTooOld {
        /// The schema version found in the file.
        found: u32,
        /// The oldest schema version read as it is.
        oldest: u32,
        /// The newest schema version this library knows.
        newest: u32,
    },
    /// An option was out of range.
    #[error(transparent)]
    InvalidArgument(#[from] InvalidArgument),
    /// SQLite failed.
    #[error(transparent)]
    Storage(StorageError),
}

impl From<StorageError> for OpenError {
    /// A file SQLite calls "not a database" is [`OpenError::NotADatabase`], wherever in the open it was noticed.
    fn from(storage: StorageError) -> Self {
        if storage.code() == ErrorCode::NotADatabase {
            OpenError::NotADatabase { reason: "the file is not a SQLite database".into() }
        } else {
            OpenError::Storage(storage)
        }
    }
}

impl OpenError {
    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            OpenError::NotADatabase { .. } => ErrorCode::NotADatabase,
            OpenError::SchemaTooNew { .. } => ErrorCode::SchemaTooNew,
            OpenError::SchemaTooOld { .. } => ErrorCode::StorageReadOnly,
            OpenError::InvalidArgument(_) => ErrorCode::InvalidArgument,
            OpenError::Storage(error) => error.code(),
        }
    }
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for OpenError {
    fn from(error: rusqlite::Error) -> Self {
        StorageError::from_sqlite(&error).into()
    }
}

/// Why an append failed. A failed append writes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// The stream was not at the expected version.
    #[error("wrong expected version for stream {stream:?}: expected {expected}, actual version {actual}")]
    WrongExpectedVersion {
        /// The stream appended to.
        stream: String,
        /// What the caller expected.
        expected: ExpectedVersion,
        /// The stream's current version (0 when it does not exist).
        actual: u64,
    },
    /// An event id in the batch is already stored for a different event, stream or batch position.
    #[error("event id {event_id} is already used by a different event: {reason}")]
    IdempotencyConflict {
        /// The reused id.
        event_id: uuid::Uuid,
        /// How the stored event differs.
        reason: String,
    },
    /// One event is larger than [`crate::StoreOptions::max_event_size`].
    #[error("event {index} is {size} bytes, larger than the limit of {limit} bytes")]
    EventTooLarge {
        /// The event's index in the batch.
        index: usize,
        /// Its size in bytes: type + data + metadata, plus the content type of binary data.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A malformed stream name, event type, JSON body, ...
    #[error(transparent)]
    InvalidArgument(#[from] InvalidArgument),
    /// A projection's statement failed on one of the batch's events; nothing was written.
    #[error("projection {projection:?} failed on event {index} of the batch: {message}")]
    ProjectionFailed {
        /// The projection's name.
        projection: String,
        /// The event's index in the batch.
        index: usize,
        /// SQLite's message.
        message: String,
    },
    /// SQLite failed; the transaction was rolled back.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl AppendError {
    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            AppendError::WrongExpectedVersion { .. } => ErrorCode::WrongExpectedVersion,
            AppendError::IdempotencyConflict { .. } => ErrorCode::IdempotencyConflict,
            AppendError::EventTooLarge { .. } => ErrorCode::EventTooLarge,
            AppendError::InvalidArgument(_) => ErrorCode::InvalidArgument,
            AppendError::ProjectionFailed { .. } => ErrorCode::ProjectionFailed,
            AppendError::Storage(error) => error.code(),
        }
    }
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for AppendError {
    fn from(error: rusqlite::Error) -> Self {
        AppendError::Storage(error.into())
    }
}

/// Why a read, a subscription poll or a checkpoint failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// A malformed stream name, filter or subscription name.
    #[error(transparent)]
    InvalidArgument(#[from] InvalidArgument),
    /// SQLite failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ReadError {
    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ReadError::InvalidArgument(_) => ErrorCode::InvalidArgument,
            ReadError::Storage(error) => error.code(),
        }
    }
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for ReadError {
    fn from(error: rusqlite::Error) -> Self {
        ReadError::Storage(error.into())
    }
}

/// Why saving or loading a snapshot failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// A malformed stream name or schema tag, a version beyond the stream's, or state that is not serialisable.
    #[error(transparent)]
    InvalidArgument(#[from] InvalidArgument),
    /// SQLite failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl SnapshotError {
    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            SnapshotError::InvalidArgument(_) => ErrorCode::InvalidArgument,
            SnapshotError::Storage(error) => error.code(),
        }
    }
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for SnapshotError {
    fn from(error: rusqlite::Error) -> Self {
        SnapshotError::Storage(error.into())
    }
}

impl From<ReadError> for SnapshotError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::InvalidArgument(error) => SnapshotError::InvalidArgument(error),
            ReadError::Storage(error) => SnapshotError::Storage(error),
        }
    }
}

/// Why an import batch (`archive::Importer::import_batch`) failed. A failed batch writes nothing; `index`
/// is the failing event's index in the batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The event's id is stored for a different event (stream, version, type, data, metadata or time).
    #[error("event {index}: event id {event_id} is already used by a different event: {reason}")]
    IdempotencyConflict {
        /// The event's index in the batch.
        index: usize,
        /// The reused id.
        event_id: uuid::Uuid,
        /// How the stored event differs.
        reason: String,
    },
    /// The event does not continue its stream: the stream is at `actual`, the event needs `expected`.
    #[error("event {index}: stream {stream:?} is at version {actual}, the event needs it at {expected}")]
    WrongExpectedVersion {
        /// The event's index in the batch.
        index: usize,
        /// The stream.
        stream: String,
        /// The version the stream must be at (the event's version - 1).
        expected: u64,
        /// The stream's version.
        actual: u64,
    },
    /// One event is larger than [`crate::StoreOptions::max_event_size`].
    #[error("event {index} is {size} bytes, larger than the limit of {limit} bytes")]
    EventTooLarge {
        /// The event's index in the batch.
        index: usize,
        /// Its size in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A malformed stream name, event type, JSON body, version or time.
    #[error("{error}")]
    InvalidArgument {
        /// The event's index in the batch.
        index: usize,
        /// What is wrong.
        error: InvalidArgument,
    },
    /// A projection's statement failed on an imported event (at `position` in the target log); the batch was
    /// rolled back.
    #[error("projection {projection:?} failed on the imported event at position {position}: {message}")]
    ProjectionFailed {
        /// The projection's name.
        projection: String,
        /// The event's position in the target log (in the rolled-back batch).
        position: u64,
        /// SQLite's message.
        message: String,
    },
    /// SQLite failed (or the store is read-only); the batch was rolled back.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ImportError {
    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ImportError::IdempotencyConflict { .. } => ErrorCode::IdempotencyConflict,
            ImportError::WrongExpectedVersion { .. } => ErrorCode::WrongExpectedVersion,
            ImportError::EventTooLarge { .. } => ErrorCode::EventTooLarge,
            ImportError::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            ImportError::ProjectionFailed { .. } => ErrorCode::ProjectionFailed,
            ImportError::Storage(error) => error.code(),
        }
    }

    /// The failing event's index in the batch, when one event is to blame.
    pub fn index(&self) -> Option<usize> {
        match self {
            ImportError::IdempotencyConflict { index, .. }
            | ImportError::WrongExpectedVersion { index, .. }
            | ImportError::EventTooLarge { index, .. }
            | ImportError::InvalidArgument { index, .. } => Some(*index),
            ImportError::ProjectionFailed { .. } | ImportError::Storage(_) => None,
        }
    }
}

#[cfg(feature = "sqlite")]
#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for ImportError {
    fn from(error: rusqlite::Error) -> Self {
        ImportError::Storage(error.into())
    }
}

/// Why registering, querying or watching a projection failed. A failed registration writes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectionError {
    /// A malformed definition, SQL SQLite refuses (with its message), SQL that does more than a projection or a
    /// query may, or bad query parameters.
    #[error(transparent)]
    InvalidArgument(#[from] InvalidArgument),
    /// A projection's statement failed on the event at `position`: while registering (nothing written), or
    /// earlier, on an event from the server (the projection is marked failed and its tables cannot be queried).
    #[error("projection {projection:?} failed on the event at position {position}: {message}")]
    Failed {
        /// The projection's name.
        projection: String,
        /// The event's local position.
        position: u64,
        /// SQLite's message.
        message: String,
    },
    /// SQLite failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ProjectionError {
    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ProjectionError::InvalidArgument(_) => ErrorCode::InvalidArgument,
            ProjectionError::Failed { .. } => ErrorCode::ProjectionFailed,
            ProjectionError::Storage(error) => error.code(),
        }
    }
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for ProjectionError {
    fn from(error: rusqlite::Error) -> Self {
        ProjectionError::Storage(error.into())
    }
}

/// Any EventLite error: for callers that handle every operation family in one place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Opening failed.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Appending failed.
    #[error(transparent)]
    Append(#[from] AppendError),
    /// Reading or subscribing failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A snapshot operation failed.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// A sync step failed.
    #[error(transparent)]
    Sync(#[from] crate::sync::SyncError),
    /// An import batch failed.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// A projection operation failed.
    #[error(transparent)]
    Projection(#[from] ProjectionError),
}

impl Error {
    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Open(error) => error.code(),
            Error::Append(error) => error.code(),
            Error::Read(error) => error.code(),
            Error::Snapshot(error) => error.code(),
            Error::Projection(error) => error.code(),
            Error::Sync(error) => error.code(),
            Error::Import(error) => error.code(),
        }
    }
}
