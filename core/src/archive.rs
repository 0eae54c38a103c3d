//! Archives: a store's log as NDJSON (one [`ArchivedEvent`] per line) and the import that writes such a log into
//! another store with every event's id, stream, version, type, data, metadata and recorded time preserved.
//!
//! The line format is the export format of the `eventlite` command line (`docs/cli.md`) and is stable: fields may be
//! added, never renamed or given another meaning. JSON data and metadata are copied as the exact text stored, so an
//! exported then imported event is byte for byte the event that was appended; binary data travels as base64 with its
//! content type, as in the sync protocol.
//!
//! Import ([`Store::importer`]) is idempotent by event id: an event whose id is stored with the same stream, version,
//! type, data, metadata and time is skipped; the same id with anything else is an `IDEMPOTENCY_CONFLICT`. Each batch
//! is one transaction, all or nothing. Positions are not imported: they are the target log's own (`AUTOINCREMENT`),
//! in the archive's order. Imported events become local events of the target store, pending for sync with the
//! expectation `Exact(version - 1)`, as if appended there one by one.
//!
//! ```
//! use eventlite::archive::{ArchivedEvent, ImportMode};
//! use eventlite::{ExpectedVersion, NewEvent, ReadAllOptions, Store};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let source = Store::open_in_memory()?;
//! source.append_to_stream("order-1", &[NewEvent::from_json_text("Placed", r#"{"total":42}"#)], ExpectedVersion::Any)?;
//! let lines: Vec<String> = source
//!     .read_all(&ReadAllOptions::forwards())?
//!     .events
//!     .iter()
//!     .map(|event| ArchivedEvent::from_recorded(event).to_line())
//!     .collect();
//!
//! let target = Store::open_in_memory()?;
//! let events = lines
//!     .iter()
//!     .enumerate()
//!     .map(|(index, line)| ArchivedEvent::parse_line(line).and_then(|archived| archived.into_import(index)))
//!     .collect::<Result<Vec<_>, _>>()?;
//! let mut importer = target.importer(ImportMode::Write)?;
//! assert_eq!(importer.import_batch(&events)?.imported, 1);
//! assert_eq!(importer.import_batch(&events)?.skipped, 1, "a second import writes nothing");
//! importer.finish()?; // the importer holds the store's writer connection (a memory store's only one) until then
//! assert_eq!(target.read_all(&ReadAllOptions::forwards())?.events, source.read_all(&ReadAllOptions::forwards())?.events);
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::sync::MutexGuard;

use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::error::{ImportError, InvalidArgument, ReadError};
use crate::event::{EventData, NewEvent, RecordedEvent, same_metadata, validate_writable_stream_id};
use crate::events_table::{NewRow, RowWriter};
use crate::log::ReadAllOptions;
use crate::store::{Store, event_from_row, lock, read_log_page, stream_version};
use crate::stream::{Direction, ExpectedVersion};
use crate::sync::message::WireData;
use crate::sync::replica::encode_expected;

/// One event of an archive: one line of NDJSON.
///
/// `{"position":1,"event_id":"…","stream":"order-1","version":1,"type":"Placed","data":{"total":42},
/// "metadata":{"correlationId":"c-1"},"recorded_at":1764547200000}`; binary data as `"data_base64"` with
/// `"content_type"` instead of `"data"`. Unknown fields are refused (a typo must not silently drop data).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchivedEvent {
    /// The event's position in the log it was exported from; informational (import assigns the target's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    /// The event's id.
    pub event_id: Uuid,
    /// The stream.
    pub stream: String,
    /// The event's version in its stream (1-based).
    pub version: u64,
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// JSON data, verbatim (`"data": null` is the JSON value null, not absent data).
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub data: Option<Box<RawValue>>,
    /// Binary data, standard base64 with padding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<String>,
    /// The MIME type of binary data; absent for JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// JSON data as a string holding its exact text, instead of `data`, when that text cannot be embedded as it is
    /// (it has whitespace around the value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_text: Option<String>,
    /// Metadata: a JSON object, verbatim, or absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Box<RawValue>>,
    /// Metadata as a string holding its exact text, instead of `metadata`, when that text cannot be embedded as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_text: Option<String>,
    /// When the event was recorded, ms since the Unix epoch.
    pub recorded_at: i64,
}

/// A field that is present holds a value, JSON `null` included (serde reads `null` as `None` otherwise).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(deserializer).map(Some)
}

impl ArchivedEvent {
    /// The archived form of a stored event.
    pub fn from_recorded(event: &RecordedEvent) -> ArchivedEvent {
        let mut wire = WireData::from_event_data(&event.data);
        let mut data_text = None;
        if let EventData::Json(text) = &event.data
            && wire.data.as_ref().is_none_or(|raw| raw.get() != text)
        {
            wire.data = None;
            data_text = Some(text.clone());
        }
        let metadata = event
            .metadata
            .as_deref()
            .and_then(|text| RawValue::from_string(text.to_owned()).ok().filter(|raw| raw.get() == text));
        let metadata_text = match (&event.metadata, &metadata) {
            (Some(text), None) => Some(text.clone()),
            _ => None,
        };
        ArchivedEvent {
            position: Some(event.position),
            event_id: event.event_id,
            stream: event.stream.clone(),
            version: event.version,
            event_type: event.event_type.clone(),
            data: wire.data,
            data_base64: wire.data_base64,
            content_type: wire.content_type,
            data_text,
            metadata,
            metadata_text,
            recorded_at: event.recorded_at,
        }
    }

    /// The line, without its newline.
    pub fn to_line(&self) -> String {
        // Every field serialises infallibly: strings, integers and already-valid raw JSON.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses one line (surrounding whitespace allowed). The error names what is wrong; callers add the line number.
    pub fn parse_line(line: &str) -> Result<ArchivedEvent, InvalidArgument> {
        serde_json::from_str(line.trim()).map_err(|error| InvalidArgument::new("line", error.to_string()))
    }

    /// The event to import. `index` names it in errors (`events[index]`).
    pub fn into_import(self, index: usize) -> Result<ImportEvent, InvalidArgument> {
        let argument = |field: &str| format!("events[{index}].{field}");
        let data = match self.data_text {
            Some(_) if self.data.is_some() || self.data_base64.is_some() || self.content_type.is_some() => {
                return Err(InvalidArgument::new(argument("data_text"), "give data_text alone, without data"));
            }
            Some(text) => EventData::Json(text),
            None if self.data.is_none() && self.data_base64.is_none() => {
                // Absent data is not JSON null: a line that lost its data must not import as an event without it.
                return Err(InvalidArgument::new(argument("data"), "give data, data_text or data_base64"));
            }
            None => WireData { data: self.data, data_base64: self.data_base64, content_type: self.content_type }
                .to_event_data(index)?,
        };
        let metadata = match (self.metadata, self.metadata_text) {
            (Some(_), Some(_)) => {
                return Err(InvalidArgument::new(argument("metadata_text"), "give metadata or metadata_text"));
            }
            (Some(raw), None) => Some(raw.get().to_owned()),
            (None, text) => text,
        };
        Ok(ImportEvent {
            event_id: self.event_id,
            stream: self.stream,
            version: self.version,
            event_type: self.event_type,
            data,
            metadata,
            recorded_at: self.recorded_at,
        })
    }
}

/// An event to import as it was recorded elsewhere: its id, stream, version and time are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportEvent {
    /// The event's id.
    pub event_id: Uuid,
    /// The stream (writable: not `$`-reserved).
    pub stream: String,
    /// Its version: the target stream must be at `version - 1` when it is imported (or already hold it).
    pub version: u64,
    /// The event type.
    pub event_type: String,
    /// The payload.
    pub data: EventData,
    /// Metadata: JSON object text.
    pub metadata: Option<String>,
    /// When it was recorded, ms since the Unix epoch (at least 0).
    pub recorded_at: i64,
}

impl ImportEvent {
    /// The event of a store's log, to import elsewhere.
    pub fn from_recorded(event: &RecordedEvent) -> ImportEvent {
        ImportEvent {
            event_id: event.event_id,
            stream: event.stream.clone(),
            version: event.version,
            event_type: event.event_type.clone(),
            data: event.data.clone(),
            metadata: event.metadata.clone(),
            recorded_at: event.recorded_at,
        }
    }

    fn same_as(&self, stored: &RecordedEvent) -> bool {
        stored.stream == self.stream
            && stored.version == self.version
            && stored.event_type == self.event_type
            && stored.data.same_value(&self.data)
            && same_metadata(stored.metadata.as_deref(), self.metadata.as_deref())
            && stored.recorded_at == self.recorded_at
    }
}

/// Whether an [`Importer`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// Every batch is committed.
    Write,
    /// Every batch is checked exactly as [`ImportMode::Write`] would write it, all in one transaction that is
    /// rolled back when the importer is finished or dropped: the store is left unchanged. Holds the store's write
    /// lock until then.
    DryRun,
}

/// What one batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportOutcome {
    /// Events written (or, in a dry run, that would be written).
    pub imported: u64,
    /// Events skipped because they were already stored, identical.
    pub skipped: u64,
}

/// Imports batches into a store; see the module docs. Holds the store's writer connection while it lives: finish
/// or drop it before using the store from the same thread (a memory store reads through that connection too).
pub struct Importer<'a> {
    store: &'a Store,
    connection: MutexGuard<'a, Connection>,
    mode: ImportMode,
    /// A dry run's transaction is open.
    open: bool,
}

impl std::fmt::Debug for Importer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Importer").field("mode", &self.mode).finish_non_exhaustive()
    }
}

impl Store {
    /// Reads the log for an export: forwards after `options.from_position`, with `options.filter`, in pages of
    /// `options.max_count` handed to `page` in order, all in one read transaction. The export is one consistent
    /// snapshot of the log however long it takes: a commit made meanwhile (an append, or a sync rebase that moves
    /// pending events to new positions) is either wholly in it or not at all, so no event appears twice or at two
    /// versions. On a file store the transaction is a WAL read snapshot, which never blocks writers; a memory store's
    /// one connection is held meanwhile. Stops at the first error `page` returns. Returns the events handed over.
    pub fn export_pages<E: From<ReadError>>(
        &self,
        options: &ReadAllOptions,
        mut page: impl FnMut(&[RecordedEvent]) -> Result<(), E>,
    ) -> Result<u64, E> {
        options.filter.validate().map_err(|error| E::from(error.into()))?;
        if options.max_count == 0 {
            return Err(E::from(InvalidArgument::new("max_count", "must be at least 1").into()));
        }
        self.with_reader(|connection| {
            // A deferred BEGIN: the snapshot starts at the first read and holds until the end.
            let transaction = connection.unchecked_transaction().map_err(|error| E::from(error.into()))?;
            let mut exported = 0u64;
            let mut from_position = options.from_position;
            loop {
                let read = ReadAllOptions { from_position, direction: Direction::Forwards, ..options.clone() };
                let events = read_log_page(&transaction, &read).map_err(|error| E::from(error.into()))?;
                let Some(last) = events.last() else { break };
                from_position = Some(last.position);
                page(&events)?;
                exported += events.len() as u64;
                if events.len() < options.max_count {
                    break;
                }
            }
            transaction.commit().map_err(|error| E::from(error.into()))?;
            Ok(exported)
        })
    }

    /// An importer writing into this store. A read-only store fails with `STORAGE_READ_ONLY`.
    pub fn importer(&self, mode: ImportMode) -> Result<Importer<'_>, ImportError> {
        if self.shared.options.read_only {
            return Err(crate::error::StorageError::new(
                crate::ErrorCode::StorageReadOnly,
                "the store is open read-only",
            )
            .into());
        }
        let connection = lock(&self.shared.writer);
        let mut importer = Importer { store: self, connection, mode, open: false };
        if mode == ImportMode::DryRun {
            importer.connection.execute_batch("BEGIN IMMEDIATE")?;
            importer.open = true;
        }
        Ok(importer)
    }
}

impl Importer<'_> {
    /// Imports one batch: all of it or, on an error, nothing of it. Events are checked in order: each one's id (an
    /// identical stored event is skipped, a different one is `IDEMPOTENCY_CONFLICT`), then its stream's version
    /// (`WRONG_EXPECTED_VERSION` unless the stream is at `version - 1`), its names, JSON and size.
    pub fn import_batch(&mut self, events: &[ImportEvent]) -> Result<ImportOutcome, ImportError> {
        let max_event_size = self.store.shared.options.max_event_size;
        match self.mode {
            ImportMode::DryRun => {
                let outcome = import_into(&self.connection, events, max_event_size)?;
                fold_projections(self.store, &self.connection)?;
                Ok(outcome)
            }
            ImportMode::Write => {
                let transaction =
                    self.connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let outcome = import_into(&transaction, events, max_event_size)?;
                // Imported events are local events: the projections fold them in the batch's transaction.
                fold_projections(self.store, &transaction)?;
                transaction.commit()?;
                if outcome.imported > 0 {
                    self.store.shared.commits.wake();
                }
                Ok(outcome)
            }
        }
    }

    /// Ends the import; a dry run's transaction is rolled back.
    pub fn finish(mut self) -> Result<(), ImportError> {
        self.rollback()
    }

    fn rollback(&mut self) -> Result<(), ImportError> {
        if std::mem::take(&mut self.open) {
            self.connection.execute_batch("ROLLBACK")?;
        }
        Ok(())
    }
}

fn fold_projections(store: &Store, connection: &Connection) -> Result<(), ImportError> {
    use crate::projection::runner::{self, Mode, RunError};
    let mut projections = lock(&store.shared.projections);
    match runner::catch_up(connection, &mut projections, Mode::Refuse, None, &[]) {
        Ok(_) => Ok(()),
        Err(RunError::Refused(refused)) => {
            projections.invalidate();
            Err(ImportError::ProjectionFailed {
                projection: refused.projection,
                position: refused.position,
                message: refused.message,
            })
        }
        Err(RunError::Sqlite(error)) => {
            projections.invalidate();
            Err(error.into())
        }
    }
}

impl Drop for Importer<'_> {
    fn drop(&mut self) {
        // A dry run never commits; failing to roll back leaves the connection to do it when it closes.
        let _ = self.rollback();
    }
}

fn import_into(
    connection: &Connection,
    events: &[ImportEvent],
    max_event_size: usize,
) -> Result<ImportOutcome, ImportError> {
    let mut outcome = ImportOutcome::default();
    let mut versions: HashMap<&str, u64> = HashMap::new();
    let mut lookup = connection
        .prepare_cached(&format!("SELECT {} FROM events WHERE event_id = ?1", crate::events_table::COLUMNS))?;
    let mut writer = RowWriter::new(connection)?;
    for (index, event) in events.iter().enumerate() {
        if let Some(stored) = lookup.query_row([event.event_id.as_bytes()], event_from_row).optional()? {
            if event.same_as(&stored) {
                outcome.skipped += 1;
                continue;
            }
            return Err(ImportError::IdempotencyConflict {
                index,
                event_id: event.event_id,
                reason: format!(
                    "the id is stored for another event (stream {:?}, version {}, or other type, data, metadata or time)",
                    stored.stream, stored.version
                ),
            });
        }
        validate(event, index, max_event_size)?;
        let current = match versions.get(event.stream.as_str()) {
            Some(version) => *version,
            None => stream_version(connection, &event.stream)?,
        };
        if current + 1 != event.version {
            return Err(ImportError::WrongExpectedVersion {
                index,
                stream: event.stream.clone(),
                expected: event.version - 1,
                actual: current,
            });
        }
        writer.insert(&NewRow {
            event_id: event.event_id,
            stream: &event.stream,
            version: event.version,
            event_type: &event.event_type,
            data: &event.data,
            metadata: event.metadata.as_deref(),
            recorded_at: event.recorded_at,
            sync_expected: Some(encode_expected(ExpectedVersion::Exact(event.version - 1), 0)),
            server_position: None,
        })?;
        versions.insert(&event.stream, event.version);
        outcome.imported += 1;
    }
    Ok(outcome)
}

fn validate(event: &ImportEvent, index: usize, max_event_size: usize) -> Result<(), ImportError> {
    let invalid = |argument: &str, reason: &str| ImportError::InvalidArgument {
        index,
        error: InvalidArgument::new(format!("events[{index}].{argument}"), reason),
    };
    validate_writable_stream_id(&event.stream).map_err(|error| ImportError::InvalidArgument { index, error })?;
    if event.version == 0 {
        return Err(invalid("version", "versions start at 1"));
    }
    if i64::try_from(event.version).is_err() {
        return Err(invalid("version", "is larger than 2^63 - 1"));
    }
    if event.recorded_at < 0 {
        return Err(invalid("recorded_at", "must be at least 0"));
    }
    let new = NewEvent {
        event_id: Some(event.event_id),
        event_type: event.event_type.clone(),
        data: event.data.clone(),
        metadata: event.metadata.clone(),
    };
    let size = new.size();
    if size > max_event_size {
        return Err(ImportError::EventTooLarge { index, size, limit: max_event_size });
    }
    new.validate(index).map_err(|error| ImportError::InvalidArgument { index, error })
}

#[cfg(test)]
mod tests {
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use serde_json::json;

    use super::*;
    use crate::ErrorCode;
    use crate::log::ReadAllOptions;

    fn source() -> Store {
        let store = Store::open_in_memory().unwrap();
        let placed = NewEvent::json("Placed", &json!({"total": 42, "b": [1, 2]}))
            .with_id(Uuid::from_u128(1))
            .with_metadata(&json!({"correlationId": "c-1"}));
        let photo = NewEvent::binary("Photo", "image/png", vec![0, 1, 255]).with_id(Uuid::from_u128(2));
        store.append_to_stream("order-1", &[placed, photo], ExpectedVersion::NoStream).unwrap();
        store
            .append_to_stream(
                "user-1",
                &[NewEvent::from_json_text("Joined", " \"x\" ").with_metadata_text(" {\"a\": 1} ")],
                ExpectedVersion::Any,
            )
            .unwrap();
        store
    }

    fn lines(store: &Store) -> Vec<String> {
        let events = store.read_all(&ReadAllOptions::forwards()).unwrap().events;
        events.iter().map(|event| ArchivedEvent::from_recorded(event).to_line()).collect()
    }

    fn parse(lines: &[String]) -> Vec<ImportEvent> {
        lines
            .iter()
            .enumerate()
            .map(|(index, line)| ArchivedEvent::parse_line(line).unwrap().into_import(index).unwrap())
            .collect()
    }

    fn log(store: &Store) -> Vec<RecordedEvent> {
        store.read_all(&ReadAllOptions::forwards()).unwrap().events
    }

    #[test]
    fn an_archive_round_trips_every_field_and_a_second_import_writes_nothing() {
        let source = source();
        let target = Store::open_in_memory().unwrap();
        let events = parse(&lines(&source));
        let mut importer = target.importer(ImportMode::Write).unwrap();
        assert_eq!(importer.import_batch(&events).unwrap(), ImportOutcome { imported: 3, skipped: 0 });
        assert_eq!(importer.import_batch(&events).unwrap(), ImportOutcome { imported: 0, skipped: 3 });
        importer.finish().unwrap();
        assert_eq!(log(&target), log(&source));
        assert_eq!(target.sync_status().unwrap().pending, 3, "imported events are local, pending");
    }

    #[test]
    fn the_line_format_is_stable() {
        let line = &lines(&source())[1];
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(value["event_id"], "00000000-0000-0000-0000-000000000002");
        assert_eq!(value["stream"], "order-1");
        assert_eq!(value["version"], 2);
        assert_eq!(value["type"], "Photo");
        assert_eq!(value["data_base64"], "AAH/");
        assert_eq!(value["content_type"], "image/png");
        assert!(value["recorded_at"].is_i64());
        assert!(ArchivedEvent::parse_line(r#"{"event_id":"00000000-0000-0000-0000-000000000002","stream":"a-1","version":1,"type":"E","recorded_at":1,"extra":1}"#).is_err());
    }

    #[test]
    fn a_line_without_data_is_refused_and_json_null_data_round_trips() {
        let line = r#"{"event_id":"00000000-0000-0000-0000-000000000003","stream":"a-1","version":1,"type":"E","recorded_at":1}"#;
        let error = ArchivedEvent::parse_line(line).unwrap().into_import(0).unwrap_err();
        assert_eq!(error.argument, "events[0].data", "{error}");
        let source = Store::open_in_memory().unwrap();
        source.append_to_stream("a-1", &[NewEvent::from_json_text("E", "null")], ExpectedVersion::Any).unwrap();
        let lines = lines(&source);
        assert!(lines[0].contains(r#""data":null"#), "{}", lines[0]);
        let events = parse(&lines);
        assert_eq!(events[0].data, EventData::Json("null".into()));
    }

    #[test]
    fn a_failing_batch_writes_nothing_of_itself() {
        let source = source();
        let target = Store::open_in_memory().unwrap();
        let mut events = parse(&lines(&source));
        events[2].version = 5; // user-1 is at 0: a gap
        let mut importer = target.importer(ImportMode::Write).unwrap();
        let error = importer.import_batch(&events).unwrap_err();
        assert_eq!(error.code(), ErrorCode::WrongExpectedVersion);
        assert!(matches!(error, ImportError::WrongExpectedVersion { index: 2, expected: 4, actual: 0, .. }));
        drop(importer);
        assert!(log(&target).is_empty());
    }

    #[test]
    fn a_reused_id_and_bad_events_are_refused_with_their_codes() {
        let source = source();
        let target = Store::open_in_memory().unwrap();
        let events = parse(&lines(&source));
        target.importer(ImportMode::Write).unwrap().import_batch(&events).unwrap();
        let mut changed = events[0].clone();
        changed.recorded_at += 1;
        let mut bad_type = events[0].clone();
        bad_type.event_id = Uuid::from_u128(9);
        bad_type.version = 3;
        bad_type.event_type = String::new();
        let mut reserved = bad_type.clone();
        reserved.event_type = "E".into();
        reserved.stream = "$all".into();
        reserved.version = 1;
        let mut zero = reserved.clone();
        zero.stream = "z-1".into();
        zero.version = 0;
        let mut bad_json = zero.clone();
        bad_json.version = 1;
        bad_json.data = EventData::Json("{oops".into());
        let cases = [
            (changed, ErrorCode::IdempotencyConflict),
            (bad_type, ErrorCode::InvalidArgument),
            (reserved, ErrorCode::InvalidArgument),
            (zero, ErrorCode::InvalidArgument),
            (bad_json, ErrorCode::InvalidArgument),
        ];
        let before = log(&target);
        let mut importer = target.importer(ImportMode::Write).unwrap();
        for (event, code) in cases {
            let error = importer.import_batch(std::slice::from_ref(&event)).unwrap_err();
            assert_eq!(error.code(), code, "{event:?}: {error}");
        }
        drop(importer);
        assert_eq!(log(&target), before);
    }

    #[test]
    fn a_dry_run_checks_every_batch_and_writes_nothing() {
        let source = source();
        let target = Store::open_in_memory().unwrap();
        let events = parse(&lines(&source));
        let mut importer = target.importer(ImportMode::DryRun).unwrap();
        assert_eq!(importer.import_batch(&events[..2]).unwrap().imported, 2);
        // The second batch continues the first one's streams, as a real import would.
        let mut next = events[2].clone();
        next.event_id = Uuid::from_u128(10);
        next.stream = "order-1".into();
        next.version = 3;
        assert_eq!(importer.import_batch(&[next]).unwrap().imported, 1);
        importer.finish().unwrap();
        assert!(log(&target).is_empty());
        target.append_to_stream("a-1", &[NewEvent::json("E", &1)], ExpectedVersion::Any).unwrap();
    }
}
