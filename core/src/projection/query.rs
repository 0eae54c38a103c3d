//! Read-only queries over the read models, and watches that re-run a query only when a table it reads changed.
//!
//! Which tables a query reads is learnt from SQLite's authorizer while the statement is prepared (views and
//! subqueries included). Projections advance a counter per table they change (`projection_table_versions`) in the
//! transaction that changes it, so a watch compares counters, in the same read transaction as its query, and
//! re-runs nothing for commits that touched other tables.

use std::collections::BTreeSet;

use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::guard::{self, Policy};
use super::statuses;
use crate::error::{InvalidArgument, ProjectionError};
use crate::store::Store;

/// A SQL value, as a query's parameters and results carry it.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// NULL.
    Null,
    /// A 64-bit integer.
    Integer(i64),
    /// A double.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl rusqlite::ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            SqlValue::Null => ValueRef::Null,
            SqlValue::Integer(value) => ValueRef::Integer(*value),
            SqlValue::Real(value) => ValueRef::Real(*value),
            SqlValue::Text(value) => ValueRef::Text(value.as_bytes()),
            SqlValue::Blob(value) => ValueRef::Blob(value),
        }))
    }
}

impl From<Value> for SqlValue {
    fn from(value: Value) -> Self {
        match value {
            Value::Null => SqlValue::Null,
            Value::Integer(value) => SqlValue::Integer(value),
            Value::Real(value) => SqlValue::Real(value),
            Value::Text(value) => SqlValue::Text(value),
            Value::Blob(value) => SqlValue::Blob(value),
        }
    }
}

/// A query's parameters: none, by position (`?1`, `?`), or by name (`:name`, `@name`, `$name`, given with their
/// prefix).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum QueryParams {
    /// No parameters.
    #[default]
    None,
    /// `?` / `?N` parameters, in order.
    Positional(Vec<SqlValue>),
    /// Named parameters, each with its prefix (`":id"`).
    Named(Vec<(String, SqlValue)>),
}

/// A query's result: column names and rows of values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryRows {
    /// The result's column names, in order.
    pub columns: Vec<String>,
    /// The rows, each with one value per column.
    pub rows: Vec<Vec<SqlValue>>,
}

/// A query that [`QueryWatch::poll`] re-runs only when a table it reads changed since it last ran.
#[derive(Debug, Clone)]
pub struct QueryWatch {
    sql: String,
    params: QueryParams,
    tables: Vec<String>,
    seen: Option<Vec<i64>>,
}

impl QueryWatch {
    /// The projection tables the query reads: commits that change none of them never re-run it.
    pub fn tables(&self) -> &[String] {
        &self.tables
    }

    /// The fresh rows if a table the query reads changed since the last poll (the first poll always runs it);
    /// `None` otherwise. Polling after every commit notification, however many commits it covers, coalesces them.
    pub fn poll(&mut self, store: &Store) -> Result<Option<QueryRows>, ProjectionError> {
        store.with_reader_mut(|connection| {
            let transaction = Transaction::new_unchecked(connection, TransactionBehavior::Deferred)?;
            let versions = table_versions(&transaction, &self.tables)?;
            if self.seen.as_ref() == Some(&versions) {
                return Ok(None);
            }
            refuse_failed(&transaction, &self.tables.iter().cloned().collect())?;
            let rows = run(connection_of(&transaction), &self.sql, &self.params)?;
            transaction.commit()?;
            self.seen = Some(versions);
            Ok(Some(rows))
        })
    }
}

impl QueryWatch {
    /// Polls, waiting up to `timeout` for a commit that changes what the query reads: woken at once by this
    /// store's commits, and every [`crate::StoreOptions::external_poll_interval`] for other processes'. `None` on
    /// timeout.
    #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
    pub fn wait(&mut self, store: &Store, timeout: std::time::Duration) -> Result<Option<QueryRows>, ProjectionError> {
        let deadline = std::time::Instant::now() + timeout;
        let interval = store.options().external_poll_interval;
        loop {
            // Read the generation before polling so a commit between the poll and the wait is not missed.
            let generation = store.shared.commits.generation();
            if let Some(rows) = self.poll(store)? {
                return Ok(Some(rows));
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            store.shared.commits.wait_past(generation, interval.min(deadline - now));
        }
    }
}

fn connection_of<'a>(transaction: &'a Transaction<'_>) -> &'a Connection {
    transaction
}

fn table_versions(connection: &Connection, tables: &[String]) -> rusqlite::Result<Vec<i64>> {
    let mut statement =
        connection.prepare_cached("SELECT coalesce(max(version), 0) FROM projection_table_versions WHERE name = ?1")?;
    tables.iter().map(|table| statement.query_row([table], |row| row.get(0))).collect()
}

impl Store {
    /// Runs read-only SQL (one statement) over the store: the read models, and EventLite's own tables if wanted.
    /// A statement that writes, or does anything but read, is refused with `INVALID_ARGUMENT`; one that reads a
    /// failed projection's tables fails with `PROJECTION_FAILED`.
    pub fn query(&self, sql: &str, params: &QueryParams) -> Result<QueryRows, ProjectionError> {
        self.with_reader_mut(|connection| {
            check(connection, sql)?;
            run(connection, sql, params)
        })
    }

    /// A watch over `sql` (see [`QueryWatch`]): checked like [`Store::query`]; it must read at least one
    /// projection's table, since only those tables' changes are tracked.
    pub fn watch(&self, sql: &str, params: QueryParams) -> Result<QueryWatch, ProjectionError> {
        let read = self.with_reader_mut(|connection| check(connection, sql))?;
        let projection_tables: BTreeSet<String> =
            self.projections()?.into_iter().flat_map(|status| status.tables).collect();
        let tables: Vec<String> = read.into_iter().filter(|table| projection_tables.contains(table)).collect();
        if tables.is_empty() {
            return Err(InvalidArgument::new("sql", "a watched query must read a projection's table").into());
        }
        Ok(QueryWatch { sql: sql.to_owned(), params, tables, seen: None })
    }
}

/// Prepares `sql` under the query policy: refuses writes and failed projections; returns the tables it reads.
fn check(connection: &mut Connection, sql: &str) -> Result<BTreeSet<String>, ProjectionError> {
    let policy = guard::install(connection)?;
    *policy.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
        Policy::Query { read: BTreeSet::new(), refused: None };
    let prepared = connection.prepare(sql).map(|statement| statement.readonly());
    let seen = std::mem::take(&mut *policy.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    guard::remove(connection)?;
    let Policy::Query { read, refused } = seen else { unreachable!("the policy set above") };
    match (prepared, refused) {
        (_, Some(why)) => return Err(InvalidArgument::new("sql", why).into()),
        (Err(error), None) => return Err(InvalidArgument::new("sql", error.to_string()).into()),
        (Ok(false), None) => return Err(InvalidArgument::new("sql", "a query may only read").into()),
        (Ok(true), None) => {}
    }
    refuse_failed(connection, &read)?;
    Ok(read)
}

/// `PROJECTION_FAILED` if one of `tables` belongs to a failed projection.
fn refuse_failed(connection: &Connection, tables: &BTreeSet<String>) -> Result<(), ProjectionError> {
    for status in statuses(connection, None)? {
        if let Some(failure) = status.failure {
            if status.tables.iter().any(|table| tables.contains(table)) {
                return Err(ProjectionError::Failed {
                    projection: status.name,
                    position: failure.position,
                    message: failure.message,
                });
            }
        }
    }
    Ok(())
}

fn run(connection: &Connection, sql: &str, params: &QueryParams) -> Result<QueryRows, ProjectionError> {
    let mut statement = connection.prepare(sql).map_err(|error| InvalidArgument::new("sql", error.to_string()))?;
    let expected = statement.parameter_count();
    match params {
        QueryParams::None if expected > 0 => {
            return Err(InvalidArgument::new("params", format!("the query has {expected} parameters")).into());
        }
        QueryParams::None => {}
        QueryParams::Positional(values) => {
            if values.len() != expected {
                return Err(InvalidArgument::new(
                    "params",
                    format!("the query has {expected} parameters, {} given", values.len()),
                )
                .into());
            }
            for (index, value) in values.iter().enumerate() {
                statement.raw_bind_parameter(index + 1, value)?;
            }
        }
        QueryParams::Named(values) => {
            let mut bound = vec![false; expected];
            for (name, value) in values {
                let index = statement
                    .parameter_index(name)?
                    .ok_or_else(|| InvalidArgument::new(format!("params.{name}"), "the query has no such parameter"))?;
                statement.raw_bind_parameter(index, value)?;
                bound[index - 1] = true;
            }
            // An unbound parameter would silently read as NULL.
            if let Some(missing) = bound.iter().position(|bound| !bound) {
                let name = statement.parameter_name(missing + 1).unwrap_or("?").to_owned();
                return Err(InvalidArgument::new(format!("params.{name}"), "is not given").into());
            }
        }
    }
    let columns: Vec<String> = statement.column_names().map(str::to_owned).collect();
    let mut rows = Vec::new();
    let mut cursor = statement.raw_query();
    while let Some(row) = cursor.next()? {
        let mut values = Vec::with_capacity(columns.len());
        for index in 0..columns.len() {
            values.push(SqlValue::from(row.get::<_, Value>(index)?));
        }
        rows.push(values);
    }
    Ok(QueryRows { columns, rows })
}
