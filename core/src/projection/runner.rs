//! Running projections inside the store's write transactions: catching them up with the log, rewinding them when
//! sync rewrites the pending tail, and rebuilding them.
//!
//! Every projection row (`projections` table) records `applied_through`, the last position folded into its tables.
//! After each write transaction of the store (append, pull, push result, registration) [`catch_up`] folds the
//! events after it, in position order, so a read model never lags the log and a crash never leaves one half
//! updated (it commits with the events).
//!
//! Rewinding without refolding the log: while a projection folds a *pending* event (one a sync rebase may still
//! rewrite) of a store that syncs, triggers on its tables record the SQL that undoes each row change in
//! `projection_undo`, tagged with the event's position. A rebase that deletes every event after position P runs
//! the undo statements of positions after P, newest first, and the projection folds the rewritten tail again: the
//! cost is proportional to the rewritten suffix, not to the log. Undo rows of confirmed events are dropped, since
//! confirmed events are never rewritten. `undo_after` says from which position undo is complete: pending events
//! folded before the store first synced recorded none, and a rewind into them rebuilds the projection instead.

use std::collections::BTreeSet;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use crate::projection::definition::{EVENT_PARAMETERS, Projection};
use crate::sync::replica::{confirmed_through, sync_started};

/// How many events a catch-up reads at a time: bounds memory during a rebuild of a large log.
const CHUNK: i64 = 512;

/// The projections as this connection last read them, reloaded when `projection_generation` moves.
#[derive(Default)]
pub(crate) struct Registry {
    generation: Option<i64>,
    pub(crate) active: Vec<Active>,
}

/// A registered, healthy projection.
pub(crate) struct Active {
    pub(crate) name: String,
    pub(crate) definition: Projection,
    pub(crate) tables: Vec<String>,
    /// Per handler, per statement: the tables it writes (found when the projection was registered).
    writes: Vec<Vec<Vec<String>>>,
    /// The event parameters its statements use.
    uses: BTreeSet<String>,
}

/// What the registration found out by preparing the projection's SQL.
pub(crate) struct Compiled {
    pub(crate) tables: Vec<String>,
    pub(crate) writes: Vec<Vec<Vec<String>>>,
    pub(crate) uses: BTreeSet<String>,
}

/// How a statement failure is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A local append or a registration: the failure aborts the transaction.
    Refuse,
    /// Events from the server (and a rebased tail): never refused; the projection is marked failed.
    MarkFailed,
}

/// A statement failed while folding the event at `position`.
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) projection: String,
    pub(crate) position: u64,
    pub(crate) message: String,
}

/// Why a catch-up or rewind stopped.
#[derive(Debug)]
pub(crate) enum RunError {
    Refused(Refused),
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for RunError {
    fn from(error: rusqlite::Error) -> Self {
        RunError::Sqlite(error)
    }
}

/// An event as the projections see it, borrowed from wherever it is (just appended, or read from the log).
pub(crate) struct EventRow<'a> {
    pub(crate) position: u64,
    pub(crate) event_id: Uuid,
    pub(crate) stream: &'a str,
    pub(crate) version: u64,
    pub(crate) event_type: &'a str,
    pub(crate) category: &'a str,
    /// `false`: `data` is JSON text.
    pub(crate) binary: bool,
    pub(crate) data: &'a [u8],
    pub(crate) metadata: Option<&'a str>,
    pub(crate) recorded_at: i64,
}

/// An event read back from the log.
struct StoredRow {
    position: u64,
    event_id: Uuid,
    stream: String,
    version: u64,
    event_type: String,
    category: String,
    binary: bool,
    data: Vec<u8>,
    metadata: Option<String>,
    recorded_at: i64,
}

impl StoredRow {
    fn as_row(&self) -> EventRow<'_> {
        EventRow {
            position: self.position,
            event_id: self.event_id,
            stream: &self.stream,
            version: self.version,
            event_type: &self.event_type,
            category: &self.category,
            binary: self.binary,
            data: &self.data,
            metadata: self.metadata.as_deref(),
            recorded_at: self.recorded_at,
        }
    }
}

impl Registry {
    /// Reloads the projections if another connection (or process) changed them.
    pub(crate) fn refresh(&mut self, connection: &Connection) -> rusqlite::Result<()> {
        let generation: i64 = connection
            .prepare_cached("SELECT value FROM projection_generation WHERE id = 1")?
            .query_row([], |row| row.get(0))?;
        if self.generation == Some(generation) {
            return Ok(());
        }
        let mut statement = connection.prepare_cached(
            "SELECT name, definition, tables, writes, uses FROM projections
             WHERE failed_position IS NULL ORDER BY name",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
            ))
        })?;
        let mut active = Vec::new();
        for row in rows {
            let (name, definition, tables, writes, uses) = row?;
            let corrupt = |what: &str| {
                rusqlite::Error::FromSqlConversionFailure(
                    0,
                    rusqlite::types::Type::Text,
                    format!("projection {name:?}: its stored {what} cannot be read").into(),
                )
            };
            active.push(Active {
                definition: Projection::from_json(&definition).map_err(|_| corrupt("definition"))?,
                tables: serde_json::from_str(&tables).map_err(|_| corrupt("tables"))?,
                writes: serde_json::from_str(&writes).map_err(|_| corrupt("write sets"))?,
                uses: serde_json::from_str(&uses).map_err(|_| corrupt("parameters"))?,
                name,
            });
        }
        self.active = active;
        self.generation = Some(generation);
        Ok(())
    }

    /// Forgets what was loaded: the next [`Registry::refresh`] reloads.
    pub(crate) fn invalidate(&mut self) {
        self.generation = None;
    }
}

/// Marks that the projections changed, so every connection reloads them.
pub(crate) fn bump_generation(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute("UPDATE projection_generation SET value = value + 1 WHERE id = 1", [])?;
    Ok(())
}

fn head_position(connection: &Connection) -> rusqlite::Result<u64> {
    connection
        .prepare_cached("SELECT coalesce(max(position), 0) FROM events")?
        .query_row([], |row| row.get::<_, i64>(0))
        .map(|position| position as u64)
}

fn progress(connection: &Connection, name: &str) -> rusqlite::Result<(u64, u64)> {
    connection
        .prepare_cached("SELECT applied_through, undo_after FROM projections WHERE name = ?1")?
        .query_row([name], |row| Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64)))
}

fn set_progress(connection: &Connection, name: &str, applied: u64, undo_after: u64) -> rusqlite::Result<()> {
    connection
        .prepare_cached("UPDATE projections SET applied_through = ?2, undo_after = ?3 WHERE name = ?1")?
        .execute(params![name, applied as i64, undo_after as i64])?;
    Ok(())
}

/// Tells the undo triggers which projection and event they record for (`None`: record nothing).
fn set_recording(connection: &Connection, recording: Option<(&str, u64)>) -> rusqlite::Result<()> {
    connection
        .prepare_cached("UPDATE projection_recording SET projection = ?1, position = ?2 WHERE id = 1")?
        .execute(params![recording.map(|(name, _)| name), recording.map(|(_, position)| position as i64)])?;
    Ok(())
}

/// Advances the change counters of `tables` (what [`crate::QueryWatch`] compares).
pub(crate) fn touch(connection: &Connection, tables: &BTreeSet<String>) -> rusqlite::Result<()> {
    let mut statement = connection.prepare_cached(
        "INSERT INTO projection_table_versions (name, version) VALUES (?1, 1)
         ON CONFLICT (name) DO UPDATE SET version = version + 1",
    )?;
    for table in tables {
        statement.execute([table])?;
    }
    Ok(())
}

/// Folds every event each projection has not folded yet (only confirmed ones for confirmed-only projections).
/// `only`: just that projection (a registration). Returns the projections marked failed in [`Mode::MarkFailed`].
/// `fresh`: the events this transaction just appended at the head of the log, if the caller has them at hand (a
/// projection that is caught up to just before them folds them without reading them back).
pub(crate) fn catch_up(
    connection: &Connection,
    registry: &mut Registry,
    mode: Mode,
    only: Option<&str>,
    fresh: &[EventRow<'_>],
) -> Result<Vec<String>, RunError> {
    registry.refresh(connection)?;
    if registry.active.is_empty() {
        return Ok(Vec::new());
    }
    let confirmed = confirmed_through(connection)?;
    let head = head_position(connection)?;
    let record_undo = sync_started(connection)?;
    let mut touched = BTreeSet::new();
    let mut failed = Vec::new();
    for projection in &registry.active {
        if only.is_some_and(|name| name != projection.name) {
            continue;
        }
        let limit = if projection.definition.confirmed_only { confirmed } else { head };
        let (applied, undo_after) = progress(connection, &projection.name)?;
        if applied >= limit {
            continue;
        }
        let from_memory = fresh.first().is_some_and(|first| first.position == applied + 1)
            && fresh.last().is_some_and(|last| last.position == limit);
        let source = if from_memory { Source::Fresh(fresh) } else { Source::Log { after: applied, through: limit } };
        let progress = Progress { confirmed, record_undo, undo_after };
        match fold(connection, projection, source, progress, &mut touched) {
            Ok(undo_after) => set_progress(connection, &projection.name, limit, undo_after)?,
            Err(RunError::Refused(refused)) if mode == Mode::MarkFailed => {
                set_recording(connection, None)?;
                mark_failed(connection, &refused)?;
                touched.extend(projection.tables.iter().cloned());
                failed.push(refused.projection);
            }
            Err(error) => return Err(error),
        }
    }
    if !failed.is_empty() {
        registry.invalidate();
    }
    touch(connection, &touched)?;
    Ok(failed)
}

/// Where a fold takes its events from.
enum Source<'a> {
    /// Events in memory, in position order.
    Fresh(&'a [EventRow<'a>]),
    /// The log's events in `(after, through]`, read in chunks.
    Log { after: u64, through: u64 },
}

/// What decides whether an event's folding records its undo.
struct Progress {
    confirmed: u64,
    record_undo: bool,
    undo_after: u64,
}

/// Folds events into one projection; returns its new `undo_after`.
fn fold(
    connection: &Connection,
    projection: &Active,
    source: Source<'_>,
    mut progress: Progress,
    touched: &mut BTreeSet<String>,
) -> Result<u64, RunError> {
    let mut recording = false;
    match source {
        Source::Fresh(rows) => {
            for row in rows {
                fold_event(connection, projection, row, &mut progress, &mut recording, touched)?;
            }
        }
        Source::Log { after, through } => {
            let mut next = after;
            while next < through {
                let rows = read_rows(connection, next, through)?;
                let Some(last) = rows.last() else { break };
                next = last.position;
                for row in &rows {
                    fold_event(connection, projection, &row.as_row(), &mut progress, &mut recording, touched)?;
                }
            }
        }
    }
    if recording {
        set_recording(connection, None)?;
    }
    Ok(progress.undo_after)
}

fn fold_event(
    connection: &Connection,
    projection: &Active,
    row: &EventRow<'_>,
    progress: &mut Progress,
    recording: &mut bool,
    touched: &mut BTreeSet<String>,
) -> Result<(), RunError> {
    let mut matched = projection
        .definition
        .handlers
        .iter()
        .enumerate()
        .filter(|(_, handler)| handler.matches(row.event_type, row.category))
        .peekable();
    if matched.peek().is_none() {
        return Ok(());
    }
    let pending = !projection.definition.confirmed_only && row.position > progress.confirmed;
    let record = pending && progress.record_undo;
    if pending && !record {
        progress.undo_after = row.position;
    }
    if record || *recording {
        set_recording(connection, record.then_some((projection.name.as_str(), row.position)))?;
        *recording = record;
    }
    for (handler_index, handler) in matched {
        for (statement_index, sql) in handler.statements.iter().enumerate() {
            let changed = run_statement(connection, sql, row).map_err(|error| {
                RunError::Refused(Refused {
                    projection: projection.name.clone(),
                    position: row.position,
                    message: error.to_string(),
                })
            })?;
            if changed {
                for table in &projection.writes[handler_index][statement_index] {
                    if !touched.contains(table) {
                        touched.insert(table.clone());
                    }
                }
            }
        }
    }
    Ok(())
}

fn read_rows(connection: &Connection, after: u64, through: u64) -> rusqlite::Result<Vec<StoredRow>> {
    let mut statement = connection.prepare_cached(
        "SELECT position, event_id, stream, version, event_type, category, content_type, data, metadata, recorded_at
         FROM events WHERE position > ?1 AND position <= ?2 ORDER BY position LIMIT ?3",
    )?;
    let rows = statement.query_map(params![after as i64, through as i64, CHUNK], |row| {
        let data = match row.get_ref(7)? {
            ValueRef::Text(bytes) | ValueRef::Blob(bytes) => bytes.to_vec(),
            _ => Vec::new(),
        };
        Ok(StoredRow {
            position: row.get::<_, i64>(0)? as u64,
            event_id: Uuid::from_bytes(row.get(1)?),
            stream: row.get(2)?,
            version: row.get::<_, i64>(3)? as u64,
            event_type: row.get(4)?,
            category: row.get(5)?,
            binary: row.get::<_, Option<String>>(6)?.is_some(),
            data,
            metadata: row.get(8)?,
            recorded_at: row.get(9)?,
        })
    })?;
    rows.collect()
}

/// Runs one handler statement for `row`; whether it changed any row.
fn run_statement(connection: &Connection, sql: &str, row: &EventRow<'_>) -> rusqlite::Result<bool> {
    let mut statement = connection.prepare_cached(sql)?;
    for index in 1..=statement.parameter_count() {
        match statement.parameter_name(index).unwrap_or_default() {
            ":stream" => statement.raw_bind_parameter(index, row.stream)?,
            ":version" => statement.raw_bind_parameter(index, row.version as i64)?,
            ":position" => statement.raw_bind_parameter(index, row.position as i64)?,
            ":type" => statement.raw_bind_parameter(index, row.event_type)?,
            ":category" => statement.raw_bind_parameter(index, row.category)?,
            ":event_id" => statement.raw_bind_parameter(index, row.event_id.hyphenated().to_string())?,
            // JSON data is bound as text, so SQLite's JSON functions read it; binary data as a blob.
            ":data" if !row.binary => {
                statement.raw_bind_parameter(index, std::str::from_utf8(row.data).unwrap_or_default())?
            }
            ":data" => statement.raw_bind_parameter(index, row.data)?,
            ":metadata" => statement.raw_bind_parameter(index, row.metadata)?,
            ":recorded_at" => statement.raw_bind_parameter(index, row.recorded_at)?,
            _ => statement.raw_bind_parameter(index, rusqlite::types::Null)?,
        }
    }
    let before = connection.total_changes();
    statement.raw_execute()?;
    Ok(connection.total_changes() != before)
}

fn mark_failed(connection: &Connection, refused: &Refused) -> rusqlite::Result<()> {
    let event_id: Option<Vec<u8>> = connection
        .query_row("SELECT event_id FROM events WHERE position = ?1", [refused.position as i64], |row| row.get(0))
        .optional()?;
    connection.execute(
        "UPDATE projections SET failed_position = ?2, failed_event_id = ?3, error = ?4 WHERE name = ?1",
        params![refused.projection, refused.position as i64, event_id, refused.message],
    )?;
    bump_generation(connection)
}

/// Undoes what the projections folded after `from` (every event after it is being rewritten), for the projections
/// `which` selects; they fold the rewritten events again at the next [`catch_up`]. A projection whose undo does not
/// reach back to `from` is rebuilt from scratch instead.
pub(crate) fn rewind(
    connection: &Connection,
    registry: &mut Registry,
    from: u64,
    which: impl Fn(&BTreeSet<String>) -> bool,
) -> rusqlite::Result<()> {
    registry.refresh(connection)?;
    let mut touched = BTreeSet::new();
    for projection in &registry.active {
        if projection.definition.confirmed_only || !which(&projection.uses) {
            continue;
        }
        let (applied, undo_after) = progress(connection, &projection.name)?;
        if applied <= from {
            continue;
        }
        if undo_after > from {
            reset_tables(connection, projection)?;
        } else {
            let statements: Vec<(i64, String)> = connection
                .prepare_cached(
                    "SELECT seq, statement FROM projection_undo WHERE projection = ?1 AND position > ?2
                     ORDER BY seq DESC",
                )?
                .query_map(params![projection.name, from as i64], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            for (_, statement) in &statements {
                connection.execute_batch(statement)?;
            }
            connection
                .prepare_cached("DELETE FROM projection_undo WHERE projection = ?1 AND position > ?2")?
                .execute(params![projection.name, from as i64])?;
            set_progress(connection, &projection.name, from, undo_after)?;
        }
        touched.extend(projection.tables.iter().cloned());
    }
    touch(connection, &touched)
}

/// After a server log reset every event is pending again: confirmed-only projections start over (nothing is
/// confirmed now), and the others have no undo for the events that were confirmed.
pub(crate) fn after_log_reset(connection: &Connection, registry: &mut Registry) -> rusqlite::Result<()> {
    registry.refresh(connection)?;
    let head = head_position(connection)?;
    let mut touched = BTreeSet::new();
    for projection in &registry.active {
        if projection.definition.confirmed_only {
            reset_tables(connection, projection)?;
            touched.extend(projection.tables.iter().cloned());
        } else {
            let (applied, _) = progress(connection, &projection.name)?;
            set_progress(connection, &projection.name, applied, head.max(applied))?;
        }
    }
    touch(connection, &touched)
}

/// Drops undo rows nobody can need: those of confirmed events.
pub(crate) fn forget_confirmed_undo(connection: &Connection) -> rusqlite::Result<()> {
    connection
        .prepare_cached(
            "DELETE FROM projection_undo WHERE projection IN (SELECT name FROM projections) AND position <= ?1",
        )?
        .execute([confirmed_through(connection)? as i64])?;
    Ok(())
}

/// Empties a projection: its tables are dropped and created again from its setup, it has folded nothing.
fn reset_tables(connection: &Connection, projection: &Active) -> rusqlite::Result<()> {
    drop_tables(connection, &projection.tables)?;
    connection.execute_batch(&projection.definition.setup)?;
    for table in &projection.tables {
        create_undo_triggers(connection, table)?;
    }
    connection.execute("DELETE FROM projection_undo WHERE projection = ?1", [&projection.name])?;
    set_progress(connection, &projection.name, 0, 0)
}

pub(crate) fn drop_tables(connection: &Connection, tables: &[String]) -> rusqlite::Result<()> {
    // Views first (they may read the tables), then the tables; their indexes and triggers go with them.
    let views: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'view'")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for table in tables {
        if views.contains(table) {
            connection.execute_batch(&format!("DROP VIEW IF EXISTS {}", identifier(table)))?;
        }
    }
    for table in tables.iter().filter(|table| !views.contains(table)) {
        connection.execute_batch(&format!("DROP TABLE IF EXISTS {}", identifier(table)))?;
    }
    Ok(())
}

/// `"name"`, quoted for SQL.
pub(crate) fn identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'`, quoted for SQL.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// An SQL expression giving the SQL text of `row.column`'s value (`row`: `OLD` or `NEW`): `quote()`, except that
/// text goes through hex, so that any text (a NUL inside, say) comes back exactly.
fn value_text(row: &str, column: &str) -> String {
    let column = format!("{row}.{}", identifier(column));
    format!(
        "(CASE typeof({column}) WHEN 'text' THEN 'CAST(X''' || hex({column}) || ''' AS TEXT)' ELSE quote({column}) END)"
    )
}

/// Creates the triggers that record, for every row change in `table` while an event is being recorded, the SQL
/// statement that undoes it. Views get none (they hold no rows).
///
/// Each undo statement is built by SQL concatenation of literals (every identifier inside them quoted, then the
/// whole quoted as a literal: no name can end a literal early) and of the row's values as SQL text. Rowid tables
/// are addressed and restored by rowid (which also restores an `INTEGER PRIMARY KEY` alias, and is right for the
/// non-alias `INTEGER PRIMARY KEY DESC`), `WITHOUT ROWID` tables by their primary key.
pub(crate) fn create_undo_triggers(connection: &Connection, table: &str) -> rusqlite::Result<()> {
    let kind: Option<String> =
        connection.query_row("SELECT type FROM sqlite_schema WHERE name = ?1", [table], |row| row.get(0)).optional()?;
    if kind.as_deref() != Some("table") {
        return Ok(());
    }
    let without_rowid: bool = connection
        .query_row("SELECT wr FROM pragma_table_list WHERE name = ?1 AND schema = 'main'", [table], |row| row.get(0))
        .optional()?
        .unwrap_or(false);
    let columns: Vec<(String, i64)> = connection
        .prepare("SELECT name, pk FROM pragma_table_info(?1)")?
        .query_map([table], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut primary: Vec<&(String, i64)> = columns.iter().filter(|(_, pk)| *pk > 0).collect();
    primary.sort_by_key(|(_, pk)| *pk);
    let quoted = identifier(table);
    // Which row a statement addresses, as concatenated SQL.
    let key = |row: &str| -> String {
        if without_rowid {
            primary
                .iter()
                .enumerate()
                .map(|(index, (column, _))| {
                    let prefix = if index == 0 { "" } else { " AND " };
                    format!("{} || {}", literal(&format!("{prefix}{} = ", identifier(column))), value_text(row, column))
                })
                .collect::<Vec<_>>()
                .join(" || ")
        } else {
            format!("'rowid = ' || {row}.rowid")
        }
    };
    let mut names: Vec<String> = Vec::new();
    let mut values: Vec<String> = Vec::new();
    let mut assignments: Vec<String> = Vec::new();
    if !without_rowid {
        names.push("rowid".into());
        values.push("OLD.rowid".into());
        assignments.push("'rowid = ' || OLD.rowid".into());
    }
    for (column, _) in &columns {
        names.push(identifier(column));
        values.push(value_text("OLD", column));
        let separator = if assignments.is_empty() { "" } else { ", " };
        assignments.push(format!(
            "{} || {}",
            literal(&format!("{separator}{} = ", identifier(column))),
            value_text("OLD", column)
        ));
    }
    let undo_insert = format!("{} || {}", literal(&format!("DELETE FROM {quoted} WHERE ")), key("NEW"));
    let undo_update = format!(
        "{} || {} || ' WHERE ' || {}",
        literal(&format!("UPDATE {quoted} SET ")),
        assignments.join(" || "),
        key("NEW")
    );
    let undo_delete = format!(
        "{} || {} || ')'",
        literal(&format!("INSERT INTO {quoted} ({}) VALUES (", names.join(", "))),
        values.join(" || ', ' || ")
    );
    for (event, undo) in [("INSERT", undo_insert), ("UPDATE", undo_update), ("DELETE", undo_delete)] {
        let trigger = identifier(&format!("eventlite_undo_{}_{}", event.to_ascii_lowercase(), table));
        connection.execute_batch(&format!(
            "CREATE TRIGGER {trigger} AFTER {event} ON {quoted} BEGIN
               INSERT INTO projection_undo (projection, position, statement)
               SELECT projection, position, {undo} FROM projection_recording WHERE id = 1 AND position IS NOT NULL;
             END"
        ))?;
    }
    Ok(())
}

/// Prepares each handler statement to check it and learn what it writes and which event parameters it uses.
/// `writes_of` prepares one statement and returns the tables it writes (the caller's authorizer watches).
pub(crate) fn compile(
    connection: &Connection,
    projection: &Projection,
    tables: Vec<String>,
    mut writes_of: impl FnMut(&Connection, &str) -> Result<Vec<String>, String>,
) -> Result<Compiled, crate::error::InvalidArgument> {
    use crate::error::InvalidArgument;
    let mut writes = Vec::with_capacity(projection.handlers.len());
    let mut uses = BTreeSet::new();
    for (handler_index, handler) in projection.handlers.iter().enumerate() {
        let mut handler_writes = Vec::with_capacity(handler.statements.len());
        for (statement_index, sql) in handler.statements.iter().enumerate() {
            let argument = format!("projection.handlers[{handler_index}].statements[{statement_index}]");
            let written = writes_of(connection, sql).map_err(|reason| InvalidArgument::new(&argument, reason))?;
            let statement =
                connection.prepare(sql).map_err(|error| InvalidArgument::new(&argument, error.to_string()))?;
            for index in 1..=statement.parameter_count() {
                let name = statement.parameter_name(index).unwrap_or("?");
                if !EVENT_PARAMETERS.contains(&name) {
                    return Err(InvalidArgument::new(
                        &argument,
                        format!(
                            "unknown parameter {name}; use named event parameters: {}",
                            EVENT_PARAMETERS.join(", ")
                        ),
                    ));
                }
                uses.insert(name.to_owned());
            }
            handler_writes.push(written);
        }
        writes.push(handler_writes);
    }
    Ok(Compiled { tables, writes, uses })
}
