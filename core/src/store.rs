//! The store: opening, appending, reading.
//!
//! Concurrency model: one writer connection behind a mutex, every append one `BEGIN IMMEDIATE` transaction, so
//! SQLite serialises writers across threads and processes and positions become visible in commit order. A file store
//! in shared locking mode also has a read-only reader connection, so reads never wait behind an append (WAL).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;

use crate::clock;
use crate::error::{AppendError, InvalidArgument, OpenError, ReadError, StorageError};
use crate::event::{EventData, NewEvent, RecordedEvent, category_of, validate_stream_id, validate_writable_stream_id};
use crate::events_table::{COLUMNS as EVENT_COLUMNS, NewRow, RowWriter};
pub(crate) use crate::events_table::{event_from_row, head_position, stream_version};
use crate::log::{LogSlice, ReadAllOptions, clamp_i64, page_query};
use crate::projection::runner::{EventRow, Mode, RunError};
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
    /// The largest event accepted, in bytes: type + data + metadata, plus the content type of binary data. Default
    /// 1 MiB.
    pub max_event_size: usize,
    /// The SQLite VFS to open the file with (`None`: the platform default). The browser uses `opfs-sahpool`.
    pub vfs: Option<String>,
    /// `locking_mode=EXCLUSIVE`: one connection owns the file. Required for WAL on the OPFS sahpool VFS.
    pub exclusive_locking: bool,
    /// How often a waiting subscription checks for commits made by other processes (`PRAGMA data_version`).
    /// Commits made through this process's stores wake subscribers at once.
    pub external_poll_interval: Duration,
    /// A cap on the database file's size (`PRAGMA max_page_count`); appends beyond it fail with `STORAGE_FULL` and
    /// write nothing. `None`: SQLite's own limit. Useful under a browser storage quota.
    pub max_database_bytes: Option<u64>,
    /// Bytes of the file read through a memory map (`PRAGMA mmap_size`) instead of copies into the page cache: fewer
    /// read syscalls, but every mapped page read counts in the process's resident memory. Default 256 MiB; 0 turns
    /// it off (tools that stream a whole large store, whose resident memory must stay flat). Native files only.
    pub memory_map_bytes: u64,
    /// Open the file read-only ([`Store::open_read_only`]): the database and its WAL are never written; appends and
    /// other writes fail with `STORAGE_READ_ONLY`. The file must hold the current schema (a read-write open
    /// migrates older ones).
    pub read_only: bool,
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
            max_database_bytes: None,
            memory_map_bytes: 256 * 1024 * 1024,
            read_only: false,
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
        f.debug_struct("Store").field("location", &self.shared.location).finish_non_exhaustive()
    }
}

pub(crate) struct Shared {
    pub(crate) location: Location,
    pub(crate) options: StoreOptions,
    pub(crate) writer: Mutex<Connection>,
    reader: Option<Mutex<Connection>>,
    pub(crate) commits: CommitSignal,
    /// The projections as last loaded; locked only while holding the writer (writer first).
    pub(crate) projections: Mutex<crate::projection::runner::Registry>,
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

    #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
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
        Store::open_with(Location::File(path.as_ref().to_path_buf()), StoreOptions::default())
    }

    /// Opens an existing file-backed store read-only, for tools, backups and inspection: it never writes to the
    /// database or its WAL, works beside a running writer (whose commits it sees) and on a read-only mount. In a
    /// writable directory SQLite still creates the WAL's shared-memory index (`-shm`) and an empty `-wal` beside the
    /// file, as every reader of a WAL database does. Appends, checkpoints and other writes fail with
    /// `STORAGE_READ_ONLY`; a file with an older schema is refused (a read-write open migrates it).
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Store, OpenError> {
        let options = StoreOptions { read_only: true, ..StoreOptions::default() };
        Store::open_with(Location::File(path.as_ref().to_path_buf()), options)
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
        if options.read_only {
            return Store::open_read_only_with(location, options);
        }
        let writer = open_writer_waiting(&location, &options)?;
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
                projections: Mutex::default(),
            }),
        })
    }

    fn open_read_only_with(location: Location, options: StoreOptions) -> Result<Store, OpenError> {
        let Location::File(path) = &location else {
            return Err(InvalidArgument::new("read_only", "only a file store can be opened read-only").into());
        };
        if !path.exists() {
            let reason = format!("{} does not exist", path.display());
            return Err(StorageError::new(crate::ErrorCode::StorageUnavailable, reason).into());
        }
        let attempt = open_connection(&location, &options)
            .map_err(OpenError::from)
            .and_then(|connection| Ok((schema::read_version(&connection)?, connection)));
        let (version, connection) = match attempt {
            // A WAL database on a read-only file system whose shared-memory file was never made (a clean close):
            // SQLite cannot create one, so read the file as immutable; nobody can be writing to it there.
            Err(OpenError::Storage(error))
                if error.code() == crate::ErrorCode::StorageUnavailable && !has_wal_frames(path) =>
            {
                let connection = open_immutable(path, &options)?;
                (schema::read_version(&connection)?, connection)
            }
            result => result?,
        };
        Store::read_only_from(location, options, connection, version)
    }

    fn read_only_from(
        location: Location,
        options: StoreOptions,
        connection: Connection,
        version: u32,
    ) -> Result<Store, OpenError> {
        // Older schemas whose event and sync tables read as this version's (from v3) open as they are: a read-only
        // open must not have to migrate (write) a file a previous release left behind. What they lack (v4's
        // projections) reads as empty.
        // Version 0 is a file without the schema (empty, or created by nothing that wrote one): nothing to read.
        if version == 0 {
            return Err(OpenError::NotADatabase {
                reason: "the file holds no EventLite schema (an empty file?)".into(),
            });
        }
        if !(schema::MIN_READ_ONLY_VERSION..=schema::VERSION).contains(&version) {
            return Err(OpenError::SchemaTooOld {
                found: version,
                oldest: schema::MIN_READ_ONLY_VERSION,
                newest: schema::VERSION,
            });
        }
        connection.pragma_update(None, "query_only", true)?;
        Ok(Store {
            shared: Arc::new(Shared {
                location,
                options,
                writer: Mutex::new(connection),
                reader: None,
                commits: CommitSignal::default(),
                projections: Mutex::default(),
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
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // The success path does no idempotency lookup: a retry shows itself either as a failed expectation or
            // as a `UNIQUE (event_id)` violation on the first insert, and only then is the stored batch compared.
            let actual = stream_version(&transaction, stream)?;
            if !expected.is_satisfied_by(actual) {
                if let Some(original) = find_original_append(&transaction, stream, events)? {
                    return Ok(original);
                }
                return Err(AppendError::WrongExpectedVersion { stream: stream.to_owned(), expected, actual });
            }
            let (positions, ids, now) = match insert_events(&transaction, stream, actual, events, expected) {
                Ok(inserted) => inserted,
                Err(AppendError::IdempotencyConflict { event_id, .. })
                    if Some(event_id) == events.first().and_then(|e| e.event_id) =>
                {
                    // The failed INSERT was undone at statement level; the transaction is intact for the lookup.
                    return match find_original_append(&transaction, stream, events)? {
                        Some(original) => Ok(original),
                        None => Err(AppendError::IdempotencyConflict {
                            event_id,
                            reason: "the id is already stored for an event of another batch".into(),
                        }),
                    };
                }
                Err(error) => return Err(error),
            };
            // The projections fold the batch in its transaction: a read model never lags the log.
            let mut projections = lock(&self.shared.projections);
            let category = category_of(stream);
            let fresh: Vec<EventRow<'_>> = events
                .iter()
                .zip(positions.iter().zip(&ids))
                .enumerate()
                .map(|(index, (event, (&position, &event_id)))| EventRow {
                    position,
                    event_id,
                    stream,
                    version: actual + index as u64 + 1,
                    event_type: &event.event_type,
                    category,
                    binary: matches!(event.data, EventData::Binary { .. }),
                    data: event.data.as_bytes(),
                    metadata: event.metadata.as_deref(),
                    recorded_at: now,
                })
                .collect();
            match crate::projection::runner::catch_up(&transaction, &mut projections, Mode::Refuse, None, &fresh) {
                Ok(_) => {}
                Err(RunError::Refused(refused)) => {
                    projections.invalidate();
                    return Err(AppendError::ProjectionFailed {
                        index: positions.iter().position(|&position| position == refused.position).unwrap_or(0),
                        projection: refused.projection,
                        message: refused.message,
                    });
                }
                Err(RunError::Sqlite(error)) => {
                    projections.invalidate();
                    return Err(error.into());
                }
            }
            drop(projections);
            transaction.commit()?;
            AppendResult { stream_version: actual + events.len() as u64, positions, already_appended: false }
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
            for (index, id) in events.iter().enumerate().filter_map(|(i, e)| e.event_id.map(|id| (i, id))) {
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
    pub fn read_stream(&self, stream: &str, options: ReadStreamOptions) -> Result<StreamSlice, ReadError> {
        validate_stream_id(stream)?;
        self.with_reader(|connection| {
            let transaction = connection.unchecked_transaction()?;
            let stream_version = stream_version(&transaction, stream)?;
            let events = read_stream_page(&transaction, stream, options)?;
            transaction.commit()?;
            Ok(StreamSlice { events, stream_version })
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
            Ok(LogSlice { events, head_position })
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

    /// Runs `f` on the reader connection (the writer for stores with one connection), mutably: for hooks.
    pub(crate) fn with_reader_mut<T>(&self, f: impl FnOnce(&mut Connection) -> T) -> T {
        match &self.shared.reader {
            Some(reader) => f(&mut lock(reader)),
            None => f(&mut lock(&self.shared.writer)),
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

/// [`open_writer`], tried again while the file is busy, up to the busy timeout. Some of the first open's steps fail
/// with `SQLITE_BUSY` at once instead of waiting (switching a new file to WAL needs an exclusive lock, and SQLite does
/// not wait for one where waiting could deadlock), so several processes opening a new file together must retry.
/// (wasm32 has one connection per database, in one worker, and no clock to wait by: it opens once.)
#[cfg(all(target_family = "wasm", target_os = "unknown"))]
fn open_writer_waiting(location: &Location, options: &StoreOptions) -> Result<Connection, OpenError> {
    open_writer(location, options)
}

#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
fn open_writer_waiting(location: &Location, options: &StoreOptions) -> Result<Connection, OpenError> {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match open_writer(location, options) {
            Err(error) if error.code() == crate::ErrorCode::StorageBusy && started.elapsed() < options.busy_timeout => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            result => return result,
        }
    }
}

/// The writer connection: checks the file is ours, switches it to WAL, sets durability, migrates the schema and
/// applies the size cap. Writes nothing to a file that is not an EventLite database or is too new.
fn open_writer(location: &Location, options: &StoreOptions) -> Result<Connection, OpenError> {
    let mut writer = open_connection(location, options)?;
    schema::read_version(&writer)?;
    if matches!(location, Location::File(_)) {
        let mode: String = writer.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
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
    if let Some(bytes) = options.max_database_bytes {
        let page_size: i64 = writer.pragma_query_value(None, "page_size", |row| row.get(0))?;
        let pages = i64::try_from(bytes).unwrap_or(i64::MAX) / page_size.max(1);
        writer.pragma_update(None, "max_page_count", pages.max(1))?;
    }
    Ok(writer)
}

/// Whether `path`'s WAL file holds frames (commits not yet copied into the database file).
fn has_wal_frames(path: &Path) -> bool {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(wal).is_ok_and(|metadata| metadata.len() > 0)
}

/// A read-only connection that treats the file as unchangeable (`immutable=1`): no locks, no WAL, no shared memory.
fn open_immutable(path: &Path, options: &StoreOptions) -> Result<Connection, StorageError> {
    #[cfg(unix)]
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()).to_vec();
    #[cfg(not(unix))]
    let bytes = path.to_string_lossy().into_owned().into_bytes();
    // A URI names the file by its bytes, percent-encoded but for unreserved characters and separators.
    let mut uri = String::from("file:");
    for byte in bytes {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'/' | b'-' | b'.' | b'_' | b'~') {
            uri.push(byte as char);
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri.push_str("?immutable=1");
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(uri, flags)?;
    connection.busy_timeout(options.busy_timeout)?;
    // As in `open_connection`: cached statements are not re-prepared on every new binding.
    connection.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(connection)
}

fn open_connection(location: &Location, options: &StoreOptions) -> Result<Connection, StorageError> {
    let connection = match (location, &options.vfs) {
        (Location::Memory, _) => Connection::open_in_memory()?,
        (Location::File(path), None) if options.read_only => {
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?
        }
        (Location::File(path), None) => Connection::open(path)?,
        (Location::File(path), Some(vfs)) => Connection::open_with_flags_and_vfs(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            vfs.as_str(),
        )?,
    };
    connection.busy_timeout(options.busy_timeout)?;
    // Before any statement that reads the file: a WAL database on a VFS without shared memory (the browser's OPFS
    // sahpool) can only be read once locking_mode is EXCLUSIVE, and `cache_size` below already reads the schema.
    if options.exclusive_locking {
        connection.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
    }
    connection.set_prepared_statement_cache_capacity(64);
    // Plans that never depend on the values bound: without this, checking whether the partial index
    // `events_by_server_position` applies marks a statement's parameters as plan-relevant, and every new binding of
    // a cached statement (the stream of `SELECT max(version) ...` on each append) re-prepares it from its SQL.
    connection.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // A larger page cache and memory-mapped reads: fewer read syscalls for reads and for index pages during appends;
    // checkpoints every ~40 MiB of WAL rather than 4 MiB, so hot index pages are copied back less often.
    connection.pragma_update(None, "cache_size", -16_384)?;
    // A projection's `INSERT OR REPLACE` deletes rows: their undo triggers must fire too.
    connection.pragma_update(None, "recursive_triggers", true)?;
    connection.pragma_update(None, "wal_autocheckpoint", 10_000)?;
    if matches!(location, Location::File(_)) && options.vfs.is_none() && options.memory_map_bytes > 0 {
        connection.pragma_update(None, "mmap_size", i64::try_from(options.memory_map_bytes).unwrap_or(i64::MAX))?;
    }
    Ok(connection)
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

pub(crate) fn read_log_page(connection: &Connection, options: &ReadAllOptions) -> rusqlite::Result<Vec<RecordedEvent>> {
    let plan = options.filter.plan(connection)?;
    let (sql, params) = page_query(&plan, options.from_position, options.direction, options.max_count);
    let mut statement = connection.prepare_cached(&sql)?;
    let rows = statement.query_map(rusqlite::params_from_iter(params), event_from_row)?;
    rows.collect()
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
    let mut lookup = connection.prepare_cached(
        "SELECT position, event_id, stream, version, event_type, content_type, data, metadata, recorded_at
         FROM events WHERE event_id = ?1",
    )?;
    let Some(first) = lookup.query_row([first_id.as_bytes()], event_from_row).optional()? else {
        return Ok(None);
    };
    let conflict = |event_id: Uuid, reason: String| AppendError::IdempotencyConflict { event_id, reason };
    let mut positions = Vec::with_capacity(events.len());
    for (index, event) in events.iter().enumerate() {
        let Some(id) = event.event_id else {
            return Err(conflict(
                first_id,
                format!("the batch starts with a stored event but event {index} has no id"),
            ));
        };
        let Some(stored) = lookup.query_row([id.as_bytes()], event_from_row).optional()? else {
            return Err(conflict(
                first_id,
                format!("the batch starts with a stored event but event {index} ({id}) is new"),
            ));
        };
        let expected_version = first.version + index as u64;
        let reason = if stored.stream != stream {
            Some(format!("it is stored in stream {:?}", stored.stream))
        } else if stored.version != expected_version {
            Some(format!("it is stored at version {}, not {expected_version}", stored.version))
        } else if stored.event_type != event.event_type
            || !stored.data.same_value(&event.data)
            || !crate::event::same_metadata(stored.metadata.as_deref(), event.metadata.as_deref())
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
) -> Result<(Vec<u64>, Vec<Uuid>, i64), AppendError> {
    if events.is_empty() {
        return Ok((Vec::new(), Vec::new(), 0));
    }
    let now = clock::now_millis(connection)?;
    let mut writer = RowWriter::new(connection)?;
    let mut positions = Vec::with_capacity(events.len());
    let mut ids = Vec::with_capacity(events.len());
    for (index, event) in events.iter().enumerate() {
        let event_id = match event.event_id {
            Some(id) => id,
            None => clock::new_event_id(connection, now)?,
        };
        ids.push(event_id);
        let inserted = writer.insert(&NewRow {
            event_id,
            stream,
            version: current_version + index as u64 + 1,
            event_type: &event.event_type,
            data: &event.data,
            metadata: event.metadata.as_deref(),
            recorded_at: now,
            // The sync engine pushes this expectation later (the batch's first event; the rest continue it).
            sync_expected: Some(crate::sync::replica::encode_expected(expected, index)),
            server_position: None,
        });
        match inserted {
            Ok(position) => positions.push(position),
            Err(error) => return Err(translate_insert_error(connection, error, stream, expected, event_id)),
        }
    }
    Ok((positions, ids, now))
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
            return AppendError::WrongExpectedVersion { stream: stream.to_owned(), expected, actual };
        }
    }
    AppendError::Storage(StorageError::from_sqlite(&error))
}

#[cfg(test)]
mod tests {
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use serde_json::json;

    use super::*;
    use crate::ErrorCode;
    use crate::log::EventFilter;

    fn event(event_type: &str, n: u64) -> NewEvent {
        NewEvent::json(event_type, &json!({ "n": n })).with_id(Uuid::from_u128(u128::from(n) + 1_000))
    }

    fn memory() -> Store {
        Store::open_in_memory().unwrap()
    }

    #[test]
    fn cached_statements_are_not_prepared_again_for_each_binding() {
        // Appends to ever new streams bind a new value each time; none may re-prepare the statement (the partial
        // index check would, without the query planner stability guarantee set in `open_connection`).
        let store = memory();
        for n in 0..20 {
            store.append_to_stream(&format!("order-{n}"), &[event("Placed", n)], ExpectedVersion::NoStream).unwrap();
        }
        let connection = lock(&store.shared.writer);
        let statement = connection.prepare_cached("SELECT max(version) FROM events WHERE stream = ?1").unwrap();
        assert_eq!(statement.get_status(rusqlite::StatementStatus::RePrepare), 0);
    }

    #[test]
    fn no_stream_creates_and_then_conflicts() {
        let store = memory();
        let first = store.append_to_stream("order-1", &[event("Placed", 1)], ExpectedVersion::NoStream).unwrap();
        assert_eq!(first.stream_version, 1);
        assert_eq!(first.positions, vec![1]);
        let error = store.append_to_stream("order-1", &[event("Placed", 2)], ExpectedVersion::NoStream).unwrap_err();
        assert_eq!(
            error,
            AppendError::WrongExpectedVersion {
                stream: "order-1".into(),
                expected: ExpectedVersion::NoStream,
                actual: 1
            }
        );
        assert_eq!(error.code(), ErrorCode::WrongExpectedVersion);
        assert_eq!(store.head_position().unwrap(), 1);
    }

    #[test]
    fn stream_exists_requires_a_stream() {
        let store = memory();
        let error =
            store.append_to_stream("order-1", &[event("Placed", 1)], ExpectedVersion::StreamExists).unwrap_err();
        assert!(matches!(error, AppendError::WrongExpectedVersion { actual: 0, .. }));
        store.append_to_stream("order-1", &[event("Placed", 1)], ExpectedVersion::Any).unwrap();
        let ok = store.append_to_stream("order-1", &[event("Paid", 2)], ExpectedVersion::StreamExists).unwrap();
        assert_eq!(ok.stream_version, 2);
    }

    #[test]
    fn exact_checks_the_current_version() {
        let store = memory();
        store.append_to_stream("order-1", &[event("A", 1), event("B", 2)], ExpectedVersion::Exact(0)).unwrap();
        let error = store.append_to_stream("order-1", &[event("C", 3)], ExpectedVersion::Exact(1)).unwrap_err();
        assert!(matches!(
            error,
            AppendError::WrongExpectedVersion { expected: ExpectedVersion::Exact(1), actual: 2, .. }
        ));
        let ok = store.append_to_stream("order-1", &[event("C", 3)], ExpectedVersion::Exact(2)).unwrap();
        assert_eq!(ok.stream_version, 3);
        assert_eq!(ok.positions, vec![3]);
    }

    #[test]
    fn any_appends_at_the_end_and_versions_are_per_stream() {
        let store = memory();
        store.append_to_stream("a-1", &[event("A", 1)], ExpectedVersion::Any).unwrap();
        store.append_to_stream("b-1", &[event("B", 2)], ExpectedVersion::Any).unwrap();
        let result = store.append_to_stream("a-1", &[event("A", 3), event("A", 4)], ExpectedVersion::Any).unwrap();
        assert_eq!(result.stream_version, 3);
        assert_eq!(result.positions, vec![3, 4]);
        assert_eq!(store.stream_version("b-1").unwrap(), 1);
        assert_eq!(store.stream_version("absent").unwrap(), 0);
    }

    #[test]
    fn an_empty_batch_only_checks_the_expectation() {
        let store = memory();
        let result = store.append_to_stream("a-1", &[], ExpectedVersion::NoStream).unwrap();
        assert_eq!(result, AppendResult { stream_version: 0, positions: vec![], already_appended: false });
        assert!(store.append_to_stream("a-1", &[], ExpectedVersion::StreamExists).is_err());
    }

    #[test]
    fn retrying_a_batch_returns_the_original_result() {
        let store = memory();
        let batch = [event("A", 1), event("B", 2)];
        let original = store.append_to_stream("a-1", &batch, ExpectedVersion::NoStream).unwrap();
        store.append_to_stream("a-1", &[event("C", 3)], ExpectedVersion::Any).unwrap();
        // The expectation no longer holds, but a retry is recognised by its ids first.
        let retry = store.append_to_stream("a-1", &batch, ExpectedVersion::NoStream).unwrap();
        assert!(retry.already_appended);
        assert_eq!(retry.positions, original.positions);
        assert_eq!(retry.stream_version, original.stream_version);
        assert_eq!(store.head_position().unwrap(), 3);
    }

    #[test]
    fn reusing_an_id_for_something_else_is_an_idempotency_conflict() {
        let store = memory();
        store.append_to_stream("a-1", &[event("A", 1), event("B", 2)], ExpectedVersion::Any).unwrap();
        let cases = [
            ("a-1", vec![event("Other", 1)]),                             // different type
            ("b-1", vec![event("A", 1)]),                                 // different stream
            ("a-1", vec![event("B", 2), event("A", 1)]),                  // different order
            ("a-1", vec![event("A", 1), event("New", 9)]),                // stored, then new
            ("a-1", vec![event("New", 9), event("A", 1)]),                // new, then stored
            ("a-1", vec![event("A", 1).with_metadata(&json!({"x": 1}))]), // different metadata
        ];
        for (stream, batch) in cases {
            let error = store.append_to_stream(stream, &batch, ExpectedVersion::Any).unwrap_err();
            assert_eq!(error.code(), ErrorCode::IdempotencyConflict, "{stream} {batch:?}: {error}");
        }
        assert_eq!(store.head_position().unwrap(), 2, "nothing was written");
    }

    #[test]
    fn a_retry_that_reserialises_the_same_json_is_the_same_append() {
        let store = memory();
        let id = Uuid::from_u128(7);
        let first = NewEvent::from_json_text("A", r#"{"a":1,"b":{"c":[true,null]}}"#).with_id(id);
        let appended = store.append_to_stream("a-1", &[first], ExpectedVersion::NoStream).unwrap();
        let retry = NewEvent::from_json_text("A", "{ \"b\": {\"c\": [true, null]},\n  \"a\": 1.0 }")
            .with_id(id)
            .with_metadata_text("{}");
        let again = store.append_to_stream("a-1", &[retry], ExpectedVersion::NoStream).unwrap();
        assert!(again.already_appended);
        assert_eq!(again.positions, appended.positions);
        let stored = store.read_stream("a-1", ReadStreamOptions::forwards()).unwrap().events;
        assert_eq!(stored[0].data, EventData::Json(r#"{"a":1,"b":{"c":[true,null]}}"#.into()), "the first text");
        assert_eq!(stored[0].metadata, None);
        let changed = NewEvent::from_json_text("A", r#"{"a":2,"b":{"c":[true,null]}}"#).with_id(id);
        let error = store.append_to_stream("a-1", &[changed], ExpectedVersion::Any).unwrap_err();
        assert_eq!(error.code(), ErrorCode::IdempotencyConflict);
    }

    #[test]
    fn an_id_twice_in_one_batch_is_invalid() {
        let store = memory();
        let error = store.append_to_stream("a-1", &[event("A", 1), event("A", 1)], ExpectedVersion::Any).unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidArgument);
    }

    #[test]
    fn events_without_ids_get_generated_ones() {
        let store = memory();
        let mut anonymous = NewEvent::json("A", &1);
        anonymous.event_id = None;
        store.append_to_stream("a-1", &[anonymous.clone(), anonymous], ExpectedVersion::Any).unwrap();
        let events = store.read_stream("a-1", ReadStreamOptions::forwards()).unwrap().events;
        assert_ne!(events[0].event_id, events[1].event_id);
        assert_eq!(events[0].event_id.get_version_num(), 7);
    }

    #[test]
    fn bad_input_is_rejected_with_its_code_and_writes_nothing() {
        let store =
            Store::open_with(Location::Memory, StoreOptions { max_event_size: 100, ..Default::default() }).unwrap();
        store.append_to_stream("a-1", &[event("A", 1)], ExpectedVersion::Any).unwrap();
        let cases: Vec<(&str, NewEvent, ErrorCode)> = vec![
            ("", event("A", 2), ErrorCode::InvalidArgument),
            ("a\u{7}", event("A", 2), ErrorCode::InvalidArgument),
            ("$all", event("A", 2), ErrorCode::InvalidArgument),
            ("a-1", event("", 2), ErrorCode::InvalidArgument),
            ("a-1", NewEvent::from_json_text("A", "{oops"), ErrorCode::InvalidArgument),
            ("a-1", NewEvent::json("A", &"x".repeat(200)), ErrorCode::EventTooLarge),
            ("a-1", event("A", 2).with_metadata_text("\"text\""), ErrorCode::InvalidArgument),
        ];
        let long_stream = "s".repeat(257);
        for (stream, bad, code) in
            cases.into_iter().chain([(long_stream.as_str(), event("A", 2), ErrorCode::InvalidArgument)])
        {
            let error = store.append_to_stream(stream, &[event("A", 3), bad], ExpectedVersion::Any).unwrap_err();
            assert_eq!(error.code(), code, "{stream:?}: {error}");
        }
        assert_eq!(store.head_position().unwrap(), 1);
        assert_eq!(store.stream_version("a-1").unwrap(), 1);
    }

    #[test]
    fn read_stream_pages_forwards_and_backwards() {
        let store = memory();
        let batch: Vec<NewEvent> = (1..=10).map(|n| event("E", n)).collect();
        store.append_to_stream("a-1", &batch, ExpectedVersion::NoStream).unwrap();
        let versions = |options| {
            let slice = store.read_stream("a-1", options).unwrap();
            assert_eq!(slice.stream_version, 10);
            slice.events.iter().map(|e| e.version).collect::<Vec<_>>()
        };
        assert_eq!(versions(ReadStreamOptions::forwards().max_count(3)), vec![1, 2, 3]);
        assert_eq!(versions(ReadStreamOptions::forwards().from_version(9)), vec![9, 10]);
        assert_eq!(versions(ReadStreamOptions::backwards().max_count(3)), vec![10, 9, 8]);
        assert_eq!(versions(ReadStreamOptions::backwards().from_version(2)), vec![2, 1]);
        assert_eq!(versions(ReadStreamOptions::forwards().from_version(11)), Vec::<u64>::new());
        let absent = store.read_stream("none", ReadStreamOptions::forwards()).unwrap();
        assert_eq!((absent.events.len(), absent.stream_version), (0, 0));
    }

    #[test]
    fn recorded_events_round_trip_everything() {
        let store = memory();
        let id = Uuid::from_u128(7);
        let json_event =
            NewEvent::json("Placed", &json!({"total": 42})).with_id(id).with_metadata(&json!({"correlationId": "c-1"}));
        let binary = NewEvent::binary("Photo", "image/png", vec![0, 1, 255]);
        store.append_to_stream("order-1", &[json_event, binary], ExpectedVersion::Any).unwrap();
        let events = store.read_stream("order-1", ReadStreamOptions::forwards()).unwrap().events;
        assert_eq!(events[0].event_id, id);
        assert_eq!(events[0].data_as::<serde_json::Value>().unwrap(), json!({"total": 42}));
        assert_eq!(events[0].metadata_value()["correlationId"], "c-1");
        assert_eq!(events[0].category(), "order");
        assert!(events[0].recorded_at > 1_600_000_000_000);
        assert_eq!(events[1].data, EventData::Binary { content_type: "image/png".into(), bytes: vec![0, 1, 255] });
        assert!(events[1].data_as::<serde_json::Value>().is_err());
    }

    fn seeded() -> Store {
        let store = memory();
        let mut n = 0;
        for stream in ["order-1", "order-2", "user-1", "orderline-1", "order-1"] {
            for event_type in ["Created", "Updated"] {
                n += 1;
                store.append_to_stream(stream, &[event(event_type, n)], ExpectedVersion::Any).unwrap();
            }
        }
        store
    }

    fn positions(store: &Store, options: &ReadAllOptions) -> Vec<u64> {
        store.read_all(options).unwrap().events.iter().map(|e| e.position).collect()
    }

    #[test]
    fn read_all_pages_by_exclusive_position() {
        let store = seeded();
        assert_eq!(positions(&store, &ReadAllOptions::forwards().max_count(3)), vec![1, 2, 3]);
        assert_eq!(positions(&store, &ReadAllOptions::forwards().after(8)), vec![9, 10]);
        assert_eq!(positions(&store, &ReadAllOptions::backwards().max_count(2)), vec![10, 9]);
        assert_eq!(positions(&store, &ReadAllOptions::backwards().after(3)), vec![2, 1]);
        assert_eq!(store.read_all(&ReadAllOptions::forwards()).unwrap().head_position, 10);
    }

    #[test]
    fn read_all_filters_by_category_type_and_prefix() {
        let store = seeded();
        let all = store.read_all(&ReadAllOptions::forwards()).unwrap().events;
        let filters = [
            EventFilter::all().category("order"),
            EventFilter::all().category("order").category("user"),
            EventFilter::all().event_type("Updated"),
            EventFilter::all().category("order").event_type("Created"),
            EventFilter::all().stream_prefix("order"),
            EventFilter::all().stream_prefix("order-").event_type("Updated").event_type("Created"),
            EventFilter::all().category("nothing"),
        ];
        for filter in filters {
            for direction in [Direction::Forwards, Direction::Backwards] {
                let mut expected: Vec<u64> = all.iter().filter(|e| filter.matches(e)).map(|e| e.position).collect();
                if direction == Direction::Backwards {
                    expected.reverse();
                }
                let options = ReadAllOptions { direction, ..ReadAllOptions::forwards() }.filter(filter.clone());
                assert_eq!(positions(&store, &options), expected, "{filter:?} {direction:?}");
                let paged = options.clone().max_count(2);
                assert_eq!(positions(&store, &paged), expected.iter().copied().take(2).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn repeated_filter_values_select_each_event_once() {
        let store = seeded();
        for filter in [
            EventFilter::all().category("order").category("order"),
            EventFilter::all().event_type("Created").event_type("Created"),
        ] {
            for options in [ReadAllOptions::forwards(), ReadAllOptions::backwards()] {
                let got = positions(&store, &options.filter(filter.clone()));
                let unique: std::collections::BTreeSet<u64> = got.iter().copied().collect();
                assert_eq!(got.len(), unique.len(), "{filter:?}: {got:?}");
            }
        }
    }

    #[test]
    fn filtered_pages_are_read_through_an_index_in_position_order() {
        let store = seeded();
        for filter in [
            EventFilter::all().category("order"),
            EventFilter::all().category("order").category("user").event_type("Created"),
            EventFilter::all().event_type("Updated"),
            EventFilter::all().stream_prefix("order-1"),
        ] {
            for direction in [Direction::Forwards, Direction::Backwards] {
                let (sql, params) = store
                    .with_reader(|connection| {
                        filter.plan(connection).map(|plan| page_query(&plan, Some(3), direction, 10))
                    })
                    .unwrap();
                let plan: Vec<String> = store.with_reader(|connection| {
                    let mut statement = connection.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                    let rows =
                        statement.query_map(rusqlite::params_from_iter(params), |row| row.get::<_, String>(3)).unwrap();
                    rows.map(Result::unwrap).collect()
                });
                let searches: Vec<&String> = plan.iter().filter(|step| step.contains("events")).collect();
                assert!(!searches.is_empty(), "{plan:?}");
                assert!(searches.iter().all(|step| step.contains("USING INDEX")), "{filter:?}: {plan:?}");
                // Each arm is read in position order straight from its index. Only merging several arms sorts, and
                // then only each arm's output (at most one page), never rows read from the table.
                for (index, step) in plan.iter().enumerate() {
                    if step.contains("TEMP B-TREE") {
                        let previous = index.checked_sub(1).map(|i| plan[i].as_str()).unwrap_or_default();
                        assert!(previous.starts_with("SCAN (subquery"), "{filter:?}: {plan:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn read_all_filters_are_validated() {
        let store = seeded();
        let error = store.read_all(&ReadAllOptions::forwards().filter(EventFilter::all().event_type(""))).unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidArgument);
    }

    #[test]
    fn zero_max_event_size_is_refused() {
        let options = StoreOptions { max_event_size: 0, ..Default::default() };
        assert_eq!(Store::open_with(Location::Memory, options).unwrap_err().code(), ErrorCode::InvalidArgument);
    }
}
