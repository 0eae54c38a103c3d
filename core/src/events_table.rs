//! The events table in one place: its columns, how a row becomes a [`RecordedEvent`], the one `INSERT` that every
//! writer uses (local appends, pulls, rebases, push results, the server's pushes, imports), how positions are given
//! out, and the delete that rewrites a pending tail. A change to the table is made here and in `crate::schema`.
//!
//! Positions (schema v5): `position` is the table's `INTEGER PRIMARY KEY`, without `AUTOINCREMENT` (whose
//! `sqlite_sequence` row every insert used to rewrite: one more page per commit). A [`RowWriter`] gives out the
//! positions of one write transaction: it reads the next one once, as one more than both the highest stored position
//! and the high-water mark in `log_high_water`, and counts up from there. The high-water mark is written only by
//! [`delete_after`], and only when it deletes the newest rows (a sync rebase or a rejected push), so a position is
//! never given out twice and appends never write it.
//!
//! Within a stream, versions and positions rise together: every writer gives a stream's next version to the next
//! position, and a rewrite deletes a whole tail of the log before re-inserting. Reads of a stream in version order
//! (the `UNIQUE (stream, version)` index) are therefore also in position order, which is why the table needs no
//! `(stream, position)` index.

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{CachedStatement, Connection, Row, params};
use uuid::Uuid;

use crate::event::{EventData, RecordedEvent, category_of};

/// A count or position as the SQLite integer it is stored as (they never exceed `i64::MAX`; larger ones saturate).
pub(crate) fn clamp_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The columns [`event_from_row`] reads, in its order.
pub(crate) const COLUMNS: &str =
    "position, event_id, stream, version, event_type, content_type, data, metadata, recorded_at";

/// Maps a row selected with [`COLUMNS`] first.
pub(crate) fn event_from_row(row: &Row<'_>) -> rusqlite::Result<RecordedEvent> {
    let content_type: Option<String> = row.get(5)?;
    let data = match content_type {
        None => EventData::Json(row.get(6)?),
        Some(content_type) => EventData::Binary { content_type, bytes: row.get(6)? },
    };
    Ok(RecordedEvent {
        position: row.get::<_, i64>(0)? as u64,
        event_id: Uuid::from_bytes(row.get(1)?),
        stream: row.get(2)?,
        version: row.get::<_, i64>(3)? as u64,
        event_type: row.get(4)?,
        data,
        metadata: row.get(7)?,
        recorded_at: row.get(8)?,
    })
}

/// How event data is stored: JSON as TEXT with no content type, binary data as a BLOB with its content type.
pub(crate) fn data_params(data: &EventData) -> (Option<&str>, ToSqlOutput<'_>) {
    match data {
        EventData::Json(text) => (None, ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes()))),
        EventData::Binary { content_type, bytes } => {
            (Some(content_type.as_str()), ToSqlOutput::Borrowed(ValueRef::Blob(bytes)))
        }
    }
}

/// One row to insert. The position is the writer's; the category is derived from the stream.
pub(crate) struct NewRow<'a> {
    pub(crate) event_id: Uuid,
    pub(crate) stream: &'a str,
    pub(crate) version: u64,
    pub(crate) event_type: &'a str,
    pub(crate) data: &'a EventData,
    pub(crate) metadata: Option<&'a str>,
    pub(crate) recorded_at: i64,
    /// The expectation a local append was made with (`crate::sync::replica::encode_expected`); `None` for events
    /// pulled from a server and for a server's own log.
    pub(crate) sync_expected: Option<i64>,
    /// The server's position of a confirmed event; `None` while pending, and in a server's own log.
    pub(crate) server_position: Option<u64>,
}

/// Inserts rows at the next positions, within one write transaction. Create it after any [`delete_after`] of the
/// same transaction and use it for every insert after that: it counts positions itself.
pub(crate) struct RowWriter<'c> {
    insert: CachedStatement<'c>,
    next: u64,
}

impl<'c> RowWriter<'c> {
    pub(crate) fn new(connection: &'c Connection) -> rusqlite::Result<RowWriter<'c>> {
        let next = connection
            .prepare_cached(
                "SELECT max(coalesce((SELECT max(position) FROM events), 0),
                            coalesce((SELECT position FROM log_high_water WHERE id = 1), 0)) + 1",
            )?
            .query_row([], |row| row.get::<_, i64>(0))?;
        let insert = connection.prepare_cached(
            "INSERT INTO events (position, event_id, stream, version, category, event_type, content_type, data,
                                 metadata, recorded_at, sync_expected, server_position)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        Ok(RowWriter { insert, next: next as u64 })
    }

    /// Inserts `row`; returns its position. A failed insert (a constraint) takes no position.
    pub(crate) fn insert(&mut self, row: &NewRow<'_>) -> rusqlite::Result<u64> {
        let (content_type, data) = data_params(row.data);
        let position = self.next;
        self.insert.execute(params![
            clamp_i64(position),
            row.event_id.as_bytes(),
            row.stream,
            clamp_i64(row.version),
            category_of(row.stream),
            row.event_type,
            content_type,
            data,
            row.metadata,
            row.recorded_at,
            row.sync_expected,
            row.server_position.map(clamp_i64),
        ])?;
        self.next += 1;
        Ok(position)
    }
}

/// Deletes every event after `position` (a pending tail about to be rewritten); returns how many. When that deletes
/// the newest rows, the high-water mark first keeps the highest position, so no later insert takes it again.
pub(crate) fn delete_after(connection: &Connection, position: u64) -> rusqlite::Result<usize> {
    let position = clamp_i64(position);
    connection
        .prepare_cached(
            "UPDATE log_high_water SET position = max(position, (SELECT max(position) FROM events))
             WHERE id = 1 AND (SELECT max(position) FROM events) > ?1",
        )?
        .execute([position])?;
    connection.prepare_cached("DELETE FROM events WHERE position > ?1")?.execute([position])
}

/// The highest position ever given out: at least the log's head, above it after the newest rows were deleted.
/// `schema_version` is the file's: read-only opens read files of earlier schemas, where `AUTOINCREMENT` kept it.
pub(crate) fn high_water(connection: &Connection, schema_version: u32) -> rusqlite::Result<u64> {
    let sql = if schema_version >= 5 {
        "SELECT max(coalesce((SELECT max(position) FROM events), 0),
                    coalesce((SELECT position FROM log_high_water WHERE id = 1), 0))"
    } else {
        "SELECT max(coalesce((SELECT max(position) FROM events), 0),
                    coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0))"
    };
    Ok(connection.prepare_cached(sql)?.query_row([], |row| row.get::<_, i64>(0))? as u64)
}

/// The highest stored position (0 for an empty log).
pub(crate) fn head_position(connection: &Connection) -> rusqlite::Result<u64> {
    let position: Option<i64> =
        connection.prepare_cached("SELECT max(position) FROM events")?.query_row([], |row| row.get(0))?;
    Ok(position.map_or(0, |p| p as u64))
}

/// A stream's current version (0 when it has no events).
pub(crate) fn stream_version(connection: &Connection, stream: &str) -> rusqlite::Result<u64> {
    let version: Option<i64> = connection
        .prepare_cached("SELECT max(version) FROM events WHERE stream = ?1")?
        .query_row([stream], |row| row.get(0))?;
    Ok(version.map_or(0, |v| v as u64))
}
