//! The store: opening, appending, reading.
//!
//! Concurrency model: one writer connection behind a mutex, every append one `BEGIN IMMEDIATE` transaction, so
//! SQLite serialises writers across threads and processes and positions become visible in commit order. A file store
//! in shared locking mode also has a read-only reader connection, so reads never wait behind an append (WAL).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};
use uuid::Uuid;

use crate::clock;
use crate::error::{AppendError, InvalidArgument, OpenError, ReadError, StorageError};
use crate::event::{
    EventData, NewEvent, RecordedEvent, category_of, validate_stream_id,
    validate_writable_stream_id,
};
use crate::log::{EVENT_COLUMNS, LogSlice, ReadAllOptions, clamp_i64, page_query};
use crate::schema;
use crate::stream::{AppendResult, Direction, ExpectedVersion, ReadStreamOptions, StreamSlice};

/// How hard SQLite works to make a commit durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// `synchronous=NORMAL`: in WAL mode a commit survives an application crash (SIGKILL included); the last
    /// commits may be lost on power failure or an OS crash. The default.
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit is fsynced and survives power failure.
    Full,
}

/// Settings for [`Store::open_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Durability of commits.
    pub synchronous: Synchronous,
    /// How long to wait for another connection's write lock before failing with `STORAGE_BUSY`.
    pub busy_timeout: Duration,
    /// The largest event accepted: type + data + metadata bytes. Default 1 MiB.
    pub max_event_size: usize,
    /// The SQLite VFS to open the file with (`None`: the platform default). The browser uses `opfs-sahpool`.
    pub vfs: Option<String>,
    /// `locking_mode=EXCLUSIVE`: one connection owns the file. Required for WAL on the OPFS sahpool VFS.
    pub exclusive_locking: bool,
    /// How often a waiting subscription checks for commits made by other processes (`PRAGMA data_version`).
    /// Commits made through this process's stores wake subscribers at once.
    pub external_poll_interval: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            synchronous: Synchronous::Normal,
            busy_timeout: Duration::from_secs(5),
            max_event_size: 1024 * 1024,
            vfs: None,
            exclusive_locking: false,
            external_poll_interval: Duration::from_millis(50),
        }
    }
}

/// Where a store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A private in-memory database, gone when the store is dropped.
    Memory,
    /// A file (native) or a name in the VFS's namespace (browser).
    File(PathBuf),
}

/// An event store over one SQLite database. Cheap to clone; clones share connections; `Send + Sync`.
#[derive(Clone)]
pub struct Store {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.shared.location)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Shared {
    pub(crate) location: Location,
    pub(crate) options: StoreOptions,
    writer: Mutex<Connection>,
    reader: Option<Mutex<Connection>>,
    pub(crate) commits: CommitSignal,
}

/// Wakes subscribers in this process after each commit. The generation counts commits made through this store.
#[derive(Default)]
pub(crate) struct CommitSignal {
    generation: Mutex<u64>,
    #[cfg_attr(all(target_family = "wasm", target_os = "unknown"), allow(dead_code))]
    changed: Condvar,
}

impl CommitSignal {
    /// Advances the generation and wakes every waiter: after a commit, or to make subscription threads re-check
    /// whether they were stopped (a spurious wake only costs them one empty poll).
    pub(crate) fn wake(&self) {
        *lock(&self.generation) += 1;
        self.changed.notify_all();
    }

    pub(crate) fn generation(&self) -> u64 {
        *lock(&self.generation)
    }

    /// Waits until the generation differs from `seen` or `timeout` passes; returns the generation.
    #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
    pub(crate) fn wait_past(&self, seen: u64, timeout: Duration) -> u64 {
        let guard = lock(&self.generation);
        let (guard, _) = self
            .changed
            .wait_timeout_while(guard, timeout, |generation| *generation == seen)
            .unwrap_or_else(PoisonError::into_inner);
        *guard
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a connection leaves no open transaction: rusqlite rolls back on drop.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Store {
    /// Opens (creating if needed) a file-backed store in WAL mode with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, OpenError> {
        Store::open_with(
            Location::File(path.as_ref().to_path_buf()),
            StoreOptions::default(),
        )
    }

    /// Opens a private in-memory store.
    pub fn open_in_memory() -> Result<Store, OpenError> {
        Store::open_with(Location::Memory, StoreOptions::default())
    }

    /// Opens a store with explicit options. Migrates the schema forward; refuses files that are not EventLite
    /// databases or have a newer schema, without writing to them.
    pub fn open_with(location: Location, options: StoreOptions) -> Result<Store, OpenError> {
        if options.max_event_size == 0 {
            return Err(InvalidArgument::new("max_event_size", "must be at least 1").into());
        }
        let mut writer = open_connection(&location, &options)?;
        schema::read_version(&writer)?;
        if matches!(location, Location::File(_)) {
            let mode: String =
                writer.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StorageError::new(
                    crate::ErrorCode::StorageError,
                    format!("the database refused WAL mode (journal_mode is {mode})"),
                )
                .into());
            }
        }
        let synchronous = match options.synchronous {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        };
        writer.pragma_update(None, "synchronous", synchronous)?;
        schema::migrate(&mut writer)?;
        let reader = match location {
            Location::File(_) if !options.exclusive_locking => {
                let reader = open_connection(&location, &options)?;
                reader.pragma_update(None, "query_only", true)?;
                Some(Mutex::new(reader))
            }
            _ => None,
        };
        Ok(Store {
            shared: Arc::new(Shared {
                location,
                options,
                writer: Mutex::new(writer),
                reader,
                commits: CommitSignal::default(),
            }),
        })
    }

    /// The options this store was opened with.
    pub fn options(&self) -> &StoreOptions {
        &self.shared.options
    }

    /// Where this store lives.
    pub fn location(&self) -> &Location {
        &self.shared.location
    }

    /// Appends `events` to `stream` atomically if the stream's version satisfies `expected`.
    ///
    /// Versions continue densely from the stream's current version; positions are taken from the global sequence in
    /// commit order. If the first event's id is already stored, the batch is an idempotent retry: when every event
    /// matches the stored one (same id, stream, consecutive versions, type, data and metadata) the original result
    /// is returned with `already_appended` and nothing is written, whatever `expected` says; otherwise the append
    /// fails with `IDEMPOTENCY_CONFLICT`. An empty batch only checks the expectation.
    pub fn append_to_stream(
        &self,
        stream: &str,
        events: &[NewEvent],
        expected: ExpectedVersion,
    ) -> Result<AppendResult, AppendError> {
        validate_writable_stream_id(stream)?;
        self.validate_batch(events)?;
        let result = {
            let mut connection = lock(&self.shared.writer);
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if let Some(original) = find_original_append(&transaction, stream, events)? {
                return Ok(original);
            }
            let actual = stream_version(&transaction, stream)?;
            if !expected.is_satisfied_by(actual) {
                return Err(AppendError::WrongExpectedVersion {
                    stream: stream.to_owned(),
                    expected,
                    actual,
                });
            }
            let positions = insert_events(&transaction, stream, actual, events, expected)?;
            transaction.commit()?;
            AppendResult {
                stream_version: actual + events.len() as u64,
                positions,
                already_appended: false,
            }
        };
        if !events.is_empty() {
            self.shared.commits.wake();
        }
        Ok(result)
    }

    fn validate_batch(&self, events: &[NewEvent]) -> Result<(), AppendError> {
        let limit = self.shared.options.max_event_size;
        for (index, event) in events.iter().enumerate() {
            let size = event.size();
            if size > limit {
                return Err(AppendError::EventTooLarge { index, size, limit });
            }
            event.validate(index)?;
        }
        if events.len() > 1 {
            let mut seen = HashSet::with_capacity(events.len());
            for (index, id) in events
                .iter()
                .enumerate()
                .filter_map(|(i, e)| e.event_id.map(|id| (i, id)))
            {
                if !seen.insert(id) {
                    return Err(InvalidArgument::new(
                        format!("events[{index}].event_id"),
                        format!("{id} appears twice in the batch"),
                    )
                    .into());
                }
            }
        }
        Ok(())
    }

    /// Reads a page of one stream. A stream that does not exist reads as empty at version 0.
    pub fn read_stream(
        &self,
        stream: &str,
        options: ReadStreamOptions,
    ) -> Result<StreamSlice, ReadError> {
        validate_stream_id(stream)?;
        self.with_reader(|connection| {
            let transaction = connection.unchecked_transaction()?;
            let stream_version = stream_version(&transaction, stream)?;
            let events = read_stream_page(&transaction, stream, options)?;
            transaction.commit()?;
            Ok(StreamSlice {
                events,
                stream_version,
            })
        })
    }

    /// Reads a page of the global log after (forwards) or before (backwards) an exclusive position.
    pub fn read_all(&self, options: &ReadAllOptions) -> Result<LogSlice, ReadError> {
        options.filter.validate()?;
        self.with_reader(|connection| {
            let transaction = connection.unchecked_transaction()?;
            let head_position = head_position(&transaction)?;
            let events = read_log_page(&transaction, options)?;
            transaction.commit()?;
            Ok(LogSlice {
                events,
                head_position,
            })
        })
    }

    /// The highest position stored (0 for an empty store).
    pub fn head_position(&self) -> Result<u64, ReadError> {
        self.with_reader(|connection| Ok(head_position(connection)?))
    }

    /// A stream's current version (0 when it does not exist).
    pub fn stream_version(&self, stream: &str) -> Result<u64, ReadError> {
        validate_stream_id(stream)?;
        self.with_reader(|connection| Ok(stream_version(connection, stream)?))
    }

    /// Runs `f` on the reader connection (the writer for memory and exclusive stores).
    pub(crate) fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> T) -> T {
        match &self.shared.reader {
            Some(reader) => f(&lock(reader)),
            None => f(&lock(&self.shared.writer)),
        }
    }

    /// Runs `f` on the writer connection.
    pub(crate) fn with_writer<T>(&self, f: impl FnOnce(&mut Connection) -> T) -> T {
        f(&mut lock(&self.shared.writer))
    }

    /// Opens another connection to the same file, for a subscription that polls on its own thread.
    /// `None` for memory and exclusive stores, which have only one connection.
    pub(crate) fn open_extra_reader(&self) -> Result<Option<Connection>, StorageError> {
        match &self.shared.location {
            Location::File(_) if !self.shared.options.exclusive_locking => {
                let connection = open_connection(&self.shared.location, &self.shared.options)?;
                connection.pragma_update(None, "query_only", true)?;
                Ok(Some(connection))
            }
            _ => Ok(None),
        }
    }
}

fn open_connection(
    location: &Location,
    options: &StoreOptions,
) -> Result<Connection, StorageError> {
    let connection = match (location, &options.vfs) {
        (Location::Memory, _) => Connection::open_in_memory()?,
        (Location::File(path), None) => Connection::open(path)?,
        (Location::File(path), Some(vfs)) => Connection::open_with_flags_and_vfs(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            vfs.as_str(),
        )?,
    };
    connection.busy_timeout(options.busy_timeout)?;
    connection.set_prepared_statement_cache_capacity(64);
    if options.exclusive_locking {
        connection.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
    }
    Ok(connection)
}

pub(crate) fn stream_version(connection: &Connection, stream: &str) -> rusqlite::Result<u64> {
    let version: Option<i64> = connection
        .prepare_cached("SELECT max(version) FROM events WHERE stream = ?1")?
        .query_row([stream], |row| row.get(0))?;
    Ok(version.map_or(0, |v| v as u64))
}

pub(crate) fn head_position(connection: &Connection) -> rusqlite::Result<u64> {
    let position: Option<i64> = connection
        .prepare_cached("SELECT max(position) FROM events")?
        .query_row([], |row| row.get(0))?;
    Ok(position.map_or(0, |p| p as u64))
}

pub(crate) fn read_stream_page(
    connection: &Connection,
    stream: &str,
    options: ReadStreamOptions,
) -> rusqlite::Result<Vec<RecordedEvent>> {
    let limit = clamp_i64(options.max_count as u64);
    let sql = match options.direction {
        Direction::Forwards => const_format_stream("version >= ?2 ORDER BY version ASC"),
        Direction::Backwards => const_format_stream("version <= ?2 ORDER BY version DESC"),
    };
    let from = match (options.direction, options.from_version) {
        (_, Some(version)) => clamp_i64(version),
        (Direction::Forwards, None) => 0,
        (Direction::Backwards, None) => i64::MAX,
    };
    let mut statement = connection.prepare_cached(&sql)?;
    let rows = statement.query_map(params![stream, from, limit], event_from_row)?;
    rows.collect()
}

fn const_format_stream(condition: &str) -> String {
    format!("SELECT {EVENT_COLUMNS} FROM events WHERE stream = ?1 AND {condition} LIMIT ?3")
}

pub(crate) fn read_log_page(
    connection: &Connection,
    options: &ReadAllOptions,
) -> rusqlite::Result<Vec<RecordedEvent>> {
    let (sql, params) = page_query(
        &options.filter,
        options.from_position,
        options.direction,
        options.max_count,
    );
    let mut statement = connection.prepare_cached(&sql)?;
    let rows = statement.query_map(rusqlite::params_from_iter(params), event_from_row)?;
    rows.collect()
}

pub(crate) fn event_from_row(row: &Row<'_>) -> rusqlite::Result<RecordedEvent> {
    let content_type: Option<String> = row.get(5)?;
    let data = match content_type {
        None => EventData::Json(row.get(6)?),
        Some(content_type) => EventData::Binary {
            content_type,
            bytes: row.get(6)?,
        },
    };
    Ok(RecordedEvent {
        position: row.get::<_, i64>(0)? as u64,
        event_id: Uuid::from_bytes(row.get(1)?),
        stream: row.get(2)?,
        version: row.get::<_, i64>(3)? as u64,
        event_type: row.get(4)?,
        data,
        metadata: row.get(7)?,
        recorded_at: row.get(8)?,
    })
}

/// If the batch's first id is stored, checks the whole batch against what is stored and returns the original
/// result; `None` when the batch is new.
fn find_original_append(
    connection: &Connection,
    stream: &str,
    events: &[NewEvent],
) -> Result<Option<AppendResult>, AppendError> {
    let Some(first_id) = events.first().and_then(|event| event.event_id) else {
        return Ok(None);
    };
    let mut lookup = connection.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ?1"
    ))?;
    let Some(first) = lookup
        .query_row([first_id.as_bytes()], event_from_row)
        .optional()?
    else {
        return Ok(None);
    };
    let conflict =
        |event_id: Uuid, reason: String| AppendError::IdempotencyConflict { event_id, reason };
    let mut positions = Vec::with_capacity(events.len());
    for (index, event) in events.iter().enumerate() {
        let Some(id) = event.event_id else {
            return Err(conflict(
                first_id,
                format!("the batch starts with a stored event but event {index} has no id"),
            ));
        };
        let Some(stored) = lookup
            .query_row([id.as_bytes()], event_from_row)
            .optional()?
        else {
            return Err(conflict(
                first_id,
                format!("the batch starts with a stored event but event {index} ({id}) is new"),
            ));
        };
        let expected_version = first.version + index as u64;
        let reason = if stored.stream != stream {
            Some(format!("it is stored in stream {:?}", stored.stream))
        } else if stored.version != expected_version {
            Some(format!(
                "it is stored at version {}, not {expected_version}",
                stored.version
            ))
        } else if stored.event_type != event.event_type
            || stored.data != event.data
            || stored.metadata != event.metadata
        {
            Some("the stored event has a different type, data or metadata".to_owned())
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(conflict(id, reason));
        }
        positions.push(stored.position);
    }
    Ok(Some(AppendResult {
        stream_version: first.version + events.len() as u64 - 1,
        positions,
        already_appended: true,
    }))
}

fn insert_events(
    connection: &Connection,
    stream: &str,
    current_version: u64,
    events: &[NewEvent],
    expected: ExpectedVersion,
) -> Result<Vec<u64>, AppendError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let now = clock::now_millis(connection)?;
    let category = category_of(stream);
    let mut insert = connection.prepare_cached(
        "INSERT INTO events (event_id, stream, version, category, event_type, content_type, data, metadata, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut positions = Vec::with_capacity(events.len());
    for (index, event) in events.iter().enumerate() {
        let event_id = match event.event_id {
            Some(id) => id,
            None => clock::new_event_id(connection, now)?,
        };
        let version = clamp_i64(current_version + index as u64 + 1);
        let (content_type, data) = match &event.data {
            EventData::Json(text) => (None, ValueRef::Text(text.as_bytes())),
            EventData::Binary {
                content_type,
                bytes,
            } => (Some(content_type.as_str()), ValueRef::Blob(bytes)),
        };
        let data = ToSqlOutput::Borrowed(data);
        let inserted = insert.execute(params![
            event_id.as_bytes(),
            stream,
            version,
            category,
            event.event_type,
            content_type,
            data,
            event.metadata,
            now,
        ]);
        if let Err(error) = inserted {
            return Err(translate_insert_error(
                connection, error, stream, expected, event_id,
            ));
        }
        positions.push(connection.last_insert_rowid() as u64);
    }
    Ok(positions)
}

/// Unique-constraint failures on insert become the errors callers act on. Ids repeated within the batch were
/// rejected before the transaction, so an `event_id` violation means `event_id` was stored by an earlier batch.
fn translate_insert_error(
    connection: &Connection,
    error: rusqlite::Error,
    stream: &str,
    expected: ExpectedVersion,
    event_id: Uuid,
) -> AppendError {
    if error.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) {
        let message = error.to_string();
        if message.contains("events.event_id") {
            return AppendError::IdempotencyConflict {
                event_id,
                reason: "the id is already stored for an event of another batch".into(),
            };
        }
        if message.contains("events.stream") {
            let actual = stream_version(connection, stream).unwrap_or_default();
            return AppendError::WrongExpectedVersion {
                stream: stream.to_owned(),
                expected,
                actual,
            };
        }
    }
    AppendError::Storage(StorageError::from_sqlite(&error))
}
