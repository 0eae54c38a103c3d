//! The sync engine end to end in process: replicas, an in-memory hub store, and a model of what must hold.

use std::collections::HashSet;

use eventlite::sync::server::{self, Limits};
use eventlite::sync::{RejectionCode, SyncMode, SyncedItem};
use eventlite::{ExpectedVersion, NewEvent, ReadAllOptions, RecordedEvent, Store, SubscriptionOptions, Uuid};
use proptest::prelude::*;
use serde_json::json;

/// One full sync of `replica` against `hub`: push every pending batch, pulling after each, then pull to the head.
fn sync(replica: &Store, hub: &Store, batch: usize) -> Vec<eventlite::sync::Conflict> {
    let mut conflicts = Vec::new();
    while let Some(push) = replica.next_push(batch).unwrap() {
        let response = server::apply_push(hub, &push, &Limits::default()).unwrap();
        conflicts.extend(replica.apply_push_response(&push, &response).unwrap().rejected);
        conflicts.extend(pull(replica, hub, batch));
    }
    conflicts.extend(pull(replica, hub, batch));
    conflicts
}

/// Pulls to the hub's head; returns the pending events the pulls moved to the conflicts list.
fn pull(replica: &Store, hub: &Store, batch: usize) -> Vec<eventlite::sync::Conflict> {
    let mut conflicts = Vec::new();
    loop {
        let after = replica.pull_cursor().unwrap().map_or(0, |cursor| cursor.parse().unwrap());
        let page = server::read_pull(hub, after, batch).unwrap();
        let more = page.more();
        conflicts.extend(replica.apply_pull(&page.into_response(|p| p.to_string())).unwrap().rejected);
        if !more {
            return conflicts;
        }
    }
}

fn log(store: &Store) -> Vec<RecordedEvent> {
    store.read_all(&ReadAllOptions::forwards().max_count(100_000)).unwrap().events
}

/// What must match between a replica and the hub: id, stream, version, type, data, metadata, time.
fn shape(events: &[RecordedEvent]) -> Vec<(Uuid, String, u64, String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e.event_id,
                e.stream.clone(),
                e.version,
                e.event_type.clone(),
                format!("{:?}{:?}{}", e.data, e.metadata, e.recorded_at),
            )
        })
        .collect()
}

fn event(n: u64) -> NewEvent {
    NewEvent::json("Noted", &json!({ "n": n })).with_id(Uuid::from_u128(u128::from(n)))
}

#[test]
fn two_offline_replicas_converge_with_rebases_and_conflicts() {
    for a_first in [true, false] {
        let hub = Store::open_in_memory().unwrap();
        let (a, b) = (Store::open_in_memory().unwrap(), Store::open_in_memory().unwrap());
        // A shared starting point.
        a.append_to_stream("todo-1", &[event(1)], ExpectedVersion::NoStream).unwrap();
        sync(&a, &hub, 10);
        sync(&b, &hub, 10);
        // Offline: both append to todo-1 with Any and with Exact(1); A also adds to list-1.
        a.append_to_stream("todo-1", &[event(10)], ExpectedVersion::Any).unwrap();
        a.append_to_stream("todo-1", &[event(11)], ExpectedVersion::Exact(2)).unwrap();
        a.append_to_stream("list-1", &[event(12), event(13)], ExpectedVersion::NoStream).unwrap();
        b.append_to_stream("todo-1", &[event(20)], ExpectedVersion::Exact(1)).unwrap();
        b.append_to_stream("todo-1", &[event(21)], ExpectedVersion::Any).unwrap();
        b.append_to_stream("note-1", &[event(22)], ExpectedVersion::Any).unwrap();

        let (first, second) = if a_first { (&a, &b) } else { (&b, &a) };
        let first_conflicts = sync(first, &hub, 2);
        let second_conflicts = sync(second, &hub, 2);
        sync(first, &hub, 2);
        assert!(first_conflicts.is_empty(), "the first to sync wins: {first_conflicts:?}");
        let rejected: Vec<(u128, RejectionCode)> =
            second_conflicts.iter().map(|c| (c.event_id.as_u128(), c.code)).collect();
        if a_first {
            // B's Exact(1) lost to A's Any event; B's later event in the same stream goes with it.
            assert_eq!(rejected, [(20, RejectionCode::WrongExpectedVersion), (21, RejectionCode::FollowsRejected)]);
        } else {
            // A's Any event is rebased after B's; A's Exact(2) no longer holds, and nothing of A's follows it there.
            assert_eq!(rejected, [(11, RejectionCode::WrongExpectedVersion)]);
            assert_eq!(second_conflicts[0].actual_version, Some(4));
        }
        let hub_log = log(&hub);
        assert_eq!(shape(&log(&a)), shape(&hub_log));
        assert_eq!(shape(&log(&b)), shape(&hub_log));
        for replica in [&a, &b] {
            let status = replica.sync_status().unwrap();
            assert_eq!(status.pending, 0);
            let server_positions: Vec<u64> = hub_log.iter().map(|e| e.position).collect();
            assert_eq!(status.confirmed_through, log(replica).last().unwrap().position);
            assert_eq!(server_positions.len(), log(replica).len());
        }
        // Nothing lost or duplicated: every id is in the hub exactly once, or in a conflicts list.
        let mut ids: Vec<u128> = hub_log.iter().map(|e| e.event_id.as_u128()).collect();
        ids.extend(rejected.iter().map(|(id, _)| *id));
        ids.sort_unstable();
        assert_eq!(ids, [1, 10, 11, 12, 13, 20, 21, 22]);
        assert_eq!(second.sync_conflicts().unwrap().len(), rejected.len());
    }
}

#[test]
fn confirmed_only_subscribers_never_rewind_and_optimistic_ones_get_a_notice() {
    let hub = Store::open_in_memory().unwrap();
    let (a, b) = (Store::open_in_memory().unwrap(), Store::open_in_memory().unwrap());
    let mut confirmed = a.subscribe_synced(SyncMode::ConfirmedOnly, SubscriptionOptions::default()).unwrap();
    let mut optimistic = a.subscribe_synced(SyncMode::IncludePending, SubscriptionOptions::default()).unwrap();
    a.append_to_stream("todo-1", &[event(1)], ExpectedVersion::Any).unwrap();
    assert!(confirmed.poll().unwrap().is_empty(), "pending events are not confirmed");
    assert_eq!(optimistic.poll().unwrap().len(), 1);
    b.append_to_stream("todo-1", &[event(2)], ExpectedVersion::Any).unwrap();
    sync(&b, &hub, 10);
    sync(&a, &hub, 10);
    // A's event was rebased after B's: the optimistic subscriber is told, then sees the new log after the notice.
    let items = optimistic.poll().unwrap();
    assert_eq!(items[0], SyncedItem::Rewound { from_position: 0 });
    let ids: Vec<u128> = items[1..]
        .iter()
        .map(|item| match item {
            SyncedItem::Event(e) => e.event_id.as_u128(),
            SyncedItem::Rewound { .. } => panic!("one notice"),
        })
        .collect();
    assert_eq!(ids, [2, 1]);
    let confirmed_ids: Vec<(u128, u64)> = confirmed
        .poll()
        .unwrap()
        .into_iter()
        .map(|item| match item {
            SyncedItem::Event(e) => (e.event_id.as_u128(), e.version),
            SyncedItem::Rewound { .. } => panic!("confirmed-only subscribers are never rewound"),
        })
        .collect();
    assert_eq!(confirmed_ids, [(2, 1), (1, 2)]);
}

#[test]
fn a_replica_survives_reopening_with_its_pending_events_and_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replica.db");
    let hub = Store::open_in_memory().unwrap();
    let replica_id = {
        let a = Store::open(&path).unwrap();
        a.append_to_stream("todo-1", &[event(1), event(2)], ExpectedVersion::NoStream).unwrap();
        sync(&a, &hub, 10);
        a.append_to_stream("todo-1", &[event(3)], ExpectedVersion::Exact(2)).unwrap();
        a.replica_id().unwrap()
    };
    let a = Store::open(&path).unwrap();
    assert_eq!(a.replica_id().unwrap(), replica_id);
    let status = a.sync_status().unwrap();
    assert_eq!((status.pending, status.cursor.as_deref()), (1, Some("2")));
    let push = a.next_push(10).unwrap().unwrap();
    assert_eq!(push.events[0].expected, eventlite::sync::WireExpected::Exact(2));
    sync(&a, &hub, 10);
    assert_eq!(shape(&log(&a)), shape(&log(&hub)));
}

#[test]
fn a_local_batch_is_never_split_across_pushes_and_keeps_its_expectations() {
    let a = Store::open_in_memory().unwrap();
    a.append_to_stream("s-1", &[event(1), event(2), event(3)], ExpectedVersion::NoStream).unwrap();
    a.append_to_stream("s-1", &[event(4)], ExpectedVersion::Any).unwrap();
    let push = a.next_push(2).unwrap().unwrap();
    let expected: Vec<_> = push.events.iter().map(|e| e.expected).collect();
    use eventlite::sync::WireExpected::{Exact, NoStream};
    assert_eq!(expected, [NoStream, Exact(1), Exact(2)]);
}

#[derive(Debug, Clone)]
enum Op {
    Append { replica: usize, stream: usize, exact: bool, count: usize },
    Sync { replica: usize, batch: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, 0..3usize, any::<bool>(), 1..4usize)
            .prop_map(|(replica, stream, exact, count)| Op::Append { replica, stream, exact, count }),
        1 => (0..3usize, 1..5usize).prop_map(|(replica, batch)| Op::Sync { replica, batch }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any interleaving of offline appends and partial syncs converges: after everyone syncs twice, every replica's
    /// log equals the hub's, and every appended event is in the hub exactly once or in its replica's conflicts.
    #[test]
    fn replicas_always_converge_without_loss_or_duplicates(ops in proptest::collection::vec(op(), 1..40)) {
        let hub = Store::open_in_memory().unwrap();
        let replicas: Vec<Store> = (0..3).map(|_| Store::open_in_memory().unwrap()).collect();
        let mut appended = HashSet::new();
        let mut next = 0u64;
        for op in ops {
            match op {
                Op::Append { replica, stream, exact, count } => {
                    let store = &replicas[replica];
                    let stream = format!("s-{stream}");
                    let batch: Vec<NewEvent> = (0..count).map(|_| { next += 1; event(next) }).collect();
                    let expected = if exact {
                        ExpectedVersion::Exact(store.stream_version(&stream).unwrap())
                    } else {
                        ExpectedVersion::Any
                    };
                    store.append_to_stream(&stream, &batch, expected).unwrap();
                    appended.extend(batch.iter().map(|e| e.event_id.unwrap()));
                }
                Op::Sync { replica, batch } => {
                    sync(&replicas[replica], &hub, batch);
                }
            }
        }
        for _ in 0..2 {
            for replica in &replicas {
                sync(replica, &hub, 3);
            }
        }
        let hub_log = log(&hub);
        let mut seen = HashSet::new();
        for event in &hub_log {
            prop_assert!(seen.insert(event.event_id), "duplicate {}", event.event_id);
        }
        for replica in &replicas {
            prop_assert_eq!(shape(&log(replica)), shape(&hub_log));
            for conflict in replica.sync_conflicts().unwrap() {
                prop_assert!(seen.insert(conflict.event_id), "rejected and stored: {}", conflict.event_id);
            }
        }
        prop_assert_eq!(seen, appended);
    }
}

/// Two devices used one app-chosen idempotency key for different events. Whichever reaches the server second must
/// not have its event silently replaced by the other's when it pulls before pushing: its event goes to the
/// conflicts list as `IDEMPOTENCY_CONFLICT` (and its later events in that stream as `FOLLOWS_REJECTED`), both when
/// the pending event sits where the server's does (confirmed in place otherwise) and when it must be rebased.
#[test]
fn a_pulled_event_reusing_a_pending_events_id_sends_the_pending_one_to_the_conflicts_list() {
    let key = Uuid::from_u128(77);
    let hub = Store::open_in_memory().unwrap();
    let a = Store::open_in_memory().unwrap();
    a.append_to_stream("order-1", &[NewEvent::json("Created", &json!({"by": "a"})).with_id(key)], ExpectedVersion::Any)
        .unwrap();
    assert!(sync(&a, &hub, 10).is_empty());

    // In place: same stream, same version as the server's event.
    let in_place = Store::open_in_memory().unwrap();
    let ours = NewEvent::json("Created", &json!({"by": "b", "qty": 5})).with_id(key);
    in_place.append_to_stream("order-1", &[ours, event(1)], ExpectedVersion::Any).unwrap();
    in_place.append_to_stream("other-1", &[event(2)], ExpectedVersion::Any).unwrap();
    // Rebased: an earlier pending event comes first, and the clash is in another stream.
    let rebased = Store::open_in_memory().unwrap();
    rebased.append_to_stream("misc-1", &[event(3)], ExpectedVersion::Any).unwrap();
    rebased
        .append_to_stream(
            "order-2",
            &[NewEvent::json("Placed", &json!({"by": "c"})).with_id(key)],
            ExpectedVersion::Any,
        )
        .unwrap();
    rebased.append_to_stream("order-2", &[event(4)], ExpectedVersion::Any).unwrap();

    let page = server::read_pull(&hub, 0, 10).unwrap().into_response(|p| p.to_string());
    let pulled = [&in_place, &rebased].map(|replica| replica.apply_pull(&page).unwrap());
    for ((replica, applied), (clashing, follower)) in
        [&in_place, &rebased].into_iter().zip(pulled).zip([("order-1", 1), ("order-2", 4)])
    {
        let codes: Vec<_> =
            applied.rejected.iter().map(|c| (c.event_id.as_u128(), c.code, c.stream.as_str())).collect();
        assert_eq!(
            codes,
            [(77, RejectionCode::IdempotencyConflict, clashing), (follower, RejectionCode::FollowsRejected, clashing)]
        );
        assert_eq!((applied.applied, applied.own, applied.pending), (1, 0, 1));
        assert_eq!(replica.sync_conflicts().unwrap(), applied.rejected, "reported and kept alike");
        assert_ne!(applied.rejected[0].data, log(&a)[0].data, "the conflict keeps this replica's own event");
        assert_eq!(log(replica)[0].data, log(&a)[0].data, "the server's event is applied");
    }
    // The unrelated pending events survive and sync; everyone converges.
    for replica in [&in_place, &rebased, &a, &in_place] {
        assert!(sync(replica, &hub, 10).is_empty());
    }
    for replica in [&in_place, &rebased, &a] {
        assert_eq!(shape(&log(replica)), shape(&log(&hub)));
        assert_eq!(replica.sync_status().unwrap().pending, 0);
    }
    assert_eq!(log(&hub).len(), 3);
}

/// Pushes are cut at whole local batches within the budget (events, bytes on the wire, bytes per event); a batch
/// that exceeds the budget on its own can never be pushed, so it goes to the conflicts list (with this replica's
/// later events in its stream) instead of blocking the queue behind it.
#[test]
fn pushes_stay_within_the_budget_and_batches_over_it_are_set_aside() {
    use eventlite::sync::PushBudget;
    let hub = Store::open_in_memory().unwrap();
    let store = Store::open_in_memory().unwrap();
    let text = |n: u64, len: usize| NewEvent::json("Noted", &"x".repeat(len)).with_id(Uuid::from_u128(u128::from(n)));
    store.append_to_stream("a-1", &[event(1), event(2), event(3)], ExpectedVersion::NoStream).unwrap();
    store.append_to_stream("b-1", &[event(4)], ExpectedVersion::Any).unwrap();
    store.append_to_stream("c-1", &[text(5, 300)], ExpectedVersion::Any).unwrap();
    store.append_to_stream("a-1", &[event(6)], ExpectedVersion::Any).unwrap();
    store.append_to_stream("d-1", &[event(7)], ExpectedVersion::Any).unwrap();
    let budget = PushBudget { max_events: 2, max_bytes: 1 << 20, max_event_size: 200 };

    let next = store.next_push_within(100, usize::MAX, &budget).unwrap();
    let rejected: Vec<_> = next.rejected.iter().map(|c| (c.event_id.as_u128(), c.code)).collect();
    assert_eq!(
        rejected,
        [
            (1, RejectionCode::BatchTooLarge),
            (2, RejectionCode::BatchTooLarge),
            (3, RejectionCode::BatchTooLarge),
            (6, RejectionCode::FollowsRejected)
        ]
    );
    assert_eq!(next.rewound_from, Some(0));
    let push = next.request.unwrap();
    let ids: Vec<_> = push.events.iter().map(|e| e.event_id.as_u128()).collect();
    assert_eq!((ids, next.batches), (vec![4], 1), "stops before the oversized event's batch");
    store.apply_push_response(&push, &server::apply_push(&hub, &push, &Limits::default()).unwrap()).unwrap();
    pull(&store, &hub, 10);

    let next = store.next_push_within(100, usize::MAX, &budget).unwrap();
    let rejected: Vec<_> = next.rejected.iter().map(|c| (c.event_id.as_u128(), c.code)).collect();
    assert_eq!(rejected, [(5, RejectionCode::EventTooLarge)]);
    assert_eq!(next.request.unwrap().events.iter().map(|e| e.event_id.as_u128()).collect::<Vec<_>>(), [7]);
    assert_eq!(store.sync_conflicts().unwrap().len(), 5, "every set-aside event is kept for the application");

    // Bytes: each push as sent stays within max_bytes; a batch over it alone is set aside.
    let bytes = Store::open_in_memory().unwrap();
    for n in 10..16 {
        bytes.append_to_stream(&format!("e-{n}"), &[text(n, 100)], ExpectedVersion::Any).unwrap();
    }
    bytes.append_to_stream("f-1", &[text(16, 100), text(17, 100), text(18, 100)], ExpectedVersion::Any).unwrap();
    let budget = PushBudget { max_events: 1_000, max_bytes: 500, max_event_size: 1 << 20 };
    let mut pushed = Vec::new();
    loop {
        let next = bytes.next_push_within(100, usize::MAX, &budget).unwrap();
        for conflict in &next.rejected {
            assert_eq!(conflict.code, RejectionCode::BatchTooLarge);
            pushed.push((conflict.event_id.as_u128(), false));
        }
        let Some(push) = next.request else { break };
        assert!(serde_json::to_vec(&push).unwrap().len() <= 500);
        assert!(push.events.len() >= 2, "as many whole batches as fit");
        pushed.extend(push.events.iter().map(|e| (e.event_id.as_u128(), true)));
        bytes.apply_push_response(&push, &server::apply_push(&hub, &push, &Limits::default()).unwrap()).unwrap();
        pull(&bytes, &hub, 100);
    }
    let expected: Vec<_> = (10..16).map(|n| (n, true)).chain((16..19).map(|n| (n, false))).collect();
    assert_eq!(pushed, expected);
    assert_eq!(bytes.sync_status().unwrap().pending, 0);
}

/// A hub with a log identity in its cursors (`<log>:<position>`), answering pushes and pulls with a cursor from
/// another log with `LOG_RESET`.
struct Hub {
    log: &'static str,
    store: Store,
}

impl Hub {
    /// Runs one round of `replica` against this hub through core's round driver.
    fn round(&self, replica: &Store) -> eventlite::sync::SyncReport {
        use eventlite::sync::{RoundSettings, SyncMessage, SyncRound, SyncStep};
        let mut round = SyncRound::new(RoundSettings { batch_size: 7, ..RoundSettings::default() });
        loop {
            let request = match round.next_step(replica).unwrap() {
                SyncStep::Done(report) => return report,
                SyncStep::Send(request) => request,
            };
            let (status, body) = match &request.message {
                SyncMessage::Push { after: Some(cursor), .. } if !cursor.starts_with(&format!("{}:", self.log)) => {
                    (410, Ok(br#"{"code":"LOG_RESET","message":"x"}"#.to_vec()))
                }
                SyncMessage::Push { push, .. } => {
                    (200, serde_json::to_vec(&server::apply_push(&self.store, push, &Limits::default()).unwrap()))
                }
                SyncMessage::Pull { after, limit } => match after.as_deref().map(|c| c.split_once(':').unwrap()) {
                    Some((log, _)) if log != self.log => (410, Ok(br#"{"code":"LOG_RESET","message":"x"}"#.to_vec())),
                    cursor => {
                        let after = cursor.map_or(0, |(_, position)| position.parse().unwrap());
                        let page = server::read_pull(&self.store, after, *limit).unwrap();
                        (200, serde_json::to_vec(&page.into_response(|p| format!("{}:{p}", self.log))))
                    }
                },
            };
            round.on_response(replica, status, &body.unwrap()).unwrap();
        }
    }
}

/// The server's data is restored from an older backup (a new log identity): devices detect it on their next pull,
/// start over without losing anything, and refill the server with the events the backup lacked.
#[test]
fn devices_recover_from_a_server_restored_from_an_older_backup_and_refill_it() {
    let old = Hub { log: "old", store: Store::open_in_memory().unwrap() };
    let (a, b) = (Store::open_in_memory().unwrap(), Store::open_in_memory().unwrap());
    a.append_to_stream("todo-1", &[event(1), event(2)], ExpectedVersion::NoStream).unwrap();
    old.round(&a);
    old.round(&b);
    b.append_to_stream("todo-1", &[event(3)], ExpectedVersion::Exact(2)).unwrap();
    b.append_to_stream("list-1", &[event(4)], ExpectedVersion::Any).unwrap();
    old.round(&b);
    old.round(&a);
    assert_eq!(shape(&log(&a)), shape(&log(&old.store)));
    // The backup was taken after a's first push only; then b appends offline, a appends more.
    let restored = Hub { log: "restored", store: Store::open_in_memory().unwrap() };
    let backup = server::read_pull(&old.store, 0, 2).unwrap().into_response(|p| p.to_string());
    let replay = eventlite::sync::PushRequest {
        replica_id: Uuid::from_u128(9),
        events: backup
            .events
            .iter()
            .map(|e| eventlite::sync::WireEvent {
                event_id: e.event_id,
                stream: e.stream.clone(),
                event_type: e.event_type.clone(),
                expected: eventlite::sync::WireExpected::Any,
                data: e.data.clone(),
                data_base64: None,
                content_type: None,
                metadata: None,
            })
            .collect(),
    };
    server::apply_push(&restored.store, &replay, &Limits::default()).unwrap();
    b.append_to_stream("todo-1", &[event(5)], ExpectedVersion::Exact(3)).unwrap();

    let mut confirmed = a.subscribe_synced(SyncMode::ConfirmedOnly, SubscriptionOptions::default()).unwrap();
    let seen = confirmed.poll().unwrap();
    assert!(seen.iter().all(|item| matches!(item, SyncedItem::Event(_))) && seen.len() == 4);

    let report = restored.round(&b);
    assert!(report.log_reset, "b noticed the reset on its first pull");
    assert_eq!(b.sync_status().unwrap().log_resets, 1);
    assert!(
        report.conflicts.is_empty(),
        "b re-offered events 3, 4 and 5 with their expectations: {:?}",
        report.conflicts
    );
    let report = restored.round(&a);
    assert!(report.log_reset && report.conflicts.is_empty());
    // A confirmed-only subscriber is told the confirmed prefix was rebuilt, then reads it again.
    let items = confirmed.poll().unwrap();
    assert_eq!(items.first(), Some(&SyncedItem::Rewound { from_position: 0 }), "{items:?}");
    restored.round(&b);
    let ids = |store: &Store| log(store).iter().map(|e| e.event_id.as_u128()).collect::<HashSet<_>>();
    assert_eq!(ids(&restored.store), (1..=5).collect(), "the devices refilled the restored server");
    assert_eq!(shape(&log(&a)), shape(&log(&restored.store)));
    assert_eq!(shape(&log(&b)), shape(&log(&restored.store)));
    assert_eq!((a.sync_status().unwrap().pending, b.sync_status().unwrap().pending), (0, 0));
    // A second round against the same log is an ordinary one.
    assert!(!restored.round(&a).log_reset);
}

/// This replica's events confirmed after another replica's (the rebase path) keep the expectation they were appended
/// with: a later log reset pushes them again with it, so a restored server judges them as the first one did.
#[test]
fn own_events_confirmed_after_a_rebase_are_pushed_again_with_their_expectation_after_a_reset() {
    let old = Hub { log: "old", store: Store::open_in_memory().unwrap() };
    let (a, b, d) =
        (Store::open_in_memory().unwrap(), Store::open_in_memory().unwrap(), Store::open_in_memory().unwrap());
    b.append_to_stream("x-1", &[event(1)], ExpectedVersion::Any).unwrap();
    old.round(&b);
    a.append_to_stream("s-1", &[event(2), event(3)], ExpectedVersion::NoStream).unwrap();
    let report = old.round(&a);
    assert_eq!((report.conflicts.len(), report.pulled), (0, 3), "a's batch was confirmed after b's event");
    let restored = Hub { log: "restored", store: Store::open_in_memory().unwrap() };
    d.append_to_stream("s-1", &[event(4)], ExpectedVersion::NoStream).unwrap();
    restored.round(&d);
    let report = restored.round(&a);
    assert!(report.log_reset);
    let codes: Vec<(u128, RejectionCode)> =
        report.conflicts.iter().map(|conflict| (conflict.event_id.as_u128(), conflict.code)).collect();
    assert_eq!(
        codes,
        [(2, RejectionCode::WrongExpectedVersion), (3, RejectionCode::FollowsRejected)],
        "a's NoStream batch meets d's stream on the restored server"
    );
}
