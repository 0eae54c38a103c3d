//! The Durable Object backend (`server/edge/`) under `wrangler dev`, beyond the shared protocol suite
//! (`protocol.rs`, whose cases run against it too) and the shared convergence case (`convergence.rs`): live
//! notifications reach a native client, and a restart of the local runtime (its processes killed with SIGKILL)
//! loses nothing acknowledged and keeps the log's identity, so replicas' cursors stay valid.
//!
//! Built with the feature `edge-tests` only: `scripts/test-edge.sh` starts wrangler dev, sets
//! `EVENTLITE_TEST_EDGE_URL` and `EVENTLITE_TEST_EDGE_RESTART` (a command that kills wrangler dev and starts it
//! again on the same port and persisted state, returning once it answers), and runs them.

use std::time::Duration;

use eventlite::{ExpectedVersion, NewEvent, Store};
use eventlite_client::SyncClient;
use tokio::sync::watch;

use crate::live::wait_for_events;
use crate::support::{EdgeServer, log, server_log_at, server_shape, shape};

fn client(edge: &EdgeServer, store: Store) -> SyncClient {
    SyncClient::new(&edge.url, &edge.token, store).with_batch_size(50)
}

fn restart_edge() {
    let command = std::env::var("EVENTLITE_TEST_EDGE_RESTART")
        .expect("EVENTLITE_TEST_EDGE_RESTART: a command restarting wrangler dev (scripts/test-edge.sh sets it)");
    let status = std::process::Command::new("sh").args(["-c", &command]).status().unwrap();
    assert!(status.success(), "{command}: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_client_follows_pushes_and_a_restart_loses_nothing_acknowledged() {
    let edge = EdgeServer::fresh();
    let dir = tempfile::tempdir().unwrap();
    let a = client(&edge, Store::open(dir.path().join("a.db")).unwrap());
    let b = client(&edge, Store::open_in_memory().unwrap());
    let (stop, stopped) = watch::channel(false);
    let follower = b.clone();
    let live = tokio::spawn(async move { follower.run_live(stopped, |_| {}).await });

    // Acknowledged pushes: five syncs of 39 events over three streams, with exact expectations.
    let mut appended = 0;
    let mut versions = std::collections::HashMap::new();
    for round in 0..5u64 {
        for stream in ["todo-1", "todo-2", "list-1"] {
            let version = versions.get(stream).copied().unwrap_or(0);
            let events: Vec<NewEvent> =
                (0..13).map(|n| NewEvent::json("Noted", &serde_json::json!({"round": round, "n": n}))).collect();
            let expected = if version == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(version) };
            let result = a.store().append_to_stream(stream, &events, expected).unwrap();
            versions.insert(stream, result.stream_version);
            appended += events.len();
        }
        let report = a.sync().await.unwrap();
        assert!(report.conflicts.is_empty(), "{report:?}");
    }
    assert_eq!(a.store().sync_status().unwrap().pending, 0, "every event acknowledged and pulled back");
    // The other client was told through its live stream, and pulled.
    wait_for_events(b.store(), appended, Duration::from_secs(20)).await;
    assert_eq!(shape(&log(b.store())), shape(&log(a.store())));

    restart_edge();

    // Nothing acknowledged is lost: the server's log is A's, event for event.
    let after = server_log_at(&edge.url, &edge.token).await;
    assert_eq!(server_shape(&after), shape(&log(a.store())), "the log after the restart");
    // The log kept its identity: A's cursor is still valid (no LOG_RESET), and the live client reconnects.
    a.store().append_to_stream("todo-1", &[NewEvent::json("AfterRestart", &1)], ExpectedVersion::Any).unwrap();
    let report = a.sync_with_retry(10).await.unwrap();
    assert!(!report.log_reset, "a restart is not a reset: {report:?}");
    wait_for_events(b.store(), appended + 1, Duration::from_secs(30)).await;
    assert_eq!(shape(&log(b.store())), shape(&log(a.store())));

    stop.send_replace(true);
    tokio::time::timeout(Duration::from_secs(5), live).await.expect("run_live stops when asked").unwrap();
}

/// A live stream opened with a JWT ends when the token expires (not before), one opened with a JWT without `exp`
/// stays open, and one whose `exp` is too far away for a timer opens and stays open too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_stream_ends_when_its_jwt_expires() {
    use futures_util::StreamExt;

    let edge = EdgeServer::fresh();
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let http = crate::support::http();
    let open = |token: String| {
        let request = http.get(format!("{}/v1/live", edge.url)).bearer_auth(token);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            let mut frames = response.bytes_stream();
            let first = frames.next().await.unwrap().unwrap();
            assert!(String::from_utf8_lossy(&first).contains("event: head"), "{first:?}");
            frames
        }
    };
    let exp = now() + 2;
    let expiring = eventlite_server::auth::mint_jwt(&edge.secret, &edge.tenant, Some(exp));
    let far = eventlite_server::auth::mint_jwt(&edge.secret, &edge.tenant, Some(10_000_000_000_000_000_000));
    let mut frames = open(expiring.clone()).await;
    let mut lasting = open(edge.token.clone()).await;
    let mut far_frames = open(far).await;
    let ended =
        tokio::time::timeout(Duration::from_secs(15), async { while let Some(Ok(_)) = frames.next().await {} }).await;
    assert!(ended.is_ok(), "the live stream outlived its token's exp by more than 13 s");
    assert!(now() >= exp, "the stream ended before its token expired");
    // The others are still open: no frame, and no end, within a second.
    for stream in [&mut lasting, &mut far_frames] {
        let next = tokio::time::timeout(Duration::from_secs(1), stream.next()).await;
        assert!(next.is_err() || matches!(next, Ok(Some(Ok(_)))), "a stream without a near exp ended: {next:?}");
    }
    let refused = http.get(format!("{}/v1/live", edge.url)).bearer_auth(&expiring).send().await.unwrap();
    assert_eq!(refused.status(), 401, "an expired token cannot reconnect");
}

/// Pushes keep going while wrangler dev is killed with SIGKILL and started again: every push answered 200 before,
/// during or after the kill is in the log afterwards (a push in flight at the kill may or may not be: it was never
/// acknowledged, and its retry would answer as a duplicate).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_pushes_loses_nothing_acknowledged() {
    use std::sync::{Arc, Mutex};

    use eventlite::sync::{PushOutcome, PushRequest, WireEvent};

    let edge = EdgeServer::fresh();
    let pusher_client = client(&edge, Store::open_in_memory().unwrap());
    let acknowledged: Arc<Mutex<Vec<uuid::Uuid>>> = Arc::default();
    let (stop, stopped) = watch::channel(false);
    let acked = Arc::clone(&acknowledged);
    let pusher = tokio::spawn(async move {
        let mut failures = 0;
        for n in 0u64.. {
            if *stopped.borrow() {
                break;
            }
            let id = uuid::Uuid::new_v4();
            let event: WireEvent = serde_json::from_value(serde_json::json!({
                "event_id": id, "stream": format!("load-{}", n % 7), "type": "Pushed", "expected": "any", "data": {"n": n}
            }))
            .unwrap();
            let request = PushRequest { replica_id: uuid::Uuid::from_u128(1), events: vec![event] };
            match pusher_client.post_push(&request).await {
                Ok(response) => {
                    assert!(matches!(response.outcomes[..], [PushOutcome::Accepted { .. }]), "{response:?}");
                    acked.lock().unwrap().push(id);
                }
                Err(error) => {
                    assert!(error.is_retryable(), "{error}");
                    failures += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        failures
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    let before_kill = acknowledged.lock().unwrap().len();
    tokio::task::spawn_blocking(restart_edge).await.unwrap();
    let after_restart = acknowledged.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.send_replace(true);
    let failures = pusher.await.unwrap();
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(before_kill > 0 && acknowledged.len() > after_restart, "pushes acknowledged before and after the restart");
    assert!(failures > 0, "some pushes met the dead runtime");
    let stored: std::collections::HashSet<uuid::Uuid> =
        server_log_at(&edge.url, &edge.token).await.into_iter().map(|event| event.event_id).collect();
    let lost: Vec<_> = acknowledged.iter().filter(|id| !stored.contains(id)).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged pushes lost: {lost:?}", lost.len(), acknowledged.len());
}

/// The edge's limits, on a second `wrangler dev` that `scripts/test-edge.sh` starts with small ones
/// (`EVENTLITE_MAX_LIVE_PER_TENANT` = [`crate::live::SMALL_MAX_LIVE`], `EVENTLITE_MAX_BODY_BYTES` =
/// [`SMALL_MAX_BODY_BYTES`]; its URL in `EVENTLITE_TEST_EDGE_SMALL_URL`): a dropped live stream frees its slot at once
/// (its body's `cancel`, the request's signal) and HEAD holds none; an endless push body is refused once it passes
/// the limit. One test, in this order: a cancelled body can make `wrangler dev`'s proxy fail the next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_frees_dropped_live_slots_and_stops_reading_endless_bodies() {
    let url = std::env::var("EVENTLITE_TEST_EDGE_SMALL_URL")
        .expect("EVENTLITE_TEST_EDGE_SMALL_URL: the edge with small limits (scripts/test-edge.sh starts it)");
    let url = url.trim_end_matches('/');
    let edge = EdgeServer::fresh();
    crate::live::dropped_live_streams_free_their_slots_at_once(url, &edge.token).await;
    crate::hostile::an_endless_push_body_is_refused_after_the_limit(url, &edge.token, SMALL_MAX_BODY_BYTES, true).await;
    // Nothing of it was stored, and the edge answers the next request.
    assert!(crate::support::server_log_at(url, &edge.token).await.is_empty());
}

/// The body limit of the edge with small limits (`scripts/test-edge.sh`).
const SMALL_MAX_BODY_BYTES: usize = 65_536;
