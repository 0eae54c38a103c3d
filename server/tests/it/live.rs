//! Live notifications: a push through the server wakes other clients' SSE streams; they pull at once, reconnect
//! with backoff after the server goes away, and resume from their cursors. A connection that goes silent, or a
//! request that never answers, is a transport error; a failure retrying cannot fix is surfaced.

use std::time::Duration;

use eventlite::{ExpectedVersion, NewEvent, Store};
use eventlite_client::{ClientError, SyncClient};
use eventlite_server::Config;
use futures_util::StreamExt;
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

/// How the fake server below answers pulls.
#[derive(Clone, Copy)]
enum Pulls {
    /// An empty page.
    Empty,
    /// Never: the request hangs.
    Hang,
    /// `400 INVALID_CURSOR`: retrying cannot help.
    Refuse,
}

/// A server whose live endpoint sends one `head` event and then never another byte (a connection that died
/// without a FIN, or a proxy holding it), and whose pulls answer as `pulls` says. Reports each request on the
/// channel: "live" or "pull".
async fn silent_server(pulls: Pulls) -> (String, tokio::sync::mpsc::UnboundedReceiver<&'static str>) {
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::get;

    let (seen, requests) = tokio::sync::mpsc::unbounded_channel();
    let on_live = seen.clone();
    let router = axum::Router::new()
        .route(
            "/v1/live",
            get(move || {
                let _ = on_live.send("live");
                let head = axum::body::Bytes::from_static(b"event: head\ndata: {\"cursor\":\"0\",\"position\":0}\n\n");
                let body = futures_util::stream::once(async move { Ok::<_, std::io::Error>(head) })
                    .chain(futures_util::stream::pending());
                async move { ([("content-type", "text/event-stream")], Body::from_stream(body)) }
            }),
        )
        .route(
            "/v1/pull",
            get(move || {
                let _ = seen.send("pull");
                async move {
                    match pulls {
                        Pulls::Empty => {
                            axum::Json(serde_json::json!({"events": [], "cursor": "0", "more": false})).into_response()
                        }
                        Pulls::Hang => std::future::pending().await,
                        Pulls::Refuse => (
                            StatusCode::BAD_REQUEST,
                            axum::Json(serde_json::json!({"code": "INVALID_CURSOR", "message": "reset"})),
                        )
                            .into_response(),
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, requests)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_that_never_answers_fails_as_a_retryable_transport_error() {
    let (url, _requests) = silent_server(Pulls::Hang).await;
    let client = SyncClient::new(&url, TOKEN_A, Store::open_in_memory().unwrap())
        .with_timeouts(Duration::from_millis(200), SyncClient::LIVE_GAP);
    let error = client.sync().await.unwrap_err();
    assert!(matches!(error, ClientError::Transport(_)) && error.is_retryable(), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_live_stream_is_treated_as_dead_and_reconnected() {
    let (url, mut requests) = silent_server(Pulls::Empty).await;
    let (errors, mut reported) = tokio::sync::mpsc::unbounded_channel();
    let client = SyncClient::new(&url, TOKEN_A, Store::open_in_memory().unwrap())
        .with_timeouts(SyncClient::REQUEST_TIMEOUT, Duration::from_millis(200))
        .on_live_error(move |error| {
            let _ = errors.send(error.to_string());
        });
    let (stop, stopped) = watch::channel(false);
    let live = tokio::spawn(async move { client.run_live(stopped, |_| {}).await });
    // Connect, sync on the head event, then silence: the client gives the connection up and connects again.
    let mut connections = 0;
    while connections < 2 {
        if requests.recv().await.unwrap() == "live" {
            connections += 1;
        }
    }
    let error = reported.recv().await.unwrap();
    assert!(error.contains("silent"), "{error}");
    stop.send_replace(true);
    live.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_sync_failure_that_retrying_cannot_fix_is_surfaced() {
    let (url, _requests) = silent_server(Pulls::Refuse).await;
    let (errors, mut reported) = tokio::sync::mpsc::unbounded_channel();
    let client = SyncClient::new(&url, TOKEN_A, Store::open_in_memory().unwrap()).on_live_error(move |error| {
        let _ = errors.send((error.is_retryable(), error.to_string()));
    });
    let (stop, stopped) = watch::channel(false);
    let live = tokio::spawn(async move { client.run_live(stopped, |_| {}).await });
    let (retryable, message) = reported.recv().await.unwrap();
    assert!(!retryable && message.contains("INVALID_CURSOR"), "{message}");
    // The client now waits the longest backoff before reconnecting; stopping still ends it at once.
    stop.send_replace(true);
    live.await.unwrap();
}

/// The per-tenant live-stream limit of the servers [`dropped_live_streams_free_their_slots_at_once`] runs against
/// (`--max-live-per-tenant`; the edge's is `EVENTLITE_MAX_LIVE_PER_TENANT`, see `scripts/test-edge.sh`).
pub const SMALL_MAX_LIVE: usize = 3;

/// A live stream of the server at `url`, on a connection of its own: its status and, while it is held, its body.
async fn open_live(url: &str, token: &str) -> (reqwest::StatusCode, reqwest::Response) {
    let http = crate::support::http_builder().pool_max_idle_per_host(0).build().unwrap();
    let response = tokio::time::timeout(
        Duration::from_secs(5),
        http.get(format!("{url}/v1/live")).header("authorization", format!("Bearer {token}")).send(),
    )
    .await
    .expect("the live stream's head arrives at once")
    .unwrap();
    (response.status(), response)
}

/// A tenant with [`SMALL_MAX_LIVE`] streams open gets `429 TOO_MANY_LIVE_STREAMS`; once the clients drop them, a
/// new stream is let in within 2 s. `HEAD /v1/live` answers at once, with the stream's head, and holds no slot.
pub async fn dropped_live_streams_free_their_slots_at_once(url: &str, token: &str) {
    let mut streams = Vec::new();
    for _ in 0..SMALL_MAX_LIVE {
        let (status, mut response) = open_live(url, token).await;
        assert_eq!(status, reqwest::StatusCode::OK);
        // The first frame (in one chunk or several): the stream is open and counted.
        let mut first = Vec::new();
        while !first.ends_with(b"\n\n") {
            let chunk = tokio::time::timeout(Duration::from_secs(5), response.chunk()).await.unwrap().unwrap();
            first.extend_from_slice(&chunk.expect("the stream ended before its first frame"));
        }
        assert_eq!(String::from_utf8_lossy(&first), "event: head\ndata: {\"position\":0}\n\n");
        streams.push(response);
    }
    let (status, response) = open_live(url, token).await;
    assert_eq!(status, reqwest::StatusCode::TOO_MANY_REQUESTS);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["code"], "TOO_MANY_LIVE_STREAMS", "{body}");
    drop(streams);
    let dropped = tokio::time::Instant::now();
    let mut held = Vec::new();
    loop {
        let (status, response) = open_live(url, token).await;
        if status == reqwest::StatusCode::OK {
            held.push(response);
            break;
        }
        assert_eq!(status, reqwest::StatusCode::TOO_MANY_REQUESTS);
        assert!(dropped.elapsed() < Duration::from_secs(2), "no slot was freed within 2 s of the clients leaving");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // HEAD: the head at once, and no slot held afterwards.
    let http = crate::support::http();
    for _ in 0..SMALL_MAX_LIVE {
        let head = tokio::time::timeout(
            Duration::from_secs(2),
            http.head(format!("{url}/v1/live")).header("authorization", format!("Bearer {token}")).send(),
        )
        .await
        .expect("HEAD /v1/live answers at once")
        .unwrap();
        assert_eq!(head.status(), reqwest::StatusCode::OK);
        assert_eq!(head.headers()["content-type"], "text/event-stream");
    }
    for _ in 1..SMALL_MAX_LIVE {
        let (status, response) = open_live(url, token).await;
        assert_eq!(status, reqwest::StatusCode::OK, "a HEAD held a slot");
        held.push(response);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_live_streams_free_their_slots_at_once_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config { max_live_per_tenant: SMALL_MAX_LIVE, ..Config::default() };
    let server = TestServer::start_with(sqlite_backend(dir.path()), config).await;
    dropped_live_streams_free_their_slots_at_once(&server.url(), TOKEN_A).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_live_streams_free_their_slots_at_once_on_postgres() {
    crate::support::on_postgres(|backend| async move {
        let config = Config { max_live_per_tenant: SMALL_MAX_LIVE, ..Config::default() };
        let server = TestServer::start_with(backend, config).await;
        dropped_live_streams_free_their_slots_at_once(&server.url(), TOKEN_A).await;
        server.stop().await;
    })
    .await;
}
