//! Read-only opens: tools, backups and inspection read a store without ever writing to it or beside it.

use std::path::Path;
use std::process::Command;

use eventlite::{ErrorCode, ExpectedVersion, NewEvent, ReadAllOptions, ReadStreamOptions, Store};

/// Each file's name, length and a hash of its bytes.
fn files_in(dir: &Path) -> Vec<(String, usize, u64)> {
    use std::hash::{Hash, Hasher};
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let bytes = std::fs::read(entry.path()).unwrap();
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut hasher);
            (entry.file_name().to_string_lossy().into_owned(), bytes.len(), hasher.finish())
        })
        .collect();
    files.sort();
    files
}

fn store_with_events(path: &Path, events: usize) {
    let store = Store::open(path).unwrap();
    for n in 0..events {
        store.append_to_stream("order-1", &[NewEvent::json("Placed", &n)], ExpectedVersion::Any).unwrap();
    }
}

#[test]
fn a_read_only_store_reads_and_refuses_writes_leaving_the_database_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    store_with_events(&path, 3);
    let before = files_in(dir.path());
    let store = Store::open_read_only(&path).unwrap();
    assert_eq!(store.read_stream("order-1", ReadStreamOptions::forwards()).unwrap().events.len(), 3);
    assert_eq!(store.read_all(&ReadAllOptions::forwards()).unwrap().head_position, 3);
    let error = store.append_to_stream("order-1", &[NewEvent::json("Placed", &9)], ExpectedVersion::Any).unwrap_err();
    assert_eq!(error.code(), ErrorCode::StorageReadOnly, "{error}");
    assert_eq!(store.save_checkpoint("tool", 1).unwrap_err().code(), ErrorCode::StorageReadOnly);
    drop(store);
    // SQLite makes a WAL database's shared-memory index (and an empty WAL) beside it when the directory is writable;
    // the database itself is untouched and nothing was logged.
    let after = files_in(dir.path());
    assert_eq!(after[0], before[0], "the database file is unchanged");
    assert!(after.iter().all(|(name, len, _)| !name.ends_with("-wal") || *len == 0), "{after:?}");
}

#[test]
fn a_read_only_store_sees_a_live_writers_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.db");
    let writer = Store::open(&path).unwrap();
    writer.append_to_stream("a-1", &[NewEvent::json("E", &1)], ExpectedVersion::Any).unwrap();
    let reader = Store::open_read_only(&path).unwrap();
    writer.append_to_stream("a-1", &[NewEvent::json("E", &2)], ExpectedVersion::Any).unwrap();
    assert_eq!(reader.stream_version("a-1").unwrap(), 2);
}

#[test]
fn a_missing_or_foreign_file_is_refused_read_only_without_creating_anything() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    assert_eq!(Store::open_read_only(&missing).unwrap_err().code(), ErrorCode::StorageUnavailable);
    assert!(!missing.exists());
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a database ".repeat(100)).unwrap();
    assert_eq!(Store::open_read_only(&text).unwrap_err().code(), ErrorCode::NotADatabase);
    assert_eq!(files_in(dir.path()).len(), 1);
}

/// On a read-only mount (a bind mount remounted read-only, which needs root): the store opens and reads. Where the
/// test cannot mount, it says so and checks the same through the directory alone.
#[test]
fn a_store_on_a_read_only_mount_can_be_read() {
    let dir = tempfile::tempdir().unwrap();
    // A non-ASCII directory name: the immutable fallback names the file by a URI.
    let source = dir.path().join("Données");
    let mount = dir.path().join("montée");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::create_dir_all(&mount).unwrap();
    store_with_events(&source.join("app.db"), 5);
    let mounted = Command::new("mount").args(["--bind"]).arg(&source).arg(&mount).status().is_ok_and(|s| s.success())
        && Command::new("mount").args(["-o", "remount,ro,bind"]).arg(&mount).status().is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("NOTE: cannot bind-mount read-only here (not root?): checking the read-only open on the source");
    }
    let path = if mounted { mount.join("app.db") } else { source.join("app.db") };
    if mounted {
        assert!(std::fs::write(mount.join("probe"), b"x").is_err(), "the mount is read-only");
    }
    let result = Store::open_read_only(&path).map(|store| store.stream_version("order-1"));
    let read_write = Store::open(&path).map(drop).map_err(|error| error.code());
    if mounted {
        Command::new("umount").arg(&mount).status().unwrap();
    }
    assert_eq!(result.map_err(|error| error.to_string()).map(Result::unwrap), Ok(5));
    if mounted {
        assert!(read_write.is_err(), "a read-write open on a read-only mount fails with a code, not a panic");
    }
}

/// A file the previous release left behind (schema v3, before projections) opens read-only as it is: readable,
/// unchanged, with no projections.
#[test]
fn a_previous_schema_opens_read_only_without_being_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v3.db");
    {
        let store = eventlite::Store::open(&path).unwrap();
        store
            .append_to_stream(
                "s-1",
                &[eventlite::NewEvent::json("E", &serde_json::json!({}))],
                eventlite::ExpectedVersion::Any,
            )
            .unwrap();
    }
    // Make it a v3 file as the previous release wrote it: no projection tables, user_version 3.
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection
        .execute_batch(
            "DROP TABLE projections; DROP TABLE projection_undo; DROP TABLE projection_recording;
             DROP TABLE projection_table_versions; DROP TABLE projection_generation; PRAGMA user_version = 3;
             PRAGMA wal_checkpoint(TRUNCATE);",
        )
        .unwrap();
    drop(connection);
    let before = std::fs::read(&path).unwrap();
    let store = eventlite::Store::open_read_only(&path).unwrap();
    assert_eq!(store.read_stream("s-1", eventlite::ReadStreamOptions::forwards()).unwrap().events.len(), 1);
    assert!(store.projections().unwrap().is_empty());
    drop(store);
    assert_eq!(std::fs::read(&path).unwrap(), before, "not migrated");
    // A schema older than that is still refused read-only.
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection.execute_batch("PRAGMA user_version = 2").unwrap();
    drop(connection);
    let error = eventlite::Store::open_read_only(&path).unwrap_err();
    assert_eq!(error.code().as_str(), "STORAGE_READ_ONLY");
}
