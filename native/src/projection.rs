//! Read models for the bindings: projection definitions, read-only queries and watched queries, over core's
//! [`eventlite::projection`]. Conversions and the watch thread only; core keeps the read models.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use eventlite::Store;

use crate::EventStore;
use crate::error::EventLiteError;
use crate::subscription::Subscription;

/// How long one wait lasts before a watch thread checks whether it was stopped.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// A projection: a read model the store keeps in SQL tables, updated by SQL statements event by event inside the
/// transaction that stores the event, rewound and replayed when a sync rebase rewrites pending events.
/// See `docs/projections.md`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Projection {
    /// `[A-Za-z0-9_]`, 1 to 64 characters.
    pub name: String,
    /// A different version drops the tables and rebuilds them from the log.
    pub version: u32,
    /// SQL creating the projection's tables.
    pub setup: String,
    /// What to run for which events.
    pub handlers: Vec<ProjectionHandler>,
    /// Fold confirmed events only.
    #[uniffi(default = false)]
    pub confirmed_only: bool,
}

/// SQL statements to run for the events of one type and/or category (neither: every event). Statements bind
/// `:stream`, `:version`, `:position`, `:type`, `:category`, `:event_id`, `:data`, `:metadata`, `:recorded_at`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ProjectionHandler {
    /// Only events of this type.
    #[uniffi(default = None)]
    pub event_type: Option<String>,
    /// Only events of streams in this category.
    #[uniffi(default = None)]
    pub category: Option<String>,
    /// The statements, run in order.
    pub statements: Vec<String>,
}

/// A registered projection's state.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ProjectionStatus {
    /// Its name.
    pub name: String,
    /// The registered version.
    pub version: u32,
    /// Whether it folds confirmed events only.
    pub confirmed_only: bool,
    /// The last position folded.
    pub applied_through: u64,
    /// The tables and views it owns.
    pub tables: Vec<String>,
    /// Set when an event from the server made a statement fail: the projection stopped.
    pub failure: Option<ProjectionFailure>,
}

/// The event a failed projection could not fold.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ProjectionFailure {
    /// The event's local position.
    pub position: u64,
    /// The event's id, if it is still in the log.
    pub event_id: Option<String>,
    /// SQLite's message.
    pub message: String,
}

/// A SQL value: a query parameter or a result cell.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum SqlValue {
    /// NULL.
    Null,
    /// A 64-bit integer.
    Integer {
        /// The value.
        value: i64,
    },
    /// A double.
    Real {
        /// The value.
        value: f64,
    },
    /// Text.
    Text {
        /// The value.
        value: String,
    },
    /// Bytes.
    Blob {
        /// The value.
        value: Vec<u8>,
    },
}

/// A query's result.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct QueryRows {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows, one value per column.
    pub rows: Vec<Vec<SqlValue>>,
}

/// Receives a watched query's rows on the watch's own thread: once at the start, then after each commit that
/// changed a table the query reads (several commits in quick succession may give one call). Throwing stops the
/// watch; `stop()` reports it.
#[uniffi::export(foreign)]
pub trait QueryHandler: Send + Sync {
    /// The query's fresh rows.
    fn on_rows(&self, rows: QueryRows) -> Result<(), EventLiteError>;
}

impl From<Projection> for eventlite::Projection {
    fn from(projection: Projection) -> Self {
        eventlite::Projection {
            name: projection.name,
            version: projection.version,
            setup: projection.setup,
            handlers: projection
                .handlers
                .into_iter()
                .map(|handler| eventlite::Handler {
                    event_type: handler.event_type,
                    category: handler.category,
                    statements: handler.statements,
                })
                .collect(),
            confirmed_only: projection.confirmed_only,
        }
    }
}

impl From<eventlite::ProjectionStatus> for ProjectionStatus {
    fn from(status: eventlite::ProjectionStatus) -> Self {
        ProjectionStatus {
            name: status.name,
            version: status.version,
            confirmed_only: status.confirmed_only,
            applied_through: status.applied_through,
            tables: status.tables,
            failure: status.failure.map(|failure| ProjectionFailure {
                position: failure.position,
                event_id: failure.event_id.map(|id| id.to_string()),
                message: failure.message,
            }),
        }
    }
}

impl From<SqlValue> for eventlite::SqlValue {
    fn from(value: SqlValue) -> Self {
        match value {
            SqlValue::Null => eventlite::SqlValue::Null,
            SqlValue::Integer { value } => eventlite::SqlValue::Integer(value),
            SqlValue::Real { value } => eventlite::SqlValue::Real(value),
            SqlValue::Text { value } => eventlite::SqlValue::Text(value),
            SqlValue::Blob { value } => eventlite::SqlValue::Blob(value),
        }
    }
}

impl From<eventlite::SqlValue> for SqlValue {
    fn from(value: eventlite::SqlValue) -> Self {
        match value {
            eventlite::SqlValue::Null => SqlValue::Null,
            eventlite::SqlValue::Integer(value) => SqlValue::Integer { value },
            eventlite::SqlValue::Real(value) => SqlValue::Real { value },
            eventlite::SqlValue::Text(value) => SqlValue::Text { value },
            eventlite::SqlValue::Blob(value) => SqlValue::Blob { value },
        }
    }
}

impl From<eventlite::QueryRows> for QueryRows {
    fn from(rows: eventlite::QueryRows) -> Self {
        QueryRows {
            columns: rows.columns,
            rows: rows.rows.into_iter().map(|row| row.into_iter().map(SqlValue::from).collect()).collect(),
        }
    }
}

fn positional(params: Vec<SqlValue>) -> eventlite::QueryParams {
    if params.is_empty() {
        eventlite::QueryParams::None
    } else {
        eventlite::QueryParams::Positional(params.into_iter().map(Into::into).collect())
    }
}

#[uniffi::export]
impl EventStore {
    /// Registers a projection: checks its SQL (`INVALID_ARGUMENT` with SQLite's message), creates its tables and
    /// folds the events already stored, in one transaction. The same version and definition again changes nothing;
    /// a new version rebuilds. `PROJECTION_FAILED` if a statement fails on a stored event (nothing written).
    pub fn register_projection(&self, projection: Projection) -> Result<ProjectionStatus, EventLiteError> {
        Ok(self.store()?.register_projection(&projection.into())?.into())
    }

    /// [`EventStore::register_projection`] from the portable JSON form (`{"name", "version", "setup", "handlers":
    /// [{"type"?, "category"?, "statements"}], "confirmedOnly"?}`), the same text every binding accepts.
    pub fn register_projection_json(&self, json: String) -> Result<ProjectionStatus, EventLiteError> {
        Ok(self.store()?.register_projection(&eventlite::Projection::from_json(&json)?)?.into())
    }

    /// Removes a projection and drops its tables; false if there was none.
    pub fn drop_projection(&self, name: String) -> Result<bool, EventLiteError> {
        Ok(self.store()?.drop_projection(&name)?)
    }

    /// Every registered projection's state.
    pub fn projections(&self) -> Result<Vec<ProjectionStatus>, EventLiteError> {
        Ok(self.store()?.projections()?.into_iter().map(Into::into).collect())
    }

    /// Runs one read-only SQL statement with positional parameters (`?`, `?1`). Writing statements are
    /// `INVALID_ARGUMENT`; reading a failed projection's tables is `PROJECTION_FAILED`.
    #[uniffi::method(default(params = []))]
    pub fn query(&self, sql: String, params: Vec<SqlValue>) -> Result<QueryRows, EventLiteError> {
        Ok(self.store()?.query(&sql, &positional(params))?.into())
    }

    /// [`EventStore::query`] with named parameters (`:id` given as `"id"` or `":id"`).
    pub fn query_named(&self, sql: String, params: HashMap<String, SqlValue>) -> Result<QueryRows, EventLiteError> {
        let named = params
            .into_iter()
            .map(|(name, value)| {
                let name = if name.starts_with([':', '@', '$']) { name } else { format!(":{name}") };
                (name, value.into())
            })
            .collect();
        Ok(self.store()?.query(&sql, &eventlite::QueryParams::Named(named))?.into())
    }

    /// Watches a read-only query over projection tables: `handler` gets its rows now and after every commit (this
    /// process's or another's) that changed a table it reads, on a library thread. Commits that touch other tables
    /// re-run nothing. Stop it with `stop()` (the store's `close()` stops it too).
    pub fn watch(
        &self,
        sql: String,
        params: Vec<SqlValue>,
        handler: Arc<dyn QueryHandler>,
    ) -> Result<Arc<Subscription>, EventLiteError> {
        let store = self.store()?;
        let watch = store.watch(&sql, positional(params))?;
        Ok(self.register(Subscription::start(None, 0, move |stopped, _| {
            deliver(&store, watch, handler.as_ref(), stopped)
        })?))
    }
}

fn deliver(
    store: &Store,
    mut watch: eventlite::QueryWatch,
    handler: &dyn QueryHandler,
    stopped: &AtomicBool,
) -> Result<(), EventLiteError> {
    while !stopped.load(Ordering::Acquire) {
        if let Some(rows) = watch.wait(store, STOP_CHECK)? {
            if stopped.load(Ordering::Acquire) {
                break;
            }
            handler.on_rows(rows.into())?;
        }
    }
    Ok(())
}
