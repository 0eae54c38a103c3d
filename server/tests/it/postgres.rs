//! PostgreSQL: concurrent pushers never make a puller skip an event; two server processes on one database wake
//! each other's live clients through LISTEN/NOTIFY.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use eventlite::sync::{PushRequest, WireEvent};
use eventlite::{ExpectedVersion, NewEvent, Store};
use eventlite_client::SyncClient;
use eventlite_server::Config;
use futures_util::FutureExt;
use serde_json::json;
use tokio::sync::watch;
use uuid::Uuid;

use crate::live::wait_for_events;
use crate::support::{PgSchema, ServerProcess, TOKEN_A, TestServer, log, postgres_url, shape};

const PUSHERS: usize = 8;
const BATCHES: usize = 30;
const BATCH: usize = 25;

async fn with_schema<F, Fut>(test: F)
where
    F: FnOnce(Arc<PgSchema>) -> Fut,
    Fut: Future<Output = ()>,
{
    let schema = Arc::new(PgSchema::create().await);
    let result = std::panic::AssertUnwindSafe(test(Arc::clone(&schema))).catch_unwind().await;
    Arc::try_unwrap(schema).ok().expect("the test released the schema").drop().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pushers_through_two_servers_never_make_a_puller_skip_an_event() {
    with_schema(|schema| async move {
        let first = TestServer::start(schema.backend.clone()).await;
        let second = TestServer::start(schema.connect_again().await).await;
        concurrent_pushers_and_a_puller(&first.url(), &second.url()).await;
        first.stop().await;
        second.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pushers_never_make_a_puller_skip_an_event_on_sqlite_either() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(crate::support::sqlite_backend(dir.path())).await;
    concurrent_pushers_and_a_puller(&server.url(), &server.url()).await;
    server.stop().await;
}

/// `PUSHERS` clients push concurrently, alternating between two servers, while one client pulls from the second and
/// checks that positions only increase and that it saw every pushed event exactly once.
async fn concurrent_pushers_and_a_puller(first: &str, second: &str) {
    let total = PUSHERS * BATCHES * BATCH;
    let puller = SyncClient::new(second, TOKEN_A, Store::open_in_memory().unwrap()).with_batch_size(1_000);
    let pull = tokio::spawn(async move {
        let mut seen = HashSet::new();
        let mut cursor: Option<String> = None;
        let mut last = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while seen.len() < total {
            assert!(tokio::time::Instant::now() < deadline, "pulled {} of {total}", seen.len());
            let page = puller.get_pull(cursor.as_deref()).await.unwrap();
            for event in &page.events {
                assert!(event.position > last, "position {} after {last}", event.position);
                last = event.position;
                assert!(seen.insert(event.event_id), "{} delivered twice", event.event_id);
            }
            cursor = Some(page.cursor);
            if page.events.is_empty() {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        seen
    });
    let mut pushers = Vec::new();
    for pusher in 0..PUSHERS {
        let url = if pusher % 2 == 0 { first.to_owned() } else { second.to_owned() };
        pushers.push(tokio::spawn(async move {
            let client = SyncClient::new(&url, TOKEN_A, Store::open_in_memory().unwrap());
            let mut ids = Vec::new();
            for batch in 0..BATCHES {
                let events: Vec<WireEvent> = (0..BATCH)
                    .map(|i| {
                        let id = Uuid::now_v7();
                        ids.push(id);
                        serde_json::from_value(json!({
                            "event_id": id, "stream": format!("s-{}", (pusher + batch + i) % 5),
                            "type": "Pushed", "expected": "any", "data": {"pusher": pusher}
                        }))
                        .unwrap()
                    })
                    .collect();
                let request = PushRequest { replica_id: Uuid::from_u128(pusher as u128), events };
                client.post_push(&request).await.unwrap();
            }
            ids
        }));
    }
    let mut pushed = HashSet::new();
    for pusher in pushers {
        pushed.extend(pusher.await.unwrap());
    }
    let seen = tokio::time::timeout(Duration::from_secs(150), pull).await.expect("puller finished").unwrap();
    assert_eq!(pushed.len(), total);
    assert_eq!(seen, pushed, "the puller saw every event exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_through_one_server_process_is_seen_live_through_another() {
    with_schema(|schema| async move {
        let pg = ["--postgres", &postgres_url(), "--postgres-schema", &schema.name];
        let one = ServerProcess::spawn(&pg, &[]);
        let two = ServerProcess::spawn(&pg, &[]);
        one.wait_healthy().await;
        two.wait_healthy().await;
        let a = SyncClient::new(&one.url, TOKEN_A, Store::open_in_memory().unwrap());
        let b = SyncClient::new(&two.url, TOKEN_A, Store::open_in_memory().unwrap());
        let (stop, stopped) = watch::channel(false);
        let follower = b.clone();
        let live = tokio::spawn(async move { follower.run_live(stopped, |_| {}).await });
        // Let B's live stream connect before A pushes, so only a notification can bring the event.
        tokio::time::sleep(Duration::from_millis(300)).await;
        for n in 1..=3 {
            a.store().append_to_stream("todo-1", &[NewEvent::json("Added", &n)], ExpectedVersion::Any).unwrap();
            a.sync().await.unwrap();
            wait_for_events(b.store(), n, Duration::from_secs(10)).await;
        }
        assert_eq!(shape(&log(b.store())), shape(&log(a.store())));
        // Graceful shutdown with B's live stream still open on server two.
        two.terminate();
        one.terminate();
        stop.send_replace(true);
        live.await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_converge_through_postgres() {
    with_schema(|schema| async move {
        let server = TestServer::start_with(schema.backend.clone(), Config::default()).await;
        let a = SyncClient::new(&server.url(), TOKEN_A, Store::open_in_memory().unwrap());
        let b = SyncClient::new(&server.url(), TOKEN_A, Store::open_in_memory().unwrap());
        a.store().append_to_stream("doc-1", &[NewEvent::json("A", &1)], ExpectedVersion::NoStream).unwrap();
        b.store().append_to_stream("doc-1", &[NewEvent::json("B", &1)], ExpectedVersion::NoStream).unwrap();
        b.store().append_to_stream("doc-2", &[NewEvent::json("B", &2)], ExpectedVersion::Any).unwrap();
        a.sync().await.unwrap();
        let report = b.sync().await.unwrap();
        a.sync().await.unwrap();
        assert_eq!(report.conflicts.len(), 1);
        assert_eq!(shape(&log(a.store())), shape(&log(b.store())));
        assert_eq!(log(a.store()).len(), 2);
        server.stop().await;
    })
    .await;
}
