//! Snapshots and aggregation: fold a stream into state, starting from the latest snapshot whose schema tag matches.
//!
//! One snapshot is kept per `(stream, schema_tag)`: saving replaces an older one of the same tag, and never replaces
//! a newer one. Snapshots whose tag differs from the caller's are ignored, so changing the state's shape only needs a
//! new tag, never a migration.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{InvalidArgument, SnapshotError};
use crate::event::{RecordedEvent, validate_name, validate_stream_id};
use crate::log::clamp_i64;
use crate::store::{self, Store};
use crate::stream::ReadStreamOptions;

/// A stored snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The stream it summarises.
    pub stream: String,
    /// The stream version the state includes (events up to and including it).
    pub version: u64,
    /// The schema tag of the state's shape.
    pub schema_tag: String,
    /// The state, as JSON.
    pub state: serde_json::Value,
    /// When it was saved, in ms since the Unix epoch.
    pub recorded_at: i64,
}

/// The result of [`Store::aggregate_stream`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate<S> {
    /// The folded state.
    pub state: S,
    /// The stream version the state includes (0 for a stream with no events).
    pub version: u64,
    /// The version of the snapshot the fold started from, if one was used.
    pub snapshot_version: Option<u64>,
    /// How many events were folded (those after the snapshot).
    pub events_folded: u64,
}

impl Store {
    /// Saves `state` as the snapshot of `stream` at `version` under `schema_tag`.
    ///
    /// `version` must be between 1 and the stream's current version. An existing snapshot with the same tag and a
    /// higher version is kept (the call is then a no-op).
    pub fn save_snapshot(
        &self,
        stream: &str,
        version: u64,
        state: &impl Serialize,
        schema_tag: &str,
    ) -> Result<(), SnapshotError> {
        validate_stream_id(stream)?;
        validate_name(schema_tag, "schema_tag", 256)?;
        let state = serde_json::to_string(state).map_err(|error| {
            InvalidArgument::new("state", format!("is not serialisable as JSON: {error}"))
        })?;
        self.with_writer(|connection| {
            let transaction = connection.transaction()?;
            let current = store::stream_version(&transaction, stream)?;
            if version == 0 || version > current {
                return Err(InvalidArgument::new(
                    "version",
                    format!("must be between 1 and the stream's version {current}, got {version}"),
                )
                .into());
            }
            let now = crate::clock::now_millis(&transaction)?;
            transaction
                .prepare_cached(
                    "INSERT INTO snapshots (stream, schema_tag, version, state, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (stream, schema_tag) DO UPDATE
                     SET version = excluded.version, state = excluded.state, recorded_at = excluded.recorded_at
                     WHERE excluded.version >= snapshots.version",
                )?
                .execute(params![stream, schema_tag, clamp_i64(version), state, now])?;
            transaction.commit()?;
            Ok(())
        })
    }

    /// The latest snapshot of `stream` (highest version, any tag), if any.
    pub fn load_snapshot(&self, stream: &str) -> Result<Option<Snapshot>, SnapshotError> {
        validate_stream_id(stream)?;
        self.query_snapshot(stream, None)
    }

    /// The snapshot of `stream` saved under `schema_tag`, if any.
    pub fn load_snapshot_tagged(
        &self,
        stream: &str,
        schema_tag: &str,
    ) -> Result<Option<Snapshot>, SnapshotError> {
        validate_stream_id(stream)?;
        validate_name(schema_tag, "schema_tag", 256)?;
        self.query_snapshot(stream, Some(schema_tag))
    }

    fn query_snapshot(
        &self,
        stream: &str,
        schema_tag: Option<&str>,
    ) -> Result<Option<Snapshot>, SnapshotError> {
        let row = self.with_reader(|connection| {
            connection
                .prepare_cached(
                    "SELECT schema_tag, version, state, recorded_at FROM snapshots
                     WHERE stream = ?1 AND (?2 IS NULL OR schema_tag = ?2)
                     ORDER BY version DESC, recorded_at DESC LIMIT 1",
                )?
                .query_row(params![stream, schema_tag], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, String>(2)?,
                        row.get(3)?,
                    ))
                })
                .optional()
        })?;
        let Some((schema_tag, version, state, recorded_at)) = row else {
            return Ok(None);
        };
        let state = serde_json::from_str(&state).map_err(|error| {
            SnapshotError::Storage(crate::error::StorageError::new(
                crate::ErrorCode::Corrupt,
                format!("stored snapshot state is not JSON: {error}"),
            ))
        })?;
        Ok(Some(Snapshot {
            stream: stream.to_owned(),
            version: version as u64,
            schema_tag,
            state,
            recorded_at,
        }))
    }

    /// Folds `stream` into state: starts from the snapshot saved under `schema_tag` (when given, present, and
    /// deserialisable as `S`), otherwise from `initial`, and applies `evolve` to each later event in version order.
    /// Reads in pages, so memory does not grow with the stream's length.
    pub fn aggregate_stream<S, F>(
        &self,
        stream: &str,
        schema_tag: Option<&str>,
        initial: S,
        mut evolve: F,
    ) -> Result<Aggregate<S>, SnapshotError>
    where
        S: DeserializeOwned,
        F: FnMut(S, &RecordedEvent) -> S,
    {
        validate_stream_id(stream)?;
        let snapshot = match schema_tag {
            Some(tag) => self.load_snapshot_tagged(stream, tag)?,
            None => None,
        };
        let (mut state, mut version, snapshot_version) = match snapshot.and_then(|s| {
            serde_json::from_value::<S>(s.state)
                .ok()
                .map(|state| (state, s.version))
        }) {
            Some((state, version)) => (state, version, Some(version)),
            None => (initial, 0, None),
        };
        let mut events_folded = 0;
        loop {
            let page = self
                .read_stream(
                    stream,
                    ReadStreamOptions::forwards()
                        .from_version(version + 1)
                        .max_count(1_000),
                )
                .map_err(SnapshotError::from)?;
            let Some(last) = page.events.last() else {
                break;
            };
            version = last.version;
            for event in &page.events {
                state = evolve(state, event);
                events_folded += 1;
            }
        }
        Ok(Aggregate {
            state,
            version,
            snapshot_version,
            events_folded,
        })
    }
}
