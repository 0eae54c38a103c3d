//! The server side of sync over a store that is the server's log: apply a push, page the log for a pull.
//!
//! The embedded server backend calls these on one store per tenant. Every backend (PostgreSQL too) decides each pushed
//! event with the same [`PushRules`], doing only its own storage I/O, and the server's shared backend test suite
//! holds them to the same results:
//! - a push is validated whole first (names, types, JSON, sizes, duplicate ids): a malformed push stores nothing;
//! - then its events are applied in order in one transaction: an event id already stored answers with its original
//!   position (a retry); otherwise the expectation is checked against the server's stream; a rejected event rejects
//!   the rest of the push's events in the same stream;
//! - server positions come from the store's single-writer `AUTOINCREMENT`, so they become visible in commit order
//!   and a pull after a position never skips an event committed later.
//!
//! A server binds its cursors to the log they came from with [`log_id`] and [`event_at`]: a log started again has
//! another identity, and a log restored from an older backup lacks the event a later cursor points at (or holds it
//! stored again, with a later recorded time).

use std::collections::{HashMap, HashSet};

#[cfg(feature = "sqlite")]
use rusqlite::{OptionalExtension, TransactionBehavior};
#[cfg(feature = "sqlite")]
use uuid::Uuid;

use crate::error::InvalidArgument;
use crate::event::{EventData, NewEvent, same_metadata, validate_writable_stream_id};
use crate::stream::ExpectedVersion;
use crate::sync::SyncError;
use crate::sync::message::{PullResponse, PushOutcome, PushRequest, RejectionCode, ServerEvent, WireEvent};
#[cfg(feature = "sqlite")]
use crate::{
    clock,
    events_table::{NewRow, RowWriter},
    log::EVENT_COLUMNS,
    store::{self, Store, event_from_row},
    sync::message::PushResponse,
};

#[cfg(feature = "sqlite")]
/// The `sync_state` key of the server log's identity.
const LOG_ID: &str = "server_log_id";

#[cfg(feature = "sqlite")]
/// The identity of the server's log kept in `store`: a random UUID (v7) created with the log, on the first call, and
/// kept in the store's `sync_state`. A log lost and started again (a new database) has another identity; a copy of
/// the database (a backup) keeps it.
pub fn log_id(store: &Store) -> Result<Uuid, SyncError> {
    store.with_writer(|connection| -> Result<Uuid, SyncError> {
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let stored: Option<String> = transaction
            .prepare_cached("SELECT value FROM sync_state WHERE key = ?1")?
            .query_row([LOG_ID], |row| row.get(0))
            .optional()?;
        let id = match stored {
            Some(text) => Uuid::parse_str(&text).map_err(|_| {
                SyncError::Storage(crate::error::StorageError::new(
                    crate::ErrorCode::Corrupt,
                    "the stored server log id is not a UUID",
                ))
            })?,
            None => {
                let id = clock::new_event_id(&transaction, clock::now_millis(&transaction)?)?;
                transaction.execute(
                    "INSERT INTO sync_state (key, value) VALUES (?1, ?2)",
                    [LOG_ID, id.to_string().as_str()],
                )?;
                id
            }
        };
        transaction.commit()?;
        Ok(id)
    })
}

#[cfg(feature = "sqlite")]
/// The id and recorded time (ms since the Unix epoch) of the event at `position` in the server's log, if there is
/// one. Together they tell the stored event from the same event stored again later (a log restored from an older
/// backup and refilled by replicas pushing their events again).
pub fn event_at(store: &Store, position: u64) -> Result<Option<(Uuid, i64)>, SyncError> {
    let Ok(position) = i64::try_from(position) else {
        return Ok(None);
    };
    store.with_reader(|connection| {
        let row: Option<(Vec<u8>, i64)> = connection
            .prepare_cached("SELECT event_id, recorded_at FROM events WHERE position = ?1")?
            .query_row([position], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        Ok(row.and_then(|(id, recorded_at)| Some((Uuid::from_slice(&id).ok()?, recorded_at))))
    })
}

/// Bounds on what one push may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Events per push, at most.
    pub max_batch: usize,
    /// Bytes per event (type + data + metadata, and the content type of binary data), at most.
    pub max_event_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_batch: 1_000, max_event_size: 1024 * 1024 }
    }
}

/// Checks a push without touching storage and returns its events ready to append.
pub fn validate_push(request: &PushRequest, limits: &Limits) -> Result<Vec<NewEvent>, SyncError> {
    if request.events.len() > limits.max_batch {
        return Err(SyncError::BatchTooLarge { count: request.events.len(), limit: limits.max_batch });
    }
    let mut seen = HashSet::with_capacity(request.events.len());
    let mut events = Vec::with_capacity(request.events.len());
    for (index, wire) in request.events.iter().enumerate() {
        validate_writable_stream_id(&wire.stream)
            .map_err(|error| InvalidArgument::new(format!("events[{index}].stream"), error.reason))?;
        let event = wire.to_new_event(index)?;
        let size = event.size();
        if size > limits.max_event_size {
            return Err(SyncError::EventTooLarge { index, size, limit: limits.max_event_size });
        }
        // The rules of a local append. `data` and `metadata` arrived as `RawValue`s, which only hold valid JSON: no
        // second parse, only the checks the JSON grammar does not make.
        event.validate_names(index)?;
        event.validate_depth(index)?;
        if wire.metadata.as_ref().is_some_and(|raw| !raw.get().trim_start().starts_with('{')) {
            return Err(InvalidArgument::new(format!("events[{index}].metadata"), "must be a JSON object").into());
        }
        if !seen.insert(wire.event_id) {
            return Err(InvalidArgument::new(
                format!("events[{index}].event_id"),
                format!("{} appears twice in the push", wire.event_id),
            )
            .into());
        }
        events.push(event);
    }
    Ok(events)
}

#[cfg(feature = "sqlite")]
/// Applies a push to `store` (the server's log): see the module docs for the rules.
pub fn apply_push(store: &Store, request: &PushRequest, limits: &Limits) -> Result<PushResponse, SyncError> {
    let events = validate_push(request, limits)?;
    let mut stored_any = false;
    let outcomes = store.with_writer(|connection| -> Result<Vec<PushOutcome>, SyncError> {
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = clock::now_millis(&transaction)?;
        let mut rules = PushRules::default();
        let mut writer = RowWriter::new(&transaction)?;
        let mut outcomes = Vec::with_capacity(events.len());
        for (wire, event) in request.events.iter().zip(&events) {
            let stream = wire.stream.as_str();
            let stored = transaction
                .prepare_cached(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ?1"))?
                .query_row([wire.event_id.as_bytes()], event_from_row)
                .optional()?
                .map(|stored| StoredMatch {
                    position: stored.position,
                    version: stored.version,
                    same_event: same_event(
                        StoredEvent {
                            stream: &stored.stream,
                            event_type: &stored.event_type,
                            data: &stored.data,
                            metadata: stored.metadata.as_deref(),
                        },
                        stream,
                        event,
                    ),
                });
            let version = match rules.judge(wire, stored, |stream| store::stream_version(&transaction, stream))? {
                Verdict::Answer(outcome) => {
                    outcomes.push(outcome);
                    continue;
                }
                Verdict::Append { version } => version,
            };
            let position = writer.insert(&NewRow {
                event_id: wire.event_id,
                stream,
                version,
                event_type: &event.event_type,
                data: &event.data,
                metadata: event.metadata.as_deref(),
                recorded_at: now,
                sync_expected: None,
                server_position: None,
            })?;
            rules.appended(stream, version);
            stored_any = true;
            outcomes.push(PushOutcome::Accepted { event_id: wire.event_id, position, version, duplicate: false });
        }
        drop(writer);
        transaction.commit()?;
        Ok(outcomes)
    })?;
    if stored_any {
        store.shared.commits.wake();
    }
    Ok(PushResponse { outcomes })
}

/// What a backend found stored under a pushed event's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredMatch {
    /// The stored event's server position.
    pub position: u64,
    /// The stored event's version in its stream.
    pub version: u64,
    /// Whether it is the pushed event: same stream and type, the same data (JSON by value, binary by content type and
    /// bytes: [`crate::EventData::same_value`]) and the same metadata (by value, absent = `{}`:
    /// [`crate::event::same_metadata`]): [`same_event`].
    pub same_event: bool,
}

/// The parts of a stored event that decide whether a pushed one is the same event (its retry).
#[derive(Debug, Clone, Copy)]
pub struct StoredEvent<'a> {
    /// Its stream.
    pub stream: &'a str,
    /// Its type.
    pub event_type: &'a str,
    /// Its data.
    pub data: &'a EventData,
    /// Its metadata, as stored (`None`: none).
    pub metadata: Option<&'a str>,
}

/// Whether `stored` is the pushed `event` of `stream`, so that a push of it again is a duplicate, not a conflict:
/// same stream and type, the same data ([`EventData::same_value`]: JSON by value, binary by content type and bytes)
/// and the same metadata ([`same_metadata`]: by value, absent = `{}`). Every server backend decides it here.
pub fn same_event(stored: StoredEvent<'_>, stream: &str, event: &NewEvent) -> bool {
    stored.stream == stream
        && stored.event_type == event.event_type
        && stored.data.same_value(&event.data)
        && same_metadata(stored.metadata, event.metadata.as_deref())
}

/// What to do with one pushed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Append it to its stream at this version, then tell the rules with [`PushRules::appended`].
    Append {
        /// The version the event takes in the server's stream.
        version: u64,
    },
    /// Store nothing for it; answer with this outcome (a retry's original position, or a rejection).
    Answer(PushOutcome),
}

/// The push rules, shared by every server backend. Feed a push's events in order, each with what the backend found
/// stored under its id; the rules answer whether to append it and at which version, or what to answer instead:
/// - an id already stored for the same event answers with its original position (a retry), for a different event it
///   is rejected with `IDEMPOTENCY_CONFLICT`;
/// - an event whose stream already had an event of this push rejected is rejected with `FOLLOWS_REJECTED`;
/// - otherwise its expectation is checked against the server's stream (as left by this push's earlier events):
///   `WRONG_EXPECTED_VERSION` on a mismatch, else it is appended at the next version.
#[derive(Debug, Default)]
pub struct PushRules<'a> {
    versions: HashMap<&'a str, u64>,
    rejected_streams: HashSet<&'a str>,
}

impl<'a> PushRules<'a> {
    /// Decides `wire`. `stored_version` reads the stream's version from storage; it is called at most once per stream
    /// and only when this push has not appended to the stream yet.
    pub fn judge<E>(
        &mut self,
        wire: &'a WireEvent,
        stored: Option<StoredMatch>,
        stored_version: impl FnOnce(&str) -> Result<u64, E>,
    ) -> Result<Verdict, E> {
        let stream = wire.stream.as_str();
        let rejected = |code, actual_version, message: String| {
            Verdict::Answer(PushOutcome::Rejected { event_id: wire.event_id, code, actual_version, message })
        };
        if let Some(stored) = stored {
            if stored.same_event {
                return Ok(Verdict::Answer(PushOutcome::Accepted {
                    event_id: wire.event_id,
                    position: stored.position,
                    version: stored.version,
                    duplicate: true,
                }));
            }
            self.rejected_streams.insert(stream);
            return Ok(rejected(
                RejectionCode::IdempotencyConflict,
                None,
                "the event id is already stored for a different event".into(),
            ));
        }
        if self.rejected_streams.contains(stream) {
            return Ok(rejected(
                RejectionCode::FollowsRejected,
                None,
                "an earlier event of this push in the same stream was rejected".into(),
            ));
        }
        let actual = match self.versions.get(stream) {
            Some(version) => *version,
            None => stored_version(stream)?,
        };
        let expected = ExpectedVersion::from(wire.expected);
        if !expected.is_satisfied_by(actual) {
            self.rejected_streams.insert(stream);
            return Ok(rejected(
                RejectionCode::WrongExpectedVersion,
                Some(actual),
                format!("expected {expected}, the server's stream is at version {actual}"),
            ));
        }
        Ok(Verdict::Append { version: actual + 1 })
    }

    /// Records that the backend appended an event of `stream` at `version`.
    pub fn appended(&mut self, stream: &'a str, version: u64) {
        self.versions.insert(stream, version);
    }
}

/// One page of the server's log for a pull.
#[derive(Debug, Clone)]
pub struct PullPage {
    /// Events after the requested position, in position order.
    pub events: Vec<ServerEvent>,
    /// The position the page covers: the last event's, or the requested one when the page is empty.
    pub through: u64,
    /// The log head when the page was read.
    pub head: u64,
}

impl PullPage {
    /// True when events follow the page.
    pub fn more(&self) -> bool {
        self.through < self.head
    }

    /// The response a transport sends, with the cursor encoded by `cursor_of` (a server may bind cursors to tenants).
    pub fn into_response(self, cursor_of: impl Fn(u64) -> String) -> PullResponse {
        let more = self.more();
        PullResponse { cursor: cursor_of(self.through), events: self.events, more }
    }
}

#[cfg(feature = "sqlite")]
/// Reads up to `limit` events after `after` (exclusive) from the server's log.
pub fn read_pull(store: &Store, after: u64, limit: usize) -> Result<PullPage, SyncError> {
    read_pull_within(store, after, limit, usize::MAX)
}

#[cfg(feature = "sqlite")]
/// [`read_pull`] bounded by bytes too: events are added while the page's sizes ([`NewEvent::size`]: type + data +
/// metadata + content type) stay within `max_bytes`, and a page has at least one event (so an event of any size can
/// be pulled). Rows are read one at a time, so memory is bounded by the budget plus one event, not by `limit`.
pub fn read_pull_within(store: &Store, after: u64, limit: usize, max_bytes: usize) -> Result<PullPage, SyncError> {
    store.with_reader(|connection| -> Result<PullPage, SyncError> {
        let transaction = connection.unchecked_transaction()?;
        let head = store::head_position(&transaction)?;
        let mut statement = transaction.prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE position > ?1 ORDER BY position LIMIT ?2"
        ))?;
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        let mut rows = statement.query(rusqlite::params![i64::try_from(after).unwrap_or(i64::MAX), limit])?;
        let (mut events, mut budget) = (Vec::new(), PageBudget::new(max_bytes));
        while let Some(row) = rows.next()? {
            let event = event_from_row(row)?;
            if !budget.admit(recorded_size(&event)) {
                break;
            }
            events.push(ServerEvent::from_recorded(&event));
        }
        drop(rows);
        drop(statement);
        transaction.commit()?;
        let through = events.last().map_or(after, |event: &ServerEvent| event.position);
        Ok(PullPage { events, through, head })
    })
}

/// The byte bound of a pull page: events are admitted in position order while their sizes ([`recorded_size`])
/// add up to at most the budget, and the first event always is (so an event of any size can be pulled). Every
/// backend pages with it, whatever its storage.
#[derive(Debug, Clone, Copy)]
pub struct PageBudget {
    max_bytes: usize,
    bytes: usize,
    admitted: usize,
}

impl PageBudget {
    /// A page of at most `max_bytes` (and at least one event).
    pub fn new(max_bytes: usize) -> PageBudget {
        PageBudget { max_bytes, bytes: 0, admitted: 0 }
    }

    /// Whether the next event, of `size` bytes, joins the page; when it does not, the page ends before it.
    pub fn admit(&mut self, size: usize) -> bool {
        self.bytes = self.bytes.saturating_add(size);
        if self.admitted > 0 && self.bytes > self.max_bytes {
            return false;
        }
        self.admitted += 1;
        true
    }
}

/// The size of a stored event as [`NewEvent::size`] counts it: type + data + metadata, and the content type of
/// binary data.
pub fn recorded_size(event: &crate::RecordedEvent) -> usize {
    let content_type = match &event.data {
        crate::EventData::Json(_) => 0,
        crate::EventData::Binary { content_type, .. } => content_type.len(),
    };
    event.event_type.len() + content_type + event.data.as_bytes().len() + event.metadata.as_ref().map_or(0, String::len)
}

#[cfg(feature = "sqlite")]
#[cfg(test)]
mod tests {
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use uuid::Uuid;

    use super::*;
    use crate::sync::message::{WireEvent, WireExpected};

    fn wire(n: u128, stream: &str, expected: WireExpected) -> WireEvent {
        serde_json::from_value(serde_json::json!({
            "event_id": Uuid::from_u128(n), "stream": stream, "type": "T", "expected": expected, "data": {"n": n as u64}
        }))
        .unwrap()
    }

    fn push(events: Vec<WireEvent>) -> PushRequest {
        PushRequest { replica_id: Uuid::from_u128(99), events }
    }

    #[test]
    fn the_same_event_is_the_same_stream_type_data_and_metadata_by_value() {
        let pushed = NewEvent {
            event_id: None,
            event_type: "T".into(),
            data: EventData::Json(r#"{"a":1,"b":[2]}"#.into()),
            metadata: None,
        };
        let data = EventData::Json(r#"{ "b": [2.0], "a": 1 }"#.into());
        let stored = StoredEvent { stream: "s", event_type: "T", data: &data, metadata: Some("{}") };
        assert!(same_event(stored, "s", &pushed));
        assert!(!same_event(stored, "other", &pushed));
        assert!(!same_event(StoredEvent { event_type: "U", ..stored }, "s", &pushed));
        assert!(!same_event(StoredEvent { metadata: Some(r#"{"k":1}"#), ..stored }, "s", &pushed));
        let other = EventData::Json(r#"{"a":2,"b":[2]}"#.into());
        assert!(!same_event(StoredEvent { data: &other, ..stored }, "s", &pushed));
        let binary = EventData::Binary { content_type: "a/b".into(), bytes: br#"{"a":1,"b":[2]}"#.to_vec() };
        assert!(!same_event(StoredEvent { data: &binary, ..stored }, "s", &pushed));
    }

    #[test]
    fn expectations_are_checked_against_the_servers_stream_and_rejections_cascade() {
        let hub = Store::open_in_memory().unwrap();
        let limits = Limits::default();
        apply_push(&hub, &push(vec![wire(1, "a-1", WireExpected::NoStream)]), &limits).unwrap();
        let response = apply_push(
            &hub,
            &push(vec![
                wire(2, "a-1", WireExpected::Exact(0)),
                wire(3, "a-1", WireExpected::Any),
                wire(4, "b-1", WireExpected::Any),
                wire(5, "a-1", WireExpected::Any),
            ]),
            &limits,
        )
        .unwrap();
        let codes: Vec<_> = response
            .outcomes
            .iter()
            .map(|o| match o {
                PushOutcome::Accepted { version, .. } => format!("ok v{version}"),
                PushOutcome::Rejected { code, actual_version, .. } => format!("{} {actual_version:?}", code.as_str()),
            })
            .collect();
        assert_eq!(
            codes,
            ["WRONG_EXPECTED_VERSION Some(1)", "FOLLOWS_REJECTED None", "ok v1", "FOLLOWS_REJECTED None"]
        );
        assert_eq!(hub.head_position().unwrap(), 2);
    }

    #[test]
    fn push_rules_read_each_streams_version_once_and_cascade_rejections() {
        let events = [
            wire(1, "a-1", WireExpected::Exact(2)),
            wire(2, "a-1", WireExpected::Any),
            wire(3, "b-1", WireExpected::NoStream),
            wire(4, "b-1", WireExpected::Exact(1)),
            wire(5, "c-1", WireExpected::Any),
            wire(6, "c-1", WireExpected::Any),
        ];
        let stored_versions = HashMap::from([("a-1", 2_u64), ("b-1", 5)]);
        let mut reads = Vec::new();
        let mut rules = PushRules::default();
        let mut verdicts = Vec::new();
        for (index, event) in events.iter().enumerate() {
            // Event 6 was stored by an earlier attempt of this push: a retry.
            let stored = (index == 5).then_some(StoredMatch { position: 40, version: 9, same_event: true });
            let verdict = rules
                .judge(event, stored, |stream| {
                    reads.push(stream.to_owned());
                    Ok::<_, std::convert::Infallible>(stored_versions.get(stream).copied().unwrap_or(0))
                })
                .unwrap();
            if let Verdict::Append { version } = verdict {
                rules.appended(&event.stream, version);
            }
            verdicts.push(verdict);
        }
        let summary: Vec<String> = verdicts
            .iter()
            .map(|verdict| match verdict {
                Verdict::Append { version } => format!("append v{version}"),
                Verdict::Answer(PushOutcome::Accepted { position, .. }) => format!("retry at {position}"),
                Verdict::Answer(PushOutcome::Rejected { code, .. }) => format!("{code:?}"),
            })
            .collect();
        assert_eq!(
            summary,
            ["append v3", "append v4", "WrongExpectedVersion", "FollowsRejected", "append v1", "retry at 40"]
        );
        assert_eq!(reads, ["a-1", "b-1", "c-1"], "one storage read per stream, none after an append");
    }

    #[test]
    fn a_retried_push_answers_with_the_original_positions() {
        let hub = Store::open_in_memory().unwrap();
        let request = push(vec![wire(1, "a-1", WireExpected::NoStream), wire(2, "a-1", WireExpected::Exact(1))]);
        let first = apply_push(&hub, &request, &Limits::default()).unwrap();
        let again = apply_push(&hub, &request, &Limits::default()).unwrap();
        for (a, b) in first.outcomes.iter().zip(&again.outcomes) {
            let (
                PushOutcome::Accepted { position: p1, duplicate: false, .. },
                PushOutcome::Accepted { position: p2, duplicate: true, .. },
            ) = (a, b)
            else {
                panic!("{a:?} {b:?}");
            };
            assert_eq!(p1, p2);
        }
        assert_eq!(hub.head_position().unwrap(), 2);
        let mut changed = wire(1, "a-1", WireExpected::Any);
        changed.event_type = "Other".into();
        let conflict = apply_push(&hub, &push(vec![changed]), &Limits::default()).unwrap();
        assert!(matches!(conflict.outcomes[0], PushOutcome::Rejected { code: RejectionCode::IdempotencyConflict, .. }));
    }

    #[test]
    fn a_malformed_push_stores_nothing() {
        let hub = Store::open_in_memory().unwrap();
        let limits = Limits { max_batch: 3, max_event_size: 64 };
        let mut bad_type = wire(2, "a-1", WireExpected::Any);
        bad_type.event_type = String::new();
        let mut big = wire(3, "a-1", WireExpected::Any);
        big.data = serde_json::value::RawValue::from_string(format!("\"{}\"", "x".repeat(100))).ok();
        let cases = [
            (vec![wire(1, "a-1", WireExpected::Any), bad_type], "INVALID_ARGUMENT"),
            (vec![wire(1, "a-1", WireExpected::Any), big], "EVENT_TOO_LARGE"),
            (vec![wire(1, "$system", WireExpected::Any)], "INVALID_ARGUMENT"),
            (vec![wire(1, "a-1", WireExpected::Any), wire(1, "a-1", WireExpected::Any)], "INVALID_ARGUMENT"),
            ((1..=4).map(|n| wire(n, "a-1", WireExpected::Any)).collect(), "BATCH_TOO_LARGE"),
        ];
        for (events, code) in cases {
            assert_eq!(apply_push(&hub, &push(events), &limits).unwrap_err().code().as_str(), code);
        }
        assert_eq!(hub.head_position().unwrap(), 0);
    }

    #[test]
    fn pull_pages_are_bounded_by_bytes_with_at_least_one_event() {
        let hub = Store::open_in_memory().unwrap();
        let mut events: Vec<WireEvent> = (1..=6).map(|n| wire(n, "a-1", WireExpected::Any)).collect();
        // Each event is 1 (type) + 1,002 (a 1,000-character string) bytes; event 4 is 10,001 bytes alone.
        for (index, event) in events.iter_mut().enumerate() {
            let length = if index == 3 { 9_998 } else { 1_000 };
            event.data = serde_json::value::RawValue::from_string(format!("\"{}\"", "x".repeat(length))).ok();
        }
        apply_push(&hub, &push(events), &Limits { max_event_size: 20_000, ..Limits::default() }).unwrap();
        let mut after = 0;
        let mut sizes = Vec::new();
        loop {
            let page = read_pull_within(&hub, after, 100, 2_500).unwrap();
            if page.events.is_empty() {
                break;
            }
            sizes.push(page.events.len());
            after = page.through;
        }
        assert_eq!(sizes, [2, 1, 1, 2], "2 x 1,003 bytes fit in 2,500; the 10,001-byte event comes alone");
        assert_eq!(read_pull_within(&hub, 0, 1, usize::MAX).unwrap().events.len(), 1, "the count bound still holds");
        let whole = read_pull(&hub, 0, 100).unwrap();
        assert_eq!((whole.events.len(), whole.through, whole.head), (6, 6, 6));
    }

    #[test]
    fn retries_match_by_json_value_and_keep_the_first_text() {
        let hub = Store::open_in_memory().unwrap();
        let first: WireEvent = serde_json::from_str(
            r#"{"event_id":"00000000-0000-0000-0000-000000000001","stream":"a-1","type":"T","expected":"any",
                "data":{"a":1,"b":[1,2]}}"#,
        )
        .unwrap();
        apply_push(&hub, &push(vec![first]), &Limits::default()).unwrap();
        let retry: WireEvent = serde_json::from_str(
            r#"{"event_id":"00000000-0000-0000-0000-000000000001","stream":"a-1","type":"T","expected":"any",
                "data":{ "b" : [1, 2.0], "a" : 1 },"metadata":{}}"#,
        )
        .unwrap();
        let outcome = apply_push(&hub, &push(vec![retry.clone()]), &Limits::default()).unwrap();
        assert!(
            matches!(outcome.outcomes[0], PushOutcome::Accepted { duplicate: true, position: 1, .. }),
            "{outcome:?}"
        );
        let stored = read_pull(&hub, 0, 10).unwrap();
        assert_eq!(
            stored.events[0].wire_data().to_event_data(0).unwrap(),
            crate::EventData::Json(r#"{"a":1,"b":[1,2]}"#.into())
        );
        assert!(stored.events[0].metadata.is_none(), "the first text, verbatim");
        let mut changed = retry;
        changed.data = serde_json::value::RawValue::from_string(r#"{"a":2,"b":[1,2]}"#.into()).ok();
        let conflict = apply_push(&hub, &push(vec![changed]), &Limits::default()).unwrap();
        assert!(matches!(conflict.outcomes[0], PushOutcome::Rejected { code: RejectionCode::IdempotencyConflict, .. }));
    }

    #[test]
    fn pushed_json_deeper_than_the_limit_is_refused_and_nothing_is_stored() {
        let hub = Store::open_in_memory().unwrap();
        let mut deep = wire(1, "a-1", WireExpected::Any);
        deep.data =
            serde_json::value::RawValue::from_string(format!("{}{}", "[".repeat(100_000), "]".repeat(100_000))).ok();
        let error =
            apply_push(&hub, &push(vec![deep]), &Limits { max_event_size: 1 << 20, ..Limits::default() }).unwrap_err();
        assert_eq!(error.code().as_str(), "INVALID_ARGUMENT");
        assert!(error.to_string().contains("events[0].data"), "{error}");
        let mut deep_metadata = wire(2, "a-1", WireExpected::Any);
        deep_metadata.metadata =
            serde_json::value::RawValue::from_string(format!("{{\"a\":{}1{}}}", "[".repeat(64), "]".repeat(64))).ok();
        assert_eq!(
            apply_push(&hub, &push(vec![deep_metadata]), &Limits::default()).unwrap_err().code().as_str(),
            "INVALID_ARGUMENT"
        );
        assert_eq!(hub.head_position().unwrap(), 0);
    }

    #[test]
    fn the_log_id_is_created_once_and_events_are_found_by_position() {
        let hub = Store::open_in_memory().unwrap();
        let id = log_id(&hub).unwrap();
        assert_eq!(log_id(&hub).unwrap(), id, "kept");
        assert_ne!(log_id(&Store::open_in_memory().unwrap()).unwrap(), id, "another log, another identity");
        apply_push(&hub, &push(vec![wire(1, "a-1", WireExpected::Any)]), &Limits::default()).unwrap();
        let stored = &read_pull(&hub, 0, 1).unwrap().events[0];
        assert_eq!(event_at(&hub, 1).unwrap(), Some((Uuid::from_u128(1), stored.recorded_at)));
        assert_eq!(event_at(&hub, 0).unwrap(), None);
        assert_eq!(event_at(&hub, 2).unwrap(), None);
        assert_eq!(event_at(&hub, u64::MAX).unwrap(), None);
    }

    #[test]
    fn pull_pages_cover_the_log_in_order() {
        let hub = Store::open_in_memory().unwrap();
        let events = (1..=5).map(|n| wire(n, "a-1", WireExpected::Any)).collect();
        apply_push(&hub, &push(events), &Limits::default()).unwrap();
        let first = read_pull(&hub, 0, 3).unwrap();
        assert_eq!((first.events.len(), first.through, first.more()), (3, 3, true));
        let second = read_pull(&hub, first.through, 3).unwrap();
        assert_eq!((second.events.len(), second.through, second.more()), (2, 5, false));
        let empty = read_pull(&hub, 5, 3).unwrap().into_response(|p| p.to_string());
        assert_eq!((empty.events.len(), empty.cursor.as_str(), empty.more), (0, "5", false));
    }
}
