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
        let state = serde_json::to_string(state)
            .map_err(|error| InvalidArgument::new("state", format!("is not serialisable as JSON: {error}")))?;
        self.with_writer(|connection| {
            // IMMEDIATE: it reads then writes, so take the write lock first and wait out other writers.
            let transaction = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
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
    pub fn load_snapshot_tagged(&self, stream: &str, schema_tag: &str) -> Result<Option<Snapshot>, SnapshotError> {
        validate_stream_id(stream)?;
        validate_name(schema_tag, "schema_tag", 256)?;
        self.query_snapshot(stream, Some(schema_tag))
    }

    fn query_snapshot(&self, stream: &str, schema_tag: Option<&str>) -> Result<Option<Snapshot>, SnapshotError> {
        let row = self.with_reader(|connection| {
            connection
                .prepare_cached(
                    "SELECT schema_tag, version, state, recorded_at FROM snapshots
                     WHERE stream = ?1 AND (?2 IS NULL OR schema_tag = ?2)
                     ORDER BY version DESC, recorded_at DESC LIMIT 1",
                )?
                .query_row(params![stream, schema_tag], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, String>(2)?, row.get(3)?))
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
        Ok(Some(Snapshot { stream: stream.to_owned(), version: version as u64, schema_tag, state, recorded_at }))
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
        let (mut state, mut version, snapshot_version) =
            match snapshot.and_then(|s| serde_json::from_value::<S>(s.state).ok().map(|state| (state, s.version))) {
                Some((state, version)) => (state, version, Some(version)),
                None => (initial, 0, None),
            };
        let mut events_folded = 0;
        loop {
            let page = self
                .read_stream(stream, ReadStreamOptions::forwards().from_version(version + 1).max_count(1_000))
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
        Ok(Aggregate { state, version, snapshot_version, events_folded })
    }
}

#[cfg(test)]
mod tests {
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use serde_json::json;

    use super::*;
    use crate::{ErrorCode, ExpectedVersion, NewEvent};

    fn store_with_amounts(amounts: &[i64]) -> Store {
        let store = Store::open_in_memory().unwrap();
        let batch: Vec<NewEvent> = amounts.iter().map(|a| NewEvent::json("Added", &json!({ "amount": a }))).collect();
        store.append_to_stream("cart-1", &batch, ExpectedVersion::Any).unwrap();
        store
    }

    fn sum(state: i64, event: &RecordedEvent) -> i64 {
        state + event.data_as::<serde_json::Value>().unwrap()["amount"].as_i64().unwrap()
    }

    #[test]
    fn aggregate_without_a_snapshot_folds_everything() {
        let store = store_with_amounts(&[1, 2, 3]);
        let aggregate = store.aggregate_stream("cart-1", Some("v1"), 0_i64, sum).unwrap();
        assert_eq!(aggregate, Aggregate { state: 6, version: 3, snapshot_version: None, events_folded: 3 });
    }

    #[test]
    fn aggregate_folds_only_events_after_a_matching_snapshot() {
        let store = store_with_amounts(&[1, 2, 3, 4]);
        // A deliberately different state proves the snapshot was used rather than a full fold.
        store.save_snapshot("cart-1", 2, &100_i64, "v1").unwrap();
        let aggregate = store.aggregate_stream("cart-1", Some("v1"), 0_i64, sum).unwrap();
        assert_eq!(aggregate, Aggregate { state: 107, version: 4, snapshot_version: Some(2), events_folded: 2 });
        let other_tag = store.aggregate_stream("cart-1", Some("v2"), 0_i64, sum).unwrap();
        assert_eq!((other_tag.state, other_tag.snapshot_version), (10, None));
        let untagged = store.aggregate_stream("cart-1", None, 0_i64, sum).unwrap();
        assert_eq!(untagged.state, 10);
    }

    #[test]
    fn a_snapshot_of_another_shape_is_ignored() {
        let store = store_with_amounts(&[1, 2]);
        store.save_snapshot("cart-1", 2, &json!({"not": "a number"}), "v1").unwrap();
        let aggregate = store.aggregate_stream("cart-1", Some("v1"), 0_i64, sum).unwrap();
        assert_eq!((aggregate.state, aggregate.snapshot_version), (3, None));
    }

    #[test]
    fn load_snapshot_returns_the_latest() {
        let store = store_with_amounts(&[1, 2, 3]);
        assert_eq!(store.load_snapshot("cart-1").unwrap(), None);
        store.save_snapshot("cart-1", 1, &json!({"s": 1}), "v1").unwrap();
        store.save_snapshot("cart-1", 3, &json!({"s": 3}), "v2").unwrap();
        store.save_snapshot("cart-1", 2, &json!({"s": 2}), "v2").unwrap(); // older than the stored v2: kept as is
        let latest = store.load_snapshot("cart-1").unwrap().unwrap();
        assert_eq!((latest.version, latest.schema_tag.as_str(), latest.state), (3, "v2", json!({"s": 3})));
        let v1 = store.load_snapshot_tagged("cart-1", "v1").unwrap().unwrap();
        assert_eq!(v1.version, 1);
    }

    #[test]
    fn snapshot_arguments_are_validated() {
        let store = store_with_amounts(&[1]);
        for (stream, version, tag) in [("cart-1", 0, "v1"), ("cart-1", 2, "v1"), ("", 1, "v1"), ("cart-1", 1, "")] {
            let error = store.save_snapshot(stream, version, &1, tag).unwrap_err();
            assert_eq!(error.code(), ErrorCode::InvalidArgument, "{stream} {version} {tag}");
        }
        let mut unserialisable = std::collections::HashMap::new();
        unserialisable.insert(vec![1u8], 1);
        assert_eq!(
            store.save_snapshot("cart-1", 1, &unserialisable, "v1").unwrap_err().code(),
            ErrorCode::InvalidArgument
        );
        assert_eq!(store.load_snapshot("cart-1").unwrap(), None);
    }

    #[test]
    fn aggregating_a_long_stream_reads_every_page() {
        let amounts: Vec<i64> = (1..=2_500).collect();
        let store = store_with_amounts(&amounts);
        let aggregate = store.aggregate_stream("cart-1", None, 0_i64, sum).unwrap();
        assert_eq!((aggregate.state, aggregate.version), (2_500 * 2_501 / 2, 2_500));
    }
}
