//! Files made by the previous release (schema 4, `core/tests/data/make_v4_files.rs.txt`, run at commit 7168f8b)
//! open in this one: read-only as they are, read-write migrated in place to the current schema, with every event,
//! sync state, conflict, snapshot and read model kept, and positions that a rejected push freed never given out again.

use std::path::{Path, PathBuf};

use eventlite::sync::server::{self, Limits};
use eventlite::{ExpectedVersion, NewEvent, QueryParams, ReadAllOptions, RecordedEvent, Store, StoreOptions};
use serde_json::json;

fn fixture(name: &str) -> (tempfile::TempDir, PathBuf) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name);
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join(name);
    std::fs::copy(source, &path).unwrap();
    (directory, path)
}

fn log(store: &Store) -> Vec<RecordedEvent> {
    store.read_all(&ReadAllOptions::forwards().max_count(1000)).unwrap().events
}

fn schema_version(path: &Path) -> i64 {
    let connection = rusqlite::Connection::open(path).unwrap();
    connection.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap()
}

fn todos(store: &Store) -> Vec<Vec<eventlite::SqlValue>> {
    store.query("SELECT id, title, done FROM todos ORDER BY id", &QueryParams::None).unwrap().rows
}

#[test]
fn a_device_file_of_the_previous_release_is_migrated_in_place_and_keeps_everything() {
    let (_directory, path) = fixture("v4-device.sqlite3");
    assert_eq!(schema_version(&path), 4);

    // Read-only: read as it is, nothing written.
    let before = std::fs::read(&path).unwrap();
    let (old_log, old_stats, old_todos) = {
        let reader = Store::open_read_only(&path).unwrap();
        (log(&reader), reader.stats().unwrap(), todos(&reader))
    };
    assert_eq!(std::fs::read(&path).unwrap(), before, "a read-only open writes nothing");
    assert_eq!(old_stats.schema_version, 4);
    assert_eq!(old_stats.last_assigned_position, 26, "the refused push freed position 26");
    assert_eq!(old_log.last().unwrap().position, 25);

    let store = Store::open(&path).unwrap();
    assert_eq!(schema_version(&path), i64::from(eventlite::schema::VERSION));
    assert_eq!(log(&store), old_log, "every event keeps its position, id, version, data, metadata and time");
    assert_eq!(todos(&store), old_todos);
    let stats = store.stats().unwrap();
    assert_eq!((stats.head_position, stats.last_assigned_position), (25, 26));
    let report = store.check().unwrap();
    assert!(report.is_healthy(), "{:?}", report.problems);
    let status = store.sync_status().unwrap();
    assert_eq!((status.pending, status.confirmed_through, status.conflicts), (0, 25, 3));
    assert_eq!(status.cursor.as_deref(), Some("11"));
    assert!(store.load_snapshot("todo-2").unwrap().is_some());

    // The freed position stays taken: the next event gets 27.
    let appended = store
        .append_to_stream(
            "todo-5",
            &[NewEvent::json("TodoAdded", &json!({ "title": "tea" }))],
            ExpectedVersion::NoStream,
        )
        .unwrap();
    assert_eq!(appended.positions, vec![27]);
    assert_eq!(todos(&store).len(), old_todos.len() + 1, "the projection still folds appends");

    // Opening again does not migrate again.
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(log(&store).len(), old_log.len() + 1);
}

#[test]
fn a_file_with_a_view_over_the_events_table_is_migrated_and_the_view_reads_the_new_table() {
    // A projection's setup of the previous release could create such a view.
    let (_directory, path) = fixture("v4-device.sqlite3");
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection.execute_batch("CREATE VIEW recent AS SELECT stream FROM events").unwrap();
    // And a table with the name the migration first picks to hold the rows while it rebuilds the table.
    connection
        .execute_batch("CREATE TABLE eventlite_events_aside (x); INSERT INTO eventlite_events_aside VALUES (7)")
        .unwrap();
    drop(connection);
    let store = Store::open(&path).unwrap();
    let rows = store.query("SELECT count(*) FROM recent", &QueryParams::None).unwrap().rows;
    assert_eq!(rows, vec![vec![eventlite::SqlValue::Integer(log(&store).len() as i64)]]);
    drop(store);
    let kept: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT x FROM eventlite_events_aside", [], |row| row.get(0))
        .unwrap();
    assert_eq!(kept, 7, "a table of that name is left alone");
}

#[test]
fn pending_events_of_the_previous_release_are_pushed_and_rebased_after_the_upgrade() {
    let (_directory, path) = fixture("v4-device-pending.sqlite3");
    let (_server_directory, server_path) = fixture("v4-server.sqlite3");
    let hub = Store::open(&server_path).unwrap();
    let device = Store::open(&path).unwrap();
    let status = device.sync_status().unwrap();
    assert_eq!(status.pending, 4);

    // The server (also migrated) refuses the newest one (another device wrote todo-1 first) and takes the rest.
    let push = device.next_push(100).unwrap().unwrap();
    assert_eq!(push.events.len(), 4);
    let response = server::apply_push(&hub, &push, &Limits::default()).unwrap();
    let applied = device.apply_push_response(&push, &response).unwrap();
    assert_eq!(applied.rejected.len(), 1);
    loop {
        let after = device.pull_cursor().unwrap().map_or(0, |cursor| cursor.parse().unwrap());
        let page = server::read_pull(&hub, after, 100).unwrap();
        let more = page.more();
        device.apply_pull(&page.into_response(|p| p.to_string())).unwrap();
        if !more {
            break;
        }
    }
    let status = device.sync_status().unwrap();
    assert_eq!(status.pending, 0);
    let shape = |events: Vec<RecordedEvent>| -> Vec<_> {
        events.into_iter().map(|e| (e.event_id, e.stream, e.version, e.data, e.metadata, e.recorded_at)).collect()
    };
    assert_eq!(shape(log(&device)), shape(log(&hub)), "the device holds the server's log");
    // Rewrites freed positions up to the old high-water mark: none is reused.
    let positions: Vec<u64> = log(&device).iter().map(|e| e.position).collect();
    let old_high_water = 18;
    assert!(positions.iter().filter(|&&p| p > 14).all(|&p| p > old_high_water), "{positions:?}");
    assert!(device.check().unwrap().is_healthy());
    assert!(hub.check().unwrap().is_healthy());
}

#[test]
fn a_server_file_of_the_previous_release_serves_pulls_and_pushes_after_the_upgrade() {
    let (_directory, path) = fixture("v4-server.sqlite3");
    let old = log(&Store::open_read_only(&path).unwrap());
    let hub = Store::open_with(eventlite::Location::File(path.clone()), StoreOptions::default()).unwrap();
    assert_eq!(log(&hub), old);
    let replica = Store::open_in_memory().unwrap();
    let page = server::read_pull(&hub, 0, 100).unwrap();
    replica.apply_pull(&page.into_response(|p| p.to_string())).unwrap();
    replica.append_to_stream("todo-1", &[NewEvent::json("TodoDone", &json!({}))], ExpectedVersion::Exact(5)).unwrap();
    let push = replica.next_push(10).unwrap().unwrap();
    let response = server::apply_push(&hub, &push, &Limits::default()).unwrap();
    assert!(replica.apply_push_response(&push, &response).unwrap().rejected.is_empty());
    assert_eq!(log(&hub).last().unwrap().position, old.last().unwrap().position + 1);
}
