//! The database schema and its forward-only migrations, tracked by `PRAGMA user_version`.
//!
//! Invariants the schema enforces itself (not only the code): `UNIQUE (stream, version)`, `UNIQUE (event_id)`,
//! versions start at 1. Positions are never reused, even after the newest rows are deleted (by a sync rebase, say):
//! up to version 4 `AUTOINCREMENT` kept the highest one, from version 5 `log_high_water` does
//! (`crate::events_table`).

use rusqlite::{Connection, TransactionBehavior};

use crate::error::OpenError;

/// The newest schema version this library writes and reads.
pub const VERSION: u32 = 5;

/// The oldest schema a read-only open reads as it is: its events and sync tables have this version's columns (v4
/// added the projection tables, which read as empty; v5 rebuilt the events table with the same columns, see
/// `events_table::high_water` for the one read that differs).
pub const MIN_READ_ONLY_VERSION: u32 = 3;

/// `PRAGMA application_id` of EventLite databases: "EvLt".
pub const APPLICATION_ID: i32 = 0x4576_4c74;

const V1: &str = "
CREATE TABLE events (
    position     INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     BLOB    NOT NULL UNIQUE,
    stream       TEXT    NOT NULL,
    version      INTEGER NOT NULL CHECK (version >= 1),
    category     TEXT    NOT NULL,
    event_type   TEXT    NOT NULL,
    content_type TEXT,             -- NULL: application/json, data is TEXT; otherwise data is a BLOB
    data         BLOB    NOT NULL,
    metadata     TEXT,             -- JSON object text or NULL
    recorded_at  INTEGER NOT NULL, -- ms since the Unix epoch
    UNIQUE (stream, version)
);
CREATE INDEX events_by_category ON events (category, position);
CREATE INDEX events_by_stream ON events (stream, position);
CREATE INDEX events_by_type ON events (event_type, position);

CREATE TABLE snapshots (
    stream      TEXT    NOT NULL,
    schema_tag  TEXT    NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    state       TEXT    NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (stream, schema_tag)
) WITHOUT ROWID;

CREATE TABLE checkpoints (
    name       TEXT    PRIMARY KEY,
    position   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Version 2: sync state (see `crate::sync`). Every event records the expectation it was appended with
/// (`sync_expected`, NULL for events pulled from a server) and, once the server confirmed it, its server position.
/// Events after `confirmed_through` (in `sync_state`) are pending; confirmed events form a prefix of the log.
const V2: &str = "
ALTER TABLE events ADD COLUMN sync_expected INTEGER;   -- see sync::replica::encode_expected; NULL: pulled
ALTER TABLE events ADD COLUMN server_position INTEGER; -- NULL while pending
CREATE UNIQUE INDEX events_by_server_position ON events (server_position) WHERE server_position IS NOT NULL;

CREATE TABLE sync_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE sync_conflicts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id       BLOB    NOT NULL UNIQUE,
    stream         TEXT    NOT NULL,
    event_type     TEXT    NOT NULL,
    content_type   TEXT,
    data           BLOB    NOT NULL,
    metadata       TEXT,
    expected       INTEGER NOT NULL,
    code           TEXT    NOT NULL, -- WRONG_EXPECTED_VERSION, FOLLOWS_REJECTED, IDEMPOTENCY_CONFLICT, ...
    actual_version INTEGER,          -- the server stream's version when it rejected the event
    message        TEXT    NOT NULL,
    recorded_at    INTEGER NOT NULL, -- when it was appended locally
    rejected_at    INTEGER NOT NULL
);

CREATE TABLE sync_rewrites (
    epoch         INTEGER PRIMARY KEY AUTOINCREMENT,
    from_position INTEGER NOT NULL -- every event after this position was deleted and re-inserted or dropped
);
";

/// Version 3: an index per (category, event type), so a filter with both reads one page whatever the log's size
/// (`crate::log`); rewrites that come from a server log reset are marked (confirmed-only subscribers see those).
const V3: &str = "
CREATE INDEX events_by_category_type ON events (category, event_type, position);
ALTER TABLE sync_rewrites ADD COLUMN log_reset INTEGER NOT NULL DEFAULT 0;
";

/// Version 4: projections (`crate::projection`). Each registered projection's definition and progress; the undo
/// statements recorded while projections fold pending events (run backwards on a sync rebase); which projection
/// and event the undo triggers record for; a change counter per projection table (what watches compare); a
/// generation every connection compares to know when to reload the definitions.
const V4: &str = "
CREATE TABLE projections (
    name            TEXT    PRIMARY KEY,
    version         INTEGER NOT NULL,
    definition      TEXT    NOT NULL, -- the Projection as JSON
    tables          TEXT    NOT NULL, -- JSON array: the tables and views its setup created
    writes          TEXT    NOT NULL, -- JSON: per handler, per statement, the tables it writes
    uses            TEXT    NOT NULL, -- JSON array: the event parameters its statements use
    applied_through INTEGER NOT NULL, -- the last position folded
    undo_after      INTEGER NOT NULL, -- every pending event folded after this position recorded its undo
    failed_position INTEGER,          -- set when an event from the server made a statement fail
    failed_event_id BLOB,
    error           TEXT
) WITHOUT ROWID;

CREATE TABLE projection_undo (
    seq        INTEGER PRIMARY KEY,
    projection TEXT    NOT NULL,
    position   INTEGER NOT NULL, -- the event whose folding the statement undoes
    statement  TEXT    NOT NULL
);
CREATE INDEX projection_undo_by_position ON projection_undo (projection, position);

CREATE TABLE projection_recording (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    projection TEXT,
    position   INTEGER -- NULL: the undo triggers record nothing
);
INSERT INTO projection_recording (id) VALUES (1);

CREATE TABLE projection_table_versions (
    name    TEXT    PRIMARY KEY,
    version INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE projection_generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO projection_generation (id, value) VALUES (1, 0);
";

/// Version 5: fewer B-trees written per event. The events table is rebuilt without `AUTOINCREMENT` (whose
/// `sqlite_sequence` row every insert rewrote); the highest position ever given out moves to `log_high_water`,
/// which only a delete of the newest rows writes. `events_by_stream (stream, position)` goes: within a stream versions
/// and positions rise together, so `UNIQUE (stream, version)` serves stream reads and stream subscriptions. Rows keep
/// their positions. The rows are copied aside and back inside the migration's transaction, with no `ALTER TABLE
/// RENAME` (the npm package's SQLite is built without the temp schema that a rename rewrites), so views over
/// `events` (a projection's setup may have made one) read the new table.
const V5: &str = "
CREATE TABLE eventlite_events_aside AS SELECT * FROM events;
CREATE TABLE log_high_water (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL -- the highest position ever given out, when above the log's head
);
INSERT INTO log_high_water (id, position)
    VALUES (1, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0));
DROP TABLE events;
DELETE FROM sqlite_sequence WHERE name = 'events';
CREATE TABLE events (
    position        INTEGER PRIMARY KEY, -- given out by events_table::RowWriter, never reused
    event_id        BLOB    NOT NULL UNIQUE,
    stream          TEXT    NOT NULL,
    version         INTEGER NOT NULL CHECK (version >= 1),
    category        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    content_type    TEXT,             -- NULL: application/json, data is TEXT; otherwise data is a BLOB
    data            BLOB    NOT NULL,
    metadata        TEXT,             -- JSON object text or NULL
    recorded_at     INTEGER NOT NULL, -- ms since the Unix epoch
    sync_expected   INTEGER,          -- see sync::replica::encode_expected; NULL: pulled
    server_position INTEGER,          -- NULL while pending
    UNIQUE (stream, version)
);
INSERT INTO events (position, event_id, stream, version, category, event_type, content_type, data, metadata,
                    recorded_at, sync_expected, server_position)
    SELECT position, event_id, stream, version, category, event_type, content_type, data, metadata, recorded_at,
           sync_expected, server_position
    FROM eventlite_events_aside ORDER BY position;
DROP TABLE eventlite_events_aside;
CREATE UNIQUE INDEX events_by_server_position ON events (server_position) WHERE server_position IS NOT NULL;
CREATE INDEX events_by_category ON events (category, position);
CREATE INDEX events_by_type ON events (event_type, position);
CREATE INDEX events_by_category_type ON events (category, event_type, position);
";

/// Brings the database to [`VERSION`]. Reads first and writes nothing when the file is foreign or too new.
pub(crate) fn migrate(connection: &mut Connection) -> Result<(), OpenError> {
    let found = read_version(connection)?;
    if found == VERSION {
        return Ok(());
    }
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another process may have migrated while we waited for the write lock.
    let found = read_version(&transaction)?;
    upgrade_from(&transaction, found)?;
    transaction.pragma_update(None, "application_id", APPLICATION_ID)?;
    transaction.pragma_update(None, "user_version", VERSION)?;
    transaction.commit()?;
    Ok(())
}

/// The schema version in the file, after checking the file is ours (or empty) and not newer than we know.
///
/// The three facts are read in one statement, so in one read transaction: another process creating the schema at
/// the same moment (one transaction) is seen either not at all or whole, never as tables without an application id.
pub(crate) fn read_version(connection: &Connection) -> Result<u32, OpenError> {
    let (version, application_id, tables): (i64, i32, i64) = connection.query_row(
        "SELECT (SELECT user_version FROM pragma_user_version), (SELECT application_id FROM pragma_application_id),
                (SELECT count(*) FROM sqlite_schema)",
        [],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )?;
    if application_id != APPLICATION_ID && (application_id != 0 || tables > 0) {
        return Err(OpenError::NotADatabase { reason: "a SQLite database that belongs to another application".into() });
    }
    let version = u32::try_from(version).unwrap_or(u32::MAX);
    if version > VERSION {
        return Err(OpenError::SchemaTooNew { found: version, supported: VERSION });
    }
    Ok(version)
}

fn upgrade_from(connection: &Connection, version: u32) -> Result<(), OpenError> {
    if version < 1 {
        connection.execute_batch(V1)?;
    }
    if version < 2 {
        connection.execute_batch(V2)?;
    }
    if version < 3 {
        connection.execute_batch(V3)?;
    }
    if version < 4 {
        connection.execute_batch(V4)?;
    }
    if version < 5 {
        // The table the rows wait in must not be one a projection created.
        let mut aside = "eventlite_events_aside".to_owned();
        while connection
            .query_row("SELECT count(*) FROM sqlite_schema WHERE name = ?1", [&aside], |row| row.get::<_, i64>(0))?
            > 0
        {
            aside.push('_');
        }
        connection.execute_batch(&V5.replace("eventlite_events_aside", &aside))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn migrating_twice_is_a_no_op() {
        let mut connection = Connection::open_in_memory().unwrap();
        migrate(&mut connection).unwrap();
        migrate(&mut connection).unwrap();
        assert_eq!(read_version(&connection).unwrap(), VERSION);
    }

    #[test]
    fn a_newer_schema_is_refused_without_writing() {
        let mut connection = Connection::open_in_memory().unwrap();
        migrate(&mut connection).unwrap();
        connection.pragma_update(None, "user_version", VERSION + 1).unwrap();
        let error = migrate(&mut connection).unwrap_err();
        assert_eq!(error, OpenError::SchemaTooNew { found: VERSION + 1, supported: VERSION });
    }

    #[test]
    fn a_version_1_database_is_upgraded_in_place() {
        let mut connection = Connection::open_in_memory().unwrap();
        connection.execute_batch(V1).unwrap();
        connection.pragma_update(None, "application_id", APPLICATION_ID).unwrap();
        connection.pragma_update(None, "user_version", 1).unwrap();
        connection
            .execute(
                "INSERT INTO events (event_id, stream, version, category, event_type, data, recorded_at)
                 VALUES (x'00000000000000000000000000000001', 'a-1', 1, 'a', 'E', '{}', 1)",
                [],
            )
            .unwrap();
        migrate(&mut connection).unwrap();
        assert_eq!(read_version(&connection).unwrap(), VERSION);
        let (expected, server): (Option<i64>, Option<i64>) = connection
            .query_row("SELECT sync_expected, server_position FROM events", [], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap();
        assert_eq!((expected, server), (None, None), "old events become pending appends with no expectation");
    }

    #[test]
    fn another_applications_database_is_refused() {
        let mut connection = Connection::open_in_memory().unwrap();
        connection.execute_batch("CREATE TABLE customers (id INTEGER)").unwrap();
        assert!(matches!(migrate(&mut connection), Err(OpenError::NotADatabase { .. })));
    }
}
