//! The replica side of sync: pending and confirmed events, what to push, applying push results and pulls.
//!
//! State lives in the store's own database (schema version 2), so it survives restarts and every step is one
//! transaction: a crash between two steps leaves the store at one step or the other, never between.
//! - `events.sync_expected`: the expectation each local append recorded (the first event of a batch; later events of
//!   the same batch are marked as continuing it, so a batch is never split across pushes).
//! - `events.server_position`: set once the event is confirmed.
//! - `sync_state.confirmed_through`: the local position of the last confirmed event. Every event after it is
//!   pending; every event up to it is confirmed. Pulls keep it that way by rewriting the pending tail (a rebase):
//!   pending events are deleted and re-inserted after the server's events, with fresh positions (never reused, as
//!   positions come from `AUTOINCREMENT`) and versions continuing the server's streams.

use std::collections::{BTreeSet, HashMap, HashSet};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;

use crate::clock;
use crate::event::{EventData, RecordedEvent};
use crate::events_table::{self, COLUMNS as EVENT_COLUMNS, NewRow, RowWriter, data_params, event_from_row};
use crate::log::clamp_i64;
use crate::projection::runner::{self, Mode, Registry, RunError};
use crate::store::Store;
use crate::stream::ExpectedVersion;
use crate::sync::SyncError;
use crate::sync::message::{
    PullResponse, PushOutcome, PushRequest, PushResponse, RejectionCode, ServerEvent, WireData, WireEvent, WireExpected,
};

const ANY: i64 = -1;
const NO_STREAM: i64 = -2;
const STREAM_EXISTS: i64 = -3;
/// A later event of a batch: its expectation follows from the batch's first event.
const CONTINUES: i64 = -4;

const REPLICA_ID: &str = "replica_id";
const CURSOR: &str = "cursor";
const CONFIRMED_THROUGH: &str = "confirmed_through";
const LOG_RESETS: &str = "log_resets";

/// The `events.sync_expected` value of the `index`th event of a batch appended with `expected`.
pub(crate) fn encode_expected(expected: ExpectedVersion, index: usize) -> i64 {
    if index > 0 {
        return CONTINUES;
    }
    match expected {
        ExpectedVersion::Any => ANY,
        ExpectedVersion::NoStream => NO_STREAM,
        ExpectedVersion::StreamExists => STREAM_EXISTS,
        ExpectedVersion::Exact(version) => clamp_i64(version),
    }
}

fn decode_expected(code: i64) -> ExpectedVersion {
    match code {
        NO_STREAM => ExpectedVersion::NoStream,
        STREAM_EXISTS => ExpectedVersion::StreamExists,
        version if version >= 0 => ExpectedVersion::Exact(version as u64),
        _ => ExpectedVersion::Any,
    }
}

/// The expectation of the `index`th event of a batch whose first event expected `first`: equivalent when the batch
/// is applied in one transaction, and checkable on its own.
fn continued(first: ExpectedVersion, index: u64) -> ExpectedVersion {
    match first {
        ExpectedVersion::Any => ExpectedVersion::Any,
        ExpectedVersion::StreamExists => ExpectedVersion::StreamExists,
        ExpectedVersion::NoStream => ExpectedVersion::Exact(index),
        ExpectedVersion::Exact(version) => ExpectedVersion::Exact(version + index),
    }
}

/// A replica's sync state at a glance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    /// This store's replica id.
    pub replica_id: Uuid,
    /// Local events not yet confirmed by the server.
    pub pending: u64,
    /// The local position of the last confirmed event (0: none).
    pub confirmed_through: u64,
    /// The cursor of the last pull (`None`: never pulled).
    pub cursor: Option<String>,
    /// Entries in the conflicts list.
    pub conflicts: u64,
    /// How many times the server's log turned out to be another one than the cursor's (its data was lost or
    /// restored from an older backup) and this replica started over against it ([`Store::restart_sync_after_log_reset`]).
    pub log_resets: u64,
}

/// An event the server rejected: it left its stream and is kept here for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// Order of rejection (1-based, increasing).
    pub id: u64,
    /// The rejected event's id.
    pub event_id: Uuid,
    /// The stream it was appended to.
    pub stream: String,
    /// Its type.
    pub event_type: String,
    /// Its payload.
    pub data: EventData,
    /// Its metadata.
    pub metadata: Option<String>,
    /// The expectation it was pushed with.
    pub expected: ExpectedVersion,
    /// Why it was rejected.
    pub code: RejectionCode,
    /// The server stream's version when it was checked, if the server said.
    pub actual_version: Option<u64>,
    /// For humans.
    pub message: String,
    /// When it was appended locally (ms since the Unix epoch).
    pub recorded_at: i64,
    /// When the rejection was recorded.
    pub rejected_at: i64,
}

/// What [`Store::apply_push_response`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushApplied {
    /// Events the server accepted (now or earlier).
    pub accepted: usize,
    /// Events that left their streams for the conflicts list: the rejected ones and this replica's later pending
    /// events in the same streams.
    pub rejected: Vec<Conflict>,
    /// When events were removed, the position after which the local log was rewritten.
    pub rewound_from: Option<u64>,
    /// Projections that a statement failure on the rewritten events stopped.
    pub failed_projections: Vec<String>,
}

/// What [`Store::apply_pull`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PullApplied {
    /// Server events now confirmed locally (including this replica's own).
    pub applied: usize,
    /// Of those, how many were this replica's pending events.
    pub own: usize,
    /// When pending events were rebased, the position after which the local log was rewritten.
    pub rewound_from: Option<u64>,
    /// Events still pending.
    pub pending: usize,
    /// Pending events that left their streams for the conflicts list: a server event took their id
    /// (`IDEMPOTENCY_CONFLICT`), and this replica's later pending events in the same streams (`FOLLOWS_REJECTED`).
    pub rejected: Vec<Conflict>,
    /// Projections that a statement failure on these events stopped (see [`crate::Store::projections`]).
    pub failed_projections: Vec<String>,
}

/// What one push may carry: the server's limits as the replica knows them. The defaults are the reference server's
/// defaults (`docs/sync-protocol.md`, "Limits"); configure the same values as the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushBudget {
    /// Events per push (the server's `--max-batch`).
    pub max_events: usize,
    /// Bytes per push request body, as JSON (the server's `--max-body-bytes`).
    pub max_bytes: usize,
    /// Bytes per event, counted as the server counts them (the server's `--max-event-bytes`).
    pub max_event_size: usize,
}

impl PushBudget {
    /// The smallest `max_bytes` a round accepts ([`crate::sync::RoundSettings::validate`]).
    pub const MIN_BYTES: usize = 1024;
}

impl Default for PushBudget {
    fn default() -> Self {
        PushBudget { max_events: 1_000, max_bytes: 16 * 1024 * 1024, max_event_size: 1024 * 1024 }
    }
}

/// What [`Store::next_push_within`] gives: the push to send, and the local batches it set aside on the way because
/// no push within the budget can ever carry them.
#[derive(Debug, Clone, Default)]
pub struct NextPush {
    /// The push to send (`None`: nothing is pending).
    pub request: Option<PushRequest>,
    /// How many local batches the push carries (each one whole).
    pub batches: usize,
    /// Events that left their streams for the conflicts list: the batches over the budget (`BATCH_TOO_LARGE`,
    /// `EVENT_TOO_LARGE`) and this replica's later pending events in the same streams (`FOLLOWS_REJECTED`).
    pub rejected: Vec<Conflict>,
    /// When events were set aside, the lowest position after which the local log was rewritten.
    pub rewound_from: Option<u64>,
}

struct Pending {
    event: RecordedEvent,
    code: i64,
}

/// An event being considered for a push.
struct Candidate {
    wire: WireEvent,
    /// Its serialised length in the request body, with its separating comma.
    wire_bytes: usize,
    /// Its size as the server's event limit counts it.
    size: usize,
    expected: ExpectedVersion,
}

enum Plan {
    Push { events: Vec<WireEvent>, batches: usize },
    SetAside(HashMap<Uuid, Rejection>),
}

type Rejection = (RejectionCode, Option<u64>, String, ExpectedVersion);

/// The size of an event as the server's event limit counts it ([`crate::NewEvent::size`]).
pub(crate) fn event_size(event: &RecordedEvent) -> usize {
    let content_type = match &event.data {
        EventData::Json(_) => 0,
        EventData::Binary { content_type, .. } => content_type.len(),
    };
    event.event_type.len() + content_type + event.data.as_bytes().len() + event.metadata.as_ref().map_or(0, String::len)
}

impl Store {
    /// This store's replica id: a UUID created the first time it is asked for, then kept.
    pub fn replica_id(&self) -> Result<Uuid, SyncError> {
        self.with_writer(|connection| {
            if let Some(text) = get_state(connection, REPLICA_ID)? {
                return parse_uuid(&text);
            }
            let now = clock::now_millis(connection)?;
            let id = clock::new_event_id(connection, now)?;
            set_state(connection, REPLICA_ID, &id.to_string())?;
            Ok(id)
        })
    }

    /// The cursor to pull after (`None`: from the start).
    pub fn pull_cursor(&self) -> Result<Option<String>, SyncError> {
        self.with_reader(|connection| Ok(get_state(connection, CURSOR)?))
    }

    /// Counts of pending and confirmed events, the cursor and the conflicts list.
    pub fn sync_status(&self) -> Result<SyncStatus, SyncError> {
        let replica_id = self.replica_id()?;
        self.with_reader(|connection| {
            let confirmed_through = confirmed_through(connection)?;
            let pending: i64 = connection
                .prepare_cached("SELECT count(*) FROM events WHERE position > ?1")?
                .query_row([clamp_i64(confirmed_through)], |row| row.get(0))?;
            let conflicts: i64 = connection.query_row("SELECT count(*) FROM sync_conflicts", [], |row| row.get(0))?;
            Ok(SyncStatus {
                replica_id,
                pending: pending as u64,
                confirmed_through,
                cursor: get_state(connection, CURSOR)?,
                conflicts: conflicts as u64,
                log_resets: get_state(connection, LOG_RESETS)?.and_then(|text| text.parse().ok()).unwrap_or(0),
            })
        })
    }

    /// Starts sync over against a server whose log is not the one this replica's cursor came from (the server
    /// answered a pull with `LOG_RESET`: its data was lost, or restored from an older backup). Nothing is lost: every
    /// local event becomes pending again, in local order, with the expectation it was appended with (events pulled
    /// from other replicas, which recorded none, with `Any`), and the cursor goes back to the start. The next round
    /// pulls the new log from its start, confirms the events it already has, and pushes the others again, so the
    /// devices refill a server restored from an older backup; an expectation that no longer holds there becomes a
    /// conflict as usual. Synced subscribers of both modes receive [`crate::sync::SyncedItem::Rewound`] from 0:
    /// the confirmed prefix is rebuilt from the new log. One transaction.
    pub fn restart_sync_after_log_reset(&self) -> Result<(), SyncError> {
        self.with_writer(|connection| -> Result<(), SyncError> {
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            transaction.execute(
                "UPDATE events SET server_position = NULL, sync_expected = coalesce(sync_expected, ?1)
                 WHERE server_position IS NOT NULL OR sync_expected IS NULL",
                [ANY],
            )?;
            set_state(&transaction, CONFIRMED_THROUGH, "0")?;
            transaction.execute("DELETE FROM sync_state WHERE key = ?1", [CURSOR])?;
            // Every subscriber starts over: the confirmed prefix itself may now be rewritten.
            transaction.execute("INSERT INTO sync_rewrites (from_position, log_reset) VALUES (0, 1)", [])?;
            let mut projections = crate::store::lock(&self.shared.projections);
            projections.invalidate();
            runner::after_log_reset(&transaction, &mut projections)?;
            let resets: u64 = get_state(&transaction, LOG_RESETS)?.and_then(|text| text.parse().ok()).unwrap_or(0);
            set_state(&transaction, LOG_RESETS, &(resets + 1).to_string())?;
            transaction.commit()?;
            Ok(())
        })
    }

    /// The conflicts list, oldest first.
    pub fn sync_conflicts(&self) -> Result<Vec<Conflict>, SyncError> {
        self.with_reader(|connection| {
            let mut statement = connection.prepare_cached(
                "SELECT id, event_id, stream, event_type, content_type, data, metadata, expected, code,
                        actual_version, message, recorded_at, rejected_at
                 FROM sync_conflicts ORDER BY id",
            )?;
            let rows = statement.query_map([], |row| {
                let content_type: Option<String> = row.get(4)?;
                let data = match content_type {
                    None => EventData::Json(row.get(5)?),
                    Some(content_type) => EventData::Binary { content_type, bytes: row.get(5)? },
                };
                let code: String = row.get(8)?;
                Ok(Conflict {
                    id: row.get::<_, i64>(0)? as u64,
                    event_id: Uuid::from_bytes(row.get(1)?),
                    stream: row.get(2)?,
                    event_type: row.get(3)?,
                    data,
                    metadata: row.get(6)?,
                    expected: decode_expected(row.get(7)?),
                    code: RejectionCode::parse(&code).unwrap_or(RejectionCode::WrongExpectedVersion),
                    actual_version: row.get::<_, Option<i64>>(9)?.map(|v| v as u64),
                    message: row.get(10)?,
                    recorded_at: row.get(11)?,
                    rejected_at: row.get(12)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Removes an entry from the conflicts list once the application has dealt with it. Returns whether it existed.
    pub fn dismiss_conflict(&self, event_id: Uuid) -> Result<bool, SyncError> {
        self.with_writer(|connection| {
            Ok(connection.execute("DELETE FROM sync_conflicts WHERE event_id = ?1", [event_id.as_bytes()])? > 0)
        })
    }

    /// The next push: pending events in local position order, about `max_events` of them (whole local batches:
    /// a batch larger than `max_events` goes alone), within the default [`PushBudget`] (the reference server's
    /// default limits). `None` when nothing is pending. A local batch no push can carry is set aside on the way:
    /// see [`Store::next_push_within`].
    pub fn next_push(&self, max_events: usize) -> Result<Option<PushRequest>, SyncError> {
        Ok(self.next_push_within(max_events, usize::MAX, &PushBudget::default())?.request)
    }

    /// The next push: pending events in local position order, whole local batches at a time (a batch is never
    /// split across pushes), stopping once it holds `max_events` events or `max_batches` batches (soft targets: a
    /// single batch larger than `max_events` goes alone) and before it would exceed `budget` (hard limits).
    ///
    /// A local batch that exceeds the budget on its own can never be pushed: rather than block every event behind
    /// it, it leaves the log for the conflicts list (`EVENT_TOO_LARGE` when one of its events is over
    /// `max_event_size`, `BATCH_TOO_LARGE` when it holds more than `max_events` events or more than `max_bytes` on
    /// the wire), with this replica's later pending events in the same streams (`FOLLOWS_REJECTED`), and is
    /// returned in [`NextPush::rejected`].
    pub fn next_push_within(
        &self,
        max_events: usize,
        max_batches: usize,
        budget: &PushBudget,
    ) -> Result<NextPush, SyncError> {
        let replica_id = self.replica_id()?;
        let mut next = NextPush::default();
        loop {
            match self.with_reader(|connection| plan_push(connection, replica_id, max_events, max_batches, budget))? {
                Plan::Push { events, batches } => {
                    next.batches = batches;
                    next.request = (!events.is_empty()).then_some(PushRequest { replica_id, events });
                    return Ok(next);
                }
                Plan::SetAside(rejected) => {
                    let applied = self.reject_pending(&rejected, &HashSet::new())?;
                    if applied.rejected.is_empty() {
                        return Err(SyncError::Protocol(
                            "a pending batch over the push budget was not set aside".into(),
                        ));
                    }
                    next.rejected.extend(applied.rejected);
                    next.rewound_from = match (next.rewound_from, applied.rewound_from) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
            }
        }
    }

    /// Applies the server's answer to `request`: accepted events stay pending until the next pull confirms them in
    /// server order; rejected events, and this replica's later pending events in their streams that the server did
    /// not accept, move to the conflicts list and leave the log (the pending tail is rewritten).
    pub fn apply_push_response(
        &self,
        request: &PushRequest,
        response: &PushResponse,
    ) -> Result<PushApplied, SyncError> {
        if response.outcomes.len() != request.events.len()
            || response
                .outcomes
                .iter()
                .zip(&request.events)
                .any(|(outcome, event)| outcome.event_id() != event.event_id)
        {
            return Err(SyncError::Protocol("the push response does not answer the request event for event".into()));
        }
        let mut accepted = HashSet::new();
        let mut rejected = HashMap::new();
        for (outcome, event) in response.outcomes.iter().zip(&request.events) {
            match outcome {
                PushOutcome::Accepted { event_id, .. } => {
                    accepted.insert(*event_id);
                }
                PushOutcome::Rejected { event_id, code, actual_version, message } => {
                    rejected.insert(*event_id, (*code, *actual_version, message.clone(), event.expected.into()));
                }
            }
        }
        if rejected.is_empty() {
            return Ok(PushApplied { accepted: accepted.len(), ..PushApplied::default() });
        }
        self.reject_pending(&rejected, &accepted)
    }

    /// Moves the `rejected` pending events, and this replica's later pending events in their streams that are not
    /// `accepted`, to the conflicts list, and rewrites the pending tail without them. One transaction.
    fn reject_pending(
        &self,
        rejected: &HashMap<Uuid, Rejection>,
        accepted: &HashSet<Uuid>,
    ) -> Result<PushApplied, SyncError> {
        let applied = self.with_writer(|connection| -> Result<PushApplied, SyncError> {
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let through = confirmed_through(&transaction)?;
            let pending = load_pending(&transaction, through)?;
            let now = clock::now_millis(&transaction)?;
            let mut rejected_streams = HashSet::new();
            let mut conflicts = Vec::new();
            let mut keep = Vec::new();
            for row in pending {
                let entry = if let Some((code, actual, message, expected)) = rejected.get(&row.event.event_id) {
                    rejected_streams.insert(row.event.stream.clone());
                    Some((*code, *actual, message.clone(), *expected))
                } else if rejected_streams.contains(&row.event.stream) && !accepted.contains(&row.event.event_id) {
                    let message = "an earlier event of this replica in the same stream was rejected".to_owned();
                    Some((RejectionCode::FollowsRejected, None, message, decode_expected(row.code)))
                } else {
                    None
                };
                match entry {
                    Some((code, actual, message, expected)) => {
                        conflicts.push(record_conflict(&transaction, &row, expected, code, actual, &message, now)?);
                    }
                    None => keep.push(row),
                }
            }
            let mut projections = crate::store::lock(&self.shared.projections);
            projections.invalidate();
            let rewound_from = if conflicts.is_empty() {
                None
            } else {
                events_table::delete_after(&transaction, through)?;
                record_rewrite(&transaction, &mut projections, through)?;
                let mut writer = RowWriter::new(&transaction)?;
                let mut versions = HashMap::new();
                for row in &keep {
                    let version = next_version(&transaction, &mut versions, &row.event.stream, through)?;
                    insert_pending(&mut writer, row, version)?;
                }
                Some(through)
            };
            let failed_projections = fold_projections(&transaction, &mut projections)?;
            transaction.commit()?;
            Ok(PushApplied { accepted: accepted.len(), rejected: conflicts, rewound_from, failed_projections })
        })?;
        if applied.rewound_from.is_some() {
            self.shared.commits.wake();
        }
        Ok(applied)
    }

    /// Applies a pull: the server's events in server order become confirmed, then the remaining pending events are
    /// rebased after them, and the cursor advances. All in one transaction.
    pub fn apply_pull(&self, response: &PullResponse) -> Result<PullApplied, SyncError> {
        let applied = self.with_writer(|connection| -> Result<PullApplied, SyncError> {
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut projections = crate::store::lock(&self.shared.projections);
            projections.invalidate();
            let mut applied = apply_pull_in(&transaction, &mut projections, &response.events)?;
            applied.failed_projections = fold_projections(&transaction, &mut projections)?;
            runner::forget_confirmed_undo(&transaction)?;
            set_state(&transaction, CURSOR, &response.cursor)?;
            transaction.commit()?;
            Ok(applied)
        })?;
        if applied.applied > 0 || applied.rewound_from.is_some() {
            self.shared.commits.wake();
        }
        Ok(applied)
    }
}

/// Folds what the write transaction changed into the projections; returns those it marked failed.
fn fold_projections(connection: &Connection, projections: &mut Registry) -> Result<Vec<String>, SyncError> {
    match runner::catch_up(connection, projections, Mode::MarkFailed, None, &[]) {
        Ok(failed) => Ok(failed),
        Err(RunError::Sqlite(error)) => Err(error.into()),
        Err(RunError::Refused(refused)) => Err(SyncError::Storage(crate::error::StorageError::new(
            crate::ErrorCode::ProjectionFailed,
            refused.message,
        ))),
    }
}

fn apply_pull_in(
    connection: &Connection,
    projections: &mut Registry,
    server_events: &[ServerEvent],
) -> Result<PullApplied, SyncError> {
    let initial_through = confirmed_through(connection)?;
    let mut through = initial_through;
    let pending = load_pending(connection, through)?;
    let mut versions: HashMap<String, u64> = HashMap::new();
    let mut applied = PullApplied::default();

    // Confirm in place the longest prefix of the pending events that the server stored in the same order: the
    // common case (nobody else wrote) rewrites nothing.
    let mut matched = 0;
    let mut changed = BTreeSet::new();
    let mut first_changed = None;
    for (server, local) in server_events.iter().zip(&pending) {
        if server.event_id != local.event.event_id
            || server.version != local.event.version
            || !same_event(server, &local.event)?
        {
            break;
        }
        check_version(connection, &mut versions, server, initial_through)?;
        let data = server_data(server)?;
        // The server's copy of our event may differ in what projections see (its time, the JSON's whitespace).
        let local = &local.event;
        for (parameter, differs) in [
            (":recorded_at", server.recorded_at != local.recorded_at),
            (":data", data != local.data),
            (":metadata", server.metadata.as_ref().map(|raw| raw.get()) != local.metadata.as_deref()),
        ] {
            if differs {
                changed.insert(parameter);
                first_changed.get_or_insert(local.position);
            }
        }
        let (content_type, value) = data_params(&data);
        connection
            .prepare_cached(
                "UPDATE events SET server_position = ?1, recorded_at = ?2, content_type = ?3, data = ?4,
                                   metadata = ?5, event_type = ?6
                 WHERE position = ?7",
            )?
            .execute(params![
                clamp_i64(server.position),
                server.recorded_at,
                content_type,
                value,
                server.metadata.as_ref().map(|raw| raw.get()),
                server.event_type,
                clamp_i64(local.position),
            ])?;
        through = local.position;
        matched += 1;
    }
    if let Some(position) = first_changed {
        // Refold those events (and what follows) in the projections that read a field that changed.
        runner::rewind(connection, projections, position - 1, |uses| changed.iter().any(|name| uses.contains(*name)))?;
    }
    applied.applied = matched;
    applied.own = matched;
    let rest = &server_events[matched..];
    let pending = &pending[matched..];

    // Events confirmed by an earlier pull (a page delivered twice) are skipped: they must not trigger a rewrite.
    // An event after the highest confirmed server position cannot have been confirmed before (a first sync's pages
    // are all such): only the others are looked up. (A server that sent an event again at a higher position is
    // caught by `UNIQUE (event_id)` when it is inserted.)
    let highest_confirmed = highest_confirmed_server_position(connection)?;
    let mut fresh = Vec::with_capacity(rest.len());
    for server in rest {
        if server.position > highest_confirmed {
            fresh.push(server);
            continue;
        }
        match confirmed_server_position(connection, server.event_id)? {
            None => fresh.push(server),
            Some(existing) if existing == server.position => {}
            Some(existing) => {
                return Err(SyncError::Protocol(format!(
                    "event {} was confirmed at server position {existing}, now sent at {}",
                    server.event_id, server.position
                )));
            }
        }
    }

    // A server event whose id is one of our pending events but which is a different event: another replica used
    // the id first. Our event can never be stored: it leaves the log for the conflicts list, and so do our later
    // pending events in its stream (they were appended after it), unless the server already has them.
    let server_ids: HashMap<Uuid, &ServerEvent> = fresh.iter().map(|server| (server.event_id, *server)).collect();
    let mut conflicted = HashSet::new();
    let mut clashed_streams = HashSet::new();
    let now = clock::now_millis(connection)?;
    for row in pending {
        let entry = match server_ids.get(&row.event.event_id) {
            Some(server) if !same_event(server, &row.event)? => Some((
                RejectionCode::IdempotencyConflict,
                "another replica's event with the same id reached the server first",
            )),
            Some(_) => None,
            None if clashed_streams.contains(row.event.stream.as_str()) => Some((
                RejectionCode::FollowsRejected,
                "an earlier event of this replica in the same stream was rejected",
            )),
            None => None,
        };
        if let Some((code, message)) = entry {
            if code == RejectionCode::IdempotencyConflict {
                clashed_streams.insert(row.event.stream.as_str());
            }
            let expected = decode_expected(row.code);
            applied.rejected.push(record_conflict(connection, row, expected, code, None, message, now)?);
            conflicted.insert(row.event.event_id);
        }
    }

    if !fresh.is_empty() {
        if !pending.is_empty() {
            events_table::delete_after(connection, through)?;
            record_rewrite(connection, projections, through)?;
            applied.rewound_from = Some(through);
        }
        let mut writer = RowWriter::new(connection)?;
        let mut confirmed_ids = HashSet::new();
        // This replica's own events keep the expectation (and batch marker) they were appended with: a later log
        // reset pushes them again with it.
        let own_codes: HashMap<Uuid, i64> = pending
            .iter()
            .filter(|row| !conflicted.contains(&row.event.event_id))
            .map(|row| (row.event.event_id, row.code))
            .collect();
        for server in fresh {
            check_version(connection, &mut versions, server, initial_through)?;
            let data = server_data(server)?;
            let inserted = writer.insert(&NewRow {
                event_id: server.event_id,
                stream: &server.stream,
                version: server.version,
                event_type: &server.event_type,
                data: &data,
                metadata: server.metadata.as_ref().map(|raw| raw.get()),
                recorded_at: server.recorded_at,
                sync_expected: own_codes.get(&server.event_id).copied(),
                server_position: Some(server.position),
            });
            through = match inserted {
                Ok(position) => position,
                Err(error) if error.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) => {
                    // Pending rows were deleted above, so the id (or the server position) is a confirmed event's.
                    return Err(SyncError::Protocol(format!(
                        "event {} at server position {} is already stored as another confirmed event: {error}",
                        server.event_id, server.position
                    )));
                }
                Err(error) => return Err(error.into()),
            };
            confirmed_ids.insert(server.event_id);
            applied.applied += 1;
        }
        applied.own += pending
            .iter()
            .filter(|row| confirmed_ids.contains(&row.event.event_id) && !conflicted.contains(&row.event.event_id))
            .count();
        if applied.rewound_from.is_some() {
            let mut rebased = HashMap::new();
            let kept = pending.iter().filter(|row| {
                !confirmed_ids.contains(&row.event.event_id) && !conflicted.contains(&row.event.event_id)
            });
            for row in kept {
                let version = next_version(connection, &mut rebased, &row.event.stream, through)?;
                insert_pending(&mut writer, row, version)?;
            }
        }
    }
    set_state(connection, CONFIRMED_THROUGH, &through.to_string())?;
    applied.pending = pending_count(connection, through)?;
    Ok(applied)
}

/// Checks that a server event continues its stream's confirmed versions.
fn check_version(
    connection: &Connection,
    versions: &mut HashMap<String, u64>,
    server: &ServerEvent,
    through: u64,
) -> Result<(), SyncError> {
    let current = match versions.get(&server.stream) {
        Some(version) => *version,
        None => confirmed_version(connection, &server.stream, through)?,
    };
    if server.version != current + 1 {
        return Err(SyncError::Protocol(format!(
            "server event {} is version {} of {:?}, but the confirmed stream is at version {current}",
            server.event_id, server.version, server.stream
        )));
    }
    versions.insert(server.stream.clone(), server.version);
    Ok(())
}

fn next_version(
    connection: &Connection,
    versions: &mut HashMap<String, u64>,
    stream: &str,
    through: u64,
) -> rusqlite::Result<u64> {
    let version = match versions.get(stream) {
        Some(version) => version + 1,
        None => confirmed_version(connection, stream, through)? + 1,
    };
    versions.insert(stream.to_owned(), version);
    Ok(version)
}

fn confirmed_version(connection: &Connection, stream: &str, through: u64) -> rusqlite::Result<u64> {
    let version: Option<i64> = connection
        .prepare_cached("SELECT max(version) FROM events WHERE stream = ?1 AND position <= ?2")?
        .query_row(params![stream, clamp_i64(through)], |row| row.get(0))?;
    Ok(version.map_or(0, |v| v as u64))
}

fn highest_confirmed_server_position(connection: &Connection) -> rusqlite::Result<u64> {
    // The condition lets SQLite read the partial index's last entry instead of scanning the table.
    let position: Option<i64> = connection
        .prepare_cached("SELECT max(server_position) FROM events WHERE server_position IS NOT NULL")?
        .query_row([], |row| row.get(0))?;
    Ok(position.map_or(0, |p| p as u64))
}

fn confirmed_server_position(connection: &Connection, event_id: Uuid) -> rusqlite::Result<Option<u64>> {
    let position: Option<Option<i64>> = connection
        .prepare_cached("SELECT server_position FROM events WHERE event_id = ?1")?
        .query_row([event_id.as_bytes()], |row| row.get(0))
        .optional()?;
    Ok(position.flatten().map(|p| p as u64))
}

/// Whether a server event is `local` (same stream, type, data, content type and metadata): confirming ours, not
/// another replica's event that reused the id. JSON texts compare modulo surrounding whitespace, which the wire trims.
fn same_event(server: &ServerEvent, local: &RecordedEvent) -> Result<bool, SyncError> {
    if server.stream != local.stream || server.event_type != local.event_type {
        return Ok(false);
    }
    let same_data = match (server_data(server)?, &local.data) {
        (EventData::Json(theirs), EventData::Json(ours)) => theirs.trim() == ours.trim(),
        (theirs, ours) => theirs == *ours,
    };
    let metadata = server.metadata.as_ref().map(|raw| raw.get().trim());
    Ok(same_data && metadata == local.metadata.as_deref().map(str::trim))
}

fn server_data(server: &ServerEvent) -> Result<EventData, SyncError> {
    server.wire_data().to_event_data(0).map_err(|error| {
        SyncError::Protocol(format!("server event {} has malformed data: {}", server.event_id, error.reason))
    })
}

pub(crate) fn to_wire(event: &RecordedEvent, expected: WireExpected) -> WireEvent {
    let data = WireData::from_event_data(&event.data);
    WireEvent {
        event_id: event.event_id,
        stream: event.stream.clone(),
        event_type: event.event_type.clone(),
        expected,
        data: data.data,
        data_base64: data.data_base64,
        content_type: data.content_type,
        metadata: event
            .metadata
            .as_deref()
            .and_then(|text| serde_json::value::RawValue::from_string(text.trim().to_owned()).ok()),
    }
}

/// Chooses the next push (see [`Store::next_push_within`]), or the first local batch that no push can carry.
fn plan_push(
    connection: &Connection,
    replica_id: Uuid,
    max_events: usize,
    max_batches: usize,
    budget: &PushBudget,
) -> Result<Plan, SyncError> {
    let through = confirmed_through(connection)?;
    let envelope = serde_json::to_string(&PushRequest { replica_id, events: Vec::new() })
        .map_err(|error| SyncError::Protocol(format!("serialising a push: {error}")))?
        .len();
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS}, sync_expected FROM events WHERE position > ?1 ORDER BY position"
    ))?;
    let mut rows = statement.query([clamp_i64(through)])?;
    let mut events = Vec::new();
    let mut batches = 0;
    let mut bytes = envelope;
    let mut batch: Vec<Candidate> = Vec::new();
    let mut first = ExpectedVersion::Any;
    let mut index = 0u64;
    loop {
        let row = rows.next()?;
        let code = match row {
            Some(row) => Some(row.get::<_, Option<i64>>(9)?.unwrap_or(ANY)),
            None => None,
        };
        if code != Some(CONTINUES) && !batch.is_empty() {
            // `batch` is whole: take it, stop before it, or set it aside.
            let batch_bytes: usize = batch.iter().map(|candidate| candidate.wire_bytes).sum();
            let oversized = batch.iter().find(|candidate| candidate.size > budget.max_event_size);
            let fits = oversized.is_none()
                && events.len() + batch.len() <= budget.max_events
                && bytes + batch_bytes <= budget.max_bytes;
            if !fits && events.is_empty() {
                let (code, message) = match oversized {
                    Some(candidate) => (
                        RejectionCode::EventTooLarge,
                        format!(
                            "event {} is {} bytes, more than a push may carry ({} bytes); its local batch was set aside",
                            candidate.wire.event_id, candidate.size, budget.max_event_size
                        ),
                    ),
                    None if batch.len() > budget.max_events => (
                        RejectionCode::BatchTooLarge,
                        format!(
                            "the local batch holds {} events, more than a push may carry ({})",
                            batch.len(),
                            budget.max_events
                        ),
                    ),
                    None => (
                        RejectionCode::BatchTooLarge,
                        format!(
                            "the local batch is {} bytes as a push, more than a push may carry ({} bytes)",
                            envelope + batch_bytes,
                            budget.max_bytes
                        ),
                    ),
                };
                let rejected = batch
                    .into_iter()
                    .map(|candidate| (candidate.wire.event_id, (code, None, message.clone(), candidate.expected)))
                    .collect();
                return Ok(Plan::SetAside(rejected));
            }
            if !fits {
                break;
            }
            bytes += batch_bytes;
            batches += 1;
            events.extend(batch.drain(..).map(|candidate| candidate.wire));
            if events.len() >= max_events.max(1) || batches >= max_batches.max(1) {
                break;
            }
        }
        let (Some(row), Some(code)) = (row, code) else {
            break;
        };
        let event = event_from_row(row)?;
        let expected = if code == CONTINUES {
            index += 1;
            continued(first, index)
        } else {
            first = decode_expected(code);
            index = 0;
            first
        };
        let wire = to_wire(&event, expected.into());
        let wire_bytes = serde_json::to_string(&wire)
            .map_err(|error| SyncError::Protocol(format!("serialising a push: {error}")))?
            .len()
            + 1;
        batch.push(Candidate { wire, wire_bytes, size: event_size(&event), expected });
    }
    Ok(Plan::Push { events, batches })
}

fn load_pending(connection: &Connection, through: u64) -> rusqlite::Result<Vec<Pending>> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS}, sync_expected FROM events WHERE position > ?1 ORDER BY position"
    ))?;
    let rows = statement.query_map([clamp_i64(through)], |row| {
        Ok(Pending { event: event_from_row(row)?, code: row.get::<_, Option<i64>>(9)?.unwrap_or(ANY) })
    })?;
    rows.collect()
}

fn pending_count(connection: &Connection, through: u64) -> rusqlite::Result<usize> {
    let count: i64 = connection
        .prepare_cached("SELECT count(*) FROM events WHERE position > ?1")?
        .query_row([clamp_i64(through)], |row| row.get(0))?;
    Ok(count as usize)
}

/// Whether this store has started syncing (it has a replica id): only then can its pending events be rewritten.
pub(crate) fn sync_started(connection: &Connection) -> rusqlite::Result<bool> {
    Ok(get_state(connection, REPLICA_ID)?.is_some())
}

pub(crate) fn confirmed_through(connection: &Connection) -> rusqlite::Result<u64> {
    Ok(get_state(connection, CONFIRMED_THROUGH)?.and_then(|text| text.parse().ok()).unwrap_or(0))
}

fn get_state(connection: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    connection
        .prepare_cached("SELECT value FROM sync_state WHERE key = ?1")?
        .query_row([key], |row| row.get(0))
        .optional()
}

fn set_state(connection: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    connection
        .prepare_cached(
            "INSERT INTO sync_state (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )?
        .execute([key, value])?;
    Ok(())
}

fn parse_uuid(text: &str) -> Result<Uuid, SyncError> {
    Uuid::parse_str(text).map_err(|_| {
        SyncError::Storage(crate::error::StorageError::new(
            crate::ErrorCode::Corrupt,
            "the stored replica id is not a UUID",
        ))
    })
}

/// Records that every event after `from_position` was just deleted (to be re-inserted or dropped), and drops the
/// snapshots that covered any of them: a snapshot is only valid for the exact events it folded, and only the
/// confirmed prefix is never rewritten. Call it right after the delete, before re-inserting.
fn record_rewrite(connection: &Connection, projections: &mut Registry, from_position: u64) -> rusqlite::Result<()> {
    runner::rewind(connection, projections, from_position, |_| true)?;
    connection
        .prepare_cached("INSERT INTO sync_rewrites (from_position) VALUES (?1)")?
        .execute([clamp_i64(from_position)])?;
    connection
        .prepare_cached(
            "DELETE FROM snapshots
             WHERE version > (SELECT coalesce(max(version), 0) FROM events e WHERE e.stream = snapshots.stream)",
        )?
        .execute([])?;
    Ok(())
}

fn record_conflict(
    connection: &Connection,
    row: &Pending,
    expected: ExpectedVersion,
    code: RejectionCode,
    actual_version: Option<u64>,
    message: &str,
    now: i64,
) -> rusqlite::Result<Conflict> {
    let (content_type, data) = data_params(&row.event.data);
    connection
        .prepare_cached(
            "INSERT INTO sync_conflicts (event_id, stream, event_type, content_type, data, metadata, expected, code,
                                         actual_version, message, recorded_at, rejected_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (event_id) DO NOTHING",
        )?
        .execute(params![
            row.event.event_id.as_bytes(),
            row.event.stream,
            row.event.event_type,
            content_type,
            data,
            row.event.metadata,
            encode_expected(expected, 0),
            code.as_str(),
            actual_version.map(clamp_i64),
            message,
            row.event.recorded_at,
            now,
        ])?;
    let id: i64 = connection
        .prepare_cached("SELECT id FROM sync_conflicts WHERE event_id = ?1")?
        .query_row([row.event.event_id.as_bytes()], |r| r.get(0))?;
    Ok(Conflict {
        id: id as u64,
        event_id: row.event.event_id,
        stream: row.event.stream.clone(),
        event_type: row.event.event_type.clone(),
        data: row.event.data.clone(),
        metadata: row.event.metadata.clone(),
        expected,
        code,
        actual_version,
        message: message.to_owned(),
        recorded_at: row.event.recorded_at,
        rejected_at: now,
    })
}

fn insert_pending(writer: &mut RowWriter<'_>, row: &Pending, version: u64) -> rusqlite::Result<u64> {
    writer.insert(&NewRow {
        event_id: row.event.event_id,
        stream: &row.event.stream,
        version,
        event_type: &row.event.event_type,
        data: &row.event.data,
        metadata: row.event.metadata.as_deref(),
        recorded_at: row.event.recorded_at,
        sync_expected: Some(row.code),
        server_position: None,
    })
}

#[cfg(test)]
mod tests {
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use serde_json::json;

    use super::*;
    use crate::event::NewEvent;
    use crate::sync::server::{self, Limits};

    fn event(n: u128) -> NewEvent {
        NewEvent::json("E", &json!({ "n": n as u64 })).with_id(Uuid::from_u128(n))
    }

    fn snapshot(store: &Store) -> (Vec<RecordedEvent>, SyncStatus) {
        let log = store.read_all(&crate::ReadAllOptions::forwards()).unwrap().events;
        (log, store.sync_status().unwrap())
    }

    #[test]
    fn expectations_round_trip_through_their_encoding() {
        for expected in
            [ExpectedVersion::Any, ExpectedVersion::NoStream, ExpectedVersion::StreamExists, ExpectedVersion::Exact(7)]
        {
            assert_eq!(decode_expected(encode_expected(expected, 0)), expected);
            assert_eq!(encode_expected(expected, 1), CONTINUES);
        }
        assert_eq!(continued(ExpectedVersion::NoStream, 2), ExpectedVersion::Exact(2));
        assert_eq!(continued(ExpectedVersion::Exact(4), 2), ExpectedVersion::Exact(6));
        assert_eq!(continued(ExpectedVersion::Any, 2), ExpectedVersion::Any);
        assert_eq!(continued(ExpectedVersion::StreamExists, 2), ExpectedVersion::StreamExists);
    }

    #[test]
    fn the_replica_id_is_created_once() {
        let store = Store::open_in_memory().unwrap();
        let id = store.replica_id().unwrap();
        assert_eq!(store.replica_id().unwrap(), id);
        assert_eq!(store.sync_status().unwrap().replica_id, id);
    }

    #[test]
    fn a_push_response_that_does_not_match_its_request_changes_nothing() {
        let hub = Store::open_in_memory().unwrap();
        let store = Store::open_in_memory().unwrap();
        store.append_to_stream("a-1", &[event(1), event(2)], ExpectedVersion::NoStream).unwrap();
        let push = store.next_push(10).unwrap().unwrap();
        let mut response = server::apply_push(&hub, &push, &Limits::default()).unwrap();
        let before = snapshot(&store);
        response.outcomes.swap(0, 1);
        let error = store.apply_push_response(&push, &response).unwrap_err();
        assert_eq!(error.code(), crate::ErrorCode::SyncProtocol);
        response.outcomes.pop();
        assert!(store.apply_push_response(&push, &response).is_err());
        assert_eq!(snapshot(&store), before);
    }

    #[test]
    fn a_pull_that_skips_a_version_is_refused_and_changes_nothing() {
        let hub = Store::open_in_memory().unwrap();
        hub.append_to_stream("a-1", &[event(1), event(2), event(3)], ExpectedVersion::Any).unwrap();
        let store = Store::open_in_memory().unwrap();
        store.append_to_stream("b-1", &[event(9)], ExpectedVersion::Any).unwrap();
        let before = snapshot(&store);
        let mut page = server::read_pull(&hub, 0, 10).unwrap().into_response(|p| p.to_string());
        page.events.remove(1);
        let error = store.apply_pull(&page).unwrap_err();
        assert_eq!(error.code(), crate::ErrorCode::SyncProtocol);
        let mut corrupt = server::read_pull(&hub, 0, 10).unwrap().into_response(|p| p.to_string());
        corrupt.events[0].data_base64 = Some("!!".into());
        corrupt.events[0].content_type = Some("x/y".into());
        corrupt.events[0].data = None;
        assert_eq!(store.apply_pull(&corrupt).unwrap_err().code(), crate::ErrorCode::SyncProtocol);
        assert_eq!(snapshot(&store), before);
    }

    #[test]
    fn a_confirmed_event_sent_again_at_a_higher_server_position_is_refused_and_changes_nothing() {
        let hub = Store::open_in_memory().unwrap();
        hub.append_to_stream("a-1", &[event(1), event(2)], ExpectedVersion::Any).unwrap();
        let store = Store::open_in_memory().unwrap();
        store.apply_pull(&server::read_pull(&hub, 0, 10).unwrap().into_response(|p| p.to_string())).unwrap();
        store.append_to_stream("b-1", &[event(9)], ExpectedVersion::Any).unwrap();
        let before = snapshot(&store);
        // The server's page repeats event 1 (already confirmed at position 1) as a new event after the cursor.
        let mut page = server::read_pull(&hub, 0, 1).unwrap().into_response(|p| p.to_string());
        page.events[0].position = 3;
        page.events[0].stream = "c-1".into();
        page.events[0].version = 1;
        page.cursor = "3".into();
        let error = store.apply_pull(&page).unwrap_err();
        assert_eq!(error.code(), crate::ErrorCode::SyncProtocol, "{error}");
        assert_eq!(snapshot(&store), before);
    }

    /// Applying a page of pulled events costs the same (in SQLite VM instructions, which do not depend on the
    /// machine) on a replica that holds ten times more confirmed events.
    #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
    #[test]
    fn applying_a_pulled_page_costs_the_same_at_ten_times_the_log() {
        fn grow_to(hub: &Store, store: &Store, pulled: &mut u64, events: u64) {
            while hub.head_position().unwrap() < events {
                let batch: Vec<NewEvent> =
                    (0..100).map(|n| NewEvent::json("E", &serde_json::json!({ "n": n }))).collect();
                hub.append_to_stream("a-1", &batch, ExpectedVersion::Any).unwrap();
            }
            let page = server::read_pull(hub, *pulled, 100_000).unwrap();
            *pulled = page.through;
            store.apply_pull(&page.into_response(|p| p.to_string())).unwrap();
        }
        fn cost_of_next_page(hub: &Store, store: &Store, pulled: &mut u64) -> u64 {
            let batch: Vec<NewEvent> = (0..10).map(|n| NewEvent::json("E", &serde_json::json!({ "n": n }))).collect();
            hub.append_to_stream("b-1", &batch, ExpectedVersion::Any).unwrap();
            let page = server::read_pull(hub, *pulled, 100).unwrap();
            *pulled = page.through;
            let steps = store.with_writer(crate::vm_steps::VmSteps::start);
            store.apply_pull(&page.into_response(|p| p.to_string())).unwrap();
            store.with_writer(|connection| steps.stop(connection))
        }
        let (hub, store) = (Store::open_in_memory().unwrap(), Store::open_in_memory().unwrap());
        let mut pulled = 0;
        grow_to(&hub, &store, &mut pulled, 1_000);
        let small = cost_of_next_page(&hub, &store, &mut pulled);
        grow_to(&hub, &store, &mut pulled, 10_000);
        let large = cost_of_next_page(&hub, &store, &mut pulled);
        assert!(large <= small * 3 / 2 + 100, "{small} VM steps at 1,000 events, {large} at 10,000");
    }

    #[test]
    fn a_page_applied_twice_is_a_no_op() {
        let hub = Store::open_in_memory().unwrap();
        hub.append_to_stream("a-1", &[event(1), event(2)], ExpectedVersion::Any).unwrap();
        let store = Store::open_in_memory().unwrap();
        let page = server::read_pull(&hub, 0, 10).unwrap().into_response(|p| p.to_string());
        store.apply_pull(&page).unwrap();
        store.append_to_stream("b-1", &[event(3)], ExpectedVersion::Any).unwrap();
        let before = snapshot(&store);
        let again = store.apply_pull(&page).unwrap();
        assert_eq!((again.applied, again.rewound_from), (0, None), "no rewrite of the pending event");
        assert_eq!(snapshot(&store), before);
    }

    #[test]
    fn snapshots_over_rebased_events_are_dropped_and_confirmed_ones_kept() {
        let hub = Store::open_in_memory().unwrap();
        let store = Store::open_in_memory().unwrap();
        store.append_to_stream("a-1", &[event(1)], ExpectedVersion::Any).unwrap();
        store.append_to_stream("b-1", &[event(2)], ExpectedVersion::Any).unwrap();
        let push = store.next_push(10).unwrap().unwrap();
        let response = server::apply_push(&hub, &push, &Limits::default()).unwrap();
        store.apply_push_response(&push, &response).unwrap();
        store.apply_pull(&server::read_pull(&hub, 0, 10).unwrap().into_response(|p| p.to_string())).unwrap();
        store.save_snapshot("b-1", 1, &json!({"confirmed": true}), "v1").unwrap();
        // A pending event, folded into a snapshot, then rebased after another replica's event: the snapshot is stale.
        store.append_to_stream("a-1", &[event(3)], ExpectedVersion::Any).unwrap();
        store.save_snapshot("a-1", 2, &json!({"count": 2}), "v1").unwrap();
        hub.append_to_stream("a-1", &[event(4)], ExpectedVersion::Any).unwrap();
        store.apply_pull(&server::read_pull(&hub, 2, 10).unwrap().into_response(|p| p.to_string())).unwrap();
        assert_eq!(store.load_snapshot("a-1").unwrap(), None);
        assert_eq!(store.load_snapshot("b-1").unwrap().unwrap().version, 1);
    }

    #[test]
    fn pending_events_keep_their_order_and_versions_continue_after_a_rebase() {
        let hub = Store::open_in_memory().unwrap();
        hub.append_to_stream("a-1", &[event(1), event(2)], ExpectedVersion::Any).unwrap();
        let store = Store::open_in_memory().unwrap();
        store.append_to_stream("a-1", &[event(10), event(11)], ExpectedVersion::Any).unwrap();
        store.append_to_stream("b-1", &[event(12)], ExpectedVersion::Any).unwrap();
        let applied =
            store.apply_pull(&server::read_pull(&hub, 0, 10).unwrap().into_response(|p| p.to_string())).unwrap();
        assert_eq!((applied.applied, applied.own, applied.rewound_from, applied.pending), (2, 0, Some(0), 3));
        let log = store.read_all(&crate::ReadAllOptions::forwards()).unwrap().events;
        let shape: Vec<(u128, &str, u64)> =
            log.iter().map(|e| (e.event_id.as_u128(), e.stream.as_str(), e.version)).collect();
        assert_eq!(shape, [(1, "a-1", 1), (2, "a-1", 2), (10, "a-1", 3), (11, "a-1", 4), (12, "b-1", 1)]);
        assert!(log.windows(2).all(|w| w[0].position < w[1].position));
        assert!(log[2].position > 5, "rebased events get fresh positions, never reused ones");
        // The batch is still pushed whole with its derived expectations.
        let push = store.next_push(1).unwrap().unwrap();
        assert_eq!(push.events.len(), 2);
    }
}
