//! The server's resources under hostile or heavy clients: idle and half-sent connections, the connection bound, live
//! streams per tenant and past their token's expiry, memory under concurrent pulls of large events.

use std::net::SocketAddr;
use std::time::Duration;

use eventlite::{ExpectedVersion, NewEvent, Store};
use eventlite_client::SyncClient;
use eventlite_server::Config;
use eventlite_server::auth::mint_jwt;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{JWT_SECRET, ServerProcess, TOKEN_A, TOKEN_B, TestServer, http, sqlite_backend};

async fn connections(addr: SocketAddr, count: usize, first_bytes: &[u8]) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(count);
    for _ in 0..count {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        if !first_bytes.is_empty() {
            stream.write_all(first_bytes).await.unwrap();
        }
        streams.push(stream);
    }
    streams
}

/// Reads until the server closes the connection (or resets it); panics if it stays open for `within`.
async fn read_until_closed(mut stream: TcpStream, within: Duration) -> Vec<u8> {
    let mut received = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut received)).await {
        Ok(_) => received,
        Err(_) => panic!("the server kept the connection open for {within:?}"),
    }
}

fn now_seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// Item 1: 300 silent connections, 60 with half a request head and 40 with half a push body, against a server whose
/// open-file limit is 256 (a default machine's is 1,024): a real client is still served, and the server closes
/// every one of them (the half-sent bodies with a JSON 408).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_sent_connections_neither_starve_a_real_client_nor_stay_open() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let server = ServerProcess::spawn_with_open_file_limit(
        256,
        &["--data-dir", data.to_str().unwrap(), "--header-timeout", "1", "--body-timeout", "1", "--idle-timeout", "5"],
        &[],
    );
    server.wait_healthy().await;
    let addr = server.addr();
    let silent = connections(addr, 300, b"").await;
    let half_head = connections(addr, 60, b"GET /v1/pull HTTP/1.1\r\nHost: x\r\nAuthorization: Bea").await;
    let push_head = format!(
        "POST /v1/push HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN_A}\r\nContent-Type: application/json\r\n\
         Content-Length: 1000\r\n\r\n{{\"replica_id\":"
    );
    let half_body = connections(addr, 40, push_head.as_bytes()).await;

    let store = Store::open_in_memory().unwrap();
    store.append_to_stream("todo-1", &[NewEvent::json("Added", &"milk")], ExpectedVersion::NoStream).unwrap();
    let client = SyncClient::new(&server.url, TOKEN_A, store.clone());
    let report = tokio::time::timeout(Duration::from_secs(30), client.sync())
        .await
        .expect("a real client is served within 30 s while 400 idle or half-sent connections are open")
        .unwrap();
    assert_eq!((report.pushed, report.pulled), (1, 1));

    let closing: Vec<_> = silent
        .into_iter()
        .chain(half_head)
        .map(|stream| tokio::spawn(read_until_closed(stream, Duration::from_secs(30))))
        .collect();
    for closed in closing {
        let answer = closed.await.unwrap();
        assert!(answer.is_empty(), "a connection without a whole head is closed without an answer");
    }
    for stream in half_body {
        let answer = String::from_utf8(read_until_closed(stream, Duration::from_secs(30)).await).unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(body["code"], "REQUEST_TIMEOUT", "{answer}");
    }
    let health = http().get(format!("{}/health", server.url)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    server.terminate();
}

/// Item 1: connections beyond `max_connections` wait (in the listen backlog) and are served once one closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_bound_wait_until_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config { max_connections: 2, header_timeout: Duration::from_secs(60), ..Config::default() };
    let server = TestServer::start_with(sqlite_backend(dir.path()), config).await;
    let held = connections(server.addr, 2, b"").await;
    let health = tokio::spawn(http().get(format!("{}/health", server.url())).send());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!health.is_finished(), "a third connection was served while two were open and the bound is 2");
    drop(held);
    let response = tokio::time::timeout(Duration::from_secs(10), health).await.expect("served once one closed");
    assert_eq!(response.unwrap().unwrap().status(), 200);
    server.stop().await;
}

/// Item 1: live streams are bounded per tenant (429 `TOO_MANY_LIVE_STREAMS`, JSON), other tenants unaffected, and a
/// closed stream frees its slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_streams_are_bounded_per_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config { max_live_per_tenant: 2, idle_timeout: Duration::from_secs(3), ..Config::default() };
    let server = TestServer::start_with(sqlite_backend(dir.path()), config).await;
    let http = http();
    let open = |token: &'static str| http.get(format!("{}/v1/live", server.url())).bearer_auth(token).send();
    let first = open(TOKEN_A).await.unwrap();
    let second = open(TOKEN_A).await.unwrap();
    assert_eq!((first.status().as_u16(), second.status().as_u16()), (200, 200));
    let refused = open(TOKEN_A).await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["content-type"], "application/json");
    let body: Value = serde_json::from_slice(&refused.bytes().await.unwrap()).unwrap();
    assert_eq!(body["code"], "TOO_MANY_LIVE_STREAMS", "{body}");
    let other_tenant = open(TOKEN_B).await.unwrap();
    assert_eq!(other_tenant.status(), 200);
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let again = open(TOKEN_A).await.unwrap();
        if again.status() == 200 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the closed stream's slot was never freed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop((second, other_tenant));
    server.stop().await;
}

/// All tenants' live streams together leave a quarter of the connection bound to short requests: with 8
/// connections, the seventh live stream is refused and `/health` is still answered (a review found two tenants'
/// devices could take every slot).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_streams_of_all_tenants_leave_room_for_short_requests() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config { max_connections: 8, idle_timeout: Duration::from_secs(3), ..Config::default() };
    let server = TestServer::start_with(sqlite_backend(dir.path()), config).await;
    let http = http();
    let open = |token: &'static str| http.get(format!("{}/v1/live", server.url())).bearer_auth(token).send();
    let mut streams = Vec::new();
    for token in [TOKEN_A, TOKEN_B, TOKEN_A, TOKEN_B, TOKEN_A, TOKEN_B] {
        let stream = open(token).await.unwrap();
        assert_eq!(stream.status(), 200);
        streams.push(stream);
    }
    let refused = open(TOKEN_A).await.unwrap();
    assert_eq!(refused.status(), 429);
    let body: Value = serde_json::from_slice(&refused.bytes().await.unwrap()).unwrap();
    assert_eq!(body["code"], "TOO_MANY_LIVE_STREAMS", "{body}");
    let health = tokio::time::timeout(Duration::from_secs(5), http.get(format!("{}/health", server.url())).send())
        .await
        .expect("/health is answered while the live streams are at their bound")
        .unwrap();
    assert_eq!(health.status(), 200);
    drop(streams);
    server.stop().await;
}

/// Item 9: a live stream opened with a JWT ends when the token expires (not before), and a stream opened with a
/// static token is not ended by that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_stream_ends_when_its_jwt_expires() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config { idle_timeout: Duration::from_secs(3), ..Config::default() };
    let server = TestServer::start_with(sqlite_backend(dir.path()), config).await;
    let exp = now_seconds() + 2;
    let jwt = mint_jwt(JWT_SECRET, "acme", Some(exp));
    let http = http();
    let response = http.get(format!("{}/v1/live", server.url())).bearer_auth(&jwt).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut frames = response.bytes_stream();
    let first = frames.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: head"));
    let static_stream = http.get(format!("{}/v1/live", server.url())).bearer_auth(TOKEN_A).send().await.unwrap();
    let mut static_frames = static_stream.bytes_stream();
    let ended =
        tokio::time::timeout(Duration::from_secs(15), async { while let Some(Ok(_)) = frames.next().await {} }).await;
    assert!(ended.is_ok(), "the live stream outlived its token's exp by more than 13 s");
    assert!(now_seconds() >= exp, "the stream ended before its token expired");
    // The static token's stream is still open: its keep-alives keep coming.
    let keep_alive = tokio::time::timeout(Duration::from_secs(5), static_frames.next()).await;
    assert!(matches!(keep_alive, Ok(Some(Ok(_)))), "{keep_alive:?}");
    let refused = http.get(format!("{}/v1/live", server.url())).bearer_auth(&jwt).send().await.unwrap();
    assert_eq!(refused.status(), 401, "an expired token cannot reconnect");
    drop(static_frames);
    server.stop().await;
}

/// A JWT whose `exp` is too far away to be an instant (a review found it panicked the connection): the live stream
/// opens and stays open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_stream_with_a_far_future_exp_opens() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(sqlite_backend(dir.path()), Config::default()).await;
    let jwt = mint_jwt(JWT_SECRET, "acme", Some(10_000_000_000_000_000_000));
    let response = http().get(format!("{}/v1/live", server.url())).bearer_auth(&jwt).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let first = response.bytes_stream().next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: head"));
    server.stop().await;
}

/// Item 2: 60 events of 1 MiB, pulled by six clients at once from a server process: every page stays within the
/// byte budget (4 MiB by default; one event per page at least), and the server's peak memory grows by far less
/// than the 60 MB each pull would have held in one page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pulls_of_large_events_keep_pages_and_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let server = ServerProcess::spawn(&["--data-dir", data.to_str().unwrap()], &[]);
    server.wait_healthy().await;
    let http = http();
    let payload = "x".repeat(1024 * 1024 - 100);
    for batch in 0..6u128 {
        let events: Vec<Value> = (0..10u128)
            .map(|n| {
                json!({"event_id": uuid::Uuid::from_u128(batch * 10 + n + 1), "stream": "blob-1", "type": "Blob",
                       "expected": "any", "data": payload})
            })
            .collect();
        let body = json!({"replica_id": uuid::Uuid::from_u128(9), "events": events});
        let response = http
            .post(format!("{}/v1/push", server.url))
            .bearer_auth(TOKEN_A)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }
    let before_pulls = server.rss_kib();
    let pullers: Vec<_> = (0..6)
        .map(|_| {
            let (http, url) = (http.clone(), server.url.clone());
            tokio::spawn(async move {
                let (mut after, mut events, mut pages) = (String::new(), 0, 0);
                loop {
                    let response =
                        http.get(format!("{url}/v1/pull?after={after}")).bearer_auth(TOKEN_A).send().await.unwrap();
                    assert_eq!(response.status(), 200);
                    let bytes = response.bytes().await.unwrap();
                    let page: Value = serde_json::from_slice(&bytes).unwrap();
                    let count = page["events"].as_array().unwrap().len();
                    assert!((1..=4).contains(&count) || !page["more"].as_bool().unwrap(), "{count} events");
                    assert!(bytes.len() <= 4 * 1024 * 1024 + 64 * 1024, "a page of {} bytes", bytes.len());
                    events += count;
                    pages += 1;
                    after = page["cursor"].as_str().unwrap().to_owned();
                    if !page["more"].as_bool().unwrap() {
                        return (events, pages);
                    }
                }
            })
        })
        .collect();
    for puller in pullers {
        let (events, pages) = puller.await.unwrap();
        assert_eq!(events, 60);
        assert!(pages >= 15, "{pages} pages");
    }
    let growth_mib = server.peak_rss_kib().saturating_sub(before_pulls) / 1024;
    eprintln!("peak memory growth during six concurrent pulls of 60 x 1 MiB: {growth_mib} MiB");
    assert!(growth_mib < 300, "the server's peak memory grew by {growth_mib} MiB during six concurrent pulls");
    server.terminate();
}
