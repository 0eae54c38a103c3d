//! Live notifications: a push through the server wakes other clients' SSE streams; they pull at once, reconnect
//! with backoff after the server goes away, and resume from their cursors.

use std::time::Duration;

use eventlite::{ExpectedVersion, NewEvent, Store};
use eventlite_server::Config;
use tokio::sync::watch;

use crate::support::{TOKEN_A, TestServer, client, log, shape, sqlite_backend};

/// Waits until `store` holds `count` events.
pub async fn wait_for_events(store: &Store, count: usize, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    while log(store).len() < count {
        assert!(tokio::time::Instant::now() < deadline, "only {} of {count} events arrived", log(store).len());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_reaches_a_live_client_which_resumes_after_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let server = TestServer::start(sqlite_backend(&data)).await;
    let addr = server.addr;
    let a = client(&server, TOKEN_A, Store::open_in_memory().unwrap());
    let b = client(&server, TOKEN_A, Store::open_in_memory().unwrap());
    let (stop, stopped) = watch::channel(false);
    let follower = b.clone();
    let live = tokio::spawn(async move { follower.run_live(stopped, |_| {}).await });

    a.store().append_to_stream("todo-1", &[NewEvent::json("Added", &1)], ExpectedVersion::Any).unwrap();
    a.sync().await.unwrap();
    wait_for_events(b.store(), 1, Duration::from_secs(10)).await;
    let gauge = server.state.metrics().live_clients.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(gauge, 1, "one connected live client");

    // Graceful shutdown ends the live stream instead of waiting for it; the client backs off and reconnects to
    // the restarted server on the same port and data, then resumes from its cursor.
    server.stop().await;
    a.store().append_to_stream("todo-1", &[NewEvent::json("Added", &2)], ExpectedVersion::Any).unwrap();
    assert!(a.sync().await.unwrap_err().is_retryable(), "the server is down");
    let server = TestServer::start_on(addr, sqlite_backend(&data), Config::default()).await;
    a.sync_with_retry(10).await.unwrap();
    wait_for_events(b.store(), 2, Duration::from_secs(20)).await;
    assert_eq!(shape(&log(b.store())), shape(&log(a.store())));

    stop.send_replace(true);
    tokio::time::timeout(Duration::from_secs(5), live).await.expect("run_live stops when asked").unwrap();
    server.stop().await;
}
