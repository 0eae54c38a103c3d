//! Looking inside a store, for tools and operators: the streams it holds ([`Store::list_streams`]), counts and sizes
//! ([`Store::stats`]), a consistency check of every invariant the store keeps ([`Store::check`]) and an online copy
//! ([`Store::backup_into`]). All of them only read, so they work on a store opened with [`Store::open_read_only`]
//! beside running writers; each reads one consistent snapshot of the database (one read transaction).
//!
//! ```
//! use eventlite::inspect::StreamQuery;
//! use eventlite::{ExpectedVersion, NewEvent, Store};
//!
//! # fn main() -> Result<(), eventlite::Error> {
//! let store = Store::open_in_memory()?;
//! store.append_to_stream("order-1", &[NewEvent::json("Placed", &1), NewEvent::json("Paid", &2)], ExpectedVersion::Any)?;
//! let streams = store.list_streams(&StreamQuery::default())?;
//! assert_eq!((streams[0].stream.as_str(), streams[0].version, streams[0].event_count), ("order-1", 2, 2));
//! assert!(store.check()?.is_healthy());
//! assert_eq!(store.stats()?.events, 2);
//! # Ok(())
//! # }
//! ```

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{InvalidArgument, ReadError};
use crate::event::validate_stream_id;
use crate::log::clamp_i64;
use crate::schema;
use crate::store::Store;
use crate::sync::replica::confirmed_through;

/// One stream as [`Store::list_streams`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// The stream id.
    pub stream: String,
    /// Its current version (its highest).
    pub version: u64,
    /// Its number of events (equal to `version` in a healthy store).
    pub event_count: u64,
    /// The position of its first event.
    pub first_position: u64,
    /// The position of its last event.
    pub last_position: u64,
    /// The earliest `recorded_at` of its events (ms since the Unix epoch).
    pub first_recorded_at: i64,
    /// The latest `recorded_at` of its events.
    pub last_recorded_at: i64,
}

/// Which streams [`Store::list_streams`] returns: a page in stream-id order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamQuery {
    /// Only streams whose id starts with this.
    pub prefix: Option<String>,
    /// Only streams of this category.
    pub category: Option<String>,
    /// Only streams whose id sorts after this one (exclusive): the last id of the previous page.
    pub after: Option<String>,
    /// At most this many streams (`None`: [`StreamQuery::DEFAULT_LIMIT`]).
    pub limit: Option<usize>,
}

impl StreamQuery {
    /// The default page size.
    pub const DEFAULT_LIMIT: usize = 1_000;
}

/// A count per name (category or event type), largest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameCount {
    /// The category or event type.
    pub name: String,
    /// How many events have it.
    pub events: u64,
}

/// The names past the top [`StoreStats::TOP_NAMES`] of a count ([`StoreStats::other_categories`]), summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OtherNames {
    /// How many names are not listed.
    pub names: u64,
    /// How many events they have.
    pub events: u64,
}

/// Counts, sizes, positions and sync state of a store ([`Store::stats`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreStats {
    /// The schema version in the file.
    pub schema_version: u32,
    /// Events stored.
    pub events: u64,
    /// Streams stored.
    pub streams: u64,
    /// The lowest position stored (0: empty).
    pub first_position: u64,
    /// The highest position stored (0: empty).
    pub head_position: u64,
    /// The highest position ever given out (at least `head_position`; above it when the newest events were deleted
    /// by a sync rebase or a rejected push: positions are never reused).
    pub last_assigned_position: u64,
    /// The earliest `recorded_at` (`None`: empty).
    pub first_recorded_at: Option<i64>,
    /// The latest `recorded_at` (`None`: empty).
    pub last_recorded_at: Option<i64>,
    /// Events per category, largest first (then by name): the top [`StoreStats::TOP_NAMES`].
    pub categories: Vec<NameCount>,
    /// The categories past the top ones.
    pub other_categories: OtherNames,
    /// Events per type, largest first (then by name): the top [`StoreStats::TOP_NAMES`].
    pub event_types: Vec<NameCount>,
    /// The event types past the top ones.
    pub other_event_types: OtherNames,
    /// Snapshots stored.
    pub snapshots: u64,
    /// Named subscription checkpoints stored.
    pub checkpoints: u64,
    /// The database's page size, bytes.
    pub page_size: u64,
    /// Pages in the database (as of the last checkpoint of the WAL, plus committed WAL frames).
    pub page_count: u64,
    /// Unused pages.
    pub freelist_count: u64,
    /// Sync state.
    pub sync: SyncStats,
}

impl StoreStats {
    /// Categories and event types listed, at most (a store can hold millions of names).
    pub const TOP_NAMES: usize = 20;

    /// Whether the file's schema is older than the one this library writes (read as it is, read-only): information,
    /// not damage.
    pub fn schema_is_older(&self) -> bool {
        self.schema_version < schema::VERSION
    }
}

/// The sync part of [`StoreStats`]; read without creating anything (a store that never synced has no replica id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStats {
    /// The replica id, once one was created.
    pub replica_id: Option<String>,
    /// Local events after the confirmed prefix.
    pub pending: u64,
    /// Events the server confirmed.
    pub confirmed: u64,
    /// The local position of the last confirmed event.
    pub confirmed_through: u64,
    /// Entries in the conflicts list.
    pub conflicts: u64,
    /// Whether the store ever pulled (it has a cursor).
    pub has_cursor: bool,
    /// The identity of the server log this store holds, when it is a sync server's tenant database
    /// ([`crate::sync::server::log_id`]); its events are then the server's log, not pending appends.
    pub server_log_id: Option<String>,
}

/// One broken invariant found by [`Store::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// A stable identifier of the check that failed: `INTEGRITY`, `APPLICATION_ID`, `SCHEMA_VERSION`, `CATEGORY`,
    /// `VERSION_GAP`, `POSITION_ORDER`, `POSITION_SEQUENCE`, `DATA_KIND`, `DATA_JSON`, `METADATA_OBJECT`,
    /// `RECORDED_AT`, `SYNC_STATE`, `SYNC_CONFIRMED_PREFIX`, `SERVER_POSITION_ORDER`, `SYNC_PENDING_CONFIRMED`,
    /// `SYNC_EXPECTED` (see [`Store::check`]).
    pub check: &'static str,
    /// The stream concerned, if one.
    pub stream: Option<String>,
    /// What is wrong, for humans.
    pub message: String,
}

/// What [`Store::check`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// The checks run, in order.
    pub checks: Vec<&'static str>,
    /// What is broken (empty: healthy). At most [`CheckReport::MAX_PROBLEMS`] per check.
    pub problems: Vec<Problem>,
    /// Events examined.
    pub events: u64,
    /// Streams examined.
    pub streams: u64,
    /// The file's schema version.
    pub schema_version: u32,
    /// Facts worth knowing that are not damage: an older schema read as it is, say.
    pub notes: Vec<String>,
}

impl CheckReport {
    /// Problems reported per check, at most (a damaged store could otherwise report millions).
    pub const MAX_PROBLEMS: usize = 20;

    /// Whether no problem was found.
    pub fn is_healthy(&self) -> bool {
        self.problems.is_empty()
    }
}

const MAX_PROBLEMS: i64 = CheckReport::MAX_PROBLEMS as i64;

impl Store {
    /// A page of streams in id order with their version, count, first and last position and time. Computed in SQL
    /// from the `UNIQUE (stream, version)` index; the page bounds memory.
    pub fn list_streams(&self, query: &StreamQuery) -> Result<Vec<StreamInfo>, ReadError> {
        if let Some(prefix) = &query.prefix {
            validate_stream_id(prefix).map_err(|e| InvalidArgument::new("prefix", e.reason))?;
        }
        if let Some(category) = &query.category
            && category.chars().any(char::is_control)
        {
            return Err(InvalidArgument::new("category", "must not contain control characters").into());
        }
        let limit = query.limit.unwrap_or(StreamQuery::DEFAULT_LIMIT);
        if limit == 0 {
            return Err(InvalidArgument::new("limit", "must be at least 1").into());
        }
        self.with_reader(|connection| {
            // `substr(stream, 1, n) = prefix` compares bytes exactly (LIKE would treat `%`, `_` and case specially).
            let mut statement = connection.prepare_cached(
                "SELECT stream, max(version), count(*), min(position), max(position), min(recorded_at), max(recorded_at)
                 FROM events
                 WHERE (?1 IS NULL OR stream > ?1)
                   AND (?2 IS NULL OR substr(stream, 1, length(?2)) = ?2)
                   AND (?3 IS NULL OR category = ?3)
                 GROUP BY stream ORDER BY stream LIMIT ?4",
            )?;
            let rows = statement.query_map(
                params![query.after, query.prefix, query.category, clamp_i64(limit as u64)],
                |row| {
                    Ok(StreamInfo {
                        stream: row.get(0)?,
                        version: row.get::<_, i64>(1)? as u64,
                        event_count: row.get::<_, i64>(2)? as u64,
                        first_position: row.get::<_, i64>(3)? as u64,
                        last_position: row.get::<_, i64>(4)? as u64,
                        first_recorded_at: row.get(5)?,
                        last_recorded_at: row.get(6)?,
                    })
                },
            )?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Counts, sizes, positions, per-category and per-type counts and sync state, from one read transaction.
    pub fn stats(&self) -> Result<StoreStats, ReadError> {
        self.with_reader(|connection| {
            let transaction = connection.unchecked_transaction()?;
            let stats = read_stats(&transaction)?;
            transaction.commit()?;
            Ok(stats)
        })
    }

    /// Checks every invariant the store keeps, from one read transaction: SQLite's `PRAGMA integrity_check`, the
    /// application id and a schema version this library reads (an older readable one is a note, not a problem),
    /// each event's category matching its stream id, dense 1-based versions per stream that increase with position,
    /// positions from 1 and never above the `AUTOINCREMENT` sequence, JSON data as valid JSON text and binary data as
    /// a blob with a content type, metadata as a JSON object, `recorded_at` at least 0, readable sync state values,
    /// and the sync state (confirmed events form a prefix of the log up to `confirmed_through`, each with a server
    /// position, in server order; pending events after it have none, and a valid recorded expectation). Reads the
    /// whole log, so it takes time proportional to the store's size.
    pub fn check(&self) -> Result<CheckReport, ReadError> {
        self.with_reader(|connection| {
            let transaction = connection.unchecked_transaction()?;
            let report = run_checks(&transaction)?;
            transaction.commit()?;
            Ok(report)
        })
    }

    /// Writes a consistent copy of the whole database to `path` (`VACUUM INTO`): one read transaction, so writers
    /// keep appending meanwhile and the copy holds exactly the commits before it started. The copy is compact (no
    /// free pages), has no WAL and opens as an ordinary store. Works on a read-only store.
    ///
    /// `path` must not exist, not even as a dangling symbolic link (`INVALID_ARGUMENT`). The copy is written to a
    /// temporary file beside it, synced, then linked into place without following links or replacing anything:
    /// `path` only ever names a complete copy, and a failed or killed backup leaves nothing there.
    #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
    pub fn backup_into(&self, path: impl AsRef<std::path::Path>) -> Result<(), ReadError> {
        use crate::error::StorageError;
        let path = path.as_ref();
        let exists = || InvalidArgument::new("path", format!("{} already exists", path.display()));
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(exists().into());
        }
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
            return Err(InvalidArgument::new("path", "must name a file, in valid UTF-8").into());
        };
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let temporary = directory.join(format!(".{name}.{}.backup-tmp", uuid::Uuid::now_v7().simple()));
        let Some(target) = temporary.to_str() else {
            return Err(InvalidArgument::new("path", "must be valid UTF-8").into());
        };
        let io = |what: &str, error: std::io::Error| {
            ReadError::Storage(StorageError::new(crate::ErrorCode::StorageError, format!("{what}: {error}")))
        };
        let copied = self.with_reader(|connection| {
            // The reader refuses writes (`query_only`), and SQLite counts VACUUM INTO as one although it writes only
            // the new file; the read-only open flag still keeps this database itself from being written.
            connection.pragma_update(None, "query_only", false)?;
            let copied = connection.execute("VACUUM INTO ?1", [target]);
            connection.pragma_update(None, "query_only", true)?;
            copied.map(|_| ()).map_err(ReadError::from)
        });
        let published = copied
            .and_then(|()| {
                std::fs::File::open(&temporary)
                    .and_then(|file| file.sync_all())
                    .map_err(|error| io("syncing the copy", error))
            })
            .and_then(|()| match crate::inspect::link_new(&temporary, path) {
                Ok(()) => Ok(()),
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Err(exists().into()),
                Err(error) => Err(io(&format!("moving the copy to {}", path.display()), error)),
            });
        // Only the temporary name is ever removed: whatever is at `path` is never touched.
        let _ = std::fs::remove_file(&temporary);
        published?;
        if let Ok(directory) = std::fs::File::open(&directory) {
            let _ = directory.sync_all();
        }
        Ok(())
    }
}

/// Gives the complete file `temporary` the new name `path` without following a link at `path` or replacing anything
/// there (`AlreadyExists` if `path` is taken, even by a dangling link): a hard link, which fails on an existing
/// entry. `temporary` keeps its name too; the caller removes it. Where the file system has no hard links, a rename
/// after checking that `path` is free (which can race with another process creating it meanwhile).
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
pub fn link_new(temporary: &std::path::Path, path: &std::path::Path) -> std::io::Result<()> {
    match std::fs::hard_link(temporary, path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Err(error),
        Err(_) if std::fs::symlink_metadata(path).is_ok() => Err(std::io::ErrorKind::AlreadyExists.into()),
        Err(_) => std::fs::rename(temporary, path),
    }
}

fn count(connection: &Connection, sql: &str) -> rusqlite::Result<u64> {
    Ok(connection.query_row(sql, [], |row| row.get::<_, Option<i64>>(0))?.unwrap_or(0).max(0) as u64)
}

/// The top [`StoreStats::TOP_NAMES`] names of `column` by count, and the rest summed.
fn name_counts(connection: &Connection, column: &str, events: u64) -> rusqlite::Result<(Vec<NameCount>, OtherNames)> {
    let mut statement = connection.prepare(&format!(
        "SELECT {column}, count(*) AS n FROM events GROUP BY {column} ORDER BY n DESC, {column} LIMIT ?1"
    ))?;
    let rows = statement.query_map([StoreStats::TOP_NAMES as i64], |row| {
        Ok(NameCount { name: row.get(0)?, events: row.get::<_, i64>(1)? as u64 })
    })?;
    let top: Vec<NameCount> = rows.collect::<rusqlite::Result<_>>()?;
    let names = count(connection, &format!("SELECT count(DISTINCT {column}) FROM events"))?;
    let listed: u64 = top.iter().map(|name| name.events).sum();
    let others = OtherNames { names: names.saturating_sub(top.len() as u64), events: events.saturating_sub(listed) };
    Ok((top, others))
}

fn pragma(connection: &Connection, name: &str) -> rusqlite::Result<u64> {
    Ok(connection.pragma_query_value(None, name, |row| row.get::<_, i64>(0))?.max(0) as u64)
}

fn read_stats(connection: &Connection) -> Result<StoreStats, ReadError> {
    let schema_version = schema::read_version(connection)
        .map_err(|error| ReadError::Storage(crate::error::StorageError::new(error.code(), error.to_string())))?;
    let (events, first_position, head_position, first_recorded_at, last_recorded_at): (
        i64,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    ) = connection.query_row(
        "SELECT count(*), min(position), max(position), min(recorded_at), max(recorded_at) FROM events",
        [],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)),
    )?;
    let through = confirmed_through(connection)?;
    let confirmed = connection
        .prepare_cached("SELECT count(*) FROM events WHERE position <= ?1")?
        .query_row([clamp_i64(through)], |row| row.get::<_, i64>(0))? as u64;
    let state = |key: &str| -> rusqlite::Result<Option<String>> {
        connection.query_row("SELECT value FROM sync_state WHERE key = ?1", [key], |row| row.get(0)).optional()
    };
    let (categories, other_categories) = name_counts(connection, "category", events as u64)?;
    let (event_types, other_event_types) = name_counts(connection, "event_type", events as u64)?;
    Ok(StoreStats {
        schema_version,
        events: events as u64,
        streams: count(connection, "SELECT count(DISTINCT stream) FROM events")?,
        first_position: first_position.unwrap_or(0) as u64,
        head_position: head_position.unwrap_or(0) as u64,
        last_assigned_position: crate::events_table::high_water(connection, schema_version)?,
        first_recorded_at,
        last_recorded_at,
        categories,
        other_categories,
        event_types,
        other_event_types,
        snapshots: count(connection, "SELECT count(*) FROM snapshots")?,
        checkpoints: count(connection, "SELECT count(*) FROM checkpoints")?,
        page_size: pragma(connection, "page_size")?,
        page_count: pragma(connection, "page_count")?,
        freelist_count: pragma(connection, "freelist_count")?,
        sync: SyncStats {
            replica_id: state("replica_id")?,
            pending: events as u64 - confirmed,
            confirmed,
            confirmed_through: through,
            conflicts: count(connection, "SELECT count(*) FROM sync_conflicts")?,
            has_cursor: state("cursor")?.is_some(),
            server_log_id: state("server_log_id")?,
        },
    })
}

/// Runs `sql` (rows of `stream, message`) and records up to [`MAX_PROBLEMS`] problems under `check`.
fn collect(
    connection: &Connection,
    report: &mut CheckReport,
    check: &'static str,
    sql: &str,
    parameters: impl rusqlite::Params,
) -> rusqlite::Result<()> {
    report.checks.push(check);
    let mut statement = connection.prepare(sql)?;
    let rows = statement.query_map(parameters, |row| {
        Ok(Problem { check, stream: row.get::<_, Option<String>>(0)?, message: row.get(1)? })
    })?;
    for row in rows {
        report.problems.push(row?);
    }
    Ok(())
}

fn run_checks(connection: &Connection) -> Result<CheckReport, ReadError> {
    let mut report = CheckReport {
        checks: Vec::new(),
        problems: Vec::new(),
        events: 0,
        streams: 0,
        schema_version: 0,
        notes: Vec::new(),
    };

    report.checks.push("INTEGRITY");
    let mut statement = connection.prepare("PRAGMA integrity_check(20)")?;
    let messages: Vec<String> = statement.query_map([], |row| row.get(0))?.collect::<rusqlite::Result<_>>()?;
    if messages != ["ok"] {
        for message in messages {
            report.problems.push(Problem { check: "INTEGRITY", stream: None, message });
        }
    }

    report.checks.push("APPLICATION_ID");
    let application_id: i32 = connection.pragma_query_value(None, "application_id", |row| row.get(0))?;
    if application_id != schema::APPLICATION_ID {
        report.problems.push(Problem {
            check: "APPLICATION_ID",
            stream: None,
            message: format!("application_id is {application_id:#x}, not {:#x}", schema::APPLICATION_ID),
        });
    }
    report.checks.push("SCHEMA_VERSION");
    let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    report.schema_version = u32::try_from(version).unwrap_or(0);
    let readable = i64::from(schema::MIN_READ_ONLY_VERSION)..i64::from(schema::VERSION);
    if readable.contains(&version) {
        // A previous release's file, read as it is: a read-write open migrates it. Not damage.
        report.notes.push(format!(
            "schema version {version} is older than {} (this library's): read as it is; opening the store \
             read-write migrates it",
            schema::VERSION
        ));
    } else if version != i64::from(schema::VERSION) {
        report.problems.push(Problem {
            check: "SCHEMA_VERSION",
            stream: None,
            message: format!(
                "schema version {version}, this library reads {} to {}",
                schema::MIN_READ_ONLY_VERSION,
                schema::VERSION
            ),
        });
    }

    report.events = count(connection, "SELECT count(*) FROM events")?;
    report.streams = count(connection, "SELECT count(DISTINCT stream) FROM events")?;

    // The category column is what reads filter on: it must be the stream id's part before its first `-`
    // (`event::category_of`).
    collect(
        connection,
        &mut report,
        "CATEGORY",
        "SELECT stream, 'event at position ' || position || ' has category ' || quote(category) || ', its stream''s is '
                || quote(expected)
         FROM (SELECT stream, position, category,
                      CASE WHEN instr(stream, '-') > 0 THEN substr(stream, 1, instr(stream, '-') - 1) ELSE stream END
                          AS expected
               FROM events)
         WHERE category IS NOT expected
         LIMIT ?1",
        [MAX_PROBLEMS],
    )?;

    // In position order within each stream, every version is the previous one + 1,
    // starting at 1: versions are dense and increase with position.
    collect(
        connection,
        &mut report,
        "VERSION_GAP",
        "SELECT stream, 'version ' || version || ' at position ' || position || ' follows version '
                || coalesce(previous, 0) || ' (expected ' || (coalesce(previous, 0) + 1) || ')'
         FROM (SELECT stream, version, position,
                      lag(version) OVER (PARTITION BY stream ORDER BY position) AS previous
               FROM events)
         WHERE version != coalesce(previous, 0) + 1 AND version > coalesce(previous, 0)
         LIMIT ?1",
        [MAX_PROBLEMS],
    )?;
    collect(
        connection,
        &mut report,
        "POSITION_ORDER",
        "SELECT stream, 'version ' || version || ' at position ' || position || ' comes after version '
                || previous || ' in position order'
         FROM (SELECT stream, version, position,
                      lag(version) OVER (PARTITION BY stream ORDER BY position) AS previous
               FROM events)
         WHERE version <= previous
         LIMIT ?1",
        [MAX_PROBLEMS],
    )?;
    // What keeps positions from being given out twice: from schema 5 the high-water row (`events_table`), before
    // it AUTOINCREMENT's sequence, which no position may exceed.
    let sequence = if report.schema_version >= 5 {
        None
    } else {
        Some(crate::events_table::high_water(connection, report.schema_version)?)
    };
    collect(
        connection,
        &mut report,
        "POSITION_SEQUENCE",
        "SELECT NULL, 'position ' || max(position) || ' is above the sequence''s last value ' || ?1
         FROM events HAVING ?1 IS NOT NULL AND max(position) > ?1
         UNION ALL
         SELECT NULL, 'log_high_water has lost its row: positions freed by a rewrite could be given out again'
         WHERE ?1 IS NULL AND NOT EXISTS (SELECT 1 FROM log_high_water WHERE id = 1)
         UNION ALL
         SELECT NULL, 'position ' || min(position) || ' is below 1' FROM events HAVING min(position) < 1",
        [sequence.map(clamp_i64)],
    )?;
    // JSON data is TEXT with no content type; binary data is a BLOB with one (`events_table::data_params`).
    collect(
        connection,
        &mut report,
        "DATA_KIND",
        "SELECT stream, 'event at position ' || position || ' has ' || typeof(data) || ' data with '
                || CASE WHEN content_type IS NULL THEN 'no content type' ELSE 'content type ' || quote(content_type) END
         FROM events
         WHERE (content_type IS NULL AND typeof(data) != 'text') OR (content_type IS NOT NULL AND typeof(data) != 'blob')
         LIMIT ?1",
        [MAX_PROBLEMS],
    )?;
    collect(
        connection,
        &mut report,
        "DATA_JSON",
        "SELECT stream, 'event at position ' || position || ' has JSON data that is not valid JSON'
         FROM events WHERE content_type IS NULL AND typeof(data) = 'text' AND NOT json_valid(data) LIMIT ?1",
        [MAX_PROBLEMS],
    )?;
    // CASE evaluates lazily: json_type is only asked about valid JSON text (it fails on anything else).
    collect(
        connection,
        &mut report,
        "METADATA_OBJECT",
        "SELECT stream, 'event at position ' || position || ' has metadata that is not a JSON object'
         FROM events
         WHERE metadata IS NOT NULL
           AND CASE WHEN typeof(metadata) != 'text' THEN 1
                    WHEN NOT json_valid(metadata) THEN 1
                    WHEN json_type(metadata) != 'object' THEN 1
                    ELSE 0 END
         LIMIT ?1",
        [MAX_PROBLEMS],
    )?;
    collect(
        connection,
        &mut report,
        "RECORDED_AT",
        "SELECT stream, 'event at position ' || position || ' has recorded_at ' || quote(recorded_at)
                || ' (ms since the Unix epoch, at least 0)'
         FROM events WHERE typeof(recorded_at) != 'integer' OR recorded_at < 0 LIMIT ?1",
        [MAX_PROBLEMS],
    )?;
    // The sync code reads a value it cannot parse as absent (`confirmed_through` as 0): the check says so.
    collect(
        connection,
        &mut report,
        "SYNC_STATE",
        "SELECT NULL, 'sync state ' || key || ' is ' || quote(value) || ', not ' || CASE key
                    WHEN 'confirmed_through' THEN 'a position' ELSE 'a UUID' END
         FROM sync_state
         WHERE (key = 'confirmed_through'
                AND (typeof(value) != 'text' OR value = '' OR value GLOB '*[^0-9]*' OR length(value) > 19))
            OR (key IN ('replica_id', 'server_log_id')
                AND (typeof(value) != 'text' OR length(value) != 36
                     OR lower(value) NOT GLOB
                        '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-*-*-*-*'))
         LIMIT ?1",
        [MAX_PROBLEMS],
    )?;

    let through = confirmed_through(connection)?;
    let head = count(connection, "SELECT max(position) FROM events")?;
    if through > head {
        report.problems.push(Problem {
            check: "SYNC_CONFIRMED_PREFIX",
            stream: None,
            message: format!("confirmed_through {through} is beyond the log's head {head}"),
        });
    }
    collect(
        connection,
        &mut report,
        "SYNC_CONFIRMED_PREFIX",
        "SELECT stream, 'event at position ' || position || ' is in the confirmed prefix (through ' || ?1
                || ') but has no server position'
         FROM events WHERE position <= ?1 AND server_position IS NULL LIMIT ?2",
        params![clamp_i64(through), MAX_PROBLEMS],
    )?;
    // The confirmed prefix is the server's log in its order: server positions increase with local positions.
    collect(
        connection,
        &mut report,
        "SERVER_POSITION_ORDER",
        "SELECT stream, 'event at position ' || position || ' has server position ' || server_position
                || ', not above the previous confirmed event''s ' || previous
         FROM (SELECT stream, position, server_position,
                      lag(server_position) OVER (ORDER BY position) AS previous
               FROM events WHERE position <= ?1 AND server_position IS NOT NULL)
         WHERE server_position <= previous
         LIMIT ?2",
        params![clamp_i64(through), MAX_PROBLEMS],
    )?;
    collect(
        connection,
        &mut report,
        "SYNC_PENDING_CONFIRMED",
        "SELECT stream, 'event at position ' || position || ' is after the confirmed prefix (through ' || ?1
                || ') but has server position ' || server_position
         FROM events WHERE position > ?1 AND server_position IS NOT NULL LIMIT ?2",
        params![clamp_i64(through), MAX_PROBLEMS],
    )?;
    // A pending event's recorded expectation (`replica::encode_expected`): NULL (appended before schema v2, pushed
    // as `Any`), a version (at least 0), or one of the codes -1 to -4.
    collect(
        connection,
        &mut report,
        "SYNC_EXPECTED",
        "SELECT stream, 'pending event at position ' || position || ' has sync expectation ' || quote(sync_expected)
         FROM events
         WHERE position > ?1 AND sync_expected IS NOT NULL
           AND (typeof(sync_expected) != 'integer' OR sync_expected < -4)
         LIMIT ?2",
        params![clamp_i64(through), MAX_PROBLEMS],
    )?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::{ExpectedVersion, NewEvent};

    fn seeded() -> Store {
        let store = Store::open_in_memory().unwrap();
        for (stream, count) in [("order-1", 3), ("order-2", 1), ("user-1", 2), ("order%x", 1)] {
            let events: Vec<NewEvent> = (0..count).map(|n| NewEvent::json(format!("E{n}"), &n)).collect();
            store.append_to_stream(stream, &events, ExpectedVersion::Any).unwrap();
        }
        store
    }

    fn names(streams: &[StreamInfo]) -> Vec<&str> {
        streams.iter().map(|s| s.stream.as_str()).collect()
    }

    #[test]
    fn streams_are_listed_with_their_figures_filtered_and_paged() {
        let store = seeded();
        let all = store.list_streams(&StreamQuery::default()).unwrap();
        assert_eq!(names(&all), ["order%x", "order-1", "order-2", "user-1"]);
        let order_1 = &all[1];
        assert_eq!((order_1.version, order_1.event_count, order_1.first_position, order_1.last_position), (3, 3, 1, 3));
        assert!(order_1.first_recorded_at <= order_1.last_recorded_at);
        let prefixed =
            store.list_streams(&StreamQuery { prefix: Some("order-".into()), ..Default::default() }).unwrap();
        assert_eq!(names(&prefixed), ["order-1", "order-2"], "% is not a wildcard");
        let category =
            store.list_streams(&StreamQuery { category: Some("user".into()), ..Default::default() }).unwrap();
        assert_eq!(names(&category), ["user-1"]);
        let page = StreamQuery { after: Some("order-1".into()), limit: Some(1), ..Default::default() };
        assert_eq!(names(&store.list_streams(&page).unwrap()), ["order-2"]);
        let zero = StreamQuery { limit: Some(0), ..Default::default() };
        assert_eq!(store.list_streams(&zero).unwrap_err().code(), crate::ErrorCode::InvalidArgument);
    }

    #[test]
    fn stats_count_everything() {
        let store = seeded();
        let stats = store.stats().unwrap();
        assert_eq!((stats.events, stats.streams, stats.first_position, stats.head_position), (7, 4, 1, 7));
        assert_eq!(stats.last_assigned_position, 7);
        assert_eq!(stats.schema_version, schema::VERSION);
        assert_eq!(stats.categories[0], NameCount { name: "order".into(), events: 4 });
        assert_eq!(stats.event_types[0], NameCount { name: "E0".into(), events: 4 });
        assert_eq!((stats.sync.pending, stats.sync.confirmed, stats.sync.conflicts), (7, 0, 0));
        assert_eq!(stats.sync.replica_id, None, "stats create nothing");
        assert_eq!(stats.sync.server_log_id, None);
        let id = crate::sync::server::log_id(&store).unwrap();
        assert_eq!(store.stats().unwrap().sync.server_log_id, Some(id.to_string()), "a server's tenant database");
        assert!(stats.page_count > 0 && stats.page_size > 0);
    }

    #[test]
    fn a_healthy_store_passes_every_check() {
        let store = seeded();
        let report = store.check().unwrap();
        assert!(report.is_healthy(), "{:?}", report.problems);
        assert_eq!((report.events, report.streams), (7, 4));
        assert!(report.checks.contains(&"INTEGRITY") && report.checks.contains(&"SYNC_PENDING_CONFIRMED"));
    }

    #[test]
    fn damage_is_found_and_named() {
        let store = seeded();
        store.with_writer(|connection| {
            connection.execute("DELETE FROM events WHERE stream = 'order-1' AND version = 2", []).unwrap();
            connection
                .execute("UPDATE events SET server_position = position + 100 WHERE stream = 'user-1'", [])
                .unwrap();
        });
        let report = store.check().unwrap();
        let checks: Vec<&str> = report.problems.iter().map(|p| p.check).collect();
        assert_eq!(
            checks,
            ["VERSION_GAP", "SYNC_PENDING_CONFIRMED", "SYNC_PENDING_CONFIRMED"],
            "{:?}",
            report.problems
        );
        assert_eq!(report.problems[0].stream.as_deref(), Some("order-1"));
        assert!(report.problems[0].message.contains("version 3"), "{}", report.problems[0].message);
    }

    #[test]
    fn versions_out_of_position_order_are_found() {
        let store = seeded();
        store.with_writer(|connection| {
            connection
                .execute_batch(
                    "UPDATE events SET version = 100 + version WHERE stream = 'user-1';
                     UPDATE events SET version = 103 - version WHERE stream = 'user-1';",
                )
                .unwrap();
        });
        let report = store.check().unwrap();
        assert!(report.problems.iter().any(|p| p.check == "POSITION_ORDER"), "{:?}", report.problems);
    }

    /// The checks that fail after `damage` (SQL run on the writer connection) of a seeded store.
    fn failing_checks(damage: &str) -> Vec<&'static str> {
        let store = seeded();
        store.with_writer(|connection| connection.execute_batch(damage).unwrap());
        let report = store.check().unwrap();
        let mut checks: Vec<&str> = report.problems.iter().map(|p| p.check).collect();
        checks.dedup();
        checks
    }

    #[test]
    fn a_category_that_does_not_match_the_stream_is_found() {
        assert_eq!(failing_checks("UPDATE events SET category = 'user' WHERE position = 1"), ["CATEGORY"]);
    }

    #[test]
    fn data_of_the_wrong_kind_or_not_json_is_found() {
        assert_eq!(failing_checks("UPDATE events SET content_type = 'image/png' WHERE position = 1"), ["DATA_KIND"]);
        assert_eq!(failing_checks("UPDATE events SET data = x'00ff' WHERE position = 1"), ["DATA_KIND"]);
        assert_eq!(failing_checks("UPDATE events SET data = '{oops' WHERE position = 1"), ["DATA_JSON"]);
    }

    #[test]
    fn metadata_that_is_not_a_json_object_is_found() {
        assert_eq!(failing_checks("UPDATE events SET metadata = '[1, 2]' WHERE position = 1"), ["METADATA_OBJECT"]);
        assert_eq!(failing_checks("UPDATE events SET metadata = '{oops' WHERE position = 2"), ["METADATA_OBJECT"]);
    }

    #[test]
    fn a_negative_recorded_at_is_found() {
        assert_eq!(failing_checks("UPDATE events SET recorded_at = -1 WHERE position = 3"), ["RECORDED_AT"]);
    }

    #[test]
    fn a_garbled_confirmed_through_is_found_not_read_as_zero() {
        let damage = "INSERT INTO sync_state (key, value) VALUES ('confirmed_through', '3x')";
        assert_eq!(failing_checks(damage), ["SYNC_STATE"]);
        let damage = "INSERT INTO sync_state (key, value) VALUES ('replica_id', 'not a uuid')";
        assert_eq!(failing_checks(damage), ["SYNC_STATE"]);
    }

    #[test]
    fn server_positions_out_of_order_in_the_confirmed_prefix_are_found() {
        let damage = "INSERT INTO sync_state (key, value) VALUES ('confirmed_through', '3');
                      UPDATE events SET server_position = 10 - position WHERE position <= 3;";
        assert_eq!(failing_checks(damage), ["SERVER_POSITION_ORDER"]);
        // In order, the same prefix is healthy.
        let healthy = "INSERT INTO sync_state (key, value) VALUES ('confirmed_through', '3');
                       UPDATE events SET server_position = 10 + position WHERE position <= 3;";
        assert!(failing_checks(healthy).is_empty());
    }

    #[test]
    fn a_pending_event_with_an_unknown_expectation_is_found() {
        assert_eq!(failing_checks("UPDATE events SET sync_expected = -9 WHERE position = 4"), ["SYNC_EXPECTED"]);
        assert_eq!(failing_checks("UPDATE events SET sync_expected = 'x' WHERE position = 4"), ["SYNC_EXPECTED"]);
        // NULL is an event appended before schema v2 (pushed as `Any`): not damage.
        assert!(failing_checks("UPDATE events SET sync_expected = NULL WHERE position = 4").is_empty());
    }

    #[test]
    fn a_position_below_one_is_named_as_such() {
        let store = seeded();
        store.with_writer(|connection| {
            connection.execute("UPDATE events SET position = 0 WHERE position = 1", []).unwrap()
        });
        let report = store.check().unwrap();
        let problem = report.problems.iter().find(|p| p.check == "POSITION_SEQUENCE").expect("found");
        assert!(problem.message.contains("position 0 is below 1"), "{}", problem.message);
    }

    #[test]
    fn an_older_readable_schema_is_a_note_and_a_newer_one_a_problem() {
        let store = seeded();
        store.with_writer(|connection| {
            connection.pragma_update(None, "user_version", schema::MIN_READ_ONLY_VERSION).unwrap()
        });
        let report = store.check().unwrap();
        assert!(report.is_healthy(), "{:?}", report.problems);
        assert_eq!(report.schema_version, schema::MIN_READ_ONLY_VERSION);
        assert!(report.notes[0].contains("older"), "{:?}", report.notes);
        assert!(store.stats().unwrap().schema_is_older());
        store.with_writer(|connection| connection.pragma_update(None, "user_version", schema::VERSION + 1).unwrap());
        let report = store.check().unwrap();
        assert_eq!(report.problems.iter().map(|p| p.check).collect::<Vec<_>>(), ["SCHEMA_VERSION"]);
    }

    #[test]
    fn stats_list_the_top_names_and_sum_the_others() {
        let store = Store::open_in_memory().unwrap();
        let names = StoreStats::TOP_NAMES + 5;
        for n in 0..names {
            // Category c{n} gets n + 1 events, so the top ones are the last ones made.
            let events: Vec<NewEvent> = (0..=n).map(|_| NewEvent::json(format!("T{n}"), &n)).collect();
            store.append_to_stream(&format!("c{n}-1"), &events, ExpectedVersion::Any).unwrap();
        }
        let stats = store.stats().unwrap();
        assert_eq!(stats.categories.len(), StoreStats::TOP_NAMES);
        assert_eq!(stats.categories[0], NameCount { name: format!("c{}", names - 1), events: names as u64 });
        assert_eq!(stats.event_types.len(), StoreStats::TOP_NAMES);
        // The 5 smallest: 1 + 2 + 3 + 4 + 5 events.
        assert_eq!(stats.other_categories, OtherNames { names: 5, events: 15 });
        assert_eq!(stats.other_event_types, OtherNames { names: 5, events: 15 });
    }

    #[cfg(unix)]
    #[test]
    fn a_backup_never_writes_through_a_dangling_link_nor_over_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("a.db");
        let store = Store::open(&source).unwrap();
        store.append_to_stream("order-1", &[NewEvent::json("E", &1)], ExpectedVersion::Any).unwrap();
        let (link, target) = (dir.path().join("link.db"), dir.path().join("elsewhere.db"));
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let error = store.backup_into(&link).unwrap_err();
        assert_eq!(error.code(), crate::ErrorCode::InvalidArgument);
        assert!(!target.exists(), "the link's target was not created");
        let existing = dir.path().join("existing.db");
        std::fs::write(&existing, b"keep me").unwrap();
        assert_eq!(store.backup_into(&existing).unwrap_err().code(), crate::ErrorCode::InvalidArgument);
        assert_eq!(std::fs::read(&existing).unwrap(), b"keep me");
        let copy = dir.path().join("copy.db");
        store.backup_into(&copy).unwrap();
        let mut names: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert!(names.iter().all(|name| !name.contains("tmp")), "no temporary file is left: {names:?}");
        assert_eq!(Store::open_read_only(&copy).unwrap().stats().unwrap().events, 1);
    }

    #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
    #[test]
    fn a_read_only_store_is_backed_up_into_a_store_that_passes_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let (source, copy) = (dir.path().join("a.db"), dir.path().join("copy.db"));
        let writer = Store::open(&source).unwrap();
        writer.append_to_stream("order-1", &[NewEvent::json("E", &1)], ExpectedVersion::Any).unwrap();
        let reader = Store::open_read_only(&source).unwrap();
        reader.backup_into(&copy).unwrap();
        let error = reader.backup_into(&copy).unwrap_err();
        assert_eq!(error.code(), crate::ErrorCode::InvalidArgument, "never overwrites");
        let copied = Store::open_read_only(&copy).unwrap();
        assert_eq!(copied.stats().unwrap().events, 1);
        assert!(copied.check().unwrap().is_healthy());
        writer.append_to_stream("order-1", &[NewEvent::json("E", &2)], ExpectedVersion::Any).unwrap();
        assert_eq!(reader.head_position().unwrap(), 2, "the reader still reads");
    }
}
