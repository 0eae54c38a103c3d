//! The database schema and its forward-only migrations, tracked by `PRAGMA user_version`.
//!
//! Invariants the schema enforces itself (not only the code): `UNIQUE (stream, version)`, `UNIQUE (event_id)`,
//! versions start at 1, and positions come from `AUTOINCREMENT`, so a position is never reused even after the
//! newest row is deleted (by a sync rebase, say).

use rusqlite::{Connection, TransactionBehavior};

use crate::error::OpenError;

/// The newest schema version this library writes and reads.
pub const VERSION: u32 = 1;

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
pub(crate) fn read_version(connection: &Connection) -> Result<u32, OpenError> {
    let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let application_id: i32 = connection.pragma_query_value(None, "application_id", |row| row.get(0))?;
    if application_id != APPLICATION_ID {
        let tables: i64 = connection.query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))?;
        if application_id != 0 || tables > 0 {
            return Err(OpenError::NotADatabase {
                reason: "a SQLite database that belongs to another application".into(),
            });
        }
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
    fn another_applications_database_is_refused() {
        let mut connection = Connection::open_in_memory().unwrap();
        connection.execute_batch("CREATE TABLE customers (id INTEGER)").unwrap();
        assert!(matches!(migrate(&mut connection), Err(OpenError::NotADatabase { .. })));
    }
}
