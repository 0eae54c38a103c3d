//! The client against a small HTTP/1.1 fake whose answers come from core's server side (`eventlite::sync::server`),
//! with failures injected by the test.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventlite::sync::server::{self, Limits};
use eventlite::{ExpectedVersion, NewEvent, ReadAllOptions, Store};
use eventlite_client::{ClientError, SyncClient};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// The fake server: one log; the first `failures` requests are answered 503; a push of more than `max_batch`
/// events is answered 413.
pub(crate) struct Fake {
    pub(crate) hub: Store,
    failures: AtomicUsize,
    max_batch: usize,
    requests: Mutex<Vec<String>>,
}

pub(crate) async fn start(failures: usize, max_batch: usize) -> (String, Arc<Fake>) {
    let fake = Fake::new(failures, max_batch);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let shared = fake.clone();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::spawn(shared.clone().serve(socket));
        }
    });
    (url, fake)
}

impl Fake {
    pub(crate) fn new(failures: usize, max_batch: usize) -> Arc<Fake> {
        Arc::new(Fake {
            hub: Store::open_in_memory().unwrap(),
            failures: AtomicUsize::new(failures),
            max_batch,
            requests: Mutex::new(Vec::new()),
        })
    }

    /// Answers HTTP/1.1 requests on one connection (plain TCP, or TLS in `tls.rs`) until the client closes it.
    pub(crate) async fn serve(self: Arc<Fake>, socket: impl AsyncRead + AsyncWrite + Unpin) {
        let (read, mut write) = tokio::io::split(socket);
        let mut reader = BufReader::new(read);
        loop {
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                return;
            }
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).await.unwrap();
                if header == "\r\n" {
                    break;
                }
                if let Some(value) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).await.unwrap();
            let (status, answer) = self.answer(request_line.trim(), &body);
            let response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                answer.len()
            );
            write.write_all(response.as_bytes()).await.unwrap();
        }
    }

    fn answer(&self, request_line: &str, body: &[u8]) -> (u16, String) {
        self.requests.lock().unwrap().push(request_line.to_owned());
        if self.failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return (503, r#"{"code":"STORAGE_UNAVAILABLE","message":"try later"}"#.into());
        }
        let path = request_line.split_whitespace().nth(1).unwrap();
        if path.starts_with("/v1/push") {
            let push: eventlite::sync::PushRequest = serde_json::from_slice(body).unwrap();
            if push.events.len() > self.max_batch {
                return (413, r#"{"code":"BATCH_TOO_LARGE","message":"too many events"}"#.into());
            }
            let response = server::apply_push(&self.hub, &push, &Limits::default()).unwrap();
            return (200, serde_json::to_string(&response).unwrap());
        }
        let after = path.split("after=").nth(1).map_or(0, |cursor| cursor.parse().unwrap());
        let page = server::read_pull(&self.hub, after, 100).unwrap();
        (200, serde_json::to_string(&page.into_response(|position| position.to_string())).unwrap())
    }

    fn pushes(&self) -> usize {
        self.requests.lock().unwrap().iter().filter(|line| line.starts_with("POST")).count()
    }
}

pub(crate) fn device_with(stream: &str, events: usize, expected: ExpectedVersion) -> Store {
    let store = Store::open_in_memory().unwrap();
    for n in 0..events {
        let expected = if n == 0 { expected } else { ExpectedVersion::Any };
        store.append_to_stream(stream, &[NewEvent::json("Noted", &n)], expected).unwrap();
    }
    store
}

pub(crate) fn log(store: &Store) -> Vec<(eventlite::Uuid, u64)> {
    let events = store.read_all(&ReadAllOptions::forwards()).unwrap().events;
    events.into_iter().map(|event| (event.event_id, event.version)).collect()
}

#[tokio::test]
async fn two_devices_converge_and_the_loser_hears_of_its_conflict() {
    let (url, fake) = start(0, 1_000).await;
    let a = device_with("todo-1", 3, ExpectedVersion::NoStream);
    let b = device_with("todo-1", 2, ExpectedVersion::NoStream);
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = heard.clone();
    let report = SyncClient::new(&url, "t", a.clone()).sync().await.unwrap();
    assert_eq!((report.pushed, report.pulled, report.conflicts.len()), (3, 3, 0));
    let report = SyncClient::new(&url, "t", b.clone())
        .on_conflict(move |conflict| sink.lock().unwrap().push(conflict.code))
        .sync()
        .await
        .unwrap();
    assert_eq!(report.conflicts.len(), 2, "b's NoStream batch lost, with the event after it");
    assert_eq!(heard.lock().unwrap().len(), 2, "the handler heard each conflict");
    SyncClient::new(&url, "t", a.clone()).sync().await.unwrap();
    assert_eq!(log(&a), log(&b));
    assert_eq!(log(&a), log(&fake.hub));
}

#[tokio::test]
async fn unavailable_servers_are_retried_with_backoff_and_nothing_is_lost() {
    let (url, fake) = start(2, 1_000).await;
    let device = device_with("todo-1", 2, ExpectedVersion::Any);
    let client = SyncClient::new(&url, "t", device.clone());
    let error = client.sync().await.unwrap_err();
    assert_eq!((error.code(), error.is_retryable()), ("STORAGE_UNAVAILABLE", true));
    let report = client.sync_with_retry(3).await.unwrap();
    assert_eq!(report.pushed, 2);
    assert_eq!(device.sync_status().unwrap().pending, 0);
    assert_eq!(log(&fake.hub).len(), 2);
}

#[tokio::test]
async fn a_push_refused_as_too_large_goes_as_smaller_pushes() {
    let (url, fake) = start(0, 2).await;
    let device = Store::open_in_memory().unwrap();
    for n in 0..5 {
        device.append_to_stream(&format!("todo-{n}"), &[NewEvent::json("Noted", &n)], ExpectedVersion::Any).unwrap();
    }
    let report = SyncClient::new(&url, "t", device.clone()).sync().await.unwrap();
    assert_eq!((report.pulled, report.conflicts.len()), (5, 0));
    assert!(fake.pushes() >= 4, "one refused push of 5, then pushes of at most 2: {}", fake.pushes());
}

#[tokio::test]
async fn a_refused_connection_is_a_retryable_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = SyncClient::new(&url, "t", device_with("a-1", 1, ExpectedVersion::Any))
        .with_timeouts(Duration::from_secs(2), SyncClient::LIVE_GAP);
    let error = client.sync().await.unwrap_err();
    assert!(matches!(error, ClientError::Transport(_)) && error.is_retryable(), "{error:?}");
    assert_eq!(client.store().sync_status().unwrap().pending, 1, "nothing was lost");
}

#[tokio::test]
async fn a_request_that_cannot_be_made_is_an_invalid_argument_not_a_network_error() {
    for (url, token) in [("localhost:8080", "t"), ("htp://127.0.0.1:9", "t"), ("http://127.0.0.1:9", "bad\ntoken")] {
        let client = SyncClient::new(url, token, device_with("a-1", 1, ExpectedVersion::Any));
        let error = client.sync_with_retry(5).await.unwrap_err();
        assert_eq!((error.code(), error.is_retryable()), ("INVALID_ARGUMENT", false), "{url:?} {token:?}: {error}");
        assert_eq!(client.store().sync_status().unwrap().pending, 1);
    }
}
