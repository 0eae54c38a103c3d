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
    assert!(matches!(error, OpenError::NotADatabase { .. }), "the documented variant, not Storage: {error:?}");
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

#[test]
fn a_write_lock_held_past_the_busy_timeout_is_storage_busy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.db");
    let options = eventlite::StoreOptions { busy_timeout: std::time::Duration::from_millis(50), ..Default::default() };
    let store = Store::open_with(eventlite::Location::File(path.clone()), options).unwrap();
    store.append_to_stream("a-1", &[NewEvent::json("A", &1)], ExpectedVersion::Any).unwrap();
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let error = store.append_to_stream("a-1", &[NewEvent::json("B", &2)], ExpectedVersion::Any).unwrap_err();
    assert_eq!(error.code(), ErrorCode::StorageBusy, "{error}");
    blocker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(store.stream_version("a-1").unwrap(), 1, "the busy append wrote nothing");
    store.append_to_stream("a-1", &[NewEvent::json("B", &2)], ExpectedVersion::Exact(1)).unwrap();
}

#[test]
fn a_full_database_is_storage_full_and_keeps_what_it_had() {
    let dir = tempfile::tempdir().unwrap();
    let options = eventlite::StoreOptions { max_database_bytes: Some(256 * 1024), ..Default::default() };
    let store = Store::open_with(eventlite::Location::File(dir.path().join("full.db")), options).unwrap();
    let big = serde_json::json!({ "blob": "x".repeat(20_000) });
    let mut appended = 0;
    let error = loop {
        match store.append_to_stream(
            "a-1",
            &[NewEvent::json("Big", &big), NewEvent::json("Big", &big)],
            ExpectedVersion::Exact(appended),
        ) {
            Ok(result) => appended = result.stream_version,
            Err(error) => break error,
        }
        assert!(appended < 1_000, "the size cap was not applied");
    };
    assert_eq!(error.code(), ErrorCode::StorageFull, "{error}");
    assert!(appended > 0);
    let slice = store.read_stream("a-1", ReadStreamOptions::forwards()).unwrap();
    assert_eq!(slice.stream_version, appended, "the failed batch wrote nothing, earlier batches are intact");
    assert_eq!(slice.events.len() as u64, appended);
}

#[test]
fn a_damaged_file_is_reported_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.db");
    {
        let store = Store::open(&path).unwrap();
        let batch: Vec<NewEvent> =
            (0..2_000).map(|n| NewEvent::json("E", &serde_json::json!({ "n": n, "pad": "p".repeat(100) }))).collect();
        store.append_to_stream("a-1", &batch, ExpectedVersion::Any).unwrap();
    }
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection.pragma_update(None, "wal_checkpoint", "TRUNCATE").unwrap();
    }
    // Overwrite the middle of the file (B-tree pages of the events table and its indexes) with garbage.
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    for byte in &mut bytes[middle - 40_000..middle + 40_000] {
        *byte = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let outcome = Store::open(&path).and_then(|store| {
        store.read_all(&eventlite::ReadAllOptions::forwards().max_count(10_000)).map(|_| store).map_err(|error| {
            OpenError::Storage(match error {
                eventlite::ReadError::Storage(storage) => storage,
                other => panic!("unexpected {other}"),
            })
        })
    });
    let error = outcome.expect_err("reading a damaged file must fail");
    assert_eq!(error.code(), ErrorCode::Corrupt, "{error}");
}
