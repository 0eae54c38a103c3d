//! Two native clients, offline then syncing in both orders, converge to the server's log: through the axum
//! server, and through the Durable Object backend (`server/edge/`, `scripts/test-edge.sh`).

use eventlite::sync::RejectionCode;
use eventlite::{ExpectedVersion, NewEvent, Store, Uuid};
use serde_json::json;

use eventlite_client::SyncClient;

#[cfg(feature = "edge-tests")]
use crate::support::EdgeServer;
use crate::support::{TOKEN_A, TestServer, client, log, server_log_at, server_shape, shape, sqlite_backend};

fn event(n: u128) -> NewEvent {
    NewEvent::json("Noted", &json!({ "n": n as u64 })).with_id(Uuid::from_u128(n))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_offline_clients_converge_in_both_orders() {
    for a_first in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::start(sqlite_backend(&dir.path().join("server"))).await;
        converge(&server.url(), TOKEN_A, a_first, dir.path()).await;
        server.stop().await;
    }
}

/// The same two clients through the Durable Object backend, each order with a tenant (an empty log) of its own.
#[cfg(feature = "edge-tests")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_offline_clients_converge_in_both_orders_through_the_edge() {
    for a_first in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let edge = EdgeServer::fresh();
        converge(&edge.url, &edge.token, a_first, dir.path()).await;
    }
}

/// Client A and B (stores in `dir`) against the server at `url` as the tenant of `token`, whose log starts empty:
/// they write the same stream offline, with conflicts, and converge to the server's log.
async fn converge(url: &str, token: &str, a_first: bool, dir: &std::path::Path) {
    let a = SyncClient::new(url, token, Store::open(dir.join("a.db")).unwrap()).with_batch_size(50);
    let b = SyncClient::new(url, token, Store::open(dir.join("b.db")).unwrap()).with_batch_size(50);

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

    let server_events = server_log_at(url, token).await;
    assert_eq!(shape(&log(a.store())), server_shape(&server_events));
    assert_eq!(shape(&log(b.store())), server_shape(&server_events));
    let mut ids: Vec<u128> = server_events.iter().map(|e| e.event_id.as_u128()).collect();
    ids.extend(rejected.iter().map(|(id, _)| *id));
    ids.sort_unstable();
    assert_eq!(ids, [1, 10, 11, 12, 13, 20, 21, 22], "nothing lost, nothing duplicated");
    assert_eq!(second.store().sync_conflicts().unwrap().len(), rejected.len());
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
