//! Read models: SQL projections the store keeps in the same transaction as the events they fold, rewinds on a sync
//! rebase, and serves read-only queries and watches over.
//!
//! - [`Projection`]: the portable definition (JSON in every binding).
//! - [`Store::register_projection`]: checks the SQL, creates the tables and folds the existing log; a new version
//!   rebuilds. The definition is stored, so every process writing to the store runs it, in every write transaction
//!   (`runner.rs`).
//! - [`Store::query`] and [`Store::watch`] (`query.rs`): read-only SQL, and a query re-run only when a table it
//!   reads changed.
//!
//! Failures: a local append whose projection statement fails is refused with `PROJECTION_FAILED` and writes nothing.
//! An event from the server is never refused: the projection is marked failed (see [`ProjectionStatus::failure`]),
//! stops folding, and queries over its tables fail with `PROJECTION_FAILED` until a new version is registered.

mod definition;
mod guard;
mod query;
pub(crate) mod runner;

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use uuid::Uuid;

pub use definition::{EVENT_PARAMETERS, Handler, MAX_NAME_LEN as MAX_PROJECTION_NAME_LEN, Projection};
pub use query::{QueryParams, QueryRows, QueryWatch, SqlValue};

use crate::error::{InvalidArgument, ProjectionError};
use crate::store::{Store, lock};
use guard::Policy;
use runner::{Mode, Registry, RunError};

/// A registered projection's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionStatus {
    /// Its name.
    pub name: String,
    /// The registered version.
    pub version: u32,
    /// Whether it folds confirmed events only.
    pub confirmed_only: bool,
    /// The last position folded into its tables.
    pub applied_through: u64,
    /// The tables (and views) its setup created.
    pub tables: Vec<String>,
    /// Set when an event from the server made one of its statements fail: it has stopped folding.
    pub failure: Option<ProjectionFailure>,
}

/// Why a projection stopped: the event it could not fold, and SQLite's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionFailure {
    /// The event's local position.
    pub position: u64,
    /// The event's id, if it is still in the log.
    pub event_id: Option<Uuid>,
    /// SQLite's message.
    pub message: String,
}

impl Store {
    /// Registers `projection`: checks its SQL (`INVALID_ARGUMENT` with SQLite's message, nothing written), creates
    /// its tables and folds every event already stored, all in one transaction. Registering the registered
    /// version again with the same definition changes nothing; a different version drops the old tables and
    /// rebuilds; the same version with a different definition is refused (give it a new version). Fails with
    /// `PROJECTION_FAILED` (nothing written) when a statement fails on a stored event.
    pub fn register_projection(&self, projection: &Projection) -> Result<ProjectionStatus, ProjectionError> {
        projection.validate()?;
        let status = self.with_writer(|connection| -> Result<ProjectionStatus, ProjectionError> {
            let policy = guard::install(connection)?;
            let mut registry = lock(&self.shared.projections);
            let result = register_in(connection, &policy, projection, &mut registry);
            if result.is_err() {
                registry.invalidate();
            }
            guard::remove(connection)?;
            result
        })?;
        self.shared.commits.wake();
        Ok(status)
    }

    /// Removes a projection and drops its tables. `false` if there was none of that name.
    pub fn drop_projection(&self, name: &str) -> Result<bool, ProjectionError> {
        definition::validate_name(name)?;
        let dropped = self.with_writer(|connection| -> Result<bool, ProjectionError> {
            let transaction = Transaction::new_unchecked(connection, TransactionBehavior::Immediate)?;
            let Some(tables) = stored_tables(&transaction, name)? else { return Ok(false) };
            runner::drop_tables(&transaction, &tables)?;
            transaction.execute("DELETE FROM projection_undo WHERE projection = ?1", [name])?;
            transaction.execute("DELETE FROM projections WHERE name = ?1", [name])?;
            runner::bump_generation(&transaction)?;
            runner::touch(&transaction, &tables.into_iter().collect())?;
            transaction.commit()?;
            lock(&self.shared.projections).invalidate();
            Ok(true)
        })?;
        if dropped {
            self.shared.commits.wake();
        }
        Ok(dropped)
    }

    /// Every registered projection, by name.
    pub fn projections(&self) -> Result<Vec<ProjectionStatus>, ProjectionError> {
        self.with_reader(|connection| Ok(statuses(connection, None)?))
    }

    /// One projection's state, `None` if it is not registered.
    pub fn projection(&self, name: &str) -> Result<Option<ProjectionStatus>, ProjectionError> {
        definition::validate_name(name)?;
        self.with_reader(|connection| Ok(statuses(connection, Some(name))?.pop()))
    }
}

fn stored_tables(connection: &Connection, name: &str) -> rusqlite::Result<Option<Vec<String>>> {
    let tables: Option<String> =
        connection.query_row("SELECT tables FROM projections WHERE name = ?1", [name], |row| row.get(0)).optional()?;
    Ok(tables.map(|tables| serde_json::from_str(&tables).unwrap_or_default()))
}

pub(crate) fn statuses(connection: &Connection, name: Option<&str>) -> rusqlite::Result<Vec<ProjectionStatus>> {
    // A read-only open of a file older than v4 has no projections table: it has no projections.
    let has_table: bool = connection
        .prepare_cached("SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'projections'")?
        .query_row([], |row| row.get(0))?;
    if !has_table {
        return Ok(Vec::new());
    }
    let mut statement = connection.prepare_cached(
        "SELECT name, version, definition, applied_through, tables, failed_position, failed_event_id, error
         FROM projections WHERE ?1 IS NULL OR name = ?1 ORDER BY name",
    )?;
    let rows = statement.query_map([name], |row| {
        let definition: String = row.get(2)?;
        let tables: String = row.get(4)?;
        let failed_position: Option<i64> = row.get(5)?;
        let event_id: Option<[u8; 16]> = row.get(6)?;
        Ok(ProjectionStatus {
            name: row.get(0)?,
            version: row.get(1)?,
            confirmed_only: Projection::from_json(&definition).is_ok_and(|definition| definition.confirmed_only),
            applied_through: row.get::<_, i64>(3)? as u64,
            tables: serde_json::from_str(&tables).unwrap_or_default(),
            failure: match failed_position {
                Some(position) => Some(ProjectionFailure {
                    position: position as u64,
                    event_id: event_id.map(Uuid::from_bytes),
                    message: row.get(7)?,
                }),
                None => None,
            },
        })
    })?;
    rows.collect()
}

fn set_policy(policy: &std::sync::Mutex<Policy>, next: Policy) -> Policy {
    std::mem::replace(&mut *policy.lock().unwrap_or_else(std::sync::PoisonError::into_inner), next)
}

fn schema_objects(connection: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    connection
        .prepare("SELECT type, name FROM sqlite_schema")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect()
}

fn register_in(
    connection: &Connection,
    policy: &std::sync::Mutex<Policy>,
    projection: &Projection,
    registry: &mut Registry,
) -> Result<ProjectionStatus, ProjectionError> {
    let definition = projection.to_json();
    let transaction = Transaction::new_unchecked(connection, TransactionBehavior::Immediate)?;
    let stored: Option<(u32, String, String)> = transaction
        .query_row("SELECT version, definition, tables FROM projections WHERE name = ?1", [&projection.name], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?;
    match stored {
        Some((version, stored, _)) if version == projection.version && stored == definition => {
            // Registered already: fold anything a writer that did not know it left behind.
            catch_up(&transaction, registry, Some(&projection.name))?;
            let status = statuses(&transaction, Some(&projection.name))?.pop();
            transaction.commit()?;
            return status.ok_or_else(|| ProjectionError::Storage(rusqlite::Error::QueryReturnedNoRows.into()));
        }
        Some((version, _, _)) if version == projection.version => {
            return Err(InvalidArgument::new(
                "projection.version",
                format!(
                    "projection {:?} version {version} is registered with a different definition; register the \
                     new definition as a new version (which rebuilds it)",
                    projection.name
                ),
            )
            .into());
        }
        Some((_, _, tables)) => {
            let tables: Vec<String> = serde_json::from_str(&tables).unwrap_or_default();
            runner::drop_tables(&transaction, &tables)?;
            transaction.execute("DELETE FROM projection_undo WHERE projection = ?1", [&projection.name])?;
            transaction.execute("DELETE FROM projections WHERE name = ?1", [&projection.name])?;
        }
        None => {}
    }

    let before = schema_objects(&transaction)?;
    let existing: BTreeSet<String> = before.iter().map(|(_, name)| name.clone()).collect();
    set_policy(policy, Policy::Setup { existing: existing.clone(), refused: None });
    let setup = transaction.execute_batch(&projection.setup);
    let refused = match set_policy(policy, Policy::Internal) {
        Policy::Setup { refused, .. } => refused,
        _ => None,
    };
    if let Err(error) = setup {
        return Err(InvalidArgument::new("projection.setup", refused.unwrap_or_else(|| error.to_string())).into());
    }
    let tables: Vec<String> = schema_objects(&transaction)?
        .into_iter()
        .filter(|(kind, name)| (kind == "table" || kind == "view") && !existing.contains(name))
        .map(|(_, name)| name)
        .collect();
    if !tables.iter().any(|name| !name.starts_with("sqlite_")) {
        return Err(InvalidArgument::new("projection.setup", "creates no table").into());
    }
    // AUTOINCREMENT counters live in `sqlite_sequence`, which a rewind cannot restore: ids would differ from a
    // rebuild's. An INTEGER PRIMARY KEY (the rowid) is restored exactly.
    for table in &tables {
        let sql: Option<String> = transaction
            .query_row("SELECT upper(sql) FROM sqlite_schema WHERE type = 'table' AND name = ?1", [table], |row| {
                row.get(0)
            })
            .optional()?
            .flatten();
        if sql.is_some_and(|sql| sql.contains("AUTOINCREMENT")) {
            return Err(InvalidArgument::new(
                "projection.setup",
                format!("table {table:?} uses AUTOINCREMENT, which a rewind cannot restore; use INTEGER PRIMARY KEY"),
            )
            .into());
        }
    }
    let own: BTreeSet<String> = tables.iter().cloned().collect();
    let compiled = runner::compile(&transaction, projection, tables, |connection, sql| {
        set_policy(policy, Policy::Handler { own: own.clone(), written: BTreeSet::new(), refused: None });
        let prepared = connection.prepare(sql).map(|_| ());
        match set_policy(policy, Policy::Internal) {
            Policy::Handler { refused: Some(why), .. } => Err(why),
            Policy::Handler { written, .. } => {
                prepared.map(|()| written.into_iter().collect()).map_err(|e| e.to_string())
            }
            _ => prepared.map(|()| Vec::new()).map_err(|e| e.to_string()),
        }
    })?;
    for table in &compiled.tables {
        runner::create_undo_triggers(&transaction, table)?;
    }
    transaction.execute(
        "INSERT INTO projections (name, version, definition, tables, writes, uses, applied_through, undo_after)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 0)",
        params![
            projection.name,
            projection.version,
            definition,
            serde_json::to_string(&compiled.tables).expect("names serialise"),
            serde_json::to_string(&compiled.writes).expect("names serialise"),
            serde_json::to_string(&compiled.uses).expect("names serialise"),
        ],
    )?;
    runner::bump_generation(&transaction)?;
    registry.invalidate();
    catch_up(&transaction, registry, Some(&projection.name))?;
    runner::touch(&transaction, &compiled.tables.iter().cloned().collect())?;
    let status = statuses(&transaction, Some(&projection.name))?.pop();
    transaction.commit()?;
    status.ok_or_else(|| ProjectionError::Storage(rusqlite::Error::QueryReturnedNoRows.into()))
}

fn catch_up(connection: &Connection, registry: &mut Registry, only: Option<&str>) -> Result<(), ProjectionError> {
    match runner::catch_up(connection, registry, Mode::Refuse, only, &[]) {
        Ok(_) => Ok(()),
        Err(RunError::Refused(refused)) => Err(ProjectionError::Failed {
            projection: refused.projection,
            position: refused.position,
            message: refused.message,
        }),
        Err(RunError::Sqlite(error)) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use serde_json::json;

    use super::*;
    use crate::{ErrorCode, ExpectedVersion, NewEvent, SqlValue};

    fn todos(version: u32) -> Projection {
        Projection::new("todos", version)
            .setup("CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)")
            .on_type("TodoAdded", ["INSERT INTO todos (id, title) VALUES (:stream, :data ->> '$.title')"])
            .on_type("TodoDone", ["UPDATE todos SET done = 1 WHERE id = :stream"])
    }

    fn add(store: &Store, id: &str, title: &str) -> Result<crate::AppendResult, crate::AppendError> {
        store.append_to_stream(id, &[NewEvent::json("TodoAdded", &json!({ "title": title }))], ExpectedVersion::Any)
    }

    fn rows(store: &Store, sql: &str) -> Vec<Vec<SqlValue>> {
        store.query(sql, &QueryParams::None).unwrap().rows
    }

    fn text(value: &str) -> SqlValue {
        SqlValue::Text(value.into())
    }

    #[test]
    fn a_projection_is_built_from_the_log_and_kept_by_every_append() {
        let store = Store::open_in_memory().unwrap();
        add(&store, "todo-1", "milk").unwrap();
        let status = store.register_projection(&todos(1)).unwrap();
        assert_eq!((status.applied_through, status.tables.clone()), (1, vec!["todos".to_owned()]));
        add(&store, "todo-2", "eggs").unwrap();
        store.append_to_stream("todo-1", &[NewEvent::json("TodoDone", &json!({}))], ExpectedVersion::Exact(1)).unwrap();
        let found = store
            .query(
                "SELECT id, title, done FROM todos WHERE done = ?1 ORDER BY id",
                &QueryParams::Positional(vec![SqlValue::Integer(0)]),
            )
            .unwrap();
        assert_eq!(found.columns, ["id", "title", "done"]);
        assert_eq!(found.rows, vec![vec![text("todo-2"), text("eggs"), SqlValue::Integer(0)]]);
        let named = store
            .query("SELECT title FROM todos WHERE id = :id", &QueryParams::Named(vec![(":id".into(), text("todo-1"))]))
            .unwrap();
        assert_eq!(named.rows, vec![vec![text("milk")]]);
        // Registering the same definition again changes nothing; a new version rebuilds.
        assert_eq!(store.register_projection(&todos(1)).unwrap().applied_through, 3);
        let v2 = todos(2).on_type("TodoAdded", ["UPDATE todos SET title = upper(title) WHERE id = :stream"]);
        store.register_projection(&v2).unwrap();
        assert_eq!(rows(&store, "SELECT title FROM todos ORDER BY id"), vec![vec![text("MILK")], vec![text("EGGS")]]);
    }

    #[test]
    fn bad_definitions_are_refused_with_sqlites_message_and_write_nothing() {
        let store = Store::open_in_memory().unwrap();
        add(&store, "todo-1", "milk").unwrap();
        let cases = [
            (todos(1).setup("CREATE TABLE todos (id"), "projection.setup"),
            (todos(1).on_type("X", ["INSERT INTO nowhere VALUES (1)"]), "projection.handlers[2].statements[0]"),
            (todos(1).on_type("X", ["DELETE FROM events"]), "projection.handlers[2].statements[0]"),
            (
                todos(1).on_type("X", ["INSERT INTO todos (id, title) VALUES (:nope, 'x')"]),
                "projection.handlers[2].statements[0]",
            ),
            (todos(1).on_type("X", ["DROP TABLE todos"]), "projection.handlers[2].statements[0]"),
            (todos(1).setup("CREATE TABLE t (x); DROP TABLE snapshots"), "projection.setup"),
            (todos(1).setup("CREATE TABLE t (x); INSERT INTO checkpoints VALUES ('a', 1, 1)"), "projection.setup"),
            (todos(1).setup("CREATE INDEX evil ON events (data)"), "projection.setup"),
            (todos(1).setup("SELECT 1"), "projection.setup"),
        ];
        for (projection, argument) in cases {
            let error = store.register_projection(&projection).unwrap_err();
            assert_eq!(error.code(), ErrorCode::InvalidArgument, "{error}");
            let ProjectionError::InvalidArgument(invalid) = &error else { panic!("{error:?}") };
            assert_eq!(invalid.argument, argument, "{error}");
            assert!(store.projections().unwrap().is_empty());
            assert!(rows(&store, "SELECT name FROM sqlite_schema WHERE name IN ('todos', 't', 'evil')").is_empty());
        }
        assert_eq!(store.read_all(&crate::ReadAllOptions::forwards()).unwrap().events.len(), 1);
        // One definition per version.
        store.register_projection(&todos(1)).unwrap();
        let changed = todos(1).on_type("X", ["DELETE FROM todos"]);
        let error = store.register_projection(&changed).unwrap_err();
        assert!(
            matches!(&error, ProjectionError::InvalidArgument(invalid) if invalid.argument == "projection.version")
        );
    }

    #[test]
    fn a_failing_statement_refuses_the_local_append_and_writes_nothing() {
        let store = Store::open_in_memory().unwrap();
        store.register_projection(&todos(1)).unwrap();
        // The title is NOT NULL: an event without one makes the INSERT fail.
        let batch = [
            NewEvent::json("TodoAdded", &json!({ "title": "ok" })),
            NewEvent::json("TodoAdded", &json!({ "other": 1 })),
        ];
        let error = store.append_to_stream("todo-1", &batch, ExpectedVersion::NoStream).unwrap_err();
        assert_eq!(error.code(), ErrorCode::ProjectionFailed);
        let crate::AppendError::ProjectionFailed { projection, index, message } = &error else { panic!("{error:?}") };
        assert_eq!((projection.as_str(), *index), ("todos", 1));
        assert!(message.contains("NOT NULL"), "{message}");
        assert_eq!(store.stream_version("todo-1").unwrap(), 0);
        assert!(rows(&store, "SELECT * FROM todos").is_empty());
        // A registration whose build fails on a stored event is refused the same way.
        let strict = Projection::new("strict", 1)
            .setup("CREATE TABLE strict (n INTEGER NOT NULL)")
            .on_type("Raw", ["INSERT INTO strict VALUES (:data ->> '$.n')"]);
        store.append_to_stream("raw-1", &[NewEvent::json("Raw", &json!({}))], ExpectedVersion::Any).unwrap();
        let error = store.register_projection(&strict).unwrap_err();
        assert!(matches!(error, ProjectionError::Failed { position: 1, .. }), "{error:?}");
        assert!(store.projection("strict").unwrap().is_none());
    }

    #[test]
    fn queries_only_read() {
        let store = Store::open_in_memory().unwrap();
        store.register_projection(&todos(1)).unwrap();
        add(&store, "todo-1", "milk").unwrap();
        for sql in [
            "DELETE FROM todos",
            "INSERT INTO todos (id, title) VALUES ('x', 'y')",
            "DROP TABLE todos",
            "BEGIN",
            "PRAGMA user_version = 7",
            "ATTACH ':memory:' AS other",
            "SELECT * FROM todos; DELETE FROM todos",
            "SELECT * FROM nowhere",
        ] {
            let error = store.query(sql, &QueryParams::None).unwrap_err();
            assert_eq!(error.code(), ErrorCode::InvalidArgument, "{sql}: {error}");
        }
        assert_eq!(rows(&store, "SELECT count(*) FROM todos"), vec![vec![SqlValue::Integer(1)]]);
        let missing = store.query("SELECT * FROM todos WHERE id = ?1", &QueryParams::None).unwrap_err();
        assert_eq!(missing.code(), ErrorCode::InvalidArgument);
    }

    #[test]
    fn a_watch_reruns_only_after_commits_that_changed_what_it_reads() {
        let store = Store::open_in_memory().unwrap();
        store.register_projection(&todos(1)).unwrap();
        let other = Projection::new("tags", 1)
            .setup("CREATE TABLE tags (name TEXT)")
            .on_type("Tagged", ["INSERT INTO tags VALUES (:data ->> '$.name')"]);
        store.register_projection(&other).unwrap();
        let mut watch = store.watch("SELECT count(*) FROM todos", QueryParams::None).unwrap();
        assert_eq!(watch.tables(), ["todos"]);
        assert_eq!(watch.poll(&store).unwrap().unwrap().rows, vec![vec![SqlValue::Integer(0)]]);
        assert_eq!(watch.poll(&store).unwrap(), None, "nothing changed");
        store
            .append_to_stream("tag-1", &[NewEvent::json("Tagged", &json!({ "name": "x" }))], ExpectedVersion::Any)
            .unwrap();
        store.append_to_stream("note-1", &[NewEvent::json("Unrelated", &json!({}))], ExpectedVersion::Any).unwrap();
        assert_eq!(watch.poll(&store).unwrap(), None, "other tables and no tables changed");
        add(&store, "todo-1", "milk").unwrap();
        add(&store, "todo-2", "eggs").unwrap();
        assert_eq!(watch.poll(&store).unwrap().unwrap().rows, vec![vec![SqlValue::Integer(2)]], "coalesced");
        assert_eq!(watch.poll(&store).unwrap(), None);
        let error = store.watch("SELECT count(*) FROM events", QueryParams::None).unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidArgument);
    }

    #[test]
    fn dropping_a_projection_drops_its_tables() {
        let store = Store::open_in_memory().unwrap();
        store.register_projection(&todos(1)).unwrap();
        assert!(store.drop_projection("todos").unwrap());
        assert!(!store.drop_projection("todos").unwrap());
        assert!(store.query("SELECT * FROM todos", &QueryParams::None).is_err());
        add(&store, "todo-1", "milk").unwrap();
    }
}

#[cfg(all(test, not(all(target_family = "wasm", target_os = "unknown"))))]
mod wait_tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::{ExpectedVersion, NewEvent, SqlValue};

    #[test]
    fn a_waiting_watch_wakes_for_an_append_from_another_thread_and_times_out_otherwise() {
        let store = Store::open_in_memory().unwrap();
        let counter = Projection::new("counter", 1)
            .setup("CREATE TABLE counter (n INTEGER)")
            .on_type("Tick", ["INSERT INTO counter VALUES (:version)"]);
        store.register_projection(&counter).unwrap();
        let mut watch = store.watch("SELECT count(*) FROM counter", QueryParams::None).unwrap();
        assert!(watch.wait(&store, Duration::from_millis(10)).unwrap().is_some(), "the first poll runs the query");
        assert_eq!(watch.wait(&store, Duration::from_millis(30)).unwrap(), None);
        let writer = store.clone();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            writer.append_to_stream("tick-1", &[NewEvent::json("Tick", &json!({}))], ExpectedVersion::Any).unwrap();
        });
        let rows = watch.wait(&store, Duration::from_secs(10)).unwrap().expect("woken by the append");
        assert_eq!(rows.rows, vec![vec![SqlValue::Integer(1)]]);
        thread.join().unwrap();
    }
}

#[cfg(test)]
mod params_tests {
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::SqlValue;

    #[test]
    fn a_named_parameter_left_out_is_refused_rather_than_read_as_null() {
        let store = Store::open_in_memory().unwrap();
        let params = QueryParams::Named(vec![(":a".into(), SqlValue::Integer(1))]);
        let error = store.query("SELECT :a, :b", &params).unwrap_err();
        assert!(
            matches!(&error, ProjectionError::InvalidArgument(invalid) if invalid.argument == "params.:b"),
            "{error:?}"
        );
        let both = QueryParams::Named(vec![(":a".into(), SqlValue::Integer(1)), (":b".into(), SqlValue::Null)]);
        assert_eq!(store.query("SELECT :a, :b", &both).unwrap().rows, vec![vec![SqlValue::Integer(1), SqlValue::Null]]);
    }
}
