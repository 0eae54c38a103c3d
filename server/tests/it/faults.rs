//! Network faults between a client and the server, injected by a TCP proxy: a request cut mid-push, a response
//! lost after the server committed, a response cut mid-pull, duplicate pushes, a server restart. The client
//! retries; at the end every replica equals the server, with no event lost or duplicated.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventlite::{ExpectedVersion, NewEvent, Store};
use eventlite_client::SyncClient;
use eventlite_server::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{TOKEN_A, TestServer, log, server_log, server_shape, shape, sqlite_backend};

/// What the proxy does to one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Forward the first `n` bytes of the request, then close both sides.
    CutRequestAfter(usize),
    /// Forward the whole request; close the client's side as the response starts (the server has committed).
    DropResponse,
    /// Forward `n` bytes of the response, then close.
    CutResponseAfter(usize),
}

#[derive(Clone)]
struct FaultProxy {
    addr: SocketAddr,
    faults: Arc<Mutex<VecDeque<Fault>>>,
    injected: Arc<Mutex<Vec<Fault>>>,
}

impl FaultProxy {
    async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy =
            FaultProxy { addr: listener.local_addr().unwrap(), faults: Arc::default(), injected: Arc::default() };
        let shared = proxy.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let fault = shared.faults.lock().unwrap().pop_front();
                if let Some(fault) = fault {
                    shared.injected.lock().unwrap().push(fault);
                }
                tokio::spawn(relay(client, upstream, fault));
            }
        });
        proxy
    }

    fn inject(&self, faults: &[Fault]) {
        self.faults.lock().unwrap().extend(faults.iter().copied());
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn relay(client: TcpStream, upstream: SocketAddr, fault: Option<Fault>) {
    let Ok(server) = TcpStream::connect(upstream).await else { return };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let request_limit = match fault {
        Some(Fault::CutRequestAfter(n)) => n,
        _ => usize::MAX,
    };
    let response_limit = match fault {
        // A cut connection is cut both ways: the client sees no answer (the server may answer the half request).
        Some(Fault::DropResponse | Fault::CutRequestAfter(_)) => 0,
        Some(Fault::CutResponseAfter(n)) => n,
        _ => usize::MAX,
    };
    let upstream_task = tokio::spawn(async move {
        let mut sent = 0;
        let mut buffer = vec![0; 16 * 1024];
        loop {
            let n = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let take = n.min(request_limit - sent);
            if server_write.write_all(&buffer[..take]).await.is_err() {
                break;
            }
            sent += take;
            if sent >= request_limit {
                break;
            }
        }
        let _ = server_write.shutdown().await;
    });
    let mut forwarded = 0;
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let n = match server_read.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let take = n.min(response_limit - forwarded);
        if take > 0 && client_write.write_all(&buffer[..take]).await.is_err() {
            break;
        }
        forwarded += take;
        if forwarded >= response_limit {
            break;
        }
    }
    upstream_task.abort();
    let _ = client_write.shutdown().await;
}

/// A client that opens a new connection for every request, so each injected fault hits one request.
fn faulty_client(proxy: &FaultProxy, store: Store) -> SyncClient {
    let http =
        crate::support::http_builder().pool_max_idle_per_host(0).timeout(Duration::from_secs(5)).build().unwrap();
    SyncClient::new(&proxy.url(), TOKEN_A, store).with_http_client(http).with_batch_size(20)
}

fn append_some(store: &Store, from: u64, count: u64) {
    for n in from..from + count {
        let stream = format!("item-{}", n % 4);
        let expected = if n % 3 == 0 {
            ExpectedVersion::Exact(store.stream_version(&stream).unwrap())
        } else {
            ExpectedVersion::Any
        };
        let batch: Vec<NewEvent> = (0..1 + n % 3).map(|i| NewEvent::json("Changed", &(n * 10 + i))).collect();
        store.append_to_stream(&stream, &batch, expected).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cuts_lost_responses_duplicates_and_restarts_lose_and_duplicate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let server = TestServer::start(sqlite_backend(&data)).await;
    let addr = server.addr;
    let proxy = FaultProxy::start(addr).await;
    let a = faulty_client(&proxy, Store::open(dir.path().join("a.db")).unwrap());
    let b = SyncClient::new(&server.url(), TOKEN_A, Store::open(dir.path().join("b.db")).unwrap());

    append_some(a.store(), 0, 30);
    b.store().append_to_stream("note-b", &[NewEvent::json("FromB", &1)], ExpectedVersion::Any).unwrap();
    b.sync().await.unwrap();
    let schedules: [&[Fault]; 4] = [
        &[Fault::CutRequestAfter(300)],                              // mid-push: nothing stored
        &[Fault::DropResponse],                                      // push committed, answer lost
        &[Fault::CutResponseAfter(700), Fault::CutRequestAfter(40)], // mid-pull, then a cut request line
        &[Fault::DropResponse, Fault::DropResponse, Fault::CutResponseAfter(50)],
    ];
    for (round, faults) in schedules.iter().enumerate() {
        proxy.inject(faults);
        // A fault may outlast a sync that needed fewer requests than expected: sync until each one was hit.
        while !proxy.faults.lock().unwrap().is_empty() {
            let report = a.sync_with_retry(20).await.unwrap();
            assert!(report.conflicts.is_empty(), "round {round}: {:?}", report.conflicts);
        }
        append_some(a.store(), 100 * (round as u64 + 1), 10);
    }
    assert_eq!(proxy.injected.lock().unwrap().len(), 7, "every fault was injected");

    // A duplicate push of already-stored events changes nothing.
    let stored = log(a.store());
    let replay: Vec<_> = stored.iter().take(5).map(|e| e.event_id).collect();
    let request = eventlite::sync::PushRequest {
        replica_id: a.store().replica_id().unwrap(),
        events: server_log(&server, TOKEN_A)
            .await
            .into_iter()
            .filter(|e| replay.contains(&e.event_id))
            .map(|e| {
                serde_json::from_value(serde_json::json!({
                    "event_id": e.event_id, "stream": e.stream, "type": e.event_type, "expected": "any",
                    "data": e.data, "metadata": e.metadata
                }))
                .unwrap()
            })
            .collect(),
    };
    let answer = a.post_push(&request).await.unwrap();
    assert!(
        answer.outcomes.iter().all(|o| matches!(o, eventlite::sync::PushOutcome::Accepted { duplicate: true, .. }))
    );

    let duplicates = server.state.metrics().events_duplicate.load(std::sync::atomic::Ordering::Relaxed);
    assert!(duplicates > 5, "pushes whose answers were lost were retried and recognised: {duplicates}");

    // The server restarts (same data); the client's retries ride it out.
    server.stop().await;
    append_some(a.store(), 900, 5);
    assert!(a.sync().await.unwrap_err().is_retryable());
    let server = TestServer::start_on(addr, sqlite_backend(&data), Config::default()).await;
    a.sync_with_retry(20).await.unwrap();
    b.sync().await.unwrap();

    let server_events = server_log(&server, TOKEN_A).await;
    assert_eq!(shape(&log(a.store())), server_shape(&server_events));
    assert_eq!(shape(&log(b.store())), server_shape(&server_events));
    let appended_by_a: usize = log(a.store()).iter().filter(|e| e.event_type == "Changed").count();
    let expected_a: u64 = (0..30)
        .chain(100..110)
        .chain(200..210)
        .chain(300..310)
        .chain(400..410)
        .chain(900..905)
        .map(|n| 1 + n % 3)
        .sum();
    assert_eq!(appended_by_a as u64, expected_a, "every acknowledged local event reached the server once");
    let ids: std::collections::HashSet<_> = server_events.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), server_events.len(), "no duplicate on the server");
    assert_eq!(a.store().sync_status().unwrap().pending, 0);
    server.stop().await;
}

/// A small deterministic generator, so a failing schedule can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_appends_syncs_and_faults_converge_without_loss_or_duplicates() {
    let mut conflicts = 0;
    for seed in 1..=4u64 {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed);
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::start(sqlite_backend(&dir.path().join("server"))).await;
        let proxy = FaultProxy::start(server.addr).await;
        let clients: Vec<SyncClient> =
            (0..3).map(|i| faulty_client(&proxy, Store::open(dir.path().join(format!("{i}.db"))).unwrap())).collect();
        let mut appended = std::collections::HashSet::new();
        for _ in 0..40 {
            let client = &clients[rng.below(3) as usize];
            match rng.below(4) {
                0..=2 => {
                    let stream = format!("s-{}", rng.below(3));
                    let current = client.store().stream_version(&stream).unwrap();
                    let expected = match rng.below(3) {
                        0 => ExpectedVersion::Any,
                        1 => ExpectedVersion::Exact(current),
                        _ if current == 0 => ExpectedVersion::NoStream,
                        _ => ExpectedVersion::StreamExists,
                    };
                    let batch: Vec<NewEvent> = (0..1 + rng.below(3)).map(|n| NewEvent::json("E", &n)).collect();
                    client.store().append_to_stream(&stream, &batch, expected).unwrap();
                    appended.extend(batch.iter().map(|e| e.event_id.unwrap()));
                }
                _ => {
                    let faults = [
                        Fault::CutRequestAfter(100 + rng.below(400) as usize),
                        Fault::DropResponse,
                        Fault::CutResponseAfter(50 + rng.below(500) as usize),
                    ];
                    proxy.inject(&[faults[rng.below(3) as usize]]);
                    client.sync_with_retry(20).await.unwrap();
                }
            }
        }
        proxy.faults.lock().unwrap().clear();
        for _ in 0..2 {
            for client in &clients {
                client.sync_with_retry(20).await.unwrap();
            }
        }
        let server_events = server_log(&server, TOKEN_A).await;
        let mut seen = std::collections::HashSet::new();
        for event in &server_events {
            assert!(seen.insert(event.event_id), "seed {seed}: {} stored twice", event.event_id);
        }
        for client in &clients {
            assert_eq!(shape(&log(client.store())), server_shape(&server_events), "seed {seed}");
            for conflict in client.store().sync_conflicts().unwrap() {
                assert!(seen.insert(conflict.event_id), "seed {seed}: {} both stored and rejected", conflict.event_id);
                conflicts += 1;
            }
        }
        assert_eq!(seen, appended, "seed {seed}: every appended event is on the server or in a conflicts list");
        assert!(!proxy.injected.lock().unwrap().is_empty(), "seed {seed}: faults were injected");
        server.stop().await;
    }
    assert!(conflicts > 0, "the schedules exercised rejected expectations");
}
