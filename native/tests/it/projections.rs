//! Read models through the binding: the portable JSON definition, queries with both kinds of parameters, a watch
//! on its own thread that another process's appends wake, and the typed errors.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use eventlite_native::{EventLiteError, EventStore, ExpectedVersion, QueryHandler, QueryRows, SqlValue};

use crate::{event, file_store, wait_until};

const TODOS: &str = r#"{"name": "todos", "version": 1,
  "setup": "CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL)",
  "handlers": [{"type": "Added", "statements": ["INSERT INTO todos VALUES (:stream, :data ->> '$.title')"]}]}"#;

#[derive(Default)]
struct Rows(Mutex<Vec<(QueryRows, std::thread::ThreadId)>>);

impl QueryHandler for Rows {
    fn on_rows(&self, rows: QueryRows) -> Result<(), EventLiteError> {
        self.0.lock().unwrap().push((rows, std::thread::current().id()));
        Ok(())
    }
}

fn count(rows: &Rows) -> Option<i64> {
    match rows.0.lock().unwrap().last()?.0.rows.first()?.first()? {
        SqlValue::Integer { value } => Some(*value),
        _ => None,
    }
}

#[test]
fn a_watch_on_a_library_thread_sees_another_handles_appends_to_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir, "todos.db");
    store.register_projection_json(TODOS.into()).unwrap();
    let rows = Arc::new(Rows::default());
    let watch = store.watch("SELECT count(*) FROM todos".into(), vec![], rows.clone()).unwrap();
    assert!(wait_until(|| count(&rows) == Some(0)));
    // Another handle on the same file stands in for another process: its commits are seen by polling.
    let other = file_store(&dir, "todos.db");
    other
        .append_to_stream("todo-1".into(), vec![event("Added", r#"{"title":"milk"}"#)], ExpectedVersion::NoStream)
        .unwrap();
    assert!(wait_until(|| count(&rows) == Some(1)));
    assert!(rows.0.lock().unwrap().iter().all(|(_, thread)| *thread != std::thread::current().id()));
    watch.stop().unwrap();
    let named = store
        .query_named(
            "SELECT title FROM todos WHERE id = :id".into(),
            HashMap::from([("id".into(), SqlValue::Text { value: "todo-1".into() })]),
        )
        .unwrap();
    assert_eq!(named.rows, vec![vec![SqlValue::Text { value: "milk".into() }]]);
    store.close();
    assert!(matches!(store.query("SELECT 1".into(), vec![]), Err(EventLiteError::StoreClosed { .. })));
}

#[test]
fn projection_errors_are_typed_and_write_nothing() {
    let store = EventStore::open_in_memory().unwrap();
    let invalid = store.register_projection_json(r#"{"name": "x", "version": 1}"#.into()).unwrap_err();
    assert!(
        matches!(&invalid, EventLiteError::InvalidArgument { argument, .. } if argument == "projection"),
        "{invalid:?}"
    );
    store.register_projection_json(TODOS.into()).unwrap();
    let refused =
        store.append_to_stream("todo-1".into(), vec![event("Added", "{}")], ExpectedVersion::NoStream).unwrap_err();
    assert!(
        matches!(&refused, EventLiteError::ProjectionFailed { projection, index: Some(0), .. } if projection == "todos"),
        "{refused:?}"
    );
    assert_eq!(refused.code(), "PROJECTION_FAILED");
    assert_eq!(store.stream_version("todo-1".into()).unwrap(), 0);
    let write = store.query("INSERT INTO todos VALUES ('a', 'b')".into(), vec![]).unwrap_err();
    assert_eq!(write.code(), "INVALID_ARGUMENT");
    assert_eq!(store.projections().unwrap().len(), 1);
    assert!(store.drop_projection("todos".into()).unwrap());
}
