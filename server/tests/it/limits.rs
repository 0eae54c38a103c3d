//! The server's push limits never wedge a client: pushes stay within them (or shrink until they do), and a local
//! batch no push can carry goes to the conflicts list with a clear code instead of blocking the events behind it.

use eventlite::sync::server::Limits;
use eventlite::sync::{PushBudget, RejectionCode};
use eventlite::{ExpectedVersion, NewEvent, Store};
use eventlite_client::SyncClient;
use eventlite_server::Config;

use crate::support::{TOKEN_A, TestServer, server_log, sqlite_backend};

fn codes(report: &eventlite_client::SyncReport) -> Vec<(String, RejectionCode)> {
    report.conflicts.iter().map(|conflict| (conflict.stream.clone(), conflict.code)).collect()
}

/// 20 local batches of 100 KB each, 2 MB in all, against a server taking 1 MiB per request while the client
/// assumes the default 16 MiB: the refused push is retried as smaller ones and everything gets through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_shrink_below_a_lower_server_body_limit_and_sync_completes() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config { max_body_bytes: 1024 * 1024, ..Config::default() };
    let server = TestServer::start_with(sqlite_backend(dir.path()), config).await;
    let store = Store::open_in_memory().unwrap();
    for n in 0..20 {
        let event = NewEvent::json("T", &"x".repeat(100_000));
        store.append_to_stream(&format!("s-{n}"), &[event], ExpectedVersion::Any).unwrap();
    }
    let client = SyncClient::new(&server.url(), TOKEN_A, store.clone());
    let report = client.sync_with_retry(3).await;
    let on_server = server_log(&server, TOKEN_A).await.len();
    server.stop().await;
    let report = report.unwrap();
    assert_eq!((report.conflicts.len(), report.pushed, on_server), (0, 20, 20));
    assert_eq!(store.sync_status().unwrap().pending, 0);
}

/// A local batch of 1,001 events (the server takes 1,000 per push) is set aside as BATCH_TOO_LARGE, with the
/// replica's later event in its stream (FOLLOWS_REJECTED); the event in another stream behind it syncs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_batch_over_the_server_batch_limit_goes_to_the_conflicts_list_and_the_rest_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(sqlite_backend(dir.path())).await;
    let store = Store::open_in_memory().unwrap();
    let events: Vec<NewEvent> = (0..1001).map(|n| NewEvent::json("T", &n)).collect();
    store.append_to_stream("s-1", &events, ExpectedVersion::Any).unwrap();
    store.append_to_stream("s-1", &[NewEvent::json("T", &"after")], ExpectedVersion::Any).unwrap();
    store.append_to_stream("s-2", &[NewEvent::json("T", &1)], ExpectedVersion::Any).unwrap();
    let client = SyncClient::new(&server.url(), TOKEN_A, store.clone());
    let report = client.sync_with_retry(3).await;
    let on_server = server_log(&server, TOKEN_A).await;
    server.stop().await;
    let report = report.unwrap();
    let mut expected = vec![("s-1".to_owned(), RejectionCode::BatchTooLarge); 1001];
    expected.push(("s-1".to_owned(), RejectionCode::FollowsRejected));
    assert_eq!(codes(&report), expected);
    assert_eq!(store.sync_conflicts().unwrap().len(), 1002);
    assert_eq!(on_server.iter().map(|event| event.stream.as_str()).collect::<Vec<_>>(), ["s-2"]);
    assert_eq!(store.sync_status().unwrap().pending, 0);
}

/// A server whose per-event limit is lower than the client was told: the push is narrowed down to the local batch
/// holding the big event, which is set aside with the server's code; everything else syncs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_over_a_lower_server_event_limit_is_set_aside_with_the_servers_code() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config { limits: Limits { max_batch: 1_000, max_event_size: 1024 }, ..Config::default() };
    let server = TestServer::start_with(sqlite_backend(dir.path()), config).await;
    let store = Store::open_in_memory().unwrap();
    for n in 0..6 {
        let size = if n == 3 { 4096 } else { 10 };
        store
            .append_to_stream(&format!("s-{n}"), &[NewEvent::json("T", &"x".repeat(size))], ExpectedVersion::Any)
            .unwrap();
    }
    // Told the real limits, the client sets the batch aside without asking the server.
    let told = Store::open_in_memory().unwrap();
    told.append_to_stream("s-9", &[NewEvent::json("T", &"x".repeat(4096))], ExpectedVersion::Any).unwrap();
    let budget = PushBudget { max_event_size: 1024, ..PushBudget::default() };
    let told_report = SyncClient::new(&server.url(), TOKEN_A, told).with_server_limits(budget).sync().await;
    let report = SyncClient::new(&server.url(), TOKEN_A, store.clone()).sync_with_retry(3).await;
    let on_server = server_log(&server, TOKEN_A).await.len();
    server.stop().await;
    assert_eq!(codes(&told_report.unwrap()), [("s-9".to_owned(), RejectionCode::EventTooLarge)]);
    assert_eq!(codes(&report.unwrap()), [("s-3".to_owned(), RejectionCode::EventTooLarge)]);
    assert_eq!((on_server, store.sync_status().unwrap().pending), (5, 0));
}
