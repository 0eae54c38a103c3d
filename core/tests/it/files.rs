//! Opening files that are not ours, or too new: a typed error and the file untouched. Durability across reopen.

use eventlite::{ErrorCode, ExpectedVersion, NewEvent, OpenError, ReadStreamOptions, Store};

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    let content = "these are my notes, not a database\n".repeat(200);
    std::fs::write(&path, &content).unwrap();
    let error = Store::open(&path).unwrap_err();
    assert_eq!(error.code(), ErrorCode::NotADatabase, "{error}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), content);
}

#[test]
fn another_applications_database_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection.execute_batch("CREATE TABLE customers (name TEXT); INSERT INTO customers VALUES ('Ada');").unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let error = Store::open(&path).unwrap_err();
    assert!(matches!(error, OpenError::NotADatabase { .. }), "{error}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_database_from_a_newer_schema_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.db");
    {
        let store = Store::open(&path).unwrap();
        store.append_to_stream("a-1", &[NewEvent::json("A", &1)], ExpectedVersion::Any).unwrap();
    }
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection.pragma_update(None, "user_version", eventlite::schema::VERSION + 1).unwrap();
        connection.pragma_update(None, "wal_checkpoint", "TRUNCATE").unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let error = Store::open(&path).unwrap_err();
    assert_eq!(
        error,
        OpenError::SchemaTooNew { found: eventlite::schema::VERSION + 1, supported: eventlite::schema::VERSION }
    );
    assert_eq!(error.code(), ErrorCode::SchemaTooNew);
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_missing_directory_is_storage_unavailable() {
    let error = Store::open("/nonexistent-eventlite-dir/x/store.db").unwrap_err();
    assert_eq!(error.code(), ErrorCode::StorageUnavailable, "{error}");
}

#[test]
fn events_survive_reopening_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("durable.db");
    let appended = {
        let store = Store::open(&path).unwrap();
        store
            .append_to_stream("a-1", &[NewEvent::json("A", &1), NewEvent::json("B", &2)], ExpectedVersion::NoStream)
            .unwrap()
    };
    let store = Store::open(&path).unwrap();
    let slice = store.read_stream("a-1", ReadStreamOptions::forwards()).unwrap();
    assert_eq!(slice.stream_version, 2);
    assert_eq!(slice.events.iter().map(|e| e.position).collect::<Vec<_>>(), appended.positions);
    let journal: String =
        rusqlite::Connection::open(&path).unwrap().pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(journal, "wal");
}
