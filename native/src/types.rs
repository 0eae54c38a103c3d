//! The records and enums that cross the FFI, and their conversions to and from core's types. No logic.
//!
//! Binary data is `Vec<u8>` (Kotlin `ByteArray`, Swift `Data`, Python `bytes`); JSON is text (the foreign language
//! parses it with its own JSON library); event ids are UUID strings; versions and positions are `u64`.

use eventlite::sync::{
    Conflict as CoreConflict, SyncMode as CoreSyncMode, SyncReport as CoreSyncReport, SyncStatus as CoreSyncStatus,
};
use eventlite::{
    AppendResult as CoreAppendResult, Direction as CoreDirection, EventData as CoreEventData,
    EventFilter as CoreEventFilter, ExpectedVersion as CoreExpectedVersion, LogSlice as CoreLogSlice,
    NewEvent as CoreNewEvent, ReadAllOptions as CoreReadAllOptions, ReadStreamOptions as CoreReadStreamOptions,
    RecordedEvent as CoreRecordedEvent, Snapshot as CoreSnapshot, StartFrom as CoreStartFrom,
    StoreOptions as CoreStoreOptions, StreamSlice as CoreStreamSlice, SubscriptionOptions as CoreSubscriptionOptions,
    Synchronous as CoreSynchronous, Uuid,
};

use crate::error::EventLiteError;

/// What the caller expects of a stream's version when appending. Versions are 1-based; an absent stream is at 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist (version 0).
    NoStream,
    /// The stream must exist (version at least 1).
    StreamExists,
    /// The stream must be exactly at this version (0: it must not exist).
    Exact {
        /// The stream's current version.
        version: u64,
    },
}

impl From<ExpectedVersion> for CoreExpectedVersion {
    fn from(expected: ExpectedVersion) -> Self {
        match expected {
            ExpectedVersion::Any => CoreExpectedVersion::Any,
            ExpectedVersion::NoStream => CoreExpectedVersion::NoStream,
            ExpectedVersion::StreamExists => CoreExpectedVersion::StreamExists,
            ExpectedVersion::Exact { version } => CoreExpectedVersion::Exact(version),
        }
    }
}

impl From<CoreExpectedVersion> for ExpectedVersion {
    fn from(expected: CoreExpectedVersion) -> Self {
        match expected {
            CoreExpectedVersion::Any => ExpectedVersion::Any,
            CoreExpectedVersion::NoStream => ExpectedVersion::NoStream,
            CoreExpectedVersion::StreamExists => ExpectedVersion::StreamExists,
            CoreExpectedVersion::Exact(version) => ExpectedVersion::Exact { version },
        }
    }
}

/// How hard SQLite works to make a commit durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Synchronous {
    /// `synchronous=NORMAL` (the default): a commit survives an app crash; the last ones may be lost on power loss.
    Normal,
    /// `synchronous=FULL`: every commit is fsynced and survives power loss.
    Full,
}

/// Options for [`crate::EventStore::open`]. Every field has a default.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreOptions {
    /// Durability of commits; `None`: `Normal`.
    #[uniffi(default = None)]
    pub synchronous: Option<Synchronous>,
    /// How long to wait for another connection's write lock before failing with `STORAGE_BUSY`, in milliseconds.
    #[uniffi(default = 5000)]
    pub busy_timeout_ms: u32,
    /// The largest event accepted, in bytes (type + data + metadata, plus the content type of binary data).
    #[uniffi(default = 1048576)]
    pub max_event_size: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions::from(&CoreStoreOptions::default())
    }
}

impl From<&CoreStoreOptions> for StoreOptions {
    fn from(options: &CoreStoreOptions) -> Self {
        StoreOptions {
            synchronous: Some(match options.synchronous {
                CoreSynchronous::Full => Synchronous::Full,
                _ => Synchronous::Normal,
            }),
            busy_timeout_ms: u32::try_from(options.busy_timeout.as_millis()).unwrap_or(u32::MAX),
            max_event_size: u32::try_from(options.max_event_size).unwrap_or(u32::MAX),
        }
    }
}

impl From<StoreOptions> for CoreStoreOptions {
    fn from(options: StoreOptions) -> Self {
        CoreStoreOptions {
            synchronous: match options.synchronous {
                Some(Synchronous::Full) => CoreSynchronous::Full,
                Some(Synchronous::Normal) | None => CoreSynchronous::Normal,
            },
            busy_timeout: std::time::Duration::from_millis(options.busy_timeout_ms.into()),
            max_event_size: options.max_event_size as usize,
            ..CoreStoreOptions::default()
        }
    }
}

/// An event's payload: JSON text, or raw bytes with a content type.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum EventData {
    /// JSON text (validated when appended).
    Json {
        /// The JSON document.
        json: String,
    },
    /// Raw bytes.
    Binary {
        /// Their content type, e.g. `image/png` (not `application/json`).
        content_type: String,
        /// The bytes.
        bytes: Vec<u8>,
    },
}

impl From<EventData> for CoreEventData {
    fn from(data: EventData) -> Self {
        match data {
            EventData::Json { json } => CoreEventData::Json(json),
            EventData::Binary { content_type, bytes } => CoreEventData::Binary { content_type, bytes },
        }
    }
}

impl From<CoreEventData> for EventData {
    fn from(data: CoreEventData) -> Self {
        match data {
            CoreEventData::Json(json) => EventData::Json { json },
            CoreEventData::Binary { content_type, bytes } => EventData::Binary { content_type, bytes },
        }
    }
}

/// An event to append. Build it with [`crate::json_event`] or [`crate::binary_event`] (which give it a fresh id, so
/// appending the same value again is an idempotent retry), or directly (no id: the store generates one).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewEvent {
    /// The event type, e.g. `"OrderPlaced"`: non-empty, at most 256 bytes, no control characters.
    pub event_type: String,
    /// The payload.
    pub data: EventData,
    /// Metadata: JSON text of an object (`correlationId`, `causationId`, ...), or none.
    #[uniffi(default = None)]
    pub metadata: Option<String>,
    /// The event's id (a UUID string); none: generated when appended.
    #[uniffi(default = None)]
    pub event_id: Option<String>,
}

impl NewEvent {
    pub(crate) fn into_core(self, index: usize) -> Result<CoreNewEvent, EventLiteError> {
        let event_id = self.event_id.map(|id| parse_uuid(&id, &format!("events[{index}].event_id"))).transpose()?;
        Ok(CoreNewEvent { event_id, event_type: self.event_type, data: self.data.into(), metadata: self.metadata })
    }
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RecordedEvent {
    /// Global position: 1-based, strictly increasing in commit order, never reused; may have gaps.
    pub position: u64,
    /// The event's id (UUID).
    pub event_id: String,
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

impl From<CoreRecordedEvent> for RecordedEvent {
    fn from(event: CoreRecordedEvent) -> Self {
        RecordedEvent {
            position: event.position,
            event_id: event.event_id.to_string(),
            stream: event.stream,
            version: event.version,
            event_type: event.event_type,
            data: event.data.into(),
            metadata: event.metadata,
            recorded_at: event.recorded_at,
        }
    }
}

/// The result of a successful append.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AppendResult {
    /// The stream's version after the batch.
    pub stream_version: u64,
    /// The global positions of the batch's events, in batch order.
    pub positions: Vec<u64>,
    /// True when the batch was already stored (an idempotent retry): nothing was written.
    pub already_appended: bool,
}

impl From<CoreAppendResult> for AppendResult {
    fn from(result: CoreAppendResult) -> Self {
        AppendResult {
            stream_version: result.stream_version,
            positions: result.positions,
            already_appended: result.already_appended,
        }
    }
}

/// Reading direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Direction {
    /// Oldest first.
    Forwards,
    /// Newest first.
    Backwards,
}

/// No direction: forwards.
fn direction(direction: Option<Direction>) -> CoreDirection {
    match direction {
        Some(Direction::Backwards) => CoreDirection::Backwards,
        Some(Direction::Forwards) | None => CoreDirection::Forwards,
    }
}

/// Where and how far to read one stream. Every field has a default: the first page, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReadStreamOptions {
    /// The first version to return, inclusive; none: the start (forwards) or the end (backwards).
    #[uniffi(default = None)]
    pub from_version: Option<u64>,
    /// Which way to read; none: forwards.
    #[uniffi(default = None)]
    pub direction: Option<Direction>,
    /// At most this many events.
    #[uniffi(default = 1000)]
    pub max_count: u32,
}

impl From<ReadStreamOptions> for CoreReadStreamOptions {
    fn from(options: ReadStreamOptions) -> Self {
        CoreReadStreamOptions {
            from_version: options.from_version,
            direction: direction(options.direction),
            max_count: options.max_count as usize,
        }
    }
}

/// A page of one stream.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StreamSlice {
    /// The events, in the requested direction.
    pub events: Vec<RecordedEvent>,
    /// The stream's current version (0 when it does not exist).
    pub stream_version: u64,
}

impl From<CoreStreamSlice> for StreamSlice {
    fn from(slice: CoreStreamSlice) -> Self {
        StreamSlice { events: slice.events.into_iter().map(Into::into).collect(), stream_version: slice.stream_version }
    }
}

/// Which events a read of the log or a subscription selects. Empty lists select everything; evaluated in SQL.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct EventFilter {
    /// Only streams whose id starts with this prefix.
    #[uniffi(default = None)]
    pub stream_prefix: Option<String>,
    /// Only these categories (the part of the stream id before the first `-`).
    #[uniffi(default = [])]
    pub categories: Vec<String>,
    /// Only these event types.
    #[uniffi(default = [])]
    pub event_types: Vec<String>,
}

impl From<EventFilter> for CoreEventFilter {
    fn from(filter: EventFilter) -> Self {
        CoreEventFilter {
            stream_prefix: filter.stream_prefix,
            categories: filter.categories,
            event_types: filter.event_types,
        }
    }
}

/// Where and how far to read the global log. Every field has a default: the first page, oldest first, everything.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReadAllOptions {
    /// An exclusive cursor: events after (forwards) or before (backwards) this position; none: the start / the end.
    #[uniffi(default = None)]
    pub from_position: Option<u64>,
    /// Which way to read; none: forwards.
    #[uniffi(default = None)]
    pub direction: Option<Direction>,
    /// At most this many events.
    #[uniffi(default = 1000)]
    pub max_count: u32,
    /// Which events; none: all.
    #[uniffi(default = None)]
    pub filter: Option<EventFilter>,
}

impl From<ReadAllOptions> for CoreReadAllOptions {
    fn from(options: ReadAllOptions) -> Self {
        CoreReadAllOptions {
            from_position: options.from_position,
            direction: direction(options.direction),
            max_count: options.max_count as usize,
            filter: options.filter.unwrap_or_default().into(),
        }
    }
}

/// A page of the global log.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LogSlice {
    /// The events, in the requested direction.
    pub events: Vec<RecordedEvent>,
    /// The highest position stored when the page was read.
    pub head_position: u64,
}

impl From<CoreLogSlice> for LogSlice {
    fn from(slice: CoreLogSlice) -> Self {
        LogSlice { events: slice.events.into_iter().map(Into::into).collect(), head_position: slice.head_position }
    }
}

/// Where a subscription starts when it has no stored checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum StartFrom {
    /// From the first event.
    Start,
    /// Live events only: after what is stored now.
    End,
    /// After this global position (all) or stream version (one stream), exclusive.
    After {
        /// The position or version.
        position: u64,
    },
}

/// How to subscribe. Every field has a default: from the start, everything, unnamed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SubscriptionOptions {
    /// Where to start without a stored checkpoint; none: the start.
    #[uniffi(default = None)]
    pub start: Option<StartFrom>,
    /// Which events (only for a subscription to all); none: all.
    #[uniffi(default = None)]
    pub filter: Option<EventFilter>,
    /// Store the checkpoint under this name after each delivered batch, and resume after it (at-least-once).
    #[uniffi(default = None)]
    pub name: Option<String>,
    /// At most this many events per read.
    #[uniffi(default = 500)]
    pub batch_size: u32,
}

impl From<SubscriptionOptions> for CoreSubscriptionOptions {
    fn from(options: SubscriptionOptions) -> Self {
        CoreSubscriptionOptions {
            from: match options.start {
                None | Some(StartFrom::Start) => CoreStartFrom::Start,
                Some(StartFrom::End) => CoreStartFrom::End,
                Some(StartFrom::After { position }) => CoreStartFrom::After(position),
            },
            filter: options.filter.unwrap_or_default().into(),
            name: options.name,
            batch_size: options.batch_size as usize,
        }
    }
}

/// Which events a synced subscription ([`crate::EventStore::subscribe_synced`]) delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SyncMode {
    /// Only events the server confirmed, in the server's order: never rewound, except after a server log reset
    /// (`SyncReport.log_reset`), when the confirmed prefix is rebuilt from the new log: then `on_rewound(0)`.
    ConfirmedOnly,
    /// Confirmed and pending events (optimistic), with an `on_rewound` notice when a sync rewrites the pending tail.
    IncludePending,
}

impl From<SyncMode> for CoreSyncMode {
    fn from(mode: SyncMode) -> Self {
        match mode {
            SyncMode::ConfirmedOnly => CoreSyncMode::ConfirmedOnly,
            SyncMode::IncludePending => CoreSyncMode::IncludePending,
        }
    }
}

/// A stored snapshot.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Snapshot {
    /// The stream it summarises.
    pub stream: String,
    /// The stream version the state includes.
    pub version: u64,
    /// The schema tag of the state's shape.
    pub schema_tag: String,
    /// The state, as JSON text.
    pub state: String,
    /// When it was saved, in ms since the Unix epoch.
    pub recorded_at: i64,
}

impl From<CoreSnapshot> for Snapshot {
    fn from(snapshot: CoreSnapshot) -> Self {
        Snapshot {
            stream: snapshot.stream,
            version: snapshot.version,
            schema_tag: snapshot.schema_tag,
            state: snapshot.state.to_string(),
            recorded_at: snapshot.recorded_at,
        }
    }
}

/// The result of [`crate::EventStore::aggregate_stream`].
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Aggregate {
    /// The folded state, as JSON text.
    pub state: String,
    /// The stream version the state includes (0 for a stream with no events).
    pub version: u64,
    /// The version of the snapshot the fold started from, if one was used.
    pub snapshot_version: Option<u64>,
    /// How many events were folded (those after the snapshot).
    pub events_folded: u64,
}

/// Counts of pending and confirmed events, the pull cursor and the conflicts list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncStatus {
    /// This store's replica id (UUID).
    pub replica_id: String,
    /// Local events the server has not confirmed yet.
    pub pending: u64,
    /// The local position up to which every event is confirmed.
    pub confirmed_through: u64,
    /// The server cursor pulled after, if any.
    pub cursor: Option<String>,
    /// Entries in the conflicts list.
    pub conflicts: u64,
    /// How many times the server's log turned out to be another one than this replica had synced with (its data
    /// was lost, or restored from an older backup) and sync started over: every local event pending again, pulled
    /// from the new log's start (nothing is lost; what the server no longer accepts becomes a conflict).
    pub log_resets: u64,
}

impl From<CoreSyncStatus> for SyncStatus {
    fn from(status: CoreSyncStatus) -> Self {
        SyncStatus {
            replica_id: status.replica_id.to_string(),
            pending: status.pending,
            confirmed_through: status.confirmed_through,
            cursor: status.cursor,
            conflicts: status.conflicts,
            log_resets: status.log_resets,
        }
    }
}

/// A local event the server rejected at sync time (or that no push could carry): it left its stream and stays in
/// the conflicts list until dismissed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Conflict {
    /// The event's id (UUID); pass it to `dismiss_conflict`.
    pub event_id: String,
    /// The stream it was appended to.
    pub stream: String,
    /// The event type.
    pub event_type: String,
    /// The payload.
    pub data: EventData,
    /// Metadata JSON object text, if any.
    pub metadata: Option<String>,
    /// The expectation it was appended with.
    pub expected: ExpectedVersion,
    /// Why: `WRONG_EXPECTED_VERSION`, `FOLLOWS_REJECTED`, `IDEMPOTENCY_CONFLICT`, `EVENT_TOO_LARGE`,
    /// `BATCH_TOO_LARGE`.
    pub code: String,
    /// The server stream's version when it was rejected, if known.
    pub actual_version: Option<u64>,
    /// A human-readable reason.
    pub message: String,
    /// When it was appended locally (ms since the Unix epoch).
    pub recorded_at: i64,
    /// When it was rejected (ms since the Unix epoch).
    pub rejected_at: i64,
}

impl From<CoreConflict> for Conflict {
    fn from(conflict: CoreConflict) -> Self {
        Conflict {
            event_id: conflict.event_id.to_string(),
            stream: conflict.stream,
            event_type: conflict.event_type,
            data: conflict.data.into(),
            metadata: conflict.metadata,
            expected: conflict.expected.into(),
            code: conflict.code.as_str().to_owned(),
            actual_version: conflict.actual_version,
            message: conflict.message,
            recorded_at: conflict.recorded_at,
            rejected_at: conflict.rejected_at,
        }
    }
}

/// What one sync did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    /// Events sent in pushes the server answered.
    pub pushed: u64,
    /// Server events applied locally.
    pub pulled: u64,
    /// Events that left their streams for the conflicts list during this sync.
    pub conflicts: Vec<Conflict>,
    /// When the local log was rewritten (a rebase or a rejection), the lowest position after which it was.
    pub rewound_from: Option<u64>,
    /// The server's log was another one than this replica had synced with (`LOG_RESET`: its data was lost or
    /// restored from a backup), so this sync started over (see `SyncStatus.log_resets`).
    pub log_reset: bool,
}

impl From<CoreSyncReport> for SyncReport {
    fn from(report: CoreSyncReport) -> Self {
        SyncReport {
            pushed: report.pushed as u64,
            pulled: report.pulled as u64,
            conflicts: report.conflicts.into_iter().map(Into::into).collect(),
            rewound_from: report.rewound_from,
            log_reset: report.log_reset,
        }
    }
}

/// How to reach the sync server.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncOptions {
    /// The server's base URL, e.g. `https://sync.example.com`.
    pub url: String,
    /// The bearer token that maps to this app's tenant.
    pub token: String,
    /// Events per push, at most; none: the client's default.
    #[uniffi(default = None)]
    pub batch_size: Option<u32>,
    /// PEM text of one or more extra root certificates to trust for `https://` (a private deployment's CA),
    /// besides the built-in Mozilla roots. Malformed PEM is `INVALID_ARGUMENT` (`root_certificate_pem`).
    #[uniffi(default = None)]
    pub root_certificate_pem: Option<String>,
}

/// Parses a UUID argument; a malformed one is `INVALID_ARGUMENT` naming `argument`.
pub(crate) fn parse_uuid(text: &str, argument: &str) -> Result<Uuid, EventLiteError> {
    Uuid::parse_str(text).map_err(|_| EventLiteError::invalid_argument(argument, "is not a UUID"))
}

#[cfg(test)]
mod tests {
    use eventlite::Uuid;

    use super::*;

    #[test]
    fn a_sync_status_keeps_its_log_resets() {
        let replica_id = Uuid::now_v7();
        let status = SyncStatus::from(CoreSyncStatus {
            replica_id,
            pending: 3,
            confirmed_through: 9,
            cursor: Some("12".into()),
            conflicts: 1,
            log_resets: 2,
        });
        assert_eq!(
            status,
            SyncStatus {
                replica_id: replica_id.to_string(),
                pending: 3,
                confirmed_through: 9,
                cursor: Some("12".into()),
                conflicts: 1,
                log_resets: 2,
            }
        );
    }

    #[test]
    fn a_sync_report_says_whether_the_server_log_was_reset() {
        let core =
            CoreSyncReport { pushed: 4, pulled: 5, rewound_from: Some(0), log_reset: true, ..Default::default() };
        assert_eq!(
            SyncReport::from(core),
            SyncReport { pushed: 4, pulled: 5, conflicts: vec![], rewound_from: Some(0), log_reset: true }
        );
        assert!(!SyncReport::from(CoreSyncReport::default()).log_reset);
    }
}
