//! Two native clients, offline then syncing in both orders, converge to the server's log.

use eventlite::sync::RejectionCode;
use eventlite::{ExpectedVersion, NewEvent, Store, Uuid};
use serde_json::json;

use crate::support::{TOKEN_A, TestServer, client, log, server_log, server_shape, shape, sqlite_backend};

fn event(n: u128) -> NewEvent {
    NewEvent::json("Noted", &json!({ "n": n as u64 })).with_id(Uuid::from_u128(n))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_offline_clients_converge_in_both_orders() {
    for a_first in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::start(sqlite_backend(&dir.path().join("server"))).await;
        let a = client(&server, TOKEN_A, Store::open(dir.path().join("a.db")).unwrap());
        let b = client(&server, TOKEN_A, Store::open(dir.path().join("b.db")).unwrap());

        a.store().append_to_stream("todo-1", &[event(1)], ExpectedVersion::NoStream).unwrap();
        a.sync().await.unwrap();
        b.sync().await.unwrap();
        assert_eq!(shape(&log(b.store())), shape(&log(a.store())));

        // Offline: both append to the same stream, with Any and with Exact; each also writes a stream of its own.
        a.store().append_to_stream("todo-1", &[event(10)], ExpectedVersion::Any).unwrap();
        a.store().append_to_stream("todo-1", &[event(11)], ExpectedVersion::Exact(2)).unwrap();
        a.store().append_to_stream("list-a", &[event(12), event(13)], ExpectedVersion::NoStream).unwrap();
        b.store().append_to_stream("todo-1", &[event(20)], ExpectedVersion::Exact(1)).unwrap();
        b.store().append_to_stream("todo-1", &[event(21)], ExpectedVersion::Any).unwrap();
        b.store().append_to_stream("list-b", &[event(22)], ExpectedVersion::Any).unwrap();

        let (first, second) = if a_first { (&a, &b) } else { (&b, &a) };
        let first_report = first.sync().await.unwrap();
        let second_report = second.sync().await.unwrap();
        first.sync().await.unwrap();
        assert!(first_report.conflicts.is_empty());
        let rejected: Vec<(u128, RejectionCode)> =
            second_report.conflicts.iter().map(|c| (c.event_id.as_u128(), c.code)).collect();
        if a_first {
            assert_eq!(rejected, [(20, RejectionCode::WrongExpectedVersion), (21, RejectionCode::FollowsRejected)]);
        } else {
            assert_eq!(rejected, [(11, RejectionCode::WrongExpectedVersion)]);
            // A's Any event was rebased after B's two events: version 4 instead of 2.
            let rebased = log(a.store()).into_iter().find(|e| e.event_id.as_u128() == 10).unwrap();
            assert_eq!(rebased.version, 4);
        }
        assert!(second_report.rewound_from.is_some(), "the second client's pending events were rebased");

        let server_events = server_log(&server, TOKEN_A).await;
        assert_eq!(shape(&log(a.store())), server_shape(&server_events));
        assert_eq!(shape(&log(b.store())), server_shape(&server_events));
        let mut ids: Vec<u128> = server_events.iter().map(|e| e.event_id.as_u128()).collect();
        ids.extend(rejected.iter().map(|(id, _)| *id));
        ids.sort_unstable();
        assert_eq!(ids, [1, 10, 11, 12, 13, 20, 21, 22], "nothing lost, nothing duplicated");
        assert_eq!(second.store().sync_conflicts().unwrap().len(), rejected.len());
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_are_reported_to_the_callback() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(sqlite_backend(dir.path())).await;
    let reported = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&reported);
    let a = client(&server, TOKEN_A, Store::open_in_memory().unwrap());
    let b = client(&server, TOKEN_A, Store::open_in_memory().unwrap())
        .on_conflict(move |conflict| sink.lock().unwrap().push(conflict.event_id));
    a.store().append_to_stream("doc-1", &[event(1)], ExpectedVersion::NoStream).unwrap();
    b.store().append_to_stream("doc-1", &[event(2)], ExpectedVersion::NoStream).unwrap();
    a.sync().await.unwrap();
    b.sync().await.unwrap();
    assert_eq!(*reported.lock().unwrap(), [Uuid::from_u128(2)]);
    assert_eq!(shape(&log(b.store())), shape(&log(a.store())));
    server.stop().await;
}
